//! The schema catalogue: which XSD validates which document.
//!
//! `schemas/catalogue.toml` lists each standard and version with the root
//! namespaces it defines and its entry XSD, plus the remote schema locations
//! (`http://xoev.de/...`) that XSD imports use, each mapped to a local file.

use crate::error::SchemaError;
use crate::validate::CompiledSchema;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use xoev_core::Message;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    #[serde(default)]
    standard: Vec<EntryFile>,
    #[serde(default)]
    remote: BTreeMap<String, String>,
    #[serde(default)]
    remote_prefix: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFile {
    name: String,
    version: String,
    namespaces: Vec<String>,
    entry: String,
    #[serde(default)]
    description: String,
}

/// Why a catalogue could not be loaded. Lists every problem found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogueError {
    /// The catalogue file could not be read.
    #[error("cannot read schema catalogue {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The catalogue file is not valid TOML of the expected shape.
    #[error("schema catalogue {path}: {detail}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The TOML error, with line and column.
        detail: String,
    },
    /// Entries point at files that do not exist, or clash.
    #[error("schema catalogue {path}: {}", .problems.join("; "))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found.
        problems: Vec<String>,
    },
}

/// One standard in one version.
#[derive(Debug)]
pub struct SchemaEntry {
    /// The standard's name, e.g. `XNachweis`.
    pub name: String,
    /// The version, as in the root element's `version` attribute.
    pub version: String,
    /// Root element namespaces this entry validates.
    pub namespaces: Vec<String>,
    /// The entry XSD, relative to the catalogue directory.
    pub entry: String,
    /// A short description.
    pub description: String,
    path: PathBuf,
    compiled: OnceLock<Result<Arc<CompiledSchema>, SchemaError>>,
}

impl SchemaEntry {
    /// The compiled schema, compiled on first use and shared afterwards.
    pub fn schema(&self) -> Result<Arc<CompiledSchema>, SchemaError> {
        self.compiled
            .get_or_init(|| CompiledSchema::compile(&self.path, &self.entry).map(Arc::new))
            .clone()
    }
}

/// All standards the gateway knows.
#[derive(Debug)]
pub struct Catalogue {
    dir: PathBuf,
    entries: Vec<SchemaEntry>,
}

impl Catalogue {
    /// Loads `catalogue.toml` (or the `catalogue.toml` inside a directory),
    /// checks that every file it names exists, and registers the directory
    /// with the local-only entity loader.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, CatalogueError> {
        let mut path = path.as_ref().to_path_buf();
        if path.is_dir() {
            path = path.join("catalogue.toml");
        }
        let text = std::fs::read_to_string(&path).map_err(|source| CatalogueError::Io {
            path: path.clone(),
            error: source,
        })?;
        let file: CatalogueFile = toml::from_str(&text).map_err(|e| CatalogueError::Syntax {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        let dir = path
            .parent()
            .unwrap_or(Path::new("."))
            .canonicalize()
            .map_err(|source| CatalogueError::Io {
                path: path.clone(),
                error: source,
            })?;

        let mut problems = Vec::new();
        let mut entries = Vec::new();
        let mut seen = BTreeMap::new();
        for e in file.standard {
            let full = dir.join(&e.entry);
            if !full.is_file() {
                problems.push(format!(
                    "{} {}: entry {} does not exist",
                    e.name, e.version, e.entry
                ));
            }
            for ns in &e.namespaces {
                if let Some(prev) = seen.insert((ns.clone(), e.version.clone()), e.name.clone()) {
                    problems.push(format!(
                        "namespace {ns} version {} is claimed by both {prev} and {}",
                        e.version, e.name
                    ));
                }
            }
            entries.push(SchemaEntry {
                name: e.name,
                version: e.version,
                namespaces: e.namespaces,
                entry: e.entry,
                description: e.description,
                path: full,
                compiled: OnceLock::new(),
            });
        }
        let mut exact = BTreeMap::new();
        for (url, local) in file.remote {
            let full = dir.join(&local);
            if !full.is_file() {
                problems.push(format!("remote {url}: local file {local} does not exist"));
            }
            exact.insert(url, full);
        }
        let mut prefixes = Vec::new();
        for (url, local) in file.remote_prefix {
            let full = dir.join(&local);
            if !full.is_dir() {
                problems.push(format!(
                    "remote prefix {url}: local directory {local} does not exist"
                ));
            }
            prefixes.push((url, full));
        }
        if !problems.is_empty() {
            return Err(CatalogueError::Invalid { path, problems });
        }
        crate::init::register(&dir, &exact, &prefixes);
        Ok(Self { dir, entries })
    }

    /// The directory the catalogue lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// All entries, in catalogue order.
    pub fn entries(&self) -> &[SchemaEntry] {
        &self.entries
    }

    /// Finds the entry by standard name and version.
    pub fn get(&self, name: &str, version: &str) -> Option<&SchemaEntry> {
        self.entries
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(name) && e.version == version)
    }

    /// Finds the entry for a message: by the root element's namespace, then
    /// by its `version` attribute where that namespace does not name the
    /// version itself.
    ///
    /// A namespace that ends in a version (`…/xbeteiligung/12`,
    /// `…:xdomea:schema:3.0.0`, `…/V1_0_0`) and belongs to one entry
    /// decides alone: the schema is the one that namespace belongs to, and
    /// its XSD decides whether the document does. Such a root's `version`
    /// attribute is free text to the standards' schemas, and producers do
    /// write another release's number into it (DiPlan Cockpit sends
    /// XBeteiligung 1.2 documents with `version="1.1"`). A namespace without
    /// a version of its own (XNachweis' `…:xnachweis-de-noots`) may span
    /// releases, so there the attribute must name a catalogued version
    /// (trailing `.0` parts aside: `1.2` is `1.2.0`).
    pub fn lookup(&self, message: &Message) -> Result<&SchemaEntry, SchemaError> {
        let ns = message.root.namespace.as_deref();
        let candidates: Vec<&SchemaEntry> = self
            .entries
            .iter()
            .filter(|e| ns.is_some_and(|ns| e.namespaces.iter().any(|n| n == ns)))
            .collect();
        let Some(first) = candidates.first() else {
            let related = ns.map(|ns| self.related(ns, message)).unwrap_or_default();
            let claimed = ns.and_then(|ns| claimed(ns, message, &related));
            return Err(SchemaError::UnknownStandard {
                root: message.root.to_string(),
                namespace: message.root.namespace.clone(),
                related: related.iter().map(|e| e.to_string()).collect(),
                claimed,
            });
        };
        let known = || {
            candidates
                .iter()
                .map(|e| e.version.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let versioned_namespace = ns.is_some_and(|ns| version_stem(ns).len() < ns.len());
        match message.version.as_deref() {
            Some(v) => match candidates.iter().find(|e| same_version(&e.version, v)) {
                Some(e) => Ok(e),
                None if candidates.len() == 1 && versioned_namespace => Ok(first),
                None => Err(SchemaError::UnknownVersion {
                    standard: first.name.clone(),
                    version: v.to_owned(),
                    known: known(),
                }),
            },
            None if candidates.len() == 1 => Ok(first),
            None => Err(SchemaError::UnknownVersion {
                standard: first.name.clone(),
                version: "(no version attribute)".into(),
                known: known(),
            }),
        }
    }

    /// The entries with a namespace that differs from `ns` only in a
    /// trailing version (the same text once digits, dots, underscores and
    /// hyphens are cut from the end of both), or of the standard the root's
    /// `standard` attribute names (an older release under another path).
    fn related<'c>(&'c self, ns: &str, message: &Message) -> Vec<Related<'c>> {
        let stem = version_stem(ns);
        let versioned = stem.len() < ns.len() && !stem.is_empty();
        let named = message.standard.as_deref().map(str::trim);
        self.entries
            .iter()
            .filter_map(|e| {
                let by_version = versioned
                    .then(|| {
                        e.namespaces.iter().find(|n| {
                            let s = version_stem(n);
                            s.len() < n.len() && s == stem
                        })
                    })
                    .flatten();
                let by_name = named
                    .is_some_and(|n| n.eq_ignore_ascii_case(&e.name))
                    .then(|| e.namespaces.first())
                    .flatten();
                Some(Related {
                    entry: e,
                    namespace: by_version.or(by_name)?,
                })
            })
            .collect()
    }

    /// Compiles every schema now (a service does this at start, so that a
    /// broken catalogue fails at start and the first message is not slow).
    pub fn compile_all(&self) -> Result<(), Vec<SchemaError>> {
        let errors: Vec<SchemaError> = self
            .entries
            .iter()
            .filter_map(|e| e.schema().err())
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// A catalogue entry another version of a document's standard may be
/// validated by, with the namespace that relates them.
struct Related<'c> {
    entry: &'c SchemaEntry,
    namespace: &'c str,
}

impl std::fmt::Display for Related<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} ({})",
            self.entry.name, self.entry.version, self.namespace
        )
    }
}

/// What a document of an uncatalogued namespace says it is, where the
/// catalogue has its standard (`related` is not empty): the related
/// entries' name, and the release its namespace ends in (`…/V0_5_3` is
/// 0.5.3, as `lookup` goes by a versioned namespace) where that namespace
/// shares the catalogue's stem — else the root's `version` first, if the
/// root names this standard or none (another path, such as
/// `http://xbeteiligung.de/V0103` against `…/xbeteiligung/12`, may number
/// otherwise).
fn claimed(ns: &str, message: &Message, related: &[Related<'_>]) -> Option<String> {
    let name = related.first()?.entry.name.as_str();
    let root_speaks = message
        .standard
        .as_deref()
        .is_none_or(|s| s.trim().eq_ignore_ascii_case(name));
    let from_root = message
        .version
        .as_deref()
        .map(str::trim)
        .filter(|v| root_speaks && !v.is_empty())
        .map(str::to_owned);
    let from_namespace = Some(
        ns.strip_suffix('/').unwrap_or(ns)[version_stem(ns).len()..]
            .trim()
            .replace('_', "."),
    )
    .filter(|v| !v.is_empty());
    let same_stem = related
        .iter()
        .any(|r| version_stem(r.namespace) == version_stem(ns));
    let version = if same_stem {
        from_namespace.or(from_root)
    } else {
        from_root.or(from_namespace)
    }?;
    Some(format!("{name} {version}"))
}

/// Whether two version strings name the same release: equal once trailing
/// `.0` parts are dropped (`1.2` is `1.2.0`; `1.2.1` and `1.20` are not).
pub fn same_version(a: &str, b: &str) -> bool {
    fn significant(v: &str) -> &str {
        let mut v = v.trim();
        while let Some(rest) = v.strip_suffix(".0") {
            v = rest;
        }
        v
    }
    significant(a) == significant(b)
}

/// A namespace without its trailing version: `urn:xoev-de:xdomea:schema:`
/// for `urn:xoev-de:xdomea:schema:3.0.0`, `…/xbeteiligung/` for
/// `…/xbeteiligung/12`, `…/V` for `…/V1_0_0` and for `…/V0_9_2/` (older
/// XWasser releases end in a slash).
fn version_stem(ns: &str) -> &str {
    ns.strip_suffix('/')
        .unwrap_or(ns)
        .trim_end_matches(|c: char| c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}
