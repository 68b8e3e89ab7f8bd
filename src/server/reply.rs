//! The end of a chat client: the operator's reply sent on the non-blocking
//! connection. Every wait is bounded by the stop signal and, where the
//! client has to act, by `--idle-timeout`: a client that does not read
//! cannot hold the one chat slot, nor keep sockd from stopping.

use super::stop::{Ready, Stop};
use crate::io::send_some;
use core::time::Duration;
use rustix::event::PollFlags;
use rustix::fd::OwnedFd;
use rustix::io::Errno;

/// How a reply ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// All of it is with the kernel.
    Whole,
    /// Stop came first.
    Stopped,
    /// The client took none of it for the idle timeout.
    Stalled,
    /// The client went away (`EPIPE`, `ECONNRESET`).
    Failed(Errno),
}

/// Sends `reply` on `conn` (non-blocking), waiting in `poll` for room, for
/// the stop signal, or for `idle` to pass without the client taking a byte.
///
/// # Errors
/// A failing `poll`.
pub fn send_reply(
    conn: &OwnedFd,
    reply: &[u8],
    stop: &Stop,
    idle: Option<Duration>,
) -> Result<Sent, Errno> {
    let mut rest = reply;
    while !rest.is_empty() {
        match send_some(conn, rest) {
            Ok(n) => {
                rest = &rest[n..];
                continue;
            }
            Err(Errno::AGAIN) => {}
            Err(errno) => return Ok(Sent::Failed(errno)),
        }
        match stop.wait_for(conn, PollFlags::OUT, idle)? {
            Ready::Fd(_) => {}
            Ready::TimedOut => return Ok(Sent::Stalled),
            Ready::Stopped => return Ok(Sent::Stopped),
        }
    }
    Ok(Sent::Whole)
}
