//! Purpose-bound minimisation as configuration, not code.
//!
//! - `config/minimisation.toml`: per (evidence type, purpose) the
//!   assessment fields an evidence answer may carry. A pair that is not
//!   listed allows nothing.
//! - `config/fee-tables.toml`: per municipality (AGS) and purpose a fee
//!   table; where one applies, the answer carries only the bracket instead of
//!   the income figures.
//!
//! Both files are read with unknown keys refused and every problem reported
//! at once. The allowance part is independent of the Kita case and meant for
//! reuse (consents and the access log name the same (evidence type, purpose)).

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A field of an income-tax assessment that an evidence answer can carry.
///
/// Persons (names, tax ids, dates of birth), income per type and the tax
/// number are deliberately not fields: the evidence document has no slot
/// for them, so no configuration can release them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum AssessmentField {
    /// The assessment year.
    Veranlagungsjahr,
    /// The date of the assessment notice.
    Bescheiddatum,
    /// Joint or individual assessment.
    Veranlagungsart,
    /// Summe der Einkünfte.
    SummeDerEinkuenfte,
    /// Gesamtbetrag der Einkünfte.
    GesamtbetragDerEinkuenfte,
    /// Zu versteuerndes Einkommen (taxable income).
    ZuVersteuerndesEinkommen,
    /// Festgesetzte Einkommensteuer.
    FestgesetzteEinkommensteuer,
    /// Solidaritätszuschlag.
    Solidaritaetszuschlag,
    /// Kirchensteuer.
    Kirchensteuer,
}

impl AssessmentField {
    /// Every field, in the order of the evidence document.
    pub const ALL: [Self; 9] = [
        Self::Veranlagungsjahr,
        Self::Bescheiddatum,
        Self::Veranlagungsart,
        Self::SummeDerEinkuenfte,
        Self::GesamtbetragDerEinkuenfte,
        Self::ZuVersteuerndesEinkommen,
        Self::FestgesetzteEinkommensteuer,
        Self::Solidaritaetszuschlag,
        Self::Kirchensteuer,
    ];

    /// Whether the field is an amount of money (replaced by the bracket
    /// where a fee table applies).
    pub fn is_amount(self) -> bool {
        !matches!(
            self,
            Self::Veranlagungsjahr | Self::Bescheiddatum | Self::Veranlagungsart
        )
    }

    /// The element name in XEStB (assessment and evidence document).
    pub fn element(self) -> &'static str {
        match self {
            Self::Veranlagungsjahr => "veranlagungsjahr",
            Self::Bescheiddatum => "bescheiddatum",
            Self::Veranlagungsart => "veranlagungsart",
            Self::SummeDerEinkuenfte => "summeDerEinkuenfte",
            Self::GesamtbetragDerEinkuenfte => "gesamtbetragDerEinkuenfte",
            Self::ZuVersteuerndesEinkommen => "zuVersteuerndesEinkommen",
            Self::FestgesetzteEinkommensteuer => "festgesetzteEinkommensteuer",
            Self::Solidaritaetszuschlag => "solidaritaetszuschlag",
            Self::Kirchensteuer => "kirchensteuer",
        }
    }
}

/// What one (evidence type, purpose) allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allowance {
    /// The evidence type (XNachweis `EvidenceTypeClassification`).
    pub evidence_type: String,
    /// The purpose URI.
    pub purpose: String,
    /// The fields that may be passed on.
    pub fields: BTreeSet<AssessmentField>,
    /// Free text: the legal basis, for people reading the file.
    #[serde(default)]
    pub legal_basis: String,
}

/// One bracket of a fee table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bracket {
    /// The bracket's number (1, 2, …).
    pub stufe: u32,
    /// Upper bound of the income figure in whole euros, inclusive; the
    /// last bracket has none.
    pub up_to: Option<i64>,
    /// The bracket's name as the fee statute words it.
    pub label: String,
}

/// A municipality's fee table for one purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeTable {
    /// The municipality key (AGS, 8 digits).
    pub ags: String,
    /// The table's name (statute), carried in the answer.
    pub name: String,
    /// The purpose the table serves.
    pub purpose: String,
    /// The income figure the brackets are defined on (an amount field).
    pub income: AssessmentField,
    /// The brackets, ascending; the last without upper bound.
    pub brackets: Vec<Bracket>,
}

impl FeeTable {
    /// The bracket for an income given in cents.
    pub fn bracket_for(&self, cents: i64) -> Option<&Bracket> {
        self.brackets.iter().find(|b| {
            b.up_to
                .is_none_or(|euros| cents <= euros.saturating_mul(100))
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowanceFile {
    #[serde(default)]
    allowance: Vec<Allowance>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeeTableFile {
    #[serde(default)]
    table: Vec<FeeTable>,
}

/// Why the minimisation configuration could not be loaded; lists every problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// A file is not TOML of the expected shape (unknown keys, unknown fields).
    #[error("{path}: {detail}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The TOML error with line and column.
        detail: String,
    },
    /// The files parse but contradict themselves or each other.
    #[error("minimisation config: {}", .problems.join("; "))]
    Invalid {
        /// Every problem found.
        problems: Vec<String>,
    },
}

/// Allowances and fee tables, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Minimisation {
    allowances: Vec<Allowance>,
    tables: Vec<FeeTable>,
}

impl Minimisation {
    /// Parses and checks the two files' contents (`label`s name them in errors).
    pub fn from_toml(allowances: &str, fee_tables: &str) -> Result<Self, ConfigError> {
        let a: AllowanceFile = toml::from_str(allowances).map_err(|e| ConfigError::Syntax {
            path: "minimisation.toml".into(),
            detail: e.to_string(),
        })?;
        let t: FeeTableFile = toml::from_str(fee_tables).map_err(|e| ConfigError::Syntax {
            path: "fee-tables.toml".into(),
            detail: e.to_string(),
        })?;
        Self::new(a.allowance, t.table)
    }

    /// Loads `minimisation.toml` and `fee-tables.toml` (the latter may be absent).
    pub fn load(allowances: &Path, fee_tables: &Path) -> Result<Self, ConfigError> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|source| ConfigError::Io {
                path: p.to_owned(),
                error: source,
            })
        };
        let a_text = read(allowances)?;
        let t_text = if fee_tables.exists() {
            read(fee_tables)?
        } else {
            String::new()
        };
        let a: AllowanceFile = toml::from_str(&a_text).map_err(|e| ConfigError::Syntax {
            path: allowances.to_owned(),
            detail: e.to_string(),
        })?;
        let t: FeeTableFile = toml::from_str(&t_text).map_err(|e| ConfigError::Syntax {
            path: fee_tables.to_owned(),
            detail: e.to_string(),
        })?;
        Self::new(a.allowance, t.table)
    }

    /// Checks allowances and tables together; reports every problem.
    pub fn new(allowances: Vec<Allowance>, tables: Vec<FeeTable>) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let mut seen = BTreeSet::new();
        for a in &allowances {
            if !seen.insert((a.evidence_type.clone(), a.purpose.clone())) {
                problems.push(format!(
                    "allowance for ({}, {}) is listed twice",
                    a.evidence_type, a.purpose
                ));
            }
        }
        let mut seen = BTreeSet::new();
        for t in &tables {
            let who = format!("fee table {} ({})", t.ags, t.name);
            if let Err(e) = crate::context::check_ags(&t.ags) {
                problems.push(format!("{who}: {e}"));
            }
            if !seen.insert((t.ags.clone(), t.purpose.clone())) {
                problems.push(format!("{who}: a second table for purpose {}", t.purpose));
            }
            if !t.income.is_amount() {
                problems.push(format!("{who}: income {:?} is not an amount", t.income));
            }
            if !allowances
                .iter()
                .any(|a| a.purpose == t.purpose && a.fields.contains(&t.income))
            {
                problems.push(format!(
                    "{who}: no allowance for purpose {} permits {:?}, so the bracket could not be computed",
                    t.purpose, t.income
                ));
            }
            match t.brackets.split_last() {
                None => problems.push(format!("{who}: no brackets")),
                Some((last, rest)) => {
                    if last.up_to.is_some() {
                        problems.push(format!("{who}: the last bracket must have no up_to"));
                    }
                    let mut prev: Option<i64> = None;
                    for b in rest {
                        match (b.up_to, prev) {
                            (None, _) => problems.push(format!(
                                "{who}: bracket {} has no up_to but is not the last",
                                b.stufe
                            )),
                            (Some(u), Some(p)) if u <= p => problems.push(format!(
                                "{who}: bracket {} up_to {u} is not above the previous {p}",
                                b.stufe
                            )),
                            (Some(u), _) => prev = Some(u),
                        }
                    }
                    let stufen: BTreeSet<u32> = t.brackets.iter().map(|b| b.stufe).collect();
                    if stufen.len() != t.brackets.len() || stufen.contains(&0) {
                        problems.push(format!("{who}: bracket numbers must be distinct and ≥ 1"));
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(Self { allowances, tables })
        } else {
            Err(ConfigError::Invalid { problems })
        }
    }

    /// The allowance for (evidence type, purpose); `None` means nothing may pass.
    pub fn allowance(&self, evidence_type: &str, purpose: &str) -> Option<&Allowance> {
        self.allowances
            .iter()
            .find(|a| a.evidence_type == evidence_type && a.purpose == purpose)
    }

    /// The fee table of a municipality for a purpose, if configured.
    pub fn fee_table(&self, ags: &str, purpose: &str) -> Option<&FeeTable> {
        self.tables
            .iter()
            .find(|t| t.ags == ags && t.purpose == purpose)
    }

    /// All allowances.
    pub fn allowances(&self) -> &[Allowance] {
        &self.allowances
    }

    /// All fee tables.
    pub fn fee_tables(&self) -> &[FeeTable] {
        &self.tables
    }
}

/// Parses a euro amount (`-1234.5`, `76550.00`) into cents.
pub(crate) fn parse_cents(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty()
        || int.len() > 15
        || frac.len() > 2
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let euros: i64 = int.parse().ok()?;
    let cents: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    let v = euros.checked_mul(100)?.checked_add(cents)?;
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOW: &str = r#"
[[allowance]]
evidence_type = "https://sr.oots.tech.ec.europa.eu/evidencetypeclassifications/ec/x"
purpose = "urn:p"
fields = ["veranlagungsjahr", "summe-der-einkuenfte"]
"#;

    #[test]
    fn cents_parse_strictly() {
        assert_eq!(parse_cents("76550.00"), Some(7_655_000));
        assert_eq!(parse_cents("-300.5"), Some(-30_050));
        assert_eq!(parse_cents("12"), Some(1200));
        assert_eq!(parse_cents("1.234"), None);
        assert_eq!(parse_cents("1e3"), None);
        assert_eq!(parse_cents(""), None);
    }

    #[test]
    fn unconfigured_purpose_allows_nothing() {
        let m = Minimisation::from_toml(ALLOW, "").unwrap_or_default();
        assert!(
            m.allowance(
                "https://sr.oots.tech.ec.europa.eu/evidencetypeclassifications/ec/x",
                "urn:p"
            )
            .is_some()
        );
        assert!(
            m.allowance(
                "https://sr.oots.tech.ec.europa.eu/evidencetypeclassifications/ec/x",
                "urn:other"
            )
            .is_none()
        );
        assert!(m.allowance("other", "urn:p").is_none());
    }

    #[test]
    fn unknown_field_names_are_refused() {
        let bad = ALLOW.replace("summe-der-einkuenfte", "steuerpflichtige");
        let err = Minimisation::from_toml(&bad, "").err();
        assert!(
            matches!(&err, Some(ConfigError::Syntax { detail, .. }) if detail.contains("steuerpflichtige")),
            "{err:?}"
        );
    }

    #[test]
    fn every_table_problem_is_reported_at_once() {
        let tables = r#"
[[table]]
ags = "0661100"
name = "t"
purpose = "urn:p"
income = "gesamtbetrag-der-einkuenfte"
brackets = [ { stufe = 1, up_to = 30000, label = "a" }, { stufe = 1, up_to = 20000, label = "b" }, { stufe = 3, up_to = 90000, label = "c" } ]
"#;
        let Err(ConfigError::Invalid { problems }) = Minimisation::from_toml(ALLOW, tables) else {
            panic!("expected Invalid");
        };
        let all = problems.join("\n");
        for needle in ["AGS", "permits", "last bracket", "not above", "distinct"] {
            assert!(all.contains(needle), "{needle} missing in:\n{all}");
        }
    }

    #[test]
    fn brackets_are_inclusive_upper_bounds() {
        let t = FeeTable {
            ags: "06611000".into(),
            name: "t".into(),
            purpose: "urn:p".into(),
            income: AssessmentField::SummeDerEinkuenfte,
            brackets: vec![
                Bracket {
                    stufe: 1,
                    up_to: Some(25_000),
                    label: "a".into(),
                },
                Bracket {
                    stufe: 2,
                    up_to: None,
                    label: "b".into(),
                },
            ],
        };
        assert_eq!(t.bracket_for(2_500_000).map(|b| b.stufe), Some(1));
        assert_eq!(t.bracket_for(2_500_001).map(|b| b.stufe), Some(2));
        assert_eq!(t.bracket_for(-100).map(|b| b.stufe), Some(1));
    }
}
