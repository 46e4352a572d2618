//! The hash-chained access log: appends, verification, tampering in both
//! backends, concurrent appenders on PostgreSQL.

mod common;

use common::*;
use std::sync::Arc;
use xoev_audit::{AccessLog, BreakKind, ChainHead, FileStore, GENESIS_HASH, NewEntry, Outcome};

async fn append_n(log: &dyn AccessLog, n: usize) -> Vec<xoev_audit::Entry> {
    let anna = citizen("86095742719");
    let mut out = Vec::new();
    for i in 0..n {
        let outcome = if i % 2 == 0 {
            Outcome::Requested
        } else {
            Outcome::Answered
        };
        out.push(
            log.append(entry(&anna, &format!("msg-{}", i / 2), outcome))
                .await
                .expect("append"),
        );
    }
    out
}

#[tokio::test]
async fn chain_links_and_verifies_file_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileStore::open(dir.path()).expect("open");
    let empty = store.verify(None).await.expect("verify");
    assert!(empty.is_intact());
    assert_eq!(empty.entries, 0);

    let entries = append_n(&store, 5).await;
    assert_eq!(entries[0].seq, 1);
    assert_eq!(entries[0].prev_hash, GENESIS_HASH);
    for w in entries.windows(2) {
        assert_eq!(w[1].seq, w[0].seq + 1);
        assert_eq!(w[1].prev_hash, w[0].hash);
    }
    // A second handle continues the same chain (as a restarted gateway would).
    let again = FileStore::open(dir.path()).expect("reopen");
    let anna = citizen("86095742719");
    let e6 = again
        .append(entry(
            &anna,
            "msg-9",
            Outcome::Rejected("no-consent".into()),
        ))
        .await
        .expect("append");
    assert_eq!(
        (e6.seq, e6.prev_hash.as_str()),
        (6, entries[4].hash.as_str())
    );
    // And the first handle notices the other writer before its next append.
    let e7 = store
        .append(entry(&anna, "msg-10", Outcome::Requested))
        .await
        .expect("append");
    assert_eq!((e7.seq, e7.prev_hash.as_str()), (7, e6.hash.as_str()));

    let report = store.verify(None).await.expect("verify");
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries, 7);
    let exchange = store
        .entries_for_request("msg-1")
        .await
        .expect("by request");
    assert_eq!(
        exchange.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [3, 4],
        "msg-1 is entries 3 (requested) and 4 (answered)"
    );
    assert!(
        store
            .entries_for_request("nope")
            .await
            .expect("by request")
            .is_empty()
    );
    assert_eq!(report.head, Some(e7.head()));

    // Nothing but the pseudonymous reference is stored about the citizen.
    let text = std::fs::read_to_string(store.log_path()).expect("read");
    assert!(!text.contains("86095742719"));
    assert_eq!(store.entries_for(&anna).await.expect("entries").len(), 7);
    assert!(
        store
            .entries_for(&citizen("47036892816"))
            .await
            .expect("entries")
            .is_empty()
    );
}

/// Rewrites line `n` (1-based) of a file with `f`; `None` removes it.
fn edit_line(path: &std::path::Path, n: usize, f: impl Fn(&str) -> Option<String>) {
    let text = std::fs::read_to_string(path).expect("read");
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        if i + 1 == n {
            if let Some(l) = f(line) {
                out.push_str(&l);
                out.push('\n');
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    std::fs::write(path, out).expect("write");
}

#[tokio::test]
async fn tampering_is_detected_file_store() {
    // Editing one entry: the edited entry is named.
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileStore::open(dir.path()).expect("open");
    append_n(&store, 6).await;
    edit_line(&store.log_path(), 3, |l| {
        Some(l.replace("kita-fee-assessment", "housing-benefit"))
    });
    let report = store.verify(None).await.expect("verify");
    let br = report.first_break.expect("broken");
    assert_eq!((br.seq, br.kind), (3, BreakKind::HashMismatch), "{br}");
    assert_eq!(report.head.map(|h| h.seq), Some(2));

    // Editing and re-hashing an entry: the next entry's link breaks.
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileStore::open(dir.path()).expect("open");
    append_n(&store, 6).await;
    edit_line(&store.log_path(), 3, |l| {
        let mut e: xoev_audit::Entry = serde_json::from_str(l).expect("entry");
        e.outcome = Outcome::Rejected("no-consent".into());
        e.hash = e.compute_hash();
        Some(serde_json::to_string(&e).expect("json"))
    });
    let br = store
        .verify(None)
        .await
        .expect("verify")
        .first_break
        .expect("broken");
    assert_eq!((br.seq, br.kind), (4, BreakKind::PrevMismatch), "{br}");

    // Removing one entry: the gap is named at the entry after it.
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileStore::open(dir.path()).expect("open");
    let entries = append_n(&store, 6).await;
    edit_line(&store.log_path(), 4, |_| None);
    let br = store
        .verify(None)
        .await
        .expect("verify")
        .first_break
        .expect("broken");
    assert_eq!((br.seq, br.kind), (5, BreakKind::SeqGap), "{br}");
    assert!(br.detail.contains("expected entry 4"), "{}", br.detail);

    // Removing the last entry is only visible against a head noted earlier.
    let head = entries[5].head();
    edit_line(&store.log_path(), 5, |_| None); // lines are now 1,2,3,5 → still broken at 5
    edit_line(&store.log_path(), 4, |_| None); // remove the tail: 1,2,3
    let report = store.verify(None).await.expect("verify");
    assert!(
        report.is_intact(),
        "a truncated chain is still a valid chain"
    );
    let br = store
        .verify(Some(&head))
        .await
        .expect("verify")
        .first_break
        .expect("broken");
    assert_eq!((br.seq, br.kind), (4, BreakKind::Truncated), "{br}");

    // A garbage line.
    edit_line(&store.log_path(), 2, |_| Some("{oops".into()));
    let br = store
        .verify(None)
        .await
        .expect("verify")
        .first_break
        .expect("broken");
    assert_eq!((br.seq, br.kind), (2, BreakKind::Unreadable), "{br}");
    // ... and the store refuses to serve it to a citizen as if it were fine.
    let e = store
        .entries_for(&citizen("86095742719"))
        .await
        .expect_err("corrupt");
    assert_eq!(e.as_str(), "store-corrupt");
}

#[tokio::test]
async fn append_refuses_to_continue_a_damaged_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileStore::open(dir.path()).expect("open");
    append_n(&store, 2).await;
    // A crash in the middle of a write leaves an incomplete last line.
    let mut text = std::fs::read(store.log_path()).expect("read");
    text.truncate(text.len() - 10);
    std::fs::write(store.log_path(), text).expect("write");
    let fresh = FileStore::open(dir.path()).expect("open");
    let e = fresh
        .append(entry(&citizen("86095742719"), "m", Outcome::Requested))
        .await
        .expect_err("damaged tail");
    assert_eq!(e.as_str(), "store-corrupt");
}

#[tokio::test]
async fn bad_entries_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileStore::open(dir.path()).expect("open");
    let anna = citizen("86095742719");
    let mut e: NewEntry = entry(&anna, "m", Outcome::Requested);
    e.purpose = "two words".into();
    assert_eq!(
        store.append(e).await.expect_err("bad").as_str(),
        "invalid-entry"
    );
    let mut e = entry(&anna, "", Outcome::Requested);
    e.requester = "ags:1".into();
    assert_eq!(
        store.append(e).await.expect_err("bad").as_str(),
        "invalid-entry"
    );
    assert!(store.verify(None).await.expect("verify").entries == 0);
    for bad in ["rejected:", "rejected:No Consent", "done", ""] {
        assert!(bad.parse::<Outcome>().is_err(), "{bad}");
    }
    assert_eq!(
        "rejected:no-consent".parse::<Outcome>(),
        Ok(Outcome::Rejected("no-consent".into()))
    );
}

#[tokio::test]
async fn tampering_is_detected_postgres() {
    let store = pg_store("tamper").await;
    let s = store.schema().to_owned();
    append_n(&store, 6).await;
    assert!(store.verify(None).await.expect("verify").is_intact());
    let exchange = store
        .entries_for_request("msg-1")
        .await
        .expect("by request");
    assert_eq!(exchange.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4]);
    assert_eq!(exchange[1].outcome, Outcome::Answered);
    let anna = store
        .entries_for(&citizen("86095742719"))
        .await
        .expect("by citizen");
    assert_eq!(anna.len(), 6);
    assert!(
        store
            .entries_for(&citizen("47036892816"))
            .await
            .expect("by citizen")
            .is_empty()
    );
    let admin = admin().await;

    // Edit one entry.
    admin
        .batch_execute(&format!(
            "UPDATE {s}.access_log SET purpose = 'housing-benefit' WHERE seq = 3"
        ))
        .await
        .expect("update");
    let br = store
        .verify(None)
        .await
        .expect("verify")
        .first_break
        .expect("broken");
    assert_eq!((br.seq, br.kind), (3, BreakKind::HashMismatch), "{br}");
    admin
        .batch_execute(&format!(
            "UPDATE {s}.access_log SET purpose = 'kita-fee-assessment' WHERE seq = 3"
        ))
        .await
        .expect("restore");
    assert!(store.verify(None).await.expect("verify").is_intact());

    // Remove one entry.
    admin
        .batch_execute(&format!("DELETE FROM {s}.access_log WHERE seq = 4"))
        .await
        .expect("delete");
    let br = store
        .verify(None)
        .await
        .expect("verify")
        .first_break
        .expect("broken");
    assert_eq!((br.seq, br.kind), (5, BreakKind::SeqGap), "{br}");

    // Remove the tail: the head record still names entry 6.
    admin
        .batch_execute(&format!("DELETE FROM {s}.access_log WHERE seq >= 4"))
        .await
        .expect("delete");
    let br = store
        .verify(None)
        .await
        .expect("verify")
        .first_break
        .expect("broken");
    assert_eq!((br.seq, br.kind), (4, BreakKind::Truncated), "{br}");

    store.drop_schema().await.expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appenders_form_one_chain_postgres() {
    // Four gateway instances (each its own pool) × 50 entries.
    let schema = unique_schema("concurrent");
    let mut tasks = Vec::new();
    let started = std::time::Instant::now();
    for task in 0..4 {
        let schema = schema.clone();
        tasks.push(tokio::spawn(async move {
            let store = Arc::new(
                xoev_audit::PgStore::connect(PG_URL, &schema)
                    .await
                    .expect("connect"),
            );
            let anna = citizen("86095742719");
            let mut seqs = Vec::new();
            for i in 0..50 {
                let e = store
                    .append(entry(&anna, &format!("t{task}-{i}"), Outcome::Requested))
                    .await
                    .expect("append");
                seqs.push(e.seq);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let elapsed = started.elapsed();
    all.sort_unstable();
    assert_eq!(all, (1..=200).collect::<Vec<u64>>());
    let store = xoev_audit::PgStore::connect(PG_URL, &schema)
        .await
        .expect("connect");
    let report = store.verify(None).await.expect("verify");
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries, 200);
    let head: ChainHead = report.head.clone().expect("head");
    assert_eq!(head.seq, 200);
    assert!(store.verify(Some(&head)).await.expect("verify").is_intact());
    eprintln!("4 × 50 concurrent appends to PostgreSQL: {elapsed:?}");
    store.drop_schema().await.expect("cleanup");
}

async fn admin() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(PG_URL, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
}

/// The canonical encoding is a stored contract: changing it would make every
/// existing log fail verification. This pins it.
#[test]
fn canonical_hash_is_pinned() {
    use time::macros::datetime;
    let who: xoev_audit::CitizenRef = "0123456789abcdef0123456789abcdef".parse().expect("ref");
    let e = xoev_audit::Entry::chain(
        entry(&who, "req-1", Outcome::Answered),
        None,
        datetime!(2026-03-01 10:15:00.123456789 UTC),
    );
    assert_eq!(
        xoev_audit::timefmt::format(e.time),
        "2026-03-01T10:15:00.123456Z"
    );
    assert_eq!(e.hash, e.compute_hash());
    assert_eq!(
        e.hash,
        "516c95bb46d810d1ec5479399098b97f1d8471b142703b0001bd6f45710fecae"
    );
    // An absent field and an empty one hash differently.
    let mut a = e.clone();
    a.answer_message_id = Some(String::new());
    assert_ne!(a.compute_hash(), e.hash);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appenders_form_one_chain_file_store() {
    // Two handles on one directory (as two processes would have) × 2 tasks
    // each × 50 entries; the flock serialises them.
    let dir = tempfile::tempdir().expect("tempdir");
    let handles = [
        FileStore::open(dir.path()).expect("open"),
        FileStore::open(dir.path()).expect("open"),
    ];
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for task in 0..4 {
        let store = handles[task % 2].clone();
        tasks.push(tokio::spawn(async move {
            let anna = citizen("86095742719");
            for i in 0..50 {
                store
                    .append(entry(&anna, &format!("t{task}-{i}"), Outcome::Requested))
                    .await
                    .expect("append");
            }
        }));
    }
    // Read (and verify) while the writers run: never a half-written line.
    for _ in 0..10 {
        let r = handles[0].verify(None).await.expect("verify");
        assert!(r.is_intact(), "{r:?}");
    }
    for t in tasks {
        t.await.expect("task");
    }
    eprintln!(
        "4 × 50 concurrent appends to the embedded store: {:?}",
        started.elapsed()
    );
    let report = handles[1].verify(None).await.expect("verify");
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries, 200);
}

#[tokio::test]
async fn rejection_reasons_must_read_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileStore::open(dir.path()).expect("open");
    let e = entry(
        &citizen("86095742719"),
        "m",
        Outcome::Rejected("No Consent".into()),
    );
    assert_eq!(
        store.append(e).await.expect_err("bad reason").as_str(),
        "invalid-entry"
    );
    assert_eq!(store.verify(None).await.expect("verify").entries, 0);
}

/// Spawns `n` appends on `store` at once (distinct request ids `{tag}-{i}`).
fn spawn_appends(
    store: &FileStore,
    tag: &str,
    n: usize,
) -> Vec<tokio::task::JoinHandle<Result<xoev_audit::Entry, xoev_audit::StoreError>>> {
    (0..n)
        .map(|i| {
            let store = store.clone();
            let msg = format!("{tag}-{i}");
            tokio::spawn(async move {
                let anna = citizen("86095742719");
                store.append(entry(&anna, &msg, Outcome::Requested)).await
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_concurrent_appends_are_durable_chained_and_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileStore::open(dir.path()).expect("open");
    let log_path = store.log_path();
    // Each caller, once its append resolved, finds its own line in the file.
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            let store = store.clone();
            let path = log_path.clone();
            tokio::spawn(async move {
                let anna = citizen("86095742719");
                let e = store
                    .append(entry(&anna, &format!("g-{i}"), Outcome::Requested))
                    .await
                    .expect("append");
                let text = std::fs::read_to_string(&path).expect("read");
                assert!(
                    text.lines().any(|l| l.contains(&e.hash)),
                    "entry {} resolved before it was in the file",
                    e.seq
                );
                (i, e)
            })
        })
        .collect();
    let mut entries = Vec::new();
    for t in tasks {
        entries.push(t.await.expect("task"));
    }
    // Every caller got its own entry, and together they form one chain.
    let mut by_seq: Vec<_> = entries.iter().map(|(_, e)| e.clone()).collect();
    by_seq.sort_by_key(|e| e.seq);
    assert_eq!(
        by_seq.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=300).collect::<Vec<_>>()
    );
    assert_eq!(by_seq[0].prev_hash, GENESIS_HASH);
    for w in by_seq.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].hash, "entry {}", w[1].seq);
    }
    for (i, e) in &entries {
        assert_eq!(e.request_message_id, format!("g-{i}"));
    }
    // Group commit: appends that queued during an fsync shared the next one.
    let syncs = store.log_syncs();
    eprintln!("300 concurrent appends, {syncs} fsyncs");
    assert!((1..300).contains(&syncs), "{syncs} fsyncs for 300 entries");
    drop(store);

    // A new handle (a restarted gateway) reads all of them back and continues.
    let again = FileStore::open(dir.path()).expect("reopen");
    let report = again.verify(None).await.expect("verify");
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries, 300);
    assert_eq!(report.head, Some(by_seq[299].head()));
    for (i, e) in entries.iter().step_by(37) {
        let back = again
            .entries_for_request(&format!("g-{i}"))
            .await
            .expect("by request");
        assert_eq!(back, std::slice::from_ref(e));
    }
    let more: Vec<_> = spawn_appends(&again, "h", 50);
    for t in more {
        t.await.expect("task").expect("append after reopen");
    }
    let report = again
        .verify(Some(&by_seq[299].head()))
        .await
        .expect("verify");
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries, 350);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_write_error_reaches_every_waiter() {
    if !std::path::Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileStore::open(dir.path()).expect("open");
    // Every write to /dev/full fails with "no space left on device".
    std::os::unix::fs::symlink("/dev/full", store.log_path()).expect("symlink");
    for t in spawn_appends(&store, "full", 40) {
        let e = t.await.expect("task").expect_err("disk full");
        assert_eq!(e.as_str(), "store-io", "{e}");
        assert!(e.to_string().contains("space"), "{e}");
    }
    // The disk has room again: the same handle recovers and starts the chain.
    std::fs::remove_file(store.log_path()).expect("unlink");
    let entries: Vec<_> = {
        let mut v = Vec::new();
        for t in spawn_appends(&store, "ok", 10) {
            v.push(t.await.expect("task").expect("append"));
        }
        v
    };
    let mut seqs: Vec<_> = entries.iter().map(|e| e.seq).collect();
    seqs.sort();
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
    let report = store.verify(None).await.expect("verify");
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_damaged_tail_fails_every_waiter_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileStore::open(dir.path()).expect("open");
    append_n(&store, 2).await;
    let mut text = std::fs::read(store.log_path()).expect("read");
    text.truncate(text.len() - 10);
    std::fs::write(store.log_path(), &text).expect("write");
    let fresh = FileStore::open(dir.path()).expect("open");
    for t in spawn_appends(&fresh, "tail", 30) {
        let e = t.await.expect("task").expect_err("damaged tail");
        assert_eq!(e.as_str(), "store-corrupt", "{e}");
    }
    assert_eq!(std::fs::read(fresh.log_path()).expect("read"), text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_postgres_concurrent_appends_and_a_failing_batch() {
    // Two instances × 100 appends at once each: one chain, every caller's
    // entry committed (read back by a third handle) when its append resolved.
    let schema = unique_schema("group");
    let stores = [
        Arc::new(
            xoev_audit::PgStore::connect(PG_URL, &schema)
                .await
                .expect("connect"),
        ),
        Arc::new(
            xoev_audit::PgStore::connect(PG_URL, &schema)
                .await
                .expect("connect"),
        ),
    ];
    let reader = xoev_audit::PgStore::connect(PG_URL, &schema)
        .await
        .expect("connect");
    let mut tasks = Vec::new();
    for i in 0..200 {
        let store = stores[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            let anna = citizen("86095742719");
            store
                .append(entry(&anna, &format!("pg-{i}"), Outcome::Requested))
                .await
                .expect("append")
        }));
    }
    let mut entries = Vec::new();
    for t in tasks {
        entries.push(t.await.expect("task"));
    }
    let mut seqs: Vec<_> = entries.iter().map(|e| e.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=200).collect::<Vec<u64>>());
    for e in entries.iter().step_by(23) {
        let back = reader
            .entries_for_request(&e.request_message_id)
            .await
            .expect("read back");
        assert_eq!(back, std::slice::from_ref(e));
    }
    let report = reader.verify(None).await.expect("verify");
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries, 200);

    // The table is gone: every caller of the failing batches gets an error,
    // and nothing moves the head.
    admin()
        .await
        .batch_execute(&format!("DROP TABLE {schema}.access_log"))
        .await
        .expect("drop table");
    let mut tasks = Vec::new();
    for i in 0..30 {
        let store = stores[0].clone();
        tasks.push(tokio::spawn(async move {
            let anna = citizen("86095742719");
            store
                .append(entry(&anna, &format!("gone-{i}"), Outcome::Requested))
                .await
        }));
    }
    for t in tasks {
        let e = t.await.expect("task").expect_err("no table");
        assert!(
            matches!(e.as_str(), "store-postgres" | "store-connection"),
            "{e}"
        );
    }
    let row = admin()
        .await
        .query_one(&format!("SELECT seq FROM {schema}.chain_head"), &[])
        .await
        .expect("head");
    assert_eq!(row.get::<_, i64>(0), 200);
    reader.drop_schema().await.expect("cleanup");
}
