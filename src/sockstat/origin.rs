//! Which of the lesson's paths made a socket, as far as user space can
//! tell: `socket()` (`sock_create` … `sock_map_fd`), `accept()`
//! (`__sys_accept4`'s own `sock_alloc` and `sock_alloc_file`) or
//! `socketpair()`.
//!
//! The kernel keeps no record of the call that made a socket. What can be
//! seen is its state and addresses, and those of the other sockets: a
//! connected TCP socket whose local address a listener covers was most
//! likely accepted from it; one that sent a SYN was connected by its own
//! `connect()`. Every answer but the ones the state settles is a "probably".

use super::index::NumberMap;
use super::record::{InetProto, IpVersion, Kind, Peer, SockRecord, state};
use core::net::SocketAddr;
use rustix::net::SocketType;
use std::collections::HashMap;

/// The path a socket most likely came by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `socket()`, `bind()`, `listen()`: a listener (certain: only `listen()`
    /// makes that state).
    Listening,
    /// Probably `accept()`ed from the listener with this inode: it is
    /// connected, and that listener covers its local address.
    Accepted {
        /// The listener's inode.
        listener: u64,
    },
    /// `socket()`, then `connect()`: `certain` when only `connect()` makes
    /// the state (a SYN sent, a connected UDP socket), else probable
    /// (connected, and no listener covers its local address).
    Connected {
        /// Whether the state alone says so.
        certain: bool,
    },
    /// Probably `socketpair()`: a connected unix socket with no name whose
    /// peer has none either (a `connect()`ed one's peer has the listener's).
    Pair {
        /// The other socket of the pair.
        peer: u64,
    },
    /// `socket()` (and `bind()` when it has an address), never connected,
    /// or its connection is over.
    Unconnected {
        /// Whether it has a local address or name.
        bound: bool,
    },
    /// `socket()`, then `bind()` or a first `sendto()` (or a `connect()`
    /// undone since), which bind an unbound UDP socket to an ephemeral
    /// port on the wildcard address (`inet_autobind`): an unconnected UDP
    /// socket on `*:PORT` cannot tell which.
    BoundOrSent,
    /// Connected, but nothing visible tells `socket()`+`connect()` from
    /// `accept()` (a named unix socket whose listener is gone; no peer known).
    Unknown,
}

/// The sockets a path is read from, indexed: the listeners by namespace,
/// family and port (TCP) or name (unix), every record by inode. Built once
/// for a listing, so that each of tens of thousands of rows is weighed
/// without a pass over all the others.
pub struct Around<'a> {
    tcp: NumberMap<(u64, bool, u16), Vec<&'a SockRecord>>,
    // Keyed by names any process may choose: SipHash, so that nobody can
    // pick colliding keys and make this quadratic.
    unix: HashMap<(u64, &'a [u8]), Vec<&'a SockRecord>>,
    by_inode: NumberMap<u64, &'a SockRecord>,
}

impl<'a> Around<'a> {
    /// `records`: every socket the sources listed, in every network
    /// namespace (only those of a socket's own can have made it).
    pub fn new(records: &'a [SockRecord]) -> Self {
        let mut around = Self {
            tcp: NumberMap::default(),
            unix: HashMap::new(),
            by_inode: NumberMap::default(),
        };
        for record in records {
            if record.inode != 0 {
                around.by_inode.insert(record.inode, record);
            }
            if record.state != state::LISTEN {
                continue;
            }
            let netns = record.details.netns.unwrap_or(0);
            match &record.kind {
                Kind::Inet {
                    proto: InetProto::Tcp,
                    version,
                    local,
                    ..
                } => around
                    .tcp
                    .entry((netns, *version == IpVersion::V6, local.port()))
                    .or_default()
                    .push(record),
                Kind::Unix {
                    name: Some(name), ..
                } => around
                    .unix
                    .entry((netns, name.as_slice()))
                    .or_default()
                    .push(record),
                _ => {}
            }
        }
        around
    }
}

/// What `record` most likely came from, among the sockets `around` it;
/// `held_here(inode)` says whether the process holding `record` also holds
/// that inode, so its own listener is preferred.
pub fn infer(record: &SockRecord, around: &Around<'_>, held_here: impl Fn(u64) -> bool) -> Origin {
    let netns = record.details.netns.unwrap_or(0);
    match &record.kind {
        Kind::Inet {
            proto: InetProto::Udp,
            local,
            ..
        } => match record.state {
            state::ESTABLISHED => Origin::Connected { certain: true },
            // Only bind() picks an address; disconnecting resets one a
            // connect() picked (udp_disconnect), autobinding picks none.
            _ if local.port() != 0 && local.ip().is_unspecified() => Origin::BoundOrSent,
            _ => Origin::Unconnected {
                bound: local.port() != 0,
            },
        },
        Kind::Inet {
            proto: InetProto::Tcp,
            version,
            local,
            ..
        } => match record.state {
            state::LISTEN => Origin::Listening,
            state::SYN_SENT => Origin::Connected { certain: true },
            state::CLOSE => Origin::Unconnected {
                bound: local.port() != 0,
            },
            state::TIME_WAIT | state::NEW_SYN_RECV => Origin::Unknown,
            _ => {
                let key = (netns, *version == IpVersion::V6, local.port());
                let covering = around.tcp.get(&key).into_iter().flatten().filter(|other| {
                    other.inode != record.inode
                        && matches!(&other.kind, Kind::Inet { local: at, .. } if covers(at, local))
                });
                // Our own listener first, then the most specific address,
                // as the kernel's lookup prefers it.
                let best = covering.max_by_key(|other| {
                    let specific = matches!(&other.kind, Kind::Inet { local, .. } if !local.ip().is_unspecified());
                    (held_here(other.inode), specific, core::cmp::Reverse(other.inode))
                });
                match best {
                    Some(listener) => Origin::Accepted {
                        listener: listener.inode,
                    },
                    None => Origin::Connected { certain: false },
                }
            }
        },
        Kind::Unix { name, peer } => match record.state {
            state::LISTEN => Origin::Listening,
            state::ESTABLISHED => unix_connected(record, name.as_deref(), *peer, around, held_here),
            _ => Origin::Unconnected {
                bound: name.is_some(),
            },
        },
    }
}

fn unix_connected(
    record: &SockRecord,
    name: Option<&[u8]>,
    peer: Peer,
    around: &Around<'_>,
    held_here: impl Fn(u64) -> bool,
) -> Origin {
    let datagram = record.details.sock_type == Some(SocketType::DGRAM.as_raw());
    let named = |inode: u64| {
        around.by_inode.get(&inode).map(|other| match &other.kind {
            Kind::Unix { name, .. } => name.is_some(),
            Kind::Inet { .. } => false,
        })
    };
    let netns = record.details.netns.unwrap_or(0);
    match (name, peer) {
        // An accepted socket carries its listener's name.
        (Some(name), _) if !datagram => around
            .unix
            .get(&(netns, name))
            .into_iter()
            .flatten()
            .filter(|other| other.inode != record.inode)
            .max_by_key(|other| (held_here(other.inode), core::cmp::Reverse(other.inode)))
            .map_or(Origin::Unknown, |listener| Origin::Accepted {
                listener: listener.inode,
            }),
        // A socketpair() socket can be bind()ed later: never certain.
        (Some(_), _) => Origin::Connected { certain: false },
        (None, Peer::Inode(peer)) => match named(peer) {
            Some(true) => Origin::Connected { certain: false },
            Some(false) => Origin::Pair { peer },
            None => Origin::Unknown,
        },
        (None, Peer::None | Peer::Unknown) => Origin::Unknown,
    }
}

/// Whether a listener bound to `listener` takes connections to `local`.
fn covers(listener: &SocketAddr, local: &SocketAddr) -> bool {
    listener.port() == local.port()
        && (listener.ip().is_unspecified() || listener.ip() == local.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sockstat::record::Details;

    fn tcp(inode: u64, st: u8, local: &str, remote: &str) -> SockRecord {
        let addr = |s: &str| s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
        SockRecord {
            inode,
            kind: Kind::Inet {
                proto: InetProto::Tcp,
                version: IpVersion::V4,
                local: addr(local),
                remote: addr(remote),
            },
            state: st,
            recv_q: None,
            send_q: None,
            uid: None,
            details: Details {
                sock_type: Some(SocketType::STREAM.as_raw()),
                ..Details::default()
            },
        }
    }

    fn unix(inode: u64, st: u8, name: Option<&str>, peer: Peer, ty: SocketType) -> SockRecord {
        SockRecord {
            inode,
            kind: Kind::Unix {
                name: name.map(|n| n.as_bytes().to_vec()),
                peer,
            },
            state: st,
            recv_q: None,
            send_q: None,
            uid: None,
            details: Details {
                sock_type: Some(ty.as_raw()),
                ..Details::default()
            },
        }
    }

    #[test]
    fn tcp_paths() {
        let any = tcp(1, state::LISTEN, "0.0.0.0:80", "0.0.0.0:0");
        let lo = tcp(2, state::LISTEN, "127.0.0.1:80", "0.0.0.0:0");
        let served = tcp(3, state::ESTABLISHED, "127.0.0.1:80", "127.0.0.1:5000");
        let client = tcp(4, state::ESTABLISHED, "127.0.0.1:5000", "127.0.0.1:80");
        let dialing = tcp(5, state::SYN_SENT, "127.0.0.1:5001", "127.0.0.1:81");
        let records = [any.clone(), lo.clone(), served.clone(), client.clone()];
        let nobody = |_| false;
        assert_eq!(
            infer(&any, &Around::new(&records), nobody),
            Origin::Listening
        );
        // The more specific listener, unless the process holds the other.
        assert_eq!(
            infer(&served, &Around::new(&records), nobody),
            Origin::Accepted { listener: 2 }
        );
        assert_eq!(
            infer(&served, &Around::new(&records), |inode| inode == 1),
            Origin::Accepted { listener: 1 }
        );
        assert_eq!(
            infer(&client, &Around::new(&records), nobody),
            Origin::Connected { certain: false }
        );
        assert_eq!(
            infer(&dialing, &Around::new(&records), nobody),
            Origin::Connected { certain: true }
        );
        // A listener in another network namespace covers nothing here.
        let mut elsewhere = lo.clone();
        elsewhere.details.netns = Some(7);
        assert_eq!(
            infer(&served, &Around::new(&[elsewhere]), nobody),
            Origin::Connected { certain: false }
        );
        // A listener on another port, or the socket itself, covers nothing.
        let other_port = [tcp(6, state::LISTEN, "0.0.0.0:81", "0.0.0.0:0")];
        assert_eq!(
            infer(&served, &Around::new(&other_port), nobody),
            Origin::Connected { certain: false }
        );
        // An unconnected UDP socket on *:PORT may never have called bind().
        let mut sent = tcp(8, state::CLOSE, "0.0.0.0:5353", "0.0.0.0:0");
        let mut bound = tcp(9, state::CLOSE, "127.0.0.1:5353", "0.0.0.0:0");
        for udp in [&mut sent, &mut bound] {
            if let Kind::Inet { proto, .. } = &mut udp.kind {
                *proto = InetProto::Udp;
            }
        }
        assert_eq!(infer(&sent, &Around::new(&[]), nobody), Origin::BoundOrSent);
        assert_eq!(
            infer(&bound, &Around::new(&[]), nobody),
            Origin::Unconnected { bound: true }
        );
        let fresh = tcp(7, state::CLOSE, "0.0.0.0:0", "0.0.0.0:0");
        assert_eq!(
            infer(&fresh, &Around::new(&[]), nobody),
            Origin::Unconnected { bound: false }
        );
    }

    #[test]
    fn unix_paths() {
        let stream = SocketType::STREAM;
        let listener = unix(1, state::LISTEN, Some("/run/a.sock"), Peer::None, stream);
        let served = unix(
            2,
            state::ESTABLISHED,
            Some("/run/a.sock"),
            Peer::Inode(3),
            stream,
        );
        let client = unix(3, state::ESTABLISHED, None, Peer::Inode(2), stream);
        let left = unix(4, state::ESTABLISHED, None, Peer::Inode(5), stream);
        let right = unix(5, state::ESTABLISHED, None, Peer::Inode(4), stream);
        let records = [
            listener.clone(),
            served.clone(),
            client.clone(),
            left.clone(),
            right,
        ];
        let nobody = |_| false;
        assert_eq!(
            infer(&listener, &Around::new(&records), nobody),
            Origin::Listening
        );
        assert_eq!(
            infer(&served, &Around::new(&records), nobody),
            Origin::Accepted { listener: 1 }
        );
        assert_eq!(
            infer(&client, &Around::new(&records), nobody),
            Origin::Connected { certain: false }
        );
        assert_eq!(
            infer(&left, &Around::new(&records), nobody),
            Origin::Pair { peer: 5 }
        );
        // Its listener gone: nothing tells.
        assert_eq!(
            infer(&served, &Around::new(&records[1..]), nobody),
            Origin::Unknown
        );
        let unknown_peer = unix(6, state::ESTABLISHED, None, Peer::Unknown, stream);
        assert_eq!(
            infer(&unknown_peer, &Around::new(&records), nobody),
            Origin::Unknown
        );
        let log = unix(
            7,
            state::CLOSE,
            Some("/dev/log"),
            Peer::None,
            SocketType::DGRAM,
        );
        assert_eq!(
            infer(&log, &Around::new(&records), nobody),
            Origin::Unconnected { bound: true }
        );
    }
}
