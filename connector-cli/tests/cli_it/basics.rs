//! Bad input, and the files a new installation starts from: each case asserts its message and exit
//! code.

use crate::support::{json_lines, run, run_with, scratch};

const VALID_TAIL: &str = r#"
[[connection]]
name = "shop"

[connection.commerce]
base_url = "http://127.0.0.1:1"
flavour = "paas"

[connection.commerce.auth]
kind = "bearer"

[connection.commerce.auth.secrets]
token = "commerce.token"

[[connection.commerce.stores]]
code = "web"
id = 1

[connection.syspro]
enet_url = "http://127.0.0.1:1/SYSPROWCFService/Rest"
company_id = "EDU1"
operator = "OP"

[connection.syspro.secrets]
operator_password = "syspro.operator_password"

[connection.mapping]
currencies = ["USD"]
clearing_product_class = "ECOM"

[connection.mapping.stores.web]
branch = "WB"

[connection.mapping.accounts]
clearing = "00-4999"
freight = "00-4100"
tax_posting = "syspro"
rounding = "00-9999"
"#;

#[test]
fn a_missing_configuration_says_how_to_create_one() {
    let dir = scratch("missing");
    let r = run(&dir, &["status"]);
    assert_eq!(r.code, 2, "{r:#?}");
    assert!(
        r.stderr
            .contains("configuration file ml-connector.toml not found"),
        "{r:#?}"
    );
    assert!(r.stderr.contains("ml-connector init"), "{r:#?}");
    assert!(!r.stderr.contains("backtrace"), "{r:#?}");
    let other = run(&dir, &["--config", "elsewhere.toml", "status"]);
    assert!(
        other.stderr.contains("elsewhere.toml not found"),
        "{other:#?}"
    );
}

#[test]
fn malformed_toml_names_the_file_and_line() {
    let dir = scratch("malformed");
    std::fs::write(
        dir.join("ml-connector.toml"),
        "[store]\nurl = \"sqlite://x.db\"\n\n[[connection]\nname = 1\n",
    )
    .unwrap();
    let r = run(&dir, &["status"]);
    assert_eq!(r.code, 2, "{r:#?}");
    assert!(
        r.stderr.starts_with("error: ml-connector.toml:4:"),
        "{r:#?}"
    );
    assert_eq!(r.stderr.lines().count(), 1, "one paragraph: {r:#?}");
}

#[test]
fn an_unknown_key_is_refused_with_its_path_and_line() {
    let dir = scratch("unknown-key");
    let text = format!("[store]\nurl = \"sqlite://x.db\"\n{VALID_TAIL}")
        .replace("flavour = \"paas\"", "flavour = \"paas\"\npage_sise = 10");
    std::fs::write(dir.join("ml-connector.toml"), &text).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("page_sise"))
        .unwrap()
        + 1;
    let r = run(&dir, &["status"]);
    assert_eq!(r.code, 2, "{r:#?}");
    assert!(
        r.stderr.contains(&format!("ml-connector.toml:{line}:")),
        "{r:#?}"
    );
    assert!(r.stderr.contains("connection[0].commerce"), "{r:#?}");
    assert!(r.stderr.contains("page_sise"), "{r:#?}");
}

#[test]
fn settings_that_contradict_each_other_are_listed_with_lines() {
    let dir = scratch("invalid");
    let text = format!(
        "[store]\nurl = \"sqlite://x.db\"\n{VALID_TAIL}\n[connection.schedule]\nmin_interval = \"10m\"\nmax_interval = \"1m\"\n"
    );
    std::fs::write(dir.join("ml-connector.toml"), &text).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("max_interval"))
        .unwrap()
        + 1;
    let r = run(&dir, &["status"]);
    assert_eq!(r.code, 2, "{r:#?}");
    assert!(
        r.stderr.contains(&format!(
            "ml-connector.toml:{line}: `connection[0].schedule.max_interval`"
        )),
        "{r:#?}"
    );
    assert!(r.stderr.contains("shorter than min_interval"), "{r:#?}");
}

#[test]
fn bad_usage_exits_with_two() {
    let dir = scratch("usage");
    let r = run(&dir, &["frobnicate"]);
    assert_eq!(r.code, 2, "{r:#?}");
    let r = run(&dir, &["sync"]);
    assert_eq!(r.code, 2, "sync needs --once: {r:#?}");
    assert!(r.stderr.contains("--once"), "{r:#?}");
    let r = run(&dir, &["--log-format", "xml", "status"]);
    assert_eq!(r.code, 2, "{r:#?}");
    let help = run(&dir, &["--help"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("Exit codes:"), "{help:#?}");
}

#[test]
fn init_writes_a_template_that_loads_and_refuses_to_overwrite() {
    let dir = scratch("init");
    let r = run(&dir, &["init"]);
    assert_eq!(r.code, 0, "{r:#?}");
    let text = std::fs::read_to_string(dir.join("ml-connector.toml")).unwrap();
    assert!(
        text.contains("[[connection]]") && text.contains("# "),
        "commented template"
    );
    let again = run(&dir, &["init"]);
    assert_eq!(again.code, 2, "{again:#?}");
    assert!(
        again.stderr.contains("already exists; pass --force"),
        "{again:#?}"
    );
    assert_eq!(run(&dir, &["init", "--force"]).code, 0);
    let other = run(&dir, &["init", "--path", "sub/other.toml"]);
    assert_eq!(other.code, 0, "{other:#?}");
    // The template is a valid configuration: status reads it and opens its database.
    let status = run(&dir, &["--json", "status"]);
    assert_eq!(status.code, 0, "{status:#?}");
    let json = status.json();
    let names: Vec<&str> = json["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["connection"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme-us", "acme-eu"]);
}

#[cfg(unix)]
#[test]
fn keygen_writes_a_private_key_file_once() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = scratch("keygen");
    let r = run(&dir, &["keygen", "--key-file", "keys/master.key"]);
    assert_eq!(r.code, 0, "{r:#?}");
    let mode = std::fs::metadata(dir.join("keys/master.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let again = run(&dir, &["keygen", "--key-file", "keys/master.key"]);
    assert_eq!(again.code, 2, "{again:#?}");
    assert!(again.stderr.contains("already exists"), "{again:#?}");
}

#[test]
fn credentials_round_trip_without_ever_printing_a_value() {
    let dir = scratch("credentials");
    std::fs::write(
        dir.join("ml-connector.toml"),
        format!("[store]\nurl = \"sqlite://x.db\"\n{VALID_TAIL}"),
    )
    .unwrap();
    let no_key = run_with(
        &dir,
        &[
            "credentials",
            "set",
            "shop",
            "commerce.token",
            "--from-stdin",
        ],
        "x",
        &[],
    );
    assert_eq!(no_key.code, 2, "{no_key:#?}");
    assert!(
        no_key.stderr.contains("no master key") && no_key.stderr.contains("ml-connector keygen"),
        "{no_key:#?}"
    );

    assert_eq!(run(&dir, &["keygen"]).code, 0);
    let set = run_with(
        &dir,
        &[
            "credentials",
            "set",
            "shop",
            "commerce.token",
            "--from-stdin",
        ],
        "tok-SECRET-1\n",
        &[],
    );
    assert_eq!(set.code, 0, "{set:#?}");
    let list = run(&dir, &["credentials", "list"]);
    assert_eq!(list.code, 0, "{list:#?}");
    assert!(list.stdout.contains("commerce.token"), "{list:#?}");
    assert!(
        list.stdout.contains("syspro.operator_password") && list.stdout.contains("missing"),
        "{list:#?}"
    );
    assert!(!list.stdout.contains("tok-SECRET-1"), "{list:#?}");
    let json = run(&dir, &["--json", "credentials", "list"]);
    let secrets = json.json()["secrets"].as_array().unwrap().clone();
    assert_eq!(secrets.len(), 1);
    assert_eq!(secrets[0]["name"], "commerce.token");
    assert!(secrets[0]["set_at"].is_string());
    assert!(!json.stdout.contains("tok-SECRET-1"));
    let vault = std::fs::read_to_string(dir.join("ml-connector.vault")).unwrap();
    assert!(!vault.contains("tok-SECRET-1"), "the vault is encrypted");

    let prompt = run(&dir, &["credentials", "set", "shop", "commerce.token"]);
    assert_eq!(prompt.code, 2, "{prompt:#?}");
    assert!(prompt.stderr.contains("--from-stdin"), "{prompt:#?}");

    let unknown = run_with(
        &dir,
        &["credentials", "set", "shop", "typo.name", "--from-stdin"],
        "v",
        &[],
    );
    assert_eq!(unknown.code, 0, "{unknown:#?}");
    assert!(
        unknown.stderr.contains("warning") && unknown.stderr.contains("typo.name"),
        "{unknown:#?}"
    );

    assert_eq!(
        run(&dir, &["credentials", "delete", "shop", "commerce.token"]).code,
        0
    );
    let gone = run(&dir, &["credentials", "delete", "shop", "commerce.token"]);
    assert_eq!(gone.code, 1, "{gone:#?}");
    assert!(
        gone.stderr.contains("holds no secret \"commerce.token\""),
        "{gone:#?}"
    );
}

#[test]
fn a_wrong_master_key_is_a_clear_error() {
    let dir = scratch("wrong-key");
    assert_eq!(run(&dir, &["keygen"]).code, 0);
    assert_eq!(
        run_with(
            &dir,
            &["credentials", "set", "shop", "a", "--from-stdin"],
            "v",
            &[]
        )
        .code,
        0
    );
    let other_key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let r = run_with(
        &dir,
        &["credentials", "list"],
        "",
        &[("ML_CONNECTOR_MASTER_KEY", other_key)],
    );
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(r.stderr.contains("different master key"), "{r:#?}");
    let malformed = run_with(
        &dir,
        &["credentials", "list"],
        "",
        &[("ML_CONNECTOR_MASTER_KEY", "not a key")],
    );
    assert_eq!(malformed.code, 2, "{malformed:#?}");
    assert!(
        malformed
            .stderr
            .contains("ML_CONNECTOR_MASTER_KEY is invalid"),
        "{malformed:#?}"
    );
}

#[test]
fn unknown_connections_and_records_are_usage_errors() {
    let dir = scratch("unknown-names");
    std::fs::write(
        dir.join("ml-connector.toml"),
        format!("[store]\nurl = \"sqlite://x.db\"\n{VALID_TAIL}"),
    )
    .unwrap();
    assert_eq!(run(&dir, &["keygen"]).code, 0);
    let r = run(&dir, &["ping", "--connection", "nope"]);
    assert_eq!(r.code, 2, "{r:#?}");
    assert!(
        r.stderr.contains("no connection named \"nope\"") && r.stderr.contains("shop"),
        "{r:#?}"
    );
    let r = run(&dir, &["audit", "show", "shop/parcel/1"]);
    assert_eq!(r.code, 2, "{r:#?}");
    assert!(
        r.stderr.contains("invalid entity kind \"parcel\""),
        "{r:#?}"
    );
    let r = run(&dir, &["audit", "list", "--since", "yesterday"]);
    assert_eq!(r.code, 2, "{r:#?}");
    assert!(r.stderr.contains("--since \"yesterday\""), "{r:#?}");
    let r = run(&dir, &["audit", "show", "shop/invoice/404"]);
    assert_eq!(r.code, 2, "{r:#?}");
    assert!(r.stderr.contains("no record shop/invoice/404"), "{r:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_is_named() {
    use sqlx::Connection as _;
    let dir = scratch("locked");
    std::fs::write(
        dir.join("ml-connector.toml"),
        format!("[store]\nurl = \"sqlite://x.db\"\n{VALID_TAIL}"),
    )
    .unwrap();
    assert_eq!(
        crate::support::run_async(&dir, &["status"]).await.code,
        0,
        "creates the database"
    );
    // Another process holds an exclusive lock while status runs.
    let url = format!("sqlite://{}", dir.join("x.db").display());
    let mut holder = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut holder)
        .await
        .unwrap();
    let r = crate::support::run_async(&dir, &["status"]).await;
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stderr.contains("x.db is locked by another process"),
        "{r:#?}"
    );
}

#[test]
fn an_unreachable_syspro_is_named_without_its_password() {
    let dir = scratch("unreachable");
    std::fs::write(
        dir.join("ml-connector.toml"),
        format!("[store]\nurl = \"sqlite://x.db\"\n{VALID_TAIL}"),
    )
    .unwrap();
    assert_eq!(run(&dir, &["keygen"]).code, 0);
    for (name, value) in [
        ("commerce.token", "tok-123"),
        ("syspro.operator_password", "pw-SECRET-9"),
    ] {
        assert_eq!(
            run_with(
                &dir,
                &["credentials", "set", "shop", name, "--from-stdin"],
                value,
                &[]
            )
            .code,
            0
        );
    }
    let r = run(&dir, &["sync", "--once"]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stderr.contains("could not connect to SYSPRO") && r.stderr.contains("127.0.0.1:1"),
        "{r:#?}"
    );
    assert!(!r.stderr.contains("pw-SECRET-9"), "{r:#?}");
    assert_eq!(r.stderr.lines().count(), 1, "one paragraph: {r:#?}");
}

#[test]
fn a_missing_required_key_names_the_file_line_and_key() {
    let dir = scratch("missing-key");
    let text = format!("[store]\nurl = \"sqlite://x.db\"\n{VALID_TAIL}")
        .replace("company_id = \"EDU1\"\n", "");
    std::fs::write(dir.join("ml-connector.toml"), &text).unwrap();
    let line = text
        .lines()
        .position(|l| l == "[connection.syspro]")
        .unwrap()
        + 1;
    let r = run(&dir, &["ping"]);
    assert_eq!(r.code, 2, "{r:#?}");
    assert!(
        r.stderr
            .starts_with(&format!("error: ml-connector.toml:{line}:")),
        "{r:#?}"
    );
    assert!(
        r.stderr.contains("connection[0].syspro")
            && r.stderr.contains("missing field `company_id`"),
        "{r:#?}"
    );
    assert_eq!(r.stderr.lines().count(), 1, "one paragraph: {r:#?}");
    assert!(!r.stderr.contains("backtrace"), "{r:#?}");
}

#[test]
fn with_json_logs_every_line_on_standard_error_is_a_json_object() {
    let dir = scratch("json-logs");
    // The final error of a command is a log object too, with its exit code.
    let r = run(&dir, &["--log-format", "json", "status"]);
    assert_eq!(r.code, 2, "{r:#?}");
    let lines = json_lines(&r.stderr);
    assert_eq!(lines.len(), 1, "{r:#?}");
    assert_eq!(lines[0]["level"], "ERROR");
    assert_eq!(lines[0]["fields"]["exit_code"], 2);
    assert!(
        lines[0]["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("ml-connector.toml not found"),
        "{r:#?}"
    );
    assert!(lines[0]["timestamp"].as_str().unwrap().ends_with('Z'));

    // Warnings too.
    std::fs::write(
        dir.join("ml-connector.toml"),
        format!("[store]\nurl = \"sqlite://x.db\"\n{VALID_TAIL}"),
    )
    .unwrap();
    assert_eq!(run(&dir, &["keygen"]).code, 0);
    let r = run_with(
        &dir,
        &[
            "--log-format",
            "json",
            "credentials",
            "set",
            "shop",
            "typo.name",
            "--from-stdin",
        ],
        "v",
        &[],
    );
    assert_eq!(r.code, 0, "{r:#?}");
    let lines = json_lines(&r.stderr);
    assert_eq!(lines.len(), 1, "{r:#?}");
    assert_eq!(lines[0]["level"], "WARN");
    assert!(
        lines[0]["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("typo.name"),
        "{r:#?}"
    );
}

#[test]
fn log_filters_come_from_log_level_then_rust_log_then_verbosity() {
    let dir = scratch("log-level");
    std::fs::write(
        dir.join("ml-connector.toml"),
        format!("[store]\nurl = \"sqlite://x.db\"\n{VALID_TAIL}"),
    )
    .unwrap();
    // Opening the database logs its statements at debug level.
    let quiet = run(&dir, &["status"]);
    assert_eq!(quiet.code, 0, "{quiet:#?}");
    assert!(!quiet.stderr.contains("DEBUG"), "{quiet:#?}");
    let env = run_with(&dir, &["status"], "", &[("RUST_LOG", "debug")]);
    assert_eq!(env.code, 0, "{env:#?}");
    assert!(
        env.stderr.contains("DEBUG"),
        "RUST_LOG is honoured: {env:#?}"
    );
    assert!(
        env.stdout.contains("shop"),
        "output stays on stdout: {env:#?}"
    );
    assert!(
        !env.stdout.contains("DEBUG"),
        "logs stay off stdout: {env:#?}"
    );
    let flag = run_with(
        &dir,
        &["--log-level", "debug", "--log-format", "json", "status"],
        "",
        &[("RUST_LOG", "error")],
    );
    assert_eq!(flag.code, 0, "{flag:#?}");
    let lines = json_lines(&flag.stderr);
    assert!(
        lines.iter().any(|l| l["level"] == "DEBUG"),
        "--log-level wins over RUST_LOG: {flag:#?}"
    );
    let off = run_with(&dir, &["-vv", "status"], "", &[("RUST_LOG", "error")]);
    assert!(
        !off.stderr.contains("DEBUG"),
        "RUST_LOG wins over -v: {off:#?}"
    );

    let bad = run(&dir, &["--log-level", "connector_core=loudest", "status"]);
    assert_eq!(bad.code, 2, "{bad:#?}");
    assert!(
        bad.stderr
            .contains("--log-level \"connector_core=loudest\" is not a log filter"),
        "{bad:#?}"
    );
    let bad_env = run_with(
        &dir,
        &["status"],
        "",
        &[("RUST_LOG", "connector_core=loudest")],
    );
    assert_eq!(bad_env.code, 0, "a bad RUST_LOG only warns: {bad_env:#?}");
    assert!(
        bad_env
            .stderr
            .contains("warning: RUST_LOG \"connector_core=loudest\" is not a log filter"),
        "{bad_env:#?}"
    );
}

#[test]
fn the_webhook_public_key_is_a_configured_vault_name() {
    let dir = scratch("webhook-key");
    let text = format!(
        "[store]\nurl = \"sqlite://x.db\"\n{VALID_TAIL}\n[connection.commerce.webhooks]\npublic_key = \"hooks/pem\"\n"
    );
    std::fs::write(dir.join("ml-connector.toml"), &text).unwrap();
    assert_eq!(run(&dir, &["keygen"]).code, 0);
    let set = |name: &str| {
        run_with(
            &dir,
            &["credentials", "set", "shop", name, "--from-stdin"],
            "-----BEGIN PUBLIC KEY-----",
            &[],
        )
    };
    let list = run(&dir, &["--json", "credentials", "list"]);
    let missing = list.json()["missing"].as_array().unwrap().clone();
    let key = missing
        .iter()
        .find(|m| m["name"] == "hooks/pem")
        .unwrap_or_else(|| panic!("the configured name is listed: {list:#?}"));
    assert_eq!(key["required"], false, "{list:#?}");
    let table = run(&dir, &["credentials", "list"]);
    assert!(
        table
            .stdout
            .lines()
            .any(|l| l.contains("hooks/pem") && l.contains("needed only for webhooks")),
        "{table:#?}"
    );
    assert!(
        table
            .stdout
            .lines()
            .any(|l| l.contains("commerce.token") && l.contains("missing")),
        "{table:#?}"
    );

    let named = set("hooks/pem");
    assert_eq!(named.code, 0, "{named:#?}");
    assert!(named.stderr.is_empty(), "no false warning: {named:#?}");
    let other = set("commerce.webhook_public_key");
    assert!(
        other
            .stderr
            .contains("does not name a secret \"commerce.webhook_public_key\""),
        "the configured name replaces the default: {other:#?}"
    );

    // The default name, when the configuration names none.
    std::fs::write(
        dir.join("ml-connector.toml"),
        format!("[store]\nurl = \"sqlite://x.db\"\n{VALID_TAIL}"),
    )
    .unwrap();
    let default = set("commerce.webhook_public_key");
    assert!(default.stderr.is_empty(), "{default:#?}");

    // A typo in the new table is refused like any other unknown key.
    std::fs::write(
        dir.join("ml-connector.toml"),
        format!("[store]\nurl = \"sqlite://x.db\"\n{VALID_TAIL}\n[connection.commerce.webhooks]\nenable = false\n"),
    )
    .unwrap();
    let typo = run(&dir, &["status"]);
    assert_eq!(typo.code, 2, "{typo:#?}");
    assert!(
        typo.stderr.contains("connection[0].commerce.webhooks") && typo.stderr.contains("enable"),
        "{typo:#?}"
    );
}

#[test]
fn piped_output_has_no_colour_even_without_no_color() {
    let dir = scratch("no-colour");
    std::fs::write(
        dir.join("ml-connector.toml"),
        format!("[store]\nurl = \"sqlite://x.db\"\n{VALID_TAIL}"),
    )
    .unwrap();
    assert_eq!(run(&dir, &["keygen"]).code, 0);
    let mut cmd = crate::support::command(&dir);
    let out = cmd
        .env_remove("NO_COLOR")
        .args(["credentials", "list"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("missing"), "{stdout}");
    assert!(!stdout.contains('\x1b'), "{stdout:?}");
}

/// On a terminal the missing secrets are red, unless `NO_COLOR` is set. `script` gives the binary
/// a pseudo-terminal.
#[cfg(target_os = "linux")]
#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let dir = scratch("colour");
    std::fs::write(
        dir.join("ml-connector.toml"),
        format!("[store]\nurl = \"sqlite://x.db\"\n{VALID_TAIL}"),
    )
    .unwrap();
    assert_eq!(run(&dir, &["keygen"]).code, 0);
    let on_terminal = |no_color: bool| {
        let mut cmd = std::process::Command::new("script");
        cmd.current_dir(&dir)
            .args([
                "-qec",
                &format!("{} credentials list", env!("CARGO_BIN_EXE_ml-connector")),
                "/dev/null",
            ])
            .env_remove("ML_CONNECTOR_CONFIG")
            .env_remove("ML_CONNECTOR_MASTER_KEY")
            .env_remove("RUST_LOG")
            .env_remove("NO_COLOR");
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        let out = cmd.output().expect("script(1) from util-linux runs");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = on_terminal(false);
    assert!(coloured.contains("\x1b[31mmissing"), "{coloured:?}");
    let plain = on_terminal(true);
    assert!(
        plain.contains("missing") && !plain.contains('\x1b'),
        "{plain:?}"
    );
}
