//! The lesson's `utils.h`, on rustix raw fds, with every syscall checked.
//!
//! Ordered as the calls are used: socket, bind, listen, accept, connect,
//! then the options and queries around them.

use crate::addr::parse_socket_addr;
use crate::error::{Error, Result};
use crate::io::{self, Connecting};
use core::net::SocketAddr;
use core::time::Duration;
use rustix::event::{PollFd, PollFlags};
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType, ipproto, socket_with, sockopt};

/// `socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP)` for the family the
/// IP literal implies, plus the parsed address: `init_socket` from `utils.h`.
///
/// # Errors
/// [`Error::Usage`] for an IP or port that is not a literal (see
/// [`crate::addr::parse_socket_addr`]); `EMFILE`, `ENFILE`, `ENOBUFS` from
/// `socket` as [`Error::Os`].
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/socket.2.html)
pub fn init_socket(ip: &str, port: &str) -> Result<(OwnedFd, SocketAddr)> {
    let addr = parse_socket_addr(ip, port)?;
    let fd = tcp_socket(&addr, SocketFlags::CLOEXEC)?;
    Ok((fd, addr))
}

/// `socket(family, SOCK_STREAM | flags, IPPROTO_TCP)` for `addr`'s family.
///
/// # Errors
/// `EMFILE`, `ENFILE`, `ENOBUFS`, `EAFNOSUPPORT` (no IPv6 in this kernel).
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/socket.2.html)
pub fn tcp_socket(addr: &SocketAddr, flags: SocketFlags) -> Result<OwnedFd> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    socket_with(family, SocketType::STREAM, flags, Some(ipproto::TCP))
        .map_err(|errno| Error::at("socket", *addr, errno))
}

/// [`init_socket`] + `setsockopt(SO_REUSEADDR)` + `bind(2)`: `bind_socket`
/// from `utils.h`. Returns the socket and the address actually bound (with the
/// kernel's port when `port` is `"0"`).
///
/// # Errors
/// `EADDRINUSE` (another socket holds the address; exit 75), `EACCES` (a
/// port below `ip_unprivileged_port_start` without the capability; exit 77),
/// `EADDRNOTAVAIL` (the IP is not this host's).
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/bind.2.html)
pub fn bind_socket(ip: &str, port: &str) -> Result<(OwnedFd, SocketAddr)> {
    let (fd, addr) = init_socket(ip, port)?;
    sockopt::set_socket_reuseaddr(&fd, true)
        .map_err(|errno| Error::at("setsockopt", addr, errno))?;
    rustix::net::bind(&fd, &addr).map_err(|errno| Error::at("bind", addr, errno))?;
    let bound = local_addr(&fd).unwrap_or(addr);
    Ok((fd, bound))
}

/// `listen(2)`; the kernel caps `backlog` at `net.core.somaxconn`.
///
/// # Errors
/// `EADDRINUSE` when another socket already listens on the port.
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/listen.2.html)
pub fn listen(fd: impl AsFd, addr: SocketAddr, backlog: i32) -> Result<()> {
    rustix::net::listen(fd, backlog).map_err(|errno| Error::at("listen", addr, errno))
}

/// `accept4(fd, &peer, flags)`, retried on `EINTR`; returns the connection
/// and the peer's address.
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

/// [`init_socket`] + `connect(2)`: `connect_socket` from `utils.h`.
///
/// # Errors
/// `ECONNREFUSED` (nothing listens; exit 69), `ENETUNREACH`, `EHOSTUNREACH`
/// (exit 69), `ETIMEDOUT` (exit 75).
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/connect.2.html)
pub fn connect_socket(ip: &str, port: &str) -> Result<(OwnedFd, SocketAddr)> {
    let (fd, addr) = init_socket(ip, port)?;
    let fd = connect_within(fd, addr, None)?;
    Ok((fd, addr))
}

/// A `connect(2)` bounded by `timeout`: the socket is made non-blocking, the
/// handshake awaited with `poll`, and its result read from `SO_ERROR`. The
/// returned socket stays non-blocking.
///
/// # Errors
/// As [`connect_socket`]; `ETIMEDOUT` when `timeout` passes first.
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/connect.2.html)
pub fn connect_timeout(addr: SocketAddr, timeout: Duration) -> Result<OwnedFd> {
    let fd = tcp_socket(&addr, SocketFlags::CLOEXEC | SocketFlags::NONBLOCK)?;
    connect_within(fd, addr, Some(timeout))
}

/// `connect(2)`, then, if the handshake goes on in the kernel (a
/// non-blocking socket, or an interrupted call), `poll` for writability
/// within `timeout` and the result from `SO_ERROR`.
fn connect_within(fd: OwnedFd, addr: SocketAddr, timeout: Option<Duration>) -> Result<OwnedFd> {
    let fail = |errno| Error::at("connect", addr, errno);
    if io::start_connect(&fd, &addr).map_err(fail)? == Connecting::Done {
        return Ok(fd);
    }
    let mut fds = [PollFd::new(&fd, PollFlags::OUT)];
    match io::poll(&mut fds, timeout) {
        Ok(0) => return Err(fail(Errno::TIMEDOUT)),
        Ok(_) => {}
        Err(errno) => return Err(Error::at("poll", addr, errno)),
    }
    match sockopt::socket_error(&fd) {
        Ok(Ok(())) => Ok(fd),
        Ok(Err(errno)) | Err(errno) => Err(fail(errno)),
    }
}

/// `getsockname(2)` as a socket address.
///
/// # Errors
/// `EBADF`, `ENOTSOCK`; `EAFNOSUPPORT` if the socket is not IPv4 or IPv6.
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/getsockname.2.html)
pub fn local_addr(fd: impl AsFd) -> core::result::Result<SocketAddr, Errno> {
    let any = rustix::net::getsockname(fd)?;
    SocketAddr::try_from(any).map_err(|_| Errno::AFNOSUPPORT)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_on_port_zero_reports_the_kernels_port() {
        let (_fd, bound) = bind_socket("127.0.0.1", "0").unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(bound.port(), 0);
    }

    #[test]
    fn second_bind_to_a_listening_port_is_addr_in_use() {
        let (fd, bound) = bind_socket("127.0.0.1", "0").unwrap_or_else(|e| panic!("{e}"));
        listen(&fd, bound, 8).unwrap_or_else(|e| panic!("{e}"));
        let port = bound.port().to_string();
        let err = bind_socket("127.0.0.1", &port).err();
        assert_eq!(err.and_then(|e| e.errno()), Some(Errno::ADDRINUSE));
    }

    #[test]
    fn connect_to_a_bound_but_not_listening_port_is_refused() {
        let (_held, bound) = bind_socket("127.0.0.1", "0").unwrap_or_else(|e| panic!("{e}"));
        let port = bound.port().to_string();
        let err = connect_socket("127.0.0.1", &port).err();
        assert_eq!(err.and_then(|e| e.errno()), Some(Errno::CONNREFUSED));
        let err = connect_timeout(bound, Duration::from_secs(5)).err();
        assert_eq!(err.and_then(|e| e.errno()), Some(Errno::CONNREFUSED));
    }

    #[test]
    fn accept_returns_the_peer_address() {
        let (listener, bound) = bind_socket("127.0.0.1", "0").unwrap_or_else(|e| panic!("{e}"));
        listen(&listener, bound, 8).unwrap_or_else(|e| panic!("{e}"));
        let (client, _) = connect_socket("127.0.0.1", &bound.port().to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        let (_conn, peer) =
            accept(&listener, SocketFlags::CLOEXEC).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(peer, local_addr(&client).ok());
    }
}
