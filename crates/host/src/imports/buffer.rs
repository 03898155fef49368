//! The `types` interface: the host-side `buffer` resource.

use bytes::Bytes;
use wasmtime::component::Resource;

use crate::bindings::imports::types;
use crate::state::Api;

/// The host side of a WIT `buffer`: reference-counted bytes that stay in the host
/// until the module calls `read()`.
#[derive(Debug)]
pub struct HostBuffer(pub Bytes);

impl types::Host for Api<'_> {}

impl types::HostBuffer for Api<'_> {
    fn read(&mut self, this: Resource<HostBuffer>) -> wasmtime::Result<Vec<u8>> {
        Ok(self.table.get(&this)?.0.to_vec())
    }

    fn drop(&mut self, rep: Resource<HostBuffer>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}
