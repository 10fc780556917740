//! A stored JSON document, shared rather than copied.
//!
//! An order read from Commerce is ten to fifty kilobytes of JSON. It is the record's payload and the
//! document of its `read` audit entry (the SQLite store keeps it once, for both), and then travels
//! with the record through every move until it is posted. A [`Payload`] keeps the document behind a
//! reference count, with its JSON text and its parsed [`Value`] each produced at most once, when
//! first needed: copies cost nothing, a move that never looks at the document never parses it, and
//! the record and its audit entry share one rendering of the text. A document read from Commerce is
//! rendered to its text straight from the typed document ([`Payload::rendered`]), never built as a
//! `Value` unless something asks for one.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A JSON document: its text and its value, each made once and shared by every clone.
///
/// It dereferences to the [`Value`]. A payload read back from storage that is not valid JSON
/// dereferences to `null`; [`Payload::value`] tells why.
#[derive(Clone)]
pub struct Payload(Arc<Inner>);

struct Inner {
    text: OnceLock<Box<str>>,
    value: OnceLock<Result<Value, String>>,
}

static NULL: Value = Value::Null;

impl Payload {
    /// A payload of stored JSON text, parsed when first looked at.
    #[must_use]
    pub fn from_json_text(text: impl Into<Box<str>>) -> Self {
        Self(Arc::new(Inner {
            text: OnceLock::from(text.into()),
            value: OnceLock::new(),
        }))
    }

    /// The payload of a serialisable document: its canonical JSON text (object keys sorted, no
    /// whitespace), written straight from the document. It is the text a [`Value`] of the document
    /// renders, without building that value.
    pub fn rendered<T: Serialize + ?Sized>(document: &T) -> Self {
        match super::canonical::render(document) {
            Some(text) => Self::from_json_text(text),
            None => Self::from(serde_json::to_value(document).unwrap_or(Value::Null)),
        }
    }

    /// The document's value.
    ///
    /// # Errors
    /// The parser's message when the stored text is not JSON.
    pub fn value(&self) -> Result<&Value, &str> {
        self.0
            .value
            .get_or_init(|| match self.0.text.get() {
                Some(text) => serde_json::from_str(text).map_err(|e| e.to_string()),
                None => Ok(Value::Null),
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// The document as compact JSON text (object keys in the order of the value).
    #[must_use]
    pub fn json_text(&self) -> &str {
        self.0.text.get_or_init(|| {
            // Rendering a `Value` into a `String` cannot fail.
            serde_json::to_string(&**self)
                .unwrap_or_default()
                .into_boxed_str()
        })
    }

    /// The document read as a `T`: straight from the text when it has not been parsed yet, so a
    /// document read once for conversion is never built as a [`Value`] at all.
    ///
    /// # Errors
    /// The parser's message when the document is not a `T`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, String> {
        match (self.0.value.get(), self.0.text.get()) {
            (None, Some(text)) => serde_json::from_str(text).map_err(|e| e.to_string()),
            _ => T::deserialize(self.value()?).map_err(|e| e.to_string()),
        }
    }

    /// The value, taken out when this is the only copy and cloned otherwise.
    #[must_use]
    pub fn into_value(self) -> Value {
        match Arc::try_unwrap(self.0) {
            Ok(inner) => match inner.value.into_inner() {
                Some(Ok(value)) => value,
                Some(Err(_)) => Value::Null,
                None => inner
                    .text
                    .get()
                    .and_then(|text| serde_json::from_str(text).ok())
                    .unwrap_or(Value::Null),
            },
            Err(shared) => Self(shared).value().cloned().unwrap_or(Value::Null),
        }
    }

    /// Whether both are the same shared document (a cheap test; equal documents need not be).
    #[must_use]
    pub fn shares(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl From<Value> for Payload {
    fn from(value: Value) -> Self {
        Self(Arc::new(Inner {
            text: OnceLock::new(),
            value: OnceLock::from(Ok(value)),
        }))
    }
}

impl Default for Payload {
    fn default() -> Self {
        Self::from(Value::Null)
    }
}

impl Deref for Payload {
    type Target = Value;

    fn deref(&self) -> &Value {
        self.value().unwrap_or(&NULL)
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        self.shares(other) || **self == **other
    }
}

impl PartialEq<Value> for Payload {
    fn eq(&self, other: &Value) -> bool {
        **self == *other
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.value() {
            Ok(value) => fmt::Debug::fmt(value, f),
            Err(e) => write!(f, "<stored payload that is not JSON: {e}>"),
        }
    }
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_and_value_are_made_once_and_agree() {
        let from_value = Payload::from(json!({"b": [1, "x"], "a": null}));
        assert_eq!(from_value.json_text(), r#"{"a":null,"b":[1,"x"]}"#);
        let from_text = Payload::from_json_text(from_value.json_text());
        assert_eq!(from_text, from_value);
        assert_eq!(from_text["b"][1], "x");
        let copy = from_text.clone();
        assert!(copy.shares(&from_text));
        assert!(std::ptr::eq(copy.json_text(), from_text.json_text()));
    }

    #[test]
    fn a_document_is_parsed_as_a_type_from_its_text_or_its_value() {
        #[derive(Deserialize, Debug, PartialEq)]
        struct Doc {
            a: u32,
        }
        assert_eq!(
            Payload::from_json_text(r#"{"a":7}"#).parse::<Doc>(),
            Ok(Doc { a: 7 })
        );
        assert_eq!(
            Payload::from(json!({"a": 8})).parse::<Doc>(),
            Ok(Doc { a: 8 })
        );
        let wrong = Payload::from(json!({"a": "x"})).parse::<Doc>();
        assert!(wrong.is_err_and(|e| e.contains("expected u32")));
    }

    #[test]
    fn stored_text_that_is_not_json_says_why_and_reads_as_null() {
        let broken = Payload::from_json_text("{\"a\":");
        assert!(broken.value().is_err_and(|e| e.contains("EOF")));
        assert_eq!(*broken, Value::Null);
        assert!(format!("{broken:?}").contains("not JSON"));
        assert!(broken.parse::<Value>().is_err());
    }

    #[test]
    fn the_only_copy_gives_up_its_value_and_a_shared_one_is_cloned() {
        let p = Payload::from(json!({"k": 1}));
        let shared = p.clone();
        assert_eq!(p.into_value(), json!({"k": 1}));
        assert_eq!(shared.into_value(), json!({"k": 1}));
        assert_eq!(Payload::from_json_text("[2]").into_value(), json!([2]));
    }

    #[test]
    fn it_serializes_as_the_document_itself() {
        let p = Payload::from_json_text(r#"{"z":1,"a":[true]}"#);
        assert_eq!(
            serde_json::to_value(&p).ok(),
            Some(json!({"a": [true], "z": 1}))
        );
        let back: Payload = serde_json::from_str(r#"{"q":2}"#).unwrap_or_default();
        assert_eq!(back, json!({"q": 2}));
    }
}
