//! `--duplicate P`: a share P of datagrams is echoed twice, back to back
//! (what a retransmitting link or a routing loop does; a client must not
//! count a reply twice).

use super::rng::Rng;
use super::{Arrival, Fault, Scope};

/// A second copy of a share of the datagrams.
#[derive(Debug, Clone, PartialEq)]
pub struct Duplicate {
    share: f64,
}

impl Duplicate {
    /// Sends a share `share` (0 to 1) of datagrams twice.
    pub fn new(share: f64) -> Self {
        Self { share }
    }
}

impl Fault for Duplicate {
    fn flag(&self) -> String {
        format!("--duplicate {}", self.share)
    }

    fn fresh(&self) -> Box<dyn Fault> {
        Box::new(self.clone())
    }

    fn scope(&self) -> Scope {
        Scope::Datagrams
    }

    fn arrive(&mut self, chunk: &mut Arrival, rng: &mut Rng) {
        // A dropped datagram stays dropped.
        if chunk.copies > 0 && rng.chance(self.share) {
            chunk.copies = 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_share_is_doubled_and_a_dropped_one_never() {
        let mut duplicate = Duplicate::new(0.3);
        let mut rng = Rng::new(4);
        let arrival = |copies| Arrival {
            len: 4,
            ready: Instant::now(),
            flip: None,
            copies,
        };
        let mut doubled = 0;
        for _ in 0..10_000 {
            let mut chunk = arrival(1);
            duplicate.arrive(&mut chunk, &mut rng);
            doubled += usize::from(chunk.copies == 2);
        }
        assert!((2_700..3_300).contains(&doubled), "{doubled}");
        let mut dropped = arrival(0);
        Duplicate::new(1.0).arrive(&mut dropped, &mut rng);
        assert_eq!(dropped.copies, 0);
    }
}
