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

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xoev-cli-route-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    dir
}

/// A copy of routing/ with `edit` applied to rules.toml.
fn broken_routing(name: &str, edit: impl Fn(String) -> String) -> PathBuf {
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
    let text = std::fs::read_to_string(root().join(MUSTERSTADT)).expect("read");
    let start = text.find("<bn-g2g:leser>").expect("leser");
    let end = text.find("</bn-g2g:leser>").expect("leser end") + "</bn-g2g:leser>".len();
    let mut text = text;
    text.replace_range(start..end, "");
    let file = temp_dir("noreader").join("request.xml");
    std::fs::write(&file, text).expect("write");
    let file = file.to_str().expect("utf-8 path");

    let o = gateway(&["route", "--municipality", "06411000", file]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains("evidence-request-to-responsible-tax-office"),
        "{out}"
    );
    assert!(
        out.contains("fa:2607 Finanzamt Darmstadt (responsible for einkommensteuer in 06411000)"),
        "{out}"
    );

    let o = gateway(&["--format", "json", "route", file]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json(&o)["kind"], "not-responsible");
}

#[test]
fn route_explains_a_miss() {
    let text = std::fs::read_to_string(root().join(MUSTERSTADT)).expect("read");
    let file = temp_dir("miss").join("request.xml");
    std::fs::write(
        &file,
        text.replace("version=\"1.2.0\"", "version=\"1.1.0\""),
    )
    .expect("write");
    let o = gateway(&["route", file.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("[no-route] no rule matches"), "{out}");
    assert!(out.contains("closest rules:"), "{out}");
    assert!(
        out.contains("version is \"1.1.0\", the rule wants \"1.2.0\""),
        "{out}"
    );

    let o = gateway(&[
        "--format",
        "json",
        "route",
        file.to_str().expect("utf-8 path"),
    ]);
    let j = json(&o);
    assert_eq!(j["kind"], "no-route");
    assert_eq!(
        j["near_misses"][0]["rule"],
        "evidence-request-to-named-tax-office"
    );
}

#[test]
fn route_rejects_unknown_sender_and_non_xoev_input() {
    let o = gateway(&[
        "route",
        "tests/samples/xbeteiligung/example402FromCockpit.xml",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("[unknown-sender]"));
    let file = temp_dir("junk").join("junk.xml");
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
    let file = temp_dir("named-only").join("named-only.xml");
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
fn routing_with(addition: &str) -> PathBuf {
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
    assert!(stdout(&o).contains("ok (9 authorities, 4 rules, 2 access rules)"));
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

    // a readable header on a broken document: routed, with the schema's word
    let f = write("trailing.xml", &format!("{text}<trailing/>"));
    let o = gateway(&["route", "--municipality", "09162000", &f]);
    let out = stdout(&o);
    assert!(
        out.contains("note: the service would reject it at the schema stage: [malformed-xml]"),
        "{out}"
    );

    // the OOTS Data Service Directory's answer is no evidence exchange
    let o = gateway(&[
        "route",
        "tests/samples/oots-edm/4.3_Query_Response_of_the_DSD_-_Birth_Certificate_Simple_Flow.xml",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("[invalid-header] document {urn:oasis:names:tc:ebxml-regrep:xsd:query:4.0}QueryResponse is no EU OOTS evidence exchange message"),
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
}
