//! `xoev-gateway queues` and `xoev-gateway dlq …` against the real RabbitMQ
//! (127.0.0.1:5672, management API on 15672; `XOEV_AMQP_URL` /
//! `XOEV_MANAGEMENT_URL` override). The topology is declared under a unique
//! prefix with a copy of the sample routing whose inboxes carry that prefix,
//! and deleted at the end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use xoev_transport::{AmqpTransport, Envelope, Target, TopologyConfig, Transport, header};

fn url() -> String {
    std::env::var("XOEV_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The sample routing with every inbox renamed `<prefix>.inbox.…`.
fn routing_copy(dir: &Path, prefix: &str) -> Vec<String> {
    let mut inboxes = Vec::new();
    for f in ["authorities.toml", "rules.toml", "access.toml"] {
        let text = std::fs::read_to_string(repo().join("routing").join(f)).unwrap();
        let text = text.replace("\"xoev.inbox.", &format!("\"{prefix}.inbox."));
        if f == "authorities.toml" {
            for line in text.lines() {
                if let Some(q) = line.strip_prefix("inbox = \"") {
                    inboxes.push(q.trim_end_matches('"').to_owned());
                }
            }
        }
        std::fs::write(dir.join(f), text).unwrap();
    }
    inboxes
}

struct Cli {
    prefix: String,
    routing: PathBuf,
}

impl Cli {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_xoev-gateway"));
        c.args(args)
            .arg("--prefix")
            .arg(&self.prefix)
            .arg("--routing")
            .arg(&self.routing)
            .env("XOEV_AMQP_URL", url());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let out = self.run(&all);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn queue<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {report}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn queues_and_dead_letters_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let prefix = format!("xoev-test-cli-ops-{}", &id[..10]);
    let routing = dir.path().join("routing");
    std::fs::create_dir(&routing).unwrap();
    let inboxes = routing_copy(&routing, &prefix);
    assert!(inboxes.len() >= 2, "{inboxes:?}");
    let mut topology = TopologyConfig::with_prefix(&prefix).with_inboxes(inboxes.clone());
    topology.publish_timeout = Duration::from_secs(10);
    let t = AmqpTransport::connect(&url(), topology).await.unwrap();
    let cli = Cli {
        prefix: prefix.clone(),
        routing,
    };

    let inbox = format!("{prefix}.inbox.fa-9198");
    for i in 0..2 {
        t.publish(Envelope::new(
            Target::Queue(inbox.clone()),
            format!("i{i}"),
            "<i/>",
        ))
        .await
        .unwrap();
    }
    let message_id = uuid::Uuid::new_v4().to_string();
    let env = Envelope::new(Target::Inbound, &message_id, "<request/>")
        .with_header(header::SENDER, "ags:09162000")
        .with_header(header::TYPE, "0101");
    t.publish(env).await.unwrap();
    let inbound_q = t.topology().inbound_queue.clone();
    let mut inbound = t.consume(&inbound_q, 1).await.unwrap();
    let d = inbound.next().await.unwrap().unwrap();
    d.dead_letter("route", "no-route", "no rule for 0101")
        .await
        .unwrap();
    drop(inbound);

    // queues: every queue of the topology, depths as published.
    let report = cli.json(&["queues"]);
    assert_eq!(queue(&report, &inbox)["ready"], 2);
    assert_eq!(queue(&report, &inbox)["authority"], "fa:9198");
    assert_eq!(queue(&report, &format!("{prefix}.dlq"))["ready"], 1);
    assert_eq!(queue(&report, &inbound_q)["ready"], 0);
    assert_eq!(
        report["queues"].as_array().unwrap().len(),
        3 + inboxes.len()
    );
    let text = cli.run(&["queues"]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains(&inbox) && text.contains("dead-letter"),
        "{text}"
    );

    // The same from the service's configuration file (prefix, URL, routing).
    let keys = dir.path().join("keys");
    let status = Command::new(env!("CARGO_BIN_EXE_xoev-gateway"))
        .args(["keys", "generate", "--out"])
        .arg(&keys)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let config = dir.path().join("gateway.toml");
    let root = repo();
    std::fs::write(
        &config,
        format!(
            "[gateway]\nschemas = {schemas:?}\nrouting = \"routing\"\nadapters_root = {root:?}\n\
             [signing]\nkey = \"keys/authority-rsa.key.pem\"\ncert = \"keys/authority-rsa.cert.pem\"\n\
             [trust]\ndir = \"keys/trust\"\n\
             [amqp]\nurl = {url:?}\nprefix = {prefix:?}\n",
            schemas = root.join("schemas"),
            url = url(),
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xoev-gateway"))
        .args(["queues", "--format", "json", "--config"])
        .arg(&config)
        .env_remove("XOEV_AMQP_URL")
        .env_remove("XOEV_AMQP_PREFIX")
        .env_remove("XOEV_ROUTING")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from_config: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(queue(&from_config, &inbox)["ready"], 2);
    assert_eq!(
        from_config["queues"].as_array().unwrap().len(),
        3 + inboxes.len()
    );

    // --watch refreshes: one JSON document per line.
    let mut watch = cli
        .cmd(&["queues", "--watch", "1", "--format", "json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2600)).await;
    watch.kill().unwrap();
    let out = watch.wait_with_output().unwrap();
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 2, "{} refreshes", lines.len());

    // dlq list / show.
    let list = cli.json(&["dlq", "list"]);
    assert_eq!(list["total"], 1);
    let item = &list["items"][0];
    assert_eq!(item["id"], message_id.as_str());
    assert_eq!(item["stage"], "route");
    assert_eq!(item["reason_kind"], "no-route");
    assert_eq!(item["reason"], "no rule for 0101");
    assert_eq!(item["sender"], "ags:09162000");
    let filtered = cli.json(&["dlq", "list", "--filter", "stage=verify"]);
    assert_eq!(filtered["items"].as_array().unwrap().len(), 0);
    let bad = cli.run(&["dlq", "list", "--filter", "colour=red"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid-filter"));
    let shown = cli.run(&["dlq", "show", &message_id]);
    assert_eq!(shown.status.code(), Some(0));
    let shown = String::from_utf8(shown.stdout).unwrap();
    assert!(
        shown.contains("<request/>") && shown.contains("x-xoev-reason-kind"),
        "{shown}"
    );
    assert_eq!(
        cli.run(&["dlq", "show", "no-such-id"]).status.code(),
        Some(1)
    );

    // purge without --yes does nothing.
    let refused = cli.run(&["dlq", "purge"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));
    assert_eq!(t.queue_depth(&format!("{prefix}.dlq")).await.unwrap(), 1);

    // replay: once to the inbound queue, the DLQ is empty, a second replay finds nothing.
    let report = cli.json(&["dlq", "replay", &message_id]);
    assert_eq!(
        report["replayed"][0]["dead_letter"]["id"],
        message_id.as_str()
    );
    assert_eq!(report["replayed"][0]["attempts"], 1);
    assert_eq!(t.queue_depth(&inbound_q).await.unwrap(), 1);
    assert_eq!(t.queue_depth(&format!("{prefix}.dlq")).await.unwrap(), 0);
    assert_eq!(
        cli.run(&["dlq", "replay", &message_id]).status.code(),
        Some(1)
    );

    // purge --yes.
    t.publish(Envelope::new(Target::DeadLetter, "gone", "<g/>"))
        .await
        .unwrap();
    let purged = cli.json(&["dlq", "purge", "--yes"]);
    assert_eq!(purged["purged"], 1);
    assert_eq!(t.queue_depth(&format!("{prefix}.dlq")).await.unwrap(), 0);

    t.delete_topology().await.unwrap();
    t.close().await;
}

/// On a broker without the gateway's queues, `dlq` and `queues
/// --no-management` say so themselves — without lapin's error line for
/// every channel the broker closed on a passive declare (404).
#[test]
fn missing_queues_are_reported_without_lapin_noise() {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let dir = tempfile::tempdir().unwrap();
    let routing = dir.path().join("routing");
    std::fs::create_dir(&routing).unwrap();
    routing_copy(&routing, &format!("xoev-test-missing-{}", &id[..10]));
    let cli = Cli {
        prefix: format!("xoev-test-missing-{}", &id[..10]),
        routing,
    };
    let out = cli.run(&["dlq", "list"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(err.contains("unknown-queue"), "{err}");
    assert!(!err.contains("lapin"), "{err}");
    let out = cli.run(&["queues", "--no-management"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("missing (not declared on the broker)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!err.contains("lapin"), "{err}");
}
