//! The subcommands. Each lives in its own file and is listed once in [`Command`].

mod adapters;
mod api_token;
mod audit;
mod cases;
mod consent;
mod demo;
mod dlq;
mod inspect;
mod keys;
mod peer;
mod queues;
mod route;
mod routing;
mod run;
mod schemas;
mod sign;
mod translate;
mod validate;
mod verify;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use xoev_core::Limits;
use xoev_schema::{Catalogue, SchemaEntry};

/// The XÖV message gateway: validates, signs, verifies, translates and routes
/// messages between German authorities.
#[derive(Debug, Parser)]
#[command(name = "xoev-gateway", version, about, long_about = None)]
pub struct Cli {
    /// Options of every subcommand.
    #[command(flatten)]
    pub global: Global,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand understands.
#[derive(Debug, Args)]
pub struct Global {
    /// Schema catalogue: a `catalogue.toml` or the directory holding it
    /// [default: ./schemas, else the repository's schemas/]
    #[arg(long, global = true, env = "XOEV_SCHEMAS", value_name = "PATH")]
    pub schemas: Option<PathBuf>,
    /// Largest message accepted, in bytes.
    #[arg(long, global = true, default_value_t = Limits::default().max_bytes, value_name = "BYTES")]
    pub max_size: usize,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Output format of a subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable lines.
    Text,
    /// One JSON document on stdout.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway service (consumes RabbitMQ until SIGTERM).
    Run(run::RunArgs),
    /// An example back-office system (fee office or tax office) over RabbitMQ.
    Peer(peer::PeerArgs),
    /// Run the whole once-only case on this machine (no broker needed).
    Demo(demo::DemoArgs),
    /// Validate messages against their standard's XSD (detected from the document).
    Validate(validate::ValidateArgs),
    /// Print the parsed message header (XÖV, xdomea, or an EU OOTS message's slots) and the catalogue entry that validates it.
    Inspect(inspect::InspectArgs),
    /// List the schema catalogue: standard, version, namespaces, entry file
    /// (`--check`: compile every entry too).
    Schemas(schemas::SchemasArgs),
    /// Sign a message (enveloped XML Signature, exclusive C14N, SHA-256).
    Sign(sign::SignArgs),
    /// Verify signed messages against a trust store (exit 1 with the reason if rejected).
    Verify(verify::VerifyArgs),
    /// Test keys: `keys generate --out DIR` writes a test CA and authority keys.
    Keys(keys::KeysArgs),
    /// Translate a message with an adapter (or chain); the output is validated
    /// against the target schema before it is printed.
    Translate(translate::TranslateArgs),
    /// List the adapter registry: built-in and declarative adapters; exit 1
    /// (each named on stderr) if one reads or writes a standard version the
    /// schema catalogue lacks.
    Adapters(translate::AdapterConfigArgs),
    /// Dry run: which routing rule matches a message, its recipient, adapter
    /// chain and destination queue, or why nothing matches.
    ///
    /// The rules see the message as the service does: the standard and
    /// version a rule names are matched against the schema catalogue entry
    /// that validates the message (the root's own `standard`/`version`
    /// attributes are shown where they differ, and do not decide).
    ///
    /// A message the service would stop before routing — its envelope
    /// refused, an XML error, a namespace or version the catalogue does not
    /// have, a header that cannot be read — gets that reason as the verdict
    /// (in the order `validate` reports them), and no rule is tried.
    ///
    /// A message that only violates its XSD (an edited message, say) still
    /// has the rules tried on it, with a note of what the schema stage
    /// says; as the service would refuse it, it is not `ok` and exits 1
    /// even where a rule routes it.
    ///
    /// Exit 0: the service would route it. Exit 1: it would not (the
    /// reason first, then what the rules say). Exit 2: usage, I/O, or a
    /// broken routing directory or catalogue. `--format json` carries the
    /// same: `ok`, `kind`/`error`/`errors` (the first reason), `catalogue`,
    /// `message` (what the rules saw), `decision` or `route_error`, `notes`.
    Route(route::RouteArgs),
    /// Routing configuration: `routing check` validates it without running.
    Routing(routing::RoutingArgs),
    /// Register, revoke and list citizens' consents.
    Consent(consent::ConsentArgs),
    /// Verify the access log's hash chain; show a citizen's entries.
    Audit(audit::AuditArgs),
    /// Forwarded evidence requests still waiting for their answer (`cases open`).
    Cases(cases::CasesArgs),
    /// Queue depths, unacknowledged messages, consumers, rates and oldest
    /// message age of every gateway queue (RabbitMQ management API).
    Queues(queues::QueuesArgs),
    /// Dead letters: list, show, replay (to the inbound exchange, once), purge.
    Dlq(dlq::DlqArgs),
    /// HTTP API tokens: a new authority token and its hash, a token's hash,
    /// a citizen's token.
    ApiToken(api_token::ApiTokenArgs),
}

impl Command {
    /// Whether this command is a long-running service (`run`, `peer`)
    /// rather than a tool whose output may be piped.
    pub fn is_service(&self) -> bool {
        matches!(self, Self::Run(_) | Self::Peer(_))
    }
}

/// What a subcommand concluded; maps to the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything was fine (exit 0).
    Ok,
    /// The input was invalid or rejected (exit 1).
    Rejected,
    /// A file could not be read or written, or the command was used
    /// wrongly (an adapter name the registry does not have, …) (exit 2).
    IoError,
}

impl Outcome {
    /// The process exit code of this outcome.
    pub fn exit_code(self) -> ExitCode {
        match self {
            Self::Ok => ExitCode::SUCCESS,
            Self::Rejected => ExitCode::from(1),
            Self::IoError => ExitCode::from(2),
        }
    }

    /// The worse of two outcomes.
    pub fn worst(self, other: Self) -> Self {
        use Outcome::*;
        match (self, other) {
            (IoError, _) | (_, IoError) => IoError,
            (Rejected, _) | (_, Rejected) => Rejected,
            _ => Ok,
        }
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let g = &cli.global;
    match &cli.command {
        Command::Run(args) => run::run(g, args),
        Command::Peer(args) => peer::run(g, args),
        Command::Demo(args) => demo::run(g, args),
        Command::Validate(args) => validate::run(g, args),
        Command::Inspect(args) => inspect::run(g, args),
        Command::Schemas(args) => schemas::run(g, args),
        Command::Sign(args) => sign::run(g, args),
        Command::Verify(args) => verify::run(g, args),
        Command::Keys(args) => keys::run(g, args),
        Command::Translate(args) => translate::run(g, args),
        Command::Adapters(args) => adapters::run(g, args),
        Command::Route(args) => route::run(g, args),
        Command::Routing(args) => routing::run(g, args),
        Command::Consent(args) => consent::run(g, args),
        Command::Audit(args) => audit::run(g, args),
        Command::Cases(args) => cases::run(g, args),
        Command::Queues(args) => queues::run(g, args),
        Command::Dlq(args) => dlq::run(g, args),
        Command::ApiToken(args) => api_token::run(g, args),
    }
}

impl Global {
    /// The message limits from the command line.
    pub fn limits(&self) -> Limits {
        Limits {
            max_bytes: self.max_size,
            ..Limits::default()
        }
    }

    /// Loads the schema catalogue named by `--schemas` or the default.
    pub fn catalogue(&self) -> anyhow::Result<Arc<Catalogue>> {
        Ok(Arc::new(Catalogue::load(self.schemas_near(None))?))
    }

    /// The schema catalogue in use: `--schemas`, else `./schemas`, else
    /// `schemas/` beside `near` (e.g. the routing directory given), else
    /// the repository's.
    pub fn schemas_near(&self, near: Option<&Path>) -> PathBuf {
        if let Some(p) = &self.schemas {
            return p.clone();
        }
        if let Some(beside) = near.and_then(Path::parent).map(|p| p.join("schemas"))
            && beside.join("catalogue.toml").is_file()
            && !Path::new("schemas/catalogue.toml").is_file()
        {
            return beside;
        }
        default_schemas_dir()
    }
}

/// `./schemas` if present, else the repository's `schemas/` (so the binary
/// works from any directory of a checkout).
fn default_schemas_dir() -> PathBuf {
    let local = PathBuf::from("schemas");
    if local.join("catalogue.toml").is_file() {
        return local;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas"))
}

/// A command that cannot do its work — a file it cannot read, a
/// configuration it cannot load, an argument it cannot use: the reason on
/// stderr and, with `--format json`, `{"ok": false, "kind": "io", "error":
/// …}` on stdout, so a script reading JSON gets an answer; exit 2.
pub fn cannot(g: &Global, error: impl std::fmt::Display) -> Outcome {
    let error = error.to_string();
    eprintln!("{error}");
    if g.format == Format::Json {
        println!(
            "{}",
            serde_json::json!({"ok": false, "kind": "io", "error": error})
        );
    }
    Outcome::IoError
}

/// Reads a whole input file, `-` meaning stdin.
pub fn read_input(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
        Ok(buf)
    } else if path.is_dir() {
        // `expand_dirs` leaves only directories that hold no message; a
        // command that takes one file gets any directory
        let mut found = Vec::new();
        xml_files_under(path, &mut found);
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            if found.is_empty() {
                "a directory with no .xml files"
            } else {
                "a directory: this command reads one message file"
            },
        ))
    } else {
        std::fs::read(path)
    }
}

/// The inputs of a command that takes many messages: each directory is
/// replaced by the `.xml` files under it (recursively, sorted by path), so
/// an integrator can check a folder of samples at once. A directory with
/// none stays, and reading it fails with that reason.
///
/// Stdin (`-`) can be read once: given twice, that is a usage error.
pub fn expand_dirs(inputs: &[std::path::PathBuf]) -> anyhow::Result<Vec<std::path::PathBuf>> {
    if inputs.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
        anyhow::bail!("`-` (stdin) is given more than once: it can be read once");
    }
    let mut out = Vec::new();
    for input in inputs {
        if input.as_os_str() != "-" && input.is_dir() {
            let mut found = Vec::new();
            xml_files_under(input, &mut found);
            if found.is_empty() {
                out.push(input.clone());
            } else {
                found.sort();
                out.extend(found);
            }
        } else {
            out.push(input.clone());
        }
    }
    Ok(out)
}

/// The `.xml` files under `dir`, recursively. A symbolic link to a
/// directory is not followed (a link to `.` or `..` would make the walk
/// endless); one to a file is read like the file.
fn xml_files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            xml_files_under(&path, out);
        } else if (kind.is_file() || (kind.is_symlink() && path.is_file()))
            && path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("xml"))
        {
            out.push(path);
        }
    }
}

/// A schema catalogue entry as `inspect` and `route` name it in JSON
/// (`"catalogue": {"standard", "version", "entry"}`, `null` where the
/// catalogue has none for the message).
#[derive(Debug, Clone, serde::Serialize)]
pub struct CatalogueRef {
    /// The standard's name in the catalogue (`xdomea`).
    pub standard: String,
    /// The version of the entry's schema (`4.0.0`).
    pub version: String,
    /// The entry XSD, relative to the catalogue directory.
    pub entry: String,
}

impl From<&SchemaEntry> for CatalogueRef {
    fn from(e: &SchemaEntry) -> Self {
        Self {
            standard: e.name.clone(),
            version: e.version.clone(),
            entry: e.entry.clone(),
        }
    }
}

/// `FILE:LINE:COL: PATH` of an issue, leaving out what is unknown.
pub(crate) fn issue_location(file: &str, i: &xoev_schema::Issue) -> String {
    let mut at = file.to_owned();
    if let Some(line) = i.line {
        at.push_str(&format!(":{line}"));
        if let Some(column) = i.column {
            at.push_str(&format!(":{column}"));
        }
    }
    if let Some(path) = &i.path {
        at.push_str(&format!(": {path}"));
    }
    at
}
