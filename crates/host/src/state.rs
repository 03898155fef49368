//! What each wasmtime `Store` holds: WASI state, the resource table, the memory
//! limiter and the narrow context the wasm-graph host APIs see.

use std::sync::Arc;

use wasmgraph_types::Hlc;
use wasmtime::component::{HasData, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::limits::{Caps, LimitHits, LogBudget};
use crate::Services;

/// Per-instance state.
pub(crate) struct StoreState {
    pub table: ResourceTable,
    pub wasi: WasiCtx,
    pub api: ApiCtx,
    pub limiter: MemoryLimiter,
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// What the wasm-graph host APIs need to know about the instance calling them.
pub(crate) struct ApiCtx {
    /// The operation (graph node) this instance runs for.
    pub operation: Arc<str>,
    /// The time of the record being processed, while a call is under way.
    pub record_time: Option<Hlc>,
    /// The shared host services.
    pub services: Arc<Services>,
    /// The runtime's caps and state-store ledger.
    pub caps: Arc<Caps>,
    /// This operation's cap counters (shared by its instances).
    pub hits: Arc<LimitHits>,
    /// This instance's log budget (shared with its stdout and stderr).
    pub log: Arc<LogBudget>,
}

/// The view the wasm-graph host traits are implemented on: the resource table
/// (for `buffer` and the command-invoker resources) and the API context.
pub(crate) struct Api<'a> {
    pub table: &'a mut ResourceTable,
    pub ctx: &'a ApiCtx,
}

/// `HasData` marker selecting [`Api`] as the host data of the bindings.
pub(crate) struct ApiData;

impl HasData for ApiData {
    type Data<'a> = Api<'a>;
}

pub(crate) fn api(state: &mut StoreState) -> Api<'_> {
    Api { table: &mut state.table, ctx: &state.api }
}

/// Limits the total linear memory of one instance (all its memories together)
/// and remembers whether the limit was hit, so that a trap that follows a failed
/// `memory.grow` is reported as out-of-memory.
pub(crate) struct MemoryLimiter {
    pub limit: usize,
    pub total: usize,
    pub exceeded: bool,
}

/// Tables may not grow past this many elements (a guard against a module that
/// grows tables without bound; real modules use a few thousand).
const MAX_TABLE_ELEMENTS: usize = 1_000_000;

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let new_total = self.total.saturating_sub(current).saturating_add(desired);
        if new_total > self.limit {
            self.exceeded = true;
            return Ok(false);
        }
        self.total = new_total;
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
