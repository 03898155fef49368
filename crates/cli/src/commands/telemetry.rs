//! `wasmgraph run`'s telemetry flags: the Prometheus scrape endpoint and OTLP
//! metrics push (docs/observability.md).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use wasmgraph_runtime::Running;
use wasmgraph_telemetry::{Telemetry, TelemetryConfig};

/// Where the runtime's own metrics go (both off by default).
#[derive(Debug, Clone, clap::Args)]
pub struct TelemetryArgs {
    /// Serve Prometheus metrics on http://HOST:PORT/metrics (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<SocketAddr>,
    /// Push metrics over OTLP/HTTP to this collector (base URL, e.g.
    /// http://127.0.0.1:4318; `/v1/metrics` is appended).
    #[arg(long, value_name = "URL", env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// Seconds between OTLP pushes.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub otlp_interval: u64,
}

impl TelemetryArgs {
    /// The exporters' settings.
    pub fn config(&self) -> TelemetryConfig {
        TelemetryConfig {
            metrics_addr: self.metrics_addr,
            otlp_endpoint: self.otlp_endpoint.clone().filter(|e| !e.trim().is_empty()),
            otlp_interval: Duration::from_secs(self.otlp_interval),
        }
    }

    /// Start the exporters on `running`'s figures, and say where they are.
    pub fn start(&self, running: &Running) -> anyhow::Result<Telemetry> {
        let config = self.config();
        let telemetry = Telemetry::start(&config, std::sync::Arc::new(running.figures()))
            .context("starting the runtime's telemetry")?;
        if let Some(addr) = telemetry.metrics_addr() {
            eprintln!("wasmgraph: metrics at http://{addr}/metrics");
        }
        if let Some(endpoint) = &config.otlp_endpoint {
            eprintln!(
                "wasmgraph: pushing metrics to {} every {}s",
                wasmgraph_telemetry::metrics_url(endpoint),
                config.otlp_interval.as_secs()
            );
        }
        Ok(telemetry)
    }
}
