//! SYSPRO e.net and OData client.

// ---- configuration, sessions, transport, response envelope, errors, OData -----------------------
pub mod client;
pub mod config;
pub mod error;
pub mod odata;
pub mod response;
pub mod session;

// ---- business objects: typed documents and parsed outputs ----------------------------------------
pub mod bo;
