//! `sockd`: bind, listen, announce, then [`serve`] — echo on one epoll loop
//! per worker, the lesson's chat, or a datagram echo.
//!
//! [`serve`] takes an already-bound socket and a [`Stop`], so a Rust
//! test harness, `--threads` workers and `--chat` all drive the same code.

mod announce;
pub mod background;
mod bulk;
mod chat;
mod conn;
mod datagram;
mod echo;
pub mod events;
pub mod fault;
pub mod forward;
mod idle;
mod limits;
mod listen;
mod peer;
mod reply;
mod sendq;
mod shared;
mod stop;
mod unix;
mod warn_limit;

pub use listen::{Bound, Listen, USAGE};
pub use peer::Peer;
pub use stop::Stop;

use crate::endpoint::{Endpoint, Kind};
use crate::error::{Error, Result};
use crate::io::OutputQueue;
use crate::socket::set_nonblocking;
use core::time::Duration;
use rustix::event::{EventfdFlags, eventfd};
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use shared::Shared;
use std::path::PathBuf;
use std::sync::Arc;

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
    /// Print `<peer> say: <msg>` lines on stdout (echo mode; chat always
    /// prints them).
    pub transcript: bool,
    /// Most connections open at once (stream echo mode).
    pub max_conns: Option<usize>,
    /// Close clients silent this long (streams).
    pub idle_timeout: Option<Duration>,
    /// Stop once this many connections have closed, or datagrams come.
    pub exit_after: Option<u64>,
    /// Echo workers; `None`: the CPUs this process may run on (one for
    /// datagrams: see [`serve`]).
    pub threads: Option<usize>,
    /// The faults echo goes through (echo mode); `None`: the plain echo.
    pub faults: Option<Arc<fault::Plan>>,
    /// Relay each client to this upstream instead of echoing (streams).
    pub forward: Option<Arc<forward::Forward>>,
    /// The JSON event log (accept, fault, close, datagram, stop); off by
    /// default. [`run`] writes its `listen` event; [`serve`] the rest.
    pub events: events::Events,
}

/// sockd's flags for faults, forwarding and events, parsed as one group
/// (flattened into sockd's arguments).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MoreFlags {
    /// `--delay`, `--rate`, … `--seed`.
    #[command(flatten)]
    pub faults: fault::FaultFlags,
    /// `--forward`, `--fault-dir`, `--connect-timeout`.
    #[command(flatten)]
    pub forward: forward::ForwardFlags,
    /// `--events`.
    #[command(flatten)]
    pub events: events::EventsFlags,
}

/// Everything `sockd` was asked to do.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Where to serve: a host and port, or a unix socket; stream or datagrams.
    pub listen: Listen,
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
    /// The fault flags (the plan, with its seed, is made once listening).
    pub faults: fault::FaultFlags,
    /// `--forward` and its flags (the upstream resolved before binding).
    pub forward: forward::ForwardFlags,
    /// `--events PATH`.
    pub events: events::EventsFlags,
}

/// What a server did, for the summary line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WorkerStats {
    /// Connections accepted.
    pub accepted: u64,
    /// Datagrams received.
    pub datagrams: u64,
    /// Bytes received (and echoed).
    pub bytes: u64,
    /// Datagrams not echoed: the kernel had no room at once, the sender
    /// could not be answered or had gone, or it was too long to take whole.
    pub unsent: u64,
    /// Datagrams `--drop` dropped on purpose.
    pub dropped: u64,
    /// Transcript lines that never reached stdout because it was not read
    /// fast enough (or at all).
    pub transcript_dropped: u64,
    /// Events that never reached the `--events` log (no room in a FIFO
    /// or stdout's queue, or it failed).
    pub events_dropped: u64,
    /// Diagnostic lines that never reached stderr because it was not read.
    pub diagnostics_dropped: u64,
}

impl WorkerStats {
    fn add(self, other: Self) -> Self {
        Self {
            accepted: self.accepted + other.accepted,
            datagrams: self.datagrams + other.datagrams,
            bytes: self.bytes + other.bytes,
            unsent: self.unsent + other.unsent,
            dropped: self.dropped + other.dropped,
            transcript_dropped: self.transcript_dropped + other.transcript_dropped,
            events_dropped: self.events_dropped + other.events_dropped,
            diagnostics_dropped: self.diagnostics_dropped + other.diagnostics_dropped,
        }
    }

    /// stderr's last line: `sockd: stopped: 3 connections, 30 bytes
    /// received`, datagrams instead of connections for a datagram server,
    /// then what was not echoed or not printed, if anything.
    fn summary(&self, kind: Kind) -> String {
        let mut line = match kind {
            Kind::Stream => format!("sockd: stopped: {}", counted(self.accepted, "connection")),
            Kind::Datagram => format!("sockd: stopped: {}", counted(self.datagrams, "datagram")),
        };
        line += &format!(", {} received", counted(self.bytes, "byte"));
        if self.unsent > 0 {
            let echoes = if self.unsent == 1 { "echo" } else { "echoes" };
            line += &format!(", {} {echoes} not sent (-vv says why)", self.unsent);
        }
        if self.dropped > 0 {
            line += &format!(", {} dropped by --drop", self.dropped);
        }
        if self.transcript_dropped > 0 {
            let lines = counted(self.transcript_dropped, "transcript line");
            line += &format!(", {lines} dropped (stdout not read)");
        }
        if self.events_dropped > 0 {
            line += &format!(", {} dropped", counted(self.events_dropped, "event"));
        }
        if self.diagnostics_dropped > 0 {
            let lines = counted(self.diagnostics_dropped, "diagnostic line");
            line += &format!(", {lines} dropped (stderr not read)");
        }
        line + "\n"
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

/// Binds (a host name's first address, or a unix socket), listens on a
/// stream socket, announces the address (stderr, `--pid-file`,
/// `--port-file`; detached, the launcher), and [`serve`]s until
/// SIGINT/SIGTERM or `--exit-after`; then removes a unix socket's file,
/// prints a one-line summary on stderr and removes the files it wrote, each
/// if it is still its own.
///
/// # Errors
/// A bad address (64), an unknown host (68); failures to bind or listen
/// (`EADDRINUSE` → 75, `EACCES` → 77, …), to write the pid or port file,
/// to detach, or to set up the workers. A client's failure only closes
/// that client. Under `--background`, the launcher's errors are
/// [`background::launch`]'s.
pub fn run(options: &ServerOptions) -> Result<()> {
    if options.background && !options.detached {
        return background::launch();
    }
    // A client can make lines for stderr (-vv's, a warning): they must not
    // hold a worker, nor the stop, when stderr is a pipe nobody reads.
    crate::io::stderr::queue();
    // Usage errors first, before anything is bound.
    let plan = options.faults.plan()?;
    fits(plan.as_ref(), options.listen.udp)?;
    let upstream = upstream(&options.forward)?;
    if let Some(path) = options.events.events.as_deref()
        && (options.events.to_stdout() || announce::names_stdout(path))
        && options.serve.transcript
    {
        return Err(Error::Usage(format!(
            "--events {} needs -q: stdout has the transcript",
            crate::escape::path(path)
        )));
    }
    limits::raise_fd_limit();
    let bound = options.listen.bind(options.backlog)?;
    let stop = Stop::on_signals()?;
    let mut serving = options.serve.clone();
    if let Some((forward, resolved)) = upstream {
        let how = resolved
            .map(|line| format!(" ({line})"))
            .unwrap_or_default();
        crate::io::write_stderr(&format!("sockd: forwarding to {}{how}\n", forward.upstream));
        serving.forward = Some(Arc::new(forward));
    }
    if let Some(plan) = plan {
        // Before any readiness signal: a script that saw one can read the
        // seed that replays the run.
        let dir = serving
            .forward
            .as_ref()
            .map(|forward| format!(" --fault-dir {}", forward.fault_dir.name()))
            .unwrap_or_default();
        crate::io::write_stderr(&format!("sockd: faults: {}{dir}\n", plan.describe()));
        serving.faults = Some(Arc::new(plan));
    }
    if bound.endpoint.kind == Kind::Datagram {
        // Before the readiness signal: a unix datagram sent before
        // SO_PASSCRED was on carries no credentials (its sender reads as
        // pid 0), and the first burst would meet the default buffers.
        datagram::tune(&bound.fd, &bound.endpoint);
    }
    // Before the readiness signal, so a harness that saw it finds the
    // `listen` event there.
    serving.events = events::Events::open(&options.events, &stop)?;
    serving.events.listen(&bound.endpoint);
    let ready = bound.announcement();
    // The pid file first: once the port file (the readiness signal) is
    // there, so is the pid to kill.
    let pid = format!("{}\n", rustix::process::getpid().as_raw_nonzero());
    let _pid_file = announce_to(options.pid_file.as_deref(), &pid, &stop)?;
    let _port_file = announce_to(options.port_file.as_deref(), &ready, &stop)?;
    crate::io::write_stderr(&bound.listening_line());
    if options.detached {
        // The launcher's stderr gets every line so far before /dev/null
        // replaces it (which never blocks: no queue is needed after).
        crate::io::stderr::finish(crate::io::stderr::FINAL_FLUSH);
        background::detach(&ready)?;
        // stdout is /dev/null now: nobody could read a transcript.
        serving.transcript = false;
    }
    let Bound {
        fd, endpoint, file, ..
    } = bound;
    let kind = endpoint.kind;
    let mut stats = serve((fd, endpoint), stop, &serving)?;
    stats.events_dropped = serving.events.finish();
    // Gone before the last line: a script that saw it may reuse the path.
    drop(file);
    stats.diagnostics_dropped = crate::io::stderr::dropped_lines();
    crate::io::write_stderr(&stats.summary(kind));
    Ok(())
}

/// `--forward`'s upstream, resolved, and what a host name resolved to.
fn upstream(flags: &forward::ForwardFlags) -> Result<Option<(forward::Forward, Option<String>)>> {
    let Some(target) = &flags.forward else {
        return Ok(None);
    };
    let (upstream, resolved) = target.resolve()?;
    let timeout = flags
        .connect_timeout
        .unwrap_or(forward::args::CONNECT_TIMEOUT);
    let dir = flags.fault_dir.unwrap_or_default();
    Ok(Some((
        forward::Forward::new(upstream, dir, timeout),
        resolved,
    )))
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

/// Serves clients of `listener` (a listening stream socket, or a bound
/// datagram socket, and what it is bound to, as
/// [`bind_socket`](crate::bind_socket) returns it) until `stop` is
/// triggered (or `exit_after` connections have closed, or datagrams come),
/// then closes every connection and returns the totals. A stream listener
/// is made non-blocking (`ioctl(FIONBIO)`), a datagram socket blocking (see
/// the datagram workers); nothing is printed but the transcript.
///
/// The echo transcript goes through a bounded queue and a writer thread of
/// its own ([`OutputQueue`](crate::io::OutputQueue)): echo never waits for
/// stdout. Lines a slow reader has no room for are dropped and counted, and
/// at the stop the transcript gets one second to drain.
///
/// # Errors
/// [`Error::Usage`] for chat mode on a datagram socket, or a fault that
/// cannot act on the socket's kind (`--drop` on a stream, `--rate` on
/// datagrams). A listener that stops listening under it (`accept` says `EINVAL`: shut
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
///     let (stop, bound) = (stop.clone(), bound.clone());
///     move || serve((listener, bound), stop, &options)
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
    listener: (OwnedFd, Endpoint),
    stop: Stop,
    options: &ServeOptions,
) -> Result<WorkerStats> {
    let (listener, local) = listener;
    let threads = options.threads.unwrap_or_else(limits::usable_cpus).max(1);
    if local.kind == Kind::Datagram {
        // One worker unless asked: workers take turns at the one socket's
        // receive queue, and each wake-up of another thread (on another
        // CPU) cost a third more CPU per datagram than one worker in
        // scripts/bench.sh's udp1, with a lower rate, on 2 CPUs.
        let threads = options.threads.unwrap_or(1).max(1);
        if options.mode == Mode::Chat {
            return Err(Error::Usage(
                "--chat is for stream sockets, not datagrams".to_string(),
            ));
        }
        if options.forward.is_some() {
            return Err(Error::Usage(
                "--forward relays streams, not datagrams".to_string(),
            ));
        }
        fits(options.faults.as_deref(), true)?;
        let transcript = transcript_queue(options)?;
        log::info!("{}", counted(threads as u64, "datagram worker"));
        let stats = datagram::serve(
            listener,
            &local,
            &stop,
            datagram::DatagramOptions {
                threads,
                exit_after: options.exit_after,
                transcript: transcript.as_ref(),
                faults: options.faults.as_deref(),
                events: &options.events,
            },
        )?;
        let stats = finish_transcript(stats, transcript);
        options.events.stop(&stats);
        return Ok(stats);
    }
    fits(options.faults.as_deref(), false)?;
    set_nonblocking(&listener).map_err(|errno| Error::at("ioctl", &local, errno))?;
    if options.mode == Mode::Chat {
        if options.forward.is_some() {
            return Err(Error::Usage("--forward cannot go with --chat".to_string()));
        }
        let chat = chat::ChatOptions {
            idle_timeout: options.idle_timeout,
            exit_after: options.exit_after,
        };
        return chat::run_chat(&listener, &local, &stop, chat);
    }
    let resume = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)
        .map_err(|errno| Error::on("eventfd", "workers", errno))?;
    let transcript = transcript_queue(options)?;
    let mut shared = Shared::new(
        listener,
        local,
        stop,
        resume,
        options.max_conns,
        options.exit_after,
        transcript,
    );
    shared.events = options.events.clone();
    let echo = echo::EchoOptions {
        transcript: options.transcript,
        idle_timeout: options.idle_timeout,
    };
    let workers = match options.forward {
        Some(_) => "relay worker",
        None => "echo worker",
    };
    log::info!("{}", counted(threads as u64, workers));
    let ways = (options.faults.as_deref(), options.forward.as_deref());
    let stats = serve_echo(&shared, echo, ways, threads)?;
    let stats = finish_transcript(stats, shared.transcript.take());
    options.events.stop(&stats);
    Ok(stats)
}

/// A usage error for a fault that cannot act on this kind of socket
/// (`--drop` on a stream; `--rate` on datagrams, for a library caller:
/// sockd's flags already refuse it).
fn fits(plan: Option<&fault::Plan>, datagrams: bool) -> Result<()> {
    match plan.and_then(|plan| plan.misfit(datagrams)) {
        Some(flag) if datagrams => Err(Error::Usage(format!(
            "{flag} is for streams, not datagrams"
        ))),
        Some(flag) => Err(Error::Usage(format!("{flag} is for datagrams: give -u"))),
        None => Ok(()),
    }
}

/// The transcript's queue to stdout and its writer, when it is on.
fn transcript_queue(options: &ServeOptions) -> Result<Option<OutputQueue>> {
    options
        .transcript
        .then(|| OutputQueue::spawn(crate::io::stdout(), TRANSCRIPT_QUEUE_BYTES, "transcript"))
        .transpose()
}

/// `stats` with the transcript lines dropped, once it had its time to drain.
fn finish_transcript(mut stats: WorkerStats, transcript: Option<OutputQueue>) -> WorkerStats {
    if let Some(transcript) = transcript {
        stats.transcript_dropped = transcript.finish(TRANSCRIPT_FINAL_FLUSH).dropped_lines;
    }
    stats
}

/// Whether `accept` failed because the listener itself no longer listens
/// (`EINVAL`: shut down, or destroyed by `ss -K`), not because of one
/// client: retrying could only spin, deaf to the stop signal.
fn listener_gone(errno: Errno) -> bool {
    matches!(errno, Errno::INVAL | Errno::BADF | Errno::NOTSOCK)
}

/// The failure of an `accept` whose listener is gone ([`listener_gone`]),
/// saying what could have done it when the kernel only says `EINVAL`.
fn listener_gone_error(local: &crate::endpoint::Endpoint, errno: Errno) -> Error {
    let error = Error::at("accept", local, errno);
    match errno {
        Errno::INVAL => error.hinted(
            "the listening socket no longer listens: something outside sockd ended it \
             (`ss -K`, `sockstat --kill -l`)"
                .to_string(),
        ),
        _ => error,
    }
}

struct StopOnExit<'a>(&'a Stop);

impl Drop for StopOnExit<'_> {
    fn drop(&mut self) {
        self.0.trigger();
    }
}

fn serve_echo(
    shared: &Shared,
    echo: echo::EchoOptions,
    (faults, forward): (Option<&fault::Plan>, Option<&forward::Forward>),
    threads: usize,
) -> Result<WorkerStats> {
    let results: Vec<Result<WorkerStats>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(move || {
                    // A worker that ends (stopped, failed or panicking) stops
                    // the rest rather than leaving a server that silently
                    // accepts less, or a scope that never joins.
                    let _stop_all = StopOnExit(&shared.stop);
                    echo::run_worker(shared, echo, faults, forward)
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
