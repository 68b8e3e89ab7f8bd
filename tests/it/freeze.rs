//! Issue 8, items 4–7, 9 and 10: nothing a client or a stdout reader does
//! can freeze sockd, hold its only chat slot, or make it ignore SIGTERM;
//! and what it sends arrives whole. Each assertion message carries the
//! figure it measured.

use crate::util::net::{LOCAL, exchange};
use crate::util::{DEADLINE, eventually, sockd};
use rustix::fd::OwnedFd;
use rustix::process::Signal;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

/// What a default pipe holds.
const PIPE_BYTES: u64 = 64 * 1024;

/// A pipe for sockd's stdout: (read end, write end), both close-on-exec in
/// the test process (the write end becomes sockd's fd 1, without it).
fn stdout_pipe() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .unwrap_or_else(|e| panic!("pipe: {e}"))
}

/// `lines` messages `line 00000` … as one payload.
fn numbered_lines(lines: usize) -> Vec<u8> {
    (0..lines)
        .flat_map(|i| format!("line {i:05}\n").into_bytes())
        .collect()
}

/// Reads `pipe` to EOF on a thread; the count of lines read so far is
/// shared as they come.
fn read_lines_to_eof(pipe: OwnedFd) -> (Arc<AtomicUsize>, thread::JoinHandle<Vec<u8>>) {
    let lines = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&lines);
    let reader = thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = sockkit::io::read_some(&pipe, &mut buf) {
            got.extend_from_slice(&buf[..n]);
            let newlines = buf[..n].iter().filter(|&&b| b == b'\n').count();
            counter.fetch_add(newlines, Ordering::Relaxed);
        }
        got
    });
    (lines, reader)
}

/// Item 10: a non-blocking stdout that fills up says EAGAIN; sockd waits
/// for room instead of turning its transcript off, and every line arrives
/// once the reader reads.
#[test]
fn a_full_non_blocking_stdout_is_waited_for_not_given_up() {
    const LINES: usize = 10_000;
    let (read_end, write_end) = stdout_pipe();
    // O_NONBLOCK on the write end's file description, which sockd's fd 1
    // shares: its writes get EAGAIN once the pipe is full.
    rustix::fs::fcntl_setfl(&write_end, rustix::fs::OFlags::NONBLOCK)
        .unwrap_or_else(|e| panic!("F_SETFL: {e}"));
    let server = sockd()
        .args(["--threads", "1", LOCAL, "0"])
        .stdout(write_end)
        .serve();
    let port = server.port();
    let payload = numbered_lines(LINES);
    let sent = payload.clone();
    let client = thread::spawn(move || exchange(&crate::util::net::connect(port), &sent));
    // 26 bytes a line: 260 KB of transcript for a 64 KiB pipe nobody reads yet.
    let full = eventually(DEADLINE, || {
        rustix::io::ioctl_fionread(&read_end).unwrap_or(0) >= PIPE_BYTES
    });
    assert!(full, "sockd's stdout pipe never filled up");
    let (seen, reader) = read_lines_to_eof(read_end);
    let echoed = client
        .join()
        .unwrap_or_else(|_| panic!("the client panicked"));
    assert!(
        echoed == payload,
        "echo: {} of {} bytes",
        echoed.len(),
        payload.len()
    );
    let all = eventually(Duration::from_secs(20), || {
        seen.load(Ordering::Relaxed) >= LINES
    });
    server.signal(Signal::TERM);
    let stopped = server.wait_exit();
    let got = reader.join().unwrap_or_default();
    assert!(
        all,
        "only {} of {LINES} transcript lines arrived after the full pipe was read\n{stopped}",
        seen.load(Ordering::Relaxed)
    );
    stopped.success();
    let expected: String = (0..LINES)
        .map(|i| format!("127.0.0.1 say: line {i:05}\n"))
        .collect();
    assert!(
        got == expected.as_bytes(),
        "transcript: {} bytes, expected {}\n{stopped}",
        got.len(),
        expected.len()
    );
    assert!(!stopped.stderr.contains("transcript"), "{stopped}");
}
