//! Errors of loading the routing configuration and of routing a message.

use crate::source::Location;
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

/// What is wrong with a piece of routing configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// A file could not be read, or the directory lacks a required file.
    Io,
    /// The TOML is malformed, has an unknown key or a value of the wrong type.
    Syntax,
    /// A rule names an adapter the gateway does not have.
    UnknownAdapter,
    /// A rule or access entry names an authority missing from the directory.
    UnknownAuthority,
    /// A service is named that no authority in the directory offers.
    UnknownService,
    /// Two authorities share an id.
    DuplicateAuthority,
    /// Two rules share a name.
    DuplicateRule,
    /// Two authorities share an inbox queue.
    DuplicateQueue,
    /// Two rules of the same priority can match the same message.
    OverlappingRules,
    /// A rule can never match: a rule of higher priority matches everything it does.
    UnreachableRule,
    /// A municipality key is not an 8-digit Amtlicher Gemeindeschlüssel.
    BadAgs,
    /// An authority id is not of the form `prefix:value`.
    BadAuthorityId,
    /// A queue name is empty, too long or reserved.
    BadQueueName,
    /// Two authorities are responsible for the same service and municipality.
    AmbiguousResponsibility,
    /// A rule is inconsistent in itself (e.g. `recipient = "responsible"` without a service).
    InvalidRule,
    /// A rule names a standard or version the schema catalogue does not
    /// have (checked by the gateway, which knows the catalogue).
    UnknownStandard,
    /// A rule's adapter chain does not fit: the first adapter reads
    /// another standard than the rule matches, or one step's output is not
    /// the next one's input (checked by the gateway, which knows the adapters).
    AdapterMismatch,
}

impl ConfigErrorKind {
    /// The stable kebab-case id of this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Io => "io",
            Self::Syntax => "syntax",
            Self::UnknownAdapter => "unknown-adapter",
            Self::UnknownAuthority => "unknown-authority",
            Self::UnknownService => "unknown-service",
            Self::DuplicateAuthority => "duplicate-authority",
            Self::DuplicateRule => "duplicate-rule",
            Self::DuplicateQueue => "duplicate-queue",
            Self::OverlappingRules => "overlapping-rules",
            Self::UnreachableRule => "unreachable-rule",
            Self::BadAgs => "bad-ags",
            Self::BadAuthorityId => "bad-authority-id",
            Self::BadQueueName => "bad-queue-name",
            Self::AmbiguousResponsibility => "ambiguous-responsibility",
            Self::InvalidRule => "invalid-rule",
            Self::UnknownStandard => "unknown-standard",
            Self::AdapterMismatch => "adapter-mismatch",
        }
    }
}

impl fmt::Display for ConfigErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem in the routing configuration, with file and line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}: [{kind}] {message}", self.position())]
pub struct ConfigError {
    /// What kind of problem.
    pub kind: ConfigErrorKind,
    /// The file it is in.
    pub file: PathBuf,
    /// The 1-based line, where known.
    pub line: Option<usize>,
    /// A human-readable description.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn at(kind: ConfigErrorKind, loc: &Location, message: impl Into<String>) -> Self {
        Self {
            kind,
            file: loc.file.clone(),
            line: Some(loc.line),
            message: message.into(),
        }
    }

    fn position(&self) -> String {
        match self.line {
            Some(l) => format!("{}:{l}", self.file.display()),
            None => self.file.display().to_string(),
        }
    }
}

/// Every problem found in a routing configuration (never empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(transparent)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The individual errors, in file order.
    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }

    /// Whether some error is of kind `kind`.
    pub fn has(&self, kind: ConfigErrorKind) -> bool {
        self.0.iter().any(|e| e.kind == kind)
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} error(s) in the routing configuration:", self.0.len())?;
        for e in &self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

/// Why a message cannot be routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RouteErrorKind {
    /// No rule matches the message.
    NoRoute,
    /// The message names no sender, or one missing from the directory.
    UnknownSender,
    /// The message names a reader missing from the directory (or a service
    /// placeholder for a service nobody offers).
    UnknownReader,
    /// The recipient is not responsible for the case's municipality, or no
    /// authority is, or the municipality needed to decide is missing.
    NotResponsible,
    /// The municipality key given is not an 8-digit AGS.
    BadMunicipality,
    /// The access rules do not allow this sender to send this message type to this recipient.
    AccessDenied,
}

impl RouteErrorKind {
    /// The stable kebab-case id of this kind (for dead letters and JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoRoute => "no-route",
            Self::UnknownSender => "unknown-sender",
            Self::UnknownReader => "unknown-reader",
            Self::NotResponsible => "not-responsible",
            Self::BadMunicipality => "bad-municipality",
            Self::AccessDenied => "access-denied",
        }
    }
}

impl fmt::Display for RouteErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule that almost matched, and what did not fit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NearMiss {
    /// The rule's name.
    pub rule: String,
    /// Where the rule is defined.
    pub location: Location,
    /// Each condition that did not match, as a sentence.
    pub mismatches: Vec<String>,
}

/// A message could not be routed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("[{kind}] {message}")]
pub struct RouteError {
    /// Why.
    pub kind: RouteErrorKind,
    /// A human-readable explanation.
    pub message: String,
    /// For [`RouteErrorKind::NoRoute`]: the rules that came closest.
    pub near_misses: Vec<NearMiss>,
}

impl RouteError {
    pub(crate) fn new(kind: RouteErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            near_misses: Vec::new(),
        }
    }
}
