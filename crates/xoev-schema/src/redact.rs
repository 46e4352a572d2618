//! Removes the offending values from libxml2's XSD messages: a value that
//! failed a facet can be personal data (a tax id with a typo, a name, a date
//! of birth), and validation messages end up in dead letters, rejection
//! messages and logs. Line, column, path and the rule broken stay.

/// What replaces a value.
pub const REDACTED: &str = "[value withheld]";

/// `message` with every quoted *value* replaced by [`REDACTED`]; element,
/// attribute and type names and the facets (pattern, set, bounds) stay.
///
/// Covers libxml2's value-quoting forms: `The value '…'` (all facets, fixed
/// values), `The actual value '…'` and `The initial value '…'` (an
/// element's fixed value), `'…' is not a valid value of …` (built-in types) and
/// `key-sequence ['…']` (identity constraints).
pub fn redact_values(message: &str) -> String {
    // The XÖV code-list attributes name a code list and its version, never
    // a person: their values stay (a sender needs to see that it wrote
    // code list version 2 where the schema fixes 3).
    if CODE_LIST_ATTRIBUTES.iter().any(|a| message.contains(a)) {
        return message.to_owned();
    }
    let mut out = redact_after(message, "The value '", "'");
    // an element's fixed value: `The actual value '…'`, `The initial value '…'`
    out = redact_after(&out, "The actual value '", "'");
    out = redact_after(&out, "The initial value '", "'");
    out = redact_before_marker(&out, "' is not a valid value");
    redact_after(&out, "key-sequence ['", "']")
}

/// How libxml2 names the attributes of XÖV code types (`listURI`,
/// `listVersionID`) in a message about their value.
const CODE_LIST_ATTRIBUTES: [&str; 2] = ["attribute 'listURI': ", "attribute 'listVersionID': "];

/// Replaces the text between `open` and the next `close` after it.
fn redact_after(s: &str, open: &str, close: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find(open) {
        let value_start = at + open.len();
        out.push_str(&rest[..value_start]);
        let tail = &rest[value_start..];
        // The value ends at the last `close` that is followed by text
        // libxml2 writes after values (` ` or `.` or end): a value may
        // itself contain quotes.
        let end = value_end(tail, close);
        out.push_str(REDACTED);
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn value_end(tail: &str, close: &str) -> usize {
    let mut end = None;
    let mut from = 0;
    while let Some(rel) = tail[from..].find(close) {
        let at = from + rel;
        let after = &tail[at + close.len()..];
        if after.is_empty()
            || after.starts_with(' ')
            || after.starts_with('.')
            || after.starts_with(';')
        {
            end = Some(at);
            // The first plausible end wins for `The value '…' is …`, which
            // is followed by more quoted text (the pattern).
            break;
        }
        from = at + close.len();
    }
    end.unwrap_or(tail.len())
}

/// `Element 'x': '<value>' is not a valid value of …`: the value is the
/// quoted text right before `marker`, after the last `': '`.
fn redact_before_marker(s: &str, marker: &str) -> String {
    let Some(m) = s.find(marker) else {
        return s.to_owned();
    };
    let head = &s[..m];
    let Some(open) = head.rfind(": '") else {
        return s.to_owned();
    };
    if &head[open + 3..] == REDACTED {
        return s.to_owned();
    }
    format!("{}: '{REDACTED}{}", &s[..open], &s[m..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_value_is_withheld_pattern_kept() {
        let m = "Element '{urn:x}IDNr': [facet 'pattern'] The value '1234567890X' is not accepted by the pattern '\\d{11}'.";
        let r = redact_values(m);
        assert!(!r.contains("1234567890X"), "{r}");
        assert!(r.contains("[facet 'pattern'] The value '[value withheld]' is not accepted by the pattern '\\d{11}'."), "{r}");
    }

    #[test]
    fn atomic_type_value_is_withheld() {
        let m = "Element '{urn:x}DateOfBirth': '1985-13-45' is not a valid value of the atomic type 'xs:date'.";
        let r = redact_values(m);
        assert_eq!(
            r,
            "Element '{urn:x}DateOfBirth': '[value withheld]' is not a valid value of the atomic type 'xs:date'."
        );
    }

    #[test]
    fn enumeration_length_and_keyref_values_are_withheld() {
        for (m, secret) in [
            (
                "Element 'a': [facet 'enumeration'] The value 'Geheim' is not an element of the set {'x', 'y'}.",
                "Geheim",
            ),
            (
                "Element 'a': [facet 'length'] The value '0815' has a length of '4'; this differs from the allowed length of '11'.",
                "0815",
            ),
            (
                "Element 'a': No match found for key-sequence ['Erika'] of keyref 'k'.",
                "Erika",
            ),
            (
                "Element 'a': The value 'it's me' does not match the fixed value constraint 'x'.",
                "it's me",
            ),
            (
                "Element 'a': The actual value 'Erika' does not match the fixed value constraint 'x'.",
                "Erika",
            ),
            (
                "Element 'a': The initial value 'Erika' does not match the fixed value constraint 'x'.",
                "Erika",
            ),
        ] {
            let r = redact_values(m);
            assert!(!r.contains(secret), "{r}");
            assert!(r.contains(REDACTED), "{r}");
        }
    }

    #[test]
    fn code_list_versions_are_not_withheld() {
        let m = "Element '{urn:x}kategorie', attribute 'listVersionID': The value '2' does not match the fixed value constraint '3'.";
        assert_eq!(redact_values(m), m);
        // the element's own value still is
        let m = "Element '{urn:x}kategorie': The value '2' does not match the fixed value constraint '3'.";
        assert!(redact_values(m).contains(REDACTED));
    }

    #[test]
    fn messages_without_values_are_unchanged() {
        let m = "Element '{urn:x}Unbekannt': This element is not expected. Expected is ( {urn:x}IssuedToken ).";
        assert_eq!(redact_values(m), m);
    }
}
