//! The HTTP edge of LSN: composes every domain's router, adds the middleware every request
//! goes through (request id, tracing, metrics, CSRF, security headers, body limits, panic
//! guard), serves health, readiness and metrics, and runs the background workers beside the
//! server with a graceful shutdown.
//!
//! No business rules live here.

#![recursion_limit = "512"]

pub mod analytics;
pub mod app;
pub mod autonomy;
pub mod demo;
pub mod demo_history;
pub mod doctor;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod policies;
pub mod server;
pub mod site;
pub mod summary;
pub mod trpc;
pub mod workflows;

pub use app::{build_router, AppState};
pub use server::{modules, prepare, prepare_with, schema, serve, shutdown_signal, Runtime};
