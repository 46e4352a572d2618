//! The operations endpoints and the ops page against the real RabbitMQ
//! (127.0.0.1:5672, management API on 15672; `XOEV_TEST_AMQP` /
//! `XOEV_MANAGEMENT_URL` override), served by the gateway's HTTP app on a
//! real socket.
//!
//! - `ops_api_*`: authentication, filters, show, replay, purge over HTTP.
//! - `ops_page_in_headless_chromium`: Debian's `chromium` (headless, driven
//!   over the DevTools protocol) loads `/ops`, sees two dead letters with
//!   their reasons (one reason is HTML, which must show as text), a mouse
//!   click on one Replay button replays exactly that message once, and the
//!   page then lists only the other. Screenshots go to
//!   `target/ops-page.png` and `target/ops-page-replayed.png`. Without a
//!   `chromium` binary (or `XOEV_CHROMIUM`) this test says so and skips.
//!
//! Each test uses its own queue prefix and deletes its topology afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use xoev_gateway::demo::{self, DemoOptions};
use xoev_gateway::http::auth::AuthorityTokens;
use xoev_gateway::http::ops::OpsAccess;
use xoev_gateway::http::{self, AppState, HttpOptions};
use xoev_ops::{Filter, Ops, OpsConfig};
use xoev_transport::{AmqpTransport, Envelope, Target, TopologyConfig, Transport, header};

const OPS_TOKEN: &str = "ops-token-for-the-browser-test";

/// A reason that would run script if the page put it in as HTML.
const HTML_REASON: &str = "<img src=x onerror=\"document.title='pwned'\"> & <b>no rule</b>";

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn amqp_url() -> String {
    std::env::var("XOEV_TEST_AMQP")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

fn management_url() -> String {
    std::env::var("XOEV_MANAGEMENT_URL").unwrap_or_else(|_| xoev_ops::DEFAULT_MANAGEMENT_URL.into())
}

/// The gateway's HTTP app with `/ops` on, over a fresh topology.
struct Gateway {
    base: String,
    prefix: String,
    transport: Arc<AmqpTransport>,
    ops: Ops,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    _work: tempfile::TempDir,
}

impl Gateway {
    async fn start(name: &str) -> Self {
        let work = tempfile::tempdir().unwrap();
        let prefix = format!(
            "xoev-test-{name}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        );
        let mut o = DemoOptions::new(root(), work.path());
        o.inbox_prefix = Some(prefix.clone());
        let demo = demo::setup(o).await.expect("demo setup");
        let inboxes: Vec<String> = demo
            .pipeline
            .router
            .directory()
            .inboxes()
            .map(str::to_owned)
            .collect();
        let mut topology = TopologyConfig::with_prefix(&prefix).with_inboxes(inboxes);
        topology.publish_timeout = Duration::from_secs(10);
        let transport = Arc::new(
            AmqpTransport::connect(&amqp_url(), topology.clone())
                .await
                .expect("RabbitMQ at 127.0.0.1:5672"),
        );
        let ops = Ops::new(
            OpsConfig::new(amqp_url(), topology)
                .with_management(Some(management_url()))
                .with_inbox_authorities(
                    demo.pipeline
                        .router
                        .directory()
                        .authorities()
                        .iter()
                        .filter_map(|a| a.inbox.clone().map(|q| (q, a.id.clone()))),
                ),
        )
        .unwrap();
        let state = AppState::new(
            demo.pipeline.clone(),
            transport.clone(),
            HttpOptions {
                lease: Duration::from_secs(60),
                tokens: AuthorityTokens::default(),
                citizens: None,
                names: xoev_audit::Names::default(),
                timeouts: Default::default(),
            },
        )
        .with_ops(OpsAccess::new(ops.clone()).with_token(OPS_TOKEN));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(http::serve(listener, state, async {
            let _ = stopped.await;
        }));
        Self {
            base,
            prefix,
            transport,
            ops,
            stop: Some(stop),
            server,
            _work: work,
        }
    }

    /// Publishes a request to the inbound exchange and dead-letters it at
    /// stage `route` with `reason`; returns its message id.
    async fn dead_letter(&self, reason_kind: &str, reason: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let env = Envelope::new(Target::Inbound, &id, "<request/>")
            .with_header(header::SENDER, "ags:09162000")
            .with_header(header::TYPE, "0101");
        self.transport.publish(env).await.unwrap();
        let q = self.transport.topology().inbound_queue.clone();
        let mut c = self.transport.consume(&q, 1).await.unwrap();
        let d = tokio::time::timeout(Duration::from_secs(10), c.next())
            .await
            .expect("inbound delivery")
            .unwrap()
            .unwrap();
        assert_eq!(d.properties.message_id.as_deref(), Some(id.as_str()));
        d.dead_letter("route", reason_kind, reason).await.unwrap();
        id
    }

    /// The message ids in the inbound queue (taken off it).
    async fn drain_inbound(&self) -> Vec<String> {
        let q = self.transport.topology().inbound_queue.clone();
        let mut c = self.transport.consume(&q, 10).await.unwrap();
        let mut ids = Vec::new();
        while let Ok(Some(d)) = tokio::time::timeout(Duration::from_secs(2), c.next()).await {
            let d = d.unwrap();
            ids.push(d.properties.message_id.clone().unwrap_or_default());
            d.ack().await.unwrap();
        }
        ids
    }

    async fn dead_letter_ids(&self) -> Vec<String> {
        let l = self
            .ops
            .dead_letters(&Filter::default(), 100)
            .await
            .unwrap();
        l.items.into_iter().map(|d| d.id).collect()
    }

    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = self.server.await;
        self.ops.close().await;
        self.transport.delete_topology().await.unwrap();
    }
}

async fn call(method: &str, url: &str, token: Option<&str>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut r = match method {
        "GET" => client.get(url),
        _ => client.post(url),
    };
    if let Some(t) = token {
        r = r.header("Authorization", format!("Bearer {t}"));
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let bytes = r.bytes().await.unwrap();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{url}: {e}: {}", String::from_utf8_lossy(&bytes)));
    (status, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_api_authenticates_lists_shows_replays_and_purges() {
    let g = Gateway::start("ops-api").await;
    let b = &g.base;
    let first = g.dead_letter("no-route", "no rule for 0101").await;
    let second = g
        .dead_letter("invalid-schema", "element x not expected")
        .await;
    let t = Some(OPS_TOKEN);

    // authentication: none, wrong, and an authority's kind of token
    for (token, kind) in [(None, "unauthenticated"), (Some("wrong"), "invalid-token")] {
        for (m, path) in [
            ("GET", "/ops/queues"),
            ("GET", "/ops/dlq"),
            ("GET", "/ops/health"),
            ("POST", "/ops/dlq/replay"),
            ("POST", "/ops/dlq/purge?confirm=yes"),
        ] {
            let (s, v) = call(m, &format!("{b}{path}"), token).await;
            assert_eq!((s, v["kind"].as_str()), (401, Some(kind)), "{m} {path}");
        }
    }
    assert_eq!(g.dead_letter_ids().await.len(), 2, "nothing happened");

    // the page and its assets need no token and hold no data
    // /metrics carries the queue figures of the operations client
    let metrics = reqwest::get(format!("{b}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    // (finding the line is the assertion)
    let _dlq_line = metrics
        .lines()
        .find(|l| l.starts_with("xoev_queue_") && l.contains(&format!("{}.dlq", g.prefix)))
        .unwrap_or_else(|| panic!("no queue figures for the DLQ in /metrics:\n{metrics}"));
    let page = reqwest::get(format!("{b}/ops")).await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    let html = page.text().await.unwrap();
    assert!(html.contains("<script src=\"/ops/ops.js\""), "{html}");
    assert!(!html.contains(OPS_TOKEN) && !html.contains(&first));

    // queues and health
    let (s, q) = call("GET", &format!("{b}/ops/queues"), t).await;
    assert_eq!(s, 200, "{q}");
    let dlq_name = g.transport.topology().dead_letter_queue.clone();
    let dlq = q["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == dlq_name.as_str())
        .unwrap_or_else(|| panic!("{q}"));
    assert_eq!(dlq["ready"], 2, "{dlq}");
    let (s, h) = call("GET", &format!("{b}/ops/health"), t).await;
    assert_eq!((s, &h["amqp"]), (200, &json!(true)), "{h}");

    // list with and without filters; bad filters and limits
    let (s, l) = call("GET", &format!("{b}/ops/dlq"), t).await;
    assert_eq!((s, &l["total"]), (200, &json!(2)), "{l}");
    assert_eq!(l["items"][0]["id"], first.as_str());
    assert_eq!(l["items"][0]["reason"], "no rule for 0101");
    assert_eq!(l["items"][1]["reason_kind"], "invalid-schema");
    let (_, l) = call("GET", &format!("{b}/ops/dlq?reason=invalid-schema"), t).await;
    let ids: Vec<&str> = l["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["id"].as_str())
        .collect();
    assert_eq!(ids, [second.as_str()]);
    for (query, kind) in [
        ("colour=red", "invalid-filter"),
        ("stage=", "invalid-filter"),
        ("limit=0", "invalid-limit"),
        ("limit=many", "invalid-limit"),
    ] {
        let (s, v) = call("GET", &format!("{b}/ops/dlq?{query}"), t).await;
        assert_eq!((s, v["kind"].as_str()), (400, Some(kind)), "{query}: {v}");
    }

    // show
    let (s, d) = call("GET", &format!("{b}/ops/dlq/{first}"), t).await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["body_text"], "<request/>");
    assert_eq!(d["stage"], "route");
    let (s, v) = call("GET", &format!("{b}/ops/dlq/no-such-id"), t).await;
    assert_eq!((s, v["kind"].as_str()), (404, Some("not-found")));
    let (s, v) = call("POST", &format!("{b}/ops/dlq/no-such-id/replay"), t).await;
    assert_eq!((s, v["kind"].as_str()), (404, Some("not-found")));

    // replay all matching a filter: only the matching one, once
    let (s, r) = call("POST", &format!("{b}/ops/dlq/replay?reason=no-route"), t).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["replayed"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["replayed"][0]["dead_letter"]["id"], first.as_str());
    assert_eq!(r["replayed"][0]["replays"], 1);
    assert_eq!(g.drain_inbound().await, [first.as_str()]);
    assert_eq!(g.dead_letter_ids().await, [second.as_str()]);
    let (s, v) = call("POST", &format!("{b}/ops/dlq/replay?bogus=1"), t).await;
    assert_eq!((s, v["kind"].as_str()), (400, Some("invalid-filter")));

    // purge needs confirm=yes
    for query in ["", "?confirm=no", "?confirm=YES"] {
        let (s, v) = call("POST", &format!("{b}/ops/dlq/purge{query}"), t).await;
        assert_eq!(
            (s, v["kind"].as_str()),
            (400, Some("confirmation-required")),
            "{query}"
        );
    }
    let (s, v) = call("POST", &format!("{b}/ops/dlq/purge?confirm=yes&all=1"), t).await;
    assert_eq!((s, v["kind"].as_str()), (400, Some("invalid-parameter")));
    assert_eq!(g.dead_letter_ids().await, [second.as_str()]);
    let (s, v) = call("POST", &format!("{b}/ops/dlq/purge?confirm=yes"), t).await;
    assert_eq!((s, &v["purged"]), (200, &json!(1)), "{v}");
    assert!(g.dead_letter_ids().await.is_empty());
    assert!(g.drain_inbound().await.is_empty(), "purge replays nothing");
    g.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_endpoints_are_off_without_ops_access() {
    let work = tempfile::tempdir().unwrap();
    let demo = demo::setup(DemoOptions::new(root(), work.path()))
        .await
        .unwrap();
    let t: Arc<dyn Transport> = Arc::new(xoev_transport::MemoryTransport::new(
        TopologyConfig::with_prefix("xoev"),
    ));
    let state = AppState::new(
        demo.pipeline.clone(),
        t,
        HttpOptions {
            lease: Duration::from_secs(60),
            tokens: AuthorityTokens::default(),
            citizens: None,
            names: xoev_audit::Names::default(),
            timeouts: Default::default(),
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, http::app(state)).await });
    let (s, v) = call("GET", &format!("{base}/ops/dlq"), Some(OPS_TOKEN)).await;
    assert_eq!((s, v["kind"].as_str()), (503, Some("ops-disabled")));
    server.abort();
}

// ---------------------------------------------------------------------------
// The browser

fn chromium() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("XOEV_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Headless Chromium with the DevTools protocol on a free port.
struct Browser {
    child: Child,
    ws_url: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start(binary: &PathBuf) -> Self {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1400,1000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            // its own scratch directories go with the profile
            .env("TMPDIR", profile.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Chromium prints "DevTools listening on ws://…" on stderr.
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("DevTools listening on ")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let ws_url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("chromium printed its DevTools address");
        Self {
            child,
            ws_url,
            _profile: profile,
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A minimal DevTools protocol client: one page session over the browser's
/// websocket (flattened sessions).
struct Cdp {
    ws: Ws,
    next: u64,
    session: Option<String>,
}

impl Cdp {
    async fn connect(url: &str) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        Self {
            ws,
            next: 0,
            session: None,
        }
    }

    async fn call(&mut self, method: &str, params: Value) -> Value {
        let v = self.call_raw(method, params).await;
        assert!(v.get("error").is_none(), "{method}: {v}");
        v["result"].clone()
    }

    /// The whole answer (`result` or `error`).
    async fn call_raw(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = &self.session {
            msg["sessionId"] = json!(s);
        }
        self.ws
            .send(Message::Text(msg.to_string().into()))
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = tokio::time::timeout(left, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("{method}: no answer"))
                .expect("websocket open")
                .unwrap();
            let Message::Text(text) = m else { continue };
            let v: Value = serde_json::from_str(text.as_str()).unwrap();
            if v["id"] == id {
                return v;
            }
        }
    }

    /// Evaluates `expression` in the page and returns its value.
    async fn eval(&mut self, expression: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        assert!(r.get("exceptionDetails").is_none(), "{expression}: {r}");
        r["result"]["value"].clone()
    }

    /// Waits until the page's `body[data-state]` is `state`.
    async fn wait_state(&mut self, state: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // While the page navigates, evaluating may fail: just try again.
            let r = self
                .call_raw(
                    "Runtime.evaluate",
                    json!({
                        "expression": "[document.body ? document.body.dataset.state : null, \
                            document.getElementById('status') ? document.getElementById('status').textContent : '']",
                        "returnByValue": true,
                    }),
                )
                .await;
            let v = &r["result"]["result"]["value"];
            let (s, status) = (v[0].clone(), v[1].clone());
            if s == state {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "page state {s}, waiting for {state}; status: {status}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn screenshot(&mut self, file: &str) -> PathBuf {
        use base64::Engine as _;
        let r = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        let dir = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root().join("target"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(file);
        std::fs::write(&path, png).unwrap();
        path
    }

    /// The text of every cell of the dead-letter table, row by row.
    async fn dead_letter_rows(&mut self) -> Vec<Vec<String>> {
        let v = self
            .eval(
                "[...document.querySelectorAll('#dlq tbody tr')]\
                 .map(tr => [...tr.cells].map(c => c.textContent))",
            )
            .await;
        serde_json::from_value(v).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_page_in_headless_chromium() {
    let Some(binary) = chromium() else {
        eprintln!(
            "SKIPPED ops_page_in_headless_chromium: no chromium binary in PATH \
             (apt-get install chromium, or set XOEV_CHROMIUM)"
        );
        return;
    };
    let g = Gateway::start("ops-page").await;
    let clicked = g.dead_letter("no-route", HTML_REASON).await;
    let other = g
        .dead_letter("invalid-schema", "element x not expected")
        .await;

    let browser = Browser::start(&binary);
    let mut cdp = Cdp::connect(&browser.ws_url).await;
    let target = cdp
        .call("Target.createTarget", json!({ "url": "about:blank" }))
        .await;
    let attached = cdp
        .call(
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        )
        .await;
    cdp.session = Some(attached["sessionId"].as_str().unwrap().to_owned());
    cdp.call("Page.enable", json!({})).await;
    cdp.call(
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": false }),
    )
    .await;

    // Without a token the page asks for one and shows no data.
    cdp.call("Page.navigate", json!({ "url": format!("{}/ops", g.base) }))
        .await;
    cdp.wait_state("login").await;
    assert_eq!(cdp.dead_letter_rows().await.len(), 0);

    // With the token (in the fragment, taken once) it lists both dead letters.
    cdp.call(
        "Page.navigate",
        json!({ "url": format!("{}/ops?x=1#token={OPS_TOKEN}", g.base) }),
    )
    .await;
    cdp.wait_state("loaded").await;
    assert_eq!(
        cdp.eval("location.hash").await,
        "",
        "token left the address bar"
    );
    let rows = cdp.dead_letter_rows().await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let row = rows.iter().find(|r| r[0] == clicked).expect("clicked row");
    assert_eq!(row[1], "ags:09162000");
    assert_eq!(row[3], "0101");
    assert_eq!(row[4], "route");
    assert_eq!(row[5], "no-route");
    assert_eq!(row[6], HTML_REASON, "the reason shows as text, unchanged");
    assert_eq!(row[10], "Replay");
    assert!(
        rows.iter()
            .any(|r| r[0] == other && r[5] == "invalid-schema")
    );
    // The HTML in the reason stayed text: no element made of it, no script ran.
    assert_eq!(
        cdp.eval("document.querySelectorAll('main img, main b').length")
            .await,
        0
    );
    assert_eq!(cdp.eval("document.title").await, "xoev-gateway operations");
    let recent = cdp
        .eval(
            "[...document.querySelectorAll('#recent tbody tr')].map(tr => tr.cells[3].textContent)",
        )
        .await;
    assert!(
        recent.as_array().unwrap().contains(&json!(HTML_REASON)),
        "{recent}"
    );
    let dlq_name = g.transport.topology().dead_letter_queue.clone();
    // (the management API samples queue figures every few seconds: reload
    // the page's data until the depth shows, for at most 15 s)
    let mut depth = Value::Null;
    for _ in 0..30 {
        depth = cdp
            .eval(&format!(
                "[...document.querySelectorAll('#queues tbody tr')]\
                 .filter(tr => tr.cells[0].textContent === {})\
                 .map(tr => tr.cells[3].textContent)",
                json!(dlq_name)
            ))
            .await;
        if depth == json!(["2"]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        cdp.eval("load().then(() => 0)").await;
    }
    assert_eq!(depth, json!(["2"]), "dead-letter queue depth on the page");
    let fa = cdp
        .eval(&format!(
            "[...document.querySelectorAll('#queues tbody tr')]\
             .filter(tr => tr.cells[0].textContent === {})\
             .map(tr => [tr.cells[1].textContent, tr.cells[2].textContent])",
            json!(format!("{}.inbox.fa-9198", g.prefix))
        ))
        .await;
    assert_eq!(
        fa,
        json!([["inbox", "fa:9198"]]),
        "inbox labelled with its authority"
    );
    assert_eq!(
        cdp.eval("document.querySelector('#health tbody tr td:nth-child(2)').textContent")
            .await,
        "ok"
    );
    let shot = cdp.screenshot("ops-page.png").await;
    eprintln!("screenshot: {}", shot.display());

    // A real mouse click on the Replay button of `clicked`.
    let at = cdp
        .eval(&format!(
            "(() => {{ const b = document.querySelector('button.replay[data-id=' + CSS.escape({}) + ']');\
             b.scrollIntoView({{block: 'center'}}); const r = b.getBoundingClientRect();\
             return {{ x: r.x + r.width / 2, y: r.y + r.height / 2 }}; }})()",
            json!(clicked)
        ))
        .await;
    for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
        cdp.call(
            "Input.dispatchMouseEvent",
            json!({ "type": kind, "x": at["x"], "y": at["y"], "button": "left", "clickCount": 1 }),
        )
        .await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = cdp
            .eval("document.getElementById('status').textContent")
            .await;
        let state = cdp.eval("document.body.dataset.state").await;
        if state == "loaded" && status.as_str().is_some_and(|s| s.starts_with("Replayed")) {
            assert_eq!(status, format!("Replayed {clicked} (1 message)."));
            break;
        }
        assert!(Instant::now() < deadline, "no replay: {state} {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rows = cdp.dead_letter_rows().await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][0], other);
    let shot = cdp.screenshot("ops-page-replayed.png").await;
    eprintln!("screenshot: {}", shot.display());

    // The broker agrees: replayed once to the inbound queue, the other stays.
    assert_eq!(g.drain_inbound().await, [clicked.as_str()]);
    assert_eq!(g.dead_letter_ids().await, [other.as_str()]);

    drop(cdp);
    drop(browser);
    g.stop().await;
}

/// `xoev-gateway run` with `[http] ops_token_sha256` and `XOEV_OPS_TOKEN`:
/// both tokens open `/ops`, built from `[amqp]` and the directory (inboxes
/// labelled with their authorities); another token does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_ops_with_the_configured_tokens() {
    use sha2::Digest as _;
    let work = tempfile::tempdir().unwrap();
    let prefix = format!(
        "xoev-test-opsrun-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    let mut o = DemoOptions::new(root(), work.path().join("demo"));
    o.inbox_prefix = Some(prefix.clone());
    let demo = demo::setup(o).await.unwrap();
    let store = work.path().join("demo/audit");
    let config = demo
        .write_installation(
            &work.path().join("install"),
            &demo::Services {
                amqp_url: &amqp_url(),
                prefix: &prefix,
                audit_store: &store.to_string_lossy(),
                pg_schema: None,
                retry_delay_ms: 1000,
            },
        )
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let (hashed, from_env) = ("ops token kept as a hash", "ops token from the environment");
    let hash = hex::encode(sha2::Sha256::digest(hashed.as_bytes()));
    let mut toml = std::fs::read_to_string(&config).unwrap();
    toml.push_str(&format!(
        "\n[http]\nlisten = \"127.0.0.1:{port}\"\nops_token_sha256 = \"{hash}\"\n"
    ));
    std::fs::write(&config, toml).unwrap();
    let log = work.path().join("gateway.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_xoev-gateway"))
        .args(["run", "--config"])
        .arg(&config)
        .env(
            "XOEV_CITIZEN_SECRET",
            String::from_utf8_lossy(demo::DEMO_SECRET).as_ref(),
        )
        .env(xoev_gateway::http::ops::OPS_TOKEN_ENV, from_env)
        .env("XOEV_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await
            && r.status().as_u16() == 200
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(up, "no healthy gateway: {}", log_text());

    for token in [hashed, from_env] {
        let (s, q) = call("GET", &format!("{base}/ops/queues"), Some(token)).await;
        assert_eq!(s, 200, "{q}");
        let inbound = format!("{prefix}.inbound");
        let queues = q["queues"].as_array().unwrap();
        assert!(queues.iter().any(|x| x["name"] == inbound.as_str()), "{q}");
        let fa = format!("{prefix}.inbox.fa-9198");
        let fa = queues.iter().find(|x| x["name"] == fa.as_str()).unwrap();
        assert_eq!(fa["authority"], "fa:9198", "{fa}");
        assert_eq!(fa["consumers"], 0);
        let (s, l) = call("GET", &format!("{base}/ops/dlq"), Some(token)).await;
        assert_eq!((s, &l["total"]), (200, &json!(0)), "{l}");
    }
    let (s, v) = call("GET", &format!("{base}/ops/dlq"), Some(&hash)).await;
    assert_eq!(
        (s, v["kind"].as_str()),
        (401, Some("invalid-token")),
        "the hash is no token"
    );

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let mut exited = None;
    for _ in 0..100 {
        if let Some(s) = child.try_wait().unwrap() {
            exited = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if exited.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    // the installation's own settings, so that the declarations match
    let installed = xoev_gateway::config::Config::load(&config).unwrap();
    let t = xoev_gateway::assemble::transport(&installed, &demo.pipeline)
        .await
        .unwrap();
    t.delete_topology().await.unwrap();
    assert!(exited.is_some_and(|s| s.success()), "{}", log_text());
}
