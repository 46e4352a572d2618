//! XSD validation of parsed documents.

use crate::catalogue::{Catalogue, SchemaEntry};
use crate::error::{Issue, SchemaError};
use crate::fixed::{FixedValues, fixed_value_report};
use crate::init::{init, silence_thread};
use crate::parse::{c_text, parse_document};
use bytes::Bytes;
use libxml::bindings as xml;
use libxml::tree::Document;
use std::ffi::CString;
use std::os::raw::c_void;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use xoev_core::{Limits, Message, MessageError};

/// At most this many issues are collected per document.
const MAX_ISSUES: usize = 100;

/// A compiled XSD, shared read-only by all threads.
#[derive(Debug)]
pub struct CompiledSchema {
    ptr: xml::xmlSchemaPtr,
    /// Fixed element values libxml2 would compare as text (`fixed.rs`).
    fixed: FixedValues,
}

// SAFETY: libxml2 documents a compiled xmlSchema as immutable after
// xmlSchemaParse; validation uses its own xmlSchemaValidCtxt per call and
// only reads the schema, so sharing the pointer between threads is sound.
// The pointer is freed only in Drop, when no reference remains.
unsafe impl Send for CompiledSchema {}
// SAFETY: see above.
unsafe impl Sync for CompiledSchema {}

impl Drop for CompiledSchema {
    fn drop(&mut self) {
        // SAFETY: ptr came from xmlSchemaParse and is freed exactly once.
        unsafe { xml::xmlSchemaFree(self.ptr) }
    }
}

/// libxml2's error callback while a schema compiles: collects
/// `FILE:LINE: message` (the schema document at fault, which is often an
/// included or imported one rather than the entry).
unsafe extern "C" fn collect_compile(user: *mut c_void, err: xml::xmlErrorPtr) {
    if user.is_null() || err.is_null() {
        return;
    }
    // SAFETY: `user` is the `Vec<String>` registered by `compile`, alive for
    // the whole compilation; `err` is valid during this callback.
    unsafe {
        let issues = &mut *user.cast::<Vec<String>>();
        if (*err).level < xml::xmlErrorLevel_XML_ERR_ERROR || issues.len() >= MAX_ISSUES {
            return;
        }
        let issue = issue_from(&*err);
        let at = match (c_text((*err).file), issue.line) {
            (Some(file), Some(line)) => format!("{file}:{line}: "),
            (Some(file), None) => format!("{file}: "),
            (None, _) => String::new(),
        };
        issues.push(format!("{at}{}", issue.message));
    }
}

/// Adds an error to `issues` (at most [`MAX_ISSUES`]), its quoted values
/// withheld: XSD messages quote the offending value, which can be personal
/// data, and it never leaves validation.
///
/// # Safety
/// As [`issue_from`].
unsafe fn record(issues: &mut Vec<Issue>, err: &xml::_xmlError) {
    if issues.len() < MAX_ISSUES {
        // SAFETY: per the contract.
        let mut issue = unsafe { issue_from(err) };
        issue.message = crate::redact::redact_values(&issue.message);
        issues.push(issue);
    }
}

/// What a validation's error callback collects.
struct Collector<'a> {
    issues: Vec<Issue>,
    fixed: &'a FixedValues,
    /// Reports withdrawn because the values are equal (`fixed.rs`).
    withdrawn: usize,
}

unsafe extern "C" fn collect_validation(user: *mut c_void, err: xml::xmlErrorPtr) {
    if user.is_null() || err.is_null() {
        return;
    }
    // SAFETY: `user` is the `Collector` registered by `validate`, alive for
    // the whole validation; `err` is valid during this callback.
    unsafe {
        let c = &mut *user.cast::<Collector<'_>>();
        if (*err).level < xml::xmlErrorLevel_XML_ERR_ERROR {
            return;
        }
        if (*err).code == xml::xmlParserErrors_XML_SCHEMAV_CVC_ELT_5_2_2_2_2 as i32
            && let Some(message) = c_text((*err).message)
            && let Some((element, actual, fixed)) = fixed_value_report(&message)
            && c.fixed.equal(element, actual, fixed)
        {
            c.withdrawn += 1;
            return;
        }
        record(&mut c.issues, &*err);
    }
}

/// Converts a libxml2 error into an [`Issue`] with line, column and path.
///
/// # Safety
/// `err` must be a valid libxml2 error whose `node`, if set, is alive.
pub(crate) unsafe fn issue_from(err: &xml::_xmlError) -> Issue {
    // SAFETY: per the contract; xmlGetNodePath returns a string we free.
    unsafe {
        let path = if err.node.is_null() {
            None
        } else {
            let p = xml::xmlGetNodePath(err.node as *const xml::xmlNode);
            let s = c_text(p.cast());
            if !p.is_null()
                && let Some(free) = xml::xmlFree
            {
                free(p.cast());
            }
            s
        };
        Issue {
            line: u32::try_from(err.line).ok().filter(|&l| l > 0),
            column: u32::try_from(err.int2).ok().filter(|&c| c > 0),
            path,
            message: c_text(err.message)
                .map(|m| shorten_pattern(&m))
                .unwrap_or_else(|| "unknown error".into()),
        }
    }
}

/// Longest pattern quoted whole in a message.
const PATTERN_QUOTED: usize = 120;

/// libxml2 quotes the whole pattern a value failed: for the DIN 91379
/// datatypes that is ≈ 2,800 characters with raw tabs and line breaks.
/// A long one is cut to its start (control characters escaped) and its
/// length.
fn shorten_pattern(message: &str) -> String {
    const MARK: &str = "by the pattern '";
    let Some(start) = message.find(MARK).map(|i| i + MARK.len()) else {
        return message.to_owned();
    };
    let Some(len) = message[start..].rfind('\'') else {
        return message.to_owned();
    };
    let pattern = &message[start..start + len];
    let chars = pattern.chars().count();
    if chars <= PATTERN_QUOTED {
        return message.to_owned();
    }
    let head: String = pattern
        .chars()
        .take(60)
        .flat_map(char::escape_default)
        .collect();
    // the DIN 91379 datatypes begin their character list with these ranges
    let din = if pattern.contains("[\u{a0}-\u{ac}]|[\u{ae}-\u{17e}]") {
        ": a DIN 91379 datatype, which admits the Latin letters the norm lists, \
         composed (NFC), and no other scripts"
    } else {
        ""
    };
    format!(
        "{}{head}…' (the type's pattern, {chars} characters{din}){}",
        &message[..start],
        &message[start + len + 1..]
    )
}

/// Held while a schema compiles (see [`CompiledSchema::compile`]).
static COMPILE: Mutex<()> = Mutex::new(());

impl CompiledSchema {
    /// Compiles the XSD at `path` (imports resolve through the local-only loader).
    pub fn compile(path: &Path, label: &str) -> Result<Self, SchemaError> {
        init();
        silence_thread();
        let compile_err = |detail: String| SchemaError::Compile {
            entry: label.to_owned(),
            detail,
        };
        let c_path = CString::new(path.to_string_lossy().as_bytes())
            .map_err(|_| compile_err("path contains NUL".into()))?;
        let mut issues: Vec<String> = Vec::new();
        let _ = crate::init::take_refused();
        let _ = crate::init::take_loaded();
        // One compile at a time in the process: libxml2 2.9's schema
        // compiler is not thread-safe (two compiles of XBeteiligung on two
        // threads were once seen spinning for good in its
        // substitution-group checks). Compiles happen once per catalogue
        // entry, at start, so nothing waits on the hot path.
        let _one_at_a_time = COMPILE.lock().unwrap_or_else(PoisonError::into_inner);
        // SAFETY: the parser context is created, used and freed here; the
        // issue vector outlives the context that calls back into it.
        let ptr = unsafe {
            let pctxt = xml::xmlSchemaNewParserCtxt(c_path.as_ptr());
            if pctxt.is_null() {
                return Err(compile_err("cannot create schema parser".into()));
            }
            xml::xmlSchemaSetParserStructuredErrors(
                pctxt,
                Some(collect_compile),
                (&raw mut issues).cast(),
            );
            let schema = xml::xmlSchemaParse(pctxt);
            xml::xmlSchemaFreeParserCtxt(pctxt);
            schema
        };
        let refused = crate::init::take_refused();
        let mut documents = crate::init::take_loaded();
        documents.push(path.to_path_buf());
        if ptr.is_null() {
            // the files as the catalogue names them (relative to its directory)
            let root = path
                .to_string_lossy()
                .strip_suffix(label)
                .map(str::to_owned)
                .unwrap_or_default();
            let mut detail = issues
                .iter()
                .take(5)
                .map(|i| match i.strip_prefix(root.as_str()) {
                    Some(relative) if !root.is_empty() => relative.to_owned(),
                    _ => i.clone(),
                })
                .collect::<Vec<_>>()
                .join("; ");
            if !refused.is_empty() {
                // libxml2 says only that it could not load a resource; say
                // why: the loader reads local schema files and nothing else.
                detail.push_str(&format!(
                    " — not loaded: {} (a remote location must be mapped to a local file under [remote] or [remote_prefix] in catalogue.toml, nothing is fetched; a local file must be an .xsd inside the catalogue's directory)",
                    refused.join(", ")
                ));
            }
            return Err(compile_err(detail));
        }
        Ok(Self {
            ptr,
            fixed: FixedValues::scan(&documents),
        })
    }

    /// Validates a parsed document; returns every violation (up to 100).
    pub fn validate(&self, doc: &Document) -> Result<(), Vec<Issue>> {
        silence_thread();
        let mut c = Collector {
            issues: Vec::new(),
            fixed: &self.fixed,
            withdrawn: 0,
        };
        // SAFETY: the validation context is per call; the schema is shared
        // read-only; the document is alive for the call; the collector
        // outlives the context.
        let rc = unsafe {
            let vctxt = xml::xmlSchemaNewValidCtxt(self.ptr);
            if vctxt.is_null() {
                return Err(vec![internal("cannot create validation context")]);
            }
            xml::xmlSchemaSetValidStructuredErrors(
                vctxt,
                Some(collect_validation),
                (&raw mut c).cast(),
            );
            let rc = xml::xmlSchemaValidateDoc(vctxt, doc.doc_ptr());
            xml::xmlSchemaFreeValidCtxt(vctxt);
            rc
        };
        let issues = c.issues;
        match rc {
            0 => Ok(()),
            // every report was a fixed value equal in its type's value space
            n if n > 0 && issues.is_empty() && c.withdrawn > 0 => Ok(()),
            _ if !issues.is_empty() => Err(issues),
            n if n > 0 => Err(vec![internal("document is invalid")]),
            _ => Err(vec![internal("internal validation error")]),
        }
    }
}

fn internal(msg: &str) -> Issue {
    Issue {
        line: None,
        column: None,
        path: None,
        message: msg.to_owned(),
    }
}

/// A message that parsed and validated, with its parsed document.
pub struct Validated<'c> {
    /// The message with its header.
    pub message: Message,
    /// The catalogue entry it validated against.
    pub entry: &'c SchemaEntry,
    /// The parsed document as validated: without the enveloped signatures
    /// of [`Validated::signatures_set_aside`].
    pub document: Document,
    /// How many `ds:Signature` children of the root were set aside before
    /// the XSD check (the service verifies them first; `verify` does here).
    pub signatures_set_aside: usize,
}

/// Envelope → catalogue lookup → hardened parse → XSD validation.
#[derive(Debug, Clone)]
pub struct Validator {
    catalogue: Arc<Catalogue>,
    limits: Limits,
}

impl Validator {
    /// A validator over `catalogue` applying `limits`.
    pub fn new(catalogue: Arc<Catalogue>, limits: Limits) -> Self {
        Self { catalogue, limits }
    }

    /// The catalogue.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// The limits applied.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Reads the envelope, finds the schema, parses and validates — a
    /// signed message without its enveloped signature, as the service
    /// validates it after verifying ([`strip_enveloped_signatures`]); then
    /// requires a readable header, if the document tried to carry one.
    ///
    /// A header that cannot be read is reported last: an unknown
    /// namespace, an XML error or the XSD's violations (with line and
    /// path) say more than "the header has no nachrichtentyp".
    pub fn validate(&self, raw: impl Into<Bytes>) -> Result<Validated<'_>, SchemaError> {
        let (message, header_error) = Message::parse_keeping_header_error(raw, &self.limits)?;
        let validated = self.validate_document(message)?;
        match header_error {
            Some(e) => Err(e.into()),
            None => Ok(validated),
        }
    }

    /// Why a message whose header could not be read (`header_error`, from
    /// [`Message::parse_keeping_header_error`]) is refused: the document's
    /// own fault where it has one (unknown standard, XML error, XSD
    /// violations with line and path), else the header's error as
    /// [`SchemaError::Message`].
    pub fn header_failure(&self, raw: impl Into<Bytes>, header_error: MessageError) -> SchemaError {
        match self.validate(raw) {
            Err(e) if !matches!(e, SchemaError::Message(_)) => e,
            _ => SchemaError::Message(header_error),
        }
    }

    /// Catalogue lookup, parse and XSD validation of a read envelope.
    fn validate_document(&self, message: Message) -> Result<Validated<'_>, SchemaError> {
        let entry = self.catalogue.lookup(&message)?;
        let schema = entry.schema()?;
        let document = parse_document(message.raw(), &self.limits)?;
        // as the service validates a signed message after verifying it
        let signatures_set_aside = strip_enveloped_signatures(&document);
        schema.validate(&document).map_err(|mut issues| {
            fill_columns(message.raw(), &mut issues);
            SchemaError::Invalid {
                standard: entry.name.clone(),
                version: entry.version.clone(),
                issues,
            }
        })?;
        Ok(Validated {
            message,
            entry,
            document,
            signatures_set_aside,
        })
    }
}

/// The XML Signature namespace.
const DSIG_NAMESPACE: &[u8] = b"http://www.w3.org/2000/09/xmldsig#";

/// Removes every `ds:Signature` element child of the root — an enveloped
/// signature, which no XÖV schema has a place for — so the content can be
/// validated against its standard's XSD; returns how many were removed.
/// What the service validates after verifying, and what `xoev_dsig`'s
/// `strip_signature` does (it calls this). Signatures anywhere else stay,
/// and the XSD refuses them.
pub fn strip_enveloped_signatures(doc: &Document) -> usize {
    let mut removed = 0;
    // SAFETY: the document is alive while borrowed; the root's children
    // form a NULL-terminated list; the next sibling is read before a child
    // is unlinked and freed, and no handle to it survives.
    unsafe {
        let root = xml::xmlDocGetRootElement(doc.doc_ptr());
        if root.is_null() {
            return 0;
        }
        let mut child = (*root).children;
        while !child.is_null() {
            let next = (*child).next;
            let ns = (*child).ns;
            if (*child).type_ == xml::xmlElementType_XML_ELEMENT_NODE
                && !ns.is_null()
                && !(*ns).href.is_null()
                && !(*child).name.is_null()
                && std::ffi::CStr::from_ptr((*ns).href.cast()).to_bytes() == DSIG_NAMESPACE
                && std::ffi::CStr::from_ptr((*child).name.cast()).to_bytes() == b"Signature"
            {
                xml::xmlUnlinkNode(child);
                xml::xmlFreeNode(child);
                removed += 1;
            }
            child = next;
        }
    }
    removed
}

/// libxml2 reports XSD violations with a line but no column. The element
/// concerned is the last step of the issue's path, so its start tag on that
/// line gives the column (1-based, in characters).
pub fn fill_columns(raw: &[u8], issues: &mut [Issue]) {
    for issue in issues.iter_mut().filter(|i| i.column.is_none()) {
        let (Some(line), Some(path)) = (issue.line, issue.path.as_deref()) else {
            continue;
        };
        let step = path.rsplit('/').next().unwrap_or_default();
        let name = step.split('[').next().unwrap_or_default();
        if name.is_empty() {
            continue;
        }
        let Some(text) = raw
            .split(|&b| b == b'\n')
            .nth(line.saturating_sub(1) as usize)
            .and_then(|l| std::str::from_utf8(l).ok())
        else {
            continue;
        };
        let needle = format!("<{name}");
        let found = text.match_indices(&needle).find(|(i, _)| {
            // the next character must end the name
            matches!(
                text[i + needle.len()..].chars().next(),
                None | Some(' ' | '>' | '/' | '\t' | '\r')
            )
        });
        if let Some((byte, _)) = found {
            issue.column = u32::try_from(text[..byte].chars().count() + 1).ok();
        }
    }
}
