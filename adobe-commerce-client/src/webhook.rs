//! Adobe Commerce Webhooks: signature verification, order and invoice payloads, and replies.
//!
//! Commerce signs each webhook request with its private key (RSA PKCS#1 v1.5, SHA-256) and sends the
//! base64 signature in `x-adobe-commerce-webhook-signature`. Adobe's documentation and samples verify
//! it over the *base64 encoding* of the body, while a plain reading of "signature of the request
//! body" gives the raw bytes; [`SignedContent`] makes that choice explicit.
//!
//! Payloads are not the REST API's typed JSON: decimals and ids arrive as strings or numbers,
//! depending on the event and version, so every numeric field here is read leniently and every field
//! not modelled stays reachable as JSON.

use base64::Engine as _;
use reqwest::header::HeaderMap;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, WebhookError};

/// Header carrying Commerce's webhook signature.
pub const SIGNATURE_HEADER: &str = "x-adobe-commerce-webhook-signature";

/// Header carrying Commerce's id for one webhook request.
pub const REQUEST_ID_HEADER: &str = "x-adobe-commerce-request-id";

/// Which bytes the signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedContent {
    /// The base64 encoding of the raw body, as Adobe's documentation and sample verifiers do.
    Base64OfBody,
    /// The raw body bytes.
    RawBody,
    /// Either of the above (base64 first); for installations whose behaviour is not known yet.
    Either,
}

/// Verifies webhook signatures with the public key shown in the Commerce Admin.
#[derive(Debug, Clone)]
pub struct WebhookVerifier {
    key: rsa::PublicKey,
    signed: SignedContent,
}

impl WebhookVerifier {
    /// A verifier for a PEM public key (`BEGIN PUBLIC KEY` SPKI, or `BEGIN RSA PUBLIC KEY` PKCS#1).
    /// Keys pasted with literal `\n` sequences are accepted.
    ///
    /// # Errors
    /// [`WebhookError::InvalidPublicKey`] when the text is not an RSA public key.
    pub fn new(public_key_pem: &str, signed: SignedContent) -> Result<Self, Error> {
        use rsa::pkcs1::DecodeRsaPublicKey as _;
        use rsa::pkcs8::DecodePublicKey as _;
        let pem = if public_key_pem.contains('\n') {
            public_key_pem.trim().to_owned()
        } else {
            public_key_pem.replace("\\n", "\n").trim().to_owned()
        };
        let key = rsa::PublicKey::from_public_key_pem(&pem)
            .or_else(|_| rsa::PublicKey::from_pkcs1_pem(&pem))
            .map_err(|_| WebhookError::InvalidPublicKey)?;
        Ok(WebhookVerifier { key, signed })
    }

    /// Checks the signature header value against the raw body.
    ///
    /// # Errors
    /// [`WebhookError::MissingSignature`], [`WebhookError::SignatureEncoding`] or
    /// [`WebhookError::SignatureMismatch`].
    pub fn verify(&self, signature: Option<&str>, body: &[u8]) -> Result<(), Error> {
        self.verify_bytes(signature.map(str::as_bytes), body)
    }

    /// Checks a request given its headers and raw body.
    ///
    /// # Errors
    /// As [`WebhookVerifier::verify`].
    pub fn verify_request(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), Error> {
        self.verify_bytes(
            headers.get(SIGNATURE_HEADER).map(|value| value.as_bytes()),
            body,
        )
    }

    fn verify_bytes(&self, signature: Option<&[u8]>, body: &[u8]) -> Result<(), Error> {
        let signature = signature
            .map(<[u8]>::trim_ascii)
            .filter(|s| !s.is_empty())
            .ok_or(WebhookError::MissingSignature)?;
        let signature = base64::engine::general_purpose::STANDARD
            .decode(signature)
            .map_err(WebhookError::SignatureEncoding)?;
        let check = |message: &[u8]| {
            self.key
                .pkcs1v15_verify::<sha2::Sha256>(message, &signature)
                .is_ok()
        };
        let base64_body = || base64::engine::general_purpose::STANDARD.encode(body);
        let valid = match self.signed {
            SignedContent::Base64OfBody => check(base64_body().as_bytes()),
            SignedContent::RawBody => check(body),
            SignedContent::Either => check(base64_body().as_bytes()) || check(body),
        };
        if valid {
            Ok(())
        } else {
            Err(WebhookError::SignatureMismatch.into())
        }
    }
}

// ---- payloads ------------------------------------------------------------------------------------

/// Deserializers for fields that arrive as a number or a string.
pub mod lenient {
    use std::fmt;
    use std::str::FromStr;

    use rust_decimal::Decimal;
    use serde::de::{self, Deserializer, Visitor};

    struct Lenient<T>(std::marker::PhantomData<T>);

    /// What the visitor produces from each JSON form.
    trait FromLenient: Sized {
        const EXPECTED: &'static str;
        fn from_text(text: &str) -> Option<Self>;
        fn from_u64(value: u64) -> Option<Self>;
        fn from_i64(value: i64) -> Option<Self>;
        fn from_f64(value: f64) -> Option<Self>;
    }

    impl FromLenient for Decimal {
        const EXPECTED: &'static str = "a decimal number or a string holding one";
        fn from_text(text: &str) -> Option<Self> {
            Decimal::from_str(text)
                .or_else(|_| Decimal::from_scientific(text))
                .ok()
        }
        fn from_u64(value: u64) -> Option<Self> {
            Some(Decimal::from(value))
        }
        fn from_i64(value: i64) -> Option<Self> {
            Some(Decimal::from(value))
        }
        fn from_f64(value: f64) -> Option<Self> {
            // The shortest text that round-trips is what the sender wrote (104.59, not 104.5899…).
            Self::from_text(&value.to_string())
        }
    }

    impl FromLenient for u64 {
        const EXPECTED: &'static str = "a non-negative integer or a string holding one";
        fn from_text(text: &str) -> Option<Self> {
            text.parse().ok()
        }
        fn from_u64(value: u64) -> Option<Self> {
            Some(value)
        }
        fn from_i64(value: i64) -> Option<Self> {
            u64::try_from(value).ok()
        }
        fn from_f64(value: f64) -> Option<Self> {
            (value.fract() == 0.0 && (0.0..9.0e15).contains(&value)).then_some(value as u64)
        }
    }

    impl FromLenient for String {
        const EXPECTED: &'static str = "a string or a number";
        fn from_text(text: &str) -> Option<Self> {
            Some(text.to_owned())
        }
        fn from_u64(value: u64) -> Option<Self> {
            Some(value.to_string())
        }
        fn from_i64(value: i64) -> Option<Self> {
            Some(value.to_string())
        }
        fn from_f64(value: f64) -> Option<Self> {
            Some(value.to_string())
        }
    }

    impl<'de, T: FromLenient> Visitor<'de> for Lenient<T> {
        type Value = Option<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(T::EXPECTED)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let text = v.trim();
            if text.is_empty() {
                return Ok(None);
            }
            T::from_text(text)
                .map(Some)
                .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            T::from_u64(v)
                .map(Some)
                .ok_or_else(|| E::invalid_value(de::Unexpected::Unsigned(v), &self))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            T::from_i64(v)
                .map(Some)
                .ok_or_else(|| E::invalid_value(de::Unexpected::Signed(v), &self))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            T::from_f64(v)
                .map(Some)
                .ok_or_else(|| E::invalid_value(de::Unexpected::Float(v), &self))
        }
    }

    /// An optional decimal from a number, a numeric string, `""` or `null`.
    ///
    /// # Errors
    /// When the value is neither.
    pub fn opt_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        d.deserialize_any(Lenient::<Decimal>(std::marker::PhantomData))
    }

    /// An optional id from a number, a numeric string, `""` or `null`.
    ///
    /// # Errors
    /// When the value is neither.
    pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        d.deserialize_any(Lenient::<u64>(std::marker::PhantomData))
    }

    /// An optional text from a string or a number (postcodes, increment ids, states).
    ///
    /// # Errors
    /// When the value is an array or object.
    pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_any(Lenient::<String>(std::marker::PhantomData))
    }

    /// A required unsigned integer from a number or a numeric string.
    ///
    /// # Errors
    /// When the value is missing, null or not numeric.
    pub fn u64_from_number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        opt_u64(d)?.ok_or_else(|| de::Error::custom("expected a number, found null or \"\""))
    }
}

/// An order as webhook and event payloads carry it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OrderPayload {
    /// Commerce's internal order id.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub entity_id: Option<u64>,
    /// The customer-facing order number.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub increment_id: Option<String>,
    /// Order state (`new`, `processing`, ...).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub state: Option<String>,
    /// Order status (configurable per store).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub status: Option<String>,
    /// Store view id.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub store_id: Option<u64>,
    /// Customer id; absent for guest orders.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub customer_id: Option<u64>,
    /// Customer e-mail.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub customer_email: Option<String>,
    /// Currency of the order amounts.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub order_currency_code: Option<String>,
    /// Currency of the `base_*` amounts.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub base_currency_code: Option<String>,
    /// Grand total in order currency.
    #[serde(default, deserialize_with = "lenient::opt_decimal")]
    pub grand_total: Option<Decimal>,
    /// Grand total in base currency.
    #[serde(default, deserialize_with = "lenient::opt_decimal")]
    pub base_grand_total: Option<Decimal>,
    /// Subtotal in order currency.
    #[serde(default, deserialize_with = "lenient::opt_decimal")]
    pub subtotal: Option<Decimal>,
    /// Tax in order currency.
    #[serde(default, deserialize_with = "lenient::opt_decimal")]
    pub tax_amount: Option<Decimal>,
    /// Shipping in order currency.
    #[serde(default, deserialize_with = "lenient::opt_decimal")]
    pub shipping_amount: Option<Decimal>,
    /// Discount in order currency (negative in Commerce).
    #[serde(default, deserialize_with = "lenient::opt_decimal")]
    pub discount_amount: Option<Decimal>,
    /// Creation time as sent (`YYYY-MM-DD HH:MM:SS`, UTC).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub created_at: Option<String>,
    /// Last update time as sent.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub updated_at: Option<String>,
    /// Order lines, parents and children alike.
    #[serde(default)]
    pub items: Vec<OrderItemPayload>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// An order line in a webhook payload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OrderItemPayload {
    /// Line id.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub item_id: Option<u64>,
    /// Parent line id, for children of configurable and bundle products.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub parent_item_id: Option<u64>,
    /// SKU.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub sku: Option<String>,
    /// Product name.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
    /// Product type (`simple`, `configurable`, `bundle`, ...).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub product_type: Option<String>,
    /// Quantity ordered.
    #[serde(default, deserialize_with = "lenient::opt_decimal")]
    pub qty_ordered: Option<Decimal>,
    /// Unit price in order currency.
    #[serde(default, deserialize_with = "lenient::opt_decimal")]
    pub price: Option<Decimal>,
    /// Row total in order currency.
    #[serde(default, deserialize_with = "lenient::opt_decimal")]
    pub row_total: Option<Decimal>,
    /// Tax of the line.
    #[serde(default, deserialize_with = "lenient::opt_decimal")]
    pub tax_amount: Option<Decimal>,
    /// Discount of the line.
    #[serde(default, deserialize_with = "lenient::opt_decimal")]
    pub discount_amount: Option<Decimal>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// An invoice as webhook and event payloads carry it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct InvoicePayload {
    /// Commerce's internal invoice id.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub entity_id: Option<u64>,
    /// The customer-facing invoice number.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub increment_id: Option<String>,
    /// The invoiced order's internal id.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub order_id: Option<u64>,
    /// Invoice state code (1 open, 2 paid, 3 cancelled), as text.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub state: Option<String>,
    /// Store view id.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub store_id: Option<u64>,
    /// Currency of the invoice amounts.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub order_currency_code: Option<String>,
    /// Grand total in order currency.
    #[serde(default, deserialize_with = "lenient::opt_decimal")]
    pub grand_total: Option<Decimal>,
    /// Grand total in base currency.
    #[serde(default, deserialize_with = "lenient::opt_decimal")]
    pub base_grand_total: Option<Decimal>,
    /// Subtotal in order currency.
    #[serde(default, deserialize_with = "lenient::opt_decimal")]
    pub subtotal: Option<Decimal>,
    /// Tax in order currency.
    #[serde(default, deserialize_with = "lenient::opt_decimal")]
    pub tax_amount: Option<Decimal>,
    /// Shipping in order currency.
    #[serde(default, deserialize_with = "lenient::opt_decimal")]
    pub shipping_amount: Option<Decimal>,
    /// Discount in order currency.
    #[serde(default, deserialize_with = "lenient::opt_decimal")]
    pub discount_amount: Option<Decimal>,
    /// Creation time as sent.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub created_at: Option<String>,
    /// Last update time as sent.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub updated_at: Option<String>,
    /// Invoice lines.
    #[serde(default)]
    pub items: Vec<InvoiceItemPayload>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// An invoice line in a webhook payload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct InvoiceItemPayload {
    /// Line id.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub entity_id: Option<u64>,
    /// The order line this invoices.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub order_item_id: Option<u64>,
    /// SKU.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub sku: Option<String>,
    /// Product name.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
    /// Quantity invoiced.
    #[serde(default, deserialize_with = "lenient::opt_decimal")]
    pub qty: Option<Decimal>,
    /// Unit price.
    #[serde(default, deserialize_with = "lenient::opt_decimal")]
    pub price: Option<Decimal>,
    /// Row total.
    #[serde(default, deserialize_with = "lenient::opt_decimal")]
    pub row_total: Option<Decimal>,
    /// Tax of the line.
    #[serde(default, deserialize_with = "lenient::opt_decimal")]
    pub tax_amount: Option<Decimal>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// One parsed webhook or event: its name when the envelope has one, the entity, and the whole
/// payload for anything not modelled.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent<T> {
    /// `eventName` (webhook observer payloads) or `type` (I/O Events CloudEvents).
    pub event_name: Option<String>,
    /// The entity.
    pub entity: T,
    /// The whole payload as received.
    pub payload: Value,
}

/// Parses an order webhook or event in any of the shapes Commerce sends: `{"order": ..}` (plugin
/// hooks), `{"eventName": .., "data": {"order": ..}}` (observer hooks) or a CloudEvent with
/// `data.value` (I/O Events).
///
/// # Errors
/// [`WebhookError::Payload`] naming the JSON path, or [`WebhookError::MissingEntity`].
pub fn parse_order_event(body: &[u8]) -> Result<WebhookEvent<OrderPayload>, Error> {
    parse_event(body, "order")
}

/// Parses an invoice webhook or event (same shapes as [`parse_order_event`], key `invoice`).
///
/// # Errors
/// [`WebhookError::Payload`] naming the JSON path, or [`WebhookError::MissingEntity`].
pub fn parse_invoice_event(body: &[u8]) -> Result<WebhookEvent<InvoicePayload>, Error> {
    parse_event(body, "invoice")
}

fn parse_event<T: serde::de::DeserializeOwned>(
    body: &[u8],
    entity: &'static str,
) -> Result<WebhookEvent<T>, Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let payload: Value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        WebhookError::Payload {
            path,
            source: e.into_inner(),
        }
    })?;
    let candidates = [
        format!("/data/{entity}"),
        format!("/{entity}"),
        "/data/value".to_owned(),
    ];
    let (pointer, found) = candidates
        .iter()
        .find_map(|p| {
            payload
                .pointer(p)
                .filter(|v| v.is_object())
                .map(|v| (p.as_str(), v))
        })
        .ok_or(WebhookError::MissingEntity { entity })?;
    let entity_value: T = serde_path_to_error::deserialize(found).map_err(|e| {
        let prefix = pointer.trim_start_matches('/').replace('/', ".");
        let inner = e.path().to_string();
        let path = if inner == "." {
            prefix
        } else {
            format!("{prefix}.{inner}")
        };
        WebhookError::Payload {
            path,
            source: e.into_inner(),
        }
    })?;
    let event_name = ["/eventName", "/type"]
        .iter()
        .find_map(|p| payload.pointer(p).and_then(Value::as_str))
        .map(str::to_owned);
    Ok(WebhookEvent {
        event_name,
        entity: entity_value,
        payload,
    })
}

// ---- replies ---------------------------------------------------------------------------------------

/// One operation of a webhook reply; paths use `/`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum WebhookOperation {
    /// Let Commerce continue.
    Success,
    /// Make Commerce throw, aborting the action of a required hook.
    Exception {
        /// PHP exception class to throw; Commerce's default when absent.
        #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
        exception_class: Option<String>,
        /// Message shown; the hook's `fallbackErrorMessage` when absent.
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Add a value at a path of the hooked method's data.
    Add {
        /// Target path, e.g. `result`.
        path: String,
        /// The value to add.
        value: Value,
        /// Optional DataObject class to instantiate.
        #[serde(skip_serializing_if = "Option::is_none")]
        instance: Option<String>,
    },
    /// Replace the value at a path.
    Replace {
        /// Target path, e.g. `result/shipping_methods/x/amount`.
        path: String,
        /// The new value.
        value: Value,
        /// Optional DataObject class to instantiate.
        #[serde(skip_serializing_if = "Option::is_none")]
        instance: Option<String>,
    },
    /// Remove the value at a path.
    Remove {
        /// Target path.
        path: String,
    },
}

/// The body of a webhook reply (sent with HTTP 200): one operation object, or an array of them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WebhookReply {
    operations: Vec<WebhookOperation>,
}

impl WebhookReply {
    /// `{"op":"success"}`.
    pub fn success() -> Self {
        WebhookReply::default().then(WebhookOperation::Success)
    }

    /// `{"op":"exception","message":..}`.
    pub fn exception(message: impl Into<String>) -> Self {
        WebhookReply::default().then(WebhookOperation::Exception {
            exception_class: None,
            message: Some(message.into()),
        })
    }

    /// `{"op":"exception","type":..,"message":..}`.
    pub fn exception_of_type(class: impl Into<String>, message: impl Into<String>) -> Self {
        WebhookReply::default().then(WebhookOperation::Exception {
            exception_class: Some(class.into()),
            message: Some(message.into()),
        })
    }

    /// Appends an operation.
    pub fn then(mut self, operation: WebhookOperation) -> Self {
        self.operations.push(operation);
        self
    }

    /// The operations in order.
    pub fn operations(&self) -> &[WebhookOperation] {
        &self.operations
    }

    /// The JSON body: a single operation as an object, several as an array, none as success.
    pub fn to_json(&self) -> Value {
        let encode = |op: &WebhookOperation| {
            serde_json::to_value(op).unwrap_or_else(|_| unreachable!("operations are plain JSON"))
        };
        match self.operations.as_slice() {
            [] => encode(&WebhookOperation::Success),
            [one] => encode(one),
            many => Value::Array(many.iter().map(encode).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::prelude::FromStr;
    use serde_json::json;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    #[test]
    fn plugin_shape_with_mixed_number_types() {
        let body = json!({"order": {
            "entity_id": "17", "increment_id": 100000017, "grand_total": 104.59,
            "base_grand_total": "104.5900", "store_id": 1, "tax_amount": "",
            "items": [{"item_id": 5, "sku": "MH01-XS-Black", "qty_ordered": "2.0000",
                       "price": 52.295, "extension_attributes": {"x": 1}}],
            "addresses": [{"postcode": 78768, "region_id": "57"}]
        }});
        let event = parse_order_event(body.to_string().as_bytes()).expect("parsed");
        let order = event.entity;
        assert_eq!(order.entity_id, Some(17));
        assert_eq!(order.increment_id.as_deref(), Some("100000017"));
        assert_eq!(order.grand_total, Some(dec("104.59")));
        assert_eq!(order.base_grand_total, Some(dec("104.5900")));
        assert_eq!(order.tax_amount, None);
        assert_eq!(order.items[0].qty_ordered, Some(dec("2")));
        assert_eq!(order.items[0].price, Some(dec("52.295")));
        assert_eq!(
            order.items[0].other["extension_attributes"],
            json!({"x": 1})
        );
        assert_eq!(order.other["addresses"][0]["postcode"], json!(78768));
        assert_eq!(event.event_name, None);
    }

    #[test]
    fn observer_and_io_event_shapes() {
        let observer = json!({"subject": [], "eventName": "sales_order_invoice_save_after",
            "data": {"invoice": {"entity_id": 3, "order_id": "9", "grand_total": "10.00"}}});
        let event = parse_invoice_event(observer.to_string().as_bytes()).expect("observer");
        assert_eq!(
            event.event_name.as_deref(),
            Some("sales_order_invoice_save_after")
        );
        assert_eq!(event.entity.order_id, Some(9));
        assert_eq!(event.entity.grand_total, Some(dec("10.00")));

        let cloud = json!({"specversion": "1.0",
            "type": "com.adobe.commerce.observer.sales_order_save_commit_after",
            "data": {"key": "k", "value": {"entity_id": "42", "grand_total": "32444.000000"},
                     "_metadata": {"storeId": "1"}}});
        let event = parse_order_event(cloud.to_string().as_bytes()).expect("cloud event");
        assert_eq!(
            event.event_name.as_deref(),
            Some("com.adobe.commerce.observer.sales_order_save_commit_after")
        );
        assert_eq!(event.entity.entity_id, Some(42));
        assert_eq!(event.entity.grand_total, Some(dec("32444.000000")));
        assert_eq!(event.payload["data"]["_metadata"]["storeId"], json!("1"));
    }

    #[test]
    fn payload_errors_name_the_path() {
        let body = json!({"order": {"items": [{"qty_ordered": "lots"}]}});
        match parse_order_event(body.to_string().as_bytes()) {
            Err(Error::Webhook(WebhookError::Payload { path, .. })) => {
                assert_eq!(path, "order.items[0].qty_ordered");
            }
            other => panic!("expected a payload error, got {other:?}"),
        }
        assert!(matches!(
            parse_order_event(br#"{"invoice":{}}"#),
            Err(Error::Webhook(WebhookError::MissingEntity {
                entity: "order"
            }))
        ));
        assert!(matches!(
            parse_order_event(b"not json"),
            Err(Error::Webhook(WebhookError::Payload { .. }))
        ));
    }

    #[test]
    fn replies_follow_the_documented_shapes() {
        assert_eq!(WebhookReply::success().to_json(), json!({"op": "success"}));
        assert_eq!(
            WebhookReply::exception("Out of stock").to_json(),
            json!({"op": "exception", "message": "Out of stock"})
        );
        assert_eq!(
            WebhookReply::exception_of_type(
                "Magento\\Framework\\Exception\\LocalizedException",
                "No"
            )
            .to_json(),
            json!({"op": "exception",
                   "type": "Magento\\Framework\\Exception\\LocalizedException", "message": "No"})
        );
        let many = WebhookReply::default()
            .then(WebhookOperation::Add {
                path: "result".into(),
                value: json!({"a": 1}),
                instance: Some("Magento\\Quote\\Api\\Data\\ShippingMethodInterface".into()),
            })
            .then(WebhookOperation::Replace {
                path: "result/shipping_methods/x/amount".into(),
                value: json!(6),
                instance: None,
            })
            .then(WebhookOperation::Remove {
                path: "result/key2".into(),
            });
        assert_eq!(
            many.to_json(),
            json!([
                {"op": "add", "path": "result", "value": {"a": 1},
                 "instance": "Magento\\Quote\\Api\\Data\\ShippingMethodInterface"},
                {"op": "replace", "path": "result/shipping_methods/x/amount", "value": 6},
                {"op": "remove", "path": "result/key2"}
            ])
        );
    }

    #[test]
    fn invalid_keys_are_rejected() {
        assert!(matches!(
            WebhookVerifier::new(
                "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----",
                SignedContent::RawBody
            ),
            Err(Error::Webhook(WebhookError::InvalidPublicKey))
        ));
    }
}
