//! `translate` and `adapters` as a user runs them, and the integrator's path
//! of docs/adapters.md run exactly as written there.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn gateway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xoev-gateway"))
        .args(args)
        .current_dir(root())
        .env_remove("XOEV_SCHEMAS")
        .env_remove("XOEV_CONFIG_ROOT")
        .output()
        .expect("run xoev-gateway")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh directory for one test, removed when dropped.
fn scratch(test: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("xoev-translate-{test}-"))
        .tempdir()
        .expect("scratch")
}

const KASSEL_REQ: &str =
    "tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-kassel.xml";
const KASSEL_ANS: &str =
    "tests/samples/xestb/xestb.bescheiddatenAntwort.0102.kassel-zusammenveranlagung.xml";
const GOLDEN: &str = "crates/xoev-adapters/tests/golden";

#[test]
fn translate_prints_exactly_the_golden_output() {
    let o = gateway(&[
        "translate",
        "--adapter",
        "xestb-to-xnachweis",
        "--request",
        KASSEL_REQ,
        "--now",
        "2025-03-03T07:30:05Z",
        "--seed",
        "0f5e1a6c-0000-4000-8000-000000000011",
        KASSEL_ANS,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let expected = std::fs::read(
        root()
            .join(GOLDEN)
            .join("kassel-answer-fee-bracket/expected.xml"),
    )
    .expect("golden");
    assert_eq!(o.stdout, expected);
}

#[test]
fn a_chain_runs_adapters_in_order() {
    // request → XEStB, then the XEStB request is not an answer: the second
    // step refuses it with a specific error, after the first step validated.
    let o = gateway(&[
        "translate",
        "--adapter",
        "xnachweis-to-xestb",
        "--adapter",
        "xestb-to-xnachweis",
        "--request",
        KASSEL_REQ,
        KASSEL_REQ,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("[unexpected-message]"),
        "{}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn bad_input_exits_one_with_kind_and_field_in_json() {
    let o = gateway(&[
        "--format",
        "json",
        "translate",
        "--adapter",
        "xnachweis-to-xestb",
        "crates/xoev-adapters/tests/fixtures/bad/xnachweis-request-without-idnr.xml",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["ok"], false);
    assert_eq!(v["kind"], "missing-field");
    assert_eq!(v["field"], "Query/LegalOrNaturalPerson/NaturalPerson/IDNr");
}

#[test]
fn answer_without_the_request_is_refused() {
    let o = gateway(&["translate", "--adapter", "xestb-to-xnachweis", KASSEL_ANS]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("[missing-context]"), "{}", stderr(&o));
}

#[test]
fn input_of_the_wrong_standard_is_refused_before_translation() {
    let o = gateway(&["translate", "--adapter", "xnachweis-to-xestb", KASSEL_ANS]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("[invalid-input]"), "{}", stderr(&o));
}

#[test]
fn unknown_adapter_is_named() {
    // a usage error: exit 2, as README says
    let o = gateway(&["translate", "--adapter", "nope", KASSEL_REQ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("[unknown-adapter]"), "{}", stderr(&o));
}

/// Makes `dir` a configuration root: the repository's `config/` files and
/// an empty `adapters/`, which it returns.
fn config_root(dir: &Path) -> PathBuf {
    let cfg = dir.join("config");
    let ad = dir.join("adapters");
    std::fs::create_dir_all(&cfg).expect("mkdir");
    std::fs::create_dir_all(&ad).expect("mkdir");
    for f in ["minimisation.toml", "fee-tables.toml"] {
        std::fs::copy(root().join("config").join(f), cfg.join(f)).expect("copy");
    }
    ad
}

#[test]
fn invalid_output_is_never_printed() {
    // A mapping that claims OOTS-EDM but produces something else.
    let scratch_dir = scratch("invalid-output");
    let dir = scratch_dir.path();
    let ad = config_root(dir);
    std::fs::write(
        ad.join("liar.xsl"),
        r#"<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
              xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:4.0">
             <xsl:template match="/"><query:QueryRequest><query:Nonsense/></query:QueryRequest></xsl:template>
           </xsl:stylesheet>"#,
    )
    .expect("write");
    std::fs::write(
        ad.join("liar.toml"),
        "name = \"liar\"\nstylesheet = \"liar.xsl\"\nsource = { standard = \"XNachweis\", version = \"1.2.0\" }\ntarget = { standard = \"OOTS-EDM\", version = \"1.0.0\" }\n",
    )
    .expect("write");
    let root_arg = dir.display().to_string();
    let o = gateway(&[
        "translate",
        "--config-root",
        &root_arg,
        "--adapter",
        "liar",
        KASSEL_REQ,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "printed: {}", stdout(&o));
    assert!(stderr(&o).contains("[invalid-output]"), "{}", stderr(&o));
}

#[test]
fn adapters_lists_builtin_and_declarative() {
    let o = gateway(&["--format", "json", "adapters"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let names: Vec<&str> = v
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "oots-edm-to-xnachweis",
            "xestb-to-xnachweis",
            "xnachweis-response-to-oots-edm",
            "xnachweis-to-oots-edm",
            "xnachweis-to-xestb"
        ]
    );
    assert_eq!(v[0]["kind"], "builtin");
    assert_eq!(v[1]["kind"], "builtin");
    assert_eq!(v[2]["kind"], "xslt");
}

/// An adapter naming a version as the catalogue does not write it (`1.2`
/// where it has `1.2.0`) could never run: `adapters` says so (exit 1).
#[test]
fn adapters_names_a_version_the_catalogue_writes_otherwise() {
    let scratch_dir = scratch("adapter-version");
    let dir = scratch_dir.path();
    let ad = config_root(dir);
    std::fs::copy(
        root().join("adapters/xnachweis-to-oots-edm.xsl"),
        ad.join("short.xsl"),
    )
    .expect("copy");
    std::fs::write(
        ad.join("short.toml"),
        "name = \"short\"\nstylesheet = \"short.xsl\"\nsource = { standard = \"XNachweis\", version = \"1.2\" }\ntarget = { standard = \"OOTS-EDM\", version = \"9.0.0\" }\n",
    )
    .expect("write");
    let root_arg = dir.display().to_string();
    let o = gateway(&["adapters", "--config-root", &root_arg]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("short"), "still listed: {}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains(
            "adapter \"short\" reads XNachweis 1.2, which the schema catalogue writes \"1.2.0\""
        ),
        "{err}"
    );
    assert!(
        err.contains("adapter \"short\" writes OOTS-EDM 9.0.0, which the schema catalogue does not have (it has OOTS-EDM 1.0.0)"),
        "{err}"
    );
}

/// The shell block between the integrator-test markers of docs/adapters.md.
fn integrator_block(doc: &str) -> String {
    let start = doc
        .find("<!-- integrator-test:begin -->")
        .expect("begin marker");
    let end = doc
        .find("<!-- integrator-test:end -->")
        .expect("end marker");
    doc[start..end]
        .lines()
        .skip(1)
        .map(|l| l.strip_prefix("   ").unwrap_or(l))
        .filter(|l| !l.starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn integrator_path_from_the_docs() {
    let doc = std::fs::read_to_string(root().join("docs/adapters.md")).expect("docs/adapters.md");
    let script = integrator_block(&doc);
    assert!(script.contains("xoev-gateway translate"), "{script}");
    let scratch_work = scratch("integrator");
    let work = scratch_work.path();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_xoev-gateway"))
        .parent()
        .expect("bin dir")
        .to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = Command::new("sh")
        .arg("-ec")
        .arg(&script)
        .current_dir(root())
        .env("PATH", path)
        .env("WORK", work)
        .env_remove("XOEV_SCHEMAS")
        .env_remove("XOEV_CONFIG_ROOT")
        .output()
        .expect("run sh");
    assert_eq!(
        o.status.code(),
        Some(0),
        "the docs' integrator path failed:\n{script}\n--- stdout\n{}\n--- stderr\n{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(stdout(&o).contains("my-oots-mapping"), "{}", stdout(&o));
    assert!(stdout(&o).contains("ok (OOTS-EDM 1.0.0)"), "{}", stdout(&o));
}

#[test]
fn chain_tax_answer_to_oots_response_carries_no_tax_id() {
    // The tax office's answer → minimised XNachweis answer → OOTS response.
    let o = gateway(&[
        "translate",
        "--adapter",
        "xestb-to-xnachweis",
        "--adapter",
        "xnachweis-response-to-oots-edm",
        "--request",
        KASSEL_REQ,
        KASSEL_ANS,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("<query:QueryResponse"), "{out}");
    assert!(out.contains("ResponseStatusType:Success"), "{out}");
    for personal in ["12345678901", "98765432109", "76550.00", "Max"] {
        assert!(
            !out.contains(personal),
            "{personal} reached the OOTS response"
        );
    }
}

#[test]
fn a_context_file_gives_time_seed_municipality_and_request() {
    let scratch_dir = scratch("context-file");
    let dir = scratch_dir.path();
    let request =
        root().join("tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-darmstadt.xml");
    std::fs::copy(&request, dir.join("request.xml")).expect("copy");
    std::fs::write(
        dir.join("context.toml"),
        "now = \"2025-03-03T07:30:05Z\"\nseed = \"0f5e1a6c-0000-4000-8000-000000000012\"\nrequest = \"request.xml\"\n",
    )
    .expect("write");
    let ctx = dir.join("context.toml").display().to_string();
    let answer =
        "tests/samples/xestb/xestb.bescheiddatenAntwort.0102.darmstadt-einzelveranlagung.xml";
    let o = gateway(&[
        "translate",
        "--adapter",
        "xestb-to-xnachweis",
        "--context",
        &ctx,
        answer,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let expected = std::fs::read(
        root()
            .join(GOLDEN)
            .join("darmstadt-answer-fee-bracket/expected.xml"),
    )
    .expect("golden");
    assert_eq!(o.stdout, expected);
    // --municipality overrides: Kassel's table for the Darmstadt case.
    let o = gateway(&[
        "translate",
        "--adapter",
        "xestb-to-xnachweis",
        "--context",
        &ctx,
        "--municipality",
        "06611000",
        answer,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_ne!(o.stdout, expected);
    let o = gateway(&[
        "translate",
        "--adapter",
        "xestb-to-xnachweis",
        "--context",
        &ctx,
        "--municipality",
        "Kassel",
        answer,
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a bad AGS is a usage error: {}",
        stderr(&o)
    );
}

/// What the service and `validate` refuse, `translate` refuses too: a
/// request in ISO-8859-1 (libxml2 alone would read it) was translated.
#[test]
fn an_input_the_service_would_refuse_is_not_translated() {
    let scratch_dir = scratch("latin1");
    let dir = scratch_dir.path();
    let text = std::fs::read_to_string(root().join(KASSEL_REQ)).expect("sample");
    let latin1 = text.replacen(
        r#"<?xml version="1.0" encoding="UTF-8"?>"#,
        r#"<?xml version="1.0" encoding="ISO-8859-1"?>"#,
        1,
    );
    assert_ne!(latin1, text, "the sample declares UTF-8");
    let file = dir.join("latin1.xml");
    std::fs::write(&file, latin1).expect("write");
    let file = file.to_str().expect("path");
    let o = gateway(&["translate", "--adapter", "xnachweis-to-xestb", file]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("[encoding]"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
}

/// The original request (`--request`) is checked like a message: one its
/// schema refuses, or one without the facts an answer needs, is reported
/// as a refusal naming that file — in JSON too (it was used unchecked, or
/// ended with exit 2, nothing on stdout and its reason twice).
#[test]
fn an_original_request_that_cannot_serve_is_refused_naming_it() {
    let scratch_dir = scratch("bad-request");
    let dir = scratch_dir.path();
    let text = std::fs::read_to_string(root().join(KASSEL_REQ)).expect("sample");
    let invalid = dir.join("invalid-request.xml");
    std::fs::write(
        &invalid,
        text.replacen(
            "<xn-bk:FamilyName>",
            "<xn-bk:Unbekannt/><xn-bk:FamilyName>",
            1,
        ),
    )
    .expect("write");
    let no_idnr = dir.join("no-idnr-request.xml");
    let start = text.find("<xn-bk:IDNr>").expect("IDNr");
    let end = text.find("</xn-bk:IDNr>").expect("IDNr") + "</xn-bk:IDNr>".len();
    std::fs::write(&no_idnr, format!("{}{}", &text[..start], &text[end..])).expect("write");
    for (file, kind) in [(&invalid, "xsd-invalid"), (&no_idnr, "missing-field")] {
        let path = file.to_str().expect("path");
        let o = gateway(&[
            "--format",
            "json",
            "translate",
            "--adapter",
            "xestb-to-xnachweis",
            "--request",
            path,
            KASSEL_ANS,
        ]);
        assert_eq!(o.status.code(), Some(1), "{path}: {}", stderr(&o));
        let j: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{path}: {e}: {}", stdout(&o)));
        assert_eq!(j["ok"], false, "{j}");
        assert_eq!(j["kind"], kind, "{j}");
        assert_eq!(j["file"], path, "{j}");
    }
    // text: the reason once
    let path = no_idnr.to_str().expect("path");
    let o = gateway(&[
        "translate",
        "--adapter",
        "xestb-to-xnachweis",
        "--request",
        path,
        KASSEL_ANS,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).matches("IDNr").count(), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the original request (--request) cannot supply the facts: "),
        "{}",
        stderr(&o)
    );
    // an answer given as the request: the file is named as the request
    let o = gateway(&[
        "translate",
        "--adapter",
        "xestb-to-xnachweis",
        "--request",
        KASSEL_ANS,
        KASSEL_ANS,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(
            "[unexpected-message] the original request (--request) cannot supply the facts: "
        ),
        "{}",
        stderr(&o)
    );
}
