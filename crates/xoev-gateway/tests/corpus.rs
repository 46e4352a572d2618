//! The bad-input corpus (`tests/corpus/`, see its README): every case of
//! `tests/corpus/cases.toml` must yield exactly its expected error kind —
//! through the CLI (exit code 1, the kind in `--format json`) and through the
//! service pipeline (`Pipeline::process` → `Reject` at the expected stage) —
//! and nothing may panic. Signed cases are signed here, at test time, from
//! committed unsigned templates (certificates expire).
//!
//! Also runs every file of `tests/regression/` (inputs that once crashed a
//! fuzz target) through `validate`, `verify` and the pipeline: no panic,
//! a rejection.

use base64::Engine as _;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use xoev_core::{Limits, Message};
use xoev_dsig::pki::{KeyKind, TestCa};
use xoev_dsig::{Signer, TrustStore, Verifier};
use xoev_gateway::demo::{self, DemoOptions};
use xoev_gateway::pipeline::{Decision, Pipeline};

/// Tax ids that occur in the corpus; none may appear in a rejection.
const TAX_IDS: &[&str] = &[
    "12345678901",
    "1234567890X",
    "02345678901",
    "22345678901",
    "98765432109",
    "11223344556",
];

/// `now` for the translate CLI (the corpus years are relative to it).
const NOW: &str = "2026-06-01T12:00:00Z";
/// `@REQUEST_ID@` in the CLI runs (the pipeline uses the forwarded request's id).
const CLI_REQUEST_ID: &str = "c0ffee00-0000-4000-8000-000000000011";

#[derive(Debug, Deserialize)]
struct Manifest {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    /// The class of DESIGN.md / issue #10 the case belongs to.
    class: String,
    /// Raw bytes, used as they are.
    file: Option<String>,
    /// Unsigned template, signed at test time.
    template: Option<String>,
    /// Who signs the template: author | other | untrusted | expired | revoked | none.
    #[serde(default)]
    sign: Option<String>,
    /// What is done to the signed bytes.
    #[serde(default)]
    mutate: Option<String>,
    /// Generated from the file/template: oversize | huge-attribute.
    #[serde(default)]
    generate: Option<String>,
    /// Pipeline only: request | answered (a forwarded request / and its answer first).
    #[serde(default)]
    setup: Option<String>,
    /// Expected pipeline stage.
    stage: String,
    /// Expected pipeline rejection kind.
    kind: String,
    /// CLI command: validate | verify | translate | route | none.
    cli: String,
    /// Expected kind from the CLI (default: `kind`).
    #[serde(default)]
    cli_kind: Option<String>,
    /// Adapter for `translate`.
    #[serde(default)]
    adapter: Option<String>,
    /// `translate --request` (a corpus path).
    #[serde(default)]
    request: Option<String>,
}

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn corpus() -> PathBuf {
    root().join("tests/corpus")
}

fn manifest() -> Manifest {
    let text = std::fs::read_to_string(corpus().join("cases.toml")).expect("cases.toml");
    toml::from_str(&text).expect("cases.toml parses")
}

/// Picks a signer by the message's author id.
type PickSigner = Box<dyn Fn(&str) -> Arc<Signer>>;

/// Keys for one channel (CLI: the corpus PKI; pipeline: the demo PKI).
struct Keys {
    by_author: PickSigner,
    other: PickSigner,
    untrusted: Arc<Signer>,
    expired: Arc<Signer>,
    /// Valid, but listed in its CA's CRL in the trust store.
    revoked: Arc<Signer>,
}

fn signer(ca: &TestCa, cn: &str, from: i64, until: i64) -> Arc<Signer> {
    signer_of(&ca.issue(cn, KeyKind::EcP256, from, until).expect("issue"))
}

fn signer_of(i: &xoev_dsig::pki::Issued) -> Arc<Signer> {
    Arc::new(
        Signer::from_pem(&i.key_pem().expect("key"), &i.cert_pem().expect("cert")).expect("signer"),
    )
}

/// A valid certificate for `cn` from `ca`, and `ca`'s CRL revoking it (PEM).
fn revoked(ca: &TestCa, cn: &str) -> (Arc<Signer>, Vec<u8>) {
    let i = ca.issue(cn, KeyKind::EcP256, -1, 30).expect("issue");
    let crl = ca.crl(&[&i.cert], 1, -1, 7).expect("crl");
    (signer_of(&i), crl.to_pem().expect("pem"))
}

fn author_of(bytes: &[u8]) -> String {
    Message::parse(bytes.to_vec(), &Limits::default())
        .ok()
        .and_then(|m| m.header)
        .and_then(|h| h.author)
        .map(|a| a.key())
        .unwrap_or_default()
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(corpus().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Byte-level replace (cases may be deliberately invalid UTF-8).
fn replace(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    let from = from.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(from) {
            out.extend_from_slice(to.as_bytes());
            i += from.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> (usize, usize, &'a str) {
    let a = s.find(open).unwrap_or_else(|| panic!("no {open}"));
    let b = s[a..].find(close).unwrap_or_else(|| panic!("no {close}")) + a + close.len();
    (a, b, &s[a..b])
}

/// The root element's start position and end (after its end tag).
fn root_span(s: &str) -> (usize, usize) {
    let mut i = 0;
    loop {
        let at = s[i..].find('<').expect("root") + i;
        if s[at..].starts_with("<?") || s[at..].starts_with("<!") {
            i = at + 2;
            continue;
        }
        let name_end = s[at + 1..]
            .find(|c: char| c.is_whitespace() || c == '>')
            .expect("root name")
            + at
            + 1;
        let close = format!("</{}>", &s[at + 1..name_end]);
        let end = s.rfind(&close).expect("root end") + close.len();
        return (at, end);
    }
}

fn insert_before_root_end(s: &str, insert: &str) -> String {
    let (_, end) = root_span(s);
    let close_at = s[..end].rfind("</").expect("end tag");
    format!("{}{insert}{}", &s[..close_at], &s[close_at..])
}

/// Applies a named mutation to signed bytes (`template`: the unsigned input).
fn mutate(op: &str, template: &[u8], signed: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(signed).into_owned();
    match op {
        "tamper-content" => {
            assert!(
                s.contains(">Erika<"),
                "tamper-content needs a GivenName Erika"
            );
            s.replacen(">Erika<", ">Mallory<", 1).into_bytes()
        }
        "tamper-signature-value" => {
            let (a, b, sv) = between(&s, "<ds:SignatureValue>", "</ds:SignatureValue>");
            let inner = &sv["<ds:SignatureValue>".len()..sv.len() - "</ds:SignatureValue>".len()];
            let clean: String = inner.chars().filter(|c| !c.is_whitespace()).collect();
            let mut raw = base64::engine::general_purpose::STANDARD
                .decode(clean)
                .expect("base64 signature value");
            let mid = raw.len() / 2;
            raw[mid] ^= 0x01;
            let enc = base64::engine::general_purpose::STANDARD.encode(raw);
            format!(
                "{}<ds:SignatureValue>{enc}</ds:SignatureValue>{}",
                &s[..a],
                &s[b..]
            )
            .into_bytes()
        }
        "duplicate-signature" => {
            let (_, _, sig) = between(&s, "<ds:Signature", "</ds:Signature>");
            insert_before_root_end(&s, sig).into_bytes()
        }
        "xslt-transform" => s
            .replacen(
                "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
                "http://www.w3.org/TR/1999/REC-xslt-19991116",
                1,
            )
            .into_bytes(),
        "sha1-signature-method" => s
            .replacen(
                "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
                "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1",
                1,
            )
            .into_bytes(),
        "wrap-extension" => {
            // A forged message whose extension point carries the original,
            // signed message (XML Signature wrapping).
            let (open, end) = root_span(&s);
            let original = &s[open..end];
            let forged = String::from_utf8_lossy(template).replacen(">Erika<", ">Mallory<", 1);
            insert_before_root_end(
                &forged,
                &format!(
                    "<xn-bk:erweiterung xmlns:xn-bk=\"urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-baukasten\">{original}</xn-bk:erweiterung>"
                ),
            )
            .into_bytes()
        }
        "wrap-id-reference" => {
            // The signature lifted into a forged message, pointing by id at
            // the original, now hidden under the extension point.
            let (open, end) = root_span(&s);
            let (a, b, sig) = between(&s, "<ds:Signature", "</ds:Signature>");
            let sig = sig.replacen(
                "URI=\"\"",
                "URI=\"#urn:uuid:7a1c2b7e-8a44-4d0e-9b7a-0c5e2d9f1011\"",
                1,
            );
            let original_unsigned = format!("{}{}", &s[open..a], &s[b..end]);
            let forged = String::from_utf8_lossy(template)
                .replacen(">Erika<", ">Mallory<", 1)
                .replacen(
                    "id=\"urn:uuid:7a1c2b7e-8a44-4d0e-9b7a-0c5e2d9f1011\"",
                    "id=\"urn:uuid:evil\"",
                    1,
                );
            insert_before_root_end(
                &forged,
                &format!(
                    "<xn-bk:erweiterung xmlns:xn-bk=\"urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-baukasten\">{original_unsigned}</xn-bk:erweiterung>{sig}"
                ),
            )
            .into_bytes()
        }
        other => panic!("unknown mutation {other}"),
    }
}

/// Generated inputs (too large to commit).
fn generate(op: &str, base: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(base).into_owned();
    match op {
        // One byte over the default limit (10 MiB), padded with a comment.
        "oversize" => {
            let limit = Limits::default().max_bytes;
            let pad = limit + 1 - s.len() - "<!---->\n".len();
            let (_, end) = root_span(&s);
            format!("{}\n<!--{}-->{}", &s[..end], "x".repeat(pad), &s[end..]).into_bytes()
        }
        // An 8 MiB attribute on the root element (under the size limit).
        "huge-attribute" => {
            let (open, _) = root_span(&s);
            let name_end = s[open..].find(char::is_whitespace).expect("root attrs") + open;
            format!(
                "{} data=\"{}\"{}",
                &s[..name_end],
                "A".repeat(8 * 1024 * 1024),
                &s[name_end..]
            )
            .into_bytes()
        }
        other => panic!("unknown generator {other}"),
    }
}

/// The bytes of a case for one channel.
fn input(case: &Case, keys: &Keys, request_id: &str, signed: bool) -> Vec<u8> {
    let (rel, is_template) = match (&case.file, &case.template) {
        (Some(f), None) => (f, false),
        (None, Some(t)) => (t, true),
        _ => panic!("{}: exactly one of file, template", case.name),
    };
    let mut bytes = read(rel);
    bytes = replace(&bytes, "@REQUEST_ID@", request_id);
    bytes = replace(&bytes, "@MESSAGE_ID@", &uuid::Uuid::new_v4().to_string());
    if let Some(g) = &case.generate {
        bytes = generate(g, &bytes);
    }
    let template = bytes.clone();
    let sign = if signed {
        case.sign.as_deref().unwrap_or("none")
    } else {
        "none"
    };
    if !is_template {
        assert_eq!(sign, "none", "{}: raw files are not signed", case.name);
    }
    let author = author_of(&bytes);
    let signer = match sign {
        "none" => None,
        "author" => Some((keys.by_author)(&author)),
        "other" => Some((keys.other)(&author)),
        "untrusted" => Some(keys.untrusted.clone()),
        "expired" => Some(keys.expired.clone()),
        "revoked" => Some(keys.revoked.clone()),
        other => panic!("{}: unknown signer {other}", case.name),
    };
    if let Some(s) = signer {
        bytes = s
            .sign_bytes(&bytes)
            .unwrap_or_else(|e| panic!("{}: signing: {e}", case.name));
    }
    if let Some(op) = case.mutate.as_ref().filter(|_| signed) {
        bytes = mutate(op, &template, &bytes);
    }
    bytes
}

fn leaks(text: &str) -> Option<&'static str> {
    TAX_IDS.iter().copied().find(|t| text.contains(t))
}

#[test]
fn manifest_lists_every_file_and_every_class() {
    let m = manifest();
    let mut names = BTreeSet::new();
    let mut used = BTreeSet::new();
    for c in &m.case {
        assert!(
            names.insert(c.name.clone()),
            "duplicate case name {}",
            c.name
        );
        used.extend(c.file.iter().chain(c.template.iter()).cloned());
        assert!(
            ["validate", "verify", "translate", "route", "none"].contains(&c.cli.as_str()),
            "{}: cli",
            c.name
        );
    }
    for dir in ["cases", "templates"] {
        for e in std::fs::read_dir(corpus().join(dir)).expect(dir) {
            let name = format!("{dir}/{}", e.expect("entry").file_name().to_string_lossy());
            assert!(used.contains(&name), "{name} is not in cases.toml");
        }
    }
    // Every class of DESIGN.md "Bad input and faults" and issue #10, and the
    // parser limits added since.
    let classes: BTreeSet<&str> = m.case.iter().map(|c| c.class.as_str()).collect();
    for class in [
        "malformed XML",
        "wrong encoding declaration",
        "DOCTYPE/XXE (file)",
        "DOCTYPE/XXE (network)",
        "entity expansion bomb",
        "deep nesting",
        "text split into many pieces",
        "oversize",
        "huge attribute",
        "unknown standard",
        "unknown version",
        "XSD violation",
        "missing signature",
        "invalid signature",
        "duplicated signature",
        "signature wrapping",
        "untrusted certificate",
        "expired certificate",
        "revoked certificate",
        "wrong author for the certificate",
        "unknown sender",
        "unknown reader",
        "no route",
        "adapter failure",
        "missing consent",
        "duplicate message id",
        "answer matching no request",
        "answer for a different tax id",
    ] {
        assert!(classes.contains(class), "no case of class {class:?}");
    }
}

/// The corpus PKI for the CLI: a CA in a trust directory, author/other/expired
/// keys from it, and a foreign CA's key.
struct CliPki {
    _dir: tempfile::TempDir,
    trust: PathBuf,
    keys: Keys,
    author_subject: String,
}

fn cli_pki() -> CliPki {
    xoev_dsig::init().expect("init");
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = TestCa::generate("XOEV Corpus CA").expect("ca");
    let foreign = TestCa::generate("XOEV Foreign CA").expect("ca");
    let trust = dir.path().join("trust");
    std::fs::create_dir_all(&trust).expect("mkdir");
    std::fs::write(trust.join("ca.pem"), ca.issued.cert_pem().expect("pem")).expect("write");
    let author = signer(&ca, "Corpus Author", -1, 30);
    let other = signer(&ca, "Corpus Other", -1, 30);
    let author_subject = author.subject().to_owned();
    let (revoked, crl) = revoked(&ca, "Corpus Author");
    std::fs::write(trust.join("ca.crl"), crl).expect("write");
    let keys = Keys {
        by_author: Box::new(move |_| author.clone()),
        other: Box::new(move |_| other.clone()),
        untrusted: signer(&foreign, "Corpus Author", -1, 30),
        expired: signer(&ca, "Corpus Author", -30, -1),
        revoked,
    };
    CliPki {
        _dir: dir,
        trust,
        keys,
        author_subject,
    }
}

fn gateway(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xoev-gateway"))
        .args(args)
        .current_dir(root())
        .env_remove("XOEV_SCHEMAS")
        .env_remove("XOEV_CONFIG_ROOT")
        .output()
        .expect("run xoev-gateway")
}

/// The `kind` of a `--format json` output (an array of per-file reports or one object).
fn json_kind(stdout: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(stdout).ok()?;
    let obj = match &v {
        serde_json::Value::Array(a) => a.first()?,
        other => other,
    };
    obj.get("kind")?.as_str().map(str::to_owned)
}

#[test]
fn every_case_through_the_cli() {
    let pki = cli_pki();
    let work = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in manifest().case {
        if case.cli == "none" {
            continue;
        }
        ran += 1;
        let bytes = input(&case, &pki.keys, CLI_REQUEST_ID, case.cli == "verify");
        // (`route` reads the header only; unsigned is fine.)
        let file = work.path().join(format!("{}.xml", case.name));
        std::fs::write(&file, &bytes).expect("write case");
        let f = file.display().to_string();
        let trust = pki.trust.display().to_string();
        let request;
        let mut args: Vec<&str> = Vec::new();
        match case.cli.as_str() {
            "validate" => args.extend(["validate", "--format", "json", &f]),
            "route" => args.extend(["route", "--format", "json", &f]),
            "verify" => args.extend([
                "verify",
                "--trust",
                &trust,
                "--expect-subject",
                &pki.author_subject,
                "--format",
                "json",
                &f,
            ]),
            "translate" => {
                let adapter = case.adapter.as_deref().expect("translate needs adapter");
                args.extend([
                    "translate",
                    "--adapter",
                    adapter,
                    "--now",
                    NOW,
                    "--format",
                    "json",
                ]);
                if let Some(r) = &case.request {
                    request = corpus().join(r).display().to_string();
                    args.extend(["--request", &request]);
                }
                args.push(&f);
            }
            other => panic!("{}: cli {other}", case.name),
        }
        let out = gateway(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let expected = case.cli_kind.as_deref().unwrap_or(&case.kind);
        let kind = json_kind(&out.stdout);
        if stderr.contains("panicked") {
            failures.push(format!("{}: PANIC: {stderr}", case.name));
        } else if out.status.code() != Some(1) || kind.as_deref() != Some(expected) {
            failures.push(format!(
                "{}: `{}` exit {:?} kind {:?}, expected exit 1 kind {expected:?}; stdout {} stderr {}",
                case.name,
                case.cli,
                out.status.code(),
                kind,
                String::from_utf8_lossy(&out.stdout).chars().take(600).collect::<String>(),
                stderr.chars().take(300).collect::<String>()
            ));
        } else if let Some(t) = leaks(&String::from_utf8_lossy(&out.stdout)) {
            // The CLI's output goes to the operator; only the translate
            // output of an accepted message may carry tax ids.
            failures.push(format!(
                "{}: CLI rejection quotes the tax id {t}",
                case.name
            ));
        }
    }
    assert!(ran > 30, "only {ran} CLI cases");
    assert!(
        failures.is_empty(),
        "{} of {ran} CLI cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

struct Service {
    rt: tokio::runtime::Runtime,
    _work: tempfile::TempDir,
    pipeline: Arc<Pipeline>,
    keys: Keys,
    request: Arc<Signer>,
    answer: Arc<Signer>,
}

/// One access rule more than the shipped ones: a tax office may send XWasser
/// 2010 to a fee office. No routing rule covers it, so the `no-route` case
/// gets past access to routing (with the shipped rules, every allowed
/// combination has a route and access refuses everything else first).
const EXTRA_ALLOW: &str = r#"
[[allow]]
description = "corpus test only: lets the no-route case reach routing"
sender = ["fa:2613"]
reader = ["ags:06611000"]
message_type = "2010"
"#;

/// A repository root for the service: the real schemas, adapters, config
/// and samples; routing copied with [`EXTRA_ALLOW`] appended to access.toml.
fn corpus_root(work: &Path) -> PathBuf {
    let r = work.join("root");
    let routing = r.join("routing");
    std::fs::create_dir_all(&routing).expect("mkdir");
    for dir in ["schemas", "adapters", "config", "tests"] {
        std::os::unix::fs::symlink(root().join(dir), r.join(dir)).expect("symlink");
    }
    for e in std::fs::read_dir(root().join("routing")).expect("routing") {
        let path = e.expect("entry").path();
        if path.extension().is_some_and(|x| x == "toml") {
            let name = path.file_name().expect("name");
            let mut text = std::fs::read_to_string(&path).expect("read");
            if name == "access.toml" {
                text.push_str(EXTRA_ALLOW);
            }
            std::fs::write(routing.join(name), text).expect("write");
        }
    }
    r
}

fn service() -> Service {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let work = tempfile::tempdir().expect("tempdir");
    let mut d = rt
        .block_on(demo::setup(DemoOptions::new(
            corpus_root(work.path()),
            work.path(),
        )))
        .expect("demo setup");
    // Trust a second CA too, which issues the expired certificate and
    // revokes another in its CRL.
    let extra = TestCa::generate("XOEV Corpus CA").expect("ca");
    let mut pem = d.ca_pem.clone();
    pem.extend(extra.issued.cert_pem().expect("pem"));
    let (revoked, crl) = revoked(&extra, "Stadt Kassel, Kita-Gebührenstelle");
    let mut trust = TrustStore::from_pem(&pem).expect("trust");
    trust.add_crl(&crl).expect("crl");
    let pipeline = Arc::get_mut(&mut d.pipeline).expect("the demo pipeline is not shared yet");
    pipeline.verifier = Verifier::new(trust);
    let foreign = TestCa::generate("XOEV Foreign CA").expect("ca");
    let signers = d.signers.clone();
    let fallback = d.signer(demo::FEE_OFFICE).expect("fee office key");
    let by_author = {
        let signers = signers.clone();
        move |id: &str| signers.get(id).cloned().unwrap_or_else(|| fallback.clone())
    };
    let other = move |id: &str| {
        let pick = if id == "ags:06412000" {
            demo::TAX_OFFICE
        } else {
            "ags:06412000"
        };
        signers.get(pick).cloned().expect("other authority key")
    };
    Service {
        request: d.signer(demo::FEE_OFFICE).expect("fee office"),
        answer: d.signer(demo::TAX_OFFICE).expect("tax office"),
        keys: Keys {
            by_author: Box::new(by_author),
            other: Box::new(other),
            untrusted: signer(&foreign, "Stadt Kassel, Kita-Gebührenstelle", -1, 30),
            expired: signer(&extra, "Stadt Kassel, Kita-Gebührenstelle", -30, -1),
            revoked,
        },
        pipeline: d.pipeline,
        rt,
        _work: work,
    }
}

impl Service {
    fn process(&self, bytes: &[u8]) -> Decision {
        self.pipeline.process(bytes, None, self.rt.handle())
    }

    /// Forwards the corpus request (signed by the fee office); the id of the
    /// XEStB request it became.
    fn forward_request(&self) -> String {
        // A fresh message id: the forwarded request's id is derived from it
        // (the same request twice is the same forwarded request).
        let fresh = replace(
            &read("templates/request.xml"),
            "7a1c2b7e-8a44-4d0e-9b7a-0c5e2d9f2011",
            &uuid::Uuid::new_v4().to_string(),
        );
        let signed = self.request.sign_bytes(&fresh).expect("sign");
        match self.process(&signed) {
            Decision::Forward(f) => f.message_id,
            other => panic!("the corpus request is not forwarded: {other:?}"),
        }
    }

    /// Forwards an answer to `request_id`.
    fn forward_answer(&self, request_id: &str) {
        let t = replace(&read("templates/answer.xml"), "@REQUEST_ID@", request_id);
        let t = replace(&t, "@MESSAGE_ID@", &uuid::Uuid::new_v4().to_string());
        let signed = self.answer.sign_bytes(&t).expect("sign");
        match self.process(&signed) {
            Decision::Forward(_) => {}
            other => panic!("the corpus answer is not forwarded: {other:?}"),
        }
    }
}

#[test]
fn every_case_through_the_pipeline() {
    let svc = service();
    let mut failures = Vec::new();
    let cases = manifest().case;
    for case in &cases {
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let request_id = match case.setup.as_deref() {
                None => CLI_REQUEST_ID.to_owned(),
                Some("request") => svc.forward_request(),
                Some("answered") => {
                    let id = svc.forward_request();
                    svc.forward_answer(&id);
                    id
                }
                Some(other) => panic!("unknown setup {other}"),
            };
            let bytes = input(case, &svc.keys, &request_id, true);
            svc.process(&bytes)
        }));
        let decision = match result {
            Ok(d) => d,
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                failures.push(format!("{}: PANIC {msg}", case.name));
                continue;
            }
        };
        match decision {
            Decision::Reject(r) => {
                if r.stage.as_str() != case.stage || r.kind != case.kind {
                    failures.push(format!(
                        "{}: rejected at {}/{} ({}), expected {}/{}",
                        case.name,
                        r.stage.as_str(),
                        r.kind,
                        r.detail.chars().take(300).collect::<String>(),
                        case.stage,
                        case.kind
                    ));
                    continue;
                }
                let texts = std::iter::once(r.detail.clone())
                    .chain(r.issues.iter().map(|i| i.message.clone()));
                for t in texts {
                    if let Some(id) = leaks(&t) {
                        failures.push(format!(
                            "{}: the rejection quotes the tax id {id}: {t}",
                            case.name
                        ));
                    }
                }
                if let Some((_, bytes, _)) = &r.answer
                    && let Some(id) = leaks(&String::from_utf8_lossy(bytes))
                {
                    failures.push(format!(
                        "{}: the rejection message quotes the tax id {id}",
                        case.name
                    ));
                }
            }
            Decision::Forward(f) => failures.push(format!(
                "{}: forwarded to {}, expected {}/{}",
                case.name, f.queue, case.stage, case.kind
            )),
            Decision::Retry {
                stage,
                kind,
                detail,
            } => failures.push(format!(
                "{}: retry {}/{kind} ({detail}), expected {}/{}",
                case.name,
                stage.as_str(),
                case.stage,
                case.kind
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} pipeline cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Inputs that once crashed or hung a fuzz target (`tests/regression/`):
/// no panic, a rejection, through the CLI and the pipeline.
#[test]
fn fuzz_regressions_are_rejected_without_panic() {
    let dir = root().join("tests/regression");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return; // no regression inputs yet
    };
    let svc = service();
    let pki = cli_pki();
    let trust = pki.trust.display().to_string();
    for e in entries {
        let path = e.expect("entry").path();
        if path.extension().is_some_and(|x| x == "md") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read");
        let p = path.display().to_string();
        for args in [
            vec!["validate", "--format", "json", &p],
            vec!["verify", "--trust", &trust, "--format", "json", &p],
        ] {
            let out = gateway(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.contains("panicked"), "{p}: {args:?}: {stderr}");
            assert_eq!(out.status.code(), Some(1), "{p}: {args:?}");
        }
        let d = std::panic::catch_unwind(AssertUnwindSafe(|| svc.process(&bytes)));
        assert!(matches!(d, Ok(Decision::Reject(_))), "{p}: {d:?}");
    }
}

#[test]
fn corpus_paths_are_relative_and_exist() {
    for c in manifest().case {
        for rel in c
            .file
            .iter()
            .chain(c.template.iter())
            .chain(c.request.iter())
        {
            assert!(!Path::new(rel).is_absolute(), "{}: {rel}", c.name);
            assert!(corpus().join(rel).is_file(), "{}: {rel} missing", c.name);
        }
    }
}
