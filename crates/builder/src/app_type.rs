//! The five operator kinds a module can implement (AIO calls it the app type).

use std::fmt;

/// Which operator interface a module exports: one WIT world each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AppType {
    Map,
    Filter,
    Branch,
    Accumulate,
    Delay,
}

impl AppType {
    /// Every kind, in the order the docs list them.
    pub const ALL: [AppType; 5] = [AppType::Map, AppType::Filter, AppType::Branch, AppType::Accumulate, AppType::Delay];

    /// `"map"`, `"filter"`, ...: the WIT interface and `--app-type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            AppType::Map => "map",
            AppType::Filter => "filter",
            AppType::Branch => "branch",
            AppType::Accumulate => "accumulate",
            AppType::Delay => "delay",
        }
    }

    /// The WIT world that exports this interface, e.g. `map-impl`.
    pub fn world(self) -> String {
        format!("{}-impl", self.as_str())
    }

    /// The Python module componentize-py 0.14 names the world's bindings
    /// (`map_impl`); later versions use it with `--world-module`.
    pub fn world_module(self) -> String {
        format!("{}_impl", self.as_str())
    }

    /// The class a Python operator must define (`Map`, `Filter`, ...):
    /// componentize-py looks the export up under this name.
    pub fn class_name(self) -> &'static str {
        match self {
            AppType::Map => "Map",
            AppType::Filter => "Filter",
            AppType::Branch => "Branch",
            AppType::Accumulate => "Accumulate",
            AppType::Delay => "Delay",
        }
    }

    /// The parameters of `process` after `self`, as the WIT names them.
    pub fn process_params(self) -> &'static [&'static str] {
        match self {
            AppType::Map | AppType::Filter => &["message"],
            AppType::Branch => &["timestamp", "message"],
            AppType::Accumulate => &["staged", "message"],
            AppType::Delay => &["data", "timestamp"],
        }
    }

    /// The kind whose class or binding module is called `name` (`Map`,
    /// `map_impl`, `map`).
    pub fn from_name(name: &str) -> Option<AppType> {
        AppType::ALL
            .into_iter()
            .find(|kind| name == kind.class_name() || name == kind.as_str() || name == kind.world_module())
    }
}

impl fmt::Display for AppType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AppType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        AppType::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| format!("unknown app type `{s}`; use one of map, filter, branch, accumulate, delay"))
    }
}
