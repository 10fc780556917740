//! Integration tests of the fake Adobe Commerce, over HTTP on 127.0.0.1.

mod auth;
mod common;
mod customers;
mod data;
mod faults;
mod search;
mod sim_api;
