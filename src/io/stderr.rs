//! stderr for a program that serves clients: the diagnostics it writes
//! there (`-vv`'s line per connection, a warning a client can cause) must
//! never hold a worker, nor the stop, when stderr is a pipe nobody reads
//! (a harness's `Popen(stderr=PIPE)` that never reads it). After
//! [`queue`], every line meant for stderr goes through one bounded
//! [`OutputQueue`]: lines that find no room are dropped and counted, and
//! [`finish`] gives the reader a moment to take what is left before the
//! process exits. Without [`queue`] (the one-shot programs, whose user
//! reads what they say), lines are written at once, each in one `write(2)`.

use super::output::{Flushed, OutputQueue};
use super::write_all;
use core::time::Duration;
use std::sync::{Mutex, MutexGuard};

/// The most diagnostics waiting for stderr: sixteen pipes' worth, so a
/// reader that merely lags loses nothing.
const QUEUE_BYTES: usize = 1 << 20;

/// How long the last lines wait for a stderr nobody reads, at exit (or
/// before a detach): the stop signal must win over such a reader.
pub const FINAL_FLUSH: Duration = Duration::from_secs(1);

static QUEUE: Mutex<Option<OutputQueue>> = Mutex::new(None);

fn queue_lock() -> MutexGuard<'static, Option<OutputQueue>> {
    QUEUE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// From now on, stderr's lines go through a bounded queue and a writer
/// thread of their own. If neither can be had (out of fds or threads),
/// lines are still written, directly: diagnostics are not worth failing
/// a server for.
pub fn queue() {
    let mut held = queue_lock();
    if held.is_none() {
        *held = OutputQueue::spawn(rustix::stdio::stderr(), QUEUE_BYTES, "stderr").ok();
    }
}

/// Whole lines (`text` ends in `\n`) for stderr: queued after [`queue`],
/// else written at once in one `write(2)` (a reader never sees half a
/// line). A stderr that cannot be written is ignored: there is nowhere
/// left to report it.
pub fn write(text: &[u8]) {
    let held = queue_lock();
    match held.as_ref() {
        Some(queue) => {
            queue.push(text);
        }
        None => {
            drop(held);
            let _ = write_all(rustix::stdio::stderr(), text);
        }
    }
}

/// Lines dropped so far because stderr was not read.
pub fn dropped_lines() -> u64 {
    queue_lock().as_ref().map_or(0, OutputQueue::dropped_lines)
}

/// Lets what is queued drain for up to `grace`, then writes directly
/// again. Returns what did not get out.
pub fn finish(grace: Duration) -> Flushed {
    let taken = queue_lock().take();
    taken.map_or_else(Flushed::default, |queue| queue.finish(grace))
}

/// stderr as an `io::Write` for the logger: each record (one `write_all`
/// of a whole formatted line) goes to [`write`].
#[derive(Debug, Default)]
pub struct Lines;

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        write(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
