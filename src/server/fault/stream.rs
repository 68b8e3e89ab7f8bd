//! A faulted stream connection in sockd's echo worker: the syscalls around
//! its [`Path`].
//!
//! One step per epoll event or timer: at most one `recv` (as the plain
//! path), as many `send`s as the faults allow now (at most
//! [`SENDS_PER_STEP`]), then the interest set to what the connection waits
//! for (`EPOLLIN` only while the queue has room: backpressure), and the
//! worker's timer armed for the next thing the faults will allow. Nothing
//! here blocks, and nothing a client does holds any other connection.
//!
//! Endings: a FIN is `shutdown(SHUT_WR)`, then what the client still sends
//! is read and dropped until it closes (at most [`LINGER`]), so the close
//! that follows cannot turn into an RST over unread bytes and cut the
//! client's last reads. An RST waits (at most [`LINGER`]) until the client
//! has acknowledged every byte sent (the kernel's send queue is empty, as
//! `sock_diag` reports it), so "exactly BYTES, then ECONNRESET" holds for a
//! client that reads slowly too, then closes with `SO_LINGER` 0.

use super::super::conn::{Conn, Outgoing};
use super::super::events::CloseReason;
use super::super::sendq::SendQueues;
use super::rng::Stream;
use super::timer::{Armed, Timers};
use super::{Ending, Fate, Path, Plan, Step};
use crate::io::{recv_some, send_some};
use core::time::Duration;
use rustix::event::epoll::{self, EventData, EventFlags};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::sockopt;
use std::time::Instant;

/// The longest sockd lingers over an ending: reading a client that does not
/// close after sockd's FIN, or waiting for one that does not acknowledge
/// before an RST.
pub const LINGER: Duration = Duration::from_secs(2);

/// How often the RST ending looks at the kernel's send queue.
const ACK_POLL: Duration = Duration::from_millis(5);

/// The most `send`s one step makes (`--chunk 1` over a full queue would
/// otherwise hold the worker for a million of them): the rest go a
/// millisecond later, after the other connections' events.
pub const SENDS_PER_STEP: usize = 1024;

/// A faulted connection's state beside its [`Conn`].
#[derive(Debug)]
pub struct Faulted {
    path: Path,
    fate: Fate,
    hold_until: Option<Instant>,
    deadline: Option<(Instant, Ending)>,
    /// The client's FIN came: sockd's follows at this time, once the queue
    /// is empty.
    fin_at: Option<Instant>,
    /// The fault behind `deadline`, as its `fault` event names it.
    deadline_fault: &'static str,
    /// A fault that acted at accept (hang, blackhole, a slow open), for
    /// the first step to report.
    at_accept: Option<&'static str>,
    /// Ending, since when.
    ending: Option<(Ending, Instant)>,
    /// The last `send` found the socket full: wait for `EPOLLOUT`.
    blocked: bool,
    /// What epoll watches for.
    interest: EventFlags,
    armed: Armed,
}

/// What the worker lends a faulted connection for one step.
pub struct Io<'a> {
    /// The worker's epoll instance.
    pub epoll: &'a OwnedFd,
    /// The worker's receive buffer.
    pub scratch: &'a mut [u8],
    /// The worker's deadlines.
    pub timers: &'a mut Timers,
    /// The kernel's send queues, for the RST ending.
    pub send_queues: &'a mut SendQueues,
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stepped {
    /// Bytes received into the front of the scratch buffer (for the
    /// transcript and the counters).
    pub received: usize,
    /// `Ok`: the connection stays open; `Err`: why it closes.
    pub open: core::result::Result<(), CloseReason>,
    /// The faults that acted in this step (`reset_after`, `corrupt`, …),
    /// for `--events`.
    pub acted: [Option<&'static str>; 2],
}

impl Faulted {
    /// The faults of `plan` for connection `ordinal`, accepted at `now` on
    /// `fd` (registered for `EPOLLIN`). Nagle's algorithm is turned off, so
    /// pieces and delayed chunks go out when the faults say (not on TCP,
    /// a unix stream has no such option, and none is needed).
    pub fn new(plan: &Plan, ordinal: u64, fd: &OwnedFd, now: Instant) -> Self {
        let _ = sockopt::set_tcp_nodelay(fd, true);
        let mut path = plan.path(ordinal, Stream::Down, now);
        let opening = path.open(now);
        let (deadline, deadline_fault) = match (opening.ending, opening.deadline) {
            (Some(Ending::Fin), _) => (Some((now, Ending::Fin)), "on_accept close"),
            (Some(Ending::Rst), _) => (Some((now, Ending::Rst)), "on_accept reset"),
            (None, deadline) => (deadline, ""),
        };
        let at_accept = match (opening.fate, opening.hold_until) {
            (Fate::Hang, _) => Some("on_accept hang"),
            (Fate::Blackhole, _) => Some("on_accept blackhole"),
            (Fate::Serve, Some(_)) => Some("accept_delay"),
            (Fate::Serve, None) => None,
        };
        Self {
            path,
            fate: opening.fate,
            hold_until: opening.hold_until,
            deadline,
            deadline_fault,
            at_accept,
            fin_at: None,
            ending: None,
            blocked: false,
            interest: EventFlags::IN,
            armed: Armed::default(),
        }
    }

    /// The deadline this connection waits for, if any (the others it left
    /// in the worker's timers are stale).
    pub fn armed_at(&self) -> Option<Instant> {
        self.armed.at()
    }

    /// A deadline of this connection's came due at `at`: whether to step.
    pub fn fire(&mut self, at: Instant) -> bool {
        self.armed.fire(at)
    }
}

/// One step of the faulted connection `conn` (token `token`) at `now`, for
/// epoll's `flags` (empty for a timer).
pub fn step(
    conn: &mut Conn,
    io: &mut Io<'_>,
    token: u64,
    flags: EventFlags,
    now: Instant,
) -> Stepped {
    let Conn {
        fd,
        out,
        bytes_out,
        moved,
        last_active,
        ..
    } = conn;
    let Outgoing::Faulted(faulted) = out else {
        return Stepped {
            received: 0,
            open: Err(CloseReason::Error(Errno::INVAL)),
            acted: [None; 2],
        };
    };
    let mut turn = Turn {
        fd,
        io,
        token,
        now,
        sent_before: *bytes_out,
        sent: 0,
        received: 0,
        why: CloseReason::Eof,
        acted: [faulted.at_accept.take(), None],
    };
    let open = turn.run(faulted, flags);
    if faulted.path.took_flip() {
        turn.acted("corrupt");
    }
    if turn.sent > 0 {
        *bytes_out += turn.sent as u64;
        *moved += turn.sent as u64;
        *last_active = now;
    }
    Stepped {
        received: turn.received,
        open: if open { Ok(()) } else { Err(turn.why) },
        acted: turn.acted,
    }
}

/// One step in progress.
struct Turn<'s, 'a> {
    fd: &'s OwnedFd,
    io: &'s mut Io<'a>,
    token: u64,
    now: Instant,
    /// Bytes sent back before this turn.
    sent_before: u64,
    sent: usize,
    received: usize,
    /// Why the connection closes, if it does.
    why: CloseReason,
    acted: [Option<&'static str>; 2],
}

impl Turn<'_, '_> {
    /// Notes that `which` fault acted (a third in one step is not told).
    fn acted(&mut self, which: &'static str) {
        if let Some(slot) = self.acted.iter_mut().find(|slot| slot.is_none()) {
            *slot = Some(which);
        }
    }

    /// `false`, for `why`.
    fn closing(&mut self, why: CloseReason) -> bool {
        self.why = why;
        false
    }

    /// Returns whether the connection stays open.
    fn run(&mut self, f: &mut Faulted, flags: EventFlags) -> bool {
        // Reset, or both directions shut: nothing more can happen on it.
        if flags.intersects(EventFlags::ERR | EventFlags::HUP) {
            return match f.ending {
                Some(_) => self.closing(CloseReason::Fault),
                None => self.closing(CloseReason::Reset),
            };
        }
        if let Some((ending, since)) = f.ending {
            self.why = CloseReason::Fault;
            return self.ending(f, ending, since, flags);
        }
        if let Some((at, ending)) = f.deadline {
            if self.now >= at {
                let which = match (f.deadline_fault, ending) {
                    ("", Ending::Fin) => "close_after",
                    ("", Ending::Rst) => "reset_after",
                    (which, _) => which,
                };
                self.acted(which);
                return self.begin(f, ending);
            }
            self.arm(f, at);
        }
        if let Some(until) = f.hold_until {
            if self.now < until {
                self.arm(f, until);
                return self.watch(f, EventFlags::empty());
            }
            f.hold_until = None;
        }
        if f.fate == Fate::Hang {
            // Never read; the client's own FIN ends it (toxiproxy's too).
            return !flags.contains(EventFlags::RDHUP) && self.watch(f, EventFlags::RDHUP);
        }
        if flags.contains(EventFlags::IN) && f.fin_at.is_none() && !self.read(f) {
            return false;
        }
        if !self.flush(f) {
            return false;
        }
        if let Some(at) = f.fin_at
            && f.path.is_empty()
        {
            if self.now >= at {
                return self.closing(CloseReason::Eof);
            }
            self.arm(f, at);
        }
        let reading = f.fin_at.is_none() && (f.fate == Fate::Blackhole || f.path.room() > 0);
        let mut want = EventFlags::empty();
        if reading {
            want |= EventFlags::IN;
        }
        if f.blocked {
            want |= EventFlags::OUT;
        }
        self.watch(f, want)
    }

    /// One `recv`: into the queue, or (blackhole) dropped. Returns whether
    /// the connection stays open.
    fn read(&mut self, f: &mut Faulted) -> bool {
        let room = match f.fate {
            Fate::Blackhole => self.io.scratch.len(),
            _ => f.path.room().min(self.io.scratch.len()),
        };
        if room == 0 {
            return true;
        }
        match recv_some(self.fd, &mut self.io.scratch[..room]) {
            Ok(0) => {
                let at = f.path.finish(self.now);
                if at > self.now {
                    self.acted("slow_close");
                }
                f.fin_at = Some(at);
            }
            Ok(n) => {
                self.received = n;
                if f.fate == Fate::Serve {
                    f.path.push(&self.io.scratch[..n], self.now);
                }
            }
            Err(Errno::AGAIN) => {}
            Err(errno) => return self.closing(CloseReason::from_errno(errno)),
        }
        true
    }

    /// Sends what the faults let go now. Returns whether the connection
    /// stays open.
    fn flush(&mut self, f: &mut Faulted) -> bool {
        let (sent, then) = send_due(
            &mut f.path,
            self.fd.as_fd(),
            self.now,
            self.io.scratch.len(),
        );
        self.sent += sent;
        f.blocked = then == Then::Blocked;
        match then {
            Then::Blocked | Then::Idle => true,
            Then::Until(at) => {
                self.arm(f, at);
                true
            }
            Then::End(ending) => {
                self.acted(match ending {
                    Ending::Fin => "close_after",
                    Ending::Rst => "reset_after",
                });
                self.begin(f, ending)
            }
            Then::Failed(errno) => self.closing(CloseReason::from_errno(errno)),
        }
    }

    /// The faults end the connection: what waits is dropped.
    fn begin(&mut self, f: &mut Faulted, ending: Ending) -> bool {
        f.path.clear();
        f.ending = Some((ending, self.now));
        self.why = CloseReason::Fault;
        if ending == Ending::Fin
            && rustix::net::shutdown(self.fd, rustix::net::Shutdown::Write).is_err()
        {
            return false;
        }
        self.ending(f, ending, self.now, EventFlags::empty())
    }

    /// An ending in progress since `since`. Returns whether the connection
    /// stays open (for now).
    fn ending(
        &mut self,
        f: &mut Faulted,
        ending: Ending,
        since: Instant,
        flags: EventFlags,
    ) -> bool {
        let sent_any = self.sent_before > 0 || self.sent > 0;
        let readable = flags.contains(EventFlags::IN);
        let (next, received) = linger(
            self.fd, ending, since, self.now, readable, sent_any, self.io,
        );
        self.received = received;
        match next {
            Lingering::Close => false,
            Lingering::Wait { until, want } => {
                self.arm(f, until);
                self.watch(f, want)
            }
        }
    }

    fn arm(&mut self, f: &mut Faulted, at: Instant) {
        f.armed.arm(self.io.timers, at, self.token);
    }

    /// Watches for `want`. Returns whether that worked (else the
    /// connection is closed: without epoll it would never be served).
    fn watch(&mut self, f: &mut Faulted, want: EventFlags) -> bool {
        if f.interest == want {
            return true;
        }
        f.interest = want;
        match epoll::modify(self.io.epoll, self.fd, EventData::new_u64(self.token), want) {
            Ok(()) => true,
            Err(errno) => self.closing(CloseReason::Error(errno)),
        }
    }
}

/// What [`send_due`] stopped at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// The socket is full: wait for `EPOLLOUT`.
    Blocked,
    /// Nothing more may leave before this time (also after
    /// [`SENDS_PER_STEP`] sends: the rest a millisecond later).
    Until(Instant),
    /// Nothing waits.
    Idle,
    /// The faults end the connection.
    End(Ending),
    /// `send` failed (`EPIPE`, `ECONNRESET`).
    Failed(Errno),
}

/// Sends from `path` to `fd` what the faults let go at `now`, at most
/// `most` bytes a `send` and [`SENDS_PER_STEP`] sends: the bytes sent, and
/// what stopped it. The echo's way out, and each direction of a faulted
/// relay's.
pub fn send_due(path: &mut Path, fd: BorrowedFd<'_>, now: Instant, most: usize) -> (usize, Then) {
    let mut sent = 0;
    for _ in 0..SENDS_PER_STEP {
        match path.next(now, most) {
            Step::Send(n) => {
                let piece = path.front(n);
                let len = piece.len();
                match send_some(fd, piece) {
                    Ok(n) => {
                        path.sent(now, n);
                        sent += n;
                        if n < len {
                            return (sent, Then::Blocked);
                        }
                    }
                    Err(Errno::AGAIN) => return (sent, Then::Blocked),
                    Err(errno) => return (sent, Then::Failed(errno)),
                }
            }
            Step::Until(at) => return (sent, Then::Until(at)),
            Step::Idle => return (sent, Then::Idle),
            Step::End(ending) => return (sent, Then::End(ending)),
        }
    }
    (sent, Then::Until(now + Duration::from_millis(1)))
}

/// What an ending in progress does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lingering {
    /// Close the fd now (an RST's `SO_LINGER` 0 is set).
    Close,
    /// Step again at `until`, or on `want`.
    Wait {
        /// The next look.
        until: Instant,
        /// What to watch for meanwhile.
        want: EventFlags,
    },
}

/// One step of `ending` on `fd`, begun at `since` (a FIN already sent, for
/// [`Ending::Fin`]): what the client still sends is read (`readable`) and
/// dropped until it closes; an RST waits until every byte sent (if
/// `sent_any`) is acknowledged. Either at most [`LINGER`]. Returns what
/// next, and the bytes read into the front of `io.scratch`.
pub fn linger(
    fd: &OwnedFd,
    ending: Ending,
    since: Instant,
    now: Instant,
    readable: bool,
    sent_any: bool,
    io: &mut Io<'_>,
) -> (Lingering, usize) {
    let give_up = since + LINGER;
    let close = |ending| {
        if ending == Ending::Rst {
            let _ = sockopt::set_socket_linger(fd, Some(Duration::ZERO));
        }
        (Lingering::Close, 0)
    };
    if now >= give_up {
        return close(ending);
    }
    match ending {
        Ending::Fin => {
            let mut received = 0;
            if readable {
                match recv_some(fd, &mut io.scratch[..]) {
                    Ok(0) => return (Lingering::Close, 0),
                    Ok(n) => received = n,
                    Err(Errno::AGAIN) => {}
                    Err(_) => return (Lingering::Close, 0),
                }
            }
            let want = EventFlags::IN;
            (
                Lingering::Wait {
                    until: give_up,
                    want,
                },
                received,
            )
        }
        Ending::Rst => {
            let queued = match sent_any {
                false => None,
                true => io.send_queues.unacked(fd.as_fd()),
            };
            if queued.is_none_or(|queued| queued == 0) {
                return close(ending);
            }
            let until = (now + ACK_POLL).min(give_up);
            let want = EventFlags::empty();
            (Lingering::Wait { until, want }, 0)
        }
    }
}
