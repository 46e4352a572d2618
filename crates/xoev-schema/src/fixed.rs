//! Fixed element values compared as values, where libxml2 compares text.
//!
//! XML Schema compares an element's content with its declared fixed value
//! in the value space of the element's type (cvc-elt 5.2.2.2.2): `true`
//! meets `fixed="1"` on an `xs:boolean`, `1.0` meets `fixed="1"` on an
//! `xs:decimal`. libxml2 2.9 compares the strings instead (its source marks
//! the check "VAL TODO") and refuses such messages, although Xerces and
//! other validators accept them; attributes it already compares by value.
//! Real messages are hit: xdomea fixes `Importbestaetigung`, `Unbefristet`
//! and `SignaturSiegelEingebettet` to `1`, and senders write `true`.
//!
//! No validator library we can use does this right, so the gateway withdraws
//! exactly those reports: [`FixedValues::scan`] reads the schema documents a
//! compile loaded for element declarations with a fixed value of a built-in
//! boolean or decimal type, and [`FixedValues::equal`] says whether a value
//! libxml2 refused equals the fixed one in that type's value space. Every
//! declaration of that name with that fixed value must have such a type;
//! anything else (a derived type, a name declared with several types) keeps
//! libxml2's verdict.

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use std::collections::HashMap;
use std::path::PathBuf;

/// The XML Schema namespace.
const XSD: &str = "http://www.w3.org/2001/XMLSchema";

/// The built-in types whose values are numbers (decimal and its derivations).
const DECIMAL_TYPES: [&str; 14] = [
    "decimal",
    "integer",
    "nonPositiveInteger",
    "negativeInteger",
    "long",
    "int",
    "short",
    "byte",
    "nonNegativeInteger",
    "unsignedLong",
    "unsignedInt",
    "unsignedShort",
    "unsignedByte",
    "positiveInteger",
];

/// A value space the comparison knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueSpace {
    Boolean,
    Decimal,
}

/// The element declarations with a fixed value of a boolean or decimal type.
#[derive(Debug, Default)]
pub(crate) struct FixedValues {
    /// (local name, fixed value) → the value space all such declarations
    /// share, or `None` where they do not (or one is not built-in).
    declarations: HashMap<(String, String), Option<ValueSpace>>,
}

impl FixedValues {
    /// Reads the element declarations of `files` (unreadable files are
    /// skipped: the compile has read them already, and a declaration not
    /// found only keeps libxml2's verdict).
    pub(crate) fn scan(files: &[PathBuf]) -> Self {
        let mut out = Self::default();
        for file in files {
            if let Ok(text) = std::fs::read_to_string(file) {
                out.scan_document(&text);
            }
        }
        out
    }

    fn scan_document(&mut self, text: &str) {
        let mut reader = Reader::from_str(text);
        // namespace declarations in scope: (prefix, uri), innermost last,
        // with the element depth that declared them
        let mut scopes: Vec<(usize, String, String)> = Vec::new();
        let mut depth = 0usize;
        loop {
            let (e, empty) = match reader.read_event() {
                Ok(Event::Start(e)) => (e, false),
                Ok(Event::Empty(e)) => (e, true),
                Ok(Event::End(_)) => {
                    scopes.retain(|(d, _, _)| *d < depth);
                    depth = depth.saturating_sub(1);
                    continue;
                }
                Ok(Event::Eof) | Err(_) => return,
                Ok(_) => continue,
            };
            depth += 1;
            for a in e.attributes().flatten() {
                let key = a.key.as_ref();
                let prefix = if key == b"xmlns" {
                    Some(String::new())
                } else {
                    key.strip_prefix(b"xmlns:")
                        .map(|p| String::from_utf8_lossy(p).into_owned())
                };
                if let (Some(prefix), Ok(uri)) = (prefix, a.unescape_value()) {
                    scopes.push((depth, prefix, uri.into_owned()));
                }
            }
            if e.local_name().as_ref() == b"element" {
                self.declaration(&e, &scopes);
            }
            if empty {
                scopes.retain(|(d, _, _)| *d < depth);
                depth -= 1;
            }
        }
    }

    /// Records an `xs:element` with `name` and `fixed`.
    fn declaration(&mut self, e: &BytesStart<'_>, scopes: &[(usize, String, String)]) {
        let attr = |name: &[u8]| {
            e.try_get_attribute(name)
                .ok()
                .flatten()
                .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
        };
        let (Some(name), Some(fixed)) = (attr(b"name"), attr(b"fixed")) else {
            return;
        };
        let space = attr(b"type").and_then(|t| {
            let (prefix, local) = t.split_once(':').unwrap_or(("", t.as_str()));
            let uri = scopes.iter().rev().find(|(_, p, _)| p == prefix)?;
            if uri.2 != XSD {
                return None;
            }
            if local == "boolean" {
                Some(ValueSpace::Boolean)
            } else if DECIMAL_TYPES.contains(&local) {
                Some(ValueSpace::Decimal)
            } else {
                None
            }
        });
        self.declarations
            .entry((name, fixed))
            .and_modify(|s| {
                if *s != space {
                    *s = None;
                }
            })
            .or_insert(space);
    }

    /// Whether `actual`, which libxml2 found different from the fixed value
    /// `fixed` of an element named `element`, is the same value in the
    /// declared type's value space.
    pub(crate) fn equal(&self, element: &str, actual: &str, fixed: &str) -> bool {
        let key = (element.to_owned(), fixed.to_owned());
        match self.declarations.get(&key).copied().flatten() {
            Some(ValueSpace::Boolean) => {
                boolean(actual).is_some() && boolean(actual) == boolean(fixed)
            }
            Some(ValueSpace::Decimal) => {
                decimal(actual).is_some() && decimal(actual) == decimal(fixed)
            }
            None => false,
        }
    }
}

/// An `xs:boolean` lexical form's value (whitespace collapsed).
fn boolean(s: &str) -> Option<bool> {
    match s.trim() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// An `xs:decimal` lexical form in a canonical form: sign, digits without
/// leading zeros, fraction without trailing zeros (`+01.50` → `1.5`,
/// `-0` → `0`); `None` for anything else.
fn decimal(s: &str) -> Option<String> {
    let s = s.trim();
    let (negative, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let magnitude = match (int.is_empty(), frac.is_empty()) {
        (true, true) => return Some("0".to_owned()),
        (_, true) => int.to_owned(),
        (true, false) => format!("0.{frac}"),
        (false, false) => format!("{int}.{frac}"),
    };
    Some(if negative {
        format!("-{magnitude}")
    } else {
        magnitude
    })
}

/// The element and the two values of libxml2's fixed-value report
/// `Element '{ns}name': The actual value 'A' does not match the fixed value
/// constraint 'F'.` (before its values are withheld).
pub(crate) fn fixed_value_report(message: &str) -> Option<(&str, &str, &str)> {
    let rest = message.strip_prefix("Element '")?;
    let (element, rest) = rest.split_once("': The actual value '")?;
    let local = element.rsplit_once('}').map_or(element, |(_, l)| l);
    let (actual, rest) = rest.rsplit_once("' does not match the fixed value constraint '")?;
    let fixed = rest.strip_suffix("'.")?;
    Some((local, actual, fixed))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:t="urn:t" targetNamespace="urn:t">
      <xs:element name="r"><xs:complexType><xs:sequence>
        <xs:element name="b" type="xs:boolean" fixed="1"/>
        <xs:element name="d" type="xs:decimal" fixed="1.50"/>
        <xs:element name="s" type="xs:string" fixed="1"/>
        <xs:element name="own" type="t:Flag" fixed="1"/>
        <xs:element name="twice" type="xs:boolean" fixed="1"/>
      </xs:sequence></xs:complexType></xs:element>
      <xs:complexType name="other"><xs:sequence xmlns:x="http://www.w3.org/2001/XMLSchema">
        <xs:element name="twice" type="xs:string" fixed="1"/>
        <xs:element name="p" type="x:boolean" fixed="false"/>
      </xs:sequence></xs:complexType>
    </xs:schema>"#;

    fn fixed() -> FixedValues {
        let mut f = FixedValues::default();
        f.scan_document(SCHEMA);
        f
    }

    #[test]
    fn booleans_and_decimals_compare_by_value() {
        let f = fixed();
        assert!(f.equal("b", "true", "1"));
        assert!(f.equal("b", " true ", "1"));
        assert!(!f.equal("b", "false", "1"));
        assert!(!f.equal("b", "yes", "1"));
        assert!(f.equal("d", "1.5", "1.50"));
        assert!(f.equal("d", "+01.500", "1.50"));
        assert!(!f.equal("d", "1.51", "1.50"));
        assert!(!f.equal("d", "1.5e0", "1.50"));
        // a prefix declared further in
        assert!(f.equal("p", "0", "false"));
    }

    #[test]
    fn other_types_and_ambiguous_names_keep_the_text_comparison() {
        let f = fixed();
        assert!(!f.equal("s", "true", "1"), "a string is compared as text");
        assert!(
            !f.equal("own", "true", "1"),
            "a derived type is not resolved"
        );
        assert!(
            !f.equal("twice", "true", "1"),
            "declared as boolean and string"
        );
        assert!(!f.equal("unknown", "true", "1"));
    }

    #[test]
    fn decimals_are_canonicalised() {
        assert_eq!(decimal("-0.0").as_deref(), Some("0"));
        assert_eq!(decimal(".5").as_deref(), Some("0.5"));
        assert_eq!(decimal("10").as_deref(), Some("10"));
        assert_eq!(decimal("-"), None);
        assert_eq!(decimal("."), None);
        assert_eq!(decimal("1,5"), None);
    }

    #[test]
    fn the_report_is_read_with_its_values() {
        let m = "Element '{urn:x}Importbestaetigung': The actual value 'it's true' does not match the fixed value constraint '1'.";
        assert_eq!(
            fixed_value_report(m),
            Some(("Importbestaetigung", "it's true", "1"))
        );
        assert_eq!(fixed_value_report("Element 'a': something else."), None);
    }
}
