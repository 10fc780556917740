//! Connection settings for SYSPRO e.net REST ([`EnetConfig`]) and the SYSPRO OData service
//! ([`ODataConfig`]).
//!
//! Both are built with a validating builder: every host, port and path is site-specific (SYSPRO
//! has no default REST port), so the full base URL is always required and checked up front, and a
//! validation error names the field that is wrong.

use std::fmt;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::error::Error;

/// Default idle time after which SYSPRO is assumed to have dropped a session.
///
/// The real value is set per site in the e.net class ("Timeout (minutes)"); it is not part of the
/// API. Twenty minutes is a cautious guess that keeps a re-logon cheap and rare; set
/// [`EnetConfigBuilder::idle_timeout`] to the site's class timeout.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// Default head start for the proactive re-logon: a session idle for longer than
/// `idle_timeout - idle_margin` is replaced before the next call instead of failing on it.
pub const DEFAULT_IDLE_MARGIN: Duration = Duration::from_secs(60);
/// Default time allowed to open a TCP (and TLS) connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time allowed for one HTTP call. Posting a large batch can take SYSPRO a while.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// Default URL length above which `Transaction/Post` switches to `POST Transaction/PostLD`.
/// http.sys and WCF refuse very long URLs; 8 KiB stays well inside their usual limits.
pub const DEFAULT_URL_LENGTH_THRESHOLD: usize = 8 * 1024;

/// How `Transaction/Post` documents travel.
///
/// e.net normally takes the XML documents URL-encoded in the query string. SYSPRO 8 also offers
/// `POST /Transaction/PostLD` with the documents in an XML body, which avoids URL length limits but
/// may not exist on older installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LargeDocumentTransport {
    /// Use `PostLD` only when the GET URL would be longer than `url_length_threshold` bytes.
    Auto {
        /// The longest GET URL, in bytes, still sent as a GET.
        url_length_threshold: usize,
    },
    /// Always use `POST Transaction/PostLD` for posts.
    AlwaysPostLd,
    /// Never use `PostLD` (SYSPRO 7 and other installs without it); long posts are sent as GET.
    NeverPostLd,
}

impl Default for LargeDocumentTransport {
    fn default() -> Self {
        LargeDocumentTransport::Auto {
            url_length_threshold: DEFAULT_URL_LENGTH_THRESHOLD,
        }
    }
}

/// Settings for one e.net REST connection: one SYSPRO instance, company and operator.
///
/// Build with [`EnetConfig::builder`]. Passwords are kept as [`SecretString`] and never appear in
/// `Debug` output.
#[derive(Clone)]
pub struct EnetConfig {
    base_url: Url,
    company_id: String,
    operator: String,
    operator_password: SecretString,
    company_password: SecretString,
    language_code: Option<String>,
    idle_timeout: Duration,
    idle_margin: Duration,
    connect_timeout: Duration,
    call_timeout: Duration,
    large_documents: LargeDocumentTransport,
    own_thread: bool,
}

impl fmt::Debug for EnetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnetConfig")
            .field("base_url", &self.base_url.as_str())
            .field("company_id", &self.company_id)
            .field("operator", &self.operator)
            .field("operator_password", &"<redacted>")
            .field("company_password", &"<redacted>")
            .field("language_code", &self.language_code)
            .field("idle_timeout", &self.idle_timeout)
            .field("idle_margin", &self.idle_margin)
            .field("connect_timeout", &self.connect_timeout)
            .field("call_timeout", &self.call_timeout)
            .field("large_documents", &self.large_documents)
            .field("own_thread", &self.own_thread)
            .finish()
    }
}

impl EnetConfig {
    /// Starts a configuration with everything SYSPRO needs to log on.
    ///
    /// `base_url` is the full REST base, e.g. `http://erp01:20003/SYSPROWCFService/Rest` (the port
    /// is site-configured; there is no default). The company password defaults to empty, which is
    /// how SYSPRO expects a company without a password.
    pub fn builder(
        base_url: impl Into<String>,
        company_id: impl Into<String>,
        operator: impl Into<String>,
        operator_password: SecretString,
    ) -> EnetConfigBuilder {
        EnetConfigBuilder {
            base_url: base_url.into(),
            company_id: company_id.into(),
            operator: operator.into(),
            operator_password,
            company_password: SecretString::from(String::new()),
            language_code: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            idle_margin: DEFAULT_IDLE_MARGIN,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            large_documents: LargeDocumentTransport::default(),
            own_thread: false,
        }
    }

    /// Reads a configuration from the environment, for examples and quick checks:
    /// `SYSPRO_ENET_URL`, `SYSPRO_COMPANY_ID`, `SYSPRO_OPERATOR`, `SYSPRO_OPERATOR_PASSWORD`,
    /// and optionally `SYSPRO_COMPANY_PASSWORD` and `SYSPRO_LANGUAGE_CODE`. Other settings keep
    /// their defaults.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the variable that is missing or invalid.
    pub fn from_env() -> Result<EnetConfig, Error> {
        fn var(name: &str) -> Result<Option<String>, Error> {
            match std::env::var(name) {
                Ok(value) => Ok(Some(value)),
                Err(std::env::VarError::NotPresent) => Ok(None),
                Err(std::env::VarError::NotUnicode(_)) => {
                    Err(Error::invalid_input(name, "valid UTF-8 text"))
                }
            }
        }
        fn required(name: &str) -> Result<String, Error> {
            var(name)?.ok_or_else(|| Error::invalid_input(name, "the variable to be set"))
        }
        let mut builder = EnetConfig::builder(
            required("SYSPRO_ENET_URL")?,
            required("SYSPRO_COMPANY_ID")?,
            required("SYSPRO_OPERATOR")?,
            SecretString::from(required("SYSPRO_OPERATOR_PASSWORD")?),
        );
        if let Some(password) = var("SYSPRO_COMPANY_PASSWORD")? {
            builder = builder.company_password(SecretString::from(password));
        }
        if let Some(code) = var("SYSPRO_LANGUAGE_CODE")? {
            builder = builder.language_code(code);
        }
        builder.build().map_err(|err| match err {
            Error::InvalidInput { field, expected } => Error::InvalidInput {
                field: env_name(&field).map_or(field, str::to_owned),
                expected,
            },
            other => other,
        })
    }

    /// The REST base URL, always without a trailing slash in its path.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }
    /// The SYSPRO company id.
    pub fn company_id(&self) -> &str {
        &self.company_id
    }
    /// The SYSPRO operator code; SYSPRO allows one session per operator.
    pub fn operator(&self) -> &str {
        &self.operator
    }
    pub(crate) fn operator_password(&self) -> &SecretString {
        &self.operator_password
    }
    pub(crate) fn company_password(&self) -> &SecretString {
        &self.company_password
    }
    /// The language code sent at logon, if any.
    pub fn language_code(&self) -> Option<&str> {
        self.language_code.as_deref()
    }
    /// How long SYSPRO keeps an unused session.
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }
    /// How long before the idle timeout the session is replaced proactively.
    pub fn idle_margin(&self) -> Duration {
        self.idle_margin
    }
    /// Time allowed to open a connection.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }
    /// Time allowed for one HTTP call.
    pub fn call_timeout(&self) -> Duration {
        self.call_timeout
    }
    /// How posts choose between GET and `PostLD`.
    pub fn large_documents(&self) -> LargeDocumentTransport {
        self.large_documents
    }
    /// Whether session calls run on a thread of the client's own (see
    /// [`EnetConfigBuilder::own_thread`]).
    pub fn own_thread(&self) -> bool {
        self.own_thread
    }
}

/// Builder for [`EnetConfig`]; [`EnetConfigBuilder::build`] validates every field.
pub struct EnetConfigBuilder {
    base_url: String,
    company_id: String,
    operator: String,
    operator_password: SecretString,
    company_password: SecretString,
    language_code: Option<String>,
    idle_timeout: Duration,
    idle_margin: Duration,
    connect_timeout: Duration,
    call_timeout: Duration,
    large_documents: LargeDocumentTransport,
    own_thread: bool,
}

impl fmt::Debug for EnetConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnetConfigBuilder")
            .field("company_id", &self.company_id)
            .field("operator", &self.operator)
            .finish_non_exhaustive()
    }
}

impl EnetConfigBuilder {
    /// Sets the company password (empty by default).
    pub fn company_password(mut self, password: SecretString) -> Self {
        self.company_password = password;
        self
    }
    /// Sets the `LanguageCode` sent at logon (e.g. `05`); omitted by default.
    pub fn language_code(mut self, code: impl Into<String>) -> Self {
        self.language_code = Some(code.into());
        self
    }
    /// Sets the site's e.net class timeout (default [`DEFAULT_IDLE_TIMEOUT`]).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }
    /// Sets how early before the idle timeout the session is replaced (default
    /// [`DEFAULT_IDLE_MARGIN`]).
    pub fn idle_margin(mut self, margin: Duration) -> Self {
        self.idle_margin = margin;
        self
    }
    /// Sets the connect timeout (default [`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
    /// Sets the timeout of one HTTP call (default [`DEFAULT_CALL_TIMEOUT`]).
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }
    /// Sets how posts choose between GET and `PostLD` (default: automatic above 8 KiB).
    pub fn large_documents(mut self, transport: LargeDocumentTransport) -> Self {
        self.large_documents = transport;
        self
    }
    /// Runs every session call on a thread of the client's own, with its own single-threaded
    /// runtime (off by default).
    ///
    /// A call holds the session from its request until its answer is read. On a runtime busy
    /// with other work, the answer can wait to be read while the session, the one resource
    /// every SYSPRO call shares, stands idle. On its own thread the answer is read as it
    /// arrives and the next call goes out at once. A call whose caller stops waiting is
    /// abandoned as before. A client dropped without [`SysproClient::close`](crate::SysproClient::close)
    /// sends its best-effort logoff from that thread, wherever the drop happens (unless the
    /// process exits first).
    pub fn own_thread(mut self, own: bool) -> Self {
        self.own_thread = own;
        self
    }

    /// Checks every field and returns the configuration.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the first field that is wrong.
    pub fn build(self) -> Result<EnetConfig, Error> {
        let base_url = parse_base_url("base_url", &self.base_url)?;
        let company_id = required_code("company_id", &self.company_id)?;
        let operator = required_code("operator", &self.operator)?;
        let language_code = match self.language_code {
            Some(code) => Some(required_code("language_code", &code)?),
            None => None,
        };
        positive("idle_timeout", self.idle_timeout)?;
        if self.idle_margin >= self.idle_timeout {
            return Err(Error::invalid_input(
                "idle_margin",
                "a duration shorter than idle_timeout",
            ));
        }
        positive("connect_timeout", self.connect_timeout)?;
        positive("call_timeout", self.call_timeout)?;
        if let LargeDocumentTransport::Auto {
            url_length_threshold,
        } = self.large_documents
            && url_length_threshold < 256
        {
            return Err(Error::invalid_input(
                "large_documents.url_length_threshold",
                "at least 256 bytes (the logon URL alone is longer than that)",
            ));
        }
        Ok(EnetConfig {
            base_url,
            company_id,
            operator,
            operator_password: self.operator_password,
            company_password: self.company_password,
            language_code,
            idle_timeout: self.idle_timeout,
            idle_margin: self.idle_margin,
            connect_timeout: self.connect_timeout,
            call_timeout: self.call_timeout,
            large_documents: self.large_documents,
            own_thread: self.own_thread,
        })
    }
}

/// Default cap on the rows one OData query may return before it fails with
/// [`Error::RowCapReached`].
pub const DEFAULT_ODATA_MAX_ROWS: u64 = 50_000;
/// Default `$top` of each page when the client pages with `$skip`. SYSPRO's OData is reported to
/// cap a response at 5,000 rows; asking for fewer keeps a short page meaning "no more rows".
pub const DEFAULT_ODATA_PAGE_SIZE: u32 = 1_000;

/// Settings for the read-only SYSPRO OData service (Basic authentication).
#[derive(Clone)]
pub struct ODataConfig {
    base_url: Url,
    username: String,
    password: SecretString,
    max_rows: u64,
    page_size: u32,
    connect_timeout: Duration,
    call_timeout: Duration,
}

impl fmt::Debug for ODataConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ODataConfig")
            .field("base_url", &self.base_url.as_str())
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("max_rows", &self.max_rows)
            .field("page_size", &self.page_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("call_timeout", &self.call_timeout)
            .finish()
    }
}

impl ODataConfig {
    /// Starts a configuration.
    ///
    /// `base_url` is the service root that entity set names are appended to, including the
    /// company segment if the site's service has one (the layout differs between installs, so
    /// none is assumed). `username` is the operator code; `password` is the operator's OData
    /// password from Operator Maintenance.
    pub fn builder(
        base_url: impl Into<String>,
        username: impl Into<String>,
        password: SecretString,
    ) -> ODataConfigBuilder {
        ODataConfigBuilder {
            base_url: base_url.into(),
            username: username.into(),
            password,
            max_rows: DEFAULT_ODATA_MAX_ROWS,
            page_size: DEFAULT_ODATA_PAGE_SIZE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            call_timeout: DEFAULT_CALL_TIMEOUT,
        }
    }

    /// The service root, always without a trailing slash in its path.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }
    /// The Basic authentication user.
    pub fn username(&self) -> &str {
        &self.username
    }
    pub(crate) fn password(&self) -> &SecretString {
        &self.password
    }
    /// Most rows one query may return.
    pub fn max_rows(&self) -> u64 {
        self.max_rows
    }
    /// `$top` of each page when paging with `$skip`.
    pub fn page_size(&self) -> u32 {
        self.page_size
    }
    /// Time allowed to open a connection.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }
    /// Time allowed for one HTTP call.
    pub fn call_timeout(&self) -> Duration {
        self.call_timeout
    }
}

/// Builder for [`ODataConfig`].
pub struct ODataConfigBuilder {
    base_url: String,
    username: String,
    password: SecretString,
    max_rows: u64,
    page_size: u32,
    connect_timeout: Duration,
    call_timeout: Duration,
}

impl fmt::Debug for ODataConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ODataConfigBuilder")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl ODataConfigBuilder {
    /// Sets the most rows one query may return (default [`DEFAULT_ODATA_MAX_ROWS`]).
    pub fn max_rows(mut self, max_rows: u64) -> Self {
        self.max_rows = max_rows;
        self
    }
    /// Sets `$top` of each page when paging with `$skip` (default [`DEFAULT_ODATA_PAGE_SIZE`]).
    /// Keep it at or below the server's own cap, or a capped page looks like the last one.
    pub fn page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size;
        self
    }
    /// Sets the connect timeout (default [`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
    /// Sets the timeout of one HTTP call (default [`DEFAULT_CALL_TIMEOUT`]).
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Checks every field and returns the configuration.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the first field that is wrong.
    pub fn build(self) -> Result<ODataConfig, Error> {
        let base_url = parse_base_url("base_url", &self.base_url)?;
        let username = required_code("username", &self.username)?;
        if self.max_rows == 0 {
            return Err(Error::invalid_input("max_rows", "at least 1"));
        }
        if self.page_size == 0 {
            return Err(Error::invalid_input("page_size", "at least 1"));
        }
        positive("connect_timeout", self.connect_timeout)?;
        positive("call_timeout", self.call_timeout)?;
        Ok(ODataConfig {
            base_url,
            username,
            password: self.password,
            max_rows: self.max_rows,
            page_size: self.page_size,
            connect_timeout: self.connect_timeout,
            call_timeout: self.call_timeout,
        })
    }
}

/// The environment variable that feeds a field in [`EnetConfig::from_env`].
fn env_name(field: &str) -> Option<&'static str> {
    Some(match field {
        "base_url" => "SYSPRO_ENET_URL",
        "company_id" => "SYSPRO_COMPANY_ID",
        "operator" => "SYSPRO_OPERATOR",
        "language_code" => "SYSPRO_LANGUAGE_CODE",
        _ => return None,
    })
}

fn parse_base_url(field: &str, text: &str) -> Result<Url, Error> {
    let expected = "an absolute http(s) URL with a host and no query, user info or fragment, \
                    e.g. http://erp01:20003/SYSPROWCFService/Rest";
    let mut url = Url::parse(text.trim()).map_err(|_| Error::invalid_input(field, expected))?;
    let acceptable = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if !acceptable {
        return Err(Error::invalid_input(field, expected));
    }
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

fn required_code(field: &str, value: &str) -> Result<String, Error> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().any(char::is_control) {
        return Err(Error::invalid_input(
            field,
            "a non-empty value without control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

fn positive(field: &str, duration: Duration) -> Result<(), Error> {
    if duration.is_zero() {
        return Err(Error::invalid_input(field, "a duration greater than zero"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    fn field_of(err: Error) -> String {
        match err {
            Error::InvalidInput { field, .. } => field,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn builds_with_defaults_and_strips_trailing_slash() {
        let config = EnetConfig::builder(
            "http://erp01:20003/SYSPROWCFService/Rest/",
            "EDU1",
            "ADMIN",
            secret("pw"),
        )
        .build()
        .expect("valid");
        assert_eq!(
            config.base_url().as_str(),
            "http://erp01:20003/SYSPROWCFService/Rest"
        );
        assert_eq!(config.idle_timeout(), DEFAULT_IDLE_TIMEOUT);
        assert_eq!(
            config.large_documents(),
            LargeDocumentTransport::Auto {
                url_length_threshold: 8192
            }
        );
    }

    #[test]
    fn validation_names_the_field() {
        let base = || EnetConfig::builder("http://h:90/Rest", "EDU1", "ADMIN", secret("pw"));
        let err = EnetConfig::builder("erp01:90", "EDU1", "ADMIN", secret("pw"))
            .build()
            .unwrap_err();
        assert_eq!(field_of(err), "base_url");
        let err = EnetConfig::builder("http://h/Rest?x=1", "EDU1", "ADMIN", secret("pw"))
            .build()
            .unwrap_err();
        assert_eq!(field_of(err), "base_url");
        let err = EnetConfig::builder("http://h/Rest", " ", "ADMIN", secret("pw"))
            .build()
            .unwrap_err();
        assert_eq!(field_of(err), "company_id");
        let err = EnetConfig::builder("http://h/Rest", "EDU1", "", secret("pw"))
            .build()
            .unwrap_err();
        assert_eq!(field_of(err), "operator");
        let err = base()
            .idle_margin(DEFAULT_IDLE_TIMEOUT)
            .build()
            .unwrap_err();
        assert_eq!(field_of(err), "idle_margin");
        let err = base().call_timeout(Duration::ZERO).build().unwrap_err();
        assert_eq!(field_of(err), "call_timeout");
        let err = base()
            .large_documents(LargeDocumentTransport::Auto {
                url_length_threshold: 10,
            })
            .build()
            .unwrap_err();
        assert_eq!(field_of(err), "large_documents.url_length_threshold");
    }

    #[test]
    fn debug_never_shows_passwords() {
        let config = EnetConfig::builder("http://h/Rest", "EDU1", "ADMIN", secret("opS3cret"))
            .company_password(secret("coS3cret"))
            .build()
            .expect("valid");
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("opS3cret") && !shown.contains("coS3cret"),
            "{shown}"
        );
        let odata = ODataConfig::builder("https://h/SYSPROOData/EDU1", "ADMIN", secret("odS3cret"))
            .build()
            .expect("valid");
        assert!(!format!("{odata:?}").contains("odS3cret"));
    }

    #[test]
    fn environment_errors_name_the_variable() {
        assert_eq!(env_name("base_url"), Some("SYSPRO_ENET_URL"));
        assert_eq!(env_name("operator"), Some("SYSPRO_OPERATOR"));
        assert_eq!(env_name("idle_timeout"), None);
    }

    #[test]
    fn odata_validation_names_the_field() {
        let err = ODataConfig::builder("https://h/o", "ADMIN", secret("p"))
            .page_size(0)
            .build()
            .unwrap_err();
        assert_eq!(field_of(err), "page_size");
        let err = ODataConfig::builder("https://u:p@h/o", "ADMIN", secret("p"))
            .build()
            .unwrap_err();
        assert_eq!(field_of(err), "base_url");
        let err = ODataConfig::builder("https://h/o", "ADMIN", secret("p"))
            .max_rows(0)
            .build()
            .unwrap_err();
        assert_eq!(field_of(err), "max_rows");
    }
}
