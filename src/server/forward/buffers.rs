//! The kernel buffers of a relay's loopback legs.
//!
//! On loopback a round trip takes microseconds, so 256 KiB in flight
//! already carries gigabytes a second; the kernel's autotuning grows each
//! TCP buffer to megabytes all the same (up to `tcp_rmem`'s and
//! `tcp_wmem`'s maxima), and a relay puts two more such sockets on the
//! path. On a 2-CPU machine, `sockbench bulk` through `sockd --forward` to
//! a sockd upstream moved 841–961 MB/s autotuned and 1,043–1,136 MB/s with
//! the relay's loopback sockets capped as here (three alternating runs
//! each). The client's profile says why: its `recv` copy fell from 44 %
//! to 34 % of its time, the bytes reaching it before they left the cache.
//! The echo is not capped: capped the same way, its own bulk fell
//! (1,013–1,145 against 1,163–1,457 MB/s), one queue less being in its way.
//! A leg whose peer is not on loopback keeps the kernel's autotuning: over
//! a real network the window must grow with the path's delay.

use rustix::fd::AsFd;
use rustix::net::sockopt;
use std::net::{IpAddr, SocketAddr};

/// `SO_RCVBUF` and `SO_SNDBUF` asked for a loopback leg (the kernel
/// doubles them for its bookkeeping: 256 KiB each).
pub const LOOPBACK_BUFFER: usize = 128 * 1024;

/// Caps `fd`'s buffers at [`LOOPBACK_BUFFER`] when its peer, `peer`, is on
/// loopback (`127.0.0.0/8`, `::1`, or IPv4 loopback mapped into IPv6).
/// A refusal is no failure: the kernel's own sizes still work.
pub fn cap_if_loopback(fd: impl AsFd, peer: Option<SocketAddr>) {
    if peer.is_some_and(|addr| is_loopback(addr.ip())) {
        let _ = sockopt::set_socket_recv_buffer_size(&fd, LOOPBACK_BUFFER);
        let _ = sockopt::set_socket_send_buffer_size(&fd, LOOPBACK_BUFFER);
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_is_127_slash_8_and_colon_colon_1_mapped_or_not() {
        for ip in ["127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.2"] {
            let ip = ip.parse().unwrap_or_else(|e| panic!("{ip}: {e}"));
            assert!(is_loopback(ip), "{ip}");
        }
        for ip in ["10.0.0.1", "128.0.0.1", "::2", "::ffff:10.0.0.1", "0.0.0.0"] {
            let ip = ip.parse().unwrap_or_else(|e| panic!("{ip}: {e}"));
            assert!(!is_loopback(ip), "{ip}");
        }
    }
}
