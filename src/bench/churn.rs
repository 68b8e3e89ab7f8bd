//! `sockbench churn`: the lesson's client pattern under load — connect, send
//! one request, read its echo, close, and again, with `connections` of these
//! in flight at once.

use super::drain::{DRAIN_LIMIT, drain};
use super::exchange::{Exchange, Step};
use super::pattern::Pattern;
use super::poller::Poller;
use super::report::Progress;
use super::source::Sources;
use super::stats::Tally;
use super::{CONNECT_TIMEOUT, Options, SCRATCH, TICK};
use crate::error::Result;
use crate::socket::connect_timeout;
use rustix::fd::OwnedFd;
use std::time::{Duration, Instant, SystemTime};

/// One connection in flight.
struct Conn {
    fd: OwnedFd,
    exchange: Exchange,
}

/// A slot keeps one connection in flight at a time.
#[derive(Default)]
struct Slot {
    conn: Option<Conn>,
    /// Bumped per connection, and part of its epoll token.
    generation: u32,
    /// Requests started in this slot (the pattern varies with it).
    requests: u64,
}

/// Tokens carry the slot and a generation, so an event for a connection
/// closed earlier in the same batch is not taken for its successor's.
fn token(slot: usize, generation: u32) -> u64 {
    (u64::from(generation) << 32) | slot as u64
}

/// Checks that the server is there (one plain connection first: a refused
/// connect is the run's error, exit 69), then keeps `options.connections`
/// connect-request-close cycles going until the deadline. Failures after
/// that are counted by errno, and the slot starts a new connection.
///
/// # Errors
/// The first connection's failure, or an `epoll` failure, as
/// [`crate::Error::Os`].
pub fn run(
    options: &Options,
    pattern: &Pattern,
    progress: &mut Progress,
) -> Result<(Tally, Duration)> {
    drop(connect_timeout(options.target, CONNECT_TIMEOUT)?);
    let mut poller = Poller::new()?;
    let mut tally = Tally {
        connects: 1,
        ..Tally::default()
    };
    // Consecutive runs start at different source pairs.
    let first_pair = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs().wrapping_mul(7919))
        .unwrap_or(0);
    // Threads start far apart in the cycle of source pairs.
    let first = options.first_connection;
    let mut sources = Sources::new(
        options.target,
        first_pair.wrapping_add((first as u64).wrapping_mul(40_009)),
    );
    let mut scratch = vec![0u8; SCRATCH];
    let mut slots: Vec<Slot> = (0..options.connections).map(|_| Slot::default()).collect();
    let start = Instant::now();
    let until = start + options.duration;
    while Instant::now() < until {
        // Empty slots: at the start, and after a connect that failed at once.
        for (index, slot) in slots.iter_mut().enumerate() {
            if slot.conn.is_none() {
                open(index, slot, &mut sources, &poller, &mut tally);
            }
        }
        let ready = poller.wait(until, TICK)?;
        for event in 0..ready {
            let Some((value, _flags)) = poller.event(event) else {
                continue;
            };
            let index = (value & u64::from(u32::MAX)) as usize;
            let Some(slot) = slots.get_mut(index) else {
                continue;
            };
            if slot.generation != (value >> 32) as u32 {
                continue;
            }
            let Some(conn) = slot.conn.as_mut() else {
                continue;
            };
            let want = pattern.request(first + index, conn.exchange.request);
            match conn
                .exchange
                .drive(&conn.fd, want, &mut scratch, first + index, &mut tally)
            {
                Step::Blocked => {}
                Step::Done | Step::Failed => {
                    // close(2): a normal FIN, never a reset.
                    slot.conn = None;
                    if Instant::now() < until {
                        open(index, slot, &mut sources, &poller, &mut tally);
                    }
                }
            }
        }
        progress.tick(&tally);
    }
    let elapsed = start.elapsed();
    let open = slots
        .into_iter()
        .enumerate()
        .filter_map(|(index, slot)| {
            let generation = slot.generation;
            slot.conn.map(|conn| (token(index, generation), conn.fd))
        })
        .collect();
    drain(&mut poller, open, DRAIN_LIMIT);
    Ok((tally, elapsed))
}

/// Starts the slot's next connection; a failure that comes at once is
/// counted and leaves the slot empty until the next pass.
fn open(index: usize, slot: &mut Slot, sources: &mut Sources, poller: &Poller, tally: &mut Tally) {
    let started = Instant::now();
    let fd = match sources.connect() {
        Ok(fd) => fd,
        Err(errno) => {
            tally.error(errno);
            return;
        }
    };
    slot.generation = slot.generation.wrapping_add(1);
    if let Err(errno) = poller.add(&fd, token(index, slot.generation)) {
        tally.error(errno);
        return;
    }
    tally.connects += 1;
    slot.conn = Some(Conn {
        fd,
        exchange: Exchange::new(slot.requests, started),
    });
    slot.requests += 1;
}

#[cfg(test)]
mod tests {
    use super::token;

    #[test]
    fn tokens_keep_slot_and_generation_apart() {
        let t = token(5, 9);
        assert_eq!(t & u64::from(u32::MAX), 5);
        assert_eq!(t >> 32, 9);
    }
}
