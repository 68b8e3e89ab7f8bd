//! CPU time from `/proc/PID/stat`: sockbench's own, so a report can say when
//! the load generator, not the server, was the limit (near 100 % of one
//! core); and a server's with all its descendants (`sockbench cpu PID`, for
//! `scripts/bench.sh`).
//!
//! A fork-per-connection server's children are counted without counting
//! anything twice: live ones by their own utime+stime, reaped ones through
//! the parent's cutime+cstime. [`settled_tree_cpu`] first waits until no
//! child is left, so that none is lost between two readings. (A server that
//! ignores SIGCHLD has its children reaped by the kernel, and their time is
//! lost to `/proc`; bench.sh then reads a cgroup's instead.)

use crate::error::{Error, Result};
use rustix::fd::AsFd;
use rustix::fs::{CWD, Dir, OFlags};
use std::collections::HashMap;
use std::ffi::CString;
use std::time::Duration;

/// How deep a parent chain is followed before a process is taken as no
/// descendant.
const MAX_DEPTH: usize = 64;
/// How often, and how many times, [`settled_tree_cpu`] looks for children
/// still alive.
const SETTLE_EVERY: Duration = Duration::from_millis(10);
const SETTLE_LOOKS: usize = 300;

/// The fields of a `/proc/PID/stat` line that CPU accounting needs, in
/// clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    ppid: u32,
    /// utime + stime: this process's own.
    own: u64,
    /// cutime + cstime: its reaped children's.
    reaped: u64,
}

/// User + system CPU time this process has used so far, from
/// `/proc/self/stat`; `None` if it cannot be read or parsed.
pub fn process_cpu() -> Option<Duration> {
    let stat = crate::io::read_to_end_at(CWD, c"/proc/self/stat", 512).ok()?;
    Some(ticks(parse_stat(&stat)?.own))
}

/// The CPU time of process `pid` and all its descendants, once it has no
/// child left (waiting at most 3 s for that).
///
/// # Errors
/// `pid`'s `/proc` entry cannot be read (`ENOENT`: no such process).
pub fn settled_tree_cpu(pid: u32) -> Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let c_path = CString::new(path.as_str()).map_err(|_| Error::Usage(path.clone()))?;
    crate::io::read_to_end_at(CWD, &c_path, 512)
        .map_err(|errno| Error::on("read", &path, errno))?;
    let mut total = 0;
    for _ in 0..SETTLE_LOOKS {
        let (used, children) = tree_ticks(&processes()?, pid);
        total = used;
        if children == 0 {
            break;
        }
        std::thread::sleep(SETTLE_EVERY);
    }
    Ok(ticks(total))
}

/// [`settled_tree_cpu`] printed in microseconds, on a line of its own.
///
/// # Errors
/// As [`settled_tree_cpu`]; a failed write to stdout.
pub fn print_tree_cpu(pid: u32) -> Result<()> {
    let micros = settled_tree_cpu(pid)?.as_micros();
    crate::io::write_stdout(format!("{micros}\n").as_bytes())
}

fn ticks(count: u64) -> Duration {
    let per_second = rustix::param::clock_ticks_per_second().max(1);
    Duration::from_micros(count.saturating_mul(1_000_000) / per_second)
}

/// Every process's [`Stat`], by pid; processes that vanish meanwhile are
/// left out.
fn processes() -> Result<HashMap<u32, Stat>> {
    let proc_dir = crate::io::open_at(CWD, c"/proc", OFlags::RDONLY | OFlags::DIRECTORY)
        .map_err(|errno| Error::on("open", "/proc", errno))?;
    let mut dir = Dir::read_from(&proc_dir).map_err(|errno| Error::on("read", "/proc", errno))?;
    let mut table = HashMap::new();
    while let Some(entry) = dir.read() {
        let entry = entry.map_err(|errno| Error::on("read", "/proc", errno))?;
        let Some(pid) = crate::decimal::parse::<u32>(entry.file_name().to_bytes()) else {
            continue;
        };
        let Ok(path) = CString::new(format!("{pid}/stat")) else {
            continue;
        };
        if let Ok(text) = crate::io::read_to_end_at(proc_dir.as_fd(), &path, 512)
            && let Some(stat) = parse_stat(&text)
        {
            table.insert(pid, stat);
        }
    }
    Ok(table)
}

/// The ticks `root` and its descendants used (own and reaped), and how many
/// descendants are alive.
fn tree_ticks(table: &HashMap<u32, Stat>, root: u32) -> (u64, usize) {
    let mut total = 0u64;
    let mut children = 0;
    for (&pid, stat) in table {
        let mut ancestor = pid;
        for _ in 0..MAX_DEPTH {
            if ancestor == root || ancestor <= 1 {
                break;
            }
            ancestor = table.get(&ancestor).map_or(0, |stat| stat.ppid);
        }
        if ancestor == root {
            total = total.saturating_add(stat.own.saturating_add(stat.reaped));
            if pid != root {
                children += 1;
            }
        }
    }
    (total, children)
}

/// ppid (field 4), utime + stime (14, 15) and cutime + cstime (16, 17) of a
/// `/proc/PID/stat` line. The command name (field 2) may hold spaces and
/// parentheses: fields are counted after its last `)`.
fn parse_stat(stat: &[u8]) -> Option<Stat> {
    let end = stat.iter().rposition(|&b| b == b')')?;
    let rest = core::str::from_utf8(stat.get(end + 1..)?).ok()?;
    let fields: Vec<&str> = rest.split_ascii_whitespace().take(15).collect();
    let number = |index: usize| -> Option<u64> { crate::decimal::parse_str(fields.get(index)?) };
    Some(Stat {
        ppid: u32::try_from(number(1)?).ok()?,
        own: number(11)?.checked_add(number(12)?)?,
        reaped: number(13)?.checked_add(number(14)?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_times_after_an_awkward_command_name() {
        let line = b"42 (a) b (c) R 1 42 42 0 -1 4194560 100 0 0 0 250 50 3 4 20 0 1 0 9 0 0";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                ppid: 1,
                own: 300,
                reaped: 7
            })
        );
        assert_eq!(parse_stat(b"42 (x) R 1"), None);
        assert_eq!(parse_stat(b"garbage"), None);
    }

    fn stat(ppid: u32, own: u64, reaped: u64) -> Stat {
        Stat { ppid, own, reaped }
    }

    #[test]
    fn a_tree_counts_descendants_once_and_nothing_else() {
        let table = HashMap::from([
            (1, stat(0, 1000, 1000)),
            (10, stat(1, 5, 20)),  // the server; 20 reaped
            (11, stat(10, 3, 0)),  // a live child
            (12, stat(11, 2, 0)),  // a grandchild
            (13, stat(1, 700, 0)), // unrelated
            (14, stat(99, 50, 0)), // parent vanished: not ours
        ]);
        assert_eq!(tree_ticks(&table, 10), (30, 2));
        assert_eq!(tree_ticks(&table, 12), (2, 0));
        assert_eq!(tree_ticks(&table, 77), (0, 0));
    }

    #[test]
    fn a_parent_cycle_ends() {
        let table = HashMap::from([(5, stat(6, 1, 0)), (6, stat(5, 1, 0))]);
        assert_eq!(tree_ticks(&table, 10), (0, 0));
    }

    #[test]
    fn our_own_cpu_is_readable() {
        assert!(process_cpu().is_some());
        let me = rustix::process::getpid().as_raw_pid() as u32;
        assert!(settled_tree_cpu(me).is_ok());
    }
}
