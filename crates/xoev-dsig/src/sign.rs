//! Signing: an enveloped signature of the profile as the root's last child.
//!
//! xmlsec1's template functions build the `ds:Signature` skeleton; the
//! digest, the canonical `SignedInfo` and the signature value are computed
//! here (libxml2's exclusive C14N, SHA-256 and the key loaded once, see
//! [`crate::c14n`] and [`crate::crypto`]). [`Signer::sign_with_xmlsec`] lets
//! xmlsec1 fill the same template; it is the reference the fast path is
//! tested against.

use crate::c14n::{self, Scope};
use crate::crypto::SignKey;
use crate::dom;
use crate::error::{DsigError, DsigErrorKind};
use crate::init::{clear_messages, init, take_messages};
use crate::profile::SignatureAlgorithm;
use crate::trust;
use crate::xmlsec_ctx::{DsigCtx, Key, Restriction};
use libxml::bindings as xml;
use libxml::tree::Document;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::PKey;
use openssl::x509::X509;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CString;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use xmlsec::bindings as xs;
use xoev_core::Limits;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Signer keys kept per thread at most (the map is cleared when full).
const MAX_THREAD_KEYS: usize = 64;

thread_local! {
    /// xmlsec1 private keys per signer, per thread (not `Send`).
    static KEYS: RefCell<HashMap<u64, Key>> = RefCell::new(HashMap::new());
}

/// Signs documents with one key and certificate, loaded once.
///
/// `Send + Sync` and cheap to clone: it holds the key material in memory and
/// creates the xmlsec1 key lazily once per thread.
#[derive(Clone)]
pub struct Signer {
    inner: Arc<SignerInner>,
}

struct SignerInner {
    id: u64,
    /// Unencrypted PKCS#8 PEM, only ever handed to xmlsec1.
    key_pem: Vec<u8>,
    cert_der: Vec<u8>,
    /// Intermediate CA certificates sent along (DER).
    chain_der: Vec<Vec<u8>>,
    /// The key, loaded once for the fast path.
    key: SignKey,
    /// `ds:X509Certificate` texts (base64): the certificate, then the chain.
    cert_texts: Vec<CString>,
    algorithm: SignatureAlgorithm,
    subject: String,
    fingerprint: String,
    not_after: i64,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("subject", &self.inner.subject)
            .field("algorithm", &self.inner.algorithm)
            .finish_non_exhaustive()
    }
}

fn key_err(d: impl Into<String>) -> DsigError {
    DsigError::new(DsigErrorKind::Key, d)
}

impl Signer {
    /// A signer from an unencrypted PEM private key (PKCS#1, SEC1 or PKCS#8)
    /// and its PEM certificate, optionally followed by intermediate CA
    /// certificates (they are sent in `X509Data`, so verifiers that trust
    /// only the root can build the chain). The key must match the first
    /// certificate and meet the key policy (RSA ≥ 2048 bits, EC P-256/384/521).
    pub fn from_pem(key_pem: &[u8], cert_pem: &[u8]) -> Result<Self, DsigError> {
        let key = PKey::private_key_from_pem(key_pem)
            .map_err(|e| key_err(format!("not an unencrypted PEM private key: {e}")))?;
        let mut certs = X509::stack_from_pem(cert_pem)
            .map_err(|e| key_err(format!("not a PEM certificate: {e}")))?;
        if certs.is_empty() {
            return Err(key_err("no PEM certificate found"));
        }
        let cert = certs.remove(0);
        Self::from_parts(&key, &cert, &certs)
    }

    /// A signer from PEM files.
    pub fn from_files(key: &Path, cert: &Path) -> Result<Self, DsigError> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| key_err(format!("cannot read {}: {e}", p.display())))
        };
        Self::from_pem(&read(key)?, &read(cert)?)
    }

    /// A signer from a PKCS#12 (`.p12`/`.pfx`) file's bytes and its password.
    /// Take the password from an environment variable or a file, never from
    /// the command line.
    pub fn from_pkcs12(der: &[u8], password: &str) -> Result<Self, DsigError> {
        let parsed = Pkcs12::from_der(der)
            .map_err(|e| key_err(format!("not a PKCS#12 file: {e}")))?
            .parse2(password)
            .map_err(|_| key_err("cannot open the PKCS#12 file (wrong password?)"))?;
        let key = parsed
            .pkey
            .ok_or_else(|| key_err("the PKCS#12 file holds no private key"))?;
        let cert = parsed
            .cert
            .ok_or_else(|| key_err("the PKCS#12 file holds no certificate"))?;
        let chain: Vec<X509> = parsed
            .ca
            .map(|s| s.into_iter().collect())
            .unwrap_or_default();
        Self::from_parts(&key, &cert, &chain)
    }

    fn from_parts(
        key: &PKey<openssl::pkey::Private>,
        cert: &X509,
        chain: &[X509],
    ) -> Result<Self, DsigError> {
        let cert_key = cert
            .public_key()
            .map_err(|e| key_err(format!("certificate has no usable key: {e}")))?;
        if !cert_key.public_eq(key) {
            return Err(key_err(
                "the private key does not belong to the certificate",
            ));
        }
        let algorithm = trust::check_key(key, None)?;
        let cert_der = cert.to_der()?;
        let chain_der: Vec<Vec<u8>> = chain.iter().map(|c| c.to_der()).collect::<Result<_, _>>()?;
        let cert_texts = std::iter::once(&cert_der)
            .chain(&chain_der)
            .map(|der| CString::new(openssl::base64::encode_block(der)))
            .collect::<Result<_, _>>()
            .map_err(|_| DsigError::new(DsigErrorKind::Internal, "base64 produced a NUL"))?;
        let signer = Self {
            inner: Arc::new(SignerInner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                key_pem: key.private_key_to_pem_pkcs8()?,
                cert_der,
                chain_der,
                key: SignKey::new(key, false)?,
                cert_texts,
                algorithm,
                subject: trust::subject(cert),
                fingerprint: trust::fingerprint(cert)?,
                not_after: trust::unix(cert.not_after())?,
            }),
        };
        // Fail early if xmlsec1 (the reference engine) cannot load the key.
        init()?;
        signer.with_key(|_| Ok(()))?;
        Ok(signer)
    }

    /// The signature algorithm this signer signs with (by default the
    /// key's: RSA-SHA256 or ECDSA-SHA256; see [`Signer::with_algorithm`]).
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.inner.algorithm
    }

    /// The same key and certificates, signing with `algorithm`, which must
    /// fit the key: `rsa-pss-sha256` (RSASSA-PSS) or `rsa-sha256` for an RSA
    /// key, `ecdsa-sha256` for an EC key. RSA-PSS is signed by the gateway's
    /// own engine only ([`Signer::sign_with_xmlsec`] refuses it: xmlsec1 1.2
    /// has no RSA-PSS).
    pub fn with_algorithm(&self, algorithm: SignatureAlgorithm) -> Result<Self, DsigError> {
        let i = &self.inner;
        if algorithm == i.algorithm {
            return Ok(self.clone());
        }
        if algorithm.key_type() != i.algorithm.key_type() {
            return Err(key_err(format!(
                "{algorithm} needs an {} key; this signer's key is {}",
                algorithm.key_type(),
                i.algorithm.key_type()
            )));
        }
        let key = PKey::private_key_from_pem(&i.key_pem)?;
        Ok(Self {
            inner: Arc::new(SignerInner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                key_pem: i.key_pem.clone(),
                cert_der: i.cert_der.clone(),
                chain_der: i.chain_der.clone(),
                key: SignKey::new(&key, algorithm == SignatureAlgorithm::RsaPssSha256)?,
                cert_texts: i.cert_texts.clone(),
                algorithm,
                subject: i.subject.clone(),
                fingerprint: i.fingerprint.clone(),
                not_after: i.not_after,
            }),
        })
    }

    /// Subject of the signing certificate.
    pub fn subject(&self) -> &str {
        &self.inner.subject
    }

    /// SHA-256 fingerprint of the signing certificate (lowercase hex).
    pub fn cert_sha256(&self) -> &str {
        &self.inner.fingerprint
    }

    /// End of the signing certificate's validity (unix seconds). Signing is
    /// not refused after it, but verifiers will refuse the signatures.
    pub fn not_after(&self) -> i64 {
        self.inner.not_after
    }

    fn with_key<R>(&self, f: impl FnOnce(&Key) -> Result<R, DsigError>) -> Result<R, DsigError> {
        KEYS.with(|keys| {
            let mut keys = keys.borrow_mut();
            if !keys.contains_key(&self.inner.id) {
                if keys.len() >= MAX_THREAD_KEYS {
                    keys.clear();
                }
                keys.insert(
                    self.inner.id,
                    Key::from_private_pem(
                        &self.inner.key_pem,
                        &self.inner.cert_der,
                        &self.inner.chain_der,
                    )?,
                );
            }
            let key = keys.get(&self.inner.id).ok_or_else(|| {
                DsigError::new(DsigErrorKind::Internal, "key cache lost an entry")
            })?;
            f(key)
        })
    }

    /// Signs `doc` in place: removes any top-level `ds:Signature` (re-signing)
    /// and appends a new one as the root's last child. On error the document
    /// is left without a signature.
    pub fn sign(&self, doc: &Document) -> Result<(), DsigError> {
        self.sign_with(doc, Engine::Fast)
    }

    /// The same signature as [`Signer::sign`] — same template, same
    /// algorithms, same certificates in `X509Data` — with the digest and the
    /// signature value computed by xmlsec1's own transform engine. Slower;
    /// kept as the reference implementation the fast path is tested against,
    /// and for the benchmark's comparison.
    pub fn sign_with_xmlsec(&self, doc: &Document) -> Result<(), DsigError> {
        self.sign_with(doc, Engine::Xmlsec)
    }

    fn sign_with(&self, doc: &Document, engine: Engine) -> Result<(), DsigError> {
        init()?;
        dom::silence_thread();
        clear_messages();
        let root = dom::root(doc).ok_or_else(|| {
            DsigError::new(
                DsigErrorKind::MalformedXml,
                "the document has no root element",
            )
        })?;
        strip_signature(doc);
        // SAFETY: the document is alive and ours to modify for the call; the
        // template node is linked into the tree right after creation, so the
        // document owns (and eventually frees) it; on failure we remove it.
        unsafe {
            let sig = xs::xmlSecTmplSignatureCreateNsPref(
                doc.doc_ptr().cast(),
                xs::xmlSecTransformExclC14NGetKlass(),
                // RSA-PSS: the RSA template, renamed by `name_method`.
                sign_klass(self.inner.algorithm)
                    .unwrap_or_else(|| xs::xmlSecOpenSSLTransformRsaSha256GetKlass()),
                std::ptr::null(),
                c"ds".as_ptr().cast(),
            );
            if sig.is_null() {
                return Err(internal("cannot create the signature template"));
            }
            if xml::xmlAddChild(root, sig.cast()).is_null() {
                xml::xmlFreeNode(sig.cast());
                return Err(internal("cannot append the signature template"));
            }
            let result = self
                .name_method(sig.cast())
                .and_then(|()| self.fill_and_sign(doc, sig, engine));
            if result.is_err() {
                dom::remove(sig.cast());
            }
            result
        }
    }

    /// # Safety
    /// `sig` must be a fresh signature template linked into `doc`.
    unsafe fn fill_and_sign(
        &self,
        doc: &Document,
        sig: xs::xmlNodePtr,
        engine: Engine,
    ) -> Result<(), DsigError> {
        // SAFETY: per the contract; all template functions return null on error.
        unsafe {
            let reference = xs::xmlSecTmplSignatureAddReference(
                sig,
                xs::xmlSecOpenSSLTransformSha256GetKlass(),
                std::ptr::null(),
                c"".as_ptr().cast(),
                std::ptr::null(),
            );
            if reference.is_null()
                || xs::xmlSecTmplReferenceAddTransform(
                    reference,
                    xs::xmlSecTransformEnvelopedGetKlass(),
                )
                .is_null()
                || xs::xmlSecTmplReferenceAddTransform(
                    reference,
                    xs::xmlSecTransformExclC14NGetKlass(),
                )
                .is_null()
            {
                return Err(internal("cannot build the reference template"));
            }
            let key_info = xs::xmlSecTmplSignatureEnsureKeyInfo(sig, std::ptr::null());
            let x509_data = if key_info.is_null() {
                std::ptr::null_mut()
            } else {
                xs::xmlSecTmplKeyInfoAddX509Data(key_info)
            };
            if x509_data.is_null() {
                return Err(internal("cannot build the KeyInfo template"));
            }
            match engine {
                Engine::Xmlsec => {
                    let ctx = DsigCtx::new(Restriction::Profile(self.inner.algorithm))?;
                    self.with_key(|key| ctx.sign(key, sig.cast()))
                }
                Engine::Fast => {
                    // xmlsec1's template function adds one certificate
                    // only; the chain needs one element per certificate.
                    let x509_data: dom::NodePtr = x509_data.cast();
                    let ns = (*x509_data).ns;
                    for text in &self.inner.cert_texts {
                        let node = xml::xmlNewTextChild(
                            x509_data,
                            ns,
                            c"X509Certificate".as_ptr().cast(),
                            text.as_ptr().cast(),
                        );
                        if node.is_null() {
                            return Err(internal("cannot add an X509Certificate"));
                        }
                    }
                    self.compute(doc, sig.cast(), reference.cast())
                }
            }
        }
    }

    /// Writes the algorithm's URI into the template's `SignatureMethod`
    /// where xmlsec1 has no transform to name it (RSA-PSS).
    fn name_method(&self, sig: dom::NodePtr) -> Result<(), DsigError> {
        if sign_klass(self.inner.algorithm).is_some() {
            return Ok(());
        }
        let method = dom::element_children(sig)
            .into_iter()
            .find(|&n| dom::is_dsig(n, "SignedInfo"))
            .and_then(|si| {
                dom::element_children(si)
                    .into_iter()
                    .find(|&n| dom::is_dsig(n, "SignatureMethod"))
            })
            .ok_or_else(|| internal("the template has no ds:SignatureMethod"))?;
        let uri = CString::new(self.inner.algorithm.uri())
            .map_err(|_| internal("an algorithm URI holds a NUL"))?;
        // SAFETY: `method` is an element of the template linked into the
        // borrowed document; libxml2 copies the strings.
        let attr =
            unsafe { xml::xmlSetProp(method, c"Algorithm".as_ptr().cast(), uri.as_ptr().cast()) };
        if attr.is_null() {
            return Err(internal("cannot name the signature method"));
        }
        Ok(())
    }

    /// Fills `DigestValue` and `SignatureValue` of the template `sig`.
    fn compute(
        &self,
        doc: &Document,
        sig: dom::NodePtr,
        reference: dom::NodePtr,
    ) -> Result<(), DsigError> {
        let child = |parent: dom::NodePtr, local: &str| {
            dom::element_children(parent)
                .into_iter()
                .find(|&n| dom::is_dsig(n, local))
                .ok_or_else(|| internal(&format!("the template has no ds:{local}")))
        };
        let signed_info = child(sig, "SignedInfo")?;
        let digest_value = child(reference, "DigestValue")?;
        let signature_value = child(sig, "SignatureValue")?;
        let content = c14n::exclusive(doc, Scope::DocumentWithout(sig), &[])?;
        set_text(
            digest_value,
            ring::digest::digest(&ring::digest::SHA256, &content).as_ref(),
        )?;
        let canonical = c14n::exclusive(doc, Scope::Subtree(signed_info), &[])?;
        set_text(signature_value, &self.inner.key.sign(&canonical)?)
    }

    /// Parses `bytes` (hardened, default limits), signs, and serialises.
    pub fn sign_bytes(&self, bytes: &[u8]) -> Result<Vec<u8>, DsigError> {
        let doc = xoev_schema::parse_document(bytes, &Limits::default())
            .map_err(|e| DsigError::new(DsigErrorKind::MalformedXml, e.to_string()))?;
        self.sign(&doc)?;
        Ok(signed_bytes(bytes, &doc))
    }
}

/// Who computes the digest and the signature value.
#[derive(Clone, Copy)]
enum Engine {
    /// libxml2's C14N, `ring`/OpenSSL with the key loaded once.
    Fast,
    /// xmlsec1's transform engine (the reference).
    Xmlsec,
}

/// Sets the text of the empty template element `node` to `bytes` in base64.
fn set_text(node: dom::NodePtr, bytes: &[u8]) -> Result<(), DsigError> {
    let text = CString::new(openssl::base64::encode_block(bytes))
        .map_err(|_| DsigError::new(DsigErrorKind::Internal, "base64 produced a NUL"))?;
    // SAFETY: `node` is an element of the template linked into the borrowed
    // document; libxml2 copies the string.
    unsafe { xml::xmlNodeAddContent(node, text.as_ptr().cast()) };
    Ok(())
}

fn internal(what: &str) -> DsigError {
    DsigError::new(
        DsigErrorKind::Internal,
        format!("{what}: {}", take_messages()),
    )
}

/// xmlsec1's transform naming `alg` in a template (`None`: RSA-PSS, which
/// xmlsec1 1.2 does not know).
fn sign_klass(alg: SignatureAlgorithm) -> Option<xs::xmlSecTransformId> {
    // SAFETY: the klass getters return static descriptors.
    unsafe {
        match alg {
            SignatureAlgorithm::RsaSha256 => Some(xs::xmlSecOpenSSLTransformRsaSha256GetKlass()),
            SignatureAlgorithm::EcdsaSha256 => {
                Some(xs::xmlSecOpenSSLTransformEcdsaSha256GetKlass())
            }
            SignatureAlgorithm::RsaPssSha256 => None,
        }
    }
}

/// Removes every `ds:Signature` child of the root element — after
/// verification exactly the one the enveloped-signature transform excluded —
/// so the content validates against its standard's XSD. Returns how many were
/// removed. Node handles to the removed elements must not be used afterwards.
pub fn strip_signature(doc: &Document) -> usize {
    xoev_schema::strip_enveloped_signatures(doc)
}

/// Serialises a document as UTF-8 without reformatting (what [`Signer::sign_bytes`] returns).
pub fn to_bytes(doc: &Document) -> Vec<u8> {
    dom::to_bytes(doc)
}

/// The signed document's bytes, built from `unsigned` — the bytes `doc`
/// was parsed from before [`Signer::sign`] appended its signature — with
/// only the new `ds:Signature` serialised and put before the root's end
/// tag, where `sign` linked it in. Parsing the result gives the same tree
/// as `doc`, at a fraction of serialising the whole document again.
/// Falls back to [`to_bytes`] when `unsigned` mentions the XML Signature
/// namespace (an old signature `sign` removed from the tree is still in
/// the bytes), does not end with the root's end tag (e.g. a comment after
/// the root), or the root's last child is not a signature.
pub fn signed_bytes(unsigned: &[u8], doc: &Document) -> Vec<u8> {
    let old_signature = memchr::memmem::find(unsigned, dom::DSIG_NS.as_bytes()).is_some();
    let spliced = dom::root(doc).filter(|_| !old_signature).and_then(|root| {
        let sig = dom::last_child_element(root).filter(|&s| dom::is_dsig(s, "Signature"))?;
        let at = root_end_tag(unsigned, &dom::qualified_name(root))?;
        let sig = dom::node_to_bytes(doc, sig);
        (!sig.is_empty()).then(|| [&unsigned[..at], &sig, &unsigned[at..]].concat())
    });
    spliced.unwrap_or_else(|| to_bytes(doc))
}

/// Where the root's end tag `</qname>` starts, if `bytes` ends with it
/// (trailing whitespace allowed).
fn root_end_tag(bytes: &[u8], qname: &[u8]) -> Option<usize> {
    let trailing = bytes
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_whitespace())
        .count();
    let body = bytes.get(..bytes.len() - trailing)?;
    let inner = body.strip_suffix(b">")?;
    let start = inner.windows(2).rposition(|w| w == b"</")?;
    let name = inner.get(start + 2..)?;
    let name = name.trim_ascii_end();
    (!qname.is_empty() && name == qname).then_some(start)
}
