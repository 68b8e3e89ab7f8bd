//! The aligned table: columns as wide as their widest cell, two spaces
//! apart, no trailing blanks.
//!
//! Rendered in two passes over the rows (widths, then text) with one
//! reused cell buffer: with tens of thousands of rows, holding every cell
//! as its own `String` would cost more memory than everything else.

use super::rows::{Row, User};
use core::fmt::Write as _;

/// Fills `cells` with the row's cells, in column order, reusing the
/// strings already there.
pub fn cells(row: &Row, extended: bool, cells: &mut Vec<String>) {
    cells.resize(if extended { 12 } else { 9 }, String::new());
    cells.iter_mut().for_each(String::clear);
    let num = |cell: &mut String, n: Option<u64>| match n {
        Some(n) => {
            let _ = write!(cell, "{n}");
        }
        None => cell.push('?'),
    };
    for (column, cell) in cells.iter_mut().enumerate() {
        match column {
            0 => match &row.user {
                Some(User::Name(name)) => cell.push_str(name),
                Some(User::Id(uid)) => num(cell, Some(u64::from(*uid))),
                None => cell.push('?'),
            },
            1 => cell.push_str(row.command.as_deref().unwrap_or("?")),
            2 => num(cell, row.pid.map(u64::from)),
            3 => num(cell, row.fd.map(u64::from)),
            4 => cell.push_str(row.proto),
            5 => num(cell, Some(row.inode)),
            6 => cell.push_str(row.local.text()),
            7 => cell.push_str(row.foreign.text()),
            8 => cell.push_str(row.state.unwrap_or("?")),
            9 => num(cell, row.recv_q),
            10 => num(cell, row.send_q),
            _ => num(cell, row.uid.map(u64::from)),
        }
    }
}

/// The column titles.
pub fn header(extended: bool) -> Vec<&'static str> {
    let mut titles = vec![
        "USER",
        "COMMAND",
        "PID",
        "FD",
        "PROTO",
        "INODE",
        "LOCAL ADDRESS",
        "FOREIGN ADDRESS",
        "STATE",
    ];
    if extended {
        titles.extend(["RECV-Q", "SEND-Q", "UID"]);
    }
    titles
}

/// The whole table as text, header first unless `no_header` (`-q`).
pub fn render(rows: &[Row], extended: bool, no_header: bool) -> String {
    let titles = header(extended);
    let mut widths: Vec<usize> = titles
        .iter()
        .map(|t| if no_header { 0 } else { t.chars().count() })
        .collect();
    let mut buf = Vec::new();
    let mut total = 0;
    for row in rows {
        cells(row, extended, &mut buf);
        for (width, cell) in widths.iter_mut().zip(&buf) {
            let len = cell.chars().count();
            *width = (*width).max(len);
            total += len + 2;
        }
        total += 1;
    }
    let mut out = String::with_capacity(total + 256);
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
    for row in rows {
        cells(row, extended, &mut buf);
        push_line(&mut out, &mut buf.iter().map(String::as_str));
    }
    out
}
