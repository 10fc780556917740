//! Canonical JSON text straight from a serialisable value.
//!
//! A document read from Commerce is stored as JSON text and fingerprinted by a hash of its
//! canonical rendering: object keys sorted, no whitespace, scalars as `serde_json` writes them
//! (see [`Fingerprint::of_document`](super::Fingerprint::of_document)). Going through a
//! [`serde_json::Value`] gives that rendering, at the cost of a tree of small allocations that is
//! built, rendered and dropped for every document. [`render`] writes the same text in one pass:
//! each object's members are written as they come and, only when they did not come in key order,
//! put in order once the object is complete.
//!
//! The text is exactly `serde_json::to_string(&serde_json::to_value(value)?)`, as the tests check on
//! real documents: later members replace earlier ones of the same key, non-finite floats are
//! `null`, `f32` is widened to `f64`. Whatever a value holds that this does not handle the same way
//! (raw JSON values, map keys other than strings, characters and integers, integers beyond 64
//! bits) makes [`render`] return `None`, and the caller goes through a `Value` instead.

use std::borrow::Cow;
use std::fmt;

use serde::ser::{self, Serialize};

/// The canonical JSON text of `value`, or `None` when it holds something only a
/// [`serde_json::Value`] renders faithfully.
pub(crate) fn render<T: Serialize + ?Sized>(value: &T) -> Option<String> {
    let mut out = Vec::with_capacity(4096);
    value.serialize(Canonical { out: &mut out }).ok()?;
    String::from_utf8(out).ok()
}

/// Why a value is left to `serde_json::Value`.
#[derive(Debug)]
pub(crate) struct Unsupported(String);

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

fn unsupported(what: &str) -> Unsupported {
    Unsupported(format!("{what} is rendered through serde_json::Value"))
}

/// Writes a scalar as `serde_json` does.
fn scalar<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), Unsupported> {
    serde_json::to_writer(out, value).map_err(|e| Unsupported(e.to_string()))
}

struct Canonical<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> ser::Serializer for Canonical<'a> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Array<'a>;
    type SerializeTuple = Array<'a>;
    type SerializeTupleStruct = Array<'a>;
    type SerializeTupleVariant = Array<'a>;
    type SerializeMap = Object<'a>;
    type SerializeStruct = Object<'a>;
    type SerializeStructVariant = Object<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Unsupported> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), Unsupported> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i16(self, v: i16) -> Result<(), Unsupported> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i32(self, v: i32) -> Result<(), Unsupported> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i64(self, v: i64) -> Result<(), Unsupported> {
        scalar(self.out, &v)
    }

    fn serialize_i128(self, v: i128) -> Result<(), Unsupported> {
        match (i64::try_from(v), u64::try_from(v)) {
            (Ok(v), _) => self.serialize_i64(v),
            (_, Ok(v)) => self.serialize_u64(v),
            _ => Err(unsupported("an integer beyond 64 bits")),
        }
    }

    fn serialize_u8(self, v: u8) -> Result<(), Unsupported> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u16(self, v: u16) -> Result<(), Unsupported> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u32(self, v: u32) -> Result<(), Unsupported> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u64(self, v: u64) -> Result<(), Unsupported> {
        scalar(self.out, &v)
    }

    fn serialize_u128(self, v: u128) -> Result<(), Unsupported> {
        u64::try_from(v)
            .map_err(|_| unsupported("an integer beyond 64 bits"))
            .and_then(|v| self.serialize_u64(v))
    }

    fn serialize_f32(self, v: f32) -> Result<(), Unsupported> {
        // A `Value` holds every float as an `f64`.
        self.serialize_f64(f64::from(v))
    }

    fn serialize_f64(self, v: f64) -> Result<(), Unsupported> {
        if v.is_finite() {
            scalar(self.out, &v)
        } else {
            self.out.extend_from_slice(b"null");
            Ok(())
        }
    }

    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        scalar(self.out, v)
    }

    fn collect_str<T: fmt::Display + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        // Written as it is displayed, escaped on the way: no string in between.
        self.out.push(b'"');
        fmt::write(&mut Escaped(&mut *self.out), format_args!("{value}"))
            .map_err(|_| Unsupported("a value that failed to display".to_owned()))?;
        self.out.push(b'"');
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Unsupported> {
        // A `Value` holds bytes as an array of numbers.
        let mut array = self.serialize_seq(Some(v.len()))?;
        for byte in v {
            ser::SerializeSeq::serialize_element(&mut array, byte)?;
        }
        ser::SerializeSeq::end(array)
    }

    fn serialize_none(self) -> Result<(), Unsupported> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Unsupported> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Unsupported> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Unsupported> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        if name.starts_with("$serde_json::") {
            return Err(unsupported("a raw JSON value"));
        }
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        // `{"variant":value}`: one member, so in order already.
        self.out.push(b'{');
        scalar(self.out, variant)?;
        self.out.push(b':');
        value.serialize(Canonical {
            out: &mut *self.out,
        })?;
        self.out.push(b'}');
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Array<'a>, Unsupported> {
        self.out.push(b'[');
        Ok(Array {
            out: self.out,
            first: true,
            variant: false,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Array<'a>, Unsupported> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Array<'a>, Unsupported> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Array<'a>, Unsupported> {
        // `{"variant":[...]}`: one member, so in order already.
        self.out.push(b'{');
        scalar(self.out, variant)?;
        self.out.extend_from_slice(b":[");
        Ok(Array {
            out: self.out,
            first: true,
            variant: true,
        })
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Object<'a>, Unsupported> {
        Ok(Object::open(self.out, None, len.unwrap_or(8)))
    }

    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Object<'a>, Unsupported> {
        if name.starts_with("$serde_json::") {
            return Err(unsupported("a raw JSON value"));
        }
        Ok(Object::open(self.out, None, len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Object<'a>, Unsupported> {
        Ok(Object::open(self.out, Some(variant), len))
    }
}

/// Writes string contents escaped as `serde_json` escapes them: `"`, `\\` and control characters.
struct Escaped<'a>(&'a mut Vec<u8>);

impl fmt::Write for Escaped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
            self.0.extend_from_slice(s.as_bytes());
            return Ok(());
        }
        for byte in s.bytes() {
            match byte {
                b'"' => self.0.extend_from_slice(b"\\\""),
                b'\\' => self.0.extend_from_slice(b"\\\\"),
                0x08 => self.0.extend_from_slice(b"\\b"),
                0x09 => self.0.extend_from_slice(b"\\t"),
                0x0a => self.0.extend_from_slice(b"\\n"),
                0x0c => self.0.extend_from_slice(b"\\f"),
                0x0d => self.0.extend_from_slice(b"\\r"),
                0x00..=0x1f => self.0.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(byte >> 4)],
                    HEX[usize::from(byte & 0x0f)],
                ]),
                _ => self.0.push(byte),
            }
        }
        Ok(())
    }
}

struct Array<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
    /// Inside `{"variant":` (a tuple variant), closed by `]}`.
    variant: bool,
}

impl Array<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        value.serialize(Canonical { out: self.out })
    }

    fn close(self) -> Result<(), Unsupported> {
        self.out
            .extend_from_slice(if self.variant { b"]}" } else { b"]" });
        Ok(())
    }
}

impl ser::SerializeSeq for Array<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.element(value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.close()
    }
}

impl ser::SerializeTuple for Array<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.element(value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.close()
    }
}

impl ser::SerializeTupleStruct for Array<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.element(value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.close()
    }
}

impl ser::SerializeTupleVariant for Array<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.element(value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.close()
    }
}

/// A member written: its key, and where `"key":value` lies in the output.
struct Member {
    key: Cow<'static, str>,
    start: usize,
    end: usize,
}

/// An object being written. Members go straight to the output; [`Object::close`] puts them in key
/// order when they did not come in it.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    /// Where the members start: just after the `{`.
    body: usize,
    members: Vec<Member>,
    /// The key given by `serialize_key`, waiting for its value.
    key: Option<String>,
    /// Inside `{"variant":` (a struct variant), closed by `}}`.
    variant: bool,
}

impl<'a> Object<'a> {
    fn open(out: &'a mut Vec<u8>, variant: Option<&'static str>, len: usize) -> Self {
        if let Some(variant) = variant {
            out.push(b'{');
            // A string always renders.
            let _ = scalar(out, variant);
            out.push(b':');
        }
        out.push(b'{');
        Self {
            body: out.len(),
            out,
            members: Vec::with_capacity(len),
            key: None,
            variant: variant.is_some(),
        }
    }

    fn member<T: Serialize + ?Sized>(
        &mut self,
        key: Cow<'static, str>,
        value: &T,
    ) -> Result<(), Unsupported> {
        if !self.members.is_empty() {
            self.out.push(b',');
        }
        let start = self.out.len();
        scalar(self.out, &*key)?;
        self.out.push(b':');
        value.serialize(Canonical { out: self.out })?;
        self.members.push(Member {
            key,
            start,
            end: self.out.len(),
        });
        Ok(())
    }

    fn close(mut self) -> Result<(), Unsupported> {
        let in_order = self
            .members
            .windows(2)
            .all(|pair| pair[0].key < pair[1].key);
        if !in_order {
            let written = self.out.split_off(self.body);
            // Stable: of members with the same key, the last is kept, as a map insert keeps it.
            self.members.sort_by(|a, b| a.key.cmp(&b.key));
            let mut first = true;
            for (index, member) in self.members.iter().enumerate() {
                if self
                    .members
                    .get(index + 1)
                    .is_some_and(|next| next.key == member.key)
                {
                    continue;
                }
                if !first {
                    self.out.push(b',');
                }
                first = false;
                self.out
                    .extend_from_slice(&written[member.start - self.body..member.end - self.body]);
            }
        }
        self.out
            .extend_from_slice(if self.variant { b"}}" } else { b"}" });
        Ok(())
    }
}

impl ser::SerializeMap for Object<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Unsupported> {
        self.key = Some(key.serialize(MapKey)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        let key = self
            .key
            .take()
            .ok_or_else(|| Unsupported("a map value without its key".to_owned()))?;
        self.member(Cow::Owned(key), value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.close()
    }
}

impl ser::SerializeStruct for Object<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.member(Cow::Borrowed(key), value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.close()
    }
}

impl ser::SerializeStructVariant for Object<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.member(Cow::Borrowed(key), value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.close()
    }
}

/// A map key as a `Value` takes it: strings, characters and integers (as their digits).
struct MapKey;

impl ser::Serializer for MapKey {
    type Ok = String;
    type Error = Unsupported;
    type SerializeSeq = ser::Impossible<String, Unsupported>;
    type SerializeTuple = ser::Impossible<String, Unsupported>;
    type SerializeTupleStruct = ser::Impossible<String, Unsupported>;
    type SerializeTupleVariant = ser::Impossible<String, Unsupported>;
    type SerializeMap = ser::Impossible<String, Unsupported>;
    type SerializeStruct = ser::Impossible<String, Unsupported>;
    type SerializeStructVariant = ser::Impossible<String, Unsupported>;

    fn serialize_str(self, v: &str) -> Result<String, Unsupported> {
        Ok(v.to_owned())
    }

    fn serialize_char(self, v: char) -> Result<String, Unsupported> {
        Ok(v.to_string())
    }

    fn serialize_i8(self, v: i8) -> Result<String, Unsupported> {
        Ok(v.to_string())
    }

    fn serialize_i16(self, v: i16) -> Result<String, Unsupported> {
        Ok(v.to_string())
    }

    fn serialize_i32(self, v: i32) -> Result<String, Unsupported> {
        Ok(v.to_string())
    }

    fn serialize_i64(self, v: i64) -> Result<String, Unsupported> {
        Ok(v.to_string())
    }

    fn serialize_u8(self, v: u8) -> Result<String, Unsupported> {
        Ok(v.to_string())
    }

    fn serialize_u16(self, v: u16) -> Result<String, Unsupported> {
        Ok(v.to_string())
    }

    fn serialize_u32(self, v: u32) -> Result<String, Unsupported> {
        Ok(v.to_string())
    }

    fn serialize_u64(self, v: u64) -> Result<String, Unsupported> {
        Ok(v.to_string())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, Unsupported> {
        Ok(variant.to_owned())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, Unsupported> {
        value.serialize(self)
    }

    fn serialize_bool(self, _v: bool) -> Result<String, Unsupported> {
        Err(unsupported("a boolean map key"))
    }

    fn serialize_f32(self, _v: f32) -> Result<String, Unsupported> {
        Err(unsupported("a float map key"))
    }

    fn serialize_f64(self, _v: f64) -> Result<String, Unsupported> {
        Err(unsupported("a float map key"))
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<String, Unsupported> {
        Err(unsupported("a bytes map key"))
    }

    fn serialize_none(self) -> Result<String, Unsupported> {
        Err(unsupported("a missing map key"))
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<String, Unsupported> {
        Err(unsupported("an optional map key"))
    }

    fn serialize_unit(self) -> Result<String, Unsupported> {
        Err(unsupported("a unit map key"))
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, Unsupported> {
        Err(unsupported("a unit map key"))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, Unsupported> {
        Err(unsupported("an enum map key"))
    }

    fn serialize_seq(
        self,
        _len: Option<usize>,
    ) -> Result<ser::Impossible<String, Unsupported>, Unsupported> {
        Err(unsupported("a sequence map key"))
    }

    fn serialize_tuple(
        self,
        _len: usize,
    ) -> Result<ser::Impossible<String, Unsupported>, Unsupported> {
        Err(unsupported("a tuple map key"))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<ser::Impossible<String, Unsupported>, Unsupported> {
        Err(unsupported("a tuple map key"))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<ser::Impossible<String, Unsupported>, Unsupported> {
        Err(unsupported("an enum map key"))
    }

    fn serialize_map(
        self,
        _len: Option<usize>,
    ) -> Result<ser::Impossible<String, Unsupported>, Unsupported> {
        Err(unsupported("a map as a map key"))
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<ser::Impossible<String, Unsupported>, Unsupported> {
        Err(unsupported("a struct map key"))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<ser::Impossible<String, Unsupported>, Unsupported> {
        Err(unsupported("an enum map key"))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::Serialize;
    use serde_json::{Value, json};

    use super::render;

    /// What a `Value` renders: the text [`render`] must give.
    fn through_value<T: Serialize>(value: &T) -> String {
        serde_json::to_string(&serde_json::to_value(value).expect("to a value")).expect("text")
    }

    fn same<T: Serialize>(value: &T) {
        let expected = through_value(value);
        assert_eq!(render(value).as_deref(), Some(expected.as_str()));
    }

    const FIXTURES: [&str; 6] = [
        include_str!(
            "../../../adobe-commerce-client/tests/fixtures/resources/order_configurable_bundle.json"
        ),
        include_str!("../../../adobe-commerce-client/tests/fixtures/resources/order_guest.json"),
        include_str!("../../../adobe-commerce-client/tests/fixtures/resources/order_nulls.json"),
        include_str!("../../../adobe-commerce-client/tests/fixtures/resources/invoice.json"),
        include_str!("../../../adobe-commerce-client/tests/fixtures/resources/credit_memo.json"),
        include_str!("../../../adobe-commerce-client/tests/fixtures/resources/customer.json"),
    ];

    /// The typed Commerce documents, whose fields are declared out of key order, with flattened
    /// extension attributes, decimals, timestamps and nulls.
    #[test]
    fn commerce_documents_render_as_their_values() {
        use adobe_commerce_client::models::{CreditMemo, Customer, Invoice, Order};
        for fixture in &FIXTURES[..3] {
            same(&serde_json::from_str::<Order>(fixture).expect("an order"));
        }
        same(&serde_json::from_str::<Invoice>(FIXTURES[3]).expect("an invoice"));
        same(&serde_json::from_str::<CreditMemo>(FIXTURES[4]).expect("a credit memo"));
        same(&serde_json::from_str::<Customer>(FIXTURES[5]).expect("a customer"));
        for fixture in FIXTURES {
            same(&serde_json::from_str::<Value>(fixture).expect("JSON"));
        }
    }

    #[derive(Serialize)]
    enum Shape {
        Unit,
        Newtype(u8),
        Tuple(i32, f32),
        Struct { z: bool, a: Option<char> },
    }

    #[derive(Serialize)]
    struct Unordered {
        zulu: f64,
        alpha: Vec<Shape>,
        #[serde(rename = "é")]
        accent: &'static str,
        #[serde(rename = "A")]
        upper: (),
        #[serde(flatten)]
        extra: BTreeMap<String, Value>,
        mike: HashMap<u16, &'static str>,
        #[serde(with = "serde_bytes_like")]
        bytes: Vec<u8>,
        big: u128,
        small: i128,
        nan: f64,
        #[serde(serialize_with = "displayed")]
        shown: String,
    }

    /// Through `collect_str`, as decimals and timestamps are.
    fn displayed<S: serde::Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    mod serde_bytes_like {
        pub(super) fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(v)
        }
    }

    /// Members out of order, duplicated by a flattened map (the later one wins), enums of every
    /// shape, escapes, integer map keys, bytes, floats that are not finite or only `f32`.
    #[test]
    fn every_shape_renders_as_its_value() {
        let value = Unordered {
            zulu: 0.300_000_000_000_000_04,
            alpha: vec![
                Shape::Unit,
                Shape::Newtype(7),
                Shape::Tuple(-3, 1.1),
                Shape::Struct {
                    z: true,
                    a: Some('"'),
                },
                Shape::Struct { z: false, a: None },
            ],
            accent: "tab\there \u{1}\u{1F600}",
            upper: (),
            extra: [
                ("zulu".to_owned(), json!("replaced")),
                (
                    "beta".to_owned(),
                    json!({"y": [1, {"b": 2, "a": 1}], "x": null}),
                ),
            ]
            .into_iter()
            .collect(),
            mike: [(10, "ten"), (9, "nine"), (100, "hundred")]
                .into_iter()
                .collect(),
            bytes: vec![0, 255, 10],
            big: u128::from(u64::MAX),
            small: -5,
            nan: f64::NAN,
            shown: (0_u8..0x20)
                .map(char::from)
                .chain("\"\\ \u{7f}é\u{1F600}".chars())
                .collect(),
        };
        same(&value);
        same(&json!({"b": [1.5, -0.0, 1e300, 12345678901234567890u64], "a": "x"}));
    }

    /// What only a `Value` renders faithfully is left to it.
    #[test]
    fn raw_values_and_odd_keys_are_left_to_serde_json() {
        let raw =
            serde_json::value::RawValue::from_string("{\"b\":1,\"a\":2}".to_owned()).expect("raw");
        assert_eq!(render(&raw), None);
        assert_eq!(render(&u128::MAX), None);
        let bool_keys: BTreeMap<bool, u8> = [(true, 1)].into_iter().collect();
        assert_eq!(render(&bool_keys), None);
    }
}
