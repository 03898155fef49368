//! The `limits:` section: caps on what modules make the host keep for them
//! (docs/hardening.md). Every key is optional; the host's default applies to
//! a key left out, and `wasmgraph run`'s `--limit-*` flags win over the file.

use std::path::Path;

use serde::Deserialize;

use crate::DeploymentError;

/// The caps a deployment sets; `None`: the host's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LimitsSpec {
    /// Longest module log line (and context), in bytes; longer ones are cut.
    pub log_line_bytes: Option<u64>,
    /// Log lines one module instance may emit per second; the rest are dropped.
    pub log_lines_per_second: Option<u64>,
    /// State-store keys one operation may hold.
    pub state_keys: Option<u64>,
    /// State-store bytes (keys plus values) one operation may hold.
    pub state_bytes: Option<u64>,
    /// Metric series one operation may create.
    pub metric_series: Option<u64>,
    /// Resource handles one module instance may hold at once.
    pub resources: Option<u64>,
}

impl LimitsSpec {
    /// Every value set must be a positive number that fits its use (a rate of
    /// at most 2^32-1 lines per second).
    pub(crate) fn check(&self, file: &Path) -> Result<(), DeploymentError> {
        let values = [
            ("logLineBytes", self.log_line_bytes, u64::MAX),
            ("logLinesPerSecond", self.log_lines_per_second, u64::from(u32::MAX)),
            ("stateKeys", self.state_keys, u64::MAX),
            ("stateBytes", self.state_bytes, u64::MAX),
            ("metricSeries", self.metric_series, u64::MAX),
            ("resources", self.resources, u64::MAX),
        ];
        for (key, value, max) in values {
            if let Some(v) = value.filter(|v| *v == 0 || *v > max) {
                return Err(crate::invalid(
                    file,
                    format!("limits.{key}: {v} is out of range (a positive number up to {max})"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LimitsSpec, String> {
        let spec: LimitsSpec = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        spec.check(Path::new("d.yaml")).map_err(|e| e.to_string())?;
        Ok(spec)
    }

    #[test]
    fn limits_are_optional_and_range_checked() {
        let spec = parse("logLinesPerSecond: 200\nstateBytes: 1048576\n").unwrap();
        assert_eq!((spec.log_lines_per_second, spec.state_bytes, spec.state_keys), (Some(200), Some(1 << 20), None));
        let zero = parse("resources: 0\n").unwrap_err();
        assert!(zero.contains("d.yaml: limits.resources: 0 is out of range"), "{zero}");
        let rate = parse("logLinesPerSecond: 4294967296\n").unwrap_err();
        assert!(rate.contains("limits.logLinesPerSecond"), "{rate}");
        assert!(parse("stateKey: 1\n").unwrap_err().contains("stateKey"), "unknown keys are refused");
    }
}
