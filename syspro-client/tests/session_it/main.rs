//! Integration tests of the e.net session, transport and response envelope, and of OData reads,
//! against wiremock servers on 127.0.0.1.

mod envelope;
mod logging;
mod odata;
mod post_ld;
mod secrets;
mod session;
mod support;
