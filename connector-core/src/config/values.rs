//! Value types of the configuration that need more than serde's defaults: durations with units,
//! money written as strings, and names of vault entries.

use std::fmt;
use std::time::Duration;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// A duration written with units, e.g. `"90s"`, `"5m"`, `"1h30m"`, `"250ms"`, `"1d"`.
///
/// Units are `ms`, `s`, `m`, `h` and `d`; parts may be combined from largest to smallest. A bare
/// number is refused: `5` could mean seconds or minutes, and a schedule that is off by sixty times is
/// worse than an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConfigDuration(pub Duration);

impl ConfigDuration {
    /// Builds a duration from whole minutes (used for defaults).
    pub const fn from_mins(mins: u64) -> Self {
        Self(Duration::from_secs(mins * 60))
    }

    /// Builds a duration from whole seconds (used for defaults).
    pub const fn from_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }

    /// The duration.
    pub const fn get(self) -> Duration {
        self.0
    }

    /// Parses `"1h30m"`-style text.
    ///
    /// # Errors
    /// A message naming what was expected when the text is empty, has an unknown unit, a number
    /// without a unit, units out of order, or overflows.
    pub fn parse(text: &str) -> Result<Self, String> {
        const EXPECTED: &str =
            "a duration with a unit, e.g. \"90s\", \"5m\" or \"1h30m\" (units: ms, s, m, h, d)";
        let text = text.trim();
        if text.is_empty() {
            return Err(format!("empty duration; expected {EXPECTED}"));
        }
        let mut total = Duration::ZERO;
        let mut rest = text;
        let mut last_rank = usize::MAX;
        while !rest.is_empty() {
            let digits_end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits_end == 0 {
                return Err(format!("{text:?} is not {EXPECTED}"));
            }
            let number: u64 = rest[..digits_end]
                .parse()
                .map_err(|_| format!("{text:?} has a number too large; expected {EXPECTED}"))?;
            rest = &rest[digits_end..];
            let unit_end = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit = &rest[..unit_end];
            rest = &rest[unit_end..];
            let (rank, unit_len) = match unit {
                "d" => (4, Duration::from_secs(86_400)),
                "h" => (3, Duration::from_secs(3_600)),
                "m" => (2, Duration::from_secs(60)),
                "s" => (1, Duration::from_secs(1)),
                "ms" => (0, Duration::from_millis(1)),
                "" => {
                    return Err(format!(
                        "{text:?} has a number without a unit; expected {EXPECTED}"
                    ));
                }
                other => {
                    return Err(format!(
                        "{text:?} has the unknown unit {other:?}; expected {EXPECTED}"
                    ));
                }
            };
            if rank >= last_rank {
                return Err(format!(
                    "{text:?} repeats a unit or lists units out of order; expected {EXPECTED}"
                ));
            }
            last_rank = rank;
            let part = u32::try_from(number)
                .ok()
                .and_then(|n| unit_len.checked_mul(n))
                .ok_or_else(|| format!("{text:?} is too long a duration"))?;
            total = total
                .checked_add(part)
                .ok_or_else(|| format!("{text:?} is too long a duration"))?;
        }
        Ok(Self(total))
    }
}

impl fmt::Display for ConfigDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.subsec_millis() != 0 || d.is_zero() {
            return write!(f, "{}ms", d.as_millis());
        }
        let mut secs = d.as_secs();
        for (unit, len) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
            if secs >= len {
                write!(f, "{}{unit}", secs / len)?;
                secs %= len;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = ConfigDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string with a unit, e.g. \"5m\" or \"90s\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                ConfigDuration::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "the bare number {v} has no unit; write a string such as \"{v}s\" or \"{v}m\""
                )))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
        }
        deserializer.deserialize_any(DurationVisitor)
    }
}

/// Deserializes a money or tolerance amount written as a string (`"0.05"`) or an integer.
///
/// TOML floats are refused: `0.1` as a binary float is not one tenth, and the ledger must not depend
/// on how a float happened to be printed.
pub(crate) fn decimal_from_str_or_int<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Decimal, D::Error> {
    struct DecimalVisitor;
    impl Visitor<'_> for DecimalVisitor {
        type Value = Decimal;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an amount written as a string, e.g. \"0.05\"")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            v.trim().parse::<Decimal>().map_err(|_| {
                E::custom(format!(
                    "{v:?} is not an amount; expected digits such as \"0.05\""
                ))
            })
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Decimal::from(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Decimal::from(v))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Err(E::custom(format!(
                "amounts are written as strings, e.g. \"{v}\", so no binary-float rounding can creep in"
            )))
        }
    }
    deserializer.deserialize_any(DecimalVisitor)
}

/// The name of an entry in the encrypted vault: where a secret lives, never the secret itself.
///
/// Names are 1 to 128 characters of letters, digits and `. _ - /`, which keeps them readable in
/// logs and unlikely to be confused with a pasted password or token.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct SecretName(String);

impl SecretName {
    /// Checks and wraps a vault entry name.
    ///
    /// # Errors
    /// A message saying which characters are allowed.
    pub fn new(name: impl Into<String>) -> Result<Self, String> {
        let name = name.into();
        let ok = !name.is_empty()
            && name.len() <= 128
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'));
        if ok {
            Ok(Self(name))
        } else {
            // The value is not echoed: it may be a secret pasted where its name belongs.
            Err(format!(
                "the value ({} characters) is not a vault entry name; expected 1 to 128 letters, digits or `. _ - /` (the name of a secret, never the secret itself)",
                name.chars().count()
            ))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SecretName {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_round_trip() {
        let cases = [
            ("90s", 90_000),
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("250ms", 250),
            ("1d", 86_400_000),
            ("2m30s", 150_000),
        ];
        for (text, millis) in cases {
            let d = ConfigDuration::parse(text).unwrap();
            assert_eq!(d.get().as_millis(), millis, "{text}");
            assert_eq!(ConfigDuration::parse(&d.to_string()).unwrap(), d, "{text}");
        }
    }

    #[test]
    fn durations_without_units_or_out_of_order_are_refused() {
        for bad in ["", "5", "m", "5x", "30s1m", "1m1m", "-5m", "5 m"] {
            assert!(
                ConfigDuration::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn secret_names_refuse_secret_looking_text_without_echoing_it() {
        assert!(SecretName::new("acme/commerce.consumer_key").is_ok());
        let err = SecretName::new("p@ss w0rd!!").unwrap_err();
        assert!(!err.contains("w0rd"), "{err}");
        assert!(SecretName::new("").is_err());
    }
}
