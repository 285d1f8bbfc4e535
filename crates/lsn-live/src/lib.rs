//! Live shopping: shows (scheduled → live → ended) with a host and a lineup, and one WebSocket
//! room per show where viewers chat, react and see the pinned product, hosts pin and moderate,
//! and every event carries a sequence number so a viewer who reconnects gets what it missed.
//! The room's timeline is kept for replays. Protocol: `docs/live-protocol.md`.
//!
//! One node serves a room in process; spanning nodes through Redis comes with the scale-out work.

pub mod auctions;
pub mod bus;
pub mod deals;
pub mod gifts;
pub mod room;
pub mod routes;
pub mod shows;

pub use room::{Hub, Room};
pub use shows::{Live, LiveError, Show};
