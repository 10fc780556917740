//! Injected faults, busy-time accounting and changes made behind the client's back.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use simulators::syspro::{LostAnswerMode, SysproFaults, SysproSimConfig};

use crate::{Harness, INVALID_SESSION, arstin_doc, arstin_item, arstin_params, config, texts};

const FIND_INVOICE: &str = "<Query><TableName>ArInvoice</TableName><Columns><Column>Invoice</Column>\
<Column>OrigInvValue</Column></Columns><Where><Expression><Column>Customer</Column><Condition>EQ</Condition>\
<Value>C00008</Value></Expression><Expression><AndOr>And</AndOr><Column>Invoice</Column>\
<Condition>EQ</Condition><Value>RC1</Value></Expression></Where></Query>";

#[tokio::test]
async fn an_unlicensed_business_object_answers_enet_exception_100000() {
    let h = Harness::default().await;
    let id = h.logon().await;
    let (status, faults) = h
        .sim_send(
            Method::PUT,
            "faults",
            json!({ "unlicensed_business_objects": ["ARSTIN"] }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(faults["unlicensed_business_objects"], json!(["ARSTIN"]));
    let doc = arstin_doc(&[arstin_item("C00001", "LIC1", "1.00", "ECOM")]);
    assert_eq!(
        h.post(&id, "ARSTIN", &arstin_params("N", "Y"), &doc).await,
        "ERROR: e.net exception 100000"
    );
    assert!(
        h.query(&id, "COMFND", FIND_INVOICE)
            .await
            .contains("<RowsReturned>"),
        "others still work"
    );
    // Business objects not registered on the install answer the same.
    assert_eq!(
        h.post(&id, "ARSTPY", "", "<PostArPayment/>").await,
        "ERROR: e.net exception 100000"
    );
    let (status, _) = h
        .sim_send(Method::PUT, "faults", json!({ "no_such_fault": 1 }))
        .await;
    assert_eq!(status, 400);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn a_lost_answer_leaves_the_ledger_changed() {
    let h = Harness::default().await;
    let id = h.logon().await;
    h.sim.set_faults(SysproFaults {
        lose_answer_next: 1,
        ..SysproFaults::default()
    });
    let doc = arstin_doc(&[arstin_item("C00008", "RC1", "42.00", "ECOM")]);
    let query: Vec<String> = [
        ("UserId", id.as_str()),
        ("BusinessObject", "ARSTIN"),
        ("XmlParameters", &arstin_params("N", "Y")),
        ("XmlIn", &doc),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", crate::enc(v)))
    .collect();
    let url = format!("{}/Transaction/Post?{}", h.sim.enet_url(), query.join("&"));
    let outcome = match h.http.get(&url).send().await {
        Ok(response) => response.bytes().await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(outcome.is_err(), "the client sees a transport failure");
    let posted: Vec<_> = h
        .ledger_invoices("C00008")
        .await
        .into_iter()
        .filter(|(i, _)| i == "RC1")
        .collect();
    assert_eq!(posted, [("RC1".to_owned(), "42.00".to_owned())]);
    // Reconciliation finds it; posting again is a duplicate.
    assert_eq!(
        texts(&h.query(&id, "COMFND", FIND_INVOICE).await, "Invoice"),
        ["RC1"]
    );
    let again = h.post(&id, "ARSTIN", &arstin_params("N", "Y"), &doc).await;
    assert!(again.contains("already exists"), "{again}");
    h.sim.shutdown().await;
}

#[tokio::test]
async fn a_hung_lost_answer_times_out_the_client_after_the_ledger_changed() {
    let h = Harness::default().await;
    let id = h.logon().await;
    h.sim.set_faults(SysproFaults {
        lose_answer_next: 1,
        lose_answer_mode: LostAnswerMode::Hang,
        ..SysproFaults::default()
    });
    let doc = arstin_doc(&[arstin_item("C00009", "HG1", "9.00", "ECOM")]);
    let url = format!(
        "{}/Transaction/Post?UserId={}&BusinessObject=ARSTIN&XmlParameters={}&XmlIn={}",
        h.sim.enet_url(),
        crate::enc(&id),
        crate::enc(&arstin_params("N", "Y")),
        crate::enc(&doc)
    );
    let err = h
        .http
        .get(&url)
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(
        h.ledger_invoices("C00009")
            .await
            .iter()
            .filter(|(i, _)| i == "HG1")
            .count(),
        1
    );
    h.sim.shutdown().await;
}

#[tokio::test]
async fn hung_calls_and_periodic_session_invalidation() {
    let h = Harness::start(SysproSimConfig {
        faults: SysproFaults {
            hang_next: 1,
            ..SysproFaults::default()
        },
        ..config()
    })
    .await;
    let url = format!("{}/GetVersion", h.sim.enet_url());
    let err = h
        .http
        .get(&url)
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(
        h.http.get(&url).send().await.unwrap().text().await.unwrap(),
        "8.0.161"
    );

    let id = h.logon().await;
    h.sim.set_faults(SysproFaults {
        invalidate_session_every: 3,
        ..SysproFaults::default()
    });
    assert!(
        !h.query(&id, "COMFND", FIND_INVOICE)
            .await
            .starts_with("ERROR")
    );
    assert!(
        !h.query(&id, "COMFND", FIND_INVOICE)
            .await
            .starts_with("ERROR")
    );
    assert_eq!(h.query(&id, "COMFND", FIND_INVOICE).await, INVALID_SESSION);
    assert_eq!(
        h.query(&id, "COMFND", FIND_INVOICE).await,
        INVALID_SESSION,
        "the session is gone"
    );
    let id = h.logon().await;
    assert!(
        !h.query(&id, "COMFND", FIND_INVOICE)
            .await
            .starts_with("ERROR")
    );
    h.sim.shutdown().await;
}

#[tokio::test]
async fn latency_is_real_and_counted_as_busy_time_per_operator() {
    let h = Harness::start(SysproSimConfig {
        latency: Duration::from_millis(20),
        item_latency: Duration::from_millis(10),
        ..config()
    })
    .await;
    let id = h.logon().await;
    let items: Vec<String> = (0..3)
        .map(|n| arstin_item("C00010", &format!("LT{n}"), "1.00", "ECOM"))
        .collect();
    let started = tokio::time::Instant::now();
    let out = h
        .post(&id, "ARSTIN", &arstin_params("N", "Y"), &arstin_doc(&items))
        .await;
    assert!(
        started.elapsed() >= Duration::from_millis(50),
        "20 ms + 3 x 10 ms"
    );
    assert_eq!(texts(&out, "ItemsProcessed"), ["000003"]);
    // Logon 20 ms + post 50 ms.
    assert_eq!(
        h.sim.busy_time(&h.creds.operator),
        Duration::from_millis(70)
    );
    let stats = h.sim_get("stats").await;
    assert_eq!(stats["operators"][&h.creds.operator]["busy_ms"], 70);
    assert_eq!(stats["endpoint_calls"]["Transaction/Post"], 1);
    assert_eq!(stats["business_object_calls"]["Transaction/Post ARSTIN"], 1);
    h.sim.reset_counters();
    assert_eq!(h.sim.busy_time(&h.creds.operator), Duration::ZERO);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn invoices_can_be_deleted_or_altered_behind_the_clients_back() {
    let h = Harness::default().await;
    let id = h.logon().await;
    h.post(
        &id,
        "ARSTIN",
        &arstin_params("N", "Y"),
        &arstin_doc(&[arstin_item("C00008", "RC1", "42.00", "ECOM")]),
    )
    .await;
    let (status, altered) = h
        .sim_send(
            Method::PATCH,
            "invoices/C00008/RC1",
            json!({ "invoice_value": "41.99" }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(altered["invoice_value"], "41.99");
    assert_eq!(
        texts(&h.query(&id, "COMFND", FIND_INVOICE).await, "OrigInvValue"),
        ["41.99"]
    );
    let (status, _) = h
        .sim_send(Method::DELETE, "invoices/C00008/RC1", json!({}))
        .await;
    assert_eq!(status, 204);
    assert!(texts(&h.query(&id, "COMFND", FIND_INVOICE).await, "Invoice").is_empty());
    let (status, _) = h
        .sim_send(
            Method::POST,
            "invoices",
            json!({ "customer": "C00008", "invoice": "RC1", "invoice_value": "5.00" }),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        texts(&h.query(&id, "COMFND", FIND_INVOICE).await, "Invoice"),
        ["RC1"]
    );
    h.sim.shutdown().await;
}
