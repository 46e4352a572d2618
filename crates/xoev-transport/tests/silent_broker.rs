//! A broker that completes the AMQP handshake and then answers nothing (a
//! RabbitMQ still starting, or overloaded): connecting must fail after the
//! connect timeout instead of hanging with the connection lock held.
//!
//! The "broker" is a few lines of AMQP 0-9-1 framing on a local socket —
//! the real RabbitMQ cannot be made to behave like this on purpose.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use xoev_transport::{AmqpTransport, TopologyConfig, TransportErrorKind};

/// One method frame on channel 0: class, method, arguments.
fn method(class: u16, id: u16, args: &[u8]) -> Vec<u8> {
    let mut payload = Vec::new();
    payload.extend_from_slice(&class.to_be_bytes());
    payload.extend_from_slice(&id.to_be_bytes());
    payload.extend_from_slice(args);
    let mut frame = vec![1u8, 0, 0];
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(&payload);
    frame.push(0xCE);
    frame
}

fn long_string(s: &str) -> Vec<u8> {
    let mut v = (s.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(s.as_bytes());
    v
}

/// Reads one frame; returns (class, method) of a method frame.
async fn read_frame(s: &mut TcpStream) -> Option<(u16, u16)> {
    let mut header = [0u8; 7];
    s.read_exact(&mut header).await.ok()?;
    let size = u32::from_be_bytes([header[3], header[4], header[5], header[6]]) as usize;
    let mut body = vec![0u8; size + 1];
    s.read_exact(&mut body).await.ok()?;
    (header[0] == 1 && size >= 4).then(|| {
        (
            u16::from_be_bytes([body[0], body[1]]),
            u16::from_be_bytes([body[2], body[3]]),
        )
    })
}

/// Accepts one client, completes the handshake, then reads and ignores
/// everything (channel.open is never answered).
async fn silent_broker(listener: TcpListener) {
    let (mut s, _) = listener.accept().await.expect("accept");
    let mut protocol = [0u8; 8];
    s.read_exact(&mut protocol).await.expect("protocol header");
    assert_eq!(&protocol[..4], b"AMQP");
    let mut start = vec![0u8, 9]; // version 0-9
    start.extend_from_slice(&0u32.to_be_bytes()); // server properties: none
    start.extend(long_string("PLAIN"));
    start.extend(long_string("en_US"));
    s.write_all(&method(10, 10, &start)).await.expect("start");
    assert_eq!(read_frame(&mut s).await, Some((10, 11)), "start-ok");
    let mut tune = 2047u16.to_be_bytes().to_vec();
    tune.extend_from_slice(&131_072u32.to_be_bytes());
    tune.extend_from_slice(&0u16.to_be_bytes());
    s.write_all(&method(10, 30, &tune)).await.expect("tune");
    // tune-ok, then connection.open
    while let Some(m) = read_frame(&mut s).await {
        if m == (10, 40) {
            s.write_all(&method(10, 41, &[0])).await.expect("open-ok");
            break;
        }
    }
    // From here on: silence.
    while read_frame(&mut s).await.is_some() {}
}

#[tokio::test]
async fn a_broker_that_stops_answering_after_the_handshake_fails_the_connect() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let broker = tokio::spawn(silent_broker(listener));
    let started = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        AmqpTransport::connect(
            &format!("amqp://guest:guest@127.0.0.1:{port}/%2f"),
            TopologyConfig::with_prefix("xoev-silent"),
        ),
    )
    .await
    .expect("connect must give up instead of hanging");
    let err = match result {
        Ok(_) => panic!("connected to a broker that never opened a channel"),
        Err(e) => e,
    };
    assert_eq!(err.kind, TransportErrorKind::Connection, "{err}");
    assert!(err.to_string().contains("no answer within"), "{err}");
    assert!(started.elapsed() >= Duration::from_secs(5), "it did wait");
    broker.abort();
}
