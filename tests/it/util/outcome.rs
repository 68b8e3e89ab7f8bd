//! What a finished command did, and the assertions on it: each failure
//! shows the command, its exit (code, signal, or killed at the limit), its
//! stdout and its stderr.

use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

pub struct Outcome {
    pub command: String,
    /// The exit code; `None` when a signal ended the process.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// Set when the command outran its limit and was killed.
    pub killed_after: Option<Duration>,
    /// Where it and its threads were waiting when killed at the limit
    /// ([`procfs::waits`](super::procfs::waits)); empty otherwise.
    pub waiting: String,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Outcome {
    pub(super) fn new(
        command: String,
        status: ExitStatus,
        killed_after: Option<Duration>,
        waiting: String,
        stdout: Vec<u8>,
        stderr: String,
    ) -> Self {
        Self {
            command,
            code: status.code(),
            signal: status.signal(),
            killed_after,
            waiting,
            stdout,
            stderr,
        }
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    #[track_caller]
    pub fn success(&self) -> &Self {
        assert_eq!(self.code, Some(0), "expected success\n{self}");
        self
    }

    /// Asserts the exit code and that stderr has exactly one line naming
    /// `needle` (the errno name, for an OS error), plus a `hint:` line when
    /// the error has one, and no panic.
    #[track_caller]
    pub fn fails_with(&self, code: i32, needle: &str) -> &Self {
        assert_eq!(self.code, Some(code), "wrong exit code\n{self}");
        self.stderr_has(needle).no_panic();
        let lines = self
            .stderr
            .lines()
            .filter(|l| !l.starts_with("hint: "))
            .count();
        assert_eq!(lines, 1, "expected one error line\n{self}");
        self
    }

    /// Asserts the exit code alone, for a failure whose stderr is checked
    /// whole with [`Self::stderr_is`] (lines before the error included).
    #[track_caller]
    pub fn exits(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "wrong exit code\n{self}");
        self.no_panic()
    }

    #[track_caller]
    pub fn no_panic(&self) -> &Self {
        assert!(!self.stderr.contains("panicked"), "panic\n{self}");
        assert_ne!(self.code, Some(101), "panic exit\n{self}");
        self
    }

    #[track_caller]
    pub fn stdout_is(&self, expected: &[u8]) -> &Self {
        assert!(
            self.stdout == expected,
            "stdout differs: expected {:?}\n{self}",
            String::from_utf8_lossy(expected)
        );
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout_text().contains(needle),
            "stdout lacks {needle:?}\n{self}"
        );
        self
    }

    #[track_caller]
    pub fn stderr_is(&self, expected: &str) -> &Self {
        assert!(
            self.stderr == expected,
            "stderr differs: expected {expected:?}\n{self}"
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n{self}"
        );
        self
    }

    #[track_caller]
    pub fn stderr_starts_with(&self, prefix: &str) -> &Self {
        assert!(
            self.stderr.starts_with(prefix),
            "stderr does not start with {prefix:?}\n{self}"
        );
        self
    }

    /// Asserts stderr has `count` lines, hints included.
    #[track_caller]
    pub fn stderr_lines(&self, count: usize) -> &Self {
        assert_eq!(
            self.stderr.lines().count(),
            count,
            "expected {count} stderr lines\n{self}"
        );
        self
    }

    /// sockd's stop line as numbers: `(connections or datagrams, bytes
    /// received)`.
    #[track_caller]
    pub fn summary(&self) -> (u64, u64) {
        let stop = self.stop_line();
        (stop.count, stop.bytes)
    }

    /// The transcript lines sockd's stop line says it dropped (0 when it
    /// says nothing of them).
    #[track_caller]
    pub fn transcript_dropped(&self) -> u64 {
        self.stop_line().dropped
    }

    /// The echoes a datagram sockd's stop line says it did not send (0 when
    /// it says nothing of them).
    #[track_caller]
    pub fn unsent(&self) -> u64 {
        self.stop_line().unsent
    }

    /// The datagrams sockd's stop line says `--drop` dropped (0 when it
    /// says nothing of them).
    #[track_caller]
    pub fn dropped_by_drop(&self) -> u64 {
        self.stop_line().lost
    }

    /// The `--events` lines sockd's stop line says it dropped (0 when it
    /// says nothing of them).
    #[track_caller]
    pub fn events_dropped(&self) -> u64 {
        self.stop_line().events
    }

    #[track_caller]
    fn stop_line(&self) -> StopLine {
        stop_line_in(&self.stderr).unwrap_or_else(|| panic!("no summary line\n{self}"))
    }
}

/// sockd's stop line in `stderr`, if it has one: `sockd: stopped: N
/// connections|datagrams, M bytes received[, U echoes not sent (-vv says
/// why)][, L dropped by --drop][, K transcript lines dropped (stdout not
/// read)][, E events dropped][, D diagnostic lines dropped (stderr not
/// read)]`, each part checked for its words.
#[track_caller]
pub fn stop_line_in(stderr: &str) -> Option<StopLine> {
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("sockd: stopped: "))?;
    let bad = || -> ! {
        panic!(
            "summary line not `N connections|datagrams, M bytes received[, U echoes not sent \
             (-vv says why)][, L dropped by --drop][, K transcript lines dropped (stdout not \
             read)][, E events dropped][, D diagnostic lines dropped (stderr not read)]`: {line}"
        )
    };
    // Each part is a number and the words after it.
    let parts: Vec<(u64, &str)> = line
        .split(", ")
        .map(|part| {
            let (number, words) = part.split_once(' ').unwrap_or_else(|| bad());
            (number.parse().unwrap_or_else(|_| bad()), words)
        })
        .collect();
    let mut stop = match parts[..] {
        [
            (count, "connection" | "connections" | "datagram" | "datagrams"),
            (bytes, "byte received" | "bytes received"),
            ..,
        ] => StopLine {
            count,
            bytes,
            ..StopLine::default()
        },
        _ => bad(),
    };
    for &(number, words) in &parts[2..] {
        match words {
            "echo not sent (-vv says why)" | "echoes not sent (-vv says why)" => {
                stop.unsent = number
            }
            "transcript line dropped (stdout not read)"
            | "transcript lines dropped (stdout not read)" => stop.dropped = number,
            "dropped by --drop" => stop.lost = number,
            "event dropped" | "events dropped" => stop.events = number,
            "diagnostic line dropped (stderr not read)"
            | "diagnostic lines dropped (stderr not read)" => stop.diagnostics = number,
            _ => bad(),
        }
    }
    Some(stop)
}

/// The parts of sockd's stop line.
#[derive(Debug, Default)]
pub struct StopLine {
    pub count: u64,
    pub bytes: u64,
    pub unsent: u64,
    pub dropped: u64,
    pub lost: u64,
    pub events: u64,
    pub diagnostics: u64,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = &self.stdout[..self.stdout.len().min(4096)];
        writeln!(f, "command: {}", self.command)?;
        match (self.code, self.signal, self.killed_after) {
            (_, _, Some(limit)) => writeln!(
                f,
                "exit: killed, still running after {limit:?}; it waited in:\n{}",
                self.waiting
            )?,
            (Some(code), _, _) => writeln!(f, "exit code: {code}")?,
            (None, signal, _) => writeln!(f, "exit: killed by signal {signal:?}")?,
        }
        writeln!(
            f,
            "stdout ({} bytes): {}",
            self.stdout.len(),
            String::from_utf8_lossy(shown)
        )?;
        write!(f, "stderr: {}", self.stderr)
    }
}
