//! A loaded component: compiled code, linked and ready to instantiate, with
//! the operator interfaces it exports.

use std::sync::Arc;

use wasmgraph_types::OperatorKind;
use wasmtime::component::InstancePre;

use crate::bindings::exports;
use crate::state::StoreState;

/// Where a [`Module`]'s compiled code came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheSource {
    /// Compiled by this load.
    Compiled,
    /// Read from the disk cache.
    Disk,
}

/// Export indices of the operator interfaces a module has, resolved once.
#[derive(Clone)]
pub(crate) struct Indices {
    pub map: Option<exports::map::GuestIndices>,
    pub filter: Option<exports::filter::GuestIndices>,
    pub branch: Option<exports::branch::GuestIndices>,
    pub accumulate: Option<exports::accumulate::GuestIndices>,
    pub delay: Option<exports::delay::GuestIndices>,
}

impl Indices {
    fn new(pre: &InstancePre<StoreState>) -> Self {
        Indices {
            map: exports::map::GuestIndices::new(pre).ok(),
            filter: exports::filter::GuestIndices::new(pre).ok(),
            branch: exports::branch::GuestIndices::new(pre).ok(),
            accumulate: exports::accumulate::GuestIndices::new(pre).ok(),
            delay: exports::delay::GuestIndices::new(pre).ok(),
        }
    }
}

/// A loaded component: compiled code, linked and ready to instantiate. Cheap to
/// clone.
#[derive(Clone)]
pub struct Module {
    pub(crate) inner: Arc<ModuleInner>,
}

pub(crate) struct ModuleInner {
    pub name: String,
    pub digest: String,
    pub pre: InstancePre<StoreState>,
    pub indices: Indices,
    pub source: CacheSource,
}

impl Module {
    pub(crate) fn new(name: String, digest: String, pre: InstancePre<StoreState>, source: CacheSource) -> Self {
        let indices = Indices::new(&pre);
        Module { inner: Arc::new(ModuleInner { name, digest, pre, indices, source }) }
    }

    /// Whether the module imports the state store. Such a module's calls share
    /// state across records, so their order matters: the engine runs them one
    /// at a time in time order.
    pub fn imports_state_store(&self) -> bool {
        let component = self.inner.pre.component();
        let engine = component.engine();
        component
            .component_type()
            .imports(engine)
            .any(|(name, _)| name.starts_with("wasm-graph:processor/state-store@"))
    }

    /// The operator interfaces the module exports, in the order map, filter,
    /// branch, accumulate, delay.
    pub fn exports(&self) -> Vec<OperatorKind> {
        let i = &self.inner.indices;
        let mut out = Vec::new();
        if i.map.is_some() {
            out.push(OperatorKind::Map);
        }
        if i.filter.is_some() {
            out.push(OperatorKind::Filter);
        }
        if i.branch.is_some() {
            out.push(OperatorKind::Branch);
        }
        if i.accumulate.is_some() {
            out.push(OperatorKind::Accumulate);
        }
        if i.delay.is_some() {
            out.push(OperatorKind::Delay);
        }
        out
    }

    /// Whether the module exports the interface of `kind`.
    pub fn exports_kind(&self, kind: OperatorKind) -> bool {
        self.exports().contains(&kind)
    }

    /// The sha256 of the component's bytes, in hex.
    pub fn digest(&self) -> &str {
        &self.inner.digest
    }

    /// The file name (or the name given to [`Runtime::load_bytes`](crate::Runtime::load_bytes)).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Where its compiled code came from when it was first loaded.
    pub fn cache_source(&self) -> CacheSource {
        self.inner.source
    }
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("name", &self.inner.name)
            .field("digest", &self.inner.digest)
            .field("exports", &self.exports())
            .finish()
    }
}
