//! Memory stays bounded whatever a client sends: delayed bytes wait in a
//! bounded queue, and a full queue stops sockd reading (backpressure).

use super::faulty;
use crate::util::net::{connect, recv_exact};
use crate::util::procfs::status_kib;
use crate::util::{assert_same_bytes, random_bytes};
use rustix::io::Errno;
use rustix::net::sockopt::{self, Timeout};
use std::time::Duration;

const MIB: usize = 1024 * 1024;

#[test]
fn a_client_that_never_reads_cannot_grow_a_delaying_sockd() {
    let server = faulty(&["--delay", "2000"]);
    let fd = connect(server.port());
    // A small receive buffer: the echo sockd sends back to this client
    // that does not read has little room, so sockd's queue and then its
    // reading stop soon. A send that cannot go on for 2.5 s (longer than
    // the delay, so the delayed bytes leaving the queue count as progress)
    // ends the attempt.
    sockopt::set_socket_recv_buffer_size(&fd, 64 * 1024)
        .unwrap_or_else(|e| panic!("SO_RCVBUF: {e}"));
    sockopt::set_socket_timeout(&fd, Timeout::Send, Some(Duration::from_millis(2500)))
        .unwrap_or_else(|e| panic!("SO_SNDTIMEO: {e}"));
    let block = random_bytes(MIB, 10);
    let mut sent = 0usize;
    'sending: while sent < 200 * MIB {
        let mut at = sent % MIB;
        while at < MIB {
            match sockkit::io::send_some(&fd, &block[at..]) {
                Ok(n) => {
                    at += n;
                    sent += n;
                }
                Err(Errno::AGAIN) => break 'sending,
                Err(errno) => panic!("send after {sent} bytes: {errno}"),
            }
        }
    }
    let peak_kib = status_kib(server.pid(), "VmHWM");
    eprintln!(
        "--delay 2000, a client sending without reading: {} MiB taken of 200, sockd VmHWM {peak_kib} KiB",
        sent / MIB
    );
    assert!(
        sent < 64 * MIB,
        "sockd never stopped reading: {sent} bytes taken"
    );
    assert!(peak_kib < 64 * 1024, "sockd's peak RSS {peak_kib} KiB");
    // What it held comes back in order, byte for byte.
    let first = recv_exact(&fd, MIB);
    let expected: Vec<u8> = block.iter().copied().cycle().take(MIB).collect();
    assert_same_bytes(&first, &expected, "the first MiB after the backpressure");
}
