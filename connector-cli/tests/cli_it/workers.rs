//! Several `ml-connector run` workers sharing one PostgreSQL database: six connections spread over
//! three workers, one worker killed with SIGKILL mid-run. Every mappable document is posted exactly
//! once and the dead worker's connections are taken over within the lease time.
//!
//! `scripts/test` starts a throwaway PostgreSQL cluster and exports its URL as
//! `ML_CONNECTOR_TEST_POSTGRES_URL`; the test works in a schema of its own.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::Value;
use simulators::{SimConfig, Sims};
use tokio::time::Instant;

use crate::support::{command, mapping, run, run_with, scratch};

const CONNECTIONS: usize = 6;
const WORKERS: [&str; 3] = ["worker-a", "worker-b", "worker-c"];
/// The lease time the workers are configured with.
const LEASE: Duration = Duration::from_secs(3);
/// Orders per simulated shop, and the latency of every simulated call: enough work that a cycle is
/// still running when the worker is killed.
const ORDERS: usize = 30;
const LATENCY: Duration = Duration::from_millis(15);

fn postgres_url() -> String {
    std::env::var("ML_CONNECTOR_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "ML_CONNECTOR_TEST_POSTGRES_URL is not set: run the tests with scripts/test, which starts \
             a throwaway PostgreSQL cluster and provides it"
        )
    })
}

fn connection(i: usize) -> String {
    format!("shop{}", i + 1)
}

/// `ml-connector.toml` with six connections, each against its own simulator pair (so each has its
/// own SYSPRO operator session), all in one PostgreSQL schema.
fn write_config(dir: &Path, sims: &[Sims], store_url: &str) {
    let mut config = format!(
        "[store]\nurl = \"{store_url}\"\nlease_time = \"{}s\"\n",
        LEASE.as_secs()
    );
    for (i, sims) in sims.iter().enumerate() {
        config.push_str(&format!(
            r#"
[[connection]]
name = "{name}"
mapping_file = "mapping.toml"

[connection.schedule]
min_interval = "1s"
max_interval = "2s"

[connection.commerce]
base_url = "{commerce}"
flavour = "paas"

[connection.commerce.auth]
kind = "oauth1"

[connection.commerce.auth.secrets]
consumer_key = "commerce.consumer_key"
consumer_secret = "commerce.consumer_secret"
access_token = "commerce.access_token"
access_token_secret = "commerce.access_token_secret"

[[connection.commerce.stores]]
code = "web"
id = 1

[[connection.commerce.stores]]
code = "marketplace"
id = 2

[[connection.commerce.stores]]
code = "b2b"
id = 3

[connection.syspro]
enet_url = "{enet}"
odata_url = "{odata}"
company_id = "EDU1"
operator = "MLCONNECT"
# The simulators answer at once: a killed worker's unanswered posts are looked up after 10 s.
call_timeout = "5s"

[connection.syspro.secrets]
operator_password = "syspro.operator_password"
company_password = "syspro.company_password"
odata_password = "syspro.odata_password"
"#,
            name = connection(i),
            commerce = sims.commerce.base_url(),
            enet = sims.syspro.enet_url(),
            odata = sims.syspro.odata_url(),
        ));
    }
    std::fs::write(dir.join("ml-connector.toml"), config).unwrap();
    std::fs::write(dir.join("mapping.toml"), mapping("")).unwrap();
}

/// The key and every connection's credentials, through `credentials set`.
async fn store_credentials(dir: &Path, sims: &[Sims]) {
    let mut entries = Vec::new();
    for (i, sims) in sims.iter().enumerate() {
        let oauth = sims.commerce.oauth();
        let creds = sims.syspro.credentials();
        for (name, value) in [
            ("commerce.consumer_key", oauth.consumer_key),
            ("commerce.consumer_secret", oauth.consumer_secret),
            ("commerce.access_token", oauth.access_token),
            ("commerce.access_token_secret", oauth.access_token_secret),
            ("syspro.operator_password", creds.operator_password),
            ("syspro.company_password", creds.company_password),
            ("syspro.odata_password", creds.odata_password),
        ] {
            entries.push((connection(i), name, value));
        }
    }
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let keygen = run(&dir, &["keygen"]);
        assert_eq!(keygen.code, 0, "{keygen:#?}");
        for (connection, name, value) in entries {
            let set = run_with(
                &dir,
                &["credentials", "set", &connection, name, "--from-stdin"],
                &value,
                &[],
            );
            assert_eq!(set.code, 0, "{set:#?}");
        }
    })
    .await
    .unwrap();
}

fn start_worker(dir: &Path, id: &str) -> Child {
    let log = std::fs::File::create(dir.join(format!("{id}.log"))).unwrap();
    command(dir)
        .args(["run", "--worker-id", id])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the worker starts")
}

/// `status --json`, run off the async threads so the simulators keep serving.
async fn status(dir: &Path) -> Value {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let out = run(&dir, &["--json", "status"]);
        assert_eq!(out.code, 0, "{out:#?}");
        out.json()
    })
    .await
    .unwrap()
}

/// Connection name to the worker holding its unexpired lease.
fn holders(status: &Value) -> BTreeMap<String, String> {
    status["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["worker"]["active"] == true)
        .map(|c| {
            (
                c["connection"].as_str().unwrap().to_owned(),
                c["worker"]["holder"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn count(connection: &Value, state: &str) -> u64 {
    connection["records"][state].as_u64().unwrap_or(0)
}

/// Whether every connection has read its documents and left none unfinished.
fn settled(status: &Value) -> bool {
    status["connections"].as_array().unwrap().iter().all(|c| {
        c["total"].as_u64().unwrap_or(0) > 0
            && count(c, "posted") > 0
            && ["received", "mapped", "posting", "retry_wait"]
                .iter()
                .all(|s| count(c, s) == 0)
    })
}

async fn get_json(url: String) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

fn log_of(dir: &Path, id: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{id}.log"))).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_workers_share_six_connections_and_survive_a_killed_worker() {
    let started = Instant::now();
    let url = postgres_url();
    let schema = format!(
        "workers_{}_{}",
        std::process::id(),
        std::time::SystemTime::UNIX_EPOCH
            .elapsed()
            .map_or(0, |d| d.subsec_nanos())
    );
    let separator = if url.contains('?') { '&' } else { '?' };
    let store_url = format!("{url}{separator}schema={schema}");
    let dir = scratch("workers");
    let mut sims = Vec::new();
    for i in 0..CONNECTIONS {
        sims.push(
            Sims::start(SimConfig::new(11 + i as u64, ORDERS, LATENCY))
                .await
                .unwrap(),
        );
    }
    write_config(&dir, &sims, &store_url);
    store_credentials(&dir, &sims).await;

    let mut workers: BTreeMap<&str, Child> = WORKERS
        .iter()
        .map(|id| (*id, start_worker(&dir, id)))
        .collect();

    // Kill the worker holding the most connections once every connection is held and its
    // connections have started work (records stored, not all of them finished).
    let deadline = Instant::now() + Duration::from_secs(30);
    let (victim, victim_connections) = loop {
        assert!(
            Instant::now() < deadline,
            "the workers never shared out the connections: {:#}\n{}",
            status(&dir).await,
            WORKERS.map(|w| log_of(&dir, w)).join("\n")
        );
        let now = status(&dir).await;
        let held = holders(&now);
        if held.len() == CONNECTIONS {
            let mut by_worker: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for (connection, worker) in &held {
                by_worker
                    .entry(worker.as_str())
                    .or_default()
                    .push(connection.clone());
            }
            let (worker, connections) = by_worker.into_iter().max_by_key(|(_, c)| c.len()).unwrap();
            let started_work = now["connections"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| connections.iter().any(|n| c["connection"] == n.as_str()))
                .any(|c| c["total"].as_u64().unwrap_or(0) > 0);
            if started_work && !settled(&now) {
                break (
                    WORKERS.into_iter().find(|w| *w == worker).unwrap(),
                    connections,
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut killed = workers.remove(victim).unwrap();
    let killed_at = Instant::now();
    killed.kill().expect("SIGKILL the worker");
    let _ = killed.wait();

    // The others take the dead worker's connections over once its leases lapse.
    let takeover = loop {
        let held = holders(&status(&dir).await);
        let moved = victim_connections
            .iter()
            .all(|c| held.get(c).is_some_and(|w| w != victim));
        if moved {
            break killed_at.elapsed();
        }
        assert!(
            killed_at.elapsed() < LEASE * 4,
            "connections {victim_connections:?} of the killed {victim} were not taken over: {held:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!(
        "killed {victim} holding {victim_connections:?}; taken over after {:.2} s (lease {} s)",
        takeover.as_secs_f64(),
        LEASE.as_secs()
    );
    assert!(
        takeover <= LEASE + Duration::from_millis(1500),
        "taking over took {takeover:?}, more than the lease time of {LEASE:?} (plus polling)"
    );

    // Everything settles: read, mapped, posted or halted, nothing left in flight.
    let deadline = Instant::now() + Duration::from_secs(40);
    let last = loop {
        let now = status(&dir).await;
        if settled(&now) {
            break now;
        }
        assert!(
            Instant::now() < deadline,
            "the connections did not settle: {now:#}\n{}",
            WORKERS.map(|w| log_of(&dir, w)).join("\n")
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let survivors: BTreeSet<&str> = workers.keys().copied().collect();
    for worker in holders(&last).values() {
        assert!(
            survivors.contains(worker.as_str()),
            "{worker} holds a lease"
        );
    }

    // Every mappable document is in its ledger exactly once, with one journal, and the ledger
    // holds nothing the store does not count as posted.
    for (i, sims) in sims.iter().enumerate() {
        let name = connection(i);
        let invoices = get_json(format!("{}/__sim/invoices", sims.syspro.base_url())).await;
        let posted: Vec<&Value> = invoices
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| {
                !i["reference"].as_str().unwrap_or_default().is_empty()
                    && !i["invoice"].as_str().unwrap_or_default().starts_with('H')
            })
            .collect();
        let numbers: BTreeSet<&str> = posted
            .iter()
            .map(|i| i["invoice"].as_str().unwrap())
            .collect();
        let references: BTreeSet<&str> = posted
            .iter()
            .map(|i| i["reference"].as_str().unwrap())
            .collect();
        assert_eq!(
            numbers.len(),
            posted.len(),
            "{name}: an invoice number twice"
        );
        assert_eq!(
            references.len(),
            posted.len(),
            "{name}: a Commerce document posted twice: {posted:#?}"
        );
        let journals = get_json(format!("{}/__sim/journals", sims.syspro.base_url())).await;
        let mut journal_refs: BTreeMap<String, usize> = BTreeMap::new();
        for j in journals.as_array().unwrap() {
            *journal_refs
                .entry(
                    j["journal_reference"]
                        .as_str()
                        .unwrap_or_default()
                        .trim()
                        .to_owned(),
                )
                .or_default() += 1;
        }
        for number in &numbers {
            assert_eq!(
                journal_refs.get(number.trim()).copied(),
                Some(1),
                "{name}: invoice {number} has not exactly one journal: {journal_refs:?}"
            );
        }

        let listed = tokio::task::spawn_blocking({
            let dir = dir.clone();
            let name = name.clone();
            move || {
                run(
                    &dir,
                    &[
                        "--json",
                        "audit",
                        "list",
                        "--status",
                        "posted",
                        "--connection",
                        &name,
                        "--limit",
                        "100000",
                    ],
                )
            }
        })
        .await
        .unwrap();
        assert_eq!(listed.code, 0, "{listed:#?}");
        let posted_documents = listed.json()["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                r["record"]
                    .as_str()
                    .is_some_and(|k| k.contains("/invoice/") || k.contains("/order/"))
            })
            .count();
        assert!(posted_documents > 0, "{name}: nothing posted");
        assert_eq!(
            posted.len(),
            posted_documents,
            "{name}: the ledger and the store disagree on what was posted"
        );
    }

    for (id, mut child) in workers {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(
            status.success(),
            "{id} stopped with {status}: {}",
            log_of(&dir, id)
        );
    }
    for sims in sims {
        sims.shutdown().await;
    }
    eprintln!(
        "multi-worker test took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
