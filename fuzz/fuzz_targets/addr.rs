//! `sockkit::addr::parse_socket_addr` on arbitrary IP and PORT text: a
//! one-line usage error or an address that reads back from its canonical
//! form. Input: IP and PORT split at the first NUL (as in
//! `fuzz/regressions/addr/`).
#![no_main]

#[path = "../checks/mod.rs"]
mod checks;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (ip, port) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    checks::addr::any_text(&String::from_utf8_lossy(ip), &String::from_utf8_lossy(port));
});
