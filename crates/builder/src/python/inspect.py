"""Reads a Python operator file for `wasmgraph build` without running it.

Usage: python3 inspect.py FILE. Prints one JSON object:
  {"syntax_error": {"line", "column", "message", "text"}}  or
  {"classes": [{"name", "line", "bases", "methods": {name: {"line", "params", "varargs"}}}],
   "world_modules": [names of imported binding modules]}
"""

import ast
import json
import sys

KIND_MODULES = {"map_impl", "filter_impl", "branch_impl", "accumulate_impl", "delay_impl", "wit_world"}


def dotted(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = dotted(node.value)
        return None if inner is None else inner + "." + node.attr
    if isinstance(node, ast.Subscript):
        return dotted(node.value)
    return None


def main(path):
    with open(path, "rb") as f:
        source = f.read()
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as err:
        print(json.dumps({"syntax_error": {
            "line": err.lineno, "column": err.offset,
            "message": err.msg, "text": (err.text or "").rstrip("\n"),
        }}))
        return
    except ValueError as err:  # null bytes and the like
        print(json.dumps({"syntax_error": {"line": None, "column": None, "message": str(err), "text": ""}}))
        return

    # Names bound by `from X.exports import Map` resolve to "X.exports.Map".
    aliases = {}
    world_modules = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            top = node.module.split(".")[0]
            if top in KIND_MODULES and top not in world_modules:
                world_modules.append(top)
            for alias in node.names:
                aliases[alias.asname or alias.name] = node.module + "." + alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in KIND_MODULES and top not in world_modules:
                    world_modules.append(top)
                if alias.asname:
                    aliases[alias.asname] = alias.name

    classes = []
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        bases = []
        for base in node.bases:
            name = dotted(base)
            if name is None:
                continue
            head, _, rest = name.partition(".")
            if head in aliases:
                name = aliases[head] + ("." + rest if rest else "")
            bases.append(name)
        methods = {}
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = item.args
                params = [a.arg for a in args.posonlyargs + args.args]
                methods[item.name] = {
                    "line": item.lineno,
                    "params": params,
                    "varargs": args.vararg is not None,
                    "defaults": len(args.defaults),
                    "is_async": isinstance(item, ast.AsyncFunctionDef),
                }
        classes.append({"name": node.name, "line": node.lineno, "bases": bases, "methods": methods})
    print(json.dumps({"classes": classes, "world_modules": world_modules}))


if __name__ == "__main__":
    main(sys.argv[1])
