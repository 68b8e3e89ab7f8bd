//! `sockbench hold`: many connections that mostly sit idle — what a server
//! pays per connection it merely keeps. Each connection echoes one request
//! as soon as it is opened (so connections are opened at the pace the server
//! serves them, never overflowing its accept queue), then stays silent until
//! the deadline, then echoes one more (so every one of them is shown to
//! still work), and closes.

use super::drain::{DRAIN_LIMIT, drain};
use super::exchange::{Exchange, Step};
use super::pattern::Pattern;
use super::poller::Poller;
use super::report::Progress;
use super::stats::{Corruption, EARLY_EOF, Tally};
use super::{CONNECT_TIMEOUT, Options, SCRATCH, TICK};
use crate::error::{Error, Result};
use crate::io::recv_some;
use crate::socket::connect_timeout;
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use std::ops::Range;
use std::time::{Duration, Instant};

/// How long each echo round (all connections) may take.
const ROUND_LIMIT: Duration = Duration::from_secs(30);

struct Conn {
    fd: OwnedFd,
    exchange: Exchange,
    /// The round's request is done (or the connection idles).
    done: bool,
}

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
    let mut poller = Poller::new()?;
    let mut tally = Tally::default();
    let mut scratch = vec![0u8; SCRATCH];
    let mut conns: Vec<Option<Conn>> = Vec::with_capacity(options.connections);
    let start = Instant::now();
    for index in 0..options.connections {
        let fd = connect_timeout(options.target, CONNECT_TIMEOUT)?;
        poller
            .add(&fd, index as u64)
            .map_err(|errno| Error::at("epoll_ctl", options.target, errno))?;
        tally.connects += 1;
        conns.push(Some(Conn {
            fd,
            exchange: Exchange::new(0, start),
            done: true,
        }));
        echo_round(
            0,
            index..index + 1,
            &mut conns,
            &mut poller,
            pattern,
            &mut scratch,
            &mut tally,
            progress,
        )?;
    }
    log::info!(
        "{} connections open and echoing after {:?}",
        conns.len(),
        start.elapsed()
    );
    // Idle: nothing is sent; anything that happens is the server's doing.
    let until = start + options.duration;
    while Instant::now() < until {
        let ready = poller.wait(until, TICK)?;
        for event in 0..ready {
            let Some((token, _)) = poller.event(event) else {
                continue;
            };
            let Some(slot) = conns.get_mut(token as usize) else {
                continue;
            };
            if let Some(conn) = slot
                && !idle_ok(conn, token as usize, &mut scratch, &mut tally)
            {
                *slot = None;
            }
        }
        progress.tick(&tally);
    }
    let all = 0..conns.len();
    echo_round(
        1,
        all,
        &mut conns,
        &mut poller,
        pattern,
        &mut scratch,
        &mut tally,
        progress,
    )?;
    let elapsed = start.elapsed();
    log::info!("second echo round done after {elapsed:?}");
    let open = conns
        .into_iter()
        .enumerate()
        .filter_map(|(index, slot)| slot.map(|conn| (index as u64, conn.fd)))
        .collect();
    drain(&mut poller, open, DRAIN_LIMIT);
    Ok((tally, elapsed))
}

/// Request number `request` on the open connections in `range`, until all
/// are back (or failed) or [`ROUND_LIMIT`] has passed.
#[allow(clippy::too_many_arguments)]
fn echo_round(
    request: u64,
    range: Range<usize>,
    conns: &mut [Option<Conn>],
    poller: &mut Poller,
    pattern: &Pattern,
    scratch: &mut [u8],
    tally: &mut Tally,
    progress: &mut Progress,
) -> Result<()> {
    let mut pending = 0usize;
    let first = range.start;
    for (offset, slot) in conns
        .get_mut(range)
        .unwrap_or_default()
        .iter_mut()
        .enumerate()
    {
        let index = first + offset;
        if let Some(conn) = slot {
            conn.exchange = Exchange::new(request, Instant::now());
            conn.done = false;
            pending += 1;
            if !step(conn, index, pattern, scratch, tally) {
                *slot = None;
                pending -= 1;
            } else if conn.done {
                pending -= 1;
            }
        }
    }
    let until = Instant::now() + ROUND_LIMIT;
    while pending > 0 && Instant::now() < until {
        let ready = poller.wait(until, TICK)?;
        for event in 0..ready {
            let Some((token, _)) = poller.event(event) else {
                continue;
            };
            let index = token as usize;
            let Some(slot) = conns.get_mut(index) else {
                continue;
            };
            let Some(conn) = slot else {
                continue;
            };
            if conn.done {
                if !idle_ok(conn, index, scratch, tally) {
                    *slot = None;
                }
                continue;
            }
            if !step(conn, index, pattern, scratch, tally) {
                *slot = None;
                pending -= 1;
            } else if conn.done {
                pending -= 1;
            }
        }
        progress.tick(tally);
    }
    Ok(())
}

/// Drives the round's request; `false` once the connection failed.
fn step(
    conn: &mut Conn,
    index: usize,
    pattern: &Pattern,
    scratch: &mut [u8],
    tally: &mut Tally,
) -> bool {
    let want = pattern.request(index, conn.exchange.request);
    match conn.exchange.drive(&conn.fd, want, scratch, index, tally) {
        Step::Blocked => true,
        Step::Done => {
            conn.done = true;
            true
        }
        Step::Failed => false,
    }
}

/// An event on a connection that sent nothing: EOF or an error ends it,
/// bytes nobody asked for are a wrong echo. `false` once it is gone.
fn idle_ok(conn: &Conn, index: usize, scratch: &mut [u8], tally: &mut Tally) -> bool {
    match recv_some(&conn.fd, scratch) {
        Err(Errno::AGAIN) => true,
        Ok(0) => {
            tally.error_named(EARLY_EOF);
            false
        }
        Ok(n) => {
            tally.corrupted(Corruption {
                connection: index,
                request: conn.exchange.request,
                offset: 0,
                expected: 0,
                got: scratch.first().copied().unwrap_or(0),
            });
            tally.bytes += n as u64;
            true
        }
        Err(errno) => {
            tally.error(errno);
            false
        }
    }
}
