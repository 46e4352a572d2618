//! The HTTP API driven with `tower::ServiceExt::oneshot` over the demo
//! installation and the in-process transport: authentication, submission
//! and each rejection kind, inbox leases (ack, release, expiry on a paused
//! clock), status, health, metrics, consents and the citizen view, and the
//! OpenAPI description against the routes.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine as _;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt as _;
use xoev_audit::Names;
use xoev_gateway::demo::{self, Demo, DemoOptions, FEE_OFFICE, TAX_OFFICE};
use xoev_gateway::http::auth::{AuthorityTokens, CitizenTokens};
use xoev_gateway::http::{self, AppState, HttpOptions};
use xoev_gateway::service::{self, ServiceOptions};
use xoev_transport::{Envelope, MemoryTransport, Target, TopologyConfig, Transport};

const FEE_TOKEN: &str = "fee-office-token-for-tests";
const TAX_TOKEN: &str = "tax-office-token-for-tests";
const AGENCY_TOKEN: &str = "xdomea-agency-token-for-tests";
const CITIZEN_KEY: &[u8] = b"citizen token key for the http tests (32+ bytes)";

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

struct H {
    demo: Demo,
    transport: Arc<MemoryTransport>,
    state: AppState,
    app: Router,
    citizens: CitizenTokens,
    _work: tempfile::TempDir,
}

async fn harness(lease: Duration) -> H {
    let work = tempfile::tempdir().expect("tmp");
    let demo = demo::setup(DemoOptions::new(root(), work.path()))
        .await
        .expect("demo setup");
    let topology = TopologyConfig::with_prefix("xoev").with_inboxes(
        demo.pipeline
            .router
            .directory()
            .inboxes()
            .map(str::to_owned),
    );
    let transport = Arc::new(MemoryTransport::new(topology));
    let mut tokens = AuthorityTokens::default();
    tokens.insert_token(FEE_OFFICE, FEE_TOKEN);
    tokens.insert_token(TAX_OFFICE, TAX_TOKEN);
    // the sender of the xdomea 3.0.0 pattern samples
    tokens.insert_token("AbsBehoerdenkennungPraefixCode:LATh", AGENCY_TOKEN);
    let citizens = CitizenTokens::new(CITIZEN_KEY.to_vec()).expect("key");
    let names = Names::load(&root().join("config/citizen-view.toml")).expect("names");
    let dyn_transport: Arc<dyn Transport> = transport.clone();
    let state = AppState::new(
        demo.pipeline.clone(),
        dyn_transport,
        HttpOptions {
            lease,
            tokens,
            citizens: Some(citizens.clone()),
            names,
            timeouts: Default::default(),
        },
    );
    H {
        app: http::app(state.clone()),
        demo,
        transport,
        state,
        citizens,
        _work: work,
    }
}

struct Answer {
    status: StatusCode,
    content_type: String,
    text: String,
    www_authenticate: Option<String>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }

    /// Asserts a problem+json answer with `status` and `kind`.
    fn problem(&self, status: StatusCode, kind: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(
            self.content_type, "application/problem+json",
            "{}",
            self.text
        );
        let v = self.json();
        assert_eq!(v["kind"], kind, "{}", self.text);
        assert_eq!(v["status"], status.as_u16());
        v
    }
}

async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> Answer {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let response = app
        .clone()
        .oneshot(req.body(Body::from(body)).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let www_authenticate = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Answer {
        status,
        content_type,
        text: String::from_utf8_lossy(&bytes).into_owned(),
        www_authenticate,
    }
}

async fn get(app: &Router, uri: &str, token: Option<&str>) -> Answer {
    call(app, Method::GET, uri, token, Vec::new()).await
}

async fn post(app: &Router, uri: &str, token: Option<&str>, body: Vec<u8>) -> Answer {
    call(app, Method::POST, uri, token, body).await
}

/// The next message on the inbound queue, and its consumer (kept until
/// the message is settled).
async fn next_inbound(h: &H) -> (xoev_transport::Consumer, xoev_transport::Delivery) {
    let mut c = h
        .transport
        .consume(&h.transport.topology().inbound_queue.clone(), 1)
        .await
        .expect("consume");
    let d = c.next().await.expect("some").expect("delivery");
    (c, d)
}

fn inbound(h: &H) -> usize {
    h.transport
        .depth(&h.transport.topology().inbound_queue)
        .expect("inbound queue")
}

#[tokio::test]
async fn authentication_is_required_and_checked() {
    let h = harness(Duration::from_secs(60)).await;
    for (method, uri) in [
        (Method::GET, "/inbox"),
        (Method::POST, "/messages"),
        (Method::GET, "/messages/x"),
        (Method::POST, "/inbox/x/ack"),
        (Method::POST, "/inbox/x/release"),
    ] {
        let a = call(&h.app, method.clone(), uri, None, Vec::new()).await;
        a.problem(StatusCode::UNAUTHORIZED, "unauthenticated");
        assert!(a.www_authenticate.is_some(), "{uri}: WWW-Authenticate");
        let a = call(&h.app, method, uri, Some("wrong-token"), Vec::new()).await;
        a.problem(StatusCode::UNAUTHORIZED, "invalid-token");
    }
    // a submission's error says accepted: false
    let a = post(&h.app, "/messages", None, b"<x/>".to_vec()).await;
    assert_eq!(a.json()["accepted"], false);
    // not "Bearer"
    let response = h
        .app
        .clone()
        .oneshot(
            Request::get("/inbox")
                .header(header::AUTHORIZATION, format!("Basic {FEE_TOKEN}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn submit_accepts_a_request_and_publishes_it_with_its_id() {
    let h = harness(Duration::from_secs(60)).await;
    let (id, request) = h
        .demo
        .fee_office()
        .expect("fee")
        .request()
        .expect("request");
    let a = post(&h.app, "/messages", Some(FEE_TOKEN), request.clone()).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    let v = a.json();
    assert_eq!(v["message_id"], id.as_str());
    assert_eq!(v["accepted"], true);
    assert_eq!(inbound(&h), 1);
    // the status says accepted until the pipeline decides
    let s = get(&h.app, &format!("/messages/{id}"), Some(FEE_TOKEN)).await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.text);
    assert_eq!(s.json()["state"], "accepted");
    // the message in the queue carries the XÖV id and is byte-identical
    let (_consumer, d) = next_inbound(&h).await;
    assert_eq!(d.properties.message_id.as_deref(), Some(id.as_str()));
    assert_eq!(d.payload.as_ref(), request.as_slice());
    assert_eq!(
        d.properties.header(xoev_transport::header::SENDER),
        Some(FEE_OFFICE)
    );
    d.ack().await.expect("ack");
}

/// The messages of one xdomea 2/3 process share its ProzessID (their
/// `Kopf` has no message id): the offer (0501) and the transfer (0503)
/// are two messages, each with its own status link (they were one id: the
/// transfer taken for the offer again, a "duplicate" once decided).
#[tokio::test]
async fn the_messages_of_one_xdomea_process_are_each_accepted_with_a_status_link() {
    let h = harness(Duration::from_secs(60)).await;
    let sample =
        |f: &str| std::fs::read(root().join("tests/samples/xdomea").join(f)).expect("sample");
    for (file, id) in [
        (
            "pattern-3.0.0_xx_Aussonderung.Anbieteverzeichnis.0501.xml",
            "242f44e8-bebf-4503-a086-db252c6a4277:0501:EmpBehoerdenkennungPraefixCode:LATh",
        ),
        (
            "pattern-3.0.0_xx_Aussonderung.Aussonderung.0503.xml",
            "242f44e8-bebf-4503-a086-db252c6a4277:0503:EmpBehoerdenkennungPraefixCode:LATh",
        ),
    ] {
        let a = post(&h.app, "/messages", Some(AGENCY_TOKEN), sample(file)).await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{file}: {}", a.text);
        let v = a.json();
        assert_eq!(v["message_id"], id, "{v}");
        assert!(v.get("duplicate").is_none(), "{v}");
        let link = v["status"].as_str().expect("status link").to_owned();
        let s = get(&h.app, &link, Some(AGENCY_TOKEN)).await;
        assert_eq!(s.status, StatusCode::OK, "{link}: {}", s.text);
        assert_eq!(s.json()["state"], "accepted");
    }
    assert_eq!(inbound(&h), 2);
    // published with the standard and version the catalogue gives them
    // (the xdomea 3 root names neither)
    let (_consumer, d) = next_inbound(&h).await;
    assert_eq!(
        d.properties.header(xoev_transport::header::STANDARD),
        Some("xdomea")
    );
    assert_eq!(
        d.properties.header(xoev_transport::header::VERSION),
        Some("3.0.0")
    );
    d.ack().await.expect("ack");
}

#[tokio::test]
async fn submit_rejects_each_kind_of_bad_input() {
    let h = harness(Duration::from_secs(60)).await;
    let fee = h.demo.fee_office().expect("fee");
    let (_, request) = fee.request().expect("request");
    let text = String::from_utf8(request.clone()).expect("utf-8");

    // oversize: beyond the pipeline's limit
    let big = vec![b' '; h.demo.pipeline.limits.max_bytes + 10];
    post(&h.app, "/messages", Some(FEE_TOKEN), big)
        .await
        .problem(StatusCode::PAYLOAD_TOO_LARGE, "oversize");
    // a declared length over the limit: refused before the body is read
    // (here a small body behind a large Content-Length, as a client that
    // waits for `100 Continue` would send nothing at all)
    let req = Request::builder()
        .method(Method::POST)
        .uri("/messages")
        .header(header::AUTHORIZATION, format!("Bearer {FEE_TOKEN}"))
        .header(header::CONTENT_LENGTH, "999999999")
        .header(header::EXPECT, "100-continue")
        .body(Body::from(request.clone()))
        .expect("request");
    let response = h.app.clone().oneshot(req).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // not XML
    let v = post(
        &h.app,
        "/messages",
        Some(FEE_TOKEN),
        b"this is not xml".to_vec(),
    )
    .await
    .problem(StatusCode::BAD_REQUEST, "malformed-xml");
    assert_eq!(v["accepted"], false);
    // XML without an XÖV header
    post(
        &h.app,
        "/messages",
        Some(FEE_TOKEN),
        b"<?xml version=\"1.0\"?><a xmlns=\"urn:x\"><b/></a>".to_vec(),
    )
    .await
    .problem(StatusCode::BAD_REQUEST, "invalid-header");
    // a header without its message type: the XSD's violation, with its line
    let typ = r#"<xn-bk:nachrichtentyp listVersionID="1.2.0"><code>DE.EvidenceRequest.0101</code></xn-bk:nachrichtentyp>"#;
    assert!(text.contains(typ));
    let v = post(
        &h.app,
        "/messages",
        Some(FEE_TOKEN),
        text.replace(typ, "").into_bytes(),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY, "xsd-invalid");
    assert!(v.to_string().contains("nachrichtentyp"), "{v}");
    // the fee office's message sent with the tax office's token
    post(&h.app, "/messages", Some(TAX_TOKEN), request.clone())
        .await
        .problem(StatusCode::FORBIDDEN, "author-mismatch");
    // a standard the catalogue does not know
    let unknown = text.replace(
        "urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-de-noots",
        "urn:example:not-a-standard",
    );
    post(&h.app, "/messages", Some(FEE_TOKEN), unknown.into_bytes())
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown-standard");
    // a version it does not know
    let version = text.replace("version=\"1.2.0\"", "version=\"9.9.9\"");
    assert_ne!(version, text);
    post(&h.app, "/messages", Some(FEE_TOKEN), version.into_bytes())
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown-version");
    // nothing was published
    assert_eq!(inbound(&h), 0);
}

/// Publishes `n` messages into the fee office's inbox; returns their ids.
async fn fill_inbox(h: &H, n: usize) -> Vec<String> {
    let queue = h.demo.inbox(FEE_OFFICE).expect("inbox");
    let mut ids = Vec::new();
    for i in 0..n {
        let id = format!("msg-{i}-{}", uuid::Uuid::new_v4());
        h.transport
            .publish(
                Envelope::new(
                    Target::Queue(queue.clone()),
                    id.clone(),
                    format!("<m>{i}</m>"),
                )
                .with_correlation_id(format!("req-{i}")),
            )
            .await
            .expect("publish");
        ids.push(id);
    }
    ids
}

fn leased(a: &Answer) -> Vec<(String, String, bool)> {
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.json()["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            (
                m["lease_id"].as_str().expect("lease").to_owned(),
                m["message_id"].as_str().expect("id").to_owned(),
                m["redelivered"].as_bool().expect("bool"),
            )
        })
        .collect()
}

#[tokio::test]
async fn inbox_leases_ack_release_and_expiry() {
    let lease = Duration::from_secs(30);
    let h = harness(lease).await;
    let ids = fill_inbox(&h, 3).await;
    let queue = h.demo.inbox(FEE_OFFICE).expect("inbox");
    tokio::time::pause();

    // two of three, then the third; the payload is the message, base64
    let a = get(&h.app, "/inbox?max=2", Some(FEE_TOKEN)).await;
    let first = leased(&a);
    assert_eq!(first.len(), 2);
    let m0 = &a.json()["messages"][0];
    assert_eq!(m0["correlation_id"], "req-0");
    let payload = base64::engine::general_purpose::STANDARD
        .decode(m0["payload_base64"].as_str().expect("b64"))
        .expect("base64");
    assert_eq!(payload, b"<m>0</m>");
    let second = leased(&get(&h.app, "/inbox?max=10", Some(FEE_TOKEN)).await);
    assert_eq!(second.len(), 1);
    assert_eq!(
        [&first[0].1, &first[1].1, &second[0].1],
        [&ids[0], &ids[1], &ids[2]]
    );
    // all leased: the inbox looks empty, the queue holds nothing ready
    assert!(leased(&get(&h.app, "/inbox", Some(FEE_TOKEN)).await).is_empty());
    assert_eq!(h.transport.depth(&queue), Some(0));
    assert_eq!(h.state.inbox().open_leases(), 3);

    // ack is idempotent; another authority may not touch the lease
    let ack0 = format!("/inbox/{}/ack", first[0].0);
    post(&h.app, &ack0, Some(TAX_TOKEN), Vec::new())
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
    for _ in 0..2 {
        let a = post(&h.app, &ack0, Some(FEE_TOKEN), Vec::new()).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        assert_eq!(a.json()["acked"], true);
    }
    post(
        &h.app,
        &format!("/inbox/{}/release", first[0].0),
        Some(FEE_TOKEN),
        Vec::new(),
    )
    .await
    .problem(StatusCode::CONFLICT, "lease-acked");
    post(
        &h.app,
        "/inbox/no-such-lease/ack",
        Some(FEE_TOKEN),
        Vec::new(),
    )
    .await
    .problem(StatusCode::NOT_FOUND, "unknown-lease");

    // release puts it back at once: the next pull gets it, redelivered
    let rel1 = format!("/inbox/{}/release", first[1].0);
    for _ in 0..2 {
        let a = post(&h.app, &rel1, Some(FEE_TOKEN), Vec::new()).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    }
    post(
        &h.app,
        &format!("/inbox/{}/ack", first[1].0),
        Some(FEE_TOKEN),
        Vec::new(),
    )
    .await
    .problem(StatusCode::CONFLICT, "lease-released");
    let again = leased(&get(&h.app, "/inbox?max=5", Some(FEE_TOKEN)).await);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].1, ids[1]);
    assert!(again[0].2, "redelivered");

    // expiry: the unacked leases come back after the lease period
    tokio::time::advance(lease + Duration::from_secs(1)).await;
    let expired = leased(&get(&h.app, "/inbox?max=5", Some(FEE_TOKEN)).await);
    let mut got: Vec<&str> = expired.iter().map(|m| m.1.as_str()).collect();
    got.sort_unstable();
    let mut want = vec![ids[1].as_str(), ids[2].as_str()];
    want.sort_unstable();
    assert_eq!(got, want);
    assert!(expired.iter().all(|m| m.2), "redelivered");
    post(
        &h.app,
        &format!("/inbox/{}/ack", second[0].0),
        Some(FEE_TOKEN),
        Vec::new(),
    )
    .await
    .problem(StatusCode::CONFLICT, "lease-expired");
    for m in &expired {
        let a = post(
            &h.app,
            &format!("/inbox/{}/ack", m.0),
            Some(FEE_TOKEN),
            Vec::new(),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    }
    assert_eq!(h.state.inbox().open_leases(), 0);
    assert!(leased(&get(&h.app, "/inbox?max=5", Some(FEE_TOKEN)).await).is_empty());
    assert_eq!(h.transport.depth(&queue), Some(0));

    // an idle consumer (no pulls, no leases for a lease period) is closed
    assert_eq!(h.state.inbox().open_consumers(), 1);
    tokio::time::advance(lease + Duration::from_secs(1)).await;
    h.state.inbox().expire_due().await;
    assert_eq!(h.state.inbox().open_consumers(), 0);

    // the tax office's inbox is its own
    fill_inbox(&h, 1).await;
    assert!(leased(&get(&h.app, "/inbox?max=5", Some(TAX_TOKEN)).await).is_empty());
    assert_eq!(
        leased(&get(&h.app, "/inbox", Some(FEE_TOKEN)).await).len(),
        1
    );
}

#[tokio::test]
async fn inbox_refuses_bad_parameters() {
    let h = harness(Duration::from_secs(60)).await;
    for uri in [
        "/inbox?max=0",
        "/inbox?max=51",
        "/inbox?max=x",
        "/inbox?wait=21",
        "/inbox?foo=1",
    ] {
        get(&h.app, uri, Some(FEE_TOKEN))
            .await
            .problem(StatusCode::BAD_REQUEST, "invalid-parameter");
    }
}

#[tokio::test]
async fn releasing_all_leases_puts_messages_back() {
    let h = harness(Duration::from_secs(60)).await;
    fill_inbox(&h, 2).await;
    let queue = h.demo.inbox(FEE_OFFICE).expect("inbox");
    assert_eq!(
        leased(&get(&h.app, "/inbox", Some(FEE_TOKEN)).await).len(),
        2
    );
    assert_eq!(h.transport.depth(&queue), Some(0));
    h.state.inbox().release_all().await;
    assert_eq!(h.transport.depth(&queue), Some(2));
}

/// Runs the service on the in-process transport until the returned sender is dropped.
fn start_service(h: &H) -> tokio::sync::oneshot::Sender<()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let pipeline = h.demo.pipeline.clone();
    let transport: Arc<dyn Transport> = h.transport.clone();
    tokio::spawn(async move {
        let o = ServiceOptions {
            workers: 2,
            prefetch: 4,
        };
        service::run(pipeline, transport, o, async {
            let _ = rx.await;
        })
        .await
        .expect("service");
    });
    tx
}

async fn wait_for_state(h: &H, id: &str, token: &str, state: &str) -> Value {
    for _ in 0..300 {
        let a = get(&h.app, &format!("/messages/{id}"), Some(token)).await;
        if a.status == StatusCode::OK && a.json()["state"] == state {
            return a.json();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("message {id} never reached state {state}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_metrics_and_citizen_view_after_a_case() {
    let h = harness(Duration::from_secs(60)).await;
    let _stop = start_service(&h);
    let fee = h.demo.fee_office().expect("fee");

    // a good request is forwarded to the tax office
    let (id, request) = fee.request().expect("request");
    let a = post(&h.app, "/messages", Some(FEE_TOKEN), request.clone()).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    let s = wait_for_state(&h, &id, FEE_TOKEN, "forwarded").await;
    assert_eq!(s["message_id"], id.as_str());
    assert_eq!(
        s["destination"].as_str(),
        Some(h.demo.inbox(TAX_OFFICE).expect("inbox").as_str())
    );
    // only the sender sees it
    get(&h.app, &format!("/messages/{id}"), Some(TAX_TOKEN))
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
    get(&h.app, "/messages/never-sent", Some(FEE_TOKEN))
        .await
        .problem(StatusCode::NOT_FOUND, "unknown-message");
    // submitting it again is recognised and not published again
    let a = post(&h.app, "/messages", Some(FEE_TOKEN), request.clone()).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    assert_eq!(a.json()["duplicate"], true);
    // the same id from another authority is refused
    let foreign = String::from_utf8(request.clone())
        .expect("utf-8")
        .replace(FEE_OFFICE, TAX_OFFICE);
    post(&h.app, "/messages", Some(TAX_TOKEN), foreign.into_bytes())
        .await
        .problem(StatusCode::CONFLICT, "duplicate-message-id");
    // a redelivery of the settled message on the broker side is a dedupe hit
    // (counted when the service takes its next message, below)
    h.transport
        .publish(Envelope::new(Target::Inbound, id.clone(), request.clone()))
        .await
        .expect("publish duplicate");

    // a request with a broken signature is rejected at the signature stage
    let (bad_id, signed) = fee.request().expect("request");
    let tampered = String::from_utf8(signed.clone())
        .expect("utf-8")
        .replace("2024", "2023")
        .into_bytes();
    let a = post(&h.app, "/messages", Some(FEE_TOKEN), tampered.clone()).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    let s = wait_for_state(&h, &bad_id, FEE_TOKEN, "rejected").await;
    assert_eq!(s["stage"], "signature");
    // the sender sees why, as the rejection answer says it
    assert_eq!(s["reason"], "digest-mismatch", "{s}");
    assert!(
        s["detail"]
            .as_str()
            .is_some_and(|d| d.contains("changed after signing")),
        "{s}"
    );
    // the same message sent again is processed again (after a repair of
    // the gateway's configuration it might go through): rejected once more,
    // a new decision
    let first = s["updated"].clone();
    let a = post(&h.app, "/messages", Some(FEE_TOKEN), tampered.clone()).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    assert_eq!(a.json()["duplicate"], Value::Null, "{}", a.text);
    let mut again = Value::Null;
    for _ in 0..300 {
        again = get(&h.app, &format!("/messages/{bad_id}"), Some(FEE_TOKEN))
            .await
            .json();
        if again["state"] == "rejected" && again["updated"] != first {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(again["state"], "rejected", "{again}");
    assert_ne!(again["updated"], first, "decided again: {again}");
    // nothing went out under a rejected id: the corrected message may use
    // it (an xdomea 2/3 message keeps its process's id) and is forwarded
    let a = post(&h.app, "/messages", Some(FEE_TOKEN), signed).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    wait_for_state(&h, &bad_id, FEE_TOKEN, "forwarded").await;
    // once forwarded, another message under the id is refused
    let v = post(&h.app, "/messages", Some(FEE_TOKEN), tampered)
        .await
        .problem(StatusCode::CONFLICT, "duplicate-message-id");
    assert!(
        v["detail"]
            .as_str()
            .is_some_and(|d| d.contains("was forwarded") && d.contains("needs a new message id")),
        "{v}"
    );

    // a request whose header names the answer's type is forwarded as the
    // request its root says it is, and counted
    let typed = String::from_utf8(fee.template.clone())
        .expect("utf-8")
        .replace(
            "<code>DE.EvidenceRequest.0101</code>",
            "<code>DE.EvidenceResponse.0102</code>",
        );
    let mislabelled_id = uuid::Uuid::new_v4().to_string();
    let mislabelled = xoev_gateway::peers::rewrite(
        typed.as_bytes(),
        &[(
            "nachrichtenkopf/identifikation.nachricht/nachrichtenUUID",
            &mislabelled_id,
        )],
        None,
    )
    .expect("rewrite");
    assert!(String::from_utf8_lossy(&mislabelled).contains("DE.EvidenceResponse.0102"));
    let signed = fee.signer.sign_bytes(&mislabelled).expect("sign");
    let a = post(&h.app, "/messages", Some(FEE_TOKEN), signed).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    wait_for_state(&h, &mislabelled_id, FEE_TOKEN, "forwarded").await;

    // metrics: counters and histograms after messages went through
    let m = get(&h.app, "/metrics", None).await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(
        m.content_type.starts_with("text/plain"),
        "{}",
        m.content_type
    );
    let samples = parse_prometheus(&m.text);
    let value = |name: &str, labels: &[(&str, &str)]| -> f64 {
        samples
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, _, v)| *v)
            .sum()
    };
    let in_total = value(
        "xoev_messages_in_total",
        &[
            ("standard", "XNachweis"),
            ("type", "DE.EvidenceRequest.0101"),
            ("authority", FEE_OFFICE),
        ],
    );
    assert!(in_total >= 2.0, "messages in: {in_total}\n{}", m.text);
    assert!(value("xoev_messages_out_total", &[("authority", FEE_OFFICE)]) >= 1.0);
    assert!(
        value(
            "xoev_messages_rejected_total",
            &[("stage", "signature"), ("authority", FEE_OFFICE)]
        ) >= 1.0
    );
    assert!(value("xoev_signature_failures_total", &[]) >= 1.0);
    assert_eq!(
        value(
            "xoev_header_type_mismatches_total",
            &[("authority", FEE_OFFICE)]
        ),
        1.0,
        "{}",
        m.text
    );
    assert!(
        value(
            "xoev_signatures_verified_total",
            &[("algorithm", "ecdsa-sha256"), ("authority", FEE_OFFICE)]
        ) >= 1.0,
        "{}",
        m.text
    );
    assert!(
        value(
            "xoev_pipeline_duration_seconds_count",
            &[("outcome", "forward")]
        ) >= 1.0
    );
    assert!(value("xoev_pipeline_duration_seconds_bucket", &[("le", "+Inf")]) >= 2.0);
    for stage in ["header", "schema", "signature"] {
        assert!(
            value("xoev_stage_duration_seconds_count", &[("stage", stage)]) >= 1.0,
            "stage {stage} timed\n{}",
            m.text
        );
    }
    assert!(value("xoev_publish_duration_seconds_count", &[("outcome", "ok")]) >= 1.0);
    assert!(
        value(
            "xoev_access_log_duration_seconds_count",
            &[("outcome", "ok")]
        ) >= 1.0
    );
    assert!(value("xoev_http_submissions_total", &[("outcome", "accepted")]) >= 2.0);
    assert!(
        value(
            "xoev_http_request_duration_seconds_count",
            &[
                ("route", "/messages/{id}"),
                ("method", "GET"),
                ("status", "200")
            ]
        ) >= 1.0,
        "{}",
        m.text
    );
    let inbound_queue = h.transport.topology().inbound_queue.clone();
    assert!(
        value(
            "xoev_dedupe_hits_total",
            &[("queue", inbound_queue.as_str())]
        ) >= 1.0,
        "{}",
        m.text
    );
    assert!(
        samples.iter().any(|(n, _, _)| n == "xoev_in_flight"),
        "{}",
        m.text
    );
    // every settled delivery, forwarded or rejected, is timed as a whole
    assert!(
        value("xoev_message_duration_seconds_count", &[]) >= 2.0,
        "{}",
        m.text
    );

    // the citizen's access log names who asked whom, in plain language
    let citizen = h.demo.citizen.clone();
    let token = h.citizens.issue(&citizen);
    let log = get(
        &h.app,
        &format!("/citizens/{citizen}/access-log"),
        Some(&token),
    )
    .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    let events = log.json()["events"].as_array().expect("events").clone();
    let event = events
        .iter()
        .find(|e| e["request_message_id"] == id.as_str())
        .unwrap_or_else(|| panic!("no event for {id}: {}", log.text));
    assert_eq!(event["requester_name"], "Stadt Kassel, Kita-Gebührenstelle");
    // the answering tax office is named from the directory
    let tax_name = h
        .demo
        .pipeline
        .router
        .directory()
        .get(TAX_OFFICE)
        .expect("tax office")
        .name
        .clone();
    assert_eq!(event["answerer_name"], tax_name.as_str());
    assert_eq!(event["evidence"], "your income-tax assessment data");
    assert!(
        event["text"]
            .as_str()
            .is_some_and(|t| t.contains("Kita fee assessment"))
    );
}

/// (name, labels, value) of a sample line.
type Sample = (String, Vec<(String, String)>, f64);

/// Every sample line.
fn parse_prometheus(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value in {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let labels = labels
            .split("\",")
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').expect("label");
                (k.to_owned(), v.trim_matches('"').to_owned())
            })
            .collect();
        out.push((name.to_owned(), labels, value));
    }
    out
}

#[tokio::test]
async fn healthz_reports_broker_and_schemas() {
    let h = harness(Duration::from_secs(60)).await;
    let a = get(&h.app, "/healthz", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let v = a.json();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["broker"]["connected"], true);
    assert_eq!(v["schemas"]["loaded"], true);
    assert!(v["schemas"]["entries"].as_u64().is_some_and(|n| n > 0));
}

#[tokio::test]
async fn consents_only_for_their_citizen() {
    let h = harness(Duration::from_secs(60)).await;
    let citizen = h.demo.citizen.clone();
    let token = h.citizens.issue(&citizen);
    let other: xoev_audit::CitizenRef = "0123456789abcdef0123456789abcdef".parse().expect("ref");
    let other_token = h.citizens.issue(&other);
    let base = format!("/citizens/{citizen}/consents");
    let consent = json!({
        "id": "C-HTTP-1",
        "citizen": citizen.as_str(),
        "requester": FEE_OFFICE,
        "evidence_type": "income-tax-assessment",
        "purpose": "kita-fee-assessment",
        "valid_from": "2026-01-01T00:00:00Z",
        "valid_until": "2027-01-01T00:00:00Z",
    });
    let body = serde_json::to_vec(&consent).expect("json");

    // who may
    post(&h.app, &base, None, body.clone())
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    post(&h.app, &base, Some(FEE_TOKEN), body.clone())
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid-token");
    post(&h.app, &base, Some(&other_token), body.clone())
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
    get(
        &h.app,
        &format!("/citizens/{citizen}/access-log"),
        Some(&other_token),
    )
    .await
    .problem(StatusCode::FORBIDDEN, "forbidden");

    // register, list, duplicate
    let a = post(&h.app, &base, Some(&token), body.clone()).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.json()["id"], "C-HTTP-1");
    post(&h.app, &base, Some(&token), body.clone())
        .await
        .problem(StatusCode::CONFLICT, "duplicate-consent");
    let list = get(&h.app, &base, Some(&token)).await;
    assert_eq!(list.status, StatusCode::OK);
    let ids: Vec<String> = list.json()["consents"]
        .as_array()
        .expect("consents")
        .iter()
        .map(|c| c["id"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(ids.contains(&"C-HTTP-1".to_owned()), "{ids:?}");

    // bad bodies
    let mut mismatch = consent.clone();
    mismatch["citizen"] = json!(other.as_str());
    mismatch["id"] = json!("C-HTTP-2");
    post(
        &h.app,
        &base,
        Some(&token),
        serde_json::to_vec(&mismatch).expect("json"),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY, "citizen-mismatch");
    post(&h.app, &base, Some(&token), vec![b' '; 20_000])
        .await
        .problem(StatusCode::PAYLOAD_TOO_LARGE, "oversize");
    post(&h.app, &base, Some(&token), b"{\"id\":1}".to_vec())
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid-json");
    let mut backwards = consent.clone();
    backwards["id"] = json!("C-HTTP-3");
    backwards["valid_until"] = json!("2025-01-01T00:00:00Z");
    post(
        &h.app,
        &base,
        Some(&token),
        serde_json::to_vec(&backwards).expect("json"),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-consent");

    // revoke, twice, and an unknown one
    let revoke = format!("{base}/C-HTTP-1/revoke");
    let a = post(&h.app, &revoke, Some(&token), Vec::new()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(a.json()["revoked_at"].is_string(), "{}", a.text);
    post(&h.app, &revoke, Some(&token), Vec::new())
        .await
        .problem(StatusCode::CONFLICT, "consent-already-revoked");
    post(
        &h.app,
        &format!("{base}/C-NOPE/revoke"),
        Some(&token),
        Vec::new(),
    )
    .await
    .problem(StatusCode::NOT_FOUND, "unknown-consent");
    post(
        &h.app,
        &revoke.replace(citizen.as_str(), other.as_str()),
        Some(&other_token),
        Vec::new(),
    )
    .await
    .problem(StatusCode::NOT_FOUND, "unknown-consent");
}

#[tokio::test]
async fn citizen_endpoints_are_off_without_a_key() {
    let work = tempfile::tempdir().expect("tmp");
    let demo = demo::setup(DemoOptions::new(root(), work.path()))
        .await
        .expect("demo");
    let transport: Arc<dyn Transport> =
        Arc::new(MemoryTransport::new(TopologyConfig::with_prefix("xoev")));
    let state = AppState::new(
        demo.pipeline.clone(),
        transport,
        HttpOptions {
            lease: Duration::from_secs(60),
            tokens: AuthorityTokens::default(),
            citizens: None,
            names: Names::default(),
            timeouts: Default::default(),
        },
    );
    let app = http::app(state);
    get(
        &app,
        &format!("/citizens/{}/consents", demo.citizen),
        Some("x.y"),
    )
    .await
    .problem(StatusCode::SERVICE_UNAVAILABLE, "citizen-api-disabled");
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let h = harness(Duration::from_secs(60)).await;
    let yaml = get(&h.app, "/openapi.yaml", None).await;
    assert_eq!(yaml.status, StatusCode::OK);
    assert_eq!(yaml.text, http::OPENAPI_YAML);
    // the paths of the description: two-space-indented keys under `paths:`
    let mut documented: Vec<(String, String)> = Vec::new();
    let mut in_paths = false;
    let mut path = String::new();
    for line in http::OPENAPI_YAML.lines() {
        if line == "paths:" {
            in_paths = true;
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  /") {
            path = format!("/{}", p.trim_end_matches(':'));
        } else if let Some(m) = line.strip_prefix("    ")
            && let Some(method) = m.strip_suffix(':')
            && ["get", "post", "put", "delete", "patch"].contains(&method)
        {
            documented.push((method.to_owned(), path.clone()));
        }
    }
    let mut routes: Vec<(String, String)> = http::ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    routes.sort();
    documented.sort();
    assert_eq!(routes, documented, "ROUTES and docs/openapi.yaml differ");

    // and app() answers each route (not the router's own 404/405)
    for (method, path) in http::ROUTES {
        let uri = path
            .replace("{ref}", h.demo.citizen.as_str())
            .replace(['{', '}'], "");
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let a = call(&h.app, m, &uri, None, Vec::new()).await;
        assert_ne!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(
            a.status != StatusCode::NOT_FOUND || a.content_type == "application/problem+json",
            "{method} {path} is not routed"
        );
    }
}

fn cli(args: &[&str], env: Option<(&str, &str)>, stdin: &str) -> (i32, String) {
    use std::io::Write as _;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_xoev-gateway"));
    cmd.args(args)
        .env_remove(http::CITIZEN_TOKEN_ENV)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    if let Some((k, v)) = env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn api_token_cli_makes_tokens_the_api_accepts() {
    // a new authority token: its hash goes into the directory
    let (code, out) = cli(&["api-token", "authority", "--format", "json"], None, "");
    assert_eq!(code, 0, "{out}");
    let v: Value = serde_json::from_str(&out).expect("json");
    let token = v["token"].as_str().expect("token");
    let hash = v["api_token_sha256"].as_str().expect("hash");
    assert!(token.len() >= 64, "{token}");
    let mut tokens = AuthorityTokens::default();
    tokens.insert_hash(FEE_OFFICE, hash).expect("hash");
    assert_eq!(tokens.authenticate(token), Some(FEE_OFFICE));
    // hash of a given token
    let (code, out) = cli(&["api-token", "hash"], None, &format!("{token}\n"));
    assert_eq!(code, 0);
    assert_eq!(out.trim(), hash);
    let (code, _) = cli(&["api-token", "hash"], None, "");
    assert_eq!(code, 2, "empty stdin is a usage error");
    let (code, _) = cli(&["api-token", "hash"], None, &format!("{token}\nsecond\n"));
    assert_eq!(code, 2, "two lines are no token");

    // a citizen's token, checked with the same key
    let key = std::str::from_utf8(CITIZEN_KEY).expect("utf-8");
    let citizen = "0123456789abcdef0123456789abcdef";
    let (code, out) = cli(
        &["api-token", "citizen", "--citizen", citizen],
        Some((http::CITIZEN_TOKEN_ENV, key)),
        "",
    );
    assert_eq!(code, 0, "{out}");
    let checker = CitizenTokens::new(CITIZEN_KEY.to_vec()).expect("key");
    assert_eq!(
        checker.verify(out.trim()).map(|c| c.as_str().to_owned()),
        Some(citizen.to_owned())
    );
    // no key, a short key, a bad reference
    let (code, _) = cli(&["api-token", "citizen", "--citizen", citizen], None, "");
    assert_eq!(code, 2);
    let (code, _) = cli(
        &["api-token", "citizen", "--citizen", citizen],
        Some((http::CITIZEN_TOKEN_ENV, "short")),
        "",
    );
    assert_eq!(code, 2);
    let (code, _) = cli(
        &["api-token", "citizen", "--citizen", "Not-A-Ref"],
        Some((http::CITIZEN_TOKEN_ENV, key)),
        "",
    );
    assert_eq!(code, 2, "a malformed reference is a usage error");
}

/// What axum answers by itself — no such route, a method the route lacks,
/// a path that is no UTF-8 — has the API's problem+json body too.
#[tokio::test]
async fn unknown_routes_methods_and_paths_are_problems_too() {
    let h = harness(Duration::from_secs(30)).await;
    let v = get(&h.app, "/nonexistent", None)
        .await
        .problem(StatusCode::NOT_FOUND, "not-found");
    assert_eq!(v["detail"], "no such resource");
    get(&h.app, "/messages/a/b", None)
        .await
        .problem(StatusCode::NOT_FOUND, "not-found");
    let a = call(&h.app, Method::PUT, "/messages", None, Vec::new()).await;
    a.problem(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed");
    let a = call(&h.app, Method::DELETE, "/messages/x", None, Vec::new()).await;
    a.problem(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed");
    let v = get(&h.app, "/messages/%00%ff%fe", None)
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid-request");
    assert!(
        v["detail"].as_str().is_some_and(|d| d.contains("UTF-8")),
        "{v}"
    );
}
