//! Helpers of the fault tests: blocking test-side sockets with deadlines,
//! echo round trips, and what `/proc` says about a process (CPU time, RSS,
//! open fds). `util.rs` is the shared fixture; this only adds to it.
#![allow(dead_code)]

use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::sockopt::{self, Timeout};
use rustix::net::{RecvFlags, SendFlags, Shutdown};
use std::ffi::OsStr;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// A blocking loopback connection whose every send and recv gives up after
/// `STEP` instead of hanging the test.
pub fn connect(port: u16) -> OwnedFd {
    let (fd, _) = sockkit::connect_socket("127.0.0.1", &port.to_string())
        .unwrap_or_else(|e| panic!("connect 127.0.0.1:{port}: {e}"));
    set_timeouts(&fd, STEP);
    fd
}

/// The longest any single send or recv of a test socket may block.
pub const STEP: Duration = Duration::from_secs(20);

pub fn set_timeouts(fd: impl AsFd, limit: Duration) {
    let _ = sockopt::set_socket_timeout(&fd, Timeout::Recv, Some(limit));
    let _ = sockopt::set_socket_timeout(&fd, Timeout::Send, Some(limit));
}

pub fn send_all(fd: impl AsFd, mut bytes: &[u8]) -> Result<(), Errno> {
    while !bytes.is_empty() {
        match rustix::net::send(&fd, bytes, SendFlags::NOSIGNAL) {
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::INTR) => {}
            Err(errno) => return Err(errno),
        }
    }
    Ok(())
}

/// Reads until EOF (or an error, or `limit` bytes).
pub fn recv_to_eof(fd: impl AsFd, limit: usize) -> (Vec<u8>, Option<Errno>) {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    while got.len() < limit {
        match rustix::net::recv(&fd, &mut buf[..], RecvFlags::empty()) {
            Ok((0, _)) => return (got, None),
            Ok((n, _)) => got.extend_from_slice(&buf[..n]),
            Err(Errno::INTR) => {}
            Err(errno) => return (got, Some(errno)),
        }
    }
    (got, None)
}

/// Reads exactly `len` bytes.
pub fn recv_exact(fd: impl AsFd, len: usize) -> Vec<u8> {
    let mut got = vec![0u8; len];
    let mut at = 0;
    while at < len {
        match rustix::net::recv(&fd, &mut got[at..], RecvFlags::empty()) {
            Ok((0, _)) => panic!("EOF after {at} of {len} bytes"),
            Ok((n, _)) => at += n,
            Err(Errno::INTR) => {}
            Err(errno) => panic!("recv after {at} of {len} bytes: {errno}"),
        }
    }
    got
}

/// One echo client: sends `data` while reading the echo back (two
/// threads), half-closes, reads to EOF; returns what came back.
pub fn echo_round_trip(port: u16, data: &[u8]) -> Vec<u8> {
    let fd = connect(port);
    thread::scope(|scope| {
        let writer = scope.spawn(|| {
            send_all(&fd, data).unwrap_or_else(|e| panic!("send: {e}"));
            let _ = rustix::net::shutdown(&fd, Shutdown::Write);
        });
        let (got, err) = recv_to_eof(&fd, usize::MAX);
        let _ = writer.join();
        assert!(err.is_none(), "recv: {err:?} after {} bytes", got.len());
        got
    })
}

/// Asserts two byte strings are equal without printing megabytes.
#[track_caller]
pub fn assert_same(got: &[u8], expected: &[u8], what: &str) {
    if got != expected {
        let first = got
            .iter()
            .zip(expected)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(expected.len()));
        panic!(
            "{what}: got {} bytes, expected {}; first difference at {first}",
            got.len(),
            expected.len()
        );
    }
}

/// utime + stime of a process, in seconds (`/proc/PID/stat` fields 14–15).
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/stat: {e}"));
    // The command name may hold spaces and parentheses: count after the last ')'.
    let after = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // after ')' the first field is field 3 (state): utime is 14, stime 15.
    let ticks: u64 =
        fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
    let hz = rustix::param::clock_ticks_per_second() as f64;
    ticks as f64 / hz
}

/// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`), in KiB.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// What each open fd of a process points at (`/proc/PID/fd/N` links), by fd.
pub fn fd_targets(pid: u32) -> Vec<(u32, String)> {
    let dir = format!("/proc/{pid}/fd");
    let mut fds: Vec<(u32, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let fd = entry.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(entry.path()).ok()?;
            Some((fd, target.to_string_lossy().into_owned()))
        })
        .collect();
    fds.sort();
    fds
}

/// How many of a process's fds are sockets.
pub fn socket_fds(pid: u32) -> usize {
    fd_targets(pid)
        .iter()
        .filter(|(_, target)| target.starts_with("socket:["))
        .count()
}

/// Polls `check` every 10 ms until it holds or `limit` passes; whether it held.
pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Whether the process still runs (exists and is not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let after = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
            !after.trim_start().starts_with('Z')
        }
        Err(_) => false,
    }
}

/// A finished run with `OsStr` arguments (the fixture's `run` takes `&str`).
pub struct RawOutcome {
    pub command: String,
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// Runs `program` with arbitrary (non-UTF-8, huge) arguments, no stdin;
/// killed after `limit` (then `code` is `None`).
pub fn run_os(program: &str, args: &[&OsStr], limit: Duration) -> RawOutcome {
    let command = describe(program, args);
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command}: {e}"));
    let pid = child.id();
    let (done, finished) = mpsc::channel();
    thread::spawn(move || {
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let out = child.stdout.take();
        let err = child.stderr.take();
        let reader = thread::spawn(move || {
            if let Some(mut err) = err {
                let _ = err.read_to_end(&mut stderr);
            }
            stderr
        });
        if let Some(mut out) = out {
            let _ = out.read_to_end(&mut stdout);
        }
        let stderr = reader.join().unwrap_or_default();
        let status = child.wait();
        let _ = done.send((status, stdout, stderr));
    });
    match finished.recv_timeout(limit) {
        Ok((status, stdout, stderr)) => RawOutcome {
            command,
            code: status.ok().and_then(|s| s.code()),
            stdout,
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        },
        Err(_) => {
            crate::util::kill(pid, rustix::process::Signal::KILL);
            RawOutcome {
                command,
                code: None,
                stdout: Vec::new(),
                stderr: format!("(still running after {limit:?}: killed)"),
            }
        }
    }
}

fn describe(program: &str, args: &[&OsStr]) -> String {
    let name = std::path::Path::new(program)
        .file_name()
        .map_or(program.into(), |n| n.to_string_lossy().into_owned());
    std::iter::once(name)
        .chain(args.iter().map(|a| {
            let shown = format!("{a:?}");
            if shown.len() > 80 {
                format!(
                    "{}…({} bytes)",
                    &shown[..shown.floor_char_boundary(60)],
                    a.len()
                )
            } else {
                shown
            }
        }))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A listening socket the test itself plays server on (port 0).
pub fn test_listener() -> (OwnedFd, u16) {
    let (fd, addr) = sockkit::bind_socket("127.0.0.1", "0").unwrap_or_else(|e| panic!("{e}"));
    rustix::net::listen(&fd, 128).unwrap_or_else(|e| panic!("listen: {e}"));
    (fd, addr.port())
}

/// `accept` with the test's deadline on the accepted socket.
pub fn accept(listener: impl AsFd) -> OwnedFd {
    // CLOEXEC: a server another test spawns meanwhile must not inherit it.
    let fd = rustix::net::accept_with(&listener, rustix::net::SocketFlags::CLOEXEC)
        .unwrap_or_else(|e| panic!("accept: {e}"));
    set_timeouts(&fd, STEP);
    fd
}

/// Closes with `SO_LINGER` 0: the peer gets a RST, not a FIN.
pub fn reset(fd: OwnedFd) {
    let _ = sockopt::set_socket_linger(&fd, Some(Duration::ZERO));
    drop(fd);
}
