//! The running gateway: consume the inbound queue, run each message through
//! the [`Pipeline`] on one of the pipeline threads ([`Workers`]), publish
//! the outcome (confirmed), then settle the delivery. Nothing is acked
//! before its outcome is stored: a forwarded request whose access-log entry
//! cannot be written goes to retry (and finally to the dead-letter queue),
//! not to ack.
//!
//! Two limits keep both cores busy without letting waits serialise the
//! service: at most `workers` messages are *processed* (CPU work on the
//! pool's `workers` threads) at the same time, while up to `prefetch`
//! messages are *in flight* — a message waiting for its publisher confirm,
//! its access-log entry (group commit) or its ack no longer holds a
//! pipeline thread.

use crate::cases::Status;
use crate::pipeline::{Decision, Pipeline, Stage};
use crate::workers::Workers;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::{Instrument, error, info, warn};
use xoev_transport::{Delivery, Envelope, Target, Transport, header};

/// How the service runs.
#[derive(Debug, Clone, Copy)]
pub struct ServiceOptions {
    /// Messages processed at the same time: the number of pipeline threads;
    /// about the number of cores.
    pub workers: usize,
    /// Unacknowledged deliveries held from the broker: the messages in
    /// flight, processed or waiting for their confirm, audit entry and ack
    /// (at least `workers`).
    pub prefetch: u16,
}

/// Consumes the inbound queue until `shutdown` resolves, then drains the
/// messages in flight (unsettled prefetched deliveries go back to the broker).
pub async fn run(
    pipeline: Arc<Pipeline>,
    transport: Arc<dyn Transport>,
    options: ServiceOptions,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let queue = transport.topology().inbound_queue.clone();
    let mut consumer = transport.consume(&queue, options.prefetch).await?;
    let workers = options.workers.max(1);
    // The broker holds back beyond `prefetch` unsettled deliveries; this
    // bound also covers deliveries of a channel that died meanwhile.
    let permits = Arc::new(Semaphore::new(workers.max(usize::from(options.prefetch))));
    let pool = Arc::new(Workers::start(
        "xoev-pipeline",
        workers,
        &tokio::runtime::Handle::current(),
    )?);
    let mut tasks = JoinSet::new();
    let in_flight = InFlightIds::default();
    let mut duplicates_seen = 0;
    info!(queue = %queue, workers = options.workers, prefetch = options.prefetch, "gateway consuming");
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = permits.clone().acquire_owned() => p?,
        };
        let next = tokio::select! {
            () = &mut shutdown => break,
            n = consumer.next() => n,
        };
        crate::http::metrics::record_duplicates(
            &queue,
            &mut duplicates_seen,
            consumer.duplicates(),
        );
        let delivery = match next {
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                warn!(error = %e, "consumer error; continuing");
                continue;
            }
            None => {
                warn!("consumer ended");
                break;
            }
        };
        let (p, t, pool) = (pipeline.clone(), transport.clone(), pool.clone());
        let span = tracing::info_span!(
            "delivery",
            message_id = delivery.properties.message_id.as_deref().unwrap_or("-")
        );
        let in_flight = in_flight.clone();
        tasks.spawn(
            async move {
                // one delivery of a message id at a time: a second, sent
                // at the same moment, is a duplicate once the first is settled
                let id = delivery
                    .properties
                    .message_id
                    .clone()
                    .filter(|id| !id.is_empty());
                let gate = id.as_deref().map(|id| in_flight.gate(id));
                let turn = match &gate {
                    Some(g) => Some(g.lock().await),
                    None => None,
                };
                if delivery.settled_before() {
                    info!("duplicate of a message settled meanwhile: acked without processing");
                    if let Err(e) = delivery.ack().await {
                        warn!(error = %e, "could not ack a duplicate delivery; it will come again");
                    }
                } else {
                    handle_limited(&p, &t, delivery, Some(&pool)).await;
                }
                drop(turn);
                if let (Some(id), Some(gate)) = (id, gate) {
                    in_flight.release(&id, gate);
                }
                drop(permit);
            }
            .instrument(span),
        );
        // reap finished tasks so the set stays small
        while let Some(done) = tasks.try_join_next() {
            if let Err(e) = done {
                error!(error = %e, "message task failed");
            }
        }
    }
    // the tasks done since the last delivery are not in flight
    while let Some(done) = tasks.try_join_next() {
        if let Err(e) = done {
            error!(error = %e, "message task failed");
        }
    }
    info!(
        in_flight = tasks.len(),
        "shutting down: draining messages in flight"
    );
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done {
            error!(error = %e, "message task failed");
        }
    }
    Ok(())
}

/// The message ids this process is processing, each with a lock that
/// deliveries of that id take in turn: a sender that submits one message
/// twice at the same moment (HTTP retries, two publishes) gets it
/// processed once — the second delivery waits, then finds the first
/// settled and is acked as its duplicate.
#[derive(Clone, Default)]
struct InFlightIds(Arc<std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>);

impl InFlightIds {
    /// The lock for `id` (created for the first delivery of it).
    fn gate(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut ids = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ids.entry(id.to_owned()).or_default().clone()
    }

    /// Gives the lock back; the last delivery of `id` removes it.
    fn release(&self, id: &str, gate: Arc<tokio::sync::Mutex<()>>) {
        let mut ids = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // held by the map and by `gate` only: nobody else waits for it
        if Arc::strong_count(&gate) == 2 {
            ids.remove(id);
        }
    }
}

/// The status of a message the pipeline refused (dead letter, rejection
/// answer to the sender).
pub const REJECTED: &str = "rejected";
/// The status of a message forwarded to its reader.
pub const FORWARDED: &str = "forwarded";

/// Whether `delivery` was sent again after its message was rejected
/// (`status`): replayed from the dead-letter queue by operations
/// (`x-xoev-replayed-at`) or resubmitted over HTTP (`x-xoev-resubmitted-at`)
/// after the rejection was recorded. Such a delivery is processed again —
/// after a repair of the configuration it may now go through — while a
/// redelivery of the same delivery (its time before the status') is a
/// duplicate.
fn sent_again_after(delivery: &Delivery, status: &Status) -> bool {
    let Ok(decided) = OffsetDateTime::parse(&status.updated, &Rfc3339) else {
        return false;
    };
    let decided_ms = decided.unix_timestamp_nanos() / 1_000_000;
    [header::REPLAYED_AT, header::RESUBMITTED_AT]
        .iter()
        .filter_map(|h| delivery.properties.header(h))
        .filter_map(|v| v.trim().parse::<i128>().ok())
        .any(|sent_ms| sent_ms > decided_ms)
}

/// The inbound envelope of `message`: its header's fields (as
/// [`Envelope::for_message`]), and the standard and version as its
/// catalogue `entry` names them where the root does not (xdomea 2/3: the
/// namespace says it). What an HTTP submission is published with, and the
/// fields a dead letter of a message published without them gets.
pub(crate) fn inbound_envelope(
    message: &xoev_core::Message,
    entry: Option<&xoev_schema::SchemaEntry>,
) -> Result<Envelope, xoev_transport::TransportError> {
    let mut envelope = Envelope::for_message(Target::Inbound, message)?;
    if let Some(entry) = entry {
        for (name, value) in [
            (header::STANDARD, &entry.name),
            (header::VERSION, &entry.version),
        ] {
            if !envelope.headers.contains_key(name) {
                envelope = envelope.with_header(name, value.clone());
            }
        }
    }
    Ok(envelope)
}

fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Processes one delivery and settles it exactly once.
pub async fn handle(pipeline: &Arc<Pipeline>, transport: &Arc<dyn Transport>, delivery: Delivery) {
    handle_limited(pipeline, transport, delivery, None).await;
}

/// [`handle`], processing on a thread of `workers` (or, without one, on
/// tokio's blocking pool); the thread is free again before the publish,
/// audit and ack waits.
async fn handle_limited(
    pipeline: &Arc<Pipeline>,
    transport: &Arc<dyn Transport>,
    delivery: Delivery,
    workers: Option<&Workers>,
) {
    let _in_flight = crate::http::metrics::InFlight::enter();
    let payload = delivery.payload.clone();
    let correlation = delivery.properties.correlation_id.clone();
    // what the gateway decided before under this id (a redelivery after a
    // restart, a resubmission), if anything
    let earlier = match delivery.properties.message_id.as_deref() {
        Some(id) if !id.is_empty() => match pipeline.cases.status(id).await {
            Ok(s) => s.filter(|s| {
                s.state != crate::http::messages::ACCEPTED
                    && !(s.state == REJECTED && sent_again_after(&delivery, s))
            }),
            Err(e) => {
                warn!(error = %e, "case store unavailable; message goes to retry");
                return retry_for_case_store(delivery, &e).await;
            }
        },
        _ => None,
    };
    let p = pipeline.clone();
    let rt = tokio::runtime::Handle::current();
    // Timed on the thread: the processing time, without the wait for one.
    let job = move || {
        let started = std::time::Instant::now();
        let digest = hex::encode(Sha256::digest(&payload));
        let taken = match &earlier {
            // the same message again: decided already, nothing to do
            Some(e) if e.digest.as_deref().is_none_or(|d| d == digest) => {
                return Job::Duplicate(e.state.clone());
            }
            // another message under the id of a rejected one: nothing went
            // out under that id, so it is free (a corrected xdomea 2/3
            // message keeps its process's id)
            Some(e) if e.state == REJECTED => None,
            other => other.as_ref(),
        };
        let decided_before = taken.is_some();
        let (decision, message) = p.process_delivery(&payload, correlation.as_deref(), taken, &rt);
        let labels = crate::http::metrics::Labels::from_message(&p, message.as_ref());
        // a dead letter names what its header says (as a message submitted
        // over HTTP carries it already), so operators can find it by sender
        let header_fields = match (&decision, &message) {
            (Decision::Reject(_), Some(m)) => {
                inbound_envelope(m, p.validator.catalogue().lookup(m).ok())
                    .map(|e| e.headers)
                    .unwrap_or_default()
            }
            _ => Default::default(),
        };
        Job::Decided {
            decision,
            labels,
            header_fields,
            digest,
            decided_before,
            took: started.elapsed(),
        }
    };
    let started = std::time::Instant::now();
    let processed = match workers {
        Some(w) => w.run(job).await.map_err(|e| e.to_string()),
        None => tokio::task::spawn_blocking(job)
            .await
            .map_err(|e| e.to_string()),
    };
    let mut delivery = delivery;
    let (decision, digest, decided_before) = match processed {
        Ok(Job::Decided {
            decision,
            labels,
            header_fields,
            digest,
            decided_before,
            took,
        }) => {
            crate::http::metrics::record_decision(&labels, &decision, took);
            for (name, value) in header_fields {
                delivery.properties.headers.entry(name).or_insert(value);
            }
            (decision, digest, decided_before)
        }
        Ok(Job::Duplicate(state)) => {
            info!(earlier = %state, "the same message was decided before: acked without processing");
            if let Err(e) = delivery.ack().await {
                warn!(error = %e, "could not ack a duplicate delivery; it will come again");
            }
            return;
        }
        Err(e) => {
            crate::http::metrics::record_task_failure(started.elapsed());
            error!(error = %e, "pipeline task failed; message goes to retry");
            settle_retry(delivery, "pipeline", "internal-error", &e).await;
            return;
        }
    };
    match decision {
        Decision::Forward(f) => {
            // Nothing leaves before the case store holds what it relies on:
            // the request an answer will name, or the claim of this answer.
            if f.flush_cases
                && let Err(e) = pipeline.cases.flush().await
            {
                warn!(error = %e, "case store not durable; message goes to retry");
                return retry_for_case_store(delivery, &e).await;
            }
            // The reader's inbox first, then a copy for each further reader
            // (xdomea); a failed publish retries them all, and receivers
            // recognise what they already have by the message id.
            let payload = bytes::Bytes::from(f.payload); // shared by the copies, not copied
            let mut targets = vec![(f.queue.clone(), None)];
            targets.extend(
                f.copies
                    .iter()
                    .map(|(id, q)| (q.clone(), Some(id.as_str()))),
            );
            for (queue, copy_for) in targets {
                let mut env = Envelope::new(
                    Target::Queue(queue.clone()),
                    f.message_id.clone(),
                    payload.clone(),
                )
                .with_correlation_id(f.case_id.clone())
                .with_case_id(f.case_id.clone());
                for (name, value) in &f.headers {
                    env = env.with_header(*name, value.clone());
                }
                if let Some(id) = copy_for {
                    env = env.with_header(xoev_transport::header::COPY_FOR, id);
                }
                let publish_started = std::time::Instant::now();
                let published = transport.publish(env).await;
                crate::http::metrics::record_publish(publish_started.elapsed(), published.is_ok());
                if let Err(e) = published {
                    warn!(error = %e, queue = %queue, "publish failed");
                    // An inbox that does not exist right now (deleted, being
                    // restored) is a transient condition for the gateway: the
                    // directory says it exists. Retry; dead-letter after the
                    // maximum number of attempts.
                    if e.is_transient() || e.kind == xoev_transport::TransportErrorKind::Unroutable
                    {
                        settle_retry(delivery, "publish", e.kind.as_str(), &e.to_string()).await;
                    } else {
                        settle_dead(delivery, "publish", e.kind.as_str(), &e.to_string()).await;
                    }
                    return;
                }
            }
            info!(case = %f.case_id, to = %f.queue, forwarded_id = %f.message_id, "forwarded");
            if let Some(entry) = f.audit
                && let Err(e) = append_access_log(pipeline, entry).await
            {
                // Forwarded but not logged: the citizen's access log would
                // miss it. Not acked: the retry forwards again under the same
                // output id (receivers recognise the duplicate) and appends
                // again; after the last attempt it is a dead letter for
                // operations, the destination already has it.
                error!(error = %e, "access log append failed; message goes to retry");
                settle_retry(delivery, "audit", "access-log-unavailable", &e.to_string()).await;
                return;
            }
            let status = Status {
                state: FORWARDED.into(),
                stage: None,
                reason: None,
                detail: None,
                destination: Some(f.queue),
                copies: f.copies.into_iter().map(|(_, q)| q).collect(),
                digest: Some(digest.clone()),
                forwarded_id: Some(f.message_id),
                sender: f.headers_sender,
                updated: now(),
            };
            if let Err(e) = pipeline.cases.set_status(&f.source_id, &status).await {
                warn!(error = %e, "status not recorded");
            }
            if let Err(e) = delivery.ack().await {
                warn!(error = %e, "ack failed (the broker will redeliver; duplicates are recognised)");
            }
        }
        Decision::Reject(r) => {
            warn!(stage = r.stage.as_str(), reason = %r.kind, detail = %r.detail, "rejected");
            if let Some((queue, bytes, id)) = r.answer {
                let mut env = Envelope::new(Target::Queue(queue.clone()), id, bytes).with_header(
                    xoev_transport::header::TYPE,
                    crate::pipeline::rejection::MESSAGE_TYPE,
                );
                if let Some(orig) = &r.message_id {
                    env = env.with_correlation_id(orig.clone());
                }
                if let Err(e) = transport.publish(env).await {
                    // The dead letter below still records the rejection.
                    warn!(error = %e, queue = %queue, "rejection answer not delivered");
                }
            }
            if let Some(entry) = r.audit
                && let Err(e) = append_access_log(pipeline, entry).await
            {
                error!(error = %e, "access log append failed");
            }
            // the status only once the dead letter is safe: a status of
            // "rejected" makes a redelivery a duplicate
            if !settle_dead(delivery, r.stage.as_str(), &r.kind, &r.detail).await {
                return;
            }
            // …and never over the status of another message decided under
            // this id (the one a `duplicate-message-id` reuses)
            if let Some(id) = r.message_id.as_ref().filter(|_| !decided_before) {
                let status = Status {
                    state: REJECTED.into(),
                    stage: Some(r.stage.as_str().into()),
                    reason: Some(r.kind.clone()),
                    detail: Some(r.detail.clone()),
                    destination: None,
                    copies: Vec::new(),
                    digest: Some(digest),
                    forwarded_id: None,
                    sender: r.sender.clone(),
                    updated: now(),
                };
                if let Err(e) = pipeline.cases.set_status(id, &status).await {
                    warn!(error = %e, "status not recorded");
                }
            }
        }
        Decision::Retry {
            stage,
            kind,
            detail,
        } => {
            warn!(stage = stage.as_str(), reason = %kind, detail = %detail, "transient failure");
            settle_retry(delivery, stage.as_str(), &kind, &detail).await;
        }
    }
}

/// Appends to the access log, timed for `/metrics`.
async fn append_access_log(
    pipeline: &Pipeline,
    entry: xoev_audit::NewEntry,
) -> Result<(), xoev_audit::StoreError> {
    let started = std::time::Instant::now();
    let appended = pipeline.audit.append(entry).await.map(drop);
    crate::http::metrics::record_access_log(started.elapsed(), appended.is_ok());
    appended
}

/// The case store failed (a transient condition): retry at its stage.
async fn retry_for_case_store(delivery: Delivery, e: &crate::cases::CaseError) {
    settle_retry(
        delivery,
        Stage::Correlation.as_str(),
        e.as_str(),
        &e.to_string(),
    )
    .await;
}

/// Dead-letters the delivery; whether that worked.
async fn settle_dead(delivery: Delivery, stage: &str, kind: &str, detail: &str) -> bool {
    match delivery.dead_letter(stage, kind, detail).await {
        Ok(()) => true,
        Err(e) => {
            // Not acked: the broker redelivers it later.
            error!(error = %e, "dead-lettering failed; the message stays in the queue");
            false
        }
    }
}

/// What a pipeline thread hands back for a delivery.
enum Job {
    /// The pipeline's decision, the labels and header fields for metrics
    /// and dead letters, the payload's SHA-256, whether another message was
    /// decided under its id before (its status is then kept), the
    /// processing time.
    Decided {
        decision: Decision,
        labels: crate::http::metrics::Labels,
        header_fields: std::collections::BTreeMap<String, String>,
        digest: String,
        decided_before: bool,
        took: std::time::Duration,
    },
    /// The same message was decided before (its status): nothing to do.
    Duplicate(String),
}

async fn settle_retry(delivery: Delivery, stage: &str, kind: &str, detail: &str) {
    match delivery.retry(stage, kind, detail).await {
        Ok(outcome) => info!(?outcome, "retry scheduled"),
        Err(e) => error!(error = %e, "retry failed; the message stays in the queue"),
    }
}
