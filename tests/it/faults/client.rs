//! `sockc` under faults: the test plays a misbehaving server.

use super::support::{accept, recv_to_eof, reset, send_all, test_listener};
use crate::util::{DEADLINE, SOCKC, Server, Stdin, random_bytes, run, run_with};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn server_closing_mid_reply_ends_the_reply_exit_0() {
    let (listener, port) = test_listener();
    let server = thread::spawn(move || {
        let conn = accept(&listener);
        let (request, _) = recv_to_eof(&conn, usize::MAX);
        send_all(&conn, b"partial re").unwrap_or_else(|e| panic!("{e}"));
        drop(conn);
        request
    });
    let out = run(SOCKC, &["127.0.0.1", &port.to_string(), "hello", "there"]);
    let request = server.join().unwrap_or_default();
    assert_eq!(request, b"hello there");
    // A byte stream cannot tell a cut reply from a short one: what came
    // before the server's FIN is the reply (SPEC: "until the server closes").
    out.success().no_panic().stdout_is(b"partial re");
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[test]
fn server_reset_is_econnreset_71() {
    let (listener, port) = test_listener();
    let server = thread::spawn(move || {
        let conn = accept(&listener);
        let _ = recv_to_eof(&conn, usize::MAX);
        reset(conn);
    });
    let out = run(SOCKC, &["127.0.0.1", &port.to_string(), "hello"]);
    let _ = server.join();
    out.fails_with(
        71,
        &format!("sockc: recv 127.0.0.1:{port}: connection reset by peer (ECONNRESET)"),
    );
}

#[test]
fn server_that_never_replies_times_out_75() {
    // Listening, never accepting: the handshake completes in the backlog.
    let (_listener, port) = test_listener();
    let started = Instant::now();
    let out = run(
        SOCKC,
        &["--timeout", "1", "127.0.0.1", &port.to_string(), "anyone?"],
    );
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
    let (listener, port) = test_listener();
    // Accepts and holds the connection, reads nothing.
    let (release, released) = std::sync::mpsc::channel::<()>();
    let holder = thread::spawn(move || {
        let conn = accept(&listener);
        let _ = released.recv_timeout(Duration::from_secs(30));
        drop(conn);
    });
    let mut child = Command::new(SOCKC)
        .args(["--timeout", "2", "127.0.0.1", &port.to_string(), "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn sockc: {e}"));
    let mut feed = child.stdin.take();
    // An endless stdin (the issue's 1 GiB and more): written until sockc exits.
    let feeder = thread::spawn(move || {
        let chunk = random_bytes(256 * 1024, 11);
        let mut fed = 0u64;
        if let Some(pipe) = feed.as_mut() {
            while pipe.write_all(&chunk).is_ok() {
                fed += chunk.len() as u64;
            }
        }
        fed
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            _ if started.elapsed() > Duration::from_secs(20) => {
                let _ = child.kill();
                panic!("sockc hung on a server that never reads");
            }
            _ => thread::sleep(Duration::from_millis(20)),
        }
    };
    let took = started.elapsed();
    let fed = feeder.join().unwrap_or(0);
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    eprintln!("never reads: sockc took {fed} bytes of stdin, then exited after {took:?}");
    assert_eq!(status.code(), Some(75), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "sockc: send 127.0.0.1:{port}: connection timed out (ETIMEDOUT)"
        )),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(took < Duration::from_secs(8), "{took:?}");
    drop(release);
    let _ = holder.join();
}

#[test]
fn stdout_closed_early_is_exit_0_without_noise() {
    let server = Server::sockd(&["-q", "127.0.0.1", "0"]);
    let payload = random_bytes(8 * 1024 * 1024, 12);
    // `sockc ... - <8MiB | head -c 10`, with the test as `head`.
    let mut child = Command::new(SOCKC)
        .args(["127.0.0.1", &server.port_arg(), "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn sockc: {e}"));
    let mut feed = child.stdin.take();
    let feeder = thread::spawn(move || {
        if let Some(pipe) = feed.as_mut() {
            let _ = pipe.write_all(&payload);
        }
    });
    let mut head = [0u8; 10];
    if let Some(mut out) = child.stdout.take() {
        out.read_exact(&mut head).unwrap_or_else(|e| panic!("{e}"));
        // `head` exits: the pipe's read end closes here.
    }
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            _ if started.elapsed() > DEADLINE => {
                let _ = child.kill();
                panic!("sockc did not exit after stdout closed");
            }
            _ => thread::sleep(Duration::from_millis(10)),
        }
    };
    let _ = feeder.join();
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "noise on stderr: {stderr}");
    assert_eq!(&head, &random_bytes(10, 12)[..]);
}

#[test]
fn stdout_closed_early_through_a_shell_pipe() {
    crate::skip_unless!(crate::util::have("bash"), "bash is not installed");
    crate::skip_unless!(crate::util::have("head"), "head is not installed");
    let server = Server::sockd(&["-q", "127.0.0.1", "0"]);
    let script =
        r#"set -o pipefail; "$0" 127.0.0.1 "$1" - | head -c 10; echo " exit=${PIPESTATUS[0]}""#;
    let out = run_with(
        "bash",
        &["-c", script, SOCKC, &server.port_arg()],
        Stdin::Bytes(vec![b'z'; 4 * 1024 * 1024]),
        DEADLINE,
    );
    out.no_panic().stdout_is(b"zzzzzzzzzz exit=0\n");
    assert!(out.stderr.is_empty(), "noise: {}", out.stderr);
}
