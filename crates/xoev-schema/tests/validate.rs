//! XSD validation against the real catalogue and samples, broken variants,
//! hardening and thread safety.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use xoev_core::{Limits, MessageErrorKind};
use xoev_schema::{Catalogue, SchemaError, SchemaErrorKind, Validator};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn catalogue() -> Arc<Catalogue> {
    static CAT: OnceLock<Arc<Catalogue>> = OnceLock::new();
    CAT.get_or_init(|| Arc::new(Catalogue::load(root().join("schemas")).expect("catalogue")))
        .clone()
}

fn validator() -> Validator {
    Validator::new(catalogue(), Limits::default())
}

/// Every XML file in tests/samples/<standard>/ (not invalid/ or unsupported/).
fn valid_samples() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(root().join("tests/samples")).expect("samples") {
        let dir = dir.expect("entry").path();
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !dir.is_dir() || matches!(name, "invalid" | "unsupported") {
            continue;
        }
        for f in std::fs::read_dir(&dir).expect("dir") {
            let f = f.expect("entry").path();
            if f.extension().is_some_and(|e| e == "xml") {
                out.push(f);
            }
        }
    }
    out.sort();
    out
}

fn files_in(rel: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join(rel))
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    v.sort();
    v
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn kita_request() -> String {
    String::from_utf8(read(&root().join(
        "tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-einkommen.xml",
    )))
    .expect("utf-8")
}

fn err_of(bytes: impl Into<Vec<u8>>) -> SchemaError {
    match validator().validate(bytes.into()) {
        Ok(v) => panic!("expected rejection, validated as {}", v.entry.name),
        Err(e) => e,
    }
}

#[test]
fn every_public_sample_validates() {
    let samples = valid_samples();
    assert!(samples.len() >= 25, "found only {}", samples.len());
    let v = validator();
    for s in &samples {
        if let Err(e) = v.validate(read(s)) {
            panic!("{}: {e}", s.display());
        }
    }
}

#[test]
fn samples_validate_against_the_standard_of_their_folder() {
    let v = validator();
    for s in valid_samples() {
        let folder = s
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .unwrap_or("");
        let validated = v.validate(read(&s)).expect("valid");
        let std = validated.entry.name.to_ascii_lowercase();
        assert!(
            folder.eq_ignore_ascii_case(&std) || folder.starts_with(&std),
            "{} validated as {}",
            s.display(),
            validated.entry.name
        );
    }
}

#[test]
fn known_invalid_sample_reports_line_column_and_path() {
    let e = err_of(read(
        &root().join("tests/samples/invalid/xwasser-monitoring_plan_maximal.xml"),
    ));
    assert_eq!(e.kind(), SchemaErrorKind::Invalid);
    let issues = e.issues();
    assert_eq!(issues.len(), 3, "{issues:?}");
    let first = &issues[0];
    assert_eq!(first.line, Some(75));
    assert_eq!(first.column, Some(11));
    assert!(
        first
            .path
            .as_deref()
            .unwrap_or("")
            .ends_with("xwas:terminplan/xwas:probennahmestelleKategorie"),
        "{first:?}"
    );
    assert!(first.message.contains("not expected"));
    assert!(issues[1].message.contains("fixed value"));
}

#[test]
fn unsupported_documents_are_unknown_standards() {
    for f in files_in("tests/samples/unsupported") {
        let e = err_of(read(&f));
        assert_eq!(
            e.kind(),
            SchemaErrorKind::UnknownStandard,
            "{}: {e}",
            f.display()
        );
    }
}

#[test]
fn wrong_namespace_is_an_unknown_standard() {
    let bad = kita_request().replace(
        "urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-de-noots",
        "urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-de-nots",
    );
    let e = err_of(bad);
    assert_eq!(e.kind(), SchemaErrorKind::UnknownStandard);
    assert!(e.to_string().contains("xnachweis-de-nots"));
}

#[test]
fn another_version_of_a_known_standard_is_named_in_the_error() {
    let sample = String::from_utf8(read(
        &root().join("tests/samples/xdomea/pattern-3.0.0_xx_Aussonderung.Aussonderung.0503.xml"),
    ))
    .expect("utf-8");
    let newer = sample.replace(
        "urn:xoev-de:xdomea:schema:3.0.0",
        "urn:xoev-de:xdomea:schema:5.0.0",
    );
    let e = err_of(newer);
    assert_eq!(e.kind(), SchemaErrorKind::UnknownStandard);
    let text = e.to_string();
    assert!(
        text.contains("namespace urn:xoev-de:xdomea:schema:5.0.0")
            && text.contains("xdomea 2.4.0 (urn:xoev-de:xdomea:schema:2.4.0)")
            && text.contains("xdomea 3.0.0 (urn:xoev-de:xdomea:schema:3.0.0)")
            && text.contains("xdomea 4.0.0 (urn:xoev-de:xdomea:schema:4.0.0)")
            && text.contains("the document is xdomea 5.0.0")
            && text.contains("another version, or another namespace, of that standard"),
        "{text}"
    );
    // An older XWasser release, whose namespace ends in a slash.
    let water = String::from_utf8(read(
        &root().join("tests/samples/xwasser/quality_report_minimal.xml"),
    ))
    .expect("utf-8")
    .replace("/-/raw/main/V1_0_0\"", "/-/raw/main/V0_9_2/\"");
    let text = err_of(water).to_string();
    assert!(
        text.contains("V0_9_2/")
            && text.contains("XWasser 1.0.0 (")
            && text.contains("another version"),
        "{text}"
    );
    // An older XWasser release on another branch (`…/raw/develop/V0_5_3/`,
    // as the producer's own test data has it): the root's `standard` names
    // XWasser, so the catalogue's XWasser is named.
    let develop = String::from_utf8(read(
        &root().join("tests/samples/xwasser/quality_report_minimal.xml"),
    ))
    .expect("utf-8")
    .replace("/-/raw/main/V1_0_0\"", "/-/raw/develop/V0_5_3/\"")
    .replacen(" version=\"1.0.0\"", " version=\"0.5.3\"", 1);
    let text = err_of(develop).to_string();
    assert!(
        text.contains("the document is XWasser 0.5.3")
            && text.contains(
                "XWasser 1.0.0 (https://gitlab.opencode.de/akdb/xoev/xwasser/-/raw/main/V1_0_0)"
            ),
        "{text}"
    );
    // XBeteiligung before the XLeitstelle took it over (`http://xbeteiligung.de/V0103`,
    // the root saying version 1.2): another path, so the root's version speaks.
    let old = String::from_utf8(read(
        &root().join("tests/samples/xbeteiligung/example402FromCockpit.xml"),
    ))
    .expect("utf-8")
    .replace(
        "https://www.xleitstelle.de/xbeteiligung/12",
        "http://xbeteiligung.de/V0103",
    );
    let text = err_of(old).to_string();
    assert!(
        text.contains("the document is XBeteiligung 1.2,")
            && text.contains("XBeteiligung 1.2 (https://www.xleitstelle.de/xbeteiligung/12)"),
        "{text}"
    );
    // A namespace that merely shares a prefix is no hint of xdomea; the
    // root still says it is XNachweis, whose namespace is named.
    let other = kita_request().replace(
        "urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-de-noots",
        "urn:xoev-de:xdomea:schema:3.0.0x",
    );
    let text = err_of(other).to_string();
    assert!(!text.contains("xdomea 3.0.0 ("), "{text}");
    assert!(
        text.contains("the document is XNachweis 1.2.0")
            && text.contains(
                "XNachweis 1.2.0 (urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-de-noots)"
            ),
        "{text}"
    );
    // A document that names no catalogued standard gets no such hint.
    let foreign = kita_request()
        .replace(
            "urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-de-noots",
            "urn:example:other",
        )
        .replace("standard=\"XNachweis\"", "standard=\"XOther\"");
    let text = err_of(foreign).to_string();
    assert!(
        !text.contains("the catalogue has") && !text.contains("the document is"),
        "{text}"
    );
}

/// xdomea 2.4.0, 3.0.0 and 4.0.0 live side by side: each message is checked
/// against its own version's schema, found by namespace. A 3.0.0 message
/// moved into the 4.0.0 namespace is invalid under 4.0.0 (its `Kopf`, its
/// missing root attributes); a 4.0.0 message in the 3.0.0 namespace is
/// refused for its `nachrichtenkopf`.
#[test]
fn xdomea_versions_are_validated_each_against_its_own_schema() {
    let v = validator();
    let four = String::from_utf8(read(&root().join(
        "tests/samples/xdomea/synthetic-4.0.0_Aussonderung.Anbieteverzeichnis.0501.xml",
    )))
    .expect("utf-8");
    let valid = v.validate(four.clone().into_bytes()).expect("valid 4.0.0");
    assert_eq!(
        (valid.entry.name.as_str(), valid.entry.version.as_str()),
        ("xdomea", "4.0.0")
    );

    let three_kopf = String::from_utf8(read(
        &root().join("tests/samples/xdomea/pattern-3.0.0_xx_Aussonderung.Aussonderung.0503.xml"),
    ))
    .expect("utf-8")
    .replace(
        "urn:xoev-de:xdomea:schema:3.0.0",
        "urn:xoev-de:xdomea:schema:4.0.0",
    );
    let e = err_of(three_kopf);
    assert_eq!(e.kind(), SchemaErrorKind::Invalid);
    assert!(e.to_string().starts_with("xdomea 4.0.0: "), "{e}");
    let named = |e: &SchemaError, what: &str| e.issues().iter().any(|i| i.message.contains(what));
    assert!(named(&e, "}Kopf'"), "{:?}", e.issues());

    // 2.4.0: the root names no version; the namespace finds the entry, and
    // 3.0.0's `Behoerdenschluessel` is not 2.4.0's `Kennung`.
    let two = String::from_utf8(read(&root().join(
        "tests/samples/xdomea/synthetic-2.4.0_Aussonderung.AnbietungEmpfangBestaetigen.0504.xml",
    )))
    .expect("utf-8");
    let valid = v.validate(two.clone().into_bytes()).expect("valid 2.4.0");
    assert_eq!(valid.entry.version, "2.4.0");
    let e = err_of(two.replace("xdomea:Kennung>", "xdomea:Behoerdenschluessel>"));
    assert!(e.to_string().starts_with("xdomea 2.4.0: "), "{e}");
    assert!(named(&e, "}Behoerdenschluessel'"), "{:?}", e.issues());

    let four_in_three = four
        .replace(
            "urn:xoev-de:xdomea:schema:4.0.0",
            "urn:xoev-de:xdomea:schema:3.0.0",
        )
        .replace(r#"version="4.0.0""#, r#"version="3.0.0""#);
    let e = err_of(four_in_three);
    assert_eq!(e.kind(), SchemaErrorKind::Invalid);
    assert!(e.to_string().starts_with("xdomea 3.0.0: "), "{e}");
    assert!(named(&e, "}nachrichtenkopf'"), "{:?}", e.issues());
}

/// In a namespace without a version (XNachweis), the attribute picks the
/// release; `1.2` names the same release as `1.2.0`, `1.2.1` another.
#[test]
fn a_version_attribute_matches_without_trailing_zero_parts() {
    let short = kita_request().replace(r#"version="1.2.0""#, r#"version="1.2""#);
    assert!(short.contains(r#"version="1.2""#));
    let v = validator();
    let ok = v.validate(short.into_bytes()).expect("1.2 is 1.2.0");
    assert_eq!(ok.entry.version, "1.2.0");
    let other = kita_request().replace(r#"version="1.2.0""#, r#"version="1.2.1""#);
    assert_eq!(err_of(other).kind(), SchemaErrorKind::UnknownVersion);
}

#[test]
fn unknown_version_names_the_known_ones() {
    let bad = kita_request().replace(r#"version="1.2.0""#, r#"version="9.9""#);
    let e = err_of(bad);
    assert_eq!(e.kind(), SchemaErrorKind::UnknownVersion);
    let text = e.to_string();
    assert!(text.contains("9.9") && text.contains("1.2.0"), "{text}");
}

/// Where the namespace names the version (XBeteiligung's `…/xbeteiligung/12`)
/// it decides which schema validates, whatever the root's free-text
/// `version` attribute says: producers write another release's number
/// there (DiPlan Cockpit: `version="1.1"`). The XSD still decides.
#[test]
fn a_versioned_namespace_decides_over_the_version_attribute() {
    let path = root().join(
        "tests/samples/xbeteiligung/xbeteiligung-test-kommunal.Initiieren.0401.gwid-format.xml",
    );
    let text = String::from_utf8(read(&path)).expect("utf-8");
    assert!(text.contains(r#"version="1.2""#));
    for attr in ["1.1", "version0"] {
        let other = text.replacen(r#"version="1.2""#, &format!("version=\"{attr}\""), 1);
        let v = validator();
        let ok = v.validate(other.into_bytes()).expect("validates");
        assert_eq!(
            (ok.entry.name.as_str(), ok.entry.version.as_str()),
            ("XBeteiligung", "1.2")
        );
        assert_eq!(ok.message.version.as_deref(), Some(attr));
    }
    // … and a document that does not fit the schema is still invalid.
    let broken = text
        .replacen(r#"version="1.2""#, r#"version="1.1""#, 1)
        .replacen("<ns5:planID>", "<ns5:planNummer>", 1)
        .replacen("</ns5:planID>", "</ns5:planNummer>", 1);
    assert!(broken.contains("planNummer"), "sample changed: {broken}");
    let e = err_of(broken);
    assert_eq!(e.kind(), SchemaErrorKind::Invalid);
    assert!(e.to_string().starts_with("XBeteiligung 1.2: "), "{e}");
}

#[test]
fn missing_required_element_has_position_and_path() {
    let req = kita_request();
    let bad = req.replace(
        "<xn-de:IssueDateTime>2025-03-01T10:15:00+01:00</xn-de:IssueDateTime>",
        "",
    );
    assert_ne!(req, bad);
    let e = err_of(bad);
    assert_eq!(e.kind(), SchemaErrorKind::Invalid);
    let i = &e.issues()[0];
    assert!(i.message.contains("EvidenceRequester"), "{i:?}");
    assert!(i.message.contains("IssueDateTime"), "{i:?}");
    assert_eq!(
        i.path.as_deref(),
        Some("/xn-de:DE.EvidenceRequest.0101/xn-de:EvidenceRequester")
    );
    assert!(i.line.is_some() && i.column.is_some(), "{i:?}");
}

#[test]
fn wrong_type_has_position_and_path() {
    let bad = kita_request().replace(
        "<xn-bk:DateOfBirth>1985-04-12</xn-bk:DateOfBirth>",
        "<xn-bk:DateOfBirth>12.04.1985</xn-bk:DateOfBirth>",
    );
    let e = err_of(bad.clone());
    assert_eq!(e.kind(), SchemaErrorKind::Invalid);
    let i = &e.issues()[0];
    // The value is personal data: withheld; the rule broken stays.
    assert!(!i.message.contains("12.04.1985"), "{i:?}");
    assert!(i.message.contains(xoev_schema::REDACTED), "{i:?}");
    assert!(i.message.contains("is not a valid value"), "{i:?}");
    assert!(
        i.path
            .as_deref()
            .unwrap_or("")
            .ends_with("xn-bk:DateOfBirth"),
        "{i:?}"
    );
    let line = bad
        .lines()
        .position(|l| l.contains("12.04.1985"))
        .expect("line")
        + 1;
    assert_eq!(i.line, Some(u32::try_from(line).expect("small")));
    assert_eq!(i.column, Some(7));
}

#[test]
fn malformed_xml_is_reported_with_position() {
    let bad = kita_request().replace("</xn-de:IssuedToken>", "</xn-de:IssuedTokn>");
    let e = err_of(bad);
    assert_eq!(e.kind(), SchemaErrorKind::Malformed);
    let i = &e.issues()[0];
    assert!(i.line.is_some());
    assert!(
        i.message.contains("mismatch") || i.message.contains("IssuedTok"),
        "{i:?}"
    );
}

const SECRET: &str = "TOPSECRET-8472";

#[test]
fn external_entity_to_a_local_file_is_refused_and_never_read() {
    let dir = std::env::temp_dir().join(format!("xoev-xxe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let secret = dir.join("secret.txt");
    std::fs::write(&secret, SECRET).expect("write");
    let doc = format!(
        r#"<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY s SYSTEM "file://{}">]>
<xn-de:DE.EvidenceRequest.0101 xmlns:xn-de="urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-de-noots" version="1.2.0">&s;</xn-de:DE.EvidenceRequest.0101>"#,
        secret.display()
    );
    let e = err_of(doc.clone());
    assert_eq!(
        e.kind(),
        SchemaErrorKind::Message(MessageErrorKind::Doctype)
    );
    assert!(!format!("{e} {e:?}").contains(SECRET));
    // The full parser refuses it on its own, too.
    let e = xoev_schema::parse_document(doc.as_bytes(), &Limits::default())
        .err()
        .expect("doctype");
    assert_eq!(
        e.kind(),
        SchemaErrorKind::Message(MessageErrorKind::Doctype)
    );
    assert!(!format!("{e} {e:?}").contains(SECRET));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn billion_laughs_is_refused() {
    let mut doc =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        doc.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    doc.push_str("]>\n<lolz>&lol9;</lolz>");
    let e = err_of(doc.clone());
    assert_eq!(
        e.kind(),
        SchemaErrorKind::Message(MessageErrorKind::Doctype)
    );
    let e = xoev_schema::parse_document(doc.as_bytes(), &Limits::default())
        .err()
        .expect("doctype");
    assert_eq!(
        e.kind(),
        SchemaErrorKind::Message(MessageErrorKind::Doctype)
    );
}

#[test]
fn oversize_is_refused() {
    let v = Validator::new(
        catalogue(),
        Limits {
            max_bytes: 1024,
            ..Limits::default()
        },
    );
    let e = v
        .validate(kita_request().into_bytes())
        .err()
        .expect("oversize");
    assert_eq!(
        e.kind(),
        SchemaErrorKind::Message(MessageErrorKind::Oversize)
    );
    let e = xoev_schema::parse_document(&[b' '; 2048], v.limits())
        .err()
        .expect("oversize");
    assert_eq!(
        e.kind(),
        SchemaErrorKind::Message(MessageErrorKind::Oversize)
    );
}

#[test]
fn a_nul_byte_is_refused_before_libxml2_would_stop_at_it() {
    let v = validator();
    let mut bytes = kita_request().into_bytes();
    bytes.extend_from_slice(b"\n\0<second-document/>");
    let e = v.validate(bytes.clone()).err().expect("NUL");
    assert_eq!(
        e.kind(),
        SchemaErrorKind::Message(MessageErrorKind::Malformed),
        "{e}"
    );
    let e = xoev_schema::parse_document(&bytes, v.limits())
        .err()
        .expect("NUL");
    assert!(e.to_string().contains("NUL byte"), "{e}");
}

#[test]
fn a_field_split_by_many_comments_or_cdata_sections_is_refused_before_libxml2_joins_it() {
    let v = validator();
    let request = kita_request();
    // the sample's own (the XML declaration is not counted)
    let own = request.matches("<!--").count() + request.matches("<?").count() - 1
        + request.matches("<![CDATA[").count();
    let split = |piece: &str, n: usize| {
        request.replacen(
            "<xn-bk:GivenName>",
            &format!("<xn-bk:GivenName>{}", piece.repeat(n)),
            1,
        )
    };
    assert!(request.contains("<xn-bk:GivenName>"));
    // the limit itself passes
    v.validate(split("<!--c-->", 1_000 - own).into_bytes())
        .expect("1,000 comments are fine");
    let e = v
        .validate(split("<!--c-->", 1_001 - own).into_bytes())
        .err()
        .expect("too many");
    assert_eq!(
        e.kind(),
        SchemaErrorKind::Message(MessageErrorKind::TooManyCommentsOrCdata),
        "{e}"
    );
    assert_eq!(e.kind().as_str(), "too-many-comments-or-cdata");
    // processing instructions count too
    let e = xoev_schema::parse_document(split("<?p?>", 1_001).as_bytes(), v.limits())
        .err()
        .expect("too many");
    assert!(e.to_string().contains("more than 1000 comments"), "{e}");
    // and CDATA sections between text (600,000 of them held libxml2's XSD
    // validation for 12 s), counted together with the comments
    let cdata = split("x<![CDATA[ab]]>", 1_000 - own);
    let e = v
        .validate(cdata.replacen("<xn-bk:GivenName>", "<xn-bk:GivenName><!--c-->", 1))
        .err()
        .expect("one comment past the limit");
    assert_eq!(
        e.kind(),
        SchemaErrorKind::Message(MessageErrorKind::TooManyCommentsOrCdata),
        "{e}"
    );
    assert!(e.to_string().contains("CDATA sections"), "{e}");
    let ok = v
        .validate(cdata.into_bytes())
        .expect("1,000 CDATA sections are fine");
    assert_eq!(ok.entry.name, "XNachweis");
}

#[test]
fn deep_nesting_is_refused_by_the_parser() {
    let doc = format!("<a>{}{}</a>", "<b>".repeat(5000), "</b>".repeat(5000));
    let e = xoev_schema::parse_document(doc.as_bytes(), &Limits::default())
        .err()
        .expect("deep");
    assert_eq!(
        e.kind(),
        SchemaErrorKind::Message(MessageErrorKind::TooDeep)
    );
}

/// A one-entry catalogue in a temp dir whose XSD imports `location`.
fn compile_importing(tag: &str, location: &str) -> Result<(), SchemaError> {
    let dir = std::env::temp_dir().join(format!("xoev-cat-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    std::fs::write(
        dir.join("catalogue.toml"),
        "[[standard]]\nname = \"Net\"\nversion = \"1\"\nnamespaces = [\"urn:net\"]\nentry = \"net.xsd\"\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("net.xsd"),
        format!(
            r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:net">
  <xs:import namespace="urn:elsewhere" schemaLocation="{location}"/>
  <xs:element name="a" type="xs:string"/>
</xs:schema>"#
        ),
    )
    .expect("write");
    let cat = Catalogue::load(&dir).expect("catalogue");
    let result = cat.entries()[0].schema().map(|_| ());
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[test]
fn schema_imports_never_reach_the_network() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}/remote.xsd", listener.local_addr().expect("addr"));
    let e = compile_importing("net", &url).expect_err("unmapped remote import");
    assert_eq!(e.kind(), SchemaErrorKind::Compile);
    assert!(e.to_string().contains(&url), "{e}");
    // The error says why the location was not loaded, and what to do.
    assert!(
        e.to_string().contains(&format!(
            "not loaded: {url} (a remote location must be mapped"
        )) && e.to_string().contains("[remote]"),
        "{e}"
    );
    match listener.accept() {
        Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the schema compiler connected to the network: {other:?}"),
    }
}

#[test]
fn schema_imports_never_read_files_outside_the_catalogue() {
    let outside = std::env::temp_dir().join(format!("xoev-outside-{}.xsd", std::process::id()));
    std::fs::write(
        &outside,
        r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:elsewhere"/>"#,
    )
    .expect("write");
    let location = format!("file://{}", outside.display());
    let e = compile_importing("file", &location).expect_err("file outside the catalogue");
    assert_eq!(e.kind(), SchemaErrorKind::Compile);
    assert!(
        e.to_string().contains(&format!("not loaded: {location}"))
            && e.to_string().contains("inside the catalogue's directory"),
        "{e}"
    );
    let _ = std::fs::remove_file(&outside);
}

#[test]
fn catalogue_reports_every_problem() {
    let dir = std::env::temp_dir().join(format!("xoev-badcat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    std::fs::write(
        dir.join("catalogue.toml"),
        "[[standard]]\nname = \"A\"\nversion = \"1\"\nnamespaces = [\"urn:a\"]\nentry = \"missing-a.xsd\"\n\
         [[standard]]\nname = \"B\"\nversion = \"1\"\nnamespaces = [\"urn:a\"]\nentry = \"missing-b.xsd\"\n",
    )
    .expect("write");
    let e = Catalogue::load(&dir).expect_err("invalid");
    let text = e.to_string();
    assert!(
        text.contains("missing-a.xsd")
            && text.contains("missing-b.xsd")
            && text.contains("claimed by both"),
        "{text}"
    );
    std::fs::write(
        dir.join("catalogue.toml"),
        "[[standard]]\nname = \"A\"\nbogus = 1\n",
    )
    .expect("write");
    assert!(
        Catalogue::load(&dir)
            .expect_err("syntax")
            .to_string()
            .contains("bogus")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn all_catalogue_schemas_compile() {
    if let Err(errors) = catalogue().compile_all() {
        panic!("{errors:?}");
    }
}

/// Outcome of validating one file, comparable across threads.
fn outcome(v: &Validator, bytes: &[u8]) -> String {
    match v.validate(bytes.to_vec()) {
        Ok(ok) => format!("ok {} {}", ok.entry.name, ok.entry.version),
        Err(e) => format!("{} {:?}", e.kind().as_str(), e.issues()),
    }
}

#[test]
fn eight_threads_give_the_same_answers_as_one() {
    let mut inputs: Vec<Vec<u8>> = valid_samples().iter().map(|p| read(p)).collect();
    inputs.extend(files_in("tests/samples/invalid").iter().map(|p| read(p)));
    inputs.push(
        kita_request()
            .replace("1985-04-12", "12.04.1985")
            .into_bytes(),
    );
    let v = validator();
    let expected: Vec<String> = inputs.iter().map(|b| outcome(&v, b)).collect();
    let inputs = Arc::new(inputs);
    let expected = Arc::new(expected);
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let (inputs, expected, v) = (inputs.clone(), expected.clone(), v.clone());
            std::thread::spawn(move || {
                for round in 0..5 {
                    for (i, b) in inputs.iter().enumerate() {
                        // each thread walks the inputs in a different order
                        let i = (i + t * 7 + round) % inputs.len();
                        let _ = b;
                        assert_eq!(outcome(&v, &inputs[i]), expected[i], "thread {t} input {i}");
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread panicked");
    }
}

/// A header that cannot be read is mostly a symptom: what the catalogue,
/// the XML parser or the XSD say of the document is reported instead, with
/// line and path (it was "the message header has no nachrichtentyp", at no
/// position, for documents of unknown versions and XSD-invalid ones alike).
#[test]
fn an_unreadable_header_is_reported_after_what_the_schema_says() {
    let request = std::fs::read_to_string(
        root().join("tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-kassel.xml"),
    )
    .expect("sample");
    let typ = r#"<xn-bk:nachrichtentyp listVersionID="1.2.0"><code>DE.EvidenceRequest.0101</code></xn-bk:nachrichtentyp>"#;
    assert!(request.contains(typ));
    let untyped = request.replace(typ, "");
    // the header alone says only this
    let header =
        xoev_core::Message::parse(untyped.clone(), &Limits::default()).expect_err("no type");
    assert!(header.detail.contains("no nachrichtentyp"), "{header}");

    // in a catalogued standard: the XSD's violation, with its line
    let e = validator()
        .validate(untyped.clone())
        .map(|_| ())
        .expect_err("invalid");
    assert_eq!(e.kind(), SchemaErrorKind::Invalid, "{e}");
    let i = &e.issues()[0];
    assert!(i.line.is_some() && i.path.is_some(), "{i:?}");
    assert!(i.message.contains("nachrichtentyp"), "{i:?}");

    // in a namespace the catalogue does not know: that
    let unknown = untyped.replace("xnachweis-de-noots\"", "xnachweis-de-noots-2\"");
    let e = validator()
        .validate(unknown)
        .map(|_| ())
        .expect_err("unknown");
    assert_eq!(e.kind(), SchemaErrorKind::UnknownStandard, "{e}");

    // not well-formed: the XML error
    let malformed = format!("{untyped}<trailing/>");
    let e = validator()
        .validate(malformed)
        .map(|_| ())
        .expect_err("malformed");
    assert_eq!(e.kind(), SchemaErrorKind::Malformed, "{e}");

    // a header the schema accepts but the gateway cannot use: its error
    // (the EDM's slots are not the XSD's business: an evidence request
    // without its IssueDateTime is XSD-valid)
    let oots = std::fs::read_to_string(
        root()
            .join("tests/samples/oots-edm/2.1_Step_1_Evidence_Request_-_Birth_-_full_example.xml"),
    )
    .expect("sample");
    let undated = oots.replace(
        r#"<rim:Slot name="IssueDateTime">"#,
        r#"<rim:Slot name="IssuedAt">"#,
    );
    assert_ne!(undated, oots);
    let e = validator()
        .validate(undated.clone())
        .map(|_| ())
        .expect_err("header");
    assert_eq!(
        e.kind(),
        SchemaErrorKind::Message(MessageErrorKind::Header),
        "{e}"
    );
    assert!(e.to_string().contains("IssueDateTime"), "{e}");

    // `header_failure` decides the same for a caller that read the envelope
    for (doc, kind) in [
        (untyped, SchemaErrorKind::Invalid),
        (undated, SchemaErrorKind::Message(MessageErrorKind::Header)),
    ] {
        let (_, header_error) =
            xoev_core::Message::parse_keeping_header_error(doc.clone(), &Limits::default())
                .expect("envelope");
        let header_error = header_error.expect("an unreadable header");
        assert_eq!(validator().header_failure(doc, header_error).kind(), kind);
    }
}

/// An element's fixed value is met by the same value in another lexical
/// form (XML Schema compares values; libxml2 compares text): the
/// Thuringian archive's real xdomea 2.3.0 transfer writes the boolean
/// `Importbestaetigung`, fixed to `1`, as `true`. Another value, or one
/// that is no boolean, is still refused.
#[test]
fn a_fixed_boolean_is_met_by_any_lexical_form_of_its_value() {
    let sample = String::from_utf8(read(
        &root().join("tests/samples/xdomea/pattern-2.3.0_xx_Aussonderung.Aussonderung.0503.xml"),
    ))
    .expect("utf-8");
    let written = "<xdomea:Importbestaetigung>true</xdomea:Importbestaetigung>";
    assert!(sample.contains(written), "the sample writes true");
    let checker = validator();
    let valid = checker
        .validate(sample.clone())
        .expect("true meets fixed=\"1\"");
    assert_eq!(valid.entry.version, "2.3.0");
    for ok in ["1", " true "] {
        let text = sample.replace(
            written,
            &format!("<xdomea:Importbestaetigung>{ok}</xdomea:Importbestaetigung>"),
        );
        assert!(checker.validate(text).is_ok(), "{ok:?}");
    }
    for (wrong, says) in [
        ("false", "does not match the fixed value constraint '1'"),
        ("0", "does not match the fixed value constraint '1'"),
        (
            "yes",
            "is not a valid value of the atomic type 'xs:boolean'",
        ),
    ] {
        let text = sample.replace(
            written,
            &format!("<xdomea:Importbestaetigung>{wrong}</xdomea:Importbestaetigung>"),
        );
        let e = err_of(text);
        assert_eq!(e.kind(), SchemaErrorKind::Invalid, "{wrong}: {e}");
        let issues = e.issues();
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert!(issues[0].message.contains(says), "{wrong}: {issues:?}");
        assert!(issues[0].line.is_some(), "{issues:?}");
    }
}

/// libxml2 quotes the whole pattern a value failed — for the DIN 91379
/// datatypes ≈ 2,800 characters with raw tabs and line breaks. The issue
/// quotes its start and says what it is.
#[test]
fn a_value_outside_a_din_91379_pattern_is_reported_without_the_whole_pattern() {
    let path = root()
        .join("tests/samples/xestb/xestb.bescheiddatenAntwort.0102.kassel-zusammenveranlagung.xml");
    let text = String::from_utf8(read(&path)).expect("UTF-8");
    let bad = text.replacen(
        "<xestb:vorname>Erika</xestb:vorname>",
        "<xestb:vorname>Эрика</xestb:vorname>",
        1,
    );
    assert_ne!(bad, text);
    let e = err_of(bad);
    let issue = e
        .issues()
        .into_iter()
        .find(|i| i.message.contains("[facet 'pattern']"))
        .unwrap_or_else(|| panic!("no pattern issue in {e}"));
    let m = &issue.message;
    assert!(
        m.contains("is not accepted by the pattern '([\\t-\\n]|"),
        "{m}"
    );
    assert!(m.contains("characters: a DIN 91379 datatype"), "{m}");
    assert!(m.len() < 500, "{} bytes: {m}", m.len());
    assert!(!m.contains('\t') && !m.contains('\r'), "{m:?}");
}
