//! `--wait`'s clock: how long is left, and the pauses between attempts,
//! doubling from a first one to a cap.

use core::time::Duration;
use std::time::Instant;

/// The attempts `--wait` allows.
#[derive(Debug)]
pub struct Retry {
    give_up: Option<Instant>,
    pause: Duration,
    max: Duration,
}

impl Retry {
    /// `wait` from now (`None`: one attempt only), pausing `first`, then
    /// twice as long each time up to `max`.
    pub fn new(wait: Option<Duration>, first: Duration, max: Duration) -> Self {
        Self {
            give_up: wait.map(|wait| Instant::now() + wait),
            pause: first,
            max,
        }
    }

    /// What is left of the wait.
    pub fn left(&self) -> Duration {
        self.give_up.map_or(Duration::ZERO, |at| {
            at.saturating_duration_since(Instant::now())
        })
    }

    /// The next pause (never past the end of the wait).
    pub fn pause(&self) -> Duration {
        self.pause.min(self.left())
    }

    /// Whether an attempt that takes [`Retry::pause`] still leaves time for
    /// another after it.
    pub fn more_after_pause(&self) -> bool {
        self.left() > self.pause
    }

    /// After a failed attempt: the pause before the next one (and the one
    /// after it grows), or `None` once the wait is used up.
    pub fn next(&mut self) -> Option<Duration> {
        let pause = self.pause();
        if pause.is_zero() {
            return None;
        }
        self.pause = (self.pause * 2).min(self.max);
        Some(pause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_to_the_cap_and_end_with_the_wait() {
        let ms = Duration::from_millis;
        let mut retry = Retry::new(Some(Duration::from_secs(60)), ms(5), ms(18));
        let pauses: Vec<_> = (0..4).filter_map(|_| retry.next()).collect();
        assert_eq!(pauses, [ms(5), ms(10), ms(18), ms(18)]);
        assert!(retry.more_after_pause());
        let mut once = Retry::new(None, ms(5), ms(100));
        assert_eq!((once.next(), once.more_after_pause()), (None, false));
        let mut short = Retry::new(Some(ms(1)), ms(50), ms(100));
        assert!(!short.more_after_pause(), "1 ms leaves no room for 50");
        assert!(short.next().is_some_and(|pause| pause <= ms(1)));
        std::thread::sleep(ms(2));
        assert_eq!(short.next(), None);
    }
}
