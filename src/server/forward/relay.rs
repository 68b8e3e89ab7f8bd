//! One relayed connection: the upstream socket, its two directions, and the
//! steps the worker runs on their events and timers.

use super::Forward;
use super::close::{CloseReason, Closing};
use super::copy::Copied;
use super::splice::Spliced;
use crate::error::Error;
use crate::io::{Connecting, start_connect};
use crate::server::conn::{Conn, Outgoing};
use crate::server::fault::stream::{Io, Lingering, linger};
use crate::server::fault::timer::Armed;
use crate::server::fault::{Ending, Opening, Path};
use crate::server::peer::Peer;
use crate::slab::SPARE_BIT;
use core::time::Duration;
use rustix::event::epoll::{self, EventData, EventFlags};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{Shutdown, SocketFlags, shutdown, sockopt};
use std::time::Instant;

/// How often a connect to a unix upstream whose backlog is full is tried
/// again: nothing can be polled for room there.
const BACKLOG_RETRY: Duration = Duration::from_millis(20);

/// Which socket of a relay an event is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The accepted client.
    Client,
    /// The relay's connection to the upstream.
    Upstream,
}

/// What wakes a relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// epoll's events on one side.
    Ready(Side, EventFlags),
    /// Its deadline came.
    Timer,
}

/// A failed call: on a direction's source, its destination, or the pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// Reading the source.
    Source(Errno),
    /// Writing the destination.
    Destination(Errno),
    /// `pipe2` (`EMFILE`, `ENFILE`).
    Pipe(Errno),
}

/// What one pump of a direction did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Bytes read from the source.
    pub read: usize,
    /// Bytes written to the destination.
    pub written: usize,
    /// The destination is full.
    pub blocked: bool,
    /// The source ended, and the destination's FIN may follow now.
    pub eof: bool,
    /// A fault ends the connection.
    pub end: Option<Ending>,
    /// The faults have more to do at this time.
    pub until: Option<Instant>,
}

impl Flow {
    /// Wake the relay at `at` (or earlier, if already asked).
    pub fn wake(&mut self, at: Instant) {
        self.until = Some(self.until.map_or(at, |until| until.min(at)));
    }
}

/// What one step did, for the worker.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stepped {
    /// Bytes read from the client.
    pub received: usize,
    /// Of them, how many are at the front of the scratch buffer (a copied
    /// direction's last read), for the transcript.
    pub in_scratch: usize,
    /// Whether the connection stays open.
    pub open: bool,
    /// `socket` or `pipe2` ran out of fds: the worker pauses accepting.
    pub exhausted: Option<Errno>,
    /// The faults that acted in this step, for the event log.
    pub acted: [Option<&'static str>; 2],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// `--accept-delay`: not dialled before this time.
    Held(Instant),
    /// The connect is under way, until this time at most.
    Connecting(Instant),
    /// A unix upstream's backlog was full (`EAGAIN`): the connect is
    /// tried again until this time, as a TCP SYN would be resent.
    Backlogged(Instant),
    /// Bytes flow.
    Open,
    /// A fault ends the client's connection, since then.
    Ending(Ending, Instant),
}

/// One direction: how its bytes go, and where it stands.
#[derive(Debug)]
struct Dir {
    carrier: Carrier,
    /// The source ended.
    eof: bool,
    /// The destination was shut (`SHUT_WR`) after the source's end.
    shut: bool,
    /// The destination is full.
    blocked: bool,
}

#[derive(Debug)]
enum Carrier {
    Spliced(Spliced),
    Copied(Box<Copied>),
}

impl Dir {
    fn new(path: Option<Path>) -> Self {
        let carrier = match path {
            Some(path) => Carrier::Copied(Box::new(Copied::new(path))),
            None => Carrier::Spliced(Spliced::default()),
        };
        Self {
            carrier,
            eof: false,
            shut: false,
            blocked: false,
        }
    }

    /// Whether the source may be read: not ended, the destination not
    /// full (a copied direction reads nothing then, so a readable source
    /// watched would wake the loop at once, over and over), and room to
    /// hold it.
    fn may_read(&self) -> bool {
        !self.eof
            && !self.blocked
            && match &self.carrier {
                Carrier::Spliced(spliced) => !spliced.holds(),
                Carrier::Copied(copied) => copied.may_read(),
            }
    }

    /// Moves what it can from `src` to `dst` (reading only if `read`), and
    /// passes the source's FIN on once nothing it sent waits.
    fn pump(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        read: bool,
        scratch: &mut [u8],
        now: Instant,
    ) -> Result<Flow, Failed> {
        let mut flow = Flow::default();
        if self.shut {
            return Ok(flow);
        }
        let read = read && !self.eof;
        match &mut self.carrier {
            Carrier::Spliced(spliced) => spliced.pump(src, dst, read, &mut flow)?,
            Carrier::Copied(copied) => copied.pump(src, dst, read, scratch, now, &mut flow)?,
        }
        self.blocked = flow.blocked;
        let fin_now = match &self.carrier {
            Carrier::Spliced(spliced) => {
                self.eof |= flow.eof;
                self.eof && !spliced.holds()
            }
            Carrier::Copied(copied) => {
                self.eof = copied.ended();
                flow.eof
            }
        };
        if fin_now && !flow.blocked {
            // ENOTCONN: the peer is gone already; the reads will say so.
            let _ = shutdown(dst, Shutdown::Write);
            self.shut = true;
        }
        Ok(flow)
    }

    fn clear(&mut self) {
        if let Carrier::Copied(copied) = &mut self.carrier {
            copied.clear();
        }
    }

    /// Whether `--corrupt` flipped a bit of this direction since the last
    /// look.
    fn took_flip(&mut self) -> bool {
        match &mut self.carrier {
            Carrier::Copied(copied) => copied.took_flip(),
            Carrier::Spliced(_) => false,
        }
    }

    /// Whether `--slow-close` held this direction's FIN back since the
    /// last look.
    fn took_slow_close(&mut self) -> bool {
        match &mut self.carrier {
            Carrier::Copied(copied) => copied.took_slow_close(),
            Carrier::Spliced(_) => false,
        }
    }
}

/// What epoll watches a side for.
#[derive(Debug, Default, Clone, Copy)]
struct Watch {
    interest: Option<EventFlags>,
}

/// A relayed connection beside its client's [`Conn`].
#[derive(Debug)]
pub struct Relay {
    id: u64,
    started: Instant,
    reason: Option<CloseReason>,
    upstream: Option<OwnedFd>,
    state: State,
    /// Client to upstream.
    up: Dir,
    /// Upstream to client.
    down: Dir,
    client: Watch,
    server: Watch,
    /// `--close-after SECSs`, `--reset-after SECSs`.
    deadline: Option<(Instant, Ending)>,
    armed: Armed,
}

impl Relay {
    /// A relay for a client accepted at `now`: spliced both ways, or, with
    /// `paths` (up, down), through them, as `opening` says.
    pub fn new(
        forward: &Forward,
        paths: Option<(Path, Path)>,
        opening: Opening,
        now: Instant,
    ) -> Self {
        let (up, down) = match paths {
            Some((up, down)) => (Some(up), Some(down)),
            None => (None, None),
        };
        let state = match opening.hold_until {
            Some(until) => State::Held(until),
            None => State::Connecting(now),
        };
        Self {
            id: forward.next_id(),
            started: now,
            reason: None,
            upstream: None,
            state,
            up: Dir::new(up),
            down: Dir::new(down),
            client: Watch::default(),
            server: Watch::default(),
            deadline: opening.deadline,
            armed: Armed::default(),
        }
    }

    /// The deadline this relay waits for, if any.
    pub fn armed_at(&self) -> Option<Instant> {
        self.armed.at()
    }

    /// A deadline of this relay's came due at `at`: whether to step.
    pub fn fire(&mut self, at: Instant) -> bool {
        self.armed.fire(at)
    }

    /// Why it closes, unless a reason was already set.
    pub fn set_reason(&mut self, reason: CloseReason) {
        self.reason.get_or_insert(reason);
    }

    /// Its `close` event, for `conn`, its client.
    pub fn closing(&self, conn: &Conn) -> Closing {
        Closing {
            conn: self.id,
            peer: conn.peer,
            bytes_in: conn.bytes_in,
            bytes_out: conn.bytes_out,
            started: self.started,
            reason: self.reason.unwrap_or(CloseReason::Error(Errno::INVAL)),
        }
    }

    /// Why it closes, if whatever ends it has said.
    pub fn reason(&self) -> Option<CloseReason> {
        self.reason
    }
}

/// One step of the relay of `conn` (token `token`), woken by `wake` at
/// `now` (the first, at accept, is a [`Wake::Timer`]).
pub fn step(
    conn: &mut Conn,
    io: &mut Io<'_>,
    forward: &Forward,
    token: u64,
    wake: Wake,
    now: Instant,
) -> Stepped {
    let Conn {
        fd,
        out,
        peer,
        bytes_in,
        bytes_out,
        moved,
        last_active,
        ..
    } = conn;
    let Outgoing::Relay(relay) = out else {
        return Stepped::default();
    };
    let mut turn = Turn {
        client: fd,
        peer: *peer,
        io,
        forward,
        token,
        now,
        sent_before: *bytes_out,
        stepped: Stepped::default(),
        to_client: 0,
        to_upstream: 0,
    };
    let open = turn.run(relay, wake);
    for dir in [&mut relay.up, &mut relay.down] {
        if dir.took_flip() {
            turn.acted("corrupt");
        }
        if dir.took_slow_close() {
            turn.acted("slow_close");
        }
    }
    let Turn {
        mut stepped,
        to_client,
        to_upstream,
        ..
    } = turn;
    stepped.open = open;
    *bytes_in += stepped.received as u64;
    *bytes_out += to_client as u64;
    let all = (stepped.received + to_client + to_upstream) as u64;
    if all > 0 {
        *moved += all;
        *last_active = now;
    }
    stepped
}

struct Turn<'s, 'a> {
    client: &'s OwnedFd,
    peer: Peer,
    io: &'s mut Io<'a>,
    forward: &'s Forward,
    token: u64,
    now: Instant,
    sent_before: u64,
    stepped: Stepped,
    to_client: usize,
    to_upstream: usize,
}

impl Turn<'_, '_> {
    /// Notes that `which` fault acted (a third in one step is not told).
    fn acted(&mut self, which: &'static str) {
        let acted = &mut self.stepped.acted;
        if let Some(slot) = acted.iter_mut().find(|slot| slot.is_none()) {
            *slot = Some(which);
        }
    }

    /// Returns whether the relay stays open.
    fn run(&mut self, r: &mut Relay, wake: Wake) -> bool {
        if let State::Ending(ending, since) = r.state {
            return self.ending(r, ending, since, wake);
        }
        if let Some((at, ending)) = r.deadline {
            if self.now >= at {
                return self.begin(r, ending);
            }
            self.arm(r, at);
        }
        match r.state {
            State::Held(until) if self.now < until => {
                self.arm(r, until);
                return true;
            }
            State::Held(_) => return self.dial(r),
            State::Backlogged(by) => return self.connect(r, by),
            State::Connecting(by) => match self.connected(r, wake, by) {
                Some(open) => return open,
                None => r.state = State::Open,
            },
            State::Open | State::Ending(..) => {}
        }
        let Some(upstream) = r.upstream.take() else {
            return false;
        };
        let open = self.relay_bytes(r, &upstream, wake);
        if !matches!(r.state, State::Ending(..)) {
            r.upstream = Some(upstream);
        }
        open
    }

    /// Moves the bytes `wake` lets move, both ways. Returns whether the
    /// relay stays open.
    fn relay_bytes(&mut self, r: &mut Relay, upstream: &OwnedFd, wake: Wake) -> bool {
        let upstream = upstream.as_fd();
        let client = self.client.as_fd();
        // Each direction drains what it holds on any wake; only the side
        // that is readable is read.
        let (client_in, upstream_in) = match wake {
            Wake::Ready(Side::Client, flags) => (readable(flags), false),
            Wake::Ready(Side::Upstream, flags) => (false, readable(flags)),
            Wake::Timer => (false, false),
        };
        let down = r
            .down
            .pump(upstream, client, upstream_in, self.io.scratch, self.now);
        let down = match down {
            Ok(flow) => flow,
            Err(failed) => return self.failed(r, upstream, Side::Upstream, failed),
        };
        self.to_client += down.written;
        // The up direction last: its read stays at the scratch buffer's front.
        let up =
            r.up.pump(client, upstream, client_in, self.io.scratch, self.now);
        let up = match up {
            Ok(flow) => flow,
            Err(failed) => return self.failed(r, upstream, Side::Client, failed),
        };
        self.stepped.received += up.read;
        if matches!(r.up.carrier, Carrier::Copied(_)) {
            self.stepped.in_scratch = up.read;
        }
        self.to_upstream += up.written;
        if let Some(ending) = down.end.or(up.end) {
            return self.begin(r, ending);
        }
        if r.up.shut && r.down.shut {
            r.set_reason(CloseReason::Eof);
            return false;
        }
        for at in [down.until, up.until].into_iter().flatten() {
            self.arm(r, at);
        }
        let client_want = want(r.up.may_read(), r.down.blocked);
        let upstream_want = want(r.down.may_read(), r.up.blocked);
        self.watch(Side::Client, &mut r.client, client, client_want)
            && self.watch(Side::Upstream, &mut r.server, upstream, upstream_want)
    }

    /// Starts the connect: `socket(SOCK_NONBLOCK)` and `connect`. Returns
    /// whether the relay stays open.
    fn dial(&mut self, r: &mut Relay) -> bool {
        let upstream = &self.forward.upstream;
        let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
        let fd = match crate::socket::socket_for(upstream, flags) {
            Ok(fd) => fd,
            Err(err) => {
                let errno = err.errno().unwrap_or(Errno::NOMEM);
                return self.exhausted(r, "socket", errno);
            }
        };
        if matches!(r.up.carrier, Carrier::Copied(_)) {
            // Pieces and delayed chunks leave when the faults say.
            let _ = sockopt::set_tcp_nodelay(&fd, true);
            let _ = sockopt::set_tcp_nodelay(self.client, true);
        }
        super::buffers::cap_if_loopback(&fd, upstream.address.ip());
        if let Peer::Ip(addr) = self.peer {
            super::buffers::cap_if_loopback(self.client, Some(addr));
        }
        r.upstream = Some(fd);
        self.connect(r, self.now + self.forward.connect_timeout)
    }

    /// `connect` on the relay's upstream socket, bounded by `by`. Returns
    /// whether the relay stays open.
    fn connect(&mut self, r: &mut Relay, by: Instant) -> bool {
        let Some(fd) = r.upstream.as_ref() else {
            return self.dial(r);
        };
        let started = match self.forward.upstream.address.to_any() {
            Ok(addr) => start_connect(fd, &addr),
            Err(errno) => Err(errno),
        };
        r.state = State::Connecting(by);
        match started {
            Ok(Connecting::Done) => {
                r.state = State::Open;
                self.run(r, Wake::Timer)
            }
            Ok(Connecting::InProgress) => {
                self.arm(r, by);
                let upstream = r.upstream.as_ref().map(AsFd::as_fd);
                let client = self.client.as_fd();
                // The client is not read until the upstream answers.
                self.watch(Side::Client, &mut r.client, client, EventFlags::empty())
                    && upstream.is_some_and(|fd| {
                        self.watch(Side::Upstream, &mut r.server, fd, EventFlags::OUT)
                    })
            }
            // The socket stays unconnected: the same call may be made again.
            Err(Errno::AGAIN) if self.now < by => {
                r.state = State::Backlogged(by);
                self.arm(r, (self.now + BACKLOG_RETRY).min(by));
                true
            }
            Err(Errno::AGAIN) => self.upstream_failed(r, "connect", Errno::TIMEDOUT),
            Err(errno) => self.upstream_failed(r, "connect", errno),
        }
    }

    /// Whether the connect under way (until `by`) has ended: `None` once
    /// connected, `Some(open)` while waiting or after it failed.
    fn connected(&mut self, r: &mut Relay, wake: Wake, by: Instant) -> Option<bool> {
        let Some(fd) = r.upstream.as_ref() else {
            return Some(self.dial(r));
        };
        match wake {
            Wake::Ready(Side::Upstream, _) => match sockopt::socket_error(fd) {
                Ok(Ok(())) => None,
                Ok(Err(errno)) | Err(errno) => Some(self.upstream_failed(r, "connect", errno)),
            },
            _ if self.now >= by => Some(self.upstream_failed(r, "connect", Errno::TIMEDOUT)),
            _ => {
                self.arm(r, by);
                Some(true)
            }
        }
    }

    /// A call on `side`'s socket (or a pipe) failed. Returns `false`.
    fn failed(
        &mut self,
        r: &mut Relay,
        upstream: BorrowedFd<'_>,
        side: Side,
        failed: Failed,
    ) -> bool {
        // `side` is the direction's source; its destination is the other.
        let (on, errno) = match (side, failed) {
            (_, Failed::Pipe(errno)) => return self.exhausted(r, "pipe", errno),
            (side, Failed::Source(errno)) => (side, errno),
            (Side::Client, Failed::Destination(errno)) => (Side::Upstream, errno),
            (Side::Upstream, Failed::Destination(errno)) => (Side::Client, errno),
        };
        let op = match failed {
            Failed::Source(_) => "recv",
            _ => "send",
        };
        match on {
            Side::Upstream => self.upstream_failed(r, op, errno),
            Side::Client => {
                r.set_reason(CloseReason::from_errno(errno));
                if errno == Errno::CONNRESET {
                    let _ = sockopt::set_socket_linger(upstream, Some(Duration::ZERO));
                }
                false
            }
        }
    }

    /// The upstream refused, reset or timed out: one line naming it, and
    /// the client is reset. Returns `false`.
    fn upstream_failed(&mut self, r: &mut Relay, op: &'static str, errno: Errno) -> bool {
        if let Some(unsaid) = self.forward.warn_now(self.now) {
            let since = crate::server::warn_limit::since(unsaid, "clients reset");
            log::warn!(
                "{}; resetting client {}{since}",
                Error::at(op, &self.forward.upstream, errno),
                self.peer
            );
        }
        // The client did nothing wrong: `error`, with the upstream's errno.
        r.set_reason(CloseReason::Error(errno));
        let _ = sockopt::set_socket_linger(self.client, Some(Duration::ZERO));
        false
    }

    /// `socket` or `pipe2` failed: the client is closed; out of fds, the
    /// worker pauses accepting. Returns `false`.
    fn exhausted(&mut self, r: &mut Relay, op: &'static str, errno: Errno) -> bool {
        if matches!(errno, Errno::MFILE | Errno::NFILE) {
            self.stepped.exhausted = Some(errno);
        } else {
            log::warn!(
                "{op} for a relay to {}: {}",
                self.forward.upstream,
                crate::error::describe_errno(errno)
            );
        }
        r.set_reason(CloseReason::Error(errno));
        false
    }

    /// A fault ends the client's connection: the upstream is closed, what
    /// waits is dropped, and the client gets its FIN (then what it still
    /// sends is read and dropped) or its RST.
    fn begin(&mut self, r: &mut Relay, ending: Ending) -> bool {
        self.acted(match ending {
            Ending::Fin => "close_after",
            Ending::Rst => "reset_after",
        });
        r.set_reason(CloseReason::Fault);
        r.upstream = None;
        r.server = Watch::default();
        r.up.clear();
        r.down.clear();
        r.state = State::Ending(ending, self.now);
        if ending == Ending::Fin && shutdown(self.client, Shutdown::Write).is_err() {
            return false;
        }
        self.ending(r, ending, self.now, Wake::Timer)
    }

    fn ending(&mut self, r: &mut Relay, ending: Ending, since: Instant, wake: Wake) -> bool {
        let readable = matches!(wake, Wake::Ready(Side::Client, flags) if readable(flags));
        let sent_any = self.sent_before > 0 || self.to_client > 0;
        let (next, _) = linger(
            self.client,
            ending,
            since,
            self.now,
            readable,
            sent_any,
            self.io,
        );
        match next {
            Lingering::Close => false,
            Lingering::Wait { until, want } => {
                self.arm(r, until);
                let client = self.client.as_fd();
                self.watch(Side::Client, &mut r.client, client, want)
            }
        }
    }

    fn arm(&mut self, r: &mut Relay, at: Instant) {
        r.armed.arm(self.io.timers, at, self.token);
    }

    /// Watches `fd` for `want`: out of the epoll set when nothing is
    /// wanted (so a hung-up socket waiting its turn does not wake the loop
    /// over and over). Returns whether that worked.
    fn watch(
        &mut self,
        side: Side,
        watch: &mut Watch,
        fd: BorrowedFd<'_>,
        want: EventFlags,
    ) -> bool {
        let want = (!want.is_empty()).then_some(want);
        if watch.interest == want {
            return true;
        }
        let token = match side {
            Side::Client => self.token,
            Side::Upstream => self.token | SPARE_BIT,
        };
        let data = EventData::new_u64(token);
        let done = match (watch.interest, want) {
            (Some(_), None) => epoll::delete(self.io.epoll, fd),
            (None, Some(flags)) => epoll::add(self.io.epoll, fd, data, flags),
            (Some(_), Some(flags)) => epoll::modify(self.io.epoll, fd, data, flags),
            (None, None) => Ok(()),
        };
        watch.interest = want;
        done.is_ok()
    }
}

/// Whether epoll's `flags` ask for a read: data, an end, an error.
fn readable(flags: EventFlags) -> bool {
    flags.intersects(EventFlags::IN | EventFlags::HUP | EventFlags::ERR)
}

/// What to watch a socket for: `EPOLLIN` while its bytes may be read,
/// `EPOLLOUT` while the other direction waits to write to it.
fn want(read: bool, write: bool) -> EventFlags {
    let mut flags = EventFlags::empty();
    if read {
        flags |= EventFlags::IN;
    }
    if write {
        flags |= EventFlags::OUT;
    }
    flags
}
