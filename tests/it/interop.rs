//! The other tools a user pairs sockkit with: `socat` as the server for
//! sockc, OpenBSD `nc` as the client of sockd.

use crate::util::net::{LOCAL, refused_port};
use crate::util::{Cmd, assert_same_bytes, random_bytes, skip, sockc, sockd};

/// sockc against `socat LISTEN ANSWER` (a forking server), reached at
/// `server` (the arguments before the message): `--wait` is the readiness
/// check, retrying until socat listens; then binary data, NULs included,
/// through a second forked child. `None` when socat is missing (skipped).
pub(crate) fn sockc_through_socat(listen: &str, answer: &str, server: &[&str]) -> Option<()> {
    if !skip::require_tool("socat") {
        return None;
    }
    let _socat = Cmd::new("socat")
        .args([listen, answer])
        .stdin(std::process::Stdio::null())
        .spawn();
    sockc()
        .args(["--wait", "10"])
        .args(server)
        .args(["hello", "socat"])
        .run()
        .success()
        .stdout_is(b"hello socat");
    let payload = random_bytes(1 << 20, 0x50ca);
    let out = sockc()
        .args(server)
        .arg("-")
        .stdin_bytes(payload.clone())
        .run();
    out.success();
    assert_same_bytes(
        &out.stdout,
        &payload,
        &format!("1 MiB through socat {listen}"),
    );
    Some(())
}

#[test]
fn sockc_talks_to_socat_running_cat() {
    // socat takes no port file: take a free port from the kernel and hand
    // it over (it is free again between the close and socat's bind).
    let port = {
        let (_holder, port) = refused_port();
        port.to_string()
    };
    let listen = format!("TCP-LISTEN:{port},bind={LOCAL},reuseaddr,fork");
    sockc_through_socat(&listen, "EXEC:cat", &[LOCAL, &port]);
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
