//! A harness around the in-process simulators: configuration, vault, engine, ledger inspection.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use adobe_commerce_client::RetryPolicy;
use connector_core::audit::{
    AuditEntry, AuditKind, AuditLog, AuditPage, AuditQuery, NewAuditEntry,
};
use connector_core::clock::{Clock, ManualClock, SystemClock};
use connector_core::config::{Config, ConnectionConfig};
use connector_core::engine::{CycleSummary, Engine, EngineOptions};
use connector_core::mapping::Mapper;
use connector_core::state::{
    ConnectionName, CycleReport, EntityKind, Fingerprint, HolderId, Intake, IntakeOutcome, Lease,
    LeaseOutcome, MemoryStore, Notification, Record, RecordFilter, RecordKey, RecordState,
    StateCounts, StateStore, StoreError, StreamName, Transition,
};
use connector_core::vault::{MemorySecretStore, SecretStore};
use rust_decimal::Decimal;
use secrecy::SecretString;
use serde_json::Value;
use simulators::commerce::CommerceSimConfig;
use simulators::syspro::SysproSimConfig;
use simulators::{SimConfig, Sims};
use time::OffsetDateTime;

pub const CONNECTION: &str = "sim";
/// The holder name of the test engines' leases.
pub const HOLDER: &str = "engine-test";

/// Settings a test varies.
#[derive(Clone, Debug)]
pub struct Setup {
    pub trigger: &'static str,
    pub create_customers: bool,
    pub page_size: u32,
    pub batch_size: u32,
    pub freight_account: &'static str,
    pub by_id: Vec<(u64, &'static str)>,
    pub web_cash_customer: &'static str,
    /// Hand the engine resolved secrets instead of the vault.
    pub resolved_secrets: bool,
    /// The connection lease's time to live (default 60 s).
    pub lease_ttl: Option<Duration>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            trigger: "order",
            create_customers: true,
            page_size: 5,
            batch_size: 4,
            freight_account: "00-4100",
            by_id: Vec::new(),
            web_cash_customer: "WEBCASH",
            resolved_secrets: false,
            lease_ttl: None,
        }
    }
}

pub struct Harness {
    pub sims: Sims,
    pub http: reqwest::Client,
    pub clock: ManualClock,
    pub vault: Arc<MemorySecretStore>,
}

/// A quiet shop of `orders` orders (all invoiced, no unmapped SKUs unless asked).
pub fn shop(orders: usize) -> CommerceSimConfig {
    CommerceSimConfig {
        seed: 11,
        orders,
        guest_share: 0.3,
        unmapped_sku_share: 0.0,
        not_in_erp_share: 0.3,
        invoiced_share: 1.0,
        webhooks_on_change: false,
        ..CommerceSimConfig::default()
    }
}

impl Harness {
    pub async fn start(commerce: CommerceSimConfig) -> Self {
        Self::start_with(
            commerce,
            SysproSimConfig {
                history_invoices: 0,
                ..SysproSimConfig::default()
            },
        )
        .await
    }

    pub async fn start_with(commerce: CommerceSimConfig, syspro: SysproSimConfig) -> Self {
        let sims = Sims::start(SimConfig { commerce, syspro })
            .await
            .expect("simulators start");
        let clock = ManualClock::new(SystemClock.now());
        let vault = Arc::new(MemorySecretStore::new(Arc::new(clock.clone())));
        let connection = ConnectionName::new(CONNECTION).unwrap();
        let oauth = sims.commerce.oauth();
        let creds = sims.syspro.credentials();
        for (name, value) in [
            ("commerce-ck", oauth.consumer_key),
            ("commerce-cs", oauth.consumer_secret),
            ("commerce-at", oauth.access_token),
            ("commerce-ats", oauth.access_token_secret),
            ("syspro-op", creds.operator_password),
            ("syspro-co", creds.company_password),
        ] {
            vault
                .set(&connection, name, SecretString::from(value))
                .await
                .expect("vault set");
        }
        Self {
            sims,
            http: reqwest::Client::new(),
            clock,
            vault,
        }
    }

    pub fn connection(&self, setup: &Setup) -> ConnectionConfig {
        let creds = self.sims.syspro.credentials();
        let by_id: String = setup
            .by_id
            .iter()
            .map(|(id, code)| format!("\"{id}\" = \"{code}\"\n"))
            .collect();
        let text = format!(
            r#"
[[connection]]
name = "{CONNECTION}"
trigger = "{trigger}"
batch_size = {batch_size}
max_attempts = 3
overlap = "5m"

[connection.commerce]
base_url = "{commerce}"
flavour = "paas"
page_size = {page_size}

[connection.commerce.auth]
kind = "oauth1"

[connection.commerce.auth.secrets]
consumer_key = "commerce-ck"
consumer_secret = "commerce-cs"
access_token = "commerce-at"
access_token_secret = "commerce-ats"

[[connection.commerce.stores]]
code = "web"
id = 1

[[connection.commerce.stores]]
code = "marketplace"
id = 2

[[connection.commerce.stores]]
code = "b2b"
id = 3

[connection.syspro]
enet_url = "{enet}"
company_id = "{company}"
operator = "{operator}"

[connection.syspro.secrets]
operator_password = "syspro-op"
company_password = "syspro-co"

[connection.schedule]
min_interval = "1s"
max_interval = "2s"

[connection.mapping]
currencies = ["USD", "EUR"]
clearing_product_class = "ECOM"

[connection.mapping.customers.by_id]
{by_id}
[connection.mapping.customers.create]
enabled = {create}
terms_code = "00"

[connection.mapping.stores.web]
invoice_prefix = "W"
branch = "WB"
cash_customer = "{web_cash}"

[connection.mapping.stores.marketplace]
invoice_prefix = "M"
branch = "MK"
cash_customer = "MKTCASH"

[connection.mapping.stores.b2b]
invoice_prefix = "B"
branch = "B2"
cash_customer = "B2BCASH"

[connection.mapping.accounts]
clearing = "00-4999"
freight = "{freight}"
discount = "00-4200"
tax_posting = "syspro"
rounding = "00-9999"

[[connection.mapping.revenue]]
sku_prefix = "AP-"
account = "00-4010"

[[connection.mapping.revenue]]
sku_prefix = "HW-"
account = "00-4010"

[[connection.mapping.revenue]]
sku_prefix = "GR-"
account = "00-4010"

[[connection.mapping.revenue]]
sku_prefix = "SV-"
account = "00-4010"

[[connection.mapping.revenue]]
sku_prefix = "AP-"
store = "b2b"
account = "00-4020"

[[connection.mapping.revenue]]
sku_prefix = "HW-"
store = "marketplace"
account = "00-4030"
"#,
            trigger = setup.trigger,
            batch_size = setup.batch_size,
            page_size = setup.page_size,
            commerce = self.sims.commerce.base_url(),
            enet = self.sims.syspro.enet_url(),
            company = creds.company_id,
            operator = creds.operator,
            create = setup.create_customers,
            freight = setup.freight_account,
            web_cash = setup.web_cash_customer,
        );
        Config::from_toml_str(&text, "engine-test.toml")
            .expect("test configuration is valid")
            .connections
            .remove(0)
    }

    pub async fn engine<S>(&self, setup: &Setup, store: Arc<S>) -> Engine
    where
        S: StateStore + AuditLog + 'static,
    {
        self.engine_with(setup, store, None).await
    }

    /// The settings of a SYSPRO client of the simulated company, for a test to adjust and build.
    pub fn syspro_config(&self) -> syspro_client::EnetConfigBuilder {
        let creds = self.sims.syspro.credentials();
        syspro_client::EnetConfig::builder(
            self.sims.syspro.enet_url(),
            creds.company_id,
            creds.operator,
            SecretString::from(creds.operator_password),
        )
        .company_password(SecretString::from(creds.company_password))
    }

    /// A SYSPRO client of the simulated company, with default settings.
    pub fn syspro_client(&self) -> syspro_client::SysproClient {
        let config = self.syspro_config().build().expect("SYSPRO settings");
        syspro_client::SysproClient::new(config).expect("SYSPRO client")
    }

    /// An engine whose SYSPRO client is built by the test (for transport settings).
    pub async fn engine_with<S>(
        &self,
        setup: &Setup,
        store: Arc<S>,
        syspro: Option<syspro_client::SysproClient>,
    ) -> Engine
    where
        S: StateStore + AuditLog + 'static,
    {
        self.build_engine(setup, store, syspro, |_| {}, None).await
    }

    /// An engine for `setup` that plans with `mapper`.
    pub async fn engine_with_mapper<S>(
        &self,
        setup: &Setup,
        store: Arc<S>,
        mapper: Arc<dyn Mapper>,
    ) -> Engine
    where
        S: StateStore + AuditLog + 'static,
    {
        self.build_engine(setup, store, None, |_| {}, Some(mapper))
            .await
    }

    /// An engine for `setup` whose connection `edit` adjusts (settings `Setup` does not vary).
    pub async fn engine_edited<S>(
        &self,
        setup: &Setup,
        store: Arc<S>,
        edit: impl FnOnce(&mut ConnectionConfig),
    ) -> Engine
    where
        S: StateStore + AuditLog + 'static,
    {
        self.build_engine(setup, store, None, edit, None).await
    }

    /// An engine for `setup` (changed by `edit`), on the test's SYSPRO client when one is given
    /// and planning with `mapper` when one is given.
    pub async fn build_engine<S>(
        &self,
        setup: &Setup,
        store: Arc<S>,
        syspro: Option<syspro_client::SysproClient>,
        edit: impl FnOnce(&mut ConnectionConfig),
        mapper: Option<Arc<dyn Mapper>>,
    ) -> Engine
    where
        S: StateStore + AuditLog + 'static,
    {
        let mut connection = self.connection(setup);
        edit(&mut connection);
        let options = EngineOptions {
            reference_ttl: Duration::from_secs(3600),
            retry_initial: Duration::from_secs(60),
            retry_max: Duration::from_secs(600),
            lease_ttl: setup.lease_ttl.unwrap_or(Duration::from_secs(60)),
            holder: HOLDER.to_owned(),
            commerce_retry: RetryPolicy {
                max_attempts: 8,
                initial_backoff: Duration::from_millis(5),
                throttle_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(50),
                max_retry_after: Duration::from_millis(100),
                ..RetryPolicy::default()
            },
        };
        let builder = Engine::builder(
            connection,
            store.clone(),
            store,
            Arc::new(self.clock.clone()),
        )
        .options(options);
        let builder = if setup.resolved_secrets {
            let mut resolved = Vec::new();
            for info in self.vault.list().await.expect("vault list") {
                let value = self
                    .vault
                    .require(&info.connection, &info.name)
                    .await
                    .expect("vault get");
                resolved.push((info.name, value));
            }
            builder.resolved_secrets(resolved)
        } else {
            builder.secrets(self.vault.clone())
        };
        let builder = match syspro {
            Some(client) => builder.syspro_client(client),
            None => builder,
        };
        let builder = match mapper {
            Some(mapper) => builder.mapper(mapper),
            None => builder,
        };
        builder.build().await.expect("engine builds")
    }

    async fn get_json(&self, url: String) -> Value {
        let response = self.http.get(&url).send().await.expect("inspection call");
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        response.json().await.expect("inspection JSON")
    }

    /// AR invoices the engine posted (the ledger's seeded history excluded), by invoice number.
    pub async fn ledger_invoices(&self) -> BTreeMap<String, Value> {
        let all = self
            .get_json(format!("{}/__sim/invoices", self.sims.syspro.base_url()))
            .await;
        let mut out = BTreeMap::new();
        for invoice in all.as_array().expect("invoice list") {
            let number = invoice["invoice"]
                .as_str()
                .unwrap_or_default()
                .trim()
                .to_owned();
            if number.starts_with(['W', 'M', 'B']) {
                assert!(
                    out.insert(number.clone(), invoice.clone()).is_none(),
                    "invoice {number} is on the ledger twice"
                );
            }
        }
        out
    }

    /// GL journals by reference; a reference posted twice fails the test.
    pub async fn ledger_journals(&self) -> BTreeMap<String, Value> {
        let all = self
            .get_json(format!("{}/__sim/journals", self.sims.syspro.base_url()))
            .await;
        let mut out = BTreeMap::new();
        for journal in all.as_array().expect("journal list") {
            let reference = journal["journal_reference"]
                .as_str()
                .unwrap_or_default()
                .trim()
                .to_owned();
            let sum: Decimal = journal["lines"]
                .as_array()
                .expect("journal lines")
                .iter()
                .map(|l| money(&l["entry_amount"]))
                .sum();
            assert!(
                sum.is_zero(),
                "journal {reference} does not balance: {journal}"
            );
            assert!(
                out.insert(reference.clone(), journal.clone()).is_none(),
                "journal {reference} is on the ledger twice"
            );
        }
        out
    }

    /// Every order of the fake shop, as served by its inspection API.
    pub async fn commerce_orders(&self) -> Vec<Value> {
        self.get_json(format!("{}/__sim/orders", self.sims.commerce.base_url()))
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub async fn commerce_invoices(&self) -> Vec<Value> {
        self.get_json(format!("{}/__sim/invoices", self.sims.commerce.base_url()))
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub async fn sim_post(&self, path: &str, body: Value) -> Value {
        self.sim_api()
            .send(reqwest::Method::POST, path, &body)
            .await
            .json()
            .await
            .expect("sim JSON")
    }

    /// The Commerce simulator's `/__sim` API, for hooks that act while the engine works.
    pub fn sim_api(&self) -> SimApi {
        SimApi {
            commerce_url: self.sims.commerce.base_url(),
            http: self.http.clone(),
        }
    }
}

/// The Commerce simulator's `/__sim` API.
#[derive(Clone)]
pub struct SimApi {
    commerce_url: String,
    http: reqwest::Client,
}

impl SimApi {
    /// Sends `body` to `/__sim/{path}`; the simulator must accept it.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &impl serde::Serialize,
    ) -> reqwest::Response {
        let url = format!("{}/__sim/{path}", self.commerce_url);
        let response = self
            .http
            .request(method, &url)
            .json(body)
            .send()
            .await
            .expect("sim call");
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        response
    }

    /// What `GET /__sim/{path}` answers.
    pub async fn get(&self, path: &str) -> Value {
        let url = format!("{}/__sim/{path}", self.commerce_url);
        let response = self.http.get(&url).send().await.expect("sim call");
        assert!(response.status().is_success(), "{url}");
        response.json().await.expect("sim JSON")
    }

    /// Commerce API calls the simulator has counted so far (each is counted before any fault), of
    /// `endpoint` (as `/__sim/calls` names it) or, with `None`, of every endpoint.
    pub async fn calls(&self, endpoint: Option<&str>) -> u64 {
        let counts: BTreeMap<String, u64> =
            serde_json::from_value(self.get("calls").await).expect("call counts");
        match endpoint {
            Some(endpoint) => counts.get(endpoint).copied().unwrap_or(0),
            None => counts.values().sum(),
        }
    }

    /// Waits (ten seconds at most) until more than `seen` calls of `endpoint` (see
    /// [`Self::calls`]) have reached Commerce.
    pub async fn await_call(&self, endpoint: Option<&str>, seen: u64) {
        let came = eventually_within(Duration::from_secs(10), || async {
            self.calls(endpoint).await > seen
        })
        .await;
        assert!(came, "no further Commerce call of {endpoint:?} came");
    }

    /// Sets the faults Commerce calls meet from now on.
    pub async fn set_faults(&self, faults: &simulators::commerce::CommerceFaults) {
        self.send(reqwest::Method::PUT, "faults", faults).await;
    }

    /// Makes Commerce hold every call of `endpoints` (of every endpoint, when empty) for a minute,
    /// as long as the engine's client waits for an answer, before it answers.
    pub async fn hold(&self, endpoints: &[&str]) {
        self.set_faults(&simulators::commerce::CommerceFaults {
            hang_rate: 1.0,
            hang_ms: 60_000,
            only_endpoints: endpoints.iter().map(|e| (*e).to_owned()).collect(),
            ..simulators::commerce::CommerceFaults::default()
        })
        .await;
    }

    /// Lets every Commerce call through again, without faults.
    pub async fn release(&self) {
        self.set_faults(&simulators::commerce::CommerceFaults::default())
            .await;
    }

    /// Closes `engine` once a call of `endpoint` has reached Commerce, in a task of its own.
    pub fn close_when_called(
        &self,
        engine: &Engine,
        endpoint: &'static str,
    ) -> tokio::task::JoinHandle<()> {
        let (api, engine) = (self.clone(), engine.clone());
        tokio::spawn(async move {
            api.await_call(Some(endpoint), 0).await;
            engine.close().await;
        })
    }
}

/// As the `hang_after`-th document is taken in (counted once [armed](Self::arm)), makes Commerce
/// hold every call for a minute before it answers, and once the engine's next call has reached
/// Commerce, while it is held, runs `then` (a close or a stop signal).
pub struct HoldingUpCommerce {
    api: SimApi,
    armed: std::sync::atomic::AtomicBool,
    hang_after: Nth,
    then: Box<dyn Fn() -> futures::future::BoxFuture<'static, ()> + Send + Sync>,
    pub done: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

#[async_trait::async_trait]
impl StoreHooks for HoldingUpCommerce {
    async fn after_intake(&self, _: &RecordKey, _: OffsetDateTime) {
        if !self.armed.load(std::sync::atomic::Ordering::SeqCst) || !self.hang_after.hit() {
            return;
        }
        self.api.hold(&[]).await;
        let before = self.api.calls(None).await;
        let api = self.api.clone();
        let then = (self.then)();
        *self.done.lock().unwrap() = Some(tokio::spawn(async move {
            api.await_call(None, before).await;
            then.await;
        }));
    }
}

impl HoldingUpCommerce {
    /// Armed from the start.
    pub fn new(
        h: &Harness,
        hang_after: usize,
        then: impl Fn() -> futures::future::BoxFuture<'static, ()> + Send + Sync + 'static,
    ) -> Self {
        Self {
            api: h.sim_api(),
            armed: std::sync::atomic::AtomicBool::new(true),
            hang_after: Nth::new(hang_after),
            then: Box::new(then),
            done: std::sync::Mutex::new(None),
        }
    }

    /// Not armed until [`Self::arm`].
    pub fn disarmed(self) -> Self {
        self.armed.store(false, std::sync::atomic::Ordering::SeqCst);
        self
    }

    pub fn arm(&self) {
        self.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Runs a cycle of `engine` that a shutdown cuts short: it must end within 20 seconds, well
/// within any wait Commerce is made to hold it for, interrupted and without errors. Then waits
/// (10 s at most) for the task that `task` gives, the one that began the shutdown.
pub async fn a_cycle_cut_short(
    engine: &Engine,
    task: impl FnOnce() -> tokio::task::JoinHandle<()>,
) -> CycleSummary {
    let summary = tokio::time::timeout(Duration::from_secs(20), engine.run_cycle())
        .await
        .expect("the cycle ends with the shutdown")
        .expect("the cycle ends well");
    assert!(summary.interrupted, "{summary:?}");
    assert!(summary.errors.is_empty(), "{:?}", summary.errors);
    tokio::time::timeout(Duration::from_secs(10), task())
        .await
        .expect("the shutdown ends with the cycle")
        .expect("no panic");
    summary
}

/// Counts calls, and says which one is the `n`-th: for hooks that act once, at a chosen moment.
pub struct Nth {
    n: usize,
    seen: std::sync::atomic::AtomicUsize,
}

impl Nth {
    pub fn new(n: usize) -> Self {
        Self {
            n,
            seen: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Counts one call; whether it is the `n`-th.
    pub fn hit(&self) -> bool {
        self.seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == self.n
    }
}

/// Records not posted, with state and reason, for assertion messages.
pub async fn not_posted<S: StateStore>(
    store: &S,
    kind: EntityKind,
) -> Vec<(String, RecordState, Option<String>)> {
    records(store, kind)
        .await
        .into_iter()
        .filter(|r| r.state != RecordState::Posted)
        .map(|r| (r.key.commerce_id, r.state, r.reason))
        .collect()
}

pub fn money(value: &Value) -> Decimal {
    match value {
        Value::String(s) => s.trim().parse().expect("money text"),
        Value::Number(n) => n.to_string().parse().expect("money number"),
        other => panic!("not money: {other}"),
    }
}

pub async fn records<S: StateStore>(store: &S, kind: EntityKind) -> Vec<Record> {
    store
        .list(&RecordFilter {
            connection: Some(ConnectionName::new(CONNECTION).unwrap()),
            kind: Some(kind),
            limit: 10_000,
            ..RecordFilter::default()
        })
        .await
        .expect("list records")
}

pub async fn in_state<S: StateStore>(
    store: &S,
    kind: EntityKind,
    state: RecordState,
) -> Vec<Record> {
    records(store, kind)
        .await
        .into_iter()
        .filter(|r| r.state == state)
        .collect()
}

pub async fn audit_messages<S: AuditLog>(
    store: &S,
    key: &RecordKey,
    kind: Option<AuditKind>,
) -> Vec<String> {
    store
        .query(&AuditQuery {
            kind,
            limit: 500,
            ..AuditQuery::for_record(key.clone())
        })
        .await
        .expect("audit query")
        .entries
        .into_iter()
        .map(|e| e.message)
        .collect()
}

/// Each posted record's invoice is on the ledger once, for Commerce's grand total, and its journal
/// balances (checked by `ledger_journals`).
pub async fn assert_posted_once(
    h: &Harness,
    posted: &[Record],
    grand_totals: &BTreeMap<String, Decimal>,
) {
    let invoices = h.ledger_invoices().await;
    let journals = h.ledger_journals().await;
    assert_eq!(
        invoices.len(),
        posted.len(),
        "ledger invoices vs posted records"
    );
    for record in posted {
        let number = record
            .syspro
            .invoice
            .as_deref()
            .expect("posted record has its invoice number");
        let invoice = invoices
            .get(number)
            .unwrap_or_else(|| panic!("invoice {number} not on the ledger"));
        let expected = grand_totals
            .get(&record.key.commerce_id)
            .unwrap_or_else(|| panic!("no grand total for {}", record.key));
        assert_eq!(
            money(&invoice["invoice_value"]),
            *expected,
            "invoice {number} value"
        );
        if let Some(reference) = &record.syspro.journal {
            assert!(
                journals.contains_key(reference),
                "journal {reference} missing"
            );
        }
    }
}

/// Runs a cycle on a new engine for `setup` (a restarted service) and checks that every Commerce
/// order is then posted exactly once, with nothing halted. Returns the cycle's summary.
pub async fn a_new_engine_posts_every_order_once<S>(
    h: &Harness,
    setup: &Setup,
    store: &Arc<S>,
) -> CycleSummary
where
    S: StateStore + AuditLog + 'static,
{
    let engine = h.engine(setup, store.clone()).await;
    let summary = engine.run_cycle().await.expect("cycle");
    assert!(summary.halted.is_empty(), "{:?}", summary.halted);
    let orders = h.commerce_orders().await;
    let posted = in_state(&**store, EntityKind::Order, RecordState::Posted).await;
    assert_eq!(posted.len(), orders.len(), "{summary:?}");
    assert_posted_once(h, &posted, &grand_totals(&orders)).await;
    summary
}

/// Order records in `posted`.
pub async fn orders_posted<S: StateStore>(store: &S) -> usize {
    in_state(store, EntityKind::Order, RecordState::Posted)
        .await
        .len()
}

/// Fails naming every record of `records` that `expected` refuses (key, state, attempts, reason).
pub fn assert_all(records: &[Record], expected: impl Fn(&Record) -> bool) {
    let unexpected: Vec<_> = records
        .iter()
        .filter(|r| !expected(r))
        .map(|r| (r.key.to_string(), r.state, r.attempts, r.reason.clone()))
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:?}");
}

/// Asks `done` every 5 ms for at most 2 s, until it says yes; whether it did.
pub async fn eventually<F, Fut>(done: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    eventually_within(Duration::from_secs(2), done).await
}

/// The run loop `engine.run` starts in a task of its own, once its first cycle has ended (as
/// `store`'s cycle report says, within 20 s): the stop signal's sender and the loop's task.
pub async fn a_run_loop_past_its_first_cycle<S: StateStore>(
    engine: &Engine,
    store: &S,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<Result<(), connector_core::engine::EngineError>>,
) {
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let running = tokio::spawn({
        let engine = engine.clone();
        async move { engine.run(shutdown).await }
    });
    let first_ended = eventually_within(Duration::from_secs(20), || async {
        let reports = store.cycle_reports().await.expect("cycle reports");
        reports.first().is_some_and(|r| r.finished_at.is_some())
    })
    .await;
    assert!(first_ended, "the first cycle ended");
    (stop, running)
}

/// The orders of `store` left in `posting` (`count` of them) because the lease was lost before
/// their documents went: each trail says so. `case` names the case in the messages.
pub async fn assert_left_unsent_for_the_lease<S: StateStore + AuditLog>(
    store: &S,
    count: usize,
    case: &str,
) {
    let left = in_state(store, EntityKind::Order, RecordState::Posting).await;
    assert_eq!(left.len(), count, "{case}: left in posting");
    for record in &left {
        let trail = audit_messages(store, &record.key, Some(AuditKind::Decided)).await;
        assert!(
            trail
                .iter()
                .any(|m| m.contains("not sent, left in posting") && m.contains("lease")),
            "{case}, {}: {trail:?}",
            record.key
        );
    }
}

/// Sends the stop signal and waits (20 s at most) for the run loop to end cleanly.
pub async fn stop_run_loop(
    stop: &tokio::sync::watch::Sender<bool>,
    running: tokio::task::JoinHandle<Result<(), connector_core::engine::EngineError>>,
) {
    stop.send_replace(true);
    tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .expect("the loop stops")
        .expect("the loop's task")
        .expect("clean stop");
}

/// Whether `n` orders of `store` come to be posted while the test clock moves 5 s at a time
/// (within 20 s of real time): a run loop's next cycles post them.
pub async fn orders_posted_as_the_clock_moves<S: StateStore>(
    h: &Harness,
    store: &S,
    n: usize,
) -> bool {
    eventually_within(Duration::from_secs(20), || async {
        h.clock.advance(Duration::from_secs(5));
        in_state(store, EntityKind::Order, RecordState::Posted)
            .await
            .len()
            == n
    })
    .await
}

/// Asks `done` every 5 ms for at most `limit`, until it says yes; whether it did.
pub async fn eventually_within<F, Fut>(limit: Duration, mut done: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let tries = limit.as_millis() / 5;
    for _ in 0..tries {
        tokio::time::sleep(Duration::from_millis(5)).await;
        if done().await {
            return true;
        }
    }
    false
}

pub fn grand_totals(documents: &[Value]) -> BTreeMap<String, Decimal> {
    documents
        .iter()
        .map(|d| (d["entity_id"].to_string(), money(&d["grand_total"])))
        .collect()
}

/// What a [`HookedStore`] does around the [`MemoryStore`] it wraps. Every hook does nothing
/// unless a test says otherwise.
#[async_trait::async_trait]
pub trait StoreHooks: Send + Sync {
    /// Runs before each move; an error fails the move as a storage failure would.
    fn before_transition(&self, _transition: &Transition) -> Result<(), StoreError> {
        Ok(())
    }
    /// Runs before each audit entry is appended; an error fails the append.
    fn before_append(&self, _entry: &NewAuditEntry) -> Result<(), StoreError> {
        Ok(())
    }
    /// Runs after each listing, with the store and the records it returned.
    async fn after_list(&self, _store: &MemoryStore, _filter: &RecordFilter, _page: &[Record]) {}
    /// Runs after each document is taken in, with its key and `updated_at`.
    async fn after_intake(&self, _key: &RecordKey, _updated_at: OffsetDateTime) {}
    /// Runs before each lease renewal; an error fails the renewal (a lease lost).
    fn before_renew_lease(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A memory store with [`StoreHooks`], to make a store fail or change at a chosen moment. Batch
/// writes use the trait's defaults, so the hooks see every move and every entry.
pub struct HookedStore<H> {
    pub inner: MemoryStore,
    pub hooks: H,
}

#[async_trait::async_trait]
impl<H: StoreHooks> StateStore for HookedStore<H> {
    async fn intake(&self, intake: Intake) -> Result<IntakeOutcome, StoreError> {
        let key = intake.key.clone();
        let updated_at = intake.fingerprint.updated_at;
        let outcome = self.inner.intake(intake).await;
        self.hooks.after_intake(&key, updated_at).await;
        outcome
    }
    async fn transition(&self, transition: Transition) -> Result<Record, StoreError> {
        self.hooks.before_transition(&transition)?;
        self.inner.transition(transition).await
    }
    async fn claim_due(
        &self,
        connection: &ConnectionName,
        kind: Option<EntityKind>,
        limit: usize,
    ) -> Result<Vec<Record>, StoreError> {
        self.inner.claim_due(connection, kind, limit).await
    }
    async fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        self.inner.get(key).await
    }
    async fn list(&self, filter: &RecordFilter) -> Result<Vec<Record>, StoreError> {
        let page = self.inner.list(filter).await?;
        self.hooks.after_list(&self.inner, filter, &page).await;
        Ok(page)
    }
    async fn stale_posting(
        &self,
        connection: &ConnectionName,
        entered_before: OffsetDateTime,
    ) -> Result<Vec<Record>, StoreError> {
        self.inner.stale_posting(connection, entered_before).await
    }
    async fn counts(&self, connection: Option<&ConnectionName>) -> Result<StateCounts, StoreError> {
        self.inner.counts(connection).await
    }
    async fn watermark(
        &self,
        connection: &ConnectionName,
        stream: &StreamName,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        self.inner.watermark(connection, stream).await
    }
    async fn advance_watermark(
        &self,
        connection: &ConnectionName,
        stream: &StreamName,
        to: OffsetDateTime,
    ) -> Result<OffsetDateTime, StoreError> {
        self.inner.advance_watermark(connection, stream, to).await
    }
    async fn acquire_lease(
        &self,
        connection: &ConnectionName,
        holder: &HolderId,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StoreError> {
        self.inner.acquire_lease(connection, holder, ttl).await
    }
    async fn renew_lease(
        &self,
        connection: &ConnectionName,
        holder: &HolderId,
        ttl: Duration,
    ) -> Result<Lease, StoreError> {
        self.hooks.before_renew_lease()?;
        self.inner.renew_lease(connection, holder, ttl).await
    }
    async fn release_lease(
        &self,
        connection: &ConnectionName,
        holder: &HolderId,
    ) -> Result<bool, StoreError> {
        self.inner.release_lease(connection, holder).await
    }
    async fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        self.inner.leases().await
    }
    async fn record_cycle(&self, report: &CycleReport) -> Result<(), StoreError> {
        self.inner.record_cycle(report).await
    }
    async fn cycle_reports(&self) -> Result<Vec<CycleReport>, StoreError> {
        self.inner.cycle_reports().await
    }
    async fn push_notification(&self, key: &RecordKey) -> Result<Notification, StoreError> {
        self.inner.push_notification(key).await
    }
    async fn take_notifications(
        &self,
        connection: &ConnectionName,
        limit: usize,
    ) -> Result<Vec<Notification>, StoreError> {
        self.inner.take_notifications(connection, limit).await
    }
}

#[async_trait::async_trait]
impl<H: StoreHooks> AuditLog for HookedStore<H> {
    async fn append(&self, entry: NewAuditEntry) -> Result<AuditEntry, StoreError> {
        self.hooks.before_append(&entry)?;
        self.inner.append(entry).await
    }
    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        self.inner.query(query).await
    }
}

/// Changes (touches) the first order each pass over the order stream takes in, in the Commerce
/// simulator, right after it is stored, for the first `passes` passes: Commerce changed it while
/// the later pages of its stream were still to be read. A pass begins with the first order taken
/// in, or with one older than the order taken in before it (the stream read again).
pub struct TouchedMidRead {
    sim: SimApi,
    passes: std::sync::atomic::AtomicU32,
    last: std::sync::Mutex<Option<OffsetDateTime>>,
}

impl TouchedMidRead {
    pub fn new(h: &Harness, passes: u32) -> Self {
        Self {
            sim: h.sim_api(),
            passes: std::sync::atomic::AtomicU32::new(passes),
            last: std::sync::Mutex::new(None),
        }
    }
}

#[async_trait::async_trait]
impl StoreHooks for TouchedMidRead {
    async fn after_intake(&self, key: &RecordKey, updated_at: OffsetDateTime) {
        if key.kind != EntityKind::Order {
            return;
        }
        let starts_pass = {
            let mut last = self.last.lock().unwrap();
            let starts = last.is_none_or(|last| updated_at < last);
            *last = Some(updated_at);
            starts
        };
        let left = self.passes.load(std::sync::atomic::Ordering::SeqCst);
        if !starts_pass || left == 0 {
            return;
        }
        self.passes
            .store(left - 1, std::sync::atomic::Ordering::SeqCst);
        self.sim
            .send(
                reqwest::Method::POST,
                &format!("orders/{}/touch", key.commerce_id),
                &serde_json::json!({"comment": "changed while its stream was read"}),
            )
            .await;
    }
}

/// Stores a newer version of the first `kind` record the engine lists in `received`, right after
/// it listed it, with `change` made to its document: Commerce changed the document while its
/// record was worked on. `changed` names the record once that happened.
pub struct ChangedMidPage {
    kind: EntityKind,
    change: fn(&mut Value),
    armed: std::sync::atomic::AtomicBool,
    pub changed: std::sync::Mutex<Option<RecordKey>>,
    clock: Arc<dyn Clock>,
}

impl ChangedMidPage {
    pub fn new(kind: EntityKind, change: fn(&mut Value), clock: Arc<dyn Clock>) -> Self {
        Self {
            kind,
            change,
            armed: std::sync::atomic::AtomicBool::new(true),
            changed: std::sync::Mutex::new(None),
            clock,
        }
    }

    /// The record that changed.
    pub fn changed_key(&self) -> RecordKey {
        self.changed
            .lock()
            .unwrap()
            .clone()
            .expect("a record changed while it was worked on")
    }
}

#[async_trait::async_trait]
impl StoreHooks for ChangedMidPage {
    async fn after_list(&self, store: &MemoryStore, filter: &RecordFilter, page: &[Record]) {
        let listing = filter.kind == Some(self.kind) && filter.state == Some(RecordState::Received);
        let Some(first) = page.first() else { return };
        if !listing || !self.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let mut payload: Value = first.payload.parse().expect("a stored document");
        (self.change)(&mut payload);
        let id = first.key.commerce_id.clone();
        store
            .intake(Intake {
                key: first.key.clone(),
                fingerprint: Fingerprint::of_document(id, self.clock.now(), &payload),
                payload: payload.into(),
            })
            .await
            .expect("intake of the newer version");
        *self.changed.lock().unwrap() = Some(first.key.clone());
    }
}

/// Once armed, fails every renewal of the connection's lease, as when another worker has taken it,
/// and counts the renewals it failed.
#[derive(Default)]
pub struct LeaseTakenElsewhere {
    pub taken: std::sync::atomic::AtomicBool,
    pub refused: std::sync::atomic::AtomicUsize,
}

impl StoreHooks for LeaseTakenElsewhere {
    fn before_renew_lease(&self) -> Result<(), connector_core::state::StoreError> {
        use std::sync::atomic::Ordering::SeqCst;
        if !self.taken.load(SeqCst) {
            return Ok(());
        }
        self.refused.fetch_add(1, SeqCst);
        Err(connector_core::state::StoreError::LeaseLost {
            connection: connector_core::state::ConnectionName::new(CONNECTION).expect("name"),
            holder: connector_core::state::HolderId::new("this-worker").expect("holder"),
        })
    }
}

/// A run loop polling once a minute over `store` (its connection as `edit` leaves it), started,
/// with its first cycle ended.
pub async fn a_minute_run_loop<H: StoreHooks + 'static>(
    h: &Harness,
    store: &Arc<HookedStore<H>>,
    edit: impl FnOnce(&mut ConnectionConfig),
) -> (
    connector_core::engine::Engine,
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<Result<(), connector_core::engine::EngineError>>,
) {
    let engine = h
        .engine_edited(&Setup::default(), store.clone(), |c| {
            c.schedule.min_interval = connector_core::config::ConfigDuration::from_mins(1);
            c.schedule.max_interval = connector_core::config::ConfigDuration::from_mins(1);
            edit(c);
        })
        .await;
    let (stop, running) = a_run_loop_past_its_first_cycle(&engine, &**store).await;
    (engine, stop, running)
}

/// Holds the worker up past its lease at the first document about to be sent whose `sent` entry
/// begins with `before` (while that entry is written, as a slow database would). Meanwhile
/// another worker takes the connection: with `back` unset, it keeps it, and renewals fail until
/// the test disarms `lease.taken`; with `back` set to the store, it lets the lease go again and
/// this worker's holder takes it back, under a new generation.
pub struct StalledBeforeTheSend {
    pub before: &'static str,
    pub clock: ManualClock,
    pub stalled: std::sync::atomic::AtomicBool,
    pub lease: LeaseTakenElsewhere,
    pub back: Option<MemoryStore>,
}

impl StalledBeforeTheSend {
    pub fn new(before: &'static str, clock: &ManualClock) -> Self {
        Self {
            before,
            clock: clock.clone(),
            stalled: std::sync::atomic::AtomicBool::new(false),
            lease: LeaseTakenElsewhere::default(),
            back: None,
        }
    }
}

impl StoreHooks for StalledBeforeTheSend {
    fn before_append(
        &self,
        entry: &connector_core::audit::NewAuditEntry,
    ) -> Result<(), connector_core::state::StoreError> {
        use std::sync::atomic::Ordering::SeqCst;
        if entry.kind == connector_core::audit::AuditKind::Sent
            && entry.message.starts_with(self.before)
            && !self.stalled.swap(true, SeqCst)
        {
            let connection = entry.key.connection.clone();
            match &self.back {
                None => self.lease.taken.store(true, SeqCst),
                Some(store) => {
                    let ttl = Duration::from_secs(60);
                    let other = HolderId::new("another-worker").expect("holder");
                    let this = HolderId::new(HOLDER).expect("holder");
                    // Renewals fail meanwhile, as they would: the run loop's own renewal, woken
                    // by the clock, must not keep the lease from the other worker.
                    self.lease.taken.store(true, SeqCst);
                    at_once(async {
                        self.clock.advance(Duration::from_secs(61));
                        let taken = store.acquire_lease(&connection, &other, ttl).await;
                        assert!(matches!(taken, Ok(LeaseOutcome::Acquired(_))), "{taken:?}");
                        store
                            .release_lease(&connection, &other)
                            .await
                            .expect("release");
                        let back = store.acquire_lease(&connection, &this, ttl).await;
                        assert!(matches!(back, Ok(LeaseOutcome::Acquired(_))), "{back:?}");
                    });
                    self.lease.taken.store(false, SeqCst);
                    return Ok(());
                }
            }
            // Past the test engine's lease of one minute.
            self.clock.advance(Duration::from_secs(61));
        }
        Ok(())
    }
    fn before_renew_lease(&self) -> Result<(), connector_core::state::StoreError> {
        self.lease.before_renew_lease()
    }
}

/// The output of `work`, which must finish without waiting on anything (as a memory store's calls
/// do): for a store call inside a hook, which cannot await.
pub fn at_once<T>(work: impl std::future::Future<Output = T>) -> T {
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(work).poll(&mut context) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("the work waited on something"),
    }
}
