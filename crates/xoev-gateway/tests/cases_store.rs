//! The case store, in memory, in a journal file and on the real PostgreSQL
//! (127.0.0.1:5432):
//! an answer claims its request once; a rejected answer gives the claim back.

use std::path::PathBuf;
use std::sync::Arc;
use xoev_adapters::RequestFacts;
use xoev_gateway::cases::{CaseError, CaseStore, FileCases, MemoryCases, PgCases, Status};

const PG: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn facts() -> RequestFacts {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join(xoev_gateway::demo::REQUEST);
    RequestFacts::from_xnachweis(&std::fs::read(path).expect("request")).expect("facts")
}

async fn exercise(store: Arc<dyn CaseStore>) {
    let f = facts();
    store.put_request("req-1", &f).await.expect("put");
    store
        .put_request("req-1", &f)
        .await
        .expect("put again is harmless");
    assert!(matches!(
        store.claim_request("nope", "a-1", "fa:2613").await,
        Err(CaseError::NoMatchingRequest(_))
    ));
    assert_eq!(
        store
            .claim_request("req-1", "a-1", "fa:2613")
            .await
            .expect("claim")
            .tax_id,
        f.tax_id
    );
    store
        .claim_request("req-1", "a-1", "fa:2613")
        .await
        .expect("the same answer again (a retry)");
    match store.claim_request("req-1", "a-2", "fa:2613").await {
        Err(CaseError::AlreadyAnswered { by, .. }) => assert_eq!(by, "a-1"),
        other => panic!("expected already-answered, got {other:?}"),
    }
    store
        .release_claim("req-1", "a-2")
        .await
        .expect("release of another's claim is a no-op");
    assert!(
        store
            .claim_request("req-1", "a-2", "fa:2613")
            .await
            .is_err()
    );
    store.release_claim("req-1", "a-1").await.expect("release");
    store
        .claim_request("req-1", "a-2", "fa:2613")
        .await
        .expect("a corrected answer claims it");

    // A request kept with where it went: only that authority's answer
    // claims it; another's is refused and claims nothing.
    let sent = RequestFacts {
        forwarded_to: Some("fa:2613".into()),
        ..f.clone()
    };
    store.put_request("req-2", &sent).await.expect("put");
    // A deferral (EU: the evidence follows) reads the open request and
    // claims nothing; from another authority it is refused as an answer is.
    assert!(matches!(
        store.open_request("nope", "fa:2613").await,
        Err(CaseError::NoMatchingRequest(_))
    ));
    assert!(matches!(
        store.open_request("req-2", "fa:9198").await,
        Err(CaseError::WrongAnswerer { .. })
    ));
    for _ in 0..2 {
        let open = store.open_request("req-2", "fa:2613").await.expect("open");
        assert_eq!(open.tax_id, f.tax_id);
    }
    match store.claim_request("req-2", "a-9", "fa:9198").await {
        Err(e @ CaseError::WrongAnswerer { .. }) => {
            assert_eq!(e.as_str(), "answer-from-another-authority");
            let text = e.to_string();
            assert!(
                text.contains("fa:2613") && text.contains("fa:9198"),
                "{text}"
            );
        }
        other => panic!("expected answer-from-another-authority, got {other:?}"),
    }
    let claimed = store
        .claim_request("req-2", "a-3", "fa:2613")
        .await
        .expect("the authority it went to claims it");
    assert_eq!(claimed.forwarded_to.as_deref(), Some("fa:2613"));
    // once answered, another authority is still refused as such
    assert!(matches!(
        store.claim_request("req-2", "a-9", "fa:9198").await,
        Err(CaseError::WrongAnswerer { .. })
    ));
    // and a deferral after the answer is refused: the case is closed
    match store.open_request("req-2", "fa:2613").await {
        Err(CaseError::AlreadyAnswered { by, .. }) => assert_eq!(by, "a-3"),
        other => panic!("expected already-answered, got {other:?}"),
    }

    let status = Status {
        state: "forwarded".into(),
        stage: None,
        reason: None,
        detail: None,
        destination: Some("q".into()),
        copies: Vec::new(),
        digest: None,
        forwarded_id: Some("req-1".into()),
        sender: Some("ags:06611000".into()),
        updated: "2026-11-25T00:00:00Z".into(),
    };
    store.set_status("m-1", &status).await.expect("status");
    assert_eq!(
        store.status("m-1").await.expect("read"),
        Some(status.clone())
    );
    assert_eq!(store.status("m-2").await.expect("read"), None);
    // other ids are case-sensitive
    assert_eq!(store.status("M-1").await.expect("read"), None);

    // A UUID is one id in either case (RFC 9562): an answer may name its
    // request, and a client its message, in upper case.
    let uuid = "c0ffee00-0000-4000-8000-0000000000ab";
    let upper = uuid.to_ascii_uppercase();
    store.put_request(uuid, &sent).await.expect("put");
    let open = store.open_request(&upper, "fa:2613").await.expect("open");
    assert_eq!(open.tax_id, f.tax_id);
    store
        .claim_request(&upper, "c0ffee00-0000-4000-8000-0000000000cd", "fa:2613")
        .await
        .expect("claimed in upper case");
    store
        .claim_request(uuid, "C0FFEE00-0000-4000-8000-0000000000CD", "fa:2613")
        .await
        .expect("the same answer again, its id in upper case");
    match store
        .claim_request(uuid, "c0ffee00-0000-4000-8000-0000000000ce", "fa:2613")
        .await
    {
        Err(CaseError::AlreadyAnswered { by, .. }) => {
            assert_eq!(by, "c0ffee00-0000-4000-8000-0000000000cd")
        }
        other => panic!("expected already-answered, got {other:?}"),
    }
    store
        .release_claim(&upper, "C0FFEE00-0000-4000-8000-0000000000CD")
        .await
        .expect("release");
    store
        .claim_request(uuid, "c0ffee00-0000-4000-8000-0000000000ce", "fa:2613")
        .await
        .expect("released in upper case, claimed again");
    store
        .set_status(&format!("urn:uuid:{upper}"), &status)
        .await
        .expect("status");
    assert_eq!(
        store
            .status(&format!("urn:uuid:{uuid}"))
            .await
            .expect("read"),
        Some(status)
    );
}

#[tokio::test]
async fn memory_case_store() {
    exercise(Arc::new(MemoryCases::default())).await;
}

#[tokio::test]
async fn file_case_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    exercise(Arc::new(FileCases::open(dir.path()).expect("open"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_case_store_on_the_service_runtime() {
    // the service's runtime: the file work runs in `block_in_place`
    let dir = tempfile::tempdir().expect("tempdir");
    exercise(Arc::new(FileCases::open(dir.path()).expect("open"))).await;
}

#[tokio::test]
async fn postgres_case_store() {
    let schema = format!("xoev_cases_test_{}", uuid::Uuid::new_v4().simple());
    let store = PgCases::connect(PG, &schema)
        .await
        .expect("PostgreSQL at 127.0.0.1:5432");
    exercise(Arc::new(store.clone())).await;
    store.drop_schema().await.expect("drop");
}

fn status(state: &str) -> Status {
    Status {
        state: state.into(),
        stage: None,
        reason: None,
        detail: None,
        destination: None,
        copies: Vec::new(),
        digest: None,
        forwarded_id: None,
        sender: None,
        updated: "2026-11-25T00:00:00Z".into(),
    }
}

#[tokio::test]
async fn memory_case_store_forgets_the_oldest_beyond_its_capacity() {
    let store = MemoryCases::with_capacity(3);
    let f = facts();
    for i in 1..=5 {
        store
            .put_request(&format!("req-{i}"), &f)
            .await
            .expect("put");
        store
            .set_status(&format!("m-{i}"), &status("forwarded"))
            .await
            .expect("status");
    }
    assert_eq!(store.sizes(), (3, 3));
    for old in ["req-1", "req-2"] {
        assert!(matches!(
            store.claim_request(old, "a", "fa:2613").await,
            Err(CaseError::NoMatchingRequest(_))
        ));
    }
    store
        .claim_request("req-3", "a-3", "fa:2613")
        .await
        .expect("kept");
    // Claiming, updating a status or putting a known request again adds
    // nothing and does not make the entry younger.
    store.put_request("req-3", &f).await.expect("put again");
    store
        .set_status("m-3", &status("rejected"))
        .await
        .expect("update");
    assert_eq!(store.sizes(), (3, 3));
    assert_eq!(store.status("m-1").await.expect("read"), None);
    assert_eq!(
        store.status("m-3").await.expect("read"),
        Some(status("rejected"))
    );
    store.put_request("req-6", &f).await.expect("put");
    store
        .set_status("m-6", &status("forwarded"))
        .await
        .expect("status");
    assert!(
        store
            .claim_request("req-3", "a-3", "fa:2613")
            .await
            .is_err()
    );
    assert_eq!(store.status("m-3").await.expect("read"), None);
    for kept in ["req-4", "req-5", "req-6"] {
        store
            .claim_request(kept, "a", "fa:2613")
            .await
            .expect("kept");
    }
    assert_eq!(store.sizes(), (3, 3));
}

#[tokio::test]
async fn memory_case_store_default_is_bounded() {
    let store = MemoryCases::default();
    let f = facts();
    let n = xoev_gateway::cases::MEMORY_CAPACITY + 1_000;
    for i in 0..n {
        store.put_request(&format!("r-{i}"), &f).await.expect("put");
        store
            .set_status(&format!("s-{i}"), &status("forwarded"))
            .await
            .expect("status");
    }
    let cap = xoev_gateway::cases::MEMORY_CAPACITY;
    assert_eq!(store.sizes(), (cap, cap));
    assert!(store.claim_request("r-0", "a", "fa:2613").await.is_err());
    store
        .claim_request(&format!("r-{}", n - 1), "a", "fa:2613")
        .await
        .expect("the newest is kept");
}

/// Group commit: changes that arrive while the journal is being synced share
/// the next sync; each is in the file when its call returns and on disk
/// once a flush after it has returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_case_store_syncs_concurrent_changes_together() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(FileCases::open(dir.path()).expect("open"));
    let f = facts();
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            let (store, f) = (store.clone(), f.clone());
            tokio::spawn(async move {
                let id = format!("req-{i}");
                store.put_request(&id, &f).await.expect("put");
                // written when it returns: the line is in the file
                let text = std::fs::read_to_string(store.path()).expect("read");
                assert!(
                    text.contains(&format!("\"id\":\"{id}\"")),
                    "{id} returned before it was written"
                );
                store.flush().await.expect("flush");
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    let syncs = store.syncs();
    eprintln!("300 concurrent requests, {syncs} fdatasyncs");
    assert!((1..300).contains(&syncs), "{syncs} syncs for 300 requests");
    drop(store);
    let again = FileCases::open(dir.path()).expect("reopen");
    for i in 0..300 {
        again
            .claim_request(&format!("req-{i}"), "answer", "fa:2613")
            .await
            .unwrap_or_else(|e| panic!("req-{i}: {e}"));
    }
}

/// Fills `store` with two forwarded requests, one of them answered, in a
/// running store; `open` lists what is still waiting, read the way
/// `xoev-gateway cases open` reads it.
async fn open_requests_are_listed(
    store: Arc<dyn CaseStore>,
    open: impl std::future::Future<Output = Result<Vec<xoev_gateway::cases::OpenRequest>, CaseError>>,
) {
    let sent = RequestFacts {
        forwarded_to: Some("fa:2613".into()),
        ..facts()
    };
    store.put_request("waiting", &sent).await.expect("put");
    store.put_request("answered", &sent).await.expect("put");
    store
        .claim_request("answered", "a-1", "fa:2613")
        .await
        .expect("claim");
    store.flush().await.expect("flush");
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let open = open.await.expect("open requests");
    assert_eq!(open.len(), 1, "{open:?}");
    let r = &open[0];
    assert_eq!(r.forwarded_id, "waiting");
    assert_eq!(r.case_id, sent.message_id);
    assert_eq!(r.requester, "ags:06611000");
    assert_eq!(r.forwarded_to, "fa:2613");
    assert_eq!(r.evidence_type, sent.evidence_type);
    let at = r.forwarded_at.expect("the time it was forwarded");
    assert!((before - 60..=before + 1).contains(&at), "{at} vs {before}");
    // no personal data in what operations see
    let json = serde_json::to_string(&open).expect("json");
    for personal in [
        &sent.tax_id,
        &sent.subject.family_name,
        &sent.subject.date_of_birth,
    ] {
        assert!(!json.contains(personal.as_str()), "{json}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_requests_of_the_journal_are_read_beside_the_running_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(FileCases::open(dir.path()).expect("open"));
    let path = dir.path().to_str().expect("utf-8").to_owned();
    open_requests_are_listed(
        store.clone(),
        xoev_gateway::cases::open_requests(&path, "unused"),
    )
    .await;
    drop(store);
}

#[tokio::test]
async fn open_requests_of_postgres_are_listed() {
    let schema = format!("xoev_open_test_{}", uuid::Uuid::new_v4().simple());
    let store = PgCases::connect(PG, &format!("{schema}_cases"))
        .await
        .expect("PostgreSQL at 127.0.0.1:5432");
    open_requests_are_listed(
        Arc::new(store.clone()),
        xoev_gateway::cases::open_requests(PG, &schema),
    )
    .await;
    store.drop_schema().await.expect("drop");
}

/// Listing the open requests only reads: on a schema the service never set
/// up it finds none and creates nothing (`connect` would create the
/// tables and purge old cases).
#[tokio::test]
async fn listing_open_requests_creates_nothing_in_postgres() {
    let schema = format!("xoev_open_test_{}", uuid::Uuid::new_v4().simple());
    let open = xoev_gateway::cases::open_requests(PG, &schema)
        .await
        .expect("PostgreSQL at 127.0.0.1:5432");
    assert!(open.is_empty());
    let (client, connection) = tokio_postgres::connect(PG, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1",
            &[&format!("{schema}_cases")],
        )
        .await
        .expect("query");
    assert_eq!(row.get::<_, i64>(0), 0, "a schema was created");
}
