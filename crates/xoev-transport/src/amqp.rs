//! [`AmqpTransport`]: RabbitMQ over AMQP 0.9.1 (lapin).

use crate::Transport;
use crate::dedup::DedupWindow;
use crate::delivery::{Consumer, Delivery, Settle, Source};
use crate::envelope::{Envelope, Properties, Target};
use crate::error::{TransportError, TransportErrorKind as K};
use crate::topology::{QueueKind, TopologyConfig};
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Delivery mode of persistent messages.
const PERSISTENT: u8 = 2;

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a consumer waiting for deliveries checks that its channel and
/// connection are still open (see [`AmqpSource::next`]).
const CONSUMER_WATCH: Duration = Duration::from_secs(5);

/// How long opening a consumer's channel and subscribing may take.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an ack or nack may take to go out. lapin can wait forever on a
/// connection that died meanwhile; an ack that did not go out is reported
/// lost (the broker redelivers the message when the channel closes, and the
/// redelivery is recognised).
const SETTLE_TIMEOUT: Duration = Duration::from_secs(3);

/// Source of unique consumer tags within the process.
static CONSUMER_TAGS: AtomicU64 = AtomicU64::new(0);

/// The RabbitMQ transport. Cheap to clone: clones share one connection.
///
/// - [`AmqpTransport::connect`] connects and declares the topology
///   (idempotent: declaring an existing, identical topology changes nothing).
/// - [`Transport::publish`] publishes persistent (delivery mode 2) with
///   `mandatory` set and returns only after the broker's confirm; an
///   unroutable message is an error. When the connection breaks, it
///   reconnects with backoff, redeclares the topology and publishes again,
///   up to [`TopologyConfig::publish_timeout`].
/// - [`Transport::consume`] opens a channel with `basic_qos(prefetch)` and
///   manual acks; the consumer resubscribes by itself after a reconnect.
#[derive(Clone)]
pub struct AmqpTransport {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    config: TopologyConfig,
    live: Mutex<Option<Live>>,
    generation: AtomicU64,
    closed: AtomicBool,
    dedup: DedupWindow,
}

/// The current connection and its confirm channels.
#[derive(Clone)]
struct Live {
    generation: u64,
    connection: Arc<Connection>,
    publishers: Arc<Publishers>,
}

impl Live {
    fn usable(&self) -> bool {
        self.connection.status().connected()
    }
}

/// How many confirm channels one connection publishes on at most: as many
/// messages can wait for their confirms at the same time.
const PUBLISH_CHANNELS: usize = 64;

/// The confirm channels of one connection. Each carries **one** message at
/// a time, from `basic.publish` until its confirm; concurrent publishes use
/// different channels.
///
/// Why not one shared channel with many messages in flight: lapin (4.12)
/// attributes confirms wrongly then, in two ways, both reproduced in
/// `tests/concurrent_confirms.rs`. (1) It numbers a message for its confirm
/// before it queues the message's frames, with no lock in between, so two
/// publishes on different threads can reach the wire in the opposite order
/// of their numbers; the broker's nack for one is reported for the other —
/// under `overflow reject-publish` a refused message was reported confirmed
/// and lost (10–52 of 4,000). (2) A returned (unroutable) message is handed
/// to whichever confirm lapin completes first among those a `multiple` ack
/// covers (a hash map's order), so an unroutable message can be reported
/// confirmed — lost — and a routed one unroutable (68 of 4,000). With one
/// message per channel every ack, nack and return belongs to it.
struct Publishers {
    idle: std::sync::Mutex<Vec<Channel>>,
    slots: tokio::sync::Semaphore,
}

impl Publishers {
    fn new(first: Channel) -> Self {
        Self {
            idle: std::sync::Mutex::new(vec![first]),
            slots: tokio::sync::Semaphore::new(PUBLISH_CHANNELS),
        }
    }

    /// An idle open channel, if there is one.
    fn take(&self) -> Option<Channel> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(ch) = idle.pop() {
            if ch.status().connected() {
                return Some(ch);
            }
        }
        None
    }

    /// Gives a channel back after its message was settled (if it is still open).
    fn give_back(&self, ch: Channel) {
        if ch.status().connected() {
            self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(ch);
        }
    }
}

impl std::fmt::Debug for AmqpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpTransport")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl AmqpTransport {
    /// Connects to `url` (e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`) and
    /// declares the topology. Fails if the broker cannot be reached now or
    /// refuses the topology; later outages are bridged by reconnecting.
    pub async fn connect(url: &str, config: TopologyConfig) -> Result<Self, TransportError> {
        let dedup = DedupWindow::new(config.dedup_window);
        Self::connect_with_dedup(url, config, dedup).await
    }

    /// Like [`AmqpTransport::connect`], sharing a deduplication window with
    /// other transports of this process.
    pub async fn connect_with_dedup(
        url: &str,
        config: TopologyConfig,
        dedup: DedupWindow,
    ) -> Result<Self, TransportError> {
        let t = Self {
            inner: Arc::new(Inner {
                url: url.to_owned(),
                config,
                live: Mutex::new(None),
                generation: AtomicU64::new(0),
                closed: AtomicBool::new(false),
                dedup,
            }),
        };
        let mut guard = t.inner.live.lock().await;
        *guard = Some(t.open().await?);
        drop(guard);
        Ok(t)
    }

    /// The window of settled message ids.
    pub fn dedup(&self) -> &DedupWindow {
        &self.inner.dedup
    }

    /// Closes the connection for good; consumers end, publishes fail with
    /// [`K::Closed`]. Unsettled deliveries go back to their queues.
    pub async fn close(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        if let Some(live) = self.inner.live.lock().await.take() {
            let _ = live.connection.close(200, "closing".into()).await;
        }
    }

    /// Drops the current connection as if the broker had gone away; the
    /// transport reconnects on next use. Unsettled deliveries are
    /// redelivered by the broker. For fault-injection tests and operations.
    pub async fn reset_connection(&self) {
        if let Some(live) = self.inner.live.lock().await.take() {
            let _ = live.connection.close(320, "connection reset".into()).await;
        }
    }

    /// How many messages are ready in `queue` (a passive declare).
    pub async fn queue_depth(&self, queue: &str) -> Result<u32, TransportError> {
        let live = self.live(Some(self.deadline())).await?;
        let ch = live
            .connection
            .create_channel()
            .await
            .map_err(|e| TransportError::lapin(&e, K::Connection, "open channel"))?;
        let q = ch
            .queue_declare(
                queue_name(queue)?,
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|e| TransportError::lapin(&e, K::UnknownQueue, &format!("queue {queue}")))?;
        let _ = ch.close(200, "done".into()).await;
        Ok(q.message_count())
    }

    /// Deletes every queue and exchange of the topology (test cleanup).
    pub async fn delete_topology(&self) -> Result<(), TransportError> {
        let live = self.live(Some(self.deadline())).await?;
        let ch = live
            .connection
            .create_channel()
            .await
            .map_err(|e| TransportError::lapin(&e, K::Connection, "open channel"))?;
        let c = &self.inner.config;
        for q in c.queues() {
            ch.queue_delete(queue_name(q)?, QueueDeleteOptions::default())
                .await
                .map_err(|e| {
                    TransportError::lapin(&e, K::Topology, &format!("delete queue {q}"))
                })?;
        }
        for x in [&c.inbound_exchange, &c.dead_letter_exchange] {
            ch.exchange_delete(queue_name(x)?, ExchangeDeleteOptions::default())
                .await
                .map_err(|e| {
                    TransportError::lapin(&e, K::Topology, &format!("delete exchange {x}"))
                })?;
        }
        let _ = ch.close(200, "done".into()).await;
        Ok(())
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.inner.config.publish_timeout
    }

    /// Connects, declares the topology and opens the first confirm channel.
    async fn open(&self) -> Result<Live, TransportError> {
        let generation = self.inner.generation.fetch_add(1, Ordering::SeqCst) + 1;
        // The name shows in the management UI and `rabbitmqctl list_connections`.
        let name = format!(
            "xoev-gateway {} #{generation}",
            self.inner.config.inbound_queue
        );
        let props = ConnectionProperties::default().with_connection_name(name.into());
        let connection =
            tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(&self.inner.url, props))
                .await
                .map_err(|_| {
                    TransportError::new(
                        K::Connection,
                        format!("connect: no answer within {} s", CONNECT_TIMEOUT.as_secs()),
                    )
                })?
                .map_err(|e| TransportError::lapin(&e, K::Connection, "connect"))?;
        // A broker that accepted the connection but does not answer (still
        // starting, overloaded) must not hold the connection lock forever:
        // the whole set-up gets the connect timeout, then the caller retries.
        let setup = async {
            let ch = connection
                .create_channel()
                .await
                .map_err(|e| TransportError::lapin(&e, K::Connection, "open channel"))?;
            declare(&ch, &self.inner.config).await?;
            ch.confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(|e| TransportError::lapin(&e, K::Connection, "confirm.select"))?;
            Ok::<_, TransportError>(ch)
        };
        let ch = match tokio::time::timeout(CONNECT_TIMEOUT, setup).await {
            Ok(Ok(ch)) => ch,
            Ok(Err(e)) => {
                tokio::spawn(async move {
                    let _ = connection.close(200, "set-up failed".into()).await;
                });
                return Err(e);
            }
            Err(_) => {
                // Closing may hang the same way: not awaited.
                tokio::spawn(async move {
                    let _ = connection.close(200, "set-up timed out".into()).await;
                });
                return Err(TransportError::new(
                    K::Connection,
                    format!(
                        "channel, topology and confirms: no answer within {} s",
                        CONNECT_TIMEOUT.as_secs()
                    ),
                ));
            }
        };
        tracing::info!(generation, "connected to RabbitMQ, topology declared");
        Ok(Live {
            generation,
            connection: Arc::new(connection),
            publishers: Arc::new(Publishers::new(ch)),
        })
    }

    /// The usable connection, reconnecting with backoff until `deadline`
    /// (`None`: until closed).
    async fn live(&self, deadline: Option<Instant>) -> Result<Live, TransportError> {
        let mut guard = self.inner.live.lock().await;
        if let Some(l) = guard.as_ref().filter(|l| l.usable()) {
            return Ok(l.clone());
        }
        if let Some(old) = guard.take() {
            // The connection failed: close what is left, so consumers on
            // it resubscribe on the new one.
            tokio::spawn(async move {
                let _ = old.connection.close(200, "reconnecting".into()).await;
            });
        }
        let mut delay = self.inner.config.reconnect_initial;
        loop {
            if self.inner.closed.load(Ordering::SeqCst) {
                return Err(TransportError::new(K::Closed, "the transport is closed"));
            }
            match self.open().await {
                Ok(l) => {
                    *guard = Some(l.clone());
                    return Ok(l);
                }
                Err(e) if e.kind == K::Topology => return Err(e),
                Err(e) => {
                    if deadline.is_some_and(|d| Instant::now() + delay > d) {
                        return Err(e);
                    }
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "RabbitMQ unreachable, reconnecting");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.inner.config.reconnect_max);
                }
            }
        }
    }

    /// Forgets connection `generation` after a failure on it.
    async fn invalidate(&self, generation: u64) {
        let mut guard = self.inner.live.lock().await;
        if guard.as_ref().is_some_and(|l| l.generation == generation)
            && let Some(old) = guard.take()
        {
            tokio::spawn(async move {
                let _ = old.connection.close(200, "reconnecting".into()).await;
            });
        }
    }

    /// Opens one more confirm channel on `live`'s connection.
    async fn confirm_channel(
        &self,
        live: &Live,
        deadline: Instant,
    ) -> Result<Channel, TransportError> {
        let open = async {
            let ch = live
                .connection
                .create_channel()
                .await
                .map_err(|e| TransportError::lapin(&e, K::Connection, "open channel"))?;
            ch.confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(|e| TransportError::lapin(&e, K::Connection, "confirm.select"))?;
            Ok::<_, TransportError>(ch)
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        tokio::time::timeout(remaining.min(CONNECT_TIMEOUT), open)
            .await
            .unwrap_or_else(|_| {
                Err(TransportError::new(
                    K::Timeout,
                    "opening a confirm channel: no answer in time",
                ))
            })
    }

    async fn try_publish(&self, env: &Envelope, deadline: Instant) -> Result<(), TransportError> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(TransportError::new(K::Closed, "the transport is closed"));
        }
        let c = &self.inner.config;
        let (exchange, routing_key) = match &env.target {
            Target::Inbound => (c.inbound_exchange.as_str(), ""),
            Target::Queue(q) => ("", q.as_str()),
            Target::Retry => ("", c.retry_queue.as_str()),
            Target::DeadLetter => (c.dead_letter_exchange.as_str(), ""),
        };
        let props = properties(env)?;
        let (exchange_name, routing_name) = (queue_name(exchange)?, queue_name(routing_key)?);
        let live = self.live(Some(deadline)).await?;
        // A channel of its own until the confirm (see `Publishers`); one
        // whose confirm did not come is dropped (closed), never reused.
        let left = || deadline.saturating_duration_since(Instant::now());
        let Ok(slot) = tokio::time::timeout(left(), live.publishers.slots.acquire()).await else {
            return Err(TransportError::new(
                K::Timeout,
                format!(
                    "no publishing channel free in time for message {}",
                    env.message_id
                ),
            ));
        };
        let Ok(_slot) = slot else {
            return Err(TransportError::new(K::Closed, "the transport is closed"));
        };
        let ch = match live.publishers.take() {
            Some(ch) => ch,
            None => match self.confirm_channel(&live, deadline).await {
                Ok(ch) => ch,
                Err(e) => {
                    self.invalidate(live.generation).await;
                    return Err(e);
                }
            },
        };
        let pending = ch.basic_publish(
            exchange_name,
            routing_name,
            BasicPublishOptions {
                mandatory: true,
                immediate: false,
            },
            &env.payload,
            props,
        );
        // Bounded too: lapin can wait forever to hand the frames to a
        // connection that died meanwhile; such a connection is replaced.
        let pending = match tokio::time::timeout(left(), pending).await {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                self.invalidate(live.generation).await;
                return Err(TransportError::lapin(&e, K::Connection, "publish"));
            }
            Err(_) => {
                self.invalidate(live.generation).await;
                return Err(TransportError::new(
                    K::Connection,
                    format!(
                        "publish: the connection did not take message {} in time",
                        env.message_id
                    ),
                ));
            }
        };
        let confirmation = match tokio::time::timeout(left(), pending).await {
            Err(_) => {
                return Err(TransportError::new(
                    K::Timeout,
                    format!(
                        "no publisher confirm for message {} in time",
                        env.message_id
                    ),
                ));
            }
            Ok(Err(e)) => {
                self.invalidate(live.generation).await;
                return Err(TransportError::lapin(
                    &e,
                    K::Connection,
                    "publisher confirm",
                ));
            }
            Ok(Ok(c)) => c,
        };
        live.publishers.give_back(ch);
        match confirmation {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => {
                Err(TransportError::new(
                    K::Unroutable,
                    format!(
                        "message {} returned by the broker ({} {}): no queue for exchange {exchange:?}, routing key {routing_key:?}",
                        env.message_id, returned.reply_code, returned.reply_text
                    ),
                ))
            }
            Confirmation::Nack(None) => Err(TransportError::new(
                K::Nacked,
                format!("the broker refused to take message {}", env.message_id),
            )),
            Confirmation::NotRequested => Err(TransportError::new(
                K::Connection,
                "the publishing channel is not in confirm mode",
            )),
        }
    }
}

#[async_trait]
impl Transport for AmqpTransport {
    async fn publish(&self, envelope: Envelope) -> Result<(), TransportError> {
        let deadline = self.deadline();
        let mut delay = self.inner.config.reconnect_initial;
        loop {
            match self.try_publish(&envelope, deadline).await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_transient() && Instant::now() + delay < deadline => {
                    tracing::warn!(error = %e, message_id = %envelope.message_id, "publish failed, trying again");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.inner.config.reconnect_max);
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn consume(&self, queue: &str, prefetch: u16) -> Result<Consumer, TransportError> {
        let mut source = AmqpSource {
            transport: self.clone(),
            queue: queue.to_owned(),
            prefetch,
            current: None,
            pending: None,
        };
        // The first subscription reports its error (e.g. no such queue).
        source.current = Some(
            subscribe(
                self.clone(),
                queue.to_owned(),
                prefetch,
                Some(self.deadline()),
            )
            .await?,
        );
        Ok(Consumer::new(Box::new(source), self.inner.dedup.clone()))
    }

    fn topology(&self) -> &TopologyConfig {
        &self.inner.config
    }

    async fn close(&self) {
        AmqpTransport::close(self).await;
    }

    async fn connected(&self) -> bool {
        if self.inner.closed.load(Ordering::SeqCst) {
            return false;
        }
        // The lock is held for the whole backoff while reconnecting: not
        // getting it within a second means "not connected now".
        match tokio::time::timeout(Duration::from_secs(1), self.inner.live.lock()).await {
            Ok(guard) => guard.as_ref().is_some_and(Live::usable),
            Err(_) => false,
        }
    }

    fn reconnects(&self) -> Option<u64> {
        Some(
            self.inner
                .generation
                .load(Ordering::SeqCst)
                .saturating_sub(1),
        )
    }
}

struct AmqpSource {
    transport: AmqpTransport,
    queue: String,
    prefetch: u16,
    current: Option<Subscription>,
    /// A resubscription under way, as a task of its own: `next` may be
    /// dropped while it waits (a caller's timeout or `select!`), and a
    /// `basic.consume` abandoned half-way left a consumer registered at the
    /// broker that nobody read — holding up to `prefetch` messages
    /// unacknowledged for as long as the connection lived (the fault test's
    /// broker restart: 64 answers stuck on an orphaned subscription).
    pending: Option<tokio::task::JoinHandle<Result<Subscription, TransportError>>>,
}

/// A live subscription: the consumer, its channel and the connection under it.
struct Subscription {
    connection: Arc<Connection>,
    channel: Channel,
    consumer: lapin::Consumer,
}

impl Subscription {
    fn open(&self) -> bool {
        self.connection.status().connected() && self.channel.status().connected()
    }
}

impl Drop for Subscription {
    /// Closes the channel at the broker when a subscription is given up
    /// while its channel still looks open: dropping lapin's consumer alone
    /// does not close a channel that other handles (e.g. the ackers of
    /// deliveries buffered in lapin) still reference, and the broker would
    /// keep a consumer there that nobody reads, holding up to `prefetch`
    /// messages unacknowledged. Closing it requeues them.
    fn drop(&mut self) {
        if !self.channel.status().connected() {
            return;
        }
        let ch = self.channel.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = ch.close(200, "subscription given up".into()).await;
            });
        }
    }
}

/// Opens a channel on the live connection (reconnecting until `deadline`)
/// and subscribes to `queue` with manual acks and `prefetch`.
async fn subscribe(
    transport: AmqpTransport,
    queue: String,
    prefetch: u16,
    deadline: Option<Instant>,
) -> Result<Subscription, TransportError> {
    let live = transport.live(deadline).await?;
    // The broker answers each step at once when the connection is well; a
    // connection closed or lost meanwhile can leave lapin waiting for an
    // answer forever, so the steps get a bound and the caller tries again.
    let steps = async {
        let ch = live
            .connection
            .create_channel()
            .await
            .map_err(|e| TransportError::lapin(&e, K::Connection, "open channel"))?;
        ch.basic_qos(prefetch, BasicQosOptions::default())
            .await
            .map_err(|e| TransportError::lapin(&e, K::Connection, "basic.qos"))?;
        let tag = format!(
            "xoev-{queue}-{}",
            CONSUMER_TAGS.fetch_add(1, Ordering::Relaxed)
        );
        let consumer = ch
            .basic_consume(
                queue_name(&queue)?,
                ShortString::try_new(tag)
                    .map_err(|e| TransportError::new(K::InvalidMessage, e.to_string()))?,
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| {
                TransportError::lapin(&e, K::Topology, &format!("consume from {queue}"))
            })?;
        Ok::<_, TransportError>((ch, consumer))
    };
    let (channel, consumer) = tokio::time::timeout(SUBSCRIBE_TIMEOUT, steps)
        .await
        .map_err(|_| {
            TransportError::new(
                K::Connection,
                format!(
                    "subscribing to {queue}: no answer within {} s",
                    SUBSCRIBE_TIMEOUT.as_secs()
                ),
            )
        })??;
    Ok(Subscription {
        connection: live.connection,
        channel,
        consumer,
    })
}

#[async_trait]
impl Source for AmqpSource {
    async fn next(&mut self) -> Option<Result<Delivery, TransportError>> {
        let mut delay = self.transport.inner.config.reconnect_initial;
        loop {
            if self.transport.inner.closed.load(Ordering::SeqCst) {
                return None;
            }
            let Some(sub) = self.current.as_mut() else {
                let task = self.pending.get_or_insert_with(|| {
                    tokio::spawn(subscribe(
                        self.transport.clone(),
                        self.queue.clone(),
                        self.prefetch,
                        None,
                    ))
                });
                let subscribed = task.await;
                self.pending = None;
                let subscribed = subscribed.unwrap_or_else(|e| {
                    Err(TransportError::new(
                        K::Connection,
                        format!("subscribe task: {e}"),
                    ))
                });
                match subscribed {
                    Ok(c) => self.current = Some(c),
                    Err(e) if e.kind == K::Closed => return None,
                    Err(e) => {
                        tracing::warn!(error = %e, queue = %self.queue, "resubscribing failed, trying again");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(self.transport.inner.config.reconnect_max);
                    }
                }
                continue;
            };
            if !sub.open() {
                // Closed under us without the consumer being told: lapin
                // does not always tell it (a connection closed from this
                // side, one subscribed just as the broker shut down).
                tracing::warn!(queue = %self.queue, "consumer's channel closed without notice, resubscribing");
                self.current = None;
                continue;
            }
            // Waiting for the next delivery, look again every few seconds
            // whether channel and connection are still open (above).
            let Ok(next) = tokio::time::timeout(CONSUMER_WATCH, sub.consumer.next()).await else {
                continue;
            };
            match next {
                Some(Ok(d)) if !d.acker.usable() => {
                    // Buffered before its channel died: the broker redelivers it.
                    tracing::debug!(queue = %self.queue, "skipping a delivery of a dead channel");
                }
                Some(Ok(d)) => {
                    return Some(Ok(Delivery {
                        payload: Bytes::from(d.data),
                        properties: from_amqp(&d.properties),
                        redelivered: d.redelivered,
                        queue: self.queue.clone(),
                        settle: Box::new(AmqpSettle { acker: d.acker }),
                        publisher: Arc::new(self.transport.clone()),
                        dedup: self.transport.inner.dedup.clone(),
                        content: std::sync::OnceLock::new(),
                    }));
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, queue = %self.queue, "consumer lost its channel, resubscribing");
                    self.current = None;
                }
                None => {
                    tracing::info!(queue = %self.queue, "consumer ended, resubscribing");
                    self.current = None;
                }
            }
        }
    }
}

struct AmqpSettle {
    acker: lapin::Acker,
}

#[async_trait]
impl Settle for AmqpSettle {
    async fn ack(&mut self) -> Result<(), TransportError> {
        settled("ack", self.acker.ack(BasicAckOptions::default())).await
    }

    async fn nack(&mut self, requeue: bool) -> Result<(), TransportError> {
        let options = BasicNackOptions {
            multiple: false,
            requeue,
        };
        settled("nack", self.acker.nack(options)).await
    }
}

/// The outcome of an ack or nack (`what`), bounded by [`SETTLE_TIMEOUT`].
async fn settled(
    what: &str,
    sent: impl Future<Output = lapin::Result<bool>>,
) -> Result<(), TransportError> {
    match tokio::time::timeout(SETTLE_TIMEOUT, sent).await {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => Err(TransportError::new(
            K::AckLost,
            "the channel is gone; the broker will redeliver the message",
        )),
        Ok(Err(e)) => Err(TransportError::new(K::AckLost, format!("{what}: {e}"))),
        Err(_) => Err(TransportError::new(
            K::AckLost,
            format!(
                "{what} did not go out within {} s; the broker will redeliver the message",
                SETTLE_TIMEOUT.as_secs()
            ),
        )),
    }
}

fn queue_name(s: &str) -> Result<ShortString, TransportError> {
    ShortString::try_new(s)
        .map_err(|e| TransportError::new(K::InvalidMessage, format!("name {s:?}: {e}")))
}

fn long(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}

/// AMQP properties of an envelope: persistent, message id, correlation id, timestamp, headers.
fn properties(env: &Envelope) -> Result<BasicProperties, TransportError> {
    let short = |what: &str, v: &str| {
        ShortString::try_new(v).map_err(|e| {
            TransportError::new(
                K::InvalidMessage,
                format!("{what} of message {}: {e}", env.message_id),
            )
        })
    };
    let mut headers = FieldTable::default();
    for (k, v) in &env.headers {
        headers.insert(short("header name", k)?, long(v));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut props = BasicProperties::default()
        .with_delivery_mode(PERSISTENT)
        .with_content_type("application/xml".into())
        .with_timestamp(now)
        .with_headers(headers);
    if !env.message_id.is_empty() {
        props = props.with_message_id(short("message id", &env.message_id)?);
    }
    if let Some(c) = &env.correlation_id {
        props = props.with_correlation_id(short("correlation id", c)?);
    }
    Ok(props)
}

/// The properties of a delivery; headers with string, integer or boolean values.
fn from_amqp(p: &BasicProperties) -> Properties {
    let mut headers = BTreeMap::new();
    if let Some(table) = p.headers() {
        for (k, v) in table.inner() {
            let value = match v {
                AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
                AMQPValue::ShortString(s) => s.as_str().to_owned(),
                AMQPValue::Boolean(b) => b.to_string(),
                AMQPValue::ShortShortInt(i) => i.to_string(),
                AMQPValue::ShortShortUInt(i) => i.to_string(),
                AMQPValue::ShortInt(i) => i.to_string(),
                AMQPValue::ShortUInt(i) => i.to_string(),
                AMQPValue::LongInt(i) => i.to_string(),
                AMQPValue::LongUInt(i) => i.to_string(),
                AMQPValue::LongLongInt(i) => i.to_string(),
                _ => continue,
            };
            headers.insert(k.as_str().to_owned(), value);
        }
    }
    Properties {
        message_id: p.message_id().as_ref().map(|s| s.as_str().to_owned()),
        correlation_id: p.correlation_id().as_ref().map(|s| s.as_str().to_owned()),
        timestamp: *p.timestamp(),
        headers,
        persistent: *p.delivery_mode() == Some(PERSISTENT),
    }
}

/// Declares exchanges, queues and bindings; idempotent.
async fn declare(ch: &Channel, c: &TopologyConfig) -> Result<(), TransportError> {
    let err = |what: String| move |e: lapin::Error| TransportError::lapin(&e, K::Topology, &what);
    let durable_x = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    for x in [&c.inbound_exchange, &c.dead_letter_exchange] {
        ch.exchange_declare(
            queue_name(x)?,
            ExchangeKind::Fanout,
            durable_x,
            FieldTable::default(),
        )
        .await
        .map_err(err(format!("declare exchange {x}")))?;
    }
    let base = || {
        let mut t = FieldTable::default();
        if c.queue_kind == QueueKind::Quorum {
            t.insert("x-queue-type".into(), long("quorum"));
        }
        t
    };
    let with_dlx = |exchange: &str| {
        let mut t = base();
        t.insert("x-dead-letter-exchange".into(), long(exchange));
        t
    };
    let ttl_ms = i64::try_from(c.retry_delay.as_millis()).unwrap_or(i64::MAX);
    let mut retry_args = with_dlx(&c.inbound_exchange);
    retry_args.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ttl_ms));
    let mut queues = vec![
        (c.inbound_queue.as_str(), with_dlx(&c.dead_letter_exchange)),
        (c.retry_queue.as_str(), retry_args),
        (c.dead_letter_queue.as_str(), base()),
    ];
    for inbox in &c.inboxes {
        queues.push((inbox.as_str(), with_dlx(&c.dead_letter_exchange)));
    }
    let durable_q = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    for (q, args) in queues {
        ch.queue_declare(queue_name(q)?, durable_q, args)
            .await
            .map_err(err(format!("declare queue {q}")))?;
    }
    for (q, x) in [
        (&c.inbound_queue, &c.inbound_exchange),
        (&c.dead_letter_queue, &c.dead_letter_exchange),
    ] {
        ch.queue_bind(
            queue_name(q)?,
            queue_name(x)?,
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(err(format!("bind queue {q} to {x}")))?;
    }
    Ok(())
}
