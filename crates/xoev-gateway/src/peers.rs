//! Example peers: what an authority's back-office system does at the AMQP
//! interface. The **fee office** signs an evidence request and publishes it
//! to the gateway's inbound exchange, then pulls the answer from its inbox;
//! the **tax office** pulls assessment-data requests from its inbox and
//! answers from a data file (sample XEStB answers), signed with its own key.
//!
//! Both use nothing but the transport an authority would use, and verify the
//! gateway's signature on what they receive.

use anyhow::{Context as _, bail};
use quick_xml::Reader;
use quick_xml::Writer;
use quick_xml::events::{BytesStart, BytesText, Event};
use std::path::Path;
use std::sync::Arc;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use xoev_core::{Limits, Message};
use xoev_dsig::{CertMatcher, Signer, Verifier};
use xoev_transport::{Envelope, Target, Transport};

/// Replaces the text of the elements whose local-name path ends with one of
/// `texts`' paths (`a/b/c`), and the root's `id` attribute if `root_id` is
/// given. Everything else is copied event by event.
pub fn rewrite(
    xml: &[u8],
    texts: &[(&str, &str)],
    root_id: Option<&str>,
) -> anyhow::Result<Vec<u8>> {
    let mut reader = Reader::from_reader(xml);
    let mut writer = Writer::new(Vec::with_capacity(xml.len() + 64));
    let mut path: Vec<String> = Vec::new();
    let mut replaced_here: Vec<bool> = Vec::new();
    loop {
        let event = reader.read_event().context("template is not well-formed")?;
        match event {
            Event::Eof => break,
            Event::Start(e) => {
                path.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                let e = if path.len() == 1 {
                    with_id(&e, root_id)?
                } else {
                    e.into_owned()
                };
                writer.write_event(Event::Start(e))?;
                let joined = path.join("/");
                match texts.iter().find(|(p, _)| joined.ends_with(p)) {
                    Some((_, v)) => {
                        writer.write_event(Event::Text(BytesText::new(v)))?;
                        replaced_here.push(true);
                    }
                    None => replaced_here.push(false),
                }
            }
            Event::End(e) => {
                path.pop();
                replaced_here.pop();
                writer.write_event(Event::End(e))?;
            }
            Event::Text(_) | Event::CData(_) | Event::GeneralRef(_)
                if replaced_here.last().copied().unwrap_or(false) => {}
            other => writer.write_event(other)?,
        }
    }
    Ok(writer.into_inner())
}

fn with_id(e: &BytesStart<'_>, root_id: Option<&str>) -> anyhow::Result<BytesStart<'static>> {
    let Some(id) = root_id else {
        return Ok(e.clone().into_owned());
    };
    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
    let mut out = BytesStart::new(name);
    for a in e.attributes() {
        let a = a?;
        if a.key.as_ref() == b"id" {
            out.push_attribute(("id", id));
        } else {
            out.push_attribute(a);
        }
    }
    Ok(out)
}

pub use crate::xml::text_at;

fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// The Kita fee office's back-office system.
pub struct FeeOffice {
    /// Its signing key.
    pub signer: Arc<Signer>,
    /// Verifies what the gateway delivers.
    pub verifier: Verifier,
    /// The gateway's signature.
    pub gateway: CertMatcher,
    /// An evidence request to send (a new id is set per send).
    pub template: Vec<u8>,
}

impl FeeOffice {
    /// A fresh, signed evidence request: new message id and request id.
    pub fn request(&self) -> anyhow::Result<(String, Vec<u8>)> {
        let id = uuid::Uuid::new_v4().to_string();
        let xml = rewrite(
            &self.template,
            &[
                (
                    "nachrichtenkopf/identifikation.nachricht/nachrichtenUUID",
                    &id,
                ),
                (
                    "nachrichtenkopf/identifikation.nachricht/erstellungszeitpunkt",
                    &now(),
                ),
            ],
            Some(&format!("urn:uuid:{}", uuid::Uuid::new_v4())),
        )?;
        Ok((id, self.signer.sign_bytes(&xml)?))
    }

    /// Checks a delivered answer: the gateway's signature.
    pub fn check_answer(&self, bytes: &[u8]) -> anyhow::Result<xoev_dsig::Verified> {
        let (v, _) = self
            .verifier
            .verify_bytes(bytes, &Limits::default(), Some(&self.gateway))?;
        Ok(v)
    }
}

/// Answer templates: assessment answers (0102), and an error answer (0103).
pub type Templates = (Vec<Vec<u8>>, Option<Vec<u8>>);

/// A tax office's back-office system answering assessment-data requests.
pub struct TaxOffice {
    /// Its authority id, e.g. `fa:2613`.
    pub id: String,
    /// Its signing key.
    pub signer: Arc<Signer>,
    /// Verifies requests from the gateway.
    pub verifier: Verifier,
    /// The gateway's signature.
    pub gateway: CertMatcher,
    /// Sample XEStB answers (0102) and one error answer (0103) as templates.
    pub answers: Vec<Vec<u8>>,
    /// The error answer used when no assessment matches.
    pub not_found: Option<Vec<u8>>,
}

impl TaxOffice {
    /// Loads the answer templates from a directory of XEStB samples: the
    /// assessment answers, and the first error answer.
    pub fn load_answers(dir: &Path) -> anyhow::Result<Templates> {
        let mut answers = Vec::new();
        let mut not_found = None;
        for entry in std::fs::read_dir(dir).with_context(|| dir.display().to_string())? {
            let path = entry?.path();
            let bytes = std::fs::read(&path)?;
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with("xestb.bescheiddatenAntwort.0102") {
                answers.push(bytes);
            } else if name.starts_with("xestb.fehler.0103") && not_found.is_none() {
                not_found = Some(bytes);
            }
        }
        Ok((answers, not_found))
    }

    /// Answers one assessment-data request (verified first), signed.
    pub fn answer(&self, request: &[u8]) -> anyhow::Result<(String, Vec<u8>)> {
        self.verifier
            .verify_bytes(request, &Limits::default(), Some(&self.gateway))
            .context("the request's gateway signature")?;
        let msg = Message::parse(request.to_vec(), &Limits::default())?;
        let header = msg.require_header()?;
        let tax_id = text_at(request, "steuerpflichtiger/steuerIdNr")
            .context("request has no steuerIdNr")?;
        let year =
            text_at(request, "veranlagungsjahr").context("request has no veranlagungsjahr")?;
        let origin = text_at(request, "bezug/ursprungsanfrage").unwrap_or_default();
        let requester = header.author.as_ref().context("request has no author")?;
        let template = self
            .answers
            .iter()
            .find(|a| {
                text_at(a, "steuerbescheid/steuerpflichtiger/steuerIdNr").as_deref()
                    == Some(tax_id.as_str())
                    && text_at(a, "steuerbescheid/veranlagungsjahr").as_deref()
                        == Some(year.as_str())
            })
            .or(self.not_found.as_ref())
            .context("no assessment and no error template")?;
        let id = uuid::Uuid::new_v4().to_string();
        let xml = rewrite(
            template,
            &[
                (
                    "nachrichtenkopf.g2g/identifikation.nachricht/nachrichtenUUID",
                    &id,
                ),
                (
                    "nachrichtenkopf.g2g/identifikation.nachricht/erstellungszeitpunkt",
                    &now(),
                ),
                ("nachrichtenkopf.g2g/leser/kennung", &requester.key()),
                (
                    "nachrichtenkopf.g2g/leser/name",
                    requester.name.as_deref().unwrap_or(&requester.id),
                ),
                ("nachrichtenkopf.g2g/autor/kennung", &self.id),
                ("bezug/anfrageUUID", header.message_id.as_str()),
                ("bezug/ursprungsanfrage", &origin),
            ],
            None,
        )?;
        Ok((id, self.signer.sign_bytes(&xml)?))
    }
}

/// Runs a tax office on `inbox` until `max` requests are answered (or
/// forever with `None`): verify, answer, publish to the gateway, ack.
pub async fn serve_tax_office(
    office: Arc<TaxOffice>,
    transport: Arc<dyn Transport>,
    inbox: &str,
    max: Option<usize>,
) -> anyhow::Result<usize> {
    let mut consumer = transport.consume(inbox, 16).await?;
    let mut answered = 0;
    // A back-office system recognises a request it has already answered by
    // its message id (the gateway forwards a redelivered message under the
    // same id) and does not answer it twice.
    let mut seen = std::collections::HashSet::new();
    while max.is_none_or(|m| answered < m) {
        let delivery = match consumer.next().await {
            Some(Ok(d)) => d,
            // the transport resubscribes after a lost connection: go on
            Some(Err(e)) => {
                tracing::warn!(error = %e, "tax office inbox: consumer error; continuing");
                continue;
            }
            None => bail!("inbox {inbox} closed"),
        };
        if let Some(id) = &delivery.properties.message_id
            && seen.contains(id)
        {
            tracing::info!(id = %id, "duplicate request ignored");
            if let Err(e) = delivery.ack().await {
                tracing::warn!(error = %e, "ack failed; the broker redelivers, recognised again");
            }
            continue;
        }
        let payload = delivery.payload.clone();
        let o = office.clone();
        let result = tokio::task::spawn_blocking(move || o.answer(&payload)).await?;
        match result {
            Ok((id, bytes)) => {
                let request_id = delivery.properties.message_id.clone().unwrap_or_default();
                let envelope = Envelope::new(Target::Inbound, id, bytes)
                    .with_correlation_id(request_id.clone());
                match transport.publish(envelope).await {
                    Ok(()) => {
                        // answered: remember it before acking, so a
                        // redelivery after a lost ack is not answered twice
                        seen.insert(request_id);
                        answered += 1;
                        if let Err(e) = delivery.ack().await {
                            tracing::warn!(error = %e, "ack failed; the broker redelivers, recognised by id");
                        }
                    }
                    Err(e) => {
                        // not answered: put the request back and try again later
                        tracing::warn!(error = %e, "answer not published; the request goes back");
                        let _ = delivery.nack(true).await;
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "tax office cannot answer; rejecting the request");
                if let Err(e) = delivery
                    .dead_letter("tax-office", "cannot-answer", &e.to_string())
                    .await
                {
                    tracing::warn!(error = %e, "dead-lettering failed; the broker redelivers");
                }
            }
        }
    }
    Ok(answered)
}
