//! The message pipeline. One inbound message goes through, in order:
//!
//! | stage | what | rejection kinds |
//! | --- | --- | --- |
//! | `size`, `header` | size limit, envelope and XÖV header (quick-xml); the message type is the root element's where the header names another | `oversize`, `malformed-xml`, `invalid-header`, … (a header that cannot be read is rejected with the `schema` stage's reason where the document has one: `unknown-standard`, `malformed-xml`, `xsd-invalid` with line and path) |
//! | `schema` | catalogue lookup, hardened parse | `unknown-standard`, `unknown-version`, `malformed-xml` |
//! | `signature` | the author's signature (trust store with CRLs, directory certificate) | `no-signature`, `untrusted-certificate`, `revoked-certificate`, `wrong-signer`, … (transient: `revocation-unknown`) |
//! | `validate` | XSD of the signed content (signature removed) | `xsd-invalid` |
//! | `access` | may the author send this type to the reader | `unknown-sender`, `unknown-reader`, `access-denied` |
//! | `consent` | evidence requests: a valid consent of the citizen | `no-consent`, `consent-revoked`, `consent-expired`, … |
//! | `correlation` | answers: the request they answer (XEStB; EU OOTS where the gateway sent the request), once, from the authority it went to; an EU deferred response: the same checks, claiming nothing | `no-matching-request`, `already-answered`, `answer-from-another-authority` |
//! | `routing` | rule, recipient, adapter chain, destination | `no-route`, `not-responsible`, … |
//! | `adapter` | translation, validated against the target XSD | `missing-field`, `tax-id-mismatch`, `output-without-header`, … |
//! | `signing` | the gateway's signature | (transient) |
//!
//! [`Pipeline::process`] is synchronous: it runs on a blocking thread with
//! one parsed document from start to end; the few store look-ups it needs
//! (consents, cases) are awaited with the runtime handle it is given.

pub mod rejection;

use crate::cases::{CaseError, CaseStore, Status};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::runtime::Handle;
use xoev_adapters::{Context, RequestFacts, Translator};
use xoev_audit::{AuditStore, CitizenRef, CitizenSecret, NewEntry, Outcome};
use xoev_core::{Authority, Header, Limits, Message, MessageError, MessageErrorKind};
use xoev_dsig::{CertMatcher, Signer, Verifier};
use xoev_routing::{RouteInput, Router};
use xoev_schema::{Issue, SchemaError, Validator};

/// Message type of an XNachweis evidence request.
pub const EVIDENCE_REQUEST: (&str, &str) = ("XNachweis", "DE.EvidenceRequest.0101");
/// Message types (standard, code) of answers that must match a forwarded request.
pub const CORRELATED_ANSWERS: &[(&str, &str)] = &[("XEStB", "0102"), ("XEStB", "0103")];
/// EU OOTS answers (standard, code): matched to the forwarded request their
/// `requestId` names where the gateway sent that request (an XNachweis
/// request that left as an OOTS request) — then exactly like
/// [`CORRELATED_ANSWERS`]; an answer to a request the gateway only passed
/// on is forwarded as it is, under its request's case.
pub const OOTS_ANSWERS: &[(&str, &str)] = &[
    ("OOTS-EDM", "EvidenceResponse"),
    ("OOTS-EDM", "ErrorResponse"),
];
/// An EU OOTS deferred response (the evidence follows by a date): about
/// the request its `requestId` names, without answering it — where the
/// gateway sent that request, it is translated with that request's facts
/// and the case stays open; else it is passed on as it is.
pub const OOTS_DEFERRED: (&str, &str) = ("OOTS-EDM", "DeferredResponse");

/// A pipeline stage (names in dead letters and rejection messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Size limit.
    Size,
    /// Envelope and XÖV header.
    Header,
    /// Catalogue lookup and full parse.
    Schema,
    /// The author's signature.
    Signature,
    /// XSD validation.
    Validate,
    /// Access rules.
    Access,
    /// The citizen's consent.
    Consent,
    /// Matching an answer to its request.
    Correlation,
    /// Routing.
    Routing,
    /// Adapter chain.
    Adapter,
    /// The gateway's signature.
    Signing,
    /// Publishing the outcome.
    Publish,
}

impl Stage {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Size => "size",
            Self::Header => "header",
            Self::Schema => "schema",
            Self::Signature => "signature",
            Self::Validate => "validate",
            Self::Access => "access",
            Self::Consent => "consent",
            Self::Correlation => "correlation",
            Self::Routing => "routing",
            Self::Adapter => "adapter",
            Self::Signing => "signing",
            Self::Publish => "publish",
        }
    }
}

/// What to do with a message.
#[derive(Debug)]
pub enum Decision {
    /// Publish the translated, signed message to its destination.
    Forward(Box<Forward>),
    /// Dead-letter it and tell the sender why.
    Reject(Box<Reject>),
    /// Something on our side failed: try again later.
    Retry {
        /// The stage.
        stage: Stage,
        /// Reason id.
        kind: String,
        /// Explanation.
        detail: String,
    },
}

/// A message ready to be published.
#[derive(Debug)]
pub struct Forward {
    /// The destination queue.
    pub queue: String,
    /// The further readers the message names (xdomea) with their inboxes:
    /// each gets a copy, published after the reader's.
    pub copies: Vec<(String, String)>,
    /// The signed bytes.
    pub payload: Vec<u8>,
    /// Its message id.
    pub message_id: String,
    /// The id of the message it was made from.
    pub source_id: String,
    /// The case (the id of the evidence request it belongs to).
    pub case_id: String,
    /// Header values for the AMQP headers: standard, version, type, sender, reader.
    pub headers: Vec<(&'static str, String)>,
    /// The access-log entry to append once published.
    pub audit: Option<NewEntry>,
    /// The author of the source message.
    pub headers_sender: Option<String>,
    /// A request was remembered or claimed in the case store: flush it
    /// ([`CaseStore::flush`]) before publishing.
    pub flush_cases: bool,
}

/// A rejected message.
#[derive(Debug)]
pub struct Reject {
    /// The stage that rejected it.
    pub stage: Stage,
    /// Stable reason id.
    pub kind: String,
    /// Human-readable explanation.
    pub detail: String,
    /// Positions, where known.
    pub issues: Vec<Issue>,
    /// The message id, if the header could be read.
    pub message_id: Option<String>,
    /// The sender, if known.
    pub sender: Option<String>,
    /// The rejection message for the sender and the queue it goes to,
    /// when the sender is a known authority with an inbox.
    pub answer: Option<(String, Vec<u8>, String)>,
    /// The access-log entry to append (evidence requests).
    pub audit: Option<NewEntry>,
}

/// Everything the pipeline needs, loaded once at start and shared by all workers.
pub struct Pipeline {
    /// Limits for every message.
    pub limits: Limits,
    /// Catalogue and validation.
    pub validator: Validator,
    /// Signature verification with the trust store.
    pub verifier: Verifier,
    /// The gateway's signing key.
    pub signer: Signer,
    /// Directory, rules, access.
    pub router: Router,
    /// Adapter registry.
    pub registry: xoev_adapters::Registry,
    /// Runs adapter chains with validation.
    pub translator: Translator,
    /// Secret of citizen references.
    pub secret: CitizenSecret,
    /// Consents and access log.
    pub audit: Arc<dyn AuditStore>,
    /// Requests awaiting answers; message status.
    pub cases: Arc<dyn CaseStore>,
    matchers: HashMap<String, CertMatcher>,
    gateway: Authority,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("gateway", &self.gateway)
            .finish_non_exhaustive()
    }
}

/// Builds a rejection at `stage`.
fn reject(stage: Stage, kind: &str, detail: impl Into<String>) -> Reject {
    Reject {
        stage,
        kind: kind.to_owned(),
        detail: detail.into(),
        issues: Vec::new(),
        message_id: None,
        sender: None,
        answer: None,
        audit: None,
    }
}

fn now_string(now: OffsetDateTime) -> String {
    now.format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// Parts of [`Pipeline`] that are built from files.
pub struct Parts {
    /// Limits.
    pub limits: Limits,
    /// Validator.
    pub validator: Validator,
    /// Verifier.
    pub verifier: Verifier,
    /// Signer.
    pub signer: Signer,
    /// Router.
    pub router: Router,
    /// Registry.
    pub registry: xoev_adapters::Registry,
    /// Citizen secret.
    pub secret: CitizenSecret,
    /// Audit store.
    pub audit: Arc<dyn AuditStore>,
    /// Case store.
    pub cases: Arc<dyn CaseStore>,
    /// Authority id → how to recognise its signature.
    pub matchers: HashMap<String, CertMatcher>,
}

impl Pipeline {
    /// Assembles the pipeline from its parts.
    pub fn new(p: Parts) -> anyhow::Result<Self> {
        let gateway = p
            .router
            .directory()
            .gateway()
            .map(|a| Authority {
                directory: Some("DVDV".into()),
                prefix: None,
                id: a.id.clone(),
                name: Some(a.name.clone()),
            })
            .ok_or_else(|| {
                anyhow::anyhow!("the authority directory has no entry with gateway = true")
            })?;
        let translator = Translator::new(p.validator.clone());
        Ok(Self {
            limits: p.limits,
            validator: p.validator,
            verifier: p.verifier,
            signer: p.signer,
            router: p.router,
            registry: p.registry,
            translator,
            secret: p.secret,
            audit: p.audit,
            cases: p.cases,
            matchers: p.matchers,
            gateway,
        })
    }

    /// The gateway as an authority (author of rejections).
    pub fn gateway(&self) -> &Authority {
        &self.gateway
    }

    /// Runs one message through every stage. Blocking: call it from a
    /// blocking thread; `rt` awaits the store look-ups.
    pub fn process(&self, payload: &[u8], correlation_id: Option<&str>, rt: &Handle) -> Decision {
        self.process_shared(&Bytes::copy_from_slice(payload), correlation_id, rt)
            .0
    }

    /// Like [`Pipeline::process`], for bytes the caller already holds as
    /// [`Bytes`] (a delivery): the envelope keeps them without a copy. Also
    /// returns the envelope it read (`None` if the header is unreadable), so
    /// the caller can label the message without reading it again.
    pub fn process_shared(
        &self,
        payload: &Bytes,
        correlation_id: Option<&str>,
        rt: &Handle,
    ) -> (Decision, Option<Message>) {
        self.process_delivery(payload, correlation_id, None, rt)
    }

    /// Like [`Pipeline::process_shared`]; `taken`: the status of another
    /// message the gateway decided on under this message's id (the case
    /// store knows it with another digest). Such a message is refused as
    /// `duplicate-message-id` once its sender is verified: a corrected
    /// message needs a new id, and the receivers would take it for the
    /// one they have.
    pub fn process_delivery(
        &self,
        payload: &Bytes,
        correlation_id: Option<&str>,
        taken: Option<&Status>,
        rt: &Handle,
    ) -> (Decision, Option<Message>) {
        let now = OffsetDateTime::now_utc();
        let mut seen = Seen::default();
        let decision = self.decide(payload, correlation_id, taken, rt, now, &mut seen);
        (decision, seen.message)
    }

    fn decide(
        &self,
        payload: &Bytes,
        correlation_id: Option<&str>,
        taken: Option<&Status>,
        rt: &Handle,
        now: OffsetDateTime,
        seen: &mut Seen,
    ) -> Decision {
        match self.stages(payload, correlation_id, taken, rt, now, seen) {
            Ok(forward) => Decision::Forward(Box::new(forward)),
            Err(Failure::Transient {
                stage,
                kind,
                detail,
            }) => Decision::Retry {
                stage,
                kind,
                detail,
            },
            Err(Failure::Reject(mut r)) => {
                // An answer rejected after it claimed its request gives the
                // claim back: the tax office may still send a corrected one.
                if let Some((request, answer)) = &seen.claimed
                    && let Err(e) = rt.block_on(self.cases.release_claim(request, answer))
                {
                    tracing::warn!(error = %e, "claim not released");
                }
                r.message_id = seen
                    .message
                    .as_ref()
                    .and_then(|m| m.header.as_ref())
                    .map(|h| h.message_id.to_string());
                r.sender = seen.sender.clone();
                r.audit = seen.facts.as_ref().and_then(|(facts, citizen)| {
                    Some(NewEntry {
                        citizen: citizen.clone()?,
                        requester: facts.author.id.clone(),
                        answerer: Some(facts.reader.id.clone()),
                        evidence_type: facts.evidence_type.clone(),
                        period: Some(facts.year.to_string()),
                        purpose: facts.purpose.clone(),
                        consent: Some(facts.consent.clone()),
                        outcome: Outcome::Rejected(r.kind.clone()),
                        request_message_id: facts.message_id.clone(),
                        answer_message_id: seen.answer_id.clone(),
                    })
                });
                r.answer = self.rejection_answer(payload, seen.message.as_ref(), &r, now);
                Decision::Reject(r)
            }
        }
    }

    /// The signed rejection message for the sender, if it has an inbox.
    fn rejection_answer(
        &self,
        payload: &[u8],
        message: Option<&Message>,
        r: &Reject,
        now: OffsetDateTime,
    ) -> Option<(String, Vec<u8>, String)> {
        let sender = message?.header.as_ref()?.author.as_ref()?;
        let directory = self.router.directory();
        let entry = directory.get(directory.canonical(&sender.key()))?;
        let inbox = entry.inbox.clone()?;
        let recipient = Authority {
            directory: sender.directory.clone(),
            prefix: None,
            id: entry.id.clone(),
            name: Some(entry.name.clone()),
        };
        let seed = seed_for(
            &message
                .and_then(|m| m.header.as_ref())
                .map(|h| h.message_id.to_string())
                .unwrap_or_else(|| hex_sha256(payload)),
        );
        let id = uuid::Uuid::new_v5(&seed, b"rejection").to_string();
        let created = now_string(now);
        let bytes = rejection::build(&rejection::Rejection {
            id: &id,
            created: &created,
            gateway: &self.gateway,
            recipient: &recipient,
            rejected: payload,
            message,
            stage: r.stage.as_str(),
            reason: &r.kind,
            description: &r.detail,
            issues: &r.issues,
        });
        match self.signer.sign_bytes(&bytes) {
            Ok(signed) => Some((inbox, signed, id)),
            Err(e) => {
                tracing::error!(error = %e, "cannot sign the rejection message");
                None
            }
        }
    }

    fn stages(
        &self,
        payload: &Bytes,
        amqp_correlation: Option<&str>,
        taken: Option<&Status>,
        rt: &Handle,
        now: OffsetDateTime,
        seen: &mut Seen,
    ) -> Result<Forward, Failure> {
        let mut clock = StageClock::start();
        // size + header
        let envelope_failure = |e: MessageError| {
            let stage = if e.kind == MessageErrorKind::Oversize {
                Stage::Size
            } else {
                Stage::Header
            };
            Failure::Reject(Box::new(Reject {
                issues: vec![Issue {
                    line: e.line,
                    column: e.column,
                    path: None,
                    message: e.detail.clone(),
                }],
                ..reject(stage, e.kind.as_str(), e.to_string())
            }))
        };
        let (message, header_error) =
            Message::parse_keeping_header_error(payload.clone(), &self.limits)
                .map_err(envelope_failure)?;
        if let Some(e) = header_error {
            // A header is often unreadable because the document is wrong:
            // its unknown namespace, XML error or XSD violations (line and
            // path) tell the sender more. Only on this rejection path is
            // an unverified document validated.
            return Err(match self.validator.header_failure(payload.clone(), e) {
                SchemaError::Message(e) => envelope_failure(e),
                schema => schema_failure(Stage::Schema, schema),
            });
        }
        let header = message
            .require_header()
            .map_err(|e| Failure::reject(Stage::Header, e.kind.as_str(), e.to_string()))?
            .clone();
        seen.message = Some(message.clone());
        clock.lap(Stage::Header);
        let author = header
            .author
            .as_ref()
            .ok_or_else(|| Failure::reject(Stage::Header, "invalid-header", header.no_author()))?;
        // The directory's id for it (a header in another standard may name
        // the authority by another of its ids).
        let sender = self.router.directory().canonical(&author.key()).to_owned();
        seen.sender = Some(sender.clone());
        let _span = tracing::info_span!(
            "message",
            id = %header.message_id,
            sender = %sender,
            case = tracing::field::Empty
        )
        .entered();
        if let Some(mismatch) = header.type_mismatch() {
            // Routed and checked by the root's type; the sender should
            // hear that its header is wrong, but the message is sound.
            tracing::warn!("{mismatch}");
        }

        // schema lookup + the one full parse
        let catalogue = self.validator.catalogue();
        let entry = catalogue
            .lookup(&message)
            .map_err(|e| schema_failure(Stage::Schema, e))?;
        let schema = entry
            .schema()
            .map_err(|e| Failure::transient(Stage::Schema, "schema-compile", e.to_string()))?;
        let doc = xoev_schema::parse_document(payload, &self.limits)
            .map_err(|e| schema_failure(Stage::Schema, e))?;

        clock.lap(Stage::Schema);
        // signature of the author, then XSD of exactly the signed content
        let matcher = self.matchers.get(&sender).ok_or_else(|| {
            let kind = if self.router.directory().get(&sender).is_some() {
                "no-certificate-for-sender"
            } else {
                "unknown-sender"
            };
            Failure::reject(
                Stage::Signature,
                kind,
                format!("no certificate or subject is known for the author {sender}"),
            )
        })?;
        let verified = self.verifier.verify(&doc, Some(matcher)).map_err(|e| {
            // A stale CRL (or an internal failure) is the gateway's
            // problem: the message waits and is tried again.
            if e.kind().is_rejection() {
                Failure::reject(Stage::Signature, e.kind().as_str(), e.to_string())
            } else {
                Failure::transient(Stage::Signature, e.kind().as_str(), e.to_string())
            }
        })?;
        tracing::debug!(signer = %verified.signer_subject, "signature verified");
        // Which authority signs with which algorithm (before a policy
        // requires RSA-PSS, say). Bounded labels: three algorithms, and
        // only authorities of the directory get this far.
        metrics::counter!(
            "xoev_signatures_verified_total",
            "algorithm" => verified.algorithm.as_str(),
            "authority" => sender.clone()
        )
        .increment(1);
        if header.type_in_header.is_some() {
            // Who sends headers that name another message type than the
            // root (counted once the author is verified: bounded labels).
            metrics::counter!("xoev_header_type_mismatches_total", "authority" => sender.clone())
                .increment(1);
        }
        if let Some(earlier) = taken {
            return Err(Failure::reject(
                Stage::Header,
                "duplicate-message-id",
                format!(
                    "another message with the id {} was {} {}; a new or corrected message needs a new message id",
                    header.message_id, earlier.state, earlier.updated
                ),
            ));
        }
        clock.lap(Stage::Signature);
        xoev_dsig::strip_signature(&doc);
        schema.validate(&doc).map_err(|mut issues| {
            let content = xoev_dsig::to_bytes(&doc);
            xoev_schema::fill_columns(&content, &mut issues);
            schema_failure(
                Stage::Validate,
                SchemaError::Invalid {
                    standard: entry.name.clone(),
                    version: entry.version.clone(),
                    issues,
                },
            )
        })?;
        clock.lap(Stage::Validate);
        // From here on the validated document itself is read: no
        // serialisation, no second parse.

        // access
        let reader = header
            .reader
            .as_ref()
            .map(|r| self.router.directory().canonical(&r.key()).to_owned());
        let code = header.message_type.code.as_str();
        // Rules match the catalogue entry that validated the message, not
        // the root's free-text `standard` attribute (which some producers
        // leave as a placeholder), as `route` does.
        let standard = entry.name.clone();
        if let Some(r) = reader.as_deref()
            && self.router.directory().get(r).is_some()
        {
            self.router
                .check_access(&sender, r, code)
                .map_err(|e| Failure::reject(Stage::Access, e.kind.as_str(), e.message))?;
        }

        // evidence request: the citizen's consent
        // Ids the adapters create derive from the inbound message id: a
        // redelivered message yields the same output id, so receivers can
        // recognise a duplicate forward.
        let mut ctx = Context::new(now, seed_for(header.message_id.as_str()));
        let mut request: Option<(RequestFacts, CitizenRef, String)> = None;
        if (entry.name.as_str(), code) == EVIDENCE_REQUEST {
            let facts = RequestFacts::from_document(&doc)
                .map_err(|e| Failure::reject(Stage::Access, e.as_str(), e.to_string()))?;
            // The body names the requester too (the EU request and the
            // answer carry it on): where the directory knows it, it must
            // be the authority that signed. Else an authority could ask
            // in another's name.
            if let Some(key) = facts.requester.directory_key() {
                let named = self.router.directory().canonical(&key);
                if self.router.directory().get(named).is_some() && named != sender {
                    return Err(Failure::reject(
                        Stage::Access,
                        "requester-mismatch",
                        format!(
                            "the request's EvidenceRequester {key} is {named}, but {sender} signed it"
                        ),
                    ));
                }
            }
            let citizen = CitizenRef::from_tax_id(&facts.tax_id, &self.secret)
                .map_err(|e| Failure::reject(Stage::Access, e.as_str(), e.to_string()))?;
            seen.facts = Some((facts.clone(), Some(citizen.clone())));
            _span.record("case", facts.message_id.as_str());
            let consent = rt
                .block_on(self.audit.find_valid(
                    &citizen,
                    &sender,
                    &facts.evidence_type,
                    &facts.purpose,
                    now,
                ))
                .map_err(|e| {
                    if e.is_rejection() {
                        Failure::reject(Stage::Consent, e.as_str(), e.to_string())
                    } else {
                        Failure::transient(Stage::Consent, e.as_str(), e.to_string())
                    }
                })?;
            ctx.municipality = facts.municipality().map(str::to_owned);
            // The request adapter reads these instead of the document again.
            ctx.input_facts = Some(facts.clone());
            request = Some((facts, citizen, consent.id));
        }

        clock.lap(Stage::Consent);
        // answer: the request it answers
        let mut answered: Option<RequestFacts> = None;
        let message_type = (entry.name.as_str(), code);
        let oots_answer = OOTS_ANSWERS.contains(&message_type);
        // The signed reference in the body wins; the (unsigned) AMQP
        // correlation id is only the fallback. An OOTS answer's `requestId`
        // is a root attribute, read with the header.
        let key = if CORRELATED_ANSWERS.contains(&message_type) {
            Some(
                xoev_adapters::xestb::answer_reference(&doc)
                    .or_else(|| amqp_correlation.map(str::to_owned))
                    .ok_or_else(|| {
                        Failure::reject(
                            Stage::Correlation,
                            "no-matching-request",
                            "the answer names no request (bezug/anfrageUUID)",
                        )
                    })?,
            )
        } else if oots_answer {
            header.in_reply_to.as_ref().map(|id| id.to_string())
        } else {
            None
        };
        let claimed = match &key {
            None => None,
            Some(key) => {
                match rt.block_on(self.cases.claim_request(
                    key,
                    header.message_id.as_str(),
                    &sender,
                )) {
                    Ok(facts) => Some((key.clone(), facts)),
                    // not a request the gateway sent: passed on as it is
                    Err(CaseError::NoMatchingRequest(_)) if oots_answer => None,
                    Err(e) => return Err(correlation_failure(e)),
                }
            }
        };
        // a deferred response: the request it is about, claimed by nothing
        let mut interim: Option<RequestFacts> = None;
        if message_type == OOTS_DEFERRED
            && let Some(key) = header.in_reply_to.as_ref()
        {
            match rt.block_on(self.cases.open_request(key.as_str(), &sender)) {
                Ok(facts) => {
                    ctx.municipality = facts.municipality().map(str::to_owned);
                    ctx.request = Some(facts.clone());
                    _span.record("case", facts.message_id.as_str());
                    interim = Some(facts);
                }
                // not a request the gateway sent: passed on as it is
                Err(CaseError::NoMatchingRequest(_)) => {}
                Err(e) => return Err(correlation_failure(e)),
            }
        }
        if let Some((key, facts)) = claimed {
            seen.answer_id = Some(header.message_id.to_string());
            seen.claimed = Some((key.clone(), header.message_id.to_string()));
            if let Ok(citizen) = CitizenRef::from_tax_id(&facts.tax_id, &self.secret) {
                seen.facts = Some((facts.clone(), Some(citizen)));
            }
            ctx.municipality = facts.municipality().map(str::to_owned);
            ctx.request = Some(facts.clone());
            _span.record("case", facts.message_id.as_str());
            answered = Some(facts);
        }

        clock.lap(Stage::Correlation);
        // routing
        let input = RouteInput {
            message_type: code.to_owned(),
            standard: Some(standard.clone()),
            // The version of the schema that validated it: the root's
            // attribute, where it differs, is free text (`Catalogue::lookup`).
            version: Some(entry.version.clone()),
            sender: Some(sender.clone()),
            reader: reader.clone(),
            municipality: ctx.municipality.clone(),
        };
        let route = self
            .router
            .route(&input)
            .map_err(|e| Failure::reject(Stage::Routing, e.kind.as_str(), e.message))?;

        let copies = self.further_readers(&header, &sender, &route.recipient, code)?;

        clock.lap(Stage::Routing);
        // adapters (each step's output is validated against its target XSD)
        // The document to sign: the validated inbound content itself, or the
        // adapter chain's validated output — no further parse either way.
        // With the bytes the document was parsed from, if they are still
        // what the tree holds (the adapter's output; not the inbound
        // message, whose signature was stripped from the tree).
        // The standard and version the output is in: the input's, or the
        // last adapter's target (for the AMQP headers where the output's
        // root does not name them, as xdomea 2 and 3 do not).
        let (unsigned, output, out_entry) = if route.adapters.is_empty() {
            (None, doc, (entry.name.clone(), entry.version.clone()))
        } else {
            let chain = self
                .registry
                .chain(&route.adapters)
                .map_err(|e| Failure::reject(Stage::Adapter, e.as_str(), e.to_string()))?;
            let (bytes, output) = self
                .translator
                .run_validated(&chain, &doc, &entry.name, &entry.version, &ctx)
                .map_err(|e| Failure::reject(Stage::Adapter, e.as_str(), e.to_string()))?;
            let target = chain
                .steps()
                .last()
                .map(|a| (a.target.standard.clone(), a.target.version.clone()))
                .unwrap_or_default();
            (Some(bytes), output, target)
        };

        clock.lap(Stage::Adapter);
        // the gateway's signature
        self.signer
            .sign(&output)
            .map_err(|e| Failure::transient(Stage::Signing, e.kind().as_str(), e.to_string()))?;
        let signed = Bytes::from(match &unsigned {
            Some(bytes) => xoev_dsig::signed_bytes(bytes, &output),
            None => xoev_dsig::to_bytes(&output),
        });
        drop(output);
        clock.lap(Stage::Signing);
        // The output's header. Without an adapter the output is the inbound
        // message signed anew: its header is the one read above. An adapter's
        // output is read from the same buffer (no copy); only it can lack a
        // header (the inbound message had one): that is the adapter's doing,
        // and the same every time, so a rejection, not a retry.
        let no_header = |detail: String| {
            Failure::reject(
                Stage::Adapter,
                "output-without-header",
                format!(
                    "the adapter chain's output has no message header the gateway can read \
                     (XÖV nachrichtenkopf, xdomea Kopf or EU OOTS slots): {detail}"
                ),
            )
        };
        let out = match unsigned {
            None => None,
            Some(_) => Some(
                Message::parse(signed.clone(), &self.limits)
                    .map_err(|e| no_header(e.to_string()))?,
            ),
        };
        // A test message stays one, also where the target standard has no
        // `test` attribute for the adapter to carry it in (EU OOTS).
        let test = [out.as_ref(), Some(&message)]
            .into_iter()
            .flatten()
            .find(|m| m.is_test())
            .and_then(|m| m.test.clone());
        let (out_id, out_type) = match out {
            None => (
                header.message_id.to_string(),
                header.message_type.code.clone(),
            ),
            Some(Message {
                header: Some(h), ..
            }) => (h.message_id.to_string(), h.message_type.code),
            Some(out) => return Err(no_header(format!("none in {}", out.root))),
        };

        let case_id;
        // the request remembered below, or the claim made above
        let flush_cases = request.is_some() || answered.is_some();
        let audit = if let Some((mut facts, citizen, consent)) = request {
            // Kept with where it went: only that authority's answer may claim it.
            facts.forwarded_to = Some(route.recipient.clone());
            rt.block_on(self.cases.put_request(&out_id, &facts))
                .map_err(|e| Failure::transient(Stage::Correlation, e.as_str(), e.to_string()))?;
            case_id = facts.message_id.clone();
            Some(NewEntry {
                citizen,
                requester: facts.author.id.clone(),
                answerer: Some(route.recipient.clone()),
                evidence_type: facts.evidence_type.clone(),
                period: Some(facts.year.to_string()),
                purpose: facts.purpose.clone(),
                consent: Some(consent),
                outcome: Outcome::Forwarded,
                request_message_id: facts.message_id.clone(),
                answer_message_id: None,
            })
        } else if let Some(facts) = answered {
            case_id = facts.message_id.clone();
            CitizenRef::from_tax_id(&facts.tax_id, &self.secret)
                .ok()
                .map(|citizen| NewEntry {
                    citizen,
                    requester: facts.author.id.clone(),
                    answerer: Some(sender.clone()),
                    evidence_type: facts.evidence_type.clone(),
                    period: Some(facts.year.to_string()),
                    purpose: facts.purpose.clone(),
                    consent: Some(facts.consent.clone()),
                    outcome: Outcome::Answered,
                    request_message_id: facts.message_id.clone(),
                    answer_message_id: Some(out_id.clone()),
                })
        } else if let Some(facts) = interim {
            // a deferred response: the request's case, still open
            case_id = facts.message_id.clone();
            None
        } else {
            // An answer the header ties to its request (OOTS `requestId`)
            // shares the request's case (and AMQP correlation id).
            case_id = header
                .in_reply_to
                .as_ref()
                .unwrap_or(&header.message_id)
                .to_string();
            _span.record("case", case_id.as_str());
            None
        };

        tracing::info!(to = %route.queue, rule = %route.rule, adapters = ?route.adapters, "routed");
        let mut headers = vec![
            (xoev_transport::header::TYPE, out_type),
            (xoev_transport::header::SENDER, sender.clone()),
            (xoev_transport::header::READER, route.recipient.clone()),
        ];
        let (entry_standard, entry_version) = out_entry;
        headers.push((xoev_transport::header::STANDARD, entry_standard));
        // The version of the schema the output was validated against, as
        // routing uses it: the root's attribute may differ (`Catalogue::lookup`).
        headers.push((xoev_transport::header::VERSION, entry_version));
        if let Some(test) = test {
            headers.push((xoev_transport::header::TEST, test));
        }
        Ok(Forward {
            queue: route.queue,
            copies,
            // The envelope above is gone: the buffer is handed over, not copied.
            payload: Vec::from(signed),
            message_id: out_id,
            source_id: header.message_id.to_string(),
            case_id,
            headers,
            audit,
            headers_sender: Some(sender),
            flush_cases,
        })
    }
}

impl Pipeline {
    /// The further readers `header` names and their inboxes, each once and
    /// not the recipient itself: every one must be known and allowed to
    /// get `code` from `sender`, or the message is refused naming it — a
    /// copy the sender asked for is not dropped silently. Those named
    /// without an identifier cannot be addressed: logged, not refused.
    fn further_readers(
        &self,
        header: &Header,
        sender: &str,
        recipient: &str,
        code: &str,
    ) -> Result<Vec<(String, String)>, Failure> {
        if header.further_readers_without_id > 0 {
            tracing::warn!(
                count = header.further_readers_without_id,
                "further readers named without an identifier get no copy"
            );
        }
        let keys: Vec<String> = header.further_readers.iter().map(Authority::key).collect();
        self.router
            .copies(sender, recipient, code, keys.iter().map(String::as_str))
            .map_err(|e| {
                let stage = match e.kind {
                    xoev_routing::RouteErrorKind::AccessDenied => Stage::Access,
                    _ => Stage::Routing,
                };
                Failure::reject(stage, e.kind.as_str(), e.message)
            })
    }
}

/// What the pipeline learnt before it failed (for the rejection).
#[derive(Default)]
struct Seen {
    message: Option<Message>,
    sender: Option<String>,
    facts: Option<(RequestFacts, Option<CitizenRef>)>,
    answer_id: Option<String>,
    /// A request this answer claimed: (forwarded id, answer id).
    claimed: Option<(String, String)>,
}

enum Failure {
    Reject(Box<Reject>),
    Transient {
        stage: Stage,
        kind: String,
        detail: String,
    },
}

impl Failure {
    fn reject(stage: Stage, kind: &str, detail: impl Into<String>) -> Self {
        Self::Reject(Box::new(reject(stage, kind, detail)))
    }

    fn transient(stage: Stage, kind: &str, detail: impl Into<String>) -> Self {
        Self::Transient {
            stage,
            kind: kind.to_owned(),
            detail: detail.into(),
        }
    }
}

/// A case-store error at the correlation stage: the store unavailable is
/// the gateway's problem (the message waits), anything else the message's.
fn correlation_failure(e: CaseError) -> Failure {
    if matches!(e, CaseError::Store(_)) {
        Failure::transient(Stage::Correlation, e.as_str(), e.to_string())
    } else {
        Failure::reject(Stage::Correlation, e.as_str(), e.to_string())
    }
}

fn schema_failure(stage: Stage, e: SchemaError) -> Failure {
    if matches!(e, SchemaError::Compile { .. }) {
        return Failure::transient(stage, e.kind().as_str(), e.to_string());
    }
    Failure::Reject(Box::new(Reject {
        issues: e.issues(),
        ..reject(stage, e.kind().as_str(), e.to_string())
    }))
}

/// Records how long each stage took (`xoev_stage_duration_seconds{stage}`).
struct StageClock(std::time::Instant);

impl StageClock {
    fn start() -> Self {
        Self(std::time::Instant::now())
    }

    /// Records the time since the last lap as `stage`'s.
    fn lap(&mut self, stage: Stage) {
        let now = std::time::Instant::now();
        metrics::histogram!("xoev_stage_duration_seconds", "stage" => stage.as_str())
            .record(now.duration_since(self.0).as_secs_f64());
        self.0 = now;
    }
}

/// The seed of every id derived from inbound message `id`.
fn seed_for(id: &str) -> uuid::Uuid {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!("urn:xoev-gateway:message:{id}").as_bytes(),
    )
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}
