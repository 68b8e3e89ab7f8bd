//! One timer structure per worker: a binary heap of deadlines, each with
//! the slab token of the connection it wakes. The earliest deadline is the
//! worker's `epoll_wait` timeout, so no thread, timerfd or signal per
//! connection is needed, and a worker with no deadline waits for events
//! alone.
//!
//! A closed connection's deadlines stay in the heap until they come due,
//! and are then ignored: its token's generation no longer matches a slot
//! ([`crate::slab::Slab`]). A live connection that re-arms keeps only its
//! earliest deadline current ([`Armed`]); older entries are ignored when
//! they fire. `epoll_wait` counts in milliseconds (rustix rounds a timeout
//! up, so a deadline is never woken early). rustix calls `epoll_pwait2`
//! (nanoseconds) only with its `linux_5_11` feature; it would not help here,
//! since the faults' times are whole milliseconds (the flags' unit, and the
//! queue's clock) and a late wake-up costs at most one. A heap beats a
//! hashed wheel here because a worker holds few deadlines (about one per
//! faulted connection) and pays O(log n) only when a fault acts.
//!
//! Superseded entries are garbage a client could pile up (a connection that
//! goes busy and idle every millisecond under `--close-after 1000000s`
//! re-pushes its far deadline each time), so once the heap holds more than
//! [`SLACK`] entries beyond twice the live ones the worker compacts it
//! ([`Timers::compact`]): the heap stays proportional to the connections,
//! at an amortized O(log n) a push.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// Stale entries tolerated before a compaction, beyond twice the live ones.
pub const SLACK: usize = 1024;

/// A worker's deadlines, earliest first.
#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
}

impl Timers {
    /// No deadlines (and no allocation until the first).
    pub fn new() -> Self {
        Self::default()
    }

    /// Wakes `token` at `at`.
    pub fn push(&mut self, at: Instant, token: u64) {
        self.heap.push(Reverse((at, token)));
    }

    /// The earliest deadline, if any.
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Takes the earliest deadline if it has come by `now`: its time and token.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, u64)> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse(entry)| entry),
            _ => None,
        }
    }

    /// Whether enough stale entries have piled up, with `live` deadlines
    /// current, for a [`Timers::compact`] to be worth it.
    pub fn bloated(&self, live: usize) -> bool {
        self.heap.len() > live.saturating_mul(2).saturating_add(SLACK)
    }

    /// Keeps only the entries `current` says are armed, once each.
    pub fn compact(&mut self, mut current: impl FnMut(Instant, u64) -> bool) {
        let mut entries = core::mem::take(&mut self.heap).into_vec();
        entries.retain(|Reverse((at, token))| current(*at, *token));
        entries.sort_unstable();
        entries.dedup();
        self.heap = BinaryHeap::from(entries);
    }

    /// Deadlines held, stale ones included.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no deadline is held.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// A connection's side of the timers: the one deadline it waits for.
#[derive(Debug, Default, Clone, Copy)]
pub struct Armed(Option<Instant>);

impl Armed {
    /// Makes sure `token` is woken at `at` or earlier: pushes a deadline
    /// only when it is earlier than the one already armed.
    pub fn arm(&mut self, timers: &mut Timers, at: Instant, token: u64) {
        if self.0.is_none_or(|armed| at < armed) {
            self.0 = Some(at);
            timers.push(at, token);
        }
    }

    /// The deadline armed, if any.
    pub fn at(&self) -> Option<Instant> {
        self.0
    }

    /// A deadline of this connection's came due: whether it is the armed
    /// one (then it is disarmed), rather than one superseded by an
    /// earlier arm.
    pub fn fire(&mut self, at: Instant) -> bool {
        if self.0 == Some(at) {
            self.0 = None;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn deadlines_come_due_earliest_first_and_not_before_their_time() {
        let start = Instant::now();
        let ms = |n| start + Duration::from_millis(n);
        let mut timers = Timers::new();
        assert_eq!(timers.next(), None);
        timers.push(ms(30), 3);
        timers.push(ms(10), 1);
        timers.push(ms(20), 2);
        assert_eq!(timers.next(), Some(ms(10)));
        assert_eq!(timers.pop_due(ms(5)), None);
        assert_eq!(timers.pop_due(ms(25)), Some((ms(10), 1)));
        assert_eq!(timers.pop_due(ms(25)), Some((ms(20), 2)));
        assert_eq!(timers.pop_due(ms(25)), None);
        assert_eq!(timers.len(), 1);
        assert_eq!(timers.pop_due(ms(30)), Some((ms(30), 3)));
        assert!(timers.is_empty());
    }

    #[test]
    fn only_the_armed_deadline_fires_and_a_later_arm_pushes_nothing() {
        let start = Instant::now();
        let ms = |n| start + Duration::from_millis(n);
        let mut timers = Timers::new();
        let mut armed = Armed::default();
        armed.arm(&mut timers, ms(50), 9);
        armed.arm(&mut timers, ms(80), 9);
        assert_eq!(timers.len(), 1, "a later deadline than the armed one");
        armed.arm(&mut timers, ms(20), 9);
        assert_eq!(timers.len(), 2);
        let (at, token) = timers.pop_due(ms(100)).unwrap_or_else(|| panic!("due"));
        assert_eq!((at, token), (ms(20), 9));
        assert!(armed.fire(at));
        let (stale, _) = timers.pop_due(ms(100)).unwrap_or_else(|| panic!("due"));
        assert!(!armed.fire(stale), "superseded by the earlier arm");
        armed.arm(&mut timers, ms(120), 9);
        assert_eq!(timers.next(), Some(ms(120)));
    }

    #[test]
    fn compaction_keeps_each_armed_deadline_once_and_drops_the_rest() {
        let start = Instant::now();
        let ms = |n| start + Duration::from_millis(n);
        let mut timers = Timers::new();
        let mut armed = Armed::default();
        // Busy and idle in turn: the far deadline is pushed again each time.
        for n in 0..5000 {
            armed.arm(&mut timers, ms(1_000_000), 1);
            armed.arm(&mut timers, ms(n + 1), 1);
            let (at, _) = timers.pop_due(ms(n + 1)).unwrap_or_else(|| panic!("due"));
            assert!(armed.fire(at));
        }
        armed.arm(&mut timers, ms(1_000_000), 1);
        timers.push(ms(7), 2);
        assert!(timers.bloated(1), "{} entries", timers.len());
        timers.compact(|at, token| token == 1 && armed.at() == Some(at));
        assert_eq!(timers.len(), 1);
        assert!(!timers.bloated(1));
        assert_eq!(timers.pop_due(ms(2_000_000)), Some((ms(1_000_000), 1)));
    }
}
