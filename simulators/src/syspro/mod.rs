//! A fake SYSPRO 8 on loopback: e.net REST with its quirks, a small but strict ledger, a read-only
//! OData service, fault injection and an inspection API. It is written from
//! `docs/syspro-api.md` alone (it shares no code with `syspro-client`), so that a misreading in the
//! SDK shows up as a failing test instead of being mirrored.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use simulators::syspro::{SysproSim, SysproSimConfig};
//! let sim = SysproSim::start(SysproSimConfig::default()).await?;
//! let creds = sim.credentials();
//! println!("{} as {}", sim.enet_url(), creds.operator);
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # e.net REST (`{base}/SYSPROWCFService/Rest`)
//!
//! Paths match ignoring case; parameter names too. Every answer is HTTP 200 with
//! `application/octet-stream`: a session id, `0`, a version, `ERROR: ...` text, or XML encoded as
//! Windows-1252 with an `<?xml ... encoding="Windows-1252"?>` declaration.
//!
//! | Path | Verb | Parameters |
//! |---|---|---|
//! | `Logon` | GET | `Operator`, `OperatorPassword`, `CompanyId`, `CompanyPassword`, optional `XmlIn` (`<Logon><FailWhenAlreadyLoggedIn>Y`) |
//! | `Logoff`, `GetLogonProfile` | GET | `UserId` |
//! | `GetVersion` | GET | none; answers `8.0.161` |
//! | `Query/Query` | GET | `UserId`, `BusinessObject` (COMFND, ARSQRY, GENQGL), `XmlIn` |
//! | `Query/Browse`, `Query/Fetch` | GET | `UserId`, `XmlIn` (COMBRW, COMFCH documents) |
//! | `Transaction/Post` | GET | `UserId`, `BusinessObject` (ARSTIN, GENTJL, SORTOI), `XmlParameters`, `XmlIn` |
//! | `Transaction/PostLD` | POST | body `<TransactionPostLD xmlns="http://SYSPROWcfService"><UserId/><BusinessObject/><XmlParameters><![CDATA[..]]></XmlParameters><XmlIn><![CDATA[..]]></XmlIn></TransactionPostLD>`; answers like `Post` (raw output XML, no wrapper) |
//! | `Transaction/Build` | GET | no build object is registered: `ERROR: e.net exception 100000` |
//! | `Setup/Add`, `Setup/Update`, `Setup/Delete` | GET | `UserId`, `BusinessObject` (ARSSCS), `XmlParameters`, `XmlIn` |
//!
//! Sessions: the id is 34 upper-case hex characters followed by two spaces (the SYSPRO 7 shape);
//! it is accepted trimmed or not. One session per operator: a second logon evicts the first.
//! A session unused for `idle_timeout` expires. An unknown, evicted or expired id answers exactly
//! `ERROR: The supplied UserID is invalid. Either you were not logged in; or your session has
//! expired. You will need to logon again.` Logon failures: `ERROR: Invalid operator password`,
//! `ERROR: Invalid company password`, `ERROR: Operator 'X' not found`, `ERROR: Company 'X' not
//! found`. Operators: the one in [`SysproSim::credentials`] and `ADMIN` with an empty password.
//!
//! A business object that is unknown, or listed in `unlicensed_business_objects`, answers
//! `ERROR: e.net exception 100000`. A request target longer than `max_url_len` (16 KiB by
//! default) gets HTTP 414 with http.sys's "Request URL Too Long" page, before any session check.
//! Other `ERROR:` texts (malformed XML, wrong root element, unknown table or column) are this
//! fake's own wording.
//!
//! Element names in input documents are case-sensitive and unknown elements are silently
//! ignored, as on a real install. Numbers may carry a leading or trailing minus; money has at
//! most 12 digits and 2 decimals (`12.990000000000002` is "not numeric"). Dates are `CCYY-MM-DD`.
//!
//! # Business objects
//!
//! Field errors nest under the offending element:
//! `<Field><Value>..</Value><ErrorNumber>..</ErrorNumber><ErrorDescription>..</ErrorDescription></Field>`
//! (error numbers are this fake's own, 100001 and up). `ValidateOnly=Y` never changes the ledger;
//! `ApplyIfEntireDocumentValid=Y` (default) applies nothing when any item is invalid, `N` applies
//! the valid items.
//!
//! * **ARSTIN** (`PostArInvoices` → `<postarinvoices>`, no root attributes). Per item:
//!   `TransactionType` I/C/D; `Customer` must exist; `Invoice` required unless
//!   `GenerateInvoiceNumber=Y` (then numbered from 100001), at most 20 characters, and not already
//!   on the ledger for that customer and document type (`Invoice 'X' already exists for customer
//!   'Y'`); `InvoiceValue` required and not negative; `TaxValue` not negative; `ProductClass`
//!   required and known; `Branch` and `InvoiceTerms` known when given (else the customer's);
//!   `PostingPeriod` C/P/B sets the transaction year and month from the company date. Credit
//!   notes are stored negated; `PostToExistingInvoice=Y` reduces the original's balance. Output per
//!   item: `<Item><Customer/><Invoice/><DocumentType/><TransactionType/><ItemNumber>000001</ItemNumber>[errors]</Item>`,
//!   then `<StatusOfItems><ItemsValidated/><InvalidItems/><ItemsProcessed/></StatusOfItems>`,
//!   zero-padded. The document's sample was cut after `InvalidItems`; `ItemsProcessed` (how many
//!   were posted) is this fake's choice. The AR-to-GL booking SYSPRO would make (debit the
//!   branch's AR control, credit the product class's sales account net of tax, credit tax
//!   `00-2200`) is shown as `ar_to_gl` in `/__sim/invoices`.
//! * **GENTJL** (`PostGlJournal` → `<postgljournal>`). `EntryAmount` is signed (+ debit, −
//!   credit; the document marks this inferred). Every `LedgerCode` must exist, a journal needs
//!   entries and must sum to zero. Journal numbers restart at 1 in each GL year/period
//!   (`PostingYear`/`PostingPeriod`, defaulting to the journal date's year and month). Output
//!   per journal `<Item><Transaction><Key><GlYear/><GlPeriod>03</GlPeriod><GlJournal>00001</GlJournal></Key><JournalDate>CCYYMMDD</JournalDate><NumOfEntries/><DebitAmount/><CreditAmount/><JnlPostingType/><Jnlstatus/><Authorised/></Transaction></Item>`
//!   (an invalid journal instead echoes `JournalReference` with its errors), then
//!   `<StatusOfItems>` with `JournalsProcessed`, `JournalsInvalid`, `PostingsProcessed`,
//!   `PostingsInvalid`, unpadded as in the documented sample.
//! * **ARSSCS** (`SetupArCustomer` → `<setuparcustomer><item><key><customer>`). Add refuses an
//!   existing code, Update and Delete a missing one, Delete a customer with AR documents. Name is
//!   required on Add; `Branch`/`TermsCode` must exist; defaults `WB`, `00`, `USD`. Errors nest
//!   under lower-cased field names. `<StatusOfItems><RecordsRead/><RecordsInvalid/>` unpadded.
//! * **SORTOI** (`SalesOrders`). `Process` Validate|Import; `CheckForCustomerPoNumbers=Y`
//!   (default) makes `CustomerPoNumber` mandatory; a PO number already used by the same customer
//!   is rejected unless `AllowDuplicateOrderNumbers` is Y or A (then it is a warning). Only
//!   `OrderActionType` A is available; stock codes are not checked (there is no inventory).
//!   A clean import answers with `<StatusOfItems>` only (no `<Order>`); an import with warnings
//!   returns `<Order>` blocks with the number (`015001`...); a failed document returns every order
//!   with an empty `<SalesOrder/>` and its errors and imports nothing; Validate ends with
//!   `<ValidationStatus><Status>Successful|Failed</Status></ValidationStatus>`.
//! * **COMFND** on `ArCustomer`, `ArInvoice`, `GenMaster`, `SorMaster`, `GenTransaction`: `Columns` (or all with
//!   `AllColumns=Y`), `Where/Expression` with `AndOr` on the second and later expressions,
//!   brackets, conditions EQ, NE, LT, GT, LE, GE, LIKE (`%`, `_`), SQL precedence (AND before OR),
//!   `OrderBy`, `ReturnRows`. Output root = table name with SYSPRO's root attributes,
//!   `<HeaderDetails>`, one `<Row>` per record, `<RowsReturned>` space-padded to 8; money columns
//!   space-padded to 14. Text comparisons ignore case and trailing spaces (SQL Server's usual
//!   collation).
//! * **COMFCH**: `Key` (+ `OptionalKey1` invoice, `OptionalKey2` document type for `ArInvoice`);
//!   root = table name; a missing key is an `ERROR:` text. **COMBRW**: `BrowseName` or
//!   `BrowseDetails/TableName`, `StartAtKey` (`StartCondition` GT for strictly after),
//!   `Filter/ColumnFilterName|Value`, `ReturnRows` (default 10); root `<Browse>`, rows as
//!   `<Column><Value/><DataType/></Column>`, then `<NextPrevKey><PrevKey/><NextKey/>`.
//! * **GENQGL**: `<Query><key><LedgerCode>` (`Key` also read) → `<GLStructureQuery>` with
//!   `<LedgerDetails><LedgerCode/><Description/><AccountType/><GlGroup/>`; an unknown code or one
//!   not shaped `NN-NNNN` is an exception (`ERROR: Ledger code 'X' not found`), as query objects
//!   raise for invalid keys (the document leaves this open).
//! * **ARSQRY**: `<Query><Key><Customer>` → `<ARStatement>` with `Header`, one `InvoiceDetail`
//!   per document with a balance (all with `IncludeZeroBalances=Y`), `TransDetail` unless
//!   `IncludeTransactions=N`, `TotalSection`; unknown customer is an `ERROR:` text.
//!
//! # OData (`{base}/SYSPRO8Odata/SYSPROOData/{company}`)
//!
//! Basic auth with `odata_username`/`odata_password`; read-only (other verbs 405). `$metadata`
//! (EDMX 4.0) and a service document list `ArCustomer`, `ArInvoice`, `GenMaster`, `SorMaster`,
//! `GenTransaction`.
//! `$filter` supports eq, ne, gt, ge, lt, le, and, or, not, brackets, `contains`, `startswith`,
//! `endswith`, string literals with `''` escaping, numbers, unquoted dates (`2024-01-05` or
//! `2024-01-05T00:00:00Z`), `null`; `$select`, `$orderby` (asc/desc), `$top`, `$skip`, `$count`.
//! At most 5,000 rows per response; more come through `@odata.nextLink` (absolute, with `$skip`
//! and the remaining `$top`). Money is a JSON number with two decimals, dates are
//! `Edm.DateTimeOffset` strings at midnight UTC. Errors are `{"error":{"code":"","message":..}}`
//! with 400 or 404.
//!
//! Columns: `ArCustomer` Customer, Name, ShortName, Email, Branch, TermsCode, Currency,
//! CreditLimit, Telephone, Contact, Salesperson, CustomerOnHold. `ArInvoice` Customer, Invoice,
//! DocumentType, InvoiceDate, DueDate, Branch, TermsCode, Reference, CustomerPoNumber,
//! SalesOrder, TrnYear, TrnMonth, OrigInvValue, TaxValue, InvoiceBal1, Currency, ProductClass.
//! `GenMaster` Company, GlCode, Description, AccountType, GlGroup. `SorMaster` SalesOrder,
//! Customer, CustomerName, CustomerPoNumber, OrderDate, OrderStatus, Branch, Email. `GenTransaction`
//! (one row per entry of a posted GL journal; a saved, unposted journal has none) GlCode, GlYear,
//! GlPeriod, Journal, EntryNumber, TransactionDate, Reference (the journal's `JournalReference`),
//! Comment, EntryValue (signed: + debit, − credit, as GENTJL's `EntryAmount`), JournalType,
//! Notation; key GlYear, GlPeriod, Journal, EntryNumber (COMFCH: `Key` year, `OptionalKey1`
//! period, `OptionalKey2` journal, `OptionalKey3` entry). The document lists `GenTransaction`
//! among the entity sets; its column names are inferred from SYSPRO's data dictionary. The document
//! names only the key columns; the rest follow SYSPRO's data dictionary where known and are this
//! fake's choice otherwise (`Reference`, `ProductClass`, `TaxValue` on `ArInvoice`).
//!
//! # Seed data
//!
//! Company `EDU1`, operator `MLCONNECT` (passwords derived from the seed), local currency USD.
//!
//! | GL code | Description | Type |
//! |---|---|---|
//! | `00-1010` | Bank - current account | A |
//! | `00-1200` | Accounts receivable control | A |
//! | `00-1400` | Inventory | A |
//! | `00-2100` | Accounts payable control | L |
//! | `00-2200` | Sales tax payable | L |
//! | `00-3000` | Retained earnings | C |
//! | `00-4010` | Revenue - web store | R |
//! | `00-4020` | Revenue - B2B | R |
//! | `00-4030` | Revenue - marketplace | R |
//! | `00-4100` | Freight revenue | R |
//! | `00-4200` | Discounts allowed | R |
//! | `00-4999` | E-commerce clearing | R |
//! | `00-5000` | Cost of sales | E |
//! | `00-6100` | Bank and card charges | E |
//! | `00-9999` | Rounding differences | E |
//!
//! Product classes (sales account): `ECOM` clearing (`00-4999`), `WEB` (`00-4010`), `B2B`
//! (`00-4020`), `MKT` (`00-4030`), `FRT` (`00-4100`). Branches (AR control `00-1200`): `WB` web
//! store, `MK` marketplace, `B2` B2B trade. Terms: `00` cash, `07`, `30`, `60` days.
//! Customers: `WEBCASH`, `MKTCASH`, `B2BCASH` (cash customers per channel), `MUELLER`
//! ("Müller Gärten GmbH") and `CAFEZOE` ("Café Zoë Ltd") on branch `B2`, `C00001`–`C00020` with
//! seeded names and emails (`first.lastN@example.com`), then `extra_customers` (branch `WB`,
//! terms `00`), and `history_invoices` historical invoices `H0000001`... (product class `WEB`)
//! spread over the generated customers and the year before the company date.
//!
//! # Faults ([`SysproFaults`], `GET`/`PUT /__sim/faults`)
//!
//! Latency per call plus per document item (real `tokio` sleeps, also on OData); every Nth
//! session call finds its session invalid; named business objects unlicensed; the next N or a
//! share of calls hang (for `hang_ms`, or until shutdown when 0); the next N or a share of posts
//! and setup writes change the ledger and then lose their answer — `drop` closes the connection
//! with no response bytes, `hang` never answers. Rates draw from the seeded generator, so a run
//! repeats under one seed and one call order.
//!
//! # Busy time and inspection
//!
//! A call's answer leaves its latency after the call was let through the session checks; the
//! fake's own work on the call (reading the document, changing the ledger, writing the answer)
//! happens within that time, so the latency is the service time a client sees, less the network.
//! The latency the fake imposes is summed per operator (all sessions) and per current session:
//! [`SysproSim::busy_time`], [`SysproSim::stats`] and `GET /__sim/stats`. The rest of `/__sim/`
//! (ledger invoices and journals, customers, sales orders, reference data, sessions, deleting or
//! altering an invoice behind the client's back) is listed at `GET /__sim/`.

mod bo;
mod enet;
mod inspect;
mod odata;
mod state;
mod tables;
mod xml;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use state::{SplitMix, State};

/// How the fake SYSPRO starts: seed, latency, idle expiry, extra data and faults.
///
/// `Default` gives a quiet, fast, fault-free server on a free port.
#[derive(Clone, Debug)]
pub struct SysproSimConfig {
    /// Seeds generated customers, history, session ids, passwords and fault rates.
    pub seed: u64,
    /// Simulated service time of every e.net call (a real `tokio` sleep). When non-zero it
    /// replaces `faults.latency_ms`.
    pub latency: Duration,
    /// Extra service time per document item (`<Item>`, `<Orders>`). When non-zero it replaces
    /// `faults.item_latency_ms`.
    pub item_latency: Duration,
    /// A session unused for this long is logged out, like an e.net class timeout.
    pub idle_timeout: Duration,
    /// Customers to create besides the seeded ones, e.g. some that match Commerce customers by
    /// email. Created on branch `WB` with terms `00`.
    pub extra_customers: Vec<SeedCustomer>,
    /// Number of historical AR invoices (`H0000001`...) to seed across the generated customers;
    /// enough of them exercise OData's 5,000-row paging.
    pub history_invoices: usize,
    /// Longest request target (path and query) accepted; longer ones get HTTP 414 as from
    /// http.sys, which is why large documents go through `Transaction/PostLD`.
    pub max_url_len: usize,
    /// The company date ("today" for defaulted document dates and posting periods). `None` uses
    /// the system clock's UTC date at start.
    pub company_date: Option<time::Date>,
    /// Port to bind on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Fault settings at start; changeable later through `/__sim/faults` or
    /// [`SysproSim::set_faults`].
    pub faults: SysproFaults,
}

impl Default for SysproSimConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            latency: Duration::ZERO,
            item_latency: Duration::ZERO,
            idle_timeout: Duration::from_secs(20 * 60),
            extra_customers: Vec::new(),
            history_invoices: 50,
            max_url_len: 16 * 1024,
            company_date: None,
            port: 0,
            faults: SysproFaults::default(),
        }
    }
}

/// A customer to add to the seeded ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedCustomer {
    pub code: String,
    pub name: String,
    pub email: String,
}

/// What a client sees when a post's answer is lost after the ledger changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LostAnswerMode {
    /// The connection is closed without any response bytes (a transport error at once).
    #[default]
    Drop,
    /// No answer ever comes; the client's own timeout fires.
    Hang,
}

/// Faults and latency, settable at start and at run time (`GET`/`PUT /__sim/faults`, where a
/// `PUT` body may name only the fields to change).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SysproFaults {
    /// Service time of every e.net call, in milliseconds.
    pub latency_ms: u64,
    /// Extra service time per document item, in milliseconds.
    pub item_latency_ms: u64,
    /// Every Nth call that presents a session id finds its session gone (0 = never).
    pub invalidate_session_every: u32,
    /// Business objects answered with `ERROR: e.net exception 100000` (not licensed).
    pub unlicensed_business_objects: Vec<String>,
    /// The next N e.net calls hang before doing anything.
    pub hang_next: u32,
    /// Share of e.net calls (0.0 to 1.0) that hang before doing anything.
    pub hang_rate: f64,
    /// How long a hung call hangs before being handled normally; 0 = it never answers.
    pub hang_ms: u64,
    /// The next N posts (Transaction/Post, PostLD, Setup writes) change the ledger and then lose
    /// their answer.
    pub lose_answer_next: u32,
    /// Share of posts (0.0 to 1.0) that change the ledger and then lose their answer.
    pub lose_answer_rate: f64,
    /// How a lost answer looks to the client.
    pub lose_answer_mode: LostAnswerMode,
}

/// Credentials of the fake company (plain strings: this is test data).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SysproCredentials {
    pub company_id: String,
    pub operator: String,
    pub operator_password: String,
    pub company_password: String,
    pub odata_username: String,
    pub odata_password: String,
}

/// Call counts and simulated service time, for tests and benchmarks.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SysproStats {
    /// Calls per e.net endpoint (`Logon`, `Transaction/Post`, ...) and OData entity set
    /// (`OData ArInvoice`).
    pub endpoint_calls: std::collections::BTreeMap<String, u64>,
    /// Calls per endpoint and business object (`Transaction/Post ARSTIN`).
    pub business_object_calls: std::collections::BTreeMap<String, u64>,
    /// Per operator code.
    pub operators: std::collections::BTreeMap<String, OperatorStats>,
}

/// One operator's totals.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OperatorStats {
    pub logons: u64,
    /// Sessions ended because the operator logged on again.
    pub evictions: u64,
    pub calls: u64,
    /// Simulated service time over all of the operator's sessions, in milliseconds.
    pub busy_ms: u64,
    /// Simulated service time of the operator's current session, in milliseconds.
    pub session_busy_ms: u64,
    pub session_open: bool,
}

/// Shared by every request handler.
pub(crate) struct Shared {
    state: Mutex<State>,
    pub credentials: SysproCredentials,
    /// Other operators that may log on: (code, password).
    pub other_operators: Vec<(String, String)>,
    pub idle_timeout: Duration,
    pub max_url_len: usize,
    pub base_url: String,
    pub shutdown: watch::Receiver<bool>,
}

impl Shared {
    /// Locks the state; a panic while it was held does not make the fake unusable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until the server shuts down (used by hung calls so shutdown is never blocked).
    pub(crate) async fn until_shutdown(&self) {
        let mut rx = self.shutdown.clone();
        while !*rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }
}

/// A running fake SYSPRO on 127.0.0.1.
pub struct SysproSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown_tx: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for SysproSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SysproSim")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

#[allow(clippy::disallowed_methods)] // the one place the fake reads the wall clock
fn system_today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

impl SysproSim {
    /// Binds 127.0.0.1 and serves e.net REST, OData and `/__sim/` until shut down.
    ///
    /// # Errors
    ///
    /// When the port cannot be bound.
    pub async fn start(config: SysproSimConfig) -> std::io::Result<SysproSim> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let mut rng = SplitMix::new(config.seed);
        let credentials = SysproCredentials {
            company_id: "EDU1".to_owned(),
            operator: "MLCONNECT".to_owned(),
            operator_password: format!("op-{:010x}", rng.next_u64() & 0xFF_FFFF_FFFF),
            company_password: format!("co-{:08x}", rng.next_u64() & 0xFFFF_FFFF),
            odata_username: "MLCONNECT".to_owned(),
            odata_password: format!("od-{:012x}", rng.next_u64() & 0xFFFF_FFFF_FFFF),
        };
        let company_date = config.company_date.unwrap_or_else(system_today);
        let ledger = state::seed_ledger(
            &mut rng,
            &config.extra_customers,
            config.history_invoices,
            company_date,
        );
        let mut faults = config.faults.clone();
        if !config.latency.is_zero() {
            faults.latency_ms = config.latency.as_millis() as u64;
        }
        if !config.item_latency.is_zero() {
            faults.item_latency_ms = config.item_latency.as_millis() as u64;
        }
        let state = State {
            ledger,
            faults,
            rng,
            sessions: Default::default(),
            operator_sessions: Default::default(),
            operator_totals: Default::default(),
            endpoint_calls: Default::default(),
            business_object_calls: Default::default(),
            authenticated_calls: 0,
            company_date,
        };
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            credentials,
            other_operators: vec![("ADMIN".to_owned(), String::new())],
            idle_timeout: config.idle_timeout,
            max_url_len: config.max_url_len,
            base_url: format!("http://{addr}"),
            shutdown: shutdown_rx,
        });
        let app = axum::Router::new()
            .fallback(enet::entry)
            .with_state(shared.clone());
        let signal = {
            let shared = shared.clone();
            async move { shared.until_shutdown().await }
        };
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(signal)
                .await
            {
                tracing::warn!(error = %e, "fake SYSPRO server stopped with an error");
            }
        });
        Ok(SysproSim {
            shared,
            addr,
            shutdown_tx,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The e.net REST base, ending in `/SYSPROWCFService/Rest`.
    pub fn enet_url(&self) -> String {
        format!("{}/SYSPROWCFService/Rest", self.shared.base_url)
    }

    /// The OData service root for the company: `.../SYSPRO8Odata/SYSPROOData/EDU1`; entity sets
    /// and `$metadata` are below it.
    pub fn odata_url(&self) -> String {
        format!(
            "{}{}/{}",
            self.shared.base_url,
            odata::SERVICE_PREFIX,
            self.shared.credentials.company_id
        )
    }

    /// The company's e.net and OData credentials.
    pub fn credentials(&self) -> SysproCredentials {
        self.shared.credentials.clone()
    }

    /// Current fault settings.
    pub fn faults(&self) -> SysproFaults {
        self.shared.lock().faults.clone()
    }

    /// Replaces the fault settings.
    pub fn set_faults(&self, faults: SysproFaults) {
        self.shared.lock().faults = faults;
    }

    /// Call counts and busy time.
    pub fn stats(&self) -> SysproStats {
        inspect::stats(&self.shared.lock())
    }

    /// Total simulated service time of an operator over all its sessions.
    pub fn busy_time(&self, operator: &str) -> Duration {
        self.shared
            .lock()
            .operator_totals
            .get(&operator.to_uppercase())
            .map_or(Duration::ZERO, |t| t.busy)
    }

    /// Zeroes call counts and busy time (sessions stay open).
    pub fn reset_counters(&self) {
        inspect::reset_counters(&mut self.shared.lock());
    }

    /// Stops serving; hung calls are released and in-flight answers get a moment to finish.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_tx.send(true);
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for SysproSim {
    fn drop(&mut self) {
        let _ = self.shutdown_tx.send(true);
    }
}
