//! The compiled-module cache on disk, verified before anything is deserialized.
//!
//! A `.cwasm` file is native code that wasmtime maps and runs: whoever can
//! swap it runs code inside wasmgraph. Each entry therefore has a side file
//! `<entry>.sha256` holding the sha256 of the compiled artifact, written when
//! it was compiled; an entry is deserialized only when its bytes hash to that
//! digest. A swapped or damaged entry (or one without a digest) is logged,
//! removed and compiled again. Entries and digests are written to temporary
//! files with unpredictable names (`tempfile`, mode 0600) in the cache folder
//! (created 0700) and renamed into place, so a reader never sees half a file.
//!
//! The digest guards against swapped and damaged files, not against someone
//! who can rewrite both files (that needs a key, which a local cache has
//! nowhere safe to keep); private permissions keep other users out.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The side file holding `entry`'s digest.
fn digest_file(entry: &Path) -> PathBuf {
    let mut name = entry.file_name().unwrap_or_default().to_os_string();
    name.push(".sha256");
    entry.with_file_name(name)
}

/// The compiled code of `entry` when it exists and matches its recorded
/// digest; `None` (after logging and removing it) when it is missing,
/// unverifiable or altered.
pub(crate) fn read_verified(entry: &Path, module: &str) -> Option<Vec<u8>> {
    let code = std::fs::read(entry).ok()?;
    let recorded = std::fs::read_to_string(digest_file(entry)).unwrap_or_default();
    let actual = hex::encode(Sha256::digest(&code));
    if recorded.trim() == actual {
        return Some(code);
    }
    let why = if recorded.is_empty() { "has no recorded digest" } else { "does not match its recorded digest" };
    tracing::warn!(
        module,
        cache = %entry.display(),
        "compiled-module cache entry {why} (swapped or damaged?): not loading it; compiling again"
    );
    let _ = std::fs::remove_file(entry);
    let _ = std::fs::remove_file(digest_file(entry));
    None
}

/// Store `code` as `entry` and its digest beside it, each atomically.
pub(crate) fn store(entry: &Path, code: &[u8]) -> Result<(), String> {
    let dir = entry.parent().ok_or("the cache path has no folder")?;
    create_private_dir(dir)?;
    write_atomically(dir, entry, code)?;
    write_atomically(dir, &digest_file(entry), hex::encode(Sha256::digest(code)).as_bytes())
}

fn write_atomically(dir: &Path, target: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".wasmgraph-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    tmp.write_all(bytes).and_then(|()| tmp.as_file().sync_all()).map_err(|e| format!("{}: {e}", target.display()))?;
    tmp.persist(target).map(|_| ()).map_err(|e| format!("{}: {}", target.display(), e.error))
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| format!("{}: {e}", dir.display()))
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_swapped_entry_is_refused_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("cache/a.cwasm"), dir.path().join("cache/b.cwasm"));
        store(&a, b"code of a").unwrap();
        store(&b, b"code of b").unwrap();
        assert_eq!(read_verified(&a, "a").as_deref(), Some(&b"code of a"[..]));
        std::fs::copy(&b, &a).unwrap();
        assert_eq!(read_verified(&a, "a"), None, "b's code under a's name");
        assert!(!a.exists(), "the altered entry is removed");
        std::fs::write(&b, b"no digest").unwrap();
        std::fs::remove_file(digest_file(&b)).unwrap();
        assert_eq!(read_verified(&b, "b"), None);
    }

    #[cfg(unix)]
    #[test]
    fn entries_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let entry = dir.path().join("new/x.cwasm");
        store(&entry, b"x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&entry), 0o600);
        assert_eq!(mode(&digest_file(&entry)), 0o600);
        assert_eq!(mode(&dir.path().join("new")), 0o700);
    }
}
