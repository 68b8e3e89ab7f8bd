//! The one load loop that pingpong, churn and hold share: connections in a
//! generation-token [`Slab`], registered with one edge-triggered epoll; each
//! pass waits once and hands every event to the load's handler, which says
//! what became of the connection ([`Verdict`]). A connection the load is
//! done with is half-closed and read to the server's EOF ([`super::drain`]),
//! so a byte the server adds after the echo is caught; at the end every
//! connection still open is drained the same way.

use super::drain::{Closing, Place, drain};
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
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

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

    /// Where a byte after its last request's echo is reported.
    pub fn place(&self) -> Place {
        Place {
            connection: self.id,
            request: self.exchange.request,
            offset: self.exchange.received() as u64,
        }
    }
}

/// What a handler says became of its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A request is in flight.
    Busy,
    /// Nothing is in flight; the connection stays.
    Idle,
    /// It failed (counted already): close it.
    Close,
    /// It is done and owed nothing: half-close it and read it to EOF, any
    /// byte before that being a wrong echo.
    Retire,
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

/// Where a connection stands.
enum Phase {
    Busy,
    Idle,
    Closing(Closing),
}

struct Entry {
    fd: OwnedFd,
    conn: Conn,
    phase: Phase,
}

/// The connections, the counts, and the receive buffer they share.
struct Book {
    entries: Slab<Entry>,
    busy: usize,
    /// Retired connections, oldest first (with tokens of those already
    /// gone); at most `capacity` of them are kept waiting for their EOF, so
    /// a server that never closes cannot make them pile up.
    closing: VecDeque<u64>,
    capacity: usize,
    scratch: Vec<u8>,
    tally: Tally,
}

impl Book {
    /// Runs `handler` on the connection `token` names, if it is still open,
    /// and applies its verdict; a closing connection is read instead.
    fn drive(&mut self, token: u64, handler: &mut impl FnMut(&mut Conn, &mut Io<'_>) -> Verdict) {
        let Some(entry) = self.entries.get_mut(token) else {
            return;
        };
        if let Phase::Closing(closing) = &mut entry.phase {
            if closing.read(&entry.fd, &mut self.scratch, &mut self.tally) {
                self.entries.remove(token);
            }
            return;
        }
        let mut io = Io {
            fd: entry.fd.as_fd(),
            scratch: &mut self.scratch,
            tally: &mut self.tally,
        };
        let verdict = handler(&mut entry.conn, &mut io);
        match (matches!(entry.phase, Phase::Busy), verdict == Verdict::Busy) {
            (false, true) => self.busy += 1,
            (true, false) => self.busy -= 1,
            _ => {}
        }
        match verdict {
            Verdict::Busy => entry.phase = Phase::Busy,
            Verdict::Idle => entry.phase = Phase::Idle,
            // close(2): a normal FIN, never a reset.
            Verdict::Close => drop(self.entries.remove(token)),
            Verdict::Retire => self.retire(token),
        }
    }

    /// Half-closes a connection the load is done with and reads what is
    /// there already (its edge may have been consumed).
    fn retire(&mut self, token: u64) {
        let Some(entry) = self.entries.get_mut(token) else {
            return;
        };
        let mut closing = Closing::start(&entry.fd, Some(entry.conn.place()));
        if closing.read(&entry.fd, &mut self.scratch, &mut self.tally) {
            self.entries.remove(token);
            return;
        }
        entry.phase = Phase::Closing(closing);
        self.closing.push_back(token);
        while self.closing.len() > self.capacity {
            if let Some(oldest) = self.closing.pop_front() {
                self.entries.remove(oldest);
            }
        }
        while let Some(&oldest) = self.closing.front()
            && self.entries.get_mut(oldest).is_none()
        {
            self.closing.pop_front();
        }
    }
}

/// The load loop: an epoll instance and the connections registered with it.
pub struct Driver {
    poller: Poller,
    book: Book,
}

impl Driver {
    /// An empty loop for `connections` connections at a time (as many
    /// retired ones may wait for their EOF besides).
    ///
    /// # Errors
    /// The failed `epoll_create`.
    pub fn new(connections: usize) -> Result<Self> {
        Ok(Self {
            poller: Poller::new()?,
            book: Book {
                entries: Slab::default(),
                busy: 0,
                closing: VecDeque::new(),
                capacity: connections.max(1),
                scratch: vec![0u8; SCRATCH],
                tally: Tally::default(),
            },
        })
    }

    /// The counts so far.
    pub fn tally(&mut self) -> &mut Tally {
        &mut self.book.tally
    }

    /// Connections in the loop, closing ones included.
    pub fn connections(&self) -> usize {
        self.book.entries.len()
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
            phase: Phase::Busy,
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

    /// Closes every connection whose request is still in flight, counting
    /// each as `ETIMEDOUT` (its echo did not come back in time).
    pub fn time_out_busy(&mut self) {
        let book = &mut self.book;
        let tokens: Vec<u64> = book.entries.tokens().collect();
        for token in tokens {
            if let Some(entry) = book.entries.get_mut(token)
                && matches!(entry.phase, Phase::Busy)
            {
                book.tally.error(Errno::TIMEDOUT);
                book.entries.remove(token);
                book.busy -= 1;
            }
        }
    }

    /// Ends the run: every open connection is half-closed, read to its EOF
    /// until `until`, and closed (those owed nothing must send nothing
    /// more); returns the counts.
    pub fn finish(mut self, until: Instant) -> Tally {
        let book = &mut self.book;
        let tokens: Vec<u64> = book.entries.tokens().collect();
        let mut open = HashMap::new();
        for token in tokens {
            let Some(Entry { fd, conn, phase }) = book.entries.remove(token) else {
                continue;
            };
            let closing = match phase {
                Phase::Closing(closing) => closing,
                Phase::Busy => Closing::start(&fd, None),
                Phase::Idle => Closing::start(&fd, Some(conn.place())),
            };
            open.insert(token, (fd, closing));
        }
        drain(&mut self.poller, open, until, &mut book.tally);
        self.book.tally
    }
}

#[cfg(test)]
mod tests {
    use super::super::exchange::tests::pair;
    use super::*;
    use std::time::Duration;

    fn conn(id: usize) -> Conn {
        Conn {
            id,
            exchange: Exchange::new(0, Instant::now()),
        }
    }

    #[test]
    fn a_byte_after_the_echo_is_wrong_and_an_eof_closes() {
        let mut driver = Driver::new(4).unwrap_or_else(|e| panic!("{e}"));
        let (ours, peer) = pair();
        let (quiet, quiet_peer) = pair();
        let token = driver.open(ours, conn(3)).unwrap_or_else(|e| panic!("{e}"));
        let quiet_token = driver
            .open(quiet, conn(4))
            .unwrap_or_else(|e| panic!("{e}"));
        // The server adds a byte, then sees our FIN and closes.
        crate::io::send_all(&peer, b"!").unwrap_or_else(|e| panic!("{e}"));
        drop(peer);
        driver.start(token, |_, _| Verdict::Retire);
        driver.start(quiet_token, |_, _| Verdict::Retire);
        assert_eq!(driver.connections(), 1, "the closed one is gone");
        let tally = driver.tally();
        assert_eq!(tally.corrupt, 1);
        let first = tally.first_corruption.unwrap_or_else(|| panic!("none"));
        assert_eq!(
            (first.connection, first.expected, first.got),
            (3, None, b'!')
        );
        drop(quiet_peer);
        let tally = driver.finish(Instant::now() + Duration::from_secs(1));
        assert_eq!(tally.corrupt, 1);
        assert_eq!(tally.connects, 2);
    }

    #[test]
    fn at_the_end_idle_connections_are_owed_nothing_and_busy_ones_are_not_judged() {
        let mut driver = Driver::new(2).unwrap_or_else(|e| panic!("{e}"));
        let (idle, idle_peer) = pair();
        let (busy, busy_peer) = pair();
        let idle = driver.open(idle, conn(7)).unwrap_or_else(|e| panic!("{e}"));
        driver.open(busy, conn(8)).unwrap_or_else(|e| panic!("{e}"));
        driver.start(idle, |_, _| Verdict::Idle);
        for peer in [idle_peer, busy_peer] {
            crate::io::send_all(&peer, b"late").unwrap_or_else(|e| panic!("{e}"));
        }
        let tally = driver.finish(Instant::now() + Duration::from_millis(200));
        assert_eq!(tally.corrupt, 1, "only the idle one's bytes are wrong");
        let first = tally.first_corruption.unwrap_or_else(|| panic!("none"));
        assert_eq!((first.connection, first.got), (7, b'l'));
    }

    #[test]
    fn retired_connections_are_bounded_when_the_server_never_closes() {
        let mut driver = Driver::new(2).unwrap_or_else(|e| panic!("{e}"));
        let mut peers = Vec::new();
        for id in 0..5 {
            let (ours, peer) = pair();
            peers.push(peer);
            let token = driver
                .open(ours, conn(id))
                .unwrap_or_else(|e| panic!("{e}"));
            driver.start(token, |_, _| Verdict::Retire);
            assert!(
                driver.connections() <= 2,
                "{} after {id}",
                driver.connections()
            );
        }
        assert_eq!(driver.tally().corrupt, 0);
    }

    #[test]
    fn busy_connections_time_out_and_idle_ones_stay() {
        let mut driver = Driver::new(2).unwrap_or_else(|e| panic!("{e}"));
        let (busy, _busy_peer) = pair();
        let (idle, _idle_peer) = pair();
        driver.open(busy, conn(0)).unwrap_or_else(|e| panic!("{e}"));
        let idle = driver.open(idle, conn(1)).unwrap_or_else(|e| panic!("{e}"));
        driver.start(idle, |_, _| Verdict::Idle);
        driver.time_out_busy();
        assert_eq!(driver.connections(), 1);
        assert_eq!(driver.tally().errors.get("ETIMEDOUT"), Some(&1));
        let mut progress = Progress::new(super::super::Mode::Hold, false);
        let later = Instant::now() + Duration::from_millis(50);
        driver
            .run(later, Stop::Idle, &mut progress, &mut |_, _| Verdict::Idle)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(Instant::now() < later, "nothing busy: run returns at once");
    }
}
