//! `consent` and `audit` as a user runs them, against the embedded store and
//! PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use xoev_audit::{AccessLog, CitizenRef, FileStore, NewEntry, Outcome, PgStore};

const SECRET: &str = "cli test secret, long enough";
const TAX_ID: &str = "45678901234";
const EVIDENCE: &str = "https://sr.oots.tech.ec.europa.eu/evidencetypeclassifications/ec/PLACEHOLDER-income-tax-assessment";
const PURPOSE: &str = "urn:xoev-gateway:zweck:kita-beitrag";
const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn gateway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xoev-gateway"))
        .args(args)
        .current_dir(root())
        .env("XOEV_CITIZEN_SECRET", SECRET)
        .env_remove("XOEV_AUDIT_STORE")
        .env_remove("XOEV_AUDIT_NAMES")
        .env_remove("XOEV_AUDIT_PG_SCHEMA")
        .output()
        .expect("run xoev-gateway")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn citizen() -> CitizenRef {
    let secret = xoev_audit::CitizenSecret::new(SECRET.as_bytes().to_vec()).expect("secret");
    CitizenRef::from_tax_id(TAX_ID, &secret).expect("ref")
}

/// The demo case's three steps: requested, forwarded, answered.
async fn demo_exchange(log: &dyn AccessLog) {
    let step = |outcome: Outcome, answerer: Option<&str>, answer: Option<&str>| NewEntry {
        citizen: citizen(),
        requester: "ags:09162000".into(),
        answerer: answerer.map(String::from),
        evidence_type: EVIDENCE.into(),
        period: Some("2024".into()),
        purpose: PURPOSE.into(),
        consent: Some("C-123".into()),
        outcome,
        request_message_id: "7a1c2b7e-8a44-4d0e-9b7a-0c5e2d9f2022".into(),
        answer_message_id: answer.map(String::from),
    };
    log.append(step(Outcome::Requested, None, None))
        .await
        .expect("append");
    log.append(step(Outcome::Forwarded, Some("fa:9198"), None))
        .await
        .expect("append");
    log.append(step(Outcome::Answered, Some("fa:9198"), Some("ans-1")))
        .await
        .expect("append");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn consent_commands_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().to_str().expect("utf-8 path");
    let add = |id: &str| {
        gateway(&[
            "consent",
            "add",
            "--store",
            store,
            "--tax-id",
            TAX_ID,
            "--id",
            id,
            "--requester",
            "ags:09162000",
            "--evidence-type",
            EVIDENCE,
            "--purpose",
            PURPOSE,
            "--from",
            "2026-01-01T00:00:00Z",
            "--until",
            "2027-01-01T00:00:00+01:00",
        ])
    };
    let o = add("C-123");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout(&o).starts_with("registered: C-123"),
        "{}",
        stdout(&o)
    );
    let o = add("C-123");
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("[duplicate-consent]"), "{}", stdout(&o));

    let r = citizen().to_string();
    let o = gateway(&[
        "consent",
        "list",
        "--store",
        store,
        "--citizen",
        &r,
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v[0]["id"], "C-123");
    assert_eq!(v[0]["valid_until"], "2026-12-31T23:00:00.000000Z");
    // The tax id is nowhere in the store.
    let stored = std::fs::read_to_string(dir.path().join("consents.jsonl")).expect("read");
    assert!(!stored.contains(TAX_ID));

    let o = gateway(&[
        "consent",
        "revoke",
        "--store",
        store,
        "--citizen",
        &r,
        "C-123",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let o = gateway(&[
        "consent",
        "revoke",
        "--store",
        store,
        "--citizen",
        &r,
        "C-123",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["kind"], "consent-already-revoked");
    let o = gateway(&[
        "consent",
        "revoke",
        "--store",
        store,
        "--citizen",
        &r,
        "C-999",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("[unknown-consent]"));

    // A store that does not exist is an error, not an empty log.
    let missing = dir.path().join("typo");
    let missing = missing.to_str().expect("utf-8 path");
    let o = gateway(&["audit", "verify", "--store", missing]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no store directory"));
    assert!(!dir.path().join("typo").exists());

    // Usage errors exit 2.
    let o = gateway(&[
        "consent",
        "list",
        "--store",
        store,
        "--citizen",
        "not-a-ref",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = gateway(&["consent", "list", "--store", store]);
    assert_eq!(o.status.code(), Some(2), "a citizen is required");
}

#[test]
fn citizen_view_of_the_demo_case() {
    let dir = tempfile::tempdir().expect("tempdir");
    runtime().block_on(demo_exchange(&FileStore::open(dir.path()).expect("open")));
    let store = dir.path().to_str().expect("utf-8 path");
    let o = gateway(&[
        "audit",
        "show",
        "--store",
        store,
        "--tax-id",
        TAX_ID,
        "--names",
        "config/citizen-view.toml",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = stdout(&o);
    let (when, rest) = text
        .strip_prefix("On ")
        .and_then(|t| t.split_once(" UTC, "))
        .expect("a sentence with a time");
    assert_eq!(when.len(), "2026-03-01 at 10:15".len(), "{when}");
    assert_eq!(
        rest,
        "Stadt Musterstadt, Kita-Gebührenstelle asked Finanzamt Musterstadt for your \
         income-tax assessment data of 2024 for the purpose 'Kita fee assessment' \
         (consent C-123). Answered: yes.\n"
    );

    let o = gateway(&[
        "audit",
        "show",
        "--store",
        store,
        "--citizen",
        &citizen().to_string(),
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["chain_intact"], true);
    assert_eq!(v["events"][0]["answerer"], "fa:9198");
    assert_eq!(v["events"][0]["entries"], serde_json::json!([1, 2, 3]));

    // Another citizen sees nothing.
    let o = gateway(&[
        "audit",
        "show",
        "--store",
        store,
        "--citizen",
        "0123456789abcdef0123456789abcdef",
    ]);
    assert_eq!(
        stdout(&o),
        "No authority has asked the gateway for your data.\n"
    );
}

fn edit_line(path: &Path, n: usize, f: impl Fn(&str) -> Option<String>) {
    let text = std::fs::read_to_string(path).expect("read");
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let kept = if i + 1 == n {
            f(line)
        } else {
            Some(line.to_owned())
        };
        if let Some(l) = kept {
            out.push_str(&l);
            out.push('\n');
        }
    }
    std::fs::write(path, out).expect("write");
}

#[test]
fn verify_names_the_first_broken_entry_embedded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fs = FileStore::open(dir.path()).expect("open");
    runtime().block_on(async {
        demo_exchange(&fs).await;
        demo_exchange(&fs).await;
    });
    let store = dir.path().to_str().expect("utf-8 path");
    let o = gateway(&["audit", "verify", "--store", store]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).starts_with("ok: 6 entries, head 6:"),
        "{}",
        stdout(&o)
    );
    let head = stdout(&o)
        .trim()
        .rsplit(' ')
        .next()
        .expect("head")
        .to_owned();

    // Edit entry 2: "answered" instead of "forwarded".
    edit_line(&fs.log_path(), 2, |l| {
        Some(l.replace("\"forwarded\"", "\"answered\""))
    });
    let o = gateway(&["audit", "verify", "--store", store]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).starts_with("broken: entry 2: hash-mismatch:"),
        "{}",
        stdout(&o)
    );
    let o = gateway(&[
        "audit",
        "show",
        "--store",
        store,
        "--citizen",
        &citizen().to_string(),
    ]);
    assert!(stdout(&o).contains("Warning: the access log has been tampered with"));

    // Remove entry 5 (after restoring entry 2).
    edit_line(&fs.log_path(), 2, |l| {
        Some(l.replace("\"answered\"", "\"forwarded\""))
    });
    edit_line(&fs.log_path(), 5, |_| None);
    let o = gateway(&["audit", "verify", "--store", store, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["first_break"]["seq"], 6);
    assert_eq!(v["first_break"]["kind"], "seq-gap");

    // Remove the tail instead: only the noted head reveals it.
    edit_line(&fs.log_path(), 5, |_| None);
    let o = gateway(&["audit", "verify", "--store", store]);
    assert_eq!(o.status.code(), Some(0));
    let o = gateway(&["audit", "verify", "--store", store, "--expect-head", &head]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).starts_with("broken: entry 5: truncated:"),
        "{}",
        stdout(&o)
    );
    let o = gateway(&[
        "audit",
        "verify",
        "--store",
        store,
        "--expect-head",
        "6:xyz",
    ]);
    assert_eq!(o.status.code(), Some(2), "malformed head is a usage error");
}

#[test]
fn verify_names_the_first_broken_entry_postgres() {
    let schema = format!("xoev_audit_cli_{}", std::process::id());
    let rt = runtime();
    let pg = rt.block_on(async {
        let pg = PgStore::connect(PG_URL, &schema)
            .await
            .expect("PostgreSQL at 127.0.0.1:5432");
        demo_exchange(&pg).await;
        pg
    });
    let o = gateway(&["audit", "verify", "--store", PG_URL, "--pg-schema", &schema]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout(&o).starts_with("ok: 3 entries"), "{}", stdout(&o));
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(PG_URL, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        client
            .batch_execute(&format!("DELETE FROM {schema}.access_log WHERE seq = 2"))
            .await
            .expect("delete");
    });
    let o = gateway(&["audit", "verify", "--store", PG_URL, "--pg-schema", &schema]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).starts_with("broken: entry 3: seq-gap:"),
        "{}",
        stdout(&o)
    );
    rt.block_on(pg.drop_schema()).expect("cleanup");
}

/// `cases open` lists the requests a running gateway forwarded that no
/// answer has claimed, oldest first, without personal data; `--older-than`
/// filters by age, a bad age is a usage error.
#[test]
fn cases_open_lists_the_requests_still_waiting() {
    use xoev_gateway::cases::{CaseStore, FileCases};
    let dir = tempfile::tempdir().expect("tempdir");
    let request = std::fs::read(root().join(xoev_gateway::demo::REQUEST)).expect("request");
    let facts = xoev_adapters::RequestFacts {
        forwarded_to: Some("fa:2613".into()),
        ..xoev_adapters::RequestFacts::from_xnachweis(&request).expect("facts")
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    // the store stays open (locked) as in a running gateway
    let store = FileCases::open(dir.path()).expect("open");
    rt.block_on(async {
        store.put_request("sent-1", &facts).await.expect("put");
        store.put_request("sent-2", &facts).await.expect("put");
        store
            .claim_request("sent-2", "answer-2", "fa:2613")
            .await
            .expect("claim");
        store.flush().await.expect("flush");
    });
    let path = dir.path().to_str().expect("utf-8");

    let o = gateway(&["cases", "open", "--store", path]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let text = stdout(&o);
    assert!(
        text.contains("sent-1") && !text.contains("sent-2"),
        "{text}"
    );
    assert!(
        text.contains("ags:06611000") && text.contains("fa:2613"),
        "{text}"
    );
    assert!(text.contains("1 open request(s)"), "{text}");
    assert!(!text.contains(&facts.tax_id), "{text}");

    let o = gateway(&["--format", "json", "cases", "open", "--store", path]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v[0]["forwarded_id"], "sent-1");
    assert_eq!(v[0]["case_id"], facts.message_id.as_str());

    // just forwarded: not older than an hour
    let o = gateway(&["cases", "open", "--store", path, "--older-than", "1h"]);
    assert!(stdout(&o).contains("no open requests"), "{}", stdout(&o));
    let o = gateway(&["cases", "open", "--store", path, "--older-than", "1w"]);
    assert_eq!(o.status.code(), Some(2), "a usage error: {o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("the unit is s, m, h or d"));
    // a mistyped directory is not an empty store
    let o = gateway(&["cases", "open", "--store", &format!("{path}/nope")]);
    assert_ne!(o.status.code(), Some(0), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no store directory"),
        "{o:?}"
    );
    drop(store);
}

/// The citizen view names the directory's authorities by their directory
/// ids: every authority it names is in `routing/authorities.toml` under
/// that name, and every authority there (the gateway aside) has a name in
/// it — else a citizen reads "asked fa:2613" instead of the office.
#[test]
fn the_citizen_views_names_follow_the_directory() {
    let read = |rel: &str| -> toml::Table {
        let text = std::fs::read_to_string(root().join(rel)).expect(rel);
        text.parse().unwrap_or_else(|e| panic!("{rel}: {e}"))
    };
    let view = read("config/citizen-view.toml");
    let names = view["authorities"].as_table().expect("[authorities]");
    let directory = read("routing/authorities.toml");
    let authorities = directory["authority"].as_array().expect("[[authority]]");
    let mut listed = std::collections::BTreeMap::new();
    for a in authorities {
        let id = a["id"].as_str().expect("id");
        let name = a["name"].as_str().expect("name");
        listed.insert(id.to_owned(), name.to_owned());
    }
    for (id, name) in names {
        assert_eq!(
            listed.get(id).map(String::as_str),
            name.as_str(),
            "{id} in config/citizen-view.toml"
        );
    }
    for id in listed.keys().filter(|id| *id != "xoev:gateway") {
        assert!(
            names.contains_key(id),
            "{id} has no name in the citizen view"
        );
    }
}
