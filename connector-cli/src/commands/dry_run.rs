//! `sync --once --dry-run`: what the next cycle would post, validated by SYSPRO
//! (`ValidateOnly=Y`), with nothing stored, created or posted.
//!
//! It reads the same changes a cycle would (from the stream's watermark less the overlap), maps
//! them with the current mapping, and asks SYSPRO to validate the AR invoices and GL journals.
//! Documents already posted are skipped; customers that a real cycle would create are reported,
//! and their documents are validated once they exist.

use std::sync::Arc;

use adobe_commerce_client::models::{Invoice, Order};
use adobe_commerce_client::{Filter, SearchCriteria, SortDirection};
use connector_core::config::{Config, ConnectionConfig, Trigger};
use connector_core::engine::convert;
use connector_core::mapping::{DefaultMapper, Mapper as _, MappingContext, ReferenceData};
use connector_core::plan::{CustomerAction, PostingPlan, SourceDocument};
use connector_core::state::{
    EntityKind, RecordKey, RecordState, StateStore, StoreLocation, StreamName,
};
use connector_core::vault::SecretStore;
use futures::StreamExt as _;
use serde::Serialize;
use serde_json::json;
use syspro_client::SysproClient;
use syspro_client::bo::{ArInvoicePosting, GlJournalPosting, SalesOrderImport, SalesOrderProcess};

use super::reference::{CodeKind, check_codes, code_refs, index_of};
use crate::context::{Context, connection_name, select};
use crate::failure::{NeedsAttention, render, usage};
use crate::output::table;
use crate::wiring::{commerce_client, syspro_client};

/// What would happen to one document.
#[derive(Debug, Serialize)]
struct Verdict {
    record: String,
    customer: Option<String>,
    invoice: Option<String>,
    value: Option<String>,
    journal_lines: usize,
    ok: bool,
    outcome: String,
}

/// Runs `sync --once --dry-run`.
pub async fn dry_run(ctx: &Context, connection: Option<&str>) -> anyhow::Result<()> {
    let config = ctx.config()?;
    let vault: Arc<dyn SecretStore> = Arc::new(ctx.vault().await?);
    // A dry run stores nothing, so it never creates a database: without one, nothing has been
    // read or posted yet and every document is new.
    let store = if existing_store(ctx, &config)? {
        Some(ctx.store(&config).await?)
    } else {
        None
    };
    let mut would_halt = 0usize;
    let mut reports = Vec::new();
    for c in select(&config, connection)? {
        let syspro = syspro_client(c, vault.as_ref(), false).await?;
        let result = connection_dry_run(
            ctx,
            &config,
            c,
            store.as_ref().map(|s| s as &dyn StateStore),
            vault.as_ref(),
            &syspro,
        )
        .await;
        let _ = syspro.close().await;
        let (verdicts, skipped) =
            result.map_err(|e| e.context(format!("dry run of connection {} failed", c.name)))?;
        would_halt += verdicts.iter().filter(|v| !v.ok).count();
        if ctx.out.json {
            reports.push(
                json!({ "connection": c.name, "already_posted": skipped, "documents": verdicts }),
            );
            continue;
        }
        println!(
            "{}",
            ctx.out.bold(&format!(
                "Connection {} (dry run: nothing is posted)",
                c.name
            ))
        );
        let would_post = verdicts.iter().filter(|v| v.ok).count();
        println!(
            "  {} document(s) read; {} already posted; {would_post} would post; {} would not",
            verdicts.len() + skipped,
            skipped,
            verdicts.len() - would_post
        );
        if !verdicts.is_empty() {
            let rows: Vec<Vec<String>> = verdicts
                .iter()
                .map(|v| {
                    vec![
                        v.record.clone(),
                        v.customer.clone().unwrap_or_default(),
                        v.invoice.clone().unwrap_or_default(),
                        v.value.clone().unwrap_or_default(),
                        v.journal_lines.to_string(),
                        format!("{} {}", ctx.out.mark(v.ok), v.outcome),
                    ]
                })
                .collect();
            for line in table(
                &[
                    "DOCUMENT",
                    "CUSTOMER",
                    "INVOICE",
                    "VALUE",
                    "JOURNAL LINES",
                    "OUTCOME",
                ],
                &rows,
            )
            .lines()
            {
                println!("  {line}");
            }
        }
    }
    if ctx.out.json {
        ctx.out
            .print_json(&json!({ "dry_run": true, "connections": reports }))?;
    }
    if would_halt > 0 {
        return Err(NeedsAttention.into());
    }
    Ok(())
}

/// Whether the configured state store already exists. A SQLite file is checked without opening
/// it (opening creates it); a PostgreSQL database is a server, which exists.
fn existing_store(ctx: &Context, config: &Config) -> anyhow::Result<bool> {
    let base = crate::context::parent_dir(&ctx.config_path);
    match StoreLocation::parse(&config.store.url, base) {
        Ok(StoreLocation::Sqlite(path)) => Ok(path.exists()),
        Ok(StoreLocation::Postgres(_)) => Ok(true),
        Err(e) => Err(usage(e.to_string())),
    }
}

async fn connection_dry_run(
    ctx: &Context,
    config: &Config,
    c: &ConnectionConfig,
    store: Option<&dyn StateStore>,
    vault: &dyn SecretStore,
    syspro: &SysproClient,
) -> anyhow::Result<(Vec<Verdict>, usize)> {
    let name = connection_name(&c.name)?;
    let refs = code_refs(&ctx.config_path, index_of(config, c), c);
    let checks = check_codes(syspro, &refs, ctx.clock.now().date()).await?;
    let mut reference = ReferenceData::default();
    for k in checks.iter().filter(|k| k.ok) {
        let set = match k.kind {
            CodeKind::GlAccount => &mut reference.gl_accounts,
            CodeKind::ProductClass => &mut reference.product_classes,
            CodeKind::Branch => &mut reference.branches,
            CodeKind::Customer => continue,
        };
        set.insert(k.code.clone());
    }
    let kind = match c.trigger {
        Trigger::Invoice => EntityKind::Invoice,
        Trigger::Order => EntityKind::Order,
    };
    let documents = read_documents(c, vault, store, kind).await?;
    let mapper = DefaultMapper::for_connection(c);
    let mut verdicts = Vec::new();
    let mut ready: Vec<(usize, PostingPlan)> = Vec::new();
    let mut skipped = 0;
    for doc in documents {
        let key = RecordKey::new(name.clone(), kind, doc.entity_id.to_string());
        let posted = match store {
            Some(store) => store
                .get(&key)
                .await?
                .is_some_and(|r| r.state == RecordState::Posted),
            None => false,
        };
        if posted {
            skipped += 1;
            continue;
        }
        let mut verdict = Verdict {
            record: key.to_string(),
            customer: None,
            invoice: None,
            value: None,
            journal_lines: 0,
            ok: false,
            outcome: String::new(),
        };
        match plan_with_customer(&mapper, &doc, &reference, syspro).await {
            Ok((plan, created)) => {
                verdict.customer = plan.customer_code().map(str::to_owned);
                verdict.invoice = Some(plan.ar_invoice.invoice.clone());
                verdict.value = Some(plan.ar_invoice.invoice_value.to_string());
                verdict.journal_lines = plan.journal.as_ref().map_or(0, |j| j.lines.len());
                match created {
                    Some(code) => {
                        verdict.ok = true;
                        verdict.outcome = format!("would create customer {code}, then post");
                    }
                    None => ready.push((verdicts.len(), plan)),
                }
            }
            Err(reason) => verdict.outcome = format!("would halt: {reason}"),
        }
        verdicts.push(verdict);
    }
    let batch = usize::try_from(c.batch_size).unwrap_or(50).max(1);
    for chunk in ready.chunks(batch) {
        validate(syspro, chunk, &mut verdicts).await?;
    }
    Ok((verdicts, skipped))
}

/// Plans `doc`, resolving a customer to be matched by email the way a cycle would; returns the
/// code of a customer the cycle would create.
async fn plan_with_customer(
    mapper: &DefaultMapper,
    doc: &SourceDocument,
    reference: &ReferenceData,
    syspro: &SysproClient,
) -> Result<(PostingPlan, Option<String>), String> {
    let plan = |code: Option<&str>| {
        mapper
            .plan(
                doc,
                &MappingContext {
                    customer_code: code,
                    reference,
                },
            )
            .map_err(|e| e.to_string())
    };
    let first = plan(None)?;
    match &first.customer {
        CustomerAction::MatchByEmail {
            email,
            otherwise_create,
        } => {
            let found = syspro.find_customers_by_email(email).await.map_err(|e| {
                format!(
                    "customer lookup by email failed: {}",
                    render(&anyhow::Error::new(e))
                )
            })?;
            if let Some(row) = found.first() {
                return Ok((plan(Some(&row.customer))?, None));
            }
            match otherwise_create {
                Some(new) => Ok((plan(Some(&new.code))?, Some(new.code.clone()))),
                None => Err(format!(
                    "no SYSPRO customer has the email {email} and customer creation is disabled"
                )),
            }
        }
        CustomerAction::Create(new) => {
            let code = new.code.clone();
            Ok((first, Some(code)))
        }
        _ => Ok((first, None)),
    }
}

/// Validates a batch of plans in SYSPRO (ValidateOnly): the invoices, then the journals; or, on
/// a sales-order connection, each sales order with SORTOI `Process=Validate`.
async fn validate(
    syspro: &SysproClient,
    chunk: &[(usize, PostingPlan)],
    verdicts: &mut [Verdict],
) -> anyhow::Result<()> {
    if chunk.iter().any(|(_, p)| p.sales_order.is_some()) {
        return validate_sales_orders(syspro, chunk, verdicts).await;
    }
    let items: Vec<_> = chunk
        .iter()
        .filter_map(|(_, p)| convert::ar_invoice_item(p))
        .collect();
    let mut posting = ArInvoicePosting::new(items);
    posting.parameters.validate_only = true;
    posting.parameters.apply_if_entire_document_valid = false;
    let invoices = syspro.post_ar_invoices(&posting).await?;
    let journals: Vec<(usize, syspro_client::bo::GlJournal)> = chunk
        .iter()
        .filter_map(|(i, p)| p.journal.as_ref().map(|j| (*i, convert::gl_journal(j))))
        .collect();
    let journal_results = if journals.is_empty() {
        None
    } else {
        let mut posting = GlJournalPosting::new(journals.iter().map(|(_, j)| j.clone()).collect());
        posting.parameters.validate_only = true;
        posting.parameters.apply_if_entire_document_valid = false;
        Some(syspro.post_gl_journal(&posting).await?)
    };
    for (n, (i, _)) in chunk.iter().enumerate() {
        let item = invoices.items.get(n);
        let invoice_errors: Vec<String> = item
            .map(|item| {
                item.messages
                    .errors
                    .iter()
                    .map(ToString::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let journal_errors: Vec<String> = journals
            .iter()
            .position(|(j, _)| j == i)
            .and_then(|pos| journal_results.as_ref().and_then(|r| r.journals.get(pos)))
            .map(|r| r.messages.errors.iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        let Some(verdict) = verdicts.get_mut(*i) else {
            continue;
        };
        if invoice_errors.is_empty() && journal_errors.is_empty() {
            verdict.ok = true;
            verdict.outcome = "would post (validated by SYSPRO)".to_owned();
        } else {
            let mut reasons = invoice_errors
                .into_iter()
                .map(|e| format!("ARSTIN {e}"))
                .collect::<Vec<_>>();
            reasons.extend(journal_errors.into_iter().map(|e| format!("GENTJL {e}")));
            verdict.outcome = format!("would halt: SYSPRO rejects it: {}", reasons.join("; "));
        }
    }
    Ok(())
}

/// Validates each sales order on its own: SORTOI stops a whole document at its first error, so
/// one call per order gives each its own verdict.
async fn validate_sales_orders(
    syspro: &SysproClient,
    chunk: &[(usize, PostingPlan)],
    verdicts: &mut [Verdict],
) -> anyhow::Result<()> {
    for (i, plan) in chunk {
        let Some(order) = convert::sales_order(plan) else {
            continue;
        };
        let mut import = SalesOrderImport::new(vec![order]);
        import.parameters = convert::sales_order_parameters();
        import.parameters.process = SalesOrderProcess::Validate;
        let result = syspro.import_sales_orders(&import).await?;
        let Some(verdict) = verdicts.get_mut(*i) else {
            continue;
        };
        if result.is_success() {
            verdict.ok = true;
            verdict.outcome = "would post (validated by SYSPRO)".to_owned();
        } else {
            let reasons: Vec<String> = result.errors().map(|e| format!("SORTOI {e}")).collect();
            let reasons = if reasons.is_empty() {
                "SORTOI validation failed".to_owned()
            } else {
                reasons.join("; ")
            };
            verdict.outcome = format!("would halt: SYSPRO rejects it: {reasons}");
        }
    }
    Ok(())
}

/// The documents a cycle would read, oldest change first.
async fn read_documents(
    c: &ConnectionConfig,
    vault: &dyn SecretStore,
    store: Option<&dyn StateStore>,
    kind: EntityKind,
) -> anyhow::Result<Vec<SourceDocument>> {
    let client = commerce_client(c, vault, false).await?;
    let name = connection_name(&c.name)?;
    let mut criteria = SearchCriteria::new();
    let mark = match store {
        Some(store) => store.watermark(&name, &StreamName::from(kind)).await?,
        None => None,
    };
    if let Some(mark) = mark {
        let overlap = time::Duration::try_from(c.overlap.get()).unwrap_or(time::Duration::ZERO);
        criteria = criteria.updated_since(mark - overlap);
    }
    let store_ids: Vec<u32> = c.commerce.stores.iter().map(|s| s.id).collect();
    let criteria = criteria
        .filter(Filter::in_list("store_id", store_ids.iter()))
        .sort_by("updated_at", SortDirection::Asc)
        .sort_by("entity_id", SortDirection::Asc)
        .page_size(c.commerce.page_size);
    let mut documents = Vec::new();
    match kind {
        EntityKind::Order => {
            let mut orders = client.orders().search(criteria).stream();
            while let Some(order) = orders.next().await {
                let order: Order = order?;
                documents.push(convert::order_document(c, &order)?);
            }
        }
        _ => {
            let mut invoices = client.invoices().search(criteria).stream();
            while let Some(invoice) = invoices.next().await {
                let invoice: Invoice = invoice?;
                let order_id = invoice
                    .order_id
                    .ok_or_else(|| anyhow::anyhow!("a Commerce invoice has no order_id"))?;
                let order = client.orders().get(order_id).send().await?;
                documents.push(convert::invoice_document(c, &invoice, &order)?);
            }
        }
    }
    Ok(documents)
}
