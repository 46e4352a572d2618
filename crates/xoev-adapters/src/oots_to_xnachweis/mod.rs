//! `oots-edm-to-xnachweis`: the EU OOTS answer (OASIS RegRep 4
//! `query:QueryResponse`, OOTS-EDM 1.0) to an XNachweis evidence request
//! that left the gateway as an EU OOTS request (`xnachweis-to-oots-edm`)
//! becomes the XNachweis answer the requesting authority understands:
//! status Success → `DE.EvidenceResponse.0102`, Unavailable (deferred: the
//! evidence follows) → `DE.EvidenceResponse.0102` with status Unavailable
//! and `EvidenceAvailability/ResponseAvailableDateTime`, Failure →
//! `DE.EvidenceErrorResponse.0103`.
//!
//! Needs the original XNachweis request's facts in [`Context::request`] (the
//! gateway finds them by the response's `requestId`, under which it kept
//! the request it sent abroad). The answer must name the request's
//! `EvidenceRequester` and, for evidence, its `EvidenceProvider`, else
//! [`AdapterError::CorrelationMismatch`] (an error may come from an
//! intermediary platform, so its `ErrorProvider` is not checked).
//!
//! | EU OOTS response | XNachweis answer |
//! | --- | --- |
//! | — | header: reader = the request's author, author = the request's reader; new message id, now |
//! | Slot `EvidenceProvider` / `ErrorProvider`: `sdg:Agent` (identifier, first name with its language, classification) | `EvidenceProvider` / `ErrorProvider` |
//! | Slot `EvidenceRequester` (checked) | `EvidenceRequester` of the request |
//! | each `rim:RegistryObject` | one `EvidenceAvailability/RegistryObjectList` |
//! | Slot `ResponseAvailableDateTime` (deferred) | `EvidenceAvailability/ResponseAvailableDateTime` |
//! | `@id` | `id` |
//! | `sdg:Evidence`: `IssuingDate`, `ValidityPeriod`, `IssuingAuthority`, `Distribution/Format`, `Distribution/Language` | `EvidenceMetadata`: the same |
//! | — | `IsConformantTo`: the request's evidence type and title |
//! | `rim:RepositoryItemRef` (`xlink:href`, `xlink:title`) or `rim:RepositoryItem` (inline, base64) | `RepositoryItem/RepositoryItemRef` (`href`, `title`) or `RepositoryItem/RepositoryItem` |
//! | `sdg:IsAbout/sdg:NaturalPerson`: date of birth, family and given name | `LegalOrNaturalPerson/NaturalPerson`, level of assurance from the request |
//! | each `rs:Exception` (`@code`, `@message`, Slot `Timestamp`, `@severity`) | `Exception` (`Code`, `Detail`, `Timestamp`, `Severity`) |
//!
//! Not mapped, on purpose: the answer's `EvidenceTypeClassification` and
//! `Distribution/ConformsTo`, `Transformation` — they point into the EU's
//! semantic repository (`https://sr.oots.tech.europa.eu/…`), which the
//! patterns of XNachweis 1.2.0 do not admit (`…tech.ec.europa.eu/…`); the
//! request's evidence type stands for it. A `LegalPerson` subject and any
//! other status (`PartialSuccess`) have no mapping and are refused with the
//! field named. The evidence is passed on as the provider sent it: the
//! gateway cannot minimise a document from abroad it does not know (in the
//! EU OOTS the citizen previews the evidence before it is released).

use crate::adapter::{Adapter, AdapterInfo, AdapterKind, StandardRef};
use crate::context::Context;
use crate::error::AdapterError;
use crate::xml::{Elem, Reader, Writer};
use crate::xnachweis::{Agent, RequestFacts};
use crate::xnachweis_answer::{
    ERROR_RESPONSE, RESPONSE, SEVERITY, UNAVAILABLE, agent, begin, begin_with_status, exception,
    name, original_request, requesters,
};
use libxml::tree::Document;

#[cfg(test)]
mod tests;

/// The adapter's registry name.
pub const NAME: &str = "oots-edm-to-xnachweis";

/// Namespace of RegRep 4 queries (`QueryResponse`).
pub const NS_QUERY: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:query:4.0";
/// Namespace of the RegRep 4 information model (`Slot`, `RegistryObject`).
pub const NS_RIM: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:4.0";
/// Namespace of RegRep 4 responses (`Exception`).
pub const NS_RS: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:4.0";
/// Namespace of the SDG generic metadata profile (`Agent`, `Evidence`).
pub const NS_SDG: &str = "http://data.europa.eu/p4s";

const PREFIXES: &[(&str, &str)] = &[
    ("query", NS_QUERY),
    ("rim", NS_RIM),
    ("rs", NS_RS),
    ("sdg", NS_SDG),
];

const STATUS_PREFIX: &str = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:";
/// XNachweis writes the RegRep severities without the hyphen.
const SEVERITY_PREFIX: &str = "urn:oasis:names:tc:ebxmlregrep:ErrorSeverityType:";

/// EU OOTS evidence answer → XNachweis evidence answer.
#[derive(Debug)]
pub struct OotsToXNachweis {
    info: AdapterInfo,
}

impl OotsToXNachweis {
    /// The adapter.
    pub fn new() -> Self {
        Self {
            info: AdapterInfo {
                name: NAME.into(),
                description: "EU OOTS evidence or error response → XNachweis answer to the \
                              request that left as an OOTS request"
                    .into(),
                source: StandardRef::new("OOTS-EDM", "1.0.0"),
                target: StandardRef::new("XNachweis", "1.2.0"),
                kind: AdapterKind::Builtin,
            },
        }
    }
}

impl Default for OotsToXNachweis {
    fn default() -> Self {
        Self::new()
    }
}

impl Adapter for OotsToXNachweis {
    fn info(&self) -> &AdapterInfo {
        &self.info
    }

    fn translate(&self, input: &[u8], ctx: &Context) -> Result<Vec<u8>, AdapterError> {
        // The missing context is named before the input is looked at.
        original_request(ctx, NAME)?;
        self.translate_document(&crate::xml::parse(input)?, ctx)
    }

    fn translate_document(&self, input: &Document, ctx: &Context) -> Result<Vec<u8>, AdapterError> {
        let facts = original_request(ctx, NAME)?;
        let r = Reader::new(input, PREFIXES)?;
        if !r.root_is(NS_QUERY, "QueryResponse") {
            return Err(AdapterError::UnexpectedMessage {
                adapter: NAME.into(),
                expected: format!("{{{NS_QUERY}}}QueryResponse"),
                found: r.root_name(),
            });
        }
        let root = r.root();
        // The answer goes to an agent that asked (the evidence requester or
        // another requester the request named), nowhere else.
        let requester = slot_agent(&r, root, "EvidenceRequester")?;
        let asked = facts.all_requesters();
        if !asked.iter().any(|a| {
            (a.scheme.as_str(), a.id.as_str()) == (requester.scheme.as_str(), requester.id.as_str())
        }) {
            return Err(AdapterError::CorrelationMismatch {
                field: "Slot EvidenceRequester/Agent/Identifier".into(),
                expected: asked
                    .iter()
                    .map(|a| format!("{} {}", a.scheme, a.id))
                    .collect::<Vec<_>>()
                    .join(" or "),
                found: format!("{} {}", requester.scheme, requester.id),
            });
        }
        let status = root.attribute_no_ns("status").unwrap_or_default();
        match status.trim().strip_prefix(STATUS_PREFIX) {
            Some("Success") => response(&r, facts, ctx),
            Some("Unavailable") => deferred_response(&r, facts, ctx),
            Some("Failure") => error_response(&r, facts, ctx),
            _ => Err(AdapterError::invalid(
                "@status",
                format!(
                    "{:?}: only Success, Unavailable (deferred) and Failure have an XNachweis 1.2.0 answer",
                    status.trim()
                ),
            )),
        }
    }
}

/// The `rim:SlotValue` of the child slot `name` of `parent`.
fn slot<'d>(parent: Elem<'d>, name: &str) -> Option<Elem<'d>> {
    parent
        .children()
        .find(|c| c.is(Some(NS_RIM), "Slot") && c.attribute_no_ns("name").as_deref() == Some(name))
        .and_then(|s| s.children().find(|c| c.is(Some(NS_RIM), "SlotValue")))
}

/// The `sdg:Agent`s of a slot: the value itself (`AnyValueType`) or the
/// elements of a collection (`CollectionValueType`).
fn slot_agents<'d>(r: &Reader<'d>, parent: Elem<'d>, name: &str) -> Vec<Elem<'d>> {
    let Some(value) = slot(parent, name) else {
        return Vec::new();
    };
    let mut agents = r.nodes("sdg:Agent", Some(value));
    agents.extend(r.nodes("rim:Element/sdg:Agent", Some(value)));
    agents
}

/// An agent's identifier, first name and that name's language (ISO 639-1,
/// lower case; `en` where the name does not say).
struct OotsAgent {
    agent: Agent,
    lang: String,
    classification: Option<String>,
}

fn read_agent(r: &Reader<'_>, node: Elem<'_>, field: &str) -> Result<OotsAgent, AdapterError> {
    let id = r.first("sdg:Identifier", Some(node)).ok_or_else(|| {
        AdapterError::missing(&format!("{field}/Identifier"), "agents are identified")
    })?;
    let scheme = id.attribute_no_ns("schemeID").unwrap_or_default();
    let name = r.first("sdg:Name", Some(node));
    Ok(OotsAgent {
        agent: Agent {
            classification: None,
            scheme: scheme.trim().to_owned(),
            id: id.text().trim().to_owned(),
            name: name
                .map(|n| n.text().trim().to_owned())
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    AdapterError::missing(&format!("{field}/Name"), "agents are named")
                })?,
        },
        lang: language(name.and_then(|n| n.attribute_no_ns("lang"))),
        classification: r.text("sdg:Classification", Some(node)),
    })
}

/// A language code as XNachweis writes it: lower case, `en` if none.
fn language(code: Option<String>) -> String {
    code.map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "en".into())
}

/// The one agent of the slot `name` (the first, where there are several).
fn slot_agent(r: &Reader<'_>, root: Elem<'_>, name: &str) -> Result<Agent, AdapterError> {
    let field = format!("Slot {name}/Agent");
    let node = slot_agents(r, root, name)
        .into_iter()
        .next()
        .ok_or_else(|| AdapterError::missing(&field, "the answer names both agents"))?;
    Ok(read_agent(r, node, &field)?.agent)
}

/// The providers of the slot `name`, each with its role (`default` where
/// the agent does not name one).
fn providers(
    r: &Reader<'_>,
    root: Elem<'_>,
    name: &str,
    default: &str,
) -> Result<Vec<OotsAgent>, AdapterError> {
    let field = format!("Slot {name}/Agent");
    let nodes = slot_agents(r, root, name);
    if nodes.is_empty() {
        return Err(AdapterError::missing(
            &field,
            "the answer names who provides it",
        ));
    }
    nodes
        .into_iter()
        .map(|n| {
            let mut a = read_agent(r, n, &field)?;
            a.classification.get_or_insert_with(|| default.to_owned());
            Ok(a)
        })
        .collect()
}

fn write_agent(w: &mut Writer, element: &str, a: &OotsAgent) {
    agent(
        w,
        element,
        &a.agent,
        &a.lang,
        a.classification.as_deref().unwrap_or("EP"),
    );
}

/// `DE.EvidenceResponse.0102` with status Unavailable from a deferred
/// response: no evidence yet, the time it will be available
/// (`EvidenceAvailability/ResponseAvailableDateTime`, as XNachweis 1.2.0
/// has it).
fn deferred_response(
    r: &Reader<'_>,
    f: &RequestFacts,
    ctx: &Context,
) -> Result<Vec<u8>, AdapterError> {
    let providers = asked_providers(r, f)?;
    let when = slot(r.root(), "ResponseAvailableDateTime")
        .and_then(|v| r.text("rim:Value", Some(v)))
        .ok_or_else(|| {
            AdapterError::missing(
                "Slot ResponseAvailableDateTime",
                "a deferred response says when the evidence will be available",
            )
        })?;
    let mut w = begin_with_status(RESPONSE, UNAVAILABLE, f, ctx, &f.author, &f.reader);
    for p in &providers {
        write_agent(&mut w, "xn-de:EvidenceProvider", p);
    }
    requesters(&mut w, f, "de");
    w.open("xn-de:EvidenceAvailability", &[])
        .leaf("xn-de:ResponseAvailableDateTime", &[], &when)
        .close();
    Ok(w.finish())
}

/// The providers of an evidence response, of which the one asked must be
/// one (an intermediary platform may be named beside it).
fn asked_providers(r: &Reader<'_>, f: &RequestFacts) -> Result<Vec<OotsAgent>, AdapterError> {
    let providers = providers(r, r.root(), "EvidenceProvider", "EP")?;
    if !providers
        .iter()
        .any(|p| (&p.agent.scheme, &p.agent.id) == (&f.provider.scheme, &f.provider.id))
    {
        return Err(AdapterError::CorrelationMismatch {
            field: "Slot EvidenceProvider/Agent/Identifier".into(),
            expected: format!("{} {}", f.provider.scheme, f.provider.id),
            found: format!("{} {}", providers[0].agent.scheme, providers[0].agent.id),
        });
    }
    Ok(providers)
}

/// `DE.EvidenceResponse.0102` from a response with status Success.
fn response(r: &Reader<'_>, f: &RequestFacts, ctx: &Context) -> Result<Vec<u8>, AdapterError> {
    // The evidence comes from the provider that was asked.
    let providers = asked_providers(r, f)?;
    let objects = r.nodes("rim:RegistryObjectList/rim:RegistryObject", Some(r.root()));
    if objects.is_empty() {
        return Err(AdapterError::missing(
            "RegistryObjectList/RegistryObject",
            "an evidence answer carries the evidence",
        ));
    }
    let mut w = begin(RESPONSE, f, ctx, &f.author, &f.reader);
    for p in &providers {
        write_agent(&mut w, "xn-de:EvidenceProvider", p);
    }
    requesters(&mut w, f, "de");
    w.open("xn-de:EvidenceAvailability", &[]);
    for (i, object) in objects.into_iter().enumerate() {
        registry_object(&mut w, r, object, i + 1, f)?;
    }
    Ok(w.finish())
}

/// One `rim:RegistryObject` (the `n`th) as an XNachweis `RegistryObjectList`.
fn registry_object(
    w: &mut Writer,
    r: &Reader<'_>,
    object: Elem<'_>,
    n: usize,
    f: &RequestFacts,
) -> Result<(), AdapterError> {
    let field = |path: &str| format!("RegistryObject[{n}]/{path}");
    let id = filled(object.attribute_no_ns("id"))
        .filter(|s| is_urn_uuid(s))
        .ok_or_else(|| {
            AdapterError::invalid(
                &field("@id"),
                "missing or not a urn:uuid (XNachweis identifies a registry object by one)",
            )
        })?;
    let evidence = slot(object, "EvidenceMetadata")
        .and_then(|v| r.first("sdg:Evidence", Some(v)))
        .ok_or_else(|| {
            AdapterError::missing(
                &field("Slot EvidenceMetadata/Evidence"),
                "the evidence is described",
            )
        })?;
    let issued = r.require(
        "sdg:IssuingDate",
        Some(evidence),
        &field("Evidence/IssuingDate"),
        "XNachweis requires the evidence's issuing date",
    )?;
    let authority = r
        .first("sdg:IssuingAuthority", Some(evidence))
        .ok_or_else(|| {
            AdapterError::missing(
                &field("Evidence/IssuingAuthority"),
                "XNachweis requires the evidence's issuer",
            )
        })
        .and_then(|a| read_agent(r, a, &field("Evidence/IssuingAuthority")))?;
    let format = r.require(
        "sdg:Distribution/sdg:Format",
        Some(evidence),
        &field("Evidence/Distribution/Format"),
        "the requester must know how to read the evidence",
    )?;
    let person = r
        .first("sdg:IsAbout/sdg:NaturalPerson", Some(evidence))
        .ok_or_else(|| {
            AdapterError::missing(
                &field("Evidence/IsAbout/NaturalPerson"),
                "this mapping covers natural persons only",
            )
        })?;
    let item = repository_item(r, object, &field, f)?;

    w.open("xn-de:RegistryObjectList", &[])
        .leaf("xn-bk:id", &[], &id)
        .open("xn-bk:EvidenceMetadata", &[])
        .leaf("xn-bk:IssuingDate", &[], &issued);
    if let Some(period) = r.first("sdg:ValidityPeriod", Some(evidence)) {
        let start = r.require(
            "sdg:StartDate",
            Some(period),
            &field("Evidence/ValidityPeriod/StartDate"),
            "a validity period has both ends",
        )?;
        let end = r.require(
            "sdg:EndDate",
            Some(period),
            &field("Evidence/ValidityPeriod/EndDate"),
            "a validity period has both ends",
        )?;
        w.open("xn-bk:ValidityPeriod", &[])
            .leaf("xn-bk:StartDate", &[], &start)
            .leaf("xn-bk:EndDate", &[], &end)
            .close();
    }
    w.open("xn-bk:IssuingAuthority", &[]).leaf(
        "xn-bk:Identifier",
        &[("schemeID", &authority.agent.scheme)],
        &authority.agent.id,
    );
    name(w, "xn-bk:Name", &authority.agent.name, &authority.lang);
    w.close().open("xn-bk:Distribution", &[]).code(
        "xn-bk:Format",
        &[("listVersionID", "1")],
        &format,
    );
    for lang in r.nodes("sdg:Distribution/sdg:Language", Some(evidence)) {
        // an empty one says nothing (rather than the default of a name)
        if let Some(code) = filled(Some(lang.text())) {
            w.code(
                "xn-bk:Language",
                &[("listVersionID", "1")],
                &code.to_ascii_lowercase(),
            );
        }
    }
    w.close().open("xn-bk:IsConformantTo", &[]).leaf(
        "xn-bk:EvidenceTypeClassification",
        &[],
        &f.evidence_type,
    );
    name(w, "xn-bk:Title", &f.evidence_title, "de");
    w.close().close();
    match item {
        Item::Inline(base64) => w
            .open("xn-bk:RepositoryItem", &[])
            .leaf("xn-bk:RepositoryItem", &[], &base64)
            .close(),
        Item::Ref { href, title } => w
            .open("xn-bk:RepositoryItem", &[])
            .leaf(
                "xn-bk:RepositoryItemRef",
                &[("href", &href), ("title", &title)],
                "",
            )
            .close(),
    };
    w.open("xn-bk:LegalOrNaturalPerson", &[])
        .open("xn-bk:NaturalPerson", &[]);
    for (element, path, what) in [
        ("xn-bk:DateOfBirth", "sdg:DateOfBirth", "DateOfBirth"),
        ("xn-bk:FamilyName", "sdg:FamilyName", "FamilyName"),
        ("xn-bk:GivenName", "sdg:GivenName", "GivenName"),
    ] {
        let value = r.require(
            path,
            Some(person),
            &field(&format!("Evidence/IsAbout/NaturalPerson/{what}")),
            "part of the eIDAS minimum data set",
        )?;
        w.leaf(element, &[], &value);
    }
    w.code(
        "xn-bk:LevelOfAssurance",
        &[("listVersionID", "1")],
        &f.subject.level_of_assurance,
    )
    .close()
    .close()
    .close();
    Ok(())
}

/// Where the evidence is: inline, or a reference to an attachment.
enum Item {
    Inline(String),
    Ref { href: String, title: String },
}

fn repository_item(
    r: &Reader<'_>,
    object: Elem<'_>,
    field: &dyn Fn(&str) -> String,
    f: &RequestFacts,
) -> Result<Item, AdapterError> {
    if let Some(reference) = r.first("rim:RepositoryItemRef", Some(object)) {
        let href = filled(reference.attribute("href")).ok_or_else(|| {
            AdapterError::missing(
                &field("RepositoryItemRef/@xlink:href"),
                "a reference names the attachment",
            )
        })?;
        // XNachweis requires a title; where the reference has none, the
        // evidence type's title the request asked for names it.
        let title =
            filled(reference.attribute("title")).unwrap_or_else(|| f.evidence_title.clone());
        return Ok(Item::Ref { href, title });
    }
    r.text("rim:RepositoryItem", Some(object))
        .map(Item::Inline)
        .ok_or_else(|| {
            AdapterError::missing(
                &field("RepositoryItemRef"),
                "the evidence is inline (RepositoryItem) or referenced (RepositoryItemRef)",
            )
        })
}

/// An attribute's value trimmed; `None` if it is absent or blank.
fn filled(value: Option<String>) -> Option<String> {
    value.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// `urn:uuid:` and a UUID in its hyphenated form.
fn is_urn_uuid(s: &str) -> bool {
    s.strip_prefix("urn:uuid:")
        .is_some_and(|u| u.len() == 36 && uuid::Uuid::try_parse(u).is_ok())
}

/// `DE.EvidenceErrorResponse.0103` from a response with status Failure.
fn error_response(
    r: &Reader<'_>,
    f: &RequestFacts,
    ctx: &Context,
) -> Result<Vec<u8>, AdapterError> {
    // the first: `providers` refuses a slot without any
    let provider = providers(r, r.root(), "ErrorProvider", "ERRP")?.swap_remove(0);
    let exceptions = r.nodes("rs:Exception", Some(r.root()));
    if exceptions.is_empty() {
        return Err(AdapterError::missing(
            "Exception",
            "a failure names its error",
        ));
    }
    let mut w = begin(ERROR_RESPONSE, f, ctx, &f.author, &f.reader);
    write_agent(&mut w, "xn-de:ErrorProvider", &provider);
    requesters(&mut w, f, "de");
    for (i, e) in exceptions.into_iter().enumerate() {
        let code = filled(e.attribute_no_ns("code")).ok_or_else(|| {
            AdapterError::missing(
                &format!("Exception[{}]/@code", i + 1),
                "an error has an EDM error code",
            )
        })?;
        let detail = filled(e.attribute_no_ns("message"));
        let timestamp = slot(e, "Timestamp")
            .and_then(|v| r.text("rim:Value", Some(v)))
            .unwrap_or_else(|| ctx.timestamp());
        let severity = e
            .attribute_no_ns("severity")
            .and_then(|s| s.rsplit(':').next().map(str::to_owned))
            .filter(|s| !s.is_empty())
            .map_or_else(|| SEVERITY.to_owned(), |s| format!("{SEVERITY_PREFIX}{s}"));
        exception(&mut w, &code, detail.as_deref(), &timestamp, &severity);
    }
    Ok(w.finish())
}
