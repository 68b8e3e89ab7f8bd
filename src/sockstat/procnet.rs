//! The fallback source: `/proc/net/{tcp,tcp6,udp,udp6,unix}` text.
//!
//! Addresses there are hex dumps of the kernel's 32-bit words in host byte
//! order; ports are plain hex numbers. Lines that do not parse are skipped:
//! a kernel that adds a column must not make sockstat fail.

use super::filter::Filter;
use super::record::{Details, InetProto, IpVersion, Kind, Peer, SockRecord, Table, state};
use super::trust::Records;
use crate::decimal;
use crate::error::{Error, Result};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// `__SO_ACCEPTCON` in the unix `Flags` column: a listening socket.
const SO_ACCEPTCON: u32 = 0x1_0000;
/// `SS_CONNECTING` and `SS_CONNECTED` in the unix `St` column.
const SS_CONNECTING: u8 = 2;
const SS_CONNECTED: u8 = 3;

/// Whose `/proc/net` files to read: they show the tables of the reader's
/// network namespace, `/proc/PID/net` those of process PID's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tables {
    /// `/proc/net`: our own namespace.
    Ours,
    /// `/proc/PID/net`: the namespace process PID is in.
    Of(u32),
}

/// Every record of `table` the filter wants, from its `/proc/net` file in
/// `tables`; `/proc/net/unix` lines that may be part of a socket's name are
/// kept apart, as [`Records::doubtful`].
///
/// # Errors
/// The errno of opening or reading the file.
pub fn load(table: Table, filter: &Filter, tables: Tables) -> Result<Records> {
    let file = match table {
        Table::Inet(InetProto::Tcp, IpVersion::V4) => "tcp",
        Table::Inet(InetProto::Tcp, IpVersion::V6) => "tcp6",
        Table::Inet(InetProto::Udp, IpVersion::V4) => "udp",
        Table::Inet(InetProto::Udp, IpVersion::V6) => "udp6",
        Table::Unix => "unix",
    };
    let path = match tables {
        Tables::Ours => format!("/proc/net/{file}"),
        Tables::Of(pid) => format!("/proc/{pid}/net/{file}"),
    };
    let cpath = std::ffi::CString::new(path.as_str())
        .map_err(|_| Error::on("read", &path, rustix::io::Errno::INVAL))?;
    let text = match crate::io::read_to_end_at(rustix::fs::CWD, &cpath, 64 * 1024) {
        Ok(text) => text,
        // No IPv6 in this kernel: nothing to list, not a failure.
        Err(rustix::io::Errno::NOENT) if matches!(table, Table::Inet(_, IpVersion::V6)) => {
            return Ok(Records::default());
        }
        Err(errno) => return Err(Error::on("read", path, errno)),
    };
    let mut records = Records::default();
    match table {
        Table::Inet(proto, version) => records
            .sure
            .extend(parse_inet(&text, proto, version).filter(|record| filter.matches(record))),
        Table::Unix => {
            for line in unix_lines(&text).filter(|line| filter.matches(&line.record)) {
                match line.sure {
                    true => records.sure.push(line.record),
                    false => records.doubtful.push(line.record),
                }
            }
        }
    }
    Ok(records)
}

/// The records in a `/proc/net/{tcp,tcp6,udp,udp6}` text; lines that do not
/// parse (the header among them) are skipped.
pub fn parse_inet(
    text: &[u8],
    proto: InetProto,
    version: IpVersion,
) -> impl Iterator<Item = SockRecord> + '_ {
    text.split(|&b| b == b'\n')
        .filter_map(move |line| parse_inet_line(line, proto, version))
}

fn parse_inet_line(line: &[u8], proto: InetProto, version: IpVersion) -> Option<SockRecord> {
    let mut fields = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|field| !field.is_empty());
    let slot = fields.next()?;
    if slot.last() != Some(&b':') {
        return None;
    }
    let local = parse_endpoint(fields.next()?, version)?;
    let remote = parse_endpoint(fields.next()?, version)?;
    let st = u8::try_from(hex(fields.next()?)?).ok()?;
    let (tx, rx) = split_pair(fields.next()?)?;
    let _timer = fields.next()?;
    let _retransmits = fields.next()?;
    let uid = decimal::parse(fields.next()?)?;
    let _timeout = fields.next()?;
    let inode = decimal::parse(fields.next()?)?;
    Some(SockRecord {
        inode,
        kind: Kind::Inet {
            proto,
            version,
            local,
            remote,
        },
        state: st,
        recv_q: Some(rx),
        // A listener's line has its accept queue but not its backlog.
        send_q: (st != state::LISTEN).then_some(tx),
        uid: Some(uid),
        details: Details {
            sock_type: Some(match proto {
                InetProto::Tcp => rustix::net::SocketType::STREAM.as_raw(),
                InetProto::Udp => rustix::net::SocketType::DGRAM.as_raw(),
            }),
            ..Details::default()
        },
    })
}

fn split_pair(field: &[u8]) -> Option<(u64, u64)> {
    let colon = field.iter().position(|&b| b == b':')?;
    let (a, b) = (field.get(..colon)?, field.get(colon + 1..)?);
    Some((hex(a)?, hex(b)?))
}

/// `0100007F:1F90` or the 32-hex-digit IPv6 form.
fn parse_endpoint(field: &[u8], version: IpVersion) -> Option<SocketAddr> {
    let colon = field.iter().position(|&b| b == b':')?;
    let (addr, port) = (field.get(..colon)?, field.get(colon + 1..)?);
    let port = u16::try_from(hex(port)?).ok()?;
    let ip = match (version, addr.len()) {
        (IpVersion::V4, 8) => IpAddr::V4(Ipv4Addr::from(word(addr)?.to_ne_bytes())),
        (IpVersion::V6, 32) => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in addr.chunks_exact(8).enumerate() {
                bytes
                    .get_mut(i * 4..i * 4 + 4)?
                    .copy_from_slice(&word(chunk)?.to_ne_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

fn word(hex_digits: &[u8]) -> Option<u32> {
    u32::try_from(hex(hex_digits)?).ok()
}

fn hex(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let text = core::str::from_utf8(digits).ok()?;
    if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(text, 16).ok()
}

/// The records in a `/proc/net/unix` text, one per line that parses. The
/// file has no peer and no queues: connected sockets get [`Peer::Unknown`].
pub fn parse_unix(text: &[u8]) -> impl Iterator<Item = SockRecord> + '_ {
    unix_lines(text).map(|line| line.record)
}

/// A `/proc/net/unix` line as a record, and whether the kernel alone can
/// have written it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnixLine {
    /// What the line says.
    pub record: SockRecord,
    /// `false` when the line may be part of an earlier line's name.
    pub sure: bool,
}

/// The most bytes the kernel prints for a unix socket's name: all of
/// `sun_path` (an abstract name's leading NUL shown as `@`).
const NAME_MAX: usize = 108;

/// The lines of a `/proc/net/unix` text that parse, each marked sure or not.
///
/// Everything on a line is written by the kernel in a fixed layout except
/// the name, which comes last, raw, and may hold `\n`: so a user can bind a
/// name that reads as more lines after their socket's own, claiming any
/// inode, state and path. What they cannot do is write past their name, and
/// a name is at most [`NAME_MAX`] bytes. So a line whose end lies more than
/// that past the start of every name before it cannot be inside a name: it
/// is sure. A line within reach of an earlier name may be a socket or may be
/// text inside that name; the bytes can be the very same, so the text alone
/// cannot tell (the caller weighs such lines against what the kernel says
/// elsewhere). Each read of the file returns whole lines (seq_file fills a
/// page with whole records), so a name never straddles two reads.
pub fn unix_lines(text: &[u8]) -> impl Iterator<Item = UnixLine> + '_ {
    // One past the last byte any name seen so far may reach.
    let mut reach = 0;
    let mut start = 0;
    text.split(|&b| b == b'\n').filter_map(move |line| {
        let at = start;
        let end = at + line.len();
        start = end + 1;
        let (record, name_at) = parse_unix_line(line)?;
        let sure = end > reach;
        if let Some(name_at) = name_at {
            reach = reach.max(at + name_at + NAME_MAX);
        }
        Some(UnixLine { record, sure })
    })
}

/// A line as a record, and where on it a name starts (it may be empty here
/// and go on after a `\n`).
fn parse_unix_line(line: &[u8]) -> Option<(SockRecord, Option<usize>)> {
    // "Num: RefCount Protocol Flags Type St Inode[ Path]"; the path is the
    // rest of the line and may hold spaces.
    let mut rest = line;
    let mut fields = [&b""[..]; 7];
    for field in &mut fields {
        let start = rest.iter().position(|b| !b.is_ascii_whitespace())?;
        rest = rest.get(start..)?;
        let end = rest
            .iter()
            .position(u8::is_ascii_whitespace)
            .unwrap_or(rest.len());
        *field = rest.get(..end)?;
        rest = rest.get(end..)?;
    }
    let [num, _refs, _protocol, flags, sock_type, st, inode] = fields;
    if num.last() != Some(&b':') {
        return None;
    }
    let flags = u32::try_from(hex(flags)?).ok()?;
    let sock_type = u32::try_from(hex(sock_type)?).ok()?;
    let st = u8::try_from(hex(st)?).ok()?;
    let inode = decimal::parse(inode)?;
    let name_at = match rest.first() {
        Some(b' ') => Some(line.len() - rest.len() + 1),
        _ => None,
    };
    let name = match rest.get(1..) {
        Some(name) if name_at.is_some() && !name.is_empty() => Some(name.to_vec()),
        _ => None,
    };
    let (state, peer) = if flags & SO_ACCEPTCON != 0 {
        (state::LISTEN, Peer::None)
    } else if st == SS_CONNECTED || st == SS_CONNECTING {
        (state::ESTABLISHED, Peer::Unknown)
    } else {
        (state::CLOSE, Peer::None)
    };
    let record = SockRecord {
        inode,
        kind: Kind::Unix { name, peer },
        state,
        recv_q: None,
        send_q: None,
        uid: None,
        details: Details {
            sock_type: Some(sock_type),
            ..Details::default()
        },
    };
    Some((record, name_at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sockstat::testing::{garbage, mutate};

    const TCP: &[u8] = b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000003 00:00000000 00000000  1000        0 2983311 1 0000000000000000 100 0 0 10 0
   1: 0100007F:C852 0100007F:1F90 01 00000010:00000000 00:00000000 00000000     0        0 2983339 1 0000000000000000 20 4 30 10 -1
";
    const TCP6: &[u8] = b"  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0000000000000000 100 0 0 10 0
";
    const UNIX: &[u8] = b"Num       RefCount Protocol Flags    Type St Inode Path
00000000edd532b0: 00000002 00000000 00010000 0001 01 2983400 /run/app dir/app.sock
00000000f145513a: 00000003 00000000 00000000 0001 03   641
0000000012345678: 00000002 00000000 00000000 0002 01   700 @abs@name
";

    #[test]
    fn tcp_lines() {
        let got: Vec<_> = parse_inet(TCP, InetProto::Tcp, IpVersion::V4).collect();
        assert_eq!(got.len(), 2);
        let listen = &got[0];
        assert_eq!(listen.inode, 2_983_311);
        assert_eq!(listen.state, state::LISTEN);
        assert_eq!(listen.uid, Some(1000));
        assert_eq!(listen.recv_q, Some(3));
        let Kind::Inet { local, remote, .. } = &listen.kind else {
            panic!("not inet");
        };
        assert_eq!(local.to_string(), "127.0.0.1:8080");
        assert_eq!(remote.to_string(), "0.0.0.0:0");
        assert_eq!(got[1].send_q, Some(16));
    }

    #[test]
    fn tcp6_lines() {
        let got: Vec<_> = parse_inet(TCP6, InetProto::Tcp, IpVersion::V6).collect();
        let Some(SockRecord {
            kind: Kind::Inet { local, .. },
            ..
        }) = got.first()
        else {
            panic!("no row");
        };
        assert_eq!(local.to_string(), "[::1]:80");
        // A v4 file's lines are not v6 lines.
        assert_eq!(parse_inet(TCP, InetProto::Tcp, IpVersion::V6).count(), 0);
    }

    #[test]
    fn unix_lines() {
        let got: Vec<_> = parse_unix(UNIX).collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].state, state::LISTEN);
        assert_eq!(
            got[0].kind,
            Kind::Unix {
                name: Some(b"/run/app dir/app.sock".to_vec()),
                peer: Peer::None
            }
        );
        assert_eq!(got[1].state, state::ESTABLISHED);
        let types: Vec<_> = got.iter().map(|r| r.details.sock_type).collect();
        assert_eq!(types, [Some(1), Some(1), Some(2)]);
        assert_eq!(
            got[1].kind,
            Kind::Unix {
                name: None,
                peer: Peer::Unknown
            }
        );
        assert_eq!(
            got[2].kind,
            Kind::Unix {
                name: Some(b"@abs@name".to_vec()),
                peer: Peer::None
            }
        );
    }

    /// `(inode, sure)` of each line of `text`.
    fn sureness(text: &[u8]) -> Vec<(u64, bool)> {
        super::unix_lines(text)
            .map(|line| (line.record.inode, line.sure))
            .collect()
    }

    #[test]
    fn a_line_within_reach_of_a_name_is_not_sure() {
        const HEAD: &str = "Num       RefCount Protocol Flags    Type St Inode Path\n";
        let line = |inode: u64, name: &str| {
            format!("0000000000000000: 00000002 00000000 00010000 0001 01 {inode:5}{name}\n")
        };
        // A name holding a newline and a line of its own: the forged line
        // and the real one after it are both within the name's reach.
        let forged = format!(
            "{HEAD}{}{}{}",
            line(
                4242,
                " @x\n0000000000000000: 00000002 00000000 00010000 0001 01 7777 fake"
            ),
            line(5000, ""),
            line(6000, "")
        );
        assert_eq!(
            sureness(forged.as_bytes()),
            vec![(4242, true), (7777, false), (5000, false), (6000, true)]
        );
        // A path that starts with a newline leaves its line ending in a blank.
        let blank = format!("{HEAD}{}{}", line(1, " \n"), line(2, ""));
        assert_eq!(sureness(blank.as_bytes()), vec![(1, true), (2, false)]);
        // Unnamed sockets, and lines past the longest name: all sure.
        let long = "/".repeat(NAME_MAX);
        let plain = format!(
            "{HEAD}{}{}{}{}",
            line(10, ""),
            line(11, ""),
            line(12, &format!(" {long}")),
            line(13, "")
        );
        assert_eq!(
            sureness(plain.as_bytes()),
            vec![(10, true), (11, true), (12, true), (13, true)]
        );
    }

    #[test]
    fn truncated_oversized_and_garbage_input_never_panics() {
        for text in [TCP, TCP6, UNIX] {
            for cut in 0..text.len() {
                let part = &text[..cut];
                let _ = parse_inet(part, InetProto::Tcp, IpVersion::V4).count();
                let _ = parse_inet(part, InetProto::Udp, IpVersion::V6).count();
                let _ = parse_unix(part).count();
            }
        }
        let mut long = TCP.to_vec();
        long.extend(std::iter::repeat_n(b'F', 100_000));
        long.extend_from_slice(b" 99999999999999999999999999 :::: \n");
        let _ = parse_inet(&long, InetProto::Tcp, IpVersion::V4).count();
        let _ = parse_unix(&long).count();
        for seed in 0..20_000 {
            let _ = parse_inet(&mutate(seed, TCP), InetProto::Tcp, IpVersion::V4).count();
            let _ = parse_inet(&mutate(seed, TCP6), InetProto::Tcp, IpVersion::V6).count();
            let _ = parse_unix(&mutate(seed, UNIX)).count();
        }
        for seed in 0..2000 {
            let bytes = garbage(seed, b"0123456789ABCDEF: \n@/x");
            let _ = parse_inet(&bytes, InetProto::Tcp, IpVersion::V4).count();
            let _ = parse_inet(&bytes, InetProto::Tcp, IpVersion::V6).count();
            let _ = parse_unix(&bytes).count();
        }
    }
}
