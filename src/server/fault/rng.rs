//! The faults' random numbers: SplitMix64, seeded, so a run can be
//! replayed exactly with `--seed`.
//!
//! Each item a fault may touch (a connection, a datagram) draws from a
//! generator of its own, derived from the run's seed and the item's
//! ordinal, so what happens to connection 7 does not depend on how many
//! numbers connection 6 drew, nor on which worker thread served which.
//! SplitMix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number
//! generators", OOPSLA 2014) passes BigCrush, needs eight bytes of state
//! and mixes a counter well, which is all an ordinal-derived seed asks.

/// A seeded pseudo-random generator (not for secrets).
#[derive(Debug, Clone)]
pub struct Rng(u64);

/// Separates the numbers drawn for different purposes from one ordinal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Whether the item is faulted at all (`--fault-share`).
    Pick = 1,
    /// What the faults do to the bytes sockd sends back (sockd → client).
    Down = 2,
    /// What they do to the bytes going the other way (client → upstream,
    /// for a relay).
    Up = 3,
}

const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

impl Rng {
    /// A generator whose numbers follow from `seed` alone.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The generator for item `ordinal` (0, 1, 2, … in the order the items
    /// came) of a run seeded with `seed`, for one purpose.
    pub fn for_item(seed: u64, ordinal: u64, stream: Stream) -> Self {
        let mut mixer = Self(seed ^ mix(ordinal.wrapping_add(1).wrapping_mul(GOLDEN)));
        let base = mixer.next_u64();
        Self(base ^ mix((stream as u64).wrapping_mul(GOLDEN)))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// Uniform in `[0, 1)`, 53 bits of it.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p` (0 never, 1 always).
    pub fn chance(&mut self, p: f64) -> bool {
        p >= 1.0 || (p > 0.0 && self.unit() < p)
    }

    /// Uniform in `0..n` (`n` > 0), without modulo bias (Lemire's
    /// multiply-and-reject).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let wide = u128::from(self.next_u64()) * u128::from(n);
            if (wide as u64) >= threshold {
                return (wide >> 64) as u64;
            }
        }
    }
}

/// SplitMix64's finaliser (a bijection of the 64-bit values).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_numbers_and_another_seed_others() {
        let draw = |seed| {
            let mut rng = Rng::new(seed);
            (0..8).map(|_| rng.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        // SplitMix64's published first output for seed 0.
        assert_eq!(Rng::new(0).next_u64(), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn items_and_purposes_draw_apart() {
        let first = |ordinal, stream| Rng::for_item(7, ordinal, stream).next_u64();
        assert_eq!(first(3, Stream::Down), first(3, Stream::Down));
        assert_ne!(first(3, Stream::Down), first(4, Stream::Down));
        assert_ne!(first(3, Stream::Down), first(3, Stream::Up));
        assert_ne!(first(3, Stream::Pick), first(3, Stream::Down));
        assert_ne!(
            Rng::for_item(7, 0, Stream::Pick).next_u64(),
            Rng::for_item(8, 0, Stream::Pick).next_u64()
        );
    }

    #[test]
    fn draws_are_in_range_and_roughly_uniform() {
        let mut rng = Rng::new(42);
        let mut buckets = [0u32; 10];
        let mut heads = 0;
        for _ in 0..100_000 {
            let unit = rng.unit();
            assert!((0.0..1.0).contains(&unit), "{unit}");
            buckets[(unit * 10.0) as usize] += 1;
            let below = rng.below(6);
            assert!(below < 6);
            heads += u32::from(rng.chance(0.25));
        }
        for count in buckets {
            assert!((9_000..11_000).contains(&count), "{buckets:?}");
        }
        assert!((24_000..26_000).contains(&heads), "{heads}");
        assert!(!rng.chance(0.0) && rng.chance(1.0));
        assert_eq!(rng.below(1), 0);
    }
}
