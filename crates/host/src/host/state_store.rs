//! The `state-store` interface, backed by the runtime's shared
//! [`StateStore`](wasmgraph_state_store::StateStore) (in memory, embedded on disk
//! or Redis, as the deployment chose). The guest's request timeouts are not
//! passed down: the in-memory and embedded stores answer at once and the Redis
//! store has its own I/O timeout. A store that timed out becomes
//! `state-store-error::timeout`; a stale fencing token or a failing backend
//! becomes `state-store-error::request-error` with the store's explanation (a
//! failing backend is also logged, since the guest may swallow the error).
//!
//! A set that would take the calling operation over its state-store caps
//! (keys, bytes; see state_quota.rs) is refused with `request-error` saying so,
//! and counted, before it reaches the store.

use wasmgraph_state_store as ss;

use crate::bindings::imports::state_store::{self, Duration, HybridLogicalClock, SetOptions};
use crate::bindings::imports::state_store_types::{
    SetConditions, StateStoreDelResponse, StateStoreError, StateStoreGetResponse, StateStoreSetResponse,
};
use crate::convert::{hlc_from_wit, hlc_to_wit};
use crate::state::Api;
use crate::state_quota::refusal;

fn options(o: SetOptions) -> ss::SetOptions {
    ss::SetOptions {
        conditions: match o.conditions {
            SetConditions::OnlyIfDoesNotExist => ss::SetConditions::OnlyIfDoesNotExist,
            SetConditions::OnlyIfEqualOrDoesNotExist => ss::SetConditions::OnlyIfEqualOrDoesNotExist,
            SetConditions::Unconditional => ss::SetConditions::Unconditional,
        },
        expires: o.expires.map(|d| std::time::Duration::new(d.seconds, d.nanos)),
    }
}

impl Api<'_> {
    /// The WIT error for a store error, logging backend failures.
    fn error(&self, e: ss::StateStoreError) -> StateStoreError {
        if !matches!(e, ss::StateStoreError::FencingTokenTooOld { .. }) {
            tracing::warn!(operation = %self.ctx.operation, "state store request failed: {e}");
        }
        match e {
            ss::StateStoreError::Timeout { .. } => StateStoreError::Timeout,
            other => StateStoreError::RequestError(other.to_string()),
        }
    }
}

impl Api<'_> {
    /// Runs a delete of `key`, taking the key out of the caps' ledger when
    /// it was deleted (the ledger's lock held around it, like a set).
    fn forget_if_deleted(
        &self,
        key: &[u8],
        delete: impl FnOnce() -> Result<ss::DelResponse, ss::StateStoreError>,
    ) -> Result<ss::DelResponse, ss::StateStoreError> {
        let mut ledger = self.ctx.caps.ledger.lock();
        let r = delete();
        if r.as_ref().is_ok_and(|r| r.deleted > 0) {
            ledger.remove(key);
        }
        r
    }
}

fn del_response(r: ss::DelResponse) -> StateStoreDelResponse {
    StateStoreDelResponse { response: r.deleted, version: r.version.as_ref().map(hlc_to_wit) }
}

impl state_store::Host for Api<'_> {
    fn get(
        &mut self,
        key: Vec<u8>,
        _timeout: Option<Duration>,
    ) -> wasmtime::Result<Result<StateStoreGetResponse, StateStoreError>> {
        let r = self.ctx.services.state_store.try_get(&key);
        Ok(r.map(|r| StateStoreGetResponse { response: r.value, version: r.version.as_ref().map(hlc_to_wit) })
            .map_err(|e| self.error(e)))
    }

    fn set(
        &mut self,
        key: Vec<u8>,
        value: Vec<u8>,
        _timeout: Option<Duration>,
        fencing_token: Option<HybridLogicalClock>,
        o: SetOptions,
    ) -> wasmtime::Result<Result<StateStoreSetResponse, StateStoreError>> {
        let token = fencing_token.map(hlc_from_wit);
        let options = options(o);
        let (ctx, limits) = (self.ctx, &self.ctx.caps.limits);
        let mut ledger = ctx.caps.ledger.lock();
        if let Err((keys, bytes)) = ledger.check(&ctx.hits, &key, value.len(), limits) {
            return Ok(Err(StateStoreError::RequestError(refusal(&ctx.operation, keys, bytes, limits))));
        }
        let expires = options.expires;
        let r = ctx.services.state_store.set(&key, &value, token.as_ref(), options);
        if r.as_ref().is_ok_and(|r| r.written) {
            ledger.set(&ctx.hits, &key, value.len(), expires);
        }
        drop(ledger);
        Ok(r.map(|r| StateStoreSetResponse { response: r.written, version: r.version.as_ref().map(hlc_to_wit) })
            .map_err(|e| self.error(e)))
    }

    fn del(
        &mut self,
        key: Vec<u8>,
        fencing_token: Option<HybridLogicalClock>,
        _timeout: Option<Duration>,
    ) -> wasmtime::Result<Result<StateStoreDelResponse, StateStoreError>> {
        let token = fencing_token.map(hlc_from_wit);
        let r = self.forget_if_deleted(&key, || self.ctx.services.state_store.del(&key, token.as_ref()));
        Ok(r.map(del_response).map_err(|e| self.error(e)))
    }

    fn vdel(
        &mut self,
        key: Vec<u8>,
        value: Vec<u8>,
        fencing_token: Option<HybridLogicalClock>,
        _timeout: Option<Duration>,
    ) -> wasmtime::Result<Result<StateStoreDelResponse, StateStoreError>> {
        let token = fencing_token.map(hlc_from_wit);
        let r = self.forget_if_deleted(&key, || self.ctx.services.state_store.vdel(&key, &value, token.as_ref()));
        Ok(r.map(del_response).map_err(|e| self.error(e)))
    }
}
