//! sockstat's sock_diag reply parser: dumps built from drawn replies parse
//! back and never finish early, and any bytes give an errno or sensible
//! records.

use super::draw::Draw;
use super::records::{inet_record_sane, unix_record_sane};
use core::net::SocketAddr;
use sockkit::sockstat::internals::CaName;
use sockkit::sockstat::netlink;
use sockkit::sockstat::record::{Details, InetProto, IpVersion, Kind, Peer, SockRecord};
use std::sync::Arc;

/// `EBADMSG`: what the netlink parser says of a reply that does not parse.
const EBADMSG: i32 = 74;
const NLMSG_HDRLEN: usize = 16;
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_MULTI: u16 = 2;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const AF_UNIX: u8 = 1;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
/// `sizeof(struct inet_diag_msg)`, `sizeof(struct unix_diag_msg)`.
const INET_DIAG_MSG: usize = 72;
const UNIX_DIAG_MSG: usize = 16;
const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_PEER: u16 = 2;
const UNIX_DIAG_RQLEN: u16 = 4;
const UNIX_DIAG_UID: u16 = 7;

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// `nlmsghdr` + payload, padded to `NLMSG_ALIGNTO`.
pub fn nlmsg(kind: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(NLMSG_HDRLEN + payload.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(payload.len() + 20);
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&NLM_F_MULTI.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&4242u32.to_ne_bytes()); // nlmsg_pid
    out.extend_from_slice(payload);
    pad4(&mut out);
    out
}

/// One `inet_diag_msg` with the fields sockstat reads, and noise in those
/// it does not (timer, retransmits, expiry, and the
/// unused twelve bytes of an IPv4 address).
#[derive(Clone, Debug)]
pub struct InetMsg {
    pub v6: bool,
    pub proto: InetProto,
    pub state: u8,
    pub sport: u16,
    pub dport: u16,
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub rqueue: u32,
    pub wqueue: u32,
    pub uid: u32,
    pub inode: u32,
    pub noise: u8,
}

impl InetMsg {
    pub fn draw(draw: &mut Draw<'_>) -> Self {
        Self {
            v6: draw.bool(),
            proto: if draw.bool() {
                InetProto::Tcp
            } else {
                InetProto::Udp
            },
            state: draw.u8(),
            sport: draw.u16(),
            dport: draw.u16(),
            src: draw.array(),
            dst: draw.array(),
            rqueue: draw.u32(),
            wqueue: draw.u32(),
            uid: draw.u32(),
            inode: draw.u32(),
            noise: draw.u8(),
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut m = vec![self.noise; INET_DIAG_MSG];
        m[0] = if self.v6 { AF_INET6 } else { AF_INET };
        m[1] = self.state;
        m[4..6].copy_from_slice(&self.sport.to_be_bytes());
        m[6..8].copy_from_slice(&self.dport.to_be_bytes());
        m[8..24].copy_from_slice(&self.src);
        m[24..40].copy_from_slice(&self.dst);
        m[56..60].copy_from_slice(&self.rqueue.to_ne_bytes());
        m[60..64].copy_from_slice(&self.wqueue.to_ne_bytes());
        m[64..68].copy_from_slice(&self.uid.to_ne_bytes());
        m[68..72].copy_from_slice(&self.inode.to_ne_bytes());
        m
    }

    pub fn record(&self) -> SockRecord {
        let (version, ip): (IpVersion, fn(&[u8; 16]) -> core::net::IpAddr) = if self.v6 {
            (IpVersion::V6, |b| core::net::IpAddr::from(*b))
        } else {
            (IpVersion::V4, |b| {
                core::net::IpAddr::from([b[0], b[1], b[2], b[3]])
            })
        };
        SockRecord {
            inode: u64::from(self.inode),
            kind: Kind::Inet {
                proto: self.proto,
                version,
                local: SocketAddr::new(ip(&self.src), self.sport),
                remote: SocketAddr::new(ip(&self.dst), self.dport),
            },
            state: self.state,
            recv_q: Some(u64::from(self.rqueue)),
            // A listener's are its accept queue and backlog.
            send_q: Some(u64::from(self.wqueue)),
            uid: Some(self.uid),
            details: Details {
                // idiag_if and the cookie are among the noise.
                dev: Some(u32::from_ne_bytes([self.noise; 4])),
                cookie: Some(u64::from_ne_bytes([self.noise; 8])),
                sock_type: Some(super::records::sock_type(self.proto)),
                ..Details::default()
            },
        }
    }
}

/// A unix socket's name in `UNIX_DIAG_NAME`.
#[derive(Clone, Debug)]
pub enum UnixName {
    /// A path (no NUL inside), with or without the NUL after it.
    Path(Vec<u8>, bool),
    /// An abstract name: a NUL, then any bytes.
    Abstract(Vec<u8>),
}

/// One `unix_diag_msg` and its attributes, in `order`, with attributes
/// sockstat does not read (`UNIX_DIAG_VFS`, `_ICONS`,
/// `_SHUTDOWN`, newer ones) among them.
#[derive(Clone, Debug)]
pub struct UnixMsg {
    pub kind: u8,
    pub state: u8,
    pub inode: u32,
    pub name: Option<UnixName>,
    pub peer: Option<u32>,
    pub queues: Option<(u32, u32)>,
    pub uid: Option<u32>,
    pub others: Vec<(u16, Vec<u8>)>,
    pub order: u32,
}

impl UnixMsg {
    pub fn draw(draw: &mut Draw<'_>) -> Self {
        let kind = draw.u8();
        let state = draw.u8();
        let inode = draw.u32();
        let name = match draw.u8() % 3 {
            0 => None,
            1 => {
                let path: Vec<u8> = draw.bytes(108).iter().map(|&b| b.max(1)).collect();
                let path = if path.is_empty() { vec![b'/'] } else { path };
                Some(UnixName::Path(path, draw.bool()))
            }
            _ => Some(UnixName::Abstract(draw.bytes(107).to_vec())),
        };
        let peer = draw.bool().then(|| draw.u32());
        let queues = draw.bool().then(|| (draw.u32(), draw.u32()));
        let uid = draw.bool().then(|| draw.u32());
        let others = (0..draw.u8() % 4)
            .map(|_| {
                let kind = [1, 3, 6, 8, 9, 10, 200][usize::from(draw.u8() % 7)];
                (kind, draw.bytes(40).to_vec())
            })
            .collect();
        Self {
            kind,
            state,
            inode,
            name,
            peer,
            queues,
            uid,
            others,
            order: draw.u32(),
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut m = vec![0u8; UNIX_DIAG_MSG];
        m[0] = AF_UNIX;
        m[1] = self.kind;
        m[2] = self.state;
        m[4..8].copy_from_slice(&self.inode.to_ne_bytes());
        m[8..16].copy_from_slice(&self.order.to_ne_bytes().repeat(2)); // cookie
        let mut attrs: Vec<(u16, Vec<u8>)> = self.others.clone();
        if let Some(name) = &self.name {
            let value = match name {
                UnixName::Path(path, nul) => {
                    let mut v = path.clone();
                    if *nul {
                        v.push(0);
                    }
                    v
                }
                UnixName::Abstract(name) => [&[0u8][..], name].concat(),
            };
            attrs.push((UNIX_DIAG_NAME, value));
        }
        if let Some(peer) = self.peer {
            attrs.push((UNIX_DIAG_PEER, peer.to_ne_bytes().to_vec()));
        }
        if let Some((r, w)) = self.queues {
            attrs.push((UNIX_DIAG_RQLEN, [r.to_ne_bytes(), w.to_ne_bytes()].concat()));
        }
        if let Some(uid) = self.uid {
            attrs.push((UNIX_DIAG_UID, uid.to_ne_bytes().to_vec()));
        }
        // A deterministic shuffle: the kernel's order is not a contract.
        let mut seed = self.order;
        for i in (1..attrs.len()).rev() {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            attrs.swap(i, (seed >> 16) as usize % (i + 1));
        }
        for (kind, value) in attrs {
            let len = u16::try_from(4 + value.len()).unwrap_or(u16::MAX);
            m.extend_from_slice(&len.to_ne_bytes());
            m.extend_from_slice(&kind.to_ne_bytes());
            m.extend_from_slice(&value);
            pad4(&mut m);
        }
        m
    }

    pub fn record(&self) -> SockRecord {
        let name = self.name.as_ref().map(|name| match name {
            UnixName::Path(path, _) => path.clone(),
            UnixName::Abstract(name) => std::iter::once(b'@')
                .chain(name.iter().map(|&b| if b == 0 { b'@' } else { b }))
                .collect(),
        });
        let peer = match self.peer {
            None | Some(0) => Peer::None,
            Some(inode) => Peer::Inode(u64::from(inode)),
        };
        SockRecord {
            inode: u64::from(self.inode),
            kind: Kind::Unix { name, peer },
            state: self.state,
            recv_q: self.queues.map(|(r, _)| u64::from(r)),
            send_q: self.queues.map(|(_, w)| u64::from(w)),
            uid: self.uid,
            details: Details {
                sock_type: Some(u32::from(self.kind)),
                cookie: Some(u64::from(self.order) | u64::from(self.order) << 32),
                ..Details::default()
            },
        }
    }
}

/// One reply of a dump.
#[derive(Clone, Debug)]
pub enum Reply {
    Inet(InetMsg),
    Unix(UnixMsg),
}

impl Reply {
    pub fn draw(draw: &mut Draw<'_>) -> Self {
        if draw.bool() {
            Self::Inet(InetMsg::draw(draw))
        } else {
            Self::Unix(UnixMsg::draw(draw))
        }
    }

    fn bytes(&self) -> Vec<u8> {
        match self {
            Self::Inet(m) => m.bytes(),
            Self::Unix(m) => m.bytes(),
        }
    }

    fn record(&self) -> SockRecord {
        match self {
            Self::Inet(m) => m.record(),
            Self::Unix(m) => m.record(),
        }
    }

    fn parse(&self, payload: &[u8]) -> Option<SockRecord> {
        match self {
            Self::Inet(m) => netlink::parse_inet(payload, m.proto),
            Self::Unix(_) => netlink::parse_unix(payload),
        }
    }
}

/// Runs `parse_batch`, collecting the payloads it hands on.
fn batch(bytes: &[u8], seq: u32) -> (Result<netlink::Batch, i32>, Vec<Vec<u8>>) {
    let mut payloads = Vec::new();
    let result = netlink::parse_batch(bytes, seq, &mut |p: &[u8]| payloads.push(p.to_vec()));
    (result.map_err(|e| e.raw_os_error()), payloads)
}

/// A dump reply built from `replies` (each in its own message of `seq`,
/// with stale replies to another request, `NLMSG_NOOP`s and ACKs between
/// them as `extras` says), ended by `NLMSG_DONE` with status `end` (a
/// negative odd status) or by an `NLMSG_ERROR` (a negative even one):
/// - parses back to exactly those payloads and records, then `Done` (or the
///   errno; `EBADMSG` for a status no kernel sends);
/// - without its last message it is `More`, with the same records;
/// - cut short anywhere, it is never `Done`: `More` at a message boundary,
///   else `EBADMSG`, and only whole payloads, in order, reach the caller;
/// - a byte overwritten anywhere: no panic, only records that make sense.
pub fn round_trip(seq: u32, replies: &[Reply], end: i32, extras: &[u8]) {
    let mut bytes = Vec::new();
    let stale = seq.wrapping_add(1);
    for (i, reply) in replies.iter().enumerate() {
        let payload = reply.bytes();
        match extras.get(i).map_or(0, |e| e % 4) {
            1 => bytes.extend(nlmsg(SOCK_DIAG_BY_FAMILY, stale, &payload)),
            2 => bytes.extend(nlmsg(NLMSG_NOOP, seq, &[])),
            3 => bytes.extend(nlmsg(NLMSG_ERROR, seq, &[0u8; 20])), // an ACK
            _ => {}
        }
        bytes.extend(nlmsg(SOCK_DIAG_BY_FAMILY, seq, &payload));
    }
    let body_len = bytes.len();
    if end < 0 && end % 2 == 0 {
        // `struct nlmsgerr`: the status, then the request's header.
        let mut error = end.to_ne_bytes().to_vec();
        error.extend_from_slice(&nlmsg(SOCK_DIAG_BY_FAMILY, seq, &[])[..16]);
        bytes.extend(nlmsg(NLMSG_ERROR, seq, &error));
    } else {
        // A dump that fails part-way ends with a negative NLMSG_DONE status.
        bytes.extend(nlmsg(NLMSG_DONE, seq, &end.to_ne_bytes()));
    }

    let want_payloads: Vec<Vec<u8>> = replies.iter().map(Reply::bytes).collect();
    let (result, payloads) = batch(&bytes, seq);
    let want_end = match end.checked_neg() {
        _ if end >= 0 => Ok(netlink::Batch::Done),
        Some(raw @ 1..=4095) => Err(raw),
        _ => Err(EBADMSG),
    };
    assert_eq!(result, want_end, "end {end}");
    assert_eq!(payloads, want_payloads);
    for (reply, payload) in replies.iter().zip(&payloads) {
        assert_eq!(reply.parse(payload), Some(reply.record()), "{reply:?}");
    }
    any_bytes(&bytes, seq);

    let (result, payloads) = batch(&bytes[..body_len], seq);
    assert_eq!(result, Ok(netlink::Batch::More));
    assert_eq!(payloads, want_payloads);

    let cut = extras
        .get(replies.len())
        .map_or(0, |&c| usize::from(c) * bytes.len() / 256);
    for cut in [cut, bytes.len().saturating_sub(1), body_len / 2] {
        let (result, payloads) = batch(&bytes[..cut], seq);
        assert!(
            matches!(result, Ok(netlink::Batch::More) | Err(EBADMSG)),
            "cut at {cut} of {}: {result:?}",
            bytes.len()
        );
        assert!(payloads.len() <= want_payloads.len());
        assert_eq!(
            payloads[..],
            want_payloads[..payloads.len()],
            "cut at {cut}"
        );
    }

    if let [at_hi, at_lo, value, ..] = *extras.get(replies.len() + 1..).unwrap_or_default() {
        let mut broken = bytes.clone();
        if !broken.is_empty() {
            let at = usize::from(u16::from_le_bytes([at_lo, at_hi])) % broken.len();
            broken[at] = value;
            any_bytes(&broken, seq);
        }
    }
}

/// Any bytes as one `recv`'s worth of netlink messages: no panic; an error
/// is `EBADMSG` or an errno a kernel can send; every payload handed on lies
/// within the input, and parses (as inet and as unix) to nothing or to a
/// record that makes sense.
pub fn any_bytes(bytes: &[u8], seq: u32) {
    let (result, payloads) = batch(bytes, seq);
    if let Err(raw) = result {
        assert!((1..=4095).contains(&raw), "errno {raw}");
    }
    let total: usize = payloads.iter().map(|p| p.len() + NLMSG_HDRLEN).sum();
    assert!(
        total <= bytes.len(),
        "{total} payload bytes from {}",
        bytes.len()
    );
    for payload in &payloads {
        any_payload(payload);
    }
}

/// Any bytes as one `SOCK_DIAG_BY_FAMILY` payload, read as an inet and as a
/// unix message: nothing, or a record that agrees with the bytes.
pub fn any_payload(payload: &[u8]) {
    for proto in [InetProto::Tcp, InetProto::Udp] {
        if let Some(record) = netlink::parse_inet(payload, proto) {
            assert!(payload.len() >= INET_DIAG_MSG);
            let version = match payload[0] {
                AF_INET => IpVersion::V4,
                AF_INET6 => IpVersion::V6,
                family => panic!("record from family {family}: {record:?}"),
            };
            inet_record_sane(&record, proto, version);
            internals_sane(&record);
            assert_eq!(record.state, payload[1]);
            let inode = u32::from_ne_bytes([payload[68], payload[69], payload[70], payload[71]]);
            assert_eq!(record.inode, u64::from(inode));
        }
    }
    if let Some(record) = netlink::parse_unix(payload) {
        assert!(payload.len() >= UNIX_DIAG_MSG && payload[0] == AF_UNIX);
        unix_record_sane(&record);
        internals_sane(&record);
        // A path ends at its NUL; an abstract name shows its NULs as `@`.
        let Kind::Unix { name, .. } = &record.kind else {
            unreachable!()
        };
        assert!(!name.as_ref().is_some_and(|n| n.contains(&0)), "{record:?}");
        assert_eq!(record.state, payload[2]);
        let inode = u32::from_ne_bytes([payload[4], payload[5], payload[6], payload[7]]);
        assert_eq!(record.inode, u64::from(inode));
    }
}

/// The `netlink` fuzz target's input: the first byte picks a raw datagram,
/// a raw payload, a dump built from drawn replies, a message with drawn
/// attributes ([`attributes_input`]), or a link reply
/// ([`super::links::input`]).
pub fn input(data: &[u8]) {
    let mut draw = Draw::new(data);
    // 0-2 pick what they picked before attributes and links were fuzzed:
    // the inputs kept in fuzz/regressions/netlink/ still mean what they did.
    match draw.u8() % 5 {
        3 => attributes_input(draw.rest()),
        4 => super::links::input(draw.rest()),
        0 => {
            let seq = draw.u32();
            any_bytes(draw.rest(), seq);
        }
        1 => any_payload(draw.rest()),
        _ => {
            let seq = draw.u32();
            let end = match draw.u8() % 4 {
                0 => -i32::from(draw.u16()),
                1 => draw.u32() as i32,
                _ => 0,
            };
            let replies: Vec<Reply> = (0..draw.u8() % 8).map(|_| Reply::draw(&mut draw)).collect();
            round_trip(seq, &replies, end, draw.rest());
        }
    }
}

// The attributes `-i`, `-m` and the dual-stack and device checks read.
// Their layouts are written here from `linux/inet_diag.h`, `linux/tcp.h`
// and `linux/sock_diag.h`, not taken from the parser's tables.

const INET_DIAG_INFO: u16 = 2;
const INET_DIAG_CONG: u16 = 4;
const INET_DIAG_SKMEMINFO: u16 = 7;
const INET_DIAG_SKV6ONLY: u16 = 11;
const UNIX_DIAG_MEMINFO: u16 = 5;
/// `sizeof(struct tcp_info)` through `tcpi_total_rto_time` (Linux 6.7).
const TCP_INFO_KNOWN: usize = 248;
/// `SK_MEMINFO_VARS` (9) `__u32`s.
const SKMEM_KNOWN: usize = 36;
/// `TCP_CA_NAME_MAX`.
const CA_NAME_MAX: usize = 16;
/// Attribute types an inet_diag reply may carry that sockstat skips:
/// MEMINFO, VEGASINFO, TOS, TCLASS, SHUTDOWN, DCTCPINFO, PROTOCOL, LOCALS,
/// PEERS, PAD, MARK, BBRINFO, CLASS_ID, MD5SIG, ULP_INFO, BPF storages,
/// CGROUP_ID, SOCKOPT, and types no kernel has yet.
const SKIPPED_INET: [u16; 20] = [
    1, 3, 5, 6, 8, 9, 10, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 200,
];

/// Some fields of `struct tcp_info`: name, offset, width in bytes.
const TCP_INFO_FIELDS: [(&str, usize, usize); 14] = [
    ("state", 0, 1),
    ("retransmits", 2, 1),
    ("snd_mss", 16, 4),
    ("unacked", 24, 4),
    ("lost", 32, 4),
    ("rtt", 68, 4),
    ("rttvar", 72, 4),
    ("snd_cwnd", 80, 4),
    ("bytes_acked", 120, 8),
    ("bytes_received", 128, 8),
    ("min_rtt", 148, 4),
    ("delivery_rate", 160, 8),
    ("total_rto", 240, 2),
    ("total_rto_time", 244, 4),
];

/// `rtattr` + value, padded.
fn rtattr(kind: u16, value: &[u8]) -> Vec<u8> {
    let len = u16::try_from(4 + value.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(value.len() + 8);
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    pad4(&mut out);
    out
}

/// A field of `len` bytes at `offset` of `bytes`, in host order, if the
/// bytes reach its end.
fn field(bytes: &[u8], offset: usize, len: usize) -> Option<u64> {
    let raw = bytes.get(offset..offset + len)?;
    let mut wide = [0u8; 8];
    if cfg!(target_endian = "little") {
        wide[..len].copy_from_slice(raw);
        Some(u64::from_le_bytes(wide))
    } else {
        wide[8 - len..].copy_from_slice(raw);
        Some(u64::from_be_bytes(wide))
    }
}

/// How an attribute area ends.
#[derive(Clone, Copy, Debug)]
pub enum Ending {
    /// Where the last attribute does.
    Whole,
    /// With a header that claims more bytes than follow it.
    Overrun(u16),
    /// `n` bytes short: inside the last attribute, or its padding.
    Cut(u8),
}

/// An `inet_diag_msg` and, in `order`, the attributes sockstat reads for
/// `-i`/`-m`/tcp46 among ones it skips, each of any length (a `tcp_info`
/// shorter than ours, as an older kernel sends, or longer, as a newer one).
#[derive(Clone, Debug)]
pub struct InetAttrs {
    pub msg: InetMsg,
    pub v6only: Option<Vec<u8>>,
    pub info: Option<Vec<u8>>,
    pub cong: Option<Vec<u8>>,
    pub skmem: Option<Vec<u8>>,
    pub skipped: Vec<(u16, Vec<u8>)>,
    pub order: u32,
    pub ending: Ending,
}

impl InetAttrs {
    pub fn draw(draw: &mut Draw<'_>) -> Self {
        let msg = InetMsg::draw(draw);
        let v6only = draw.bool().then(|| draw.bytes(2).to_vec());
        let info = draw.bool().then(|| {
            let len = match draw.u8() % 4 {
                0 => 104, // Linux 2.6 to 3.14: up to tcpi_total_retrans
                1 => TCP_INFO_KNOWN,
                2 => 280, // Linux 7.0: AccECN fields after ours
                _ => usize::from(draw.u16()) % 321,
            };
            (0..len).map(|_| draw.u8()).collect()
        });
        let cong = draw.bool().then(|| draw.bytes(24).to_vec());
        let skmem = draw.bool().then(|| draw.bytes(48).to_vec());
        let skipped = (0..draw.u8() % 4)
            .map(|_| {
                let kind = SKIPPED_INET[usize::from(draw.u8()) % SKIPPED_INET.len()];
                (kind, draw.bytes(40).to_vec())
            })
            .collect();
        let order = draw.u32();
        let ending = match draw.u8() % 4 {
            0 => Ending::Overrun(draw.u16()),
            1 => Ending::Cut(draw.u8()),
            _ => Ending::Whole,
        };
        Self {
            msg,
            v6only,
            info,
            cong,
            skmem,
            skipped,
            order,
            ending,
        }
    }

    /// The attributes in the order they are sent.
    fn attributes(&self) -> Vec<(u16, Vec<u8>)> {
        let mut attrs = self.skipped.clone();
        for (kind, value) in [
            (INET_DIAG_SKV6ONLY, &self.v6only),
            (INET_DIAG_INFO, &self.info),
            (INET_DIAG_CONG, &self.cong),
            (INET_DIAG_SKMEMINFO, &self.skmem),
        ] {
            if let Some(value) = value {
                attrs.push((kind, value.clone()));
            }
        }
        let mut seed = self.order;
        for i in (1..attrs.len()).rev() {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            attrs.swap(i, (seed >> 16) as usize % (i + 1));
        }
        attrs
    }

    /// The message's bytes, and the attributes that reach the parser
    /// whole: a cut into the last one (not just its padding) loses it.
    fn bytes(&self) -> (Vec<u8>, Vec<(u16, Vec<u8>)>) {
        let mut out = self.msg.bytes();
        let mut whole = self.attributes();
        for (kind, value) in &whole {
            out.extend(rtattr(*kind, value));
        }
        match self.ending {
            Ending::Whole => {}
            Ending::Overrun(extra) => {
                // Claims at least 4 bytes more than it has.
                let len = 8u16.saturating_add(extra % 0xfff0);
                out.extend_from_slice(&len.to_ne_bytes());
                out.extend_from_slice(&INET_DIAG_INFO.to_ne_bytes());
            }
            Ending::Cut(short) => {
                if let Some((_, value)) = whole.last() {
                    let len = 4 + value.len();
                    let padded = len.next_multiple_of(4);
                    let short = usize::from(short) % (padded + 1);
                    out.truncate(out.len() - short);
                    if short > padded - len {
                        whole.pop();
                    }
                }
            }
        }
        (out, whole)
    }

    /// The record the parser must make of what reached it whole: the last
    /// of each attribute stands (a kernel sends each once), an empty
    /// `SKV6ONLY` says nothing, and only an IPv6 socket has the flag.
    fn record(&self, whole: &[(u16, Vec<u8>)]) -> SockRecord {
        let last = |kind: u16| whole.iter().rev().find(|(k, _)| *k == kind).map(|(_, v)| v);
        let v6only = whole
            .iter()
            .rfind(|(kind, value)| *kind == INET_DIAG_SKV6ONLY && !value.is_empty())
            .map(|(_, value)| value[0] != 0)
            .filter(|_| self.msg.v6);
        let mut record = self.msg.record();
        record.details.v6only = v6only;
        let info = last(INET_DIAG_INFO);
        let skmem = last(INET_DIAG_SKMEMINFO);
        let cong = last(INET_DIAG_CONG).and_then(|name| {
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            let name = &name[..end.min(CA_NAME_MAX)];
            (!name.is_empty()).then(|| name.to_vec())
        });
        if info.is_some() || skmem.is_some() || cong.is_some() {
            record.details.internals = Some(Arc::new(sockkit::sockstat::internals::Internals {
                tcp_info: info.map(|v| sockkit::sockstat::internals::TcpInfo::new(v)),
                congestion: cong.as_deref().and_then(CaName::new),
                skmem: skmem.map(|v| sockkit::sockstat::internals::SkMem::new(v)),
            }));
        }
        record
    }
}

/// Whatever the bytes, what a record keeps of the attributes is bounded:
/// no more of `tcp_info` and the memory array than sockstat knows, a
/// congestion name of at most 16 bytes with nothing a terminal acts on.
fn internals_sane(record: &SockRecord) {
    let Some(internals) = &record.details.internals else {
        return;
    };
    assert!(
        internals
            .tcp_info
            .as_ref()
            .is_none_or(|i| i.len() <= TCP_INFO_KNOWN)
    );
    assert!(
        internals
            .skmem
            .as_ref()
            .is_none_or(|m| m.len() <= SKMEM_KNOWN)
    );
    if let Some(name) = &internals.congestion {
        let bytes = name.as_bytes();
        assert!(!bytes.is_empty() && bytes.len() <= CA_NAME_MAX && !bytes.contains(&0));
        let shown = name.escaped();
        assert_eq!(shown, sockkit::escape::field(bytes));
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
    }
    if !matches!(record.kind, Kind::Inet { .. }) {
        assert!(internals.tcp_info.is_none() && internals.congestion.is_none());
    }
}

/// An `inet_diag_msg` with drawn attributes, however they end:
/// - the record is the message's, plus what each attribute that reached
///   the parser whole says (an attribute that overruns ends the walk; those
///   before it stand; skipped types change nothing);
/// - `tcp_info` and the memory array are kept to the bytes sockstat knows,
///   the fields past what the kernel sent are absent, those within read at
///   their offsets in host order; a congestion name is at most 16 bytes,
///   up to its NUL, escaped.
pub fn inet_attributes(attrs: &InetAttrs) {
    let (bytes, whole) = attrs.bytes();
    let proto = attrs.msg.proto;
    let got = netlink::parse_inet(&bytes, proto);
    let want = attrs.record(&whole);
    assert_eq!(got.as_ref(), Some(&want), "{attrs:?}");
    let Some(internals) = got.and_then(|r| r.details.internals) else {
        return;
    };
    let sent = |kind: u16| whole.iter().rev().find(|(k, _)| *k == kind).map(|(_, v)| v);
    if let (Some(info), Some(value)) = (&internals.tcp_info, sent(INET_DIAG_INFO)) {
        assert_eq!(info.len(), value.len().min(TCP_INFO_KNOWN));
        let kept = &value[..info.len()];
        for (name, offset, width) in TCP_INFO_FIELDS {
            let field_of = sockkit::sockstat::internals::tcp::ALL
                .iter()
                .find(|f| f.name == name)
                .unwrap_or_else(|| panic!("no tcp_info field {name}"));
            assert_eq!(field_of.offset, offset, "{name}");
            assert_eq!(info.get(*field_of), field(kept, offset, width), "{name}");
        }
        if cfg!(target_endian = "little") && kept.len() >= 8 {
            use sockkit::sockstat::internals::tcp;
            assert_eq!(info.get(tcp::SND_WSCALE), Some(u64::from(kept[6] & 0xf)));
            assert_eq!(info.get(tcp::RCV_WSCALE), Some(u64::from(kept[6] >> 4)));
            assert_eq!(
                info.get(tcp::DELIVERY_RATE_APP_LIMITED),
                Some(u64::from(kept[7] & 1))
            );
            assert_eq!(
                info.get(tcp::FASTOPEN_CLIENT_FAIL),
                Some(u64::from(kept[7] >> 1 & 3))
            );
        }
    }
    if let (Some(skmem), Some(value)) = (&internals.skmem, sent(INET_DIAG_SKMEMINFO)) {
        assert_eq!(skmem.len(), value.len().min(SKMEM_KNOWN));
        for (i, slot) in sockkit::sockstat::internals::mem::ALL.iter().enumerate() {
            assert_eq!(
                skmem.get(*slot),
                field(&value[..skmem.len()], i * 4, 4),
                "{}",
                slot.name
            );
        }
    }
    if let Some(name) = &internals.congestion {
        let shown = name.escaped();
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
    }
}

/// A `unix_diag_msg` with a `UNIX_DIAG_MEMINFO` of any length after its
/// other attributes: the record is the message's, with the memory array
/// kept to the bytes sockstat knows.
pub fn unix_meminfo(msg: &UnixMsg, meminfo: &[u8]) {
    let mut bytes = msg.bytes();
    bytes.extend(rtattr(UNIX_DIAG_MEMINFO, meminfo));
    let mut want = msg.record();
    want.details.internals = Some(Arc::new(sockkit::sockstat::internals::Internals {
        skmem: Some(sockkit::sockstat::internals::SkMem::new(meminfo)),
        ..Default::default()
    }));
    assert_eq!(netlink::parse_unix(&bytes), Some(want), "{msg:?}");
    let skmem = netlink::parse_unix(&bytes)
        .and_then(|r| r.details.internals?.skmem.clone())
        .unwrap_or_else(|| panic!("no memory"));
    assert_eq!(skmem.len(), meminfo.len().min(SKMEM_KNOWN));
    let rcvbuf = sockkit::sockstat::internals::mem::RCVBUF;
    assert_eq!(skmem.get(rcvbuf), field(&meminfo[..skmem.len()], 4, 4));
}

/// The attribute properties' fuzz input: [`InetAttrs`] or a unix message
/// and a memory array, drawn from the bytes.
pub fn attributes_input(data: &[u8]) {
    let mut draw = Draw::new(data);
    if draw.bool() {
        inet_attributes(&InetAttrs::draw(&mut draw));
    } else {
        let msg = UnixMsg::draw(&mut draw);
        let meminfo = draw.bytes(48).to_vec();
        unix_meminfo(&msg, &meminfo);
    }
}
