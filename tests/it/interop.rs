//! The other tools a user pairs sockkit with: `socat` as the server for
//! sockc, OpenBSD `nc` as the client of sockd.

use crate::net::{Background, assert_same_bytes};
use crate::skip_unless;
use crate::util::{DEADLINE, SOCKC, Server, Stdin, have, random_bytes, refused_port, run_with};
use std::process::Stdio;

const LOCAL: &str = "127.0.0.1";

#[test]
fn sockc_talks_to_socat_running_cat() {
    skip_unless!(have("socat"), "socat is not installed");
    // socat takes no port file: take a free port from the kernel and hand
    // it over (it is free again between the close and socat's bind).
    let port = {
        let (_holder, port) = refused_port();
        port.to_string()
    };
    let listen = format!("TCP-LISTEN:{port},bind={LOCAL},reuseaddr,fork");
    let _socat = Background::spawn("socat", &[&listen, "EXEC:cat"], Stdio::null(), true);
    // sockc --wait is the readiness check: it retries until socat listens.
    run_with(
        SOCKC,
        &["--wait", "10", LOCAL, &port, "hello", "socat"],
        Stdin::Null,
        DEADLINE,
    )
    .success()
    .stdout_is(b"hello socat");
    // Binary data, NULs included, through a second forked child.
    let payload = random_bytes(1 << 20, 0x50ca);
    let out = run_with(
        SOCKC,
        &[LOCAL, &port, "-"],
        Stdin::Bytes(payload.clone()),
        DEADLINE,
    );
    out.success();
    assert_same_bytes(&out.stdout, &payload, "1 MiB through socat EXEC:cat");
}

#[test]
fn openbsd_nc_talks_to_sockd() {
    skip_unless!(have("nc"), "nc (netcat-openbsd) is not installed");
    let help = run_with("nc", &["-h"], Stdin::Null, DEADLINE);
    skip_unless!(
        help.stderr.contains("OpenBSD netcat") || help.stdout_text().contains("OpenBSD netcat"),
        "nc is not netcat-openbsd (no -N)"
    );
    let server = Server::sockd(&["--threads", "1", LOCAL, "0"]);
    let out = run_with(
        "nc",
        &["-N", LOCAL, &server.port_arg()],
        Stdin::Bytes(b"hello from nc\nsecond line\n".to_vec()),
        DEADLINE,
    );
    out.success().stdout_is(b"hello from nc\nsecond line\n");
    server.wait_stdout("127.0.0.1 say: hello from nc\n127.0.0.1 say: second line\n");
}
