//! Why a pipeline could not be set up or stopped early.

use std::path::PathBuf;

/// A pipeline failure, saying which part and why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The graph definition has problems; each is `file:line:col: message`.
    #[error("{} has {} problem(s); nothing was run:\n{}", file.display(), problems.len(), problems.join("\n"))]
    Graph {
        /// The graph file.
        file: PathBuf,
        /// Every problem found.
        problems: Vec<String>,
    },
    /// An application folder's `statestore.json` or `hostapp.env.list`, or a
    /// file it names, cannot be used (see [`crate::AppFolder`]).
    #[error("{}: {message}", file.display())]
    App {
        /// The file, with its line where one is at fault (`hostapp.env.list:3`).
        file: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// A parameter value is malformed or names no operation.
    #[error("{0}")]
    Parameters(String),
    /// The WebAssembly host could not start or load a module.
    #[error("{0}")]
    Host(String),
    /// A source or sink could not be opened.
    #[error("{what}: {source}")]
    Connector {
        /// `source`, `sink` or `dead letters`.
        what: &'static str,
        /// Why.
        #[source]
        source: wasmgraph_connector::ConnectorError,
    },
    /// A deployment file is invalid.
    #[error(transparent)]
    Deployment(#[from] wasmgraph_deployment::DeploymentError),
    /// The run stopped early (source or sink failure, a module whose init failed).
    #[error(transparent)]
    Engine(#[from] wasmgraph_engine::RunError),
}
