//! `--events`: one JSON object per line for a harness to tail — `listen`,
//! `accept`, `fault`, `close`, `datagram`, `stop` — each with `event` and
//! `t` (seconds since the log opened).
//!
//! [`Events`] is the handle every loop holds: off, it is a `None`, and every
//! call is one branch (no clock read, no allocation, no syscall). On, each
//! event is formatted by serde_json (so any string is escaped, and a line
//! never breaks) and goes out in one `write(2)` from the thread that saw it
//! ([`sink`]): nothing waits for a reader, and what finds no room is
//! dropped and counted.

pub mod args;
mod sink;

pub use args::EventsFlags;

use super::WorkerStats;
use super::peer::Peer;
use super::stop::Stop;
use crate::endpoint::Endpoint;
use crate::error::Result;
use core::sync::atomic::{AtomicU64, Ordering};
use rustix::io::Errno;
use serde_json::{Value, json};
use sink::Sink;
use std::sync::Arc;
use std::time::Instant;

/// Why a connection closed, as its `close` event's `reason` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed (EOF).
    Eof,
    /// The client reset it (`ECONNRESET`, or `EPIPE` on a send).
    Reset,
    /// Silent for `--idle-timeout`.
    Idle,
    /// At `--max-conns` with clients waiting, it moved too little in its
    /// lease (the slowloris eviction).
    Lease,
    /// A fault ended it (`--close-after`, `--reset-after`, `--on-accept
    /// close|reset`, or a FIN after `--slow-close`).
    Fault,
    /// Any other errno.
    Error(Errno),
    /// sockd stopped with it open.
    Stop,
}

impl CloseReason {
    /// The reason a failed `recv` or `send` gives.
    pub fn from_errno(errno: Errno) -> Self {
        match errno {
            Errno::CONNRESET | Errno::PIPE => Self::Reset,
            errno => Self::Error(errno),
        }
    }

    /// `eof`, `reset`, `idle`, `lease`, `fault`, `error`, `stop`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Eof => "eof",
            Self::Reset => "reset",
            Self::Idle => "idle",
            Self::Lease => "lease",
            Self::Fault => "fault",
            Self::Error(_) => "error",
            Self::Stop => "stop",
        }
    }
}

/// A connection the log has seen accepted: its id and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// The `conn` of its events: 1, 2, … in the order of accepts.
    pub conn: u64,
    started: Instant,
}

/// The event log, or nothing (the default): cheap to clone, shared by
/// every worker.
#[derive(Debug, Clone, Default)]
pub struct Events(Option<Arc<Log>>);

#[derive(Debug)]
struct Log {
    sink: Sink,
    start: Instant,
    next_conn: AtomicU64,
}

impl Events {
    /// No log: every call does nothing.
    pub fn off() -> Self {
        Self(None)
    }

    /// Opens the log `flags` name (see [`sink`] for how a path is opened),
    /// or none. A `stop` that comes while a FIFO waits for its reader
    /// leaves the log off.
    ///
    /// # Errors
    /// Opening the path (`write PATH: EACCES`, …), or the thread that
    /// writes stdout.
    pub fn open(flags: &EventsFlags, stop: &Stop) -> Result<Self> {
        let Some(path) = flags.events.as_deref() else {
            return Ok(Self::off());
        };
        let sink = match flags.to_stdout() {
            true => Sink::stdout()?,
            false => match Sink::open(path, stop)? {
                Some(sink) => sink,
                None => return Ok(Self::off()),
            },
        };
        Ok(Self(Some(Arc::new(Log {
            sink,
            start: Instant::now(),
            next_conn: AtomicU64::new(1),
        }))))
    }

    /// Whether events are written.
    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// `listen`: the address (a unix path escaped as stderr shows it) and
    /// the transport (`tcp`, `udp`, `unix`, `unix-dgram`).
    pub fn listen(&self, local: &Endpoint) {
        if let Some(log) = &self.0 {
            log.emit(
                "listen",
                json!({"address": local.to_string(), "transport": local.transport().name()}),
            );
        }
    }

    /// `accept`: a new connection's id and peer; `None` when off.
    #[inline]
    pub fn accept(&self, peer: &Peer) -> Option<Opened> {
        let log = self.0.as_ref()?;
        let opened = Opened {
            conn: log.next_conn.fetch_add(1, Ordering::Relaxed),
            started: Instant::now(),
        };
        log.emit(
            "accept",
            json!({"conn": opened.conn, "peer": peer.to_string()}),
        );
        Some(opened)
    }

    /// `fault`: `which` fault acted on connection `conn` now
    /// (`reset_after`, `on_accept hang`, …).
    #[inline]
    pub fn fault(&self, conn: Option<&Opened>, which: &str) {
        if let (Some(log), Some(opened)) = (&self.0, conn) {
            log.emit("fault", json!({"conn": opened.conn, "which": which}));
        }
    }

    /// `fault` for a datagram from `peer` (`drop`, `duplicate`, `corrupt`).
    #[inline]
    pub fn datagram_fault(&self, peer: &Peer, which: &str) {
        if let Some(log) = &self.0 {
            log.emit("fault", json!({"peer": peer.to_string(), "which": which}));
        }
    }

    /// `close`: the connection's totals, how long it was open and why it
    /// ended (with `errno` for an `error`).
    #[inline]
    pub fn close(
        &self,
        opened: Option<&Opened>,
        peer: &Peer,
        bytes_in: u64,
        bytes_out: u64,
        reason: CloseReason,
    ) {
        let (Some(log), Some(opened)) = (&self.0, opened) else {
            return;
        };
        let mut fields = json!({
            "conn": opened.conn,
            "peer": peer.to_string(),
            "bytes_in": bytes_in,
            "bytes_out": bytes_out,
            "duration": micros(opened.started.elapsed()),
            "reason": reason.name(),
        });
        if let (CloseReason::Error(errno), Value::Object(map)) = (reason, &mut fields) {
            let name = crate::errno::errno_name(errno.raw_os_error()).unwrap_or("EUNKNOWN");
            map.insert("errno".into(), name.into());
        }
        log.emit("close", fields);
    }

    /// `datagram`: one came from `peer`, `bytes` long.
    #[inline]
    pub fn datagram(&self, peer: &Peer, bytes: usize) {
        if let Some(log) = &self.0 {
            log.emit(
                "datagram",
                json!({"peer": peer.to_string(), "bytes": bytes}),
            );
        }
    }

    /// `stop`: the server's totals, and the events dropped so far (this
    /// one aside).
    pub fn stop(&self, stats: &WorkerStats) {
        if let Some(log) = &self.0 {
            log.emit(
                "stop",
                json!({
                    "connections": stats.accepted,
                    "datagrams": stats.datagrams,
                    "bytes": stats.bytes,
                    "events_dropped": log.sink.dropped(),
                }),
            );
        }
    }

    /// Ends the log (stdout gets a moment to drain): the events that never
    /// made it out.
    pub fn finish(&self) -> u64 {
        self.0.as_ref().map_or(0, |log| log.sink.finish())
    }
}

impl Log {
    /// `{"event":…,"t":…,` then `fields`' own (serde_json's order), as
    /// one line.
    fn emit(&self, event: &str, fields: Value) {
        let t = Value::from(micros(self.start.elapsed()));
        let fields = fields.to_string();
        let mut line = format!("{{\"event\":{},\"t\":{t}", Value::from(event));
        match fields.strip_prefix('{') {
            Some("}") | None => line.push('}'),
            Some(rest) => {
                line.push(',');
                line.push_str(rest);
            }
        }
        line.push('\n');
        self.sink.write(line.as_bytes());
    }
}

/// Seconds, to the microsecond: `1.253749`, not `1.2537493259999999`.
fn micros(elapsed: core::time::Duration) -> f64 {
    (elapsed.as_secs_f64() * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_off_log_takes_every_call_and_writes_nothing() {
        let events = Events::off();
        let peer = Peer::Pid(1);
        let opened = events.accept(&peer);
        assert_eq!(opened, None);
        events.close(opened.as_ref(), &peer, 1, 1, CloseReason::Eof);
        assert!(!events.is_on());
        assert_eq!(events.finish(), 0);
    }

    #[test]
    fn times_print_to_the_microsecond() {
        let t = micros(core::time::Duration::from_nanos(1_253_749_326));
        assert_eq!(Value::from(t).to_string(), "1.253749");
    }

    #[test]
    fn errnos_read_as_resets_or_errors() {
        assert_eq!(
            CloseReason::from_errno(Errno::CONNRESET),
            CloseReason::Reset
        );
        assert_eq!(CloseReason::from_errno(Errno::PIPE), CloseReason::Reset);
        let timed_out = CloseReason::from_errno(Errno::TIMEDOUT);
        assert_eq!(timed_out.name(), "error");
    }
}
