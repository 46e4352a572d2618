//! The errors of parsing and validation.

use serde::Serialize;
use std::fmt;
use xoev_core::MessageError;

/// One problem found in a document, with its position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// 1-based line, if known.
    pub line: Option<u32>,
    /// 1-based column, if known.
    pub column: Option<u32>,
    /// Path of the element concerned (`/a:root/a:child[2]`), if known.
    pub path: Option<String>,
    /// What libxml2 reported, trimmed.
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `LINE:COL: PATH: message`, leaving out what is unknown
        if let Some(line) = self.line {
            write!(f, "{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
            write!(f, ": ")?;
        }
        if let Some(path) = &self.path {
            write!(f, "{path}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Machine-readable class of a [`SchemaError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SchemaErrorKind {
    /// The envelope was refused (see [`xoev_core::MessageErrorKind`]).
    Message(xoev_core::MessageErrorKind),
    /// libxml2 found the document not well-formed.
    Malformed,
    /// No standard in the catalogue has the root element's namespace.
    UnknownStandard,
    /// The standard is known, but not in the version the document declares.
    UnknownVersion,
    /// The document violates its XSD.
    Invalid,
    /// The standard's XSD could not be compiled (a catalogue problem).
    Compile,
}

impl SchemaErrorKind {
    /// Stable identifier used in dead letters and JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Message(k) => k.as_str(),
            Self::Malformed => "malformed-xml",
            Self::UnknownStandard => "unknown-standard",
            Self::UnknownVersion => "unknown-version",
            Self::Invalid => "xsd-invalid",
            Self::Compile => "schema-compile",
        }
    }
}

/// Why a document could not be parsed or does not validate.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The envelope was refused before the full parse.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// libxml2 found the document not well-formed.
    #[error("malformed XML: {0}")]
    Malformed(Issue),
    /// No catalogue entry for the root element's namespace.
    #[error("unknown standard: {}", unknown_standard_text(.root, .namespace.as_deref(), .related, .claimed.as_deref()))]
    UnknownStandard {
        /// The root element, `{ns}local`.
        root: String,
        /// Its namespace.
        namespace: Option<String>,
        /// Catalogue entries whose namespace differs from the document's
        /// only in a trailing version (`xdomea 3.0.0` for a document in
        /// `urn:xoev-de:xdomea:schema:5.0.0`): most likely another version
        /// of the same standard, named so an operator sees it at once — and
        /// the entries of the standard the root's `standard` attribute names.
        related: Vec<String>,
        /// What the document says it is where the catalogue has that
        /// standard under another namespace: the root's `standard` and
        /// `version` attributes (`XWasser 0.5.3`), else the related entries'
        /// name with the namespace's trailing version (`xdomea 3.1.0`).
        claimed: Option<String>,
    },
    /// The standard is known but not in this version.
    #[error("unknown version: {standard} {version} is not in the catalogue (known: {known})")]
    UnknownVersion {
        /// The standard's name.
        standard: String,
        /// The version the document declares.
        version: String,
        /// The versions the catalogue has, comma-separated.
        known: String,
    },
    /// The document violates its XSD; every issue found is listed.
    #[error("{standard} {version}: {} XSD violation(s), first: {}", .issues.len(), .issues.first().map(ToString::to_string).unwrap_or_default())]
    Invalid {
        /// The standard validated against.
        standard: String,
        /// Its version.
        version: String,
        /// The violations, in document order.
        issues: Vec<Issue>,
    },
    /// A schema failed to compile.
    #[error("schema {entry} failed to compile: {detail}")]
    Compile {
        /// The entry file.
        entry: String,
        /// libxml2's first errors.
        detail: String,
    },
}

impl SchemaError {
    /// The machine-readable class of this error.
    pub fn kind(&self) -> SchemaErrorKind {
        match self {
            Self::Message(e) => SchemaErrorKind::Message(e.kind),
            Self::Malformed(_) => SchemaErrorKind::Malformed,
            Self::UnknownStandard { .. } => SchemaErrorKind::UnknownStandard,
            Self::UnknownVersion { .. } => SchemaErrorKind::UnknownVersion,
            Self::Invalid { .. } => SchemaErrorKind::Invalid,
            Self::Compile { .. } => SchemaErrorKind::Compile,
        }
    }

    /// Every positioned issue this error carries (one for most kinds).
    pub fn issues(&self) -> Vec<Issue> {
        match self {
            Self::Invalid { issues, .. } => issues.clone(),
            Self::Malformed(i) => vec![i.clone()],
            // the kind is reported beside the issues: the detail alone
            Self::Message(e) => vec![Issue {
                line: e.line,
                column: e.column,
                path: None,
                message: e.detail.clone(),
            }],
            other => vec![Issue {
                line: None,
                column: None,
                path: None,
                message: other.to_string(),
            }],
        }
    }
}

/// The text of [`SchemaError::UnknownStandard`].
fn unknown_standard_text(
    root: &str,
    namespace: Option<&str>,
    related: &[String],
    claimed: Option<&str>,
) -> String {
    let local = root.rsplit_once('}').map_or(root, |(_, local)| local);
    let mut text = match (namespace, claimed) {
        (Some(ns), Some(claimed)) => format!(
            "the document is {claimed}, and no schema in the catalogue has its namespace {ns} (root element {local})"
        ),
        (Some(ns), None) => {
            format!("no schema in the catalogue for namespace {ns} (root element {local})")
        }
        (None, _) => format!(
            "the root element {local} has no namespace, and every standard in the catalogue has one"
        ),
    };
    if !related.is_empty() {
        text.push_str(&format!(
            "; the catalogue has {} — another version, or another namespace, of that standard",
            related.join(", ")
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::Issue;

    fn issue(line: Option<u32>, column: Option<u32>, path: Option<&str>) -> Issue {
        Issue {
            line,
            column,
            path: path.map(str::to_owned),
            message: "Element 'x': not expected.".into(),
        }
    }

    #[test]
    fn an_issue_shows_its_location_leaving_out_what_is_unknown() {
        let all = issue(Some(4), Some(7), Some("/a:root/a:x"));
        assert_eq!(
            all.to_string(),
            "4:7: /a:root/a:x: Element 'x': not expected."
        );
        let no_column = issue(Some(4), None, Some("/a:root"));
        assert_eq!(
            no_column.to_string(),
            "4: /a:root: Element 'x': not expected."
        );
        let nothing = issue(None, None, None);
        assert_eq!(nothing.to_string(), "Element 'x': not expected.");
    }
}
