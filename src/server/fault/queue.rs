//! The bounded queue a faulted connection's bytes wait in between the
//! `recv` that read them and the `send` the faults allow: delayed and
//! throttled bytes, in order, each run of them with the time it may leave.
//!
//! Bounded twice: [`QUEUE_BYTES`] of bytes, and [`MAX_SEGMENTS`] runs (a
//! client writing one byte at a time under `--delay 100:50` makes a run per
//! byte; unbounded, their bookkeeping would outgrow the bytes). Once either
//! is reached the queue has no room, and the connection is not read until
//! it has: the client feels backpressure through TCP, and sockd's memory
//! stays at most this per connection and direction, whatever is sent.
//! Times are kept in [`TICK`]s since the queue's epoch, rounded up (never
//! early), so bytes read within the same tick share one
//! run. The buffer is given back whenever the queue empties.

use core::time::Duration;
use std::collections::VecDeque;
use std::time::Instant;

/// The most bytes a queue holds: 1 MiB, four reads of the worker's
/// scratch buffer; at `--delay 100` a bulk stream still moves at
/// 10 MiB/s (the queue is the link's bandwidth-delay product).
pub const QUEUE_BYTES: usize = 1 << 20;

/// The queue's clock: a tenth of a millisecond. Fine enough to add next
/// to nothing to `epoll_wait`'s own rounding up to the millisecond (a
/// whole-millisecond clock here doubled the lateness: `--delay 1` round
/// trips took 2 ms), coarse enough that a stream of small reads shares
/// runs.
pub const TICK: Duration = Duration::from_nanos(TICK_NANOS);
const TICK_NANOS: u64 = 100_000;

/// The most runs of bytes with distinct departure times a queue holds.
pub const MAX_SEGMENTS: usize = 4096;

/// Bytes in order, each run with the time it may leave.
#[derive(Debug)]
pub struct Queue {
    epoch: Instant,
    bytes: VecDeque<u8>,
    /// (length, departure in ticks since `epoch`), oldest first.
    segments: VecDeque<(usize, u64)>,
}

impl Queue {
    /// An empty queue; times count from `epoch` (no later than any push).
    pub fn new(epoch: Instant) -> Self {
        Self {
            epoch,
            bytes: VecDeque::new(),
            segments: VecDeque::new(),
        }
    }

    /// How many more bytes fit (0 when the runs are at their bound too).
    pub fn room(&self) -> usize {
        if self.segments.len() >= MAX_SEGMENTS {
            return 0;
        }
        QUEUE_BYTES.saturating_sub(self.bytes.len())
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether no byte is held.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Appends `data`, to leave at `ready` (or with the bytes before it,
    /// if they leave later: order is kept). Takes at most [`Self::room`]
    /// bytes; returns how many it took.
    pub fn push(&mut self, data: &[u8], ready: Instant) -> usize {
        let data = &data[..data.len().min(self.room())];
        if data.is_empty() {
            return 0;
        }
        let at = self.ticks(ready);
        match self.segments.back_mut() {
            Some((len, last)) if at <= *last => *len += data.len(),
            _ => self.segments.push_back((data.len(), at)),
        }
        self.bytes.extend(data);
        data.len()
    }

    /// Flips bit `bit` (0 is the lowest bit of the first byte) of the last
    /// `len` bytes pushed.
    pub fn flip_last(&mut self, len: usize, bit: usize) {
        let start = self.bytes.len().saturating_sub(len);
        if let Some(byte) = self.bytes.get_mut(start + bit / 8) {
            *byte ^= 1 << (bit % 8);
        }
    }

    /// The bytes that may leave at `now` (from the front; counted up to
    /// `enough` at least, not beyond the run that reaches it), and when the
    /// next held ones may (`None`: none held, or `enough` reached first).
    pub fn ready(&self, now: Instant, enough: usize) -> (usize, Option<Instant>) {
        let now = self.ticks_floor(now);
        let mut ready = 0;
        for &(len, at) in &self.segments {
            if ready >= enough {
                break;
            }
            if at > now {
                return (ready, Some(self.instant(at)));
            }
            ready += len;
        }
        (ready, None)
    }

    /// Up to `n` bytes from the front, in one slice (fewer where the
    /// ring wraps).
    pub fn front(&self, n: usize) -> &[u8] {
        let (head, _) = self.bytes.as_slices();
        &head[..n.min(head.len())]
    }

    /// Removes `n` bytes from the front (they were sent).
    pub fn consume(&mut self, mut n: usize) {
        n = n.min(self.bytes.len());
        self.bytes.drain(..n);
        while n > 0 {
            let Some(front) = self.segments.front_mut() else {
                break;
            };
            if front.0 > n {
                front.0 -= n;
                break;
            }
            n -= front.0;
            self.segments.pop_front();
        }
        if self.bytes.is_empty() {
            self.clear();
        }
    }

    /// Drops every byte (the connection ends) and gives the buffers back.
    pub fn clear(&mut self) {
        self.bytes = VecDeque::new();
        self.segments = VecDeque::new();
    }

    fn ticks(&self, at: Instant) -> u64 {
        let nanos = at.saturating_duration_since(self.epoch).as_nanos();
        u64::try_from(nanos.div_ceil(u128::from(TICK_NANOS))).unwrap_or(u64::MAX)
    }

    fn ticks_floor(&self, at: Instant) -> u64 {
        let nanos = at.saturating_duration_since(self.epoch).as_nanos();
        u64::try_from(nanos / u128::from(TICK_NANOS)).unwrap_or(u64::MAX)
    }

    fn instant(&self, ticks: u64) -> Instant {
        self.epoch
            .checked_add(Duration::from_nanos(ticks.saturating_mul(TICK_NANOS)))
            .unwrap_or(self.epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_leave_in_order_and_not_before_their_time() {
        let start = Instant::now();
        let ms = |n| start + Duration::from_millis(n);
        let mut queue = Queue::new(start);
        assert_eq!(queue.push(b"abc", ms(100)), 3);
        // Ready earlier than the bytes before it: it waits for them.
        assert_eq!(queue.push(b"de", ms(50)), 2);
        assert_eq!(queue.push(b"f", ms(200)), 1);
        assert_eq!(queue.ready(ms(99), usize::MAX), (0, Some(ms(100))));
        assert_eq!(queue.ready(ms(100), usize::MAX), (5, Some(ms(200))));
        assert_eq!(
            queue.ready(ms(100), 2),
            (5, None),
            "counted as far as asked"
        );
        assert_eq!(queue.front(4), b"abcd");
        queue.consume(4);
        assert_eq!(queue.ready(ms(150), usize::MAX), (1, Some(ms(200))));
        queue.consume(1);
        assert_eq!(queue.ready(ms(250), usize::MAX), (1, None));
        assert_eq!(queue.front(9), b"f");
        queue.consume(1);
        assert!(queue.is_empty());
        assert_eq!(queue.ready(ms(250), usize::MAX), (0, None));
    }

    #[test]
    fn a_time_between_ticks_rounds_up_never_early() {
        let start = Instant::now();
        let mut queue = Queue::new(start);
        queue.push(b"x", start + Duration::from_micros(1550));
        assert_eq!(queue.ready(start + Duration::from_micros(1599), 1).0, 0);
        assert_eq!(
            queue.ready(start + Duration::from_micros(1599), 1).1,
            Some(start + Duration::from_micros(1600))
        );
        assert_eq!(queue.ready(start + Duration::from_micros(1600), 1).0, 1);
    }

    #[test]
    fn the_queue_is_bounded_in_bytes_and_in_runs() {
        let start = Instant::now();
        let mut queue = Queue::new(start);
        let big = vec![0u8; QUEUE_BYTES + 10];
        assert_eq!(queue.push(&big, start), QUEUE_BYTES);
        assert_eq!(queue.room(), 0);
        assert_eq!(queue.push(b"more", start), 0);
        queue.consume(QUEUE_BYTES);
        assert_eq!(queue.room(), QUEUE_BYTES);
        for n in 0..MAX_SEGMENTS as u64 {
            assert_eq!(queue.push(b"1", start + Duration::from_millis(n + 1)), 1);
        }
        assert_eq!(
            queue.room(),
            0,
            "a run per byte: the bookkeeping is bounded too"
        );
        assert_eq!(queue.len(), MAX_SEGMENTS);
    }

    #[test]
    fn a_flipped_bit_lands_in_the_last_push() {
        let start = Instant::now();
        let mut queue = Queue::new(start);
        queue.push(&[0u8; 4], start);
        queue.push(&[0u8; 2], start);
        queue.flip_last(2, 9);
        queue.consume(4);
        assert_eq!(queue.front(2), &[0, 2]);
    }
}
