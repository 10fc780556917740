//! Adobe Commerce REST client.
//!
//! The crate-level quick start is written in `docs/quickstart.md`-style prose below once the API settles.

// ---- transport, auth, errors, retries, webhooks -------------------------------------------------
pub mod auth;
pub mod client;
pub mod error;
pub mod retry;
pub mod webhook;

// ---- models, search criteria, paging, resource handlers -----------------------------------------
pub mod models;
pub mod page;
pub mod resources;
pub mod search;
