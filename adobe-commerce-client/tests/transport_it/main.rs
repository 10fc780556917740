//! Transport, auth, retry and webhook behaviour against local mock servers (127.0.0.1 only).

mod auth_ims;
mod auth_oauth;
mod decoders_prop;
mod errors;
mod retries;
mod support;
mod urls;
mod webhooks;
