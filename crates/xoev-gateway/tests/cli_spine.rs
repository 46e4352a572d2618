//! The spine's subcommands as a user runs them: validate, inspect, schemas.

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn gateway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xoev-gateway"))
        .args(args)
        .current_dir(root())
        .env_remove("XOEV_SCHEMAS")
        .output()
        .expect("run xoev-gateway")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const KITA: &str = "tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-einkommen.xml";
const INVALID: &str = "tests/samples/invalid/xwasser-monitoring_plan_maximal.xml";

/// A file named `name` in a directory of its own, both removed when dropped.
struct TempFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl std::ops::Deref for TempFile {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.path
    }
}

fn temp_file(name: &str, content: &[u8]) -> TempFile {
    let dir = tempfile::Builder::new()
        .prefix("xoev-cli-")
        .tempdir()
        .expect("tmp");
    let path = dir.path().join(name);
    std::fs::write(&path, content).expect("write");
    TempFile { _dir: dir, path }
}

#[test]
fn validate_ok_exits_zero() {
    let o = gateway(&[
        "validate",
        KITA,
        "tests/samples/xwasser/quality_report_minimal.xml",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!("{KITA}: ok (XNachweis 1.2.0)")),
        "{out}"
    );
    assert!(
        out.contains("quality_report_minimal.xml: ok (XWasser 1.0.0)"),
        "{out}"
    );
}

#[test]
fn validate_invalid_prints_file_line_col_path_and_exits_one() {
    let o = gateway(&["validate", KITA, INVALID]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let expected = format!(
        "{INVALID}:75:11: /xwas:vorgang.transportieren.2010/xwas:vorgang/xwas:vorgangType/xwas:untersuchungsplan/xwas:terminplan/xwas:probennahmestelleKategorie: [xsd-invalid] "
    );
    assert!(out.lines().any(|l| l.starts_with(&expected)), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with(INVALID)).count(),
        3,
        "{out}"
    );
}

/// A directory stands for every `.xml` file under it, sorted by path; a
/// directory without any is an input error naming why.
#[test]
fn validate_a_directory_checks_every_xml_file_under_it() {
    let o = gateway(&["validate", "tests/samples/xdomea"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let out = stdout(&o);
    let files: Vec<&str> = out
        .lines()
        .map(|l| l.split(": ").next().unwrap_or(""))
        .collect();
    let mut sorted = files.clone();
    sorted.sort();
    assert_eq!(files, sorted, "{out}");
    assert!(
        out.contains("synthetic-4.0.0_Aussonderung.Anbieteverzeichnis.0501.xml: ok (xdomea 4.0.0)"),
        "{out}"
    );
    assert!(
        out.contains("pattern-3.0.0_xx_Aussonderung.Aussonderung.0503.xml: ok (xdomea 3.0.0)"),
        "{out}"
    );
    let expected = std::fs::read_dir(root().join("tests/samples/xdomea"))
        .expect("dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "xml"))
        })
        .count();
    assert_eq!(files.len(), expected, "{out}");

    // nested, with an invalid message among them: exit 1, every file named
    let dir = std::env::temp_dir().join(format!("xoev-cli-dir-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("nested")).expect("tmp");
    std::fs::copy(root().join(KITA), dir.join("a.xml")).expect("copy");
    std::fs::copy(root().join(INVALID), dir.join("nested/b.XML")).expect("copy");
    std::fs::write(dir.join("notes.txt"), "not a message").expect("write");
    let o = gateway(&["validate", dir.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("a.xml: ok (XNachweis 1.2.0)"), "{out}");
    assert!(out.contains("nested/b.XML:75:11: "), "{out}");
    assert!(!out.contains("notes.txt"), "{out}");

    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).expect("tmp");
    let o = gateway(&["validate", empty.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stdout(&o).contains("[io] cannot read: a directory with no .xml files"),
        "{}",
        stdout(&o)
    );

    // a link back up the tree is not followed: each file once, and the
    // walk ends; a link to a file is read like the file
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(".", dir.join("nested/loop")).expect("symlink");
        std::os::unix::fs::symlink("..", dir.join("nested/up")).expect("symlink");
        std::os::unix::fs::symlink(dir.join("a.xml"), dir.join("link.xml")).expect("symlink");
        let o = gateway(&["validate", dir.to_str().expect("utf-8 path")]);
        let out = stdout(&o);
        assert!(!out.contains("/loop/") && !out.contains("/up/"), "{out}");
        assert_eq!(out.matches("a.xml: ok").count(), 1, "{out}");
        assert!(out.contains("link.xml: ok (XNachweis 1.2.0)"), "{out}");
    }

    // stdin can be read once
    let o = gateway(&["validate", "-", "-"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("given more than once"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // a command that reads one file is told that a directory is not one
    let o = gateway(&["inspect", dir.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("cannot read: a directory: this command reads one message file"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn validate_missing_file_exits_two() {
    let o = gateway(&["validate", KITA, "does/not/exist.xml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).contains("does/not/exist.xml: [io] cannot read"));
}

#[test]
fn validate_json_is_machine_readable() {
    let o = gateway(&["validate", "--format", "json", KITA, INVALID]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v[0]["ok"], true);
    assert_eq!(v[0]["standard"], "XNachweis");
    assert_eq!(v[1]["ok"], false);
    assert_eq!(v[1]["kind"], "xsd-invalid");
    assert_eq!(v[1]["errors"][0]["line"], 75);
    assert_eq!(v[1]["errors"][0]["column"], 11);
}

#[test]
fn validate_unknown_version_and_standard() {
    let kita = std::fs::read_to_string(root().join(KITA)).expect("read");
    let v = temp_file(
        "v.xml",
        kita.replace(r#"version="1.2.0""#, r#"version="2.0""#)
            .as_bytes(),
    );
    let o = gateway(&["validate", v.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("[unknown-version]"), "{}", stdout(&o));
    let o = gateway(&["validate", "tests/samples/unsupported/BirthEvidence.xml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("[unknown-standard]"));
}

/// A root whose namespace names the version (XBeteiligung 1.2) but whose
/// free-text `version` attribute says another release: validated against
/// the namespace's schema, and `validate` and `inspect` say the two differ.
#[test]
fn validate_and_inspect_say_when_the_root_version_differs_from_the_namespace() {
    let text = std::fs::read_to_string(root().join(
        "tests/samples/xbeteiligung/xbeteiligung-test-kommunal.Initiieren.0401.gwid-format.xml",
    ))
    .expect("read");
    let f = temp_file(
        "xbeteiligung-1.1.xml",
        text.replacen(r#"version="1.2""#, r#"version="1.1""#, 1)
            .as_bytes(),
    );
    let f = f.to_str().expect("utf-8");
    let o = gateway(&["validate", f]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("ok (XBeteiligung 1.2; the root's version attribute says \"1.1\")"),
        "{}",
        stdout(&o)
    );
    let o = gateway(&["--format", "json", "validate", f]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(
        (&v[0]["version"], &v[0]["root_version"]),
        (&serde_json::json!("1.2"), &serde_json::json!("1.1"))
    );
    let o = gateway(&["inspect", f]);
    assert!(
        stdout(&o).contains("catalogue:     XBeteiligung 1.2 (xbeteiligung/1.2/xbeteiligung.xsd); the root's version attribute says \"1.1\""),
        "{}",
        stdout(&o)
    );
    // The matching attribute is not remarked on.
    let o = gateway(&[
        "--format",
        "json",
        "validate",
        "tests/samples/xbeteiligung/xbeteiligung-test-kommunal.Initiieren.0401.gwid-format.xml",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v[0]["root_version"], serde_json::Value::Null);
}

#[test]
fn validate_xxe_never_leaks_the_file() {
    let secret = temp_file("secret.txt", b"CLI-SECRET-0815");
    let doc = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE m [<!ENTITY s SYSTEM \"file://{}\">]>\n<m>&s;</m>",
        secret.display()
    );
    let f = temp_file("xxe.xml", doc.as_bytes());
    for fmt in ["text", "json"] {
        let o = gateway(&["validate", "--format", fmt, f.to_str().expect("utf-8")]);
        assert_eq!(o.status.code(), Some(1));
        let all = format!("{}{}", stdout(&o), String::from_utf8_lossy(&o.stderr));
        assert!(all.contains("doctype-refused"), "{all}");
        assert!(!all.contains("CLI-SECRET-0815"), "{all}");
    }
}

#[test]
fn validate_oversize_with_max_size() {
    let o = gateway(&["validate", "--max-size", "1000", KITA]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("[oversize]"));
}

#[test]
fn inspect_prints_the_header() {
    let o = gateway(&["inspect", KITA]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(
        out.contains("message id:    3f1c2b7e-8a44-4d0e-9b7a-0c5e2d9f1a02"),
        "{out}"
    );
    assert!(out.contains("author:        ags:09162000 [DVDV]"), "{out}");
    let o = gateway(&["inspect", "--format", "json", KITA]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["header"]["reader"]["id"], "fa:9198");
    assert_eq!(
        v["header"]["message_type"]["code"],
        "DE.EvidenceRequest.0101"
    );
    assert_eq!(v["standard"], "XNachweis");
    assert_eq!(v["ok"], true);
    assert_eq!(
        v["catalogue"],
        serde_json::json!({"standard": "XNachweis", "version": "1.2.0", "entry": "xnachweis/1.2.0/xnachweis-de-noots.xsd"})
    );

    // A root without standard and version (xdomea 2.4.0): the catalogue's
    // entry for its namespace is named; an unknown one says why.
    let o = gateway(&[
        "inspect",
        "tests/samples/xdomea/synthetic-2.4.0_Aussonderung.AnbietungEmpfangBestaetigen.0504.xml",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("standard:      - -"), "{out}");
    assert!(
        out.contains("catalogue:     xdomea 2.4.0 (xdomea/2.4.0/xdomea.xsd)"),
        "{out}"
    );
    let o = gateway(&[
        "inspect",
        "tests/samples/unsupported/oots_request_header.xml",
    ]);
    assert!(
        stdout(&o).contains("catalogue:     - (unknown standard"),
        "{}",
        stdout(&o)
    );
    let o = gateway(&[
        "inspect",
        "--format",
        "json",
        "tests/samples/unsupported/oots_request_header.xml",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["catalogue"], serde_json::Value::Null);
    assert!(
        v["catalogue_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("unknown standard")),
        "{v}"
    );
}

#[test]
fn inspect_rejects_broken_input() {
    let f = temp_file(
        "broken.xml",
        b"<a><nachrichtenkopf><x></nachrichtenkopf></a>",
    );
    let o = gateway(&["inspect", f.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("malformed-xml"), "{}", stdout(&o));
    let o = gateway(&["inspect", "--format", "json", f.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["ok"], false);
    assert_eq!(v["kind"], "malformed-xml");
    assert_eq!((&v["line"], &v["column"]), (&1.into(), &24.into()));
    assert_eq!(v["catalogue"], serde_json::Value::Null);
}

/// A readable header does not make the document well-formed: `inspect`
/// prints the header, then the fault after it, and exits 1 — as
/// `validate` and `route` refuse it.
#[test]
fn inspect_refuses_garbage_after_a_readable_header() {
    let sample = std::fs::read(root().join(KITA)).expect("sample");
    let mut bad = sample.clone();
    bad.extend_from_slice(b"<trailer/>\n");
    let f = temp_file("inspect-trailing.xml", &bad);
    let f = f.to_str().expect("utf-8");
    let o = gateway(&["inspect", f]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("message id:"), "{out}");
    assert!(
        out.contains("[malformed-xml] Extra content at the end of the document"),
        "{out}"
    );
    let o = gateway(&["inspect", "--format", "json", f]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(
        (&v["ok"], &v["kind"]),
        (&false.into(), &"malformed-xml".into())
    );
    assert!(v["header"]["message_id"].is_string(), "{v}");
    // the sample itself is fine
    let o = gateway(&["inspect", KITA]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

/// `inspect` reports a header that cannot be read as `validate` does:
/// after the document's own fault, which is then the reason. What it
/// could read comes first.
#[test]
fn inspect_names_the_document_fault_before_the_header_fault() {
    // An OOTS evidence response with slots after the root's end tag
    // (hego00/im): not well-formed, and no IssueDateTime slot inside.
    let f = "tests/samples/invalid/oots-hego00-im-outbox-query_response_20230418095447.xml";
    let o = gateway(&["inspect", f]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("root:          {urn:oasis:names:tc:ebxml-regrep:xsd:query:4.0}QueryResponse"),
        "{out}"
    );
    assert!(
        out.contains("catalogue:     OOTS-EDM 1.0.0 (oots-edm/1.0.0/oots-edm.xsd)"),
        "{out}"
    );
    assert!(
        out.ends_with(&format!(
            "{f}:21:1: [malformed-xml] Extra content at the end of the document\n"
        )),
        "{out}"
    );
    assert!(
        !out.contains("IssueDateTime") && !out.contains("invalid-header"),
        "{out}"
    );
    let o = gateway(&["inspect", "--format", "json", f]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["ok"], false);
    assert_eq!(v["kind"], "malformed-xml");
    assert_eq!((&v["line"], &v["column"]), (&21.into(), &1.into()));
    assert_eq!(v["catalogue"]["standard"], "OOTS-EDM");
    assert_eq!(v["header"], serde_json::Value::Null);

    // xdomea 3.0.0's namespace on a root the schema does not declare,
    // whose Kopf has no ProzessID (dcssoftware/bafoeg-manager): the XSD's
    // word first, as validate gives it
    let f = "tests/samples/invalid/xdomea-dcssoftware-bafoeg-manager-transportfile.xml";
    let o = gateway(&["inspect", f]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let fault = format!(
        "{f}:4: /xdomea:Aussonderung.Anbieteverzeichnis0503: [xsd-invalid] Element '{{urn:xoev-de:xdomea:schema:3.0.0}}Aussonderung.Anbieteverzeichnis0503': No matching global declaration available for the validation root.\n"
    );
    assert!(out.ends_with(&fault), "{out}");
    // the header's own reason only beside it, as secondary
    assert_eq!(out.matches("ProzessID").count(), 1, "{out}");
    assert!(
        out.contains("header:        - (cannot be read: invalid-header: the message header has no ProzessID; the document's own faults, below, come first)"),
        "{out}"
    );
    assert_eq!(stdout(&gateway(&["validate", f])), fault);
    let o = gateway(&["inspect", "--format", "json", f]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["kind"], "xsd-invalid");
    assert_eq!(v["catalogue"]["version"], "3.0.0");
}

#[test]
fn schemas_lists_the_catalogue() {
    let o = gateway(&["schemas", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let names: Vec<&str> = v
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["standard"].as_str())
        .collect();
    for s in ["XNachweis", "XWasser", "XBeteiligung", "xdomea", "OOTS-EDM"] {
        assert!(names.contains(&s), "{names:?}");
    }
}

#[test]
fn schemas_check_compiles_every_entry() {
    let o = gateway(&["schemas", "--check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let out = stdout(&o);
    for s in [
        "XNachweis 1.2.0",
        "XWasser 1.0.0",
        "XBeteiligung 1.2",
        "xdomea 2.4.0",
        "xdomea 3.0.0",
        "xdomea 4.0.0",
        "OOTS-EDM 1.0.0",
        "XEStB 1.0.0",
    ] {
        assert!(out.contains(&format!("{s}: compiles (")), "{s}: {out}");
    }
    // Without --check nothing is compiled, so nothing is reported.
    let o = gateway(&["schemas"]);
    assert!(!stdout(&o).contains("compiles"), "{}", stdout(&o));
}

#[test]
fn schemas_check_names_the_entry_that_does_not_compile_and_why() {
    // An integrator's catalogue: one good entry, one whose XSD imports a
    // remote location that is not mapped to a local file.
    let dir = std::env::temp_dir().join(format!("xoev-cli-check-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("good/1.0")).expect("tmp");
    std::fs::create_dir_all(dir.join("broken/2.0")).expect("tmp");
    std::fs::write(
        dir.join("good/1.0/good.xsd"),
        r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t:good"><xs:element name="a" type="xs:string"/></xs:schema>"#,
    )
    .expect("write");
    let remote = "http://example.org/not-mapped/other.xsd";
    std::fs::write(
        dir.join("broken/2.0/broken.xsd"),
        format!(
            r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:o="urn:t:other" targetNamespace="urn:t:broken">
  <xs:import namespace="urn:t:other" schemaLocation="{remote}"/>
  <xs:element name="b" type="o:Missing"/>
</xs:schema>"#
        ),
    )
    .expect("write");
    std::fs::write(
        dir.join("catalogue.toml"),
        "[[standard]]\nname = \"Good\"\nversion = \"1.0\"\nnamespaces = [\"urn:t:good\"]\nentry = \"good/1.0/good.xsd\"\n\n\
         [[standard]]\nname = \"Broken\"\nversion = \"2.0\"\nnamespaces = [\"urn:t:broken\"]\nentry = \"broken/2.0/broken.xsd\"\n",
    )
    .expect("write");
    let cat = dir.to_str().expect("utf-8");

    let o = gateway(&["schemas", "--check", "--schemas", cat]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("Good 1.0: compiles ("), "{out}");
    assert!(
        out.contains(
            "Broken 2.0: does not compile: schema broken/2.0/broken.xsd failed to compile"
        ),
        "{out}"
    );
    assert!(out.contains(&format!("not loaded: {remote}")), "{out}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("1 of 2 schema(s) do not compile"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let o = gateway(&["schemas", "--check", "--schemas", cat, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v[0]["standard"], "Good");
    assert_eq!(v[0]["compiles"], true);
    assert!(v[0]["compile_ms"].is_u64(), "{v}");
    assert_eq!(v[1]["standard"], "Broken");
    assert_eq!(v[1]["compiles"], false);
    assert!(
        v[1]["error"].as_str().is_some_and(|e| e.contains(remote)),
        "{v}"
    );

    // Listing alone does not compile: it succeeds on the same catalogue.
    assert_eq!(
        gateway(&["schemas", "--schemas", cat]).status.code(),
        Some(0)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn usage_errors_exit_two() {
    assert_eq!(gateway(&["validate"]).status.code(), Some(2));
    assert_eq!(gateway(&["no-such-command"]).status.code(), Some(2));
}

/// The README's first command tells the whole case, step by step: the
/// request translated and routed to the tax office, the answer matched
/// and minimised, the fee office's check of what it got, and the
/// citizen's access log — and what the fee office sees is the fee
/// bracket alone, none of the assessment's figures or the citizen's data.
#[test]
fn demo_tells_the_whole_case_and_the_fee_office_sees_only_the_bracket() {
    let work = tempfile::tempdir().expect("tmp");
    let o = Command::new(env!("CARGO_BIN_EXE_xoev-gateway"))
        .args(["demo", "--work"])
        .arg(work.path())
        .current_dir(root())
        .env_remove("XOEV_SCHEMAS")
        .output()
        .expect("run xoev-gateway demo");
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    for step in 1..=6 {
        assert!(out.contains(&format!("\n{step}  ")), "step {step}: {out}");
    }
    for said in [
        "translated to XEStB (xnachweis-to-xestb)",
        "published confirmed to xoev.inbox.fa-2613",
        "minimised (xestb-to-xnachweis)",
        "published confirmed to xoev.inbox.ags-06611000",
        "valid XNachweis 1.2.0",
        "(2 entries, hash-chained), as the citizen's portal shows it (1 event):",
        "Answered: yes.",
        "chain intact: true",
    ] {
        assert!(out.contains(said), "{said:?} missing: {out}");
    }
    let evidence: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("   | "))
        .collect();
    let evidence = evidence.join("\n");
    assert!(evidence.contains("<xestb:stufe>"), "{evidence}");
    for withheld in [
        "einkuenfte",
        "Einkuenfte",
        "Einkommen",
        "steuerIdNr",
        "name>",
        "geburtsdatum",
    ] {
        assert!(
            !evidence.contains(withheld),
            "{withheld} reached the fee office: {evidence}"
        );
    }
}

#[test]
fn logs_written_to_a_file_carry_no_colour_codes() {
    // stderr is a pipe here, as when operations redirect it to a file or
    // a journal: the log lines must be plain text
    let work = tempfile::tempdir().expect("tmp");
    let o = Command::new(env!("CARGO_BIN_EXE_xoev-gateway"))
        .args(["demo", "--work"])
        .arg(work.path())
        .current_dir(root())
        .env_remove("XOEV_SCHEMAS")
        .env("XOEV_LOG", "info")
        .output()
        .expect("run xoev-gateway demo");
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(" INFO "), "info lines expected: {err}");
    assert!(
        !err.contains('\u{1b}'),
        "ANSI escape codes in a redirected log: {err}"
    );
}

#[test]
fn json_logs_are_one_object_per_line_with_the_span_fields() {
    let work = tempfile::tempdir().expect("tmp");
    let o = Command::new(env!("CARGO_BIN_EXE_xoev-gateway"))
        .args(["demo", "--work"])
        .arg(work.path())
        .current_dir(root())
        .env_remove("XOEV_SCHEMAS")
        .env("XOEV_LOG", "info")
        .env("XOEV_LOG_FORMAT", "json")
        .output()
        .expect("run xoev-gateway demo");
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<serde_json::Value> = err
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(!lines.is_empty(), "no log lines");
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() && l["fields"].is_object())
    );
    // the pipeline's events carry their message's span: id, sender, case
    let routed = lines
        .iter()
        .find(|l| l["fields"]["message"] == "routed")
        .unwrap_or_else(|| panic!("no routed event: {err}"));
    assert_eq!(routed["span"]["name"], "message", "{routed}");
    assert!(routed["span"]["id"].is_string(), "{routed}");
    assert_eq!(routed["span"]["sender"], "ags:06611000", "{routed}");
    assert!(routed["fields"]["to"].is_string(), "{routed}");
}

#[test]
fn an_unknown_log_format_is_refused() {
    let o = Command::new(env!("CARGO_BIN_EXE_xoev-gateway"))
        .args(["schemas"])
        .current_dir(root())
        .env_remove("XOEV_SCHEMAS")
        .env("XOEV_LOG_FORMAT", "xml")
        .output()
        .expect("run xoev-gateway schemas");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("XOEV_LOG_FORMAT") && err.contains("\"xml\""),
        "{err}"
    );
}

/// Output piped into a reader that stops early (`| head`): the tool ends
/// quietly by SIGPIPE, as Unix tools do, instead of panicking in `println!`.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_xoev-gateway"))
        .args(["validate", "tests/samples"])
        .current_dir(root())
        .env_remove("XOEV_SCHEMAS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // the reader goes away before the first line is written
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    let status = child.wait().expect("wait");
    assert!(!stderr.contains("panicked"), "{stderr}");
    const SIGPIPE: i32 = 13; // on Linux
    assert_eq!(status.signal(), Some(SIGPIPE), "{status:?}");
}

/// An EU OOTS message that names EDM 2.0 but passes the 1.0 schema (the
/// only EDM schema here) is valid, and `validate` says which release it
/// named; a 1.0 message gets no such remark.
#[test]
fn validate_names_an_oots_specification_other_than_the_schema() {
    let v2 = "tests/samples/oots-edm/reference_messages_reponse.xml";
    let v1 = "tests/samples/oots-edm/2.1_Step_1_Evidence_Request_-_Birth_-_full_example.xml";
    let o = gateway(&["validate", v2]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).contains("ok (OOTS-EDM 1.0.0; the message names oots-edm:v2.0)"),
        "{}",
        stdout(&o)
    );
    let o = gateway(&["--format", "json", "validate", v2, v1]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(j[0]["specification"], "oots-edm:v2.0");
    assert!(j[1].get("specification").is_none(), "{j}");
    // `route` says it too (it named only OOTS-EDM 1.0.0)
    let o = gateway(&["route", v2]);
    assert!(
        stdout(&o).contains(
            "note: the message names oots-edm:v2.0; the catalogue validates it as OOTS-EDM 1.0.0, the only release it has"
        ),
        "{}",
        stdout(&o)
    );
    let o = gateway(&["route", v1]);
    assert!(!stdout(&o).contains("the message names"), "{}", stdout(&o));

    // The same when the schema refuses the message: its errors may be
    // another release's additions (EDM 1.2's sdg:Nationality in a Person).
    let text = std::fs::read_to_string(root().join(v1)).expect("sample");
    let v12 = text
        .replacen(
            "<rim:Value>oots-edm:v1.0</rim:Value>",
            "<rim:Value>oots-edm:v1.2</rim:Value>",
            1,
        )
        .replacen(
            "</sdg:Person>",
            "<sdg:Nationality>DE</sdg:Nationality></sdg:Person>",
            1,
        );
    assert!(v12.contains("oots-edm:v1.2") && v12.contains("sdg:Nationality"));
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path().join("edm-1.2.xml");
    std::fs::write(&f, v12).expect("write");
    let f = f.to_str().expect("utf-8 path");
    let o = gateway(&["validate", f]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("[xsd-invalid]") && out.contains("Nationality"),
        "{out}"
    );
    assert!(
        out.contains(
            "note: the message names oots-edm:v1.2; the catalogue validates it as OOTS-EDM 1.0.0"
        ),
        "{out}"
    );
    let o = gateway(&["--format", "json", "validate", f]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(j[0]["specification"], "oots-edm:v1.2", "{j}");
    assert_eq!(j[0]["kind"], "xsd-invalid", "{j}");
}

/// A message of another RegRep profile (TOOP's `toop-edm:v2.1`) passes
/// the OOTS-EDM entry's RegRep schemas; `validate` says what it named and
/// that the gateway does not route it (it said plain "ok (OOTS-EDM 1.0.0)").
#[test]
fn validate_says_a_message_of_another_regrep_profile_is_none_of_the_edm() {
    let v1 = "tests/samples/oots-edm/2.1_Step_1_Evidence_Request_-_Birth_-_full_example.xml";
    let text = std::fs::read_to_string(root().join(v1)).expect("sample");
    let toop = text.replacen(
        "<rim:Value>oots-edm:v1.0</rim:Value>",
        "<rim:Value>toop-edm:v2.1</rim:Value>",
        1,
    );
    assert_ne!(toop, text);
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path().join("toop.xml");
    std::fs::write(&f, toop).expect("write");
    let f = f.to_str().expect("utf-8 path");
    let o = gateway(&["validate", f]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).contains(
            "ok (OOTS-EDM 1.0.0; the message names toop-edm:v2.1, no OOTS EDM release: validated against the RegRep 4 schemas the profiles share; the gateway does not route it)"
        ),
        "{}",
        stdout(&o)
    );
    let o = gateway(&["--format", "json", "validate", f]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(j[0]["specification"], "toop-edm:v2.1", "{j}");
    // inspect shows what it named
    let o = gateway(&["--format", "json", "inspect", f]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(j["specification"], "toop-edm:v2.1", "{j}");
}

/// `run` with a configuration it cannot read or use stops at once with
/// every problem and exit 2 (usage or I/O), before touching a broker.
#[test]
fn run_with_a_missing_or_broken_configuration_exits_2_naming_the_problem() {
    let dir = tempfile::tempdir().expect("tmp");
    let missing = dir.path().join("missing.toml");
    let o = gateway(&[
        "run",
        "--check",
        "--config",
        missing.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("missing.toml"), "{err}");
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[gateway\nworkers = ").expect("write");
    let o = gateway(&["run", "--config", broken.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("broken.toml"), "{err}");
}

/// `adapters` prints a table whose columns line up whatever the names'
/// lengths (`xnachweis-response-to-oots-edm` is longer than a fixed column).
#[test]
fn adapters_lists_every_adapter_in_aligned_columns() {
    let o = gateway(&["adapters"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("NAME "), "{out}");
    assert!(out.contains("xnachweis-response-to-oots-edm"), "{out}");
    // the KIND column begins at the same character on every line
    let kind_at = |line: &str| {
        ["KIND", "builtin", "xslt"]
            .iter()
            .filter_map(|k| {
                line.find(&format!("  {k} "))
                    .map(|i| line[..i + 2].chars().count())
            })
            .min()
    };
    let first = kind_at(lines[0]).expect("KIND column");
    for line in &lines[1..] {
        assert_eq!(kind_at(line), Some(first), "{out}");
    }
    assert!(lines.len() >= 5, "{out}");
}

/// `inspect` says why a document has no header, and where the document's
/// own fault is the reason given for an unreadable header, the header's
/// own reason beside it (it said "none", or "see below" and listed only
/// the XSD's violations).
#[test]
fn inspect_says_why_there_is_no_header() {
    let dir = tempfile::tempdir().expect("tmp");
    let bare = dir.path().join("bare.xml");
    std::fs::write(
        &bare,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<xdomea:Aussonderung.Anbieteverzeichnis.0501 xmlns:xdomea="urn:xoev-de:xdomea:schema:3.0.0"/>
"#,
    )
    .expect("write");
    let o = gateway(&["inspect", bare.to_str().expect("path")]);
    assert!(
        stdout(&o).contains("header:        none (document ")
            && stdout(&o).contains("carries no message header"),
        "{}",
        stdout(&o)
    );

    let text = std::fs::read_to_string(
        root().join("tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-kassel.xml"),
    )
    .expect("sample");
    let start = text.find("<xn-bk:nachrichtenUUID>").expect("id");
    let end = text.find("</xn-bk:nachrichtenUUID>").expect("id") + "</xn-bk:nachrichtenUUID>".len();
    let no_id = dir.path().join("no-id.xml");
    std::fs::write(&no_id, format!("{}{}", &text[..start], &text[end..])).expect("write");
    let o = gateway(&["inspect", no_id.to_str().expect("path")]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("header:        - (cannot be read: ")
            && out.contains("nachrichtenUUID")
            && out.contains("[xsd-invalid]"),
        "{out}"
    );
}

/// `demo --install DIR --prefix P` writes an installation on P's queues
/// (gateway.toml, the routing's inboxes, the printed peer commands);
/// `--work` does not go with `--install`, and the demo tells its case as
/// text only.
#[test]
fn demo_install_takes_the_prefix_and_refuses_what_it_would_ignore() {
    let dir = std::env::temp_dir().join(format!("xoev-cli-install-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.to_str().expect("utf-8 path");
    let o = gateway(&["demo", "--install", d, "--prefix", "xoev-inst"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout(&o).contains("--inbox xoev-inst.inbox.fa-2613"),
        "{}",
        stdout(&o)
    );
    let config = std::fs::read_to_string(dir.join("gateway.toml")).expect("gateway.toml");
    assert!(config.contains("prefix = \"xoev-inst\""), "{config}");
    let authorities =
        std::fs::read_to_string(dir.join("routing/authorities.toml")).expect("authorities");
    assert!(authorities.contains("inbox = \"xoev-inst.inbox.ags-06611000\""));
    assert!(!authorities.contains("\"xoev.inbox."), "{authorities}");

    let o = gateway(&["demo", "--install", d, "--work", d]);
    assert_eq!(o.status.code(), Some(2));
    let o = gateway(&["--format", "json", "demo"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// With `--format json`, a command that cannot do its work (a file it
/// cannot read, a catalogue it cannot load) still answers in JSON on
/// stdout, once, with the reason; exit 2.
#[test]
fn json_mode_answers_in_json_when_a_command_cannot_work() {
    for args in [
        &["inspect", "/nonexistent.xml"][..],
        &["route", "/nonexistent.xml"],
        &[
            "translate",
            "--adapter",
            "xnachweis-to-xestb",
            "/nonexistent.xml",
        ],
        &["schemas", "--schemas", "/nonexistent"],
    ] {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(args);
        let o = gateway(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", stdout(&o)));
        assert_eq!(v["ok"], false, "{args:?}: {v}");
        let error = v["error"].as_str().unwrap_or_default();
        assert!(error.contains("No such file or directory"), "{args:?}: {v}");
        // the reason once, not once per layer of the error chain
        assert_eq!(error.matches("No such file").count(), 1, "{args:?}: {v}");
    }
}
