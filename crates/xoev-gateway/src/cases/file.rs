//! The case store of the embedded store: a journal file, `cases.jsonl`, in
//! the same directory as the access log and the consents (one instance).
//!
//! Without it, a single gateway instance kept its forwarded requests in
//! memory only: after a restart (an update, a crash) the tax office's
//! answer to a request forwarded before it matched nothing and was
//! dead-lettered as `no-matching-request`.
//!
//! Every change is a JSON line, appended at once and made durable by the
//! store's sync thread (`fdatasync`): one sync covers every line written
//! before it starts (group commit). A remembered or claimed request is
//! durable once [`CaseStore::flush`] returns, which the service awaits
//! before it publishes the forwarded message — on its async task, so the
//! pipeline threads never wait for the disk; a released claim is durable
//! when the call returns; a status rides along with the next sync (it is
//! information, not a promise to anyone). Opening the
//! store replays the lines and rewrites the file with what is still live:
//! answered requests are dropped [`RETENTION_DAYS`] after their answer, as
//! in the PostgreSQL store, and only the last [`STATUS_CAPACITY`] statuses
//! are kept. A line torn by a crash mid-write (the last one, without its
//! newline) is dropped; any other unreadable line stops the opening with
//! its line number rather than forget requests silently.
//!
//! Written by hand rather than on an embedded database: it is the same
//! append-and-sync discipline as the access log next to it, with one file
//! and no new native dependency.

use super::{Bounded, CaseError, CaseStore, OpenRequest, RETENTION_DAYS, Status};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use tokio::sync::watch;
use xoev_adapters::RequestFacts;
use xoev_core::id_key;

/// Name of the journal in the store's directory.
pub const CASES_FILE: &str = "cases.jsonl";

/// Held locked (`flock`, exclusive) while a store is open: a second gateway
/// instance on the same directory is refused instead of interleaving its
/// journal with this one's.
const LOCK_FILE: &str = "cases.lock";

/// How many message statuses (`GET /messages/{id}`) the file store keeps;
/// the oldest are forgotten first.
pub const STATUS_CAPACITY: usize = 100_000;

/// Lines appended since the last rewrite before the file is rewritten with
/// the live state only (at least this many, and at least twice the live
/// lines).
const COMPACT_AFTER: usize = 50_000;

/// One line of the journal.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
enum Record {
    /// A request was forwarded under `id` at `at` (Unix seconds; absent
    /// in journals written before it was recorded).
    Request {
        id: String,
        facts: Box<RequestFacts>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<i64>,
    },
    /// Answer `answer` claimed request `id` at `at` (Unix seconds).
    Claim { id: String, answer: String, at: i64 },
    /// Answer `answer` gave its claim on request `id` back.
    Release { id: String, answer: String },
    /// The status of message `id`.
    Status { id: String, status: Box<Status> },
}

/// A forwarded request and its claim.
#[derive(Debug)]
struct Request {
    facts: RequestFacts,
    /// When it was forwarded (Unix seconds), if recorded.
    at: Option<i64>,
    /// The answer that claimed it, and when.
    claim: Option<(String, i64)>,
}

/// Durable case store in a directory (one gateway instance).
pub struct FileCases {
    path: PathBuf,
    /// The maps and the append handle. Lock order: `state`, then the
    /// journal's `sync`.
    state: Mutex<State>,
    /// The syncing side, shared with the sync thread.
    journal: Arc<Journal>,
    /// Wakes the sync thread; dropping it ends the thread.
    wake: mpsc::Sender<()>,
    /// The open lock file; its `flock` ends when the store is dropped.
    _lock: File,
    /// [`COMPACT_AFTER`], lower in tests.
    compact_after: usize,
}

/// The syncing side of the journal: never takes the state's lock.
struct Journal {
    path: PathBuf,
    /// Lines written so far (to this journal or a rewritten one); raised
    /// under the state's lock once a line is in the file.
    written: AtomicU64,
    /// How far the journal is synced, and the handle to sync it with.
    sync: Mutex<Synced>,
    /// `fdatasync` calls made (group commit: fewer than the changes).
    syncs: AtomicU64,
    /// How far the journal is durable, for those waiting on it.
    durable: watch::Sender<Durable>,
}

/// What waiters see of the sync thread's work.
#[derive(Clone, Debug, Default)]
struct Durable {
    /// Every line up to this number is on disk.
    through: u64,
    /// The last failed sync: the lines it was to make durable, and why.
    failed: Option<(u64, String)>,
}

impl std::fmt::Debug for FileCases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileCases")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// How far the journal is durable, and a handle to sync it with.
struct Synced {
    /// Every line up to this number is on disk.
    through: u64,
    file: File,
}

struct State {
    file: File,
    /// The journal's length after its last whole line.
    len: u64,
    requests: HashMap<String, Request>,
    statuses: Bounded<Status>,
    /// Lines appended since the file was last rewritten.
    appended: usize,
}

impl FileCases {
    /// Opens (or creates) the journal in `dir`, replays it and rewrites it
    /// with the live state.
    pub fn open(dir: &Path) -> Result<Self, CaseError> {
        Self::open_at(dir, unix_now())
    }

    /// [`Self::open`] as if it were `now` (Unix seconds): retention is
    /// counted from it (tests).
    pub fn open_at(dir: &Path, now: i64) -> Result<Self, CaseError> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, &e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io(&lock_path, &e))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
            |e| match e {
                rustix::io::Errno::WOULDBLOCK => CaseError::Store(format!(
                    "{} is in use by another gateway instance: the embedded store serves one \
                     instance; several share a PostgreSQL store ([audit] store = \"postgres://…\")",
                    dir.display()
                )),
                other => io(&lock_path, &other.into()),
            },
        )?;
        let path = dir.join(CASES_FILE);
        let (mut requests, statuses) = read_journal(&path)?;
        let expired = now - i64::from(RETENTION_DAYS) * 86_400;
        requests.retain(|_, r: &mut Request| r.claim.as_ref().is_none_or(|(_, at)| *at >= expired));
        let file = rewrite(&path, &requests, &statuses)?;
        let sync_handle = file.try_clone().map_err(|e| io(&path, &e))?;
        let len = file.metadata().map_err(|e| io(&path, &e))?.len();
        let journal = Arc::new(Journal {
            path: path.clone(),
            written: AtomicU64::new(0),
            sync: Mutex::new(Synced {
                through: 0,
                file: sync_handle,
            }),
            syncs: AtomicU64::new(0),
            durable: watch::Sender::new(Durable::default()),
        });
        let (wake, woken) = mpsc::channel();
        let syncing = journal.clone();
        std::thread::Builder::new()
            .name("xoev-case-sync".into())
            .spawn(move || syncing.run(&woken))
            .map_err(|e| io(&path, &e))?;
        Ok(Self {
            path,
            _lock: lock,
            journal,
            wake,
            state: Mutex::new(State {
                file,
                len,
                requests,
                statuses,
                appended: 0,
            }),
            compact_after: COMPACT_AFTER,
        })
    }

    /// Reads the journal in `dir` (if any) as [`Self::open`] would, without
    /// taking the lock or changing anything: for `run --check`, which may
    /// run beside a live instance. Returns how many requests it holds.
    pub fn check(dir: &Path) -> Result<usize, CaseError> {
        Ok(read_requests(dir)?.len())
    }

    /// The requests in the journal in `dir` still waiting for an answer,
    /// read as [`Self::check`] reads (no lock, nothing changed: beside a
    /// live instance). Unordered.
    pub fn open_requests(dir: &Path) -> Result<Vec<OpenRequest>, CaseError> {
        Ok(read_requests(dir)?
            .iter()
            .filter(|(_, r)| r.claim.is_none())
            .map(|(id, r)| OpenRequest::new(id, &r.facts, r.at))
            .collect())
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `fdatasync` calls so far; with concurrent changes fewer than the
    /// changes (group commit).
    pub fn syncs(&self) -> u64 {
        self.journal.syncs.load(Ordering::Relaxed)
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, CaseError> {
        self.state
            .lock()
            .map_err(|_| CaseError::Store("case store poisoned".into()))
    }

    /// Runs `f` on the locked state (off the async reactor: the state may
    /// be rewritten to a new file here) and returns its value with the
    /// number of lines written so far: what `f` wrote is durable once the
    /// journal is synced that far.
    fn change<T>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, CaseError>,
    ) -> Result<(T, u64), CaseError> {
        off_reactor(|| {
            let mut state = self.lock()?;
            let value = f(&mut state)?;
            // after `f` has applied its change, so the rewrite holds it
            let live = state.requests.len() + state.statuses.map.len();
            if state.appended >= self.compact_after.max(2 * live) {
                state.appended = 0;
                if let Err(e) = self.compact(&mut state) {
                    tracing::warn!(error = %e, "case store: rewrite failed; appending to the old journal");
                }
            }
            Ok((value, self.journal.written.load(Ordering::Acquire)))
        })
    }

    /// Asks the sync thread to sync what is written so far, without waiting.
    fn wake(&self) {
        // fails only once the thread is gone, which it never is before
        // `self` is dropped
        let _ = self.wake.send(());
    }

    /// Waits (asynchronously) until the journal is durable through line
    /// `target`, or the sync meant to cover it failed.
    async fn durable(&self, target: u64) -> Result<(), CaseError> {
        let ready = |d: &Durable| {
            d.through >= target || d.failed.as_ref().is_some_and(|(t, _)| *t >= target)
        };
        let mut seen = self.journal.durable.subscribe();
        if !ready(&seen.borrow()) {
            self.wake();
        }
        let durable = seen
            .wait_for(ready)
            .await
            .map_err(|_| CaseError::Store("case store closed".into()))?
            .clone();
        match durable.failed {
            Some((_, why)) if durable.through < target => Err(CaseError::Store(why)),
            _ => Ok(()),
        }
    }

    /// Writes `record` (durable once synced; [`Self::change`] also rewrites
    /// the file when enough has been appended since the last rewrite; a
    /// failed rewrite is logged and the journal goes on growing).
    fn append(&self, state: &mut State, record: &Record) -> Result<(), CaseError> {
        let mut line = serde_json::to_vec(record).map_err(|e| CaseError::Store(e.to_string()))?;
        line.push(b'\n');
        if let Err(e) = state.file.write_all(&line) {
            // a partly written line (disk full) would be a corrupt line in
            // the middle once the next one follows: cut it off again
            let _ = state.file.set_len(state.len);
            return Err(io(&self.path, &e));
        }
        state.len += line.len() as u64;
        self.journal.written.fetch_add(1, Ordering::Release);
        state.appended += 1;
        Ok(())
    }

    /// Rewrites the journal with the live state (synced as a whole, so
    /// every line written so far is durable in it) and switches both
    /// handles to it.
    fn compact(&self, state: &mut State) -> Result<(), CaseError> {
        let file = rewrite(&self.path, &state.requests, &state.statuses)?;
        let sync_handle = file.try_clone().map_err(|e| io(&self.path, &e))?;
        let len = file.metadata().map_err(|e| io(&self.path, &e))?.len();
        let mut synced = self
            .journal
            .sync
            .lock()
            .map_err(|_| CaseError::Store("case store poisoned".into()))?;
        synced.file = sync_handle;
        synced.through = self.journal.written.load(Ordering::Acquire);
        self.journal.published(synced.through);
        state.len = len;
        state.file = file;
        Ok(())
    }
}

impl Journal {
    /// The sync thread: syncs whatever is written each time it is woken
    /// (wake-ups that came meanwhile are one), until the store is dropped.
    fn run(&self, woken: &mpsc::Receiver<()>) {
        while woken.recv().is_ok() {
            while woken.try_recv().is_ok() {}
            let target = self.written.load(Ordering::Acquire);
            if let Err(e) = self.sync_through(target) {
                // Waiters get the error; the next wake-up tries again.
                tracing::error!(error = %e, "case store: sync failed");
                self.durable
                    .send_modify(|d| d.failed = Some((target, e.to_string())));
            }
        }
    }

    /// Makes lines up to `through` durable: one `fdatasync` covers every
    /// line written before it starts.
    fn sync_through(&self, through: u64) -> Result<(), CaseError> {
        let mut synced = self
            .sync
            .lock()
            .map_err(|_| CaseError::Store("case store poisoned".into()))?;
        if synced.through >= through {
            return Ok(());
        }
        let target = self.written.load(Ordering::Acquire);
        synced.file.sync_data().map_err(|e| io(&self.path, &e))?;
        self.syncs.fetch_add(1, Ordering::Relaxed);
        synced.through = synced.through.max(target);
        self.published(synced.through);
        Ok(())
    }

    /// Tells the waiters that lines up to `through` are durable.
    fn published(&self, through: u64) {
        self.durable.send_if_modified(|d| {
            let raised = through > d.through;
            d.through = d.through.max(through);
            raised
        });
    }
}

#[async_trait]
impl CaseStore for FileCases {
    async fn put_request(&self, id: &str, facts: &RequestFacts) -> Result<(), CaseError> {
        let id = &*id_key(id);
        self.change(|state| {
            if state.requests.contains_key(id) {
                return Ok(());
            }
            let at = Some(unix_now());
            let record = Record::Request {
                id: id.to_owned(),
                facts: Box::new(facts.clone()),
                at,
            };
            self.append(state, &record)?;
            let request = Request {
                facts: facts.clone(),
                at,
                claim: None,
            };
            state.requests.insert(id.to_owned(), request);
            Ok(())
        })?;
        // durable once flushed; the sync starts now
        self.wake();
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
        let (facts, _) = self.change(|state| {
            let request = checked(state, id, answerer)?;
            match &request.claim {
                Some((by, _)) if by == answer => return Ok(request.facts.clone()),
                Some((by, _)) => {
                    return Err(CaseError::AlreadyAnswered {
                        request: id.to_owned(),
                        by: by.clone(),
                    });
                }
                None => {}
            }
            let at = unix_now();
            let record = Record::Claim {
                id: id.to_owned(),
                answer: answer.to_owned(),
                at,
            };
            self.append(state, &record)?;
            let request = state
                .requests
                .get_mut(id)
                .ok_or_else(|| CaseError::NoMatchingRequest(id.to_owned()))?;
            request.claim = Some((answer.to_owned(), at));
            Ok(request.facts.clone())
        })?;
        // durable once flushed; the sync starts now
        self.wake();
        Ok(facts)
    }

    async fn open_request(&self, id: &str, answerer: &str) -> Result<RequestFacts, CaseError> {
        let id = &*id_key(id);
        // off the reactor: a rewrite may hold the state for a while
        off_reactor(|| {
            let state = self.lock()?;
            let request = checked(&state, id, answerer)?;
            match &request.claim {
                Some((by, _)) => Err(CaseError::AlreadyAnswered {
                    request: id.to_owned(),
                    by: by.clone(),
                }),
                None => Ok(request.facts.clone()),
            }
        })
    }

    async fn release_claim(&self, id: &str, answer: &str) -> Result<(), CaseError> {
        let id = &*id_key(id);
        let answer = &*id_key(answer);
        let ((), through) = self.change(|state| {
            let claimed_by_answer = state
                .requests
                .get(id)
                .and_then(|r| r.claim.as_ref())
                .is_some_and(|(by, _)| by == answer);
            if !claimed_by_answer {
                return Ok(());
            }
            let record = Record::Release {
                id: id.to_owned(),
                answer: answer.to_owned(),
            };
            self.append(state, &record)?;
            if let Some(r) = state.requests.get_mut(id) {
                r.claim = None;
            }
            Ok(())
        })?;
        self.durable(through).await
    }

    async fn set_status(&self, id: &str, status: &Status) -> Result<(), CaseError> {
        let id = &*id_key(id);
        self.change(|state| {
            let record = Record::Status {
                id: id.to_owned(),
                status: Box::new(status.clone()),
            };
            self.append(state, &record)?;
            apply_status(&mut state.statuses, id, status.clone());
            Ok(())
        })?;
        // not waited for: on disk with the next sync
        self.wake();
        Ok(())
    }

    async fn status(&self, id: &str) -> Result<Option<Status>, CaseError> {
        let id = &*id_key(id);
        // off the reactor: a rewrite may hold the state for a while
        off_reactor(|| Ok(self.lock()?.statuses.map.get(id).cloned()))
    }

    async fn flush(&self) -> Result<(), CaseError> {
        self.durable(self.journal.written.load(Ordering::Acquire))
            .await
    }
}

/// Request `id`, for a message of `answerer` about it: known, and
/// forwarded to `answerer` (where the case says).
fn checked<'s>(state: &'s State, id: &str, answerer: &str) -> Result<&'s Request, CaseError> {
    let request = state
        .requests
        .get(id)
        .ok_or_else(|| CaseError::NoMatchingRequest(id.to_owned()))?;
    super::check_answerer(id, &request.facts, answerer)?;
    Ok(request)
}

/// Applies the journal's complete lines; drops a torn last line.
/// The requests and statuses of the journal at `path` (none if there is
/// no journal), replayed.
fn read_journal(path: &Path) -> Result<(HashMap<String, Request>, Bounded<Status>), CaseError> {
    let mut requests = HashMap::new();
    let mut statuses = Bounded::new(STATUS_CAPACITY);
    match std::fs::read(path) {
        Ok(bytes) => replay(path, &bytes, &mut requests, &mut statuses)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(path, &e)),
    }
    Ok((requests, statuses))
}

/// The requests of the journal in `dir`, replayed without the lock.
fn read_requests(dir: &Path) -> Result<HashMap<String, Request>, CaseError> {
    Ok(read_journal(&dir.join(CASES_FILE))?.0)
}

fn replay(
    path: &Path,
    bytes: &[u8],
    requests: &mut HashMap<String, Request>,
    statuses: &mut Bounded<Status>,
) -> Result<(), CaseError> {
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(end) => &bytes[..=end],
        None => &[][..],
    };
    if complete.len() < bytes.len() {
        tracing::warn!(
            path = %path.display(),
            bytes = bytes.len() - complete.len(),
            "case store: dropping a torn last line (a write cut off by a crash)"
        );
    }
    for (n, line) in complete.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record: Record = serde_json::from_slice(line).map_err(|e| {
            CaseError::Store(format!(
                "{} line {}: unreadable ({e}); the file needs repair, nothing was changed",
                path.display(),
                n + 1
            ))
        })?;
        match record {
            Record::Request { id, facts, at } => {
                requests.entry(id).or_insert(Request {
                    facts: *facts,
                    at,
                    claim: None,
                });
            }
            Record::Claim { id, answer, at } => {
                if let Some(r) = requests.get_mut(&id) {
                    r.claim = Some((answer, at));
                }
            }
            Record::Release { id, answer } => {
                if let Some(r) = requests.get_mut(&id)
                    && r.claim.as_ref().is_some_and(|(by, _)| *by == answer)
                {
                    r.claim = None;
                }
            }
            Record::Status { id, status } => apply_status(statuses, &id, *status),
        }
    }
    Ok(())
}

fn apply_status(statuses: &mut Bounded<Status>, id: &str, status: Status) {
    match statuses.map.get_mut(id) {
        Some(old) => *old = status,
        None => {
            statuses.entry(id, || status);
        }
    }
}

/// Writes the live state to a new file, syncs it, puts it in place of the
/// journal and returns the new journal opened for appending.
fn rewrite(
    path: &Path,
    requests: &HashMap<String, Request>,
    statuses: &Bounded<Status>,
) -> Result<File, CaseError> {
    let tmp = path.with_extension("jsonl.tmp");
    let file = File::create(&tmp).map_err(|e| io(&tmp, &e))?;
    let mut out = BufWriter::new(file);
    let mut write = |record: &Record| -> Result<(), CaseError> {
        serde_json::to_writer(&mut out, record).map_err(|e| CaseError::Store(e.to_string()))?;
        out.write_all(b"\n").map_err(|e| io(&tmp, &e))
    };
    for (id, r) in requests {
        write(&Record::Request {
            id: id.clone(),
            facts: Box::new(r.facts.clone()),
            at: r.at,
        })?;
        if let Some((answer, at)) = &r.claim {
            write(&Record::Claim {
                id: id.clone(),
                answer: answer.clone(),
                at: *at,
            })?;
        }
    }
    // oldest first, so a replay keeps the same ones
    for id in &statuses.order {
        if let Some(status) = statuses.map.get(id) {
            write(&Record::Status {
                id: id.clone(),
                status: Box::new(status.clone()),
            })?;
        }
    }
    let file = out.into_inner().map_err(|e| io(&tmp, e.error()))?;
    file.sync_all().map_err(|e| io(&tmp, &e))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| io(path, &e))?;
    if let Some(dir) = path.parent() {
        // the rename itself is durable once the directory is synced
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io(dir, &e))?;
    }
    OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| io(path, &e))
}

/// Runs blocking file work in place: with `block_in_place` on a
/// multi-thread runtime (its worker hands its other tasks on first), as is
/// on the gateway's pipeline threads and outside a runtime.
fn off_reactor<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

fn io(path: &Path, e: &std::io::Error) -> CaseError {
    CaseError::Store(format!("{}: {e}", path.display()))
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(tax_id: &str) -> RequestFacts {
        let path =
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join(crate::demo::REQUEST);
        let mut f =
            RequestFacts::from_xnachweis(&std::fs::read(path).expect("request")).expect("facts");
        f.tax_id = tax_id.to_owned();
        f
    }

    #[test]
    fn a_journal_written_before_forwarding_times_were_kept_still_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        // a request line as earlier versions wrote it: no `at`, no `forwarded_to`
        let old = serde_json::to_value(Record::Request {
            id: "old".into(),
            facts: Box::new(facts("12345678901")),
            at: None,
        })
        .expect("json");
        assert!(old.to_string().contains("\"facts\""), "{old}");
        assert!(!old.to_string().contains("\"at\""), "{old}");
        assert!(!old.to_string().contains("forwarded_to"), "{old}");
        std::fs::write(dir.path().join(CASES_FILE), format!("{old}\n")).expect("write");
        let open = FileCases::open_requests(dir.path()).expect("read");
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].forwarded_at, None);
        // the header's reader stands in for where it went
        assert_eq!(open[0].forwarded_to, "fa:2613");
    }

    fn status(state: &str) -> Status {
        Status {
            state: state.into(),
            stage: None,
            reason: None,
            detail: None,
            destination: Some("xoev.inbox.fa-2613".into()),
            copies: Vec::new(),
            digest: None,
            forwarded_id: None,
            sender: Some("ags:06611000".into()),
            updated: "2026-11-26T17:00:00Z".into(),
        }
    }

    #[tokio::test]
    async fn requests_claims_and_statuses_survive_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = FileCases::open(dir.path()).expect("open");
            store
                .put_request("req-1", &facts("12345678901"))
                .await
                .expect("put");
            store
                .put_request("req-2", &facts("23456789012"))
                .await
                .expect("put");
            store
                .put_request("req-3", &facts("34567890123"))
                .await
                .expect("put");
            store
                .claim_request("req-2", "answer-2", "fa:2613")
                .await
                .expect("claim");
            store
                .claim_request("req-3", "answer-3", "fa:2613")
                .await
                .expect("claim");
            store
                .release_claim("req-3", "answer-3")
                .await
                .expect("release");
            store
                .set_status("msg-1", &status("forwarded"))
                .await
                .expect("status");
            store
                .set_status("msg-1", &status("rejected"))
                .await
                .expect("status");
        }
        let store = FileCases::open(dir.path()).expect("reopen");
        // the answer to a request forwarded before the restart matches it
        let f = store
            .claim_request("req-1", "answer-1", "fa:2613")
            .await
            .expect("claim after restart");
        assert_eq!(f.tax_id, "12345678901");
        // a claim made before the restart still holds
        match store
            .claim_request("req-2", "another-answer", "fa:2613")
            .await
        {
            Err(CaseError::AlreadyAnswered { by, .. }) => assert_eq!(by, "answer-2"),
            other => panic!("expected already-answered, got {other:?}"),
        }
        store
            .claim_request("req-2", "answer-2", "fa:2613")
            .await
            .expect("the same answer again (a retry)");
        // a released claim stays released
        store
            .claim_request("req-3", "corrected-answer-3", "fa:2613")
            .await
            .expect("released before the restart");
        assert_eq!(
            store
                .status("msg-1")
                .await
                .expect("status")
                .map(|s| s.state),
            Some("rejected".to_owned())
        );
        assert!(matches!(
            store.claim_request("unknown", "a", "fa:2613").await,
            Err(CaseError::NoMatchingRequest(_))
        ));
    }

    #[tokio::test]
    async fn answered_requests_are_dropped_after_the_retention_period() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = FileCases::open(dir.path()).expect("open");
            store
                .put_request("answered", &facts("12345678901"))
                .await
                .expect("put");
            store
                .put_request("open", &facts("23456789012"))
                .await
                .expect("put");
            store
                .claim_request("answered", "answer", "fa:2613")
                .await
                .expect("claim");
        }
        let day = 86_400;
        let later = unix_now() + i64::from(RETENTION_DAYS) * day - day;
        let store = FileCases::open_at(dir.path(), later).expect("reopen within retention");
        assert!(
            store
                .claim_request("answered", "answer", "fa:2613")
                .await
                .is_ok()
        );
        drop(store);
        let after = unix_now() + i64::from(RETENTION_DAYS) * day + day;
        let store = FileCases::open_at(dir.path(), after).expect("reopen after retention");
        assert!(matches!(
            store.claim_request("answered", "answer", "fa:2613").await,
            Err(CaseError::NoMatchingRequest(_))
        ));
        // an unanswered request is kept (as in the PostgreSQL store)
        assert!(
            store
                .claim_request("open", "answer-2", "fa:2613")
                .await
                .is_ok()
        );
        // and the rewritten file no longer holds the dropped tax id
        drop(store);
        let text = std::fs::read_to_string(dir.path().join(CASES_FILE)).expect("read");
        assert!(!text.contains("12345678901"), "{text}");
        assert!(text.contains("23456789012"), "{text}");
    }

    #[tokio::test]
    async fn a_torn_last_line_is_dropped_and_a_corrupt_line_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = FileCases::open(dir.path()).expect("open");
            store
                .put_request("req-1", &facts("12345678901"))
                .await
                .expect("put");
        }
        let path = dir.path().join(CASES_FILE);
        let mut text = std::fs::read_to_string(&path).expect("read");
        // a crash in the middle of appending the next line
        let torn = "{\"op\":\"claim\",\"id\":\"req-1\",\"ans";
        std::fs::write(&path, format!("{text}{torn}")).expect("write");
        let store = FileCases::open(dir.path()).expect("a torn last line is tolerated");
        store
            .claim_request("req-1", "answer", "fa:2613")
            .await
            .expect("the torn claim never happened");
        drop(store);
        // the rewrite left whole lines only
        let rewritten = std::fs::read_to_string(&path).expect("read");
        assert!(rewritten.ends_with('\n'), "{rewritten}");
        for line in rewritten.lines() {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|e| panic!("{e}: {line}"));
        }

        text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, format!("garbage\n{text}")).expect("write");
        let err = FileCases::open(dir.path()).expect_err("a corrupt line is refused");
        assert!(err.to_string().contains("line 1"), "{err}");
        let err = FileCases::check(dir.path()).expect_err("and reported by the check");
        assert!(err.to_string().contains("line 1"), "{err}");
        assert!(
            std::fs::read_to_string(&path)
                .expect("read")
                .starts_with("garbage\n"),
            "the file is left as it was"
        );
    }

    #[test]
    fn a_second_instance_on_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = FileCases::open(dir.path()).expect("open");
        let err = FileCases::open(dir.path()).expect_err("second open");
        assert!(
            err.to_string().contains("another gateway instance"),
            "{err}"
        );
        // `run --check` beside a running instance only reads
        assert_eq!(FileCases::check(dir.path()).expect("check"), 0);
        drop(first);
        FileCases::open(dir.path()).expect("free again once the first is gone");
    }

    #[tokio::test]
    async fn the_journal_is_rewritten_when_it_grows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = FileCases::open(dir.path()).expect("open");
        store.compact_after = 100;
        let status = status("forwarded");
        for _ in 0..150 {
            store.set_status("msg-1", &status).await.expect("status");
        }
        // one status is live: the rewrite after 100 lines kept one, and 50
        // were appended since
        let lines = std::fs::read_to_string(store.path())
            .expect("read")
            .lines()
            .count();
        assert!(lines <= 51, "{lines} lines after the rewrite");
        // the change that triggers a rewrite is in the rewritten file
        for i in 0..300 {
            let id = format!("req-{i}");
            store
                .put_request(&id, &facts("12345678901"))
                .await
                .expect("put");
        }
        drop(store);
        let store = FileCases::open(dir.path()).expect("reopen");
        for i in 0..300 {
            assert!(
                store
                    .claim_request(&format!("req-{i}"), "a", "fa:2613")
                    .await
                    .is_ok(),
                "req-{i} lost"
            );
        }
        assert!(store.status("msg-1").await.expect("status").is_some());
        drop(store);

        // the change that triggers a rewrite is in the rewritten file: with
        // one live request, its claim is the second line, and 2 lines for 1
        // live request starts a rewrite
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = FileCases::open(dir.path()).expect("open");
        store.compact_after = 1;
        store
            .put_request("req", &facts("12345678901"))
            .await
            .expect("put");
        store
            .claim_request("req", "x", "fa:2613")
            .await
            .expect("claim");
        drop(store);
        let store = FileCases::open(dir.path()).expect("reopen");
        match store.claim_request("req", "y", "fa:2613").await {
            Err(CaseError::AlreadyAnswered { by, .. }) => assert_eq!(by, "x"),
            other => panic!("the claim that started the rewrite was lost: {other:?}"),
        }
    }

    /// How far the journal is synced, and how many lines it has.
    fn synced(store: &FileCases) -> (u64, u64) {
        let through = store.journal.sync.lock().expect("lock").through;
        (through, store.journal.written.load(Ordering::Acquire))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_is_durable_once_flushed_and_a_failed_sync_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileCases::open(dir.path()).expect("open");
        store
            .put_request("req-1", &facts("12345678901"))
            .await
            .expect("put");
        store.flush().await.expect("flush");
        let (through, written) = synced(&store);
        assert_eq!((through, written), (1, 1));
        assert!(store.syncs() >= 1);
        // nothing new: a flush needs no sync
        let before = store.syncs();
        store.flush().await.expect("flush");
        assert_eq!(store.syncs(), before);

        // A handle that cannot be synced (a pipe: EINVAL) stands in for a
        // failing disk: the flush reports it, the request stays in memory.
        let (_reader, writer) = std::io::pipe().expect("pipe");
        let good = std::mem::replace(
            &mut store.journal.sync.lock().expect("lock").file,
            File::from(std::os::fd::OwnedFd::from(writer)),
        );
        store
            .put_request("req-2", &facts("23456789012"))
            .await
            .expect("written");
        let err = store.flush().await.expect_err("the sync failed");
        assert!(err.to_string().contains("cases.jsonl"), "{err}");
        assert_eq!(err.as_str(), "case-store-unavailable");
        // the disk is back: the next flush covers the line
        store.journal.sync.lock().expect("lock").file = good;
        store
            .set_status("msg-2", &status("forwarded"))
            .await
            .expect("status");
        store.flush().await.expect("flush after repair");
        let (through, written) = synced(&store);
        assert_eq!(through, written);
        assert_eq!(written, 3);
    }
}
