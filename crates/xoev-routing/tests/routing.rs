//! The routing model against the shipped sample (`routing/`) and against
//! broken configurations, one per kind of error.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use xoev_routing::{
    ConfigErrorKind as K, ConfigErrors, Resolution, RouteErrorKind as R, RouteInput, Router, Source,
};

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../routing")
}

fn any_adapter(_: &str) -> bool {
    true
}

fn sample() -> Router {
    match Router::load(&sample_dir(), &any_adapter) {
        Ok(r) => r,
        Err(e) => panic!("the sample routing configuration must load: {e}"),
    }
}

fn request(sender: &str, reader: Option<&str>, municipality: Option<&str>) -> RouteInput {
    RouteInput {
        message_type: "DE.EvidenceRequest.0101".into(),
        standard: Some("XNachweis".into()),
        version: Some("1.2.0".into()),
        sender: Some(sender.into()),
        reader: reader.map(Into::into),
        municipality: municipality.map(Into::into),
    }
}

#[test]
fn sample_loads_and_lists_inboxes() {
    let r = sample();
    let inboxes: Vec<_> = r.directory().inboxes().collect();
    assert!(inboxes.contains(&"xoev.inbox.fa-9198"));
    assert!(inboxes.contains(&"xoev.inbox.ags-09162000"));
    assert_eq!(
        r.directory().gateway().map(|g| g.id.as_str()),
        Some("xoev:gateway")
    );
    assert_eq!(r.rules().len(), 4);
}

#[test]
fn routes_by_explicit_reader() {
    let d = sample()
        .route(&request("ags:09162000", Some("fa:9198"), None))
        .unwrap();
    assert_eq!(d.rule, "evidence-request-to-named-tax-office");
    assert_eq!(d.recipient, "fa:9198");
    assert_eq!(d.queue, "xoev.inbox.fa-9198");
    assert_eq!(d.resolution, Resolution::Reader);
    assert!(d.rule_location.file.ends_with("rules.toml"));
    assert!(d.rule_location.line > 1);
}

#[test]
fn routes_by_municipality_when_no_reader_is_named() {
    let d = sample()
        .route(&request("ags:06611000", None, Some("06611000")))
        .unwrap();
    assert_eq!(d.rule, "evidence-request-to-responsible-tax-office");
    assert_eq!(d.recipient, "fa:2613");
    assert_eq!(d.queue, "xoev.inbox.fa-2613");
    assert!(
        matches!(d.resolution, Resolution::Responsible { ref service, ref municipality }
        if service == "einkommensteuer" && municipality.as_str() == "06611000")
    );
}

#[test]
fn routes_by_municipality_for_a_service_placeholder_reader() {
    let d = sample()
        .route(&request(
            "ags:06411000",
            Some("service:einkommensteuer"),
            Some("06411000"),
        ))
        .unwrap();
    assert_eq!(d.recipient, "fa:2607");
}

#[test]
fn answer_goes_back_to_the_fee_office() {
    let mut input = request("fa:9198", Some("ags:09162000"), None);
    input.message_type = "DE.EvidenceResponse.0102".into();
    let d = sample().route(&input).unwrap();
    assert_eq!(d.rule, "evidence-answer-to-fee-office");
    assert_eq!(d.queue, "xoev.inbox.ags-09162000");
    assert!(d.adapters.is_empty());

    // The same answer in the tax office's own standard goes through the adapter.
    let xestb = RouteInput {
        message_type: "0102".into(),
        standard: Some("XEStB".into()),
        version: Some("1.0.0".into()),
        sender: Some("fa:2613".into()),
        reader: Some("ags:06611000".into()),
        municipality: None,
    };
    let d = sample().route(&xestb).unwrap();
    assert_eq!(d.rule, "assessment-answer-to-fee-office");
    assert_eq!(d.adapters, vec!["xestb-to-xnachweis".to_owned()]);
    assert_eq!(d.queue, "xoev.inbox.ags-06611000");
}

#[test]
fn sample_rules_name_only_registered_adapters() {
    let known = ["xnachweis-to-xestb", "xestb-to-xnachweis"];
    let r = Router::load(&sample_dir(), &|a: &str| known.contains(&a));
    assert!(r.is_ok(), "{}", r.unwrap_err());
    let e = Router::load(&sample_dir(), &|_: &str| false).unwrap_err();
    assert!(
        e.errors().iter().all(|e| e.kind == K::UnknownAdapter),
        "{e}"
    );
    assert_eq!(e.errors().len(), 3);
}

#[test]
fn named_reader_not_responsible_for_the_municipality() {
    let e = sample()
        .route(&request("ags:06611000", Some("fa:9198"), Some("06611000")))
        .unwrap_err();
    assert_eq!(e.kind, R::NotResponsible);
    assert!(
        e.message.contains("fa:2613"),
        "names who is responsible: {e}"
    );
}

#[test]
fn no_responsible_authority_or_no_municipality() {
    let r = sample();
    let e = r
        .route(&request("ags:09162000", None, Some("05315000")))
        .unwrap_err();
    assert_eq!(e.kind, R::NotResponsible);
    let e = r.route(&request("ags:09162000", None, None)).unwrap_err();
    assert_eq!(e.kind, R::NotResponsible);
    assert!(e.message.contains("no municipality key"));
    let e = r
        .route(&request("ags:09162000", None, Some("9162000")))
        .unwrap_err();
    assert_eq!(e.kind, R::BadMunicipality);
}

#[test]
fn unknown_sender_and_reader() {
    let r = sample();
    assert_eq!(
        r.route(&request("ags:01001000", Some("fa:9198"), None))
            .unwrap_err()
            .kind,
        R::UnknownSender
    );
    let mut none = request("x:y", None, None);
    none.sender = None;
    assert_eq!(r.route(&none).unwrap_err().kind, R::UnknownSender);
    assert_eq!(
        r.route(&request("ags:09162000", Some("fa:0000"), None))
            .unwrap_err()
            .kind,
        R::UnknownReader
    );
    assert_eq!(
        r.route(&request("ags:09162000", Some("service:hundesteuer"), None))
            .unwrap_err()
            .kind,
        R::UnknownReader
    );
}

#[test]
fn no_route_lists_near_misses() {
    let mut input = request("ags:09162000", Some("fa:9198"), None);
    input.version = Some("1.1.0".into());
    let e = sample().route(&input).unwrap_err();
    assert_eq!(e.kind, R::NoRoute);
    assert_eq!(e.kind.as_str(), "no-route");
    let best = &e.near_misses[0];
    assert_eq!(best.rule, "evidence-request-to-named-tax-office");
    assert_eq!(best.mismatches.len(), 1, "{:?}", best.mismatches);
    assert!(best.mismatches[0].contains("version"));
}

#[test]
fn access_rules() {
    let r = sample();
    assert!(
        r.check_access("ags:09162000", "fa:9198", "DE.EvidenceRequest.0101")
            .is_ok()
    );
    // A tax office may not ask a fee office for evidence.
    let e = r
        .check_access("fa:9198", "ags:09162000", "DE.EvidenceRequest.0101")
        .unwrap_err();
    assert_eq!(e.kind, R::AccessDenied);
    assert_eq!(e.kind.as_str(), "access-denied");
    // One fee office may not send another fee office an evidence request via an explicit rule either.
    assert_eq!(
        r.check_access("nope:1", "fa:9198", "x").unwrap_err().kind,
        R::UnknownSender
    );
    assert_eq!(
        r.check_access("fa:9198", "nope:1", "x").unwrap_err().kind,
        R::UnknownReader
    );
}

#[test]
fn route_enforces_access_rules() {
    let dir = Path::new("/cfg");
    let (auth, _) = base();
    let rules = Source::new(
        "/cfg/rules.toml",
        r#"
[[rule]]
name = "anything-to-reader"
recipient = "reader"
"#,
    );
    let access = Source::new("/cfg/access.toml", "");
    let r = Router::from_sources(dir, &auth, &[rules], &access, &any_adapter).unwrap();
    let e = r
        .route(&request("ags:09162000", Some("fa:9198"), None))
        .unwrap_err();
    assert_eq!(e.kind, R::AccessDenied);
}

// --- configuration errors ----------------------------------------------------

fn base() -> (Source, Source) {
    let auth = Source::new(
        "/cfg/authorities.toml",
        r#"
[[authority]]
id = "ags:09162000"
name = "Fee office"
inbox = "q.fee"
[authority.responsible]
kita = ["09162000"]

[[authority]]
id = "fa:9198"
name = "Tax office"
inbox = "q.fa"
[authority.responsible]
est = ["09162000"]
"#,
    );
    let access = Source::new(
        "/cfg/access.toml",
        r#"
[[allow]]
sender = "ags:09162000"
reader = "fa:9198"
message_type = "T"
"#,
    );
    (auth, access)
}

fn load(
    auth: &Source,
    rules: &str,
    access: &Source,
    adapters: &[&str],
) -> Result<Router, ConfigErrors> {
    let rules = Source::new("/cfg/rules.toml", rules);
    Router::from_sources(Path::new("/cfg"), auth, &[rules], access, &|a: &str| {
        adapters.contains(&a)
    })
}

/// The errors of a configuration whose directory is `auth` (kind, line).
fn directory_errors(auth: &Source) -> (ConfigErrors, Vec<(K, Option<usize>)>) {
    let access = Source::new("/cfg/access.toml", "");
    let e = load(
        auth,
        "[[rule]]\nname = \"r\"\nrecipient = \"reader\"\n",
        &access,
        &[],
    )
    .unwrap_err();
    let got = e.errors().iter().map(|e| (e.kind, e.line)).collect();
    (e, got)
}

fn errors(rules: &str) -> ConfigErrors {
    let (auth, access) = base();
    match load(&auth, rules, &access, &["a1", "a2"]) {
        Ok(_) => panic!("expected configuration errors"),
        Err(e) => e,
    }
}

#[test]
fn every_error_at_once_with_lines() {
    let e = errors(
        r#"
[[rule]]
name = "one"
message_type = "T"
recipient = "reader"
adapters = ["a1", "nope"]

[[rule]]
name = "two"
message_type = "U"
sender = "ags:00000000"
recipient = "fa:0000"
"#,
    );
    let kinds: Vec<_> = e.errors().iter().map(|e| (e.kind, e.line)).collect();
    assert!(kinds.contains(&(K::UnknownAdapter, Some(6))), "{e}");
    assert!(kinds.contains(&(K::UnknownAuthority, Some(11))), "{e}");
    assert!(kinds.contains(&(K::UnknownAuthority, Some(12))), "{e}");
    assert_eq!(e.errors().len(), 3, "{e}");
    let text = e.to_string();
    assert!(
        text.contains("/cfg/rules.toml:6: [unknown-adapter]"),
        "{text}"
    );
}

#[test]
fn unknown_key_is_a_syntax_error_with_line() {
    let e = errors("[[rule]]\nname = \"x\"\nrecipient = \"reader\"\nreciever = \"oops\"\n");
    assert_eq!(e.errors()[0].kind, K::Syntax);
    assert_eq!(e.errors()[0].line, Some(4), "{e}");
    assert!(e.errors()[0].message.contains("reciever"), "{e}");
}

#[test]
fn overlapping_rules_of_same_priority() {
    let e = errors(
        r#"
[[rule]]
name = "a"
message_type = ["T", "U"]
recipient = "reader"

[[rule]]
name = "b"
message_type = "U"
sender = "ags:09162000"
recipient = "fa:9198"
"#,
    );
    assert!(e.has(K::OverlappingRules), "{e}");
    assert_eq!(e.errors()[0].line, Some(8));
}

#[test]
fn disjoint_rules_of_same_priority_are_fine() {
    let (auth, access) = base();
    // Named reader vs. responsibility never match the same message.
    let r = load(
        &auth,
        r#"
[[rule]]
name = "explicit"
message_type = "T"
recipient = "reader"

[[rule]]
name = "by-municipality"
message_type = "T"
recipient = "responsible"
service = "est"

[[rule]]
name = "other-type"
message_type = "V"
recipient = "reader"
"#,
        &access,
        &[],
    );
    assert!(r.is_ok(), "{}", r.unwrap_err());
}

#[test]
fn unreachable_rule_shadowed_by_higher_priority() {
    let e = errors(
        r#"
[[rule]]
name = "broad"
priority = 10
recipient = "reader"

[[rule]]
name = "narrow"
message_type = "T"
sender = "ags:09162000"
recipient = "reader"
"#,
    );
    assert_eq!(e.errors().len(), 1, "{e}");
    assert_eq!(e.errors()[0].kind, K::UnreachableRule);
    assert_eq!(e.errors()[0].line, Some(8));
    assert!(e.errors()[0].message.contains("\"broad\""));
}

#[test]
fn narrower_rule_with_higher_priority_is_reachable() {
    let (auth, access) = base();
    let r = load(
        &auth,
        r#"
[[rule]]
name = "broad"
recipient = "reader"

[[rule]]
name = "narrow"
priority = 10
message_type = "T"
recipient = "reader"
adapters = ["a1"]
"#,
        &access,
        &["a1"],
    )
    .unwrap();
    let d = r.route(&RouteInput {
        message_type: "T".into(),
        sender: Some("ags:09162000".into()),
        reader: Some("fa:9198".into()),
        ..Default::default()
    });
    assert_eq!(d.unwrap().adapters, vec!["a1".to_owned()]);
}

#[test]
fn bad_ags_duplicates_and_ambiguity_in_directory() {
    let auth = Source::new(
        "/cfg/authorities.toml",
        r#"
[[authority]]
id = "ags:09162000"
name = "A"
inbox = "q.a"
[authority.responsible]
kita = ["0916200", "17000000", "09162000"]

[[authority]]
id = "ags:09162000"
name = "A again"
inbox = "q.b"

[[authority]]
id = "noprefix"
name = "B"
inbox = "q.a"
[authority.responsible]
kita = ["09162000"]

[[authority]]
id = "x:1"
name = "no inbox"
"#,
    );
    let (e, got) = directory_errors(&auth);
    assert_eq!(
        got,
        vec![
            (K::BadAgs, Some(7)),
            (K::BadAgs, Some(7)),
            (K::DuplicateAuthority, Some(10)),
            (K::BadAuthorityId, Some(15)),
            (K::DuplicateQueue, Some(17)),
            (K::AmbiguousResponsibility, Some(19)),
            (K::BadQueueName, Some(22)),
        ],
        "{e}"
    );
}

#[test]
fn invalid_rules() {
    let e = errors(
        r#"
[[rule]]
name = "no-service"
message_type = "A"
recipient = "responsible"

[[rule]]
name = "unknown-service"
message_type = "B"
recipient = "responsible"
service = "hundesteuer"

[[rule]]
name = "no-service"
message_type = "C"
recipient = "reader"
"#,
    );
    let kinds: Vec<_> = e.errors().iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![K::InvalidRule, K::UnknownService, K::DuplicateRule],
        "{e}"
    );
}

#[test]
fn access_file_names_unknown_authority() {
    let (auth, _) = base();
    let access = Source::new(
        "/cfg/access.toml",
        "[[allow]]\nsender = \"ags:09162000\"\nreader = [\"fa:1\"]\nmessage_type = \"T\"\n",
    );
    let e = load(
        &auth,
        "[[rule]]\nname = \"r\"\nrecipient = \"reader\"\n",
        &access,
        &[],
    )
    .unwrap_err();
    assert_eq!(e.errors().len(), 1);
    assert_eq!(
        (e.errors()[0].kind, e.errors()[0].line),
        (K::UnknownAuthority, Some(3))
    );
}

#[test]
fn missing_directory_files() {
    let tmp = std::env::temp_dir().join(format!("xoev-routing-empty-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let e = Router::load(&tmp, &any_adapter).unwrap_err();
    assert!(e.errors().iter().all(|e| e.kind == K::Io));
    assert_eq!(e.errors().len(), 3, "{e}");
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn fixed_recipient_and_priorities() {
    let (auth, _) = base();
    let access = Source::new(
        "/cfg/access.toml",
        r#"
[[allow]]
sender = "ags:09162000"
reader = "fa:9198"
message_type = ["T", "U"]
"#,
    );
    let r = load(
        &auth,
        r#"
[[rule]]
name = "everything-to-the-tax-office"
recipient = "fa:9198"

[[rule]]
name = "type-u-to-reader"
priority = 5
message_type = "U"
recipient = "reader"
adapters = ["a1", "a2"]
"#,
        &access,
        &["a1", "a2"],
    )
    .unwrap();
    let input = |t: &str, reader: Option<&str>| RouteInput {
        message_type: t.into(),
        sender: Some("ags:09162000".into()),
        reader: reader.map(Into::into),
        ..Default::default()
    };
    // No reader at all: the fixed rule still delivers.
    let d = r.route(&input("T", None)).unwrap();
    assert_eq!(
        (d.rule.as_str(), d.resolution),
        ("everything-to-the-tax-office", Resolution::Fixed)
    );
    // The higher priority wins where both match …
    let d = r.route(&input("U", Some("fa:9198"))).unwrap();
    assert_eq!(d.rule, "type-u-to-reader");
    assert_eq!(d.adapters, vec!["a1".to_owned(), "a2".to_owned()]);
    // … and the lower one takes what the higher one does not.
    let d = r.route(&input("U", None)).unwrap();
    assert_eq!(d.rule, "everything-to-the-tax-office");
    // Access is checked against the resolved recipient.
    let e = r.route(&input("V", None)).unwrap_err();
    assert_eq!(e.kind, R::AccessDenied);
}

#[test]
fn placeholder_of_another_service_does_not_match() {
    let (auth, access) = base();
    let r = load(
        &auth,
        r#"
[[rule]]
name = "by-est"
message_type = "T"
recipient = "responsible"
service = "est"
"#,
        &access,
        &[],
    )
    .unwrap();
    let mut input = RouteInput {
        message_type: "T".into(),
        sender: Some("ags:09162000".into()),
        reader: Some("service:kita".into()),
        municipality: Some("09162000".into()),
        ..Default::default()
    };
    let e = r.route(&input).unwrap_err();
    assert_eq!(e.kind, R::NoRoute);
    assert!(
        e.near_misses[0].mismatches[0].contains("placeholder of another service"),
        "{e:?}"
    );
    input.reader = Some("service:est".into());
    assert_eq!(r.route(&input).unwrap().recipient, "fa:9198");
    // A named reader never matches a responsibility rule.
    input.reader = Some("fa:9198".into());
    assert_eq!(r.route(&input).unwrap_err().kind, R::NoRoute);
}

#[test]
fn more_invalid_rules() {
    let e = errors(
        r#"
[[rule]]
name = "fixed-with-service"
message_type = "A"
recipient = "fa:9198"
service = "est"

[[rule]]
name = "responsible-with-reader"
message_type = "B"
reader = "fa:9198"
recipient = "responsible"
service = "est"

[[rule]]
name = "bad-id"
message_type = "C"
sender = "noprefix"
recipient = "reader"
"#,
    );
    let got: Vec<_> = e.errors().iter().map(|e| (e.kind, e.line)).collect();
    assert_eq!(
        got,
        vec![
            (K::InvalidRule, Some(6)),
            (K::InvalidRule, Some(12)),
            (K::BadAuthorityId, Some(18)),
        ],
        "{e}"
    );
}

#[test]
fn other_ids_of_an_authority_lead_to_it() {
    let r = sample();
    let d = r.directory();
    assert_eq!(d.canonical("0204:06611000-KITA-01"), "ags:06611000");
    assert_eq!(d.canonical("0204:2613-FA-01"), "fa:2613");
    // an id is its own, an unknown one stays as it is
    assert_eq!(d.canonical("ags:06611000"), "ags:06611000");
    assert_eq!(d.canonical("0204:nobody"), "0204:nobody");
    // lookups go by the directory's own ids
    assert!(d.get("0204:06611000-KITA-01").is_none());
    assert_eq!(
        d.get("ags:06611000").unwrap().also_known_as,
        vec!["0204:06611000-KITA-01".to_owned()]
    );
}

#[test]
fn an_other_id_names_one_authority_only() {
    let auth = Source::new(
        "/cfg/authorities.toml",
        r#"
[[authority]]
id = "ags:1"
also_known_as = ["eas:1", "eas:1", "ags:2", "not-an-id"]
name = "A"
inbox = "q.a"

[[authority]]
id = "ags:2"
name = "B"
inbox = "q.b"

[[authority]]
id = "eas:1"
name = "C"
inbox = "q.c"

[[authority]]
id = "ags:3"
also_known_as = ["eas:1"]
name = "D"
inbox = "q.d"
"#,
    );
    let (e, got) = directory_errors(&auth);
    // on line 4: the repeated alias and the bad one ("ags:2" is not yet an
    // id there; its own entry is then refused, as is "eas:1" as an id and
    // as another authority's alias)
    assert_eq!(
        got,
        vec![
            (K::DuplicateAuthority, Some(4)),
            (K::BadAuthorityId, Some(4)),
            (K::DuplicateAuthority, Some(9)),
            (K::DuplicateAuthority, Some(14)),
            (K::DuplicateAuthority, Some(20)),
        ],
        "{e}"
    );
}

// --- message type codes: the code or the element's whole name ---------------

#[test]
fn a_bare_code_matches_the_element_name_ending_in_it_not_the_other_way() {
    use xoev_routing::same_message_type as same;
    assert!(same("0401", "kommunal.Initiieren.0401"));
    assert!(same("0401", "0401"));
    assert!(same("kommunal.Initiieren.0401", "kommunal.Initiieren.0401"));
    // a whole name in a rule is specific: a bare 0401 may be another standard's
    assert!(!same("kommunal.Initiieren.0401", "0401"));
    // another code, another version's name, a code that is only a suffix
    assert!(!same("0402", "kommunal.Initiieren.0401"));
    assert!(!same(
        "planung2Beteiligung.BeteiligungNeu.0401",
        "kommunal.Initiieren.0401"
    ));
    assert!(!same("401", "kommunal.Initiieren.0401"));
    assert!(!same("0401", "kommunal.Initiieren0401"));
    assert!(!same("0401", ".0401"));
    assert!(!same("INIT", "kommunal.INIT"));
}

/// A router whose rule and access entry name the type by its code `0401`.
fn router_for_code_0401() -> Router {
    let (auth, _) = base();
    let rules = r#"
[[rule]]
name = "initiieren-to-reader"
message_type = "0401"
recipient = "reader"
"#;
    let access = Source::new(
        "/cfg/access.toml",
        r#"
[[allow]]
sender = "ags:09162000"
reader = "fa:9198"
message_type = "0401"
"#,
    );
    load(&auth, rules, &access, &[]).unwrap()
}

#[test]
fn a_header_giving_the_whole_element_name_matches_a_rule_and_access_by_code() {
    let r = router_for_code_0401();
    let mut input = request("ags:09162000", Some("fa:9198"), None);
    input.message_type = "kommunal.Initiieren.0401".into();
    let d = r.route(&input).unwrap();
    assert_eq!(d.rule, "initiieren-to-reader");
    assert!(
        r.check_access("ags:09162000", "fa:9198", "kommunal.Initiieren.0401")
            .is_ok()
    );
    // another type with the same ending digits is still no match
    input.message_type = "kommunal.Initiieren.0402".into();
    let e = r.route(&input).unwrap_err();
    assert_eq!(e.kind, R::NoRoute);
    assert!(
        e.near_misses[0].mismatches[0].contains("\"kommunal.Initiieren.0402\""),
        "{:?}",
        e.near_misses
    );
    assert_eq!(
        r.check_access("ags:09162000", "fa:9198", "kommunal.Initiieren.0402")
            .unwrap_err()
            .kind,
        R::AccessDenied
    );
}

#[test]
fn a_rule_naming_the_code_shadows_a_lower_one_naming_the_whole_element() {
    // …but not the other way round: the code also matches other standards'
    let (auth, access) = base();
    let r = load(
        &auth,
        r#"
[[rule]]
name = "by-name"
priority = 10
message_type = "kommunal.Initiieren.0401"
recipient = "reader"

[[rule]]
name = "by-code"
message_type = "0401"
recipient = "reader"
"#,
        &access,
        &[],
    );
    assert!(r.is_ok(), "{}", r.unwrap_err());

    let e = errors(
        r#"
[[rule]]
name = "by-code"
priority = 10
message_type = "0401"
recipient = "reader"

[[rule]]
name = "by-name"
message_type = "kommunal.Initiieren.0401"
recipient = "reader"
"#,
    );
    assert_eq!(e.errors().len(), 1, "{e}");
    assert_eq!(e.errors()[0].kind, K::UnreachableRule);
    assert!(e.errors()[0].message.contains("\"by-code\""), "{e}");
}

#[test]
fn rules_of_one_priority_naming_the_code_and_the_whole_element_overlap() {
    let e = errors(
        r#"
[[rule]]
name = "by-name"
message_type = "kommunal.Initiieren.0401"
recipient = "reader"

[[rule]]
name = "by-code"
message_type = ["0402", "0401"]
recipient = "reader"
"#,
    );
    assert_eq!(e.errors().len(), 1, "{e}");
    assert_eq!(e.errors()[0].kind, K::OverlappingRules, "{e}");
}

#[test]
fn a_further_reader_must_be_known_have_an_inbox_and_be_allowed() {
    let (auth, access) = base();
    let r = load(
        &auth,
        "[[rule]]\nname = \"r\"\nrecipient = \"reader\"\n",
        &access,
        &[],
    )
    .unwrap();
    let copies = |sender: &str, recipient: &str, t: &str, keys: &[&str]| {
        r.copies(sender, recipient, t, keys.iter().copied())
    };
    assert_eq!(
        copies("ags:09162000", "nope:0", "T", &["fa:9198"]).unwrap(),
        [("fa:9198".to_owned(), "q.fa".to_owned())]
    );
    // named twice, or the recipient itself: one copy, none for the recipient
    assert_eq!(
        copies("ags:09162000", "nope:0", "T", &["fa:9198", "fa:9198"])
            .unwrap()
            .len(),
        1
    );
    assert!(
        copies("ags:09162000", "fa:9198", "T", &["fa:9198"])
            .unwrap()
            .is_empty()
    );
    let e = copies("ags:09162000", "nope:0", "T", &["nope:1"]).unwrap_err();
    assert_eq!(e.kind, R::UnknownReader);
    assert!(
        e.message.starts_with("further reader: ") && e.message.contains("nope:1"),
        "{}",
        e.message
    );
    let e = copies("ags:09162000", "nope:0", "U", &["fa:9198"]).unwrap_err();
    assert_eq!(e.kind, R::AccessDenied);
    // the way back is not allowed either
    let e = copies("fa:9198", "nope:0", "T", &["ags:09162000"]).unwrap_err();
    assert_eq!(e.kind, R::AccessDenied);
}
