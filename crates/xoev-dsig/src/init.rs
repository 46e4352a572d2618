//! Global xmlsec1 set-up: once, eagerly, after libxml2's (`xoev_schema::init`).
//!
//! We initialise xmlsec1 through the raw bindings ourselves and never use the
//! `xmlsec` crate's safe API (which would initialise a second time, lazily,
//! and panics on errors). xmlsec1's error messages are routed into a
//! per-thread buffer instead of stderr; the buffer is read into typed errors.

use crate::error::{DsigError, DsigErrorKind};
use std::cell::RefCell;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int};
use std::sync::OnceLock;
use xmlsec::bindings as xs;

/// xmlsec1's error callback type (`xmlsec/errors.h`, not in the crate's bindings).
type ErrorsCallback = Option<
    unsafe extern "C" fn(
        file: *const c_char,
        line: c_int,
        func: *const c_char,
        error_object: *const c_char,
        error_subject: *const c_char,
        reason: c_int,
        msg: *const c_char,
    ),
>;

unsafe extern "C" {
    /// `void xmlSecErrorsSetCallback(xmlSecErrorsCallback callback)` from
    /// libxmlsec1 (linked by the `xmlsec` crate).
    fn xmlSecErrorsSetCallback(callback: ErrorsCallback);
}

static INIT: OnceLock<Result<(), String>> = OnceLock::new();

/// At most this many xmlsec1 messages are kept per thread and operation.
const MAX_MESSAGES: usize = 16;

thread_local! {
    static MESSAGES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Initialises libxml2 (via `xoev_schema::init`) and xmlsec1 with its
/// OpenSSL backend, once per process. Call it early, before worker threads
/// start; every sign/verify entry point calls it too. Safe to call repeatedly.
pub fn init() -> Result<(), DsigError> {
    INIT.get_or_init(|| {
        xoev_schema::init();
        // xmlSecInit installs its own external entity loader; keep the
        // stricter local-only one of `xoev_schema::init` (measured: without
        // this, the loader is replaced).
        // SAFETY: reading libxml2's process-wide loader pointer.
        let loader = unsafe { libxml::bindings::xmlGetExternalEntityLoader() };
        // SAFETY: called exactly once (OnceLock), after libxml2's global
        // initialisation and before any other xmlsec1 call by this crate;
        // these are xmlsec1's documented initialisation steps for the
        // statically chosen OpenSSL backend.
        unsafe {
            if xs::xmlSecInit() < 0 {
                return Err("xmlSecInit failed".to_owned());
            }
            if xs::xmlSecOpenSSLAppInit(std::ptr::null()) < 0 {
                return Err("xmlSecOpenSSLAppInit failed".to_owned());
            }
            if xs::xmlSecOpenSSLInit() < 0 {
                return Err("xmlSecOpenSSLInit failed".to_owned());
            }
            // Last: the initialisation steps install the default (stderr) callback.
            xmlSecErrorsSetCallback(Some(collect_error));
            libxml::bindings::xmlSetExternalEntityLoader(loader);
        }
        Ok(())
    })
    .clone()
    .map_err(|e| DsigError::new(DsigErrorKind::Internal, e))
}

/// Receives xmlsec1's errors (any thread) into the calling thread's buffer.
unsafe extern "C" fn collect_error(
    _file: *const c_char,
    _line: c_int,
    func: *const c_char,
    error_object: *const c_char,
    error_subject: *const c_char,
    reason: c_int,
    msg: *const c_char,
) {
    // SAFETY: xmlsec1 passes NUL-terminated strings or null, valid for the call.
    let text =
        |p: *const c_char| unsafe { (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy()) };
    let mut line = String::new();
    if let Some(f) = text(func) {
        line.push_str(&f);
    }
    for part in [text(error_object), text(error_subject)]
        .into_iter()
        .flatten()
    {
        if part != "unknown" && !part.is_empty() {
            line.push_str(": ");
            line.push_str(&part);
        }
    }
    if let Some(m) = text(msg) {
        line.push_str(": ");
        line.push_str(&m);
    }
    line.push_str(&format!(" (reason {reason})"));
    // try_with: the callback may fire during thread teardown.
    let _ = MESSAGES.try_with(|m| {
        let mut m = m.borrow_mut();
        if m.len() < MAX_MESSAGES {
            m.push(line);
        }
    });
}

/// Forgets the calling thread's collected xmlsec1 messages.
pub(crate) fn clear_messages() {
    let _ = MESSAGES.try_with(|m| m.borrow_mut().clear());
}

/// The calling thread's collected xmlsec1 messages, joined, and cleared.
pub(crate) fn take_messages() -> String {
    MESSAGES
        .try_with(|m| std::mem::take(&mut *m.borrow_mut()).join("; "))
        .unwrap_or_default()
}
