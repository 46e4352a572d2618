//! `xestb-to-xnachweis`: the tax office's answer (XEStB 0102 or 0103)
//! becomes the evidence answer the Kita fee office asked for (XNachweis
//! `DE.EvidenceResponse.0102` or `DE.EvidenceErrorResponse.0103`) —
//! minimised to what the request's purpose allows.
//!
//! Needs the original request's facts in [`Context::request`]:
//! - correlation: the answer must be addressed to the authority that asked,
//!   refer to that request, be for its year and name its tax id, else [`AdapterError::CorrelationMismatch`],
//!   [`AdapterError::YearMismatch`], [`AdapterError::TaxIdMismatch`];
//! - minimisation: the allowance of (evidence type, purpose) decides which
//!   assessment fields pass; none configured → [`AdapterError::PurposeNotAllowed`].
//!   Where the municipality (context, else the request's author `ags:…`)
//!   has a fee table for the purpose, the amounts are replaced by the bracket.
//!
//! The evidence itself is an `xestb.einkommensnachweis` document carried
//! base64 in `RegistryObjectList/RepositoryItem/RepositoryItem`, the slot
//! XNachweis 1.2.0 provides for a document delivered inline. Persons other
//! than the subject, income per type, the tax number and every field
//! outside the allowance never reach the output.

use crate::adapter::{Adapter, AdapterInfo, AdapterKind, StandardRef};
use crate::context::Context;
use crate::error::AdapterError;
use crate::minimise::{Minimisation, parse_cents};
use crate::xestb::{self, Answer, Assessment, Failure};
use crate::xml::Writer;
use crate::xnachweis::RequestFacts;
use crate::xnachweis_answer::{
    ERROR_RESPONSE, RESPONSE, SEVERITY, agent, begin, exception, name, original_request, requesters,
};
use base64::Engine as _;
use libxml::tree::Document;
use std::sync::Arc;

#[cfg(test)]
mod tests;

/// The adapter's registry name.
pub const NAME: &str = "xestb-to-xnachweis";

/// XEStB assessment answer → minimised XNachweis evidence answer.
#[derive(Debug)]
pub struct XEStBToXNachweis {
    info: AdapterInfo,
    minimisation: Arc<Minimisation>,
}

impl XEStBToXNachweis {
    /// The adapter, minimising by `minimisation`.
    pub fn new(minimisation: Arc<Minimisation>) -> Self {
        Self {
            info: AdapterInfo {
                name: NAME.into(),
                description:
                    "tax office's assessment answer → minimised evidence answer for the fee office"
                        .into(),
                source: StandardRef::new(xestb::STANDARD, xestb::VERSION),
                target: StandardRef::new("XNachweis", "1.2.0"),
                kind: AdapterKind::Builtin,
            },
            minimisation,
        }
    }
}

impl Adapter for XEStBToXNachweis {
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
        let answer = xestb::read_answer(input, NAME)?;
        let (original, reader) = match &answer {
            Answer::Assessment(a) => (&a.original_request, &a.reader),
            Answer::Failure(f) => (&f.original_request, &f.reader),
        };
        // The answer goes to the authority that asked, nowhere else.
        if reader.id != facts.author.id {
            return Err(AdapterError::CorrelationMismatch {
                field: "nachrichtenkopf.g2g/leser/kennung".into(),
                expected: facts.author.id.clone(),
                found: reader.id.clone(),
            });
        }
        // the request's id as the tax office echoes it: a UUID in either case
        if !xoev_core::same_id(original, &facts.request_id) {
            return Err(AdapterError::CorrelationMismatch {
                field: "bezug/ursprungsanfrage".into(),
                expected: facts.request_id.clone(),
                found: original.clone(),
            });
        }
        match answer {
            Answer::Failure(f) => Ok(error_response(&f, facts, ctx)),
            Answer::Assessment(a) => {
                if a.year != facts.year {
                    return Err(AdapterError::YearMismatch {
                        field: "steuerbescheid/veranlagungsjahr".into(),
                        expected: facts.year,
                        found: a.year,
                    });
                }
                if !a.persons.iter().any(|p| p.tax_id == facts.tax_id) {
                    return Err(AdapterError::TaxIdMismatch {
                        field: "steuerbescheid/steuerpflichtiger/steuerIdNr".into(),
                    });
                }
                let evidence = self.evidence(&a, facts, ctx)?;
                Ok(response(&a, facts, ctx, &evidence))
            }
        }
    }
}

impl XEStBToXNachweis {
    /// The minimised evidence document.
    fn evidence(
        &self,
        a: &Assessment,
        facts: &RequestFacts,
        ctx: &Context,
    ) -> Result<Vec<u8>, AdapterError> {
        let allowance = self
            .minimisation
            .allowance(&facts.evidence_type, &facts.purpose)
            .ok_or_else(|| AdapterError::PurposeNotAllowed {
                evidence_type: facts.evidence_type.clone(),
                purpose: facts.purpose.clone(),
            })?;
        let ags = ctx.municipality.as_deref().or_else(|| facts.municipality());
        let table = ags.and_then(|ags| self.minimisation.fee_table(ags, &facts.purpose));
        let mut w = Writer::new();
        w.open(
            &format!("xestb:{}", xestb::EVIDENCE),
            &[("xmlns:xestb", xestb::NS), ("version", xestb::VERSION)],
        );
        w.leaf("xestb:zweck", &[], &facts.purpose);
        for (field, value) in &a.values {
            let passes =
                allowance.fields.contains(field) && (table.is_none() || !field.is_amount());
            if passes {
                w.leaf(&format!("xestb:{}", field.element()), &[], value);
            }
        }
        if let Some(t) = table {
            if !allowance.fields.contains(&t.income) {
                // The config check guarantees some allowance for the purpose
                // permits the figure, but not necessarily this evidence type's.
                return Err(AdapterError::PurposeNotAllowed {
                    evidence_type: facts.evidence_type.clone(),
                    purpose: facts.purpose.clone(),
                });
            }
            let field_path = format!("steuerbescheid/{}", t.income.element());
            let cents = a
                .values
                .iter()
                .find(|(f, _)| *f == t.income)
                .and_then(|(_, v)| parse_cents(v))
                .ok_or_else(|| {
                    AdapterError::missing(&field_path, "the fee table is defined on it")
                })?;
            let bracket = t.bracket_for(cents).ok_or_else(|| {
                AdapterError::invalid(&field_path, format!("no bracket of {} covers it", t.name))
            })?;
            w.open("xestb:beitragsstufe", &[])
                .leaf("xestb:gebuehrentabelle", &[], &t.name)
                .leaf("xestb:stufe", &[], &bracket.stufe.to_string())
                .leaf("xestb:bezeichnung", &[], &bracket.label)
                .close();
        }
        Ok(w.finish())
    }
}

fn response(a: &Assessment, f: &RequestFacts, ctx: &Context, evidence: &[u8]) -> Vec<u8> {
    let mut w = begin(RESPONSE, f, ctx, &a.reader, &a.author);
    agent(&mut w, "xn-de:EvidenceProvider", &f.provider, "de", "EP");
    requesters(&mut w, f, "de");
    w.open("xn-de:EvidenceAvailability", &[])
        .open("xn-de:RegistryObjectList", &[])
        .leaf(
            "xn-bk:id",
            &[],
            &format!("urn:uuid:{}", ctx.id("registry-object")),
        )
        .open("xn-bk:EvidenceMetadata", &[])
        .leaf("xn-bk:IssuingDate", &[], &ctx.date())
        .open("xn-bk:IssuingAuthority", &[])
        .leaf(
            "xn-bk:Identifier",
            &[("schemeID", &f.provider.scheme)],
            &f.provider.id,
        );
    name(&mut w, "xn-bk:Name", &a.office_name, "de");
    w.close()
        .open("xn-bk:Distribution", &[])
        .code("xn-bk:Format", &[("listVersionID", "1")], "application/xml")
        .close()
        .open("xn-bk:IsConformantTo", &[])
        .leaf("xn-bk:EvidenceTypeClassification", &[], &f.evidence_type);
    name(&mut w, "xn-bk:Title", &f.evidence_title, "de");
    w.close().close();
    let encoded = base64::engine::general_purpose::STANDARD.encode(evidence);
    w.open("xn-bk:RepositoryItem", &[])
        .leaf("xn-bk:RepositoryItem", &[], &encoded)
        .close();
    w.open("xn-bk:LegalOrNaturalPerson", &[])
        .open("xn-bk:NaturalPerson", &[])
        .leaf("xn-bk:DateOfBirth", &[], &f.subject.date_of_birth)
        .leaf("xn-bk:FamilyName", &[], &f.subject.family_name)
        .leaf("xn-bk:GivenName", &[], &f.subject.given_name)
        .code(
            "xn-bk:LevelOfAssurance",
            &[("listVersionID", "1")],
            &f.subject.level_of_assurance,
        )
        .leaf("xn-bk:IDNr", &[], &f.tax_id);
    w.finish()
}

/// The EDM error code and a fixed detail text for an XEStB error code. The
/// tax office's free text is not passed on (it is not covered by any
/// allowance).
fn error_code(code: &str) -> (&'static str, &'static str) {
    match code {
        "kein-bescheid" => (
            "EDM:ERR:0004",
            "Fuer das angefragte Jahr liegt kein Einkommensteuerbescheid vor.",
        ),
        "person-unbekannt" => (
            "EDM:ERR:0004",
            "Die Person ist der Finanzverwaltung unter der IDNr nicht bekannt.",
        ),
        "einwilligung-ungueltig" => ("EDM:ERR:0002", "Die Einwilligung ist nicht gueltig."),
        "anfrage-ungueltig" => ("EDM:ERR:0003", "Die Anfrage ist ungueltig."),
        _ => (
            "EDM:ERR:0008",
            "Die Anfrage konnte nicht bearbeitet werden.",
        ),
    }
}

fn error_response(e: &Failure, f: &RequestFacts, ctx: &Context) -> Vec<u8> {
    let mut w = begin(ERROR_RESPONSE, f, ctx, &e.reader, &e.author);
    agent(&mut w, "xn-de:ErrorProvider", &f.provider, "de", "EP");
    requesters(&mut w, f, "de");
    for (code, _text) in &e.errors {
        let (edm, detail) = error_code(code);
        exception(&mut w, edm, Some(detail), &ctx.timestamp(), SEVERITY);
    }
    w.finish()
}
