//! `sockd --forward`: each accepted client is relayed to a connection of
//! its own to the upstream, both ways, in the echo worker's epoll loop
//! (the client is the worker's [`Conn`](super::conn::Conn); its relay
//! holds the upstream socket, registered under the client's token with
//! [`SPARE_BIT`](crate::slab::SPARE_BIT) set).
//!
//! - The upstream is dialled non-blocking inside the loop, bounded by
//!   `--connect-timeout` on the worker's timers; a refusal, a reset or a
//!   timeout closes that client alone (with an RST: it sees what the
//!   upstream did), logged in one line naming the upstream and the errno.
//! - Half-close: one side's FIN becomes `shutdown(SHUT_WR)` on the other,
//!   once what it sent before has been written; the other direction keeps
//!   flowing; the connection closes when both directions have ended.
//! - A direction nothing transforms moves its bytes with `splice(2)`
//!   through a pipe of its own ([`splice`]); one the faults or the
//!   transcript see goes through user space and the faults' bounded queue
//!   ([`copy`]). Either way a direction holds at most one bound of bytes
//!   (the pipe's capacity, [`splice::PIPE_BYTES`], or the queue's,
//!   [`QUEUE_BYTES`](super::fault::queue::QUEUE_BYTES)), and while it is
//!   full its source is not read: a slow reader on one side slows the
//!   writer on the other, never the worker.
//! - Faults on the client's connection (`--on-accept`, `--accept-delay`,
//!   `--close-after`, `--reset-after`, `--slow-close`) act on the client;
//!   `--delay`, `--rate`, `--chunk`, `--corrupt` on the bytes of the
//!   directions `--fault-dir` names.
//! - A leg whose peer is on loopback has its socket buffers capped
//!   ([`buffers`]): the kernel's autotuning only keeps bytes waiting longer.

pub mod args;
mod buffers;
pub mod close;
mod copy;
pub mod relay;
pub mod splice;

pub use args::{FaultDir, ForwardFlags, Target};
pub use close::{CloseReason, Closing};
pub use relay::Relay;

use crate::endpoint::Endpoint;
use crate::server::warn_limit::WarnLimit;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use std::time::Instant;

/// Where and how a forwarding server relays, shared by every worker.
#[derive(Debug)]
pub struct Forward {
    /// The upstream, resolved once at start.
    pub upstream: Endpoint,
    /// Which directions' bytes the faults touch.
    pub fault_dir: FaultDir,
    /// How long an upstream connect may take.
    pub connect_timeout: Duration,
    next_id: AtomicU64,
    /// The warnings of a failing upstream: one a second.
    warned: WarnLimit,
}

impl Forward {
    /// Relays to `upstream`.
    pub fn new(upstream: Endpoint, fault_dir: FaultDir, connect_timeout: Duration) -> Self {
        Self {
            upstream,
            fault_dir,
            connect_timeout,
            next_id: AtomicU64::new(0),
            warned: WarnLimit::default(),
        }
    }

    /// Whether to write the warning for an upstream failure now, and how
    /// many were not written since the last one; `None`: count this one.
    pub fn warn_now(&self, now: Instant) -> Option<u64> {
        self.warned.now(now)
    }

    /// The next connection's id, in order of accept across the workers.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}
