//! One "stop now" fd that every event loop watches: SIGINT, SIGTERM,
//! `--exit-after` and a library caller all end the server the same way.
//!
//! A pipe whose read end is never drained stays readable (level-triggered),
//! so every worker's epoll sees it; signal-hook writes to it from the signal
//! handler (its self-pipe pattern; rustix has no safe signal API).

use crate::error::{Error, Result};
use core::time::Duration;
use rustix::event::{PollFd, PollFlags};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::{Errno, fcntl_dupfd_cloexec};
use rustix::pipe::{PipeFlags, pipe_with};
use std::sync::Arc;

/// The shared stop signal. Clones are handles to the same signal: keep one
/// to [`trigger`](Stop::trigger) a server that [`super::serve`] runs.
#[derive(Debug, Clone)]
pub struct Stop {
    pipe: Arc<Pipe>,
}

#[derive(Debug)]
struct Pipe {
    read_end: OwnedFd,
    write_end: OwnedFd,
}

impl Stop {
    /// `pipe2(O_CLOEXEC | O_NONBLOCK)`: a stop signal that only
    /// [`trigger`](Stop::trigger) fires.
    ///
    /// # Errors
    /// `EMFILE`/`ENFILE` from `pipe2`.
    ///
    /// # References
    ///  - [Linux](https://man7.org/linux/man-pages/man2/pipe.2.html)
    pub fn new() -> Result<Self> {
        let (read_end, write_end) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)
            .map_err(|errno| Error::on("pipe", "stop signal", errno))?;
        Ok(Self {
            pipe: Arc::new(Pipe {
                read_end,
                write_end,
            }),
        })
    }

    /// [`Stop::new`] with SIGINT and SIGTERM routed to it (`sigaction`
    /// through signal-hook): for a program, not a library caller, since the
    /// handlers stay installed for the life of the process.
    ///
    /// # Errors
    /// As [`Stop::new`]; `EMFILE` from `fcntl(F_DUPFD_CLOEXEC)`; an error
    /// installing the handlers.
    ///
    /// # References
    ///  - [Linux](https://man7.org/linux/man-pages/man2/sigaction.2.html)
    pub fn on_signals() -> Result<Self> {
        let stop = Self::new()?;
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            let writer = fcntl_dupfd_cloexec(&stop.pipe.write_end, 0)
                .map_err(|errno| Error::on("fcntl", "stop signal", errno))?;
            signal_hook::low_level::pipe::register(signal, writer)
                .map_err(|err| Error::from_io("sigaction", "SIGINT/SIGTERM", &err))?;
        }
        Ok(stop)
    }

    /// The fd to watch for readability.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.pipe.read_end.as_fd()
    }

    /// Ends the server from inside (`--exit-after`) or from its caller.
    pub fn trigger(&self) {
        // A full pipe already says "stop"; nothing else can fail here.
        let _ = rustix::io::write(&self.pipe.write_end, b"x");
    }

    /// Whether stop was asked for, without blocking.
    pub fn requested(&self) -> bool {
        crate::io::poll_readable(self.fd(), Some(Duration::ZERO)).unwrap_or(false)
    }

    /// `poll(2)` on `fd` for `flags` and on the stop signal, for up to
    /// `timeout` (`None`: until one of them): a wait on a client that the
    /// stop always ends.
    ///
    /// # Errors
    /// As [`crate::io::poll`].
    pub fn wait_for(
        &self,
        fd: impl AsFd,
        flags: PollFlags,
        timeout: Option<Duration>,
    ) -> core::result::Result<Ready, Errno> {
        let mut fds = [
            PollFd::new(&fd, flags),
            PollFd::from_borrowed_fd(self.fd(), PollFlags::IN),
        ];
        Ok(match crate::io::poll(&mut fds, timeout)? {
            0 => Ready::TimedOut,
            _ if !fds[1].revents().is_empty() => Ready::Stopped,
            _ => Ready::Fd(fds[0].revents()),
        })
    }
}

/// What ended a [`Stop::wait_for`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// The fd is ready: these events (an error or hang-up among them).
    Fd(PollFlags),
    /// The timeout ran out first.
    TimedOut,
    /// Stop was asked for.
    Stopped,
}

#[cfg(test)]
mod tests {
    use super::Stop;

    #[test]
    fn a_trigger_on_one_handle_is_seen_by_every_clone() {
        let stop = Stop::new().unwrap_or_else(|e| panic!("{e}"));
        let handle = stop.clone();
        assert!(!stop.requested());
        handle.trigger();
        assert!(stop.requested());
        assert!(handle.requested());
    }
}
