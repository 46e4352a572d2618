//! Small XML helpers shared by the built-in adapters: a reader over a
//! parsed (hardened libxml2) document, and a writer that produces
//! deterministic, indented output (so golden files are stable).
//!
//! The reader walks the tree directly instead of compiling XPath: the
//! adapters need a few dozen values per message, and the paths they use are
//! child steps only (`prefix:local`, `prefix:local[1]`), evaluated with the
//! XPath 1.0 meaning — every match in document order, the first one for
//! text. A step with any other syntax or an unregistered prefix selects
//! nothing.

use crate::error::AdapterError;
use libxml::bindings as xml;
use libxml::tree::Document;
use std::ffi::CStr;
use std::marker::PhantomData;
use xoev_core::Limits;

/// Parses `input` with the hardened parse (default limits).
pub(crate) fn parse(input: &[u8]) -> Result<Document, AdapterError> {
    xoev_schema::parse_document(input, &Limits::default()).map_err(|e| AdapterError::Malformed {
        detail: e.to_string(),
    })
}

/// An element of a parsed document, valid while the document is borrowed.
///
/// The document must not be changed while elements of it are held; the
/// adapters only read.
#[derive(Clone, Copy)]
pub(crate) struct Elem<'d> {
    ptr: xml::xmlNodePtr,
    _doc: PhantomData<&'d Document>,
}

/// A libxml2 string as `&str` (empty if null or not UTF-8, which the
/// parser never produces).
///
/// # Safety
/// `p` must be null or a NUL-terminated string that lives as long as `'d`.
unsafe fn str_of<'d>(p: *const xml::xmlChar) -> &'d str {
    if p.is_null() {
        return "";
    }
    // SAFETY: see the function's contract.
    unsafe { CStr::from_ptr(p.cast()) }.to_str().unwrap_or("")
}

/// Whether the libxml2 string `p` is `s`.
///
/// # Safety
/// `p` must be null or a NUL-terminated string.
unsafe fn c_eq(p: *const xml::xmlChar, s: &str) -> bool {
    if p.is_null() {
        return false;
    }
    for (i, &b) in s.as_bytes().iter().enumerate() {
        // SAFETY: bytes before a mismatch are not NUL, so index `i` is at
        // most the terminator's.
        if b == 0 || unsafe { *p.add(i) } != b {
            return false;
        }
    }
    // SAFETY: all of `s` matched non-NUL bytes, so the terminator is at or after this index.
    unsafe { *p.add(s.len()) == 0 }
}

impl<'d> Elem<'d> {
    /// The root element of `doc`.
    fn root(doc: &'d Document) -> Option<Self> {
        // SAFETY: the document pointer is valid while `doc` is borrowed.
        let ptr = unsafe { xml::xmlDocGetRootElement(doc.doc_ptr()) };
        (!ptr.is_null()).then_some(Self {
            ptr,
            _doc: PhantomData,
        })
    }

    /// The local name.
    pub(crate) fn local_name(self) -> &'d str {
        // SAFETY: a valid element node; its name lives as long as the document.
        unsafe { str_of((*self.ptr).name) }
    }

    /// The namespace URI, if any.
    pub(crate) fn namespace(self) -> Option<&'d str> {
        // SAFETY: a valid element node; its namespace (if any) belongs to the document.
        unsafe {
            let ns = (*self.ptr).ns;
            (!ns.is_null()).then(|| str_of((*ns).href))
        }
    }

    /// Whether this is the element `{namespace}local` (`None`: no namespace).
    pub(crate) fn is(self, namespace: Option<&str>, local: &str) -> bool {
        // Compared in place (no strlen, no UTF-8 check): this runs for
        // every child on every path.
        // SAFETY: a valid element node; name and namespace belong to the document.
        unsafe {
            if !c_eq((*self.ptr).name, local) {
                return false;
            }
            let ns = (*self.ptr).ns;
            match namespace {
                None => ns.is_null(),
                Some(uri) => !ns.is_null() && c_eq((*ns).href, uri),
            }
        }
    }

    /// The child elements, in document order.
    pub(crate) fn children(self) -> impl Iterator<Item = Elem<'d>> {
        // SAFETY: a valid node; its child list belongs to the document.
        let mut next = unsafe { (*self.ptr).children };
        std::iter::from_fn(move || {
            // SAFETY: `next` is null or a node of the document's tree.
            unsafe {
                while !next.is_null() {
                    let node = next;
                    next = (*node).next;
                    if (*node).type_ == xml::xmlElementType_XML_ELEMENT_NODE {
                        return Some(Elem {
                            ptr: node,
                            _doc: PhantomData,
                        });
                    }
                }
            }
            None
        })
    }

    /// The string value: every descendant text and CDATA, in order (what
    /// XPath's `string()` and libxml2's `xmlNodeGetContent` give).
    pub(crate) fn text(self) -> String {
        let mut out = String::new();
        // SAFETY: a valid element node.
        unsafe { collect_text((*self.ptr).children, &mut out) };
        out
    }

    /// The value of the attribute `name` in any namespace (the first one),
    /// like libxml2's `xmlGetProp`.
    pub(crate) fn attribute(self, name: &str) -> Option<String> {
        self.find_attribute(name, false)
    }

    /// The value of the attribute `name` without a namespace (what the
    /// XPath step `@name` selects).
    pub(crate) fn attribute_no_ns(self, name: &str) -> Option<String> {
        self.find_attribute(name, true)
    }

    fn find_attribute(self, name: &str, no_ns: bool) -> Option<String> {
        // SAFETY: a valid element node; attributes and their value nodes
        // belong to the document.
        unsafe {
            let mut a = (*self.ptr).properties;
            while !a.is_null() {
                if str_of((*a).name) == name && (!no_ns || (*a).ns.is_null()) {
                    let mut out = String::new();
                    collect_text((*a).children, &mut out);
                    return Some(out);
                }
                a = (*a).next;
            }
        }
        None
    }
}

/// Appends the text and CDATA of `node`, its siblings and their descendants.
///
/// # Safety
/// `node` must be null or a node of a live document tree.
unsafe fn collect_text(mut node: xml::xmlNodePtr, out: &mut String) {
    // SAFETY: see the function's contract; every pointer followed is a
    // link of the same tree.
    unsafe {
        while !node.is_null() {
            match (*node).type_ {
                xml::xmlElementType_XML_TEXT_NODE | xml::xmlElementType_XML_CDATA_SECTION_NODE => {
                    out.push_str(str_of((*node).content));
                }
                xml::xmlElementType_XML_ELEMENT_NODE => collect_text((*node).children, out),
                _ => {}
            }
            node = (*node).next;
        }
    }
}

/// One child step of a path: `{namespace}local`, optionally only the first.
struct Step<'p> {
    namespace: Option<&'static str>,
    local: &'p str,
    first_only: bool,
}

/// A parsed input message with the namespace prefixes its paths use.
pub(crate) struct Reader<'d> {
    root: Elem<'d>,
    prefixes: &'static [(&'static str, &'static str)],
}

impl<'d> Reader<'d> {
    /// A reader over `doc`; `namespaces` are the (prefix, URI) pairs the
    /// paths use.
    pub(crate) fn new(
        doc: &'d Document,
        namespaces: &'static [(&'static str, &'static str)],
    ) -> Result<Self, AdapterError> {
        let root = Elem::root(doc).ok_or_else(|| AdapterError::Malformed {
            detail: "document has no root element".into(),
        })?;
        Ok(Self {
            root,
            prefixes: namespaces,
        })
    }

    /// The root element as `{namespace}local`.
    pub(crate) fn root_name(&self) -> String {
        format!(
            "{{{}}}{}",
            self.root.namespace().unwrap_or_default(),
            self.root.local_name()
        )
    }

    /// Whether the root element is `{namespace}local`.
    pub(crate) fn root_is(&self, namespace: &str, local: &str) -> bool {
        self.root.is(Some(namespace), local)
    }

    /// The root element.
    pub(crate) fn root(&self) -> Elem<'d> {
        self.root
    }

    /// Parses a path into steps; `None` if a step is not a plain child step
    /// or names an unregistered prefix (XPath would select nothing or fail).
    fn steps<'p>(&self, path: &'p str) -> Option<Vec<Step<'p>>> {
        path.split('/')
            .map(|step| {
                let (name, first_only) = match step.strip_suffix("[1]") {
                    Some(n) => (n, true),
                    None => (step, false),
                };
                let (namespace, local) = match name.split_once(':') {
                    Some((prefix, local)) => (
                        Some(self.prefixes.iter().find(|(p, _)| *p == prefix)?.1),
                        local,
                    ),
                    None => (None, name),
                };
                let plain = !local.is_empty()
                    && local
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
                plain.then_some(Step {
                    namespace,
                    local,
                    first_only,
                })
            })
            .collect()
    }

    /// Every element `path` selects, in document order: absolute (`/…`,
    /// the first step is the root element) or relative to `from` (the
    /// document without it).
    fn select(&self, path: &str, from: Option<Elem<'d>>, first: bool) -> Vec<Elem<'d>> {
        let mut out = Vec::new();
        let (relative, from) = match path.strip_prefix('/') {
            Some(absolute) => (absolute, None),
            None => (path, from),
        };
        let Some(steps) = self.steps(relative) else {
            return out;
        };
        match from {
            Some(from) => {
                walk(from, &steps, first, &mut out);
            }
            None => {
                // The document node has one element child: the root.
                if let Some((step, rest)) = steps.split_first()
                    && self.root.is(step.namespace, step.local)
                {
                    if rest.is_empty() {
                        out.push(self.root);
                    } else {
                        walk(self.root, rest, first, &mut out);
                    }
                }
            }
        }
        out
    }

    /// The elements `xpath` selects (relative to `from`, or the document).
    pub(crate) fn nodes(&self, xpath: &str, from: Option<Elem<'d>>) -> Vec<Elem<'d>> {
        self.select(xpath, from, false)
    }

    /// The first element `xpath` selects, in document order.
    pub(crate) fn first(&self, xpath: &str, from: Option<Elem<'d>>) -> Option<Elem<'d>> {
        self.select(xpath, from, true).into_iter().next()
    }

    /// The trimmed text of the first element `xpath` selects; `None` if
    /// there is none or it is empty.
    pub(crate) fn text(&self, xpath: &str, from: Option<Elem<'d>>) -> Option<String> {
        self.first(xpath, from)
            .map(|n| n.text().trim().to_owned())
            .filter(|s| !s.is_empty())
    }

    /// Like [`Reader::text`], but a missing value is a [`AdapterError::MissingField`].
    pub(crate) fn require(
        &self,
        xpath: &str,
        from: Option<Elem<'d>>,
        field: &str,
        reason: &str,
    ) -> Result<String, AdapterError> {
        self.text(xpath, from)
            .ok_or_else(|| AdapterError::missing(field, reason))
    }
}

/// Collects the matches of `steps` below `node` depth first, which for
/// child steps is document order; stops at the first match if `first`.
/// Returns whether it stopped.
fn walk<'d>(node: Elem<'d>, steps: &[Step<'_>], first: bool, out: &mut Vec<Elem<'d>>) -> bool {
    let Some((step, rest)) = steps.split_first() else {
        return false;
    };
    for child in node.children() {
        if !child.is(step.namespace, step.local) {
            continue;
        }
        if rest.is_empty() {
            out.push(child);
            if first {
                return true;
            }
        } else if walk(child, rest, first, out) {
            return true;
        }
        if step.first_only {
            break;
        }
    }
    false
}

/// Writes indented XML, escaping text and attribute values.
#[derive(Default)]
pub(crate) struct Writer {
    out: String,
    open: Vec<String>,
}

impl Writer {
    /// A writer with the XML declaration written.
    pub(crate) fn new() -> Self {
        Self {
            out: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n".into(),
            open: Vec::new(),
        }
    }

    fn indent(&mut self) {
        for _ in 0..self.open.len() {
            self.out.push_str("  ");
        }
    }

    fn start_tag(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            self.out.push(' ');
            self.out.push_str(k);
            self.out.push_str("=\"");
            escape_into(&mut self.out, v, true);
            self.out.push('"');
        }
    }

    /// Opens an element; its children follow on their own lines.
    pub(crate) fn open(&mut self, name: &str, attrs: &[(&str, &str)]) -> &mut Self {
        self.start_tag(name, attrs);
        self.out.push_str(">\n");
        self.open.push(name.to_owned());
        self
    }

    /// Closes the innermost open element.
    pub(crate) fn close(&mut self) -> &mut Self {
        if let Some(name) = self.open.pop() {
            self.indent();
            self.out.push_str("</");
            self.out.push_str(&name);
            self.out.push_str(">\n");
        }
        self
    }

    /// An element with text content only.
    pub(crate) fn leaf(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) -> &mut Self {
        self.start_tag(name, attrs);
        self.out.push('>');
        escape_into(&mut self.out, text, false);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
        self
    }

    /// An XÖV code element: `<name attrs><code>code</code></name>`.
    pub(crate) fn code(&mut self, name: &str, attrs: &[(&str, &str)], code: &str) -> &mut Self {
        self.start_tag(name, attrs);
        self.out.push_str("><code>");
        escape_into(&mut self.out, code, false);
        self.out.push_str("</code></");
        self.out.push_str(name);
        self.out.push_str(">\n");
        self
    }

    /// The document, all open elements closed.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        while !self.open.is_empty() {
            self.close();
        }
        self.out.into_bytes()
    }
}

/// Escapes `s` into `out`, in Unicode normalisation form C: text the
/// adapters carry over (a name typed on a system that stores decomposed
/// characters, `u` + U+0308 for `ü`) is written as DIN 91379 expects it,
/// whose XSD patterns (`datatypeC`, …) accept only the composed form of
/// most letters. Canonically equivalent: the same text.
fn escape_into(out: &mut String, s: &str, attr: bool) {
    use unicode_normalization::UnicodeNormalization as _;
    let nfc;
    let s = if unicode_normalization::is_nfc_quick(s.chars())
        == unicode_normalization::IsNormalized::Yes
    {
        s
    } else {
        nfc = s.nfc().collect::<String>();
        &nfc
    };
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attr => out.push_str("&quot;"),
            '\n' if attr => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if attr => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &[(&str, &str)] = &[("a", "urn:a"), ("b", "urn:b")];

    /// The tree walk selects what libxml2's XPath selects, in the same
    /// order, for every kind of path the adapters use.
    #[test]
    fn paths_select_what_xpath_selects() {
        let doc = parse(
            br#"<a:r xmlns:a="urn:a" xmlns:b="urn:b" id=" r1 " b:id="x">
  <a:p><a:q>one</a:q></a:p>
  <a:p><b:q>ns-b</b:q><a:q>two</a:q><a:q>three<!--c--> and <![CDATA[cdata]]></a:q></a:p>
  <a:p><code> plain </code><a:q/><b:n schemeID="s1"><a:q>deep</a:q></b:n></a:p>
  <b:p><a:q>other parent</a:q></b:p>
</a:r>"#,
        )
        .expect("parses");
        let xpath = libxml::xpath::Context::new(&doc).expect("context");
        for (p, uri) in NS {
            xpath.register_namespace(p, uri).expect("prefix");
        }
        let r = Reader::new(&doc, NS).expect("reader");
        for path in [
            "/a:r/a:p/a:q",
            "/a:r/a:p[1]/a:q",
            "/a:r/a:p/a:q[1]",
            "/a:r/b:p/a:q",
            "/a:r/a:p/code",
            "/a:r/a:p/b:n/a:q",
            "/a:r/a:p/b:q",
            "/a:r/x:p",
            "/a:x/a:p",
            "/a:r",
        ] {
            let ours: Vec<String> = r.nodes(path, None).into_iter().map(|n| n.text()).collect();
            let theirs: Vec<String> = xpath
                .evaluate(path)
                .map(|o| o.get_nodes_as_vec())
                .unwrap_or_default()
                .iter()
                .map(|n| n.get_content())
                .collect();
            assert_eq!(ours, theirs, "{path}");
            assert_eq!(
                r.text(path, None),
                theirs
                    .first()
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty()),
                "{path}"
            );
        }
        // relative to an element
        let second = r.nodes("/a:r/a:p", None)[1];
        assert_eq!(r.text("a:q", Some(second)).as_deref(), Some("two"));
        assert_eq!(r.nodes("a:q", Some(second)).len(), 2);
        assert!(r.first("a:p", Some(second)).is_none());
        // attributes: any namespace (xmlGetProp) or none (XPath `@id`)
        let n = r.first("/a:r/a:p/b:n", None).expect("b:n");
        assert_eq!(n.attribute("schemeID").as_deref(), Some("s1"));
        assert_eq!(r.root().attribute_no_ns("id").as_deref(), Some(" r1 "));
        assert_eq!(n.attribute_no_ns("id"), None);
        assert!(r.root_is("urn:a", "r"));
        assert_eq!(r.root_name(), "{urn:a}r");
        // what the walk does not understand selects nothing
        assert!(r.nodes("/a:r/a:p[2]", None).is_empty());
        assert!(r.nodes("/a:r/@id", None).is_empty());
        assert!(r.nodes("/a:r//a:q", None).is_empty());
    }

    #[test]
    fn writer_escapes_text_and_attributes() {
        let mut w = Writer::new();
        w.open("a", &[("x", "1 \"<&>\"")])
            .leaf("b", &[], "x < y & z");
        let out = String::from_utf8(w.finish()).unwrap_or_default();
        assert_eq!(
            out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a x=\"1 &quot;&lt;&amp;&gt;&quot;\">\n  <b>x &lt; y &amp; z</b>\n</a>\n"
        );
    }
}
