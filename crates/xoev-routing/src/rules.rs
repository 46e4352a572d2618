//! Routing rules (`routing/*.toml` besides the directory and the access file).

use crate::directory::SERVICE_PLACEHOLDER_PREFIX;
use crate::source::Location;
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// A match condition: `None` matches anything, otherwise one of the values.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct Cond(pub Option<Vec<String>>);

/// Whether a message type written in a rule (or an access entry) matches
/// the type a header gives. XÖV headers give it either as its code
/// (`0401`) or as the message element's whole name, which ends in that
/// code (`kommunal.Initiieren.0401`, as XBeteiligung 1.2's code list does):
/// a bare code matches either form, as it matches that code in any
/// standard; a whole name matches only itself.
pub fn same_message_type(rule: &str, header: &str) -> bool {
    rule == header
        || (!rule.is_empty()
            && rule.bytes().all(|c| c.is_ascii_digit())
            && header
                .strip_suffix(rule)
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')))
}

/// Plain equality, how every condition but the message type compares.
fn equal(a: &str, b: &str) -> bool {
    a == b
}

impl Cond {
    /// Whether `value` (absent: `None`) satisfies the condition.
    pub fn matches(&self, value: Option<&str>) -> bool {
        self.matches_by(value, equal)
    }

    /// [`Cond::matches`] with `same(condition's value, value)` deciding.
    fn matches_by(&self, value: Option<&str>, same: fn(&str, &str) -> bool) -> bool {
        match (&self.0, value) {
            (None, _) => true,
            (Some(vs), Some(v)) => vs.iter().any(|x| same(x, v)),
            (Some(_), None) => false,
        }
    }

    /// Whether every value matching `other` also matches `self`.
    pub fn covers(&self, other: &Cond) -> bool {
        self.covers_by(other, equal)
    }

    fn covers_by(&self, other: &Cond, same: fn(&str, &str) -> bool) -> bool {
        match (&self.0, &other.0) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => b.iter().all(|v| a.iter().any(|x| same(x, v))),
        }
    }

    /// Whether some value matches both conditions.
    pub fn intersects(&self, other: &Cond) -> bool {
        self.intersects_by(other, equal)
    }

    fn intersects_by(&self, other: &Cond, same: fn(&str, &str) -> bool) -> bool {
        match (&self.0, &other.0) {
            (None, _) | (_, None) => true,
            (Some(a), Some(b)) => a.iter().any(|v| b.iter().any(|x| same(v, x) || same(x, v))),
        }
    }

    /// The condition as text, e.g. `any` or `"0401" or "0402"`.
    pub fn describe(&self) -> String {
        match &self.0 {
            None => "any".into(),
            Some(vs) => vs
                .iter()
                .map(|v| format!("{v:?}"))
                .collect::<Vec<_>>()
                .join(" or "),
        }
    }
}

/// Whom a rule delivers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "authority")]
pub enum Recipient {
    /// The reader named in the message header (which must be a known authority).
    Reader,
    /// The authority responsible for the rule's service in the case's
    /// municipality; the message names no reader or a service placeholder.
    Responsible,
    /// Always this authority.
    Authority(String),
}

/// One routing rule, checked and ready to match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Unique name.
    pub name: String,
    /// Higher wins.
    pub priority: i64,
    /// What the rule is for.
    pub description: Option<String>,
    /// Where it is defined.
    pub location: Location,
    /// Message type codes (the header's `nachrichtentyp` code), compared by
    /// [`same_message_type`].
    pub message_type: Cond,
    /// Standards (the name of the schema catalogue entry that validated the
    /// message).
    pub standard: Cond,
    /// Standard versions (the version of the catalogue schema that
    /// validated the message; the root's `version` attribute where no
    /// catalogue entry is known).
    pub version: Cond,
    /// Sender authority ids.
    pub sender: Cond,
    /// Reader authority ids.
    pub reader: Cond,
    /// The service whose responsibility decides or checks the recipient.
    pub service: Option<String>,
    /// Whom the message goes to.
    pub recipient: Recipient,
    /// The adapter chain, applied in order (empty: forwarded unchanged).
    pub adapters: Vec<String>,
}

/// What a rule requires of the reader, beyond its `reader` condition.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape<'a> {
    /// A real (non-placeholder) reader must be named.
    Named,
    /// No reader, or the placeholder of this service.
    Unnamed(&'a str),
    /// Anything.
    Any,
}

impl Rule {
    fn shape(&self) -> Shape<'_> {
        match &self.recipient {
            Recipient::Reader => Shape::Named,
            Recipient::Responsible => Shape::Unnamed(self.service.as_deref().unwrap_or("")),
            // A reader condition lists real authorities, so it implies a named reader.
            Recipient::Authority(_) if self.reader.0.is_some() => Shape::Named,
            Recipient::Authority(_) => Shape::Any,
        }
    }

    /// The conditions of the rule that `input` fails, as sentences (empty: it matches).
    pub(crate) fn mismatches(
        &self,
        message_type: &str,
        standard: Option<&str>,
        version: Option<&str>,
        sender: Option<&str>,
        reader: Option<&str>,
    ) -> Vec<String> {
        let mut out = Vec::new();
        let mut check =
            |what: &str, cond: &Cond, value: Option<&str>, same: fn(&str, &str) -> bool| {
                if !cond.matches_by(value, same) {
                    out.push(format!(
                        "{what} is {}, the rule wants {}",
                        value.map_or("absent".into(), |v| format!("{v:?}")),
                        cond.describe()
                    ));
                }
            };
        check(
            "message type",
            &self.message_type,
            Some(message_type),
            same_message_type,
        );
        check("standard", &self.standard, standard, equal);
        check("version", &self.version, version, equal);
        check("sender", &self.sender, sender, equal);
        check("reader", &self.reader, reader, equal);
        let placeholder = reader.and_then(|r| r.strip_prefix(SERVICE_PLACEHOLDER_PREFIX));
        match self.shape() {
            Shape::Named if reader.is_none() => out.push(
                "the message names no reader, the rule delivers to the named reader".into(),
            ),
            Shape::Named if placeholder.is_some() => out.push(format!(
                "the reader {:?} is a service placeholder, the rule delivers to a named reader",
                reader.unwrap_or_default()
            )),
            Shape::Unnamed(service) => match (reader, placeholder) {
                (None, _) => {}
                (Some(_), Some(p)) if p == service => {}
                (Some(r), Some(_)) => out.push(format!(
                    "the reader {r:?} is the placeholder of another service, the rule resolves service {service:?}"
                )),
                (Some(r), None) => out.push(format!(
                    "the message names the reader {r:?}, the rule resolves the responsible authority only for messages without one (or with reader \"{SERVICE_PLACEHOLDER_PREFIX}{service}\")"
                )),
            },
            _ => {}
        }
        out
    }

    /// The conditions compared by plain equality (all but the message type).
    fn plain_conds(&self) -> [&Cond; 4] {
        [&self.standard, &self.version, &self.sender, &self.reader]
    }

    /// Whether some message can match both rules.
    pub(crate) fn overlaps(&self, other: &Rule) -> bool {
        let shapes = !matches!(
            (self.shape(), other.shape()),
            (Shape::Named, Shape::Unnamed(_)) | (Shape::Unnamed(_), Shape::Named)
        );
        shapes
            && self
                .message_type
                .intersects_by(&other.message_type, same_message_type)
            && self
                .plain_conds()
                .iter()
                .zip(other.plain_conds())
                .all(|(a, b)| a.intersects(b))
    }

    /// Whether every message matching `other` also matches `self`.
    pub(crate) fn covers(&self, other: &Rule) -> bool {
        let shapes = match (self.shape(), other.shape()) {
            (Shape::Any, _) => true,
            (Shape::Named, Shape::Named) => true,
            (Shape::Unnamed(a), Shape::Unnamed(b)) => a == b,
            _ => false,
        };
        shapes
            && self
                .message_type
                .covers_by(&other.message_type, same_message_type)
            && self
                .plain_conds()
                .iter()
                .zip(other.plain_conds())
                .all(|(a, b)| a.covers(b))
    }
}

/// One value or a list of values in TOML.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(crate) fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RulesFile {
    #[serde(default)]
    pub(crate) rule: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    pub(crate) name: Spanned<String>,
    #[serde(default)]
    pub(crate) priority: i64,
    pub(crate) description: Option<String>,
    pub(crate) message_type: Option<Spanned<OneOrMany>>,
    pub(crate) standard: Option<Spanned<OneOrMany>>,
    pub(crate) version: Option<Spanned<OneOrMany>>,
    pub(crate) sender: Option<Spanned<OneOrMany>>,
    pub(crate) reader: Option<Spanned<OneOrMany>>,
    pub(crate) service: Option<Spanned<String>>,
    pub(crate) recipient: Spanned<String>,
    #[serde(default)]
    pub(crate) adapters: Vec<Spanned<String>>,
}
