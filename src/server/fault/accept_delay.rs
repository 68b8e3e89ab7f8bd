//! `--accept-delay MS`: the connection is accepted at once, but nothing is
//! read or sent for MS ms (toxiproxy's `slow_open`): the client's connect
//! succeeds and its first reply is late.

use super::{Fault, Opening, millis};
use core::time::Duration;
use std::time::Instant;

/// A slow open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptDelay {
    delay: Duration,
}

impl AcceptDelay {
    /// Nothing flows for `delay` after the accept.
    pub fn new(delay: Duration) -> Self {
        Self { delay }
    }
}

impl Fault for AcceptDelay {
    fn flag(&self) -> String {
        format!("--accept-delay {}", millis(self.delay))
    }

    fn fresh(&self) -> Box<dyn Fault> {
        Box::new(self.clone())
    }

    fn on_connection(&self) -> bool {
        true
    }

    fn open(&mut self, now: Instant, opening: &mut Opening) {
        let until = now.checked_add(self.delay).unwrap_or(now);
        opening.hold_until = Some(opening.hold_until.map_or(until, |held| held.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_is_held_for_the_delay() {
        let now = Instant::now();
        let mut opening = Opening::default();
        AcceptDelay::new(Duration::from_millis(300)).open(now, &mut opening);
        assert_eq!(opening.hold_until, Some(now + Duration::from_millis(300)));
        assert_eq!(
            AcceptDelay::new(Duration::from_millis(300)).flag(),
            "--accept-delay 300"
        );
    }
}
