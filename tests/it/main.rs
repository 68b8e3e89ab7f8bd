//! Integration tests: the real binaries, on loopback, on port 0.

mod util;

mod bench;
mod errors;
mod lesson;
