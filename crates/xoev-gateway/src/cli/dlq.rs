//! `xoev-gateway dlq list|show ID|replay ID|replay --all [--filter K=V]|purge --yes`

use super::queues::{OpsArgs, block_on, outcome_of, print_error};
use super::{Format, Global, Outcome};
use clap::{Args, Subcommand};
use std::io::Write as _;
use xoev_ops::{DeadLetter, Filter, Selection};

/// Arguments of `dlq`.
#[derive(Debug, Args)]
pub struct DlqArgs {
    #[command(flatten)]
    pub ops: OpsArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: DlqCommand,
}

/// The `dlq` subcommands.
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead letters (oldest first) without removing or reordering them.
    List {
        /// Only those matching KEY=VALUE (stage, reason, sender, reader, type, queue); repeatable.
        #[arg(long = "filter", value_name = "KEY=VALUE")]
        filters: Vec<String>,
        /// Look at no more than N messages.
        #[arg(long, default_value_t = 1000, value_name = "N")]
        limit: usize,
    },
    /// Show one dead letter: its headers and the message.
    Show {
        /// The id from `dlq list` (the message id).
        id: String,
    },
    /// Republish dead letters to the inbound exchange, each exactly once.
    Replay {
        /// The id from `dlq list`.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Every dead letter (matching the filters).
        #[arg(long)]
        all: bool,
        /// With --all: only those matching KEY=VALUE; repeatable.
        #[arg(long = "filter", value_name = "KEY=VALUE", requires = "all")]
        filters: Vec<String>,
    },
    /// Delete every dead letter for good.
    Purge {
        /// Confirms the purge (required).
        #[arg(long)]
        yes: bool,
    },
}

/// Runs `dlq …`.
pub fn run(g: &Global, args: &DlqArgs) -> anyhow::Result<Outcome> {
    let format = g.format;
    let filter = |exprs: &[String]| Filter::parse_all(exprs.iter().map(String::as_str));
    if let DlqCommand::Purge { yes: false } = &args.command {
        let e = xoev_ops::OpsError::new(
            xoev_ops::OpsErrorKind::ConfirmationRequired,
            "purge deletes every dead letter for good: add --yes to confirm",
        );
        print_error(format, &e);
        return Ok(Outcome::IoError);
    }
    let parsed = match &args.command {
        DlqCommand::List { filters, .. } => filter(filters).map(Some),
        DlqCommand::Replay { filters, .. } => filter(filters).map(Some),
        _ => Ok(None),
    };
    let parsed = match parsed {
        Ok(f) => f.unwrap_or_default(),
        Err(e) => {
            print_error(format, &e);
            return Ok(Outcome::IoError);
        }
    };
    let ops = args.ops.ops()?;
    block_on(async move {
        let outcome = match &args.command {
            DlqCommand::List { limit, .. } => match ops.dead_letters(&parsed, *limit).await {
                Ok(list) => {
                    if format == Format::Json {
                        println!("{}", serde_json::to_string_pretty(&list)?);
                    } else {
                        for d in &list.items {
                            println!("{}", line(d));
                        }
                        let more = if list.truncated {
                            format!(", stopped after {} (--limit)", list.scanned)
                        } else {
                            String::new()
                        };
                        println!(
                            "{} shown of {} in {}{more}",
                            list.items.len(),
                            list.total,
                            list.queue
                        );
                    }
                    Outcome::Ok
                }
                Err(e) => {
                    print_error(format, &e);
                    outcome_of(&e)
                }
            },
            DlqCommand::Show { id } => match ops.dead_letter(id).await {
                Ok(d) => {
                    if format == Format::Json {
                        println!("{}", serde_json::to_string_pretty(&d)?);
                    } else {
                        println!("{}", line(&d.summary));
                        if let Some(r) = &d.summary.reason {
                            println!("reason: {r}");
                        }
                        println!("headers: {}", serde_json::to_string_pretty(&d.headers)?);
                        println!();
                        let mut out = std::io::stdout().lock();
                        out.write_all(&d.body)?;
                        out.write_all(b"\n")?;
                    }
                    Outcome::Ok
                }
                Err(e) => {
                    print_error(format, &e);
                    outcome_of(&e)
                }
            },
            DlqCommand::Replay { id, .. } => {
                let selection = match id {
                    Some(id) => Selection::Id(id.clone()),
                    None => Selection::All(parsed),
                };
                match ops.replay(&selection).await {
                    Ok(report) => {
                        if format == Format::Json {
                            println!("{}", serde_json::to_string_pretty(&report)?);
                        } else {
                            for r in &report.replayed {
                                println!(
                                    "replayed {} → {} (attempts now {}, replay {})",
                                    line(&r.dead_letter),
                                    r.exchange,
                                    r.attempts,
                                    r.replays
                                );
                            }
                            println!(
                                "{} replayed, {} looked at",
                                report.replayed.len(),
                                report.scanned
                            );
                        }
                        match &report.stopped {
                            Some(e) => {
                                if format == Format::Text {
                                    eprintln!("replay stopped: {e}");
                                }
                                outcome_of(e).worst(Outcome::IoError)
                            }
                            None => Outcome::Ok,
                        }
                    }
                    Err(e) => {
                        print_error(format, &e);
                        outcome_of(&e)
                    }
                }
            }
            DlqCommand::Purge { .. } => match ops.purge(true).await {
                Ok(record) => {
                    if format == Format::Json {
                        println!("{}", serde_json::to_string_pretty(&record)?);
                    } else {
                        println!("purged {} message(s) from {}", record.purged, record.queue);
                    }
                    Outcome::Ok
                }
                Err(e) => {
                    print_error(format, &e);
                    outcome_of(&e)
                }
            },
        };
        ops.close().await;
        Ok(outcome)
    })?
}

/// One dead letter on one line.
fn line(d: &DeadLetter) -> String {
    let or = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let time = d
        .failed_at
        .and_then(|t| i64::try_from(t).ok())
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "-".into());
    format!(
        "{}  {} → {}  type {}  stage {}  reason {}  attempts {}  {}",
        d.id,
        or(&d.sender),
        or(&d.reader),
        or(&d.message_type),
        or(&d.stage),
        or(&d.reason_kind),
        d.attempts,
        time
    )
}
