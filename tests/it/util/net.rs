//! Test-side sockets on 127.0.0.1, through sockkit and rustix (no
//! `std::net`): blocking clients with deadlines, echo round trips with
//! sending and receiving overlapped, listeners the test plays server on,
//! and a port that refuses connections.

use super::DEADLINE;
use core::net::SocketAddr;
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::sockopt::{self, Timeout};
use rustix::net::{Shutdown, SocketFlags, shutdown};
use sockkit::Endpoint;
use sockkit::endpoint::{Address, Kind};
use std::thread;
use std::time::Duration;

pub const LOCAL: &str = "127.0.0.1";

/// The longest any single send or recv of a test socket may block.
pub const STEP: Duration = Duration::from_secs(20);

/// A blocking connection to `127.0.0.1:port` whose every send and recv
/// gives up after [`STEP`] instead of hanging the test.
#[track_caller]
pub fn connect(port: u16) -> OwnedFd {
    let fd = sockkit::connect_socket(&loopback(port))
        .unwrap_or_else(|e| panic!("connect {LOCAL}:{port}: {e}"));
    set_timeouts(&fd, STEP);
    fd
}

/// [`connect`] to a sockd that resets connections as it accepts them: the
/// reset can reach the socket before `connect` has returned (the handshake
/// done, the connecting thread not yet run), and then `connect` itself
/// fails with `ECONNRESET`. `None` then.
#[track_caller]
pub fn connect_unless_reset(port: u16) -> Option<OwnedFd> {
    match sockkit::connect_socket(&loopback(port)) {
        Ok(fd) => {
            set_timeouts(&fd, STEP);
            Some(fd)
        }
        Err(e) if e.errno() == Some(Errno::CONNRESET) => None,
        Err(e) => panic!("connect {LOCAL}:{port}: {e}"),
    }
}

/// TCP to or on `127.0.0.1:port`.
pub fn loopback(port: u16) -> Endpoint {
    loopback_of(Kind::Stream, port)
}

/// TCP (stream) or UDP (datagram) to or on `127.0.0.1:port`.
pub fn loopback_of(kind: Kind, port: u16) -> Endpoint {
    Endpoint::new(kind, Address::Ip(SocketAddr::from(([127, 0, 0, 1], port))))
}

/// A UDP port that answers every datagram with ICMP port unreachable
/// (`ECONNREFUSED` on a connected socket), held while the socket lives:
/// the only socket on it is connected to another port, so the kernel
/// delivers it nothing from anyone else.
pub fn udp_refusing() -> (OwnedFd, u16) {
    let bind = |port| {
        sockkit::bind_socket(&loopback_of(Kind::Datagram, port)).unwrap_or_else(|e| panic!("{e}"))
    };
    let (holder, held) = bind(0);
    let (_other, other) = bind(0);
    let other = other.socket_addr().unwrap_or_else(|| panic!("{other}"));
    rustix::net::connect(&holder, &other).unwrap_or_else(|e| panic!("connect: {e}"));
    (holder, held.socket_addr().map_or(0, |addr| addr.port()))
}

/// A TCP socket bound to `ip` (a literal) on a port the kernel chose, and
/// the address it got.
pub fn bind_tcp(ip: &str) -> sockkit::Result<(OwnedFd, SocketAddr)> {
    let endpoint = Endpoint::parse_ip(sockkit::endpoint::Kind::Stream, ip, "0")?;
    let (fd, bound) = sockkit::bind_socket(&endpoint)?;
    let addr = bound
        .socket_addr()
        .unwrap_or_else(|| panic!("TCP bound to {bound}"));
    Ok((fd, addr))
}

/// The port an IP socket is bound to (or fails the test).
#[track_caller]
pub fn local_port(fd: impl AsFd) -> u16 {
    match sockkit::socket::local_addr(fd) {
        Ok(sockkit::endpoint::Address::Ip(addr)) => addr.port(),
        other => panic!("getsockname: {other:?}"),
    }
}

/// Bounds every later send and recv on `fd` by `limit`.
pub fn set_timeouts(fd: impl AsFd, limit: Duration) {
    recv_timeout(&fd, limit);
    send_timeout(&fd, limit);
}

/// Bounds every later `recv` on `fd`: a hang becomes `EAGAIN` after `limit`.
#[track_caller]
pub fn recv_timeout(fd: impl AsFd, limit: Duration) {
    sockopt::set_socket_timeout(&fd, Timeout::Recv, Some(limit))
        .unwrap_or_else(|e| panic!("SO_RCVTIMEO: {e}"));
}

/// Bounds every later `send` on `fd`.
#[track_caller]
pub fn send_timeout(fd: impl AsFd, limit: Duration) {
    sockopt::set_socket_timeout(&fd, Timeout::Send, Some(limit))
        .unwrap_or_else(|e| panic!("SO_SNDTIMEO: {e}"));
}

/// Sends all of `bytes` (or fails the test).
#[track_caller]
pub fn send_all(fd: impl AsFd, bytes: &[u8]) {
    sockkit::io::send_all(fd, bytes)
        .unwrap_or_else(|e| panic!("send of {} bytes: {e:?}", bytes.len()));
}

/// Reads until EOF, an error, or `limit` bytes: what came, and the error.
pub fn recv_upto(fd: impl AsFd, limit: usize) -> (Vec<u8>, Option<Errno>) {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    while got.len() < limit {
        match sockkit::io::recv_some(fd.as_fd(), &mut buf) {
            Ok(0) => return (got, None),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(errno) => return (got, Some(errno)),
        }
    }
    (got, None)
}

/// Reads until the peer closes; fails the test on an error (a timeout
/// included).
#[track_caller]
pub fn recv_to_eof(fd: impl AsFd) -> Vec<u8> {
    match recv_upto(fd, usize::MAX) {
        (got, None) => got,
        (got, Some(e)) => panic!("recv after {} bytes: {e:?}", got.len()),
    }
}

/// Reads exactly `len` bytes (or fails the test: EOF, error, timeout).
#[track_caller]
pub fn recv_exact(fd: impl AsFd, len: usize) -> Vec<u8> {
    let mut got = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        match sockkit::io::recv_some(fd.as_fd(), &mut got[filled..]) {
            Ok(0) => panic!("EOF after {filled} of {len} bytes"),
            Ok(n) => filled += n,
            Err(e) => panic!("recv after {filled} of {len} bytes: {e:?}"),
        }
    }
    got
}

/// Sends `payload` on `fd` (from a second thread, so the echo coming back
/// is read meanwhile and nobody deadlocks on full buffers), shuts the write
/// side, and returns everything read until the server closes.
#[track_caller]
pub fn exchange(fd: &OwnedFd, payload: &[u8]) -> Vec<u8> {
    set_timeouts(fd, DEADLINE);
    thread::scope(|scope| {
        let sender = scope.spawn(|| {
            sockkit::io::send_all(fd, payload)?;
            shutdown(fd, Shutdown::Write)
        });
        let got = recv_to_eof(fd);
        match sender.join() {
            Ok(Ok(())) => got,
            Ok(Err(e)) => panic!("send: {e:?}"),
            Err(_) => panic!("sender panicked"),
        }
    })
}

/// Connects to `127.0.0.1:port`, sends `payload`, returns the reply up to
/// EOF.
#[track_caller]
pub fn round_trip(port: u16, payload: &[u8]) -> Vec<u8> {
    exchange(&connect(port), payload)
}

/// Whether `recv` on `fd` gets nothing for `limit` (a lower bound: "no
/// echo arrives within a second"); sets the receive timeout to `limit`.
pub fn stays_silent(fd: impl AsFd, limit: Duration) -> bool {
    recv_timeout(&fd, limit);
    let mut buf = [0u8; 64];
    matches!(
        sockkit::io::recv_some(fd.as_fd(), &mut buf),
        Err(Errno::AGAIN)
    )
}

/// A port with nothing listening: a socket kept bound (not listening) on
/// port 0, so nothing else can take the port while the test uses it.
pub fn refused_port() -> (OwnedFd, u16) {
    let (fd, addr) = bind_tcp(LOCAL).unwrap_or_else(|e| panic!("{e}"));
    (fd, addr.port())
}

/// A socket listening on `127.0.0.1:<kernel's port>`: the kernel completes
/// handshakes into its backlog whether or not anyone accepts.
pub fn listener() -> (OwnedFd, u16) {
    let (fd, addr) = bind_tcp(LOCAL).unwrap_or_else(|e| panic!("{e}"));
    rustix::net::listen(&fd, 128).unwrap_or_else(|e| panic!("listen: {e}"));
    (fd, addr.port())
}

/// `accept` with [`STEP`] timeouts on the accepted socket.
#[track_caller]
pub fn accept(listener: impl AsFd) -> OwnedFd {
    // CLOEXEC: a server another test spawns meanwhile must not inherit it.
    let fd = rustix::net::accept_with(&listener, SocketFlags::CLOEXEC)
        .unwrap_or_else(|e| panic!("accept: {e}"));
    set_timeouts(&fd, STEP);
    fd
}

/// Closes with `SO_LINGER` 0: the peer gets a RST, not a FIN.
pub fn reset(fd: OwnedFd) {
    let _ = sockopt::set_socket_linger(&fd, Some(Duration::ZERO));
    drop(fd);
}

/// A stream connection to the unix socket `path` (or `@name`), every send
/// and recv bounded by [`STEP`].
#[track_caller]
pub fn connect_unix(path: &str) -> OwnedFd {
    let endpoint = Endpoint::unix(Kind::Stream, path).unwrap_or_else(|e| panic!("{e}"));
    let fd = sockkit::connect_socket(&endpoint).unwrap_or_else(|e| panic!("connect {path}: {e}"));
    set_timeouts(&fd, STEP);
    fd
}

/// A datagram socket connected to `to` (UDP, or unix datagrams: then
/// autobound, so that replies have an address to reach), every send and
/// recv bounded by `limit`.
#[track_caller]
pub fn datagram_client(to: &Endpoint, limit: Duration) -> OwnedFd {
    let fd = sockkit::connect_socket(to).unwrap_or_else(|e| panic!("connect {to}: {e}"));
    set_timeouts(&fd, limit);
    fd
}

/// Sends `bytes` as one datagram on a connected socket (or fails the test).
#[track_caller]
pub fn send_datagram(fd: impl AsFd, bytes: &[u8]) {
    match sockkit::io::send_some(fd, bytes) {
        Ok(sent) if sent == bytes.len() => {}
        other => panic!("send of a {}-byte datagram: {other:?}", bytes.len()),
    }
}

/// The next datagram on `fd`, checked to be whole (`MSG_TRUNC`: its true
/// length fits the 1 MiB buffer); `None` when the receive timeout ran out.
#[track_caller]
pub fn recv_datagram(fd: impl AsFd) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 1 << 20];
    match sockkit::io::recv_with(fd, &mut buf, rustix::net::RecvFlags::TRUNC) {
        Ok((len, full)) if len == full => {
            buf.truncate(len);
            Some(buf)
        }
        Ok((len, full)) => panic!("a datagram of {full} bytes, {len} read"),
        Err(Errno::AGAIN) => None,
        Err(e) => panic!("recv: {e:?}"),
    }
}
