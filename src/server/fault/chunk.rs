//! `--chunk N[:MS]`: replies leave in pieces of at most N bytes, each its
//! own `send`, MS ms apart (toxiproxy's `slicer`, with a fixed size), so a
//! client's reassembly of a message read in parts is exercised. The worker
//! turns Nagle's algorithm off for faulted connections, so each piece is a
//! segment of its own on the wire.

use super::{Admit, Fault, millis};
use core::time::Duration;
use std::time::Instant;

/// Pieces of at most `size` bytes, `gap` apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    size: usize,
    gap: Duration,
    next: Option<Instant>,
}

impl Chunk {
    /// Pieces of at most `size` (≥ 1) bytes, `gap` apart.
    pub fn new(size: usize, gap: Duration) -> Self {
        Self {
            size: size.max(1),
            gap,
            next: None,
        }
    }
}

impl Fault for Chunk {
    fn flag(&self) -> String {
        match self.gap.is_zero() {
            true => format!("--chunk {}", self.size),
            false => format!("--chunk {}:{}", self.size, millis(self.gap)),
        }
    }

    fn fresh(&self) -> Box<dyn Fault> {
        Box::new(Self::new(self.size, self.gap))
    }

    fn admit(&mut self, now: Instant, ready: usize) -> Admit {
        match self.next {
            Some(next) if ready > 0 && next > now => Admit::Until(next),
            _ => Admit::Go(ready.min(self.size)),
        }
    }

    fn sent(&mut self, now: Instant, _n: usize) {
        if !self.gap.is_zero() {
            self.next = Some(now + self.gap);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::fault::{Plan, Step, rng::Stream};

    #[test]
    fn a_reply_leaves_in_pieces_a_gap_apart() {
        let start = Instant::now();
        let plan = Plan::new(
            vec![Box::new(Chunk::new(10, Duration::from_millis(20)))],
            1.0,
            1,
        );
        let mut path = plan.path(0, Stream::Down, start);
        path.push(&[7u8; 100], start);
        let mut now = start;
        let mut sends = Vec::new();
        while !path.is_empty() {
            match path.next(now, 4096) {
                Step::Send(n) => {
                    sends.push((n, now.duration_since(start).as_millis()));
                    path.sent(now, n);
                }
                Step::Until(at) => now = at,
                other => panic!("{other:?}"),
            }
        }
        let expected: Vec<(usize, u128)> = (0..10).map(|i| (10, i * 20)).collect();
        assert_eq!(sends, expected);
    }

    #[test]
    fn without_a_gap_pieces_go_back_to_back() {
        let now = Instant::now();
        let mut chunk = Chunk::new(3, Duration::ZERO);
        assert_eq!(chunk.flag(), "--chunk 3");
        assert_eq!(chunk.admit(now, 8), Admit::Go(3));
        chunk.sent(now, 3);
        assert_eq!(chunk.admit(now, 5), Admit::Go(3));
    }
}
