//! Credentials for Commerce: OAuth 1.0a integrations, bearer tokens and Adobe IMS server-to-server.
//!
//! Every secret is held in a [`SecretString`], whose `Debug` prints a redaction marker, and header
//! values built from secrets are marked sensitive so `HeaderMap`'s `Debug` hides them too.
//!
//! OAuth 1.0a follows RFC 5849 with Commerce's particulars (see the API notes §5.1): HMAC-SHA256 only,
//! nonces of at most 32 alphanumerics, query parameters signed (searchCriteria brackets, `fields`),
//! JSON bodies never signed, and searchCriteria indexes kept to one digit because Commerce releases
//! disagree on how `[10]` sorts against `[2]`.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use base64::Engine as _;
use hmac::{EagerHash, Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use time::OffsetDateTime;
use url::Url;

use crate::client::{Clock, HttpRequest, HttpTransport, TransportFailure, TransportFailureKind};
use crate::error::{AuthError, Error, TimeoutLayer};

/// Adobe's IMS token endpoint for server-to-server credentials.
pub const DEFAULT_IMS_TOKEN_URL: &str = "https://ims-na1.adobelogin.com/ims/token/v3";

/// Scopes Adobe documents for Adobe Commerce as a Cloud Service.
pub const DEFAULT_IMS_SCOPES: &[&str] = &[
    "AdobeID",
    "openid",
    "email",
    "profile",
    "additional_info.roles",
    "additional_info.projectedProductContext",
    "commerce.accs",
];

/// How long before its stated expiry an IMS token is replaced, by default.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// Longest nonce Commerce can store (`oauth_nonce.nonce varchar(32)`).
pub const MAX_NONCE_LEN: usize = 32;

/// How the client proves who it is.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// An integration's four OAuth 1.0a values (PaaS); every request is signed.
    OAuth1(OAuth1Credentials),
    /// A fixed bearer token: an integration access token (needs the "standalone Bearer" option on
    /// 2.4.4+), an admin token, or an IMS token obtained elsewhere.
    Bearer(SecretString),
    /// Adobe IMS OAuth 2.0 client credentials (SaaS); tokens are fetched, cached and refreshed.
    Ims(ImsCredentials),
}

impl Credentials {
    /// OAuth 1.0a integration credentials, as shown on the integration's page in the Admin.
    pub fn oauth1(
        consumer_key: impl Into<String>,
        consumer_secret: impl Into<String>,
        access_token: impl Into<String>,
        access_token_secret: impl Into<String>,
    ) -> Self {
        Credentials::OAuth1(OAuth1Credentials {
            consumer_key: SecretString::from(consumer_key.into()),
            consumer_secret: SecretString::from(consumer_secret.into()),
            access_token: SecretString::from(access_token.into()),
            access_token_secret: SecretString::from(access_token_secret.into()),
        })
    }

    /// A fixed bearer token.
    pub fn bearer(token: impl Into<String>) -> Self {
        Credentials::Bearer(SecretString::from(token.into()))
    }

    /// IMS client credentials; see [`ImsCredentials::new`] for the defaults.
    pub fn ims(credentials: ImsCredentials) -> Self {
        Credentials::Ims(credentials)
    }
}

/// The four values of a Commerce integration. All are treated as secrets.
#[derive(Debug, Clone)]
pub struct OAuth1Credentials {
    /// `oauth_consumer_key`.
    pub consumer_key: SecretString,
    /// Consumer secret: first half of the signing key.
    pub consumer_secret: SecretString,
    /// `oauth_token`.
    pub access_token: SecretString,
    /// Access token secret: second half of the signing key.
    pub access_token_secret: SecretString,
}

/// Adobe IMS OAuth 2.0 server-to-server credentials.
#[derive(Debug, Clone)]
pub struct ImsCredentials {
    client_id: String,
    client_secret: SecretString,
    scopes: Vec<String>,
    org_id: Option<String>,
    token_url: String,
    refresh_margin: Duration,
    send_api_key: bool,
}

impl ImsCredentials {
    /// Client credentials from the Developer Console project. Defaults: Adobe's token endpoint,
    /// the Commerce scopes ([`DEFAULT_IMS_SCOPES`]), refresh 5 minutes before expiry, `x-api-key` sent
    /// with the client id, no `x-gw-ims-org-id`.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        ImsCredentials {
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
            scopes: DEFAULT_IMS_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            org_id: None,
            token_url: DEFAULT_IMS_TOKEN_URL.to_owned(),
            refresh_margin: DEFAULT_REFRESH_MARGIN,
            send_api_key: true,
        }
    }

    /// Replaces the requested scopes.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sends `x-gw-ims-org-id` with every API call.
    pub fn org_id(mut self, org_id: impl Into<String>) -> Self {
        self.org_id = Some(org_id.into());
        self
    }

    /// Uses another token endpoint (another IMS region, or a local fake in tests).
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = url.into();
        self
    }

    /// How long before the stated expiry a token is replaced.
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// Whether `x-api-key: <client id>` is sent with API calls (Adobe's sample client does).
    pub fn send_api_key(mut self, send: bool) -> Self {
        self.send_api_key = send;
        self
    }
}

// ---- RFC 3986 encoding ----------------------------------------------------------------------------

/// Everything but RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`), which is what RFC 5849 and
/// PHP's `rawurlencode` both use.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes per RFC 3986 (space is `%20`, never `+`).
pub fn percent_encode(value: &str) -> String {
    utf8_percent_encode(value, RFC3986).to_string()
}

/// Splits a query string the way RFC 5849 §3.4.1.3.1 reads it: pairs on `&`, name and value on the
/// first `=`, percent-decoded without treating `+` as a space.
pub fn decode_query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            (
                percent_decode_str(name).decode_utf8_lossy().into_owned(),
                percent_decode_str(value).decode_utf8_lossy().into_owned(),
            )
        })
        .collect()
}

// ---- OAuth 1.0a signing -----------------------------------------------------------------------------

/// A signature method for OAuth 1.0a: its protocol name and the keyed function.
pub trait SignatureMethod: Send + Sync {
    /// The `oauth_signature_method` value.
    fn name(&self) -> &str;
    /// Signs `text` with `key`, returning the raw signature bytes.
    fn sign(&self, key: &[u8], text: &[u8]) -> Vec<u8>;
}

/// HMAC over any eager hash; Commerce accepts only SHA-256 since 2.4.4.
pub struct HmacMethod<D> {
    name: &'static str,
    hash: PhantomData<fn() -> D>,
}

impl<D> HmacMethod<D> {
    /// An HMAC method announced under `name` (for example `HMAC-SHA1`).
    pub const fn new(name: &'static str) -> Self {
        HmacMethod {
            name,
            hash: PhantomData,
        }
    }
}

impl<D> fmt::Debug for HmacMethod<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("HmacMethod").field(&self.name).finish()
    }
}

impl<D> Clone for HmacMethod<D> {
    fn clone(&self) -> Self {
        HmacMethod::new(self.name)
    }
}

impl<D: EagerHash> SignatureMethod for HmacMethod<D>
where
    Hmac<D>: KeyInit + Mac,
{
    fn name(&self) -> &str {
        self.name
    }

    fn sign(&self, key: &[u8], text: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<D> as KeyInit>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(text);
        mac.finalize().into_bytes().to_vec()
    }
}

/// HMAC-SHA256, the only method Commerce 2.4.4+ accepts.
pub type HmacSha256 = HmacMethod<sha2::Sha256>;

/// The HMAC-SHA256 method value.
pub const HMAC_SHA256: HmacSha256 = HmacMethod::new("HMAC-SHA256");

/// The base string URI of RFC 5849 §3.4.1.2: lowercase scheme and host, default port dropped, the
/// path exactly as sent, no query or fragment.
pub fn base_string_uri(url: &Url) -> String {
    let scheme = url.scheme().to_ascii_lowercase();
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    };
    let port = url
        .port()
        .filter(|p| Some(*p) != default_port)
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    format!("{scheme}://{host}{port}{}", url.path())
}

/// The signature base string of RFC 5849 §3.4.1: method, base string URI and the normalised
/// parameters (each name and value encoded, sorted by name then value in byte order).
pub fn signature_base_string(method: &str, url: &Url, params: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    encoded.sort();
    let normalised = encoded
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        percent_encode(&base_string_uri(url)),
        percent_encode(&normalised)
    )
}

/// Refuses query names with a bracketed index of two or more digits (`[10]`): Commerce's releases
/// sort such names differently (natural order, raw-key order, byte order), so no single signature
/// is accepted by all of them.
pub fn check_search_criteria_indexes(params: &[(String, String)]) -> Result<(), Error> {
    for (name, _) in params {
        let mut rest = name.as_str();
        while let Some(open) = rest.find('[') {
            let after = &rest[open + 1..];
            let Some(close) = after.find(']') else { break };
            let inner = &after[..close];
            if inner.len() >= 2 && inner.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::invalid(
                    format!("query parameter `{name}`"),
                    "searchCriteria indexes from 0 to 9 (at most 10 filter groups, 10 filters per \
                     group and 10 sort orders), because Commerce releases sort two-digit indexes \
                     differently when checking OAuth signatures",
                ));
            }
            rest = &after[close + 1..];
        }
    }
    Ok(())
}

/// A random nonce of [`MAX_NONCE_LEN`] ASCII alphanumerics.
pub fn generate_nonce() -> String {
    use rand::RngExt as _;
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(MAX_NONCE_LEN)
        .map(char::from)
        .collect()
}

/// Signs requests with OAuth 1.0a for one integration.
pub struct OAuth1Signer<M = HmacSha256> {
    credentials: OAuth1Credentials,
    method: M,
    include_version: bool,
}

impl<M> fmt::Debug for OAuth1Signer<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth1Signer")
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl<M: SignatureMethod> OAuth1Signer<M> {
    /// A signer that sends `oauth_version="1.0"` (optional in OAuth, accepted by Commerce).
    pub fn new(credentials: OAuth1Credentials, method: M) -> Self {
        OAuth1Signer {
            credentials,
            method,
            include_version: true,
        }
    }

    /// Whether `oauth_version` is sent and signed.
    pub fn include_version(mut self, include: bool) -> Self {
        self.include_version = include;
        self
    }

    fn protocol_params(&self, nonce: &str, timestamp: u64) -> Vec<(String, String)> {
        let mut params = vec![
            (
                "oauth_consumer_key".to_owned(),
                self.credentials.consumer_key.expose_secret().to_owned(),
            ),
            ("oauth_nonce".to_owned(), nonce.to_owned()),
            (
                "oauth_signature_method".to_owned(),
                self.method.name().to_owned(),
            ),
            ("oauth_timestamp".to_owned(), timestamp.to_string()),
            (
                "oauth_token".to_owned(),
                self.credentials.access_token.expose_secret().to_owned(),
            ),
        ];
        if self.include_version {
            params.push(("oauth_version".to_owned(), "1.0".to_owned()));
        }
        params
    }

    /// The base64 signature for a request whose query parameters are those of `url`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the nonce is not 1..=32 alphanumerics or a query name carries a
    /// two-digit index.
    pub fn signature(
        &self,
        method: &Method,
        url: &Url,
        nonce: &str,
        timestamp: u64,
    ) -> Result<String, Error> {
        if nonce.is_empty()
            || nonce.len() > MAX_NONCE_LEN
            || !nonce.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(Error::invalid(
                "oauth_nonce",
                "1 to 32 ASCII letters or digits",
            ));
        }
        let query = decode_query_pairs(url.query().unwrap_or_default());
        check_search_criteria_indexes(&query)?;
        // Commerce reads the query into a PHP array, so a repeated name keeps only its last value
        // and the signatures would differ.
        let mut names: Vec<&str> = query.iter().map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(Error::invalid(
                format!("query parameter `{}`", pair[0]),
                "each query parameter name at most once (Commerce keeps only the last value)",
            ));
        }
        let mut params = self.protocol_params(nonce, timestamp);
        params.extend(query);
        let base = signature_base_string(method.as_str(), url, &params);
        let key = format!(
            "{}&{}",
            percent_encode(self.credentials.consumer_secret.expose_secret()),
            percent_encode(self.credentials.access_token_secret.expose_secret())
        );
        let raw = self.method.sign(key.as_bytes(), base.as_bytes());
        Ok(base64::engine::general_purpose::STANDARD.encode(raw))
    }

    /// The `Authorization` header value in the form Commerce itself emits: every name and value
    /// percent-encoded and quoted, comma-separated, in sorted order.
    ///
    /// # Errors
    /// As [`OAuth1Signer::signature`].
    pub fn authorization(
        &self,
        method: &Method,
        url: &Url,
        nonce: &str,
        timestamp: u64,
    ) -> Result<String, Error> {
        let signature = self.signature(method, url, nonce, timestamp)?;
        let mut params = self.protocol_params(nonce, timestamp);
        params.push(("oauth_signature".to_owned(), signature));
        params.sort();
        let parts = params
            .iter()
            .map(|(k, v)| format!("{}=\"{}\"", percent_encode(k), percent_encode(v)))
            .collect::<Vec<_>>()
            .join(", ");
        Ok(format!("OAuth {parts}"))
    }
}

// ---- the provider used by the client ------------------------------------------------------------

/// Everything the provider needs from the client to obtain credentials.
pub(crate) struct AuthContext<'a> {
    pub transport: &'a dyn HttpTransport,
    pub clock: &'a dyn Clock,
    pub attempt_timeout: Duration,
    pub connect_timeout: Duration,
    pub user_agent: &'a HeaderValue,
}

/// Headers to add to one attempt, and which cached token they came from.
pub(crate) struct Authorization {
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Generation of the cached token used, for invalidation after a 401.
    pub token_generation: Option<u64>,
}

/// The credentials in the form the client uses them.
pub(crate) enum Authorizer {
    OAuth1(OAuth1Signer<HmacSha256>),
    Bearer(HeaderValue),
    Ims(Box<ImsTokenCache>),
}

impl fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Authorizer::OAuth1(_) => "Authorizer::OAuth1",
            Authorizer::Bearer(_) => "Authorizer::Bearer",
            Authorizer::Ims(_) => "Authorizer::Ims",
        })
    }
}

fn sensitive_header(value: &str, credential: &'static str) -> Result<HeaderValue, Error> {
    let mut header = HeaderValue::from_str(value)
        .map_err(|_| Error::Auth(AuthError::InvalidCredential { credential }))?;
    header.set_sensitive(true);
    Ok(header)
}

impl Authorizer {
    pub(crate) fn new(credentials: Credentials) -> Result<Self, Error> {
        match credentials {
            Credentials::OAuth1(creds) => {
                for (value, name) in [
                    (&creds.consumer_key, "oauth consumer key"),
                    (&creds.access_token, "oauth access token"),
                ] {
                    if value.expose_secret().is_empty() {
                        return Err(Error::invalid(name, "a non-empty value"));
                    }
                }
                Ok(Authorizer::OAuth1(OAuth1Signer::new(creds, HMAC_SHA256)))
            }
            Credentials::Bearer(token) => {
                let token = token.expose_secret().trim();
                if token.is_empty() {
                    return Err(Error::invalid("bearer token", "a non-empty token"));
                }
                Ok(Authorizer::Bearer(sensitive_header(
                    &format!("Bearer {token}"),
                    "bearer token",
                )?))
            }
            Credentials::Ims(creds) => Ok(Authorizer::Ims(Box::new(ImsTokenCache::new(creds)?))),
        }
    }

    /// Whether a 401 may be cured by fetching a new token.
    pub(crate) fn can_refresh(&self) -> bool {
        matches!(self, Authorizer::Ims(_))
    }

    pub(crate) async fn authorize(
        &self,
        method: &Method,
        url: &Url,
        ctx: &AuthContext<'_>,
    ) -> Result<Authorization, Error> {
        match self {
            Authorizer::OAuth1(signer) => {
                let timestamp = u64::try_from(ctx.clock.now().unix_timestamp()).map_err(|_| {
                    Error::invalid("clock", "a wall-clock time after 1970 for oauth_timestamp")
                })?;
                let header = signer.authorization(method, url, &generate_nonce(), timestamp)?;
                Ok(Authorization {
                    headers: vec![(AUTHORIZATION, sensitive_header(&header, "oauth header")?)],
                    token_generation: None,
                })
            }
            Authorizer::Bearer(value) => Ok(Authorization {
                headers: vec![(AUTHORIZATION, value.clone())],
                token_generation: None,
            }),
            Authorizer::Ims(cache) => cache.authorize(ctx).await,
        }
    }

    /// Forgets the token of `generation` after Commerce refused it.
    pub(crate) async fn invalidate(&self, generation: Option<u64>) {
        if let (Authorizer::Ims(cache), Some(generation)) = (self, generation) {
            cache.invalidate(generation).await;
        }
    }
}

#[derive(Clone)]
struct CachedToken {
    header: HeaderValue,
    refresh_at: OffsetDateTime,
    generation: u64,
}

/// IMS token cache with single flight: the async mutex is held while a token is fetched, so callers
/// that arrive meanwhile wait for that one fetch and then reuse its token.
pub(crate) struct ImsTokenCache {
    credentials: ImsCredentials,
    token_url: Url,
    extra_headers: Vec<(HeaderName, HeaderValue)>,
    state: tokio::sync::Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    token: Option<CachedToken>,
    generation: u64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(deserialize_with = "crate::webhook::lenient::u64_from_number_or_string")]
    expires_in: u64,
}

#[derive(Deserialize, Default)]
struct TokenErrorAnswer {
    error: Option<String>,
    error_description: Option<String>,
}

impl ImsTokenCache {
    fn new(credentials: ImsCredentials) -> Result<Self, Error> {
        if credentials.client_id.trim().is_empty() {
            return Err(Error::invalid("IMS client id", "a non-empty client id"));
        }
        let token_url = Url::parse(&credentials.token_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.username().is_empty())
            .ok_or_else(|| {
                Error::invalid(
                    "IMS token URL",
                    "an absolute http(s) URL without user info, such as \
                     https://ims-na1.adobelogin.com/ims/token/v3",
                )
            })?;
        let mut extra_headers = Vec::new();
        if credentials.send_api_key {
            let value = HeaderValue::from_str(&credentials.client_id)
                .map_err(|_| Error::invalid("IMS client id", "printable ASCII"))?;
            extra_headers.push((HeaderName::from_static("x-api-key"), value));
        }
        if let Some(org) = &credentials.org_id {
            let value = HeaderValue::from_str(org)
                .map_err(|_| Error::invalid("IMS org id", "printable ASCII"))?;
            extra_headers.push((HeaderName::from_static("x-gw-ims-org-id"), value));
        }
        Ok(ImsTokenCache {
            credentials,
            token_url,
            extra_headers,
            state: tokio::sync::Mutex::new(CacheState::default()),
        })
    }

    async fn authorize(&self, ctx: &AuthContext<'_>) -> Result<Authorization, Error> {
        let mut state = self.state.lock().await;
        let now = ctx.clock.now();
        let token = match &state.token {
            Some(token) if now < token.refresh_at => token.clone(),
            _ => {
                let fetched = self.fetch(ctx).await?;
                state.generation += 1;
                let lifetime = Duration::from_secs(fetched.expires_in);
                // A margin larger than the lifetime would make every token stale on arrival.
                let margin = self.credentials.refresh_margin.min(lifetime / 2);
                let token = CachedToken {
                    header: sensitive_header(
                        &format!("Bearer {}", fetched.access_token),
                        "IMS access token",
                    )?,
                    refresh_at: now + (lifetime - margin),
                    generation: state.generation,
                };
                state.token = Some(token.clone());
                tracing::debug!(
                    generation = token.generation,
                    "obtained a new IMS access token"
                );
                token
            }
        };
        drop(state);
        let mut headers = vec![(AUTHORIZATION, token.header)];
        headers.extend(self.extra_headers.iter().cloned());
        Ok(Authorization {
            headers,
            token_generation: Some(token.generation),
        })
    }

    async fn invalidate(&self, generation: u64) {
        let mut state = self.state.lock().await;
        if state
            .token
            .as_ref()
            .is_some_and(|t| t.generation == generation)
        {
            state.token = None;
        }
    }

    async fn fetch(&self, ctx: &AuthContext<'_>) -> Result<TokenAnswer, Error> {
        let creds = &self.credentials;
        let body = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&scope={}",
            percent_encode(&creds.client_id),
            percent_encode(creds.client_secret.expose_secret()),
            percent_encode(&creds.scopes.join(","))
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(reqwest::header::USER_AGENT, ctx.user_agent.clone());
        let request = HttpRequest {
            method: Method::POST,
            url: self.token_url.clone(),
            headers,
            body: Some(body.into_bytes()),
        };
        let path = self.token_url.path().to_owned();
        let answer =
            match tokio::time::timeout(ctx.attempt_timeout, ctx.transport.send(request)).await {
                Err(_) => {
                    return Err(AuthError::TokenTransport(Box::new(Error::Timeout {
                        layer: TimeoutLayer::Attempt,
                        after: ctx.attempt_timeout,
                    }))
                    .into());
                }
                Ok(Err(failure)) => {
                    return Err(AuthError::TokenTransport(Box::new(failure.into_error(
                        &Method::POST,
                        &path,
                        ctx.connect_timeout,
                    )))
                    .into());
                }
                Ok(Ok(answer)) => answer,
            };
        if !(200..300).contains(&answer.status) {
            let parsed: TokenErrorAnswer = serde_json::from_slice(&answer.body).unwrap_or_default();
            return Err(AuthError::TokenRejected {
                status: answer.status,
                error_code: parsed.error,
                description: parsed.error_description,
            }
            .into());
        }
        let mut de = serde_json::Deserializer::from_slice(&answer.body);
        serde_path_to_error::deserialize::<_, TokenAnswer>(&mut de).map_err(|e| {
            let path = e.path().to_string();
            AuthError::TokenDecode {
                path,
                source: e.into_inner(),
            }
            .into()
        })
    }
}

impl TransportFailure {
    pub(crate) fn into_error(
        self,
        method: &Method,
        path: &str,
        connect_timeout: Duration,
    ) -> Error {
        let kind = match self.kind {
            TransportFailureKind::ConnectTimeout => {
                return Error::Timeout {
                    layer: TimeoutLayer::Connect,
                    after: connect_timeout,
                };
            }
            TransportFailureKind::Connect => crate::error::TransportErrorKind::Connect,
            TransportFailureKind::Request => crate::error::TransportErrorKind::Request,
            TransportFailureKind::Body => crate::error::TransportErrorKind::Body,
        };
        Error::Transport {
            kind,
            method: method.as_str().to_owned(),
            path: path.to_owned(),
            source: self.source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("test URL")
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    type HmacSha1 = HmacMethod<sha1::Sha1>;

    #[test]
    fn rfc3986_encoding_uses_percent_20_and_keeps_unreserved() {
        assert_eq!(percent_encode("a b+c"), "a%20b%2Bc");
        assert_eq!(percent_encode("-._~AZaz09"), "-._~AZaz09");
        assert_eq!(percent_encode("[]=&/:é"), "%5B%5D%3D%26%2F%3A%C3%A9");
    }

    #[test]
    fn base_string_uri_normalises_scheme_host_and_default_ports() {
        assert_eq!(
            base_string_uri(&url("HTTP://WWW.EXAMPLE.COM:80/REQUEST")),
            "http://www.example.com/REQUEST"
        );
        assert_eq!(
            base_string_uri(&url("https://www.example.net:8080/?q=1")),
            "https://www.example.net:8080/"
        );
        assert_eq!(
            base_string_uri(&url(
                "https://Shop.Example.com:443/rest/V1/products/A%2FB?x=1#f"
            )),
            "https://shop.example.com/rest/V1/products/A%2FB"
        );
    }

    /// RFC 5849 §3.4.1.1 example: query, form body and protocol parameters in one base string.
    #[test]
    fn rfc5849_base_string_example() {
        let request = url("http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b");
        let mut params = decode_query_pairs(request.query().unwrap_or_default());
        // The form-encoded body `c2&a3=2+q` (where `+` is a space in form encoding).
        params.extend(pairs(&[("c2", ""), ("a3", "2 q")]));
        params.extend(pairs(&[
            ("oauth_consumer_key", "9djdj82h48djs9d2"),
            ("oauth_token", "kkk9d7dh3k39sjv7"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131201"),
            ("oauth_nonce", "7d8f3e4a"),
        ]));
        assert_eq!(
            signature_base_string("POST", &request, &params),
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
        );
    }

    /// OAuth Core 1.0 Appendix A.5 (HMAC-SHA1).
    #[test]
    fn oauth_core_1_0_hmac_sha1_example() {
        let signer = OAuth1Signer::new(
            OAuth1Credentials {
                consumer_key: "dpf43f3p2l4k3l03".into(),
                consumer_secret: "kd94hf93k423kf44".into(),
                access_token: "nnch734d00sl2jdk".into(),
                access_token_secret: "pfkkdhi9sl3r4s00".into(),
            },
            HmacSha1::new("HMAC-SHA1"),
        );
        let request = url("http://photos.example.net/photos?file=vacation.jpg&size=original");
        let signature = signer
            .signature(&Method::GET, &request, "kllo9940pd9333jh", 1_191_242_096)
            .expect("signature");
        assert_eq!(signature, "tR3+Ty81lMeYAr/Fid0kMTYa/WM=");
    }

    fn magento_vector_signer() -> OAuth1Signer {
        OAuth1Signer::new(
            OAuth1Credentials {
                consumer_key: "0123456789abcdefghijklmnopqrstuv".into(),
                consumer_secret: "vutsrqponmlkjihgfedcba9876543210".into(),
                access_token: "abcdefghijklmnopqrstuvwxyz012345".into(),
                access_token_secret: "543210zyxwvutsrqponmlkjihgfedcba".into(),
            },
            HMAC_SHA256,
        )
    }

    const VECTOR_NONCE: &str = "n0nce0123456789abcdefABCDEF01234";
    const VECTOR_TIMESTAMP: u64 = 1_700_000_000;
    const V2_QUERY: &str = "searchCriteria%5Bfilter_groups%5D%5B0%5D%5Bfilters%5D%5B0%5D%5Bfield%5D=updated_at&searchCriteria%5Bfilter_groups%5D%5B0%5D%5Bfilters%5D%5B0%5D%5Bvalue%5D=2024-01-01%2000%3A00%3A00&searchCriteria%5Bfilter_groups%5D%5B0%5D%5Bfilters%5D%5B0%5D%5Bcondition_type%5D=gteq&searchCriteria%5BsortOrders%5D%5B0%5D%5Bfield%5D=entity_id&searchCriteria%5BsortOrders%5D%5B0%5D%5Bdirection%5D=ASC&searchCriteria%5BpageSize%5D=100&searchCriteria%5BcurrentPage%5D=1";

    #[test]
    fn hmac_sha256_vector_v1_plain_get() {
        let signature = magento_vector_signer()
            .signature(
                &Method::GET,
                &url("https://magento.example.com/rest/default/V1/orders/42"),
                VECTOR_NONCE,
                VECTOR_TIMESTAMP,
            )
            .expect("signature");
        assert_eq!(signature, "mlxMb0BplZBCXHQoEIryStpg9jkf9uHn/mAvoNcaLMI=");
    }

    #[test]
    fn hmac_sha256_vector_v2_search_criteria() {
        let request = url(&format!(
            "https://magento.example.com/rest/default/V1/orders?{V2_QUERY}"
        ));
        let signer = magento_vector_signer();
        let mut params = signer.protocol_params(VECTOR_NONCE, VECTOR_TIMESTAMP);
        params.extend(decode_query_pairs(request.query().unwrap_or_default()));
        assert_eq!(
            signature_base_string("GET", &request, &params),
            "GET&https%3A%2F%2Fmagento.example.com%2Frest%2Fdefault%2FV1%2Forders&oauth_consumer_key%3D0123456789abcdefghijklmnopqrstuv%26oauth_nonce%3Dn0nce0123456789abcdefABCDEF01234%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dabcdefghijklmnopqrstuvwxyz012345%26oauth_version%3D1.0%26searchCriteria%255BcurrentPage%255D%3D1%26searchCriteria%255Bfilter_groups%255D%255B0%255D%255Bfilters%255D%255B0%255D%255Bcondition_type%255D%3Dgteq%26searchCriteria%255Bfilter_groups%255D%255B0%255D%255Bfilters%255D%255B0%255D%255Bfield%255D%3Dupdated_at%26searchCriteria%255Bfilter_groups%255D%255B0%255D%255Bfilters%255D%255B0%255D%255Bvalue%255D%3D2024-01-01%252000%253A00%253A00%26searchCriteria%255BpageSize%255D%3D100%26searchCriteria%255BsortOrders%255D%255B0%255D%255Bdirection%255D%3DASC%26searchCriteria%255BsortOrders%255D%255B0%255D%255Bfield%255D%3Dentity_id"
        );
        let header = signer
            .authorization(&Method::GET, &request, VECTOR_NONCE, VECTOR_TIMESTAMP)
            .expect("header");
        assert_eq!(
            header,
            "OAuth oauth_consumer_key=\"0123456789abcdefghijklmnopqrstuv\", oauth_nonce=\"n0nce0123456789abcdefABCDEF01234\", oauth_signature=\"lFWSbAHw7DiGN8JP8%2Fca83rqEDD%2BpukRF3w2sRRfgD0%3D\", oauth_signature_method=\"HMAC-SHA256\", oauth_timestamp=\"1700000000\", oauth_token=\"abcdefghijklmnopqrstuvwxyz012345\", oauth_version=\"1.0\""
        );
    }

    #[test]
    fn hmac_sha256_vector_v3_json_body_is_not_signed() {
        let signature = magento_vector_signer()
            .signature(
                &Method::POST,
                &url("https://magento.example.com/rest/default/V1/orders/42/comments"),
                VECTOR_NONCE,
                VECTOR_TIMESTAMP,
            )
            .expect("signature");
        assert_eq!(signature, "MSWRpsdOeDI4E12uGBIUI8PzwgHcHtd91Tyef12ZBkI=");
    }

    /// V4: the RFC 5849 signature of a two-digit index is reproducible, yet the signer refuses the
    /// request because older Commerce releases compute a different one.
    #[test]
    fn hmac_sha256_vector_v4_rfc_value_and_refusal() {
        let mut query = Vec::new();
        for (index, value) in [(1, "S1"), (2, "S2"), (10, "S10")] {
            let prefix = format!("searchCriteria[filter_groups][0][filters][{index}]");
            query.push((format!("{prefix}[field]"), "sku".to_owned()));
            query.push((format!("{prefix}[value]"), value.to_owned()));
        }
        let text = query
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request = url(&format!(
            "https://magento.example.com/rest/V1/products?{text}"
        ));
        let signer = magento_vector_signer();
        let mut params = signer.protocol_params(VECTOR_NONCE, VECTOR_TIMESTAMP);
        params.extend(query);
        let base = signature_base_string("GET", &request, &params);
        let key = "vutsrqponmlkjihgfedcba9876543210&543210zyxwvutsrqponmlkjihgfedcba";
        let rfc = base64::engine::general_purpose::STANDARD
            .encode(HMAC_SHA256.sign(key.as_bytes(), base.as_bytes()));
        assert_eq!(rfc, "HqUrvpSFIynevcuD3q9Odb31aMfp37pMi3HRIj03/ag=");
        assert!(matches!(
            signer.signature(&Method::GET, &request, VECTOR_NONCE, VECTOR_TIMESTAMP),
            Err(Error::InvalidInput { .. })
        ));
    }

    #[test]
    fn two_digit_indexes_are_refused() {
        let request = url(
            "https://magento.example.com/rest/V1/products?searchCriteria%5Bfilter_groups%5D%5B0%5D%5Bfilters%5D%5B10%5D%5Bfield%5D=sku",
        );
        let err = magento_vector_signer()
            .signature(&Method::GET, &request, VECTOR_NONCE, VECTOR_TIMESTAMP)
            .expect_err("index 10 must be refused");
        assert!(matches!(err, Error::InvalidInput { .. }));
        assert!(err.to_string().contains("[10]"));
        let nine = url(
            "https://magento.example.com/rest/V1/products?searchCriteria%5Bfilter_groups%5D%5B9%5D%5Bfilters%5D%5B9%5D%5Bfield%5D=sku",
        );
        assert!(
            magento_vector_signer()
                .signature(&Method::GET, &nine, VECTOR_NONCE, VECTOR_TIMESTAMP)
                .is_ok()
        );
    }

    #[test]
    fn repeated_query_names_are_refused() {
        let err = magento_vector_signer()
            .signature(
                &Method::GET,
                &url("https://x.example/rest/V1/orders?fields=a&fields=b"),
                VECTOR_NONCE,
                VECTOR_TIMESTAMP,
            )
            .expect_err("duplicate");
        assert!(err.to_string().contains("`fields`"), "{err}");
    }

    #[test]
    fn nonces_are_32_alphanumerics_and_vary() {
        let a = generate_nonce();
        let b = generate_nonce();
        assert_eq!(a.len(), MAX_NONCE_LEN);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
        let too_long = "a".repeat(33);
        assert!(
            magento_vector_signer()
                .signature(
                    &Method::GET,
                    &url("https://x.example/rest/V1/orders"),
                    &too_long,
                    1
                )
                .is_err()
        );
    }

    #[test]
    fn credentials_debug_is_redacted() {
        let creds = Credentials::oauth1("ck-visible?", "cs-SECRET", "at-SECRET", "ats-SECRET");
        let text = format!("{creds:?}");
        assert!(!text.contains("SECRET"));
        assert!(!text.contains("ck-visible"));
        let ims = Credentials::ims(ImsCredentials::new("client", "ims-SECRET"));
        assert!(!format!("{ims:?}").contains("SECRET"));
        assert!(!format!("{:?}", Credentials::bearer("tok-SECRET")).contains("SECRET"));
    }
}
