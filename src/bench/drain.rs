//! Ending a connection politely: one closed with echo bytes still unread
//! would go out as a reset (RST), which servers log as an error and which is
//! not what a normal client does. So a connection is half-closed
//! (`shutdown(SHUT_WR)`), read to the server's EOF and only then closed —
//! for a bounded time, after which it is closed anyway.
//!
//! Reading to EOF is also how a byte the server adds after a whole echo is
//! caught: an echo server writes everything it will write before it sees
//! our FIN and closes, so whatever comes before its EOF on a connection
//! that is owed nothing is an extra byte, and a wrong echo.

use super::poller::Poller;
use super::stats::{Corruption, Tally};
use crate::io::recv_some;
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::Shutdown;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long the servers get to finish their echoes and close at the end of
/// a run.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(2);
/// Reads per call of [`Closing::read`] at most.
const READS: usize = 1024;

/// Where a byte after the whole echo is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// The connection's number.
    pub connection: usize,
    /// Its last request.
    pub request: u64,
    /// That request's echo length: where the extra byte sits.
    pub offset: u64,
}

/// A half-closed connection being read to its EOF.
#[derive(Debug)]
pub struct Closing {
    /// `Some` when the server owes nothing more: any byte is a wrong echo,
    /// counted once. `None` while a request's echo may still be on its way:
    /// what comes is not looked at (the run is over).
    owed_nothing: Option<Place>,
    counted: bool,
}

impl Closing {
    /// `shutdown(fd, SHUT_WR)`: the server reads our EOF.
    pub fn start(fd: impl AsFd, owed_nothing: Option<Place>) -> Self {
        // Fails only on a connection already gone, which the reads see.
        let _ = rustix::net::shutdown(fd, Shutdown::Write);
        Self {
            owed_nothing,
            counted: false,
        }
    }

    /// Reads what the socket holds; `true` once it is finished (EOF, or an
    /// error).
    pub fn read(&mut self, fd: impl AsFd, scratch: &mut [u8], tally: &mut Tally) -> bool {
        for _ in 0..READS {
            match recv_some(fd.as_fd(), &mut *scratch) {
                Ok(0) => return true,
                Ok(n) => {
                    if let Some(place) = self.owed_nothing {
                        tally.bytes += n as u64;
                        if !self.counted {
                            self.counted = true;
                            tally.corrupted(Corruption {
                                connection: place.connection,
                                request: place.request,
                                offset: place.offset,
                                expected: None,
                                got: scratch.first().copied().unwrap_or(0),
                            });
                        }
                    }
                }
                Err(Errno::AGAIN) => return false,
                Err(_) => return true,
            }
        }
        false
    }
}

/// Reads every connection in `open` (epoll token → fd, all registered with
/// `poller`, all half-closed) to its EOF, and closes them, until `until`.
pub fn drain(
    poller: &mut Poller,
    mut open: HashMap<u64, (OwnedFd, Closing)>,
    until: Instant,
    tally: &mut Tally,
) {
    let mut scratch = vec![0u8; 64 * 1024];
    // Edges may have been consumed already: read each once before waiting.
    open.retain(|_, (fd, closing)| !closing.read(&*fd, &mut scratch, tally));
    while !open.is_empty() && Instant::now() < until {
        if poller.wait(until, Duration::from_millis(100)).is_err() {
            return;
        }
        for (token, _) in poller.events() {
            if let Some((fd, closing)) = open.get_mut(&token)
                && closing.read(&*fd, &mut scratch, tally)
            {
                open.remove(&token);
            }
        }
    }
}
