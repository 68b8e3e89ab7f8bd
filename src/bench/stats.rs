//! What a run counts: verified echoes, bytes, errors by errno name, wrong
//! echoes, and a latency histogram with fixed memory and no allocation per
//! sample.

use crate::errno::errno_name;
use rustix::io::Errno;
use std::collections::BTreeMap;
use std::time::Duration;

/// Mantissa bits of the log-linear histogram: 64 buckets per power of two,
/// so a percentile is within 1/64 (1.6 %) of the true value.
const MANTISSA_BITS: u32 = 6;
const SUB_BUCKETS: usize = 1 << MANTISSA_BITS;
/// Values below this are their own bucket (exact).
const LINEAR: u64 = 2 << MANTISSA_BITS;
/// Enough buckets for every `u64` nanosecond count.
const BUCKETS: usize = (64 - MANTISSA_BITS as usize + 1) * SUB_BUCKETS;

/// A latency histogram in nanoseconds: log-linear buckets (HDR-style), exact
/// maximum, constant memory.
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
    sum: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
            sum: 0,
        }
    }

    /// Records one sample.
    pub fn record(&mut self, sample: Duration) {
        let nanos = u64::try_from(sample.as_nanos()).unwrap_or(u64::MAX);
        if let Some(count) = self.counts.get_mut(bucket_of(nanos)) {
            *count += 1;
        }
        self.total += 1;
        self.max = self.max.max(nanos);
        self.sum += u128::from(nanos);
    }

    /// Adds another histogram's samples to this one.
    pub fn merge(&mut self, other: &Self) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
        self.sum += other.sum;
    }

    /// How many samples were recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The largest sample, exactly.
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.max)
    }

    /// The mean sample.
    pub fn mean(&self) -> Duration {
        match u128::from(self.total) {
            0 => Duration::ZERO,
            total => Duration::from_nanos(u64::try_from(self.sum / total).unwrap_or(u64::MAX)),
        }
    }

    /// The sample at quantile `q` (0.5 for the median, 0.99 for p99): the
    /// middle of its bucket, never above the exact maximum. Zero when empty.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        // The rank of the wanted sample, 1-based: ceil(q * total), at least 1.
        let wanted = (q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64;
        let wanted = wanted.clamp(1, self.total);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= wanted {
                let (low, high) = bucket_bounds(index);
                return Duration::from_nanos((low + (high - low) / 2).min(self.max));
            }
        }
        self.max()
    }
}

/// The bucket a nanosecond count falls in.
fn bucket_of(nanos: u64) -> usize {
    if nanos < LINEAR {
        return nanos as usize;
    }
    let exponent = 63 - nanos.leading_zeros();
    let shift = exponent - MANTISSA_BITS;
    // (nanos >> shift) is in [SUB_BUCKETS, 2 * SUB_BUCKETS).
    shift as usize * SUB_BUCKETS + (nanos >> shift) as usize
}

/// The smallest and largest nanosecond counts of a bucket.
fn bucket_bounds(index: usize) -> (u64, u64) {
    if (index as u64) < LINEAR {
        return (index as u64, index as u64);
    }
    let shift = (index / SUB_BUCKETS - 1) as u32;
    let mantissa = (index % SUB_BUCKETS + SUB_BUCKETS) as u64;
    let low = mantissa << shift;
    let high = low.saturating_add((1u64 << shift) - 1);
    (low, high)
}

/// Where the first wrong echoed byte was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Corruption {
    /// Which connection (pingpong) or slot (churn); 0 for bulk.
    pub connection: usize,
    /// Which request on it (counted from 0); for bulk, 0.
    pub request: u64,
    /// Byte offset in the request (bulk: in the stream).
    pub offset: u64,
    /// The byte that was sent; `None` for a byte after the whole echo, when
    /// nothing more was sent.
    pub expected: Option<u8>,
    /// The byte that came back.
    pub got: u8,
}

/// Everything one run (or one worker) counted.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Requests whose whole echo came back (right or wrong).
    pub requests: u64,
    /// Echoed bytes received and compared.
    pub bytes: u64,
    /// Connections opened (including the initial ones).
    pub connects: u64,
    /// Failures by errno name (`ECONNRESET`), or `EOF` for a server that
    /// closed before the whole echo came back.
    pub errors: BTreeMap<String, u64>,
    /// Requests (bulk: reads) whose echo differed from what was sent.
    pub corrupt: u64,
    /// Datagram requests given up for want of an echo (`--lost-after`).
    pub lost: u64,
    /// Datagram echoes of a request already lost or answered, come late
    /// (or twice): neither wrong nor a completed request.
    pub late: u64,
    /// The first wrong byte seen.
    pub first_corruption: Option<Corruption>,
    /// Time from a request's first byte sent (churn: from `connect`) to its
    /// last echoed byte received.
    pub latency: Histogram,
}

/// The error key for a server that closed before the echo was complete.
pub const EARLY_EOF: &str = "EOF";

impl Tally {
    /// Counts one failure under its errno name.
    pub fn error(&mut self, errno: Errno) {
        let raw = errno.raw_os_error();
        let name = match errno_name(raw) {
            Some(name) => name.to_string(),
            None => format!("errno {raw}"),
        };
        *self.errors.entry(name).or_insert(0) += 1;
    }

    /// Counts one failure that has no errno (`EOF`).
    pub fn error_named(&mut self, name: &str) {
        *self.errors.entry(name.to_string()).or_insert(0) += 1;
    }

    /// Counts a wrong echo, keeping the first one's details.
    pub fn corrupted(&mut self, at: Corruption) {
        self.corrupt += 1;
        self.first_corruption.get_or_insert(at);
    }

    /// All failures counted.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Adds another tally (another worker's) to this one.
    pub fn merge(&mut self, other: &Self) {
        self.requests += other.requests;
        self.bytes += other.bytes;
        self.connects += other.connects;
        for (name, count) in &other.errors {
            *self.errors.entry(name.clone()).or_insert(0) += count;
        }
        self.corrupt += other.corrupt;
        self.lost += other.lost;
        self.late += other.late;
        if self.first_corruption.is_none() {
            self.first_corruption = other.first_corruption;
        }
        self.latency.merge(&other.latency);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_cover_their_values() {
        let mut previous_high = None;
        for index in 0..BUCKETS {
            let (low, high) = bucket_bounds(index);
            assert!(low <= high, "bucket {index}");
            if let Some(prev) = previous_high {
                assert_eq!(low, prev + 1, "gap before bucket {index}");
            }
            assert_eq!(bucket_of(low), index);
            assert_eq!(bucket_of(high), index);
            previous_high = Some(high);
        }
        assert_eq!(previous_high, Some(u64::MAX));
    }

    #[test]
    fn quantiles_are_within_the_bucket_error() {
        let mut histogram = Histogram::new();
        for micros in 1..=1000u64 {
            histogram.record(Duration::from_micros(micros));
        }
        let close = |got: Duration, want_us: f64| {
            let got = got.as_secs_f64() * 1e6;
            assert!(
                (got - want_us).abs() <= want_us / 50.0,
                "{got} vs {want_us}"
            );
        };
        close(histogram.quantile(0.5), 500.0);
        close(histogram.quantile(0.99), 990.0);
        assert_eq!(histogram.max(), Duration::from_micros(1000));
        assert_eq!(histogram.count(), 1000);
        close(histogram.mean(), 500.5);
    }

    #[test]
    fn empty_and_extreme_samples_do_not_panic() {
        let mut histogram = Histogram::new();
        assert_eq!(histogram.quantile(0.99), Duration::ZERO);
        histogram.record(Duration::ZERO);
        histogram.record(Duration::MAX);
        assert_eq!(histogram.quantile(0.0), Duration::ZERO);
        assert!(histogram.quantile(1.0) > Duration::from_secs(1 << 32));
        assert_eq!(histogram.max(), Duration::from_nanos(u64::MAX));
    }

    #[test]
    fn errors_are_counted_by_name() {
        let mut tally = Tally::default();
        tally.error(Errno::CONNRESET);
        tally.error(Errno::CONNRESET);
        tally.error_named(EARLY_EOF);
        let mut other = Tally::default();
        other.error(Errno::CONNREFUSED);
        tally.merge(&other);
        assert_eq!(tally.errors.get("ECONNRESET"), Some(&2));
        assert_eq!(tally.errors.get("ECONNREFUSED"), Some(&1));
        assert_eq!(tally.error_count(), 4);
    }
}
