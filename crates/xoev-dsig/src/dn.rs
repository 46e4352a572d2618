//! Distinguished names as people write them in the authority directory:
//! `CN=…,O=…,C=DE` (RFC 4514: most specific first, `\,` escapes) or
//! `C=DE, O=…, CN=…` (OpenSSL's order, as [`crate::Verified::signer_subject`]
//! shows it). Both name the same certificate subject.
//!
//! Written here because the `openssl` crate parses no string DNs and the
//! comparison needs only the attribute/value pairs.

use openssl::x509::X509NameRef;

/// One attribute of a name: its type (upper case, aliases resolved) and
/// value (whitespace runs collapsed, trimmed).
type Attribute = (String, String);

/// Whether the configured `dn` names the certificate subject `name`: the
/// same attributes with the same values, in certificate order or reversed
/// (RFC 4514). Attribute types compare without regard to case (`cn`,
/// `CN`; `E`/`emailAddress`, `S`/`ST`); values exactly, but for runs of
/// white space. A `dn` that is not a list of `TYPE=value` never matches.
pub(crate) fn names_subject(dn: &str, name: &X509NameRef) -> bool {
    let Some(configured) = parse(dn) else {
        return false;
    };
    let subject: Vec<Attribute> = name
        .entries()
        .map(|e| {
            let ty = e.object().nid().short_name().unwrap_or("?");
            // as [`crate::trust::name_string`] reads it
            let value = e.data().to_string().unwrap_or_default();
            (canonical_type(ty), collapse(&value))
        })
        .collect();
    configured == subject || configured.iter().rev().eq(subject.iter())
}

/// The attributes of a written DN, in the order written. Separators are
/// unescaped commas (or `+` within a multi-valued RDN); a piece that is not
/// `TYPE=value` continues the previous value (an unescaped comma inside a
/// value, as OpenSSL's one-line form leaves them).
fn parse(dn: &str) -> Option<Vec<Attribute>> {
    // bytes, for `\XX` escapes of UTF-8 bytes
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut chars = dn.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let escaped = chars.next()?;
                let hex = |c: char| c.to_digit(16);
                match (hex(escaped), chars.peek().copied().and_then(hex)) {
                    (Some(high), Some(low)) => {
                        chars.next();
                        current.push(u8::try_from(high * 16 + low).ok()?);
                    }
                    _ => current.extend_from_slice(escaped.encode_utf8(&mut [0; 4]).as_bytes()),
                }
            }
            ',' | '+' => pieces.push(std::mem::take(&mut current)),
            c => current.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    pieces.push(current);
    let mut out: Vec<Attribute> = Vec::new();
    for piece in pieces {
        let piece = String::from_utf8(piece).ok()?;
        match piece.split_once('=') {
            Some((ty, value)) if is_type(ty.trim()) => {
                out.push((canonical_type(ty.trim()), collapse(value)));
            }
            // a comma inside a value, unescaped
            _ => {
                let (_, value) = out.last_mut()?;
                *value = collapse(&format!("{value},{piece}"));
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// `CN`, `emailAddress`, `2.5.4.3`: letters, digits, `-` and `.`, starting
/// with a letter or digit.
fn is_type(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
}

/// Upper case, with the aliases people write resolved to OpenSSL's short names.
fn canonical_type(ty: &str) -> String {
    let upper = ty.to_ascii_uppercase();
    match upper.as_str() {
        "E" | "EMAIL" => "EMAILADDRESS".into(),
        "S" | "STATEORPROVINCENAME" => "ST".into(),
        "COMMONNAME" => "CN".into(),
        "ORGANIZATIONNAME" => "O".into(),
        "ORGANIZATIONALUNITNAME" => "OU".into(),
        "COUNTRYNAME" => "C".into(),
        "LOCALITYNAME" => "L".into(),
        "2.5.4.3" => "CN".into(),
        "2.5.4.10" => "O".into(),
        "2.5.4.11" => "OU".into(),
        "2.5.4.6" => "C".into(),
        _ => upper,
    }
}

/// Trimmed, with runs of white space as one space.
fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::x509::X509Name;

    fn name(entries: &[(&str, &str)]) -> X509Name {
        let mut b = X509Name::builder().expect("builder");
        for (k, v) in entries {
            b.append_entry_by_text(k, v).expect("entry");
        }
        b.build()
    }

    #[test]
    fn either_order_and_either_separator_name_the_same_subject() {
        let n = name(&[
            ("C", "DE"),
            ("O", "Stadt Kassel"),
            ("CN", "Kita-Gebührenstelle"),
        ]);
        for dn in [
            "C=DE, O=Stadt Kassel, CN=Kita-Gebührenstelle",
            "CN=Kita-Gebührenstelle,O=Stadt Kassel,C=DE",
            "cn=Kita-Gebührenstelle, o=Stadt  Kassel ,c=DE",
            "CN=Kita-Geb\\C3\\BChrenstelle,O=Stadt Kassel,C=DE",
        ] {
            assert!(names_subject(dn, &n), "{dn}");
        }
        for dn in [
            "CN=Kita-Gebührenstelle,O=Stadt Kassel",
            "CN=Kita-Gebührenstelle,O=Stadt Kasel,C=DE",
            "O=Stadt Kassel,CN=Kita-Gebührenstelle,C=DE",
            "CN=Kita-Gebührenstelle,O=Stadt Kassel,C=DE,OU=Extra",
            "Kita-Gebührenstelle",
            "",
        ] {
            assert!(!names_subject(dn, &n), "{dn}");
        }
    }

    #[test]
    fn a_comma_inside_a_value_escaped_or_as_openssl_prints_it() {
        let n = name(&[
            ("C", "DE"),
            ("O", "XOEV Gateway Test"),
            ("CN", "Stadt Frankfurt am Main, Kita-Gebührenstelle"),
        ]);
        for dn in [
            "CN=Stadt Frankfurt am Main\\, Kita-Gebührenstelle,O=XOEV Gateway Test,C=DE",
            "C=DE, O=XOEV Gateway Test, CN=Stadt Frankfurt am Main, Kita-Gebührenstelle",
        ] {
            assert!(names_subject(dn, &n), "{dn}");
        }
        // the comma is part of the value, not a separator of two names
        let two = name(&[
            ("C", "DE"),
            ("O", "XOEV Gateway Test"),
            ("CN", "Stadt Frankfurt am Main"),
        ]);
        assert!(!names_subject(
            "CN=Stadt Frankfurt am Main\\, Kita-Gebührenstelle,O=XOEV Gateway Test,C=DE",
            &two
        ));
    }
}
