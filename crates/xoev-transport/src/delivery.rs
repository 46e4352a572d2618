//! [`Consumer`] and [`Delivery`]: receiving messages and settling them.

use crate::Transport;
use crate::dedup::DedupWindow;
use crate::envelope::{Envelope, Properties, Target, header};
use crate::error::TransportError;
use async_trait::async_trait;
use bytes::Bytes;
use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Settles one delivery with the broker (implemented per transport).
#[async_trait]
pub(crate) trait Settle: Send + Sync {
    /// Acknowledges: the message is done.
    async fn ack(&mut self) -> Result<(), TransportError>;
    /// Negatively acknowledges: requeue, or hand to the queue's dead-letter exchange.
    async fn nack(&mut self, requeue: bool) -> Result<(), TransportError>;
}

/// Yields deliveries of one queue (implemented per transport).
#[async_trait]
pub(crate) trait Source: Send {
    async fn next(&mut self) -> Option<Result<Delivery, TransportError>>;
}

/// A stream of deliveries from one queue. Dropping it ends the
/// subscription: deliveries not settled by then go back to the queue.
pub struct Consumer {
    source: Box<dyn Source>,
    dedup: DedupWindow,
    duplicates: u64,
}

impl fmt::Debug for Consumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("duplicates", &self.duplicates)
            .finish_non_exhaustive()
    }
}

impl Consumer {
    pub(crate) fn new(source: Box<dyn Source>, dedup: DedupWindow) -> Self {
        Self {
            source,
            dedup,
            duplicates: 0,
        }
    }

    /// The next delivery; `None` once the transport is closed.
    ///
    /// The AMQP consumer reconnects by itself when the broker goes away, so
    /// this simply waits until a message arrives again. A redelivery of a
    /// message this process already settled is acked and skipped.
    pub async fn next(&mut self) -> Option<Result<Delivery, TransportError>> {
        loop {
            let delivery = match self.source.next().await? {
                Ok(d) => d,
                Err(e) => return Some(Err(e)),
            };
            if let Some(key) = delivery.dedup_key()
                && self.dedup.contains(&key)
            {
                self.duplicates += 1;
                tracing::info!(
                    message_id = delivery.properties.message_id.as_deref().unwrap_or(""),
                    queue = %delivery.queue,
                    "duplicate delivery of a settled message: acked without processing"
                );
                // Acked on a task of its own: if the caller drops this
                // future (a timeout, `select!`), the ack still goes out
                // rather than the delivery holding a prefetch slot.
                let mut settle = delivery.settle;
                tokio::spawn(async move {
                    if let Err(e) = settle.ack().await {
                        tracing::warn!(error = %e, "could not ack a duplicate delivery; it will come again");
                    }
                });
                continue;
            }
            return Some(Ok(delivery));
        }
    }

    /// How many duplicate deliveries this consumer acked without handing them out.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }
}

/// What [`Delivery::retry`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryOutcome {
    /// Parked in the retry queue; `attempts` processing attempts have failed so far.
    Retried {
        /// Failed attempts so far.
        attempts: u32,
    },
    /// The maximum number of attempts was reached: dead-lettered.
    DeadLettered {
        /// Failed attempts in total.
        attempts: u32,
    },
}

/// One received message, to be settled exactly once.
///
/// Dropping a delivery without settling it leaves it unacknowledged: the
/// broker redelivers it once the channel closes (the in-process transport
/// puts it back at once).
pub struct Delivery {
    /// The message bytes, unchanged.
    pub payload: Bytes,
    /// Message id, correlation id, timestamp and headers.
    pub properties: Properties,
    /// Whether the broker delivered it before (to this or another consumer).
    pub redelivered: bool,
    /// The queue it came from.
    pub queue: String,
    pub(crate) settle: Box<dyn Settle>,
    pub(crate) publisher: Arc<dyn Transport>,
    pub(crate) dedup: DedupWindow,
    /// A fingerprint of the payload, computed on first use.
    pub(crate) content: std::sync::OnceLock<u64>,
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("queue", &self.queue)
            .field("properties", &self.properties)
            .field("redelivered", &self.redelivered)
            .field("bytes", &self.payload.len())
            .finish_non_exhaustive()
    }
}

impl Delivery {
    /// The message is done (its outcome is published): acknowledge it.
    pub async fn ack(mut self) -> Result<(), TransportError> {
        self.mark_settled();
        self.settle.ack().await
    }

    /// Negative acknowledgement: `requeue = true` puts it back at once (for a
    /// failure of this instance, e.g. shutting down); `false` hands it to the
    /// queue's dead-letter exchange *without* reason headers — prefer
    /// [`Delivery::dead_letter`].
    pub async fn nack(mut self, requeue: bool) -> Result<(), TransportError> {
        self.settle.nack(requeue).await
    }

    /// Rejects the message for good: publishes it (confirmed) to the
    /// dead-letter exchange with `stage`, `reason_kind` (a stable id such as
    /// `no-route`) and `reason` in headers, then acks it.
    pub async fn dead_letter(
        self,
        stage: &str,
        reason_kind: &str,
        reason: &str,
    ) -> Result<(), TransportError> {
        let attempts = self.properties.attempts();
        self.park(Target::DeadLetter, stage, reason_kind, reason, attempts)
            .await
    }

    /// A transient failure: parks the message in the retry queue (it comes
    /// back after the configured delay with its attempt count raised), or
    /// dead-letters it once the maximum number of attempts is reached.
    pub async fn retry(
        self,
        stage: &str,
        reason_kind: &str,
        reason: &str,
    ) -> Result<RetryOutcome, TransportError> {
        let attempts = self.properties.attempts().saturating_add(1);
        if attempts >= self.publisher.topology().max_attempts {
            let reason = format!("{reason} (gave up after {attempts} attempts)");
            self.park(Target::DeadLetter, stage, reason_kind, &reason, attempts)
                .await?;
            Ok(RetryOutcome::DeadLettered { attempts })
        } else {
            self.park(Target::Retry, stage, reason_kind, reason, attempts)
                .await?;
            Ok(RetryOutcome::Retried { attempts })
        }
    }

    /// The number of processing attempts that failed before this delivery.
    pub fn attempts(&self) -> u32 {
        self.properties.attempts()
    }

    /// Whether this process settled this delivery before (same queue,
    /// message id and attempt): [`Consumer::next`] skips such redeliveries;
    /// a caller that held a delivery back while another of the same id was
    /// processed asks again.
    pub fn settled_before(&self) -> bool {
        self.dedup_key()
            .is_some_and(|key| self.dedup.contains(&key))
    }

    /// The delivery's key in the deduplication window: queue, message id,
    /// attempt, the time of a resubmission after a rejection
    /// ([`crate::header::RESUBMITTED_AT`]) — and a fingerprint of the content, so that another message
    /// sent under a known id is not taken for a redelivery of it (the
    /// service refuses it as `duplicate-message-id` instead of dropping it).
    pub(crate) fn dedup_key(&self) -> Option<String> {
        static HASHER: std::sync::OnceLock<std::hash::RandomState> = std::sync::OnceLock::new();
        let id = self
            .properties
            .message_id
            .as_deref()
            .filter(|id| !id.is_empty())?;
        let content = *self.content.get_or_init(|| {
            std::hash::BuildHasher::hash_one(
                HASHER.get_or_init(std::hash::RandomState::new),
                &self.payload[..],
            )
        });
        let resubmitted = self
            .properties
            .header(crate::header::RESUBMITTED_AT)
            .unwrap_or("");
        Some(format!(
            "{}\n{content:016x}\n{resubmitted}",
            DedupWindow::key(&self.queue, id, self.properties.attempts())
        ))
    }

    fn mark_settled(&self) {
        if let Some(key) = self.dedup_key() {
            self.dedup.insert(key);
        }
    }

    /// Publishes a copy with failure headers to `target`, then acks; on a
    /// failed publish, requeues the delivery and returns the error.
    async fn park(
        mut self,
        target: Target,
        stage: &str,
        reason_kind: &str,
        reason: &str,
        attempts: u32,
    ) -> Result<(), TransportError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let id = self.properties.message_id.clone().unwrap_or_default();
        let mut env = Envelope::new(target, id.clone(), self.payload.clone());
        env.correlation_id = self.properties.correlation_id.clone();
        env.headers = self.properties.headers.clone();
        env = env
            .with_header(header::STAGE, stage)
            .with_header(header::REASON_KIND, reason_kind)
            .with_header(header::REASON, reason)
            .with_header(header::ATTEMPTS, attempts.to_string())
            .with_header(header::MESSAGE_ID, id)
            .with_header(header::FAILED_AT, now.to_string())
            .with_header(header::QUEUE, self.queue.clone());
        if let Err(e) = self.publisher.publish(env).await {
            if let Err(n) = self.settle.nack(true).await {
                tracing::warn!(error = %n, "could not requeue after a failed publish; the broker redelivers it when the channel closes");
            }
            return Err(e);
        }
        self.mark_settled();
        self.settle.ack().await
    }
}
