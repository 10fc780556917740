//! Commerce credit memos (refunds) as SYSPRO credit notes.
//!
//! A connection with `trigger = "invoice"` and `mapping.credit_memos.enabled` reads the credit memo
//! stream after the invoice stream. Each memo is stored with its order and the invoice it refunds,
//! then goes through the same pipeline as an invoice: mapped by [`crate::mapping::Mapper::
//! plan_credit_memo`] into an ARSTIN item with transaction type `C` and a reversing GENTJL journal,
//! posted in the same batches, reconciled the same way (the look-up asks for document type `C`).

use std::collections::HashMap;

use adobe_commerce_client::SearchCriteria;
use adobe_commerce_client::models::{CreditMemo, CreditMemoId, Invoice};
use futures::StreamExt;
use time::OffsetDateTime;

use super::convert;
use super::{Engine, EngineError, Fetched, PassEnd, PassProgress};
use crate::config::Trigger;
use crate::plan::CreditMemoDetails;
use crate::state::{EntityKind, Payload, Record};

impl Engine {
    /// Whether this connection reads and posts credit memos: they credit posted invoices, so only
    /// invoice-triggered connections do, and only when the mapping turns them on.
    pub(crate) fn credit_memos_enabled(&self) -> bool {
        let c = &self.inner.connection;
        c.trigger == Trigger::Invoice && c.mapping.credit_memos.enabled
    }

    /// The Commerce streams a cycle reads, in order: the posted documents first, so that mapping
    /// and posting start on the first page; then credit memos when enabled; customers last (their
    /// records wait for the end of reading anyway, and a document finds its customer by itself).
    pub(crate) fn streams(&self) -> Vec<EntityKind> {
        let mut kinds = self.posting_kinds();
        kinds.push(EntityKind::Customer);
        kinds
    }

    /// The record kinds that become SYSPRO postings.
    pub(crate) fn posting_kinds(&self) -> Vec<EntityKind> {
        let mut kinds = vec![self.document_kind()];
        if self.credit_memos_enabled() {
            kinds.push(EntityKind::CreditMemo);
        }
        kinds
    }

    /// What a credit memo record adds to its document; `None` for other records (and for a
    /// payload that does not decode, which [`Engine::plan_record`] reports on its own).
    pub(crate) fn credit_memo_details(&self, record: &Record) -> Option<CreditMemoDetails> {
        if record.key.kind != EntityKind::CreditMemo {
            return None;
        }
        let (memo, order, invoice) = convert::credit_memo_from_payload(&record.payload).ok()?;
        convert::credit_memo_document(&self.inner.connection, &memo, &order, invoice.as_ref())
            .ok()
            .map(|(_, details)| details)
    }

    /// Reads the credit memo stream with `criteria` and stores each memo with its order and
    /// invoice, noting each in `progress`, until the stream ends, a read fails or a shutdown
    /// begins: `stopping` before a memo is asked for, or `shutdown` ending while its page, or its
    /// order and invoice, are on their way (the memo is then left for later, as in `next_page`).
    /// Also returns where to read again when rows moved while paging (see
    /// `PageStream::moved_from`).
    pub(super) async fn read_credit_memos<F: Future<Output = ()>>(
        &self,
        criteria: SearchCriteria,
        summary: &mut super::CycleSummary,
        progress: &mut PassProgress,
        stopping: &impl Fn() -> bool,
        shutdown: &impl Fn() -> F,
    ) -> (Option<Option<OffsetDateTime>>, Result<PassEnd, EngineError>) {
        let mut items = self.inner.commerce.credit_memos().search(criteria).stream();
        let mut orders = HashMap::new();
        let mut invoices = HashMap::new();
        let end = async {
            loop {
                // Memos after the last one taken in are left for later; once the stream's last
                // page is read, its memos are taken in whole.
                if stopping() && items.stop_reason().is_none() {
                    return Ok(PassEnd::Stopped);
                }
                // A memo already read comes first, as does the end of the stream.
                let Some(next) = super::before_shutdown(items.next(), shutdown()).await else {
                    return Ok(PassEnd::Stopped);
                };
                let Some(memo) = next else {
                    return Ok(PassEnd::Read);
                };
                let memo = memo.map_err(|source| EngineError::Commerce {
                    operation: "creditmemos.search",
                    source,
                })?;
                // Nothing of the memo is stored yet: a shutdown while its order and invoice are
                // on their way leaves it for a later cycle.
                let with_context = self.with_context(memo, &mut orders, &mut invoices);
                let Some(fetched) = super::before_shutdown(with_context, shutdown()).await else {
                    return Ok(PassEnd::Stopped);
                };
                let fetched = fetched?;
                // Read one by one, each memo counts as a page: the first is all a pass cut short
                // vouches for.
                let at = self
                    .take_in(EntityKind::CreditMemo, fetched, summary)
                    .await?;
                progress.page_stored(at);
            }
        }
        .await;
        (items.moved_from(), end)
    }

    /// Reads one credit memo with its order and invoice (replay and webhooks).
    pub(super) async fn fetch_credit_memo(&self, id: u64) -> Result<Option<Fetched>, EngineError> {
        let memo = self
            .inner
            .commerce
            .credit_memos()
            .get(CreditMemoId(id))
            .send()
            .await;
        let memo = self.commerce_call("creditmemos.get", memo)?;
        let fetched = self
            .with_context(memo, &mut HashMap::new(), &mut HashMap::new())
            .await?;
        Ok(Some(fetched))
    }

    async fn with_context(
        &self,
        memo: CreditMemo,
        orders: &mut HashMap<u64, adobe_commerce_client::models::Order>,
        invoices: &mut HashMap<u64, Invoice>,
    ) -> Result<Fetched, EngineError> {
        let Some(order_id) = memo.order_id else {
            return Err(EngineError::Config {
                connection: self.inner.connection.name.clone(),
                field: "creditmemo.order_id".to_owned(),
                expected: "Commerce credit memos to name their order".to_owned(),
            });
        };
        let order = match orders.get(&order_id.get()) {
            Some(order) => order.clone(),
            None => {
                let order = self.inner.commerce.orders().get(order_id).send().await;
                let order = self.commerce_call("orders.get", order)?;
                orders.insert(order_id.get(), order.clone());
                order
            }
        };
        let invoice = match memo.invoice_id {
            Some(id) if id.get() > 0 => match invoices.get(&id.get()) {
                Some(invoice) => Some(invoice.clone()),
                None => {
                    let invoice = self.inner.commerce.invoices().get(id).send().await;
                    let invoice = self.commerce_call("invoices.get", invoice)?;
                    invoices.insert(id.get(), invoice.clone());
                    Some(invoice)
                }
            },
            _ => None,
        };
        Ok(Fetched::CreditMemo(
            Box::new(memo),
            Box::new(order),
            invoice.map(Box::new),
        ))
    }
}

/// Entity id, `updated_at`, the JSON the fingerprint covers (the memo only: later changes of its
/// order or invoice are not new versions of the refund) and the payload to store.
pub(super) fn parts(
    memo: &CreditMemo,
    order: &adobe_commerce_client::models::Order,
    invoice: Option<&Invoice>,
) -> Option<(String, OffsetDateTime, Option<Payload>, Payload)> {
    let id = memo.entity_id?.get();
    let at = convert::updated_at_of("credit memo", id, memo.updated_at, memo.created_at).ok()?;
    Some((
        id.to_string(),
        at,
        Some(Payload::rendered(memo)),
        Payload::from(convert::credit_memo_payload(memo, order, invoice)),
    ))
}
