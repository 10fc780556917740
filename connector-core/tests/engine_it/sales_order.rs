//! The `sales_order` target against the simulators: orders land as SORTOI sales orders with the
//! right lines and values, guests on the cash customer, an unmapped SKU halts until the mapping is
//! fixed, a lost SORTOI answer or an interrupted posting never makes a second order, and SYSPRO's
//! refusals halt with SYSPRO's message.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use connector_core::audit::{AuditKind, AuditLog, NewAuditEntry};
use connector_core::clock::Clock;
use connector_core::config::{ConnectionConfig, PostingTarget};
use connector_core::engine::{CallOutcome, Engine};
use connector_core::state::{
    EntityKind, Intake, MemoryStore, Record, RecordState, StateStore, Target, Transition,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use simulators::syspro::SysproFaults;

use crate::support::*;

/// The catalogue's SKU prefixes that are SYSPRO stock codes as they are (`CLR-` is left out).
const STOCKED: [&str; 4] = ["AP-", "HW-", "GR-", "SV-"];

fn selling(connection: &mut ConnectionConfig) {
    connection.target = PostingTarget::SalesOrder;
    connection.mapping.sales_orders.stock_code_prefixes =
        STOCKED.iter().map(|p| (*p).to_owned()).collect();
    connection.mapping.sales_orders.warehouse = Some("FG".to_owned());
}

/// An engine posting sales orders; `edit` adjusts the connection further.
async fn engine_for<S>(
    h: &Harness,
    setup: &Setup,
    store: Arc<S>,
    edit: impl FnOnce(&mut ConnectionConfig),
) -> Engine
where
    S: StateStore + AuditLog + 'static,
{
    h.engine_edited(setup, store, |c| {
        selling(c);
        edit(c);
    })
    .await
}

/// Sales orders in the simulated SYSPRO by customer PO number; a PO number used twice fails.
async fn sales_orders(h: &Harness) -> BTreeMap<String, Value> {
    let url = format!("{}/__sim/sales-orders", h.sims.syspro.base_url());
    let response = h.http.get(&url).send().await.expect("inspection call");
    assert!(response.status().is_success(), "{url}");
    let all: Value = response.json().await.expect("inspection JSON");
    let mut out = BTreeMap::new();
    for order in all.as_array().expect("sales order list") {
        let po = order["customer_po_number"].as_str().unwrap().to_owned();
        assert!(
            out.insert(po.clone(), order.clone()).is_none(),
            "customer PO {po} has two sales orders"
        );
    }
    out
}

/// The customer PO number the test mapping gives an order: store prefix plus increment id.
fn po_number(order: &Value) -> String {
    let prefix = match order["store_id"].as_u64() {
        Some(1) => "W",
        Some(2) => "M",
        _ => "B",
    };
    format!("{prefix}{}", order["increment_id"].as_str().unwrap())
}

/// The value SYSPRO extends from a sales order's lines (quantity times price, to the cent) plus
/// its freight.
fn order_value(order: &Value) -> Decimal {
    let lines: Decimal = order["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let qty: Decimal = l["order_qty"].as_str().unwrap().parse().unwrap();
            let price: Decimal = l["price"].as_str().unwrap().parse().unwrap();
            connector_core::plan::to_cents(qty * price)
        })
        .sum();
    lines + money(&order["freight_value"])
}

fn guests_only(orders: usize) -> simulators::commerce::CommerceSimConfig {
    let mut shop = shop(orders);
    shop.guest_share = 1.0;
    shop
}

/// Each posted record has one sales order for its Commerce order: the record's customer, stock
/// lines on mapped stock codes, and a value that with Commerce's tax makes the grand total
/// (within the rounding tolerance), whose number the audit trail names.
async fn assert_orders_landed(h: &Harness, store: &MemoryStore, posted: &[Record]) {
    let in_syspro = sales_orders(h).await;
    let commerce = h.commerce_orders().await;
    assert_eq!(in_syspro.len(), posted.len(), "one sales order per record");
    for record in posted {
        let order = commerce
            .iter()
            .find(|o| o["entity_id"].as_u64() == record.key.commerce_id.parse().ok())
            .expect("the Commerce order");
        let po = po_number(order);
        let so = in_syspro
            .get(&po)
            .unwrap_or_else(|| panic!("no sales order for customer PO {po}"));
        assert_eq!(
            so["customer"].as_str(),
            record.syspro.customer.as_deref(),
            "{po}"
        );
        assert!(record.syspro.invoice.is_none(), "no AR invoice for {po}");
        let lines = so["lines"].as_array().unwrap();
        assert!(!lines.is_empty(), "{po} has stock lines");
        for line in lines {
            let code = line["stock_code"].as_str().unwrap();
            assert!(STOCKED.iter().any(|p| code.starts_with(p)), "{code}");
            assert_eq!(line["warehouse"], json!("FG"));
            assert_eq!(line["order_uom"], json!("EA"));
        }
        let grand = money(&order["grand_total"]);
        let tax = money(&order["tax_amount"]);
        let gap = grand - tax - order_value(so);
        assert!(
            gap.abs() <= Decimal::new(5, 2),
            "{po}: value {} + tax {tax} vs grand total {grand}",
            order_value(so)
        );
        let number = so["sales_order"].as_str().unwrap();
        let answered = audit_messages(store, &record.key, Some(AuditKind::Answered)).await;
        assert!(
            answered
                .iter()
                .any(|m| m.contains(&format!("sales order {number}"))),
            "{po}: {answered:?}"
        );
    }
    assert!(h.ledger_invoices().await.is_empty(), "no AR invoices");
    assert!(h.ledger_journals().await.is_empty(), "no GL journals");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_land_as_sales_orders_with_their_lines_and_values() {
    let h = Harness::start(shop(8)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = engine_for(&h, &Setup::default(), store.clone(), |_| {}).await;
    let summary = engine.run_cycle().await.expect("cycle");
    let orders = h.commerce_orders().await;
    let cancelled: Vec<String> = orders
        .iter()
        .filter(|o| o["state"] == json!("canceled"))
        .map(|o| o["entity_id"].to_string())
        .collect();
    // Only orders cancelled in Commerce halt, and they say why.
    let halted = in_state(&*store, EntityKind::Order, RecordState::Halted).await;
    assert_eq!(halted.len(), cancelled.len(), "{:?}", summary.halted);
    for record in &halted {
        assert!(cancelled.contains(&record.key.commerce_id));
        assert!(
            record
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("is cancelled; no sales order")),
            "{:?}",
            record.reason
        );
    }
    let posted = in_state(&*store, EntityKind::Order, RecordState::Posted).await;
    assert_eq!(
        posted.len() + halted.len(),
        orders.len(),
        "{:?}",
        not_posted(&*store, EntityKind::Order).await
    );
    assert!(!posted.is_empty());
    assert_orders_landed(&h, &store, &posted).await;

    // A second cycle sends nothing again.
    let again = engine.run_cycle().await.expect("second cycle");
    assert_eq!(again.posted, 0, "{again:?}");
    assert_eq!(sales_orders(&h).await.len(), posted.len());
    h.sims.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_order_goes_to_the_cash_customer_with_the_buyer_s_address() {
    let h = Harness::start(guests_only(0)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = engine_for(&h, &Setup::default(), store.clone(), |_| {}).await;
    engine.run_cycle().await.expect("first cycle");
    h.sim_post("orders", json!({"store": "web", "guest": true}))
        .await;
    let summary = engine.run_cycle().await.expect("cycle");
    assert!(summary.halted.is_empty(), "{:?}", summary.halted);
    let posted = in_state(&*store, EntityKind::Order, RecordState::Posted).await;
    assert_eq!(posted.len(), 1);
    assert_orders_landed(&h, &store, &posted).await;
    let order = &h.commerce_orders().await[0];
    let so = &sales_orders(&h).await[&po_number(order)];
    assert_eq!(so["customer"], json!("WEBCASH"));
    let billing = &order["billing_address"];
    let name = format!(
        "{} {}",
        order["customer_firstname"]
            .as_str()
            .or(billing["firstname"].as_str())
            .unwrap_or_default(),
        order["customer_lastname"]
            .as_str()
            .or(billing["lastname"].as_str())
            .unwrap_or_default()
    );
    assert_eq!(so["customer_name"].as_str(), Some(name.trim()));
    let shipping =
        order["extension_attributes"]["shipping_assignments"][0]["shipping"]["address"].clone();
    if shipping.is_object() {
        let street = shipping["street"][0].as_str().unwrap();
        assert_eq!(so["ship_address"][0].as_str(), Some(street), "{so}");
        assert_eq!(so["ship_postal_code"], shipping["postcode"]);
    }
    h.sims.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmapped_sku_halts_and_posts_after_a_mapping_fix_and_replay() {
    let h = Harness::start(guests_only(0)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = engine_for(&h, &Setup::default(), store.clone(), |_| {}).await;
    engine.run_cycle().await.expect("first cycle");
    h.sim_post(
        "orders",
        json!({"store": "web", "guest": true, "unmapped_sku": true}),
    )
    .await;
    h.sim_post("orders", json!({"store": "web", "guest": true}))
        .await;
    let summary = engine.run_cycle().await.expect("cycle");
    assert_eq!(summary.halted.len(), 1, "{summary:?}");
    let (_, reason) = &summary.halted[0];
    assert!(
        reason.contains("no SYSPRO stock code for SKU \"CLR-")
            && reason.contains("mapping.sales_orders.stock_codes"),
        "{reason}"
    );
    assert_eq!(sales_orders(&h).await.len(), 1, "the other order is posted");

    // The SKU gets a stock code; a replay posts the order.
    let fixed = engine_for(&h, &Setup::default(), store.clone(), |c| {
        let so = &mut c.mapping.sales_orders;
        so.stock_codes
            .insert("CLR-MUG-01".into(), "HW-MUG-CLR".into());
        so.stock_code_prefixes.push("CLR-".into());
    })
    .await;
    let replayed = fixed.replay_halted(false, false).await.expect("replay");
    assert!(replayed.halted.is_empty(), "{replayed:?}");
    let posted = in_state(&*store, EntityKind::Order, RecordState::Posted).await;
    assert_eq!(posted.len(), 2);
    let in_syspro = sales_orders(&h).await;
    assert_eq!(in_syspro.len(), 2);
    assert!(
        in_syspro.values().any(|so| so["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["stock_code"].as_str().unwrap().starts_with("CLR-")
                || l["stock_code"] == json!("HW-MUG-CLR"))),
        "{in_syspro:?}"
    );
    h.sims.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_sortoi_answer_is_looked_up_and_never_makes_a_second_order() {
    let h = Harness::start(guests_only(0)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = engine_for(&h, &Setup::default(), store.clone(), |_| {}).await;
    engine.run_cycle().await.expect("first cycle");
    for _ in 0..3 {
        h.sim_post("orders", json!({"store": "web", "guest": true}))
            .await;
    }
    // Guests: no customer is created, so the cycle's one post is SORTOI, and it loses its answer
    // after the orders were imported.
    h.sims.syspro.set_faults(SysproFaults {
        lose_answer_next: 1,
        ..SysproFaults::default()
    });
    let summary = engine.run_cycle().await.expect("cycle");
    assert!(summary.halted.is_empty(), "{:?}", summary.halted);
    let posted = in_state(&*store, EntityKind::Order, RecordState::Posted).await;
    assert_eq!(
        posted.len(),
        3,
        "{summary:?} {:?}",
        not_posted(&*store, EntityKind::Order).await
    );
    let calls = engine.metrics().calls;
    assert!(
        calls.iter().any(|((_, op, outcome), n)| *op == "SORTOI"
            && *outcome == CallOutcome::OutcomeUnknown
            && *n > 0),
        "the SORTOI answer was lost: {calls:?}"
    );
    // `sales_orders` fails on a customer PO number imported twice.
    assert_orders_landed(&h, &store, &posted).await;
    let again = engine.run_cycle().await.expect("second cycle");
    assert_eq!(again.posted, 0);
    assert_eq!(sales_orders(&h).await.len(), 3);
    h.sims.shutdown().await;
}

/// A worker held up past its lease between claiming orders and importing them imports nothing:
/// the orders stay in `posting` until the worker holds the lease again, and then land once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_held_up_past_its_lease_imports_nothing() {
    use std::sync::atomic::Ordering::SeqCst;
    let h = Harness::start(guests_only(3)).await;
    let store = Arc::new(HookedStore {
        inner: MemoryStore::new(Arc::new(h.clock.clone())),
        hooks: StalledBeforeTheSend::new("SORTOI sales order", &h.clock),
    });
    let (_engine, stop, running) = a_minute_run_loop(&h, &store, selling).await;
    assert!(store.hooks.stalled.load(SeqCst), "held up");
    assert!(sales_orders(&h).await.is_empty(), "nothing imported");
    assert_left_unsent_for_the_lease(&store.inner, 3, "SORTOI").await;
    store.hooks.lease.taken.store(false, SeqCst);
    let posted = orders_posted_as_the_clock_moves(&h, &store.inner, 3).await;
    assert!(posted, "imported once the lease is back");
    let posted = in_state(&store.inner, EntityKind::Order, RecordState::Posted).await;
    assert_orders_landed(&h, &store.inner, &posted).await;
    stop_run_loop(&stop, running).await;
    h.sims.shutdown().await;
}

/// A batch that waits for the SYSPRO session while the batch before it is on it (SYSPRO takes 2 s
/// a call) gets a second `sent` entry when it goes: a record whose answer never came is looked up
/// only a while after its document went, not after it joined the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_waited_for_the_session_notes_when_it_went() {
    let h = Harness::start(guests_only(0)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = engine_for(&h, &Setup::default(), store.clone(), |_| {}).await;
    engine.run_cycle().await.expect("first cycle");
    for _ in 0..8 {
        h.sim_post("orders", json!({"store": "web", "guest": true}))
            .await;
    }
    h.sims.syspro.set_faults(SysproFaults {
        latency_ms: 2_000,
        ..SysproFaults::default()
    });
    let summary = engine.run_cycle().await.expect("cycle");
    assert_eq!(summary.posted, 8, "{summary:?}");
    let posted = in_state(&*store, EntityKind::Order, RecordState::Posted).await;
    let mut noted = 0;
    for record in &posted {
        let sent = audit_messages(&*store, &record.key, Some(AuditKind::Sent)).await;
        if sent.iter().any(|m| m.contains("goes now, after")) {
            noted += 1;
        }
    }
    // Batches of four: those after the first waited for the call before them; the first, the
    // cycle's first SYSPRO call, did not.
    assert!(
        (4..8).contains(&noted),
        "{noted} records' documents waited for the session"
    );
    assert_orders_landed(&h, &store, &posted).await;
    h.sims.shutdown().await;
}

/// A SORTOI call that times out: SYSPRO may still import the order after the connector stopped
/// waiting, and the look-up right after does not find it yet. The order stays in `posting` instead
/// of being sent again, is looked up again only once twice the call timeout has passed, and, still
/// not in SYSPRO then, is retried after the retry backoff, counting an attempt. It lands once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sortoi_call_that_timed_out_waits_in_posting_before_it_is_looked_up_again() {
    let h = Harness::start(guests_only(0)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = engine_for(&h, &Setup::default(), store.clone(), |c| {
        c.syspro.call_timeout = connector_core::config::ConfigDuration::from_secs(5);
    })
    .await;
    engine.run_cycle().await.expect("first cycle");
    h.sim_post("orders", json!({"store": "web", "guest": true}))
        .await;
    // Guests: no customer is created, and reference data is cached, so SORTOI is the cycle's
    // first SYSPRO call. It is held past the client's 5 s.
    h.sims.syspro.set_faults(SysproFaults {
        hang_next: 1,
        hang_ms: 8_000,
        ..SysproFaults::default()
    });
    let summary = engine.run_cycle().await.expect("cycle");
    assert_eq!(summary.posted, 0, "{summary:?}");
    let waiting = in_state(&*store, EntityKind::Order, RecordState::Posting).await;
    assert_eq!(
        waiting.len(),
        1,
        "{:?}",
        not_posted(&*store, EntityKind::Order).await
    );
    let key = waiting[0].key.clone();
    let decided = audit_messages(&*store, &key, Some(AuditKind::Decided)).await;
    assert!(
        decided
            .iter()
            .any(|m| m.contains("holds no order for customer PO") && m.contains("yet")),
        "{decided:?}"
    );
    h.clock.advance(Duration::from_secs(5));
    let early = engine.run_cycle().await.expect("cycle");
    assert_eq!(early.reconciled, 0, "still waiting: {early:?}");
    h.clock.advance(Duration::from_secs(10));
    let later = engine.run_cycle().await.expect("cycle");
    assert_eq!(later.reconciled, 1, "{later:?}");
    let record = store.get(&key).await.expect("get").expect("record");
    assert_eq!(record.state, RecordState::RetryWait, "{record:?}");
    assert!(
        record.next_attempt_at.is_some_and(|at| at > h.clock.now()),
        "after the backoff: {record:?}"
    );
    h.clock.advance(Duration::from_secs(3600));
    engine.run_cycle().await.expect("cycle");
    let posted = in_state(&*store, EntityKind::Order, RecordState::Posted).await;
    assert_eq!(posted.len(), 1);
    assert_orders_landed(&h, &store, &posted).await;
    h.sims.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_left_in_posting_are_looked_up_before_anything_is_sent_again() {
    let h = Harness::start(guests_only(2)).await;
    let first = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = engine_for(&h, &Setup::default(), first.clone(), |_| {}).await;
    engine.run_cycle().await.expect("cycle");
    let posted = in_state(&*first, EntityKind::Order, RecordState::Posted).await;
    assert_eq!(posted.len(), 2);
    let before = sales_orders(&h).await;

    // A second store that knows nothing of what was sent: one record left in `posting` whose order
    // SYSPRO holds, and one new order also left in `posting`, never sent.
    h.sim_post("orders", json!({"store": "web", "guest": true}))
        .await;
    let second = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let fresh = engine_for(&h, &Setup::default(), second.clone(), |_| {}).await;
    let newest = {
        let orders = h.commerce_orders().await;
        orders
            .into_iter()
            .max_by_key(|o| o["entity_id"].as_u64())
            .unwrap()
    };
    let probe = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    // Read the new order into a throwaway store to get its stored payload.
    let reader = engine_for(&h, &Setup::default(), probe.clone(), |c| {
        c.mapping.sales_orders.stock_code_prefixes.clear();
        c.mapping
            .sales_orders
            .stock_codes
            .insert("none".into(), "NONE".into());
    })
    .await;
    reader.run_cycle().await.expect("read only");
    let unsent = records(&*probe, EntityKind::Order)
        .await
        .into_iter()
        .find(|r| r.key.commerce_id.parse().ok() == newest["entity_id"].as_u64())
        .expect("the new order's record");
    for record in [&posted[0], &unsent] {
        second
            .intake(Intake {
                key: record.key.clone(),
                fingerprint: record.fingerprint.clone(),
                payload: record.payload.clone(),
            })
            .await
            .expect("intake");
        second
            .transition(Transition::new(
                record.key.clone(),
                RecordState::Received,
                Target::Mapped {
                    syspro: Default::default(),
                },
                "mapped",
            ))
            .await
            .expect("map");
        second
            .transition(Transition::new(
                record.key.clone(),
                RecordState::Mapped,
                Target::Posting,
                "claimed for posting",
            ))
            .await
            .expect("claim");
    }
    // The one SYSPRO holds was sent just now without an answer (its process died during the
    // call): SYSPRO may still be importing it, so it is looked up only after twice the call
    // timeout (2 minutes).
    second
        .append(NewAuditEntry::new(
            posted[0].key.clone(),
            AuditKind::Sent,
            "SORTOI sales order (batch of 1)",
        ))
        .await
        .expect("sent");
    h.clock.advance(Duration::from_secs(5));
    let summary = fresh.run_cycle().await.expect("cycle on the second store");
    assert_eq!(summary.reconciled, 1, "only the unsent one: {summary:?}");
    let waiting = in_state(&*second, EntityKind::Order, RecordState::Posting).await;
    assert_eq!(
        waiting.iter().map(|r| &r.key).collect::<Vec<_>>(),
        [&posted[0].key],
        "left in posting meanwhile"
    );
    h.clock.advance(Duration::from_secs(4 * 60));
    let summary = fresh.run_cycle().await.expect("cycle after the wait");
    assert_eq!(summary.reconciled, 1, "{summary:?}");
    let now_posted = in_state(&*second, EntityKind::Order, RecordState::Posted).await;
    assert_eq!(
        now_posted.len(),
        3,
        "{:?}",
        not_posted(&*second, EntityKind::Order).await
    );
    let after = sales_orders(&h).await;
    assert_eq!(
        after.len(),
        before.len() + 1,
        "only the unsent order is new"
    );
    let decided = audit_messages(&*second, &posted[0].key, Some(AuditKind::Decided)).await;
    assert!(
        decided
            .iter()
            .any(|m| m.contains("reconciled: SYSPRO holds sales order")
                && m.contains("not sent again")),
        "{decided:?}"
    );
    let decided = audit_messages(&*second, &unsent.key, Some(AuditKind::Decided)).await;
    assert!(
        decided
            .iter()
            .any(|m| m.contains("holds no sales order") && m.contains("posting it again")),
        "{decided:?}"
    );
    h.sims.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_syspro_rejection_halts_with_syspro_s_message_and_the_rest_of_the_batch_posts() {
    let mut commerce = shop(4);
    commerce.guest_share = 0.0;
    let h = Harness::start(commerce).await;
    let orders = h.commerce_orders().await;
    let customer_id = orders
        .iter()
        .find_map(|o| o["customer_id"].as_u64())
        .expect("a registered customer");
    let setup = Setup {
        by_id: vec![(customer_id, "NOSUCH")],
        ..Setup::default()
    };
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = engine_for(&h, &setup, store.clone(), |_| {}).await;
    let summary = engine.run_cycle().await.expect("cycle");
    let open = |o: &&Value| o["state"] != json!("canceled");
    let refused = orders
        .iter()
        .filter(open)
        .filter(|o| o["customer_id"].as_u64() == Some(customer_id))
        .count();
    assert!(refused > 0, "the customer has an open order");
    let halted = in_state(&*store, EntityKind::Order, RecordState::Halted).await;
    let cancelled = orders.len() - orders.iter().filter(open).count();
    assert_eq!(halted.len(), refused + cancelled, "{summary:?}");
    for record in halted.iter().filter(|r| {
        r.reason
            .as_deref()
            .is_some_and(|r| !r.contains("is cancelled"))
    }) {
        let reason = record.reason.as_deref().unwrap_or_default();
        assert!(
            reason.contains("SYSPRO rejected sales order for customer PO")
                && reason.contains("Customer 'NOSUCH' not found"),
            "{reason}"
        );
    }
    let posted = in_state(&*store, EntityKind::Order, RecordState::Posted).await;
    assert_eq!(
        posted.len() + halted.len(),
        orders.len(),
        "{:?}",
        not_posted(&*store, EntityKind::Order).await
    );
    assert_orders_landed(&h, &store, &posted).await;
    h.sims.shutdown().await;
}

/// An engine whose SYSPRO client was closed under it sends no sales order: the orders wait for a retry
/// instead of halting as refused, and a new engine posts them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_a_closed_client_cannot_send_wait_instead_of_halting() {
    let mut shop = shop(2);
    shop.guest_share = 0.0;
    let h = Harness::start(shop).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let client = h.syspro_client();
    let engine = h
        .build_engine(
            &Setup::default(),
            store.clone(),
            Some(client.clone()),
            selling,
            None,
        )
        .await;
    engine.run_cycle().await.expect("first cycle");
    let before = sales_orders(&h).await.len();
    // The client is closed under the engine (as one shared with other work might be).
    client.close().await.expect("logoff");
    let customer = h.commerce_orders().await[0]["customer_id"]
        .as_i64()
        .unwrap();
    for _ in 0..2 {
        h.sim_post("orders", json!({"customer_id": customer})).await;
    }

    let closed = engine.run_cycle().await.expect("cycle");
    assert!(closed.halted.is_empty(), "{:?}", closed.halted);
    assert_eq!(closed.retried, 2, "{closed:?}");
    // The metrics count the calls as transient failures, not as failures to look into.
    let calls = engine.metrics().calls;
    assert!(
        calls.iter().any(|((_, op, outcome), n)| *op == "SORTOI"
            && *outcome == CallOutcome::Transient
            && *n > 0),
        "{calls:?}"
    );
    assert!(
        !calls
            .iter()
            .any(|((_, _, outcome), _)| *outcome == CallOutcome::Failed),
        "{calls:?}"
    );

    h.clock.advance(Duration::from_secs(3600));
    let engine = engine_for(&h, &Setup::default(), store.clone(), |_| {}).await;
    let summary = engine.run_cycle().await.expect("cycle");
    assert!(summary.halted.is_empty(), "{:?}", summary.halted);
    assert_eq!(sales_orders(&h).await.len(), before + 2, "{summary:?}");
    h.sims.shutdown().await;
}
