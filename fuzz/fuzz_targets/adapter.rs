//! Adapter input: the built-in (and declarative) adapters of the registry,
//! called DIRECTLY with arbitrary bytes — without the translator's input
//! validation, the harshest case: an adapter must return an error, never
//! panic, on anything. The first byte picks the adapter; the request facts
//! of the context come from a sample evidence request (answers need them):
//! for the EU OOTS answer adapter the Kassel request sent to Denmark, which
//! the OOTS answer samples answer, for the others a Frankfurt request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use xoev_adapters::{Adapter, Config, Context, Registry, RequestFacts};

struct Setup {
    adapters: Vec<Arc<dyn Adapter>>,
    ctx: Context,
    ctx_abroad: Context,
}

fn setup() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        xoev_schema::init();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let registry = Registry::load(&Config::from_root(&root).expect("adapter config"))
            .expect("adapter registry");
        let adapters = registry
            .list()
            .iter()
            .map(|i| registry.get(&i.name).expect("listed adapter"))
            .collect();
        let context = |sample: &str| {
            let request = std::fs::read(root.join("tests/samples/xnachweis").join(sample))
                .expect("sample request");
            let mut ctx = Context::new(
                time::macros::datetime!(2026-11-25 12:00 UTC),
                uuid::Uuid::from_u128(0x5eed),
            );
            let facts = RequestFacts::from_xnachweis(&request).expect("sample request facts");
            ctx.municipality = facts.municipality().map(str::to_owned);
            ctx.request = Some(facts);
            ctx
        };
        Setup {
            adapters,
            ctx: context("DE.EvidenceRequest.0101.synthetic-kita-frankfurt.xml"),
            ctx_abroad: context("DE.EvidenceRequest.0101.synthetic-kita-kassel-an-dk.xml"),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let s = setup();
    let Some((&pick, input)) = data.split_first() else {
        return;
    };
    let adapter = &s.adapters[usize::from(pick) % s.adapters.len()];
    let ctx = if adapter.info().source.standard == "OOTS-EDM" {
        &s.ctx_abroad
    } else {
        &s.ctx
    };
    if let Err(e) = adapter.translate(input, ctx) {
        let _ = e.to_string();
        let _ = e.as_str();
    }
    // Without request facts (as the pipeline calls request adapters).
    let mut bare = ctx.clone();
    bare.request = None;
    let _ = adapter.translate(input, &bare);
});
