//! The broker ceiling: raw lapin publish-with-confirms and consume-with-ack
//! of the same bytes on the same RabbitMQ, no processing — alone and both at
//! once. Every queue has a unique name and is deleted afterwards.

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use std::collections::VecDeque;
use std::time::Instant;

/// Publisher confirms outstanding at once (pipelining, as a real gateway with
/// many workers has).
const WINDOW: usize = 512;
/// Deliveries held unacknowledged by the consumer.
const PREFETCH: u16 = 256;

/// Messages per second for publishing, consuming, and both at once.
#[derive(Debug, Clone, Copy)]
pub struct Ceiling {
    /// Publish with confirms, alone.
    pub publish: f64,
    /// Consume with acks, alone.
    pub consume: f64,
    /// Both at once (messages through per second).
    pub both: f64,
}

fn name(s: &str) -> ShortString {
    ShortString::from(s.to_owned())
}

/// A connection whose queues are deleted when [`Broker::cleanup`] runs.
pub struct Broker {
    conn: Connection,
    queues: Vec<String>,
}

impl Broker {
    /// Connects to `url`.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let props = ConnectionProperties::default().with_connection_name("xoev-bench".into());
        let conn = Connection::connect(url, props).await?;
        Ok(Self {
            conn,
            queues: Vec::new(),
        })
    }

    /// A new durable queue with a unique name.
    pub async fn queue(&mut self, label: &str) -> anyhow::Result<String> {
        let q = format!("xoev-bench.{label}.{}", uuid::Uuid::new_v4().simple());
        let ch = self.conn.create_channel().await?;
        ch.queue_declare(
            name(&q),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
        self.queues.push(q.clone());
        Ok(q)
    }

    /// Deletes every queue this benchmark declared.
    pub async fn cleanup(&mut self) {
        if let Ok(ch) = self.conn.create_channel().await {
            for q in self.queues.drain(..) {
                if let Err(e) = ch
                    .queue_delete(name(&q), QueueDeleteOptions::default())
                    .await
                {
                    eprintln!("warning: cannot delete queue {q}: {e}");
                }
            }
        }
    }

    /// A channel in confirm mode.
    pub async fn confirm_channel(&self) -> anyhow::Result<Channel> {
        let ch = self.conn.create_channel().await?;
        ch.confirm_select(ConfirmSelectOptions::default()).await?;
        Ok(ch)
    }

    /// A plain channel.
    pub async fn channel(&self) -> anyhow::Result<Channel> {
        Ok(self.conn.create_channel().await?)
    }
}

/// Publishes `n` persistent copies of `payload` to `queue` with confirms,
/// [`WINDOW`] outstanding; returns messages per second.
pub async fn publish(ch: &Channel, queue: &str, payload: &[u8], n: usize) -> anyhow::Result<f64> {
    let start = Instant::now();
    let mut pending = VecDeque::with_capacity(WINDOW);
    for i in 0..n {
        if pending.len() >= WINDOW
            && let Some(p) = pending.pop_front()
        {
            confirmed(p).await?;
        }
        let props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_message_id(ShortString::from(format!("bench-{i}")));
        let p = ch
            .basic_publish(
                name(""),
                name(queue),
                BasicPublishOptions::default(),
                payload,
                props,
            )
            .await?;
        pending.push_back(p);
    }
    for p in pending {
        confirmed(p).await?;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

async fn confirmed(p: lapin::PublisherConfirm) -> anyhow::Result<()> {
    match p.await? {
        lapin::Confirmation::Ack(_) => Ok(()),
        other => anyhow::bail!("the broker did not confirm a message: {other:?}"),
    }
}

/// Consumes and acks `n` messages from `queue`; returns messages per second
/// (timed from the first delivery when `from_first`, else from the call).
pub async fn consume(ch: &Channel, queue: &str, n: usize, from_first: bool) -> anyhow::Result<f64> {
    ch.basic_qos(PREFETCH, BasicQosOptions::default()).await?;
    let mut consumer = ch
        .basic_consume(
            name(queue),
            name(&format!("xoev-bench-{}", uuid::Uuid::new_v4().simple())),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut start = Instant::now();
    for i in 0..n {
        let d = consumer
            .next()
            .await
            .ok_or_else(|| anyhow::anyhow!("consumer ended after {i} of {n}"))??;
        if i == 0 && from_first {
            start = Instant::now();
        }
        d.acker.ack(BasicAckOptions::default()).await?;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// Measures the ceiling for `payload` with `n` messages per phase.
pub async fn ceiling(url: &str, payload: &[u8], n: usize) -> anyhow::Result<Ceiling> {
    let mut b = Broker::connect(url).await?;
    let result = async {
        let q = b.queue("alone").await?;
        let pub_ch = b.confirm_channel().await?;
        let publish_rate = publish(&pub_ch, &q, payload, n).await?;
        let con_ch = b.channel().await?;
        let consume_rate = consume(&con_ch, &q, n, false).await?;
        let q2 = b.queue("both").await?;
        let (pub_ch2, con_ch2) = (b.confirm_channel().await?, b.channel().await?);
        let start = Instant::now();
        let (p, c) = tokio::join!(
            publish(&pub_ch2, &q2, payload, n),
            consume(&con_ch2, &q2, n, false)
        );
        p?;
        c?;
        let both = n as f64 / start.elapsed().as_secs_f64();
        Ok::<_, anyhow::Error>(Ceiling {
            publish: publish_rate,
            consume: consume_rate,
            both,
        })
    }
    .await;
    b.cleanup().await;
    let _ = b.conn.close(200, "bench done".into()).await;
    result
}
