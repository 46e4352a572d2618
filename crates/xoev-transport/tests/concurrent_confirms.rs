//! Publisher confirms under concurrency, against the real RabbitMQ: many
//! tasks publish at once through one transport while
//!
//! - one of two inboxes refuses messages now and then (a policy
//!   `max-length 0, overflow reject-publish`, set and cleared with
//!   rabbitmqctl): every message reported published must arrive;
//! - half of the messages go to a queue that does not exist: each of those
//!   must be reported unroutable, each of the others published and arrive.
//!
//! Both failed with lapin 4.12 and one shared confirm channel: (1) two
//! publishes on different threads could reach the wire in the opposite
//! order of their confirm numbers, so a refused message was reported
//! confirmed (10–52 of 4,000 lost per run); (2) a returned message went to
//! whichever confirm of a `multiple` ack lapin completed first (68 of 4,000
//! got another message's outcome). The transport now publishes one message
//! per channel at a time — see `Publishers` in `src/amqp.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::prefix;
use std::collections::HashSet;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use xoev_transport::{
    AmqpTransport, Envelope, Target, TopologyConfig, Transport, TransportErrorKind,
};

fn url() -> String {
    std::env::var("XOEV_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

fn rabbitmqctl(args: &[&str]) {
    let out = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("rabbitmqctl");
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Collects the message ids arriving on `queue` until the transport closes.
async fn collect(t: &AmqpTransport, queue: &str, into: Arc<Mutex<HashSet<String>>>) {
    let mut c = t.consume(queue, 64).await.expect("consume");
    tokio::spawn(async move {
        while let Some(Ok(d)) = c.next().await {
            if let Some(id) = d.properties.message_id.clone() {
                into.lock().unwrap().insert(id);
            }
            let _ = d.ack().await;
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_publishes_into_a_refusing_queue_lose_nothing() {
    let p = prefix("reject-publish");
    let (refusing, open) = (format!("{p}.inbox.refusing"), format!("{p}.inbox.open"));
    let mut config = TopologyConfig::with_prefix(&p).with_inboxes([refusing.clone(), open.clone()]);
    config.reconnect_initial = Duration::from_millis(50);
    config.reconnect_max = Duration::from_millis(400);
    let t = AmqpTransport::connect(&url(), config.clone())
        .await
        .expect("RabbitMQ must run at 127.0.0.1:5672 (rabbitmq-server -detached)");

    let arrived = Arc::new(Mutex::new(HashSet::new()));
    let dead = Arc::new(Mutex::new(HashSet::new()));
    collect(&t, &refusing, arrived.clone()).await;
    collect(&t, &open, arrived.clone()).await;
    collect(&t, &config.dead_letter_queue, dead.clone()).await;

    // the refusing inbox refuses four times for a second
    let policy = format!("refuse-{p}");
    let pattern = format!("^{}$", refusing.replace('.', "\\."));
    let toggler = tokio::task::spawn_blocking({
        let policy = policy.clone();
        move || {
            for _ in 0..4 {
                std::thread::sleep(Duration::from_millis(600));
                rabbitmqctl(&[
                    "set_policy",
                    "--apply-to",
                    "queues",
                    &policy,
                    &pattern,
                    r#"{"max-length":0,"overflow":"reject-publish"}"#,
                ]);
                std::thread::sleep(Duration::from_millis(1000));
                rabbitmqctl(&["clear_policy", &policy]);
            }
        }
    });

    // 64 publishes in flight at any time, spread over the toggling
    let n = 4000;
    let limit = Arc::new(tokio::sync::Semaphore::new(64));
    let published = Arc::new(Mutex::new(HashSet::new()));
    let payload = bytes::Bytes::from(vec![b'x'; 5000]);
    let mut tasks = Vec::new();
    for i in 0..n {
        let permit = limit.clone().acquire_owned().await.unwrap();
        let queue = if i % 2 == 0 { &refusing } else { &open };
        let env = Envelope::new(
            Target::Queue(queue.clone()),
            format!("{p}-{i}"),
            payload.clone(),
        );
        let (t, published) = (t.clone(), published.clone());
        tasks.push(tokio::spawn(async move {
            let id = env.message_id.clone();
            t.publish(env).await.expect("published within the timeout");
            published.lock().unwrap().insert(id);
            drop(permit);
        }));
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    toggler.await.unwrap();
    let _ = Command::new("rabbitmqctl")
        .args(["clear_policy", &policy])
        .output();

    // wait until everything reported published has arrived (or give up)
    let missing = || {
        let (a, d) = (arrived.lock().unwrap(), dead.lock().unwrap());
        published
            .lock()
            .unwrap()
            .iter()
            .filter(|id| !a.contains(*id) && !d.contains(*id))
            .cloned()
            .collect::<Vec<_>>()
    };
    for _ in 0..50 {
        if missing().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let missing = missing();
    let _ = t.delete_topology().await;
    t.close().await;
    assert_eq!(
        published.lock().unwrap().len(),
        n,
        "every publish confirmed"
    );
    assert!(
        missing.is_empty(),
        "{} messages reported published never arrived: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_publishes_to_a_missing_queue_are_each_unroutable() {
    let p = prefix("returned");
    let open = format!("{p}.inbox.open");
    let missing_queue = format!("{p}.inbox.missing");
    let config = TopologyConfig::with_prefix(&p).with_inboxes([open.clone()]);
    let t = AmqpTransport::connect(&url(), config)
        .await
        .expect("RabbitMQ must run at 127.0.0.1:5672 (rabbitmq-server -detached)");
    let arrived = Arc::new(Mutex::new(HashSet::new()));
    collect(&t, &open, arrived.clone()).await;

    // half of the messages go to a queue that does not exist: each of
    // those publishes must fail as unroutable, each of the others succeed
    let n = 4000;
    let limit = Arc::new(tokio::sync::Semaphore::new(64));
    let payload = bytes::Bytes::from(vec![b'x'; 5000]);
    let mut tasks = Vec::new();
    for i in 0..n {
        let permit = limit.clone().acquire_owned().await.unwrap();
        let to_missing = i % 2 == 1;
        let queue = if to_missing { &missing_queue } else { &open };
        let env = Envelope::new(
            Target::Queue(queue.clone()),
            format!("{p}-{i}"),
            payload.clone(),
        );
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            let id = env.message_id.clone();
            let r = t.publish(env).await;
            drop(permit);
            (id, to_missing, r)
        }));
    }
    let mut wrong = Vec::new();
    let mut published = HashSet::new();
    for task in tasks {
        let (id, to_missing, r) = task.await.unwrap();
        match (to_missing, r) {
            (true, Err(e)) if e.kind == TransportErrorKind::Unroutable => {}
            (false, Ok(())) => {
                published.insert(id);
            }
            (to_missing, r) => wrong.push(format!("{id} (to missing queue: {to_missing}): {r:?}")),
        }
    }
    for _ in 0..50 {
        if published
            .iter()
            .all(|id| arrived.lock().unwrap().contains(id))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let not_arrived = published
        .iter()
        .filter(|id| !arrived.lock().unwrap().contains(*id))
        .count();
    let _ = t.delete_topology().await;
    t.close().await;
    assert!(
        wrong.is_empty(),
        "{} publishes got another message's outcome, e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
    assert_eq!(not_arrived, 0, "published but not arrived");
}
