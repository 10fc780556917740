//! Engine scenarios against the in-process simulators on 127.0.0.1.

mod crash;
mod customers;
mod features;
mod sales_order;
mod scenarios;
mod support;
