//! The wasmgraph runtime's own telemetry: a Prometheus scrape endpoint and
//! OTLP metrics push, both fed from a [`Snapshot`] of the live counters.
//!
//! Nothing here runs per record. The engine and the host keep their counters
//! as they always do (atomics, sharded registries); whoever runs a graph
//! implements [`Collect`] to read them into a [`Snapshot`], and this crate
//! reads that only when Prometheus scrapes or an OTLP export is due. The one
//! per-call figure, call latency, goes into a [`LatencyHistogram`] that the
//! runtime fills only when telemetry is on.
//!
//! ```no_run
//! use std::sync::Arc;
//! use wasmgraph_telemetry::{Snapshot, Telemetry, TelemetryConfig};
//!
//! let config = TelemetryConfig { metrics_addr: Some("127.0.0.1:9464".parse().unwrap()), ..Default::default() };
//! let telemetry = Telemetry::start(&config, Arc::new(|| Snapshot { graph: "g".into(), ..Snapshot::default() }))?;
//! // ... run the graph; Prometheus scrapes http://127.0.0.1:9464/metrics
//! telemetry.shutdown();
//! # Ok::<(), wasmgraph_telemetry::TelemetryError>(())
//! ```

mod histogram;
mod names;
#[cfg(feature = "otlp")]
mod otlp;
pub mod prometheus;
mod server;
mod snapshot;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use histogram::{LatencyHistogram, CALL_BUCKETS};
#[cfg(feature = "otlp")]
pub use otlp::{metrics_url, OtlpPush};
pub use server::MetricsServer;
pub use snapshot::{
    HistogramPoint, LagPoint, ModuleCounter, ModuleHistogram, OperationPoint, SinkPoint, Snapshot, SourcePoint,
};

/// Reads the live counters into a [`Snapshot`]; called on each scrape and
/// each OTLP export, from the exporters' threads.
pub trait Collect: Send + Sync + 'static {
    /// The figures as they are now.
    fn collect(&self) -> Snapshot;
}

impl<F: Fn() -> Snapshot + Send + Sync + 'static> Collect for F {
    fn collect(&self) -> Snapshot {
        self()
    }
}

/// Where the figures go. Both off by default.
#[derive(Clone, Debug)]
pub struct TelemetryConfig {
    /// Serve `GET /metrics` (Prometheus) on this address.
    pub metrics_addr: Option<SocketAddr>,
    /// Push metrics over OTLP/HTTP to this collector (a base URL like
    /// OTEL_EXPORTER_OTLP_ENDPOINT's, `http://collector:4318`).
    pub otlp_endpoint: Option<String>,
    /// How often to push.
    pub otlp_interval: Duration,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig { metrics_addr: None, otlp_endpoint: None, otlp_interval: Duration::from_secs(10) }
    }
}

impl TelemetryConfig {
    /// True when the figures go anywhere (so calls are worth timing).
    pub fn enabled(&self) -> bool {
        self.metrics_addr.is_some() || self.otlp_endpoint.is_some()
    }
}

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    /// The metrics address could not be listened on.
    #[error("metrics endpoint {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The OTLP exporter could not be set up.
    #[error("OTLP metrics to {endpoint}: {message}")]
    Otlp {
        /// The endpoint asked for.
        endpoint: String,
        /// Why.
        message: String,
    },
}

/// The exporters of one run; stop them with [`Telemetry::shutdown`].
#[derive(Debug, Default)]
pub struct Telemetry {
    server: Option<MetricsServer>,
    #[cfg(feature = "otlp")]
    otlp: Option<OtlpPush>,
}

impl Telemetry {
    /// Start what `config` asks for, reading figures from `source`.
    pub fn start(config: &TelemetryConfig, source: Arc<dyn Collect>) -> Result<Self, TelemetryError> {
        let server = config.metrics_addr.map(|addr| MetricsServer::start(addr, source.clone())).transpose()?;
        #[cfg(feature = "otlp")]
        let otlp = config
            .otlp_endpoint
            .as_deref()
            .map(|endpoint| OtlpPush::start(endpoint, config.otlp_interval, source.clone()))
            .transpose()?;
        #[cfg(not(feature = "otlp"))]
        if let Some(endpoint) = &config.otlp_endpoint {
            return Err(TelemetryError::Otlp {
                endpoint: endpoint.clone(),
                message: "this build has no OTLP support (feature `otlp` of wasmgraph-telemetry)".into(),
            });
        }
        Ok(Telemetry {
            server,
            #[cfg(feature = "otlp")]
            otlp,
        })
    }

    /// The address the scrape endpoint listens on, if it runs.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.server.as_ref().map(MetricsServer::local_addr)
    }

    /// Push the final figures (OTLP) and stop serving.
    pub fn shutdown(self) {
        #[cfg(feature = "otlp")]
        if let Some(otlp) = self.otlp {
            otlp.shutdown();
        }
        drop(self.server);
    }
}
