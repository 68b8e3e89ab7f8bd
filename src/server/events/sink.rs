//! Where the events go, and how a line gets there without holding the
//! thread that saw the event.
//!
//! A file description of sockd's own — the file it created (`O_APPEND`),
//! a FIFO (non-blocking, its buffer raised to [`FIFO_BYTES`]),
//! `/dev/fd/N` reopened — takes each line in one `write(2)` from the worker
//! itself: a regular file never makes it wait, a pipe takes a line of up to
//! `PIPE_BUF` bytes whole or not at all (`EAGAIN`: dropped and counted), so
//! a reader never sees half a line. stdout (`-`), stderr and terminals are
//! shared or can take part of a line, so they get the transcript's
//! arrangement instead: a bounded queue and a writer thread
//! ([`OutputQueue`]), drops counted.

use super::super::announce::{self, LogFile};
use super::super::stop::Stop;
use crate::error::Result;
use crate::io::{OutputQueue, Pushed};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::time::Duration;
use rustix::fd::OwnedFd;
use rustix::fs::FileType;
use rustix::io::Errno;
use std::path::Path;
use std::sync::Mutex;

/// The pipe buffer asked for a FIFO (`F_SETPIPE_SZ`; an unprivileged
/// sockd gets at most `fs.pipe-max-size`, 1 MiB by default): a reader that
/// lags by a burst of thousands of events loses none.
const FIFO_BYTES: usize = 1 << 20;
/// The most bytes of events waiting for stdout or a terminal.
const QUEUE_BYTES: usize = 1 << 20;
/// How long a stopping server lets queued events drain.
const FINAL_FLUSH: Duration = Duration::from_secs(1);

/// An open event log.
#[derive(Debug)]
pub struct Sink {
    out: Out,
    dropped: AtomicU64,
    off: AtomicBool,
}

#[derive(Debug)]
enum Out {
    Direct(OwnedFd),
    Queue(Mutex<Option<OutputQueue>>),
}

impl Sink {
    /// stdout, through a queue.
    ///
    /// # Errors
    /// The writer thread's `pipe2` or creation.
    pub fn stdout() -> Result<Self> {
        Ok(Self::with(Self::queue(crate::io::stdout())?))
    }

    /// The log at `path`, opened as [`announce::open_log`] does; `None` if
    /// `stop` came while a FIFO waited for its reader.
    ///
    /// # Errors
    /// [`announce::open_log`]'s, or the writer thread's.
    pub fn open(path: &Path, stop: &Stop) -> Result<Option<Self>> {
        let out = match announce::open_log(path, stop)? {
            LogFile::Std(fd) => Self::queue(fd)?,
            LogFile::Own(fd) => {
                match rustix::fs::fstat(&fd).map(|s| FileType::from_raw_mode(s.st_mode)) {
                    Ok(FileType::CharacterDevice) => Self::queue(fd)?,
                    Ok(FileType::Fifo) => {
                        // A smaller buffer only means drops come sooner.
                        let _ = rustix::pipe::fcntl_setpipe_size(&fd, FIFO_BYTES);
                        Out::Direct(fd)
                    }
                    _ => Out::Direct(fd),
                }
            }
            LogFile::Stopped => return Ok(None),
        };
        Ok(Some(Self::with(out)))
    }

    fn queue(fd: impl rustix::fd::AsFd + Send + 'static) -> Result<Out> {
        let queue = OutputQueue::spawn(fd, QUEUE_BYTES, "events")?;
        Ok(Out::Queue(Mutex::new(Some(queue))))
    }

    fn with(out: Out) -> Self {
        Self {
            out,
            dropped: AtomicU64::new(0),
            off: AtomicBool::new(false),
        }
    }

    /// Writes one line (ending in `\n`), or counts it dropped.
    pub fn write(&self, line: &[u8]) {
        if self.off.load(Ordering::Relaxed) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let gone = match &self.out {
            Out::Direct(fd) => match crate::io::retry(|| rustix::io::write(fd, line)) {
                Ok(n) if n == line.len() => None,
                Ok(_) => Some(Errno::NOSPC),
                Err(Errno::AGAIN) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    None
                }
                Err(errno) => Some(errno),
            },
            Out::Queue(queue) => match lock(queue).as_ref().map(|queue| queue.push(line)) {
                Some(Pushed::Gone(errno)) => Some(errno),
                Some(Pushed::Queued) | None => None,
            },
        };
        if let Some(errno) = gone {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            if !self.off.swap(true, Ordering::Relaxed) && errno != Errno::PIPE {
                log::warn!("events off: write: {}", crate::error::describe_errno(errno));
            }
        }
    }

    /// Events dropped so far (those a queue dropped are known at
    /// [`Sink::finish`]).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Lets a queue drain (for at most [`FINAL_FLUSH`]); every event
    /// dropped.
    pub fn finish(&self) -> u64 {
        let queued = match &self.out {
            Out::Queue(queue) => lock(queue)
                .take()
                .map_or(0, |queue| queue.finish(FINAL_FLUSH).dropped_lines),
            Out::Direct(_) => 0,
        };
        self.dropped() + queued
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::pipe::{PipeFlags, pipe_with};

    #[test]
    fn a_pipe_nobody_reads_costs_lines_counted_never_a_wait_nor_half_a_line() {
        let (read_end, write_end) =
            pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK).unwrap_or_else(|e| panic!("{e}"));
        let sink = Sink::with(Out::Direct(write_end));
        let line = format!("{{\"event\":\"accept\",\"pad\":\"{}\"}}\n", "x".repeat(90));
        let started = std::time::Instant::now();
        for _ in 0..10_000 {
            sink.write(line.as_bytes());
        }
        assert!(started.elapsed() < Duration::from_secs(10));
        let dropped = sink.finish();
        let mut held = Vec::new();
        let mut buf = [0u8; 65536];
        while let Ok(n @ 1..) = crate::io::read_some(&read_end, &mut buf) {
            held.extend_from_slice(&buf[..n]);
        }
        assert!(held.ends_with(b"\n"), "a line was cut");
        let written = held.iter().filter(|&&b| b == b'\n').count() as u64;
        assert!(
            written > 0 && dropped > 0,
            "{written} written, {dropped} dropped"
        );
        assert_eq!(written + dropped, 10_000);
    }
}
