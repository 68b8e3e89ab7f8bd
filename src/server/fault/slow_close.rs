//! `--slow-close MS`: sockd's FIN comes MS ms after the client's (toxiproxy's
//! `slow_close`), or after the last echoed byte has left, if that is later:
//! a client that half-closes and waits for EOF waits MS longer.

use super::{Fault, millis};
use core::time::Duration;
use std::time::Instant;

/// A late FIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowClose {
    delay: Duration,
}

impl SlowClose {
    /// sockd's FIN `delay` after the client's.
    pub fn new(delay: Duration) -> Self {
        Self { delay }
    }
}

impl Fault for SlowClose {
    fn flag(&self) -> String {
        format!("--slow-close {}", millis(self.delay))
    }

    fn fresh(&self) -> Box<dyn Fault> {
        Box::new(self.clone())
    }

    fn on_connection(&self) -> bool {
        true
    }

    fn finish(&mut self, now: Instant) -> Option<Instant> {
        now.checked_add(self.delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::fault::{Plan, rng::Stream};

    #[test]
    fn the_fin_waits_for_the_delay() {
        let now = Instant::now();
        let plan = Plan::new(
            vec![Box::new(SlowClose::new(Duration::from_millis(500)))],
            1.0,
            1,
        );
        let mut path = plan.path(0, Stream::Down, now);
        assert_eq!(path.finish(now), now + Duration::from_millis(500));
        assert_eq!(
            SlowClose::new(Duration::from_millis(500)).flag(),
            "--slow-close 500"
        );
    }
}
