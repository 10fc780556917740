//! The crate's one error type, split by where a call failed, plus the redaction helpers that keep
//! passwords and session ids out of every message.
//!
//! SYSPRO's e.net REST interface carries the operator password, the company password and the session
//! id in the query string, so no URL is ever stored in an error without passing through
//! [`redact_url`] first, and transport errors from `reqwest` are stripped of their URL.

use std::fmt;

use url::Url;

/// Everything that can go wrong when talking to SYSPRO (e.net REST or OData).
///
/// The variants follow the life of a call: rejected before sending ([`Error::InvalidInput`],
/// [`Error::Closed`]), never reached SYSPRO ([`Error::Connect`]), lost on the way
/// ([`Error::Timeout`], [`Error::Transport`]), answered with an HTTP failure ([`Error::Status`]),
/// answered with `ERROR: ...` text ([`Error::LogonFailed`], [`Error::SessionInvalid`],
/// [`Error::NotLicensed`], [`Error::Rejected`]) or answered with something that could not be
/// understood ([`Error::Output`], [`Error::Decode`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad input caught before anything was sent: names the field and what was expected.
    #[error("invalid {field}: expected {expected}")]
    InvalidInput {
        /// The configuration field or argument that was wrong.
        field: String,
        /// What would have been accepted.
        expected: String,
    },

    /// The business object's output could not be understood (malformed XML, missing element).
    #[error("could not understand the output of {business_object}: {message}")]
    Output {
        /// The business object (or e.net method such as `Logon`) whose output was unreadable.
        business_object: String,
        /// What was wrong with it.
        message: String,
    },

    /// SYSPRO rejected the whole request with `ERROR: ...` text that is not a session, licence or
    /// logon problem. The business object did not post anything.
    #[error("SYSPRO rejected {}: {message}", target(business_object.as_deref()))]
    Rejected {
        /// The business object called, when the call named one.
        business_object: Option<String>,
        /// SYSPRO's own text, without the `ERROR:` prefix.
        message: String,
    },

    /// `/Logon` answered `ERROR: ...` (wrong operator or company password, unknown operator,
    /// licence seats exhausted). Retrying with the same credentials does not help.
    #[error("SYSPRO logon failed: {message}")]
    LogonFailed {
        /// SYSPRO's own text, without the `ERROR:` prefix.
        message: String,
    },

    /// SYSPRO said the session id is invalid even after a fresh logon and one retry, usually because
    /// another logon with the same operator keeps evicting this one.
    #[error(
        "SYSPRO session for {} was invalid again after a fresh logon (is another program logged on \
         with the same operator?)",
        target(business_object.as_deref())
    )]
    SessionInvalid {
        /// The business object called, when the call named one.
        business_object: Option<String>,
    },

    /// The operator is not licensed for the business object's functional area, or the business
    /// object is not registered on this install (`e.net exception 100000`).
    #[error(
        "business object {} is not licensed for this operator or not registered on this SYSPRO \
         install: {message}",
        business_object.as_deref().unwrap_or("(none)")
    )]
    NotLicensed {
        /// The business object called, when the call named one.
        business_object: Option<String>,
        /// SYSPRO's own text, without the `ERROR:` prefix.
        message: String,
    },

    /// The HTTP client could not be set up (for example the TLS backend failed to initialise).
    #[error("could not set up the HTTP client")]
    HttpClient {
        /// The underlying cause.
        #[source]
        source: reqwest::Error,
    },

    /// The client's own thread (see `EnetConfigBuilder::own_thread`) could not be started.
    #[error("could not start the SYSPRO client's thread")]
    Thread {
        /// The underlying cause.
        #[source]
        source: std::io::Error,
    },

    /// The client was closed with `close()`; it logs on no more.
    #[error("the SYSPRO client was closed; create a new one to log on again")]
    Closed,

    /// No connection could be made, so the request was never sent.
    #[error("could not connect to SYSPRO for {call} at {url}")]
    Connect {
        /// The e.net method or OData resource being called.
        call: String,
        /// The URL with its query string redacted.
        url: String,
        /// The underlying cause, stripped of its URL.
        #[source]
        source: reqwest::Error,
    },

    /// The request was sent but no answer came within the configured time. For posts the outcome is
    /// unknown: look the document up before sending it again.
    #[error("SYSPRO did not answer {call} in time at {url}")]
    Timeout {
        /// The e.net method or OData resource being called.
        call: String,
        /// The URL with its query string redacted.
        url: String,
    },

    /// The connection failed after the request may have been sent.
    #[error("transport failure during {call} at {url}")]
    Transport {
        /// The e.net method or OData resource being called.
        call: String,
        /// The URL with its query string redacted.
        url: String,
        /// The underlying cause, stripped of its URL.
        #[source]
        source: reqwest::Error,
    },

    /// The server answered with an HTTP status other than success (e.net answers business failures
    /// with 200, so this means a WCF/IIS fault, a proxy, or OData refusing the request).
    #[error("{call} at {url} answered HTTP {status}: {body}")]
    Status {
        /// The e.net method or OData resource being called.
        call: String,
        /// The URL with its query string redacted.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body, secrets removed.
        body: String,
    },

    /// An OData answer could not be decoded (not JSON, a row of the wrong shape, bad `$metadata`).
    #[error("could not decode the answer of {call} at {url}: {message}")]
    Decode {
        /// The OData resource being read.
        call: String,
        /// The URL with its query string redacted.
        url: String,
        /// What could not be decoded, including the JSON path when known.
        message: String,
        /// The start of the response body, secrets removed.
        body: String,
    },

    /// An OData query would return more rows than `ODataConfig::max_rows` allows.
    #[error(
        "OData query on {entity_set} returned more than {cap} rows; narrow the filter or raise the \
         row cap"
    )]
    RowCapReached {
        /// The entity set queried.
        entity_set: String,
        /// The configured cap.
        cap: u64,
    },
}

fn target(business_object: Option<&str>) -> &str {
    business_object.unwrap_or("the call")
}

impl Error {
    /// Whether the same call may succeed if made again later: timeouts, connection failures,
    /// HTTP 408/429/5xx and an invalid session are transient; logon failures, business rejections,
    /// licensing and bad input are not.
    ///
    /// This classifies the failure only. For posts, a [`Error::Timeout`] or [`Error::Transport`]
    /// leaves the outcome unknown (see [`Error::is_outcome_unknown`]); reconcile before repeating.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Timeout { .. }
            | Error::Connect { .. }
            | Error::Transport { .. }
            | Error::SessionInvalid { .. } => true,
            Error::Status { status, .. } => {
                *status == 408 || *status == 429 || (500..600).contains(status)
            }
            Error::InvalidInput { .. }
            | Error::Output { .. }
            | Error::Rejected { .. }
            | Error::LogonFailed { .. }
            | Error::NotLicensed { .. }
            | Error::Closed
            | Error::HttpClient { .. }
            | Error::Thread { .. }
            | Error::Decode { .. }
            | Error::RowCapReached { .. } => false,
        }
    }

    /// Whether SYSPRO may have run the business object even though no usable answer came back:
    /// a timeout, a broken connection after sending, or a server fault. A post that fails this way
    /// must be looked up in SYSPRO before it is sent again.
    pub fn is_outcome_unknown(&self) -> bool {
        match self {
            Error::Timeout { .. } | Error::Transport { .. } => true,
            Error::Status { status, .. } => (500..600).contains(status),
            _ => false,
        }
    }

    pub(crate) fn invalid_input(field: impl Into<String>, expected: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            expected: expected.into(),
        }
    }

    /// Turns a `reqwest` failure into the matching variant, dropping the URL `reqwest` keeps (it
    /// would contain passwords or the session id).
    pub(crate) fn from_reqwest(call: &str, url: &Url, err: reqwest::Error) -> Self {
        let call = call.to_owned();
        let url = redact_url(url);
        if err.is_connect() {
            Error::Connect {
                call,
                url,
                source: err.without_url(),
            }
        } else if err.is_timeout() {
            Error::Timeout { call, url }
        } else {
            Error::Transport {
                call,
                url,
                source: err.without_url(),
            }
        }
    }
}

/// Query parameters whose values are safe and useful in logs and errors. Every other value
/// (passwords, `UserId`, XML documents that may hold customer data, OData filters and skip tokens)
/// is replaced by `***`.
const SAFE_QUERY_PARAMS: &[&str] = &["BusinessObject", "$top", "$skip", "$select", "$orderby"];

/// Renders a URL for logs and errors: user info removed, every query value replaced by `***`
/// except the few known to be harmless (`BusinessObject`, `$top`, `$skip`, `$select`,
/// `$orderby`), fragment removed.
///
/// ```
/// let url = url::Url::parse(
///     "http://erp:90/SYSPROWCFService/Rest/Logon?Operator=ADMIN&OperatorPassword=s3cret",
/// )
/// .unwrap();
/// assert_eq!(
///     syspro_client::error::redact_url(&url),
///     "http://erp:90/SYSPROWCFService/Rest/Logon?Operator=***&OperatorPassword=***"
/// );
/// ```
pub fn redact_url(url: &Url) -> String {
    let mut shown = url.clone();
    // Both calls only fail for URLs that cannot carry credentials at all.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_fragment(None);
    shown.set_query(None);
    let mut out = shown.to_string();
    if let Some(query) = url.query() {
        out.push('?');
        for (index, pair) in query.split('&').enumerate() {
            if index > 0 {
                out.push('&');
            }
            let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = percent_encoding::percent_decode_str(raw_name).decode_utf8_lossy();
            out.push_str(raw_name);
            if pair.contains('=') {
                out.push('=');
                if SAFE_QUERY_PARAMS.contains(&name.as_ref()) {
                    out.push_str(raw_value);
                } else {
                    out.push_str("***");
                }
            }
        }
    }
    out
}

/// Removes known secret values from text that is about to go into an error or a log (SYSPRO error
/// texts and HTTP bodies are not expected to echo them, but nothing guarantees it).
#[derive(Clone, Default)]
pub(crate) struct Scrubber {
    secrets: Vec<String>,
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scrubber")
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

impl Scrubber {
    /// Secrets shorter than this are not scrubbed: replacing every `a` in a message would make
    /// it unreadable while protecting nothing worth protecting.
    const MIN_LEN: usize = 3;

    pub(crate) fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .filter(|s| s.chars().count() >= Self::MIN_LEN)
            .map(str::to_owned)
            .collect();
        // Longest first, so a secret containing another is removed whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Scrubber { secrets }
    }

    pub(crate) fn with(&self, extra: &str) -> Self {
        Scrubber::new(
            self.secrets
                .iter()
                .map(String::as_str)
                .chain(std::iter::once(extra)),
        )
    }

    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }
}

/// Longest response body kept in an error, in characters.
pub(crate) const MAX_BODY_IN_ERROR: usize = 512;

/// Cuts text to [`MAX_BODY_IN_ERROR`] characters (on a character boundary) and marks the cut.
pub(crate) fn truncate_body(text: &str) -> String {
    let trimmed = text.trim();
    match trimmed.char_indices().nth(MAX_BODY_IN_ERROR) {
        Some((cut, _)) => format!("{}... (truncated)", &trimmed[..cut]),
        None => trimmed.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).expect("test URL")
    }

    #[test]
    fn redact_url_hides_every_secret_bearing_value() {
        let shown = redact_url(&url(
            "http://h:90/SYSPROWCFService/Rest/Logon?Operator=ADMIN&OperatorPassword=p%40ss&\
             CompanyId=EDU1&CompanyPassword=co&LanguageCode=05",
        ));
        assert_eq!(
            shown,
            "http://h:90/SYSPROWCFService/Rest/Logon?Operator=***&OperatorPassword=***&\
             CompanyId=***&CompanyPassword=***&LanguageCode=***"
        );
    }

    #[test]
    fn redact_url_keeps_harmless_values_and_hides_session_ids() {
        let shown = redact_url(&url(
            "http://h/Rest/Query/Query?UserId=3EA6%20%20&BusinessObject=COMFND&XmlIn=%3CQuery%2F%3E",
        ));
        assert_eq!(
            shown,
            "http://h/Rest/Query/Query?UserId=***&BusinessObject=COMFND&XmlIn=***"
        );
    }

    #[test]
    fn redact_url_removes_user_info_fragment_and_filters() {
        let shown = redact_url(&url(
            "https://op:odatapw@erp/SYSPROOData/ArCustomer?$filter=Email%20eq%20'a%40b'&$top=5#x",
        ));
        assert_eq!(
            shown,
            "https://erp/SYSPROOData/ArCustomer?$filter=***&$top=5"
        );
        assert!(!shown.contains("odatapw"));
    }

    #[test]
    fn redact_url_handles_bare_flags_and_no_query() {
        assert_eq!(
            redact_url(&url("http://h/a?flag&b=1")),
            "http://h/a?flag&b=***"
        );
        assert_eq!(
            redact_url(&url("http://h/a/GetVersion")),
            "http://h/a/GetVersion"
        );
    }

    #[test]
    fn scrubber_removes_secrets_but_ignores_tiny_ones() {
        let scrubber = Scrubber::new(["hunter22", "ab", ""]);
        assert_eq!(
            scrubber.scrub("password hunter22 is wrong; ab stays"),
            "password *** is wrong; ab stays"
        );
        let with_id = scrubber.with("SESSION-1");
        assert_eq!(with_id.scrub("id SESSION-1 and hunter22"), "id *** and ***");
        assert!(!format!("{with_id:?}").contains("hunter22"));
    }

    #[test]
    fn truncate_body_cuts_on_char_boundaries() {
        let long = "é".repeat(MAX_BODY_IN_ERROR + 10);
        let cut = truncate_body(&long);
        assert!(cut.ends_with("... (truncated)"));
        assert_eq!(cut.chars().filter(|c| *c == 'é').count(), MAX_BODY_IN_ERROR);
        assert_eq!(truncate_body("  short  "), "short");
    }

    #[test]
    fn retry_classification() {
        assert!(
            Error::Timeout {
                call: "x".into(),
                url: "u".into()
            }
            .is_retryable()
        );
        assert!(
            Error::SessionInvalid {
                business_object: None
            }
            .is_retryable()
        );
        let status = |status| Error::Status {
            call: "x".into(),
            url: "u".into(),
            status,
            body: String::new(),
        };
        assert!(status(503).is_retryable());
        assert!(status(429).is_retryable());
        assert!(!status(404).is_retryable());
        assert!(status(500).is_outcome_unknown());
        assert!(!status(429).is_outcome_unknown());
        let rejected = Error::Rejected {
            business_object: Some("ARSTIN".into()),
            message: "bad".into(),
        };
        assert!(!rejected.is_retryable());
        assert!(!rejected.is_outcome_unknown());
        assert_eq!(rejected.to_string(), "SYSPRO rejected ARSTIN: bad");
        assert!(
            !Error::NotLicensed {
                business_object: None,
                message: "x".into()
            }
            .is_retryable()
        );
        assert!(
            !Error::LogonFailed {
                message: "x".into()
            }
            .is_retryable()
        );
    }
}
