//! Per-item messages and counters that every transaction and setup output shares.
//!
//! SYSPRO reports a rejected field by wrapping it: the element named after the field holds
//! `<Value>`, optionally `<ErrorNumber>`, and `<ErrorDescription>`. Warnings arrive as
//! `<WarningDescription>` (often inside `<WarningMessages>`), and each business object ends with
//! `<StatusOfItems>` counters whose names differ per object. None of this is an `Err`: a batch
//! with one bad item is still a successful call, and the caller decides per item.

use serde::Serialize;

use super::xml::{Node, parse_counter};
use crate::error::Error;

/// One field SYSPRO rejected, as reported inside the output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Name of the element that wrapped the error (the offending field, e.g. `Customer`).
    pub field: String,
    /// The value SYSPRO saw in that field, when it echoed one.
    pub value: Option<String>,
    /// SYSPRO's error number, when given (e.g. `240004`).
    pub number: Option<String>,
    /// SYSPRO's message, verbatim.
    pub description: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.description)?;
        if let Some(value) = &self.value {
            write!(f, " (value {value:?})")?;
        }
        if let Some(number) = &self.number {
            write!(f, " [{number}]")?;
        }
        Ok(())
    }
}

/// Errors and warnings found below one element of an output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Messages {
    /// Fields SYSPRO rejected.
    pub errors: Vec<FieldError>,
    /// Warnings, verbatim (e.g. a line placed on back order).
    pub warnings: Vec<String>,
}

impl Messages {
    /// Collects every `ErrorDescription`/`ErrorMessage` and `WarningDescription` below `node`.
    pub(crate) fn collect(node: &Node) -> Self {
        let mut messages = Self::default();
        messages.collect_into(node, &[]);
        messages
    }

    /// Like [`Messages::collect`] but skips the subtrees of direct children named in `skip`
    /// (used for the document level, whose items report their own messages).
    pub(crate) fn collect_outside(node: &Node, skip: &[&str]) -> Self {
        let mut messages = Self::default();
        messages.collect_into(node, skip);
        messages
    }

    fn collect_into(&mut self, node: &Node, skip: &[&str]) {
        // Depth-first with an explicit stack of (parent, element) pairs, in document order.
        let mut stack: Vec<(&Node, &Node)> = node
            .children
            .iter()
            .rev()
            .filter(|c| !skip.iter().any(|s| c.is(s)))
            .map(|c| (node, c))
            .collect();
        while let Some((parent, current)) = stack.pop() {
            if current.is("ErrorDescription") || current.is("ErrorMessage") {
                if !current.text().is_empty() {
                    self.errors.push(FieldError {
                        field: parent.name.clone(),
                        value: parent.child_string("Value"),
                        number: parent.child_string("ErrorNumber"),
                        description: current.text().to_owned(),
                    });
                }
                continue;
            }
            if current.is("WarningDescription") {
                if !current.text().is_empty() {
                    self.warnings.push(current.text().to_owned());
                }
                continue;
            }
            for child in current.children.iter().rev() {
                stack.push((current, child));
            }
        }
    }

    /// Whether SYSPRO reported no errors (warnings allowed).
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }
}

/// The `<StatusOfItems>` counters of an output, names as SYSPRO wrote them.
///
/// Names differ per business object (`ItemsValidated`/`InvalidItems` for ARSTIN,
/// `JournalsProcessed`/`PostingsInvalid` for GENTJL, `RecordsRead`/`RecordsInvalid` for setup
/// objects); each result type also exposes its own counters by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatusOfItems {
    counters: Vec<(String, u64)>,
}

impl StatusOfItems {
    /// Reads `<StatusOfItems>` from the root; absent → no counters.
    ///
    /// # Errors
    ///
    /// [`Error::Output`] when a counter is not a whole number.
    pub(crate) fn read(business_object: &str, root: &Node) -> Result<Self, Error> {
        let Some(status) = root.child("StatusOfItems") else {
            return Ok(Self::default());
        };
        let mut counters = Vec::new();
        for node in &status.children {
            if node.children.is_empty() {
                counters.push((node.name.clone(), parse_counter(business_object, node)?));
            }
        }
        Ok(Self { counters })
    }

    /// A counter by name, ignoring ASCII case.
    pub fn get(&self, name: &str) -> Option<u64> {
        self.counters
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// All counters in output order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.counters.iter().map(|(n, v)| (n.as_str(), *v))
    }

    /// Whether the output carried no `<StatusOfItems>` counters at all.
    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bo::xml::parse;

    #[test]
    fn collects_field_errors_with_value_number_and_field_name() {
        let root = parse(
            "INVSWS",
            "<setup><item><key><stockcode>1004</stockcode></key>\
               <stockcode><Value>1004</Value><ErrorNumber>240004</ErrorNumber>\
               <ErrorDescription>Stock code '1004' not found</ErrorDescription></stockcode>\
               <Warehouse><Value>ZZ</Value><ErrorDescription>Bad warehouse</ErrorDescription></Warehouse>\
               <WarningMessages><WarningDescription> careful </WarningDescription></WarningMessages>\
               <ErrorDescription></ErrorDescription>\
             </item></setup>",
        )
        .unwrap();
        let messages = Messages::collect(&root);
        assert_eq!(
            messages.errors,
            vec![
                FieldError {
                    field: "stockcode".into(),
                    value: Some("1004".into()),
                    number: Some("240004".into()),
                    description: "Stock code '1004' not found".into(),
                },
                FieldError {
                    field: "Warehouse".into(),
                    value: Some("ZZ".into()),
                    number: None,
                    description: "Bad warehouse".into(),
                },
            ]
        );
        assert_eq!(messages.warnings, vec!["careful".to_owned()]);
        assert!(!messages.is_clean());
    }

    #[test]
    fn collect_outside_skips_item_subtrees() {
        let root = parse(
            "X",
            "<r><Item><A><ErrorDescription>item</ErrorDescription></A></Item>\
             <B><ErrorMessage>doc</ErrorMessage></B></r>",
        )
        .unwrap();
        let messages = Messages::collect_outside(&root, &["item"]);
        assert_eq!(messages.errors.len(), 1);
        assert_eq!(messages.errors[0].field, "B");
        assert_eq!(messages.errors[0].description, "doc");
    }

    #[test]
    fn status_counters_are_trimmed_and_case_insensitive() {
        let root = parse(
            "ARSTIN",
            "<r><StatusOfItems><ItemsValidated>000004</ItemsValidated>\
             <InvalidItems>  1</InvalidItems><Other/></StatusOfItems></r>",
        )
        .unwrap();
        let status = StatusOfItems::read("ARSTIN", &root).unwrap();
        assert_eq!(status.get("itemsvalidated"), Some(4));
        assert_eq!(status.get("InvalidItems"), Some(1));
        assert_eq!(status.get("Other"), Some(0));
        assert_eq!(status.get("Missing"), None);
        assert_eq!(status.iter().count(), 3);
    }

    #[test]
    fn status_counter_that_is_not_a_number_is_an_output_error() {
        let root = parse("ARSTIN", "<r><StatusOfItems><A>x</A></StatusOfItems></r>").unwrap();
        assert!(matches!(
            StatusOfItems::read("ARSTIN", &root),
            Err(Error::Output { .. })
        ));
    }
}
