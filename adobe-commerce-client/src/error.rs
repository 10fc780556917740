//! The crate's error type, split by where a call failed.
//!
//! A caller usually needs to know three things about a failed call: whether anything reached Commerce
//! (safe to repeat?), whether it is worth retrying, and what Commerce itself said. The variants of
//! [`Error`] follow those lines: [`Error::InvalidInput`] never left the process, [`Error::Auth`] failed
//! while obtaining credentials, [`Error::Timeout`] and [`Error::Transport`] left the outcome unknown (or,
//! for connect failures, known not to have happened), [`Error::Api`] is Commerce's own rejection with
//! its message rendered, and [`Error::Decode`] is an answer that did not have the expected shape.
//!
//! No variant ever carries a secret: credentials live only in the auth layer, transport errors are
//! stripped of their URL, and bodies that may carry tokens are never kept.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// Boxed cause kept in `source()` chains.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Bodies kept in errors are cut to this many bytes, so a multi-megabyte HTML error page does not
/// travel through logs and audit entries.
pub const MAX_KEPT_BODY_BYTES: usize = 16 * 1024;

/// Every way a call to Commerce (or a webhook check) can fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad input caught before anything was sent: names the field and what was expected.
    #[error("invalid {field}: expected {expected}")]
    InvalidInput {
        /// The argument, builder setting or request part that was rejected.
        field: String,
        /// What a valid value looks like.
        expected: String,
    },

    /// Credentials could not be obtained (for example the IMS token endpoint refused the client).
    #[error("could not obtain credentials")]
    Auth(#[source] AuthError),

    /// A timeout layer expired; `layer` says which one.
    #[error("{layer} timed out after {after:?}")]
    Timeout {
        /// The layer whose limit was reached.
        layer: TimeoutLayer,
        /// The configured limit.
        after: Duration,
    },

    /// The HTTP exchange failed below the API level (DNS, TCP, TLS, connection reset, body read).
    #[error("transport failure ({kind}) on {method} {path}")]
    Transport {
        /// Where in the exchange it failed; [`TransportErrorKind::Connect`] means nothing was sent.
        kind: TransportErrorKind,
        /// HTTP method of the failed call.
        method: String,
        /// URL path of the failed call (no query, no host credentials).
        path: String,
        /// The underlying error, with any URL removed.
        #[source]
        source: BoxError,
    },

    /// Commerce answered with a non-success status.
    #[error(transparent)]
    Api(Box<ApiError>),

    /// Commerce answered with a success status but the body did not have the expected shape.
    #[error("could not decode the HTTP {status} answer at JSON path `{path}`")]
    Decode {
        /// HTTP status of the answer.
        status: u16,
        /// JSON path of the offending value (`.` when the document itself is malformed).
        path: String,
        /// Raw body as received (lossy UTF-8), cut to [`MAX_KEPT_BODY_BYTES`].
        body: String,
        /// What serde reported.
        #[source]
        source: serde_json::Error,
    },

    /// A webhook request failed verification or could not be parsed.
    #[error("webhook request rejected")]
    Webhook(#[source] WebhookError),
}

impl Error {
    /// Whether the failure is transient: throttling, a gateway or availability error, a timeout or a
    /// transport failure. Whether a *write* may be repeated is a separate question answered by
    /// [`crate::retry::RetryPolicy`] together with the request's idempotency.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(api) => matches!(api.status, 429 | 502 | 503 | 504),
            Error::Timeout { .. } | Error::Transport { .. } => true,
            Error::Auth(auth) => auth.is_retryable(),
            Error::InvalidInput { .. } | Error::Decode { .. } | Error::Webhook(_) => false,
        }
    }

    /// The HTTP status Commerce (or the IMS token endpoint) answered with, when there was an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(api) => Some(api.status),
            Error::Decode { status, .. } => Some(*status),
            Error::Auth(AuthError::TokenRejected { status, .. }) => Some(*status),
            _ => None,
        }
    }

    /// Commerce's rejection, when the failure is one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api(api) => Some(api),
            _ => None,
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, expected: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            expected: expected.into(),
        }
    }
}

/// Which timeout expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutLayer {
    /// Establishing the TCP/TLS connection; nothing was sent.
    Connect,
    /// One HTTP attempt (sending the request and reading the whole answer); the outcome is unknown.
    Attempt,
    /// The whole operation, retries and waits included.
    Operation,
}

impl fmt::Display for TimeoutLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutLayer::Connect => "connecting",
            TimeoutLayer::Attempt => "one HTTP attempt",
            TimeoutLayer::Operation => "the whole operation",
        })
    }
}

/// Where in the HTTP exchange a transport failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The connection could not be established: the request was never sent.
    Connect,
    /// The request may have been sent; its outcome is unknown.
    Request,
    /// The answer's body could not be read completely; the request was processed.
    Body,
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportErrorKind::Connect => "connect",
            TransportErrorKind::Request => "request",
            TransportErrorKind::Body => "reading the answer",
        })
    }
}

/// Failures of the credentials provider.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The token endpoint answered with an error status. IMS error bodies are RFC 6749 style
    /// (`{"error": .., "error_description": ..}`); the rest of the body is not kept.
    #[error("token endpoint answered HTTP {status}{}{}", error_code.as_deref().map(|c| format!(": {c}")).unwrap_or_default(), description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    TokenRejected {
        /// HTTP status of the token endpoint's answer.
        status: u16,
        /// The `error` field, if the body had one.
        error_code: Option<String>,
        /// The `error_description` field, if the body had one.
        description: Option<String>,
    },
    /// The token endpoint's success answer lacked a usable token. The body is not kept because it may
    /// carry a token.
    #[error("token endpoint answer could not be decoded at JSON path `{path}`")]
    TokenDecode {
        /// JSON path of the offending value.
        path: String,
        /// What serde reported.
        #[source]
        source: serde_json::Error,
    },
    /// Calling the token endpoint failed below HTTP.
    #[error("calling the token endpoint failed")]
    TokenTransport(#[source] Box<Error>),
    /// A credential value cannot be placed in an HTTP header (control characters or non-ASCII).
    #[error("{credential} contains characters that cannot be sent in an HTTP header")]
    InvalidCredential {
        /// Which credential (never its value).
        credential: &'static str,
    },
}

impl AuthError {
    fn is_retryable(&self) -> bool {
        match self {
            AuthError::TokenRejected { status, .. } => {
                matches!(status, 429 | 500 | 502 | 503 | 504)
            }
            AuthError::TokenTransport(inner) => inner.is_retryable(),
            AuthError::TokenDecode { .. } | AuthError::InvalidCredential { .. } => false,
        }
    }
}

/// One error entry of an aggregate Commerce error (`errors[]`), message rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiErrorDetail {
    /// The message with its placeholders substituted.
    pub message: String,
    /// The message as Commerce sent it, placeholders included.
    pub raw_message: String,
    /// The placeholder values as sent (array for `%1`, object for `%name`).
    pub parameters: Option<Value>,
}

/// Commerce's rejection of a call: HTTP status and the rendered `{message, parameters, errors}` body.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Commerce's message with `%1` / `%name` placeholders substituted, or a description of the answer
    /// when the body was not Commerce's JSON error format.
    pub message: String,
    /// `message` exactly as Commerce sent it, when the body was Commerce's JSON error format.
    pub raw_message: Option<String>,
    /// The placeholder values as sent.
    pub parameters: Option<Value>,
    /// Entries of an aggregate error (`errors[]`), each rendered.
    pub errors: Vec<ApiErrorDetail>,
    /// Commerce's non-zero internal error `code`, when present.
    pub code: Option<i64>,
    /// The delay the server asked for with `Retry-After`, already resolved against the clock.
    pub retry_after: Option<Duration>,
    /// Raw body (lossy UTF-8), cut to [`MAX_KEPT_BODY_BYTES`].
    pub body: String,
}

impl ApiError {
    /// Builds the error from a non-success answer; bodies that are not Commerce's JSON error format
    /// (HTML gateway pages, empty bodies, XML) keep the status and a short description.
    pub fn from_response(status: u16, body: &[u8], retry_after: Option<Duration>) -> Self {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let raw_message = parsed
            .as_ref()
            .and_then(|v| v.get("message"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let parameters = parsed
            .as_ref()
            .and_then(|v| v.get("parameters"))
            .filter(|p| !p.is_null())
            .cloned();
        let errors = parsed
            .as_ref()
            .and_then(|v| v.get("errors"))
            .and_then(Value::as_array)
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|entry| {
                        let raw = entry.get("message")?.as_str()?.to_owned();
                        let params = entry.get("parameters").filter(|p| !p.is_null()).cloned();
                        Some(ApiErrorDetail {
                            message: render_message(&raw, params.as_ref()),
                            raw_message: raw,
                            parameters: params,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let code = parsed
            .as_ref()
            .and_then(|v| v.get("code"))
            .and_then(Value::as_i64)
            .filter(|c| *c != 0);
        let message = match &raw_message {
            Some(raw) => render_message(raw, parameters.as_ref()),
            None => describe_foreign_body(status, body),
        };
        ApiError {
            status,
            message,
            raw_message,
            parameters,
            errors,
            code,
            retry_after,
            body: keep_body(body),
        }
    }

    /// Whether this is Commerce's "not authorized to access resources" rejection, which has two
    /// indistinguishable causes (see the `Display` hint).
    pub fn is_consumer_not_authorized(&self) -> bool {
        self.status == 401
            && self
                .raw_message
                .as_deref()
                .is_some_and(|m| m.starts_with("The consumer isn't authorized to access"))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Commerce answered HTTP {}: {}",
            self.status, self.message
        )?;
        for detail in &self.errors {
            write!(f, "; {}", detail.message)?;
        }
        if self.is_consumer_not_authorized() {
            f.write_str(
                " (either the integration or admin role lacks this ACL resource, or an integration \
                 access token was sent as a Bearer token while \"Allow OAuth Access Tokens to be used \
                 as standalone Bearer tokens\" (oauth/consumer/enable_integration_as_bearer) is off)",
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// Failures of webhook verification and parsing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The request carried no `x-adobe-commerce-webhook-signature` header.
    #[error("the x-adobe-commerce-webhook-signature header is missing")]
    MissingSignature,
    /// The signature header is not valid base64.
    #[error("the x-adobe-commerce-webhook-signature header is not valid base64")]
    SignatureEncoding(#[source] base64::DecodeError),
    /// The configured public key could not be read.
    #[error("the webhook public key is not an RSA public key in PEM (SPKI or PKCS#1) form")]
    InvalidPublicKey,
    /// The signature does not match the body under the configured key.
    #[error("the webhook signature does not match the request body")]
    SignatureMismatch,
    /// The payload is not the expected JSON shape.
    #[error("webhook payload could not be decoded at JSON path `{path}`")]
    Payload {
        /// JSON path of the offending value.
        path: String,
        /// What serde reported.
        #[source]
        source: serde_json::Error,
    },
    /// The payload is JSON but holds no entity of the expected kind.
    #[error("webhook payload holds no `{entity}` object")]
    MissingEntity {
        /// The entity that was looked for (`order`, `invoice`).
        entity: &'static str,
    },
}

impl From<WebhookError> for Error {
    fn from(value: WebhookError) -> Self {
        Error::Webhook(value)
    }
}

impl From<AuthError> for Error {
    fn from(value: AuthError) -> Self {
        Error::Auth(value)
    }
}

impl From<ApiError> for Error {
    fn from(value: ApiError) -> Self {
        Error::Api(Box::new(value))
    }
}

/// Substitutes Commerce's placeholders: `%1..%n` from a `parameters` array (1-based), `%name` from a
/// `parameters` object. Unknown placeholders are left as they are.
pub fn render_message(message: &str, parameters: Option<&Value>) -> String {
    let Some(parameters) = parameters else {
        return message.to_owned();
    };
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let name_len = after
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
            .map_or(after.len(), |(i, _)| i);
        let name = &after[..name_len];
        let value = if name.is_empty() {
            None
        } else {
            match parameters {
                Value::Array(items) => name
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| n.checked_sub(1))
                    .and_then(|i| items.get(i)),
                Value::Object(map) => map.get(name),
                _ => None,
            }
        };
        match value {
            Some(value) => {
                out.push_str(&parameter_text(value));
                rest = &after[name_len..];
            }
            None => {
                out.push('%');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn parameter_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(items) => items
            .iter()
            .map(parameter_text)
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

fn describe_foreign_body(status: u16, body: &[u8]) -> String {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("unknown status");
    let text = String::from_utf8_lossy(body);
    let snippet: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if snippet.is_empty() {
        format!("{reason} (empty body)")
    } else {
        let cut: String = snippet.chars().take(200).collect();
        let ellipsis = if cut.len() < snippet.len() { "…" } else { "" };
        format!("{reason} (body is not Commerce's JSON error format: {cut}{ellipsis})")
    }
}

/// Lossy UTF-8 copy of a body, cut to [`MAX_KEPT_BODY_BYTES`] on a character boundary.
pub(crate) fn keep_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if text.len() <= MAX_KEPT_BODY_BYTES {
        return text.into_owned();
    }
    let mut end = MAX_KEPT_BODY_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}…[{} more bytes not kept]",
        &text[..end],
        text.len() - end
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn positional_placeholders_are_substituted() {
        let body =
            br#"{"message":"Signature method %1 is not supported","parameters":["HMAC-SHA1"]}"#;
        let err = ApiError::from_response(400, body, None);
        assert_eq!(err.message, "Signature method HMAC-SHA1 is not supported");
        assert_eq!(
            err.raw_message.as_deref(),
            Some("Signature method %1 is not supported")
        );
        assert_eq!(err.parameters, Some(json!(["HMAC-SHA1"])));
    }

    #[test]
    fn named_placeholders_are_substituted_by_whole_name() {
        let rendered = render_message(
            "No such entity with %fieldName = %fieldValue",
            Some(&json!({"fieldName": "customerId", "fieldValue": 999})),
        );
        assert_eq!(rendered, "No such entity with customerId = 999");
    }

    #[test]
    fn unknown_placeholders_and_percent_signs_survive() {
        let rendered = render_message("100% of %2 and %missing", Some(&json!(["a"])));
        assert_eq!(rendered, "100% of %2 and %missing");
    }

    #[test]
    fn aggregate_errors_are_rendered_each() {
        let body = json!({
            "message": "Validation failed",
            "errors": [
                {"message": "\"%fieldName\" is required.", "parameters": {"fieldName": "sku"}},
                {"message": "Value %1 is invalid", "parameters": ["x"]}
            ],
            "code": 0
        });
        let err = ApiError::from_response(400, body.to_string().as_bytes(), None);
        assert_eq!(err.errors.len(), 2);
        assert_eq!(err.errors[0].message, "\"sku\" is required.");
        assert_eq!(err.errors[1].message, "Value x is invalid");
        assert_eq!(err.code, None);
        assert!(err.to_string().contains("\"sku\" is required."));
    }

    #[test]
    fn consumer_not_authorized_hints_at_both_causes() {
        let body = br#"{"message":"The consumer isn't authorized to access %resources.","parameters":{"resources":"Magento_Sales::actions_view"}}"#;
        let err = Error::from(ApiError::from_response(401, body, None));
        let text = err.to_string();
        assert!(
            text.contains("The consumer isn't authorized to access Magento_Sales::actions_view.")
        );
        assert!(text.contains("ACL"));
        assert!(text.contains("enable_integration_as_bearer"));
        assert_eq!(err.status(), Some(401));
        assert!(!err.is_retryable());
    }

    #[test]
    fn non_json_bodies_keep_status_and_describe_the_body() {
        let err = ApiError::from_response(502, b"<html><body>Bad gateway</body></html>", None);
        assert_eq!(err.status, 502);
        assert!(err.raw_message.is_none());
        assert!(err.message.contains("Bad Gateway"));
        assert!(err.message.contains("<html>"));
        assert!(Error::from(err).is_retryable());
        let empty = ApiError::from_response(503, b"", None);
        assert_eq!(empty.message, "Service Unavailable (empty body)");
    }

    #[test]
    fn kept_bodies_are_cut_on_a_char_boundary() {
        let long = "é".repeat(MAX_KEPT_BODY_BYTES);
        let kept = keep_body(long.as_bytes());
        assert!(kept.len() < long.len());
        assert!(kept.ends_with("more bytes not kept]"));
        assert_eq!(keep_body(b"short"), "short");
    }

    #[test]
    fn errors_cross_threads() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Error>();
    }

    #[test]
    fn retryable_classification() {
        for status in [429, 502, 503, 504] {
            assert!(Error::from(ApiError::from_response(status, b"{}", None)).is_retryable());
        }
        for status in [400, 401, 403, 404, 500] {
            assert!(!Error::from(ApiError::from_response(status, b"{}", None)).is_retryable());
        }
        assert!(
            Error::Timeout {
                layer: TimeoutLayer::Attempt,
                after: Duration::from_secs(1)
            }
            .is_retryable()
        );
        assert!(!Error::invalid("store", "a store code").is_retryable());
    }
}
