//! `sockbench hold`: many connections that mostly sit idle — what a server
//! pays per connection it merely keeps. Each connection echoes one request
//! as soon as it is opened (so connections are opened at the pace the server
//! serves them, never overflowing its accept queue), then stays silent until
//! the deadline, then echoes one more (so every one of them is shown to
//! still work), and closes: half-closed and read to the server's EOF, so
//! a byte it adds after the last echo is caught too.

use super::Options;
use super::deadline::Deadline;
use super::driver::{Conn, Driver, Io, Stop, Verdict};
use super::exchange::{Exchange, Step};
use super::pattern::Pattern;
use super::report::Progress;
use super::stats::{Corruption, EARLY_EOF, Tally};
use crate::error::{Error, Result};
use crate::io::recv_some;
use crate::socket::connect_timeout;
use rustix::io::Errno;
use std::time::{Duration, Instant};

/// Opens `options.connections` connections one after the other, each
/// echoing one request before the next is opened (a failure to open one is
/// the run's error), idles until the deadline, then echoes one more request
/// on each. Set-up stops at the deadline; an echo that has not come back by
/// the end of its round is counted as `ETIMEDOUT` and its connection closed.
///
/// # Errors
/// The first failed `connect`, or an `epoll` failure, as [`Error::Os`].
pub fn run(
    options: &Options,
    pattern: &Pattern,
    deadline: Deadline,
    progress: &mut Progress,
) -> Result<(Tally, Duration)> {
    let mut driver = Driver::new(options.connections)?;
    let mut handler = |conn: &mut Conn, io: &mut Io<'_>| on_event(conn, io, pattern);
    let start = Instant::now();
    let load = deadline.load_from(start);
    let mut opened = 0;
    while opened < options.connections && Instant::now() < load {
        let fd = connect_timeout(&options.target, deadline.connect_timeout())?;
        let conn = Conn {
            id: options.first_connection + opened,
            exchange: Exchange::new(0, start),
        };
        let token = driver
            .open(fd, conn)
            .map_err(|errno| Error::at("epoll_ctl", &options.target, errno))?;
        opened += 1;
        driver.start(token, |conn, io| begin(0, conn, io, pattern));
        driver.run(load, Stop::Idle, progress, &mut handler)?;
    }
    driver.time_out_busy();
    if opened < options.connections {
        log::info!(
            "-d ran out after {opened} of {} connections",
            options.connections
        );
    }
    log::info!(
        "{opened} connections open and echoing after {:?}",
        start.elapsed()
    );
    // Idle: nothing is sent; anything that happens is the server's doing.
    driver.run(load, Stop::Deadline, progress, &mut handler)?;
    driver.each(|conn, io| begin(1, conn, io, pattern));
    driver.run(
        deadline.last_round(load),
        Stop::Idle,
        progress,
        &mut handler,
    )?;
    driver.time_out_busy();
    let elapsed = start.elapsed();
    log::info!("second echo round done after {elapsed:?}");
    Ok((driver.finish(deadline.drain_until()), elapsed))
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
            let place = conn.place();
            io.tally.corrupted(Corruption {
                connection: place.connection,
                request: place.request,
                offset: place.offset,
                expected: None,
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
