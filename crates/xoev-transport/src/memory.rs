//! [`MemoryTransport`]: in-process queues for the embedded demo and tests.

use crate::Transport;
use crate::dedup::DedupWindow;
use crate::delivery::{Consumer, Delivery, Settle, Source};
use crate::envelope::{Envelope, Properties, Target};
use crate::error::{TransportError, TransportErrorKind as K};
use crate::topology::TopologyConfig;
use async_trait::async_trait;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// In-process queues with the same topology and semantics as the RabbitMQ
/// transport: inbound queue, inboxes, retry with delay, dead letters,
/// prefetch, redelivery of unsettled messages.
///
/// **Not durable.** Messages live in this process's memory and are lost
/// when it ends. For the embedded `demo` and tests only; anything that
/// must not lose messages uses [`crate::AmqpTransport`].
#[derive(Clone)]
pub struct MemoryTransport {
    inner: Arc<MemInner>,
}

struct MemInner {
    config: TopologyConfig,
    queues: HashMap<String, Arc<MemQueue>>,
    dedup: DedupWindow,
}

struct MemQueue {
    items: Mutex<VecDeque<MemMessage>>,
    notify: Notify,
}

struct MemMessage {
    payload: Bytes,
    properties: Properties,
    redelivered: bool,
}

impl MemQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<MemMessage>> {
        // A poisoned lock means a panic elsewhere; the deque is still consistent.
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push_back(&self, m: MemMessage) {
        self.lock().push_back(m);
        self.notify.notify_waiters();
    }

    fn push_front(&self, m: MemMessage) {
        self.lock().push_front(m);
        self.notify.notify_waiters();
    }
}

impl std::fmt::Debug for MemoryTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTransport")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl MemoryTransport {
    /// Creates every queue of `config` (in memory).
    pub fn new(config: TopologyConfig) -> Self {
        let queues = config
            .queues()
            .map(|q| {
                (
                    q.to_owned(),
                    Arc::new(MemQueue {
                        items: Mutex::new(VecDeque::new()),
                        notify: Notify::new(),
                    }),
                )
            })
            .collect();
        Self {
            inner: Arc::new(MemInner {
                dedup: DedupWindow::new(config.dedup_window),
                config,
                queues,
            }),
        }
    }

    /// How many messages wait in `queue` (not counting unsettled deliveries).
    pub fn depth(&self, queue: &str) -> Option<usize> {
        self.inner.queues.get(queue).map(|q| q.lock().len())
    }

    /// The window of settled message ids.
    pub fn dedup(&self) -> &DedupWindow {
        &self.inner.dedup
    }

    fn queue(&self, name: &str) -> Result<Arc<MemQueue>, TransportError> {
        self.inner
            .queues
            .get(name)
            .cloned()
            .ok_or_else(|| TransportError::new(K::UnknownQueue, format!("no queue {name:?}")))
    }
}

#[async_trait]
impl Transport for MemoryTransport {
    async fn publish(&self, envelope: Envelope) -> Result<(), TransportError> {
        let c = &self.inner.config;
        let queue_name = match &envelope.target {
            Target::Inbound | Target::Retry => &c.inbound_queue,
            Target::Queue(q) => q,
            Target::DeadLetter => &c.dead_letter_queue,
        };
        let queue = self.queue(queue_name).map_err(|_| {
            TransportError::new(
                K::Unroutable,
                format!(
                    "no queue {queue_name:?} to deliver message {} to",
                    envelope.message_id
                ),
            )
        })?;
        let message = MemMessage {
            payload: envelope.payload,
            properties: Properties {
                message_id: Some(envelope.message_id).filter(|m| !m.is_empty()),
                correlation_id: envelope.correlation_id,
                timestamp: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .ok()
                    .map(|d| d.as_secs()),
                headers: envelope.headers,
                // Nothing in memory survives the process.
                persistent: false,
            },
            redelivered: false,
        };
        if envelope.target == Target::Retry {
            let delay = c.retry_delay;
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                queue.push_back(message);
            });
        } else {
            queue.push_back(message);
        }
        Ok(())
    }

    async fn consume(&self, queue: &str, prefetch: u16) -> Result<Consumer, TransportError> {
        let source = MemSource {
            queue: self.queue(queue)?,
            dead_letters: self.queue(&self.inner.config.dead_letter_queue)?,
            name: queue.to_owned(),
            permits: Arc::new(Semaphore::new(usize::from(prefetch.max(1)))),
            transport: self.clone(),
        };
        Ok(Consumer::new(Box::new(source), self.inner.dedup.clone()))
    }

    fn topology(&self) -> &TopologyConfig {
        &self.inner.config
    }
}

struct MemSource {
    queue: Arc<MemQueue>,
    dead_letters: Arc<MemQueue>,
    name: String,
    permits: Arc<Semaphore>,
    transport: MemoryTransport,
}

#[async_trait]
impl Source for MemSource {
    async fn next(&mut self) -> Option<Result<Delivery, TransportError>> {
        // The semaphore is never closed, so acquiring only waits.
        let permit = self.permits.clone().acquire_owned().await.ok()?;
        loop {
            let notified = self.queue.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let popped = self.queue.lock().pop_front();
            if let Some(m) = popped {
                return Some(Ok(Delivery {
                    payload: m.payload.clone(),
                    properties: m.properties.clone(),
                    redelivered: m.redelivered,
                    queue: self.name.clone(),
                    settle: Box::new(MemSettle {
                        queue: self.queue.clone(),
                        dead_letters: self.dead_letters.clone(),
                        message: Some(m),
                        _permit: permit,
                    }),
                    publisher: Arc::new(self.transport.clone()),
                    dedup: self.transport.inner.dedup.clone(),
                    content: std::sync::OnceLock::new(),
                }));
            }
            notified.await;
        }
    }
}

struct MemSettle {
    queue: Arc<MemQueue>,
    dead_letters: Arc<MemQueue>,
    message: Option<MemMessage>,
    _permit: OwnedSemaphorePermit,
}

#[async_trait]
impl Settle for MemSettle {
    async fn ack(&mut self) -> Result<(), TransportError> {
        self.message.take();
        Ok(())
    }

    async fn nack(&mut self, requeue: bool) -> Result<(), TransportError> {
        if let Some(mut m) = self.message.take() {
            if requeue {
                m.redelivered = true;
                self.queue.push_front(m);
            } else {
                self.dead_letters.push_back(m);
            }
        }
        Ok(())
    }
}

impl Drop for MemSettle {
    /// An unsettled delivery goes back to its queue, as RabbitMQ does when
    /// a consumer's channel closes.
    fn drop(&mut self) {
        if let Some(mut m) = self.message.take() {
            m.redelivered = true;
            self.queue.push_front(m);
        }
    }
}
