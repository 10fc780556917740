//! Fake Adobe Commerce and SYSPRO servers on loopback, for integration tests, `ml-connector demo` and
//! benchmarks. Each is an independent reading of the API documents (no SDK code is shared), seeded for
//! repeatable data, and able to inject the faults real deployments show.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use simulators::{SimConfig, Sims};
//! let sims = Sims::start(SimConfig::new(7, 100, std::time::Duration::ZERO)).await?;
//! println!("{}", sims.connection_info());
//! sims.shutdown().await;
//! # Ok(())
//! # }
//! ```

// The Commerce order document is one large `json!` literal.
#![recursion_limit = "512"]

pub mod commerce;
pub mod storm;
pub mod syspro;

use std::time::Duration;

use serde_json::{Value, json};

use commerce::{CommerceSim, CommerceSimConfig};
use syspro::{SeedCustomer, SysproSim, SysproSimConfig};

/// Settings for starting both fakes together.
#[derive(Clone, Debug, Default)]
pub struct SimConfig {
    /// The fake Commerce's settings.
    pub commerce: CommerceSimConfig,
    /// The fake SYSPRO's settings; Commerce's ERP-known customers are appended to `extra_customers`.
    pub syspro: SysproSimConfig,
}

impl SimConfig {
    /// Both fakes with one seed and one per-call latency; Commerce generates `orders` orders.
    pub fn new(seed: u64, orders: usize, latency: Duration) -> Self {
        let mut config = Self::default();
        config.commerce.seed = seed;
        config.commerce.orders = orders;
        config.commerce.faults.latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        config.syspro.seed = seed;
        config.syspro.latency = latency;
        config
    }
}

/// Both fakes, running. The SYSPRO ledger already knows the Commerce customers that
/// [`CommerceSim::customers_for_erp_matching`] lists (codes `WEB00001`, `WEB00002`, ...), so customer
/// matching by email finds them, while the `@example.net` customers are missing on purpose.
#[derive(Debug)]
pub struct Sims {
    /// The running fake Commerce.
    pub commerce: CommerceSim,
    /// The running fake SYSPRO.
    pub syspro: SysproSim,
}

impl Sims {
    /// Starts Commerce, then SYSPRO seeded with Commerce's ERP-known customers.
    ///
    /// # Errors
    /// Invalid settings or a port that cannot be bound, from either fake.
    pub async fn start(config: SimConfig) -> std::io::Result<Self> {
        let commerce = CommerceSim::start(config.commerce).await?;
        let mut syspro_config = config.syspro;
        syspro_config.extra_customers.extend(
            commerce
                .customers_for_erp_matching()
                .into_iter()
                .enumerate()
                .map(|(i, (name, email))| SeedCustomer {
                    code: format!("WEB{:05}", i + 1),
                    name,
                    email,
                }),
        );
        let syspro = match SysproSim::start(syspro_config).await {
            Ok(s) => s,
            Err(e) => {
                commerce.shutdown().await;
                return Err(e);
            }
        };
        Ok(Self { commerce, syspro })
    }

    /// URLs and credentials of both fakes: the JSON line the `simulators` binary prints.
    pub fn connection_info(&self) -> Value {
        let oauth = self.commerce.oauth();
        let creds = self.syspro.credentials();
        json!({
            "commerce_url": self.commerce.base_url(),
            "syspro_enet_url": self.syspro.enet_url(),
            "syspro_odata_url": self.syspro.odata_url(),
            "commerce_oauth": {
                "consumer_key": oauth.consumer_key,
                "consumer_secret": oauth.consumer_secret,
                "access_token": oauth.access_token,
                "access_token_secret": oauth.access_token_secret,
            },
            "syspro": {
                "company_id": creds.company_id,
                "operator": creds.operator,
                "operator_password": creds.operator_password,
                "company_password": creds.company_password,
            },
            "odata": {"username": creds.odata_username, "password": creds.odata_password},
            "webhook_public_key_pem": self.commerce.webhook_public_key_pem(),
        })
    }

    /// Stops both servers.
    pub async fn shutdown(self) {
        self.commerce.shutdown().await;
        self.syspro.shutdown().await;
    }
}
