//! `route` (dry run) and `routing check` as a user runs them, on the
//! shipped routing/ sample and on broken copies of it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn gateway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xoev-gateway"))
        .args(args)
        .current_dir(root())
        .env_remove("XOEV_ROUTING")
        .env_remove("XOEV_CONFIG_ROOT")
        .output()
        .expect("run xoev-gateway")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).expect("JSON on stdout")
}

const MUSTERSTADT: &str =
    "tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-einkommen.xml";
const XESTB_KASSEL: &str =
    "tests/samples/xestb/xestb.bescheiddatenAntwort.0102.kassel-zusammenveranlagung.xml";

/// A fresh directory, removed when dropped.
struct Scratch(tempfile::TempDir);

impl std::ops::Deref for Scratch {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        self.0.path()
    }
}

impl AsRef<std::path::Path> for Scratch {
    fn as_ref(&self) -> &std::path::Path {
        self.0.path()
    }
}

impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.path().as_os_str()
    }
}

fn temp_dir(name: &str) -> Scratch {
    Scratch(
        tempfile::Builder::new()
            .prefix(&format!("xoev-cli-route-{name}-"))
            .tempdir()
            .expect("tmp"),
    )
}

/// A copy of routing/ with `edit` applied to rules.toml.
fn broken_routing(name: &str, edit: impl Fn(String) -> String) -> Scratch {
    let dir = temp_dir(name);
    for f in ["authorities.toml", "access.toml", "rules.toml"] {
        let text = std::fs::read_to_string(root().join("routing").join(f)).expect("read");
        let text = if f == "rules.toml" { edit(text) } else { text };
        std::fs::write(dir.join(f), text).expect("write");
    }
    dir
}

#[test]
fn route_by_named_reader() {
    let o = gateway(&["route", MUSTERSTADT]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains("rule:       evidence-request-to-named-tax-office (rules.toml:"),
        "{out}"
    );
    assert!(
        out.contains("recipient:  fa:9198 Finanzamt Musterstadt"),
        "{out}"
    );
    assert!(out.contains("adapters:   xnachweis-to-xestb"), "{out}");
    assert!(out.contains("queue:      xoev.inbox.fa-9198"), "{out}");
}

#[test]
fn route_answer_through_adapter_as_json() {
    let o = gateway(&["--format", "json", "route", XESTB_KASSEL]);
    assert_eq!(o.status.code(), Some(0));
    let j = json(&o);
    assert_eq!(j["ok"], true);
    assert_eq!(j["decision"]["rule"], "assessment-answer-to-fee-office");
    assert_eq!(j["decision"]["recipient"], "ags:06611000");
    assert_eq!(j["decision"]["adapters"][0], "xestb-to-xnachweis");
    assert_eq!(j["decision"]["queue"], "xoev.inbox.ags-06611000");
    assert!(j["decision"]["rule_location"]["line"].as_u64().unwrap_or(0) > 1);
}

#[test]
fn route_by_municipality_when_no_reader() {
    // The service placeholder as reader: routed to the authority
    // responsible in the case's municipality.
    let text = std::fs::read_to_string(root().join(MUSTERSTADT)).expect("read");
    let placeholder = text.replace(
        "<bn-beh:kennung>fa:9198</bn-beh:kennung>",
        "<bn-beh:kennung>service:einkommensteuer</bn-beh:kennung>",
    );
    assert_ne!(placeholder, text);
    let dir = temp_dir("noreader");
    let file = dir.join("placeholder.xml");
    std::fs::write(&file, placeholder).expect("write");
    let file = file.to_str().expect("utf-8 path");

    let o = gateway(&["route", "--municipality", "06411000", file]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains(": routed\n"), "{out}");
    assert!(
        out.contains("evidence-request-to-responsible-tax-office"),
        "{out}"
    );
    assert!(
        out.contains("fa:2607 Finanzamt Darmstadt (responsible for einkommensteuer in 06411000)"),
        "{out}"
    );
    assert!(!out.contains("note:"), "{out}");

    let o = gateway(&["--format", "json", "route", file]);
    assert_eq!(o.status.code(), Some(1));
    let j = json(&o);
    assert_eq!(j["kind"], "not-responsible");
    assert_eq!(j["route_error"]["kind"], "not-responsible");
    assert_eq!(j["notes"], serde_json::json!([]));

    // Without any reader: the XNachweis schema requires a leser, so the
    // service refuses it at the schema stage. The dry run still tries the
    // rules (an edited message), says so, and is not ok.
    let start = text.find("<bn-g2g:leser>").expect("leser");
    let end = text.find("</bn-g2g:leser>").expect("leser end") + "</bn-g2g:leser>".len();
    let mut no_reader = text.clone();
    no_reader.replace_range(start..end, "");
    let file = dir.join("request.xml");
    std::fs::write(&file, no_reader).expect("write");
    let file = file.to_str().expect("utf-8 path");

    let o = gateway(&["route", "--municipality", "06411000", file]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains("note: the service would reject it at the schema stage: [xsd-invalid] 20:5: "),
        "{out}"
    );
    assert!(
        out.contains("routed by the rules, but the service refuses it at the schema stage"),
        "{out}"
    );
    assert!(
        out.contains("fa:2607 Finanzamt Darmstadt (responsible for einkommensteuer in 06411000)"),
        "{out}"
    );

    let o = gateway(&[
        "--format",
        "json",
        "route",
        "--municipality",
        "06411000",
        file,
    ]);
    assert_eq!(o.status.code(), Some(1));
    let j = json(&o);
    assert_eq!(j["ok"], false);
    assert_eq!(j["kind"], "xsd-invalid");
    assert_eq!(j["errors"][0]["line"], 20);
    assert_eq!(j["decision"]["recipient"], "fa:2607");
    let notes = j["notes"].as_array().expect("notes");
    assert_eq!(notes.len(), 1, "{j}");
    assert!(
        notes[0].as_str().is_some_and(|n| n
            .starts_with("the service would reject it at the schema stage: [xsd-invalid] 20:5: ")),
        "{j}"
    );

    // ... and without a municipality: the schema stage's reason first,
    // what the rules say beside it — in text saying which is the verdict
    let o = gateway(&["route", file]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("[not-responsible]")
            && out.contains(
                "(what the rules say; the service refuses it at the schema stage first, note above)"
            ),
        "{out}"
    );
    let o = gateway(&["--format", "json", "route", file]);
    assert_eq!(o.status.code(), Some(1));
    let j = json(&o);
    assert_eq!(j["kind"], "xsd-invalid");
    assert_eq!(j["route_error"]["kind"], "not-responsible");
    assert!(j.get("decision").is_none(), "{j}");
}

#[test]
fn route_explains_a_miss() {
    // rules written for another message type than the message's
    let dir = broken_routing("miss", |rules| {
        rules.replace(
            "message_type = \"DE.EvidenceRequest.0101\"",
            "message_type = \"DE.EvidenceRequest.0109\"",
        )
    });
    let routing = dir.to_str().expect("utf-8 path");
    let o = gateway(&["route", "--routing", routing, MUSTERSTADT]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("[no-route] no rule matches"), "{out}");
    assert!(out.contains("closest rules:"), "{out}");
    assert!(
        out.contains(
            "message type is \"DE.EvidenceRequest.0101\", the rule wants \"DE.EvidenceRequest.0109\""
        ),
        "{out}"
    );

    let o = gateway(&[
        "--format",
        "json",
        "route",
        "--routing",
        routing,
        MUSTERSTADT,
    ]);
    let j = json(&o);
    assert_eq!(j["ok"], false);
    assert_eq!(j["kind"], "no-route");
    assert_eq!(j["route_error"]["kind"], "no-route");
    assert_eq!(
        j["route_error"]["near_misses"][0]["rule"],
        "evidence-request-to-named-tax-office"
    );
    assert_eq!(j["message"]["version"], "1.2.0");
    std::fs::remove_dir_all(&dir).ok();

    // rules written for a release the catalogue does not have: no miss to
    // explain, a configuration error (the rule could never match)
    let dir = broken_routing("miss-version", |rules| {
        rules.replace("version = \"1.2.0\"", "version = \"1.3.0\"")
    });
    let o = gateway(&[
        "route",
        "--routing",
        dir.to_str().expect("utf-8 path"),
        MUSTERSTADT,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("the schema catalogue has no version \"1.3.0\" of XNachweis"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn route_rejects_unknown_sender_and_non_xoev_input() {
    let o = gateway(&[
        "route",
        "tests/samples/xbeteiligung/example402FromCockpit.xml",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("[unknown-sender]"));
    let junk = temp_dir("junk");
    let file = junk.join("junk.xml");
    std::fs::write(&file, "<a>no header</a>").expect("write");
    let o = gateway(&["route", file.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(1));
    let o = gateway(&["route", "does/not/exist.xml"]);
    assert_eq!(o.status.code(), Some(2));
}

/// A state archive's xdomea message names the authorities only by their
/// institution's name: `route` and `inspect` say so instead of "no sender".
#[test]
fn route_and_inspect_name_an_authority_given_without_an_identifier() {
    let text = std::fs::read_to_string(
        root().join("tests/samples/xdomea/pattern-3.0.0_xx_Aussonderung.Aussonderung.0503.xml"),
    )
    .expect("read");
    let mut named_only = text.clone();
    while let Some(start) = named_only.find("<xdomea:Behoerdenkennung>") {
        let close = "</xdomea:Behoerdenkennung>";
        let end = start + named_only[start..].find(close).expect("close") + close.len();
        named_only.replace_range(start..end, "");
    }
    let named = temp_dir("named-only");
    let file = named.join("named-only.xml");
    std::fs::write(&file, named_only).expect("write");
    let file = file.to_str().expect("utf-8 path");

    let o = gateway(&["route", file]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains(
            "[unknown-sender] the header names its author only by name (\"AbsXdomeaInstitutionName\"), \
             without an identifier: routing needs Absender with a Behoerdenkennung"
        ),
        "{}",
        stdout(&o)
    );
    let o = gateway(&["route", "--format", "json", file]);
    assert_eq!(json(&o)["kind"], "unknown-sender");

    let o = gateway(&["inspect", file]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o).contains(
            "author:        - AbsXdomeaInstitutionName (named without an identifier: not routable)"
        ),
        "{}",
        stdout(&o)
    );
    let o = gateway(&["inspect", "--format", "json", file]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["header"]["author"], serde_json::Value::Null);
    assert_eq!(v["header"]["author_name_only"], "AbsXdomeaInstitutionName");
}

/// An xdomea 4 handover with a further reader: `route` names the copy and
/// its inbox, and the one named without an identifier in a note; a further
/// reader the access rules do not allow refuses it, naming that reader.
#[test]
fn route_names_the_copy_for_a_further_reader() {
    let dir = routing_with("xdomea-archive");
    let routing = dir.to_str().expect("utf-8 path");
    let handover = "tests/samples/xdomea/synthetic-4.0.0_Abgabe.Abgabe.0401.xml";
    let o = gateway(&["route", "--routing", routing, handover]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("queue:      xoev.inbox.ags-06412000"), "{out}");
    assert!(
        out.contains("copy:       archiv:06411000 → xoev.inbox.archiv-06411000 (further reader)"),
        "{out}"
    );
    assert!(
        out.contains("note: 1 further reader(s) named without an identifier get no copy"),
        "{out}"
    );
    let o = gateway(&["--format", "json", "route", "--routing", routing, handover]);
    let j = json(&o);
    assert_eq!(j["copies"][0]["reader"], "archiv:06411000");
    assert_eq!(j["copies"][0]["queue"], "xoev.inbox.archiv-06411000");

    let text = std::fs::read_to_string(root().join(handover)).expect("read");
    let to_tax_office = dir.join("handover-to-tax-office.xml");
    std::fs::write(
        &to_tax_office,
        text.replacen("archiv:06411000", "fa:9198", 1),
    )
    .expect("write");
    let o = gateway(&[
        "route",
        "--routing",
        routing,
        to_tax_office.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains("[access-denied] further reader: ags:06411000 may not send message type \"0401\" to fa:9198"),
        "{out}"
    );
}

/// Another standard is routed once the directory and a rule name it: the
/// fee office offers closed files to the city archive in xdomea 4.0.0
/// (an archival transfer, forwarded unchanged to the reader the header
/// names). The rule names the version, so xdomea 3.0.0 is not routed by it.
#[test]
fn route_an_xdomea_4_archival_offer_to_the_archive_a_rule_names() {
    let dir = routing_with("xdomea-archive");
    let routing = dir.to_str().expect("utf-8 path");
    let o = gateway(&["routing", "check", "--routing", routing]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));

    let offer = "tests/samples/xdomea/synthetic-4.0.0_Aussonderung.Anbieteverzeichnis.0501.xml";
    let o = gateway(&["route", "--routing", routing, offer]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains("rule:       archival-offer-to-archive (rules.toml:"),
        "{out}"
    );
    assert!(
        out.contains("recipient:  archiv:06411000 Stadtarchiv Darmstadt"),
        "{out}"
    );
    assert!(
        out.contains("queue:      xoev.inbox.archiv-06411000"),
        "{out}"
    );

    // The archive's receipt in xdomea 2.4.0, whose root names neither
    // standard nor version: the catalogue does, as in the service.
    let receipt =
        "tests/samples/xdomea/synthetic-2.4.0_Aussonderung.AnbietungEmpfangBestaetigen.0504.xml";
    let o = gateway(&["route", "--routing", routing, receipt]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains("rule:       archive-answers-to-authority (rules.toml:"),
        "{out}"
    );
    assert!(out.contains("queue:      xoev.inbox.ags-06411000"), "{out}");

    // The same offer in xdomea 3.0.0: no rule names that version.
    let text = std::fs::read_to_string(root().join(offer)).expect("read");
    let three = dir.join("offer-3.0.0.xml");
    std::fs::write(
        &three,
        text.replace(
            "urn:xoev-de:xdomea:schema:4.0.0",
            "urn:xoev-de:xdomea:schema:3.0.0",
        )
        .replace(r#"version="4.0.0""#, r#"version="3.0.0""#),
    )
    .expect("write");
    let o = gateway(&[
        "route",
        "--routing",
        routing,
        three.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains("version is \"3.0.0\", the rule wants \"4.0.0\""),
        "{out}"
    );
}

/// `routing/` with the files of `tests/routing/<addition>/` appended.
fn routing_with(addition: &str) -> Scratch {
    let dir = temp_dir(addition);
    for f in ["authorities.toml", "access.toml", "rules.toml"] {
        let mut text = std::fs::read_to_string(root().join("routing").join(f)).expect("read");
        let more = root().join("tests/routing").join(addition).join(f);
        text.push_str(&std::fs::read_to_string(more).expect("read"));
        std::fs::write(dir.join(f), text).expect("write");
    }
    dir
}

/// EU OOTS messages carry no XÖV header: their slots name requester and
/// provider, and the dry run routes the public samples by them.
#[test]
fn route_eu_oots_evidence_messages_by_their_agents() {
    let dir = routing_with("oots-edm");
    let routing = dir.to_str().expect("utf-8 path");
    let o = gateway(&["routing", "check", "--routing", routing]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));

    let request = "tests/samples/oots-edm/2.1_Step_1_Evidence_Request_-_Birth_-_full_example.xml";
    let o = gateway(&["route", "--routing", routing, request]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains("rule:       oots-evidence-request-to-provider (rules.toml:"),
        "{out}"
    );
    assert!(
        out.contains("recipient:  9930:DE73524311 Standesamt Berlin I"),
        "{out}"
    );
    assert!(
        out.contains("queue:      xoev.inbox.eas-9930-DE73524311"),
        "{out}"
    );

    let response = "tests/samples/oots-edm/2.2_Step_2_Evidence_Response_-_Birth_-_full_example.xml";
    let o = gateway(&["route", "--routing", routing, response]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains("rule:       oots-answer-to-requester"),
        "{out}"
    );
    assert!(
        out.contains("queue:      xoev.inbox.oots-0096-DK22233223"),
        "{out}"
    );

    // The French reference answers name agents the directory does not know.
    let o = gateway(&[
        "route",
        "--routing",
        routing,
        "tests/samples/oots-edm/reference_messages_erreur.xml",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("unknown-sender"), "{}", stdout(&o));

    // inspect shows what the slots say
    let o = gateway(&["inspect", response]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let out = stdout(&o);
    for line in [
        "header form:   OotsEdm",
        "message type:  EvidenceResponse (list oots-edm:v1.0 version -)",
        "author:        9930:DE73524311 [EAS] Civil Registration Office Berlin I",
        "reader:        0096:DK22233223 [EAS] Denmark University Portal",
        "in reply to:   urn:uuid:4ffb5281-179d-4578-adf2-39fd13ccc797",
        "catalogue:     OOTS-EDM 1.0.0",
    ] {
        assert!(out.contains(line), "{line}\n{out}");
    }
}

#[test]
fn routing_check_sample_is_ok() {
    let o = gateway(&["routing", "check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("ok (9 authorities, 4 rules, 2 access rules; "));
}

/// A copy of an installation's `routing/` checked from elsewhere is
/// checked against the adapters and schemas beside it, and the output
/// says which it used.
#[test]
fn routing_check_uses_the_adapters_and_schemas_beside_the_routing_dir() {
    let install = temp_dir("beside");
    for d in ["routing", "adapters", "config", "schemas"] {
        copy_dir(&root().join(d), &install.join(d));
    }
    // an adapter only this copy has, named by a rule of the copy
    std::fs::copy(
        install.join("adapters/xnachweis-to-oots-edm.toml"),
        install.join("adapters/local-copy.toml"),
    )
    .expect("copy");
    let toml = std::fs::read_to_string(install.join("adapters/local-copy.toml"))
        .expect("read")
        .replacen(
            "name = \"xnachweis-to-oots-edm\"",
            "name = \"local-copy\"",
            1,
        );
    std::fs::write(install.join("adapters/local-copy.toml"), toml).expect("write");
    let rules = std::fs::read_to_string(install.join("routing/rules.toml")).expect("read");
    std::fs::write(
        install.join("routing/rules.toml"),
        format!(
            "{rules}\n[[rule]]\nname = \"local\"\nstandard = \"XNachweis\"\nmessage_type = \"T9\"\nrecipient = \"reader\"\nadapters = [\"local-copy\"]\n"
        ),
    )
    .expect("write");
    let elsewhere = temp_dir("beside-cwd");
    let routing = install.join("routing");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_xoev-gateway"))
        .current_dir(&elsewhere)
        .env_remove("XOEV_ROUTING")
        .env_remove("XOEV_CONFIG_ROOT")
        .env_remove("XOEV_SCHEMAS")
        .args([
            "routing",
            "check",
            "--routing",
            routing.to_str().expect("utf-8"),
        ])
        .output()
        .expect("run");
    let out = stdout(&o);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains(&format!("adapters and config from {}", install.display())),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "schemas from {}",
            install.join("schemas").display()
        )),
        "{out}"
    );
    std::fs::remove_dir_all(&install).ok();
    std::fs::remove_dir_all(&elsewhere).ok();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn routing_check_prints_every_error_with_line() {
    let dir = broken_routing("broken", |rules| {
        rules
            .replace(
                "adapters = [\"xnachweis-to-xestb\"]",
                "adapters = [\"no-such-adapter\"]",
            )
            .replace(
                "recipient = \"reader\"\nadapters = []",
                "recipient = \"fa:0000\"\nadapters = []",
            )
    });
    let dir_s = dir.to_str().expect("utf-8 path");
    let o = gateway(&["routing", "check", "--routing", dir_s]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert_eq!(out.matches("[unknown-adapter]").count(), 2, "{out}");
    assert_eq!(out.matches("[unknown-authority]").count(), 1, "{out}");
    assert!(out.contains("rules.toml:28: [unknown-adapter]"), "{out}");
    assert!(out.contains(": 3 error(s)"), "{out}");

    let o = gateway(&["--format", "json", "routing", "check", "--routing", dir_s]);
    let j = json(&o);
    assert_eq!(j["ok"], false);
    assert_eq!(j["errors"].as_array().map(Vec::len), Some(3));
    assert_eq!(j["errors"][0]["kind"], "unknown-adapter");
    assert_eq!(j["errors"][0]["line"], 28);

    // `route` refuses to run on a broken configuration.
    let o = gateway(&["route", "--routing", dir_s, MUSTERSTADT]);
    assert_eq!(o.status.code(), Some(2));
    std::fs::remove_dir_all(Path::new(&dir)).ok();
}

/// `route` reports what is wrong with the document before what is missing
/// from its header, and names what the service's schema stage would say of
/// a message it can still try the rules on.
#[test]
fn route_names_the_document_fault_before_the_header_fault() {
    let text = std::fs::read_to_string(root().join(MUSTERSTADT)).expect("read");
    let typ = r#"<xn-bk:nachrichtentyp listVersionID="1.2.0"><code>DE.EvidenceRequest.0101</code></xn-bk:nachrichtentyp>"#;
    assert!(text.contains(typ));
    let dir = temp_dir("faults");
    let write = |name: &str, body: &str| {
        let f = dir.join(name);
        std::fs::write(&f, body).expect("write");
        f.to_str().expect("utf-8 path").to_owned()
    };

    // no message type, in the catalogued namespace: the XSD's violation
    let f = write("untyped.xml", &text.replace(typ, ""));
    let o = gateway(&["route", &f]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains(":17:") && out.contains("[xsd-invalid]"),
        "{out}"
    );
    assert!(out.contains("nachrichtentyp"), "{out}");

    // ... in a namespace no catalogue entry has: that
    let other = text
        .replace(typ, "")
        .replace("xnachweis-de-noots\"", "xnachweis-de-noots-2\"");
    let f = write("other-namespace.xml", &other);
    let o = gateway(&["--format", "json", "route", &f]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json(&o)["kind"], "unknown-standard");

    // a readable header on a document that is not well-formed: the
    // service never gets to routing, and neither does the dry run
    let f = write("trailing.xml", &format!("{text}<trailing/>"));
    let o = gateway(&["route", "--municipality", "09162000", &f]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.starts_with(&format!("{f}:65:1: [malformed-xml] Extra content")),
        "{out}"
    );
    assert!(!out.contains("routed") && !out.contains("rule:"), "{out}");
    let o = gateway(&["--format", "json", "route", &f]);
    let j = json(&o);
    assert_eq!(
        (&j["ok"], &j["kind"]),
        (&false.into(), &"malformed-xml".into())
    );
    assert!(
        j.get("decision").is_none() && j.get("route_error").is_none(),
        "{j}"
    );

    // the OOTS Data Service Directory's answer is no evidence exchange
    let o = gateway(&[
        "route",
        "tests/samples/oots-edm/4.3_Query_Response_of_the_DSD_-_Birth_Certificate_Simple_Flow.xml",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("[invalid-header] document {urn:oasis:names:tc:ebxml-regrep:xsd:query:4.0}QueryResponse (it has no SpecificationIdentifier slot) is no EU OOTS evidence exchange message"),
        "{}",
        stdout(&o)
    );
}

/// DiPlan Cockpit's 0402 carries a 0401 header: `inspect` and `route` show
/// both codes and go by the root element's.
#[test]
fn inspect_and_route_name_a_header_type_that_contradicts_the_root() {
    let sample = "tests/samples/xbeteiligung/example402FromCockpit.xml";
    let o = gateway(&["inspect", sample]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("message type:  0402 "), "{out}");
    assert!(
        out.contains("(the header's nachrichtentyp says 0401, the root element is message type 0402: the root element decides)"),
        "{out}"
    );
    let o = gateway(&["--format", "json", "inspect", sample]);
    let j = json(&o);
    assert_eq!(j["header"]["message_type"]["code"], "0402");
    assert_eq!(j["header"]["type_in_header"]["code"], "0401");
    let o = gateway(&["route", sample]);
    let out = stdout(&o);
    assert!(
        out.contains(
            "note: the header's nachrichtentyp says 0401, the root element is message type 0402"
        ),
        "{out}"
    );
    assert!(out.contains("message:    type 0402"), "{out}");
    let o = gateway(&["--format", "json", "route", sample]);
    let j = json(&o);
    assert_eq!(
        j["notes"],
        serde_json::json!([
            "the header's nachrichtentyp says 0401, the root element is message type 0402: the root element decides"
        ])
    );
    assert_eq!(j["message"]["type"], "0402");
}

/// Where the service would stop at the schema stage — a namespace or
/// version the catalogue does not have, XML that is not well-formed — the
/// dry run says so as its verdict and tries no rule: a rule naming a
/// standard and version matches the catalogue entry that validates the
/// message, and such a message has none.
#[test]
fn route_gives_the_schema_stage_verdict_where_the_service_stops_before_routing() {
    let dir = routing_with("xdomea-archive");
    let routing = dir.to_str().expect("utf-8 path");
    // the archive's offer in an xdomea 4.1.0 namespace, its root still
    // saying version="4.0.0" (a rule names xdomea 4.0.0)
    let offer = std::fs::read_to_string(
        root()
            .join("tests/samples/xdomea/synthetic-4.0.0_Aussonderung.Anbieteverzeichnis.0501.xml"),
    )
    .expect("read");
    let other = offer.replace(
        "urn:xoev-de:xdomea:schema:4.0.0",
        "urn:xoev-de:xdomea:schema:4.1.0",
    );
    assert!(other.contains(r#"version="4.0.0""#) && other != offer);
    let f = dir.join("offer-4.1.0.xml");
    std::fs::write(&f, other).expect("write");
    let f = f.to_str().expect("utf-8 path");

    let o = gateway(&["route", "--routing", routing, f]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    // (the catalogue's wording is its own; the verdict and the namespace are ours)
    assert!(
        out.starts_with(&format!("{f}: [unknown-standard] ")),
        "{out}"
    );
    assert!(out.contains("urn:xoev-de:xdomea:schema:4.1.0"), "{out}");
    assert!(
        !out.contains("routed") && !out.contains("archival-offer-to-archive"),
        "{out}"
    );
    let o = gateway(&["--format", "json", "route", "--routing", routing, f]);
    assert_eq!(o.status.code(), Some(1));
    let j = json(&o);
    assert_eq!(j["ok"], false);
    assert_eq!(j["kind"], "unknown-standard");
    assert_eq!(j["catalogue"], serde_json::Value::Null);
    for absent in ["decision", "route_error", "message"] {
        assert!(j.get(absent).is_none(), "{absent}: {j}");
    }

    // an XNachweis release the catalogue does not have
    let text = std::fs::read_to_string(root().join(MUSTERSTADT)).expect("read");
    let f = dir.join("xnachweis-1.1.0.xml");
    std::fs::write(&f, text.replace("version=\"1.2.0\"", "version=\"1.1.0\"")).expect("write");
    let o = gateway(&["--format", "json", "route", f.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(1));
    let j = json(&o);
    assert_eq!(j["kind"], "unknown-version");
    assert!(
        j.get("decision").is_none() && j.get("route_error").is_none(),
        "{j}"
    );

    // A RegRep QueryRequest written without its namespace (hego00/im): the
    // document's own fault, as validate names it, not the missing header.
    let query = "tests/samples/invalid/oots-hego00-im-v1-outbox-query_request_20230426152634.xml";
    let o = gateway(&["route", query]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.starts_with(&format!("{query}: [unknown-standard] ")),
        "{out}"
    );
    assert!(
        out.contains("QueryRequest") && out.contains("namespace"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 1, "{out}");
    let o = gateway(&["validate", query]);
    assert!(stdout(&o).contains("[unknown-standard]"), "{}", stdout(&o));

    // An OOTS evidence response with slots after the root's end tag
    // (hego00/im): the XML error, not the header's missing IssueDateTime.
    let broken = "tests/samples/invalid/oots-hego00-im-outbox-query_response_20230418095447.xml";
    let o = gateway(&["route", broken]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        format!("{broken}:21:1: [malformed-xml] Extra content at the end of the document\n")
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Everything text mode notes is in the JSON too: the header's message
/// type that the root contradicts (the Thuringian archive's 0504 pattern
/// with a 0501 header).
#[test]
fn route_json_carries_the_notes_of_text_mode() {
    let receipt =
        "tests/samples/xdomea/pattern-2.3.0_xx_Aussonderung.AnbietungEmpfangBestaetigen.0504.xml";
    let note = "the header's Nachrichtentyp says 0501, the root element is message type 0504: the root element decides";
    let o = gateway(&["route", receipt]);
    assert!(
        stdout(&o).contains(&format!("note: {note}")),
        "{}",
        stdout(&o)
    );
    let o = gateway(&["--format", "json", "route", receipt]);
    assert_eq!(o.status.code(), Some(1));
    let j = json(&o);
    assert_eq!(j["notes"], serde_json::json!([note]));
    assert_eq!(j["kind"], "unknown-sender");
    assert_eq!(j["message"]["type"], "0504");
    assert_eq!(
        (&j["message"]["standard"], &j["message"]["version"]),
        (&"xdomea".into(), &"2.3.0".into())
    );
    assert_eq!(j["catalogue"]["entry"], "xdomea/2.3.0/xdomea.xsd");
}

/// The standard and version a rule names are the catalogue entry's that
/// validates the message, whatever the root's own attributes say (a
/// generated sample's `standard="standard0"`); both are printed, apart.
#[test]
fn route_matches_the_catalogue_entry_not_the_root_attributes() {
    let dir = temp_dir("xbeteiligung");
    for f in ["authorities.toml", "access.toml", "rules.toml"] {
        let mut text = std::fs::read_to_string(root().join("routing").join(f)).expect("read");
        text.push_str(match f {
            "access.toml" => "\n[[allow]]\ndescription = \"test\"\nsender = \"ags:09162000\"\nreader = \"fa:9198\"\nmessage_type = \"0401\"\n",
            "rules.toml" => "\n[[rule]]\nname = \"participation-to-reader\"\npriority = 100\nstandard = \"XBeteiligung\"\nversion = \"1.2\"\nmessage_type = \"0401\"\nrecipient = \"reader\"\n",
            _ => "",
        });
        std::fs::write(dir.join(f), text).expect("write");
    }
    let routing = dir.to_str().expect("utf-8 path");
    let text = std::fs::read_to_string(root().join(
        "tests/samples/xbeteiligung/xbeteiligung-test-kommunal.Initiieren.0401.gwid-format.xml",
    ))
    .expect("read");
    let edited = text
        .replace(
            "<ns3:kennung>xyz:0001</ns3:kennung>",
            "<ns3:kennung>ags:09162000</ns3:kennung>",
        )
        .replace(
            "<ns3:kennung>xyz:0002</ns3:kennung>",
            "<ns3:kennung>fa:9198</ns3:kennung>",
        )
        .replacen(r#"standard="XBeteiligung""#, r#"standard="standard0""#, 1)
        .replacen(r#"version="1.2""#, r#"version="version0""#, 1);
    let f = dir.join("placeholders.xml");
    std::fs::write(&f, edited).expect("write");
    let f = f.to_str().expect("utf-8 path");
    let o = gateway(&["validate", f]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));

    let o = gateway(&["route", "--routing", routing, f]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains(
            "message:    type 0401, XBeteiligung 1.2 (the root says standard=\"standard0\" version=\"version0\"), from ags:09162000, to fa:9198"
        ),
        "{out}"
    );
    assert!(
        out.contains("rule:       participation-to-reader (rules.toml:"),
        "{out}"
    );
    let o = gateway(&["--format", "json", "route", "--routing", routing, f]);
    let j = json(&o);
    assert_eq!(j["ok"], true);
    assert_eq!(j["message"]["standard"], "XBeteiligung");
    assert_eq!(j["message"]["version"], "1.2");
    assert_eq!(j["message"]["root_standard"], "standard0");
    assert_eq!(j["message"]["root_version"], "version0");
    assert_eq!(j["decision"]["rule"], "participation-to-reader");

    // a rule that names the root's attribute instead could never match:
    // a configuration error naming it
    let rules = std::fs::read_to_string(dir.join("rules.toml")).expect("read");
    std::fs::write(
        dir.join("rules.toml"),
        rules.replace("standard = \"XBeteiligung\"", "standard = \"standard0\""),
    )
    .expect("write");
    let o = gateway(&["route", "--routing", routing, f]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("the schema catalogue has no standard \"standard0\""),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Rules that could never work are errors of `routing check`, with their
/// line, all at once: a standard or version the catalogue lacks (or writes
/// otherwise), an adapter that reads another standard than the rule
/// matches — or one version where the rule matches every one —, a chain
/// whose steps do not connect, an unknown adapter. `route` refuses to load such a directory.
#[test]
fn routing_check_finds_rules_the_catalogue_and_the_adapters_contradict() {
    let dir = temp_dir("contradicted-rules");
    for f in ["authorities.toml", "access.toml", "rules.toml"] {
        std::fs::copy(root().join("routing").join(f), dir.join(f)).expect("copy");
    }
    let shipped = std::fs::read_to_string(dir.join("rules.toml")).expect("read");
    let first = shipped.lines().count() + 1;
    let broken = r#"
[[rule]]
name = "typo"
standard = "XNachwies"
message_type = "T1"
recipient = "reader"

[[rule]]
name = "no-such-version"
standard = "XNachweis"
version = "9.9.9"
message_type = "T2"
recipient = "reader"

[[rule]]
name = "version-written-otherwise"
standard = "XNachweis"
version = "1.2"
message_type = "T3"
recipient = "reader"

[[rule]]
name = "adapter-reads-another-standard"
standard = "XEStB"
message_type = "T4"
recipient = "reader"
adapters = ["xnachweis-to-xestb"]

[[rule]]
name = "steps-do-not-connect"
standard = "XNachweis"
message_type = "T5"
recipient = "reader"
adapters = ["xnachweis-to-xestb", "xnachweis-to-oots-edm"]

[[rule]]
name = "every-standard-through-an-adapter"
message_type = "T6"
recipient = "reader"
adapters = ["xnachweis-to-xestb"]

[[rule]]
name = "unknown-adapter"
standard = "XNachweis"
message_type = "T7"
recipient = "reader"
adapters = ["no-such-adapter"]
"#;
    std::fs::write(dir.join("rules.toml"), format!("{shipped}{broken}")).expect("write");
    let routing = dir.to_str().expect("utf-8 path");
    let o = gateway(&["--format", "json", "routing", "check", "--routing", routing]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let j = json(&o);
    let got: Vec<(String, u64, String)> = j["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or_default().to_owned(),
                e["line"].as_u64().unwrap_or_default() - first as u64,
                e["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    // every error at once: the unknown adapter (the router's) with the rest
    let expect = [
        ("unknown-adapter", 46, "unknown adapter \"no-such-adapter\""),
        ("unknown-standard", 2, "no standard \"XNachwies\" (it has "),
        (
            "unknown-standard",
            8,
            "no version \"9.9.9\" of XNachweis (it has XNachweis 1.2.0)",
        ),
        (
            "unknown-standard",
            15,
            "version \"1.2\" is written \"1.2.0\"",
        ),
        (
            "adapter-mismatch",
            22,
            "adapter \"xnachweis-to-xestb\" reads XNachweis 1.2.0, the rule matches XEStB",
        ),
        (
            "adapter-mismatch",
            29,
            "adapter \"xnachweis-to-xestb\" writes XEStB 1.0.0, but the next, \"xnachweis-to-oots-edm\", reads XNachweis 1.2.0",
        ),
        (
            "adapter-mismatch",
            36,
            "adapter \"xnachweis-to-xestb\" reads only XNachweis 1.2.0, but the rule names no version and also matches XWasser 1.0.0, ",
        ),
    ];
    assert_eq!(got.len(), expect.len(), "{got:?}");
    for ((kind, line, message), (k, l, m)) in got.iter().zip(expect) {
        assert_eq!((kind.as_str(), *line), (k, l), "{message}");
        assert!(message.contains(m), "{message}");
    }
    // the dry run does not route with such a configuration
    let o = gateway(&[
        "route",
        "--routing",
        routing,
        "tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-kassel.xml",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
}

/// A malformed `--municipality` is a usage error (exit 2), as `translate`
/// has it, not a message the rules refused (exit 1).
#[test]
fn route_takes_a_malformed_municipality_for_a_usage_error() {
    let o = gateway(&[
        "route",
        "--municipality",
        "1234",
        "tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-kassel.xml",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("8-digit"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
