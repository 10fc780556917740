//! Fault presets: named settings of both fakes that benchmarks and the `simulators` binary apply in
//! one step, so every run of a preset meets the same kinds and shares of trouble.
//!
//! | Preset | Commerce | SYSPRO | Data |
//! |---|---|---|---|
//! | `none` | latency only | latency only | every order mappable; 5 % of registered customers missing from the ERP (a connector that creates customers still posts them) |
//! | `storm` | 429 on about 20 % of calls (half with `Retry-After: 1`, half Fastly-style without it, held 200 ms), 5 % 503, 2 % held 3 s before answering | the session found invalid every 40th call, 1 % of posts change the ledger and then drop the connection | 1 % of orders carry an unmapped `CLR-` SKU, about 1 % are placed by customers missing from the ERP |
//!
//! A storm hang holds the answer for 3 s, well under a client's usual attempt timeout, so it costs
//! waiting rather than a timeout; raise `hang_ms` for the latter. Which orders are unmappable is
//! listed by the fake Commerce's `GET /__sim/special` (`unmapped_sku_order_ids`,
//! `not_in_erp_customer_order_ids`).

use std::fmt;
use std::str::FromStr;

use crate::SimConfig;
use crate::syspro::LostAnswerMode;

/// Share of orders with an unmapped SKU in a storm.
pub const STORM_UNMAPPED_SKU_SHARE: f64 = 0.01;
/// Share of registered-customer orders placed by customers the ERP does not know, in a storm.
/// About 80 % of orders are placed by registered customers, so this is about 1 % of all orders.
pub const STORM_NOT_IN_ERP_SHARE: f64 = 0.0125;

/// A named set of faults and data shares for both fakes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FaultPreset {
    /// Latency only; every order can be mapped.
    #[default]
    None,
    /// The fault storm described in the module documentation.
    Storm,
}

impl FaultPreset {
    /// The preset's name as written on command lines.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Storm => "storm",
        }
    }

    /// Applies the preset to `config`, keeping its seed, order count, latencies and ports.
    pub fn apply(self, config: &mut SimConfig) {
        let commerce = &mut config.commerce;
        match self {
            Self::None => {
                commerce.unmapped_sku_share = 0.0;
            }
            Self::Storm => {
                commerce.unmapped_sku_share = STORM_UNMAPPED_SKU_SHARE;
                commerce.not_in_erp_share = STORM_NOT_IN_ERP_SHARE;
                let f = &mut commerce.faults;
                f.rate_limit_rate = 0.10;
                f.retry_after_secs = Some(1);
                f.slow_429_rate = 0.10;
                f.slow_429_delay_ms = 200;
                f.server_error_rate = 0.05;
                f.server_error_status = 503;
                f.hang_rate = 0.02;
                f.hang_ms = 3_000;
                let s = &mut config.syspro.faults;
                s.invalidate_session_every = 40;
                s.lose_answer_rate = 0.01;
                s.lose_answer_mode = LostAnswerMode::Drop;
            }
        }
    }
}

impl fmt::Display for FaultPreset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown preset name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault preset {0:?}: expected none or storm")]
pub struct UnknownPreset(pub String);

impl FromStr for FaultPreset {
    type Err = UnknownPreset;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Self::None),
            "storm" => Ok(Self::Storm),
            other => Err(UnknownPreset(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storm_sets_both_fakes_and_keeps_the_basics() {
        let mut config = SimConfig::new(3, 40, std::time::Duration::from_millis(5));
        FaultPreset::Storm.apply(&mut config);
        assert_eq!(config.commerce.seed, 3);
        assert_eq!(config.commerce.orders, 40);
        assert_eq!(config.commerce.faults.latency_ms, 5);
        assert!((config.commerce.faults.rate_limit_rate - 0.10).abs() < 1e-9);
        assert_eq!(config.commerce.faults.retry_after_secs, Some(1));
        assert!((config.commerce.faults.slow_429_rate - 0.10).abs() < 1e-9);
        assert_eq!(config.syspro.faults.invalidate_session_every, 40);
        assert!((config.syspro.faults.lose_answer_rate - 0.01).abs() < 1e-9);
        assert!((config.commerce.unmapped_sku_share - 0.01).abs() < 1e-9);
    }

    #[test]
    fn none_leaves_every_order_mappable_and_no_faults() {
        let mut config = SimConfig::new(3, 40, std::time::Duration::ZERO);
        FaultPreset::None.apply(&mut config);
        assert!(config.commerce.unmapped_sku_share.abs() < 1e-12);
        assert!(config.commerce.faults.rate_limit_rate.abs() < 1e-12);
        assert_eq!(config.syspro.faults, crate::syspro::SysproFaults::default());
    }

    #[test]
    fn names_round_trip_and_unknown_is_refused() {
        for p in [FaultPreset::None, FaultPreset::Storm] {
            assert_eq!(p.as_str().parse::<FaultPreset>(), Ok(p));
        }
        assert_eq!(
            "hail".parse::<FaultPreset>(),
            Err(UnknownPreset("hail".into()))
        );
    }
}
