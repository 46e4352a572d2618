//! `xnachweis-to-xestb`: the Kita fee office's evidence request
//! (XNachweis `DE.EvidenceRequest.0101`) becomes the tax office's
//! assessment-data request (XEStB `xestb.bescheiddatenAnfrage.0101`).
//!
//! - tax id ← `NaturalPerson/IDNr` (required: the tax office finds the
//!   assessment by it);
//! - year, purpose, consent ← the subject's `SectorSpecificAttribute`s (see
//!   [`crate::xnachweis`]); a year that has not ended is refused;
//! - the purpose must be configured for the evidence type (a purpose that
//!   is not configured allows nothing, so asking would be pointless);
//! - header: new message id and time from the context, same author and
//!   reader (the fee office asks, the tax office reads);
//! - `bezug`: the original request's id and the requesting authority, so
//!   the answer can be correlated.

use crate::adapter::{Adapter, AdapterInfo, AdapterKind, StandardRef};
use crate::context::Context;
use crate::error::AdapterError;
use crate::minimise::Minimisation;
use crate::xestb;
use crate::xml::Writer;
use crate::xnachweis::{RequestFacts, field};
use libxml::tree::Document;
use std::sync::Arc;

#[cfg(test)]
mod tests;

/// The adapter's registry name.
pub const NAME: &str = "xnachweis-to-xestb";

/// XNachweis evidence request → XEStB assessment-data request.
#[derive(Debug)]
pub struct XNachweisToXEStB {
    info: AdapterInfo,
    minimisation: Arc<Minimisation>,
}

impl XNachweisToXEStB {
    /// The adapter, checking purposes against `minimisation`.
    pub fn new(minimisation: Arc<Minimisation>) -> Self {
        Self {
            info: AdapterInfo {
                name: NAME.into(),
                description:
                    "Kita fee office's evidence request → tax office's assessment-data request"
                        .into(),
                source: StandardRef::new("XNachweis", "1.2.0"),
                target: StandardRef::new(xestb::STANDARD, xestb::VERSION),
                kind: AdapterKind::Builtin,
            },
            minimisation,
        }
    }
}

impl Adapter for XNachweisToXEStB {
    fn info(&self) -> &AdapterInfo {
        &self.info
    }

    fn translate(&self, input: &[u8], ctx: &Context) -> Result<Vec<u8>, AdapterError> {
        self.translate_document(&crate::xml::parse(input)?, ctx)
    }

    fn translate_document(&self, input: &Document, ctx: &Context) -> Result<Vec<u8>, AdapterError> {
        let read;
        let f = match &ctx.input_facts {
            Some(f) if crate::xnachweis::is_request(input, &f.request_id) => f,
            _ => {
                read = RequestFacts::from_document(input)?;
                &read
            }
        };
        let current = ctx.now.year();
        if f.year >= current {
            return Err(AdapterError::YearInFuture {
                field: field::YEAR.into(),
                year: f.year,
                current,
            });
        }
        if self
            .minimisation
            .allowance(&f.evidence_type, &f.purpose)
            .is_none()
        {
            return Err(AdapterError::PurposeNotAllowed {
                evidence_type: f.evidence_type.clone(),
                purpose: f.purpose.clone(),
            });
        }
        Ok(write(f, ctx))
    }
}

fn write(f: &RequestFacts, ctx: &Context) -> Vec<u8> {
    let mut w = Writer::new();
    xestb::open_message(&mut w, xestb::REQUEST, f.test.as_deref());
    xestb::header(
        &mut w,
        &ctx.id("xestb-request").to_string(),
        xestb::REQUEST,
        &ctx.timestamp(),
        &f.reader,
        &f.author,
    );
    w.open("xestb:bezug", &[])
        .leaf("xestb:ursprungsanfrage", &[], &f.request_id)
        .open("xestb:anforderndeStelle", &[])
        .leaf("xestb:kennung", &[], &f.author.id)
        .leaf("xestb:name", &[], &f.author.name)
        .close()
        .close();
    w.open("xestb:steuerpflichtiger", &[])
        .leaf("xestb:steuerIdNr", &[], &f.tax_id)
        .leaf("xestb:familienname", &[], &f.subject.family_name)
        .leaf("xestb:vorname", &[], &f.subject.given_name)
        .leaf("xestb:geburtsdatum", &[], &f.subject.date_of_birth)
        .close();
    w.leaf("xestb:veranlagungsjahr", &[], &f.year.to_string())
        .leaf("xestb:zweck", &[], &f.purpose)
        .leaf("xestb:einwilligungsreferenz", &[], &f.consent);
    w.finish()
}
