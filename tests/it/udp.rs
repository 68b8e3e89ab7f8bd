//! `sockd -u`: a UDP echo. Every datagram back to its own sender, whole;
//! a transcript line per message of each; `--exit-after` counting
//! datagrams; senders that vanish never stop it; the flags that mean
//! nothing without connections are usage errors.

use crate::util::net::{LOCAL, datagram_client, loopback_of, recv_datagram, send_datagram};
use crate::util::{Cmd, DEADLINE, Process, eventually, random_bytes, skip, sockd};
use rustix::fd::OwnedFd;
use sockkit::endpoint::{Endpoint, Kind};
use std::collections::HashSet;
use std::time::Duration;

/// The sizes every sender sends: empty, one byte, an Ethernet frame's worth,
/// a jumbo frame's, and the largest IPv4 allows.
const SIZES: [usize; 5] = [0, 1, 1400, 9000, 65_507];

fn udp_server(args: &[&str]) -> (Process, Endpoint) {
    let server = sockd().arg("-u").args(args).args([LOCAL, "0"]).serve();
    let at = loopback_of(Kind::Datagram, server.port());
    (server, at)
}

/// Sends `payload` until its echo comes back (UDP may lose a datagram in a
/// burst: a full receive queue drops it), failing the test if anything
/// else arrives: an echo this sender never sent is another's, or is cut.
#[track_caller]
fn echo_of(fd: &OwnedFd, payload: &[u8], sent: &HashSet<Vec<u8>>, who: usize) {
    for _ in 0..10 {
        send_datagram(fd, payload);
        while let Some(echo) = recv_datagram(fd) {
            assert!(
                sent.contains(&echo),
                "sender {who} got a datagram of {} bytes it never sent",
                echo.len()
            );
            if echo == payload {
                return;
            }
        }
    }
    panic!(
        "sender {who}: no echo of its {}-byte datagram in 10 tries",
        payload.len()
    );
}

#[test]
fn every_datagram_comes_back_whole_to_its_own_sender() {
    let (server, at) = udp_server(&["-q", "--threads", "2"]);
    std::thread::scope(|scope| {
        for who in 0..20 {
            let at = at.clone();
            scope.spawn(move || {
                let fd = datagram_client(&at, Duration::from_secs(2));
                let mut sent = HashSet::new();
                for size in SIZES {
                    // NULs included; no two senders' datagrams alike.
                    let payload = random_bytes(size, (who as u64) << 32 | size as u64);
                    sent.insert(payload.clone());
                    echo_of(&fd, &payload, &sent, who);
                }
            });
        }
    });
    server.signal(rustix::process::Signal::TERM);
    let out = server.wait_exit();
    out.success();
    let (datagrams, bytes) = out.summary();
    let least: usize = SIZES.iter().sum::<usize>() * 20;
    assert!(datagrams >= 100 && bytes >= least as u64, "{out}");
}

#[test]
fn ipv6_carries_its_largest_datagram_whole() {
    let bindable = crate::util::net::bind_tcp("::1").is_ok();
    if !skip::require(bindable, "::1 cannot be bound here (no IPv6 loopback)") {
        return;
    }
    let server = sockd().args(["-q", "-u", "::1", "0"]).serve();
    let at = Endpoint::parse_ip(Kind::Datagram, "::1", &server.port_arg())
        .unwrap_or_else(|e| panic!("{e}"));
    let fd = datagram_client(&at, Duration::from_secs(5));
    let largest = random_bytes(65_527, 0x1f6);
    echo_of(&fd, &largest, &HashSet::from([largest.clone()]), 0);
}

#[test]
fn the_transcript_splits_each_datagram_into_messages() {
    let (server, at) = udp_server(&[]);
    let fd = datagram_client(&at, DEADLINE);
    let datagrams: [&[u8]; 6] = [
        b"hello",
        b"",
        b"two\nlines\n",
        b"\0\0\0",
        b"crlf\r\n",
        b"\x1b[2J",
    ];
    for datagram in datagrams {
        send_datagram(&fd, datagram);
        assert_eq!(recv_datagram(&fd).as_deref(), Some(datagram));
    }
    // An empty datagram, and one of padding alone, are one empty message.
    let expected = "127.0.0.1 say: hello\n127.0.0.1 say: \n127.0.0.1 say: two\n\
                    127.0.0.1 say: lines\n127.0.0.1 say: \n127.0.0.1 say: crlf\n\
                    127.0.0.1 say: \\x1b[2J\n";
    server.wait_stdout(expected);
    server.signal(rustix::process::Signal::TERM);
    let out = server.wait_exit();
    out.success().stdout_is(expected.as_bytes());
    assert_eq!(out.summary(), (6, 28), "{out}");
    out.stderr_has("sockd: stopped: 6 datagrams, 28 bytes received\n");
}

#[test]
fn exit_after_counts_datagrams() {
    let (server, at) = udp_server(&["-q", "--exit-after", "3"]);
    let fd = datagram_client(&at, DEADLINE);
    for datagram in [&b"one"[..], b"", b"three"] {
        send_datagram(&fd, datagram);
        assert_eq!(recv_datagram(&fd).as_deref(), Some(datagram));
    }
    let out = server.wait_exit();
    out.success();
    assert_eq!(out.summary(), (3, 8), "{out}");
}

#[test]
fn senders_that_vanish_before_their_echo_never_stop_it() {
    let (server, at) = udp_server(&["-q", "--threads", "1"]);
    let steady = datagram_client(&at, DEADLINE);
    for round in 0..20 {
        // Gone before its echo can arrive: the echo draws an ICMP port
        // unreachable, which must not end the server.
        let gone = datagram_client(&at, DEADLINE);
        send_datagram(&gone, &random_bytes(9000, round));
        drop(gone);
        let ping = format!("ping {round}");
        send_datagram(&steady, ping.as_bytes());
        assert_eq!(
            recv_datagram(&steady),
            Some(ping.into_bytes()),
            "round {round}"
        );
    }
    server.signal(rustix::process::Signal::TERM);
    let out = server.wait_exit();
    out.success();
    assert_eq!(out.summary().0, 40, "{out}");
}

#[test]
fn flags_that_need_connections_are_usage_errors_with_u() {
    for (flag, value) in [
        ("--max-conns", Some("2")),
        ("--idle-timeout", Some("1")),
        ("--chat", None),
        ("--backlog", Some("8")),
    ] {
        let mut args = vec!["-u", flag];
        args.extend(value);
        args.extend([LOCAL, "0"]);
        sockd().args(&args).run().fails_with(
            64,
            &format!("sockd: --udp cannot be used with {flag} (try --help)"),
        );
    }
}

#[test]
fn a_udp_port_in_use_is_eaddrinuse_75() {
    let (_held, bound) =
        sockkit::bind_socket(&loopback_of(Kind::Datagram, 0)).unwrap_or_else(|e| panic!("{e}"));
    let port = bound
        .socket_addr()
        .map_or(0, |addr| addr.port())
        .to_string();
    sockd()
        .args(["-u", LOCAL, &port])
        .run()
        .fails_with(
            75,
            &format!("sockd: bind 127.0.0.1:{port}: address already in use (EADDRINUSE)"),
        )
        .stderr_has("hint: another socket holds");
}

#[test]
fn nc_and_socat_talk_to_sockd_over_udp() {
    let (server, _) = udp_server(&[]);
    let port = server.port_arg();
    // UDP has no end: each waits its whole -t / -w after stdin's EOF, so
    // that is what a loaded machine has to answer in.
    if skip::require_tool("socat") {
        Cmd::new("socat")
            .args(["-t", "3", "-", &format!("UDP:{LOCAL}:{port}")])
            .stdin_bytes(b"via socat\n")
            .run()
            .success()
            .stdout_is(b"via socat\n");
    }
    if skip::require_openbsd_nc() {
        // One datagram per read of stdin; -w: how long to wait for replies.
        Cmd::new("nc")
            .args(["-u", "-w", "3", LOCAL, &port])
            .stdin_bytes(b"via nc\n")
            .run()
            .success()
            .stdout_is(b"via nc\n");
        server.wait_stdout("127.0.0.1 say: via nc\n");
    }
    server.wait_stdout("127.0.0.1 say: via socat\n");
}

/// The threads of process `pid`, from `/proc/PID/task`.
fn thread_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/task: {e}"))
        .count()
}

#[test]
fn one_datagram_worker_unless_threads_says_more() {
    // Workers take turns at one receive queue: more cost CPU (see serve).
    let (default, at) = udp_server(&["-v"]);
    let (three, _) = udp_server(&["-v", "--threads", "3"]);
    default.wait_stderr("sockd: 1 datagram worker\n");
    three.wait_stderr("sockd: 3 datagram workers\n");
    // Its one worker answers, so it is up: the count is the whole.
    let fd = datagram_client(&at, DEADLINE);
    send_datagram(&fd, b"up?");
    assert_eq!(recv_datagram(&fd).as_deref(), Some(&b"up?"[..]));
    let one = thread_count(default.pid());
    // The workers start after the port file is written: wait for them.
    let mut last = 0;
    let seen = eventually(DEADLINE, || {
        last = thread_count(three.pid());
        last == one + 2
    });
    assert!(
        seen,
        "{last} threads with --threads 3, {one} without: not two more"
    );
}
