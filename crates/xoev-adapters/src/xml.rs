//! Small XML helpers shared by the built-in adapters: a reader over the
//! hardened libxml2 parse with namespace-aware XPath, and a writer that
//! produces deterministic, indented output (so golden files are stable).

use crate::error::AdapterError;
use libxml::tree::{Document, Node};
use libxml::xpath::Context as XPath;
use xoev_core::Limits;

/// A parsed input message with the XPath prefixes an adapter registered.
pub(crate) struct Reader {
    xpath: XPath,
    root: Node,
    // Declared last so it is dropped last: the XPath context and the nodes
    // point into it.
    _doc: Document,
}

impl Reader {
    /// Parses `input` with the hardened parse and registers `namespaces`
    /// (prefix, URI) for XPath.
    pub(crate) fn parse(input: &[u8], namespaces: &[(&str, &str)]) -> Result<Self, AdapterError> {
        let doc = xoev_schema::parse_document(input, &Limits::default()).map_err(|e| {
            AdapterError::Malformed {
                detail: e.to_string(),
            }
        })?;
        let root = doc
            .get_root_element()
            .ok_or_else(|| AdapterError::Malformed {
                detail: "document has no root element".into(),
            })?;
        let xpath = XPath::new(&doc).map_err(|()| AdapterError::Malformed {
            detail: "cannot create an XPath context".into(),
        })?;
        for (prefix, uri) in namespaces {
            xpath
                .register_namespace(prefix, uri)
                .map_err(|()| AdapterError::Malformed {
                    detail: format!("cannot register namespace prefix {prefix}"),
                })?;
        }
        Ok(Self {
            xpath,
            root,
            _doc: doc,
        })
    }

    /// The root element as `{namespace}local`.
    pub(crate) fn root_name(&self) -> String {
        let ns = self
            .root
            .get_namespace()
            .map(|n| n.get_href())
            .unwrap_or_default();
        format!("{{{ns}}}{}", self.root.get_name())
    }

    /// Whether the root element is `{namespace}local`.
    pub(crate) fn root_is(&self, namespace: &str, local: &str) -> bool {
        self.root.get_name() == local
            && self
                .root
                .get_namespace()
                .is_some_and(|n| n.get_href() == namespace)
    }

    /// The nodes `xpath` selects (relative to `from`, or the document).
    pub(crate) fn nodes(&self, xpath: &str, from: Option<&Node>) -> Vec<Node> {
        let result = match from {
            Some(n) => self.xpath.node_evaluate(xpath, n),
            None => self.xpath.evaluate(xpath),
        };
        result.map(|o| o.get_nodes_as_vec()).unwrap_or_default()
    }

    /// The trimmed text of the first node `xpath` selects; `None` if there is
    /// none or it is empty.
    pub(crate) fn text(&self, xpath: &str, from: Option<&Node>) -> Option<String> {
        self.nodes(xpath, from)
            .first()
            .map(|n| n.get_content().trim().to_owned())
            .filter(|s| !s.is_empty())
    }

    /// Like [`Reader::text`], but a missing value is a [`AdapterError::MissingField`].
    pub(crate) fn require(
        &self,
        xpath: &str,
        from: Option<&Node>,
        field: &str,
        reason: &str,
    ) -> Result<String, AdapterError> {
        self.text(xpath, from)
            .ok_or_else(|| AdapterError::missing(field, reason))
    }
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

fn escape_into(out: &mut String, s: &str, attr: bool) {
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
