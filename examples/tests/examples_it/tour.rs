use ml_connector_examples::playground;
use ml_connector_examples::tour::{CHANGED_SINCE, GL_CODES, run_tour_on};
use secrecy::SecretString;
use serde_json::Value;
use syspro_client::bo::{ArInvoiceItem, ArInvoicePosting};
use syspro_client::{EnetConfig, SysproClient};
use time::macros::format_description;

/// Web store orders changed since the tour's instant, counted from the fake shop's own records.
async fn changed_web_orders(sims: &simulators::Sims) -> u64 {
    let url = format!("{}/__sim/orders", sims.commerce.base_url());
    let orders: Vec<Value> = reqwest::get(&url)
        .await
        .expect("sim orders")
        .json()
        .await
        .expect("sim orders JSON");
    let since = CHANGED_SINCE
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]"
        ))
        .unwrap();
    orders
        .iter()
        .filter(|o| o["store_id"].as_u64() == Some(1))
        .filter(|o| {
            o["updated_at"]
                .as_str()
                .is_some_and(|t| t >= since.as_str())
        })
        .count() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tour_lists_orders_checks_gl_codes_and_validates_without_posting() {
    let sims = playground::start_simulators(40).await.expect("simulators");
    let before = playground::ledger_invoices(&sims).await.expect("ledger");

    let mut lines = Vec::new();
    let report = run_tour_on(&sims, &mut |line| lines.push(line))
        .await
        .expect("tour");

    // Commerce: the first page of changed web store orders, oldest change first.
    assert_eq!(report.changed_orders, changed_web_orders(&sims).await);
    assert!(!report.orders.is_empty() && report.orders.len() <= 5);
    assert!(report.orders.iter().all(|o| o.updated_at >= CHANGED_SINCE));
    assert!(
        report
            .orders
            .windows(2)
            .all(|w| w[0].updated_at <= w[1].updated_at)
    );

    // SYSPRO: the chart of accounts has the first three codes, not the last.
    let verdicts: Vec<(&str, bool)> = report
        .gl_codes
        .iter()
        .map(|v| (v.ledger_code(), v.is_valid()))
        .collect();
    assert_eq!(
        verdicts,
        vec![
            (GL_CODES[0], true),
            (GL_CODES[1], true),
            (GL_CODES[2], true),
            (GL_CODES[3], false)
        ]
    );

    // The validate-only invoice was valid and changed nothing, and the session was closed.
    assert!(report.invoice_valid);
    assert!(!report.invoice_on_ledger);
    let after = playground::ledger_invoices(&sims).await.expect("ledger");
    assert_eq!(before, after, "ValidateOnly left the ledger as it was");
    let creds = sims.syspro.credentials();
    let stats = sims.syspro.stats();
    assert!(
        !stats.operators[&creds.operator].session_open,
        "the tour logged off"
    );
    for step in [
        "1. Commerce",
        "2. SYSPRO",
        "3. SYSPRO",
        "4. SYSPRO: logged off",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(step)),
            "{step}: {lines:#?}"
        );
    }
    let printed = lines.join("\n");
    assert!(!printed.contains(&creds.operator_password));
    assert!(!printed.contains(&sims.commerce.oauth().consumer_secret));

    // The same document posted for real does land on the ledger, so the check above means
    // something.
    let config = EnetConfig::builder(
        sims.syspro.enet_url(),
        &creds.company_id,
        &creds.operator,
        SecretString::from(creds.operator_password.clone()),
    )
    .company_password(SecretString::from(creds.company_password.clone()))
    .build()
    .unwrap();
    let syspro = SysproClient::new(config).unwrap();
    let order = &report.orders[0];
    let item = ArInvoiceItem::invoice(
        "WEBCASH",
        report.invoice.clone(),
        order.updated_at.date(),
        order.grand_total,
        "ECOM",
    );
    let result = syspro
        .post_ar_invoices(&ArInvoicePosting::new(vec![item]))
        .await
        .expect("post");
    assert!(result.is_success(), "{result:?}");
    syspro.close().await.unwrap();
    let posted = playground::ledger_invoices(&sims).await.expect("ledger");
    assert_eq!(posted.len(), before.len() + 1);
    let invoice = posted
        .iter()
        .find(|i| i.invoice == report.invoice)
        .expect("the posted invoice is on the ledger");
    assert_eq!(invoice.invoice_value, order.grand_total);

    sims.shutdown().await;
}
