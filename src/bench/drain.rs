//! Ending a run politely: a connection closed with echo bytes still unread
//! would go out as a reset (RST), which servers log as an error and which is
//! not what a normal client does. So at the deadline every open connection
//! is half-closed (`shutdown(SHUT_WR)`), read to the server's EOF and only
//! then closed — for a bounded time, after which the rest are closed anyway.

use super::poller::Poller;
use crate::io::recv_some;
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::net::Shutdown;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long the servers get to finish their echoes and close.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// Half-closes every connection in `open` (epoll token → fd, all registered
/// with `poller`), reads each to EOF, and closes them, within `limit`.
/// Nothing read here is counted: the run is over.
pub fn drain(poller: &mut Poller, mut open: HashMap<u64, OwnedFd>, limit: Duration) {
    let until = Instant::now() + limit;
    let mut scratch = vec![0u8; 64 * 1024];
    for fd in open.values() {
        let _ = rustix::net::shutdown(fd, Shutdown::Write);
    }
    // Edges may have been consumed already: read each once before waiting.
    open.retain(|_, fd| !finished(fd, &mut scratch));
    while !open.is_empty() && Instant::now() < until {
        if poller.wait(until, Duration::from_millis(100)).is_err() {
            return;
        }
        for (token, _) in poller.events() {
            if let Some(fd) = open.get(&token)
                && finished(fd, &mut scratch)
            {
                open.remove(&token);
            }
        }
    }
}

/// Reads until the socket is empty; `true` at EOF or on an error.
fn finished(fd: &OwnedFd, scratch: &mut [u8]) -> bool {
    // Bounded: at most this many reads per call.
    for _ in 0..1024 {
        match recv_some(fd, scratch) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(Errno::AGAIN) => return false,
            Err(_) => return true,
        }
    }
    false
}
