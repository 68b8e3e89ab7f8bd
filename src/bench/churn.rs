//! `sockbench churn`: the lesson's client pattern under load — connect, send
//! one request, read its echo, close, and again, with `connections` of these
//! in flight at once. A connection whose echo is in is half-closed and read
//! to the server's EOF while its lane starts the next one: a server that
//! adds a byte after the echo is caught, and none of ours ends in a reset.

use super::Options;
use super::deadline::Deadline;
use super::driver::{Conn, Driver, Stop, Verdict};
use super::exchange::{Exchange, Step};
use super::pattern::Pattern;
use super::report::Progress;
use super::source::Sources;
use super::stats::Tally;
use crate::error::Result;
use crate::socket::connect_timeout;
use std::time::{Duration, Instant, SystemTime};

/// The `connections` places a connection is kept in flight in; a lane's
/// number (plus the thread's first connection) is what the pattern and a
/// report of a wrong byte know the connection by.
struct Lanes {
    first: usize,
    /// Requests started in each lane (the pattern varies with it).
    requests: Vec<u64>,
    /// Lanes with no connection: at the start, after a request ended, and
    /// after a connect that failed at once.
    empty: Vec<usize>,
}

impl Lanes {
    /// Starts a connection in every empty lane; a failure that comes at once
    /// is counted and leaves the lane empty until the next pass.
    fn refill(&mut self, driver: &mut Driver, sources: &mut Sources) {
        for lane in std::mem::take(&mut self.empty) {
            let started = Instant::now();
            let request = self.requests.get(lane).copied().unwrap_or(0);
            let opened = sources.connect().and_then(|fd| {
                let conn = Conn {
                    id: self.first + lane,
                    exchange: Exchange::new(request, started),
                };
                driver.open(fd, conn)
            });
            match opened {
                Ok(_) => {
                    if let Some(count) = self.requests.get_mut(lane) {
                        *count += 1;
                    }
                }
                Err(errno) => {
                    driver.tally().error(errno);
                    self.empty.push(lane);
                }
            }
        }
    }
}

/// Checks that the server is there (one plain connection first: a refused
/// connect is the run's error, exit 69), then keeps `options.connections`
/// connect-request-close cycles going until the deadline. Failures after
/// that are counted by errno, and the lane starts a new connection.
///
/// # Errors
/// The first connection's failure, or an `epoll` failure, as
/// [`crate::Error::Os`].
pub fn run(
    options: &Options,
    pattern: &Pattern,
    deadline: Deadline,
    progress: &mut Progress,
) -> Result<(Tally, Duration)> {
    drop(connect_timeout(
        &options.target,
        deadline.connect_timeout(),
    )?);
    let mut driver = Driver::new(options.connections)?;
    driver.tally().connects = 1;
    // Consecutive runs start at different source pairs.
    let first_pair = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs().wrapping_mul(7919))
        .unwrap_or(0);
    // Threads start far apart in the cycle of source pairs.
    let first = options.first_connection;
    let mut sources = Sources::new(
        &options.target,
        first_pair.wrapping_add((first as u64).wrapping_mul(40_009)),
    );
    let mut lanes = Lanes {
        first,
        requests: vec![0; options.connections],
        empty: (0..options.connections).rev().collect(),
    };
    let start = Instant::now();
    let until = deadline.load_from(start);
    while Instant::now() < until {
        lanes.refill(&mut driver, &mut sources);
        let ended = &mut lanes.empty;
        driver.run(
            until,
            Stop::OnePass,
            progress,
            &mut |conn, io| match conn.step(io, pattern) {
                Step::Blocked => Verdict::Busy,
                Step::Done => {
                    ended.push(conn.id - first);
                    Verdict::Retire
                }
                Step::Failed => {
                    ended.push(conn.id - first);
                    Verdict::Close
                }
            },
        )?;
    }
    let elapsed = start.elapsed();
    Ok((driver.finish(deadline.drain_until()), elapsed))
}
