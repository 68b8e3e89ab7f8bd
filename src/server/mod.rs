//! `sockd`: bind, listen, announce, then [`serve`] — echo on one epoll loop
//! per worker, or the lesson's chat.
//!
//! [`serve`] takes an already-listening socket and a [`Stop`], so a Rust
//! test harness, `--threads` workers and `--chat` all drive the same code.

mod announce;
pub mod background;
mod chat;
mod conn;
mod echo;
mod idle;
mod limits;
mod reply;
mod sendq;
mod shared;
mod stop;

pub use stop::Stop;

use crate::error::{Error, Result};
use crate::io::OutputQueue;
use crate::socket::{bind_socket, listen, set_nonblocking};
use core::net::SocketAddr;
use core::time::Duration;
use rustix::event::{EventfdFlags, eventfd};
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use shared::Shared;
use std::path::PathBuf;

/// What [`serve`] does with each client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// Every byte comes back unchanged; many clients at once.
    #[default]
    Echo,
    /// The lesson's server: one client at a time, the reply read from stdin.
    Chat,
}

/// How [`serve`] serves; the default is a silent echo on every usable CPU.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Echo or chat.
    pub mode: Mode,
    /// Print `<peer-ip> say: <msg>` lines on stdout (echo mode; chat always
    /// prints them).
    pub transcript: bool,
    /// Most connections open at once (echo mode).
    pub max_conns: Option<usize>,
    /// Close clients silent this long.
    pub idle_timeout: Option<Duration>,
    /// Stop once this many connections have closed.
    pub exit_after: Option<u64>,
    /// Echo workers; `None`: the CPUs this process may run on.
    pub threads: Option<usize>,
}

/// Everything `sockd` was asked to do.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// IP literal to bind.
    pub ip: String,
    /// Port to bind (`"0"`: the kernel chooses).
    pub port: String,
    /// `listen` backlog (the kernel caps it at `net.core.somaxconn`).
    pub backlog: i32,
    /// Where to write the port once listening.
    pub port_file: Option<PathBuf>,
    /// Where to write the server's pid once listening.
    pub pid_file: Option<PathBuf>,
    /// `--background`: start the server detached and return once it listens.
    pub background: bool,
    /// This process is the server `--background` launched: detach once
    /// listening (see [`background`]).
    pub detached: bool,
    /// How to serve once listening.
    pub serve: ServeOptions,
}

/// What a server did, for the summary line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WorkerStats {
    /// Connections accepted.
    pub accepted: u64,
    /// Bytes received (and echoed).
    pub bytes: u64,
    /// Transcript lines that never reached stdout because it was not read
    /// fast enough (or at all).
    pub transcript_dropped: u64,
}

impl WorkerStats {
    fn add(self, other: Self) -> Self {
        Self {
            accepted: self.accepted + other.accepted,
            bytes: self.bytes + other.bytes,
            transcript_dropped: self.transcript_dropped + other.transcript_dropped,
        }
    }
}

/// The most transcript bytes waiting for stdout: sixteen times what a pipe
/// holds, so a reader that merely lags (a terminal scrolling) loses
/// nothing, and one that stopped (a paused `| less`) costs at most this
/// (twice, with the batch being written).
const TRANSCRIPT_QUEUE_BYTES: usize = 1 << 20;

/// How long a stopping server lets the transcript drain: the stop signal
/// must win over a reader that does not read.
const TRANSCRIPT_FINAL_FLUSH: Duration = Duration::from_secs(1);

/// Binds, listens, announces the address (stderr, `--pid-file`,
/// `--port-file`; detached, the launcher), and [`serve`]s until
/// SIGINT/SIGTERM or `--exit-after`; then prints a one-line summary on
/// stderr and removes the files it wrote, if they are still its own.
///
/// # Errors
/// Failures to bind or listen (`EADDRINUSE` → 75, `EACCES` → 77, …), to write
/// the pid or port file, to detach, or to set up the event loops. A client's
/// failure only closes that client. Under `--background`, the launcher's
/// errors are [`background::launch`]'s.
pub fn run(options: &ServerOptions) -> Result<()> {
    if options.background && !options.detached {
        return background::launch();
    }
    limits::raise_fd_limit();
    let addr = crate::addr::parse_socket_addr(&options.ip, &options.port)?;
    let (listener, bound) = bind_socket(&crate::Endpoint::tcp(addr))?;
    let local = bound.socket_addr().unwrap_or(addr);
    listen(&listener, local, options.backlog)?;
    let stop = Stop::on_signals()?;
    let port = format!("{}\n", local.port());
    // The pid file first: once the port file (the readiness signal) is
    // there, so is the pid to kill.
    let pid = format!("{}\n", rustix::process::getpid().as_raw_nonzero());
    let _pid_file = announce_to(options.pid_file.as_deref(), &pid, &stop)?;
    let _port_file = announce_to(options.port_file.as_deref(), &port, &stop)?;
    crate::io::write_stderr(&format!("sockd: listening on {local}\n"));
    let mut serving = options.serve.clone();
    if options.detached {
        background::detach(&port)?;
        // stdout is /dev/null now: nobody could read a transcript.
        serving.transcript = false;
    }
    let stats = serve((listener, local), stop, &serving)?;
    let dropped = match stats.transcript_dropped {
        0 => String::new(),
        n => format!(
            ", {} dropped (stdout not read)",
            counted(n, "transcript line")
        ),
    };
    crate::io::write_stderr(&format!(
        "sockd: stopped: {}, {} received{dropped}\n",
        counted(stats.accepted, "connection"),
        counted(stats.bytes, "byte")
    ));
    Ok(())
}

/// `1 connection`, `2 connections`.
fn counted(n: u64, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

fn announce_to(
    path: Option<&std::path::Path>,
    line: &str,
    stop: &Stop,
) -> Result<Option<announce::Announced>> {
    path.map(|path| announce::write(path, line, stop))
        .transpose()
}

/// Serves clients of `listener` (a listening socket and its address) until
/// `stop` is triggered (or `exit_after` connections have closed), then
/// closes every connection and returns the totals. The listener is made
/// non-blocking (`ioctl(FIONBIO)`); nothing is printed but the transcript.
///
/// The echo transcript goes through a bounded queue and a writer thread of
/// its own ([`OutputQueue`](crate::io::OutputQueue)): echo never waits for
/// stdout. Lines a slow reader has no room for are dropped and counted, and
/// at the stop the transcript gets one second to drain.
///
/// # Errors
/// A listener that stops listening under it (`accept` says `EINVAL`: shut
/// down, or destroyed with `ss -K`). Failures of the server's own fds:
/// `ioctl` on the listener, `eventfd`,
/// `epoll_create`/`epoll_ctl`/`epoll_wait`, `poll`, the transcript writer's
/// `pipe2` and thread; in chat mode a stdin that cannot be read or a stdout
/// that cannot be written. A client's failure only closes that client. A
/// worker that panics re-raises the panic.
///
/// # Example
/// An echo peer in-process, as an integration test would start one:
///
/// ```
/// use sockkit::io::{recv_some, send_all};
/// use sockkit::server::{ServeOptions, Stop, serve};
///
/// # fn main() -> sockkit::Result<()> {
/// let loopback = sockkit::Endpoint::tcp(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
/// let (listener, bound) = sockkit::bind_socket(&loopback)?;
/// sockkit::socket::listen(&listener, &bound, 128)?;
/// let addr = bound.socket_addr().ok_or(sockkit::Error::Usage("not TCP".into()))?;
/// let stop = Stop::new()?;
/// let options = ServeOptions { threads: Some(1), ..ServeOptions::default() };
/// let server = std::thread::spawn({
///     let stop = stop.clone();
///     move || serve((listener, addr), stop, &options)
/// });
///
/// let client = sockkit::connect_socket(&bound)?;
/// send_all(&client, b"ping").map_err(|e| sockkit::Error::at("send", addr, e))?;
/// rustix::net::shutdown(&client, rustix::net::Shutdown::Write)
///     .map_err(|e| sockkit::Error::at("shutdown", addr, e))?;
/// let mut reply = Vec::new();
/// let mut buf = [0u8; 64];
/// loop {
///     match recv_some(&client, &mut buf).map_err(|e| sockkit::Error::at("recv", addr, e))? {
///         0 => break,
///         n => reply.extend_from_slice(&buf[..n]),
///     }
/// }
/// assert_eq!(reply, b"ping");
///
/// stop.trigger();
/// let stats = server.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
/// assert_eq!((stats.accepted, stats.bytes), (1, 4));
/// # Ok(())
/// # }
/// ```
pub fn serve(
    listener: (OwnedFd, SocketAddr),
    stop: Stop,
    options: &ServeOptions,
) -> Result<WorkerStats> {
    let (listener, local) = listener;
    set_nonblocking(&listener).map_err(|errno| Error::at("ioctl", local, errno))?;
    if options.mode == Mode::Chat {
        let chat = chat::ChatOptions {
            idle_timeout: options.idle_timeout,
            exit_after: options.exit_after,
        };
        return chat::run_chat(&listener, local, &stop, chat);
    }
    let resume = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)
        .map_err(|errno| Error::on("eventfd", "workers", errno))?;
    let transcript = options
        .transcript
        .then(|| OutputQueue::spawn(crate::io::stdout(), TRANSCRIPT_QUEUE_BYTES, "transcript"))
        .transpose()?;
    let mut shared = Shared::new(
        listener,
        local,
        stop,
        resume,
        options.max_conns,
        options.exit_after,
        transcript,
    );
    let echo = echo::EchoOptions {
        transcript: options.transcript,
        idle_timeout: options.idle_timeout,
    };
    let threads = options.threads.unwrap_or_else(limits::usable_cpus).max(1);
    log::info!("{}", counted(threads as u64, "echo worker"));
    let mut stats = serve_echo(&shared, echo, threads)?;
    if let Some(transcript) = shared.transcript.take() {
        stats.transcript_dropped = transcript.finish(TRANSCRIPT_FINAL_FLUSH).dropped_lines;
    }
    Ok(stats)
}

/// Whether `accept` failed because the listener itself no longer listens
/// (`EINVAL`: shut down, or destroyed by `ss -K`), not because of one
/// client: retrying could only spin, deaf to the stop signal.
fn listener_gone(errno: Errno) -> bool {
    matches!(errno, Errno::INVAL | Errno::BADF | Errno::NOTSOCK)
}

struct StopOnExit<'a>(&'a Stop);

impl Drop for StopOnExit<'_> {
    fn drop(&mut self) {
        self.0.trigger();
    }
}

fn serve_echo(shared: &Shared, echo: echo::EchoOptions, threads: usize) -> Result<WorkerStats> {
    let results: Vec<Result<WorkerStats>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(move || {
                    // A worker that ends (stopped, failed or panicking) stops
                    // the rest rather than leaving a server that silently
                    // accepts less, or a scope that never joins.
                    let _stop_all = StopOnExit(&shared.stop);
                    echo::run_worker(shared, echo)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    results
        .into_iter()
        .try_fold(WorkerStats::default(), |total, result| {
            Ok(total.add(result?))
        })
}
