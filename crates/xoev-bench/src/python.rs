//! The Python baseline (`bench/python/`): lxml + python-xmlsec doing the same
//! verify + validate + sign on the same message with the same keys.

use crate::setup::Fixture;
use anyhow::Context as _;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Rates of the Python cases and the versions it ran with.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// Case name → operations per second.
    pub rates: BTreeMap<String, f64>,
    /// "Python x, lxml y, libxml2 z, xmlsec w".
    pub versions: String,
}

/// Runs `bench/python/run` (creates its virtualenv on first use).
pub fn run(f: &Fixture, work: &Path, secs: f64, rounds: usize) -> anyhow::Result<Baseline> {
    let files = f.write_files(&work.join("python"))?;
    let script = f.root.join("bench/python/run");
    let out = Command::new(&script)
        .arg("--schemas")
        .arg(f.root.join("schemas"))
        .args(["--xsd", "xnachweis/1.2.0/xnachweis-de-noots.xsd"])
        .arg("--signed")
        .arg(&files.signed)
        .arg("--trusted")
        .arg(&files.trusted)
        .arg("--ec-key")
        .arg(&files.ec_key)
        .arg("--ec-cert")
        .arg(&files.ec_cert)
        .arg("--rsa-key")
        .arg(&files.rsa_key)
        .arg("--rsa-cert")
        .arg(&files.rsa_cert)
        .args([
            "--secs",
            &secs.to_string(),
            "--rounds",
            &rounds.to_string(),
            "--json",
        ])
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        anyhow::bail!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse(&out.stdout)
}

/// Reads the script's JSON line.
fn parse(stdout: &[u8]) -> anyhow::Result<Baseline> {
    let v: serde_json::Value = serde_json::from_slice(stdout).context("the script's JSON")?;
    let rates = v["rates"]
        .as_object()
        .context("no rates")?
        .iter()
        .filter_map(|(k, r)| r.as_f64().map(|r| (k.clone(), r)))
        .collect();
    let s = |k: &str| v[k].as_str().unwrap_or("?").to_owned();
    Ok(Baseline {
        rates,
        versions: format!(
            "Python {}, lxml {}, libxml2 {}, python-xmlsec {}",
            s("python"),
            s("lxml"),
            s("libxml2"),
            s("xmlsec")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_scripts_json() {
        let b = parse(br#"{"python":"3.11.7","lxml":"6.1.3","libxml2":"2.14.6","xmlsec":"1.3.17","message_bytes":7000,"rates":{"parse":46000.5,"pipeline_ec":1167.0}}"#)
            .expect("valid");
        assert_eq!(b.rates["pipeline_ec"], 1167.0);
        assert_eq!(b.rates.len(), 2);
        assert!(b.versions.contains("lxml 6.1.3"));
    }

    #[test]
    fn rejects_output_without_rates() {
        assert!(parse(b"{}").is_err());
        assert!(parse(b"not json").is_err());
    }
}
