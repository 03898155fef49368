//! `wasmgraph run`'s `--limit-*` flags: the host's caps on what modules make
//! it keep (docs/hardening.md). A flag wins over a deployment's `limits:`
//! section, which wins over the host's defaults.

use wasmgraph_deployment::LimitsSpec;
use wasmgraph_host::HostLimits;

/// The caps, each optional.
#[derive(Debug, Default, clap::Args)]
pub struct LimitsArgs {
    /// Longest module log line (and log context) in bytes; longer ones are
    /// cut and counted (default 16384).
    #[arg(long, env = "WASMGRAPH_LIMIT_LOG_LINE_BYTES", value_name = "BYTES", value_parser = positive_usize)]
    pub limit_log_line_bytes: Option<usize>,
    /// Log lines (logger calls, stdout and stderr lines) one module instance
    /// may emit per second; the rest are dropped and counted (default 1000).
    #[arg(long, env = "WASMGRAPH_LIMIT_LOG_LINES_PER_SECOND", value_name = "LINES", value_parser = clap::value_parser!(u32).range(1..))]
    pub limit_log_lines_per_second: Option<u32>,
    /// State-store keys one operation may hold; a set beyond it is refused
    /// (the module gets request-error) and counted (default 100000).
    #[arg(long, env = "WASMGRAPH_LIMIT_STATE_KEYS", value_name = "KEYS", value_parser = positive_usize)]
    pub limit_state_keys: Option<usize>,
    /// State-store bytes (keys plus values) one operation may hold (default 67108864).
    #[arg(long, env = "WASMGRAPH_LIMIT_STATE_BYTES", value_name = "BYTES", value_parser = positive_usize)]
    pub limit_state_bytes: Option<usize>,
    /// Metric series one operation may create; updates of further new series
    /// are dropped and counted (default 1000).
    #[arg(long, env = "WASMGRAPH_LIMIT_METRIC_SERIES", value_name = "SERIES", value_parser = positive_usize)]
    pub limit_metric_series: Option<usize>,
    /// Resource handles (buffers, streams, builders) one module instance may
    /// hold; a call that would create more fails (kind resource-limit) and the
    /// instance is re-created (default 10000).
    #[arg(long, env = "WASMGRAPH_LIMIT_RESOURCES", value_name = "HANDLES", value_parser = positive_usize)]
    pub limit_resources: Option<usize>,
}

fn positive_usize(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{text:?}: expected a positive whole number")),
    }
}

impl LimitsArgs {
    /// `base` with every flag given applied.
    pub fn apply(&self, base: HostLimits) -> HostLimits {
        HostLimits {
            log_line_bytes: self.limit_log_line_bytes.unwrap_or(base.log_line_bytes),
            log_lines_per_second: self.limit_log_lines_per_second.unwrap_or(base.log_lines_per_second),
            state_keys: self.limit_state_keys.unwrap_or(base.state_keys),
            state_bytes: self.limit_state_bytes.unwrap_or(base.state_bytes),
            metric_series: self.limit_metric_series.unwrap_or(base.metric_series),
            resources: self.limit_resources.unwrap_or(base.resources),
        }
    }
}

/// The host's defaults with a deployment's `limits:` applied (values were
/// range-checked when the deployment was loaded).
pub fn from_deployment(spec: &LimitsSpec) -> HostLimits {
    let d = HostLimits::default();
    let size = |v: Option<u64>, default: usize| v.map_or(default, |v| usize::try_from(v).unwrap_or(usize::MAX));
    HostLimits {
        log_line_bytes: size(spec.log_line_bytes, d.log_line_bytes),
        log_lines_per_second: spec
            .log_lines_per_second
            .map_or(d.log_lines_per_second, |v| u32::try_from(v).unwrap_or(u32::MAX)),
        state_keys: size(spec.state_keys, d.state_keys),
        state_bytes: size(spec.state_bytes, d.state_bytes),
        metric_series: size(spec.metric_series, d.metric_series),
        resources: size(spec.resources, d.resources),
    }
}
