//! `wasm_graph_sdk`: write data flow graph operators in Rust, for wasmgraph and
//! for Azure IoT Operations.
//!
//! An operator is a plain function with one of five attributes from [`macros`];
//! the attribute exports it as the matching interface of the WIT package
//! `wasm-graph:processor@1.1.0` when the crate is built for `wasm32-wasip2`:
//!
//! ```
//! use wasm_graph_sdk::logger::{self, Level};
//! use wasm_graph_sdk::macros::map_operator;
//!
//! fn my_init(configuration: ModuleConfiguration) -> bool {
//!     logger::log(Level::Info, "my-module/map", &format!("{} properties", configuration.properties.len()));
//!     true
//! }
//!
//! #[map_operator(init = "my_init")]
//! fn uppercase(input: DataModel) -> Result<DataModel, Error> {
//!     let DataModel::Message(mut message) = input else {
//!         return Err(Error { message: "expected a message".to_owned() });
//!     };
//!     message.payload = BufferOrBytes::Bytes(message.payload.read().to_ascii_uppercase());
//!     Ok(DataModel::Message(message))
//! }
//! # let out = uppercase(wasm_graph_sdk::testing::data(b"hi".to_vec())).unwrap();
//! # assert_eq!(wasm_graph_sdk::testing::payload(&out), b"HI");
//! ```
//!
//! | attribute | signature | export |
//! | --- | --- | --- |
//! | `#[map_operator]` | `fn(DataModel) -> Result<DataModel, Error>` | `wasm-graph:processor/map@1.1.0` |
//! | `#[filter_operator]` | `fn(DataModel) -> Result<bool, Error>` | `…/filter@1.1.0` |
//! | `#[branch_operator]` | `fn(HybridLogicalClock, DataModel) -> Result<bool, Error>` | `…/branch@1.1.0` |
//! | `#[accumulate_operator]` | `fn(DataModel, Vec<DataModel>) -> Result<DataModel, Error>` | `…/accumulate@1.1.0` |
//! | `#[delay_operator]` | `fn(DataModel, HybridLogicalClock) -> Result<HybridLogicalClock, Error>` | `…/delay@1.1.0` |
//!
//! Each takes an optional `init = "fn_name"` naming a
//! `fn(ModuleConfiguration) -> bool` that the host calls once at load. The
//! attribute also brings the WIT types ([`prelude`]) into scope by bare name in
//! the module where it is used. A crate may hold several operators of different
//! kinds (each in its own `mod`, or together at the crate root); the component
//! exports exactly the interfaces of the attributes it uses.
//!
//! Host services: [`logger`], [`metrics`], [`state_store`]. In native builds
//! (any target but wasm32) they are served by an in-process mock host, so the
//! same operator source has ordinary `cargo test` unit tests: see [`testing`].

extern crate self as wasm_graph_sdk;

#[doc(hidden)]
pub mod bindings;
pub mod logger;
pub mod metrics;
pub mod state_store;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
pub mod types;
#[cfg(test)]
mod wit_check;

/// The operator attributes: `#[map_operator]`, `#[filter_operator]`,
/// `#[branch_operator]`, `#[accumulate_operator]`, `#[delay_operator]`.
pub mod macros {
    pub use wasm_graph_sdk_macros::{
        accumulate_operator, branch_operator, delay_operator, filter_operator, map_operator,
    };
}

/// What an operator attribute brings into scope by bare name: the WIT types
/// (`DataModel`, `Message`, `Snapshot`, `BufferOrBytes`, `BufferOrString`,
/// `MessageSchema`, `ModuleConfiguration`, `HybridLogicalClock`, `Timespec`,
/// `Error`, …) and `std::time::Duration` (a `Timespec` converts to and from it).
pub mod prelude {
    pub use crate::types::*;
    pub use std::time::Duration;
}

/// Support for the macros' output; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings;
    pub use wit_bindgen;

    /// The `init` of an operator declared without `init = "…"`.
    pub fn accept_configuration(_configuration: crate::types::ModuleConfiguration) -> bool {
        true
    }
}
