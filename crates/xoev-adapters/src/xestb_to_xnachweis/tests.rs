use super::*;
use crate::testutil::*;
use crate::{AssessmentField, xnachweis};

fn adapter() -> XEStBToXNachweis {
    XEStBToXNachweis::new(minimisation())
}

/// Translates and returns (the whole response, the decoded evidence document).
fn run(answer: &str, ctx: &Context) -> Result<(String, String), AdapterError> {
    let out = adapter().translate(answer.as_bytes(), ctx)?;
    let out = String::from_utf8(out).expect("UTF-8 output");
    let start = out.find("<xn-bk:RepositoryItem>").and_then(|i| {
        out[i + 22..]
            .find("<xn-bk:RepositoryItem>")
            .map(|j| i + 22 + j + 22)
    });
    let evidence = match start {
        Some(s) => {
            let end = out[s..].find('<').map_or(out.len(), |e| s + e);
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(out[s..end].trim())
                .expect("base64 evidence");
            String::from_utf8(bytes).expect("UTF-8 evidence")
        }
        None => String::new(),
    };
    Ok((out, evidence))
}

/// Every assessment value of the Kassel sample that must never reach the
/// fee office when a fee table applies.
const KASSEL_ASSESSMENT_VALUES: &[(&str, &str)] = &[
    ("summeDerEinkuenfte", "76550.00"),
    ("gesamtbetragDerEinkuenfte", "76550.00"),
    ("zuVersteuerndesEinkommen", "64210.00"),
    ("festgesetzteEinkommensteuer", "10518.00"),
    ("kirchensteuer", "946.62"),
    ("bescheiddatum", "2025-02-14"),
    ("veranlagungsart", "Zusammenveranlagung"),
    ("steuernummer", "026 815 40711"),
    ("spouse tax id", "98765432109"),
    ("spouse given name", ">Max<"),
    ("spouse date of birth", "1983-09-30"),
    ("income per type", "nichtselbstaendige-arbeit"),
    ("income per type amount", "42350.00"),
    ("income per type amount", "31800.00"),
    ("income per type", "vermietung-und-verpachtung"),
    ("income per type amount", "2400.00"),
];

#[test]
fn with_a_fee_table_only_the_bracket_and_year_pass() {
    let (out, evidence) = run(&text(KASSEL_ANS), &ctx_for(KASSEL_REQ)).expect("translates");
    assert!(
        evidence.contains("<xestb:stufe>5</xestb:stufe>"),
        "{evidence}"
    );
    assert!(evidence.contains("<xestb:veranlagungsjahr>2024</xestb:veranlagungsjahr>"));
    for (what, value) in KASSEL_ASSESSMENT_VALUES {
        assert!(
            !evidence.contains(value),
            "{what} ({value}) leaked into the evidence:\n{evidence}"
        );
        assert!(
            !out.contains(value),
            "{what} ({value}) leaked into the response"
        );
    }
    for f in AssessmentField::ALL {
        if f != AssessmentField::Veranlagungsjahr {
            let tag = format!("<xestb:{}>", f.element());
            assert!(!evidence.contains(&tag), "{tag} present:\n{evidence}");
        }
    }
    // The subject's own identity data is what the request named; nothing more.
    assert!(out.contains("<xn-bk:IDNr>12345678901</xn-bk:IDNr>"));
}

#[test]
fn without_a_fee_table_only_the_allowed_income_figure_passes() {
    let (_, evidence) = run(&text(FRANKFURT_ANS), &ctx_for(FRANKFURT_REQ)).expect("translates");
    assert!(
        evidence.contains("<xestb:summeDerEinkuenfte>50900.00</xestb:summeDerEinkuenfte>"),
        "{evidence}"
    );
    assert!(evidence.contains("<xestb:veranlagungsjahr>2023</xestb:veranlagungsjahr>"));
    assert!(!evidence.contains("beitragsstufe"));
    for f in AssessmentField::ALL {
        if !matches!(
            f,
            AssessmentField::Veranlagungsjahr | AssessmentField::SummeDerEinkuenfte
        ) {
            let tag = format!("<xestb:{}>", f.element());
            assert!(!evidence.contains(&tag), "{tag} present:\n{evidence}");
        }
    }
    for v in [
        "43650.00",
        "8917.00",
        "713.36",
        "51200.00",
        "-300.00",
        "045 227 30518",
        "2024-09-05",
    ] {
        assert!(!evidence.contains(v), "{v} leaked:\n{evidence}");
    }
}

#[test]
fn the_municipality_in_the_context_overrides_the_requests_author() {
    // Darmstadt's request, but the context says Kassel: Kassel's table applies.
    let mut c = ctx_for(DARMSTADT_REQ);
    c.municipality = Some("06611000".into());
    let (_, evidence) = run(&text(DARMSTADT_ANS), &c).expect("translates");
    assert!(evidence.contains("Stadt Kassel"), "{evidence}");
    assert!(
        evidence.contains("<xestb:stufe>2</xestb:stufe>"),
        "{evidence}"
    );
}

#[test]
fn kassel_and_darmstadt_share_the_adapter_with_their_own_tables() {
    let (_, ks) = run(&text(KASSEL_ANS), &ctx_for(KASSEL_REQ)).expect("translates");
    let (_, da) = run(&text(DARMSTADT_ANS), &ctx_for(DARMSTADT_REQ)).expect("translates");
    assert!(
        ks.contains("Stadt Kassel") && ks.contains("Stufe 5"),
        "{ks}"
    );
    assert!(
        da.contains("Darmstadt") && da.contains("Einkommensgruppe B"),
        "{da}"
    );
}

#[test]
fn answer_for_another_tax_id_is_refused() {
    let input = text("crates/xoev-adapters/tests/fixtures/bad/xestb-answer-other-tax-id.xml");
    let err = run(&input, &ctx_for(DARMSTADT_REQ)).expect_err("must fail");
    assert_eq!(err.as_str(), "tax-id-mismatch");
    assert_eq!(
        err.field(),
        Some("steuerbescheid/steuerpflichtiger/steuerIdNr")
    );
    assert!(
        !err.to_string().contains("45678901"),
        "no tax id in the message: {err}"
    );
}

#[test]
fn answer_for_another_year_is_refused() {
    let input = text(DARMSTADT_ANS).replace(
        "<xestb:veranlagungsjahr>2024<",
        "<xestb:veranlagungsjahr>2022<",
    );
    let err = run(&input, &ctx_for(DARMSTADT_REQ)).expect_err("must fail");
    assert_eq!(
        err,
        AdapterError::YearMismatch {
            field: "steuerbescheid/veranlagungsjahr".into(),
            expected: 2024,
            found: 2022
        }
    );
}

#[test]
fn answer_to_another_request_is_refused() {
    // Kassel's answer given Darmstadt's request.
    let err = run(&text(KASSEL_ANS), &ctx_for(DARMSTADT_REQ)).expect_err("must fail");
    assert_eq!(err.as_str(), "correlation-mismatch");
}

#[test]
fn answer_addressed_to_another_authority_is_refused() {
    let input = text(KASSEL_ANS).replace(
        "<bn-beh:kennung>ags:06611000</bn-beh:kennung>",
        "<bn-beh:kennung>ags:06412000</bn-beh:kennung>",
    );
    let err = run(&input, &ctx_for(KASSEL_REQ)).expect_err("must fail");
    assert_eq!(err.as_str(), "correlation-mismatch");
    assert_eq!(err.field(), Some("nachrichtenkopf.g2g/leser/kennung"));
}

#[test]
fn without_the_original_request_nothing_is_translated() {
    let err = run(&text(KASSEL_ANS), &ctx()).expect_err("must fail");
    assert_eq!(err.as_str(), "missing-context");
}

#[test]
fn a_purpose_that_is_not_configured_allows_nothing() {
    let mut c = ctx_for(KASSEL_REQ);
    if let Some(r) = c.request.as_mut() {
        r.purpose = "urn:xoev-gateway:zweck:neugier".into();
    }
    let err = run(&text(KASSEL_ANS), &c).expect_err("must fail");
    assert_eq!(err.as_str(), "purpose-not-allowed");
}

#[test]
fn joint_assessment_must_name_two_persons() {
    let input = text(DARMSTADT_ANS).replace("Einzelveranlagung<", "Zusammenveranlagung<");
    let err = run(&input, &ctx_for(DARMSTADT_REQ)).expect_err("must fail");
    assert_eq!(err.as_str(), "invalid-field");
    assert_eq!(err.field(), Some("steuerbescheid/steuerpflichtiger"));
}

#[test]
fn error_answer_becomes_an_xnachweis_error_without_the_tax_offices_text() {
    let (out, evidence) = run(&text(DARMSTADT_ERR), &ctx_for(DARMSTADT_REQ)).expect("translates");
    assert!(evidence.is_empty());
    assert!(out.contains("<xn-de:DE.EvidenceErrorResponse.0103"));
    assert!(out.contains("<code>EDM:ERR:0004</code>"));
    assert!(!out.contains("Fuer das Veranlagungsjahr liegt kein Bescheid vor."));
    assert!(out.contains(&format!(
        "requestid=\"{}\"",
        "urn:uuid:7a1c2b7e-8a44-4d0e-9b7a-0c5e2d9f1022"
    )));
}

#[test]
fn request_facts_name_the_municipality() {
    let f = xnachweis::RequestFacts::from_xnachweis(&read(KASSEL_REQ)).expect("facts");
    assert_eq!(f.municipality(), Some("06611000"));
    assert_eq!(f.year, 2024);
}

#[test]
fn answers_name_the_request_they_answer() {
    let doc = |t: &str| crate::xml::parse(t.as_bytes()).expect("parses");
    let answer = text(KASSEL_ANS);
    assert_eq!(
        xestb::answer_reference(&doc(&answer)).as_deref(),
        Some("c0ffee00-0000-4000-8000-000000000011")
    );
    let error = text(DARMSTADT_ERR);
    assert!(xestb::answer_reference(&doc(&error)).is_some());
    let blank = answer.replace("c0ffee00-0000-4000-8000-000000000011</", "  </");
    assert_eq!(xestb::answer_reference(&doc(&blank)), None);
    assert_eq!(xestb::answer_reference(&doc(&text(KASSEL_REQ))), None);
}

/// The parameters are found by `normalize-space(AttributeURI)`; one given
/// twice must have one value (the first used to win silently).
#[test]
fn request_parameters_are_matched_by_their_normalised_uri() {
    let sample = text(KASSEL_REQ);
    let facts = |t: &str| xnachweis::RequestFacts::from_xnachweis(t.as_bytes());
    let spaced = sample.replace(
        ">urn:xoev-gateway:nachweisparameter:veranlagungsjahr<",
        ">\n   urn:xoev-gateway:nachweisparameter:veranlagungsjahr \t<",
    );
    assert_eq!(facts(&spaced).expect("facts").year, 2024);
    // an earlier attribute with the same URI but no value does not hide the later one
    let first = "<xn-bk:SectorSpecificAttribute>";
    let valueless = sample.replacen(
        first,
        "<xn-bk:SectorSpecificAttribute><xn-bk:AttributeURI>urn:xoev-gateway:nachweisparameter:veranlagungsjahr</xn-bk:AttributeURI></xn-bk:SectorSpecificAttribute>\n<xn-bk:SectorSpecificAttribute>",
        1,
    );
    assert_eq!(facts(&valueless).expect("facts").year, 2024);
    // an earlier one with another value makes the request ambiguous
    let twice = |value: &str| {
        sample.replacen(
            first,
            &format!("<xn-bk:SectorSpecificAttribute><xn-bk:AttributeURI>urn:xoev-gateway:nachweisparameter:veranlagungsjahr</xn-bk:AttributeURI><xn-bk:AttributeValue>{value}</xn-bk:AttributeValue></xn-bk:SectorSpecificAttribute>\n<xn-bk:SectorSpecificAttribute>"),
            1,
        )
    };
    let err = facts(&twice("2019")).expect_err("ambiguous");
    assert_eq!(err.as_str(), "invalid-field");
    assert_eq!(err.field(), Some(crate::xnachweis::field::YEAR));
    assert!(err.to_string().contains("ambiguous"), "{err}");
    // the same value twice is one year
    assert_eq!(facts(&twice(" 2024 ")).expect("facts").year, 2024);
    // a URI that differs inside is another parameter
    let other = sample.replace(
        ">urn:xoev-gateway:nachweisparameter:veranlagungsjahr<",
        ">urn:xoev-gateway:nachweisparameter: veranlagungsjahr<",
    );
    let err = facts(&other).expect_err("no year");
    assert_eq!(err.as_str(), "missing-field");
}

#[test]
fn the_answer_to_a_test_request_is_a_test_message_and_to_a_productive_one_not() {
    let mut c = ctx_for(KASSEL_REQ);
    let (out, _) = run(&text(KASSEL_ANS), &c).expect("translates");
    assert!(
        root_tag(&out).contains(" test=\"true\""),
        "{}",
        root_tag(&out)
    );
    if let Some(request) = c.request.as_mut() {
        request.test = None;
    }
    let (out, _) = run(&text(KASSEL_ANS), &c).expect("translates");
    assert!(!root_tag(&out).contains("test="), "{}", root_tag(&out));
}

#[test]
fn the_answer_names_every_requester_of_the_request_in_its_own_role() {
    // An intermediary platform named before the evidence requester: the
    // evidence requester is still the one classified ER, and the answer
    // repeats both, each in its role (it named only the first, as ER).
    let request = with_platform_first(KASSEL_REQ);
    let ctx = ctx_for_bytes(&request);
    let facts = ctx.request.as_ref().expect("facts");
    assert_eq!(facts.requester.id, "06611000-KITA-01");
    let ids: Vec<_> = facts.requesters.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["PLATFORM-01", "06611000-KITA-01"]);

    let (out, _) = run(&text(KASSEL_ANS), &ctx).expect("translates");
    let platform = out.find(">PLATFORM-01<").expect("the platform is named");
    let kita = out
        .find(">06611000-KITA-01<")
        .expect("the requester is named");
    assert!(platform < kita, "in the request's order:\n{out}");
    let role_after = |at: usize| {
        let rest = &out[at..];
        let c = rest.find("Classification").expect("a role");
        rest[c..]
            .split("<code>")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .map(str::to_owned)
    };
    assert_eq!(role_after(platform).as_deref(), Some("IP"));
    assert_eq!(role_after(kita).as_deref(), Some("ER"));
    // and the error answer too
    let err = adapter()
        .translate(
            &read(DARMSTADT_ERR),
            &ctx_for_bytes(&with_platform_first(DARMSTADT_REQ)),
        )
        .expect("translates");
    let err = String::from_utf8(err).expect("UTF-8");
    assert!(
        err.contains(">PLATFORM-01<") && err.contains(">06411000-KITA-01<"),
        "{err}"
    );
}

#[test]
fn the_request_id_may_come_back_in_upper_case() {
    // RFC 9562: a UUID's hex digits are read in either case
    let input = text(KASSEL_ANS).replace(
        "urn:uuid:7a1c2b7e-8a44-4d0e-9b7a-0c5e2d9f1011",
        "URN:UUID:7A1C2B7E-8A44-4D0E-9B7A-0C5E2D9F1011",
    );
    assert_ne!(input, text(KASSEL_ANS));
    let (root, _) = run(&input, &ctx_for(KASSEL_REQ)).expect("the same request");
    // answered under the request's id as the request wrote it
    assert!(
        root.contains("urn:uuid:7a1c2b7e-8a44-4d0e-9b7a-0c5e2d9f1011"),
        "{root}"
    );
    // one digit off is another request
    let other = text(KASSEL_ANS).replace(
        "urn:uuid:7a1c2b7e-8a44-4d0e-9b7a-0c5e2d9f1011",
        "URN:UUID:7A1C2B7E-8A44-4D0E-9B7A-0C5E2D9F1012",
    );
    let err = run(&other, &ctx_for(KASSEL_REQ)).expect_err("must fail");
    assert_eq!(err.field(), Some("bezug/ursprungsanfrage"));
}
