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
