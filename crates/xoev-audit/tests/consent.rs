//! Consent lifecycle against both backends: none → rejected, with consent →
//! ok, revoked → rejected, expired / not yet valid / other purpose → rejected.

mod common;

use common::*;
use time::macros::datetime;
use xoev_audit::{ConsentError, ConsentStore, FileStore};

async fn lifecycle(store: &dyn ConsentStore) {
    let anna = citizen("86095742719");
    let bob = citizen("47036892816");
    let at = datetime!(2026-03-01 10:15 UTC);

    // No consent at all.
    let e = store
        .find_valid(&anna, KITA, INCOME, KITA_FEE, at)
        .await
        .expect_err("no consent yet");
    assert!(matches!(e, ConsentError::NoConsent), "{e:?}");
    assert_eq!(e.as_str(), "no-consent");
    assert!(e.is_rejection());

    // With consent → ok.
    let c = store
        .register(consent("C-123", &anna, KITA_FEE))
        .await
        .expect("register");
    let found = store
        .find_valid(&anna, KITA, INCOME, KITA_FEE, at)
        .await
        .expect("valid consent");
    assert_eq!(found, c);

    // Another citizen, another authority, another evidence type: none.
    for (who, req, ev) in [
        (&bob, KITA, INCOME),
        (&anna, "ags:01001000", INCOME),
        (&anna, KITA, "income-tax-assessment-2023"),
    ] {
        let e = store
            .find_valid(who, req, ev, KITA_FEE, at)
            .await
            .expect_err("no matching consent");
        assert_eq!(e.as_str(), "no-consent", "{who} {req} {ev}");
    }

    // Other purpose.
    let e = store
        .find_valid(&anna, KITA, INCOME, "housing-benefit", at)
        .await
        .expect_err("other purpose");
    assert!(matches!(&e, ConsentError::OtherPurpose { purpose } if purpose == "housing-benefit"));
    assert_eq!(e.as_str(), "consent-other-purpose");

    // Expired and not yet valid.
    let e = store
        .find_valid(
            &anna,
            KITA,
            INCOME,
            KITA_FEE,
            datetime!(2026-12-31 00:00 UTC),
        )
        .await
        .expect_err("expired (validity end is exclusive)");
    assert!(
        matches!(&e, ConsentError::Expired { id, .. } if id == "C-123"),
        "{e:?}"
    );
    assert_eq!(e.as_str(), "consent-expired");
    let e = store
        .find_valid(
            &anna,
            KITA,
            INCOME,
            KITA_FEE,
            datetime!(2025-12-31 23:59 UTC),
        )
        .await
        .expect_err("not yet valid");
    assert_eq!(e.as_str(), "consent-not-yet-valid");

    // Revocation: only by the citizen the consent belongs to.
    let e = store
        .revoke(&bob, "C-123", at)
        .await
        .expect_err("not bob's consent");
    assert_eq!(e.as_str(), "unknown-consent");
    let revoked_at = datetime!(2026-03-02 08:00 UTC);
    let r = store
        .revoke(&anna, "C-123", revoked_at)
        .await
        .expect("revoke");
    assert_eq!(r.revoked_at, Some(revoked_at));
    // Before the revocation it was valid; after it, it is not.
    store
        .find_valid(&anna, KITA, INCOME, KITA_FEE, at)
        .await
        .expect("still valid before the revocation instant");
    let e = store
        .find_valid(
            &anna,
            KITA,
            INCOME,
            KITA_FEE,
            datetime!(2026-03-03 00:00 UTC),
        )
        .await
        .expect_err("revoked");
    assert!(matches!(&e, ConsentError::Revoked { id, at } if id == "C-123" && *at == revoked_at));
    assert_eq!(e.as_str(), "consent-revoked");
    let e = store.revoke(&anna, "C-123", at).await.expect_err("twice");
    assert_eq!(e.as_str(), "consent-already-revoked");

    // A new consent after the revocation is used again.
    store
        .register(consent("C-124", &anna, KITA_FEE))
        .await
        .expect("register again");
    let found = store
        .find_valid(
            &anna,
            KITA,
            INCOME,
            KITA_FEE,
            datetime!(2026-03-03 00:00 UTC),
        )
        .await
        .expect("the new consent applies");
    assert_eq!(found.id, "C-124");

    // Duplicates and bad fields are refused; nothing is stored for them.
    let e = store
        .register(consent("C-124", &bob, KITA_FEE))
        .await
        .expect_err("duplicate id");
    assert_eq!(e.as_str(), "duplicate-consent");
    let mut bad = consent("C-200", &bob, KITA_FEE);
    bad.valid_until = bad.valid_from;
    let e = store.register(bad).await.expect_err("empty period");
    assert!(
        matches!(
            e,
            ConsentError::Invalid {
                field: "valid_until",
                ..
            }
        ),
        "{e:?}"
    );
    let e = store
        .register(consent("C 201", &bob, KITA_FEE))
        .await
        .expect_err("whitespace in id");
    assert!(
        matches!(e, ConsentError::Invalid { field: "id", .. }),
        "{e:?}"
    );
    let e = store
        .register(consent("C-202", &bob, ""))
        .await
        .expect_err("empty purpose");
    assert!(
        matches!(
            e,
            ConsentError::Invalid {
                field: "purpose",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(store.list(&bob).await.expect("list").is_empty());

    let ids: Vec<String> = store
        .list(&anna)
        .await
        .expect("list")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, ["C-123", "C-124"]);
}

#[tokio::test]
async fn consent_lifecycle_file_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileStore::open(dir.path()).expect("open");
    lifecycle(&store).await;
    // A second handle (another process, say) sees the same consents.
    let again = FileStore::open(dir.path()).expect("reopen");
    assert_eq!(
        again
            .list(&citizen("86095742719"))
            .await
            .expect("list")
            .len(),
        2
    );
}

#[tokio::test]
async fn consent_lifecycle_postgres() {
    let store = pg_store("consent").await;
    lifecycle(&store).await;
    store.drop_schema().await.expect("cleanup");
}

#[tokio::test]
async fn damaged_consents_file_fails_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileStore::open(dir.path()).expect("open");
    let anna = citizen("86095742719");
    store
        .register(consent("C-123", &anna, KITA_FEE))
        .await
        .expect("register");
    std::fs::write(store.consents_path(), b"{not json\n").expect("damage");
    let e = store
        .find_valid(
            &anna,
            KITA,
            INCOME,
            KITA_FEE,
            datetime!(2026-03-01 10:15 UTC),
        )
        .await
        .expect_err("unreadable store");
    assert_eq!(e.as_str(), "store-corrupt");
    assert!(!e.is_rejection(), "a store fault is not a consent decision");
}

#[tokio::test]
async fn another_handle_sees_registrations_and_revocations_at_once() {
    // The gateway's handle keeps the parsed consents; the CLI (another
    // handle, as another process) registers and revokes. Each change shows
    // in the gateway's very next check.
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = FileStore::open(dir.path()).expect("open");
    let cli = FileStore::open(dir.path()).expect("open");
    let anna = citizen("86095742719");
    let at = datetime!(2026-03-01 10:15 UTC);
    let check = || gateway.find_valid(&anna, KITA, INCOME, KITA_FEE, at);
    assert_eq!(check().await.expect_err("none").as_str(), "no-consent");
    cli.register(consent("C-1", &anna, KITA_FEE))
        .await
        .expect("register");
    assert_eq!(check().await.expect("valid").id, "C-1");
    assert_eq!(check().await.expect("valid, again").id, "C-1");
    cli.revoke(&anna, "C-1", at).await.expect("revoke");
    assert_eq!(
        check().await.expect_err("revoked").as_str(),
        "consent-revoked"
    );
    // A replaced file (restored from a backup, say) is read again too.
    let text = std::fs::read(gateway.consents_path()).expect("read");
    let first_line = text.split(|&b| b == b'\n').next().expect("a line");
    let tmp = dir.path().join("restored");
    std::fs::write(&tmp, [first_line, b"\n"].concat()).expect("write");
    std::fs::rename(&tmp, gateway.consents_path()).expect("rename");
    assert_eq!(check().await.expect("valid again").id, "C-1");
}
