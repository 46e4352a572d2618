//! Shared test helpers: the same behaviour checked against every backend.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use time::macros::datetime;
use xoev_audit::{CitizenRef, CitizenSecret, NewConsent, NewEntry, Outcome, PgStore};

/// PostgreSQL of the development and CI machines.
pub const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A unique schema name for one test (process id + counter).
pub fn unique_schema(test: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "xoev_audit_test_{}_{}_{}",
        test,
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh PostgreSQL store in its own schema; drop it with `drop_schema`.
pub async fn pg_store(test: &str) -> PgStore {
    PgStore::connect(PG_URL, &unique_schema(test))
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (user postgres) must run for these tests")
}

pub fn secret() -> CitizenSecret {
    CitizenSecret::new(b"test secret, 32 bytes long......".to_vec()).expect("long enough")
}

pub fn citizen(tax_id: &str) -> CitizenRef {
    CitizenRef::from_tax_id(tax_id, &secret()).expect("valid tax id")
}

pub const KITA: &str = "ags:09162000";
pub const FINANZAMT: &str = "bufa:9162";
pub const INCOME: &str = "income-tax-assessment";
pub const KITA_FEE: &str = "kita-fee-assessment";

pub fn consent(id: &str, who: &CitizenRef, purpose: &str) -> NewConsent {
    NewConsent {
        id: id.into(),
        citizen: who.clone(),
        requester: KITA.into(),
        evidence_type: INCOME.into(),
        purpose: purpose.into(),
        valid_from: datetime!(2026-01-01 00:00 UTC),
        valid_until: datetime!(2026-12-31 00:00 UTC),
    }
}

pub fn entry(who: &CitizenRef, msg: &str, outcome: Outcome) -> NewEntry {
    NewEntry {
        citizen: who.clone(),
        requester: KITA.into(),
        answerer: Some(FINANZAMT.into()),
        evidence_type: INCOME.into(),
        period: Some("2024".into()),
        purpose: KITA_FEE.into(),
        consent: Some("C-123".into()),
        outcome,
        request_message_id: msg.into(),
        answer_message_id: None,
    }
}
