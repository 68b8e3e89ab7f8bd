//! sockc: `--wait`, `--timeout`, refusals, `--keep`, a closed stdout, the
//! transcript loop against the echo server, IPv6 and `localhost`.

use crate::util::net::{LOCAL, listener, refused_port};
use crate::util::{DEADLINE, TempDir, random_bytes, skip, sockc, sockd, within};
use rustix::process::Signal;
use std::io::Read;
use std::time::{Duration, Instant};

#[test]
fn wait_succeeds_against_a_server_started_after_the_client() {
    // The port is held bound but not listening, so connecting is refused
    // and nobody else can take it; sockd (SO_REUSEADDR, like the holder)
    // binds and listens on it while the holder still has it.
    let (holder, port) = refused_port();
    let port = port.to_string();
    let client = sockc()
        .args(["-vv", "--wait", "20", LOCAL, &port, "hi"])
        .spawn();
    // The client has been refused at least once: it really started first.
    client.wait_stderr("connection refused (ECONNREFUSED); retrying");
    let server = sockd().args(["-q", LOCAL, &port]).serve();
    assert_eq!(server.port_arg(), port);
    let out = client.wait_exit_within(Duration::from_secs(20));
    out.success().stdout_is(b"hi");
    drop(holder);
}

#[test]
fn wait_gives_up_with_econnrefused_69() {
    let (_holder, port) = refused_port();
    let started = Instant::now();
    let out = sockc()
        .args(["--wait", "0.3", LOCAL, &port.to_string(), "hi"])
        .run();
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
    let out = sockc().args([LOCAL, &port.to_string(), "hi"]).run();
    out.fails_with(69, "(ECONNREFUSED)");
    // Far below the default --timeout of 10 s: no retrying, no waiting.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn timeout_against_a_server_that_never_replies_exits_75() {
    // Listening, never accepting: the handshake completes in the backlog.
    let (_listener, port) = listener();
    let port = port.to_string();
    let started = Instant::now();
    let out = sockc().args(["--timeout", "1", LOCAL, &port, "hi"]).run();
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
    let (listener, port) = listener();
    // Accept and hold the connection, never replying.
    let holder = std::thread::spawn(move || {
        sockkit::socket::accept(&listener, rustix::net::SocketFlags::CLOEXEC)
            .map(|(conn, _)| (conn, listener))
    });
    let started = Instant::now();
    let out = sockc()
        .args(["--timeout", "1", LOCAL, &port.to_string()])
        .stdin_bytes(b"hi\n")
        .run();
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
    let server = sockd().args(["--threads", "1", LOCAL, "0"]).serve();
    sockc()
        .args(["--keep", LOCAL, &server.port_arg()])
        .stdin_bytes(KEEP_INPUT)
        .run()
        .success()
        .stdout_is(KEEP_TRANSCRIPT.as_bytes());
    server.wait_stdout("127.0.0.1 say: ccc\n");
    server.signal(Signal::TERM);
    let stopped = server.wait_exit();
    stopped.success();
    // One connection; each line sent with its `\n`.
    assert_eq!(stopped.summary(), (1, 1 + 2 + 3 + 3));
    assert_eq!(
        stopped.stdout_text(),
        "127.0.0.1 say: a\n127.0.0.1 say: bb\n127.0.0.1 say: ccc\n"
    );
}

#[test]
fn without_keep_each_line_has_its_own_connection() {
    let server = sockd().args(["--threads", "1", LOCAL, "0"]).serve();
    sockc()
        .args([LOCAL, &server.port_arg()])
        .stdin_bytes(KEEP_INPUT)
        .run()
        .success()
        .stdout_is(KEEP_TRANSCRIPT.as_bytes());
    server.wait_stdout("127.0.0.1 say: ccc\n");
    server.signal(Signal::TERM);
    let stopped = server.wait_exit();
    stopped.success();
    assert_eq!(stopped.summary(), (3, 1 + 2 + 3));
}

#[test]
fn transcript_mode_prints_what_the_echo_server_says() {
    let server = sockd().args(["--threads", "1", LOCAL, "0"]).serve();
    sockc()
        .args([LOCAL, &server.port_arg()])
        .stdin_bytes(b"hello world\nq\n")
        .run()
        .success()
        .stdout_is(b"you say: hello world\n127.0.0.1 say: hello world\nyou say: q\n");
    server.wait_stdout("127.0.0.1 say: hello world\n");
}

#[test]
fn a_stdout_closed_early_is_success_with_nothing_on_stderr() {
    let dir = TempDir::new();
    let input = dir.join("stream.bin");
    let payload = random_bytes(8 << 20, 0x4ead);
    std::fs::write(&input, &payload).unwrap_or_else(|e| panic!("write: {e}"));
    let server = sockd().args(["-q", LOCAL, "0"]).serve();
    // `sockc ... - <file | head -c 10`
    let mut client = sockc()
        .args([LOCAL, &server.port_arg(), "-"])
        .stdin_file(&input)
        .stdout_piped()
        .spawn();
    let mut stdout = client.take_stdout();
    let head = within(DEADLINE, "the first 10 bytes", move || {
        let mut head = [0u8; 10];
        stdout.read_exact(&mut head).map(|()| head)
    });
    let head = head.unwrap_or_else(|e| panic!("read sockc's stdout: {e}"));
    assert_eq!(head, payload[..10]);
    // A closed stdout is not an error.
    client.wait_exit().success().stderr_is("");
}

#[test]
fn ipv6_loopback_works_with_and_without_brackets() {
    let bindable = crate::util::net::bind_tcp("::1").is_ok();
    if !skip::require(bindable, "::1 cannot be bound here (no IPv6 loopback)") {
        return;
    }
    let server = sockd().args(["--threads", "1", "::1", "0"]).serve();
    server.wait_stderr(&format!("listening on [::1]:{}", server.port()));
    let port = server.port_arg();
    sockc()
        .args(["::1", &port, "hi", "six"])
        .run()
        .success()
        .stdout_is(b"hi six");
    server.wait_stdout("::1 say: hi six\n");
    sockc()
        .args(["[::1]", &port, "bracketed"])
        .run()
        .success()
        .stdout_is(b"bracketed");
    sockc()
        .args(["::1", &port])
        .stdin_bytes(b"v6\nq\n")
        .run()
        .success()
        .stdout_is(b"you say: v6\n::1 say: v6\nyou say: q\n");
}

#[test]
fn localhost_means_ipv4_loopback() {
    let server = sockd().args(["--threads", "1", "localhost", "0"]).serve();
    server.wait_stderr(&format!("listening on 127.0.0.1:{}", server.port()));
    let port = server.port_arg();
    sockc()
        .args(["localhost", &port, "hi"])
        .run()
        .success()
        .stdout_is(b"hi");
    // The IPv4 literal reaches the same server.
    sockc()
        .args([LOCAL, &port, "v4"])
        .run()
        .success()
        .stdout_is(b"v4");
    server.wait_stdout("127.0.0.1 say: hi\n127.0.0.1 say: v4\n");
}
