//! `-d` bounds a whole run. The load runs for `-d` once its connections are
//! set up (hold: set-up counts within `-d`, as its idle time does); set-up,
//! hold's last echo round and the final drain share a grace period, and
//! nothing waits past `-d` + [`GRACE`].

use super::CONNECT_TIMEOUT;
use super::drain::DRAIN_LIMIT;
use std::time::{Duration, Instant};

/// How much longer than `-d` a run may take, whatever the server does:
/// set-up (connects to a server whose accept queue overflows wait out SYN
/// retransmits: 1 s, then 3 s), hold's last echo round, the drain.
pub const GRACE: Duration = Duration::from_secs(10);
/// How long after `-d` hold's last echo round may take: 10,000 echoes take
/// well under a second here.
pub const LAST_ROUND: Duration = Duration::from_secs(3);

/// When a run must be over, and how long its load runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    duration: Duration,
    /// `-d` + [`GRACE`] from the start: everything has stopped.
    pub end: Instant,
}

impl Deadline {
    /// A run of `duration` starting now.
    pub fn after(duration: Duration) -> Self {
        Self {
            duration,
            end: Instant::now() + duration + GRACE,
        }
    }

    /// How long a connect may take now: [`CONNECT_TIMEOUT`], less near the
    /// end (none at all after it: `ETIMEDOUT`).
    pub fn connect_timeout(&self) -> Duration {
        CONNECT_TIMEOUT.min(self.end.saturating_duration_since(Instant::now()))
    }

    /// When a load that starts at `start` stops: `-d` later, never past the
    /// end.
    pub fn load_from(&self, start: Instant) -> Instant {
        (start + self.duration).min(self.end)
    }

    /// When hold's last echo round, after a load that stopped at `load`,
    /// must be done.
    pub fn last_round(&self, load: Instant) -> Instant {
        (load + LAST_ROUND).min(self.end)
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
    fn every_phase_ends_by_the_end() {
        let deadline = Deadline::after(Duration::from_secs(1));
        let now = Instant::now();
        assert!(deadline.load_from(now) <= now + Duration::from_secs(1));
        let late = now + Duration::from_secs(30);
        assert_eq!(deadline.load_from(late), deadline.end);
        assert_eq!(deadline.last_round(late), deadline.end);
        assert!(deadline.drain_until() <= deadline.end);
        assert!(deadline.connect_timeout() <= CONNECT_TIMEOUT);
        let over = Deadline::after(Duration::ZERO);
        let over = Deadline {
            end: Instant::now(),
            ..over
        };
        assert_eq!(over.connect_timeout(), Duration::ZERO);
    }
}
