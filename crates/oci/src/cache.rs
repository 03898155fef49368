//! The content-addressed cache of pulled artifacts: every blob under its
//! sha256 digest, and which manifest digest each tag pointed at last, so a
//! restart without network runs what ran before.
//!
//! ```text
//! <cache>/oci/blobs/sha256/<hex>          manifests and layers, verified on write and read
//! <cache>/oci/tags/<registry>/<repo>/<tag>  the manifest digest the tag pointed at
//! ```

use std::path::{Path, PathBuf};

use crate::{sha256_digest, OciError, Reference};

/// A content-addressed store of verified blobs and a tag -> digest index.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// A cache rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Cache { root: root.into() }
    }

    /// The cache inside a module cache folder: `<cache_dir>/oci`.
    pub fn in_module_cache(cache_dir: &Path) -> Self {
        Cache::new(cache_dir.join("oci"))
    }

    /// The module cache folder the host uses by default: `WASMGRAPH_CACHE_DIR`,
    /// else `$XDG_CACHE_HOME/wasmgraph`, else `~/.cache/wasmgraph`.
    pub fn default_module_cache() -> Option<PathBuf> {
        let var = |n: &str| std::env::var_os(n).filter(|v| !v.is_empty()).map(PathBuf::from);
        var("WASMGRAPH_CACHE_DIR")
            .or_else(|| var("XDG_CACHE_HOME").map(|x| x.join("wasmgraph")))
            .or_else(|| var("HOME").map(|h| h.join(".cache").join("wasmgraph")))
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob of `digest` (`sha256:<hex>`) is kept.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.root.join("blobs").join("sha256").join(hex)
    }

    /// The blob of `digest` if cached and intact; a blob whose content no
    /// longer matches its digest is removed and reported missing.
    pub fn read_blob(&self, digest: &str) -> Option<Vec<u8>> {
        let path = self.blob_path(digest);
        let bytes = std::fs::read(&path).ok()?;
        if sha256_digest(&bytes) == digest {
            return Some(bytes);
        }
        tracing::warn!(blob = %path.display(), "cached blob does not match its digest; removing it");
        let _ = std::fs::remove_file(&path);
        None
    }

    /// Store `bytes` as the blob of `digest`, refusing (and writing nothing)
    /// when they do not hash to it. Written to a temporary file and renamed,
    /// so a reader never sees half a blob.
    pub fn put_blob(&self, reference: &Reference, what: &str, digest: &str, bytes: &[u8]) -> Result<PathBuf, OciError> {
        let actual = sha256_digest(bytes);
        if actual != digest {
            return Err(OciError::DigestMismatch {
                what: what.to_string(),
                reference: reference.to_string(),
                expected: digest.to_string(),
                actual,
            });
        }
        let path = self.blob_path(digest);
        write_atomic(&path, bytes)?;
        Ok(path)
    }

    /// The manifest digest `reference`'s tag pointed at when last pulled.
    pub fn tag_digest(&self, reference: &Reference) -> Option<String> {
        let text = std::fs::read_to_string(self.tag_path(reference)?).ok()?;
        let digest = text.trim();
        digest.starts_with("sha256:").then(|| digest.to_string())
    }

    /// Remember that `reference`'s tag points at `manifest_digest`.
    pub fn set_tag(&self, reference: &Reference, manifest_digest: &str) -> Result<(), OciError> {
        match self.tag_path(reference) {
            Some(path) => write_atomic(&path, manifest_digest.as_bytes()),
            None => Ok(()),
        }
    }

    fn tag_path(&self, reference: &Reference) -> Option<PathBuf> {
        let tag = reference.tag.as_deref()?;
        let registry = reference.registry.replace(':', "_");
        Some(self.root.join("tags").join(registry).join(&reference.repository).join(tag))
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OciError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| OciError::io(dir, e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| OciError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        OciError::io(path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_verified_on_write_and_read() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let r = Reference::parse("reg.io/x:1").unwrap();
        let d = sha256_digest(b"hello");
        let err = cache.put_blob(&r, "layer", &d, b"hellO").unwrap_err().to_string();
        assert!(err.contains("digest mismatch") && err.contains("nothing was cached"), "{err}");
        assert!(!cache.blob_path(&d).exists());
        cache.put_blob(&r, "layer", &d, b"hello").unwrap();
        assert_eq!(cache.read_blob(&d).as_deref(), Some(&b"hello"[..]));
        std::fs::write(cache.blob_path(&d), b"tampered").unwrap();
        assert_eq!(cache.read_blob(&d), None);
        assert!(!cache.blob_path(&d).exists(), "a corrupt blob is removed");
        cache.set_tag(&r, &d).unwrap();
        assert_eq!(cache.tag_digest(&r).as_deref(), Some(d.as_str()));
    }
}
