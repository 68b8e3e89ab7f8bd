//! The faults on a datagram echo (`-u`): what each datagram becomes
//! ([`Faulted::arrive`]: dropped, doubled, a bit flipped, delayed), and the
//! bounded store of those delayed ([`Held`]).
//!
//! A delayed datagram waits in its worker's [`Held`], a heap by departure
//! time (with `--delay MS:JITTER` datagrams may overtake each other, as on
//! a real network). Every worker's held datagrams count against one
//! [`Budget`]: at most [`HELD_BYTES`] of payload and [`HELD_DATAGRAMS`]
//! datagrams in all. UDP has no backpressure, so one that would go over
//! is dropped and counted, never queued: sockd's memory stays bounded
//! whatever a client sends.

use super::rng::{Rng, Stream};
use super::{Arrival, Fault, Plan};
use core::cmp::Ordering as CmpOrdering;
use core::sync::atomic::{AtomicUsize, Ordering};
use rustix::net::SocketAddrAny;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// The most payload held back at once, all workers together: 8 MiB, a
/// second of a 64 Mbit/s link under `--delay 1000`, 128 of the largest
/// UDP datagrams.
pub const HELD_BYTES: usize = 8 << 20;
/// The most datagrams held back at once, all workers together (their
/// bookkeeping, about 200 bytes each, is bounded with them: 1.6 MiB).
pub const HELD_DATAGRAMS: usize = 8192;

/// One worker's faults, with their state (a burst of `--drop`).
#[derive(Debug)]
pub struct Faulted<'a> {
    plan: &'a Plan,
    faults: Vec<Box<dyn Fault>>,
}

impl<'a> Faulted<'a> {
    /// `plan`'s faults, fresh, for one worker.
    pub fn new(plan: &'a Plan) -> Self {
        Self {
            plan,
            faults: plan.faults.iter().map(|fault| fault.fresh()).collect(),
        }
    }

    /// A datagram of `len` bytes arrived at `now`: what the faults make of
    /// it, or `None` when `--fault-share` leaves it alone. Its draws come
    /// from the seed and its ordinal (its place in the order of arrival).
    pub fn arrive(&mut self, len: usize, now: Instant) -> Option<Arrival> {
        let ordinal = self.plan.pick()?;
        let mut rng = Rng::for_item(self.plan.share.seed, ordinal, Stream::Down);
        let mut arrival = Arrival {
            len,
            ready: now,
            flip: None,
            copies: 1,
        };
        for fault in &mut self.faults {
            fault.arrive(&mut arrival, &mut rng);
        }
        Some(arrival)
    }
}

/// Flips bit `bit % 8` of byte `bit / 8` of `bytes` (a bit past the end:
/// nothing).
pub fn flip(bytes: &mut [u8], bit: usize) {
    if let Some(byte) = bytes.get_mut(bit / 8) {
        *byte ^= 1 << (bit % 8);
    }
}

/// What every worker holds back, counted together.
#[derive(Debug, Default)]
pub struct Budget {
    bytes: AtomicUsize,
    datagrams: AtomicUsize,
}

impl Budget {
    /// Takes room for one datagram of `len` bytes, if there is some.
    fn take(&self, len: usize) -> bool {
        let fits = |held: usize, most: usize, more: usize| {
            held.checked_add(more).filter(|&total| total <= most)
        };
        if self
            .datagrams
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                fits(n, HELD_DATAGRAMS, 1)
            })
            .is_err()
        {
            return false;
        }
        let bytes = self
            .bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                fits(n, HELD_BYTES, len)
            });
        if bytes.is_err() {
            self.datagrams.fetch_sub(1, Ordering::AcqRel);
        }
        bytes.is_ok()
    }

    /// Whether no worker holds a datagram.
    pub fn is_empty(&self) -> bool {
        self.datagrams.load(Ordering::Acquire) == 0
    }

    /// Gives back the room of one datagram of `len` bytes.
    fn give(&self, len: usize) {
        self.bytes.fetch_sub(len, Ordering::AcqRel);
        self.datagrams.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A datagram waiting to be echoed.
#[derive(Debug)]
struct Waiting {
    at: Instant,
    /// Arrival order, so that datagrams due at the same time keep it.
    order: u64,
    to: SocketAddrAny,
    bytes: Box<[u8]>,
}

impl PartialEq for Waiting {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}

impl Eq for Waiting {}

impl PartialOrd for Waiting {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for Waiting {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

/// One worker's delayed datagrams, earliest first.
#[derive(Debug, Default)]
pub struct Held {
    heap: BinaryHeap<Reverse<Waiting>>,
    order: u64,
}

impl Held {
    /// Holds a copy of `bytes` for `to` until `at`; false (nothing held)
    /// when `budget` has no room for it.
    pub fn hold(&mut self, budget: &Budget, at: Instant, to: &SocketAddrAny, bytes: &[u8]) -> bool {
        if !budget.take(bytes.len()) {
            return false;
        }
        self.order += 1;
        self.heap.push(Reverse(Waiting {
            at,
            order: self.order,
            to: to.clone(),
            bytes: bytes.into(),
        }));
        true
    }

    /// When the earliest held datagram is due.
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(waiting)| waiting.at)
    }

    /// The earliest held datagram, if it is due by `now`: its address and
    /// bytes (its room given back to `budget`).
    pub fn pop_due(&mut self, budget: &Budget, now: Instant) -> Option<(SocketAddrAny, Box<[u8]>)> {
        if self.next()? > now {
            return None;
        }
        let Reverse(waiting) = self.heap.pop()?;
        budget.give(waiting.bytes.len());
        Some((waiting.to, waiting.bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::fault::{corrupt::Corrupt, drop::Loss, duplicate::Duplicate};
    use core::time::Duration;
    use rustix::net::SocketAddrV4;

    fn to() -> SocketAddrAny {
        SocketAddrAny::from(SocketAddrV4::new([127, 0, 0, 1].into(), 9))
    }

    #[test]
    fn held_datagrams_leave_by_their_time_then_their_order() {
        let budget = Budget::default();
        let mut held = Held::default();
        let now = Instant::now();
        let ms = Duration::from_millis;
        assert!(held.hold(&budget, now + ms(20), &to(), b"late"));
        assert!(held.hold(&budget, now + ms(10), &to(), b"first"));
        assert!(held.hold(&budget, now + ms(10), &to(), b"second"));
        assert_eq!(held.next(), Some(now + ms(10)));
        assert!(held.pop_due(&budget, now).is_none());
        let due: Vec<Box<[u8]>> =
            core::iter::from_fn(|| held.pop_due(&budget, now + ms(20)).map(|(_, b)| b)).collect();
        assert_eq!(due, [&b"first"[..], b"second", b"late"].map(Box::from));
        assert_eq!(budget.bytes.load(Ordering::Relaxed), 0);
        assert_eq!(budget.datagrams.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn the_budget_bounds_bytes_and_datagrams() {
        let budget = Budget::default();
        let mut held = Held::default();
        let at = Instant::now();
        let big = vec![0u8; 64 * 1024];
        let taken = (0..1000)
            .take_while(|_| held.hold(&budget, at, &to(), &big))
            .count();
        assert_eq!(taken, HELD_BYTES / big.len());
        assert!(held.hold(&budget, at, &to(), b""), "room for empty ones");
        let mut small = Held::default();
        let other = Budget::default();
        let taken = (0..100_000)
            .take_while(|_| small.hold(&other, at, &to(), b"x"))
            .count();
        assert_eq!(taken, HELD_DATAGRAMS);
        assert!(small.pop_due(&other, at).is_some());
        assert!(
            small.hold(&other, at, &to(), b"x"),
            "room again once one left"
        );
    }

    #[test]
    fn faults_act_in_order_and_only_on_the_share_picked() {
        let faults: Vec<Box<dyn Fault>> = vec![
            Box::new(Corrupt::new(1.0)),
            Box::new(Loss::new(0.5, 0.0)),
            Box::new(Duplicate::new(1.0)),
        ];
        let plan = Plan::new(faults, 1.0, 5);
        let mut faulted = Faulted::new(&plan);
        let now = Instant::now();
        let arrivals: Vec<Arrival> = (0..1000).filter_map(|_| faulted.arrive(16, now)).collect();
        assert_eq!(arrivals.len(), 1000);
        assert!(arrivals.iter().all(|a| a.flip.is_some_and(|bit| bit < 128)));
        assert!(arrivals.iter().all(|a| a.copies == 0 || a.copies == 2));
        let dropped = arrivals.iter().filter(|a| a.copies == 0).count();
        assert!((430..570).contains(&dropped), "{dropped}");
        let half = Plan::new(vec![Box::new(Loss::new(1.0, 0.0))], 0.5, 5);
        let mut faulted = Faulted::new(&half);
        let touched = (0..1000).filter_map(|_| faulted.arrive(1, now)).count();
        assert!((430..570).contains(&touched), "{touched}");
        // The datagram faults fit datagrams, the stream ones streams.
        assert_eq!(plan.misfit(true), None);
        assert_eq!(plan.misfit(false), Some("--drop 0.5".to_string()));
        let rate = Plan::new(vec![Box::new(super::super::rate::Rate::new(10))], 1.0, 5);
        assert_eq!(rate.misfit(true), Some("--rate 10".to_string()));
        assert_eq!(rate.misfit(false), None);
        let mut bytes = [0u8; 2];
        flip(&mut bytes, 9);
        flip(&mut bytes, 16);
        assert_eq!(bytes, [0, 2]);
    }
}
