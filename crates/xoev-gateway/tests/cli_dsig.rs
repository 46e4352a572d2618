//! `keys generate`, `sign` and `verify` as a user runs them: exit codes
//! 0 (ok) / 1 (rejected, with the reason) / 2 (usage or I/O), JSON output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn gateway(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xoev-gateway"));
    c.args(args).current_dir(root()).env_remove("XOEV_SCHEMAS");
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("run xoev-gateway")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

const KITA: &str = "tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-einkommen.xml";

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// A generated test PKI in a fresh directory.
fn pki() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = dir.path().join("pki");
    let o = gateway(&["keys", "generate", "--out", &s(&pki)], &[]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "ca.cert.pem",
        "trust/ca.cert.pem",
        "authority-rsa.key.pem",
        "authority-ec.cert.pem",
        "expired.cert.pem",
    ] {
        assert!(pki.join(f).is_file(), "{f} written");
    }
    (dir, pki)
}

fn sign_with(pki: &Path, stem: &str, out: &Path) {
    let o = gateway(
        &[
            "sign",
            "--key",
            &s(&pki.join(format!("{stem}.key.pem"))),
            "--cert",
            &s(&pki.join(format!("{stem}.cert.pem"))),
            "--out",
            &s(out),
            KITA,
        ],
        &[],
    );
    assert_eq!(
        code(&o),
        0,
        "{}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// RSASSA-PSS (`--algorithm rsa-pss-sha256`) with an RSA key: signed,
/// named in `SignatureMethod`, verified; an EC key cannot sign it.
#[test]
fn sign_with_rsa_pss_and_verify() {
    let (dir, pki) = pki();
    let trust = s(&pki.join("trust"));
    let signed = dir.path().join("pss.xml");
    let key = |stem: &str| {
        [
            s(&pki.join(format!("{stem}.key.pem"))),
            s(&pki.join(format!("{stem}.cert.pem"))),
        ]
    };
    let sign_pss = |stem: &str, out: &[&str]| {
        let [k, c] = key(stem);
        let mut args = vec![
            "sign",
            "--key",
            &k,
            "--cert",
            &c,
            "--algorithm",
            "rsa-pss-sha256",
        ];
        args.extend_from_slice(out);
        args.push(KITA);
        gateway(&args, &[])
    };
    let o = sign_pss("authority-rsa", &["--out", &s(&signed)]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&signed).expect("read");
    assert!(text.contains(xoev_dsig::RSA_PSS_SHA256), "{text}");
    let o = gateway(&["verify", "--trust", &trust, &s(&signed)], &[]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(
        stdout(&o).contains("CN=Test Authority RSA, rsa-pss-sha256"),
        "{}",
        stdout(&o)
    );

    let o = sign_pss("authority-ec", &[]);
    assert_ne!(code(&o), 0);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("rsa-pss-sha256 needs an RSA key"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn sign_then_verify_and_every_exit_code() {
    let (dir, pki) = pki();
    let trust = s(&pki.join("trust"));
    let signed = dir.path().join("signed.xml");
    sign_with(&pki, "authority-ec", &signed);

    let o = gateway(&["verify", "--trust", &trust, &s(&signed)], &[]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(
        stdout(&o).contains(
            "ok (signed by C=DE, O=XOEV Gateway Test, CN=Test Authority EC, ecdsa-sha256"
        )
    );

    let o = gateway(
        &["--format", "json", "verify", "--trust", &trust, &s(&signed)],
        &[],
    );
    assert_eq!(code(&o), 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v[0]["ok"], true);
    assert_eq!(v[0]["algorithm"], "ecdsa-sha256");
    assert_eq!(v[0]["signer_cert_sha256"].as_str().map(str::len), Some(64));
    let fingerprint = v[0]["signer_cert_sha256"].as_str().unwrap_or_default();
    // the right fingerprint, also written with colons; a mistyped one is
    // a usage error, not "wrong signer"
    let colons = fingerprint
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).to_uppercase())
        .collect::<Vec<_>>()
        .join(":");
    for good in [fingerprint, colons.as_str()] {
        let o = gateway(
            &[
                "verify",
                "--trust",
                &trust,
                "--expect-sha256",
                good,
                &s(&signed),
            ],
            &[],
        );
        assert_eq!(code(&o), 0, "{good}: {}", stdout(&o));
    }
    let o = gateway(
        &[
            "verify",
            "--trust",
            &trust,
            "--expect-sha256",
            "zz",
            &s(&signed),
        ],
        &[],
    );
    assert_eq!(code(&o), 2);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not a SHA-256 fingerprint"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Tampered after signing: rejected with the reason, exit 1.
    let text = std::fs::read_to_string(&signed).expect("read");
    let tampered = dir.path().join("tampered.xml");
    std::fs::write(
        &tampered,
        text.replace("Finanzamt Musterstadt", "Finanzamt Boeseburg"),
    )
    .expect("write");
    let o = gateway(&["verify", "--trust", &trust, &s(&tampered)], &[]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("[digest-mismatch]"), "{}", stdout(&o));

    // The folder holding both: each file on its own line, exit 1.
    let o = gateway(&["verify", "--trust", &trust, &s(dir.path())], &[]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("signed.xml: ok (signed by"), "{out}");
    assert!(out.contains("tampered.xml: [digest-mismatch]"), "{out}");

    // Unsigned, wrong signer, expired: exit 1 with distinct kinds.
    let o = gateway(
        &["--format", "json", "verify", "--trust", &trust, KITA],
        &[],
    );
    assert_eq!(code(&o), 1);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v[0]["kind"], "no-signature");
    let o = gateway(
        &[
            "verify",
            "--trust",
            &trust,
            "--expect-subject",
            "C=DE, O=XOEV Gateway Test, CN=Test Authority RSA",
            &s(&signed),
        ],
        &[],
    );
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("[wrong-signer]"));
    let expired = dir.path().join("expired.xml");
    sign_with(&pki, "expired", &expired);
    let o = gateway(&["verify", "--trust", &trust, &s(&expired)], &[]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("[expired-certificate]"));

    // I/O: a missing file, a missing trust store: exit 2.
    let o = gateway(
        &[
            "verify",
            "--trust",
            &trust,
            &s(&dir.path().join("missing.xml")),
        ],
        &[],
    );
    assert_eq!(code(&o), 2);
    let o = gateway(
        &[
            "verify",
            "--trust",
            &s(&dir.path().join("none")),
            &s(&signed),
        ],
        &[],
    );
    assert_eq!(code(&o), 2);

    // The signed file also verifies with the xmlsec1 tool.
    let x = Command::new("xmlsec1")
        .args([
            "--verify",
            "--trusted-pem",
            &s(&pki.join("ca.cert.pem")),
            &s(&signed),
        ])
        .output()
        .expect("xmlsec1");
    assert!(x.status.success(), "{}", String::from_utf8_lossy(&x.stderr));
}

#[test]
fn sign_with_pkcs12_password_from_env_or_file_never_the_command_line() {
    let (dir, pki) = pki();
    let p12 = dir.path().join("authority.p12");
    let o = Command::new("openssl")
        .args([
            "pkcs12",
            "-export",
            "-inkey",
            &s(&pki.join("authority-rsa.key.pem")),
            "-in",
            &s(&pki.join("authority-rsa.cert.pem")),
            "-out",
            &s(&p12),
            "-passout",
            "pass:geheim",
        ])
        .output()
        .expect("openssl");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = dir.path().join("p12.xml");
    let o = gateway(
        &[
            "sign",
            "--pkcs12",
            &s(&p12),
            "--password-env",
            "XOEV_TEST_P12",
            "-o",
            &s(&out),
            KITA,
        ],
        &[("XOEV_TEST_P12", "geheim")],
    );
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let o = gateway(
        &["verify", "--trust", &s(&pki.join("trust")), &s(&out)],
        &[],
    );
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("rsa-sha256"));

    let pw = dir.path().join("pw");
    std::fs::write(&pw, "geheim\n").expect("write");
    let o = gateway(
        &[
            "sign",
            "--pkcs12",
            &s(&p12),
            "--password-file",
            &s(&pw),
            KITA,
        ],
        &[],
    );
    assert_eq!(code(&o), 0);
    assert!(
        stdout(&o).contains("<ds:Signature"),
        "signed message on stdout"
    );

    // Wrong password, no password source, no key at all: exit 2.
    std::fs::write(&pw, "falsch\n").expect("write");
    let o = gateway(
        &[
            "sign",
            "--pkcs12",
            &s(&p12),
            "--password-file",
            &s(&pw),
            KITA,
        ],
        &[],
    );
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("wrong password"));
    let o = gateway(&["sign", "--pkcs12", &s(&p12), KITA], &[]);
    assert_eq!(code(&o), 2);
    let o = gateway(&["sign", KITA], &[]);
    assert_eq!(code(&o), 2);
}

#[test]
fn keys_revoke_writes_a_crl_that_verify_applies_and_extends_it() {
    let (dir, pki) = pki();
    let ec_signed = dir.path().join("ec.signed.xml");
    let rsa_signed = dir.path().join("rsa.signed.xml");
    sign_with(&pki, "authority-ec", &ec_signed);
    sign_with(&pki, "authority-rsa", &rsa_signed);
    let trust = pki.join("trust");
    let crl = trust.join("ca.crl");
    let revoke = |certs: &[&str], days: &str| {
        let mut args = vec![
            "keys".to_owned(),
            "revoke".into(),
            "--ca-key".into(),
            s(&pki.join("ca.key.pem")),
            "--ca-cert".into(),
            s(&pki.join("ca.cert.pem")),
            "--out".into(),
            s(&crl),
            "--days".into(),
            days.into(),
        ];
        args.extend(certs.iter().map(|c| s(&pki.join(c))));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        gateway(&args, &[])
    };
    let o = revoke(&["authority-ec.cert.pem"], "7");
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        stdout(&o).contains("1 certificates revoked, next update due in 7 days"),
        "{}",
        stdout(&o)
    );
    let verify = |file: &Path, extra: &[&str]| {
        let mut args = vec!["verify", "--trust"];
        let t = s(&trust);
        args.push(&t);
        args.extend_from_slice(extra);
        let f = s(file);
        args.push(&f);
        gateway(&args, &[])
    };
    let o = verify(&ec_signed, &[]);
    assert_eq!(code(&o), 1, "revoked is a rejection: {}", stdout(&o));
    assert!(
        stdout(&o).contains("[revoked-certificate]"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("CN=Test Authority EC"),
        "{}",
        stdout(&o)
    );
    assert_eq!(code(&verify(&rsa_signed, &[])), 0);

    // The next CRL keeps the first entry and adds the second.
    let o = revoke(&["authority-rsa.cert.pem"], "7");
    assert!(
        stdout(&o).contains("2 certificates revoked"),
        "{}",
        stdout(&o)
    );
    let o = verify(&rsa_signed, &["--format", "json"]);
    assert_eq!(code(&o), 1);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(json[0]["kind"], "revoked-certificate");
    assert_eq!(code(&verify(&ec_signed, &[])), 1, "still revoked");
    assert!(!trust.join("ca.crl.tmp").exists());

    // A certificate of another CA is refused, and the CRL stays as it was.
    let before = std::fs::read(&crl).expect("crl");
    let other = tempfile::tempdir().expect("tempdir");
    let o = gateway(&["keys", "generate", "--out", &s(other.path())], &[]);
    assert_eq!(code(&o), 0);
    let o = revoke(&[], "7");
    assert_eq!(code(&o), 0, "renewing without new entries");
    let renewed = std::fs::read(&crl).expect("crl");
    assert_ne!(before, renewed);
    let foreign = s(&other.path().join("authority-ec.cert.pem"));
    let o = gateway(
        &[
            "keys",
            "revoke",
            "--ca-key",
            &s(&pki.join("ca.key.pem")),
            "--ca-cert",
            &s(&pki.join("ca.cert.pem")),
            "--out",
            &s(&crl),
            &foreign,
        ],
        &[],
    );
    assert_eq!(code(&o), 2, "{}", stdout(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not issued by this CA"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(std::fs::read(&crl).expect("crl"), renewed);

    // `required`: the CRL is there, so the RSA message is judged on it;
    // without any CRL, required makes revocation unknown (exit 2: the
    // trust store, not the message, is at fault).
    std::fs::remove_file(&crl).expect("rm");
    assert_eq!(code(&verify(&rsa_signed, &[])), 0);
    let o = verify(&rsa_signed, &["--revocation", "required"]);
    assert_eq!(code(&o), 2, "{}", stdout(&o));
    assert!(
        stdout(&o).contains("[revocation-unknown]"),
        "{}",
        stdout(&o)
    );
}

/// A signed message validates, and `route` routes it, as the service takes
/// it: the content without its enveloped signature (which `verify`
/// checks); `validate` says so. A signature moved into the content is
/// refused by the XSD.
#[test]
fn validate_and_route_take_a_signed_message_without_its_signature() {
    let (_dir, pki) = pki();
    let signed = pki.join("signed.xml");
    sign_with(&pki, "authority-ec", &signed);
    let o = gateway(&["validate", &s(&signed)], &[]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(
        stdout(&o).contains(
            "ok (XNachweis 1.2.0; signed: the content without its signature, which `verify` checks)"
        ),
        "{}",
        stdout(&o)
    );
    let o = gateway(&["--format", "json", "validate", &s(&signed)], &[]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(
        (&j[0]["ok"], &j[0]["signed"]),
        (&true.into(), &true.into()),
        "{j}"
    );
    let o = gateway(&["route", &s(&signed)], &[]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(stdout(&o).contains(": routed\n"), "{}", stdout(&o));

    let text = std::fs::read_to_string(&signed).expect("read");
    let start = text.find("<ds:Signature").expect("signature");
    let end = text.find("</ds:Signature>").expect("end") + "</ds:Signature>".len();
    let without = format!("{}{}", &text[..start], &text[end..]);
    let at = without.find("</").expect("an end tag");
    let nested = pki.join("nested.xml");
    std::fs::write(
        &nested,
        format!("{}{}{}", &without[..at], &text[start..end], &without[at..]),
    )
    .expect("write");
    let o = gateway(&["validate", &s(&nested)], &[]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    assert!(stdout(&o).contains("[xsd-invalid]"), "{}", stdout(&o));
}

/// What the gateway refuses is not signed either, and the refusal names
/// its kind and place as `validate` does: another encoding than UTF-8, a
/// DOCTYPE, XML that is not well-formed.
#[test]
fn sign_refuses_what_the_gateway_refuses_with_kind_and_place() {
    let (dir, pki) = pki();
    let kassel = std::fs::read_to_string(root().join(KITA)).expect("sample");
    let utf16: Vec<u8> = kassel
        .replacen("encoding=\"UTF-8\"", "encoding=\"UTF-16\"", 1)
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let mut with_bom = vec![0xFF, 0xFE];
    with_bom.extend(utf16);
    let cases: [(&str, Vec<u8>, &str); 3] = [
        ("utf16.xml", with_bom, "utf16.xml:1:1: [encoding] "),
        (
            "doctype.xml",
            b"<?xml version=\"1.0\"?>\n<!DOCTYPE a [<!ENTITY x \"y\">]>\n<a>&x;</a>\n".to_vec(),
            "doctype.xml:2:1: [doctype-refused] ",
        ),
        (
            "broken.xml",
            b"<a xmlns=\"urn:x\">\n  <b>AT&T</b>\n</a>\n".to_vec(),
            "broken.xml:2:",
        ),
    ];
    for (name, bytes, expected) in cases {
        let f = dir.path().join(name);
        std::fs::write(&f, bytes).expect("write");
        let o = gateway(
            &[
                "sign",
                "--key",
                &s(&pki.join("authority-ec.key.pem")),
                "--cert",
                &s(&pki.join("authority-ec.cert.pem")),
                &s(&f),
            ],
            &[],
        );
        assert_eq!(code(&o), 1, "{name}: {}", stdout(&o));
        assert!(stdout(&o).contains(expected), "{name}: {}", stdout(&o));
    }
}

/// Test-key tooling refuses what it would otherwise do silently: a second
/// `keys generate` into a directory with a CA (its certificates would stop
/// verifying) unless `--force`; a password file beside a PEM key (it
/// would be ignored).
#[test]
fn keys_and_sign_refuse_what_they_would_ignore_or_regret() {
    let (_dir, pki) = pki();
    let ca_before = std::fs::read(pki.join("ca.cert.pem")).expect("ca");
    let o = gateway(&["keys", "generate", "--out", &s(&pki)], &[]);
    assert_eq!(code(&o), 2);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("already holds a test CA"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        std::fs::read(pki.join("ca.cert.pem")).expect("ca"),
        ca_before
    );
    let o = gateway(&["keys", "generate", "--out", &s(&pki), "--force"], &[]);
    assert_eq!(code(&o), 0);
    assert_ne!(
        std::fs::read(pki.join("ca.cert.pem")).expect("ca"),
        ca_before
    );

    let pw = pki.join("pw");
    std::fs::write(&pw, "secret\n").expect("write");
    let o = gateway(
        &[
            "sign",
            "--key",
            &s(&pki.join("authority-ec.key.pem")),
            "--cert",
            &s(&pki.join("authority-ec.cert.pem")),
            "--password-file",
            &s(&pw),
            KITA,
        ],
        &[],
    );
    assert_eq!(code(&o), 2);
}
