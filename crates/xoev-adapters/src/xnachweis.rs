//! What the gateway reads from an XNachweis 1.2.0 evidence request
//! (`DE.EvidenceRequest.0101`), shared by both directions of the Kita case.
//!
//! XNachweis has no element for the assessment year, the purpose or the
//! consent reference. They travel as `SectorSpecificAttribute`s of the
//! evidence subject (`Query/LegalOrNaturalPerson/NaturalPerson`), the one
//! key–value slot of the request, identified by their `AttributeURI`:
//! [`ATTR_YEAR`], [`ATTR_PURPOSE`], [`ATTR_CONSENT`] (see docs/adapters.md).

use crate::error::AdapterError;
use crate::xml::{Elem, Reader};
use libxml::tree::Document;
use serde::{Deserialize, Serialize};

/// Namespace of the XNachweis NOOTS messages.
pub const NS_DE: &str = "urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-de-noots";
/// Namespace of the XNachweis building blocks.
pub const NS_BK: &str = "urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-baukasten";
/// Namespace of the XNachweis base data types.
pub const NS_BDT: &str = "urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-basisdatentypen";
/// Namespace of the XNachweis EU-EDM types.
pub const NS_EDM: &str = "urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-eu-edm";
/// Namespace of the XÖV base message header (g2g 1.1).
pub const NS_G2G: &str = "http://xoev.de/schemata/basisnachricht/g2g/1_1";
/// Namespace of the XÖV base authority type.
pub const NS_BEH: &str = "http://xoev.de/schemata/basisnachricht/behoerde/1_1";

/// `AttributeURI` of the assessment year parameter.
pub const ATTR_YEAR: &str = "urn:xoev-gateway:nachweisparameter:veranlagungsjahr";
/// `AttributeURI` of the purpose parameter.
pub const ATTR_PURPOSE: &str = "urn:xoev-gateway:nachweisparameter:zweck";
/// `AttributeURI` of the consent reference parameter.
pub const ATTR_CONSENT: &str = "urn:xoev-gateway:nachweisparameter:einwilligung";

pub(crate) const PREFIXES: &[(&str, &str)] = &[
    ("de", NS_DE),
    ("bk", NS_BK),
    ("bdt", NS_BDT),
    ("edm", NS_EDM),
    ("g2g", NS_G2G),
    ("beh", NS_BEH),
];

/// The root element of an evidence request.
pub const REQUEST_ROOT: &str = "DE.EvidenceRequest.0101";

/// An authority as named in the XÖV header (`autor`, `leser`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderParty {
    /// Directory service code, e.g. `DVDV`.
    pub directory: String,
    /// The authority's id (`kennung`), e.g. `ags:06611000`.
    pub id: String,
    /// The authority's name.
    pub name: String,
}

/// An XNachweis agent (`EvidenceRequester`, `EvidenceProvider`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// The EAS scheme of the identifier, e.g. `urn:cef.eu:names:identifier:EAS:0204`.
    pub scheme: String,
    /// The identifier.
    pub id: String,
    /// The agent's name.
    pub name: String,
    /// Its role (`Classification`): `ER` the evidence requester, `IP` an
    /// intermediary platform, `EP` the provider, …; `None` where not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<String>,
}

impl Agent {
    /// The identifier as the authority directory writes other ids of an
    /// authority: `<EAS code>:<id>` (`0204:06611000-KITA-01` for scheme
    /// `urn:cef.eu:names:identifier:EAS:0204`); `None` for another scheme.
    pub fn directory_key(&self) -> Option<String> {
        let (_, code) = self.scheme.trim().rsplit_once(":EAS:")?;
        (!code.is_empty()).then(|| format!("{code}:{}", self.id))
    }
}

/// The evidence subject's identity data (besides the tax id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// Family name.
    pub family_name: String,
    /// Given name(s).
    pub given_name: String,
    /// Date of birth (`xs:date`).
    pub date_of_birth: String,
    /// eIDAS level of assurance code, e.g. `High`.
    pub level_of_assurance: String,
}

/// The facts of an XNachweis evidence request that the Kita case needs,
/// in both directions: the request adapter translates them, the answer
/// adapter checks the answer against them and minimises by their purpose.
///
/// The gateway keeps them with the case (they serialise to JSON/TOML) and
/// hands them to the answer adapter in [`crate::Context::request`]. They
/// contain the tax id: store them like the message itself, never log them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestFacts {
    /// The request's `id` attribute (`urn:uuid:…`), which the answer's `requestid` repeats.
    pub request_id: String,
    /// The header's `nachrichtenUUID`.
    pub message_id: String,
    /// The header's author (the requesting authority).
    pub author: HeaderParty,
    /// The header's reader (the evidence provider).
    pub reader: HeaderParty,
    /// The evidence requester: the `EvidenceRequester` classified `ER`,
    /// else the first.
    pub requester: Agent,
    /// Every `EvidenceRequester` of the request, in its order (the
    /// evidence requester and, say, intermediary platforms): the answer
    /// names them all, and an EU answer may be addressed to any of them.
    /// Empty in cases kept before the field existed
    /// ([`RequestFacts::all_requesters`] then gives `requester`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requesters: Vec<Agent>,
    /// The `EvidenceProvider`.
    pub provider: Agent,
    /// `RequestedEvidenceType/EvidenceTypeClassification`.
    pub evidence_type: String,
    /// `RequestedEvidenceType/Title` (first).
    pub evidence_title: String,
    /// The evidence subject.
    pub subject: Subject,
    /// The subject's tax identification number (`IDNr`, 11 digits).
    pub tax_id: String,
    /// The assessment year asked for.
    pub year: i32,
    /// The purpose (a URI), e.g. `urn:xoev-gateway:zweck:kita-beitrag`.
    pub purpose: String,
    /// The consent reference.
    pub consent: String,
    /// The authority the gateway forwarded the request to, set when it
    /// keeps the request with the case: only that authority's answer may
    /// claim it. `None` when read from a document (and in cases kept
    /// before the field existed, which any answer may claim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded_to: Option<String>,
    /// The request root's `test` attribute (XÖV: a test message). The
    /// request's translation and the answer to it carry it too, so that a
    /// test case stays out of productive processing on every side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
}

/// Field names used in errors, as paths in the XNachweis request.
pub(crate) mod field {
    pub const PERSON: &str = "Query/LegalOrNaturalPerson/NaturalPerson";
    pub const IDNR: &str = "Query/LegalOrNaturalPerson/NaturalPerson/IDNr";
    pub const YEAR: &str = "NaturalPerson/SectorSpecificAttribute[urn:xoev-gateway:nachweisparameter:veranlagungsjahr]";
    pub const PURPOSE: &str =
        "NaturalPerson/SectorSpecificAttribute[urn:xoev-gateway:nachweisparameter:zweck]";
    pub const CONSENT: &str =
        "NaturalPerson/SectorSpecificAttribute[urn:xoev-gateway:nachweisparameter:einwilligung]";
}

impl RequestFacts {
    /// Reads the facts from an XNachweis `DE.EvidenceRequest.0101`.
    ///
    /// Errors name the missing or invalid field: no natural person, no
    /// `IDNr` (the tax office finds the assessment by it), no or a malformed
    /// year, no purpose, no consent reference.
    pub fn from_xnachweis(input: &[u8]) -> Result<Self, AdapterError> {
        Self::from_document(&crate::xml::parse(input)?)
    }

    /// Reads the facts from an already parsed XNachweis
    /// `DE.EvidenceRequest.0101` (the gateway's one parse of the message),
    /// with the same checks and errors as [`RequestFacts::from_xnachweis`].
    pub fn from_document(doc: &Document) -> Result<Self, AdapterError> {
        let r = Reader::new(doc, PREFIXES)?;
        if !r.root_is(NS_DE, REQUEST_ROOT) {
            return Err(AdapterError::UnexpectedMessage {
                adapter: "xnachweis".into(),
                expected: format!("{{{NS_DE}}}{REQUEST_ROOT}"),
                found: r.root_name(),
            });
        }
        let root = "/de:DE.EvidenceRequest.0101";
        let kopf = format!("{root}/bk:nachrichtenkopf");
        let party = |which: &str| -> Result<HeaderParty, AdapterError> {
            let base = format!("{kopf}/g2g:{which}");
            let field = format!("nachrichtenkopf/{which}");
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
        };
        let agent_at = |node: Elem<'_>, field: &str| -> Result<Agent, AdapterError> {
            let id = r.first("bk:Identifier", Some(node)).ok_or_else(|| {
                AdapterError::missing(&format!("{field}/Identifier"), "agents are identified")
            })?;
            Ok(Agent {
                scheme: id.attribute("schemeID").unwrap_or_default(),
                id: id.text().trim().to_owned(),
                name: r.require(
                    "bk:Name[1]/bdt:value",
                    Some(node),
                    &format!("{field}/Name"),
                    "agents are named",
                )?,
                classification: r.text("edm:Classification/code", Some(node)),
            })
        };
        let agent = |xpath: &str, field: &str| -> Result<Agent, AdapterError> {
            let node = r
                .first(xpath, None)
                .ok_or_else(|| AdapterError::missing(field, "the answer names both agents"))?;
            agent_at(node, field)
        };
        let requesters = r
            .nodes(&format!("{root}/de:EvidenceRequester"), None)
            .into_iter()
            .map(|node| agent_at(node, "EvidenceRequester"))
            .collect::<Result<Vec<_>, _>>()?;
        let requester = requesters
            .iter()
            .find(|a| a.classification.as_deref() == Some("ER"))
            .or(requesters.first())
            .cloned()
            .ok_or_else(|| {
                AdapterError::missing("EvidenceRequester", "the answer names both agents")
            })?;

        let person = r
            .first(
                &format!("{root}/de:Query/bk:LegalOrNaturalPerson/bk:NaturalPerson"),
                None,
            )
            .ok_or_else(|| {
                AdapterError::missing(
                    field::PERSON,
                    "an income-tax assessment concerns a natural person",
                )
            })?;
        let tax_id = r.require(
            "bk:IDNr",
            Some(person),
            field::IDNR,
            "the tax office finds the assessment by the tax identification number",
        )?;
        // Never quote the value: it is personal data and ends up in dead letters.
        if !(tax_id.len() == 11
            && tax_id.bytes().all(|b| b.is_ascii_digit())
            && !tax_id.starts_with('0'))
        {
            return Err(AdapterError::invalid(
                field::IDNR,
                "a tax identification number has exactly 11 digits and does not start with 0",
            ));
        }
        // bk:SectorSpecificAttribute[normalize-space(bk:AttributeURI)=uri]/bk:AttributeValue,
        // the attributes read once for the three look-ups
        let attributes: Vec<_> = r
            .nodes("bk:SectorSpecificAttribute", Some(person))
            .into_iter()
            .map(|a| {
                let uri = r
                    .first("bk:AttributeURI", Some(a))
                    .map(|u| normalize_space(&u.text()));
                (uri, r.first("bk:AttributeValue", Some(a)))
            })
            .collect();
        // An attribute given twice with different values is ambiguous: the
        // tax office must not answer for a year, purpose or consent the
        // requester may not have meant.
        let attr = |uri: &str, field: &str| -> Result<Option<String>, AdapterError> {
            let mut values = attributes
                .iter()
                .filter(|(u, _)| u.as_deref() == Some(uri))
                .filter_map(|(_, value)| *value)
                .map(|v| v.text().trim().to_owned())
                .filter(|s| !s.is_empty());
            let first = values.next();
            if let Some(first) = &first
                && values.any(|other| other != *first)
            {
                return Err(AdapterError::invalid(
                    field,
                    "given more than once with different values: the request is ambiguous",
                ));
            }
            Ok(first)
        };
        let year_text = attr(ATTR_YEAR, field::YEAR)?.ok_or_else(|| {
            AdapterError::missing(
                field::YEAR,
                "the evidence is the income of one assessment year",
            )
        })?;
        let year = parse_year(&year_text).ok_or_else(|| {
            AdapterError::invalid(
                field::YEAR,
                format!("{year_text:?} is not a four-digit year"),
            )
        })?;
        let purpose = attr(ATTR_PURPOSE, field::PURPOSE)?.ok_or_else(|| {
            AdapterError::missing(
                field::PURPOSE,
                "what may be passed on depends on the purpose",
            )
        })?;
        let consent = attr(ATTR_CONSENT, field::CONSENT)?.ok_or_else(|| {
            AdapterError::missing(
                field::CONSENT,
                "the tax office answers only with the citizen's consent",
            )
        })?;
        let evidence = format!("{root}/de:Query/bk:RequestedEvidenceType");
        Ok(Self {
            request_id: r
                .root()
                .attribute_no_ns("id")
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    AdapterError::missing("@id", "answers refer to the request by it")
                })?,
            message_id: r.require(
                &format!("{kopf}/bk:identifikation.nachricht/bk:nachrichtenUUID"),
                None,
                "nachrichtenkopf/identifikation.nachricht/nachrichtenUUID",
                "every message has an id",
            )?,
            author: party("autor")?,
            reader: party("leser")?,
            requester,
            requesters,
            provider: agent(&format!("{root}/de:EvidenceProvider"), "EvidenceProvider")?,
            evidence_type: r.require(
                &format!("{evidence}/bk:EvidenceTypeClassification"),
                None,
                "Query/RequestedEvidenceType/EvidenceTypeClassification",
                "minimisation is configured per evidence type",
            )?,
            evidence_title: r.require(
                &format!("{evidence}/bk:Title[1]/bdt:value"),
                None,
                "Query/RequestedEvidenceType/Title",
                "the evidence answer names the evidence type",
            )?,
            subject: Subject {
                family_name: r.require(
                    "bk:FamilyName",
                    Some(person),
                    "NaturalPerson/FamilyName",
                    "part of the eIDAS minimum data set",
                )?,
                given_name: r.require(
                    "bk:GivenName",
                    Some(person),
                    "NaturalPerson/GivenName",
                    "part of the eIDAS minimum data set",
                )?,
                date_of_birth: r.require(
                    "bk:DateOfBirth",
                    Some(person),
                    "NaturalPerson/DateOfBirth",
                    "part of the eIDAS minimum data set",
                )?,
                level_of_assurance: r
                    .text("bk:LevelOfAssurance/code", Some(person))
                    .unwrap_or_else(|| "High".into()),
            },
            tax_id,
            year,
            purpose,
            consent,
            forwarded_to: None,
            test: r
                .root()
                .attribute_no_ns("test")
                .map(|t| t.trim().to_owned()),
        })
    }

    /// Every requester of the request: [`RequestFacts::requesters`], or
    /// `requester` alone for a case kept before that field existed.
    pub fn all_requesters(&self) -> &[Agent] {
        if self.requesters.is_empty() {
            std::slice::from_ref(&self.requester)
        } else {
            &self.requesters
        }
    }

    /// The municipality key (AGS) of the requesting authority, when the
    /// header's author id has the form `ags:NNNNNNNN`.
    pub fn municipality(&self) -> Option<&str> {
        self.author
            .id
            .strip_prefix("ags:")
            .filter(|a| crate::context::check_ags(a).is_ok())
    }
}

/// XPath's `normalize-space`: XML white space trimmed, runs collapsed to one space.
fn normalize_space(s: &str) -> String {
    s.split([' ', '\t', '\n', '\r'])
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `doc` is the evidence request whose `@id` is `request_id`.
pub(crate) fn is_request(doc: &Document, request_id: &str) -> bool {
    Reader::new(doc, PREFIXES).is_ok_and(|r| {
        r.root_is(NS_DE, REQUEST_ROOT)
            && r.root()
                .attribute_no_ns("id")
                .is_some_and(|id| id.trim() == request_id)
    })
}

/// A four-digit year.
pub(crate) fn parse_year(s: &str) -> Option<i32> {
    let s = s.trim();
    if s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}
