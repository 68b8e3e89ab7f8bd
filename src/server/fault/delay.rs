//! `--delay MS[:JITTER]`: each chunk leaves MS ms after it arrived, ± a
//! uniform JITTER (toxiproxy's `latency`). On a stream the queue keeps the
//! order: a chunk whose draw is earlier than the one before it leaves with
//! it. JITTER is at most MS, so no chunk leaves before it came.

use super::rng::Rng;
use super::{Arrival, Fault, Scope, millis};
use core::time::Duration;

/// A fixed delay with a uniform jitter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delay {
    delay: Duration,
    jitter: Duration,
}

impl Delay {
    /// `delay` ± `jitter` (`jitter` ≤ `delay`).
    pub fn new(delay: Duration, jitter: Duration) -> Self {
        Self {
            delay,
            jitter: jitter.min(delay),
        }
    }

    /// This chunk's delay: uniform in `delay ± jitter`.
    fn draw(&self, rng: &mut Rng) -> Duration {
        if self.jitter.is_zero() {
            return self.delay;
        }
        let spread = self.jitter.as_secs_f64() * (2.0 * rng.unit() - 1.0);
        Duration::try_from_secs_f64(self.delay.as_secs_f64() + spread).unwrap_or(self.delay)
    }
}

impl Fault for Delay {
    fn flag(&self) -> String {
        match self.jitter.is_zero() {
            true => format!("--delay {}", millis(self.delay)),
            false => format!("--delay {}:{}", millis(self.delay), millis(self.jitter)),
        }
    }

    fn fresh(&self) -> Box<dyn Fault> {
        Box::new(self.clone())
    }

    fn scope(&self) -> Scope {
        Scope::Both
    }

    fn arrive(&mut self, chunk: &mut Arrival, rng: &mut Rng) {
        chunk.ready += self.draw(rng);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::fault::{Plan, Step, rng::Stream};
    use std::time::Instant;

    #[test]
    fn a_chunk_waits_the_delay_and_no_longer() {
        let now = Instant::now();
        let plan = Plan::new(
            vec![Box::new(Delay::new(
                Duration::from_millis(200),
                Duration::ZERO,
            ))],
            1.0,
            1,
        );
        let mut path = plan.path(0, Stream::Down, now);
        path.push(b"hi", now);
        let at = now + Duration::from_millis(200);
        assert_eq!(path.next(now, 64), Step::Until(at));
        assert_eq!(
            path.next(at - Duration::from_millis(1), 64),
            Step::Until(at)
        );
        assert_eq!(path.next(at, 64), Step::Send(2));
    }

    #[test]
    fn jitter_spreads_uniformly_within_its_bounds() {
        let delay = Delay::new(Duration::from_millis(100), Duration::from_millis(50));
        let mut rng = Rng::new(3);
        let draws: Vec<f64> = (0..10_000)
            .map(|_| delay.draw(&mut rng).as_secs_f64() * 1e3)
            .collect();
        assert!(draws.iter().all(|ms| (50.0..=150.0).contains(ms)));
        let below_75 = draws.iter().filter(|&&ms| ms < 75.0).count();
        assert!(
            (2_200..2_800).contains(&below_75),
            "{below_75} of 10000 under 75 ms"
        );
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((98.0..102.0).contains(&mean), "{mean}");
    }

    #[test]
    fn the_jitter_never_exceeds_the_delay() {
        let delay = Delay::new(Duration::from_millis(10), Duration::from_millis(50));
        assert_eq!(delay.flag(), "--delay 10:10");
        let mut rng = Rng::new(5);
        assert!((0..1000).all(|_| delay.draw(&mut rng) <= Duration::from_millis(20)));
    }
}
