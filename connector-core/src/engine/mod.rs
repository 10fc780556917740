//! The sync engine: one [`Engine`] per connection runs the design's poll cycle.
//!
//! A cycle ([`Engine::run_cycle`]) makes sure reference data is validated (TTL cache), reconciles
//! records left in `posting` by a crash or a lost answer, reads the Commerce streams (customers
//! first, then invoices or orders per the connection's `trigger`) from `watermark - overlap`,
//! stores each change under its fingerprint and advances the watermark only past stored changes,
//! maps what is new, and posts what is due in batches: one ARSTIN document for the batch, then one
//! GENTJL document with the journals of the invoices SYSPRO accepted. Every step writes the audit
//! trail and emits an [`EngineEvent`].
//!
//! [`Engine::run`] repeats cycles on the adaptive schedule while holding the connection's lease;
//! [`Engine::replay`] re-processes halted records after a mapping fix; [`Engine::notify`] takes a
//! webhook notification and processes that record at once.

pub mod convert;
mod credit_memos;
mod customers;
pub mod events;
mod journal_check;
mod lookups;
mod pipeline;
mod plans;
mod posting;
mod reference;
mod sales_order;
mod writes;

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use adobe_commerce_client::models::{
    CreditMemo, Customer, CustomerId, Invoice, InvoiceId, Order, OrderId,
};
use adobe_commerce_client::{
    Client as CommerceClient, Credentials, Filter, Flavour, RetryPolicy, SearchCriteria,
    SortDirection,
};
use futures::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use syspro_client::{EnetConfig, SysproClient};
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::audit::{AuditKind, AuditLog, NewAuditEntry, Redactor};
use crate::clock::Clock;
use crate::config::{CommerceAuthKind, CommerceFlavour, ConnectionConfig, Trigger};
use crate::mapping::{DefaultMapper, Mapper};
use crate::state::{
    ConnectionName, EntityKind, Fingerprint, HolderId, Intake, IntakeOutcome, Payload, Record,
    RecordFilter, RecordKey, RecordState, StateCounts, StateStore, StoreError, StreamName, Target,
};
use crate::vault::{SecretStore, VaultError};

pub use events::{CallOutcome, CycleSummary, EngineEvent, MetricsSnapshot, System, Telemetry};

/// Why an engine call failed as a whole (single records fail into their own states instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The connection's settings cannot be used to build the engine.
    #[error("connection {connection}: invalid {field}: expected {expected}")]
    Config {
        /// The connection.
        connection: String,
        /// The setting.
        field: String,
        /// What would be accepted.
        expected: String,
    },
    /// A secret could not be read from the vault.
    #[error("connection {connection}: could not read a secret")]
    Secret {
        /// The connection.
        connection: String,
        /// The vault's error.
        #[source]
        source: VaultError,
    },
    /// The state store or audit log failed.
    #[error("state store failed")]
    Store(#[from] StoreError),
    /// A Commerce call failed.
    #[error("Commerce {operation} failed")]
    Commerce {
        /// What was called.
        operation: &'static str,
        /// The SDK's error.
        #[source]
        source: adobe_commerce_client::Error,
    },
    /// A SYSPRO call failed.
    #[error("SYSPRO {operation} failed")]
    Syspro {
        /// What was called.
        operation: &'static str,
        /// The SDK's error.
        #[source]
        source: syspro_client::Error,
    },
    /// Another worker holds the connection's lease.
    #[error("connection {connection} is being processed by {holder}")]
    LeaseHeld {
        /// The connection.
        connection: String,
        /// The other worker.
        holder: String,
    },
    /// The record asked for does not exist.
    #[error("record {key} not found")]
    UnknownRecord {
        /// The key.
        key: RecordKey,
    },
    /// A stage of the cycle (reading or posting) was cancelled before it ended, as when the
    /// runtime shuts down; its records are where its last durable write left them.
    #[error("a stage of the cycle was cancelled: {0}")]
    Stage(String),
    /// The engine was closed ([`Engine::close`]) and takes no more work. Its records stay where
    /// they are, for the connection's next engine.
    #[error(
        "connection {connection}: the engine was closed; what is left waits for its next start"
    )]
    Closed {
        /// The connection.
        connection: String,
    },
}

/// Tunables with sensible defaults; the connection's configuration supplies the rest.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How long validated reference data is trusted (default 15 minutes).
    pub reference_ttl: Duration,
    /// Backoff before the first retry of a transient failure (default 30 s); doubles per attempt.
    pub retry_initial: Duration,
    /// Longest backoff (default 1 hour).
    pub retry_max: Duration,
    /// Lease duration, renewed while working (default 10 minutes).
    pub lease_ttl: Duration,
    /// Identity of this worker in leases.
    pub holder: String,
    /// Retry policy of the Commerce client the engine builds.
    pub commerce_retry: RetryPolicy,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            reference_ttl: Duration::from_secs(15 * 60),
            retry_initial: Duration::from_secs(30),
            retry_max: Duration::from_secs(3600),
            lease_ttl: Duration::from_secs(600),
            holder: format!("ml-connector-{}", std::process::id()),
            commerce_retry: RetryPolicy::default(),
        }
    }
}

/// Where the engine finds credentials.
enum SecretSource {
    Vault(Arc<dyn SecretStore>),
    Resolved(HashMap<String, SecretString>),
    None,
}

/// Builds an [`Engine`] for one connection.
pub struct EngineBuilder {
    connection: ConnectionConfig,
    store: Arc<dyn StateStore>,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    mapper: Option<Arc<dyn Mapper>>,
    secrets: SecretSource,
    commerce: Option<CommerceClient>,
    syspro: Option<SysproClient>,
    extra_secrets: Vec<SecretString>,
    options: EngineOptions,
}

impl std::fmt::Debug for EngineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineBuilder")
            .field("connection", &self.connection.name)
            .finish_non_exhaustive()
    }
}

impl EngineBuilder {
    /// Starts a builder for `connection`, keeping records in `store` and the trail in `audit`
    /// (usually the same SQLite or in-memory store), with time from `clock`.
    pub fn new(
        connection: ConnectionConfig,
        store: Arc<dyn StateStore>,
        audit: Arc<dyn AuditLog>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            connection,
            store,
            audit,
            clock,
            mapper: None,
            secrets: SecretSource::None,
            commerce: None,
            syspro: None,
            extra_secrets: Vec::new(),
            options: EngineOptions::default(),
        }
    }

    /// The vault the connection's secret names are read from.
    #[must_use]
    pub fn secrets(mut self, vault: Arc<dyn SecretStore>) -> Self {
        self.secrets = SecretSource::Vault(vault);
        self
    }

    /// Secrets already resolved by the embedder, by the vault entry names the configuration uses.
    #[must_use]
    pub fn resolved_secrets(
        mut self,
        secrets: impl IntoIterator<Item = (String, SecretString)>,
    ) -> Self {
        self.secrets = SecretSource::Resolved(secrets.into_iter().collect());
        self
    }

    /// A mapper other than [`DefaultMapper`] (embedders with their own rules).
    #[must_use]
    pub fn mapper(mut self, mapper: Arc<dyn Mapper>) -> Self {
        self.mapper = Some(mapper);
        self
    }

    /// A ready Commerce client instead of one built from the configuration and vault.
    #[must_use]
    pub fn commerce_client(mut self, client: CommerceClient) -> Self {
        self.commerce = Some(client);
        self
    }

    /// A ready SYSPRO client instead of one built from the configuration and vault.
    #[must_use]
    pub fn syspro_client(mut self, client: SysproClient) -> Self {
        self.syspro = Some(client);
        self
    }

    /// Values to remove from every audit entry besides the vault's (for ready-made clients).
    #[must_use]
    pub fn redact(mut self, secret: SecretString) -> Self {
        self.extra_secrets.push(secret);
        self
    }

    /// Tunables.
    #[must_use]
    pub fn options(mut self, options: EngineOptions) -> Self {
        self.options = options;
        self
    }

    /// Reads the secrets, builds the clients and returns the engine. Nothing is sent yet.
    ///
    /// # Errors
    /// [`EngineError::Config`] for unusable settings or a missing secret source,
    /// [`EngineError::Secret`] when the vault fails or lacks an entry.
    pub async fn build(self) -> Result<Engine, EngineError> {
        let c = &self.connection;
        let config_error = |field: &str, expected: &str| EngineError::Config {
            connection: c.name.clone(),
            field: field.to_owned(),
            expected: expected.to_owned(),
        };
        let name = ConnectionName::new(&c.name)
            .map_err(|_| config_error("name", "a valid connection name"))?;
        let holder = HolderId::new(&self.options.holder)
            .map_err(|_| config_error("holder", "1 to 64 characters from A-Z a-z 0-9 _ - ."))?;
        let mut redact = self.extra_secrets;
        let vault: Option<Arc<dyn SecretStore>> = match &self.secrets {
            SecretSource::Vault(v) => Some(Arc::clone(v)),
            SecretSource::Resolved(values) => {
                let memory = crate::vault::MemorySecretStore::new(Arc::clone(&self.clock));
                for (entry, value) in values {
                    memory
                        .set(&name, entry, value.clone())
                        .await
                        .map_err(|source| EngineError::Secret {
                            connection: c.name.clone(),
                            source,
                        })?;
                }
                Some(Arc::new(memory))
            }
            SecretSource::None => None,
        };
        let secret = |field: &'static str, entry: Option<String>| {
            let vault = vault.clone();
            let name = name.clone();
            let connection = c.name.clone();
            async move {
                let entry = entry.ok_or_else(|| EngineError::Config {
                    connection: connection.clone(),
                    field: field.to_owned(),
                    expected: "a vault entry name".to_owned(),
                })?;
                let vault = vault.ok_or_else(|| EngineError::Config {
                    connection: connection.clone(),
                    field: "secrets".to_owned(),
                    expected: "a secret store (EngineBuilder::secrets) or ready clients".to_owned(),
                })?;
                vault
                    .require(&name, &entry)
                    .await
                    .map_err(|source| EngineError::Secret { connection, source })
            }
        };

        let commerce = match self.commerce {
            Some(client) => client,
            None => {
                let names = &c.commerce.auth.secrets;
                let text =
                    |s: &Option<crate::config::SecretName>| s.as_ref().map(|n| n.to_string());
                let credentials = match c.commerce.auth.kind {
                    CommerceAuthKind::Oauth1 => {
                        let ck = secret(
                            "commerce.auth.secrets.consumer_key",
                            text(&names.consumer_key),
                        )
                        .await?;
                        let cs = secret(
                            "commerce.auth.secrets.consumer_secret",
                            text(&names.consumer_secret),
                        )
                        .await?;
                        let at = secret(
                            "commerce.auth.secrets.access_token",
                            text(&names.access_token),
                        )
                        .await?;
                        let ats = secret(
                            "commerce.auth.secrets.access_token_secret",
                            text(&names.access_token_secret),
                        )
                        .await?;
                        let creds = Credentials::oauth1(
                            ck.expose_secret(),
                            cs.expose_secret(),
                            at.expose_secret(),
                            ats.expose_secret(),
                        );
                        redact.extend([ck, cs, at, ats]);
                        creds
                    }
                    CommerceAuthKind::Bearer => {
                        let token =
                            secret("commerce.auth.secrets.token", text(&names.token)).await?;
                        let creds = Credentials::bearer(token.expose_secret());
                        redact.push(token);
                        creds
                    }
                    CommerceAuthKind::Ims => {
                        let id = secret("commerce.auth.secrets.client_id", text(&names.client_id))
                            .await?;
                        let cs = secret(
                            "commerce.auth.secrets.client_secret",
                            text(&names.client_secret),
                        )
                        .await?;
                        let ims = adobe_commerce_client::ImsCredentials::new(
                            id.expose_secret(),
                            cs.expose_secret(),
                        )
                        .token_url(c.commerce.auth.ims_token_url())
                        .scopes(c.commerce.auth.scopes.clone());
                        redact.extend([id, cs]);
                        Credentials::ims(ims)
                    }
                };
                CommerceClient::builder(&c.commerce.base_url)
                    .credentials(credentials)
                    .flavour(match c.commerce.flavour {
                        CommerceFlavour::Paas => Flavour::PaaS,
                        CommerceFlavour::Saas => Flavour::SaaS,
                    })
                    .retry(self.options.commerce_retry)
                    .build()
                    .map_err(|e| config_error("commerce", &e.to_string()))?
            }
        };

        let syspro = match self.syspro {
            Some(client) => client,
            None => {
                let s = &c.syspro;
                let password = secret(
                    "syspro.secrets.operator_password",
                    Some(s.secrets.operator_password.to_string()),
                )
                .await?;
                // Its own thread: mapping and state writes never keep the session waiting.
                let mut builder =
                    EnetConfig::builder(&s.enet_url, &s.company_id, &s.operator, password.clone())
                        .idle_timeout(s.idle_timeout.get())
                        .call_timeout(s.call_timeout.get())
                        .own_thread(true);
                redact.push(password);
                if let Some(company) = &s.secrets.company_password {
                    let company =
                        secret("syspro.secrets.company_password", Some(company.to_string()))
                            .await?;
                    builder = builder.company_password(company.clone());
                    redact.push(company);
                }
                let config = builder
                    .build()
                    .map_err(|e| config_error("syspro", &e.to_string()))?;
                SysproClient::new(config).map_err(|source| EngineError::Syspro {
                    operation: "client setup",
                    source,
                })?
            }
        };

        let mapper = self
            .mapper
            .unwrap_or_else(|| Arc::new(DefaultMapper::for_connection(&self.connection)));
        let telemetry = Telemetry::new(self.connection.name.clone());
        Ok(Engine {
            inner: Arc::new(Inner {
                name,
                holder,
                connection: self.connection,
                store: self.store,
                audit: self.audit,
                clock: self.clock,
                mapper,
                commerce,
                syspro,
                redactor: Redactor::new(redact),
                options: self.options,
                telemetry,
                reference: tokio::sync::Mutex::new(None),
                customer_codes: Mutex::new(HashMap::new()),
                absent_emails: Mutex::new(HashSet::new()),
                created_customers: Mutex::new(HashMap::new()),
                intake_signal: pipeline::IntakeSignal::default(),
                plans: plans::PlanCache::default(),
                writes: tokio::sync::Mutex::new(()),
                missing_cash_customers: Mutex::new(Vec::new()),
                work: tokio::sync::Mutex::new(()),
                closing: watch::Sender::new(false),
                under_lease: AtomicBool::new(false),
                lease_seen: Mutex::new(LeaseSeen::default()),
                syspro_turn: tokio::sync::Mutex::new(()),
            }),
        })
    }
}

/// The engine of one connection. Cheap to clone; clones share clients, caches and counters.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("connection", &self.inner.connection.name)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) name: ConnectionName,
    pub(crate) holder: HolderId,
    pub(crate) connection: ConnectionConfig,
    pub(crate) store: Arc<dyn StateStore>,
    pub(crate) audit: Arc<dyn AuditLog>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) mapper: Arc<dyn Mapper>,
    pub(crate) commerce: CommerceClient,
    pub(crate) syspro: SysproClient,
    pub(crate) redactor: Redactor,
    pub(crate) options: EngineOptions,
    pub(crate) telemetry: Telemetry,
    pub(crate) reference: tokio::sync::Mutex<Option<reference::CachedReference>>,
    /// Lower-case email to SYSPRO customer code, learnt by matching or creating.
    pub(crate) customer_codes: Mutex<HashMap<String, String>>,
    /// Lower-case emails a batched look-up found no SYSPRO customer for, each noted until planning
    /// uses the note once.
    pub(crate) absent_emails: Mutex<HashSet<String>>,
    /// Customers this engine created in SYSPRO (for a document or a customer record), by
    /// lower-case email, until the Commerce customer's record takes the note: it then reads as
    /// created, and what SYSPRO was given is what it keeps in step from.
    pub(crate) created_customers: Mutex<HashMap<String, crate::plan::NewCustomer>>,
    /// Told of every change stored, so the mapping stage of a cycle can follow the reading.
    pub(crate) intake_signal: pipeline::IntakeSignal,
    /// Plans the mapping stage made, until the poster takes them.
    pub(crate) plans: plans::PlanCache,
    /// Taken around every store write of this engine. The stages of a cycle write at the same
    /// time; queueing their writes here (first come, first served) instead of in the database's
    /// lock keeps any one of them from waiting out the store's busy timeout.
    pub(crate) writes: tokio::sync::Mutex<()>,
    /// Cash customers the mapping names that SYSPRO does not hold (code, store code).
    pub(crate) missing_cash_customers: Mutex<Vec<(String, String)>>,
    /// Serialises cycles, replays and notifications of this connection.
    work: tokio::sync::Mutex<()>,
    /// Set when [`Engine::close`] begins: the unit of work in hand claims no more records and reads
    /// no further page, and no unit starts after it.
    closing: watch::Sender<bool>,
    /// Set while [`Engine::run`] works the connection under its lease: work started outside its
    /// cycles, such as a webhook's [`Engine::notify`], then renews the lease before each claim, as
    /// a cycle does, and claims nothing once it is lost.
    under_lease: AtomicBool,
    /// This worker's lease as its last acquisition or renewal left it, and the generation the
    /// unit of work in hand began under: [`Engine::send_fenced`] checks both before each post.
    lease_seen: Mutex<LeaseSeen>,
    /// Held by each SYSPRO call of this engine for the whole call ([`Engine::on_session`]), and by
    /// each post from its lease check to its answer ([`Engine::send_fenced`]): the session is
    /// serial anyway, and no call waits for it between a post's check and the post.
    syspro_turn: tokio::sync::Mutex<()>,
}

/// What an engine knows of its lease (see [`Engine::send_fenced`]).
#[derive(Debug, Default, Clone, Copy)]
struct LeaseSeen {
    /// The generation and expiry of the lease this worker last acquired or renewed; `None` once a
    /// renewal failed or another worker held it.
    held: Option<(u64, OffsetDateTime)>,
    /// The generation the unit of work in hand began under (or first renewed, when none was
    /// held when it began).
    unit: Option<u64>,
}

/// Marks an engine as worked under its lease by [`Engine::run`] for as long as it lives, so that a
/// run loop that ends in any way (returned, dropped mid-way, unwound) clears the mark.
struct UnderLease<'a>(&'a Engine);

impl<'a> UnderLease<'a> {
    fn begin(engine: &'a Engine) -> Self {
        engine.inner.under_lease.store(true, Ordering::Release);
        Self(engine)
    }
}

impl Drop for UnderLease<'_> {
    fn drop(&mut self) {
        self.0.inner.under_lease.store(false, Ordering::Release);
    }
}

/// How often [`Engine::run`] polls: between the configured bounds, sooner after a busy cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    min: Duration,
    max: Duration,
    adaptive: bool,
    current: Duration,
}

impl Schedule {
    /// A schedule between `min` and `max`.
    pub fn new(min: Duration, max: Duration, adaptive: bool) -> Self {
        let max = max.max(min);
        Self {
            min,
            max,
            adaptive,
            current: min,
        }
    }

    /// The wait before the next cycle after one that did (`busy`) or did not find work: back to
    /// the minimum when busy, doubling towards the maximum when idle.
    pub fn next(&mut self, busy: bool) -> Duration {
        self.current = if !self.adaptive || busy {
            self.min
        } else {
            (self.current * 2).clamp(self.min, self.max)
        };
        self.current
    }
}

impl Engine {
    /// A builder; see [`EngineBuilder::new`].
    pub fn builder(
        connection: ConnectionConfig,
        store: Arc<dyn StateStore>,
        audit: Arc<dyn AuditLog>,
        clock: Arc<dyn Clock>,
    ) -> EngineBuilder {
        EngineBuilder::new(connection, store, audit, clock)
    }

    /// The connection's name.
    pub fn connection(&self) -> &ConnectionName {
        &self.inner.name
    }

    /// The counters so far.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.inner.telemetry.snapshot()
    }

    /// Records of this connection per state.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn record_counts(&self) -> Result<StateCounts, EngineError> {
        Ok(self.inner.store.counts(Some(&self.inner.name)).await?)
    }

    /// The kind of record that becomes a posting on this connection.
    pub fn document_kind(&self) -> EntityKind {
        match self.inner.connection.trigger {
            Trigger::Invoice => EntityKind::Invoice,
            Trigger::Order => EntityKind::Order,
        }
    }

    /// Runs one poll cycle; see the module documentation.
    ///
    /// # Errors
    /// [`EngineError::Store`] when the store fails, [`EngineError::Syspro`] when reference data
    /// cannot be read. Failures of single records or of one stream do not fail the cycle: they are
    /// in the summary.
    pub async fn run_cycle(&self) -> Result<CycleSummary, EngineError> {
        self.cycle(None).await
    }

    async fn cycle(
        &self,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Result<CycleSummary, EngineError> {
        let _work = self.begin_work().await?;
        // Started outside the run loop's own cycles (a webhook's), under its lease: only while
        // the lease is still this worker's, since reconciling and posting follow.
        if stop.is_none() {
            self.renew_if_under_lease().await?;
        }
        let _plans = self.inner.plans.scope();
        let started = self.inner.clock.now();
        self.emit(EngineEvent::CycleStarted);
        let mut summary = CycleSummary::default();
        let reference = self.reference().await?;
        self.reconcile_stale(&reference, &mut summary).await?;
        self.run_pipeline(&reference, &mut summary, stop).await?;
        let elapsed = self.inner.clock.now() - started;
        summary.duration = elapsed.try_into().unwrap_or_default();
        self.emit(EngineEvent::CycleFinished(summary.clone()));
        Ok(summary)
    }

    /// Polls until `shutdown` turns true (keep its sender: one dropped without sending `true`
    /// never stops the loop): takes the connection's lease, runs cycles on the adaptive
    /// schedule, renews the lease while working, and on shutdown closes the engine (see
    /// [`Engine::close`]: the batches in hand are finished, SYSPRO is logged off) and releases the
    /// lease. A shutdown during a cycle begins the close at once, so the cycle winds down as on a
    /// close: no further page, document or claim. A record a shutdown leaves in `posting` is
    /// reconciled with SYSPRO at the next start.
    ///
    /// While it holds the lease it also takes the webhook notifications other workers queued for
    /// this connection (about once a second), and reports every cycle to the store for `status`.
    /// A shutdown while it reads their documents closes the engine at once too, drops the document
    /// on its way and puts the notifications back in the queue for the connection's next holder.
    ///
    /// # Errors
    /// [`EngineError::Store`] when the lease cannot be written.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) -> Result<(), EngineError> {
        let schedule = &self.inner.connection.schedule;
        let mut plan = Schedule::new(
            schedule.min_interval.get(),
            schedule.max_interval.get(),
            schedule.adaptive,
        );
        let mut holding = false;
        let _under_lease = UnderLease::begin(self);
        let result = loop {
            // A closed engine does no more work, whether the close came from a stop signal (which
            // may have turned false again since) or from `Engine::close`.
            if *shutdown.borrow() || self.closing() {
                break Ok(());
            }
            let outcome = match self
                .inner
                .store
                .acquire_lease(
                    &self.inner.name,
                    &self.inner.holder,
                    self.inner.options.lease_ttl,
                )
                .await
            {
                Err(e) => break Err(e.into()),
                Ok(outcome) => outcome,
            };
            self.note_lease(match &outcome {
                crate::state::LeaseOutcome::Acquired(lease) => Some(lease),
                crate::state::LeaseOutcome::HeldByOther(_) => None,
            });
            let (wait, held) = match outcome {
                crate::state::LeaseOutcome::HeldByOther(lease) => {
                    self.emit(EngineEvent::LeaseHeldElsewhere {
                        holder: lease.holder.to_string(),
                    });
                    // Asking again often (a tenth of the lease time) lets this worker take the
                    // connection over soon after a dead holder's lease lapses.
                    let ttl = self.inner.options.lease_ttl;
                    (
                        plan.next(false)
                            .min((ttl / 10).max(Duration::from_millis(500))),
                        false,
                    )
                }
                crate::state::LeaseOutcome::Acquired(_) => {
                    let mut lost = false;
                    let started = self.inner.clock.now();
                    self.report_cycle(started, None, String::new(), None).await;
                    let result = self
                        .closing_on_stop(
                            self.renewing_lease(self.cycle(Some(&shutdown))),
                            &shutdown,
                        )
                        .await;
                    let (wait, outcome, fatal) = match result {
                        Ok(summary) => {
                            let errors = match summary.errors.len() {
                                0 => String::new(),
                                n => format!(" with {n} error(s)"),
                            };
                            let outcome = format!(
                                "{}{errors} ({} read, {} posted)",
                                if summary.interrupted {
                                    "stopped part-way by a shutdown"
                                } else {
                                    "ok"
                                },
                                summary.read,
                                summary.posted
                            );
                            (plan.next(summary.had_work()), outcome, None)
                        }
                        // A stop that came as the cycle waited for its turn closed the engine
                        // before the cycle began: it read and posted nothing.
                        Err(EngineError::Closed { .. }) if *shutdown.borrow() => (
                            Duration::ZERO,
                            "stopped part-way by a shutdown (0 read, 0 posted)".to_owned(),
                            None,
                        ),
                        // Another worker took the connection over while the cycle ran (this one
                        // was held up past its lease): it asks for the lease again, as a worker
                        // that holds none does.
                        Err(EngineError::Store(e @ StoreError::LeaseLost { .. })) => {
                            tracing::warn!(
                                connection = %self.inner.name,
                                error = %e,
                                "the connection's lease was lost during a poll cycle; its records are left to the lease's holder"
                            );
                            lost = true;
                            let ttl = self.inner.options.lease_ttl;
                            (
                                plan.next(false)
                                    .min((ttl / 10).max(Duration::from_millis(500))),
                                format!("stopped: {}", error_chain(&e)),
                                None,
                            )
                        }
                        Err(EngineError::Store(e)) if !e.is_transient() => {
                            let outcome = format!("failed: {}", error_chain(&e));
                            (Duration::ZERO, outcome, Some(e))
                        }
                        Err(e) => {
                            tracing::warn!(
                                connection = %self.inner.name,
                                error = %crate::engine::error_chain(&e),
                                "poll cycle failed"
                            );
                            (
                                plan.next(false),
                                format!("failed: {}", error_chain(&e)),
                                None,
                            )
                        }
                    };
                    let finished = self.inner.clock.now();
                    // A worker that is stopping plans no next cycle.
                    let stopping = *shutdown.borrow();
                    // Nor does one that lost the lease: the next cycle is its holder's.
                    let next = (fatal.is_none() && !stopping && !lost).then(|| finished + wait);
                    self.report_cycle(started, Some(finished), outcome, next)
                        .await;
                    if let Some(e) = fatal {
                        break Err(e.into());
                    }
                    (wait, !lost)
                }
            };
            holding = held;
            self.wait_for_next_cycle(wait, held, &mut shutdown).await;
        };
        self.emit(EngineEvent::ShuttingDown);
        // Closed first, renewing the lease meanwhile: a notification's unit of work still posting
        // keeps the connection until its batches are done.
        let close = self.close();
        tokio::pin!(close);
        tokio::select! {
            () = &mut close => {}
            () = self.renew_while_working(), if holding => close.await,
        }
        let _ = self
            .inner
            .store
            .release_lease(&self.inner.name, &self.inner.holder)
            .await;
        result
    }

    /// Waits `wait`, or until shutdown. While this worker holds the connection's lease it renews it
    /// every third of the lease's time to live, so a wait between cycles longer than the lease never
    /// lets another worker (or a one-off `sync`) in, while a worker that dies still loses the lease
    /// within one time to live. While it holds the lease it also takes queued webhook notifications
    /// about once a second; a notification that needs a whole cycle ends the wait.
    async fn wait_for_next_cycle(
        &self,
        wait: Duration,
        mut held: bool,
        shutdown: &mut watch::Receiver<bool>,
    ) {
        const NOTIFICATION_TICK: Duration = Duration::from_secs(1);
        let ttl = self.inner.options.lease_ttl;
        let renew_every = renewal_interval(ttl);
        let mut since_renewal = Duration::ZERO;
        let mut remaining = wait;
        // Whether `shutdown`'s sender is still there: one dropped without saying stop never will,
        // and its closed channel must not end every wait at once.
        let mut stop_can_come = true;
        while !remaining.is_zero() {
            let step = if held {
                remaining.min(NOTIFICATION_TICK).min(renew_every)
            } else {
                remaining.min(renew_every)
            };
            tokio::select! {
                () = self.inner.clock.sleep(step) => {}
                stopped = shutdown.wait_for(|stop| *stop), if stop_can_come => {
                    if stopped.is_ok() {
                        return;
                    }
                    stop_can_come = false;
                    continue;
                }
            }
            remaining = remaining.saturating_sub(step);
            since_renewal += step;
            if held && !remaining.is_zero() && since_renewal >= renew_every {
                since_renewal = Duration::ZERO;
                if let Err(e) = self.renew_in_store().await {
                    tracing::warn!(
                        connection = %self.inner.name,
                        error = %e,
                        "could not renew the connection's lease; it is taken again before the next cycle"
                    );
                    held = false;
                }
            }
            if held
                && !remaining.is_zero()
                && self
                    .closing_on_stop(
                        self.renewing_lease(self.take_queued_notifications(shutdown)),
                        shutdown,
                    )
                    .await
            {
                return;
            }
        }
    }

    /// Runs `work` of the run loop. The loop closes the engine once it stops, and a stop signal
    /// during `work` begins that close at once, so every stage winds down as on a close (the
    /// reader drops the page on its way, the mapper stops at its next document, the poster
    /// finishes the batches it holds) instead of finishing its pass first.
    async fn closing_on_stop<T>(
        &self,
        work: impl Future<Output = T>,
        shutdown: &watch::Receiver<bool>,
    ) -> T {
        let mut stop = shutdown.clone();
        let close_on_stop = async {
            if stop.wait_for(|stop| *stop).await.is_ok() {
                self.inner.closing.send_replace(true);
            }
            std::future::pending::<std::convert::Infallible>().await
        };
        tokio::select! {
            biased;
            result = work => result,
            never = close_on_stop => match never {},
        }
    }

    /// Renews the connection's lease in the store and notes it; a renewal that fails leaves it
    /// noted as not held.
    async fn renew_in_store(&self) -> Result<crate::state::Lease, StoreError> {
        let renewed = self
            .inner
            .store
            .renew_lease(
                &self.inner.name,
                &self.inner.holder,
                self.inner.options.lease_ttl,
            )
            .await;
        self.note_lease(renewed.as_ref().ok());
        renewed
    }

    fn lease_seen(&self) -> std::sync::MutexGuard<'_, LeaseSeen> {
        self.inner
            .lease_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes the lease this worker holds now (`None`: none it can count on). A unit of work that
    /// began while none was noted takes the generation of the first lease noted in it.
    fn note_lease(&self, lease: Option<&crate::state::Lease>) {
        let mut seen = self.lease_seen();
        seen.held = lease.map(|lease| (lease.generation, lease.expires_at));
        if seen.unit.is_none() {
            seen.unit = lease.map(|lease| lease.generation);
        }
    }

    /// Makes one SYSPRO call (`call`, given the client) in the engine's SYSPRO turn.
    pub(crate) async fn on_session<'s, T, F>(
        &'s self,
        call: impl FnOnce(&'s SysproClient) -> F,
    ) -> T
    where
        F: Future<Output = T>,
    {
        let _turn = self.inner.syspro_turn.lock().await;
        call(&self.inner.syspro).await
    }

    /// Sends one document to SYSPRO (`send`) in the engine's SYSPRO turn, held from the lease
    /// check below to the answer, so no other call of the engine takes the session in between.
    ///
    /// First it writes `first`, the audit entries of what is about to be sent (with whatever else
    /// the caller staged): what is sent is durable before it is sent. It does so before taking
    /// the turn, so the write overlaps the call in hand. A document that then waits for the turn
    /// longer than [`TURN_WAIT_NOTED`], and every later part of a batch (`Outgoing::Part`), gets
    /// a second `sent` entry when it goes: a record whose answer never comes is looked up only a
    /// while after its document went (see [`Engine::sent_unanswered_at`]), and the first entry
    /// would make that while too short.
    ///
    /// Then, under the run loop's lease, it asks two things. Is the lease still this worker's for
    /// a while (at least the third of its time to live that the run loop renews it by)? If not,
    /// it is renewed. And is it still the lease the unit of work in hand began under (same
    /// generation)? A worker can be held up between its renewal before a claim and the send: a
    /// slow state database writing what is about to be sent, a paused machine. Past its lease,
    /// another worker may take the connection over and reconcile the same records in `posting`;
    /// and this worker may even have taken the lease back since, under a new generation. A send
    /// then could post the records a second time. The check costs nothing while the lease is
    /// fresh.
    ///
    /// The inner error says why nothing was sent: the lease could not be renewed, or is not the
    /// one the unit began under. The caller leaves its records in `posting` for reconciliation.
    ///
    /// # Errors
    /// The store's failure to write the `sent` entries: nothing was sent either.
    pub(crate) async fn send_fenced<T, F>(
        &self,
        outgoing: writes::Outgoing<'_>,
        send: impl FnOnce() -> F,
    ) -> Result<Result<T, String>, StoreError>
    where
        F: Future<Output = T>,
    {
        let sent = outgoing.sent();
        let part = match outgoing {
            writes::Outgoing::First(first) => {
                self.flush(first).await?;
                false
            }
            writes::Outgoing::Part(_) => true,
        };
        let asked = tokio::time::Instant::now();
        let _turn = self.inner.syspro_turn.lock().await;
        let waited = asked.elapsed();
        if part || waited >= TURN_WAIT_NOTED {
            let mut again = writes::Pending::default();
            for (key, message) in sent {
                let note = if part {
                    format!("{message}: this part of it goes now")
                } else {
                    format!(
                        "{message}: goes now, after {:.1} s waiting for the SYSPRO session",
                        waited.as_secs_f64()
                    )
                };
                self.stage_audit(&mut again, &key, AuditKind::Sent, note, None);
            }
            self.flush(&mut again).await?;
        }
        if self.under_lease() {
            let margin = renewal_interval(self.inner.options.lease_ttl);
            let seen = *self.lease_seen();
            let fresh = seen.held.is_some_and(|(generation, until)| {
                seen.unit == Some(generation) && self.inner.clock.now() + margin < until
            });
            if !fresh && let Err(e) = self.renew_in_unit().await {
                return Ok(Err(error_chain(&e)));
            }
        }
        Ok(Ok(send().await))
    }

    /// Renews the lease, and fails as a lost lease when it is no longer the one the unit of work
    /// in hand began under: another worker held it in between.
    async fn renew_in_unit(&self) -> Result<(), EngineError> {
        let lease = self.renew_in_store().await?;
        // This renewal's own answer: another task may have noted another since.
        if self.lease_seen().unit != Some(lease.generation) {
            return Err(StoreError::LeaseLost {
                connection: self.inner.name.clone(),
                holder: self.inner.holder.clone(),
            }
            .into());
        }
        Ok(())
    }

    /// Renews the connection's lease when [`Engine::run`] works it under the lease (always so for
    /// the run loop's own cycles and takes, and for work a webhook starts beside them). Fails as a
    /// lost lease, too, when the lease changed hands since the unit of work in hand began.
    pub(crate) async fn renew_if_under_lease(&self) -> Result<(), EngineError> {
        if self.under_lease() {
            self.renew_in_unit().await?;
        }
        Ok(())
    }

    /// Whether [`Engine::run`] works this connection under its lease: the poster then renews the
    /// lease before each claim, whatever started the work, and claims nothing once it is lost.
    pub(crate) fn under_lease(&self) -> bool {
        self.inner.under_lease.load(Ordering::Acquire)
    }

    /// Runs `work`, renewing the connection's lease meanwhile (see
    /// [`Engine::renew_while_working`]); once the lease cannot be renewed, `work` just goes on.
    async fn renewing_lease<T>(&self, work: impl Future<Output = T>) -> T {
        tokio::pin!(work);
        tokio::select! {
            result = &mut work => result,
            () = self.renew_while_working() => work.await,
        }
    }

    /// Renews the lease every third of its time to live while a cycle (or a take of queued
    /// notifications) runs, so work longer than the lease never lets another worker in. Returns
    /// only when the lease is lost.
    async fn renew_while_working(&self) {
        let ttl = self.inner.options.lease_ttl;
        let renew_every = renewal_interval(ttl);
        loop {
            self.inner.clock.sleep(renew_every).await;
            if let Err(e) = self.renew_in_store().await {
                tracing::warn!(
                    connection = %self.inner.name,
                    error = %e,
                    "could not renew the connection's lease during a cycle"
                );
                return;
            }
        }
    }

    /// Processes the webhook notifications queued for this connection, as the run loop with the
    /// `shutdown` signal it watches. Returns whether one of them asks for a whole cycle (an order
    /// event on a connection that posts invoices).
    async fn take_queued_notifications(&self, shutdown: &watch::Receiver<bool>) -> bool {
        if self.closing() {
            return false;
        }
        let queued = match self
            .inner
            .store
            .take_notifications(&self.inner.name, 100)
            .await
        {
            Ok(queued) => queued,
            Err(StoreError::Unsupported { .. }) => return false,
            Err(e) => {
                tracing::warn!(connection = %self.inner.name, error = %e, "could not read queued webhook notifications");
                return false;
            }
        };
        if queued.is_empty() {
            return false;
        }
        let document_kind = self.document_kind();
        let (documents, others): (Vec<_>, Vec<_>) = queued
            .into_iter()
            .partition(|n| n.key.kind == document_kind);
        if !documents.is_empty() {
            let list: Vec<(EntityKind, String)> = documents
                .iter()
                .map(|n| (n.key.kind, n.key.commerce_id.clone()))
                .collect();
            match self.take_notified(&list, Some(shutdown)).await {
                Ok(_) => {}
                // Stopping, or the lease has gone: the notifications go back to the queue for
                // the connection's holder (taking one again whose document was stored reads it
                // again, no more).
                Err(
                    EngineError::Closed { .. } | EngineError::Store(StoreError::LeaseLost { .. }),
                ) => {
                    self.queue_again(&documents).await;
                }
                Err(e) => {
                    tracing::warn!(connection = %self.inner.name, error = %error_chain(&e), "queued webhook notifications failed; polling picks the documents up");
                }
            }
        }
        // A stopping worker runs no further cycle: what asked for one waits for the next holder.
        if !others.is_empty() && self.closing() {
            self.queue_again(&others).await;
            return false;
        }
        !others.is_empty()
    }

    /// Puts notifications taken from the queue back, for the connection's next holder.
    async fn queue_again(&self, notifications: &[crate::state::Notification]) {
        for notification in notifications {
            if let Err(e) = self.inner.store.push_notification(&notification.key).await {
                tracing::warn!(connection = %self.inner.name, record = %notification.key, error = %e, "could not queue a webhook notification again; polling picks the document up");
            }
        }
    }

    /// Writes how the cycle that started at `started_at` stands, for `status`. A store that cannot
    /// keep reports only loses that view, so failures are logged, not returned.
    async fn report_cycle(
        &self,
        started_at: OffsetDateTime,
        finished_at: Option<OffsetDateTime>,
        outcome: String,
        next_due_at: Option<OffsetDateTime>,
    ) {
        let report = crate::state::CycleReport {
            connection: self.inner.name.clone(),
            holder: self.inner.holder.clone(),
            started_at,
            finished_at,
            outcome,
            next_due_at,
        };
        match self.inner.store.record_cycle(&report).await {
            Ok(()) | Err(StoreError::Unsupported { .. }) => {}
            Err(e) => {
                tracing::warn!(connection = %self.inner.name, error = %e, "could not record the cycle for status");
            }
        }
    }

    /// Closes the engine: the cycle, replay or notification in hand reads no further Commerce page
    /// (dropping one on its way), maps and claims no more records and finishes the batches it is
    /// posting, then the engine logs off SYSPRO. It makes no SYSPRO
    /// calls afterwards, and later calls of [`Engine::run_cycle`], [`Engine::replay`] and
    /// [`Engine::notify`] fail with [`EngineError::Closed`], leaving every record where it is. So
    /// no record is claimed, using up one of its attempts, only to meet a client that was closed.
    pub async fn close(&self) {
        self.inner.closing.send_replace(true);
        let _work = self.inner.work.lock().await;
        if let Err(e) = self.on_session(|s| s.close()).await {
            tracing::warn!(connection = %self.inner.name, error = %e, "SYSPRO logoff failed");
        }
    }

    /// Re-processes records after a mapping fix: each is read again from Commerce (or, with
    /// `from_stored_payload`, taken as stored), moved back to `received`, mapped with the current
    /// mapping and posted. Records already posted are left alone.
    ///
    /// # Errors
    /// [`EngineError::UnknownRecord`] for a key that does not exist; store and reference-data
    /// failures.
    pub async fn replay(
        &self,
        keys: &[RecordKey],
        from_stored_payload: bool,
    ) -> Result<CycleSummary, EngineError> {
        let _work = self.begin_work().await?;
        let _plans = self.inner.plans.scope();
        let started = self.inner.clock.now();
        let mut summary = CycleSummary::default();
        for key in keys {
            let record = self
                .inner
                .store
                .get(key)
                .await?
                .ok_or_else(|| EngineError::UnknownRecord { key: key.clone() })?;
            if !from_stored_payload {
                // A close drops the document on its way (nothing of it is stored yet); the
                // records not read again yet stay where they are, for another replay.
                let Some(fetched) = self
                    .unless_closed(self.fetch(key.kind, &key.commerce_id))
                    .await
                else {
                    summary.interrupted = true;
                    break;
                };
                match fetched {
                    Ok(Some(fetched)) => {
                        self.take_in(key.kind, fetched, &mut summary).await?;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        summary.errors.push((key.kind, error_chain(&e)));
                        continue;
                    }
                }
            }
            let current = self.inner.store.get(key).await?.unwrap_or(record);
            if matches!(current.state, RecordState::Halted | RecordState::Dead) {
                self.move_record(&current, Target::Received, "replay requested", None)
                    .await?;
            }
        }
        // Closing: nothing is mapped or posted, so the reference data is not needed either.
        if summary.interrupted {
            return Ok(summary);
        }
        let reference = self.reference().await?;
        self.map_received(&reference, &mut summary, None, true)
            .await?;
        self.post_due(&reference, &mut summary, None).await?;
        summary.duration = (self.inner.clock.now() - started)
            .try_into()
            .unwrap_or_default();
        Ok(summary)
    }

    /// Replays every halted record of this connection (and the dead ones with `include_dead`).
    ///
    /// # Errors
    /// As [`Engine::replay`].
    pub async fn replay_halted(
        &self,
        include_dead: bool,
        from_stored_payload: bool,
    ) -> Result<CycleSummary, EngineError> {
        let mut keys = Vec::new();
        let mut states = vec![RecordState::Halted];
        if include_dead {
            states.push(RecordState::Dead);
        }
        for state in states {
            let mut after = None;
            loop {
                let page = self
                    .inner
                    .store
                    .list(&RecordFilter {
                        connection: Some(self.inner.name.clone()),
                        state: Some(state),
                        kind: None,
                        after: after.clone(),
                        limit: 500,
                    })
                    .await?;
                let Some(last) = page.last() else { break };
                after = Some(last.key.clone());
                keys.extend(page.into_iter().map(|r| r.key));
            }
        }
        self.replay(&keys, from_stored_payload).await
    }

    /// Takes a verified webhook notification: reads the document now, stores it (deduplicated with
    /// polling by record key and fingerprint) and maps and posts what is due.
    ///
    /// # Errors
    /// [`EngineError::Closed`] when the engine is closed, or closes before the document is stored
    /// (the document on its way is dropped): queue the notification for the connection's next
    /// engine. [`EngineError::Commerce`] when the document cannot be read; store and
    /// reference-data failures, among them [`StoreError::LeaseLost`] when the engine's
    /// [`Engine::run`] works under a lease that is no longer its own (nothing is claimed then).
    pub async fn notify(
        &self,
        kind: EntityKind,
        commerce_id: &str,
    ) -> Result<CycleSummary, EngineError> {
        self.take_notified(&[(kind, commerce_id.to_owned())], None)
            .await
    }

    /// Reads and stores the notified documents, then maps and posts what is due, as one unit of work.
    /// A document that cannot be read fails the call when it is the only one; among several it is
    /// listed in the summary's errors and polling picks it up later. A close before every document
    /// is stored fails the call with [`EngineError::Closed`]; the documents stored before it stay
    /// `received`. Under the run loop's lease, the lease is renewed first and before each claim,
    /// as in a cycle, and nothing is done once it is lost; the run loop's `stop` signal ends the
    /// posting as it ends a cycle's.
    async fn take_notified(
        &self,
        documents: &[(EntityKind, String)],
        stop: Option<&watch::Receiver<bool>>,
    ) -> Result<CycleSummary, EngineError> {
        let _work = self.begin_work().await?;
        // Mapping may create or update SYSPRO customers: only while the lease is still ours.
        self.renew_if_under_lease().await?;
        let _plans = self.inner.plans.scope();
        let started = self.inner.clock.now();
        let mut summary = CycleSummary::default();
        let closed = || EngineError::Closed {
            connection: self.inner.name.to_string(),
        };
        for (kind, commerce_id) in documents {
            // A document on its way when the engine closes is dropped (nothing of it is stored
            // yet), so a held-up Commerce cannot hold up a shutdown; the caller queues it again.
            let Some(fetched) = self.unless_closed(self.fetch(*kind, commerce_id)).await else {
                return Err(closed());
            };
            match fetched {
                Ok(Some(fetched)) => {
                    self.take_in(*kind, fetched, &mut summary).await?;
                }
                Ok(None) => {}
                Err(e) if documents.len() > 1 => summary.errors.push((*kind, error_chain(&e))),
                Err(e) => return Err(e),
            }
        }
        let reference = self.reference().await?;
        self.map_received(&reference, &mut summary, None, true)
            .await?;
        self.post_due(&reference, &mut summary, stop).await?;
        summary.duration = (self.inner.clock.now() - started)
            .try_into()
            .unwrap_or_default();
        Ok(summary)
    }

    /// Waits for this connection's turn to work, or fails once the engine is closing.
    async fn begin_work(&self) -> Result<tokio::sync::MutexGuard<'_, ()>, EngineError> {
        let turn = self.inner.work.lock().await;
        if self.closing() {
            return Err(EngineError::Closed {
                connection: self.inner.name.to_string(),
            });
        }
        let mut seen = self.lease_seen();
        seen.unit = seen.held.map(|(generation, _)| generation);
        drop(seen);
        Ok(turn)
    }

    /// Whether [`Engine::close`] has begun: reading asks for no further page, and posting claims
    /// no more records.
    pub(crate) fn closing(&self) -> bool {
        *self.inner.closing.borrow()
    }

    /// Ends once a shutdown begins: [`Engine::close`], or `stop` (the run loop's stop signal)
    /// turning true. A stop signal whose sender is gone never ends it.
    async fn shutdown_begun(&self, stop: Option<&watch::Receiver<bool>>) {
        let mut closing = self.inner.closing.subscribe();
        let closed = async move {
            // `self` holds the sender, so the wait ends only when the engine closes.
            if closing.wait_for(|closing| *closing).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        let stop = stop.cloned();
        let stopped = async move {
            let signalled = match stop {
                Some(mut stop) => stop.wait_for(|stop| *stop).await.is_ok(),
                None => false,
            };
            if !signalled {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = closed => {}
            () = stopped => {}
        }
    }

    /// What `work` gives, or `None` when the engine closes first (see [`before_shutdown`]). A
    /// closing engine does not begin `work` at all.
    async fn unless_closed<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        if self.closing() {
            return None;
        }
        before_shutdown(work, self.shutdown_begun(None)).await
    }

    // ---- intake ----------------------------------------------------------------------------------

    /// Records per SYSPRO document (`batch_size`, at least one): what the poster claims at a time
    /// and how often the mapper makes its outcomes durable.
    pub(crate) fn batch_size(&self) -> usize {
        usize::try_from(self.inner.connection.batch_size.max(1)).unwrap_or(50)
    }

    pub(crate) fn emit(&self, event: EngineEvent) {
        self.inner.telemetry.emit(event);
    }

    pub(crate) fn commerce_call<T>(
        &self,
        operation: &'static str,
        result: Result<T, adobe_commerce_client::Error>,
    ) -> Result<T, EngineError> {
        let outcome = match &result {
            Ok(_) => CallOutcome::Ok,
            Err(e) if e.is_retryable() => CallOutcome::Transient,
            Err(_) => CallOutcome::Failed,
        };
        self.emit(EngineEvent::Call {
            system: System::Commerce,
            operation,
            outcome,
        });
        result.map_err(|source| EngineError::Commerce { operation, source })
    }

    /// Reads one document of `kind` from Commerce with what its record needs.
    async fn fetch(&self, kind: EntityKind, id: &str) -> Result<Option<Fetched>, EngineError> {
        let Ok(numeric) = id.parse::<u64>() else {
            return Ok(None);
        };
        let commerce = &self.inner.commerce;
        Ok(Some(match kind {
            EntityKind::Order => {
                let order = commerce.orders().get(OrderId(numeric)).send().await;
                Fetched::Order(Box::new(self.commerce_call("orders.get", order)?))
            }
            EntityKind::Invoice => {
                let invoice = commerce.invoices().get(InvoiceId(numeric)).send().await;
                let invoice = self.commerce_call("invoices.get", invoice)?;
                let order = self.order_of(&invoice, &mut HashMap::new()).await?;
                Fetched::Invoice(Box::new(invoice), Box::new(order))
            }
            EntityKind::Customer => {
                let customer = commerce.customers().get(CustomerId(numeric)).send().await;
                Fetched::Customer(Box::new(self.commerce_call("customers.get", customer)?))
            }
            EntityKind::CreditMemo => return self.fetch_credit_memo(numeric).await,
        }))
    }

    /// The orders of `invoices`, read with one search (`entity_id` in the page's order ids). An
    /// order the search does not return is left out; [`Engine::order_of`] then reads it alone.
    async fn orders_of(&self, invoices: &[Invoice]) -> Result<HashMap<u64, Order>, EngineError> {
        let mut ids: Vec<u64> = invoices
            .iter()
            .filter_map(|i| i.order_id.map(|id| id.get()))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut orders = HashMap::with_capacity(ids.len());
        if ids.is_empty() {
            return Ok(orders);
        }
        let criteria = SearchCriteria::new()
            .filter(Filter::in_list("entity_id", ids.iter()))
            .page_size(u32::try_from(ids.len()).unwrap_or(u32::MAX));
        let page = self.inner.commerce.orders().search(criteria).send().await;
        for order in self.commerce_call("orders.search", page)?.items {
            if let Some(id) = order.entity_id {
                orders.insert(id.get(), order);
            }
        }
        Ok(orders)
    }

    async fn order_of(
        &self,
        invoice: &Invoice,
        cache: &mut HashMap<u64, Order>,
    ) -> Result<Order, EngineError> {
        let Some(order_id) = invoice.order_id else {
            return Err(EngineError::Config {
                connection: self.inner.connection.name.clone(),
                field: "invoice.order_id".to_owned(),
                expected: "Commerce invoices to name their order".to_owned(),
            });
        };
        if let Some(order) = cache.get(&order_id.get()) {
            return Ok(order.clone());
        }
        let order = self.inner.commerce.orders().get(order_id).send().await;
        let order = self.commerce_call("orders.get", order)?;
        cache.insert(order_id.get(), order.clone());
        Ok(order)
    }

    /// Stores one document; returns its `updated_at` when it was stored (or already known).
    async fn take_in(
        &self,
        kind: EntityKind,
        fetched: Fetched,
        summary: &mut CycleSummary,
    ) -> Result<Option<OffsetDateTime>, EngineError> {
        self.take_in_many(kind, vec![fetched], summary).await
    }

    /// Stores documents read from Commerce in one store call; returns the latest `updated_at` of
    /// those stored (`None` when none could be).
    async fn take_in_many(
        &self,
        kind: EntityKind,
        fetched: Vec<Fetched>,
        summary: &mut CycleSummary,
    ) -> Result<Option<OffsetDateTime>, EngineError> {
        let mut intakes = Vec::with_capacity(fetched.len());
        let mut latest: Option<OffsetDateTime> = None;
        for fetched in fetched {
            // Rendering, hashing and checking a page's documents is CPU work without a wait:
            // other tasks get their turn between documents.
            tokio::task::yield_now().await;
            let Some((id, updated_at, fingerprint_of, payload)) = fetched.into_parts() else {
                let error =
                    format!("a Commerce {kind} without entity id or timestamps was skipped");
                tracing::warn!(connection = %self.inner.name, "{error}");
                summary.errors.push((kind, error));
                continue;
            };
            // The payload's text is rendered once, for storage and redaction; it, or the text of
            // the part the fingerprint covers, is canonical and hashed as it is.
            let fingerprint = Fingerprint::of_rendered(
                id.clone(),
                updated_at,
                fingerprint_of.as_ref().unwrap_or(&payload).json_text(),
            );
            intakes.push(Intake {
                key: RecordKey::new(self.inner.name.clone(), kind, id),
                fingerprint,
                payload: self.inner.redactor.redact_payload(payload),
            });
            latest = Some(latest.map_or(updated_at, |l| l.max(updated_at)));
        }
        if intakes.is_empty() {
            return Ok(None);
        }
        let outcomes = {
            let _turn = self.inner.writes.lock().await;
            self.inner.store.intake_many(intakes).await?
        };
        for outcome in outcomes {
            summary.read += 1;
            match outcome {
                IntakeOutcome::Unchanged(_) => {
                    summary.intake_unchanged += 1;
                    continue;
                }
                IntakeOutcome::ChangedAfterPosting(record) => {
                    summary.intake_new += 1;
                    summary.changed_after_posting += 1;
                    self.emit(EngineEvent::ChangedAfterPosting { key: record.key });
                }
                IntakeOutcome::Created(_) | IntakeOutcome::Updated(_) => summary.intake_new += 1,
            }
            self.inner.intake_signal.stored();
        }
        Ok(latest)
    }

    /// Reads one stream from `watermark - overlap` and stores every change in order.
    ///
    /// Commerce pages by offset. A document updated after its page was read moves to the end and
    /// every later row moves up a place, so the first row of the next page is never served. The
    /// page stream names the documents that came again; rows before the first place one of them
    /// had did not move. So the stream is read again from the `updated_at` that document had when
    /// first read, and the watermark goes no further than that point until a pass sees no row
    /// move (at most [`READ_PASSES`] passes a cycle; the next cycle goes on from there).
    ///
    /// A shutdown (`stop`, or [`Engine::close`]) ends the reading before the next page, or drops
    /// the page on its way (with any look-ups it needs before it is stored): what was stored stays
    /// stored, the watermark goes no further than a pass cut short could vouch for,
    /// and `summary.interrupted` is set. A failed page keeps the same bounds.
    async fn read_stream(
        &self,
        kind: EntityKind,
        summary: &mut CycleSummary,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Result<(), EngineError> {
        let stream = StreamName::from(kind);
        let c = &self.inner.connection;
        let watermark = self
            .inner
            .store
            .watermark(&self.inner.name, &stream)
            .await?;
        let overlap = time::Duration::try_from(c.overlap.get()).unwrap_or(time::Duration::ZERO);
        let store_ids: Vec<u32> = c.commerce.stores.iter().map(|s| s.id).collect();
        let criteria_from = |from: Option<OffsetDateTime>| {
            let mut criteria = SearchCriteria::new();
            if let Some(from) = from {
                criteria = criteria.updated_since(from);
            }
            if kind != EntityKind::Customer {
                criteria = criteria.filter(Filter::in_list("store_id", store_ids.iter()));
            }
            criteria
                .sort_by("updated_at", SortDirection::Asc)
                .sort_by("entity_id", SortDirection::Asc)
                .page_size(c.commerce.page_size)
        };
        let before = (summary.read, summary.intake_new);
        let mut from = watermark.map(|mark| mark - overlap);
        // Everything up to this `updated_at` is stored, with no change left unread before it.
        let mut stored_up_to: Option<OffsetDateTime> = None;
        let mut pass = 0;
        let result: Result<(), EngineError> = loop {
            pass += 1;
            let mut progress = PassProgress::default();
            let unchanged_before = summary.intake_unchanged;
            let (moved, end) = self
                .read_pass(
                    kind,
                    criteria_from(from),
                    &store_ids,
                    summary,
                    &mut progress,
                    stop,
                )
                .await;
            if pass > 1 {
                // A pass read again counts only the changes it found: what it found unchanged
                // was counted by the pass before.
                let again = summary.intake_unchanged - unchanged_before;
                summary.read -= again;
                summary.intake_unchanged = unchanged_before;
            }
            // Stored for sure: what comes before the first place a moved document had, and of
            // that, everything the pass stored when it read every page. A pass cut short (a page
            // failed, or a shutdown began) vouches for its first page alone: a document that
            // moved from an earlier place is only named when it comes again, at the end of the
            // stream, and the row it hid is older than the pages read after it.
            let vouched = match end {
                Ok(PassEnd::Read) => progress.up_to,
                Ok(PassEnd::Stopped) | Err(_) => progress.first_page,
            };
            let sure = match moved {
                None => vouched,
                Some(Some(again)) => vouched.map(|up_to| again.min(up_to)),
                Some(None) => None,
            };
            stored_up_to = stored_up_to.max(sure);
            if !matches!(end, Ok(PassEnd::Read)) && progress.pages > 1 && stored_up_to <= watermark
            {
                tracing::warn!(
                    connection = %self.inner.name,
                    stream = kind.as_str(),
                    pages = progress.pages,
                    "a read cut short vouches for its first page only, and that page lies within the overlap: the watermark stays, and the next cycle reads the stream again from the same place (a larger commerce.page_size or a smaller overlap lets a cut read move it)"
                );
            }
            match end {
                Err(e) => break Err(e),
                Ok(PassEnd::Stopped) => {
                    summary.interrupted = true;
                    break Ok(());
                }
                Ok(PassEnd::Read) => {}
            }
            let Some(again_from) = moved else {
                break Ok(());
            };
            if pass >= READ_PASSES {
                tracing::warn!(
                    connection = %self.inner.name,
                    stream = kind.as_str(),
                    "documents kept changing while the stream was read; the next cycle reads it again from where they first moved"
                );
                break Ok(());
            }
            tracing::info!(
                connection = %self.inner.name,
                stream = kind.as_str(),
                "a document changed while the stream was read; reading it again from where it was, so that none is skipped"
            );
            if again_from.is_some() {
                from = again_from;
            }
        };
        self.finish_stream(kind, &stream, stored_up_to, before, result, summary)
            .await
    }

    /// One pass over a stream's pages, from the start of `criteria`: stores every document read,
    /// until the stream ends, a page fails or a shutdown begins (before a page is asked for, or
    /// while it is on its way).
    ///
    /// Also returns, however the pass ended, `None` when no row moved between the pages read;
    /// otherwise the `updated_at` from which to read again (see [`Engine::read_stream`]), itself
    /// `None` when unknown (the pass is then read again from its start).
    async fn read_pass(
        &self,
        kind: EntityKind,
        criteria: SearchCriteria,
        store_ids: &[u32],
        summary: &mut CycleSummary,
        progress: &mut PassProgress,
        stop: Option<&watch::Receiver<bool>>,
    ) -> (Option<Option<OffsetDateTime>>, Result<PassEnd, EngineError>) {
        let stopping = || self.closing() || stop.is_some_and(|s| *s.borrow());
        let shutdown = || self.shutdown_begun(stop);
        match kind {
            EntityKind::Order => {
                let mut pages = self.inner.commerce.orders().search(criteria).pages();
                let end = async {
                    loop {
                        let page =
                            match next_page(&mut pages, &stopping, shutdown(), "orders.search")
                                .await?
                            {
                                ControlFlow::Continue(page) => page,
                                ControlFlow::Break(end) => return Ok(end),
                            };
                        let fetched = page
                            .items
                            .into_iter()
                            .map(|order| Fetched::Order(Box::new(order)))
                            .collect();
                        let at = self.take_in_many(kind, fetched, summary).await?;
                        progress.page_stored(at);
                    }
                }
                .await;
                (pages.moved_from(), end)
            }
            EntityKind::Invoice => {
                let mut pages = self.inner.commerce.invoices().search(criteria).pages();
                let end = async {
                    loop {
                        let page =
                            match next_page(&mut pages, &stopping, shutdown(), "invoices.search")
                                .await?
                            {
                                ControlFlow::Continue(page) => page,
                                ControlFlow::Break(end) => return Ok(end),
                            };
                        // The orders of a whole page come in one search; the cache is per page, so
                        // memory stays flat however long the stream is.
                        let looked_up = async {
                            let mut orders = self.orders_of(&page.items).await?;
                            let mut fetched = Vec::with_capacity(page.items.len());
                            for invoice in page.items {
                                let order = self.order_of(&invoice, &mut orders).await?;
                                fetched.push(Fetched::Invoice(Box::new(invoice), Box::new(order)));
                            }
                            Ok::<_, EngineError>(fetched)
                        };
                        // Nothing of the page is stored yet: a shutdown while its orders are on
                        // their way drops it, as it drops a page on its way.
                        let Some(fetched) = before_shutdown(looked_up, shutdown()).await else {
                            return Ok(PassEnd::Stopped);
                        };
                        let fetched = fetched?;
                        let at = self.take_in_many(kind, fetched, summary).await?;
                        progress.page_stored(at);
                    }
                }
                .await;
                (pages.moved_from(), end)
            }
            EntityKind::Customer => {
                let mut pages = self.inner.commerce.customers().search(criteria).pages();
                let end = async {
                    loop {
                        let page =
                            match next_page(&mut pages, &stopping, shutdown(), "customers.search")
                                .await?
                            {
                                ControlFlow::Continue(page) => page,
                                ControlFlow::Break(end) => return Ok(end),
                            };
                        // Customers of other stores are not stored, but the watermark passes them
                        // once the page they came in is stored.
                        let mut page_up_to: Option<OffsetDateTime> = None;
                        let mut fetched = Vec::with_capacity(page.items.len());
                        for customer in page.items {
                            if let Some(at) = customer.updated_at.or(customer.created_at) {
                                page_up_to = Some(page_up_to.map_or(at, |s| s.max(at)));
                            }
                            let in_scope = customer.store_id.is_some_and(|s| {
                                store_ids.iter().any(|id| u64::from(*id) == s.get())
                            });
                            if in_scope {
                                fetched.push(Fetched::Customer(Box::new(customer)));
                            }
                        }
                        self.take_in_many(kind, fetched, summary).await?;
                        progress.page_stored(page_up_to);
                    }
                }
                .await;
                (pages.moved_from(), end)
            }
            EntityKind::CreditMemo => {
                self.read_credit_memos(criteria, summary, progress, &stopping, &shutdown)
                    .await
            }
        }
    }

    /// Advances the stream's watermark to what was stored and reports how its reading went.
    async fn finish_stream(
        &self,
        kind: EntityKind,
        stream: &StreamName,
        stored_up_to: Option<OffsetDateTime>,
        before: (usize, usize),
        result: Result<(), EngineError>,
        summary: &mut CycleSummary,
    ) -> Result<(), EngineError> {
        if let Some(to) = stored_up_to {
            let _turn = self.inner.writes.lock().await;
            let to = self
                .inner
                .store
                .advance_watermark(&self.inner.name, stream, to)
                .await?;
            self.emit(EngineEvent::WatermarkAdvanced { kind, to });
        }
        self.emit(EngineEvent::StreamRead {
            kind,
            read: summary.read - before.0,
            new: summary.intake_new - before.1,
        });
        // One call event per stream read (its pages are retried inside the client).
        let outcome = match &result {
            Ok(()) => Some(CallOutcome::Ok),
            Err(EngineError::Commerce { source, .. }) if source.is_retryable() => {
                Some(CallOutcome::Transient)
            }
            Err(EngineError::Commerce { .. }) => Some(CallOutcome::Failed),
            Err(_) => None,
        };
        if let Some(outcome) = outcome {
            self.emit(EngineEvent::Call {
                system: System::Commerce,
                operation: match kind {
                    EntityKind::Order => "orders.search",
                    EntityKind::Invoice => "invoices.search",
                    EntityKind::CreditMemo => "creditmemos.search",
                    _ => "customers.search",
                },
                outcome,
            });
        }
        match result {
            Ok(()) => Ok(()),
            Err(EngineError::Store(e)) => Err(EngineError::Store(e)),
            Err(e) => {
                let error = error_chain(&e);
                self.emit(EngineEvent::StreamFailed {
                    kind,
                    error: error.clone(),
                });
                summary.errors.push((kind, error));
                Ok(())
            }
        }
    }

    /// Moves a record and reports it.
    pub(crate) async fn move_record(
        &self,
        record: &Record,
        to: Target,
        message: &str,
        document: Option<Value>,
    ) -> Result<(), StoreError> {
        let mut pending = writes::Pending::default();
        self.stage_move(&mut pending, record, to, message, document);
        self.flush(&mut pending).await
    }

    /// Appends an audit entry, redacted.
    pub(crate) async fn audit(
        &self,
        key: &RecordKey,
        kind: AuditKind,
        message: impl Into<String>,
        document: Option<Value>,
    ) -> Result<(), StoreError> {
        let mut entry = NewAuditEntry::new(key.clone(), kind, message);
        entry.document = document.map(Payload::from);
        let entry = entry.redacted(&self.inner.redactor);
        let _turn = self.inner.writes.lock().await;
        self.inner.audit.append(entry).await?;
        Ok(())
    }

    pub(crate) fn cached_customer(&self, email: &str) -> Option<String> {
        self.inner
            .customer_codes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&email.to_lowercase())
            .cloned()
    }

    pub(crate) fn remember_customer(&self, email: &str, code: &str) {
        if email.trim().is_empty() {
            return;
        }
        self.inner
            .customer_codes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(email.trim().to_lowercase(), code.to_owned());
    }
}

/// A document read from Commerce, with what its record keeps.
enum Fetched {
    Order(Box<Order>),
    Invoice(Box<Invoice>, Box<Order>),
    Customer(Box<Customer>),
    /// A credit memo, its order and the invoice it refunds (when it names one).
    CreditMemo(Box<CreditMemo>, Box<Order>, Option<Box<Invoice>>),
}

impl Fetched {
    /// Entity id, `updated_at`, the document the fingerprint covers (`None`: the payload itself),
    /// and the payload to store. Both are canonical JSON text ([`Payload::rendered`], or made from a
    /// `Value`): orders and invoices, the bulk of every read, are rendered straight to it.
    fn into_parts(self) -> Option<(String, OffsetDateTime, Option<Payload>, Payload)> {
        match self {
            Fetched::Order(order) => {
                let id = order.entity_id?.get();
                let at =
                    convert::updated_at_of("order", id, order.updated_at, order.created_at).ok()?;
                Some((id.to_string(), at, None, Payload::rendered(&*order)))
            }
            Fetched::Invoice(invoice, order) => {
                let id = invoice.entity_id?.get();
                let at =
                    convert::updated_at_of("invoice", id, invoice.updated_at, invoice.created_at)
                        .ok()?;
                // The fingerprint covers the invoice only: later status changes of the order are
                // not new versions of the invoice.
                Some((
                    id.to_string(),
                    at,
                    Some(Payload::rendered(&*invoice)),
                    Payload::rendered(&convert::InvoiceRecord {
                        invoice: &invoice,
                        order: &order,
                    }),
                ))
            }
            Fetched::Customer(customer) => {
                let id = customer.id?.get();
                let at = convert::updated_at_of(
                    "customer",
                    id,
                    customer.updated_at,
                    customer.created_at,
                )
                .ok()?;
                let payload = serde_json::to_value(&customer).unwrap_or(Value::Null);
                // The content hash leaves out `updated_at` (the fingerprint carries it apart) and
                // the custom attributes, the SYSPRO code written back among them: a version that
                // differs only there carries nothing a SYSPRO customer is kept in step with, so a
                // write-back read again is recognised as the same customer (see
                // `state::logic::plan_intake`).
                let mut content = payload.clone();
                if let Some(fields) = content.as_object_mut() {
                    fields.remove("updated_at");
                    fields.remove("custom_attributes");
                }
                Some((
                    id.to_string(),
                    at,
                    Some(Payload::from(content)),
                    Payload::from(payload),
                ))
            }
            Fetched::CreditMemo(memo, order, invoice) => {
                credit_memos::parts(&memo, &order, invoice.as_deref())
            }
        }
    }
}

/// A wait for the SYSPRO session after which a document about to be sent gets a second `sent`
/// entry when it goes (see [`Engine::send_fenced`]).
const TURN_WAIT_NOTED: Duration = Duration::from_secs(1);

/// How often a held lease is renewed: every third of its time to live, not more often than every
/// 100 ms, and always well before it runs out (at most half its time to live, even for a short
/// lease).
fn renewal_interval(ttl: Duration) -> Duration {
    (ttl / 3).max(Duration::from_millis(100)).min(ttl / 2)
}

/// An error and its causes on one line, for summaries and audit entries.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// What `work` gives, or `None` when `shutdown` ends first, dropping `work` part-way: for work
/// that stores nothing until it is done (a Commerce read), so a throttled or hanging Commerce
/// cannot hold a shutdown up. When both are ready, `work` wins: what was read is kept.
pub(crate) async fn before_shutdown<T>(
    work: impl Future<Output = T>,
    shutdown: impl Future<Output = ()>,
) -> Option<T> {
    tokio::select! {
        biased;
        done = work => Some(done),
        () = shutdown => None,
    }
}

/// The next page of a pass (`Continue`), or how the pass ends (`Break`): with the stream, or when
/// a shutdown begins, whether before the page is requested (`stopping`) or while it is on its way
/// (`shutdown` ends). Pages after the last one read are left for later; a page on its way is
/// dropped with its retries and waits, so a throttled or hanging Commerce cannot hold a shutdown
/// up. A stream already at its end was read whole.
async fn next_page<T: adobe_commerce_client::page::Entity>(
    pages: &mut adobe_commerce_client::PageStream<T>,
    stopping: &impl Fn() -> bool,
    shutdown: impl Future<Output = ()>,
    operation: &'static str,
) -> Result<ControlFlow<PassEnd, adobe_commerce_client::Page<T>>, EngineError> {
    if stopping() && pages.stop_reason().is_none() {
        return Ok(ControlFlow::Break(PassEnd::Stopped));
    }
    // The page comes first when both are ready: a page read is stored, and a stream at its end
    // was read whole, however late the shutdown.
    let Some(next) = before_shutdown(pages.next(), shutdown).await else {
        return Ok(ControlFlow::Break(PassEnd::Stopped));
    };
    match next {
        None => Ok(ControlFlow::Break(PassEnd::Read)),
        Some(page) => page
            .map(ControlFlow::Continue)
            .map_err(|source| EngineError::Commerce { operation, source }),
    }
}

/// How far a pass over a stream's pages stored the changes it read, by `updated_at`.
#[derive(Debug, Default)]
pub(crate) struct PassProgress {
    /// The latest `updated_at` stored (changes are stored in `updated_at` order).
    up_to: Option<OffsetDateTime>,
    /// [`Self::up_to`] once the first page was stored.
    first_page: Option<OffsetDateTime>,
    /// Pages stored.
    pages: usize,
}

impl PassProgress {
    /// A page was stored, its latest `updated_at` being `at` (`None` for a page of nothing).
    pub(crate) fn page_stored(&mut self, at: Option<OffsetDateTime>) {
        self.up_to = self.up_to.max(at);
        if self.pages == 0 {
            self.first_page = self.up_to;
        }
        self.pages += 1;
    }
}

/// How a pass over a stream's pages ended, when no page failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PassEnd {
    /// The stream ended: every page was read.
    Read,
    /// A shutdown began; the pages after the last one read are left for a later cycle.
    Stopped,
}

/// Passes over one stream in a cycle at most: a pass is repeated when rows moved between its pages
/// (see `read_stream`).
const READ_PASSES: u32 = 3;

/// Whether a failed SYSPRO call may succeed later: SYSPRO's own transient failures, and the
/// client being unable to send at all (closed, or never started). In the latter case SYSPRO never
/// saw the request, so the failure says nothing about the document and must not halt it.
pub(crate) fn worth_retrying(error: &syspro_client::Error) -> bool {
    error.is_retryable()
        || matches!(
            error,
            syspro_client::Error::Closed
                | syspro_client::Error::Thread { .. }
                | syspro_client::Error::HttpClient { .. }
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_are_renewed_well_before_they_run_out() {
        assert_eq!(
            renewal_interval(Duration::from_secs(60)),
            Duration::from_secs(20)
        );
        assert_eq!(
            renewal_interval(Duration::from_secs(3)),
            Duration::from_secs(1)
        );
        let short = renewal_interval(Duration::from_secs(1));
        assert!(short < Duration::from_millis(500), "{short:?}");
        assert_eq!(
            renewal_interval(Duration::from_millis(150)),
            Duration::from_millis(75)
        );
    }

    #[test]
    fn schedule_backs_off_when_idle_and_returns_when_busy() {
        let mut s = Schedule::new(Duration::from_secs(300), Duration::from_secs(900), true);
        assert_eq!(s.next(false), Duration::from_secs(600));
        assert_eq!(s.next(false), Duration::from_secs(900));
        assert_eq!(s.next(false), Duration::from_secs(900));
        assert_eq!(s.next(true), Duration::from_secs(300));
        let mut fixed = Schedule::new(Duration::from_secs(60), Duration::from_secs(900), false);
        assert_eq!(fixed.next(false), Duration::from_secs(60));
    }
}
