//! Schema catalogue, hardened XML parsing and XSD validation with libxml2.
//!
//! - [`Catalogue`]: the standards under `schemas/`, found by the root
//!   element's namespace and `version` attribute; each XSD is compiled once,
//!   on first use (one compile at a time in the process: libxml2's schema
//!   compiler is not thread-safe), and shared by all threads.
//! - [`parse_document`]: the one full parse of a message — no DTD, no
//!   entities, no network, size-limited.
//! - [`Validator`]: envelope → catalogue lookup → parse → XSD validation (of
//!   a signed message without its enveloped signature), the parsed
//!   document handed back.
//!
//! Call [`init`] once, early, before threads start: libxml2 has global state.

mod catalogue;
mod error;
mod fixed;
mod init;
mod parse;
mod redact;
mod validate;

pub use catalogue::{Catalogue, CatalogueError, SchemaEntry, same_version};
pub use error::{Issue, SchemaError, SchemaErrorKind};
pub use init::init;
pub use libxml::tree::Document;
pub use parse::{MAX_DEPTH, parse_document};
pub use redact::{REDACTED, redact_values};
pub use validate::{
    CompiledSchema, Validated, Validator, fill_columns, strip_enveloped_signatures,
};
