use std::collections::HashMap;
use std::path::Path;

use wasmgraph_config::{check_bytes, GraphDefinition, Rule};

use crate::util::{data, module_dir, yaml_files};

fn all_files() -> Vec<std::path::PathBuf> {
    let mut v = yaml_files(&data("valid"));
    v.extend(yaml_files(&data("invalid")));
    v
}

fn check(bytes: &[u8]) -> Result<wasmgraph_config::Graph, wasmgraph_config::Errors> {
    check_bytes(bytes, Path::new("fuzz.yaml"), None, &HashMap::new())
}

#[test]
fn every_prefix_of_every_file_is_handled() {
    let modules = module_dir();
    let catalog = wasmgraph_config::ModuleDirectory::new(modules.path());
    for file in all_files() {
        let bytes = std::fs::read(&file).unwrap();
        for cut in 0..bytes.len() {
            let prefix = &bytes[..cut];
            // Must return, never panic; errors must name a real place.
            if let Err(errors) = check_bytes(prefix, &file, Some(&catalog), &HashMap::new()) {
                assert!(!errors.is_empty());
                for e in errors.iter() {
                    assert!(e.line >= 1 && e.column >= 1, "{e}");
                    assert!(!e.message.is_empty());
                }
            }
        }
    }
}

#[test]
fn empty_and_degenerate_documents_are_errors() {
    for text in [
        "",
        "   \n\n",
        "# just a comment\n",
        "---\n",
        "null",
        "~",
        "42",
        "\"text\"",
        "[]",
        "{}",
        "- a\n- b\n",
        "true",
        "...\n",
    ] {
        let errors = check(text.as_bytes()).expect_err(text);
        assert!(!errors.is_empty(), "{text:?}");
        assert!(errors[0].to_string().starts_with("fuzz.yaml:"), "{}", errors[0]);
    }
    let e = check(b"").unwrap_err();
    assert_eq!(e[0].rule, Rule::Syntax);
    assert!(e[0].message.contains("no YAML content"));
}

#[test]
fn non_utf8_is_reported_at_its_line() {
    let text = std::fs::read(data("valid/graph-simple.yaml")).unwrap();
    let mut bytes = text.clone();
    // Corrupt the first byte of line 3.
    let line3 = bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(1).unwrap().0 + 1;
    bytes.insert(line3 + 2, 0xFF);
    let e = check(&bytes).unwrap_err();
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].rule, e[0].line, e[0].column), (Rule::Syntax, 3, 3));
    assert!(e[0].message.contains("not UTF-8"), "{}", e[0]);
    // Latin-1 text, UTF-16, and plain binary.
    assert!(check(b"metadata:\n  name: caf\xe9\n").is_err());
    assert!(check(b"\xff\xfem\x00e\x00").is_err());
    assert!(check(&[0u8, 159, 146, 150, 0, 1, 2]).is_err());
    // A UTF-8 byte order mark is fine.
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(&text);
    assert!(check(&bom).is_ok());
}

#[test]
fn wrong_types_everywhere_are_errors_not_panics() {
    let replacements =
        ["[1, 2]", "{a: b}", "42", "4.5", "true", "null", "\"\"", "[]", "{}", "*nowhere", "&a x", "!!binary aGk="];
    for file in all_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(colon) = line.find(": ").or_else(|| line.ends_with(':').then(|| line.len() - 1)) else {
                continue;
            };
            for r in replacements {
                let mut mutated: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
                mutated[i] = format!("{}: {r}", &line[..colon]);
                let doc = mutated.join("\n");
                let _ = check(doc.as_bytes());
                let _ = GraphDefinition::parse(&doc, Path::new("m.yaml"));
            }
        }
    }
}

#[test]
fn scrambled_input_never_panics() {
    // A small deterministic generator over YAML's significant characters.
    let alphabet: Vec<char> = "ab:- \n\t{}[],\"'&*!|>#%@`?~0.1\u{e9}".chars().collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3000 {
        let len = (next() % 80) as usize;
        let s: String = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
        let _ = check(s.as_bytes());
    }
    // Splice fragments of real files together.
    let texts: Vec<String> = all_files().iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    for _ in 0..1000 {
        let a = &texts[(next() % texts.len() as u64) as usize];
        let b = &texts[(next() % texts.len() as u64) as usize];
        let ca = (next() % (a.len() as u64 + 1)) as usize;
        let cb = (next() % (b.len() as u64 + 1)) as usize;
        let (Some(x), Some(y)) = (a.get(..ca), b.get(cb..)) else {
            continue;
        };
        let _ = check(format!("{x}{y}").as_bytes());
    }
}

#[test]
fn huge_nesting_and_alias_bombs_are_refused() {
    let deep = format!("metadata: {}{}", "[".repeat(100_000), "]".repeat(100_000));
    let e = check(deep.as_bytes()).unwrap_err();
    assert!(e[0].message.contains("nested"), "{}", e[0]);
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..8 {
        let prev = (b'a' + i - 1) as char;
        let cur = (b'a' + i) as char;
        let refs = vec![format!("*{prev}"); 10].join(", ");
        bomb.push_str(&format!("{cur}: &{cur} [{refs}]\n"));
    }
    let e = check(bomb.as_bytes()).unwrap_err();
    assert!(e[0].message.contains("aliases"), "{}", e[0]);
}

#[test]
fn missing_file_is_an_error() {
    let e = GraphDefinition::load(Path::new("/nonexistent/graph.yaml")).unwrap_err();
    assert!(e[0].message.contains("cannot read"));
    assert!(e[0].to_string().starts_with("/nonexistent/graph.yaml:1:1: "));
}
