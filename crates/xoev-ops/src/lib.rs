//! Operations of the XÖV gateway: what operations staff need on the broker.
//!
//! - **Queue monitoring** ([`Ops::queues`]): per queue of the topology (the
//!   inbound queue, the retry queue, the dead-letter queue and every
//!   authority's inbox) the depth, unacknowledged messages, consumers,
//!   publish/deliver/ack rates and the age of the oldest message. Depth and
//!   consumers come from AMQP (a passive `queue.declare`: exact at the
//!   moment of the call); the rest from the RabbitMQ management HTTP API
//!   (sampled by RabbitMQ every 5 s by default). Without the management API
//!   the report still has depths and consumers, and says why the rest is
//!   missing.
//! - **Dead letters** ([`Ops::dead_letters`], [`Ops::dead_letter`],
//!   [`Ops::replay`], [`Ops::purge`]) on the real dead-letter queue.
//!
//! # How the dead-letter queue is read without losing or reordering
//!
//! One channel fetches messages with `basic.get` (manual acknowledgement)
//! and *holds* them unacknowledged while it looks at them — until the queue
//! is empty for it, at most the caller's limit, and from a classic queue at
//! most as many as it held when the operation started (messages that
//! arrive meanwhile are left for the next operation). A replay never
//! replays a message twice in one operation: a replayed message that fails
//! again and comes back is left in the queue. At the end every held message
//! is returned with one `basic.nack(multiple, requeue)`. RabbitMQ puts
//! requeued messages of a classic queue back at their original position, so
//! listing neither loses nor reorders; if the process dies or the future is
//! dropped mid-way, the channel closes and the broker requeues the held
//! messages the same way. While an operation holds messages, a second
//! operation does not see them (they are unacknowledged on the first
//! channel): two operators cannot replay the same dead letter twice.
//! The broker marks the requeued messages `redelivered`; nothing else
//! changes.
//!
//! A quorum queue appends requeued messages at its back instead; on a
//! quorum dead-letter queue ([`QueueKind::Quorum`](xoev_transport::QueueKind)
//! in the topology) an operation therefore fetches the whole queue before
//! it returns anything, so the order stays. A quorum queue's reported depth
//! lags a little (it is not used as a bound), and it counts the fetches as
//! delivery attempts: do not give a quorum dead-letter queue a
//! `delivery-limit`.
//!
//! # Replay: exactly once
//!
//! [`Ops::replay`] republishes the held dead letter to the inbound exchange
//! on a channel in confirm mode, persistent and `mandatory`, and only after
//! the broker's confirm acknowledges (removes) the dead-letter copy. A
//! publish that is not confirmed leaves the dead letter where it was. The
//! only gap is an acknowledgement lost after a confirmed publish (the
//! connection dies in between): the message is then both replayed and back
//! in the dead-letter queue; this is reported as
//! [`OpsErrorKind::AckLost`], and the replayed message keeps its message id
//! so the gateway's deduplication by message id recognises a second copy.
//!
//! The replayed message carries the original payload, message id,
//! correlation id and headers without the failure headers (stage, reason,
//! reason kind, failed-at, queue), with `x-xoev-attempts` raised by one and
//! `x-xoev-replays` counting replays. Raising the attempt count is what
//! lets the gateway process it again: its deduplication window keys
//! settled deliveries by (queue, message id, attempts), and the failed
//! delivery is in it with the old count.
//!
//! Every replay and purge is logged as a `tracing` event (target
//! `xoev_ops::audit`) and returned as a record ([`ReplayRecord`],
//! [`PurgeRecord`]) for the caller's own audit log.

mod dlq;
mod error;
mod management;
mod queues;
mod values;

pub use dlq::{
    DeadLetter, DeadLetterDetail, DeadLetterList, Filter, PurgeRecord, REPLAYED_AT_HEADER,
    REPLAYS_HEADER, ReplayRecord, ReplayReport, Selection,
};
pub use error::{OpsError, OpsErrorKind};
pub use management::{ManagementClient, ManagementQueue, MessageStats, Rate};
pub use queues::BrokerHealth;
pub use queues::{QueueReport, QueueRole, QueueStats};

use error::OpsErrorKind as K;
use lapin::options::QueueDeclareOptions;
use lapin::types::{FieldTable, ShortString};
use lapin::{Channel, Connection, ConnectionProperties};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::Mutex;
use xoev_transport::TopologyConfig;

/// How long connecting to RabbitMQ may take.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The default management API address.
pub const DEFAULT_MANAGEMENT_URL: &str = "http://127.0.0.1:15672";

/// What [`Ops`] works on.
#[derive(Debug, Clone)]
pub struct OpsConfig {
    /// The AMQP URL, e.g. `amqp://guest:guest@127.0.0.1:5672/%2f` (its
    /// virtual host is the one the management API is asked about).
    pub amqp_url: String,
    /// The management API, e.g. `http://127.0.0.1:15672`; `None`: no
    /// management data (depths and consumers only). Without user info in the
    /// URL the AMQP URL's user and password are used.
    pub management_url: Option<String>,
    /// The queue and exchange names (only the names are used; nothing is declared).
    pub topology: TopologyConfig,
    /// Inbox queue → authority id, to label inboxes in reports.
    pub inbox_authorities: BTreeMap<String, String>,
}

impl OpsConfig {
    /// Operations on `topology` over `amqp_url`, with the management API at
    /// [`DEFAULT_MANAGEMENT_URL`].
    pub fn new(amqp_url: impl Into<String>, topology: TopologyConfig) -> Self {
        Self {
            amqp_url: amqp_url.into(),
            management_url: Some(DEFAULT_MANAGEMENT_URL.to_owned()),
            topology,
            inbox_authorities: BTreeMap::new(),
        }
    }

    /// Sets the management API URL (`None`: do not use it).
    pub fn with_management(mut self, url: Option<String>) -> Self {
        self.management_url = url;
        self
    }

    /// Labels inboxes with their authority ids (`(queue, authority id)` pairs).
    pub fn with_inbox_authorities<I, Q, A>(mut self, pairs: I) -> Self
    where
        I: IntoIterator<Item = (Q, A)>,
        Q: Into<String>,
        A: Into<String>,
    {
        self.inbox_authorities
            .extend(pairs.into_iter().map(|(q, a)| (q.into(), a.into())));
        self
    }
}

/// Queue monitoring and dead-letter operations on one RabbitMQ virtual host.
///
/// Cheap to clone (clones share one AMQP connection, opened on first use
/// and again after it broke). Every operation opens its own channel and
/// closes it when done. Nothing is ever declared: a missing queue is
/// reported, not created.
#[derive(Clone)]
pub struct Ops {
    inner: Arc<Inner>,
}

struct Inner {
    config: OpsConfig,
    vhost: String,
    management: Option<ManagementClient>,
    connection: Mutex<Option<Arc<Connection>>>,
}

impl std::fmt::Debug for Ops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ops")
            .field("topology", &self.inner.config.topology)
            .field("vhost", &self.inner.vhost)
            .field(
                "management",
                &self.inner.management.as_ref().map(|m| m.url()),
            )
            .finish_non_exhaustive()
    }
}

impl Ops {
    /// Checks the URLs; connects lazily (the first operation connects).
    pub fn new(config: OpsConfig) -> Result<Self, OpsError> {
        let uri: lapin::uri::AMQPUri = config.amqp_url.parse().map_err(|e| {
            OpsError::new(
                K::InvalidConfig,
                format!("AMQP URL {:?}: {e}", redact(&config.amqp_url)),
            )
        })?;
        let management = match &config.management_url {
            Some(url) => Some(ManagementClient::new(
                url,
                &uri.authority.userinfo.username,
                &uri.authority.userinfo.password,
            )?),
            None => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                vhost: uri.vhost.clone(),
                config,
                management,
                connection: Mutex::new(None),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OpsConfig {
        &self.inner.config
    }

    /// The virtual host (from the AMQP URL).
    pub fn vhost(&self) -> &str {
        &self.inner.vhost
    }

    /// Closes the AMQP connection (a later operation opens a new one).
    pub async fn close(&self) {
        if let Some(c) = self.inner.connection.lock().await.take() {
            let _ = c.close(200, "done".into()).await;
        }
    }

    /// A new channel on the (re)opened connection.
    pub(crate) async fn channel(&self) -> Result<Channel, OpsError> {
        let mut guard = self.inner.connection.lock().await;
        if let Some(c) = guard.as_ref().filter(|c| c.status().connected()) {
            match c.create_channel().await {
                Ok(ch) => return Ok(ch),
                Err(e) => tracing::debug!(error = %e, "channel failed, reconnecting"),
            }
        }
        *guard = None;
        let props = ConnectionProperties::default().with_connection_name("xoev-gateway ops".into());
        let connect = Connection::connect(&self.inner.config.amqp_url, props);
        let c = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| {
                OpsError::new(
                    K::Connection,
                    format!("connect to RabbitMQ: no answer within {CONNECT_TIMEOUT:?}"),
                )
            })?
            .map_err(|e| OpsError::lapin(&e, K::Connection, "connect to RabbitMQ"))?;
        let c = Arc::new(c);
        *guard = Some(c.clone());
        c.create_channel()
            .await
            .map_err(|e| OpsError::lapin(&e, K::Connection, "open channel"))
    }

    /// Ready messages and consumers of `queue` (passive declare on `ch`);
    /// `Ok(None)` if it does not exist (which closes `ch`).
    pub(crate) async fn passive(ch: &Channel, queue: &str) -> Result<Option<(u32, u32)>, OpsError> {
        let name = short(queue)?;
        let opts = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        match ch.queue_declare(name, opts, FieldTable::default()).await {
            Ok(q) => Ok(Some((q.message_count(), q.consumer_count()))),
            Err(e) if matches!(e.kind(), lapin::ErrorKind::ProtocolError(_)) => Ok(None),
            Err(e) => Err(OpsError::lapin(
                &e,
                K::Connection,
                &format!("queue {queue}"),
            )),
        }
    }
}

pub(crate) fn short(s: &str) -> Result<ShortString, OpsError> {
    ShortString::try_new(s).map_err(|e| OpsError::new(K::InvalidConfig, format!("name {s:?}: {e}")))
}

pub(crate) fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The URL with its password replaced by `***` (for messages).
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].find(':') {
            Some(colon) => format!("{}:***{}", &url[..s + 3 + colon], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("amqp://guest:secret@host:5672/%2f"),
            "amqp://guest:***@host:5672/%2f"
        );
        assert_eq!(redact("amqp://host/%2f"), "amqp://host/%2f");
    }

    #[test]
    fn a_bad_amqp_url_is_a_config_error() {
        let e = Ops::new(OpsConfig::new("http://x:y@host", TopologyConfig::default())).err();
        assert_eq!(e.map(|e| e.kind), Some(K::InvalidConfig));
    }

    #[test]
    fn vhost_comes_from_the_amqp_url() {
        let ops = Ops::new(OpsConfig::new(
            "amqp://guest:guest@127.0.0.1:5672/%2f",
            TopologyConfig::default(),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ops.vhost(), "/");
        let ops = Ops::new(OpsConfig::new(
            "amqp://guest:guest@127.0.0.1:5672/prod",
            TopologyConfig::default(),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ops.vhost(), "prod");
    }
}
