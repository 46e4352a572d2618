//! The citizen view: who asked, who answered, what kind of evidence, for
//! which purpose, when — in plain words.

mod common;

use common::*;
use time::macros::datetime;
use xoev_audit::{Entry, Names, NewEntry, Outcome, citizen_view};

fn names() -> Names {
    Names::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/names.toml"
    )))
    .expect("names")
}

/// Chains entries by hand at fixed times (the stores stamp the current time).
fn chain(steps: Vec<(NewEntry, time::OffsetDateTime)>) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    for (new, at) in steps {
        let head = out.last().map(Entry::head);
        out.push(Entry::chain(new, head.as_ref(), at));
    }
    out
}

#[test]
fn demo_case_reads_as_one_sentence_per_exchange() {
    let anna = citizen("86095742719");
    let mut requested = entry(&anna, "req-1", Outcome::Requested);
    requested.answerer = None;
    let forwarded = entry(&anna, "req-1", Outcome::Forwarded);
    let mut answered = entry(&anna, "req-1", Outcome::Answered);
    answered.answer_message_id = Some("ans-1".into());
    let mut refused = entry(&anna, "req-2", Outcome::Rejected("consent-revoked".into()));
    refused.answerer = None;
    let entries = chain(vec![
        (requested, datetime!(2026-03-01 10:15:02 UTC)),
        (forwarded, datetime!(2026-03-01 10:15:03 UTC)),
        (answered, datetime!(2026-03-01 10:16:40 UTC)),
        (refused, datetime!(2026-04-02 08:00 UTC)),
    ]);
    let view = citizen_view(&entries, &names());
    assert_eq!(view.len(), 2);
    assert_eq!(
        view[0].text,
        "On 2026-03-01 at 10:15 UTC, Stadt Musterstadt, Kita-Gebührenstelle asked \
         Finanzamt Musterstadt for your income-tax assessment data of 2024 for the \
         purpose 'Kita fee assessment' (consent C-123). Answered: yes."
    );
    assert_eq!(view[0].entries, [1, 2, 3]);
    assert_eq!(view[0].answer_message_id.as_deref(), Some("ans-1"));
    assert_eq!(
        view[0].answerer_name.as_deref(),
        Some("Finanzamt Musterstadt")
    );
    assert_eq!(
        view[1].text,
        "On 2026-04-02 at 08:00 UTC, Stadt Musterstadt, Kita-Gebührenstelle asked for \
         your income-tax assessment data of 2024 for the purpose 'Kita fee assessment' \
         (consent C-123). Answered: no — the gateway refused it (you had revoked your \
         consent); no data was passed to Stadt Musterstadt, Kita-Gebührenstelle."
    );
    // The JSON form carries ids and names side by side.
    let json = serde_json::to_value(&view[0]).expect("json");
    assert_eq!(json["requester"], KITA);
    assert_eq!(json["outcome"], "answered");
    assert_eq!(json["time"], "2026-03-01T10:15:02.000000Z");
}

#[test]
fn unknown_ids_are_shown_as_they_are() {
    let anna = citizen("86095742719");
    let mut e = entry(&anna, "req-9", Outcome::Forwarded);
    e.consent = None;
    e.period = None;
    let view = citizen_view(
        &chain(vec![(e, datetime!(2026-05-05 12:00 UTC))]),
        &Names::default(),
    );
    assert_eq!(
        view[0].text,
        "On 2026-05-05 at 12:00 UTC, ags:09162000 asked bufa:9162 for \
         income-tax-assessment for the purpose 'kita-fee-assessment' \
         (without a consent). Answered: not yet."
    );
}

#[test]
fn names_file_errors_are_specific() {
    let e = Names::from_toml("[authority]\n\"x\" = \"y\"\n", "n.toml").expect_err("unknown table");
    assert_eq!(e.as_str(), "names-syntax");
    assert!(e.to_string().contains("n.toml"), "{e}");
    let e = Names::load(std::path::Path::new("/nonexistent/names.toml")).expect_err("missing");
    assert_eq!(e.as_str(), "names-io");
}
