//! The TOML configuration of ml-connector: the state store and one or more connections, each linking
//! one Commerce site to one SYSPRO company with its own schedule and mapping.
//!
//! Every table rejects keys it does not know (a misspelt key is an error naming its path and line,
//! never a silently ignored setting), and cross-field rules are checked after parsing, all problems
//! reported at once. Durations are strings with units (`"5m"`, `"90s"`, see [`ConfigDuration`]);
//! amounts are strings (`"0.05"`). The file holds names of vault entries, never secrets.
//!
//! ```
//! use connector_core::config::Config;
//!
//! let config = Config::from_toml_str(
//!     include_str!("../../examples/ml-connector.example.toml"),
//!     "ml-connector.example.toml",
//! )
//! .expect("the example configuration is valid");
//! assert_eq!(config.connections[0].schedule.min_interval.to_string(), "5m");
//! ```

mod mapping;
mod template;
mod validate;
mod values;

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;

pub use mapping::{
    AccountMapping, CUSTOMER_CODE_PLACEHOLDERS, CreditMemoMapping, CustomerCreation,
    CustomerMapping, FreightHandling, INVOICE_NUMBER_PLACEHOLDERS, InvoiceNumbering,
    JOURNAL_REFERENCE_PLACEHOLDERS, MappingConfig, NOTATION_PLACEHOLDERS, RevenueRule,
    RevenueSelector, SalesOrderMapping, StoreMapping, TaxPosting,
};
pub use mapping::{CustomerField, CustomerUpdate, CustomerWriteBack};
pub use template::{Template, TemplateError};
pub use validate::ConfigProblem;
pub use values::{ConfigDuration, SecretName};

/// The whole configuration file, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where records, watermarks and the audit trail are kept.
    pub store: StoreConfig,
    /// The connections, in file order.
    pub connections: Vec<ConnectionConfig>,
}

/// The state store (`[store]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Store URL (default `"sqlite://ml-connector.db"`, a file beside the working directory).
    #[serde(default = "default_store_url")]
    pub url: String,
    /// How long a worker's hold on a connection lasts unless renewed (default `"1m"`). A worker
    /// renews it every third of this time; when a worker dies, another takes its connections over
    /// once it lapses.
    #[serde(default = "default_lease_time")]
    pub lease_time: ConfigDuration,
}

fn default_store_url() -> String {
    "sqlite://ml-connector.db".to_owned()
}

fn default_lease_time() -> ConfigDuration {
    ConfigDuration::from_mins(1)
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: default_store_url(),
            lease_time: default_lease_time(),
        }
    }
}

/// One Commerce site to one SYSPRO company (`[[connection]]`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionConfig {
    /// Unique name, used in record keys, logs and the CLI.
    pub name: String,
    /// The Commerce side.
    pub commerce: CommerceConfig,
    /// The SYSPRO side.
    pub syspro: SysproConfig,
    /// How often to poll.
    pub schedule: ScheduleConfig,
    /// Which Commerce document becomes a posting.
    pub trigger: Trigger,
    /// What is posted to SYSPRO.
    pub target: PostingTarget,
    /// Plans per SYSPRO call (default 50).
    pub batch_size: u32,
    /// Attempts before a record is `dead` (default 10).
    pub max_attempts: u32,
    /// How far before the watermark each poll reads again (default `"5m"`), so changes that share
    /// the watermark second or commit late are not lost.
    pub overlap: ConfigDuration,
    /// The mapping, inline or read from `mapping_file`.
    pub mapping: MappingConfig,
    /// The file the mapping was read from, when it was not inline.
    pub mapping_file: Option<PathBuf>,
}

impl ConnectionConfig {
    /// The store code of a Commerce store id, from `commerce.stores`.
    pub fn store_code(&self, store_id: u32) -> Option<&str> {
        self.commerce
            .stores
            .iter()
            .find(|s| s.id == store_id)
            .map(|s| s.code.as_str())
    }
}

/// The Commerce side of a connection (`[connection.commerce]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommerceConfig {
    /// PaaS: `https://shop.example.com`; SaaS: `https://<region>.api.commerce.adobe.com/<tenant>`.
    pub base_url: String,
    /// Deployment flavour.
    pub flavour: CommerceFlavour,
    /// How requests are authenticated.
    pub auth: CommerceAuth,
    /// The store views this connection reads (at least one).
    pub stores: Vec<CommerceStore>,
    /// Items per page when listing (default 100; at most 300, Commerce's cap when input limits are on).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Commerce webhooks for `ml-connector run --listen` (`[connection.commerce.webhooks]`).
    #[serde(default)]
    pub webhooks: WebhookConfig,
    /// Link from a report (`ml-connector reconcile`) to a document's page in the Commerce admin.
    /// Placeholders: [`ADMIN_URL_PLACEHOLDERS`]. The default assumes the admin is served at
    /// `{base_url}/admin`; sites with a custom admin path set their own.
    #[serde(default = "default_admin_url_template")]
    pub admin_url_template: Template,
}

/// Placeholders of [`CommerceConfig::admin_url_template`]: `kind` is `invoice`, `creditmemo` or
/// `order` (as in the admin's own paths), `entity_id` the document's Commerce id.
pub const ADMIN_URL_PLACEHOLDERS: &[&str] = &[
    "base_url",
    "kind",
    "entity_id",
    "increment_id",
    "store_code",
];

fn default_admin_url_template() -> Template {
    Template::built_in("{base_url}/admin/sales/{kind}/view/{kind}_id/{entity_id}/")
}

/// Commerce webhooks of a connection (`[connection.commerce.webhooks]`): an optional accelerator
/// next to polling, served at `/webhooks/CONNECTION` by `ml-connector run --listen`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Accept webhooks for this connection when the service listens (default true); false answers
    /// them with 404 and needs no public key.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Vault entry name of the PEM public key that Commerce signs webhooks with (default
    /// [`DEFAULT_WEBHOOK_PUBLIC_KEY`]); see [`WebhookConfig::public_key_name`].
    #[serde(default)]
    pub public_key: Option<SecretName>,
}

/// The vault entry name of a connection's webhook public key when the configuration names none.
pub const DEFAULT_WEBHOOK_PUBLIC_KEY: &str = "commerce.webhook_public_key";

impl WebhookConfig {
    /// The vault entry holding the webhook public key: the configured name or the default.
    pub fn public_key_name(&self) -> &str {
        self.public_key
            .as_ref()
            .map_or(DEFAULT_WEBHOOK_PUBLIC_KEY, SecretName::as_str)
    }
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            public_key: None,
        }
    }
}

fn default_page_size() -> u32 {
    100
}

/// Commerce deployment flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommerceFlavour {
    /// Commerce on cloud infrastructure, on-premises, or Magento Open Source (`/rest/<store>/V1`).
    Paas,
    /// Adobe Commerce as a Cloud Service (`/<tenant>/V1`, store in a header, IMS tokens only).
    Saas,
}

/// Commerce authentication (`[connection.commerce.auth]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommerceAuth {
    /// Which scheme.
    pub kind: CommerceAuthKind,
    /// Vault entry names of the credentials the scheme needs.
    pub secrets: CommerceSecretNames,
    /// IMS token endpoint (`ims` only; default Adobe's `https://ims-na1.adobelogin.com/ims/token/v3`).
    #[serde(default)]
    pub token_url: Option<String>,
    /// IMS scopes (`ims` only).
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// The default IMS token endpoint.
pub const DEFAULT_IMS_TOKEN_URL: &str = "https://ims-na1.adobelogin.com/ims/token/v3";

impl CommerceAuth {
    /// The IMS token endpoint to use.
    pub fn ims_token_url(&self) -> &str {
        self.token_url.as_deref().unwrap_or(DEFAULT_IMS_TOKEN_URL)
    }
}

/// Commerce authentication scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommerceAuthKind {
    /// OAuth 1.0a integration (HMAC-SHA256): `consumer_key`, `consumer_secret`, `access_token`,
    /// `access_token_secret`.
    Oauth1,
    /// Integration token as a bearer token (PaaS 2.4.4+ when allowed by the admin): `token`.
    Bearer,
    /// Adobe IMS server-to-server OAuth (SaaS): `client_id`, `client_secret`.
    Ims,
}

/// Vault entry names of Commerce credentials (`[connection.commerce.auth.secrets]`); which are
/// required depends on the auth kind, and names for another kind are refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommerceSecretNames {
    /// OAuth 1.0a consumer key.
    #[serde(default)]
    pub consumer_key: Option<SecretName>,
    /// OAuth 1.0a consumer secret.
    #[serde(default)]
    pub consumer_secret: Option<SecretName>,
    /// OAuth 1.0a access token.
    #[serde(default)]
    pub access_token: Option<SecretName>,
    /// OAuth 1.0a access token secret.
    #[serde(default)]
    pub access_token_secret: Option<SecretName>,
    /// Bearer token.
    #[serde(default)]
    pub token: Option<SecretName>,
    /// IMS client id.
    #[serde(default)]
    pub client_id: Option<SecretName>,
    /// IMS client secret.
    #[serde(default)]
    pub client_secret: Option<SecretName>,
}

/// One Commerce store view (`[[connection.commerce.stores]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommerceStore {
    /// Store view code, e.g. `"default"`; keys `mapping.stores`.
    pub code: String,
    /// Store id as Commerce reports it in `store_id`.
    pub id: u32,
}

/// The SYSPRO side of a connection (`[connection.syspro]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SysproConfig {
    /// e.net REST base URL, e.g. `http://syspro:20161/SYSPROWCFService/Rest`.
    pub enet_url: String,
    /// SYSPRO OData service URL, for faster reference-data reads (optional).
    #[serde(default)]
    pub odata_url: Option<String>,
    /// SYSPRO company id.
    pub company_id: String,
    /// A dedicated integration operator (a second logon with the same operator evicts the first).
    pub operator: String,
    /// Vault entry names of SYSPRO credentials.
    pub secrets: SysproSecretNames,
    /// Log on again after this long without a call (default `"10m"`); keep it below the e.net class
    /// timeout set in SYSPRO.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: ConfigDuration,
    /// Time allowed for one e.net call (default `"2m"`). A record whose document was sent less
    /// than twice this long ago and never answered (the process died, or the answer was lost) is
    /// not looked up in SYSPRO yet: SYSPRO may still be applying it.
    #[serde(default = "default_call_timeout")]
    pub call_timeout: ConfigDuration,
}

fn default_idle_timeout() -> ConfigDuration {
    ConfigDuration::from_mins(10)
}

fn default_call_timeout() -> ConfigDuration {
    ConfigDuration::from_mins(2)
}

/// Vault entry names of SYSPRO credentials (`[connection.syspro.secrets]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SysproSecretNames {
    /// The operator's password.
    pub operator_password: SecretName,
    /// The company password, where the company has one.
    #[serde(default)]
    pub company_password: Option<SecretName>,
    /// The OData Basic-auth password (required with `odata_url`).
    #[serde(default)]
    pub odata_password: Option<SecretName>,
}

/// Poll schedule (`[connection.schedule]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Shortest time between polls (default `"5m"`).
    #[serde(default = "default_min_interval")]
    pub min_interval: ConfigDuration,
    /// Longest time between polls (default `"15m"`).
    #[serde(default = "default_max_interval")]
    pub max_interval: ConfigDuration,
    /// Poll sooner after a busy cycle and back off towards `max_interval` when nothing changed
    /// (default true); false polls every `min_interval`.
    #[serde(default = "default_true")]
    pub adaptive: bool,
}

fn default_min_interval() -> ConfigDuration {
    ConfigDuration::from_mins(5)
}
fn default_max_interval() -> ConfigDuration {
    ConfigDuration::from_mins(15)
}
fn default_true() -> bool {
    true
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            min_interval: default_min_interval(),
            max_interval: default_max_interval(),
            adaptive: true,
        }
    }
}

/// Which Commerce document becomes a posting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A Commerce invoice (money captured): the default.
    #[default]
    Invoice,
    /// A Commerce order, when invoicing happens in SYSPRO or at order time.
    Order,
}

/// What a connection posts to SYSPRO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostingTarget {
    /// ARSTIN invoice on the clearing product class plus a GENTJL journal to the mapped accounts.
    #[default]
    ArInvoiceGlJournal,
    /// ARSTIN invoice only; revenue lands on the product class's sales account.
    ArOnly,
    /// SORTOI sales order, for sites that fulfil from SYSPRO.
    SalesOrder,
}

/// The configuration as written: a connection's mapping may be inline or in another file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    store: StoreConfig,
    #[serde(default)]
    connection: Vec<ConnectionFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionFile {
    name: String,
    commerce: CommerceConfig,
    syspro: SysproConfig,
    #[serde(default)]
    schedule: ScheduleConfig,
    #[serde(default)]
    trigger: Trigger,
    #[serde(default)]
    target: PostingTarget,
    #[serde(default = "default_batch_size")]
    batch_size: u32,
    #[serde(default = "default_max_attempts")]
    max_attempts: u32,
    #[serde(default = "default_overlap")]
    overlap: ConfigDuration,
    #[serde(default)]
    mapping: Option<MappingConfig>,
    #[serde(default)]
    mapping_file: Option<PathBuf>,
}

fn default_batch_size() -> u32 {
    50
}
fn default_max_attempts() -> u32 {
    10
}
fn default_overlap() -> ConfigDuration {
    ConfigDuration::from_mins(5)
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not fit the configuration's shape.
    #[error("{file}:{line}:{column}: at `{key_path}`: {message}")]
    Parse {
        /// The file (as given to the loader).
        file: String,
        /// 1-based line of the offending text (0 when unknown).
        line: usize,
        /// 1-based column of the offending text (0 when unknown).
        column: usize,
        /// Dotted key path, e.g. `connection[0].commerce.page_size` (`.` for the document itself).
        key_path: String,
        /// What was wrong and what was expected.
        message: String,
    },
    /// The file parsed, but settings contradict each other or are out of range.
    #[error("{file}: {} problem(s): {}", problems.len(), join_problems(problems))]
    Invalid {
        /// The file.
        file: String,
        /// Every problem found, each naming its key path.
        problems: Vec<ConfigProblem>,
    },
}

fn join_problems(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Parses TOML text into `T`, reporting the key path (serde_path_to_error) and the line and column
/// (from toml's span) of any error.
pub(crate) fn parse_toml<T: DeserializeOwned>(text: &str, file: &str) -> Result<T, ConfigError> {
    let located = |span: Option<std::ops::Range<usize>>, key_path: String, message: String| {
        let (line, column) = span.map_or((0, 0), |s| line_column(text, s.start));
        ConfigError::Parse {
            file: file.to_owned(),
            line,
            column,
            key_path,
            message,
        }
    };
    let deserializer = toml::Deserializer::parse(text)
        .map_err(|e| located(e.span(), ".".to_owned(), e.message().trim().to_owned()))?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let key_path = e.path().to_string();
        let inner = e.into_inner();
        located(inner.span(), key_path, inner.message().trim().to_owned())
    })
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

impl Config {
    /// Reads, parses and validates a configuration file; a `mapping_file` is resolved relative to
    /// the configuration file's directory.
    ///
    /// # Errors
    /// [`ConfigError::Read`], [`ConfigError::Parse`] (with line, column and key path) or
    /// [`ConfigError::Invalid`] listing every cross-field problem.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = read(path)?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        Self::from_toml_with(&text, &path.display().to_string(), |file| {
            let resolved = base.join(file);
            let text = read(&resolved)?;
            Ok((resolved, text))
        })
    }

    /// Parses and validates configuration text. A `mapping_file` is read relative to the current
    /// directory.
    ///
    /// # Errors
    /// As [`Config::load`]; `file` is only used in messages.
    pub fn from_toml_str(text: &str, file: &str) -> Result<Self, ConfigError> {
        Self::from_toml_with(text, file, |path| {
            let text = read(path)?;
            Ok((path.to_path_buf(), text))
        })
    }

    fn from_toml_with(
        text: &str,
        file: &str,
        read_mapping: impl Fn(&Path) -> Result<(PathBuf, String), ConfigError>,
    ) -> Result<Self, ConfigError> {
        let raw: ConfigFile = parse_toml(text, file)?;
        let mut problems = Vec::new();
        let mut connections = Vec::with_capacity(raw.connection.len());
        for (index, c) in raw.connection.into_iter().enumerate() {
            let at = format!("connection[{index}]");
            let (mapping, mapping_file) = match (c.mapping, c.mapping_file) {
                (Some(mapping), None) => (mapping, None),
                (None, Some(path)) => {
                    let (resolved, text) = read_mapping(&path)?;
                    let mapping = parse_toml(&text, &resolved.display().to_string())?;
                    (mapping, Some(resolved))
                }
                (Some(_), Some(_)) => {
                    problems.push(ConfigProblem::new(
                        format!("{at}.mapping_file"),
                        "give the mapping either inline ([connection.mapping]) or as mapping_file, not both",
                    ));
                    continue;
                }
                (None, None) => {
                    problems.push(ConfigProblem::new(
                        format!("{at}.mapping"),
                        "missing: add a [connection.mapping] table or a mapping_file path",
                    ));
                    continue;
                }
            };
            connections.push(ConnectionConfig {
                name: c.name,
                commerce: c.commerce,
                syspro: c.syspro,
                schedule: c.schedule,
                trigger: c.trigger,
                target: c.target,
                batch_size: c.batch_size,
                max_attempts: c.max_attempts,
                overlap: c.overlap,
                mapping,
                mapping_file,
            });
        }
        let config = Config {
            store: raw.store,
            connections,
        };
        problems.extend(config.problems());
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid {
                file: file.to_owned(),
                problems,
            })
        }
    }

    /// The connection with this name.
    pub fn connection(&self, name: &str) -> Option<&ConnectionConfig> {
        self.connections.iter().find(|c| c.name == name)
    }
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_in_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        let offset = text.find("= 2").unwrap();
        assert_eq!(line_column(text, offset), (2, 4));
    }
}
