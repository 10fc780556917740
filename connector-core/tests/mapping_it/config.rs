//! Configuration parsing: the commented example, defaults, errors with path and line, and each
//! cross-field rule.

use std::path::{Path, PathBuf};
use std::time::Duration;

use connector_core::config::{
    CommerceAuthKind, CommerceFlavour, Config, ConfigError, PostingTarget, TaxPosting, Trigger,
};

use crate::support::dec;

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ml-connector.example.toml")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/mapping_it/fixtures")
        .join(name)
}

/// The smallest valid configuration: everything else takes its default.
const MINIMAL: &str = r#"
[[connection]]
name = "shop"

[connection.commerce]
base_url = "https://shop.example"
flavour = "paas"
stores = [{ code = "default", id = 1 }]

[connection.commerce.auth]
kind = "bearer"
secrets = { token = "shop/token" }

[connection.syspro]
enet_url = "http://syspro:20161/SYSPROWCFService/Rest"
company_id = "EDU1"
operator = "WEB"
secrets = { operator_password = "shop/syspro" }

[connection.mapping]
currencies = ["USD"]
clearing_product_class = "WEB"
stores.default.branch = "10"

[connection.mapping.accounts]
clearing = "1250"
freight = "4100"
tax = "2200"
rounding = "7900"
"#;

fn edited(edits: &[(&str, &str)]) -> String {
    let mut text = MINIMAL.to_owned();
    for (old, new) in edits {
        assert!(text.contains(old), "edit {old:?} not found");
        text = text.replacen(old, new, 1);
    }
    text
}

fn problems(text: &str) -> Vec<(String, String)> {
    match Config::from_toml_str(text, "test.toml") {
        Err(ConfigError::Invalid { problems, file }) => {
            assert_eq!(file, "test.toml");
            problems
                .into_iter()
                .map(|p| (p.key_path, p.message))
                .collect()
        }
        other => panic!("expected validation problems, got {other:?}"),
    }
}

fn assert_problem(text: &str, key_path: &str, words: &str) {
    let found = problems(text);
    assert!(
        found
            .iter()
            .any(|(k, m)| k == key_path && m.contains(words)),
        "no problem at {key_path:?} mentioning {words:?}; got {found:#?}"
    );
}

#[test]
fn the_commented_example_loads_with_every_key() {
    let config = Config::load(&example_path()).unwrap();
    assert_eq!(config.store.url, "sqlite://ml-connector.db");
    assert_eq!(config.connections.len(), 2);

    let us = config.connection("acme-us").unwrap();
    assert_eq!(us.trigger, Trigger::Invoice);
    assert_eq!(us.target, PostingTarget::ArInvoiceGlJournal);
    assert_eq!((us.batch_size, us.max_attempts), (50, 10));
    assert_eq!(us.overlap.get(), Duration::from_secs(300));
    assert_eq!(us.commerce.flavour, CommerceFlavour::Paas);
    assert_eq!(us.commerce.auth.kind, CommerceAuthKind::Oauth1);
    assert_eq!(
        us.commerce
            .auth
            .secrets
            .access_token_secret
            .as_ref()
            .map(|s| s.as_str()),
        Some("acme-us/commerce/access_token_secret")
    );
    assert_eq!(us.store_code(2), Some("wholesale"));
    assert_eq!(
        us.syspro.odata_url.as_deref(),
        Some("http://syspro.acme.example:40000/odata")
    );
    assert_eq!(us.syspro.idle_timeout.get(), Duration::from_secs(600));
    assert_eq!(us.syspro.call_timeout.get(), Duration::from_secs(120));
    assert_eq!(us.schedule.max_interval.get(), Duration::from_secs(900));
    let m = &us.mapping;
    assert_eq!(m.rounding_tolerance, dec("0.05"));
    assert_eq!(
        m.customers.by_id.get("1042").map(String::as_str),
        Some("ACME01")
    );
    assert!(m.customers.create.enabled);
    assert_eq!(
        m.customers.create.code_template.as_str(),
        "WEB{customer_id:06}"
    );
    assert_eq!(m.stores["default"].cash_customer.as_deref(), Some("CASH01"));
    assert_eq!(m.accounts.discount.as_deref(), Some("4900-000"));
    assert_eq!(m.revenue.len(), 5);
    assert_eq!(m.revenue[2].store.as_deref(), Some("wholesale"));
    assert!(
        m.gl_accounts()
            .iter()
            .any(|(key, code)| key == "revenue[4].account" && *code == "4030-000")
    );
    assert!(us.mapping_file.is_none());

    let eu = config.connection("acme-eu").unwrap();
    assert_eq!(eu.target, PostingTarget::ArOnly);
    assert_eq!(eu.commerce.auth.kind, CommerceAuthKind::Ims);
    assert_eq!(
        eu.commerce.auth.ims_token_url(),
        "https://ims-na1.adobelogin.com/ims/token/v3"
    );
    assert_eq!(eu.commerce.auth.scopes.len(), 3);
    assert_eq!(eu.mapping.accounts.tax_posting, TaxPosting::Syspro);
}

#[test]
fn defaults_fill_everything_optional() {
    let config = Config::from_toml_str(MINIMAL, "minimal.toml").unwrap();
    assert_eq!(config.store.url, "sqlite://ml-connector.db");
    let c = &config.connections[0];
    assert_eq!(c.commerce.page_size, 100);
    assert_eq!(c.schedule.min_interval.get(), Duration::from_secs(300));
    assert_eq!(c.schedule.max_interval.get(), Duration::from_secs(900));
    assert!(c.schedule.adaptive);
    assert_eq!(c.trigger, Trigger::Invoice);
    assert_eq!(c.target, PostingTarget::ArInvoiceGlJournal);
    assert_eq!(c.batch_size, 50);
    assert_eq!(c.max_attempts, 10);
    assert_eq!(c.overlap.get(), Duration::from_secs(300));
    assert_eq!(c.syspro.idle_timeout.get(), Duration::from_secs(600));
    let m = &c.mapping;
    assert_eq!(m.rounding_tolerance, dec("0.05"));
    assert_eq!(
        m.invoice.number_template.as_str(),
        "{store_prefix}{increment_id}"
    );
    assert_eq!(m.invoice.max_length, 20);
    assert_eq!(m.invoice.journal_reference_template.as_str(), "{invoice}");
    assert!(m.customers.match_by_email);
    assert!(!m.customers.create.enabled);
    assert_eq!(m.customers.create.code_max_length, 15);
    assert_eq!(m.stores["default"].invoice_prefix, "");
    assert_eq!(m.accounts.tax_posting, TaxPosting::Journal);
    assert!(m.revenue.is_empty());
}

#[test]
fn unknown_key_names_its_path_and_line() {
    let text = edited(&[(
        "flavour = \"paas\"\n",
        "flavour = \"paas\"\npage_sise = 200\n",
    )]);
    let err = Config::from_toml_str(&text, "shop.toml").unwrap_err();
    let line = text
        .lines()
        .position(|l| l.starts_with("page_sise"))
        .unwrap()
        + 1;
    match &err {
        ConfigError::Parse {
            file,
            line: l,
            column,
            key_path,
            message,
        } => {
            assert_eq!(file, "shop.toml");
            assert_eq!(*l, line);
            assert_eq!(*column, 1);
            assert_eq!(key_path, "connection[0].commerce.page_sise");
            assert!(message.contains("unknown field `page_sise`"), "{message}");
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!("shop.toml:{line}:1: at `connection[0].commerce")),
        "{shown}"
    );
}

#[test]
fn bad_values_name_their_path_and_line() {
    let text = edited(&[(
        "[connection.mapping]\n",
        "[connection.schedule]\nmin_interval = 300\n\n[connection.mapping]\n",
    )]);
    let err = Config::from_toml_str(&text, "t.toml").unwrap_err();
    let line = text
        .lines()
        .position(|l| l.starts_with("min_interval"))
        .unwrap()
        + 1;
    match err {
        ConfigError::Parse {
            line: l,
            key_path,
            message,
            ..
        } => {
            assert_eq!(key_path, "connection[0].schedule.min_interval");
            assert_eq!(l, line);
            assert!(message.contains("no unit"), "{message}");
        }
        other => panic!("expected a parse error, got {other:?}"),
    }

    let text = edited(&[(
        "clearing_product_class = \"WEB\"\n",
        "clearing_product_class = \"WEB\"\nrounding_tolerance = 0.05\n",
    )]);
    match Config::from_toml_str(&text, "t.toml").unwrap_err() {
        ConfigError::Parse {
            key_path, message, ..
        } => {
            assert_eq!(key_path, "connection[0].mapping.rounding_tolerance");
            assert!(message.contains("strings"), "{message}");
        }
        other => panic!("expected a parse error, got {other:?}"),
    }

    let text = edited(&[("kind = \"bearer\"", "kind = \"basic\"")]);
    match Config::from_toml_str(&text, "t.toml").unwrap_err() {
        ConfigError::Parse {
            key_path, message, ..
        } => {
            assert_eq!(key_path, "connection[0].commerce.auth.kind");
            assert!(message.contains("oauth1"), "{message}");
        }
        other => panic!("expected a parse error, got {other:?}"),
    }

    let text = edited(&[(
        "[connection.mapping]\n",
        "[connection.mapping]\ninvoice.number_template = \"{increment_id\"\n",
    )]);
    match Config::from_toml_str(&text, "t.toml").unwrap_err() {
        ConfigError::Parse { key_path, .. } => {
            assert_eq!(key_path, "connection[0].mapping.invoice.number_template");
        }
        other => panic!("expected a parse error, got {other:?}"),
    }

    let err = Config::from_toml_str("[store\nurl = 1", "broken.toml").unwrap_err();
    assert!(matches!(err, ConfigError::Parse { line: 1, .. }), "{err:?}");
}

#[test]
fn secret_values_are_not_echoed_in_errors() {
    let text = edited(&[("token = \"shop/token\"", "token = \"hunter2 s3cr3t!\"")]);
    let err = Config::from_toml_str(&text, "t.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("connection[0].commerce.auth.secrets.token"),
        "{err}"
    );
    assert!(!err.contains("s3cr3t"), "{err}");
}

#[test]
fn key_widths_cannot_exceed_syspro_s() {
    assert_problem(
        &edited(&[(
            "[connection.mapping.accounts]\n",
            "[connection.mapping.invoice]\nmax_length = 21\n[connection.mapping.accounts]\n",
        )]),
        "connection[0].mapping.invoice.max_length",
        "at most 20",
    );
    assert_problem(
        &edited(&[(
            "[connection.mapping.accounts]\n",
            "[connection.mapping.customers.create]\ncode_max_length = 16\n[connection.mapping.accounts]\n",
        )]),
        "connection[0].mapping.customers.create.code_max_length",
        "at most 15",
    );
    // The widths themselves are accepted.
    Config::from_toml_str(
        &edited(&[(
            "[connection.mapping.accounts]\n",
            "[connection.mapping.invoice]\nmax_length = 20\n[connection.mapping.accounts]\n",
        )]),
        "test.toml",
    )
    .unwrap();
}

#[test]
fn schedule_and_numeric_ranges() {
    assert_problem(
        &edited(&[(
            "[connection.mapping]\n",
            "[connection.schedule]\nmin_interval = \"20m\"\nmax_interval = \"10m\"\n[connection.mapping]\n",
        )]),
        "connection[0].schedule.max_interval",
        "min_interval",
    );
    assert_problem(
        &edited(&[(
            "flavour = \"paas\"\n",
            "flavour = \"paas\"\npage_size = 301\n",
        )]),
        "connection[0].commerce.page_size",
        "1 to 300",
    );
    assert_problem(
        &edited(&[("name = \"shop\"\n", "name = \"shop\"\nbatch_size = 0\n")]),
        "connection[0].batch_size",
        "at least 1",
    );
    assert_problem(
        &edited(&[("name = \"shop\"\n", "name = \"shop\"\nmax_attempts = 0\n")]),
        "connection[0].max_attempts",
        "at least 1",
    );
    assert_problem(
        &edited(&[("name = \"shop\"\n", "name = \"shop\"\noverlap = \"2d\"\n")]),
        "connection[0].overlap",
        "a day",
    );
    assert_problem(
        &edited(&[(
            "operator = \"WEB\"\n",
            "operator = \"WEB\"\nidle_timeout = \"30s\"\n",
        )]),
        "connection[0].syspro.idle_timeout",
        "1m",
    );
    for timeout in ["2s", "31m"] {
        assert_problem(
            &edited(&[(
                "operator = \"WEB\"\n",
                &format!("operator = \"WEB\"\ncall_timeout = \"{timeout}\"\n"),
            )]),
            "connection[0].syspro.call_timeout",
            "expected from \"5s\" to \"30m\"",
        );
    }
}

#[test]
fn auth_secret_names_must_match_the_kind_and_flavour() {
    assert_problem(
        &edited(&[("secrets = { token = \"shop/token\" }", "secrets = {}")]),
        "connection[0].commerce.auth.secrets.token",
        "missing",
    );
    let oauth = edited(&[
        ("kind = \"bearer\"", "kind = \"oauth1\""),
        (
            "secrets = { token = \"shop/token\" }",
            "secrets = { consumer_key = \"a\", consumer_secret = \"b\", access_token = \"c\" }",
        ),
    ]);
    assert_problem(
        &oauth,
        "connection[0].commerce.auth.secrets.access_token_secret",
        "missing",
    );
    assert_problem(
        &edited(&[(
            "secrets = { token = \"shop/token\" }",
            "secrets = { token = \"a\", client_id = \"b\" }",
        )]),
        "connection[0].commerce.auth.secrets.client_id",
        "not used",
    );
    assert_problem(
        &edited(&[("flavour = \"paas\"", "flavour = \"saas\"")]),
        "connection[0].commerce.auth.kind",
        "ims",
    );
    assert_problem(
        &edited(&[("kind = \"bearer\"", "kind = \"bearer\"\nscopes = [\"x\"]")]),
        "connection[0].commerce.auth.scopes",
        "ims",
    );
    assert_problem(
        &edited(&[("company_id", "odata_url = \"http://odata\"\ncompany_id")]),
        "connection[0].syspro.secrets.odata_password",
        "missing",
    );
    assert_problem(
        &edited(&[(
            "base_url = \"https://shop.example\"",
            "base_url = \"shop.example\"",
        )]),
        "connection[0].commerce.base_url",
        "not a URL",
    );
}

#[test]
fn connections_and_stores() {
    let twice = format!("{MINIMAL}\n{MINIMAL}");
    assert_problem(&twice, "connection[1].name", "used twice");
    assert_problem(
        &edited(&[("name = \"shop\"", "name = \"my shop\"")]),
        "connection[0].name",
        "letters",
    );
    assert_problem(
        "[store]\nurl = \"sqlite://x.db\"\n",
        "connection",
        "at least one",
    );
    assert_problem(
        &format!("[store]\nurl = \"nowhere\"\n{MINIMAL}"),
        "store.url",
        "store URL",
    );
    assert_problem(
        &edited(&[(
            "stores = [{ code = \"default\", id = 1 }]",
            "stores = [{ code = \"default\", id = 1 }, { code = \"b2b\", id = 1 }]",
        )]),
        "connection[0].commerce.stores[1].id",
        "twice",
    );
    assert_problem(
        &edited(&[(
            "stores = [{ code = \"default\", id = 1 }]",
            "stores = [{ code = \"default\", id = 1 }, { code = \"b2b\", id = 2 }]",
        )]),
        "connection[0].mapping.stores",
        "\"b2b\"",
    );
    assert_problem(
        &edited(&[(
            "stores.default.branch = \"10\"",
            "stores.default.branch = \"10\"\nstores.other.branch = \"20\"",
        )]),
        "connection[0].mapping.stores.other",
        "not one of",
    );
}

#[test]
fn mapping_rules() {
    assert_problem(
        &edited(&[("currencies = [\"USD\"]", "currencies = []")]),
        "connection[0].mapping.currencies",
        "at least one",
    );
    assert_problem(
        &edited(&[("currencies = [\"USD\"]", "currencies = [\"usd\"]")]),
        "connection[0].mapping.currencies[0]",
        "ISO",
    );
    assert_problem(
        &edited(&[("tax = \"2200\"\n", "")]),
        "connection[0].mapping.accounts.tax",
        "tax_posting",
    );
    assert_problem(
        &edited(&[(
            "clearing_product_class = \"WEB\"",
            "clearing_product_class = \"WEB\"\nrounding_tolerance = \"5\"",
        )]),
        "connection[0].mapping.rounding_tolerance",
        "out of range",
    );
    assert_problem(
        &edited(&[(
            "clearing_product_class = \"WEB\"",
            "clearing_product_class = \"WEB\"\ninvoice.number_template = \"{store_prefix}{nope}\"",
        )]),
        "connection[0].mapping.invoice.number_template",
        "{nope}",
    );
    assert_problem(
        &edited(&[(
            "clearing_product_class = \"WEB\"",
            "clearing_product_class = \"WEB\"\ninvoice.number_template = \"WEB-{store_code}\"",
        )]),
        "connection[0].mapping.invoice.number_template",
        "same SYSPRO invoice number",
    );
    assert_problem(
        &edited(&[(
            "clearing_product_class = \"WEB\"",
            "clearing_product_class = \"WEB\"\ncustomers.by_id.abc = \"X\"",
        )]),
        "connection[0].mapping.customers.by_id.abc",
        "digits",
    );
    assert_problem(
        &edited(&[(
            "clearing_product_class = \"WEB\"",
            "clearing_product_class = \"WEB\"\ncustomers.by_email = { \"A@x.com\" = \"A\", \"a@X.com\" = \"B\" }",
        )]),
        "connection[0].mapping.customers.by_email.\"a@X.com\"",
        "same address",
    );
    assert_problem(
        &edited(&[(
            "clearing_product_class = \"WEB\"",
            "clearing_product_class = \"WEB\"\ncustomers.create = { enabled = true, code_template = \"WEB{store_id}\" }",
        )]),
        "connection[0].mapping.customers.create.code_template",
        "{customer_id}",
    );
    assert_problem(
        &edited(&[(
            "clearing_product_class = \"WEB\"",
            "clearing_product_class = \"WEB\"\ncustomers.create = { currency = \"EUR\" }",
        )]),
        "connection[0].mapping.customers.create.currency",
        "not one of",
    );
}

#[test]
fn revenue_rules_need_one_selector_a_known_store_and_no_repeats() {
    let with_rules = |rules: &str| format!("{MINIMAL}\n{rules}");
    assert_problem(
        &with_rules("[[connection.mapping.revenue]]\naccount = \"4000\"\n"),
        "connection[0].mapping.revenue[0]",
        "no selector",
    );
    assert_problem(
        &with_rules(
            "[[connection.mapping.revenue]]\nsku = \"A\"\ncategory_id = 3\naccount = \"4000\"\n",
        ),
        "connection[0].mapping.revenue[0]",
        "several selectors",
    );
    assert_problem(
        &with_rules(
            "[[connection.mapping.revenue]]\nsku = \"A\"\nstore = \"elsewhere\"\naccount = \"4000\"\n",
        ),
        "connection[0].mapping.revenue[0].store",
        "not a store",
    );
    assert_problem(
        &with_rules(
            "[[connection.mapping.revenue]]\nsku_prefix = \"TS-\"\naccount = \"4000\"\n[[connection.mapping.revenue]]\nsku_prefix = \"ts-\"\naccount = \"4001\"\n",
        ),
        "connection[0].mapping.revenue[1]",
        "repeats revenue[0]",
    );
    // The same selector for another store is not a repeat.
    let ok = with_rules(
        "[[connection.mapping.revenue]]\nsku = \"A\"\naccount = \"4000\"\n[[connection.mapping.revenue]]\nsku = \"A\"\nstore = \"default\"\naccount = \"4001\"\n",
    );
    assert!(Config::from_toml_str(&ok, "t.toml").is_ok());
}

#[test]
fn mapping_from_a_file_relative_to_the_configuration() {
    let config = Config::load(&fixture("with-mapping-file.toml")).unwrap();
    let c = &config.connections[0];
    assert_eq!(c.mapping.clearing_product_class, "WEBF");
    assert_eq!(
        c.mapping_file.as_deref(),
        Some(fixture("mappings/shop.toml").as_path())
    );

    // Errors inside the mapping file name that file.
    let err = Config::load(&fixture("with-bad-mapping-file.toml")).unwrap_err();
    match err {
        ConfigError::Parse {
            file,
            key_path,
            line,
            ..
        } => {
            assert!(file.ends_with("bad-shop.toml"), "{file}");
            assert_eq!(key_path, "accounts.freigth");
            assert_eq!(line, 6);
        }
        other => panic!("expected a parse error, got {other:?}"),
    }

    assert_problem(
        &edited(&[(
            "name = \"shop\"\n",
            "name = \"shop\"\nmapping_file = \"x.toml\"\n",
        )]),
        "connection[0].mapping_file",
        "not both",
    );
    let missing = Config::load(&fixture("does-not-exist.toml")).unwrap_err();
    assert!(matches!(missing, ConfigError::Read { .. }), "{missing:?}");
}

#[test]
fn sales_order_settings() {
    let selling = [(
        "name = \"shop\"",
        "name = \"shop\"\ntarget = \"sales_order\"",
    )];
    assert_problem(
        &edited(&selling),
        "connection[0].mapping.sales_orders",
        "needs stock_codes or stock_code_prefixes",
    );
    let mapping = |extra: &str| {
        let table = format!("stores.default.branch = \"10\"\n{extra}");
        edited(&[
            selling[0],
            ("stores.default.branch = \"10\"", table.as_str()),
        ])
    };
    let ok = mapping("sales_orders.stock_code_prefixes = [\"AP-\"]");
    let config = Config::from_toml_str(&ok, "test.toml").expect("valid");
    let so = &config.connections[0].mapping.sales_orders;
    assert_eq!(so.unit_of_measure, "EA");
    assert_eq!(so.stock_code("ap-sock"), Some("ap-sock".to_owned()));
    assert_eq!(so.stock_code("HW-1"), None);

    assert_problem(
        &mapping("sales_orders.stock_codes = { \"A\" = \"X\", \"a\" = \"Y\" }"),
        "connection[0].mapping.sales_orders.stock_codes.\"a\"",
        "the same SKU",
    );
    assert_problem(
        &mapping("sales_orders.stock_codes = { \"A\" = \" \" }"),
        "connection[0].mapping.sales_orders.stock_codes.\"A\"",
        "must not be empty",
    );
    assert_problem(
        &mapping(
            "sales_orders.stock_code_prefixes = [\"AP-\"]\nsales_orders.warehouse = \"WAREHOUSE-11\"",
        ),
        "connection[0].mapping.sales_orders.warehouse",
        "longer than 10 characters",
    );
    assert_problem(
        &mapping(
            "sales_orders.stock_code_prefixes = [\"AP-\"]\nstores.default.warehouse = \"WAREHOUSE-11\"",
        ),
        "connection[0].mapping.stores.default.warehouse",
        "longer than 10 characters",
    );
    assert_problem(
        &mapping(
            "sales_orders.stock_code_prefixes = [\"AP-\"]\nsales_orders.freight = \"misc_charge\"",
        ),
        "connection[0].mapping.sales_orders.freight_product_class",
        "misc_charge",
    );
    assert_problem(
        &mapping(
            "sales_orders.stock_code_prefixes = [\"AP-\"]\nsales_orders.freight_product_class = \"_FRT\"",
        ),
        "connection[0].mapping.sales_orders.freight_product_class",
        "only used with",
    );
    assert_problem(
        &mapping("sales_orders.stock_code_prefixes = [\"AP-\"]\ncredit_memos.enabled = true"),
        "connection[0].mapping.credit_memos.enabled",
        "target \"sales_order\" does not post",
    );
    let misc = mapping(
        "sales_orders.stock_code_prefixes = [\"AP-\"]\nsales_orders.freight = \"misc_charge\"\nsales_orders.freight_product_class = \"_FRT\"",
    );
    assert!(Config::from_toml_str(&misc, "test.toml").is_ok());
}
