//! The citizen's view of the access log: one plain-language sentence per
//! exchange ("On … X asked Y for … for the purpose … (consent …). Answered: yes.").

use crate::log::{Entry, Outcome};
use crate::timefmt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use time::OffsetDateTime;
use time::macros::format_description;

/// Plain-language names for ids, loaded from TOML:
///
/// ```toml
/// [authorities]
/// "ags:09162000" = "Stadt Musterstadt, Kita-Gebührenstelle"
/// [evidence_types]
/// "income-tax-assessment" = "your income-tax assessment data"
/// [purposes]
/// "kita-fee-assessment" = "Kita fee assessment"
/// ```
///
/// An id without a name is shown as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Names {
    /// Authority id → name.
    #[serde(default)]
    pub authorities: BTreeMap<String, String>,
    /// Evidence type → what it is, as said to the citizen ("your …").
    #[serde(default)]
    pub evidence_types: BTreeMap<String, String>,
    /// Purpose id → description.
    #[serde(default)]
    pub purposes: BTreeMap<String, String>,
}

/// Why a names file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NamesError {
    /// The file cannot be read.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        error: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// What is wrong, with position.
        message: String,
    },
}

impl NamesError {
    /// Stable identifier.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Io { .. } => "names-io",
            Self::Syntax { .. } => "names-syntax",
        }
    }
}

impl Names {
    /// Parses the TOML form (unknown keys are refused).
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, NamesError> {
        toml::from_str(text).map_err(|e| NamesError::Syntax {
            path: origin.to_owned(),
            message: e.to_string(),
        })
    }

    /// Loads a TOML file.
    pub fn load(path: &Path) -> Result<Self, NamesError> {
        let text = std::fs::read_to_string(path).map_err(|source| NamesError::Io {
            path: path.display().to_string(),
            error: source,
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    fn authority<'a>(&'a self, id: &'a str) -> &'a str {
        self.authorities.get(id).map_or(id, String::as_str)
    }

    fn evidence<'a>(&'a self, id: &'a str) -> &'a str {
        self.evidence_types.get(id).map_or(id, String::as_str)
    }

    fn purpose<'a>(&'a self, id: &'a str) -> &'a str {
        self.purposes.get(id).map_or(id, String::as_str)
    }
}

/// One exchange as the citizen sees it: all log entries with the same
/// request message id, folded together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessEvent {
    /// When the request arrived (time of its first entry).
    #[serde(with = "timefmt::serde_utc")]
    pub time: OffsetDateTime,
    /// Requesting authority id.
    pub requester: String,
    /// Its name.
    pub requester_name: String,
    /// Answering authority id, if the request got that far.
    pub answerer: Option<String>,
    /// Its name.
    pub answerer_name: Option<String>,
    /// Evidence type id.
    pub evidence_type: String,
    /// The period the evidence covers, if named.
    pub period: Option<String>,
    /// What it is, in plain words.
    pub evidence: String,
    /// Purpose id.
    pub purpose: String,
    /// Its description.
    pub purpose_text: String,
    /// Consent reference the request relied on.
    pub consent: Option<String>,
    /// The last outcome recorded for the exchange.
    pub outcome: Outcome,
    /// Message id of the request.
    pub request_message_id: String,
    /// Message id of the answer, if any.
    pub answer_message_id: Option<String>,
    /// Sequence numbers of the log entries behind this event.
    pub entries: Vec<u64>,
    /// The plain-language sentence.
    pub text: String,
}

/// Folds a citizen's entries (in chain order) into exchanges, oldest first.
pub fn citizen_view(entries: &[Entry], names: &Names) -> Vec<AccessEvent> {
    let mut order: Vec<&str> = Vec::new();
    let mut groups: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    for e in entries {
        let g = groups.entry(e.request_message_id.as_str()).or_default();
        if g.is_empty() {
            order.push(e.request_message_id.as_str());
        }
        g.push(e);
    }
    let mut events: Vec<AccessEvent> = order
        .into_iter()
        .filter_map(|id| groups.get(id))
        .filter_map(|g| fold(g, names))
        .collect();
    events.sort_by_key(|e| e.time);
    events
}

fn fold(group: &[&Entry], names: &Names) -> Option<AccessEvent> {
    let first = group.first()?;
    let last = group.last()?;
    let answerer = group.iter().rev().find_map(|e| e.answerer.clone());
    let consent = group.iter().rev().find_map(|e| e.consent.clone());
    let answer_message_id = group.iter().rev().find_map(|e| e.answer_message_id.clone());
    let mut ev = AccessEvent {
        time: first.time,
        requester: first.requester.clone(),
        requester_name: names.authority(&first.requester).to_owned(),
        answerer_name: answerer.as_deref().map(|a| names.authority(a).to_owned()),
        answerer,
        evidence_type: first.evidence_type.clone(),
        period: first.period.clone(),
        evidence: names.evidence(&first.evidence_type).to_owned(),
        purpose: first.purpose.clone(),
        purpose_text: names.purpose(&first.purpose).to_owned(),
        consent,
        outcome: last.outcome.clone(),
        request_message_id: first.request_message_id.clone(),
        answer_message_id,
        entries: group.iter().map(|e| e.seq).collect(),
        text: String::new(),
    };
    ev.text = sentence(&ev);
    Some(ev)
}

/// The sentence for one exchange.
fn sentence(ev: &AccessEvent) -> String {
    let when = format_description!("[year]-[month]-[day] at [hour]:[minute] UTC");
    let when = ev
        .time
        .format(&when)
        .unwrap_or_else(|_| timefmt::format(ev.time));
    let whom = match &ev.answerer_name {
        Some(a) => format!(" {a}"),
        None => String::new(),
    };
    let period = match &ev.period {
        Some(p) => format!(" of {p}"),
        None => String::new(),
    };
    let consent = match &ev.consent {
        Some(c) => format!("consent {c}"),
        None => "without a consent".to_owned(),
    };
    let outcome = match &ev.outcome {
        Outcome::Answered => "Answered: yes.".to_owned(),
        Outcome::Requested | Outcome::Forwarded => "Answered: not yet.".to_owned(),
        Outcome::Rejected(reason) => format!(
            "Answered: no — the gateway refused it ({}); no data was passed to {}.",
            plain_reason(reason),
            ev.requester_name
        ),
    };
    format!(
        "On {when}, {} asked{whom} for {}{period} for the purpose '{}' ({consent}). {outcome}",
        ev.requester_name, ev.evidence, ev.purpose_text
    )
}

/// A rejection reason in plain words (unknown ids are shown as they are).
pub fn plain_reason(reason: &str) -> &str {
    match reason {
        "no-consent" => "you had not given consent",
        "consent-revoked" => "you had revoked your consent",
        "consent-expired" => "your consent had expired",
        "consent-not-yet-valid" => "your consent was not yet valid",
        "consent-other-purpose" => "your consent was for another purpose",
        other => other,
    }
}
