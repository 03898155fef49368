//! A small YAML tree in which every node knows its line and column.
//!
//! Why `saphyr-parser` and a hand-made tree, rather than serde:
//! - `serde_yaml` is deprecated and unmaintained.
//! - serde-based readers (`serde-saphyr` included) stop at the first error, and a
//!   user fixing a graph wants every problem at once (unknown keys in three places,
//!   a wrong type in a fourth). Decoding a positioned tree by hand lets us report
//!   them all, each at its own line and column, with a sentence on how to fix it.
//! - `saphyr-parser` is the maintained, fully YAML 1.2 compliant, panic-free event
//!   parser of the saphyr project; every event carries a span. Building our own
//!   tree on it (rather than saphyr's `MarkedYaml`) lets us see duplicate keys
//!   (a hash map would silently keep the last), bound nesting depth and alias
//!   expansion, and keep the position of every key as well as every value.
//!
//! Scalars are typed by the YAML 1.2 core schema (the one JSON Schema validators
//! see after a YAML-to-JSON conversion), so `version: 1.0` is a number here just
//! as it is for the published JSON Schema.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::Pos;

/// Deepest nesting accepted; graph definitions need 5.
const MAX_DEPTH: usize = 64;
/// Most nodes accepted, counting the copies that aliases make.
const MAX_NODES: usize = 1_000_000;
/// Most bytes of scalar text accepted, counting the copies that aliases make:
/// a node count alone lets a 1 MB file of aliases to one 1 MB string expand
/// to gigabytes. Graph definitions hold a few kilobytes.
const MAX_TEXT_BYTES: usize = 16 << 20;

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub pos: Pos,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    /// Entries in file order; keys are scalars (checked when building).
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone)]
pub(crate) struct Scalar {
    pub text: String,
    /// Quoted, block, or tagged `!!str`: always a string.
    pub forced_string: bool,
}

/// What a scalar is under the YAML 1.2 core schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScalarType {
    Null,
    Bool(bool),
    Int,
    Float,
    Str,
}

impl Scalar {
    pub fn resolve(&self) -> ScalarType {
        if self.forced_string {
            return ScalarType::Str;
        }
        resolve_plain(&self.text)
    }
}

impl Node {
    /// A short description of the node's type for messages: "a string", "a list"...
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
            Kind::Scalar(s) => match s.resolve() {
                ScalarType::Null => "null (an empty value)",
                ScalarType::Bool(_) => "a boolean",
                ScalarType::Int => "an integer",
                ScalarType::Float => "a number",
                ScalarType::Str => "a string",
            },
        }
    }
}

fn resolve_plain(t: &str) -> ScalarType {
    match t {
        "" | "~" | "null" | "Null" | "NULL" => return ScalarType::Null,
        "true" | "True" | "TRUE" => return ScalarType::Bool(true),
        "false" | "False" | "FALSE" => return ScalarType::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN"
        | ".NAN" => return ScalarType::Float,
        _ => {}
    }
    let digits = |s: &str, radix: u32| !s.is_empty() && s.chars().all(|c| c.is_digit(radix));
    let unsigned = t.strip_prefix(['-', '+']).unwrap_or(t);
    if digits(unsigned, 10) {
        return ScalarType::Int;
    }
    if let Some(o) = t.strip_prefix("0o") {
        if digits(o, 8) {
            return ScalarType::Int;
        }
    }
    if let Some(h) = t.strip_prefix("0x") {
        if digits(h, 16) {
            return ScalarType::Int;
        }
    }
    // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac, 10),
        Some((int, frac)) => digits(int, 10) && (frac.is_empty() || digits(frac, 10)),
        None => digits(mantissa, 10),
    };
    let exponent_ok = match exponent {
        None => true,
        Some(e) => digits(e.strip_prefix(['-', '+']).unwrap_or(e), 10),
    };
    if mantissa_ok && exponent_ok {
        ScalarType::Float
    } else {
        ScalarType::Str
    }
}

/// A problem found while reading YAML: where, and what.
#[derive(Debug)]
pub(crate) struct YamlError {
    pub pos: Pos,
    pub message: String,
}

fn pos_of(span: &Span) -> Pos {
    Pos { line: span.start.line(), column: span.start.col() + 1 }
}

enum Frame {
    Seq { pos: Pos, anchor: usize, items: Vec<Node> },
    Map { pos: Pos, anchor: usize, entries: Vec<(Node, Node)>, key: Option<Node> },
}

/// Reads one YAML document. `Ok(None)` for a file with no document (empty or only
/// comments).
pub(crate) fn parse(text: &str) -> Result<Option<Node>, YamlError> {
    let mut tree = TreeBuilder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| {
            let pos = Pos { line: e.marker().line(), column: e.marker().col() + 1 };
            let message = if e.info().contains("recursion limit") {
                too_deep()
            } else {
                format!("this is not valid YAML ({}); fix the syntax here", e.info())
            };
            YamlError { pos, message }
        })?;
        let pos = pos_of(&span);
        if let Some((node, anchor)) = tree.event(event, pos)? {
            tree.attach(node, anchor, pos)?;
        }
    }
    Ok(tree.root)
}

fn too_deep() -> String {
    format!("the YAML is nested more than {MAX_DEPTH} levels deep; a graph definition needs 5")
}

/// Builds the tree from parser events: open collections on a stack, anchored
/// nodes by id, and the counts that bound the document's size.
#[derive(Default)]
struct TreeBuilder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    documents: usize,
    nodes: usize,
    /// Scalar text so far, alias copies included.
    bytes: usize,
}

impl TreeBuilder {
    /// Takes one event; returns the node it completes (a scalar, a closed
    /// collection or an alias's copy) with its anchor id (0 for none).
    fn event(&mut self, event: Event<'_>, pos: Pos) -> Result<Option<(Node, usize)>, YamlError> {
        match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => Ok(None),
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(YamlError {
                        pos,
                        message:
                            "a graph definition is a single YAML document; remove this second document (and its `---`)"
                                .into(),
                    });
                }
                Ok(None)
            }
            Event::Scalar(text, style, anchor, tag) => {
                let tagged_str = tag.as_ref().is_some_and(|t| t.is_yaml_core_schema() && t.suffix == "str");
                let forced_string = tagged_str || !matches!(style, ScalarStyle::Plain);
                self.add_bytes(text.len(), pos)?;
                Ok(Some((Node { pos, kind: Kind::Scalar(Scalar { text: text.into_owned(), forced_string }) }, anchor)))
            }
            Event::SequenceStart(anchor, _) => self.open(Frame::Seq { pos, anchor, items: Vec::new() }, pos),
            Event::MappingStart(anchor, _) => {
                self.open(Frame::Map { pos, anchor, entries: Vec::new(), key: None }, pos)
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq { pos, anchor, items }) => Ok(Some((Node { pos, kind: Kind::Seq(items) }, anchor))),
                Some(Frame::Map { pos, anchor, entries, .. }) => {
                    Ok(Some((Node { pos, kind: Kind::Map(entries) }, anchor)))
                }
                None => Err(YamlError { pos, message: "unbalanced YAML collection end".into() }),
            },
            Event::Alias(id) => self.alias(id, pos).map(Some),
        }
    }

    /// Opens a collection, refusing to nest deeper than [`MAX_DEPTH`].
    fn open(&mut self, frame: Frame, pos: Pos) -> Result<Option<(Node, usize)>, YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError { pos, message: too_deep() });
        }
        self.stack.push(frame);
        Ok(None)
    }

    /// A copy of the anchored node, counted in full against [`MAX_NODES`].
    fn alias(&mut self, id: usize, pos: Pos) -> Result<(Node, usize), YamlError> {
        let Some(node) = self.anchors.get(&id) else {
            return Err(YamlError {
                pos,
                message: "this alias refers to no anchor; define the anchor (&name) before using it (*name)".into(),
            });
        };
        let (nodes, bytes) = (count(node), text_bytes(node));
        self.nodes += nodes;
        if self.nodes > MAX_NODES {
            return Err(YamlError { pos, message: format!("aliases expand this file to more than {MAX_NODES} values; write the values out or use fewer aliases") });
        }
        let copy = node.clone();
        self.add_bytes(bytes, pos)?;
        Ok((copy, 0))
    }

    /// Counts scalar text against [`MAX_TEXT_BYTES`] (before an alias copies it).
    fn add_bytes(&mut self, bytes: usize, pos: Pos) -> Result<(), YamlError> {
        self.bytes = self.bytes.saturating_add(bytes);
        if self.bytes > MAX_TEXT_BYTES {
            return Err(YamlError {
                pos,
                message: format!(
                    "this file's text, with every alias expanded, is more than {} MiB; write the values out or use fewer aliases",
                    MAX_TEXT_BYTES >> 20
                ),
            });
        }
        Ok(())
    }

    /// Puts a completed node where it belongs: the root, the open sequence, or
    /// the open mapping (as its next key, or as the value of the pending key).
    fn attach(&mut self, node: Node, anchor: usize, pos: Pos) -> Result<(), YamlError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(YamlError {
                pos,
                message: format!("the file has more than {MAX_NODES} values; a graph definition is far smaller"),
            });
        }
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => {
                    if !matches!(node.kind, Kind::Scalar(_)) {
                        return Err(YamlError {
                            pos: node.pos,
                            message: "a mapping key must be a plain string, not a list or mapping".into(),
                        });
                    }
                    *key = Some(node);
                }
                Some(k) => entries.push((k, node)),
            },
        }
        Ok(())
    }
}

/// Bytes of scalar text in `node` (keys included).
fn text_bytes(node: &Node) -> usize {
    match &node.kind {
        Kind::Scalar(s) => s.text.len(),
        Kind::Seq(items) => items.iter().map(text_bytes).fold(0, usize::saturating_add),
        Kind::Map(entries) => {
            entries.iter().map(|(k, v)| text_bytes(k).saturating_add(text_bytes(v))).fold(0, usize::saturating_add)
        }
    }
}

fn count(node: &Node) -> usize {
    match &node.kind {
        Kind::Scalar(_) => 1,
        Kind::Seq(items) => 1 + items.iter().map(count).sum::<usize>(),
        Kind::Map(entries) => 1 + entries.iter().map(|(k, v)| count(k) + count(v)).sum::<usize>(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_schema_types() {
        for (t, want) in [
            ("", ScalarType::Null),
            ("~", ScalarType::Null),
            ("True", ScalarType::Bool(true)),
            ("false", ScalarType::Bool(false)),
            ("12", ScalarType::Int),
            ("-3", ScalarType::Int),
            ("0x1F", ScalarType::Int),
            ("1.0", ScalarType::Float),
            ("-273.15", ScalarType::Float),
            ("1e3", ScalarType::Float),
            (".5", ScalarType::Float),
            (".inf", ScalarType::Float),
            ("1.0.0", ScalarType::Str),
            ("source", ScalarType::Str),
            ("yes", ScalarType::Str),
            ("1e", ScalarType::Str),
            ("-", ScalarType::Str),
            (".", ScalarType::Str),
        ] {
            assert_eq!(resolve_plain(t), want, "{t:?}");
        }
    }

    #[test]
    fn positions_are_one_based() {
        let n = parse("a:\n  b: \"x\"\n").unwrap().unwrap();
        let Kind::Map(e) = &n.kind else { panic!() };
        assert_eq!(e[0].0.pos, Pos { line: 1, column: 1 });
        let Kind::Map(inner) = &e[0].1.kind else { panic!() };
        assert_eq!(inner[0].0.pos, Pos { line: 2, column: 3 });
        assert_eq!(inner[0].1.pos, Pos { line: 2, column: 6 });
    }

    #[test]
    fn bounded() {
        let deep = "[".repeat(10_000);
        assert!(parse(&deep).is_err());
        let bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n";
        assert!(parse(bomb).is_err());
        assert!(parse("").unwrap().is_none());
        assert!(parse("# only a comment\n").unwrap().is_none());
        assert!(parse("a: 1\n---\nb: 2\n").is_err());
    }

    /// Issue 18: a 1 MB string and a 1 MB file of aliases to it is a clear
    /// error after at most 16 MiB of copies, not gigabytes.
    #[test]
    fn aliases_are_bounded_by_bytes() {
        let mut text = format!("a: &big \"{}\"\nb: [", "x".repeat(1 << 20));
        while text.len() < 2 << 20 {
            text.push_str("*big, ");
        }
        text.push_str("*big]\n");
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("with every alias expanded, is more than 16 MiB"), "{}", err.message);
        assert_eq!(err.pos.line, 2);
    }
}
