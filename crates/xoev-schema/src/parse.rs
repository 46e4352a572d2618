//! The hardened full parse of a message with libxml2.

use crate::error::{Issue, SchemaError};
use crate::init::{init, silence_thread};
use libxml::bindings as xml;
use libxml::tree::Document;
use std::ffi::CStr;
use xoev_core::{
    Limits, MAX_ATTRIBUTES, MAX_COMMENTS_PIS_AND_CDATA, MAX_NAMESPACES_IN_SCOPE, MessageError,
    MessageErrorKind,
};

/// Parses `bytes` into a libxml2 document, hardened:
///
/// - larger than `limits.max_bytes` → refused before parsing;
/// - a DOCTYPE anywhere in the prolog → refused before parsing (no DTD,
///   hence no entity of any kind, can be declared);
/// - `XML_PARSE_NONET`, no entity substitution, no DTD loading;
/// - at most [`MAX_DEPTH`] levels of nesting;
/// - at most [`MAX_ATTRIBUTES`] attributes on an element, counted before
///   parsing (libxml2 2.9 checks each attribute against the element's
///   earlier ones: quadratic time, 107 s for 200,000 on one element);
/// - at most [`MAX_COMMENTS_PIS_AND_CDATA`] comments, processing
///   instructions and CDATA sections together, counted before parsing
///   (libxml2's XSD validation joins the text pieces they split in
///   quadratic time);
/// - at most [`MAX_NAMESPACES_IN_SCOPE`] namespace declarations on an
///   element and its ancestors together, counted in the same pass;
/// - the size of one attribute value, comment or text node is bounded by
///   `limits.max_bytes` only: libxml2's own cap on them (10,000,000 bytes)
///   is lifted with `XML_PARSE_HUGE` for documents larger than that, so a
///   message the configured limit allows is not refused as "malformed".
///   `XML_PARSE_HUGE` also lifts libxml2's nesting and entity-amplification
///   limits: nesting is then checked on the parsed tree, and no entity can
///   be declared (no DOCTYPE);
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
    if let Some(e) = MessageError::nul_byte(bytes) {
        return Err(e.into());
    }
    if let Some(offset) = too_many_splits(bytes) {
        return Err(MessageError::new(
            MessageErrorKind::TooManyCommentsOrCdata,
            format!(
                "the document holds more than {MAX_COMMENTS_PIS_AND_CDATA} comments, processing instructions and CDATA sections together (each splits the text around it)"
            ),
        )
        .at(bytes, offset)
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
    if let Some(excess) = scan_attributes(bytes, MAX_ATTRIBUTES, MAX_NAMESPACES_IN_SCOPE) {
        let (error, offset) = match excess {
            Excess::Attributes(at) => (MessageError::too_many_attributes(), at),
            Excess::Namespaces(at) => (MessageError::too_many_namespaces(), at),
        };
        return Err(error.at(bytes, offset).into());
    }
    let Ok(len) = i32::try_from(bytes.len()) else {
        return Err(MessageError::new(MessageErrorKind::Oversize, "message exceeds 2 GiB").into());
    };
    silence_thread();
    let huge = bytes.len() > LIBXML_TEXT_LIMIT;
    let mut options = xml::xmlParserOption_XML_PARSE_NONET as i32;
    if huge {
        options |= xml::xmlParserOption_XML_PARSE_HUGE as i32;
    }
    // SAFETY: the context is created, used and freed here; the buffer
    // outlives the call and its length is passed; the URL and encoding
    // are valid C strings or null.
    unsafe {
        let ctxt = xml::xmlNewParserCtxt();
        if ctxt.is_null() {
            return Err(SchemaError::Malformed(plain_issue("out of memory")));
        }
        // libxml2 goes on after a recoverable error (`AT&T`) and keeps only
        // its last, often a consequence ("Premature end of data"): the
        // first is the one to report.
        let mut first: Option<Issue> = None;
        (*ctxt)._private = (&raw mut first).cast();
        if !(*ctxt).sax.is_null() {
            (*(*ctxt).sax).serror = Some(keep_first_error);
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
            Err(malformed(
                first.take().unwrap_or_else(|| last_error(ctxt.cast())),
            ))
        } else {
            // Without XML_PARSE_HUGE libxml2 enforced its own limit (one
            // level more than MAX_DEPTH: it counts from zero).
            let too_deep = if huge {
                element_deeper_than(doc, MAX_DEPTH)
            } else {
                None
            };
            let document = Document::new_ptr(doc);
            match too_deep {
                Some(line) => Err(too_deep_error(line, None)),
                None => Ok(document),
            }
        };
        xml::xmlFreeParserCtxt(ctxt);
        result
    }
}

/// The deepest nesting of elements a message may have: libxml2's own limit
/// without `XML_PARSE_HUGE` (which lets one level more through), checked on
/// the tree when that option is set.
pub const MAX_DEPTH: usize = 256;

/// libxml2's cap on one text node, comment or attribute value without
/// `XML_PARSE_HUGE` (`XML_MAX_TEXT_LENGTH`). A document no larger than this
/// cannot reach it, so only larger ones are parsed with the option.
const LIBXML_TEXT_LIMIT: usize = xml::XML_MAX_TEXT_LENGTH as usize;

/// A parse failure as an error: libxml2's nesting limit is
/// [`MessageErrorKind::TooDeep`], as the same excess in the header is;
/// everything else is malformed XML.
fn malformed(issue: Issue) -> SchemaError {
    if issue.message.starts_with("Excessive depth in document") {
        return too_deep_error(issue.line, issue.column);
    }
    SchemaError::Malformed(issue)
}

fn too_deep_error(line: Option<u32>, column: Option<u32>) -> SchemaError {
    MessageError {
        kind: MessageErrorKind::TooDeep,
        detail: format!("the document nests deeper than {MAX_DEPTH} levels"),
        line,
        column,
    }
    .into()
}

/// The line of the first element nested deeper than `max` levels, if any.
/// Iterative: the tree it guards against may be millions of levels deep.
///
/// # Safety
/// `doc` must be a live document that nothing modifies during the call.
unsafe fn element_deeper_than(doc: xml::xmlDocPtr, max: usize) -> Option<Option<u32>> {
    // SAFETY: per the contract, every pointer followed here belongs to the
    // live, unmodified tree of `doc`.
    unsafe {
        let mut node = (*doc).children;
        // Elements from the root to `node`, `node` included if an element.
        let mut depth = 0usize;
        while !node.is_null() {
            let element = (*node).type_ == xml::xmlElementType_XML_ELEMENT_NODE;
            if element {
                depth += 1;
                if depth > max {
                    return Some(u32::try_from(xml::xmlGetLineNo(node)).ok());
                }
                if !(*node).children.is_null() {
                    node = (*node).children;
                    continue;
                }
                depth -= 1;
            }
            // No children to enter: the next sibling, else up until one.
            while !node.is_null() && (*node).next.is_null() {
                node = (*node).parent;
                if node.is_null() || node.cast::<xml::xmlDoc>() == doc {
                    return None;
                }
                depth -= 1;
            }
            if !node.is_null() {
                node = (*node).next;
            }
        }
        None
    }
}

/// Where the comment, processing instruction or CDATA section past
/// [`MAX_COMMENTS_PIS_AND_CDATA`] starts, if there is one (`<!--`, `<?`
/// and `<![CDATA[` counted over the raw bytes, vectorised: a `<` cannot
/// otherwise start them, and one inside another, or in an attribute value,
/// only makes the count err on the safe side by a little).
fn too_many_splits(bytes: &[u8]) -> Option<usize> {
    const STARTS: [&[u8]; 3] = [b"<!--", b"<?", b"<![CDATA["];
    // the XML declaration is a `<?` too
    let allowed = MAX_COMMENTS_PIS_AND_CDATA + 1;
    let found = |start: &'static [u8]| memchr::memmem::find_iter(bytes, start);
    if STARTS.into_iter().map(|s| found(s).count()).sum::<usize>() <= allowed {
        return None;
    }
    let mut starts: Vec<usize> = STARTS.into_iter().flat_map(found).collect();
    starts.sort_unstable();
    starts.get(allowed).copied()
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

/// What the attribute scan found beyond a limit, with the tag's offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Excess {
    /// More than [`MAX_ATTRIBUTES`] on one element.
    Attributes(usize),
    /// More than [`MAX_NAMESPACES_IN_SCOPE`] namespace declarations on an
    /// element and its ancestors together.
    Namespaces(usize),
}

/// The first tag beyond `max_attributes` attributes or `max_namespaces`
/// namespace declarations in scope, found in one linear pass before
/// libxml2 parses. Written by hand because no XML reader counts without
/// the costs it guards against: libxml2 2.9 checks each attribute against
/// the element's earlier ones, and looks every prefix up through all
/// declarations in scope (250 levels of 250 declarations each, then a
/// million elements, held validation for more than two minutes).
///
/// Counts the quoted values in each tag (every attribute has exactly one;
/// `=` and `>` may appear inside them), takes the name before each `=` to
/// tell namespace declarations, and skips comments, CDATA sections and
/// processing instructions. A document that is not well-formed may be
/// miscounted; libxml2 refuses it right after. Declarations past
/// [`MAX_DEPTH`] levels are not added up (the parse refuses that nesting);
/// attributes are counted everywhere.
fn scan_attributes(bytes: &[u8], max_attributes: usize, max_namespaces: usize) -> Option<Excess> {
    // Every attribute has exactly one `=`: with no more of them in the
    // whole document than either limit, no element can go beyond one. One
    // vectorised count instead of the scan, for every ordinary message
    // (the signed 7.5 KB request has 40).
    if memchr::memchr_iter(b'=', bytes).count() <= max_attributes.min(max_namespaces) {
        return None;
    }
    let mut i = 0;
    // namespace declarations per open element, and their sum
    let mut open: Vec<usize> = Vec::new();
    let mut in_scope = 0;
    // open elements past MAX_DEPTH (refused by the parse): counted only
    let mut untracked = 0usize;
    while let Some(rel) = memchr::memchr(b'<', bytes.get(i..)?) {
        let at = i + rel;
        let rest = &bytes[at..];
        let skip = |end: &[u8]| memchr::memmem::find(rest, end).map(|e| at + e + end.len());
        i = if rest.starts_with(b"<!--") {
            skip(b"-->")?
        } else if rest.starts_with(b"<![CDATA[") {
            skip(b"]]>")?
        } else if rest.starts_with(b"<?") {
            skip(b"?>")?
        } else if rest.starts_with(b"</") {
            if untracked > 0 {
                untracked -= 1;
            } else {
                in_scope -= open.pop().unwrap_or(0);
            }
            at + 2 + memchr::memchr(b'>', bytes.get(at + 2..)?)? + 1
        } else {
            // a start tag: up to its `>` outside quotes
            let mut j = at + 1;
            let (mut values, mut declarations) = (0, 0);
            // Plain loops inside tags: they are short, and memchr's
            // vectorised search costs more than it saves on a few bytes.
            let end = loop {
                let k = j + bytes
                    .get(j..)?
                    .iter()
                    .position(|&b| matches!(b, b'"' | b'\'' | b'>'))?;
                let c = bytes[k];
                if c == b'>' {
                    break k;
                }
                values += 1;
                if values > max_attributes {
                    return Some(Excess::Attributes(at));
                }
                if is_namespace_declaration(&bytes[at..k]) {
                    declarations += 1;
                    if in_scope + declarations > max_namespaces {
                        return Some(Excess::Namespaces(at));
                    }
                }
                j = k + 1 + bytes.get(k + 1..)?.iter().position(|&b| b == c)? + 1;
            };
            if bytes[end - 1] != b'/' {
                if open.len() > MAX_DEPTH {
                    untracked += 1;
                } else {
                    open.push(declarations);
                    in_scope += declarations;
                }
            }
            end + 1
        };
    }
    None
}

/// Whether the attribute whose value starts right after `tag` (the tag up
/// to that opening quote) is a namespace declaration: its name, before
/// the `=`, is `xmlns` or `xmlns:…`.
fn is_namespace_declaration(tag: &[u8]) -> bool {
    let trimmed = tag.trim_ascii_end();
    let Some(before_eq) = trimmed.strip_suffix(b"=") else {
        return false;
    };
    let name_end = before_eq.trim_ascii_end();
    let name_start = name_end
        .iter()
        .rposition(|b| b.is_ascii_whitespace())
        .map_or(0, |p| p + 1);
    let name = &name_end[name_start..];
    name == b"xmlns" || name.starts_with(b"xmlns:")
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

/// A parser context's structured-error handler that keeps the first error
/// in the `Option<Issue>` its `_private` points to (libxml2 passes the
/// context as the handler's data).
unsafe extern "C" fn keep_first_error(user: *mut std::os::raw::c_void, err: xml::xmlErrorPtr) {
    if user.is_null() || err.is_null() {
        return;
    }
    // SAFETY: `user` is the live parser context of `parse_document`, whose
    // `_private` points to its `first` for the whole read; `err` is valid
    // during this callback.
    unsafe {
        let ctxt = user.cast::<xml::xmlParserCtxt>();
        let slot = (*ctxt)._private.cast::<Option<Issue>>();
        if slot.is_null() || (*slot).is_some() || (*err).level < xml::xmlErrorLevel_XML_ERR_ERROR {
            return;
        }
        *slot = Some(crate::validate::issue_from(&*err));
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

    fn with_attributes(n: usize) -> String {
        let attrs: String = (0..n).map(|k| format!(" a{k}='1'")).collect();
        format!("<m xmlns='urn:x'><e{attrs}/></m>")
    }

    /// libxml2 reads on after a recoverable error; its last error is a
    /// consequence ("Premature end of data in tag a"), the first the cause.
    #[test]
    fn the_first_well_formedness_error_is_reported_not_the_last() {
        let bytes = b"<?xml version=\"1.0\"?>\n<a xmlns=\"urn:x\">\n  <b>AT&T</b>\n  <c>\n</a>\n";
        let Err(SchemaError::Malformed(issue)) = parse_document(bytes, &Limits::default()) else {
            panic!("expected a malformed-xml error");
        };
        assert_eq!(issue.line, Some(3), "{issue:?}");
        assert!(issue.message.contains("EntityRef"), "{issue:?}");
        // one error only: the same as before
        let Err(SchemaError::Malformed(issue)) =
            parse_document(b"<a xmlns=\"urn:x\"><b></a>", &Limits::default())
        else {
            panic!("expected a malformed-xml error");
        };
        assert!(issue.message.contains("mismatch"), "{issue:?}");
    }

    #[test]
    fn attributes_are_counted_per_tag_before_libxml2_parses() {
        assert_eq!(
            scan_attributes(
                with_attributes(MAX_ATTRIBUTES).as_bytes(),
                MAX_ATTRIBUTES,
                MAX_NAMESPACES_IN_SCOPE
            ),
            None
        );
        let doc = with_attributes(MAX_ATTRIBUTES + 1);
        assert_eq!(
            scan_attributes(doc.as_bytes(), MAX_ATTRIBUTES, MAX_NAMESPACES_IN_SCOPE),
            Some(Excess::Attributes(doc.find("<e").expect("tag")))
        );
        let Err(e) = parse_document(doc.as_bytes(), &Limits::default()) else {
            panic!("parsed");
        };
        assert_eq!(e.kind().as_str(), "too-many-attributes", "{e}");
        assert!(
            parse_document(
                with_attributes(MAX_ATTRIBUTES).as_bytes(),
                &Limits::default()
            )
            .is_ok()
        );
        // namespace declarations count as attributes too
        let decls: String = (0..=MAX_ATTRIBUTES)
            .map(|k| format!(" xmlns:p{k}='urn:{k}'"))
            .collect();
        assert_eq!(
            scan_attributes(
                format!("<m{decls}/>").as_bytes(),
                MAX_ATTRIBUTES,
                usize::MAX
            ),
            Some(Excess::Attributes(0))
        );
    }

    #[test]
    fn namespace_declarations_are_counted_while_in_scope() {
        let decls = |tag: &str, n: usize| -> String {
            (0..n)
                .map(|k| format!(" xmlns:{tag}{k}='urn:{tag}:{k}'"))
                .collect()
        };
        let scan = |doc: &str| scan_attributes(doc.as_bytes(), 300, 256);
        // 200 on the root and 100 on a child: 300 in scope at the child
        let nested = format!("<r{}><c{}/></r>", decls("a", 200), decls("b", 100));
        assert_eq!(
            scan(&nested),
            Some(Excess::Namespaces(nested.find("<c").expect("c")))
        );
        // siblings' declarations go out of scope with them, self-closing or not
        let siblings = format!(
            "<r{}><c{}/><d{}></d><e{}>x</e></r>",
            decls("a", 100),
            decls("b", 150),
            decls("c", 150),
            decls("d", 150)
        );
        assert_eq!(scan(&siblings), None);
        // `xmlns` spelled inside a value, or as part of another name, is not one;
        // the default namespace and a spaced `=` are
        let lookalikes: String = (0..300)
            .map(|k| format!(" a{k}='xmlns:x=' myxmlns{k}='u'"))
            .collect();
        assert_eq!(
            scan_attributes(format!("<r{lookalikes}/>").as_bytes(), 1000, 0),
            None
        );
        assert_eq!(
            scan_attributes(b"<r xmlns = 'u'/>", 10, 0),
            Some(Excess::Namespaces(0))
        );
        // through the parse: the deep case of the doc comment, small
        let deep: String = (0..3)
            .map(|l| format!("<x{l}{}>", decls(&format!("p{l}_"), 90)))
            .collect();
        let doc = format!("<m>{deep}<p0_0:a/></x2></x1></x0></m>");
        let Err(e) = parse_document(doc.as_bytes(), &Limits::default()) else {
            panic!("parsed");
        };
        assert_eq!(e.kind().as_str(), "too-many-namespaces", "{e}");
    }

    #[test]
    fn quotes_markup_and_text_do_not_miscount() {
        let count = |doc: &str| {
            (0..6).find(|&max| scan_attributes(doc.as_bytes(), max, usize::MAX).is_none())
        };
        // `>`, `=` and the other quote inside values; quotes in text
        assert_eq!(
            count(r#"<a x="1>2" y='say "hi" = ok'>it's "text" > here</a>"#),
            Some(2)
        );
        // comments, CDATA and processing instructions are skipped
        assert_eq!(
            count(
                r#"<?pi a="1" b="2" c="3"?><a><!-- <b p="1" q="2" r="3"/> --><![CDATA[<c s="1" t="2" u="3"/>]]><d e="1"/></a>"#
            ),
            Some(1)
        );
        // an unterminated quote or tag ends the scan (libxml2 refuses it)
        assert_eq!(count(r#"<a x="1 y="2"#), Some(1));
        assert_eq!(count("<a"), Some(0));
    }

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

    /// Limits that let documents past libxml2's own 10,000,000-byte cap in.
    fn large() -> Limits {
        Limits {
            max_bytes: 64 << 20,
            ..Limits::default()
        }
    }

    #[test]
    fn a_comment_beyond_libxml2s_cap_parses_when_the_limit_allows_it() {
        let doc = format!("<a><!--{}--><b>after</b></a>", "x".repeat(10_500_000));
        let parsed = parse_document(doc.as_bytes(), &large()).expect("parses");
        let root = parsed.get_root_element().expect("root");
        assert_eq!(root.get_content(), "after");
    }

    #[test]
    fn a_large_text_node_parses_whole() {
        let payload = "QUJD".repeat(3_000_000); // 12,000,000 bytes of base64
        let doc = format!("<a><b>{payload}</b><c>after</c></a>");
        let parsed = parse_document(doc.as_bytes(), &large()).expect("parses");
        let root = parsed.get_root_element().expect("root");
        let b = root.get_first_element_child().expect("b");
        assert_eq!(b.get_content().len(), payload.len());
        assert_eq!(
            b.get_next_element_sibling().map(|c| c.get_content()),
            Some("after".to_owned())
        );
        // The same document over the configured limit is still refused.
        let small = Limits {
            max_bytes: 1 << 20,
            ..Limits::default()
        };
        let e = parse_document(doc.as_bytes(), &small)
            .err()
            .expect("oversize");
        assert_eq!(e.kind().as_str(), "oversize", "{e}");
    }

    #[test]
    fn an_attribute_beyond_libxml2s_cap_parses_when_the_limit_allows_it() {
        let value = "x".repeat(10_500_000);
        let doc = format!(r#"<a v="{value}"/>"#);
        let parsed = parse_document(doc.as_bytes(), &large()).expect("parses");
        let root = parsed.get_root_element().expect("root");
        assert_eq!(root.get_property("v").map(|v| v.len()), Some(value.len()));
    }

    #[test]
    fn large_documents_keep_the_nesting_limit() {
        // Over 10,000,000 bytes, so parsed with XML_PARSE_HUGE.
        let pad = "p".repeat(10_100_000);
        let nested = |levels: usize| {
            format!(
                "<a>{pad}{}x{}</a>",
                "<b>".repeat(levels - 1),
                "</b>".repeat(levels - 1)
            )
        };
        assert!(parse_document(nested(MAX_DEPTH).as_bytes(), &large()).is_ok());
        let Err(e) = parse_document(nested(MAX_DEPTH + 1).as_bytes(), &large()) else {
            panic!("{} levels parsed", MAX_DEPTH + 1);
        };
        assert_eq!(e.kind().as_str(), "too-deep", "{e}");
        // Siblings after a deep branch are counted from their own depth.
        let wide = format!(
            "<a>{pad}{}{}{}</a>",
            "<b>".repeat(200),
            "</b>".repeat(200),
            "<c><d/></c>".repeat(1000)
        );
        assert!(parse_document(wide.as_bytes(), &large()).is_ok());
    }

    #[test]
    fn millions_of_levels_are_refused_without_exhausting_the_stack() {
        // ≈ 3.4 million levels in 10.2 MB: libxml2 builds the tree without
        // recursion; the depth check and the tree's release must not recurse.
        let levels = 3_400_000;
        let doc = format!("{}{}", "<a>".repeat(levels), "</a>".repeat(levels));
        let e = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || parse_document(doc.as_bytes(), &large()).err())
            .expect("thread")
            .join()
            .expect("no panic")
            .expect("too deep");
        assert_eq!(e.kind().as_str(), "too-deep", "{e}");
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
