//! `sockd`: bind, listen, then serve — echo on one epoll loop per worker, or
//! the lesson's chat.
//!
//! The serving loops take an already-listening socket and a stop signal, so
//! tests, `--threads` workers and `--chat` all drive the same code.

mod chat;
mod conn;
mod echo;
mod limits;
mod port_file;
mod shared;
mod stop;

pub use chat::ChatOptions;
pub use echo::{EchoOptions, WorkerStats};
pub use stop::Stop;

use crate::error::{Error, Result};
use crate::socket::{bind_socket, listen, set_nonblocking};
use core::time::Duration;
use rustix::event::{EventfdFlags, eventfd};
use shared::Shared;
use std::path::PathBuf;

/// Everything `sockd` was asked to do.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// IP literal to bind.
    pub ip: String,
    /// Port to bind (`"0"`: the kernel chooses).
    pub port: String,
    /// The lesson's interactive server instead of echo.
    pub chat: bool,
    /// Print `<peer-ip> say: <msg>` lines (echo mode).
    pub transcript: bool,
    /// Where to write the port once listening.
    pub port_file: Option<PathBuf>,
    /// Most connections open at once.
    pub max_conns: Option<usize>,
    /// Close clients silent this long.
    pub idle_timeout: Option<Duration>,
    /// Exit 0 once this many connections have closed.
    pub exit_after: Option<u64>,
    /// Echo workers; `None`: the CPUs this process may run on.
    pub threads: Option<usize>,
    /// `listen` backlog (the kernel caps it at `net.core.somaxconn`).
    pub backlog: i32,
}

/// Binds, listens, announces the address, and serves until stopped; then
/// prints a one-line summary on stderr.
///
/// # Errors
/// Failures to bind or listen (`EADDRINUSE` → 75, `EACCES` → 77, …), to write
/// the port file, or to set up the event loops. A client's failure only
/// closes that client.
pub fn run(options: &ServerOptions) -> Result<()> {
    limits::raise_fd_limit();
    let (listener, local) = bind_socket(&options.ip, &options.port)?;
    listen(&listener, local, options.backlog)?;
    set_nonblocking(&listener, local)?;
    let stop = Stop::on_signals()?;
    if let Some(path) = &options.port_file {
        port_file::write(path, local.port())?;
    }
    eprintln!("sockd: listening on {local}");

    let stats = if options.chat {
        let chat = ChatOptions {
            idle_timeout: options.idle_timeout,
            exit_after: options.exit_after,
        };
        chat::run_chat(&listener, local, &stop, chat)?
    } else {
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
        let echo = EchoOptions {
            transcript: options.transcript,
            idle_timeout: options.idle_timeout,
        };
        let threads = options.threads.unwrap_or_else(limits::usable_cpus).max(1);
        log::info!("{threads} echo workers");
        serve_echo(&shared, echo, threads)?
    };
    eprintln!(
        "sockd: stopped: {} connections, {} bytes received",
        stats.accepted, stats.bytes
    );
    Ok(())
}

fn serve_echo(shared: &Shared, echo: EchoOptions, threads: usize) -> Result<WorkerStats> {
    let results: Vec<Result<WorkerStats>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(move || {
                    let result = echo::run_worker(shared, echo);
                    // One worker failing stops the rest rather than leaving
                    // a server that silently accepts less.
                    if result.is_err() {
                        shared.stop.trigger();
                    }
                    result
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker.join().unwrap_or(Err(Error::on(
                    "thread",
                    "echo worker",
                    rustix::io::Errno::INVAL,
                )))
            })
            .collect()
    });
    let mut total = WorkerStats::default();
    for result in results {
        let stats = result?;
        total.accepted += stats.accepted;
        total.bytes += stats.bytes;
    }
    Ok(total)
}
