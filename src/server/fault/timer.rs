//! One timer structure per worker: a binary heap of deadlines, each with
//! the slab token of the connection it wakes. The earliest deadline wakes
//! the worker's epoll loop, so no thread, timer or signal per connection is
//! needed, and a worker with no deadline waits for events alone.
//!
//! A closed connection's deadlines stay in the heap until they come due,
//! and are then ignored: its token's generation no longer matches a slot
//! ([`crate::slab::Slab`]). A live connection that re-arms keeps only its
//! earliest deadline current ([`Armed`]); older entries are ignored when
//! they fire. The earliest deadline is set on the worker's [`Alarm`], one
//! timer fd with nanosecond resolution (`epoll_wait`'s timeout counts whole
//! milliseconds, rounded up, which made a `--delay 1` round trip 2 ms;
//! rustix would use `epoll_pwait2` only with its `linux_5_11` feature,
//! which would make every epoll loop of the toolkit need Linux 5.11). If
//! the fd cannot be had, `epoll_wait`'s timeout takes over. A heap beats a
//! hashed wheel here because a worker holds few deadlines (about one per
//! faulted connection) and pays O(log n) only when a fault acts.
//!
//! Superseded entries are garbage a client could pile up (a connection that
//! goes busy and idle every millisecond under `--close-after 1000000s`
//! re-pushes its far deadline each time), so once the heap holds more than
//! [`SLACK`] entries beyond twice the live ones the worker compacts it
//! ([`Timers::compact`]): the heap stays proportional to the connections,
//! at an amortized O(log n) a push.

use rustix::event::epoll::{self, EventData, EventFlags};
use rustix::fd::OwnedFd;
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

/// The worker's alarm: one timer fd (created at the first deadline, so a
/// worker whose connections the faults never touch has none) set to the
/// earliest deadline with nanosecond resolution. `epoll_wait`'s own
/// timeout counts whole milliseconds, rounded up: with it alone a
/// `--delay 1` round trip took 2 ms.
#[derive(Debug, Default)]
pub struct Alarm {
    fd: Option<OwnedFd>,
    /// The deadline the fd is set to.
    set: Option<Instant>,
    /// Creating or setting the fd failed: the worker falls back to
    /// `epoll_wait`'s timeout.
    failed: bool,
}

impl Alarm {
    /// No fd yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the alarm to `next` (`None`: disarmed), registering a new fd
    /// with `epoll` under `token`. Returns whether the alarm covers `next`
    /// (else the caller must wake itself).
    pub fn set(
        &mut self,
        epoll: &OwnedFd,
        token: u64,
        next: Option<Instant>,
        now: Instant,
    ) -> bool {
        if self.failed {
            return false;
        }
        // Still set to a future deadline: nothing to change. (One that has
        // come is set again: the fd stays readable until it is.)
        if next == self.set && next.is_none_or(|at| at > now) {
            return true;
        }
        if self.fd.is_none() {
            if next.is_none() {
                return true;
            }
            match crate::io::timer_fd() {
                Ok(fd) => {
                    let data = EventData::new_u64(token);
                    if epoll::add(epoll, &fd, data, EventFlags::IN).is_err() {
                        self.failed = true;
                        return false;
                    }
                    self.fd = Some(fd);
                }
                Err(_) => {
                    self.failed = true;
                    return false;
                }
            }
        }
        let Some(fd) = &self.fd else {
            return false;
        };
        let after = next.map(|at| at.saturating_duration_since(now));
        if crate::io::set_timer(fd, after).is_err() {
            self.failed = true;
            return false;
        }
        self.set = next;
        true
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
    fn the_alarm_wakes_an_epoll_loop_at_the_deadline_not_before() {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)
            .unwrap_or_else(|e| panic!("epoll_create: {e}"));
        let mut events = Vec::with_capacity(4);
        let mut wait = |timeout| {
            crate::io::epoll_wait(&epoll, &mut events, Some(timeout))
                .unwrap_or_else(|e| panic!("epoll_wait: {e}"));
            events
                .iter()
                .map(|event| event.data.u64())
                .collect::<Vec<_>>()
        };
        let mut alarm = Alarm::new();
        let start = Instant::now();
        assert!(alarm.set(&epoll, 77, None, start));
        assert!(alarm.fd.is_none(), "no deadline, no fd");
        // Far below epoll_wait's millisecond.
        let at = start + Duration::from_micros(1300);
        assert!(alarm.set(&epoll, 77, Some(at), start));
        assert_eq!(wait(Duration::from_secs(5)), [77]);
        let woke = Instant::now();
        assert!(woke >= at, "{:?} early", at - woke);
        // Set again (disarmed), it no longer wakes the loop.
        assert!(alarm.set(&epoll, 77, None, woke));
        assert_eq!(wait(Duration::from_millis(20)), Vec::<u64>::new());
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
