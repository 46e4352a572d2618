//! Access rules (`access.toml`): who may send what to whom. Default: denied.

use crate::rules::{OneOrMany, same_message_type};
use crate::source::Location;
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// One `[[allow]]` entry: each sender may send each message type to each reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessRule {
    /// Sender authority ids.
    pub sender: Vec<String>,
    /// Recipient authority ids.
    pub reader: Vec<String>,
    /// Message type codes.
    pub message_type: Vec<String>,
    /// Why the access is granted (legal basis, purpose).
    pub description: Option<String>,
    /// Where it is defined.
    pub location: Location,
}

impl AccessRule {
    /// Whether this entry allows the exchange (message types compared by
    /// [`same_message_type`]).
    pub fn allows(&self, sender: &str, reader: &str, message_type: &str) -> bool {
        self.sender.iter().any(|s| s == sender)
            && self.reader.iter().any(|r| r == reader)
            && self
                .message_type
                .iter()
                .any(|t| same_message_type(t, message_type))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccessFile {
    #[serde(default)]
    pub(crate) allow: Vec<RawAllow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAllow {
    pub(crate) sender: Spanned<OneOrMany>,
    pub(crate) reader: Spanned<OneOrMany>,
    pub(crate) message_type: Spanned<OneOrMany>,
    pub(crate) description: Option<String>,
}
