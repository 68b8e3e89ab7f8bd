//! The aligned table: columns as wide as their widest cell, two spaces
//! apart, no trailing blanks.
//!
//! Every cell is written once, into one text arena with its end offset
//! recorded; widths come from that pass, and the output copies slices. With
//! tens of thousands of rows, a `String` per cell would cost more memory
//! and time than the rest of the program's user-space work.

use super::rows::{Listing, Row};
use super::users::User;
use core::fmt::Write as _;

/// The column titles.
pub fn header(extended: bool) -> &'static [&'static str] {
    const TITLES: [&str; 12] = [
        "USER",
        "COMMAND",
        "PID",
        "FD",
        "PROTO",
        "INODE",
        "LOCAL ADDRESS",
        "FOREIGN ADDRESS",
        "STATE",
        "RECV-Q",
        "SEND-Q",
        "UID",
    ];
    if extended { &TITLES } else { &TITLES[..9] }
}

/// Appends one cell of `row` (column `column` of [`header`]) to `out`.
pub fn write_cell(out: &mut String, listing: &Listing, row: &Row, column: usize) {
    let process = row.owner.as_ref().and_then(|owner| listing.process(owner));
    let mut num = |n: Option<u64>| match n {
        Some(n) => {
            let _ = write!(out, "{n}");
        }
        None => out.push('?'),
    };
    match column {
        0 => match process.map(|p| &p.user) {
            Some(User::Name(name)) => out.push_str(name),
            Some(User::Id(uid)) => num(Some(u64::from(*uid))),
            Some(User::Unknown) | None => out.push('?'),
        },
        1 => out.push_str(process.and_then(|p| p.command.as_deref()).unwrap_or("?")),
        2 => num(row.owner.map(|o| u64::from(o.pid))),
        3 => num(row.owner.map(|o| u64::from(o.fd))),
        4 => out.push_str(row.proto),
        5 => num(Some(row.inode)),
        6 => {
            let _ = write!(out, "{}", row.local);
        }
        7 => {
            let _ = write!(out, "{}", row.foreign);
        }
        8 => out.push_str(row.state.unwrap_or("?")),
        9 => num(row.recv_q),
        10 => num(row.send_q),
        _ => num(row.uid.map(u64::from)),
    }
}

/// The whole table as text, header first unless `no_header` (`-q`).
pub fn render(listing: &Listing, extended: bool, no_header: bool) -> String {
    let titles = header(extended);
    let columns = titles.len();
    let mut widths: Vec<usize> = titles
        .iter()
        .map(|t| if no_header { 0 } else { t.len() })
        .collect();
    let mut arena = String::with_capacity(listing.rows.len() * 80);
    let mut ends = Vec::with_capacity(listing.rows.len() * columns);
    for row in &listing.rows {
        for (column, width) in widths.iter_mut().enumerate() {
            let start = arena.len();
            write_cell(&mut arena, listing, row, column);
            let cell = arena.get(start..).unwrap_or_default();
            *width = (*width).max(cell.chars().count());
            ends.push(arena.len());
        }
    }
    let mut out = String::with_capacity(arena.len() * 2 + 256);
    let push_line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let mut pending = None;
        for (cell, width) in cells.zip(&widths) {
            if let Some(pad) = pending {
                out.extend(core::iter::repeat_n(' ', pad + 2));
            }
            out.push_str(cell);
            pending = Some(width.saturating_sub(cell.chars().count()));
        }
        out.push('\n');
    };
    if !no_header {
        push_line(&mut out, &mut titles.iter().copied());
    }
    let mut start = 0;
    for line in ends.chunks(columns.max(1)) {
        let mut cells = line.iter().map(|&end| {
            let cell = arena.get(start..end).unwrap_or_default();
            start = end;
            cell
        });
        push_line(&mut out, &mut cells);
    }
    out
}
