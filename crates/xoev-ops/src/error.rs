//! Errors of the operations library.

use std::fmt;

/// What went wrong in an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum OpsErrorKind {
    /// A URL or option is unusable (e.g. an AMQP URL that does not parse).
    InvalidConfig,
    /// RabbitMQ cannot be reached over AMQP, or the connection or channel broke.
    Connection,
    /// The management HTTP API cannot be reached or answered with an error.
    Management,
    /// A queue or exchange of the topology does not exist.
    UnknownQueue,
    /// No dead letter has the given id.
    NotFound,
    /// A filter expression is not `key=value` with a known key.
    InvalidFilter,
    /// A destructive operation was asked for without its explicit confirmation.
    ConfirmationRequired,
    /// Replaying: the broker did not confirm the republished message (returned
    /// as unroutable, negatively confirmed, or the confirm was lost). The
    /// dead letter stays in the dead-letter queue.
    PublishFailed,
    /// Replaying: the message was republished (confirmed) but the dead-letter
    /// copy could not be acknowledged; it is back in the dead-letter queue and
    /// a second replay would deliver it twice (same message id).
    AckLost,
}

impl OpsErrorKind {
    /// The stable kebab-case id of this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidConfig => "invalid-config",
            Self::Connection => "connection",
            Self::Management => "management",
            Self::UnknownQueue => "unknown-queue",
            Self::NotFound => "not-found",
            Self::InvalidFilter => "invalid-filter",
            Self::ConfirmationRequired => "confirmation-required",
            Self::PublishFailed => "publish-failed",
            Self::AckLost => "ack-lost",
        }
    }
}

impl OpsErrorKind {
    /// The HTTP status an operations endpoint should answer with.
    pub fn http_status(self) -> u16 {
        match self {
            Self::NotFound => 404,
            Self::InvalidFilter | Self::ConfirmationRequired => 400,
            Self::Connection | Self::UnknownQueue => 503,
            Self::Management | Self::PublishFailed => 502,
            Self::InvalidConfig | Self::AckLost => 500,
        }
    }
}

impl fmt::Display for OpsErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An operations error: a kind and a description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("[{kind}] {message}")]
pub struct OpsError {
    /// What kind of failure.
    pub kind: OpsErrorKind,
    /// A human-readable description.
    pub message: String,
}

impl OpsError {
    /// An error of `kind`.
    pub fn new(kind: OpsErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// Classifies a lapin error: a broker refusal (AMQP protocol error, e.g.
    /// `NOT_FOUND`) becomes `on_protocol`, anything else a connection problem.
    pub(crate) fn lapin(e: &lapin::Error, on_protocol: OpsErrorKind, what: &str) -> Self {
        let kind = match e.kind() {
            lapin::ErrorKind::ProtocolError(_) => on_protocol,
            _ => OpsErrorKind::Connection,
        };
        Self::new(kind, format!("{what}: {e}"))
    }
}
