//! Connecting: `sockc -z` (connect, send nothing, close) over TCP, unix
//! sockets and UDP; `--wait` for a server started later and `--timeout`
//! bounding each attempt against SYNs nobody answers; host names (every
//! address in the resolver's order, unknown → 68, a resolver failing for
//! now → 75) and the strictness of numeric input.

use crate::bench::{Echo, EchoServer};
use crate::bench_transports::{DatagramServer, Reply};
use crate::util::net::{LOCAL, bind_tcp, listener, recv_to_eof, refused_port, udp_refusing};
use crate::util::resolver::{self, DNS_ONLY, FILES_ONLY};
use crate::util::{Outcome, SOCKC, TempDir, sockc, took_between};
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
        .fails_with(75, "(ETIMEDOUT)")
        .stderr_has("hint: no answer to an empty datagram, which many UDP servers ignore");
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

#[test]
fn an_unknown_host_exits_68_without_hanging() {
    // The .invalid TLD never resolves (RFC 2606); bounded in case a
    // resolver is slow to say so. Not retried under --wait: a typo fails
    // at once.
    let host = "no-such-host.invalid";
    for args in [
        &["-z", host, "7"][..],
        &["-z", "--wait", "60", host, "7"],
        &["-u", host, "7", "hi"],
        &[host, "7", "hi"],
    ] {
        sockc()
            .args(args)
            .limit(Duration::from_secs(30))
            .run()
            .fails_with(
                68,
                &format!("sockc: resolve {host}: unknown host (EAI_NONAME)"),
            )
            .stderr_has(&format!(
                "hint: the resolver (/etc/hosts, then DNS) does not know {host}"
            ))
            .stdout_is(b"");
    }
}

/// `sockc ARGS` under a resolver of the test's making.
fn sockc_resolving(net: bool, hosts: &str, nsswitch: &str, args: &[&str]) -> Option<Outcome> {
    resolver::run(net, hosts, nsswitch, SOCKC, args)
}

#[test]
fn a_host_name_goes_through_the_system_resolver() {
    let server = EchoServer::start(Echo::Faithful);
    let port = server.port.to_string();
    let hosts = "127.0.0.1 sockkit-it-db\n";
    let Some(out) = sockc_resolving(
        false,
        hosts,
        FILES_ONLY,
        &["-v", "sockkit-it-db", &port, "hi"],
    ) else {
        return;
    };
    out.success().stdout_is(b"hi").stderr_has(&format!(
        "sockc: connected to 127.0.0.1:{port} from 127.0.0.1:"
    ));
    let udp = DatagramServer::udp(Reply::Faithful);
    let Some(out) = sockc_resolving(
        false,
        hosts,
        FILES_ONLY,
        &["-u", "sockkit-it-db", &udp.port(), "dgram"],
    ) else {
        return;
    };
    out.success().stdout_is(b"dgram");
    // Outside that namespace the name is unknown; localhost is the
    // literal rule (127.0.0.1) and needs no resolver.
    sockc()
        .args(["-z", "sockkit-it-db", &port])
        .limit(Duration::from_secs(30))
        .run()
        .fails_with(68, "(EAI_NONAME)");
    sockc()
        .args(["localhost", &port, "lo"])
        .run()
        .success()
        .stdout_is(b"lo");
}

/// The addresses `-vv` says the name resolved to, in the resolver's order.
fn resolved_order(out: &Outcome, name: &str) -> Vec<String> {
    let marker = format!("sockc: {name} resolved to [");
    let line = out
        .stderr
        .lines()
        .find_map(|line| line.strip_prefix(&marker))
        .unwrap_or_else(|| panic!("no {marker:?} line\n{out}"));
    let list = line.strip_suffix(']').unwrap_or(line);
    list.split(", ").map(str::to_string).collect()
}

#[test]
fn every_address_of_a_name_is_tried_in_the_resolvers_order() {
    // Two addresses for one name, the same port on each, bound but not
    // listening: both refuse.
    let (first, addr) = bind_tcp("127.0.0.2").unwrap_or_else(|e| panic!("{e}"));
    let port = addr.port().to_string();
    let other =
        Endpoint::parse_ip(Kind::Stream, "127.0.0.3", &port).unwrap_or_else(|e| panic!("{e}"));
    let (second, _) = bind_socket(&other).unwrap_or_else(|e| panic!("{e}"));
    let hosts = "127.0.0.2 sockkit-it-multi\n127.0.0.3 sockkit-it-multi\n";
    let run = |args: &[&str]| {
        let args = [args, &["sockkit-it-multi", &port]].concat();
        sockc_resolving(false, hosts, FILES_ONLY, &args)
    };
    let Some(out) = run(&["-vv", "-z"]) else {
        return;
    };
    assert_eq!(out.code, Some(69), "{out}");
    let order = resolved_order(&out, "sockkit-it-multi");
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [format!("127.0.0.2:{port}"), format!("127.0.0.3:{port}")]
    );
    let refused = |at: &str| {
        let needle = format!("connect {at}: connection refused (ECONNREFUSED)");
        out.stderr
            .find(&needle)
            .unwrap_or_else(|| panic!("{at} not tried\n{out}"))
    };
    assert!(
        refused(&order[0]) < refused(&order[1]),
        "not in the resolver's order\n{out}"
    );
    assert!(
        out.stderr
            .contains(&format!("sockc: connect {}: connection refused", order[1])),
        "the last address's error is the one reported\n{out}"
    );
    // Two addresses, so one "next address": none is promised after the last.
    assert_eq!(
        out.stderr.matches("trying the next address").count(),
        1,
        "{out}"
    );
    // The second in order listening: found after the first refuses.
    let (first_fd, second_fd) = if order[0].starts_with("127.0.0.2:") {
        (first, second)
    } else {
        (second, first)
    };
    rustix::net::listen(&second_fd, 8).unwrap_or_else(|e| panic!("listen: {e}"));
    let Some(out) = run(&["-v", "-z"]) else {
        return;
    };
    out.success()
        .stderr_has(&format!("sockc: connected to {} from", order[1]));
    // The first dropping SYNs: its attempt is cut at --timeout, and the
    // next address tried.
    drop(first_fd);
    let first_ip = order[0].split(':').next().unwrap_or_default();
    let (_dropping, _filler, dropping) = syn_dropping(first_ip, &port);
    assert_eq!(dropping.to_string(), order[0]);
    let started = Instant::now();
    let Some(out) = run(&["-v", "-z", "--timeout", "0.5"]) else {
        return;
    };
    out.success()
        .stderr_has(&format!("sockc: connected to {} from", order[1]));
    took_between(started, Duration::from_millis(450), Duration::from_secs(15));
}

#[test]
fn a_resolver_failing_for_now_exits_75_and_is_retried_under_wait() {
    let args = ["-z", "sockkit-it-db", "7"];
    let Some(out) = sockc_resolving(true, "", DNS_ONLY, &args) else {
        return;
    };
    out.fails_with(
        75,
        "sockc: resolve sockkit-it-db: temporary failure in name resolution (EAI_AGAIN)",
    )
    .stderr_has("hint: the resolver could not answer now");
    let started = Instant::now();
    let Some(out) = sockc_resolving(
        true,
        "",
        DNS_ONLY,
        &[&["-vv", "--wait", "1"][..], &args].concat(),
    ) else {
        return;
    };
    assert_eq!(out.code, Some(75), "{out}");
    assert!(
        out.stderr.contains("(EAI_AGAIN); retrying"),
        "not retried\n{out}"
    );
    took_between(started, Duration::from_secs(1), Duration::from_secs(20));
}
