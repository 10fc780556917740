//! Wiring shared by the commands: where the configuration, vault, key and database are, and opening
//! each with an error message that says what to do.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use connector_core::clock::{Clock, SystemClock};
use connector_core::config::{Config, ConfigError, ConnectionConfig};
use connector_core::state::{ConnectionName, SqliteOptions, SqliteStore, StoreError};
use connector_core::vault::{FileVault, MasterKey};

use crate::cli::Cli;
use crate::failure::usage;
use crate::output::{Log, Output};
use crate::toml_lines::TomlSource;

/// What every command gets: the global options resolved.
#[derive(Debug, Clone)]
pub struct Context {
    /// The configuration file.
    pub config_path: PathBuf,
    /// The vault file.
    pub vault_path: PathBuf,
    /// The master key file.
    pub key_file: PathBuf,
    /// How to print.
    pub out: Output,
    /// Lines for people on standard error, in the log format.
    pub log: Log,
    /// The clock everything is stamped with.
    pub clock: Arc<dyn Clock>,
}

impl Context {
    /// Resolves the global options: the vault and key file default to files beside the
    /// configuration.
    pub fn from_cli(cli: &Cli) -> Self {
        let base = parent_dir(&cli.config);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        Self {
            config_path: cli.config.clone(),
            vault_path: cli
                .vault
                .clone()
                .unwrap_or_else(|| base.join("ml-connector.vault")),
            key_file: cli
                .key_file
                .clone()
                .unwrap_or_else(|| base.join("ml-connector.key")),
            out: Output::new(cli.json),
            log: Log::new(cli.log_format, Arc::clone(&clock)),
            clock,
        }
    }

    /// Loads and validates the configuration; every problem names its file, line and key.
    pub fn config(&self) -> anyhow::Result<Config> {
        load_config(&self.config_path)
    }

    /// The master key from `ML_CONNECTOR_MASTER_KEY` or the key file.
    pub fn master_key(&self) -> anyhow::Result<MasterKey> {
        MasterKey::from_env_or_file(Some(&self.key_file)).map_err(|e| {
            let hint = if matches!(e, connector_core::vault::VaultError::NoKey { .. }) {
                " (create one with `ml-connector keygen`)"
            } else {
                ""
            };
            anyhow::Error::new(e).context(format!("cannot open the vault{hint}"))
        })
    }

    /// The vault, with its key and integrity checked now rather than at the first secret.
    pub async fn vault(&self) -> anyhow::Result<FileVault> {
        let vault = FileVault::new(
            &self.vault_path,
            self.master_key()?,
            Arc::clone(&self.clock),
        );
        vault.verify().await?;
        Ok(vault)
    }

    /// The state store the configuration names (SQLite or PostgreSQL).
    pub async fn store(&self, config: &Config) -> anyhow::Result<connector_core::state::AnyStore> {
        crate::wiring::open_state_store(
            &config.store.url,
            parent_dir(&self.config_path),
            Arc::clone(&self.clock),
        )
        .await
    }
}

/// How long a write waits for another writer before the database counts as locked. Long enough
/// for the engine's own concurrent writers on a busy disk (every commit is synced), short enough
/// that a database held by another process is reported rather than waited on.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the SQLite store at `path`, explaining a locked database.
pub async fn open_store(path: &Path, clock: Arc<dyn Clock>) -> anyhow::Result<SqliteStore> {
    let mut options = SqliteOptions::new(path);
    options.busy_timeout = SQLITE_BUSY_TIMEOUT;
    SqliteStore::open_with(options, clock).await.map_err(|e| {
        let locked = e.is_transient() || error_mentions(&e, "locked");
        let error = anyhow::Error::new(e);
        if locked {
            error.context(format!(
                "the state database {} is locked by another process (is `ml-connector run` or another sync running?)",
                path.display()
            ))
        } else {
            error
        }
    })
}

fn error_mentions(error: &StoreError, needle: &str) -> bool {
    let mut cause: Option<&dyn std::error::Error> = Some(error);
    while let Some(c) = cause {
        if c.to_string().contains(needle) {
            return true;
        }
        cause = c.source();
    }
    false
}

/// The directory of `path` (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The database file of a `sqlite:` store URL; a relative path is taken from the configuration's
/// directory, so the service finds the same database whatever its working directory.
pub fn store_path(url: &str, base: &Path) -> anyhow::Result<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| {
            usage(format!(
                "store.url {url:?} is not supported by this build; expected \"sqlite://FILE\""
            ))
        })?;
    let rest = rest.split('?').next().unwrap_or(rest);
    if rest.is_empty() {
        return Err(usage(format!("store.url {url:?} names no database file")));
    }
    let path = PathBuf::from(rest);
    Ok(if path.is_absolute() {
        path
    } else {
        base.join(path)
    })
}

/// Loads the configuration at `path`. A missing file says how to create one; problems found after
/// parsing get the line of their key.
pub fn load_config(path: &Path) -> anyhow::Result<Config> {
    if !path.exists() {
        return Err(usage(format!(
            "configuration file {} not found: create one with `ml-connector init`, or name another with --config or ML_CONNECTOR_CONFIG",
            path.display()
        )));
    }
    match Config::load(path) {
        Ok(config) => Ok(config),
        Err(ConfigError::Invalid { file, problems }) => {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let source = TomlSource::new(file.clone(), text);
            let lines: Vec<String> = problems
                .iter()
                .map(|p| {
                    format!(
                        "  {}: `{}`: {}",
                        source.locate(&p.key_path),
                        p.key_path,
                        p.message
                    )
                })
                .collect();
            Err(usage(format!(
                "configuration {file} has {} problem(s):\n{}",
                problems.len(),
                lines.join("\n")
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// The connections a command acts on: all, or the one named.
pub fn select<'a>(
    config: &'a Config,
    name: Option<&str>,
) -> anyhow::Result<Vec<&'a ConnectionConfig>> {
    match name {
        None => Ok(config.connections.iter().collect()),
        Some(name) => config.connection(name).map(|c| vec![c]).ok_or_else(|| {
            let known: Vec<&str> = config.connections.iter().map(|c| c.name.as_str()).collect();
            usage(format!(
                "no connection named {name:?} in the configuration (connections: {})",
                known.join(", ")
            ))
        }),
    }
}

/// A connection name as the stores key it.
pub fn connection_name(name: &str) -> anyhow::Result<ConnectionName> {
    ConnectionName::new(name).map_err(|e| usage(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_store_paths_are_beside_the_configuration() {
        let base = Path::new("/etc/ml");
        assert_eq!(
            store_path("sqlite://state.db", base).unwrap(),
            Path::new("/etc/ml/state.db")
        );
        assert_eq!(
            store_path("sqlite:///var/db/x.db", base).unwrap(),
            Path::new("/var/db/x.db")
        );
        assert_eq!(
            store_path("sqlite:x.db?mode=rwc", base).unwrap(),
            Path::new("/etc/ml/x.db")
        );
        assert!(store_path("postgres://db/x", base).is_err());
    }
}
