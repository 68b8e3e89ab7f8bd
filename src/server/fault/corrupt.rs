//! `--corrupt P`: a share P of the chunks arrive with exactly one bit
//! flipped, chosen uniformly among their bits (what a checksum or a framing
//! layer must catch). A chunk is what one `recv` read (one datagram on UDP).

use super::rng::Rng;
use super::{Arrival, Fault, Scope};

/// One flipped bit in a share of the chunks.
#[derive(Debug, Clone, PartialEq)]
pub struct Corrupt {
    share: f64,
}

impl Corrupt {
    /// Flips a bit in a share `share` (0 to 1) of chunks.
    pub fn new(share: f64) -> Self {
        Self { share }
    }
}

impl Fault for Corrupt {
    fn flag(&self) -> String {
        format!("--corrupt {}", self.share)
    }

    fn fresh(&self) -> Box<dyn Fault> {
        Box::new(self.clone())
    }

    fn scope(&self) -> Scope {
        Scope::Both
    }

    fn arrive(&mut self, chunk: &mut Arrival, rng: &mut Rng) {
        if chunk.len > 0 && rng.chance(self.share) {
            chunk.flip = Some(rng.below(chunk.len as u64 * 8) as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::fault::{Plan, Step, rng::Stream};
    use std::time::Instant;

    fn bits_flipped(a: &[u8], b: &[u8]) -> u32 {
        a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
    }

    #[test]
    fn every_chosen_chunk_has_exactly_one_bit_flipped() {
        let now = Instant::now();
        let plan = Plan::new(vec![Box::new(Corrupt::new(1.0))], 1.0, 11);
        let mut path = plan.path(0, Stream::Down, now);
        let mut positions = std::collections::HashSet::new();
        for round in 0..200u8 {
            let sent = [round; 16];
            path.push(&sent, now);
            assert_eq!(path.next(now, 64), Step::Send(16));
            let got = path.front(16).to_vec();
            assert_eq!(bits_flipped(&sent, &got), 1, "round {round}");
            positions.insert(got.iter().zip(&sent).position(|(a, b)| a != b));
            path.sent(now, 16);
        }
        assert!(positions.len() > 8, "the bit is anywhere: {positions:?}");
    }

    #[test]
    fn a_share_of_chunks_is_touched_and_empty_ones_never() {
        let now = Instant::now();
        let mut corrupt = Corrupt::new(0.3);
        let mut rng = Rng::new(2);
        let mut touched = 0;
        for _ in 0..10_000 {
            let mut chunk = Arrival {
                len: 10,
                ready: now,
                flip: None,
                copies: 1,
            };
            corrupt.arrive(&mut chunk, &mut rng);
            touched += usize::from(chunk.flip.is_some_and(|bit| bit < 80));
        }
        assert!((2_700..3_300).contains(&touched), "{touched}");
        let mut empty = Arrival {
            len: 0,
            ready: now,
            flip: None,
            copies: 1,
        };
        Corrupt::new(1.0).arrive(&mut empty, &mut rng);
        assert_eq!(empty.flip, None);
    }
}
