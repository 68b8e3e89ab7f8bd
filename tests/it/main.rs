//! Integration tests: the real binaries, on loopback, on port 0.

mod util;

mod bench;
mod client;
mod echo;
mod errors;
mod faults;
mod interop;
mod lesson;
mod lifecycle;
mod netns;
mod port_file;
mod props;
mod sockc_transcript;
mod sockstat;
mod sockstat_live;
