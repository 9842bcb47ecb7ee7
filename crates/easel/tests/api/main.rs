//! Easel's integration tests: one test binary, a real server on port 0 and a fresh database
//! per test, driven through the typed client. Every test that touches storage runs twice,
//! on SQLite and on PostgreSQL (see [`harness::on_both_stores`]).

// Test code may panic on what it did not expect: that is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

mod api_keys;
mod audits;
mod bootstrap;
mod cache;
mod crash;
mod errors;
mod hardening;
mod isolation;
mod lists;
mod mail;
mod matrix;
mod outage;
mod process;
mod rbac;
mod signin;
mod tenants;
mod tls;
mod tokens;
mod users;
