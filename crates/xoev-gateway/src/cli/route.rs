//! `xoev-gateway route [--routing DIR] [--municipality AGS] FILE`

use super::routing::RoutingDirArgs;
use super::{CatalogueRef, Format, Global, Outcome, issue_location, read_input};
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};
use xoev_core::{Authority, Header, Message};
use xoev_routing::{NearMiss, Resolution, RouteDecision, RouteInput};
use xoev_schema::{Issue, SchemaEntry, SchemaError, Validator, same_version};

/// Arguments of `route`.
#[derive(Debug, Args)]
pub struct RouteArgs {
    #[command(flatten)]
    pub routing: RoutingDirArgs,
    /// The case's municipality key (AGS, 8 digits), for routing by responsibility.
    #[arg(long, value_name = "AGS", value_parser = municipality_key)]
    pub municipality: Option<String>,
    /// The message (`-` reads stdin).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// What `route` concluded, as `--format json` prints it.
///
/// `ok` is true only where the service would route the message: its
/// schema stage accepts it and a rule routes it. `kind`/`error`/`errors`
/// name the first reason it would not, in the service's order (the schema
/// stage before routing); `decision` or `route_error` say what the rules
/// do with it wherever they could be tried.
#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    file: &'a Path,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// The schema stage's issues, with line, column and path.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<Issue>,
    /// The catalogue entry for the message's namespace (and version), or
    /// null where the catalogue has none.
    catalogue: Option<CatalogueRef>,
    /// What the rules were tried on.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Tried>,
    #[serde(skip_serializing_if = "Option::is_none")]
    decision: Option<RouteDecision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    route_error: Option<RuleMiss>,
    /// The further readers (xdomea) that get a copy, and their inboxes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    copies: Vec<CopyTo>,
    /// What text mode prints as `note:` lines.
    notes: Vec<String>,
}

/// The message as the rules see it.
#[derive(Serialize)]
struct Tried {
    #[serde(rename = "type")]
    message_type: String,
    /// The catalogue entry's standard and version: what a rule's
    /// `standard` and `version` are matched against.
    standard: String,
    version: String,
    /// The root element's own `standard` and `version` attributes, where
    /// it has them (free text to most schemas; the entry decides).
    #[serde(skip_serializing_if = "Option::is_none")]
    root_standard: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    root_version: Option<String>,
    sender: Option<String>,
    reader: Option<String>,
    municipality: Option<String>,
}

/// Why the rules do not route the message.
#[derive(Serialize)]
struct RuleMiss {
    kind: &'static str,
    error: String,
    near_misses: Vec<NearMiss>,
}

/// A copy for a further reader.
#[derive(Serialize)]
struct CopyTo {
    reader: String,
    queue: String,
}

/// A municipality key as given, once it is one: a malformed one is a
/// usage error (exit 2), as `translate --municipality` has it.
fn municipality_key(s: &str) -> Result<String, String> {
    xoev_routing::Ags::parse(s).map(|_| s.to_owned())
}

/// Dry run: which rule matches the message, whom it goes to, through which
/// adapters, into which queue — or why nothing matches (exit 1).
///
/// The rules are tried on the message as the service would: with the
/// standard and version of the catalogue entry that validates it. A
/// message the service stops before routing — its envelope refused, an
/// XML error, a namespace or version the catalogue does not have, a header
/// that cannot be read — is reported with that reason alone. A message
/// that only violates its XSD still has the rules tried on it (a dry run
/// of an edited message), with a note of what the schema stage says; it
/// is not `ok` and exits 1, since the service would refuse it.
pub fn run(g: &Global, args: &RouteArgs) -> anyhow::Result<Outcome> {
    let file = args.file.display().to_string();
    let schemas = g.schemas_near(args.routing.routing.as_deref());
    let catalogue = match xoev_schema::Catalogue::load(&schemas) {
        Ok(c) => std::sync::Arc::new(c),
        Err(e) => {
            return Ok(super::cannot(
                g,
                format!("cannot load the schema catalogue: {e:#}"),
            ));
        }
    };
    let router = match args.routing.load(&catalogue) {
        Ok(Ok(r)) => r,
        Ok(Err(errors)) => {
            return Ok(super::cannot(
                g,
                format!("{errors}\n(run `xoev-gateway routing check` for details)"),
            ));
        }
        Err(e) => {
            return Ok(super::cannot(
                g,
                format!("cannot load the adapter registry: {e:#}"),
            ));
        }
    };
    let bytes = match read_input(&args.file) {
        Ok(b) => b,
        Err(e) => {
            return Ok(super::cannot(g, format!("{file}: cannot read: {e}")));
        }
    };
    let validator = Validator::new(catalogue, g.limits());
    let mut report = Report {
        ok: false,
        file: &args.file,
        kind: None,
        error: None,
        errors: Vec::new(),
        catalogue: None,
        message: None,
        decision: None,
        route_error: None,
        copies: Vec::new(),
        notes: Vec::new(),
    };
    let (message, header_error) =
        match Message::parse_keeping_header_error(bytes.clone(), &g.limits()) {
            Ok(read) => read,
            Err(e) => return finish(g, report.refused(&SchemaError::Message(e))),
        };
    let lookup = validator.catalogue().lookup(&message).ok();
    report.catalogue = lookup.map(CatalogueRef::from);
    let mismatch = message.header.as_ref().and_then(Header::type_mismatch);
    // The service's schema stage, in its order: the envelope, the
    // catalogue entry (standard and version), the XML, the XSD, and only
    // then a header that cannot be read. Of these, `route` looks past the
    // XSD's violations alone, where the header can be read: the rules
    // can be tried on an edited message, and the entry is known.
    let (entry, schema_fault): (&SchemaEntry, Option<SchemaError>) = match validator.validate(bytes)
    {
        Ok(v) => (v.entry, None),
        Err(e @ SchemaError::Invalid { .. })
            if header_error.is_none() && message.header.is_some() =>
        {
            match lookup {
                Some(entry) => (entry, Some(e)),
                None => return finish(g, report.refused(&e).noting(mismatch)),
            }
        }
        Err(e) => return finish(g, report.refused(&e).noting(mismatch)),
    };
    let h = match message.require_header() {
        Ok(h) => h,
        Err(e) => return finish(g, report.refused(&SchemaError::Message(e))),
    };
    if let Some(schema) = &schema_fault {
        let issues = schema.issues();
        let first = issues.first().map(|i| {
            let at = i.line.map(|l| match i.column {
                Some(c) => format!("{l}:{c}: "),
                None => format!("{l}: "),
            });
            format!("{}{}", at.unwrap_or_default(), i.message)
        });
        let more = match issues.len() {
            0 | 1 => String::new(),
            n => format!(" (and {} more; `validate` lists them)", n - 1),
        };
        report.notes.push(format!(
            "the service would reject it at the schema stage: [{}] {}{more}",
            schema.kind().as_str(),
            first.unwrap_or_default()
        ));
        report.kind = Some(schema.kind().as_str());
        report.error = issues.first().map(|i| i.message.clone());
        report.errors = issues;
    }
    report.notes.extend(mismatch);
    // As `validate` says: an OOTS message of another EDM release than the
    // catalogue's (its schema errors may be that release's additions).
    if let Some(spec) = super::validate::other_release(h, &entry.version) {
        report.notes.push(format!(
            "the message names {spec}; the catalogue validates it as {} {}, the only release it has",
            entry.name, entry.version
        ));
    }
    // As the service does: the rules see the standard and version of the
    // catalogue entry that validates the message. The root's attributes
    // may be absent (xdomea 2 and 3) or say otherwise (DiPlan Cockpit's
    // XBeteiligung 1.2 as `version="1.1"`, placeholders in generated
    // samples): the namespace and the schema decide (`Catalogue::lookup`).
    let input = RouteInput {
        message_type: h.message_type.code.clone(),
        standard: Some(entry.name.clone()),
        version: Some(entry.version.clone()),
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
    report.message = Some(Tried {
        message_type: input.message_type.clone(),
        standard: entry.name.clone(),
        version: entry.version.clone(),
        root_standard: message.standard.clone(),
        root_version: message.version.clone(),
        sender: input.sender.clone(),
        reader: input.reader.clone(),
        municipality: input.municipality.clone(),
    });
    // The router sees only that no sender is named; the header knows
    // whether it names none or one without an identifier.
    if h.further_readers_without_id > 0 {
        report.notes.push(format!(
            "{} further reader(s) named without an identifier get no copy (the reader's office has to pass it on)",
            h.further_readers_without_id
        ));
    }
    // as the service does: each further reader known and allowed, once
    let keys: Vec<String> = h.further_readers.iter().map(Authority::key).collect();
    match router.route(&input).and_then(|d| {
        let sender = input.sender.as_deref().unwrap_or_default();
        let copies = router.copies(
            sender,
            &d.recipient,
            &input.message_type,
            keys.iter().map(String::as_str),
        )?;
        report.copies = copies
            .into_iter()
            .map(|(reader, queue)| CopyTo { reader, queue })
            .collect();
        Ok(d)
    }) {
        Ok(d) => {
            report.ok = schema_fault.is_none();
            report.decision = Some(d);
        }
        Err(mut e) => {
            if input.sender.is_none() {
                e.message = h.no_author();
            }
            report.kind = report.kind.or(Some(e.kind.as_str()));
            report.error = report.error.take().or_else(|| Some(e.message.clone()));
            report.route_error = Some(RuleMiss {
                kind: e.kind.as_str(),
                error: e.message,
                near_misses: e.near_misses,
            });
        }
    }
    finish(g, report)
}

impl Report<'_> {
    /// The service would stop at the schema stage (or before): that is
    /// the verdict, and the rules are not tried.
    fn refused(mut self, e: &SchemaError) -> Self {
        let issues = e.issues();
        self.ok = false;
        self.kind = Some(e.kind().as_str());
        self.error = issues.first().map(|i| i.message.clone());
        self.errors = issues;
        self
    }

    fn noting(mut self, note: Option<String>) -> Self {
        self.notes.extend(note);
        self
    }
}

/// Prints the report; exit 0 only where the service would route it.
fn finish(g: &Global, r: Report<'_>) -> anyhow::Result<Outcome> {
    match g.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&r)?),
        Format::Text => print_text(&r),
    }
    Ok(if r.ok { Outcome::Ok } else { Outcome::Rejected })
}

fn print_text(r: &Report<'_>) {
    let file = r.file.display().to_string();
    let Some(m) = &r.message else {
        // refused before the rules: the reason, then what else was seen
        let kind = r.kind.unwrap_or("error");
        for i in &r.errors {
            println!("{}: [{kind}] {}", issue_location(&file, i), i.message);
        }
        for n in &r.notes {
            println!("{file}: note: {n}");
        }
        return;
    };
    for n in &r.notes {
        println!("{file}: note: {n}");
    }
    match (&r.decision, &r.route_error) {
        (Some(d), _) => {
            print_decision(&file, r.ok, m, d);
            for c in &r.copies {
                println!("  copy:       {} → {} (further reader)", c.reader, c.queue);
            }
        }
        (None, Some(e)) => print_miss(&file, m, e, !r.errors.is_empty()),
        (None, None) => {}
    }
}

/// `type T, STANDARD VERSION, from S, to R, municipality M`, naming the
/// root's own attributes where they differ from the catalogue entry's.
fn describe(m: &Tried) -> String {
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    let mut root = Vec::new();
    if let Some(s) = m.root_standard.as_ref().filter(|s| **s != m.standard) {
        root.push(format!("standard={s:?}"));
    }
    if let Some(v) = m
        .root_version
        .as_ref()
        .filter(|v| !same_version(v, &m.version))
    {
        root.push(format!("version={v:?}"));
    }
    let root = if root.is_empty() {
        String::new()
    } else {
        format!(" (the root says {})", root.join(" "))
    };
    format!(
        "type {}, {} {}{root}, from {}, to {}, municipality {}",
        m.message_type,
        m.standard,
        m.version,
        opt(&m.sender),
        opt(&m.reader),
        opt(&m.municipality)
    )
}

fn print_decision(file: &str, ok: bool, m: &Tried, d: &RouteDecision) {
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
    if ok {
        println!("{file}: routed");
    } else {
        println!(
            "{file}: routed by the rules, but the service refuses it at the schema stage (see the note)"
        );
    }
    println!("  message:    {}", describe(m));
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

/// What the rules say when none routes the message; `schema_first`: the
/// service refuses it at the schema stage before (the verdict, above).
fn print_miss(file: &str, m: &Tried, e: &RuleMiss, schema_first: bool) {
    let after = if schema_first {
        " (what the rules say; the service refuses it at the schema stage first, note above)"
    } else {
        ""
    };
    println!("{file}: [{}] {}{after}", e.kind, e.error);
    println!("  message:    {}", describe(m));
    if !e.near_misses.is_empty() {
        println!("  closest rules:");
        for n in &e.near_misses {
            println!("    {} ({}):", n.rule, n.location.short());
            for why in &n.mismatches {
                println!("      - {why}");
            }
        }
    }
}
