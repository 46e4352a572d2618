//! The embedded store: two append-only JSON-lines files in one directory,
//! `access-log.jsonl` (one entry per line) and `consents.jsonl` (one
//! registration or revocation event per line). Every write is followed by
//! `fsync`; an exclusive `flock` around each write lets several processes
//! (a gateway and the CLI, say) share the directory.
//!
//! Access-log appends use **group commit**: appends that arrive while an
//! `fsync` is under way queue up, and one writer thread writes all of them
//! together (consecutive entries of the chain, in arrival order) under one
//! `flock` and one `fsync`. Every caller's future resolves only once its own
//! entry is durable; if writing or syncing a batch fails, every caller of
//! that batch gets the error. A lone append waits for nothing: the writer
//! starts at once when idle.

use crate::citizen::CitizenRef;
use crate::consent::{self, Consent, ConsentError, ConsentStore, NewConsent};
use crate::error::StoreError;
use crate::group::{self, Group};
use crate::log::{AccessLog, ChainHead, ChainReport, Entry, NewEntry, Unreadable, verify_chain};
use crate::timefmt;
use rustix::fs::{FlockOperation, flock};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;

/// File name of the access log inside the store directory.
pub const LOG_FILE: &str = "access-log.jsonl";
/// File name of the consent events inside the store directory.
pub const CONSENTS_FILE: &str = "consents.jsonl";

/// Longest line accepted when looking for the chain head (entries are far
/// shorter: every field is limited).
const MAX_LINE: u64 = 64 * 1024;

/// Most entries written under one `fsync` (a bound on the batch buffer; a
/// longer queue is written in several batches, in order).
const MAX_BATCH: usize = 1024;

/// The embedded store: a directory with two JSON-lines files.
///
/// Cheap to clone; clones share one writer.
#[derive(Debug, Clone)]
pub struct FileStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    writer: Mutex<Option<LogWriter>>,
    /// Appends waiting for the group-commit writer.
    group: Group,
    /// Access-log batches made durable (one `fsync` each).
    syncs: AtomicU64,
    /// The consents as last parsed, with the identity of the file version
    /// they came from (see [`Inner::consents`]).
    consents: Mutex<Option<(FileVersion, Arc<Vec<Consent>>)>>,
}

/// Identifies one version of an append-only file: any append (ours or
/// another process's) changes its length and modification time, a
/// replacement its inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileVersion {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
}

impl FileVersion {
    fn of(file: &File, path: &Path) -> Result<Self, StoreError> {
        let m = file.metadata().map_err(|e| StoreError::io(path, e))?;
        Ok(Self::from_metadata(&m))
    }

    fn from_metadata(m: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        }
    }
}

#[derive(Debug)]
struct LogWriter {
    file: File,
    /// File length after our last write (to notice other writers).
    len: u64,
    head: Option<ChainHead>,
}

/// One line of `consents.jsonl`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
enum ConsentEvent {
    Registered(Consent),
    Revoked {
        id: String,
        citizen: CitizenRef,
        #[serde(with = "timefmt::serde_utc")]
        at: OffsetDateTime,
    },
}

impl FileStore {
    /// Opens (and creates, if missing) the store directory `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        Ok(Self {
            inner: Arc::new(Inner {
                dir,
                writer: Mutex::new(None),
                group: Group::default(),
                syncs: AtomicU64::new(0),
                consents: Mutex::new(None),
            }),
        })
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Path of the access-log file.
    pub fn log_path(&self) -> PathBuf {
        self.inner.dir.join(LOG_FILE)
    }

    /// How many access-log batches this handle (and its clones) made
    /// durable, one `fsync` each; with concurrent appends, fewer than the
    /// entries appended (group commit).
    pub fn log_syncs(&self) -> u64 {
        self.inner.syncs.load(Ordering::Relaxed)
    }

    /// Path of the consents file.
    pub fn consents_path(&self) -> PathBuf {
        self.inner.dir.join(CONSENTS_FILE)
    }

    /// Like [`Self::blocking`], for short calls on the hot path (the cached
    /// consent list: one `open` + `fstat` when nothing changed). On a
    /// multi-thread runtime it runs in place: right there when the caller is
    /// already on a blocking thread (the gateway's pipeline), else with
    /// `block_in_place`, which moves the worker's other tasks away first.
    /// That saves the hand-off to another blocking thread and back, which
    /// cost more than the call (`xoev-bench --only process stages`).
    async fn blocking_short<T, E>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi_thread {
            tokio::task::block_in_place(|| f(&self.inner))
        } else {
            self.blocking(f).await
        }
    }

    async fn blocking<T, E>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| E::from(StoreError::from(e)))?
    }
}

impl Inner {
    fn log_path(&self) -> PathBuf {
        self.dir.join(LOG_FILE)
    }

    fn consents_path(&self) -> PathBuf {
        self.dir.join(CONSENTS_FILE)
    }

    /// Queues `new` for the group-commit writer (starting it on a blocking
    /// thread if idle) and waits until the entry is durable.
    async fn append(self: &Arc<Self>, new: NewEntry) -> Result<Entry, StoreError> {
        check_entry(&new)?;
        let (rx, run) = self.group.enqueue(new);
        if let Some(mut run) = run {
            let inner = self.clone();
            // Dropped unrun (runtime shutting down), `run` fails the queue.
            drop(tokio::task::spawn_blocking(move || {
                while let Some((batch, replies)) = run.next_batch(MAX_BATCH) {
                    group::reply(replies, inner.append_batch(batch));
                }
            }));
        }
        group::wait(rx).await
    }

    /// Appends `batch` as consecutive entries under one `flock` and one
    /// `fsync`. `Err` (nothing of the batch is known durable) concerns every
    /// entry; `Ok` holds one result per entry (an entry that cannot be
    /// encoded fails alone and takes no place in the chain).
    fn append_batch(
        &self,
        batch: Vec<NewEntry>,
    ) -> Result<Vec<Result<Entry, StoreError>>, StoreError> {
        let path = self.log_path();
        let mut guard = self
            .writer
            .lock()
            .map_err(|_| StoreError::Task("access-log writer poisoned".into()))?;
        if guard.is_none() {
            *guard = Some(LogWriter {
                file: open_append(&path)?,
                len: u64::MAX,
                head: None,
            });
        }
        let Some(w) = guard.as_mut() else {
            return Err(StoreError::Task("access-log writer missing".into()));
        };
        flock(&w.file, FlockOperation::LockExclusive)
            .map_err(|e| StoreError::io(&path, e.into()))?;
        let result = append_locked(w, &path, batch);
        if matches!(&result, Ok(done) if done.iter().any(Result::is_ok)) {
            self.syncs.fetch_add(1, Ordering::Relaxed);
        }
        // Closing the file would release the lock as well; unlocking
        // explicitly keeps the descriptor for the next append.
        let unlocked = flock(&w.file, FlockOperation::Unlock);
        if result.is_err() || unlocked.is_err() {
            // Forget the cached head: the next append re-reads the file.
            *guard = None;
        }
        result
    }

    fn read_log(&self) -> Result<Vec<Result<Entry, Unreadable>>, StoreError> {
        let path = self.log_path();
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        // A shared lock: never read a line a writer is halfway through.
        let _lock = SharedLock::new(&file, &path)?;
        let mut out = Vec::new();
        for (i, line) in BufReader::new(&file).split(b'\n').enumerate() {
            let line = line.map_err(|e| StoreError::io(&path, e))?;
            out.push(
                serde_json::from_slice::<Entry>(&line).map_err(|e| Unreadable {
                    location: format!("{}:{}", path.display(), i + 1),
                    detail: e.to_string(),
                }),
            );
        }
        Ok(out)
    }

    /// The readable entries matching `keep`; any unreadable record is an
    /// error (a citizen must not be shown a silently shortened log).
    fn select(&self, keep: impl Fn(&Entry) -> bool) -> Result<Vec<Entry>, StoreError> {
        let mut out = Vec::new();
        for rec in self.read_log()? {
            let e = rec.map_err(|u| StoreError::Corrupt {
                location: u.location,
                detail: u.detail,
            })?;
            if keep(&e) {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// All consents. The access check asks for every message, so the parsed
    /// file is kept and parsed again only when the file changed (its length,
    /// modification time or inode; a registration or revocation, by any
    /// process, appends a line).
    fn consents(&self) -> Result<Arc<Vec<Consent>>, StoreError> {
        let path = self.consents_path();
        // The usual case, an unchanged file, costs one `stat` of the path
        // (was: open, `fstat`, close). The version kept with the cache was
        // read from the open file under the shared lock; a file that
        // differs in device, inode, length or modification time is opened
        // and parsed again.
        let current = match std::fs::metadata(&path) {
            Ok(m) => FileVersion::from_metadata(&m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Arc::default()),
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        let cached = self.consents.lock().ok().and_then(|c| {
            c.as_ref()
                .filter(|(at, _)| *at == current)
                .map(|(_, all)| all.clone())
        });
        if let Some(all) = cached {
            return Ok(all);
        }
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Arc::default()),
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        // A shared lock: never read a line a writer is halfway through.
        let _lock = SharedLock::new(&file, &path)?;
        let version = FileVersion::of(&file, &path)?;
        let all = Arc::new(parse_consents(&file, &path)?);
        if let Ok(mut c) = self.consents.lock() {
            *c = Some((version, all.clone()));
        }
        Ok(all)
    }

    fn consents_locked<T>(
        &self,
        f: impl FnOnce(&mut File, Vec<Consent>) -> Result<T, ConsentError>,
    ) -> Result<T, ConsentError> {
        let path = self.consents_path();
        let mut file = open_append(&path)?;
        flock(&file, FlockOperation::LockExclusive).map_err(|e| StoreError::io(&path, e.into()))?;
        let result = parse_consents(&file, &path)
            .map_err(ConsentError::from)
            .and_then(|all| f(&mut file, all));
        let _ = flock(&file, FlockOperation::Unlock);
        result
    }
}

fn append_locked(
    w: &mut LogWriter,
    path: &Path,
    batch: Vec<NewEntry>,
) -> Result<Vec<Result<Entry, StoreError>>, StoreError> {
    let len = w
        .file
        .metadata()
        .map_err(|e| StoreError::io(path, e))?
        .len();
    if len != w.len {
        w.head = read_head(&mut w.file, path, len)?;
    }
    let mut head = w.head.clone();
    let mut lines = Vec::with_capacity(batch.len() * 512);
    let mut out = Vec::with_capacity(batch.len());
    for new in batch {
        let entry = Entry::chain(new, head.as_ref(), OffsetDateTime::now_utc());
        match serde_json::to_writer(&mut lines, &entry) {
            Ok(()) => {
                lines.push(b'\n');
                head = Some(entry.head());
                out.push(Ok(entry));
            }
            Err(e) => {
                // serde_json writes nothing more after an error, but what it
                // wrote of this entry must not reach the file.
                let keep = lines.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                lines.truncate(keep);
                out.push(Err(StoreError::Corrupt {
                    location: path.display().to_string(),
                    detail: format!("cannot encode entry: {e}"),
                }));
            }
        }
    }
    if lines.is_empty() {
        return Ok(out);
    }
    // One write of whole lines, then one fsync for all of them.
    w.file
        .write_all(&lines)
        .map_err(|e| StoreError::io(path, e))?;
    w.file.sync_data().map_err(|e| StoreError::io(path, e))?;
    w.len = len + lines.len() as u64;
    w.head = head;
    Ok(out)
}

/// Reads the last line of the log (the chain head). Refuses to continue a
/// log whose last line is incomplete or unreadable: appending there would
/// chain to an unknown hash.
fn read_head(file: &mut File, path: &Path, len: u64) -> Result<Option<ChainHead>, StoreError> {
    if len == 0 {
        return Ok(None);
    }
    let start = len.saturating_sub(MAX_LINE + 1);
    let mut tail = Vec::new();
    file.seek(SeekFrom::Start(start))
        .and_then(|_| Read::take(&mut *file, len - start).read_to_end(&mut tail))
        .map_err(|e| StoreError::io(path, e))?;
    let corrupt = |detail: &str| StoreError::Corrupt {
        location: format!("{} (last line)", path.display()),
        detail: detail.to_owned(),
    };
    let Some(body) = tail.strip_suffix(b"\n") else {
        return Err(corrupt("the last line is incomplete (no newline)"));
    };
    let line = match body.iter().rposition(|&b| b == b'\n') {
        Some(i) => &body[i + 1..],
        None if start == 0 => body,
        None => return Err(corrupt("the last line is too long")),
    };
    let entry: Entry =
        serde_json::from_slice(line).map_err(|e| corrupt(&format!("not an entry: {e}")))?;
    Ok(Some(entry.head()))
}

/// A shared `flock` on a file opened for reading, released on drop.
struct SharedLock<'a>(&'a File);

impl<'a> SharedLock<'a> {
    fn new(file: &'a File, path: &Path) -> Result<Self, StoreError> {
        flock(file, FlockOperation::LockShared).map_err(|e| StoreError::io(path, e.into()))?;
        Ok(Self(file))
    }
}

impl Drop for SharedLock<'_> {
    fn drop(&mut self) {
        // Closing the file releases the lock anyway.
        let _ = flock(self.0, FlockOperation::Unlock);
    }
}

/// Opens a file for reading and appending, creating it (and syncing the
/// directory) if needed.
fn open_append(path: &Path) -> Result<File, StoreError> {
    let existed = path.exists();
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| StoreError::io(path, e))?;
    if !existed && let Some(dir) = path.parent() {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::io(dir, e))?;
    }
    Ok(file)
}

/// Folds the consent events of `file` (read from its start) into consents.
fn parse_consents(file: &File, path: &Path) -> Result<Vec<Consent>, StoreError> {
    let mut reader = file;
    reader
        .seek(SeekFrom::Start(0))
        .map_err(|e| StoreError::io(path, e))?;
    let mut all: Vec<Consent> = Vec::new();
    for (i, line) in BufReader::new(reader).split(b'\n').enumerate() {
        let line = line.map_err(|e| StoreError::io(path, e))?;
        let event: ConsentEvent =
            serde_json::from_slice(&line).map_err(|e| StoreError::Corrupt {
                location: format!("{}:{}", path.display(), i + 1),
                detail: e.to_string(),
            })?;
        match event {
            ConsentEvent::Registered(c) => {
                if !all.iter().any(|x| x.id == c.id) {
                    all.push(c);
                }
            }
            ConsentEvent::Revoked { id, citizen, at } => {
                if let Some(c) = all
                    .iter_mut()
                    .find(|c| c.id == id && c.citizen == citizen && c.revoked_at.is_none())
                {
                    c.revoked_at = Some(at);
                }
            }
        }
    }
    Ok(all)
}

fn write_event(file: &mut File, path: &Path, event: &ConsentEvent) -> Result<(), StoreError> {
    let mut line = serde_json::to_vec(event).map_err(|e| StoreError::Corrupt {
        location: path.display().to_string(),
        detail: format!("cannot encode consent: {e}"),
    })?;
    line.push(b'\n');
    file.write_all(&line)
        .and_then(|_| file.sync_data())
        .map_err(|e| StoreError::io(path, e))
}

/// Checks the fields of an entry to append (same limits as consents).
pub(crate) fn check_entry(e: &NewEntry) -> Result<(), StoreError> {
    let fields = [
        ("requester", Some(&e.requester)),
        ("answerer", e.answerer.as_ref()),
        ("evidence_type", Some(&e.evidence_type)),
        ("period", e.period.as_ref()),
        ("purpose", Some(&e.purpose)),
        ("consent", e.consent.as_ref()),
        ("request_message_id", Some(&e.request_message_id)),
        ("answer_message_id", e.answer_message_id.as_ref()),
    ];
    if e.outcome
        .to_string()
        .parse::<crate::log::Outcome>()
        .is_err()
    {
        return Err(StoreError::InvalidEntry(format!(
            "outcome {:?}: a rejection reason is 1-64 characters of a-z, 0-9 and '-'",
            e.outcome.to_string()
        )));
    }
    for (name, value) in fields {
        if let Some(v) = value {
            consent::check_field(name, v)
                .map_err(|err| StoreError::InvalidEntry(err.to_string()))?;
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl AccessLog for FileStore {
    async fn append(&self, entry: NewEntry) -> Result<Entry, StoreError> {
        self.inner.append(entry).await
    }

    async fn entries_for(&self, citizen: &CitizenRef) -> Result<Vec<Entry>, StoreError> {
        let citizen = citizen.clone();
        self.blocking(move |inner| inner.select(|e| e.citizen == citizen))
            .await
    }

    async fn entries_for_request(
        &self,
        request_message_id: &str,
    ) -> Result<Vec<Entry>, StoreError> {
        let id = request_message_id.to_owned();
        self.blocking(move |inner| inner.select(|e| e.request_message_id == id))
            .await
    }

    async fn verify(&self, expected: Option<&ChainHead>) -> Result<ChainReport, StoreError> {
        let expected = expected.cloned();
        self.blocking(move |inner| Ok(verify_chain(inner.read_log()?, None, expected.as_ref())))
            .await
    }
}

#[async_trait::async_trait]
impl ConsentStore for FileStore {
    async fn register(&self, new: NewConsent) -> Result<Consent, ConsentError> {
        consent::check_new(&new)?;
        self.blocking(move |inner| {
            let path = inner.consents_path();
            inner.consents_locked(|file, all| {
                if all.iter().any(|c| c.id == new.id) {
                    return Err(ConsentError::Duplicate { id: new.id });
                }
                let c = Consent::from_new(new, OffsetDateTime::now_utc());
                write_event(file, &path, &ConsentEvent::Registered(c.clone()))?;
                Ok(c)
            })
        })
        .await
    }

    async fn revoke(
        &self,
        citizen: &CitizenRef,
        id: &str,
        at: OffsetDateTime,
    ) -> Result<Consent, ConsentError> {
        let citizen = citizen.clone();
        let id = id.to_owned();
        let at = timefmt::normalize(at);
        self.blocking(move |inner| {
            let path = inner.consents_path();
            inner.consents_locked(|file, all| {
                let Some(mut c) = all.into_iter().find(|c| c.id == id && c.citizen == citizen)
                else {
                    return Err(ConsentError::NotFound { id });
                };
                if let Some(prev) = c.revoked_at {
                    return Err(ConsentError::AlreadyRevoked { id, at: prev });
                }
                write_event(file, &path, &ConsentEvent::Revoked { id, citizen, at })?;
                c.revoked_at = Some(at);
                Ok(c)
            })
        })
        .await
    }

    async fn list(&self, citizen: &CitizenRef) -> Result<Vec<Consent>, StoreError> {
        let citizen = citizen.clone();
        self.blocking_short(move |inner| {
            Ok(inner
                .consents()?
                .iter()
                .filter(|c| c.citizen == citizen)
                .cloned()
                .collect())
        })
        .await
    }
}
