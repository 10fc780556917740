//! The webhook sender: an RSA 2048 key pair made at start, observer-style payloads carrying raw model
//! data (numbers as strings, as Commerce's event payloads do), and the
//! `x-adobe-commerce-webhook-signature` header: base64 of an RSA PKCS#1 v1.5 SHA-256 signature over the
//! base64-encoded request body.

use base64::Engine;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::sha2::Sha256;
use rsa::{PrivateKey, PublicKey};
use serde_json::{Map, Value, json};

/// The signing key and its public half as PEM (SubjectPublicKeyInfo).
pub(crate) struct WebhookKey {
    private: PrivateKey,
    public_pem: String,
}

impl std::fmt::Debug for WebhookKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookKey")
            .field("private", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl WebhookKey {
    /// Generates a fresh key pair (slow: run it off the async threads).
    pub(crate) fn generate() -> std::io::Result<Self> {
        let mut rng = rand::rng();
        let private = PrivateKey::new(&mut rng, 2048)
            .map_err(|e| std::io::Error::other(format!("RSA key generation failed: {e}")))?;
        let public = PublicKey::from(&private);
        let public_pem = public
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| std::io::Error::other(format!("RSA public key encoding failed: {e}")))?;
        Ok(Self {
            private,
            public_pem,
        })
    }

    pub(crate) fn public_pem(&self) -> &str {
        &self.public_pem
    }

    /// The header value for a body.
    pub(crate) fn signature(&self, body: &[u8]) -> std::io::Result<String> {
        let signed = base64::engine::general_purpose::STANDARD.encode(body);
        let sig = self
            .private
            .pkcs1v15_sign::<Sha256>(signed.as_bytes())
            .map_err(|e| std::io::Error::other(format!("RSA signing failed: {e}")))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(sig))
    }
}

/// Keys whose numbers are integers in the model (ids and flags); every other number is a decimal.
fn is_integer_key(key: &str) -> bool {
    key == "id"
        || key.ends_with("_id")
        || matches!(
            key,
            "customer_is_guest"
                | "email_sent"
                | "is_virtual"
                | "total_item_count"
                | "is_customer_notified"
                | "is_visible_on_front"
                | "is_qty_decimal"
                | "no_discount"
                | "free_shipping"
                | "customer_gender"
                | "customer_note_notify"
                | "can_void_flag"
                | "is_used_for_refund"
                | "state"
                | "option_qty"
        )
}

/// Turns REST JSON into raw model data: ids and flags become integer strings, amounts become strings
/// with four decimals (`"165.0000"`), as stored in Commerce's decimal(20,4) columns.
pub(crate) fn raw_model(value: &Value, key: &str) -> Value {
    match value {
        Value::Number(n) => {
            if is_integer_key(key) {
                Value::String(n.to_string())
            } else {
                let d: rust_decimal::Decimal = n.to_string().parse().unwrap_or_default();
                Value::String(format!("{:.4}", d))
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| raw_model(v, key)).collect()),
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                if k == "extension_attributes" || k == "parent_item" {
                    continue;
                }
                out.insert(k.clone(), raw_model(v, k));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// An observer event payload: `{"subject": [], "eventName": ..., "data": {"order"|"invoice": {...}}}`.
pub(crate) fn payload(event: &str, entity_key: &str, entity: &Value) -> Value {
    json!({
        "subject": [],
        "eventName": event,
        "data": { entity_key: raw_model(entity, entity_key) },
    })
}

/// The outcome of one delivery, kept for `/__sim/webhooks`.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct Delivery {
    pub request_id: String,
    pub event: String,
    pub url: String,
    /// HTTP status of the receiver's answer, or `None` when it could not be reached.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub response: Option<String>,
}

/// Posts a signed payload and records what happened.
pub(crate) async fn deliver(
    client: &reqwest::Client,
    key: &WebhookKey,
    url: &str,
    request_id: String,
    event: &str,
    body: Vec<u8>,
) -> Delivery {
    let mut delivery = Delivery {
        request_id: request_id.clone(),
        event: event.to_owned(),
        url: url.to_owned(),
        status: None,
        error: None,
        response: None,
    };
    let signature = match key.signature(&body) {
        Ok(s) => s,
        Err(e) => {
            delivery.error = Some(e.to_string());
            return delivery;
        }
    };
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-adobe-commerce-request-id", request_id)
        .header("x-adobe-commerce-webhook-signature", signature)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(resp) => {
            delivery.status = Some(resp.status().as_u16());
            delivery.response = resp.text().await.ok();
        }
        Err(e) => delivery.error = Some(e.to_string()),
    }
    delivery
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_model_stringifies_numbers() {
        let v = json!({"entity_id": 3, "grand_total": 165, "items": [{"item_id": 7, "price": 19.99, "qty_ordered": 1}], "extension_attributes": {}});
        let raw = raw_model(&v, "order");
        assert_eq!(
            raw,
            json!({"entity_id": "3", "grand_total": "165.0000", "items": [{"item_id": "7", "price": "19.9900", "qty_ordered": "1.0000"}]})
        );
    }
}
