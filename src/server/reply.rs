//! The end of a chat client: the operator's reply sent, then the connection
//! closed so that the reply arrives whole.
//!
//! A close with bytes still unread in our receive queue makes the kernel
//! answer with RST, and a peer that gets an RST loses what it had not read
//! yet: a client that sent `hi\n` and 1 MiB more got 125 KiB of its 1 MiB
//! reply, then ECONNRESET. So what the client sends after its message is
//! read and thrown away, while the reply goes out (else a client busy
//! sending, not reading, and sockd busy sending would wait on each other),
//! and after it: `shutdown(SHUT_WR)` sends our FIN behind the reply, and
//! the connection is closed once the client closes too, or goes quiet
//! ([`LINGER_QUIET`]), or has sent [`LINGER_BYTES`] more, or after
//! [`LINGER_TOTAL`].
//!
//! Every wait is bounded by the stop signal and, where the client has to
//! act, by `--idle-timeout`: a client that takes none of its reply for that
//! long (neither from `send` nor, read slowly, from the kernel's send
//! queue) cannot hold the one chat slot, nor keep sockd from stopping.

use super::sendq::SendQueues;
use super::stop::{Ready, Stop};
use crate::io::{recv_some, send_some};
use core::time::Duration;
use rustix::event::PollFlags;
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::Shutdown;
use std::time::Instant;

/// After the reply, the longest the client may be silent before the
/// connection is closed: nothing of it is then unread, so the close is a
/// FIN, not an RST.
pub const LINGER_QUIET: Duration = Duration::from_secs(1);
/// After the reply, the longest sockd waits for the client to close.
pub const LINGER_TOTAL: Duration = Duration::from_secs(10);
/// After its message, the most a client may send (thrown away) before the
/// connection is closed anyway.
pub const LINGER_BYTES: u64 = 64 << 20;

/// How a client's end went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The reply went out whole and the client closed (or went quiet).
    Delivered,
    /// The reply went out whole; the client kept sending or kept the
    /// connection open past the linger bounds.
    Cut,
    /// Stop came first.
    Stopped,
    /// The client took none of its reply for the idle timeout.
    Stalled,
    /// The client went away (`EPIPE`, `ECONNRESET`).
    Failed(Errno),
}

/// Sends `reply` on `conn` (non-blocking), then closes it as the module
/// docs say. Returns how it ended, and the bytes the client sent meanwhile.
///
/// # Errors
/// A failing `poll`.
pub fn reply_and_close(
    conn: OwnedFd,
    reply: &[u8],
    stop: &Stop,
    idle: Option<Duration>,
    queues: &mut SendQueues,
) -> Result<(Ended, u64), Errno> {
    let mut extra = Discard::new();
    let ended = match send(&conn, reply, stop, idle, &mut extra, queues)? {
        None => {
            let _ = rustix::net::shutdown(&conn, Shutdown::Write);
            linger(&conn, stop, &mut extra)?
        }
        Some(ended) => ended,
    };
    Ok((ended, extra.bytes))
}

/// Sends all of `reply`, reading what the client sends meanwhile. `None`:
/// all of it is with the kernel.
///
/// Progress is what the client takes: bytes `send` accepts, or bytes that
/// leave the kernel's send queue (a slow reader, whose window opens long
/// after sockd's last `send`), looked at when the idle timeout runs out.
fn send(
    conn: &OwnedFd,
    reply: &[u8],
    stop: &Stop,
    idle: Option<Duration>,
    extra: &mut Discard,
    queues: &mut SendQueues,
) -> Result<Option<Ended>, Errno> {
    let mut rest = reply;
    let mut progress = Instant::now();
    // The kernel's queue when the wait for room began.
    let mut queued: Option<u32> = None;
    while !rest.is_empty() {
        match send_some(conn, rest) {
            Ok(n) => {
                rest = &rest[n..];
                progress = Instant::now();
                queued = None;
                continue;
            }
            Err(Errno::AGAIN) => {}
            Err(errno) => return Ok(Some(Ended::Failed(errno))),
        }
        if idle.is_some() && queued.is_none() {
            queued = queues.unacked(conn.as_fd());
        }
        // Only the reply's progress counts: a client that sends and never
        // reads is as stalled as a silent one.
        let left = idle.map(|idle| idle.saturating_sub(progress.elapsed()));
        let wanted = if extra.eof {
            PollFlags::OUT
        } else {
            PollFlags::OUT | PollFlags::IN
        };
        match stop.wait_for(conn, wanted, left)? {
            Ready::Fd(events) if events.intersects(PollFlags::IN | PollFlags::HUP) => {
                if let Err(errno) = extra.take(conn) {
                    return Ok(Some(Ended::Failed(errno)));
                }
            }
            Ready::Fd(_) => {}
            Ready::TimedOut => match (queued, queues.unacked(conn.as_fd())) {
                (Some(before), Some(left)) if left < before => {
                    progress = Instant::now();
                    queued = Some(left);
                }
                _ => return Ok(Some(Ended::Stalled)),
            },
            Ready::Stopped => return Ok(Some(Ended::Stopped)),
        }
    }
    Ok(None)
}

/// Reads (and throws away) what the client still sends, until it closes,
/// or the linger bounds or the stop end the wait.
fn linger(conn: &OwnedFd, stop: &Stop, extra: &mut Discard) -> Result<Ended, Errno> {
    let started = Instant::now();
    while !extra.eof {
        if extra.bytes > LINGER_BYTES {
            return Ok(Ended::Cut);
        }
        let left = LINGER_TOTAL.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Ok(Ended::Cut);
        }
        match stop.wait_for(conn, PollFlags::IN, Some(left.min(LINGER_QUIET)))? {
            Ready::Fd(_) => {
                if let Err(errno) = extra.take(conn) {
                    return Ok(Ended::Failed(errno));
                }
            }
            // Nothing is unread: closing now is a FIN, not an RST.
            Ready::TimedOut if left > LINGER_QUIET => return Ok(Ended::Delivered),
            Ready::TimedOut => return Ok(Ended::Cut),
            Ready::Stopped => return Ok(Ended::Stopped),
        }
    }
    Ok(Ended::Delivered)
}

/// What the client sends after its message: read, counted, thrown away.
struct Discard {
    buf: Box<[u8]>,
    bytes: u64,
    eof: bool,
}

impl Discard {
    fn new() -> Self {
        Self {
            buf: vec![0u8; 64 * 1024].into_boxed_slice(),
            bytes: 0,
            eof: false,
        }
    }

    /// One `recv` into the scratch buffer.
    fn take(&mut self, conn: &OwnedFd) -> Result<(), Errno> {
        match recv_some(conn, &mut self.buf) {
            Ok(0) => self.eof = true,
            Ok(n) => self.bytes += n as u64,
            Err(Errno::AGAIN) => {}
            Err(errno) => return Err(errno),
        }
        Ok(())
    }
}
