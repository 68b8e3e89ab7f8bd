//! sockd as the misbehaving peer (`--delay`, `--rate`, `--chunk`,
//! `--close-after`, `--reset-after`, `--accept-delay`, `--on-accept`,
//! `--slow-close`, `--corrupt`, `--fault-share`/`--seed`): what a client
//! sees, timed with a monotonic clock and generous bounds; sockd's memory
//! under a client that never reads; the plain path's syscalls unchanged.
//! (`tests/it/faults/` is the other way round: faults sockd must survive.)

mod bits;
mod endings;
mod memory;
mod plain;
mod share;
mod stop;
mod timing;
mod unix;
mod usage;

use crate::util::{Process, sockd};
use std::time::{Duration, Instant};

/// A quiet one-worker sockd with `flags`, listening on a port of its own.
fn faulty(flags: &[&str]) -> Process {
    sockd()
        .args(["-q", "--threads", "1"])
        .args(flags)
        .args(["127.0.0.1", "0"])
        .serve()
}

/// Seconds since `start`, on the monotonic clock.
fn secs_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

/// Asserts `value` (seconds) is within `low..=high`, naming `what`.
#[track_caller]
fn within_secs(what: &str, value: f64, low: f64, high: f64) {
    assert!(
        (low..=high).contains(&value),
        "{what}: {value:.3} s, expected {low}–{high} s"
    );
}

/// How long `work` takes, in seconds.
fn timed<T>(work: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let value = work();
    (value, secs_since(start))
}

/// A generous allowance for a loaded machine.
const SLACK: Duration = Duration::from_millis(300);
