//! Transport errors.

use std::fmt;

/// What went wrong in the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The broker is unreachable or the connection or channel broke (transient).
    Connection,
    /// The broker refused the topology (e.g. a queue exists with other arguments).
    Topology,
    /// No queue is bound for the message: a mandatory publish came back.
    Unroutable,
    /// The broker negatively confirmed a publish (transient).
    Nacked,
    /// A publish could not be confirmed before the configured timeout.
    Timeout,
    /// An ack or nack could not be delivered (the channel is gone); the broker
    /// will redeliver the message.
    AckLost,
    /// A message property is unusable (e.g. a message id longer than 255 bytes).
    InvalidMessage,
    /// No such queue (for the in-process transport; RabbitMQ reports
    /// [`TransportErrorKind::Topology`]).
    UnknownQueue,
    /// The transport was closed.
    Closed,
}

impl TransportErrorKind {
    /// The stable kebab-case id of this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connection => "connection",
            Self::Topology => "topology",
            Self::Unroutable => "unroutable",
            Self::Nacked => "nacked",
            Self::Timeout => "timeout",
            Self::AckLost => "ack-lost",
            Self::InvalidMessage => "invalid-message",
            Self::UnknownQueue => "unknown-queue",
            Self::Closed => "closed",
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_transient(self) -> bool {
        matches!(self, Self::Connection | Self::Nacked | Self::Timeout)
    }
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A transport error: a kind and a description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[{kind}] {message}")]
pub struct TransportError {
    /// What kind of failure.
    pub kind: TransportErrorKind,
    /// A human-readable description.
    pub message: String,
}

impl TransportError {
    /// An error of `kind`.
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        self.kind.is_transient()
    }

    /// Classifies a lapin error: channel-level AMQP errors (the broker
    /// refused something: not found, precondition failed, access refused)
    /// are `on_protocol`; everything else (I/O, connection-level errors such
    /// as a forced close) is a connection problem.
    pub(crate) fn lapin(e: &lapin::Error, on_protocol: TransportErrorKind, what: &str) -> Self {
        let kind = if e.is_amqp_soft_error() {
            on_protocol
        } else {
            TransportErrorKind::Connection
        };
        Self::new(kind, format!("{what}: {e}"))
    }
}
