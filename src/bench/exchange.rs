//! One request on an edge-triggered, non-blocking connection: send it, read
//! its echo, compare every byte — at most one `send` and one `recv` per
//! request when the socket keeps up.

use super::pattern::first_difference;
use super::stats::{Corruption, EARLY_EOF, Tally};
use crate::io::{recv_some, send_some};
use rustix::fd::AsFd;
use rustix::io::Errno;
use std::time::Instant;

/// Where a request stands after [`Exchange::drive`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Waiting for the socket: the next edge-triggered event resumes it.
    Blocked,
    /// The whole echo is in (and compared).
    Done,
    /// The connection failed: counted in the tally already.
    Failed,
}

/// The progress of one request.
#[derive(Debug, Clone, Copy)]
pub struct Exchange {
    /// Which request this is on its connection, counted from 0.
    pub request: u64,
    /// When it started: the first `send` (churn: the `connect`).
    pub started: Instant,
    sent: usize,
    received: usize,
    corrupt: bool,
    complete: bool,
}

impl Exchange {
    /// Request number `request`, started now.
    pub fn new(request: u64, started: Instant) -> Self {
        Self {
            request,
            started,
            sent: 0,
            received: 0,
            corrupt: false,
            complete: false,
        }
    }

    /// Whether the whole echo is in: the server owes nothing more.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Echo bytes received so far.
    pub fn received(&self) -> usize {
        self.received
    }

    /// Moves the request on as far as the socket allows: sends what is left
    /// (once all is sent, waits: the echo is bound to raise another edge),
    /// and reads the echo into `scratch`, comparing it with `want`, until the
    /// socket is drained (a short read) or the echo is complete. A request
    /// the socket could not take whole has its echo read meanwhile.
    ///
    /// Errors and wrong bytes are counted in `tally`, the latter once per
    /// request, at the first differing byte; `connection` names it there.
    pub fn drive(
        &mut self,
        fd: impl AsFd,
        want: &[u8],
        scratch: &mut [u8],
        connection: usize,
        tally: &mut Tally,
    ) -> Step {
        let fd = fd.as_fd();
        if self.sent < want.len() {
            let sent_before = self.sent;
            match send_some(fd, want.get(self.sent..).unwrap_or_default()) {
                Ok(n) => self.sent += n,
                Err(Errno::AGAIN) => {}
                Err(errno) => {
                    tally.error(errno);
                    return Step::Failed;
                }
            }
            // Sent whole in one go: no echo can be waiting yet, and its
            // arrival raises the next edge. A request the socket took in
            // parts may have echo waiting that must be read now — a full
            // receive buffer would otherwise stop the server, and with it
            // every edge.
            if sent_before == 0 && self.sent == want.len() {
                return Step::Blocked;
            }
        }
        loop {
            let expected = want.get(self.received..).unwrap_or_default();
            let room = expected.len().min(scratch.len());
            let Some(buf) = scratch.get_mut(..room) else {
                return Step::Blocked;
            };
            match recv_some(fd, buf) {
                Ok(0) => {
                    tally.error_named(EARLY_EOF);
                    return Step::Failed;
                }
                Ok(n) => {
                    let got = buf.get(..n).unwrap_or_default();
                    let want_now = expected.get(..n).unwrap_or_default();
                    if !self.corrupt
                        && let Some(at) = first_difference(want_now, got)
                    {
                        self.corrupt = true;
                        tally.corrupted(Corruption {
                            connection,
                            request: self.request,
                            offset: (self.received + at) as u64,
                            expected: want_now.get(at).copied(),
                            got: got.get(at).copied().unwrap_or(0),
                        });
                    }
                    self.received += n;
                    tally.bytes += n as u64;
                    if self.received == want.len() {
                        self.complete = true;
                        tally.requests += 1;
                        tally.latency.record(self.started.elapsed());
                        return Step::Done;
                    }
                    if n < room {
                        return Step::Blocked;
                    }
                }
                Err(Errno::AGAIN) => return Step::Blocked,
                Err(errno) => {
                    tally.error(errno);
                    return Step::Failed;
                }
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use rustix::net::{AddressFamily, SocketFlags, SocketType, socketpair};

    /// A connected pair of non-blocking unix stream sockets: ours and the
    /// "server's".
    pub(in crate::bench) fn pair() -> (rustix::fd::OwnedFd, rustix::fd::OwnedFd) {
        socketpair(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn echo(peer: &rustix::fd::OwnedFd, flip: Option<usize>) {
        let mut buf = [0u8; 64];
        let n = recv_some(peer, &mut buf).unwrap_or(0);
        if let Some(i) = flip {
            buf[i] ^= 0xff;
        }
        crate::io::send_all(peer, &buf[..n]).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn a_faithful_echo_completes_once() {
        let (ours, peer) = pair();
        let mut tally = Tally::default();
        let mut scratch = [0u8; 16];
        let mut exchange = Exchange::new(0, Instant::now());
        let want = b"0123456789abcdefghij";
        assert_eq!(
            exchange.drive(&ours, want, &mut scratch, 0, &mut tally),
            Step::Blocked
        );
        assert_eq!(
            exchange.drive(&ours, want, &mut scratch, 0, &mut tally),
            Step::Blocked
        );
        echo(&peer, None);
        assert_eq!(
            exchange.drive(&ours, want, &mut scratch, 0, &mut tally),
            Step::Done
        );
        assert_eq!((tally.requests, tally.bytes, tally.corrupt), (1, 20, 0));
    }

    #[test]
    fn a_flipped_byte_is_counted_with_its_place() {
        let (ours, peer) = pair();
        let mut tally = Tally::default();
        let mut scratch = [0u8; 64];
        let mut exchange = Exchange::new(3, Instant::now());
        let want = b"hello";
        exchange.drive(&ours, want, &mut scratch, 7, &mut tally);
        echo(&peer, Some(1));
        assert_eq!(
            exchange.drive(&ours, want, &mut scratch, 7, &mut tally),
            Step::Done
        );
        assert_eq!(tally.corrupt, 1);
        let first = tally
            .first_corruption
            .unwrap_or_else(|| panic!("no corruption"));
        assert_eq!((first.connection, first.request, first.offset), (7, 3, 1));
        assert_eq!((first.expected, first.got), (Some(b'e'), b'e' ^ 0xff));
    }

    #[test]
    fn a_peer_that_closes_early_is_an_eof_error() {
        let (ours, peer) = pair();
        let mut tally = Tally::default();
        let mut scratch = [0u8; 64];
        let mut exchange = Exchange::new(0, Instant::now());
        exchange.drive(&ours, b"abc", &mut scratch, 0, &mut tally);
        // The server reads the request, then closes without echoing it.
        let mut request = [0u8; 8];
        assert_eq!(recv_some(&peer, &mut request), Ok(3));
        drop(peer);
        assert_eq!(
            exchange.drive(&ours, b"abc", &mut scratch, 0, &mut tally),
            Step::Failed
        );
        assert_eq!(tally.errors.get(EARLY_EOF), Some(&1));
    }
}
