//! The one endpoint type against real sockets: every transport bound and
//! connected through `bind_socket` / `connect_socket` / `connect_timeout`,
//! the addresses the kernel reports back, a unix peer's credentials,
//! datagrams cut short by a small buffer, and each error that names a unix
//! path or an abstract name (op, address, errno name, exit code).

use crate::util::{Cmd, DEADLINE, TempDir, skip};
use core::net::SocketAddr;
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{RecvFlags, SocketAddrUnix, SocketFlags};
use sockkit::endpoint::{Address, Endpoint, Kind, Transport, UnixAddr};
use sockkit::io::{poll_readable, recv_from, recv_some, send_all, send_to};
use sockkit::socket::{
    accept, bind_socket, connect_socket, connect_timeout, listen, local_addr, peer_credentials,
};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// An abstract name no other test (or run) holds.
fn unique_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("@sockkit-it-{}-{n}", std::process::id())
}

fn endpoint(kind: Kind, arg: &str) -> Endpoint {
    Endpoint::unix(kind, arg).unwrap_or_else(|e| panic!("{arg}: {e}"))
}

fn loopback(kind: Kind) -> Endpoint {
    Endpoint::new(kind, Address::Ip(SocketAddr::from(([127, 0, 0, 1], 0))))
}

#[track_caller]
fn bound(endpoint: &Endpoint) -> (OwnedFd, Endpoint) {
    bind_socket(endpoint).unwrap_or_else(|e| panic!("bind {endpoint}: {e}"))
}

#[track_caller]
fn connected(endpoint: &Endpoint) -> OwnedFd {
    let fd = connect_socket(endpoint).unwrap_or_else(|e| panic!("connect {endpoint}: {e}"));
    crate::util::net::set_timeouts(&fd, DEADLINE);
    fd
}

#[track_caller]
fn recv_datagram(fd: impl AsFd, buf: &mut [u8]) -> sockkit::io::Datagram {
    assert!(
        poll_readable(&fd, Some(DEADLINE)).unwrap_or(false),
        "no datagram within {DEADLINE:?}"
    );
    recv_from(&fd, buf, RecvFlags::empty()).unwrap_or_else(|e| panic!("recvfrom: {e:?}"))
}

/// Sends `payload` from a client connected to `bound` and has the server
/// side echo it: accepted for streams, answered with `sendto` to the
/// sender's address for datagrams. Returns what the client got back.
fn echo_through(server: &OwnedFd, bound: &Endpoint, payload: &[u8]) -> Vec<u8> {
    let client = connected(bound);
    send_all(&client, payload).unwrap_or_else(|e| panic!("send to {bound}: {e:?}"));
    let mut buf = vec![0u8; 4096];
    match bound.kind {
        Kind::Stream => {
            let (conn, _) = accept(server, SocketFlags::CLOEXEC).unwrap_or_else(|e| panic!("{e}"));
            crate::util::net::set_timeouts(&conn, DEADLINE);
            let got = crate::util::net::recv_exact(&conn, payload.len());
            send_all(&conn, &got).unwrap_or_else(|e| panic!("{e:?}"));
        }
        Kind::Datagram => {
            let datagram = recv_datagram(server, &mut buf);
            let from = datagram
                .from
                .unwrap_or_else(|| panic!("{bound}: a datagram with no sender"));
            // The client was given an address to be answered at.
            let sender = Address::from_any(&from).unwrap_or_else(|e| panic!("{e:?}"));
            assert_eq!(Ok(sender), local_addr(&client), "{bound}");
            let sent = send_to(server, &buf[..datagram.len], &from);
            assert_eq!(sent, Ok(payload.len()), "{bound}");
        }
    }
    crate::util::net::recv_exact(&client, payload.len())
}

#[test]
fn every_transport_binds_connects_and_carries_bytes_through_one_endpoint_type() {
    let dir = TempDir::new();
    let stream_path = dir.join("s.sock").to_string_lossy().into_owned();
    let dgram_path = dir.join("d.sock").to_string_lossy().into_owned();
    let cases = [
        loopback(Kind::Stream),
        loopback(Kind::Datagram),
        endpoint(Kind::Stream, &stream_path),
        endpoint(Kind::Stream, &unique_name()),
        endpoint(Kind::Datagram, &dgram_path),
        endpoint(Kind::Datagram, &unique_name()),
    ];
    for asked in cases {
        let (server, got) = bound(&asked);
        match (&asked.address, &got.address) {
            (Address::Ip(want), Address::Ip(ip)) => {
                assert_eq!(ip.ip(), want.ip());
                assert_ne!(ip.port(), 0, "the kernel's port, not 0");
            }
            (Address::Unix(_), Address::Unix(_)) => assert_eq!(got, asked),
            _ => panic!("{asked} bound as {got}"),
        }
        assert_eq!(got.kind, asked.kind);
        // SO_REUSEADDR on UDP would let a second server share the port.
        let reuse = rustix::net::sockopt::socket_reuseaddr(&server);
        assert_eq!(reuse, Ok(got.transport() == Transport::Tcp), "{asked}");
        if asked.kind == Kind::Stream {
            listen(&server, &got, 16).unwrap_or_else(|e| panic!("{e}"));
        }
        let payload = format!("hello over {}\0\n", got.transport().name());
        let echoed = echo_through(&server, &got, payload.as_bytes());
        assert_eq!(echoed, payload.as_bytes(), "{}", got.transport().name());
    }
}

#[test]
fn local_addr_names_ip_paths_abstract_names_autobound_and_unnamed_sockets() {
    let dir = TempDir::new();
    let path = dir.join("named.sock").to_string_lossy().into_owned();
    let (_fd, got) = bound(&endpoint(Kind::Stream, &path));
    assert_eq!(got.to_string(), path);
    let name = unique_name();
    let (_fd, got) = bound(&endpoint(Kind::Datagram, &name));
    assert_eq!(got.to_string(), name);
    // Never bound: no name at all.
    let never =
        sockkit::init_socket(&endpoint(Kind::Datagram, &name)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(local_addr(&never), Ok(Address::Unix(UnixAddr::unnamed())));
    // Bound unnamed: the kernel picks an abstract name (five hex digits).
    let (_fd, auto) = bound(&Endpoint::new(
        Kind::Datagram,
        Address::Unix(UnixAddr::unnamed()),
    ));
    let picked = auto
        .address
        .unix()
        .and_then(UnixAddr::as_abstract_name)
        .unwrap_or_else(|| panic!("autobind gave {auto}"));
    assert_eq!(picked.len(), 5, "{auto}");
    assert!(picked.iter().all(u8::is_ascii_hexdigit), "{auto}");
    let (_fd, ip) = bound(&loopback(Kind::Stream));
    assert!(
        matches!(ip.address, Address::Ip(addr) if addr.port() != 0),
        "{ip}"
    );
}

#[test]
fn a_peer_that_fills_all_of_sun_path_is_named_not_a_panic() {
    // 108 bytes and no NUL: Linux binds it, and reports it back longer
    // than a sockaddr_un.
    let dir = TempDir::new();
    let prefix = dir.join("p").to_string_lossy().into_owned();
    let path = prefix.clone() + &"x".repeat(108 - prefix.len());
    assert_eq!(path.len(), 108);
    let raw = SocketAddrUnix::new(path.as_str()).unwrap_or_else(|e| panic!("{e}"));
    let fd = sockkit::init_socket(&endpoint(Kind::Stream, "@x")).unwrap_or_else(|e| panic!("{e}"));
    if let Err(errno) = rustix::net::bind(&fd, &raw) {
        skip::because(format!("this kernel refuses a 108-byte path: {errno}"));
        return;
    }
    let shown = local_addr(&fd).map(|addr| addr.to_string());
    assert!(
        shown == Ok("(a 108-byte path)".to_string()) || shown == Ok(path.clone()),
        "{shown:?}"
    );
    // Our own constructors never make one.
    assert!(UnixAddr::parse(&path).is_err());
}

#[test]
fn a_unix_peer_is_known_by_its_pid_from_so_peercred() {
    if !skip::require_tool("nc") {
        return;
    }
    let dir = TempDir::new();
    let path = dir.join("pid.sock").to_string_lossy().into_owned();
    let (listener, got) = bound(&endpoint(Kind::Stream, &path));
    listen(&listener, &got, 4).unwrap_or_else(|e| panic!("{e}"));
    // stdin left open, so nc stays connected until it is killed.
    let nc = Cmd::new("nc")
        .args(["-U", &path])
        .stdin(Stdio::piped())
        .spawn();
    assert!(
        poll_readable(&listener, Some(DEADLINE)).unwrap_or(false),
        "nc did not connect: {}",
        nc.stderr_text()
    );
    let (conn, peer) = accept(&listener, SocketFlags::CLOEXEC).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(peer, None, "a unix peer has no IP address");
    let creds = peer_credentials(&conn).unwrap_or_else(|e| panic!("SO_PEERCRED: {e}"));
    assert_eq!(creds.pid.as_raw_nonzero().get() as u32, nc.pid());
}

#[test]
fn a_datagram_cut_short_by_a_small_buffer_says_so() {
    let dir = TempDir::new();
    let path = dir.join("trunc.sock").to_string_lossy().into_owned();
    for asked in [loopback(Kind::Datagram), endpoint(Kind::Datagram, &path)] {
        let (server, got) = bound(&asked);
        let client = connected(&got);
        let payload = crate::util::random_bytes(1400, 7);
        send_all(&client, &payload).unwrap_or_else(|e| panic!("{e:?}"));
        let mut small = [0u8; 100];
        let datagram = recv_datagram(&server, &mut small);
        assert_eq!((datagram.len, datagram.full_len), (100, 1400), "{got}");
        assert!(datagram.truncated());
        assert_eq!(&small[..], &payload[..100]);
        // A buffer that fits is not truncated.
        send_all(&client, &payload).unwrap_or_else(|e| panic!("{e:?}"));
        let mut room = [0u8; 2000];
        let datagram = recv_datagram(&server, &mut room);
        assert!(!datagram.truncated(), "{got}");
        assert_eq!(&room[..datagram.len], &payload[..]);
    }
}

#[test]
fn a_unix_connect_waits_for_backlog_room_within_its_timeout() {
    let dir = TempDir::new();
    let path = dir.join("full.sock").to_string_lossy().into_owned();
    let (listener, got) = bound(&endpoint(Kind::Stream, &path));
    listen(&listener, &got, 0).unwrap_or_else(|e| panic!("{e}"));
    // Nothing accepts: the backlog fills, then a connect waits for room.
    let mut held = Vec::new();
    let limit = Duration::from_millis(300);
    let err = loop {
        let started = Instant::now();
        match connect_timeout(&got, limit) {
            Ok(fd) => held.push(fd),
            Err(err) => break (err, started.elapsed()),
        }
        assert!(
            held.len() < 64,
            "a backlog of 0 took {} connections",
            held.len()
        );
    };
    let (err, took) = err;
    assert_eq!(
        err.to_string(),
        format!("connect {path}: connection timed out (ETIMEDOUT)")
    );
    assert_eq!(err.exit().code(), 75);
    assert!(took >= limit && took < Duration::from_secs(10), "{took:?}");
    // What connected is non-blocking, as for TCP.
    let mut buf = [0u8; 8];
    let first = held.first().unwrap_or_else(|| panic!("nothing connected"));
    assert_eq!(recv_some(first, &mut buf), Err(Errno::AGAIN));
}

/// The error, its message and its exit code.
#[track_caller]
fn fails(result: sockkit::Result<impl Sized>, message: &str, code: u8) -> sockkit::Error {
    let Err(err) = result else {
        panic!("expected {message}: it succeeded");
    };
    assert_eq!(err.to_string(), message);
    assert_eq!(err.exit().code(), code, "{message}");
    err
}

#[test]
fn unix_errors_name_the_path_or_the_abstract_name() {
    let dir = TempDir::new();
    let path = dir.join("x.sock").to_string_lossy().into_owned();
    let stream = endpoint(Kind::Stream, &path);
    let missing = dir.join("none.sock").to_string_lossy().into_owned();
    fails(
        connect_socket(&endpoint(Kind::Stream, &missing)),
        &format!("connect {missing}: no such file or directory (ENOENT)"),
        69,
    );
    // Bound, never listening: the file is there and nobody answers.
    let (held, _) = bound(&stream);
    fails(
        bind_socket(&stream),
        &format!("bind {path}: address already in use (EADDRINUSE)"),
        75,
    );
    fails(
        connect_socket(&stream),
        &format!("connect {path}: connection refused (ECONNREFUSED)"),
        69,
    );
    // A server that ended and left its file: still refused.
    drop(held);
    fails(
        connect_timeout(&stream, Duration::from_secs(5)),
        &format!("connect {path}: connection refused (ECONNREFUSED)"),
        69,
    );
    let name = unique_name();
    fails(
        connect_socket(&endpoint(Kind::Stream, &name)),
        &format!("connect {name}: connection refused (ECONNREFUSED)"),
        69,
    );
    let (_live, _) = bound(&endpoint(Kind::Datagram, &name));
    fails(
        bind_socket(&endpoint(Kind::Datagram, &name)),
        &format!("bind {name}: address already in use (EADDRINUSE)"),
        75,
    );
    let in_nowhere = dir.join("no/such/dir.sock").to_string_lossy().into_owned();
    fails(
        bind_socket(&endpoint(Kind::Stream, &in_nowhere)),
        &format!("bind {in_nowhere}: no such file or directory (ENOENT)"),
        71,
    );
    let long = "/tmp/".to_string() + &"a".repeat(103);
    let err = fails(
        Endpoint::unix(Kind::Stream, &long),
        &format!("unix socket path {long:?} is 108 bytes; at most 107 fit in sun_path"),
        64,
    );
    assert!(matches!(err, sockkit::Error::Usage(_)));
}

#[test]
fn udp_to_a_port_held_by_nobody_it_answers_is_refused() {
    // ICMP port unreachable comes back; our connected socket sees it as
    // ECONNREFUSED.
    let (_holder, port) = crate::util::net::udp_refusing();
    let held = crate::util::net::loopback_of(Kind::Datagram, port);
    let client = connected(&held);
    send_all(&client, b"anyone?").unwrap_or_else(|e| panic!("{e:?}"));
    let mut buf = [0u8; 64];
    assert!(poll_readable(&client, Some(DEADLINE)).unwrap_or(false));
    let errno = recv_some(&client, &mut buf).err();
    assert_eq!(errno, Some(Errno::CONNREFUSED));
    let err = sockkit::Error::at("recv", &held, Errno::CONNREFUSED);
    assert_eq!(err.exit().code(), 69);
}
