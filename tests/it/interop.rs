//! The other tools a user pairs sockkit with: `socat` as the server for
//! sockc, OpenBSD `nc` as the client of sockd.

use crate::util::net::{LOCAL, refused_port};
use crate::util::{Cmd, assert_same_bytes, random_bytes, skip, sockc, sockd};

#[test]
fn sockc_talks_to_socat_running_cat() {
    if !skip::require_tool("socat") {
        return;
    }
    // socat takes no port file: take a free port from the kernel and hand
    // it over (it is free again between the close and socat's bind).
    let port = {
        let (_holder, port) = refused_port();
        port.to_string()
    };
    let listen = format!("TCP-LISTEN:{port},bind={LOCAL},reuseaddr,fork");
    let _socat = Cmd::new("socat").args([&listen, "EXEC:cat"]).spawn();
    // sockc --wait is the readiness check: it retries until socat listens.
    sockc()
        .args(["--wait", "10", LOCAL, &port, "hello", "socat"])
        .run()
        .success()
        .stdout_is(b"hello socat");
    // Binary data, NULs included, through a second forked child.
    let payload = random_bytes(1 << 20, 0x50ca);
    let out = sockc()
        .args([LOCAL, &port, "-"])
        .stdin_bytes(payload.clone())
        .run();
    out.success();
    assert_same_bytes(&out.stdout, &payload, "1 MiB through socat EXEC:cat");
}

#[test]
fn openbsd_nc_talks_to_sockd() {
    if !skip::require_openbsd_nc() {
        return;
    }
    let server = sockd().args(["--threads", "1", LOCAL, "0"]).serve();
    Cmd::new("nc")
        .args(["-N", LOCAL, &server.port_arg()])
        .stdin_bytes(b"hello from nc\nsecond line\n")
        .run()
        .success()
        .stdout_is(b"hello from nc\nsecond line\n");
    server.wait_stdout("127.0.0.1 say: hello from nc\n127.0.0.1 say: second line\n");
}
