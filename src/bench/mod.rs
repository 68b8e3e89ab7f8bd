//! `sockbench`: a load generator for any echo server on this host (TCP,
//! UDP, unix stream or unix datagram sockets), on raw fds and one
//! edge-triggered epoll loop.
//!
//! Four loads ([`Mode`]): `pingpong` (persistent connections, one request in
//! flight on each), `churn` (connect, request, close, again), `bulk` (one
//! connection streaming both ways) and `hold` (many connections that echo
//! once, sit idle until the deadline, and echo once more: what a server
//! pays for connections it merely keeps). Every echoed byte is compared with what
//! was sent; a single wrong byte makes the run fail.
//!
//! # Transports
//! `HOST PORT` is TCP (an IP literal, or a name whose loopback address is
//! used); `-U PATH` (a path, or `@name` for the abstract namespace) is a
//! unix stream socket, for every load. `-u` makes either a datagram load,
//! pingpong only ([`datagram`]): each request is one datagram whose echo
//! must come back as one datagram of the same bytes; a request with no
//! echo within `--lost-after` (default 0.2 s) is lost, counted, and
//! followed by the next request; the run fails only if no request came
//! back at all. A request is at most 65,507 bytes (IPv4's largest UDP
//! datagram; 65,527 over IPv6; unix datagrams are held to IPv4's, so the
//! two compare). Before a datagram load, one datagram is sent, and resent,
//! until something answers (for `--wait` SECS, else 5 s): a refusal exits
//! 69 at once, silence 69 after that.
//!
//! # Output
//! A short table on stdout, or with `--json` one object:
//!
//! | field | meaning |
//! |---|---|
//! | `mode` | `"pingpong"`, `"churn"`, `"bulk"` or `"hold"` |
//! | `transport` | `"tcp"`, `"udp"`, `"unix"` or `"unix-dgram"` |
//! | `target` | the server, `127.0.0.1:7777`, `/run/echo.sock` or `@echo` |
//! | `connections` | pingpong, hold: connections; churn: concurrency; bulk: 1 |
//! | `threads` | load threads (`--threads`), each with its own epoll loop |
//! | `size` | bytes per request (bulk: `null`) |
//! | `seconds` | how long the load ran (hold: including connection set-up and both echo rounds) |
//! | `requests` | requests whose whole echo came back (bulk: `null`) |
//! | `requests_per_sec` | `requests / seconds` (bulk: `null`) |
//! | `connects` | connections opened (churn: about one per request) |
//! | `bytes` | echoed bytes received and compared |
//! | `mb_per_sec` | `bytes / seconds / 10^6` |
//! | `latency_us` | `{"p50", "p99", "max", "mean"}` in µs, from a request's first byte (churn: from `connect`) to its last echoed byte; `null` for bulk |
//! | `errors` | failures by errno name, `{"ECONNRESET": 2}`; `"EOF"` is a server that closed before the echo was complete; `"ETIMEDOUT"` a hold connection whose echo did not come back in its round |
//! | `corrupt` | requests (bulk: reads) whose echo differed |
//! | `lost` | datagram loads: requests given up after `--lost-after` with no echo; `null` otherwise |
//! | `late` | datagram loads: echoes of a request already lost or answered (late, or sent twice), neither wrong nor counted as requests; `null` otherwise |
//! | `client_cpu_percent` | sockbench's own CPU use over the run, % of one core (near 100: the load generator was the limit); `null` if unknown |
//! | `first_corrupt` | `{"connection", "request", "offset", "expected", "got"}` of the first wrong byte, or `null`; `expected` is `null` for a byte after the whole echo |
//!
//! # Exit codes
//! 0 when every echo was right; 71 when any echoed byte differed, or a
//! byte came after a whole echo (the results are still printed); 69 when
//! the server refuses the first connection (for unix, also: no socket at
//! the path), or no request's echo came back whole (bulk: no byte came
//! back; datagrams: every request was lost); 75 when a connect timed out;
//! 68 for a host name the resolver does not know, 75 for one it could not
//! look up now; 64 for a usage error, including a target that is not a
//! loopback address.
//!
//! # For scripts
//! Three hidden subcommands serve `scripts/bench.sh`: `free-port [-u]` (a
//! loopback TCP or UDP port that was free a moment ago), `cpu PID` ([`cpu`]: a process
//! tree's CPU time in µs) and `report [--hold] FILE` ([`summary`]: the
//! tables, from the runs the script recorded as JSON lines).
//!
//! # Time
//! `-d` bounds the whole run: the load runs for `-d` once its connections
//! are set up (hold: set-up counts within `-d`); set-up, hold's last echo
//! round and the final drain (every connection is half-closed and read to
//! the server's EOF) fit in [`deadline::GRACE`] (10 s) more. `--wait`
//! comes before and is bounded by itself.

pub mod args;
pub mod bulk;
pub mod churn;
pub mod cpu;
pub mod datagram;
pub mod deadline;
pub mod drain;
pub mod driver;
pub mod exchange;
pub mod hold;
pub mod pattern;
pub mod pingpong;
pub mod poller;
pub mod report;
pub mod source;
pub mod stats;
pub mod summary;

use crate::endpoint::{Address, Endpoint, Kind};
use crate::error::{Error, Result};
use crate::exit::Exit;
use core::net::{IpAddr, SocketAddr};
use deadline::Deadline;
use stats::Tally;
use std::time::Duration;

/// How long the first connection (and pingpong's initial ones) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest single wait in an event loop (the progress line's period).
pub const TICK: Duration = Duration::from_millis(250);
/// Bytes read per `recv` in the request loads.
pub const SCRATCH: usize = 64 * 1024;
/// The largest request `-s` accepts.
pub const MAX_SIZE: usize = 16 * 1024 * 1024;
/// The largest UDP payload over IPv4 (65,535 less the IP and UDP headers),
/// and the largest datagram request over unix sockets.
pub const MAX_DATAGRAM_V4: usize = 65_507;
/// The largest UDP payload over IPv6 (no IP header counts against it).
pub const MAX_DATAGRAM_V6: usize = 65_527;
/// The most load threads `--threads` accepts.
pub const MAX_THREADS: usize = 256;
/// The longest `-d`, `--wait` and `--lost-after` accept: a year, as every
/// duration on the command line.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// The four loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Persistent connections, one request in flight on each.
    PingPong,
    /// A new connection per request.
    Churn,
    /// One connection, streaming both ways.
    Bulk,
    /// Many connections, one request each, idle, one more request each.
    Hold,
}

impl Mode {
    /// The subcommand's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::PingPong => "pingpong",
            Self::Churn => "churn",
            Self::Bulk => "bulk",
            Self::Hold => "hold",
        }
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Which load.
    pub mode: Mode,
    /// The echo server: TCP or UDP on loopback, or a unix socket.
    pub target: Endpoint,
    /// Connections (pingpong) or concurrency (churn); bulk uses 1.
    pub connections: usize,
    /// Bytes per request.
    pub size: usize,
    /// How long to run.
    pub duration: Duration,
    /// Draw a progress line on stderr.
    pub progress: bool,
    /// How long to retry a refused first connection (a server still
    /// starting); `None`: fail at once.
    pub wait: Option<Duration>,
    /// Load threads, each with its own epoll loop and a share of the
    /// connections (pingpong and churn only; 1 otherwise).
    pub threads: usize,
    /// The number of this share's first connection (set by [`run`] for each
    /// thread, so patterns and reports number connections across threads).
    pub first_connection: usize,
    /// Datagram loads: how long a request waits for its echo before it is
    /// lost ([`datagram::LOST_AFTER`] by default).
    pub lost_after: Duration,
}

impl Options {
    /// Whether this is a datagram load (UDP or unix datagrams).
    pub fn is_datagram(&self) -> bool {
        self.target.kind == Kind::Datagram
    }
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// What was asked.
    pub options: Options,
    /// How long the load ran (after the connections were set up).
    pub elapsed: Duration,
    /// What was counted.
    pub tally: Tally,
    /// sockbench's own CPU time during the run (user + system), when known.
    pub client_cpu: Option<Duration>,
}

impl Outcome {
    /// Whether the echo was right: [`Error::WrongEcho`] if any echoed byte
    /// differed (or came after a whole echo), [`Error::NoEcho`] if no
    /// request's echo came back whole (bulk: no byte came back).
    ///
    /// # Errors
    /// Those two, with the message a user sees.
    pub fn verdict(&self) -> Result<()> {
        let (tally, target) = (&self.tally, &self.options.target);
        if let Some(message) = report::corruption_message(self) {
            Err(Error::WrongEcho(message))
        } else if tally.requests == 0 && self.options.is_datagram() {
            Err(Error::NoEcho(format!(
                "no echo came back from {target}: all {} requests were lost (no echo within {:.3} s)",
                tally.lost,
                self.options.lost_after.as_secs_f64()
            )))
        } else if tally.bytes == 0 {
            Err(Error::NoEcho(format!("no echo came back from {target}")))
        } else if tally.requests == 0 && self.options.mode != Mode::Bulk {
            Err(Error::NoEcho(format!(
                "no request completed: {target} echoed {} bytes in all, but never a whole {}-byte request",
                tally.bytes, self.options.size
            )))
        } else {
            Ok(())
        }
    }

    /// How the program ends: 71 if any echoed byte was wrong, 69 if no
    /// request completed, else 0.
    pub fn exit(&self) -> Exit {
        self.verdict()
            .map_or_else(|err| err.exit(), |()| Exit::Success)
    }
}

/// Checks the options: a loopback target, sizes and durations in range.
///
/// # Errors
/// [`Error::Usage`] saying what is wrong.
pub fn validate(options: &Options) -> Result<()> {
    if let Address::Ip(addr) = options.target.address {
        if !is_loopback(&addr) {
            return Err(Error::Usage(format!(
                "target {} is not a loopback address: sockbench loads only 127.0.0.0/8, ::1 and unix sockets",
                addr.ip()
            )));
        }
        if addr.port() == 0 {
            return Err(Error::Usage("port 0: give the server's port".to_string()));
        }
    }
    if options.is_datagram() {
        if options.mode != Mode::PingPong {
            return Err(Error::Usage(format!(
                "-u loads pingpong only: datagrams have no connection to {}",
                options.mode.name()
            )));
        }
        let max = match options.target.address {
            Address::Ip(SocketAddr::V6(_)) => MAX_DATAGRAM_V6,
            _ => MAX_DATAGRAM_V4,
        };
        if options.size > max {
            return Err(Error::Usage(format!(
                "-s must be from 1 to {max} bytes for {} (one datagram)",
                options.target.transport().name()
            )));
        }
    }
    if options.connections == 0 {
        return Err(Error::Usage("-c must be at least 1".to_string()));
    }
    if options.size == 0 || options.size > MAX_SIZE {
        return Err(Error::Usage(format!(
            "-s must be from 1 to {MAX_SIZE} bytes"
        )));
    }
    if options.threads == 0 || options.threads > MAX_THREADS {
        return Err(Error::Usage(format!(
            "--threads must be from 1 to {MAX_THREADS}"
        )));
    }
    if options.threads > 1 && !matches!(options.mode, Mode::PingPong | Mode::Churn) {
        return Err(Error::Usage(
            "--threads is for pingpong and churn only".to_string(),
        ));
    }
    if options.wait.is_some_and(|wait| wait > MAX_DURATION) {
        return Err(Error::Usage("--wait must be at most a year".to_string()));
    }
    if options.duration.is_zero() || options.duration > MAX_DURATION {
        return Err(Error::Usage(
            "-d must be more than 0 and at most a year".to_string(),
        ));
    }
    if options.lost_after.is_zero() || options.lost_after > MAX_DURATION {
        return Err(Error::Usage(
            "--lost-after must be more than 0 and at most a year".to_string(),
        ));
    }
    Ok(())
}

/// Whether `addr` is on loopback: 127.0.0.0/8, `::1`, or 127/8 mapped in IPv6.
pub fn is_loopback(addr: &SocketAddr) -> bool {
    match addr.ip() {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Runs the load `options` describes.
///
/// # Errors
/// [`Error::Usage`] from [`validate`]; the first connection's failure
/// (`ECONNREFUSED`: exit 69) or an `epoll` failure as [`Error::Os`].
pub fn run(options: &Options) -> Result<Outcome> {
    validate(options)?;
    if options.is_datagram() {
        datagram::probe(options)?;
    } else if let Some(wait) = options.wait {
        wait_for_server(&options.target, wait)?;
    }
    let cpu_before = cpu::process_cpu();
    // One pattern for every thread: with large requests it is the biggest
    // allocation sockbench makes.
    let pattern = pattern::Pattern::new(options.size);
    let deadline = Deadline::after(options.duration);
    let (tally, elapsed) = if options.threads > 1 && options.connections > 1 {
        run_threads(options, &pattern, deadline)?
    } else {
        run_one(options, &pattern, deadline, options.progress)?
    };
    let client_cpu = match (cpu_before, cpu::process_cpu()) {
        (Some(before), Some(after)) => after.checked_sub(before),
        _ => None,
    };
    Ok(Outcome {
        options: options.clone(),
        elapsed,
        tally,
        client_cpu,
    })
}

/// [`run`], then its report on stdout: the table, or with `json` one
/// JSON object on one line.
///
/// # Errors
/// As [`run`]; then [`Outcome::verdict`]'s (the report is printed first);
/// then a failed write to stdout.
pub fn load(options: &Options, json: bool) -> Result<()> {
    let outcome = run(options)?;
    let printed = if json {
        format!("{}\n", report::json(&outcome))
    } else {
        report::text(&outcome)
    };
    let written = crate::io::write_stdout(printed.as_bytes());
    outcome.verdict()?;
    written
}

/// The load on this thread, with a progress line when `progress`.
fn run_one(
    options: &Options,
    pattern: &pattern::Pattern,
    deadline: Deadline,
    progress: bool,
) -> Result<(Tally, Duration)> {
    let mut progress = report::Progress::new(options.mode, progress);
    let result = match options.mode {
        Mode::PingPong if options.is_datagram() => {
            datagram::run(options, pattern, deadline, &mut progress)
        }
        Mode::PingPong => pingpong::run(options, pattern, deadline, &mut progress),
        Mode::Churn => churn::run(options, pattern, deadline, &mut progress),
        Mode::Bulk => bulk::run(options, deadline, &mut progress),
        Mode::Hold => hold::run(options, pattern, deadline, &mut progress),
    };
    progress.finish();
    result
}

/// The connections split over `options.threads` threads (no more threads
/// than connections), each its own [`run_one`] without a progress line;
/// their tallies merged, the longest elapsed time kept.
fn run_threads(
    options: &Options,
    pattern: &pattern::Pattern,
    deadline: Deadline,
) -> Result<(Tally, Duration)> {
    let threads = options.threads.min(options.connections);
    let shares: Vec<Options> = (0..threads)
        .map(|thread| {
            let first = options.connections * thread / threads;
            let end = options.connections * (thread + 1) / threads;
            Options {
                connections: end - first,
                first_connection: options.first_connection + first,
                threads: 1,
                ..options.clone()
            }
        })
        .collect();
    let results: Vec<Result<(Tally, Duration)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = shares
            .iter()
            .map(|share| scope.spawn(move || run_one(share, pattern, deadline, false)))
            .collect();
        handles.into_iter().map(joined).collect()
    });
    let mut total = Tally::default();
    let mut longest = Duration::ZERO;
    for result in results {
        let (tally, elapsed) = result?;
        total.merge(&tally);
        longest = longest.max(elapsed);
    }
    Ok((total, longest))
}

/// A scoped thread's result. A thread that panicked is a bug, not an
/// errno: its panic goes on up, payload and all.
fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Retries `connect` while it is refused (for unix, also while the socket
/// file is missing), for at most `limit` (a server still starting up), as
/// `sockc --wait` does; the connection is closed again.
///
/// # Errors
/// The last refusal once `limit` has passed, or any other connect error.
pub fn wait_for_server(target: &Endpoint, limit: Duration) -> Result<()> {
    crate::client::connect_retrying(target.clone(), CONNECT_TIMEOUT, Some(limit)).map(drop)
}

/// A loopback port of `kind` (TCP or UDP) that was free a moment ago: bind
/// `127.0.0.1:0`, read the kernel's choice, close. For scripts that must
/// hand a port to a server that cannot report its own (`socat`, `ncat`,
/// `tcpserver`).
///
/// # Errors
/// The failed `socket` or `bind`.
pub fn free_port(kind: Kind) -> Result<u16> {
    let loopback = Endpoint::new(kind, Address::Ip(SocketAddr::from(([127, 0, 0, 1], 0))));
    let (_fd, bound) = crate::socket::bind_socket(&loopback)?;
    Ok(bound.socket_addr().map_or(0, |addr| addr.port()))
}

/// [`free_port`], printed on a line of its own.
///
/// # Errors
/// As [`free_port`]; a failed write to stdout.
pub fn print_free_port(kind: Kind) -> Result<()> {
    crate::io::write_stdout(format!("{}\n", free_port(kind)?).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(target: &str) -> Options {
        Options {
            mode: Mode::PingPong,
            target: Endpoint::tcp(target.parse().unwrap_or(SocketAddr::from(([0; 4], 0)))),
            connections: 1,
            size: 64,
            duration: Duration::from_secs(1),
            progress: false,
            wait: None,
            threads: 1,
            first_connection: 0,
            lost_after: datagram::LOST_AFTER,
        }
    }

    #[test]
    fn only_loopback_targets_are_loaded() {
        for ok in [
            "127.0.0.1:7",
            "127.9.9.9:7",
            "[::1]:7",
            "[::ffff:127.0.0.1]:7",
        ] {
            assert!(validate(&options(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "10.0.0.1:7",
            "0.0.0.0:7",
            "[::]:7",
            "192.168.1.1:7",
            "127.0.0.1:0",
        ] {
            assert!(
                matches!(validate(&options(bad)), Err(Error::Usage(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn datagram_loads_are_pingpong_of_one_datagram() {
        let mut o = options("127.0.0.1:7");
        o.target.kind = Kind::Datagram;
        o.size = MAX_DATAGRAM_V4;
        assert!(validate(&o).is_ok());
        o.size += 1;
        assert!(matches!(validate(&o), Err(Error::Usage(m)) if m.contains("65507")));
        o.target = Endpoint::udp(SocketAddr::from((core::net::Ipv6Addr::LOCALHOST, 7)));
        assert!(validate(&o).is_ok(), "IPv6 carries 20 bytes more");
        o.size = MAX_DATAGRAM_V6 + 1;
        assert!(validate(&o).is_err());
        o.size = 64;
        for mode in [Mode::Churn, Mode::Bulk, Mode::Hold] {
            o.mode = mode;
            assert!(matches!(validate(&o), Err(Error::Usage(m)) if m.contains("pingpong only")));
        }
        let mut unix = options("127.0.0.1:7");
        unix.target = Endpoint::unix(Kind::Stream, "@echo").unwrap_or_else(|e| panic!("{e}"));
        unix.mode = Mode::Hold;
        assert!(validate(&unix).is_ok(), "no port, no loopback rule");
    }

    #[test]
    fn sizes_and_durations_are_bounded() {
        let mut o = options("127.0.0.1:7");
        o.size = MAX_SIZE + 1;
        assert!(validate(&o).is_err());
        o.size = 1;
        o.duration = Duration::ZERO;
        assert!(validate(&o).is_err());
        o.duration = Duration::from_secs(1);
        o.connections = 0;
        assert!(validate(&o).is_err());
        o.connections = 1;
        o.threads = 0;
        assert!(validate(&o).is_err());
        o.threads = 2;
        assert!(validate(&o).is_ok());
        o.mode = Mode::Bulk;
        assert!(validate(&o).is_err());
    }

    #[test]
    fn a_panicked_load_thread_is_raised_again_not_made_an_errno() {
        let caught = std::panic::catch_unwind(|| {
            std::thread::scope(|scope| joined(scope.spawn(|| -> Result<()> { panic!("load bug") })))
        });
        let payload = caught
            .err()
            .unwrap_or_else(|| panic!("no panic came through"));
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"load bug"));
    }

    #[test]
    fn wrong_bytes_fail_the_run() {
        let mut outcome = Outcome {
            options: options("127.0.0.1:7"),
            elapsed: Duration::from_secs(1),
            tally: Tally::default(),
            client_cpu: None,
        };
        outcome.tally.bytes = 10;
        assert_eq!(outcome.exit(), Exit::Unavailable, "no request completed");
        outcome.tally.requests = 1;
        assert_eq!(outcome.exit(), Exit::Success);
        outcome.tally.corrupt = 1;
        assert_eq!(outcome.exit(), Exit::OsError);
    }
}
