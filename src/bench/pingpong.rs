//! `sockbench pingpong`: persistent connections, one request in flight on
//! each; the next request goes out as soon as the whole echo is back.

use super::Options;
use super::deadline::Deadline;
use super::driver::{Conn, Driver, Io, Stop, Verdict};
use super::exchange::{Exchange, Step};
use super::pattern::Pattern;
use super::report::Progress;
use super::stats::Tally;
use crate::error::{Error, Result};
use crate::socket::connect_timeout;
use rustix::net::sockopt;
use std::time::{Duration, Instant};

/// Opens `options.connections` connections (any failure to open one is the
/// run's error: `ECONNREFUSED` exits 69, and `ETIMEDOUT` once the deadline
/// has passed), then runs requests on all of them until the deadline. A
/// connection that fails later is counted and dropped; the run goes on with
/// the others.
///
/// # Errors
/// The first failed `connect` (or `epoll` failure), as [`Error::Os`].
pub fn run(
    options: &Options,
    pattern: &Pattern,
    deadline: Deadline,
    progress: &mut Progress,
) -> Result<(Tally, Duration)> {
    let mut driver = Driver::new(options.connections)?;
    for index in 0..options.connections {
        let fd = connect_timeout(&options.target, deadline.connect_timeout())?;
        // Requests are written whole; never hold a tail back for an ACK.
        let _ = sockopt::set_tcp_nodelay(&fd, true);
        let conn = Conn {
            id: options.first_connection + index,
            exchange: Exchange::new(0, Instant::now()),
        };
        driver
            .open(fd, conn)
            .map_err(|errno| Error::at("epoll_ctl", &options.target, errno))?;
    }
    let start = Instant::now();
    let until = deadline.load_from(start);
    driver.each(|conn, io| {
        conn.exchange = Exchange::new(0, Instant::now());
        advance(conn, io, pattern)
    });
    driver.run(until, Stop::Idle, progress, &mut |conn, io| {
        advance(conn, io, pattern)
    })?;
    let elapsed = start.elapsed();
    Ok((driver.finish(deadline.drain_until()), elapsed))
}

/// Drives a connection until it waits on the socket (busy) or failed.
fn advance(conn: &mut Conn, io: &mut Io<'_>, pattern: &Pattern) -> Verdict {
    // Each pass either blocks, fails, or completes a request and sends the
    // next (which then blocks): two passes per event at most in practice,
    // and never unbounded.
    for _ in 0..4 {
        match conn.step(io, pattern) {
            Step::Blocked => return Verdict::Busy,
            Step::Failed => return Verdict::Close,
            Step::Done => conn.exchange = Exchange::new(conn.exchange.request + 1, Instant::now()),
        }
    }
    Verdict::Busy
}
