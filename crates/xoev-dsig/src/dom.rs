//! Small raw-pointer helpers over libxml2's tree, for reading and editing the
//! `ds:Signature` element. Pointers are valid while the borrowed `Document`
//! is alive and not modified elsewhere; every function documents that.

use libxml::bindings as xml;
use libxml::tree::Document;
use std::ffi::CStr;
use std::os::raw::c_void;

/// The XML Signature namespace.
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// A libxml2 node pointer.
pub(crate) type NodePtr = xml::xmlNodePtr;

/// The root element of `doc`, if any.
pub(crate) fn root(doc: &Document) -> Option<NodePtr> {
    // SAFETY: the document pointer is valid while `doc` is borrowed.
    let r = unsafe { xml::xmlDocGetRootElement(doc.doc_ptr()) };
    (!r.is_null()).then_some(r)
}

/// True for element nodes.
///
/// # Safety
/// `n` must be a valid node.
unsafe fn is_element(n: NodePtr) -> bool {
    // SAFETY: per the contract.
    unsafe { (*n).type_ == xml::xmlElementType_XML_ELEMENT_NODE }
}

/// The element children of `node`, in document order.
pub(crate) fn element_children(node: NodePtr) -> Vec<NodePtr> {
    let mut out = Vec::new();
    // SAFETY: `node` is a live node of a borrowed document (module contract);
    // children form a NULL-terminated list.
    unsafe {
        let mut c = (*node).children;
        while !c.is_null() {
            if is_element(c) {
                out.push(c);
            }
            c = (*c).next;
        }
    }
    out
}

/// The element's local name.
pub(crate) fn local_name(node: NodePtr) -> String {
    // SAFETY: element names are NUL-terminated strings owned by the node.
    unsafe {
        let n = (*node).name;
        if n.is_null() {
            String::new()
        } else {
            CStr::from_ptr(n.cast()).to_string_lossy().into_owned()
        }
    }
}

/// The element's namespace URI, if any.
pub(crate) fn namespace(node: NodePtr) -> Option<String> {
    // SAFETY: `ns` is null or a namespace owned by the tree; href is a C string.
    unsafe {
        let ns = (*node).ns;
        if ns.is_null() || (*ns).href.is_null() {
            None
        } else {
            Some(
                CStr::from_ptr((*ns).href.cast())
                    .to_string_lossy()
                    .into_owned(),
            )
        }
    }
}

/// True if `node` is the element `{DSIG_NS}local`. Compares the bytes in
/// place: it runs for every element of a message (the wrapping defence looks
/// for signatures anywhere).
pub(crate) fn is_dsig(node: NodePtr, local: &str) -> bool {
    // SAFETY: `ns` is null or a namespace owned by the tree; href and the
    // element name are NUL-terminated strings owned by the tree.
    unsafe {
        let ns = (*node).ns;
        if ns.is_null() || (*ns).href.is_null() || (*node).name.is_null() {
            return false;
        }
        CStr::from_ptr((*ns).href.cast()).to_bytes() == DSIG_NS.as_bytes()
            && CStr::from_ptr((*node).name.cast()).to_bytes() == local.as_bytes()
    }
}

/// The value of the first attribute with local name `name`, whatever its
/// namespace (`None` if absent) — the same lookup xmlsec1 uses
/// (`xmlGetProp`), so the profile checks exactly the value xmlsec1 acts on.
pub(crate) fn attr(node: NodePtr, name: &CStr) -> Option<String> {
    // SAFETY: xmlHasProp returns an attribute owned by the node or null;
    // xmlNodeGetContent returns a string we own and free.
    unsafe {
        let prop = xml::xmlHasProp(node, name.as_ptr().cast());
        if prop.is_null() {
            return None;
        }
        Some(take_string(xml::xmlNodeGetContent(prop.cast())))
    }
}

/// The text content of `node` (all descendant text).
pub(crate) fn text(node: NodePtr) -> String {
    // SAFETY: xmlNodeGetContent returns a string we own and free.
    unsafe { take_string(xml::xmlNodeGetContent(node)) }
}

/// Decodes base64 text as XML Signature carries it (whitespace, e.g. line
/// breaks, allowed anywhere); `None` if it is not base64.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    // Bytes, not chars: the text is scanned once per certificate and value
    // of every message, and only ASCII whitespace is removed.
    let compact;
    let text = if text.bytes().any(|b| b.is_ascii_whitespace()) {
        let kept: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        // removing ASCII bytes from valid UTF-8 leaves valid UTF-8
        compact = String::from_utf8(kept).ok()?;
        compact.as_str()
    } else {
        text
    };
    openssl::base64::decode_block(text).ok()
}

/// The first text or CDATA node with other than whitespace in the subtree
/// of `node`, not looking into elements for which `skip` is true: its parent
/// element and its text.
pub(crate) fn stray_text(
    node: NodePtr,
    skip: &dyn Fn(NodePtr) -> bool,
) -> Option<(NodePtr, String)> {
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        // SAFETY: `n` is a live node of a borrowed document (module
        // contract); children form a NULL-terminated list, and a text node's
        // content is NULL or a NUL-terminated string owned by the node.
        unsafe {
            let mut c = (*n).children;
            while !c.is_null() {
                let t = (*c).type_;
                if t == xml::xmlElementType_XML_TEXT_NODE
                    || t == xml::xmlElementType_XML_CDATA_SECTION_NODE
                {
                    let content = (*c).content;
                    if !content.is_null() {
                        let bytes = CStr::from_ptr(content.cast()).to_bytes();
                        if !bytes.iter().all(u8::is_ascii_whitespace) {
                            return Some((n, String::from_utf8_lossy(bytes).into_owned()));
                        }
                    }
                } else if is_element(c) && !skip(c) {
                    stack.push(c);
                }
                c = (*c).next;
            }
        }
    }
    None
}

/// The XPath-like path of `node` (for messages).
pub(crate) fn path(node: NodePtr) -> String {
    // SAFETY: xmlGetNodePath returns a string we own and free.
    unsafe { take_string(xml::xmlGetNodePath(node)) }
}

/// Every `ds:Signature` element in the subtree of `node` (document order).
pub(crate) fn find_signatures(node: NodePtr) -> Vec<NodePtr> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if is_dsig(n, "Signature") {
            out.push(n);
        }
        let mut kids = element_children(n);
        kids.reverse();
        stack.extend(kids);
    }
    out
}

/// Unlinks `node` from its tree and frees it.
///
/// # Safety
/// `node` must be a live node of a document the caller may modify, and no
/// other handle to it (or its descendants) may be used afterwards.
pub(crate) unsafe fn remove(node: NodePtr) {
    // SAFETY: per the contract.
    unsafe {
        xml::xmlUnlinkNode(node);
        xml::xmlFreeNode(node);
    }
}

/// Serialises `doc` as UTF-8 without reformatting.
pub(crate) fn to_bytes(doc: &Document) -> Vec<u8> {
    let mut buf: *mut xml::xmlChar = std::ptr::null_mut();
    let mut len: i32 = 0;
    // SAFETY: the document is valid; libxml2 allocates `buf`, we copy and free it.
    unsafe {
        xml::xmlDocDumpMemoryEnc(doc.doc_ptr(), &mut buf, &mut len, c"UTF-8".as_ptr());
        if buf.is_null() {
            return Vec::new();
        }
        let out = std::slice::from_raw_parts(buf, usize::try_from(len).unwrap_or(0)).to_vec();
        free(buf.cast());
        out
    }
}

/// Serialises one element (with its subtree) as UTF-8 without reformatting.
pub(crate) fn node_to_bytes(doc: &Document, node: NodePtr) -> Vec<u8> {
    // SAFETY: `node` is a live node of the borrowed `doc` (module contract);
    // the buffer is created, read and freed here.
    unsafe {
        let buf = xml::xmlBufferCreate();
        if buf.is_null() {
            return Vec::new();
        }
        let written = xml::xmlNodeDump(buf, doc.doc_ptr(), node, 0, 0);
        let content = xml::xmlBufferContent(buf);
        let out = if written < 0 || content.is_null() {
            Vec::new()
        } else {
            let len = usize::try_from(xml::xmlBufferLength(buf)).unwrap_or(0);
            std::slice::from_raw_parts(content, len).to_vec()
        };
        xml::xmlBufferFree(buf);
        out
    }
}

/// The element's qualified name as written (`prefix:local` or `local`).
pub(crate) fn qualified_name(node: NodePtr) -> Vec<u8> {
    // SAFETY: a live element node; `ns` and its prefix are NULL or valid.
    unsafe {
        let mut out = Vec::new();
        let ns = (*node).ns;
        if !ns.is_null() && !(*ns).prefix.is_null() {
            out.extend_from_slice(CStr::from_ptr((*ns).prefix.cast()).to_bytes());
            out.push(b':');
        }
        if !(*node).name.is_null() {
            out.extend_from_slice(CStr::from_ptr((*node).name.cast()).to_bytes());
        }
        out
    }
}

/// The last child node of `node` if it is an element.
pub(crate) fn last_child_element(node: NodePtr) -> Option<NodePtr> {
    // SAFETY: `node` is a live node (module contract).
    unsafe {
        let last = (*node).last;
        (!last.is_null() && is_element(last)).then_some(last)
    }
}

/// Copies and frees a string allocated by libxml2.
///
/// # Safety
/// `p` must be null or a NUL-terminated string allocated by libxml2.
unsafe fn take_string(p: *mut xml::xmlChar) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: per the contract.
    unsafe {
        let s = CStr::from_ptr(p.cast()).to_string_lossy().into_owned();
        free(p.cast());
        s
    }
}

/// libxml2's `xmlFree`.
///
/// # Safety
/// `p` must have been allocated by libxml2.
unsafe fn free(p: *mut c_void) {
    // SAFETY: per the contract; xmlFree is set once libxml2 is initialised.
    unsafe {
        if let Some(f) = xml::xmlFree {
            f(p);
        }
    }
}

/// A structured-error sink that drops libxml2's messages.
unsafe extern "C" fn silent(_user: *mut c_void, _err: xml::xmlErrorPtr) {}

/// Keeps libxml2 from printing to stderr on the calling thread (libxml2
/// keeps its error handlers per thread).
pub(crate) fn silence_thread() {
    // SAFETY: installing a no-op handler for the calling thread is always valid.
    unsafe { xml::xmlSetStructuredErrorFunc(std::ptr::null_mut(), Some(silent)) }
}

#[cfg(test)]
mod tests {
    use super::decode_base64;

    #[test]
    fn base64_with_whitespace_anywhere_decodes_and_junk_does_not() {
        assert_eq!(decode_base64("aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(
            decode_base64("\n  aGVs\r\n\tbG8=\n"),
            Some(b"hello".to_vec())
        );
        assert_eq!(decode_base64(""), Some(Vec::new()));
        assert_eq!(decode_base64("aGVs bG8*"), None);
        assert_eq!(decode_base64("aGVsbG8=ä"), None);
        // a non-breaking space is not XML whitespace: not removed, refused
        assert_eq!(decode_base64("aGVs\u{a0}bG8="), None);
    }
}
