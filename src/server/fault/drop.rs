//! `--drop P[:CORR]`: datagrams lost, alone or in bursts, by a two-state
//! (Gilbert) model. After a datagram that was not dropped, the next is
//! dropped with probability P; after one that was, with
//! `Q = P + CORR × (1 − P)`: CORR is the extra chance, of the rest, that a
//! loss is followed by another. CORR 0 is independent loss at rate P.
//!
//! A burst ends at the first datagram kept, so its length is geometric:
//! the mean burst is `1 / (1 − Q) = 1 / ((1 − P)(1 − CORR))` datagrams,
//! and the long-run share lost is `P / (P + (1 − P)(1 − CORR))`
//! (`--drop 0.1:0.8`: Q = 0.82, bursts of 5.6 on average, 36 % lost).
//! CORR 1 (with P > 0) is a link that goes down for good at its first loss.
//!
//! The state is the worker's: one worker (`-u`'s default) sees the
//! datagrams in their order of arrival, so a seed replays the same losses
//! for the same sequence; with `--threads N` each worker runs its own chain
//! over the datagrams it happens to read.

use super::rng::Rng;
use super::{Arrival, Fault, Scope};

/// Loss with a burst correlation.
#[derive(Debug, Clone, PartialEq)]
pub struct Loss {
    share: f64,
    correlation: f64,
    /// Whether the last datagram this chain saw was dropped.
    after_loss: bool,
}

impl Loss {
    /// Drops a share `share` (0 to 1) of datagrams, a loss followed by
    /// another with the extra chance `correlation` (0 to 1).
    pub fn new(share: f64, correlation: f64) -> Self {
        Self {
            share,
            correlation,
            after_loss: false,
        }
    }

    /// The chance the next datagram is dropped, given the last one's fate.
    fn chance(&self) -> f64 {
        match self.after_loss {
            false => self.share,
            true => self.share + self.correlation * (1.0 - self.share),
        }
    }
}

impl Fault for Loss {
    fn flag(&self) -> String {
        if self.correlation == 0.0 {
            format!("--drop {}", self.share)
        } else {
            format!("--drop {}:{}", self.share, self.correlation)
        }
    }

    fn fresh(&self) -> Box<dyn Fault> {
        Box::new(Self::new(self.share, self.correlation))
    }

    fn scope(&self) -> Scope {
        Scope::Datagrams
    }

    fn arrive(&mut self, chunk: &mut Arrival, rng: &mut Rng) {
        self.after_loss = rng.chance(self.chance());
        if self.after_loss {
            chunk.copies = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Which of `n` datagrams `drop` loses (true: lost), one draw each.
    fn losses(mut drop: Loss, n: usize, seed: u64) -> Vec<bool> {
        let mut rng = Rng::new(seed);
        (0..n)
            .map(|_| {
                let mut chunk = Arrival {
                    len: 8,
                    ready: Instant::now(),
                    flip: None,
                    copies: 1,
                };
                drop.arrive(&mut chunk, &mut rng);
                chunk.copies == 0
            })
            .collect()
    }

    fn mean_burst(lost: &[bool]) -> f64 {
        let bursts = lost
            .iter()
            .enumerate()
            .filter(|&(i, &l)| l && (i == 0 || !lost[i - 1]))
            .count();
        lost.iter().filter(|&&l| l).count() as f64 / bursts as f64
    }

    #[test]
    fn independent_loss_drops_the_share_in_short_bursts() {
        let lost = losses(Loss::new(0.5, 0.0), 100_000, 1);
        let share = lost.iter().filter(|&&l| l).count() as f64 / 1e5;
        assert!((0.49..0.51).contains(&share), "{share}");
        // Geometric bursts: 1 / (1 - 0.5) = 2.
        let mean = mean_burst(&lost);
        assert!((1.95..2.05).contains(&mean), "{mean}");
    }

    #[test]
    fn correlation_makes_the_bursts_the_model_says() {
        let lost = losses(Loss::new(0.1, 0.8), 200_000, 2);
        let share = lost.iter().filter(|&&l| l).count() as f64 / 2e5;
        // P / (P + (1 - P)(1 - CORR)) = 0.1 / 0.28.
        assert!((0.34..0.375).contains(&share), "{share}");
        // 1 / ((1 - P)(1 - CORR)) = 1 / 0.18 = 5.56.
        let mean = mean_burst(&lost);
        assert!((5.3..5.8).contains(&mean), "{mean}");
    }

    #[test]
    fn the_ends_of_the_range_mean_never_and_always() {
        assert!(losses(Loss::new(0.0, 1.0), 1000, 3).iter().all(|&l| !l));
        assert!(losses(Loss::new(1.0, 0.0), 1000, 3).iter().all(|&l| l));
        assert_eq!(Loss::new(0.1, 0.8).flag(), "--drop 0.1:0.8");
        assert_eq!(Loss::new(0.5, 0.0).flag(), "--drop 0.5");
    }
}
