//! `xoev-gateway translate --adapter NAME FILE`: runs an adapter (or a
//! chain) offline and prints the output — only after it validated against
//! the target standard's XSD.

use super::{Format, Global, Outcome, read_input};
use anyhow::Context as _;
use bytes::Bytes;
use clap::Args;
use serde_json::json;
use std::path::{Path, PathBuf};
use xoev_adapters::{
    AdapterError, Config, Context, ContextError, ContextFile, Registry, Translator,
};
use xoev_core::Message;
use xoev_schema::Validator;

/// Where the adapter configuration lives (shared with `adapters`).
#[derive(Debug, Args)]
pub struct AdapterConfigArgs {
    /// Directory holding `config/minimisation.toml`, `config/fee-tables.toml`
    /// and `adapters/` [default: ., if it has config/minimisation.toml, else
    /// the repository root]
    #[arg(long, env = "XOEV_CONFIG_ROOT", value_name = "DIR")]
    pub config_root: Option<PathBuf>,
}

impl AdapterConfigArgs {
    /// The configuration root in use.
    pub fn root(&self) -> PathBuf {
        self.root_near(None)
    }

    /// The configuration root in use, where `near` (e.g. the routing
    /// directory given) suggests one: `--config-root`, else `.` if it has
    /// `config/minimisation.toml`, else `near`'s parent if that has it (a
    /// copy of the installation's `routing/` beside its `adapters/`), else
    /// the repository root.
    pub fn root_near(&self, near: Option<&Path>) -> PathBuf {
        if let Some(r) = &self.config_root {
            return r.clone();
        }
        if Path::new("config/minimisation.toml").is_file() {
            return PathBuf::from(".");
        }
        if let Some(parent) = near.and_then(Path::parent)
            && parent.join("config/minimisation.toml").is_file()
        {
            return parent.to_path_buf();
        }
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
    }

    /// Loads the registry: built-ins plus `adapters/*.toml`.
    pub fn registry(&self) -> anyhow::Result<Registry> {
        self.registry_at(&self.root())
    }

    /// Loads the registry of the configuration root `root`.
    pub fn registry_at(&self, root: &Path) -> anyhow::Result<Registry> {
        let config = Config::from_root(root)
            .with_context(|| format!("adapter configuration under {}", root.display()))?;
        Ok(Registry::load(&config)?)
    }
}

/// Arguments of `translate`.
#[derive(Debug, Args)]
pub struct TranslateArgs {
    /// Adapter to apply; repeat for a chain (applied in order).
    #[arg(long = "adapter", required = true, value_name = "NAME")]
    pub adapters: Vec<String>,
    /// Context file (TOML: now, seed, municipality, request).
    #[arg(long, value_name = "FILE")]
    pub context: Option<PathBuf>,
    /// The original XNachweis evidence request (answer adapters check the
    /// answer against it and minimise by its purpose).
    #[arg(long, value_name = "FILE")]
    pub request: Option<PathBuf>,
    /// Municipality key (AGS) whose fee table applies.
    #[arg(long, value_name = "AGS")]
    pub municipality: Option<String>,
    /// "Now" (RFC 3339) [default: the current time].
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Seed of generated ids (UUID) [default: random].
    #[arg(long, value_name = "UUID")]
    pub seed: Option<String>,
    /// Write the translated message here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Where the adapter configuration lives.
    #[command(flatten)]
    pub config: AdapterConfigArgs,
    /// The message to translate (`-` reads stdin).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

impl TranslateArgs {
    /// The context file with the command line's values over it.
    fn context_file(&self) -> anyhow::Result<ContextFile> {
        let mut file = match &self.context {
            Some(p) => ContextFile::load(p)?,
            None => ContextFile::default(),
        };
        if self.now.is_some() {
            file.now.clone_from(&self.now);
        }
        if let Some(s) = &self.seed {
            file.seed = Some(
                s.parse()
                    .with_context(|| format!("--seed {s:?} is not a UUID"))?,
            );
        }
        if self.municipality.is_some() {
            file.municipality.clone_from(&self.municipality);
        }
        if self.request.is_some() {
            file.request.clone_from(&self.request);
        }
        Ok(file)
    }
}

/// Translates, validates, prints; exit 1 with the reason when the input
/// does not fit.
pub fn run(g: &Global, args: &TranslateArgs) -> anyhow::Result<Outcome> {
    let registry = args.config.registry()?;
    let chain = match registry.chain(&args.adapters) {
        Ok(c) => c,
        Err(e) => {
            // a usage error (exit 2), reported like a rejection
            reject(g, &args.file, &e);
            return Ok(Outcome::IoError);
        }
    };
    let input =
        read_input(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    // The envelope as the service checks it (UTF-8, no DOCTYPE, size):
    // what the service refuses is not translated here either.
    if let Err(e) = Message::parse_keeping_header_error(Bytes::from(input.clone()), &g.limits()) {
        report(g, &args.file, e.kind.as_str(), None, &e.to_string(), &[]);
        return Ok(Outcome::Rejected);
    }
    let validator = Validator::new(g.catalogue()?, g.limits());
    // The original request is a message too: its facts are read only
    // from one its schema accepts.
    let file = args.context_file()?;
    if let Some(path) = &file.request {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        if let Err(e) = validator.validate(bytes) {
            let message = format!("the original request (--request) is refused: {e}");
            report(g, path, e.kind().as_str(), None, &message, &e.issues());
            return Ok(Outcome::Rejected);
        }
    }
    let fresh = Context::now();
    let ctx = match file.into_context(fresh.now, fresh.seed) {
        Ok(ctx) => ctx,
        // a request that cannot supply the facts is refused like an input
        Err(ContextError::Request { path, source }) => {
            let message =
                format!("the original request (--request) cannot supply the facts: {source}");
            report(
                g,
                &path,
                source.as_str(),
                source.field(),
                &message,
                source.issues(),
            );
            return Ok(Outcome::Rejected);
        }
        Err(e) => return Err(e.into()),
    };
    let translator = Translator::new(validator);
    let output = match translator.run(&chain, &input, &ctx) {
        Ok(o) => o,
        Err(e) => return Ok(reject(g, &args.file, &e)),
    };
    if let Some(out) = &args.out {
        std::fs::write(out, &output).with_context(|| format!("cannot write {}", out.display()))?;
    }
    match (g.format, &args.out) {
        (Format::Json, out) => {
            let mut v = json!({
                "file": args.file.display().to_string(),
                "ok": true,
                "adapters": args.adapters,
            });
            match out {
                Some(p) => v["out"] = json!(p.display().to_string()),
                None => v["output"] = json!(String::from_utf8_lossy(&output)),
            }
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        (Format::Text, None) => {
            use std::io::Write as _;
            std::io::stdout().write_all(&output)?;
        }
        (Format::Text, Some(p)) => {
            eprintln!("{}: translated to {}", args.file.display(), p.display())
        }
    }
    Ok(Outcome::Ok)
}

fn reject(g: &Global, file: &Path, e: &AdapterError) -> Outcome {
    report(g, file, e.as_str(), e.field(), &e.to_string(), e.issues());
    Outcome::Rejected
}

/// Prints a refusal: one JSON object, or `FILE: [kind] message` and the
/// issues on stderr.
fn report(
    g: &Global,
    file: &Path,
    kind: &str,
    field: Option<&str>,
    message: &str,
    issues: &[xoev_schema::Issue],
) {
    match g.format {
        Format::Json => {
            let v = json!({
                "file": file.display().to_string(),
                "ok": false,
                "kind": kind,
                "field": field,
                "message": message,
                "issues": issues,
            });
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        Format::Text => {
            eprintln!("{}: [{kind}] {message}", file.display());
            // the headline may quote the first issue already
            let quoted = issues
                .first()
                .is_some_and(|i| message.contains(i.message.as_str()));
            for i in issues.iter().skip(usize::from(quoted)) {
                eprintln!("  {i}");
            }
        }
    }
}
