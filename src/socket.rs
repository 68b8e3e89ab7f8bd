//! The lesson's `utils.h`, on rustix raw fds, with every syscall checked,
//! for every transport: one [`Endpoint`] (TCP, UDP, unix stream, unix
//! datagram) goes in, so no program branches on the transport to make a
//! socket.
//!
//! Ordered as the calls are used: socket, bind, listen, accept, connect,
//! then the options and queries around them.

use crate::endpoint::{Address, Endpoint, Kind, Transport, UnixAddr};
use crate::error::{Error, Result, Target};
use crate::io::{self, Connecting};
use core::net::SocketAddr;
use core::time::Duration;
use rustix::event::{PollFd, PollFlags};
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{SocketAddrUnix, SocketFlags, UCred, socket_with, sockopt};

/// `socket(family, type | SOCK_CLOEXEC, protocol)` for `endpoint`: the
/// family its address implies (`AF_INET`, `AF_INET6`, `AF_UNIX`), the type
/// its kind names (`SOCK_STREAM`, `SOCK_DGRAM`), and `IPPROTO_TCP` or
/// `IPPROTO_UDP` for IP: `init_socket` from `utils.h`.
///
/// # Errors
/// `EMFILE`, `ENFILE`, `ENOBUFS`, `EAFNOSUPPORT` (no IPv6 in this kernel)
/// from `socket`, as [`Error::Os`] naming the endpoint.
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/socket.2.html)
pub fn init_socket(endpoint: &Endpoint) -> Result<OwnedFd> {
    socket_for(endpoint, SocketFlags::CLOEXEC)
}

/// [`init_socket`] with the caller's `flags` (`SOCK_NONBLOCK`, and
/// `SOCK_CLOEXEC` if wanted).
///
/// # Errors
/// As [`init_socket`].
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/socket.2.html)
pub fn socket_for(endpoint: &Endpoint, flags: SocketFlags) -> Result<OwnedFd> {
    socket_with(
        endpoint.address.family(),
        endpoint.kind.socket_type(),
        flags,
        endpoint.protocol(),
    )
    .map_err(|errno| Error::at("socket", endpoint, errno))
}

/// [`init_socket`] + `setsockopt(SO_REUSEADDR)` for TCP + `bind(2)`:
/// `bind_socket` from `utils.h`. Returns the socket and the endpoint
/// actually bound (`getsockname`): the kernel's port for port 0, the
/// kernel's abstract name for an unnamed unix address (autobind).
///
/// `SO_REUSEADDR` is for TCP alone: there it lets a restarted server bind
/// while its old connections sit in `TIME_WAIT`; on UDP it would let a
/// second server share the port and silently split the datagrams (the
/// trouble `SO_REUSEPORT` has), and a unix socket has no use for it.
///
/// # Errors
/// `EADDRINUSE` (another socket holds the address, or a file exists at a
/// unix path; exit 75), `EACCES` (a port below `ip_unprivileged_port_start`
/// without the capability, or a directory we may not write; exit 77),
/// `EADDRNOTAVAIL` (the IP is not this host's), `ENOENT` (a unix path's
/// directory is missing).
///
/// # References
///  - [Linux bind](https://man7.org/linux/man-pages/man2/bind.2.html)
///  - [Linux socket(7)](https://man7.org/linux/man-pages/man7/socket.7.html)
///  - [Linux unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html)
pub fn bind_socket(endpoint: &Endpoint) -> Result<(OwnedFd, Endpoint)> {
    let fd = init_socket(endpoint)?;
    if endpoint.transport() == Transport::Tcp {
        sockopt::set_socket_reuseaddr(&fd, true)
            .map_err(|errno| Error::at("setsockopt", endpoint, errno))?;
    }
    let fail = |errno| Error::at("bind", endpoint, errno);
    let addr = endpoint.address.to_any().map_err(fail)?;
    rustix::net::bind(&fd, &addr).map_err(fail)?;
    let bound = local_addr(&fd).map_or_else(|_| endpoint.clone(), |local| endpoint.at(local));
    Ok((fd, bound))
}

/// `listen(2)`; the kernel caps `backlog` at `net.core.somaxconn`. `at`
/// names the socket in the error (a [`SocketAddr`] or an [`Endpoint`]).
///
/// # Errors
/// `EADDRINUSE` when another socket already listens on the port;
/// `EOPNOTSUPP` on a datagram socket.
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/listen.2.html)
pub fn listen(fd: impl AsFd, at: impl Into<Target>, backlog: i32) -> Result<()> {
    rustix::net::listen(fd, backlog).map_err(|errno| Error::at("listen", at, errno))
}

/// `accept4(fd, &peer, flags)`, retried on `EINTR`; returns the connection
/// and the peer's IP address (`None` for a unix peer, which has no useful
/// address: see [`peer_credentials`]).
///
/// # Errors
/// The errno itself (`EAGAIN` on a non-blocking listener, `EMFILE`,
/// `ENFILE`, `ECONNABORTED`): callers decide which are worth reporting.
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/accept.2.html)
pub fn accept(
    listener: impl AsFd,
    flags: SocketFlags,
) -> core::result::Result<(OwnedFd, Option<SocketAddr>), Errno> {
    let (fd, peer) = io::retry(|| rustix::net::acceptfrom_with(listener.as_fd(), flags))?;
    Ok((fd, peer.and_then(|p| SocketAddr::try_from(p).ok())))
}

/// [`init_socket`] + `connect(2)`: `connect_socket` from `utils.h`. The
/// socket is blocking. A unix datagram socket is first bound to an
/// abstract name the kernel picks (autobind), so that the server's replies
/// have an address to go to. For UDP, `connect` only fixes the peer: an
/// ICMP "port unreachable" shows later, as `ECONNREFUSED` on `recv`.
///
/// # Errors
/// `ECONNREFUSED` (nothing listens, a stale unix socket file; exit 69),
/// `ENOENT` (no socket at a unix path; exit 69), `ENETUNREACH`,
/// `EHOSTUNREACH` (exit 69), `ETIMEDOUT` (exit 75), `EACCES` (a unix path
/// we may not write; exit 77), `EPROTOTYPE` (a unix socket of the other
/// kind).
///
/// # References
///  - [Linux connect](https://man7.org/linux/man-pages/man2/connect.2.html)
///  - [Linux unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html)
pub fn connect_socket(endpoint: &Endpoint) -> Result<OwnedFd> {
    let fd = init_socket(endpoint)?;
    connect_within(fd, endpoint, None)
}

/// A `connect(2)` bounded by `timeout`; the returned socket is
/// non-blocking. For IP the socket is non-blocking from the start, the
/// handshake awaited with `poll`, and its result read from `SO_ERROR`. A
/// unix stream connect has no handshake, only a wait for room in the
/// listener's backlog: it blocks, bounded by `SO_SNDTIMEO`, and the socket
/// is made non-blocking once connected.
///
/// # Errors
/// As [`connect_socket`]; `ETIMEDOUT` when `timeout` passes first.
///
/// # References
///  - [Linux connect](https://man7.org/linux/man-pages/man2/connect.2.html)
///  - [Linux unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html)
pub fn connect_timeout(endpoint: &Endpoint, timeout: Duration) -> Result<OwnedFd> {
    if endpoint.socket_addr().is_some() {
        let fd = socket_for(endpoint, SocketFlags::CLOEXEC | SocketFlags::NONBLOCK)?;
        return connect_within(fd, endpoint, Some(timeout));
    }
    let fd = connect_within(init_socket(endpoint)?, endpoint, Some(timeout))?;
    set_nonblocking(&fd).map_err(|errno| Error::at("ioctl", endpoint, errno))?;
    Ok(fd)
}

/// [`connect_timeout`] to each endpoint in turn (a host name's addresses,
/// in the resolver's order), each attempt bounded by `timeout`: the first
/// that connects, and which it was.
///
/// # Errors
/// The last attempt's error when none connects; [`Error::Usage`] for an
/// empty list.
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/connect.2.html)
pub fn connect_any(endpoints: &[Endpoint], timeout: Duration) -> Result<(OwnedFd, Endpoint)> {
    let mut last = Error::Usage("no address to connect to".to_string());
    for (n, endpoint) in endpoints.iter().enumerate() {
        match connect_timeout(endpoint, timeout) {
            Ok(fd) => return Ok((fd, endpoint.clone())),
            Err(err) => {
                if n + 1 < endpoints.len() {
                    log::debug!("{err}; trying the next address");
                }
                last = err;
            }
        }
    }
    Err(last)
}

/// `connect(2)` on `fd` to `endpoint`, waiting at most `timeout`.
fn connect_within(fd: OwnedFd, endpoint: &Endpoint, timeout: Option<Duration>) -> Result<OwnedFd> {
    match &endpoint.address {
        Address::Ip(addr) => connect_ip(fd, endpoint, addr, timeout),
        Address::Unix(unix) => connect_unix(fd, endpoint, unix, timeout),
    }
}

/// `connect(2)`, then, if the handshake goes on in the kernel (a
/// non-blocking socket, or an interrupted call), `poll` for writability
/// within `timeout` and the result from `SO_ERROR`.
fn connect_ip(
    fd: OwnedFd,
    endpoint: &Endpoint,
    addr: &SocketAddr,
    timeout: Option<Duration>,
) -> Result<OwnedFd> {
    let fail = |errno| Error::at("connect", endpoint, errno);
    if io::start_connect(&fd, addr).map_err(fail)? == Connecting::Done {
        return Ok(fd);
    }
    let mut fds = [PollFd::new(&fd, PollFlags::OUT)];
    match io::poll(&mut fds, timeout) {
        Ok(0) => return Err(fail(Errno::TIMEDOUT)),
        Ok(_) => {}
        Err(errno) => return Err(Error::at("poll", endpoint, errno)),
    }
    match sockopt::socket_error(&fd) {
        Ok(Ok(())) => Ok(fd),
        Ok(Err(errno)) | Err(errno) => Err(fail(errno)),
    }
}

/// A unix `connect(2)` on a blocking socket, its wait for backlog room
/// bounded by `SO_SNDTIMEO` (`EAGAIN` when it runs out); a datagram socket
/// is autobound first.
fn connect_unix(
    fd: OwnedFd,
    endpoint: &Endpoint,
    unix: &UnixAddr,
    timeout: Option<Duration>,
) -> Result<OwnedFd> {
    let fail = |errno| Error::at("connect", endpoint, errno);
    let addr = unix.to_rustix().map_err(fail)?;
    if endpoint.kind == Kind::Datagram {
        autobind(&fd, endpoint)?;
    }
    let set_timeout = |limit| {
        sockopt::set_socket_timeout(&fd, sockopt::Timeout::Send, limit)
            .map_err(|errno| Error::at("setsockopt", endpoint, errno))
    };
    if timeout.is_some() {
        set_timeout(timeout)?;
    }
    let connected = io::connect_unix(&fd, &addr).map_err(|errno| match (errno, timeout) {
        (Errno::AGAIN, Some(_)) => Errno::TIMEDOUT,
        _ => errno,
    });
    if timeout.is_some() {
        // The bound was for the connect; later sends set their own.
        set_timeout(None)?;
    }
    connected.map_err(fail)?;
    Ok(fd)
}

/// `bind(fd, unnamed)`: the kernel gives a unix socket an abstract name of
/// its own choosing (five hex digits), unique while the socket lives.
fn autobind(fd: impl AsFd, endpoint: &Endpoint) -> Result<()> {
    rustix::net::bind(fd, &SocketAddrUnix::new_unnamed()).map_err(|errno| {
        let unnamed = endpoint.at(Address::Unix(UnixAddr::unnamed()));
        Error::at("bind", &unnamed, errno)
    })
}

/// `getsockname(2)`: the address a socket is bound to — an IP address and
/// port, a unix path, an abstract name (an autobound one included), or
/// [`UnixAddr::unnamed`] for a unix socket never bound.
///
/// # Errors
/// `EBADF`, `ENOTSOCK`; `EAFNOSUPPORT` for a family that is neither IP nor
/// unix.
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/getsockname.2.html)
pub fn local_addr(fd: impl AsFd) -> core::result::Result<Address, Errno> {
    Address::from_any(&rustix::net::getsockname(fd)?)
}

/// `getsockopt(SO_PEERCRED)`: the pid, uid and gid of the process at the
/// other end of a connected unix socket, as they were when it connected
/// (or, for a socket pair, when the pair was made).
///
/// # Errors
/// `ENOTCONN` (not connected), `EBADF`, `ENOTSOCK`; a peer that is not a
/// unix socket yields no error but no credentials of use.
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man7/unix.7.html)
pub fn peer_credentials(fd: impl AsFd) -> core::result::Result<UCred, Errno> {
    sockopt::socket_peercred(fd)
}

/// `ioctl(fd, FIONBIO, &1)`: makes a socket non-blocking (the same flag as
/// `fcntl(F_SETFL, O_NONBLOCK)`, in one call), for an epoll loop.
///
/// # Errors
/// `EBADF` only: the caller names the socket in its error.
///
/// # References
///  - [Linux ioctl](https://man7.org/linux/man-pages/man2/ioctl.2.html)
///  - [Linux fcntl](https://man7.org/linux/man-pages/man2/fcntl.2.html)
pub fn set_nonblocking(fd: impl AsFd) -> core::result::Result<(), Errno> {
    rustix::io::ioctl_fionbio(fd, true)
}

/// `shutdown(SHUT_WR)`: the end of what a client sends. A peer's reset
/// that came after the last send but before this call leaves the socket
/// closed, and shutdown says only `ENOTCONN`: that is no error here, so
/// the `recv` that follows reads what the peer sent before it, then its
/// real errno (`ECONNRESET`).
///
/// # Errors
/// The errno of `shutdown`, `ENOTCONN` aside.
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/shutdown.2.html)
pub fn shutdown_write(fd: impl AsFd) -> core::result::Result<(), Errno> {
    match rustix::net::shutdown(fd, rustix::net::Shutdown::Write) {
        Ok(()) | Err(Errno::NOTCONN) => Ok(()),
        Err(errno) => Err(errno),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_before_the_shutdown_is_read_as_the_reset() {
        let (listener, bound) = bind_socket(&loopback(0)).unwrap_or_else(|e| panic!("{e}"));
        listen(&listener, &bound, 8).unwrap_or_else(|e| panic!("{e}"));
        let client = connect_socket(&bound).unwrap_or_else(|e| panic!("{e}"));
        io::send_all(&client, b"hi").unwrap_or_else(|e| panic!("{e:?}"));
        let (server, _) = accept(&listener, SocketFlags::CLOEXEC).unwrap_or_else(|e| panic!("{e}"));
        io::send_all(&server, b"bye").unwrap_or_else(|e| panic!("{e:?}"));
        // Unread bytes at close, and SO_LINGER 0: an RST.
        sockopt::set_socket_linger(&server, Some(Duration::ZERO)).unwrap_or_else(|e| panic!("{e}"));
        drop(server);
        let mut fds = [PollFd::new(&client, PollFlags::IN)];
        let ready = io::poll(&mut fds, Some(Duration::from_secs(10)));
        assert_eq!(ready, Ok(1));
        assert!(
            fds[0].revents().contains(PollFlags::ERR),
            "{:?}",
            fds[0].revents()
        );
        assert_eq!(
            rustix::net::shutdown(&client, rustix::net::Shutdown::Write),
            Err(Errno::NOTCONN),
            "the kernel's answer this works around"
        );
        assert_eq!(shutdown_write(&client), Ok(()));
        // What the peer sent before its reset is still there, then the reset.
        let mut buf = [0u8; 8];
        assert_eq!(io::recv_some(&client, &mut buf), Ok(3));
        assert_eq!(&buf[..3], b"bye");
        assert_eq!(io::recv_some(&client, &mut buf), Err(Errno::CONNRESET));
    }

    fn loopback(port: u16) -> Endpoint {
        Endpoint::tcp(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    fn bound_port(endpoint: &Endpoint) -> u16 {
        endpoint.socket_addr().map_or(0, |addr| addr.port())
    }

    #[test]
    fn bind_on_port_zero_reports_the_kernels_port() {
        let (_fd, bound) = bind_socket(&loopback(0)).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(bound_port(&bound), 0);
    }

    #[test]
    fn second_bind_to_a_listening_port_is_addr_in_use() {
        let (fd, bound) = bind_socket(&loopback(0)).unwrap_or_else(|e| panic!("{e}"));
        listen(&fd, &bound, 8).unwrap_or_else(|e| panic!("{e}"));
        let err = bind_socket(&bound).err();
        assert_eq!(err.and_then(|e| e.errno()), Some(Errno::ADDRINUSE));
    }

    #[test]
    fn connect_to_a_bound_but_not_listening_port_is_refused() {
        let (_held, bound) = bind_socket(&loopback(0)).unwrap_or_else(|e| panic!("{e}"));
        let err = connect_socket(&bound).err();
        assert_eq!(err.and_then(|e| e.errno()), Some(Errno::CONNREFUSED));
        let err = connect_timeout(&bound, Duration::from_secs(5)).err();
        assert_eq!(err.and_then(|e| e.errno()), Some(Errno::CONNREFUSED));
    }

    #[test]
    fn accept_returns_the_peer_address() {
        let (listener, bound) = bind_socket(&loopback(0)).unwrap_or_else(|e| panic!("{e}"));
        listen(&listener, &bound, 8).unwrap_or_else(|e| panic!("{e}"));
        let client = connect_socket(&bound).unwrap_or_else(|e| panic!("{e}"));
        let (_conn, peer) =
            accept(&listener, SocketFlags::CLOEXEC).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(peer.map(Address::Ip), local_addr(&client).ok());
    }

    #[test]
    fn connect_any_skips_what_refuses_and_names_what_connected() {
        let (_held, refused) = bind_socket(&loopback(0)).unwrap_or_else(|e| panic!("{e}"));
        let (listener, live) = bind_socket(&loopback(0)).unwrap_or_else(|e| panic!("{e}"));
        listen(&listener, &live, 8).unwrap_or_else(|e| panic!("{e}"));
        let both = [refused.clone(), live.clone()];
        let (_fd, chosen) =
            connect_any(&both, Duration::from_secs(5)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(chosen, live);
        let err = connect_any(&[refused.clone(), refused], Duration::from_secs(5)).err();
        assert_eq!(err.and_then(|e| e.errno()), Some(Errno::CONNREFUSED));
        assert!(matches!(
            connect_any(&[], Duration::from_secs(1)),
            Err(Error::Usage(_))
        ));
    }
}
