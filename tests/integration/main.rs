//! LSN's integration tests: one binary, the real HTTP server on a random port per test, a fresh
//! database per test, every scenario on SQLite and on PostgreSQL.

mod common;

mod cli;
mod commerce;
mod faults;
mod fuzz;
mod identity;
mod live;
mod platform;
mod providers;
mod security;
mod stripe;
mod web;
mod wiring;
