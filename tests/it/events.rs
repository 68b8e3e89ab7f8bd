//! `sockd --events`: the JSON log a harness tails. Every line parses, with
//! `event` and a `t` that never goes back; accepts and closes pair up with
//! the connections the test made (ids, the test's own addresses, the bytes
//! it sent); each close reason provoked; datagrams; unix peers by pid; the
//! usage and file errors; a symlink planted by another user never followed.

use crate::util::net::{
    connect, connect_unix, datagram_client, local_port, loopback_of, recv_datagram, recv_exact,
    recv_to_eof, recv_upto, reset, send_all, send_datagram,
};
use crate::util::{
    Cmd, Plant, Process, TempDir, eventually, fifo_drain, fifo_reader, mkfifo_of,
    refused_over_a_plant, skip, sockd, sticky_dir,
};
use rustix::io::Errno;
use rustix::net::Shutdown;
use rustix::process::Signal;
use serde_json::Value;
use sockkit::endpoint::Kind;
use std::path::Path;
use std::time::Duration;

fn arg(path: &Path) -> &str {
    path.to_str()
        .unwrap_or_else(|| panic!("{} is not UTF-8", path.display()))
}

/// Every line of `text` as JSON, each with a string `event` and a `t` no
/// smaller than the line before's.
#[track_caller]
fn parse(text: &str) -> Vec<Value> {
    assert!(text.ends_with('\n'), "the log ends mid-line: {text:?}");
    let mut last_t = 0.0;
    text.lines()
        .map(|line| {
            let value: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"));
            assert!(value["event"].is_string(), "no event: {line}");
            let t = value["t"]
                .as_f64()
                .unwrap_or_else(|| panic!("no t: {line}"));
            assert!(t >= last_t, "t went back: {line} after t={last_t}");
            last_t = t;
            value
        })
        .collect()
}

#[track_caller]
fn read_events(path: &Path) -> Vec<Value> {
    parse(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())))
}

fn of<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

/// The close event of connection `conn`.
#[track_caller]
fn close_of(events: &[Value], conn: u64) -> &Value {
    let closes: Vec<&Value> = of(events, "close")
        .into_iter()
        .filter(|e| e["conn"] == conn)
        .collect();
    assert_eq!(closes.len(), 1, "conn {conn}: {events:#?}");
    closes[0]
}

/// One-worker `sockd -q --events DIR/events ARGS... 127.0.0.1 0`, and where
/// its log is.
#[track_caller]
fn serve(dir: &TempDir, args: &[&str]) -> (Process, std::path::PathBuf) {
    let log = dir.join("events");
    let server = sockd()
        .args(["-q", "--threads", "1", "--events", arg(&log)])
        .args(args)
        .args(["127.0.0.1", "0"])
        .serve();
    (server, log)
}

/// SIGTERM and the clean exit; the log, the `stop` event last.
#[track_caller]
fn stop(server: Process, log: &Path) -> Vec<Value> {
    server.signal(Signal::TERM);
    server.wait_exit().success();
    let events = read_events(log);
    assert_eq!(
        events.last().map(|e| &e["event"]),
        Some(&Value::from("stop"))
    );
    events
}

#[test]
fn accepts_and_closes_pair_up_with_the_clients_and_their_bytes() {
    let dir = TempDir::new();
    let (server, log) = serve(&dir, &[]);
    let port = server.port();
    let mut peers = Vec::new();
    for (i, len) in [1usize, 1000, 70_000].into_iter().enumerate() {
        let fd = connect(server.port());
        let payload = vec![i as u8; len];
        send_all(&fd, &payload);
        assert_eq!(recv_exact(&fd, len), payload);
        rustix::net::shutdown(&fd, Shutdown::Write).unwrap_or_else(|e| panic!("{e}"));
        assert!(recv_to_eof(&fd).is_empty());
        peers.push((format!("127.0.0.1:{}", local_port(&fd)), len as u64));
    }
    let events = stop(server, &log);

    let listen = &events[0];
    assert_eq!(listen["event"], "listen");
    assert_eq!(listen["transport"], "tcp");
    assert_eq!(listen["address"], format!("127.0.0.1:{port}"));
    let accepts = of(&events, "accept");
    assert_eq!(accepts.len(), 3, "{events:#?}");
    for (n, (accept, (peer, len))) in accepts.iter().zip(&peers).enumerate() {
        let conn = n as u64 + 1;
        assert_eq!(accept["conn"], conn, "{accept}");
        assert_eq!(accept["peer"], peer.as_str(), "{accept}");
        let close = close_of(&events, conn);
        assert_eq!(close["peer"], peer.as_str(), "{close}");
        assert_eq!(close["bytes_in"], *len, "{close}");
        assert_eq!(close["bytes_out"], *len, "{close}");
        assert_eq!(close["reason"], "eof", "{close}");
        let duration = close["duration"].as_f64().unwrap_or(-1.0);
        let open_for = close["t"].as_f64().unwrap_or(0.0) - accept["t"].as_f64().unwrap_or(0.0);
        assert!(
            duration >= 0.0 && duration <= open_for + 0.001,
            "{close} after {accept}"
        );
    }
    let stop = &events[events.len() - 1];
    assert_eq!(stop["connections"], 3, "{stop}");
    assert_eq!(stop["bytes"], 71_001, "{stop}");
    assert_eq!(stop["datagrams"], 0, "{stop}");
    assert_eq!(stop["events_dropped"], 0, "{stop}");
    assert_eq!(events.len(), 1 + 3 + 3 + 1, "{events:#?}");
}

#[test]
fn a_reset_and_a_silent_client_close_as_reset_and_idle() {
    let dir = TempDir::new();
    let (server, log) = serve(&dir, &["--idle-timeout", "0.3"]);
    let fd = connect(server.port());
    send_all(&fd, b"abc");
    assert_eq!(recv_exact(&fd, 3), b"abc");
    reset(fd);
    let silent = connect(server.port());
    // sockd closes it after 0.3 s of silence: the test sees its FIN.
    assert!(recv_to_eof(&silent).is_empty());
    let events = stop(server, &log);
    let reset = close_of(&events, 1);
    assert_eq!(reset["reason"], "reset", "{events:#?}");
    assert_eq!(
        (reset["bytes_in"].as_u64(), reset["bytes_out"].as_u64()),
        (Some(3), Some(3))
    );
    let idle = close_of(&events, 2);
    assert_eq!(idle["reason"], "idle", "{events:#?}");
    assert!(idle["duration"].as_f64().unwrap_or(0.0) >= 0.29, "{idle}");
}

/// The one close reason a client cannot cause: the kernel ends sockd's
/// side of the connection (`sockstat --kill`, SOCK_DESTROY), and sockd's
/// next call on it fails with `ECONNABORTED`.
#[test]
fn a_connection_the_kernel_ends_closes_as_error_with_its_errno() {
    if !skip::require_root() {
        return;
    }
    let dir = TempDir::new();
    let (server, log) = serve(&dir, &[]);
    let fd = connect(server.port());
    send_all(&fd, b"abc");
    assert_eq!(recv_exact(&fd, 3), b"abc");
    let pid = server.pid().to_string();
    // -c: the connection, not the listener.
    crate::util::sockstat()
        .args(["--kill", "-c", "--pid", &pid])
        .run()
        .success();
    // The kernel's RST (or, without SOCK_DESTROY, sockd's FIN).
    let (_, error) = recv_upto(&fd, usize::MAX);
    assert!(matches!(error, None | Some(Errno::CONNRESET)), "{error:?}");
    let events = stop(server, &log);
    let close = close_of(&events, 1);
    let ended = (close["reason"].as_str(), close["errno"].as_str());
    let expected = match crate::util::procfs::kernel_has_sock_destroy() {
        Some(true) => (Some("error"), Some("ECONNABORTED")),
        // --kill shuts the socket down instead: sockd reads an EOF.
        _ => (Some("eof"), None),
    };
    assert_eq!(ended, expected, "{events:#?}");
}

#[test]
fn a_connection_open_at_the_stop_closes_as_stop() {
    let dir = TempDir::new();
    let (server, log) = serve(&dir, &[]);
    let fd = connect(server.port());
    send_all(&fd, b"still here");
    assert_eq!(recv_exact(&fd, 10), b"still here");
    let events = stop(server, &log);
    drop(fd);
    let close = close_of(&events, 1);
    assert_eq!(close["reason"], "stop", "{events:#?}");
    assert_eq!(close["bytes_in"], 10, "{close}");
}

#[test]
fn a_fault_that_ends_a_connection_is_told_and_is_its_close_reason() {
    let dir = TempDir::new();
    let (server, log) = serve(&dir, &["--close-after", "10"]);
    let fd = connect(server.port());
    send_all(&fd, &[7u8; 20]);
    assert_eq!(recv_to_eof(&fd), [7u8; 10]);
    drop(fd);
    let events = stop(server, &log);
    let faults = of(&events, "fault");
    assert_eq!(faults.len(), 1, "{events:#?}");
    assert_eq!(
        (&faults[0]["conn"], &faults[0]["which"]),
        (&1.into(), &"close_after".into())
    );
    let close = close_of(&events, 1);
    assert_eq!(close["reason"], "fault", "{close}");
    assert_eq!(
        (close["bytes_in"].as_u64(), close["bytes_out"].as_u64()),
        (Some(20), Some(10))
    );

    // A client that never closes after the fault's FIN: sockd gives up
    // lingering (2 s) and closes; still the fault's doing.
    let (server, log) = serve(&dir, &["--close-after", "10"]);
    let fd = connect(server.port());
    send_all(&fd, &[7u8; 20]);
    assert_eq!(recv_to_eof(&fd), [7u8; 10]);
    let closed = || std::fs::read_to_string(&log).is_ok_and(|t| t.contains("\"close\""));
    assert!(eventually(Duration::from_secs(10), closed), "never closed");
    let events = stop(server, &log);
    drop(fd);
    assert_eq!(close_of(&events, 1)["reason"], "fault", "{events:#?}");

    let (server, log) = serve(&dir, &["--reset-after", "10"]);
    let fd = connect(server.port());
    send_all(&fd, &[7u8; 20]);
    let (got, errno) = crate::util::net::recv_upto(&fd, 20);
    assert_eq!((got.len(), errno), (10, Some(rustix::io::Errno::CONNRESET)));
    let events = stop(server, &log);
    assert_eq!(
        of(&events, "fault")[0]["which"],
        "reset_after",
        "{events:#?}"
    );
    assert_eq!(close_of(&events, 1)["reason"], "fault", "{events:#?}");

    let (server, log) = serve(&dir, &["--on-accept", "reset"]);
    // A reset at accept can beat connect's return (ECONNRESET there).
    if let Some(fd) = crate::util::net::connect_unless_reset(server.port()) {
        let _ = crate::util::net::recv_upto(&fd, 1);
    }
    let events = stop(server, &log);
    let faults = of(&events, "fault");
    assert_eq!(faults.len(), 1, "{events:#?}");
    assert_eq!(faults[0]["which"], "on_accept reset", "{events:#?}");
    assert_eq!(close_of(&events, 1)["reason"], "fault", "{events:#?}");
}

#[test]
fn corrupt_and_slow_close_are_told_when_they_act() {
    let dir = TempDir::new();
    let (server, log) = serve(&dir, &["--corrupt", "1", "--slow-close", "100"]);
    let fd = connect(server.port());
    send_all(&fd, b"0123456789");
    let echoed = recv_exact(&fd, 10);
    assert_ne!(echoed, b"0123456789", "--corrupt 1 flipped nothing");
    rustix::net::shutdown(&fd, Shutdown::Write).unwrap_or_else(|e| panic!("{e}"));
    assert!(recv_to_eof(&fd).is_empty());
    let events = stop(server, &log);
    let which: Vec<&Value> = of(&events, "fault").iter().map(|e| &e["which"]).collect();
    assert_eq!(which, ["corrupt", "slow_close"], "{events:#?}");
    assert_eq!(close_of(&events, 1)["reason"], "eof", "{events:#?}");
}

/// Sends a byte every 50 ms until `stop`, reading each echo.
fn trickle(fd: &rustix::fd::OwnedFd, stop: &std::sync::atomic::AtomicBool) {
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        if rustix::net::send(fd, b".", rustix::net::SendFlags::NOSIGNAL).is_err() {
            return;
        }
        let mut byte = [0u8; 1];
        if !matches!(
            rustix::net::recv(fd, &mut byte, rustix::net::RecvFlags::empty()),
            Ok((1, _))
        ) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_trickle_evicted_at_max_conns_closes_as_lease() {
    let dir = TempDir::new();
    let (server, log) = serve(&dir, &["--max-conns", "1", "--idle-timeout", "0.4"]);
    let trickler = connect(server.port());
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| trickle(&trickler, &done));
        // Waits in the backlog until the trickle loses its slot.
        let waiting = connect(server.port());
        send_all(&waiting, b"me");
        assert_eq!(recv_exact(&waiting, 2), b"me");
        done.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let events = stop(server, &log);
    let lease = close_of(&events, 1);
    assert_eq!(lease["reason"], "lease", "{events:#?}");
    assert!(lease["bytes_in"].as_u64().unwrap_or(0) > 0, "{lease}");
    assert_eq!(of(&events, "accept").len(), 2, "{events:#?}");
}

#[test]
fn a_unix_peer_is_named_by_its_pid() {
    let dir = TempDir::new();
    let log = dir.join("events");
    let path = dir.join("s");
    let server = sockd()
        .args(["-q", "--events", arg(&log), "-U", arg(&path)])
        .serve_unix();
    let fd = connect_unix(server.path());
    send_all(&fd, b"hi");
    assert_eq!(recv_exact(&fd, 2), b"hi");
    drop(fd);
    // The close is in the log before the stop: sockd reads the EOF first.
    let events = stop(server, &log);
    assert_eq!(events[0]["transport"], "unix", "{events:#?}");
    assert_eq!(events[0]["address"], arg(&path), "{events:#?}");
    let pid = format!("pid {}", std::process::id());
    assert_eq!(
        of(&events, "accept")[0]["peer"],
        pid.as_str(),
        "{events:#?}"
    );
    let close = close_of(&events, 1);
    assert_eq!(
        (&close["peer"], &close["bytes_in"]),
        (&pid.clone().into(), &2.into())
    );
}

#[test]
fn a_unix_path_with_terminal_escapes_stays_on_one_line_escaped() {
    let dir = TempDir::new();
    let log = dir.join("events");
    let path = dir.join("a\x1b[31m\u{202e}b");
    let server = sockd()
        .args(["-q", "--events", arg(&log), "-U", arg(&path)])
        .serve_unix();
    let events = stop(server, &log);
    let text = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !text.contains('\x1b') && !text.contains('\u{202e}'),
        "{text:?}"
    );
    // As stderr's listening line shows it.
    let address = events[0]["address"].as_str().unwrap_or("");
    assert!(address.ends_with("/a\\x1b[31m\\u{202e}b"), "{address:?}");
}

#[test]
fn each_datagram_is_an_event_and_so_is_each_fault_on_it() {
    let dir = TempDir::new();
    let (server, log) = serve(&dir, &["-u", "--duplicate", "1"]);
    let fd = datagram_client(
        &loopback_of(Kind::Datagram, server.port()),
        Duration::from_secs(10),
    );
    for len in [1usize, 10, 100] {
        send_datagram(&fd, &vec![1u8; len]);
        for _ in 0..2 {
            assert_eq!(recv_datagram(&fd).map(|d| d.len()), Some(len));
        }
    }
    let peer = format!("127.0.0.1:{}", local_port(&fd));
    let events = stop(server, &log);
    assert_eq!(events[0]["transport"], "udp", "{events:#?}");
    let datagrams = of(&events, "datagram");
    let seen: Vec<(&Value, &Value)> = datagrams
        .iter()
        .map(|e| (&e["peer"], &e["bytes"]))
        .collect();
    let peer = Value::from(peer);
    let lens = [1.into(), 10.into(), 100.into()];
    assert_eq!(
        seen,
        lens.iter().map(|len| (&peer, len)).collect::<Vec<_>>()
    );
    let faults = of(&events, "fault");
    assert_eq!(faults.len(), 3, "{events:#?}");
    assert!(
        faults
            .iter()
            .all(|f| f["which"] == "duplicate" && f["peer"] == peer)
    );
    let stop = &events[events.len() - 1];
    assert_eq!(
        (stop["datagrams"].as_u64(), stop["bytes"].as_u64()),
        (Some(3), Some(111))
    );
}

#[test]
fn a_unix_datagram_sender_is_named_by_its_pid() {
    let dir = TempDir::new();
    let log = dir.join("events");
    let path = dir.join("d");
    let server = sockd()
        .args(["-q", "--events", arg(&log), "-uU", arg(&path)])
        .serve_unix();
    let to =
        sockkit::Endpoint::unix(Kind::Datagram, server.path()).unwrap_or_else(|e| panic!("{e}"));
    let fd = datagram_client(&to, Duration::from_secs(10));
    send_datagram(&fd, b"four");
    assert_eq!(recv_datagram(&fd), Some(b"four".to_vec()));
    let events = stop(server, &log);
    let datagram = of(&events, "datagram");
    assert_eq!(datagram.len(), 1, "{events:#?}");
    assert_eq!(datagram[0]["peer"], format!("pid {}", std::process::id()));
    assert_eq!(datagram[0]["bytes"], 4);
}

#[test]
fn events_to_stdout_need_q() {
    let out = sockd().args(["--events", "-", "127.0.0.1", "0"]).run();
    out.fails_with(64, "--events - needs -q");
    // stdout by another name is stdout still.
    for name in ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"] {
        let out = sockd().args(["--events", name, "127.0.0.1", "0"]).run();
        out.fails_with(64, &format!("--events {name} needs -q"));
    }

    let server = sockd()
        .args(["-q", "--threads", "1", "--events", "-", "127.0.0.1", "0"])
        .serve();
    let fd = connect(server.port());
    send_all(&fd, b"x");
    assert_eq!(recv_exact(&fd, 1), b"x");
    drop(fd);
    server.wait_stdout("\"reason\":\"eof\"");
    server.signal(Signal::TERM);
    let out = server.wait_exit();
    out.success();
    let events = parse(&out.stdout_text());
    let kinds: Vec<&Value> = events.iter().map(|e| &e["event"]).collect();
    assert_eq!(kinds, ["listen", "accept", "close", "stop"]);
}

#[test]
fn a_symlink_planted_by_another_user_is_not_followed() {
    if !(skip::require_root() && skip::require_tool("setpriv")) {
        return;
    }
    let private = TempDir::new();
    let victim = private.join("victim");
    std::fs::write(&victim, "root's secret\n").unwrap_or_else(|e| panic!("{e}"));
    let shared = sticky_dir();
    let log = shared.join("events");
    Cmd::new("ln")
        .args(["-s", arg(&victim), arg(&log)])
        .by_nobody()
        .run()
        .success();
    let server = sockd()
        .args(["-q", "--events", arg(&log), "127.0.0.1", "0"])
        .serve();
    let events = stop(server, &log);
    assert_eq!(events.len(), 2, "{events:#?}");
    let victim_text = std::fs::read_to_string(&victim).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(victim_text, "root's secret\n", "the symlink was followed");
    let meta = std::fs::symlink_metadata(&log).unwrap_or_else(|e| panic!("{e}"));
    assert!(meta.file_type().is_file(), "{meta:?}");
    assert_eq!(
        std::os::unix::fs::MetadataExt::uid(&meta),
        0,
        "not root's own file"
    );
}

#[test]
fn a_fifo_planted_by_another_user_is_replaced_and_its_reader_gets_nothing() {
    if !skip::require_root() {
        return;
    }
    let shared = sticky_dir();
    let log = shared.join("events");
    mkfifo_of(&log, 65534);
    let planter = fifo_reader(&log);
    let server = sockd()
        .args(["-q", "--events", arg(&log), "127.0.0.1", "0"])
        .serve();
    let fd = connect(server.port());
    send_all(&fd, b"abc");
    assert_eq!(recv_exact(&fd, 3), b"abc");
    drop(fd);
    // Looked at before it is read: opening a FIFO to read would wait for
    // a writer that is gone.
    let meta = std::fs::symlink_metadata(&log).unwrap_or_else(|e| panic!("{e}"));
    assert!(meta.file_type().is_file(), "{meta:?}");
    assert_eq!(
        std::os::unix::fs::MetadataExt::uid(&meta),
        0,
        "not root's own file"
    );
    let events = stop(server, &log);
    let kinds: Vec<&Value> = events.iter().map(|e| &e["event"]).collect();
    assert_eq!(kinds, ["listen", "accept", "close", "stop"]);
    assert_eq!(fifo_drain(&planter), Ok(Vec::new()), "the planter read it");
}

#[test]
fn an_events_path_that_cannot_be_written_is_the_os_error() {
    sockd()
        .args([
            "-q",
            "--events",
            "/nonexistent-dir/events",
            "127.0.0.1",
            "0",
        ])
        .run()
        .fails_with(
            71,
            "sockd: write /nonexistent-dir/events: no such file or directory (ENOENT)",
        );
    let dir = TempDir::new();
    let taken = dir.join("taken");
    std::fs::create_dir(&taken).unwrap_or_else(|e| panic!("{e}"));
    sockd()
        .args(["-q", "--events", arg(&taken), "127.0.0.1", "0"])
        .run()
        .fails_with(
            71,
            &format!("sockd: write {}: is a directory (EISDIR)", taken.display()),
        );
    if !(skip::require_root() && skip::require_tool("setpriv")) {
        return;
    }
    let closed = dir.join("events");
    sockd()
        .args(["-q", "--events", arg(&closed), "127.0.0.1", "0"])
        .by_nobody()
        .run()
        .fails_with(
            77,
            &format!(
                "sockd: write {}: permission denied (EACCES)",
                closed.display()
            ),
        );
    // Another user's FIFO in root's sticky directory: not to be written
    // into, and nobody's sockd may not rename over it.
    refused_over_a_plant("--events", "events", Plant::Fifo);
    refused_over_a_plant("--events", "events", Plant::File);
}

#[test]
fn a_fifo_is_written_in_place_for_its_reader() {
    let dir = TempDir::new();
    let fifo = dir.join("events");
    crate::util::mkfifo(&fifo);
    let reader = std::thread::spawn({
        let fifo = fifo.clone();
        move || std::fs::read_to_string(&fifo).unwrap_or_else(|e| panic!("read fifo: {e}"))
    });
    let server = sockd()
        .args([
            "-q",
            "--threads",
            "1",
            "--events",
            arg(&fifo),
            "127.0.0.1",
            "0",
        ])
        .serve();
    let fd = connect(server.port());
    send_all(&fd, b"abc");
    assert_eq!(recv_exact(&fd, 3), b"abc");
    drop(fd);
    server.signal(Signal::TERM);
    server.wait_exit().success();
    let text = reader.join().unwrap_or_else(|_| panic!("reader panicked"));
    let kinds: Vec<Value> = parse(&text).iter().map(|e| e["event"].clone()).collect();
    assert_eq!(kinds, ["listen", "accept", "close", "stop"]);
    let meta = std::fs::symlink_metadata(&fifo).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type()),
        "replaced"
    );
}

#[test]
fn events_are_not_for_chat_mode() {
    sockd()
        .args(["--chat", "--events", "/tmp/never-written", "127.0.0.1", "0"])
        .run()
        .fails_with(64, "--events");
    assert!(!Path::new("/tmp/never-written").exists());
}

#[test]
fn a_fifo_nobody_reads_costs_events_counted_never_a_stalled_server() {
    let dir = TempDir::new();
    let fifo = dir.join("events");
    crate::util::mkfifo(&fifo);
    // Open, so sockd finds a reader; never read until sockd is gone.
    let reader = rustix::fs::open(
        &fifo,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .unwrap_or_else(|e| panic!("open fifo: {e}"));
    let server = sockd()
        .args(["-q", "-u", "--events", arg(&fifo), "127.0.0.1", "0"])
        .serve();
    let fd = datagram_client(
        &loopback_of(Kind::Datagram, server.port()),
        Duration::from_secs(10),
    );
    // 30,000 datagram events of ~70 bytes: twice the FIFO's 1 MiB. Sent 50
    // at a time, each window's echoes awaited: sockd answers all along.
    const WINDOW: usize = 50;
    const ROUNDS: usize = 600;
    for _ in 0..ROUNDS {
        for _ in 0..WINDOW {
            send_datagram(&fd, b"x");
        }
        for _ in 0..WINDOW {
            assert_eq!(
                recv_datagram(&fd),
                Some(b"x".to_vec()),
                "an echo went missing"
            );
        }
    }
    server.signal(Signal::TERM);
    let out = server.wait_exit();
    out.success();
    let mut held = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    while let Ok(n @ 1..) = sockkit::io::read_some(&reader, &mut buf) {
        held.extend_from_slice(&buf[..n]);
    }
    let events = parse(&String::from_utf8_lossy(&held));
    let dropped = out.events_dropped();
    assert!(dropped > 0, "nothing dropped: {} events held", events.len());
    // listen, the datagrams, stop: each in the FIFO whole, or counted.
    assert_eq!(
        events.len() as u64 + dropped,
        (2 + WINDOW * ROUNDS) as u64,
        "{out}"
    );
}

/// `--forward` with `--events`: a relayed client's accept and close with
/// its bytes (counted on the client's side) and reason; an upstream that
/// refuses is the client's `error`, with the upstream's errno; a fault
/// that ends the relay is told and is the reason.
#[test]
fn relayed_clients_are_told_with_their_bytes_and_why_they_closed() {
    let upstream = sockd()
        .args(["-q", "--threads", "1", "127.0.0.1", "0"])
        .serve();
    let to = format!("127.0.0.1:{}", upstream.port());
    let dir = TempDir::new();
    let (relay, log) = serve(&dir, &["--forward", &to]);
    let fd = connect(relay.port());
    send_all(&fd, b"through");
    rustix::net::shutdown(&fd, Shutdown::Write).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(recv_to_eof(&fd), b"through");
    let peer = format!("127.0.0.1:{}", local_port(&fd));
    let events = stop(relay, &log);
    assert_eq!(
        of(&events, "accept")[0]["peer"],
        peer.as_str(),
        "{events:#?}"
    );
    let close = close_of(&events, 1);
    assert_eq!(close["peer"], peer.as_str(), "{close}");
    assert_eq!(
        (close["bytes_in"].as_u64(), close["bytes_out"].as_u64()),
        (Some(7), Some(7))
    );
    assert_eq!(close["reason"], "eof", "{close}");

    let (_bound, refusing) = crate::util::net::refused_port();
    let to = format!("127.0.0.1:{refusing}");
    let (relay, log) = serve(&dir, &["--forward", &to]);
    if let Some(fd) = crate::util::net::connect_unless_reset(relay.port()) {
        let (_, error) = recv_upto(&fd, usize::MAX);
        assert_eq!(error, Some(Errno::CONNRESET));
    }
    let events = stop(relay, &log);
    let close = close_of(&events, 1);
    let ended = (close["reason"].as_str(), close["errno"].as_str());
    assert_eq!(ended, (Some("error"), Some("ECONNREFUSED")), "{events:#?}");

    let to = format!("127.0.0.1:{}", upstream.port());
    let (relay, log) = serve(&dir, &["--forward", &to, "--reset-after", "5"]);
    let fd = connect(relay.port());
    send_all(&fd, b"0123456789");
    let (got, error) = recv_upto(&fd, usize::MAX);
    assert_eq!(
        (got.as_slice(), error),
        (&b"01234"[..], Some(Errno::CONNRESET))
    );
    let events = stop(relay, &log);
    let faults = of(&events, "fault");
    assert_eq!(faults.len(), 1, "{events:#?}");
    assert_eq!(
        (faults[0]["conn"].as_u64(), faults[0]["which"].as_str()),
        (Some(1), Some("reset_after"))
    );
    assert_eq!(close_of(&events, 1)["reason"], "fault", "{events:#?}");
}

/// A relay's `--slow-close` is told as the echo's is: once, when it holds
/// a FIN back.
#[test]
fn a_relays_slow_close_is_told() {
    let upstream = sockd()
        .args(["-q", "--threads", "1", "127.0.0.1", "0"])
        .serve();
    let to = format!("127.0.0.1:{}", upstream.port());
    let dir = TempDir::new();
    let (relay, log) = serve(&dir, &["--forward", &to, "--slow-close", "100"]);
    let fd = connect(relay.port());
    send_all(&fd, b"bye");
    rustix::net::shutdown(&fd, Shutdown::Write).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(recv_to_eof(&fd), b"bye");
    let events = stop(relay, &log);
    let which: Vec<&Value> = of(&events, "fault").iter().map(|e| &e["which"]).collect();
    assert_eq!(which, ["slow_close"], "{events:#?}");
    assert_eq!(close_of(&events, 1)["reason"], "eof", "{events:#?}");
}
