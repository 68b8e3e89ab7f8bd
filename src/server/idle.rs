//! `--idle-timeout`'s sweep over one echo worker's connections: which are
//! silent, and, under `--max-conns` pressure, which trickle.
//!
//! Bytes leaving count as much as bytes coming in: those `send` takes, and
//! those a slow reader takes later from the kernel's send queue, long after
//! sockd's last `send` returned, which no event reports (a client reading a
//! 4 MiB echo at 80 KB/s through a small window was cut as "silent" after
//! the idle timeout, its echo reset). So before a connection is closed, its
//! kernel send queue is looked at ([`SendQueues`]), and bytes that left it
//! since the last look are activity.
//!
//! The kernel learns of a reader's progress from its ACKs, which a reader
//! with a large receive buffer sends in bursts (gaps of 1.8 s were measured
//! for a 64 KiB buffer read at 80 KB/s). A queue that holds bytes is
//! therefore watched for one more idle period before it counts as still:
//! such a connection is closed between one and two idle periods after its
//! last other activity.

use super::conn::Conn;
use super::sendq::SendQueues;
use crate::slab::Slab;
use core::time::Duration;
use rustix::fd::AsFd;
use std::collections::HashMap;
use std::time::Instant;

/// Under `--max-conns` pressure, the least traffic (bytes in plus bytes
/// out) that keeps a slot for another `--idle-timeout`: 1 KiB, far above a
/// byte a second, far below any transfer worth keeping.
pub const TRICKLE_BYTES: u64 = 1024;

/// The sweep's memory: the kernel queues it looked at.
#[derive(Debug, Default)]
pub struct IdleSweep {
    send_queues: SendQueues,
    /// What a connection's kernel send queue held, and when that was seen.
    seen: HashMap<u64, (u32, Instant)>,
}

/// The connections a sweep found, to be closed.
#[derive(Debug, Default)]
pub struct Found {
    /// Nothing came in or left for the idle timeout.
    pub silent: Vec<u64>,
    /// Under `--max-conns` pressure, under [`TRICKLE_BYTES`] moved in a lease.
    pub trickling: Vec<u64>,
}

/// What a look at a connection's kernel send queue found.
enum Queue {
    /// Nothing queued: nothing is leaving.
    Empty,
    /// These bytes left it since the last look.
    Moved(u64),
    /// It has not moved for the idle timeout.
    Still,
    /// Not watched long enough to tell.
    Watching,
}

impl IdleSweep {
    /// A sweep that has looked at nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Finds the silent connections (and with `pressed`, the trickling
    /// ones) among `conns`, as of `now`. Leases that ran out otherwise
    /// start again.
    pub fn sweep(
        &mut self,
        conns: &mut Slab<Conn>,
        idle: Duration,
        pressed: bool,
        now: Instant,
    ) -> Found {
        self.seen.retain(|token, _| conns.contains(*token));
        let tokens: Vec<u64> = conns.tokens().collect();
        let mut found = Found::default();
        for token in tokens {
            let Some(conn) = conns.get_mut(token) else {
                continue;
            };
            if now.saturating_duration_since(conn.last_active) >= idle {
                match self.look_at_queue(token, conn, conn.last_active, now, idle) {
                    Queue::Empty | Queue::Still => found.silent.push(token),
                    Queue::Moved(bytes) => moved(conn, now, bytes),
                    Queue::Watching => {}
                }
                continue;
            }
            let lease = now.saturating_duration_since(conn.lease_start);
            if lease < idle {
                continue;
            }
            let verdict = if pressed && conn.moved < TRICKLE_BYTES {
                self.judge_trickle(token, conn, lease, now, idle)
            } else {
                Lease::Renew
            };
            match verdict {
                Lease::Renew => {
                    conn.lease_start = now;
                    conn.moved = 0;
                }
                Lease::Close => found.trickling.push(token),
                Lease::Wait => {}
            }
        }
        found
    }

    /// What `conn`'s kernel send queue says of the time since `since`,
    /// compared with the last look at it (taken now if there was none
    /// since then).
    fn look_at_queue(
        &mut self,
        token: u64,
        conn: &Conn,
        since: Instant,
        now: Instant,
        idle: Duration,
    ) -> Queue {
        let queued = self.send_queues.unacked(conn.fd.as_fd()).unwrap_or(0);
        match self.seen.get(&token).copied() {
            Some((before, at)) if at >= since => {
                if queued < before {
                    self.seen.insert(token, (queued, now));
                    Queue::Moved(u64::from(before - queued))
                } else if now.saturating_duration_since(at) >= idle {
                    Queue::Still
                } else {
                    Queue::Watching
                }
            }
            _ if queued == 0 => Queue::Empty,
            _ => {
                self.seen.insert(token, (queued, now));
                Queue::Watching
            }
        }
    }

    /// A lease that ran out under `--max-conns` pressure with under
    /// [`TRICKLE_BYTES`] moved: what left the kernel's send queue counts
    /// too. A queue still moving (or not yet watched long enough) gets at
    /// most one more lease to make up the rest.
    fn judge_trickle(
        &mut self,
        token: u64,
        conn: &mut Conn,
        lease: Duration,
        now: Instant,
        idle: Duration,
    ) -> Lease {
        let queue = self.look_at_queue(token, conn, conn.lease_start, now, idle);
        if let Queue::Moved(bytes) = queue {
            moved(conn, now, bytes);
        }
        match queue {
            _ if conn.moved >= TRICKLE_BYTES => Lease::Renew,
            Queue::Empty | Queue::Still => Lease::Close,
            _ if lease >= 2 * idle => Lease::Close,
            _ => Lease::Wait,
        }
    }
}

/// What becomes of a lease that ran out.
enum Lease {
    /// It starts again.
    Renew,
    /// The connection trickled: it goes.
    Close,
    /// Decided at a later sweep.
    Wait,
}

/// `bytes` left `conn`'s kernel send queue: it is active, and they count
/// for its lease.
fn moved(conn: &mut Conn, now: Instant, bytes: u64) {
    conn.last_active = now;
    conn.moved += bytes;
}
