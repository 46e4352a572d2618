//! Why a translation failed: one typed error, each kind a distinct rejection.

use xoev_schema::Issue;

/// Why an adapter could not translate a message.
///
/// Every variant names the field (where there is one) and the reason; the
/// stable id of each kind is [`AdapterError::as_str`]. Messages never carry
/// personal data such as a tax id: they end up in dead letters and logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdapterError {
    /// The input is not well-formed XML (or was refused by the hardened parse).
    #[error("input is not acceptable XML: {detail}")]
    Malformed {
        /// What the parser said.
        detail: String,
    },
    /// The input is a different message than this adapter translates.
    #[error("adapter {adapter} expects {expected}, got {found}")]
    UnexpectedMessage {
        /// The adapter.
        adapter: String,
        /// The root element(s) it accepts.
        expected: String,
        /// The root element found.
        found: String,
    },
    /// A field the translation needs is absent.
    #[error("{field}: missing ({reason})")]
    MissingField {
        /// The field, as a path in the source message.
        field: String,
        /// Why it is needed.
        reason: String,
    },
    /// A field is present but its value cannot be used.
    #[error("{field}: {reason}")]
    InvalidField {
        /// The field, as a path in the source message.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The requested assessment year has not ended yet, so no assessment can exist.
    #[error(
        "{field}: year {year} is not over yet (today is in {current}); no assessment can exist"
    )]
    YearInFuture {
        /// The field that carries the year.
        field: String,
        /// The year asked for.
        year: i32,
        /// The current year (from the context's clock).
        current: i32,
    },
    /// The answer concerns another person than the request asked about.
    #[error("{field}: the answer is for another tax id than the request asked for")]
    TaxIdMismatch {
        /// The field in the answer.
        field: String,
    },
    /// The answer concerns another year than the request asked for.
    #[error("{field}: the answer is for year {found}, the request asked for {expected}")]
    YearMismatch {
        /// The field in the answer.
        field: String,
        /// The year of the request.
        expected: i32,
        /// The year of the answer.
        found: i32,
    },
    /// The answer refers to another request (or requester, provider) than
    /// the original request in the context.
    #[error("{field}: the answer names {found}, the original request {expected}")]
    CorrelationMismatch {
        /// The field in the answer.
        field: String,
        /// The original request's id.
        expected: String,
        /// The id the answer refers to.
        found: String,
    },
    /// The context lacks something this adapter needs (e.g. the original request).
    #[error("context: {what} is required by adapter {adapter}")]
    MissingContext {
        /// The adapter.
        adapter: String,
        /// What is missing.
        what: String,
    },
    /// No allowance is configured for this (evidence type, purpose): nothing may pass.
    #[error(
        "no minimisation allowance for evidence type {evidence_type} and purpose {purpose}: nothing may be passed on"
    )]
    PurposeNotAllowed {
        /// The evidence type.
        evidence_type: String,
        /// The purpose.
        purpose: String,
    },
    /// An XSLT mapping failed while transforming.
    #[error("mapping {adapter} failed: {detail}")]
    Transform {
        /// The adapter.
        adapter: String,
        /// What libxslt reported (including `xsl:message` output).
        detail: String,
    },
    /// The translated message does not validate against the target schema.
    #[error("output of {adapter} is not valid {standard} {version}: {}", summary(.issues))]
    InvalidOutput {
        /// The adapter that produced it.
        adapter: String,
        /// The target standard.
        standard: String,
        /// The target version.
        version: String,
        /// The XSD violations.
        issues: Vec<Issue>,
    },
    /// The input does not validate against the adapter's source schema.
    #[error("input is not valid {standard} {version}: {}", summary(.issues))]
    InvalidInput {
        /// The source standard.
        standard: String,
        /// The source version.
        version: String,
        /// The XSD violations.
        issues: Vec<Issue>,
    },
    /// A schema needed for validation is missing from the catalogue or broken.
    #[error("schema: {detail}")]
    Schema {
        /// What went wrong.
        detail: String,
    },
    /// No adapter of that name is registered.
    #[error("no adapter named {name} (see `xoev-gateway adapters`)")]
    UnknownAdapter {
        /// The name asked for.
        name: String,
    },
}

fn summary(issues: &[Issue]) -> String {
    let first = issues.first().map_or_else(String::new, ToString::to_string);
    match issues.len() {
        0 | 1 => first,
        n => format!("{first} (and {} more)", n - 1),
    }
}

impl AdapterError {
    /// Stable identifier used in dead-letter headers and JSON output.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "malformed-input",
            Self::UnexpectedMessage { .. } => "unexpected-message",
            Self::MissingField { .. } => "missing-field",
            Self::InvalidField { .. } => "invalid-field",
            Self::YearInFuture { .. } => "year-in-future",
            Self::TaxIdMismatch { .. } => "tax-id-mismatch",
            Self::YearMismatch { .. } => "year-mismatch",
            Self::CorrelationMismatch { .. } => "correlation-mismatch",
            Self::MissingContext { .. } => "missing-context",
            Self::PurposeNotAllowed { .. } => "purpose-not-allowed",
            Self::Transform { .. } => "transform-failed",
            Self::InvalidOutput { .. } => "invalid-output",
            Self::InvalidInput { .. } => "invalid-input",
            Self::Schema { .. } => "schema-unavailable",
            Self::UnknownAdapter { .. } => "unknown-adapter",
        }
    }

    /// The field the error is about, where there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::MissingField { field, .. }
            | Self::InvalidField { field, .. }
            | Self::YearInFuture { field, .. }
            | Self::TaxIdMismatch { field }
            | Self::YearMismatch { field, .. }
            | Self::CorrelationMismatch { field, .. } => Some(field),
            _ => None,
        }
    }

    /// The XSD issues, for the validation kinds.
    pub fn issues(&self) -> &[Issue] {
        match self {
            Self::InvalidOutput { issues, .. } | Self::InvalidInput { issues, .. } => issues,
            _ => &[],
        }
    }

    pub(crate) fn missing(field: &str, reason: &str) -> Self {
        Self::MissingField {
            field: field.to_owned(),
            reason: reason.to_owned(),
        }
    }

    pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}
