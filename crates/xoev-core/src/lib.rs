//! The XÖV message core: a [`Message`] keeps its payload byte-exact and exposes
//! the parsed XÖV message header ([`Header`]), read with one streaming
//! quick-xml pass that stops right after the header.
//!
//! Header forms ([`HeaderForm`]): the XÖV base message's
//! `nachrichtenkopf.g2g`, the XInneres-style `nachrichtenkopf`, the xdomea
//! `Kopf`, and the EU OOTS evidence exchange, whose RegRep 4
//! `QueryRequest`/`QueryResponse` carry no header element: the root's `id`
//! and `requestId` and the leading `rim:Slot`s (`IssueDateTime`,
//! `EvidenceRequester`, `EvidenceProvider`, …) stand in for one.
//!
//! This crate does no I/O and knows nothing of schemas, signatures or queues.
//! Every other crate of the gateway builds on these types.

mod error;
mod header;
mod message;

pub use error::{MessageError, MessageErrorKind};
pub use header::{
    Authority, Header, HeaderForm, MessageId, MessageType, RootElement, id_key, same_id,
};
pub use message::{
    Limits, MAX_ATTRIBUTES, MAX_COMMENTS_PIS_AND_CDATA, MAX_NAMESPACES_IN_SCOPE, Message,
    OOTS_EDM_SPECIFICATION,
};
