//! The hardened full parse of a message with libxml2.

use crate::error::{Issue, SchemaError};
use crate::init::{init, silence_thread};
use libxml::bindings as xml;
use libxml::tree::Document;
use std::ffi::CStr;
use xoev_core::{Limits, MessageError, MessageErrorKind};

/// Parses `bytes` into a libxml2 document, hardened:
///
/// - larger than `limits.max_bytes` → refused before parsing;
/// - a DOCTYPE anywhere in the prolog → refused before parsing (no DTD,
///   hence no entity of any kind, can be declared);
/// - `XML_PARSE_NONET`, no entity substitution, no DTD loading, libxml2's
///   default depth and amplification limits (no `XML_PARSE_HUGE`);
/// - the process-wide entity loader (see [`init`]) refuses every file
///   outside the registered schema directories.
///
/// Whitespace and CDATA are kept as they are: signatures are computed over
/// this tree.
pub fn parse_document(bytes: &[u8], limits: &Limits) -> Result<Document, SchemaError> {
    init();
    if bytes.len() > limits.max_bytes {
        return Err(MessageError::new(
            MessageErrorKind::Oversize,
            format!(
                "message is {} bytes, the limit is {} bytes",
                bytes.len(),
                limits.max_bytes
            ),
        )
        .into());
    }
    if let Some(offset) = doctype_in_prolog(bytes) {
        return Err(MessageError::new(
            MessageErrorKind::Doctype,
            "DOCTYPE declarations are refused (no DTDs, no entities)",
        )
        .at(bytes, offset)
        .into());
    }
    let Ok(len) = i32::try_from(bytes.len()) else {
        return Err(MessageError::new(MessageErrorKind::Oversize, "message exceeds 2 GiB").into());
    };
    silence_thread();
    let options = xml::xmlParserOption_XML_PARSE_NONET as i32;
    // SAFETY: the context is created, used and freed here; the buffer
    // outlives the call and its length is passed; the URL and encoding
    // are valid C strings or null.
    unsafe {
        let ctxt = xml::xmlNewParserCtxt();
        if ctxt.is_null() {
            return Err(SchemaError::Malformed(plain_issue("out of memory")));
        }
        let doc = xml::xmlCtxtReadMemory(
            ctxt,
            bytes.as_ptr().cast(),
            len,
            c"message.xml".as_ptr(),
            std::ptr::null(),
            options,
        );
        let result = if doc.is_null() || (*ctxt).wellFormed == 0 {
            if !doc.is_null() {
                xml::xmlFreeDoc(doc);
            }
            Err(malformed(last_error(ctxt.cast())))
        } else {
            Ok(Document::new_ptr(doc))
        };
        xml::xmlFreeParserCtxt(ctxt);
        result
    }
}

/// A parse failure as an error: libxml2's nesting limit (256 levels without
/// `XML_PARSE_HUGE`) is [`MessageErrorKind::TooDeep`], as the same excess in
/// the header is; everything else is malformed XML.
fn malformed(issue: Issue) -> SchemaError {
    if issue.message.starts_with("Excessive depth in document") {
        return MessageError {
            kind: MessageErrorKind::TooDeep,
            detail: "the document nests deeper than 256 levels".into(),
            line: issue.line,
            column: issue.column,
        }
        .into();
    }
    SchemaError::Malformed(issue)
}

/// Finds `<!DOCTYPE` before the root element. Only the prolog can hold one,
/// so the scan stops at the first start tag.
fn doctype_in_prolog(bytes: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(rel) = bytes.get(i..)?.iter().position(|&b| b == b'<') {
        let at = i + rel;
        let rest = &bytes[at..];
        if rest.starts_with(b"<!DOCTYPE") {
            return Some(at);
        } else if rest.starts_with(b"<!--") {
            let end = find(rest, b"-->")?;
            i = at + end + 3;
        } else if rest.starts_with(b"<?") {
            let end = find(rest, b"?>")?;
            i = at + end + 2;
        } else {
            return None; // the root element starts: prolog over
        }
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn plain_issue(msg: &str) -> Issue {
    Issue {
        line: None,
        column: None,
        path: None,
        message: msg.to_owned(),
    }
}

/// Converts libxml2's last error of a context into an [`Issue`].
///
/// # Safety
/// `ctxt` must be a live parser context.
unsafe fn last_error(ctxt: *mut std::os::raw::c_void) -> Issue {
    // SAFETY: per the contract, ctxt is live; the returned error is owned
    // by the context and only read here.
    unsafe {
        let err = xml::xmlCtxtGetLastError(ctxt);
        if err.is_null() {
            return plain_issue("document is not well-formed");
        }
        crate::validate::issue_from(&*err)
    }
}

/// Reads a C string owned by libxml2 into a trimmed Rust string.
///
/// # Safety
/// `p` must be null or a valid NUL-terminated string.
pub(crate) unsafe fn c_text(p: *const std::os::raw::c_char) -> Option<String> {
    if p.is_null() {
        None
    } else {
        // SAFETY: per the contract.
        Some(
            unsafe { CStr::from_ptr(p) }
                .to_string_lossy()
                .trim()
                .to_owned(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_beyond_libxml2_limit_is_too_deep() {
        let depth = 300;
        let doc = format!("<a>{}x{}</a>", "<b>".repeat(depth), "</b>".repeat(depth));
        let limits = Limits {
            max_bytes: 1 << 20,
            max_depth: 1000,
        };
        let Err(e) = parse_document(doc.as_bytes(), &limits) else {
            panic!("a document 300 levels deep parsed");
        };
        assert_eq!(e.kind().as_str(), "too-deep", "{e}");
        let shallow = format!("<a>{}x{}</a>", "<b>".repeat(200), "</b>".repeat(200));
        assert!(parse_document(shallow.as_bytes(), &limits).is_ok());
    }

    #[test]
    fn doctype_scan_stops_at_root() {
        assert_eq!(
            doctype_in_prolog(b"<?xml version='1.0'?><!DOCTYPE a><a/>"),
            Some(21)
        );
        assert_eq!(doctype_in_prolog(b"<!-- <!DOCTYPE --><a/>"), None);
        assert_eq!(doctype_in_prolog(b"<a><!DOCTYPE b></a>"), None);
    }
}
