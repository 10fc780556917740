//! Keeping SYSPRO customers in step with Commerce (ARSSCS Setup/Update) and writing the SYSPRO code
//! back to a Commerce customer attribute, against the simulators.

use std::sync::Arc;
use std::time::Duration;

use connector_core::audit::AuditLog;
use connector_core::clock::Clock;
use connector_core::state::{
    ConnectionName, EntityKind, Fingerprint, Intake, MemoryStore, Record, RecordKey, RecordState,
    SqliteStore, StateStore, SysproKeys, Target, Transition,
};
use serde_json::{Value, json};

use crate::support::*;

const ATTRIBUTE: &str = "erp_customer_code";
const UPDATE: &str = "Setup/Update ARSSCS";
const ADD: &str = "Setup/Add ARSSCS";
const WRITE: &str = "PUT /V1/customers/{id}";

fn updates(h: &Harness) -> u64 {
    let stats = h.sims.syspro.stats();
    stats
        .business_object_calls
        .get(UPDATE)
        .copied()
        .unwrap_or(0)
}

fn adds(h: &Harness) -> u64 {
    let stats = h.sims.syspro.stats();
    stats.business_object_calls.get(ADD).copied().unwrap_or(0)
}

fn write_backs(h: &Harness) -> u64 {
    h.sims
        .commerce
        .call_counts()
        .get(WRITE)
        .copied()
        .unwrap_or(0)
}

async fn get_json(h: &Harness, url: String) -> Value {
    let response = h.http.get(&url).send().await.expect("inspection call");
    assert!(response.status().is_success(), "{url}");
    response.json().await.expect("inspection JSON")
}

async fn syspro_customers(h: &Harness) -> Vec<Value> {
    let all = get_json(h, format!("{}/__sim/customers", h.sims.syspro.base_url())).await;
    all.as_array().cloned().unwrap_or_default()
}

async fn syspro_customer(h: &Harness, code: &str) -> Value {
    syspro_customers(h)
        .await
        .into_iter()
        .find(|c| c["customer"].as_str().map(str::trim) == Some(code))
        .unwrap_or_else(|| panic!("SYSPRO has no customer {code}"))
}

async fn commerce_customers(h: &Harness) -> Vec<Value> {
    let all = get_json(h, format!("{}/__sim/customers", h.sims.commerce.base_url())).await;
    all.as_array().cloned().unwrap_or_default()
}

fn attribute_of(customer: &Value, code: &str) -> Option<String> {
    customer["custom_attributes"]
        .as_array()?
        .iter()
        .find(|a| a["attribute_code"] == json!(code))
        .and_then(|a| a["value"].as_str())
        .map(str::to_owned)
}

/// A Commerce customer of one of the connection's stores.
async fn customer_in_scope(h: &Harness) -> u64 {
    commerce_customers(h)
        .await
        .iter()
        .find(|c| c["store_id"].as_u64().is_some_and(|s| (1..=3).contains(&s)))
        .and_then(|c| c["id"].as_u64())
        .expect("a customer of a connected store")
}

async fn customer_record<S: StateStore>(store: &S, id: u64) -> Record {
    records(store, EntityKind::Customer)
        .await
        .into_iter()
        .find(|r| r.key.commerce_id == id.to_string())
        .unwrap_or_else(|| panic!("no record of customer {id}"))
}

/// A posted customer record whose SYSPRO code is known, matched by email when there is one (so
/// that no update follows its creation).
async fn posted_customer<S: StateStore>(store: &S) -> (Record, String) {
    let posted = in_state(store, EntityKind::Customer, RecordState::Posted).await;
    let record = posted
        .iter()
        .find(|r| {
            r.syspro
                .customer
                .as_deref()
                .is_some_and(|c| !c.starts_with("WEB"))
        })
        .or_else(|| posted.first())
        .cloned()
        .expect("a posted customer record");
    let code = record
        .syspro
        .customer
        .clone()
        .expect("a posted customer record knows its SYSPRO code");
    (record, code)
}

async fn edit_customer(h: &Harness, key: &RecordKey, patch: Value) {
    h.sims.commerce.advance_clock(Duration::from_secs(60));
    h.sim_post(&format!("customers/{}", key.commerce_id), patch)
        .await;
}

async fn sqlite_store(h: &Harness, name: &str) -> SqliteStore {
    let dir = std::env::temp_dir().join(format!("engine-it-customers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let path = dir.join(format!("{name}.db"));
    let _ = std::fs::remove_file(&path);
    SqliteStore::open(&path, Arc::new(h.clock.clone()))
        .await
        .expect("SQLite store opens")
}

async fn assert_customers_posted<S: StateStore>(store: &S) {
    let open = not_posted(store, EntityKind::Customer).await;
    assert!(open.is_empty(), "customer records not posted: {open:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_customer_is_updated_in_syspro_once() {
    let h = Harness::start(shop(4)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = h
        .engine_edited(&Setup::default(), store.clone(), |_| {})
        .await;
    engine.run_cycle().await.expect("first cycle");
    assert_customers_posted(&*store).await;
    let (record, code) = posted_customer(&*store).await;
    let before = updates(&h);

    edit_customer(
        &h,
        &record.key,
        json!({"firstname": "Renata", "lastname": "Quist"}),
    )
    .await;
    let second = engine.run_cycle().await.expect("second cycle");
    assert!(second.errors.is_empty(), "{:?}", second.errors);
    assert_eq!(updates(&h), before + 1, "one ARSSCS update");
    let in_syspro = syspro_customer(&h, &code).await;
    assert_eq!(in_syspro["name"], json!("Renata Quist"));
    let after = customer_record(&*store, record.key.commerce_id.parse().unwrap()).await;
    assert_eq!(after.state, RecordState::Posted);
    assert_eq!(after.syspro.customer.as_deref(), Some(code.as_str()));
    let messages = audit_messages(&*store, &record.key, None).await;
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with(&format!("ARSSCS update customer {code}"))),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m == &format!("ARSSCS updated customer {code}")),
        "{messages:?}"
    );

    // Nothing changed since: the next cycles send nothing.
    h.sims.commerce.advance_clock(Duration::from_secs(30));
    engine.run_cycle().await.expect("third cycle");
    engine.run_cycle().await.expect("fourth cycle");
    assert_eq!(updates(&h), before + 1, "no further ARSSCS update");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_outside_the_kept_fields_sends_nothing() {
    let h = Harness::start(shop(4)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = h
        .engine_edited(&Setup::default(), store.clone(), |_| {})
        .await;
    engine.run_cycle().await.expect("first cycle");
    let (record, code) = posted_customer(&*store).await;
    let before = updates(&h);

    edit_customer(&h, &record.key, json!({"dob": "1980-02-03", "gender": 2})).await;
    engine.run_cycle().await.expect("second cycle");
    assert_eq!(updates(&h), before, "no ARSSCS update");
    let after = customer_record(&*store, record.key.commerce_id.parse().unwrap()).await;
    assert_eq!(after.state, RecordState::Posted);
    let messages = audit_messages(&*store, &record.key, None).await;
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("no ARSSCS update")
                && m.contains(&format!("SYSPRO customer {code}"))),
        "{messages:?}"
    );
}

async fn email_change_updates_the_same_customer<S>(h: &Harness, store: Arc<S>)
where
    S: StateStore + AuditLog + 'static,
{
    let engine = h
        .engine_edited(&Setup::default(), store.clone(), |_| {})
        .await;
    engine.run_cycle().await.expect("first cycle");
    let (record, code) = posted_customer(&*store).await;
    let customers_before = syspro_customers(h).await.len();
    let adds_before = adds(h);
    let updates_before = updates(h);

    let email = format!("moved-{}@example.net", record.key.commerce_id);
    edit_customer(h, &record.key, json!({ "email": email })).await;
    let second = engine.run_cycle().await.expect("second cycle");
    assert!(second.errors.is_empty(), "{:?}", second.errors);
    assert_eq!(adds(h), adds_before, "no customer created");
    assert_eq!(syspro_customers(h).await.len(), customers_before);
    assert_eq!(updates(h), updates_before + 1);
    assert_eq!(syspro_customer(h, &code).await["email"], json!(email));
    let after = customer_record(&*store, record.key.commerce_id.parse().unwrap()).await;
    assert_eq!(after.state, RecordState::Posted);
    assert_eq!(after.syspro.customer.as_deref(), Some(code.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_change_updates_the_same_syspro_customer() {
    let h = Harness::start(shop(4)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    email_change_updates_the_same_customer(&h, store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_change_updates_the_same_syspro_customer_with_sqlite() {
    let h = Harness::start(shop(4)).await;
    let store = Arc::new(sqlite_store(&h, "email-change").await);
    email_change_updates_the_same_customer(&h, store).await;
}

async fn write_back_once_without_a_loop<S>(h: &Harness, store: Arc<S>)
where
    S: StateStore + AuditLog + 'static,
{
    let engine = h
        .engine_edited(&Setup::default(), store.clone(), |c| {
            c.mapping.customers.write_back.attribute = Some(ATTRIBUTE.to_owned());
        })
        .await;
    engine.run_cycle().await.expect("first cycle");
    assert_customers_posted(&*store).await;
    let posted = in_state(&*store, EntityKind::Customer, RecordState::Posted).await;
    assert!(!posted.is_empty());
    let commerce = commerce_customers(h).await;
    for record in &posted {
        let customer = commerce
            .iter()
            .find(|c| {
                c["id"].as_u64().map(|id| id.to_string()).as_ref() == Some(&record.key.commerce_id)
            })
            .expect("the customer in Commerce");
        assert_eq!(
            attribute_of(customer, ATTRIBUTE),
            record.syspro.customer,
            "customer {}",
            record.key.commerce_id
        );
    }
    let written = write_backs(h);
    assert_eq!(written, posted.len() as u64, "one write per customer");
    let updates_before = updates(h);

    // The write changed `updated_at` in Commerce: the next cycles read the customers again.
    h.sims.commerce.advance_clock(Duration::from_secs(30));
    let second = engine.run_cycle().await.expect("second cycle");
    assert!(second.errors.is_empty(), "{:?}", second.errors);
    engine.run_cycle().await.expect("third cycle");
    assert_eq!(write_backs(h), written, "no second write");
    assert_eq!(updates(h), updates_before, "no ARSSCS update");
    assert_customers_posted(&*store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_back_sets_the_attribute_once_and_its_reread_changes_nothing() {
    let h = Harness::start(shop(4)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    write_back_once_without_a_loop(&h, store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_back_sets_the_attribute_once_and_its_reread_changes_nothing_with_sqlite() {
    let h = Harness::start(shop(4)).await;
    let store = Arc::new(sqlite_store(&h, "write-back").await);
    write_back_once_without_a_loop(&h, store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_already_in_commerce_is_used_and_not_written_again() {
    let h = Harness::start(shop(4)).await;
    let id = customer_in_scope(&h).await;
    // A code set by hand in Commerce, for a customer SYSPRO holds.
    let code = syspro_customers(&h).await[0]["customer"]
        .as_str()
        .expect("a SYSPRO customer")
        .trim()
        .to_owned();
    h.sim_post(
        &format!("customers/{id}"),
        json!({"custom_attributes": [{"attribute_code": ATTRIBUTE, "value": code}]}),
    )
    .await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = h
        .engine_edited(&Setup::default(), store.clone(), |c| {
            c.mapping.customers.write_back.attribute = Some(ATTRIBUTE.to_owned());
        })
        .await;
    engine.run_cycle().await.expect("first cycle");
    let record = customer_record(&*store, id).await;
    assert_eq!(record.state, RecordState::Posted, "{:?}", record.reason);
    assert_eq!(record.syspro.customer.as_deref(), Some(code.as_str()));
    let messages = audit_messages(&*store, &record.key, None).await;
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("write-back skipped") && m.contains(&code)),
        "{messages:?}"
    );
    assert!(
        !messages
            .iter()
            .any(|m| m.starts_with("Commerce write-back")),
        "{messages:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_in_commerce_that_syspro_lacks_halts_the_customer() {
    let h = Harness::start(shop(4)).await;
    let id = customer_in_scope(&h).await;
    h.sim_post(
        &format!("customers/{id}"),
        json!({"custom_attributes": [{"attribute_code": ATTRIBUTE, "value": "NOSUCH9"}]}),
    )
    .await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = h
        .engine_edited(&Setup::default(), store.clone(), |c| {
            c.mapping.customers.write_back.attribute = Some(ATTRIBUTE.to_owned());
        })
        .await;
    engine.run_cycle().await.expect("first cycle");
    let record = customer_record(&*store, id).await;
    assert_eq!(record.state, RecordState::Halted);
    let reason = record.reason.unwrap_or_default();
    assert!(
        reason.contains("NOSUCH9") && reason.contains(ATTRIBUTE),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_write_back_commerce_customers_are_never_written() {
    let h = Harness::start(shop(4)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = h
        .engine_edited(&Setup::default(), store.clone(), |_| {})
        .await;
    engine.run_cycle().await.expect("first cycle");
    assert_customers_posted(&*store).await;
    let (record, _) = posted_customer(&*store).await;
    edit_customer(&h, &record.key, json!({"lastname": "Okonkwo"})).await;
    engine.run_cycle().await.expect("second cycle");
    assert_eq!(write_backs(&h), 0, "no PUT /V1/customers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_update_halts_the_customer_with_syspros_reason() {
    let h = Harness::start(shop(4)).await;
    let id = customer_in_scope(&h).await;
    // The table points at a code SYSPRO does not hold: the update is refused.
    let setup = Setup {
        by_id: vec![(id, "GHOST1")],
        ..Setup::default()
    };
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = h
        .engine_edited(&setup, store.clone(), |c| {
            c.mapping.customers.update.table_mapped = true;
        })
        .await;
    engine.run_cycle().await.expect("first cycle");
    let record = customer_record(&*store, id).await;
    assert_eq!(record.state, RecordState::Posted);
    assert_eq!(record.syspro.customer.as_deref(), Some("GHOST1"));

    edit_customer(&h, &record.key, json!({"firstname": "Halvard"})).await;
    let second = engine.run_cycle().await.expect("second cycle");
    let record = customer_record(&*store, id).await;
    assert_eq!(record.state, RecordState::Halted);
    let reason = record.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("GHOST1") && reason.contains("Customer") && reason.contains("not found"),
        "{reason}"
    );
    assert!(
        second.halted.iter().any(|(key, _)| *key == record.key),
        "{:?}",
        second.halted
    );
    let messages = audit_messages(&*store, &record.key, None).await;
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("ARSSCS refused the update of customer GHOST1")),
        "{messages:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cash_customer_is_never_updated() {
    let h = Harness::start(shop(4)).await;
    let id = customer_in_scope(&h).await;
    let setup = Setup {
        by_id: vec![(id, "WEBCASH")],
        ..Setup::default()
    };
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = h
        .engine_edited(&setup, store.clone(), |c| {
            c.mapping.customers.update.table_mapped = true;
        })
        .await;
    engine.run_cycle().await.expect("first cycle");
    let before = updates(&h);
    let record = customer_record(&*store, id).await;
    edit_customer(&h, &record.key, json!({"firstname": "Casimir"})).await;
    engine.run_cycle().await.expect("second cycle");
    assert_eq!(updates(&h), before, "no ARSSCS update of a cash customer");
    let record = customer_record(&*store, id).await;
    assert_eq!(record.state, RecordState::Posted, "{:?}", record.reason);
    let messages = audit_messages(&*store, &record.key, None).await;
    assert!(
        messages
            .iter()
            .any(|m| m.contains("cash customers are never updated")),
        "{messages:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_mapped_customers_are_left_alone_by_default() {
    let h = Harness::start(shop(4)).await;
    let id = customer_in_scope(&h).await;
    let setup = Setup {
        by_id: vec![(id, "GHOST1")],
        ..Setup::default()
    };
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = h.engine_edited(&setup, store.clone(), |_| {}).await;
    engine.run_cycle().await.expect("first cycle");
    let before = updates(&h);
    let record = customer_record(&*store, id).await;
    edit_customer(&h, &record.key, json!({"lastname": "Tablemann"})).await;
    engine.run_cycle().await.expect("second cycle");
    assert_eq!(updates(&h), before);
    let record = customer_record(&*store, id).await;
    assert_eq!(record.state, RecordState::Posted, "{:?}", record.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_posted_before_codes_were_kept_still_updates_its_own_syspro_customer() {
    let h = Harness::start(shop(4)).await;
    let syspro = syspro_customers(&h).await;
    // A customer SYSPRO already holds, with its code.
    let (old, code) = commerce_customers(&h)
        .await
        .into_iter()
        .filter(|c| c["_sim_in_erp"] == json!(true))
        .filter(|c| c["store_id"].as_u64().is_some_and(|s| (1..=3).contains(&s)))
        .find_map(|c| {
            let email = c["email"].as_str()?.to_lowercase();
            let code = syspro.iter().find_map(|s| {
                (s["email"].as_str()?.trim().to_lowercase() == email)
                    .then(|| s["customer"].as_str().map(|c| c.trim().to_owned()))?
            })?;
            Some((c, code))
        })
        .expect("a Commerce customer SYSPRO holds");
    let id = old["id"].as_u64().expect("customer id");

    // The record as an earlier release left it: posted, its code only in the trail.
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let key = RecordKey::new(
        ConnectionName::new(CONNECTION).unwrap(),
        EntityKind::Customer,
        id.to_string(),
    );
    let mut payload = old.clone();
    payload.as_object_mut().unwrap().remove("_sim_in_erp");
    store
        .intake(Intake {
            key: key.clone(),
            fingerprint: Fingerprint::of_document(id.to_string(), h.clock.now(), &payload),
            payload: payload.into(),
        })
        .await
        .expect("intake");
    let message = format!("SYSPRO customer {code} (by email)");
    let moves = vec![
        Transition::new(
            key.clone(),
            RecordState::Received,
            Target::Mapped {
                syspro: SysproKeys::default(),
            },
            message.clone(),
        ),
        Transition::new(
            key.clone(),
            RecordState::Mapped,
            Target::Posting,
            message.clone(),
        ),
        Transition::new(
            key.clone(),
            RecordState::Posting,
            Target::Posted {
                syspro: SysproKeys::default(),
            },
            message,
        ),
    ];
    for result in store.transition_many(moves).await.expect("transitions") {
        result.expect("legacy move");
    }

    let email = format!("legacy-{id}@example.net");
    edit_customer(&h, &key, json!({ "email": email })).await;
    let engine = h
        .engine_edited(&Setup::default(), store.clone(), |_| {})
        .await;
    engine.run_cycle().await.expect("first cycle");

    let record = customer_record(&*store, id).await;
    assert_eq!(record.state, RecordState::Posted, "{:?}", record.reason);
    assert_eq!(record.syspro.customer.as_deref(), Some(code.as_str()));
    let with_email: Vec<Value> = syspro_customers(&h)
        .await
        .into_iter()
        .filter(|c| c["email"] == json!(email))
        .collect();
    assert_eq!(with_email.len(), 1, "{with_email:?}");
    assert_eq!(
        with_email[0]["customer"].as_str().map(str::trim),
        Some(code.as_str())
    );
}

/// Commerce customers SYSPRO does not hold are created a batch at a time (one ARSSCS call for
/// several records), and each record still reads as created, once, with its own code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_customers_are_created_in_batches_and_read_as_created() {
    let h = Harness::start(shop(30)).await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = h
        .engine_edited(&Setup::default(), store.clone(), |c| {
            c.commerce.page_size = 50;
        })
        .await;
    let first = engine.run_cycle().await.expect("first cycle");
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    assert_customers_posted(&*store).await;

    let mut created = Vec::new();
    for record in in_state(&*store, EntityKind::Customer, RecordState::Posted).await {
        let messages = audit_messages(&*store, &record.key, None).await;
        if messages.iter().any(|m| m.contains("(by creation)")) {
            let code = record
                .syspro
                .customer
                .clone()
                .expect("a created record knows its code");
            created.push(code);
        }
    }
    assert!(created.len() >= 3, "customer records created: {created:?}");
    assert!(
        adds(&h) < u64::try_from(created.len()).unwrap_or(u64::MAX),
        "{} ARSSCS adds for {} customers created from their own records",
        adds(&h),
        created.len()
    );
    let in_syspro = syspro_customers(&h).await;
    for code in &created {
        let copies = in_syspro
            .iter()
            .filter(|c| c["customer"].as_str().map(str::trim) == Some(code.as_str()))
            .count();
        assert_eq!(copies, 1, "SYSPRO holds customer {code} once");
    }
    let created_count = first.customers_created;
    assert!(
        created_count >= created.len(),
        "the cycle counts {created_count} creations"
    );
}

/// A customer first created in SYSPRO for an order (from the order's names and addresses) is kept
/// in step with the Commerce customer when its record comes: what differs is sent as an update.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_created_for_an_order_is_brought_in_step_with_its_record() {
    let h = Harness::start(shop(30)).await;
    let orders = h.commerce_orders().await;
    let customers = commerce_customers(&h).await;
    let id = customers
        .iter()
        .filter(|c| c["_sim_in_erp"] != json!(true))
        .filter_map(|c| c["id"].as_u64())
        .find(|id| {
            orders
                .iter()
                .any(|o| o["customer_id"].as_u64() == Some(*id))
        })
        .expect("a customer missing from SYSPRO with an order");
    h.sim_post(
        &format!("customers/{id}"),
        json!({"firstname": "Henrietta", "lastname": "Vandersloot"}),
    )
    .await;
    let store = Arc::new(MemoryStore::new(Arc::new(h.clock.clone())));
    let engine = h.engine(&Setup::default(), store.clone()).await;
    let first = engine.run_cycle().await.expect("first cycle");
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    assert_customers_posted(&*store).await;
    let record = customer_record(&*store, id).await;
    let code = record.syspro.customer.clone().expect("a code");
    assert_eq!(
        syspro_customer(&h, &code).await["name"],
        json!("Henrietta Vandersloot"),
        "{:?}",
        audit_messages(&*store, &record.key, None).await
    );
    let before = updates(&h);
    engine.run_cycle().await.expect("second cycle");
    assert_eq!(updates(&h), before, "nothing more to send");
}

/// Customer records are written a page at a time. A record whose newer version arrived while its
/// page was worked on is not posted with the old version: the page's other records are, the cycle
/// goes on without an error, and the newer version is posted on the next cycle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_changed_while_its_page_is_worked_on_waits_for_the_next_cycle() {
    let h = Harness::start(shop(8)).await;
    let store = Arc::new(HookedStore {
        inner: MemoryStore::new(Arc::new(h.clock.clone())),
        hooks: ChangedMidPage::new(
            EntityKind::Customer,
            |customer| customer["firstname"] = json!("Renamed"),
            Arc::new(h.clock.clone()),
        ),
    });
    let engine = h.engine(&Setup::default(), store.clone()).await;
    let first = engine.run_cycle().await.expect("first cycle");
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    let key = store.hooks.changed_key();
    let changed = store.get(&key).await.unwrap().expect("the changed record");
    assert_eq!(changed.state, RecordState::Received, "{changed:?}");
    assert_eq!(changed.version, 2);
    let others = records(&*store, EntityKind::Customer).await;
    assert!(others.len() > 1, "{others:?}");
    for record in others.iter().filter(|r| r.key != key) {
        assert_eq!(record.state, RecordState::Posted, "{record:?}");
    }

    let second = engine.run_cycle().await.expect("second cycle");
    assert!(second.errors.is_empty(), "{:?}", second.errors);
    let posted = store.get(&key).await.unwrap().expect("the changed record");
    assert_eq!(posted.state, RecordState::Posted, "{posted:?}");
    let payload: Value = posted.payload.parse().expect("a stored customer");
    assert_eq!(payload["firstname"], json!("Renamed"), "the newer version");
    assert_customers_posted(&*store).await;
}
