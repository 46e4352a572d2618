//! Golden files: every case under `tests/golden/<case>/` translates its input
//! to exactly `expected.xml`, which validates against the target schema.
//! Cases are found by glob; see `tests/golden/README.md` for how they were
//! made. `XOEV_BLESS=1 cargo test -p xoev-adapters --test golden` rewrites
//! the expected files (review the diff before committing).

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;
use xoev_adapters::{Config, ContextFile, Registry, Translator};
use xoev_core::Limits;
use xoev_schema::{Catalogue, Validator};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// The adapter chain (one name or several).
    adapters: Vec<String>,
    /// The input message, relative to the case directory.
    input: PathBuf,
    /// The context (`request` relative to the case directory).
    context: ContextFile,
}

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/golden exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("case.toml").is_file())
        .collect();
    v.sort();
    v
}

#[test]
fn every_golden_case_translates_exactly_and_validates() {
    let root = repo();
    let catalogue = Arc::new(Catalogue::load(root.join("schemas")).expect("catalogue"));
    let validator = Validator::new(catalogue, Limits::default());
    let registry = Registry::load(&Config::from_root(&root).expect("config")).expect("registry");
    let translator = Translator::new(validator.clone());
    let bless = std::env::var_os("XOEV_BLESS").is_some();
    let all = cases();
    assert!(
        all.len() >= 8,
        "expected the golden cases, found {}",
        all.len()
    );
    let mut failures = Vec::new();
    for dir in &all {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_owned();
        let text = std::fs::read_to_string(dir.join("case.toml")).expect("case.toml");
        let mut case: Case = toml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        if let Some(r) = &case.context.request {
            case.context.request = Some(dir.join(r));
        }
        let ctx = case
            .context
            .into_context(OffsetDateTime::UNIX_EPOCH, Uuid::nil())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let input = std::fs::read(dir.join(&case.input)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let chain = registry
            .chain(&case.adapters)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let out = match translator.run(&chain, &input, &ctx) {
            Ok(o) => o,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        // From bytes (CLI `translate`) and from the parsed document (the
        // gateway, via the translator) give the same bytes.
        if let [only] = case.adapters.as_slice() {
            let adapter = registry.get(only).unwrap_or_else(|e| panic!("{name}: {e}"));
            match adapter.translate(&input, &ctx) {
                Ok(from_bytes) if from_bytes == out => {}
                Ok(_) => failures.push(format!("{name}: translate from bytes differs")),
                Err(e) => failures.push(format!("{name}: translate from bytes: {e}")),
            }
        }
        // The output validates against its own standard, found by namespace.
        if let Err(e) = validator.validate(out.clone()) {
            failures.push(format!("{name}: output does not validate: {e}"));
        }
        // An evidence document carried inline (base64) validates too.
        if let Some(evidence) = inline_evidence(&out)
            && let Err(e) = validator.validate(evidence)
        {
            failures.push(format!("{name}: carried evidence does not validate: {e}"));
        }
        let expected_path = dir.join("expected.xml");
        if bless {
            std::fs::write(&expected_path, &out).expect("write expected.xml");
            continue;
        }
        let expected = std::fs::read(&expected_path).unwrap_or_default();
        if expected != out {
            failures.push(format!(
                "{name}: output differs from expected.xml\n--- got ---\n{}",
                String::from_utf8_lossy(&out)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The base64 content of `xn-bk:RepositoryItem/xn-bk:RepositoryItem`, decoded.
fn inline_evidence(out: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let text = std::str::from_utf8(out).ok()?;
    let tag = "<xn-bk:RepositoryItem>";
    let outer = text.find(tag)? + tag.len();
    let inner = outer + text[outer..].find(tag)? + tag.len();
    let end = inner + text[inner..].find('<')?;
    base64::engine::general_purpose::STANDARD
        .decode(text[inner..end].trim())
        .ok()
}

/// Workers share one registry and translator: the same cases from several
/// threads give the same bytes as one thread (libxml2/libxslt global state).
#[test]
fn translations_from_several_threads_agree() {
    let root = repo();
    let catalogue = Arc::new(Catalogue::load(root.join("schemas")).expect("catalogue"));
    let translator = Translator::new(Validator::new(catalogue, Limits::default()));
    let registry = Registry::load(&Config::from_root(&root).expect("config")).expect("registry");
    let mut jobs = Vec::new();
    for dir in cases() {
        let text = std::fs::read_to_string(dir.join("case.toml")).expect("case.toml");
        let mut case: Case = toml::from_str(&text).expect("case");
        if let Some(r) = &case.context.request {
            case.context.request = Some(dir.join(r));
        }
        let ctx = case
            .context
            .into_context(OffsetDateTime::UNIX_EPOCH, Uuid::nil())
            .expect("context");
        let input = std::fs::read(dir.join(&case.input)).expect("input");
        let chain = registry.chain(&case.adapters).expect("chain");
        let expected = translator.run(&chain, &input, &ctx).expect("translates");
        jobs.push((chain, input, ctx, expected));
    }
    std::thread::scope(|s| {
        for t in 0..4 {
            let jobs = &jobs;
            let translator = &translator;
            s.spawn(move || {
                for round in 0..25 {
                    for (i, (chain, input, ctx, expected)) in jobs.iter().enumerate() {
                        let out = translator.run(chain, input, ctx).expect("translates");
                        assert_eq!(&out, expected, "thread {t} round {round} case {i}");
                    }
                }
            });
        }
    });
}
