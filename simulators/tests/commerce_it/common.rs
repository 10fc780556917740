//! Helpers shared by the Commerce simulator tests: an OAuth 1.0a signer written from RFC 5849 (so the
//! simulator's Magento-style verifier is checked against a second reading) and small request helpers.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use hmac::{KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use simulators::commerce::{CommerceOAuth, CommerceSim, CommerceSimConfig};

const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub fn enc(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// Encodes query pairs with `%20` for spaces, as a careful client does.
pub fn query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `searchCriteria[...]` pairs from short suffixes, e.g. `("[pageSize]", "5")`.
pub fn sc(pairs: &[(&str, &str)]) -> String {
    let full: Vec<(String, &str)> = pairs
        .iter()
        .map(|(k, v)| (format!("searchCriteria{k}"), *v))
        .collect();
    let refs: Vec<(&str, &str)> = full.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    query(&refs)
}

#[allow(clippy::disallowed_methods)]
pub fn unix_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
    .unwrap_or(0)
}

static NONCE: AtomicU64 = AtomicU64::new(1);

pub fn fresh_nonce() -> String {
    format!("t{:031}", NONCE.fetch_add(1, Ordering::Relaxed))
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Builds an `Authorization: OAuth ...` header for a request.
pub struct Signing<'a> {
    pub creds: &'a CommerceOAuth,
    pub method: &'a str,
    /// `http://127.0.0.1:PORT/rest/V1/orders` (no query).
    pub url: &'a str,
    /// The raw query string as sent.
    pub query: &'a str,
    pub nonce: String,
    pub timestamp: i64,
    pub signature_method: &'a str,
}

impl Signing<'_> {
    pub fn header(&self) -> String {
        let mut params: Vec<(String, String)> = vec![
            ("oauth_consumer_key".into(), self.creds.consumer_key.clone()),
            ("oauth_nonce".into(), self.nonce.clone()),
            (
                "oauth_signature_method".into(),
                self.signature_method.to_owned(),
            ),
            ("oauth_timestamp".into(), self.timestamp.to_string()),
            ("oauth_token".into(), self.creds.access_token.clone()),
            ("oauth_version".into(), "1.0".into()),
        ];
        let oauth_part = params.clone();
        for piece in self.query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
            params.push((decode(k), decode(v)));
        }
        let mut encoded: Vec<(String, String)> =
            params.iter().map(|(k, v)| (enc(k), enc(v))).collect();
        encoded.sort();
        let normalized = encoded
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let base = format!("{}&{}&{}", self.method, enc(self.url), enc(&normalized));
        let key = format!(
            "{}&{}",
            enc(&self.creds.consumer_secret),
            enc(&self.creds.access_token_secret)
        );
        let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key.as_bytes())
            .expect("hmac key");
        mac.update(base.as_bytes());
        let signature =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let mut parts: Vec<String> = oauth_part
            .iter()
            .map(|(k, v)| format!("{}=\"{}\"", enc(k), enc(v)))
            .collect();
        parts.push(format!("oauth_signature=\"{}\"", enc(&signature)));
        format!("OAuth {}", parts.join(", "))
    }
}

pub async fn start(orders: usize) -> CommerceSim {
    start_with(CommerceSimConfig {
        seed: 42,
        orders,
        ..CommerceSimConfig::default()
    })
    .await
}

pub async fn start_with(config: CommerceSimConfig) -> CommerceSim {
    CommerceSim::start(config)
        .await
        .expect("commerce simulator starts")
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .expect("client")
}

/// An OAuth-signed GET of `path` (starting with `/rest/...`) with a raw query; returns status and JSON.
pub async fn get(sim: &CommerceSim, path: &str, raw_query: &str) -> (u16, Value) {
    let (status, text) = get_text(sim, path, raw_query).await;
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

pub async fn get_text(sim: &CommerceSim, path: &str, raw_query: &str) -> (u16, String) {
    let creds = sim.oauth();
    let url = format!("{}{}", sim.base_url(), path);
    let header = Signing {
        creds: &creds,
        method: "GET",
        url: &url,
        query: raw_query,
        nonce: fresh_nonce(),
        timestamp: unix_now(),
        signature_method: "HMAC-SHA256",
    }
    .header();
    let full = if raw_query.is_empty() {
        url.clone()
    } else {
        format!("{url}?{raw_query}")
    };
    let resp = http()
        .get(full)
        .header("authorization", header)
        .send()
        .await
        .expect("request sent");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

/// Reads a `/__sim/...` JSON document.
pub async fn sim_get(sim: &CommerceSim, path: &str) -> Value {
    http()
        .get(format!("{}/__sim{path}", sim.base_url()))
        .send()
        .await
        .expect("sim call")
        .json()
        .await
        .expect("sim json")
}

pub async fn sim_send(
    sim: &CommerceSim,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let resp = http()
        .request(method, format!("{}/__sim{path}", sim.base_url()))
        .json(&body)
        .send()
        .await
        .expect("sim call");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub fn ids(v: &Value) -> Vec<i64> {
    v["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["entity_id"].as_i64()).collect())
        .unwrap_or_default()
}
