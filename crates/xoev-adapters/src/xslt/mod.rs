//! Declarative adapters: XSLT 1.0 mappings run by libxslt, registered from
//! `adapters/*.toml` without touching Rust (see docs/adapters.md).
//!
//! ```toml
//! name = "xnachweis-to-oots-edm"
//! description = "..."
//! stylesheet = "xnachweis-to-oots-edm.xsl"   # relative to the .toml
//! source = { standard = "XNachweis", version = "1.2.0" }
//! target = { standard = "OOTS-EDM", version = "1.0.0" }
//! ```
//!
//! The stylesheet receives the context as string parameters: `now`
//! (`xs:dateTime`, UTC), `date` (`xs:date`), `message-uuid` and `id`
//! (`urn:uuid:…`), both derived from the context seed, and `municipality`
//! (AGS or empty). `xsl:message terminate="yes"` aborts the mapping; its
//! text becomes the error's detail, so a mapping can name the missing field.
//!
//! Hardening: the stylesheet is parsed with the same hardened parse as
//! messages (no DTD, no entities, no network); `xsl:import`/`xsl:include`
//! are refused at load, and the local-only entity loader would refuse the
//! files they name anyway (stylesheets are self-contained); at run time
//! libxslt's security preferences forbid
//! reading and writing files, creating directories and network access, so
//! `document()` cannot reach anything.
//!
//! Binding: the `libxslt` crate (0.1.5, built on the same `libxml` 0.3.x
//! as the rest of the workspace, so one libxml2 `Document` type) provides
//! the raw bindings; its safe `Stylesheet::transform` sets no security
//! preferences and loses libxslt's error text, so the few calls we need
//! are made here directly.

use crate::adapter::{Adapter, AdapterInfo, AdapterKind, StandardRef};
use crate::context::Context;
use crate::error::AdapterError;
use libxml::tree::Document;
use libxslt::bindings as xslt;
use serde::Deserialize;
use std::ffi::CString;
use std::os::raw::{c_char, c_void};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use xoev_core::Limits;

#[cfg(test)]
mod tests;

/// One declarative adapter file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdapterFile {
    name: String,
    #[serde(default)]
    description: String,
    stylesheet: PathBuf,
    source: StandardRef,
    target: StandardRef,
}

/// Why declarative adapters could not be loaded; lists every problem.
#[derive(Debug, thiserror::Error)]
#[error("declarative adapters: {}", .problems.join("; "))]
pub struct DeclarativeError {
    /// Every problem, each naming its file.
    pub problems: Vec<String>,
}

/// A compiled XSLT stylesheet.
struct Compiled(xslt::xsltStylesheetPtr);

impl Compiled {
    /// Whether the stylesheet strips white space (`xsl:strip-space`), which
    /// libxslt does in the source document itself.
    fn strips_space(&self) -> bool {
        // SAFETY: a compiled stylesheet, read only.
        unsafe { !(*self.0).stripSpaces.is_null() || (*self.0).stripAll != 0 }
    }
}

// SAFETY: a compiled stylesheet is read-only once xsltParseStylesheetDoc has
// returned; every transformation gets its own transform context, which is
// how libxslt supports sharing a stylesheet between threads. It is freed
// only in Drop, when no reference remains.
unsafe impl Send for Compiled {}
// SAFETY: see above.
unsafe impl Sync for Compiled {}

impl Drop for Compiled {
    fn drop(&mut self) {
        // SAFETY: the pointer came from xsltParseStylesheetDoc and is freed once.
        unsafe { xslt::xsltFreeStylesheet(self.0) }
    }
}

/// An adapter defined by an XSLT 1.0 stylesheet.
pub struct XsltAdapter {
    info: AdapterInfo,
    stylesheet: Compiled,
    path: PathBuf,
}

impl std::fmt::Debug for XsltAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XsltAdapter")
            .field("info", &self.info)
            .field("stylesheet", &self.path)
            .finish()
    }
}

/// Serialises libxslt's global error handler changes.
static GLOBAL_ERRORS: Mutex<()> = Mutex::new(());

/// A `FILE*` that collects what libxslt prints into memory.
///
/// libxslt reports errors only through printf-style (variadic) callbacks,
/// which stable Rust cannot define. Instead the callback is libc's own
/// `fprintf`, writing into an `open_memstream` buffer that we read back.
struct Capture {
    file: *mut libc::FILE,
    buf: *mut c_char,
    len: libc::size_t,
}

impl Capture {
    fn new() -> Option<Box<Self>> {
        let mut c = Box::new(Self {
            file: std::ptr::null_mut(),
            buf: std::ptr::null_mut(),
            len: 0,
        });
        // SAFETY: open_memstream stores into the two fields of the boxed
        // (address-stable) struct, which outlives the stream.
        c.file = unsafe { libc::open_memstream(&raw mut c.buf, &raw mut c.len) };
        (!c.file.is_null()).then_some(c)
    }

    /// The callback and its context, as libxslt wants them.
    fn handler(&self) -> (*mut c_void, xslt::xmlGenericErrorFunc) {
        // SAFETY: fprintf(FILE*, const char*, ...) and the expected
        // void (*)(void*, const char*, ...) differ only in the pointer type
        // of the first argument and in the ignored int return value, which
        // the C calling convention passes identically.
        let f = unsafe {
            std::mem::transmute::<
                unsafe extern "C" fn(*mut libc::FILE, *const c_char, ...) -> libc::c_int,
                unsafe extern "C" fn(*mut c_void, *const c_char, ...),
            >(libc::fprintf)
        };
        (self.file.cast(), Some(f))
    }

    /// Closes the stream and returns what was written, trimmed.
    // Boxed on purpose: fclose writes the final buffer pointer and length
    // into the fields, so they must stay at the address open_memstream got.
    #[allow(clippy::boxed_local)]
    fn finish(mut self: Box<Self>) -> String {
        // SAFETY: the stream is closed exactly once here; afterwards buf
        // holds len bytes allocated by the C library, freed once below.
        unsafe {
            libc::fclose(self.file);
            self.file = std::ptr::null_mut();
            let text = if self.buf.is_null() {
                String::new()
            } else {
                let bytes = std::slice::from_raw_parts(self.buf.cast::<u8>(), self.len);
                String::from_utf8_lossy(bytes).trim().to_owned()
            };
            libc::free(self.buf.cast());
            self.buf = std::ptr::null_mut();
            text
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        // SAFETY: only reached when finish() was not called; close and free once.
        unsafe {
            if !self.file.is_null() {
                libc::fclose(self.file);
            }
            if !self.buf.is_null() {
                libc::free(self.buf.cast());
            }
        }
    }
}

/// A `FILE*` on /dev/null for libxslt's global error output between
/// compilations (opened once, never closed).
fn devnull() -> *mut libc::FILE {
    static DEVNULL: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    // SAFETY: fopen with valid C strings; the pointer is stored as an integer
    // and never closed, so it stays valid for the process.
    *DEVNULL.get_or_init(|| unsafe { libc::fopen(c"/dev/null".as_ptr(), c"w".as_ptr()) } as usize)
        as *mut libc::FILE
}

/// The XSLT namespace.
const XSLT_NS: &str = "http://www.w3.org/1999/XSL/Transform";

/// Compiles a stylesheet; `name` (its file name) stands in libxslt's
/// messages for the name the hardened parse gives every document.
fn compile(bytes: &[u8], name: &str) -> Result<Compiled, String> {
    let doc = xoev_schema::parse_document(bytes, &Limits::default()).map_err(|e| e.to_string())?;
    // Said plainly before libxslt says "unable to load other.xsl" of a file
    // that is there: the loader refuses every other file on purpose.
    if let Some(root) = doc.get_root_element() {
        for child in root.get_child_elements() {
            let local = child.get_name();
            let in_xslt = child
                .get_namespace()
                .is_some_and(|ns| ns.get_href() == XSLT_NS);
            if in_xslt && (local == "import" || local == "include") {
                // SAFETY: the node belongs to `doc`, alive for the call.
                let line = unsafe { libxml::bindings::xmlGetLineNo(child.node_ptr()) };
                return Err(format!(
                    "xsl:{local} (line {line}) is not supported: an adapter's stylesheet is \
                     self-contained, it reads no other file (docs/adapters.md)"
                ));
            }
        }
    }
    libxslt::register_exslt();
    let _guard = GLOBAL_ERRORS.lock().unwrap_or_else(|p| p.into_inner());
    let capture = Capture::new().ok_or("cannot capture libxslt errors")?;
    let (ctx, handler) = capture.handler();
    // SAFETY: the copy is handed to libxslt, which owns it on success; on
    // failure it is ours to free. The global error handler is swapped under
    // GLOBAL_ERRORS and pointed at /dev/null before the capture is closed.
    let ptr = unsafe {
        xslt::xsltSetGenericErrorFunc(ctx, handler);
        let copy = xslt::xmlCopyDoc(doc.doc_ptr(), 1);
        let ptr = if copy.is_null() {
            std::ptr::null_mut()
        } else {
            let p = xslt::xsltParseStylesheetDoc(copy);
            if p.is_null() {
                xslt::xmlFreeDoc(copy);
            }
            p
        };
        xslt::xsltSetGenericErrorFunc(devnull().cast(), handler);
        ptr
    };
    let text = capture
        .finish()
        .replace("file message.xml", &format!("file {name}"));
    if ptr.is_null() {
        Err(if text.is_empty() {
            "not a valid XSLT 1.0 stylesheet".into()
        } else {
            text
        })
    } else {
        Ok(Compiled(ptr))
    }
}

impl XsltAdapter {
    /// Loads one adapter file and compiles its stylesheet.
    pub fn load(path: &Path) -> Result<Self, String> {
        let show = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{show}: {e}"))?;
        let file: AdapterFile = toml::from_str(&text).map_err(|e| format!("{show}: {e}"))?;
        let xsl = path
            .parent()
            .unwrap_or(Path::new("."))
            .join(&file.stylesheet);
        let bytes = std::fs::read(&xsl)
            .map_err(|e| format!("{show}: stylesheet {}: {e}", xsl.display()))?;
        let stylesheet = compile(&bytes, &file.stylesheet.to_string_lossy())
            .map_err(|e| format!("{show}: stylesheet {}: {e}", xsl.display()))?;
        Ok(Self {
            info: AdapterInfo {
                name: file.name,
                description: file.description,
                source: file.source,
                target: file.target,
                kind: AdapterKind::Xslt,
            },
            stylesheet,
            path: xsl,
        })
    }

    /// Loads every `*.toml` in `dir` (sorted by file name); a missing
    /// directory holds no adapters. Reports every broken file at once.
    pub fn load_dir(dir: &Path) -> Result<Vec<Self>, DeclarativeError> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(DeclarativeError {
                    problems: vec![format!("{}: {e}", dir.display())],
                });
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        let mut adapters = Vec::new();
        let mut problems = Vec::new();
        for f in files {
            match Self::load(&f) {
                Ok(a) => adapters.push(a),
                Err(e) => problems.push(e),
            }
        }
        if problems.is_empty() {
            Ok(adapters)
        } else {
            Err(DeclarativeError { problems })
        }
    }

    fn params(ctx: &Context) -> Vec<(&'static str, String)> {
        vec![
            ("now", ctx.timestamp()),
            ("date", ctx.date()),
            ("message-uuid", ctx.id("message").to_string()),
            ("id", format!("urn:uuid:{}", ctx.id("id"))),
            ("municipality", ctx.municipality.clone().unwrap_or_default()),
        ]
    }
}

impl Adapter for XsltAdapter {
    fn info(&self) -> &AdapterInfo {
        &self.info
    }

    fn translate(&self, input: &[u8], ctx: &Context) -> Result<Vec<u8>, AdapterError> {
        let doc = xoev_schema::parse_document(input, &Limits::default()).map_err(|e| {
            AdapterError::Malformed {
                detail: e.to_string(),
            }
        })?;
        self.apply(&doc, ctx)
    }

    fn translate_document(&self, input: &Document, ctx: &Context) -> Result<Vec<u8>, AdapterError> {
        if self.stylesheet.strips_space() {
            // libxslt would strip the caller's document: work on a copy.
            let copy = input.dup().map_err(|()| AdapterError::Transform {
                adapter: self.info.name.clone(),
                detail: "cannot copy the input document".into(),
            })?;
            return self.apply(&copy, ctx);
        }
        self.apply(input, ctx)
    }
}

impl XsltAdapter {
    /// Applies the stylesheet to `doc` (which libxslt may change: it
    /// strips white space where the stylesheet says so).
    fn apply(&self, doc: &Document, ctx: &Context) -> Result<Vec<u8>, AdapterError> {
        let fail = |detail: String| AdapterError::Transform {
            adapter: self.info.name.clone(),
            detail,
        };
        // Parameters are XPath expressions: pass each value as a string
        // literal. Our values (times, UUIDs, digits) never contain quotes;
        // anything else is refused rather than escaped.
        let mut owned = Vec::new();
        for (k, v) in Self::params(ctx) {
            if v.contains('\'') {
                return Err(fail(format!("parameter {k} contains a quote")));
            }
            let key = CString::new(k).map_err(|_| fail("parameter name".into()))?;
            let val = CString::new(format!("'{v}'")).map_err(|_| fail(format!("parameter {k}")))?;
            owned.push(key);
            owned.push(val);
        }
        let mut params: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
        params.push(std::ptr::null());

        let capture = Capture::new().ok_or_else(|| fail("cannot capture libxslt errors".into()))?;
        let (err_ctx, handler) = capture.handler();
        // SAFETY: the transform context, security preferences, result
        // document and output buffer are created, used and freed here, each
        // once; the input document and the parameter strings outlive the
        // call; the stylesheet is shared read-only (see `Compiled`).
        let (result, state) = unsafe {
            let ctxt = xslt::xsltNewTransformContext(self.stylesheet.0, doc.doc_ptr());
            if ctxt.is_null() {
                return Err(fail("cannot create a transform context".into()));
            }
            let sec = xslt::xsltNewSecurityPrefs();
            if sec.is_null() {
                xslt::xsltFreeTransformContext(ctxt);
                return Err(fail("cannot create security preferences".into()));
            }
            for option in [
                xslt::xsltSecurityOption_XSLT_SECPREF_READ_FILE,
                xslt::xsltSecurityOption_XSLT_SECPREF_WRITE_FILE,
                xslt::xsltSecurityOption_XSLT_SECPREF_CREATE_DIRECTORY,
                xslt::xsltSecurityOption_XSLT_SECPREF_READ_NETWORK,
                xslt::xsltSecurityOption_XSLT_SECPREF_WRITE_NETWORK,
            ] {
                xslt::xsltSetSecurityPrefs(sec, option, Some(xslt::xsltSecurityForbid));
            }
            xslt::xsltSetCtxtSecurityPrefs(sec, ctxt);
            xslt::xsltSetTransformErrorFunc(ctxt, err_ctx, handler);
            let res = xslt::xsltApplyStylesheetUser(
                self.stylesheet.0,
                doc.doc_ptr(),
                params.as_mut_ptr(),
                std::ptr::null(),
                std::ptr::null_mut(),
                ctxt,
            );
            let state = (*ctxt).state;
            let mut out = None;
            if !res.is_null() {
                if state == xslt::xsltTransformState_XSLT_STATE_OK {
                    let mut buf: *mut xslt::xmlChar = std::ptr::null_mut();
                    let mut len: std::os::raw::c_int = 0;
                    if xslt::xsltSaveResultToString(
                        &raw mut buf,
                        &raw mut len,
                        res,
                        self.stylesheet.0,
                    ) == 0
                        && !buf.is_null()
                    {
                        let n = usize::try_from(len).unwrap_or(0);
                        out = Some(std::slice::from_raw_parts(buf.cast::<u8>(), n).to_vec());
                    }
                    if !buf.is_null()
                        && let Some(free) = xslt::xmlFree
                    {
                        free(buf.cast());
                    }
                }
                xslt::xmlFreeDoc(res);
            }
            xslt::xsltFreeTransformContext(ctxt);
            xslt::xsltFreeSecurityPrefs(sec);
            (out, state)
        };
        let text = capture.finish();
        match result {
            Some(bytes) if !bytes.is_empty() => Ok(bytes),
            _ => Err(fail(if text.is_empty() {
                format!("the mapping produced no document (libxslt state {state})")
            } else {
                text
            })),
        }
    }
}
