//! The SDK carries its own copy of the WIT package (`crates/sdk/wit/`), so that
//! a published `wasm_graph_sdk` builds without this repository. The copy must
//! stay the repository's `wit/` byte for byte: the host and the Python builder
//! read that one. `scripts/vendor-wit.sh` re-copies it.

use std::collections::BTreeMap;
use std::path::Path;

/// Every file of `dir` (not recursive: the package is one folder) by name.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|err| panic!("cannot read {}: {err}", dir.display()));
    entries
        .map(|entry| entry.unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display())))
        .filter(|entry| entry.path().is_file())
        .map(|entry| {
            let path = entry.path();
            let bytes = std::fs::read(&path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
            (entry.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect()
}

#[test]
fn vendored_wit_matches_the_repository() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo_wit = crate_dir.join("../../wit");
    let vendored = files(&crate_dir.join("wit"));
    assert!(vendored.contains_key("processor.wit"), "crates/sdk/wit/ lacks processor.wit: run scripts/vendor-wit.sh");
    if !repo_wit.join("processor.wit").is_file() {
        // A packaged SDK outside the repository: its copy is all there is.
        eprintln!("no repository wit/ at {}; only the vendored copy was checked", repo_wit.display());
        return;
    }
    let repo = files(&repo_wit);
    let names = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&vendored),
        names(&repo),
        "crates/sdk/wit/ and wit/ hold different files: run scripts/vendor-wit.sh"
    );
    for (name, bytes) in &repo {
        assert!(vendored[name] == *bytes, "crates/sdk/wit/{name} differs from wit/{name}: run scripts/vendor-wit.sh");
    }
}
