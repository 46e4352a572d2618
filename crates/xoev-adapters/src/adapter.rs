//! The one adapter trait.

use crate::context::Context;
use crate::error::AdapterError;
use libxml::tree::Document;
use serde::Serialize;

/// A standard in a version, as named in `schemas/catalogue.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StandardRef {
    /// The standard's name, e.g. `XNachweis`.
    pub standard: String,
    /// The version, e.g. `1.2.0`.
    pub version: String,
}

impl StandardRef {
    /// A reference to `standard` in `version`.
    pub fn new(standard: &str, version: &str) -> Self {
        Self {
            standard: standard.to_owned(),
            version: version.to_owned(),
        }
    }
}

impl std::fmt::Display for StandardRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.standard, self.version)
    }
}

/// How an adapter is implemented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum AdapterKind {
    /// Written in Rust, compiled into the gateway.
    Builtin,
    /// An XSLT 1.0 mapping registered from `adapters/*.toml`.
    Xslt,
}

/// What an adapter translates from and to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdapterInfo {
    /// The adapter's unique name, e.g. `xnachweis-to-xestb`.
    pub name: String,
    /// One line on what it does.
    pub description: String,
    /// The standard of its input.
    pub source: StandardRef,
    /// The standard of its output (validated before the output is used).
    pub target: StandardRef,
    /// Built-in or declarative.
    pub kind: AdapterKind,
}

/// Translates a message of one standard into a message of another.
///
/// Implementations are pure and deterministic: no I/O, no clock, no random
/// numbers — the time and the seed for every id they create come from the
/// [`Context`]. The same input and context always give the same bytes, which
/// is what golden-file tests rely on. Errors name the field and the reason.
///
/// The adapter need not validate its output: [`crate::Translator`] validates
/// the input against [`AdapterInfo::source`] before and the output against
/// [`AdapterInfo::target`] after every step.
pub trait Adapter: Send + Sync {
    /// Name, source and target.
    fn info(&self) -> &AdapterInfo;

    /// Translates `input` into the target standard.
    fn translate(&self, input: &[u8], ctx: &Context) -> Result<Vec<u8>, AdapterError>;

    /// Translates an already parsed `input` — the caller's one parse of the
    /// message, e.g. the gateway's verified and validated document — into
    /// the target standard: the same output and errors as
    /// [`Adapter::translate`] of the document's bytes, without parsing them
    /// again.
    ///
    /// The default serialises the document and calls [`Adapter::translate`];
    /// the built-in and the XSLT adapters read the tree directly. The
    /// document is left as it is.
    fn translate_document(&self, input: &Document, ctx: &Context) -> Result<Vec<u8>, AdapterError> {
        self.translate(input.to_string().as_bytes(), ctx)
    }
}
