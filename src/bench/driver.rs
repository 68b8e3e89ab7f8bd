//! The one load loop that pingpong, churn and hold share: connections in a
//! generation-token [`Slab`], registered with one edge-triggered epoll; each
//! pass waits once and hands every event to the load's handler, which says
//! what became of the connection ([`Verdict`]); at the end every connection
//! still open is drained ([`super::drain`]).

use super::drain::drain;
use super::exchange::{Exchange, Step};
use super::pattern::Pattern;
use super::poller::Poller;
use super::report::Progress;
use super::stats::Tally;
use super::{SCRATCH, TICK};
use crate::error::Result;
use crate::slab::Slab;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use std::time::{Duration, Instant};

/// One of the load's connections.
#[derive(Debug, Clone, Copy)]
pub struct Conn {
    /// Its number across all threads: it picks the pattern's bytes and
    /// names the connection in a report of a wrong byte.
    pub id: usize,
    /// The request in flight (or the last one).
    pub exchange: Exchange,
}

impl Conn {
    /// Drives the request on `io`'s socket as far as it goes.
    pub fn step(&mut self, io: &mut Io<'_>, pattern: &Pattern) -> Step {
        let want = pattern.request(self.id, self.exchange.request);
        self.exchange
            .drive(io.fd, want, &mut *io.scratch, self.id, &mut *io.tally)
    }
}

/// What a handler says became of its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A request is in flight.
    Busy,
    /// Nothing is in flight; the connection stays.
    Idle,
    /// It failed (counted already) or is done: close it.
    Close,
}

/// When [`Driver::run`] returns (besides at its deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Once no request is in flight.
    Idle,
    /// Only at the deadline.
    Deadline,
    /// After one wait and its events.
    OnePass,
}

/// What a handler works with besides its connection.
pub struct Io<'a> {
    /// The connection's socket.
    pub fd: BorrowedFd<'a>,
    /// The loop's receive buffer.
    pub scratch: &'a mut [u8],
    /// The loop's counts.
    pub tally: &'a mut Tally,
}

struct Entry {
    fd: OwnedFd,
    conn: Conn,
    busy: bool,
}

/// The connections, the counts, and the receive buffer they share.
struct Book {
    entries: Slab<Entry>,
    busy: usize,
    scratch: Vec<u8>,
    tally: Tally,
}

impl Book {
    /// Runs `handler` on the connection `token` names, if it is still open,
    /// and applies its verdict.
    fn drive(&mut self, token: u64, handler: &mut impl FnMut(&mut Conn, &mut Io<'_>) -> Verdict) {
        let Some(entry) = self.entries.get_mut(token) else {
            return;
        };
        let mut io = Io {
            fd: entry.fd.as_fd(),
            scratch: &mut self.scratch,
            tally: &mut self.tally,
        };
        let verdict = handler(&mut entry.conn, &mut io);
        let busy = verdict == Verdict::Busy;
        match (entry.busy, busy) {
            (false, true) => self.busy += 1,
            (true, false) => self.busy -= 1,
            _ => {}
        }
        entry.busy = busy;
        if verdict == Verdict::Close {
            // close(2): a normal FIN, never a reset.
            self.entries.remove(token);
        }
    }
}

/// The load loop: an epoll instance and the connections registered with it.
pub struct Driver {
    poller: Poller,
    book: Book,
}

impl Driver {
    /// An empty loop.
    ///
    /// # Errors
    /// The failed `epoll_create`.
    pub fn new() -> Result<Self> {
        Ok(Self {
            poller: Poller::new()?,
            book: Book {
                entries: Slab::default(),
                busy: 0,
                scratch: vec![0u8; SCRATCH],
                tally: Tally::default(),
            },
        })
    }

    /// The counts so far.
    pub fn tally(&mut self) -> &mut Tally {
        &mut self.book.tally
    }

    /// Connections with a request in flight.
    pub fn busy(&self) -> usize {
        self.book.busy
    }

    /// Takes a connected (or connecting) socket into the loop, counted as a
    /// connect and as busy until a handler says otherwise.
    ///
    /// # Errors
    /// The failed `epoll_ctl`; the socket is closed.
    pub fn open(&mut self, fd: OwnedFd, conn: Conn) -> core::result::Result<u64, Errno> {
        let book = &mut self.book;
        let token = book.entries.insert(Entry {
            fd,
            conn,
            busy: true,
        });
        let registered = match book.entries.get_mut(token) {
            Some(entry) => self.poller.add(&entry.fd, token),
            None => Err(Errno::BADF),
        };
        if let Err(errno) = registered {
            book.entries.remove(token);
            return Err(errno);
        }
        book.busy += 1;
        book.tally.connects += 1;
        Ok(token)
    }

    /// Runs `handler` on one connection now (to start its request).
    pub fn start(
        &mut self,
        token: u64,
        mut handler: impl FnMut(&mut Conn, &mut Io<'_>) -> Verdict,
    ) {
        self.book.drive(token, &mut handler);
    }

    /// Runs `handler` on every open connection now (to start a round).
    pub fn each(&mut self, mut handler: impl FnMut(&mut Conn, &mut Io<'_>) -> Verdict) {
        let tokens: Vec<u64> = self.book.entries.tokens().collect();
        for token in tokens {
            self.book.drive(token, &mut handler);
        }
    }

    /// Passes until `stop` says so, and never past `until`: each waits
    /// (until an event, `until`, or a [`TICK`]), hands each event's
    /// connection to `handler`, and redraws the progress line.
    ///
    /// # Errors
    /// A failed `epoll_wait`.
    pub fn run(
        &mut self,
        until: Instant,
        stop: Stop,
        progress: &mut Progress,
        handler: &mut impl FnMut(&mut Conn, &mut Io<'_>) -> Verdict,
    ) -> Result<()> {
        while Instant::now() < until && !(stop == Stop::Idle && self.book.busy == 0) {
            self.poller.wait(until, TICK)?;
            for (token, _) in self.poller.events() {
                self.book.drive(token, handler);
            }
            progress.tick(&self.book.tally);
            if stop == Stop::OnePass {
                break;
            }
        }
        Ok(())
    }

    /// Ends the run: every open connection is drained for at most `limit`
    /// and closed; returns the counts.
    pub fn finish(mut self, limit: Duration) -> Tally {
        let tokens: Vec<u64> = self.book.entries.tokens().collect();
        let open = tokens
            .into_iter()
            .filter_map(|token| {
                let entry = self.book.entries.remove(token)?;
                Some((token, entry.fd))
            })
            .collect();
        drain(&mut self.poller, open, limit);
        self.book.tally
    }
}
