//! A resolver of the test's making: the program runs in a mount namespace
//! of its own where `/etc/hosts` and `/etc/nsswitch.conf` are files the
//! test wrote (nothing on the machine changes); with `net`, in a network
//! namespace of its own as well (a loopback that is down, no route to any
//! DNS server).

use super::{Cmd, Outcome, TempDir, skip};
use std::time::Duration;

/// Name service by DNS alone: with `net` (no network), every look-up
/// fails for now (`EAI_AGAIN`).
pub const DNS_ONLY: &str = "hosts: dns\n";

/// Name service by the test's `/etc/hosts` alone.
pub const FILES_ONLY: &str = "hosts: files\n";

/// Runs `program ARGS` under that resolver, to completion (at most 30 s);
/// `None` when the test is skipped (not root, no `unshare` or `mount`).
pub fn run(
    net: bool,
    hosts: &str,
    nsswitch: &str,
    program: &str,
    args: &[&str],
) -> Option<Outcome> {
    let (cmd, _files) = cmd(net, hosts, nsswitch, program)?;
    Some(cmd.args(args).limit(Duration::from_secs(30)).run())
}

/// `program` under that resolver, for the test to add arguments to and
/// run or serve; with the directory of the two files, to be kept until the
/// program has started. `None` as [`run`].
pub fn cmd(net: bool, hosts: &str, nsswitch: &str, program: &str) -> Option<(Cmd, TempDir)> {
    if !skip::require_root() || !skip::require_tool("unshare") || !skip::require_tool("mount") {
        return None;
    }
    let dir = TempDir::new();
    let (hosts_file, nsswitch_file) = (dir.join("hosts"), dir.join("nsswitch.conf"));
    std::fs::write(&hosts_file, hosts).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&nsswitch_file, nsswitch).unwrap_or_else(|e| panic!("{e}"));
    let script = "mount --bind \"$0\" /etc/hosts && mount --bind \"$1\" /etc/nsswitch.conf \
                  && shift && exec \"$@\"";
    let mut unshare = vec!["unshare", "--mount"];
    if net {
        unshare.push("--net");
    }
    let mut wrapper: Vec<std::ffi::OsString> = unshare.iter().map(Into::into).collect();
    wrapper.extend(["sh".into(), "-c".into(), script.into()]);
    wrapper.extend([hosts_file.into_os_string(), nsswitch_file.into_os_string()]);
    Some((Cmd::new(program).wrap(wrapper), dir))
}
