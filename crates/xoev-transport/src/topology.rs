//! The names and settings of the RabbitMQ topology.

use std::time::Duration;

/// Classic durable queues or quorum queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum QueueKind {
    /// Durable classic queues (single node).
    #[default]
    Classic,
    /// Quorum queues (replicated; for a RabbitMQ cluster).
    Quorum,
}

/// What the transport declares and how it behaves.
///
/// All names derive from a prefix ([`TopologyConfig::with_prefix`]), so tests
/// and several installations can share one broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyConfig {
    /// Fanout exchange back-office systems publish to (`<prefix>.inbound`).
    pub inbound_exchange: String,
    /// The queue the gateway consumes, bound to the inbound exchange (`<prefix>.inbound`).
    pub inbound_queue: String,
    /// Delayed-retry queue: messages wait `retry_delay`, then go back to the
    /// inbound exchange (`<prefix>.retry`).
    pub retry_queue: String,
    /// Fanout dead-letter exchange (`<prefix>.dlx`).
    pub dead_letter_exchange: String,
    /// The dead-letter queue (`<prefix>.dlq`).
    pub dead_letter_queue: String,
    /// One inbox queue per authority (from the authority directory).
    pub inboxes: Vec<String>,
    /// Classic or quorum queues.
    pub queue_kind: QueueKind,
    /// How long a transiently failed message waits before its next attempt.
    pub retry_delay: Duration,
    /// Processing attempts before a transiently failing message is dead-lettered.
    pub max_attempts: u32,
    /// How long a publish keeps trying (across reconnects) before it fails.
    pub publish_timeout: Duration,
    /// First wait before reconnecting; doubles up to `reconnect_max`.
    pub reconnect_initial: Duration,
    /// Longest wait between reconnection attempts.
    pub reconnect_max: Duration,
    /// How many settled message ids the deduplication window remembers.
    pub dedup_window: usize,
}

impl Default for TopologyConfig {
    fn default() -> Self {
        Self::with_prefix("xoev")
    }
}

impl TopologyConfig {
    /// The standard names under `prefix` (`xoev` by default), no inboxes.
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            inbound_exchange: format!("{prefix}.inbound"),
            inbound_queue: format!("{prefix}.inbound"),
            retry_queue: format!("{prefix}.retry"),
            dead_letter_exchange: format!("{prefix}.dlx"),
            dead_letter_queue: format!("{prefix}.dlq"),
            inboxes: Vec::new(),
            queue_kind: QueueKind::Classic,
            retry_delay: Duration::from_secs(5),
            max_attempts: 5,
            publish_timeout: Duration::from_secs(30),
            reconnect_initial: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            dedup_window: 100_000,
        }
    }

    /// Adds inbox queues (e.g. `Directory::inboxes()` of `xoev-routing`).
    pub fn with_inboxes<I, S>(mut self, inboxes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.inboxes.extend(inboxes.into_iter().map(Into::into));
        self
    }

    /// Every queue the topology declares.
    pub fn queues(&self) -> impl Iterator<Item = &str> {
        [
            self.inbound_queue.as_str(),
            self.retry_queue.as_str(),
            self.dead_letter_queue.as_str(),
        ]
        .into_iter()
        .chain(self.inboxes.iter().map(String::as_str))
    }
}
