//! Just enough XML for SYSPRO documents: a small tree reader for request documents (`XmlIn`,
//! `XmlParameters`, the PostLD body) and an escaping writer for output documents, encoded as
//! Windows-1252 with a declaration the way e.net answers.

use std::fmt::Write as _;

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;

/// One element of a request document. Namespace prefixes and attributes are dropped: SYSPRO
/// documents carry their data in elements and are read by local name.
#[derive(Debug, Default, Clone)]
pub(crate) struct Node {
    pub name: String,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    /// The first child with exactly this element name (SYSPRO element names are case-sensitive on
    /// input; a misspelt element is silently ignored, as on a real install).
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// All children with exactly this element name, in document order.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Trimmed text of a child element; `None` when the element is absent.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }

    /// Trimmed text of a child element, empty when absent.
    pub fn field(&self, name: &str) -> &str {
        self.text_of(name).unwrap_or("")
    }
}

fn local(name: &str) -> String {
    match name.rsplit_once(':') {
        Some((_, l)) => l.to_owned(),
        None => name.to_owned(),
    }
}

/// Parses a document into its root element. Errors describe what was wrong in words SYSPRO's own
/// parser would roughly use; callers turn them into `ERROR:` answers.
pub(crate) fn parse(xml: &str) -> Result<Node, String> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("XML is not well formed: {e}"))?;
        match event {
            Event::Start(start) => {
                let node = Node {
                    name: local(start.name().as_ref()),
                    ..Node::default()
                };
                stack.push(node);
            }
            Event::Empty(start) => {
                let node = Node {
                    name: local(start.name().as_ref()),
                    ..Node::default()
                };
                attach(&mut stack, &mut root, node)?;
            }
            Event::End(_) => {
                let node = stack
                    .pop()
                    .ok_or_else(|| "XML is not well formed: unexpected end tag".to_owned())?;
                attach(&mut stack, &mut root, node)?;
            }
            Event::Text(text) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&text.xml10_content());
                }
            }
            Event::CData(data) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&data.xml10_content());
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference
                    .resolve_char_ref()
                    .map_err(|e| format!("XML is not well formed: {e}"))?
                {
                    Some(ch) => ch.to_string(),
                    None => {
                        let name = reference.xml10_content();
                        resolve_predefined_entity(&name)
                            .ok_or_else(|| {
                                format!("XML is not well formed: unknown entity '&{name};'")
                            })?
                            .to_owned()
                    }
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err("XML is not well formed: unclosed element".to_owned());
    }
    root.ok_or_else(|| "XML document is empty".to_owned())
}

fn attach(stack: &mut [Node], root: &mut Option<Node>, node: Node) -> Result<(), String> {
    match stack.last_mut() {
        Some(parent) => {
            parent.children.push(node);
            Ok(())
        }
        None if root.is_none() => {
            *root = Some(node);
            Ok(())
        }
        None => Err("XML is not well formed: more than one root element".to_owned()),
    }
}

/// Escapes text for element content (quotes stay as they are, as SYSPRO writes them).
pub(crate) fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(['&', '<', '>']) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Builds an output document the way e.net writes one: declaration, root with single-quoted
/// attributes, one element per line.
pub(crate) struct XmlOut {
    buf: String,
    open: Vec<String>,
}

/// Root attributes SYSPRO puts on business object output (language, formats, role, version).
pub(crate) const ROOT_ATTRS: &str = "Language='05' Language2='EN' CssStyle='' DecFormat='1' \
DateFormat='01' Role='01' Version='8.0.161' OperatorPrimaryRole='   '";

impl XmlOut {
    /// Starts a document whose root carries SYSPRO's usual output attributes.
    pub fn with_root(root: &str) -> Self {
        let mut out = Self {
            buf: String::with_capacity(1024),
            open: Vec::new(),
        };
        out.buf
            .push_str("<?xml version=\"1.0\" encoding=\"Windows-1252\"?>\r\n");
        let _ = write!(out.buf, "<{root} {ROOT_ATTRS}>\r\n");
        out.open.push(root.to_owned());
        out
    }

    /// Starts a document with a bare root (no attributes).
    pub fn with_plain_root(root: &str) -> Self {
        let mut out = Self {
            buf: String::with_capacity(1024),
            open: Vec::new(),
        };
        out.buf
            .push_str("<?xml version=\"1.0\" encoding=\"Windows-1252\"?>\r\n");
        let _ = write!(out.buf, "<{root}>\r\n");
        out.open.push(root.to_owned());
        out
    }

    pub fn open(&mut self, name: &str) -> &mut Self {
        let _ = write!(self.buf, "<{name}>\r\n");
        self.open.push(name.to_owned());
        self
    }

    pub fn close(&mut self) -> &mut Self {
        if let Some(name) = self.open.pop() {
            let _ = write!(self.buf, "</{name}>\r\n");
        }
        self
    }

    /// A leaf element; empty text is written as `<Name/>`.
    pub fn leaf(&mut self, name: &str, text: &str) -> &mut Self {
        if text.is_empty() {
            let _ = write!(self.buf, "<{name}/>\r\n");
        } else {
            let _ = write!(self.buf, "<{name}>{}</{name}>\r\n", escape(text));
        }
        self
    }

    /// Finishes the document and encodes it as Windows-1252.
    pub fn finish(mut self) -> Vec<u8> {
        while !self.open.is_empty() {
            self.close();
        }
        to_windows_1252(&self.buf)
    }
}

/// Encodes text as Windows-1252; characters outside the code page become numeric character
/// references, which keeps the document well formed.
pub(crate) fn to_windows_1252(text: &str) -> Vec<u8> {
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(text);
    bytes.into_owned()
}

/// SYSPRO counters: zero-padded to six digits (`000001`).
pub(crate) fn counter(n: usize) -> String {
    format!("{n:06}")
}

/// SYSPRO's space-padded numbers (`       1`): right-aligned in a field of `width`.
pub(crate) fn padded(text: &str, width: usize) -> String {
    format!("{text:>width$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_documents_with_entities_and_cdata() {
        let root = parse(
            "<?xml version=\"1.0\"?><A x='1'><B>Fish &amp; Chips &#233;</B><C/><B><![CDATA[<raw>]]></B></A>",
        )
        .unwrap();
        assert_eq!(root.name, "A");
        let texts: Vec<_> = root.children_named("B").map(|b| b.text.as_str()).collect();
        assert_eq!(texts, ["Fish & Chips \u{e9}", "<raw>"]);
        assert_eq!(root.text_of("C"), Some(""));
        assert_eq!(root.text_of("D"), None);
    }

    #[test]
    fn rejects_broken_documents() {
        assert!(parse("<A><B></A>").is_err());
        assert!(parse("").is_err());
        assert!(parse("<A/><B/>").is_err());
    }

    #[test]
    fn writes_windows_1252_with_declaration() {
        let mut out = XmlOut::with_plain_root("r");
        out.leaf("Name", "M\u{fc}ller & S\u{f6}hne");
        let bytes = out.finish();
        assert!(bytes.starts_with(b"<?xml version=\"1.0\" encoding=\"Windows-1252\"?>"));
        let needle = b"M\xfcller &amp; S\xf6hne";
        assert!(bytes.windows(needle.len()).any(|w| w == needle));
    }

    #[test]
    fn pads_numbers_like_syspro() {
        assert_eq!(counter(1), "000001");
        assert_eq!(padded("1", 8), "       1");
    }
}
