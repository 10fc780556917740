//! [`SysproClient`]: e.net REST calls on one shared, self-renewing session.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::ExposeSecret;
use url::Url;

use crate::config::{EnetConfig, LargeDocumentTransport};
use crate::error::{Error, Scrubber, redact_url, truncate_body};
use crate::response::{EnetError, business_output, decode_body, enet_error, unwrap_body};
use crate::session::{Clock, Session, SessionId, SessionSlot, SystemClock};

/// Characters left as they are in query values: RFC 3986 unreserved only. Everything else,
/// including spaces (as `%20`, never `+`), is percent-encoded so WCF decodes it unambiguously.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How long a logoff sent from `Drop` may take; nobody waits for it.
const DROP_LOGOFF_TIMEOUT: Duration = Duration::from_secs(5);

/// The e.net REST methods this client calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Logon,
    Logoff,
    GetLogonProfile,
    GetVersion,
    QueryQuery,
    QueryBrowse,
    QueryFetch,
    TransactionPost,
    TransactionPostLd,
    TransactionBuild,
    SetupAdd,
    SetupUpdate,
    SetupDelete,
}

impl Endpoint {
    fn path(self) -> &'static str {
        match self {
            Endpoint::Logon => "Logon",
            Endpoint::Logoff => "Logoff",
            Endpoint::GetLogonProfile => "GetLogonProfile",
            Endpoint::GetVersion => "GetVersion",
            Endpoint::QueryQuery => "Query/Query",
            Endpoint::QueryBrowse => "Query/Browse",
            Endpoint::QueryFetch => "Query/Fetch",
            Endpoint::TransactionPost => "Transaction/Post",
            Endpoint::TransactionPostLd => "Transaction/PostLD",
            Endpoint::TransactionBuild => "Transaction/Build",
            Endpoint::SetupAdd => "Setup/Add",
            Endpoint::SetupUpdate => "Setup/Update",
            Endpoint::SetupDelete => "Setup/Delete",
        }
    }
}

/// One session-bound e.net call as plain data; the session id is added per attempt.
#[derive(Debug, Clone, Copy)]
struct Call<'a> {
    endpoint: Endpoint,
    business_object: Option<&'a str>,
    xml_parameters: Option<&'a str>,
    xml_in: Option<&'a str>,
}

impl Call<'_> {
    fn name(&self) -> String {
        match self.business_object {
            Some(bo) => format!("{} {bo}", self.endpoint.path()),
            None => self.endpoint.path().to_owned(),
        }
    }
}

/// A prepared HTTP request: the URL, and for `PostLD` the XML body.
struct Prepared {
    url: Url,
    body: Option<String>,
}

/// Typed async client for SYSPRO e.net REST.
///
/// Cheap to clone; all clones share one session, so create one client per SYSPRO operator and
/// clone it wherever calls are made. Calls on it are serialised (e.net does not allow concurrent
/// calls on one session, and a second logon with the same operator evicts the first).
///
/// The session is opened on the first call, replaced before a call when it has been idle close
/// to the configured idle timeout, and replaced once more when SYSPRO answers that the session is
/// invalid (the business object did not run, so even a post is then repeated safely). Call
/// [`SysproClient::close`] on shutdown to log off; dropping the last clone without closing sends
/// a best-effort logoff in the background when a Tokio runtime is available, and never blocks.
///
/// ```no_run
/// use std::time::Duration;
///
/// use secrecy::SecretString;
/// use syspro_client::{EnetConfig, Error, LargeDocumentTransport, SysproClient};
///
/// # async fn run() -> Result<(), Error> {
/// let config = EnetConfig::builder(
///     "http://erp01:20003/SYSPROWCFService/Rest", // full REST base; there is no default port
///     "EDU1",                                     // company id
///     "WEBINT",                                   // a dedicated integration operator
///     SecretString::from("operator password".to_owned()),
/// )
/// .company_password(SecretString::from(String::new()))
/// .idle_timeout(Duration::from_secs(30 * 60)) // the site's e.net class timeout
/// .large_documents(LargeDocumentTransport::Auto { url_length_threshold: 8 * 1024 })
/// .build()?;
///
/// let client = SysproClient::new(config)?;
/// let version = client.get_version().await?;
/// let found = client
///     .query("COMFND", "<Query><TableName>GenMaster</TableName><ReturnRows>5</ReturnRows></Query>")
///     .await?;
/// println!("e.net {version}: {found}");
/// client.close().await?; // log off: an orphaned session holds a licence seat
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SysproClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: EnetConfig,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    slot: tokio::sync::Mutex<SessionSlot>,
    scrubber: Scrubber,
    /// The client's own thread, when [`EnetConfig::own_thread`] asks for one.
    io: Option<IoThread>,
}

/// Work a client's thread does before it stops.
type LastWork = futures::future::BoxFuture<'static, ()>;

/// A thread running a single-threaded runtime on which session calls are made. It stops when the
/// client is dropped, after the last work it is given (see [`IoThread::finish_with`]).
struct IoThread {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<Option<LastWork>>>,
}

impl IoThread {
    fn start() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<Option<LastWork>>();
        std::thread::Builder::new()
            .name("syspro-enet".to_owned())
            .spawn(move || {
                runtime.block_on(async {
                    // A dropped sender stops the thread as well as a sent one.
                    if let Ok(Some(last)) = stopped.await {
                        last.await;
                    }
                });
            })?;
        Ok(Self {
            handle,
            stop: Some(stop),
        })
    }

    /// Stops the thread once `last` has run on it. The thread is not joined: whoever drops the
    /// client does not wait.
    fn finish_with(&mut self, last: LastWork) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(Some(last));
        }
    }
}

impl Drop for IoThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(None);
        }
    }
}

/// Aborts a task of the client's thread when its caller stops waiting, as the call would have
/// been abandoned on the caller's own runtime.
struct AbortOnDrop(tokio::task::JoinHandle<Result<String, Error>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A [`Call`] that owns its texts, to be sent to the client's thread.
struct OwnedCall {
    endpoint: Endpoint,
    business_object: Option<String>,
    xml_parameters: Option<String>,
    xml_in: Option<String>,
}

impl OwnedCall {
    fn of(call: &Call<'_>) -> Self {
        Self {
            endpoint: call.endpoint,
            business_object: call.business_object.map(str::to_owned),
            xml_parameters: call.xml_parameters.map(str::to_owned),
            xml_in: call.xml_in.map(str::to_owned),
        }
    }

    fn call(&self) -> Call<'_> {
        Call {
            endpoint: self.endpoint,
            business_object: self.business_object.as_deref(),
            xml_parameters: self.xml_parameters.as_deref(),
            xml_in: self.xml_in.as_deref(),
        }
    }
}

impl fmt::Debug for SysproClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SysproClient")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl SysproClient {
    /// Creates a client; nothing is sent until the first call.
    ///
    /// # Errors
    ///
    /// [`Error::HttpClient`] when the HTTP client cannot be set up.
    pub fn new(config: EnetConfig) -> Result<Self, Error> {
        SysproClient::with_clock(config, Arc::new(SystemClock))
    }

    /// Creates a client that measures session idle time with `clock`.
    ///
    /// # Errors
    ///
    /// [`Error::HttpClient`] when the HTTP client cannot be set up.
    pub fn with_clock(config: EnetConfig, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout())
            .timeout(config.call_timeout())
            .build()
            .map_err(|source| Error::HttpClient { source })?;
        let scrubber = Scrubber::new([
            config.operator_password().expose_secret(),
            config.company_password().expose_secret(),
        ]);
        let io = if config.own_thread() {
            Some(IoThread::start().map_err(|source| Error::Thread { source })?)
        } else {
            None
        };
        Ok(SysproClient {
            inner: Arc::new(Inner {
                config,
                http,
                clock,
                slot: tokio::sync::Mutex::new(SessionSlot::default()),
                scrubber,
                io,
            }),
        })
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &EnetConfig {
        &self.inner.config
    }

    /// Posts a transaction (`Transaction/Post`, or `POST Transaction/PostLD` for large documents
    /// as configured) and returns the business object's output XML.
    ///
    /// # Errors
    ///
    /// [`Error::Rejected`], [`Error::NotLicensed`] or [`Error::LogonFailed`] when SYSPRO refuses;
    /// [`Error::Timeout`] and [`Error::Transport`] leave the outcome unknown (see
    /// [`Error::is_outcome_unknown`]).
    pub async fn transaction_post(
        &self,
        business_object: &str,
        parameters_xml: &str,
        document_xml: &str,
    ) -> Result<String, Error> {
        check_business_object(business_object)?;
        self.run(Call {
            endpoint: Endpoint::TransactionPost,
            business_object: Some(business_object),
            xml_parameters: Some(parameters_xml),
            xml_in: Some(document_xml),
        })
        .await
    }

    /// Runs a build business object (`Transaction/Build`), which takes one input document and no
    /// parameters document, and returns its output XML.
    ///
    /// # Errors
    ///
    /// As for [`SysproClient::transaction_post`].
    pub async fn transaction_build(
        &self,
        business_object: &str,
        xml_in: &str,
    ) -> Result<String, Error> {
        check_business_object(business_object)?;
        self.run(Call {
            endpoint: Endpoint::TransactionBuild,
            business_object: Some(business_object),
            xml_parameters: None,
            xml_in: Some(xml_in),
        })
        .await
    }

    /// Runs a query business object (`Query/Query`) and returns its output XML.
    ///
    /// # Errors
    ///
    /// As for [`SysproClient::transaction_post`].
    pub async fn query(&self, business_object: &str, xml_in: &str) -> Result<String, Error> {
        check_business_object(business_object)?;
        self.run(Call {
            endpoint: Endpoint::QueryQuery,
            business_object: Some(business_object),
            xml_parameters: None,
            xml_in: Some(xml_in),
        })
        .await
    }

    /// Runs a generic browse (`Query/Browse`, a COMBRW document) and returns its output XML.
    ///
    /// # Errors
    ///
    /// As for [`SysproClient::transaction_post`].
    pub async fn browse(&self, xml_in: &str) -> Result<String, Error> {
        self.run(Call {
            endpoint: Endpoint::QueryBrowse,
            business_object: None,
            xml_parameters: None,
            xml_in: Some(xml_in),
        })
        .await
    }

    /// Runs a generic fetch by key (`Query/Fetch`, a COMFCH document) and returns its output XML.
    ///
    /// # Errors
    ///
    /// As for [`SysproClient::transaction_post`].
    pub async fn fetch(&self, xml_in: &str) -> Result<String, Error> {
        self.run(Call {
            endpoint: Endpoint::QueryFetch,
            business_object: None,
            xml_parameters: None,
            xml_in: Some(xml_in),
        })
        .await
    }

    /// Adds records with a setup business object (`Setup/Add`).
    ///
    /// # Errors
    ///
    /// As for [`SysproClient::transaction_post`].
    pub async fn setup_add(
        &self,
        business_object: &str,
        parameters_xml: &str,
        document_xml: &str,
    ) -> Result<String, Error> {
        self.setup(
            Endpoint::SetupAdd,
            business_object,
            parameters_xml,
            document_xml,
        )
        .await
    }

    /// Updates records with a setup business object (`Setup/Update`).
    ///
    /// # Errors
    ///
    /// As for [`SysproClient::transaction_post`].
    pub async fn setup_update(
        &self,
        business_object: &str,
        parameters_xml: &str,
        document_xml: &str,
    ) -> Result<String, Error> {
        self.setup(
            Endpoint::SetupUpdate,
            business_object,
            parameters_xml,
            document_xml,
        )
        .await
    }

    /// Deletes records with a setup business object (`Setup/Delete`).
    ///
    /// # Errors
    ///
    /// As for [`SysproClient::transaction_post`].
    pub async fn setup_delete(
        &self,
        business_object: &str,
        parameters_xml: &str,
        document_xml: &str,
    ) -> Result<String, Error> {
        self.setup(
            Endpoint::SetupDelete,
            business_object,
            parameters_xml,
            document_xml,
        )
        .await
    }

    async fn setup(
        &self,
        endpoint: Endpoint,
        business_object: &str,
        parameters_xml: &str,
        document_xml: &str,
    ) -> Result<String, Error> {
        check_business_object(business_object)?;
        self.run(Call {
            endpoint,
            business_object: Some(business_object),
            xml_parameters: Some(parameters_xml),
            xml_in: Some(document_xml),
        })
        .await
    }

    /// The operator and company profile of the session (`GetLogonProfile`, root `UserInfo`).
    /// Doubles as a cheap check that the credentials and the session work.
    ///
    /// # Errors
    ///
    /// As for [`SysproClient::transaction_post`].
    pub async fn get_logon_profile(&self) -> Result<String, Error> {
        self.run(Call {
            endpoint: Endpoint::GetLogonProfile,
            business_object: None,
            xml_parameters: None,
            xml_in: None,
        })
        .await
    }

    /// The e.net version text (`GetVersion`, e.g. `7.0.0.6`). Needs no session.
    ///
    /// # Errors
    ///
    /// Transport errors, or [`Error::Rejected`] for an `ERROR` answer.
    pub async fn get_version(&self) -> Result<String, Error> {
        let url = self.endpoint_url(Endpoint::GetVersion, &[]);
        let body = self
            .send(
                "GetVersion",
                Prepared { url, body: None },
                &self.inner.scrubber,
            )
            .await?;
        business_output(&body, None, |m| self.inner.scrubber.scrub(m))
    }

    /// Logs the session off (`Logoff`) and closes the client: later calls on it and its clones
    /// fail with [`Error::Closed`]. Closing an already closed client, or one that never logged on,
    /// sends nothing.
    ///
    /// # Errors
    ///
    /// Transport errors or an `ERROR` answer from `Logoff`; the client is closed either way.
    pub async fn close(&self) -> Result<(), Error> {
        let mut slot = self.inner.slot.lock().await;
        slot.closed = true;
        match slot.session.take() {
            Some(session) => self.logoff(&session.id).await,
            None => Ok(()),
        }
    }

    /// Runs one session-bound call, on the client's own thread when it has one.
    async fn run(&self, call: Call<'_>) -> Result<String, Error> {
        let Some(io) = &self.inner.io else {
            return self.run_here(call).await;
        };
        let owned = OwnedCall::of(&call);
        let client = self.clone();
        let mut task = AbortOnDrop(
            io.handle
                .spawn(async move { client.run_here(owned.call()).await }),
        );
        match (&mut task.0).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // The thread stopped: the client is being dropped.
            Err(_) => Err(Error::Closed),
        }
    }

    /// Runs one session-bound call: logon when needed, proactive renewal of an idle session, and
    /// one re-logon and retry when SYSPRO says the session is invalid.
    async fn run_here(&self, call: Call<'_>) -> Result<String, Error> {
        let config = &self.inner.config;
        // Held for the whole call: e.net allows one session per operator and one call at a time on
        // it, and holding it makes the logon single-flight.
        let mut slot = self.inner.slot.lock().await;
        if slot.closed {
            return Err(Error::Closed);
        }
        let now = self.inner.clock.now();
        if slot
            .session
            .as_ref()
            .is_some_and(|s| s.is_stale(now, config.idle_timeout(), config.idle_margin()))
            && let Some(stale) = slot.session.take()
        {
            tracing::debug!(
                operator = config.operator(),
                "session idle close to the idle timeout; logging on again"
            );
            if let Err(err) = self.logoff(&stale.id).await {
                tracing::debug!(error = %err, "logoff of the idle session failed; continuing");
            }
        }

        let mut retried = false;
        loop {
            let session = match slot.session.as_mut() {
                Some(session) => session,
                None => {
                    let id = self.logon().await?;
                    slot.session.insert(Session {
                        id,
                        last_used: self.inner.clock.now(),
                    })
                }
            };
            let result = self.attempt(call, &session.id).await;
            match result {
                Err(Error::SessionInvalid { .. }) => {
                    slot.session = None;
                    if retried {
                        tracing::warn!(
                            call = %call.name(),
                            "session invalid again right after a fresh logon"
                        );
                        return Err(Error::SessionInvalid {
                            business_object: call.business_object.map(str::to_owned),
                        });
                    }
                    tracing::info!(
                        call = %call.name(),
                        "SYSPRO session expired or was evicted; logging on again and retrying once"
                    );
                    retried = true;
                }
                other => {
                    if matches!(
                        other,
                        Ok(_)
                            | Err(Error::Rejected { .. }
                                | Error::NotLicensed { .. }
                                | Error::Output { .. })
                    ) {
                        session.last_used = self.inner.clock.now();
                    }
                    return other;
                }
            }
        }
    }

    async fn attempt(&self, call: Call<'_>, id: &SessionId) -> Result<String, Error> {
        let prepared = self.prepare(call, id);
        let name = call.name();
        let scrubber = self.inner.scrubber.with(id.as_str());
        let body = self.send(&name, prepared, &scrubber).await?;
        business_output(&body, call.business_object, |m| scrubber.scrub(m))
    }

    /// Builds the GET URL, or the `PostLD` request when the document is too large for a URL (or
    /// configuration says so).
    fn prepare(&self, call: Call<'_>, id: &SessionId) -> Prepared {
        let mut params: Vec<(&str, &str)> = vec![("UserId", id.as_str())];
        if let Some(bo) = call.business_object {
            params.push(("BusinessObject", bo));
        }
        if let Some(xml) = call.xml_parameters {
            params.push(("XmlParameters", xml));
        }
        if let Some(xml) = call.xml_in {
            params.push(("XmlIn", xml));
        }
        let url = self.endpoint_url(call.endpoint, &params);
        let length = url.as_str().len();
        let use_post_ld = call.endpoint == Endpoint::TransactionPost
            && match self.inner.config.large_documents() {
                LargeDocumentTransport::Auto {
                    url_length_threshold,
                } => length > url_length_threshold,
                LargeDocumentTransport::AlwaysPostLd => true,
                LargeDocumentTransport::NeverPostLd => false,
            };
        if use_post_ld {
            let body = post_ld_body(
                id.as_str(),
                call.business_object.unwrap_or_default(),
                call.xml_parameters.unwrap_or_default(),
                call.xml_in.unwrap_or_default(),
            );
            return Prepared {
                url: self.endpoint_url(Endpoint::TransactionPostLd, &[]),
                body: Some(body),
            };
        }
        if let LargeDocumentTransport::Auto {
            url_length_threshold,
        } = self.inner.config.large_documents()
            && length > url_length_threshold
        {
            tracing::warn!(
                call = %call.name(),
                length,
                "URL longer than the large-document threshold; e.net has no large-document \
                 variant of this method, sending it as GET"
            );
        }
        Prepared { url, body: None }
    }

    fn endpoint_url(&self, endpoint: Endpoint, params: &[(&str, &str)]) -> Url {
        endpoint_url(self.inner.config.base_url(), endpoint, params)
    }

    async fn logon(&self) -> Result<SessionId, Error> {
        let config = &self.inner.config;
        let mut params = vec![
            ("Operator", config.operator()),
            (
                "OperatorPassword",
                config.operator_password().expose_secret(),
            ),
            ("CompanyId", config.company_id()),
            ("CompanyPassword", config.company_password().expose_secret()),
        ];
        if let Some(code) = config.language_code() {
            params.push(("LanguageCode", code));
        }
        let url = self.endpoint_url(Endpoint::Logon, &params);
        tracing::debug!(operator = config.operator(), "logging on to SYSPRO e.net");
        let body = self
            .send("Logon", Prepared { url, body: None }, &self.inner.scrubber)
            .await?;
        let answer = unwrap_body(&body);
        if let Some(error) = enet_error(&answer) {
            let message = match error {
                EnetError::InvalidSession => "the supplied UserID is invalid".to_owned(),
                EnetError::NotLicensed(message) | EnetError::Other(message) => message,
            };
            return Err(Error::LogonFailed {
                message: self.inner.scrubber.scrub(&message),
            });
        }
        SessionId::parse(&answer).map_err(|message| Error::Output {
            business_object: "Logon".to_owned(),
            message: message.to_owned(),
        })
    }

    async fn logoff(&self, id: &SessionId) -> Result<(), Error> {
        let url = self.endpoint_url(Endpoint::Logoff, &[("UserId", id.as_str())]);
        let scrubber = self.inner.scrubber.with(id.as_str());
        let body = self
            .send("Logoff", Prepared { url, body: None }, &scrubber)
            .await?;
        match enet_error(&unwrap_body(&body)) {
            None | Some(EnetError::InvalidSession) => Ok(()),
            Some(EnetError::NotLicensed(message) | EnetError::Other(message)) => {
                Err(Error::Rejected {
                    business_object: None,
                    message: scrubber.scrub(&message),
                })
            }
        }
    }

    /// Sends one request and returns the decoded body of a successful answer.
    async fn send(
        &self,
        call: &str,
        prepared: Prepared,
        scrubber: &Scrubber,
    ) -> Result<String, Error> {
        let Prepared { url, body } = prepared;
        tracing::debug!(call, url = %redact_url(&url), post = body.is_some(), "e.net request");
        let started = tokio::time::Instant::now();
        let request = match body {
            Some(body) => self
                .inner
                .http
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/xml")
                .body(body),
            None => self.inner.http.get(url.clone()),
        };
        let response = request
            .send()
            .await
            .map_err(|err| Error::from_reqwest(call, &url, err))?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .bytes()
            .await
            .map_err(|err| Error::from_reqwest(call, &url, err))?;
        let text = decode_body(&bytes, content_type.as_deref());
        tracing::debug!(
            call,
            status = status.as_u16(),
            bytes = bytes.len(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "e.net answer"
        );
        if !status.is_success() {
            return Err(Error::Status {
                call: call.to_owned(),
                url: redact_url(&url),
                status: status.as_u16(),
                body: truncate_body(&scrubber.scrub(&text)),
            });
        }
        Ok(text)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let slot = self.slot.get_mut();
        if slot.closed {
            return;
        }
        let Some(session) = slot.session.take() else {
            return;
        };
        // Never block in drop: hand a best-effort logoff to the client's own thread, which sends
        // it before it stops, or else to the runtime the drop happens on, if any. Otherwise
        // SYSPRO frees the seat when the session times out.
        let url = endpoint_url(
            self.config.base_url(),
            Endpoint::Logoff,
            &[("UserId", session.id.as_str())],
        );
        let http = self.http.clone();
        let logoff = async move {
            let result = http.get(url).timeout(DROP_LOGOFF_TIMEOUT).send().await;
            tracing::debug!(ok = result.is_ok(), "best-effort logoff after drop");
        };
        if let Some(io) = &mut self.io {
            io.finish_with(Box::pin(logoff));
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            tracing::debug!("client dropped outside a runtime without close(); no logoff sent");
            return;
        };
        handle.spawn(logoff);
    }
}

/// `{base}/{endpoint}?name=value&...` with every value percent-encoded.
fn endpoint_url(base: &Url, endpoint: Endpoint, params: &[(&str, &str)]) -> Url {
    let mut url = base.clone();
    let path = format!("{}/{}", url.path().trim_end_matches('/'), endpoint.path());
    url.set_path(&path);
    if !params.is_empty() {
        let query = params
            .iter()
            .map(|(name, value)| format!("{name}={}", utf8_percent_encode(value, QUERY_VALUE)))
            .collect::<Vec<_>>()
            .join("&");
        url.set_query(Some(&query));
    }
    url
}

/// Business object names are short codes such as `ARSTIN`; anything else would be silently
/// misrouted by SYSPRO or is a programming error.
fn check_business_object(name: &str) -> Result<(), Error> {
    let ok =
        !name.is_empty() && name.len() <= 12 && name.chars().all(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_input(
            "business_object",
            "a SYSPRO business object name of letters and digits, such as ARSTIN",
        ))
    }
}

/// The `Transaction/PostLD` body: the session and business object as escaped text, the two
/// documents verbatim in CDATA sections.
fn post_ld_body(user_id: &str, business_object: &str, parameters: &str, document: &str) -> String {
    format!(
        "<TransactionPostLD xmlns=\"http://SYSPROWcfService\"><UserId>{}</UserId>\
         <BusinessObject>{}</BusinessObject><XmlParameters>{}</XmlParameters>\
         <XmlIn>{}</XmlIn></TransactionPostLD>",
        quick_xml::escape::escape(user_id),
        quick_xml::escape::escape(business_object),
        cdata(parameters),
        cdata(document),
    )
}

/// Wraps text in CDATA, splitting any `]]>` inside it across two sections.
fn cdata(text: &str) -> String {
    format!("<![CDATA[{}]]>", text.replace("]]>", "]]]]><![CDATA[>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdata_splits_terminators() {
        assert_eq!(cdata("a]]>b"), "<![CDATA[a]]]]><![CDATA[>b]]>");
        assert_eq!(cdata(""), "<![CDATA[]]>");
    }

    #[test]
    fn post_ld_body_escapes_and_wraps() {
        let body = post_ld_body("ID&1", "ARSTIN", "<P/>", "<D>x</D>");
        assert_eq!(
            body,
            "<TransactionPostLD xmlns=\"http://SYSPROWcfService\"><UserId>ID&amp;1</UserId>\
             <BusinessObject>ARSTIN</BusinessObject><XmlParameters><![CDATA[<P/>]]></XmlParameters>\
             <XmlIn><![CDATA[<D>x</D>]]></XmlIn></TransactionPostLD>"
        );
    }

    #[test]
    fn business_object_names_are_checked() {
        assert!(check_business_object("ARSTIN").is_ok());
        assert!(check_business_object("").is_err());
        assert!(check_business_object("ARS&X").is_err());
    }

    #[test]
    fn query_values_use_percent_twenty_for_spaces() {
        let encoded = utf8_percent_encode("a b+c<&>é", QUERY_VALUE).to_string();
        assert_eq!(encoded, "a%20b%2Bc%3C%26%3E%C3%A9");
    }
}
