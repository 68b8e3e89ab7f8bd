//! `-d` bounds a whole run: connection set-up and the load end at `-d`;
//! hold's last echo round and the final drain get a grace period after it,
//! and nothing waits past that.

use super::CONNECT_TIMEOUT;
use super::drain::DRAIN_LIMIT;
use std::time::{Duration, Instant};

/// How long after `-d` a run may go on: hold's last echo round, then the
/// drain (every load). A run ends by `-d` + 5 s, whatever the server does.
pub const GRACE: Duration = Duration::from_secs(5);
/// How long after `-d` hold's last echo round may take: 10,000 echoes take
/// well under a second here; the rest of [`GRACE`] is the drain's.
pub const LAST_ROUND: Duration = Duration::from_secs(3);

/// When a run's phases end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    /// `-d` from the start: the load stops.
    pub load: Instant,
    /// [`GRACE`] later: everything has stopped.
    pub end: Instant,
}

impl Deadline {
    /// A run of `duration` starting now.
    pub fn after(duration: Duration) -> Self {
        let load = Instant::now() + duration;
        Self {
            load,
            end: load + GRACE,
        }
    }

    /// How long a connect may take now: [`CONNECT_TIMEOUT`], less near the
    /// end (none at all after it: `ETIMEDOUT`).
    pub fn connect_timeout(&self) -> Duration {
        CONNECT_TIMEOUT.min(self.end.saturating_duration_since(Instant::now()))
    }

    /// When hold's last echo round must be done.
    pub fn last_round(&self) -> Instant {
        (self.load + LAST_ROUND).min(self.end)
    }

    /// Until when the final drain may go: [`DRAIN_LIMIT`] from now, never
    /// past the end.
    pub fn drain_until(&self) -> Instant {
        (Instant::now() + DRAIN_LIMIT).min(self.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phase_ends_within_the_grace() {
        let deadline = Deadline::after(Duration::from_secs(1));
        assert_eq!(deadline.end - deadline.load, GRACE);
        assert!(deadline.last_round() <= deadline.end);
        assert!(deadline.drain_until() <= deadline.end);
        assert!(deadline.connect_timeout() <= CONNECT_TIMEOUT);
        let over = Deadline {
            load: Instant::now(),
            end: Instant::now(),
        };
        assert_eq!(over.connect_timeout(), Duration::ZERO);
    }
}
