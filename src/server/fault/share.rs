//! `--fault-share P` with `--seed N`: which connections (or datagrams) the
//! faults touch. Item `n` is picked by a draw of its own from the seed and
//! `n` alone, so the same seed picks the same ordinals in every run,
//! however the items were spread over worker threads.

use super::rng::{Rng, Stream};

/// The share of items faulted, and the seed of the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Share {
    /// Probability, 0 to 1, that an item is faulted.
    pub share: f64,
    /// The seed every draw of the run derives from.
    pub seed: u64,
}

impl Share {
    /// Whether item `ordinal` (0 for the first accepted) is faulted.
    pub fn picks(&self, ordinal: u64) -> bool {
        self.share >= 1.0 || Rng::for_item(self.seed, ordinal, Stream::Pick).chance(self.share)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picked(share: f64, seed: u64) -> Vec<u64> {
        let share = Share { share, seed };
        (0..1000).filter(|&n| share.picks(n)).collect()
    }

    #[test]
    fn a_seed_picks_the_same_items_every_time_and_about_the_share() {
        let half = picked(0.5, 7);
        assert_eq!(half, picked(0.5, 7));
        assert_ne!(half, picked(0.5, 8));
        assert!((430..570).contains(&half.len()), "{}", half.len());
        assert_eq!(picked(1.0, 7).len(), 1000);
        assert!(picked(0.0, 7).is_empty());
        let tenth = picked(0.1, 7);
        assert!((60..140).contains(&tenth.len()), "{}", tenth.len());
        // A smaller share picks a subset of a larger one's items.
        assert!(tenth.iter().all(|n| half.binary_search(n).is_ok()));
    }
}
