//! The echo worker: one epoll loop, non-blocking sockets, level-triggered.
//!
//! Per readable event: one `recv` into the worker's scratch buffer and one
//! `send` of what came in. Only what a short send leaves over is kept, and
//! while it is, the connection is watched for `EPOLLOUT` instead of read:
//! a client that does not read stalls itself, never the loop.
//!
//! `--idle-timeout` closes silent clients. With `--max-conns` as well, it is
//! also the length of a slot's lease while others wait in the backlog: a
//! connection that moved fewer than [`TRICKLE_BYTES`] in its last lease is
//! closed to make room, so trickling clients (slowloris) cannot hold every
//! slot forever (see [`super::idle`]).
//!
//! A plain connection whose `recv` fills the whole scratch buffer is a bulk
//! stream: its echo is spliced from then on ([`super::bulk`]); requests
//! smaller than the buffer never leave the one `recv`, one `send` path.
//!
//! A connection the faults pick ([`super::fault`]) is served by
//! [`fault::stream::step`] instead, on events and on the worker's timers
//! (the earliest set on the worker's one timer fd); a worker without faults
//! holds no timer and never looks.

use super::WorkerStats;
use super::bulk;
use super::conn::{Conn, Outgoing};
use super::events::{CloseReason, Opened};
use super::fault::stream::{self as faulted, Faulted};
use super::fault::timer::{Alarm, Timers};
use super::fault::{Fate, Opening, Path, Plan};
use super::forward::relay::{self, Side, Wake};
use super::forward::{Forward, Relay};
use super::idle::{IdleSweep, TRICKLE_BYTES};
use super::peer::Peer;
use super::sendq::SendQueues;
use super::shared::Shared;
use crate::error::{Error, Result};
use crate::io::{Pushed, epoll_wait, recv_some, send_some};
use crate::slab::{SPARE_BIT, Slab};
use crate::socket::accept;
use crate::transcript::{MessageSplitter, push_say_line};
use core::time::Duration;
use rustix::event::epoll::{self, Event, EventData, EventFlags};
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::SocketFlags;
use std::collections::HashMap;
use std::time::Instant;

/// Bytes read per `recv`; also the most a connection can have pending.
/// One per worker, not per connection: 256 KiB keeps bulk streams at the
/// syscall rate of `cat` with 128 KiB reads (64 KiB measured 0.86× of
/// `tcpserver … cat` in `scripts/bench.sh`, 256 KiB 1.10×).
const SCRATCH_BYTES: usize = 256 * 1024;
/// Transcript bytes a worker gathers before queueing them for stdout: a
/// flood of one-byte messages expands ~16× into lines, so they go early.
const TRANSCRIPT_FLUSH_BYTES: usize = 64 * 1024;
/// Events taken per `epoll_wait`.
const EVENT_BATCH: usize = 256;
/// How long accepting pauses after `EMFILE`/`ENFILE`: long enough not to spin
/// on a backlog we cannot take, short enough to notice freed fds quickly.
const FD_EXHAUSTION_BACKOFF: Duration = Duration::from_millis(100);

const LISTENER: u64 = u64::MAX;
const STOP: u64 = u64::MAX - 1;
const RESUME: u64 = u64::MAX - 2;
/// The faults' alarm ([`Alarm`]): its event only wakes the loop, which then
/// fires what is due.
const ALARM: u64 = u64::MAX - 3;

/// Worker settings that are not shared state.
#[derive(Debug, Clone, Copy)]
pub struct EchoOptions {
    /// Print `<peer-ip> say: <msg>` lines.
    pub transcript: bool,
    /// Close clients silent this long.
    pub idle_timeout: Option<Duration>,
}

/// Runs one echo worker until the stop signal fires; with `faults`, the
/// connections they pick are served through them; with `forward`, every
/// client is relayed to the upstream instead of echoed.
///
/// # Errors
/// Only failures of the worker's own epoll instance; a client's failure
/// closes that client.
pub fn run_worker(
    shared: &Shared,
    options: EchoOptions,
    faults: Option<&Plan>,
    forward: Option<&Forward>,
) -> Result<WorkerStats> {
    let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)
        .map_err(|errno| Error::on("epoll_create", "worker", errno))?;
    let mut worker = Worker {
        shared,
        options,
        epoll,
        conns: Slab::default(),
        scratch: vec![0u8; SCRATCH_BYTES].into_boxed_slice(),
        transcript: Vec::new(),
        accepting: false,
        paused_until: None,
        fd_exhaustion_logged: false,
        stats: WorkerStats::default(),
        idle: IdleSweep::new(),
        faults,
        forward,
        timed: faults.is_some() || forward.is_some(),
        timers: Timers::new(),
        alarm: Alarm::new(),
        send_queues: SendQueues::new(),
        opened: HashMap::new(),
    };
    worker.watch(shared.stop.fd(), STOP, EventFlags::IN)?;
    worker.watch(&shared.resume, RESUME, EventFlags::IN | EventFlags::ET)?;
    worker.start_accepting();
    worker.run()?;
    worker.close_all();
    Ok(worker.stats)
}

struct Worker<'a> {
    shared: &'a Shared,
    options: EchoOptions,
    epoll: OwnedFd,
    conns: Slab<Conn>,
    scratch: Box<[u8]>,
    transcript: Vec<u8>,
    accepting: bool,
    paused_until: Option<Instant>,
    fd_exhaustion_logged: bool,
    stats: WorkerStats,
    idle: IdleSweep,
    faults: Option<&'a Plan>,
    forward: Option<&'a Forward>,
    /// Whether connections may set timers (faults, or relays' connects).
    timed: bool,
    timers: Timers,
    alarm: Alarm,
    /// For the faults' RST ending (opened at the first).
    send_queues: SendQueues,
    /// With `--events`: each connection's id and accept time, by token
    /// (beside the slab, so a connection stays small without them).
    opened: HashMap<u64, Opened>,
}

impl Worker<'_> {
    fn run(&mut self) -> Result<()> {
        let mut events: Vec<Event> = Vec::with_capacity(EVENT_BATCH);
        let sweep_every = self
            .options
            .idle_timeout
            .map(|idle| (idle / 4).max(Duration::from_millis(10)));
        let mut next_sweep = sweep_every.map(|every| Instant::now() + every);
        loop {
            let timeout = self.wait_timeout(next_sweep);
            epoll_wait(&self.epoll, &mut events, timeout)
                .map_err(|errno| Error::on("epoll_wait", "worker", errno))?;
            for event in &events {
                let (flags, token) = (event.flags, event.data.u64());
                match token {
                    STOP => return Ok(()),
                    LISTENER => self.accept_burst()?,
                    RESUME => self.start_accepting(),
                    ALARM => {}
                    _ => self.on_connection(token, flags),
                }
            }
            self.flush_transcript();
            let now = Instant::now();
            if self.timed {
                self.fire_timers(now);
            }
            if self.paused_until.is_some_and(|until| now >= until) {
                self.paused_until = None;
                self.start_accepting();
            }
            if let (Some(every), Some(at)) = (sweep_every, next_sweep)
                && now >= at
            {
                self.close_idle(now);
                next_sweep = Some(now + every);
            }
        }
    }

    fn wait_timeout(&mut self, next_sweep: Option<Instant>) -> Option<Duration> {
        let now = Instant::now();
        let mut timers = self.timers.next();
        if self.timed && self.alarm.set(&self.epoll, ALARM, timers, now) {
            timers = None;
        }
        let next = [self.paused_until, next_sweep, timers]
            .into_iter()
            .flatten()
            .min()?;
        Some(next.saturating_duration_since(now))
    }

    /// Steps the faulted connections whose deadlines came by `now`.
    fn fire_timers(&mut self, now: Instant) {
        while let Some((at, token)) = self.timers.pop_due(now) {
            let due = self
                .conns
                .get_mut(token)
                .and_then(|conn| match &mut conn.out {
                    Outgoing::Faulted(fault) => fault.fire(at).then_some(false),
                    Outgoing::Relay(relay) => relay.fire(at).then_some(true),
                    Outgoing::Plain(_) | Outgoing::Spliced(_) => None,
                });
            match due {
                Some(false) => self.on_faulted(token, EventFlags::empty()),
                Some(true) => self.on_relay(token, Wake::Timer),
                None => {}
            }
        }
        if self.timers.bloated(self.conns.len()) {
            let conns = &mut self.conns;
            self.timers.compact(|at, token| {
                conns.get_mut(token).is_some_and(|conn| match &conn.out {
                    Outgoing::Faulted(fault) => fault.armed_at() == Some(at),
                    Outgoing::Relay(relay) => relay.armed_at() == Some(at),
                    Outgoing::Plain(_) | Outgoing::Spliced(_) => false,
                })
            });
        }
        self.flush_transcript();
    }

    fn watch(&self, fd: impl AsFd, token: u64, flags: EventFlags) -> Result<()> {
        epoll::add(&self.epoll, fd, EventData::new_u64(token), flags)
            .map_err(|errno| Error::on("epoll_ctl", "worker", errno))
    }

    /// Registers the shared listener, `EPOLLEXCLUSIVE` so one new connection
    /// wakes one worker rather than all of them.
    fn start_accepting(&mut self) {
        if self.accepting || self.paused_until.is_some() {
            return;
        }
        let flags = EventFlags::IN | EventFlags::EXCLUSIVE;
        match epoll::add(
            &self.epoll,
            &self.shared.listener,
            EventData::new_u64(LISTENER),
            flags,
        ) {
            Ok(()) | Err(Errno::EXIST) => self.accepting = true,
            Err(errno) => log::error!(
                "epoll_ctl listener: {}",
                crate::error::describe_errno(errno)
            ),
        }
    }

    /// Takes the listener out of this worker's epoll: at `--max-conns`, or
    /// while fds are exhausted. Unaccepted clients wait in the backlog
    /// instead of being accepted and dropped.
    fn stop_accepting(&mut self) {
        if self.accepting {
            let _ = epoll::delete(&self.epoll, &self.shared.listener);
            self.accepting = false;
        }
    }

    /// Accepts until the backlog is empty (or a slot or fd limit says
    /// wait).
    ///
    /// # Errors
    /// A listener that no longer listens: [`super::listener_gone`].
    fn accept_burst(&mut self) -> Result<()> {
        loop {
            if !self.shared.reserve_slot() {
                self.stop_accepting();
                return Ok(());
            }
            match accept(
                &self.shared.listener,
                SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            ) {
                Ok((fd, peer)) => {
                    self.fd_exhaustion_logged = false;
                    let peer = Peer::accepted(&fd, peer);
                    self.add_connection(fd, peer);
                }
                Err(Errno::AGAIN) => {
                    self.shared.unreserve_slot();
                    return Ok(());
                }
                Err(errno) if super::listener_gone(errno) => {
                    self.shared.unreserve_slot();
                    return Err(super::listener_gone_error(&self.shared.local, errno));
                }
                Err(errno @ (Errno::MFILE | Errno::NFILE | Errno::NOBUFS | Errno::NOMEM)) => {
                    self.shared.unreserve_slot();
                    self.pause_accepting("accept", errno);
                    return Ok(());
                }
                Err(errno) => {
                    // ECONNABORTED and friends: that client is gone, others wait.
                    self.shared.unreserve_slot();
                    log::debug!(
                        "accept {}: {}",
                        self.shared.local,
                        crate::error::describe_errno(errno)
                    );
                }
            }
        }
    }

    /// Out of fds (or memory) for `op`: log once per burst, and stop
    /// accepting for [`FD_EXHAUSTION_BACKOFF`].
    fn pause_accepting(&mut self, op: &str, errno: Errno) {
        if !self.fd_exhaustion_logged {
            log::warn!(
                "{op} {}: {}; pausing accepts, {} connections open in this worker",
                self.shared.local,
                crate::error::describe_errno(errno),
                self.conns.len()
            );
            self.fd_exhaustion_logged = true;
        }
        self.stop_accepting();
        self.paused_until = Some(Instant::now() + FD_EXHAUSTION_BACKOFF);
    }

    fn add_connection(&mut self, fd: OwnedFd, peer: Peer) {
        self.stats.accepted += 1;
        log::debug!("accepted {peer}");
        let now = Instant::now();
        let picked = self.faults.and_then(|plan| {
            let ordinal = plan.pick()?;
            log::debug!("faults on connection {ordinal} ({peer})");
            Some((plan, ordinal))
        });
        let out = match (self.forward, picked) {
            (Some(forward), picked) => self.relay_for(forward, picked, &fd, now),
            (None, Some((plan, ordinal))) => {
                Outgoing::Faulted(Box::new(Faulted::new(plan, ordinal, &fd, now)))
            }
            (None, None) => Outgoing::Plain(Vec::new()),
        };
        let (faulted, relayed) = (
            matches!(out, Outgoing::Faulted(_)),
            matches!(out, Outgoing::Relay(_)),
        );
        let conn = Conn {
            fd,
            peer,
            bytes_in: 0,
            bytes_out: 0,
            out,
            last_active: Instant::now(),
            lease_start: Instant::now(),
            moved: 0,
            transcript: self
                .options
                .transcript
                .then(|| Box::new(MessageSplitter::new())),
        };
        let token = self.conns.insert(conn);
        if self.shared.events.is_on()
            && let Some(conn) = self.conns.get_mut(token)
            && let Some(opened) = self.shared.events.accept(&conn.peer)
        {
            self.opened.insert(token, opened);
        }
        if relayed {
            // The relay registers the client once its upstream answers.
            return self.on_relay(token, Wake::Timer);
        }
        let registered = match self.conns.get_mut(token) {
            Some(conn) => epoll::add(
                &self.epoll,
                &conn.fd,
                EventData::new_u64(token),
                EventFlags::IN,
            ),
            None => Err(Errno::BADF),
        };
        if let Err(errno) = registered {
            log::warn!(
                "epoll_ctl connection: {}",
                crate::error::describe_errno(errno)
            );
            self.close(token, CloseReason::Error(errno));
        } else if faulted {
            self.on_faulted(token, EventFlags::empty());
        }
    }

    /// A forwarded client's way: relayed (spliced, or through the faults
    /// or the transcript), or, when the faults decide at accept that
    /// nothing will ever be relayed (`--on-accept`), served by the faulted
    /// echo's endings, without dialling the upstream.
    fn relay_for(
        &self,
        forward: &Forward,
        picked: Option<(&Plan, u64)>,
        fd: &OwnedFd,
        now: Instant,
    ) -> Outgoing {
        let Some((plan, ordinal)) = picked else {
            let paths = self
                .options
                .transcript
                .then(|| (Path::plain(now), Path::plain(now)));
            let relay = Relay::new(forward, paths, Opening::default(), now);
            return Outgoing::Relay(Box::new(relay));
        };
        let dir = forward.fault_dir;
        let (up, mut down) = plan.relay_paths(ordinal, dir.up(), dir.down(), now);
        let opening = down.open(now);
        if opening.fate != Fate::Serve || opening.ending.is_some() {
            return Outgoing::Faulted(Box::new(Faulted::new(plan, ordinal, fd, now)));
        }
        let relay = Relay::new(forward, Some((up, down)), opening, now);
        Outgoing::Relay(Box::new(relay))
    }

    /// An event, a timer or the accept of a relayed client.
    fn on_relay(&mut self, token: u64, wake: Wake) {
        let (Some(conn), Some(forward)) = (self.conns.get_mut(token), self.forward) else {
            return;
        };
        let mut io = faulted::Io {
            epoll: &self.epoll,
            scratch: &mut self.scratch,
            timers: &mut self.timers,
            send_queues: &mut self.send_queues,
        };
        let stepped = relay::step(conn, &mut io, forward, token, wake, Instant::now());
        self.stats.bytes += stepped.received as u64;
        if stepped.in_scratch > 0
            && let Some(splitter) = conn.transcript.as_mut()
        {
            let ip = conn.peer.name();
            let out = &mut self.transcript;
            splitter.feed(&self.scratch[..stepped.in_scratch], |message, dropped| {
                push_say_line(out, ip, message, dropped)
            });
        }
        if let Some(errno) = stepped.exhausted {
            self.pause_accepting("relay", errno);
        }
        if self.shared.events.is_on() {
            for which in stepped.acted.into_iter().flatten() {
                self.shared.events.fault(self.opened.get(&token), which);
            }
        }
        if !stepped.open {
            // The relay has said why; this is only if it had not.
            self.close(token, CloseReason::Error(Errno::INVAL));
        }
        if self.transcript.len() >= TRANSCRIPT_FLUSH_BYTES {
            self.flush_transcript();
        }
    }

    fn on_connection(&mut self, token: u64, flags: EventFlags) {
        if token & SPARE_BIT != 0 {
            return self.on_relay(token & !SPARE_BIT, Wake::Ready(Side::Upstream, flags));
        }
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        let writing = match &conn.out {
            Outgoing::Plain(pending) => !pending.is_empty(),
            Outgoing::Faulted(_) => return self.on_faulted(token, flags),
            Outgoing::Relay(_) => return self.on_relay(token, Wake::Ready(Side::Client, flags)),
            Outgoing::Spliced(_) => {
                let idle = self.options.idle_timeout.is_some();
                if let Err(reason) = bulk::step(conn, &self.epoll, token, idle, &mut self.stats) {
                    self.close(token, reason);
                }
                return;
            }
        };
        let kept = if writing {
            self.flush_pending(token)
        } else {
            self.echo_once(token)
        };
        // An error while output is stuck will never clear by itself.
        let kept = match kept {
            Ok(()) if writing && flags.contains(EventFlags::ERR) => Err(CloseReason::Reset),
            kept => kept,
        };
        if let Err(reason) = kept {
            self.close(token, reason);
        }
        if self.transcript.len() >= TRANSCRIPT_FLUSH_BYTES {
            self.flush_transcript();
        }
    }

    /// One `recv`, one `send`. `Err`: the connection closes, and why.
    fn echo_once(&mut self, token: u64) -> core::result::Result<(), CloseReason> {
        let Some(conn) = self.conns.get_mut(token) else {
            return Err(CloseReason::Error(Errno::BADF));
        };
        let received = match recv_some(&conn.fd, &mut self.scratch) {
            Ok(0) => return Err(CloseReason::Eof),
            Ok(n) => n,
            Err(Errno::AGAIN) => return Ok(()),
            Err(errno) => return Err(CloseReason::from_errno(errno)),
        };
        let data = &self.scratch[..received];
        let idle = self.options.idle_timeout.is_some();
        received_from(conn, data, idle, &mut self.stats, &mut self.transcript);
        let sent = match send_some(&conn.fd, data) {
            Ok(sent) => sent,
            Err(Errno::AGAIN) => 0,
            Err(errno) => return Err(CloseReason::from_errno(errno)),
        };
        conn.moved += sent as u64;
        conn.bytes_out += sent as u64;
        if received == self.scratch.len() && sent == received && conn.transcript.is_none() {
            // A bulk stream: its echo splices from now on.
            conn.out = Outgoing::Spliced(Box::default());
        }
        if sent < received {
            let Outgoing::Plain(pending) = &mut conn.out else {
                return Err(CloseReason::Error(Errno::INVAL));
            };
            pending.extend_from_slice(&data[sent..]);
            return epoll::modify(
                &self.epoll,
                &conn.fd,
                EventData::new_u64(token),
                EventFlags::OUT,
            )
            .map_err(CloseReason::Error);
        }
        Ok(())
    }

    /// An event or a timer for a faulted connection.
    fn on_faulted(&mut self, token: u64, flags: EventFlags) {
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        let mut io = faulted::Io {
            epoll: &self.epoll,
            scratch: &mut self.scratch,
            timers: &mut self.timers,
            send_queues: &mut self.send_queues,
        };
        let stepped = faulted::step(conn, &mut io, token, flags, Instant::now());
        if stepped.received > 0 {
            let data = &self.scratch[..stepped.received];
            let idle = self.options.idle_timeout.is_some();
            received_from(conn, data, idle, &mut self.stats, &mut self.transcript);
        }
        if self.shared.events.is_on() {
            for which in stepped.acted.into_iter().flatten() {
                self.shared.events.fault(self.opened.get(&token), which);
            }
        }
        if let Err(reason) = stepped.open {
            self.close(token, reason);
        }
        if self.transcript.len() >= TRANSCRIPT_FLUSH_BYTES {
            self.flush_transcript();
        }
    }

    /// Sends what a short send left; back to reading once it is all out.
    fn flush_pending(&mut self, token: u64) -> core::result::Result<(), CloseReason> {
        let Some(conn) = self.conns.get_mut(token) else {
            return Err(CloseReason::Error(Errno::BADF));
        };
        let Outgoing::Plain(pending) = &mut conn.out else {
            return Err(CloseReason::Error(Errno::INVAL));
        };
        let sent = match send_some(&conn.fd, pending.as_slice()) {
            Ok(sent) => sent,
            Err(Errno::AGAIN) => return Ok(()),
            Err(errno) => return Err(CloseReason::from_errno(errno)),
        };
        if self.options.idle_timeout.is_some() && sent > 0 {
            conn.last_active = Instant::now();
        }
        conn.moved += sent as u64;
        conn.bytes_out += sent as u64;
        pending.drain(..sent);
        if !pending.is_empty() {
            return Ok(());
        }
        // Give the buffer back: an idle connection holds none.
        *pending = Vec::new();
        epoll::modify(
            &self.epoll,
            &conn.fd,
            EventData::new_u64(token),
            EventFlags::IN,
        )
        .map_err(CloseReason::Error)
    }

    fn close(&mut self, token: u64, reason: CloseReason) {
        let Some(mut conn) = self.conns.remove(token) else {
            return;
        };
        let reason = match &conn.out {
            // What ended a relay knows best; idle, lease and stop find it
            // open, with no reason of its own.
            Outgoing::Relay(relay) => relay.reason().unwrap_or(reason),
            _ => reason,
        };
        if self.shared.events.is_on() {
            let opened = self.opened.remove(&token);
            let (bytes_in, bytes_out) = (conn.bytes_in, conn.bytes_out);
            let events = &self.shared.events;
            events.close(opened.as_ref(), &conn.peer, bytes_in, bytes_out, reason);
        }
        match &conn.out {
            Outgoing::Relay(relay) => {
                let closing = relay.closing(&conn);
                log::debug!(
                    "closed relay {} for {}: {} bytes in, {} bytes out, {:.3} s, {}",
                    closing.conn,
                    closing.peer,
                    closing.bytes_in,
                    closing.bytes_out,
                    closing.started.elapsed().as_secs_f64(),
                    reason.name()
                );
            }
            _ => log::debug!(
                "closed {}: {} bytes in, {} bytes out",
                conn.peer,
                conn.bytes_in,
                conn.bytes_out
            ),
        }
        if let Some(splitter) = conn.transcript.as_mut() {
            let ip = conn.peer.name();
            let out = &mut self.transcript;
            splitter.finish(|message, dropped| push_say_line(out, ip, message, dropped));
        }
        drop(conn);
        self.shared.connection_closed();
    }

    /// Closes the clients the idle sweep finds silent, or trickling while
    /// others wait for a slot (see [`IdleSweep`]).
    fn close_idle(&mut self, now: Instant) {
        let Some(idle) = self.options.idle_timeout else {
            return;
        };
        let pressed = self.shared.at_capacity() && self.shared.clients_waiting();
        let found = self.idle.sweep(&mut self.conns, idle, pressed, now);
        if !found.silent.is_empty() {
            log::info!("closing {} clients silent for {idle:?}", found.silent.len());
        }
        if !found.trickling.is_empty() {
            log::info!(
                "at --max-conns with clients waiting: closing {} clients that moved under \
                 {TRICKLE_BYTES} bytes in {idle:?}",
                found.trickling.len()
            );
        }
        for token in found.silent {
            self.close(token, CloseReason::Idle);
        }
        for token in found.trickling {
            self.close(token, CloseReason::Lease);
        }
        self.flush_transcript();
    }

    fn close_all(&mut self) {
        let tokens: Vec<u64> = self.conns.tokens().collect();
        for token in tokens {
            self.close(token, CloseReason::Stop);
        }
        self.flush_transcript();
    }

    /// Hands the lines to the transcript's writer; never waits for stdout.
    fn flush_transcript(&mut self) {
        if self.transcript.is_empty() {
            return;
        }
        let Some(queue) = &self.shared.transcript else {
            self.transcript.clear();
            return;
        };
        let pushed = queue.push(&self.transcript);
        self.transcript.clear();
        match pushed {
            Pushed::Queued => {}
            Pushed::Gone(Errno::PIPE) => self.stop_transcript(),
            Pushed::Gone(errno) => {
                log::warn!("transcript off: {}", Error::on("write", "stdout", errno));
                self.stop_transcript();
            }
        }
    }

    /// Nobody reads the transcript any more; echoing goes on.
    fn stop_transcript(&mut self) {
        self.options.transcript = false;
        let tokens: Vec<u64> = self.conns.tokens().collect();
        for token in tokens {
            if let Some(conn) = self.conns.get_mut(token) {
                conn.transcript = None;
            }
        }
    }
}

/// `data` came from `conn`: the counters, the idle clock (with
/// `--idle-timeout`), the transcript.
fn received_from(
    conn: &mut Conn,
    data: &[u8],
    idle: bool,
    stats: &mut WorkerStats,
    transcript: &mut Vec<u8>,
) {
    stats.bytes += data.len() as u64;
    conn.bytes_in += data.len() as u64;
    conn.moved += data.len() as u64;
    if idle {
        conn.last_active = Instant::now();
    }
    if let Some(splitter) = conn.transcript.as_mut() {
        let ip = conn.peer.name();
        splitter.feed(data, |message, dropped| {
            push_say_line(transcript, ip, message, dropped)
        });
    }
}
