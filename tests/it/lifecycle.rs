//! How sockd stops and sheds clients: SIGTERM/SIGINT with the summary,
//! `--exit-after`, `--idle-timeout`, `--max-conns`, and SIGPIPE.

use crate::util::net::{
    LOCAL, connect, exchange, recv_exact, recv_timeout, recv_to_eof, round_trip, send_all,
    stays_silent,
};
use crate::util::{DEADLINE, Process, assert_same_bytes, random_bytes, sockd, within};
use rustix::net::sockopt;
use rustix::process::Signal;
use std::time::{Duration, Instant};

/// Round trips of `sizes` bytes each, one client after the other.
fn clients_of_sizes(server: &Process, sizes: &[usize]) -> u64 {
    for (i, &len) in sizes.iter().enumerate() {
        let payload = random_bytes(len, 0x11fe + i as u64);
        assert_same_bytes(&round_trip(server.port(), &payload), &payload, "echo");
    }
    sizes.iter().map(|&n| n as u64).sum()
}

#[test]
fn sigterm_stops_with_exit_0_and_a_true_summary() {
    let server = sockd().args(["-q", LOCAL, "0"]).serve();
    let bytes = clients_of_sizes(&server, &[10, 20, 30_000]);
    server.signal(Signal::TERM);
    let stopped = server.wait_exit();
    stopped.success();
    assert_eq!(stopped.summary(), (3, bytes), "{}", stopped.stderr);
    assert!(
        stopped
            .stderr
            .contains("sockd: stopped: 3 connections, 30030 bytes received"),
        "{}",
        stopped.stderr
    );
}

#[test]
fn sigint_stops_likewise_and_closes_open_connections() {
    let server = sockd().args(["-q", LOCAL, "0"]).serve();
    let bytes = clients_of_sizes(&server, &[1, 2]);
    // One client still connected when the signal comes: it gets EOF.
    let open = connect(server.port());
    send_all(&open, b"still here");
    recv_timeout(&open, DEADLINE);
    assert_eq!(recv_exact(&open, 10), b"still here");
    server.signal(Signal::INT);
    assert_eq!(
        within(DEADLINE, "EOF for the open client", move || recv_to_eof(
            &open
        )),
        b""
    );
    let stopped = server.wait_exit();
    stopped.success();
    assert_eq!(stopped.summary(), (3, bytes + 10), "{}", stopped.stderr);
}

#[test]
fn exit_after_two_serves_two_connections_then_exits_0() {
    let server = sockd()
        .args(["-q", "--exit-after", "2", LOCAL, "0"])
        .serve();
    let port = server.port();
    assert_eq!(round_trip(port, b"first"), b"first");
    // Still running after one: a second client is served.
    assert_eq!(round_trip(port, b"second"), b"second");
    let stopped = server.wait_exit();
    stopped.success();
    assert_eq!(stopped.summary(), (2, 11), "{}", stopped.stderr);
}

#[test]
fn exit_after_counts_closed_connections_not_accepted_ones() {
    let server = sockd()
        .args(["-q", "--exit-after", "1", LOCAL, "0"])
        .serve();
    let port = server.port();
    // Two clients open at once; the server must stay up until one closes.
    let first = connect(port);
    let second = connect(port);
    for (fd, word) in [(&first, b"one"), (&second, b"two")] {
        send_all(fd, word);
        recv_timeout(fd, DEADLINE);
        assert_eq!(recv_exact(fd, 3), word);
    }
    assert_eq!(exchange(&first, b"!"), b"!");
    // The first close ends the server, and with it the second connection.
    let stopped = server.wait_exit();
    stopped.success();
    assert_eq!(stopped.summary().0, 2, "{}", stopped.stderr);
    assert_eq!(recv_to_eof(&second), b"");
}

#[test]
fn idle_timeout_closes_a_silent_client_but_not_an_active_one() {
    let server = sockd()
        .args(["-q", "--idle-timeout", "1", LOCAL, "0"])
        .serve();
    let port = server.port();
    let silent = connect(port);
    let active = connect(port);
    recv_timeout(&active, DEADLINE);
    let silent_started = Instant::now();
    let silent_waiter = std::thread::spawn(move || {
        recv_timeout(&silent, Duration::from_secs(10));
        let mut buf = [0u8; 16];
        let got = sockkit::io::recv_some(&silent, &mut buf);
        (got, silent_started.elapsed())
    });
    // Active for well over the idle timeout: a byte every 250 ms for 2.5 s.
    // Between bytes, the connection must stay open and quiet (no EOF).
    let active_started = Instant::now();
    let mut round = 0u8;
    while active_started.elapsed() < Duration::from_millis(2500) {
        recv_timeout(&active, DEADLINE);
        send_all(&active, &[round]);
        let mut buf = [0u8; 1];
        match sockkit::io::recv_some(&active, &mut buf) {
            Ok(1) => assert_eq!(buf[0], round),
            other => panic!(
                "the active client was cut off after {:?}: {other:?}",
                active_started.elapsed()
            ),
        }
        round = round.wrapping_add(1);
        assert!(
            stays_silent(&active, Duration::from_millis(250)),
            "the active client was closed after {:?}",
            active_started.elapsed()
        );
    }
    recv_timeout(&active, Duration::from_secs(10));
    let (got, took) = silent_waiter
        .join()
        .unwrap_or_else(|_| panic!("silent client thread panicked"));
    assert_eq!(got, Ok(0), "the silent client should get EOF, got {got:?}");
    assert!(
        took >= Duration::from_millis(900),
        "closed before the idle timeout: {took:?}"
    );
    // Once the active client falls silent too, it is closed as well.
    let started = Instant::now();
    let mut buf = [0u8; 1];
    assert_eq!(sockkit::io::recv_some(&active, &mut buf), Ok(0));
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn max_conns_leaves_a_third_client_in_the_backlog_until_one_closes() {
    let server = sockd().args(["-q", "--max-conns", "2", LOCAL, "0"]).serve();
    let port = server.port();
    let first = connect(port);
    let second = connect(port);
    for fd in [&first, &second] {
        send_all(fd, b"in");
        recv_timeout(fd, DEADLINE);
        assert_eq!(recv_exact(fd, 2), b"in");
    }
    // The handshake completes in the kernel's backlog, but sockd does not
    // accept it: nothing is echoed.
    let third = connect(port);
    send_all(&third, b"third");
    assert!(
        stays_silent(&third, Duration::from_secs(1)),
        "a third client was served while two were open"
    );
    // One of the two leaves: the third is accepted and served.
    assert_eq!(exchange(&first, b""), b"");
    recv_timeout(&third, DEADLINE);
    assert_eq!(recv_exact(&third, 5), b"third");
    assert_eq!(exchange(&second, b"!"), b"!");
    assert_eq!(exchange(&third, b"!"), b"!");
    server.signal(Signal::TERM);
    let stopped = server.wait_exit();
    stopped.success();
    assert_eq!(stopped.summary().0, 3, "{}", stopped.stderr);
}

#[test]
fn sigpipe_never_kills_sockd() {
    let server = sockd().args(["-q", "--threads", "1", LOCAL, "0"]).serve();
    let port = server.port();
    let payload = random_bytes(4 << 20, 0x919e);
    for reset in [false, true, false, true] {
        let fd = connect(port);
        if reset {
            // close() then sends RST instead of FIN.
            sockopt::set_socket_linger(&fd, Some(Duration::ZERO))
                .unwrap_or_else(|e| panic!("SO_LINGER: {e}"));
        }
        // Send a lot without reading, and go away while sockd still has
        // echo bytes to send: its next send hits a closed peer.
        send_all(&fd, &payload[..1 << 20]);
        drop(fd);
        let next = random_bytes(100_000, reset as u64);
        assert_same_bytes(
            &round_trip(port, &next),
            &next,
            "the client after a vanished one",
        );
    }
    server.signal(Signal::TERM);
    let stopped = server.wait_exit();
    // Killed by a signal, the code would be None.
    stopped.success();
    assert_eq!(stopped.summary().0, 8, "{}", stopped.stderr);
}
