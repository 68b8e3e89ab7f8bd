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
//! up, so a deadline is never woken early); a heap beats a hashed wheel
//! here because a worker holds few deadlines (one per faulted connection)
//! and pays O(log n) only when a fault acts.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

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
}
