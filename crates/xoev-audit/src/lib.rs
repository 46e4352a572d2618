//! Data sovereignty for the XÖV gateway: **consents** per case and a
//! **hash-chained, citizen-readable access log**.
//!
//! - [`CitizenRef::from_tax_id`] turns a tax id into a pseudonymous
//!   reference (keyed HMAC-SHA256); nothing here ever stores a tax id.
//! - [`ConsentStore::find_valid`] is the access check: the matching valid
//!   consent, or a specific [`ConsentError`] (`no-consent`,
//!   `consent-revoked`, `consent-expired`, `consent-not-yet-valid`,
//!   `consent-other-purpose`).
//! - [`AccessLog::append`] records one step of an exchange (never the
//!   evidence); [`AccessLog::verify`] walks the chain and names the first
//!   broken entry.
//! - [`citizen_view`] turns a citizen's entries into plain sentences.
//!
//! Two backends implement both traits: [`FileStore`] (embedded, a directory
//! of JSON-lines files, no server) and [`PgStore`] (PostgreSQL, for several
//! gateway instances). [`open`] picks one from a location string.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use xoev_audit::{open, CitizenRef, CitizenSecret, NewEntry, Outcome};
//! let store = open("var/audit", None).await?;
//! let secret = CitizenSecret::new(b"a secret of sixteen bytes or more".to_vec())?;
//! let citizen = CitizenRef::from_tax_id("86095742719", &secret)?;
//! let now = time::OffsetDateTime::now_utc();
//! match store.find_valid(&citizen, "ags:09162000", "income-tax-assessment-2024", "kita-fee-assessment", now).await {
//!     Ok(consent) => { /* forward; append Outcome::Forwarded with Some(consent.id) */ }
//!     Err(e) if e.is_rejection() => { /* reject with e.as_str(); append Outcome::Rejected */ }
//!     Err(e) => return Err(e.into()), // store failure: retry later
//! }
//! # Ok(()) }
//! ```

mod citizen;
mod consent;
mod error;
mod file;
mod group;
mod log;
mod postgres;
pub mod timefmt;
mod view;

pub use citizen::{CitizenRef, CitizenRefError, CitizenSecret, MIN_SECRET_BYTES};
pub use consent::{
    Consent, ConsentError, ConsentState, ConsentStore, MAX_FIELD_LEN, NewConsent, select_valid,
};
pub use error::StoreError;
pub use file::{CONSENTS_FILE, FileStore, LOG_FILE};
pub use log::{
    AccessLog, BreakKind, ChainBreak, ChainHead, ChainReport, Entry, GENESIS_HASH, InvalidOutcome,
    NewEntry, Outcome, Unreadable, verify_chain,
};
pub use postgres::{DEFAULT_SCHEMA, PgStore};
pub use view::{AccessEvent, Names, NamesError, citizen_view, plain_reason};

use std::sync::Arc;

/// A backend that keeps both consents and the access log.
pub trait AuditStore: ConsentStore + AccessLog {}

impl<T: ConsentStore + AccessLog> AuditStore for T {}

/// Opens the store at `location`: a `postgres://` or `postgresql://` URL
/// selects [`PgStore`] (tables in `pg_schema`, default [`DEFAULT_SCHEMA`]);
/// anything else is the directory of a [`FileStore`].
pub async fn open(
    location: &str,
    pg_schema: Option<&str>,
) -> Result<Arc<dyn AuditStore>, StoreError> {
    if location.is_empty() {
        return Err(StoreError::InvalidLocation("empty store location".into()));
    }
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        let store = PgStore::connect(location, pg_schema.unwrap_or(DEFAULT_SCHEMA)).await?;
        Ok(Arc::new(store))
    } else {
        Ok(Arc::new(FileStore::open(location)?))
    }
}
