//! sockstat's table read back: rows keyed by column title.

use std::collections::BTreeMap;

/// One row of the table: column title → cell.
pub type Row = BTreeMap<String, String>;

/// Runs `sockstat ARGS`, insists on exit 0 and a quiet stderr, returns
/// the rows.
#[track_caller]
pub fn table(args: &[&str]) -> Vec<Row> {
    let out = super::sockstat().args(args).run();
    out.success().stderr_is("");
    parse_table(&out.stdout_text())
}

/// Splits the table at the header's column starts (cells may hold spaces:
/// `-> [PID FD]`, `LOCAL ADDRESS`).
pub fn parse_table(text: &str) -> Vec<Row> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let titles = [
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
        "NETNS",
        "SKMEM",
        "TCP-INFO",
    ];
    let mut starts: Vec<(usize, &str)> = titles
        .iter()
        .filter_map(|t| header.find(t).map(|at| (at, *t)))
        .collect();
    starts.sort();
    lines
        .map(|line| {
            let chars: Vec<char> = line.chars().collect();
            starts
                .iter()
                .enumerate()
                .map(|(i, &(at, title))| {
                    let end = starts.get(i + 1).map_or(chars.len(), |&(next, _)| next);
                    let cell: String = chars
                        .get(at.min(chars.len())..end.min(chars.len()))
                        .unwrap_or_default()
                        .iter()
                        .collect();
                    (title.to_string(), cell.trim().to_string())
                })
                .collect()
        })
        .collect()
}
