//! `sockbench bulk`: one connection streaming both ways at once; what counts
//! is the echoed bytes that came back right, per second.

use super::deadline::Deadline;
use super::drain::{Closing, drain};
use super::pattern::{Pattern, first_difference};
use super::poller::Poller;
use super::report::Progress;
use super::stats::{Corruption, EARLY_EOF, Tally};
use super::{Options, TICK};
use crate::error::{Error, Result};
use crate::io::{recv_some, send_some};
use crate::socket::connect_timeout;
use rustix::fd::{AsFd, BorrowedFd};
use rustix::io::Errno;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Bytes per `send`.
const CHUNK: usize = 64 * 1024;
/// Bytes per `recv`.
const READ: usize = 256 * 1024;
/// Sends and reads per event before the clock is looked at again.
const ROUNDS: usize = 64;

/// The stream's state.
struct Stream {
    sent: u64,
    received: u64,
    /// Set once a send found the socket full: wait for the next edge.
    send_blocked: bool,
    /// Set once a read drained the socket.
    recv_blocked: bool,
    failed: bool,
}

/// Connects (failure is the run's error: `ECONNREFUSED` exits 69), then
/// sends the pattern as fast as the socket takes it while reading and
/// comparing the echo, until the deadline or a failure.
///
/// # Errors
/// The failed `connect`, or an `epoll` failure, as [`Error::Os`].
pub fn run(
    options: &Options,
    deadline: Deadline,
    progress: &mut Progress,
) -> Result<(Tally, Duration)> {
    let fd = connect_timeout(&options.target, deadline.connect_timeout())?;
    let pattern = Pattern::new(CHUNK.max(READ));
    let mut poller = Poller::new()?;
    poller
        .add(&fd, 0)
        .map_err(|errno| Error::at("epoll_ctl", &options.target, errno))?;
    let mut tally = Tally {
        connects: 1,
        ..Tally::default()
    };
    let mut scratch = vec![0u8; READ];
    let mut stream = Stream {
        sent: 0,
        received: 0,
        send_blocked: false,
        recv_blocked: false,
        failed: false,
    };
    let start = Instant::now();
    let until = deadline.load_from(start);
    while !stream.failed && Instant::now() < until {
        if stream.send_blocked && stream.recv_blocked {
            let ready = poller.wait(until, TICK)?;
            // Edge-triggered: any event may have made room or brought
            // bytes, so both directions are tried again.
            if ready > 0 {
                stream.send_blocked = false;
                stream.recv_blocked = false;
            }
        }
        for _ in 0..ROUNDS {
            if stream.failed || (stream.send_blocked && stream.recv_blocked) {
                break;
            }
            if !stream.send_blocked {
                send(fd.as_fd(), &pattern, &mut stream, &mut tally);
            }
            if !stream.recv_blocked {
                receive(fd.as_fd(), &pattern, &mut scratch, &mut stream, &mut tally);
            }
        }
        progress.tick(&tally);
    }
    let elapsed = start.elapsed();
    // The stream's echo is still on its way: what comes is not looked at.
    let closing = Closing::start(&fd, None);
    drain(
        &mut poller,
        HashMap::from([(0, (fd, closing))]),
        deadline.drain_until(),
        &mut tally,
    );
    Ok((tally, elapsed))
}

fn send(fd: BorrowedFd<'_>, pattern: &Pattern, stream: &mut Stream, tally: &mut Tally) {
    let chunk = pattern.stream(stream.sent);
    let chunk = chunk.get(..CHUNK).unwrap_or(chunk);
    match send_some(fd, chunk) {
        Ok(n) => {
            stream.sent += n as u64;
            if n < chunk.len() {
                stream.send_blocked = true;
            }
        }
        Err(Errno::AGAIN) => stream.send_blocked = true,
        Err(errno) => {
            tally.error(errno);
            stream.failed = true;
        }
    }
}

fn receive(
    fd: BorrowedFd<'_>,
    pattern: &Pattern,
    scratch: &mut [u8],
    stream: &mut Stream,
    tally: &mut Tally,
) {
    match recv_some(fd, scratch) {
        Ok(0) => {
            tally.error_named(EARLY_EOF);
            stream.failed = true;
        }
        Ok(n) => {
            let got = scratch.get(..n).unwrap_or_default();
            let want = pattern.stream(stream.received);
            let want = want.get(..n).unwrap_or(want);
            if let Some(at) = first_difference(want, got) {
                tally.corrupted(Corruption {
                    connection: 0,
                    request: 0,
                    offset: stream.received + at as u64,
                    expected: want.get(at).copied(),
                    got: got.get(at).copied().unwrap_or(0),
                });
            }
            stream.received += n as u64;
            tally.bytes += n as u64;
            if n < scratch.len() {
                stream.recv_blocked = true;
            }
        }
        Err(Errno::AGAIN) => stream.recv_blocked = true,
        Err(errno) => {
            tally.error(errno);
            stream.failed = true;
        }
    }
}
