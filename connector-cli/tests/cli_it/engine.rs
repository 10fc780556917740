//! Every command against the simulators on loopback: ping ok and failing, mapping check, sync,
//! halted then replayed, audit output, and the service with a webhook delivery and SIGTERM.

use std::time::Duration;

use crate::support::{
    json_lines, run_async, run_async_with, scratch, sims, store_credentials, write_config,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_passes_against_the_simulators() {
    let sims = sims(20).await;
    let dir = scratch("ping-ok");
    write_config(&dir, &sims, None, "");
    store_credentials(&dir, &sims, None).await;
    let r = run_async(&dir, &["ping"]).await;
    assert_eq!(r.code, 0, "{r:#?}");
    for check in [
        "reachable",
        "credentials accepted",
        "read orders",
        "read invoices",
        "read customers",
        "e.net version",
        "logon",
        "OData authentication",
        "GL account \"00-4010\"",
        "branch \"MK\"",
        "product class \"ECOM\"",
        "customer \"WEBCASH\"",
        "logoff",
    ] {
        assert!(
            r.stdout
                .lines()
                .any(|l| l.contains('✔') && l.contains(check)),
            "{check}: {r:#?}"
        );
    }
    assert!(!r.stdout.contains('✘'), "{r:#?}");
    let json = run_async(&dir, &["--json", "ping"]).await.json();
    assert_eq!(json["ok"], true);

    // A wrong Commerce secret: the system and what it said are named.
    let dir2 = dir.clone();
    tokio::task::spawn_blocking(move || {
        let r = crate::support::run_with(
            &dir2,
            &[
                "credentials",
                "set",
                "shop",
                "commerce.consumer_secret",
                "--from-stdin",
            ],
            "wrong",
            &[],
        );
        assert_eq!(r.code, 0, "{r:#?}");
    })
    .await
    .unwrap();
    let r = run_async(&dir, &["ping"]).await;
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stdout.lines().any(|l| l.contains('✘')
            && l.contains("credentials accepted")
            && l.contains("Commerce answered HTTP 401")),
        "{r:#?}"
    );
    sims.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_names_the_unreachable_host_the_refused_logon_and_the_missing_codes() {
    let sims = sims(20).await;
    let dir = scratch("ping-bad");
    let broken = "\n[[revenue]]\nsku = \"X-1\"\naccount = \"00-7777\"\n";
    write_config(&dir, &sims, Some("http://127.0.0.1:1"), broken);
    store_credentials(&dir, &sims, Some("wrong-password")).await;
    let r = run_async(&dir, &["ping"]).await;
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stdout.lines().any(|l| l.contains('✘')
            && l.contains("reachable")
            && l.contains("cannot reach 127.0.0.1:1")),
        "{r:#?}"
    );
    assert!(
        r.stdout.lines().any(|l| l.contains('✘')
            && l.contains("logon")
            && l.contains("SYSPRO refused the logon: Invalid operator password")),
        "{r:#?}"
    );

    // The same wrong password stops a cycle with one paragraph naming SYSPRO and what it said,
    // as text or as one JSON log object.
    let sync = run_async(&dir, &["sync", "--once"]).await;
    assert_eq!(sync.code, 1, "{sync:#?}");
    assert_eq!(sync.stderr.lines().count(), 1, "one paragraph: {sync:#?}");
    assert!(
        sync.stderr
            .starts_with("error: sync of connection shop failed: ")
            && sync
                .stderr
                .contains("SYSPRO logon failed: Invalid operator password"),
        "{sync:#?}"
    );
    assert!(!sync.stderr.contains("wrong-password"), "{sync:#?}");
    let dry = run_async(
        &dir,
        &["--log-format", "json", "sync", "--once", "--dry-run"],
    )
    .await;
    assert_eq!(dry.code, 1, "{dry:#?}");
    let lines = json_lines(&dry.stderr);
    let last = lines.last().unwrap();
    assert_eq!(last["fields"]["exit_code"], 1, "{dry:#?}");
    assert!(
        last["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("SYSPRO logon failed: Invalid operator password"),
        "{dry:#?}"
    );

    // With the right password the mapping is checked: the missing GL code is named with its line.
    store_credentials_again(&dir, &sims).await;
    let r = run_async(&dir, &["ping"]).await;
    assert_eq!(r.code, 1, "{r:#?}");
    let mapping = std::fs::read_to_string(dir.join("mapping.toml")).unwrap();
    let line = mapping.lines().position(|l| l.contains("00-7777")).unwrap() + 1;
    assert!(
        r.stdout.lines().any(|l| l.contains('✘')
            && l.contains("GL account \"00-7777\"")
            && l.contains(&format!("mapping.toml:{line} revenue[4].account"))),
        "{r:#?}"
    );

    let check = run_async(&dir, &["mapping", "check"]).await;
    assert_eq!(check.code, 1, "{check:#?}");
    assert!(check.stdout.contains(&format!("mapping.toml:{line}: `revenue[4].account`: GL account \"00-7777\" does not exist in SYSPRO")), "{check:#?}");
    sims.shutdown().await;
}

async fn store_credentials_again(dir: &std::path::Path, sims: &simulators::Sims) {
    let password = sims.syspro.credentials().operator_password;
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let r = crate::support::run_with(
            &dir,
            &[
                "credentials",
                "set",
                "shop",
                "syspro.operator_password",
                "--from-stdin",
            ],
            &password,
            &[],
        );
        assert_eq!(r.code, 0, "{r:#?}");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_halts_what_cannot_map_and_replay_posts_it_after_the_fix() {
    let sims = sims(60).await;
    let dir = scratch("sync");
    write_config(&dir, &sims, None, "");
    store_credentials(&dir, &sims, None).await;

    // The dry run validates in SYSPRO and posts, creates and stores nothing, not even an empty
    // database. Documents that would halt make it exit with 3.
    let dry = run_async(&dir, &["--json", "sync", "--once", "--dry-run"]).await;
    assert_eq!(dry.code, 3, "{dry:#?}");
    assert!(
        !dir.join("state.db").exists(),
        "a dry run creates no database"
    );
    let documents = dry.json()["connections"][0]["documents"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        documents.iter().filter(|d| d["ok"] == true).count() > 10,
        "{dry:#?}"
    );
    assert!(
        documents.iter().any(|d| d["outcome"]
            .as_str()
            .unwrap()
            .contains("would halt: no GL account for SKU \"CLR-")),
        "{dry:#?}"
    );
    assert!(
        documents
            .iter()
            .any(|d| d["outcome"] == "would post (validated by SYSPRO)"),
        "{dry:#?}"
    );
    let ledger: serde_json::Value =
        reqwest::get(format!("{}/__sim/invoices", sims.syspro.base_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert!(
        ledger.as_array().unwrap().iter().all(|i| i["reference"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
            || i["invoice"].as_str().unwrap().starts_with('H')),
        "nothing posted by the dry run"
    );
    let human = run_async_with(
        &dir,
        &["sync", "--once", "--dry-run"],
        &[("RUST_LOG", "debug")],
    )
    .await;
    assert_eq!(human.code, 3, "{human:#?}");
    assert!(
        human.stdout.contains("dry run: nothing is posted") && human.stdout.contains("would post"),
        "{human:#?}"
    );
    assert!(
        human.stderr.contains("DEBUG syspro_client"),
        "RUST_LOG reaches the dry run: {human:#?}"
    );
    assert!(!human.stdout.contains("DEBUG"), "{human:#?}");
    assert!(!dir.join("state.db").exists());
    let nothing = run_async(&dir, &["--json", "audit", "list"]).await;
    assert!(
        nothing.json()["records"].as_array().unwrap().is_empty(),
        "nothing stored: {nothing:#?}"
    );

    // The cycle runs to its end; halted records make it exit with 3, not 0, so a script sees them.
    let first = run_async(&dir, &["--json", "sync", "--once"]).await;
    assert_eq!(first.code, 3, "{first:#?}");
    assert!(first.stderr.is_empty(), "{first:#?}");
    let summary = first.json()["connections"][0].clone();
    assert!(summary["posted"].as_u64().unwrap() > 10, "{summary:#}");
    let halted = summary["halted"].as_array().unwrap().clone();
    assert!(
        !halted.is_empty(),
        "the simulated shop has clearance SKUs: {summary:#}"
    );
    assert!(
        halted.iter().all(|h| h["reason"]
            .as_str()
            .unwrap()
            .contains("no GL account for SKU \"CLR-")),
        "{summary:#}"
    );

    assert_eq!(
        summary["waiting"]["halted"].as_u64().unwrap(),
        halted.len() as u64,
        "{summary:#}"
    );
    assert_eq!(summary["waiting"]["dead"], 0, "{summary:#}");

    let listed = run_async(&dir, &["--json", "audit", "list", "--status", "halted"]).await;
    assert_eq!(listed.code, 0, "{listed:#?}");
    let records = listed.json()["records"].as_array().unwrap().clone();
    assert_eq!(records.len(), halted.len());
    let record = records[0]["record"].as_str().unwrap().to_owned();

    let show = run_async(&dir, &["audit", "show", &record]).await;
    assert_eq!(show.code, 0, "{show:#?}");
    assert!(show.stdout.contains("state:    halted"), "{show:#?}");
    assert!(show.stdout.contains("received -> halted"), "{show:#?}");
    let creds = sims.syspro.credentials();
    assert!(
        !show.stdout.contains(&creds.operator_password),
        "no secret in the timeline"
    );

    let table = run_async(&dir, &["audit", "list", "--since", "1d"]).await;
    assert_eq!(table.code, 0, "{table:#?}");
    assert!(table.stdout.starts_with("RECORD"), "{table:#?}");

    let status = run_async(&dir, &["status"]).await;
    assert_eq!(status.code, 0, "{status:#?}");
    assert!(
        status.stdout.contains("oldest halted: shop/"),
        "{status:#?}"
    );

    // Nothing is posted twice: a second cycle finds every change already known. The records
    // halted before still wait, so the exit code stays 3 until a person deals with them.
    let second = run_async_with(
        &dir,
        &["--json", "--log-format", "json", "-v", "sync", "--once"],
        &[("RUST_LOG", "trace")],
    )
    .await;
    assert_eq!(second.code, 3, "{second:#?}");
    assert_eq!(second.json()["connections"][0]["posted"], 0, "{second:#?}");
    let logs = json_lines(&second.stderr);
    assert!(
        logs.iter()
            .any(|l| l["fields"]["message"] == "poll cycle finished"),
        "{second:#?}"
    );
    assert!(
        logs.iter().any(|l| l["level"] == "TRACE"),
        "RUST_LOG=trace reaches the libraries: {second:#?}"
    );
    let human = run_async(&dir, &["sync", "--once"]).await;
    assert_eq!(human.code, 3, "{human:#?}");
    assert!(
        human.stdout.contains(&format!(
            "{} record(s) of shop wait for a person ({} halted, 0 dead)",
            halted.len(),
            halted.len()
        )),
        "{human:#?}"
    );
    assert!(
        !human.stderr.contains('\r'),
        "no progress bar off a terminal: {human:#?}"
    );

    // Replay before the fix: still halted, exit 3.
    let early = run_async(&dir, &["replay", &record]).await;
    assert_eq!(early.code, 3, "{early:#?}");
    assert!(early.stderr.is_empty(), "{early:#?}");

    // A record that does not exist is a usage error, and nothing else is replayed with it.
    let missing = format!("{}/invoice/999999", record.split('/').next().unwrap());
    let unknown = run_async(&dir, &["replay", &record, &missing]).await;
    assert_eq!(unknown.code, 2, "{unknown:#?}");
    assert!(
        unknown.stderr.contains(&format!("no record {missing}")),
        "{unknown:#?}"
    );

    let mut mapping = std::fs::read_to_string(dir.join("mapping.toml")).unwrap();
    mapping.push_str("\n[[revenue]]\nsku_prefix = \"CLR-\"\naccount = \"00-4010\"\n");
    std::fs::write(dir.join("mapping.toml"), mapping).unwrap();
    let replay = run_async(&dir, &["--json", "replay", "--all-halted"]).await;
    assert_eq!(replay.code, 0, "{replay:#?}");
    assert_eq!(
        replay.json()["connections"][0]["posted"].as_u64().unwrap(),
        halted.len() as u64,
        "{replay:#?}"
    );
    let left = run_async(&dir, &["--json", "audit", "list", "--status", "halted"]).await;
    assert!(
        left.json()["records"].as_array().unwrap().is_empty(),
        "{left:#?}"
    );
    let show = run_async(&dir, &["audit", "show", &record]).await;
    assert!(
        show.stdout.contains("state:    posted") && show.stdout.contains("replay requested"),
        "{show:#?}"
    );
    // Nothing waits any more: the next cycle exits with 0.
    let clean = run_async(&dir, &["--json", "sync", "--once"]).await;
    assert_eq!(clean.code, 0, "{clean:#?}");
    assert_eq!(clean.json()["connections"][0]["waiting"]["halted"], 0);
    let dry = run_async(&dir, &["sync", "--once", "--dry-run"]).await;
    assert_eq!(dry.code, 0, "{dry:#?}");
    sims.shutdown().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_health_metrics_and_signed_webhooks_and_stops_on_sigterm() {
    let sims = sims(20).await;
    let dir = scratch("run");
    write_config(&dir, &sims, None, "");
    store_credentials(&dir, &sims, None).await;
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let listen = format!("127.0.0.1:{port}");
    let child = crate::support::command(&dir)
        .args(["run", "--listen", &listen])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let base = format!("http://{listen}");
    let mut healthy = false;
    for _ in 0..100 {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healthy, "the listener answers /healthz");

    // A one-off sync never works beside the running service on the same connection.
    let mut refused = None;
    for _ in 0..50 {
        let r = run_async(&dir, &["sync", "--once"]).await;
        if r.code != 0 {
            refused = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refused = refused.expect("the service holds the connection's lease");
    assert_eq!(refused.code, 1, "{refused:#?}");
    assert!(
        refused
            .stderr
            .contains("connection shop is being processed by "),
        "{refused:#?}"
    );

    let forged = http
        .post(format!("{base}/webhooks/shop"))
        .body("{\"data\":{\"invoice\":{\"entity_id\":\"1\"}}}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status().as_u16(),
        401,
        "an unsigned webhook is refused"
    );

    let delivery: serde_json::Value = http
        .post(format!("{}/__sim/webhooks/send", sims.commerce.base_url()))
        .json(&serde_json::json!({ "invoice_id": 1, "url": format!("{base}/webhooks/shop") }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        delivery.to_string().contains("200"),
        "the signed webhook is accepted: {delivery}"
    );

    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("ml_connector_records{connection=\"shop\",state=\"posted\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ml_connector_webhooks_total{connection=\"shop\",result=\"accepted\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "ml_connector_webhooks_total{connection=\"shop\",result=\"bad_signature\"} 1"
        ),
        "{metrics}"
    );

    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");

    assert!(
        !stderr.contains("webhook public key"),
        "the key is in the vault: no warning: {stderr}"
    );

    // The port is free again, and a second service on a taken port says so, as one JSON object
    // with JSON logs.
    let blocker = std::net::TcpListener::bind(&listen).unwrap();
    let busy = run_async(&dir, &["run", "--listen", &listen]).await;
    let busy_json = run_async(&dir, &["--log-format", "json", "run", "--listen", &listen]).await;
    drop(blocker);
    assert_eq!(busy.code, 1, "{busy:#?}");
    assert_eq!(busy.stderr.lines().count(), 1, "one paragraph: {busy:#?}");
    assert!(
        busy.stderr.contains(&format!("cannot listen on {listen}")),
        "{busy:#?}"
    );
    assert_eq!(busy_json.code, 1, "{busy_json:#?}");
    let lines = json_lines(&busy_json.stderr);
    assert_eq!(lines.len(), 1, "{busy_json:#?}");
    assert_eq!(lines[0]["level"], "ERROR");
    assert!(
        lines[0]["fields"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("cannot listen on {listen}")),
        "{busy_json:#?}"
    );
    sims.shutdown().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_webhook_key_is_reported_only_when_webhooks_can_arrive() {
    let sims = sims(10).await;
    let dir = scratch("run-no-key");
    write_config(&dir, &sims, None, "");
    store_credentials(&dir, &sims, None).await;
    let removed = run_async(
        &dir,
        &[
            "credentials",
            "delete",
            "shop",
            "commerce.webhook_public_key",
        ],
    )
    .await;
    assert_eq!(removed.code, 0, "{removed:#?}");
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = blocker.local_addr().unwrap().to_string();

    // Listening: the warning says what to do, as a JSON object with JSON logs.
    let listening = run_async(&dir, &["--log-format", "json", "run", "--listen", &taken]).await;
    assert_eq!(listening.code, 1, "{listening:#?}");
    let lines = json_lines(&listening.stderr);
    let warning = lines
        .iter()
        .find(|l| l["level"] == "WARN")
        .unwrap_or_else(|| panic!("a warning: {listening:#?}"));
    let message = warning["fields"]["message"].as_str().unwrap();
    assert!(
        message.contains("connection shop: webhooks will be refused (503)")
            && message.contains("ml-connector credentials set shop commerce.webhook_public_key")
            && message.contains("commerce.webhooks.enabled = false"),
        "{listening:#?}"
    );

    // Polling only: nothing can arrive, nothing to warn about. The service's own lines are JSON.
    let polling =
        crate::support::run_until_then_terminate(&dir, &["--log-format", "json", "run"], "running")
            .await;
    assert_eq!(polling.code, 0, "{polling:#?}");
    let lines = json_lines(&polling.stderr);
    assert!(!polling.stderr.contains("webhook"), "{polling:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "INFO" && l["fields"]["message"] == "stopped"),
        "{polling:#?}"
    );

    // Webhooks switched off for the connection: no warning either.
    let config = std::fs::read_to_string(dir.join("ml-connector.toml")).unwrap();
    std::fs::write(
        dir.join("ml-connector.toml"),
        format!(
            "{config}
[connection.commerce.webhooks]
enabled = false
"
        ),
    )
    .unwrap();
    let disabled = run_async(&dir, &["run", "--listen", &taken]).await;
    drop(blocker);
    assert_eq!(disabled.code, 1, "{disabled:#?}");
    assert!(!disabled.stderr.contains("warning"), "{disabled:#?}");
    assert!(
        disabled.stderr.contains("cannot listen on"),
        "{disabled:#?}"
    );
    sims.shutdown().await;
}

/// On a sales-order connection the dry run validates each order with SORTOI `Process=Validate`
/// and creates no sales order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_validates_sales_orders_with_sortoi_and_creates_none() {
    let sims = sims(30).await;
    let dir = scratch("dry-sales-orders");
    write_config(
        &dir,
        &sims,
        None,
        "\n[sales_orders]\nstock_code_prefixes = [\"AP-\", \"HW-\", \"GR-\", \"SV-\"]\n",
    );
    let path = dir.join("ml-connector.toml");
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "mapping_file = \"mapping.toml\"",
        "mapping_file = \"mapping.toml\"\ntarget = \"sales_order\"",
        1,
    );
    std::fs::write(&path, text).unwrap();
    store_credentials(&dir, &sims, None).await;

    let dry = run_async(&dir, &["--json", "sync", "--once", "--dry-run"]).await;
    let documents = dry.json()["connections"][0]["documents"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        documents
            .iter()
            .filter(|d| d["outcome"] == "would post (validated by SYSPRO)")
            .count()
            > 3,
        "{dry:#?}"
    );
    assert!(
        documents.iter().all(|d| !d["outcome"]
            .as_str()
            .unwrap_or_default()
            .contains("SYSPRO rejects")),
        "orders of known customers validate: {dry:#?}"
    );
    let orders: serde_json::Value =
        reqwest::get(format!("{}/__sim/sales-orders", sims.syspro.base_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert!(
        orders.as_array().is_some_and(Vec::is_empty),
        "the dry run created no sales order: {orders:#}"
    );
    let stats: serde_json::Value = reqwest::get(format!("{}/__sim/stats", sims.syspro.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let calls = stats["business_object_calls"].as_object().unwrap();
    let sortoi: u64 = calls
        .iter()
        .filter(|(k, _)| k.contains("SORTOI"))
        .filter_map(|(_, n)| n.as_u64())
        .sum();
    assert!(sortoi > 3, "each order validated by SORTOI: {stats:#}");
}
