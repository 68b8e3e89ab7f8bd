//! The lesson's `utils.h`, on rustix raw fds, with every syscall checked.
//!
//! Ordered as the calls are used: socket, bind, listen, accept, connect,
//! then the options and queries around them.

use crate::addr::parse_socket_addr;
use crate::error::{Error, Result};
use core::net::SocketAddr;
use core::time::Duration;
use rustix::event::{PollFd, PollFlags, Timespec, poll};
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

/// `socket(2)` for a TCP stream of `addr`'s family.
///
/// # Errors
/// `EMFILE`, `ENFILE`, `ENOBUFS`, `EAFNOSUPPORT` (no IPv6 in this kernel).
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
    loop {
        match rustix::net::acceptfrom_with(listener.as_fd(), flags) {
            Ok((fd, peer)) => return Ok((fd, peer.and_then(|p| SocketAddr::try_from(p).ok()))),
            Err(Errno::INTR) => continue,
            Err(errno) => return Err(errno),
        }
    }
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
    match rustix::net::connect(&fd, &addr) {
        Ok(()) => Ok((fd, addr)),
        // An interrupted connect goes on in the kernel; wait for it instead
        // of calling connect again (which would say EALREADY).
        Err(Errno::INTR) => finish_connect(fd, addr, None),
        Err(errno) => Err(Error::at("connect", addr, errno)),
    }
}

/// A `connect(2)` bounded by `timeout`: the socket is made non-blocking, the
/// handshake awaited with `poll`, and its result read from `SO_ERROR`. The
/// returned socket stays non-blocking.
///
/// # Errors
/// As [`connect_socket`]; `ETIMEDOUT` when `timeout` passes first.
pub fn connect_timeout(addr: SocketAddr, timeout: Duration) -> Result<OwnedFd> {
    let fd = tcp_socket(&addr, SocketFlags::CLOEXEC | SocketFlags::NONBLOCK)?;
    match rustix::net::connect(&fd, &addr) {
        Ok(()) => Ok(fd),
        Err(Errno::INPROGRESS) | Err(Errno::INTR) => {
            finish_connect(fd, addr, Some(timeout)).map(|(fd, _)| fd)
        }
        Err(errno) => Err(Error::at("connect", addr, errno)),
    }
}

fn finish_connect(
    fd: OwnedFd,
    addr: SocketAddr,
    timeout: Option<Duration>,
) -> Result<(OwnedFd, SocketAddr)> {
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    loop {
        let remaining = match deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    return Err(Error::at("connect", addr, Errno::TIMEDOUT));
                }
                Some(timespec(left))
            }
            None => None,
        };
        let mut fds = [PollFd::new(&fd, PollFlags::OUT)];
        match poll(&mut fds, remaining.as_ref()) {
            Ok(0) => continue,
            Ok(_) => break,
            Err(Errno::INTR) => continue,
            Err(errno) => return Err(Error::at("poll", addr, errno)),
        }
    }
    match sockopt::socket_error(&fd) {
        Ok(Ok(())) => Ok((fd, addr)),
        Ok(Err(errno)) | Err(errno) => Err(Error::at("connect", addr, errno)),
    }
}

/// `getsockname(2)` as a socket address.
///
/// # Errors
/// `EBADF`, `ENOTSOCK`; `EAFNOSUPPORT` if the socket is not IPv4 or IPv6.
pub fn local_addr(fd: impl AsFd) -> core::result::Result<SocketAddr, Errno> {
    let any = rustix::net::getsockname(fd)?;
    SocketAddr::try_from(any).map_err(|_| Errno::AFNOSUPPORT)
}

/// `ioctl(FIONBIO)`: make a socket non-blocking, for an epoll loop.
///
/// # Errors
/// `EBADF` only.
pub fn set_nonblocking(fd: impl AsFd, addr: SocketAddr) -> Result<()> {
    rustix::io::ioctl_fionbio(fd, true).map_err(|errno| Error::at("ioctl", addr, errno))
}

/// A `Duration` as the `Timespec` that `poll` and `epoll_wait` take.
pub fn timespec(duration: Duration) -> Timespec {
    Timespec {
        tv_sec: i64::try_from(duration.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(duration.subsec_nanos()),
    }
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
