//! The founding case end to end on the real RabbitMQ at 127.0.0.1:5672:
//! gateway service + tax-office responder + fee-office client, rejections
//! at every stage, and two gateway consumers sharing the queues.
//!
//! Every test uses its own queue prefix and deletes its topology afterwards.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use xoev_adapters::RequestFacts;
use xoev_core::{Limits, Message};
use xoev_gateway::cases::{CaseError, CaseStore, MemoryCases, Status};
use xoev_gateway::demo::{self, Demo, DemoOptions, FEE_OFFICE, TAX_OFFICE};
use xoev_gateway::peers::{rewrite, serve_tax_office, text_at};
use xoev_gateway::service::{self, ServiceOptions};
use xoev_transport::{
    AmqpTransport, Consumer, Delivery, Envelope, Target, TopologyConfig, Transport,
};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn amqp_url() -> String {
    std::env::var("XOEV_TEST_AMQP")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

struct Setup {
    demo: Demo,
    transport: Arc<AmqpTransport>,
    _work: tempfile::TempDir,
}

async fn setup(tag: &str) -> Setup {
    setup_with(tag, Vec::new()).await
}

async fn setup_with(tag: &str, routing_append: Vec<(String, String)>) -> Setup {
    setup_full(tag, |o| o.routing_append = routing_append).await
}

/// A demo on its own queue prefix, its options changed by `options`.
async fn setup_full(tag: &str, options: impl FnOnce(&mut DemoOptions)) -> Setup {
    let work = tempfile::tempdir().expect("tmp");
    let prefix = format!("xoev-test-{tag}-{}", uuid::Uuid::new_v4().simple());
    let mut o = DemoOptions::new(root(), work.path());
    o.inbox_prefix = Some(prefix.clone());
    options(&mut o);
    let demo = demo::setup(o).await.expect("demo setup");
    let mut topology = TopologyConfig::with_prefix(&prefix).with_inboxes(
        demo.pipeline
            .router
            .directory()
            .inboxes()
            .map(str::to_owned),
    );
    topology.retry_delay = Duration::from_millis(200);
    topology.max_attempts = 2;
    let transport = Arc::new(
        AmqpTransport::connect(&amqp_url(), topology)
            .await
            .expect("RabbitMQ at 127.0.0.1:5672"),
    );
    Setup {
        demo,
        transport,
        _work: work,
    }
}

impl Setup {
    fn dyn_transport(&self) -> Arc<dyn Transport> {
        self.transport.clone()
    }

    /// A consumer on `queue`.
    async fn consumer(&self, queue: &str) -> Consumer {
        self.transport
            .consume(queue, 8)
            .await
            .unwrap_or_else(|e| panic!("consume {queue}: {e}"))
    }

    /// Starts one gateway consumer; returns a handle that stops it.
    fn start_gateway(
        &self,
        transport: Arc<dyn Transport>,
    ) -> (
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ) {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let pipeline = self.demo.pipeline.clone();
        let handle = tokio::spawn(async move {
            let options = ServiceOptions {
                workers: 4,
                prefetch: 16,
            };
            service::run(pipeline, transport, options, async {
                let _ = rx.await;
            })
            .await
            .expect("service");
        });
        (tx, handle)
    }

    async fn cleanup(self) {
        let _ = self.transport.delete_topology().await;
        self.transport.close().await;
    }
}

async fn next(c: &mut Consumer) -> Delivery {
    match tokio::time::timeout(Duration::from_secs(30), c.next()).await {
        Ok(Some(Ok(d))) => d,
        other => panic!(
            "no delivery within 30 s: {:?}",
            other.map(|o| o.map(|r| r.map(|d| d.properties)))
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn founding_case_over_rabbitmq() {
    let s = setup("case").await;
    let (stop, gateway) = s.start_gateway(s.dyn_transport());
    let tax = Arc::new(s.demo.tax_office().expect("tax office"));
    let tax_inbox = s.demo.inbox(TAX_OFFICE).expect("inbox");
    let t = s.dyn_transport();
    let tax_task = tokio::spawn(async move { serve_tax_office(tax, t, &tax_inbox, Some(1)).await });

    let fee = s.demo.fee_office().expect("fee office");
    let (request_id, request) = fee.request().expect("request");
    s.transport
        .publish(Envelope::new(Target::Inbound, request_id.clone(), request))
        .await
        .expect("publish");

    let mut inbox = s.consumer(&s.demo.inbox(FEE_OFFICE).expect("inbox")).await;
    let d = next(&mut inbox).await;
    assert_eq!(
        d.properties.correlation_id.as_deref(),
        Some(request_id.as_str())
    );
    assert!(d.properties.persistent, "published persistent");
    let answer = d.payload.to_vec();
    d.ack().await.expect("ack");
    assert_eq!(tax_task.await.expect("join").expect("tax office"), 1);

    // signed by the gateway, valid XNachweis after removing the signature
    let verified = fee.check_answer(&answer).expect("gateway signature");
    assert!(
        verified.signer_subject.contains("Gateway"),
        "{}",
        verified.signer_subject
    );
    let message = Message::parse(answer.clone(), &Limits::default()).expect("parse");
    assert_eq!(message.root.local_name, "DE.EvidenceResponse.0102");
    assert_eq!(
        message
            .header
            .as_ref()
            .and_then(|h| h.reader.as_ref())
            .map(|r| r.id.as_str()),
        Some(FEE_OFFICE)
    );
    let (_, doc) = s
        .demo
        .verifier
        .verify_bytes(&answer, &Limits::default(), Some(&s.demo.gateway))
        .expect("verify");
    xoev_dsig::strip_signature(&doc);
    let entry = s
        .demo
        .pipeline
        .validator
        .catalogue()
        .lookup(&message)
        .expect("lookup");
    assert_eq!(entry.name, "XNachweis");
    entry
        .schema()
        .expect("schema")
        .validate(&doc)
        .expect("valid XNachweis answer");

    // minimised: the evidence holds the fee bracket, nothing of the assessment
    use base64::Engine as _;
    let b64 = text_at(&answer, "RepositoryItem/RepositoryItem").expect("evidence");
    let evidence = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .expect("base64"),
    )
    .expect("utf-8");
    assert!(evidence.contains("beitragsstufe"), "{evidence}");
    let whole = format!("{}{evidence}", String::from_utf8_lossy(&answer));
    // (the subject's own IDNr, which the fee office sent, identifies the
    // subject of the evidence; the spouse and every figure stay out)
    for absent in [
        "98765432109",
        ">Max<",
        "steuerIdNr",
        "einkuenfte",
        "summeEinkuenfte",
        "zuVersteuerndesEinkommen",
        "festgesetzteEinkommensteuer",
        "42350",
        "31800",
        "steuernummer",
        "Zusammenveranlagung",
    ] {
        assert!(!whole.contains(absent), "{absent} leaked into the answer");
    }

    // the access log has the request and the answer, chained
    // (the gateway appends "answered" after the confirmed publish, so the
    // fee office may see the answer a moment before the log has it)
    let mut outcomes: Vec<String> = Vec::new();
    for _ in 0..50 {
        let entries = s
            .demo
            .audit
            .entries_for(&s.demo.citizen)
            .await
            .expect("log");
        outcomes = entries.iter().map(|e| e.outcome.to_string()).collect();
        if outcomes.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(outcomes, ["forwarded", "answered"]);
    assert!(s.demo.audit.verify(None).await.expect("verify").is_intact());

    let _ = stop.send(());
    gateway.await.expect("gateway");
    s.cleanup().await;
}

/// Publishes `bytes` from the fee office and returns the dead letter and the
/// rejection answer it caused.
async fn rejected(
    s: &Setup,
    id: &str,
    bytes: Vec<u8>,
    dlq: &mut Consumer,
    inbox: &mut Consumer,
) -> (Delivery, String) {
    s.transport
        .publish(Envelope::new(Target::Inbound, id.to_owned(), bytes))
        .await
        .expect("publish");
    let dead = next(dlq).await;
    let answer = next(inbox).await;
    let text = String::from_utf8_lossy(&answer.payload).into_owned();
    assert_eq!(
        answer.properties.correlation_id.as_deref(),
        Some(id),
        "rejection answers the message"
    );
    s.demo
        .fee_office()
        .expect("fee")
        .check_answer(&answer.payload)
        .expect("rejection is signed by the gateway");
    answer.ack().await.expect("ack");
    (dead, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_rejection_stage_dead_letters_and_answers_the_sender() {
    // allow an XWasser report from the fee office to the tax office, for
    // which no routing rule exists
    let allow = "[[allow]]\ndescription = \"test: allowed, but no rule routes it\"\nsender = \"ags:06611000\"\nreader = \"fa:2613\"\nmessage_type = \"2010\"\n";
    let s = setup_with("reject", vec![("access.toml".into(), allow.into())]).await;
    let (stop, gateway) = s.start_gateway(s.dyn_transport());
    let signer = s.demo.signer(FEE_OFFICE).expect("key");
    let mut dlq = s.consumer(&s.transport.topology().dead_letter_queue).await;
    let mut inbox = s.consumer(&s.demo.inbox(FEE_OFFICE).expect("inbox")).await;
    let template = std::fs::read(root().join(demo::REQUEST)).expect("request");
    let fresh = |xml: &[u8], extra: &[(&str, &str)]| -> (String, Vec<u8>) {
        let id = uuid::Uuid::new_v4().to_string();
        let mut texts = vec![(
            "nachrichtenkopf/identifikation.nachricht/nachrichtenUUID",
            id.as_str(),
        )];
        texts.extend_from_slice(extra);
        let xml = rewrite(xml, &texts, None).expect("rewrite");
        (id, signer.sign_bytes(&xml).expect("sign"))
    };

    let mut cases: Vec<(&str, &str, String, Vec<u8>)> = Vec::new();
    // validate: a date of birth that is no xs:date
    let (id, bytes) = fresh(&template, &[("NaturalPerson/DateOfBirth", "12.04.1985")]);
    cases.push(("validate", "xsd-invalid", id, bytes));
    // signature: tampered after signing
    let (id, bytes) = fresh(&template, &[]);
    let tampered = String::from_utf8(bytes)
        .expect("utf-8")
        .replace("Mustermann", "Musterfrau")
        .into_bytes();
    cases.push(("signature", "digest-mismatch", id, tampered));
    // access: a fee office may not send an evidence answer to a tax office
    let response = std::fs::read(
        root()
            .join("tests/samples/xnachweis")
            .read_dir()
            .expect("dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().contains("EvidenceResponse.0102"))
            .expect("a 0102 sample"),
    )
    .expect("read");
    let (id, bytes) = fresh(
        &response,
        &[
            ("nachrichtenkopf/autor/kennung", FEE_OFFICE),
            ("nachrichtenkopf/leser/kennung", TAX_OFFICE),
        ],
    );
    cases.push(("access", "access-denied", id, bytes));
    // adapter: a year that has not ended
    let (id, bytes) = {
        let text = String::from_utf8(template.clone())
            .expect("utf-8")
            .replace("<xn-bk:AttributeValue>2024<", "<xn-bk:AttributeValue>2099<");
        fresh(text.as_bytes(), &[])
    };
    cases.push(("adapter", "year-in-future", id, bytes));
    // routing: a standard the gateway validates, to a reader no rule serves
    let xwasser = std::fs::read(root().join("tests/samples/xwasser/quality_report_minimal.xml"))
        .expect("xwasser");
    let id = uuid::Uuid::new_v4().to_string();
    let xml = rewrite(
        &xwasser,
        &[
            (
                "nachrichtenkopf.g2g/identifikation.nachricht/nachrichtenUUID",
                &id,
            ),
            ("nachrichtenkopf.g2g/autor/kennung", FEE_OFFICE),
            ("nachrichtenkopf.g2g/leser/kennung", TAX_OFFICE),
        ],
        None,
    )
    .expect("rewrite");
    cases.push((
        "routing",
        "no-route",
        id,
        signer.sign_bytes(&xml).expect("sign"),
    ));

    for (stage, kind, id, bytes) in cases {
        let (dead, answer) = rejected(&s, &id, bytes, &mut dlq, &mut inbox).await;
        let h = |n: &str| dead.properties.header(n).map(str::to_owned);
        assert_eq!(
            h("x-xoev-stage").as_deref(),
            Some(stage),
            "{id}: {:?}",
            dead.properties.headers
        );
        assert_eq!(
            h("x-xoev-reason-kind").as_deref(),
            Some(kind),
            "{id}: {:?}",
            dead.properties.headers
        );
        assert_eq!(dead.properties.message_id.as_deref(), Some(id.as_str()));
        // published without headers: the dead letter has what the header says
        assert_eq!(
            h("x-xoev-sender").as_deref(),
            Some(FEE_OFFICE),
            "{id}: {:?}",
            dead.properties.headers
        );
        assert!(h("x-xoev-type").is_some(), "{:?}", dead.properties.headers);
        assert!(
            answer.contains(&format!("<gw:grund>{kind}</gw:grund>")),
            "{answer}"
        );
        let view = xoev_gateway::pipeline::rejection::RejectionView::parse(answer.as_bytes())
            .expect("typed view of the signed rejection");
        assert_eq!((view.stufe.as_str(), view.grund.as_str()), (stage, kind));
        assert_eq!(view.bezug.message_id.as_deref(), Some(id.as_str()));
        assert!(
            answer.contains(&format!("<gw:stufe>{stage}</gw:stufe>")),
            "{answer}"
        );
        assert!(
            answer.contains(&format!("<gw:nachrichtenID>{id}</gw:nachrichtenID>")),
            "{answer}"
        );
        assert!(
            !answer.contains("12345678901"),
            "no tax id in the rejection"
        );
        dead.ack().await.expect("ack");
    }
    let _ = stop.send(());
    gateway.await.expect("gateway");
    s.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_gateway_consumers_deliver_every_answer_exactly_once() {
    const N: usize = 1000;
    let s = setup("pair").await;
    // a second connection: a competing consumer on the same queues
    let second = Arc::new(
        AmqpTransport::connect(&amqp_url(), s.transport.topology().clone())
            .await
            .expect("second connection"),
    );
    let (stop1, g1) = s.start_gateway(s.dyn_transport());
    let (stop2, g2) = s.start_gateway(second.clone() as Arc<dyn Transport>);
    let tax = Arc::new(s.demo.tax_office().expect("tax office"));
    let tax_inbox = s.demo.inbox(TAX_OFFICE).expect("inbox");
    let t = s.dyn_transport();
    let tax_task = tokio::spawn(async move { serve_tax_office(tax, t, &tax_inbox, Some(N)).await });

    let fee = Arc::new(s.demo.fee_office().expect("fee office"));
    let mut sent = HashSet::new();
    for _ in 0..N {
        let f = fee.clone();
        let (id, bytes) = tokio::task::spawn_blocking(move || f.request())
            .await
            .expect("join")
            .expect("request");
        s.transport
            .publish(Envelope::new(Target::Inbound, id.clone(), bytes))
            .await
            .expect("publish");
        sent.insert(id);
    }
    let mut inbox = s
        .transport
        .consume(&s.demo.inbox(FEE_OFFICE).expect("inbox"), 64)
        .await
        .expect("consume");
    let mut answered = HashSet::new();
    while answered.len() < N {
        let d = match tokio::time::timeout(Duration::from_secs(120), inbox.next()).await {
            Ok(Some(Ok(d))) => d,
            other => panic!("after {} answers: {:?}", answered.len(), other.is_ok()),
        };
        let corr = d.properties.correlation_id.clone().expect("correlation id");
        assert!(sent.contains(&corr), "answer for an unknown request {corr}");
        assert!(
            answered.insert(corr.clone()),
            "answer for {corr} delivered twice"
        );
        d.ack().await.expect("ack");
    }
    // nothing more arrives
    assert!(
        tokio::time::timeout(Duration::from_secs(2), inbox.next())
            .await
            .is_err(),
        "an extra answer arrived"
    );
    assert_eq!(tax_task.await.expect("join").expect("tax office"), N);
    assert_eq!(
        s.transport
            .queue_depth(&s.transport.topology().dead_letter_queue)
            .await
            .expect("depth"),
        0
    );
    let _ = stop1.send(());
    let _ = stop2.send(());
    g1.await.expect("g1");
    g2.await.expect("g2");
    second.close().await;
    s.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forwarded_request_whose_access_log_entry_fails_is_retried_not_acked() {
    let s = setup("auditfail").await;
    // The embedded access log cannot be written: its file is a directory.
    let log = s._work.path().join("audit").join(xoev_audit::LOG_FILE);
    let _ = std::fs::remove_file(&log);
    std::fs::create_dir_all(&log).expect("directory in the log's place");
    let mut dlq = s.consumer(&s.transport.topology().dead_letter_queue).await;
    let mut tax_inbox = s.consumer(&s.demo.inbox(TAX_OFFICE).expect("inbox")).await;
    let (stop, gateway) = s.start_gateway(s.dyn_transport());

    let (id, request) = s
        .demo
        .fee_office()
        .expect("fee")
        .request()
        .expect("request");
    s.transport
        .publish(Envelope::new(Target::Inbound, id.clone(), request))
        .await
        .expect("publish");

    // Forwarded (the destination has it) ...
    let forwarded = next(&mut tax_inbox).await;
    let forwarded_id = forwarded.properties.message_id.clone().expect("id");
    forwarded.ack().await.expect("ack");
    // ... but not acked: retried (max_attempts 2), then a dead letter that
    // says why, so operations can repair the log and replay it.
    let dead = next(&mut dlq).await;
    let h = |n: &str| dead.properties.header(n).map(str::to_owned);
    assert_eq!(h("x-xoev-stage").as_deref(), Some("audit"));
    assert_eq!(
        h("x-xoev-reason-kind").as_deref(),
        Some("access-log-unavailable")
    );
    assert_eq!(h("x-xoev-attempts").as_deref(), Some("2"));
    assert_eq!(dead.properties.message_id.as_deref(), Some(id.as_str()));
    dead.ack().await.expect("ack");
    // The retry forwarded it again under the same output id: the inbox's
    // consumer recognises the duplicate instead of delivering it twice.
    let again = tokio::time::timeout(Duration::from_secs(2), tax_inbox.next()).await;
    match again {
        Ok(Some(Ok(d))) => {
            assert_eq!(
                d.properties.message_id.as_deref(),
                Some(forwarded_id.as_str())
            );
            d.ack().await.expect("ack");
        }
        _ => assert_eq!(
            tax_inbox.duplicates(),
            1,
            "the second forward was a duplicate"
        ),
    }

    let _ = stop.send(());
    let _ = gateway.await;
    s.cleanup().await;
}

/// A case store whose `flush` waits until the test opens it — or fails.
struct HeldFlush {
    inner: MemoryCases,
    open: tokio::sync::Semaphore,
    fail: std::sync::atomic::AtomicBool,
    flushes: std::sync::atomic::AtomicUsize,
}

impl HeldFlush {
    fn new() -> Self {
        Self {
            inner: MemoryCases::default(),
            open: tokio::sync::Semaphore::new(0),
            fail: Default::default(),
            flushes: Default::default(),
        }
    }
}

#[async_trait::async_trait]
impl CaseStore for HeldFlush {
    async fn put_request(&self, id: &str, facts: &RequestFacts) -> Result<(), CaseError> {
        self.inner.put_request(id, facts).await
    }
    async fn claim_request(
        &self,
        id: &str,
        answer: &str,
        answerer: &str,
    ) -> Result<RequestFacts, CaseError> {
        self.inner.claim_request(id, answer, answerer).await
    }
    async fn open_request(&self, id: &str, answerer: &str) -> Result<RequestFacts, CaseError> {
        self.inner.open_request(id, answerer).await
    }
    async fn release_claim(&self, id: &str, answer: &str) -> Result<(), CaseError> {
        self.inner.release_claim(id, answer).await
    }
    async fn set_status(&self, id: &str, status: &Status) -> Result<(), CaseError> {
        self.inner.set_status(id, status).await
    }
    async fn status(&self, id: &str) -> Result<Option<Status>, CaseError> {
        self.inner.status(id).await
    }
    async fn flush(&self) -> Result<(), CaseError> {
        use std::sync::atomic::Ordering::SeqCst;
        self.flushes.fetch_add(1, SeqCst);
        if self.fail.load(SeqCst) {
            return Err(CaseError::Store(
                "cases.jsonl: disk unavailable (test)".into(),
            ));
        }
        self.open
            .acquire()
            .await
            .map_err(|e| CaseError::Store(e.to_string()))?
            .forget();
        Ok(())
    }
}

/// The forwarded request leaves only once the case store holds it durably
/// (else an answer after a crash would find no request); a store that
/// cannot make it durable sends the request to retry and then to the
/// dead letters, never to the tax office.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_is_forwarded_only_after_the_case_store_flushed() {
    use std::sync::atomic::Ordering::SeqCst;
    let store = Arc::new(HeldFlush::new());
    let s = setup_full("flush", |o| o.cases = Some(store.clone())).await;
    let mut dlq = s.consumer(&s.transport.topology().dead_letter_queue).await;
    let mut tax_inbox = s.consumer(&s.demo.inbox(TAX_OFFICE).expect("inbox")).await;
    let (stop, gateway) = s.start_gateway(s.dyn_transport());
    let fee = s.demo.fee_office().expect("fee");

    let (id, request) = fee.request().expect("request");
    s.transport
        .publish(Envelope::new(Target::Inbound, id.clone(), request))
        .await
        .expect("publish");
    // processed and waiting for the flush: nothing reaches the inbox
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while store.flushes.load(SeqCst) == 0 {
        assert!(tokio::time::Instant::now() < deadline, "never flushed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let early = tokio::time::timeout(Duration::from_millis(800), tax_inbox.next()).await;
    assert!(
        early.is_err(),
        "published before the case store was flushed"
    );
    store.open.add_permits(1);
    let forwarded = next(&mut tax_inbox).await;
    forwarded.ack().await.expect("ack");

    // a flush that fails: retried (max_attempts 2), then a dead letter
    store.fail.store(true, SeqCst);
    let (id, request) = fee.request().expect("request");
    s.transport
        .publish(Envelope::new(Target::Inbound, id.clone(), request))
        .await
        .expect("publish");
    let dead = next(&mut dlq).await;
    let h = |n: &str| dead.properties.header(n).map(str::to_owned);
    assert_eq!(h("x-xoev-stage").as_deref(), Some("correlation"));
    assert_eq!(
        h("x-xoev-reason-kind").as_deref(),
        Some("case-store-unavailable")
    );
    assert_eq!(h("x-xoev-attempts").as_deref(), Some("2"));
    assert_eq!(dead.properties.message_id.as_deref(), Some(id.as_str()));
    dead.ack().await.expect("ack");
    let leaked = tokio::time::timeout(Duration::from_millis(500), tax_inbox.next()).await;
    assert!(leaked.is_err(), "forwarded although the store failed");

    let _ = stop.send(());
    let _ = gateway.await;
    s.cleanup().await;
}

/// The `.toml` files of an addition in `tests/routing/`, to append to the
/// shipped routing.
fn routing_addition(addition: &str) -> Vec<(String, String)> {
    ["authorities.toml", "access.toml", "rules.toml"]
        .into_iter()
        .map(|f| {
            let path = root().join("tests/routing").join(addition).join(f);
            (f.to_owned(), std::fs::read_to_string(path).expect("read"))
        })
        .collect()
}

/// An xdomea 4 handover names the archive as a further reader
/// (`WeitererLeser`): the reader's inbox and the archive's each get the
/// signed message, under one message id; the copy says whom it is for,
/// and the sender's status names both inboxes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_further_reader_gets_a_copy_in_its_own_inbox() {
    let s = setup_with("copies", routing_addition("xdomea-archive")).await;
    let (stop, gateway) = s.start_gateway(s.dyn_transport());
    let reader_inbox = s.demo.inbox("ags:06412000").expect("inbox");
    let archive_inbox = s.demo.inbox("archiv:06411000").expect("inbox");
    let mut reader = s.consumer(&reader_inbox).await;
    let mut archive = s.consumer(&archive_inbox).await;
    let handover =
        std::fs::read(root().join("tests/samples/xdomea/synthetic-4.0.0_Abgabe.Abgabe.0401.xml"))
            .expect("sample");
    let signed = s
        .demo
        .signer("ags:06411000")
        .expect("key")
        .sign_bytes(&handover)
        .expect("sign");
    let id = "5d0e2b7a-91c3-4f68-a2e4-7b3c9d1f0a26";
    s.transport
        .publish(Envelope::new(Target::Inbound, id.to_owned(), signed))
        .await
        .expect("publish");
    let to_reader = next(&mut reader).await;
    let copy = next(&mut archive).await;
    assert_eq!(to_reader.payload, copy.payload);
    assert_eq!(to_reader.properties.message_id.as_deref(), Some(id));
    assert_eq!(copy.properties.message_id.as_deref(), Some(id));
    let h = |d: &Delivery, n: &str| d.properties.header(n).map(str::to_owned);
    assert_eq!(
        h(&copy, "x-xoev-copy-for").as_deref(),
        Some("archiv:06411000")
    );
    assert_eq!(h(&copy, "x-xoev-reader").as_deref(), Some("ags:06412000"));
    assert_eq!(h(&to_reader, "x-xoev-copy-for"), None);
    // what both get is signed by the gateway
    s.demo
        .verifier
        .verify_bytes(&copy.payload, &Limits::default(), Some(&s.demo.gateway))
        .expect("signed by the gateway");
    to_reader.ack().await.expect("ack");
    copy.ack().await.expect("ack");
    // the status is recorded after the publishes: wait for it
    let mut status = None;
    for _ in 0..100 {
        status = s.demo.pipeline.cases.status(id).await.expect("status");
        if status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = status.expect("a status");
    assert_eq!(status.state, "forwarded");
    assert_eq!(status.destination.as_deref(), Some(reader_inbox.as_str()));
    assert_eq!(status.copies, [archive_inbox]);
    let _ = stop.send(());
    gateway.await.expect("gateway");
    s.cleanup().await;
}

/// A sender that submits one request several times at the same moment
/// (client retries racing each other): the gateway forwards it once, and
/// the citizen's access log has one entry, not one per copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_message_submitted_many_times_at_once_is_forwarded_once() {
    const COPIES: usize = 12;
    let s = setup("concurrent").await;
    let fee = s.demo.fee_office().expect("fee office");
    let (request_id, request) = fee.request().expect("request");
    // all copies wait in the queue before the gateway starts: its workers
    // take several at once
    for _ in 0..COPIES {
        s.transport
            .publish(Envelope::new(
                Target::Inbound,
                request_id.clone(),
                request.clone(),
            ))
            .await
            .expect("publish");
    }
    let mut tax_inbox = s.consumer(&s.demo.inbox(TAX_OFFICE).expect("inbox")).await;
    let (stop, gateway) = s.start_gateway(s.dyn_transport());
    let first = next(&mut tax_inbox).await;
    first.ack().await.expect("ack");
    // nothing more comes while the other copies are settled
    let more = tokio::time::timeout(Duration::from_secs(3), tax_inbox.next()).await;
    assert!(
        more.is_err(),
        "a second forward: {:?}",
        more.map(|d| d.map(|d| d.map(|d| d.properties)))
    );
    let entries = s
        .demo
        .audit
        .entries_for_request(&request_id)
        .await
        .expect("log");
    assert_eq!(entries.len(), 1, "{entries:?}");
    let _ = stop.send(());
    gateway.await.expect("gateway");
    s.cleanup().await;
}

/// Another message under the id of one the gateway forwarded (a corrected
/// request resent with its old id) is refused as `duplicate-message-id`:
/// a dead letter and a rejection for the sender, not a silent ack — and
/// the first message's status stays. The first message again, after a
/// restart (a fresh deduplication window), is recognised by its digest and
/// not forwarded a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_message_under_a_decided_id_is_refused_the_same_one_is_a_duplicate() {
    let s = setup("reused-id").await;
    let (stop, gateway) = s.start_gateway(s.dyn_transport());
    let fee = s.demo.fee_office().expect("fee office");
    let tax_inbox_name = s.demo.inbox(TAX_OFFICE).expect("inbox");
    let mut tax_inbox = s.consumer(&tax_inbox_name).await;
    let (id, request) = fee.request().expect("request");
    s.transport
        .publish(Envelope::new(Target::Inbound, id.clone(), request.clone()))
        .await
        .expect("publish");
    next(&mut tax_inbox).await.ack().await.expect("ack");
    let mut forwarded = None;
    for _ in 0..100 {
        forwarded = s.demo.pipeline.cases.status(&id).await.expect("status");
        if forwarded.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let forwarded = forwarded.expect("status");
    assert_eq!(forwarded.state, "forwarded");
    assert!(forwarded.digest.is_some());

    // a corrected request (another year), signed, under the same id
    let corrected = String::from_utf8(fee.template.clone())
        .expect("utf-8")
        .replace("<xn-bk:AttributeValue>2024<", "<xn-bk:AttributeValue>2023<");
    let corrected = rewrite(
        corrected.as_bytes(),
        &[(
            "nachrichtenkopf/identifikation.nachricht/nachrichtenUUID",
            &id,
        )],
        None,
    )
    .expect("rewrite");
    let corrected = fee.signer.sign_bytes(&corrected).expect("sign");
    let mut dlq = s.consumer(&s.transport.topology().dead_letter_queue).await;
    let mut fee_inbox = s.consumer(&s.demo.inbox(FEE_OFFICE).expect("inbox")).await;
    s.transport
        .publish(Envelope::new(Target::Inbound, id.clone(), corrected))
        .await
        .expect("publish");
    let dead = next(&mut dlq).await;
    assert_eq!(
        dead.properties.header("x-xoev-reason-kind"),
        Some("duplicate-message-id"),
        "{:?}",
        dead.properties.headers
    );
    dead.ack().await.expect("ack");
    let answer = next(&mut fee_inbox).await;
    assert!(
        String::from_utf8_lossy(&answer.payload)
            .contains("<gw:grund>duplicate-message-id</gw:grund>"),
        "{}",
        String::from_utf8_lossy(&answer.payload)
    );
    answer.ack().await.expect("ack");
    let status = s.demo.pipeline.cases.status(&id).await.expect("status");
    assert_eq!(
        status.as_ref(),
        Some(&forwarded),
        "the first message's status stays"
    );
    let _ = stop.send(());
    gateway.await.expect("gateway");

    // "after a restart": another connection, another deduplication window
    let second = Arc::new(
        AmqpTransport::connect(&amqp_url(), s.transport.topology().clone())
            .await
            .expect("second connection"),
    );
    let (stop, gateway) = s.start_gateway(second.clone() as Arc<dyn Transport>);
    let mut fresh_tax_inbox = second.consume(&tax_inbox_name, 8).await.expect("consume");
    second
        .publish(Envelope::new(Target::Inbound, id.clone(), request))
        .await
        .expect("publish");
    let more = tokio::time::timeout(Duration::from_secs(3), fresh_tax_inbox.next()).await;
    assert!(
        more.is_err(),
        "forwarded again: {:?}",
        more.map(|d| d.map(|d| d.map(|d| d.properties)))
    );
    let _ = stop.send(());
    gateway.await.expect("gateway");
    second.close().await;
    s.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rejected_message_replayed_after_the_repair_is_processed_again() {
    // no consent yet: the request is rejected (`no-consent`)
    let s = setup_full("replay-after-repair", |o| o.consent = false).await;
    let (stop, gateway) = s.start_gateway(s.dyn_transport());
    let fee = s.demo.fee_office().expect("fee office");
    let mut tax_inbox = s.consumer(&s.demo.inbox(TAX_OFFICE).expect("inbox")).await;
    let mut fee_inbox = s.consumer(&s.demo.inbox(FEE_OFFICE).expect("inbox")).await;
    let (id, request) = fee.request().expect("request");
    s.transport
        .publish(Envelope::new(Target::Inbound, id.clone(), request.clone()))
        .await
        .expect("publish");
    let rejection = next(&mut fee_inbox).await;
    assert!(
        String::from_utf8_lossy(&rejection.payload).contains("<gw:grund>no-consent</gw:grund>"),
        "{}",
        String::from_utf8_lossy(&rejection.payload)
    );
    rejection.ack().await.expect("ack");
    let mut rejected = None;
    for _ in 0..100 {
        rejected = s.demo.pipeline.cases.status(&id).await.expect("status");
        if rejected.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rejected.expect("status").state, "rejected");

    // the same message again, as its sender publishes it once more: a
    // duplicate of the decided one, nothing happens
    s.transport
        .publish(Envelope::new(Target::Inbound, id.clone(), request.clone()))
        .await
        .expect("publish");
    let again = tokio::time::timeout(Duration::from_secs(2), fee_inbox.next()).await;
    assert!(
        again.is_err(),
        "decided again: {:?}",
        again.map(|d| d.map(|d| d.map(|d| d.properties)))
    );

    // the repair: the citizen consents; then operations replay the dead letter
    let facts = RequestFacts::from_xnachweis(&request).expect("facts");
    let now = time::OffsetDateTime::now_utc();
    s.demo
        .audit
        .register(xoev_audit::NewConsent {
            id: facts.consent.clone(),
            citizen: s.demo.citizen.clone(),
            requester: FEE_OFFICE.into(),
            evidence_type: facts.evidence_type.clone(),
            purpose: facts.purpose.clone(),
            valid_from: now - time::Duration::days(1),
            valid_until: now + time::Duration::days(30),
        })
        .await
        .expect("consent");
    let ops = xoev_ops::Ops::new(xoev_ops::OpsConfig {
        management_url: None,
        ..xoev_ops::OpsConfig::new(amqp_url(), s.transport.topology().clone())
    })
    .expect("ops");
    let report = ops
        .replay(&xoev_ops::Selection::Id(id.clone()))
        .await
        .expect("replay");
    assert_eq!(report.replayed.len(), 1, "{report:?}");
    assert_eq!(
        report.replayed[0].dead_letter.reason_kind.as_deref(),
        Some("no-consent")
    );

    // …and the request reaches the tax office this time
    let forwarded = next(&mut tax_inbox).await;
    assert_eq!(
        forwarded.properties.header("x-xoev-sender"),
        Some(FEE_OFFICE),
        "{:?}",
        forwarded.properties.headers
    );
    forwarded.ack().await.expect("ack");
    let mut status = None;
    for _ in 0..100 {
        status = s.demo.pipeline.cases.status(&id).await.expect("status");
        if status.as_ref().is_some_and(|s| s.state == "forwarded") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status.expect("status").state, "forwarded");
    let _ = stop.send(());
    gateway.await.expect("gateway");
    s.cleanup().await;
}

/// A dead letter of an xdomea 2.x message — whose root names no standard
/// or version, its namespace does — names them as the catalogue does, so
/// `dlq list --filter standard=xdomea` finds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_letter_of_an_xdomea_2_message_names_its_standard_and_version() {
    let s = setup("xdomea-dead-letter").await;
    let (stop, gateway) = s.start_gateway(s.dyn_transport());
    let mut dlq = s.consumer(&s.transport.topology().dead_letter_queue).await;
    let unsigned = std::fs::read(root().join(
        "tests/samples/xdomea/synthetic-2.4.0_Aussonderung.AnbietungEmpfangBestaetigen.0504.xml",
    ))
    .expect("sample");
    let message = Message::parse(unsigned.clone(), &Limits::default()).expect("parse");
    assert_eq!(
        message.standard, None,
        "the sample's root names no standard"
    );
    let id = message
        .require_header()
        .expect("header")
        .message_id
        .to_string();
    // published bare, as a back-office system might: no headers at all
    s.transport
        .publish(Envelope::new(Target::Inbound, id, unsigned))
        .await
        .expect("publish");
    let dead = next(&mut dlq).await;
    let h = |name: &str| dead.properties.header(name).map(str::to_owned);
    assert_eq!(
        h("x-xoev-stage").as_deref(),
        Some("signature"),
        "{:?}",
        dead.properties.headers
    );
    assert_eq!(
        h("x-xoev-standard").as_deref(),
        Some("xdomea"),
        "{:?}",
        dead.properties.headers
    );
    assert_eq!(
        h("x-xoev-version").as_deref(),
        Some("2.4.0"),
        "{:?}",
        dead.properties.headers
    );
    dead.ack().await.expect("ack");
    let _ = stop.send(());
    gateway.await.expect("gateway");
    s.cleanup().await;
}
