//! Connecting: `sockc -z` (connect, send nothing, close) over TCP, unix
//! sockets and UDP; `--wait` for a server started later and `--timeout`
//! bounding each attempt against SYNs nobody answers; the strictness of
//! numeric input.

use crate::bench::{Echo, EchoServer};
use crate::bench_transports::{DatagramServer, Reply};
use crate::util::net::{LOCAL, listener, recv_to_eof, refused_port, udp_refusing};
use crate::util::{TempDir, sockc};
use core::net::SocketAddr;
use rustix::fd::OwnedFd;
use rustix::net::RecvFlags;
use sockkit::endpoint::{Endpoint, Kind};
use sockkit::io::{recv_from, send_to};
use sockkit::socket::bind_socket;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// A listener on `ip` whose accept queue is full (backlog 0, one
/// connection nobody accepts): the kernel drops every further SYN, so a
/// connect to it hangs as one to a host behind a firewall that drops SYNs
/// does. Returns the listener, the connection filling its queue and the
/// address.
fn syn_dropping(ip: &str, port: &str) -> (OwnedFd, OwnedFd, SocketAddr) {
    let at = Endpoint::parse_ip(Kind::Stream, ip, port).unwrap_or_else(|e| panic!("{e}"));
    let (fd, bound) = bind_socket(&at).unwrap_or_else(|e| panic!("{e}"));
    rustix::net::listen(&fd, 0).unwrap_or_else(|e| panic!("listen: {e}"));
    let filler = sockkit::connect_socket(&bound).unwrap_or_else(|e| panic!("{e}"));
    let addr = bound.socket_addr().unwrap_or_else(|| panic!("{bound}"));
    (fd, filler, addr)
}

/// Asserts how long something took: at least `min`, and well under the
/// hang it guards against.
#[track_caller]
fn took_between(started: Instant, min: Duration, max: Duration) {
    let took = started.elapsed();
    assert!(
        took >= min && took < max,
        "took {took:?}, not within {min:?}..{max:?}"
    );
}

#[test]
fn z_against_a_listener_exits_0_and_the_server_sees_no_byte() {
    let (listener, port) = listener();
    let server = std::thread::spawn(move || {
        let conn = crate::util::net::accept(&listener);
        recv_to_eof(&conn)
    });
    sockc()
        .args(["-z", "-v", LOCAL, &port.to_string()])
        .run()
        .success()
        .stdout_is(b"")
        .stderr_starts_with(&format!(
            "sockc: connected to 127.0.0.1:{port} from 127.0.0.1:"
        ))
        .stderr_lines(1);
    let seen = server
        .join()
        .unwrap_or_else(|_| panic!("the server thread panicked"));
    assert_eq!(seen, b"", "the server read bytes from sockc -z");
}

#[test]
fn z_against_a_refused_port_exits_69() {
    let (_holder, port) = refused_port();
    sockc()
        .args(["-z", LOCAL, &port.to_string()])
        .run()
        .fails_with(
            69,
            &format!("sockc: connect 127.0.0.1:{port}: connection refused (ECONNREFUSED)"),
        )
        .stderr_has("hint: nothing listens");
}

#[test]
fn z_wait_returns_once_a_listener_starts() {
    // Bound, not listening: refused, and nobody else can take the port;
    // listening on that very socket is the server starting.
    let (holder, port) = refused_port();
    let client = sockc()
        .args(["-z", "-vv", "--wait", "30", LOCAL, &port.to_string()])
        .spawn();
    client.wait_stderr("connection refused (ECONNREFUSED); retrying");
    rustix::net::listen(&holder, 8).unwrap_or_else(|e| panic!("listen: {e}"));
    client.wait_exit().success().stdout_is(b"");
}

#[test]
fn timeout_bounds_each_attempt_against_dropped_syns() {
    let (_listener, _filler, addr) = syn_dropping(LOCAL, "0");
    let port = addr.port().to_string();
    // Without --wait: one attempt, --timeout long.
    let started = Instant::now();
    sockc()
        .args(["-z", "--timeout", "0.5", LOCAL, &port])
        .run()
        .fails_with(
            75,
            &format!("sockc: connect 127.0.0.1:{port}: connection timed out (ETIMEDOUT)"),
        );
    took_between(started, Duration::from_millis(450), Duration::from_secs(8));
    // With --wait: attempt after attempt, each cut at --timeout, until the
    // wait is over; then the last attempt's timeout.
    let started = Instant::now();
    let out = sockc()
        .args([
            "-z",
            "-vv",
            "--timeout",
            "0.3",
            "--wait",
            "1.5",
            LOCAL,
            &port,
        ])
        .run();
    assert_eq!(out.code, Some(75), "{out}");
    out.stderr_has(&format!(
        "sockc: connect 127.0.0.1:{port}: connection timed out (ETIMEDOUT)\n"
    ));
    let retries = out.stderr.matches("(ETIMEDOUT); retrying").count();
    assert!(retries >= 2, "{retries} attempts retried\n{out}");
    took_between(
        started,
        Duration::from_millis(1500),
        Duration::from_secs(10),
    );
}

#[test]
fn z_wait_outlasts_dropped_syns_until_the_queue_has_room() {
    let (listener, filler, addr) = syn_dropping(LOCAL, "0");
    let client = sockc()
        .args(["-z", "-vv", "--timeout", "0.3", "--wait", "30", LOCAL])
        .arg(addr.port().to_string())
        .spawn();
    // One attempt has hung and been cut short: the wait goes on.
    client.wait_stderr("connection timed out (ETIMEDOUT); retrying");
    let accepted = crate::util::net::accept(&listener);
    client.wait_exit().success();
    drop((accepted, filler));
}

#[test]
fn z_over_unix_sockets_connects_and_sends_nothing() {
    let dir = TempDir::new();
    let stream = dir.join("z.sock").to_string_lossy().into_owned();
    let _echo = EchoServer::start_at(
        &Endpoint::unix(Kind::Stream, &stream).unwrap_or_else(|e| panic!("{e}")),
        Echo::Faithful,
    );
    sockc()
        .args(["-z", "-U", &stream])
        .run()
        .success()
        .stdout_is(b"");
    let dgram = dir.join("z.dgram").to_string_lossy().into_owned();
    let at = Endpoint::unix(Kind::Datagram, &dgram).unwrap_or_else(|e| panic!("{e}"));
    let server = DatagramServer::start(&at, Reply::Faithful);
    sockc()
        .args(["-z", "-uU", &dgram])
        .run()
        .success()
        .stdout_is(b"");
    // A unix datagram connect proves a socket is bound there: nothing sent.
    assert_eq!(server.received.load(Ordering::Relaxed), 0);
    let missing = dir.join("none.sock").to_string_lossy().into_owned();
    sockc()
        .args(["-z", "-U", &missing])
        .run()
        .fails_with(69, "(ENOENT)")
        .stderr_has("no server has created it");
    let stale = dir.join("stale.sock").to_string_lossy().into_owned();
    let ended = Endpoint::unix(Kind::Stream, &stale).unwrap_or_else(|e| panic!("{e}"));
    drop(bind_socket(&ended).unwrap_or_else(|e| panic!("{e}")));
    sockc()
        .args(["-z", "-U", &stale])
        .run()
        .fails_with(69, "(ECONNREFUSED)")
        .stderr_has("stale");
}

#[test]
fn z_over_udp_sends_one_empty_datagram_and_reads_the_answer() {
    let (fd, _bound, port) = crate::sockc_udp::udp_socket();
    let client = sockc().args(["-z", "-u", LOCAL, &port]).spawn();
    let mut buf = [0u8; 64];
    let got = recv_from(&fd, &mut buf, RecvFlags::empty()).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(got.len, 0, "-z sent bytes");
    let from = got.from.unwrap_or_else(|| panic!("no sender"));
    send_to(&fd, b"", &from).unwrap_or_else(|e| panic!("{e:?}"));
    client.wait_exit().success().stdout_is(b"");
    let (_holder, refusing) = udp_refusing();
    sockc()
        .args(["-zu", LOCAL, &refusing.to_string()])
        .run()
        .fails_with(69, "(ECONNREFUSED)");
    // Silence proves nothing either way: 75, not 0 and not 69.
    let silent = DatagramServer::udp(Reply::Silent);
    let started = Instant::now();
    sockc()
        .args(["-zu", "--timeout", "0.5", LOCAL, &silent.port()])
        .run()
        .fails_with(75, "(ETIMEDOUT)");
    took_between(started, Duration::from_millis(450), Duration::from_secs(8));
}

#[test]
fn z_refuses_what_it_cannot_do() {
    for (args, needle) in [
        (&["-z", LOCAL, "9", "hi"][..], "-z sends nothing"),
        (&["-z", "--keep", LOCAL, "9"], "-z sends nothing"),
        (&["-z", LOCAL, "0"], "a client cannot connect to port 0"),
        (&["-z", "-u", "127.1", "9"], "invalid address \"127.1\""),
        (&["-z", "999.0.0.1", "9"], "invalid address \"999.0.0.1\""),
        (&["-z", "1.2.3.4.5", "9"], "invalid address"),
        (&["-z", "no host", "9"], "invalid host"),
    ] {
        sockc().args(args).run().fails_with(64, needle);
    }
}
