//! A relay direction the faults (or the transcript) see: one `recv` into
//! the worker's scratch buffer, the bytes into the direction's
//! [`Path`] (its faults and bounded queue, as the faulted echo's), and out
//! with [`send_due`] when the faults let them go. While the queue has no
//! room the source is not read (backpressure).

use super::relay::{Failed, Flow};
use crate::io::recv_some;
use crate::server::fault::Path;
use crate::server::fault::stream::{Then, send_due};
use rustix::fd::BorrowedFd;
use rustix::io::Errno;
use std::time::Instant;

/// One direction through the faults.
#[derive(Debug)]
pub struct Copied {
    path: Path,
    /// The source's FIN came: the destination's may follow at this time,
    /// once the queue is empty (`--slow-close`).
    fin_at: Option<Instant>,
    /// `--slow-close` held the FIN back since the last look.
    slowed: bool,
}

impl Copied {
    /// Through `path`'s faults.
    pub fn new(path: Path) -> Self {
        Self {
            path,
            fin_at: None,
            slowed: false,
        }
    }

    /// Whether the source may be read: it has not ended, and the queue
    /// has room.
    pub fn may_read(&self) -> bool {
        self.fin_at.is_none() && self.path.room() > 0
    }

    /// Whether the source ended.
    pub fn ended(&self) -> bool {
        self.fin_at.is_some()
    }

    /// Drops what waits (a fault ends the connection).
    /// Whether the faults flipped a bit since the last look (`--corrupt`).
    pub fn took_flip(&mut self) -> bool {
        self.path.took_flip()
    }

    /// Whether `--slow-close` held a FIN back since the last look.
    pub fn took_slow_close(&mut self) -> bool {
        core::mem::take(&mut self.slowed)
    }

    pub fn clear(&mut self) {
        self.path.clear();
    }

    /// Sends what is due to `dst`; then, if `read`, one `recv` from `src`
    /// into the queue (the bytes stay at the front of `scratch`) and what
    /// of it is due. `flow` says what happened, and `flow.eof` only once
    /// the source ended and its FIN may follow now.
    ///
    /// # Errors
    /// The first failure, and on which end.
    pub fn pump(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        read: bool,
        scratch: &mut [u8],
        now: Instant,
        flow: &mut Flow,
    ) -> Result<(), Failed> {
        self.send(dst, now, scratch.len(), flow)?;
        if read && self.fin_at.is_none() && !flow.blocked {
            let room = self.path.room().min(scratch.len());
            if room > 0 {
                match recv_some(src, &mut scratch[..room]) {
                    Ok(0) => {
                        let at = self.path.finish(now);
                        self.slowed = at > now;
                        self.fin_at = Some(at);
                    }
                    Ok(n) => {
                        flow.read += n;
                        self.path.push(&scratch[..n], now);
                        self.send(dst, now, scratch.len(), flow)?;
                    }
                    Err(Errno::AGAIN) => {}
                    Err(errno) => return Err(Failed::Source(errno)),
                }
            }
        }
        if let Some(at) = self.fin_at
            && self.path.is_empty()
        {
            match at <= now {
                true => flow.eof = true,
                false => flow.wake(at),
            }
        }
        Ok(())
    }

    fn send(
        &mut self,
        dst: BorrowedFd<'_>,
        now: Instant,
        most: usize,
        flow: &mut Flow,
    ) -> Result<(), Failed> {
        let (sent, then) = send_due(&mut self.path, dst, now, most);
        flow.written += sent;
        match then {
            Then::Blocked => flow.blocked = true,
            Then::Until(at) => flow.wake(at),
            Then::Idle => {}
            Then::End(ending) => flow.end = Some(ending),
            Then::Failed(errno) => return Err(Failed::Destination(errno)),
        }
        Ok(())
    }
}
