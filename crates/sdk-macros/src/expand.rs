//! What an operator attribute turns into.
//!
//! ```ignore
//! #[map_operator(init = "my_init")]
//! fn my_map(input: DataModel) -> Result<DataModel, Error> { … }
//! ```
//!
//! becomes
//!
//! ```ignore
//! #[allow(unused_imports)]
//! use ::wasm_graph_sdk::prelude::*;          // WIT types by bare name in this module
//! fn my_map(input: DataModel) -> Result<DataModel, Error> { … }   // unchanged
//! const _: () = {
//!     // The signature check: a mismatch is reported here, once.
//!     const PROCESS: fn(DataModel) -> Result<DataModel, Error> = my_map;
//!     const INIT: fn(ModuleConfiguration) -> bool = my_init;
//!     #[cfg(target_arch = "wasm32")] struct Operator;
//!     #[cfg(target_arch = "wasm32")] impl …::map::Guest for Operator { … PROCESS(m) … INIT(c) … }
//!     #[cfg(target_arch = "wasm32")] …::export_map!(Operator with_types_in …);
//! };
//! ```
//!
//! so the function stays an ordinary Rust function that native unit tests call
//! directly, and only a wasm32 build exports it.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ItemFn, LitStr, ReturnType, Token};

/// The five operator kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Map,
    Filter,
    Branch,
    Accumulate,
    Delay,
}

impl Kind {
    fn attribute(self) -> &'static str {
        match self {
            Kind::Map => "map_operator",
            Kind::Filter => "filter_operator",
            Kind::Branch => "branch_operator",
            Kind::Accumulate => "accumulate_operator",
            Kind::Delay => "delay_operator",
        }
    }

    /// The expected signature, as written in messages.
    fn signature(self) -> &'static str {
        match self {
            Kind::Map => "fn(input: DataModel) -> Result<DataModel, Error>",
            Kind::Filter => "fn(input: DataModel) -> Result<bool, Error>",
            Kind::Branch => "fn(timestamp: HybridLogicalClock, input: DataModel) -> Result<bool, Error>",
            Kind::Accumulate => "fn(staged: DataModel, inputs: Vec<DataModel>) -> Result<DataModel, Error>",
            Kind::Delay => "fn(input: DataModel, timestamp: HybridLogicalClock) -> Result<HybridLogicalClock, Error>",
        }
    }

    fn arity(self) -> usize {
        match self {
            Kind::Map | Kind::Filter => 1,
            Kind::Branch | Kind::Accumulate | Kind::Delay => 2,
        }
    }

    /// The signature as a fn pointer type with full paths.
    fn fn_pointer(self) -> TokenStream {
        let t = quote!(::wasm_graph_sdk::prelude);
        match self {
            Kind::Map => quote!(fn(#t::DataModel) -> ::core::result::Result<#t::DataModel, #t::Error>),
            Kind::Filter => quote!(fn(#t::DataModel) -> ::core::result::Result<bool, #t::Error>),
            Kind::Branch => quote!(
                fn(#t::HybridLogicalClock, #t::DataModel) -> ::core::result::Result<bool, #t::Error>
            ),
            Kind::Accumulate => quote!(
                fn(#t::DataModel, ::std::vec::Vec<#t::DataModel>) -> ::core::result::Result<#t::DataModel, #t::Error>
            ),
            Kind::Delay => quote!(
                fn(#t::DataModel, #t::HybridLogicalClock)
                    -> ::core::result::Result<#t::HybridLogicalClock, #t::Error>
            ),
        }
    }

    /// The `Guest` impl's `process`, forwarding to `PROCESS`.
    fn process_method(self) -> TokenStream {
        let t = quote!(::wasm_graph_sdk::prelude);
        match self {
            Kind::Map => quote! {
                fn process(message: #t::DataModel) -> ::core::result::Result<#t::DataModel, #t::Error> {
                    PROCESS(message)
                }
            },
            Kind::Filter => quote! {
                fn process(message: #t::DataModel) -> ::core::result::Result<bool, #t::Error> {
                    PROCESS(message)
                }
            },
            Kind::Branch => quote! {
                fn process(
                    timestamp: #t::HybridLogicalClock,
                    message: #t::DataModel,
                ) -> ::core::result::Result<bool, #t::Error> {
                    PROCESS(timestamp, message)
                }
            },
            Kind::Accumulate => quote! {
                fn process(
                    staged: #t::DataModel,
                    message: ::std::vec::Vec<#t::DataModel>,
                ) -> ::core::result::Result<#t::DataModel, #t::Error> {
                    PROCESS(staged, message)
                }
            },
            Kind::Delay => quote! {
                fn process(
                    data: #t::DataModel,
                    timestamp: #t::HybridLogicalClock,
                ) -> ::core::result::Result<#t::HybridLogicalClock, #t::Error> {
                    PROCESS(data, timestamp)
                }
            },
        }
    }

    /// (world module, interface module, export macro) under `__private::bindings`.
    fn bindings(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Kind::Map => ("map_world", "map", "export_map"),
            Kind::Filter => ("filter_world", "filter", "export_filter"),
            Kind::Branch => ("branch_world", "branch", "export_branch"),
            Kind::Accumulate => ("accumulate_world", "accumulate", "export_accumulate"),
            Kind::Delay => ("delay_world", "delay", "export_delay"),
        }
    }
}

/// The attribute's arguments: nothing, or `init = "fn_name"`.
#[derive(Default)]
struct Args {
    init: Option<Ident>,
}

impl Args {
    fn parse(kind: Kind, attr: TokenStream) -> syn::Result<Args> {
        let parser = |input: ParseStream| Punctuated::<Arg, Token![,]>::parse_terminated(input);
        let list = parser.parse2(attr).map_err(|err| {
            syn::Error::new(
                err.span(),
                format!("#[{}] takes no arguments or `init = \"function_name\"` ({err})", kind.attribute()),
            )
        })?;
        let mut args = Args::default();
        for arg in list {
            match arg.name.to_string().as_str() {
                "init" => {
                    if args.init.is_some() {
                        return Err(syn::Error::new(arg.name.span(), "`init` is given twice"));
                    }
                    let name = arg.value.value();
                    let ident = syn::parse_str::<Ident>(&name).map_err(|_| {
                        syn::Error::new(
                            arg.value.span(),
                            format!(
                                "`init` must name a function in this module, like \
                                 `init = \"my_init\"`; `{name}` is not a function name"
                            ),
                        )
                    })?;
                    args.init = Some(Ident::new(&ident.to_string(), arg.value.span()));
                }
                other => {
                    return Err(syn::Error::new(
                        arg.name.span(),
                        format!(
                            "unknown argument `{other}` of #[{}]; the only argument is \
                             `init = \"function_name\"` (a `fn(ModuleConfiguration) -> bool` \
                             called once when the module is loaded)",
                            kind.attribute()
                        ),
                    ));
                }
            }
        }
        Ok(args)
    }
}

/// One `name = "value"` pair.
struct Arg {
    name: Ident,
    value: LitStr,
}

impl Parse for Arg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name: Ident = input.parse()?;
        if !input.peek(Token![=]) {
            return Err(syn::Error::new(name.span(), format!("expected `{name} = \"…\"`")));
        }
        input.parse::<Token![=]>()?;
        let value: LitStr = input.parse()?;
        Ok(Arg { name, value })
    }
}

/// Expands one operator attribute. On error the function itself is still
/// emitted, next to the error, so the error is the only one reported.
pub fn expand(kind: Kind, attr: TokenStream, item: TokenStream) -> TokenStream {
    let scope = quote! {
        #[allow(unused_imports)]
        use ::wasm_graph_sdk::prelude::*;
    };
    let func = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let err = syn::Error::new(
                Span::call_site(),
                format!("#[{}] goes on a function `{}`", kind.attribute(), kind.signature()),
            )
            .to_compile_error();
            return quote!(#err #item);
        }
    };
    let checked = Args::parse(kind, attr).and_then(|args| {
        check_signature(kind, &func)?;
        Ok(args)
    });
    match checked {
        Ok(args) => {
            let glue = glue(kind, &func, &args);
            quote!(#scope #func #glue)
        }
        Err(err) => {
            let err = err.to_compile_error();
            quote!(#err #scope #func)
        }
    }
}

/// The checks a macro can make on the syntax; the types themselves are checked
/// by the compiler through the `PROCESS` constant.
fn check_signature(kind: Kind, func: &ItemFn) -> syn::Result<()> {
    let sig = &func.sig;
    let wrong = |span: Span, what: &str| {
        syn::Error::new(
            span,
            format!("#[{}] expects a function with the signature `{}`, but {what}", kind.attribute(), kind.signature()),
        )
    };
    if let Some(asyncness) = &sig.asyncness {
        return Err(wrong(asyncness.span(), "this function is `async`"));
    }
    if let Some(unsafety) = &sig.unsafety {
        return Err(wrong(unsafety.span(), "this function is `unsafe`"));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(wrong(sig.generics.span(), "this function is generic"));
    }
    if let Some(variadic) = &sig.variadic {
        return Err(wrong(variadic.span(), "this function is variadic"));
    }
    if let Some(FnArg::Receiver(receiver)) = sig.inputs.first() {
        return Err(wrong(receiver.span(), "this function takes `self`"));
    }
    let count = sig.inputs.len();
    if count != kind.arity() {
        let span = sig.ident.span();
        let params = match count {
            1 => "1 parameter".to_string(),
            n => format!("{n} parameters"),
        };
        return Err(wrong(span, &format!("this function has {params}")));
    }
    if let ReturnType::Default = sig.output {
        return Err(wrong(sig.ident.span(), "this function returns nothing"));
    }
    Ok(())
}

/// The signature check, the `Guest` impl and the export, in an anonymous const.
fn glue(kind: Kind, func: &ItemFn, args: &Args) -> TokenStream {
    let name = &func.sig.ident;
    let sig_span = func.sig.span();
    let fn_pointer = kind.fn_pointer();
    let process_const = quote_spanned! {sig_span=>
        #[allow(dead_code)]
        const PROCESS: #fn_pointer = #name;
    };
    let init_const = match &args.init {
        Some(init) => quote_spanned! {init.span()=>
            #[allow(dead_code)]
            const INIT: fn(::wasm_graph_sdk::prelude::ModuleConfiguration) -> bool = #init;
        },
        None => quote! {
            #[allow(dead_code)]
            const INIT: fn(::wasm_graph_sdk::prelude::ModuleConfiguration) -> bool =
                ::wasm_graph_sdk::__private::accept_configuration;
        },
    };
    let (world, interface, export) = kind.bindings();
    let world = Ident::new(world, Span::call_site());
    let interface = Ident::new(interface, Span::call_site());
    let export = Ident::new(export, Span::call_site());
    let world_path = quote!(::wasm_graph_sdk::__private::bindings::#world);
    let process = kind.process_method();
    let operator = Ident::new(&format!("WasmGraph{}Operator", pascal(&name.to_string())), Span::call_site());
    // A component exports each interface once: a second operator of the same
    // kind in the crate would only fail when the wasm32 build links
    // (duplicate `…#process` symbols). A crate-root macro of a fixed name per
    // kind turns that into a compile error on every target, naming the rule
    // and pointing at both functions.
    let once = Ident::new(&format!("only_one_{interface}_operator_per_crate"), name.span());
    let once = quote_spanned! {name.span()=>
        #[doc(hidden)]
        #[macro_export]
        macro_rules! #once { () => {} }
    };
    quote! {
        #once

        const _: () = {
            #process_const
            #init_const

            #[cfg(target_arch = "wasm32")]
            struct #operator;

            #[cfg(target_arch = "wasm32")]
            impl #world_path::exports::wasm_graph::processor::#interface::Guest for #operator {
                #process

                fn init(configuration: ::wasm_graph_sdk::prelude::ModuleConfiguration) -> bool {
                    INIT(configuration)
                }
            }

            #[cfg(target_arch = "wasm32")]
            #world_path::#export!(#operator with_types_in #world_path);
        };
    }
}

/// `snake_case` to `PascalCase`, for readable names in compiler messages.
fn pascal(name: &str) -> String {
    name.split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}
