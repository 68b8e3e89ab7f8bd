//! Who is at the other end, as the transcript and `-vv` name them: an IP
//! peer by its address, a unix peer by its process (`pid 4211`), since its
//! address is usually no name at all (an unbound client, or one the kernel
//! autobound to five hex digits).

use crate::addr::display_ip;
use core::fmt;
use core::net::SocketAddr;
use rustix::fd::AsFd;

/// The other end of a connection, or the sender of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// A TCP or UDP peer.
    Ip(SocketAddr),
    /// A unix peer's process id, from `SO_PEERCRED` (streams) or
    /// `SCM_CREDENTIALS` (datagrams).
    Pid(i32),
    /// A unix peer whose credentials could not be read.
    Unknown,
}

impl Peer {
    /// The peer of a connection `accept` returned: its IP address, or, for
    /// a unix connection (no IP address), its process from
    /// `getsockopt(SO_PEERCRED)`.
    pub fn accepted(fd: impl AsFd, addr: Option<SocketAddr>) -> Self {
        match addr {
            Some(addr) => Self::Ip(addr),
            None => crate::socket::peer_credentials(fd).map_or(Self::Unknown, |cred| {
                Self::Pid(cred.pid.as_raw_nonzero().get())
            }),
        }
    }

    /// The peer as the transcript names it: `127.0.0.1` (no port, an
    /// IPv4-mapped address as the IPv4 it is), `pid 4211`.
    pub fn name(&self) -> Name {
        Name(*self)
    }
}

/// [`Peer::name`]'s rendering.
#[derive(Debug, Clone, Copy)]
pub struct Name(Peer);

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Peer::Ip(addr) => write!(f, "{}", display_ip(addr.ip())),
            other => write!(f, "{other}"),
        }
    }
}

impl fmt::Display for Peer {
    /// As `-vv` logs it: `127.0.0.1:51234`, `pid 4211`, `a unix peer`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(addr) => write!(f, "{addr}"),
            Self::Pid(pid) => write!(f, "pid {pid}"),
            Self::Unknown => f.write_str("a unix peer"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_peers_show_their_ip_and_unix_peers_their_pid() {
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:9"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Peer::Ip(mapped).name().to_string(), "127.0.0.1");
        assert_eq!(Peer::Ip(mapped).to_string(), "[::ffff:127.0.0.1]:9");
        assert_eq!(Peer::Pid(4211).name().to_string(), "pid 4211");
        assert_eq!(Peer::Unknown.name().to_string(), "a unix peer");
    }

    #[test]
    fn a_unix_connection_names_the_process_at_its_other_end() {
        let (ours, _theirs) = rustix::net::socketpair(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::STREAM,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let pid = rustix::process::getpid().as_raw_nonzero().get();
        assert_eq!(Peer::accepted(&ours, None), Peer::Pid(pid));
    }
}
