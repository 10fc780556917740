//! Configuration parsing and the default mapper: unit-level behaviour, worked examples and
//! properties over generated documents.

mod config;
mod mapper;
mod properties;
mod sales_order;
mod support;
