//! `reconcile` against the simulators: a clean month in every format, a ledger changed behind the
//! connector's back, a halted record, and the exit codes.

use std::path::Path;

use serde_json::{Value, json};
use simulators::Sims;

use crate::support::{Run, run_async, scratch, sims, store_credentials, write_config};

const FROM: &str = "2026-01-01";
const TO: &str = "2026-12-31";

/// Every clearance SKU mapped, so nothing halts.
const ALL_MAPPED: &str = "\n[[revenue]]\nsku_prefix = \"CLR-\"\naccount = \"00-4010\"\n";

/// A shop whose invoices were all synced once; `mapping_extra` as in `write_config`.
async fn synced_shop(name: &str, mapping_extra: &str) -> (Sims, std::path::PathBuf) {
    let sims = sims(40).await;
    let dir = scratch(name);
    write_config(&dir, &sims, None, mapping_extra);
    store_credentials(&dir, &sims, None).await;
    let sync = run_async(&dir, &["--json", "sync", "--once"]).await;
    assert_eq!(sync.json()["connections"][0]["dead"], 0, "{sync:#?}");
    (sims, dir)
}

async fn reconcile(dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["reconcile", "--from", FROM, "--to", TO];
    args.extend_from_slice(extra);
    run_async(dir, &args).await
}

async fn ledger(sims: &Sims) -> Vec<Value> {
    reqwest::get(format!("{}/__sim/invoices", sims.syspro.base_url()))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// An amount as text without trailing zeros, so `"12.50"` and `"12.5"` compare equal.
fn cents(value: &Value) -> String {
    let text = value.as_str().unwrap_or_default();
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text.to_owned()
    }
}

fn exceptions<'a>(report: &'a Value, finding: &str) -> Vec<&'a Value> {
    report["reconciliation"]["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["finding"] == finding)
        .collect()
}

#[tokio::test]
async fn a_clean_month_reconciles_in_every_format_with_exit_0() {
    let (sims, dir) = synced_shop("reconcile-clean", ALL_MAPPED).await;

    let table = reconcile(&dir, &[]).await;
    assert_eq!(table.code, 0, "{table:#?}");
    assert!(table.stdout.starts_with("RECONCILED: all "), "{table:#?}");
    assert!(table.stdout.contains("GL ACCOUNT"), "{table:#?}");
    assert!(table.stdout.contains("00-4999"), "{table:#?}");

    let json_run = reconcile(&dir, &["--format", "json"]).await;
    assert_eq!(json_run.code, 0, "{json_run:#?}");
    let report = json_run.json();
    assert_eq!(report["clean"], true);
    let summary = &report["reconciliation"];
    let documents = summary["commerce_documents"].as_u64().unwrap();
    assert!(documents > 5, "{report:#}");
    assert_eq!(summary["matched"].as_u64().unwrap(), documents);
    let matched = report["matched_documents"].as_array().unwrap();
    assert_eq!(matched.len() as u64, documents);
    assert!(matched.iter().all(|m| m["record_state"] == "posted"));
    // The clearing account is debited with every grand total and the journal balances it.
    let clearing = &summary["by_gl_account"]["00-4999"];
    assert_eq!(clearing["expected"], clearing["posted"], "{summary:#}");
    let stores = summary["by_store"].as_object().unwrap();
    let store_documents: u64 = stores
        .values()
        .map(|t| t["documents"].as_u64().unwrap())
        .sum();
    assert_eq!(store_documents, documents);
    for totals in stores.values() {
        assert_eq!(
            totals["commerce_amount"], totals["syspro_amount"],
            "{summary:#}"
        );
    }
    // Every posted invoice of the connection is accounted for on the SYSPRO side.
    let ours = ledger(&sims)
        .await
        .iter()
        .filter(|i| !i["invoice"].as_str().unwrap().starts_with('H'))
        .count() as u64;
    assert_eq!(summary["syspro_documents"].as_u64().unwrap(), ours);

    let csv = reconcile(&dir, &["--format", "csv"]).await;
    assert_eq!(csv.code, 0, "{csv:#?}");
    let mut lines = csv.stdout.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("finding,findings,kind,entity_id,increment_id"),
        "{csv:#?}"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len() as u64, documents);
    assert!(
        rows.iter()
            .all(|r| r.starts_with("matched,matched,invoice,"))
    );

    let html_path = dir.join("report.html");
    let html_run = reconcile(
        &dir,
        &["--format", "html", "--output", html_path.to_str().unwrap()],
    )
    .await;
    assert_eq!(html_run.code, 0, "{html_run:#?}");
    assert!(html_run.stdout.is_empty(), "{html_run:#?}");
    assert!(html_run.stderr.contains("RECONCILED"), "{html_run:#?}");
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("@media print"));
    assert!(!html.contains("<script"), "self-contained, no scripts");
    assert!(!html.contains("src=\""), "no external resources");
    let summary_at = html.find("<h2>Summary</h2>").unwrap();
    let exceptions_at = html.find("<h2>Exceptions</h2>").unwrap();
    let matched_at = html.find("<h2>Matched (").unwrap();
    assert!(summary_at < exceptions_at && exceptions_at < matched_at);
    assert!(
        html.contains(&format!(
            "{}/admin/sales/invoice/view/invoice_id/",
            sims.commerce.base_url()
        )),
        "links to the Commerce admin"
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn changes_behind_the_connectors_back_are_exceptions_with_exit_3() {
    let (sims, dir) = synced_shop("reconcile-tampered", ALL_MAPPED).await;
    let posted: Vec<Value> = ledger(&sims)
        .await
        .into_iter()
        .filter(|i| !i["invoice"].as_str().unwrap().starts_with('H'))
        .collect();
    assert!(posted.len() >= 3, "{posted:#?}");
    let http = reqwest::Client::new();
    let base = sims.syspro.base_url();
    let (deleted, altered) = (&posted[0], &posted[1]);
    let path = |i: &Value| {
        format!(
            "{base}/__sim/invoices/{}/{}",
            i["customer"].as_str().unwrap(),
            i["invoice"].as_str().unwrap()
        )
    };
    let gone = http.delete(path(deleted)).send().await.unwrap();
    assert!(gone.status().is_success());
    let changed = http
        .patch(path(altered))
        .json(&json!({ "invoice_value": "1.23" }))
        .send()
        .await
        .unwrap();
    assert!(changed.status().is_success());
    let added = http
        .post(format!("{base}/__sim/invoices"))
        .json(&json!({
            "customer": "WEBCASH",
            "invoice": "W<99>&999",
            "invoice_value": "42.00",
            "invoice_date": "2026-02-03"
        }))
        .send()
        .await
        .unwrap();
    assert!(added.status().is_success());

    let run = reconcile(&dir, &["--format", "json"]).await;
    assert_eq!(run.code, 3, "{run:#?}");
    let report = run.json();
    assert_eq!(report["clean"], false);
    assert!(
        report["verdict"]
            .as_str()
            .unwrap()
            .starts_with("NOT RECONCILED: 3 exception(s)")
    );

    let missing = exceptions(&report, "not_in_syspro");
    assert_eq!(missing.len(), 1, "{report:#}");
    assert_eq!(missing[0]["invoice"], deleted["invoice"]);
    assert_eq!(missing[0]["record_state"], "posted");
    assert!(
        missing[0]["detail"]
            .as_str()
            .unwrap()
            .contains("marked posted, but SYSPRO does not hold it"),
        "{report:#}"
    );

    let amount = exceptions(&report, "amount_mismatch");
    assert_eq!(amount.len(), 1, "{report:#}");
    assert_eq!(amount[0]["invoice"], altered["invoice"]);
    assert_eq!(amount[0]["syspro_amount"], "1.23");
    assert_eq!(
        cents(&amount[0]["commerce_amount"]),
        cents(&altered["invoice_value"])
    );

    let unknown = exceptions(&report, "unknown_to_commerce");
    assert_eq!(unknown.len(), 1, "{report:#}");
    assert_eq!(unknown[0]["invoice"], "W<99>&999");
    assert_eq!(unknown[0]["syspro_customer"], "WEBCASH");

    let table = reconcile(&dir, &[]).await;
    assert_eq!(table.code, 3, "{table:#?}");
    assert!(table.stdout.starts_with("NOT RECONCILED"), "{table:#?}");
    assert!(table.stdout.contains("amount_mismatch"), "{table:#?}");

    let html_path = dir.join("exceptions.html");
    let html_run = reconcile(
        &dir,
        &["--format", "html", "--output", html_path.to_str().unwrap()],
    )
    .await;
    assert_eq!(html_run.code, 3, "{html_run:#?}");
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains("W&lt;99&gt;&amp;999"), "escaped text");
    assert!(!html.contains("W<99>"), "nothing unescaped");
    let exceptions_at = html.find("<h2>Exceptions</h2>").unwrap();
    let link = format!(
        "{}/admin/sales/invoice/view/invoice_id/{}/",
        sims.commerce.base_url(),
        missing[0]["entity_id"]
    );
    assert!(
        html[exceptions_at..].contains(&link),
        "exception links back to Commerce"
    );

    let csv = reconcile(&dir, &["--format", "csv"]).await;
    assert_eq!(csv.code, 3);
    assert!(
        csv.stdout
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("not_in_syspro,"),
        "{csv:#?}"
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn a_halted_record_is_reported_with_its_reason() {
    // Without a rule for clearance SKUs, their documents halt.
    let (sims, dir) = synced_shop("reconcile-halted", "").await;
    let run = reconcile(&dir, &["--format", "json"]).await;
    assert_eq!(run.code, 3, "{run:#?}");
    let report = run.json();
    let missing = exceptions(&report, "not_in_syspro");
    assert!(!missing.is_empty(), "{report:#}");
    assert!(
        missing.iter().all(|m| m["record_state"] == "halted"),
        "{report:#}"
    );
    assert!(
        missing
            .iter()
            .all(|m| m["detail"].as_str().unwrap().contains("halted: ")
                && m["detail"].as_str().unwrap().contains("CLR-")),
        "{report:#}"
    );
    assert_eq!(
        report["reconciliation"]["exceptions"]
            .as_array()
            .unwrap()
            .len(),
        missing.len()
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn a_document_never_read_and_bad_input_have_their_own_answers() {
    let sims = sims(10).await;
    let dir = scratch("reconcile-unsynced");
    write_config(&dir, &sims, None, ALL_MAPPED);
    store_credentials(&dir, &sims, None).await;

    let run = reconcile(&dir, &["--format", "json"]).await;
    assert_eq!(run.code, 3, "{run:#?}");
    let report = run.json();
    let missing = exceptions(&report, "not_in_syspro");
    assert!(!missing.is_empty());
    assert!(
        missing.iter().all(|m| m["record_state"] == "never_seen"),
        "{report:#}"
    );

    let reversed = run_async(
        &dir,
        &["reconcile", "--from", "2026-03-31", "--to", "2026-03-01"],
    )
    .await;
    assert_eq!(reversed.code, 2, "{reversed:#?}");
    let malformed = run_async(
        &dir,
        &["reconcile", "--from", "March", "--to", "2026-03-01"],
    )
    .await;
    assert_eq!(malformed.code, 2, "{malformed:#?}");
    assert!(malformed.stderr.contains("--from"), "{malformed:#?}");

    write_config(&dir, &sims, Some("http://127.0.0.1:9"), ALL_MAPPED);
    let unreachable = reconcile(&dir, &[]).await;
    assert_eq!(unreachable.code, 1, "{unreachable:#?}");
    assert!(
        unreachable
            .stderr
            .contains("reconciliation of connection shop failed"),
        "{unreachable:#?}"
    );
    sims.shutdown().await;
}
