//! `--close-after BYTES|SECSs` and `--reset-after BYTES|SECSs`: the
//! connection ends, with a FIN or an RST, once exactly BYTES have been sent
//! back, or SECS after the accept (toxiproxy's `limit_data` and `timeout`,
//! and its `reset_peer`).

use super::{Admit, Ending, Fault, Opening};
use core::time::Duration;
use std::time::Instant;

/// When a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Once this many bytes were sent back.
    Bytes(u64),
    /// This long after the accept.
    Time(Duration),
}

/// Ends the connection at a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    limit: Limit,
    ending: Ending,
    /// Bytes that may still be sent (a byte limit).
    left: u64,
}

impl After {
    /// Ends with `ending` at `limit`.
    pub fn new(limit: Limit, ending: Ending) -> Self {
        let left = match limit {
            Limit::Bytes(bytes) => bytes,
            Limit::Time(_) => u64::MAX,
        };
        Self {
            limit,
            ending,
            left,
        }
    }
}

impl Fault for After {
    fn flag(&self) -> String {
        let flag = match self.ending {
            Ending::Fin => "--close-after",
            Ending::Rst => "--reset-after",
        };
        match self.limit {
            Limit::Bytes(bytes) => format!("{flag} {bytes}"),
            Limit::Time(time) => format!("{flag} {}s", time.as_secs_f64()),
        }
    }

    fn fresh(&self) -> Box<dyn Fault> {
        Box::new(Self::new(self.limit, self.ending))
    }

    fn on_connection(&self) -> bool {
        true
    }

    fn open(&mut self, now: Instant, opening: &mut Opening) {
        if let Limit::Time(time) = self.limit {
            let at = now.checked_add(time).unwrap_or(now);
            if opening.deadline.is_none_or(|(earlier, _)| at < earlier) {
                opening.deadline = Some((at, self.ending));
            }
        }
    }

    fn admit(&mut self, _now: Instant, ready: usize) -> Admit {
        match self.left {
            0 => Admit::End(self.ending),
            left => Admit::Go(ready.min(usize::try_from(left).unwrap_or(usize::MAX))),
        }
    }

    fn sent(&mut self, _now: Instant, n: usize) {
        if let Limit::Bytes(_) = self.limit {
            self.left = self.left.saturating_sub(n as u64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::fault::{Plan, Step, rng::Stream};

    #[test]
    fn exactly_the_limit_leaves_then_the_connection_ends() {
        let now = Instant::now();
        let plan = Plan::new(
            vec![Box::new(After::new(Limit::Bytes(1000), Ending::Rst))],
            1.0,
            1,
        );
        let mut path = plan.path(0, Stream::Down, now);
        let mut sent = 0;
        for _ in 0..3 {
            path.push(&[0u8; 700], now);
            while let Step::Send(n) = path.next(now, 4096) {
                sent += n;
                path.sent(now, n);
            }
        }
        assert_eq!(sent, 1000);
        assert_eq!(path.next(now, 4096), Step::End(Ending::Rst));
    }

    #[test]
    fn no_byte_at_all_ends_it_before_any_is_read() {
        let now = Instant::now();
        let plan = Plan::new(
            vec![Box::new(After::new(Limit::Bytes(0), Ending::Fin))],
            1.0,
            1,
        );
        assert_eq!(
            plan.path(0, Stream::Down, now).next(now, 64),
            Step::End(Ending::Fin)
        );
    }

    #[test]
    fn a_time_limit_is_a_deadline_from_the_accept_the_earliest_winning() {
        let now = Instant::now();
        let mut opening = Opening::default();
        After::new(Limit::Time(Duration::from_secs(2)), Ending::Fin).open(now, &mut opening);
        After::new(Limit::Time(Duration::from_millis(500)), Ending::Rst).open(now, &mut opening);
        After::new(Limit::Time(Duration::from_secs(1)), Ending::Fin).open(now, &mut opening);
        assert_eq!(
            opening.deadline,
            Some((now + Duration::from_millis(500), Ending::Rst))
        );
        let close = After::new(Limit::Time(Duration::from_millis(500)), Ending::Fin);
        assert_eq!(close.flag(), "--close-after 0.5s");
        assert_eq!(
            After::new(Limit::Bytes(9), Ending::Rst).flag(),
            "--reset-after 9"
        );
    }
}
