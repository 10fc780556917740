//! OAuth 1.0a verification as Commerce 2.4.8 performs it: the `Authorization` header parsed by
//! Magento's rules, query (and form-body, never JSON-body) parameters decoded with `rawurldecode`, a
//! base string built from `scheme://host[:port]path`, parameters sorted by their raw names, and an
//! HMAC-SHA256 signature keyed by the consumer and token secrets. The checks run in Commerce's order:
//! the nonce is recorded before the signature is checked, so a replayed nonce is refused even when the
//! signature would have been wrong.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use hmac::{KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::json;
use sha2::Sha256;

use super::search::ApiError;

/// Everything but RFC 3986 unreserved characters is encoded (PHP's `rawurlencode`).
const RAW: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub(crate) fn rawurlencode(s: &str) -> String {
    utf8_percent_encode(s, RAW).to_string()
}

/// PHP's `rawurldecode`: `%XX` sequences only; a `+` stays a `+`.
pub(crate) fn rawurldecode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// The integration's four credentials.
#[derive(Clone, Debug)]
pub(crate) struct Integration {
    pub consumer_id: i64,
    pub consumer_key: String,
    pub consumer_secret: String,
    pub access_token: String,
    pub access_token_secret: String,
}

/// Parses `Authorization: OAuth ...` the way `Magento\Framework\Oauth\Helper\Request::_processHeader`
/// does. Returns `None` when the header is not an OAuth header.
pub(crate) fn parse_header(header: &str) -> Option<BTreeMap<String, String>> {
    let lower = header.to_ascii_lowercase();
    let start = lower.find("oauth ")?;
    let rest = &header[start + "oauth ".len()..];
    let mut params = BTreeMap::new();
    for part in rest.split(',') {
        let part = part.trim();
        let Some((name, value)) = part.split_once('=') else {
            continue;
        };
        let name = name.trim();
        let valid = name.strip_prefix("oauth_").is_some_and(|tail| {
            !tail.is_empty()
                && tail
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == '-')
        });
        if !valid {
            continue;
        }
        let value = value.trim().trim_matches('"');
        params.insert(rawurldecode(name), rawurldecode(value));
    }
    Some(params)
}

/// Query or form parameters as Magento's `_extractQueryStringParams` sees them: pieces without exactly
/// one `=` are dropped, and a repeated name keeps its last value.
pub(crate) fn extract_params(raw: &str, into: &mut BTreeMap<String, String>) {
    for piece in raw.split('&') {
        let parts: Vec<&str> = piece.split('=').collect();
        if parts.len() == 2 {
            into.insert(rawurldecode(parts[0]), rawurldecode(parts[1]));
        }
    }
}

/// The signature base string: `METHOD&enc(url)&enc(k=v&...)`, names sorted by raw bytes (`ksort`).
pub(crate) fn base_string(method: &str, url: &str, params: &BTreeMap<String, String>) -> String {
    let joined = params
        .iter()
        .filter(|(k, _)| k.as_str() != "oauth_signature")
        .map(|(k, v)| format!("{}={}", rawurlencode(k), rawurlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        rawurlencode(url),
        rawurlencode(&joined)
    )
}

pub(crate) fn sign(base: &str, consumer_secret: &str, token_secret: &str) -> String {
    let key = format!(
        "{}&{}",
        rawurlencode(consumer_secret),
        rawurlencode(token_secret)
    );
    let mut mac = match <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(base.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// `scheme://host[:port]path` with the scheme and host lowercased and default ports dropped.
pub(crate) fn request_url(host_header: &str, path: &str) -> String {
    let host = host_header.to_ascii_lowercase();
    let host = host.strip_suffix(":80").unwrap_or(&host);
    format!("http://{host}{path}")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Nonces already used, per consumer, with their timestamps (pruned once they leave the window).
#[derive(Debug, Default)]
pub(crate) struct NonceStore {
    seen: HashMap<String, i64>,
}

impl NonceStore {
    fn check_and_store(&mut self, nonce: &str, timestamp: i64, now: i64) -> bool {
        if self.seen.len() > 200_000 {
            self.seen.retain(|_, ts| *ts >= now - WINDOW_SECS);
        }
        if self.seen.contains_key(nonce) {
            return false;
        }
        self.seen.insert(nonce.to_owned(), timestamp);
        true
    }
}

/// Allowed distance between `oauth_timestamp` and the server clock.
pub(crate) const WINDOW_SECS: i64 = 600;

/// A verified request, or the error Commerce would answer with.
pub(crate) struct Request<'a> {
    pub method: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub form_body: Option<&'a str>,
    pub header: &'a str,
}

fn unauthorized(message: &str, parameters: serde_json::Value) -> ApiError {
    ApiError::new(401, message, parameters)
}

/// Verifies one OAuth-signed request against the integration.
pub(crate) fn verify(
    req: &Request<'_>,
    integ: &Integration,
    nonces: &mut NonceStore,
    now: i64,
) -> Result<(), ApiError> {
    let Some(mut params) = parse_header(req.header) else {
        return Err(unauthorized(
            "The consumer isn't authorized to access %resources.",
            json!({}),
        ));
    };
    extract_params(req.query, &mut params);
    if let Some(body) = req.form_body {
        extract_params(body, &mut params);
    }
    for required in [
        "oauth_consumer_key",
        "oauth_signature",
        "oauth_signature_method",
        "oauth_nonce",
        "oauth_timestamp",
        "oauth_token",
    ] {
        if params.get(required).is_none_or(String::is_empty) {
            return Err(ApiError::new(
                400,
                "\"%fieldName\" is required. Enter and try again.",
                json!({"fieldName": required}),
            ));
        }
    }
    if let Some(v) = params.get("oauth_version")
        && v != "1.0"
    {
        return Err(ApiError::new(
            400,
            "The \"%1\" Oauth version isn't supported.",
            json!([v]),
        ));
    }
    let consumer_key = &params["oauth_consumer_key"];
    if consumer_key.len() != 32 {
        return Err(unauthorized(
            "Consumer key is not the correct length",
            json!({}),
        ));
    }
    if !constant_time_eq(consumer_key.as_bytes(), integ.consumer_key.as_bytes()) {
        return Err(unauthorized(
            "A consumer having the specified key does not exist",
            json!({}),
        ));
    }
    let method = &params["oauth_signature_method"];
    if method != "HMAC-SHA256" {
        return Err(ApiError::new(
            400,
            "Signature method %1 is not supported",
            json!([method]),
        ));
    }
    let token = &params["oauth_token"];
    if token.len() != 32 {
        return Err(unauthorized(
            "The token length is invalid. Check the length and try again.",
            json!({}),
        ));
    }
    let timestamp: i64 = params["oauth_timestamp"].parse().unwrap_or(0);
    if timestamp <= 0 || timestamp > now + WINDOW_SECS || timestamp < now - WINDOW_SECS {
        return Err(ApiError::new(
            400,
            "The timestamp is invalid. Verify and try again.",
            json!({}),
        ));
    }
    if !nonces.check_and_store(&params["oauth_nonce"], timestamp, now) {
        return Err(unauthorized(
            "The nonce is already being used by the consumer with ID %1",
            json!([integ.consumer_id.to_string()]),
        ));
    }
    if !constant_time_eq(token.as_bytes(), integ.access_token.as_bytes()) {
        return Err(unauthorized("Specified token does not exist", json!({})));
    }
    let url = request_url(req.host, req.path);
    let base = base_string(req.method, &url, &params);
    let expected = sign(&base, &integ.consumer_secret, &integ.access_token_secret);
    if !constant_time_eq(expected.as_bytes(), params["oauth_signature"].as_bytes()) {
        return Err(unauthorized(
            "The signature is invalid. Verify and try again.",
            json!({}),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CK: &str = "0123456789abcdefghijklmnopqrstuv";
    const CS: &str = "vutsrqponmlkjihgfedcba9876543210";
    const TK: &str = "abcdefghijklmnopqrstuvwxyz012345";
    const TS: &str = "543210zyxwvutsrqponmlkjihgfedcba";

    fn oauth_params() -> BTreeMap<String, String> {
        let mut p = BTreeMap::new();
        for (k, v) in [
            ("oauth_consumer_key", CK),
            ("oauth_nonce", "n0nce0123456789abcdefABCDEF01234"),
            ("oauth_signature_method", "HMAC-SHA256"),
            ("oauth_timestamp", "1700000000"),
            ("oauth_token", TK),
            ("oauth_version", "1.0"),
        ] {
            p.insert(k.to_owned(), v.to_owned());
        }
        p
    }

    #[test]
    fn vector_v1_plain_get() {
        let base = base_string(
            "GET",
            "https://magento.example.com/rest/default/V1/orders/42",
            &oauth_params(),
        );
        assert_eq!(
            sign(&base, CS, TS),
            "mlxMb0BplZBCXHQoEIryStpg9jkf9uHn/mAvoNcaLMI="
        );
    }

    #[test]
    fn vector_v2_search_criteria() {
        let query = "searchCriteria%5Bfilter_groups%5D%5B0%5D%5Bfilters%5D%5B0%5D%5Bfield%5D=updated_at&searchCriteria%5Bfilter_groups%5D%5B0%5D%5Bfilters%5D%5B0%5D%5Bvalue%5D=2024-01-01%2000%3A00%3A00&searchCriteria%5Bfilter_groups%5D%5B0%5D%5Bfilters%5D%5B0%5D%5Bcondition_type%5D=gteq&searchCriteria%5BsortOrders%5D%5B0%5D%5Bfield%5D=entity_id&searchCriteria%5BsortOrders%5D%5B0%5D%5Bdirection%5D=ASC&searchCriteria%5BpageSize%5D=100&searchCriteria%5BcurrentPage%5D=1";
        let mut params = oauth_params();
        extract_params(query, &mut params);
        let base = base_string(
            "GET",
            "https://magento.example.com/rest/default/V1/orders",
            &params,
        );
        assert!(base.starts_with("GET&https%3A%2F%2Fmagento.example.com%2Frest%2Fdefault%2FV1%2Forders&oauth_consumer_key%3D"));
        assert_eq!(
            sign(&base, CS, TS),
            "lFWSbAHw7DiGN8JP8/ca83rqEDD+pukRF3w2sRRfgD0="
        );
    }

    #[test]
    fn vector_v3_json_body_not_signed() {
        let base = base_string(
            "POST",
            "https://magento.example.com/rest/default/V1/orders/42/comments",
            &oauth_params(),
        );
        assert_eq!(
            sign(&base, CS, TS),
            "MSWRpsdOeDI4E12uGBIUI8PzwgHcHtd91Tyef12ZBkI="
        );
    }

    #[test]
    fn header_parsing_follows_magento() {
        let h = r#"OAuth realm="x", oauth_consumer_key="a%2Bb", oauth_nonce=abc , foo="bar", oauth_signature="lF%2F%3D""#;
        let p = parse_header(h).unwrap_or_default();
        assert_eq!(p.get("oauth_consumer_key").map(String::as_str), Some("a+b"));
        assert_eq!(p.get("oauth_nonce").map(String::as_str), Some("abc"));
        assert_eq!(p.get("oauth_signature").map(String::as_str), Some("lF/="));
        assert!(!p.contains_key("foo") && !p.contains_key("realm"));
    }

    #[test]
    fn query_pieces_with_extra_equals_are_dropped() {
        let mut p = BTreeMap::new();
        extract_params("a=1&b=x=y&c=%2B+", &mut p);
        assert_eq!(p.get("a").map(String::as_str), Some("1"));
        assert!(!p.contains_key("b"));
        assert_eq!(p.get("c").map(String::as_str), Some("++"));
    }

    /// Vector V4 of the API notes: two-digit indices, where 2.4.8's raw-key `ksort` differs from RFC 5849.
    #[test]
    fn vector_v4_two_digit_indices_sort_by_raw_names() {
        let mut params = BTreeMap::new();
        for (k, v) in [
            ("oauth_consumer_key", "0123456789abcdefghijklmnopqrstuv"),
            ("oauth_nonce", "n0nce0123456789abcdefABCDEF01234"),
            ("oauth_signature_method", "HMAC-SHA256"),
            ("oauth_timestamp", "1700000000"),
            ("oauth_token", "abcdefghijklmnopqrstuvwxyz012345"),
            ("oauth_version", "1.0"),
        ] {
            params.insert(k.to_owned(), v.to_owned());
        }
        for (i, v) in [("1", "S1"), ("2", "S2"), ("10", "S10")] {
            params.insert(
                format!("searchCriteria[filter_groups][0][filters][{i}][field]"),
                "sku".to_owned(),
            );
            params.insert(
                format!("searchCriteria[filter_groups][0][filters][{i}][value]"),
                v.to_owned(),
            );
        }
        let base = base_string(
            "GET",
            "https://magento.example.com/rest/V1/products",
            &params,
        );
        let sig = sign(
            &base,
            "vutsrqponmlkjihgfedcba9876543210",
            "543210zyxwvutsrqponmlkjihgfedcba",
        );
        assert_eq!(sig, "00WLGl8XS7c5irQcgCyYIpFKoDopxXE7y3dXpPI5QkQ=");
    }
}
