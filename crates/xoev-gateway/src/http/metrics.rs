//! Prometheus metrics (`GET /metrics`), recorded with the `metrics` crate.
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `xoev_messages_in_total` | counter | `standard`, `type`, `authority` (sender) |
//! | `xoev_messages_out_total` | counter | `standard`, `type`, `authority` (of the inbound message) |
//! | `xoev_messages_rejected_total` | counter | `stage`, `reason`, `standard`, `type`, `authority` |
//! | `xoev_messages_retried_total` | counter | `stage`, `reason` |
//! | `xoev_signature_failures_total` | counter | `reason` |
//! | `xoev_signatures_verified_total` | counter | `algorithm` (`rsa-sha256`, `rsa-pss-sha256`, `ecdsa-sha256`), `authority` (sender) |
//! | `xoev_header_type_mismatches_total` | counter | `authority` (verified sender whose header names another message type than the root element; routed by the root) |
//! | `xoev_validation_failures_total` | counter | `reason` (XSD and schema stage) |
//! | `xoev_pipeline_duration_seconds` | histogram | `outcome` (forward, reject, retry, error) |
//! | `xoev_publish_duration_seconds` | histogram | `outcome` (ok, error) |
//! | `xoev_access_log_duration_seconds` | histogram | `outcome` (ok, error) |
//! | `xoev_in_flight` | gauge | |
//! | `xoev_message_duration_seconds` | histogram | (a delivery from taken up to settled) |
//! | `xoev_dedupe_hits_total` | counter | `queue` |
//! | `xoev_broker_reconnects_total` | counter | (connection attempts after the first) |
//! | `xoev_http_submissions_total` | counter | `authority`, `outcome` |
//! | `xoev_http_request_duration_seconds` | histogram | `route` (template), `method`, `status` |
//! | `xoev_inbox_leased_total`, `xoev_inbox_leases_ended_total` | counter | `authority` / `outcome` |
//! | `xoev_inbox_broker_ack_failures_total` | counter | |
//! | `xoev_trust_reloads_total` | counter | `outcome` (replaced, failed) |
//! | `xoev_trust_crl_next_update_timestamp_seconds` | gauge | (earliest CRL `nextUpdate`) |
//!
//! Labels from a message are bounded: an author missing from the directory
//! is `unknown`, and so are standard and type unless the catalogue knows
//! the standard — an attacker cannot create series at will.

use super::AppState;
use crate::pipeline::{Decision, Pipeline, Stage};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;
use xoev_core::Message;

/// Histogram buckets in seconds.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// How often the recorder folds recorded histogram samples into its buckets.
const UPKEEP: Duration = Duration::from_secs(5);

/// Installs the Prometheus recorder as the process's global recorder (once;
/// later calls return the same handle), with its upkeep running every
/// 5 s on a thread of its own.
///
/// The recorder keeps every histogram sample until upkeep (or a scrape)
/// folds it into the buckets; `build_recorder` does not schedule upkeep,
/// so a gateway nobody scraped grew by every sample it recorded: in
/// `xoev-bench --messages 100000 e2e` (which installs this recorder) RSS
/// rose 83 → 100 MiB from 50,000 to 100,000 messages without upkeep, and
/// 77 → 81 MiB, flat from 70,000, with it.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("another metrics recorder is installed; /metrics stays empty");
            }
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP);
                        upkeep.run_upkeep();
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "no metrics upkeep thread: histogram samples are kept until /metrics is scraped");
            }
            handle
        })
        .clone()
}

/// `GET /metrics`: Prometheus text format.
pub async fn scrape(State(state): State<AppState>) -> Response {
    if let Some(n) = state.inner.transport.reconnects() {
        metrics::counter!("xoev_broker_reconnects_total").absolute(n);
    }
    let mut text = state.inner.metrics.render();
    // Queue figures (depths, unacked, consumers, rates) when the operations
    // client is configured; a broker problem leaves them out, not the rest.
    if let Some(access) = &state.ops {
        match access.ops().queues().await {
            Ok(report) => text.push_str(&report.prometheus()),
            Err(e) => tracing::warn!(error = %e, "queue figures not available for /metrics"),
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// The labels of an inbound message.
#[derive(Debug, Clone)]
pub struct Labels {
    standard: String,
    message_type: String,
    authority: String,
}

impl Labels {
    /// The labels of a message from the envelope the pipeline read (the one
    /// [`Pipeline::process_shared`] returns; the header is not read twice);
    /// unknown or unreadable parts are `unknown`.
    pub fn from_message(pipeline: &Pipeline, message: Option<&Message>) -> Self {
        let unknown = || "unknown".to_owned();
        let mut l = Self {
            standard: unknown(),
            message_type: unknown(),
            authority: unknown(),
        };
        let Some(message) = message else {
            return l;
        };
        let Some(header) = message.header.as_ref() else {
            return l;
        };
        if let Some(a) = &header.author {
            let directory = pipeline.router.directory();
            let key = a.key();
            let id = directory.canonical(&key);
            if directory.get(id).is_some() {
                l.authority = id.to_owned();
            }
        }
        if let Ok(entry) = pipeline.validator.catalogue().lookup(message) {
            l.standard = entry.name.clone();
            l.message_type = header.message_type.code.clone();
        }
        l
    }
}

/// Records a message entering the pipeline and its decision.
pub fn record_decision(labels: &Labels, decision: &Decision, took: Duration) {
    let (s, t, a) = (
        labels.standard.clone(),
        labels.message_type.clone(),
        labels.authority.clone(),
    );
    metrics::counter!("xoev_messages_in_total", "standard" => s.clone(), "type" => t.clone(), "authority" => a.clone())
        .increment(1);
    let outcome = match decision {
        Decision::Forward(_) => {
            metrics::counter!("xoev_messages_out_total", "standard" => s, "type" => t, "authority" => a)
                .increment(1);
            "forward"
        }
        Decision::Reject(r) => {
            let reason = r.kind.clone();
            metrics::counter!("xoev_messages_rejected_total", "stage" => r.stage.as_str(), "reason" => reason.clone(), "standard" => s, "type" => t, "authority" => a)
                .increment(1);
            match r.stage {
                Stage::Signature => {
                    metrics::counter!("xoev_signature_failures_total", "reason" => reason)
                        .increment(1);
                }
                Stage::Validate | Stage::Schema => {
                    metrics::counter!("xoev_validation_failures_total", "reason" => reason)
                        .increment(1);
                }
                _ => {}
            }
            "reject"
        }
        Decision::Retry { stage, kind, .. } => {
            metrics::counter!("xoev_messages_retried_total", "stage" => stage.as_str(), "reason" => kind.clone())
                .increment(1);
            "retry"
        }
    };
    metrics::histogram!("xoev_pipeline_duration_seconds", "outcome" => outcome)
        .record(took.as_secs_f64());
}

/// Records a pipeline task that failed (panicked).
pub fn record_task_failure(took: Duration) {
    metrics::histogram!("xoev_pipeline_duration_seconds", "outcome" => "error")
        .record(took.as_secs_f64());
}

/// Records one confirmed publish of the service.
pub fn record_publish(took: Duration, ok: bool) {
    let outcome = if ok { "ok" } else { "error" };
    metrics::histogram!("xoev_publish_duration_seconds", "outcome" => outcome)
        .record(took.as_secs_f64());
}

/// Records one access-log append of the service (after the publish, before
/// the ack: its time counts against the prefetch like the publish's).
pub fn record_access_log(took: Duration, ok: bool) {
    let outcome = if ok { "ok" } else { "error" };
    metrics::histogram!("xoev_access_log_duration_seconds", "outcome" => outcome)
        .record(took.as_secs_f64());
}

/// Counts new duplicate deliveries of a consumer: `now` is its
/// `Consumer::duplicates()`, `seen` what was counted before.
pub fn record_duplicates(queue: &str, seen: &mut u64, now: u64) {
    if now > *seen {
        metrics::counter!("xoev_dedupe_hits_total", "queue" => queue.to_owned())
            .increment(now - *seen);
        *seen = now;
    }
}

/// Keeps `xoev_in_flight` raised while alive, and records how long it was
/// alive in `xoev_message_duration_seconds`: a delivery's whole stay in the
/// gateway, from taken up to settled (acked, dead-lettered or sent to
/// retry) — the time it holds its prefetch slot on the gateway's side.
#[derive(Debug)]
pub struct InFlight {
    since: std::time::Instant,
}

impl InFlight {
    /// Raises the gauge and starts the clock; dropping lowers the gauge and
    /// records the time.
    pub fn enter() -> Self {
        metrics::gauge!("xoev_in_flight").increment(1.0);
        Self {
            since: std::time::Instant::now(),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!("xoev_in_flight").decrement(1.0);
        metrics::histogram!("xoev_message_duration_seconds")
            .record(self.since.elapsed().as_secs_f64());
    }
}
