//! Running the built binary in a scratch folder, and a configuration for the simulators.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use simulators::Sims;

/// What one run printed and how it exited.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Standard output as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

/// A fresh, empty folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ml-connector-cli-it-{}-{}-{name}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The binary, run in `dir` with none of its environment variables inherited.
pub fn command(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ml-connector"));
    cmd.current_dir(dir)
        .env_remove("ML_CONNECTOR_CONFIG")
        .env_remove("ML_CONNECTOR_MASTER_KEY")
        .env_remove("ML_CONNECTOR_VAULT")
        .env_remove("ML_CONNECTOR_KEY_FILE")
        .env_remove("RUST_LOG")
        .env("RUST_BACKTRACE", "0")
        .env("NO_COLOR", "1");
    cmd
}

/// Runs the binary with `args` in `dir`, feeding `stdin`.
pub fn run_with(dir: &Path, args: &[&str], stdin: &str, envs: &[(&str, &str)]) -> Run {
    let mut cmd = command(dir);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the binary starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs the binary with `args` in `dir`.
pub fn run(dir: &Path, args: &[&str]) -> Run {
    run_with(dir, args, "", &[])
}

/// Runs the binary off the async threads, so simulators in this process keep serving.
pub async fn run_async(dir: &Path, args: &[&str]) -> Run {
    let dir = dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&dir, &args)
    })
    .await
    .unwrap()
}

/// The mapping for the simulated shop; `extra` is appended (more rules, or broken codes).
pub fn mapping(extra: &str) -> String {
    let mut text = String::from(
        r#"currencies = ["USD", "EUR"]
clearing_product_class = "ECOM"

[customers]
match_by_email = true

[customers.create]
enabled = true
code_template = "ML{customer_id:06}"
branch = "WB"
terms_code = "00"

[stores.web]
invoice_prefix = "W"
branch = "WB"
cash_customer = "WEBCASH"

[stores.marketplace]
invoice_prefix = "M"
branch = "MK"
cash_customer = "MKTCASH"

[stores.b2b]
invoice_prefix = "B"
branch = "B2"
cash_customer = "B2BCASH"

[accounts]
clearing = "00-4999"
freight = "00-4100"
discount = "00-4200"
tax_posting = "syspro"
rounding = "00-9999"
"#,
    );
    for prefix in ["AP-", "HW-", "GR-", "SV-"] {
        text.push_str(&format!(
            "\n[[revenue]]\nsku_prefix = \"{prefix}\"\naccount = \"00-4010\"\n"
        ));
    }
    text.push_str(extra);
    text
}

/// Writes `ml-connector.toml` (connection `shop`) and `mapping.toml` into `dir` for `sims`;
/// `commerce_url` overrides the Commerce address (to make it unreachable).
pub fn write_config(dir: &Path, sims: &Sims, commerce_url: Option<&str>, mapping_extra: &str) {
    let config = format!(
        r#"[store]
url = "sqlite://state.db"

[[connection]]
name = "shop"
mapping_file = "mapping.toml"

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

[connection.syspro.secrets]
operator_password = "syspro.operator_password"
company_password = "syspro.company_password"
odata_password = "syspro.odata_password"
"#,
        commerce = commerce_url.map_or_else(|| sims.commerce.base_url(), str::to_owned),
        enet = sims.syspro.enet_url(),
        odata = sims.syspro.odata_url(),
    );
    std::fs::write(dir.join("ml-connector.toml"), config).unwrap();
    std::fs::write(dir.join("mapping.toml"), mapping(mapping_extra)).unwrap();
}

/// Creates the key and stores every credential of the simulators through `credentials set`;
/// `syspro_password` overrides the operator password (to make the logon fail).
pub async fn store_credentials(dir: &Path, sims: &Sims, syspro_password: Option<&str>) {
    let oauth = sims.commerce.oauth();
    let creds = sims.syspro.credentials();
    let entries = vec![
        ("commerce.consumer_key", oauth.consumer_key),
        ("commerce.consumer_secret", oauth.consumer_secret),
        ("commerce.access_token", oauth.access_token),
        ("commerce.access_token_secret", oauth.access_token_secret),
        (
            "syspro.operator_password",
            syspro_password.map_or(creds.operator_password, str::to_owned),
        ),
        ("syspro.company_password", creds.company_password),
        ("syspro.odata_password", creds.odata_password),
        (
            "commerce.webhook_public_key",
            sims.commerce.webhook_public_key_pem(),
        ),
    ];
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let keygen = run(&dir, &["keygen"]);
        assert_eq!(keygen.code, 0, "{keygen:#?}");
        for (name, value) in entries {
            let set = run_with(
                &dir,
                &["credentials", "set", "shop", name, "--from-stdin"],
                &value,
                &[],
            );
            assert_eq!(set.code, 0, "{set:#?}");
        }
    })
    .await
    .unwrap();
}

/// Both simulators with a small shop.
pub async fn sims(orders: usize) -> Sims {
    Sims::start(simulators::SimConfig::new(
        7,
        orders,
        std::time::Duration::ZERO,
    ))
    .await
    .unwrap()
}

/// Runs the binary with `args` and extra environment off the async threads.
pub async fn run_async_with(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Run {
    let dir = dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let envs: Vec<(String, String)> = envs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_with(&dir, &args, "", &envs)
    })
    .await
    .unwrap()
}

/// Every line of `stderr` as a JSON object; panics naming the first line that is not one.
pub fn json_lines(stderr: &str) -> Vec<serde_json::Value> {
    stderr
        .lines()
        .map(|l| {
            let value: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {l:?}\n{stderr}"));
            assert!(value.is_object(), "log line is not an object: {l}");
            value
        })
        .collect()
}

/// Starts the binary with `args` in `dir`, waits until its standard error shows `ready`, sends
/// SIGTERM and returns what it printed and how it exited.
#[cfg(unix)]
pub async fn run_until_then_terminate(dir: &Path, args: &[&str], ready: &str) -> Run {
    use std::io::{BufRead as _, BufReader, Read as _};
    let mut child = command(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stderr = child.stderr.take().unwrap();
    let ready = ready.to_owned();
    let (seen_tx, seen_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let mut lines = BufReader::new(stderr);
        let mut line = String::new();
        while lines.read_line(&mut line).unwrap_or(0) > 0 {
            if line.contains(&ready) {
                let _ = seen_tx.send(());
            }
            text.push_str(&line);
            line.clear();
        }
        text
    });
    let seen = tokio::task::spawn_blocking(move || {
        seen_rx.recv_timeout(std::time::Duration::from_secs(30))
    })
    .await
    .unwrap();
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let (status, stdout) = tokio::task::spawn_blocking(move || {
        let mut stdout = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        (child.wait().unwrap(), stdout)
    })
    .await
    .unwrap();
    let stderr = reader.join().unwrap();
    assert!(seen.is_ok(), "never printed the awaited line: {stderr}");
    Run {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
    }
}
