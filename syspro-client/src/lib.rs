//! Typed async client for SYSPRO ERP: e.net REST sessions, business objects and OData reads.
//!
//! - [`SysproClient`] owns one e.net session per operator (SYSPRO evicts the first session when
//!   the same operator logs on twice), serialises calls on it, logs on again when SYSPRO says the
//!   session expired, and logs off on [`SysproClient::close`].
//! - [`bo`] has typed documents for the business objects an order-to-cash integration needs
//!   (ARSTIN AR invoices, GENTJL GL journals, ARSSCS customers, GENQGL, ARSQRY, COMFND, SORTOI),
//!   validated before anything is sent, and parsers for their outputs that report errors,
//!   warnings and counters per item.
//! - [`odata`] reads SYSPRO tables over the OData service.
//!
//! # Quick start
//!
//! Validate (or, without `validate_only`, post) an AR invoice whose number is chosen by the
//! caller, so a retry can never create a second invoice:
//!
//! ```no_run
//! use rust_decimal::Decimal;
//! use secrecy::SecretString;
//! use syspro_client::bo::{ArInvoiceItem, ArInvoicePosting};
//! use syspro_client::{EnetConfig, SysproClient};
//! use time::macros::date;
//!
//! # async fn run() -> Result<(), syspro_client::Error> {
//! let config = EnetConfig::builder(
//!     "http://erp01:20003/SYSPROWCFService/Rest",
//!     "EDU1",
//!     "WEBINT",
//!     SecretString::from("operator password".to_owned()),
//! )
//! .build()?;
//! let client = SysproClient::new(config)?;
//!
//! let mut invoice = ArInvoiceItem::invoice(
//!     "WEB001",                 // SYSPRO customer
//!     "MG100000123",            // invoice number, deterministic from the shop's document
//!     date!(2026 - 11 - 20),
//!     Decimal::new(119_00, 2),  // 119.00, never negative
//!     "WEB",                    // product class whose sales account takes the revenue
//! );
//! invoice.tax_value = Some(Decimal::new(19_00, 2));
//! let mut posting = ArInvoicePosting::new(vec![invoice]);
//! posting.parameters.validate_only = true;
//!
//! let result = client.post_ar_invoices(&posting).await?;
//! for item in &result.items {
//!     if item.is_success() {
//!         println!("invoice {:?} accepted", item.invoice);
//!     } else {
//!         for error in &item.messages.errors {
//!             println!("rejected: {error}");
//!         }
//!     }
//! }
//! client.close().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Errors
//!
//! Every fallible call returns [`Error`]. Input that SYSPRO would reject or silently misread is
//! refused before anything is sent ([`Error::InvalidInput`], naming the field); an answer that
//! cannot be read is [`Error::Output`]; SYSPRO's `ERROR: …` answers, session, licence, transport
//! and timeout failures have their own variants, and [`Error::is_retryable`] says which are
//! worth another attempt. A business object that ran but rejected some items is **not** an
//! error: its result carries the per-item messages.

// ---- configuration, sessions, transport, response envelope, errors, OData -----------------------
pub mod client;
pub mod config;
pub mod error;
pub mod odata;
pub mod response;
pub mod session;

pub use client::SysproClient;
pub use config::{
    EnetConfig, EnetConfigBuilder, LargeDocumentTransport, ODataConfig, ODataConfigBuilder,
};
pub use error::{Error, redact_url};
pub use odata::{
    ArCustomer, ArInvoice, EntitySet, Filter, GenMaster, GenTransaction, Literal, ODataClient,
    Order, Query, Row,
};
pub use session::{Clock, ManualClock, SystemClock};

// ---- business objects: typed documents and parsed outputs ----------------------------------------
pub mod bo;
