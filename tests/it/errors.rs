//! Every error path of the contract: the exit code, the op, the address and
//! the errno name, on one line, with the hint where the error has one.

use crate::util::net::refused_port;
use crate::util::{skip, sockc, sockd};

#[test]
fn second_bind_on_a_live_port_is_eaddrinuse_75() {
    let server = sockd().args(["-q", "127.0.0.1", "0"]).serve();
    let port = server.port_arg();
    let second = sockd().args(["127.0.0.1", &port]).run();
    second.fails_with(
        75,
        &format!("sockd: bind 127.0.0.1:{port}: address already in use (EADDRINUSE)"),
    );
    second.stderr_has(&format!(
        "hint: another socket holds 127.0.0.1:{port}; `sockstat -l -p {port}`"
    ));
}

#[test]
fn connect_to_a_port_nobody_listens_on_is_econnrefused_69() {
    let (_held, port) = refused_port();
    let port = port.to_string();
    let out = sockc().args(["127.0.0.1", &port, "hi"]).run();
    out.fails_with(
        69,
        &format!("sockc: connect 127.0.0.1:{port}: connection refused (ECONNREFUSED)"),
    );
    out.stderr_has("hint: nothing listens on")
        .stderr_has("--wait");
}

#[test]
fn refused_in_transcript_mode_is_also_69() {
    let (_held, port) = refused_port();
    sockc()
        .args(["127.0.0.1", &port.to_string()])
        .stdin_bytes(b"hi\n")
        .run()
        .fails_with(69, "(ECONNREFUSED)");
}

#[test]
fn privileged_port_as_nobody_is_eacces_77() {
    if !skip::require_root() || !skip::require_tool("setpriv") {
        return;
    }
    let out = sockd().args(["127.0.0.1", "80"]).by_nobody().run();
    out.fails_with(77, "sockd: bind 127.0.0.1:80: permission denied (EACCES)");
    out.stderr_has("hint: ports below 1024");
}

#[test]
fn bad_addresses_are_usage_errors_64() {
    for ip in [
        "127.1",
        "999.1.1.1",
        "example.com",
        "",
        "1.2.3",
        "::g",
        "[::1",
        "fe80::1%nosuchif0",
    ] {
        if ip == "example.com" {
            // A host name to sockd and sockc, looked up (the host-name tests).
            continue;
        }
        // "invalid address", or for "" (no literal, no name) "invalid host".
        sockd()
            .args([ip, "0"])
            .run()
            .fails_with(64, "sockd: invalid ")
            .stderr_has(&format!(" {ip:?}: "));
        sockc()
            .args([ip, "7", "hi"])
            .run()
            .fails_with(64, "sockc: invalid ")
            .stderr_has(&format!(" {ip:?}: "));
    }
}

#[test]
fn bad_ports_are_usage_errors_64() {
    for port in ["65536", "-1", "http", "", "1.5", "99999999999999999999"] {
        sockd()
            .args(["127.0.0.1", port])
            .run()
            .fails_with(64, "invalid port");
        sockc()
            .args(["127.0.0.1", port, "hi"])
            .run()
            .fails_with(64, "invalid port");
    }
}

#[test]
fn bad_flags_are_usage_errors_64() {
    for args in [
        &["127.0.0.1", "0", "--bogus"][..],
        &["127.0.0.1", "0", "--threads", "0"],
        &["127.0.0.1", "0", "--max-conns", "0"],
        &["127.0.0.1", "0", "--idle-timeout", "-1"],
        &["127.0.0.1", "0", "--exit-after", "x"],
        &["127.0.0.1"],
        &[],
    ] {
        sockd().args(args).run().fails_with(64, "sockd: ");
    }
    // In words, not clap's `0 is not in 1..18446744073709551615`.
    for (flag, value, why) in [
        ("--exit-after", "0", "expected at least 1"),
        ("--backlog", "99999999999", "expected at most 2147483647"),
        (
            "--max-conns",
            "many",
            "expected a whole number of at least 1",
        ),
    ] {
        sockd()
            .args(["127.0.0.1", "0", flag, value])
            .run()
            .fails_with(
                64,
                &format!("sockd: invalid {flag} \"{value}\": {why} (try --help)"),
            )
            .stderr_lines(1);
    }
    sockc()
        .args(["--timeout", "0", "127.0.0.1", "1", "x"])
        .run()
        .fails_with(64, "sockc: ");
    sockc()
        .args(["--wait", "soon", "127.0.0.1", "1", "x"])
        .run()
        .fails_with(64, "sockc: ");
}

#[test]
fn help_and_version_exit_zero() {
    for program in [sockd, sockc] {
        program().arg("--help").run().success().stdout_has("Usage:");
        program().arg("--version").run().success();
    }
}

#[test]
fn unwritable_port_file_is_an_os_error_71() {
    sockd()
        .args([
            "-q",
            "127.0.0.1",
            "0",
            "--port-file",
            "/nonexistent-dir/port",
        ])
        .run()
        .fails_with(
            71,
            "sockd: write /nonexistent-dir/port: no such file or directory (ENOENT)",
        );
}
