//! Echo mode: binary integrity, message shapes, the transcript lines, many
//! clients at once, and a client that never reads stalling nobody.

use crate::util::net::{LOCAL, connect, exchange, recv_timeout, recv_to_eof, round_trip};
use crate::util::{DEADLINE, TempDir, assert_same_bytes, random_bytes, sockc, sockd, within};
use rustix::net::{Shutdown, shutdown};
use rustix::process::Signal;
use std::sync::{Arc, Barrier};
use std::time::Duration;

#[test]
fn sixty_four_mib_of_random_bytes_come_back_byte_for_byte() {
    let dir = TempDir::new();
    let input = dir.join("random.bin");
    let payload = random_bytes(64 << 20, 0x5eed_0064);
    assert!(payload.contains(&0), "the payload should include NULs");
    std::fs::write(&input, &payload).unwrap_or_else(|e| panic!("write input: {e}"));
    let server = sockd().args(["-q", LOCAL, "0"]).serve();
    let out = sockc()
        .args([LOCAL, &server.port_arg(), "-"])
        .stdin_file(input)
        .run();
    out.success();
    assert_eq!(
        out.stdout.len(),
        payload.len(),
        "reply length differs from what was sent"
    );
    assert_same_bytes(&out.stdout, &payload, "64 MiB through sockd -q");
    out.stderr_is("");
}

#[test]
fn a_message_without_a_newline_comes_back_exactly() {
    let server = sockd().args(["-q", LOCAL, "0"]).serve();
    sockc()
        .args([LOCAL, &server.port_arg(), "hi"])
        .run()
        .success()
        .stdout_is(b"hi");
}

#[test]
fn message_words_are_joined_by_single_spaces() {
    let server = sockd().args(["-q", LOCAL, "0"]).serve();
    sockc()
        .args([LOCAL, &server.port_arg(), "hello", "big", "wide  world"])
        .run()
        .success()
        .stdout_is(b"hello big wide  world");
}

#[test]
fn an_empty_message_gets_an_empty_reply_and_no_transcript_line() {
    let server = sockd().args(["--threads", "1", LOCAL, "0"]).serve();
    sockc()
        .args([LOCAL, &server.port_arg(), ""])
        .run()
        .success()
        .stdout_is(b"");
    server.signal(Signal::TERM);
    let stopped = server.wait_exit();
    stopped.success().stdout_is(b"");
    assert_eq!(stopped.summary(), (1, 0), "{}", stopped.stderr);
}

#[test]
fn transcript_lines_split_escape_and_cut_messages() {
    // One worker: each client's lines are flushed before the next connects,
    // so the whole stdout can be compared.
    let server = sockd().args(["--threads", "1", LOCAL, "0"]).serve();
    let port = server.port();
    let long = vec![b'a'; 1500];
    let mut long_line = long.clone();
    long_line.push(b'\n');
    let mut padded = b"padded".to_vec();
    padded.resize(1024, 0);
    let cases: Vec<(Vec<u8>, String)> = vec![
        (b"hi\n".to_vec(), "127.0.0.1 say: hi\n".into()),
        (b"nul\0".to_vec(), "127.0.0.1 say: nul\n".into()),
        (padded, "127.0.0.1 say: padded\n".into()),
        (
            b"one\0two".to_vec(),
            "127.0.0.1 say: one\n127.0.0.1 say: two\n".into(),
        ),
        (b"crlf\r\n".to_vec(), "127.0.0.1 say: crlf\n".into()),
        (b"no newline".to_vec(), "127.0.0.1 say: no newline\n".into()),
        (
            b"\x1b[31mred\x07 tab\t\x7f\n".to_vec(),
            "127.0.0.1 say: \\x1b[31mred\\x07 tab\\t\\x7f\n".into(),
        ),
        (
            long_line,
            format!("127.0.0.1 say: {}…(+476 bytes)\n", "a".repeat(1024)),
        ),
    ];
    let mut expected = String::new();
    for (sent, line) in &cases {
        let echoed = round_trip(port, sent);
        assert_same_bytes(&echoed, sent, "echo of a transcript case");
        expected.push_str(line);
        // The line is printed when the message ends; wait for it so the
        // next client's lines cannot come first.
        server.wait_stdout(line);
    }
    server.signal(Signal::TERM);
    let stopped = server.wait_exit();
    stopped.success();
    assert_eq!(stopped.stdout_text(), expected);
}

#[test]
fn quiet_prints_no_transcript() {
    let server = sockd().args(["-q", LOCAL, "0"]).serve();
    assert_eq!(round_trip(server.port(), b"hi\n"), b"hi\n");
    server.signal(Signal::TERM);
    server.wait_exit().success().stdout_is(b"");
}

/// `clients` clients connect first, then all send their own payload at once
/// and each must get exactly its own bytes back.
fn concurrent_clients_get_their_own_bytes(port: u16, clients: usize, len: usize) {
    let start = Arc::new(Barrier::new(clients));
    let workers: Vec<_> = (0..clients)
        .map(|i| {
            let start = Arc::clone(&start);
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    let fd = connect(port);
                    let payload = random_bytes(len, 0xc11e_0000 + i as u64);
                    start.wait();
                    let echoed = exchange(&fd, &payload);
                    assert_same_bytes(&echoed, &payload, &format!("client {i}"));
                })
                .unwrap_or_else(|e| panic!("spawn client {i}: {e}"))
        })
        .collect();
    let mut failed = 0;
    for worker in workers {
        if worker.join().is_err() {
            failed += 1;
        }
    }
    assert_eq!(failed, 0, "{failed} of {clients} clients failed");
}

#[test]
fn two_hundred_concurrent_clients_each_get_their_own_bytes() {
    let server = sockd().args(["-q", LOCAL, "0"]).serve();
    // The server stays here, so a failure or a hang still kills it on drop.
    let port = server.port();
    within(DEADLINE, "200 clients", move || {
        concurrent_clients_get_their_own_bytes(port, 200, 64 * 1024)
    });
    server.signal(Signal::TERM);
    let stopped = server.wait_exit();
    stopped.success();
    assert_eq!(stopped.summary(), (200, 200 * 64 * 1024));
}

#[test]
fn one_and_four_workers_both_echo_correctly() {
    for threads in ["1", "4"] {
        let server = sockd()
            .args(["-q", "--threads", threads, LOCAL, "0"])
            .serve();
        let port = server.port();
        within(DEADLINE, "32 clients", move || {
            concurrent_clients_get_their_own_bytes(port, 32, 256 * 1024)
        });
        let payload = random_bytes(4 << 20, 0x7ead_0000 + threads.len() as u64);
        let out = sockc()
            .args([LOCAL, &server.port_arg(), "-"])
            .stdin_bytes(payload.clone())
            .run();
        out.success();
        assert_same_bytes(
            &out.stdout,
            &payload,
            &format!("sockc with --threads {threads}"),
        );
    }
}

#[test]
fn a_client_that_never_reads_does_not_stall_another() {
    // One worker, so both clients share one event loop: a blocking send to
    // the stuck client would stall the other one's echo.
    let server = sockd().args(["-q", "--threads", "1", LOCAL, "0"]).serve();
    let port = server.port();
    let stuck = connect(port);
    rustix::io::ioctl_fionbio(&stuck, true).unwrap_or_else(|e| panic!("FIONBIO: {e}"));
    // Send until every buffer between the client and sockd is full: sockd
    // then holds echo bytes this client will not take.
    let chunk = random_bytes(256 * 1024, 0x57c4);
    let mut sent: Vec<u8> = Vec::new();
    let mut full_streak = 0;
    while full_streak < 3 && sent.len() < 256 << 20 {
        match sockkit::io::send_some(&stuck, &chunk) {
            Ok(n) => {
                sent.extend_from_slice(&chunk[..n]);
                full_streak = 0;
            }
            Err(rustix::io::Errno::AGAIN) => {
                // Give sockd the chance to drain its side; it cannot, as its
                // echo to us is stuck, so the send buffer stays full.
                let mut fds = [rustix::event::PollFd::new(
                    &stuck,
                    rustix::event::PollFlags::OUT,
                )];
                let timeout = Some(Duration::from_millis(200));
                if sockkit::io::poll(&mut fds, timeout).unwrap_or(0) == 0 {
                    full_streak += 1;
                }
            }
            Err(e) => panic!("send to sockd: {e:?}"),
        }
    }
    assert!(full_streak >= 3, "sockd kept reading 256 MiB no one echoed");

    let other = random_bytes(1 << 20, 0x07e4);
    let echoed = within(
        Duration::from_secs(10),
        "the other client's echo",
        move || round_trip(port, &other),
    );
    assert_same_bytes(&echoed, &random_bytes(1 << 20, 0x07e4), "the other client");

    // The stuck client loses nothing once it reads.
    rustix::io::ioctl_fionbio(&stuck, false).unwrap_or_else(|e| panic!("FIONBIO: {e}"));
    shutdown(&stuck, Shutdown::Write).unwrap_or_else(|e| panic!("shutdown: {e}"));
    recv_timeout(&stuck, DEADLINE);
    let back = recv_to_eof(&stuck);
    assert_same_bytes(&back, &sent, "the client that did not read");
}

#[test]
fn a_bulk_stream_is_echoed_through_splice_and_comes_back_whole() {
    if !crate::util::skip::require_tool("strace") {
        return;
    }
    let dir = TempDir::new();
    let trace = dir.join("trace");
    let server = crate::util::Cmd::new("strace")
        .args(["-f", "-e", "trace=splice", "-o"])
        .arg(&trace)
        .arg(crate::util::SOCKD)
        .args(["-q", "--threads", "1", "--exit-after", "1", LOCAL, "0"])
        .serve();
    // More than one read of sockd's 256 KiB buffer: the rest is spliced.
    let payload = random_bytes(4 << 20, 0x5eed_0004);
    assert_same_bytes(&round_trip(server.port(), &payload), &payload, "4 MiB");
    server.wait_exit().success();
    let text = std::fs::read_to_string(&trace).unwrap_or_else(|e| panic!("strace -o: {e}"));
    let splices = text.lines().filter(|line| line.contains("splice(")).count();
    assert!(splices >= 2, "{splices} splices: {text:.2000}");
}
