//! XML Signature for XÖV messages: sign and verify under one
//! strict profile, a trust store of authority certificates, and a defence
//! against signature wrapping.
//!
//! # The profile (the only thing signed, the only thing accepted)
//!
//! - one enveloped `ds:Signature` as a child of the document root (the
//!   [`Signer`] appends it as the root's **last** child; the [`Verifier`]
//!   accepts it at any position among the root's children);
//! - exactly one `Reference` with `URI=""` (the whole document) and exactly
//!   the transforms enveloped-signature, then exclusive C14N
//!   (`InclusiveNamespaces` allowed); `DigestMethod` SHA-256;
//! - `CanonicalizationMethod` exclusive C14N; `SignatureMethod` RSA-SHA256
//!   or RSASSA-PSS with SHA-256 (`sha256-rsa-MGF1`; RSA ≥ 2048 bits), or
//!   ECDSA-SHA256 (P-256, P-384, P-521). xmlsec1 1.2.37 (Debian 12) has no
//!   RSA-PSS: the crate's own engine signs and verifies it, the xmlsec1
//!   reference engine refuses it;
//! - `KeyInfo` holds exactly one `X509Data` with the signing certificate
//!   (intermediates may follow, at most 10 certificates); no `KeyValue`,
//!   `KeyName`, `RetrievalMethod`, no `Object`/`Manifest`;
//! - the signing certificate is meant for signing: no CA, and a key usage,
//!   if any, with `digitalSignature` or `nonRepudiation`.
//!
//! Anything else is rejected with its own [`DsigErrorKind`] before any
//! cryptography runs. The signing certificate's chain is verified with
//! OpenSSL against the [`TrustStore`] at verification time, each of its
//! certificates checked against the store's CRLs ([`Revocation`]), and the
//! result cached per certificate fingerprint for as long as the whole chain
//! is valid and those CRLs are current (or until
//! [`Verifier::replace_trust`]), together with the certificate's key,
//! loaded once; keys are never resolved from `KeyInfo` by anything else.
//!
//! # How digest and signature value are computed
//!
//! For the one shape the profile allows, the crate computes them itself:
//! exclusive C14N of the document without the signature and of `SignedInfo`
//! by a direct walk of the parsed libxml2 tree (held byte for byte to
//! libxml2's own canonicaliser, `xmlC14NExecute`, which xmlsec1 runs
//! underneath, and which takes over for any node the walk does not handle),
//! SHA-256, then ECDSA/RSA on `ring` (OpenSSL for P-384/P-521 and RSA
//! signing) with keys loaded once. This skips xmlsec1's generic transform
//! engine, whose node-set bookkeeping cost more than the signature
//! arithmetic. xmlsec1 still builds the signature template, and
//! [`Verifier::verify_with_xmlsec`] / [`Signer::sign_with_xmlsec`] run the
//! same profile through xmlsec1's engine (restricted to the same transforms
//! and algorithms): the reference the fast path is tested against (same
//! verdict on good and tampered documents, byte-identical RSA values), next
//! to the interoperability tests with the `xmlsec1` tool both ways and the
//! exclusive-C14N test vectors.
//!
//! # XSD and the signature
//!
//! XÖV schemas have no slot for `ds:Signature`. After verification, call
//! [`strip_signature`]: it removes exactly the element the
//! enveloped-signature transform excluded, so what remains is precisely the
//! signed content, which then validates against its standard's XSD.
//!
//! # Threads
//!
//! Call [`init`] once, early (it also initialises libxml2). [`Signer`] and
//! [`Verifier`] are `Send + Sync`; keys are loaded once (the reference
//! path's xmlsec1 keys lazily per thread); a `Document` stays on its
//! thread. Run sign/verify on a blocking pool, never on the async reactor. Do not use the `xmlsec`
//! crate's safe API in the same process (it initialises xmlsec1 a second time).

mod c14n;
mod crl;
mod crypto;
mod dn;
mod dom;
mod error;
mod init;
pub mod pki;
mod profile;
pub mod relaxed;
mod sign;
mod trust;
mod verify;
mod xmlsec_ctx;

pub use crl::{CrlInfo, Revocation};
pub use dom::DSIG_NS;
pub use error::{DsigError, DsigErrorKind};
pub use init::init;
pub use libxml::tree::Document;
pub use profile::{
    ECDSA_SHA256, ENVELOPED, EXC_C14N, RSA_PSS_SHA256, RSA_SHA256, SHA256, SignatureAlgorithm,
};
pub use sign::{Signer, signed_bytes, strip_signature, to_bytes};
pub use trust::{CertMatcher, TrustStore};
pub use verify::{Verified, Verifier};
