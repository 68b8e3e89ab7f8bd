//! `sockkit::sockstat::netlink`: the sock_diag reply parser (message
//! framing, `inet_diag_msg`, `unix_diag_msg`, their attributes, `tcp_info`
//! and `SK_MEMINFO` of any length, and `RTM_NEWLINK` device names) on raw
//! bytes (no panic, an errno or sensible records) and on dumps built from
//! drawn fields (the same records back; cut short, never `Done`). The input
//! layout is `checks::netlink::input`'s.
#![no_main]

#[path = "../checks/mod.rs"]
mod checks;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| checks::netlink::input(data));
