//! Helpers for the unit tests: repository paths, configuration, contexts.

use crate::{Context, Minimisation, RequestFacts};
use std::path::PathBuf;
use std::sync::Arc;
use time::macros::datetime;
use uuid::Uuid;

/// The repository root.
pub(crate) fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// A file of the repository as bytes.
pub(crate) fn read(rel: &str) -> Vec<u8> {
    let p = repo().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A file of the repository as text.
pub(crate) fn text(rel: &str) -> String {
    String::from_utf8(read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The repository's minimisation config.
pub(crate) fn minimisation() -> Arc<Minimisation> {
    let r = repo();
    Arc::new(
        Minimisation::load(
            &r.join("config/minimisation.toml"),
            &r.join("config/fee-tables.toml"),
        )
        .unwrap_or_else(|e| panic!("config: {e}")),
    )
}

/// A fixed context in March 2025.
pub(crate) fn ctx() -> Context {
    Context::new(datetime!(2025-03-03 08:31 UTC), Uuid::from_u128(0x5eed))
}

/// A context carrying the facts of an original request sample.
pub(crate) fn ctx_for(request_sample: &str) -> Context {
    let mut c = ctx();
    c.request = Some(
        RequestFacts::from_xnachweis(&read(request_sample))
            .unwrap_or_else(|e| panic!("{request_sample}: {e}")),
    );
    c
}

/// A context carrying the facts of request `bytes`.
pub(crate) fn ctx_for_bytes(bytes: &[u8]) -> Context {
    let mut c = ctx();
    c.request = Some(RequestFacts::from_xnachweis(bytes).unwrap_or_else(|e| panic!("{e}")));
    c
}

/// Request sample `request_sample` with an intermediary platform (`IP`,
/// identifier `PLATFORM-01`) named before its evidence requester.
pub(crate) fn with_platform_first(request_sample: &str) -> Vec<u8> {
    let text = text(request_sample);
    let at = text.find("<xn-de:EvidenceRequester>").expect("a requester");
    let platform = concat!(
        "<xn-de:EvidenceRequester>",
        r#"<xn-bk:Identifier schemeID="urn:cef.eu:names:identifier:EAS:0204">PLATFORM-01</xn-bk:Identifier>"#,
        r#"<xn-bk:Name><xn-bdt:value>Plattform</xn-bdt:value><xn-bdt:lang listVersionID="1"><code>de</code></xn-bdt:lang></xn-bk:Name>"#,
        r#"<xn-eu-edm:Classification listVersionID="1"><code>IP</code></xn-eu-edm:Classification>"#,
        "</xn-de:EvidenceRequester>\n  ",
    );
    format!("{}{platform}{}", &text[..at], &text[at..]).into_bytes()
}

pub(crate) const KASSEL_REQ: &str =
    "tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-kassel.xml";
pub(crate) const KASSEL_DK_REQ: &str =
    "tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-kassel-an-dk.xml";
pub(crate) const DARMSTADT_REQ: &str =
    "tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-darmstadt.xml";
pub(crate) const FRANKFURT_REQ: &str =
    "tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-frankfurt.xml";
pub(crate) const KASSEL_ANS: &str =
    "tests/samples/xestb/xestb.bescheiddatenAntwort.0102.kassel-zusammenveranlagung.xml";
pub(crate) const DARMSTADT_ANS: &str =
    "tests/samples/xestb/xestb.bescheiddatenAntwort.0102.darmstadt-einzelveranlagung.xml";
pub(crate) const FRANKFURT_ANS: &str =
    "tests/samples/xestb/xestb.bescheiddatenAntwort.0102.frankfurt-einzelveranlagung.xml";
pub(crate) const DARMSTADT_ERR: &str =
    "tests/samples/xestb/xestb.fehler.0103.darmstadt-kein-bescheid.xml";

/// The root element's start tag of an output document (without the XML
/// declaration), to look at its attributes.
pub(crate) fn root_tag(out: &str) -> String {
    let body = &out[out.find("?>").map_or(0, |i| i + 2)..];
    body[..body.find('>').unwrap_or(body.len())].to_owned()
}
