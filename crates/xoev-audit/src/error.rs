//! Errors of the storage backends.

use std::path::PathBuf;

/// A storage backend failed; nothing was decided about the citizen's data.
///
/// Callers treat this as a transient fault (retry or reject with
/// "store unavailable"), never as a consent decision.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store location is neither a directory path nor a `postgres://` URL,
    /// or the PostgreSQL schema name is not a plain identifier.
    #[error("invalid store location: {0}")]
    InvalidLocation(String),
    /// Reading or writing a file of the embedded store failed.
    #[error("{path}: {error}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// A stored record cannot be read back (damaged or edited by hand).
    #[error("{location}: unreadable record: {detail}")]
    Corrupt {
        /// File and line, or table and key, of the record.
        location: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The PostgreSQL server refused or failed a statement.
    #[error("postgresql: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// No PostgreSQL connection could be obtained.
    #[error("postgresql connection: {0}")]
    Connection(String),
    /// An entry to append has an empty, overlong or malformed field.
    #[error("invalid access-log entry: {0}")]
    InvalidEntry(String),
    /// A value does not fit the store (e.g. a sequence number beyond `i64`).
    #[error("value out of range: {0}")]
    OutOfRange(String),
    /// A blocking task of the embedded store was cancelled or panicked.
    #[error("background task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// Stable identifier for JSON output and dead letters.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::InvalidLocation(_) => "invalid-store-location",
            Self::Io { .. } => "store-io",
            Self::Corrupt { .. } => "store-corrupt",
            Self::Postgres(_) => "store-postgres",
            Self::Connection(_) => "store-connection",
            Self::InvalidEntry(_) => "invalid-entry",
            Self::OutOfRange(_) => "store-out-of-range",
            Self::Task(_) => "store-task",
        }
    }

    /// The same error again, for each caller of a group commit that failed
    /// (the same kind and text; an I/O source is carried as its kind and
    /// text, a PostgreSQL error as a [`StoreError::Connection`] with the
    /// server's message).
    pub(crate) fn duplicate(&self) -> Self {
        match self {
            Self::InvalidLocation(s) => Self::InvalidLocation(s.clone()),
            Self::Io { path, error } => Self::Io {
                path: path.clone(),
                error: std::io::Error::new(error.kind(), error.to_string()),
            },
            Self::Corrupt { location, detail } => Self::Corrupt {
                location: location.clone(),
                detail: detail.clone(),
            },
            // tokio-postgres' own text is only "db error": keep the server's.
            Self::Postgres(e) => Self::Connection(match e.as_db_error() {
                Some(db) => format!("postgresql: {}: {}", db.code().code(), db.message()),
                None => format!("postgresql: {e}"),
            }),
            Self::Connection(s) => Self::Connection(s.clone()),
            Self::InvalidEntry(s) => Self::InvalidEntry(s.clone()),
            Self::OutOfRange(s) => Self::OutOfRange(s.clone()),
            Self::Task(s) => Self::Task(s.clone()),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            error: source,
        }
    }
}

impl From<tokio::task::JoinError> for StoreError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::Task(e.to_string())
    }
}
