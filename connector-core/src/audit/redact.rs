//! Removing secrets from text and documents before they reach the audit trail or a log.
//!
//! SYSPRO's e.net REST interface carries the operator password and the session id in URL query
//! strings, so besides replacing known secret values, every query string of a URL is masked: the
//! parameter names stay (they help diagnose a call), the values become `***`.

use std::borrow::Cow;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::state::Payload;

/// What replaces a known secret value.
pub const REDACTED: &str = "[redacted]";

/// What replaces a URL query parameter's value.
pub const MASKED_VALUE: &str = "***";

/// `text` with every occurrence of each non-empty `secrets` entry replaced by [`REDACTED`].
///
/// Longer secrets are replaced first, so a secret that contains another is removed whole.
#[must_use]
pub fn redact_secrets(text: &str, secrets: &[&str]) -> String {
    let mut ordered: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
    ordered.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_owned();
    for secret in ordered {
        if out.contains(secret) {
            out = out.replace(secret, REDACTED);
        }
    }
    out
}

/// `text` with the value of every query parameter masked in each URL it contains.
///
/// A URL is a run of characters up to whitespace, a quote or an angle bracket that starts with
/// `http://` or `https://` (any case), or with `/` when it has a query string (the path-only form
/// SYSPRO clients log). The fragment, if any, is kept. Punctuation glued to the end of a URL (a closing
/// parenthesis, a comma) is masked with the last value: it cannot be told apart from the value, and
/// masking too much is the safe side.
#[must_use]
pub fn redact_url_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let token_start = rest
            .find(|c: char| !is_url_boundary(c))
            .unwrap_or(rest.len());
        out.push_str(&rest[..token_start]);
        rest = &rest[token_start..];
        let token_end = rest.find(is_url_boundary).unwrap_or(rest.len());
        let token = &rest[..token_end];
        out.push_str(&mask_token(token));
        rest = &rest[token_end..];
    }
    out
}

fn is_url_boundary(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`')
}

/// Masks the query of one whitespace-free token, scanning it for URLs that start inside it (as in
/// `url=https://...` or `(https://...)`).
fn mask_token(token: &str) -> String {
    let Some(url_start) = find_url_start(token) else {
        return token.to_owned();
    };
    let (prefix, url) = token.split_at(url_start);
    let Some(query_start) = url.find('?') else {
        return token.to_owned();
    };
    let (before_query, after) = url.split_at(query_start + 1);
    let (query, fragment) = match after.find('#') {
        Some(hash) => after.split_at(hash),
        None => (after, ""),
    };
    let masked: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) => format!("{name}={MASKED_VALUE}"),
            None if pair.is_empty() => String::new(),
            None => MASKED_VALUE.to_owned(),
        })
        .collect();
    format!("{prefix}{before_query}{}{fragment}", masked.join("&"))
}

fn find_url_start(token: &str) -> Option<usize> {
    let lower = token.to_ascii_lowercase();
    let scheme = ["https://", "http://"]
        .iter()
        .filter_map(|s| lower.find(s))
        .min();
    match scheme {
        Some(start) => Some(start),
        None if token.starts_with('/') && token.contains('?') => Some(0),
        None => None,
    }
}

/// The secrets of one connection, applied together with URL query masking.
///
/// Build one per connection from the vault's values and pass it wherever text leaves the process
/// (audit entries, logs, error reports).
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<SecretString>,
    /// The secrets that JSON text writes otherwise (escaped), as it writes them.
    escaped: Vec<SecretString>,
}

impl Redactor {
    /// A redactor that removes `secrets` (empty values are ignored).
    #[must_use]
    pub fn new(secrets: impl IntoIterator<Item = SecretString>) -> Self {
        let mut redactor = Self::default();
        for secret in secrets {
            redactor.add(secret);
        }
        redactor
    }

    /// Adds one more secret (for example a session id learnt at logon).
    pub fn add(&mut self, secret: SecretString) {
        let exposed = secret.expose_secret();
        if exposed.is_empty() {
            return;
        }
        let quoted = serde_json::to_string(exposed).unwrap_or_default();
        if let Some(escaped) = quoted.strip_prefix('"').and_then(|e| e.strip_suffix('"'))
            && escaped != exposed
        {
            self.escaped.push(SecretString::from(escaped));
        }
        self.secrets.push(secret);
    }

    /// `text` without secrets and without URL query values.
    #[must_use]
    pub fn redact_text(&self, text: &str) -> String {
        self.redact_cow(text).into_owned()
    }

    /// [`Redactor::redact_text`], borrowing `text` when nothing in it needs redacting (the usual
    /// case, checked without allocating).
    #[must_use]
    pub fn redact_cow<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let has_secret = self
            .secrets
            .iter()
            .any(|s| text.contains(s.expose_secret()));
        let mut out = Cow::Borrowed(text);
        if has_secret {
            let exposed: Vec<&str> = self.secrets.iter().map(|s| s.expose_secret()).collect();
            out = Cow::Owned(redact_secrets(text, &exposed));
        }
        // Only a query string is masked, and every query starts with `?`.
        if out.contains('?') {
            out = Cow::Owned(redact_url_queries(&out));
        }
        out
    }

    /// `document` with [`Redactor::redact_text`] applied to every string and object key in it.
    #[must_use]
    pub fn redact_json(&self, document: &Value) -> Value {
        self.redact_json_owned(document.clone())
    }

    /// [`Redactor::redact_json`] on a document the caller gives up, changed in place: only the
    /// strings that hold something to redact are rebuilt.
    #[must_use]
    pub fn redact_json_owned(&self, mut document: Value) -> Value {
        self.redact_in_place(&mut document);
        document
    }

    /// [`Redactor::redact_json`] on a shared document: the same document when nothing in it needs
    /// redacting (checked without copying), a redacted copy otherwise.
    ///
    /// The document's JSON text (which storing it needs anyway) is searched first: every string
    /// and key of the document is in it, escaped as JSON escapes it. Text without a `?` and
    /// without any secret, as it is or escaped, has nothing to redact, and the document is not
    /// walked.
    #[must_use]
    pub fn redact_payload(&self, document: Payload) -> Payload {
        if self.text_is_clean(document.json_text()) || self.is_clean(&document) {
            document
        } else {
            Payload::from(self.redact_json_owned(document.into_value()))
        }
    }

    /// Whether JSON `text` certainly holds nothing to redact (`false` may still be clean).
    fn text_is_clean(&self, text: &str) -> bool {
        !text.contains('?')
            && self
                .secrets
                .iter()
                .chain(&self.escaped)
                .all(|secret| !text.contains(secret.expose_secret()))
    }

    /// Whether no string or object key in `value` holds anything to redact.
    fn is_clean(&self, value: &Value) -> bool {
        match value {
            Value::String(s) => matches!(self.redact_cow(s), Cow::Borrowed(_)),
            Value::Array(items) => items.iter().all(|v| self.is_clean(v)),
            Value::Object(map) => map
                .iter()
                .all(|(k, v)| matches!(self.redact_cow(k), Cow::Borrowed(_)) && self.is_clean(v)),
            Value::Null | Value::Bool(_) | Value::Number(_) => true,
        }
    }

    fn redact_in_place(&self, value: &mut Value) {
        match value {
            Value::String(s) => {
                if let Cow::Owned(redacted) = self.redact_cow(s) {
                    *s = redacted;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_in_place(v)),
            Value::Object(map) => {
                let keys_clean = map
                    .keys()
                    .all(|k| matches!(self.redact_cow(k), Cow::Borrowed(_)));
                if keys_clean {
                    map.values_mut().for_each(|v| self.redact_in_place(v));
                } else {
                    let taken = std::mem::take(map);
                    *map = taken
                        .into_iter()
                        .map(|(k, mut v)| {
                            self.redact_in_place(&mut v);
                            (self.redact_cow(&k).into_owned(), v)
                        })
                        .collect();
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn clean_text_is_borrowed_and_documents_keep_their_shape() {
        let r = Redactor::new([SecretString::from("s3cret")]);
        assert!(matches!(r.redact_cow("plain text"), Cow::Borrowed(_)));
        assert!(matches!(r.redact_cow("a s3cret here"), Cow::Owned(_)));
        let doc = json!({"a": ["x", {"s3cret": "y https://h/p?token=abc"}], "n": 1, "b": true});
        let out = r.redact_json_owned(doc.clone());
        assert_eq!(
            out,
            json!({"a": ["x", {"[redacted]": "y https://h/p?token=***"}], "n": 1, "b": true})
        );
        assert_eq!(r.redact_json(&doc), out);
    }

    #[test]
    fn a_clean_shared_document_is_kept_and_a_dirty_one_is_copied_redacted() {
        let r = Redactor::new([SecretString::from("s3cret")]);
        let clean = Payload::from(json!({"a": ["x", {"k": "v"}], "n": 1}));
        assert!(r.redact_payload(clean.clone()).shares(&clean));
        let dirty = Payload::from(json!({"a": ["x", {"k": "the s3cret"}], "n": 1}));
        let out = r.redact_payload(dirty.clone());
        assert!(!out.shares(&dirty));
        assert_eq!(out, json!({"a": ["x", {"k": "the [redacted]"}], "n": 1}));
        let key = Payload::from(json!({"s3cret": 1}));
        assert_eq!(r.redact_payload(key), json!({"[redacted]": 1}));
    }

    #[test]
    fn a_secret_is_found_in_the_text_also_where_json_escapes_it() {
        let r = Redactor::new([
            SecretString::from("pa\"ss\\word"),
            SecretString::from("tab\there"),
        ]);
        for secret in ["pa\"ss\\word", "tab\there"] {
            let doc = Payload::from(json!({"a": [1, {"k": format!("the {secret}!")}]}));
            assert!(
                doc.json_text().contains('\\'),
                "the text escapes it: {}",
                doc.json_text()
            );
            let out = r.redact_payload(doc.clone());
            assert!(!out.shares(&doc), "{secret:?} was found");
            assert_eq!(out, json!({"a": [1, {"k": "the [redacted]!"}]}));
        }
        // A document whose text holds a `?` is walked; a `?` outside a URL changes nothing.
        let question = Payload::from(json!({"q": "why?"}));
        assert_eq!(r.redact_payload(question), json!({"q": "why?"}));
        // Text that is not JSON is kept as it is, as before.
        let broken = Payload::from_json_text("{not json");
        assert!(r.redact_payload(broken.clone()).shares(&broken));
    }

    #[test]
    fn secrets_are_replaced_longest_first() {
        let out = redact_secrets(
            "pw=hunter2 and hunter2x, empty ok",
            &["hunter2", "hunter2x", ""],
        );
        assert_eq!(out, "pw=[redacted] and [redacted], empty ok");
    }

    #[test]
    fn syspro_logon_url_keeps_names_masks_values() {
        let text = "GET http://erp:20080/SYSPROWCFService/Rest/Logon?Operator=ADMIN&OperatorPassword=s3cret&CompanyId=EDU1 failed";
        assert_eq!(
            redact_url_queries(text),
            "GET http://erp:20080/SYSPROWCFService/Rest/Logon?Operator=***&OperatorPassword=***&CompanyId=*** failed"
        );
    }

    #[test]
    fn path_only_urls_quotes_and_fragments() {
        let text = r#"call "/Rest/Transaction/Post?UserId=abc123&BusinessObject=ARSTIN#x" and (HTTPS://h/q?token)"#;
        assert_eq!(
            redact_url_queries(text),
            r#"call "/Rest/Transaction/Post?UserId=***&BusinessObject=***#x" and (HTTPS://h/q?***"#
        );
    }

    #[test]
    fn text_without_urls_is_untouched() {
        let text = "Invoice 100000123 posted? yes/no a=b";
        assert_eq!(redact_url_queries(text), text);
    }

    #[test]
    fn redactor_cleans_nested_documents() {
        let redactor = Redactor::new([SecretString::from("sess-42")]);
        let doc = json!({"url": "https://x/y?UserId=sess-42", "note": ["session sess-42 expired"], "n": 1});
        assert_eq!(
            redactor.redact_json(&doc),
            json!({"url": "https://x/y?UserId=***", "note": ["session [redacted] expired"], "n": 1})
        );
        assert!(!format!("{redactor:?}").contains("sess-42"));
    }
}
