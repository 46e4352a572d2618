//! The rejection message ("Rückweisung") sent to the author of a rejected
//! message: schema `schemas/xoev-gateway/1.0.0/xoev-gateway-rueckweisung.xsd`.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use sha2::{Digest, Sha256};
use xoev_core::{Authority, Message};
use xoev_schema::Issue;

/// Namespace of the rejection message.
pub const NAMESPACE: &str = "urn:xoev-gateway:schema:rueckweisung";
/// Root element (local name) of the rejection message.
pub const ROOT: &str = "gateway.rueckweisung.0001";
/// Message type code of the rejection message.
pub const MESSAGE_TYPE: &str = "gateway.rueckweisung.0001";

/// Everything a rejection message says.
#[derive(Debug, Clone)]
pub struct Rejection<'a> {
    /// New message id of the rejection (a UUID).
    pub id: &'a str,
    /// Creation time, `xs:dateTime`.
    pub created: &'a str,
    /// The gateway (author of the rejection).
    pub gateway: &'a Authority,
    /// The author of the rejected message (reader of the rejection).
    pub recipient: &'a Authority,
    /// The rejected message's bytes (hashed, never copied).
    pub rejected: &'a [u8],
    /// What could be read of the rejected message.
    pub message: Option<&'a Message>,
    /// Pipeline stage, kebab-case.
    pub stage: &'a str,
    /// Reason kind, kebab-case.
    pub reason: &'a str,
    /// Human-readable description.
    pub description: &'a str,
    /// Positions of the problems.
    pub issues: &'a [Issue],
}

type W = Writer<Vec<u8>>;

fn text(w: &mut W, name: &str, value: &str) -> std::io::Result<()> {
    w.write_event(Event::Start(BytesStart::new(name)))?;
    w.write_event(Event::Text(BytesText::new(value)))?;
    w.write_event(Event::End(BytesEnd::new(name)))
}

fn code(w: &mut W, name: &str, value: &str, list: Option<(&str, &str)>) -> std::io::Result<()> {
    let mut start = BytesStart::new(name);
    if let Some((uri, version)) = list {
        start.push_attribute(("listURI", uri));
        start.push_attribute(("listVersionID", version));
    }
    w.write_event(Event::Start(start))?;
    text(w, "code", value)?;
    w.write_event(Event::End(BytesEnd::new(name)))
}

fn authority(w: &mut W, role: &str, a: &Authority) -> std::io::Result<()> {
    w.write_event(Event::Start(BytesStart::new(role)))?;
    code(
        w,
        "bn-beh:verzeichnisdienst",
        a.directory.as_deref().unwrap_or("DVDV"),
        Some(("urn:xoev-de:kosit:codeliste:verzeichnisdienst", "3")),
    )?;
    text(w, "bn-beh:kennung", &a.key())?;
    text(w, "bn-beh:name", a.name.as_deref().unwrap_or(&a.id))?;
    w.write_event(Event::End(BytesEnd::new(role)))
}

/// Serialises the rejection message (UTF-8, no signature yet).
pub fn build(r: &Rejection<'_>) -> Vec<u8> {
    // Writing into a Vec cannot fail; the io::Result only comes from the
    // generic writer interface.
    write(r).unwrap_or_default()
}

fn write(r: &Rejection<'_>) -> std::io::Result<Vec<u8>> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let root = format!("gw:{ROOT}");
    let mut start = BytesStart::new(root.as_str());
    start.push_attribute(("xmlns:gw", NAMESPACE));
    start.push_attribute((
        "xmlns:bn-g2g",
        "http://xoev.de/schemata/basisnachricht/g2g/1_1",
    ));
    start.push_attribute((
        "xmlns:bn-beh",
        "http://xoev.de/schemata/basisnachricht/behoerde/1_1",
    ));
    start.push_attribute(("standard", "XOEV-Gateway"));
    start.push_attribute(("version", "1.0.0"));
    start.push_attribute(("produkt", "xoev-gateway"));
    start.push_attribute(("produkthersteller", "xoev-gateway project"));
    start.push_attribute(("produktversion", env!("CARGO_PKG_VERSION")));
    w.write_event(Event::Start(start))?;

    w.write_event(Event::Start(BytesStart::new("bn-g2g:nachrichtenkopf.g2g")))?;
    w.write_event(Event::Start(BytesStart::new(
        "bn-g2g:identifikation.nachricht",
    )))?;
    text(&mut w, "bn-g2g:nachrichtenUUID", r.id)?;
    code(
        &mut w,
        "bn-g2g:nachrichtentyp",
        MESSAGE_TYPE,
        Some(("urn:xoev-gateway:codeliste:nachrichtentyp", "1")),
    )?;
    text(&mut w, "bn-g2g:erstellungszeitpunkt", r.created)?;
    w.write_event(Event::End(BytesEnd::new("bn-g2g:identifikation.nachricht")))?;
    authority(&mut w, "bn-g2g:leser", r.recipient)?;
    authority(&mut w, "bn-g2g:autor", r.gateway)?;
    w.write_event(Event::End(BytesEnd::new("bn-g2g:nachrichtenkopf.g2g")))?;

    w.write_event(Event::Start(BytesStart::new("gw:bezug")))?;
    if let Some(m) = r.message {
        if let Some(h) = &m.header {
            text(&mut w, "gw:nachrichtenID", h.message_id.as_str())?;
            text(&mut w, "gw:nachrichtentyp", &h.message_type.code)?;
        }
        if let Some(s) = &m.standard {
            text(&mut w, "gw:standard", s)?;
        }
        if let Some(v) = &m.version {
            text(&mut w, "gw:version", v)?;
        }
    }
    text(
        &mut w,
        "gw:sha256",
        &hex::encode(Sha256::digest(r.rejected)),
    )?;
    w.write_event(Event::End(BytesEnd::new("gw:bezug")))?;
    text(&mut w, "gw:stufe", r.stage)?;
    text(&mut w, "gw:grund", r.reason)?;
    text(&mut w, "gw:beschreibung", r.description)?;
    for i in r.issues.iter().take(100) {
        w.write_event(Event::Start(BytesStart::new("gw:fundstelle")))?;
        if let Some(l) = i.line {
            text(&mut w, "gw:zeile", &l.to_string())?;
        }
        if let Some(c) = i.column {
            text(&mut w, "gw:spalte", &c.to_string())?;
        }
        if let Some(p) = &i.path {
            text(&mut w, "gw:pfad", p)?;
        }
        text(&mut w, "gw:meldung", &i.message)?;
        w.write_event(Event::End(BytesEnd::new("gw:fundstelle")))?;
    }
    text(&mut w, "gw:zeitpunkt", r.created)?;
    w.write_event(Event::End(BytesEnd::new(root.as_str())))?;
    let mut out = w.into_inner();
    out.push(b'\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use xoev_core::Limits;
    use xoev_schema::{Catalogue, Validator};

    fn authority(id: &str, name: &str) -> Authority {
        Authority {
            directory: Some("DVDV".into()),
            prefix: None,
            id: id.into(),
            name: Some(name.into()),
        }
    }

    #[test]
    fn rejection_validates_and_carries_the_reason() {
        let catalogue = Catalogue::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas"))
            .expect("catalogue");
        let validator = Validator::new(Arc::new(catalogue), Limits::default());
        let rejected = b"<x:y xmlns:x='urn:x'/>";
        let original = Message::parse(rejected.to_vec(), &Limits::default()).expect("parse");
        let issues = vec![Issue {
            line: Some(3),
            column: Some(7),
            path: Some("/a:b/a:c".into()),
            message: "Element 'c' <is> \"not\" & expected".into(),
        }];
        let gw = authority("gw:xoev-gateway", "xoev-gateway");
        let to = authority("ags:09162000", "Stadt Musterstadt & Co");
        let bytes = build(&Rejection {
            id: "0b7e4b1c-3c1a-4bd4-9a57-4f4e3d1f2a10",
            created: "2026-11-25T12:00:00Z",
            gateway: &gw,
            recipient: &to,
            rejected,
            message: Some(&original),
            stage: "validate",
            reason: "xsd-invalid",
            description: "1 XSD violation",
            issues: &issues,
        });
        let v = match validator.validate(bytes.clone()) {
            Ok(v) => v,
            Err(e) => panic!("{e}\n{}", String::from_utf8_lossy(&bytes)),
        };
        assert_eq!(v.entry.name, "XOEV-Gateway");
        let header = v.message.header.expect("header");
        assert_eq!(header.reader.expect("reader").id, "ags:09162000");
        assert_eq!(header.message_type.code, MESSAGE_TYPE);
        let text = String::from_utf8(bytes).expect("utf-8");
        assert!(text.contains("<gw:grund>xsd-invalid</gw:grund>"));
        assert!(text.contains("&lt;is&gt; &quot;not&quot; &amp; expected"));
        assert!(text.contains(&hex::encode(Sha256::digest(rejected))));

        // the typed view reads it back
        let view = RejectionView::parse(text.as_bytes()).expect("typed view");
        assert_eq!(view.grund, "xsd-invalid");
        assert_eq!(view.stufe, "validate");
        assert_eq!(view.bezug.sha256, hex::encode(Sha256::digest(rejected)));
        assert_eq!(
            view.bezug.message_id, None,
            "the rejected message had no header"
        );
        assert_eq!(view.fundstelle.len(), 1);
        assert_eq!(view.fundstelle[0].line, Some(3));
        assert_eq!(view.fundstelle[0].column, Some(7));
        assert_eq!(view.fundstelle[0].path.as_deref(), Some("/a:b/a:c"));
        assert_eq!(
            view.fundstelle[0].message,
            "Element 'c' <is> \"not\" & expected"
        );
    }
}

/// A typed view of a received rejection message (yaserde), for back-office
/// systems and the example peers: what was rejected, where and why.
/// Elements outside the rejection's own namespace (the XÖV header) are
/// skipped; read the header with [`xoev_core::Message::parse`].
#[derive(Debug, Default, Clone, PartialEq, Eq, yaserde::YaDeserialize)]
#[yaserde(
    rename = "gateway.rueckweisung.0001",
    prefix = "gw",
    namespaces = { "gw" = "urn:xoev-gateway:schema:rueckweisung" }
)]
pub struct RejectionView {
    /// The rejected message.
    #[yaserde(prefix = "gw")]
    pub bezug: Reference,
    /// The stage that rejected it.
    #[yaserde(prefix = "gw")]
    pub stufe: String,
    /// The stable reason id, e.g. `xsd-invalid`.
    #[yaserde(prefix = "gw")]
    pub grund: String,
    /// The explanation.
    #[yaserde(prefix = "gw")]
    pub beschreibung: String,
    /// Where in the message.
    #[yaserde(prefix = "gw")]
    pub fundstelle: Vec<Position>,
}

/// The rejected message as the rejection names it.
#[derive(Debug, Default, Clone, PartialEq, Eq, yaserde::YaDeserialize)]
#[yaserde(prefix = "gw", namespaces = { "gw" = "urn:xoev-gateway:schema:rueckweisung" })]
pub struct Reference {
    /// Its message id.
    #[yaserde(prefix = "gw", rename = "nachrichtenID")]
    pub message_id: Option<String>,
    /// Its message type.
    #[yaserde(prefix = "gw", rename = "nachrichtentyp")]
    pub message_type: Option<String>,
    /// SHA-256 of its bytes.
    #[yaserde(prefix = "gw")]
    pub sha256: String,
}

/// One position in the rejected message.
#[derive(Debug, Default, Clone, PartialEq, Eq, yaserde::YaDeserialize)]
#[yaserde(prefix = "gw", namespaces = { "gw" = "urn:xoev-gateway:schema:rueckweisung" })]
pub struct Position {
    /// Line.
    #[yaserde(prefix = "gw", rename = "zeile")]
    pub line: Option<u32>,
    /// Column.
    #[yaserde(prefix = "gw", rename = "spalte")]
    pub column: Option<u32>,
    /// Element path.
    #[yaserde(prefix = "gw", rename = "pfad")]
    pub path: Option<String>,
    /// The problem.
    #[yaserde(prefix = "gw", rename = "meldung")]
    pub message: String,
}

impl RejectionView {
    /// Reads a rejection message (signed or not).
    pub fn parse(xml: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(xml).map_err(|e| e.to_string())?;
        yaserde::de::from_str(text).map_err(|e| e.to_string())
    }
}
