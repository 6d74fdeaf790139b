//! The `#[profile_function]` attribute for mem-profile.
//!
//! Use it through `mem_profile`, which re-exports it (this example and the ones below run as
//! doctests of mem-profile: a proc-macro crate cannot depend on the crate its expansion calls
//! without a dependency cycle):
//!
//! ```ignore
//! use mem_profile::profile_function;
//!
//! #[profile_function]
//! fn build(n: usize) -> Vec<u32> {
//!     vec![7; n]
//! }
//!
//! #[profile_function(name = "etl::load")]
//! fn load() -> usize {
//!     build(1000).len()
//! }
//!
//! assert_eq!(load(), 1000);
//! let load_stats = mem_profile::get_memory_profiler().function("etl::load");
//! assert_eq!(load_stats.map(|f| f.calls), Some(1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

use proc_macro::TokenStream;
use quote::quote;
use syn::parse::Parser;
use syn::{ItemFn, LitStr, parse_macro_input};

/// Records each call of the function into mem-profile's global profiler (calls, time, bytes
/// allocated and left behind, peak) and a `tracing` span named `profile_function` with a
/// `function` field.
///
/// The recorded name is `module::path::function`, or the one given with
/// `#[profile_function(name = "...")]`. Not for `async fn` (the measurement is per thread and
/// a future may move between threads) nor `const fn`:
///
/// ```ignore
/// #[mem_profile::profile_function] // error: async fn is not supported
/// async fn fetch() {}
/// ```
///
/// ```ignore
/// #[mem_profile::profile_function(label = "x")] // only `name = "..."` is accepted
/// fn f() {}
/// ```
#[proc_macro_attribute]
pub fn profile_function(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut name: Option<LitStr> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            name = Some(meta.value()?.parse()?);
            Ok(())
        } else {
            Err(meta.error("unsupported argument; expected `name = \"...\"`"))
        }
    });
    if let Err(e) = parser.parse(attr) {
        return e.to_compile_error().into();
    }
    let mut func = parse_macro_input!(item as ItemFn);
    if let Some(a) = &func.sig.asyncness {
        return syn::Error::new_spanned(
            a,
            "#[profile_function] does not support async fn: measurement is per thread",
        )
        .to_compile_error()
        .into();
    }
    if let Some(c) = &func.sig.constness {
        return syn::Error::new_spanned(c, "#[profile_function] cannot instrument a const fn")
            .to_compile_error()
            .into();
    }
    let ident = func.sig.ident.to_string();
    let label = match name {
        Some(lit) => quote!(#lit),
        None => quote!(::core::concat!(::core::module_path!(), "::", #ident)),
    };
    let stmts = &func.block.stmts;
    let body: syn::Block = syn::parse_quote!({
        let __mem_profile_guard = ::mem_profile::__private::FunctionGuard::enter(#label);
        #(#stmts)*
    });
    *func.block = body;
    quote!(#func).into()
}
