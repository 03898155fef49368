//! The operator interfaces a module can export.

use std::fmt;
use std::str::FromStr;

/// An operator interface of `wasm-graph:processor@1.1.0`. Graph validation,
/// the host and the builders all name operators by it, so it lives here once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OperatorKind {
    /// `map`
    Map,
    /// `filter`
    Filter,
    /// `branch`
    Branch,
    /// `accumulate`
    Accumulate,
    /// `delay`
    Delay,
}

impl OperatorKind {
    /// All kinds.
    pub const ALL: [OperatorKind; 5] =
        [OperatorKind::Map, OperatorKind::Filter, OperatorKind::Branch, OperatorKind::Accumulate, OperatorKind::Delay];

    /// The WIT interface name: `map`, `filter`, `branch`, `accumulate`, `delay`.
    pub fn as_str(self) -> &'static str {
        match self {
            OperatorKind::Map => "map",
            OperatorKind::Filter => "filter",
            OperatorKind::Branch => "branch",
            OperatorKind::Accumulate => "accumulate",
            OperatorKind::Delay => "delay",
        }
    }

    /// The component export name, e.g. `wasm-graph:processor/map@1.1.0`.
    pub fn export_name(self) -> String {
        format!("wasm-graph:processor/{}@1.1.0", self.as_str())
    }

    /// The kind for an export name `wasm-graph:processor/<kind>@1.1.<patch>`.
    pub fn from_export_name(name: &str) -> Option<Self> {
        let rest = name.strip_prefix("wasm-graph:processor/")?;
        let (iface, version) = rest.split_once('@')?;
        let mut parts = version.split('.');
        let compatible = parts.next() == Some("1") && parts.next() == Some("1");
        if !compatible {
            return None;
        }
        Self::ALL.into_iter().find(|k| k.as_str() == iface)
    }
}

impl fmt::Display for OperatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not an operator kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownOperatorKind(pub String);

impl fmt::Display for UnknownOperatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown operator kind {:?} (expected map, filter, branch, accumulate or delay)", self.0)
    }
}

impl std::error::Error for UnknownOperatorKind {}

impl FromStr for OperatorKind {
    type Err = UnknownOperatorKind;

    /// Accepts the interface names in any case (`map`, `Map`, `MAP`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OperatorKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownOperatorKind(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_names_round_trip_within_1_1() {
        for kind in OperatorKind::ALL {
            assert_eq!(OperatorKind::from_export_name(&kind.export_name()), Some(kind));
        }
        assert_eq!(OperatorKind::from_export_name("wasm-graph:processor/map@1.1.7"), Some(OperatorKind::Map));
        assert_eq!(OperatorKind::from_export_name("wasm-graph:processor/map@1.2.0"), None);
        assert_eq!("Filter".parse::<OperatorKind>(), Ok(OperatorKind::Filter));
        assert!("fold".parse::<OperatorKind>().is_err());
    }
}

/// The eight operation types of a graph definition (`operationType`): the
/// five operator kinds a module implements, plus the host's source, sink and
/// concatenate. Config, engine and runtime all name graph nodes by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OperationType {
    /// Where records enter the graph.
    Source,
    /// Where records leave the graph.
    Sink,
    /// One record in, one out (module).
    Map,
    /// Keep or drop each record (module).
    Filter,
    /// Route each record to arm "True" or "False" (module).
    Branch,
    /// Fold the records of one time into one (module).
    Accumulate,
    /// Merge several inputs.
    Concatenate,
    /// Move each record to a later time (module).
    Delay,
}

impl OperationType {
    /// All types, in the order DESIGN §2 lists them.
    pub const ALL: [OperationType; 8] = [
        OperationType::Source,
        OperationType::Sink,
        OperationType::Map,
        OperationType::Filter,
        OperationType::Branch,
        OperationType::Accumulate,
        OperationType::Concatenate,
        OperationType::Delay,
    ];

    /// The name as written in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationType::Source => "source",
            OperationType::Sink => "sink",
            OperationType::Map => "map",
            OperationType::Filter => "filter",
            OperationType::Branch => "branch",
            OperationType::Accumulate => "accumulate",
            OperationType::Concatenate => "concatenate",
            OperationType::Delay => "delay",
        }
    }

    /// Parses the YAML name (exact, lowercase).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The operator interface a module must export for this type; `None` for the
    /// host-implemented source, sink and concatenate.
    pub fn operator_kind(self) -> Option<OperatorKind> {
        match self {
            OperationType::Map => Some(OperatorKind::Map),
            OperationType::Filter => Some(OperatorKind::Filter),
            OperationType::Branch => Some(OperatorKind::Branch),
            OperationType::Accumulate => Some(OperatorKind::Accumulate),
            OperationType::Delay => Some(OperatorKind::Delay),
            OperationType::Source | OperationType::Sink | OperationType::Concatenate => None,
        }
    }
}

impl fmt::Display for OperationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
