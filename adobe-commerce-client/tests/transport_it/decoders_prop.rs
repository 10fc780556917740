//! Property tests of every way the crate reads Commerce JSON: the entity decoders behind every
//! resource call (`decode_json` for orders, invoices, credit memos, customers, products and search
//! pages), error bodies (`ApiError::from_response`, `render_message`), webhook and event payloads
//! and signatures, and timestamps.
//!
//! Inputs are arbitrary bytes and mutations of every recorded fixture: values swapped for another
//! JSON type or `null`, keys removed, numbers respelled, unknown enum codes, byte flips,
//! truncations and insertions. The properties: no panic, every failure is the crate's typed error
//! with the HTTP status and JSON path kept, and what the models write they read back identically.

use std::sync::OnceLock;

use adobe_commerce_client::client::decode_json;
use adobe_commerce_client::error::{MAX_KEPT_BODY_BYTES, render_message};
use adobe_commerce_client::models::{
    CreditMemo, Customer, Invoice, Order, Product, SearchResults, format_timestamp, parse_timestamp,
};
use adobe_commerce_client::page::last_page;
use adobe_commerce_client::webhook::{parse_invoice_event, parse_order_event};
use adobe_commerce_client::{ApiError, Error, SignedContent, WebhookError, WebhookVerifier};
use proptest::prelude::*;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Cases per property: enough to reach the odd corners of each fixture, few enough for CI.
const CASES: u32 = 384;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---- the decoders and their fixtures ----------------------------------------------------------------

/// One entity decoder, as a resource call uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entity {
    Order,
    Invoice,
    CreditMemo,
    Customer,
    Product,
    OrderPage,
    InvoicePage,
    CustomerPage,
}

const ENTITIES: [Entity; 8] = [
    Entity::Order,
    Entity::Invoice,
    Entity::CreditMemo,
    Entity::Customer,
    Entity::Product,
    Entity::OrderPage,
    Entity::InvoicePage,
    Entity::CustomerPage,
];

/// What decoding gave: the value's `Debug` text, and what it reads back as after writing it.
type Decoded = (String, Result<String, String>);

fn decode_as<T: DeserializeOwned + Serialize + std::fmt::Debug + PartialEq>(
    status: u16,
    body: &[u8],
) -> Result<Decoded, Error> {
    let value: T = decode_json(status, body)?;
    let again = match serde_json::to_vec(&value) {
        Err(e) => Err(format!("cannot be written back: {e}")),
        Ok(written) => match decode_json::<T>(status, &written) {
            Err(e) => Err(format!(
                "what was written does not read back: {e} ({:?}): {}",
                std::error::Error::source(&e).map(ToString::to_string),
                String::from_utf8_lossy(&written)
            )),
            Ok(again) if again != value => Err(format!("read back differently: {again:?}")),
            Ok(again) => Ok(format!("{again:?}")),
        },
    };
    Ok((format!("{value:?}"), again))
}

impl Entity {
    fn decode(self, status: u16, body: &[u8]) -> Result<Decoded, Error> {
        match self {
            Entity::Order => decode_as::<Order>(status, body),
            Entity::Invoice => decode_as::<Invoice>(status, body),
            Entity::CreditMemo => decode_as::<CreditMemo>(status, body),
            Entity::Customer => decode_as::<Customer>(status, body),
            Entity::Product => decode_as::<Product>(status, body),
            Entity::OrderPage => decode_as::<SearchResults<Order>>(status, body),
            Entity::InvoicePage => decode_as::<SearchResults<Invoice>>(status, body),
            Entity::CustomerPage => decode_as::<SearchResults<Customer>>(status, body),
        }
    }

    /// Decodes and checks: success reads back identically after writing; the only failure is
    /// `Error::Decode` with the status kept and the body kept (cut to the documented size).
    fn decode_typed(self, status: u16, body: &[u8]) -> Result<bool, TestCaseError> {
        match self.decode(status, body) {
            Ok((_, again)) => {
                prop_assert!(again.is_ok(), "{self:?}: {}", again.unwrap_err());
                Ok(true)
            }
            Err(Error::Decode {
                status: kept,
                path,
                body: kept_body,
                ..
            }) => {
                prop_assert_eq!(kept, status);
                prop_assert!(!path.is_empty(), "the JSON path is named");
                prop_assert!(
                    kept_body.len() <= MAX_KEPT_BODY_BYTES + 64,
                    "kept body is cut: {} bytes",
                    kept_body.len()
                );
                if body.len() <= MAX_KEPT_BODY_BYTES {
                    prop_assert_eq!(kept_body, String::from_utf8_lossy(body).into_owned());
                }
                Ok(false)
            }
            Err(other) => Err(TestCaseError::fail(format!(
                "{self:?}: expected Ok or Error::Decode, got {other:?}"
            ))),
        }
    }
}

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// Every recorded entity with the decoder its resource call uses.
fn entity_fixtures() -> Vec<(&'static str, Entity, Value)> {
    let json = |name: &'static str, entity| {
        let value: Value = serde_json::from_slice(&fixture(&format!("resources/{name}")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        (name, entity, value)
    };
    let page = |(name, _, value): (&'static str, Entity, Value), page| {
        (
            name,
            page,
            serde_json::json!({
                "items": [value],
                "search_criteria": {"filter_groups": [], "page_size": 1, "current_page": 1},
                "total_count": 1,
            }),
        )
    };
    vec![
        json("order_configurable_bundle.json", Entity::Order),
        json("order_guest.json", Entity::Order),
        json("order_nulls.json", Entity::Order),
        json("invoice.json", Entity::Invoice),
        json("credit_memo.json", Entity::CreditMemo),
        json("customer.json", Entity::Customer),
        json("product.json", Entity::Product),
        page(json("order_guest.json", Entity::Order), Entity::OrderPage),
        page(json("invoice.json", Entity::Invoice), Entity::InvoicePage),
        page(
            json("customer.json", Entity::Customer),
            Entity::CustomerPage,
        ),
    ]
}

/// Every other recorded body: error answers, webhook and event payloads, a page of the wrong type.
fn other_fixtures() -> Vec<Vec<u8>> {
    [
        "transport/error-401-acl.json",
        "transport/error-404-order.json",
        "transport/event-invoice-save-after.json",
        "transport/orders-wrong-type.json",
        "transport/webhook-order-place.json",
    ]
    .iter()
    .map(|name| fixture(name))
    .collect()
}

// ---- JSON mutations --------------------------------------------------------------------------------

/// A replacement for one value of a document.
#[derive(Debug, Clone)]
enum Swap {
    Null,
    Remove,
    /// The same value as the other JSON type that Commerce or an extension might send: numbers
    /// as strings and back, flags as booleans, strings as numbers.
    OtherType,
    /// A number respelled: padded text, trailing zeros, exponent.
    Respell(u8),
    Scalar(Value),
    EmptyArray,
    EmptyObject,
    UnknownCode(String),
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // JSON numbers with at most 15 significant digits: serde_json reads longer floats back
        // to a neighbouring f64, which is its behaviour, not the models'.
        (any::<i32>(), 0i32..6).prop_map(|(m, s)| Value::from(f64::from(m) / 10f64.powi(s))),
        "\\PC{0,16}".prop_map(Value::from),
        "[ 0-9.eE+-]{0,16}".prop_map(Value::from),
        prop::sample::select(vec![
            "2026-02-30 10:00:00",
            "2026-11-20T10:00:00.123456",
            "2026-11-20 25:61:61",
            "0000-00-00 00:00:00",
            "1e400",
            "-0",
            "0x10",
            "NaN",
            "79228162514264337593543950336",
            "0.0000000000000000000000000000001",
            "",
        ])
        .prop_map(Value::from),
    ]
}

fn swap() -> impl Strategy<Value = Swap> {
    prop_oneof![
        3 => Just(Swap::Null),
        2 => Just(Swap::Remove),
        4 => Just(Swap::OtherType),
        3 => (0u8..6).prop_map(Swap::Respell),
        3 => scalar().prop_map(Swap::Scalar),
        1 => Just(Swap::EmptyArray),
        1 => Just(Swap::EmptyObject),
        2 => "[a-z_]{1,12}".prop_map(Swap::UnknownCode),
    ]
}

fn other_type(value: &Value) -> Value {
    match value {
        Value::Number(n) => Value::String(n.to_string()),
        Value::String(s) => {
            if let Ok(n) = s.trim().parse::<i64>() {
                Value::from(n)
            } else if let Ok(f) = s.trim().parse::<f64>() {
                Value::from(f)
            } else {
                Value::from(s.len())
            }
        }
        Value::Bool(b) => Value::from(u8::from(*b)),
        Value::Null => Value::from(0),
        Value::Array(items) => items.first().cloned().unwrap_or(Value::Null),
        Value::Object(map) => Value::Array(map.values().cloned().collect()),
    }
}

fn respell(value: &Value, how: u8) -> Value {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => return other.clone(),
    };
    Value::String(match how {
        0 => format!("  {text}  "),
        1 if text.contains('.') => format!("{text}000"),
        1 => format!("{text}.00"),
        2 => format!("{text}e0"),
        3 => format!("000{text}"),
        4 => format!("+{text}"),
        _ => format!("-{text}"),
    })
}

/// Paths (object keys and array indexes) of every value in a document, in pre-order.
fn value_paths(root: &Value) -> Vec<Vec<PathStep>> {
    let mut out = Vec::new();
    let mut stack = vec![(Vec::new(), root)];
    while let Some((path, value)) = stack.pop() {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let mut p = path.clone();
                    p.push(PathStep::Key(k.clone()));
                    stack.push((p, v));
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    let mut p = path.clone();
                    p.push(PathStep::Index(i));
                    stack.push((p, v));
                }
            }
            _ => {}
        }
        out.push(path);
    }
    out
}

#[derive(Debug, Clone)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn apply_swap(root: &mut Value, nth: usize, swap: &Swap) {
    let paths = value_paths(root);
    let path = &paths[nth % paths.len()];
    let Some((last, parent_path)) = path.split_last() else {
        // The document itself.
        *root = match swap {
            Swap::Null | Swap::Remove => Value::Null,
            Swap::EmptyArray => Value::Array(Vec::new()),
            _ => Value::Object(serde_json::Map::new()),
        };
        return;
    };
    let mut parent = &mut *root;
    for step in parent_path {
        parent = match step {
            PathStep::Key(k) => &mut parent[k.as_str()],
            PathStep::Index(i) => &mut parent[*i],
        };
    }
    if let Swap::Remove = swap {
        match (parent, last) {
            (Value::Object(map), PathStep::Key(k)) => {
                map.remove(k);
            }
            (Value::Array(items), PathStep::Index(i)) if *i < items.len() => {
                items.remove(*i);
            }
            _ => {}
        }
        return;
    }
    let slot = match last {
        PathStep::Key(k) => &mut parent[k.as_str()],
        PathStep::Index(i) => &mut parent[*i],
    };
    *slot = match swap {
        Swap::Null => Value::Null,
        Swap::OtherType => other_type(slot),
        Swap::Respell(how) => respell(slot, *how),
        Swap::Scalar(v) => v.clone(),
        Swap::EmptyArray => Value::Array(Vec::new()),
        Swap::EmptyObject => Value::Object(serde_json::Map::new()),
        Swap::UnknownCode(code) => Value::String(code.clone()),
        Swap::Remove => unreachable!("handled above"),
    };
}

/// Byte-level damage to the encoded document.
#[derive(Debug, Clone)]
enum ByteMutation {
    Flip { at: usize, mask: u8 },
    Truncate { at: usize },
    Insert { at: usize, fragment: Vec<u8> },
}

fn byte_mutation() -> impl Strategy<Value = ByteMutation> {
    let fragment = prop_oneof![
        prop::sample::select(vec![
            "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\\uD800", "null", "1e999", "-",
            "\u{FEFF}", "é", "\u{0}",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 1..6),
    ];
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, mask)| ByteMutation::Flip { at, mask }),
        any::<usize>().prop_map(|at| ByteMutation::Truncate { at }),
        (any::<usize>(), fragment).prop_map(|(at, fragment)| ByteMutation::Insert { at, fragment }),
    ]
}

fn apply_bytes(bytes: &mut Vec<u8>, mutation: &ByteMutation) {
    let len = bytes.len();
    match mutation {
        ByteMutation::Flip { at, mask } => {
            if len > 0 {
                bytes[at % len] ^= mask;
            }
        }
        ByteMutation::Truncate { at } => bytes.truncate(at % (len + 1)),
        ByteMutation::Insert { at, fragment } => {
            let at = at % (len + 1);
            bytes.splice(at..at, fragment.iter().copied());
        }
    }
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![Just(200u16), Just(201), 100u16..=599, any::<u16>()]
}

// ---- properties: entity decoders ---------------------------------------------------------------------

proptest! {
    #![proptest_config(config(CASES))]

    /// Arbitrary bytes: every decoder gives `Ok` (reading back identically) or `Error::Decode`
    /// with the status and body kept.
    #[test]
    fn arbitrary_bytes_decode_or_give_decode_errors(
        body in prop::collection::vec(any::<u8>(), 0..400),
        status in status(),
    ) {
        for entity in ENTITIES {
            entity.decode_typed(status, &body)?;
        }
    }

    /// Arbitrary JSON documents (valid syntax, any shape): the same.
    #[test]
    fn arbitrary_json_decodes_or_gives_decode_errors(document in json_document(), status in status()) {
        let body = serde_json::to_vec(&document).expect("JSON");
        for entity in ENTITIES {
            entity.decode_typed(status, &body)?;
        }
    }

    /// Every fixture with one to four values swapped for another type, `null`, a respelled
    /// number, an unknown code, or removed: `Ok` that reads back identically after writing, or
    /// `Error::Decode` naming a path that exists in the document.
    #[test]
    fn fixtures_with_swapped_values_decode_or_name_the_path(
        fixture in prop::sample::select(entity_fixtures()),
        swaps in prop::collection::vec((any::<usize>(), swap()), 1..5),
    ) {
        let (name, entity, mut document) = fixture;
        for (nth, swap) in &swaps {
            apply_swap(&mut document, *nth, swap);
        }
        let body = serde_json::to_vec(&document).expect("JSON");
        match entity.decode(200, &body) {
            Ok((_, again)) => prop_assert!(again.is_ok(), "{name}: {}", again.unwrap_err()),
            Err(Error::Decode { path, status, .. }) => {
                prop_assert_eq!(status, 200);
                prop_assert!(!path.is_empty());
            }
            Err(other) => prop_assert!(false, "{name}: unexpected {other:?}"),
        }
        // Every other decoder is typed on it too.
        for other in ENTITIES {
            other.decode_typed(200, &body)?;
        }
    }

    /// Every fixture with `null` in place of any one optional value still decodes: Commerce
    /// writes an explicit `null` for a getter that returns nothing.
    #[test]
    fn explicit_nulls_are_absent_values(
        fixture in prop::sample::select(entity_fixtures()),
        nth in any::<usize>(),
    ) {
        let (name, entity, mut document) = fixture;
        let paths = value_paths(&document);
        let path = &paths[nth % paths.len()];
        // Any member of any object may be null; an entity inside a list may not.
        let member = matches!(path.last(), Some(PathStep::Key(_)));
        apply_swap(&mut document, nth, &Swap::Null);
        let body = serde_json::to_vec(&document).expect("JSON");
        let decoded = entity.decode(200, &body);
        if member {
            prop_assert!(
                decoded.is_ok(),
                "{}: null at {:?} is refused: {:?}",
                name,
                path,
                decoded.err().map(|e| (e.to_string(), std::error::Error::source(&e).map(ToString::to_string)))
            );
        }
    }

    /// Every fixture, its encoded bytes damaged: typed results only.
    #[test]
    fn damaged_fixture_bytes_give_typed_results(
        fixture in prop::sample::select(entity_fixtures()),
        mutations in prop::collection::vec(byte_mutation(), 1..5),
        status in status(),
    ) {
        let (_, _, document) = fixture;
        let mut body = serde_json::to_vec_pretty(&document).expect("JSON");
        for mutation in &mutations {
            apply_bytes(&mut body, mutation);
        }
        for entity in ENTITIES {
            entity.decode_typed(status, &body)?;
        }
    }

    /// Money written as a padded or plain string, or as a number, is the same Decimal; a
    /// timestamp written by the crate is read back to the same instant.
    #[test]
    fn money_spellings_and_timestamps_read_back(
        // At most 14 significant digits, so a JSON number (an f64 to serde_json) is exact.
        mantissa in -99_999_999_999_999i64..=99_999_999_999_999,
        scale in 0u32..=4,
        seconds in -2_208_988_800i64..=253_402_300_799,
    ) {
        let value = rust_decimal::Decimal::new(mantissa, scale);
        let mut order: Value = serde_json::from_slice(&fixture("resources/order_guest.json")).expect("JSON");
        let mut read = Vec::new();
        for spelling in [
            Value::String(value.to_string()),
            Value::String(format!("  {value}  ")),
            Value::String(if value.scale() == 0 { format!("{value}.00") } else { format!("{value}00") }),
            serde_json::from_str::<Value>(&value.to_string()).expect("a JSON number"),
        ] {
            order["grand_total"] = spelling.clone();
            let decoded: Order = decode_json(200, &serde_json::to_vec(&order).expect("JSON"))
                .map_err(|e| TestCaseError::fail(format!("{spelling}: {e}")))?;
            read.push(decoded.grand_total);
        }
        for total in &read {
            prop_assert_eq!(*total, Some(value));
        }

        let at = time::OffsetDateTime::from_unix_timestamp(seconds).expect("in range");
        let text = format_timestamp(at);
        prop_assert_eq!(parse_timestamp(&text), Ok(at));
        prop_assert_eq!(parse_timestamp(&format!(" {}T{}.250 ", &text[..10], &text[11..])), Ok(at));
    }

    /// Any text as a timestamp: parsed or a message naming the value; never a panic.
    #[test]
    fn timestamps_parse_or_name_the_value(text in "\\PC{0,30}|[0-9: T.-]{0,30}") {
        if let Err(message) = parse_timestamp(&text) {
            prop_assert!(message.contains(&text), "{message}");
        }
    }

    /// Paging arithmetic never panics and is `max(1, ceil(total / size))`.
    #[test]
    fn last_page_is_the_ceiling(total in any::<u64>(), size in any::<u32>()) {
        let pages = last_page(total, size);
        prop_assert!(pages >= 1);
        let size = u64::from(size.max(1));
        let expected = total.div_ceil(size).max(1);
        prop_assert_eq!(u64::from(pages), expected.min(u64::from(u32::MAX)));
    }
}

// ---- properties: error bodies -------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(CASES))]

    /// Any answer body with any status becomes an `ApiError` that keeps the status and the body
    /// (cut), and says something; Commerce's own format is rendered.
    #[test]
    fn error_bodies_are_always_read(
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300),
            json_document().prop_map(|d| serde_json::to_vec(&d).expect("JSON")),
            (prop::sample::select(other_fixtures()), prop::collection::vec(byte_mutation(), 0..4))
                .prop_map(|(mut b, m)| { for m in &m { apply_bytes(&mut b, m); } b }),
            (prop::sample::select(other_fixtures()), prop::collection::vec((any::<usize>(), swap()), 1..4))
                .prop_map(|(b, swaps)| {
                    let mut doc: Value = serde_json::from_slice(&b).expect("JSON fixture");
                    for (nth, swap) in &swaps { apply_swap(&mut doc, *nth, swap); }
                    serde_json::to_vec(&doc).expect("JSON")
                }),
        ],
        status in 100u16..=599,
        retry_after in prop::option::of(0u64..100_000),
    ) {
        let retry_after = retry_after.map(std::time::Duration::from_secs);
        let api = ApiError::from_response(status, &body, retry_after);
        prop_assert_eq!(api.status, status);
        prop_assert_eq!(api.retry_after, retry_after);
        if api.raw_message.is_none() {
            prop_assert!(!api.message.is_empty(), "a foreign body is described");
        }
        prop_assert!(api.body.len() <= MAX_KEPT_BODY_BYTES + 64);
        let error = Error::from(api);
        prop_assert_eq!(error.status(), Some(status));
        let _ = (error.is_retryable(), error.to_string(), format!("{error:?}"));
    }

    /// Placeholders: `%1`.. from an array and `%name` from an object are substituted, unknown
    /// ones kept; text without `%` is unchanged; never a panic.
    #[test]
    fn messages_render_their_placeholders(
        message in "[^%]{0,20}",
        name in "[a-z_]{1,8}",
        value in "[^%]{0,12}",
        noise in "\\PC{0,20}",
        parameters in prop::option::of(json_document()),
    ) {
        prop_assert_eq!(render_message(&message, parameters.as_ref()), message.clone());
        let with_name = format!("{message}%{name} end");
        let object = serde_json::json!({ name.clone(): value.clone() });
        prop_assert_eq!(render_message(&with_name, Some(&object)), format!("{message}{value} end"));
        let array = serde_json::json!([value.clone()]);
        prop_assert_eq!(render_message("%1.", Some(&array)), format!("{value}."));
        prop_assert_eq!(render_message("%2.", Some(&array)), "%2.".to_owned());
        let _ = render_message(&noise, parameters.as_ref());
    }
}

// ---- properties: webhooks -----------------------------------------------------------------------------

fn public_key_pem() -> &'static str {
    static PEM: OnceLock<String> = OnceLock::new();
    PEM.get_or_init(|| {
        let private = rsa::PrivateKey::new(&mut rand::rng(), 2048).expect("key pair");
        private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("pem")
    })
}

proptest! {
    #![proptest_config(config(CASES))]

    /// Webhook and event payloads, arbitrary or mutated from the recorded ones: parsed, or
    /// `WebhookError::Payload`/`MissingEntity`.
    #[test]
    fn webhook_payloads_parse_or_give_webhook_errors(
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300),
            json_document().prop_map(|d| serde_json::to_vec(&d).expect("JSON")),
            (prop::sample::select(other_fixtures()), prop::collection::vec(byte_mutation(), 0..4))
                .prop_map(|(mut b, m)| { for m in &m { apply_bytes(&mut b, m); } b }),
            (prop::sample::select(other_fixtures()), prop::collection::vec((any::<usize>(), swap()), 1..4))
                .prop_map(|(b, swaps)| {
                    let mut doc: Value = serde_json::from_slice(&b).expect("JSON fixture");
                    for (nth, swap) in &swaps { apply_swap(&mut doc, *nth, swap); }
                    serde_json::to_vec(&doc).expect("JSON")
                }),
        ],
    ) {
        for result in [
            parse_order_event(&body).map(|_| ()),
            parse_invoice_event(&body).map(|_| ()),
        ] {
            match result {
                Ok(())
                | Err(Error::Webhook(WebhookError::Payload { .. } | WebhookError::MissingEntity { .. })) => {}
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }

    /// Any signature header and body: `MissingSignature`, `SignatureEncoding` or
    /// `SignatureMismatch`, never a panic; any text as a key: `InvalidPublicKey` or a verifier.
    #[test]
    fn signatures_and_keys_give_webhook_errors(
        signature in prop::option::of(prop_oneof![
            "\\PC{0,40}",
            "[A-Za-z0-9+/]{0,400}={0,2}",
            prop::collection::vec(any::<u8>(), 0..300)
                .prop_map(|b| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b)),
        ]),
        body in prop::collection::vec(any::<u8>(), 0..200),
        key in prop_oneof![
            "\\PC{0,80}",
            (any::<usize>(), any::<u8>()).prop_map(|(at, b)| {
                let mut pem = public_key_pem().as_bytes().to_vec();
                let at = at % pem.len();
                pem[at] = b;
                String::from_utf8_lossy(&pem).into_owned()
            }),
        ],
    ) {
        let verifier = WebhookVerifier::new(public_key_pem(), SignedContent::Either)
            .expect("a valid key");
        match verifier.verify(signature.as_deref(), &body) {
            Err(Error::Webhook(
                WebhookError::MissingSignature
                | WebhookError::SignatureEncoding(_)
                | WebhookError::SignatureMismatch,
            )) => {}
            other => prop_assert!(false, "unexpected {other:?}"),
        }
        match WebhookVerifier::new(&key, SignedContent::RawBody) {
            Ok(_) | Err(Error::Webhook(WebhookError::InvalidPublicKey)) => {}
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }
}

/// Any JSON document, a few levels deep, with the keys the models read.
fn json_document() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "items",
        "total_count",
        "search_criteria",
        "entity_id",
        "increment_id",
        "grand_total",
        "created_at",
        "updated_at",
        "state",
        "status",
        "message",
        "parameters",
        "errors",
        "order",
        "invoice",
        "data",
        "value",
        "eventName",
        "extension_attributes",
        "addresses",
        "qty",
        "sku",
        "price",
        "product_type",
        "parent_item",
        "id",
        "x",
    ]);
    prop_oneof![scalar(), Just(Value::Null)].prop_recursive(4, 32, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..5).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

/// A custom attribute whose required `attribute_code` Commerce wrote as `null` reads as empty
/// instead of failing the whole product, customer or address.
#[test]
fn null_attribute_code_reads_as_empty() {
    let body = br#"{"id": 7, "sku": "AP-1", "custom_attributes": [
        {"attribute_code": null, "value": "x"},
        {"attribute_code": "syspro_customer_code", "value": "JDOE01"}
    ]}"#;
    let product: Product = decode_json(200, body).expect("decodes");
    assert_eq!(product.custom_attributes[0].attribute_code, "");
    assert_eq!(
        product.custom_attribute("syspro_customer_code"),
        Some(&Value::from("JDOE01"))
    );
}
