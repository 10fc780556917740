//! A fake Adobe Commerce (Magento 2.4.8 REST, PaaS and SaaS shapes) on loopback.
//!
//! It serves a seeded, realistic shop (three store views, registered and guest customers, simple,
//! configurable and bundle products, per-row tax and discounts, several currencies, late invoices,
//! refunds and edits) through `/rest[/<store>]/V1/...` with Commerce's `searchCriteria` semantics and
//! error bodies, verifies OAuth 1.0a HMAC-SHA256 signatures, issues IMS-style tokens, injects faults, and
//! sends signed webhooks. The catalogue, store codes and the `/__sim/` inspection API are described in
//! the crate README.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use simulators::commerce::{CommerceSim, CommerceSimConfig};
//! let sim = CommerceSim::start(CommerceSimConfig { seed: 7, orders: 50, ..Default::default() }).await?;
//! println!("{}/rest/V1/orders", sim.base_url());
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod clock;
mod dataset;
mod faults;
mod model;
mod oauth;
mod rng;
mod search;
mod server;
mod stores;
mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::CommerceFaults;

use dataset::{Dataset, GenConfig};
use server::{Shared, SharedInit};

/// How to start the fake Commerce. `Default` gives a quiet, fault-free shop of 200 orders (seed 7).
#[derive(Clone, Debug)]
pub struct CommerceSimConfig {
    /// Seed of the data generator, the credentials and the fault decisions.
    pub seed: u64,
    /// Number of generated orders.
    pub orders: usize,
    /// Share of orders (outside the B2B store) placed by guests.
    pub guest_share: f64,
    /// Share of orders that carry an extra line with an unmapped `CLR-` SKU.
    pub unmapped_sku_share: f64,
    /// Share of registered-customer orders placed by customers missing from the ERP (`@example.net`).
    pub not_in_erp_share: f64,
    /// Share of orders invoiced (some within minutes, some days later).
    pub invoiced_share: f64,
    /// Faults active from the start (changeable at run time).
    pub faults: CommerceFaults,
    /// Lifetime of IMS tokens issued by `POST /ims/token/v3` (Adobe issues 86399 s).
    pub ims_token_lifetime: Duration,
    /// Accept the integration access token as a Bearer token (Commerce's
    /// `oauth/consumer/enable_integration_as_bearer`, off by default since 2.4.4).
    pub integration_bearer: bool,
    /// Where webhooks go unless a `/__sim/webhooks/send` call names another URL.
    pub webhook_url: Option<String>,
    /// Send a webhook whenever an order is added, touched or invoiced through `/__sim/` (needs a URL).
    pub webhooks_on_change: bool,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
}

impl Default for CommerceSimConfig {
    fn default() -> Self {
        Self {
            seed: 7,
            orders: 200,
            guest_share: 0.2,
            unmapped_sku_share: 0.03,
            not_in_erp_share: 0.05,
            invoiced_share: 0.8,
            faults: CommerceFaults::default(),
            ims_token_lifetime: Duration::from_secs(86_399),
            integration_bearer: false,
            webhook_url: None,
            webhooks_on_change: true,
            port: 0,
        }
    }
}

/// The integration's OAuth 1.0a credentials (plain strings: they are test data).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommerceOAuth {
    /// 32 characters, as Commerce's `oauth_consumer.key` column holds.
    pub consumer_key: String,
    /// First half of the HMAC signing key.
    pub consumer_secret: String,
    /// The integration's access token (`oauth_token`), 32 characters.
    pub access_token: String,
    /// Second half of the HMAC signing key.
    pub access_token_secret: String,
}

/// Credentials for the IMS-style token endpoint (`POST {base_url}/ims/token/v3`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImsCredentials {
    /// `client_id` form field (also what Adobe's samples send as `x-api-key`).
    pub client_id: String,
    /// `client_secret` form field.
    pub client_secret: String,
    /// Organization id for the `x-gw-ims-org-id` header (not checked by the simulator).
    pub org_id: String,
    /// Full URL of the token endpoint.
    pub token_url: String,
    /// The scope list Adobe asks for; `commerce.accs` is the one the simulator checks.
    pub scope: String,
}

/// A running fake Commerce.
pub struct CommerceSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for CommerceSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommerceSim")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn check_share(name: &str, v: f64) -> std::io::Result<()> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{name} must be between 0.0 and 1.0, got {v}"),
        ))
    }
}

impl CommerceSim {
    /// Generates the shop, makes the webhook key pair and starts serving on 127.0.0.1.
    ///
    /// # Errors
    /// A share or fault setting out of range (`InvalidInput`), or the port cannot be bound.
    pub async fn start(config: CommerceSimConfig) -> std::io::Result<Self> {
        for (name, v) in [
            ("guest_share", config.guest_share),
            ("unmapped_sku_share", config.unmapped_sku_share),
            ("not_in_erp_share", config.not_in_erp_share),
            ("invoiced_share", config.invoiced_share),
        ] {
            check_share(name, v)?;
        }
        config
            .faults
            .validate()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let gen_config = GenConfig {
            seed: config.seed,
            orders: config.orders,
            guest_share: config.guest_share,
            unmapped_sku_share: config.unmapped_sku_share,
            not_in_erp_share: config.not_in_erp_share,
            invoiced_share: config.invoiced_share,
        };
        let (data, key) = tokio::task::spawn_blocking(move || {
            let data = Dataset::generate(&gen_config);
            webhook::WebhookKey::generate().map(|key| (data, key))
        })
        .await
        .map_err(std::io::Error::other)??;
        let shared = Arc::new(Shared::new(SharedInit {
            seed: config.seed,
            data,
            faults: config.faults,
            ims_lifetime_secs: i64::try_from(config.ims_token_lifetime.as_secs())
                .unwrap_or(i64::MAX / 2),
            integration_bearer: config.integration_bearer,
            webhook_key: key,
            webhook_url: config.webhook_url,
            webhooks_on_change: config.webhooks_on_change,
        }));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new()
            .fallback(server::handle)
            .with_state(Arc::clone(&shared));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            shared,
            addr,
            stop: Some(stop),
            task,
        })
    }

    /// `http://127.0.0.1:PORT`, the part before `/rest`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The integration's OAuth 1.0a credentials.
    pub fn oauth(&self) -> CommerceOAuth {
        let i = &self.shared.integration;
        CommerceOAuth {
            consumer_key: i.consumer_key.clone(),
            consumer_secret: i.consumer_secret.clone(),
            access_token: i.access_token.clone(),
            access_token_secret: i.access_token_secret.clone(),
        }
    }

    /// An admin token accepted as `Authorization: Bearer` on `/rest/...` (it does not expire).
    pub fn bearer_token(&self) -> String {
        self.shared.admin_token.clone()
    }

    /// Admin user name and password for `POST /rest/V1/integration/admin/token`.
    pub fn admin_credentials(&self) -> (String, String) {
        (
            self.shared.admin_username.clone(),
            self.shared.admin_password.clone(),
        )
    }

    /// Client credentials for the IMS-style token endpoint (tokens work on the SaaS `/V1/...` paths).
    pub fn ims_credentials(&self) -> ImsCredentials {
        ImsCredentials {
            client_id: self.shared.ims_client_id.clone(),
            client_secret: self.shared.ims_client_secret.clone(),
            org_id: self.shared.ims_org_id.clone(),
            token_url: format!("{}/ims/token/v3", self.base_url()),
            scope: "AdobeID,openid,email,profile,additional_info.roles,additional_info.projectedProductContext,commerce.accs"
                .to_owned(),
        }
    }

    /// PEM (SubjectPublicKeyInfo) of the key that signs webhooks.
    pub fn webhook_public_key_pem(&self) -> String {
        self.shared.webhook_key.public_pem().to_owned()
    }

    /// `(name, email)` of every registered customer the ERP is meant to know already (all but the
    /// `@example.net` ones). Business customers are named by company.
    pub fn customers_for_erp_matching(&self) -> Vec<(String, String)> {
        let data = self
            .shared
            .data
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        data.customers
            .values()
            .filter(|c| c.in_erp)
            .map(|c| (c.display_name.clone(), c.email().to_owned()))
            .collect()
    }

    /// Ids of orders a connector must treat specially (unmapped SKUs, customers missing from the ERP,
    /// guests, foreign currency, ...), as served by `GET /__sim/special`.
    pub fn special_orders(&self) -> serde_json::Value {
        let data = self
            .shared
            .data
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        server::special(&data)
    }

    /// Current fault settings.
    pub fn faults(&self) -> CommerceFaults {
        self.shared
            .faults
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replaces the fault settings.
    ///
    /// # Errors
    /// A rate outside 0..=1 or a non-5xx status, named in the message.
    pub fn set_faults(&self, faults: CommerceFaults) -> Result<(), String> {
        faults.validate()?;
        *self
            .shared
            .faults
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = faults;
        Ok(())
    }

    /// Calls served per endpoint, e.g. `"GET /V1/orders"`.
    pub fn call_counts(&self) -> std::collections::BTreeMap<String, u64> {
        self.shared
            .calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Moves the simulator's clock forward (token expiry, OAuth timestamp window, `updated_at` of edits).
    pub fn advance_clock(&self, by: Duration) {
        self.shared
            .clock
            .advance(i64::try_from(by.as_secs()).unwrap_or(i64::MAX / 2));
    }

    /// Stops serving (in-flight requests get a second to finish).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(Duration::from_secs(1), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}
