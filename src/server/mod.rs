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
mod limits;
mod shared;
mod stop;

pub use stop::Stop;

use crate::error::{Error, Result};
use crate::socket::{bind_socket, listen, set_nonblocking};
use core::net::SocketAddr;
use core::time::Duration;
use rustix::event::{EventfdFlags, eventfd};
use rustix::fd::OwnedFd;
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
}

impl WorkerStats {
    fn add(self, other: Self) -> Self {
        Self {
            accepted: self.accepted + other.accepted,
            bytes: self.bytes + other.bytes,
        }
    }
}

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
    let (listener, local) = bind_socket(&options.ip, &options.port)?;
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
    crate::io::write_stderr(&format!(
        "sockd: stopped: {}, {} received\n",
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
/// # Errors
/// Failures of the server's own fds: `ioctl` on the listener, `eventfd`,
/// `epoll_create`/`epoll_ctl`/`epoll_wait`, `poll`; in chat mode a stdin
/// that cannot be read or a stdout that cannot be written. A client's
/// failure only closes that client. A worker that panics re-raises the panic.
///
/// # Example
/// An echo peer in-process, as an integration test would start one:
///
/// ```
/// use sockkit::io::{recv_some, send_all};
/// use sockkit::server::{ServeOptions, Stop, serve};
///
/// # fn main() -> sockkit::Result<()> {
/// let (listener, addr) = sockkit::bind_socket("127.0.0.1", "0")?;
/// sockkit::socket::listen(&listener, addr, 128)?;
/// let stop = Stop::new()?;
/// let options = ServeOptions { threads: Some(1), ..ServeOptions::default() };
/// let server = std::thread::spawn({
///     let stop = stop.clone();
///     move || serve((listener, addr), stop, &options)
/// });
///
/// let (client, _) = sockkit::connect_socket("127.0.0.1", &addr.port().to_string())?;
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
    let shared = Shared::new(
        listener,
        local,
        stop,
        resume,
        options.max_conns,
        options.exit_after,
    );
    let echo = echo::EchoOptions {
        transcript: options.transcript,
        idle_timeout: options.idle_timeout,
    };
    let threads = options.threads.unwrap_or_else(limits::usable_cpus).max(1);
    log::info!("{}", counted(threads as u64, "echo worker"));
    serve_echo(&shared, echo, threads)
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
