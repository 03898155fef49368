//! What the deployment targets share: a private folder for the files the
//! loader reads, and the filter that keeps runs off the network.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// This process's folder (in the system's temporary folder).
pub fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("wasmgraph-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("a temporary folder");
        d
    })
}

/// Writes `text` to `name` in [`dir`].
pub fn write(name: &str, text: &str) -> PathBuf {
    let path = dir().join(name);
    std::fs::write(&path, text).expect("writing a fuzz input");
    path
}

/// The input as text, unless it could configure a registry pull: the word
/// `registry` in any case, or an escape that could spell it.
pub fn offline_text(data: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(data).ok()?;
    let lower = text.to_ascii_lowercase();
    (!lower.contains("registry") && !text.contains('\\')).then_some(text)
}
