//! Global libxml2 set-up: done once, eagerly, before worker threads start.
//!
//! libxml2 keeps process-wide state (the parser's globals and the external
//! entity loader). We install our own loader, which resolves schema imports
//! only to local files the catalogue has registered and never opens a
//! network connection or any other file: that covers both "imports resolve
//! from `schemas/`" and "an external entity cannot read `/etc/passwd`".

use libxml::bindings as xml;
use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_void};
use std::path::{Path, PathBuf};
use std::sync::{Once, RwLock};

static INIT: Once = Once::new();

/// Where the entity loader may read from.
#[derive(Default)]
struct Resolver {
    /// Directories whose `.xsd` files may be loaded.
    roots: Vec<PathBuf>,
    /// Remote schema location → local file.
    exact: BTreeMap<String, PathBuf>,
    /// Remote location prefix → local directory.
    prefixes: Vec<(String, PathBuf)>,
}

static RESOLVER: RwLock<Option<Resolver>> = RwLock::new(None);

thread_local! {
    /// Locations the loader refused on this thread since the last
    /// [`take_refused`] (a schema compile reports them with its error).
    static REFUSED: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

thread_local! {
    /// Schema files the loader opened on this thread since the last
    /// [`take_loaded`] (a compile reads its documents' declarations).
    static LOADED: std::cell::RefCell<Vec<PathBuf>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The files the entity loader opened on this thread since the last call.
pub(crate) fn take_loaded() -> Vec<PathBuf> {
    LOADED.with(|l| std::mem::take(&mut *l.borrow_mut()))
}

/// The locations the entity loader refused on this thread since the last
/// call, oldest first, without repeats (at most 20 kept).
pub(crate) fn take_refused() -> Vec<String> {
    REFUSED.with(|r| std::mem::take(&mut *r.borrow_mut()))
}

fn note_refused(url: &str) {
    REFUSED.with(|r| {
        let mut r = r.borrow_mut();
        if r.len() < 20 && !r.iter().any(|u| u == url) {
            r.push(url.to_owned());
        }
    });
}

/// Initialises libxml2 once for the whole process. Safe to call repeatedly.
pub fn init() {
    INIT.call_once(|| {
        // SAFETY: called once, before any other libxml2 use by this crate;
        // xmlInitParser is idempotent and documented as the thread-safe
        // initialisation entry point.
        unsafe {
            xml::xmlInitParser();
            // the XSD built-in types, which the first schema compile would
            // otherwise set up without a lock (libxml2 issue 930)
            xml::xmlSchemaInitTypes();
            xml::xmlSetExternalEntityLoader(Some(local_only_loader));
        }
    });
}

/// Registers a schema directory and its remote-location mappings with the
/// entity loader (called by [`crate::Catalogue::load`]).
pub(crate) fn register(
    root: &Path,
    exact: &BTreeMap<String, PathBuf>,
    prefixes: &[(String, PathBuf)],
) {
    init();
    let mut guard = match RESOLVER.write() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    let r = guard.get_or_insert_with(Resolver::default);
    r.roots.push(root.to_path_buf());
    r.exact
        .extend(exact.iter().map(|(k, v)| (k.clone(), v.clone())));
    r.prefixes.extend(prefixes.iter().cloned());
}

/// Maps a URL or path requested by libxml2 to a local file we allow, or None.
fn resolve(url: &str) -> Option<PathBuf> {
    let guard = RESOLVER.read().ok()?;
    let r = guard.as_ref()?;
    let is_remote = ["http://", "https://", "ftp://"]
        .iter()
        .any(|s| url.starts_with(s));
    let candidate = if is_remote {
        if let Some(p) = r.exact.get(url) {
            p.clone()
        } else {
            let (prefix, dir) = r
                .prefixes
                .iter()
                .find(|(p, _)| url.starts_with(p.as_str()))?;
            dir.join(&url[prefix.len()..])
        }
    } else {
        PathBuf::from(url.strip_prefix("file://").unwrap_or(url))
    };
    let canonical = candidate.canonicalize().ok()?;
    let allowed = canonical.extension().is_some_and(|e| e == "xsd")
        && r.roots.iter().any(|root| canonical.starts_with(root));
    allowed.then_some(canonical)
}

/// The external entity loader: local schema files only, everything else refused.
unsafe extern "C" fn local_only_loader(
    url: *const c_char,
    _id: *const c_char,
    ctxt: xml::xmlParserCtxtPtr,
) -> xml::xmlParserInputPtr {
    if url.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: libxml2 passes a NUL-terminated string valid for this call.
    let url = unsafe { CStr::from_ptr(url) }.to_string_lossy();
    let Some(path) = resolve(&url) else {
        note_refused(&url);
        return std::ptr::null_mut();
    };
    let Ok(c_path) = CString::new(path.to_string_lossy().as_bytes()) else {
        return std::ptr::null_mut();
    };
    LOADED.with(|l| l.borrow_mut().push(path));
    // SAFETY: ctxt is the parser context libxml2 handed us; the path is a
    // valid C string that xmlNewInputFromFile copies.
    unsafe { xml::xmlNewInputFromFile(ctxt, c_path.as_ptr()) }
}

/// A structured-error sink that drops messages: our code reads errors from
/// contexts and validation callbacks, so nothing should reach stderr.
pub(crate) unsafe extern "C" fn silent(_user: *mut c_void, _err: xml::xmlErrorPtr) {}

/// Silences libxml2's default error printing for the current thread
/// (libxml2 keeps these handlers per thread).
pub(crate) fn silence_thread() {
    // SAFETY: setting the calling thread's error handler to a no-op function
    // is always valid.
    unsafe {
        xml::xmlSetStructuredErrorFunc(std::ptr::null_mut(), Some(silent));
    }
}
