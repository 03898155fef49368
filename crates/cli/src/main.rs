//! `wasmgraph`: the command-line front end. This file only dispatches; each
//! subcommand lives in `commands/<name>.rs` with an `execute(self)`.

use std::process::ExitCode;

use clap::Parser;

mod args;
mod commands;
mod progress;
mod signals;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    init_tracing(cli.verbose, cli.log_format);
    match cli.command.execute() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Log to stderr; `RUST_LOG` overrides the level picked by `-v`.
fn init_tracing(verbose: u8, format: args::LogFormat) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    // The embedded broker (rumqttd) logs ordinary disconnects as errors: quiet
    // unless asked for with -vv or RUST_LOG.
    let default = if verbose < 2 { format!("{default},rumqttd=off") } else { default.to_string() };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        args::LogFormat::Text => builder.init(),
        args::LogFormat::Json => builder.json().init(),
    }
}
