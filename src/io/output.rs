//! A bounded output queue drained by a thread of its own, for output that
//! must never hold the code producing it (sockd's transcript: echo must not
//! wait for a terminal). Producers hand it whole lines and go on at once;
//! lines that do not fit are dropped and counted. Only the writer thread
//! waits for the fd, and it waits in `poll`, so it can be called off.
//!
//! Why a thread rather than `O_NONBLOCK` on the fd: stdout's file
//! description is usually shared (the shell's terminal, the pipeline's
//! pipe), and `O_NONBLOCK` on it would change it for every process that
//! shares it, after we are gone too.

use super::{PIPE_BUF, write_all_polled};
use crate::error::{Error, Result};
use core::time::Duration;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::pipe::{PipeFlags, pipe_with};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

/// How long [`OutputQueue::finish`] gives a called-off writer to leave its
/// `poll`.
const CANCEL_GRACE: Duration = Duration::from_millis(100);

/// A bounded queue of lines for one fd, and the thread that writes them.
///
/// Memory is bounded by twice the capacity: what is queued, and the batch
/// the writer took.
#[derive(Debug)]
pub struct OutputQueue {
    shared: Arc<Shared>,
    /// Written to call the writer off; it polls the read end.
    cancel: OwnedFd,
    writer: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    capacity: usize,
    /// Lines the writer took and has not written yet.
    in_flight: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    queued: Vec<u8>,
    queued_lines: u64,
    dropped_lines: u64,
    closing: bool,
    ended: Option<Ended>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// Everything queued was written.
    Drained,
    /// [`OutputQueue::finish`] ran out of patience.
    Cancelled,
    /// A write failed (`EPIPE`: the reader left).
    Failed(Errno),
}

/// What became of [`OutputQueue::push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Queued, or dropped and counted for want of room: carry on.
    Queued,
    /// The output is gone with this errno (`EPIPE`: its reader left):
    /// producing more is pointless.
    Gone(Errno),
}

/// What [`OutputQueue::finish`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flushed {
    /// Lines that never reached the fd because it was not read in time:
    /// dropped for want of room, or still queued when the final flush ran
    /// out of time.
    pub dropped_lines: u64,
    /// The write error that ended the output early, if one did.
    pub error: Option<Errno>,
}

impl OutputQueue {
    /// A queue of at most `capacity` bytes for `fd`, and its writer thread
    /// (named `name`), which writes with [`write_all_polled`]: pieces of at
    /// most `PIPE_BUF` bytes that end at a line's end, so a pipe's reader
    /// never gets half a line, nor one interleaved with another writer's.
    ///
    /// # Errors
    /// `pipe2` (`EMFILE`) or the thread's creation (`EAGAIN`) failing.
    pub fn spawn(
        fd: impl AsFd + Send + 'static,
        capacity: usize,
        name: &'static str,
    ) -> Result<Self> {
        let (wake, cancel) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)
            .map_err(|errno| Error::on("pipe", name, errno))?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            capacity,
            in_flight: AtomicU64::new(0),
        });
        let writer = std::thread::Builder::new()
            .name(name.to_string())
            .spawn({
                let shared = Arc::clone(&shared);
                move || shared.write_out(fd.as_fd(), &wake)
            })
            .map_err(|err| Error::from_io("spawn", name, &err))?;
        Ok(Self {
            shared,
            cancel,
            writer: Some(writer),
        })
    }

    /// Queues `lines` (whole lines, each ending in `\n`) as far as the bound
    /// allows and drops the rest, counted. Never waits for the fd: the
    /// queue's lock is held only to copy bytes in or to hand them over.
    pub fn push(&self, lines: &[u8]) -> Pushed {
        let mut state = self.shared.lock();
        if let Some(Ended::Failed(errno)) = state.ended {
            return Pushed::Gone(errno);
        }
        let room = if state.closing {
            0
        } else {
            self.shared.capacity.saturating_sub(state.queued.len())
        };
        let fit = if lines.len() <= room {
            lines.len()
        } else {
            lines[..room]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |end| end + 1)
        };
        let (kept, dropped) = lines.split_at(fit);
        let was_empty = state.queued.is_empty();
        state.queued.extend_from_slice(kept);
        state.queued_lines += count_lines(kept);
        state.dropped_lines += count_lines(dropped);
        drop(state);
        // The writer sleeps only on an empty queue.
        if was_empty && !kept.is_empty() {
            self.shared.changed.notify_all();
        }
        Pushed::Queued
    }

    /// Lines dropped so far for want of room.
    pub fn dropped_lines(&self) -> u64 {
        self.shared.lock().dropped_lines
    }

    /// Ends the output: the writer gets up to `grace` to write what is
    /// queued, then is called off. Returns by then (and [`CANCEL_GRACE`])
    /// whatever the fd does. A writer the kernel holds inside a `write`
    /// (a terminal stopped mid-write) is left behind, to end with the
    /// process.
    pub fn finish(mut self, grace: Duration) -> Flushed {
        let mut state = self.shared.lock();
        state.closing = true;
        self.shared.changed.notify_all();
        state = self.shared.wait_ended(state, Instant::now() + grace);
        if state.ended.is_none() {
            self.call_off();
            state = self.shared.wait_ended(state, Instant::now() + CANCEL_GRACE);
        }
        let mut flushed = Flushed {
            dropped_lines: state.dropped_lines,
            error: None,
        };
        match state.ended {
            Some(Ended::Drained) => {}
            // Its reader left: what it did not take was not wanted.
            Some(Ended::Failed(errno)) => flushed.error = Some(errno),
            Some(Ended::Cancelled) | None => {
                flushed.dropped_lines +=
                    state.queued_lines + self.shared.in_flight.load(Ordering::Acquire);
            }
        }
        let ended = state.ended.is_some();
        drop(state);
        if ended && let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        flushed
    }

    fn call_off(&self) {
        // A full pipe already says "stop"; nothing else can fail here.
        let _ = rustix::io::write(&self.cancel, b"x");
    }
}

impl Drop for OutputQueue {
    /// Not finished: the writer is told to close and called off at once.
    fn drop(&mut self) {
        if self.writer.is_some() {
            self.shared.lock().closing = true;
            self.shared.changed.notify_all();
            self.call_off();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn wait_ended<'a>(
        &self,
        mut state: MutexGuard<'a, State>,
        deadline: Instant,
    ) -> MutexGuard<'a, State> {
        while state.ended.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        state
    }

    fn end(&self, ended: Ended) {
        self.lock().ended = Some(ended);
        self.changed.notify_all();
    }

    /// The writer thread: takes everything queued at once (the two buffers
    /// trade places, so nothing is allocated once both have grown) and
    /// writes it piece by piece.
    fn write_out(&self, fd: BorrowedFd<'_>, cancel: &OwnedFd) {
        let mut batch = Vec::new();
        loop {
            {
                let mut state = self.lock();
                while state.queued.is_empty() && !state.closing {
                    state = self
                        .changed
                        .wait(state)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                if state.queued.is_empty() {
                    state.ended = Some(Ended::Drained);
                    drop(state);
                    self.changed.notify_all();
                    return;
                }
                std::mem::swap(&mut state.queued, &mut batch);
                let lines = std::mem::take(&mut state.queued_lines);
                self.in_flight.store(lines, Ordering::Release);
            }
            let mut rest = &batch[..];
            while !rest.is_empty() {
                let piece = line_piece(rest);
                match write_all_polled(fd, piece, cancel.as_fd()) {
                    Ok(true) => {
                        self.in_flight
                            .fetch_sub(count_lines(piece), Ordering::AcqRel);
                        rest = &rest[piece.len()..];
                    }
                    Ok(false) => return self.end(Ended::Cancelled),
                    Err(errno) => return self.end(Ended::Failed(errno)),
                }
            }
            batch.clear();
        }
    }
}

/// The next write of a batch: at most `PIPE_BUF` bytes, ending at a line's
/// end when one is in reach (a longer line goes out in `PIPE_BUF` pieces).
fn line_piece(rest: &[u8]) -> &[u8] {
    if rest.len() <= PIPE_BUF {
        return rest;
    }
    match rest[..PIPE_BUF].iter().rposition(|&b| b == b'\n') {
        Some(end) => &rest[..=end],
        None => &rest[..PIPE_BUF],
    }
}

fn count_lines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::read_some;

    fn line(i: usize) -> String {
        format!("line {i:06} of the queue test\n")
    }

    /// A pipe whose write end lives for the rest of the test process, as
    /// `spawn` wants a `'static` fd.
    fn leaked_pipe() -> (OwnedFd, BorrowedFd<'static>) {
        let (read_end, write_end) =
            pipe_with(PipeFlags::CLOEXEC).unwrap_or_else(|e| panic!("pipe: {e}"));
        let write_end: &'static OwnedFd = Box::leak(Box::new(write_end));
        (read_end, write_end.as_fd())
    }

    fn read_available(fd: &OwnedFd) -> Vec<u8> {
        rustix::io::ioctl_fionbio(fd, true).unwrap_or_else(|e| panic!("FIONBIO: {e}"));
        let mut got = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n @ 1..) = read_some(fd, &mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        got
    }

    #[test]
    fn lines_pass_through_whole_and_in_order_to_a_reader() {
        let (read_end, write_end) = leaked_pipe();
        let queue =
            OutputQueue::spawn(write_end, 1 << 20, "test writer").unwrap_or_else(|e| panic!("{e}"));
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0u8; 8192];
            while got.len() < 20_000 * line(0).len() {
                match read_some(&read_end, &mut buf) {
                    Ok(n @ 1..) => got.extend_from_slice(&buf[..n]),
                    other => panic!("read: {other:?}"),
                }
            }
            got
        });
        let mut expected = Vec::new();
        for chunk in 0..100 {
            let lines: String = (chunk * 200..(chunk + 1) * 200).map(line).collect();
            assert_eq!(queue.push(lines.as_bytes()), Pushed::Queued);
            expected.extend_from_slice(lines.as_bytes());
        }
        let got = reader.join().unwrap_or_else(|_| panic!("reader panicked"));
        assert!(got == expected, "{} of {} bytes", got.len(), expected.len());
        assert_eq!(queue.finish(Duration::from_secs(5)), Flushed::default());
    }

    #[test]
    fn a_reader_that_never_reads_costs_lines_counted_and_never_a_wait() {
        let (read_end, write_end) = leaked_pipe();
        let queue = OutputQueue::spawn(write_end, 64 * 1024, "test writer")
            .unwrap_or_else(|e| panic!("{e}"));
        let lines: String = (0..10_000).map(line).collect();
        let started = Instant::now();
        for _ in 0..10 {
            assert_eq!(queue.push(lines.as_bytes()), Pushed::Queued);
        }
        let pushing = started.elapsed();
        let finished = Instant::now();
        let flushed = queue.finish(Duration::from_millis(200));
        let finishing = finished.elapsed();
        assert!(pushing < Duration::from_secs(5), "pushing took {pushing:?}");
        assert!(
            finishing < Duration::from_secs(5),
            "finish took {finishing:?}"
        );
        // Every line is either in the pipe, whole, or counted as dropped.
        let got = read_available(&read_end);
        assert!(got.ends_with(b"\n"), "a line was cut in the pipe");
        let written = count_lines(&got);
        assert!(written > 0 && flushed.dropped_lines > 0, "{flushed:?}");
        assert_eq!(written + flushed.dropped_lines, 100_000, "{flushed:?}");
        assert_eq!(flushed.error, None);
    }

    #[test]
    fn a_reader_that_left_makes_the_queue_gone_with_epipe() {
        let (read_end, write_end) = leaked_pipe();
        drop(read_end);
        let queue =
            OutputQueue::spawn(write_end, 1 << 20, "test writer").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(queue.push(b"nobody reads this\n"), Pushed::Queued);
        let deadline = Instant::now() + Duration::from_secs(10);
        let ended = queue.shared.wait_ended(queue.shared.lock(), deadline).ended;
        assert_eq!(ended, Some(Ended::Failed(Errno::PIPE)));
        assert_eq!(queue.push(b"nor this\n"), Pushed::Gone(Errno::PIPE));
        let flushed = queue.finish(Duration::from_secs(5));
        assert_eq!(flushed.error, Some(Errno::PIPE));
    }

    #[test]
    fn pieces_end_at_a_line_end_within_pipe_buf() {
        let short = b"a\nb\n";
        assert_eq!(line_piece(short), short);
        let mut long = vec![b'x'; 3000];
        long.push(b'\n');
        long.extend_from_slice(&[b'y'; 3000]);
        long.push(b'\n');
        assert_eq!(line_piece(&long).len(), 3001);
        let unbroken = vec![b'z'; 10_000];
        assert_eq!(line_piece(&unbroken).len(), PIPE_BUF);
    }
}
