//! The XÖV message core: a [`Message`] keeps its payload byte-exact and exposes
//! the parsed XÖV message header ([`Header`]), read with one streaming
//! quick-xml pass that stops right after the header.
//!
//! This crate does no I/O and knows nothing of schemas, signatures or queues.
//! Every other crate of the gateway builds on these types.

mod error;
mod header;
mod message;

pub use error::{MessageError, MessageErrorKind};
pub use header::{Authority, Header, HeaderForm, MessageId, MessageType, RootElement};
pub use message::{Limits, Message};
