//! `xoev-gateway cases open`: the forwarded evidence requests still waiting
//! for their answer — which authority has not answered whom, about what,
//! for how long. Ids, authorities and evidence types only: no personal data.

use super::audit::{StoreArgs, runtime};
use super::{Format, Global, Outcome};
use crate::cases::{self, OpenRequest};
use clap::{Args, Subcommand};
use std::time::{SystemTime, UNIX_EPOCH};

/// `cases` arguments.
#[derive(Debug, Args)]
pub struct CasesArgs {
    #[command(subcommand)]
    command: CasesCommand,
}

#[derive(Debug, Subcommand)]
enum CasesCommand {
    /// List the forwarded requests no answer has claimed yet, oldest first
    /// (read beside a running gateway without disturbing it).
    Open {
        #[command(flatten)]
        store: StoreArgs,
        /// Only requests forwarded at least this long ago: a number and a
        /// unit, `s`, `m`, `h` or `d` (e.g. `7d`).
        #[arg(long, value_name = "AGE", value_parser = parse_age)]
        older_than: Option<u64>,
    },
}

/// Runs `cases`.
pub fn run(g: &Global, args: &CasesArgs) -> anyhow::Result<Outcome> {
    match &args.command {
        CasesCommand::Open { store, older_than } => {
            let is_url =
                store.store.starts_with("postgres://") || store.store.starts_with("postgresql://");
            if !is_url && !std::path::Path::new(&store.store).is_dir() {
                // a mistyped path is not an empty store
                anyhow::bail!("no store directory {}", store.store);
            }
            let mut open =
                runtime()?.block_on(cases::open_requests(&store.store, &store.pg_schema))?;
            let now = unix_now();
            if let Some(age) = older_than {
                // a request whose time the store did not record is kept: it is old
                open.retain(|r| {
                    r.forwarded_at
                        .is_none_or(|at| now.saturating_sub(at) >= *age as i64)
                });
            }
            match g.format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&open)?),
                Format::Text => print_text(&open, now),
            }
            Ok(Outcome::Ok)
        }
    }
}

fn print_text(open: &[OpenRequest], now: i64) {
    if open.is_empty() {
        println!("no open requests");
        return;
    }
    println!(
        "{:<10} {:<18} {:<18} {:<38} {:<38} evidence type",
        "waiting", "from", "to", "case", "forwarded as"
    );
    for r in open {
        let waiting = r
            .forwarded_at
            .map_or_else(|| "?".to_owned(), |at| age(now.saturating_sub(at)));
        println!(
            "{waiting:<10} {:<18} {:<18} {:<38} {:<38} {}",
            r.requester, r.forwarded_to, r.case_id, r.forwarded_id, r.evidence_type
        );
    }
    println!("{} open request(s)", open.len());
}

/// `seconds` as the largest whole unit: `3d`, `5h`, `12m`, `40s`.
fn age(seconds: i64) -> String {
    match seconds {
        s if s >= 86_400 => format!("{}d", s / 86_400),
        s if s >= 3_600 => format!("{}h", s / 3_600),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// `7d`, `12h`, `30m`, `90s` as seconds.
fn parse_age(s: &str) -> Result<u64, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?}: expected a number and a unit (s, m, h, d), e.g. 7d"))?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: the unit is s, m, h or d")),
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("{s:?}: too long"))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_and_print_in_whole_units() {
        assert_eq!(parse_age("7d"), Ok(7 * 86_400));
        assert_eq!(parse_age("12h"), Ok(12 * 3_600));
        assert_eq!(parse_age("90s"), Ok(90));
        assert!(parse_age("7").is_err());
        assert!(parse_age("d").is_err());
        assert!(parse_age("7w").is_err());
        assert!(parse_age("99999999999999999999d").is_err());
        assert_eq!(age(3 * 86_400 + 5), "3d");
        assert_eq!(age(7_200), "2h");
        assert_eq!(age(59), "59s");
    }
}
