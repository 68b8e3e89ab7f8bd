//! How much of what sockd sent on a TCP connection its kernel still holds:
//! bytes sent but not yet acknowledged by the peer (`SIOCOUTQ`'s figure,
//! which rustix offers no safe call for), from `sock_diag`'s lookup of one
//! socket (`inet_diag_req_v2` without `NLM_F_DUMP`, answered with one
//! `inet_diag_msg` whose `idiag_wqueue` it is).
//!
//! `--idle-timeout` needs it: a client reading its echo slowly takes bytes
//! from that queue while sockd, whose `send` returned long ago, sees no
//! event at all. Asked only at the idle sweep, and only about connections
//! that look silent, never on the echo path. Layouts: `linux/netlink.h`,
//! `linux/inet_diag.h`.

use crate::io;
use core::net::{IpAddr, SocketAddr};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const IPPROTO_TCP: u8 = 6;
/// `sizeof(struct inet_diag_req_v2)`
const REQ_LEN: usize = 56;
/// Where `idiag_wqueue` sits in an `inet_diag_msg`: after family, state,
/// timer, retrans (4), the `inet_diag_sockid` (48), expires and rqueue (8).
const WQUEUE_AT: usize = 60;
/// `INET_DIAG_NOCOOKIE`: find the socket by its addresses alone.
const NO_COOKIE: u32 = !0;

/// A `NETLINK_SOCK_DIAG` socket, opened at the first question.
#[derive(Debug, Default)]
pub struct SendQueues {
    diag: Option<OwnedFd>,
    /// sock_diag could not be opened: do not try again at every sweep.
    unavailable: bool,
    seq: u32,
}

impl SendQueues {
    /// Asks nothing of the kernel until [`SendQueues::unacked`] is called.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bytes the kernel holds for `conn` that its peer has not
    /// acknowledged: `getsockname`, `getpeername`, then one `sendto` and
    /// one `recv` on a non-blocking `NETLINK_SOCK_DIAG` socket. `None`
    /// when it cannot be known (not a TCP socket, no sock_diag in this
    /// kernel, the socket already gone).
    ///
    /// # References
    ///  - [Linux](https://man7.org/linux/man-pages/man7/sock_diag.7.html)
    pub fn unacked(&mut self, conn: BorrowedFd<'_>) -> Option<u32> {
        let local = crate::socket::local_addr(conn).ok()?.ip()?;
        let peer = SocketAddr::try_from(rustix::net::getpeername(conn).ok()??).ok()?;
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let request = request(seq, local, peer);
        let diag = self.diag()?;
        let kernel = SocketAddrNetlink::new(0, 0);
        io::retry(|| rustix::net::sendto(diag, &request, SendFlags::empty(), &kernel)).ok()?;
        let mut reply = [0u8; 512];
        // A reply left over from an earlier question has another seq.
        loop {
            let (len, _) = io::recv_with(diag, &mut reply, RecvFlags::empty()).ok()?;
            if let Some(answer) = parse(&reply[..len], seq) {
                return answer;
            }
        }
    }

    fn diag(&mut self) -> Option<BorrowedFd<'_>> {
        if self.diag.is_none() && !self.unavailable {
            match rustix::net::socket_with(
                AddressFamily::NETLINK,
                SocketType::RAW,
                SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
                Some(netlink::SOCK_DIAG),
            ) {
                Ok(fd) => self.diag = Some(fd),
                Err(errno) => {
                    log::info!(
                        "socket NETLINK_SOCK_DIAG: {}; --idle-timeout cannot see a slow \
                         reader's queue drain",
                        crate::error::describe_errno(errno)
                    );
                    self.unavailable = true;
                }
            }
        }
        self.diag.as_ref().map(AsFd::as_fd)
    }
}

/// `nlmsghdr` + `inet_diag_req_v2` naming one TCP socket by its addresses
/// (the kernel's `inet_diag_find_one_icsk`: `src` is the socket's own end).
fn request(seq: u32, local: SocketAddr, peer: SocketAddr) -> Vec<u8> {
    let len = NLMSG_HDRLEN + REQ_LEN;
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&(len as u32).to_ne_bytes());
    out.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    out.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.push(if local.is_ipv4() { AF_INET } else { AF_INET6 });
    out.push(IPPROTO_TCP);
    out.extend_from_slice(&[0, 0]); // idiag_ext, pad
    out.extend_from_slice(&u32::MAX.to_ne_bytes()); // every state
    out.extend_from_slice(&local.port().to_be_bytes());
    out.extend_from_slice(&peer.port().to_be_bytes());
    push_addr(&mut out, local.ip());
    push_addr(&mut out, peer.ip());
    out.extend_from_slice(&0u32.to_ne_bytes()); // idiag_if: any
    out.extend_from_slice(&NO_COOKIE.to_ne_bytes());
    out.extend_from_slice(&NO_COOKIE.to_ne_bytes());
    out
}

/// An address as `__be32[4]`: IPv4 in the first word.
fn push_addr(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            out.extend_from_slice(&v4.octets());
            out.extend_from_slice(&[0; 12]);
        }
        IpAddr::V6(v6) => out.extend_from_slice(&v6.octets()),
    }
}

/// The answer to question `seq` in one datagram: `Some(Some(wqueue))`, or
/// `Some(None)` for an error (`ENOENT`: no such socket); `None` when the
/// datagram answers another question or does not parse.
fn parse(reply: &[u8], seq: u32) -> Option<Option<u32>> {
    let word = |at: usize| -> Option<u32> {
        let bytes = reply.get(at..at + 4)?;
        Some(u32::from_ne_bytes(bytes.try_into().ok()?))
    };
    let len = word(0)? as usize;
    let kind = u16::from_ne_bytes(reply.get(4..6)?.try_into().ok()?);
    if len > reply.len() || len < NLMSG_HDRLEN || word(8)? != seq {
        return None;
    }
    if kind == NLMSG_ERROR {
        return Some(None);
    }
    (kind == SOCK_DIAG_BY_FAMILY).then(|| word(NLMSG_HDRLEN + WQUEUE_AT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::net::{Shutdown, shutdown};

    fn pair() -> (OwnedFd, OwnedFd) {
        let any = crate::Endpoint::tcp(SocketAddr::from(([127, 0, 0, 1], 0)));
        let (listener, bound) = crate::bind_socket(&any).unwrap_or_else(|e| panic!("{e}"));
        crate::socket::listen(&listener, &bound, 8).unwrap_or_else(|e| panic!("{e}"));
        let client = crate::connect_socket(&bound).unwrap_or_else(|e| panic!("{e}"));
        let (server, _) = crate::socket::accept(&listener, SocketFlags::CLOEXEC)
            .unwrap_or_else(|e| panic!("accept: {e}"));
        (client, server)
    }

    #[test]
    fn a_queue_a_peer_does_not_read_is_seen_and_empties_as_it_reads() {
        let (client, server) = pair();
        let mut queues = SendQueues::new();
        assert_eq!(
            queues.unacked(server.as_fd()),
            Some(0),
            "sock_diag lookup failed"
        );
        // More than the client's receive buffer takes: the rest stays queued.
        rustix::io::ioctl_fionbio(&server, true).unwrap_or_else(|e| panic!("{e}"));
        let chunk = vec![7u8; 1 << 20];
        let mut sent = 0usize;
        while let Ok(n) = io::send_some(&server, &chunk) {
            sent += n;
        }
        let queued = queues.unacked(server.as_fd()).unwrap_or(0);
        assert!(
            queued > 0 && (queued as usize) <= sent,
            "{queued} of {sent}"
        );
        let mut buf = vec![0u8; 1 << 20];
        let mut read = 0;
        while read < sent {
            read += io::recv_some(&client, &mut buf).unwrap_or_else(|e| panic!("{e}"));
        }
        // Everything read: the last ACK may take a moment on a busy machine.
        let mut left = queued;
        for _ in 0..100 {
            left = queues.unacked(server.as_fd()).unwrap_or(u32::MAX);
            if left == 0 {
                break;
            }
            let _ = io::poll_readable(&client, Some(core::time::Duration::from_millis(10)));
        }
        assert_eq!(left, 0, "{queued} queued before the reads");
        let _ = shutdown(&client, Shutdown::Both);
    }

    #[test]
    fn replies_to_other_questions_and_errors_are_told_apart() {
        let local: SocketAddr = "127.0.0.1:7".parse().unwrap_or_else(|e| panic!("{e}"));
        let request = request(5, local, local);
        assert_eq!(request.len(), NLMSG_HDRLEN + REQ_LEN);
        let mut reply = vec![0u8; NLMSG_HDRLEN + 72];
        let len = reply.len() as u32;
        reply[..4].copy_from_slice(&len.to_ne_bytes());
        reply[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        reply[8..12].copy_from_slice(&5u32.to_ne_bytes());
        reply[NLMSG_HDRLEN + WQUEUE_AT..][..4].copy_from_slice(&1234u32.to_ne_bytes());
        assert_eq!(parse(&reply, 5), Some(Some(1234)));
        assert_eq!(parse(&reply, 6), None);
        reply[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        assert_eq!(parse(&reply, 5), Some(None));
        assert_eq!(parse(&reply[..10], 5), None);
    }
}
