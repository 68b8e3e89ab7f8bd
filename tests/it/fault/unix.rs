//! The stream faults over a unix stream socket (`sockd -U`): the same echo
//! worker, so the same faults; and none of them with `-u` (the datagram
//! worker has no fault hooks).

use super::{timed, within_secs};
use crate::util::net::{connect_unix, recv_exact, recv_upto, send_all};
use crate::util::{TempDir, random_bytes, sockd};

/// A quiet one-worker `sockd -U DIR/s` with `flags`, and the path.
fn faulty_unix(dir: &TempDir, flags: &[&str]) -> (crate::util::Process, String) {
    let path = dir.join("s").to_string_lossy().into_owned();
    let server = sockd()
        .args(["-q", "--threads", "1"])
        .args(flags)
        .args(["-U", &path])
        .serve_unix();
    (server, path)
}

#[test]
fn delay_and_chunk_over_a_unix_stream() {
    let dir = TempDir::new();
    let (_server, path) = faulty_unix(&dir, &["--delay", "200", "--chunk", "10"]);
    let fd = connect_unix(&path);
    let message = random_bytes(100, 21);
    let (reads, took) = timed(|| {
        send_all(&fd, &message);
        (0..10).map(|_| recv_exact(&fd, 10)).collect::<Vec<_>>()
    });
    assert_eq!(reads.concat(), message);
    within_secs("round trip", took, 0.18, 0.5);
}

#[test]
fn close_after_bytes_over_a_unix_stream() {
    let dir = TempDir::new();
    let (_server, path) = faulty_unix(&dir, &["--close-after", "1000"]);
    let fd = connect_unix(&path);
    let payload = random_bytes(3000, 22);
    let (got, error) = std::thread::scope(|scope| {
        scope.spawn(|| sockkit::io::send_all(&fd, &payload));
        recv_upto(&fd, usize::MAX)
    });
    assert_eq!(error, None, "an EOF after {} bytes", got.len());
    assert_eq!(got, payload[..1000]);
}

#[test]
fn stream_only_faults_are_refused_with_udp() {
    for (flag, value) in [
        ("--slow-close", "5"),
        ("--close-after", "10"),
        ("--on-accept", "reset"),
    ] {
        sockd()
            .args(["-u", flag, value, "127.0.0.1", "0"])
            .run()
            .fails_with(64, &format!("sockd: --udp cannot be used with {flag}"))
            .stderr_lines(1);
    }
}
