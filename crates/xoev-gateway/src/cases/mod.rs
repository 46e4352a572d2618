//! The case store: which evidence request an answer belongs to, and the
//! status of every message the gateway has seen (for `GET /messages/{id}`).
//!
//! Three backends: in memory (the demo, tests), a journal file in the
//! embedded store's directory (one instance, [`FileCases`]) and PostgreSQL
//! (several instances: an answer may reach another instance than its
//! request).
//!
//! The stored request facts include the citizen's tax id, which the answer
//! check needs (same tax id, same year). They are kept only until the
//! request is answered plus [`RETENTION_DAYS`]; the access log never holds
//! them (it has the pseudonymous citizen reference).

mod file;

pub use file::{CASES_FILE, FileCases, STATUS_CAPACITY};

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use tokio_postgres::NoTls;
use xoev_adapters::RequestFacts;
use xoev_core::id_key;

/// Days a forwarded request's facts are kept.
pub const RETENTION_DAYS: i32 = 30;

/// Why a case operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaseError {
    /// No forwarded request has this id.
    #[error("no forwarded request {0} is known: the answer matches no request")]
    NoMatchingRequest(String),
    /// The request was already answered by another message.
    #[error("request {request} was already answered by message {by}")]
    AlreadyAnswered {
        /// The request.
        request: String,
        /// The earlier answer.
        by: String,
    },
    /// The answer comes from another authority than the one the request
    /// was forwarded to.
    #[error("request {request} was forwarded to {sent_to}; an answer from {from} cannot claim it")]
    WrongAnswerer {
        /// The request.
        request: String,
        /// Where the gateway sent it.
        sent_to: String,
        /// Who answered.
        from: String,
    },
    /// The store failed (transient: try again later).
    #[error("case store: {0}")]
    Store(String),
}

impl CaseError {
    /// Stable reason id.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::NoMatchingRequest(_) => "no-matching-request",
            Self::AlreadyAnswered { .. } => "already-answered",
            Self::WrongAnswerer { .. } => "answer-from-another-authority",
            Self::Store(_) => "case-store-unavailable",
        }
    }
}

/// [`CaseError::WrongAnswerer`] unless `answerer` is the authority request
/// `id` was forwarded to (or the case does not say).
pub(crate) fn check_answerer(
    id: &str,
    facts: &RequestFacts,
    answerer: &str,
) -> Result<(), CaseError> {
    match &facts.forwarded_to {
        Some(to) if to != answerer => Err(CaseError::WrongAnswerer {
            request: id.to_owned(),
            sent_to: to.clone(),
            from: answerer.to_owned(),
        }),
        _ => Ok(()),
    }
}

impl From<tokio_postgres::Error> for CaseError {
    fn from(e: tokio_postgres::Error) -> Self {
        // tokio-postgres' Display says only "db error"; keep the server's words
        match e.as_db_error() {
            Some(db) => Self::Store(format!("{}: {}", db.code().code(), db.message())),
            None => Self::Store(e.to_string()),
        }
    }
}

/// A forwarded request still waiting for its answer, as operations see it:
/// ids, authorities, evidence type and age — no personal data (no tax id,
/// no names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenRequest {
    /// The id the request was forwarded under (what its answer refers to).
    pub forwarded_id: String,
    /// The case: the requesting authority's own message id.
    pub case_id: String,
    /// The requesting authority.
    pub requester: String,
    /// Where the gateway sent it (for cases kept before that was recorded:
    /// the authority the request's header named).
    pub forwarded_to: String,
    /// The evidence type asked for.
    pub evidence_type: String,
    /// When it was forwarded (Unix seconds); `None` where the store did not
    /// record it (journals written before it did).
    pub forwarded_at: Option<i64>,
}

impl OpenRequest {
    pub(crate) fn new(id: &str, facts: &RequestFacts, at: Option<i64>) -> Self {
        Self {
            forwarded_id: id.to_owned(),
            case_id: facts.message_id.clone(),
            requester: facts.author.id.clone(),
            forwarded_to: facts
                .forwarded_to
                .clone()
                .unwrap_or_else(|| facts.reader.id.clone()),
            evidence_type: facts.evidence_type.clone(),
            forwarded_at: at,
        }
    }
}

/// The requests still waiting for an answer in the case store of `store`
/// (the embedded store's directory, read without disturbing a running
/// instance, or a `postgres://` URL with the access log's `pg_schema`),
/// oldest first.
pub async fn open_requests(store: &str, pg_schema: &str) -> Result<Vec<OpenRequest>, CaseError> {
    let mut open = if store.starts_with("postgres://") || store.starts_with("postgresql://") {
        // Read only: no tables created, no retention purge (`connect` does
        // both for the service); a store the service never set up has none.
        let cases = PgCases::without_set_up(store, &format!("{pg_schema}_cases"))?;
        if cases.exists().await? {
            cases.open_requests().await?
        } else {
            Vec::new()
        }
    } else {
        let dir = std::path::PathBuf::from(store);
        tokio::task::spawn_blocking(move || FileCases::open_requests(&dir))
            .await
            .map_err(|e| CaseError::Store(e.to_string()))??
    };
    open.sort_by(|a, b| (a.forwarded_at, &a.forwarded_id).cmp(&(b.forwarded_at, &b.forwarded_id)));
    Ok(open)
}

/// Where a message stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// `forwarded` or `rejected`.
    pub state: String,
    /// For rejections: the stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// For rejections: the reason id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For rejections: the reason, as the rejection answer and the dead
    /// letter give it (XSD violations with line and path, values withheld).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For forwards: the destination queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// For forwards: the inboxes of the further readers the message names,
    /// which got a copy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<String>,
    /// For forwards: the id of the message the gateway published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forwarded_id: Option<String>,
    /// The SHA-256 (hex) of the message as received: another message
    /// under the same id is refused, the same one again is a duplicate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The authority that sent the message (who may read this status).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// When (RFC 3339).
    pub updated: String,
}

/// The case store.
///
/// Every implementation keys request, answer and message ids by
/// [`id_key`]: a UUID is one id in either case.
#[async_trait]
pub trait CaseStore: Send + Sync {
    /// Remembers the request forwarded under `forwarded_id`: durable once
    /// [`Self::flush`] has returned.
    async fn put_request(&self, forwarded_id: &str, facts: &RequestFacts) -> Result<(), CaseError>;

    /// The request that `forwarded_id` names, claimed by answer `answer_id`
    /// of authority `answerer`. Claiming again with the same answer id
    /// succeeds (a retried answer); a different answer id is
    /// [`CaseError::AlreadyAnswered`]; an answerer other than the
    /// authority the request was forwarded to
    /// ([`RequestFacts::forwarded_to`]) is [`CaseError::WrongAnswerer`] and
    /// claims nothing. The claim is durable once [`Self::flush`] has
    /// returned.
    async fn claim_request(
        &self,
        forwarded_id: &str,
        answer_id: &str,
        answerer: &str,
    ) -> Result<RequestFacts, CaseError>;

    /// The request `forwarded_id` names, for a message of `answerer` that
    /// is about it without answering it (an EU deferred response: the
    /// evidence follows): checked as [`Self::claim_request`] checks (a
    /// known request, forwarded to `answerer`, not answered yet — else
    /// [`CaseError::AlreadyAnswered`]), and claiming nothing.
    async fn open_request(
        &self,
        forwarded_id: &str,
        answerer: &str,
    ) -> Result<RequestFacts, CaseError>;

    /// Undoes a claim of `answer_id` on request `forwarded_id` (the answer
    /// was rejected after it claimed the request, so a corrected answer may
    /// still come). A claim by another answer is left alone.
    async fn release_claim(&self, forwarded_id: &str, answer_id: &str) -> Result<(), CaseError>;

    /// Records the status of message `id`.
    async fn set_status(&self, id: &str, status: &Status) -> Result<(), CaseError>;

    /// The status of message `id`.
    async fn status(&self, id: &str) -> Result<Option<Status>, CaseError>;

    /// Waits until every request remembered and every claim made so far is
    /// durable: awaited before the message that relies on it is published.
    /// The file store syncs its journal here (many callers share one sync);
    /// the memory store has nothing to keep and PostgreSQL has committed.
    async fn flush(&self) -> Result<(), CaseError> {
        Ok(())
    }
}

/// How many requests and how many message statuses [`MemoryCases::default`]
/// keeps (each; the oldest are forgotten first).
pub const MEMORY_CAPACITY: usize = 20_000;

/// In-process case store (one instance; lost on exit), bounded.
///
/// It keeps the last `capacity` forwarded requests and the statuses of the
/// last `capacity` messages (by first recording; [`MEMORY_CAPACITY`] by
/// default), so a long-running gateway's memory stays flat. Beyond that the
/// oldest are forgotten: an answer to a forgotten request is rejected as
/// `no-matching-request`, and `GET /messages/{id}` no longer knows a
/// forgotten message. A gateway with more requests awaiting their answer
/// than that uses the PostgreSQL store ([`PgCases`]), which keeps them until
/// answered plus [`RETENTION_DAYS`].
#[derive(Debug)]
pub struct MemoryCases {
    requests: Mutex<Bounded<(RequestFacts, Option<String>)>>,
    statuses: Mutex<Bounded<Status>>,
}

impl Default for MemoryCases {
    fn default() -> Self {
        Self::with_capacity(MEMORY_CAPACITY)
    }
}

impl MemoryCases {
    /// A store keeping at most `capacity` requests and `capacity` statuses
    /// (at least one of each).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            requests: Mutex::new(Bounded::new(capacity)),
            statuses: Mutex::new(Bounded::new(capacity)),
        }
    }

    /// How many requests and how many statuses are kept now.
    pub fn sizes(&self) -> (usize, usize) {
        (
            self.requests.lock().map_or(0, |b| b.map.len()),
            self.statuses.lock().map_or(0, |b| b.map.len()),
        )
    }
}

/// A map that forgets its oldest keys (by first insertion) beyond `capacity`.
#[derive(Debug)]
struct Bounded<V> {
    capacity: usize,
    map: HashMap<String, V>,
    order: VecDeque<String>,
}

impl<V> Bounded<V> {
    fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// The value of `key`, inserted with `make` if missing (evicting the
    /// oldest key when full).
    fn entry(&mut self, key: &str, make: impl FnOnce() -> V) -> &mut V {
        if !self.map.contains_key(key) {
            while self.order.len() >= self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
            self.order.push_back(key.to_owned());
        }
        self.map.entry(key.to_owned()).or_insert_with(make)
    }
}

// A std Mutex is right here: the critical sections are short map operations
// and never cross an `.await`.
#[async_trait]
impl CaseStore for MemoryCases {
    async fn put_request(&self, id: &str, facts: &RequestFacts) -> Result<(), CaseError> {
        let id = &*id_key(id);
        let mut map = self
            .requests
            .lock()
            .map_err(|_| CaseError::Store("poisoned".into()))?;
        map.entry(id, || (facts.clone(), None));
        Ok(())
    }

    async fn claim_request(
        &self,
        id: &str,
        answer: &str,
        answerer: &str,
    ) -> Result<RequestFacts, CaseError> {
        let id = &*id_key(id);
        let answer = &*id_key(answer);
        let mut map = self
            .requests
            .lock()
            .map_err(|_| CaseError::Store("poisoned".into()))?;
        let (facts, by) = map
            .map
            .get_mut(id)
            .ok_or_else(|| CaseError::NoMatchingRequest(id.to_owned()))?;
        check_answerer(id, facts, answerer)?;
        match by {
            Some(b) if b != answer => Err(CaseError::AlreadyAnswered {
                request: id.to_owned(),
                by: b.clone(),
            }),
            _ => {
                *by = Some(answer.to_owned());
                Ok(facts.clone())
            }
        }
    }

    async fn open_request(&self, id: &str, answerer: &str) -> Result<RequestFacts, CaseError> {
        let id = &*id_key(id);
        let map = self
            .requests
            .lock()
            .map_err(|_| CaseError::Store("poisoned".into()))?;
        let (facts, by) = map
            .map
            .get(id)
            .ok_or_else(|| CaseError::NoMatchingRequest(id.to_owned()))?;
        check_answerer(id, facts, answerer)?;
        match by {
            Some(b) => Err(CaseError::AlreadyAnswered {
                request: id.to_owned(),
                by: b.clone(),
            }),
            None => Ok(facts.clone()),
        }
    }

    async fn release_claim(&self, id: &str, answer: &str) -> Result<(), CaseError> {
        let id = &*id_key(id);
        let answer = &*id_key(answer);
        let mut map = self
            .requests
            .lock()
            .map_err(|_| CaseError::Store("poisoned".into()))?;
        if let Some((_, by)) = map.map.get_mut(id)
            && by.as_deref() == Some(answer)
        {
            *by = None;
        }
        Ok(())
    }

    async fn set_status(&self, id: &str, status: &Status) -> Result<(), CaseError> {
        let id = &*id_key(id);
        let mut map = self
            .statuses
            .lock()
            .map_err(|_| CaseError::Store("poisoned".into()))?;
        match map.map.get_mut(id) {
            Some(old) => *old = status.clone(),
            None => {
                map.entry(id, || status.clone());
            }
        }
        Ok(())
    }

    async fn status(&self, id: &str) -> Result<Option<Status>, CaseError> {
        let id = &*id_key(id);
        let map = self
            .statuses
            .lock()
            .map_err(|_| CaseError::Store("poisoned".into()))?;
        Ok(map.map.get(id).cloned())
    }
}

/// PostgreSQL case store, shared by all gateway instances.
#[derive(Clone)]
pub struct PgCases {
    pool: Pool,
    schema: String,
}

impl PgCases {
    /// Connects and creates the tables in `schema` if missing.
    pub async fn connect(url: &str, schema: &str) -> Result<Self, CaseError> {
        let store = Self::without_set_up(url, schema)?;
        // Several instances may start at once: the schema is created under
        // an advisory lock, and a start that still collides is tried again.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match store.migrate().await {
                Ok(()) => return Ok(store),
                Err(e) if attempt < 5 => {
                    tracing::warn!(error = %e, attempt, "case store set-up failed; trying again");
                    tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The store in `schema` as it is, for reading (nothing is created).
    fn without_set_up(url: &str, schema: &str) -> Result<Self, CaseError> {
        if schema.is_empty()
            || !schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(CaseError::Store(format!("bad schema name {schema:?}")));
        }
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| CaseError::Store(format!("{url}: {e}")))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(8)
            .build()
            .map_err(|e| CaseError::Store(e.to_string()))?;
        Ok(Self {
            pool,
            schema: schema.to_owned(),
        })
    }

    /// Whether the service has set up its tables in this schema.
    async fn exists(&self) -> Result<bool, CaseError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&format!("{}.cases", self.schema)],
            )
            .await?;
        Ok(row.get(0))
    }

    async fn migrate(&self) -> Result<(), CaseError> {
        let schema = &self.schema;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock(7870303)", &[])
            .await?;
        tx.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
                 CREATE TABLE IF NOT EXISTS {schema}.cases (
                     forwarded_id text PRIMARY KEY,
                     facts text NOT NULL,
                     created_at timestamptz NOT NULL DEFAULT now(),
                     answered_by text,
                     answered_at timestamptz);
                 CREATE TABLE IF NOT EXISTS {schema}.message_status (
                     id text PRIMARY KEY,
                     status text NOT NULL,
                     updated_at timestamptz NOT NULL DEFAULT now());
                 DELETE FROM {schema}.cases
                     WHERE answered_at < now() - interval '{RETENTION_DAYS} days';"
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The requests still waiting for an answer (unordered).
    pub async fn open_requests(&self) -> Result<Vec<OpenRequest>, CaseError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT forwarded_id, facts, extract(epoch FROM created_at)::bigint
                     FROM {}.cases WHERE answered_by IS NULL",
                    self.schema
                ),
                &[],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let facts: RequestFacts = serde_json::from_str(&row.get::<_, String>(1))
                    .map_err(|e| CaseError::Store(e.to_string()))?;
                Ok(OpenRequest::new(
                    &row.get::<_, String>(0),
                    &facts,
                    Some(row.get(2)),
                ))
            })
            .collect()
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, CaseError> {
        self.pool
            .get()
            .await
            .map_err(|e| CaseError::Store(e.to_string()))
    }

    /// Drops the schema (tests).
    pub async fn drop_schema(&self) -> Result<(), CaseError> {
        let client = self.client().await?;
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
            .await?;
        Ok(())
    }
}

fn json<T: Serialize>(v: &T) -> Result<String, CaseError> {
    serde_json::to_string(v).map_err(|e| CaseError::Store(e.to_string()))
}

#[async_trait]
impl CaseStore for PgCases {
    async fn put_request(&self, id: &str, facts: &RequestFacts) -> Result<(), CaseError> {
        let id = &*id_key(id);
        let client = self.client().await?;
        client
            .execute(
                &format!(
                    "INSERT INTO {}.cases (forwarded_id, facts) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    self.schema
                ),
                &[&id, &json(facts)?],
            )
            .await?;
        Ok(())
    }

    async fn claim_request(
        &self,
        id: &str,
        answer: &str,
        answerer: &str,
    ) -> Result<RequestFacts, CaseError> {
        let id = &*id_key(id);
        let answer = &*id_key(answer);
        let client = self.client().await?;
        // One statement: claim if unclaimed or claimed by this same answer,
        // and the answerer is the authority the request went to.
        let row = client
            .query_opt(
                &format!(
                    "UPDATE {}.cases SET answered_by = $2, answered_at = now()
                     WHERE forwarded_id = $1 AND (answered_by IS NULL OR answered_by = $2)
                       AND coalesce(facts::jsonb ->> 'forwarded_to', $3) = $3
                     RETURNING facts",
                    self.schema
                ),
                &[&id, &answer, &answerer],
            )
            .await?;
        if let Some(row) = row {
            let v: String = row.get(0);
            return serde_json::from_str(&v).map_err(|e| CaseError::Store(e.to_string()));
        }
        // why not: unknown, another answerer, or answered by another
        match self.open_request(id, answerer).await {
            Err(e) => Err(e),
            // released again meanwhile: taken as answered, as it just was
            Ok(_) => Err(CaseError::AlreadyAnswered {
                request: id.to_owned(),
                by: String::new(),
            }),
        }
    }

    async fn open_request(&self, id: &str, answerer: &str) -> Result<RequestFacts, CaseError> {
        let id = &*id_key(id);
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!(
                    "SELECT answered_by, facts FROM {}.cases WHERE forwarded_id = $1",
                    self.schema
                ),
                &[&id],
            )
            .await?;
        let Some(r) = row else {
            return Err(CaseError::NoMatchingRequest(id.to_owned()));
        };
        let facts: RequestFacts = serde_json::from_str(&r.get::<_, String>(1))
            .map_err(|e| CaseError::Store(e.to_string()))?;
        check_answerer(id, &facts, answerer)?;
        match r.get::<_, Option<String>>(0) {
            Some(by) => Err(CaseError::AlreadyAnswered {
                request: id.to_owned(),
                by,
            }),
            None => Ok(facts),
        }
    }

    async fn release_claim(&self, id: &str, answer: &str) -> Result<(), CaseError> {
        let id = &*id_key(id);
        let answer = &*id_key(answer);
        let client = self.client().await?;
        client
            .execute(
                &format!(
                    "UPDATE {}.cases SET answered_by = NULL, answered_at = NULL
                     WHERE forwarded_id = $1 AND answered_by = $2",
                    self.schema
                ),
                &[&id, &answer],
            )
            .await?;
        Ok(())
    }

    async fn set_status(&self, id: &str, status: &Status) -> Result<(), CaseError> {
        let id = &*id_key(id);
        let client = self.client().await?;
        client
            .execute(
                &format!(
                    "INSERT INTO {}.message_status (id, status) VALUES ($1, $2)
                     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, updated_at = now()",
                    self.schema
                ),
                &[&id, &json(status)?],
            )
            .await?;
        Ok(())
    }

    async fn status(&self, id: &str) -> Result<Option<Status>, CaseError> {
        let id = &*id_key(id);
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!(
                    "SELECT status FROM {}.message_status WHERE id = $1",
                    self.schema
                ),
                &[&id],
            )
            .await?;
        row.map(|r| {
            let v: String = r.get(0);
            serde_json::from_str(&v).map_err(|e| CaseError::Store(e.to_string()))
        })
        .transpose()
    }
}
