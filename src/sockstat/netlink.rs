//! The default source: `NETLINK_SOCK_DIAG` dumps (`inet_diag`, `unix_diag`)
//! over a rustix netlink socket, requests built and replies parsed as bytes
//! with bounds checks (the layouts are in `linux/inet_diag.h`,
//! `linux/unix_diag.h` and `linux/netlink.h`).

use super::filter::Filter;
use super::internals::{CaName, Internals, SkMem, TcpInfo};
use super::record::{Cell, Details, InetProto, IpVersion, Kind, Peer, SockRecord, Table};
use crate::error::{Error, Result};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use std::sync::Arc;

const NLMSG_HDRLEN: usize = 16;
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_DUMP_INTR: u16 = 0x10;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// The first inet_diag request type, whose dumps cover both IP versions.
const TCPDIAG_GETSOCK: u16 = 18;
const SOCK_DESTROY: u16 = 21;

const AF_UNIX: u8 = 1;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// `sizeof(struct inet_diag_req_v2)`
const INET_REQ_LEN: usize = 56;
/// `sizeof(struct inet_diag_req)`
const INET_REQ_COMPAT_LEN: usize = 60;
/// `sizeof(struct inet_diag_msg)`
const INET_MSG_LEN: usize = 72;
/// `sizeof(struct unix_diag_req)`
const UNIX_REQ_LEN: usize = 24;
/// `sizeof(struct unix_diag_msg)`
const UNIX_MSG_LEN: usize = 16;

const UDIAG_SHOW_NAME: u32 = 0x01;
const UDIAG_SHOW_PEER: u32 = 0x04;
const UDIAG_SHOW_RQLEN: u32 = 0x10;
const UDIAG_SHOW_MEMINFO: u32 = 0x20;
const UDIAG_SHOW_UID: u32 = 0x40;
const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_PEER: u16 = 2;
const UNIX_DIAG_RQLEN: u16 = 4;
const UNIX_DIAG_MEMINFO: u16 = 5;
const UNIX_DIAG_UID: u16 = 7;
const INET_DIAG_INFO: u16 = 2;
const INET_DIAG_CONG: u16 = 4;
const INET_DIAG_SKMEMINFO: u16 = 7;
const INET_DIAG_SKV6ONLY: u16 = 11;
/// `NLA_TYPE_MASK`: the attribute type without the nested/byte-order flags.
const NLA_TYPE_MASK: u16 = 0x3fff;

/// The kernel packs at most 32 KiB into one dump reply; room for that.
const RECV_BUF: usize = 64 * 1024;

/// A reply payload's parser.
type Parse = fn(&[u8]) -> Option<SockRecord>;

/// What a dump asks for beyond addresses and states.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ask {
    /// Unix sockets' queues and uid (`-e`; inet messages always carry them).
    pub extended: bool,
    /// `tcp_info` and the congestion control (`-i`).
    pub tcp_info: bool,
    /// Socket memory (`-m`).
    pub memory: bool,
}

impl Ask {
    /// `idiag_ext`: one bit per attribute, bit `N - 1` for attribute `N`.
    pub fn inet_ext(self) -> u8 {
        let bit = |attr: u16| 1u8 << (attr - 1);
        let mut ext = 0;
        if self.tcp_info {
            ext |= bit(INET_DIAG_INFO) | bit(INET_DIAG_CONG);
        }
        if self.memory {
            ext |= bit(INET_DIAG_SKMEMINFO);
        }
        ext
    }

    /// `udiag_show`.
    pub fn unix_show(self) -> u32 {
        let mut show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER;
        if self.extended {
            show |= UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID;
        }
        if self.memory {
            show |= UDIAG_SHOW_MEMINFO;
        }
        show
    }

    /// Whether records answer for internals at all (then a record the
    /// kernel sent none for has none, rather than unknown ones).
    fn internals(self) -> bool {
        self.tcp_info || self.memory
    }
}

/// A `NETLINK_SOCK_DIAG` socket and the buffer its replies land in.
pub struct Diag {
    sock: OwnedFd,
    buf: Vec<u8>,
    seq: u32,
    /// The table cell each record's internals are written as, as its reply
    /// arrives, when that is all that is shown of them (a table with `-i`
    /// alone): the internals are then let go, and a 20,000-socket listing
    /// keeps 150 bytes of text a socket instead of 380 (a 248-byte
    /// `tcp_info`), written while the struct is still in the cache.
    pub cell: Option<WriteCell>,
}

/// Appends a record's cell to the text; the record's internals (`None`:
/// the source cannot say).
pub type WriteCell = fn(&mut Vec<u8>, Option<&Internals>);

impl Diag {
    /// `socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)`.
    ///
    /// # Errors
    /// The errno of `socket` (`EAFNOSUPPORT`, `EPROTONOSUPPORT` in a kernel
    /// without sock_diag, `EMFILE`).
    pub fn open() -> Result<Self> {
        let sock = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            Some(netlink::SOCK_DIAG),
        )
        .map_err(|errno| Error::on("socket", "NETLINK_SOCK_DIAG", errno))?;
        Ok(Self {
            sock,
            buf: vec![0u8; RECV_BUF],
            seq: 0,
            cell: None,
        })
    }

    /// Every record of `table` the filter wants, dumped by the kernel with
    /// the filter's family, protocol and states in the request, and the
    /// attributes `ask` names.
    ///
    /// # Errors
    /// The errno of the socket, of a dump the kernel refused (`NLMSG_ERROR`:
    /// `ENOENT` when the diag module for the protocol is missing), or
    /// `EBADMSG` for a reply that does not parse.
    pub fn dump(&mut self, table: Table, filter: &Filter, ask: Ask) -> Result<Vec<SockRecord>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let (request, parse): (_, Parse) = match table {
            Table::Inet(proto, version) => {
                let states = filter.state_mask(Some(proto));
                let request = inet_request(seq, version, proto, states, ask.inet_ext());
                match proto {
                    InetProto::Tcp => (request, |p| parse_inet(p, InetProto::Tcp)),
                    InetProto::Udp => (request, |p| parse_inet(p, InetProto::Udp)),
                }
            }
            Table::Unix => (
                unix_request(seq, filter.state_mask(None), ask.unix_show()),
                parse_unix,
            ),
        };
        self.collect(&request, seq, SOCK_DIAG_BY_FAMILY, filter, ask, parse)
            .map_err(|errno| Error::on("sock_diag dump", table.name(), errno))
    }

    /// Every TCP socket of both IP versions in one dump, through the
    /// kernel's first request type (`TCPDIAG_GETSOCK` with `inet_diag_req`,
    /// which dumps `AF_UNSPEC`): the kernel walks every bucket of the
    /// established hash for each dump, and that hash is one for all
    /// namespaces (262,144 buckets on a 2-CPU machine), so one walk instead
    /// of two is a sixth of a 20,000-socket listing's CPU time.
    ///
    /// # Errors
    /// As [`Diag::dump`].
    pub fn dump_tcp(&mut self, filter: &Filter, ask: Ask) -> Result<Vec<SockRecord>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let states = filter.state_mask(Some(InetProto::Tcp));
        let request = tcp_request(seq, states, ask.inet_ext());
        self.collect(&request, seq, TCPDIAG_GETSOCK, filter, ask, |p| {
            parse_inet(p, InetProto::Tcp)
        })
        .map_err(|errno| Error::on("sock_diag dump", "tcp", errno))
    }

    /// Sends `request` and keeps what `parse` makes of each reply of type
    /// `ours` that the filter wants.
    fn collect(
        &mut self,
        request: &[u8],
        seq: u32,
        ours: u16,
        filter: &Filter,
        ask: Ask,
        parse: impl Fn(&[u8]) -> Option<SockRecord>,
    ) -> core::result::Result<Vec<SockRecord>, Errno> {
        let mut records = Vec::new();
        let cell = self.cell.filter(|_| ask.internals());
        let (mut cells, mut ends) = (Vec::new(), Vec::new());
        let none = Internals::default();
        let mut keep = |record: Option<SockRecord>| {
            if let Some(mut record) = record
                && filter.matches(&record)
            {
                if let Some(write) = cell {
                    let internals = record.details.internals.take();
                    write(&mut cells, Some(internals.as_deref().unwrap_or(&none)));
                    // A dump's text fits in 4 GiB (it arrives 32 KiB a reply).
                    ends.push(u32::try_from(cells.len()).unwrap_or(u32::MAX));
                } else if ask.internals() {
                    record.details.internals.get_or_insert_default();
                }
                records.push(record);
            }
        };
        exchange(&self.sock, request, seq, ours, &mut self.buf, |payload| {
            keep(parse(payload));
        })?;
        if cell.is_some() {
            let cells = Arc::new(cells);
            let mut start = 0;
            for (record, end) in records.iter_mut().zip(ends) {
                record.details.tcp_info_cell = Some(Cell::new(Arc::clone(&cells), start, end));
                start = end;
            }
        }
        // The slack of the last doubling, given back (mremap, no copy).
        records.shrink_to_fit();
        Ok(records)
    }

    /// `SOCK_DESTROY`—the kernel's own abort of one inet socket
    /// (`tcp_abort`: a RST to the peer, `ECONNABORTED` to the holder),
    /// the socket named by its `inet_diag_sockid` as the dump gave it,
    /// cookie included, so no other socket on the same addresses is hit.
    ///
    /// # Errors
    /// `EOPNOTSUPP` in a kernel built without `CONFIG_INET_DIAG_DESTROY`,
    /// `EPERM` without `CAP_NET_ADMIN`, `ENOENT` when the socket is gone
    /// (or its cookie no longer matches), `EINVAL` for a record that is not
    /// an inet socket from a dump.
    ///
    /// # References
    ///  - [sock_diag(7)]
    ///
    /// [sock_diag(7)]: https://man7.org/linux/man-pages/man7/sock_diag.7.html
    pub fn destroy(&mut self, record: &SockRecord) -> core::result::Result<(), Errno> {
        self.seq = self.seq.wrapping_add(1);
        let request = destroy_request(self.seq, record).ok_or(Errno::INVAL)?;
        exchange(
            &self.sock,
            &request,
            self.seq,
            NLMSG_ERROR,
            &mut self.buf,
            |_| {},
        )
    }
}

/// `nlmsghdr` (`SOCK_DESTROY`, with an ack asked for) + `inet_diag_req_v2`
/// naming `record`'s socket exactly; `None` for a record with no cookie or
/// interface (not from a dump) or not an inet socket.
pub fn destroy_request(seq: u32, record: &SockRecord) -> Option<Vec<u8>> {
    let Kind::Inet {
        proto,
        version,
        local,
        remote,
    } = &record.kind
    else {
        return None;
    };
    let (cookie, bound_if) = (record.details.cookie?, record.details.dev?);
    let len = NLMSG_HDRLEN + INET_REQ_LEN;
    let mut out = Vec::with_capacity(len);
    request_header(&mut out, len, SOCK_DESTROY, NLM_F_ACK, seq);
    inet_req_head(&mut out, *version, *proto, 0, u32::MAX);
    out.extend_from_slice(&local.port().to_be_bytes());
    out.extend_from_slice(&remote.port().to_be_bytes());
    for addr in [local.ip(), remote.ip()] {
        let mut words = [0u8; 16];
        match addr {
            IpAddr::V4(ip) => words[..4].copy_from_slice(&ip.octets()),
            IpAddr::V6(ip) => words.copy_from_slice(&ip.octets()),
        }
        out.extend_from_slice(&words);
    }
    out.extend_from_slice(&bound_if.to_ne_bytes());
    out.extend_from_slice(&(cookie as u32).to_ne_bytes());
    out.extend_from_slice(&((cookie >> 32) as u32).to_ne_bytes());
    Some(out)
}

/// `nlmsghdr` (`TCPDIAG_GETSOCK`) + `inet_diag_req` asking for every TCP
/// socket, IPv4 and IPv6, in the `states` bit mask, with the `ext`
/// attributes.
pub fn tcp_request(seq: u32, states: u32, ext: u8) -> Vec<u8> {
    let len = NLMSG_HDRLEN + INET_REQ_COMPAT_LEN;
    let mut out = Vec::with_capacity(len);
    request_header(&mut out, len, TCPDIAG_GETSOCK, NLM_F_DUMP, seq);
    // idiag_family (not used by a dump), src_len, dst_len, idiag_ext.
    out.extend_from_slice(&[AF_INET, 0, 0, ext]);
    out.resize(NLMSG_HDRLEN + 52, 0); // inet_diag_sockid: any
    out.extend_from_slice(&states.to_ne_bytes());
    out.resize(len, 0); // idiag_dbs
    out
}

fn header(out: &mut Vec<u8>, len: usize, seq: u32) {
    request_header(out, len, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, seq);
}

/// An `nlmsghdr` for a request of `len` bytes in all, of type `kind`,
/// with `NLM_F_REQUEST` and `flags`.
pub(crate) fn request_header(out: &mut Vec<u8>, len: usize, kind: u16, flags: u16, seq: u32) {
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
}

/// `nlmsghdr` + `inet_diag_req_v2` asking for every socket of `proto` over
/// `version` in the `states` bit mask, with the `ext` attributes.
pub fn inet_request(
    seq: u32,
    version: IpVersion,
    proto: InetProto,
    states: u32,
    ext: u8,
) -> Vec<u8> {
    let len = NLMSG_HDRLEN + INET_REQ_LEN;
    let mut out = Vec::with_capacity(len);
    header(&mut out, len, seq);
    inet_req_head(&mut out, version, proto, ext, states);
    out.resize(len, 0); // inet_diag_sockid: all zero, i.e. any
    out
}

/// `inet_diag_req_v2` up to its `id`: family, protocol, `idiag_ext`, the
/// pad, `idiag_states`.
fn inet_req_head(out: &mut Vec<u8>, version: IpVersion, proto: InetProto, ext: u8, states: u32) {
    out.push(match version {
        IpVersion::V4 => AF_INET,
        IpVersion::V6 => AF_INET6,
    });
    out.push(match proto {
        InetProto::Tcp => IPPROTO_TCP,
        InetProto::Udp => IPPROTO_UDP,
    });
    out.push(ext);
    out.push(0);
    out.extend_from_slice(&states.to_ne_bytes());
}

/// `nlmsghdr` + `unix_diag_req` asking for every unix socket in `states`,
/// with the `show` attributes.
pub fn unix_request(seq: u32, states: u32, show: u32) -> Vec<u8> {
    let len = NLMSG_HDRLEN + UNIX_REQ_LEN;
    let mut out = Vec::with_capacity(len);
    header(&mut out, len, seq);
    out.push(AF_UNIX);
    out.push(0);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&states.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes()); // udiag_ino: any
    out.extend_from_slice(&show.to_ne_bytes());
    out.resize(len, 0); // udiag_cookie
    out
}

/// Sends `request` and feeds each payload of type `ours` of the reply to
/// `each`, until `NLMSG_DONE` (or, for `ours` `NLMSG_ERROR`, the ack).
fn exchange(
    sock: &OwnedFd,
    request: &[u8],
    seq: u32,
    ours: u16,
    buf: &mut [u8],
    mut each: impl FnMut(&[u8]),
) -> core::result::Result<(), Errno> {
    let kernel = SocketAddrNetlink::new(0, 0);
    crate::io::retry(|| rustix::net::sendto(sock, request, SendFlags::empty(), &kernel))?;
    loop {
        let len = match crate::io::recv_with(sock, &mut *buf, RecvFlags::TRUNC)? {
            (_, full) if full > buf.len() => return Err(Errno::MSGSIZE),
            (len, _) => len,
        };
        if len == 0 {
            return Err(Errno::BADMSG);
        }
        let bytes = buf.get(..len).unwrap_or_default();
        if let Batch::Done = parse_batch_of(bytes, seq, ours, &mut each)? {
            return Ok(());
        }
    }
}

/// Whether a dump goes on after one `recv`'s worth of messages.
#[derive(Debug, PartialEq, Eq)]
pub enum Batch {
    /// More replies follow.
    More,
    /// `NLMSG_DONE` was seen.
    Done,
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn i32_at(bytes: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn align4(len: usize) -> usize {
    len.saturating_add(3) & !3
}

/// Walks the netlink messages in one datagram: payloads of ours go to
/// `each`; `NLMSG_ERROR` with an errno and a negative `NLMSG_DONE` status
/// end the dump with that errno; a header that does not fit is `EBADMSG`.
///
/// # Errors
/// The errno the kernel reported, or `EBADMSG`.
pub fn parse_batch(
    bytes: &[u8],
    seq: u32,
    each: &mut impl FnMut(&[u8]),
) -> core::result::Result<Batch, Errno> {
    parse_batch_of(bytes, seq, SOCK_DIAG_BY_FAMILY, each)
}

/// [`parse_batch`] for replies of type `ours` (`RTM_NEWLINK` for a link);
/// with `ours` `NLMSG_ERROR`, the ack of a request (`NLM_F_ACK`) ends it.
///
/// # Errors
/// The errno the kernel reported, or `EBADMSG`.
pub fn parse_batch_of(
    mut bytes: &[u8],
    seq: u32,
    ours: u16,
    each: &mut impl FnMut(&[u8]),
) -> core::result::Result<Batch, Errno> {
    while !bytes.is_empty() {
        let len = u32_at(bytes, 0).ok_or(Errno::BADMSG)? as usize;
        let kind = u16_at(bytes, 4).ok_or(Errno::BADMSG)?;
        let flags = u16_at(bytes, 6).ok_or(Errno::BADMSG)?;
        let msg_seq = u32_at(bytes, 8).ok_or(Errno::BADMSG)?;
        if len < NLMSG_HDRLEN || len > bytes.len() {
            return Err(Errno::BADMSG);
        }
        let payload = bytes.get(NLMSG_HDRLEN..len).ok_or(Errno::BADMSG)?;
        bytes = bytes
            .get(align4(len).min(bytes.len())..)
            .unwrap_or_default();
        if msg_seq != seq {
            // A late reply to an earlier request; not ours to read.
            continue;
        }
        if flags & NLM_F_DUMP_INTR != 0 {
            log::debug!("netlink dump interrupted by a change; rows may be stale");
        }
        match kind {
            NLMSG_DONE => {
                return match i32_at(payload, 0) {
                    Some(status) if status < 0 => Err(kernel_errno(status)),
                    _ => Ok(Batch::Done),
                };
            }
            NLMSG_ERROR => {
                let status = i32_at(payload, 0).ok_or(Errno::BADMSG)?;
                if status < 0 {
                    return Err(kernel_errno(status));
                }
                // An ack: what a request (never a dump) waits for.
                if ours == NLMSG_ERROR {
                    return Ok(Batch::Done);
                }
            }
            NLMSG_NOOP => {}
            kind if kind == ours => each(payload),
            _ => {}
        }
    }
    Ok(Batch::More)
}

/// A negative status from `NLMSG_ERROR`/`NLMSG_DONE` as an errno; a value
/// no kernel sends (rustix only takes 1–4095) is a malformed reply.
fn kernel_errno(status: i32) -> Errno {
    match status.checked_neg() {
        Some(raw @ 1..=4095) => Errno::from_raw_os_error(raw),
        _ => Errno::BADMSG,
    }
}

/// Feeds each `rtattr` in `attrs` to `each` as its type (without the
/// nested/byte-order flags) and value; `None` when one overruns the bytes
/// left or claims less than its own header. Trailing bytes too few for a
/// header are padding.
pub(crate) fn each_attr(
    mut attrs: &[u8],
    mut each: impl FnMut(u16, &[u8]) -> Option<()>,
) -> Option<()> {
    while attrs.len() >= 4 {
        let len = usize::from(u16_at(attrs, 0)?);
        let kind = u16_at(attrs, 2)? & NLA_TYPE_MASK;
        if len < 4 || len > attrs.len() {
            return None;
        }
        each(kind, attrs.get(4..len)?)?;
        attrs = attrs.get(align4(len).min(attrs.len())..)?;
    }
    Some(())
}

/// An `inet_diag_msg` and its attributes as a record, or `None` when it is
/// too short or of a family we did not ask for.
pub fn parse_inet(msg: &[u8], proto: InetProto) -> Option<SockRecord> {
    if msg.len() < INET_MSG_LEN {
        return None;
    }
    let family = *msg.first()?;
    let st = *msg.get(1)?;
    // inet_diag_sockid: ports and addresses in network byte order.
    let sport = u16::from_be_bytes(msg.get(4..6)?.try_into().ok()?);
    let dport = u16::from_be_bytes(msg.get(6..8)?.try_into().ok()?);
    let src = msg.get(8..24)?;
    let dst = msg.get(24..40)?;
    let (version, local, remote) = match family {
        AF_INET => (
            IpVersion::V4,
            IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(src.get(..4)?).ok()?)),
            IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(dst.get(..4)?).ok()?)),
        ),
        AF_INET6 => (
            IpVersion::V6,
            IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(src).ok()?)),
            IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(dst).ok()?)),
        ),
        _ => return None,
    };
    let rqueue = u32_at(msg, 56)?;
    let wqueue = u32_at(msg, 60)?;
    let uid = u32_at(msg, 64)?;
    let inode = u32_at(msg, 68)?;
    let dev = u32_at(msg, 40)?;
    let cookie = cookie_at(msg, 44)?;
    let mut v6only = None;
    let mut internals = Internals::default();
    // Everything the row needs is in the fixed part: an attribute that
    // overruns ends the walk, and those before it stand.
    let _ = each_attr(msg.get(INET_MSG_LEN..)?, |kind, value| {
        match kind {
            INET_DIAG_SKV6ONLY => v6only = value.first().map(|&only| only != 0).or(v6only),
            INET_DIAG_INFO => internals.tcp_info = Some(TcpInfo::new(value)),
            INET_DIAG_CONG => internals.congestion = CaName::new(value),
            INET_DIAG_SKMEMINFO => internals.skmem = Some(SkMem::new(value)),
            _ => {}
        }
        Some(())
    });
    Some(SockRecord {
        inode: u64::from(inode),
        kind: Kind::Inet {
            proto,
            version,
            local: SocketAddr::new(local, sport),
            remote: SocketAddr::new(remote, dport),
        },
        state: st,
        // For a listener, the accept queue and its limit (listen's backlog),
        // as `ss` shows them.
        recv_q: Some(u64::from(rqueue)),
        send_q: Some(u64::from(wqueue)),
        uid: Some(uid),
        details: Details {
            v6only: v6only.filter(|_| version == IpVersion::V6),
            dev: Some(dev),
            internals: (!internals.is_empty()).then(|| Arc::new(internals)),
            sock_type: Some(match proto {
                InetProto::Tcp => SocketType::STREAM.as_raw(),
                InetProto::Udp => SocketType::DGRAM.as_raw(),
            }),
            cookie: Some(cookie),
            ..Details::default()
        },
    })
}

/// A `__u32 cookie[2]` (low word first) as the one number `SO_COOKIE` gives.
fn cookie_at(msg: &[u8], at: usize) -> Option<u64> {
    Some(u64::from(u32_at(msg, at)?) | u64::from(u32_at(msg, at + 4)?) << 32)
}

/// A `unix_diag_msg` and its attributes as a record, or `None` when it is
/// too short, of another family, or its attributes overrun it.
pub fn parse_unix(msg: &[u8]) -> Option<SockRecord> {
    if msg.len() < UNIX_MSG_LEN || *msg.first()? != AF_UNIX {
        return None;
    }
    let sock_type = *msg.get(1)?;
    let st = *msg.get(2)?;
    let inode = u32_at(msg, 4)?;
    let cookie = cookie_at(msg, 8)?;
    let mut name = None;
    let mut peer = Peer::None;
    let mut queues = None;
    let mut uid = None;
    let mut internals = Internals::default();
    each_attr(msg.get(UNIX_MSG_LEN..)?, |kind, value| {
        match kind {
            UNIX_DIAG_NAME => name = unix_name(value),
            UNIX_DIAG_PEER => {
                let inode = u32_at(value, 0)?;
                if inode != 0 {
                    peer = Peer::Inode(u64::from(inode));
                }
            }
            UNIX_DIAG_RQLEN => queues = Some((u32_at(value, 0)?, u32_at(value, 4)?)),
            UNIX_DIAG_UID => uid = Some(u32_at(value, 0)?),
            UNIX_DIAG_MEMINFO => internals.skmem = Some(SkMem::new(value)),
            _ => {}
        }
        Some(())
    })?;
    Some(SockRecord {
        inode: u64::from(inode),
        kind: Kind::Unix { name, peer },
        state: st,
        recv_q: queues.map(|(r, _)| u64::from(r)),
        // A listener's are its queue of connections and listen's backlog.
        send_q: queues.map(|(_, w)| u64::from(w)),
        uid,
        details: Details {
            internals: (!internals.is_empty()).then(|| Arc::new(internals)),
            sock_type: Some(u32::from(sock_type)),
            cookie: Some(cookie),
            ..Details::default()
        },
    })
}

/// `sun_path` as `/proc/net/unix` shows it: a path up to its NUL, or an
/// abstract name as `@` followed by the name with its NULs shown as `@`.
fn unix_name(path: &[u8]) -> Option<Vec<u8>> {
    match path.split_first() {
        None => None,
        Some((0, abstract_name)) => {
            let mut shown = Vec::with_capacity(path.len());
            shown.push(b'@');
            shown.extend(abstract_name.iter().map(|&b| if b == 0 { b'@' } else { b }));
            Some(shown)
        }
        Some(_) => {
            let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
            path.get(..end).map(<[u8]>::to_vec)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sockstat::record::state;
    use crate::sockstat::testing::{garbage, mutate};

    fn nlmsg(kind: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let len = NLMSG_HDRLEN + payload.len();
        let mut out = Vec::new();
        out.extend_from_slice(&(len as u32).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(&2u16.to_ne_bytes());
        out.extend_from_slice(&seq.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(payload);
        out.resize(align4(out.len()), 0);
        out
    }

    fn inet_msg() -> Vec<u8> {
        let mut m = vec![0u8; INET_MSG_LEN];
        m[0] = AF_INET;
        m[1] = state::ESTABLISHED;
        m[4..6].copy_from_slice(&51234u16.to_be_bytes());
        m[6..8].copy_from_slice(&7777u16.to_be_bytes());
        m[8..12].copy_from_slice(&[127, 0, 0, 1]);
        m[24..28].copy_from_slice(&[127, 0, 0, 2]);
        m[40..44].copy_from_slice(&3u32.to_ne_bytes());
        m[44..48].copy_from_slice(&0x89ab_cdefu32.to_ne_bytes());
        m[48..52].copy_from_slice(&0x0123_4567u32.to_ne_bytes());
        m[56..60].copy_from_slice(&5u32.to_ne_bytes());
        m[60..64].copy_from_slice(&6u32.to_ne_bytes());
        m[64..68].copy_from_slice(&1000u32.to_ne_bytes());
        m[68..72].copy_from_slice(&2983339u32.to_ne_bytes());
        m
    }

    fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(value);
        out.resize(align4(out.len()), 0);
        out
    }

    fn unix_msg() -> Vec<u8> {
        let mut m = vec![0u8; UNIX_MSG_LEN];
        m[0] = AF_UNIX;
        m[1] = 1;
        m[2] = state::ESTABLISHED;
        m[4..8].copy_from_slice(&2983400u32.to_ne_bytes());
        m[8..12].copy_from_slice(&7u32.to_ne_bytes());
        m.extend(attr(UNIX_DIAG_NAME, b"/run/app.sock\0"));
        m.extend(attr(UNIX_DIAG_PEER, &2983401u32.to_ne_bytes()));
        m.extend(attr(UNIX_DIAG_RQLEN, &[1, 0, 0, 0, 2, 0, 0, 0]));
        m
    }

    #[test]
    fn requests_have_the_kernel_layout() {
        let req = inet_request(7, IpVersion::V6, InetProto::Udp, 0xff, 0x4a);
        assert_eq!(req.len(), 72);
        assert_eq!(u32_at(&req, 0), Some(72));
        assert_eq!(u16_at(&req, 4), Some(SOCK_DIAG_BY_FAMILY));
        assert_eq!(u32_at(&req, 8), Some(7));
        assert_eq!(&req[16..19], &[AF_INET6, IPPROTO_UDP, 0x4a]);
        assert_eq!(u32_at(&req, 20), Some(0xff));
        // inet_diag_req: family, src_len, dst_len, ext, 48 bytes of
        // inet_diag_sockid, states, dbs.
        let req = tcp_request(3, 0xffe, 0x4a);
        assert_eq!(req.len(), 76);
        assert_eq!(u32_at(&req, 0), Some(76));
        assert_eq!(u16_at(&req, 4), Some(TCPDIAG_GETSOCK));
        assert_eq!(u16_at(&req, 6), Some(NLM_F_REQUEST | NLM_F_DUMP));
        assert_eq!(&req[16..20], &[AF_INET, 0, 0, 0x4a]);
        assert_eq!(u32_at(&req, 68), Some(0xffe));
        assert_eq!(u32_at(&req, 72), Some(0));
        let req = unix_request(1, 0x400, UDIAG_SHOW_NAME);
        assert_eq!(req.len(), 40);
        assert_eq!(u32_at(&req, 20), Some(0x400));
        assert_eq!(u32_at(&req, 28), Some(UDIAG_SHOW_NAME));
    }

    #[test]
    fn inet_and_unix_messages() {
        let rec = parse_inet(&inet_msg(), InetProto::Tcp);
        let Some(rec) = rec else { panic!("no record") };
        assert_eq!(rec.inode, 2983339);
        assert_eq!(rec.uid, Some(1000));
        assert_eq!((rec.recv_q, rec.send_q), (Some(5), Some(6)));
        assert_eq!(rec.details.cookie, Some(0x0123_4567_89ab_cdef));
        assert_eq!(rec.details.dev, Some(3));
        assert_eq!(rec.details.sock_type, Some(SocketType::STREAM.as_raw()));
        let Kind::Inet { local, remote, .. } = rec.kind else {
            panic!("not inet")
        };
        assert_eq!(local.to_string(), "127.0.0.1:51234");
        assert_eq!(remote.to_string(), "127.0.0.2:7777");

        let Some(rec) = parse_unix(&unix_msg()) else {
            panic!("no record")
        };
        assert_eq!(
            rec.kind,
            Kind::Unix {
                name: Some(b"/run/app.sock".to_vec()),
                peer: Peer::Inode(2983401)
            }
        );
        assert_eq!((rec.recv_q, rec.send_q), (Some(1), Some(2)));
        assert_eq!(
            (rec.details.cookie, rec.details.sock_type),
            (Some(7), Some(1))
        );
        assert_eq!(unix_name(b"\0ab\0c"), Some(b"@ab@c".to_vec()));
    }

    #[test]
    fn internals_come_from_their_attributes() {
        let ask = Ask {
            extended: false,
            tcp_info: true,
            memory: true,
        };
        // INET_DIAG_INFO (2) and _CONG (4) are bits 1 and 3, _SKMEMINFO (7) bit 6.
        assert_eq!(ask.inet_ext(), 0x4a);
        assert_eq!(ask.unix_show() & UDIAG_SHOW_MEMINFO, UDIAG_SHOW_MEMINFO);
        assert_eq!(Ask::default().inet_ext(), 0);
        let mut info = vec![0u8; 300];
        info[80..84].copy_from_slice(&10u32.to_ne_bytes());
        let mut m = inet_msg();
        m.extend(attr(99, b"unknown attributes are skipped"));
        m.extend(attr(INET_DIAG_INFO, &info));
        m.extend(attr(INET_DIAG_CONG, b"cubic\0"));
        m.extend(attr(INET_DIAG_SKMEMINFO, &[7u8; 36]));
        let Some(rec) = parse_inet(&m, InetProto::Tcp) else {
            panic!("no record")
        };
        let Some(internals) = rec.details.internals.as_deref() else {
            panic!("no internals")
        };
        let cwnd = internals
            .tcp_info
            .as_ref()
            .and_then(|i| i.get(crate::sockstat::internals::tcp::SND_CWND));
        assert_eq!(cwnd, Some(10));
        assert_eq!(
            internals.congestion.map(|c| c.escaped()).as_deref(),
            Some("cubic")
        );
        let rcvbuf = internals
            .skmem
            .as_ref()
            .and_then(|i| i.get(crate::sockstat::internals::mem::RCVBUF));
        assert_eq!(rcvbuf, Some(u64::from(u32::from_ne_bytes([7; 4]))));
        // No attributes: nothing known beyond the message.
        assert_eq!(
            parse_inet(&inet_msg(), InetProto::Tcp).map(|r| r.details.internals),
            Some(None)
        );
        // An attribute that overruns: the record stands with those before it.
        let mut cut = inet_msg();
        cut.extend(attr(INET_DIAG_CONG, b"bbr\0"));
        cut.extend_from_slice(&[200, 0, 2, 0, 1, 2]);
        let rec = parse_inet(&cut, InetProto::Tcp).and_then(|r| r.details.internals);
        assert_eq!(
            rec.and_then(|i| i.congestion)
                .map(|c| c.escaped())
                .as_deref(),
            Some("bbr")
        );
        let mut unix = unix_msg();
        unix.extend(attr(UNIX_DIAG_MEMINFO, &[1u8; 20]));
        let skmem = parse_unix(&unix).and_then(|r| r.details.internals?.skmem.clone());
        assert_eq!(skmem.as_ref().map(|m| m.len()), Some(20));
        assert_eq!(
            skmem.and_then(|m| m.get(crate::sockstat::internals::mem::DROPS)),
            None
        );
    }

    #[test]
    fn batches_end_with_done_or_error() {
        let mut bytes = nlmsg(SOCK_DIAG_BY_FAMILY, 3, &inet_msg());
        bytes.extend(nlmsg(SOCK_DIAG_BY_FAMILY, 2, &inet_msg())); // stale
        bytes.extend(nlmsg(NLMSG_DONE, 3, &0i32.to_ne_bytes()));
        let mut seen = 0;
        let got = parse_batch(&bytes, 3, &mut |_| seen += 1);
        assert_eq!(got, Ok(Batch::Done));
        assert_eq!(seen, 1);
        let err = nlmsg(NLMSG_ERROR, 3, &(-22i32).to_ne_bytes());
        assert_eq!(parse_batch(&err, 3, &mut |_| {}), Err(Errno::INVAL));
        let odd = nlmsg(NLMSG_ERROR, 3, &(-100_000i32).to_ne_bytes());
        assert_eq!(parse_batch(&odd, 3, &mut |_| {}), Err(Errno::BADMSG));
        let odd = nlmsg(NLMSG_DONE, 3, &i32::MIN.to_ne_bytes());
        assert_eq!(parse_batch(&odd, 3, &mut |_| {}), Err(Errno::BADMSG));
        let more = nlmsg(SOCK_DIAG_BY_FAMILY, 3, &inet_msg());
        assert_eq!(parse_batch(&more, 3, &mut |_| {}), Ok(Batch::More));
        // An ack goes unnoticed in a dump, and ends a request that asked for it.
        let ack = nlmsg(NLMSG_ERROR, 3, &0i32.to_ne_bytes());
        assert_eq!(parse_batch(&ack, 3, &mut |_| {}), Ok(Batch::More));
        let acked = parse_batch_of(&ack, 3, NLMSG_ERROR, &mut |_| {});
        assert_eq!(acked, Ok(Batch::Done));
        let stale_ack = nlmsg(NLMSG_ERROR, 2, &0i32.to_ne_bytes());
        let stale = parse_batch_of(&stale_ack, 3, NLMSG_ERROR, &mut |_| {});
        assert_eq!(stale, Ok(Batch::More));
    }

    #[test]
    fn a_destroy_request_names_the_dumped_socket_exactly() {
        let Some(rec) = parse_inet(&inet_msg(), InetProto::Tcp) else {
            panic!("no record")
        };
        let Some(req) = destroy_request(9, &rec) else {
            panic!("no request")
        };
        assert_eq!(req.len(), NLMSG_HDRLEN + INET_REQ_LEN);
        assert_eq!(u32_at(&req, 0), Some(72));
        assert_eq!(u16_at(&req, 4), Some(SOCK_DESTROY));
        assert_eq!(u16_at(&req, 6), Some(NLM_F_REQUEST | NLM_F_ACK));
        assert_eq!(u32_at(&req, 8), Some(9));
        assert_eq!(&req[16..18], &[AF_INET, IPPROTO_TCP]);
        // The inet_diag_sockid, byte for byte as the dump carried it.
        assert_eq!(&req[16 + 8..16 + 56], &inet_msg()[4..52]);
        let mut no_cookie = rec.clone();
        no_cookie.details.cookie = None;
        assert_eq!(destroy_request(1, &no_cookie), None);
        let Some(unix) = parse_unix(&unix_msg()) else {
            panic!("no record")
        };
        assert_eq!(destroy_request(1, &unix), None);
        let mut v6 = inet_msg();
        v6[0] = AF_INET6;
        v6[8..24].copy_from_slice(&Ipv6Addr::LOCALHOST.octets());
        let Some(rec6) = parse_inet(&v6, InetProto::Tcp) else {
            panic!("no v6 record")
        };
        let req6 = destroy_request(2, &rec6).unwrap_or_default();
        assert_eq!(&req6[16 + 8..16 + 56], &v6[4..52]);
    }

    #[test]
    fn truncated_oversized_and_garbage_input_never_panics() {
        let mut bytes = nlmsg(SOCK_DIAG_BY_FAMILY, 1, &inet_msg());
        bytes.extend(nlmsg(SOCK_DIAG_BY_FAMILY, 1, &unix_msg()));
        bytes.extend(nlmsg(NLMSG_DONE, 1, &0i32.to_ne_bytes()));
        let mut each = |payload: &[u8]| {
            let _ = parse_inet(payload, InetProto::Tcp);
            let _ = parse_unix(payload);
        };
        for cut in 0..bytes.len() {
            let _ = parse_batch(&bytes[..cut], 1, &mut each);
        }
        for msg in [inet_msg(), unix_msg()] {
            for cut in 0..msg.len() {
                let _ = parse_inet(&msg[..cut], InetProto::Udp);
                let _ = parse_unix(&msg[..cut]);
            }
        }
        // Lengths that claim more than is there, or wrap.
        let mut lying = nlmsg(SOCK_DIAG_BY_FAMILY, 1, &unix_msg());
        lying[0..4].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert_eq!(parse_batch(&lying, 1, &mut each), Err(Errno::BADMSG));
        let mut attr_lie = unix_msg();
        attr_lie[UNIX_MSG_LEN..UNIX_MSG_LEN + 2].copy_from_slice(&u16::MAX.to_ne_bytes());
        assert_eq!(parse_unix(&attr_lie), None);
        let mut huge = inet_msg();
        huge.extend(std::iter::repeat_n(0xAB, 200_000));
        assert!(parse_inet(&huge, InetProto::Tcp).is_some());
        for seed in 0..20_000 {
            let _ = parse_batch(&mutate(seed, &bytes), 1, &mut each);
            let _ = parse_unix(&mutate(seed, &unix_msg()));
            let _ = parse_inet(&mutate(seed, &inet_msg()), InetProto::Tcp);
        }
        for seed in 0..5000 {
            let mut noise = garbage(seed, &[0, 1, 2, 3, 4, 16, 20, 255]);
            let _ = parse_batch(&noise, 0, &mut each);
            let _ = parse_inet(&noise, InetProto::Tcp);
            let _ = parse_unix(&noise);
            if noise.len() >= 16 {
                let len = noise.len() as u32;
                noise[0..4].copy_from_slice(&len.to_ne_bytes());
                noise[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
                noise[8..12].copy_from_slice(&0u32.to_ne_bytes());
                let _ = parse_batch(&noise, 0, &mut each);
            }
            let mut framed = unix_msg();
            framed.extend(&noise);
            let _ = parse_unix(&framed);
        }
    }
}
