//! Skipped tests, visible: a test that cannot run here (a tool missing,
//! not root, no IPv6 loopback) says `SKIPPED <test>: <reason>` straight on
//! the process's stderr, which `cargo test` does not capture, so a skip
//! never looks like a pass. Under `CI=true` a skip is a failure: CI
//! installs every tool and runs as root, so nothing may skip there.
//!
//! ```text
//! if !skip::require_tool("socat") {
//!     return;
//! }
//! ```

use std::fmt::Display;

/// Whether `program` is on PATH; if not, the test is skipped (see
/// [`because`]) and must return.
#[track_caller]
pub fn require_tool(program: &str) -> bool {
    let package = package_of(program);
    require(
        super::have(program),
        format!("{program} is not installed{package}"),
    )
}

/// Whether `nc` is OpenBSD's netcat (`-N`, `-U`, `-u` as the tests use
/// them); if not, the test is skipped and must return.
#[track_caller]
pub fn require_openbsd_nc() -> bool {
    if !require_tool("nc") {
        return false;
    }
    let help = super::Cmd::new("nc").arg("-h").run();
    let openbsd =
        help.stderr.contains("OpenBSD netcat") || help.stdout_text().contains("OpenBSD netcat");
    require(openbsd, "nc is not netcat-openbsd (no -N)")
}

/// Whether the test runs as root; if not, it is skipped and must return.
#[track_caller]
pub fn require_root() -> bool {
    require(super::is_root(), "needs root")
}

/// Whether `met`; if not, the test is skipped for `reason` and must return.
#[track_caller]
pub fn require(met: bool, reason: impl Display) -> bool {
    if !met {
        because(reason);
    }
    met
}

/// Skips the running test: prints `SKIPPED <test>: <reason>`, or under
/// `CI=true` fails it with the reason. The caller returns after it.
#[track_caller]
pub fn because(reason: impl Display) {
    report(&test_name(), &reason.to_string());
}

/// Skips a part of the running test (the rest still runs), as [`because`].
#[track_caller]
pub fn part(what: &str, reason: impl Display) {
    report(&format!("{} ({what})", test_name()), &reason.to_string());
}

#[track_caller]
fn report(test: &str, reason: &str) {
    if std::env::var_os("CI").is_some_and(|ci| ci == "true") {
        panic!("{test} would be skipped, and under CI=true nothing may skip: {reason}");
    }
    // The harness captures eprintln!; a write to fd 2 reaches the terminal.
    let line = format!("SKIPPED {test}: {reason}\n");
    let _ = sockkit::io::write_all(rustix::stdio::stderr(), line.as_bytes());
}

/// libtest runs each test on a thread named after it.
fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("(unnamed test)")
        .to_string()
}

/// Where a Debian machine gets the tool, for the reason line.
fn package_of(program: &str) -> &'static str {
    match program {
        "socat" => " (Debian package socat)",
        "nc" => " (Debian package netcat-openbsd)",
        "setpriv" | "prlimit" | "unshare" => " (Debian package util-linux)",
        "mount" => " (Debian package mount)",
        "ip" | "tc" => " (Debian package iproute2)",
        "nft" => " (Debian package nftables)",
        _ => "",
    }
}

/// Not a test of its own: what [`skips_show_in_a_plain_run_and_fail_under_ci`]
/// runs in a child test process.
#[test]
#[ignore = "a probe run by skips_show_in_a_plain_run_and_fail_under_ci"]
fn probe() {
    if !require_tool("sockkit-no-such-tool") {
        return;
    }
    panic!("sockkit-no-such-tool is on PATH");
}

#[test]
fn skips_show_in_a_plain_run_and_fail_under_ci() {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let probe = |ci: Option<&str>| {
        let cmd = super::Cmd::new(&exe).args(["--exact", "util::skip::probe", "--ignored"]);
        match ci {
            Some(value) => cmd.env("CI", value),
            None => cmd.env_remove("CI"),
        }
        .run()
    };
    let line = "SKIPPED util::skip::probe: sockkit-no-such-tool is not installed\n";
    // Not under CI: the probe passes, and its line is on stderr although
    // the harness captured the test's output (no --nocapture).
    for ci in [None, Some("false")] {
        let plain = probe(ci);
        plain.success().stderr_has(line).stdout_has("1 passed");
    }
    let under_ci = probe(Some("true"));
    assert_eq!(under_ci.code, Some(101), "the probe must fail\n{under_ci}");
    under_ci
        .stdout_has("test util::skip::probe ... FAILED")
        .stdout_has("under CI=true nothing may skip: sockkit-no-such-tool is not installed");
    assert!(!under_ci.stderr.contains("SKIPPED"), "{under_ci}");
}
