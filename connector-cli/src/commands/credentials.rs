//! `credentials set | list | delete`: secrets in the encrypted vault, never printed.

use std::io::{IsTerminal as _, Read as _};

use anyhow::Context as _;
use connector_core::config::{Config, ConnectionConfig};
use connector_core::vault::SecretStore as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;

use crate::cli::CredentialsCommand;
use crate::context::{Context, connection_name, load_config};
use crate::failure::usage;
use crate::output::{instant, table};

/// A vault entry a connection's configuration names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedSecret {
    /// What it is for.
    pub purpose: &'static str,
    /// The vault entry name.
    pub name: String,
    /// Whether every cycle needs it; the webhook public key is needed only by `run --listen`.
    pub required: bool,
}

/// Every vault entry a connection's configuration names, with what it is for.
pub fn named_secrets(c: &ConnectionConfig) -> Vec<NamedSecret> {
    let a = &c.commerce.auth.secrets;
    let s = &c.syspro.secrets;
    let mut named: Vec<NamedSecret> = [
        ("Commerce OAuth consumer key", a.consumer_key.as_ref()),
        ("Commerce OAuth consumer secret", a.consumer_secret.as_ref()),
        ("Commerce OAuth access token", a.access_token.as_ref()),
        (
            "Commerce OAuth access token secret",
            a.access_token_secret.as_ref(),
        ),
        ("Commerce bearer token", a.token.as_ref()),
        ("Commerce IMS client id", a.client_id.as_ref()),
        ("Commerce IMS client secret", a.client_secret.as_ref()),
        ("SYSPRO operator password", Some(&s.operator_password)),
        ("SYSPRO company password", s.company_password.as_ref()),
        ("SYSPRO OData password", s.odata_password.as_ref()),
    ]
    .into_iter()
    .filter_map(|(purpose, name)| {
        name.map(|n| NamedSecret {
            purpose,
            name: n.as_str().to_owned(),
            required: true,
        })
    })
    .collect();
    if c.commerce.webhooks.enabled {
        named.push(NamedSecret {
            purpose: "Commerce webhook public key (for run --listen)",
            name: c.commerce.webhooks.public_key_name().to_owned(),
            required: false,
        });
    }
    named
}

/// Runs one `credentials` command.
pub async fn run(ctx: &Context, command: &CredentialsCommand) -> anyhow::Result<()> {
    match command {
        CredentialsCommand::Set {
            connection,
            name,
            from_stdin,
        } => set(ctx, connection, name, *from_stdin).await,
        CredentialsCommand::List => list(ctx).await,
        CredentialsCommand::Delete { connection, name } => delete(ctx, connection, name).await,
    }
}

/// The configuration when one can be read; credentials may be stored before it is complete.
fn optional_config(ctx: &Context) -> Option<Config> {
    ctx.config_path
        .exists()
        .then(|| load_config(&ctx.config_path).ok())
        .flatten()
}

async fn set(ctx: &Context, connection: &str, name: &str, from_stdin: bool) -> anyhow::Result<()> {
    let connection = connection_name(connection)?;
    if let Some(config) = optional_config(ctx) {
        match config.connection(connection.as_str()) {
            None => ctx.log.warn(&format!(
                "{} has no connection named \"{connection}\"; the secret is stored anyway",
                ctx.config_path.display()
            )),
            Some(c) if !named_secrets(c).iter().any(|n| n.name == name) => {
                ctx.log.warn(&format!(
                    "connection \"{connection}\" does not name a secret {name:?} in {}; the secret is stored anyway",
                    ctx.config_path.display()
                ));
            }
            Some(_) => {}
        }
    }
    let vault = ctx.vault().await?;
    let value = read_secret(&format!("{name} of {connection}"), from_stdin)?;
    vault.set(&connection, name, value).await?;
    if ctx.out.json {
        return ctx
            .out
            .print_json(&json!({ "connection": connection, "name": name, "stored": true }));
    }
    println!(
        "Stored {name} of {connection} in {}.",
        vault.path().display()
    );
    Ok(())
}

/// Reads a secret from standard input (`--from-stdin`, one trailing line break removed) or from a
/// prompt on the terminal without echo.
fn read_secret(what: &str, from_stdin: bool) -> anyhow::Result<SecretString> {
    let text = if from_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the secret from standard input")?;
        let trimmed = text.strip_suffix('\n').unwrap_or(&text);
        trimmed.strip_suffix('\r').unwrap_or(trimmed).to_owned()
    } else {
        if !std::io::stdin().is_terminal() {
            return Err(usage(
                "standard input is not a terminal, so the secret cannot be prompted for; pass --from-stdin to read it from standard input",
            ));
        }
        rpassword::prompt_password(format!("{what} (input hidden): "))
            .context("cannot read the secret from the terminal")?
    };
    let secret = SecretString::from(text);
    if secret.expose_secret().is_empty() {
        return Err(usage("the secret is empty; nothing was stored"));
    }
    Ok(secret)
}

async fn list(ctx: &Context) -> anyhow::Result<()> {
    let vault = ctx.vault().await?;
    let stored = vault.list().await?;
    // Secrets the configuration names but the vault lacks are listed too: they are what a first
    // `ping` would trip over.
    let mut missing = Vec::new();
    if let Some(config) = optional_config(ctx) {
        for c in &config.connections {
            for named in named_secrets(c) {
                if !stored
                    .iter()
                    .any(|s| s.connection.as_str() == c.name && s.name == named.name)
                {
                    missing.push((c.name.clone(), named));
                }
            }
        }
    }
    if ctx.out.json {
        let missing: Vec<_> = missing
            .iter()
            .map(|(c, n)| {
                json!({ "connection": c, "name": n.name, "purpose": n.purpose, "required": n.required })
            })
            .collect();
        return ctx
            .out
            .print_json(&json!({ "secrets": stored, "missing": missing }));
    }
    let mut rows: Vec<Vec<String>> = stored
        .iter()
        .map(|s| vec![s.connection.to_string(), s.name.clone(), instant(s.set_at)])
        .collect();
    rows.extend(missing.iter().map(|(c, n)| {
        let state = if n.required {
            ctx.out.red("missing")
        } else {
            ctx.out.yellow("not set (needed only for webhooks)")
        };
        vec![c.clone(), n.name.clone(), state]
    }));
    if rows.is_empty() {
        println!("No secrets stored in {}.", vault.path().display());
        return Ok(());
    }
    print!("{}", table(&["CONNECTION", "NAME", "SET AT"], &rows));
    Ok(())
}

async fn delete(ctx: &Context, connection: &str, name: &str) -> anyhow::Result<()> {
    let connection = connection_name(connection)?;
    let vault = ctx.vault().await?;
    if !vault.remove(&connection, name).await? {
        return Err(anyhow::anyhow!(
            "{} holds no secret {name:?} for connection {connection}",
            vault.path().display()
        ));
    }
    if ctx.out.json {
        return ctx
            .out
            .print_json(&json!({ "connection": connection, "name": name, "deleted": true }));
    }
    println!("Deleted {name} of {connection}.");
    Ok(())
}
