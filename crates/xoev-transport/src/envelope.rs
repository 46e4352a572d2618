//! What is published ([`Envelope`]) and what a delivery carries ([`Properties`]).

use crate::error::{TransportError, TransportErrorKind};
use bytes::Bytes;
use std::collections::BTreeMap;
use xoev_core::Message;

/// Names of the AMQP headers the gateway sets.
pub mod header {
    /// The XÖV standard, e.g. `XNachweis`.
    pub const STANDARD: &str = "x-xoev-standard";
    /// The standard's version, e.g. `1.2.0`.
    pub const VERSION: &str = "x-xoev-version";
    /// The message type code.
    pub const TYPE: &str = "x-xoev-type";
    /// Set on a test message (XÖV `test` root attribute, of the forwarded
    /// message or of the message it was translated from): its value, which
    /// author and reader may agree on. Absent on productive messages.
    pub const TEST: &str = "x-xoev-test";
    /// The sending authority's id.
    pub const SENDER: &str = "x-xoev-sender";
    /// The receiving authority's id.
    pub const READER: &str = "x-xoev-reader";
    /// On the copy for a further reader (xdomea `WeitererEmpfaenger`,
    /// `WeitererLeser`): that reader's id; [`READER`] stays the reader the
    /// message is addressed to.
    pub const COPY_FOR: &str = "x-xoev-copy-for";
    /// The case the message belongs to.
    pub const CASE_ID: &str = "x-xoev-case-id";
    /// Dead letters and retries: the pipeline stage that failed.
    pub const STAGE: &str = "x-xoev-stage";
    /// Dead letters and retries: the human-readable reason.
    pub const REASON: &str = "x-xoev-reason";
    /// Dead letters and retries: the machine-readable reason (an `as_str()` id).
    pub const REASON_KIND: &str = "x-xoev-reason-kind";
    /// How many processing attempts have failed so far.
    pub const ATTEMPTS: &str = "x-xoev-attempts";
    /// Dead letters: the original message id (also the AMQP `message-id`).
    pub const MESSAGE_ID: &str = "x-xoev-message-id";
    /// Dead letters and retries: when it failed (Unix seconds).
    pub const FAILED_AT: &str = "x-xoev-failed-at";
    /// Dead letters and retries: the queue the message was consumed from.
    pub const QUEUE: &str = "x-xoev-queue";
    /// A dead letter replayed by operations: when (Unix milliseconds). A
    /// message rejected before this time is processed again.
    pub const REPLAYED_AT: &str = "x-xoev-replayed-at";
    /// A message its sender submitted again over HTTP after it was
    /// rejected: when (Unix milliseconds). Part of the deduplication key, so
    /// the resubmission is not taken for a redelivery of the rejected one.
    pub const RESUBMITTED_AT: &str = "x-xoev-resubmitted-at";
}

/// Where a message is published to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The inbound exchange (what back-office systems send to the gateway).
    Inbound,
    /// A queue by name, usually an authority's inbox.
    Queue(String),
    /// The delayed-retry queue.
    Retry,
    /// The dead-letter exchange.
    DeadLetter,
}

/// A message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Where it goes.
    pub target: Target,
    /// The bytes, unchanged.
    pub payload: Bytes,
    /// The AMQP `message-id`: the XÖV message UUID (at most 255 bytes).
    pub message_id: String,
    /// The AMQP `correlation-id`: for an answer, the request's message id.
    pub correlation_id: Option<String>,
    /// AMQP headers (see [`header`]).
    pub headers: BTreeMap<String, String>,
}

impl Envelope {
    /// An envelope without headers.
    pub fn new(target: Target, message_id: impl Into<String>, payload: impl Into<Bytes>) -> Self {
        Self {
            target,
            payload: payload.into(),
            message_id: message_id.into(),
            correlation_id: None,
            headers: BTreeMap::new(),
        }
    }

    /// An envelope for a parsed XÖV message: message id from its header,
    /// headers for standard, version, type, sender and reader.
    pub fn for_message(target: Target, message: &Message) -> Result<Self, TransportError> {
        let h = message
            .require_header()
            .map_err(|e| TransportError::new(TransportErrorKind::InvalidMessage, e.to_string()))?;
        let mut env = Self::new(target, h.message_id.as_str(), message.raw().clone())
            .with_header(header::TYPE, &h.message_type.code);
        if let Some(s) = &message.standard {
            env = env.with_header(header::STANDARD, s);
        }
        if let Some(v) = &message.version {
            env = env.with_header(header::VERSION, v);
        }
        if let Some(a) = &h.author {
            env = env.with_header(header::SENDER, a.key());
        }
        if let Some(r) = &h.reader {
            env = env.with_header(header::READER, r.key());
        }
        if message.is_test() {
            env = env.with_header(header::TEST, message.test.as_deref().unwrap_or_default());
        }
        Ok(env)
    }

    /// Sets a header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// Sets the correlation id.
    pub fn with_correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    /// Sets the case id header.
    pub fn with_case_id(self, case: impl Into<String>) -> Self {
        self.with_header(header::CASE_ID, case)
    }
}

/// The properties of a delivered message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    /// The AMQP `message-id`.
    pub message_id: Option<String>,
    /// The AMQP `correlation-id`.
    pub correlation_id: Option<String>,
    /// The AMQP `timestamp` (Unix seconds), set by the publisher.
    pub timestamp: Option<u64>,
    /// Headers with string or integer values (others are left out).
    pub headers: BTreeMap<String, String>,
    /// Whether the message was published persistent (delivery mode 2).
    pub persistent: bool,
}

impl Properties {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// How many processing attempts have failed so far (header
    /// [`header::ATTEMPTS`]; 0 if absent or malformed).
    pub fn attempts(&self) -> u32 {
        self.header(header::ATTEMPTS)
            .and_then(|a| a.parse().ok())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope_of(root_attributes: &str) -> Envelope {
        let xml = format!(
            r#"<x:m xmlns:x="urn:x" standard="X" version="1"{root_attributes}><x:nachrichtenkopf.g2g><x:identifikation.nachricht><x:nachrichtenUUID>3f1c2b7e-8a44-4d0e-9b7a-0c5e2d9f1a02</x:nachrichtenUUID><x:nachrichtentyp><code>0101</code></x:nachrichtentyp><x:erstellungszeitpunkt>2025-03-03T08:31:00Z</x:erstellungszeitpunkt></x:identifikation.nachricht></x:nachrichtenkopf.g2g></x:m>"#
        );
        let message = Message::parse(xml.into_bytes(), &Default::default()).expect("header reads");
        Envelope::for_message(Target::Inbound, &message).expect("envelope")
    }

    #[test]
    fn a_test_message_carries_its_test_text_and_a_productive_one_nothing() {
        let test = envelope_of(r#" test="Referenznachricht""#);
        assert_eq!(
            test.headers.get(header::TEST).map(String::as_str),
            Some("Referenznachricht")
        );
        assert_eq!(
            test.headers.get(header::TYPE).map(String::as_str),
            Some("0101")
        );
        assert_eq!(envelope_of("").headers.get(header::TEST), None);
        assert_eq!(
            envelope_of(r#" test="false""#).headers.get(header::TEST),
            None
        );
    }
}
