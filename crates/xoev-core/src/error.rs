//! Errors raised while reading a message's envelope and header.

use std::fmt;

/// Why a byte string is not an acceptable XÖV message.
///
/// Carries a machine-readable [`MessageErrorKind`] plus a human-readable
/// detail and, where known, the 1-based line and column of the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageError {
    /// What kind of problem this is (stable, machine-readable).
    pub kind: MessageErrorKind,
    /// A specific explanation for humans.
    pub detail: String,
    /// Line (1-based) where the problem was found, if known.
    pub line: Option<u32>,
    /// Column (1-based) where the problem was found, if known.
    pub column: Option<u32>,
}

/// The classes of message errors; each maps to a distinct rejection reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum MessageErrorKind {
    /// The message is larger than the configured maximum size.
    Oversize,
    /// The bytes are not well-formed XML.
    Malformed,
    /// The bytes are not valid UTF-8, or the XML declaration names another encoding.
    Encoding,
    /// The document carries a DOCTYPE (DTDs and entities are refused outright).
    Doctype,
    /// The document nests deeper than the configured limit.
    TooDeep,
    /// An element carries more attributes (namespace declarations
    /// included) than [`MAX_ATTRIBUTES`](crate::MAX_ATTRIBUTES).
    TooManyAttributes,
    /// More namespace declarations are in scope at an element than
    /// [`MAX_NAMESPACES_IN_SCOPE`](crate::MAX_NAMESPACES_IN_SCOPE).
    TooManyNamespaces,
    /// The document holds more comments, processing instructions and CDATA
    /// sections than
    /// [`MAX_COMMENTS_PIS_AND_CDATA`](crate::MAX_COMMENTS_PIS_AND_CDATA).
    TooManyCommentsOrCdata,
    /// The document has no root element.
    Empty,
    /// An XÖV header is present but a required field is missing or invalid.
    Header,
}

impl MessageErrorKind {
    /// Stable identifier used in dead-letter headers and JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oversize => "oversize",
            Self::Malformed => "malformed-xml",
            Self::Encoding => "encoding",
            Self::Doctype => "doctype-refused",
            Self::TooDeep => "too-deep",
            Self::TooManyAttributes => "too-many-attributes",
            Self::TooManyNamespaces => "too-many-namespaces",
            Self::TooManyCommentsOrCdata => "too-many-comments-or-cdata",
            Self::Empty => "empty",
            Self::Header => "invalid-header",
        }
    }
}

impl MessageError {
    /// Creates an error without a position.
    pub fn new(kind: MessageErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            line: None,
            column: None,
        }
    }

    /// The first NUL byte of `raw`, if it has one: XML has no U+0000, and
    /// libxml2 would silently end the document there (whatever follows —
    /// a second document, say — would travel unseen). Both the header pass
    /// and the full parse refuse it.
    pub fn nul_byte(raw: &[u8]) -> Option<Self> {
        let at = memchr::memchr(0, raw)?;
        Some(
            Self::new(
                MessageErrorKind::Malformed,
                "a NUL byte (U+0000) is not allowed in XML",
            )
            .at(raw, at),
        )
    }

    /// An element with more than [`MAX_ATTRIBUTES`](crate::MAX_ATTRIBUTES)
    /// attributes (the header pass and the full parse both refuse it).
    pub fn too_many_attributes() -> Self {
        Self::new(
            MessageErrorKind::TooManyAttributes,
            format!(
                "an element carries more than {} attributes (namespace declarations included)",
                crate::MAX_ATTRIBUTES
            ),
        )
    }

    /// An element with more than
    /// [`MAX_NAMESPACES_IN_SCOPE`](crate::MAX_NAMESPACES_IN_SCOPE)
    /// namespace declarations in scope.
    pub fn too_many_namespaces() -> Self {
        Self::new(
            MessageErrorKind::TooManyNamespaces,
            format!(
                "more than {} namespace declarations are in scope at this element",
                crate::MAX_NAMESPACES_IN_SCOPE
            ),
        )
    }

    /// Attaches the position of byte `offset` within `input` (whitespace at
    /// `offset` is skipped, so the position names the offending markup).
    pub fn at(mut self, input: &[u8], offset: usize) -> Self {
        let skipped = input.get(offset..).map_or(0, |rest| {
            rest.iter().take_while(|b| b.is_ascii_whitespace()).count()
        });
        let (line, column) = line_col(input, offset + skipped);
        self.line = Some(line);
        self.column = Some(column);
        self
    }
}

/// 1-based line and column of byte `offset` in `input` (columns count bytes).
pub(crate) fn line_col(input: &[u8], offset: usize) -> (u32, u32) {
    let offset = offset.min(input.len());
    let before = &input[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = match before.iter().rposition(|&b| b == b'\n') {
        Some(nl) => offset - nl,
        None => offset + 1,
    };
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(col).unwrap_or(u32::MAX),
    )
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{} at {l}:{c}: {}", self.kind.as_str(), self.detail),
            _ => write!(f, "{}: {}", self.kind.as_str(), self.detail),
        }
    }
}

impl std::error::Error for MessageError {}
