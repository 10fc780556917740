//! Lenient decoders for the value shapes Commerce produces.
//!
//! REST output is cast to the PHP type each interface declares, so money arrives as a JSON number
//! (`165`, `165.5`, `0.30000000000000004`), flags as `0`/`1`, and timestamps as `YYYY-MM-DD HH:MM:SS`
//! in UTC without an offset. Event and webhook payloads carry the same values as strings, and some
//! modules answer `true`/`false`. These helpers accept every one of those spellings and fail with a
//! message that names the offending value.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serializer};
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// `YYYY-MM-DD HH:MM:SS`, the only timestamp shape the REST API emits.
pub(crate) const COMMERCE_TIMESTAMP: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");

/// Parses a Commerce timestamp (UTC, no offset) into an [`OffsetDateTime`] in UTC.
///
/// A `T` separator and a fractional second are tolerated because some extensions write them.
pub fn parse_timestamp(text: &str) -> Result<OffsetDateTime, String> {
    let trimmed = text.trim();
    let normalised = trimmed.replacen('T', " ", 1);
    let without_fraction = match normalised.split_once('.') {
        Some((head, tail)) if tail.chars().all(|c| c.is_ascii_digit()) => head.to_owned(),
        _ => normalised,
    };
    PrimitiveDateTime::parse(&without_fraction, COMMERCE_TIMESTAMP)
        .map(PrimitiveDateTime::assume_utc)
        .map_err(|_| format!("invalid timestamp `{text}`: expected `YYYY-MM-DD HH:MM:SS` in UTC"))
}

/// Formats a UTC instant the way Commerce writes and compares timestamps.
pub fn format_timestamp(at: OffsetDateTime) -> String {
    let utc = at.to_offset(time::UtcOffset::UTC);
    PrimitiveDateTime::new(utc.date(), utc.time())
        .format(COMMERCE_TIMESTAMP)
        .unwrap_or_else(|_| {
            // The format has no component that can fail for an in-range date; keep a readable
            // fallback rather than panicking.
            utc.to_string()
        })
}

/// Parses decimal text exactly; scientific notation is accepted for completeness.
pub(crate) fn parse_decimal(text: &str) -> Result<Decimal, String> {
    let trimmed = text.trim();
    let parsed = if trimmed.contains(['e', 'E']) {
        Decimal::from_scientific(trimmed)
    } else {
        Decimal::from_str_exact(trimmed)
    };
    parsed.map_err(|_| {
        format!("invalid decimal `{text}`: expected a number such as `165` or `12.50`")
    })
}

struct DecimalVisitor;

impl Visitor<'_> for DecimalVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal number or a numeric string")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
        if !v.is_finite() {
            return Err(E::custom(format!(
                "invalid decimal `{v}`: not a finite number"
            )));
        }
        // `Display` for f64 prints the shortest text that reads back as the same float. PHP's
        // `json_encode` (serialize_precision -1) writes exactly that text too, so parsing it
        // reproduces the number Commerce sent, noise digits included.
        parse_decimal(&v.to_string()).map_err(E::custom)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
        parse_decimal(v).map_err(E::custom)
    }
}

/// A [`Decimal`] read from a JSON number or a numeric string.
pub(crate) struct LenientDecimal(pub(crate) Decimal);

impl<'de> Deserialize<'de> for LenientDecimal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(DecimalVisitor)
            .map(LenientDecimal)
    }
}

/// `Option<Decimal>` fields: absent or `null` is `None`; numbers and numeric strings are exact.
/// Serialised as a string so the value stays exact.
pub(crate) mod opt_decimal {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Decimal>, D::Error> {
        Ok(Option::<LenientDecimal>::deserialize(deserializer)?.map(|d| d.0))
    }

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<Decimal>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => serializer.serialize_str(&d.to_string()),
            None => serializer.serialize_none(),
        }
    }
}

struct FlagVisitor;

impl Visitor<'_> for FlagVisitor {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a flag: 0, 1, true or false")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        match v {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(E::custom(format!(
                "invalid flag `{other}`: expected 0 or 1"
            ))),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        match v {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(E::custom(format!(
                "invalid flag `{other}`: expected 0 or 1"
            ))),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        match v.trim() {
            "0" | "false" | "" => Ok(false),
            "1" | "true" => Ok(true),
            other => Err(E::custom(format!(
                "invalid flag `{other}`: expected 0, 1, true or false"
            ))),
        }
    }
}

struct LenientFlag(bool);

impl<'de> Deserialize<'de> for LenientFlag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FlagVisitor).map(LenientFlag)
    }
}

/// `Option<bool>` fields written by Commerce as `0`/`1` (or `true`/`false`, or strings of either).
/// Serialised as a JSON boolean.
pub(crate) mod opt_flag {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<bool>, D::Error> {
        Ok(Option::<LenientFlag>::deserialize(deserializer)?.map(|f| f.0))
    }

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<bool>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(b) => serializer.serialize_bool(*b),
            None => serializer.serialize_none(),
        }
    }
}

/// `Option<OffsetDateTime>` fields holding `YYYY-MM-DD HH:MM:SS` UTC timestamps. An empty string
/// is read as `None` (older modules write it for "never"). Serialised back in the same format.
pub(crate) mod opt_timestamp {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        match text.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(value) => parse_timestamp(value).map(Some).map_err(de::Error::custom),
        }
    }

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<OffsetDateTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(at) => serializer.serialize_str(&format_timestamp(*at)),
            None => serializer.serialize_none(),
        }
    }
}

struct IntVisitor;

impl Visitor<'_> for IntVisitor {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer or a string of digits")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom(format!("invalid integer `{v}`: out of range")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        // Some extensions write integral values as `2.0`.
        if v.fract() == 0.0 && v.abs() < 9.0e15 {
            Ok(v as i64)
        } else {
            Err(E::custom(format!(
                "invalid integer `{v}`: has a fractional part"
            )))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        i64::from_str(v.trim())
            .map_err(|_| E::custom(format!("invalid integer `{v}`: expected digits")))
    }
}

/// An integer read from a JSON number or a string of digits.
pub(crate) struct LenientInt(pub(crate) i64);

impl<'de> Deserialize<'de> for LenientInt {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(IntVisitor).map(LenientInt)
    }
}

/// `Option<i64>` fields that may arrive as numbers or strings of digits.
pub(crate) mod opt_int {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<i64>, D::Error> {
        Ok(Option::<LenientInt>::deserialize(deserializer)?.map(|i| i.0))
    }

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<i64>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(i) => serializer.serialize_i64(*i),
            None => serializer.serialize_none(),
        }
    }
}

/// Reads `null` as the type's default (an empty list for arrays Commerce marks required but may
/// still write as `null`).
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Reads any JSON scalar as text: some string fields (postcodes, telephone numbers) arrive as
/// numbers from a few modules.
pub(crate) mod opt_text {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<String>, D::Error> {
        let value = Option::<serde_json::Value>::deserialize(deserializer)?;
        match value {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s)),
            Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
            Some(serde_json::Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(other) => Err(de::Error::custom(format!(
                "invalid text `{other}`: expected a string"
            ))),
        }
    }

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<String>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(s) => serializer.serialize_str(s),
            None => serializer.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, with = "opt_decimal")]
        amount: Option<Decimal>,
        #[serde(default, with = "opt_flag")]
        flag: Option<bool>,
        #[serde(default, with = "opt_timestamp")]
        at: Option<OffsetDateTime>,
        #[serde(default, with = "opt_int")]
        count: Option<i64>,
    }

    fn probe(json: &str) -> Result<Probe, serde_json::Error> {
        serde_json::from_str(json)
    }

    fn dec(text: &str) -> Decimal {
        Decimal::from_str_exact(text).expect("test decimal")
    }

    #[test]
    fn integer_looking_money_is_exact() {
        assert_eq!(probe(r#"{"amount":165}"#).unwrap().amount, Some(dec("165")));
        assert_eq!(probe(r#"{"amount":-5}"#).unwrap().amount, Some(dec("-5")));
    }

    #[test]
    fn float_money_keeps_the_json_text_value() {
        assert_eq!(
            probe(r#"{"amount":165.5}"#).unwrap().amount,
            Some(dec("165.5"))
        );
        assert_eq!(probe(r#"{"amount":0.1}"#).unwrap().amount, Some(dec("0.1")));
        assert_eq!(
            probe(r#"{"amount":3.3000000000000003}"#).unwrap().amount,
            Some(dec("3.3000000000000003"))
        );
        assert_eq!(
            probe(r#"{"amount":165.29999999999998}"#).unwrap().amount,
            Some(dec("165.29999999999998"))
        );
        assert_eq!(
            probe(r#"{"amount":0.30000000000000004}"#).unwrap().amount,
            Some(dec("0.30000000000000004"))
        );
    }

    #[test]
    fn numeric_strings_and_nulls_are_accepted() {
        assert_eq!(
            probe(r#"{"amount":"123.000000"}"#).unwrap().amount,
            Some(dec("123"))
        );
        assert_eq!(probe(r#"{"amount":null}"#).unwrap().amount, None);
        assert_eq!(probe(r#"{}"#).unwrap().amount, None);
    }

    #[test]
    fn bad_decimal_names_the_value() {
        let err = probe(r#"{"amount":"12,50"}"#)
            .err()
            .expect("must fail")
            .to_string();
        assert!(err.contains("`12,50`"), "{err}");
    }

    #[test]
    fn flags_accept_numbers_booleans_and_strings() {
        for (json, expected) in [
            (r#"{"flag":0}"#, Some(false)),
            (r#"{"flag":1}"#, Some(true)),
            (r#"{"flag":true}"#, Some(true)),
            (r#"{"flag":"1"}"#, Some(true)),
            (r#"{"flag":"false"}"#, Some(false)),
            (r#"{"flag":null}"#, None),
        ] {
            assert_eq!(probe(json).unwrap().flag, expected, "{json}");
        }
        assert!(probe(r#"{"flag":2}"#).is_err());
    }

    #[test]
    fn timestamps_are_utc() {
        let at = probe(r#"{"at":"2017-08-21 22:22:19"}"#)
            .unwrap()
            .at
            .unwrap();
        assert_eq!(at, time::macros::datetime!(2017-08-21 22:22:19 UTC));
        assert_eq!(format_timestamp(at), "2017-08-21 22:22:19");
        assert_eq!(probe(r#"{"at":""}"#).unwrap().at, None);
    }

    #[test]
    fn bad_timestamp_names_the_value() {
        let err = probe(r#"{"at":"21/08/2017"}"#)
            .err()
            .expect("must fail")
            .to_string();
        assert!(err.contains("`21/08/2017`"), "{err}");
        assert!(err.contains("YYYY-MM-DD HH:MM:SS"), "{err}");
    }

    #[test]
    fn integers_accept_digit_strings() {
        assert_eq!(probe(r#"{"count":"42"}"#).unwrap().count, Some(42));
        assert_eq!(probe(r#"{"count":42}"#).unwrap().count, Some(42));
        assert!(probe(r#"{"count":"4x"}"#).is_err());
    }
}
