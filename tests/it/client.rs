//! sockc: `--wait`, `--timeout`, refusals, `--keep`, a closed stdout, the
//! transcript loop against the echo server, IPv6 and `localhost`.

use crate::net::{Background, summary, within};
use crate::skip_unless;
use crate::util::{
    DEADLINE, SOCKC, Server, Stdin, TempDir, random_bytes, refused_port, run, run_with,
};
use rustix::process::Signal;
use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

const LOCAL: &str = "127.0.0.1";

#[test]
fn wait_succeeds_against_a_server_started_after_the_client() {
    // The port is held bound but not listening, so connecting is refused
    // and nobody else can take it; sockd (SO_REUSEADDR, like the holder)
    // binds and listens on it while the holder still has it.
    let (holder, port) = refused_port();
    let port = port.to_string();
    let client = Background::spawn(
        SOCKC,
        &["-vv", "--wait", "20", LOCAL, &port, "hi"],
        Stdio::null(),
        true,
    );
    // The client has been refused at least once: it really started first.
    client.wait_stderr("refused; retrying");
    let server = Server::sockd(&["-q", LOCAL, &port]);
    assert_eq!(server.port_arg(), port);
    let out = client.wait_exit(Duration::from_secs(20));
    out.success().stdout_is(b"hi");
    drop(holder);
}

#[test]
fn wait_gives_up_with_econnrefused_69() {
    let (_holder, port) = refused_port();
    let started = Instant::now();
    let out = run(SOCKC, &["--wait", "0.3", LOCAL, &port.to_string(), "hi"]);
    out.fails_with(69, "(ECONNREFUSED)");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "gave up before --wait passed: {:?}",
        started.elapsed()
    );
}

#[test]
fn without_wait_a_refused_connect_exits_69_at_once() {
    let (_holder, port) = refused_port();
    let started = Instant::now();
    let out = run(SOCKC, &[LOCAL, &port.to_string(), "hi"]);
    out.fails_with(69, "(ECONNREFUSED)");
    // Far below the default --timeout of 10 s: no retrying, no waiting.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

/// A listener that completes handshakes (the kernel's backlog) but whose
/// owner never accepts, reads or replies.
fn silent_listener() -> (rustix::fd::OwnedFd, String) {
    let (fd, addr) = sockkit::bind_socket(LOCAL, "0").unwrap_or_else(|e| panic!("{e}"));
    sockkit::socket::listen(&fd, addr, 8).unwrap_or_else(|e| panic!("{e}"));
    (fd, addr.port().to_string())
}

#[test]
fn timeout_against_a_server_that_never_replies_exits_75() {
    let (_listener, port) = silent_listener();
    let started = Instant::now();
    let out = run(SOCKC, &["--timeout", "1", LOCAL, &port, "hi"]);
    let took = started.elapsed();
    out.fails_with(75, "(ETIMEDOUT)");
    out.stderr_has(&format!("127.0.0.1:{port}"));
    assert!(
        took >= Duration::from_millis(900),
        "timed out before --timeout 1: {took:?}"
    );
    assert!(took < Duration::from_secs(8), "--timeout 1 took {took:?}");
    assert!(out.stdout.is_empty());
}

#[test]
fn timeout_in_transcript_mode_against_an_accepted_silent_connection_exits_75() {
    let (listener, port) = silent_listener();
    // Accept and hold the connection, never replying.
    let holder = std::thread::spawn(move || {
        sockkit::socket::accept(&listener, rustix::net::SocketFlags::CLOEXEC)
            .map(|(conn, _)| (conn, listener))
    });
    let started = Instant::now();
    let out = run_with(
        SOCKC,
        &["--timeout", "1", LOCAL, &port],
        Stdin::Bytes(b"hi\n".to_vec()),
        DEADLINE,
    );
    let took = started.elapsed();
    out.fails_with(75, "(ETIMEDOUT)");
    assert!(took >= Duration::from_millis(900), "took {took:?}");
    let held = holder.join();
    assert!(
        matches!(held, Ok(Ok(_))),
        "the connection was never accepted"
    );
}

const KEEP_INPUT: &[u8] = b"a\nbb\nccc\nq\n";
const KEEP_TRANSCRIPT: &str = "\
you say: a
127.0.0.1 say: a
you say: bb
127.0.0.1 say: bb
you say: ccc
127.0.0.1 say: ccc
you say: q
";

#[test]
fn keep_reuses_one_connection_for_every_line() {
    let server = Server::sockd(&["--threads", "1", LOCAL, "0"]);
    let out = run_with(
        SOCKC,
        &["--keep", LOCAL, &server.port_arg()],
        Stdin::Bytes(KEEP_INPUT.to_vec()),
        DEADLINE,
    );
    out.success().stdout_is(KEEP_TRANSCRIPT.as_bytes());
    server.wait_stdout("127.0.0.1 say: ccc\n");
    server.signal(Signal::TERM);
    let stopped = server.wait_exit();
    stopped.success();
    // One connection; each line sent with its `\n`.
    assert_eq!(summary(&stopped.stderr), (1, 1 + 2 + 3 + 3));
    assert_eq!(
        stopped.stdout_text(),
        "127.0.0.1 say: a\n127.0.0.1 say: bb\n127.0.0.1 say: ccc\n"
    );
}

#[test]
fn without_keep_each_line_has_its_own_connection() {
    let server = Server::sockd(&["--threads", "1", LOCAL, "0"]);
    let out = run_with(
        SOCKC,
        &[LOCAL, &server.port_arg()],
        Stdin::Bytes(KEEP_INPUT.to_vec()),
        DEADLINE,
    );
    out.success().stdout_is(KEEP_TRANSCRIPT.as_bytes());
    server.wait_stdout("127.0.0.1 say: ccc\n");
    server.signal(Signal::TERM);
    let stopped = server.wait_exit();
    stopped.success();
    assert_eq!(summary(&stopped.stderr), (3, 1 + 2 + 3));
}

#[test]
fn transcript_mode_prints_what_the_echo_server_says() {
    let server = Server::sockd(&["--threads", "1", LOCAL, "0"]);
    let out = run_with(
        SOCKC,
        &[LOCAL, &server.port_arg()],
        Stdin::Bytes(b"hello world\nq\n".to_vec()),
        DEADLINE,
    );
    out.success()
        .stdout_is(b"you say: hello world\n127.0.0.1 say: hello world\nyou say: q\n");
    server.wait_stdout("127.0.0.1 say: hello world\n");
}

#[test]
fn a_stdout_closed_early_is_success_with_nothing_on_stderr() {
    let dir = TempDir::new();
    let input = dir.join("stream.bin");
    let payload = random_bytes(8 << 20, 0x4ead);
    std::fs::write(&input, &payload).unwrap_or_else(|e| panic!("write: {e}"));
    let server = Server::sockd(&["-q", LOCAL, "0"]);
    let stdin = std::fs::File::open(&input).unwrap_or_else(|e| panic!("open: {e}"));
    // `sockc ... - <file | head -c 10`
    let mut client = Background::spawn(
        SOCKC,
        &[LOCAL, &server.port_arg(), "-"],
        Stdio::from(stdin),
        false,
    );
    let mut stdout = client.take_stdout();
    let head = within(DEADLINE, "the first 10 bytes", move || {
        let mut head = [0u8; 10];
        stdout.read_exact(&mut head).map(|()| head)
    });
    let head = head.unwrap_or_else(|e| panic!("read sockc's stdout: {e}"));
    assert_eq!(head, payload[..10]);
    let out = client.wait_exit(DEADLINE);
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.stderr, "", "a closed stdout is not an error");
}

#[test]
fn ipv6_loopback_works_with_and_without_brackets() {
    let bindable = sockkit::bind_socket("::1", "0").is_ok();
    skip_unless!(bindable, "::1 cannot be bound here (no IPv6 loopback)");
    let server = Server::sockd(&["--threads", "1", "::1", "0"]);
    server.wait_stderr(&format!("listening on [::1]:{}", server.port));
    let port = server.port_arg();
    run(SOCKC, &["::1", &port, "hi", "six"])
        .success()
        .stdout_is(b"hi six");
    server.wait_stdout("::1 say: hi six\n");
    run(SOCKC, &["[::1]", &port, "bracketed"])
        .success()
        .stdout_is(b"bracketed");
    run_with(
        SOCKC,
        &["::1", &port],
        Stdin::Bytes(b"v6\nq\n".to_vec()),
        DEADLINE,
    )
    .success()
    .stdout_is(b"you say: v6\n::1 say: v6\nyou say: q\n");
}

#[test]
fn localhost_means_ipv4_loopback() {
    let server = Server::sockd(&["--threads", "1", "localhost", "0"]);
    server.wait_stderr(&format!("listening on 127.0.0.1:{}", server.port));
    let port = server.port_arg();
    run(SOCKC, &["localhost", &port, "hi"])
        .success()
        .stdout_is(b"hi");
    // The IPv4 literal reaches the same server.
    run(SOCKC, &[LOCAL, &port, "v4"]).success().stdout_is(b"v4");
    server.wait_stdout("127.0.0.1 say: hi\n127.0.0.1 say: v4\n");
}
