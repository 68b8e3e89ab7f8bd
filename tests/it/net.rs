//! Helpers the echo, client, lifecycle and interop tests share, beside the
//! fixture in `util.rs`: clients on raw sockets (sockkit + rustix, no
//! `std::net`), round trips with sending and receiving overlapped, bounded
//! waits, and a background process whose output can be waited on.
#![allow(dead_code)]

use crate::util::{Captured, DEADLINE, Outcome, wait_child};
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{Shutdown, shutdown, sockopt};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// A blocking client socket connected to `ip:port`.
#[track_caller]
pub fn connect(ip: &str, port: &str) -> OwnedFd {
    let (fd, _) =
        sockkit::connect_socket(ip, port).unwrap_or_else(|e| panic!("connect {ip} {port}: {e}"));
    fd
}

/// Bounds every later `recv` on `fd`: a hang becomes `EAGAIN` after `limit`.
#[track_caller]
pub fn recv_timeout(fd: impl AsFd, limit: Duration) {
    sockopt::set_socket_timeout(&fd, sockopt::Timeout::Recv, Some(limit))
        .unwrap_or_else(|e| panic!("SO_RCVTIMEO: {e}"));
}

/// Bounds every later `send` on `fd`.
#[track_caller]
pub fn send_timeout(fd: impl AsFd, limit: Duration) {
    sockopt::set_socket_timeout(&fd, sockopt::Timeout::Send, Some(limit))
        .unwrap_or_else(|e| panic!("SO_SNDTIMEO: {e}"));
}

/// Reads until the peer closes; panics on an error (a timeout included).
#[track_caller]
pub fn recv_to_eof(fd: impl AsFd) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match sockkit::io::recv_some(fd.as_fd(), &mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("recv after {} bytes: {e:?}", got.len()),
        }
    }
}

/// Reads exactly `len` bytes (or panics: EOF, error, timeout).
#[track_caller]
pub fn recv_exact(fd: impl AsFd, len: usize) -> Vec<u8> {
    let mut got = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        match sockkit::io::recv_some(fd.as_fd(), &mut got[filled..]) {
            Ok(0) => panic!("EOF after {filled} of {len} bytes"),
            Ok(n) => filled += n,
            Err(e) => panic!("recv after {filled} of {len} bytes: {e:?}"),
        }
    }
    got
}

/// Sends `payload` on `fd` (from a second thread, so the echo coming back
/// is read meanwhile and nobody deadlocks on full buffers), shuts the write
/// side, and returns everything read until the server closes.
#[track_caller]
pub fn exchange(fd: &OwnedFd, payload: &[u8]) -> Vec<u8> {
    recv_timeout(fd, DEADLINE);
    send_timeout(fd, DEADLINE);
    thread::scope(|scope| {
        let sender = scope.spawn(|| {
            sockkit::io::send_all(fd, payload)?;
            shutdown(fd, Shutdown::Write)
        });
        let got = recv_to_eof(fd);
        match sender.join() {
            Ok(Ok(())) => got,
            Ok(Err(e)) => panic!("send: {e:?}"),
            Err(_) => panic!("sender panicked"),
        }
    })
}

/// Connects to `ip:port`, sends `payload`, returns the reply up to EOF.
#[track_caller]
pub fn round_trip(ip: &str, port: &str, payload: &[u8]) -> Vec<u8> {
    exchange(&connect(ip, port), payload)
}

/// Asserts two byte strings are equal, showing lengths and the first
/// differing offset rather than megabytes of bytes.
#[track_caller]
pub fn assert_same_bytes(got: &[u8], expected: &[u8], what: &str) {
    if got == expected {
        return;
    }
    let first = got
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(expected.len()));
    let around = |bytes: &[u8]| {
        let end = bytes.len().min(first + 16);
        format!("{:02x?}", &bytes[first.min(end)..end])
    };
    panic!(
        "{what}: got {} bytes, expected {}; first difference at offset {first}: \
         got {} expected {}",
        got.len(),
        expected.len(),
        around(got),
        around(expected)
    );
}

/// Runs `work` on a thread and fails the test if it takes longer than
/// `limit`: a hang check, not a timing assertion.
#[track_caller]
pub fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (done, finished) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(work());
    });
    match finished.recv_timeout(limit) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: not done within {limit:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}

/// Whether `recv` on `fd` gets nothing for `limit` (a lower bound: "no
/// echo arrives within a second"); the socket must have a receive timeout
/// of `limit` set.
pub fn stays_silent(fd: impl AsFd, limit: Duration) -> bool {
    recv_timeout(&fd, limit);
    let mut buf = [0u8; 64];
    matches!(
        sockkit::io::recv_some(fd.as_fd(), &mut buf),
        Err(Errno::AGAIN)
    )
}

/// The server's summary line, as numbers: `(connections, bytes)`.
#[track_caller]
pub fn summary(stderr: &str) -> (u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("sockd: stopped: "))
        .unwrap_or_else(|| panic!("no summary line in stderr: {stderr}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .filter_map(|w| w.parse().ok())
        .collect();
    match numbers[..] {
        [conns, bytes] => (conns, bytes),
        _ => panic!("summary line not `N connections, M bytes received`: {line}"),
    }
}

/// A process running beside the test (a client under `--wait`, socat),
/// its stderr (and, unless taken, stdout) captured; killed and reaped on
/// drop.
pub struct Background {
    child: Child,
    command: String,
    stdout: Arc<Captured>,
    stderr: Arc<Captured>,
}

impl Background {
    /// Spawns `program args...` with stdin from `stdin`; with
    /// `capture_stdout` false, stdout stays a pipe for the test to take
    /// with [`Background::take_stdout`].
    #[track_caller]
    pub fn spawn(program: &str, args: &[&str], stdin: Stdio, capture_stdout: bool) -> Self {
        let mut child = Command::new(program)
            .args(args)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
        let stdout = Arc::new(Captured::default());
        let stderr = Arc::new(Captured::default());
        if !capture_stdout {
            // Nothing will be read into it: it counts as closed.
            stdout.mark_closed();
        } else if let Some(out) = child.stdout.take() {
            stdout.spawn_reader(out);
        }
        if let Some(err) = child.stderr.take() {
            stderr.spawn_reader(err);
        }
        Self {
            child,
            command: format!("{program} {args:?}"),
            stdout,
            stderr,
        }
    }

    pub fn take_stdout(&mut self) -> std::process::ChildStdout {
        self.child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("stdout already taken"))
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.bytes()).into_owned()
    }

    /// Blocks until the captured stdout shows `needle`, or fails the test.
    #[track_caller]
    pub fn wait_stdout(&self, needle: &str) {
        assert!(
            self.stdout.wait_for(needle, DEADLINE),
            "{} stdout never showed {needle:?}: {}",
            self.command,
            String::from_utf8_lossy(&self.stdout.bytes())
        );
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Blocks until stderr shows `needle`, or fails the test.
    #[track_caller]
    pub fn wait_stderr(&self, needle: &str) {
        assert!(
            self.stderr.wait_for(needle, DEADLINE),
            "{} stderr never showed {needle:?}: {}",
            self.command,
            self.stderr_text()
        );
    }

    /// Waits (bounded by `limit`) for the process to exit; its outcome.
    #[track_caller]
    pub fn wait_exit(mut self, limit: Duration) -> Outcome {
        let status = wait_child(&mut self.child, limit)
            .unwrap_or_else(|| panic!("{} did not exit within {limit:?}", self.command));
        self.stdout.wait_closed(DEADLINE);
        self.stderr.wait_closed(DEADLINE);
        Outcome {
            command: self.command.clone(),
            code: status.code(),
            stdout: self.stdout.bytes(),
            stderr: self.stderr_text(),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
