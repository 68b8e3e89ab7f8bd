//! sockstat's `/proc/net/{tcp,tcp6,udp,udp6,unix}` parsers: files built
//! from drawn lines parse back with garbage between them, and any bytes give
//! only sensible records.

use super::draw::Draw;
use super::records::{INET_TABLES, assert_subsequence, inet_record_sane, unix_record_sane};
use core::net::SocketAddr;
use sockkit::sockstat::procnet;
use sockkit::sockstat::record::{InetProto, IpVersion, Kind, Peer, SockRecord, state};

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
                sock_type: Some(super::records::sock_type(proto)),
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
pub fn inet_round_trip(
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
    any_text(&noisy);
}

/// The same for `/proc/net/unix`.
pub fn unix_round_trip(lines: &[UnixLine], garbage: &[&[u8]]) {
    let texts: Vec<Vec<u8>> = lines.iter().map(UnixLine::text).collect();
    let want: Vec<SockRecord> = lines.iter().map(UnixLine::record).collect();
    let clean = file_text(UNIX_HEADER, &texts, &[]);
    let got: Vec<SockRecord> = procnet::parse_unix(&clean).collect();
    assert_eq!(got, want, "{}", String::from_utf8_lossy(&clean));
    let noisy = file_text(UNIX_HEADER, &texts, garbage);
    let got: Vec<SockRecord> = procnet::parse_unix(&noisy).collect();
    assert_subsequence(&want, &got);
    any_text(&noisy);
}

/// Any bytes through all five `/proc/net` parsers: no panic, at most one
/// record per line, and every record one the file could mean.
pub fn any_text(text: &[u8]) {
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

/// The `procnet` fuzz target's input: the first byte picks raw text, or
/// lines drawn from the bytes (inet of a drawn table, or unix) with the
/// rest as garbage lines.
pub fn input(data: &[u8]) {
    let mut draw = Draw::new(data);
    match draw.u8() % 3 {
        0 => any_text(draw.rest()),
        1 => {
            let (proto, version) = INET_TABLES[usize::from(draw.u8() % 4)];
            let count = draw.u8() % 16;
            let lines: Vec<InetLine> = (0..count).map(|_| InetLine::draw(&mut draw)).collect();
            let garbage: Vec<&[u8]> = draw.rest().split(|&b| b == b'\n').collect();
            inet_round_trip(proto, version, &lines, &garbage);
        }
        _ => {
            let count = draw.u8() % 16;
            let lines: Vec<UnixLine> = (0..count).map(|_| UnixLine::draw(&mut draw)).collect();
            let garbage: Vec<&[u8]> = draw.rest().split(|&b| b == b'\n').collect();
            unix_round_trip(&lines, &garbage);
        }
    }
}
