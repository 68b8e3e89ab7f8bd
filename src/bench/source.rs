//! Where churn's connections come from.
//!
//! Each connection churn closes leaves a `TIME_WAIT` socket behind on the
//! client side for 60 s. Letting `connect` pick the source port, the kernel
//! reuses such a port only when it is a second old (`tcp_tw_reuse`), which caps
//! one source IP at about 14k connections a second. So churn binds every
//! socket to an explicit source `127.0.0.2`–`127.0.0.17` (all loopback)
//! and port, cycling through 16 × 41,000 pairs, with `SO_REUSEADDR`: the
//! kernel lets an explicitly bound socket take over a `TIME_WAIT` 4-tuple
//! whose timestamps are older (RFC 6191), so nothing is reset and nothing
//! waits. (`IP_BIND_ADDRESS_NO_PORT` would let the kernel pick the port
//! instead, but rustix has no setter for it.)
//!
//! A unix socket leaves nothing behind when closed: churn over `-U`
//! connects without choosing a source.

use crate::endpoint::{Address, Endpoint};
use crate::io::start_connect;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType, ipproto, socket_with, sockopt};

/// The source ports cycled through. A pair a live socket (or a listener)
/// holds makes `bind` fail, and the next pair is tried: never a silent clash.
const PORTS: core::ops::Range<u16> = 20000..61000;
/// Source IPs for an IPv4 loopback target: 127.0.0.2 to 127.0.0.17.
const V4_SOURCES: u8 = 16;
/// How many source pairs one connection may try before it gives up.
const ATTEMPTS: usize = 64;

/// Where churn's connections come from: a cycle of source pairs (TCP), or
/// none to choose (unix).
#[derive(Debug, Clone)]
pub enum Sources {
    /// TCP: explicit source pairs.
    Cycled(Cycle),
    /// A unix stream socket.
    Direct(Endpoint),
}

impl Sources {
    /// Sources for `target`; `start` spreads consecutive runs over
    /// different pairs (see [`Cycle::new`]).
    pub fn new(target: &Endpoint, start: u64) -> Self {
        match target.address {
            Address::Ip(addr) => Self::Cycled(Cycle::new(addr, start)),
            Address::Unix(_) => Self::Direct(target.clone()),
        }
    }

    /// A non-blocking socket with its `connect` to the target started (TCP),
    /// or made (unix: bounded by [`super::CONNECT_TIMEOUT`] while the
    /// server's backlog is full).
    ///
    /// # Errors
    /// As [`Cycle::connect`]; for unix, the errno of `socket` or `connect`
    /// (`ECONNREFUSED`, `ENOENT`, `ETIMEDOUT`).
    pub fn connect(&mut self) -> Result<OwnedFd, Errno> {
        match self {
            Self::Cycled(cycle) => cycle.connect(),
            Self::Direct(target) => crate::socket::connect_timeout(target, super::CONNECT_TIMEOUT)
                .map_err(|err| err.errno().unwrap_or(Errno::INVAL)),
        }
    }
}

/// A cycle of source addresses for one TCP target.
#[derive(Debug, Clone)]
pub struct Cycle {
    target: SocketAddr,
    family: AddressFamily,
    ips: Vec<IpAddr>,
    next: u64,
}

impl Cycle {
    /// Sources for `target`: the 16 addresses above for IPv4 loopback, the
    /// target's own address otherwise (`::1`). `start` spreads consecutive
    /// runs over different pairs.
    pub fn new(target: SocketAddr, start: u64) -> Self {
        let ips = match target.ip() {
            IpAddr::V4(v4) if v4.is_loopback() => (0..V4_SOURCES)
                .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i)))
                .collect(),
            other => vec![other],
        };
        let family = if target.is_ipv4() {
            AddressFamily::INET
        } else {
            AddressFamily::INET6
        };
        Self {
            target,
            family,
            ips,
            next: start,
        }
    }

    /// The next source address.
    fn next_source(&mut self) -> SocketAddr {
        let count = self.ips.len().max(1) as u64;
        let n = self.next;
        self.next = self.next.wrapping_add(1);
        let ip = self
            .ips
            .get((n % count) as usize)
            .copied()
            .unwrap_or(self.target.ip());
        let span = u64::from(PORTS.end - PORTS.start);
        let port = PORTS.start + ((n / count) % span) as u16;
        SocketAddr::new(ip, port)
    }

    /// A non-blocking socket bound to the next free source pair, with its
    /// `connect` to the target started.
    ///
    /// # Errors
    /// The errno of `socket`, `bind` or `connect` (`ECONNREFUSED` may come
    /// at once on loopback); `EADDRNOTAVAIL` once no pair was usable.
    pub fn connect(&mut self) -> Result<OwnedFd, Errno> {
        let mut last = Errno::ADDRNOTAVAIL;
        for _ in 0..ATTEMPTS {
            let source = self.next_source();
            // socket(2) itself: its errno is what the tally counts.
            let fd = socket_with(
                self.family,
                SocketType::STREAM,
                SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
                Some(ipproto::TCP),
            )?;
            sockopt::set_socket_reuseaddr(&fd, true)?;
            match rustix::net::bind(&fd, &source) {
                Ok(()) => {}
                // Held by a live socket (or a listener): try the next pair.
                Err(errno @ (Errno::ADDRINUSE | Errno::ADDRNOTAVAIL)) => {
                    last = errno;
                    continue;
                }
                Err(errno) => return Err(errno),
            }
            match start_connect(&fd, &self.target) {
                Ok(_) => return Ok(fd),
                // The 4-tuple is still taken (a TIME_WAIT without timestamps).
                Err(errno @ Errno::ADDRNOTAVAIL) => last = errno,
                Err(errno) => return Err(errno),
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_loopback_cycles_sixteen_ips_then_ports() {
        let target = SocketAddr::from(([127, 0, 0, 1], 7));
        let mut sources = Cycle::new(target, 0);
        let first: Vec<SocketAddr> = (0..17).map(|_| sources.next_source()).collect();
        assert_eq!(first[0], SocketAddr::from(([127, 0, 0, 2], PORTS.start)));
        assert_eq!(first[15], SocketAddr::from(([127, 0, 0, 17], PORTS.start)));
        assert_eq!(
            first[16],
            SocketAddr::from(([127, 0, 0, 2], PORTS.start + 1))
        );
    }

    #[test]
    fn ipv6_uses_the_target_address_and_wraps() {
        let target: SocketAddr = SocketAddr::from((core::net::Ipv6Addr::LOCALHOST, 7));
        let mut sources = Cycle::new(target, u64::MAX);
        let a = sources.next_source();
        let b = sources.next_source();
        assert_eq!(a.ip(), target.ip());
        assert!(PORTS.contains(&a.port()) && PORTS.contains(&b.port()));
    }
}
