//! `xoev-gateway inspect FILE`

use super::{Format, Global, Outcome, read_input};
use clap::Args;
use std::path::PathBuf;
use xoev_core::{Authority, Message};

/// Arguments of `inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The message (`-` reads stdin).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Prints the envelope and XÖV header of one message.
pub fn run(g: &Global, args: &InspectArgs) -> anyhow::Result<Outcome> {
    let bytes = match read_input(&args.file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{}: cannot read: {e}", args.file.display());
            return Ok(Outcome::IoError);
        }
    };
    let message = match Message::parse(bytes, &g.limits()) {
        Ok(m) => m,
        Err(e) => {
            match g.format {
                Format::Json => println!(
                    "{}",
                    serde_json::json!({"ok": false, "kind": e.kind.as_str(), "error": e.to_string(), "line": e.line, "column": e.column})
                ),
                Format::Text => println!("{}: {e}", args.file.display()),
            }
            return Ok(Outcome::Rejected);
        }
    };
    match g.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&message)?),
        Format::Text => {
            print_text(&message);
            // The entry that validates it: where the root names no standard
            // or version (xdomea 2 and 3), the one the service goes by.
            let entry = g.catalogue().map_err(|e| e.to_string()).and_then(|c| {
                c.lookup(&message)
                    .map(|e| {
                        let differs = match message.version.as_deref() {
                            Some(v) if v != e.version => {
                                format!("; the root's version attribute says {v:?}")
                            }
                            _ => String::new(),
                        };
                        format!("{} {} ({}){differs}", e.name, e.version, e.entry)
                    })
                    .map_err(|e| e.to_string())
            });
            match entry {
                Ok(e) => println!("catalogue:     {e}"),
                Err(e) => println!("catalogue:     - ({e})"),
            }
        }
    }
    Ok(Outcome::Ok)
}

fn print_text(m: &Message) {
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
        println!("header:        none");
        return;
    };
    println!("header form:   {:?}", h.form);
    println!("message id:    {}", h.message_id);
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
