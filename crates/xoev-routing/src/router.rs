//! [`Router`]: load and check the configuration, then route messages.

use crate::access::{AccessFile, AccessRule};
use crate::directory::{
    Ags, Authority, Directory, SERVICE_PLACEHOLDER_PREFIX, check_authority_id, syntax_error,
};
use crate::error::{
    ConfigError, ConfigErrorKind as K, ConfigErrors, NearMiss, RouteError, RouteErrorKind as R,
};
use crate::rules::{Cond, OneOrMany, Recipient, Rule, RulesFile};
use crate::source::{Location, Source};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use toml::Spanned;

/// The name of the directory file in a routing directory.
const AUTHORITIES_FILE: &str = "authorities.toml";
/// The name of the access file in a routing directory.
const ACCESS_FILE: &str = "access.toml";

/// What the router needs to know about a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteInput {
    /// The message type code from the header.
    pub message_type: String,
    /// The standard: the name of the catalogue entry that validated the
    /// message (not the root's free-text `standard` attribute).
    pub standard: Option<String>,
    /// The standard's version: that of the catalogue entry that validated
    /// the message (the root's `version` attribute may differ).
    pub version: Option<String>,
    /// The sender's authority id (header `autor`).
    pub sender: Option<String>,
    /// The reader's authority id (header `leser`), possibly a service placeholder.
    pub reader: Option<String>,
    /// The case's municipality key, extracted from the body by the caller.
    pub municipality: Option<String>,
}

/// How the recipient was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "by")]
pub enum Resolution {
    /// The reader named in the header.
    Reader,
    /// Responsibility for a service in a municipality.
    Responsible {
        /// The service.
        service: String,
        /// The municipality key.
        municipality: Ags,
    },
    /// The rule names the recipient.
    Fixed,
}

/// Where a message goes, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteDecision {
    /// The matching rule's name.
    pub rule: String,
    /// Where that rule is defined.
    pub rule_location: Location,
    /// The rule's priority.
    pub priority: i64,
    /// The recipient authority's id.
    pub recipient: String,
    /// The recipient authority's name.
    pub recipient_name: String,
    /// How the recipient was resolved.
    pub resolution: Resolution,
    /// The adapter chain, in order.
    pub adapters: Vec<String>,
    /// The destination queue (the recipient's inbox).
    pub queue: String,
}

/// The checked routing configuration: directory, rules and access rules.
#[derive(Debug, Clone)]
pub struct Router {
    directory: Directory,
    /// Sorted by priority, highest first; ties in file order.
    rules: Vec<Rule>,
    access: Vec<AccessRule>,
}

impl Router {
    /// Loads `authorities.toml`, `access.toml` and every other `*.toml`
    /// (rules) from `dir`, and checks them. `known_adapter` says whether an
    /// adapter name exists. Returns every problem found, not just the first.
    pub fn load(dir: &Path, known_adapter: &dyn Fn(&str) -> bool) -> Result<Self, ConfigErrors> {
        let io = |file: &Path, m: String| ConfigError {
            kind: K::Io,
            file: file.to_owned(),
            line: None,
            message: m,
        };
        let entries = std::fs::read_dir(dir)
            .map_err(|e| ConfigErrors(vec![io(dir, format!("cannot read directory: {e}"))]))?;
        let mut errors = Vec::new();
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
            .collect();
        paths.sort();
        let mut authorities = None;
        let mut access = None;
        let mut rules = Vec::new();
        for path in paths {
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    errors.push(io(&path, format!("cannot read: {e}")));
                    continue;
                }
            };
            let src = Source::new(path.clone(), text);
            match path.file_name().and_then(|n| n.to_str()) {
                Some(AUTHORITIES_FILE) => authorities = Some(src),
                Some(ACCESS_FILE) => access = Some(src),
                _ => rules.push(src),
            }
        }
        for (name, found) in [(AUTHORITIES_FILE, &authorities), (ACCESS_FILE, &access)] {
            if found.is_none() {
                errors.push(io(&dir.join(name), "missing".into()));
            }
        }
        if rules.is_empty() {
            errors.push(io(dir, "no rule files (*.toml) found".into()));
        }
        let authorities =
            authorities.unwrap_or_else(|| Source::new(dir.join(AUTHORITIES_FILE), ""));
        let access = access.unwrap_or_else(|| Source::new(dir.join(ACCESS_FILE), ""));
        match Self::from_sources(dir, &authorities, &rules, &access, known_adapter) {
            Ok(r) if errors.is_empty() => Ok(r),
            Ok(_) => Err(ConfigErrors(errors)),
            Err(ConfigErrors(more)) => {
                errors.extend(more);
                Err(ConfigErrors(errors))
            }
        }
    }

    /// Builds a router from sources in memory; certificate paths are resolved
    /// against `base`. The same checks as [`Router::load`].
    pub fn from_sources(
        base: &Path,
        authorities: &Source,
        rules: &[Source],
        access: &Source,
        known_adapter: &dyn Fn(&str) -> bool,
    ) -> Result<Self, ConfigErrors> {
        let mut errors = Vec::new();
        let directory = Directory::build(authorities, base, &mut errors);
        let mut all_rules: Vec<Rule> = Vec::new();
        let mut names: HashMap<String, Location> = HashMap::new();
        for src in rules {
            let file: RulesFile = match toml::from_str(&src.text) {
                Ok(f) => f,
                Err(e) => {
                    errors.push(syntax_error(src, &e));
                    continue;
                }
            };
            for raw in file.rule {
                let loc = src.location(raw.name.span().start);
                let name = raw.name.get_ref().clone();
                if let Some(prev) = names.get(&name) {
                    errors.push(ConfigError::at(
                        K::DuplicateRule,
                        &loc,
                        format!("rule {name:?} is already defined at {}", prev.short()),
                    ));
                    continue;
                }
                names.insert(name.clone(), loc.clone());
                let mut ctx = Ctx {
                    src,
                    directory: &directory,
                    errors: &mut errors,
                    rule: &name,
                };
                let sender = ctx.authority_cond(raw.sender, "sender");
                let reader = ctx.authority_cond(raw.reader, "reader");
                let service = raw.service.map(|s| {
                    let sloc = src.location(s.span().start);
                    let s = s.into_inner();
                    if !directory.offers(&s) {
                        ctx.errors.push(ConfigError::at(
                            K::UnknownService,
                            &sloc,
                            format!("rule {name:?}: no authority in the directory is responsible for service {s:?}"),
                        ));
                    }
                    (s, sloc)
                });
                let rloc = src.location(raw.recipient.span().start);
                let recipient = match raw.recipient.get_ref().as_str() {
                    "reader" => Recipient::Reader,
                    "responsible" => Recipient::Responsible,
                    id => {
                        ctx.recipient_authority(id, &rloc);
                        Recipient::Authority(id.to_owned())
                    }
                };
                match (&recipient, &service, &reader) {
                    (Recipient::Responsible, None, _) => ctx.errors.push(ConfigError::at(
                        K::InvalidRule,
                        &rloc,
                        format!("rule {name:?}: recipient = \"responsible\" needs a service"),
                    )),
                    (Recipient::Responsible, _, Cond(Some(_))) => ctx.errors.push(ConfigError::at(
                        K::InvalidRule,
                        &rloc,
                        format!("rule {name:?}: recipient = \"responsible\" applies to messages without a named reader, so a reader condition can never match"),
                    )),
                    (Recipient::Authority(_), Some((_, sloc)), _) => ctx.errors.push(ConfigError::at(
                        K::InvalidRule,
                        sloc,
                        format!("rule {name:?}: a service is only used with recipient = \"reader\" or \"responsible\""),
                    )),
                    _ => {}
                }
                let mut adapters = Vec::new();
                for a in raw.adapters {
                    let aloc = src.location(a.span().start);
                    let a = a.into_inner();
                    if !known_adapter(&a) {
                        ctx.errors.push(ConfigError::at(
                            K::UnknownAdapter,
                            &aloc,
                            format!("rule {name:?}: unknown adapter {a:?}"),
                        ));
                    }
                    adapters.push(a);
                }
                all_rules.push(Rule {
                    name,
                    priority: raw.priority,
                    description: raw.description,
                    location: loc,
                    message_type: plain_cond(raw.message_type),
                    standard: plain_cond(raw.standard),
                    version: plain_cond(raw.version),
                    sender,
                    reader,
                    service: service.map(|(s, _)| s),
                    recipient,
                    adapters,
                });
            }
        }
        check_rule_set(&all_rules, &mut errors);
        // Stable: ties keep file order.
        all_rules.sort_by_key(|r| std::cmp::Reverse(r.priority));

        let access = build_access(access, &directory, &mut errors);
        if errors.is_empty() {
            Ok(Self {
                directory,
                rules: all_rules,
                access,
            })
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// The authority directory.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// The rules, highest priority first.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The access rules.
    pub fn access_rules(&self) -> &[AccessRule] {
        &self.access
    }

    /// Whether `sender` may send `message_type` to `reader`; both must be known.
    pub fn check_access(
        &self,
        sender: &str,
        reader: &str,
        message_type: &str,
    ) -> Result<(), RouteError> {
        if self.directory.get(sender).is_none() {
            return Err(RouteError::new(
                R::UnknownSender,
                format!("sender {sender:?} is not in the authority directory"),
            ));
        }
        if self.directory.get(reader).is_none() {
            return Err(RouteError::new(
                R::UnknownReader,
                format!("recipient {reader:?} is not in the authority directory"),
            ));
        }
        if self
            .access
            .iter()
            .any(|a| a.allows(sender, reader, message_type))
        {
            Ok(())
        } else {
            Err(RouteError::new(
                R::AccessDenied,
                format!(
                    "{sender} may not send message type {message_type:?} to {reader} (no access rule allows it)"
                ),
            ))
        }
    }

    /// The copies for the further readers a message names beside its
    /// reader (xdomea `WeitererEmpfaenger`/`WeitererLeser`; their
    /// authority keys): each reader's directory id and inbox, each once
    /// and not the `recipient` itself. Every one must be a known authority
    /// with an inbox that the access rules let `sender` send
    /// `message_type`; the first that is not is the error ("further
    /// reader: …") — a copy the sender asked for is not dropped.
    pub fn copies<'k>(
        &self,
        sender: &str,
        recipient: &str,
        message_type: &str,
        further_readers: impl IntoIterator<Item = &'k str>,
    ) -> Result<Vec<(String, String)>, RouteError> {
        let mut copies: Vec<(String, String)> = Vec::new();
        for key in further_readers {
            let id = self.directory.canonical(key);
            if id == recipient || copies.iter().any(|(known, _)| known == id) {
                continue;
            }
            let further = |mut e: RouteError| {
                e.message = format!("further reader: {}", e.message);
                e
            };
            self.check_access(sender, id, message_type)
                .map_err(further)?;
            let inbox = self
                .directory
                .get(id)
                .and_then(|a| a.inbox.clone())
                .ok_or_else(|| {
                    further(RouteError::new(
                        R::UnknownReader,
                        format!("{id} has no inbox queue and cannot receive messages"),
                    ))
                })?;
            copies.push((id.to_owned(), inbox));
        }
        Ok(copies)
    }

    /// Decides where a message goes: the first rule (by priority) that
    /// matches, its recipient, adapter chain and queue. Checks sender,
    /// reader, responsibility and access rules on the way.
    pub fn route(&self, input: &RouteInput) -> Result<RouteDecision, RouteError> {
        let Some(sender) = input.sender.as_deref() else {
            return Err(RouteError::new(
                R::UnknownSender,
                "the message names no sender",
            ));
        };
        if self.directory.get(sender).is_none() {
            return Err(RouteError::new(
                R::UnknownSender,
                format!("sender {sender:?} is not in the authority directory"),
            ));
        }
        let reader = input.reader.as_deref();
        if let Some(r) = reader {
            match r.strip_prefix(SERVICE_PLACEHOLDER_PREFIX) {
                Some(service) if !self.directory.offers(service) => {
                    return Err(RouteError::new(
                        R::UnknownReader,
                        format!(
                            "reader {r:?} is a placeholder for service {service:?}, which no authority in the directory offers"
                        ),
                    ));
                }
                Some(_) => {}
                None if self.directory.get(r).is_none() => {
                    return Err(RouteError::new(
                        R::UnknownReader,
                        format!("reader {r:?} is not in the authority directory"),
                    ));
                }
                None => {}
            }
        }
        let municipality = match input.municipality.as_deref() {
            None => None,
            Some(m) => Some(Ags::parse(m).map_err(|e| RouteError::new(R::BadMunicipality, e))?),
        };

        let mut misses: Vec<NearMiss> = Vec::new();
        let mut chosen = None;
        for rule in &self.rules {
            let m = rule.mismatches(
                &input.message_type,
                input.standard.as_deref(),
                input.version.as_deref(),
                Some(sender),
                reader,
            );
            if m.is_empty() {
                chosen = Some(rule);
                break;
            }
            misses.push(NearMiss {
                rule: rule.name.clone(),
                location: rule.location.clone(),
                mismatches: m,
            });
        }
        let Some(rule) = chosen else {
            misses.sort_by_key(|m| m.mismatches.len());
            misses.truncate(3);
            return Err(RouteError {
                kind: R::NoRoute,
                message: format!(
                    "no rule matches message type {:?} ({} {}) from {sender} to {}",
                    input.message_type,
                    input.standard.as_deref().unwrap_or("-"),
                    input.version.as_deref().unwrap_or("-"),
                    reader.unwrap_or("(no reader)")
                ),
                near_misses: misses,
            });
        };

        let (recipient, resolution) = self.resolve(rule, reader, municipality.as_ref())?;
        self.check_access(sender, &recipient.id, &input.message_type)?;
        let queue = recipient.inbox.clone().ok_or_else(|| {
            // Load checks reject recipients without an inbox; the reader of a
            // message may still name the gateway itself.
            RouteError::new(
                R::UnknownReader,
                format!(
                    "{} has no inbox queue and cannot receive messages",
                    recipient.id
                ),
            )
        })?;
        Ok(RouteDecision {
            rule: rule.name.clone(),
            rule_location: rule.location.clone(),
            priority: rule.priority,
            recipient: recipient.id.clone(),
            recipient_name: recipient.name.clone(),
            resolution,
            adapters: rule.adapters.clone(),
            queue,
        })
    }

    fn resolve(
        &self,
        rule: &Rule,
        reader: Option<&str>,
        municipality: Option<&Ags>,
    ) -> Result<(&Authority, Resolution), RouteError> {
        let not_found = |id: &str| {
            RouteError::new(
                R::UnknownReader,
                format!("{id:?} is not in the authority directory"),
            )
        };
        match &rule.recipient {
            Recipient::Reader => {
                // The rule matched, so a named, known reader exists.
                let id = reader.unwrap_or_default();
                let a = self.directory.get(id).ok_or_else(|| not_found(id))?;
                if let (Some(service), Some(m)) = (&rule.service, municipality)
                    && !a.is_responsible(service, m)
                {
                    let who = self
                        .directory
                        .responsible(service, m)
                        .map_or("no authority is".to_owned(), |r| format!("{} is", r.id));
                    return Err(RouteError::new(
                        R::NotResponsible,
                        format!(
                            "{id} is not responsible for service {service:?} in municipality {m} ({who}; rule {:?})",
                            rule.name
                        ),
                    ));
                }
                Ok((a, Resolution::Reader))
            }
            Recipient::Responsible => {
                let service = rule.service.clone().unwrap_or_default();
                let Some(m) = municipality else {
                    return Err(RouteError::new(
                        R::NotResponsible,
                        format!(
                            "rule {:?} resolves the authority responsible for service {service:?}, but no municipality key was given",
                            rule.name
                        ),
                    ));
                };
                let a = self.directory.responsible(&service, m).ok_or_else(|| {
                    RouteError::new(
                        R::NotResponsible,
                        format!("no authority in the directory is responsible for service {service:?} in municipality {m}"),
                    )
                })?;
                Ok((
                    a,
                    Resolution::Responsible {
                        service,
                        municipality: m.clone(),
                    },
                ))
            }
            Recipient::Authority(id) => {
                let a = self.directory.get(id).ok_or_else(|| not_found(id))?;
                Ok((a, Resolution::Fixed))
            }
        }
    }
}

/// Per-rule checking context.
struct Ctx<'a> {
    src: &'a Source,
    directory: &'a Directory,
    errors: &'a mut Vec<ConfigError>,
    rule: &'a str,
}

impl Ctx<'_> {
    fn authority_cond(&mut self, raw: Option<Spanned<OneOrMany>>, what: &str) -> Cond {
        let Some(raw) = raw else { return Cond(None) };
        let loc = self.src.location(raw.span().start);
        let ids = raw.into_inner().into_vec();
        for id in &ids {
            if let Err(m) = check_authority_id(id) {
                self.errors.push(ConfigError::at(
                    K::BadAuthorityId,
                    &loc,
                    format!("rule {:?}: {what}: {m}", self.rule),
                ));
            } else if self.directory.get(id).is_none() {
                self.errors.push(ConfigError::at(
                    K::UnknownAuthority,
                    &loc,
                    format!(
                        "rule {:?}: {what} {id:?} is not in the authority directory",
                        self.rule
                    ),
                ));
            }
        }
        Cond(Some(ids))
    }

    fn recipient_authority(&mut self, id: &str, loc: &Location) {
        match self.directory.get(id) {
            None => self.errors.push(ConfigError::at(
                K::UnknownAuthority,
                loc,
                format!("rule {:?}: recipient {id:?} is neither \"reader\", \"responsible\" nor an authority in the directory", self.rule),
            )),
            Some(a) if a.inbox.is_none() => self.errors.push(ConfigError::at(
                K::InvalidRule,
                loc,
                format!("rule {:?}: recipient {id} has no inbox queue", self.rule),
            )),
            Some(_) => {}
        }
    }
}

fn plain_cond(raw: Option<Spanned<OneOrMany>>) -> Cond {
    Cond(raw.map(|r| r.into_inner().into_vec()))
}

/// Overlapping rules of equal priority, and rules shadowed by a rule of higher priority.
fn check_rule_set(rules: &[Rule], errors: &mut Vec<ConfigError>) {
    for (i, b) in rules.iter().enumerate() {
        for a in &rules[..i] {
            if a.priority == b.priority && a.overlaps(b) {
                errors.push(ConfigError::at(
                    K::OverlappingRules,
                    &b.location,
                    format!(
                        "rule {:?} and rule {:?} ({}) have the same priority {} and can match the same message; give one a higher priority or narrow it",
                        b.name, a.name, a.location.short(), b.priority
                    ),
                ));
            }
        }
        if let Some(a) = rules
            .iter()
            .find(|a| a.priority > b.priority && a.covers(b))
        {
            errors.push(ConfigError::at(
                K::UnreachableRule,
                &b.location,
                format!(
                    "rule {:?} can never match: rule {:?} ({}, priority {}) matches every message it does",
                    b.name, a.name, a.location.short(), a.priority
                ),
            ));
        }
    }
}

fn build_access(
    src: &Source,
    directory: &Directory,
    errors: &mut Vec<ConfigError>,
) -> Vec<AccessRule> {
    let file: AccessFile = match toml::from_str(&src.text) {
        Ok(f) => f,
        Err(e) => {
            errors.push(syntax_error(src, &e));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for raw in file.allow {
        let location = src.location(raw.sender.span().start);
        let mut ids = |field: Spanned<OneOrMany>, what: &str| {
            let loc = src.location(field.span().start);
            let ids = field.into_inner().into_vec();
            for id in &ids {
                if directory.get(id).is_none() {
                    errors.push(ConfigError::at(
                        K::UnknownAuthority,
                        &loc,
                        format!("access rule: {what} {id:?} is not in the authority directory"),
                    ));
                }
            }
            ids
        };
        let sender = ids(raw.sender, "sender");
        let reader = ids(raw.reader, "reader");
        out.push(AccessRule {
            sender,
            reader,
            message_type: raw.message_type.into_inner().into_vec(),
            description: raw.description,
            location,
        });
    }
    out
}
