//! What can go wrong between wasmgraph and a registry.

/// Why a reference, endpoint, push or pull failed. Every message names the
/// reference or file and says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OciError {
    /// The text is not an OCI reference.
    #[error("'{reference}' is not an OCI reference: {reason}")]
    Reference {
        /// The text given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The registry endpoint settings are incomplete or contradict each other.
    #[error("registry endpoint: {0}")]
    Endpoint(String),
    /// Content whose digest is not the one it was asked for by: refused, not cached.
    #[error("{what} of {reference}: digest mismatch (expected {expected}, got {actual}); refused, nothing was cached")]
    DigestMismatch {
        /// Which part (manifest, layer).
        what: String,
        /// The reference being pulled.
        reference: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// The artifact is not a module or graph wasmgraph knows how to read.
    #[error("{reference}: {reason}")]
    Artifact {
        /// The reference.
        reference: String,
        /// What is unexpected about it.
        reason: String,
    },
    /// The registry could not be reached (and nothing usable is cached).
    #[error("{reference}: registry {registry} unreachable: {reason}")]
    Unreachable {
        /// The reference.
        reference: String,
        /// The registry host.
        registry: String,
        /// The transport error.
        reason: String,
    },
    /// The registry answered with an error (auth, not found, ...).
    #[error("{reference}: {operation} failed: {reason}")]
    Registry {
        /// The reference.
        reference: String,
        /// push, pull, ...
        operation: &'static str,
        /// The registry's answer.
        reason: String,
    },
    /// Reading or writing a local file (the cache, a pushed file) failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl OciError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        OciError::Io { path: path.display().to_string(), source }
    }
}
