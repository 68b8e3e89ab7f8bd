//! The properties the fuzz targets and the proptest suite both check, so a
//! finding of either is a regression test of the other. Included by path:
//! `fuzz/fuzz_targets/*.rs` and `tests/it/props.rs`.
//!
//! Each check panics when a property breaks (that is how libFuzzer and
//! proptest learn of it); the code under test must never panic by itself.
#![allow(dead_code)]

use core::net::SocketAddr;
use sockkit::Error;
use sockkit::addr::parse_socket_addr;
use sockkit::escape::push_escaped;
use sockkit::transcript::{MESSAGE_LIMIT, MessageSplitter, push_say_line};

/// `parse_socket_addr` on any text: a one-line usage error, or an address
/// that the same parser reads back from its canonical form.
pub fn addr(ip: &str, port: &str) {
    match parse_socket_addr(ip, port) {
        Err(Error::Usage(message)) => {
            assert!(!message.contains('\n'), "two-line error {message:?}");
            assert!(!message.is_empty());
        }
        Err(other) => panic!("{ip:?} {port:?}: not a usage error: {other:?}"),
        Ok(addr) => {
            assert!(!port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(port.parse::<u16>().ok(), Some(addr.port()));
            let canonical = match addr {
                SocketAddr::V4(v4) => v4.ip().to_string(),
                SocketAddr::V6(v6) if v6.scope_id() == 0 => v6.ip().to_string(),
                SocketAddr::V6(v6) => format!("{}%{}", v6.ip(), v6.scope_id()),
            };
            match parse_socket_addr(&canonical, port) {
                Ok(again) => assert_eq!(again, addr, "{ip:?} → {canonical:?}"),
                Err(err) => panic!("{ip:?} parsed as {addr} but {canonical:?} did not: {err}"),
            }
            if addr.ip().is_ipv4() {
                assert!(
                    ip == "localhost" || ip == canonical,
                    "{ip:?} → {canonical:?}"
                );
            }
        }
    }
}

/// The splitter on any bytes in any chunking: the same messages as in one
/// piece, none longer than the limit, no more bytes kept and dropped than
/// came in, and every transcript line one escaped line.
pub fn transcript(data: &[u8], cuts: &[u16]) {
    let whole = split(&[data]);
    let mut chunks = Vec::new();
    let mut rest = data;
    for &cut in cuts {
        let at = usize::from(cut) % (rest.len() + 1);
        let (head, tail) = rest.split_at(at);
        chunks.push(head);
        rest = tail;
    }
    chunks.push(rest);
    let chunked = split(&chunks);
    assert_eq!(whole, chunked, "chunking changed the messages");
    let mut accounted = 0usize;
    for (message, dropped) in &whole {
        assert!(message.len() <= MESSAGE_LIMIT);
        assert!(*dropped == 0 || message.len() + 1 >= MESSAGE_LIMIT);
        accounted += message.len() + dropped;
        let mut line = Vec::new();
        push_say_line(&mut line, "127.0.0.1", message, *dropped);
        say_line(&line);
    }
    assert!(accounted <= data.len());
}

fn split(chunks: &[&[u8]]) -> Vec<(Vec<u8>, usize)> {
    let mut splitter = MessageSplitter::new();
    let mut got = Vec::new();
    for chunk in chunks {
        splitter.feed(chunk, |m, d| got.push((m.to_vec(), d)));
    }
    splitter.finish(|m, d| got.push((m.to_vec(), d)));
    got
}

/// One transcript line: valid UTF-8, one `\n` at the end, and nothing a
/// terminal acts on (C0, DEL, C1, bidi overrides).
pub fn say_line(line: &[u8]) {
    let text = match std::str::from_utf8(line) {
        Ok(text) => text,
        Err(err) => panic!("not UTF-8: {err}: {line:?}"),
    };
    let body = text
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("no newline: {text:?}"));
    assert!(body.starts_with("127.0.0.1 say: "), "{text:?}");
    for c in body.chars() {
        assert!(!c.is_control(), "control {c:?} in {text:?}");
        assert!(
            !matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'),
            "bidi {c:?} in {text:?}"
        );
    }
}

/// Escaping is unambiguous: what `push_escaped` writes decodes back to the
/// original bytes.
pub fn escape_round_trip(bytes: &[u8]) {
    let mut escaped = Vec::new();
    push_escaped(&mut escaped, bytes);
    assert!(std::str::from_utf8(&escaped).is_ok());
    assert!(!escaped.iter().any(|&b| b < 0x20 || b == 0x7f));
    assert_eq!(unescape(&escaped).as_deref(), Some(bytes), "{escaped:?}");
}

/// The inverse of `push_escaped`: `\\`, `\t`, `\r`, `\n`, `\xNN` (a byte),
/// `\u{N…}` (a character); `None` for anything else after a backslash.
pub fn unescape(escaped: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < escaped.len() {
        if escaped[i] != b'\\' {
            out.push(escaped[i]);
            i += 1;
            continue;
        }
        match escaped.get(i + 1)? {
            b'\\' => out.push(b'\\'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'n' => out.push(b'\n'),
            b'x' => {
                let hex = std::str::from_utf8(escaped.get(i + 2..i + 4)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 4;
                continue;
            }
            b'u' => {
                let rest = escaped.get(i + 2..)?.strip_prefix(b"{")?;
                let end = rest.iter().position(|&b| b == b'}')?;
                let code = u32::from_str_radix(std::str::from_utf8(&rest[..end]).ok()?, 16).ok()?;
                let mut utf8 = [0u8; 4];
                out.extend_from_slice(char::from_u32(code)?.encode_utf8(&mut utf8).as_bytes());
                i += 3 + end + 1;
                continue;
            }
            _ => return None,
        }
        i += 2;
    }
    Some(out)
}

// ---------------------------------------------------------------------------
// sockstat: the /proc/net text parsers and the sock_diag reply parser.
//
// The well-formed input below is built here, from the kernel's own formats
// (`net/ipv4/tcp_ipv4.c` `get_tcp4_sock`, `net/ipv6/tcp_ipv6.c`,
// `net/ipv4/udp.c`, `net/unix/af_unix.c` `unix_seq_show`;
// `linux/netlink.h`, `linux/inet_diag.h`, `linux/unix_diag.h`), not with the
// parsers' own helpers: a layout both sides got wrong the same way would
// otherwise pass.

use sockkit::sockstat::record::{InetProto, IpVersion, Kind, Peer, SockRecord, state};
use sockkit::sockstat::{netlink, procnet};

/// `EBADMSG`: what the netlink parser says of a reply that does not parse.
const EBADMSG: i32 = 74;

/// The four inet tables, as `(proto, version)`.
pub const INET_TABLES: [(InetProto, IpVersion); 4] = [
    (InetProto::Tcp, IpVersion::V4),
    (InetProto::Tcp, IpVersion::V6),
    (InetProto::Udp, IpVersion::V4),
    (InetProto::Udp, IpVersion::V6),
];

/// Fuzz bytes read as structured values; past the end every read is 0, so
/// any input is a valid draw.
pub struct Draw<'a> {
    bytes: &'a [u8],
}

impl<'a> Draw<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.bytes.split_first() {
            Some((&b, rest)) => {
                self.bytes = rest;
                b
            }
            None => 0,
        }
    }

    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    pub fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | u64::from(self.u32()) << 32
    }

    /// Up to `max` bytes, the count drawn first.
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let want = usize::from(self.u8()) % (max + 1);
        let (head, tail) = self.bytes.split_at(want.min(self.bytes.len()));
        self.bytes = tail;
        head
    }

    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for byte in &mut out {
            *byte = self.u8();
        }
        out
    }

    pub fn rest(self) -> &'a [u8] {
        self.bytes
    }
}

/// Asserts `small` appears in `big` in order (not necessarily adjacent).
#[track_caller]
fn assert_subsequence(small: &[SockRecord], big: &[SockRecord]) {
    let mut rest = big.iter();
    for want in small {
        assert!(rest.any(|got| got == want), "{want:?} lost among {big:#?}");
    }
}

// --- /proc/net ---------------------------------------------------------------

/// One socket as a `/proc/net/{tcp,udp}{,6}` line prints it. For IPv4 only
/// the first four address bytes count.
#[derive(Clone, Debug)]
pub struct InetLine {
    pub slot: u32,
    pub local: ([u8; 16], u16),
    pub remote: ([u8; 16], u16),
    pub state: u8,
    pub tx_queue: u32,
    pub rx_queue: u32,
    pub uid: u32,
    pub inode: u64,
}

impl InetLine {
    pub fn draw(draw: &mut Draw<'_>) -> Self {
        Self {
            slot: u32::from(draw.u16()),
            local: (draw.array(), draw.u16()),
            remote: (draw.array(), draw.u16()),
            state: draw.u8(),
            tx_queue: draw.u32(),
            rx_queue: draw.u32(),
            uid: draw.u32(),
            inode: draw.u64(),
        }
    }

    fn addr(version: IpVersion, (ip, port): ([u8; 16], u16)) -> SocketAddr {
        let ip = match version {
            IpVersion::V4 => {
                core::net::IpAddr::from(<[u8; 4]>::try_from(&ip[..4]).unwrap_or_default())
            }
            IpVersion::V6 => core::net::IpAddr::from(ip),
        };
        SocketAddr::new(ip, port)
    }

    /// The kernel's `%08X` of each `__be32` word: the word as it sits in
    /// memory, read in host byte order.
    fn hex_addr(version: IpVersion, ip: &[u8; 16]) -> String {
        let words = match version {
            IpVersion::V4 => &ip[..4],
            IpVersion::V6 => &ip[..],
        };
        words
            .chunks_exact(4)
            .map(|w| format!("{:08X}", u32::from_ne_bytes([w[0], w[1], w[2], w[3]])))
            .collect()
    }

    /// The line, laid out as `get_tcp4_sock` / `udp4_format_sock` print it.
    pub fn text(&self, version: IpVersion) -> String {
        format!(
            "{:4}: {}:{:04X} {}:{:04X} {:02X} {:08X}:{:08X} 00:00000000 00000000 {:5} {:8} {} \
             2 0000000000000000 100 0 0 10 0",
            self.slot,
            Self::hex_addr(version, &self.local.0),
            self.local.1,
            Self::hex_addr(version, &self.remote.0),
            self.remote.1,
            self.state,
            self.tx_queue,
            self.rx_queue,
            self.uid,
            0,
            self.inode,
        )
    }

    pub fn record(&self, proto: InetProto, version: IpVersion) -> SockRecord {
        SockRecord {
            inode: self.inode,
            kind: Kind::Inet {
                proto,
                version,
                local: Self::addr(version, self.local),
                remote: Self::addr(version, self.remote),
            },
            state: self.state,
            recv_q: Some(u64::from(self.rx_queue)),
            // A listener's line has its accept queue, not its backlog.
            send_q: (self.state != state::LISTEN).then_some(u64::from(self.tx_queue)),
            uid: Some(self.uid),
            details: sockkit::sockstat::record::Details {
                sock_type: Some(sock_type(proto)),
                ..Default::default()
            },
        }
    }
}

/// One socket as a `/proc/net/unix` line prints it.
#[derive(Clone, Debug)]
pub struct UnixLine {
    pub refs: u32,
    pub flags: u32,
    pub kind: u16,
    /// `SS_*` (`2` connecting, `3` connected).
    pub st: u8,
    pub inode: u64,
    /// The name as the kernel shows it (NULs already `@`); never empty,
    /// never a `\n`.
    pub name: Option<Vec<u8>>,
}

/// `__SO_ACCEPTCON`: the kernel's unix `Flags` column for a listener.
pub const SO_ACCEPTCON: u32 = 0x1_0000;

impl UnixLine {
    pub fn draw(draw: &mut Draw<'_>) -> Self {
        let flags = match draw.u8() % 3 {
            0 => 0,
            1 => SO_ACCEPTCON,
            _ => draw.u32(),
        };
        let name = draw.bytes(120);
        let name: Vec<u8> = name.iter().copied().filter(|&b| b != b'\n').collect();
        Self {
            refs: draw.u32(),
            flags,
            kind: draw.u16(),
            st: draw.u8() % 6,
            inode: draw.u64(),
            name: (!name.is_empty()).then_some(name),
        }
    }

    /// The line, laid out as `unix_seq_show` prints it.
    pub fn text(&self) -> Vec<u8> {
        let mut line = format!(
            "{:016x}: {:08X} {:08X} {:08X} {:04X} {:02X} {:5}",
            self.inode.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            self.refs,
            0,
            self.flags,
            self.kind,
            self.st,
            self.inode
        )
        .into_bytes();
        if let Some(name) = &self.name {
            line.push(b' ');
            line.extend_from_slice(name);
        }
        line
    }

    pub fn record(&self) -> SockRecord {
        let (st, peer) = if self.flags & SO_ACCEPTCON != 0 {
            (state::LISTEN, Peer::None)
        } else if self.st == 2 || self.st == 3 {
            (state::ESTABLISHED, Peer::Unknown)
        } else {
            (state::CLOSE, Peer::None)
        };
        SockRecord {
            inode: self.inode,
            kind: Kind::Unix {
                name: self.name.clone(),
                peer,
            },
            state: st,
            recv_q: None,
            send_q: None,
            uid: None,
            details: sockkit::sockstat::record::Details {
                sock_type: Some(u32::from(self.kind)),
                ..Default::default()
            },
        }
    }
}

/// The tcp files' header (the udp files have a few more titles; a header is
/// skipped like any line that does not parse).
const INET_HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when \
                          retrnsmt   uid  timeout inode";
const UNIX_HEADER: &str = "Num       RefCount Protocol Flags    Type St Inode Path";

/// Joins a header, the lines, and `garbage` lines between them (one piece
/// after each line, `\n`s taken out so a piece stays one line).
fn file_text(header: &str, lines: &[Vec<u8>], garbage: &[&[u8]]) -> Vec<u8> {
    let mut text = header.as_bytes().to_vec();
    text.push(b'\n');
    for (i, line) in lines.iter().enumerate() {
        text.extend_from_slice(line);
        text.push(b'\n');
        if let Some(piece) = garbage.get(i) {
            text.extend(piece.iter().filter(|&&b| b != b'\n'));
            text.push(b'\n');
        }
    }
    // Garbage beyond the lines, and a last line with no `\n`.
    for piece in garbage.iter().skip(lines.len()) {
        text.extend(piece.iter().filter(|&&b| b != b'\n'));
        text.push(b'\n');
    }
    text
}

/// A `/proc/net/{tcp,udp}{,6}` file built from `lines` parses back to
/// exactly their records; with `garbage` lines between them every record is
/// still there, in order (a bad line is skipped, it never eats a good one);
/// the other IP version's parser finds none of them.
pub fn procnet_inet_round_trip(
    proto: InetProto,
    version: IpVersion,
    lines: &[InetLine],
    garbage: &[&[u8]],
) {
    let texts: Vec<Vec<u8>> = lines.iter().map(|l| l.text(version).into_bytes()).collect();
    let want: Vec<SockRecord> = lines.iter().map(|l| l.record(proto, version)).collect();
    let clean = file_text(INET_HEADER, &texts, &[]);
    let got: Vec<SockRecord> = procnet::parse_inet(&clean, proto, version).collect();
    assert_eq!(got, want, "{}", String::from_utf8_lossy(&clean));
    let other = match version {
        IpVersion::V4 => IpVersion::V6,
        IpVersion::V6 => IpVersion::V4,
    };
    assert_eq!(procnet::parse_inet(&clean, proto, other).count(), 0);
    let noisy = file_text(INET_HEADER, &texts, garbage);
    let got: Vec<SockRecord> = procnet::parse_inet(&noisy, proto, version).collect();
    for record in &got {
        inet_record_sane(record, proto, version);
    }
    assert_subsequence(&want, &got);
    procnet_text(&noisy);
}

/// The same for `/proc/net/unix`.
pub fn procnet_unix_round_trip(lines: &[UnixLine], garbage: &[&[u8]]) {
    let texts: Vec<Vec<u8>> = lines.iter().map(UnixLine::text).collect();
    let want: Vec<SockRecord> = lines.iter().map(UnixLine::record).collect();
    let clean = file_text(UNIX_HEADER, &texts, &[]);
    let got: Vec<SockRecord> = procnet::parse_unix(&clean).collect();
    assert_eq!(got, want, "{}", String::from_utf8_lossy(&clean));
    let noisy = file_text(UNIX_HEADER, &texts, garbage);
    let got: Vec<SockRecord> = procnet::parse_unix(&noisy).collect();
    assert_subsequence(&want, &got);
    procnet_text(&noisy);
}

/// Any bytes through all five `/proc/net` parsers: no panic, at most one
/// record per line, and every record one the file could mean.
pub fn procnet_text(text: &[u8]) {
    let lines = text.split(|&b| b == b'\n').count();
    for (proto, version) in INET_TABLES {
        let mut count = 0;
        for record in procnet::parse_inet(text, proto, version) {
            inet_record_sane(&record, proto, version);
            count += 1;
        }
        assert!(count <= lines, "{count} records from {lines} lines");
    }
    let mut count = 0;
    for record in procnet::parse_unix(text) {
        unix_record_sane(&record);
        // /proc/net/unix has no peer inodes and no queues.
        let Kind::Unix { peer, name } = &record.kind else {
            unreachable!()
        };
        // One line, one record: a name never runs into the next line.
        assert!(!name.as_ref().is_some_and(|n| n.contains(&b'\n')));
        assert!(!matches!(peer, Peer::Inode(_)), "{record:?}");
        assert!(record.recv_q.is_none() && record.send_q.is_none() && record.uid.is_none());
        assert!(
            [state::LISTEN, state::ESTABLISHED, state::CLOSE].contains(&record.state),
            "{record:?}"
        );
        count += 1;
    }
    assert!(count <= lines, "{count} records from {lines} lines");
}

#[track_caller]
fn inet_record_sane(record: &SockRecord, want_proto: InetProto, want_version: IpVersion) {
    let Kind::Inet {
        proto,
        version,
        local,
        remote,
    } = &record.kind
    else {
        panic!("inet parser made {record:?}");
    };
    assert_eq!((*proto, *version), (want_proto, want_version), "{record:?}");
    let v4 = want_version == IpVersion::V4;
    assert_eq!(local.is_ipv4(), v4, "{record:?}");
    assert_eq!(remote.is_ipv4(), v4, "{record:?}");
    assert!(
        record.recv_q.is_some() && record.uid.is_some(),
        "{record:?}"
    );
    if record.send_q.is_none() {
        assert_eq!(record.state, state::LISTEN, "{record:?}");
    }
}

#[track_caller]
fn unix_record_sane(record: &SockRecord) {
    let Kind::Unix { name, peer } = &record.kind else {
        panic!("unix parser made {record:?}");
    };
    // A name may hold any byte but NUL (a path with a `\n` in it is legal;
    // the table escapes it); it is never empty.
    if let Some(name) = name {
        assert!(!name.is_empty(), "{record:?}");
    }
    if let Peer::Inode(inode) = peer {
        assert_ne!(*inode, 0, "{record:?}");
    }
}

/// The `procnet` fuzz target's input: the first byte picks raw text, or
/// lines drawn from the bytes (inet of a drawn table, or unix) with the
/// rest as garbage lines.
pub fn procnet_input(data: &[u8]) {
    let mut draw = Draw::new(data);
    match draw.u8() % 3 {
        0 => procnet_text(draw.rest()),
        1 => {
            let (proto, version) = INET_TABLES[usize::from(draw.u8() % 4)];
            let count = draw.u8() % 16;
            let lines: Vec<InetLine> = (0..count).map(|_| InetLine::draw(&mut draw)).collect();
            let garbage: Vec<&[u8]> = draw.rest().split(|&b| b == b'\n').collect();
            procnet_inet_round_trip(proto, version, &lines, &garbage);
        }
        _ => {
            let count = draw.u8() % 16;
            let lines: Vec<UnixLine> = (0..count).map(|_| UnixLine::draw(&mut draw)).collect();
            let garbage: Vec<&[u8]> = draw.rest().split(|&b| b == b'\n').collect();
            procnet_unix_round_trip(&lines, &garbage);
        }
    }
}

// --- netlink -----------------------------------------------------------------

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
/// it does not (timer, retransmits, interface and cookie (read as the
/// noise byte repeated), expiry, and the
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
            details: sockkit::sockstat::record::Details {
                // idiag_if and the cookie are among the noise.
                dev: Some(u32::from_ne_bytes([self.noise; 4])),
                cookie: Some(u64::from_ne_bytes([self.noise; 8])),
                sock_type: Some(sock_type(self.proto)),
                ..Default::default()
            },
        }
    }
}

/// The `SOCK_*` type a TCP or UDP record carries.
fn sock_type(proto: InetProto) -> u32 {
    match proto {
        InetProto::Tcp => rustix::net::SocketType::STREAM.as_raw(),
        InetProto::Udp => rustix::net::SocketType::DGRAM.as_raw(),
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
            details: sockkit::sockstat::record::Details {
                sock_type: Some(u32::from(self.kind)),
                cookie: Some(u64::from(self.order) | u64::from(self.order) << 32),
                ..Default::default()
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
pub fn netlink_round_trip(seq: u32, replies: &[Reply], end: i32, extras: &[u8]) {
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
    netlink_bytes(&bytes, seq);

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
            netlink_bytes(&broken, seq);
        }
    }
}

/// Any bytes as one `recv`'s worth of netlink messages: no panic; an error
/// is `EBADMSG` or an errno a kernel can send; every payload handed on lies
/// within the input, and parses (as inet and as unix) to nothing or to a
/// record that makes sense.
pub fn netlink_bytes(bytes: &[u8], seq: u32) {
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
        netlink_payload(payload);
    }
}

/// Any bytes as one `SOCK_DIAG_BY_FAMILY` payload, read as an inet and as a
/// unix message: nothing, or a record that agrees with the bytes.
pub fn netlink_payload(payload: &[u8]) {
    for proto in [InetProto::Tcp, InetProto::Udp] {
        if let Some(record) = netlink::parse_inet(payload, proto) {
            assert!(payload.len() >= INET_DIAG_MSG);
            let version = match payload[0] {
                AF_INET => IpVersion::V4,
                AF_INET6 => IpVersion::V6,
                family => panic!("record from family {family}: {record:?}"),
            };
            inet_record_sane(&record, proto, version);
            assert_eq!(record.state, payload[1]);
            let inode = u32::from_ne_bytes([payload[68], payload[69], payload[70], payload[71]]);
            assert_eq!(record.inode, u64::from(inode));
        }
    }
    if let Some(record) = netlink::parse_unix(payload) {
        assert!(payload.len() >= UNIX_DIAG_MSG && payload[0] == AF_UNIX);
        unix_record_sane(&record);
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
/// a raw payload, or a dump built from drawn replies.
pub fn netlink_input(data: &[u8]) {
    let mut draw = Draw::new(data);
    match draw.u8() % 3 {
        0 => {
            let seq = draw.u32();
            netlink_bytes(draw.rest(), seq);
        }
        1 => netlink_payload(draw.rest()),
        _ => {
            let seq = draw.u32();
            let end = match draw.u8() % 4 {
                0 => -i32::from(draw.u16()),
                1 => draw.u32() as i32,
                _ => 0,
            };
            let replies: Vec<Reply> = (0..draw.u8() % 8).map(|_| Reply::draw(&mut draw)).collect();
            netlink_round_trip(seq, &replies, end, draw.rest());
        }
    }
}
