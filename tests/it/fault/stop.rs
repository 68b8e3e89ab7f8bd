//! The stop signal against every fault that holds a connection: a client
//! that keeps sending and never reads, then SIGTERM while sockd holds its
//! bytes (unread, queued, throttled, cut small) or puts off its FIN.

use super::faulty;
use crate::util::net::{connect, send_timeout};
use rustix::net::{SendFlags, Shutdown};
use rustix::process::Signal;
use std::time::Duration;

#[test]
fn sigterm_ends_sockd_while_a_fault_holds_a_client_that_keeps_sending() {
    let faults: [&[&str]; 6] = [
        &["--on-accept", "hang"],
        &["--on-accept", "blackhole"],
        &["--delay", "5000"],
        &["--rate", "1"],
        &["--chunk", "1:1000"],
        &["--slow-close", "10000"],
    ];
    for flags in faults {
        let server = faulty(flags);
        let client = connect(server.port());
        send_timeout(&client, Duration::from_millis(300));
        // As much as the kernel and sockd take, until a send times out.
        let chunk = vec![0u8; 64 * 1024];
        let mut sent = 0;
        while sent < 8 << 20 {
            match rustix::net::send(&client, &chunk, SendFlags::NOSIGNAL) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        // The client's FIN: what --slow-close puts its own off after.
        let _ = rustix::net::shutdown(&client, Shutdown::Write);
        server.signal(Signal::TERM);
        let out = server.wait_exit_within(Duration::from_secs(3));
        out.success();
        assert!(
            out.stderr.contains("sockd: stopped: 1 connection"),
            "{flags:?}: {}",
            out.stderr
        );
    }
}
