//! `sockbench pingpong -u` (UDP) and `-uU` (unix datagrams): each of the
//! `-c` connections is a connected datagram socket with one request in
//! flight, a datagram of `-s` bytes whose echo must come back as one
//! datagram of the same bytes.
//!
//! Datagrams may be lost, and a load generator must not stall on one: a
//! request with no echo within `--lost-after` is counted lost, and the
//! connection sends its next request (new bytes, since the pattern moves
//! with the request number). An echo that turns up for a request already
//! given up or already answered (late, or sent twice) is counted late, not
//! wrong; anything else that differs from the request in flight is a wrong
//! echo. Losses are not fatal unless no request at all came back.

use super::deadline::Deadline;
use super::pattern::{Pattern, first_difference};
use super::poller::Poller;
use super::report::Progress;
use super::stats::{Corruption, Tally};
use super::{CONNECT_TIMEOUT, Options, SCRATCH, TICK};
use crate::error::{Error, Result};
use crate::io::{poll_readable, recv_with, send_some};
use crate::socket::connect_timeout;
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::net::RecvFlags;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long a request may wait for its echo by default.
pub const LOST_AFTER: Duration = Duration::from_millis(200);
/// Earlier requests per connection whose late echo is still recognized.
const RECENT: usize = 16;
/// Datagrams read per readiness event at most (a flooding server cannot
/// hold the loop; the edge comes again with the next datagram).
const READS: usize = 256;

/// One connected datagram socket and its request in flight.
struct Flow {
    fd: OwnedFd,
    id: usize,
    request: u64,
    sent_at: Instant,
    /// Requests lost or answered lately, newest last.
    recent: VecDeque<u64>,
}

impl Flow {
    /// Sends the request in flight. A datagram the socket refuses (a full
    /// buffer: `EAGAIN`; an ICMP error from the last one: `ECONNREFUSED`)
    /// is not sent, and is lost like one the network dropped.
    fn send(&mut self, pattern: &Pattern, tally: &mut Tally) {
        self.sent_at = Instant::now();
        match send_some(&self.fd, pattern.request(self.id, self.request)) {
            Ok(_) | Err(Errno::AGAIN) => {}
            Err(errno) => tally.error(errno),
        }
    }

    /// Moves on to the next request, keeping this one's number for a late
    /// echo.
    fn next(&mut self, pattern: &Pattern, tally: &mut Tally) {
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(self.request);
        self.request += 1;
        self.send(pattern, tally);
    }

    /// Reads what has come, until the socket is empty.
    fn receive(&mut self, pattern: &Pattern, scratch: &mut [u8], tally: &mut Tally) {
        for _ in 0..READS {
            match recv_with(&self.fd, scratch, RecvFlags::TRUNC) {
                Ok((stored, full)) => {
                    let got = scratch.get(..stored).unwrap_or_default();
                    self.judge(got, full, pattern, tally);
                }
                Err(Errno::AGAIN) => return,
                // ECONNREFUSED: an ICMP error; the request waits to be lost.
                Err(errno) => {
                    tally.error(errno);
                    return;
                }
            }
        }
    }

    /// One datagram: the echo of the request in flight, a late echo, or a
    /// wrong one (which ends the request too: it was answered, wrongly).
    fn judge(&mut self, got: &[u8], full: usize, pattern: &Pattern, tally: &mut Tally) {
        tally.bytes += got.len() as u64;
        let want = pattern.request(self.id, self.request);
        let whole = full == got.len();
        if whole && got == want {
            tally.requests += 1;
            tally.latency.record(self.sent_at.elapsed());
            self.next(pattern, tally);
            return;
        }
        let earlier = |request: &u64| pattern.request(self.id, *request) == got;
        if whole && self.recent.iter().any(earlier) {
            tally.late += 1;
            return;
        }
        // A datagram longer than sent was cut at the buffer: what is past
        // it differs from nothing, so the first difference is at its end.
        let at = first_difference(want, got).unwrap_or(got.len());
        tally.corrupted(Corruption {
            connection: self.id,
            request: self.request,
            offset: at as u64,
            expected: want.get(at).copied(),
            got: got.get(at).copied().unwrap_or(0),
        });
        tally.requests += 1;
        tally.latency.record(self.sent_at.elapsed());
        self.next(pattern, tally);
    }

    /// Gives the request in flight up if its echo is overdue.
    fn expire(&mut self, now: Instant, lost_after: Duration, pattern: &Pattern, tally: &mut Tally) {
        if now.saturating_duration_since(self.sent_at) >= lost_after {
            tally.lost += 1;
            self.next(pattern, tally);
        }
    }
}

/// Opens `options.connections` connected datagram sockets (a failure is
/// the run's error), then keeps one request in flight on each until the
/// deadline; requests still in flight then are not judged.
///
/// # Errors
/// The first failed `socket`/`connect`, or an `epoll` failure, as
/// [`Error::Os`].
pub fn run(
    options: &Options,
    pattern: &Pattern,
    deadline: Deadline,
    progress: &mut Progress,
) -> Result<(Tally, Duration)> {
    let target = &options.target;
    let mut poller = Poller::new()?;
    let mut tally = Tally::default();
    let mut flows = Vec::with_capacity(options.connections);
    for index in 0..options.connections {
        let fd = connect_timeout(target, deadline.connect_timeout())?;
        poller
            .add(&fd, index as u64)
            .map_err(|errno| Error::at("epoll_ctl", target, errno))?;
        tally.connects += 1;
        flows.push(Flow {
            fd,
            id: options.first_connection + index,
            request: 0,
            sent_at: Instant::now(),
            recent: VecDeque::with_capacity(RECENT),
        });
    }
    // One byte more than the largest request: a longer echo shows.
    let mut scratch = vec![0u8; SCRATCH.max(options.size + 1)];
    let start = Instant::now();
    let until = deadline.load_from(start);
    for flow in &mut flows {
        flow.send(pattern, &mut tally);
    }
    // Losses are looked for four times per --lost-after, not per event.
    let every = (options.lost_after / 4).max(Duration::from_millis(1));
    let mut next_check = start + every;
    while Instant::now() < until {
        poller.wait(until.min(next_check), TICK)?;
        for (token, _) in poller.events() {
            if let Some(flow) = usize::try_from(token).ok().and_then(|i| flows.get_mut(i)) {
                flow.receive(pattern, &mut scratch, &mut tally);
            }
        }
        let now = Instant::now();
        if now >= next_check && now < until {
            for flow in &mut flows {
                flow.expire(now, options.lost_after, pattern, &mut tally);
            }
            next_check = now + every;
        }
        progress.tick(&tally);
    }
    Ok((tally, start.elapsed()))
}

/// What the probe sends.
const PROBE: &[u8] = b"sockbench probe\n";

/// Before the load, is anyone there? A datagram is sent, and sent again
/// every `--lost-after`, until any reply comes (the load judges the bytes),
/// for up to `--wait` (default [`CONNECT_TIMEOUT`]). A refusal (ICMP port
/// unreachable; for unix, no socket or nobody bound) ends it at once
/// without `--wait`, and is retried under it.
///
/// # Errors
/// `ECONNREFUSED` as a `connect` error (exit 69, with its hint), `ENOENT`
/// for a missing unix path (69); [`Error::NoEcho`] (69) when nothing
/// answered in time.
pub fn probe(options: &Options) -> Result<()> {
    let target = &options.target;
    let limit = options.wait.unwrap_or(CONNECT_TIMEOUT);
    let give_up = Instant::now() + limit;
    let fd = crate::client::connect_retrying(target.clone(), CONNECT_TIMEOUT, options.wait)?;
    let mut reply = vec![0u8; SCRATCH];
    let mut sent = 0u64;
    loop {
        let refused = match send_some(&fd, PROBE) {
            Ok(_) | Err(Errno::AGAIN) => {
                sent += 1;
                let left = give_up.saturating_duration_since(Instant::now());
                match poll_readable(&fd, Some(options.lost_after.min(left))) {
                    Ok(false) => false,
                    Ok(true) => match recv_with(&fd, &mut reply, RecvFlags::TRUNC) {
                        Ok(_) => return Ok(()),
                        Err(Errno::AGAIN) => false,
                        Err(Errno::CONNREFUSED) => true,
                        Err(errno) => return Err(Error::at("recv", target, errno)),
                    },
                    Err(errno) => return Err(Error::at("poll", target, errno)),
                }
            }
            Err(Errno::CONNREFUSED) => true,
            Err(errno) => return Err(Error::at("send", target, errno)),
        };
        let left = give_up.saturating_duration_since(Instant::now());
        if refused {
            // Nobody is there: as a refused connect, to the user.
            if options.wait.is_none() || left.is_zero() {
                return Err(Error::at("connect", target, Errno::CONNREFUSED));
            }
            std::thread::sleep(options.lost_after.min(left));
        } else if left.is_zero() {
            return Err(Error::NoEcho(format!(
                "no reply came back from {target} within {:.1} s ({sent} datagrams sent)",
                limit.as_secs_f64()
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::net::{AddressFamily, SocketFlags, SocketType, socketpair};

    fn flow() -> (Flow, OwnedFd) {
        let (ours, peer) = socketpair(
            AddressFamily::UNIX,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let flow = Flow {
            fd: ours,
            id: 3,
            request: 0,
            sent_at: Instant::now(),
            recent: VecDeque::new(),
        };
        (flow, peer)
    }

    fn datagram(peer: &OwnedFd) -> Vec<u8> {
        let mut buf = [0u8; 256];
        let (n, _) =
            recv_with(peer, &mut buf, RecvFlags::empty()).unwrap_or_else(|e| panic!("{e}"));
        buf[..n].to_vec()
    }

    #[test]
    fn echoes_complete_losses_resend_and_late_echoes_are_not_wrong() {
        let pattern = Pattern::new(32);
        let (mut flow, peer) = flow();
        let mut tally = Tally::default();
        let mut scratch = [0u8; 64];
        flow.send(&pattern, &mut tally);
        let first = datagram(&peer);
        assert_eq!(first, pattern.request(3, 0));
        // No echo: lost, and request 1 goes out.
        flow.expire(
            Instant::now() + LOST_AFTER,
            LOST_AFTER,
            &pattern,
            &mut tally,
        );
        assert_eq!((tally.lost, flow.request), (1, 1));
        let second = datagram(&peer);
        // The late echo of request 0, then request 1's.
        send_some(&peer, &first).unwrap_or_else(|e| panic!("{e}"));
        send_some(&peer, &second).unwrap_or_else(|e| panic!("{e}"));
        flow.receive(&pattern, &mut scratch, &mut tally);
        assert_eq!((tally.late, tally.requests, tally.corrupt), (1, 1, 0));
        // Request 1's echo again: late too (a duplicate).
        send_some(&peer, &second).unwrap_or_else(|e| panic!("{e}"));
        flow.receive(&pattern, &mut scratch, &mut tally);
        assert_eq!((tally.late, tally.requests, tally.corrupt), (2, 1, 0));
        // An echo of request 2 with a byte changed, and one cut short.
        let mut third = datagram(&peer);
        third[5] ^= 1;
        send_some(&peer, &third).unwrap_or_else(|e| panic!("{e}"));
        flow.receive(&pattern, &mut scratch, &mut tally);
        let fourth = datagram(&peer);
        send_some(&peer, &fourth[..10]).unwrap_or_else(|e| panic!("{e}"));
        flow.receive(&pattern, &mut scratch, &mut tally);
        assert_eq!((tally.requests, tally.corrupt), (3, 2));
        let first_wrong = tally.first_corruption.unwrap_or_else(|| panic!("none"));
        assert_eq!(
            (
                first_wrong.connection,
                first_wrong.request,
                first_wrong.offset
            ),
            (3, 2, 5)
        );
        assert_eq!(tally.bytes, 32 * 4 + 10);
    }

    #[test]
    fn a_longer_echo_is_wrong_at_its_first_extra_byte() {
        let pattern = Pattern::new(8);
        let (mut flow, peer) = flow();
        let mut tally = Tally::default();
        let mut scratch = [0u8; 64];
        flow.send(&pattern, &mut tally);
        let mut longer = datagram(&peer);
        longer.push(b'!');
        send_some(&peer, &longer).unwrap_or_else(|e| panic!("{e}"));
        flow.receive(&pattern, &mut scratch, &mut tally);
        let wrong = tally.first_corruption.unwrap_or_else(|| panic!("none"));
        assert_eq!((wrong.offset, wrong.expected, wrong.got), (8, None, b'!'));
    }
}
