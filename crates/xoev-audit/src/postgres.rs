//! The PostgreSQL store, for several gateway instances sharing one log.
//!
//! Appends serialise on the single row of `chain_head` (`SELECT … FOR
//! UPDATE` inside a transaction), so concurrent appenders from any number of
//! instances extend one unbroken chain. Within one instance appends use
//! group commit (`crate::group`): the appends queued while a transaction
//! runs go into the next one together (one row lock, one multi-row insert,
//! one commit), each caller answered once its entry is committed. All tables
//! live in one schema (default `xoev_audit`), created on connect if missing.

use crate::citizen::CitizenRef;
use crate::consent::{self, Consent, ConsentError, ConsentStore, NewConsent};
use crate::error::StoreError;
use crate::file::check_entry;
use crate::group::{self, Group};
use crate::log::{
    AccessLog, ChainHead, ChainReport, Entry, GENESIS_HASH, NewEntry, Outcome, Unreadable,
    verify_chain,
};
use crate::timefmt;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use time::OffsetDateTime;
use tokio_postgres::{NoTls, Row};

/// Default schema of the tables.
pub const DEFAULT_SCHEMA: &str = "xoev_audit";

/// Advisory lock key taken while creating the tables (any constant works;
/// this one spells "xoevaud" in ASCII).
const MIGRATE_LOCK: i64 = 0x0078_6f65_7661_7564;

/// Most entries committed in one transaction.
const MAX_BATCH: usize = 512;

const ENTRY_COLUMNS: &str = "seq, time, citizen, requester, answerer, evidence_type, period, \
     purpose, consent, outcome, request_message_id, answer_message_id, prev_hash, hash";

const CONSENT_COLUMNS: &str = "id, citizen, requester, evidence_type, purpose, valid_from, valid_until, registered_at, revoked_at";

/// The PostgreSQL store: a connection pool and a schema name.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    schema: String,
    /// Appends waiting for the group-commit writer (shared by clones).
    group: Group,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`), creates the schema
    /// and tables if missing, and returns the store.
    ///
    /// `schema` must be a plain lowercase identifier (`[a-z_][a-z0-9_]*`,
    /// at most 63 bytes).
    pub async fn connect(url: &str, schema: &str) -> Result<Self, StoreError> {
        check_schema(schema)?;
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::InvalidLocation(format!("{url}: {e}")))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(4)
            .build()
            .map_err(|e| StoreError::Connection(e.to_string()))?;
        let store = Self {
            pool,
            schema: schema.to_owned(),
            group: Group::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The schema holding the tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Drops the schema and everything in it (for tests and teardown).
    pub async fn drop_schema(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
            .await?;
        Ok(())
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::Connection(e.to_string()))
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let s = &self.schema;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])
            .await?;
        tx.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {s};
             CREATE TABLE IF NOT EXISTS {s}.access_log (
                 seq bigint PRIMARY KEY,
                 time timestamptz NOT NULL,
                 citizen text NOT NULL,
                 requester text NOT NULL,
                 answerer text,
                 evidence_type text NOT NULL,
                 period text,
                 purpose text NOT NULL,
                 consent text,
                 outcome text NOT NULL,
                 request_message_id text NOT NULL,
                 answer_message_id text,
                 prev_hash text NOT NULL,
                 hash text NOT NULL);
             CREATE INDEX IF NOT EXISTS access_log_citizen ON {s}.access_log (citizen, seq);
             CREATE INDEX IF NOT EXISTS access_log_request ON {s}.access_log (request_message_id, seq);
             CREATE TABLE IF NOT EXISTS {s}.chain_head (
                 id smallint PRIMARY KEY CHECK (id = 1),
                 seq bigint NOT NULL,
                 hash text NOT NULL);
             INSERT INTO {s}.chain_head VALUES (1, 0, '{GENESIS_HASH}') ON CONFLICT DO NOTHING;
             CREATE TABLE IF NOT EXISTS {s}.consents (
                 id text PRIMARY KEY,
                 citizen text NOT NULL,
                 requester text NOT NULL,
                 evidence_type text NOT NULL,
                 purpose text NOT NULL,
                 valid_from timestamptz NOT NULL,
                 valid_until timestamptz NOT NULL,
                 registered_at timestamptz NOT NULL,
                 revoked_at timestamptz);
             CREATE INDEX IF NOT EXISTS consents_citizen ON {s}.consents (citizen);"
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Reads all entries in seq order (each row checked separately, so a
    /// damaged row is reported, not fatal), and the head record.
    async fn read_chain(&self) -> Result<(Vec<Result<Entry, Unreadable>>, ChainHead), StoreError> {
        let s = &self.schema;
        let client = self.client().await?;
        let tx_rows = client
            .query(
                &format!("SELECT {ENTRY_COLUMNS} FROM {s}.access_log ORDER BY seq"),
                &[],
            )
            .await?;
        let head = client
            .query_one(
                &format!("SELECT seq, hash FROM {s}.chain_head WHERE id = 1"),
                &[],
            )
            .await?;
        let head = ChainHead {
            seq: to_u64(head.try_get::<_, i64>(0)?)?,
            hash: head.try_get(1)?,
        };
        let entries = tx_rows
            .iter()
            .map(|r| {
                entry_from_row(r).map_err(|detail| Unreadable {
                    location: format!(
                        "{s}.access_log seq {}",
                        r.try_get::<_, i64>(0).map_or("?".into(), |v| v.to_string())
                    ),
                    detail,
                })
            })
            .collect();
        Ok((entries, head))
    }
}

impl PgStore {
    /// Appends `batch` as consecutive entries in one transaction: the head
    /// row locked, one multi-row insert, the head moved, one commit.
    async fn append_batch(&self, batch: Vec<NewEntry>) -> Result<Vec<Entry>, StoreError> {
        let s = &self.schema;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let row = tx
            .query_one(
                &format!("SELECT seq, hash FROM {s}.chain_head WHERE id = 1 FOR UPDATE"),
                &[],
            )
            .await?;
        let seq = to_u64(row.try_get(0)?)?;
        let mut head = if seq > 0 {
            Some(ChainHead {
                seq,
                hash: row.try_get(1)?,
            })
        } else {
            None
        };
        let mut entries = Vec::with_capacity(batch.len());
        for new in batch {
            let e = Entry::chain(new, head.as_ref(), OffsetDateTime::now_utc());
            head = Some(e.head());
            entries.push(e);
        }
        let Some(last) = head else {
            return Ok(entries);
        };
        let seqs = entries
            .iter()
            .map(|e| to_i64(e.seq))
            .collect::<Result<Vec<_>, _>>()?;
        let col = |f: fn(&Entry) -> Option<String>| entries.iter().map(f).collect::<Vec<_>>();
        let times: Vec<OffsetDateTime> = entries.iter().map(|e| e.time).collect();
        tx.execute(
            &format!(
                "INSERT INTO {s}.access_log ({ENTRY_COLUMNS})
                 SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[],
                     $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                     $11::text[], $12::text[], $13::text[], $14::text[])"
            ),
            &[
                &seqs,
                &times,
                &col(|e| Some(e.citizen.as_str().to_owned())),
                &col(|e| Some(e.requester.clone())),
                &col(|e| e.answerer.clone()),
                &col(|e| Some(e.evidence_type.clone())),
                &col(|e| e.period.clone()),
                &col(|e| Some(e.purpose.clone())),
                &col(|e| e.consent.clone()),
                &col(|e| Some(e.outcome.to_string())),
                &col(|e| Some(e.request_message_id.clone())),
                &col(|e| e.answer_message_id.clone()),
                &col(|e| Some(e.prev_hash.clone())),
                &col(|e| Some(e.hash.clone())),
            ],
        )
        .await?;
        tx.execute(
            &format!("UPDATE {s}.chain_head SET seq = $1, hash = $2 WHERE id = 1"),
            &[&to_i64(last.seq)?, &last.hash],
        )
        .await?;
        tx.commit().await?;
        Ok(entries)
    }

    /// Entries whose text `column` (a constant of ours, never input) equals
    /// `value`, in chain order.
    async fn select(&self, column: &'static str, value: &str) -> Result<Vec<Entry>, StoreError> {
        let s = &self.schema;
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {ENTRY_COLUMNS} FROM {s}.access_log WHERE {column} = $1 ORDER BY seq"
                ),
                &[&value],
            )
            .await?;
        rows.iter()
            .map(|r| {
                entry_from_row(r).map_err(|detail| StoreError::Corrupt {
                    location: format!("{s}.access_log"),
                    detail,
                })
            })
            .collect()
    }
}

fn check_schema(schema: &str) -> Result<(), StoreError> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidLocation(format!(
            "schema name {schema:?} is not a plain lowercase identifier"
        )))
    }
}

fn to_u64(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::OutOfRange(format!("negative sequence number {v}")))
}

fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::OutOfRange(format!("sequence number {v}")))
}

fn entry_from_row(r: &Row) -> Result<Entry, String> {
    let e = |err: tokio_postgres::Error| err.to_string();
    let seq: i64 = r.try_get(0).map_err(e)?;
    let citizen: String = r.try_get(2).map_err(e)?;
    let outcome: String = r.try_get(9).map_err(e)?;
    Ok(Entry {
        seq: u64::try_from(seq).map_err(|_| format!("negative seq {seq}"))?,
        time: r.try_get(1).map_err(e)?,
        citizen: citizen.parse().map_err(|err| format!("citizen: {err}"))?,
        requester: r.try_get(3).map_err(e)?,
        answerer: r.try_get(4).map_err(e)?,
        evidence_type: r.try_get(5).map_err(e)?,
        period: r.try_get(6).map_err(e)?,
        purpose: r.try_get(7).map_err(e)?,
        consent: r.try_get(8).map_err(e)?,
        outcome: outcome.parse::<Outcome>().map_err(|err| err.to_string())?,
        request_message_id: r.try_get(10).map_err(e)?,
        answer_message_id: r.try_get(11).map_err(e)?,
        prev_hash: r.try_get(12).map_err(e)?,
        hash: r.try_get(13).map_err(e)?,
    })
}

fn consent_from_row(r: &Row) -> Result<Consent, StoreError> {
    let citizen: String = r.try_get(1)?;
    let id: String = r.try_get(0)?;
    Ok(Consent {
        citizen: citizen.parse().map_err(|err| StoreError::Corrupt {
            location: format!("consents {id}"),
            detail: format!("citizen: {err}"),
        })?,
        id,
        requester: r.try_get(2)?,
        evidence_type: r.try_get(3)?,
        purpose: r.try_get(4)?,
        valid_from: r.try_get(5)?,
        valid_until: r.try_get(6)?,
        registered_at: r.try_get(7)?,
        revoked_at: r.try_get(8)?,
    })
}

#[async_trait::async_trait]
impl AccessLog for PgStore {
    async fn append(&self, new: NewEntry) -> Result<Entry, StoreError> {
        check_entry(&new)?;
        let (rx, run) = self.group.enqueue(new);
        if let Some(mut run) = run {
            let store = self.clone();
            // Dropped unrun (runtime shutting down), `run` fails the queue.
            drop(tokio::spawn(async move {
                while let Some((batch, replies)) = run.next_batch(MAX_BATCH) {
                    group::reply(
                        replies,
                        store
                            .append_batch(batch)
                            .await
                            .map(|v| v.into_iter().map(Ok).collect()),
                    );
                }
            }));
        }
        group::wait(rx).await
    }

    async fn entries_for(&self, citizen: &CitizenRef) -> Result<Vec<Entry>, StoreError> {
        self.select("citizen", citizen.as_str()).await
    }

    async fn entries_for_request(
        &self,
        request_message_id: &str,
    ) -> Result<Vec<Entry>, StoreError> {
        self.select("request_message_id", request_message_id).await
    }

    async fn verify(&self, expected: Option<&ChainHead>) -> Result<ChainReport, StoreError> {
        let (entries, head) = self.read_chain().await?;
        Ok(verify_chain(entries, Some(&head), expected))
    }
}

#[async_trait::async_trait]
impl ConsentStore for PgStore {
    async fn register(&self, new: NewConsent) -> Result<Consent, ConsentError> {
        consent::check_new(&new)?;
        let s = &self.schema;
        let c = Consent::from_new(new, OffsetDateTime::now_utc());
        let client = self.client().await?;
        let n = client
            .execute(
                &format!(
                    "INSERT INTO {s}.consents ({CONSENT_COLUMNS})
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL) ON CONFLICT (id) DO NOTHING"
                ),
                &[
                    &c.id,
                    &c.citizen.as_str(),
                    &c.requester,
                    &c.evidence_type,
                    &c.purpose,
                    &c.valid_from,
                    &c.valid_until,
                    &c.registered_at,
                ],
            )
            .await
            .map_err(StoreError::from)?;
        if n == 0 {
            return Err(ConsentError::Duplicate { id: c.id });
        }
        Ok(c)
    }

    async fn revoke(
        &self,
        citizen: &CitizenRef,
        id: &str,
        at: OffsetDateTime,
    ) -> Result<Consent, ConsentError> {
        let s = &self.schema;
        let at = timefmt::normalize(at);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(StoreError::from)?;
        let row = tx
            .query_opt(
                &format!("SELECT {CONSENT_COLUMNS} FROM {s}.consents WHERE id = $1 AND citizen = $2 FOR UPDATE"),
                &[&id, &citizen.as_str()],
            )
            .await
            .map_err(StoreError::from)?;
        let Some(row) = row else {
            return Err(ConsentError::NotFound { id: id.to_owned() });
        };
        let mut c = consent_from_row(&row)?;
        if let Some(prev) = c.revoked_at {
            return Err(ConsentError::AlreadyRevoked { id: c.id, at: prev });
        }
        tx.execute(
            &format!("UPDATE {s}.consents SET revoked_at = $1 WHERE id = $2"),
            &[&at, &id],
        )
        .await
        .map_err(StoreError::from)?;
        tx.commit().await.map_err(StoreError::from)?;
        c.revoked_at = Some(at);
        Ok(c)
    }

    async fn list(&self, citizen: &CitizenRef) -> Result<Vec<Consent>, StoreError> {
        let s = &self.schema;
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {CONSENT_COLUMNS} FROM {s}.consents WHERE citizen = $1 ORDER BY registered_at, id"
                ),
                &[&citizen.as_str()],
            )
            .await?;
        rows.iter().map(consent_from_row).collect()
    }
}
