//! Faults that end connections: `--close-after`, `--reset-after`,
//! `--on-accept`.

use super::{faulty, secs_since, within_secs};
use crate::util::net::{connect, connect_unless_reset, recv_upto, send_all, stays_silent};
use crate::util::random_bytes;
use rustix::fd::AsFd;
use rustix::io::Errno;
use rustix::net::SendFlags;
use std::time::{Duration, Instant};

/// Sends `payload` from a second thread while reading: what came back,
/// and how the reading ended (`None`: EOF).
fn send_and_read(port: u16, payload: &[u8]) -> (Vec<u8>, Option<Errno>) {
    let fd = connect(port);
    std::thread::scope(|scope| {
        // The send may fail once sockd has ended the connection.
        scope.spawn(|| sockkit::io::send_all(&fd, payload));
        recv_upto(&fd, usize::MAX)
    })
}

#[test]
fn close_after_bytes_sends_exactly_that_many_then_eof() {
    let server = faulty(&["--close-after", "1000"]);
    let payload = random_bytes(3000, 6);
    let (got, error) = send_and_read(server.port(), &payload);
    assert_eq!(
        error,
        None,
        "an EOF, not an error, after {} bytes",
        got.len()
    );
    assert_eq!(got, payload[..1000]);
}

#[test]
fn close_after_secs_sends_eof_that_long_after_the_accept() {
    let server = faulty(&["--close-after", "1s"]);
    let start = Instant::now();
    let fd = connect(server.port());
    send_all(&fd, b"still echoed");
    let (got, error) = recv_upto(&fd, usize::MAX);
    assert_eq!((got.as_slice(), error), (&b"still echoed"[..], None));
    within_secs("EOF after the accept", secs_since(start), 1.0, 1.5);
}

#[test]
fn reset_after_bytes_sends_exactly_that_many_then_econnreset() {
    let server = faulty(&["--reset-after", "1000"]);
    let payload = random_bytes(3000, 7);
    let (got, error) = send_and_read(server.port(), &payload);
    assert_eq!(error, Some(Errno::CONNRESET), "after {} bytes", got.len());
    assert_eq!(got, payload[..1000]);
}

#[test]
fn reset_after_secs_resets_that_long_after_the_accept() {
    let server = faulty(&["--reset-after", "0.5s"]);
    let start = Instant::now();
    let fd = connect(server.port());
    let (got, error) = recv_upto(&fd, usize::MAX);
    assert_eq!((got.len(), error), (0, Some(Errno::CONNRESET)));
    within_secs("RST after the accept", secs_since(start), 0.5, 1.0);
}

#[test]
fn on_accept_close_is_an_eof_at_once() {
    let server = faulty(&["--on-accept", "close"]);
    let fd = connect(server.port());
    send_all(&fd, b"anyone?");
    assert_eq!(recv_upto(&fd, usize::MAX), (Vec::new(), None));
}

#[test]
fn on_accept_reset_is_econnreset_at_once() {
    let server = faulty(&["--on-accept", "reset"]);
    let Some(fd) = connect_unless_reset(server.port()) else {
        return;
    };
    assert_eq!(
        recv_upto(&fd, usize::MAX),
        (Vec::new(), Some(Errno::CONNRESET))
    );
}

/// Sends without waiting until the kernel takes nothing more for a while
/// (nobody reads); what it took.
fn send_until_full(fd: impl AsFd) -> usize {
    let chunk = vec![0x5au8; 64 * 1024];
    let mut sent = 0;
    let mut stuck_since: Option<Instant> = None;
    while stuck_since.is_none_or(|at| at.elapsed() < Duration::from_millis(300)) {
        match rustix::net::send(&fd, &chunk, SendFlags::NOSIGNAL | SendFlags::DONTWAIT) {
            Ok(n) => {
                sent += n;
                stuck_since = None;
            }
            Err(Errno::AGAIN) => {
                stuck_since.get_or_insert_with(Instant::now);
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(errno) => panic!("send after {sent} bytes: {errno}"),
        }
        assert!(sent < 64 << 20, "64 MiB taken: something reads");
    }
    sent
}

#[test]
fn on_accept_hang_never_reads_so_the_clients_buffer_fills() {
    let server = faulty(&["--on-accept", "hang"]);
    let fd = connect(server.port());
    let sent = send_until_full(&fd);
    assert!(sent > 0, "nothing fitted at all");
    assert!(
        stays_silent(&fd, Duration::from_millis(500)),
        "a hung peer answered"
    );
    eprintln!("--on-accept hang: the kernel buffers held {sent} bytes");
}

#[test]
fn on_accept_blackhole_reads_everything_and_never_answers() {
    let server = faulty(&["--on-accept", "blackhole"]);
    let fd = connect(server.port());
    // 10 MB, far more than both kernel buffers hold: all of it read.
    send_all(&fd, &random_bytes(10_000_000, 8));
    assert!(
        stays_silent(&fd, Duration::from_secs(1)),
        "a blackhole answered"
    );
}
