//! Why a build failed.

use std::path::PathBuf;

/// Why a build failed. Every message says what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The folder is not something `build` can turn into an operator.
    #[error(
        "{} is not an operator crate: {}",
        dir.display(),
        reasons.join("; ")
    )]
    NotAnOperator {
        dir: PathBuf,
        /// Every problem found, each a sentence fragment.
        reasons: Vec<String>,
    },

    /// The operator's source is wrong before any compiler ran (a Python
    /// syntax error, a class that does not match `--app-type`).
    #[error(
        "{}{}: {message}",
        file.display(),
        line.map(|l| format!(":{l}")).unwrap_or_default()
    )]
    Source { file: PathBuf, line: Option<usize>, message: String },

    /// No toolchain on this machine can build `wasm32-wasip2`.
    #[error("{0}")]
    NoToolchain(String),

    /// `cargo metadata` could not read the crate.
    #[error("cannot read the crate in {}: {message}", dir.display())]
    Metadata { dir: PathBuf, message: String },

    /// The compiler ran and failed.
    #[error(
        "building {name} for wasm32-wasip2 failed ({toolchain}){}",
        if output.is_empty() { String::new() } else { format!(":\n{output}") }
    )]
    Compile {
        name: String,
        toolchain: String,
        /// The compiler's output, when it was captured (`quiet`).
        output: String,
    },

    /// The build succeeded but did not produce the expected component.
    #[error("{0}")]
    Artifact(String),

    /// A program could not be started or a file not be written.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}
