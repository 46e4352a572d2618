//! `xoev-gateway inspect FILE`

use super::{CatalogueRef, Format, Global, Outcome, issue_location, read_input};
use clap::Args;
use std::path::{Path, PathBuf};
use xoev_core::{Authority, Message};
use xoev_schema::{SchemaEntry, SchemaError, Validator};

/// Arguments of `inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The message (`-` reads stdin).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Prints the envelope and XÖV header of one message, and the catalogue
/// entry that validates it. The whole document must be well-formed (it is
/// parsed, not validated: that is `validate`'s job).
///
/// A header that cannot be read is reported as `validate` and the service
/// report it: after the document's own fault (an unknown namespace or
/// version, an XML error, the XSD's violations), which is then the reason
/// given; what could be read (root, catalogue entry) is printed before it.
pub fn run(g: &Global, args: &InspectArgs) -> anyhow::Result<Outcome> {
    let file = args.file.display().to_string();
    let bytes = match read_input(&args.file) {
        Ok(b) => b,
        Err(e) => {
            return Ok(super::cannot(g, format!("{file}: cannot read: {e}")));
        }
    };
    let (message, header_error) =
        match Message::parse_keeping_header_error(bytes.clone(), &g.limits()) {
            Ok(read) => read,
            Err(e) => {
                let failure = SchemaError::Message(e);
                match g.format {
                    Format::Json => print_json(&args.file, None, Err(None), Some(&failure))?,
                    Format::Text => print_failure(&file, &failure),
                }
                return Ok(Outcome::Rejected);
            }
        };
    // The entry that validates it: where the root names no standard or
    // version (xdomea 2 and 3), the one the service goes by.
    let validator = g.catalogue().map(|c| Validator::new(c, g.limits()));
    let entry = match &validator {
        Ok(v) => v.catalogue().lookup(&message).map_err(|e| e.to_string()),
        Err(e) => Err(format!("cannot load the schema catalogue: {e:#}")),
    };
    // A header that cannot be read is often wrong because the document is;
    // where the document's fault is the reason given, the header's own is
    // shown beside it.
    let header_reason = header_error.as_ref().map(ToString::to_string);
    let failure = match header_error {
        Some(e) => Some(match &validator {
            Ok(v) => v.header_failure(bytes, e),
            Err(_) => SchemaError::Message(e),
        }),
        // the header is read from the document's start: what follows it
        // (the body, anything after the root) must still be well-formed
        None => xoev_schema::parse_document(&bytes, &g.limits()).err(),
    };
    match g.format {
        Format::Json => print_json(
            &args.file,
            Some(&message),
            entry_ref(&entry),
            failure.as_ref(),
        )?,
        Format::Text => {
            // the header's own reason only beside the XSD's violations
            // (it may be one of them); a broken or unknown document's
            // header reason would mislead
            let unreadable = match &failure {
                Some(SchemaError::Invalid { .. }) => Some(header_reason),
                Some(_) => Some(None),
                None => None,
            };
            print_text(&message, unreadable);
            match &entry {
                Ok(e) => {
                    let differs = match message.version.as_deref() {
                        Some(v) if v != e.version => {
                            format!("; the root's version attribute says {v:?}")
                        }
                        _ => String::new(),
                    };
                    println!(
                        "catalogue:     {} {} ({}){differs}",
                        e.name, e.version, e.entry
                    );
                }
                Err(e) => println!("catalogue:     - ({e})"),
            }
            if let Some(f) = &failure {
                print_failure(&file, f);
            }
        }
    }
    Ok(match failure {
        Some(_) => Outcome::Rejected,
        None => Outcome::Ok,
    })
}

/// The catalogue entry for JSON, or why there is none.
fn entry_ref<'a>(entry: &'a Result<&SchemaEntry, String>) -> Result<CatalogueRef, Option<&'a str>> {
    match entry {
        Ok(e) => Ok(CatalogueRef::from(*e)),
        Err(why) => Err(Some(why)),
    }
}

/// `FILE:LINE:COL: [kind] message` for each issue, as `validate` prints them.
fn print_failure(file: &str, f: &SchemaError) {
    let kind = f.kind().as_str();
    for i in f.issues() {
        println!("{}: [{kind}] {}", issue_location(file, &i), i.message);
    }
}

/// One JSON object: `ok`, the envelope read (the message's fields, as
/// before), `catalogue` (or null, with `catalogue_error` where the
/// envelope was read), and on failure `kind`, `error`, `errors`, `line`,
/// `column`.
fn print_json(
    file: &Path,
    message: Option<&Message>,
    catalogue: Result<CatalogueRef, Option<&str>>,
    failure: Option<&SchemaError>,
) -> anyhow::Result<()> {
    let mut out = match message {
        Some(m) => match serde_json::to_value(m)? {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        },
        None => serde_json::Map::new(),
    };
    out.insert("ok".into(), failure.is_none().into());
    out.insert("file".into(), serde_json::to_value(file)?);
    match catalogue {
        Ok(c) => {
            out.insert("catalogue".into(), serde_json::to_value(c)?);
        }
        Err(why) => {
            out.insert("catalogue".into(), serde_json::Value::Null);
            if let Some(why) = why {
                out.insert("catalogue_error".into(), why.into());
            }
        }
    }
    if let Some(f) = failure {
        let issues = f.issues();
        let first = issues.first();
        out.insert("kind".into(), f.kind().as_str().into());
        out.insert(
            "error".into(),
            first.map(|i| i.message.clone()).unwrap_or_default().into(),
        );
        out.insert(
            "line".into(),
            serde_json::to_value(first.and_then(|i| i.line))?,
        );
        out.insert(
            "column".into(),
            serde_json::to_value(first.and_then(|i| i.column))?,
        );
        out.insert("errors".into(), serde_json::to_value(&issues)?);
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// The envelope and header; `unreadable`: the document tried to carry a
/// header that could not be read (the reason follows).
/// `unreadable`: the header cannot be read — `Some(None)` where that is
/// the failure printed below, `Some(Some(why))` where the document's own
/// fault is (`why`: the header's).
fn print_text(m: &Message, unreadable: Option<Option<String>>) {
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    println!("root:          {}", m.root);
    println!("standard:      {} {}", opt(&m.standard), opt(&m.version));
    println!(
        "product:       {} ({}) {}",
        opt(&m.product),
        opt(&m.producer),
        opt(&m.product_version)
    );
    if let Some(t) = &m.test {
        println!("test:          {t}");
    }
    let Some(h) = &m.header else {
        match unreadable {
            Some(None) => println!("header:        - (cannot be read, see below)"),
            Some(Some(why)) => println!(
                "header:        - (cannot be read: {why}; the document's own faults, below, come first)"
            ),
            // why a document without a header has none
            None => match m.require_header() {
                Err(e) => println!("header:        none ({})", e.detail),
                Ok(_) => println!("header:        none"),
            },
        }
        return;
    };
    println!("header form:   {:?}", h.form);
    println!("message id:    {}", h.message_id);
    if let Some(p) = &h.process_id {
        println!("process id:    {p} (xdomea ProzessID; the message id adds type and reader)");
    }
    let t = &h.message_type;
    println!(
        "message type:  {}{} (list {} version {})",
        t.code,
        t.name.as_ref().map(|n| format!(" {n}")).unwrap_or_default(),
        opt(&t.list_uri),
        opt(&t.list_version)
    );
    if let Some(mismatch) = h.type_mismatch() {
        println!("               ({mismatch})");
    }
    println!("created:       {}", h.created);
    if h.author_contact_only {
        println!("author:        - (named only by a contact person: not routable)");
    } else {
        println!(
            "author:        {}",
            authority(h.author.as_ref(), h.author_name_only.as_deref())
        );
    }
    println!(
        "reader:        {}",
        authority(h.reader.as_ref(), h.reader_name_only.as_deref())
    );
    for r in &h.further_readers {
        println!("further reader: {} (gets a copy)", authority(Some(r), None));
    }
    if h.further_readers_without_id > 0 {
        println!(
            "further reader: {} named without an identifier (no copy: not routable)",
            h.further_readers_without_id
        );
    }
    if let Some(id) = &h.in_reply_to {
        println!("in reply to:   {id}");
    }
}

/// An authority as `inspect` shows it; `name_only` where the header
/// names it without an identifier.
fn authority(a: Option<&Authority>, name_only: Option<&str>) -> String {
    match a {
        None => match name_only {
            Some(name) => format!("- {name} (named without an identifier: not routable)"),
            None => "-".into(),
        },
        Some(a) => format!(
            "{} [{}]{}",
            a.key(),
            a.directory.as_deref().unwrap_or("-"),
            a.name.as_ref().map(|n| format!(" {n}")).unwrap_or_default()
        ),
    }
}
