//! The aligned table: columns as wide as their widest cell, two spaces
//! apart, no trailing blanks.

use super::rows::{Row, User};

/// The cells of a row, in column order.
pub fn cells(row: &Row, extended: bool) -> Vec<String> {
    let unknown = || "?".to_string();
    let opt = |n: Option<u64>| n.map_or_else(unknown, |n| n.to_string());
    let mut cells = vec![
        match &row.user {
            Some(User::Name(name)) => name.clone(),
            Some(User::Id(uid)) => uid.to_string(),
            None => unknown(),
        },
        row.command.clone().unwrap_or_else(unknown),
        opt(row.pid.map(u64::from)),
        opt(row.fd.map(u64::from)),
        row.proto.to_string(),
        row.inode.to_string(),
        row.local.text().to_string(),
        row.foreign.text().to_string(),
        row.state.unwrap_or("?").to_string(),
    ];
    if extended {
        cells.push(opt(row.recv_q));
        cells.push(opt(row.send_q));
        cells.push(opt(row.uid.map(u64::from)));
    }
    cells
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
    let body: Vec<Vec<String>> = rows.iter().map(|row| cells(row, extended)).collect();
    let mut widths: Vec<usize> = titles.iter().map(|t| t.chars().count()).collect();
    if no_header {
        widths.iter_mut().for_each(|w| *w = 0);
    }
    for line in &body {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::with_capacity((body.len() + 1) * 96);
    let mut push_line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut first = true;
        let mut pending = 0;
        for (cell, width) in cells.zip(&widths) {
            if !first {
                out.extend(core::iter::repeat_n(' ', pending + 2));
            }
            first = false;
            out.push_str(cell);
            pending = width.saturating_sub(cell.chars().count());
        }
        out.push('\n');
    };
    if !no_header {
        push_line(&mut titles.iter().copied());
    }
    for line in &body {
        push_line(&mut line.iter().map(String::as_str));
    }
    out
}
