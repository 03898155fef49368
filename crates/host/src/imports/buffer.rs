//! The `types` interface: the host-side `buffer` resource.

use wasmtime::component::Resource;

use crate::bindings::imports::types;
use crate::resources::HostBuffer;
use crate::state::Api;

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
