//! The one integration test crate: each module spawns the real binaries.

mod bench;
