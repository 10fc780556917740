//! Fake Adobe Commerce and SYSPRO servers.

pub mod commerce;
pub mod syspro;
