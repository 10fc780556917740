//! Webhook signatures (RSA PKCS#1 v1.5 SHA-256) over recorded payloads, and payload parsing.

use std::sync::OnceLock;

use adobe_commerce_client::webhook::{SIGNATURE_HEADER, parse_invoice_event, parse_order_event};
use adobe_commerce_client::{Error, SignedContent, WebhookError, WebhookReply, WebhookVerifier};
use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderValue};
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rust_decimal::Decimal;
use serde_json::json;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/transport");

struct Keys {
    private: rsa::PrivateKey,
    public_pem: String,
    other_public_pem: String,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand::rng();
        let private = rsa::PrivateKey::new(&mut rng, 2048).expect("key pair");
        let other = rsa::PrivateKey::new(&mut rng, 2048).expect("second key pair");
        let public_pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("pem");
        let other_public_pem = other
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("pem");
        Keys {
            private,
            public_pem,
            other_public_pem,
        }
    })
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).expect("fixture")
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// What Commerce sends: base64(RSA-SHA256(private key, base64(body))).
fn sign_base64_of_body(body: &[u8]) -> String {
    let signature = keys()
        .private
        .pkcs1v15_sign::<sha2::Sha256>(b64(body).as_bytes())
        .expect("sign");
    b64(&signature)
}

fn sign_raw_body(body: &[u8]) -> String {
    let signature = keys()
        .private
        .pkcs1v15_sign::<sha2::Sha256>(body)
        .expect("sign");
    b64(&signature)
}

fn headers(signature: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        SIGNATURE_HEADER,
        HeaderValue::from_str(signature).expect("ascii"),
    );
    headers
}

fn verifier(signed: SignedContent) -> WebhookVerifier {
    WebhookVerifier::new(&keys().public_pem, signed).expect("verifier")
}

#[test]
fn valid_signature_over_base64_of_body() {
    let body = fixture("webhook-order-place.json");
    let signature = sign_base64_of_body(&body);
    verifier(SignedContent::Base64OfBody)
        .verify_request(&headers(&signature), &body)
        .expect("valid");
    verifier(SignedContent::Either)
        .verify_request(&headers(&signature), &body)
        .expect("valid either way");
    // The same signature is not valid for the raw-body reading.
    assert!(matches!(
        verifier(SignedContent::RawBody).verify_request(&headers(&signature), &body),
        Err(Error::Webhook(WebhookError::SignatureMismatch))
    ));
}

#[test]
fn valid_signature_over_raw_body() {
    let body = fixture("webhook-order-place.json");
    let signature = sign_raw_body(&body);
    verifier(SignedContent::RawBody)
        .verify(Some(&signature), &body)
        .expect("valid");
    verifier(SignedContent::Either)
        .verify(Some(&signature), &body)
        .expect("valid either way");
}

#[test]
fn tampered_body_is_rejected() {
    let body = fixture("webhook-order-place.json");
    let signature = sign_base64_of_body(&body);
    let tampered = String::from_utf8(body)
        .expect("utf-8")
        .replace("\"grand_total\": 104.59", "\"grand_total\": 1.59")
        .into_bytes();
    assert!(matches!(
        verifier(SignedContent::Either).verify_request(&headers(&signature), &tampered),
        Err(Error::Webhook(WebhookError::SignatureMismatch))
    ));
}

#[test]
fn wrong_key_is_rejected() {
    let body = fixture("webhook-order-place.json");
    let signature = sign_base64_of_body(&body);
    let other = WebhookVerifier::new(&keys().other_public_pem, SignedContent::Either).expect("key");
    assert!(matches!(
        other.verify_request(&headers(&signature), &body),
        Err(Error::Webhook(WebhookError::SignatureMismatch))
    ));
}

#[test]
fn missing_and_malformed_headers_are_told_apart() {
    let body = fixture("webhook-order-place.json");
    let verifier = verifier(SignedContent::Base64OfBody);
    assert!(matches!(
        verifier.verify_request(&HeaderMap::new(), &body),
        Err(Error::Webhook(WebhookError::MissingSignature))
    ));
    assert!(matches!(
        verifier.verify_request(&headers("not base64 at all!"), &body),
        Err(Error::Webhook(WebhookError::SignatureEncoding(_)))
    ));
    assert!(matches!(
        WebhookVerifier::new(
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
            SignedContent::RawBody
        ),
        Err(Error::Webhook(WebhookError::InvalidPublicKey))
    ));
}

#[test]
fn keys_pasted_with_escaped_newlines_are_accepted() {
    let escaped = keys().public_pem.replace('\n', "\\n");
    let body = br#"{"order":{}}"#;
    WebhookVerifier::new(&escaped, SignedContent::Base64OfBody)
        .expect("escaped key")
        .verify(Some(&sign_base64_of_body(body)), body)
        .expect("valid");
}

#[test]
fn order_fixture_parses_with_decimals_and_unknown_fields() {
    let body = fixture("webhook-order-place.json");
    let event = parse_order_event(&body).expect("order");
    let order = &event.entity;
    assert_eq!(order.increment_id.as_deref(), Some("000000123"));
    assert_eq!(order.entity_id, Some(123));
    assert_eq!(order.grand_total, Some(Decimal::new(10459, 2)));
    assert_eq!(order.base_grand_total, Some(Decimal::new(1045900, 4)));
    assert_eq!(order.items.len(), 2);
    assert_eq!(order.items[1].parent_item_id, Some(11));
    assert_eq!(order.other["payment"]["method"], json!("checkmo"));
    assert_eq!(order.other["addresses"][0]["postcode"], json!(78768));
}

#[test]
fn invoice_fixture_parses_from_an_io_event() {
    let body = fixture("event-invoice-save-after.json");
    let event = parse_invoice_event(&body).expect("invoice");
    assert_eq!(
        event.event_name.as_deref(),
        Some("com.adobe.commerce.observer.sales_order_invoice_save_after")
    );
    let invoice = &event.entity;
    assert_eq!(invoice.entity_id, Some(31));
    assert_eq!(invoice.order_id, Some(123));
    assert_eq!(invoice.grand_total, Some(Decimal::new(104_590_000, 6)));
    assert_eq!(invoice.items[0].qty, Some(Decimal::new(1, 0)));
    assert_eq!(
        event.payload["data"]["_metadata"]["commerceEdition"],
        json!("Adobe Commerce")
    );
}

#[test]
fn replies() {
    assert_eq!(WebhookReply::success().to_json(), json!({"op": "success"}));
    assert_eq!(
        WebhookReply::exception("The order cannot be placed.").to_json(),
        json!({"op": "exception", "message": "The order cannot be placed."})
    );
}
