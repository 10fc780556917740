//! Posting for the `sales_order` target: claimed records become SORTOI sales orders, one SORTOI
//! document per batch.
//!
//! # Exactly once
//!
//! An order's `CustomerPoNumber` is deterministic (the invoice number template) and every import
//! is sent with `AllowDuplicateOrderNumbers=N`, so SYSPRO itself refuses a second order with the
//! same customer and number. On top of that, nothing whose earlier attempt may have reached SYSPRO
//! is sent before SYSPRO is asked (COMFND on `SorMaster` by customer and customer PO number):
//! records left in `posting` (reconciled at the start of a cycle), records retried after a lost
//! answer, and orders whose answer is lost or that SYSPRO calls duplicates. An order SYSPRO holds
//! is marked posted with its number, never sent again.
//!
//! # Outcomes
//!
//! `Process=Import` imports a document only when none of its orders has an error. When one order
//! is refused, SYSPRO returns every order with an empty number: the refused ones halt with SYSPRO's
//! message, and the others are sent again in a document of their own. A clean import may not name
//! the created orders' numbers; they are then looked up by customer PO number for the audit trail.

use std::future::Future;
use std::pin::Pin;

use adobe_commerce_client::models::OrderState;
use serde_json::{Value, json};
use syspro_client::bo;

use super::convert;
use super::posting::NOT_SENT;
use super::writes::{Outgoing, Pending, SentEntry, sent_of};
use super::{Engine, EngineError, EngineEvent, error_chain};
use crate::audit::AuditKind;
use crate::config::PostingTarget;
use crate::mapping::ReferenceData;
use crate::plan::PostingPlan;
use crate::state::{EntityKind, Record};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What SYSPRO did with one order of a SORTOI document.
#[derive(Debug, Clone)]
enum OrderDelivery {
    /// Imported; the number when SYSPRO's answer or a look-up gave it.
    Accepted {
        sales_order: Option<String>,
        answer: Value,
    },
    /// Refused, with SYSPRO's message.
    Rejected(String, Value),
    /// Nothing was imported; the order may be sent again.
    Transient(String),
    /// The order may or may not have been imported.
    Unknown(String),
    /// Not sent (see [`Engine::send_fenced`]), with why.
    NotSent(String),
}

/// One claimed record ready to be sent.
struct Ready {
    record: Record,
    plan: PostingPlan,
    order: bo::SalesOrder,
}

fn messages_text<'a>(errors: impl Iterator<Item = &'a bo::FieldError>) -> String {
    errors
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn is_too_large(error: &syspro_client::Error) -> bool {
    match error {
        syspro_client::Error::Status { status, .. } => matches!(status, 413 | 414),
        syspro_client::Error::Rejected { message, .. } => {
            let m = message.to_lowercase();
            m.contains("too large") || m.contains("too long") || m.contains("maximum size")
        }
        _ => false,
    }
}

fn same(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// The `<Order>` block SYSPRO returned for `order` (by customer PO number, else by position when
/// every block names none).
fn block_of<'r>(
    result: &'r bo::SalesOrderImportResult,
    order: &bo::SalesOrder,
    index: usize,
) -> Option<&'r bo::SalesOrderResult> {
    result
        .orders
        .iter()
        .find(|o| {
            o.customer_po_number
                .as_deref()
                .is_some_and(|po| same(po, &order.customer_po_number))
        })
        .or_else(|| {
            result
                .orders
                .iter()
                .all(|o| o.customer_po_number.is_none())
                .then(|| result.orders.get(index))
                .flatten()
        })
}

impl Engine {
    /// Whether this connection posts SORTOI sales orders instead of AR invoices.
    pub(crate) fn posts_sales_orders(&self) -> bool {
        self.inner.connection.target == PostingTarget::SalesOrder
    }

    /// Posts one claimed batch as one SORTOI document and settles each order.
    pub(crate) async fn post_sales_order_batch(
        &self,
        records: Vec<Record>,
        reference: &ReferenceData,
        summary: &mut super::CycleSummary,
    ) -> Result<(), EngineError> {
        let mut ready: Vec<Ready> = Vec::new();
        for record in records {
            // A sales order is for goods to ship: an order cancelled in Commerce gets none.
            if record.key.kind == EntityKind::Order
                && convert::order_from_payload(&record.payload)
                    .is_ok_and(|o| o.state == Some(OrderState::Canceled))
            {
                self.inner.plans.forget(&record.key);
                self.halt(
                    &record,
                    format!(
                        "Commerce order {} is cancelled; no sales order is created for it",
                        record.key.commerce_id
                    ),
                    summary,
                )
                .await?;
                continue;
            }
            let Some((plan, order)) = self.plan_sales_order(&record, reference, summary).await?
            else {
                continue;
            };
            // A retry may follow an attempt whose answer was lost: SYSPRO is asked first.
            if record.attempts > 1 {
                match self
                    .sales_order_in_syspro(&order.customer, &order.customer_po_number)
                    .await
                {
                    Ok(Some(number)) => {
                        self.audit(
                            &record.key,
                            AuditKind::Decided,
                            format!(
                                "SYSPRO already holds sales order {number} for customer PO {}; not sent again",
                                order.customer_po_number
                            ),
                            None,
                        )
                        .await?;
                        self.mark_posted(
                            &record,
                            &plan,
                            &format!("sales order {number} posted"),
                            summary,
                        )
                        .await?;
                        continue;
                    }
                    Ok(None) => {}
                    Err(lookup) => {
                        self.retry_later(&record, lookup, summary).await?;
                        continue;
                    }
                }
            }
            ready.push(Ready {
                record,
                plan,
                order,
            });
        }
        if ready.is_empty() {
            return Ok(());
        }
        let mut sent = Pending::default();
        for r in &ready {
            self.stage_audit(
                &mut sent,
                &r.record.key,
                AuditKind::Sent,
                format!(
                    "SORTOI sales order for customer PO {} (batch of {})",
                    r.order.customer_po_number,
                    ready.len()
                ),
                serde_json::to_value(&r.order).ok(),
            );
        }
        let orders: Vec<bo::SalesOrder> = ready.iter().map(|r| r.order.clone()).collect();
        // What is about to be sent is made durable just before it is sent (see `send_fenced`).
        let deliveries = self
            .import_orders(&orders, Outgoing::First(&mut sent))
            .await;

        // Every answer is settled and recorded before any record moves, so a crash in between
        // leaves a readable trail for the reconciliation at the next start.
        let mut settled = Vec::with_capacity(ready.len());
        for (r, delivery) in ready.into_iter().zip(deliveries) {
            let delivery = self.settle(&r, delivery).await;
            let po = &r.order.customer_po_number;
            let (kind, message, answer) = match &delivery {
                OrderDelivery::Accepted {
                    sales_order,
                    answer,
                } => (
                    AuditKind::Answered,
                    match sales_order {
                        Some(number) => {
                            format!("SORTOI accepted customer PO {po}: sales order {number}")
                        }
                        None => format!(
                            "SORTOI accepted customer PO {po}; SYSPRO named no sales order number"
                        ),
                    },
                    Some(answer.clone()),
                ),
                OrderDelivery::Rejected(message, answer) => (
                    AuditKind::Answered,
                    format!("SORTOI rejected customer PO {po}: {message}"),
                    Some(answer.clone()),
                ),
                OrderDelivery::Transient(message) => (
                    AuditKind::Answered,
                    format!("SORTOI did not take customer PO {po}: {message}"),
                    None,
                ),
                OrderDelivery::Unknown(message) => (
                    AuditKind::Decided,
                    format!(
                        "outcome of sales order for customer PO {po} unknown ({message}); left for reconciliation"
                    ),
                    None,
                ),
                OrderDelivery::NotSent(message) => (
                    AuditKind::Decided,
                    format!("sales order for customer PO {po} {NOT_SENT}: {message}"),
                    None,
                ),
            };
            self.audit(&r.record.key, kind, message, answer).await?;
            settled.push((r, delivery));
        }
        for (r, delivery) in settled {
            let po = &r.order.customer_po_number;
            match delivery {
                OrderDelivery::Accepted { sales_order, .. } => {
                    let message = match sales_order {
                        Some(number) => format!("sales order {number} posted"),
                        None => format!("sales order for customer PO {po} posted"),
                    };
                    self.mark_posted(&r.record, &r.plan, &message, summary)
                        .await?;
                }
                OrderDelivery::Rejected(message, _) => {
                    self.halt(
                        &r.record,
                        format!("SYSPRO rejected sales order for customer PO {po}: {message}"),
                        summary,
                    )
                    .await?;
                }
                OrderDelivery::Transient(message) => {
                    self.retry_later(&r.record, message, summary).await?;
                }
                OrderDelivery::Unknown(message) => summary.errors.push((
                    r.record.key.kind,
                    format!(
                        "sales order for customer PO {po}: outcome unknown ({message}); left for reconciliation"
                    ),
                )),
                OrderDelivery::NotSent(message) => summary.errors.push((
                    r.record.key.kind,
                    format!("sales order for customer PO {po} {NOT_SENT}: {message}"),
                )),
            }
        }
        Ok(())
    }

    /// Plans a claimed record and builds its SORTOI order; halts or postpones the record (and
    /// returns `None`) when that is not possible.
    async fn plan_sales_order(
        &self,
        record: &Record,
        reference: &ReferenceData,
        summary: &mut super::CycleSummary,
    ) -> Result<Option<(PostingPlan, bo::SalesOrder)>, EngineError> {
        let plan = match self
            .plan_claimed(record, reference, &mut summary.customers_created)
            .await?
        {
            super::posting::Planned::Ready(plan) => *plan,
            super::posting::Planned::Halt(reason) => {
                self.halt(record, reason, summary).await?;
                return Ok(None);
            }
            super::posting::Planned::Transient(reason) => {
                self.retry_later(record, reason, summary).await?;
                return Ok(None);
            }
        };
        match convert::sales_order(&plan) {
            Some(order) => Ok(Some((plan, order))),
            None => {
                let reason = if plan.sales_order.is_none() {
                    "the connection posts sales orders (target = \"sales_order\"), but the mapper planned none for this document"
                } else {
                    "the plan has no SYSPRO customer"
                };
                self.halt(record, reason.to_owned(), summary).await?;
                Ok(None)
            }
        }
    }

    /// Turns an unclear answer into a clear one by asking SYSPRO, and finds the number of an order
    /// imported without one.
    async fn settle(&self, r: &Ready, delivery: OrderDelivery) -> OrderDelivery {
        let order = &r.order;
        let lookup = || self.sales_order_in_syspro(&order.customer, &order.customer_po_number);
        match delivery {
            OrderDelivery::Accepted {
                sales_order: None,
                answer,
            } => OrderDelivery::Accepted {
                sales_order: lookup().await.ok().flatten(),
                answer,
            },
            // Imported by an earlier attempt whose answer was lost: confirm, never send again.
            OrderDelivery::Rejected(message, answer)
                if message.to_lowercase().contains("already exists") =>
            {
                match lookup().await {
                    Ok(Some(number)) => OrderDelivery::Accepted {
                        sales_order: Some(number),
                        answer,
                    },
                    Ok(None) => OrderDelivery::Rejected(message, answer),
                    Err(lookup) => OrderDelivery::Unknown(format!("{message}; {lookup}")),
                }
            }
            OrderDelivery::Unknown(message) => match lookup().await {
                Ok(found) => {
                    self.emit(EngineEvent::Reconciled {
                        key: r.record.key.clone(),
                        invoice_found: found.is_some(),
                    });
                    match found {
                        Some(number) => OrderDelivery::Accepted {
                            sales_order: Some(number),
                            answer: Value::Null,
                        },
                        // Not yet, perhaps: SYSPRO may still be importing it. The record stays
                        // in `posting`, looked up again once it can no longer be.
                        None => OrderDelivery::Unknown(format!(
                            "the answer was lost ({message}) and SYSPRO holds no order for customer PO {} yet",
                            order.customer_po_number
                        )),
                    }
                }
                Err(lookup) => OrderDelivery::Unknown(format!("{message}; {lookup}")),
            },
            other => other,
        }
    }

    /// Imports `orders` with SORTOI; one delivery per order, in order. A document SYSPRO refuses
    /// as too large is split; orders that were not imported only because another order of the
    /// document was refused are sent again without it. `outgoing` is written before the send (see
    /// [`Engine::send_fenced`]).
    fn import_orders<'a>(
        &'a self,
        orders: &'a [bo::SalesOrder],
        outgoing: Outgoing<'a>,
    ) -> BoxFuture<'a, Vec<OrderDelivery>> {
        Box::pin(async move {
            let import = bo::SalesOrderImport {
                parameters: convert::sales_order_parameters(),
                orders: orders.to_vec(),
            };
            let sent = outgoing.sent();
            let answer = match self
                .send_fenced(outgoing, || self.inner.syspro.import_sales_orders(&import))
                .await
            {
                Ok(Ok(answer)) => answer,
                Ok(Err(reason)) => return vec![OrderDelivery::NotSent(reason); orders.len()],
                // The store failed: the batch's next writes (each answer's audit entry) fail the
                // cycle too.
                Err(e) => {
                    let reason = format!(
                        "the audit trail could not be written before the send: {}",
                        error_chain(&e)
                    );
                    return vec![OrderDelivery::NotSent(reason); orders.len()];
                }
            };
            let result = match answer {
                Err(e) if is_too_large(&e) && orders.len() > 1 => {
                    self.syspro_call::<()>("SORTOI", Err(e)).ok();
                    self.emit(EngineEvent::BatchSplit {
                        business_object: "SORTOI",
                        items: orders.len(),
                    });
                    return self.one_by_one(orders, &sent, orders.len() / 2).await;
                }
                Err(e) => {
                    let delivery = if e.is_outcome_unknown() {
                        OrderDelivery::Unknown(e.to_string())
                    } else if super::worth_retrying(&e) {
                        OrderDelivery::Transient(e.to_string())
                    } else if orders.len() > 1 {
                        // Refused before or by SYSPRO without naming an order: each order is
                        // sent on its own, so only the one at fault is refused.
                        self.syspro_call::<()>("SORTOI", Err(e)).ok();
                        return self.one_by_one(orders, &sent, 1).await;
                    } else {
                        OrderDelivery::Rejected(e.to_string(), Value::Null)
                    };
                    self.syspro_call::<()>("SORTOI", Err(e)).ok();
                    return vec![delivery; orders.len()];
                }
                Ok(result) => {
                    self.syspro_call::<()>("SORTOI", Ok(())).ok();
                    result
                }
            };
            let whole = serde_json::to_value(&result).unwrap_or(Value::Null);
            if result.is_success() {
                return orders
                    .iter()
                    .enumerate()
                    .map(|(index, order)| {
                        let block = block_of(&result, order, index);
                        OrderDelivery::Accepted {
                            sales_order: block
                                .and_then(|b| b.sales_order.clone())
                                .filter(|n| !n.trim().is_empty()),
                            answer: block
                                .and_then(|b| serde_json::to_value(b).ok())
                                .unwrap_or_else(|| whole.clone()),
                        }
                    })
                    .collect();
            }
            // Nothing was imported. Orders with errors of their own are refused; the others are
            // sent again without them.
            let mut out: Vec<Option<OrderDelivery>> = orders
                .iter()
                .enumerate()
                .map(|(index, order)| {
                    let block = block_of(&result, order, index)?;
                    if block.messages.errors.is_empty() {
                        return None;
                    }
                    Some(OrderDelivery::Rejected(
                        messages_text(block.messages.errors.iter()),
                        serde_json::to_value(block).unwrap_or(Value::Null),
                    ))
                })
                .collect();
            let innocent: Vec<usize> = (0..orders.len()).filter(|i| out[*i].is_none()).collect();
            if innocent.len() == orders.len() {
                // No order is named: the reason is in the document's own messages or warnings.
                if orders.len() > 1 {
                    return self.one_by_one(orders, &sent, 1).await;
                }
                let reason = messages_text(result.errors());
                let reason = if reason.is_empty() {
                    result.warnings().collect::<Vec<_>>().join("; ")
                } else {
                    reason
                };
                let delivery = if reason.is_empty() {
                    OrderDelivery::Unknown("SYSPRO imported nothing and gave no reason".to_owned())
                } else {
                    OrderDelivery::Rejected(reason, whole)
                };
                return vec![delivery];
            }
            if !innocent.is_empty() {
                let again: Vec<bo::SalesOrder> =
                    innocent.iter().map(|i| orders[*i].clone()).collect();
                let sent_again = sent_of(&sent, orders.len(), innocent.iter().copied());
                let answers = self
                    .import_orders(&again, Outgoing::Part(&sent_again))
                    .await;
                for (i, delivery) in innocent.into_iter().zip(answers) {
                    out[i] = Some(delivery);
                }
            }
            out.into_iter()
                .map(|d| {
                    d.unwrap_or_else(|| {
                        OrderDelivery::Unknown(
                            "SYSPRO's answer has no result for this order".into(),
                        )
                    })
                })
                .collect()
        })
    }

    /// Imports `orders` (whose records and `sent` messages are `sent`, in order) in documents of
    /// at most `chunk` orders.
    async fn one_by_one(
        &self,
        orders: &[bo::SalesOrder],
        sent: &[SentEntry],
        chunk: usize,
    ) -> Vec<OrderDelivery> {
        let chunk = chunk.max(1);
        let mut out = Vec::with_capacity(orders.len());
        for (index, part) in orders.chunks(chunk).enumerate() {
            let from = index * chunk;
            let sent_part = sent_of(sent, orders.len(), from..from + part.len());
            out.extend(self.import_orders(part, Outgoing::Part(&sent_part)).await);
        }
        out
    }

    /// The number of the sales order SYSPRO holds for a customer and customer PO number (COMFND on
    /// `SorMaster`); the error text when the look-up failed.
    async fn sales_order_in_syspro(
        &self,
        customer: &str,
        customer_po_number: &str,
    ) -> Result<Option<String>, String> {
        let query = bo::ComFind::new("SorMaster")
            .columns(["SalesOrder", "Customer", "CustomerPoNumber"])
            .filter(bo::Where::eq("Customer", customer).and(
                "CustomerPoNumber",
                bo::Condition::Eq,
                customer_po_number,
            ))
            .return_rows(10);
        let found = self.on_session(|s| s.find(&query)).await;
        self.syspro_call("COMFND", found)
            .map(|result| {
                result
                    .rows
                    .iter()
                    .find(|row| {
                        row.get("CustomerPoNumber")
                            .is_some_and(|po| same(po, customer_po_number))
                            && row.get("Customer").is_none_or(|c| same(c, customer))
                    })
                    .and_then(|row| row.non_empty("SalesOrder"))
                    .map(|n| n.trim().to_owned())
            })
            .map_err(|e| {
                format!(
                    "looking up the sales order for customer PO {customer_po_number} failed: {}",
                    error_chain(&e)
                )
            })
    }

    /// Looks up every record left in `posting` in SYSPRO before anything is sent again: an order
    /// SYSPRO holds is marked posted with its number; one it does not hold is made due at once.
    pub(crate) async fn reconcile_stale_sales_orders(
        &self,
        reference: &ReferenceData,
        summary: &mut super::CycleSummary,
    ) -> Result<(), EngineError> {
        let now = self.inner.clock.now();
        let stale = self
            .inner
            .store
            .stale_posting(&self.inner.name, now)
            .await?;
        for record in stale {
            let Some(unanswered) = self.to_reconcile(&record, now).await? else {
                continue;
            };
            summary.reconciled += 1;
            let Some((plan, order)) = self.plan_sales_order(&record, reference, summary).await?
            else {
                continue;
            };
            let po = &order.customer_po_number;
            let found = match self.sales_order_in_syspro(&order.customer, po).await {
                Ok(found) => found,
                Err(lookup) => {
                    self.audit(
                        &record.key,
                        AuditKind::Decided,
                        format!("reconciliation postponed: {lookup}"),
                        None,
                    )
                    .await?;
                    summary.errors.push((record.key.kind, lookup));
                    continue;
                }
            };
            self.emit(EngineEvent::Reconciled {
                key: record.key.clone(),
                invoice_found: found.is_some(),
            });
            match found {
                Some(number) => {
                    self.audit(
                        &record.key,
                        AuditKind::Decided,
                        format!(
                            "reconciled: SYSPRO holds sales order {number} for customer PO {po}; not sent again"
                        ),
                        None,
                    )
                    .await?;
                    self.mark_posted(
                        &record,
                        &plan,
                        &format!("reconciled: sales order {number} found"),
                        summary,
                    )
                    .await?;
                }
                None => {
                    self.audit(
                        &record.key,
                        AuditKind::Decided,
                        format!(
                            "reconciled: SYSPRO holds no sales order for customer PO {po}; posting it again"
                        ),
                        None,
                    )
                    .await?;
                    self.repost_after_reconciling(
                        &record,
                        unanswered,
                        format!(
                            "interrupted posting; SYSPRO holds no sales order for customer PO {po}"
                        ),
                        summary,
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }

    /// The audit rendering of a sales-order plan: the SORTOI order that will be sent and the
    /// figures that prove its value.
    pub(crate) fn rendered_sales_order(plan: &PostingPlan) -> Option<Value> {
        let so = plan.sales_order.as_ref()?;
        Some(json!({
            "customer_po_number": so.customer_po_number,
            "order": convert::sales_order(plan),
            "lines": so.lines.iter().map(|l| json!({
                "customer_po_line": l.customer_po_line,
                "item_id": l.item_id,
                "sku": l.sku,
                "stock_code": l.stock_code,
                "quantity": l.quantity.to_string(),
                "price": l.price.to_string(),
                "value": l.value.to_string(),
                "discount": l.discount.to_string(),
            })).collect::<Vec<_>>(),
            "value": so.value().to_string(),
            "commerce_tax": so.commerce_tax.to_string(),
            "rounding": plan.rounding.to_string(),
            "grand_total": plan.ar_invoice.invoice_value.to_string(),
        }))
    }
}
