//! `sockbench hold`: many connections that mostly sit idle — what a server
//! pays per connection it merely keeps. Each connection echoes one request
//! as soon as it is opened (so connections are opened at the pace the server
//! serves them, never overflowing its accept queue), then stays silent until
//! the deadline, then echoes one more (so every one of them is shown to
//! still work), and closes.

use super::drain::DRAIN_LIMIT;
use super::driver::{Conn, Driver, Io, Stop, Verdict};
use super::exchange::{Exchange, Step};
use super::pattern::Pattern;
use super::report::Progress;
use super::stats::{Corruption, EARLY_EOF, Tally};
use super::{CONNECT_TIMEOUT, Options};
use crate::error::{Error, Result};
use crate::io::recv_some;
use crate::socket::connect_timeout;
use rustix::io::Errno;
use std::time::{Duration, Instant};

/// How long each echo round (all connections) may take.
const ROUND_LIMIT: Duration = Duration::from_secs(30);

/// Opens `options.connections` connections (a failure to open one is the
/// run's error), echoes one request on each, idles until the deadline, then
/// echoes one more on each.
///
/// # Errors
/// The first failed `connect`, or an `epoll` failure, as [`Error::Os`].
pub fn run(
    options: &Options,
    pattern: &Pattern,
    progress: &mut Progress,
) -> Result<(Tally, Duration)> {
    let mut driver = Driver::new()?;
    let mut handler = |conn: &mut Conn, io: &mut Io<'_>| on_event(conn, io, pattern);
    let start = Instant::now();
    for index in 0..options.connections {
        let fd = connect_timeout(options.target, CONNECT_TIMEOUT)?;
        let conn = Conn {
            id: options.first_connection + index,
            exchange: Exchange::new(0, start),
        };
        let token = driver
            .open(fd, conn)
            .map_err(|errno| Error::at("epoll_ctl", options.target, errno))?;
        driver.start(token, |conn, io| begin(0, conn, io, pattern));
        driver.run(
            Instant::now() + ROUND_LIMIT,
            Stop::Idle,
            progress,
            &mut handler,
        )?;
    }
    log::info!(
        "{} connections open and echoing after {:?}",
        options.connections,
        start.elapsed()
    );
    // Idle: nothing is sent; anything that happens is the server's doing.
    let until = start + options.duration;
    driver.run(until, Stop::Deadline, progress, &mut handler)?;
    driver.each(|conn, io| begin(1, conn, io, pattern));
    driver.run(
        Instant::now() + ROUND_LIMIT,
        Stop::Idle,
        progress,
        &mut handler,
    )?;
    let elapsed = start.elapsed();
    log::info!("second echo round done after {elapsed:?}");
    Ok((driver.finish(DRAIN_LIMIT), elapsed))
}

/// Starts the round's request `request` on a connection.
fn begin(request: u64, conn: &mut Conn, io: &mut Io<'_>, pattern: &Pattern) -> Verdict {
    conn.exchange = Exchange::new(request, Instant::now());
    on_event(conn, io, pattern)
}

/// Drives the round's request; once its echo is in, the connection idles.
fn on_event(conn: &mut Conn, io: &mut Io<'_>, pattern: &Pattern) -> Verdict {
    if conn.exchange.is_complete() {
        return idle(conn, io);
    }
    match conn.step(io, pattern) {
        Step::Blocked => Verdict::Busy,
        Step::Done => Verdict::Idle,
        Step::Failed => Verdict::Close,
    }
}

/// An event on a connection that sent nothing: EOF or an error ends it,
/// bytes nobody asked for are a wrong echo.
fn idle(conn: &Conn, io: &mut Io<'_>) -> Verdict {
    match recv_some(io.fd, io.scratch) {
        Err(Errno::AGAIN) => Verdict::Idle,
        Ok(0) => {
            io.tally.error_named(EARLY_EOF);
            Verdict::Close
        }
        Ok(n) => {
            io.tally.corrupted(Corruption {
                connection: conn.id,
                request: conn.exchange.request,
                offset: 0,
                expected: 0,
                got: io.scratch.first().copied().unwrap_or(0),
            });
            io.tally.bytes += n as u64;
            Verdict::Idle
        }
        Err(errno) => {
            io.tally.error(errno);
            Verdict::Close
        }
    }
}
