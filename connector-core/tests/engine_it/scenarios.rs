use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use connector_core::audit::{AuditKind, AuditLog};
use connector_core::clock::Clock;
use connector_core::engine::EngineError;
use connector_core::mapping::{DefaultMapper, Mapper, MappingContext, MappingError};
use connector_core::plan::{PostingPlan, SourceDocument};
use connector_core::state::{
    EntityKind, MemoryStore, RecordKey, RecordState, SqliteStore, StateStore,
};
use serde_json::json;
use simulators::commerce::CommerceFaults;
use simulators::syspro::SysproFaults;

use crate::support::*;

/// An engine whose SYSPRO client was closed under it sends no AR invoice: the orders wait for a
/// retry instead of halting as if SYSPRO had refused them, and a new engine posts them once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoices_a_closed_client_cannot_send_wait_instead_of_halting() {
    let h = Harness::start(shop(3)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let setup = Setup::default();
    let client = h.syspro_client();
    let engine = h
        .engine_with(&setup, store.clone(), Some(client.clone()))
        .await;
    engine.run_cycle().await.expect("first cycle");
    client.close().await.expect("logoff");
    for _ in 0..2 {
        h.sim_post("orders", json!({"store": "web"})).await;
    }

    let closed = engine.run_cycle().await.expect("cycle");
    assert!(closed.halted.is_empty(), "{:?}", closed.halted);
    assert_eq!((closed.posted, closed.retried), (0, 2), "{closed:?}");

    h.clock.advance(Duration::from_secs(3600));
    a_new_engine_posts_every_order_once(&h, &setup, &store).await;
    h.sims.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoices_post_once_with_guests_on_cash_customers_and_new_customers_created() {
    let h = Harness::start(shop(10)).await;
    let dir = std::env::temp_dir().join(format!("engine-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("happy.db");
    let _ = std::fs::remove_file(&path);
    let store = Arc::new(
        SqliteStore::open(&path, Arc::new(h.clock.clone()))
            .await
            .unwrap(),
    );
    let setup = Setup {
        trigger: "invoice",
        ..Setup::default()
    };
    let engine = h.engine(&setup, store.clone()).await;

    let first = engine.run_cycle().await.expect("cycle");
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    assert!(
        first.halted.is_empty(),
        "nothing should halt: {:?}",
        first.halted
    );
    let invoices = h.commerce_invoices().await;
    let posted = in_state(&*store, EntityKind::Invoice, RecordState::Posted).await;
    assert_eq!(posted.len(), invoices.len(), "every invoice posted");
    assert_posted_once(&h, &posted, &grand_totals(&invoices)).await;
    assert!(
        first.customers_created > 0,
        "customers missing from SYSPRO are created"
    );

    // Guests land on their store's cash customer; every ledger customer code is known.
    let ledger = h.ledger_invoices().await;
    let orders = h.commerce_orders().await;
    let guest_order_ids: Vec<String> = orders
        .iter()
        .filter(|o| {
            o["customer_is_guest"].as_i64() == Some(1) || o["customer_is_guest"] == json!(true)
        })
        .map(|o| o["entity_id"].to_string())
        .collect();
    assert!(!guest_order_ids.is_empty(), "the shop has guest orders");
    for invoice in &invoices {
        if guest_order_ids.contains(&invoice["order_id"].to_string()) {
            let invoice_id = invoice["entity_id"].to_string();
            let number = posted
                .iter()
                .find(|r| r.key.commerce_id == invoice_id)
                .and_then(|r| r.syspro.invoice.clone())
                .unwrap();
            let customer = ledger[&number]["customer"]
                .as_str()
                .unwrap()
                .trim()
                .to_owned();
            assert!(
                customer.ends_with("CASH"),
                "guest invoice {number} on {customer}"
            );
        }
    }

    // The trail of a posted record has every step, and no secret anywhere in the trail.
    let trail = audit_messages(&*store, &posted[0].key, None)
        .await
        .join("\n");
    for step in [
        "read from Commerce",
        "plan rendered",
        "ARSTIN invoice",
        "ARSTIN accepted",
        "GENTJL journal",
        "GENTJL accepted",
        "-> posted",
    ] {
        assert!(trail.contains(step), "missing {step:?} in:\n{trail}");
    }
    let everything = store
        .query(&connector_core::audit::AuditQuery {
            limit: 100_000,
            ..Default::default()
        })
        .await
        .unwrap();
    let text = serde_json::to_string(&everything.entries).unwrap();
    let creds = h.sims.syspro.credentials();
    let oauth = h.sims.commerce.oauth();
    for secret in [
        creds.operator_password,
        creds.company_password,
        oauth.consumer_secret,
        oauth.access_token_secret,
    ] {
        assert!(!text.contains(&secret), "a secret reached the audit trail");
    }

    // A second cycle reads the overlap again and posts nothing.
    let second = engine.run_cycle().await.expect("second cycle");
    assert_eq!(second.posted, 0);
    assert_eq!(
        second.intake_new, 0,
        "overlap re-reads are recognised by fingerprint"
    );
    assert_eq!(h.ledger_invoices().await.len(), posted.len());
    let metrics = engine.metrics();
    assert_eq!(metrics.cycles, 2);
    assert!(
        metrics
            .transitions
            .get(&RecordState::Posted)
            .copied()
            .unwrap_or(0)
            >= posted.len() as u64
    );
    engine.close().await;
    store.close().await;
    h.sims.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_customer_halts_with_reason_and_posts_after_mapping_fix_and_replay() {
    let mut shop = shop(4);
    shop.guest_share = 0.0;
    shop.not_in_erp_share = 1.0;
    let h = Harness::start(shop).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let setup = Setup {
        create_customers: false,
        ..Setup::default()
    };
    let engine = h.engine(&setup, store.clone()).await;
    let summary = engine.run_cycle().await.expect("cycle");
    let halted = in_state(&*store, EntityKind::Order, RecordState::Halted).await;
    assert_eq!(halted.len(), 4, "{summary:?}");
    assert!(h.ledger_invoices().await.is_empty());
    let record = &halted[0];
    let reason = record.reason.clone().unwrap();
    assert!(reason.contains("no SYSPRO customer"), "{reason}");
    assert!(
        reason.contains("customers.create.enabled is false"),
        "{reason}"
    );
    let trail = audit_messages(&*store, &record.key, Some(AuditKind::Transition)).await;
    assert!(trail.iter().any(|m| m.contains("halted")), "{trail:?}");

    // The fix: map every one of those Commerce customers to an existing SYSPRO customer.
    let orders = h.commerce_orders().await;
    let by_id: Vec<(u64, &'static str)> = orders
        .iter()
        .filter_map(|o| o["customer_id"].as_u64())
        .map(|id| (id, "C00001"))
        .collect();
    let fixed = h
        .engine(
            &Setup {
                create_customers: false,
                by_id,
                ..Setup::default()
            },
            store.clone(),
        )
        .await;
    let replayed = fixed.replay_halted(false, false).await.expect("replay");
    let posted = in_state(&*store, EntityKind::Order, RecordState::Posted).await;
    assert_eq!(posted.len(), 4, "{replayed:?}");
    assert_posted_once(&h, &posted, &grand_totals(&orders)).await;
    h.sims.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmapped_sku_and_gl_code_missing_in_syspro_halt_with_reasons() {
    let mut shop = shop(6);
    shop.unmapped_sku_share = 1.0;
    let h = Harness::start(shop).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = h.engine(&Setup::default(), store.clone()).await;
    engine.run_cycle().await.expect("cycle");
    let halted = in_state(&*store, EntityKind::Order, RecordState::Halted).await;
    assert_eq!(halted.len(), 6);
    for record in &halted {
        let reason = record.reason.as_deref().unwrap();
        assert!(reason.contains("no GL account for SKU \"CLR-"), "{reason}");
    }
    assert!(
        h.ledger_invoices().await.is_empty(),
        "nothing posted for unmapped SKUs"
    );

    // A freight account that SYSPRO does not know halts every order that has freight.
    let h2 = Harness::start(self::shop(3)).await;
    let store2 = Arc::new(MemoryStore::new(Arc::new(h2.clock.clone())));
    let engine2 = h2
        .engine(
            &Setup {
                freight_account: "00-4199",
                ..Setup::default()
            },
            store2.clone(),
        )
        .await;
    engine2.run_cycle().await.expect("cycle");
    let halted = in_state(&*store2, EntityKind::Order, RecordState::Halted).await;
    assert!(!halted.is_empty());
    for record in &halted {
        let reason = record.reason.as_deref().unwrap();
        assert!(
            reason.contains("\"00-4199\"") && reason.contains("does not exist in SYSPRO"),
            "{reason}"
        );
    }
    let posted = in_state(&*store2, EntityKind::Order, RecordState::Posted).await;
    assert_eq!(h2.ledger_invoices().await.len(), posted.len());

    // A cash customer SYSPRO does not hold halts the guest orders of its store.
    let mut guests = self::shop(6);
    guests.guest_share = 1.0;
    let h3 = Harness::start(guests).await;
    let store3 = Arc::new(MemoryStore::new(Arc::new(h3.clock.clone())));
    let engine3 = h3
        .engine(
            &Setup {
                web_cash_customer: "NOSUCH",
                ..Setup::default()
            },
            store3.clone(),
        )
        .await;
    engine3.run_cycle().await.expect("cycle");
    let halted = in_state(&*store3, EntityKind::Order, RecordState::Halted).await;
    assert!(!halted.is_empty(), "web guest orders halt");
    for record in &halted {
        let reason = record.reason.as_deref().unwrap();
        assert!(
            reason.contains("cash customer \"NOSUCH\" (mapping.stores.web.cash_customer) does not exist in SYSPRO"),
            "{reason}"
        );
    }
    let posted = in_state(&*store3, EntityKind::Order, RecordState::Posted).await;
    assert_eq!(h3.ledger_invoices().await.len(), posted.len());
    h.sims.shutdown().await;
    h2.sims.shutdown().await;
    h3.sims.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_sharing_a_second_across_pages_are_all_taken_and_edits_after_posting_are_audited() {
    let h = Harness::start(shop(2)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let setup = Setup {
        page_size: 2,
        batch_size: 3,
        ..Setup::default()
    };
    let engine = h.engine(&setup, store.clone()).await;
    engine.run_cycle().await.expect("first cycle");

    // Five new orders in one burst: they share their updated_at second and span three pages.
    let mut added = Vec::new();
    for _ in 0..5 {
        added.push(h.sim_post("orders", json!({"store": "web"})).await);
    }
    let summary = engine.run_cycle().await.expect("second cycle");
    assert_eq!(summary.intake_new, 5, "{summary:?}");
    let orders = h.commerce_orders().await;
    let posted = in_state(&*store, EntityKind::Order, RecordState::Posted).await;
    assert_eq!(posted.len(), orders.len(), "every order posted");
    assert_posted_once(&h, &posted, &grand_totals(&orders)).await;

    // An edit after posting is recorded and audited, never posted again.
    h.sims.commerce.advance_clock(Duration::from_secs(5));
    let id = added[0]["entity_id"].as_u64().unwrap();
    h.sim_post(
        &format!("orders/{id}/touch"),
        json!({"comment": "address corrected"}),
    )
    .await;
    let third = engine.run_cycle().await.expect("third cycle");
    assert_eq!(third.changed_after_posting, 1, "{third:?}");
    assert_eq!(third.posted, 0);
    let record = store
        .get(&connector_core::state::RecordKey::new(
            engine.connection().clone(),
            EntityKind::Order,
            id.to_string(),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.state, RecordState::Posted);
    assert!(record.changed_after_posting.is_some());
    let decided = audit_messages(&*store, &record.key, Some(AuditKind::Decided)).await;
    assert!(
        decided.iter().any(|m| m.contains("not posted again")),
        "{decided:?}"
    );
    assert_eq!(h.ledger_invoices().await.len(), posted.len());
    h.sims.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_expiry_mid_batch_and_a_429_storm_lose_nothing_and_duplicate_nothing() {
    let mut shop = shop(8);
    shop.faults = CommerceFaults {
        rate_limit_rate: 0.4,
        retry_after_secs: Some(0),
        ..CommerceFaults::default()
    };
    let h = Harness::start(shop).await;
    h.sims.syspro.set_faults(SysproFaults {
        invalidate_session_every: 3,
        ..SysproFaults::default()
    });
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = h.engine(&Setup::default(), store.clone()).await;
    for _ in 0..6 {
        engine.run_cycle().await.expect("cycle");
        h.clock.advance(Duration::from_secs(3600));
        let open = records(&*store, EntityKind::Order)
            .await
            .into_iter()
            .filter(|r| r.state != RecordState::Posted)
            .count();
        if open == 0 && records(&*store, EntityKind::Order).await.len() == 8 {
            break;
        }
    }
    h.sims
        .commerce
        .set_faults(CommerceFaults::default())
        .unwrap();
    let orders = h.commerce_orders().await;
    let posted = in_state(&*store, EntityKind::Order, RecordState::Posted).await;
    assert_eq!(
        posted.len(),
        orders.len(),
        "every order posted despite the faults"
    );
    assert_posted_once(&h, &posted, &grand_totals(&orders)).await;
    let stats = h.sims.syspro.stats();
    let operator = &h.sims.syspro.credentials().operator;
    assert!(
        stats.operators[operator].logons > 1,
        "sessions were renewed"
    );
    h.sims.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_whose_answer_is_lost_is_reconciled_and_posted_once() {
    let h = Harness::start(shop(2)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = h.engine(&Setup::default(), store.clone()).await;
    engine.run_cycle().await.expect("first cycle");
    for _ in 0..3 {
        h.sim_post("orders", json!({"store": "b2b"})).await;
    }
    // The ARSTIN post changes the ledger and its answer never arrives.
    h.sims.syspro.set_faults(SysproFaults {
        lose_answer_next: 1,
        ..SysproFaults::default()
    });
    let summary = engine.run_cycle().await.expect("cycle with a lost answer");
    assert!(summary.halted.is_empty(), "{:?}", summary.halted);
    let orders = h.commerce_orders().await;
    let posted = in_state(&*store, EntityKind::Order, RecordState::Posted).await;
    assert_eq!(
        posted.len(),
        orders.len(),
        "{summary:?} {:?}",
        not_posted(&*store, EntityKind::Order).await
    );
    assert_posted_once(&h, &posted, &grand_totals(&orders)).await;
    let reconciled = engine.metrics();
    assert!(
        reconciled
            .calls
            .iter()
            .any(|((_, op, outcome), n)| *op == "ARSTIN"
                && *outcome == connector_core::engine::CallOutcome::OutcomeUnknown
                && *n > 0),
        "the lost answer was seen: {:?}",
        reconciled.calls
    );
    h.sims.shutdown().await;
}

/// Between cycles the loop may wait longer than the lease lives (here up to 2 s against a 1 s
/// lease); the lease is renewed during the wait, so no other worker can take the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_loop_keeps_its_lease_through_waits_longer_than_the_lease() {
    let h = Harness::start(shop(2)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let setup = Setup {
        lease_ttl: Some(Duration::from_secs(1)),
        ..Setup::default()
    };
    let engine = h.engine(&setup, store.clone()).await;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn({
        let engine = engine.clone();
        async move { engine.run(shutdown).await }
    });
    let mut posted = false;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(25)).await;
        if in_state(&*store, EntityKind::Order, RecordState::Posted)
            .await
            .len()
            == 2
        {
            posted = true;
            break;
        }
    }
    assert!(posted, "the loop posted the shop's orders");
    for step in 1..=24 {
        h.clock.advance(Duration::from_millis(250));
        tokio::time::sleep(Duration::from_millis(40)).await;
        let now = h.clock.now();
        let leases = store.leases().await.unwrap();
        assert!(
            leases
                .iter()
                .any(|l| l.holder.to_string() == "engine-test" && !l.is_expired(now)),
            "lease lapsed after {} ms of waiting: {leases:?}",
            step * 250
        );
    }
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), runner)
        .await
        .expect("the loop stops")
        .expect("no panic")
        .expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_loop_polls_takes_webhooks_and_logs_off_on_shutdown() {
    let h = Harness::start(shop(3)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = h.engine(&Setup::default(), store.clone()).await;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn({
        let engine = engine.clone();
        async move { engine.run(shutdown).await }
    });
    let mut done = false;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(25)).await;
        if in_state(&*store, EntityKind::Order, RecordState::Posted)
            .await
            .len()
            == 3
        {
            done = true;
            break;
        }
    }
    assert!(done, "the loop posted the shop's orders");
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), runner)
        .await
        .expect("the loop stops")
        .expect("no panic")
        .expect("clean stop");
    let operator = h.sims.syspro.credentials().operator;
    assert!(
        !h.sims.syspro.stats().operators[&operator].session_open,
        "logged off"
    );
    assert!(
        store
            .leases()
            .await
            .unwrap()
            .iter()
            .all(|l| l.is_expired(h.clock.now()))
    );

    // A webhook for a new order is processed at once, and a repeat of it does nothing.
    let restarted = h
        .engine(
            &Setup {
                resolved_secrets: true,
                ..Setup::default()
            },
            store.clone(),
        )
        .await;
    let order = h.sim_post("orders", json!({"store": "web"})).await;
    let id = order["entity_id"].to_string();
    let first = restarted
        .notify(EntityKind::Order, &id)
        .await
        .expect("notify");
    assert_eq!(first.posted, 1, "{first:?}");
    let again = restarted
        .notify(EntityKind::Order, &id)
        .await
        .expect("notify again");
    assert_eq!((again.intake_new, again.posted), (0, 0));
    let orders = h.commerce_orders().await;
    let posted = in_state(&*store, EntityKind::Order, RecordState::Posted).await;
    assert_posted_once(&h, &posted, &grand_totals(&orders)).await;
    h.sims.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_syspro_refuses_as_too_large_is_split_and_posted() {
    let h = Harness::start_with(
        shop(8),
        simulators::syspro::SysproSimConfig {
            history_invoices: 0,
            max_url_len: 4000,
            ..simulators::syspro::SysproSimConfig::default()
        },
    )
    .await;
    let config = h
        .syspro_config()
        .large_documents(syspro_client::LargeDocumentTransport::NeverPostLd)
        .build()
        .unwrap();
    let client = syspro_client::SysproClient::new(config).unwrap();
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let setup = Setup {
        batch_size: 8,
        page_size: 10,
        ..Setup::default()
    };
    let engine = h.engine_with(&setup, store.clone(), Some(client)).await;
    let summary = engine.run_cycle().await.expect("cycle");
    assert!(summary.halted.is_empty(), "{:?}", summary.halted);
    assert!(engine.metrics().batch_splits > 0, "the batch was split");
    let orders = h.commerce_orders().await;
    let posted = in_state(&*store, EntityKind::Order, RecordState::Posted).await;
    assert_eq!(
        posted.len(),
        orders.len(),
        "{summary:?} {:?}",
        not_posted(&*store, EntityKind::Order).await
    );
    assert_posted_once(&h, &posted, &grand_totals(&orders)).await;
    // Each part of the split document notes, in the trail of its records, when it went: a lost
    // answer's wait before a look-up counts from there.
    for record in &posted {
        let sent = audit_messages(&*store, &record.key, Some(AuditKind::Sent)).await;
        assert!(
            sent.iter()
                .any(|m| m.starts_with("ARSTIN invoice") && m.ends_with("this part of it goes now")),
            "{}: {sent:?}",
            record.key
        );
    }
    h.sims.shutdown().await;
}

/// Plans with the default mapper and notes, for each document, the customer code each plan was
/// asked with.
struct NotingMapper {
    inner: DefaultMapper,
    asked: Mutex<BTreeMap<u64, Vec<Option<String>>>>,
}

impl Mapper for NotingMapper {
    fn plan(
        &self,
        doc: &SourceDocument,
        ctx: &MappingContext<'_>,
    ) -> Result<PostingPlan, MappingError> {
        self.asked
            .lock()
            .unwrap()
            .entry(doc.entity_id)
            .or_default()
            .push(ctx.customer_code.map(str::to_owned));
        self.inner.plan(doc, ctx)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_poster_posts_the_plan_the_mapping_made_without_planning_again() {
    let h = Harness::start(shop(60)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let setup = Setup::default();
    let mapper = Arc::new(NotingMapper {
        inner: DefaultMapper::for_connection(&h.connection(&setup)),
        asked: Mutex::new(BTreeMap::new()),
    });
    let engine = h
        .engine_with_mapper(&setup, store.clone(), mapper.clone())
        .await;
    let summary = engine.run_cycle().await.expect("cycle");
    assert!(summary.errors.is_empty(), "{:?}", summary.errors);
    assert!(summary.halted.is_empty(), "{:?}", summary.halted);

    let orders = h.commerce_orders().await;
    let posted = in_state(&*store, EntityKind::Order, RecordState::Posted).await;
    assert_eq!(posted.len(), orders.len(), "{summary:?}");
    assert_posted_once(&h, &posted, &grand_totals(&orders)).await;
    // Mapping asks the mapper twice without a customer code (once for the page's customer
    // look-ups, once for the plan, which a code learnt by email may refine). Posting asks nothing:
    // a poster that planned the document again would ask a third time.
    let asked = mapper.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), orders.len());
    for (id, codes) in asked.iter() {
        let without_code = codes.iter().filter(|c| c.is_none()).count();
        assert_eq!(without_code, 2, "order {id}: {codes:?}");
    }
    h.sims.shutdown().await;
}

/// Commerce changes an order after the page holding it was read: it moves to the end, every later
/// order moves up a place, and the one that moves onto the page already read is never served by
/// that pass. The stream is read again, so that order is still taken in and posted in the cycle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_changed_while_its_stream_is_read_hides_no_other() {
    let shop = PagedShop::start(|h| TouchedMidRead::new(h, 1)).await;
    let (h, store, engine) = (&shop.h, &shop.store, &shop.engine);
    let summary = engine.run_cycle().await.expect("cycle");
    assert!(summary.errors.is_empty(), "{:?}", summary.errors);
    let orders = h.commerce_orders().await;
    let taken_in = records(&**store, EntityKind::Order).await;
    assert_eq!(taken_in.len(), orders.len(), "{summary:?}");
    // The pass read again counts only what it found new: the order that had gone unread and the
    // touched order's new version.
    assert_eq!(summary.intake_unchanged, 0, "{summary:?}");
    assert_eq!(summary.read, summary.intake_new, "{summary:?}");
    let settled = taken_in
        .iter()
        .filter(|r| matches!(r.state, RecordState::Posted | RecordState::Halted))
        .count();
    assert_eq!(settled, orders.len(), "{summary:?}");
    // The second pass saw no row move, so the watermark reached the latest change: the touched
    // order's new `updated_at`.
    let latest = orders.iter().map(commerce_updated_at).max().unwrap();
    assert_eq!(order_watermark(&**store).await, Some(latest));
    shop.h.sims.shutdown().await;
}

/// An order's `updated_at` as the Commerce simulator shows it.
fn commerce_updated_at(order: &serde_json::Value) -> time::OffsetDateTime {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(order["updated_at"].as_str().unwrap(), &format)
        .unwrap()
        .assume_utc()
}

async fn order_watermark<S: StateStore>(store: &S) -> Option<time::OffsetDateTime> {
    stream_watermark(store, EntityKind::Order).await
}

async fn stream_watermark<S: StateStore>(
    store: &S,
    kind: EntityKind,
) -> Option<time::OffsetDateTime> {
    store
        .watermark(
            &connector_core::state::ConnectionName::new(CONNECTION).unwrap(),
            &connector_core::state::StreamName::from(kind),
        )
        .await
        .unwrap()
}

/// A shop of 20 orders whose order stream is read in pages of 5, through a memory store with
/// `hooks`.
struct PagedShop<H> {
    h: Harness,
    store: Arc<HookedStore<H>>,
    setup: Setup,
    engine: connector_core::engine::Engine,
    /// The shop's orders, oldest change first, as the stream serves them.
    oldest: Vec<serde_json::Value>,
}

impl<H: StoreHooks + 'static> PagedShop<H> {
    async fn start(hooks: impl FnOnce(&Harness) -> H) -> Self {
        let h = Harness::start(shop(20)).await;
        let mut oldest = h.commerce_orders().await;
        oldest.sort_by_key(|o| (commerce_updated_at(o), o["entity_id"].as_u64()));
        let store = Arc::new(HookedStore {
            inner: MemoryStore::new(Arc::new(h.clock.clone())),
            hooks: hooks(&h),
        });
        let setup = Setup {
            page_size: 5,
            ..Setup::default()
        };
        let engine = h.engine(&setup, store.clone()).await;
        Self {
            h,
            store,
            setup,
            engine,
            oldest,
        }
    }

    /// The `updated_at` of the `nth` oldest order (from 0).
    fn updated_at(&self, nth: usize) -> time::OffsetDateTime {
        commerce_updated_at(&self.oldest[nth])
    }
}

/// Orders keep changing while their stream is read: each of the cycle's three passes sees one
/// move. The cycle stops after the third, with the watermark where the last moved order was first
/// read (no further, and not left where it was), and the next cycle takes in what is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_changing_on_every_pass_end_the_passes_but_not_the_watermark() {
    let shop = PagedShop::start(|h| TouchedMidRead::new(h, 3)).await;
    let (h, store, engine) = (&shop.h, &shop.store, &shop.engine);
    let first = engine.run_cycle().await.expect("cycle");
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    // The third pass began with the third oldest order, and saw it move.
    assert_eq!(
        order_watermark(&**store).await,
        Some(shop.updated_at(2)),
        "{first:?}"
    );

    let second = engine.run_cycle().await.expect("cycle");
    assert!(second.errors.is_empty(), "{:?}", second.errors);
    let orders = h.commerce_orders().await;
    let taken_in = records(&**store, EntityKind::Order).await;
    assert_eq!(taken_in.len(), orders.len(), "{first:?} {second:?}");
    let latest = orders.iter().map(commerce_updated_at).max().unwrap();
    assert_eq!(order_watermark(&**store).await, Some(latest));
    shop.h.sims.shutdown().await;
}

/// Touches the first order of the first pass as it is taken in (see [`TouchedMidRead`]), then
/// makes every Commerce call fail once `fail_after` orders were taken in.
struct TouchedThenFailing {
    touched: TouchedMidRead,
    fail_after: Nth,
    sim: SimApi,
}

#[async_trait::async_trait]
impl StoreHooks for TouchedThenFailing {
    async fn after_intake(&self, key: &connector_core::state::RecordKey, at: time::OffsetDateTime) {
        self.touched.after_intake(key, at).await;
        if self.fail_after.hit() {
            self.sim
                .set_faults(&CommerceFaults {
                    server_error_rate: 1.0,
                    ..CommerceFaults::default()
                })
                .await;
        }
    }
}

/// A read that fails part-way, after an order changed on a page already read: the change moved
/// a later order onto that page, so the pages read after it are not vouched for. The watermark
/// stays at the end of the first page, and the next cycle takes in the order that went unread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_that_fails_after_an_order_moved_vouches_for_its_first_page_only() {
    let shop = PagedShop::start(|h| TouchedThenFailing {
        touched: TouchedMidRead::new(h, 1),
        // The first two pages; the third fails.
        fail_after: Nth::new(10),
        sim: h.sim_api(),
    })
    .await;
    let (h, store, engine) = (&shop.h, &shop.store, &shop.engine);
    let first = engine.run_cycle().await.expect("cycle");
    assert!(
        first
            .errors
            .iter()
            .any(|(kind, _)| *kind == EntityKind::Order),
        "{first:?}"
    );
    assert_eq!(records(&**store, EntityKind::Order).await.len(), 10);
    assert_eq!(
        order_watermark(&**store).await,
        Some(shop.updated_at(4)),
        "{first:?}"
    );

    h.sim_api().set_faults(&CommerceFaults::default()).await;
    let second = engine.run_cycle().await.expect("cycle");
    assert!(second.errors.is_empty(), "{:?}", second.errors);
    let orders = h.commerce_orders().await;
    let taken_in = records(&**store, EntityKind::Order).await;
    assert_eq!(taken_in.len(), orders.len(), "{second:?}");
    assert_all(&taken_in, |r| r.state == RecordState::Posted);
    shop.h.sims.shutdown().await;
}

/// Closes the engine it is given as the `close_after`-th order is taken in; the close goes on in a
/// task of its own.
struct ClosingMidRead {
    engine: std::sync::OnceLock<connector_core::engine::Engine>,
    close_after: Nth,
    closed: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

#[async_trait::async_trait]
impl StoreHooks for ClosingMidRead {
    async fn after_intake(&self, _: &connector_core::state::RecordKey, _: time::OffsetDateTime) {
        if !self.close_after.hit() {
            return;
        }
        let engine = self.engine.get().expect("engine set").clone();
        let mut close = Box::pin(async move { engine.close().await });
        // The first step of `close` marks the engine closing; the rest waits for the cycle.
        assert!(futures::poll!(close.as_mut()).is_pending());
        *self.closed.lock().unwrap() = Some(tokio::spawn(close));
    }
}

impl ClosingMidRead {
    fn after(close_after: usize) -> Self {
        Self {
            engine: std::sync::OnceLock::new(),
            close_after: Nth::new(close_after),
            closed: Mutex::new(None),
        }
    }
}

/// Two hooks, one after the other.
struct Both<A, B>(A, B);

#[async_trait::async_trait]
impl<A: StoreHooks, B: StoreHooks> StoreHooks for Both<A, B> {
    async fn after_intake(&self, key: &connector_core::state::RecordKey, at: time::OffsetDateTime) {
        self.0.after_intake(key, at).await;
        self.1.after_intake(key, at).await;
    }
}

/// Runs a cycle of `engine` that `closing` closes while it reads; returns the cycle's summary
/// once the close has ended.
async fn a_cycle_closed_mid_read(
    engine: &connector_core::engine::Engine,
    closing: &ClosingMidRead,
) -> connector_core::engine::CycleSummary {
    assert!(closing.engine.set(engine.clone()).is_ok(), "set once");
    a_cycle_cut_short(engine, || {
        closing.closed.lock().unwrap().take().expect("closed")
    })
    .await
}

/// An engine closed while it reads a stream reads no further page: two pages are taken in, the
/// watermark passes the first only (the read was cut short), and a new engine posts every order
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_an_engine_while_it_reads_reads_no_further_page() {
    let shop = PagedShop::start(|_| ClosingMidRead::after(10)).await;
    let store = &shop.store;
    let summary = a_cycle_closed_mid_read(&shop.engine, &store.hooks).await;
    let taken_in = records(&**store, EntityKind::Order).await;
    assert_eq!(taken_in.len(), 10, "{summary:?}");
    assert_eq!(order_watermark(&**store).await, Some(shop.updated_at(4)));
    assert_all(&taken_in, |r| {
        r.state == RecordState::Received && r.attempts == 0
    });

    a_new_engine_posts_every_order_once(&shop.h, &shop.setup, store).await;
    shop.h.sims.shutdown().await;
}

/// An engine closed as it takes in the stream's last page: the read was not cut, so the watermark
/// passes every order, and the streams after it are left for the next cycle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_an_engine_on_the_last_page_leaves_the_stream_read_whole() {
    let shop = PagedShop::start(|_| ClosingMidRead::after(20)).await;
    let store = &shop.store;
    let summary = a_cycle_closed_mid_read(&shop.engine, &store.hooks).await;
    assert_eq!(
        records(&**store, EntityKind::Order).await.len(),
        20,
        "{summary:?}"
    );
    assert_eq!(order_watermark(&**store).await, Some(shop.updated_at(19)));
    shop.h.sims.shutdown().await;
}

/// An engine closed while it reads, after an order on the first page changed and hid the first
/// order of the second page. The read ends before the changed order comes again, so nothing
/// shows the gap; the watermark passes the first page only, and a new engine takes in the hidden
/// order and posts every order once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_an_engine_while_it_reads_after_an_order_moved_keeps_the_hidden_one() {
    let shop =
        PagedShop::start(|h| Both(TouchedMidRead::new(h, 1), ClosingMidRead::after(10))).await;
    let store = &shop.store;
    let summary = a_cycle_closed_mid_read(&shop.engine, &store.hooks.1).await;
    // The first order, touched, was read before it moved; the sixth went unread.
    let taken_in = records(&**store, EntityKind::Order).await;
    assert_eq!(taken_in.len(), 10, "{summary:?}");
    let sixth = shop.oldest[5]["entity_id"].as_u64().unwrap().to_string();
    assert!(
        taken_in.iter().all(|r| r.key.commerce_id != sixth),
        "{taken_in:?}"
    );
    assert_eq!(order_watermark(&**store).await, Some(shop.updated_at(4)));

    a_new_engine_posts_every_order_once(&shop.h, &shop.setup, store).await;
    shop.h.sims.shutdown().await;
}

/// An engine closed while the page it asked for is held up by Commerce (for a minute, as long as
/// the client waits for an answer) drops that page: the cycle ends at once, cut short after the
/// first page, and a new engine posts every order once when Commerce answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_an_engine_while_a_page_is_held_up_drops_the_page() {
    let engine = Arc::new(std::sync::OnceLock::<connector_core::engine::Engine>::new());
    let to_close = Arc::clone(&engine);
    let shop = PagedShop::start(|h| {
        HoldingUpCommerce::new(h, 5, move || {
            let engine = to_close.get().expect("engine set").clone();
            Box::pin(async move { engine.close().await })
        })
    })
    .await;
    assert!(engine.set(shop.engine.clone()).is_ok(), "set once");
    let store = &shop.store;
    a_cycle_cut_short(&shop.engine, || {
        store.hooks.done.lock().unwrap().take().expect("closed")
    })
    .await;
    assert_eq!(records(&**store, EntityKind::Order).await.len(), 5);
    assert_eq!(order_watermark(&**store).await, Some(shop.updated_at(4)));

    shop.h.sim_api().release().await;
    a_new_engine_posts_every_order_once(&shop.h, &shop.setup, store).await;
    shop.h.sims.shutdown().await;
}

/// The service's stop signal, sent while the page the run loop asked for is held up by Commerce:
/// the loop drops the page and stops at once, and its cycle report says the cycle stopped
/// part-way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_signal_while_a_page_is_held_up_stops_the_run_loop_at_once() {
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let stop = Arc::new(stop);
    let shop = PagedShop::start(|h| {
        HoldingUpCommerce::new(h, 5, move || {
            let stop = Arc::clone(&stop);
            Box::pin(async move {
                stop.send_replace(true);
            })
        })
    })
    .await;
    let store = &shop.store;
    tokio::time::timeout(Duration::from_secs(20), shop.engine.run(shutdown))
        .await
        .expect("the loop stops with the signal, not with the page")
        .expect("clean stop");
    assert_eq!(records(&**store, EntityKind::Order).await.len(), 5);
    assert_eq!(order_watermark(&**store).await, Some(shop.updated_at(4)));
    let reports = store.cycle_reports().await.expect("cycle reports");
    assert_eq!(
        reports
            .iter()
            .map(|r| r.outcome.as_str())
            .collect::<Vec<_>>(),
        ["stopped part-way by a shutdown (5 read, 0 posted)"],
    );
    shop.h.sims.shutdown().await;
}

/// An engine closed while the orders of an invoice page are on their way (Commerce holds every
/// order look-up for a minute) drops the page, read but not stored: the cycle ends at once with
/// no invoice taken in, and a new engine posts every invoice once Commerce answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_an_engine_while_an_invoice_page_looks_up_its_orders_drops_the_page() {
    let h = Harness::start(shop(4)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let setup = Setup {
        trigger: "invoice",
        ..Setup::default()
    };
    let engine = h.engine(&setup, store.clone()).await;
    let api = h.sim_api();
    api.hold(&["GET /V1/orders", "GET /V1/orders/{id}"]).await;
    let closing = api.close_when_called(&engine, "GET /V1/orders");
    a_cycle_cut_short(&engine, || closing).await;
    assert!(records(&*store, EntityKind::Invoice).await.is_empty());
    assert_eq!(
        stream_watermark(&*store, EntityKind::Invoice).await,
        None,
        "nothing stored, nothing vouched for"
    );

    api.release().await;
    let next = h.engine(&setup, store.clone()).await;
    let summary = next.run_cycle().await.expect("cycle");
    assert!(summary.errors.is_empty(), "{:?}", summary.errors);
    let invoices = h.commerce_invoices().await;
    let posted = in_state(&*store, EntityKind::Invoice, RecordState::Posted).await;
    assert_eq!(posted.len(), invoices.len(), "{summary:?}");
    h.sims.shutdown().await;
}

/// Sends the run loop's stop signal as the `stop_after`-th order is taken in.
struct StoppingMidRead {
    stop: tokio::sync::watch::Sender<bool>,
    stop_after: Nth,
}

#[async_trait::async_trait]
impl StoreHooks for StoppingMidRead {
    async fn after_intake(&self, _: &connector_core::state::RecordKey, _: time::OffsetDateTime) {
        if self.stop_after.hit() {
            self.stop.send_replace(true);
        }
    }
}

/// The service's stop signal, sent while the run loop reads its first cycle's orders: the loop
/// reads no further page, moves the watermark past the first page only, says in its cycle report
/// that the cycle stopped part-way, and ends cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_signal_while_the_run_loop_reads_reads_no_further_page() {
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let shop = PagedShop::start(|_| StoppingMidRead {
        stop,
        stop_after: Nth::new(10),
    })
    .await;
    let store = &shop.store;
    tokio::time::timeout(Duration::from_secs(20), shop.engine.run(shutdown))
        .await
        .expect("the loop stops")
        .expect("clean stop");
    assert_eq!(records(&**store, EntityKind::Order).await.len(), 10);
    assert_eq!(order_watermark(&**store).await, Some(shop.updated_at(4)));
    let reports = store.cycle_reports().await.expect("cycle reports");
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(
        reports[0].outcome, "stopped part-way by a shutdown (10 read, 0 posted)",
        "{reports:?}"
    );
    assert_eq!(
        reports[0].next_due_at, None,
        "a stopped worker plans no next cycle"
    );
    shop.h.sims.shutdown().await;
}

/// A stop signal whose sender is gone, having never said stop, leaves the run loop on its
/// schedule: it waits for its next cycle (the test's clock never moves) instead of running
/// cycles back to back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_loop_whose_stop_sender_is_gone_keeps_its_schedule() {
    let h = Harness::start(shop(3)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = h.engine(&Setup::default(), store.clone()).await;
    // The first cycle ends; the stop sender goes; then no call comes while the clock stands still.
    let (stop, running) = a_run_loop_past_its_first_cycle(&engine, &*store).await;
    drop(stop);
    let api = h.sim_api();
    let calls = api.calls(None).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(api.calls(None).await, calls, "cycles ran back to back");
    assert!(!running.is_finished(), "the loop waits for its next cycle");
    running.abort();
    engine.close().await;
    h.sims.shutdown().await;
}

/// While the run loop, between cycles, reads the order of a queued webhook notification (Commerce
/// holds the look-up for a minute), it keeps renewing its lease; a stop signal then stops the loop
/// at once: the order on its way is dropped rather than awaited, and the notification queued again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_signal_while_a_queued_notification_is_read_stops_the_run_loop_at_once() {
    let h = Harness::start(shop(3)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = h.engine(&Setup::default(), store.clone()).await;
    let (stop, running) = a_run_loop_past_its_first_cycle(&engine, &*store).await;

    const LOOK_UP: &str = "GET /V1/orders/{id}";
    let api = h.sim_api();
    api.hold(&[LOOK_UP]).await;
    let seen = api.calls(Some(LOOK_UP)).await;
    let key =
        connector_core::state::RecordKey::new(engine.connection().clone(), EntityKind::Order, "2");
    store.push_notification(&key).await.expect("queued");
    // The waiting loop takes queued notifications once a second of its clock.
    let taken = eventually_within(Duration::from_secs(10), || async {
        h.clock.advance(Duration::from_secs(1));
        api.calls(Some(LOOK_UP)).await > seen
    })
    .await;
    assert!(taken, "the queued notification was taken");
    // However long the look-up takes, the worker keeps the connection's lease.
    let ttl = time::Duration::seconds(60);
    for _ in 0..6 {
        h.clock.advance(Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let held = eventually_within(Duration::from_secs(5), || async {
        let leases = store.leases().await.expect("leases");
        leases
            .iter()
            .any(|l| l.expires_at > h.clock.now() + ttl / 2)
    })
    .await;
    assert!(
        held,
        "the lease was renewed while the notification was taken"
    );
    stop.send_replace(true);
    tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .expect("the loop stops with the signal, not with the look-up")
        .expect("the loop's task")
        .expect("clean stop");
    // The notification is queued again for the connection's next holder.
    let queued = store
        .take_notifications(engine.connection(), 100)
        .await
        .expect("queue");
    assert_eq!(
        queued.iter().map(|n| &n.key).collect::<Vec<_>>(),
        [&key],
        "queued again"
    );
    h.sims.shutdown().await;
}

/// A new order in the simulated shop, as the record key `engine` gives it.
async fn a_new_order(h: &Harness, engine: &connector_core::engine::Engine) -> RecordKey {
    let order = h.sim_post("orders", json!({"store": "web"})).await;
    RecordKey::new(
        engine.connection().clone(),
        EntityKind::Order,
        order["entity_id"].to_string(),
    )
}

/// A run loop that can no longer renew its lease does nothing for the queued webhook
/// notifications it takes between cycles, nor for a webhook its worker takes in, as its cycles
/// claim nothing then: another worker may hold the connection and be posting the same records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_loop_that_lost_its_lease_does_nothing_for_notifications() {
    use std::sync::atomic::Ordering::SeqCst;
    let h = Harness::start(shop(3)).await;
    let store = Arc::new(HookedStore {
        inner: MemoryStore::new(Arc::new(h.clock.clone())),
        hooks: LeaseTakenElsewhere::default(),
    });
    let (engine, stop, running) = a_minute_run_loop(&h, &store, |_| {}).await;
    assert_eq!(h.ledger_invoices().await.len(), 3, "the first cycle posts");

    // A new order, notified through the queue, once the lease has gone to another worker.
    let queued = a_new_order(&h, &engine).await;
    store.hooks.taken.store(true, SeqCst);
    const LOOK_UP: &str = "GET /V1/orders/{id}";
    let api = h.sim_api();
    let seen = api.calls(Some(LOOK_UP)).await;
    store.push_notification(&queued).await.expect("queued");
    // The waiting loop takes queued notifications once a second of its clock (well within its
    // minute's wait, and its lease's own renewals every 20 s), and asks for the lease first.
    let taken = eventually_within(Duration::from_secs(10), || async {
        h.clock.advance(Duration::from_millis(500));
        store.hooks.refused.load(SeqCst) > 0
    })
    .await;
    assert!(taken, "the queued notification was taken");
    // Another, taken in by this worker's webhook server, as `ml-connector run` does. It waits for
    // the queued one's unit of work to end.
    let webhook = a_new_order(&h, &engine).await;
    let notified = engine.notify(EntityKind::Order, &webhook.commerce_id).await;
    assert!(
        matches!(
            notified,
            Err(EngineError::Store(
                connector_core::state::StoreError::LeaseLost { .. }
            ))
        ),
        "{notified:?}"
    );
    // A whole cycle a webhook asks for (an order event on an invoice-triggered connection).
    let cycle = engine.run_cycle().await;
    assert!(
        matches!(
            cycle,
            Err(EngineError::Store(
                connector_core::state::StoreError::LeaseLost { .. }
            ))
        ),
        "{cycle:?}"
    );
    assert!(
        store.hooks.refused.load(SeqCst) >= 3,
        "the lease was asked for"
    );
    stop_run_loop(&stop, running).await;
    assert_eq!(h.ledger_invoices().await.len(), 3, "nothing more posted");
    assert_eq!(api.calls(Some(LOOK_UP)).await, seen, "nothing read either");
    let requeued = store
        .take_notifications(engine.connection(), 100)
        .await
        .expect("queue");
    assert_eq!(
        requeued.iter().map(|n| &n.key).collect::<Vec<_>>(),
        [&queued],
        "the queued notification is left for the lease's holder"
    );
    for key in [&queued, &webhook] {
        assert!(
            store.get(key).await.expect("get").is_none(),
            "{key} left for the lease's holder"
        );
    }
    h.sims.shutdown().await;
}

/// A worker held up past its lease between claiming a batch and sending its AR invoices, or
/// between the invoices and their GL journals, sends nothing more: the lease may be another
/// worker's by then, reconciling the same records. So too when the lease came back to it in
/// between (a new generation): the other worker may have posted the records meanwhile. The
/// records stay in `posting`, their trail says why, and the run loop asks for the lease again
/// instead of ending; once it holds it again, it reconciles them and posts each invoice and
/// journal once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_held_up_past_its_lease_before_a_send_sends_nothing() {
    use std::sync::atomic::Ordering::SeqCst;
    for (before, taken_back, invoices_sent) in [
        ("ARSTIN invoice", false, 0),
        ("GENTJL journal", false, 3),
        ("ARSTIN invoice", true, 0),
    ] {
        let h = Harness::start(shop(3)).await;
        let inner = MemoryStore::new(Arc::new(h.clock.clone()));
        let mut hooks = StalledBeforeTheSend::new(before, &h.clock);
        hooks.back = taken_back.then(|| inner.clone());
        let store = Arc::new(HookedStore { inner, hooks });
        let (_engine, stop, running) = a_minute_run_loop(&h, &store, |_| {}).await;
        assert!(store.hooks.stalled.load(SeqCst), "{before}: held up");
        assert_eq!(h.ledger_invoices().await.len(), invoices_sent, "{before}");
        assert!(h.ledger_journals().await.is_empty(), "{before}: no journal");
        assert_left_unsent_for_the_lease(&*store, 3, before).await;
        let report = store.cycle_reports().await.expect("reports");
        assert!(
            report[0].outcome.contains("lease"),
            "{before}: {:?}",
            report[0].outcome
        );

        // The lease is this worker's to take again: its next cycle reconciles and posts.
        store.hooks.lease.taken.store(false, SeqCst);
        let posted = orders_posted_as_the_clock_moves(&h, &*store, 3).await;
        assert!(posted, "{before}: posted once the lease is back");
        assert_eq!(
            h.ledger_invoices().await.len(),
            3,
            "{before}: invoices once"
        );
        assert_eq!(
            h.ledger_journals().await.len(),
            3,
            "{before}: journals once"
        );
        stop_run_loop(&stop, running).await;
        h.sims.shutdown().await;
    }
}

/// A run loop dropped part-way (its task aborted) leaves its engine as one without a run loop:
/// a webhook's `notify` afterwards asks for no lease and posts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_whose_run_loop_was_dropped_posts_without_a_lease() {
    use std::sync::atomic::Ordering::SeqCst;
    let h = Harness::start(shop(3)).await;
    let store = Arc::new(HookedStore {
        inner: MemoryStore::new(Arc::new(h.clock.clone())),
        hooks: LeaseTakenElsewhere::default(),
    });
    let (engine, _stop, running) = a_minute_run_loop(&h, &store, |_| {}).await;
    running.abort();
    let _ = running.await;
    store.hooks.taken.store(true, SeqCst);
    let order = a_new_order(&h, &engine).await;
    let summary = engine
        .notify(EntityKind::Order, &order.commerce_id)
        .await
        .expect("notify");
    assert_eq!(summary.posted, 1, "{summary:?}");
    assert_eq!(store.hooks.refused.load(SeqCst), 0, "no lease asked for");
    engine.close().await;
    h.sims.shutdown().await;
}

/// An engine closed while a webhook's document is on its way (Commerce holds the look-up for a
/// minute) drops it: `notify` fails at once with `Closed`, which tells its caller to queue the
/// notification; and a replay on its way stops, leaving the records it has not read again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_an_engine_while_a_webhook_or_replay_reads_a_document_drops_it() {
    const LOOK_UP: &str = "GET /V1/orders/{id}";
    let h = Harness::start(shop(3)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = h.engine(&Setup::default(), store.clone()).await;
    engine.run_cycle().await.expect("first cycle");
    let api = h.sim_api();
    api.hold(&[LOOK_UP]).await;
    let closing = api.close_when_called(&engine, LOOK_UP);
    let notified = tokio::time::timeout(
        Duration::from_secs(20),
        engine.notify(EntityKind::Order, "2"),
    )
    .await
    .expect("the close ends the notification, not the look-up");
    assert!(
        matches!(notified, Err(EngineError::Closed { .. })),
        "{notified:?}"
    );
    closing.await.expect("closed");

    let next = h.engine(&Setup::default(), store.clone()).await;
    let keys: Vec<_> = ["1", "2", "3"]
        .into_iter()
        .map(|id| {
            connector_core::state::RecordKey::new(next.connection().clone(), EntityKind::Order, id)
        })
        .collect();
    let seen = api.calls(Some(LOOK_UP)).await;
    let closing = {
        let (api, next) = (api.clone(), next.clone());
        tokio::spawn(async move {
            api.await_call(Some(LOOK_UP), seen).await;
            next.close().await;
        })
    };
    let replayed = tokio::time::timeout(Duration::from_secs(20), next.replay(&keys, false))
        .await
        .expect("the close ends the replay, not the look-up")
        .expect("replay");
    assert!(replayed.interrupted, "{replayed:?}");
    closing.await.expect("closed");
    assert_eq!(
        api.calls(Some(LOOK_UP)).await,
        seen + 1,
        "no further document read after the close"
    );
    h.sims.shutdown().await;
}

/// Halts the document numbered `refused` (as a mapping gap would) and plans the rest with the
/// default mapper.
struct RefusingMapper {
    inner: DefaultMapper,
    refused: &'static str,
}

impl Mapper for RefusingMapper {
    fn plan(
        &self,
        doc: &SourceDocument,
        ctx: &MappingContext<'_>,
    ) -> Result<PostingPlan, MappingError> {
        if doc.increment_id == self.refused {
            return Err(MappingError::UnknownStore {
                store: "closed-store".to_owned(),
            });
        }
        self.inner.plan(doc, ctx)
    }
}

/// A halt decided on a version Commerce replaced meanwhile does not stick to the newer version:
/// it is set aside, and the newer version (which maps) is posted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_halt_decided_on_an_older_version_is_set_aside() {
    let h = Harness::start(shop(6)).await;
    let store = Arc::new(HookedStore {
        inner: MemoryStore::new(Arc::new(h.clock.clone())),
        hooks: ChangedMidPage::new(
            EntityKind::Order,
            |order| order["increment_id"] = json!("000000901"),
            Arc::new(h.clock.clone()),
        ),
    });
    let setup = Setup::default();
    let mapper = Arc::new(RefusingMapper {
        inner: DefaultMapper::for_connection(&h.connection(&setup)),
        refused: "000000001",
    });
    let engine = h.engine_with_mapper(&setup, store.clone(), mapper).await;
    let summary = engine.run_cycle().await.expect("cycle");
    assert!(summary.errors.is_empty(), "{:?}", summary.errors);
    assert!(summary.halted.is_empty(), "{:?}", summary.halted);
    let key = store.hooks.changed_key();
    let record = store.get(&key).await.unwrap().expect("the changed record");
    let trail = audit_messages(&*store, &key, None).await;
    assert_eq!(record.state, RecordState::Posted, "{trail:?}");
    assert!(
        trail.iter().any(|m| m.starts_with("halt set aside")),
        "{trail:?}"
    );
    assert!(!trail.iter().any(|m| m.contains("-> halted")), "{trail:?}");
    assert!(
        record
            .syspro
            .invoice
            .as_deref()
            .is_some_and(|n| n.ends_with("000000901")),
        "{record:?}"
    );
    assert_eq!(h.ledger_invoices().await.len(), 6);
    h.sims.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_made_from_an_older_version_is_never_posted() {
    let h = Harness::start(shop(6)).await;
    let store = Arc::new(HookedStore {
        inner: MemoryStore::new(Arc::new(h.clock.clone())),
        // Commerce renumbered the order while the mapper planned its older version.
        hooks: ChangedMidPage::new(
            EntityKind::Order,
            |order| order["increment_id"] = json!("000000901"),
            Arc::new(h.clock.clone()),
        ),
    });
    let engine = h.engine(&Setup::default(), store.clone()).await;
    let summary = engine.run_cycle().await.expect("cycle");
    assert!(summary.errors.is_empty(), "{:?}", summary.errors);
    let key = store.hooks.changed_key();
    let record = store.get(&key).await.unwrap().expect("the changed record");
    let trail = audit_messages(&*store, &key, None).await;
    assert_eq!(record.state, RecordState::Posted, "{trail:?}");
    // The mapper planned the older version (its number); that plan was set aside when the move
    // to `mapped` found the newer version, which was then planned, mapped and posted. (The trail
    // lists the newest entry first.)
    let at = |wanted: &dyn Fn(&str) -> bool| {
        trail
            .iter()
            .position(|m| wanted(m))
            .unwrap_or_else(|| panic!("{trail:?}"))
    };
    let newer = at(&|m| m.starts_with("plan rendered") && m.contains("000000901"));
    let set_aside = at(&|m| m.starts_with("plan set aside"));
    let older = at(&|m| m.starts_with("plan rendered") && !m.contains("000000901"));
    let mapped = at(&|m| m.ends_with("-> mapped: mapped"));
    assert!(
        mapped < newer && newer < set_aside && set_aside < older,
        "{trail:?}"
    );
    assert_eq!(
        trail
            .iter()
            .filter(|m| m.ends_with("-> mapped: mapped"))
            .count(),
        1,
        "{trail:?}"
    );
    let number = record.syspro.invoice.clone().expect("an invoice number");
    assert!(number.ends_with("000000901"), "{number}: {trail:?}");
    let ledger = h.ledger_invoices().await;
    assert!(ledger.contains_key(&number), "{ledger:?}");
    assert_eq!(ledger.len(), 6, "each order once: {ledger:?}");
    h.sims.shutdown().await;
}

/// With batches of one, the mapper keeps waiting for the poster; a shutdown in the middle of the
/// cycle still stops it promptly, and the next cycle posts the rest once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_while_the_mapper_waits_for_the_poster_stops_the_cycle() {
    let h = Harness::start(shop(40)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let setup = Setup {
        batch_size: 1,
        ..Setup::default()
    };
    let engine = h.engine(&setup, store.clone()).await;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn({
        let engine = engine.clone();
        async move { engine.run(shutdown).await }
    });
    eventually(|| async { orders_posted(&*store).await >= 3 }).await;
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), runner)
        .await
        .expect("the loop stops")
        .expect("no panic")
        .expect("clean stop");
    let posted = in_state(&*store, EntityKind::Order, RecordState::Posted).await;
    assert!(
        posted.len() < 40,
        "stopped before the end: {}",
        posted.len()
    );

    // The stopped engine closed: it takes no more work and leaves every record as it was, so no
    // record uses up an attempt on a client that logged off.
    let left = records(&*store, EntityKind::Order).await;
    let refused = engine.run_cycle().await;
    assert!(
        matches!(refused, Err(EngineError::Closed { .. })),
        "{refused:?}"
    );
    assert_eq!(records(&*store, EntityKind::Order).await, left);
    assert!(
        left.iter()
            .all(|r| r.state != RecordState::RetryWait && r.attempts <= 1),
        "{left:?}"
    );

    // A new engine (a restarted service) posts the rest at once.
    let rest = a_new_engine_posts_every_order_once(&h, &setup, &store).await;
    assert!(rest.errors.is_empty(), "{:?}", rest.errors);
    h.sims.shutdown().await;
}

/// Closing an engine in the middle of a cycle lets the batch in hand finish on the open client,
/// then claims nothing more: no record is left in `posting` or waiting for a retry, and none used
/// up an attempt. The cycle reports itself interrupted, later work is refused, and a new engine
/// posts the rest once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_an_engine_mid_cycle_finishes_the_batch_in_hand_and_claims_no_more() {
    let h = Harness::start(shop(40)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let setup = Setup {
        batch_size: 1,
        ..Setup::default()
    };
    let engine = h.engine(&setup, store.clone()).await;
    let cycle = tokio::spawn({
        let engine = engine.clone();
        async move { engine.run_cycle().await }
    });
    eventually(|| async { orders_posted(&*store).await >= 3 }).await;
    tokio::time::timeout(Duration::from_secs(10), engine.close())
        .await
        .expect("close waits for the batch in hand only");
    let summary = cycle.await.expect("no panic").expect("the cycle ends well");
    assert!(summary.interrupted, "{summary:?}");
    assert!(summary.halted.is_empty(), "{:?}", summary.halted);
    let left = records(&*store, EntityKind::Order).await;
    let posted = left
        .iter()
        .filter(|r| r.state == RecordState::Posted)
        .count();
    assert!(
        (3..40).contains(&posted),
        "stopped before the end: {posted}"
    );
    assert_all(&left, |r| {
        matches!(
            r.state,
            RecordState::Posted | RecordState::Received | RecordState::Mapped
        ) && r.attempts <= 1
    });
    let refused = engine
        .notify(EntityKind::Order, &left[0].key.commerce_id)
        .await;
    assert!(
        matches!(refused, Err(EngineError::Closed { .. })),
        "{refused:?}"
    );

    a_new_engine_posts_every_order_once(&h, &setup, &store).await;
    h.sims.shutdown().await;
}

/// Plans with the default mapper, slowly.
struct SlowMapper {
    inner: DefaultMapper,
}

impl Mapper for SlowMapper {
    fn plan(
        &self,
        doc: &SourceDocument,
        ctx: &MappingContext<'_>,
    ) -> Result<PostingPlan, MappingError> {
        // Planning is synchronous: a short block stands for a slow mapper.
        #[allow(clippy::disallowed_methods)]
        std::thread::sleep(Duration::from_millis(10));
        self.inner.plan(doc, ctx)
    }
}

/// A shop of 40 orders whose engine maps slowly ([`SlowMapper`]) and writes mapped documents two
/// at a time, so a shutdown comes in the middle of a page.
struct SlowlyMappingShop {
    h: Harness,
    store: Arc<MemoryStore>,
    setup: Setup,
    engine: connector_core::engine::Engine,
}

impl SlowlyMappingShop {
    async fn start() -> Self {
        let h = Harness::start(shop(40)).await;
        let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
        let setup = Setup {
            batch_size: 2,
            ..Setup::default()
        };
        let mapper = Arc::new(SlowMapper {
            inner: DefaultMapper::for_connection(&h.connection(&setup)),
        });
        let engine = h.engine_with_mapper(&setup, store.clone(), mapper).await;
        Self {
            h,
            store,
            setup,
            engine,
        }
    }

    async fn in_state(&self, received: bool) -> usize {
        records(&*self.store, EntityKind::Order)
            .await
            .iter()
            .filter(|r| (r.state == RecordState::Received) == received)
            .count()
    }

    /// Orders the engine has taken past `received`.
    async fn worked_on(&self) -> usize {
        self.in_state(false).await
    }

    /// Orders still `received`.
    async fn still_received(&self) -> usize {
        self.in_state(true).await
    }

    /// Waits (20 s at most) until four orders are mapped: the mapping is under way.
    async fn mapping_begun(&self) {
        let begun = eventually_within(Duration::from_secs(20), || async {
            self.worked_on().await >= 4
        })
        .await;
        assert!(begun, "the mapping began");
    }
}

/// Closing an engine while it maps a page stops the mapping at the next document: what it mapped
/// is kept, the rest stay `received`, untouched, and a new engine maps and posts them once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_an_engine_while_it_maps_leaves_the_rest_received() {
    let shop = SlowlyMappingShop::start().await;
    let cycle = tokio::spawn({
        let engine = shop.engine.clone();
        async move { engine.run_cycle().await }
    });
    shop.mapping_begun().await;
    tokio::time::timeout(Duration::from_secs(10), shop.engine.close())
        .await
        .expect("close waits for the document in hand only");
    let summary = cycle.await.expect("no panic").expect("the cycle ends well");
    assert!(summary.halted.is_empty(), "{:?}", summary.halted);
    let left = records(&*shop.store, EntityKind::Order).await;
    assert!(
        shop.still_received().await > 0,
        "mapping went on after the close: {summary:?}"
    );
    assert!(shop.worked_on().await >= 4, "{summary:?}");
    assert_all(&left, |r| {
        matches!(
            r.state,
            RecordState::Received | RecordState::Mapped | RecordState::Posted
        )
    });

    a_new_engine_posts_every_order_once(&shop.h, &shop.setup, &shop.store).await;
    shop.h.sims.shutdown().await;
}

/// The service's stop signal while the run loop maps a page stops the mapping at the next
/// document, as a close does, not at the end of its pass: the rest stay `received`, and a new
/// engine maps and posts them once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_signal_while_the_run_loop_maps_leaves_the_rest_received() {
    let shop = SlowlyMappingShop::start().await;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let running = tokio::spawn({
        let engine = shop.engine.clone();
        async move { engine.run(shutdown).await }
    });
    shop.mapping_begun().await;
    stop.send_replace(true);
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the loop stops with the document in hand")
        .expect("no panic")
        .expect("clean stop");
    assert!(
        shop.still_received().await > 0,
        "mapping went on after the stop signal"
    );
    let reports = shop.store.cycle_reports().await.expect("cycle reports");
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(
        reports[0]
            .outcome
            .starts_with("stopped part-way by a shutdown"),
        "{reports:?}"
    );

    a_new_engine_posts_every_order_once(&shop.h, &shop.setup, &shop.store).await;
    shop.h.sims.shutdown().await;
}

/// A notification posts every record due, with no stop signal of its own; closing the engine
/// meanwhile still stops it after the batch in hand, and the records it did not reach keep their
/// attempts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_an_engine_while_a_notification_posts_claims_no_more() {
    let h = Harness::start(shop(0)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let client = h.syspro_client();
    let setup = Setup::default();
    let first = h
        .engine_with(&setup, store.clone(), Some(client.clone()))
        .await;
    first.run_cycle().await.expect("first cycle");
    // Posts that cannot be sent leave 40 orders waiting for a retry, one attempt each.
    client.close().await.expect("logoff");
    for _ in 0..40 {
        h.sim_post("orders", json!({"store": "web"})).await;
    }
    let failed = first.run_cycle().await.expect("cycle");
    assert_eq!(failed.retried, 40, "{failed:?}");

    h.clock.advance(Duration::from_secs(3600));
    let setup = Setup {
        batch_size: 1,
        ..Setup::default()
    };
    let engine = h.engine(&setup, store.clone()).await;
    let notified = records(&*store, EntityKind::Order).await[0].key.clone();
    let work = tokio::spawn({
        let engine = engine.clone();
        async move {
            engine
                .notify(EntityKind::Order, &notified.commerce_id)
                .await
        }
    });
    eventually(|| async { orders_posted(&*store).await >= 3 }).await;
    tokio::time::timeout(Duration::from_secs(10), engine.close())
        .await
        .expect("close waits for the batch in hand only");
    let summary = work
        .await
        .expect("no panic")
        .expect("the notification ends well");
    assert!(summary.interrupted, "{summary:?}");
    let left = records(&*store, EntityKind::Order).await;
    let posted = left
        .iter()
        .filter(|r| r.state == RecordState::Posted)
        .count();
    assert!(
        (3..40).contains(&posted),
        "stopped before the end: {posted}"
    );
    assert_all(&left, |r| match r.state {
        RecordState::Posted => true,
        RecordState::RetryWait => r.attempts == 1,
        _ => false,
    });
    h.sims.shutdown().await;
}

/// An engine whose SYSPRO client was closed under it reaches SYSPRO no more. A document whose
/// customer it must look up by e-mail waits for SYSPRO instead of halting as if SYSPRO had no such
/// customer, and a new engine maps and posts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_look_up_the_closed_client_cannot_make_halts_nothing() {
    let mut shop = shop(2);
    shop.guest_share = 0.0;
    let h = Harness::start(shop).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let setup = Setup::default();
    let client = h.syspro_client();
    let engine = h
        .engine_with(&setup, store.clone(), Some(client.clone()))
        .await;
    engine.run_cycle().await.expect("first cycle");
    // The client is closed under the engine (as one shared with other work might be).
    client.close().await.expect("logoff");
    // A customer with an address the engine has not seen orders again.
    let customer = records(&*store, EntityKind::Customer).await[0].key.clone();
    h.sims.commerce.advance_clock(Duration::from_secs(60));
    h.sim_post(
        &format!("customers/{}", customer.commerce_id),
        json!({"email": "moved-house@example.com"}),
    )
    .await;
    let id: i64 = customer.commerce_id.parse().unwrap();
    h.sim_post("orders", json!({"store": "web", "customer_id": id}))
        .await;

    let closed = engine.run_cycle().await.expect("cycle");
    assert!(closed.halted.is_empty(), "{:?}", closed.halted);
    assert_eq!(closed.intake_new, 2, "{closed:?}");

    a_new_engine_posts_every_order_once(&h, &setup, &store).await;
    assert_eq!(h.commerce_orders().await.len(), 3);
    h.sims.shutdown().await;
}
