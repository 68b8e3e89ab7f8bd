//! Issue 8, items 4–7, 9 and 10: nothing a client or a stdout reader does
//! can freeze sockd, hold its only chat slot, or make it ignore SIGTERM;
//! and what it sends arrives whole. Each assertion message carries the
//! figure it measured.

use crate::util::net::{
    LOCAL, STEP, connect, exchange, loopback, recv_timeout, recv_upto, send_all, set_timeouts,
};
use crate::util::{DEADLINE, eventually, sockd, stop_line_in};
use rustix::fd::OwnedFd;
use rustix::net::{Shutdown, shutdown};
use rustix::process::Signal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// What a default pipe holds: 16 pages. Written in whole lines of at
/// most a page each, it is full with up to a page less.
const PIPE_BYTES: u64 = 64 * 1024;
const PIPE_FULL: u64 = PIPE_BYTES - 4096;

/// A pipe for sockd's stdout (or stderr): (read end, write end), both
/// close-on-exec in the test process (the write end becomes sockd's fd 1,
/// or 2, without it).
fn stdout_pipe() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .unwrap_or_else(|e| panic!("pipe: {e}"))
}

/// `lines` messages `line 000000` … as one payload.
fn numbered_lines(lines: usize) -> Vec<u8> {
    (0..lines)
        .flat_map(|i| format!("line {i:06}\n").into_bytes())
        .collect()
}

/// Sends `payload` on a new connection (from a thread, shutting the write
/// side after it) and reads the echo until EOF, or until nothing has come
/// for `quiet`: what came back, and how long it took.
fn echo_of(port: u16, payload: &[u8], quiet: Duration) -> (Vec<u8>, Duration) {
    let fd = connect(port);
    set_timeouts(&fd, quiet);
    let started = Instant::now();
    thread::scope(|scope| {
        scope.spawn(|| {
            if sockkit::io::send_all(&fd, payload).is_ok() {
                let _ = shutdown(&fd, Shutdown::Write);
            }
        });
        let (got, _) = recv_upto(&fd, usize::MAX);
        (got, started.elapsed())
    })
}

fn count_lines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Item 4: `sockd | less`, paused. The transcript's pipe fills and stays
/// full; echo goes on for the client that fills it and for new ones, the
/// lines that find no room are dropped and counted on the stop line, and
/// SIGTERM stops sockd at once.
#[test]
fn a_stdout_nobody_reads_stalls_no_client_and_never_the_stop() {
    const LINES: usize = 100_000;
    let (read_end, write_end) = stdout_pipe();
    let mut server = sockd()
        .args(["--threads", "1", LOCAL, "0"])
        .stdout(write_end)
        .serve();
    let port = server.port();
    // 1.2 MB of short lines, 2.7 MB of transcript: far more than the pipe
    // (64 KiB) and sockd's transcript queue hold.
    let payload = numbered_lines(LINES);
    let quiet = Duration::from_secs(5);
    let (echoed, took) = echo_of(port, &payload, quiet);
    assert!(
        echoed == payload,
        "the client filling the transcript got {} of {} bytes back in {took:?}",
        echoed.len(),
        payload.len()
    );
    let late: Vec<(usize, Duration)> = (0..6)
        .map(|i| {
            let message = format!("client {i}\n");
            let (echoed, took) = echo_of(port, message.as_bytes(), quiet);
            (usize::from(echoed == message.as_bytes()), took)
        })
        .collect();
    let served: usize = late.iter().map(|(ok, _)| ok).sum();
    assert_eq!(
        served, 6,
        "{served} of 6 new clients got their echo: {late:?}"
    );
    let signalled = Instant::now();
    server.signal(Signal::TERM);
    let exited = server.exits_within(Duration::from_secs(10));
    let stopping = signalled.elapsed();
    assert!(exited, "sockd still ran {stopping:?} after SIGTERM");
    let stopped = server.wait_exit();
    stopped.success();
    // Every line is either in the pipe, whole, or counted as dropped.
    let in_pipe = read_pipe(&read_end, |_| {});
    assert!(in_pipe.ends_with(b"\n"), "a transcript line was cut");
    let dropped = stopped.transcript_dropped();
    assert!(dropped > 0, "{stopped}");
    assert_eq!(
        count_lines(&in_pipe) + dropped,
        LINES as u64 + 6,
        "{} lines in the pipe, {dropped} counted as dropped\n{stopped}",
        count_lines(&in_pipe)
    );
    eprintln!(
        "stdout not read: {} bytes echoed in {took:?}, 6 of 6 new clients served, \
         stopped {stopping:?} after SIGTERM, {dropped} lines dropped",
        payload.len()
    );
}

/// Reads `pipe` until every writer has gone; `each` sees each chunk as it
/// comes.
fn read_pipe(pipe: &OwnedFd, mut each: impl FnMut(&[u8])) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n @ 1..) = sockkit::io::read_some(pipe, &mut buf) {
        each(&buf[..n]);
        got.extend_from_slice(&buf[..n]);
    }
    got
}

/// Reads `pipe` to EOF on a thread; the count of lines read so far is
/// shared as they come.
fn read_lines_to_eof(pipe: OwnedFd) -> (Arc<AtomicU64>, thread::JoinHandle<Vec<u8>>) {
    let lines = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&lines);
    let reader = thread::spawn(move || {
        read_pipe(&pipe, |chunk| {
            counter.fetch_add(count_lines(chunk), Ordering::Relaxed);
        })
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
    let client = thread::spawn(move || exchange(&connect(port), &sent));
    // 27 bytes a line: 270 KB of transcript for a 64 KiB pipe nobody reads yet.
    let full = eventually(DEADLINE, || {
        rustix::io::ioctl_fionread(&read_end).unwrap_or(0) >= PIPE_FULL
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
        seen.load(Ordering::Relaxed) >= LINES as u64
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
        .map(|i| format!("127.0.0.1 say: line {i:06}\n"))
        .collect();
    assert!(
        got == expected.as_bytes(),
        "transcript: {} bytes, expected {}\n{stopped}",
        got.len(),
        expected.len()
    );
    assert!(!stopped.stderr.contains("transcript"), "{stopped}");
}

/// Item 7: a chat client trickling its message a byte every half second
/// cannot hold the one chat slot past `--idle-timeout`: the message must
/// be complete within that time of the accept. The client behind it is
/// served.
#[test]
fn chat_a_trickling_client_gives_up_the_slot_at_the_idle_timeout() {
    let server = sockd()
        .args(["--chat", "--idle-timeout", "1", LOCAL, "0"])
        .stdin_bytes(b"hello\n")
        .serve();
    let port = server.port();
    let started = Instant::now();
    // Connected first, so first in the backlog and the one accepted.
    let fd = connect(port);
    let trickler = thread::spawn(move || {
        let mut sent = 0;
        // A byte, then half a second of listening (which also sees sockd
        // close): 10 s of it, unless sockd lets go first.
        while sent < 20 {
            if sockkit::io::send_all(&fd, b"x").is_err() {
                break;
            }
            sent += 1;
            recv_timeout(&fd, Duration::from_millis(500));
            let mut buf = [0u8; 16];
            match sockkit::io::recv_some(&fd, &mut buf) {
                Err(rustix::io::Errno::AGAIN) => continue,
                _ => break,
            }
        }
        (sent, started.elapsed())
    });
    // The next client, in the backlog behind the trickler.
    let next = connect(port);
    send_all(&next, b"hi\n");
    let (reply, _) = {
        recv_timeout(&next, Duration::from_secs(8));
        recv_upto(&next, usize::MAX)
    };
    let waited = started.elapsed();
    let (sent, held) = trickler
        .join()
        .unwrap_or_else(|_| panic!("the trickler panicked"));
    assert_eq!(
        reply,
        b"hello",
        "the next client got {:?} after {waited:?}; the trickler sent {sent} bytes and held \
         the slot for {held:?} under --idle-timeout 1",
        String::from_utf8_lossy(&reply)
    );
    assert!(
        held < Duration::from_secs(5),
        "the trickler held the slot for {held:?} ({sent} bytes) under --idle-timeout 1"
    );
    eprintln!(
        "chat slowloris: let go after {held:?} ({sent} bytes); the next client served after {waited:?}"
    );
}

/// A connection to `127.0.0.1:port` with `SO_RCVBUF` set before the
/// handshake, so the window it offers is small from the start.
fn connect_with_rcvbuf(port: u16, bytes: usize) -> OwnedFd {
    let target = loopback(port);
    let fd = sockkit::init_socket(&target).unwrap_or_else(|e| panic!("socket: {e}"));
    rustix::net::sockopt::set_socket_recv_buffer_size(&fd, bytes)
        .unwrap_or_else(|e| panic!("SO_RCVBUF: {e}"));
    let addr = target.socket_addr().unwrap_or_else(|| panic!("{target}"));
    rustix::net::connect(&fd, &addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    set_timeouts(&fd, STEP);
    fd
}

/// sockd's stdin in chat mode, the operator's replies: a line of `len`
/// bytes, then `then`.
fn replies(len: usize, then: &[u8]) -> Vec<u8> {
    let mut typed = vec![b'r'; len];
    typed.push(b'\n');
    typed.extend_from_slice(then);
    typed
}

/// Item 5: `--chat` with an 8 MiB reply to a client that never reads it:
/// sockd waits for room in `poll` with the stop signal, so SIGTERM ends it.
#[test]
fn chat_a_client_that_does_not_read_its_large_reply_cannot_hold_off_sigterm() {
    let mut server = sockd()
        .args(["--chat", LOCAL, "0"])
        .stdin_bytes(replies(8 << 20, b""))
        .serve();
    let client = connect(server.port());
    send_all(&client, b"hi\n");
    // The reply is on its way once the first of it reaches the client.
    let sending = eventually(DEADLINE, || {
        rustix::io::ioctl_fionread(&client).unwrap_or(0) > 0
    });
    assert!(sending, "no reply started");
    let signalled = Instant::now();
    server.signal(Signal::TERM);
    let exited = server.exits_within(Duration::from_secs(10));
    let stopping = signalled.elapsed();
    let queued = rustix::io::ioctl_fionread(&client).unwrap_or(0);
    assert!(
        exited,
        "sockd --chat still ran {stopping:?} after SIGTERM, sending an 8 MiB reply \
         the client does not read ({queued} bytes of it arrived)"
    );
    server.wait_exit().success();
    eprintln!(
        "chat reply nobody reads: stopped {stopping:?} after SIGTERM ({queued} bytes arrived)"
    );
}

/// Item 5, with `--idle-timeout`: a client (small `SO_RCVBUF`) that takes
/// none of its 8 MiB reply for the idle timeout is let go, and the client
/// behind it is served. (The kernel takes a few MiB into sockd's send
/// buffer whatever the client's window: the reply must be larger.)
#[test]
fn chat_a_client_that_does_not_read_its_reply_is_let_go_at_the_idle_timeout() {
    let server = sockd()
        .args(["--chat", "--idle-timeout", "1", LOCAL, "0"])
        .stdin_bytes(replies(8 << 20, b"small\n"))
        .serve();
    let port = server.port();
    let started = Instant::now();
    let stuck = connect_with_rcvbuf(port, 4096);
    send_all(&stuck, b"hi\n");
    let next = connect(port);
    send_all(&next, b"hi\n");
    recv_timeout(&next, Duration::from_secs(10));
    let (reply, _) = recv_upto(&next, usize::MAX);
    let waited = started.elapsed();
    let queued = rustix::io::ioctl_fionread(&stuck).unwrap_or(0);
    assert_eq!(
        reply,
        b"small",
        "the client behind one that does not read got {:?} after {waited:?} \
         (--idle-timeout 1; {queued} bytes of the 8 MiB reached the stuck client)",
        String::from_utf8_lossy(&reply)
    );
    assert!(waited < Duration::from_secs(8), "{waited:?}");
    eprintln!("chat reply nobody reads, --idle-timeout 1: the next client served after {waited:?}");
}

/// Items 4 and 5 in chat mode: with stdout a pipe nobody reads, the 1 MiB
/// reply line echoed after the prompt fills it; SIGTERM still ends sockd.
#[test]
fn chat_with_a_stdout_nobody_reads_still_stops_on_sigterm() {
    let (read_end, write_end) = stdout_pipe();
    let mut server = sockd()
        .args(["--chat", LOCAL, "0"])
        .stdin_bytes(replies(1 << 20, b""))
        .stdout(write_end)
        .serve();
    let client = connect(server.port());
    send_all(&client, b"hi\n");
    let full = eventually(DEADLINE, || {
        rustix::io::ioctl_fionread(&read_end).unwrap_or(0) >= PIPE_FULL
    });
    assert!(full, "sockd's stdout pipe never filled up");
    let signalled = Instant::now();
    server.signal(Signal::TERM);
    let exited = server.exits_within(Duration::from_secs(10));
    let stopping = signalled.elapsed();
    assert!(
        exited,
        "sockd --chat still ran {stopping:?} after SIGTERM, its stdout full and unread"
    );
    server.wait_exit().success();
    eprintln!("chat with stdout unread: stopped {stopping:?} after SIGTERM");
}

/// Item 6: a chat client sends `hi\n` and then more before it reads. sockd
/// reads (and drops) the extra bytes while its reply goes out and after,
/// and closes only once the client has: the 1 MiB reply arrives whole, then
/// EOF, never ECONNRESET.
#[test]
fn chat_a_reply_arrives_whole_though_the_client_sent_more_than_its_message() {
    let reply: Vec<u8> = (0..1 << 20).map(|i| b'a' + (i % 26) as u8).collect();
    for extra in [1 << 20, 8 << 20] {
        let mut typed = reply.clone();
        typed.push(b'\n');
        let server = sockd()
            .args(["--chat", "--exit-after", "1", LOCAL, "0"])
            .stdin_bytes(typed)
            .serve();
        let fd = connect(server.port());
        set_timeouts(&fd, DEADLINE);
        let mut sent = b"hi\n".to_vec();
        sent.extend_from_slice(&crate::util::random_bytes(extra, extra as u64));
        let (got, err) = thread::scope(|scope| {
            scope.spawn(|| {
                send_all(&fd, &sent);
                let _ = shutdown(&fd, Shutdown::Write);
            });
            recv_upto(&fd, usize::MAX)
        });
        assert!(
            err.is_none() && got == reply,
            "with {extra} bytes after its message, the client got {} of the {} byte reply, \
             then {err:?}",
            got.len(),
            reply.len()
        );
        let stopped = server.wait_exit();
        stopped.success();
        assert_eq!(stopped.summary(), (1, sent.len() as u64), "{stopped}");
    }
}

/// Item 9: a client busy reading its echo is not silent. It sends 4 MiB
/// and reads the echo at 80 KB/s through a small receive buffer: most of
/// the time sockd's `send` returned long ago and the bytes leave from the
/// kernel's queue, which no event reports. Under `--idle-timeout 1` it must
/// stay open for 3 s of slow reading, then get every byte.
#[test]
fn idle_timeout_spares_a_client_busy_reading_its_echo() {
    let server = sockd()
        .args(["-q", "--threads", "1", "--idle-timeout", "1", LOCAL, "0"])
        .serve();
    let fd = connect_with_rcvbuf(server.port(), 16 * 1024);
    let payload = crate::util::random_bytes(4 << 20, 0x51_0e);
    let started = Instant::now();
    let (got, err) = thread::scope(|scope| {
        scope.spawn(|| {
            // sockd reads it only as fast as the echo leaves: the last of
            // it goes out once the reader speeds up.
            set_timeouts(&fd, DEADLINE);
            if sockkit::io::send_all(&fd, &payload).is_ok() {
                let _ = shutdown(&fd, Shutdown::Write);
            }
        });
        read_slowly_then_all(&fd)
    });
    let took = started.elapsed();
    assert!(
        err.is_none() && got == payload,
        "a client reading its echo at 80 KB/s under --idle-timeout 1 got {} of {} bytes, \
         then {err:?}, after {took:?}",
        got.len(),
        payload.len()
    );
}

/// Item 9's other side: a client that stopped reading (its echo stuck in
/// sockd's kernel queue, which does not move) is still silent, and is
/// closed once that queue has not moved for the idle timeout.
#[test]
fn idle_timeout_still_closes_a_client_that_stopped_reading() {
    let server = sockd()
        .args(["-q", "--threads", "1", "--idle-timeout", "1", LOCAL, "0"])
        .serve();
    let fd = connect_with_rcvbuf(server.port(), 16 * 1024);
    let chunk = crate::util::random_bytes(1 << 20, 0x57_0c);
    let started = Instant::now();
    let sender = thread::spawn(move || {
        set_timeouts(&fd, DEADLINE);
        // Blocks once every buffer is full, until sockd closes (a reset).
        let mut sent = 0usize;
        let failed = loop {
            match sockkit::io::send_all(&fd, &chunk) {
                Ok(()) if sent < 1 << 30 => sent += chunk.len(),
                Ok(()) => break None,
                Err(e) => break Some(e),
            }
        };
        (failed, sent, started.elapsed())
    });
    let (failed, sent, took) = within_limit(sender, Duration::from_secs(30));
    assert!(
        failed.is_some() && took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "a client that never reads (after sending {sent} bytes) was closed after {took:?} \
         under --idle-timeout 1 ({failed:?})"
    );
    eprintln!("idle: a client that stopped reading was closed after {took:?} ({sent} bytes sent)");
}

/// Joins `worker`, failing the test if it runs past `limit`.
fn within_limit<T>(worker: thread::JoinHandle<T>, limit: Duration) -> T {
    let finished = eventually(limit, || worker.is_finished());
    assert!(finished, "still running after {limit:?}");
    worker
        .join()
        .unwrap_or_else(|_| panic!("the worker panicked"))
}

/// A slow reader: 4 KiB every 50 ms (80 KB/s) for 3 s from the first
/// byte, then everything to EOF. What it read, and what ended it early (an
/// early EOF, an error).
fn read_slowly_then_all(fd: &OwnedFd) -> (Vec<u8>, Option<String>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    match sockkit::io::recv_some(fd, &mut buf) {
        Ok(n @ 1..) => got.extend_from_slice(&buf[..n]),
        other => return (got, Some(format!("{other:?} before the first byte"))),
    }
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        // Pacing, not waiting for anything.
        thread::sleep(Duration::from_millis(50));
        match sockkit::io::recv_some(fd, &mut buf) {
            Ok(0) => return (got, Some("EOF".to_string())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return (got, Some(format!("{e:?}"))),
        }
    }
    let (rest, err) = recv_upto(fd, usize::MAX);
    got.extend_from_slice(&rest);
    (got, err.map(|e| format!("{e:?}")))
}

/// Item 9 in chat mode: a client reading its 32 MiB reply slowly (80 KB/s)
/// takes bytes from the kernel's queue for seconds while `send` finds no
/// room (the kernel wakes a sender once half its buffer is free: 2 MiB, 25
/// s at that pace); under `--idle-timeout 1` it is not stalled, and gets
/// the whole reply.
#[test]
fn chat_idle_timeout_spares_a_client_reading_its_reply_slowly() {
    const REPLY: usize = 32 << 20;
    let chat = ["--chat", "--idle-timeout", "1", "--exit-after", "1"];
    let server = sockd()
        .args(chat)
        .args([LOCAL, "0"])
        .stdin_bytes(replies(REPLY, b""))
        .serve();
    let fd = connect_with_rcvbuf(server.port(), 16 * 1024);
    set_timeouts(&fd, DEADLINE);
    send_all(&fd, b"hi\n");
    let started = Instant::now();
    let (got, err) = read_slowly_then_all(&fd);
    let took = started.elapsed();
    assert!(
        err.is_none() && got.len() == REPLY && got.iter().all(|&b| b == b'r'),
        "a chat client reading its reply at 80 KB/s under --idle-timeout 1 got {} of {REPLY} \
         bytes, then {err:?}, after {took:?}",
        got.len(),
    );
    server.wait_exit().success();
}

/// A listener shut down under sockd (here through a `pidfd_getfd` copy, as
/// `ss -K` or a `sockstat --kill` would end it) makes every `accept` say
/// EINVAL. The echo worker retried in a loop that never went back to the
/// stop signal: a core at 100% and SIGTERM ignored, for as long as one
/// cared to watch. sockd now ends, exit 71, naming the error.
#[test]
fn a_listener_shut_down_under_sockd_ends_it_instead_of_a_spin() {
    if !crate::util::skip::require_root() {
        return;
    }
    for mode in ["-q", "--chat"] {
        // A reply line ready: a chat sockd whose stdin has ended and gave
        // none exits at once, listener or not.
        let mut server = sockd()
            .args([mode, LOCAL, "0"])
            .stdin_bytes(b"a reply\n")
            .serve();
        let pid = server.pid();
        let listener = crate::util::procfs::fd_targets(pid)
            .into_iter()
            .find(|(_, target)| target.starts_with("socket:["))
            .map(|(fd, _)| fd)
            .unwrap_or_else(|| panic!("sockd {mode} holds no socket"));
        let pidfd = rustix::process::Pid::from_raw(pid as i32)
            .and_then(|pid| {
                rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
            })
            .unwrap_or_else(|| panic!("pidfd_open {pid}"));
        let copy = rustix::process::pidfd_getfd(
            &pidfd,
            listener as i32,
            rustix::process::PidfdGetfdFlags::empty(),
        )
        .unwrap_or_else(|e| panic!("pidfd_getfd {pid} {listener}: {e}"));
        shutdown(&copy, Shutdown::Read).unwrap_or_else(|e| panic!("shutdown: {e}"));
        let started = Instant::now();
        let exited = server.exits_within(Duration::from_secs(10));
        let stopping = started.elapsed();
        if !exited {
            let cpu = crate::util::procfs::cpu_seconds(pid);
            panic!(
                "sockd {mode} still ran {stopping:?} after its listener was shut down \
                 ({cpu:.1} s of CPU)"
            );
        }
        let out = server.wait_exit();
        assert_eq!(out.code, Some(71), "{out}");
        out.stderr_has(&format!("sockd: accept {LOCAL}:"))
            .stderr_has("(EINVAL)")
            .no_panic();
    }
}

/// `sockbench churn` against `port` in rounds of a second until `at_least`
/// connections have been made: each round must make some (a server that
/// stopped serving makes none) and see no error. Returns the connections.
fn churn(port: u16, at_least: u64) -> u64 {
    let port = port.to_string();
    let mut made = 0;
    for round in 0..60 {
        let run = crate::bench::json_run(&["churn", "-c", "8", "-d", "1", LOCAL, &port]);
        assert_eq!(run["errors"], serde_json::json!({}), "round {round}: {run}");
        let connects = run["connects"]
            .as_u64()
            .unwrap_or_else(|| panic!("no connects: {run}"));
        assert!(connects > 0, "round {round}: no connection served: {run}");
        made += connects;
        if made >= at_least {
            return made;
        }
    }
    panic!("{made} connections in 60 rounds, fewer than {at_least}")
}

/// A harness's `Popen(stderr=PIPE)` that never reads it, with `-vv`'s two
/// lines per connection: once the pipe is full, clients are still served
/// and SIGTERM still stops sockd at once (both waited for stderr before).
#[test]
fn a_stderr_nobody_reads_stalls_no_client_and_never_the_stop() {
    let (read_end, write_end) = stdout_pipe();
    let mut server = sockd()
        .args(["-vv", "--threads", "1", LOCAL, "0"])
        .stdout(std::process::Stdio::null())
        .stderr(write_end)
        .serve();
    let port = server.port();
    // About 90 bytes of lines each: ten times what the pipe holds.
    let made = churn(port, 7_000);
    let (echoed, took) = echo_of(port, b"still there\n", Duration::from_secs(5));
    assert_eq!(
        echoed, b"still there\n",
        "the next client's echo, after {took:?}"
    );
    let signalled = Instant::now();
    server.signal(Signal::TERM);
    let exited = server.exits_within(Duration::from_secs(10));
    let stopping = signalled.elapsed();
    assert!(exited, "sockd still ran {stopping:?} after SIGTERM");
    server.wait_exit().success();
    let in_pipe = read_pipe(&read_end, |_| {});
    // Full: its 16 pages, each holding what whole-line writes left there.
    assert!(
        in_pipe.len() as u64 >= PIPE_BYTES / 2,
        "only {} bytes",
        in_pipe.len()
    );
    assert!(in_pipe.ends_with(b"\n"), "a line was cut");
    eprintln!(
        "stderr not read: {made} connections, the next echoed in {took:?}, \
         stopped {stopping:?} after SIGTERM"
    );
}

/// Lines a stderr reader was too late for are counted on the stop line,
/// and only those: every connection's two `-vv` lines are in the pipe or
/// in that count.
#[test]
fn lines_stderr_had_no_room_for_are_counted_on_the_stop_line() {
    let (read_end, write_end) = stdout_pipe();
    let server = sockd()
        .args(["-vv", "--threads", "1", LOCAL, "0"])
        .stdout(std::process::Stdio::null())
        .stderr(write_end)
        .serve();
    // Some 1.8 MB of lines: more than the pipe and sockd's 1 MiB queue.
    let mut made = churn(server.port(), 20_000);
    // Read from now on: the queue drains.
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = thread::spawn({
        let seen = Arc::clone(&seen);
        move || {
            read_pipe(&read_end, |chunk| {
                seen.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(chunk)
            })
        }
    });
    // Drained once a connection made now has its close line read (one
    // made while the queue was still full may find no room: another).
    let drained = (0..20).any(|_| {
        let fd = connect(server.port());
        let closed = format!(
            "sockd: closed 127.0.0.1:{}:",
            crate::util::net::local_port(&fd)
        );
        assert_eq!(exchange(&fd, b"x"), b"x");
        drop(fd);
        made += 1;
        eventually(Duration::from_secs(2), || {
            let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
            String::from_utf8_lossy(&seen).contains(&closed)
        })
    });
    assert!(drained, "20 connections' close lines never came through");
    // The stop line now finds the queue empty, and gets out at once.
    server.signal(Signal::TERM);
    server.wait_exit().success();
    let got = reader.join().unwrap_or_else(|_| panic!("reader panicked"));
    let text = String::from_utf8_lossy(&got);
    let stop = stop_line_in(&text).unwrap_or_else(|| panic!("no stop line in {} bytes", got.len()));
    let per_connection = text
        .lines()
        .filter(|line| line.starts_with("sockd: accepted ") || line.starts_with("sockd: closed "))
        .count() as u64;
    assert!(
        stop.diagnostics > 0,
        "nothing dropped of {made} connections' lines"
    );
    assert_eq!(
        per_connection + stop.diagnostics,
        2 * made,
        "{per_connection} lines in the pipe, {} counted as dropped, {made} connections",
        stop.diagnostics
    );
    assert_eq!(stop.count, made, "connections on the stop line");
}
