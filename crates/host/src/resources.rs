//! What the host keeps for each WIT resource a module holds a handle to: the
//! entries of the store's resource table. The generated bindings name these
//! types (bindgen's `with`), and the import implementations and conversions
//! create and read them; they depend on neither.

use bytes::Bytes;

/// The host side of a WIT `buffer`: reference-counted bytes that stay in the host
/// until the module calls `read()`.
#[derive(Debug)]
pub struct HostBuffer(pub Bytes);

/// A built `command-request`.
#[derive(Clone, Debug, Default)]
pub struct CommandRequest {
    pub payload: Vec<u8>,
    pub custom_user_data: Vec<(String, String)>,
    pub topic_tokens: Vec<(String, String)>,
    pub timeout: Option<std::time::Duration>,
}

/// A `command-request-builder`: the request under construction.
#[derive(Clone, Debug, Default)]
pub struct CommandRequestBuilder(pub CommandRequest);

/// Built `command-invoker-options`.
#[derive(Clone, Debug, Default)]
pub struct InvokerOptions {
    pub request_topic_pattern: Option<String>,
    pub response_topic_pattern: Option<String>,
    pub command_name: Option<String>,
    pub topic_namespace: Option<String>,
    pub topic_token_map: Vec<(String, String)>,
    pub response_topic_prefix: Option<String>,
    pub response_topic_suffix: Option<String>,
}

/// A `command-invoker-options-builder`: the options under construction.
#[derive(Clone, Debug, Default)]
pub struct InvokerOptionsBuilder(pub InvokerOptions);

/// A `command-invoker` (never handed out while commands are unavailable).
#[derive(Debug)]
pub struct CommandInvoker {
    #[allow(dead_code)]
    pub options: InvokerOptions,
}
