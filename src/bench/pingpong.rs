//! `sockbench pingpong`: persistent connections, one request in flight on
//! each; the next request goes out as soon as the whole echo is back.

use super::drain::{DRAIN_LIMIT, drain};
use super::exchange::{Exchange, Step};
use super::pattern::Pattern;
use super::poller::Poller;
use super::report::Progress;
use super::stats::Tally;
use super::{CONNECT_TIMEOUT, Options, SCRATCH, TICK};
use crate::error::{Error, Result};
use crate::socket::connect_timeout;
use rustix::fd::OwnedFd;
use rustix::net::sockopt;
use std::time::{Duration, Instant};

struct Conn {
    fd: OwnedFd,
    exchange: Exchange,
}

/// Opens `options.connections` connections (any failure to open one is the
/// run's error: `ECONNREFUSED` exits 69), then runs requests on all of them
/// until the deadline. A connection that fails later is counted and
/// dropped; the run goes on with the others.
///
/// # Errors
/// The first failed `connect` (or `epoll` failure), as [`Error::Os`].
pub fn run(
    options: &Options,
    pattern: &Pattern,
    progress: &mut Progress,
) -> Result<(Tally, Duration)> {
    let mut poller = Poller::new()?;
    let mut tally = Tally::default();
    let mut conns: Vec<Option<Conn>> = Vec::with_capacity(options.connections);
    for index in 0..options.connections {
        let fd = connect_timeout(options.target, CONNECT_TIMEOUT)?;
        // Requests are written whole; never hold a tail back for an ACK.
        let _ = sockopt::set_tcp_nodelay(&fd, true);
        poller
            .add(&fd, index as u64)
            .map_err(|errno| Error::at("epoll_ctl", options.target, errno))?;
        tally.connects += 1;
        conns.push(Some(Conn {
            fd,
            exchange: Exchange::new(0, Instant::now()),
        }));
    }
    let mut scratch = vec![0u8; SCRATCH];
    let first = options.first_connection;
    let start = Instant::now();
    let until = start + options.duration;
    let mut live = conns.len();
    for (index, slot) in conns.iter_mut().enumerate() {
        if let Some(conn) = slot {
            conn.exchange = Exchange::new(0, Instant::now());
            if !advance(conn, first + index, pattern, &mut scratch, &mut tally) {
                *slot = None;
                live -= 1;
            }
        }
    }
    while live > 0 && Instant::now() < until {
        let ready = poller.wait(until, TICK)?;
        for event in 0..ready {
            let Some((token, _flags)) = poller.event(event) else {
                continue;
            };
            let index = token as usize;
            let Some(slot) = conns.get_mut(index) else {
                continue;
            };
            let Some(conn) = slot else {
                continue;
            };
            if !advance(conn, first + index, pattern, &mut scratch, &mut tally) {
                *slot = None;
                live -= 1;
            }
        }
        progress.tick(&tally);
    }
    let elapsed = start.elapsed();
    let open = conns
        .into_iter()
        .enumerate()
        .filter_map(|(index, slot)| slot.map(|conn| (index as u64, conn.fd)))
        .collect();
    drain(&mut poller, open, DRAIN_LIMIT);
    Ok((tally, elapsed))
}

/// Drives connection number `id` until it waits on the socket; `false`
/// once it failed.
fn advance(
    conn: &mut Conn,
    id: usize,
    pattern: &Pattern,
    scratch: &mut [u8],
    tally: &mut Tally,
) -> bool {
    // Each pass either blocks, fails, or completes a request and sends the
    // next (which then blocks): two passes per event at most in practice,
    // and never unbounded.
    for _ in 0..4 {
        let want = pattern.request(id, conn.exchange.request);
        match conn.exchange.drive(&conn.fd, want, scratch, id, tally) {
            Step::Blocked => return true,
            Step::Failed => return false,
            Step::Done => conn.exchange = Exchange::new(conn.exchange.request + 1, Instant::now()),
        }
    }
    true
}
