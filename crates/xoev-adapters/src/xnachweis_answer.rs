//! The parts of an XNachweis 1.2.0 answer (`DE.EvidenceResponse.0102`,
//! `DE.EvidenceErrorResponse.0103`) that every answer adapter writes the
//! same way: the root with its namespaces, the XÖV header, the status
//! preamble, agents and multilingual names.

use crate::context::Context;
use crate::error::AdapterError;
use crate::xml::Writer;
use crate::xnachweis::{self as xn, Agent, HeaderParty, RequestFacts};

/// Root element of an evidence answer.
pub(crate) const RESPONSE: &str = "DE.EvidenceResponse.0102";
/// Root element of an error answer.
pub(crate) const ERROR_RESPONSE: &str = "DE.EvidenceErrorResponse.0103";
const SPEC: &str = "urn:xoev-de:bva:standard:xnachweis_1.2.0";
const STATUS_LIST: &str = "urn:xoev-de:xnachweis:codeliste:responsestatustype";
/// RegRep status of an evidence answer.
const SUCCESS: &str = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success";
/// RegRep status of an error answer.
const FAILURE: &str = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure";
/// RegRep status of a deferred answer (the evidence follows by a date).
pub(crate) const UNAVAILABLE: &str =
    "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Unavailable";
/// RegRep severity of an error.
pub(crate) const SEVERITY: &str = "urn:oasis:names:tc:ebxmlregrep:ErrorSeverityType:Error";

/// The original request's facts, which answer adapter `adapter` cannot do
/// without.
pub(crate) fn original_request<'c>(
    ctx: &'c Context,
    adapter: &str,
) -> Result<&'c RequestFacts, AdapterError> {
    ctx.request
        .as_ref()
        .ok_or_else(|| AdapterError::MissingContext {
            adapter: adapter.into(),
            what: "the original evidence request (request)".into(),
        })
}

/// A new answer `root` ([`RESPONSE`]: status Success, [`ERROR_RESPONSE`]:
/// Failure) to request `request_id`: root, XÖV header from `author` to
/// `reader`, status preamble — the rest of the body follows.
pub(crate) fn begin(
    root: &str,
    request: &RequestFacts,
    ctx: &Context,
    reader: &HeaderParty,
    author: &HeaderParty,
) -> Writer {
    let status = if root == ERROR_RESPONSE {
        FAILURE
    } else {
        SUCCESS
    };
    begin_with_status(root, status, request, ctx, reader, author)
}

/// [`begin`] with RegRep status `status` ([`UNAVAILABLE`]: a deferred
/// evidence answer).
pub(crate) fn begin_with_status(
    root: &str,
    status: &str,
    request: &RequestFacts,
    ctx: &Context,
    reader: &HeaderParty,
    author: &HeaderParty,
) -> Writer {
    let mut w = Writer::new();
    open_root(&mut w, root, &request.request_id, request.test.as_deref());
    header(&mut w, ctx, root, reader, author);
    preamble(&mut w, ctx, status);
    w
}

/// Opens the answer's root `root`, answering the request `request_id`; a
/// test request's answer is marked `test` like it.
fn open_root(w: &mut Writer, root: &str, request_id: &str, test: Option<&str>) {
    let mut attrs = vec![
        ("xmlns:xn-de", xn::NS_DE),
        ("xmlns:xn-bk", xn::NS_BK),
        ("xmlns:xn-bdt", xn::NS_BDT),
        ("xmlns:xn-eu-edm", xn::NS_EDM),
        ("xmlns:bn-g2g", xn::NS_G2G),
        ("xmlns:bn-beh", xn::NS_BEH),
        ("produkt", "xoev-gateway"),
        ("produkthersteller", "xoev-gateway project"),
        ("produktversion", env!("CARGO_PKG_VERSION")),
        ("standard", "XNachweis"),
        ("version", "1.2.0"),
        ("requestid", request_id),
    ];
    if let Some(test) = test {
        attrs.push(("test", test));
    }
    w.open(&format!("xn-de:{root}"), &attrs);
}

/// The XÖV header: a new message id, `message_type`, now, reader, author.
fn header(
    w: &mut Writer,
    ctx: &Context,
    message_type: &str,
    reader: &HeaderParty,
    author: &HeaderParty,
) {
    w.open("xn-bk:nachrichtenkopf", &[])
        .open("xn-bk:identifikation.nachricht", &[])
        .leaf(
            "xn-bk:nachrichtenUUID",
            &[],
            &ctx.id("xnachweis-message").to_string(),
        )
        .code(
            "xn-bk:nachrichtentyp",
            &[("listVersionID", "1.2.0")],
            message_type,
        )
        .leaf("xn-bk:erstellungszeitpunkt", &[], &ctx.timestamp())
        .close();
    for (element, p) in [("bn-g2g:leser", reader), ("bn-g2g:autor", author)] {
        w.open(element, &[])
            .code(
                "bn-beh:verzeichnisdienst",
                &[("listVersionID", "3")],
                &p.directory,
            )
            .leaf("bn-beh:kennung", &[], &p.id)
            .leaf("bn-beh:name", &[], &p.name)
            .close();
    }
    w.close();
}

/// A multilingual name (`xn-bdt:String.Multilingual`) in language `lang`
/// (ISO 639-1, lower case).
pub(crate) fn name(w: &mut Writer, element: &str, value: &str, lang: &str) {
    w.open(element, &[])
        .leaf("xn-bdt:value", &[], value)
        .code("xn-bdt:lang", &[("listVersionID", "1")], lang)
        .close();
}

/// An agent: identifier, name (in `lang`), role `classification`.
pub(crate) fn agent(w: &mut Writer, element: &str, a: &Agent, lang: &str, classification: &str) {
    w.open(element, &[])
        .leaf("xn-bk:Identifier", &[("schemeID", &a.scheme)], &a.id);
    name(w, "xn-bk:Name", &a.name, lang);
    w.code(
        "xn-eu-edm:Classification",
        &[("listVersionID", "1")],
        classification,
    )
    .close();
}

/// Every requester of the original request, each in its own role (`ER`
/// where the request gave none).
pub(crate) fn requesters(w: &mut Writer, request: &RequestFacts, lang: &str) {
    for a in request.all_requesters() {
        let role = a.classification.as_deref().unwrap_or("ER");
        agent(w, "xn-de:EvidenceRequester", a, lang, role);
    }
}

/// Status, specification, a new response id and the issue time.
fn preamble(w: &mut Writer, ctx: &Context, status: &str) {
    w.code(
        "xn-de:status",
        &[("listURI", STATUS_LIST), ("listVersionID", "1")],
        status,
    )
    .leaf("xn-de:SpecificationIdentifier", &[], SPEC)
    .leaf(
        "xn-de:EvidenceResponseIdentifier",
        &[],
        &ctx.id("evidence-response").to_string(),
    )
    .leaf("xn-de:IssueDateTime", &[], &ctx.timestamp());
}

/// One exception of an error answer: its EDM error code, a text if there
/// is one, when, how severe.
pub(crate) fn exception(
    w: &mut Writer,
    code: &str,
    detail: Option<&str>,
    timestamp: &str,
    severity: &str,
) {
    w.open("xn-de:Exception", &[])
        .code("xn-bk:Code", &[("listVersionID", "1")], code);
    if let Some(detail) = detail {
        w.leaf("xn-bk:Detail", &[], detail);
    }
    w.leaf("xn-bk:Timestamp", &[], timestamp)
        .leaf("xn-bk:Severity", &[], severity)
        .close();
}
