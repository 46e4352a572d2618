//! The authority directory (`authorities.toml`), DVDV-like.

use crate::error::{ConfigError, ConfigErrorKind as K};
use crate::source::{Location, Source};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// A reader id starting with this prefix is a placeholder for "whoever is
/// responsible for this service", e.g. `service:einkommensteuer`.
pub const SERVICE_PLACEHOLDER_PREFIX: &str = "service:";

/// An Amtlicher Gemeindeschlüssel: 8 digits, the first two a Land (01–16).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Ags(String);

impl Ags {
    /// Parses a municipality key (surrounding whitespace is trimmed).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "municipality key {s:?} is not an 8-digit Amtlicher Gemeindeschlüssel"
            ));
        }
        let land: u8 = s[..2].parse().unwrap_or(0);
        if !(1..=16).contains(&land) {
            return Err(format!(
                "municipality key {s:?} names Land {:?}, which does not exist (01–16)",
                &s[..2]
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks an authority id: `prefix:value`, both non-empty, printable ASCII.
pub(crate) fn check_authority_id(id: &str) -> Result<(), String> {
    let ok = match id.split_once(':') {
        Some((p, v)) => !p.is_empty() && !v.is_empty() && id.bytes().all(|b| b.is_ascii_graphic()),
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "authority id {id:?} is not of the form prefix:value (e.g. ags:09162000)"
        ))
    }
}

/// Checks an AMQP queue name: 1–255 bytes, printable ASCII, not `amq.*`.
pub(crate) fn check_queue_name(q: &str) -> Result<(), String> {
    if q.is_empty() || q.len() > 255 || !q.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "queue name {q:?} must be 1–255 bytes of printable ASCII without spaces"
        ));
    }
    if q.starts_with("amq.") {
        return Err(format!(
            "queue name {q:?} uses the prefix amq., which RabbitMQ reserves"
        ));
    }
    Ok(())
}

/// One authority of the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Authority {
    /// The id as in the XÖV header's `kennung`, e.g. `ags:09162000` or `fa:9198`.
    pub id: String,
    /// Other ids it goes by in other standards' headers, e.g. its EAS id
    /// in EU OOTS messages (`0204:06611000-KITA-01`); a header naming one
    /// is read as naming `id` (see [`Directory::canonical`]).
    pub also_known_as: Vec<String>,
    /// Human-readable name.
    pub name: String,
    /// Whether this entry is the gateway itself (it has no inbox and is never a recipient).
    pub gateway: bool,
    /// The authority's inbox queue (required unless `gateway`).
    pub inbox: Option<String>,
    /// Its certificate (PEM), resolved against the routing directory.
    pub certificate: Option<PathBuf>,
    /// Its certificate's subject DN, where known.
    pub subject: Option<String>,
    /// Whom humans contact about it.
    pub contact: Option<String>,
    /// SHA-256 (hex) of its HTTP API token, where it uses the HTTP API.
    pub api_token_sha256: Option<String>,
    /// Per service, the municipalities it is responsible for.
    pub responsible: BTreeMap<String, Vec<Ags>>,
    /// Where it is defined.
    pub location: Location,
}

impl Authority {
    /// Whether it is responsible for `service` in `municipality`.
    pub fn is_responsible(&self, service: &str, municipality: &Ags) -> bool {
        self.responsible
            .get(service)
            .is_some_and(|keys| keys.contains(municipality))
    }
}

/// The authority directory: every authority the gateway knows.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    authorities: Vec<Authority>,
    by_id: HashMap<String, usize>,
    by_alias: HashMap<String, usize>,
    responsible: HashMap<(String, Ags), usize>,
}

impl Directory {
    /// The authority with id `id`.
    pub fn get(&self, id: &str) -> Option<&Authority> {
        self.by_id.get(id).map(|&i| &self.authorities[i])
    }

    /// The directory's id for `id`: the authority's own id where `id` is
    /// one of its `also_known_as`, else `id` unchanged. Header ids go
    /// through this before anything looks them up or compares them.
    pub fn canonical<'a>(&'a self, id: &'a str) -> &'a str {
        match self.by_alias.get(id) {
            Some(&i) => &self.authorities[i].id,
            None => id,
        }
    }

    /// All authorities, in file order.
    pub fn authorities(&self) -> &[Authority] {
        &self.authorities
    }

    /// Every inbox queue of the directory (for declaring the topology).
    pub fn inboxes(&self) -> impl Iterator<Item = &str> {
        self.authorities.iter().filter_map(|a| a.inbox.as_deref())
    }

    /// The gateway's own entry, if the directory has one.
    pub fn gateway(&self) -> Option<&Authority> {
        self.authorities.iter().find(|a| a.gateway)
    }

    /// The authority responsible for `service` in `municipality`.
    pub fn responsible(&self, service: &str, municipality: &Ags) -> Option<&Authority> {
        self.responsible
            .get(&(service.to_owned(), municipality.clone()))
            .map(|&i| &self.authorities[i])
    }

    /// Whether some authority offers `service`.
    pub fn offers(&self, service: &str) -> bool {
        self.authorities
            .iter()
            .any(|a| a.responsible.contains_key(service))
    }

    /// Builds the directory from `authorities.toml`, appending every problem to `errors`.
    pub(crate) fn build(src: &Source, base: &Path, errors: &mut Vec<ConfigError>) -> Self {
        let file: AuthoritiesFile = match toml::from_str(&src.text) {
            Ok(f) => f,
            Err(e) => {
                errors.push(syntax_error(src, &e));
                return Self::default();
            }
        };
        let mut dir = Self::default();
        let mut queues: HashMap<String, Location> = HashMap::new();
        for raw in file.authority {
            let loc = src.location(raw.id.span().start);
            let id = raw.id.into_inner();
            if let Err(m) = check_authority_id(&id) {
                errors.push(ConfigError::at(K::BadAuthorityId, &loc, m));
            }
            if id.starts_with(SERVICE_PLACEHOLDER_PREFIX) {
                errors.push(ConfigError::at(
                    K::BadAuthorityId,
                    &loc,
                    format!("authority id {id:?} uses the prefix {SERVICE_PLACEHOLDER_PREFIX}, reserved for service placeholders"),
                ));
            }
            if let Some(prev) = dir.get(&id) {
                errors.push(ConfigError::at(
                    K::DuplicateAuthority,
                    &loc,
                    format!(
                        "authority {id} is already defined at {}",
                        prev.location.short()
                    ),
                ));
                continue;
            }
            if let Some(&prev) = dir.by_alias.get(&id) {
                let prev = &dir.authorities[prev];
                errors.push(ConfigError::at(
                    K::DuplicateAuthority,
                    &loc,
                    format!(
                        "{id} is already another id of authority {} ({})",
                        prev.id,
                        prev.location.short()
                    ),
                ));
                continue;
            }
            let mut also_known_as = Vec::new();
            for alias in raw.also_known_as {
                let aloc = src.location(alias.span().start);
                let alias = alias.into_inner();
                let taken = dir
                    .get(&alias)
                    .or_else(|| dir.by_alias.get(&alias).map(|&i| &dir.authorities[i]))
                    .map(|a| a.id.clone())
                    .or_else(|| {
                        (alias == id || also_known_as.contains(&alias)).then(|| id.clone())
                    });
                if let Err(m) = check_authority_id(&alias) {
                    errors.push(ConfigError::at(K::BadAuthorityId, &aloc, m));
                } else if let Some(owner) = taken {
                    errors.push(ConfigError::at(
                        K::DuplicateAuthority,
                        &aloc,
                        format!("{alias} already names authority {owner}"),
                    ));
                } else {
                    also_known_as.push(alias);
                }
            }
            let inbox = match (raw.inbox, raw.gateway) {
                (Some(q), _) => {
                    let qloc = src.location(q.span().start);
                    let q = q.into_inner();
                    if let Err(m) = check_queue_name(&q) {
                        errors.push(ConfigError::at(K::BadQueueName, &qloc, m));
                    } else if let Some(prev) = queues.get(&q) {
                        errors.push(ConfigError::at(
                            K::DuplicateQueue,
                            &qloc,
                            format!(
                                "inbox queue {q} is already the inbox of the authority at {}",
                                prev.short()
                            ),
                        ));
                    } else {
                        queues.insert(q.clone(), qloc);
                    }
                    Some(q)
                }
                (None, true) => None,
                (None, false) => {
                    errors.push(ConfigError::at(
                        K::BadQueueName,
                        &loc,
                        format!("authority {id} has no inbox queue (only the gateway's own entry may lack one)"),
                    ));
                    None
                }
            };
            let mut responsible = BTreeMap::new();
            for (service, keys) in raw.responsible {
                let mut parsed = Vec::new();
                for key in keys.into_inner() {
                    let kloc = src.location(key.span().start);
                    match Ags::parse(key.get_ref()) {
                        Ok(ags) => parsed.push((ags, kloc)),
                        Err(m) => errors.push(ConfigError::at(K::BadAgs, &kloc, m)),
                    }
                }
                responsible.insert(service, parsed);
            }
            let index = dir.authorities.len();
            for (service, keys) in &responsible {
                for (ags, kloc) in keys {
                    let slot = (service.clone(), ags.clone());
                    if let Some(&other) = dir.responsible.get(&slot) {
                        let other: &Authority = &dir.authorities[other];
                        errors.push(ConfigError::at(
                            K::AmbiguousResponsibility,
                            kloc,
                            format!(
                                "{id} and {} ({}) are both responsible for service {service} in {ags}",
                                other.id,
                                other.location.short()
                            ),
                        ));
                    } else {
                        dir.responsible.insert(slot, index);
                    }
                }
            }
            dir.by_id.insert(id.clone(), index);
            for alias in &also_known_as {
                dir.by_alias.insert(alias.clone(), index);
            }
            dir.authorities.push(Authority {
                id,
                also_known_as,
                name: raw.name,
                gateway: raw.gateway,
                inbox,
                certificate: raw.certificate.map(|c| base.join(c)),
                subject: raw.subject,
                contact: raw.contact,
                api_token_sha256: raw.api_token_sha256,
                responsible: responsible
                    .into_iter()
                    .map(|(s, keys)| (s, keys.into_iter().map(|(k, _)| k).collect()))
                    .collect(),
                location: loc,
            });
        }
        dir
    }
}

/// A TOML parse error (including unknown keys) as a configuration error.
pub(crate) fn syntax_error(src: &Source, e: &toml::de::Error) -> ConfigError {
    ConfigError {
        kind: K::Syntax,
        file: src.path.clone(),
        line: e.span().map(|s| src.line_at(s.start)),
        message: e.message().trim().to_owned(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthoritiesFile {
    #[serde(default)]
    authority: Vec<RawAuthority>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuthority {
    id: Spanned<String>,
    #[serde(default)]
    also_known_as: Vec<Spanned<String>>,
    name: String,
    #[serde(default)]
    gateway: bool,
    inbox: Option<Spanned<String>>,
    certificate: Option<PathBuf>,
    subject: Option<String>,
    contact: Option<String>,
    api_token_sha256: Option<String>,
    #[serde(default)]
    responsible: BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
}
