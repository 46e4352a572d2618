//! The RabbitMQ transport against the real broker at 127.0.0.1:5672
//! (override with `XOEV_AMQP_URL`). Every test uses its own queue and
//! exchange names and deletes them at the end. Nothing is mocked.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use xoev_transport::{
    AmqpTransport, Envelope, QueueKind, Target, TopologyConfig, Transport, TransportErrorKind,
};

fn url() -> String {
    std::env::var("XOEV_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

async fn connect(config: TopologyConfig) -> AmqpTransport {
    AmqpTransport::connect(&url(), config)
        .await
        .expect("RabbitMQ must run at 127.0.0.1:5672 (rabbitmq-server -detached)")
}

#[tokio::test]
async fn routes_to_the_right_inbox_by_reader_and_municipality() {
    let p = prefix("route");
    let t = connect(topology(&p)).await;
    routes_to_the_right_inbox(&t, &p).await;
    t.delete_topology().await.unwrap();
    t.close().await;
}

#[tokio::test]
async fn unroutable_message_is_dead_lettered_with_reason() {
    let p = prefix("dlq");
    let t = connect(topology(&p)).await;
    unroutable_is_dead_lettered(&t, &p).await;
    t.delete_topology().await.unwrap();
    t.close().await;
}

#[tokio::test]
async fn transient_failure_is_retried_then_dead_lettered() {
    let p = prefix("retry");
    let t = connect(topology(&p)).await;
    transient_failure_retried_then_dead_lettered(&t).await;
    t.delete_topology().await.unwrap();
    t.close().await;
}

/// A consumer's connection dies mid-batch: the messages it held unacked
/// are redelivered, and every message reaches the inbox exactly once —
/// including the one whose outcome was published but whose ack was lost.
#[tokio::test]
async fn consumer_killed_mid_batch_loses_nothing_and_duplicates_nothing() {
    let p = prefix("kill");
    let t = connect(topology(&p)).await;
    let router = router();
    let mut ids = BTreeSet::new();
    for _ in 0..20 {
        let (id, body) = request(Some("fa:9198"));
        submit(&t, &id, body, None).await;
        ids.insert(id);
    }
    let mut inbound = t.consume(&t.topology().inbound_queue, 5).await.unwrap();
    for _ in 0..7 {
        let d = next(&mut inbound).await;
        process(&t, &router, &p, d).await;
    }
    // The 8th: its outcome is published, then the connection dies before the ack.
    let d = next(&mut inbound).await;
    let eighth = d.properties.message_id.clone().unwrap();
    let message = xoev_core::Message::parse(d.payload.clone(), &Default::default()).unwrap();
    let inbox = format!("{p}.xoev.inbox.fa-9198");
    t.publish(Envelope::for_message(Target::Queue(inbox.clone()), &message).unwrap())
        .await
        .unwrap();
    t.reset_connection().await;
    let err = d.ack().await.unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::AckLost);

    // The consumer reconnects by itself; the rest is redelivered.
    let mut redelivered = 0;
    for _ in 0..12 {
        let d = next(&mut inbound).await;
        assert_ne!(d.properties.message_id.as_deref(), Some(eighth.as_str()));
        if d.redelivered {
            redelivered += 1;
        }
        process(&t, &router, &p, d).await;
    }
    assert!(
        redelivered >= 1,
        "held-back deliveries come back as redelivered"
    );
    nothing_more(&mut inbound, 300).await;
    assert_eq!(inbound.duplicates(), 1, "the 8th message was skipped once");

    let got = drain(&t, &inbox, 20).await;
    let got_ids: BTreeSet<_> = got
        .iter()
        .map(|(p, _)| p.message_id.clone().unwrap())
        .collect();
    assert_eq!(got.len(), 20);
    assert_eq!(got_ids, ids);
    assert!(got.iter().all(|(p, _)| p.persistent));
    t.delete_topology().await.unwrap();
    t.close().await;
}

/// A whole gateway instance dies with a batch in flight; another instance
/// (another connection) takes over and gets every message.
#[tokio::test]
async fn instance_dies_another_takes_over() {
    let p = prefix("takeover");
    let a = connect(topology(&p)).await;
    let b = connect(topology(&p)).await; // declaring again is idempotent
    let router = router();
    let mut ids = BTreeSet::new();
    for _ in 0..6 {
        let (id, body) = request(Some("fa:9198"));
        submit(&a, &id, body, None).await;
        ids.insert(id);
    }
    let mut ca = a.consume(&p_inbound(&p), 4).await.unwrap();
    let held: Vec<_> = [next(&mut ca).await, next(&mut ca).await].into();
    a.close().await;
    drop(held);
    let mut cb = b.consume(&p_inbound(&p), 10).await.unwrap();
    for _ in 0..6 {
        let d = next(&mut cb).await;
        process(&b, &router, &p, d).await;
    }
    nothing_more(&mut cb, 300).await;
    let got = drain(&b, &format!("{p}.xoev.inbox.fa-9198"), 6).await;
    let got_ids: BTreeSet<_> = got
        .iter()
        .map(|(p, _)| p.message_id.clone().unwrap())
        .collect();
    assert_eq!(got_ids, ids);
    b.delete_topology().await.unwrap();
    b.close().await;
}

fn p_inbound(p: &str) -> String {
    format!("{p}.inbound")
}

#[tokio::test]
async fn publish_survives_a_lost_connection() {
    let p = prefix("reconnect");
    let t = connect(topology(&p)).await;
    t.reset_connection().await;
    let (id, body) = request(Some("fa:9198"));
    submit(&t, &id, body, None).await;
    assert_eq!(t.queue_depth(&p_inbound(&p)).await.unwrap(), 1);
    t.delete_topology().await.unwrap();
    t.close().await;
}

#[tokio::test]
async fn quorum_queues_and_conflicting_redeclaration() {
    let p = prefix("quorum");
    let mut c = topology(&p);
    c.queue_kind = QueueKind::Quorum;
    let t = connect(c.clone()).await;
    let (id, body) = request(Some("fa:9198"));
    submit(&t, &id, body, None).await;
    assert_eq!(t.queue_depth(&p_inbound(&p)).await.unwrap(), 1);
    // The same names as classic queues: the broker refuses, and says so.
    c.queue_kind = QueueKind::Classic;
    let err = AmqpTransport::connect(&url(), c).await.unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Topology, "{err}");
    t.delete_topology().await.unwrap();
    t.close().await;
}

#[tokio::test]
async fn unreachable_broker_is_a_connection_error() {
    let mut c = topology(&prefix("down"));
    c.publish_timeout = Duration::from_millis(300);
    let err = AmqpTransport::connect("amqp://guest:guest@127.0.0.1:1/%2f", c)
        .await
        .unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Connection);
    assert!(err.is_transient());
}

#[tokio::test]
async fn consuming_a_missing_queue_fails() {
    let p = prefix("missing");
    let t = connect(topology(&p)).await;
    let err = t.consume(&format!("{p}.nope"), 1).await.unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Topology, "{err}");
    t.delete_topology().await.unwrap();
    t.close().await;
}

/// Closes, from the broker's side, every connection whose name contains
/// `needle` (as RabbitMQ does when a node goes down or an operator
/// intervenes). Uses `rabbitmqctl`, which runs where the broker runs.
fn broker_closes_connections(needle: &str) -> usize {
    let out = std::process::Command::new("rabbitmqctl")
        .args(["list_connections", "-q", "pid", "client_properties"])
        .output()
        .expect("rabbitmqctl (the broker runs on this machine)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut closed = 0;
    for line in text.lines().filter(|l| l.contains(needle)) {
        let pid = line.split('\t').next().unwrap().trim();
        let status = std::process::Command::new("rabbitmqctl")
            .args([
                "close_connection",
                pid,
                "test: broker closes the connection",
            ])
            .status()
            .unwrap();
        assert!(status.success());
        closed += 1;
    }
    closed
}

/// The broker drops the connection: the consumer resubscribes, the
/// unsettled delivery comes again, publishing reconnects; nothing is lost.
#[tokio::test]
async fn broker_closes_the_connection_and_the_transport_recovers() {
    if std::env::var_os("XOEV_AMQP_URL").is_some() {
        eprintln!("skipped: needs rabbitmqctl next to the broker (XOEV_AMQP_URL is set)");
        return;
    }
    let p = prefix("forced");
    let t = connect(topology(&p)).await;
    let router = router();
    let mut ids = BTreeSet::new();
    for _ in 0..3 {
        let (id, body) = request(Some("fa:9198"));
        submit(&t, &id, body, None).await;
        ids.insert(id);
    }
    let mut inbound = t.consume(&p_inbound(&p), 1).await.unwrap();
    let held = next(&mut inbound).await;
    assert_eq!(broker_closes_connections(&p), 1);
    // Its channel is gone: settling cannot reach the broker.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        held.nack(true).await.unwrap_err().kind,
        TransportErrorKind::AckLost
    );

    for _ in 0..3 {
        let d = next(&mut inbound).await;
        process(&t, &router, &p, d).await;
    }
    nothing_more(&mut inbound, 300).await;
    let got = drain(&t, &format!("{p}.xoev.inbox.fa-9198"), 3).await;
    let got_ids: BTreeSet<_> = got
        .iter()
        .map(|(p, _)| p.message_id.clone().unwrap())
        .collect();
    assert_eq!(got_ids, ids);
    t.delete_topology().await.unwrap();
    t.close().await;
}

/// Throughput on this machine (not an assertion; run with
/// `cargo test --release -p xoev-transport --test amqp throughput -- --ignored --nocapture`).
#[tokio::test]
#[ignore = "measurement, not a check"]
async fn throughput() {
    let p = prefix("bench");
    let t = connect(topology(&p)).await;
    let (_, body) = request(Some("fa:9198"));
    let n = 2000;
    let started = std::time::Instant::now();
    for i in 0..n / 2 {
        let env = Envelope::new(Target::Inbound, format!("seq-{i}"), body.clone());
        t.publish(env).await.unwrap();
    }
    let seq = started.elapsed();
    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n / 2 {
        let t = t.clone();
        let env = Envelope::new(Target::Inbound, format!("par-{i}"), body.clone());
        tasks.spawn(async move { t.publish(env).await });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap().unwrap();
    }
    let par = started.elapsed();
    let started = std::time::Instant::now();
    let mut c = t.consume(&p_inbound(&p), 50).await.unwrap();
    for _ in 0..n {
        next(&mut c).await.ack().await.unwrap();
    }
    let consumed = started.elapsed();
    eprintln!(
        "{} bytes/message: {} sequential confirmed publishes {:.0}/s; {} concurrent {:.0}/s; consume+ack (prefetch 50) {:.0}/s",
        body.len(),
        n / 2,
        f64::from(n / 2) / seq.as_secs_f64(),
        n / 2,
        f64::from(n / 2) / par.as_secs_f64(),
        f64::from(n) / consumed.as_secs_f64()
    );
    t.delete_topology().await.unwrap();
    t.close().await;
}

/// Someone deletes part of the topology under a running gateway: the next
/// publish that hits it fails on its channel, the transport reconnects,
/// declares the topology again and publishes.
#[tokio::test]
async fn deleted_exchange_is_declared_again() {
    let p = prefix("redeclare");
    let t = connect(topology(&p)).await;
    let other = lapin::Connection::connect(&url(), Default::default())
        .await
        .unwrap();
    let ch = other.create_channel().await.unwrap();
    ch.exchange_delete(format!("{p}.dlx").into(), Default::default())
        .await
        .unwrap();
    other.close(200, "done".into()).await.unwrap();

    t.publish(Envelope::new(Target::DeadLetter, "dl-1", "x").with_header("k", "v"))
        .await
        .unwrap();
    let got = drain(&t, &format!("{p}.dlq"), 1).await;
    assert_eq!(got[0].0.message_id.as_deref(), Some("dl-1"));
    assert_eq!(got[0].0.header("k"), Some("v"));
    t.delete_topology().await.unwrap();
    t.close().await;
}

/// Consumers of `queue` (rabbitmqctl).
fn consumer_count(queue: &str) -> usize {
    let out = std::process::Command::new("rabbitmqctl")
        .args([
            "list_queues",
            "-q",
            "--no-table-headers",
            "name",
            "consumers",
        ])
        .output()
        .expect("rabbitmqctl");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .find(|(name, _)| *name == queue)
        .and_then(|(_, n)| n.trim().parse().ok())
        .unwrap_or(0)
}

/// A caller that gives up waiting (`timeout` around `next`, as a poll loop
/// or `select!` does) while the consumer resubscribes after a lost
/// connection must not leave an orphaned subscription behind that holds
/// messages nobody reads: every message still arrives, on one consumer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_given_up_during_resubscription_orphan_no_consumer() {
    let p = prefix("cancel");
    let t = connect(topology(&p)).await;
    let q = p_inbound(&p);
    let mut c = t.consume(&q, 4).await.unwrap();
    // Lose the connection, then give up waiting after 0, 20, 40, … µs
    // (a thread's sleep: tokio's timers are too coarse), so that some
    // give-ups land between `basic.consume` and its answer.
    for step in 0..150u64 {
        t.reset_connection().await;
        let give_up = Arc::new(tokio::sync::Notify::new());
        let g = give_up.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_micros(step * 20));
            g.notify_one();
        });
        tokio::select! {
            _ = c.next() => {}
            () = give_up.notified() => {}
        }
    }
    // then wait for the subscription to settle and check the broker's view
    let _ = tokio::time::timeout(Duration::from_millis(500), c.next()).await;
    let n = 40;
    let (_, body) = request(Some("fa:9198"));
    for i in 0..n {
        t.publish(Envelope::new(
            Target::Inbound,
            format!("{p}-{i}"),
            body.clone(),
        ))
        .await
        .unwrap();
    }
    let mut got = BTreeSet::new();
    while got.len() < n {
        match tokio::time::timeout(Duration::from_secs(15), c.next()).await {
            Ok(Some(Ok(d))) => {
                got.insert(d.properties.message_id.clone().unwrap_or_default());
                d.ack().await.unwrap();
            }
            other => panic!(
                "only {} of {n} messages arrived ({other:?}); consumers on the queue: {}",
                got.len(),
                consumer_count(&q)
            ),
        }
    }
    assert_eq!(consumer_count(&q), 1, "one subscription, no orphans");
    t.delete_topology().await.unwrap();
    t.close().await;
}
