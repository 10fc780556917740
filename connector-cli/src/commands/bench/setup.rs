//! The bench's working folder: configuration, mapping, master key, vault and database, written the
//! way a person would set up a connection to the simulated shop and company.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use connector_core::clock::Clock;
use connector_core::state::ConnectionName;
use connector_core::vault::{FileVault, SecretStore as _};
use secrecy::SecretString;

use super::sims::SimInfo;
use crate::commands::demo::simulator_connection;

/// The bench's connection.
pub const CONNECTION: &str = "bench-shop";

/// Paths of the files the bench writes.
#[derive(Debug, Clone)]
pub struct Files {
    pub config: PathBuf,
    pub key: PathBuf,
    pub vault: PathBuf,
    pub database: PathBuf,
}

impl Files {
    /// The files inside `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            config: dir.join("ml-connector.toml"),
            key: dir.join("ml-connector.key"),
            vault: dir.join("ml-connector.vault"),
            database: dir.join("ml-connector.db"),
        }
    }
}

/// The mapping of the simulated shop onto the simulated company: revenue per SKU prefix and
/// store, cash customers for guests, customers matched by e-mail and, when `create_customers` is
/// on, created when missing.
fn mapping(create_customers: bool) -> String {
    let mut out = format!(
        r#"currencies = ["USD", "EUR"]
clearing_product_class = "ECOM"

[customers]
match_by_email = true

[customers.create]
enabled = {create_customers}
code_template = "ML{{customer_id:06}}"
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
"#
    );
    for (store, account) in [
        (None, "00-4010"),
        (Some("marketplace"), "00-4030"),
        (Some("b2b"), "00-4020"),
    ] {
        for prefix in ["AP-", "HW-", "GR-", "SV-"] {
            out.push_str(&format!(
                "\n[[revenue]]\nsku_prefix = \"{prefix}\"\naccount = \"{account}\"\n"
            ));
            if let Some(store) = store {
                out.push_str(&format!("store = \"{store}\"\n"));
            }
        }
    }
    out
}

/// The configuration of one connection to the simulators at `info`. Orders are the trigger, so
/// every seeded order is a document to post; batch and page sizes are the defaults.
fn config(info: &SimInfo) -> String {
    let connection = simulator_connection(
        CONNECTION,
        &info.commerce_url,
        &info.syspro_enet_url,
        &info.syspro_odata_url,
        r#"trigger = "order""#,
        "",
    );
    format!("[store]\nurl = \"sqlite://ml-connector.db\"\n\n{connection}")
}

/// Writes the configuration, mapping, a new master key and the vault with the simulators'
/// credentials into `dir`.
pub async fn write(
    dir: &Path,
    info: &SimInfo,
    create_customers: bool,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Files> {
    let files = Files::in_dir(dir);
    std::fs::write(&files.config, config(info))
        .with_context(|| format!("cannot write {}", files.config.display()))?;
    let mapping_path = dir.join("mapping.toml");
    std::fs::write(&mapping_path, mapping(create_customers))
        .with_context(|| format!("cannot write {}", mapping_path.display()))?;
    let key = connector_core::vault::keygen(&files.key)?;
    let vault = FileVault::new(&files.vault, key, clock);
    let name = ConnectionName::new(CONNECTION)?;
    let oauth = &info.commerce_oauth;
    for (secret, value) in [
        ("commerce.consumer_key", &oauth.consumer_key),
        ("commerce.consumer_secret", &oauth.consumer_secret),
        ("commerce.access_token", &oauth.access_token),
        ("commerce.access_token_secret", &oauth.access_token_secret),
        ("syspro.operator_password", &info.syspro.operator_password),
        ("syspro.company_password", &info.syspro.company_password),
        ("syspro.odata_password", &info.odata.password),
    ] {
        vault
            .set(&name, secret, SecretString::from(value.clone()))
            .await?;
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mapping_is_valid_toml_with_a_rule_per_prefix_and_store() {
        let text = mapping(false);
        let value: toml::Value = toml::from_str(&text).unwrap_or(toml::Value::Boolean(false));
        let rules = value
            .get("revenue")
            .and_then(toml::Value::as_array)
            .map_or(0, Vec::len);
        assert_eq!(rules, 12);
        assert_eq!(
            value
                .get("customers")
                .and_then(|c| c.get("create"))
                .and_then(|c| c.get("enabled"))
                .and_then(toml::Value::as_bool),
            Some(false)
        );
    }
}
