//! What the workers share: the listener, the stop signal, and the counters
//! behind `--max-conns` and `--exit-after`. Atomics only, no locks on the
//! hot path.

use super::events::Events;
use super::stop::Stop;
use crate::endpoint::Endpoint;
use crate::io::OutputQueue;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use core::time::Duration;
use rustix::fd::OwnedFd;

/// State shared by every worker of one server.
#[derive(Debug)]
pub struct Shared {
    /// The listening socket, non-blocking.
    pub listener: OwnedFd,
    /// What it is bound to.
    pub local: Endpoint,
    /// Stop for everyone.
    pub stop: Stop,
    /// An eventfd written when a `--max-conns` slot frees up, so paused
    /// workers start accepting again.
    pub resume: OwnedFd,
    /// `--max-conns`.
    pub max_conns: Option<usize>,
    /// `--exit-after`.
    pub exit_after: Option<u64>,
    /// The transcript's way to stdout, when it is on: workers queue whole
    /// lines and never wait for the reader (one writer thread does).
    pub transcript: Option<OutputQueue>,
    /// The event log (off unless set after [`Shared::new`]).
    pub events: Events,
    active: AtomicUsize,
    closed: AtomicU64,
}

impl Shared {
    /// Shared state for a listener.
    pub fn new(
        listener: OwnedFd,
        local: Endpoint,
        stop: Stop,
        resume: OwnedFd,
        max_conns: Option<usize>,
        exit_after: Option<u64>,
        transcript: Option<OutputQueue>,
    ) -> Self {
        Self {
            listener,
            local,
            stop,
            resume,
            max_conns,
            exit_after,
            transcript,
            events: Events::off(),
            active: AtomicUsize::new(0),
            closed: AtomicU64::new(0),
        }
    }

    /// Takes a connection slot before `accept`, so `--max-conns` is never
    /// exceeded even with several workers accepting at once.
    pub fn reserve_slot(&self) -> bool {
        let Some(max) = self.max_conns else {
            self.active.fetch_add(1, Ordering::Relaxed);
            return true;
        };
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |active| {
                (active < max).then_some(active + 1)
            })
            .is_ok()
    }

    /// Whether every `--max-conns` slot is taken.
    pub fn at_capacity(&self) -> bool {
        self.max_conns
            .is_some_and(|max| self.active.load(Ordering::Acquire) >= max)
    }

    /// Whether clients wait in the listen backlog (the listener is readable).
    pub fn clients_waiting(&self) -> bool {
        crate::io::poll_readable(&self.listener, Some(Duration::ZERO)).unwrap_or(false)
    }

    /// Gives back a slot that `accept` did not fill.
    pub fn unreserve_slot(&self) {
        self.free_slot();
    }

    /// A connection closed: frees its slot, and counts it for `--exit-after`.
    pub fn connection_closed(&self) {
        self.free_slot();
        let closed = self.closed.fetch_add(1, Ordering::AcqRel) + 1;
        if self.exit_after == Some(closed) {
            self.stop.trigger();
        }
    }

    fn free_slot(&self) {
        let before = self.active.fetch_sub(1, Ordering::AcqRel);
        if self.max_conns == Some(before) {
            // Wakes the workers that paused accepting at the limit; a failed
            // write only means the counter is already non-zero.
            let _ = rustix::io::write(&self.resume, &1u64.to_ne_bytes());
        }
    }
}
