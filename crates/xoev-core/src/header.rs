//! The XÖV message header ("Nachrichtenkopf") as a typed value.

use serde::Serialize;
use std::borrow::Cow;
use std::fmt;

/// The root element of a document: its namespace and local name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RootElement {
    /// Namespace URI of the root element (`None` if it is in no namespace).
    pub namespace: Option<String>,
    /// Local name, e.g. `DE.EvidenceRequest.0101`.
    pub local_name: String,
}

impl fmt::Display for RootElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{{{ns}}}{}", self.local_name),
            None => f.write_str(&self.local_name),
        }
    }
}

/// Which form of message header a document carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum HeaderForm {
    /// `nachrichtenkopf.g2g` of the XÖV base message (qualified or unqualified).
    G2g,
    /// The XInneres-style `nachrichtenkopf` (used e.g. by XNachweis).
    Nachrichtenkopf,
    /// The xdomea `Kopf`.
    XdomeaKopf,
    /// An EU OOTS evidence exchange message (EDM: a RegRep 4 `QueryRequest`
    /// or `QueryResponse`), which has no header element: its leading
    /// `rim:Slot`s and root attributes carry what a header would.
    OotsEdm,
}

impl HeaderForm {
    /// Where this header form names the sending authority, for error
    /// messages: the reader of a rejection should find the element.
    pub fn author_element(self) -> &'static str {
        match self {
            Self::G2g | Self::Nachrichtenkopf => "autor with a kennung",
            Self::XdomeaKopf => "Absender with a Behoerdenkennung",
            Self::OotsEdm => {
                "EvidenceRequester (request) or EvidenceProvider/ErrorProvider (response) with an sdg:Identifier"
            }
        }
    }

    /// The element that names the message type, for messages.
    pub fn type_element(self) -> &'static str {
        match self {
            Self::G2g | Self::Nachrichtenkopf => "nachrichtentyp",
            Self::XdomeaKopf => "Nachrichtentyp",
            Self::OotsEdm => "root element and status",
        }
    }
}

/// The type code an XÖV name ends in: the digits after its last `.`
/// (`kommunal.Initiieren.0401` → `0401`; a bare code is its own), or `None`
/// where it does not end in digits.
fn type_code(name: &str) -> Option<&str> {
    let code = name.rsplit('.').next().unwrap_or(name);
    (!code.is_empty() && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// A message identifier (the header's `nachrichtenUUID`).
///
/// Non-empty, at most 255 bytes of printable ASCII without spaces, so it can
/// travel as an AMQP `message-id` unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct MessageId(String);

impl MessageId {
    /// Parses a message id, trimming surrounding whitespace.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim_matches(crate::message::XML_SPACE);
        if s.is_empty() {
            return Err("message id is empty".into());
        }
        if s.len() > 255 {
            return Err(format!("message id is {} bytes long (max 255)", s.len()));
        }
        if let Some(c) = s.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(format!("message id contains the character {c:?}"));
        }
        Ok(Self(s.to_owned()))
    }

    /// The id of an xdomea 2/3 message, whose `Kopf` names only its
    /// process: `ProzessID:type`, and `:reader` where it names one (a
    /// process sends a receipt of one type to its initiator and to its
    /// predecessor, say).
    pub fn xdomea(
        process: &MessageId,
        code: &str,
        reader: Option<&Authority>,
    ) -> Result<Self, String> {
        let plain = || Self::parse(&format!("{process}:{code}"));
        match reader {
            // a reader id no message id can hold (a space in it): without
            Some(r) => Self::parse(&format!("{process}:{code}:{}", r.key())).or_else(|_| plain()),
            None => plain(),
        }
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The form under which a message id is looked up and compared: a UUID,
/// bare or as a `urn:uuid:` URN, in lower case — RFC 9562 (like RFC 4122
/// before it) takes a UUID's hex digits in either case on input, and the
/// XÖV `UUID` type allows both, so an answer may name its request as
/// `7A1C2B7E-…` that was sent as `7a1c2b7e-…`; any other id as it is
/// (ids are case-sensitive strings otherwise).
pub fn id_key(id: &str) -> Cow<'_, str> {
    const URN: &str = "urn:uuid:";
    let uuid = match id.get(..URN.len()) {
        Some(p) if p.eq_ignore_ascii_case(URN) => &id[URN.len()..],
        _ => id,
    };
    let is_uuid = uuid.len() == 36
        && uuid.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    if is_uuid && id.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(id.to_ascii_lowercase())
    } else {
        Cow::Borrowed(id)
    }
}

/// Whether two message ids name the same message ([`id_key`]).
pub fn same_id(a: &str, b: &str) -> bool {
    a == b || id_key(a) == id_key(b)
}

/// The message type: a code from the standard's message-type code list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageType {
    /// The code, e.g. `0401` or `DE.EvidenceRequest.0101`.
    pub code: String,
    /// The code's name, when the header carries one.
    pub name: Option<String>,
    /// The code list's URI (`listURI`), when given.
    pub list_uri: Option<String>,
    /// The code list's version (`listVersionID`), when given.
    pub list_version: Option<String>,
}

/// An authority as named in a header (`autor`, `leser`, `Absender`, `Empfaenger`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Authority {
    /// The directory service code, e.g. `DVDV` (OOTS: `EAS`, the
    /// Electronic Address Scheme of the agent's `schemeID`).
    pub directory: Option<String>,
    /// A prefix, where the header gives it separately (xdomea `Praefix`;
    /// OOTS: the EAS code, e.g. `0204`, so the key reads `0204:991-…` as
    /// Peppol participant ids do).
    pub prefix: Option<String>,
    /// The authority's identifier (`kennung`), e.g. `ags:09162000`.
    pub id: String,
    /// The authority's name.
    pub name: Option<String>,
}

impl Authority {
    /// The identifier as used for routing: `prefix:id` if a separate prefix
    /// exists (joined once: a prefix written `ags:`, or an id that already
    /// begins with it, gives `ags:06411000` too), otherwise `id`.
    pub fn key(&self) -> String {
        // written `ags:` (as xdomea's documentation does) or `ags`, and a
        // `kennung` that already carries it: one `ags:06411000` either way
        match self.prefix.as_deref().map(|p| {
            p.trim_matches(crate::message::XML_SPACE)
                .trim_end_matches(':')
        }) {
            Some(p) if !p.is_empty() && !self.id.starts_with(&format!("{p}:")) => {
                format!("{p}:{}", self.id)
            }
            _ => self.id.clone(),
        }
    }
}

/// The parsed message header (XÖV, xdomea, or what an EU OOTS message's slots say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Header {
    /// Which header form was found.
    pub form: HeaderForm,
    /// The message id (`nachrichtenUUID`; OOTS: the request's `id`, the
    /// response's `EvidenceResponseIdentifier`). The `Kopf` of xdomea 2 and
    /// 3 has no message id:
    /// every message of one process (offer 0501, assessment 0502,
    /// transfer 0503, …) carries the process's `ProzessID`, so a message
    /// is identified by `ProzessID:type:reader` ([`MessageId::xdomea`]; `:`,
    /// as in URNs, keeps it one segment of the HTTP API's `/messages/{id}`).
    pub message_id: MessageId,
    /// The xdomea 2/3 `ProzessID` the message belongs to (`None` for other
    /// headers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_id: Option<MessageId>,
    /// The message type.
    pub message_type: MessageType,
    /// Creation time as written (`xs:dateTime` lexical form).
    pub created: String,
    /// The sending authority.
    pub author: Option<Authority>,
    /// The receiving authority.
    pub reader: Option<Authority>,
    /// The id of the message this one answers, where the header names it
    /// (OOTS: a response's `requestId`; XÖV headers with a `referenzUUID`,
    /// as XWasser's receipt names the message it acknowledges). A message
    /// that names one joins that message's case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<MessageId>,
    /// The author's name where the header names the author only by name,
    /// without an identifier (as state archives' xdomea messages often
    /// do): such a message cannot be routed, but `inspect` and the
    /// rejection show whom it meant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author_name_only: Option<String>,
    /// Whether the header names its author only by a contact person
    /// (xdomea 4 `autor/NameAnsprechpartner`), without an authority: not
    /// routable either. The person's name is not kept (personal data).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub author_contact_only: bool,
    /// The reader's name where the header names the reader only by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reader_name_only: Option<String>,
    /// The type the header's `nachrichtentyp` names where it contradicts
    /// the root element: [`Header::message_type`] then holds the type the
    /// root element names, because that is what the schema validated and
    /// what the recipient will read (routing and access rules by the
    /// header's code would let a message through as another type).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub type_in_header: Option<MessageType>,
    /// Further readers the header names with an identifier (xdomea 2/3
    /// `WeitererEmpfaenger`, xdomea 4 `WeitererLeser`): each gets a copy of
    /// what the reader gets.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub further_readers: Vec<Authority>,
    /// How many further readers the header names without an identifier
    /// (a contact person, a name): the gateway cannot address them, the
    /// reader's own office has to pass the message on.
    #[serde(skip_serializing_if = "is_zero")]
    pub further_readers_without_id: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Header {
    /// Makes the root element decide the message type where the header
    /// contradicts it. XÖV message elements end in their type code
    /// (`kommunal.Initiieren.0401`, `Aussonderung.Anbieteverzeichnis.0501`,
    /// `DE.EvidenceRequest.0101`), and the header's code is either that
    /// code or the whole name; where both end in digits that differ (real
    /// senders copy a header from another message type), the header's type
    /// moves to [`Header::type_in_header`] and the code is rewritten in the
    /// header's own form. Anything else is left as the header says.
    pub(crate) fn reconcile_type(&mut self, root: &RootElement) {
        let Some(root_code) = type_code(&root.local_name) else {
            return;
        };
        let stated = &self.message_type.code;
        let Some(stated_code) = type_code(stated) else {
            return;
        };
        if stated_code == root_code {
            return;
        }
        let code = if stated.contains('.') {
            root.local_name.clone()
        } else {
            root_code.to_owned()
        };
        let corrected = MessageType {
            code,
            name: None,
            list_uri: self.message_type.list_uri.clone(),
            list_version: self.message_type.list_version.clone(),
        };
        self.type_in_header = Some(std::mem::replace(&mut self.message_type, corrected));
        // an xdomea message is identified by process and (the root's) type
        if let Some(process) = &self.process_id
            && let Ok(id) =
                MessageId::xdomea(process, &self.message_type.code, self.reader.as_ref())
        {
            self.message_id = id;
        }
    }

    /// Where the header's `nachrichtentyp` contradicted the root element: a
    /// sentence naming both, for `inspect`, `route` and the service's log.
    pub fn type_mismatch(&self) -> Option<String> {
        self.type_in_header.as_ref().map(|stated| {
            format!(
                "the header's {} says {}, the root element is message type {}: the root element decides",
                self.form.type_element(),
                stated.code,
                self.message_type.code
            )
        })
    }

    /// Why this header yields no author, for a rejection: it names none,
    /// or names one only by name. Meant for when [`Header::author`] is `None`.
    pub fn no_author(&self) -> String {
        let element = self.form.author_element();
        match &self.author_name_only {
            Some(name) => format!(
                "the header names its author only by name ({name:?}), without an identifier: routing needs {element}"
            ),
            None if self.author_contact_only => format!(
                "the header names its author only by a contact person (NameAnsprechpartner), without an authority: routing needs {element}"
            ),
            None => format!("the header names no author ({element})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{id_key, same_id};

    #[test]
    fn a_uuid_is_one_id_in_either_case() {
        let lower = "7a1c2b7e-8a44-4d0e-9b7a-0c5e2d9f2022";
        let upper = "7A1C2B7E-8A44-4D0E-9B7A-0C5E2D9F2022";
        assert_eq!(id_key(upper), lower);
        assert!(matches!(id_key(lower), std::borrow::Cow::Borrowed(_)));
        assert!(same_id(upper, lower));
        assert!(same_id(
            "URN:UUID:7A1C2B7E-8a44-4d0e-9b7a-0c5e2d9f2022",
            &format!("urn:uuid:{lower}")
        ));
        // a UUID and its URN are different ids
        assert!(!same_id(lower, &format!("urn:uuid:{lower}")));
        // another UUID
        assert!(!same_id(lower, "7a1c2b7e-8a44-4d0e-9b7a-0c5e2d9f2023"));
    }

    #[test]
    fn other_ids_stay_case_sensitive() {
        for (a, b) in [
            ("ABC-1", "abc-1"),
            // one character short, or a hyphen out of place
            (
                "7A1C2B7E-8A44-4D0E-9B7A-0C5E2D9F202",
                "7a1c2b7e-8a44-4d0e-9b7a-0c5e2d9f202",
            ),
            (
                "7A1C2B7E8-A44-4D0E-9B7A-0C5E2D9F2022",
                "7a1c2b7e8-a44-4d0e-9b7a-0c5e2d9f2022",
            ),
            // not hex
            (
                "7A1C2B7E-8A44-4D0E-9B7A-0C5E2D9F202G",
                "7a1c2b7e-8a44-4d0e-9b7a-0c5e2d9f202g",
            ),
            (
                "Prozess-7A1C2B7E-8A44-4D0E-9B7A-0C5E2D9F2022",
                "prozess-7a1c2b7e-8a44-4d0e-9b7a-0c5e2d9f2022",
            ),
        ] {
            assert!(!same_id(a, b), "{a} / {b}");
            assert_eq!(id_key(a), a);
        }
        // non-ASCII never panics
        assert_eq!(id_key("ü"), "ü");
        assert_eq!(id_key("urn:uuiü"), "urn:uuiü");
    }
}
