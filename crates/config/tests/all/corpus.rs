use std::collections::HashMap;

use wasmgraph_config::{load_graph, ModuleDirectory};

use crate::util::{data, module_dir, yaml_files};

/// One `# expect: <rule> @ <line>: <substring>` header line.
#[derive(Debug)]
pub struct Expect {
    pub rule: String,
    pub line: usize,
    pub substring: String,
}

pub fn expectations(text: &str) -> Vec<Expect> {
    text.lines()
        .take_while(|l| l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(|rest| {
            let (rule, rest) = rest.split_once(" @ ").expect("`# expect: rule @ line: text`");
            let (line, substring) = rest.split_once(": ").expect("`# expect: rule @ line: text`");
            Expect { rule: rule.into(), line: line.parse().expect("line number"), substring: substring.into() }
        })
        .collect()
}

/// `# schema: reject|accept`: what the JSON Schema says of the file, when it can judge.
pub fn schema_verdict(text: &str) -> Option<bool> {
    text.lines().take_while(|l| l.starts_with('#')).find_map(|l| match l.strip_prefix("# schema: ") {
        Some("reject") => Some(false),
        Some("accept") => Some(true),
        _ => None,
    })
}

#[test]
fn every_broken_file_gives_its_own_message_at_its_line() {
    let modules = module_dir();
    let catalog = ModuleDirectory::new(modules.path());
    let files = yaml_files(&data("invalid"));
    assert!(files.len() >= 15, "the corpus has only {} files", files.len());
    let mut rules_seen = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let expects = expectations(&text);
        assert!(!expects.is_empty(), "{} has no `# expect:` line", file.display());
        let errors = match load_graph(file, Some(&catalog), &HashMap::new()) {
            Ok(_) => {
                failures.push(format!("{}: validated, but should fail", file.display()));
                continue;
            }
            Err(e) => e,
        };
        for e in errors.iter() {
            // Display is `file:line:col: message`.
            let shown = e.to_string();
            let prefix = format!("{}:{}:{}: ", file.display(), e.line, e.column);
            assert!(shown.starts_with(&prefix), "{shown}");
            assert!(e.column >= 1 && e.line >= 1, "{shown}");
        }
        for x in &expects {
            rules_seen.insert(x.rule.clone());
            let hit =
                errors.iter().any(|e| e.rule.code() == x.rule && e.line == x.line && e.message.contains(&x.substring));
            if !hit {
                failures.push(format!(
                    "{}: expected {} at line {} containing {:?}; got:\n  {}",
                    file.display(),
                    x.rule,
                    x.line,
                    x.substring,
                    errors.iter().map(|e| format!("[{}] {e}", e.rule)).collect::<Vec<_>>().join("\n  ")
                ));
            }
        }
        if errors.len() != expects.len() {
            failures.push(format!(
                "{}: expected {} error(s), got {}:\n  {}",
                file.display(),
                expects.len(),
                errors.len(),
                errors.iter().map(|e| format!("[{}] {e}", e.rule)).collect::<Vec<_>>().join("\n  ")
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    let uncovered: Vec<&str> =
        wasmgraph_config::Rule::ALL.iter().map(|r| r.code()).filter(|c| !rules_seen.contains(*c)).collect();
    assert!(uncovered.is_empty(), "no broken file exercises rule(s) {uncovered:?}");
}
