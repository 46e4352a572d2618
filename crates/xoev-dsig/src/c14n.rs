//! Exclusive XML Canonicalization 1.0 (without comments) of an already
//! parsed document, into a sink (a digest, a buffer).
//!
//! Two implementations of the same function:
//!
//! - [`libxml2`]: libxml2's `xmlC14NExecute` — the canonicaliser xmlsec1
//!   runs underneath its transforms — with a visibility callback for the two
//!   node sets the profile needs (the whole document without the enveloped
//!   signature; the `SignedInfo` subtree). xmlsec1's generic engine builds
//!   XPath node sets for these and tests membership by linear search per
//!   node; here membership is a walk up the (shallow) ancestor chain.
//! - [`native`] (used by [`exclusive`]): a direct walk of the same libxml2
//!   tree. Written by hand because no library canonicalises a libxml2 tree
//!   without libxml2's generic machinery, which (namespace stacks as linked
//!   lists, a callback per node, attribute and namespace, an output buffer
//!   layer) cost about as much as the ECDSA verification itself. Both scopes
//!   are whole subtrees (minus one), which makes the exclusive-C14N rules
//!   simple: namespaces are rendered where visibly used and not already
//!   rendered by an output ancestor with the same URI. Anything outside what
//!   our hardened parser produces (entity references, DTD nodes, XInclude
//!   markers) makes it hand over to [`libxml2`]. Tests hold it to libxml2's
//!   output byte for byte on every sample document and scope, and to the
//!   Santuario exclusive-C14N vectors.

use crate::dom::NodePtr;
use crate::error::{DsigError, DsigErrorKind};
use libxml::bindings as xml;
use libxml::tree::Document;
use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_void};
use std::ptr::null_mut;

/// Which nodes of the document are canonicalised.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope {
    /// The whole document except this element and everything in it — the
    /// result of `URI=""` followed by the enveloped-signature transform.
    DocumentWithout(NodePtr),
    /// This element and everything in it (`SignedInfo`).
    Subtree(NodePtr),
}

/// Whether `node` is `target` or lies inside it (attributes and namespace
/// nodes included: they are tested through their element).
///
/// # Safety
/// `node` and `parent` are what libxml2's C14N passes to its visibility
/// callback: live nodes of the document being canonicalised.
unsafe fn within(node: NodePtr, parent: NodePtr, target: NodePtr) -> bool {
    // SAFETY: per the contract. A namespace node (`xmlNs`) shares the
    // position of `type` with `xmlNode` (libxml2 relies on this itself) and
    // has no parent pointer, so it is tested through `parent`, its element.
    unsafe {
        let mut n = if (*node).type_ == xml::xmlElementType_XML_NAMESPACE_DECL {
            parent
        } else {
            node
        };
        while !n.is_null() {
            if n == target {
                return true;
            }
            n = (*n).parent;
        }
        false
    }
}

unsafe extern "C" fn visible(user_data: *mut c_void, node: NodePtr, parent: NodePtr) -> c_int {
    // SAFETY: `user_data` is the `Scope` passed to `xmlC14NExecute` below,
    // alive for the call; node/parent come from libxml2 (see `within`).
    unsafe {
        let scope = &*user_data.cast::<Scope>();
        let inside = match *scope {
            Scope::DocumentWithout(excluded) => !within(node, parent, excluded),
            Scope::Subtree(top) => within(node, parent, top),
        };
        c_int::from(inside)
    }
}

/// Where the output goes.
struct Sink<'a> {
    write: &'a mut dyn FnMut(&[u8]),
}

unsafe extern "C" fn write(context: *mut c_void, buffer: *const c_char, len: c_int) -> c_int {
    if len <= 0 {
        return 0;
    }
    // SAFETY: `context` is the `Sink` handed to `xmlOutputBufferCreateIO`,
    // alive until the buffer is closed; libxml2 passes `len` valid bytes.
    unsafe {
        let sink = &mut *context.cast::<Sink<'_>>();
        let bytes = std::slice::from_raw_parts(buffer.cast::<u8>(), len as usize);
        (sink.write)(bytes);
    }
    len
}

/// The exclusive canonical form through libxml2's `xmlC14NExecute`, streamed
/// into `out` (the reference for, and fallback of, [`native`]).
pub(crate) fn libxml2(
    doc: &Document,
    scope: Scope,
    inclusive: &[String],
    out: &mut dyn FnMut(&[u8]),
) -> Result<(), DsigError> {
    let failed = |what: &str| {
        DsigError::new(
            DsigErrorKind::Internal,
            format!("exclusive canonicalisation failed: {what}"),
        )
    };
    let prefixes: Vec<CString> = inclusive
        .iter()
        .map(|p| CString::new(p.as_str()))
        .collect::<Result<_, _>>()
        .map_err(|_| {
            DsigError::new(
                DsigErrorKind::MalformedSignature,
                "an InclusiveNamespaces prefix contains a NUL character",
            )
        })?;
    let mut list: Vec<*mut xml::xmlChar> = prefixes
        .iter()
        .map(|p| p.as_ptr().cast_mut().cast())
        .collect();
    list.push(null_mut());
    let list_ptr = if inclusive.is_empty() {
        null_mut()
    } else {
        list.as_mut_ptr()
    };
    let mut scope = scope;
    let mut sink = Sink { write: out };
    // SAFETY: the output buffer borrows `sink`, which outlives it (the
    // buffer is closed below before `sink` goes out of scope); `scope` and
    // `list` (NULL-terminated, strings owned by `prefixes`) outlive the
    // call; libxml2 only reads the prefix strings. The document is borrowed
    // and not modified during the call.
    unsafe {
        let buf =
            xml::xmlOutputBufferCreateIO(Some(write), None, (&raw mut sink).cast(), null_mut());
        if buf.is_null() {
            return Err(failed("cannot create an output buffer"));
        }
        let rc = xml::xmlC14NExecute(
            doc.doc_ptr(),
            Some(visible),
            (&raw mut scope).cast(),
            xml::xmlC14NMode_XML_C14N_EXCLUSIVE_1_0 as c_int,
            list_ptr,
            0,
            buf,
        );
        let closed = xml::xmlOutputBufferClose(buf);
        if rc < 0 {
            return Err(failed("libxml2 refused the document"));
        }
        if closed < 0 {
            return Err(failed("the output could not be written"));
        }
    }
    Ok(())
}

/// Canonicalises `scope` of `doc` with exclusive C14N 1.0 (no comments),
/// treating the namespace prefixes in `inclusive` (`InclusiveNamespaces
/// PrefixList`, `#default` for the default namespace) inclusively: the
/// direct walk ([`native`]), or libxml2 where the walk hands over.
pub(crate) fn exclusive(
    doc: &Document,
    scope: Scope,
    inclusive: &[String],
) -> Result<Vec<u8>, DsigError> {
    if let Some(bytes) = native(doc, scope, inclusive) {
        return Ok(bytes);
    }
    let mut v = Vec::with_capacity(1024);
    libxml2(doc, scope, inclusive, &mut |b| v.extend_from_slice(b))?;
    Ok(v)
}

/// The canonical form by a direct walk of the tree, or `None` where the tree
/// holds a node this walk does not handle (then use [`libxml2`]).
pub(crate) fn native(doc: &Document, scope: Scope, inclusive: &[String]) -> Option<Vec<u8>> {
    let mut w = Walker {
        out: Vec::with_capacity(8 * 1024),
        rendered: Vec::with_capacity(16),
        used: Vec::with_capacity(8),
        attrs: Vec::with_capacity(8),
        inclusive: inclusive
            .iter()
            .map(|p| {
                if p == "#default" {
                    Vec::new()
                } else {
                    p.as_bytes().to_vec()
                }
            })
            .collect(),
        excluded: match scope {
            Scope::DocumentWithout(n) => n,
            Scope::Subtree(_) => null_mut(),
        },
    };
    // SAFETY: the document is borrowed (alive, unmodified) for the call;
    // every pointer followed is a link of its tree.
    let complete = unsafe {
        match scope {
            Scope::Subtree(top) => w.element(top),
            Scope::DocumentWithout(_) => w.document(doc.doc_ptr()),
        }
    };
    complete.then_some(w.out)
}

/// The bytes of a NUL-terminated libxml2 string (empty for NULL).
///
/// # Safety
/// `p` is NULL or a NUL-terminated string alive for `'a`.
unsafe fn bytes<'a>(p: *const xml::xmlChar) -> &'a [u8] {
    if p.is_null() {
        return &[];
    }
    // SAFETY: per the contract.
    unsafe { std::ffi::CStr::from_ptr(p.cast()).to_bytes() }
}

/// The namespace declaration in scope at `node` for `prefix` (`""`: the
/// default namespace), as (prefix, URI) stored in the tree, if any.
///
/// # Safety
/// `node` is a live element of `doc`, which outlives `'a`.
unsafe fn in_scope<'a>(
    doc: xml::xmlDocPtr,
    node: NodePtr,
    prefix: &[u8],
) -> Option<(&'a [u8], &'a [u8])> {
    let prefix_c = if prefix.is_empty() {
        None
    } else {
        Some(CString::new(prefix).ok()?)
    };
    // SAFETY: per the contract; the returned namespace belongs to the tree.
    unsafe {
        let ns = xml::xmlSearchNs(
            doc,
            node,
            prefix_c
                .as_ref()
                .map_or(std::ptr::null(), |c| c.as_ptr().cast()),
        );
        (!ns.is_null()).then(|| (bytes((*ns).prefix), bytes((*ns).href)))
    }
}

const XML_PREFIX: &[u8] = b"xml";

/// State of one canonicalisation.
struct Walker<'a> {
    out: Vec<u8>,
    /// Namespace declarations rendered by the output ancestors of the
    /// current element, innermost last: (prefix, URI); `""` is the default.
    rendered: Vec<(&'a [u8], &'a [u8])>,
    /// Scratch for the namespaces an element visibly uses (reused from
    /// element to element: it is empty again before the children are
    /// walked).
    used: Vec<(&'a [u8], &'a [u8])>,
    /// Scratch for an element's attributes: (namespace URI, local name, node).
    attrs: Vec<(&'a [u8], &'a [u8], NodePtr)>,
    /// `InclusiveNamespaces` prefixes (`""` for `#default`).
    inclusive: Vec<Vec<u8>>,
    /// The element left out with everything in it (or NULL).
    excluded: NodePtr,
}

impl<'a> Walker<'a> {
    /// The URI the nearest output ancestor rendered for `prefix` (the
    /// default namespace starts out as "none", i.e. `""`).
    fn rendered(&self, prefix: &[u8]) -> Option<&'a [u8]> {
        self.rendered
            .iter()
            .rev()
            .find(|(p, _)| *p == prefix)
            .map(|(_, u)| *u)
            .or(if prefix.is_empty() {
                Some(&[][..])
            } else {
                None
            })
    }

    /// # Safety
    /// `doc` is the live document being canonicalised.
    unsafe fn document(&mut self, doc: xml::xmlDocPtr) -> bool {
        // SAFETY: per the contract; children form a NULL-terminated list.
        unsafe {
            let mut seen_root = false;
            let mut c = (*doc).children;
            while !c.is_null() {
                match (*c).type_ {
                    xml::xmlElementType_XML_ELEMENT_NODE => {
                        if c != self.excluded && !self.element(c) {
                            return false;
                        }
                        seen_root = true;
                    }
                    xml::xmlElementType_XML_PI_NODE => {
                        // C14N §2.3: a line feed separates document-level
                        // nodes from the document element.
                        if seen_root {
                            self.out.push(b'\n');
                        }
                        self.pi(c);
                        if !seen_root {
                            self.out.push(b'\n');
                        }
                    }
                    xml::xmlElementType_XML_COMMENT_NODE => {}
                    _ => return false,
                }
                c = (*c).next;
            }
            true
        }
    }

    /// # Safety
    /// `node` is a live processing instruction.
    unsafe fn pi(&mut self, node: NodePtr) {
        // SAFETY: per the contract.
        unsafe {
            self.out.extend_from_slice(b"<?");
            self.out.extend_from_slice(bytes((*node).name));
            let data = bytes((*node).content);
            if !data.is_empty() {
                self.out.push(b' ');
                // PI data is written as it is
                self.out.extend_from_slice(data);
            }
            self.out.extend_from_slice(b"?>");
        }
    }

    /// Renders `node` (an element in the node set) and its content.
    ///
    /// # Safety
    /// `node` is a live element of the document being canonicalised, which
    /// outlives `'a`.
    unsafe fn element(&mut self, node: NodePtr) -> bool {
        // SAFETY: per the contract; every pointer followed is a link of the
        // tree (names, namespaces, attributes, children), alive for 'a.
        unsafe {
            let mark = self.rendered.len();
            let doc = (*node).doc;
            let (prefix, uri): (&'a [u8], &'a [u8]) = if (*node).ns.is_null() {
                (&[], &[])
            } else {
                (bytes((*(*node).ns).prefix), bytes((*(*node).ns).href))
            };
            // Visibly utilised namespaces: the element's and its attributes'.
            let mut used = std::mem::take(&mut self.used);
            let mut attrs = std::mem::take(&mut self.attrs);
            used.clear();
            attrs.clear();
            used.push((prefix, uri));
            let mut a = (*node).properties;
            while !a.is_null() {
                if (*a).type_ != xml::xmlElementType_XML_ATTRIBUTE_NODE {
                    return false;
                }
                let (ap, au): (&'a [u8], &'a [u8]) = if (*a).ns.is_null() {
                    (&[], &[])
                } else {
                    (bytes((*(*a).ns).prefix), bytes((*(*a).ns).href))
                };
                if !ap.is_empty() && ap != XML_PREFIX {
                    used.push((ap, au));
                }
                attrs.push((au, bytes((*a).name), a.cast()));
                a = (*a).next.cast();
            }
            for p in &self.inclusive {
                if p.as_slice() == XML_PREFIX {
                    continue;
                }
                if let Some(declared) = in_scope(doc, node, p) {
                    used.push(declared);
                }
            }
            used.sort_unstable_by(|x, y| x.0.cmp(y.0));
            used.dedup_by(|x, y| x.0 == y.0);
            self.out.push(b'<');
            qname(&mut self.out, prefix, bytes((*node).name));
            for &(p, u) in &used {
                if p == XML_PREFIX || self.rendered(p) == Some(u) {
                    continue;
                }
                if p.is_empty() {
                    self.out.extend_from_slice(b" xmlns=\"");
                } else {
                    self.out.extend_from_slice(b" xmlns:");
                    self.out.extend_from_slice(p);
                    self.out.extend_from_slice(b"=\"");
                }
                escape_attribute(&mut self.out, u);
                self.out.push(b'"');
                self.rendered.push((p, u));
            }
            attrs.sort_unstable_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)));
            for &(_, local, attr) in &attrs {
                let ap: &[u8] = if (*attr).ns.is_null() {
                    &[]
                } else {
                    bytes((*(*attr).ns).prefix)
                };
                self.out.push(b' ');
                qname(&mut self.out, ap, local);
                self.out.extend_from_slice(b"=\"");
                let mut v = (*attr).children;
                while !v.is_null() {
                    if (*v).type_ != xml::xmlElementType_XML_TEXT_NODE {
                        return false;
                    }
                    escape_c(&mut self.out, (*v).content, &ATTRIBUTE);
                    v = (*v).next;
                }
                self.out.push(b'"');
            }
            self.out.push(b'>');
            // Hand the scratch back (empty) for the children.
            used.clear();
            attrs.clear();
            self.used = used;
            self.attrs = attrs;
            let mut c = (*node).children;
            while !c.is_null() {
                match (*c).type_ {
                    xml::xmlElementType_XML_ELEMENT_NODE => {
                        if c != self.excluded && !self.element(c) {
                            return false;
                        }
                    }
                    xml::xmlElementType_XML_TEXT_NODE
                    | xml::xmlElementType_XML_CDATA_SECTION_NODE => {
                        escape_c(&mut self.out, (*c).content, &TEXT);
                    }
                    xml::xmlElementType_XML_PI_NODE => self.pi(c),
                    xml::xmlElementType_XML_COMMENT_NODE => {}
                    _ => return false,
                }
                c = (*c).next;
            }
            self.out.extend_from_slice(b"</");
            qname(&mut self.out, prefix, bytes((*node).name));
            self.out.push(b'>');
            self.rendered.truncate(mark);
            true
        }
    }
}

fn qname(out: &mut Vec<u8>, prefix: &[u8], local: &[u8]) {
    if !prefix.is_empty() {
        out.extend_from_slice(prefix);
        out.push(b':');
    }
    out.extend_from_slice(local);
}

/// Bytes that end a plain run of text: what C14N §2.3 escapes in text
/// (`&`, `<`, `>`, CR) and NUL, the end of a libxml2 string.
const TEXT: [bool; 256] = stops(b"&<>\r\0");
/// The same for attribute values: `&`, `<`, `"`, TAB, LF, CR, NUL.
const ATTRIBUTE: [bool; 256] = stops(b"&<\"\t\n\r\0");

const fn stops(bytes: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        t[bytes[i] as usize] = true;
        i += 1;
    }
    t
}

/// What C14N (§2.3, §5) writes for a byte that `TEXT` or `ATTRIBUTE` stops
/// at other than NUL (the table says which of them apply; CR is the last).
fn replacement(b: u8) -> &'static [u8] {
    match b {
        b'&' => b"&amp;",
        b'<' => b"&lt;",
        b'>' => b"&gt;",
        b'"' => b"&quot;",
        b'\t' => b"&#x9;",
        b'\n' => b"&#xA;",
        _ => b"&#xD;",
    }
}

/// Escapes `text` (a namespace URI: read from a C string, so without NUL)
/// as an attribute value.
fn escape_attribute(out: &mut Vec<u8>, text: &[u8]) {
    let mut rest = text;
    while let Some(i) = rest.iter().position(|&b| ATTRIBUTE[usize::from(b)]) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(replacement(rest[i]));
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
}

/// Escapes the NUL-terminated libxml2 string `p` by the table `stops` (one
/// pass: the string's end is found by the same scan that finds what to
/// escape, instead of a `strlen` first). Text and attribute values are
/// most of what a canonicalisation writes.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string alive for the call.
unsafe fn escape_c(out: &mut Vec<u8>, p: *const xml::xmlChar, stops: &[bool; 256]) {
    if p.is_null() {
        return;
    }
    let mut start = p;
    let mut q = p;
    // SAFETY: per the contract, every byte up to and including the NUL is
    // readable; `q` never moves past the NUL.
    unsafe {
        loop {
            let b = *q;
            if stops[usize::from(b)] {
                let run = q.offset_from(start) as usize;
                out.extend_from_slice(std::slice::from_raw_parts(start, run));
                if b == 0 {
                    return;
                }
                out.extend_from_slice(replacement(b));
                start = q.add(1);
            }
            q = q.add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The exclusive C14N examples of the Apache Santuario suite (W3C
    //! exc-C14N §2.2/§2.4, a SOAP body), run through [`exclusive`] with the
    //! same node-set scopes the signature code uses.

    use super::*;
    use std::path::PathBuf;

    fn fixture(name: &str) -> Vec<u8> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/exc-c14n")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn parse(name: &str) -> Document {
        crate::init().expect("init");
        xoev_schema::parse_document(&fixture(name), &xoev_core::Limits::default()).expect("parses")
    }

    /// The first element (document order) with this local name.
    fn find(node: NodePtr, local: &str) -> Option<NodePtr> {
        if crate::dom::local_name(node) == local {
            return Some(node);
        }
        crate::dom::element_children(node)
            .into_iter()
            .find_map(|c| find(c, local))
    }

    fn subtree(input: &str, element: &str, inclusive: &[&str]) -> String {
        let doc = parse(input);
        let root = crate::dom::root(&doc).expect("root");
        let node = find(root, element).expect("element");
        let inclusive: Vec<String> = inclusive.iter().map(|s| s.to_string()).collect();
        String::from_utf8(exclusive(&doc, Scope::Subtree(node), &inclusive).expect("c14n"))
            .expect("utf-8")
    }

    fn expected(name: &str) -> String {
        String::from_utf8(fixture(name)).expect("utf-8")
    }

    #[test]
    fn example_2_2_subtrees_drop_unused_ancestor_namespaces() {
        let want = expected("example2_2_c14nized_exclusive.xml");
        assert_eq!(subtree("example2_2_1.xml", "elem2", &[]), want);
        assert_eq!(subtree("example2_2_2.xml", "elem2", &[]), want);
    }

    #[test]
    fn example_2_2_3_keeps_only_the_visibly_used_namespace() {
        assert_eq!(
            subtree("example2_2_3.xml", "p", &[]),
            expected("example2_2_3_c14nized_exclusive.xml")
        );
    }

    #[test]
    fn example_2_4_declares_a_namespace_where_it_is_first_used() {
        assert_eq!(
            subtree("example2_4.xml", "elem2", &[]),
            expected("example2_4_c14nized.xml")
        );
    }

    #[test]
    fn soap_body_is_canonicalised_like_santuario() {
        assert_eq!(
            subtree("plain-soap-1.1.xml", "Body", &[]),
            expected("plain-soap-c14nized.xml")
        );
    }

    #[test]
    fn inclusive_prefixes_are_rendered_from_the_ancestors() {
        // With n0 in the InclusiveNamespaces PrefixList, the declaration of
        // the unused ancestor namespace is rendered (exc-C14N §3).
        let out = subtree("example2_2_1.xml", "elem2", &["n0"]);
        assert!(
            out.starts_with(r#"<n1:elem2 xmlns:n0="foo:bar" xmlns:n1="http://example.net""#),
            "{out}"
        );
    }

    #[test]
    fn document_without_an_element_leaves_out_exactly_that_subtree() {
        let doc = parse("example2_4.xml");
        let root = crate::dom::root(&doc).expect("root");
        let stuff = find(root, "stuff").expect("stuff");
        let out = exclusive(&doc, Scope::DocumentWithout(stuff), &[]).expect("c14n");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            r#"<dsig:local xmlns:dsig="foo:bar"><etsi:test xmlns:etsi="http://example.net"><etsi:elem2></etsi:elem2></etsi:test></dsig:local>"#
        );
    }
}

#[cfg(test)]
mod differential {
    //! The hand-written walk against libxml2's canonicaliser, byte for byte,
    //! on every XML document of the repository's samples and corpus: each
    //! element as a subtree, the document without each child of the root,
    //! with and without inclusive prefixes.

    use super::*;
    use std::path::{Path, PathBuf};

    fn xml_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                xml_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "xml") {
                out.push(p);
            }
        }
    }

    fn elements(node: NodePtr, out: &mut Vec<NodePtr>) {
        out.push(node);
        for c in crate::dom::element_children(node) {
            elements(c, out);
        }
    }

    /// Every element as a subtree, and the document without each element
    /// below the root.
    fn every_scope(top: NodePtr) -> Vec<Scope> {
        let mut all = Vec::new();
        elements(top, &mut all);
        let mut scopes: Vec<Scope> = all.iter().map(|&n| Scope::Subtree(n)).collect();
        scopes.extend(all[1..].iter().map(|&n| Scope::DocumentWithout(n)));
        scopes
    }

    fn both(doc: &Document, scope: Scope, inclusive: &[String]) -> (Option<Vec<u8>>, Vec<u8>) {
        let mut reference = Vec::new();
        libxml2(doc, scope, inclusive, &mut |b| {
            reference.extend_from_slice(b)
        })
        .expect("libxml2 c14n");
        (native(doc, scope, inclusive), reference)
    }

    #[test]
    fn native_walk_equals_libxml2_on_every_sample_and_scope() {
        crate::init().expect("init");
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        for d in [
            "tests/samples",
            "tests/corpus",
            "crates/xoev-dsig/tests/fixtures",
        ] {
            xml_files(&root.join(d), &mut files);
        }
        assert!(
            files.len() > 50,
            "samples not found under {}",
            root.display()
        );
        let (mut docs, mut compared) = (0, 0);
        for f in &files {
            let content = std::fs::read(f).expect("read");
            let Ok(doc) = xoev_schema::parse_document(&content, &xoev_core::Limits::default())
            else {
                continue; // the malformed samples
            };
            docs += 1;
            let Some(top) = crate::dom::root(&doc) else {
                continue;
            };
            let mut all = Vec::new();
            elements(top, &mut all);
            let prefixes = ["#default".to_string(), "xml".to_string()]
                .into_iter()
                .chain(all.iter().filter_map(|&n| {
                    // SAFETY: `n` is an element of the live document.
                    unsafe {
                        let ns = (*n).ns;
                        (!ns.is_null() && !(*ns).prefix.is_null())
                            .then(|| String::from_utf8_lossy(bytes((*ns).prefix)).into_owned())
                    }
                }))
                .take(4)
                .collect::<Vec<_>>();
            let mut scopes: Vec<Scope> = all.iter().map(|&n| Scope::Subtree(n)).collect();
            scopes.extend(
                crate::dom::element_children(top)
                    .into_iter()
                    .map(Scope::DocumentWithout),
            );
            for scope in scopes {
                for inclusive in [&[][..], &prefixes[..]] {
                    let (ours, reference) = both(&doc, scope, inclusive);
                    let ours = ours.unwrap_or_else(|| panic!("{}: not handled", f.display()));
                    assert!(
                        ours == reference,
                        "{} {scope:?} {inclusive:?}:\nours:   {}\nlibxml2: {}",
                        f.display(),
                        String::from_utf8_lossy(&ours),
                        String::from_utf8_lossy(&reference)
                    );
                    compared += 1;
                }
            }
        }
        assert!(
            docs > 50 && compared > 1000,
            "{docs} documents, {compared} comparisons"
        );
    }

    #[test]
    fn crafted_namespace_and_escaping_cases_match_libxml2() {
        crate::init().expect("init");
        let cases: &[&str] = &[
            // default namespace undeclared below a default namespace
            r#"<a xmlns="urn:a"><b xmlns=""><c/></b><d xmlns="urn:a"/></a>"#,
            // the same prefix rebound; a prefix used only by an attribute
            r#"<p:a xmlns:p="urn:1" xmlns:q="urn:q"><p:b xmlns:p="urn:2" q:x="1"><p:c/></p:b></p:a>"#,
            // attribute order: no namespace first, then by URI and name
            r#"<a xmlns:z="urn:a" xmlns:y="urn:b" z:b="1" y:a="2" c="3" b="4"/>"#,
            // escaping in text and attributes, CR and TAB as character references
            "<a t=\"&#9;x&#10;&#13;&quot;&amp;&lt;>\">&amp;&lt;&gt;\"'&#13;\t<![CDATA[<&>]]></a>",
            // xml: attributes are not inherited in exclusive C14N
            r#"<a xml:lang="de" xml:space="preserve"><b>x</b></a>"#,
            // PIs and comments around and inside the document element
            "<?pi one?><!--c--><a><?pi2?><!--in--><b/></a><!--after--><?pi3 three?>",
            // unused declarations on ancestors
            r#"<a xmlns:u="urn:unused" xmlns="urn:d"><b><c xmlns:v="urn:v"/></b></a>"#,
            // one URI under two prefixes and as the default
            r#"<a xmlns="urn:x" xmlns:p="urn:x" xmlns:q="urn:x" p:n="1"><q:b p:m="2"/><b/></a>"#,
            // a prefix bound again to the same URI lower down; non-ASCII text
            r#"<p:a xmlns:p="urn:p"><p:b xmlns:p="urn:p">Grüße &amp; Einkünfte</p:b></p:a>"#,
            // values that are nothing but one escape
            r#"<p:a xmlns:p="urn:p" x="&amp;" y=""><p:b>&lt;</p:b><p:c>&#13;</p:c></p:a>"#,
        ];
        for xml in cases {
            let doc = xoev_schema::parse_document(xml.as_bytes(), &xoev_core::Limits::default())
                .expect("parses");
            let top = crate::dom::root(&doc).expect("root");
            for scope in every_scope(top) {
                for inclusive in [
                    vec![],
                    vec!["#default".to_string(), "u".to_string(), "p".to_string()],
                ] {
                    let (ours, reference) = both(&doc, scope, &inclusive);
                    assert_eq!(
                        String::from_utf8_lossy(&ours.expect("handled")),
                        String::from_utf8_lossy(&reference),
                        "{xml} {scope:?} {inclusive:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_node_the_walk_does_not_handle_goes_to_libxml2() {
        crate::init().expect("init");
        let doc = xoev_schema::parse_document(b"<a><b>x</b></a>", &xoev_core::Limits::default())
            .expect("parses");
        let top = crate::dom::root(&doc).expect("root");
        // An entity reference (our parser never makes one: no DTDs).
        // SAFETY: the new node is linked into the live document, which owns it.
        unsafe {
            let r = xml::xmlNewReference(doc.doc_ptr(), c"&ent;".as_ptr().cast());
            assert!(!r.is_null());
            assert!(!xml::xmlAddChild(top, r).is_null());
        }
        assert!(native(&doc, Scope::Subtree(top), &[]).is_none());
        // libxml2 decides: here it refuses the undeclared entity, and so do we
        // (an error, not a guess).
        let mut sink = |_: &[u8]| {};
        assert!(libxml2(&doc, Scope::Subtree(top), &[], &mut sink).is_err());
        let err = exclusive(&doc, Scope::Subtree(top), &[]).expect_err("refused");
        assert_eq!(err.kind(), DsigErrorKind::Internal);
    }

    /// A small deterministic generator of namespace-heavy documents.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            // xorshift64*
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn pick<'s>(&mut self, items: &[&'s str]) -> &'s str {
            items[(self.next() % items.len() as u64) as usize]
        }

        fn element(&mut self, depth: u32, out: &mut String) {
            const PREFIXES: &[&str] = &["", "a", "b", "xml"];
            const URIS: &[&str] = &["urn:1", "urn:2", "http://example.org/3"];
            const TEXT: &[&str] = &[
                "x",
                " ",
                "&amp;",
                "&lt;",
                "&gt;",
                "\"",
                "&#13;",
                "&#9;",
                "ü",
                "<![CDATA[<&>]]>",
            ];
            // the element's own prefix is one it declares, or none
            let own = self.pick(&PREFIXES[..3]);
            out.push('<');
            if !own.is_empty() {
                out.push_str(own);
                out.push(':');
            }
            out.push('e');
            if !own.is_empty() {
                out.push_str(&format!(" xmlns:{own}=\"{}\"", self.pick(URIS)));
            }
            match self.next() % 4 {
                0 => out.push_str(&format!(" xmlns=\"{}\"", self.pick(URIS))),
                1 if depth > 0 => out.push_str(" xmlns=\"\""),
                _ => {}
            }
            for (i, p) in ["", "a", "xml"].iter().enumerate() {
                if self.next().is_multiple_of(2) {
                    let name = if p.is_empty() {
                        format!("n{i}")
                    } else {
                        format!("{p}:n{i}")
                    };
                    if *p == "a" && own != "a" {
                        out.push_str(&format!(" xmlns:a=\"{}\"", self.pick(URIS)));
                    }
                    let value = self.pick(&["v", "&amp;&lt;&quot;", "&#9;&#10;&#13;", "z y"]);
                    out.push_str(&format!(" {name}=\"{value}\""));
                }
            }
            out.push('>');
            let children = if depth >= 4 { 0 } else { self.next() % 4 };
            for _ in 0..children {
                match self.next() % 5 {
                    0 => out.push_str(self.pick(TEXT)),
                    1 => out.push_str("<?pi data?>"),
                    2 => out.push_str("<!-- c -->"),
                    _ => self.element(depth + 1, out),
                }
            }
            out.push_str("</");
            if !own.is_empty() {
                out.push_str(own);
                out.push(':');
            }
            out.push_str("e>");
        }
    }

    #[test]
    fn generated_namespace_heavy_documents_match_libxml2() {
        crate::init().expect("init");
        let mut g = Gen(0x9E37_79B9_7F4A_7C15);
        let (mut parsed, mut compared) = (0, 0);
        for _ in 0..2000 {
            let mut xml = String::new();
            g.element(0, &mut xml);
            let Ok(doc) =
                xoev_schema::parse_document(xml.as_bytes(), &xoev_core::Limits::default())
            else {
                panic!("the generator made a malformed document: {xml}");
            };
            parsed += 1;
            let top = crate::dom::root(&doc).expect("root");
            for scope in every_scope(top) {
                for inclusive in [vec![], vec!["#default".to_string(), "a".to_string()]] {
                    let (ours, reference) = both(&doc, scope, &inclusive);
                    assert_eq!(
                        String::from_utf8_lossy(&ours.expect("handled")),
                        String::from_utf8_lossy(&reference),
                        "{xml} {scope:?} {inclusive:?}"
                    );
                    compared += 1;
                }
            }
        }
        assert!(
            parsed == 2000 && compared > 10_000,
            "{parsed} documents, {compared} comparisons"
        );
    }
}
