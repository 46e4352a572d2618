//! Slow and broken clients against the HTTP API on a real socket
//! (`http::serve`): a client that sends its headers slowly or keeps an
//! idle connection open is cut off after the header timeout, a body that
//! does not arrive in time is answered 408 `body-timeout`, a body broken
//! off is 400 `body-unreadable`, and shutdown does not wait for idle
//! connections. The broker is not involved (no message gets through), so
//! the in-process transport stands in.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use xoev_gateway::demo::{self, DemoOptions, FEE_OFFICE};
use xoev_gateway::http::auth::AuthorityTokens;
use xoev_gateway::http::{self, AppState, HttpOptions, Timeouts};
use xoev_transport::{MemoryTransport, TopologyConfig, Transport};

const FEE_TOKEN: &str = "fee-office-token-timeout-test";

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// A running server with `timeouts`; dropping `stop` shuts it down.
struct Server {
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _work: tempfile::TempDir,
}

async fn start(timeouts: Timeouts) -> Server {
    let work = tempfile::tempdir().expect("tmp");
    let demo = demo::setup(DemoOptions::new(root(), work.path()))
        .await
        .expect("demo setup");
    let transport: Arc<dyn Transport> =
        Arc::new(MemoryTransport::new(TopologyConfig::with_prefix("xoev")));
    let mut tokens = AuthorityTokens::default();
    tokens.insert_token(FEE_OFFICE, FEE_TOKEN);
    let state = AppState::new(
        demo.pipeline.clone(),
        transport,
        HttpOptions {
            lease: Duration::from_secs(60),
            tokens,
            citizens: None,
            names: xoev_audit::Names::default(),
            timeouts,
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(http::serve(listener, state, async {
        let _ = stopped.await;
    }));
    Server {
        addr,
        stop,
        task,
        _work: work,
    }
}

fn short(header: u64, body: u64) -> Timeouts {
    Timeouts {
        header: Duration::from_secs(header),
        body: Duration::from_secs(body),
        drain: Duration::from_secs(5),
    }
}

/// Reads until the server closes the connection (or `limit` passes: then
/// panics). Returns what was read and when the close came.
async fn read_to_close(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => panic!(
                "the server kept the connection open for {limit:?}; read so far: {}",
                String::from_utf8_lossy(&got)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
    (
        String::from_utf8_lossy(&got).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn headers_sent_slowly_are_cut_off_after_the_header_timeout() {
    let server = start(short(1, 30)).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    // the request line and one header, then nothing: a slowloris client
    stream
        .write_all(b"POST /messages HTTP/1.1\r\nHost: gateway\r\n")
        .await
        .expect("write");
    let (answer, after) = read_to_close(&mut stream, Duration::from_secs(10)).await;
    assert!(
        after >= Duration::from_millis(900),
        "closed before the timeout: {after:?}"
    );
    assert!(
        !answer.contains("HTTP/1.1 2"),
        "no request was made, yet: {answer}"
    );
    let _ = server.stop.send(());
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let server = start(short(1, 30)).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
        .await
        .expect("write");
    // the answer comes, the connection stays open (keep-alive), then closes
    let (answer, after) = read_to_close(&mut stream, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        after >= Duration::from_millis(900),
        "closed before the timeout: {after:?}"
    );
    let _ = server.stop.send(());
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_408_body_timeout() {
    let server = start(short(30, 1)).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let head = format!(
        "POST /messages HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {FEE_TOKEN}\r\n\
         Content-Type: application/xml\r\nContent-Length: 5000\r\n\r\n<?xml version=\"1.0\"?>"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let started = Instant::now();
    let mut buf = vec![0u8; 8192];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
        .await
        .expect("an answer within 10 s")
        .expect("read");
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"kind\":\"body-timeout\""), "{answer}");
    assert!(answer.contains("within 1 s"), "{answer}");
    assert!(started.elapsed() >= Duration::from_millis(900));
    let _ = server.stop.send(());
}

#[tokio::test]
async fn a_body_broken_off_is_400_body_unreadable() {
    let server = start(short(30, 30)).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    // chunked, with a chunk size that is not hexadecimal: hyper's body
    // decoder fails; the handler says so instead of "oversize"
    let head = format!(
        "POST /messages HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {FEE_TOKEN}\r\n\
         Content-Type: application/xml\r\nTransfer-Encoding: chunked\r\n\r\n\
         5\r\n<?xml\r\nzz\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let (answer, _) = read_to_close(&mut stream, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("\"kind\":\"body-unreadable\""), "{answer}");
    let _ = server.stop.send(());
}

#[tokio::test]
async fn shutdown_does_not_wait_for_idle_connections() {
    // a long header timeout: only the shutdown can close the connection
    let server = start(short(600, 600)).await;
    let mut idle = TcpStream::connect(server.addr).await.expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 4096];
    let n = idle.read(&mut buf).await.expect("read");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let started = Instant::now();
    server.stop.send(()).expect("stop");
    tokio::time::timeout(Duration::from_secs(4), server.task)
        .await
        .expect("serve returned before the drain timeout")
        .expect("join")
        .expect("serve");
    assert!(started.elapsed() < Duration::from_secs(4));
    let (_, _) = read_to_close(&mut idle, Duration::from_secs(2)).await;
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "the listener is closed"
    );
}
