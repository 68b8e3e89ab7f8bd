//! `sockc -U PATH` (unix stream: one-shot and transcript, as over TCP) and
//! `-uU PATH` (unix datagrams, from an address of sockc's own): a missing
//! socket (69, ENOENT), a stale one (69, ECONNREFUSED), `--wait` for a
//! server that creates its socket later; against in-test servers, socat
//! and OpenBSD nc.

use crate::bench::{Echo, EchoServer};
use crate::bench_transports::{DatagramServer, Reply};
use crate::util::{Cmd, TempDir, assert_same_bytes, random_bytes, skip, sockc};
use sockkit::endpoint::{Endpoint, Kind};
use sockkit::socket::bind_socket;
use std::sync::atomic::{AtomicU64, Ordering};

fn endpoint(kind: Kind, at: &str) -> Endpoint {
    Endpoint::unix(kind, at).unwrap_or_else(|e| panic!("{at}: {e}"))
}

/// A path in a fresh short directory (unix paths end at 107 bytes).
fn socket_path(dir: &TempDir, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

/// An abstract name no other test (or run) holds.
fn unique_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("@sockkit-sockc-{}-{n}", std::process::id())
}

/// A socket file whose server has gone: bound, then closed.
fn stale_file(path: &str) {
    drop(bind_socket(&endpoint(Kind::Stream, path)).unwrap_or_else(|e| panic!("{e}")));
}

#[test]
fn sixty_four_mib_through_a_unix_stream_byte_for_byte() {
    let dir = TempDir::new();
    let path = socket_path(&dir, "echo.sock");
    let _server = EchoServer::start_at(&endpoint(Kind::Stream, &path), Echo::Faithful);
    let input = dir.join("in.bin");
    let payload = random_bytes(64 << 20, 0x64_4d1b);
    std::fs::write(&input, &payload).unwrap_or_else(|e| panic!("write: {e}"));
    let out = sockc().args(["-U", &path, "-"]).stdin_file(&input).run();
    out.success().stderr_is("");
    assert_same_bytes(&out.stdout, &payload, "64 MiB through sockc -U");
}

#[test]
fn one_shot_and_transcript_work_on_paths_and_abstract_names() {
    let dir = TempDir::new();
    let path = socket_path(&dir, "s.sock");
    let name = unique_name();
    let _on_path = EchoServer::start_at(&endpoint(Kind::Stream, &path), Echo::Faithful);
    let _named = EchoServer::start_at(&endpoint(Kind::Stream, &name), Echo::Faithful);
    for at in [&path, &name] {
        // With -U every positional is message: none is taken for a port.
        sockc()
            .args(["-U", at, "hi", "7777"])
            .run()
            .success()
            .stdout_is(b"hi 7777");
        let transcript =
            format!("you say: a\n{at} say: a\nyou say: bb\n{at} say: bb\nyou say: q\n");
        for keep in [&[][..], &["--keep"]] {
            sockc()
                .args(["-U", at])
                .args(keep)
                .stdin_bytes(b"a\nbb\nq\n")
                .run()
                .success()
                .stdout_is(transcript.as_bytes());
        }
    }
}

#[test]
fn a_missing_socket_exits_69_saying_no_server_has_created_it() {
    let dir = TempDir::new();
    let missing = socket_path(&dir, "none.sock");
    for kind in [&["-U"][..], &["-uU"]] {
        sockc()
            .args(kind)
            .args([&missing, "hi"])
            .run()
            .fails_with(
                69,
                &format!("sockc: connect {missing}: no such file or directory (ENOENT)"),
            )
            .stderr_has("no server has created it");
        // Once --wait has run out, the hint says so instead of suggesting it.
        let out = sockc()
            .args(["--wait", "0.3"])
            .args(kind)
            .args([&missing, "hi"])
            .run();
        out.fails_with(69, "(ENOENT)").stderr_has(&format!(
            "hint: no socket appeared at {missing} during the 0.3 s of --wait"
        ));
        assert!(!out.stderr.contains("pass --wait"), "{}", out.stderr);
    }
    let long = "/tmp/".to_string() + &"a".repeat(103);
    sockc()
        .args(["-U", &long, "hi"])
        .run()
        .fails_with(64, "at most 107 fit in sun_path");
}

#[test]
fn a_path_anyone_could_name_reaches_the_terminal_escaped_in_error_and_hint() {
    // A path from a script's variable, chosen by someone else: a terminal
    // escape and a bidi override in it reach stderr only as escapes.
    let dir = TempDir::new();
    let hostile = socket_path(&dir, "\x1b[31mx\u{202e}");
    let shown = hostile
        .replace('\x1b', r"\x1b")
        .replace('\u{202e}', r"\u{202e}");
    let out = sockc().args(["--wait", "0.2", "-U", &hostile, "hi"]).run();
    out.fails_with(69, &format!("sockc: connect {shown}: no such file"))
        .stderr_has(&format!("hint: no socket appeared at {shown} during"));
    assert!(
        !out.stderr.contains('\x1b') && !out.stderr.contains('\u{202e}'),
        "{}",
        out.stderr
    );
}

#[test]
fn a_stale_socket_file_exits_69_with_econnrefused() {
    let dir = TempDir::new();
    let stale = socket_path(&dir, "stale.sock");
    stale_file(&stale);
    sockc()
        .args(["-U", &stale, "hi"])
        .run()
        .fails_with(
            69,
            &format!("sockc: connect {stale}: connection refused (ECONNREFUSED)"),
        )
        .stderr_has("the socket file is stale");
    // A datagram socket file left behind is refused the same way.
    let dgram = socket_path(&dir, "stale.dgram");
    drop(bind_socket(&endpoint(Kind::Datagram, &dgram)).unwrap_or_else(|e| panic!("{e}")));
    sockc()
        .args(["-uU", &dgram, "hi"])
        .run()
        .fails_with(69, "connection refused (ECONNREFUSED)");
}

#[test]
fn wait_retries_until_a_server_is_at_the_path() {
    let dir = TempDir::new();
    // (flag, a stale file there first, what -vv shows of the retrying)
    for (i, (flag, stale, retried)) in [
        ("-U", false, "no such file or directory (ENOENT); retrying"),
        ("-U", true, "connection refused (ECONNREFUSED); retrying"),
        (
            "-uU",
            false,
            "no such file or directory (ENOENT); sending again",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let path = socket_path(&dir, &format!("later{i}.sock"));
        if stale {
            stale_file(&path);
        }
        let client = sockc()
            .args(["-vv", "--wait", "30", flag, &path, "later"])
            .spawn();
        // Not there at least once: it really started first.
        client.wait_stderr(retried);
        if stale {
            std::fs::remove_file(&path).unwrap_or_else(|e| panic!("rm {path}: {e}"));
        }
        let (_stream, _datagrams) = if flag == "-U" {
            let at = endpoint(Kind::Stream, &path);
            (Some(EchoServer::start_at(&at, Echo::Faithful)), None)
        } else {
            let at = endpoint(Kind::Datagram, &path);
            (None, Some(DatagramServer::start(&at, Reply::Faithful)))
        };
        client.wait_exit().success().stdout_is(b"later");
    }
}

#[test]
fn unix_datagrams_round_trip_from_an_address_of_sockcs_own() {
    let dir = TempDir::new();
    let path = socket_path(&dir, "d.sock");
    let name = unique_name();
    for at in [&path, &name] {
        // The echo answers each datagram's sender: sockc must have bound
        // an address of its own, or the reply would have nowhere to go.
        let server = DatagramServer::start(&endpoint(Kind::Datagram, at), Reply::Faithful);
        sockc()
            .args(["-uU", at, "hello", "unix"])
            .run()
            .success()
            .stdout_is(b"hello unix");
        sockc()
            .args(["-u", "-U", at, "-"])
            .stdin_bytes(b"one\ntwo\n")
            .run()
            .success()
            .stdout_is(b"one\ntwo\n");
        sockc()
            .args(["-uU", at])
            .stdin_bytes(b"hi\nq\n")
            .run()
            .success()
            .stdout_is(format!("you say: hi\n{at} say: hi\nyou say: q\n").as_bytes());
        assert_eq!(server.received.load(Ordering::Relaxed), 4, "{at}");
    }
}

#[test]
fn sockc_talks_to_socat_unix_listen() {
    let dir = TempDir::new();
    let path = socket_path(&dir, "socat.sock");
    let listen = format!("UNIX-LISTEN:{path},fork");
    // --wait retries while there is no file, then while it is refused.
    crate::interop::sockc_through_socat(&listen, "PIPE", &["-U", &path]);
}

#[test]
fn openbsd_nc_listening_on_a_unix_path_answers_sockc() {
    if !skip::require_tool("nc") {
        return;
    }
    let dir = TempDir::new();
    let path = socket_path(&dir, "nc.sock");
    // nc prints what it reads and sends its stdin, then closes (-N). A
    // listening nc quits at the network's EOF once its stdin buffer is
    // empty, read or not: its stdin is a file, readable from the start, so
    // the line is in that buffer before sockc's EOF can come (a pipe
    // written from a thread may not be, and nc then sends nothing).
    let reply = dir.join("reply");
    std::fs::write(&reply, b"pong\n").unwrap_or_else(|e| panic!("write {reply:?}: {e}"));
    let nc = Cmd::new("nc")
        .args(["-N", "-lU", &path])
        .stdin_file(&reply)
        .spawn();
    sockc()
        .args(["--wait", "10", "-U", &path, "ping"])
        .run()
        .success()
        .stdout_is(b"pong\n");
    nc.wait_exit().success().stdout_is(b"ping");
}
