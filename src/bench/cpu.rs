//! sockbench's own CPU time, so a report can say when the load generator,
//! not the server, was the limit (near 100 % of one core).

use std::time::Duration;

/// Clock ticks per second in `/proc/PID/stat` (`USER_HZ`, 100 on Linux).
const USER_HZ: u64 = 100;

/// User + system CPU time this process has used so far, from
/// `/proc/self/stat`; `None` if it cannot be read or parsed.
pub fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_stat(&stat)
}

/// utime + stime (fields 14 and 15) of a `/proc/PID/stat` line. The command
/// name (field 2) may hold spaces and parentheses: fields are counted after
/// its last `)`.
fn parse_stat(stat: &str) -> Option<Duration> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime.checked_add(stime)?;
    Some(Duration::from_millis(ticks.checked_mul(1000 / USER_HZ)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_times_after_an_awkward_command_name() {
        let line = "42 (a) b (c) R 1 42 42 0 -1 4194560 100 0 0 0 250 50 3 4 20 0 1 0 9 0 0";
        assert_eq!(parse_stat(line), Some(Duration::from_millis(3000)));
        assert_eq!(parse_stat("42 (x) R 1"), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn our_own_cpu_is_readable() {
        assert!(process_cpu().is_some());
    }
}
