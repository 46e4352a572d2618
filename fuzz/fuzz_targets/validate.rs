//! Validation entry: `xoev_schema::Validator::validate` on the real schema
//! catalogue (`schemas/` of this repository): header parse, catalogue
//! lookup, hardened libxml2 parse, XSD validation, issue columns.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use xoev_core::Limits;
use xoev_schema::{Catalogue, Validator};

fn validator() -> &'static Validator {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| {
        xoev_schema::init();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas");
        let catalogue = Catalogue::load(&dir).expect("the repository's schema catalogue loads");
        catalogue
            .compile_all()
            .expect("the repository's schemas compile");
        Validator::new(Arc::new(catalogue), Limits::default())
    })
}

fuzz_target!(|data: &[u8]| {
    let v = validator();
    if let Err(e) = v.validate(data.to_vec()) {
        // The error must render (dead letters, JSON) without panicking.
        let _ = e.to_string();
        let _ = e.kind().as_str();
        let _ = e.issues();
    }
});
