//! One "stop now" fd that every event loop watches: SIGINT, SIGTERM and
//! `--exit-after` all end the server the same way.
//!
//! A pipe whose read end is never drained stays readable (level-triggered),
//! so every worker's epoll sees it; signal-hook writes to it from the signal
//! handler (its self-pipe pattern; rustix has no safe signal API).

use crate::error::{Error, Result};
use rustix::fd::{BorrowedFd, OwnedFd};
use rustix::io::{Errno, fcntl_dupfd_cloexec};
use rustix::pipe::{PipeFlags, pipe_with};

/// The shared stop signal.
#[derive(Debug)]
pub struct Stop {
    read_end: OwnedFd,
    write_end: OwnedFd,
}

impl Stop {
    /// A stop pipe, with SIGINT and SIGTERM routed to it.
    ///
    /// # Errors
    /// `EMFILE`/`ENFILE` from `pipe2`/`fcntl`; an error installing the handlers.
    pub fn on_signals() -> Result<Self> {
        let (read_end, write_end) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)
            .map_err(|errno| Error::on("pipe", "stop signal", errno))?;
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            let writer = fcntl_dupfd_cloexec(&write_end, 0)
                .map_err(|errno| Error::on("fcntl", "stop signal", errno))?;
            signal_hook::low_level::pipe::register(signal, writer).map_err(|err| {
                let errno = Errno::from_io_error(&err).unwrap_or(Errno::INVAL);
                Error::on("sigaction", "SIGINT/SIGTERM", errno)
            })?;
        }
        Ok(Self {
            read_end,
            write_end,
        })
    }

    /// The fd to watch for readability.
    pub fn fd(&self) -> BorrowedFd<'_> {
        use rustix::fd::AsFd;
        self.read_end.as_fd()
    }

    /// Ends the server from inside (`--exit-after`).
    pub fn trigger(&self) {
        // A full pipe already says "stop"; nothing else can fail here.
        let _ = rustix::io::write(&self.write_end, b"x");
    }

    /// Whether stop was asked for, without blocking.
    pub fn requested(&self) -> bool {
        use rustix::event::{PollFd, PollFlags, poll};
        let mut fds = [PollFd::from_borrowed_fd(self.fd(), PollFlags::IN)];
        let zero = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        matches!(poll(&mut fds, Some(&zero)), Ok(n) if n > 0)
    }
}
