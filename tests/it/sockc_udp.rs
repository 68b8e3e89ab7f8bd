//! `sockc -u`: a datagram per message or per line of stdin, one reply
//! awaited per datagram and written exactly as it came; ICMP refusals
//! (69), silence (75), `--wait` resending the first datagram, EMSGSIZE
//! (71), the transcript over UDP; against in-test UDP sockets and socat.

use crate::bench_transports::{DatagramServer, Reply};
use crate::util::net::{LOCAL, loopback_of, recv_timeout, stays_silent, udp_refusing};
use crate::util::{
    Cmd, DEADLINE, assert_same_bytes, eventually, listing, random_bytes, skip, sockc, took_between,
};
use rustix::fd::OwnedFd;
use rustix::net::RecvFlags;
use sockkit::endpoint::{Endpoint, Kind};
use sockkit::io::{recv_from, send_to};
use sockkit::socket::bind_socket;
use std::io::Write;
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// A UDP socket on 127.0.0.1 that the test answers from itself.
pub(crate) fn udp_socket() -> (OwnedFd, Endpoint, String) {
    let (fd, bound) =
        bind_socket(&loopback_of(Kind::Datagram, 0)).unwrap_or_else(|e| panic!("{e}"));
    recv_timeout(&fd, DEADLINE);
    let port = bound
        .socket_addr()
        .map_or(0, |addr| addr.port())
        .to_string();
    (fd, bound, port)
}

#[test]
fn a_message_is_one_datagram_and_its_reply_is_written_as_it_came() {
    let server = DatagramServer::udp(Reply::Faithful);
    let port = server.port();
    sockc()
        .args(["-u", LOCAL, &port, "hello", "", "udp"])
        .run()
        .success()
        .stdout_is(b"hello  udp");
    assert_eq!(server.received.load(Ordering::Relaxed), 1);
    // The largest IPv4 UDP datagram, NULs and all, through stdin as one
    // "line" (no \n in it): nothing cut, nothing added.
    let mut largest = random_bytes(65_507, 0x0d9);
    largest
        .iter_mut()
        .filter(|b| **b == b'\n')
        .for_each(|b| *b = 0);
    let out = sockc()
        .args(["-u", LOCAL, &port, "-"])
        .stdin_bytes(largest.clone())
        .run();
    out.success();
    assert_same_bytes(&out.stdout, &largest, "a 65,507-byte datagram");
    assert_eq!(server.received.load(Ordering::Relaxed), 2);
}

#[test]
fn stdin_lines_are_datagrams_in_order_each_reply_awaited() {
    let (fd, _bound, port) = udp_socket();
    let input: &[u8] = b"one\ntwo\n\nlast, without a newline";
    let client = sockc()
        .args(["-u", LOCAL, &port, "-"])
        .stdin_bytes(input)
        .spawn();
    let mut buf = vec![0u8; 1024];
    for (i, line) in [&b"one\n"[..], b"two\n", b"\n", b"last, without a newline"]
        .iter()
        .enumerate()
    {
        let got = recv_from(&fd, &mut buf, RecvFlags::empty())
            .unwrap_or_else(|e| panic!("datagram {i}: {e:?}; {}", client.stderr_text()));
        assert_eq!(&buf[..got.len], *line, "datagram {i}");
        if i == 0 {
            // One reply awaited per datagram: nothing more comes until it.
            assert!(stays_silent(&fd, Duration::from_millis(300)), "sent ahead");
            recv_timeout(&fd, DEADLINE);
        }
        let from = got.from.unwrap_or_else(|| panic!("no sender"));
        // Answered with more than was sent: written as it came.
        let reply = [&b"re: "[..], line].concat();
        send_to(&fd, &reply, &from).unwrap_or_else(|e| panic!("{e:?}"));
    }
    let out = client.wait_exit();
    out.success()
        .stdout_is(b"re: one\nre: two\nre: \nre: last, without a newline");
}

#[test]
fn an_icmp_port_unreachable_exits_69_as_a_refusal() {
    // Held by a socket connected elsewhere: the kernel answers every
    // datagram to it with ICMP port unreachable, and nothing else can
    // bind the port meanwhile (no race with a port closed and reused).
    let (_holder, port) = udp_refusing();
    let started = Instant::now();
    sockc()
        .args(["-u", LOCAL, &port.to_string(), "anyone?"])
        .run()
        .fails_with(
            69,
            &format!("sockc: connect 127.0.0.1:{port}: connection refused (ECONNREFUSED)"),
        )
        .stderr_has(&format!("hint: nothing listens on 127.0.0.1:{port}"))
        .stdout_is(b"");
    // At once, not after --timeout's 10 s.
    took_between(started, Duration::ZERO, Duration::from_secs(5));
}

#[test]
fn a_server_that_never_answers_exits_75_after_the_timeout() {
    let server = DatagramServer::udp(Reply::Silent);
    let port = server.port();
    let started = Instant::now();
    sockc()
        .args(["-u", "--timeout", "1", LOCAL, &port, "hi"])
        .run()
        .fails_with(
            75,
            &format!("sockc: recv 127.0.0.1:{port}: connection timed out (ETIMEDOUT)"),
        )
        .stdout_is(b"");
    took_between(started, Duration::from_millis(950), Duration::from_secs(8));
    // Sent once: without --wait nothing is resent.
    assert_eq!(server.received.load(Ordering::Relaxed), 1);
}

#[test]
fn wait_resends_the_first_datagram_until_a_server_answers() {
    // The test takes the first datagram and answers none; then an echo
    // starts on the socket. sockc can only succeed by sending again.
    let (fd, bound, port) = udp_socket();
    let client = sockc()
        .args(["-u", "-v", "--wait", "30", LOCAL, &port, "hi"])
        .spawn();
    let mut buf = [0u8; 64];
    let first = recv_from(&fd, &mut buf, RecvFlags::empty());
    assert!(first.is_ok(), "no datagram came: {first:?}");
    let server = DatagramServer::serve(fd, bound, Reply::Faithful);
    // -v names the socket that got the answer, once, not every copy's.
    client
        .wait_exit()
        .success()
        .stdout_is(b"hi")
        .stderr_starts_with(&format!(
            "sockc: connected to 127.0.0.1:{port} from 127.0.0.1:"
        ))
        .stderr_lines(1);
    assert!(server.received.load(Ordering::Relaxed) >= 1);
}

/// A UDP port that refuses (ICMP port unreachable) until the test
/// disconnects its holder, which from then on takes every datagram. The
/// holder binds the port by number, so that dissolving its association
/// keeps the port (a port the kernel chose at `bind(0)` goes with a
/// disconnect); the number is one the kernel gave out a moment before:
/// another process taking it in between is a negligible race on a test
/// machine's loopback.
fn refusing_until_served() -> (OwnedFd, Endpoint) {
    let port = {
        let (_fd, bound, _) = udp_socket();
        bound
    };
    let (holder, bound) = bind_socket(&port).unwrap_or_else(|e| panic!("bind {port}: {e}"));
    let (_other, other, _) = udp_socket();
    let other = other.socket_addr().unwrap_or_else(|| panic!("{other}"));
    rustix::net::connect(&holder, &other).unwrap_or_else(|e| panic!("connect: {e}"));
    (holder, bound)
}

#[test]
fn wait_resends_through_refusals_until_the_port_is_served() {
    let (holder, bound) = refusing_until_served();
    let port = bound
        .socket_addr()
        .map_or(0, |addr| addr.port())
        .to_string();
    let client = sockc()
        .args(["-u", "-vv", "--wait", "30", LOCAL, &port, "later"])
        .spawn();
    client.wait_stderr("connection refused (ECONNREFUSED); sending again");
    rustix::net::connect_unspec(&holder).unwrap_or_else(|e| panic!("disconnect: {e}"));
    let _server = DatagramServer::serve(holder, bound, Reply::Faithful);
    client.wait_exit().success().stdout_is(b"later");
}

#[test]
fn wait_ends_with_the_last_failure_once_it_has_passed() {
    let (_holder, port) = udp_refusing();
    let started = Instant::now();
    sockc()
        .args(["-u", "--wait", "0.5", LOCAL, &port.to_string(), "hi"])
        .run()
        .fails_with(69, "(ECONNREFUSED)")
        .stderr_has(&format!(
            "hint: nothing listened on 127.0.0.1:{port} during the 0.5 s of --wait"
        ));
    took_between(started, Duration::from_millis(500), Duration::from_secs(8));
    let silent = DatagramServer::udp(Reply::Silent);
    let started = Instant::now();
    sockc()
        .args([
            "-u",
            "--wait",
            "0.5",
            "--timeout",
            "0.5",
            LOCAL,
            &silent.port(),
            "hi",
        ])
        .run()
        .fails_with(75, "(ETIMEDOUT)")
        .stderr_has("for 0.5 s (--timeout)");
    // Copies until the wait is nearly over; the last one waits --timeout.
    took_between(started, Duration::from_millis(500), Duration::from_secs(8));
    assert!(silent.received.load(Ordering::Relaxed) >= 2, "never resent");
}

#[test]
fn a_datagram_too_large_exits_71_with_emsgsize() {
    let server = DatagramServer::udp(Reply::Faithful);
    let port = server.port();
    let message = "x".repeat(70_000);
    sockc()
        .args(["-u", LOCAL, &port, &message])
        .run()
        .fails_with(
            71,
            &format!("sockc: send 127.0.0.1:{port}: message too long (EMSGSIZE)"),
        );
    // A line longer than any datagram is refused once it is known to be:
    // not read to its end (stdin stays open here, the line never ends).
    let mut client = sockc()
        .args(["-u", LOCAL, &port, "-"])
        .stdin(Stdio::piped())
        .spawn();
    let mut stdin = client.take_stdin();
    let line = vec![b'y'; 400_000];
    // sockc may exit (and close the pipe) before all of it is written.
    let _ = stdin.write_all(&line);
    client.wait_exit().fails_with(
        71,
        &format!("sockc: send 127.0.0.1:{port}: message too long (EMSGSIZE)"),
    );
    drop(stdin);
    assert_eq!(server.received.load(Ordering::Relaxed), 0);
}

#[test]
fn the_transcript_sends_each_typed_line_as_a_datagram() {
    let (fd, _bound, port) = udp_socket();
    let client = sockc()
        .args(["-u", LOCAL, &port])
        .stdin_bytes(b"hi\nline two\nq\n")
        .spawn();
    let mut buf = [0u8; 64];
    // Each line without its newline, as on a connection of its own; each
    // reply split into say lines by the stream rules.
    for (line, reply) in [
        (&b"hi"[..], &b"one\ntwo"[..]),
        (b"line two", b"\0\0padded\0\0"),
    ] {
        let got = recv_from(&fd, &mut buf, RecvFlags::empty()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(&buf[..got.len], line);
        let from = got.from.unwrap_or_else(|| panic!("no sender"));
        send_to(&fd, reply, &from).unwrap_or_else(|e| panic!("{e:?}"));
    }
    client.wait_exit().success().stdout_is(
        b"you say: hi\n127.0.0.1 say: one\n127.0.0.1 say: two\n\
          you say: line two\n127.0.0.1 say: padded\nyou say: q\n",
    );
    let silent = DatagramServer::udp(Reply::Silent);
    sockc()
        .args(["-u", "--timeout", "0.5", LOCAL, &silent.port()])
        .stdin_bytes(b"hello?\n")
        .run()
        .fails_with(75, "recv 127.0.0.1:")
        .stdout_is(b"you say: hello?\n");
}

#[test]
fn keep_means_nothing_over_udp() {
    sockc()
        .args(["-u", "--keep", LOCAL, "9"])
        .run()
        .fails_with(64, "--keep is for stream connections");
}

/// A UDP port the kernel gave out a moment ago and took back, for a server
/// that takes no port file (another process could take it in between: on
/// a test machine's loopback, a negligible race).
fn free_udp_port() -> String {
    let (_fd, _bound, port) = udp_socket();
    port
}

#[test]
fn sockc_talks_to_socat_udp_recvfrom() {
    if !skip::require_tool("socat") {
        return;
    }
    // socat takes no port file.
    let port = free_udp_port();
    let address = format!("UDP-RECVFROM:{port},bind={LOCAL},fork");
    let _socat = Cmd::new("socat").args([&address, "PIPE"]).spawn();
    // --wait is the readiness check: refused until socat has bound.
    sockc()
        .args(["-u", "--wait", "10", LOCAL, &port, "hello", "socat"])
        .run()
        .success()
        .stdout_is(b"hello socat");
    let lines = b"first\nsecond\nthird\n";
    sockc()
        .args(["-u", LOCAL, &port, "-"])
        .stdin_bytes(&lines[..])
        .run()
        .success()
        .stdout_is(lines);
}

#[test]
fn openbsd_nc_listening_on_udp_answers_sockc() {
    if !skip::require_tool("nc") {
        return;
    }
    // nc -ul latches onto the first sender, so sockc may send only once it
    // is bound: no --wait here (a resent copy comes from a new socket,
    // which nc would refuse), and nc's socket is looked for with sockstat.
    let port = free_udp_port();
    let nc = Cmd::new("nc")
        .args(["-u", "-l", LOCAL, &port])
        .stdin_bytes(b"pong\n")
        .spawn();
    let pid = nc.pid().to_string();
    let bound = eventually(DEADLINE, || {
        let rows = listing::table(&["--pid", &pid, "-4"]);
        rows.iter()
            .any(|row| row["LOCAL ADDRESS"] == format!("{LOCAL}:{port}"))
    });
    assert!(bound, "nc never bound {LOCAL}:{port}: {}", nc.stderr_text());
    // nc prints the datagram and answers with its stdin's line.
    sockc()
        .args(["-u", LOCAL, &port, "ping"])
        .run()
        .success()
        .stdout_is(b"pong\n");
    nc.wait_stdout("ping");
}
