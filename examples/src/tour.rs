//! A first look at the two SDKs, without the engine: read changed orders from Commerce with
//! `adobe-commerce-client`, check GL codes and validate an AR invoice in SYSPRO with
//! `syspro-client`.
//!
//! Each step reports a line through the caller's `step` function, so the `sdk-tour` binary prints
//! them as they happen and the tests can read them.

use adobe_commerce_client::models::{Order, StoreId};
use adobe_commerce_client::{Client, Credentials, SearchCriteria, SortDirection};
use rust_decimal::Decimal;
use secrecy::SecretString;
use simulators::Sims;
use syspro_client::bo::{ArInvoiceItem, ArInvoicePosting, GlCodeValidation};
use syspro_client::{EnetConfig, SysproClient};
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::{datetime, format_description};

use crate::ExampleError;
use crate::playground;

/// Orders changed at or after this instant are listed (the simulated shop's orders span the first
/// two weeks of January 2026).
pub const CHANGED_SINCE: OffsetDateTime = datetime!(2026-01-12 00:00:00 UTC);

/// The GL codes the tour asks SYSPRO about; the last one is not in the chart of accounts.
pub const GL_CODES: [&str; 4] = ["00-4010", "00-4030", "00-4999", "00-4040"];

const SHOWN_TIME: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");

fn shown(at: OffsetDateTime) -> String {
    at.format(SHOWN_TIME).unwrap_or_else(|_| at.to_string())
}

/// The web store's cash customer in the simulated SYSPRO.
const CASH_CUSTOMER: &str = "WEBCASH";

/// One order as the tour lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TourOrder {
    /// Commerce increment id.
    pub increment_id: String,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
    /// Grand total in the order currency.
    pub grand_total: Decimal,
    /// Order currency.
    pub currency: String,
}

/// What the tour found.
#[derive(Debug, Clone)]
pub struct TourReport {
    /// How many web store orders changed since [`CHANGED_SINCE`] (Commerce's `total_count`).
    pub changed_orders: u64,
    /// The first page of them, oldest change first.
    pub orders: Vec<TourOrder>,
    /// SYSPRO's verdict on each of [`GL_CODES`].
    pub gl_codes: Vec<GlCodeValidation>,
    /// The invoice number of the validate-only ARSTIN posting.
    pub invoice: String,
    /// Whether SYSPRO found the invoice valid.
    pub invoice_valid: bool,
    /// Whether SYSPRO held that invoice afterwards (it must not: validate-only posts nothing).
    pub invoice_on_ledger: bool,
}

/// Starts the simulators with a shop of `orders` orders, runs [`run_tour_on`] and stops them.
///
/// # Errors
/// As [`run_tour_on`]; [`ExampleError::Simulators`] when they cannot start.
pub async fn run_tour(
    orders: usize,
    step: &mut (dyn FnMut(String) + Send),
) -> Result<TourReport, ExampleError> {
    step(format!(
        "starting the simulators ({orders} orders) on 127.0.0.1"
    ));
    let sims = playground::start_simulators(orders).await?;
    step(format!(
        "  Commerce at {}, SYSPRO e.net at {}",
        sims.commerce.base_url(),
        sims.syspro.enet_url()
    ));
    let result = run_tour_on(&sims, step).await;
    sims.shutdown().await;
    step("simulators stopped".to_owned());
    result
}

/// The tour against running simulators.
///
/// # Errors
/// [`ExampleError::Commerce`] or [`ExampleError::Syspro`] when an SDK call fails;
/// [`ExampleError::Unexpected`] when the shop has no order to invoice.
pub async fn run_tour_on(
    sims: &Sims,
    step: &mut (dyn FnMut(String) + Send),
) -> Result<TourReport, ExampleError> {
    // 1. Commerce: an OAuth 1.0a integration, as an admin creates it under System > Integrations.
    let oauth = sims.commerce.oauth();
    let commerce = Client::builder(sims.commerce.base_url())
        .credentials(Credentials::oauth1(
            &oauth.consumer_key,
            &oauth.consumer_secret,
            &oauth.access_token,
            &oauth.access_token_secret,
        ))
        .build()
        .map_err(|source| ExampleError::Commerce {
            operation: "client setup",
            source,
        })?;
    step(format!(
        "1. Commerce: web store orders changed since {}",
        shown(CHANGED_SINCE)
    ));
    let criteria = SearchCriteria::new()
        .updated_since(CHANGED_SINCE)
        .store_id(StoreId(1))
        .sort_by("updated_at", SortDirection::Asc)
        .sort_by("entity_id", SortDirection::Asc)
        .page_size(5);
    let page = commerce
        .orders()
        .search(criteria)
        .send()
        .await
        .map_err(|source| ExampleError::Commerce {
            operation: "order search",
            source,
        })?;
    let changed_orders = page.total_count.unwrap_or(page.items.len() as u64);
    step(format!(
        "   {changed_orders} changed; the first {}:",
        page.items.len()
    ));
    let mut orders = Vec::new();
    for order in &page.items {
        let listed = tour_order(order)?;
        step(format!(
            "   #{:<10} updated {}  {:>10.2} {}",
            listed.increment_id,
            shown(listed.updated_at),
            listed.grand_total,
            listed.currency
        ));
        orders.push(listed);
    }

    // 2. SYSPRO: one e.net session for the operator, opened on the first call.
    let creds = sims.syspro.credentials();
    let config = EnetConfig::builder(
        sims.syspro.enet_url(),
        &creds.company_id,
        &creds.operator,
        SecretString::from(creds.operator_password),
    )
    .company_password(SecretString::from(creds.company_password))
    .build()
    .map_err(|source| ExampleError::Syspro {
        operation: "client setup",
        source,
    })?;
    let syspro = SysproClient::new(config).map_err(|source| ExampleError::Syspro {
        operation: "client setup",
        source,
    })?;
    let outcome = syspro_steps(&syspro, &page.items, step).await;
    // Log off even when a step failed: SYSPRO allows one session per operator.
    let closed = syspro.close().await;
    let (gl_codes, invoice, invoice_valid, invoice_on_ledger) = outcome?;
    closed.map_err(|source| ExampleError::Syspro {
        operation: "logoff",
        source,
    })?;
    step("4. SYSPRO: logged off".to_owned());

    Ok(TourReport {
        changed_orders,
        orders,
        gl_codes,
        invoice,
        invoice_valid,
        invoice_on_ledger,
    })
}

fn tour_order(order: &Order) -> Result<TourOrder, ExampleError> {
    let missing = |field: &str| {
        ExampleError::Unexpected(format!("a Commerce order without {field} was listed"))
    };
    Ok(TourOrder {
        increment_id: order
            .increment_id
            .clone()
            .ok_or_else(|| missing("increment_id"))?,
        updated_at: order.updated_at.ok_or_else(|| missing("updated_at"))?,
        grand_total: order.grand_total.ok_or_else(|| missing("grand_total"))?,
        currency: order.order_currency_code.clone().unwrap_or_default(),
    })
}

type SysproOutcome = (Vec<GlCodeValidation>, String, bool, bool);

async fn syspro_steps(
    syspro: &SysproClient,
    orders: &[Order],
    step: &mut (dyn FnMut(String) + Send),
) -> Result<SysproOutcome, ExampleError> {
    step("2. SYSPRO: GL codes checked with GENQGL".to_owned());
    let gl_codes = syspro
        .validate_gl_codes(&GL_CODES)
        .await
        .map_err(|source| ExampleError::Syspro {
            operation: "GENQGL",
            source,
        })?;
    for verdict in &gl_codes {
        match verdict {
            GlCodeValidation::Valid {
                ledger_code,
                description,
                ..
            } => step(format!("   {ledger_code}  valid    {description}")),
            GlCodeValidation::Invalid {
                ledger_code,
                message,
            } => step(format!("   {ledger_code}  invalid  {message}")),
        }
    }

    // An AR invoice for the first listed order in the shop's own currency, on the cash customer.
    let order = orders
        .iter()
        .find(|o| o.order_currency_code.as_deref() == Some("USD"))
        .or_else(|| orders.first())
        .ok_or_else(|| {
            ExampleError::Unexpected(format!(
                "no web store order changed since {}; start the shop with more orders",
                shown(CHANGED_SINCE)
            ))
        })?;
    let listed = tour_order(order)?;
    let created = order.created_at.unwrap_or(listed.updated_at);
    let number = format!("TOUR{}", listed.increment_id);
    let mut item = ArInvoiceItem::invoice(
        CASH_CUSTOMER,
        number.clone(),
        created.date(),
        listed.grand_total,
        "ECOM",
    );
    item.reference = Some(listed.increment_id.clone());
    item.tax_value = order.tax_amount;
    item.branch = Some("WB".to_owned());
    let mut posting = ArInvoicePosting::new(vec![item]);
    posting.parameters.validate_only = true;
    step(format!(
        "3. SYSPRO: ARSTIN invoice {number} for order #{} ({:.2} {}) on {CASH_CUSTOMER}, ValidateOnly=Y",
        listed.increment_id, listed.grand_total, listed.currency
    ));
    let result =
        syspro
            .post_ar_invoices(&posting)
            .await
            .map_err(|source| ExampleError::Syspro {
                operation: "ARSTIN",
                source,
            })?;
    let valid = result.is_success();
    if valid {
        step(format!(
            "   valid ({} item validated); nothing was posted",
            result.items_validated.unwrap_or(0)
        ));
    } else {
        for error in result.errors() {
            step(format!("   rejected: {error}"));
        }
    }
    let on_ledger = syspro
        .find_ar_invoice(CASH_CUSTOMER, &number)
        .await
        .map_err(|source| ExampleError::Syspro {
            operation: "COMFND ArInvoice",
            source,
        })?
        .is_some();
    step(format!(
        "   COMFND: invoice {number} {} in SYSPRO",
        if on_ledger {
            "exists"
        } else {
            "does not exist"
        }
    ));
    Ok((gl_codes, number, valid, on_ledger))
}
