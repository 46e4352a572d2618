//! `xoev-gateway route [--routing DIR] [--municipality AGS] FILE`

use super::routing::RoutingDirArgs;
use super::{Format, Global, Outcome, read_input};
use clap::Args;
use std::path::PathBuf;
use xoev_core::{Message, MessageError};
use xoev_routing::{Resolution, RouteDecision, RouteError, RouteInput};
use xoev_schema::{Issue, SchemaError, Validator};

/// Arguments of `route`.
#[derive(Debug, Args)]
pub struct RouteArgs {
    #[command(flatten)]
    pub routing: RoutingDirArgs,
    /// The case's municipality key (AGS, 8 digits), for routing by responsibility.
    #[arg(long, value_name = "AGS")]
    pub municipality: Option<String>,
    /// The message (`-` reads stdin).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Dry run: which rule matches the message, whom it goes to, through which
/// adapters, into which queue — or why nothing matches (exit 1).
pub fn run(g: &Global, args: &RouteArgs) -> anyhow::Result<Outcome> {
    let file = args.file.display();
    let router = match args.routing.load() {
        Ok(Ok(r)) => r,
        Ok(Err(errors)) => {
            eprintln!("{errors}");
            eprintln!("(run `xoev-gateway routing check` for details)");
            return Ok(Outcome::IoError);
        }
        Err(e) => {
            eprintln!("cannot load the adapter registry: {e:#}");
            return Ok(Outcome::IoError);
        }
    };
    let bytes = match read_input(&args.file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{file}: cannot read: {e}");
            return Ok(Outcome::IoError);
        }
    };
    // `route` tries the routing rules on the envelope, also for a message
    // edited to try them; what the schema says is reported beside it.
    let (message, header_error) =
        match Message::parse_keeping_header_error(bytes.clone(), &g.limits()) {
            Ok(read) => read,
            Err(e) => return Ok(refuse(g, args, e.kind.as_str(), &[envelope_issue(&e)])),
        };
    let validator = g.catalogue().ok().map(|c| Validator::new(c, g.limits()));
    if let Some(e) = header_error {
        // the document's own fault, where it has one, says more
        let failure = match &validator {
            Some(v) => v.header_failure(bytes, e),
            None => SchemaError::Message(e),
        };
        return Ok(refuse(g, args, failure.kind().as_str(), &failure.issues()));
    }
    let schema_error = validator.as_ref().and_then(|v| v.validate(bytes).err());
    let h = match message.require_header() {
        Ok(h) => h,
        Err(e) => return Ok(refuse(g, args, e.kind.as_str(), &[envelope_issue(&e)])),
    };
    if let (Some(schema), Format::Text) = (&schema_error, g.format) {
        let first = schema.issues().into_iter().next().map(|i| {
            let at = i.line.map(|l| format!("{l}:{}: ", i.column.unwrap_or(0)));
            format!("{}{}", at.unwrap_or_default(), i.message)
        });
        println!(
            "{file}: note: the service would reject it at the schema stage: [{}] {}",
            schema.kind().as_str(),
            first.unwrap_or_default()
        );
    }
    // As the service does: where the root names no standard (xdomea 2 and
    // 3 do not), the schema catalogue's entry for the message's namespace
    // does; the version is always the entry's (the schema that validates
    // it), since the root's attribute may differ (`Catalogue::lookup`).
    let entry = validator
        .as_ref()
        .and_then(|v| v.catalogue().lookup(&message).ok())
        .map(|e| (e.name.clone(), e.version.clone()));
    let (entry_standard, entry_version) = entry.unzip();
    let input = RouteInput {
        message_type: h.message_type.code.clone(),
        standard: message.standard.clone().or(entry_standard),
        version: entry_version.or(message.version.clone()),
        sender: h
            .author
            .as_ref()
            .map(|a| router.directory().canonical(&a.key()).to_owned()),
        reader: h
            .reader
            .as_ref()
            .map(|a| router.directory().canonical(&a.key()).to_owned()),
        municipality: args.municipality.clone(),
    };
    // The router sees only that no sender is named; the header knows
    // whether it names none or one without an identifier.
    let result = router.route(&input).map_err(|mut e| {
        if input.sender.is_none() {
            e.message = h.no_author();
        }
        e
    });
    if let (Some(mismatch), Format::Text) = (h.type_mismatch(), g.format) {
        println!("{file}: note: {mismatch}");
    }
    match (result, g.format) {
        (Ok(d), Format::Text) => {
            print_decision(&file.to_string(), &d);
            Ok(Outcome::Ok)
        }
        (Ok(d), Format::Json) => {
            let json = serde_json::json!({"ok": true, "file": args.file, "decision": d});
            println!("{}", serde_json::to_string_pretty(&json)?);
            Ok(Outcome::Ok)
        }
        (Err(e), Format::Text) => {
            print_error(&file.to_string(), &input, &e);
            Ok(Outcome::Rejected)
        }
        (Err(e), Format::Json) => {
            let json = serde_json::json!({
                "ok": false,
                "file": args.file,
                "kind": e.kind.as_str(),
                "error": e.message,
                "near_misses": e.near_misses,
            });
            println!("{}", serde_json::to_string_pretty(&json)?);
            Ok(Outcome::Rejected)
        }
    }
}

fn print_decision(file: &str, d: &RouteDecision) {
    let how = match &d.resolution {
        Resolution::Reader => "the reader named in the header".to_owned(),
        Resolution::Responsible {
            service,
            municipality,
        } => format!("responsible for {service} in {municipality}"),
        Resolution::Fixed => "fixed by the rule".to_owned(),
    };
    let adapters = if d.adapters.is_empty() {
        "none (forwarded unchanged)".to_owned()
    } else {
        d.adapters.join(" → ")
    };
    println!("{file}: routed");
    println!(
        "  rule:       {} ({}, priority {})",
        d.rule,
        d.rule_location.short(),
        d.priority
    );
    println!("  recipient:  {} {} ({how})", d.recipient, d.recipient_name);
    println!("  adapters:   {adapters}");
    println!("  queue:      {}", d.queue);
}

fn print_error(file: &str, input: &RouteInput, e: &RouteError) {
    println!("{file}: [{}] {}", e.kind.as_str(), e.message);
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    println!(
        "  message:    type {}, {} {}, from {}, to {}, municipality {}",
        input.message_type,
        opt(&input.standard),
        opt(&input.version),
        opt(&input.sender),
        opt(&input.reader),
        opt(&input.municipality)
    );
    if !e.near_misses.is_empty() {
        println!("  closest rules:");
        for m in &e.near_misses {
            println!("    {} ({}):", m.rule, m.location.short());
            for why in &m.mismatches {
                println!("      - {why}");
            }
        }
    }
}

/// `FILE:LINE:COL: PATH` of an issue, leaving out what is unknown.
pub(super) fn issue_location(file: &str, i: &Issue) -> String {
    let mut at = file.to_owned();
    if let Some(line) = i.line {
        at.push_str(&format!(":{line}:{}", i.column.unwrap_or(0)));
    }
    if let Some(path) = &i.path {
        at.push_str(&format!(": {path}"));
    }
    at
}

/// Prints why `route` cannot try the rules on a message; exit 1.
fn refuse(g: &Global, args: &RouteArgs, kind: &str, issues: &[Issue]) -> Outcome {
    let file = args.file.display().to_string();
    match g.format {
        Format::Json => println!(
            "{}",
            serde_json::json!({
                "ok": false,
                "file": args.file,
                "kind": kind,
                "error": issues.first().map(|i| i.message.as_str()).unwrap_or_default(),
                "errors": issues,
            })
        ),
        Format::Text => {
            for i in issues {
                println!("{}: [{kind}] {}", issue_location(&file, i), i.message);
            }
        }
    }
    Outcome::Rejected
}

/// An envelope error as an issue (it has a position, no path).
fn envelope_issue(e: &MessageError) -> Issue {
    Issue {
        line: e.line,
        column: e.column,
        path: None,
        message: e.detail.clone(),
    }
}
