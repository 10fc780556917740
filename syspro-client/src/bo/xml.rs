//! XML writing and reading shared by every business object.
//!
//! Documents are written with quick-xml's `Writer`, so every value passes through its escaping;
//! nothing is assembled by string concatenation. Outputs are read into a small owned tree whose
//! element names are compared case-insensitively, because SYSPRO lower-cases the roots (and
//! sometimes the children) of transaction and setup outputs (`<postarinvoices>`, `<item><key>`).

use std::borrow::Cow;

use quick_xml::Writer;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::reader::Reader;
use rust_decimal::Decimal;
use time::Date;
use time::macros::format_description;

use crate::error::Error;

/// Namespace SYSPRO's own sample documents declare under the `xsd` prefix.
const XSD_NAMESPACE: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Deepest element nesting accepted in an output; real outputs stay below ten levels.
const MAX_DEPTH: usize = 64;

// ---- writing ---------------------------------------------------------------------------------

/// Writes one XML document element by element.
///
/// The first value that cannot be represented in XML (a control character) is remembered and
/// reported by [`XmlOut::finish`] as [`Error::InvalidInput`] naming the element.
pub(crate) struct XmlOut {
    writer: Writer<Vec<u8>>,
    failure: Option<Error>,
}

impl XmlOut {
    pub(crate) fn new() -> Self {
        Self {
            writer: Writer::new(Vec::new()),
            failure: None,
        }
    }

    /// Opens the root element with the schema attributes SYSPRO's samples carry
    /// (`xmlns:xsd="…XMLSchema-instance" xsd:noNamespaceSchemaLocation="ARSTIN.XSD"`).
    pub(crate) fn open_root(&mut self, name: &str, schema: &str) {
        let start = BytesStart::new(name).with_attributes([
            ("xmlns:xsd", XSD_NAMESPACE),
            ("xsd:noNamespaceSchemaLocation", schema),
        ]);
        self.emit(Event::Start(start));
    }

    pub(crate) fn open(&mut self, name: &str) {
        self.emit(Event::Start(BytesStart::new(name)));
    }

    pub(crate) fn close(&mut self, name: &str) {
        self.emit(Event::End(BytesEnd::new(name)));
    }

    /// `<name>value</name>` with the value escaped.
    pub(crate) fn text(&mut self, name: &str, value: &str) {
        if let Some(bad) = value
            .chars()
            .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        {
            self.fail(Error::InvalidInput {
                field: name.to_owned(),
                expected: format!(
                    "text without control characters (found U+{:04X})",
                    u32::from(bad)
                ),
            });
            return;
        }
        self.open(name);
        if !value.is_empty() {
            self.emit(Event::Text(BytesText::new(value)));
        }
        self.close(name);
    }

    /// Writes the element only when a value is present: SYSPRO treats an empty element as
    /// "clear this field" for some setup fields, so absence and emptiness must not be confused.
    pub(crate) fn opt_text(&mut self, name: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.text(name, value);
        }
    }

    /// `Y` or `N`.
    pub(crate) fn flag(&mut self, name: &str, value: bool) {
        self.text(name, yes_no(value));
    }

    pub(crate) fn opt_flag(&mut self, name: &str, value: Option<bool>) {
        if let Some(value) = value {
            self.flag(name, value);
        }
    }

    /// Money with exactly two decimals (`15000.00`). Callers validate the scale first.
    pub(crate) fn money(&mut self, name: &str, value: Decimal) {
        self.text(name, &format_money(value));
    }

    pub(crate) fn opt_money(&mut self, name: &str, value: Option<Decimal>) {
        if let Some(value) = value {
            self.money(name, value);
        }
    }

    /// A plain decimal string without exponent or trailing zeros beyond the value's own scale.
    pub(crate) fn decimal(&mut self, name: &str, value: Decimal) {
        self.text(name, &value.normalize().to_string());
    }

    pub(crate) fn opt_decimal(&mut self, name: &str, value: Option<Decimal>) {
        if let Some(value) = value {
            self.decimal(name, value);
        }
    }

    /// `CCYY-MM-DD`.
    pub(crate) fn date(&mut self, name: &str, value: Date) {
        match format_date(value) {
            Some(text) => self.text(name, &text),
            None => self.fail(Error::InvalidInput {
                field: name.to_owned(),
                expected: "a date between 1900-01-01 and 9999-12-31".to_owned(),
            }),
        }
    }

    pub(crate) fn opt_date(&mut self, name: &str, value: Option<Date>) {
        if let Some(value) = value {
            self.date(name, value);
        }
    }

    /// The finished document, or the first value that could not be written.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the element whose value cannot appear in XML.
    pub(crate) fn finish(self) -> Result<String, Error> {
        if let Some(failure) = self.failure {
            return Err(failure);
        }
        String::from_utf8(self.writer.into_inner()).map_err(|_| Error::InvalidInput {
            field: "document".to_owned(),
            expected: "text that encodes as UTF-8".to_owned(),
        })
    }

    fn emit(&mut self, event: Event<'_>) {
        if self.failure.is_some() {
            return;
        }
        // Writing into a Vec cannot fail; the branch keeps the error path honest anyway.
        if let Err(e) = self.writer.write_event(event) {
            self.fail(Error::InvalidInput {
                field: "document".to_owned(),
                expected: format!("a writable XML document ({e})"),
            });
        }
    }

    fn fail(&mut self, error: Error) {
        if self.failure.is_none() {
            self.failure = Some(error);
        }
    }
}

pub(crate) fn yes_no(value: bool) -> &'static str {
    if value { "Y" } else { "N" }
}

/// Two fixed decimals; rounding never happens because callers reject finer values first.
pub(crate) fn format_money(value: Decimal) -> String {
    let mut value = value;
    value.rescale(2);
    value.to_string()
}

pub(crate) fn format_date(value: Date) -> Option<String> {
    if !(1900..=9999).contains(&value.year()) {
        return None;
    }
    value
        .format(format_description!("[year]-[month]-[day]"))
        .ok()
}

// ---- validation helpers used by the document builders ---------------------------------------

fn invalid(field: &str, expected: impl Into<String>) -> Error {
    Error::InvalidInput {
        field: field.to_owned(),
        expected: expected.into(),
    }
}

/// A mandatory text value: not blank, at most `max` characters.
pub(crate) fn require_text(field: &str, value: &str, max: usize) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(invalid(field, "a non-empty value"));
    }
    check_len(field, value, max)
}

pub(crate) fn check_len(field: &str, value: &str, max: usize) -> Result<(), Error> {
    let len = value.chars().count();
    if len > max {
        return Err(invalid(
            field,
            format!("at most {max} characters (got {len})"),
        ));
    }
    Ok(())
}

pub(crate) fn check_opt_len(field: &str, value: Option<&str>, max: usize) -> Result<(), Error> {
    match value {
        Some(value) => check_len(field, value, max),
        None => Ok(()),
    }
}

/// Money must already be in cents: formatting never rounds a ledger amount silently.
pub(crate) fn check_money(field: &str, value: Decimal) -> Result<(), Error> {
    check_scale(field, value, 2)
}

pub(crate) fn check_opt_money(field: &str, value: Option<Decimal>) -> Result<(), Error> {
    match value {
        Some(value) => check_money(field, value),
        None => Ok(()),
    }
}

pub(crate) fn check_scale(field: &str, value: Decimal, max_scale: u32) -> Result<(), Error> {
    if value.normalize().scale() > max_scale {
        return Err(invalid(
            field,
            format!("at most {max_scale} decimal places (got {value})"),
        ));
    }
    Ok(())
}

pub(crate) fn check_date(field: &str, value: Date) -> Result<(), Error> {
    if format_date(value).is_none() {
        return Err(invalid(field, "a date between 1900-01-01 and 9999-12-31"));
    }
    Ok(())
}

// ---- reading ---------------------------------------------------------------------------------

/// One element of a parsed output: its name as written, its trimmed text and its children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Node {
    pub(crate) name: String,
    text: String,
    pub(crate) children: Vec<Node>,
}

impl Node {
    /// Whether this element has the given name, ignoring ASCII case.
    pub(crate) fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// The element's own text, trimmed of surrounding whitespace (SYSPRO pads numbers).
    pub(crate) fn text(&self) -> &str {
        self.text.trim()
    }

    /// First direct child with this name.
    pub(crate) fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.is(name))
    }

    /// Every direct child with this name, in document order.
    pub(crate) fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> {
        self.children.iter().filter(move |c| c.is(name))
    }

    /// Trimmed text of a direct child; `None` when the child is absent or empty.
    pub(crate) fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(Node::text).filter(|t| !t.is_empty())
    }

    pub(crate) fn child_string(&self, name: &str) -> Option<String> {
        self.child_text(name).map(str::to_owned)
    }

    /// Follows a path of direct children, e.g. `["Key", "Customer"]`.
    pub(crate) fn path(&self, names: &[&str]) -> Option<&Node> {
        let mut node = self;
        for name in names {
            node = node.child(name)?;
        }
        Some(node)
    }

    pub(crate) fn path_text(&self, names: &[&str]) -> Option<&str> {
        self.path(names).map(Node::text).filter(|t| !t.is_empty())
    }

    /// Every element below this one (not including it), depth first, in document order.
    pub(crate) fn descendants(&self) -> Vec<(&Node, &Node)> {
        let mut out = Vec::new();
        let mut stack: Vec<&Node> = vec![self];
        while let Some(parent) = stack.pop() {
            for child in &parent.children {
                out.push((parent, child));
            }
            for child in parent.children.iter().rev() {
                stack.push(child);
            }
        }
        out
    }
}

/// Parses a business object's output (already decoded to text) into a [`Node`] tree.
///
/// The XML declaration may still claim `Windows-1252`; it is ignored because the text has
/// been decoded. Comments, processing instructions and DOCTYPEs are skipped.
///
/// # Errors
///
/// [`Error::Output`] naming the business object when the text is not well-formed XML, has no
/// root element, nests deeper than any SYSPRO output does, or uses an undefined entity.
pub(crate) fn parse(business_object: &str, xml: &str) -> Result<Node, Error> {
    let mut reader = Reader::from_str(xml);
    // End tags are matched case-insensitively below, so quick-xml's exact check is off.
    reader.config_mut().check_end_names = false;

    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        let event = reader.read_event().map_err(|e| {
            output_error(
                business_object,
                format!("malformed XML near byte {}: {e}", reader.error_position()),
            )
        })?;
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(output_error(
                        business_object,
                        "content after the root element",
                    ));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(output_error(
                        business_object,
                        format!("elements nested deeper than {MAX_DEPTH} levels"),
                    ));
                }
                stack.push(Node {
                    name: element_name(&start),
                    ..Node::default()
                });
            }
            Event::Empty(start) => {
                let node = Node {
                    name: element_name(&start),
                    ..Node::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None if root.is_none() => root = Some(node),
                    None => {
                        return Err(output_error(
                            business_object,
                            "content after the root element",
                        ));
                    }
                }
            }
            Event::End(end) => {
                let Some(node) = stack.pop() else {
                    return Err(output_error(
                        business_object,
                        "closing tag without opening tag",
                    ));
                };
                let closing_name = end.name();
                let closing: &str = closing_name.as_ref();
                if !node.name.eq_ignore_ascii_case(closing) {
                    return Err(output_error(
                        business_object,
                        format!("<{}> closed by </{closing}>", node.name),
                    ));
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(text) => {
                let content = text.xml10_content();
                append_text(business_object, &mut stack, &content)?;
            }
            Event::CData(data) => {
                let content = data.xml10_content();
                append_text(business_object, &mut stack, &content)?;
            }
            Event::GeneralRef(reference) => {
                let resolved = resolve_reference(&reference).ok_or_else(|| {
                    output_error(
                        business_object,
                        format!("undefined entity &{};", &*reference),
                    )
                })?;
                append_text(business_object, &mut stack, &resolved)?;
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(output_error(
            business_object,
            format!("output ends inside <{}>", open.name),
        ));
    }
    root.ok_or_else(|| output_error(business_object, "no XML root element in the output"))
}

fn element_name(start: &BytesStart<'_>) -> String {
    let name = start.name();
    let name: &str = name.as_ref();
    name.to_owned()
}

fn append_text(business_object: &str, stack: &mut [Node], content: &str) -> Result<(), Error> {
    match stack.last_mut() {
        Some(node) => {
            node.text.push_str(content);
            Ok(())
        }
        None if content.trim().is_empty() => Ok(()),
        None => Err(output_error(
            business_object,
            "text outside the root element",
        )),
    }
}

fn resolve_reference(reference: &quick_xml::events::BytesRef<'_>) -> Option<Cow<'static, str>> {
    if reference.is_char_ref() {
        return reference
            .resolve_char_ref()
            .ok()
            .flatten()
            .map(|c| Cow::Owned(c.to_string()));
    }
    quick_xml::escape::resolve_predefined_entity(reference).map(Cow::Borrowed)
}

pub(crate) fn output_error(business_object: &str, message: impl Into<String>) -> Error {
    Error::Output {
        business_object: business_object.to_owned(),
        message: message.into(),
    }
}

// ---- number and date reading -------------------------------------------------------------------

/// A counter such as `000001` or `       1`; an empty element counts as zero (SYSPRO writes
/// `<JournalsInvalid/>` when nothing was invalid).
pub(crate) fn parse_counter(business_object: &str, node: &Node) -> Result<u64, Error> {
    let text = node.text();
    if text.is_empty() {
        return Ok(0);
    }
    text.parse::<u64>().map_err(|_| {
        output_error(
            business_object,
            format!("<{}> is not a count: {text:?}", node.name),
        )
    })
}

/// An optional counter child: absent → `None`, empty → `Some(0)`.
pub(crate) fn child_counter(
    business_object: &str,
    parent: &Node,
    name: &str,
) -> Result<Option<u64>, Error> {
    parent
        .child(name)
        .map(|node| parse_counter(business_object, node))
        .transpose()
}

/// A decimal amount, trimmed; a trailing minus (`100.00-`) is accepted as SYSPRO's XSD allows.
pub(crate) fn parse_amount(text: &str) -> Option<Decimal> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Some(body) = text.strip_suffix('-') {
        return body.trim().parse::<Decimal>().ok().map(|d| -d);
    }
    text.parse::<Decimal>().ok()
}

/// Reads an amount child; absent or empty → `None`, unreadable → [`Error::Output`].
pub(crate) fn child_amount(
    business_object: &str,
    parent: &Node,
    name: &str,
) -> Result<Option<Decimal>, Error> {
    match parent.child_text(name) {
        None => Ok(None),
        Some(text) => parse_amount(text).map(Some).ok_or_else(|| {
            output_error(
                business_object,
                format!("<{name}> is not an amount: {text:?}"),
            )
        }),
    }
}

/// Reads a date written as `CCYY-MM-DD` or `CCYYMMDD`; `0000-00-00`, blank or any other
/// shape (operator-formatted dates in query outputs) yields `None`.
pub(crate) fn parse_date(text: &str) -> Option<Date> {
    let text = text.trim();
    let digits: String = text.chars().filter(|c| *c != '-').collect();
    let well_formed = match text.len() {
        10 => text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-',
        8 => true,
        _ => false,
    };
    if !well_formed || digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i32 = digits[0..4].parse().ok()?;
    let month: u8 = digits[4..6].parse().ok()?;
    let day: u8 = digits[6..8].parse().ok()?;
    let month = time::Month::try_from(month).ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bo::test_support::dec;
    use time::macros::date;

    #[test]
    fn writer_escapes_markup_and_quotes() {
        let mut out = XmlOut::new();
        out.open("Item");
        out.text("Name", "Smith & Sons <\"Ltd\"> 'x'");
        out.close("Item");
        assert_eq!(
            out.finish().unwrap(),
            "<Item><Name>Smith &amp; Sons &lt;&quot;Ltd&quot;&gt; &apos;x&apos;</Name></Item>"
        );
    }

    #[test]
    fn writer_rejects_control_characters_naming_the_element() {
        let mut out = XmlOut::new();
        out.text("Reference", "bad\u{0007}");
        match out.finish() {
            Err(Error::InvalidInput { field, expected }) => {
                assert_eq!(field, "Reference");
                assert!(expected.contains("U+0007"), "{expected}");
            }
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn root_carries_schema_attributes() {
        let mut out = XmlOut::new();
        out.open_root("PostArInvoices", "ARSTINDOC.XSD");
        out.close("PostArInvoices");
        assert_eq!(
            out.finish().unwrap(),
            "<PostArInvoices xmlns:xsd=\"http://www.w3.org/2001/XMLSchema-instance\" \
             xsd:noNamespaceSchemaLocation=\"ARSTINDOC.XSD\"></PostArInvoices>"
        );
    }

    #[test]
    fn money_has_two_fixed_decimals() {
        assert_eq!(format_money(dec("15000")), "15000.00");
        assert_eq!(format_money(dec("12.5")), "12.50");
        assert_eq!(format_money(dec("-0.10")), "-0.10");
        assert_eq!(format_money(dec("1.230")), "1.23");
        assert!(check_money("InvoiceValue", dec("1.005")).is_err());
        assert!(check_money("InvoiceValue", dec("1.0500")).is_ok());
    }

    #[test]
    fn dates_are_ccyy_mm_dd() {
        assert_eq!(format_date(date!(2026 - 03 - 07)).unwrap(), "2026-03-07");
        assert!(format_date(date!(0999 - 01 - 01)).is_none());
        assert_eq!(parse_date("2006-09-12"), Some(date!(2006 - 09 - 12)));
        assert_eq!(parse_date("20060912"), Some(date!(2006 - 09 - 12)));
        assert_eq!(parse_date("0000-00-00"), None);
        assert_eq!(parse_date("12/09/2006"), None);
        assert_eq!(parse_date(""), None);
    }

    #[test]
    fn parser_matches_names_case_insensitively_and_trims() {
        let root = parse(
            "ARSTIN",
            "<?xml version=\"1.0\" encoding=\"Windows-1252\"?>\n<!-- c -->\
             <postarinvoices Language='05'><ITEM><Invoice>  100288 </Invoice></item></postarinvoices>",
        )
        .unwrap();
        assert!(root.is("PostArInvoices"));
        assert_eq!(root.path_text(&["Item", "invoice"]), Some("100288"));
    }

    #[test]
    fn parser_resolves_entities_and_cdata() {
        let root = parse(
            "X",
            "<A><B>Smith &amp; Sons &#233;&#x41;<![CDATA[<raw>]]></B></A>",
        )
        .unwrap();
        assert_eq!(root.child_text("b"), Some("Smith & Sons éA<raw>"));
    }

    #[test]
    fn parser_reports_malformed_output_naming_the_business_object() {
        for bad in [
            "",
            "0",
            "<A><B></A>",
            "<A>",
            "<A/><B/>",
            "<A>&nbsp;</A>",
            "</A>",
        ] {
            match parse("GENTJL", bad) {
                Err(Error::Output {
                    business_object, ..
                }) => assert_eq!(business_object, "GENTJL", "{bad:?}"),
                other => panic!("{bad:?}: expected Output error, got {other:?}"),
            }
        }
    }

    #[test]
    fn parser_limits_depth() {
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(matches!(parse("X", &deep), Err(Error::Output { .. })));
    }

    #[test]
    fn counters_and_amounts_are_trimmed() {
        let root = parse(
            "X",
            "<S><A>000004</A><B>       1</B><C/><D>x</D><E> 100.50- </E></S>",
        )
        .unwrap();
        assert_eq!(child_counter("X", &root, "a").unwrap(), Some(4));
        assert_eq!(child_counter("X", &root, "b").unwrap(), Some(1));
        assert_eq!(child_counter("X", &root, "c").unwrap(), Some(0));
        assert_eq!(child_counter("X", &root, "z").unwrap(), None);
        assert!(child_counter("X", &root, "d").is_err());
        assert_eq!(child_amount("X", &root, "e").unwrap(), Some(dec("-100.50")));
        assert_eq!(child_amount("X", &root, "c").unwrap(), None);
        assert!(child_amount("X", &root, "d").is_err());
    }
}
