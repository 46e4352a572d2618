//! Scenarios shared by the RabbitMQ and the in-process transport tests: a
//! miniature gateway (parse → route → forward or dead-letter) on top of the
//! public API, the way the service pipeline uses it.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use std::path::Path;
use std::time::Duration;
use xoev_core::{Limits, Message};
use xoev_routing::{RouteInput, Router};
use xoev_transport::{
    Consumer, Delivery, Envelope, Properties, RetryOutcome, Target, TopologyConfig, Transport,
    header,
};

/// Test-only header carrying the case's municipality key (the real pipeline
/// extracts it from the message body).
pub const MUNICIPALITY: &str = "x-test-municipality";

const SAMPLE_ID: &str = "3f1c2b7e-8a44-4d0e-9b7a-0c5e2d9f1a02";

pub fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

pub fn router() -> Router {
    Router::load(&repo().join("routing"), &|_: &str| true).expect("sample routing loads")
}

/// A unique name prefix for one test, so tests share the broker safely.
pub fn prefix(test: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("xoev-test-{test}-{}", &id[..12])
}

/// The topology of a test: the sample directory's inboxes under `prefix`.
pub fn topology(prefix: &str) -> TopologyConfig {
    let router = router();
    let mut c = TopologyConfig::with_prefix(prefix).with_inboxes(
        router
            .directory()
            .inboxes()
            .map(|q| format!("{prefix}.{q}")),
    );
    c.retry_delay = Duration::from_millis(200);
    c.max_attempts = 3;
    c.publish_timeout = Duration::from_secs(10);
    c
}

/// The sample XNachweis evidence request from Musterstadt with a fresh
/// message id, to `reader` (or to no one, letting the municipality decide).
pub fn request(reader: Option<&str>) -> (String, Bytes) {
    let text = std::fs::read_to_string(
        repo().join("tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-einkommen.xml"),
    )
    .unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    let mut text = text.replace(SAMPLE_ID, &id);
    match reader {
        Some(r) => text = text.replace(">fa:9198<", &format!(">{r}<")),
        None => {
            let start = text.find("<bn-g2g:leser>").unwrap();
            let end = text.find("</bn-g2g:leser>").unwrap() + "</bn-g2g:leser>".len();
            text.replace_range(start..end, "");
        }
    }
    (id, Bytes::from(text))
}

/// Publishes a message to the inbound exchange, as a back-office system would.
pub async fn submit(t: &dyn Transport, id: &str, body: Bytes, municipality: Option<&str>) {
    let mut env = Envelope::new(Target::Inbound, id, body);
    if let Some(m) = municipality {
        env = env.with_header(MUNICIPALITY, m);
    }
    t.publish(env).await.expect("submit");
}

/// What the miniature gateway did with a delivery.
#[derive(Debug, PartialEq, Eq)]
pub enum Routed {
    /// Forwarded to this inbox (without the test prefix).
    Forwarded(String),
    /// Dead-lettered with this reason kind.
    DeadLettered(String),
}

/// Parse, route, forward (confirmed) and only then ack; or dead-letter.
pub async fn process(t: &dyn Transport, router: &Router, prefix: &str, d: Delivery) -> Routed {
    let message = match Message::parse(d.payload.clone(), &Limits::default()) {
        Ok(m) => m,
        Err(e) => {
            d.dead_letter("parse", e.kind.as_str(), &e.to_string())
                .await
                .unwrap();
            return Routed::DeadLettered(e.kind.as_str().into());
        }
    };
    let h = message.header.as_ref().expect("sample has a header");
    let input = RouteInput {
        message_type: h.message_type.code.clone(),
        standard: message.standard.clone(),
        version: message.version.clone(),
        sender: h.author.as_ref().map(|a| a.key()),
        reader: h.reader.as_ref().map(|a| a.key()),
        municipality: d.properties.header(MUNICIPALITY).map(Into::into),
    };
    match router.route(&input) {
        Ok(decision) => {
            let queue = format!("{prefix}.{}", decision.queue);
            let env = Envelope::for_message(Target::Queue(queue), &message)
                .unwrap()
                .with_case_id("case-1");
            t.publish(env).await.unwrap();
            settled(d.ack().await);
            Routed::Forwarded(decision.queue)
        }
        Err(e) => {
            d.dead_letter("route", e.kind.as_str(), &e.message)
                .await
                .unwrap();
            Routed::DeadLettered(e.kind.as_str().into())
        }
    }
}

/// An ack that did not reach the broker is fine: the message comes again
/// and the consumer skips it as a duplicate. Anything else fails the test.
pub fn settled(r: Result<(), xoev_transport::TransportError>) {
    if let Err(e) = r {
        assert_eq!(e.kind, xoev_transport::TransportErrorKind::AckLost, "{e}");
    }
}

/// The next delivery, failing the test after 10 s.
pub async fn next(c: &mut Consumer) -> Delivery {
    tokio::time::timeout(Duration::from_secs(10), c.next())
        .await
        .expect("a delivery within 10 s")
        .expect("consumer open")
        .expect("delivery ok")
}

/// Asserts that nothing more arrives within `ms` milliseconds.
pub async fn nothing_more(c: &mut Consumer, ms: u64) {
    if let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(ms), c.next()).await {
        panic!("unexpected delivery: {d:?}");
    }
}

/// Takes `n` messages from `queue`, acking each; returns their properties and payloads.
pub async fn drain(t: &dyn Transport, queue: &str, n: usize) -> Vec<(Properties, Bytes)> {
    let mut c = t.consume(queue, 10).await.unwrap();
    let mut out = Vec::new();
    for _ in 0..n {
        let d = next(&mut c).await;
        out.push((d.properties.clone(), d.payload.clone()));
        d.ack().await.unwrap();
    }
    nothing_more(&mut c, 300).await;
    out
}

// --- scenarios ---------------------------------------------------------------

/// By explicit reader and by municipality key, each to the right inbox.
pub async fn routes_to_the_right_inbox(t: &dyn Transport, prefix: &str) {
    let router = router();
    let (id1, body1) = request(Some("fa:9198"));
    let (id2, body2) = request(None);
    submit(t, &id1, body1.clone(), None).await;
    submit(t, &id2, body2, Some("09162000")).await;

    let mut inbound = t.consume(&t.topology().inbound_queue, 10).await.unwrap();
    for _ in 0..2 {
        let d = next(&mut inbound).await;
        assert_eq!(
            process(t, &router, prefix, d).await,
            Routed::Forwarded("xoev.inbox.fa-9198".into())
        );
    }
    let got = drain(t, &format!("{prefix}.xoev.inbox.fa-9198"), 2).await;
    let ids: Vec<_> = got
        .iter()
        .map(|(p, _)| p.message_id.clone().unwrap())
        .collect();
    assert_eq!(ids, vec![id1.clone(), id2]);
    let (props, payload) = &got[0];
    assert_eq!(payload, &body1, "payload forwarded byte for byte");
    assert_eq!(props.header(header::STANDARD), Some("XNachweis"));
    assert_eq!(props.header(header::VERSION), Some("1.2.0"));
    assert_eq!(props.header(header::TYPE), Some("DE.EvidenceRequest.0101"));
    assert_eq!(props.header(header::SENDER), Some("ags:09162000"));
    assert_eq!(props.header(header::READER), Some("fa:9198"));
    assert_eq!(props.header(header::CASE_ID), Some("case-1"));
    assert_eq!(got[1].0.header(header::READER), None);

    // Kassel's municipality goes to Kassel's tax office.
    let (id3, body3) = request(None);
    submit(t, &id3, body3, Some("06611000")).await;
    let d = next(&mut inbound).await;
    assert_eq!(
        process(t, &router, prefix, d).await,
        Routed::Forwarded("xoev.inbox.fa-2613".into())
    );
    let got = drain(t, &format!("{prefix}.xoev.inbox.fa-2613"), 1).await;
    assert_eq!(got[0].0.message_id.as_deref(), Some(id3.as_str()));
    assert!(
        drain(t, &t.topology().dead_letter_queue, 0)
            .await
            .is_empty()
    );
}

/// An unroutable message lands in the dead-letter queue with the reason.
pub async fn unroutable_is_dead_lettered(t: &dyn Transport, prefix: &str) {
    let router = router();
    let (id, body) = request(Some("fa:0000"));
    submit(t, &id, body.clone(), None).await;
    let (id2, body2) = request(None);
    submit(t, &id2, body2, None).await; // no reader, no municipality
    let mut inbound = t.consume(&t.topology().inbound_queue, 10).await.unwrap();
    let d = next(&mut inbound).await;
    assert_eq!(
        process(t, &router, prefix, d).await,
        Routed::DeadLettered("unknown-reader".into())
    );
    let d = next(&mut inbound).await;
    assert_eq!(
        process(t, &router, prefix, d).await,
        Routed::DeadLettered("not-responsible".into())
    );
    let dead = drain(t, &t.topology().dead_letter_queue, 2).await;
    let (p, payload) = &dead[0];
    assert_eq!(payload, &body);
    assert_eq!(p.message_id.as_deref(), Some(id.as_str()));
    assert_eq!(p.header(header::MESSAGE_ID), Some(id.as_str()));
    assert_eq!(p.header(header::STAGE), Some("route"));
    assert_eq!(p.header(header::REASON_KIND), Some("unknown-reader"));
    assert!(p.header(header::REASON).unwrap().contains("fa:0000"));
    assert_eq!(p.header(header::ATTEMPTS), Some("0"));
    assert_eq!(
        p.header(header::QUEUE),
        Some(t.topology().inbound_queue.as_str())
    );
    assert!(p.header(header::FAILED_AT).unwrap().parse::<u64>().unwrap() > 1_700_000_000);
    assert_eq!(
        dead[1].0.header(header::REASON_KIND),
        Some("not-responsible")
    );

    // Nothing reached any inbox.
    assert!(
        drain(t, &format!("{prefix}.xoev.inbox.fa-9198"), 0)
            .await
            .is_empty()
    );
    // Publishing to a queue that does not exist is an error, not a silent drop.
    let err = t
        .publish(Envelope::new(
            Target::Queue(format!("{prefix}.nowhere")),
            "x",
            "x",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind, xoev_transport::TransportErrorKind::Unroutable);
}

/// A transient failure is retried after the delay, then dead-lettered after `max_attempts`.
pub async fn transient_failure_retried_then_dead_lettered(t: &dyn Transport) {
    let (id, body) = request(Some("fa:9198"));
    submit(t, &id, body, None).await;
    let mut inbound = t.consume(&t.topology().inbound_queue, 10).await.unwrap();
    let started = std::time::Instant::now();
    let mut outcomes = Vec::new();
    for attempt in 0..3 {
        let d = next(&mut inbound).await;
        assert_eq!(d.properties.message_id.as_deref(), Some(id.as_str()));
        assert_eq!(d.attempts(), attempt);
        outcomes.push(
            d.retry("forward", "broker-busy", "inbox unavailable")
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        outcomes,
        vec![
            RetryOutcome::Retried { attempts: 1 },
            RetryOutcome::Retried { attempts: 2 },
            RetryOutcome::DeadLettered { attempts: 3 }
        ]
    );
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "two retry delays"
    );
    nothing_more(&mut inbound, 500).await;
    let dead = drain(t, &t.topology().dead_letter_queue, 1).await;
    let p = &dead[0].0;
    assert_eq!(p.header(header::ATTEMPTS), Some("3"));
    assert_eq!(p.header(header::STAGE), Some("forward"));
    assert_eq!(p.header(header::REASON_KIND), Some("broker-busy"));
    assert_eq!(
        p.header(header::REASON),
        Some("inbox unavailable (gave up after 3 attempts)")
    );
}
