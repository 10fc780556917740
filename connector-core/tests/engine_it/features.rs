//! GL journal look-up before sending, credit memos as credit notes, customer updates and code
//! write-back, and the sales-order target, against the simulators.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use connector_core::audit::AuditKind;
use connector_core::config::ConnectionConfig;
use connector_core::engine::CallOutcome;
use connector_core::state::{
    EntityKind, Intake, MemoryStore, RecordState, StateStore, Target, Transition,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use simulators::syspro::SysproFaults;

use crate::support::*;

async fn syspro_json(h: &Harness, path: &str) -> Value {
    let url = format!("{}/__sim/{path}", h.sims.syspro.base_url());
    let response = h.http.get(&url).send().await.expect("inspection call");
    assert!(response.status().is_success(), "{url}");
    response.json().await.expect("inspection JSON")
}

async fn commerce_json(h: &Harness, path: &str) -> Value {
    h.sim_api().get(path).await
}

fn guests_only(orders: usize) -> simulators::commerce::CommerceSimConfig {
    let mut shop = shop(orders);
    shop.guest_share = 1.0;
    shop
}

// ---- GL journal look-up -------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_journal_answer_is_looked_up_in_the_ledger_and_the_journal_posted_once() {
    let h = Harness::start(guests_only(0)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = h.engine(&Setup::default(), store.clone()).await;
    // The first cycle validates the reference data (with validate-only posts) and finds no work.
    engine.run_cycle().await.expect("first cycle");
    // Guest orders: no customer is created, so the two posts of the next cycle are ARSTIN and
    // GENTJL, and both lose their answer after changing the ledger.
    for _ in 0..3 {
        h.sim_post("orders", json!({"store": "web", "guest": true}))
            .await;
    }
    h.sims.syspro.set_faults(SysproFaults {
        lose_answer_next: 2,
        ..SysproFaults::default()
    });
    let summary = engine.run_cycle().await.expect("cycle");
    assert!(summary.halted.is_empty(), "{:?}", summary.halted);
    let orders = h.commerce_orders().await;
    let posted = in_state(&*store, EntityKind::Order, RecordState::Posted).await;
    assert_eq!(
        posted.len(),
        orders.len(),
        "{summary:?} {:?}",
        not_posted(&*store, EntityKind::Order).await
    );
    // `ledger_journals` fails on a reference posted twice.
    assert_posted_once(&h, &posted, &grand_totals(&orders)).await;
    assert_eq!(h.ledger_journals().await.len(), posted.len());
    let calls = engine.metrics().calls;
    assert!(
        calls.iter().any(|((_, op, outcome), n)| *op == "GENTJL"
            && *outcome == CallOutcome::OutcomeUnknown
            && *n > 0),
        "the GENTJL answer was lost: {calls:?}"
    );

    // Nothing is sent again later.
    let again = engine.run_cycle().await.expect("second cycle");
    assert_eq!(again.posted, 0);
    assert_eq!(h.ledger_journals().await.len(), posted.len());
    h.sims.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journals_already_in_the_ledger_are_never_sent_again_by_replay_or_reconciliation() {
    let h = Harness::start(guests_only(3)).await;
    let first = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = h.engine(&Setup::default(), first.clone()).await;
    engine.run_cycle().await.expect("cycle");
    let posted = in_state(&*first, EntityKind::Order, RecordState::Posted).await;
    assert_eq!(posted.len(), 3);
    let journals_before = h.ledger_journals().await;
    let invoices_before = h.ledger_invoices().await;
    assert_eq!(journals_before.len(), 3);

    // A second state store that knows nothing of what was sent (a restored backup, a record
    // halted by an earlier release after a lost GENTJL answer, a crash in `posting`): one record
    // halted, one left in `posting`, one not yet read.
    let second = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let halted = &posted[0];
    let stuck = &posted[1];
    for record in [halted, stuck] {
        second
            .intake(Intake {
                key: record.key.clone(),
                fingerprint: record.fingerprint.clone(),
                payload: record.payload.clone(),
            })
            .await
            .expect("intake");
    }
    second
        .transition(Transition::new(
            halted.key.clone(),
            RecordState::Received,
            Target::Halted {
                reason: "GL journal was sent but SYSPRO's answer was lost".to_owned(),
            },
            "halted",
        ))
        .await
        .expect("halt");
    second
        .transition(Transition::new(
            stuck.key.clone(),
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
            stuck.key.clone(),
            RecordState::Mapped,
            Target::Posting,
            "claimed for posting",
        ))
        .await
        .expect("claim");
    h.clock.advance(Duration::from_secs(5));

    let restored = h.engine(&Setup::default(), second.clone()).await;
    let summary = restored
        .run_cycle()
        .await
        .expect("cycle on the second store");
    assert!(summary.reconciled >= 1, "{summary:?}");
    let replayed = restored
        .replay(std::slice::from_ref(&halted.key), false)
        .await
        .expect("replay");
    assert!(replayed.halted.is_empty(), "{replayed:?}");
    let now_posted = in_state(&*second, EntityKind::Order, RecordState::Posted).await;
    assert_eq!(
        now_posted.len(),
        3,
        "{:?}",
        not_posted(&*second, EntityKind::Order).await
    );
    // Same ledger as before: no second invoice, no second journal.
    assert_eq!(h.ledger_journals().await.len(), journals_before.len());
    assert_eq!(h.ledger_invoices().await.len(), invoices_before.len());
    for record in [halted, stuck] {
        let decided = audit_messages(&*second, &record.key, Some(AuditKind::Decided)).await;
        assert!(
            decided
                .iter()
                .any(|m| m.contains("already in SYSPRO's ledger; not sent again")),
            "{decided:?}"
        );
    }
    h.sims.shutdown().await;
}

// ---- credit memos ---------------------------------------------------------------------------------

fn with_credit_memos(connection: &mut ConnectionConfig) {
    connection.mapping.credit_memos.enabled = true;
}

/// A minute later in Commerce, refunds an invoiced order that is not refunded yet; the new memo.
async fn refund_an_order(h: &Harness) -> Value {
    h.sims.commerce.advance_clock(Duration::from_secs(60));
    let orders = h.commerce_orders().await;
    let order = orders
        .iter()
        .find(|o| o["state"] != json!("closed"))
        .expect("an order that is not refunded yet");
    h.sim_post(&format!("orders/{}/refund", order["entity_id"]), json!({}))
        .await
}

/// Runs a cycle of a new engine reading credit memos, with Commerce answering every call again,
/// and checks that it posts every memo Commerce holds; how many that is.
async fn a_new_engine_posts_every_memo<S>(h: &Harness, setup: &Setup, store: &Arc<S>) -> usize
where
    S: StateStore + connector_core::audit::AuditLog + 'static,
{
    h.sim_api().release().await;
    let engine = h
        .engine_edited(setup, store.clone(), with_credit_memos)
        .await;
    let summary = engine.run_cycle().await.expect("cycle");
    assert!(summary.errors.is_empty(), "{:?}", summary.errors);
    let memos = commerce_json(h, "creditmemos").await;
    let memos = memos.as_array().expect("memo list").len();
    let posted = in_state(&**store, EntityKind::CreditMemo, RecordState::Posted).await;
    assert_eq!(posted.len(), memos, "{summary:?}");
    memos
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credit_memos_post_as_credit_notes_with_reversing_journals_once() {
    let h = Harness::start(shop(4)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let setup = Setup {
        trigger: "invoice",
        ..Setup::default()
    };
    let engine = h
        .engine_edited(&setup, store.clone(), with_credit_memos)
        .await;
    let first = engine.run_cycle().await.expect("first cycle");
    assert!(first.halted.is_empty(), "{:?}", first.halted);

    // Refund one invoiced order in Commerce.
    let memo = refund_an_order(&h).await;
    let second = engine.run_cycle().await.expect("second cycle");
    assert!(second.halted.is_empty(), "{:?}", second.halted);
    assert!(second.errors.is_empty(), "{:?}", second.errors);

    let memos = commerce_json(&h, "creditmemos").await;
    let memos = memos.as_array().expect("memo list");
    assert!(memos.iter().any(|m| m["entity_id"] == memo["entity_id"]));
    let posted = in_state(&*store, EntityKind::CreditMemo, RecordState::Posted).await;
    assert_eq!(
        posted.len(),
        memos.len(),
        "{:?}",
        not_posted(&*store, EntityKind::CreditMemo).await
    );

    let ledger = syspro_json(&h, "invoices").await;
    let ledger = ledger.as_array().expect("ledger");
    let journals = h.ledger_journals().await;
    let invoices: BTreeMap<String, Value> =
        in_state(&*store, EntityKind::Invoice, RecordState::Posted)
            .await
            .into_iter()
            .map(|r| (r.key.commerce_id.clone(), json!(r.syspro.invoice)))
            .collect();
    for record in &posted {
        let memo = memos
            .iter()
            .find(|m| {
                m["entity_id"].as_u64().map(|id| id.to_string()).as_deref()
                    == Some(record.key.commerce_id.as_str())
            })
            .expect("memo of the record");
        let number = record.syspro.invoice.clone().expect("credit note number");
        assert!(number.contains("CR"), "{number}");
        let note: Vec<&Value> = ledger
            .iter()
            .filter(|i| i["invoice"].as_str().map(str::trim) == Some(number.as_str()))
            .collect();
        assert_eq!(note.len(), 1, "credit note {number} once on the ledger");
        let note = note[0];
        assert_eq!(note["document_type"], json!("C"));
        let grand_total = money(&memo["grand_total"]);
        assert_eq!(money(&note["invoice_value"]), -grand_total, "{note}");
        // The credit note names the invoice it credits.
        let credited = &invoices[&memo["invoice_id"].to_string()];
        assert_eq!(
            note["reference"].as_str().map(str::trim),
            credited.as_str(),
            "{note}"
        );
        // The reversing journal credits the clearing account with what the note took from it.
        let reference = record.syspro.journal.clone().expect("journal reference");
        let journal = &journals[&reference];
        let clearing: Decimal = journal["lines"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["ledger_code"].as_str().map(str::trim) == Some("00-4999"))
            .map(|l| money(&l["entry_amount"]))
            .sum();
        let tax = money(&memo["tax_amount"]);
        assert_eq!(clearing, -(grand_total - tax), "{journal}");
    }

    // Nothing is posted twice: the invoice touched by the refund is audited, not reposted.
    let third = engine.run_cycle().await.expect("third cycle");
    assert_eq!(third.posted, 0, "{third:?}");
    let again = syspro_json(&h, "invoices").await;
    assert_eq!(again.as_array().unwrap().len(), ledger.len());
    h.sims.shutdown().await;
}

/// An engine closed while the credit memo page it asked for is held up by Commerce drops the
/// page: the cycle ends at once, with no memo taken in, and the next engine posts the memo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_an_engine_while_a_credit_memo_page_is_held_up_drops_the_page() {
    let h = Harness::start(shop(4)).await;
    let engine = Arc::new(std::sync::OnceLock::<connector_core::engine::Engine>::new());
    let to_close = Arc::clone(&engine);
    // Armed for the second cycle, whose first document taken in is an invoice read again within
    // the overlap: the invoice page is read by then, and the memo page is asked for next.
    let hooks = HoldingUpCommerce::new(&h, 1, move || {
        let engine = to_close.get().expect("engine set").clone();
        Box::pin(async move { engine.close().await })
    })
    .disarmed();
    let store = Arc::new(HookedStore {
        inner: MemoryStore::new(Arc::new(h.clock.clone())),
        hooks,
    });
    let setup = Setup {
        trigger: "invoice",
        ..Setup::default()
    };
    let first_engine = h
        .engine_edited(&setup, store.clone(), with_credit_memos)
        .await;
    assert!(engine.set(first_engine.clone()).is_ok(), "set once");
    let first = first_engine.run_cycle().await.expect("first cycle");
    assert!(first.halted.is_empty(), "{:?}", first.halted);
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    let memos_before = records(&*store, EntityKind::CreditMemo).await.len();

    refund_an_order(&h).await;
    store.hooks.arm();
    a_cycle_cut_short(&first_engine, || {
        store.hooks.done.lock().unwrap().take().expect("closed")
    })
    .await;
    assert_eq!(
        records(&*store, EntityKind::CreditMemo).await.len(),
        memos_before,
        "the new memo is not taken in"
    );

    let memos = a_new_engine_posts_every_memo(&h, &setup, &store).await;
    assert_eq!(memos, memos_before + 1);
    h.sims.shutdown().await;
}

/// An engine closed while a credit memo's order is on its way (Commerce holds every look-up of
/// one order or invoice) leaves the memo for later: the cycle ends at once with the invoices
/// stored and no memo, and the next engine posts every memo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_an_engine_while_a_credit_memo_looks_up_its_order_leaves_the_memo() {
    let h = Harness::start(shop(4)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let setup = Setup {
        trigger: "invoice",
        ..Setup::default()
    };
    let engine = h
        .engine_edited(&setup, store.clone(), with_credit_memos)
        .await;
    let api = h.sim_api();
    api.hold(&["GET /V1/orders/{id}", "GET /V1/invoices/{id}"])
        .await;
    let closing = api.close_when_called(&engine, "GET /V1/orders/{id}");
    a_cycle_cut_short(&engine, || closing).await;
    assert_eq!(
        records(&*store, EntityKind::Invoice).await.len(),
        h.commerce_invoices().await.len()
    );
    assert!(records(&*store, EntityKind::CreditMemo).await.is_empty());

    let memos = a_new_engine_posts_every_memo(&h, &setup, &store).await;
    assert!(memos > 0, "the shop has refunds");
    h.sims.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credit_memos_are_not_read_unless_enabled() {
    let h = Harness::start(shop(3)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let setup = Setup {
        trigger: "invoice",
        ..Setup::default()
    };
    let engine = h.engine(&setup, store.clone()).await;
    engine.run_cycle().await.expect("cycle");
    let orders = h.commerce_orders().await;
    let order = orders
        .iter()
        .find(|o| o["state"] != json!("closed"))
        .expect("an order");
    h.sim_post(&format!("orders/{}/refund", order["entity_id"]), json!({}))
        .await;
    engine.run_cycle().await.expect("cycle");
    assert!(records(&*store, EntityKind::CreditMemo).await.is_empty());
    let ledger = syspro_json(&h, "invoices").await;
    assert!(
        ledger
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["document_type"] != json!("C"))
    );
    h.sims.shutdown().await;
}
