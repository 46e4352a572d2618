//! [`Message`]: the raw bytes plus the envelope read from them.

use crate::error::{MessageError, MessageErrorKind as Kind};
use crate::header::{Authority, Header, HeaderForm, MessageId, MessageType, RootElement};
use bytes::Bytes;
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use serde::Serialize;

/// Limits applied to every message before anything else looks at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum size of a message in bytes.
    pub max_bytes: usize,
    /// Maximum element nesting depth.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_depth: 256,
        }
    }
}

/// The most attributes, namespace declarations included, one element may
/// carry. Real messages have a few dozen at most (a root declaring its
/// namespaces). The cap is there because XML parsers check each attribute
/// against the element's earlier ones: libxml2 2.9 and quick-xml both take
/// time quadratic in their number — 200,000 declarations on one root (a
/// 5.5 MB message) held quick-xml for 32 s and libxml2 for 8 s, 200,000
/// attributes on one element (2.3 MB) libxml2's parse and validation for
/// 107 s.
pub const MAX_ATTRIBUTES: usize = 256;

/// The most namespace declarations an element and its ancestors may carry
/// together. libxml2 2.9 looks each prefix up through all declarations in
/// scope, so a document of many elements under many declarations takes
/// time in their product (250 levels of 250 declarations, then a million
/// elements: more than two minutes). Real messages declare a few dozen.
pub const MAX_NAMESPACES_IN_SCOPE: usize = 256;

/// The most comments, processing instructions and CDATA sections a
/// document may hold together (the XML declaration not counted). Each
/// splits an element's text into pieces, and libxml2's XSD validation joins
/// the pieces by appending each to all before it, measuring the whole
/// string every time: 300,000 empty comments in one header field took a
/// second, 1.5 million PIs 24 s, 600,000 CDATA sections between text in
/// one name (a 9 MB message) 12 s. Real messages carry a few, if any; 1,000
/// splitting 9.5 MB of text cost 0.17 s against 0.03 s unsplit.
pub const MAX_COMMENTS_PIS_AND_CDATA: usize = 1_000;

/// XML's white space (`#x20 #x9 #xD #xA`): what is trimmed around header
/// values. Not Unicode's, which also counts U+00A0 and others that XML
/// takes for content — an id with a trailing no-break space is another id.
pub(crate) const XML_SPACE: [char; 4] = [' ', '\t', '\n', '\r'];

/// The longest authority id (`prefix:value`) a header may name, as long as
/// a message id may be.
const MAX_AUTHORITY_ID_BYTES: usize = 255;

/// An XÖV message: the payload, byte-exact, and what its envelope says.
///
/// Built by [`Message::parse`], which reads the XML declaration, the root
/// element with its XÖV attributes (`standard`, `version`, `produkt`, …) and
/// the message header, and stops there. Well-formedness of the rest of the
/// document is checked by the full parse of schema validation.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    #[serde(skip)]
    raw: Bytes,
    /// The root element.
    pub root: RootElement,
    /// The `standard` attribute of the root element.
    pub standard: Option<String>,
    /// The `version` attribute of the root element (the standard's version).
    pub version: Option<String>,
    /// The `produkt` attribute: the sending software.
    pub product: Option<String>,
    /// The `produkthersteller` attribute: the software's vendor.
    pub producer: Option<String>,
    /// The `produktversion` attribute.
    pub product_version: Option<String>,
    /// The `test` attribute (trimmed). Its presence makes the message a test
    /// message, which must not be processed as productive work; its content is
    /// free text the author and reader may agree on (XÖV base message 1.1,
    /// `din91379:datatypeC`), e.g. `true` or `Referenznachricht`.
    pub test: Option<String>,
    /// The XÖV header, if the document carries one as its first child.
    pub header: Option<Header>,
    /// A RegRep 4 message's `SpecificationIdentifier` slot, whatever its
    /// profile (`oots-edm:v1.0`, TOOP's `toop-edm:v2.1`, …): what it says
    /// it is, also where that is no OOTS evidence exchange (no header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub specification: Option<String>,
}

impl Message {
    /// Whether the author marked this as a test message: a `test` attribute
    /// is present (XÖV: its presence makes a test message, its content is
    /// bilateral) and does not say plainly that it is not one (`false`,
    /// `0`, `nein`, `no`, as some producers write on productive messages).
    pub fn is_test(&self) -> bool {
        self.test.as_deref().is_some_and(|v| {
            !["false", "0", "nein", "no"]
                .iter()
                .any(|no| v.eq_ignore_ascii_case(no))
        })
    }

    /// Reads the envelope of `raw`, keeping the bytes untouched.
    ///
    /// Refuses oversize input, non-UTF-8 input, a DOCTYPE, and a header
    /// whose message id is missing or malformed.
    pub fn parse(raw: impl Into<Bytes>, limits: &Limits) -> Result<Self, MessageError> {
        match Self::parse_keeping_header_error(raw, limits)? {
            (_, Some(header_error)) => Err(header_error),
            (message, None) => Ok(message),
        }
    }

    /// Like [`Message::parse`], but a header that cannot be read (an
    /// `invalid-header` error) is returned beside the message, whose
    /// [`Message::header`] is then `None`, instead of failing the read.
    /// A header is often wrong because the document is: a caller that can
    /// validate (`xoev_schema::Validator`) reports the unknown namespace,
    /// the XML error or the XSD violations first, and the header's error
    /// only for a document its schema accepts.
    pub fn parse_keeping_header_error(
        raw: impl Into<Bytes>,
        limits: &Limits,
    ) -> Result<(Self, Option<MessageError>), MessageError> {
        let raw: Bytes = raw.into();
        if raw.len() > limits.max_bytes {
            return Err(MessageError::new(
                Kind::Oversize,
                format!(
                    "message is {} bytes, the limit is {} bytes",
                    raw.len(),
                    limits.max_bytes
                ),
            ));
        }
        if let Err(e) = std::str::from_utf8(&raw) {
            return Err(MessageError::new(
                Kind::Encoding,
                "message is not valid UTF-8 (XÖV messages are UTF-8)",
            )
            .at(&raw, e.valid_up_to()));
        }
        if let Some(e) = MessageError::nul_byte(&raw) {
            return Err(e);
        }
        let envelope = read_envelope(&raw, limits)?;
        let (header, header_error) = match envelope.header {
            Ok(header) => (header, None),
            Err(e) => (None, Some(e)),
        };
        let message = Self {
            raw,
            root: envelope.root,
            standard: envelope.attrs.standard,
            version: envelope.attrs.version,
            product: envelope.attrs.product,
            producer: envelope.attrs.producer,
            product_version: envelope.attrs.product_version,
            test: envelope.attrs.test,
            header,
            specification: envelope.specification,
        };
        Ok((message, header_error))
    }

    /// The payload exactly as received.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The header, or an error naming what is missing.
    pub fn require_header(&self) -> Result<&Header, MessageError> {
        self.header.as_ref().ok_or_else(|| {
            let detail = if self
                .root
                .namespace
                .as_deref()
                .is_some_and(|ns| ns.starts_with(REGREP_NAMESPACE_PREFIX))
            {
                let named = match &self.specification {
                    Some(spec) => format!(" (it names {spec})"),
                    None => " (it has no SpecificationIdentifier slot)".to_owned(),
                };
                format!(
                    "document {}{named} is no EU OOTS evidence exchange message (an evidence request or response names its EDM release, `{OOTS_EDM_SPECIFICATION}…`, in a leading SpecificationIdentifier slot); queries of the OOTS common services (Evidence Broker, Data Service Directory), registry submissions and messages of other RegRep profiles (e.g. TOOP's `toop-edm:`) are not routed",
                    self.root
                )
            } else {
                format!(
                    "document {} carries no message header (an XÖV nachrichtenkopf or an xdomea Kopf as its first child)",
                    self.root
                )
            };
            MessageError::new(Kind::Header, detail)
        })
    }
}

#[derive(Default)]
struct RootAttrs {
    standard: Option<String>,
    version: Option<String>,
    product: Option<String>,
    producer: Option<String>,
    product_version: Option<String>,
    test: Option<String>,
    /// `id`, `requestId`, `status`: what a RegRep 4 root (OOTS) says of the
    /// message.
    id: Option<String>,
    request_id: Option<String>,
    status: Option<String>,
}

struct Envelope {
    root: RootElement,
    attrs: RootAttrs,
    /// The header, or why it could not be read (an `invalid-header` error;
    /// every other error fails the whole read).
    header: Result<Option<Header>, MessageError>,
    /// A RegRep message's `SpecificationIdentifier`.
    specification: Option<String>,
}

/// One element of the header subtree, addressed by its path of local names
/// relative to the header element.
struct Node {
    path: Vec<String>,
    list_uri: Option<String>,
    list_version: Option<String>,
    /// `schemeID` (OOTS `sdg:Identifier`).
    scheme_id: Option<String>,
    text: String,
}

fn malformed(raw: &[u8], pos: u64, e: impl std::fmt::Display) -> MessageError {
    let pos = usize::try_from(pos).unwrap_or(usize::MAX);
    MessageError::new(Kind::Malformed, e.to_string()).at(raw, pos)
}

fn read_envelope(raw: &[u8], limits: &Limits) -> Result<Envelope, MessageError> {
    // No namespace resolver: the header is matched by local names, and the
    // root's namespace can only come from the root's own declarations
    // (nothing else is in scope at the first element), which are read in
    // the same pass as its XÖV attributes. (A resolver scans every
    // attribute of every element for declarations; without it the read
    // takes 11 % fewer instructions.)
    let mut reader = Reader::from_reader(raw);
    // Text is not trimmed piece by piece: a name or id around an entity,
    // a character reference, a comment or CDATA ("Bau- &amp; Planungsamt")
    // would lose its spaces. An element's whole text is trimmed where it
    // is read (`text_at`).
    reader.config_mut().trim_text(false);

    // The prolog, up to the root element.
    let bom_len: u64 = if raw.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let (root, attrs, root_is_empty) = loop {
        let pos = reader.buffer_position();
        let event = match reader.read_event() {
            Ok(ok) => ok,
            Err(e) => return Err(malformed(raw, pos, e)),
        };
        match event {
            // only the very first thing (after a byte order mark), as
            // libxml2 and the XML spec have it: a declaration after white
            // space or a comment is not well-formed
            Event::Decl(_) if pos > bom_len => {
                return Err(malformed(
                    raw,
                    pos,
                    "the XML declaration must be at the very start of the document",
                ));
            }
            Event::Decl(decl) => {
                if let Some(enc) = decl.encoding() {
                    let enc = enc.map_err(|e| malformed(raw, pos, e))?;
                    let enc = String::from_utf8_lossy(&enc).to_ascii_lowercase();
                    if enc != "utf-8" && enc != "utf8" {
                        return Err(MessageError::new(
                            Kind::Encoding,
                            format!("declared encoding {enc:?} is not supported (XÖV messages are UTF-8)"),
                        )
                        .at(raw, usize::try_from(pos).unwrap_or(0)));
                    }
                }
            }
            Event::DocType(_) => {
                return Err(MessageError::new(
                    Kind::Doctype,
                    "DOCTYPE declarations are refused (no DTDs, no entities)",
                )
                .at(raw, usize::try_from(pos).unwrap_or(0)));
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::Text(t) if is_xml_space(&t) => {}
            Event::Start(e) => {
                break root_element(&e, false).map_err(|d| attr_failure(raw, pos, d))?;
            }
            Event::Empty(e) => {
                break root_element(&e, true).map_err(|d| attr_failure(raw, pos, d))?;
            }
            Event::Eof => {
                return Err(MessageError::new(
                    Kind::Empty,
                    "document has no root element",
                ));
            }
            _ => {
                return Err(malformed(raw, pos, "content before the root element"));
            }
        }
    };

    let mut specification = None;
    let header = if root_is_empty {
        Ok(None)
    } else if let Some(kind) = OotsKind::of(&root, &attrs) {
        read_oots_header(&mut reader, raw, limits, kind, &attrs, &mut specification)
    } else {
        // xdomea 4 names further readers beside its header, not inside it
        let further_readers_follow = root
            .namespace
            .as_deref()
            .is_some_and(|ns| ns.starts_with(XDOMEA_NAMESPACE_PREFIX));
        read_header(&mut reader, raw, limits, further_readers_follow).map(|h| {
            h.map(|mut h| {
                h.reconcile_type(&root);
                h
            })
        })
    };
    let header = match header {
        Err(e) if e.kind != Kind::Header => return Err(e),
        other => other,
    };
    Ok(Envelope {
        root,
        attrs,
        header,
        specification,
    })
}

/// The attributes of `e`, at most [`MAX_ATTRIBUTES`]: one more is an
/// error, before quick-xml checks it against all the others.
fn attributes<'a>(
    e: &'a BytesStart<'_>,
) -> impl Iterator<Item = Result<quick_xml::events::attributes::Attribute<'a>, AttrError>> {
    e.attributes().enumerate().map(|(i, a)| {
        if i >= MAX_ATTRIBUTES {
            Err(AttrError::TooMany)
        } else {
            a.map_err(|e| AttrError::Malformed(e.to_string()))
        }
    })
}

/// Why an element's attributes could not be read.
enum AttrError {
    /// More than [`MAX_ATTRIBUTES`].
    TooMany,
    /// Not well-formed.
    Malformed(String),
}

impl From<String> for AttrError {
    fn from(detail: String) -> Self {
        Self::Malformed(detail)
    }
}

/// The error for an element at byte `pos` whose attributes failed.
fn attr_failure(raw: &[u8], pos: u64, e: AttrError) -> MessageError {
    match e {
        AttrError::TooMany => {
            MessageError::too_many_attributes().at(raw, usize::try_from(pos).unwrap_or(0))
        }
        AttrError::Malformed(d) => malformed(raw, pos, d),
    }
}

/// The next event and the byte position it starts at.
fn next_event<'a>(
    reader: &mut Reader<&'a [u8]>,
    raw: &[u8],
) -> Result<(u64, Event<'a>), MessageError> {
    let pos = reader.buffer_position();
    match reader.read_event() {
        Ok(event) => Ok((pos, event)),
        Err(e) => Err(malformed(raw, reader.error_position(), e)),
    }
}

/// The error for a header element beyond [`MAX_HEADER_ELEMENTS`].
fn too_many_elements(raw: &[u8], pos: u64) -> MessageError {
    MessageError::new(
        Kind::Header,
        format!("the message header has more than {MAX_HEADER_ELEMENTS} elements"),
    )
    .at(raw, usize::try_from(pos).unwrap_or(0))
}

/// The namespace the `xml` prefix is bound to by definition.
const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";

fn root_element(
    e: &BytesStart<'_>,
    empty: bool,
) -> Result<(RootElement, RootAttrs, bool), AttrError> {
    let (attrs, declared) = root_attrs(e)?;
    let name = e.name();
    let prefix = name.prefix().map(|p| p.into_inner());
    // Undeclared prefix, no default namespace, or `xmlns=""`: none.
    let namespace = match prefix {
        Some(b"xml") => Some(XML_NAMESPACE.to_owned()),
        _ => declared
            .into_iter()
            .find(|(p, _)| p.as_deref() == prefix)
            .map(|(_, uri)| uri)
            .filter(|uri| !uri.is_empty()),
    };
    let root = RootElement {
        namespace,
        local_name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
    };
    Ok((root, attrs, empty))
}

/// A namespace declaration of the root: (prefix, `None` for the default; URI).
type Declaration = (Option<Vec<u8>>, String);

/// The root's XÖV attributes and its namespace declarations, in one pass.
fn root_attrs(e: &BytesStart<'_>) -> Result<(RootAttrs, Vec<Declaration>), AttrError> {
    let mut out = RootAttrs::default();
    let mut declared: Vec<Declaration> = Vec::new();
    for attr in attributes(e) {
        let attr = attr?;
        let key = attr.key.as_ref();
        if key == b"xmlns" || key.starts_with(b"xmlns:") {
            let uri = attr.unescape_value().map_err(|e| e.to_string())?;
            declared.push((key.get(6..).map(<[u8]>::to_vec), uri.into_owned()));
            continue;
        }
        let slot = match key {
            b"standard" => &mut out.standard,
            b"version" => &mut out.version,
            b"produkt" => &mut out.product,
            b"produkthersteller" => &mut out.producer,
            b"produktversion" => &mut out.product_version,
            b"id" => &mut out.id,
            b"requestId" => &mut out.request_id,
            b"status" => &mut out.status,
            b"test" => &mut out.test,
            _ => continue,
        };
        *slot = Some(
            attr.unescape_value()
                .map_err(|e| e.to_string())?
                .trim_matches(XML_SPACE)
                .to_owned(),
        );
    }
    Ok((out, declared))
}

/// What the xdomea namespaces begin with.
const XDOMEA_NAMESPACE_PREFIX: &str = "urn:xoev-de:xdomea:schema:";

/// The element in which xdomea 4 names a further reader: a sibling of its
/// `nachrichtenkopf`, right after it (xdomea 2/3: `WeitererEmpfaenger`
/// inside the `Kopf`).
const XDOMEA_FURTHER_READER: &str = "WeitererLeser";

/// Reads the root's first child; if it is a header, parses it. With
/// `further_readers_follow`, also the `WeitererLeser` elements right after
/// it.
fn read_header(
    reader: &mut Reader<&[u8]>,
    raw: &[u8],
    limits: &Limits,
    further_readers_follow: bool,
) -> Result<Option<Header>, MessageError> {
    // Find the first child element.
    let (form, empty) = loop {
        let (pos, event) = next_event(reader, raw)?;
        match event {
            Event::Start(e) => break (header_form(e.local_name().as_ref()), false),
            Event::Empty(e) => break (header_form(e.local_name().as_ref()), true),
            Event::End(_) | Event::Eof => return Ok(None),
            Event::Text(_) | Event::Comment(_) | Event::PI(_) | Event::CData(_) => {}
            Event::GeneralRef(_) => {}
            Event::DocType(_) => {
                return Err(
                    MessageError::new(Kind::Doctype, "DOCTYPE inside the document")
                        .at(raw, usize::try_from(pos).unwrap_or(0)),
                );
            }
            Event::Decl(_) => {
                return Err(malformed(raw, pos, "XML declaration inside the document"));
            }
        }
    };
    let Some(form) = form else { return Ok(None) };
    if empty {
        return Err(MessageError::new(
            Kind::Header,
            "the message header is empty",
        ));
    }

    // Collect the header subtree, then pick the fields out of it.
    let mut nodes: Vec<Node> = Vec::new();
    read_subtree(reader, raw, limits, &[], false, &mut nodes)?;
    if further_readers_follow && form != HeaderForm::XdomeaKopf {
        read_further_readers(reader, raw, limits, &mut nodes)?;
    }
    extract_header(form, &nodes).map(Some)
}

/// Reads the `WeitererLeser` siblings that follow an xdomea 4 header into
/// `nodes`, as if they were the header's children; stops at the first
/// other element.
fn read_further_readers(
    reader: &mut Reader<&[u8]>,
    raw: &[u8],
    limits: &Limits,
    nodes: &mut Vec<Node>,
) -> Result<(), MessageError> {
    let path = [XDOMEA_FURTHER_READER.to_owned()];
    loop {
        let (pos, event) = next_event(reader, raw)?;
        let (e, empty) = match event {
            Event::Text(_) | Event::Comment(_) | Event::PI(_) => continue,
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            _ => return Ok(()),
        };
        if e.local_name().as_ref() != XDOMEA_FURTHER_READER.as_bytes() {
            return Ok(());
        }
        if nodes.len() >= MAX_HEADER_ELEMENTS {
            return Err(too_many_elements(raw, pos));
        }
        nodes.push(node(&path, &e).map_err(|d| attr_failure(raw, pos, d))?);
        if !empty {
            read_subtree(reader, raw, limits, &path, false, nodes)?;
        }
    }
}

/// How an EU OOTS evidence exchange message's `SpecificationIdentifier`
/// begins (`oots-edm:v1.0`, `oots-edm:v2.0`, …).
pub const OOTS_EDM_SPECIFICATION: &str = "oots-edm:";

/// At most this many elements in a header (real ones have tens; an OOTS
/// request's slots about a hundred). Each is kept with its path, so without
/// a cap a 10 MB header of empty elements 60 levels deep would take
/// gigabytes before the schema check ever saw it.
const MAX_HEADER_ELEMENTS: usize = 2048;

/// Reads the content of the element whose start tag was just read, up to
/// its end tag, into `nodes`: every descendant with its path of local
/// names, `base` first. With `slots`, a `Slot` element's path component is
/// `Slot:<name>` (RegRep slots differ only by their `name` attribute).
fn read_subtree(
    reader: &mut Reader<&[u8]>,
    raw: &[u8],
    limits: &Limits,
    base: &[String],
    slots: bool,
    nodes: &mut Vec<Node>,
) -> Result<(), MessageError> {
    let max_depth = limits.max_depth.min(64);
    let mut stack: Vec<usize> = Vec::new(); // indices into `nodes`
    let mut path: Vec<String> = base.to_vec();
    loop {
        let (pos, event) = next_event(reader, raw)?;
        match event {
            Event::Start(e) | Event::Empty(e) if stack.len() >= max_depth => {
                let _ = e;
                return Err(MessageError::new(
                    Kind::TooDeep,
                    format!("message header nests deeper than {max_depth} levels"),
                )
                .at(raw, usize::try_from(pos).unwrap_or(0)));
            }
            Event::Start(_) | Event::Empty(_) if nodes.len() >= MAX_HEADER_ELEMENTS => {
                return Err(too_many_elements(raw, pos));
            }
            Event::Start(e) => {
                path.push(component(&e, slots).map_err(|d| attr_failure(raw, pos, d))?);
                nodes.push(node(&path, &e).map_err(|d| attr_failure(raw, pos, d))?);
                stack.push(nodes.len() - 1);
            }
            Event::Empty(e) => {
                path.push(component(&e, slots).map_err(|d| attr_failure(raw, pos, d))?);
                nodes.push(node(&path, &e).map_err(|d| attr_failure(raw, pos, d))?);
                path.pop();
            }
            Event::End(_) => {
                if stack.pop().is_none() {
                    return Ok(()); // end of the element itself
                }
                path.pop();
            }
            Event::Text(t) => {
                if let Some(&i) = stack.last() {
                    // white space before any text is trimmed anyway (and
                    // is all a container element holds): not kept
                    if nodes[i].text.is_empty() && is_xml_space(&t) {
                        continue;
                    }
                    let s = t.xml_content().map_err(|e| malformed(raw, pos, e))?;
                    nodes[i].text.push_str(&s);
                }
            }
            Event::CData(t) => {
                if let Some(&i) = stack.last() {
                    let s = t.xml_content().map_err(|e| malformed(raw, pos, e))?;
                    nodes[i].text.push_str(&s);
                }
            }
            Event::GeneralRef(r) => {
                let s = resolve_ref(&r).map_err(|d| malformed(raw, pos, d))?;
                if let Some(&i) = stack.last() {
                    nodes[i].text.push(s);
                }
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::DocType(_) | Event::Decl(_) => {
                return Err(malformed(raw, pos, "declaration inside the message header"));
            }
            Event::Eof => {
                return Err(malformed(
                    raw,
                    pos,
                    "document ends inside the message header",
                ));
            }
        }
    }
}

/// An element's path component: its local name, or `Slot:<name>` for a
/// RegRep slot when `slots` is set.
fn component(e: &BytesStart<'_>, slots: bool) -> Result<String, AttrError> {
    let local = e.local_name();
    if slots && local.as_ref() == b"Slot" {
        for attr in attributes(e) {
            let attr = attr?;
            if attr.key.as_ref() == b"name" {
                let name = attr.unescape_value().map_err(|e| e.to_string())?;
                return Ok(format!("Slot:{}", name.trim_matches(XML_SPACE)));
            }
        }
    }
    Ok(String::from_utf8_lossy(local.as_ref()).into_owned())
}

fn header_form(local: &[u8]) -> Option<HeaderForm> {
    match local {
        b"nachrichtenkopf.g2g" => Some(HeaderForm::G2g),
        b"nachrichtenkopf" => Some(HeaderForm::Nachrichtenkopf),
        b"Kopf" => Some(HeaderForm::XdomeaKopf),
        _ => None,
    }
}

fn node(path: &[String], e: &BytesStart<'_>) -> Result<Node, AttrError> {
    let mut n = Node {
        path: path.to_vec(),
        list_uri: None,
        list_version: None,
        scheme_id: None,
        text: String::new(),
    };
    for attr in attributes(e) {
        let attr = attr?;
        let value = || -> Result<String, String> {
            Ok(attr
                .unescape_value()
                .map_err(|e| e.to_string())?
                .trim_matches(XML_SPACE)
                .to_owned())
        };
        match attr.key.local_name().as_ref() {
            b"listURI" => n.list_uri = Some(value()?).filter(|s| !s.is_empty()),
            b"listVersionID" => n.list_version = Some(value()?).filter(|s| !s.is_empty()),
            b"schemeID" => n.scheme_id = Some(value()?).filter(|s| !s.is_empty()),
            _ => {}
        }
    }
    Ok(n)
}

/// Whether `bytes` are XML white space only (space, tab, CR, LF).
fn is_xml_space(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// Resolves a character reference or one of XML's five predefined entities.
/// No DTD is ever read, so any other entity is undefined.
fn resolve_ref(r: &quick_xml::events::BytesRef<'_>) -> Result<char, String> {
    if let Some(c) = r.resolve_char_ref().map_err(|e| e.to_string())? {
        return Ok(c);
    }
    let name = r.decode().map_err(|e| e.to_string())?;
    match name.as_ref() {
        "amp" => Ok('&'),
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "quot" => Ok('"'),
        "apos" => Ok('\''),
        other => Err(format!("undefined entity &{other};")),
    }
}

fn find<'a>(nodes: &'a [Node], path: &[&str]) -> Option<&'a Node> {
    nodes
        .iter()
        .find(|n| n.path.len() == path.len() && n.path.iter().zip(path).all(|(a, b)| a == b))
}

fn text_at<'a>(nodes: &'a [Node], path: &[&str]) -> Option<&'a str> {
    find(nodes, path)
        .map(|n| n.text.trim_matches(XML_SPACE))
        .filter(|t| !t.is_empty())
}

/// Text of an element that is either plain text or a code type (`<code>`).
fn text_or_code<'a>(nodes: &'a [Node], path: &[&str]) -> Option<&'a str> {
    text_at(nodes, path).or_else(|| {
        let mut p = path.to_vec();
        p.push("code");
        text_at(nodes, &p)
    })
}

fn extract_header(form: HeaderForm, nodes: &[Node]) -> Result<Header, MessageError> {
    let missing =
        |what: &str| MessageError::new(Kind::Header, format!("the message header has no {what}"));
    let (ident, id_name, type_name, created_name, author_role, reader_role): (
        &[&str],
        &str,
        &str,
        &str,
        &str,
        &str,
    ) = match form {
        HeaderForm::XdomeaKopf => (
            &[],
            "ProzessID",
            "Nachrichtentyp",
            "Erstellungszeitpunkt",
            "Absender",
            "Empfaenger",
        ),
        _ => (
            &["identifikation.nachricht"],
            "nachrichtenUUID",
            "nachrichtentyp",
            "erstellungszeitpunkt",
            "autor",
            "leser",
        ),
    };
    let at = |leaf: &[&'static str]| -> Vec<&'static str> {
        ident.iter().chain(leaf).copied().collect()
    };

    let id_text = text_at(nodes, &at(&[id_name])).ok_or_else(|| missing(id_name))?;
    let id = MessageId::parse(id_text)
        .map_err(|e| MessageError::new(Kind::Header, format!("{id_name}: {e}")))?;

    let type_node = find(nodes, &at(&[type_name])).ok_or_else(|| missing(type_name))?;
    let code = text_at(nodes, &at(&[type_name, "code"]))
        .ok_or_else(|| missing(&format!("{type_name}/code")))?;
    // Every message of an xdomea process shares its ProzessID: the type
    // tells them apart (else the transfer 0503 would be taken for a
    // duplicate of the offer 0501 and dropped).
    let reader = authority(nodes, reader_role);
    let (message_id, process_id) = match form {
        HeaderForm::XdomeaKopf => {
            let per_message = MessageId::xdomea(&id, code.trim_matches(XML_SPACE), reader.as_ref())
                .map_err(|e| {
                    MessageError::new(Kind::Header, format!("{id_name}/{type_name}: {e}"))
                })?;
            (per_message, Some(id))
        }
        _ => (id, None),
    };
    let message_type = MessageType {
        code: code.to_owned(),
        name: text_at(nodes, &at(&[type_name, "name"])).map(str::to_owned),
        list_uri: type_node.list_uri.clone(),
        list_version: type_node.list_version.clone(),
    };
    let created = text_at(nodes, &at(&[created_name]))
        .ok_or_else(|| missing(created_name))?
        .to_owned();

    let author = authority(nodes, author_role);
    let (further_readers, further_readers_without_id) = authorities(
        nodes,
        match form {
            HeaderForm::XdomeaKopf => "WeitererEmpfaenger",
            _ => XDOMEA_FURTHER_READER,
        },
    );
    // An id is a key of the directory and travels in AMQP headers: a huge
    // one is no id (and would be echoed whole in every error naming it).
    if let Some(len) = [author.as_ref(), reader.as_ref()]
        .into_iter()
        .flatten()
        .chain(&further_readers)
        .map(|a| a.key().len())
        .find(|&len| len > MAX_AUTHORITY_ID_BYTES)
    {
        return Err(MessageError::new(
            Kind::Header,
            format!(
                "an authority id in the header is {len} bytes long (max {MAX_AUTHORITY_ID_BYTES})"
            ),
        ));
    }
    Ok(Header {
        form,
        message_id,
        process_id,
        message_type,
        created,
        author_name_only: name_only(nodes, author_role, author.as_ref()),
        author_contact_only: author.is_none()
            && authority_name(nodes, author_role).is_none()
            && find(nodes, &[author_role, "NameAnsprechpartner"]).is_some(),
        reader_name_only: name_only(nodes, reader_role, reader.as_ref()),
        author,
        reader,
        // the message this one answers or refers to (XWasser's receipt
        // 0020 names the message it acknowledges so)
        in_reply_to: text_at(nodes, &["referenzUUID"]).and_then(|r| MessageId::parse(r).ok()),
        type_in_header: None,
        further_readers,
        further_readers_without_id,
    })
}

/// The authorities the header names in each `role` element (one for each
/// occurrence, in document order), and how many occurrences name none.
fn authorities(nodes: &[Node], role: &str) -> (Vec<Authority>, usize) {
    let top_level = |n: &Node| n.path.len() == 1;
    let mut found = Vec::new();
    let mut without_id = 0;
    for (start, node) in nodes.iter().enumerate() {
        if !top_level(node) || node.path[0] != role {
            continue;
        }
        // its descendants follow it, up to the next element of the header
        let end = nodes[start + 1..]
            .iter()
            .position(top_level)
            .map_or(nodes.len(), |p| start + 1 + p);
        match authority(&nodes[start..end], role) {
            Some(a) => found.push(a),
            None => without_id += 1,
        }
    }
    (found, without_id)
}

/// Reads an authority from the shapes real headers use: `kennung` directly
/// (XÖV base message 1.1), `behoerdenkennung/kennung` + `praefix` (older
/// XÖV), `Behoerdenkennung/Behoerdenschluessel` + `Praefix` (xdomea 3),
/// `Behoerdenkennung/verzeichnisdienst` + `kennung` (xdomea 4).
fn authority(nodes: &[Node], role: &str) -> Option<Authority> {
    find(nodes, &[role])?;
    let id = text_or_code(nodes, &[role, "kennung"])
        .or_else(|| text_or_code(nodes, &[role, "behoerdenkennung", "kennung"]))
        .or_else(|| text_or_code(nodes, &[role, "Behoerdenkennung", "Behoerdenschluessel"]))
        .or_else(|| text_or_code(nodes, &[role, "Behoerdenkennung", "Kennung"]))
        .or_else(|| text_or_code(nodes, &[role, "Behoerdenkennung", "kennung"]))?;
    let prefix = text_or_code(nodes, &[role, "behoerdenkennung", "praefix"])
        .or_else(|| text_or_code(nodes, &[role, "Behoerdenkennung", "Praefix"]));
    let name = authority_name(nodes, role);
    let directory = text_or_code(nodes, &[role, "verzeichnisdienst"])
        .or_else(|| text_or_code(nodes, &[role, "Behoerdenkennung", "verzeichnisdienst"]));
    Some(Authority {
        directory: directory.map(str::to_owned),
        prefix: prefix.map(str::to_owned),
        id: id.to_owned(),
        name: name.map(str::to_owned),
    })
}

/// The authority's name, in the shapes [`authority`] reads.
fn authority_name<'a>(nodes: &'a [Node], role: &str) -> Option<&'a str> {
    text_at(nodes, &[role, "name"])
        .or_else(|| text_at(nodes, &[role, "Institution", "Name"]))
        .or_else(|| text_at(nodes, &[role, "NameInstitution", "Name"]))
        .or_else(|| text_at(nodes, &[role, "behoerdenkennung", "name"]))
        // XInneres `Behoerde` (XPersonenstand, XMeld): the name beside the
        // `behoerdenkennung`.
        .or_else(|| text_at(nodes, &[role, "behoerdenname"]))
}

/// The name of an authority the header names without an identifier
/// (`None` where it names none, or where [`authority`] `found` it).
fn name_only(nodes: &[Node], role: &str, found: Option<&Authority>) -> Option<String> {
    match found {
        Some(_) => None,
        None => authority_name(nodes, role).map(str::to_owned),
    }
}

/// What the RegRep 4 namespaces (query, lcm, rs, rim) begin with.
const REGREP_NAMESPACE_PREFIX: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:";

/// The RegRep 4 query namespace of the OOTS evidence exchange (EDM).
const REGREP_QUERY_NAMESPACE: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:query:4.0";

/// The electronic address scheme prefix of OOTS agent identifiers.
const EAS_SCHEME_PREFIX: &str = "urn:cef.eu:names:identifier:EAS:";

/// The OOTS slots the header is read from.
const HEADER_SLOTS: &[&str] = &[
    "SpecificationIdentifier",
    "EvidenceResponseIdentifier",
    "IssueDateTime",
    "EvidenceRequester",
    "EvidenceProvider",
    "ErrorProvider",
    "ResponseAvailableDateTime",
];

/// What the RegRep response statuses begin with.
const OOTS_STATUS: &str = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:";
/// The status of an EDM error response.
const OOTS_FAILURE: &str = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure";

/// The OOTS EDM messages; their codes stand in for the message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OotsKind {
    /// `query:QueryRequest`.
    EvidenceRequest,
    /// `query:QueryResponse` with status `Success`.
    EvidenceResponse,
    /// `query:QueryResponse` with status `Unavailable`: the evidence will
    /// come later, by the `ResponseAvailableDateTime` slot (EDM's deferred
    /// response; no evidence, no `rs:Exception`).
    DeferredResponse,
    /// `query:QueryResponse` with any other status (an `rs:Exception`).
    ErrorResponse,
}

impl OotsKind {
    /// The kind of an OOTS root, or `None` for anything else.
    fn of(root: &RootElement, attrs: &RootAttrs) -> Option<Self> {
        if root.namespace.as_deref() != Some(REGREP_QUERY_NAMESPACE) {
            return None;
        }
        match root.local_name.as_str() {
            "QueryRequest" => Some(Self::EvidenceRequest),
            "QueryResponse" => Some(match attrs.status.as_deref() {
                Some(s) if s.ends_with(":Success") => Self::EvidenceResponse,
                Some(s) if s.ends_with(":Unavailable") => Self::DeferredResponse,
                _ => Self::ErrorResponse,
            }),
            _ => None,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Self::EvidenceRequest => "EvidenceRequest",
            Self::EvidenceResponse => "EvidenceResponse",
            Self::DeferredResponse => "DeferredResponse",
            Self::ErrorResponse => "ErrorResponse",
        }
    }
}

/// Reads the leading `rim:Slot`s of an OOTS root (and an error response's
/// `rs:Exception`, which holds its `Timestamp`) and stops at the first
/// other child: the query or the evidence is not read.
fn read_oots_header(
    reader: &mut Reader<&[u8]>,
    raw: &[u8],
    limits: &Limits,
    kind: OotsKind,
    attrs: &RootAttrs,
    specification: &mut Option<String>,
) -> Result<Option<Header>, MessageError> {
    let mut nodes: Vec<Node> = Vec::new();
    loop {
        let (pos, event) = next_event(reader, raw)?;
        match event {
            Event::Start(e) => {
                let local = e.local_name();
                if local.as_ref() != b"Slot" && local.as_ref() != b"Exception" {
                    break;
                }
                if nodes.len() >= MAX_HEADER_ELEMENTS {
                    return Err(too_many_elements(raw, pos));
                }
                let path = vec![component(&e, true).map_err(|d| attr_failure(raw, pos, d))?];
                nodes.push(node(&path, &e).map_err(|d| attr_failure(raw, pos, d))?);
                read_subtree(reader, raw, limits, &path, true, &mut nodes)?;
                if local.as_ref() == b"Exception" {
                    break;
                }
            }
            Event::Empty(e) => {
                if e.local_name().as_ref() != b"Slot" {
                    break;
                }
            }
            Event::End(_) => break,
            Event::Eof => {
                return Err(malformed(
                    raw,
                    pos,
                    "document ends inside the message header",
                ));
            }
            Event::Text(_) | Event::Comment(_) | Event::PI(_) | Event::CData(_) => {}
            Event::GeneralRef(_) => {}
            Event::DocType(_) | Event::Decl(_) => {
                return Err(malformed(raw, pos, "declaration inside the document"));
            }
        }
    }
    // The evidence exchange names its specification first; the RegRep
    // queries of the OOTS common services (Evidence Broker, Data Service
    // Directory) share the root elements but not the slots, and are no
    // evidence exchange: they carry no header the gateway routes by. Nor
    // does a message of another RegRep profile that shares the root
    // elements and slot names (TOOP's `toop-edm:v2.0`, DE4A's).
    *specification = text_at(
        &nodes,
        &["Slot:SpecificationIdentifier", "SlotValue", "Value"],
    )
    .map(|spec| spec.trim_matches(XML_SPACE).to_owned())
    .filter(|spec| !spec.is_empty());
    let edm = specification
        .as_deref()
        .is_some_and(|spec| spec.starts_with(OOTS_EDM_SPECIFICATION));
    // A slot the header is read from, given twice, is ambiguous (the
    // first used to win: two providers, two specifications).
    let mut seen = std::collections::HashSet::new();
    for n in nodes.iter().filter(|n| n.path.len() == 1) {
        let name = &n.path[0];
        if name.starts_with("Slot:") && !seen.insert(name.as_str()) {
            let name = &name["Slot:".len()..];
            if HEADER_SLOTS.contains(&name) && (edm || name == "SpecificationIdentifier") {
                return Err(MessageError::new(
                    Kind::Header,
                    format!(
                        "the OOTS {} has the slot {name} twice: which one holds is ambiguous",
                        kind.code()
                    ),
                ));
            }
        }
    }
    if !edm {
        return Ok(None);
    }
    extract_oots(kind, attrs, &nodes).map(Some)
}

fn extract_oots(kind: OotsKind, attrs: &RootAttrs, nodes: &[Node]) -> Result<Header, MessageError> {
    let missing = |what: &str| {
        MessageError::new(
            Kind::Header,
            format!("the OOTS {} has no {what}", kind.code()),
        )
    };
    let slot = |name: &str| text_at(nodes, &[&format!("Slot:{name}"), "SlotValue", "Value"]);
    // A response is evidence (Success), deferred (Unavailable) or an error
    // (Failure); another status (PartialSuccess, a bare or misspelt one)
    // is none of them and is named, not read as an error response.
    if kind == OotsKind::ErrorResponse {
        let status = attrs
            .status
            .as_deref()
            .map(|s| s.trim_matches(XML_SPACE))
            .unwrap_or_default();
        if status != OOTS_FAILURE {
            return Err(MessageError::new(
                Kind::Header,
                format!(
                    "the OOTS QueryResponse has status {status:?}: an EDM response is {OOTS_STATUS}Success (evidence), Unavailable (deferred) or Failure (error)"
                ),
            ));
        }
    }
    if kind == OotsKind::DeferredResponse && slot("ResponseAvailableDateTime").is_none() {
        return Err(missing(
            "ResponseAvailableDateTime slot (a deferred response says when the evidence will be available)",
        ));
    }
    let (id_text, id_name) = match kind {
        OotsKind::EvidenceRequest => (attrs.id.as_deref(), "id attribute"),
        _ => (
            slot("EvidenceResponseIdentifier"),
            "EvidenceResponseIdentifier slot",
        ),
    };
    let id_text = id_text
        .map(|s| s.trim_matches(XML_SPACE))
        .filter(|t| !t.is_empty())
        .ok_or_else(|| missing(id_name))?;
    let message_id = MessageId::parse(id_text)
        .map_err(|e| MessageError::new(Kind::Header, format!("{id_name}: {e}")))?;
    let created = match kind {
        OotsKind::ErrorResponse => text_at(
            nodes,
            &["Exception", "Slot:Timestamp", "SlotValue", "Value"],
        )
        .ok_or_else(|| missing("Timestamp slot in its rs:Exception"))?,
        _ => slot("IssueDateTime").ok_or_else(|| missing("IssueDateTime slot"))?,
    };
    let (author, reader) = match kind {
        OotsKind::EvidenceRequest => ("EvidenceRequester", "EvidenceProvider"),
        OotsKind::EvidenceResponse | OotsKind::DeferredResponse => {
            ("EvidenceProvider", "EvidenceRequester")
        }
        OotsKind::ErrorResponse => ("ErrorProvider", "EvidenceRequester"),
    };
    let in_reply_to = match kind {
        OotsKind::EvidenceRequest => None,
        _ => {
            let id = attrs
                .request_id
                .as_deref()
                .ok_or_else(|| missing("requestId attribute"))?;
            Some(
                MessageId::parse(id)
                    .map_err(|e| MessageError::new(Kind::Header, format!("requestId: {e}")))?,
            )
        }
    };
    Ok(Header {
        form: HeaderForm::OotsEdm,
        message_id,
        process_id: None,
        message_type: MessageType {
            code: kind.code().to_owned(),
            name: None,
            list_uri: slot("SpecificationIdentifier").map(str::to_owned),
            list_version: None,
        },
        created: created.to_owned(),
        author: agent(nodes, author),
        reader: agent(nodes, reader),
        in_reply_to,
        author_name_only: None,
        author_contact_only: false,
        reader_name_only: None,
        type_in_header: None,
        further_readers: Vec::new(),
        further_readers_without_id: 0,
    })
}

/// The `sdg:Agent` of an OOTS slot that the message is from or to: where
/// the slot holds several (a collection with an intermediary platform,
/// `IP`, beside the agent), the one classified as the slot's role (`ER`
/// requester, `EP` provider, `ERRP` error provider), else the first not
/// classified `IP`, else the first. `schemeID`
/// `urn:cef.eu:names:identifier:EAS:<code>` gives directory `EAS` and
/// prefix `<code>`; another scheme is the prefix as is.
fn agent(nodes: &[Node], slot: &str) -> Option<Authority> {
    let role = match slot {
        "EvidenceRequester" => "ER",
        "EvidenceProvider" => "EP",
        _ => "ERRP",
    };
    let slot = format!("Slot:{slot}");
    let agents: Vec<usize> = nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| {
            n.path.first() == Some(&slot) && n.path.last().map(String::as_str) == Some("Agent")
        })
        .map(|(i, _)| i)
        .collect();
    // An agent's own children follow it, before any node not under it.
    let children = |agent: usize| {
        let depth = nodes[agent].path.len();
        nodes[agent + 1..]
            .iter()
            .take_while(move |n| n.path.len() > depth && n.path[..depth] == nodes[agent].path[..])
            .filter(move |n| n.path.len() == depth + 1)
    };
    let class = |agent: usize| {
        children(agent)
            .find(|n| n.path.last().map(String::as_str) == Some("Classification"))
            .map(|n| n.text.trim_matches(XML_SPACE).to_owned())
    };
    let agent = agents
        .iter()
        .copied()
        .find(|&a| class(a).as_deref() == Some(role))
        .or_else(|| {
            agents
                .iter()
                .copied()
                .find(|&a| class(a).as_deref() != Some("IP"))
        })
        .or_else(|| agents.first().copied())?;
    let child =
        |name: &str| children(agent).find(|n| n.path.last().map(String::as_str) == Some(name));
    let identifier = child("Identifier")?;
    let id = identifier.text.trim_matches(XML_SPACE);
    if id.is_empty() {
        return None;
    }
    let (directory, prefix) = match identifier.scheme_id.as_deref() {
        Some(s) => match s.strip_prefix(EAS_SCHEME_PREFIX) {
            Some(code) => (Some("EAS".to_owned()), Some(code.to_owned())),
            None => (None, Some(s.to_owned())),
        },
        None => (None, None),
    };
    Some(Authority {
        directory,
        prefix,
        id: id.to_owned(),
        name: child("Name")
            .map(|n| n.text.trim_matches(XML_SPACE).to_owned())
            .filter(|n| !n.is_empty()),
    })
}
