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
    // Nearly every timestamp is exactly `YYYY-MM-DD HH:MM:SS`: read its digits directly. Anything
    // else, an invalid date included, takes the general path (and its message).
    match exact_timestamp(text.as_bytes()) {
        Some(at) => Ok(at),
        None => parse_timestamp_general(text),
    }
}

/// `YYYY-MM-DD HH:MM:SS` with a valid date and time, nothing more or less.
fn exact_timestamp(text: &[u8]) -> Option<OffsetDateTime> {
    let [
        y0,
        y1,
        y2,
        y3,
        b'-',
        m0,
        m1,
        b'-',
        d0,
        d1,
        b' ',
        h0,
        h1,
        b':',
        i0,
        i1,
        b':',
        s0,
        s1,
    ] = *text
    else {
        return None;
    };
    let digit = |b: u8| b.is_ascii_digit().then(|| b - b'0');
    let two = |a: u8, b: u8| Some(digit(a)? * 10 + digit(b)?);
    let year = [y0, y1, y2, y3]
        .into_iter()
        .try_fold(0_i32, |year, b| Some(year * 10 + i32::from(digit(b)?)))?;
    let month = time::Month::try_from(two(m0, m1)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, two(d0, d1)?).ok()?;
    let time = time::Time::from_hms(two(h0, h1)?, two(i0, i1)?, two(s0, s1)?).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// [`parse_timestamp`] for every spelling it accepts.
fn parse_timestamp_general(text: &str) -> Result<OffsetDateTime, String> {
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
    CommerceTimestamp(at).to_string()
}

/// Displays an instant as `YYYY-MM-DD HH:MM:SS` in UTC, without a format description at run time.
struct CommerceTimestamp(OffsetDateTime);

impl fmt::Display for CommerceTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let utc = self.0.to_offset(time::UtcOffset::UTC);
        let year = utc.year();
        if !(0..=9999).contains(&year) {
            // Outside four digits the format description decides the spelling. It has no
            // component that can fail for an in-range date; a readable fallback beats a panic.
            return match PrimitiveDateTime::new(utc.date(), utc.time()).format(COMMERCE_TIMESTAMP) {
                Ok(formatted) => f.write_str(&formatted),
                Err(_) => write!(f, "{utc}"),
            };
        }
        write!(
            f,
            "{year:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            u8::from(utc.month()),
            utc.day(),
            utc.hour(),
            utc.minute(),
            utc.second()
        )
    }
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

/// The decimal with the fewest fraction digits, at most [`SHORT_DIGITS`], that reads back as `v`;
/// `None` when it needs more digits or `v` is too large to scale exactly.
///
/// That decimal is the one `Display` prints (the shortest text reading back as `v`), found
/// without text: money comes with at most four decimals, and formatting then parsing each of the
/// hundreds of amounts on an order costs more than the rest of decoding them. `m / 10^k` with `m`
/// and `10^k` below 2^53 is exact in both operands, and IEEE division rounds the quotient to the
/// nearest float, as parsing the text `m·10^-k` does; so the check below is exactly "this text
/// reads back as `v`". Below 10^11, `v·10^k` is far enough from 2^53 that `m` is the only
/// candidate with `k` digits.
fn short_decimal(v: f64) -> Option<Decimal> {
    const SHORT_DIGITS: u32 = 4;
    const SCALES: [f64; 5] = [1.0, 10.0, 100.0, 1_000.0, 10_000.0];
    if !v.is_finite() || v.abs() >= 1e11 {
        return None;
    }
    for k in 0..=SHORT_DIGITS {
        let scale = SCALES[k as usize];
        let m = (v * scale).round();
        if m / scale == v {
            // |m| < 10^15: exact as an i64.
            #[allow(clippy::cast_possible_truncation)]
            return Some(Decimal::new(m as i64, k));
        }
    }
    None
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
        if let Some(exact) = short_decimal(v) {
            return Ok(exact);
        }
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
            Some(d) => serializer.collect_str(d),
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
        deserializer.deserialize_option(OptTimestampVisitor)
    }

    /// Reads the text where it lies, without a copy.
    struct OptTimestampVisitor;

    impl<'de> Visitor<'de> for OptTimestampVisitor {
        type Value = Option<OffsetDateTime>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a timestamp `YYYY-MM-DD HH:MM:SS` or null")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_str(self)
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
            match text.trim() {
                "" => Ok(None),
                value => parse_timestamp(value).map(Some).map_err(E::custom),
            }
        }
    }

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<OffsetDateTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(at) => serializer.collect_str(&CommerceTimestamp(*at)),
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
        deserializer.deserialize_any(OptTextVisitor)
    }

    /// Takes a scalar as text; an array or object is refused with its JSON in the message.
    struct OptTextVisitor;

    impl<'de> Visitor<'de> for OptTextVisitor {
        type Value = Option<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_any(self)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(serde_json::Number::from(v).to_string()))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(serde_json::Number::from(v).to_string()))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            // As the number would be written back as JSON (a non-finite one cannot be).
            serde_json::Number::from_f64(v)
                .map(|n| Some(n.to_string()))
                .ok_or_else(|| E::custom(format!("invalid text `{v}`: expected a string")))
        }

        fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            let value = serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
            Err(de::Error::custom(format!(
                "invalid text `{value}`: expected a string"
            )))
        }

        fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            let value = serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
            Err(de::Error::custom(format!(
                "invalid text `{value}`: expected a string"
            )))
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

    /// The digit reader and the general parser agree on every text of the exact shape, valid
    /// or not (invalid dates, leap days, 24:00:00, non-digits).
    #[test]
    fn exact_timestamps_read_as_the_general_parser_reads_them() {
        let texts = [
            "2017-08-21 22:22:19",
            "0000-01-01 00:00:00",
            "9999-12-31 23:59:59",
            "2024-02-29 12:00:00",
            "2023-02-29 12:00:00",
            "2023-04-31 00:00:00",
            "2023-13-01 00:00:00",
            "2023-00-10 00:00:00",
            "2023-01-00 00:00:00",
            "2023-01-01 24:00:00",
            "2023-01-01 23:60:00",
            "2023-01-01 23:59:60",
            "2023-01-01T23:59:59",
            "2023-0a-01 23:59:59",
            "+023-01-01 23:59:59",
        ];
        for text in texts {
            let general = parse_timestamp_general(text);
            assert_eq!(parse_timestamp(text), general, "{text}");
            assert_eq!(
                exact_timestamp(text.as_bytes()).is_some(),
                general.is_ok() && !text.contains('T'),
                "{text}"
            );
        }
    }

    #[test]
    fn timestamps_are_written_as_the_format_description_writes_them() {
        for at in [
            time::macros::datetime!(2017-08-21 22:22:19 UTC),
            time::macros::datetime!(0001-01-01 00:00:00 UTC),
            time::macros::datetime!(9999-12-31 23:59:59.999 UTC),
            time::macros::datetime!(2024-02-29 01:02:03 +05:30),
            time::macros::datetime!(-0001-06-01 00:00:00 UTC),
        ] {
            let utc = at.to_offset(time::UtcOffset::UTC);
            let expected = PrimitiveDateTime::new(utc.date(), utc.time())
                .format(COMMERCE_TIMESTAMP)
                .expect("format");
            assert_eq!(format_timestamp(at), expected, "{at}");
        }
    }

    #[test]
    fn text_fields_take_scalars_and_refuse_structures() {
        #[derive(Deserialize)]
        struct Text {
            #[serde(default, with = "opt_text")]
            text: Option<String>,
        }
        let read = |json: &str| serde_json::from_str::<Text>(json).map(|t| t.text);
        assert_eq!(read(r#"{"text":"a\"b"}"#).unwrap(), Some("a\"b".to_owned()));
        assert_eq!(read(r#"{"text":12345}"#).unwrap(), Some("12345".to_owned()));
        assert_eq!(read(r#"{"text":-7}"#).unwrap(), Some("-7".to_owned()));
        assert_eq!(read(r#"{"text":1.5}"#).unwrap(), Some("1.5".to_owned()));
        assert_eq!(read(r#"{"text":true}"#).unwrap(), Some("true".to_owned()));
        assert_eq!(read(r#"{"text":null}"#).unwrap(), None);
        assert_eq!(read(r#"{}"#).unwrap(), None);
        let err = read(r#"{"text":[1,{"a":2}]}"#)
            .expect_err("an array")
            .to_string();
        assert!(err.contains(r#"`[1,{"a":2}]`"#), "{err}");
        let err = read(r#"{"text":{"a":"b"}}"#)
            .expect_err("an object")
            .to_string();
        assert!(err.contains(r#"`{"a":"b"}`"#), "{err}");
        // Read back from a value, as a stored document is.
        let value = serde_json::json!({"text": 5});
        let text: Text = serde_json::from_value(value).expect("from a value");
        assert_eq!(text.text, Some("5".to_owned()));
    }

    #[test]
    fn integers_accept_digit_strings() {
        assert_eq!(probe(r#"{"count":"42"}"#).unwrap().count, Some(42));
        assert_eq!(probe(r#"{"count":42}"#).unwrap().count, Some(42));
        assert!(probe(r#"{"count":"4x"}"#).is_err());
    }

    /// What `visit_f64` gave before its short path: the float's shortest text, parsed.
    fn by_text(v: f64) -> Decimal {
        parse_decimal(&v.to_string()).expect("a finite float's text")
    }

    fn same_as_text(v: f64) {
        if let Some(short) = short_decimal(v) {
            let text = by_text(v);
            // Equal, with the same scale and sign: they print alike.
            assert_eq!(short.to_string(), text.to_string(), "{v:?}");
            assert_eq!(short.scale(), text.scale(), "{v:?}");
            assert_eq!(short.is_sign_negative(), text.is_sign_negative(), "{v:?}");
        }
    }

    #[test]
    fn short_decimals_match_the_floats_text() {
        for v in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            0.2,
            0.3,
            19.99,
            1_999.95,
            0.0001,
            -0.0005,
            12.5,
            1e10,
            99_999_999_999.99,
            0.1 + 0.2,
            1.005,
            2.675,
            1e-5,
            123.456_78,
        ] {
            same_as_text(v);
        }
        assert_eq!(short_decimal(19.99).unwrap().to_string(), "19.99");
        assert_eq!(short_decimal(165.0).unwrap().to_string(), "165");
        // Noise digits take the long way, and still read as the float's text.
        assert_eq!(short_decimal(0.1 + 0.2), None);
        assert_eq!(by_text(0.1 + 0.2).to_string(), "0.30000000000000004");
        assert_eq!(short_decimal(1e12), None);
        assert_eq!(short_decimal(f64::NAN), None);
    }

    proptest::proptest! {
        #[test]
        fn amounts_with_few_decimals_match_the_floats_text(
            units in -99_999_999_999i64..99_999_999_999i64,
            fraction in 0u32..1_000_000,
            digits in 0u32..7,
        ) {
            let fraction = fraction % 10u32.pow(digits);
            let text = if digits == 0 {
                units.to_string()
            } else {
                format!("{units}.{fraction:0width$}", width = digits as usize)
            };
            let v: f64 = text.parse().expect("decimal text");
            same_as_text(v);
        }

        #[test]
        fn any_float_matches_its_text(bits in proptest::num::u64::ANY) {
            let v = f64::from_bits(bits);
            if v.is_finite() {
                same_as_text(v);
            }
        }
    }
}
