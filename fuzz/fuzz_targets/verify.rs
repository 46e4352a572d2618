//! Signature verification entry: `xoev_dsig::Verifier::verify_bytes` with a
//! test trust store. The trust store is `$XOEV_FUZZ_PKI/trust` (the
//! `fuzz/run` script generates `fuzz/work/pki` with `xoev-gateway keys
//! generate` and signs the seed messages with its keys, so that seeds carry
//! valid signatures the fuzzer mutates); without it, a fresh test CA.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;
use xoev_core::Limits;
use xoev_dsig::{CertMatcher, TrustStore, Verifier};

fn verifier() -> &'static Verifier {
    static V: OnceLock<Verifier> = OnceLock::new();
    V.get_or_init(|| {
        xoev_dsig::init().expect("xmlsec1 initialises");
        let dir = std::env::var_os("XOEV_FUZZ_PKI")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("work/pki"));
        let trust = dir.join("trust");
        if trust.is_dir() {
            Verifier::from_trust_dir(&trust).expect("the fuzz trust store loads")
        } else {
            let ca = xoev_dsig::pki::TestCa::generate("XOEV Fuzz CA").expect("test CA");
            let pem = ca.issued.cert_pem().expect("CA PEM");
            Verifier::new(TrustStore::from_pem(&pem).expect("trust store"))
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let v = verifier();
    let limits = Limits::default();
    let expected = CertMatcher::Subject("C=DE, O=XOEV Gateway Test, CN=Test Authority EC".into());
    for matcher in [None, Some(&expected)] {
        match v.verify_bytes(data, &limits, matcher) {
            Ok((verified, doc)) => {
                let _ = verified.signer_subject.len();
                xoev_dsig::strip_signature(&doc);
                let _ = xoev_dsig::to_bytes(&doc);
            }
            Err(e) => {
                let _ = e.to_string();
                let _ = e.kind().as_str();
            }
        }
    }
});
