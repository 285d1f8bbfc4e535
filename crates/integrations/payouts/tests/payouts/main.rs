//! The payout providers against local fakes (Wise, Stripe) and a fresh database (the sandbox),
//! on SQLite and, when `LSN_TEST_DATABASE_URL` is set, PostgreSQL.

mod common;
mod fake_stripe;
mod fake_wise;
mod sandbox;
mod stripe;
mod wise;
