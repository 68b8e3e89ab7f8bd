//! Integration tests: the real binaries, on loopback, on port 0.

mod util;

mod errors;
mod faults;
mod lesson;
mod netns;
mod props;
