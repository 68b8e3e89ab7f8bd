//! What a source (netlink or `/proc/net`) knows about one socket, before it
//! is tied to the fds that hold it.

use super::internals::Internals;
use core::net::SocketAddr;
use std::sync::Arc;

/// The kernel's TCP state numbers (`include/net/tcp_states.h`); UDP and unix
/// sockets reuse them (`ESTABLISHED` = connected, `CLOSE` = not connected).
pub mod state {
    /// `TCP_ESTABLISHED`
    pub const ESTABLISHED: u8 = 1;
    /// `TCP_SYN_SENT`
    pub const SYN_SENT: u8 = 2;
    /// `TCP_SYN_RECV`
    pub const SYN_RECV: u8 = 3;
    /// `TCP_FIN_WAIT1`
    pub const FIN_WAIT1: u8 = 4;
    /// `TCP_FIN_WAIT2`
    pub const FIN_WAIT2: u8 = 5;
    /// `TCP_TIME_WAIT`
    pub const TIME_WAIT: u8 = 6;
    /// `TCP_CLOSE`
    pub const CLOSE: u8 = 7;
    /// `TCP_CLOSE_WAIT`
    pub const CLOSE_WAIT: u8 = 8;
    /// `TCP_LAST_ACK`
    pub const LAST_ACK: u8 = 9;
    /// `TCP_LISTEN`
    pub const LISTEN: u8 = 10;
    /// `TCP_CLOSING`
    pub const CLOSING: u8 = 11;
    /// `TCP_NEW_SYN_RECV`: a request socket; no fd ever holds one.
    pub const NEW_SYN_RECV: u8 = 12;
    /// One past the highest state a dump may be asked for.
    pub const END: u8 = 14;
}

/// IP protocol of an inet socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InetProto {
    /// `IPPROTO_TCP`
    Tcp,
    /// `IPPROTO_UDP`
    Udp,
}

/// The address family of an inet record, as the dump asked for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpVersion {
    /// `AF_INET`
    V4,
    /// `AF_INET6`
    V6,
}

/// A unix socket's peer, as far as the source can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// Not connected to anything.
    None,
    /// Connected, to the socket with this inode.
    Inode(u64),
    /// Connected, but the source does not say to what (`/proc/net/unix`
    /// carries no peer).
    Unknown,
}

/// What kind of socket a record describes, with its addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// TCP or UDP over IPv4 or IPv6.
    Inet {
        /// TCP or UDP.
        proto: InetProto,
        /// IPv4 or IPv6 (an IPv6 socket may carry a v4-mapped address).
        version: IpVersion,
        /// The bound address (`0.0.0.0:0` when unbound).
        local: SocketAddr,
        /// The connected address (`0.0.0.0:0` when none).
        remote: SocketAddr,
    },
    /// An `AF_UNIX` socket.
    Unix {
        /// The bound name, as shown: a path, or `@name` for an abstract name
        /// (NUL bytes inside it shown as `@`, as `/proc/net/unix` does).
        name: Option<Vec<u8>>,
        /// The peer.
        peer: Peer,
    },
}

/// One socket as the kernel describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SockRecord {
    /// The socket's inode: what `/proc/PID/fd/N` names as `socket:[INODE]`.
    /// Zero for sockets no fd can hold (TIME_WAIT, request sockets).
    pub inode: u64,
    /// Protocol, family and addresses.
    pub kind: Kind,
    /// Kernel state number (see [`state`]).
    pub state: u8,
    /// Bytes (or, for a listener, connections) waiting to be read, when known.
    pub recv_q: Option<u64>,
    /// Bytes not yet acknowledged or sent (for a listener, the backlog
    /// `listen` was given), when known.
    pub send_q: Option<u64>,
    /// The uid the socket was created under, when known.
    pub uid: Option<u32>,
    /// What only some sources say; all unknown by default.
    pub details: Details,
}

/// What a record may say beyond the basics: sock_diag knows these,
/// `/proc/net` does not (each is `None` there, shown as unknown).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Details {
    /// The inode of the network namespace whose table listed the socket
    /// (`/proc/PID/ns/net`), filled in by whoever read that table.
    pub netns: Option<u64>,
    /// `INET_DIAG_SKV6ONLY` of an IPv6 socket: whether it refuses IPv4.
    pub v6only: Option<bool>,
    /// `idiag_if`: the index of the device the socket is bound to, 0 for
    /// none (in the socket's own namespace).
    pub dev: Option<u32>,
    /// That device's name, escaped, when the source could look it up.
    pub dev_name: Option<String>,
    /// TCP internals and memory, when `-i` or `-m` asked a source that
    /// knows them; `None` otherwise. Moved to the first row that shows
    /// them, shared with the socket's other rows (a `tcp_info` is 248
    /// bytes, and a listing may have 20,000 of them).
    pub internals: Option<Arc<Internals>>,
    /// Its `SOCK_*` type as the kernel numbers it (`sk_type`).
    pub sock_type: Option<u32>,
    /// The socket cookie: the 64-bit id `sock_gen_cookie()` gives the
    /// `struct sock`, never reused while the system runs (sock_diag only).
    pub cookie: Option<u64>,
    /// The table's TCP-INFO cell (`-i`), when it was written as the dump
    /// reply arrived ([`Diag::cell`]); `internals` is then `None`.
    ///
    /// [`Diag::cell`]: super::netlink::Diag::cell
    pub tcp_info_cell: Option<Cell>,
}

/// A table cell written as a dump arrived: a range of the text all the
/// dump's cells were written into, one after another (one allocation for
/// 20,000 cells, not one each).
#[derive(Clone, Debug)]
pub struct Cell {
    text: Arc<Vec<u8>>,
    start: u32,
    end: u32,
}

impl Cell {
    /// Bytes `start..end` of `text`.
    pub fn new(text: Arc<Vec<u8>>, start: u32, end: u32) -> Self {
        Self { text, start, end }
    }

    /// The cell's text (escaped, as every cell is).
    pub fn as_bytes(&self) -> &[u8] {
        self.text
            .get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }
}

impl PartialEq for Cell {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Cell {}

/// One kind of socket table a source lists: one netlink dump, one
/// `/proc/net` file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// TCP or UDP sockets of one IP version.
    Inet(InetProto, IpVersion),
    /// Unix sockets.
    Unix,
}

impl Table {
    /// Every table, in the order they are read.
    pub const ALL: [Self; 5] = [
        Self::Inet(InetProto::Tcp, IpVersion::V4),
        Self::Inet(InetProto::Tcp, IpVersion::V6),
        Self::Inet(InetProto::Udp, IpVersion::V4),
        Self::Inet(InetProto::Udp, IpVersion::V6),
        Self::Unix,
    ];

    /// Its name in messages (`tcp4`, `unix`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Inet(InetProto::Tcp, IpVersion::V4) => "tcp4",
            Self::Inet(InetProto::Tcp, IpVersion::V6) => "tcp6",
            Self::Inet(InetProto::Udp, IpVersion::V4) => "udp4",
            Self::Inet(InetProto::Udp, IpVersion::V6) => "udp6",
            Self::Unix => "unix",
        }
    }
}
