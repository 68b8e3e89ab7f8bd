//! `sockkit::sockstat::procnet`: the `/proc/net/{tcp,tcp6,udp,udp6,unix}`
//! parsers on raw bytes (no panic, only sensible records) and on files
//! built from drawn fields with garbage lines between them (exactly those
//! records back, none lost). The input layout is `checks::procnet::input`'s.
#![no_main]

#[path = "../checks/mod.rs"]
mod checks;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| checks::procnet::input(data));
