//! The small safe wrapper over xmlsec1's raw bindings: keys and a
//! signature context restricted to the profile. Neither is `Send`: keys are
//! kept per thread, contexts live for one call.

use crate::error::{DsigError, DsigErrorKind};
use crate::init::take_messages;
use crate::profile::SignatureAlgorithm;
use std::ptr::null_mut;
use xmlsec::bindings as xs;

/// An xmlsec1 key owned by us (destroyed on drop).
pub(crate) struct Key(xs::xmlSecKeyPtr);

impl Drop for Key {
    fn drop(&mut self) {
        // SAFETY: the pointer came from an xmlsec1 loader and is owned by us;
        // contexts never keep it (see `DsigCtx::run`).
        unsafe { xs::xmlSecKeyDestroy(self.0) }
    }
}

fn len_u32(data: &[u8]) -> Result<u32, DsigError> {
    u32::try_from(data.len())
        .map_err(|_| DsigError::new(DsigErrorKind::Key, "key material too large"))
}

impl Key {
    /// The public key of a DER certificate.
    pub(crate) fn from_cert_der(der: &[u8]) -> Result<Self, DsigError> {
        // SAFETY: the buffer is valid for the call; xmlsec1 copies what it needs.
        let k = unsafe {
            xs::xmlSecOpenSSLAppKeyLoadMemory(
                der.as_ptr(),
                len_u32(der)?,
                xs::xmlSecKeyDataFormat_xmlSecKeyDataFormatCertDer,
                std::ptr::null(),
                null_mut(),
                null_mut(),
            )
        };
        Self::checked(k, "cannot load the certificate's public key")
    }

    /// A private key (unencrypted PEM) with its certificate and any
    /// intermediate certificates (DER); all are written into `X509Data`.
    pub(crate) fn from_private_pem(
        key_pem: &[u8],
        cert_der: &[u8],
        chain_der: &[Vec<u8>],
    ) -> Result<Self, DsigError> {
        // SAFETY: buffers are valid for the calls; xmlsec1 copies what it needs.
        let k = unsafe {
            xs::xmlSecOpenSSLAppKeyLoadMemory(
                key_pem.as_ptr(),
                len_u32(key_pem)?,
                xs::xmlSecKeyDataFormat_xmlSecKeyDataFormatPem,
                std::ptr::null(),
                null_mut(),
                null_mut(),
            )
        };
        let key = Self::checked(k, "cannot load the private key")?;
        for der in std::iter::once(cert_der).chain(chain_der.iter().map(Vec::as_slice)) {
            // SAFETY: key is a live key; the buffer is valid for the call.
            let rc = unsafe {
                xs::xmlSecOpenSSLAppKeyCertLoadMemory(
                    key.0,
                    der.as_ptr(),
                    len_u32(der)?,
                    xs::xmlSecKeyDataFormat_xmlSecKeyDataFormatCertDer,
                )
            };
            if rc < 0 {
                return Err(DsigError::new(
                    DsigErrorKind::Key,
                    format!(
                        "cannot attach a certificate to the key: {}",
                        take_messages()
                    ),
                ));
            }
        }
        Ok(key)
    }

    /// A public key from PEM (`PUBLIC KEY`), for the relaxed test mode.
    pub(crate) fn from_public_pem(pem: &[u8]) -> Result<Self, DsigError> {
        // SAFETY: as above.
        let k = unsafe {
            xs::xmlSecOpenSSLAppKeyLoadMemory(
                pem.as_ptr(),
                len_u32(pem)?,
                xs::xmlSecKeyDataFormat_xmlSecKeyDataFormatPem,
                std::ptr::null(),
                null_mut(),
                null_mut(),
            )
        };
        Self::checked(k, "cannot load the public key")
    }

    fn checked(k: xs::xmlSecKeyPtr, what: &str) -> Result<Self, DsigError> {
        if k.is_null() {
            Err(DsigError::new(
                DsigErrorKind::Key,
                format!("{what}: {}", take_messages()),
            ))
        } else {
            Ok(Self(k))
        }
    }
}

/// What xmlsec1 concluded about a signature.
pub(crate) enum Status {
    /// Digest and signature value verify.
    Valid,
    /// A reference digest does not match.
    DigestMismatch,
    /// The references match but the signature value does not verify.
    BadSignatureValue,
}

/// Which transforms and algorithms a context allows.
pub(crate) enum Restriction {
    /// The gateway profile with this signature algorithm.
    Profile(SignatureAlgorithm),
    /// xmlsec1's defaults, but same-document references only (relaxed test mode only).
    Defaults,
}

/// A `xmlSecDSigCtx` for one operation.
pub(crate) struct DsigCtx(*mut xs::xmlSecDSigCtx);

impl Drop for DsigCtx {
    fn drop(&mut self) {
        // SAFETY: created by xmlSecDSigCtxCreate; signKey is reset to null
        // after each run, so the context never destroys our key.
        unsafe { xs::xmlSecDSigCtxDestroy(self.0) }
    }
}

/// xmlsec1's transform for `alg`; `None` for RSA-PSS, which xmlsec1 has
/// only from 1.3 on (Debian 12 ships 1.2.37): the gateway's own engine
/// signs and verifies it, the reference engine cannot.
fn sign_transform(alg: SignatureAlgorithm) -> Option<xs::xmlSecTransformId> {
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

impl DsigCtx {
    /// A context that allows only what `restriction` names.
    pub(crate) fn new(restriction: Restriction) -> Result<Self, DsigError> {
        let transform = match restriction {
            Restriction::Profile(alg) => Some(sign_transform(alg).ok_or_else(|| {
                DsigError::new(
                    DsigErrorKind::DisallowedAlgorithm,
                    format!(
                        "{alg} is not available in xmlsec1 1.2, the reference engine; \
                         the gateway's own engine signs and verifies it"
                    ),
                )
            })?),
            Restriction::Defaults => None,
        };
        // SAFETY: xmlsec1 is initialised (callers call `init` first).
        let ctx = unsafe { xs::xmlSecDSigCtxCreate(null_mut()) };
        if ctx.is_null() {
            return Err(DsigError::new(
                DsigErrorKind::Internal,
                "cannot create an xmlsec1 signature context",
            ));
        }
        let this = Self(ctx);
        // Never local files or the network, in any mode.
        // SAFETY: ctx is live.
        unsafe {
            (*ctx).enabledReferenceUris =
                xs::xmlSecTransformUriTypeEmpty | xs::xmlSecTransformUriTypeSameDocument;
        }
        if let Some(transform) = transform {
            // SAFETY: ctx is live; the klass getters return static descriptors.
            let rc = unsafe {
                (*ctx).enabledReferenceUris = xs::xmlSecTransformUriTypeEmpty;
                (*ctx).flags |= xs::XMLSEC_DSIG_FLAGS_IGNORE_MANIFESTS;
                let x509 = xs::xmlSecOpenSSLKeyDataX509GetKlass();
                [
                    xs::xmlSecDSigCtxEnableReferenceTransform(
                        ctx,
                        xs::xmlSecTransformEnvelopedGetKlass(),
                    ),
                    xs::xmlSecDSigCtxEnableReferenceTransform(
                        ctx,
                        xs::xmlSecTransformExclC14NGetKlass(),
                    ),
                    xs::xmlSecDSigCtxEnableReferenceTransform(
                        ctx,
                        xs::xmlSecOpenSSLTransformSha256GetKlass(),
                    ),
                    xs::xmlSecDSigCtxEnableSignatureTransform(
                        ctx,
                        xs::xmlSecTransformExclC14NGetKlass(),
                    ),
                    xs::xmlSecDSigCtxEnableSignatureTransform(ctx, transform),
                    xs::xmlSecPtrListAdd(
                        &raw mut (*ctx).keyInfoReadCtx.enabledKeyData,
                        x509 as xs::xmlSecPtr,
                    ),
                ]
                .into_iter()
                .min()
                .unwrap_or(0)
            };
            if rc < 0 {
                return Err(DsigError::new(
                    DsigErrorKind::Internal,
                    format!("cannot restrict the xmlsec1 context: {}", take_messages()),
                ));
            }
        }
        Ok(this)
    }

    /// Verifies the `ds:Signature` at `node` with `key`.
    ///
    /// # Safety
    /// `node` must be a live `ds:Signature` element of a document that stays
    /// alive and unmodified for the call.
    pub(crate) unsafe fn verify(
        &self,
        key: &Key,
        node: crate::dom::NodePtr,
    ) -> Result<Status, DsigError> {
        // SAFETY: per the contract; the key is borrowed for the call only
        // and taken back before returning.
        let rc = unsafe {
            (*self.0).signKey = key.0;
            let rc = xs::xmlSecDSigCtxVerify(self.0, node.cast());
            (*self.0).signKey = null_mut();
            rc
        };
        if rc < 0 {
            return Err(DsigError::new(
                DsigErrorKind::MalformedSignature,
                format!(
                    "xmlsec1 could not process the signature: {}",
                    take_messages()
                ),
            ));
        }
        // SAFETY: the context is live; its reference list holds reference
        // contexts created during the run.
        unsafe {
            if (*self.0).status == xs::xmlSecDSigStatus_xmlSecDSigStatusSucceeded {
                return Ok(Status::Valid);
            }
            let refs = &raw mut (*self.0).signedInfoReferences;
            let n = xs::xmlSecPtrListGetSize(refs);
            for i in 0..n {
                let r = xs::xmlSecPtrListGetItem(refs, i).cast::<xs::xmlSecDSigReferenceCtx>();
                if !r.is_null() && (*r).status != xs::xmlSecDSigStatus_xmlSecDSigStatusSucceeded {
                    return Ok(Status::DigestMismatch);
                }
            }
        }
        Ok(Status::BadSignatureValue)
    }

    /// Signs the template at `node` with `key`.
    ///
    /// # Safety
    /// `node` must be a live `ds:Signature` template in a document that stays
    /// alive for the call and may be modified.
    pub(crate) unsafe fn sign(
        &self,
        key: &Key,
        node: crate::dom::NodePtr,
    ) -> Result<(), DsigError> {
        // SAFETY: per the contract; the key is borrowed for the call only.
        let rc = unsafe {
            (*self.0).signKey = key.0;
            let rc = xs::xmlSecDSigCtxSign(self.0, node.cast());
            (*self.0).signKey = null_mut();
            rc
        };
        if rc < 0 {
            return Err(DsigError::new(
                DsigErrorKind::Internal,
                format!("xmlsec1 could not sign: {}", take_messages()),
            ));
        }
        Ok(())
    }
}
