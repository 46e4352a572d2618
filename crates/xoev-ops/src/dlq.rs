//! Dead letters: list, show, replay, purge (see the crate docs for how the
//! queue is read without losing or reordering messages).

use crate::error::{OpsError, OpsErrorKind as K};
use crate::values::{as_string, first_death, long, table_to_json};
use crate::{Ops, now_millis, now_secs, short};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueuePurgeOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::str::FromStr;
use xoev_transport::{QueueKind, header};

/// Header counting how often a message was replayed from the dead-letter queue.
pub const REPLAYS_HEADER: &str = "x-xoev-replays";

/// Header with the time of the last replay (Unix milliseconds): a replay
/// leaves a dead letter that another, later replay sent back failing again.
pub const REPLAYED_AT_HEADER: &str = header::REPLAYED_AT;

/// Failure headers a replay removes (they describe the failure, not the message).
const FAILURE_HEADERS: [&str; 6] = [
    header::STAGE,
    header::REASON,
    header::REASON_KIND,
    header::FAILED_AT,
    header::QUEUE,
    header::MESSAGE_ID,
];

/// One dead letter, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The id to show or replay it by: its message id, or for a message
    /// without one `sha256-` and the first 16 hex digits of its body's SHA-256.
    pub id: String,
    /// The AMQP `message-id` (the XÖV message UUID), if any.
    pub message_id: Option<String>,
    /// The AMQP `correlation-id` (for an answer: the request's message id).
    pub correlation_id: Option<String>,
    /// The sending authority (`x-xoev-sender`).
    pub sender: Option<String>,
    /// The receiving authority (`x-xoev-reader`).
    pub reader: Option<String>,
    /// The message type code (`x-xoev-type`).
    pub message_type: Option<String>,
    /// The XÖV standard (`x-xoev-standard`).
    pub standard: Option<String>,
    /// The case (`x-xoev-case-id`).
    pub case_id: Option<String>,
    /// The pipeline stage that failed (`x-xoev-stage`); `broker` for a
    /// message RabbitMQ dead-lettered itself (rejected, expired, queue full).
    pub stage: Option<String>,
    /// The machine-readable reason (`x-xoev-reason-kind`), or RabbitMQ's
    /// own reason (`rejected`, `expired`, `maxlen`, `delivery_limit`).
    pub reason_kind: Option<String>,
    /// The human-readable reason (`x-xoev-reason`).
    pub reason: Option<String>,
    /// Processing attempts that failed (`x-xoev-attempts`).
    pub attempts: u32,
    /// How often it was replayed before (`x-xoev-replays`).
    pub replays: u32,
    /// When it was last replayed (Unix milliseconds; `x-xoev-replayed-at`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed_at_ms: Option<u64>,
    /// When it failed (Unix seconds; `x-xoev-failed-at`, else the message's
    /// AMQP timestamp).
    pub failed_at: Option<u64>,
    /// The queue it was consumed from when it failed.
    pub queue: Option<String>,
    /// Size of the body in bytes.
    pub size: usize,
}

/// A dead letter with all its headers and its body.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct DeadLetterDetail {
    /// The summary.
    #[serde(flatten)]
    pub summary: DeadLetter,
    /// Every AMQP header, as JSON.
    pub headers: serde_json::Value,
    /// The AMQP `content-type`.
    pub content_type: Option<String>,
    /// The AMQP `timestamp` (Unix seconds) of the dead-letter copy.
    pub timestamp: Option<u64>,
    /// Whether it was published persistent.
    pub persistent: bool,
    /// The body as text, if it is UTF-8.
    pub body_text: Option<String>,
    /// The body in base64, if it is not UTF-8 (e.g. an ISO-8859-15 document).
    pub body_base64: Option<String>,
    /// The body, unchanged.
    #[serde(skip)]
    pub body: Vec<u8>,
}

/// The result of [`Ops::dead_letters`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DeadLetterList {
    /// The dead-letter queue.
    pub queue: String,
    /// Messages ready in it when the listing started, as RabbitMQ reported
    /// it (exact for a classic queue; a quorum queue's count lags a little).
    pub total: u64,
    /// Messages looked at.
    pub scanned: usize,
    /// Whether the limit stopped the listing before the end of the queue.
    pub truncated: bool,
    /// The dead letters that match the filter, oldest first.
    pub items: Vec<DeadLetter>,
}

/// Which dead letters to select: every field set must match exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Filter {
    /// `stage=…`
    pub stage: Option<String>,
    /// `reason=…`: the reason kind (e.g. `no-route`).
    pub reason: Option<String>,
    /// `sender=…`
    pub sender: Option<String>,
    /// `reader=…`
    pub reader: Option<String>,
    /// `type=…`: the message type code.
    pub message_type: Option<String>,
    /// `queue=…`: the queue it failed in.
    pub queue: Option<String>,
}

impl Filter {
    /// The filter's keys, as accepted by [`Filter::add`].
    pub const KEYS: [&str; 6] = ["stage", "reason", "sender", "reader", "type", "queue"];

    /// Adds one `key=value` condition (conditions combine with "and").
    pub fn add(&mut self, expr: &str) -> Result<(), OpsError> {
        let Some((key, value)) = expr.split_once('=') else {
            return Err(OpsError::new(
                K::InvalidFilter,
                format!(
                    "filter {expr:?} is not key=value (keys: {})",
                    Self::KEYS.join(", ")
                ),
            ));
        };
        let (key, value) = (key.trim(), value.trim());
        if value.is_empty() {
            return Err(OpsError::new(
                K::InvalidFilter,
                format!("filter {expr:?} has an empty value"),
            ));
        }
        let slot = match key {
            "stage" => &mut self.stage,
            "reason" => &mut self.reason,
            "sender" => &mut self.sender,
            "reader" => &mut self.reader,
            "type" => &mut self.message_type,
            "queue" => &mut self.queue,
            _ => {
                return Err(OpsError::new(
                    K::InvalidFilter,
                    format!(
                        "filter key {key:?} is unknown (keys: {})",
                        Self::KEYS.join(", ")
                    ),
                ));
            }
        };
        if slot.is_some() {
            return Err(OpsError::new(
                K::InvalidFilter,
                format!("filter key {key:?} is given twice"),
            ));
        }
        *slot = Some(value.to_owned());
        Ok(())
    }

    /// Parses several `key=value` conditions.
    pub fn parse_all<'a>(exprs: impl IntoIterator<Item = &'a str>) -> Result<Self, OpsError> {
        let mut f = Self::default();
        for e in exprs {
            f.add(e)?;
        }
        Ok(f)
    }

    /// Whether `d` matches every condition.
    pub fn matches(&self, d: &DeadLetter) -> bool {
        let ok = |want: &Option<String>, have: &Option<String>| {
            want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
        };
        ok(&self.stage, &d.stage)
            && ok(&self.reason, &d.reason_kind)
            && ok(&self.sender, &d.sender)
            && ok(&self.reader, &d.reader)
            && ok(&self.message_type, &d.message_type)
            && ok(&self.queue, &d.queue)
    }
}

impl FromStr for Filter {
    type Err = OpsError;

    /// Comma-separated `key=value` conditions, e.g. `stage=route,sender=ags:09162000`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_all(s.split(',').filter(|p| !p.trim().is_empty()))
    }
}

/// What [`Ops::replay`] replays.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Selection {
    /// The first dead letter with this id ([`DeadLetter::id`]).
    Id(String),
    /// Every dead letter matching the filter (in the queue when the replay starts).
    All(Filter),
}

/// The audit record of one replayed message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ReplayRecord {
    /// The dead letter as it was in the dead-letter queue.
    pub dead_letter: DeadLetter,
    /// The exchange it was republished to.
    pub exchange: String,
    /// Its `x-xoev-attempts` as republished.
    pub attempts: u32,
    /// Its `x-xoev-replays` as republished.
    pub replays: u32,
    /// When the broker confirmed it (Unix seconds).
    pub replayed_at: u64,
}

/// The result of [`Ops::replay`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ReplayReport {
    /// Messages in the dead-letter queue when the replay started (as
    /// [`DeadLetterList::total`]).
    pub total: u64,
    /// Messages looked at.
    pub scanned: usize,
    /// The messages replayed, each exactly once.
    pub replayed: Vec<ReplayRecord>,
    /// Why replaying stopped early, if it did (the messages before were
    /// replayed; this one and the rest are still dead letters).
    pub stopped: Option<OpsError>,
}

/// The audit record of a purge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PurgeRecord {
    /// The dead-letter queue.
    pub queue: String,
    /// How many messages were deleted.
    pub purged: u64,
    /// When (Unix seconds).
    pub purged_at: u64,
}

/// The most messages one operation holds (fetches) at a time.
const MAX_HELD: usize = 100_000;

/// A channel holding fetched, unacknowledged dead letters; see the crate docs.
struct Held {
    ch: Channel,
    queue: String,
    /// Messages ready when the session started: the most it fetches from a
    /// classic queue (whose count is exact; a quorum queue's lags).
    total: u32,
    fetched: usize,
    /// Whether `basic.get` found the queue empty.
    exhausted: bool,
    /// Delivery tags fetched and neither acked nor returned.
    outstanding: Vec<u64>,
    /// Quorum queue: requeued messages go to the back of the queue, so the
    /// session fetches to the end before it returns anything (see `release`).
    requeue_to_back: bool,
}

impl Held {
    /// Opens a channel on the dead-letter queue (`confirm`: in confirm mode,
    /// for republishing).
    async fn open(ops: &Ops, confirm: bool) -> Result<Self, OpsError> {
        let queue = ops.inner.config.topology.dead_letter_queue.clone();
        let ch = ops.channel().await?;
        let Some((total, _)) = Ops::passive(&ch, &queue).await? else {
            return Err(OpsError::new(
                K::UnknownQueue,
                format!("the dead-letter queue {queue} does not exist"),
            ));
        };
        if confirm {
            ch.confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(|e| OpsError::lapin(&e, K::Connection, "confirm.select"))?;
        }
        Ok(Self {
            ch,
            queue,
            total,
            fetched: 0,
            exhausted: false,
            outstanding: Vec::new(),
            requeue_to_back: ops.inner.config.topology.queue_kind == QueueKind::Quorum,
        })
    }

    /// The next dead letter, held; `None` at the end of the queue, after
    /// `limit` messages, after [`MAX_HELD`], or (classic queue) after
    /// `total` messages.
    async fn next(&mut self, limit: usize) -> Result<Option<Delivery>, OpsError> {
        let by_count = !self.requeue_to_back && self.fetched >= self.total as usize;
        if self.exhausted || by_count || self.fetched >= limit.min(MAX_HELD) {
            return Ok(None);
        }
        let got = self
            .ch
            .basic_get(short(&self.queue)?, BasicGetOptions { no_ack: false })
            .await
            .map_err(|e| {
                OpsError::lapin(&e, K::UnknownQueue, &format!("get from {}", self.queue))
            })?;
        self.exhausted = got.is_none();
        Ok(got.map(|m| {
            self.fetched += 1;
            self.outstanding.push(m.delivery.delivery_tag);
            m.delivery
        }))
    }

    /// Whether the limit, not the end of the queue, ended the session.
    fn truncated(&self, limit: usize) -> bool {
        let more = if self.requeue_to_back {
            !self.exhausted
        } else {
            self.fetched < self.total as usize
        };
        self.fetched >= limit.min(MAX_HELD) && more
    }

    /// Removes one held message for good.
    async fn ack(&mut self, tag: u64) -> Result<(), OpsError> {
        self.ch
            .basic_ack(tag, BasicAckOptions { multiple: false })
            .await
            .map_err(|e| OpsError::new(K::AckLost, format!("ack of the dead-letter copy: {e}")))?;
        self.outstanding.retain(|&t| t != tag);
        Ok(())
    }

    /// Returns every held message to the queue and closes the channel. If
    /// this fails, closing the channel — by the broker, when the connection
    /// ends — returns them just the same.
    ///
    /// A classic queue puts requeued messages back at their original
    /// positions. A quorum queue appends them at the back: so that the order
    /// stays, the session first fetches (holds) the rest of what the queue
    /// held when it started and then returns everything in one go.
    async fn release(mut self) {
        if self.requeue_to_back {
            loop {
                match self.next(usize::MAX).await {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, queue = %self.queue, "could not fetch the rest of the quorum queue; returned messages go behind it");
                        break;
                    }
                }
            }
        }
        if let Some(&last) = self.outstanding.iter().max() {
            let opts = BasicNackOptions {
                multiple: true,
                requeue: true,
            };
            if let Err(e) = self.ch.basic_nack(last, opts).await {
                tracing::warn!(error = %e, queue = %self.queue, "could not return held dead letters; the broker returns them when the channel closes");
            }
        }
        let _ = self.ch.close(200, "done".into()).await;
    }
}

impl Ops {
    /// Lists up to `limit` dead letters matching `filter`, oldest first,
    /// without removing or reordering any.
    pub async fn dead_letters(
        &self,
        filter: &Filter,
        limit: usize,
    ) -> Result<DeadLetterList, OpsError> {
        let mut held = Held::open(self, false).await?;
        let mut items = Vec::new();
        let result = async {
            while let Some(d) = held.next(limit).await? {
                let s = summary(&d);
                if filter.matches(&s) {
                    items.push(s);
                }
            }
            Ok::<_, OpsError>(())
        }
        .await;
        let (total, scanned, truncated) = (held.total, held.fetched, held.truncated(limit));
        let queue = held.queue.clone();
        held.release().await;
        result?;
        Ok(DeadLetterList {
            queue,
            total: u64::from(total),
            scanned,
            truncated,
            items,
        })
    }

    /// One dead letter with all headers and its body (the first with this
    /// id); [`OpsErrorKind::NotFound`](crate::OpsErrorKind::NotFound) if none has it.
    pub async fn dead_letter(&self, id: &str) -> Result<DeadLetterDetail, OpsError> {
        let mut held = Held::open(self, false).await?;
        let found = async {
            while let Some(d) = held.next(usize::MAX).await? {
                let s = summary(&d);
                if s.id == id {
                    return Ok(Some(detail(s, d)));
                }
            }
            Ok::<_, OpsError>(None)
        }
        .await;
        held.release().await;
        found?.ok_or_else(|| not_found(id))
    }

    /// Replays dead letters to the inbound exchange, each exactly once (see
    /// the crate docs). `Selection::Id` with no such dead letter is
    /// [`OpsErrorKind::NotFound`](crate::OpsErrorKind::NotFound); a failure
    /// after some messages were replayed ends the replay with
    /// [`ReplayReport::stopped`] set.
    pub async fn replay(&self, selection: &Selection) -> Result<ReplayReport, OpsError> {
        let started = now_millis();
        let mut held = Held::open(self, true).await?;
        let exchange = self.inner.config.topology.inbound_exchange.clone();
        let mut replayed: Vec<ReplayRecord> = Vec::new();
        let mut replayed_ids = std::collections::HashSet::new();
        let mut stopped = None;
        loop {
            let d = match held.next(usize::MAX).await {
                Ok(Some(d)) => d,
                Ok(None) => break,
                Err(e) => {
                    stopped = Some(e);
                    break;
                }
            };
            let s = summary(&d);
            if replayed_ids.contains(&s.id) {
                // Replayed by this operation and dead-lettered again: leave it.
                continue;
            }
            if s.replayed_at_ms.is_some_and(|t| t >= started) {
                // Replayed by another operation that began after this one
                // (and dead-lettered again): not this operation's to replay.
                continue;
            }
            let wanted = match selection {
                Selection::Id(id) => s.id == *id,
                Selection::All(f) => f.matches(&s),
            };
            if !wanted {
                continue;
            }
            match republish(&mut held, &exchange, s, d).await {
                Ok(record) => {
                    tracing::info!(
                        target: "xoev_ops::audit",
                        action = "dlq-replay",
                        id = %record.dead_letter.id,
                        message_id = record.dead_letter.message_id.as_deref().unwrap_or(""),
                        stage = record.dead_letter.stage.as_deref().unwrap_or(""),
                        reason_kind = record.dead_letter.reason_kind.as_deref().unwrap_or(""),
                        sender = record.dead_letter.sender.as_deref().unwrap_or(""),
                        reader = record.dead_letter.reader.as_deref().unwrap_or(""),
                        exchange = %record.exchange,
                        attempts = record.attempts,
                        replays = record.replays,
                        "dead letter replayed"
                    );
                    replayed_ids.insert(record.dead_letter.id.clone());
                    replayed.push(record);
                }
                Err(e) => {
                    tracing::warn!(target: "xoev_ops::audit", action = "dlq-replay", error = %e, "replay stopped");
                    stopped = Some(e);
                    break;
                }
            }
            if matches!(selection, Selection::Id(_)) {
                break;
            }
        }
        let (total, scanned) = (held.total, held.fetched);
        held.release().await;
        if let Selection::Id(id) = selection
            && replayed.is_empty()
        {
            return Err(stopped.unwrap_or_else(|| not_found(id)));
        }
        Ok(ReplayReport {
            total: u64::from(total),
            scanned,
            replayed,
            stopped,
        })
    }

    /// Deletes every message of the dead-letter queue. `confirmed` must be
    /// true (the caller's explicit confirmation, e.g. `--yes`); otherwise
    /// nothing happens and the error is
    /// [`OpsErrorKind::ConfirmationRequired`](crate::OpsErrorKind::ConfirmationRequired).
    pub async fn purge(&self, confirmed: bool) -> Result<PurgeRecord, OpsError> {
        let queue = self.inner.config.topology.dead_letter_queue.clone();
        if !confirmed {
            return Err(OpsError::new(
                K::ConfirmationRequired,
                format!("purging {queue} deletes its messages for good: confirm it explicitly"),
            ));
        }
        let ch = self.channel().await?;
        let purged = ch
            .queue_purge(short(&queue)?, QueuePurgeOptions::default())
            .await
            .map_err(|e| OpsError::lapin(&e, K::UnknownQueue, &format!("purge {queue}")))?;
        let _ = ch.close(200, "done".into()).await;
        let record = PurgeRecord {
            queue,
            purged: u64::from(purged),
            purged_at: now_secs(),
        };
        tracing::info!(target: "xoev_ops::audit", action = "dlq-purge", queue = %record.queue, purged = record.purged, "dead-letter queue purged");
        Ok(record)
    }
}

fn not_found(id: &str) -> OpsError {
    OpsError::new(K::NotFound, format!("no dead letter with id {id}"))
}

/// Publishes `d` (confirmed) to `exchange`, then acks its dead-letter copy.
async fn republish(
    held: &mut Held,
    exchange: &str,
    dead_letter: DeadLetter,
    d: Delivery,
) -> Result<ReplayRecord, OpsError> {
    let attempts = dead_letter.attempts.saturating_add(1);
    let replays = dead_letter.replays.saturating_add(1);
    let mut headers = FieldTable::default();
    if let Some(old) = d.properties.headers() {
        for (k, v) in old.inner() {
            if !FAILURE_HEADERS.contains(&k.as_str()) && k.as_str() != "x-death" {
                headers.insert(k.clone(), v.clone());
            }
        }
    }
    headers.insert(short(header::ATTEMPTS)?, long(&attempts.to_string()));
    headers.insert(short(REPLAYS_HEADER)?, long(&replays.to_string()));
    headers.insert(short(REPLAYED_AT_HEADER)?, long(&now_millis().to_string()));
    let mut props = BasicProperties::default()
        .with_delivery_mode(2)
        .with_timestamp(now_secs())
        .with_headers(headers);
    if let Some(v) = d.properties.content_type() {
        props = props.with_content_type(v.clone());
    }
    if let Some(v) = d.properties.message_id() {
        props = props.with_message_id(v.clone());
    }
    if let Some(v) = d.properties.correlation_id() {
        props = props.with_correlation_id(v.clone());
    }
    let id = dead_letter.id.clone();
    let fail = |what: String| OpsError::new(K::PublishFailed, format!("replay of {id}: {what}"));
    let confirm = held
        .ch
        .basic_publish(
            short(exchange)?,
            short("")?,
            BasicPublishOptions {
                mandatory: true,
                immediate: false,
            },
            &d.data,
            props,
        )
        .await
        .map_err(|e| fail(format!("publish to {exchange}: {e}")))?
        .await
        .map_err(|e| fail(format!("publisher confirm: {e}")))?;
    match confirm {
        Confirmation::Ack(None) => {}
        Confirmation::Ack(Some(r)) | Confirmation::Nack(Some(r)) => {
            return Err(fail(format!(
                "returned by the broker ({} {}): nothing is bound to {exchange}",
                r.reply_code, r.reply_text
            )));
        }
        Confirmation::Nack(None) => return Err(fail("the broker refused it".into())),
        Confirmation::NotRequested => {
            return Err(fail("the channel is not in confirm mode".into()));
        }
    }
    held.ack(d.delivery_tag).await.map_err(|e| {
        OpsError::new(
            K::AckLost,
            format!(
                "{id} was replayed but is still in the dead-letter queue: {}",
                e.message
            ),
        )
    })?;
    Ok(ReplayRecord {
        dead_letter,
        exchange: exchange.to_owned(),
        attempts,
        replays,
        replayed_at: now_secs(),
    })
}

/// The summary of a fetched dead letter.
fn summary(d: &Delivery) -> DeadLetter {
    let p = &d.properties;
    let empty = FieldTable::default();
    let headers = p.headers().as_ref().unwrap_or(&empty);
    let h = |name: &str| {
        headers
            .inner()
            .get(name)
            .and_then(as_string)
            .filter(|s| !s.is_empty())
    };
    let number = |name: &str| h(name).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
    let message_id = p
        .message_id()
        .as_ref()
        .map(|s| s.as_str().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| h(header::MESSAGE_ID));
    let id = message_id.clone().unwrap_or_else(|| {
        let digest = Sha256::digest(&d.data);
        format!("sha256-{}", &hex::encode(digest)[..16])
    });
    let death = first_death(headers);
    let by_broker = h(header::REASON_KIND).is_none() && death.is_some();
    let (death_queue, death_reason) = death.unwrap_or((None, None));
    DeadLetter {
        id,
        message_id,
        correlation_id: p.correlation_id().as_ref().map(|s| s.as_str().to_owned()),
        sender: h(header::SENDER),
        reader: h(header::READER),
        message_type: h(header::TYPE),
        standard: h(header::STANDARD),
        case_id: h(header::CASE_ID),
        stage: h(header::STAGE).or(by_broker.then(|| "broker".to_owned())),
        reason_kind: h(header::REASON_KIND).or(if by_broker { death_reason } else { None }),
        reason: h(header::REASON),
        attempts: number(header::ATTEMPTS),
        replays: number(REPLAYS_HEADER),
        replayed_at_ms: h(REPLAYED_AT_HEADER).and_then(|v| v.parse().ok()),
        failed_at: h(header::FAILED_AT)
            .and_then(|v| v.parse().ok())
            .or(*p.timestamp()),
        queue: h(header::QUEUE).or(death_queue),
        size: d.data.len(),
    }
}

fn detail(summary: DeadLetter, d: Delivery) -> DeadLetterDetail {
    use base64::Engine as _;
    let p = &d.properties;
    let headers = p
        .headers()
        .as_ref()
        .map(table_to_json)
        .unwrap_or_else(|| serde_json::json!({}));
    let (body_text, body_base64) = match std::str::from_utf8(&d.data) {
        Ok(s) => (Some(s.to_owned()), None),
        Err(_) => (
            None,
            Some(base64::engine::general_purpose::STANDARD.encode(&d.data)),
        ),
    };
    DeadLetterDetail {
        headers,
        content_type: p.content_type().as_ref().map(|s| s.as_str().to_owned()),
        timestamp: *p.timestamp(),
        persistent: *p.delivery_mode() == Some(2),
        body_text,
        body_base64,
        summary,
        body: d.data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter() -> DeadLetter {
        DeadLetter {
            id: "m1".into(),
            message_id: Some("m1".into()),
            correlation_id: None,
            sender: Some("ags:09162000".into()),
            reader: Some("fa:9198".into()),
            message_type: Some("0101".into()),
            standard: None,
            case_id: None,
            stage: Some("route".into()),
            reason_kind: Some("no-route".into()),
            reason: Some("no rule".into()),
            attempts: 0,
            replays: 0,
            replayed_at_ms: None,
            failed_at: None,
            queue: None,
            size: 3,
        }
    }

    #[test]
    fn filters_match_every_condition() {
        let d = letter();
        assert!(Filter::default().matches(&d));
        assert!(Filter::from_str("stage=route,reason=no-route").is_ok_and(|f| f.matches(&d)));
        assert!(Filter::from_str("sender=ags:09162000").is_ok_and(|f| f.matches(&d)));
        assert!(Filter::from_str("stage=validate").is_ok_and(|f| !f.matches(&d)));
        assert!(Filter::from_str("queue=x").is_ok_and(|f| !f.matches(&d)));
        assert!(Filter::from_str("type=0101, reader=fa:9198").is_ok_and(|f| f.matches(&d)));
    }

    #[test]
    fn bad_filters_are_refused_with_the_reason() {
        for (bad, needle) in [
            ("stage", "not key=value"),
            ("colour=red", "unknown"),
            ("stage=", "empty value"),
            ("stage=a,stage=b", "twice"),
        ] {
            let e = Filter::from_str(bad).err();
            assert_eq!(e.as_ref().map(|e| e.kind), Some(K::InvalidFilter), "{bad}");
            assert!(e.is_some_and(|e| e.message.contains(needle)), "{bad}");
        }
    }
}
