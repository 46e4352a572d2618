//! The HTTP API over the real RabbitMQ at 127.0.0.1:5672, served on a real
//! socket: the fee office submits a signed request over HTTP, the gateway
//! service and the tax-office peer do their part over AMQP, and the fee
//! office pulls the answer from its inbox over HTTP, acks it and finds the
//! inbox empty. Then a lease that expires is requeued by the broker, and
//! `/healthz` says 503 once the broker connection is closed.
//!
//! The test uses its own queue prefix and deletes its topology afterwards.

use base64::Engine as _;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use xoev_gateway::demo::{self, DemoOptions, FEE_OFFICE, TAX_OFFICE};
use xoev_gateway::http::auth::AuthorityTokens;
use xoev_gateway::http::{self, AppState, HttpOptions};
use xoev_gateway::peers::serve_tax_office;
use xoev_gateway::service::{self, ServiceOptions};
use xoev_transport::{AmqpTransport, Envelope, Target, TopologyConfig, Transport};

const FEE_TOKEN: &str = "fee-office-token-amqp-test";

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn amqp_url() -> String {
    std::env::var("XOEV_TEST_AMQP")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

async fn json(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let bytes = r.bytes().await.expect("body");
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)));
    (status, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn submit_over_http_and_pull_the_answer_over_http() {
    let work = tempfile::tempdir().expect("tmp");
    let prefix = format!("xoev-test-http-{}", uuid::Uuid::new_v4().simple());
    let mut o = DemoOptions::new(root(), work.path());
    o.inbox_prefix = Some(prefix.clone());
    let demo = demo::setup(o).await.expect("demo setup");
    let transport = connect(&demo, &prefix).await;
    let t: Arc<dyn Transport> = transport.clone();

    // the gateway service
    let (stop_service, service_stopped) = tokio::sync::oneshot::channel::<()>();
    let service = {
        let (p, t) = (demo.pipeline.clone(), t.clone());
        tokio::spawn(async move {
            let o = ServiceOptions {
                workers: 2,
                prefetch: 8,
            };
            service::run(p, t, o, async {
                let _ = service_stopped.await;
            })
            .await
            .expect("service");
        })
    };
    // the tax office answers one request
    let tax = Arc::new(demo.tax_office().expect("tax office"));
    let tax_inbox = demo.inbox(TAX_OFFICE).expect("inbox");
    let tax_task = {
        let t = t.clone();
        tokio::spawn(async move { serve_tax_office(tax, t, &tax_inbox, Some(1)).await })
    };
    // the HTTP API on a real socket
    let mut tokens = AuthorityTokens::default();
    tokens.insert_token(FEE_OFFICE, FEE_TOKEN);
    let lease = Duration::from_secs(3);
    let state = AppState::new(
        demo.pipeline.clone(),
        t.clone(),
        HttpOptions {
            lease,
            tokens,
            citizens: None,
            names: xoev_audit::Names::default(),
            timeouts: Default::default(),
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(http::serve(listener, state.clone(), async {
        let _ = http_stopped.await;
    }));
    let client = reqwest::Client::new();

    let (status, health) = json(
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .expect("healthz"),
    )
    .await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["broker"]["connected"], true);

    // submit the signed request over HTTP
    let fee = demo.fee_office().expect("fee office");
    let (request_id, request) = fee.request().expect("request");
    let (status, v) = json(
        client
            .post(format!("{base}/messages"))
            .bearer_auth(FEE_TOKEN)
            .header("content-type", "application/xml")
            .body(request)
            .send()
            .await
            .expect("submit"),
    )
    .await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["message_id"], request_id.as_str());

    // pull the answer from the fee office's inbox (long poll)
    let mut answer = None;
    for _ in 0..6 {
        let (status, v) = json(
            client
                .get(format!("{base}/inbox?max=5&wait=5"))
                .bearer_auth(FEE_TOKEN)
                .send()
                .await
                .expect("pull"),
        )
        .await;
        assert_eq!(status, 200, "{v}");
        if let Some(m) = v["messages"].as_array().and_then(|a| a.first()) {
            assert_eq!(v["messages"].as_array().map(Vec::len), Some(1), "{v}");
            answer = Some(m.clone());
            break;
        }
    }
    let answer = answer.expect("an answer within 30 s");
    assert_eq!(answer["correlation_id"], request_id.as_str());
    let payload = base64::engine::general_purpose::STANDARD
        .decode(answer["payload_base64"].as_str().expect("payload"))
        .expect("base64");
    let verified = fee.check_answer(&payload).expect("signed by the gateway");
    assert!(
        verified.signer_subject.contains("Gateway"),
        "{}",
        verified.signer_subject
    );
    assert_eq!(tax_task.await.expect("join").expect("tax office"), 1);

    // the request's status, then ack the answer; the inbox is empty
    let (status, s) = json(
        client
            .get(format!("{base}/messages/{request_id}"))
            .bearer_auth(FEE_TOKEN)
            .send()
            .await
            .expect("status"),
    )
    .await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["state"], "forwarded");
    let lease_id = answer["lease_id"].as_str().expect("lease");
    for _ in 0..2 {
        let (status, v) = json(
            client
                .post(format!("{base}/inbox/{lease_id}/ack"))
                .bearer_auth(FEE_TOKEN)
                .send()
                .await
                .expect("ack"),
        )
        .await;
        assert_eq!(status, 200, "{v}");
    }
    let (_, v) = json(
        client
            .get(format!("{base}/inbox?max=5"))
            .bearer_auth(FEE_TOKEN)
            .send()
            .await
            .expect("pull"),
    )
    .await;
    assert_eq!(v["messages"].as_array().map(Vec::len), Some(0), "{v}");
    let fee_inbox = demo.inbox(FEE_OFFICE).expect("inbox");
    assert_eq!(transport.queue_depth(&fee_inbox).await.expect("depth"), 0);

    // an expired lease goes back to the broker and comes again
    transport
        .publish(Envelope::new(
            Target::Queue(fee_inbox.clone()),
            "expiring-1",
            "<m/>",
        ))
        .await
        .expect("publish");
    let pull = || async {
        json(
            client
                .get(format!("{base}/inbox?max=5&wait=5"))
                .bearer_auth(FEE_TOKEN)
                .send()
                .await
                .expect("pull"),
        )
        .await
        .1
    };
    let first = pull().await;
    assert_eq!(first["messages"][0]["message_id"], "expiring-1", "{first}");
    assert_eq!(first["messages"][0]["redelivered"], false);
    tokio::time::sleep(lease + Duration::from_millis(1500)).await;
    let again = pull().await;
    assert_eq!(again["messages"][0]["message_id"], "expiring-1", "{again}");
    assert_eq!(again["messages"][0]["redelivered"], true);
    let expired = first["messages"][0]["lease_id"].as_str().expect("lease");
    let r = client
        .post(format!("{base}/inbox/{expired}/ack"))
        .bearer_auth(FEE_TOKEN)
        .send()
        .await
        .expect("ack");
    assert_eq!(r.status().as_u16(), 409);
    let current = again["messages"][0]["lease_id"].as_str().expect("lease");
    let r = client
        .post(format!("{base}/inbox/{current}/ack"))
        .bearer_auth(FEE_TOKEN)
        .send()
        .await
        .expect("ack");
    assert_eq!(r.status().as_u16(), 200);

    // deliveries buffered by the inbox consumer but not leased go back to
    // the queue (for other instances) once the consumer is idle
    for i in 0..3 {
        transport
            .publish(Envelope::new(
                Target::Queue(fee_inbox.clone()),
                format!("buffered-{i}"),
                "<m/>",
            ))
            .await
            .expect("publish");
    }
    let one = json(
        client
            .get(format!("{base}/inbox?max=1&wait=5"))
            .bearer_auth(FEE_TOKEN)
            .send()
            .await
            .expect("pull"),
    )
    .await
    .1;
    let one_lease = one["messages"][0]["lease_id"].as_str().expect("lease");
    let r = client
        .post(format!("{base}/inbox/{one_lease}/ack"))
        .bearer_auth(FEE_TOKEN)
        .send()
        .await
        .expect("ack");
    assert_eq!(r.status().as_u16(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        transport.queue_depth(&fee_inbox).await.expect("depth"),
        0,
        "the other two are buffered at the consumer"
    );
    tokio::time::sleep(lease + Duration::from_millis(1500)).await;
    assert_eq!(state.inbox().open_consumers(), 0);
    let mut depth = 0;
    for _ in 0..20 {
        depth = transport.queue_depth(&fee_inbox).await.expect("depth");
        if depth == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(depth, 2, "buffered deliveries returned to the queue");
    for _ in 0..2 {
        let v = pull().await;
        for m in v["messages"].as_array().expect("messages") {
            let lease = m["lease_id"].as_str().expect("lease");
            let r = client
                .post(format!("{base}/inbox/{lease}/ack"))
                .bearer_auth(FEE_TOKEN)
                .send()
                .await
                .expect("ack");
            assert_eq!(r.status().as_u16(), 200);
        }
    }

    // the broker connection breaks while a message is leased: the client's
    // ack still succeeds (it has the message), the broker's redelivery is
    // recognised by message id and not handed out again, the queue is empty
    transport
        .publish(Envelope::new(
            Target::Queue(fee_inbox.clone()),
            "connection-lost-1",
            "<m/>",
        ))
        .await
        .expect("publish");
    let held = pull().await;
    assert_eq!(
        held["messages"][0]["message_id"], "connection-lost-1",
        "{held}"
    );
    let held_lease = held["messages"][0]["lease_id"].as_str().expect("lease");
    transport.reset_connection().await;
    let (status, v) = json(
        client
            .post(format!("{base}/inbox/{held_lease}/ack"))
            .bearer_auth(FEE_TOKEN)
            .send()
            .await
            .expect("ack"),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let after = pull().await;
    assert_eq!(
        after["messages"].as_array().map(Vec::len),
        Some(0),
        "{after}"
    );
    assert_eq!(transport.queue_depth(&fee_inbox).await.expect("depth"), 0);

    // metrics over the socket; the dropped connection counts as a reconnect
    let mut reconnects = 0.0;
    let mut text = String::new();
    for _ in 0..50 {
        text = client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        reconnects = text
            .lines()
            .find_map(|l| l.strip_prefix("xoev_broker_reconnects_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        if reconnects >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reconnects >= 1.0, "{text}");
    assert!(
        text.contains("xoev_publish_duration_seconds_bucket"),
        "{text}"
    );

    // stop, clean up; without a broker connection the health check fails
    let _ = stop_http.send(());
    server.await.expect("join").expect("serve");
    let _ = stop_service.send(());
    service.await.expect("join");
    assert_eq!(transport.queue_depth(&fee_inbox).await.expect("depth"), 0);
    let _ = transport.delete_topology().await;
    transport.close().await;
    let app = http::app(state);
    let response = tower::ServiceExt::oneshot(
        app,
        axum::http::Request::get("/healthz")
            .body(axum::body::Body::empty())
            .expect("request"),
    )
    .await
    .expect("infallible");
    assert_eq!(response.status().as_u16(), 503);
}

/// `xoev-gateway run` with `[http]`: the binary serves the API next to the
/// consumer (authority token from the directory, citizen key from the
/// environment) and stops both on SIGTERM with exit code 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_the_http_api_and_stops_on_sigterm() {
    use sha2::Digest as _;
    let work = tempfile::tempdir().expect("tmp");
    let (demo, prefix, _store, config) = installation(work.path(), "httprun").await;
    // the fee office's token hash in the directory, and an [http] section
    let authorities = work.path().join("install/routing/authorities.toml");
    let hash = hex::encode(sha2::Sha256::digest(FEE_TOKEN.as_bytes()));
    let text = std::fs::read_to_string(&authorities)
        .expect("authorities")
        .replace(
            &format!("id = \"{FEE_OFFICE}\"\n"),
            &format!("id = \"{FEE_OFFICE}\"\napi_token_sha256 = \"{hash}\"\n"),
        );
    assert!(text.contains(&hash), "fee office entry not found");
    std::fs::write(&authorities, text).expect("write");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut toml = std::fs::read_to_string(&config).expect("config");
    toml.push_str(&format!(
        "\n[http]\nlisten = \"127.0.0.1:{port}\"\nlease_seconds = 30\n"
    ));
    std::fs::write(&config, toml).expect("write");

    let citizen_key = "citizen token key of the run test, 32 bytes or more";
    let log = work.path().join("gateway.log");
    let mut child = spawn_run(&config, &log, &[(http::CITIZEN_TOKEN_ENV, citizen_key)]);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut healthy = false;
    for _ in 0..100 {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await
            && r.status().as_u16() == 200
        {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        healthy,
        "no healthy gateway: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    // submit; the running pipeline forwards it to the tax office
    let fee = demo.fee_office().expect("fee office");
    let (id, request) = fee.request().expect("request");
    let r = client
        .post(format!("{base}/messages"))
        .bearer_auth(FEE_TOKEN)
        .body(request)
        .send()
        .await
        .expect("submit");
    assert_eq!(r.status().as_u16(), 202);
    let mut state = Value::Null;
    for _ in 0..100 {
        let (_, s) = json(
            client
                .get(format!("{base}/messages/{id}"))
                .bearer_auth(FEE_TOKEN)
                .send()
                .await
                .expect("status"),
        )
        .await;
        state = s["state"].clone();
        if state == "forwarded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, "forwarded");

    // the citizen reads the access log with a portal-issued token
    let tokens =
        xoev_gateway::http::auth::CitizenTokens::new(citizen_key.as_bytes().to_vec()).expect("key");
    let (status, v) = json(
        client
            .get(format!("{base}/citizens/{}/access-log", demo.citizen))
            .bearer_auth(tokens.issue(&demo.citizen))
            .send()
            .await
            .expect("access log"),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let events = v["events"].as_array().expect("events");
    assert!(
        events
            .iter()
            .any(|e| e["request_message_id"] == id.as_str()),
        "{v}"
    );

    // SIGTERM stops consumer and API; exit code 0
    stop_run(&mut child, &log).await;
    assert!(client.get(format!("{base}/healthz")).send().await.is_err());

    let topology = TopologyConfig::with_prefix(&prefix).with_inboxes(
        demo.pipeline
            .router
            .directory()
            .inboxes()
            .map(str::to_owned),
    );
    if let Ok(t) = AmqpTransport::connect(&amqp_url(), topology).await {
        let _ = t.delete_topology().await;
        t.close().await;
    }
}

/// A running `xoev-gateway run`, killed if the test ends (or panics)
/// before [`stop_run`] stopped it: a failed test leaves no gateway behind
/// consuming from its queues.
struct Running(std::process::Child);

impl std::ops::Deref for Running {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts `xoev-gateway run --config <config>` with the demo's citizen
/// secret, its log in `log`.
fn spawn_run(config: &std::path::Path, log: &std::path::Path, env: &[(&str, &str)]) -> Running {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_xoev-gateway"));
    command
        .args(["run", "--config"])
        .arg(config)
        .env(
            "XOEV_CITIZEN_SECRET",
            String::from_utf8_lossy(demo::DEMO_SECRET).as_ref(),
        )
        .env("XOEV_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).expect("log"));
    for (name, value) in env {
        command.env(name, value);
    }
    Running(command.spawn().expect("spawn xoev-gateway run"))
}

/// Sends SIGTERM and waits (10 s at most) for exit code 0.
async fn stop_run(child: &mut std::process::Child, log: &std::path::Path) {
    let pid = child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let mut exited = None;
    for _ in 0..100 {
        if let Some(s) = child.try_wait().expect("wait") {
            exited = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let exited = exited.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("the gateway did not stop within 10 s of SIGTERM")
    });
    assert!(
        exited.success(),
        "{exited}: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// An answer that reaches the gateway after a restart still finds its
/// request: `xoev-gateway run` with the embedded store keeps forwarded
/// requests in the store's directory (`cases.jsonl`), not in memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_after_a_restart_finds_its_request() {
    let work = tempfile::tempdir().expect("tmp");
    let (demo, prefix, store, config) = installation(work.path(), "restart").await;
    let transport = connect(&demo, &prefix).await;
    let tax_inbox = demo.inbox(TAX_OFFICE).expect("tax inbox");
    let fee_inbox = demo.inbox(FEE_OFFICE).expect("fee inbox");

    // the request is forwarded by the first instance ...
    let log = work.path().join("gateway-1.log");
    let mut first = spawn_run(&config, &log, &[]);
    let fee = demo.fee_office().expect("fee office");
    let (request_id, request) = fee.request().expect("request");
    transport
        .publish(Envelope::new(Target::Inbound, request_id.clone(), request))
        .await
        .expect("publish");
    assert!(
        wait_depth(&transport, &tax_inbox, 1).await,
        "not forwarded: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // ... which then stops (an update, say) before the tax office answers
    stop_run(&mut first, &log).await;
    assert!(store.join(xoev_gateway::cases::CASES_FILE).is_file());

    // the answer reaches a new instance
    let log = work.path().join("gateway-2.log");
    let mut second = spawn_run(&config, &log, &[]);
    let tax = Arc::new(demo.tax_office().expect("tax office"));
    let t: Arc<dyn Transport> = transport.clone();
    let answered = serve_tax_office(tax, t, &tax_inbox, Some(1))
        .await
        .expect("tax office");
    assert_eq!(answered, 1);
    let mut inbox = transport.consume(&fee_inbox, 4).await.expect("consume");
    let d = match tokio::time::timeout(Duration::from_secs(30), inbox.next()).await {
        Ok(Some(Ok(d))) => d,
        other => panic!(
            "no answer in the fee office's inbox within 30 s ({:?}): {}",
            other.map(|o| o.map(|r| r.map(|d| d.properties))),
            std::fs::read_to_string(&log).unwrap_or_default()
        ),
    };
    assert_eq!(
        d.properties.correlation_id.as_deref(),
        Some(request_id.as_str())
    );
    let answer = d.payload.to_vec();
    d.ack().await.expect("ack");
    let message =
        xoev_core::Message::parse(answer.clone(), &xoev_core::Limits::default()).expect("parse");
    assert_eq!(
        message.root.local_name, "DE.EvidenceResponse.0102",
        "not the evidence but {}",
        message.root.local_name
    );
    fee.check_answer(&answer).expect("signed by the gateway");

    // beside the running instance, `run --check` only reads the store, and
    // a second `run` on the same directory is refused
    let gateway = |args: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_xoev-gateway"));
        command
            .args(args)
            .arg("--config")
            .arg(&config)
            .env(
                "XOEV_CITIZEN_SECRET",
                String::from_utf8_lossy(demo::DEMO_SECRET).as_ref(),
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().expect("xoev-gateway");
        // a `run` that was not refused would consume until stopped
        let mut waited = 0;
        while child.try_wait().expect("wait").is_none() && waited < 300 {
            std::thread::sleep(Duration::from_millis(100));
            waited += 1;
        }
        let _ = child.kill();
        child.wait_with_output().expect("output")
    };
    let check = gateway(&["run", "--check"]);
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let third = gateway(&["run"]);
    let err = String::from_utf8_lossy(&third.stderr);
    assert_eq!(third.status.code(), Some(2), "{err}");
    assert!(err.contains("in use by another gateway instance"), "{err}");
    stop_run(&mut second, &log).await;

    let _ = transport.delete_topology().await;
    transport.close().await;
}

/// The installation's topology on the real RabbitMQ.
async fn connect(demo: &demo::Demo, prefix: &str) -> Arc<AmqpTransport> {
    let topology = TopologyConfig::with_prefix(prefix).with_inboxes(
        demo.pipeline
            .router
            .directory()
            .inboxes()
            .map(str::to_owned),
    );
    Arc::new(
        AmqpTransport::connect(&amqp_url(), topology)
            .await
            .expect("RabbitMQ at 127.0.0.1:5672"),
    )
}

/// Whether `queue` holds `want` messages within 15 s.
async fn wait_depth(transport: &AmqpTransport, queue: &str, want: u32) -> bool {
    for _ in 0..150 {
        if transport.queue_depth(queue).await.expect("depth") == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// The demo under a unique queue prefix (`xoev-test-<tag>-…`) and an
/// installation of it for `xoev-gateway run` in `work/install` (embedded
/// store in `work/demo/audit`): the demo, the prefix, the store directory
/// and the configuration file.
async fn installation(work: &std::path::Path, tag: &str) -> (demo::Demo, String, PathBuf, PathBuf) {
    let prefix = format!("xoev-test-{tag}-{}", uuid::Uuid::new_v4().simple());
    let mut o = DemoOptions::new(root(), work.join("demo"));
    o.inbox_prefix = Some(prefix.clone());
    let demo = demo::setup(o).await.expect("demo setup");
    let store = work.join("demo/audit");
    let config = demo
        .write_installation(
            &work.join("install"),
            &demo::Services {
                amqp_url: &amqp_url(),
                prefix: &prefix,
                audit_store: &store.to_string_lossy(),
                pg_schema: None,
                retry_delay_ms: 5000,
            },
        )
        .expect("installation");
    (demo, prefix, store, config)
}

/// Revoking an authority on a running gateway: `keys revoke` writes the
/// demo CA's CRL into the trust directory, SIGHUP makes `xoev-gateway run`
/// load it, and the fee office's next request is dead-lettered as
/// `revoked-certificate` and answered with a signed rejection — no restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crl_put_into_the_trust_directory_refuses_the_revoked_sender_without_a_restart() {
    let work = tempfile::tempdir().expect("tmp");
    let (demo, prefix, _store, config) = installation(work.path(), "crl").await;
    let install = work.path().join("install");
    let transport = connect(&demo, &prefix).await;
    let tax_inbox = demo.inbox(TAX_OFFICE).expect("tax inbox");
    let fee_inbox = demo.inbox(FEE_OFFICE).expect("fee inbox");
    let dead_letters = transport.topology().dead_letter_queue.clone();
    let log = work.path().join("gateway.log");
    let mut gateway = spawn_run(&config, &log, &[("XOEV_LOG", "info")]);
    let fee = demo.fee_office().expect("fee office");

    let (first_id, first) = fee.request().expect("request");
    transport
        .publish(Envelope::new(Target::Inbound, first_id, first))
        .await
        .expect("publish");
    assert!(
        wait_depth(&transport, &tax_inbox, 1).await,
        "not forwarded: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    // The operator revokes the fee office's certificate and tells the gateway.
    let fee_cert = install.join(format!("certs/{}.pem", FEE_OFFICE.replace(':', "-")));
    let revoke = std::process::Command::new(env!("CARGO_BIN_EXE_xoev-gateway"))
        .args(["keys", "revoke", "--ca-key"])
        .arg(install.join("keys/demo-ca.key.pem"))
        .arg("--ca-cert")
        .arg(install.join("keys/demo-ca.cert.pem"))
        .arg("--out")
        .arg(install.join("trust/ca.crl"))
        .arg(&fee_cert)
        .output()
        .expect("keys revoke");
    assert!(
        revoke.status.success(),
        "{}",
        String::from_utf8_lossy(&revoke.stderr)
    );
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &gateway.id().to_string()])
        .status()
        .expect("kill");
    assert!(hup.success());
    let mut replaced = false;
    for _ in 0..100 {
        if std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("trust store replaced")
        {
            replaced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        replaced,
        "no reload after SIGHUP: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    let (second_id, second) = fee.request().expect("request");
    transport
        .publish(Envelope::new(Target::Inbound, second_id.clone(), second))
        .await
        .expect("publish");
    let mut dlq = transport.consume(&dead_letters, 4).await.expect("consume");
    let dead = match tokio::time::timeout(Duration::from_secs(30), dlq.next()).await {
        Ok(Some(Ok(d))) => d,
        _ => panic!(
            "no dead letter within 30 s: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        ),
    };
    assert_eq!(
        dead.properties.message_id.as_deref(),
        Some(second_id.as_str())
    );
    assert_eq!(
        dead.properties.header("x-xoev-reason-kind"),
        Some("revoked-certificate"),
        "{:?}",
        dead.properties.headers
    );
    dead.ack().await.expect("ack");
    let mut inbox = transport.consume(&fee_inbox, 4).await.expect("consume");
    let answer = match tokio::time::timeout(Duration::from_secs(30), inbox.next()).await {
        Ok(Some(Ok(d))) => d,
        _ => panic!("no rejection in the fee office's inbox"),
    };
    assert_eq!(
        answer.properties.correlation_id.as_deref(),
        Some(second_id.as_str())
    );
    let text = String::from_utf8_lossy(&answer.payload).into_owned();
    assert!(
        text.contains("<gw:grund>revoked-certificate</gw:grund>"),
        "{text}"
    );
    fee.check_answer(&answer.payload)
        .expect("the rejection is signed by the gateway");
    answer.ack().await.expect("ack");
    // The request forwarded before the revocation stays where it was.
    assert!(wait_depth(&transport, &tax_inbox, 1).await);

    // `run --check` lists the CRL; one past its next update is a warning
    // (the other authorities' traffic must not stop at a restart).
    let check = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_xoev-gateway"))
            .args(["run", "--check", "--config"])
            .arg(&config)
            .env(
                "XOEV_CITIZEN_SECRET",
                String::from_utf8_lossy(demo::DEMO_SECRET).as_ref(),
            )
            .output()
            .expect("run --check")
    };
    let o = check();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("revocation: if-published (1 CRLs)"), "{out}");
    assert!(out.contains(" with ecdsa-sha256"), "{out}");
    // 7d 0h when checked within the second the CRL was written, else 6d 23h.
    assert!(
        out.contains("revokes 1 certificates; next update due in 7d 0h")
            || out.contains("revokes 1 certificates; next update due in 6d 23h"),
        "{out}"
    );
    let renew = std::process::Command::new(env!("CARGO_BIN_EXE_xoev-gateway"))
        .args(["keys", "revoke", "--days", "0", "--ca-key"])
        .arg(install.join("keys/demo-ca.key.pem"))
        .arg("--ca-cert")
        .arg(install.join("keys/demo-ca.cert.pem"))
        .arg("--out")
        .arg(install.join("trust/ca.crl"))
        .output()
        .expect("keys revoke");
    assert!(renew.status.success());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let o = check();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("revokes 1 certificates; EXPIRED"), "{out}");
    assert!(err.contains("warning: the CRL"), "{err}");

    // A signature algorithm that does not fit the gateway's (EC) key is
    // refused by the check, by name.
    let text = std::fs::read_to_string(&config).expect("config");
    let pss = text.replacen(
        "[signing]\n",
        "[signing]\nalgorithm = \"rsa-pss-sha256\"\n",
        1,
    );
    assert_ne!(pss, text);
    std::fs::write(&config, pss).expect("write");
    let o = check();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success());
    assert!(
        err.contains("signing.algorithm \"rsa-pss-sha256\""),
        "{err}"
    );
    assert!(err.contains("needs an RSA key"), "{err}");
    std::fs::write(&config, text).expect("restore");

    stop_run(&mut gateway, &log).await;
    let _ = transport.delete_topology().await;
    transport.close().await;
}
