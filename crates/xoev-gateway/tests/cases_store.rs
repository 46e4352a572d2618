//! The case store, in memory and on the real PostgreSQL (127.0.0.1:5432):
//! an answer claims its request once; a rejected answer gives the claim back.

use std::path::PathBuf;
use std::sync::Arc;
use xoev_adapters::RequestFacts;
use xoev_gateway::cases::{CaseError, CaseStore, MemoryCases, PgCases, Status};

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
        store.claim_request("nope", "a-1").await,
        Err(CaseError::NoMatchingRequest(_))
    ));
    assert_eq!(
        store
            .claim_request("req-1", "a-1")
            .await
            .expect("claim")
            .tax_id,
        f.tax_id
    );
    store
        .claim_request("req-1", "a-1")
        .await
        .expect("the same answer again (a retry)");
    match store.claim_request("req-1", "a-2").await {
        Err(CaseError::AlreadyAnswered { by, .. }) => assert_eq!(by, "a-1"),
        other => panic!("expected already-answered, got {other:?}"),
    }
    store
        .release_claim("req-1", "a-2")
        .await
        .expect("release of another's claim is a no-op");
    assert!(store.claim_request("req-1", "a-2").await.is_err());
    store.release_claim("req-1", "a-1").await.expect("release");
    store
        .claim_request("req-1", "a-2")
        .await
        .expect("a corrected answer claims it");

    let status = Status {
        state: "forwarded".into(),
        stage: None,
        reason: None,
        destination: Some("q".into()),
        forwarded_id: Some("req-1".into()),
        sender: Some("ags:06611000".into()),
        updated: "2026-11-25T00:00:00Z".into(),
    };
    store.set_status("m-1", &status).await.expect("status");
    assert_eq!(store.status("m-1").await.expect("read"), Some(status));
    assert_eq!(store.status("m-2").await.expect("read"), None);
}

#[tokio::test]
async fn memory_case_store() {
    exercise(Arc::new(MemoryCases::default())).await;
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
