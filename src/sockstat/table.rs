//! The aligned table: columns as wide as their widest cell, two spaces
//! apart, no trailing blanks.
//!
//! Every cell is written once, into one text arena with its end offset
//! recorded; widths come from that pass, and the output copies slices. With
//! tens of thousands of rows, a `String` per cell would cost more memory
//! and time than the rest of the program's user-space work.

use super::chunked::Chunked;
use super::internals::{Internals, mem, tcp};
use super::rows::{Listing, Row, Shown};
use super::users::User;
use crate::error::Result;
use std::io::Write as _;

/// One column of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    /// The process's owner.
    User,
    /// The process's command name.
    Command,
    /// The process id.
    Pid,
    /// The fd number.
    Fd,
    /// `tcp4`, `unix`, …
    Proto,
    /// The socket's inode.
    Inode,
    /// The local address.
    Local,
    /// The foreign address or unix peer.
    Foreign,
    /// The state.
    State,
    /// Receive queue (`-e`).
    RecvQ,
    /// Send queue (`-e`).
    SendQ,
    /// The socket's uid (`-e`).
    Uid,
    /// The network namespace: its `ip netns` name, else its inode (`-e`).
    Netns,
    /// Socket memory (`-m`).
    Skmem,
    /// TCP internals (`-i`).
    TcpInfo,
}

impl Column {
    /// Its title in the header line.
    pub fn title(self) -> &'static str {
        match self {
            Self::User => "USER",
            Self::Command => "COMMAND",
            Self::Pid => "PID",
            Self::Fd => "FD",
            Self::Proto => "PROTO",
            Self::Inode => "INODE",
            Self::Local => "LOCAL ADDRESS",
            Self::Foreign => "FOREIGN ADDRESS",
            Self::State => "STATE",
            Self::RecvQ => "RECV-Q",
            Self::SendQ => "SEND-Q",
            Self::Uid => "UID",
            Self::Netns => "NETNS",
            Self::Skmem => "SKMEM",
            Self::TcpInfo => "TCP-INFO",
        }
    }
}

/// The columns `shown` asks for, in order.
pub fn columns(shown: Shown) -> Vec<Column> {
    use Column::*;
    let mut columns = vec![User, Command, Pid, Fd, Proto, Inode, Local, Foreign, State];
    if shown.extended {
        columns.extend([RecvQ, SendQ, Uid, Netns]);
    }
    if shown.memory {
        columns.push(Skmem);
    }
    if shown.internals {
        columns.push(TcpInfo);
    }
    columns
}

/// Appends one cell of `row` to `out`.
pub fn write_cell(out: &mut Vec<u8>, listing: &Listing, row: &Row, column: Column) {
    let process = row.owner.as_ref().and_then(|owner| listing.process(owner));
    let mut num = |n: Option<u64>| push_number(out, n);
    match column {
        Column::User => match process.map(|p| &p.user) {
            Some(User::Name(name)) => out.extend_from_slice(name.as_bytes()),
            Some(User::Id(uid)) => num(Some(u64::from(*uid))),
            Some(User::Unknown) | None => out.push(b'?'),
        },
        Column::Command => {
            let command = process.and_then(|p| p.command.as_deref());
            out.extend_from_slice(command.unwrap_or("?").as_bytes());
        }
        Column::Pid => num(row.owner.map(|o| u64::from(o.pid))),
        Column::Fd => num(row.owner.map(|o| u64::from(o.fd))),
        Column::Proto => out.extend_from_slice(row.proto.as_bytes()),
        Column::Inode => num(Some(row.inode)),
        Column::Local => {
            let _ = write!(out, "{}", row.local);
        }
        Column::Foreign => {
            let _ = write!(out, "{}", row.foreign);
        }
        Column::State => out.extend_from_slice(row.state.unwrap_or("?").as_bytes()),
        Column::RecvQ => num(row.recv_q),
        Column::SendQ => num(row.send_q),
        Column::Uid => num(row.uid.map(u64::from)),
        Column::Netns => match listing.netns_name(row) {
            Some(name) => out.extend_from_slice(name.as_bytes()),
            None => num(row.netns),
        },
        Column::Skmem => write_skmem(out, row.internals.as_deref()),
        Column::TcpInfo => match &row.tcp_info_cell {
            Some(cell) => out.extend_from_slice(cell.as_bytes()),
            None => write_tcp_info(out, row.internals.as_deref()),
        },
    }
}

/// One cell of `row` as text.
pub fn cell(listing: &Listing, row: &Row, column: Column) -> String {
    let mut out = Vec::new();
    write_cell(&mut out, listing, row, column);
    // Every cell is escaped text or ASCII: nothing is lost.
    String::from_utf8_lossy(&out).into_owned()
}

/// `ss -m`'s `skmem:(…)` without its wrapper, one token:
/// `r0,rb131072,t0,tb2626560,f0,w0,o0,bl0,d0`; `*` for a socket the kernel
/// sent none for, `?` when the source cannot say.
fn write_skmem(out: &mut Vec<u8>, internals: Option<&Internals>) {
    let Some(internals) = internals else {
        return out.push(b'?');
    };
    let Some(skmem) = &internals.skmem else {
        return out.push(b'*');
    };
    let short: [&[u8]; 9] = [b"r", b"rb", b"t", b"tb", b"f", b"w", b"o", b"bl", b"d"];
    for (i, (field, short)) in mem::ALL.iter().zip(short).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(short);
        push_number(out, skmem.get(*field));
    }
}

/// `ss -i`'s fields, as one token of comma-separated `name:value` items
/// (so that a row still splits on blanks into its columns): the congestion
/// control first, times in ms as `ss` shows them, the delivery rate in bits
/// per second; `name:?` for a field an older kernel does not send.
pub fn write_tcp_info(out: &mut Vec<u8>, internals: Option<&Internals>) {
    let Some(internals) = internals else {
        return out.push(b'?');
    };
    let Some(info) = &internals.tcp_info else {
        return match &internals.congestion {
            Some(name) => name.push_escaped(out),
            None => out.push(b'*'),
        };
    };
    if let Some(name) = &internals.congestion {
        name.push_escaped(out);
        out.push(b',');
    }
    out.extend_from_slice(b"rtt:");
    push_millis(out, info.get(tcp::RTT));
    out.push(b'/');
    push_millis(out, info.get(tcp::RTTVAR));
    out.extend_from_slice(b",minrtt:");
    push_millis(out, info.get(tcp::MIN_RTT));
    out.extend_from_slice(b",cwnd:");
    push_number(out, info.get(tcp::SND_CWND));
    // As `ss`: no threshold until the first loss (nor on a listener, 0).
    match info.get(tcp::SND_SSTHRESH) {
        Some(at) if at == 0 || at >= tcp::INFINITE_SSTHRESH => {}
        other => {
            out.extend_from_slice(b",ssthresh:");
            push_number(out, other);
        }
    }
    // As `ss`: retransmitted segments not yet acknowledged / all retransmitted.
    out.extend_from_slice(b",mss:");
    push_number(out, info.get(tcp::SND_MSS));
    out.extend_from_slice(b",retrans:");
    push_number(out, info.get(tcp::RETRANS));
    out.push(b'/');
    push_number(out, info.get(tcp::TOTAL_RETRANS));
    for field in [
        tcp::LOST,
        tcp::UNACKED,
        tcp::BYTES_ACKED,
        tcp::BYTES_RECEIVED,
    ] {
        out.push(b',');
        out.extend_from_slice(field.name.as_bytes());
        out.push(b':');
        push_number(out, info.get(field));
    }
    out.extend_from_slice(b",delivery_rate:");
    push_number(
        out,
        info.get(tcp::DELIVERY_RATE).map(|b| b.saturating_mul(8)),
    );
    out.extend_from_slice(b"bps");
}

fn push_number(out: &mut Vec<u8>, n: Option<u64>) {
    match n {
        Some(n) => crate::decimal::push(out, n),
        None => out.push(b'?'),
    }
}

/// Microseconds as milliseconds, exactly: `41` → `0.041`, `20000` → `20`.
fn push_millis(out: &mut Vec<u8>, micros: Option<u64>) {
    let Some(micros) = micros else {
        return out.push(b'?');
    };
    crate::decimal::push(out, micros / 1000);
    let mut frac = micros % 1000;
    if frac != 0 {
        out.push(b'.');
        // Three digits, without the zeros that end them.
        while frac != 0 {
            out.push(b'0' + (frac / 100) as u8);
            frac = frac % 100 * 10;
        }
    }
}

/// A cell's width in characters (what an escaped cell is, short of
/// double-width ones): its bytes that do not continue a UTF-8 sequence.
fn shown_width(cell: &[u8]) -> usize {
    if cell.is_ascii() {
        cell.len()
    } else {
        cell.iter().filter(|&&b| b & 0xc0 != 0x80).count()
    }
}

/// The whole table, header first unless `no_header` (`-q`), handed on in
/// chunks, so that the output is never held whole beside its cells.
///
/// The last column is never padded, so its cells (with `-i` the widest,
/// 150 bytes of a row's 250) are written straight into the output as each
/// line is, not kept beside the others for the widths.
///
/// # Errors
/// The first error of the chunks' sink.
pub fn write(listing: &Listing, shown: Shown, no_header: bool, mut out: Chunked<'_>) -> Result<()> {
    let columns = columns(shown);
    let (padded, last) = columns.split_at(columns.len().saturating_sub(1));
    let last = last.first().copied();
    let mut widths: Vec<usize> = padded
        .iter()
        .map(|c| if no_header { 0 } else { c.title().len() })
        .collect();
    let mut arena = Vec::with_capacity(listing.rows.len() * 80);
    let mut ends = Vec::with_capacity(listing.rows.len() * padded.len());
    for row in &listing.rows {
        for (column, width) in padded.iter().zip(widths.iter_mut()) {
            let start = arena.len();
            write_cell(&mut arena, listing, row, *column);
            let cell = arena.get(start..).unwrap_or_default();
            *width = (*width).max(shown_width(cell));
            // Cells of a table that fits in memory end below 4 GiB.
            ends.push(u32::try_from(arena.len()).unwrap_or(u32::MAX));
        }
    }
    // The padded cells of a line, each followed by the blanks that take
    // the next one to its column.
    let push_padded = |out: &mut Vec<u8>, cells: &mut dyn Iterator<Item = &[u8]>| {
        for (cell, width) in cells.zip(&widths) {
            out.extend_from_slice(cell);
            let blanks = width.saturating_sub(shown_width(cell)) + 2;
            out.resize(out.len() + blanks, b' ');
        }
    };
    if !no_header {
        let text = out.text();
        push_padded(text, &mut padded.iter().map(|c| c.title().as_bytes()));
        if let Some(column) = last {
            text.extend_from_slice(column.title().as_bytes());
        }
        text.push(b'\n');
    }
    let mut start = 0;
    let lines = ends.chunks(padded.len().max(1));
    for (row, line) in listing.rows.iter().zip(lines) {
        let mut cells = line.iter().map(|&end| {
            let end = end as usize;
            let cell = arena.get(start..end).unwrap_or_default();
            start = end;
            cell
        });
        let text = out.text();
        push_padded(text, &mut cells);
        if let Some(column) = last {
            write_cell(text, listing, row, column);
        }
        text.push(b'\n');
        out.flush_if_full()?;
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sockstat::internals::{SkMem, TcpInfo};

    fn cell(write: fn(&mut Vec<u8>, Option<&Internals>), internals: Option<&Internals>) -> String {
        let mut out = Vec::new();
        write(&mut out, internals);
        String::from_utf8(out).unwrap_or_else(|e| panic!("not UTF-8: {e}"))
    }

    #[test]
    fn tcp_info_and_skmem_cells() {
        let mut bytes = vec![0u8; tcp::LEN];
        let mut put = |field: crate::sockstat::internals::Field, value: u64| {
            let at = field.offset;
            match field.width {
                crate::sockstat::internals::Width::U64 => {
                    bytes[at..at + 8].copy_from_slice(&value.to_ne_bytes())
                }
                _ => bytes[at..at + 4].copy_from_slice(&(value as u32).to_ne_bytes()),
            }
        };
        put(tcp::RTT, 41);
        put(tcp::RTTVAR, 20_500);
        put(tcp::MIN_RTT, 7_000);
        put(tcp::SND_CWND, 10);
        put(tcp::SND_SSTHRESH, tcp::INFINITE_SSTHRESH);
        put(tcp::SND_MSS, 32_768);
        put(tcp::TOTAL_RETRANS, 3);
        put(tcp::BYTES_ACKED, 6);
        put(tcp::DELIVERY_RATE, 1_000);
        let full = Internals {
            tcp_info: Some(TcpInfo::new(&bytes)),
            congestion: crate::sockstat::internals::CaName::new(b"cubic"),
            skmem: Some(SkMem::new(&[1, 0, 0, 0, 0, 2, 0])),
        };
        assert_eq!(
            cell(write_tcp_info, Some(&full)),
            "cubic,rtt:0.041/20.5,minrtt:7,cwnd:10,mss:32768,retrans:0/3,lost:0,unacked:0,\
             bytes_acked:6,bytes_received:0,delivery_rate:8000bps"
        );
        let older = Internals {
            tcp_info: Some(TcpInfo::new(&bytes[..104])),
            ..Internals::default()
        };
        assert!(cell(write_tcp_info, Some(&older)).contains(",minrtt:?,"));
        if cfg!(target_endian = "little") {
            assert_eq!(
                cell(write_skmem, Some(&full)),
                "r1,rb?,t?,tb?,f?,w?,o?,bl?,d?"
            );
        }
        let none = Internals::default();
        assert_eq!(cell(write_tcp_info, Some(&none)), "*");
        assert_eq!(cell(write_skmem, Some(&none)), "*");
        assert_eq!(cell(write_tcp_info, None), "?");
        assert_eq!(cell(write_skmem, None), "?");
    }
}
