//! The join: each socket fd the walk found, with the record of its inode,
//! as one output row; plus, with `-a`, the records no fd holds.

use super::filter::Filter;
use super::index::NumberMap;
use super::internals::Internals;
use super::procfs::{Holder, Process, Walk};
use super::record::{Cell, InetProto, IpVersion, Kind, Peer, SockRecord, Table, state};
use super::users::{User, Users};
use core::fmt;
use core::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// An address cell. Kept as data, not text, until it is printed: a listing
/// can have tens of thousands of rows.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Addr {
    /// There is none (an unnamed unix socket, no peer): `*`, JSON null.
    Absent,
    /// The source cannot say: `?`, JSON null.
    Unknown,
    /// An IP endpoint: `127.0.0.1:7777`, `[::1]:80`, `*:22`, `*:*`.
    Inet(SocketAddr),
    /// An IP endpoint of a socket bound to a device, named as `ss` does:
    /// `127.0.0.1%lo:7777`, `*%eth0:22`.
    InetOn(SocketAddr, String),
    /// A unix path or `@abstract` name, escaped for a table cell.
    Name(String),
    /// A unix peer whose holder is visible: `-> [PID FD]`.
    Peer {
        /// The holder's pid.
        pid: u32,
        /// The fd in that process.
        fd: u32,
    },
    /// A unix peer nobody visible holds: `-> INODE`.
    PeerInode(u64),
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Absent => f.write_str("*"),
            Self::Unknown => f.write_str("?"),
            Self::Inet(addr) => write_endpoint(f, addr, None),
            Self::InetOn(addr, dev) => write_endpoint(f, addr, Some(dev)),
            Self::Name(name) => f.write_str(name),
            Self::Peer { pid, fd } => write!(f, "-> [{pid} {fd}]"),
            Self::PeerInode(inode) => write!(f, "-> {inode}"),
        }
    }
}

/// Which fd holds a row's socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    /// Index into [`Listing::processes`].
    pub process: usize,
    /// The process.
    pub pid: u32,
    /// The fd in that process.
    pub fd: u32,
}

/// What is shown of a process, worked out once however many fds it has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessCells {
    /// Its owner.
    pub user: User,
    /// Its comm, escaped for a table cell; `None` when it is empty (or was
    /// gone before it could be read), which the table shows as `?` so that
    /// no cell is blank.
    pub command: Option<String>,
}

/// One line of output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The fd holding the socket; `None` when no visible fd does (`-a`).
    pub owner: Option<Owner>,
    /// `tcp4`, `tcp6`, `udp4`, `udp6`, `unix` or `?`.
    pub proto: &'static str,
    /// The socket inode.
    pub inode: u64,
    /// Local address, unix path or abstract name.
    pub local: Addr,
    /// Foreign address, or unix peer.
    pub foreign: Addr,
    /// State name; `None` for sockets no source described.
    pub state: Option<&'static str>,
    /// Receive queue (`-e`).
    pub recv_q: Option<u64>,
    /// Send queue (`-e`).
    pub send_q: Option<u64>,
    /// The socket's uid (`-e`).
    pub uid: Option<u32>,
    /// TCP internals and memory (`-i`, `-m`); `None` when unknown, or when
    /// only their TCP-INFO cell was kept (`tcp_info_cell`).
    pub internals: Option<Arc<Internals>>,
    /// The TCP-INFO cell, when it was written as the dump arrived (the
    /// internals are then `None`).
    pub tcp_info_cell: Option<Cell>,
    /// The inode of the socket's network namespace (or, for a socket no
    /// source described, of its holder's), when known.
    pub netns: Option<u64>,
}

/// Which optional parts of each row are shown (`-e`, `-i`, `-m`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shown {
    /// Queues and socket uid (`-e`).
    pub extended: bool,
    /// TCP internals (`-i`).
    pub internals: bool,
    /// Socket memory (`-m`).
    pub memory: bool,
}

/// The rows, sorted by pid then fd (sockets with no holder last), and the
/// processes they refer to.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    /// The processes holding sockets.
    pub processes: Vec<ProcessCells>,
    /// The rows.
    pub rows: Vec<Row>,
    /// The names `ip netns` gave the namespaces rows are in, by inode
    /// (filled in only for output that shows namespaces).
    pub netns_names: NumberMap<u64, String>,
}

impl Listing {
    /// The process cells of a row's owner.
    pub fn process(&self, owner: &Owner) -> Option<&ProcessCells> {
        self.processes.get(owner.process)
    }

    /// The name of a row's namespace, if `ip netns` gave it one.
    pub fn netns_name(&self, row: &Row) -> Option<&str> {
        row.netns
            .and_then(|inode| self.netns_names.get(&inode))
            .map(String::as_str)
    }
}

/// Joins the walk and the records into sorted rows; `peers` are more
/// holders (of processes the walk did not select) that may name a unix peer
/// but get no rows. With `-a`, the sockets no fd holds are those of
/// namespace `listed` only.
///
/// Each record's internals (`-i`, `-m`) move to the first row that shows
/// them; rows of the same socket held by more fds share them. Cloning the
/// `Arc` for every row touched each record's internals in a random order,
/// a cache miss per row (8% of `-i`'s user time at 25,000 sockets, by
/// `perf annotate`), and dropping the records touched them all again.
pub fn join(
    walk: &Walk,
    peers: &[Holder],
    records: &mut [SockRecord],
    filter: &Filter,
    users: &Users,
    listed: Option<u64>,
) -> Listing {
    // Each inode's record, and the row that took its internals.
    let mut by_inode: NumberMap<u64, (usize, Option<usize>)> = NumberMap::default();
    by_inode.reserve(records.len());
    for (index, record) in records.iter().enumerate() {
        if record.inode != 0 {
            by_inode.insert(record.inode, (index, None));
        }
    }
    let mut holders: Vec<&Holder> = walk.holders.iter().collect();
    holders.sort_unstable_by_key(|h| (h.pid, h.fd));
    let peer_names = PeerNames::new(&holders, peers, records);
    // User and command once per process, not once per fd.
    let mut listing = Listing::default();
    let mut process_index: NumberMap<u32, usize> = NumberMap::default();
    let mut process_netns: NumberMap<u32, Option<u64>> = NumberMap::default();
    for (index, process) in walk.processes.iter().enumerate() {
        let Process {
            pid,
            uid,
            comm,
            netns,
        } = process;
        process_netns.insert(*pid, *netns);
        listing.processes.push(ProcessCells {
            user: uid.map_or(User::Unknown, |uid| users.user(uid)),
            command: (!comm.is_empty()).then(|| crate::escape::field(comm)),
        });
        process_index.insert(*pid, index);
    }

    let rows = &mut listing.rows;
    rows.reserve(holders.len());
    for holder in holders {
        let owner = Some(Owner {
            // Every holder's process is in the walk's list; a miss would
            // only blank the USER and COMMAND cells.
            process: process_index
                .get(&holder.pid)
                .copied()
                .unwrap_or(usize::MAX),
            pid: holder.pid,
            fd: holder.fd,
        });
        let known = by_inode
            .get_mut(&holder.inode)
            .and_then(|(index, taken)| Some((records.get_mut(*index)?, taken)));
        match known {
            Some((record, taken)) => {
                let shown = match *taken {
                    Some(row) => rows
                        .get(row)
                        .map(|r| (r.internals.clone(), r.tcp_info_cell.clone())),
                    None => None,
                };
                let shown = shown.unwrap_or_else(|| take_shown(record));
                *taken = Some(rows.len());
                rows.push(Row {
                    owner,
                    ..record_row(record, &peer_names, Some(holder.pid), shown)
                });
            }
            None if filter.matches_unknown(holder.inode) => rows.push(Row {
                owner,
                proto: "?",
                inode: holder.inode,
                local: Addr::Unknown,
                foreign: Addr::Unknown,
                state: None,
                recv_q: None,
                send_q: None,
                uid: None,
                internals: None,
                tcp_info_cell: None,
                netns: process_netns.get(&holder.pid).copied().flatten(),
            }),
            None => {}
        }
    }
    if filter.shows_holderless() {
        let held = rows.len();
        rows.extend(
            records
                .iter_mut()
                .filter(|r| r.details.netns == listed)
                .filter(|r| r.inode == 0 || !peer_names.first.contains_key(&r.inode))
                .map(|r| {
                    let shown = take_shown(r);
                    record_row(r, &peer_names, None, shown)
                }),
        );
        rows.get_mut(held..)
            .unwrap_or_default()
            .sort_unstable_by(|a, b| {
                (a.proto, a.inode, &a.local, &a.foreign)
                    .cmp(&(b.proto, b.inode, &b.local, &b.foreign))
            });
    }
    listing
}

/// How a unix peer is named: by the fd of the row's own process that holds
/// it, if one does (a socketpair inside a process, however many children
/// share it for a moment after a fork); else by its first holder anywhere,
/// the lowest pid, then fd. Neither depends on which processes a filter
/// selected, so a filter never changes what a row says.
struct PeerNames {
    /// The first holder of every socket.
    first: NumberMap<u64, (u32, u32)>,
    /// `(pid, inode)` → its lowest fd in that process, for peer inodes.
    own: NumberMap<(u32, u64), u32>,
}

impl PeerNames {
    /// `holders` sorted by pid then fd; `more` the holders of peers among
    /// processes the walk did not select.
    fn new(holders: &[&Holder], more: &[Holder], records: &[SockRecord]) -> Self {
        let mut first: NumberMap<u64, (u32, u32)> = NumberMap::default();
        first.reserve(holders.len());
        for holder in holders {
            first.entry(holder.inode).or_insert((holder.pid, holder.fd));
        }
        for holder in more {
            first
                .entry(holder.inode)
                .and_modify(|at| *at = (*at).min((holder.pid, holder.fd)))
                .or_insert((holder.pid, holder.fd));
        }
        let peers: NumberMap<u64, ()> = records
            .iter()
            .filter_map(|record| match record.kind {
                Kind::Unix {
                    peer: Peer::Inode(peer),
                    ..
                } => Some((peer, ())),
                _ => None,
            })
            .collect();
        let mut own: NumberMap<(u32, u64), u32> = NumberMap::default();
        for holder in holders.iter().filter(|h| peers.contains_key(&h.inode)) {
            own.entry((holder.pid, holder.inode)).or_insert(holder.fd);
        }
        Self { first, own }
    }

    /// The holder that names `peer` in a row of process `pid` (`None`: a
    /// row no fd holds).
    fn name(&self, pid: Option<u32>, peer: u64) -> Option<(u32, u32)> {
        pid.and_then(|pid| Some((pid, *self.own.get(&(pid, peer))?)))
            .or_else(|| self.first.get(&peer).copied())
    }
}

/// What a row shows of the internals, moved out of its record.
type Kept = (Option<Arc<Internals>>, Option<Cell>);

fn take_shown(record: &mut SockRecord) -> Kept {
    (
        record.details.internals.take(),
        record.details.tcp_info_cell.take(),
    )
}

fn record_row(
    record: &SockRecord,
    peer_names: &PeerNames,
    pid: Option<u32>,
    (internals, tcp_info_cell): Kept,
) -> Row {
    let (proto, local, foreign) = match &record.kind {
        Kind::Inet {
            proto,
            version,
            local,
            remote,
        } => (
            inet_proto(*proto, *version, local, record.details.v6only),
            match &record.details.dev_name {
                Some(dev) => Addr::InetOn(*local, dev.clone()),
                None => Addr::Inet(*local),
            },
            Addr::Inet(*remote),
        ),
        Kind::Unix { name, peer } => {
            let local = match name {
                Some(name) => Addr::Name(crate::escape::field(name)),
                None => Addr::Absent,
            };
            let foreign = match peer {
                Peer::None => Addr::Absent,
                Peer::Unknown => Addr::Unknown,
                Peer::Inode(inode) => match peer_names.name(pid, *inode) {
                    Some((pid, fd)) => Addr::Peer { pid, fd },
                    None => Addr::PeerInode(*inode),
                },
            };
            ("unix", local, foreign)
        }
    };
    Row {
        owner: None,
        proto,
        inode: record.inode,
        local,
        foreign,
        state: Some(state_name(&record.kind, record.state)),
        recv_q: record.recv_q,
        send_q: record.send_q,
        uid: record.uid,
        internals,
        tcp_info_cell,
        netns: record.details.netns,
    }
}

/// `tcp4`, `tcp6`, or FreeBSD's `tcp46` (`udp46`) for an IPv6 socket that
/// takes IPv4 as well: bound to `::` (or not yet bound) without
/// `IPV6_V6ONLY`. A dual-stack socket bound to one IPv6 address can only
/// ever talk IPv6, so it is `tcp6`; so is one whose source cannot say.
pub fn inet_proto(
    proto: InetProto,
    version: IpVersion,
    local: &SocketAddr,
    v6only: Option<bool>,
) -> &'static str {
    match (proto, version, v6only) {
        (InetProto::Tcp, IpVersion::V6, Some(false)) if local.ip().is_unspecified() => "tcp46",
        (InetProto::Udp, IpVersion::V6, Some(false)) if local.ip().is_unspecified() => "udp46",
        _ => Table::Inet(proto, version).name(),
    }
}

/// `127.0.0.1:7777`, `[::1]:80`, `*:22` (any address), `*:*` (none).
pub fn endpoint(addr: &SocketAddr) -> String {
    Addr::Inet(*addr).to_string()
}

fn write_endpoint(f: &mut fmt::Formatter<'_>, addr: &SocketAddr, dev: Option<&str>) -> fmt::Result {
    match addr.ip() {
        ip if ip.is_unspecified() => f.write_str("*")?,
        IpAddr::V4(ip) => write!(f, "{ip}")?,
        IpAddr::V6(ip) => write!(f, "[{ip}]")?,
    }
    if let Some(dev) = dev {
        write!(f, "%{dev}")?;
    }
    match addr.port() {
        0 => f.write_str(":*"),
        port => write!(f, ":{port}"),
    }
}

/// The state as `ss` and FreeBSD name it; UDP and unix sockets are only
/// ever listening, connected or not.
pub fn state_name(kind: &Kind, st: u8) -> &'static str {
    let datagramish = matches!(
        kind,
        Kind::Unix { .. }
            | Kind::Inet {
                proto: InetProto::Udp,
                ..
            }
    );
    match st {
        state::ESTABLISHED if datagramish => "CONNECTED",
        state::CLOSE if datagramish => "UNCONN",
        state::ESTABLISHED => "ESTABLISHED",
        state::SYN_SENT => "SYN_SENT",
        state::SYN_RECV => "SYN_RECV",
        state::FIN_WAIT1 => "FIN_WAIT1",
        state::FIN_WAIT2 => "FIN_WAIT2",
        state::TIME_WAIT => "TIME_WAIT",
        state::CLOSE => "CLOSE",
        state::CLOSE_WAIT => "CLOSE_WAIT",
        state::LAST_ACK => "LAST_ACK",
        state::LISTEN => "LISTEN",
        state::CLOSING => "CLOSING",
        state::NEW_SYN_RECV => "NEW_SYN_RECV",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_is_named_in_the_rows_own_process_first() {
        let unix = |inode, peer| SockRecord {
            inode,
            kind: Kind::Unix {
                name: None,
                peer: Peer::Inode(peer),
            },
            state: state::ESTABLISHED,
            recv_q: None,
            send_q: None,
            uid: None,
            details: Default::default(),
        };
        // A socketpair (100, 101) in process 20; a fork, 10, holds 101 too;
        // 102's peer, 103, is held only outside the walk, by 30 and 5.
        let held = [(10, 7, 101), (20, 3, 100), (20, 4, 101), (20, 5, 102)];
        let holders: Vec<Holder> = held
            .iter()
            .map(|&(pid, fd, inode)| Holder { pid, fd, inode })
            .collect();
        let sorted: Vec<&Holder> = holders.iter().collect();
        let more = [
            Holder {
                pid: 30,
                fd: 9,
                inode: 103,
            },
            Holder {
                pid: 5,
                fd: 8,
                inode: 103,
            },
        ];
        let records = [unix(100, 101), unix(101, 100), unix(102, 103)];
        let names = PeerNames::new(&sorted, &more, &records);
        assert_eq!(names.name(Some(20), 101), Some((20, 4)));
        assert_eq!(names.name(Some(10), 100), Some((20, 3)));
        assert_eq!(names.name(None, 101), Some((10, 7)));
        assert_eq!(names.name(Some(20), 103), Some((5, 8)));
        assert_eq!(names.name(Some(20), 999), None);
    }

    #[test]
    fn endpoints() {
        let e = |s: &str| endpoint(&s.parse().unwrap_or(SocketAddr::from(([1, 1, 1, 1], 1))));
        assert_eq!(e("127.0.0.1:7777"), "127.0.0.1:7777");
        assert_eq!(e("0.0.0.0:0"), "*:*");
        assert_eq!(e("0.0.0.0:22"), "*:22");
        assert_eq!(e("[::]:22"), "*:22");
        assert_eq!(e("[::1]:80"), "[::1]:80");
        let on = |s: &str, dev: &str| {
            let addr = s.parse().unwrap_or(SocketAddr::from(([1, 1, 1, 1], 1)));
            Addr::InetOn(addr, dev.into()).to_string()
        };
        assert_eq!(on("127.0.0.1:7777", "lo"), "127.0.0.1%lo:7777");
        assert_eq!(on("[::]:22", "eth0"), "*%eth0:22");
        assert_eq!(on("[fe80::1]:0", "7"), "[fe80::1]%7:*");
    }

    #[test]
    fn dual_stack_is_a_v6_socket_on_any_address_without_v6only() {
        let any: SocketAddr = "[::]:80"
            .parse()
            .unwrap_or(SocketAddr::from(([1, 1, 1, 1], 1)));
        let one: SocketAddr = "[::1]:80".parse().unwrap_or(any);
        let (tcp, udp, v6) = (InetProto::Tcp, InetProto::Udp, IpVersion::V6);
        assert_eq!(inet_proto(tcp, v6, &any, Some(false)), "tcp46");
        assert_eq!(inet_proto(udp, v6, &any, Some(false)), "udp46");
        assert_eq!(inet_proto(tcp, v6, &any, Some(true)), "tcp6");
        assert_eq!(inet_proto(tcp, v6, &any, None), "tcp6");
        assert_eq!(inet_proto(tcp, v6, &one, Some(false)), "tcp6");
        let v4 = SocketAddr::from(([0, 0, 0, 0], 80));
        assert_eq!(inet_proto(tcp, IpVersion::V4, &v4, Some(false)), "tcp4");
    }
}
