//! Shared test helpers: a test PKI (generated once per test binary), the XÖV
//! sample payload, and the `xmlsec1` command-line tool as a peer.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use xoev_dsig::pki::{Issued, KeyKind, TestCa};
use xoev_dsig::{Document, Signer, Verifier};

/// The real XÖV sample used as signed payload.
pub const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-einkommen.xml"
);

/// The sample's closing root tag.
pub const ROOT_END: &str = "</xn-de:DE.EvidenceRequest.0101>";

/// Fixture directory.
pub fn fixtures() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
}

pub fn sample() -> String {
    std::fs::read_to_string(SAMPLE).expect("sample present")
}

/// Everything the tests sign and verify with.
pub struct Pki {
    pub dir: PathBuf,
    pub trust: PathBuf,
    pub ca: TestCa,
    pub rsa: Issued,
    pub ec: Issued,
    pub ec2: Issued,
    pub expired: Issued,
    pub not_yet: Issued,
    pub rsa1024: Issued,
    pub untrusted: Issued,
    pub attacker_rsa: Issued,
}

pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        xoev_dsig::init().expect("init");
        // kept for the whole test process (a static is never dropped), so
        // under target/tmp rather than the system's /tmp
        let dir = tempfile::Builder::new()
            .prefix("xoev-dsig-test-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("tempdir")
            .keep();
        let ca = TestCa::generate("XOEV Test CA").expect("ca");
        let other = TestCa::generate("Other CA").expect("other ca");
        let trust = dir.join("trust");
        std::fs::create_dir_all(&trust).expect("mkdir");
        std::fs::write(trust.join("ca.pem"), ca.issued.cert_pem().expect("pem")).expect("write");
        ca.issued.write(&dir, "ca").expect("write");
        let p = Pki {
            rsa: ca
                .issue("Test Authority RSA", KeyKind::Rsa(2048), -1, 365)
                .expect("rsa"),
            ec: ca
                .issue("Test Authority EC", KeyKind::EcP256, -1, 365)
                .expect("ec"),
            ec2: ca
                .issue("Second Authority EC", KeyKind::EcP256, -1, 365)
                .expect("ec2"),
            expired: ca
                .issue("Expired Authority", KeyKind::EcP256, -400, -1)
                .expect("expired"),
            not_yet: ca
                .issue("Future Authority", KeyKind::EcP256, 10, 400)
                .expect("future"),
            rsa1024: ca
                .issue("Weak Authority", KeyKind::Rsa(1024), -1, 365)
                .expect("weak"),
            untrusted: other
                .issue("Untrusted Authority", KeyKind::EcP256, -1, 365)
                .expect("untrusted"),
            attacker_rsa: other
                .issue("Attacker", KeyKind::Rsa(2048), -1, 365)
                .expect("attacker"),
            dir,
            trust,
            ca,
        };
        for (stem, i) in [
            ("rsa", &p.rsa),
            ("ec", &p.ec),
            ("ec2", &p.ec2),
            ("expired", &p.expired),
            ("not-yet", &p.not_yet),
            ("rsa1024", &p.rsa1024),
            ("untrusted", &p.untrusted),
            ("attacker-rsa", &p.attacker_rsa),
        ] {
            i.write(&p.dir, stem).expect("write");
        }
        p
    })
}

impl Pki {
    pub fn signer(&self, i: &Issued) -> Signer {
        Signer::from_pem(&i.key_pem().expect("pem"), &i.cert_pem().expect("pem")).expect("signer")
    }

    pub fn verifier(&self) -> Verifier {
        Verifier::from_trust_dir(&self.trust).expect("verifier")
    }

    pub fn key(&self, stem: &str) -> PathBuf {
        self.dir.join(format!("{stem}.key.pem"))
    }

    pub fn cert(&self, stem: &str) -> PathBuf {
        self.dir.join(format!("{stem}.cert.pem"))
    }
}

pub fn parse(xml: &[u8]) -> Document {
    xoev_schema::parse_document(xml, &xoev_core::Limits::default()).expect("parses")
}

/// Signs the sample with `signer` and returns the serialised document.
pub fn signed_sample(signer: &Signer) -> String {
    String::from_utf8(signer.sign_bytes(sample().as_bytes()).expect("signs")).expect("utf-8")
}

/// A `ds:Signature` template (default namespace) for the xmlsec1 tool.
pub fn template(
    c14n: &str,
    method: &str,
    uri: &str,
    transforms: &str,
    digest: &str,
    key_info: &str,
) -> String {
    format!(
        r#"<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo><CanonicalizationMethod Algorithm="{c14n}"/><SignatureMethod Algorithm="{method}"/><Reference URI="{uri}"><Transforms>{transforms}</Transforms><DigestMethod Algorithm="{digest}"/><DigestValue/></Reference></SignedInfo><SignatureValue/><KeyInfo>{key_info}</KeyInfo></Signature>"#
    )
}

pub const T_ENVELOPED: &str =
    r#"<Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>"#;
pub const T_EXC: &str = r#"<Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#;
pub const X509: &str = "<X509Data/>";

/// The profile's template for `method`.
pub fn profile_template(method: &str) -> String {
    template(
        xoev_dsig::EXC_C14N,
        method,
        "",
        &format!("{T_ENVELOPED}{T_EXC}"),
        xoev_dsig::SHA256,
        X509,
    )
}

/// Inserts `fragment` before the closing root tag of `doc`.
pub fn insert_before_root_end(doc: &str, fragment: &str) -> String {
    let at = doc.rfind(ROOT_END).expect("root end");
    format!("{}{}{}", &doc[..at], fragment, &doc[at..])
}

/// Runs `xmlsec1` with `args`; returns (success, stdout+stderr).
pub fn xmlsec1(args: &[&str]) -> (bool, String) {
    let out = Command::new("xmlsec1")
        .args(args)
        .output()
        .expect("xmlsec1 runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Signs the sample with `template` inserted as the root's last child, with
/// the `xmlsec1` tool and `--privkey-pem key[,cert]`; extra args first.
pub fn xmlsec1_sign(
    doc: &str,
    template: &str,
    key: &Path,
    cert: Option<&Path>,
    extra: &[&str],
) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let tmpl = dir.path().join("tmpl.xml");
    let out = dir.path().join("out.xml");
    std::fs::write(&tmpl, insert_before_root_end(doc, template)).expect("write");
    let keyarg = match cert {
        Some(c) => format!("{},{}", key.display(), c.display()),
        None => key.display().to_string(),
    };
    let mut args: Vec<&str> = vec!["--sign"];
    args.extend_from_slice(extra);
    let out_s = out.display().to_string();
    let tmpl_s = tmpl.display().to_string();
    args.extend_from_slice(&["--privkey-pem", &keyarg, "--output", &out_s, &tmpl_s]);
    let (ok, text) = xmlsec1(&args);
    assert!(ok, "xmlsec1 --sign failed: {text}");
    std::fs::read_to_string(&out).expect("signed output")
}

/// Verifies a document file with the `xmlsec1` tool against the test CA.
pub fn xmlsec1_verify(doc: &str, extra: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("doc.xml");
    std::fs::write(&f, doc).expect("write");
    let ca = pki().cert("ca").display().to_string();
    let f_s = f.display().to_string();
    let mut args = vec!["--verify", "--trusted-pem", &ca];
    args.extend_from_slice(extra);
    args.push(&f_s);
    xmlsec1(&args)
}
