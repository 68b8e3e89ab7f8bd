//! Every error path in SPEC.md: the exit code, the op, the address and the
//! errno name, on one line, with the hint where SPEC gives one.

use crate::skip_unless;
use crate::util::{SOCKC, SOCKD, Server, have, is_root, refused_port, run};

#[test]
fn second_bind_on_a_live_port_is_eaddrinuse_75() {
    let server = Server::sockd(&["-q", "127.0.0.1", "0"]);
    let port = server.port_arg();
    let second = run(SOCKD, &["127.0.0.1", &port]);
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
    let out = run(SOCKC, &["127.0.0.1", &port, "hi"]);
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
    let out = crate::util::run_with(
        SOCKC,
        &["127.0.0.1", &port.to_string()],
        crate::util::Stdin::Bytes(b"hi\n".to_vec()),
        crate::util::DEADLINE,
    );
    assert_eq!(out.code, Some(69), "{}", out.stderr);
    assert!(out.stderr.contains("(ECONNREFUSED)"), "{}", out.stderr);
}

#[test]
fn privileged_port_as_nobody_is_eacces_77() {
    skip_unless!(is_root(), "needs root to become nobody with setpriv");
    skip_unless!(have("setpriv"), "setpriv (util-linux) is not installed");
    let out = run(
        "setpriv",
        &[
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            SOCKD,
            "127.0.0.1",
            "80",
        ],
    );
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
        run(SOCKD, &[ip, "0"]).fails_with(64, "invalid address");
        run(SOCKC, &[ip, "7", "hi"]).fails_with(64, "invalid address");
    }
}

#[test]
fn bad_ports_are_usage_errors_64() {
    for port in ["65536", "-1", "http", "", "1.5", "99999999999999999999"] {
        run(SOCKD, &["127.0.0.1", port]).fails_with(64, "invalid port");
        run(SOCKC, &["127.0.0.1", port, "hi"]).fails_with(64, "invalid port");
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
        run(SOCKD, args).fails_with(64, "sockd: ");
    }
    run(SOCKC, &["--timeout", "0", "127.0.0.1", "1", "x"]).fails_with(64, "sockc: ");
    run(SOCKC, &["--wait", "soon", "127.0.0.1", "1", "x"]).fails_with(64, "sockc: ");
}

#[test]
fn help_and_version_exit_zero() {
    for program in [SOCKD, SOCKC] {
        let help = run(program, &["--help"]);
        help.success();
        assert!(
            help.stdout_text().contains("Usage:"),
            "{}",
            help.stdout_text()
        );
        run(program, &["--version"]).success();
    }
}

#[test]
fn unwritable_port_file_is_an_os_error_71() {
    let out = run(
        SOCKD,
        &[
            "-q",
            "127.0.0.1",
            "0",
            "--port-file",
            "/nonexistent-dir/port",
        ],
    );
    out.fails_with(
        71,
        "sockd: write /nonexistent-dir/port: no such file or directory (ENOENT)",
    );
}
