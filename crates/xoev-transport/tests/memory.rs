//! The in-process transport runs the same scenarios as the RabbitMQ one
//! (except broker faults, which it does not have).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::time::Duration;
use xoev_transport::{Envelope, MemoryTransport, Target, Transport, TransportErrorKind};

#[tokio::test]
async fn routes_to_the_right_inbox_by_reader_and_municipality() {
    let p = prefix("route");
    routes_to_the_right_inbox(&MemoryTransport::new(topology(&p)), &p).await;
}

#[tokio::test]
async fn unroutable_message_is_dead_lettered_with_reason() {
    let p = prefix("dlq");
    unroutable_is_dead_lettered(&MemoryTransport::new(topology(&p)), &p).await;
}

#[tokio::test]
async fn transient_failure_is_retried_then_dead_lettered() {
    let p = prefix("retry");
    transient_failure_retried_then_dead_lettered(&MemoryTransport::new(topology(&p))).await;
}

#[tokio::test]
async fn unsettled_delivery_comes_back_and_prefetch_is_respected() {
    let p = prefix("prefetch");
    let t = MemoryTransport::new(topology(&p));
    for i in 0..3 {
        t.publish(Envelope::new(Target::Inbound, format!("m{i}"), "x"))
            .await
            .unwrap();
    }
    let mut c = t.consume(&t.topology().inbound_queue, 2).await.unwrap();
    let a = next(&mut c).await;
    let b = next(&mut c).await;
    // Prefetch 2: the third waits until one is settled.
    assert!(
        tokio::time::timeout(Duration::from_millis(100), c.next())
            .await
            .is_err()
    );
    drop(a); // a consumer dying with an unsettled delivery
    let again = next(&mut c).await;
    assert_eq!(again.properties.message_id.as_deref(), Some("m0"));
    assert!(again.redelivered);
    b.ack().await.unwrap();
    again.nack(true).await.unwrap();
    let ids: Vec<_> = [next(&mut c).await, next(&mut c).await]
        .iter()
        .map(|d| d.properties.message_id.clone().unwrap())
        .collect();
    assert_eq!(ids, vec!["m0", "m2"]);
    assert!(!t.topology().inboxes.is_empty());
    let err = t.consume("nope", 1).await.unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::UnknownQueue);
}

/// The same message again under a settled id is skipped; *another*
/// message under it is handed out (the service refuses it as
/// `duplicate-message-id`, rather than it vanishing as a "duplicate").
#[tokio::test]
async fn duplicate_message_id_takes_effect_once() {
    let p = prefix("dup");
    let t = MemoryTransport::new(topology(&p));
    let mut c = t.consume(&t.topology().inbound_queue, 5).await.unwrap();
    t.publish(Envelope::new(Target::Inbound, "same", "1"))
        .await
        .unwrap();
    next(&mut c).await.ack().await.unwrap();
    t.publish(Envelope::new(Target::Inbound, "same", "1"))
        .await
        .unwrap();
    t.publish(Envelope::new(Target::Inbound, "other", "3"))
        .await
        .unwrap();
    let d = next(&mut c).await;
    assert_eq!(d.properties.message_id.as_deref(), Some("other"));
    assert_eq!(c.duplicates(), 1);
    d.ack().await.unwrap();
    t.publish(Envelope::new(Target::Inbound, "same", "2"))
        .await
        .unwrap();
    let d = next(&mut c).await;
    assert_eq!(
        (d.properties.message_id.as_deref(), &d.payload[..]),
        (Some("same"), &b"2"[..])
    );
    assert_eq!(c.duplicates(), 1);
    assert_eq!(t.depth(&t.topology().inbound_queue), Some(0));
}
