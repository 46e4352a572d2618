//! What an adapter may know besides its input: the clock, a seed for ids,
//! the municipality and the original request — all passed in, so that
//! adapters stay pure and their output is reproducible.

use crate::xnachweis::RequestFacts;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// The context of one translation.
///
/// Adapters never read the clock or a random source: the time and the seed
/// for every id they create come from here. The gateway fills it per
/// message (current time, a fresh random seed, the case's original request);
/// golden tests fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// "Now", for creation timestamps and plausibility checks (UTC).
    pub now: OffsetDateTime,
    /// Seed of the ids the adapter creates (see [`Context::id`]).
    pub seed: Uuid,
    /// The municipality key (AGS, 8 digits) whose configuration applies, if
    /// known. Answer adapters fall back to the original request's author.
    pub municipality: Option<String>,
    /// The facts of the original evidence request this message answers
    /// (needed by answer adapters for correlation checks and minimisation).
    pub request: Option<RequestFacts>,
    /// The facts of the input itself, when it is an evidence request whose
    /// facts the caller has already read from the same parsed document (the
    /// gateway has, for the consent check): the request adapter uses them
    /// instead of reading the document again. `None` (the default): the
    /// adapter reads them. Facts of another request (another `@id`) are
    /// ignored.
    pub input_facts: Option<RequestFacts>,
}

impl Context {
    /// A context at `now` with id seed `seed`, no municipality, no request.
    pub fn new(now: OffsetDateTime, seed: Uuid) -> Self {
        Self {
            now: now.to_offset(time::UtcOffset::UTC),
            seed,
            municipality: None,
            request: None,
            input_facts: None,
        }
    }

    /// For the edges (gateway, CLI), never for adapters: the current time
    /// and a fresh random seed.
    pub fn now() -> Self {
        Self::new(OffsetDateTime::now_utc(), Uuid::new_v4())
    }

    /// A deterministic UUID for `label` (UUID v5 of the seed and the label):
    /// the same context and label always give the same id.
    pub fn id(&self, label: &str) -> Uuid {
        Uuid::new_v5(&self.seed, label.as_bytes())
    }

    /// `now` as an `xs:dateTime` in UTC, e.g. `2025-03-03T08:31:00Z`.
    pub fn timestamp(&self) -> String {
        // RFC 3339 formatting of a UTC date-time within years 0..=9999
        // cannot fail; fall back to the Unix epoch rather than panic.
        self.now
            .format(&Rfc3339)
            .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
    }

    /// `now` as an `xs:date`.
    pub fn date(&self) -> String {
        let d = self.now.date();
        format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    }
}

/// A context as written in a TOML file (`--context FILE`, golden cases).
///
/// ```toml
/// now = "2025-03-03T08:31:00Z"
/// seed = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
/// municipality = "06611000"                 # optional
/// request = "path/to/original-request.xml"  # optional, relative to this file
/// ```
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ContextFile {
    /// "Now" in RFC 3339.
    pub now: Option<String>,
    /// Seed of generated ids.
    pub seed: Option<Uuid>,
    /// Municipality key (AGS).
    pub municipality: Option<String>,
    /// The original XNachweis evidence request, relative to the file.
    pub request: Option<PathBuf>,
}

/// Why a context file could not be turned into a [`Context`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// A file could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The context file is not TOML of the expected shape.
    #[error("context {path}: {detail}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The TOML error.
        detail: String,
    },
    /// A value is invalid (time, municipality key).
    #[error("context: {0}")]
    Invalid(String),
    /// The original request could not be read as an XNachweis evidence request.
    #[error("context request {path}")]
    Request {
        /// The request file.
        path: PathBuf,
        /// Why its facts could not be read.
        source: crate::AdapterError,
    },
}

impl ContextFile {
    /// Reads a context file.
    pub fn load(path: &Path) -> Result<Self, ContextError> {
        let text = std::fs::read_to_string(path).map_err(|source| ContextError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut file: Self = toml::from_str(&text).map_err(|e| ContextError::Syntax {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
        if let (Some(req), Some(dir)) = (&file.request, path.parent()) {
            file.request = Some(dir.join(req));
        }
        Ok(file)
    }

    /// Builds the context; `default_now` and `default_seed` fill what the
    /// file leaves open.
    pub fn into_context(
        self,
        default_now: OffsetDateTime,
        default_seed: Uuid,
    ) -> Result<Context, ContextError> {
        let now = match &self.now {
            Some(s) => OffsetDateTime::parse(s, &Rfc3339)
                .map_err(|e| ContextError::Invalid(format!("now = {s:?}: {e}")))?,
            None => default_now,
        };
        let mut ctx = Context::new(now, self.seed.unwrap_or(default_seed));
        if let Some(ags) = self.municipality {
            check_ags(&ags).map_err(ContextError::Invalid)?;
            ctx.municipality = Some(ags);
        }
        if let Some(path) = self.request {
            let bytes = std::fs::read(&path).map_err(|source| ContextError::Io {
                path: path.clone(),
                source,
            })?;
            let facts = RequestFacts::from_xnachweis(&bytes)
                .map_err(|source| ContextError::Request { path, source })?;
            ctx.request = Some(facts);
        }
        Ok(ctx)
    }
}

/// Checks a municipality key (Amtlicher Gemeindeschlüssel): eight digits.
pub fn check_ags(ags: &str) -> Result<(), String> {
    if ags.len() == 8 && ags.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(format!(
            "municipality key {ags:?} is not an AGS (eight digits)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn ids_are_deterministic_and_distinct_per_label() {
        let ctx = Context::new(datetime!(2025-03-03 08:31 UTC), Uuid::nil());
        assert_eq!(ctx.id("a"), ctx.id("a"));
        assert_ne!(ctx.id("a"), ctx.id("b"));
        assert_eq!(ctx.timestamp(), "2025-03-03T08:31:00Z");
        assert_eq!(ctx.date(), "2025-03-03");
    }

    #[test]
    fn ags_must_be_eight_digits() {
        assert!(check_ags("06611000").is_ok());
        assert!(check_ags("0661100").is_err());
        assert!(check_ags("0661100x").is_err());
    }
}

#[cfg(test)]
mod file_tests {
    use super::*;

    fn from(text: &str) -> Result<Context, String> {
        let file: ContextFile = toml::from_str(text).map_err(|e| e.to_string())?;
        file.into_context(OffsetDateTime::UNIX_EPOCH, Uuid::nil())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn context_files_are_checked() {
        let c = from("now = \"2025-03-03T09:31:00+01:00\"\nmunicipality = \"06611000\"\n")
            .expect("valid");
        assert_eq!(c.timestamp(), "2025-03-03T08:31:00Z", "normalised to UTC");
        assert_eq!(c.municipality.as_deref(), Some("06611000"));
        assert!(from("now = \"yesterday\"\n").is_err_and(|e| e.contains("now")));
        assert!(from("municipality = \"Kassel\"\n").is_err_and(|e| e.contains("AGS")));
        assert!(from("tomorrow = 1\n").is_err_and(|e| e.contains("unknown field")));
    }
}
