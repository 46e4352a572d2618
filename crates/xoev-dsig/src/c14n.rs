//! Exclusive XML Canonicalization 1.0 (without comments) of an already
//! parsed document, streamed into a sink (a digest, a buffer).
//!
//! The canonical form itself is libxml2's (`xmlC14NExecute`) — the same
//! implementation xmlsec1 runs underneath its transforms — so what we
//! digest and sign is byte for byte what xmlsec1 (and every peer using it)
//! digests and signs. What we replace is xmlsec1's generic transform engine
//! around it: for the two node sets the profile needs (the whole document
//! without the enveloped signature, and the `SignedInfo` subtree) it builds
//! XPath node sets and tests membership by linear search per node
//! (`xmlXPathNodeSetContains`), which cost more than the signature
//! arithmetic. Here membership is a walk up the (shallow) ancestor chain.

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

/// Canonicalises `scope` of `doc` with exclusive C14N 1.0 (no comments),
/// treating the namespace prefixes in `inclusive` (`InclusiveNamespaces
/// PrefixList`, `#default` for the default namespace) inclusively, and
/// streams the result into `out`.
pub(crate) fn exclusive(
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

/// [`exclusive`] into a buffer.
pub(crate) fn exclusive_bytes(
    doc: &Document,
    scope: Scope,
    inclusive: &[String],
) -> Result<Vec<u8>, DsigError> {
    let mut v = Vec::with_capacity(1024);
    exclusive(doc, scope, inclusive, &mut |b| v.extend_from_slice(b))?;
    Ok(v)
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
        String::from_utf8(exclusive_bytes(&doc, Scope::Subtree(node), &inclusive).expect("c14n"))
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
        let out = exclusive_bytes(&doc, Scope::DocumentWithout(stuff), &[]).expect("c14n");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            r#"<dsig:local xmlns:dsig="foo:bar"><etsi:test xmlns:etsi="http://example.net"><etsi:elem2></etsi:elem2></etsi:test></dsig:local>"#
        );
    }
}
