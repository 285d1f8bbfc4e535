//! LSN's integration tests: one binary, the real HTTP server on a random port per test, a fresh
//! database per test, every scenario on SQLite and on PostgreSQL.

mod common;

mod access;
mod alerts;
mod analytics;
mod cli;
mod coins;
mod commerce;
mod creators;
mod creators_portal;
mod demo;
mod docs;
mod edges;
mod faults;
mod fuzz;
mod healing;
mod hoarding;
mod identity;
mod integrity;
mod live;
mod ownership;
mod platform;
mod policies;
mod providers;
mod races;
mod risk;
mod schedule_races;
mod schedules;
mod security;
mod signin;
mod stripe;
mod web;
mod wiring;
mod workflows;
