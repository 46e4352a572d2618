//! Queue monitoring and dead-letter operations against the real RabbitMQ at
//! 127.0.0.1:5672 and its management API at 127.0.0.1:15672 (override with
//! `XOEV_AMQP_URL` / `XOEV_MANAGEMENT_URL`). Every test declares its own
//! topology under a unique prefix (through `xoev_transport`, as the gateway
//! does) and deletes it at the end. Messages are dead-lettered the way the
//! pipeline does it: consumed from the inbound queue and settled with
//! `Delivery::dead_letter`. Nothing is mocked.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};
use xoev_ops::{Filter, Ops, OpsConfig, OpsErrorKind, QueueRole, Selection};
use xoev_transport::{
    AmqpTransport, Consumer, Delivery, Envelope, QueueKind, Target, TopologyConfig, Transport,
    header,
};

fn url() -> String {
    std::env::var("XOEV_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

fn management_url() -> String {
    std::env::var("XOEV_MANAGEMENT_URL").unwrap_or_else(|_| "http://127.0.0.1:15672".into())
}

struct Setup {
    prefix: String,
    transport: AmqpTransport,
    ops: Ops,
}

impl Setup {
    async fn new(test: &str) -> Self {
        Self::with_kind(test, QueueKind::Classic).await
    }

    async fn with_kind(test: &str, kind: QueueKind) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let prefix = format!("xoev-test-ops-{test}-{}", &id[..10]);
        let mut topology = TopologyConfig::with_prefix(&prefix)
            .with_inboxes([format!("{prefix}.inbox.a"), format!("{prefix}.inbox.b")]);
        topology.publish_timeout = Duration::from_secs(10);
        topology.queue_kind = kind;
        let transport = AmqpTransport::connect(&url(), topology.clone())
            .await
            .expect("RabbitMQ must run at 127.0.0.1:5672 (rabbitmq-server -detached)");
        let ops = Ops::new(
            OpsConfig::new(url(), topology)
                .with_management(Some(management_url()))
                .with_inbox_authorities([(format!("{prefix}.inbox.a"), "ags:09162000")]),
        )
        .unwrap();
        Self {
            prefix,
            transport,
            ops,
        }
    }

    fn inbox(&self, which: &str) -> String {
        format!("{}.inbox.{which}", self.prefix)
    }

    /// Submits `id` to the inbound exchange, takes it from the inbound
    /// queue and dead-letters it with `stage`/`kind` (as the pipeline does).
    async fn dead_letter(&self, inbound: &mut Consumer, id: &str, stage: &str, kind: &str) {
        let env = Envelope::new(Target::Inbound, id, format!("<msg id='{id}'/>"))
            .with_header(header::SENDER, "ags:09162000")
            .with_header(header::READER, "fa:9198")
            .with_header(header::TYPE, "0101");
        self.transport.publish(env).await.unwrap();
        let d = next(inbound).await;
        assert_eq!(d.properties.message_id.as_deref(), Some(id));
        d.dead_letter(stage, kind, &format!("{kind} happened to {id}"))
            .await
            .unwrap();
    }

    async fn cleanup(self) {
        self.ops.close().await;
        self.transport.delete_topology().await.unwrap();
        self.transport.close().await;
    }
}

async fn next(c: &mut Consumer) -> Delivery {
    tokio::time::timeout(Duration::from_secs(10), c.next())
        .await
        .expect("a delivery within 10 s")
        .expect("consumer open")
        .expect("delivery")
}

async fn nothing_more(c: &mut Consumer) {
    if let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(700), c.next()).await {
        panic!("unexpected delivery {:?}", d.map(|d| d.properties));
    }
}

fn ids(list: &xoev_ops::DeadLetterList) -> Vec<&str> {
    list.items.iter().map(|d| d.id.as_str()).collect()
}

#[tokio::test]
async fn dead_letters_are_listed_shown_and_replayed_exactly_once() {
    let s = Setup::new("replay").await;
    let inbound_q = s.transport.topology().inbound_queue.clone();
    let mut inbound = s.transport.consume(&inbound_q, 10).await.unwrap();
    s.dead_letter(&mut inbound, "m1", "route", "no-route").await;
    s.dead_letter(&mut inbound, "m2", "verify", "untrusted-certificate")
        .await;
    s.dead_letter(&mut inbound, "m3", "route", "no-route").await;

    // Listed with stage and reason, oldest first; listing twice changes nothing.
    let all = Filter::default();
    let list = s.ops.dead_letters(&all, 100).await.unwrap();
    assert_eq!(ids(&list), ["m1", "m2", "m3"]);
    assert_eq!((list.total, list.scanned, list.truncated), (3, 3, false));
    let m2 = &list.items[1];
    assert_eq!(m2.stage.as_deref(), Some("verify"));
    assert_eq!(m2.reason_kind.as_deref(), Some("untrusted-certificate"));
    assert_eq!(
        m2.reason.as_deref(),
        Some("untrusted-certificate happened to m2")
    );
    assert_eq!(m2.sender.as_deref(), Some("ags:09162000"));
    assert_eq!(m2.reader.as_deref(), Some("fa:9198"));
    assert_eq!(m2.message_type.as_deref(), Some("0101"));
    assert_eq!(m2.queue.as_deref(), Some(inbound_q.as_str()));
    assert_eq!(m2.attempts, 0);
    assert!(m2.failed_at.is_some());
    let again = s.ops.dead_letters(&all, 100).await.unwrap();
    assert_eq!(again.items, list.items);

    // Filtered listing.
    let routed: Filter = "stage=route".parse().unwrap();
    let list = s.ops.dead_letters(&routed, 100).await.unwrap();
    assert_eq!(ids(&list), ["m1", "m3"]);

    // Show: headers and the body.
    let shown = s.ops.dead_letter("m2").await.unwrap();
    assert_eq!(shown.body_text.as_deref(), Some("<msg id='m2'/>"));
    assert_eq!(shown.body, b"<msg id='m2'/>");
    assert_eq!(shown.headers[header::STAGE], "verify");
    assert_eq!(shown.headers[header::REASON_KIND], "untrusted-certificate");
    assert!(shown.persistent);
    let e = s.ops.dead_letter("nope").await.unwrap_err();
    assert_eq!(e.kind, OpsErrorKind::NotFound);

    // Replay m2: it arrives once on the inbound queue — through the same
    // transport whose deduplication window saw it dead-lettered — with the
    // failure headers gone and the attempt count raised.
    let report = s.ops.replay(&Selection::Id("m2".into())).await.unwrap();
    assert_eq!(report.replayed.len(), 1);
    assert!(report.stopped.is_none());
    let record = &report.replayed[0];
    assert_eq!(record.dead_letter.id, "m2");
    assert_eq!(record.exchange, s.transport.topology().inbound_exchange);
    assert_eq!((record.attempts, record.replays), (1, 1));
    let d = next(&mut inbound).await;
    assert_eq!(d.properties.message_id.as_deref(), Some("m2"));
    assert_eq!(&d.payload[..], b"<msg id='m2'/>");
    assert_eq!(d.attempts(), 1);
    assert_eq!(d.properties.header(xoev_ops::REPLAYS_HEADER), Some("1"));
    assert_eq!(d.properties.header(header::SENDER), Some("ags:09162000"));
    assert_eq!(d.properties.header(header::STAGE), None);
    assert_eq!(d.properties.header(header::REASON), None);
    d.ack().await.unwrap();
    nothing_more(&mut inbound).await;
    let list = s.ops.dead_letters(&all, 100).await.unwrap();
    assert_eq!(ids(&list), ["m1", "m3"], "the others keep their order");

    // A second replay of the same id finds nothing: exactly once.
    let e = s.ops.replay(&Selection::Id("m2".into())).await.unwrap_err();
    assert_eq!(e.kind, OpsErrorKind::NotFound);

    // Replay all with a filter; then the queue is empty.
    let report = s.ops.replay(&Selection::All(routed)).await.unwrap();
    let replayed: Vec<_> = report
        .replayed
        .iter()
        .map(|r| r.dead_letter.id.as_str())
        .collect();
    assert_eq!(replayed, ["m1", "m3"]);
    for want in ["m1", "m3"] {
        let d = next(&mut inbound).await;
        assert_eq!(d.properties.message_id.as_deref(), Some(want));
        d.ack().await.unwrap();
    }
    nothing_more(&mut inbound).await;
    let list = s.ops.dead_letters(&all, 100).await.unwrap();
    assert!(list.items.is_empty() && list.total == 0);
    drop(inbound);
    s.cleanup().await;
}

/// A replayed message that fails again lands in the DLQ behind the
/// others; `replay --all` looks only at what was there when it started, so
/// it does not loop.
#[tokio::test]
async fn replay_all_does_not_chase_messages_that_fail_again() {
    replay_all_once(QueueKind::Classic).await;
}

#[tokio::test]
async fn replay_all_does_not_chase_messages_that_fail_again_quorum() {
    replay_all_once(QueueKind::Quorum).await;
}

async fn replay_all_once(kind: QueueKind) {
    let s = Setup::with_kind("loop", kind).await;
    let inbound_q = s.transport.topology().inbound_queue.clone();
    let mut inbound = s.transport.consume(&inbound_q, 10).await.unwrap();
    s.dead_letter(&mut inbound, "x1", "route", "no-route").await;
    // A "gateway" that dead-letters everything again, at once.
    let mut again = inbound;
    let gateway = tokio::spawn(async move {
        let mut n = 0;
        while let Ok(Some(Ok(d))) = tokio::time::timeout(Duration::from_secs(2), again.next()).await
        {
            d.dead_letter("route", "no-route", "still no route")
                .await
                .unwrap();
            n += 1;
        }
        n
    });
    let report = s
        .ops
        .replay(&Selection::All(Filter::default()))
        .await
        .unwrap();
    assert_eq!(report.replayed.len(), 1);
    assert_eq!(gateway.await.unwrap(), 1);
    let list = s.ops.dead_letters(&Filter::default(), 100).await.unwrap();
    assert_eq!(ids(&list), ["x1"]);
    assert_eq!((list.items[0].attempts, list.items[0].replays), (1, 1));
    s.cleanup().await;
}

#[tokio::test]
async fn purge_needs_the_explicit_confirmation() {
    let s = Setup::new("purge").await;
    let inbound_q = s.transport.topology().inbound_queue.clone();
    let mut inbound = s.transport.consume(&inbound_q, 10).await.unwrap();
    for id in ["p1", "p2"] {
        s.dead_letter(&mut inbound, id, "validate", "xsd-invalid")
            .await;
    }
    let e = s.ops.purge(false).await.unwrap_err();
    assert_eq!(e.kind, OpsErrorKind::ConfirmationRequired);
    let list = s.ops.dead_letters(&Filter::default(), 100).await.unwrap();
    assert_eq!(list.total, 2, "nothing purged without confirmation");
    let record = s.ops.purge(true).await.unwrap();
    assert_eq!(record.purged, 2);
    assert_eq!(record.queue, s.transport.topology().dead_letter_queue);
    let list = s.ops.dead_letters(&Filter::default(), 100).await.unwrap();
    assert_eq!(list.total, 0);
    drop(inbound);
    s.cleanup().await;
}

#[tokio::test]
async fn listing_is_bounded_and_keeps_the_order() {
    let s = Setup::new("bound").await;
    let inbound_q = s.transport.topology().inbound_queue.clone();
    let mut inbound = s.transport.consume(&inbound_q, 10).await.unwrap();
    let all_ids = ["b1", "b2", "b3", "b4", "b5"];
    for id in all_ids {
        s.dead_letter(&mut inbound, id, "route", "no-route").await;
    }
    let first = s.ops.dead_letters(&Filter::default(), 2).await.unwrap();
    assert_eq!(ids(&first), ["b1", "b2"]);
    assert_eq!((first.total, first.scanned, first.truncated), (5, 2, true));
    let all = s.ops.dead_letters(&Filter::default(), 100).await.unwrap();
    assert_eq!(ids(&all), all_ids);
    assert!(!all.truncated);
    // What a plain consumer of the DLQ sees afterwards: all five, in order.
    let dlq = s.transport.topology().dead_letter_queue.clone();
    let mut c = s.transport.consume(&dlq, 10).await.unwrap();
    for want in all_ids {
        let d = next(&mut c).await;
        assert_eq!(d.properties.message_id.as_deref(), Some(want));
        d.ack().await.unwrap();
    }
    nothing_more(&mut c).await;
    drop((c, inbound));
    s.cleanup().await;
}

/// Messages RabbitMQ dead-letters itself (a consumer rejected it from an
/// inbox) and messages without id or UTF-8 body are listed, shown and
/// replayed too.
#[tokio::test]
async fn broker_dead_letters_and_messages_without_id() {
    let s = Setup::new("broker").await;
    let inbox = s.inbox("b");
    s.transport
        .publish(Envelope::new(Target::Queue(inbox.clone()), "r1", "<r/>"))
        .await
        .unwrap();
    let mut c = s.transport.consume(&inbox, 1).await.unwrap();
    next(&mut c).await.nack(false).await.unwrap();
    // RabbitMQ dead-letters the rejected message on its own time: wait for
    // it, so that the order in the dead-letter queue is known
    let dlq_name = s.transport.topology().dead_letter_queue.clone();
    for _ in 0..100 {
        if s.transport.queue_depth(&dlq_name).await.unwrap_or(0) >= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let latin1: &[u8] = b"<?xml version='1.0' encoding='ISO-8859-1'?><n>Gr\xfc\xdfe</n>";
    s.transport
        .publish(Envelope::new(Target::DeadLetter, "", latin1))
        .await
        .unwrap();

    let list = s.ops.dead_letters(&Filter::default(), 100).await.unwrap();
    assert_eq!(list.items.len(), 2);
    let r1 = &list.items[0];
    assert_eq!(r1.id, "r1");
    assert_eq!(r1.stage.as_deref(), Some("broker"));
    assert_eq!(r1.reason_kind.as_deref(), Some("rejected"));
    assert_eq!(r1.queue.as_deref(), Some(inbox.as_str()));
    let anon = &list.items[1];
    assert!(anon.message_id.is_none());
    assert!(
        anon.id.starts_with("sha256-") && anon.id.len() == 7 + 16,
        "{}",
        anon.id
    );

    let shown = s.ops.dead_letter(&anon.id).await.unwrap();
    assert!(shown.body_text.is_none());
    assert_eq!(shown.body, latin1);
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(shown.body_base64.as_deref().unwrap())
        .unwrap();
    assert_eq!(decoded, latin1);
    let shown = s.ops.dead_letter("r1").await.unwrap();
    assert_eq!(shown.headers["x-death"][0]["reason"], "rejected");

    let report = s.ops.replay(&Selection::Id(anon.id.clone())).await.unwrap();
    assert_eq!(report.replayed.len(), 1);
    let inbound_q = s.transport.topology().inbound_queue.clone();
    let mut inbound = s.transport.consume(&inbound_q, 10).await.unwrap();
    let d = next(&mut inbound).await;
    assert_eq!(&d.payload[..], latin1);
    d.ack().await.unwrap();
    let list = s.ops.dead_letters(&Filter::default(), 100).await.unwrap();
    assert_eq!(ids(&list), ["r1"]);
    drop((c, inbound));
    s.cleanup().await;
}

#[tokio::test]
async fn queues_report_depths_consumers_and_management_figures() {
    let s = Setup::new("queues").await;
    let (a, b) = (s.inbox("a"), s.inbox("b"));
    for i in 0..3 {
        s.transport
            .publish(Envelope::new(
                Target::Queue(a.clone()),
                format!("a{i}"),
                "<a/>",
            ))
            .await
            .unwrap();
    }
    s.transport
        .publish(Envelope::new(Target::Queue(b.clone()), "b0", "<b/>"))
        .await
        .unwrap();
    s.transport
        .publish(Envelope::new(Target::DeadLetter, "d0", "<d/>"))
        .await
        .unwrap();
    // One consumer on inbox b holding its message unacknowledged.
    let mut cb = s.transport.consume(&b, 1).await.unwrap();
    let held = next(&mut cb).await;

    // Depth and consumers are exact at once (AMQP).
    let report = s.ops.queues().await.unwrap();
    let names: Vec<_> = report.queues.iter().map(|q| q.name.as_str()).collect();
    let t = s.transport.topology();
    assert_eq!(
        names,
        [
            t.inbound_queue.as_str(),
            &t.retry_queue,
            &t.dead_letter_queue,
            &a,
            &b
        ]
    );
    let qa = report.queue(&a).unwrap();
    assert_eq!(qa.role, QueueRole::Inbox);
    assert_eq!(qa.authority.as_deref(), Some("ags:09162000"));
    assert_eq!(
        (qa.exists, qa.ready, qa.consumers),
        (true, Some(3), Some(0))
    );
    let qb = report.queue(&b).unwrap();
    assert_eq!((qb.ready, qb.consumers), (Some(0), Some(1)));
    let dlq = report.queue(&t.dead_letter_queue).unwrap();
    assert_eq!((dlq.role, dlq.ready), (QueueRole::DeadLetter, Some(1)));
    assert_eq!(report.queue(&t.retry_queue).unwrap().role, QueueRole::Retry);
    assert_eq!(report.vhost, "/");

    // Management figures follow within RabbitMQ's sampling interval (5 s).
    let deadline = Instant::now() + Duration::from_secs(30);
    let report = loop {
        let r = s.ops.queues().await.unwrap();
        let done = r.management_error.is_none()
            && r.queue(&a).unwrap().messages == Some(3)
            && r.queue(&b).unwrap().unacked == Some(1)
            && r.queue(&a).unwrap().oldest_message_age_secs.is_some();
        if done || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(report.management_error, None);
    let qa = report.queue(&a).unwrap();
    assert_eq!((qa.messages, qa.unacked), (Some(3), Some(0)));
    assert_eq!(qa.queue_type.as_deref(), Some("classic"));
    assert!(qa.oldest_message_age_secs.is_some_and(|age| age < 60));
    assert!(qa.publish_rate.is_some_and(|r| r >= 0.0));
    let qb = report.queue(&b).unwrap();
    assert_eq!(
        (qb.ready, qb.unacked, qb.messages),
        (Some(0), Some(1), Some(1))
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["queues"][3]["role"], "inbox");
    assert_eq!(json["queues"][3]["ready"], 3);
    let metrics = report.prometheus();
    let line = format!(
        "xoev_queue_ready_messages{{queue=\"{a}\",role=\"inbox\",authority=\"ags:09162000\"}} 3\n"
    );
    assert!(metrics.contains(&line), "{metrics}");
    held.ack().await.unwrap();
    drop(cb);
    s.cleanup().await;
}

#[tokio::test]
async fn missing_queues_and_an_unreachable_management_api_are_reported() {
    let s = Setup::new("missing").await;
    let mut topology = s.transport.topology().clone();
    topology
        .inboxes
        .push(format!("{}.inbox.never-declared", s.prefix));
    let ops = Ops::new(
        OpsConfig::new(url(), topology).with_management(Some("http://127.0.0.1:1".into())),
    )
    .unwrap();
    let report = ops.queues().await.unwrap();
    let missing = report.queues.last().unwrap();
    assert!(!missing.exists);
    assert_eq!((missing.ready, missing.consumers), (None, None));
    assert!(
        report.queues[..5]
            .iter()
            .all(|q| q.exists && q.ready == Some(0))
    );
    let err = report.management_error.expect("management error reported");
    assert!(err.contains("127.0.0.1:1"), "{err}");
    assert!(report.queues.iter().all(|q| q.unacked.is_none()));
    let health = ops.broker_health().await;
    assert!(health.amqp && health.management == Some(false) && !health.healthy());
    assert!(
        health
            .management_error
            .is_some_and(|e| e.contains("127.0.0.1:1"))
    );
    ops.close().await;
    let health = s.ops.broker_health().await;
    assert!(health.healthy(), "{health:?}");
    assert_eq!((health.management, health.alarm), (Some(true), None));

    // No dead-letter queue at all: a clear error, not an empty list.
    let ghost = Ops::new(OpsConfig::new(
        url(),
        TopologyConfig::with_prefix(&format!("{}-ghost", s.prefix)),
    ))
    .unwrap();
    let e = ghost
        .dead_letters(&Filter::default(), 10)
        .await
        .unwrap_err();
    assert_eq!(e.kind, OpsErrorKind::UnknownQueue);
    let e = ghost.purge(true).await.unwrap_err();
    assert_eq!(e.kind, OpsErrorKind::UnknownQueue);

    // Nothing listens: a connection error.
    let down = Ops::new(OpsConfig::new(
        "amqp://guest:guest@127.0.0.1:1/%2f",
        TopologyConfig::default(),
    ))
    .unwrap();
    let e = down.queues().await.unwrap_err();
    assert_eq!(e.kind, OpsErrorKind::Connection);
    assert_eq!(e.kind.http_status(), 503);
    let health = down.broker_health().await;
    assert!(!health.amqp && health.amqp_error.is_some() && !health.healthy());
    s.cleanup().await;
}

/// The same on quorum queues (a RabbitMQ cluster's choice): listing keeps
/// the order, replay delivers once.
#[tokio::test]
async fn quorum_dead_letter_queue_lists_in_order_and_replays_once() {
    let s = Setup::with_kind("quorum", QueueKind::Quorum).await;
    let inbound_q = s.transport.topology().inbound_queue.clone();
    let mut inbound = s.transport.consume(&inbound_q, 10).await.unwrap();
    for id in ["q1", "q2", "q3"] {
        s.dead_letter(&mut inbound, id, "routing", "no-route").await;
    }
    for round in 0..2 {
        let list = s.ops.dead_letters(&Filter::default(), 100).await.unwrap();
        assert_eq!(ids(&list), ["q1", "q2", "q3"], "round {round}: {list:?}");
    }
    let first = s.ops.dead_letters(&Filter::default(), 1).await.unwrap();
    assert_eq!((ids(&first), first.truncated), (vec!["q1"], true));
    let report = s.ops.replay(&Selection::Id("q2".into())).await.unwrap();
    assert_eq!(report.replayed.len(), 1);
    let d = next(&mut inbound).await;
    assert_eq!(d.properties.message_id.as_deref(), Some("q2"));
    d.ack().await.unwrap();
    nothing_more(&mut inbound).await;
    let list = s.ops.dead_letters(&Filter::default(), 100).await.unwrap();
    assert_eq!(ids(&list), ["q1", "q3"]);
    drop(inbound);
    s.cleanup().await;
}

/// A replay leaves a dead letter that another operation replayed after it
/// began (two operators replaying at the same moment, the gateway failing
/// the first one's replay again at once): the message is replayed once,
/// not twice. Here the other operation's replay is dated after this one's
/// start; one dated before it is replayed as usual.
#[tokio::test]
async fn a_replay_leaves_what_a_later_replay_sent_back() {
    let s = Setup::new("later-replay").await;
    let inbound_q = s.transport.topology().inbound_queue.clone();
    let mut inbound = s.transport.consume(&inbound_q, 10).await.unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    for (id, replayed_at) in [("later", now_ms + 60_000), ("earlier", now_ms - 60_000)] {
        let env = Envelope::new(Target::Inbound, id, format!("<msg id='{id}'/>"))
            .with_header(xoev_ops::REPLAYED_AT_HEADER, replayed_at.to_string())
            .with_header(xoev_ops::REPLAYS_HEADER, "1");
        s.transport.publish(env).await.unwrap();
        let d = next(&mut inbound).await;
        d.dead_letter("route", "no-route", "failed again")
            .await
            .unwrap();
    }
    let report = s
        .ops
        .replay(&Selection::All(Filter::default()))
        .await
        .unwrap();
    let replayed: Vec<&str> = report
        .replayed
        .iter()
        .map(|r| r.dead_letter.id.as_str())
        .collect();
    assert_eq!(replayed, ["earlier"]);
    let err = s
        .ops
        .replay(&Selection::Id("later".into()))
        .await
        .unwrap_err();
    assert_eq!(err.kind, xoev_ops::OpsErrorKind::NotFound, "{err}");
    let list = s.ops.dead_letters(&Filter::default(), 100).await.unwrap();
    assert_eq!(ids(&list), ["later"]);
    assert_eq!(
        list.items[0].replayed_at_ms,
        u64::try_from(now_ms + 60_000).ok()
    );
    // the "earlier" one went to the inbound queue, replayed a second time
    let d = next(&mut inbound).await;
    assert_eq!(d.properties.message_id.as_deref(), Some("earlier"));
    assert_eq!(d.properties.header(xoev_ops::REPLAYS_HEADER), Some("2"));
    d.ack().await.unwrap();
    s.cleanup().await;
}
