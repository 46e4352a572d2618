//! Adapters translate an XÖV message of one authority's standard into
//! another's.
//!
//! - [`Adapter`]: the one trait — input bytes and a [`Context`] in, output
//!   bytes or a typed [`AdapterError`] (naming the field and the reason)
//!   out; pure and deterministic.
//! - [`Registry`]: every adapter by name — the built-ins (one list in
//!   `registry.rs`) and the declarative XSLT mappings of `adapters/*.toml`;
//!   [`Chain`]s of adapters; [`Translator`] runs a chain and validates the
//!   input and every step's output against the schema catalogue.
//! - Built-in adapters of the founding case: [`xnachweis_to_xestb`] (the
//!   Kita fee office's evidence request → the tax office's assessment-data
//!   request) and [`xestb_to_xnachweis`] (the assessment → a minimised
//!   evidence answer), and [`oots_to_xnachweis`] (an EU OOTS answer to a
//!   request that left as an OOTS request → the XNachweis answer).
//! - [`Minimisation`]: which assessment fields a purpose allows, fee tables
//!   per municipality — configuration, not code.
//!
//! The trait lives here rather than in `xoev-core`: its context (clock,
//! id seed, the original request's facts) and its errors are adapter
//! matters, and core stays free of them; other crates depend on this crate
//! for the trait, as ripgrep's searchers depend on its matcher crate.

mod adapter;
mod context;
mod error;
mod minimise;
pub mod oots_to_xnachweis;
mod registry;
#[cfg(test)]
mod testutil;
pub mod xestb;
pub mod xestb_to_xnachweis;
mod xml;
pub mod xnachweis;
mod xnachweis_answer;
pub mod xnachweis_to_xestb;
pub mod xslt;

pub use adapter::{Adapter, AdapterInfo, AdapterKind, StandardRef};
pub use context::{Context, ContextError, ContextFile, check_ags};
pub use error::AdapterError;
pub use minimise::{Allowance, AssessmentField, Bracket, ConfigError, FeeTable, Minimisation};
pub use registry::{Chain, Config, Registry, RegistryError, Translator};
pub use xnachweis::RequestFacts;
