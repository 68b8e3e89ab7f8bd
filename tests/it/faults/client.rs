//! `sockc` under faults: the test plays a misbehaving server.

use crate::util::net::{accept, listener, recv_exact, recv_upto, reset, send_all};
use crate::util::{Cmd, Outcome, SOCKC, random_bytes, skip, sockc, sockd};
use std::io::{Read, Write};
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn server_closing_mid_reply_ends_the_reply_exit_0() {
    let (listener, port) = listener();
    let server = thread::spawn(move || {
        let conn = accept(&listener);
        let (request, _) = recv_upto(&conn, usize::MAX);
        send_all(&conn, b"partial re");
        drop(conn);
        request
    });
    let out = sockc()
        .args(["127.0.0.1", &port.to_string(), "hello", "there"])
        .run();
    let request = server.join().unwrap_or_default();
    assert_eq!(request, b"hello there");
    // A byte stream cannot tell a cut reply from a short one: what came
    // before the server's FIN is the reply (the contract: "until the server
    // closes").
    out.success()
        .no_panic()
        .stdout_is(b"partial re")
        .stderr_is("");
}

#[test]
fn server_reset_is_econnreset_71() {
    let (listener, port) = listener();
    let server = thread::spawn(move || {
        let conn = accept(&listener);
        let _ = recv_upto(&conn, usize::MAX);
        reset(conn);
    });
    let out = sockc()
        .args(["127.0.0.1", &port.to_string(), "hello"])
        .run();
    let _ = server.join();
    out.fails_with(
        71,
        &format!("sockc: recv 127.0.0.1:{port}: connection reset by peer (ECONNRESET)"),
    );
}

/// A reset that lands between sockc's last send and its `shutdown(SHUT_WR)`
/// (held there by strace's `delay_enter`) is reported as the reset, after
/// what the server sent before it: the shutdown alone says only `ENOTCONN`.
#[test]
fn a_reset_before_the_shutdown_is_econnreset_71_after_the_bytes_before_it() {
    if !skip::require_tool("strace") {
        return;
    }
    // One-shot, and the lesson's loop (a line typed on stdin).
    for (typed, shown) in [
        (None, "bye\n"),
        (Some("hi\n"), "you say: hi\n127.0.0.1 say: bye\n"),
    ] {
        let (server, port) = resetting_after(b"bye\n");
        let mut cmd = sockc().args(["127.0.0.1", &port.to_string()]);
        cmd = match typed {
            Some(line) => cmd.stdin_bytes(line),
            None => cmd.arg("hi"),
        };
        let out = delaying_shutdown(cmd).run();
        reset_by(server, port, &out).stdout_is(shown.as_bytes());
    }
}

/// A server that takes one client's `hi`, answers `reply` and resets.
fn resetting_after(reply: &'static [u8]) -> (thread::JoinHandle<()>, u16) {
    let (listener, port) = listener();
    let server = thread::spawn(move || {
        let conn = accept(&listener);
        assert_eq!(recv_exact(&conn, 2), b"hi");
        send_all(&conn, reply);
        reset(conn);
    });
    (server, port)
}

/// `out`, sockc's, once the [`resetting_after`] server on `port` is done:
/// the reset reported at `recv`, exit 71.
fn reset_by(server: thread::JoinHandle<()>, port: u16, out: &Outcome) -> &Outcome {
    server
        .join()
        .unwrap_or_else(|_| panic!("the test's server panicked"));
    out.fails_with(
        71,
        &format!("sockc: recv 127.0.0.1:{port}: connection reset by peer (ECONNRESET)"),
    )
}

/// `cmd` with each `shutdown(2)` held back a second before it starts.
fn delaying_shutdown(cmd: Cmd) -> Cmd {
    cmd.wrap([
        "strace",
        "-o",
        "/dev/null",
        "-e",
        "trace=shutdown",
        "-e",
        "inject=shutdown:delay_enter=1000000",
    ])
}

/// The lesson's loop shows what a server said before it reset, though no
/// newline ended it, then the reset.
#[test]
fn a_reply_cut_by_a_reset_is_shown_in_the_lessons_loop_before_the_error() {
    let (server, port) = resetting_after(b"half a rep");
    let out = sockc()
        .args(["127.0.0.1", &port.to_string()])
        .stdin_bytes(b"hi\n")
        .run();
    reset_by(server, port, &out).stdout_is(b"you say: hi\n127.0.0.1 say: half a rep\n");
}

#[test]
fn server_that_never_replies_times_out_75() {
    // Listening, never accepting: the handshake completes in the backlog.
    let (_listener, port) = listener();
    let started = Instant::now();
    let out = sockc()
        .args(["--timeout", "1", "127.0.0.1", &port.to_string(), "anyone?"])
        .run();
    let took = started.elapsed();
    out.fails_with(
        75,
        &format!("sockc: recv 127.0.0.1:{port}: connection timed out (ETIMEDOUT)"),
    );
    eprintln!("never replies: sockc --timeout 1 gave up after {took:?}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[test]
fn server_that_never_reads_a_large_stdin_times_out_75() {
    let (listener, port) = listener();
    // Accepts and holds the connection, reads nothing.
    let (release, released) = std::sync::mpsc::channel::<()>();
    let holder = thread::spawn(move || {
        let conn = accept(&listener);
        let _ = released.recv_timeout(Duration::from_secs(30));
        drop(conn);
    });
    let mut child = sockc()
        .args(["--timeout", "2", "127.0.0.1", &port.to_string(), "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn();
    let mut feed = child.take_stdin();
    // An endless stdin (the issue's 1 GiB and more): written until sockc exits.
    let feeder = thread::spawn(move || {
        let chunk = random_bytes(256 * 1024, 11);
        let mut fed = 0u64;
        while feed.write_all(&chunk).is_ok() {
            fed += chunk.len() as u64;
        }
        fed
    });
    let started = Instant::now();
    // A sockc that hangs on a server that never reads fails here.
    let out = child.wait_exit_within(Duration::from_secs(20));
    let took = started.elapsed();
    let fed = feeder.join().unwrap_or(0);
    eprintln!("never reads: sockc took {fed} bytes of stdin, then exited after {took:?}");
    out.fails_with(
        75,
        &format!("sockc: send 127.0.0.1:{port}: connection timed out (ETIMEDOUT)"),
    )
    .stderr_has("\nhint: no progress with ")
    .stderr_lines(2);
    assert!(took < Duration::from_secs(8), "{took:?}");
    drop(release);
    let _ = holder.join();
}

#[test]
fn stdout_closed_early_is_exit_0_without_noise() {
    let server = sockd().args(["-q", "127.0.0.1", "0"]).serve();
    let payload = random_bytes(8 * 1024 * 1024, 12);
    // `sockc ... - <8MiB | head -c 10`, with the test as `head`.
    let mut child = sockc()
        .args(["127.0.0.1", &server.port_arg(), "-"])
        .stdin_bytes(payload)
        .stdout_piped()
        .spawn();
    let mut head = [0u8; 10];
    let mut out = child.take_stdout();
    out.read_exact(&mut head).unwrap_or_else(|e| panic!("{e}"));
    // `head` exits: the pipe's read end closes here.
    drop(out);
    // No noise on stderr.
    child.wait_exit().success().stderr_is("");
    assert_eq!(&head, &random_bytes(10, 12)[..]);
}

#[test]
fn stdout_closed_early_through_a_shell_pipe() {
    if !skip::require_tool("bash") || !skip::require_tool("head") {
        return;
    }
    let server = sockd().args(["-q", "127.0.0.1", "0"]).serve();
    let script =
        r#"set -o pipefail; "$0" 127.0.0.1 "$1" - | head -c 10; echo " exit=${PIPESTATUS[0]}""#;
    // No noise on stderr.
    Cmd::new("bash")
        .args(["-c", script, SOCKC, &server.port_arg()])
        .stdin_bytes(vec![b'z'; 4 * 1024 * 1024])
        .run()
        .no_panic()
        .stdout_is(b"zzzzzzzzzz exit=0\n")
        .stderr_is("");
}
