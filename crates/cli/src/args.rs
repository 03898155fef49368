//! Command-line arguments.

use clap::{Parser, Subcommand};

use crate::commands;

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (tracing-subscriber's JSON format).
    Json,
}

/// Run graphs of WebAssembly operators on streams from MQTT, Kafka or files.
#[derive(Debug, Parser)]
#[command(name = "wasmgraph", version, about)]
pub struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Log lines as plain text, or as JSON objects one per line (module log
    /// lines carry `operation` and the record `time` as fields).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size of its largest variant (`run`'s many
// flags) does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build an operator (Rust crate or Python module) into a WebAssembly component.
    Build(commands::build::BuildArgs),
    /// Create a new operator (Rust crate or Python module) that builds and passes its own test.
    New(commands::new::NewArgs),
    /// Check a graph definition and print every problem as `file:line:col: message`.
    Validate(commands::validate::ValidateArgs),
    /// Run a graph over a directory of files, or on live MQTT messages (a deployment file).
    Run(commands::run::RunArgs),
    /// Send files as MQTT messages (one file, one message).
    Publish(commands::publish::PublishArgs),
    /// Run graph test cases (`*.test.yaml`) and compare their output.
    Test(commands::test::TestArgs),
    /// Push a module (.wasm) or graph definition (.yaml) to an OCI registry; prints its digest.
    Push(commands::push::PushArgs),
    /// Pull a module or graph definition from an OCI registry, verified by digest.
    Pull(commands::pull::PullArgs),
}

impl Command {
    pub fn execute(self) -> anyhow::Result<std::process::ExitCode> {
        match self {
            Command::Build(args) => args.execute(),
            Command::New(args) => args.execute(),
            Command::Validate(args) => args.execute(),
            Command::Run(args) => args.execute(),
            Command::Publish(args) => args.execute(),
            Command::Test(args) => args.execute(),
            Command::Push(args) => args.execute(),
            Command::Pull(args) => args.execute(),
        }
    }
}
