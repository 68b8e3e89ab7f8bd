//! The plain echo of a stream that fills the worker's buffer: once one
//! `recv` of a connection takes all of [`SCRATCH_BYTES`](super::echo)
//! (a bulk transfer, not a request), its echo goes through a pipe of its
//! own with `splice(2)`, socket to pipe to the same socket, never through
//! user space (`scripts/bench.sh`'s bulk, measured: see `docs/sockd.md`).
//! Requests smaller than the buffer (pingpong, churn) never get here: their
//! path stays one `recv` and one `send`. A connection with the transcript on
//! never switches (the transcript needs the bytes).
//!
//! The pipe holds what was read and not yet echoed, at most its capacity;
//! while it holds any, the connection is watched for `EPOLLOUT` and not
//! read (backpressure). Out of fds for the pipe, the connection goes back
//! to the plain echo.

use super::WorkerStats;
use super::conn::{Conn, Outgoing};
use super::events::CloseReason;
use super::forward::relay::{Failed, Flow};
use super::forward::splice::Spliced;
use rustix::event::epoll::{self, EventData, EventFlags};
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use std::time::Instant;

/// A bulk connection's echo pipe.
#[derive(Debug, Default)]
pub struct SplicedEcho {
    pipe: Spliced,
    /// Watched for `EPOLLOUT` (the pipe holds bytes) rather than `EPOLLIN`.
    writing: bool,
}

/// One readable or writable event of a spliced echo connection (token
/// `token`): what the pipe holds goes out, then one splice in and one out.
/// Returns whether the connection stays open.
pub fn step(
    conn: &mut Conn,
    epoll: &OwnedFd,
    token: u64,
    idle: bool,
    stats: &mut WorkerStats,
) -> Result<(), CloseReason> {
    let Outgoing::Spliced(echo) = &mut conn.out else {
        return Err(CloseReason::Error(Errno::INVAL));
    };
    let mut flow = Flow::default();
    match echo
        .pipe
        .pump(conn.fd.as_fd(), conn.fd.as_fd(), true, &mut flow)
    {
        Ok(()) => {}
        Err(Failed::Pipe(errno)) => {
            log::debug!(
                "{}: back to the plain echo: {}",
                conn.peer,
                crate::error::describe_errno(errno)
            );
            conn.out = Outgoing::Plain(Vec::new());
            return Ok(());
        }
        Err(Failed::Source(errno) | Failed::Destination(errno)) => {
            return Err(CloseReason::from_errno(errno));
        }
    }
    let (read, written) = (flow.read as u64, flow.written as u64);
    stats.bytes += read;
    conn.bytes_in += read;
    conn.bytes_out += written;
    conn.moved += read + written;
    if idle && read + written > 0 {
        conn.last_active = Instant::now();
    }
    if flow.eof {
        return Err(CloseReason::Eof);
    }
    if flow.blocked != echo.writing {
        echo.writing = flow.blocked;
        let want = match flow.blocked {
            true => EventFlags::OUT,
            false => EventFlags::IN,
        };
        return epoll::modify(epoll, &conn.fd, EventData::new_u64(token), want)
            .map_err(CloseReason::Error);
    }
    Ok(())
}
