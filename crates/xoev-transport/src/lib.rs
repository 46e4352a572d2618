//! The transport of the XÖV gateway: how messages travel between the
//! gateway and the authorities' back-office systems.
//!
//! One trait, [`Transport`], two implementations:
//!
//! - [`AmqpTransport`] — RabbitMQ over AMQP 0.9.1 (lapin). Declares its
//!   topology at start (idempotently), publishes persistent messages and
//!   waits for publisher confirms, consumes with manual acks and a prefetch
//!   limit, reconnects with backoff and redeclares the topology when the
//!   broker goes away, retries transient failures through a TTL retry queue
//!   and dead-letters with the reason in headers.
//! - [`MemoryTransport`] — in-process queues for the embedded demo and unit
//!   tests. **Not durable**: everything is lost when the process ends.
//!
//! The pipeline's contract: take a [`Delivery`] from a [`Consumer`], publish
//! the outcome with [`Transport::publish`] (which returns only once the
//! broker has confirmed it), then settle the delivery with exactly one of
//! [`Delivery::ack`], [`Delivery::retry`], [`Delivery::dead_letter`] or
//! [`Delivery::nack`]. `retry` and `dead_letter` publish (confirmed) before
//! they ack. A delivery whose message id was settled before by this process
//! (a redelivery after a lost connection) is acked and skipped by the
//! consumer, see [`DedupWindow`].

mod amqp;
mod dedup;
mod delivery;
mod envelope;
mod error;
mod memory;
mod topology;

pub use amqp::AmqpTransport;
pub use dedup::DedupWindow;
pub use delivery::{Consumer, Delivery, RetryOutcome};
pub use envelope::{Envelope, Properties, Target, header};
pub use error::{TransportError, TransportErrorKind};
pub use memory::MemoryTransport;
pub use topology::{QueueKind, TopologyConfig};

use async_trait::async_trait;

/// A way to move messages: publish confirmed, consume with explicit settlement.
#[async_trait]
pub trait Transport: Send + Sync + 'static {
    /// Publishes one message and returns once it is safely stored (for
    /// RabbitMQ: the publisher confirm arrived). A message nobody can
    /// receive (no such queue) is an error, never a silent drop.
    async fn publish(&self, envelope: Envelope) -> Result<(), TransportError>;

    /// Starts consuming `queue` with at most `prefetch` unsettled deliveries.
    async fn consume(&self, queue: &str, prefetch: u16) -> Result<Consumer, TransportError>;

    /// The topology this transport was set up with.
    fn topology(&self) -> &TopologyConfig;

    /// Shuts the transport down: consumers end, unsettled deliveries go
    /// back to their queues. The default does nothing.
    async fn close(&self) {}

    /// Whether the transport can reach its broker right now, without
    /// waiting for a reconnect (for health checks). The default says yes.
    async fn connected(&self) -> bool {
        true
    }

    /// Connection attempts after the first one (reconnects, successful or
    /// not), where the transport counts them; the default has none.
    fn reconnects(&self) -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pipeline hands deliveries to tasks and keeps transports in `Arc`s.
    #[test]
    fn handles_are_send() {
        fn send<T: Send + 'static>() {}
        fn shared<T: Send + Sync + 'static>() {}
        send::<Delivery>();
        send::<Consumer>();
        shared::<AmqpTransport>();
        shared::<MemoryTransport>();
        shared::<std::sync::Arc<dyn Transport>>();
    }
}
