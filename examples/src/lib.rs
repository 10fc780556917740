//! Programs that show how a Rust service embeds the ml-connector engine and its two SDKs.
//!
//! Each program's logic lives here as a library function so that the binaries stay thin and the
//! integration tests run exactly what the binaries run, against the in-process simulators:
//!
//! * [`custom_mapper`]: one connection posted with a custom [`connector_core::mapping::Mapper`] that
//!   wraps the default mapping and sends a store's revenue to its own GL account
//!   (`cargo run -p ml-connector-examples --bin custom-mapper`).
//! * [`counting_store`]: the engine running on a [`connector_core::state::StateStore`] and
//!   [`connector_core::audit::AuditLog`] of the embedder's own, which counts what the engine does
//!   and delegates the storage (`--bin counting-store`).
//! * [`tour`]: the Commerce and SYSPRO SDKs used directly, step by step (`--bin sdk-tour`).
//!
//! [`playground`] starts the simulators and renders the connection configuration all three share.

pub mod counting_store;
pub mod custom_mapper;
mod error;
pub mod playground;
pub mod tour;

pub use error::ExampleError;
