//! Integration tests: the real binaries, on loopback, on port 0.

mod util;

mod bench;
mod bench_transports;
mod client;
mod echo;
mod endpoint;
mod errors;
mod events;
mod fault;
mod fault_udp;
mod faults;
mod forward;
mod freeze;
mod interop;
mod lesson;
mod lifecycle;
mod netns;
mod port_file;
mod props;
mod sockc_transcript;
mod sockc_udp;
mod sockc_unix;
mod sockc_z;
mod sockd_hosts;
mod sockstat;
mod sockstat_live;
mod udp;
mod unix;
mod usage;
