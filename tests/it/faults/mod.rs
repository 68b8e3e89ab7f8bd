//! Issue 5: hostile networks and hostile input. Every fault the lesson's
//! programs ignore, as a test of the bounded behaviour `sockd` and `sockc`
//! show instead. Figures (CPU seconds, RSS, bytes compared) are printed on
//! stderr: `cargo test faults -- --nocapture` shows them.

mod args;
mod client;
mod server;
mod wire;
