//! The `command-invoker` interface (MQTT request/response).
//!
//! wasmgraph has no MQTT connection for operators yet. The builders work (each
//! setter returns a new builder holding the updated fields, `build` checks the
//! required fields), but `new-invoker` answers `rpc-error::client-error` and logs
//! a warning saying commands are not available, so a module sees a clean error it
//! can handle instead of a trap. `invoke` on an invoker (which cannot be obtained
//! today) answers `client-error` too.

use wasmtime::component::Resource;

use crate::bindings::imports::command_invoker::{self, CommandResponse, RpcError};
use crate::resources::{CommandInvoker, CommandRequest, CommandRequestBuilder, InvokerOptions, InvokerOptionsBuilder};
use crate::state::Api;

type R<T> = wasmtime::Result<Result<Resource<T>, RpcError>>;

impl Api<'_> {
    fn update<T: Clone + Send + 'static>(&mut self, this: &Resource<T>, f: impl FnOnce(&mut T)) -> R<T> {
        let mut next = self.table.get(this)?.clone();
        f(&mut next);
        Ok(Ok(self.table.push(next)?))
    }
}

impl command_invoker::HostCommandRequest for Api<'_> {
    fn drop(&mut self, rep: Resource<CommandRequest>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl command_invoker::HostCommandRequestBuilder for Api<'_> {
    fn new(&mut self) -> wasmtime::Result<Resource<CommandRequestBuilder>> {
        Ok(self.table.push(CommandRequestBuilder::default())?)
    }
    fn payload(&mut self, this: Resource<CommandRequestBuilder>, payload: Vec<u8>) -> R<CommandRequestBuilder> {
        self.update(&this, |b| b.0.payload = payload)
    }
    fn custom_user_data(
        &mut self,
        this: Resource<CommandRequestBuilder>,
        data: Vec<(String, String)>,
    ) -> R<CommandRequestBuilder> {
        self.update(&this, |b| b.0.custom_user_data = data)
    }
    fn topic_tokens(
        &mut self,
        this: Resource<CommandRequestBuilder>,
        tokens: Vec<(String, String)>,
    ) -> R<CommandRequestBuilder> {
        self.update(&this, |b| b.0.topic_tokens = tokens)
    }
    fn timeout(&mut self, this: Resource<CommandRequestBuilder>, secs: u64, nanos: u32) -> R<CommandRequestBuilder> {
        if nanos >= 1_000_000_000 {
            return Ok(Err(RpcError::ConfigurationInvalid));
        }
        self.update(&this, |b| b.0.timeout = Some(std::time::Duration::new(secs, nanos)))
    }
    fn build(&mut self, this: Resource<CommandRequestBuilder>) -> R<CommandRequest> {
        let request = self.table.get(&this)?.0.clone();
        Ok(Ok(self.table.push(request)?))
    }
    fn drop(&mut self, rep: Resource<CommandRequestBuilder>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl command_invoker::HostCommandInvokerOptions for Api<'_> {
    fn drop(&mut self, rep: Resource<InvokerOptions>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

macro_rules! option_setter {
    ($name:ident) => {
        fn $name(&mut self, this: Resource<InvokerOptionsBuilder>, value: String) -> R<InvokerOptionsBuilder> {
            self.update(&this, |b| b.0.$name = Some(value))
        }
    };
}

impl command_invoker::HostCommandInvokerOptionsBuilder for Api<'_> {
    fn new(&mut self) -> wasmtime::Result<Resource<InvokerOptionsBuilder>> {
        Ok(self.table.push(InvokerOptionsBuilder::default())?)
    }
    option_setter!(request_topic_pattern);
    option_setter!(response_topic_pattern);
    option_setter!(command_name);
    option_setter!(topic_namespace);
    option_setter!(response_topic_prefix);
    option_setter!(response_topic_suffix);
    fn topic_token_map(
        &mut self,
        this: Resource<InvokerOptionsBuilder>,
        map: Vec<(String, String)>,
    ) -> R<InvokerOptionsBuilder> {
        self.update(&this, |b| b.0.topic_token_map = map)
    }
    fn build(&mut self, this: Resource<InvokerOptionsBuilder>) -> R<InvokerOptions> {
        let options = self.table.get(&this)?.0.clone();
        if options.request_topic_pattern.is_none() || options.command_name.is_none() {
            return Ok(Err(RpcError::ConfigurationInvalid));
        }
        Ok(Ok(self.table.push(options)?))
    }
    fn drop(&mut self, rep: Resource<InvokerOptionsBuilder>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl command_invoker::HostCommandInvoker for Api<'_> {
    fn invoke(
        &mut self,
        _this: Resource<CommandInvoker>,
        _request: Resource<CommandRequest>,
    ) -> wasmtime::Result<Result<CommandResponse, RpcError>> {
        Ok(Err(RpcError::ClientError))
    }
    fn drop(&mut self, rep: Resource<CommandInvoker>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl command_invoker::Host for Api<'_> {
    fn new_invoker(
        &mut self,
        options: Resource<InvokerOptions>,
    ) -> wasmtime::Result<Result<Resource<CommandInvoker>, RpcError>> {
        let options = self.table.get(&options)?;
        tracing::warn!(
            target: "wasmgraph::module",
            operation = %self.ctx.operation,
            command = options.command_name.as_deref().unwrap_or(""),
            "command-invoker is not available in wasmgraph yet (no MQTT connection for operators); \
             new-invoker answers client-error"
        );
        Ok(Err(RpcError::ClientError))
    }
}
