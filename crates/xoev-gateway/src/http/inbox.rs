//! Inbox pull with leases: `GET /inbox?max=N&wait=S`, `POST
//! /inbox/{lease_id}/ack`, `POST /inbox/{lease_id}/release`.
//!
//! Semantics (at-least-once; details in `docs/http.md`):
//!
//! - A pull takes up to `max` messages from the caller's inbox queue. Each
//!   one is **leased**: the delivery stays unacknowledged at the broker,
//!   held by this gateway instance under a random lease id until the lease
//!   expires (`[http] lease_seconds`).
//! - `ack` acknowledges the delivery: the message is gone for good. Acking
//!   again is a no-op (200). `release` puts the message back at once.
//! - An expired lease is nacked with requeue: the message is handed out
//!   again (to this or another client, with `redelivered: true`). So is
//!   every lease when the instance stops, its connection breaks or it dies
//!   (the broker requeues unacknowledged deliveries). Nothing is lost; a
//!   client can see a message twice and dedupes by `message_id`.
//! - A lease lives in the instance that handed it out. With several gateway
//!   instances behind a load balancer, route an authority's inbox calls to
//!   the same instance (sticky by token); an ack that reaches another
//!   instance gets 404 `unknown-lease`, and the message comes again once the
//!   lease expires.
//!
//! Each authority's inbox is read by one consumer per instance, opened on
//! the first pull (prefetch [`MAX_BATCH`]) and closed after a lease period
//! without pulls and without open leases (its unleased buffered deliveries
//! go back to the queue then).

use super::auth;
use super::{ApiError, AppState};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::time::Instant;
use xoev_transport::{Consumer, Delivery, Transport, TransportErrorKind};

/// Most messages one pull hands out, and most open leases per authority
/// and instance (the consumer's prefetch).
pub const MAX_BATCH: u16 = 50;
/// Longest `wait` of a pull, in seconds.
pub const MAX_WAIT_SECONDS: u64 = 20;
/// After the first message, a pull takes more only while they arrive this fast.
const NEXT_WAIT: Duration = Duration::from_millis(30);
/// The first message is awaited at least this long (deliveries in flight).
const MIN_FIRST_WAIT: Duration = Duration::from_millis(100);
/// How long finished lease ids are remembered (idempotent ack/release).
const FINISHED_KEEP: Duration = Duration::from_secs(3600);

pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// How a lease ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Acknowledged by the client.
    Acked,
    /// Put back by the client.
    Released,
    /// Not acknowledged in time: put back.
    Expired,
}

impl Ended {
    /// Stable id.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acked => "acked",
            Self::Released => "released",
            Self::Expired => "expired",
        }
    }
}

struct Lease {
    authority: String,
    delivery: Delivery,
    expires: Instant,
}

struct Finished {
    authority: String,
    ended: Ended,
    at: Instant,
}

struct Puller {
    consumer: Option<Consumer>,
    last_used: Instant,
    duplicates_seen: u64,
}

#[derive(Default)]
struct Leases {
    open: HashMap<String, Lease>,
    finished: HashMap<String, Finished>,
}

/// The lease table and the inbox consumers of this instance.
pub struct Inbox {
    transport: Arc<dyn Transport>,
    lease: Duration,
    // std Mutexes: short map operations, never held across an `.await`.
    leases: Mutex<Leases>,
    pullers: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Puller>>>>,
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox")
            .field("lease", &self.lease)
            .field("open_leases", &self.open_leases())
            .finish_non_exhaustive()
    }
}

/// One leased message as the client sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeasedMessage {
    /// Ack or release with this id.
    pub lease_id: String,
    /// When the lease expires (RFC 3339); unacked, the message comes again.
    pub expires_at: String,
    /// The XÖV message id (dedupe by it).
    pub message_id: Option<String>,
    /// For answers: the id of the request they answer.
    pub correlation_id: Option<String>,
    /// Whether it was handed out before.
    pub redelivered: bool,
    /// AMQP headers (standard, version, type, sender, reader, …).
    pub headers: BTreeMap<String, String>,
    /// The message bytes, unchanged, base64.
    pub payload_base64: String,
}

/// Answer of a pull.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pulled {
    /// The leased messages (possibly none).
    pub messages: Vec<LeasedMessage>,
    /// Lease duration in seconds.
    pub lease_seconds: u64,
}

/// Why an inbox operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InboxError {
    /// No such lease (never handed out here, or forgotten long ago).
    #[error("no lease with this id is held by this gateway instance")]
    UnknownLease,
    /// The lease belongs to another authority.
    #[error("the lease belongs to another authority")]
    Forbidden,
    /// The lease ended otherwise (expired, released, acked).
    #[error("the lease is {}: the message is handed out again", .0.as_str())]
    Ended(Ended),
    /// The broker could not be reached.
    #[error("broker: {0}")]
    Broker(String),
}

impl InboxError {
    /// Stable id.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::UnknownLease => "unknown-lease",
            Self::Forbidden => "forbidden",
            Self::Ended(Ended::Acked) => "lease-acked",
            Self::Ended(Ended::Released) => "lease-released",
            Self::Ended(Ended::Expired) => "lease-expired",
            Self::Broker(_) => "broker-unavailable",
        }
    }
}

impl From<InboxError> for ApiError {
    fn from(e: InboxError) -> Self {
        let status = match &e {
            InboxError::UnknownLease => StatusCode::NOT_FOUND,
            InboxError::Forbidden => StatusCode::FORBIDDEN,
            InboxError::Ended(_) => StatusCode::CONFLICT,
            InboxError::Broker(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        if let InboxError::Broker(detail) = &e {
            tracing::warn!(error = %detail, "inbox: broker unavailable");
            return ApiError::new(
                status,
                e.as_str(),
                "the broker is unavailable; try again later",
            );
        }
        ApiError::new(status, e.as_str(), e.to_string())
    }
}

impl Inbox {
    /// An empty lease table over `transport`; leases last `lease`.
    pub fn new(transport: Arc<dyn Transport>, lease: Duration) -> Self {
        Self {
            transport,
            lease,
            leases: Mutex::new(Leases::default()),
            pullers: Mutex::new(HashMap::new()),
        }
    }

    fn leases(&self) -> MutexGuard<'_, Leases> {
        // A panic while holding the lock cannot leave the maps half-changed
        // (single insert/remove calls), so a poisoned lock is still usable.
        self.leases.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of open leases.
    pub fn open_leases(&self) -> usize {
        self.leases().open.len()
    }

    /// Number of inbox consumers this instance holds open.
    pub fn open_consumers(&self) -> usize {
        let pullers: Vec<Arc<tokio::sync::Mutex<Puller>>> = self
            .pullers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        pullers
            .iter()
            .filter(|p| p.try_lock().map_or(true, |p| p.consumer.is_some()))
            .count()
    }

    fn puller(&self, queue: &str) -> Arc<tokio::sync::Mutex<Puller>> {
        let mut map = self.pullers.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(queue.to_owned())
            .or_insert_with(|| {
                Arc::new(tokio::sync::Mutex::new(Puller {
                    consumer: None,
                    last_used: Instant::now(),
                    duplicates_seen: 0,
                }))
            })
            .clone()
    }

    /// Leases up to `max` messages of `queue` for `authority`, waiting up to
    /// `wait` for the first.
    pub async fn pull(
        &self,
        authority: &str,
        queue: &str,
        max: u16,
        wait: Duration,
    ) -> Result<Pulled, InboxError> {
        self.expire_due().await;
        let puller = self.puller(queue);
        let mut p = puller.lock().await;
        p.last_used = Instant::now();
        // The pull's whole wait: subscribing (again) and the first message.
        let deadline = p.last_used + wait.max(MIN_FIRST_WAIT);
        if p.consumer.is_none() {
            p.consumer = Some(self.subscribe(queue, deadline).await?);
        }
        let mut messages = Vec::new();
        while messages.len() < usize::from(max) {
            let Some(consumer) = p.consumer.as_mut() else {
                break;
            };
            let budget = if messages.is_empty() {
                deadline
                    .saturating_duration_since(Instant::now())
                    .max(MIN_FIRST_WAIT)
            } else {
                NEXT_WAIT
            };
            match tokio::time::timeout(budget, consumer.next()).await {
                Ok(Some(Ok(d))) => messages.push(self.lease_one(authority, d)),
                Ok(Some(Err(e))) => {
                    if messages.is_empty() {
                        return Err(InboxError::Broker(e.to_string()));
                    }
                    break;
                }
                Ok(None) => {
                    // the transport is closed
                    p.consumer = None;
                    break;
                }
                Err(_) => break,
            }
        }
        if let Some(c) = &p.consumer {
            let d = c.duplicates();
            if d > p.duplicates_seen {
                metrics::counter!("xoev_dedupe_hits_total", "queue" => queue.to_owned())
                    .increment(d - p.duplicates_seen);
                p.duplicates_seen = d;
            }
        }
        metrics::counter!("xoev_inbox_leased_total", "authority" => authority.to_owned())
            .increment(messages.len() as u64);
        Ok(Pulled {
            messages,
            lease_seconds: self.lease.as_secs(),
        })
    }

    /// Subscribes to `queue`. A broker that cannot be reached (right after
    /// it restarted, say) is asked again, with backoff, until `until` (the
    /// pull's wait); only then is the pull answered 503.
    async fn subscribe(&self, queue: &str, until: Instant) -> Result<Consumer, InboxError> {
        let mut delay = Duration::from_millis(50);
        loop {
            match self.transport.consume(queue, MAX_BATCH).await {
                Ok(c) => return Ok(c),
                Err(e)
                    if e.kind == TransportErrorKind::Connection
                        && Instant::now() + delay < until =>
                {
                    tracing::warn!(error = %e, queue, "inbox: subscribing failed, trying again");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
                Err(e) => return Err(InboxError::Broker(e.to_string())),
            }
        }
    }

    /// Puts `d` in the lease table at once (so a client that goes away
    /// before the answer cannot make it disappear: the lease expires).
    fn lease_one(&self, authority: &str, d: Delivery) -> LeasedMessage {
        let lease_id = uuid::Uuid::new_v4().to_string();
        let wall = OffsetDateTime::now_utc()
            + time::Duration::try_from(self.lease).unwrap_or(time::Duration::MINUTE);
        let message = LeasedMessage {
            lease_id: lease_id.clone(),
            expires_at: rfc3339(wall),
            message_id: d.properties.message_id.clone(),
            correlation_id: d.properties.correlation_id.clone(),
            redelivered: d.redelivered,
            headers: d.properties.headers.clone(),
            payload_base64: base64::engine::general_purpose::STANDARD.encode(&d.payload),
        };
        self.leases().open.insert(
            lease_id,
            Lease {
                authority: authority.to_owned(),
                delivery: d,
                expires: Instant::now() + self.lease,
            },
        );
        message
    }

    /// Takes the open lease `id` of `authority` out of the table, or says
    /// why not (`Ok(None)`: it already ended as `same`, nothing to do).
    fn take(&self, authority: &str, id: &str, same: Ended) -> Result<Option<Lease>, InboxError> {
        let mut l = self.leases();
        if let Some(lease) = l.open.get(id) {
            if lease.authority != authority {
                return Err(InboxError::Forbidden);
            }
            return Ok(l.open.remove(id));
        }
        match l.finished.get(id) {
            None => Err(InboxError::UnknownLease),
            Some(f) if f.authority != authority => Err(InboxError::Forbidden),
            Some(f) if f.ended == same => Ok(None),
            Some(f) => Err(InboxError::Ended(f.ended)),
        }
    }

    fn finish(&self, id: &str, authority: &str, ended: Ended) {
        self.leases().finished.insert(
            id.to_owned(),
            Finished {
                authority: authority.to_owned(),
                ended,
                at: Instant::now(),
            },
        );
        metrics::counter!("xoev_inbox_leases_ended_total", "outcome" => ended.as_str())
            .increment(1);
    }

    /// Acknowledges lease `id` of `authority`; acking again is a no-op.
    pub async fn ack(&self, authority: &str, id: &str) -> Result<(), InboxError> {
        let Some(lease) = self.take(authority, id, Ended::Acked)? else {
            return Ok(());
        };
        if lease.expires <= Instant::now() {
            // Too late: it is requeued like every expired lease.
            settle_requeue(lease.delivery).await;
            self.finish(id, authority, Ended::Expired);
            return Err(InboxError::Ended(Ended::Expired));
        }
        match lease.delivery.ack().await {
            Ok(()) => {
                self.finish(id, authority, Ended::Acked);
                Ok(())
            }
            Err(e) => {
                // The client has the message (that is what its ack says);
                // only the broker did not hear it. The broker redelivers it:
                // this instance's dedup window acks the redelivery without
                // handing it out (same message id), another instance may
                // hand it out again and the client dedupes by message id.
                tracing::warn!(error = %e, lease = %id, "broker ack of an inbox lease failed; a redelivery is possible");
                metrics::counter!("xoev_inbox_broker_ack_failures_total").increment(1);
                self.finish(id, authority, Ended::Acked);
                Ok(())
            }
        }
    }

    /// Puts lease `id` of `authority` back at once; releasing again is a no-op.
    pub async fn release(&self, authority: &str, id: &str) -> Result<(), InboxError> {
        let Some(lease) = self.take(authority, id, Ended::Released)? else {
            return Ok(());
        };
        settle_requeue(lease.delivery).await;
        self.finish(id, authority, Ended::Released);
        Ok(())
    }

    /// Requeues every expired lease, forgets old finished ids and closes
    /// idle consumers. Runs before every pull and once a second in [`super::serve`].
    pub async fn expire_due(&self) {
        let now = Instant::now();
        let expired: Vec<(String, Lease)> = {
            let mut l = self.leases();
            let ids: Vec<String> = l
                .open
                .iter()
                .filter(|(_, lease)| lease.expires <= now)
                .map(|(id, _)| id.clone())
                .collect();
            l.finished
                .retain(|_, f| now.saturating_duration_since(f.at) < FINISHED_KEEP);
            ids.into_iter()
                .filter_map(|id| l.open.remove(&id).map(|lease| (id, lease)))
                .collect()
        };
        for (id, lease) in expired {
            tracing::info!(lease = %id, authority = %lease.authority, "inbox lease expired; message requeued");
            let authority = lease.authority.clone();
            settle_requeue(lease.delivery).await;
            self.finish(&id, &authority, Ended::Expired);
        }
        self.close_idle(now).await;
    }

    async fn close_idle(&self, now: Instant) {
        if self.open_leases() > 0 {
            // Leases hold deliveries of the consumers' channels: keep them all.
            return;
        }
        let pullers: Vec<Arc<tokio::sync::Mutex<Puller>>> = self
            .pullers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        for p in pullers {
            if let Ok(mut p) = p.try_lock()
                && p.consumer.is_some()
                && now.saturating_duration_since(p.last_used) >= self.lease
                && self.open_leases() == 0
            {
                p.consumer = None;
            }
        }
    }

    /// Puts every open lease back (shutdown).
    pub async fn release_all(&self) {
        let all: Vec<(String, Lease)> = self.leases().open.drain().collect();
        for (id, lease) in all {
            let authority = lease.authority.clone();
            settle_requeue(lease.delivery).await;
            self.finish(&id, &authority, Ended::Released);
        }
    }
}

async fn settle_requeue(d: Delivery) {
    if let Err(e) = d.nack(true).await {
        // The channel is gone: the broker requeues it by itself.
        tracing::warn!(error = %e, "requeue of a leased message failed; the broker redelivers it");
    }
}

/// Query of `GET /inbox`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullQuery {
    /// Most messages to lease (1..=50, default 10).
    pub max: Option<u16>,
    /// Seconds to wait for a first message (0..=20, default 0).
    pub wait: Option<u64>,
}

/// `GET /inbox`.
pub async fn pull(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<PullQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Pulled>, ApiError> {
    let authority = auth::authority(&state, &headers)?;
    let Query(q) = query
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid-parameter", e.body_text()))?;
    let max = q.max.unwrap_or(10);
    if max == 0 || max > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            format!("max must be between 1 and {MAX_BATCH}"),
        ));
    }
    let wait = q.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECONDS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            format!("wait must be between 0 and {MAX_WAIT_SECONDS} seconds"),
        ));
    }
    let queue = state
        .inner
        .pipeline
        .router
        .directory()
        .get(&authority)
        .and_then(|a| a.inbox.clone())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no-inbox",
                "the directory names no inbox for this authority",
            )
        })?;
    let pulled = state
        .inner
        .inbox
        .pull(&authority, &queue, max, Duration::from_secs(wait))
        .await?;
    Ok(Json(pulled))
}

/// `POST /inbox/{lease_id}/ack`.
pub async fn ack(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(lease_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let authority = auth::authority(&state, &headers)?;
    state.inner.inbox.ack(&authority, &lease_id).await?;
    Ok(Json(
        serde_json::json!({ "lease_id": lease_id, "acked": true }),
    ))
}

/// `POST /inbox/{lease_id}/release`.
pub async fn release(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(lease_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let authority = auth::authority(&state, &headers)?;
    state.inner.inbox.release(&authority, &lease_id).await?;
    Ok(Json(
        serde_json::json!({ "lease_id": lease_id, "released": true }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use xoev_transport::{Envelope, MemoryTransport, Target, TopologyConfig, TransportError};

    /// The in-process transport whose first `failures` subscriptions fail
    /// as an unreachable broker does (`kind`).
    struct Flaky {
        inner: MemoryTransport,
        failures: AtomicUsize,
        kind: TransportErrorKind,
    }

    #[async_trait::async_trait]
    impl Transport for Flaky {
        async fn publish(&self, envelope: Envelope) -> Result<(), TransportError> {
            self.inner.publish(envelope).await
        }

        async fn consume(&self, queue: &str, prefetch: u16) -> Result<Consumer, TransportError> {
            let left = self.failures.load(Ordering::SeqCst);
            if left > 0 {
                self.failures.store(left - 1, Ordering::SeqCst);
                return Err(TransportError::new(self.kind, "broker restarting"));
            }
            self.inner.consume(queue, prefetch).await
        }

        fn topology(&self) -> &TopologyConfig {
            self.inner.topology()
        }
    }

    async fn inbox_with(failures: usize, kind: TransportErrorKind) -> (Inbox, Arc<Flaky>) {
        let t = Arc::new(Flaky {
            inner: MemoryTransport::new(
                TopologyConfig::with_prefix("xoev-test").with_inboxes(["inbox-a"]),
            ),
            failures: AtomicUsize::new(failures),
            kind,
        });
        t.publish(Envelope::new(
            Target::Queue("inbox-a".into()),
            "m-1",
            "<m/>",
        ))
        .await
        .expect("publish");
        (Inbox::new(t.clone(), Duration::from_secs(30)), t)
    }

    #[tokio::test]
    async fn a_pull_rides_out_a_broker_that_is_briefly_unreachable() {
        let (inbox, t) = inbox_with(3, TransportErrorKind::Connection).await;
        let pulled = inbox
            .pull("a", "inbox-a", 5, Duration::from_secs(5))
            .await
            .expect("pulled after the broker came back");
        assert_eq!(pulled.messages.len(), 1);
        assert_eq!(pulled.messages[0].message_id.as_deref(), Some("m-1"));
        assert_eq!(t.failures.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_broker_still_unreachable_when_the_wait_ends_is_a_503() {
        let (inbox, _t) = inbox_with(usize::MAX, TransportErrorKind::Connection).await;
        let started = Instant::now();
        let e = inbox
            .pull("a", "inbox-a", 5, Duration::from_millis(400))
            .await
            .expect_err("unreachable");
        assert!(matches!(e, InboxError::Broker(_)), "{e}");
        assert_eq!(e.as_str(), "broker-unavailable");
        // Subscribing counts against the wait: no second wait for messages.
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "within the wait: {:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn other_subscription_errors_are_not_retried() {
        let (inbox, t) = inbox_with(1, TransportErrorKind::Topology).await;
        let e = inbox
            .pull("a", "inbox-a", 5, Duration::from_secs(5))
            .await
            .expect_err("topology");
        assert!(matches!(e, InboxError::Broker(_)), "{e}");
        assert_eq!(t.failures.load(Ordering::SeqCst), 0);
    }
}
