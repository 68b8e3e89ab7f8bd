//! `--rate BYTES`: at most BYTES a second leave (toxiproxy's `bandwidth`),
//! paced in pieces of a hundredth of a second's worth, so a reader sees a
//! steady stream rather than a burst a second. A sender woken late (the
//! loop is busy) may catch up on at most [`CATCH_UP`] of lateness; idle time
//! is never banked into a burst.

use super::{Admit, Fault};
use core::time::Duration;
use std::time::Instant;

/// How much lateness a late wake-up may make up for.
const CATCH_UP: Duration = Duration::from_millis(10);

/// A byte rate, paced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    per_sec: u64,
    /// When the next piece may leave.
    next: Option<Instant>,
}

impl Rate {
    /// At most `per_sec` (> 0) bytes a second.
    pub fn new(per_sec: u64) -> Self {
        Self {
            per_sec: per_sec.max(1),
            next: None,
        }
    }

    fn piece(&self) -> usize {
        usize::try_from(self.per_sec / 100)
            .unwrap_or(usize::MAX)
            .max(1)
    }

    /// How long `n` bytes take at the rate.
    fn time_for(&self, n: usize) -> Duration {
        let nanos = n as u128 * 1_000_000_000 / u128::from(self.per_sec);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

impl Fault for Rate {
    fn flag(&self) -> String {
        format!("--rate {}", self.per_sec)
    }

    fn fresh(&self) -> Box<dyn Fault> {
        Box::new(Self::new(self.per_sec))
    }

    fn admit(&mut self, now: Instant, ready: usize) -> Admit {
        match self.next {
            Some(next) if ready > 0 && next > now => Admit::Until(next),
            _ => Admit::Go(ready.min(self.piece())),
        }
    }

    fn sent(&mut self, now: Instant, n: usize) {
        let base = match self.next {
            Some(next) if next + CATCH_UP >= now => next,
            _ => now,
        };
        self.next = Some(base + self.time_for(n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::fault::{Plan, Step, rng::Stream};

    #[test]
    fn bytes_leave_at_the_rate_in_small_pieces() {
        let start = Instant::now();
        let plan = Plan::new(vec![Box::new(Rate::new(100 * 1024))], 1.0, 1);
        let mut path = plan.path(0, Stream::Down, start);
        path.push(&vec![1u8; 300 * 1024], start);
        let mut now = start;
        let mut pieces = 0;
        while !path.is_empty() {
            match path.next(now, 256 * 1024) {
                Step::Send(n) => {
                    assert!(n <= 1024, "{n}");
                    path.sent(now, n);
                    pieces += 1;
                }
                Step::Until(at) => now = at,
                other => panic!("{other:?}"),
            }
        }
        let took = now.duration_since(start).as_secs_f64();
        // 300 KiB at 100 KiB/s: the last piece leaves 3 s minus a piece in.
        assert!((2.95..3.0).contains(&took), "{took}");
        assert_eq!(pieces, 300);
    }

    #[test]
    fn idle_time_is_not_banked_into_a_burst() {
        let start = Instant::now();
        let mut rate = Rate::new(1000);
        assert_eq!(rate.admit(start, 50), Admit::Go(10));
        rate.sent(start, 10);
        let next = start + Duration::from_millis(10);
        assert_eq!(rate.admit(start, 50), Admit::Until(next));
        // A second idle: the next piece goes at once, the one after 10 ms on.
        let later = start + Duration::from_secs(1);
        assert_eq!(rate.admit(later, 50), Admit::Go(10));
        rate.sent(later, 10);
        assert_eq!(
            rate.admit(later, 50),
            Admit::Until(later + Duration::from_millis(10))
        );
        assert_eq!(rate.admit(later, 0), Admit::Go(0));
    }
}
