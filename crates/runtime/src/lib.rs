//! Wires a wasmgraph pipeline: a graph definition, its modules, a source, a
//! sink and an error policy, to a running timely dataflow.
//!
//! The CLI, the benchmarks, the tests and embedders all call this crate; the
//! way a record travels is the way the crates are laid out: connectors
//! (source) → engine (times, frontiers, acknowledgements) → host (module
//! calls) → engine → connectors (sink). Sources and sinks are chosen by the
//! connector registry (`type: mqtt | file | ...`), so a new connector needs no
//! change here.
//!
//! Running a graph over a folder of files from Rust:
//!
//! ```no_run
//! use wasmgraph_connectors::file::{FileSinkSpec, FileSourceSpec};
//! use wasmgraph_connectors::{SinkSpec, SourceSpec};
//! use wasmgraph_runtime::Pipeline;
//!
//! let source = SourceSpec::File(FileSourceSpec::new("examples/data/temperature"));
//! let sink = SinkSpec::File(FileSinkSpec { path: "output/output.jsonl".into() });
//! let outcome = Pipeline::new("examples/graphs/simple.yaml", "examples/operators", source, sink).run()?;
//! println!("{}", wasmgraph_runtime::summary(&outcome.stats));
//! # Ok::<(), wasmgraph_runtime::RuntimeError>(())
//! ```
//!
//! A deployment file (wasmgraph's or AIO's `DataflowGraph`) gives the same
//! settings: `Pipeline::from_deployment(&wasmgraph_deployment::load(path, None)?)`.

mod app;
mod cluster;
mod dead_letter;
mod error;
mod graph;
mod host;
mod pipeline;
mod plan;
mod record_failures;
mod registry;
mod report;
mod swap;
mod telemetry;

pub use app::{AppFolder, AppParameter, ENV_FILE, SCHEMA_CONTENT_TYPE, STATE_FILE};
pub use dead_letter::{dead_letter, failure_document, ERROR_PROPERTY, FAILURE_KIND_PROPERTY, OPERATION_PROPERTY};
pub use error::RuntimeError;
pub use graph::{deployment_values, load_graph, load_graph_in, parse_params, unknown_param_operations};
pub use host::HostSettings;
pub use pipeline::{Outcome, Pipeline, Running};
pub use plan::{plan_for_graph, plan_live, plan_with_schemas, WasmOperatorFactory};
pub use registry::{pull_graph, registry_client, RegistryCatalog};
pub use report::{metrics_summary, summary};
pub use swap::{LiveModules, LiveOperator};
pub use telemetry::LiveFigures;
pub use wasmgraph_config::ParameterValues;
pub use wasmgraph_deployment::{Deployment, ErrorPolicy};
pub use wasmgraph_engine::Cluster;
pub use wasmgraph_oci::RegistryEndpoint;
