//! Building the Commerce and SYSPRO clients of a connection from its configuration and the vault.

use std::time::Duration;

use adobe_commerce_client::{
    Credentials, Flavour, ImsCredentials, OAuth1Credentials, RetryPolicy, Timeouts,
};
use anyhow::Context as _;
use connector_core::config::{CommerceAuthKind, CommerceFlavour, ConnectionConfig, SecretName};
use connector_core::state::{AnyStore, ConnectionName, StoreError, StoreLocation};
use connector_core::vault::SecretStore;
use secrecy::{ExposeSecret as _, SecretString};
use syspro_client::{EnetConfig, ODataClient, ODataConfig, SysproClient};

use crate::context::connection_name;

/// How long a check may wait for an answer: a health check that hangs tells nothing.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(15);

async fn secret(
    vault: &dyn SecretStore,
    connection: &ConnectionName,
    name: Option<&SecretName>,
    what: &str,
) -> anyhow::Result<SecretString> {
    let name = name
        .ok_or_else(|| anyhow::anyhow!("the configuration names no vault entry for the {what}"))?;
    Ok(vault.require(connection, name.as_str()).await?)
}

/// The Commerce client of `c`, with its credentials from the vault. `quick` gives short timeouts
/// and no retries, for checks.
pub async fn commerce_client(
    c: &ConnectionConfig,
    vault: &dyn SecretStore,
    quick: bool,
) -> anyhow::Result<adobe_commerce_client::Client> {
    let name = connection_name(&c.name)?;
    let names = &c.commerce.auth.secrets;
    let credentials = match c.commerce.auth.kind {
        CommerceAuthKind::Oauth1 => Credentials::OAuth1(OAuth1Credentials {
            consumer_key: secret(
                vault,
                &name,
                names.consumer_key.as_ref(),
                "OAuth consumer key",
            )
            .await?,
            consumer_secret: secret(
                vault,
                &name,
                names.consumer_secret.as_ref(),
                "OAuth consumer secret",
            )
            .await?,
            access_token: secret(
                vault,
                &name,
                names.access_token.as_ref(),
                "OAuth access token",
            )
            .await?,
            access_token_secret: secret(
                vault,
                &name,
                names.access_token_secret.as_ref(),
                "OAuth access token secret",
            )
            .await?,
        }),
        CommerceAuthKind::Bearer => {
            Credentials::Bearer(secret(vault, &name, names.token.as_ref(), "bearer token").await?)
        }
        CommerceAuthKind::Ims => {
            let id = secret(vault, &name, names.client_id.as_ref(), "IMS client id").await?;
            let key = secret(
                vault,
                &name,
                names.client_secret.as_ref(),
                "IMS client secret",
            )
            .await?;
            Credentials::ims(
                ImsCredentials::new(id.expose_secret(), key.expose_secret())
                    .scopes(c.commerce.auth.scopes.iter().cloned())
                    .token_url(c.commerce.auth.ims_token_url()),
            )
        }
    };
    let flavour = match c.commerce.flavour {
        CommerceFlavour::Paas => Flavour::PaaS,
        CommerceFlavour::Saas => Flavour::SaaS,
    };
    let mut builder = adobe_commerce_client::Client::builder(&c.commerce.base_url)
        .credentials(credentials)
        .flavour(flavour);
    if quick {
        builder = builder.retry(RetryPolicy::none()).timeouts(Timeouts {
            connect: Duration::from_secs(5),
            attempt: CHECK_TIMEOUT,
            operation: CHECK_TIMEOUT,
        });
    }
    builder
        .build()
        .with_context(|| format!("cannot set up the Commerce client of connection {}", c.name))
}

/// The SYSPRO e.net client of `c`, with its passwords from the vault.
pub async fn syspro_client(
    c: &ConnectionConfig,
    vault: &dyn SecretStore,
    quick: bool,
) -> anyhow::Result<SysproClient> {
    let name = connection_name(&c.name)?;
    let s = &c.syspro;
    let password = secret(
        vault,
        &name,
        Some(&s.secrets.operator_password),
        "SYSPRO operator password",
    )
    .await?;
    // Its own thread: the engine's mapping and state writes never keep the session waiting.
    let mut builder = EnetConfig::builder(&s.enet_url, &s.company_id, &s.operator, password)
        .idle_timeout(s.idle_timeout.get())
        .call_timeout(s.call_timeout.get())
        .own_thread(true);
    if let Some(company) = &s.secrets.company_password {
        builder = builder.company_password(vault.require(&name, company.as_str()).await?);
    }
    if quick {
        builder = builder
            .connect_timeout(Duration::from_secs(5))
            .call_timeout(CHECK_TIMEOUT);
    }
    let config = builder
        .build()
        .with_context(|| format!("invalid SYSPRO settings of connection {}", c.name))?;
    Ok(SysproClient::new(config)?)
}

/// The SYSPRO OData client of `c`, when it has an OData URL.
pub async fn odata_client(
    c: &ConnectionConfig,
    vault: &dyn SecretStore,
) -> anyhow::Result<Option<ODataClient>> {
    let Some(url) = &c.syspro.odata_url else {
        return Ok(None);
    };
    let name = connection_name(&c.name)?;
    let password = secret(
        vault,
        &name,
        c.syspro.secrets.odata_password.as_ref(),
        "SYSPRO OData password",
    )
    .await?;
    let config = ODataConfig::builder(url, &c.syspro.operator, password)
        .connect_timeout(Duration::from_secs(5))
        .call_timeout(CHECK_TIMEOUT)
        .build()
        .with_context(|| format!("invalid OData settings of connection {}", c.name))?;
    Ok(Some(ODataClient::new(config)?))
}

/// Opens the state store `url` names (`sqlite://FILE`, the default, or `postgres://...` for several
/// workers sharing one database), applying pending migrations. A relative SQLite file is taken from
/// `base`, the configuration's directory.
///
/// Errors say what to do: a locked SQLite file names the likely other process; an unreachable
/// PostgreSQL server is named by user, host, port and database with what the driver said, never
/// with the password.
pub async fn open_state_store(
    url: &str,
    base: &std::path::Path,
    clock: std::sync::Arc<dyn connector_core::clock::Clock>,
) -> anyhow::Result<AnyStore> {
    let location =
        StoreLocation::parse(url, base).map_err(|e| crate::failure::usage(e.to_string()))?;
    if let StoreLocation::Sqlite(_) = &location {
        let path = crate::context::store_path(url, base)?;
        return Ok(AnyStore::from(
            crate::context::open_store(&path, clock).await?,
        ));
    }
    AnyStore::open(&location, clock, Duration::from_secs(3))
        .await
        .map_err(|e| {
            let hint = if matches!(e, StoreError::Connect { .. }) {
                " (is the PostgreSQL server running and store.url right?)"
            } else {
                ""
            };
            anyhow::Error::new(e).context(format!("cannot open the state store{hint}"))
        })
}
