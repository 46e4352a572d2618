//! Keeps the verifier's trust store in step with its directory: a new CRL
//! (or a new or removed certificate) takes effect without a restart.
//!
//! The directory is looked at every `[trust] reload_secs` and on SIGHUP;
//! when the names, sizes or modification times of its files changed, it is
//! loaded afresh and replaces the store ([`Verifier::replace_trust`], which
//! also forgets every cached verdict). A directory that no longer loads —
//! a half-copied CRL, a forged one — keeps the old store and is logged as
//! an error until it loads again.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use xoev_dsig::{Revocation, TrustStore, Verifier};

/// What one look at the directory found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    /// Nothing changed since the last look.
    Unchanged,
    /// The store was replaced: its certificates and CRLs.
    Replaced {
        /// Certificates in the new store.
        certificates: usize,
        /// CRLs in the new store.
        crls: usize,
    },
    /// The directory changed but does not load; the old store stays.
    Failed(String),
}

/// The trust directory as last loaded, and the verifier it feeds.
pub struct TrustWatch {
    dir: PathBuf,
    policy: Revocation,
    verifier: Verifier,
    seen: Option<Vec<(PathBuf, u64, Option<SystemTime>)>>,
}

impl TrustWatch {
    /// Watches `dir` for `verifier`, whose store was loaded from it just now.
    pub fn new(dir: &Path, policy: Revocation, verifier: Verifier) -> Self {
        let seen = listing(dir).ok();
        record_crl_due(&verifier.trust_store());
        Self {
            dir: dir.to_owned(),
            policy,
            verifier,
            seen,
        }
    }

    /// Looks at the directory once (blocking file I/O) and replaces the
    /// store if it changed and loads.
    pub fn check(&mut self) -> Reload {
        let now = match listing(&self.dir) {
            Ok(l) => l,
            Err(e) => return Reload::Failed(format!("cannot read {}: {e}", self.dir.display())),
        };
        if self.seen.as_ref() == Some(&now) {
            return Reload::Unchanged;
        }
        match TrustStore::from_dir(&self.dir) {
            Ok(store) => {
                let store = store.with_revocation(self.policy);
                let crls = store.crls().map_or(0, |c| c.len());
                let certificates = store.len();
                record_crl_due(&store);
                self.verifier.replace_trust(store);
                self.seen = Some(now);
                Reload::Replaced { certificates, crls }
            }
            // Not remembered as seen: the next look tries again, so a file
            // that was still being copied is picked up once complete.
            Err(e) => Reload::Failed(e.to_string()),
        }
    }
}

/// Sets `xoev_trust_crl_next_update_timestamp_seconds`: the earliest
/// `nextUpdate` of the store's CRLs (unix seconds; +Inf without CRLs), for
/// an alert before a CRL goes stale.
fn record_crl_due(store: &TrustStore) {
    let due = store
        .crls()
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c.next_update)
        .min()
        .map_or(f64::INFINITY, |t| t as f64);
    metrics::gauge!("xoev_trust_crl_next_update_timestamp_seconds").set(due);
}

/// The `*.pem`, `*.crt` and `*.crl` files of `dir` (those the trust store
/// reads) with their sizes and modification times, sorted.
fn listing(dir: &Path) -> std::io::Result<Vec<(PathBuf, u64, Option<SystemTime>)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if !path
            .extension()
            .is_some_and(|x| x == "pem" || x == "crt" || x == "crl")
        {
            continue;
        }
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_file() {
            out.push((path, meta.len(), meta.modified().ok()));
        }
    }
    out.sort();
    Ok(out)
}

/// Looks at the directory every `every` (never if zero) and on SIGHUP,
/// until `stop` resolves; logs and counts each replacement and failure
/// (`xoev_trust_reloads_total{outcome}`).
pub async fn watch(
    mut watch: TrustWatch,
    every: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut hangup = sighup();
    tokio::pin!(stop);
    loop {
        let tick = async {
            if every.is_zero() {
                std::future::pending::<()>().await;
            } else {
                tokio::time::sleep(every).await;
            }
        };
        tokio::select! {
            () = &mut stop => return,
            () = tick => {}
            () = next(&mut hangup) => tracing::info!("SIGHUP: looking at the trust store"),
        }
        let (back, outcome) = match tokio::task::spawn_blocking(move || {
            let outcome = watch.check();
            (watch, outcome)
        })
        .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "trust store reload task failed; no more reloads");
                return;
            }
        };
        watch = back;
        match outcome {
            Reload::Unchanged => {}
            Reload::Replaced { certificates, crls } => {
                tracing::info!(
                    dir = %watch.dir.display(),
                    certificates,
                    crls,
                    "trust store replaced"
                );
                metrics::counter!("xoev_trust_reloads_total", "outcome" => "replaced").increment(1);
            }
            Reload::Failed(reason) => {
                tracing::error!(
                    dir = %watch.dir.display(),
                    %reason,
                    "trust store changed but does not load; the previous one stays in use"
                );
                metrics::counter!("xoev_trust_reloads_total", "outcome" => "failed").increment(1);
            }
        }
    }
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = ();

#[cfg(unix)]
fn sighup() -> Hangup {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}
#[cfg(not(unix))]
fn sighup() -> Hangup {}

#[cfg(unix)]
async fn next(h: &mut Hangup) {
    match h {
        Some(s) => {
            if s.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}
#[cfg(not(unix))]
async fn next(_: &mut Hangup) {
    std::future::pending::<()>().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use xoev_dsig::pki::{KeyKind, TestCa};

    #[test]
    fn a_changed_directory_replaces_the_store_and_a_broken_one_keeps_it() {
        xoev_dsig::init().expect("init");
        let dir = tempfile::tempdir().expect("tmp");
        let ca = TestCa::generate("XOEV Reload CA").expect("ca");
        let leaf = ca
            .issue("Reload Authority", KeyKind::EcP256, -1, 30)
            .expect("leaf");
        std::fs::write(
            dir.path().join("ca.pem"),
            ca.issued.cert_pem().expect("pem"),
        )
        .expect("write");
        let verifier = Verifier::from_trust_dir(dir.path()).expect("verifier");
        let mut w = TrustWatch::new(dir.path(), Revocation::IfPublished, verifier.clone());
        assert_eq!(w.check(), Reload::Unchanged);

        let crl = ca.crl(&[&leaf.cert], 1, -1, 7).expect("crl");
        std::fs::write(dir.path().join("ca.crl"), crl.to_pem().expect("pem")).expect("write");
        assert_eq!(
            w.check(),
            Reload::Replaced {
                certificates: 1,
                crls: 1
            }
        );
        assert_eq!(verifier.trust_store().crls().expect("crls").len(), 1);
        assert_eq!(w.check(), Reload::Unchanged);

        // Half a file: refused, the store with the CRL stays, and the next
        // look tries again.
        std::fs::write(dir.path().join("ca.crl"), b"-----BEGIN X509 CRL-----\nMII").expect("write");
        assert!(matches!(w.check(), Reload::Failed(r) if r.contains("ca.crl")));
        assert_eq!(verifier.trust_store().crls().expect("crls").len(), 1);
        assert!(matches!(w.check(), Reload::Failed(_)));
        std::fs::remove_file(dir.path().join("ca.crl")).expect("rm");
        assert_eq!(
            w.check(),
            Reload::Replaced {
                certificates: 1,
                crls: 0
            }
        );
        assert!(verifier.trust_store().crls().expect("crls").is_empty());
    }
}
