//! From the positioned YAML tree to [`GraphDefinition`], reporting every
//! structural problem (unknown, missing or duplicate keys, wrong types, unknown
//! operation types) rather than stopping at the first.
//!
//! Entries too broken to keep (an operation without a name) are left out of the
//! result; the caller knows the result is incomplete because problems were reported.

use std::path::Path;

use crate::error::{Diagnostics, Rule};
use crate::model::*;
use crate::yaml::{self, Kind, Node, ScalarType};

mod partition;

/// Decodes `text`. Problems go to `diags`; the definition returned holds what
/// could be read, plus the names of operations that were left out because of a
/// problem (so that connections to them are not reported a second time).
pub(crate) fn decode(text: &str, file: &Path, diags: &mut Diagnostics) -> Option<(GraphDefinition, DecodeInfo)> {
    let root = match yaml::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => {
            diags.push(
                Pos { line: 1, column: 1 },
                Rule::Syntax,
                "the file has no YAML content; a graph definition needs metadata, moduleRequirements, operations and connections",
            );
            return None;
        }
        Err(e) => {
            diags.push(e.pos, Rule::Syntax, e.message);
            return None;
        }
    };
    let mut d = Decoder { diags, info: DecodeInfo::default() };
    let def = d.graph(&root, file)?;
    Some((def, d.info))
}

/// What the decoder had to leave out, so that validation does not report the
/// consequences of a problem already reported.
#[derive(Debug, Default)]
pub(crate) struct DecodeInfo {
    /// Names of operations left out because of a problem.
    pub dropped: Vec<String>,
    /// Some operation's name is unknown (the list or an entry could not be read):
    /// a connection naming an unknown operation may name that one.
    pub names_incomplete: bool,
}

const TOP_KEYS: &[&str] =
    &["metadata", "moduleRequirements", "moduleConfigurations", "operations", "connections", "schemas"];
const METADATA_KEYS: &[&str] = &["$schema", "name", "version", "description", "vendor"];
const REQUIREMENT_KEYS: &[&str] = &["apiVersion", "runtimeVersion", "features"];
const FEATURE_KEYS: &[&str] = &["name", "value"];
const CONFIGURATION_KEYS: &[&str] = &["name", "parameters"];
const PARAMETER_KEYS: &[&str] = &["name", "description", "default", "required"];
const OPERATION_KEYS: &[&str] = &["operationType", "name", "module", "partitionKey"];
const CONNECTION_KEYS: &[&str] = &["from", "to"];
const FROM_KEYS: &[&str] = &["name", "arm", "schemaName"];
const TO_KEYS: &[&str] = &["name"];
const SCHEMA_KEYS: &[&str] = &["name", "format", "schema"];

struct Decoder<'d> {
    diags: &'d mut Diagnostics,
    info: DecodeInfo,
}

/// The keys of one mapping, checked against the allowed ones.
struct Fields<'n> {
    /// Where problems with the mapping as a whole (a missing key) are reported:
    /// the key that introduced it, or the start of a list entry.
    pos: Pos,
    path: String,
    entries: Vec<(&'n str, &'n Node)>,
    key_pos: Vec<Pos>,
}

impl<'n> Fields<'n> {
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
    /// Where `key` itself is written (the mapping's position if absent).
    fn key_pos(&self, key: &str) -> Pos {
        self.entries.iter().position(|(k, _)| *k == key).map(|i| self.key_pos[i]).unwrap_or(self.pos)
    }
    fn sub(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }
}

fn scalar_text(node: &Node) -> Option<&str> {
    match &node.kind {
        Kind::Scalar(s) => Some(&s.text),
        _ => None,
    }
}

impl Decoder<'_> {
    /// Checks that `node` is a mapping with only `allowed` keys, each once.
    fn fields<'n>(&mut self, node: &'n Node, path: &str, allowed: &[&str]) -> Option<Fields<'n>> {
        self.fields_at(node, node.pos, path, allowed)
    }

    /// As `fields`, reporting problems with the whole mapping at `at`.
    fn fields_at<'n>(&mut self, node: &'n Node, at: Pos, path: &str, allowed: &[&str]) -> Option<Fields<'n>> {
        let Kind::Map(entries) = &node.kind else {
            self.diags.push(
                node.pos,
                Rule::WrongType,
                format!(
                    "{} must be a mapping of keys ({}), but it is {}",
                    subject(path),
                    allowed.join(", "),
                    node.describe()
                ),
            );
            return None;
        };
        let mut out: Vec<(&'n str, &'n Node)> = Vec::new();
        let mut key_pos = Vec::new();
        for (k, v) in entries {
            let key = scalar_text(k).unwrap_or_default();
            if out.iter().any(|(seen, _)| *seen == key) {
                self.diags.push(
                    k.pos,
                    Rule::DuplicateKey,
                    format!("`{key}` appears twice {}; keep only one", within(path)),
                );
                continue;
            }
            if !allowed.contains(&key) {
                let hint = match suggest(key, allowed) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("allowed keys are: {}", allowed.join(", ")),
                };
                self.diags.push(
                    k.pos,
                    Rule::UnknownKey,
                    format!("unknown key `{key}` {}; {hint} (remove or rename it)", within(path)),
                );
                continue;
            }
            out.push((key, v));
            key_pos.push(k.pos);
        }
        Some(Fields { pos: at, path: path.to_string(), entries: out, key_pos })
    }

    fn missing(&mut self, f: &Fields<'_>, key: &str, example: &str) {
        self.diags.push(
            f.pos,
            Rule::MissingKey,
            format!("{} has no `{key}`; add `{key}: {example}`", subject(&f.path)),
        );
    }

    /// A string value; `Ok(None)` for null.
    fn string(&mut self, node: &Node, path: &str) -> Result<Option<Spanned<String>>, ()> {
        match &node.kind {
            Kind::Scalar(s) => match s.resolve() {
                ScalarType::Str => Ok(Some(Spanned::new(s.text.clone(), node.pos))),
                ScalarType::Null => Ok(None),
                _ => {
                    let key = path.rsplit('.').next().unwrap_or(path);
                    self.diags.push(
                        node.pos,
                        Rule::WrongType,
                        format!(
                            "`{}` must be a string, but {} is {}; quote it: `{key}: \"{}\"`",
                            display_path(path),
                            s.text,
                            node.describe(),
                            s.text
                        ),
                    );
                    Err(())
                }
            },
            _ => {
                self.diags.push(
                    node.pos,
                    Rule::WrongType,
                    format!("`{}` must be a string, but it is {}", display_path(path), node.describe()),
                );
                Err(())
            }
        }
    }

    /// A required, non-null, non-empty string.
    fn req_str(&mut self, f: &Fields<'_>, key: &str, example: &str) -> Option<Spanned<String>> {
        let Some(node) = f.get(key) else {
            self.missing(f, key, example);
            return None;
        };
        let path = f.sub(key);
        match self.string(node, &path) {
            Ok(Some(s)) if !s.value.trim().is_empty() => Some(s),
            Ok(_) => {
                self.diags.push(
                    node.pos,
                    Rule::InvalidValue,
                    format!("`{}` is empty; give it a value, e.g. `{key}: {example}`", display_path(&path)),
                );
                None
            }
            Err(()) => None,
        }
    }

    /// An optional string; null is `None`.
    fn opt_str(&mut self, f: &Fields<'_>, key: &str) -> Result<Option<Spanned<String>>, ()> {
        match f.get(key) {
            None => Ok(None),
            Some(node) => self.string(node, &f.sub(key)),
        }
    }

    fn seq<'n>(&mut self, f: &Fields<'n>, key: &str, required: bool, example: &str) -> Option<&'n [Node]> {
        let Some(node) = f.get(key) else {
            if required {
                self.missing(f, key, example);
            }
            return None;
        };
        match &node.kind {
            Kind::Seq(items) => Some(items),
            Kind::Scalar(s) if !required && s.resolve() == ScalarType::Null => None,
            _ => {
                self.diags.push(
                    node.pos,
                    Rule::WrongType,
                    format!(
                        "`{}` must be a list (entries starting with `- `), but it is {}",
                        display_path(&f.sub(key)),
                        node.describe()
                    ),
                );
                None
            }
        }
    }

    fn graph(&mut self, root: &Node, file: &Path) -> Option<GraphDefinition> {
        let top = self.fields(root, "", TOP_KEYS)?;
        let metadata = self.top_metadata(&top);
        let module_requirements = self.top_requirements(&top);
        let module_configurations =
            self.list(&top, "moduleConfigurations", false, Self::configuration).unwrap_or_default();
        let operations_pos = top.key_pos("operations");
        let operations = self.list(&top, "operations", true, Self::operation).unwrap_or_else(|| {
            // No list of operations could be read: any name may be one's.
            self.info.names_incomplete = true;
            Vec::new()
        });
        let connections = self.list(&top, "connections", true, Self::connection).unwrap_or_default();
        let schemas = self.list(&top, "schemas", false, Self::schema).unwrap_or_default();
        Some(GraphDefinition {
            file: file.to_path_buf(),
            metadata,
            module_requirements,
            module_configurations,
            operations,
            connections,
            schemas,
            operations_pos,
        })
    }

    /// `metadata`, or placeholders (with the problem reported) so that the rest
    /// of the file is still checked.
    fn top_metadata(&mut self, top: &Fields<'_>) -> Metadata {
        let placeholder = |pos: Pos| Spanned::new(String::new(), pos);
        match top.get("metadata") {
            Some(node) => self.metadata(node, top.key_pos("metadata")),
            None => {
                self.missing(top, "metadata", "{name: ..., version: ..., $schema: ...}");
                None
            }
        }
        .unwrap_or_else(|| Metadata {
            schema: placeholder(top.pos),
            name: placeholder(top.pos),
            version: placeholder(top.pos),
            description: None,
            vendor: None,
        })
    }

    /// `moduleRequirements`, or the supported versions (with the problem
    /// reported) so that the rest of the file is still checked.
    fn top_requirements(&mut self, top: &Fields<'_>) -> ModuleRequirements {
        match top.get("moduleRequirements") {
            Some(node) => self.requirements(node, top.key_pos("moduleRequirements")),
            None => {
                self.missing(top, "moduleRequirements", "{apiVersion: \"1.1.0\", runtimeVersion: \"1.1.0\"}");
                None
            }
        }
        .unwrap_or_else(|| ModuleRequirements {
            api_version: Spanned::new("1.1.0".into(), top.pos),
            runtime_version: Spanned::new("1.1.0".into(), top.pos),
            features: Vec::new(),
        })
    }

    /// The top-level list `key`, each entry decoded by `entry` (with its path,
    /// e.g. `operations[2]`); entries that cannot be read are left out. `None`
    /// when there is no list (absent, null, or not a list: reported if `required`
    /// or of the wrong type).
    fn list<T>(
        &mut self,
        top: &Fields<'_>,
        key: &str,
        required: bool,
        entry: fn(&mut Self, &Node, &str) -> Option<T>,
    ) -> Option<Vec<T>> {
        let example = if required { "[...]" } else { "" };
        let items = self.seq(top, key, required, example)?;
        Some(items.iter().enumerate().filter_map(|(i, item)| entry(self, item, &format!("{key}[{i}]"))).collect())
    }

    fn metadata(&mut self, node: &Node, at: Pos) -> Option<Metadata> {
        let f = self.fields_at(node, at, "metadata", METADATA_KEYS)?;
        let schema = self.req_str(&f, "$schema", "\"https://www.schemastore.org/aio-wasm-graph-config-1.0.0.json\"");
        let name = self.req_str(&f, "name", "\"My graph\"");
        let version = self.req_str(&f, "version", "\"1.0.0\"");
        let description = self.opt_str(&f, "description");
        let vendor = self.opt_str(&f, "vendor");
        Some(Metadata {
            schema: schema?,
            name: name?,
            version: version?,
            description: description.ok()?,
            vendor: vendor.ok()?,
        })
    }

    fn requirements(&mut self, node: &Node, at: Pos) -> Option<ModuleRequirements> {
        let f = self.fields_at(node, at, "moduleRequirements", REQUIREMENT_KEYS)?;
        let api_version = self.req_str(&f, "apiVersion", "\"1.1.0\"");
        let runtime_version = self.req_str(&f, "runtimeVersion", "\"1.1.0\"");
        let mut features = Vec::new();
        let mut ok = true;
        for (i, item) in self.seq(&f, "features", false, "").unwrap_or_default().iter().enumerate() {
            let path = format!("moduleRequirements.features[{i}]");
            let Some(ff) = self.fields(item, &path, FEATURE_KEYS) else {
                ok = false;
                continue;
            };
            let name = self.req_str(&ff, "name", "wasi-nn");
            let value = self.opt_str(&ff, "value");
            match (name, value) {
                (Some(name), Ok(value)) => features.push(Feature { name, value }),
                _ => ok = false,
            }
        }
        if !ok {
            return None;
        }
        Some(ModuleRequirements { api_version: api_version?, runtime_version: runtime_version?, features })
    }

    fn configuration(&mut self, node: &Node, path: &str) -> Option<ModuleConfiguration> {
        let f = self.fields(node, path, CONFIGURATION_KEYS)?;
        let name = self.req_str(&f, "name", "<operation name>");
        let mut parameters = Vec::new();
        if let Some(pnode) = f.get("parameters") {
            let ppath = f.sub("parameters");
            match &pnode.kind {
                Kind::Map(entries) => {
                    let mut seen: Vec<&str> = Vec::new();
                    for (k, v) in entries {
                        let key_text = scalar_text(k).unwrap_or_default();
                        if seen.contains(&key_text) {
                            self.diags.push(k.pos, Rule::DuplicateKey, format!("parameter `{key_text}` appears twice in `{ppath}`; keep only one"));
                            continue;
                        }
                        seen.push(key_text);
                        if let Some(p) = self.parameter(k, v, &format!("{ppath}.{key_text}")) {
                            parameters.push(p);
                        }
                    }
                }
                Kind::Scalar(s) if s.resolve() == ScalarType::Null => {}
                _ => self.diags.push(
                    pnode.pos,
                    Rule::WrongType,
                    format!("`{ppath}` must be a mapping from parameter keys to {{name, description, default, required}}, but it is {}", pnode.describe()),
                ),
            }
        }
        Some(ModuleConfiguration { name: name?, parameters })
    }

    fn parameter(&mut self, key: &Node, node: &Node, path: &str) -> Option<Parameter> {
        let key_text = scalar_text(key).unwrap_or_default().to_string();
        let f = self.fields_at(node, key.pos, path, PARAMETER_KEYS)?;
        let name = self.req_str(&f, "name", &key_text);
        let description = self.opt_str(&f, "description");
        let default = self.opt_str(&f, "default");
        let required = match f.get("required") {
            None => Some(false),
            Some(n) => match &n.kind {
                Kind::Scalar(s) => match s.resolve() {
                    ScalarType::Bool(b) => Some(b),
                    ScalarType::Null => Some(false),
                    _ => {
                        self.diags.push(
                            n.pos,
                            Rule::WrongType,
                            format!(
                                "`{}` must be true or false (unquoted), but it is {} `{}`",
                                display_path(&f.sub("required")),
                                n.describe(),
                                s.text
                            ),
                        );
                        None
                    }
                },
                _ => {
                    self.diags.push(
                        n.pos,
                        Rule::WrongType,
                        format!(
                            "`{}` must be true or false, but it is {}",
                            display_path(&f.sub("required")),
                            n.describe()
                        ),
                    );
                    None
                }
            },
        };
        Some(Parameter {
            key: Spanned::new(key_text, key.pos),
            name: name?,
            description: description.ok()?,
            default: default.ok()?,
            required: required?,
        })
    }

    fn operation(&mut self, node: &Node, path: &str) -> Option<Operation> {
        let Some(f) = self.fields(node, path, OPERATION_KEYS) else {
            self.info.names_incomplete = true;
            return None;
        };
        let ty = self.req_str(&f, "operationType", "map");
        let name = self.req_str(&f, "name", "<unique name>");
        let module = self.opt_str(&f, "module");
        let partition_key = self.partition_key(&f);
        let operation_type = ty.and_then(|t| match OperationType::parse(&t.value) {
            Some(ot) => Some(Spanned::new(ot, t.pos)),
            None => {
                let names: Vec<&str> = OperationType::ALL.iter().map(|t| t.as_str()).collect();
                let hint = match suggest(&t.value, &names) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("use one of: {}", names.join(", ")),
                };
                let mut e = crate::Error::new(
                    &self.diags.file,
                    t.pos,
                    Rule::UnknownOperationType,
                    format!("unknown operationType `{}`; {hint}", t.value),
                );
                if let Some(n) = &name {
                    e = e.with_operation(&n.value);
                }
                self.diags.list.push(e);
                None
            }
        });
        let (Some(operation_type), Some(name), Ok(module), Ok(partition_key)) =
            (operation_type, name.clone(), module, partition_key)
        else {
            match name {
                Some(n) => self.info.dropped.push(n.value),
                None => self.info.names_incomplete = true,
            }
            return None;
        };
        let module = module.filter(|m| !m.value.trim().is_empty());
        Some(Operation { pos: node.pos, operation_type, name, module, partition_key })
    }

    fn connection(&mut self, node: &Node, path: &str) -> Option<Connection> {
        let f = self.fields(node, path, CONNECTION_KEYS)?;
        let from = match f.get("from") {
            Some(n) => self.from(n, f.key_pos("from"), &f.sub("from")),
            None => {
                self.missing(&f, "from", "{name: <operation>}");
                None
            }
        };
        let to = match f.get("to") {
            Some(n) => {
                let tf = self.fields_at(n, f.key_pos("to"), &f.sub("to"), TO_KEYS);
                tf.and_then(|tf| self.req_str(&tf, "name", "<operation>")).map(|name| ConnectionTo { name })
            }
            None => {
                self.missing(&f, "to", "{name: <operation>}");
                None
            }
        };
        Some(Connection { pos: node.pos, from: from?, to: to? })
    }

    fn from(&mut self, node: &Node, at: Pos, path: &str) -> Option<ConnectionFrom> {
        let f = self.fields_at(node, at, path, FROM_KEYS)?;
        let name = self.req_str(&f, "name", "<operation>");
        let schema_name = self.opt_str(&f, "schemaName");
        let arm = match f.get("arm") {
            None => Ok(None),
            Some(n) => match &n.kind {
                // "True"/"False" as AIO writes them; an unquoted True/False (a YAML
                // boolean) means the same and is accepted too.
                Kind::Scalar(s) => match (s.resolve(), s.text.as_str()) {
                    (ScalarType::Null, _) => Ok(None),
                    (ScalarType::Bool(true), _) | (ScalarType::Str, "True") => Ok(Some(Spanned::new(Arm::True, n.pos))),
                    (ScalarType::Bool(false), _) | (ScalarType::Str, "False") => {
                        Ok(Some(Spanned::new(Arm::False, n.pos)))
                    }
                    (_, other) => {
                        self.diags.push(
                            n.pos,
                            Rule::InvalidValue,
                            format!("`{}` is `{other}`, but a branch arm is \"True\" or \"False\"; write `arm: \"True\"` or `arm: \"False\"`", display_path(&f.sub("arm"))),
                        );
                        Err(())
                    }
                },
                _ => {
                    self.diags.push(
                        n.pos,
                        Rule::WrongType,
                        format!(
                            "`{}` must be \"True\" or \"False\", but it is {}",
                            display_path(&f.sub("arm")),
                            n.describe()
                        ),
                    );
                    Err(())
                }
            },
        };
        Some(ConnectionFrom { name: name?, arm: arm.ok()?, schema_name: schema_name.ok()? })
    }

    fn schema(&mut self, node: &Node, path: &str) -> Option<Schema> {
        let f = self.fields(node, path, SCHEMA_KEYS)?;
        let name = self.req_str(&f, "name", "<schema name>");
        let format = self.req_str(&f, "format", "JsonSchema/draft-07");
        let schema = self.req_str(&f, "schema", "'{\"type\": \"object\"}'");
        Some(Schema { name: name?, format: format?, schema: schema? })
    }
}

fn display_path(path: &str) -> &str {
    if path.is_empty() {
        "the file"
    } else {
        path
    }
}

/// The subject of a sentence: "the file" or "`metadata`".
fn subject(path: &str) -> String {
    if path.is_empty() {
        "the file".into()
    } else {
        format!("`{path}`")
    }
}

/// Where in the file: "at the top level" or "in `metadata`".
fn within(path: &str) -> String {
    if path.is_empty() {
        "at the top level".into()
    } else {
        format!("in `{path}`")
    }
}

/// The allowed word closest to `word`, if it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(word: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let w = word.to_lowercase();
    allowed
        .iter()
        .map(|a| (edit_distance(&w, &a.to_lowercase()), *a))
        .filter(|(d, a)| *d <= (a.chars().count() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(suggest("modul", OPERATION_KEYS), Some("module"));
        assert_eq!(suggest("operationtype", OPERATION_KEYS), Some("operationType"));
        assert_eq!(suggest("maps", &["map", "filter"]), Some("map"));
        assert_eq!(suggest("zzzzzzzz", OPERATION_KEYS), None);
    }
}
