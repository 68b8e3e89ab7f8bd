//! Warnings a peer can cause, at most one a second: each would otherwise
//! be a line per event (a client reconnecting in a loop to a failing
//! upstream, a sender of oversized datagrams), and stderr's queue, full of
//! them, would drop the lines that matter.

use core::time::Duration;
use std::sync::Mutex;
use std::time::Instant;

/// At most one warning of a kind in this long.
pub const WARN_EVERY: Duration = Duration::from_secs(1);

/// When a kind of warning was last written, and how many were held back
/// since.
#[derive(Debug, Default)]
pub struct WarnLimit(Mutex<(Option<Instant>, u64)>);

impl WarnLimit {
    /// Whether to write the warning now, and how many were not written
    /// since the last one; `None`: this one is counted instead.
    pub fn now(&self, now: Instant) -> Option<u64> {
        let mut warned = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (last, unsaid) = &mut *warned;
        if last.is_some_and(|at| now.duration_since(at) < WARN_EVERY) {
            *unsaid += 1;
            return None;
        }
        *last = Some(now);
        Some(core::mem::take(unsaid))
    }
}

/// ` (N more THINGS since the last warning)`, or nothing for none.
pub fn since(unsaid: u64, things: &str) -> String {
    match unsaid {
        0 => String::new(),
        n => format!(" ({n} more {things} since the last warning)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_a_second_and_the_next_counts_the_rest() {
        let limit = WarnLimit::default();
        let start = Instant::now();
        assert_eq!(limit.now(start), Some(0));
        for ms in [1, 500, 999] {
            assert_eq!(limit.now(start + Duration::from_millis(ms)), None);
        }
        assert_eq!(limit.now(start + WARN_EVERY), Some(3));
        assert_eq!(
            since(3, "clients reset"),
            " (3 more clients reset since the last warning)"
        );
        assert_eq!(since(0, "clients reset"), "");
    }
}
