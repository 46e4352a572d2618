//! XEStB 1.0.0, the project's standard for income-tax assessment data
//! (`schemas/xestb/1.0.0/xestb.xsd`): names, the message frame with the XÖV
//! base header, and the parsed assessment answer.

use crate::error::AdapterError;
use crate::minimise::{AssessmentField, parse_cents};
use crate::xml::{Reader, Writer};
use crate::xnachweis::HeaderParty;
use libxml::tree::Document;

/// The standard's name in the catalogue.
pub const STANDARD: &str = "XEStB";
/// The version.
pub const VERSION: &str = "1.0.0";
/// The namespace.
pub const NS: &str = "urn:xoev-gateway:standard:xestb";
/// The assessment-data request.
pub const REQUEST: &str = "xestb.bescheiddatenAnfrage.0101";
/// The assessment-data answer.
pub const ANSWER: &str = "xestb.bescheiddatenAntwort.0102";
/// The error answer.
pub const ERROR: &str = "xestb.fehler.0103";
/// The minimised evidence document.
pub const EVIDENCE: &str = "xestb.einkommensnachweis";

pub(crate) const PREFIXES: &[(&str, &str)] = &[
    ("xestb", NS),
    ("g2g", crate::xnachweis::NS_G2G),
    ("beh", crate::xnachweis::NS_BEH),
];

/// Opens a message root with the XÖV attributes (`test` where the message
/// is a test message).
pub(crate) fn open_message(w: &mut Writer, root: &str, test: Option<&str>) {
    let mut attrs = vec![
        ("xmlns:xestb", NS),
        ("xmlns:bn-g2g", crate::xnachweis::NS_G2G),
        ("xmlns:bn-beh", crate::xnachweis::NS_BEH),
        ("standard", STANDARD),
        ("version", VERSION),
        ("produkt", "xoev-gateway"),
        ("produkthersteller", "xoev-gateway project"),
        ("produktversion", env!("CARGO_PKG_VERSION")),
    ];
    if let Some(test) = test {
        attrs.push(("test", test));
    }
    w.open(&format!("xestb:{root}"), &attrs);
}

/// Writes `bn-g2g:nachrichtenkopf.g2g`.
pub(crate) fn header(
    w: &mut Writer,
    message_id: &str,
    message_type: &str,
    created: &str,
    reader: &HeaderParty,
    author: &HeaderParty,
) {
    let code = message_type.rsplit('.').next().unwrap_or(message_type);
    w.open("bn-g2g:nachrichtenkopf.g2g", &[])
        .open("bn-g2g:identifikation.nachricht", &[])
        .leaf("bn-g2g:nachrichtenUUID", &[], message_id);
    w.open(
        "bn-g2g:nachrichtentyp",
        &[
            ("listURI", "urn:xoev-gateway:codeliste:xestb-nachrichten"),
            ("listVersionID", "1.0"),
        ],
    )
    .leaf("code", &[], code)
    .leaf("name", &[], message_type)
    .close();
    w.leaf("bn-g2g:erstellungszeitpunkt", &[], created).close();
    for (element, party) in [("bn-g2g:leser", reader), ("bn-g2g:autor", author)] {
        w.open(element, &[])
            .code(
                "bn-beh:verzeichnisdienst",
                &[
                    ("listURI", "urn:xoev-de:kosit:codeliste:verzeichnisdienst"),
                    ("listVersionID", "3"),
                ],
                &party.directory,
            )
            .leaf("bn-beh:kennung", &[], &party.id)
            .leaf("bn-beh:name", &[], &party.name)
            .close();
    }
    w.close();
}

/// A person named in an assessment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Person {
    pub tax_id: String,
}

/// The parsed assessment answer (what the answer adapter needs of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Assessment {
    pub author: HeaderParty,
    pub reader: HeaderParty,
    pub original_request: String,
    pub office_number: String,
    pub office_name: String,
    pub year: i32,
    pub persons: Vec<Person>,
    /// Each evidence field's value as written (amounts validated).
    pub values: Vec<(AssessmentField, String)>,
}

/// The parsed error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub author: HeaderParty,
    pub reader: HeaderParty,
    pub original_request: String,
    /// (code, text) per error.
    pub errors: Vec<(String, Option<String>)>,
}

/// An answer from the tax office: assessment or error.
pub(crate) enum Answer {
    Assessment(Assessment),
    Failure(Failure),
}

fn party(r: &Reader<'_>, root: &str, which: &str) -> Result<HeaderParty, AdapterError> {
    let base = format!("{root}/g2g:nachrichtenkopf.g2g/g2g:{which}");
    let field = format!("nachrichtenkopf.g2g/{which}");
    Ok(HeaderParty {
        directory: r
            .text(&format!("{base}/beh:verzeichnisdienst/code"), None)
            .unwrap_or_else(|| "DVDV".into()),
        id: r.require(
            &format!("{base}/beh:kennung"),
            None,
            &format!("{field}/kennung"),
            "the header names both authorities",
        )?,
        name: r.require(
            &format!("{base}/beh:name"),
            None,
            &format!("{field}/name"),
            "the header names both authorities",
        )?,
    })
}

/// The `bezug/anfrageUUID` of an XEStB answer (0102 or 0103): the
/// `nachrichtenUUID` of the request it answers, trimmed; `None` if the
/// document has none or it is empty.
pub fn answer_reference(doc: &Document) -> Option<String> {
    let r = Reader::new(doc, PREFIXES).ok()?;
    r.text("xestb:bezug/xestb:anfrageUUID", Some(r.root()))
}

/// Reads an XEStB answer (0102 or 0103).
pub(crate) fn read_answer(doc: &Document, adapter: &str) -> Result<Answer, AdapterError> {
    let r = Reader::new(doc, PREFIXES)?;
    if r.root_is(NS, ERROR) {
        let root = format!("/xestb:{ERROR}");
        let mut errors = Vec::new();
        for n in r.nodes(&format!("{root}/xestb:fehler"), None) {
            let code = r.require(
                "xestb:code",
                Some(n),
                "fehler/code",
                "an error names its kind",
            )?;
            errors.push((code, r.text("xestb:text", Some(n))));
        }
        if errors.is_empty() {
            return Err(AdapterError::missing(
                "fehler",
                "an error answer carries at least one error",
            ));
        }
        return Ok(Answer::Failure(Failure {
            author: party(&r, &root, "autor")?,
            reader: party(&r, &root, "leser")?,
            original_request: r.require(
                &format!("{root}/xestb:bezug/xestb:ursprungsanfrage"),
                None,
                "bezug/ursprungsanfrage",
                "answers are correlated to the original request",
            )?,
            errors,
        }));
    }
    if !r.root_is(NS, ANSWER) {
        return Err(AdapterError::UnexpectedMessage {
            adapter: adapter.into(),
            expected: format!("{{{NS}}}{ANSWER} or {{{NS}}}{ERROR}"),
            found: r.root_name(),
        });
    }
    let root = format!("/xestb:{ANSWER}");
    let b = format!("{root}/xestb:steuerbescheid");
    let year_text = r.require(
        &format!("{b}/xestb:veranlagungsjahr"),
        None,
        "steuerbescheid/veranlagungsjahr",
        "the assessment is for one year",
    )?;
    let year = crate::xnachweis::parse_year(&year_text).ok_or_else(|| {
        AdapterError::invalid(
            "steuerbescheid/veranlagungsjahr",
            format!("{year_text:?} is not a four-digit year"),
        )
    })?;
    let mut persons = Vec::new();
    for n in r.nodes(&format!("{b}/xestb:steuerpflichtiger"), None) {
        persons.push(Person {
            tax_id: r.require(
                "xestb:steuerIdNr",
                Some(n),
                "steuerbescheid/steuerpflichtiger/steuerIdNr",
                "persons are identified by tax id",
            )?,
        });
    }
    let art = r.require(
        &format!("{b}/xestb:veranlagungsart"),
        None,
        "steuerbescheid/veranlagungsart",
        "joint or individual assessment",
    )?;
    let expected_persons = match art.as_str() {
        "Zusammenveranlagung" => 2,
        "Einzelveranlagung" => 1,
        other => {
            return Err(AdapterError::invalid(
                "steuerbescheid/veranlagungsart",
                format!("{other:?} is neither Zusammenveranlagung nor Einzelveranlagung"),
            ));
        }
    };
    if persons.len() != expected_persons {
        return Err(AdapterError::invalid(
            "steuerbescheid/steuerpflichtiger",
            format!(
                "{art} names {expected_persons} person(s), the answer names {}",
                persons.len()
            ),
        ));
    }
    let mut values = Vec::new();
    for f in AssessmentField::ALL {
        let path = format!("steuerbescheid/{}", f.element());
        let Some(v) = r.text(&format!("{b}/xestb:{}", f.element()), None) else {
            continue; // optional in the schema (Kirchensteuer); required ones fail XSD validation first
        };
        if f.is_amount() && parse_cents(&v).is_none() {
            return Err(AdapterError::invalid(
                &path,
                format!("{v:?} is not an amount in euros"),
            ));
        }
        values.push((f, v));
    }
    Ok(Answer::Assessment(Assessment {
        author: party(&r, &root, "autor")?,
        reader: party(&r, &root, "leser")?,
        original_request: r.require(
            &format!("{root}/xestb:bezug/xestb:ursprungsanfrage"),
            None,
            "bezug/ursprungsanfrage",
            "answers are correlated to the original request",
        )?,
        office_number: r.require(
            &format!("{b}/xestb:finanzamt/xestb:finanzamtsnummer"),
            None,
            "steuerbescheid/finanzamt/finanzamtsnummer",
            "the issuing authority is named",
        )?,
        office_name: r.require(
            &format!("{b}/xestb:finanzamt/xestb:name"),
            None,
            "steuerbescheid/finanzamt/name",
            "the issuing authority is named",
        )?,
        year,
        persons,
        values,
    }))
}
