//! Resource handlers, search criteria and paging against a wiremock Commerce.

mod credit_memos;
mod customers;
mod invoices;
mod orders;
mod paging;
mod products;
mod support;
