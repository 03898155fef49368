//! Attribute macros of [`wasm_graph_sdk`](https://docs.rs/wasm_graph_sdk):
//! `#[map_operator]`, `#[filter_operator]`, `#[branch_operator]`,
//! `#[accumulate_operator]` and `#[delay_operator]`.
//!
//! Use them through `wasm_graph_sdk::macros`; this crate is an implementation
//! detail and its output refers only to `::wasm_graph_sdk::…` paths. See
//! [`expand`] for what an annotated function turns into.

use proc_macro::TokenStream;

mod expand;

use expand::{expand, Kind};

/// Exports the annotated `fn(DataModel) -> Result<DataModel, Error>` as the
/// component's `wasm-graph:processor/map@1.1.0` interface.
///
/// Optional argument: `init = "fn_name"` names a
/// `fn(ModuleConfiguration) -> bool` called once when the module is loaded
/// (without it, init accepts every configuration).
#[proc_macro_attribute]
pub fn map_operator(attr: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Map, attr, item)
}

/// Exports the annotated `fn(DataModel) -> Result<bool, Error>` (true keeps the
/// record) as the component's `wasm-graph:processor/filter@1.1.0` interface.
///
/// Optional argument: `init = "fn_name"`, see [`macro@map_operator`].
#[proc_macro_attribute]
pub fn filter_operator(attr: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Filter, attr, item)
}

/// Exports the annotated `fn(HybridLogicalClock, DataModel) -> Result<bool, Error>`
/// (true sends the record to arm "True") as the component's
/// `wasm-graph:processor/branch@1.1.0` interface.
///
/// Optional argument: `init = "fn_name"`, see [`macro@map_operator`].
#[proc_macro_attribute]
pub fn branch_operator(attr: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Branch, attr, item)
}

/// Exports the annotated `fn(DataModel, Vec<DataModel>) -> Result<DataModel, Error>`
/// (staged value, batch) as the component's
/// `wasm-graph:processor/accumulate@1.1.0` interface.
///
/// Optional argument: `init = "fn_name"`, see [`macro@map_operator`].
#[proc_macro_attribute]
pub fn accumulate_operator(attr: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Accumulate, attr, item)
}

/// Exports the annotated
/// `fn(DataModel, HybridLogicalClock) -> Result<HybridLogicalClock, Error>` (the
/// record's new time) as the component's `wasm-graph:processor/delay@1.1.0`
/// interface.
///
/// Optional argument: `init = "fn_name"`, see [`macro@map_operator`].
#[proc_macro_attribute]
pub fn delay_operator(attr: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Delay, attr, item)
}

fn run(kind: Kind, attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(kind, attr.into(), item.into()).into()
}
