//! A test PKI for demos and tests (`xoev-gateway keys generate`): a test CA,
//! authority keys and certificates signed by it. Not for production keys.

use crate::error::{DsigError, DsigErrorKind};
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, CrlNumber, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{
    X509, X509Builder, X509Crl, X509CrlBuilder, X509CrlRef, X509NameBuilder, X509Ref,
    X509RevokedBuilder,
};
use std::path::{Path, PathBuf};

/// The kind of key to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA with this many bits.
    Rsa(u32),
    /// ECDSA on P-256.
    EcP256,
}

/// A generated key and its certificate.
pub struct Issued {
    /// The private key.
    pub key: PKey<Private>,
    /// The certificate.
    pub cert: X509,
}

impl Issued {
    /// The private key as PKCS#8 PEM.
    pub fn key_pem(&self) -> Result<Vec<u8>, DsigError> {
        Ok(self.key.private_key_to_pem_pkcs8()?)
    }

    /// The certificate as PEM.
    pub fn cert_pem(&self) -> Result<Vec<u8>, DsigError> {
        Ok(self.cert.to_pem()?)
    }

    /// Writes `<stem>.key.pem` (mode 0600) and `<stem>.cert.pem` into `dir`.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<(PathBuf, PathBuf), DsigError> {
        let key = dir.join(format!("{stem}.key.pem"));
        let cert = dir.join(format!("{stem}.cert.pem"));
        write_private(&key, &self.key_pem()?)?;
        write(&cert, &self.cert_pem()?)?;
        Ok((key, cert))
    }
}

fn io(path: &Path, e: std::io::Error) -> DsigError {
    DsigError::new(
        DsigErrorKind::Key,
        format!("cannot write {}: {e}", path.display()),
    )
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), DsigError> {
    std::fs::write(path, bytes).map_err(|e| io(path, e))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), DsigError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io(path, e))?;
    f.write_all(bytes).map_err(|e| io(path, e))
}

/// Generates a key of `kind`.
pub fn generate_key(kind: KeyKind) -> Result<PKey<Private>, DsigError> {
    Ok(match kind {
        KeyKind::Rsa(bits) => PKey::from_rsa(Rsa::generate(bits)?)?,
        KeyKind::EcP256 => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
            PKey::from_ec_key(EcKey::generate(&group)?)?
        }
    })
}

fn serial() -> Result<Asn1Integer, DsigError> {
    let mut bn = BigNum::new()?;
    bn.rand(127, MsbOption::MAYBE_ZERO, false)?;
    Ok(bn.to_asn1_integer()?)
}

fn time(offset_days: i64) -> Result<Asn1Time, DsigError> {
    let t = crate::trust::now() + offset_days * 86_400;
    Ok(Asn1Time::from_unix(t)?)
}

fn name(cn: &str) -> Result<openssl::x509::X509Name, DsigError> {
    let mut n = X509NameBuilder::new()?;
    n.append_entry_by_text("C", "DE")?;
    n.append_entry_by_text("O", "XOEV Gateway Test")?;
    n.append_entry_by_text("CN", cn)?;
    Ok(n.build())
}

/// A test certificate authority.
pub struct TestCa {
    /// The CA's key and self-signed certificate.
    pub issued: Issued,
}

impl TestCa {
    /// A new self-signed CA (ECDSA P-256, valid from yesterday for 20 years).
    pub fn generate(cn: &str) -> Result<Self, DsigError> {
        let key = generate_key(KeyKind::EcP256)?;
        let mut b = X509Builder::new()?;
        b.set_version(2)?;
        let sn = serial()?;
        b.set_serial_number(&sn)?;
        let n = name(cn)?;
        b.set_subject_name(&n)?;
        b.set_issuer_name(&n)?;
        b.set_pubkey(&key)?;
        let nb = time(-1)?;
        b.set_not_before(&nb)?;
        let na = time(20 * 365)?;
        b.set_not_after(&na)?;
        b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()?,
        )?;
        let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
        b.append_extension(ski)?;
        b.sign(&key, MessageDigest::sha256())?;
        Ok(Self {
            issued: Issued {
                key,
                cert: b.build(),
            },
        })
    }

    /// Issues a subordinate CA (ECDSA P-256) signed by this CA.
    pub fn issue_ca(&self, cn: &str) -> Result<TestCa, DsigError> {
        let key = generate_key(KeyKind::EcP256)?;
        let mut b = X509Builder::new()?;
        b.set_version(2)?;
        let sn = serial()?;
        b.set_serial_number(&sn)?;
        let n = name(cn)?;
        b.set_subject_name(&n)?;
        b.set_issuer_name(self.issued.cert.subject_name())?;
        b.set_pubkey(&key)?;
        let nb = time(-1)?;
        b.set_not_before(&nb)?;
        let na = time(10 * 365)?;
        b.set_not_after(&na)?;
        b.append_extension(BasicConstraints::new().critical().ca().pathlen(0).build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()?,
        )?;
        let ski =
            SubjectKeyIdentifier::new().build(&b.x509v3_context(Some(&self.issued.cert), None))?;
        b.append_extension(ski)?;
        b.sign(&self.issued.key, MessageDigest::sha256())?;
        Ok(TestCa {
            issued: Issued {
                key,
                cert: b.build(),
            },
        })
    }

    /// Issues a signing certificate for `cn` with a new key of `kind`, valid
    /// from `from_days` to `until_days` relative to now (negative = past).
    pub fn issue(
        &self,
        cn: &str,
        kind: KeyKind,
        from_days: i64,
        until_days: i64,
    ) -> Result<Issued, DsigError> {
        let key = generate_key(kind)?;
        let mut b = X509Builder::new()?;
        b.set_version(2)?;
        let sn = serial()?;
        b.set_serial_number(&sn)?;
        let n = name(cn)?;
        b.set_subject_name(&n)?;
        b.set_issuer_name(self.issued.cert.subject_name())?;
        b.set_pubkey(&key)?;
        let nb = time(from_days)?;
        b.set_not_before(&nb)?;
        let na = time(until_days)?;
        b.set_not_after(&na)?;
        b.append_extension(BasicConstraints::new().critical().build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .non_repudiation()
                .build()?,
        )?;
        let ski =
            SubjectKeyIdentifier::new().build(&b.x509v3_context(Some(&self.issued.cert), None))?;
        b.append_extension(ski)?;
        let aki = AuthorityKeyIdentifier::new()
            .keyid(false)
            .build(&b.x509v3_context(Some(&self.issued.cert), None))?;
        b.append_extension(aki)?;
        b.sign(&self.issued.key, MessageDigest::sha256())?;
        Ok(Issued {
            key,
            cert: b.build(),
        })
    }
}

impl TestCa {
    /// A CA from its key and certificate (PEM), e.g. the files
    /// [`generate_dir`] wrote.
    pub fn from_pem(key_pem: &[u8], cert_pem: &[u8]) -> Result<Self, DsigError> {
        let bad = |what: &str, e: openssl::error::ErrorStack| {
            DsigError::new(DsigErrorKind::Key, format!("not a PEM {what}: {e}"))
        };
        let key = PKey::private_key_from_pem(key_pem).map_err(|e| bad("private key", e))?;
        let cert = X509::from_pem(cert_pem).map_err(|e| bad("certificate", e))?;
        if !cert.public_key()?.public_eq(&key) {
            return Err(DsigError::new(
                DsigErrorKind::Key,
                "the key does not belong to the CA certificate",
            ));
        }
        Ok(Self {
            issued: Issued { key, cert },
        })
    }

    /// A certificate revocation list signed by this CA, revoking `revoked`
    /// (as of its issue date), with the number `number`, issued
    /// `this_days` and due again `next_days` days from now (negative: in
    /// the past, for tests).
    pub fn crl(
        &self,
        revoked: &[&X509Ref],
        number: u32,
        this_days: i64,
        next_days: i64,
    ) -> Result<X509Crl, DsigError> {
        let this = crate::trust::now() + this_days * 86_400;
        let mut entries = Vec::new();
        for cert in revoked {
            entries.push((cert.serial_number().to_owned()?, this));
        }
        self.build_crl(entries, BigNum::from_u32(number)?, this, next_days)
    }

    /// The next CRL after `previous` (or the first, numbered 1): its
    /// entries, as they were, and `revoked` as of now; issued now, due
    /// again in `next_days` days. `previous` must be this CA's.
    pub fn next_crl(
        &self,
        previous: Option<&X509CrlRef>,
        revoked: &[&X509Ref],
        next_days: i64,
    ) -> Result<X509Crl, DsigError> {
        let now = crate::trust::now();
        let mut entries: Vec<(Asn1Integer, i64)> = Vec::new();
        let mut number = BigNum::from_u32(1)?;
        if let Some(previous) = previous {
            let ours = previous.verify(&self.issued.key).unwrap_or(false);
            if !ours {
                return Err(DsigError::new(
                    DsigErrorKind::Key,
                    "the existing CRL was not signed by this CA",
                ));
            }
            for entry in previous.get_revoked().into_iter().flatten() {
                entries.push((
                    entry.serial_number().to_owned()?,
                    crate::trust::unix(entry.revocation_date())?,
                ));
            }
            if let Some((_, n)) = previous.extension::<CrlNumber>()? {
                let (previous, one) = (n.to_bn()?, BigNum::from_u32(1)?);
                let mut next = BigNum::new()?;
                next.checked_add(&previous, &one)?;
                number = next;
            }
        }
        for cert in revoked {
            let serial = cert.serial_number();
            let listed = entries.iter().any(|(s, _)| {
                matches!(
                    (s.to_bn(), serial.to_bn()),
                    (Ok(a), Ok(b)) if a == b
                )
            });
            if !listed {
                entries.push((serial.to_owned()?, now));
            }
        }
        self.build_crl(entries, number, now, next_days)
    }

    fn build_crl(
        &self,
        entries: Vec<(Asn1Integer, i64)>,
        number: BigNum,
        this: i64,
        next_days: i64,
    ) -> Result<X509Crl, DsigError> {
        let mut b = X509CrlBuilder::new()?;
        b.set_issuer_name(self.issued.cert.subject_name())?;
        let issued = Asn1Time::from_unix(this)?;
        b.set_last_update(&issued)?;
        let next = time(next_days)?;
        b.set_next_update(&next)?;
        // The CRL's authority key identifier is the CA's subject key
        // identifier, derived through a certificate context naming the CA.
        let context = X509Builder::new()?;
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&context.x509v3_context(Some(&self.issued.cert), None))?;
        b.append_extension(aki)?;
        b.append_extension(CrlNumber::new(number)?.build()?)?;
        for (serial, date) in entries {
            let mut r = X509RevokedBuilder::new()?;
            r.set_serial_number(&serial)?;
            let date = Asn1Time::from_unix(date)?;
            r.set_revocation_date(&date)?;
            b.add_revoked(r.build())?;
        }
        b.sort()?;
        b.sign(&self.issued.key, MessageDigest::sha256())?;
        Ok(b.build()?)
    }
}

/// The files [`generate_dir`] wrote.
#[derive(Debug, Clone)]
pub struct GeneratedFiles {
    /// All paths written, in order.
    pub files: Vec<PathBuf>,
}

/// Writes a test PKI into `dir` (created if missing):
///
/// - `ca.key.pem`, `ca.cert.pem` and `trust/ca.cert.pem` (a `--trust` directory);
/// - `authority-rsa.{key,cert}.pem` — RSA-2048, valid 2 years;
/// - `authority-ec.{key,cert}.pem` — ECDSA P-256, valid 2 years;
/// - `expired.{key,cert}.pem` — ECDSA P-256, expired yesterday (for tests).
pub fn generate_dir(dir: &Path) -> Result<GeneratedFiles, DsigError> {
    std::fs::create_dir_all(dir.join("trust")).map_err(|e| io(dir, e))?;
    let ca = TestCa::generate("XOEV Test CA")?;
    let mut files = Vec::new();
    let (k, c) = ca.issued.write(dir, "ca")?;
    files.extend([k, c]);
    let trust = dir.join("trust").join("ca.cert.pem");
    write(&trust, &ca.issued.cert_pem()?)?;
    files.push(trust);
    for (stem, cn, kind, from, until) in [
        (
            "authority-rsa",
            "Test Authority RSA",
            KeyKind::Rsa(2048),
            -1,
            2 * 365,
        ),
        (
            "authority-ec",
            "Test Authority EC",
            KeyKind::EcP256,
            -1,
            2 * 365,
        ),
        (
            "expired",
            "Test Authority Expired",
            KeyKind::EcP256,
            -2 * 365,
            -1,
        ),
    ] {
        let (k, c) = ca.issue(cn, kind, from, until)?.write(dir, stem)?;
        files.extend([k, c]);
    }
    Ok(GeneratedFiles { files })
}

/// Writes the next CRL of the test CA (`ca_key`, `ca_cert`, PEM) to `out`,
/// revoking the certificates in `certs` (PEM files, issued by that CA) on
/// top of the entries of the CRL already at `out`, if any; due again in
/// `days` days. Written to a temporary file beside `out` and renamed, so a
/// reader of the directory never sees half a CRL. Returns how many
/// certificates the new CRL revokes.
pub fn revoke_into(
    ca_key: &Path,
    ca_cert: &Path,
    out: &Path,
    certs: &[PathBuf],
    days: u32,
) -> Result<usize, DsigError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| {
            DsigError::new(
                DsigErrorKind::Key,
                format!("cannot read {}: {e}", p.display()),
            )
        })
    };
    let bad = |p: &Path, what: &str| {
        let shown = p.display().to_string();
        let what = what.to_owned();
        move |e: openssl::error::ErrorStack| {
            DsigError::new(DsigErrorKind::Key, format!("{shown}: not {what}: {e}"))
        }
    };
    let ca = TestCa::from_pem(&read(ca_key)?, &read(ca_cert)?)?;
    let mut revoked = Vec::new();
    for c in certs {
        let cert = X509::from_pem(&read(c)?).map_err(bad(c, "a PEM certificate"))?;
        let ours = ca.issued.cert.issued(&cert) == openssl::x509::X509VerifyResult::OK
            && cert.verify(&ca.issued.key).unwrap_or(false);
        if !ours {
            return Err(DsigError::new(
                DsigErrorKind::Key,
                format!("{}: not issued by this CA", c.display()),
            ));
        }
        revoked.push(cert);
    }
    let previous = match std::fs::read(out) {
        Ok(pem) => Some(X509Crl::from_pem(&pem).map_err(bad(out, "a PEM CRL"))?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(DsigError::new(
                DsigErrorKind::Key,
                format!("cannot read {}: {e}", out.display()),
            ));
        }
    };
    let refs: Vec<&X509Ref> = revoked.iter().map(|c| c.as_ref()).collect();
    let crl = ca.next_crl(previous.as_deref(), &refs, i64::from(days))?;
    let mut tmp = out.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    write(&tmp, &crl.to_pem()?)?;
    std::fs::rename(&tmp, out).map_err(|e| io(out, e))?;
    Ok(crl.get_revoked().map_or(0, |r| r.len()))
}
