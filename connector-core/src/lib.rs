//! The ml-connector sync engine.

pub mod audit;
pub mod clock;
pub mod config;
pub mod engine;
pub mod mapping;
pub mod plan;
pub mod reconcile;
pub mod state;
pub mod vault;
