//! XML Signature for XÖV messages: sign and verify with xmlsec1 under one
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
//!   (RSA ≥ 2048 bits) or ECDSA-SHA256 (P-256, P-384, P-521). RSA-PSS is not
//!   offered: xmlsec1 1.2.37 (Debian 12) does not implement it;
//! - `KeyInfo` holds exactly one `X509Data` with the signing certificate
//!   (intermediates may follow); no `KeyValue`, `KeyName`,
//!   `RetrievalMethod`, no `Object`/`Manifest`.
//!
//! Anything else is rejected with its own [`DsigErrorKind`] before xmlsec1
//! runs; xmlsec1's context is additionally restricted to the same transforms,
//! algorithms and `URI=""`. The signing certificate's chain is verified with
//! OpenSSL against the [`TrustStore`] at verification time and the result
//! cached per certificate fingerprint for as long as the whole chain is
//! valid; xmlsec1 is then handed that certificate's key directly, so it never
//! resolves keys from `KeyInfo` itself.
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
//! [`Verifier`] are `Send + Sync`; xmlsec1 keys are created lazily per
//! thread and kept; a `Document` stays on its thread. Run sign/verify on a
//! blocking pool, never on the async reactor. Do not use the `xmlsec`
//! crate's safe API in the same process (it initialises xmlsec1 a second time).

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

pub use dom::DSIG_NS;
pub use error::{DsigError, DsigErrorKind};
pub use init::init;
pub use libxml::tree::Document;
pub use profile::{ECDSA_SHA256, ENVELOPED, EXC_C14N, RSA_SHA256, SHA256, SignatureAlgorithm};
pub use sign::{Signer, strip_signature, to_bytes};
pub use trust::{CertMatcher, TrustStore};
pub use verify::{Verified, Verifier};
