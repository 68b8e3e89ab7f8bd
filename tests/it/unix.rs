//! `sockd -U PATH` and `-uU PATH`: everything TCP has over unix stream
//! sockets (echo, transcript, chat, threads), abstract names, the socket
//! file's life (a live one never taken, a stale one removed only with
//! `--unlink`, removed at exit while it is still sockd's), `--mode`, peers
//! named by pid, and unix datagrams.

use crate::util::net::{
    connect_unix, datagram_client, exchange, recv_datagram, recv_exact, send_all, send_datagram,
};
use crate::util::{
    Cmd, DEADLINE, Process, TempDir, assert_same_bytes, eventually, random_bytes, skip, sockbench,
    sockc, sockd,
};
use rustix::process::Signal;
use sockkit::endpoint::{Endpoint, Kind};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

/// `sockd ARGS -U path`, once its port file names the path.
#[track_caller]
fn unix_sockd(args: &[&str], path: &str) -> Process {
    let server = sockd().args(args).args(["-U", path]).serve_unix();
    assert_eq!(server.path(), path, "the port file holds the socket's path");
    server
}

fn sock_path(dir: &TempDir, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

/// An abstract name no other test (or run) uses.
fn abstract_name(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    format!("@sockkit-test-{}-{tag}-{nanos}", std::process::id())
}

/// A socket file nobody serves: bound, then closed (the file stays).
fn stale_socket(path: &str) {
    let endpoint = Endpoint::unix(Kind::Stream, path).unwrap_or_else(|e| panic!("{e}"));
    drop(sockkit::bind_socket(&endpoint).unwrap_or_else(|e| panic!("{e}")));
    assert!(is_socket(path), "{path} is no socket file");
}

fn is_socket(path: &str) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_socket())
}

fn stop(server: Process) -> crate::util::Outcome {
    server.signal(Signal::TERM);
    let out = server.wait_exit();
    out.success();
    out
}

#[test]
fn sixty_four_mib_come_back_byte_for_byte() {
    let dir = TempDir::new();
    let path = sock_path(&dir, "s");
    let server = unix_sockd(&["-q"], &path);
    let payload = random_bytes(64 << 20, 0x64);
    let echo = exchange(&connect_unix(&path), &payload);
    assert_same_bytes(&echo, &payload, "64 MiB through a unix stream");
    assert_eq!(stop(server).summary(), (1, 64 << 20));
}

#[test]
fn two_hundred_clients_at_once_each_get_their_own_bytes() {
    let dir = TempDir::new();
    let path = sock_path(&dir, "s");
    let server = unix_sockd(&["-q", "--threads", "4"], &path);
    // All connected before any sends: 200 connections open at once.
    let clients: Vec<_> = (0..200).map(|_| connect_unix(&path)).collect();
    std::thread::scope(|scope| {
        for (i, client) in clients.iter().enumerate() {
            scope.spawn(move || {
                let payload = random_bytes(16 * 1024, i as u64);
                let echo = exchange(client, &payload);
                assert_same_bytes(&echo, &payload, &format!("client {i}"));
            });
        }
    });
    assert_eq!(stop(server).summary(), (200, 200 * 16 * 1024));
}

#[test]
fn the_transcript_names_a_unix_client_by_its_pid() {
    let dir = TempDir::new();
    let path = sock_path(&dir, "s");
    let server = unix_sockd(&[], &path);
    let echo = exchange(&connect_unix(&path), b"hello\nworld\n");
    assert_eq!(echo, b"hello\nworld\n");
    let me = std::process::id();
    server.wait_stdout(&format!("pid {me} say: hello\npid {me} say: world\n"));
    if skip::require_tool("socat") {
        let socat = Cmd::new("socat")
            .args(["-", &format!("UNIX-CONNECT:{path}")])
            .stdin_bytes(b"from socat\n")
            .spawn();
        let pid = socat.pid();
        socat.wait_exit().success().stdout_is(b"from socat\n");
        server.wait_stdout(&format!("pid {pid} say: from socat\n"));
    }
    let client = sockc().args(["-U", &path, "from sockc"]).spawn();
    let pid = client.pid();
    client.wait_exit().success().stdout_is(b"from sockc");
    server.wait_stdout(&format!("pid {pid} say: from sockc\n"));
}

#[test]
fn an_abstract_name_serves_and_a_second_server_there_is_75() {
    let name = abstract_name("abstract");
    let server = unix_sockd(&["-q"], &name);
    server.wait_stderr(&format!("sockd: listening on {name}\n"));
    assert_eq!(exchange(&connect_unix(&name), b"ping"), b"ping");
    sockd()
        .args(["-U", &name])
        .run()
        .fails_with(
            75,
            &format!("sockd: bind {name}: address already in use (EADDRINUSE)"),
        )
        .stderr_has("hint: another socket holds");
    sockd()
        .args(["-U", &name, "--mode", "600"])
        .run()
        .fails_with(64, "sockd: --mode is for a socket file; the abstract name");
    stop(server);
}

#[test]
fn a_live_servers_socket_is_never_taken_75() {
    let dir = TempDir::new();
    let path = sock_path(&dir, "live");
    let first = unix_sockd(&["-q"], &path);
    for unlink in [false, true] {
        let mut args = vec!["-U", &path];
        args.extend(unlink.then_some("--unlink"));
        sockd()
            .args(&args)
            .run()
            .fails_with(
                75,
                &format!("sockd: bind {path}: address already in use (EADDRINUSE)"),
            )
            .stderr_has(&format!(
                "hint: a live server (pid {}) holds {path}",
                first.pid()
            ));
    }
    // Still the first server's, and it still serves.
    assert_eq!(exchange(&connect_unix(&path), b"still mine"), b"still mine");
    stop(first);
}

#[test]
fn a_stale_socket_file_is_75_and_removed_only_with_unlink() {
    let dir = TempDir::new();
    let path = sock_path(&dir, "stale");
    stale_socket(&path);
    sockd()
        .args(["-U", &path])
        .run()
        .fails_with(
            75,
            &format!("sockd: bind {path}: address already in use (EADDRINUSE)"),
        )
        .stderr_has(&format!("hint: {path} is a stale socket file"))
        .stderr_has("--unlink");
    assert!(
        is_socket(&path),
        "the stale file was removed without --unlink"
    );
    let server = unix_sockd(&["-q", "--unlink"], &path);
    assert_eq!(exchange(&connect_unix(&path), b"fresh"), b"fresh");
    stop(server);
    assert!(!Path::new(&path).exists(), "{path} left behind");
}

#[test]
fn a_symlink_another_user_planted_at_the_path_is_never_followed_nor_removed_75() {
    if !skip::require_root() || !skip::require_tool("setpriv") {
        return;
    }
    // /tmp as it is: anyone may create names in it, only owners remove them.
    let shared = TempDir::new();
    let dir = shared.join("");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777))
        .unwrap_or_else(|e| panic!("chmod 1777: {e}"));
    let victim = shared.join("victim");
    std::fs::write(&victim, b"root's").unwrap_or_else(|e| panic!("{e}"));
    let path = sock_path(&shared, "s.sock");
    Cmd::new("ln")
        .arg("-s")
        .args([&*victim.to_string_lossy(), path.as_str()])
        .by_nobody()
        .run()
        .success();
    refused_with_or_without_unlink(&path, "a symbolic link");
    let link = std::fs::symlink_metadata(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(link.file_type().is_symlink(), "{:?}", link.file_type());
    assert_eq!(std::fs::read(&victim).ok().as_deref(), Some(&b"root's"[..]));
}

#[test]
fn a_path_anyone_could_name_reaches_the_terminal_escaped_in_the_hint_too() {
    let dir = TempDir::new();
    let hostile = sock_path(&dir, "\x1b[31mx\u{202e}");
    std::fs::write(&hostile, b"").unwrap_or_else(|e| panic!("{e}"));
    let shown = hostile
        .replace('\x1b', r"\x1b")
        .replace('\u{202e}', r"\u{202e}");
    let out = sockd().args(["-U", &hostile, "--unlink"]).run();
    out.fails_with(75, &format!("sockd: bind {shown}: address already in use"))
        .stderr_has(&format!("hint: {shown} is a regular file, not a socket"));
    assert!(
        !out.stderr.contains('\x1b') && !out.stderr.contains('\u{202e}'),
        "{}",
        out.stderr
    );
}

/// `sockd -U PATH`, with and without `--unlink`: 75, EADDRINUSE, and the
/// hint that PATH is `what`, not a socket.
#[track_caller]
fn refused_with_or_without_unlink(path: &str, what: &str) {
    for unlink in [false, true] {
        let mut args = vec!["-U", path];
        args.extend(unlink.then_some("--unlink"));
        sockd()
            .args(&args)
            .run()
            .fails_with(75, "(EADDRINUSE)")
            .stderr_has(&format!("hint: {path} is {what}, not a socket"));
    }
}

#[test]
fn a_file_that_is_no_socket_is_never_removed_75() {
    let dir = TempDir::new();
    let path = sock_path(&dir, "data");
    std::fs::write(&path, b"precious").unwrap_or_else(|e| panic!("{e}"));
    refused_with_or_without_unlink(&path, "a regular file");
    assert_eq!(std::fs::read(&path).ok().as_deref(), Some(&b"precious"[..]));
}

#[test]
fn the_socket_file_goes_at_exit_unless_it_was_replaced() {
    let dir = TempDir::new();
    let path = sock_path(&dir, "s");
    let server = unix_sockd(&["-q"], &path);
    assert!(is_socket(&path));
    stop(server);
    assert!(
        !Path::new(&path).exists(),
        "{path} left behind after SIGTERM"
    );
    // Someone else's file at the path by the time sockd exits stays.
    let server = unix_sockd(&["-q"], &path);
    std::fs::remove_file(&path).unwrap_or_else(|e| panic!("{e}"));
    stale_socket(&path);
    stop(server);
    assert!(is_socket(&path), "a socket sockd did not bind was removed");
}

#[test]
fn mode_600_keeps_out_everyone_but_the_owner_77() {
    if !skip::require_root() || !skip::require_tool("setpriv") {
        return;
    }
    let dir = TempDir::new();
    std::fs::set_permissions(dir.join(""), std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod: {e}"));
    for (mode, nobody_may) in [("600", false), ("666", true)] {
        let path = sock_path(&dir, mode);
        let server = unix_sockd(&["-q", "--mode", mode], &path);
        let meta = std::fs::symlink_metadata(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(format!("{:o}", meta.permissions().mode() & 0o7777), mode);
        let nobody = sockbench()
            .args(["pingpong", "-U", &path, "-d", "0.2"])
            .by_nobody()
            .run();
        if nobody_may {
            nobody.success();
        } else {
            nobody.fails_with(
                77,
                &format!("sockbench: connect {path}: permission denied (EACCES)"),
            );
        }
        // The owner (root) gets in either way.
        assert_eq!(exchange(&connect_unix(&path), b"owner"), b"owner");
        stop(server);
    }
}

#[test]
fn mode_binds_privately_first_and_chmods_through_the_fd() {
    if !skip::require_tool("strace") {
        return;
    }
    let dir = TempDir::new();
    let (path, trace) = (sock_path(&dir, "s"), dir.join("trace"));
    let traced = [
        "strace",
        "-f",
        "-qq",
        "-e",
        "trace=umask,bind,chmod,fchmodat",
        "-o",
    ];
    let server = sockd()
        .wrap(
            traced
                .iter()
                .copied()
                .chain([trace.to_str().unwrap_or_default()]),
        )
        .args(["-q", "--exit-after", "1", "--mode", "660"])
        .args(["-U", &path])
        .serve_unix();
    assert_eq!(exchange(&connect_unix(&path), b"x"), b"x");
    server.wait_exit().success();
    let text = std::fs::read_to_string(&trace).unwrap_or_else(|e| panic!("{e}"));
    let at = |call: &str, needle: &str| {
        text.lines()
            .position(|line| line.contains(call) && line.contains(needle))
            .unwrap_or_else(|| panic!("no {call} with {needle:?} in the trace:\n{text}"))
    };
    let private = at("umask(", "umask(0177)");
    let bind = at("bind(", &format!("sun_path=\"{path}\""));
    let chmod = at("chmod", "\"/proc/self/fd/");
    assert!(
        private < bind && bind < chmod,
        "umask, bind, chmod out of order:\n{text}"
    );
    assert!(
        !text.contains(&format!("chmod(\"{path}\"")),
        "chmod by path:\n{text}"
    );
}

#[test]
fn chat_works_over_a_unix_socket() {
    let dir = TempDir::new();
    let path = sock_path(&dir, "chat");
    let server = sockd()
        .args(["--chat", "--exit-after", "1", "-U", &path])
        .stdin_bytes(b"hi, i got you\n")
        .serve_unix();
    let client = connect_unix(&path);
    send_all(&client, b"hello\n");
    assert_eq!(recv_exact(&client, 13), b"hi, i got you");
    let me = std::process::id();
    server.wait_stdout(&format!("pid {me} say: hello\nyou say: hi, i got you\n"));
    server.wait_exit().success();
}

#[test]
fn exit_after_and_max_conns_count_unix_connections() {
    let dir = TempDir::new();
    let path = sock_path(&dir, "s");
    let server = unix_sockd(&["-q", "--max-conns", "1", "--exit-after", "2"], &path);
    let first = connect_unix(&path);
    send_all(&first, b"one");
    assert_eq!(recv_exact(&first, 3), b"one");
    // The second waits in the backlog until the first has gone.
    let second = connect_unix(&path);
    send_all(&second, b"two");
    assert!(crate::util::net::stays_silent(
        &second,
        Duration::from_millis(300)
    ));
    drop(first);
    crate::util::net::recv_timeout(&second, DEADLINE);
    assert_eq!(recv_exact(&second, 3), b"two");
    drop(second);
    let out = server.wait_exit();
    out.success();
    assert_eq!(out.summary(), (2, 6));
}

fn datagram_endpoint(path: &str) -> Endpoint {
    Endpoint::unix(Kind::Datagram, path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn unix_datagrams_come_back_whole_and_name_their_sender() {
    let dir = TempDir::new();
    let path = sock_path(&dir, "d");
    let server = unix_sockd(&["-u"], &path);
    let client = datagram_client(&datagram_endpoint(&path), DEADLINE);
    // The largest a sender with the default send buffer can send.
    for size in [0, 1, 1400, 65_507, 212_960] {
        let payload = random_bytes(size, size as u64);
        send_datagram(&client, &payload);
        let echo = recv_datagram(&client).unwrap_or_else(|| panic!("no echo of {size} bytes"));
        assert_same_bytes(&echo, &payload, &format!("a {size}-byte unix datagram"));
    }
    send_datagram(&client, b"named\n");
    assert_eq!(recv_datagram(&client).as_deref(), Some(&b"named\n"[..]));
    server.wait_stdout(&format!("pid {} say: named\n", std::process::id()));
    let out = stop(server);
    assert_eq!(out.summary().0, 6, "{out}");
    assert_eq!(out.unsent(), 0, "{out}");
}

/// Datagrams too long for sockd's 1 MiB buffer are each counted on the
/// stop line, and warned of at most once a second (a line each would let
/// one sender fill stderr's queue).
#[test]
fn datagrams_over_the_buffer_are_counted_and_warned_of_once_a_second() {
    if !skip::require_root() {
        return;
    }
    let dir = TempDir::new();
    let path = sock_path(&dir, "d");
    let server = unix_sockd(&["-u", "--threads", "1"], &path);
    let client = datagram_client(&datagram_endpoint(&path), DEADLINE);
    // Past SO_SNDBUF's cap (root may): a sender of datagrams over 1 MiB.
    rustix::net::sockopt::set_socket_send_buffer_size_force(&client, 4 << 20)
        .unwrap_or_else(|e| panic!("SO_SNDBUFFORCE: {e}"));
    let oversized = vec![7u8; (1 << 20) + 1];
    let started = std::time::Instant::now();
    let sent = 40;
    for _ in 0..sent {
        send_datagram(&client, &oversized);
    }
    // In order: once this comes back, every oversized one was read.
    send_datagram(&client, b"after");
    assert_eq!(recv_datagram(&client).as_deref(), Some(&b"after"[..]));
    let took = started.elapsed().as_secs();
    let out = stop(server);
    assert_eq!(out.unsent(), sent, "{out}");
    let warnings = out
        .stderr
        .lines()
        .filter(|line| line.contains("bytes sockd takes; not echoed"))
        .count() as u64;
    assert!(
        warnings >= 1 && warnings <= took + 2,
        "{warnings} warnings for {sent} datagrams in {took} s\n{out}"
    );
}

#[test]
fn unix_datagram_senders_that_cannot_be_answered_are_counted_not_waited_for() {
    let dir = TempDir::new();
    let path = sock_path(&dir, "d");
    let server = unix_sockd(&["-q", "-u", "--threads", "1"], &path);
    let at = datagram_endpoint(&path);
    // Unbound: no address to answer.
    let unbound = sockkit::init_socket(&at).unwrap_or_else(|e| panic!("{e}"));
    let to = at.address.to_any().unwrap_or_else(|e| panic!("{e:?}"));
    sockkit::io::send_to(&unbound, b"who am i", &to).unwrap_or_else(|e| panic!("{e:?}"));
    // Connected and never reading: the echoes queued for it stay charged
    // to sockd's send buffer until read, so they fill it, and the echoes
    // after that are dropped rather than waited for. Were sockd waiting, it
    // would stop reading, and these sends would time out.
    let silent = datagram_client(&at, Duration::from_secs(10));
    let flood = random_bytes(60_000, 0x5);
    for _ in 0..64 {
        send_datagram(&silent, &flood);
    }
    // Gone before their echoes can come back.
    for round in 0..10 {
        let gone = datagram_client(&at, DEADLINE);
        send_datagram(&gone, &random_bytes(100_000, round));
    }
    // Its queue gone, sockd's send buffer is free again: once the socket
    // is released, which a child another test is spawning can put off (a
    // copy of our fds until its exec). Until then the echo below would be
    // dropped for want of room; so the kernel is asked (sock_diag's
    // sk_wmem_alloc, through sockstat -m).
    drop(silent);
    let pid = server.pid().to_string();
    let used = || {
        let rows = crate::util::listing::table(&["-m", "-u", "--pid", &pid]);
        let row = rows.iter().find(|row| row["LOCAL ADDRESS"] == path)?;
        row["SKMEM"]
            .split(',')
            .find_map(|item| item.strip_prefix('t')?.parse::<u64>().ok())
    };
    assert!(
        eventually(DEADLINE, || used() == Some(0)),
        "sockd's send buffer still holds {:?} bytes",
        used()
    );
    let steady = datagram_client(&at, Duration::from_secs(5));
    send_datagram(&steady, b"still here");
    assert_eq!(recv_datagram(&steady).as_deref(), Some(&b"still here"[..]));
    let out = stop(server);
    assert_eq!(out.summary().0, 1 + 64 + 10 + 1, "{out}");
    // The unbound one, and the flood's echoes past a send buffer's worth
    // (2 MiB at most: fewer than 35 of them; 30 were dropped when measured).
    let (unbound, flooded) = (1, 20);
    assert!(out.unsent() >= unbound + flooded, "{out}");
}

#[test]
fn socat_and_nc_talk_to_sockd_over_unix_sockets() {
    let dir = TempDir::new();
    let (stream, datagram) = (sock_path(&dir, "s"), sock_path(&dir, "d"));
    let server = unix_sockd(&[], &stream);
    let datagrams = unix_sockd(&["-u"], &datagram);
    if skip::require_tool("socat") {
        Cmd::new("socat")
            .args(["-", &format!("UNIX-CONNECT:{stream}")])
            .stdin_bytes(b"socat stream\n")
            .run()
            .success()
            .stdout_is(b"socat stream\n");
        let own = sock_path(&dir, "socat.sock");
        Cmd::new("socat")
            .args([
                "-t",
                "1",
                "-",
                &format!("UNIX-SENDTO:{datagram},bind={own}"),
            ])
            .stdin_bytes(b"socat datagram\n")
            .run()
            .success()
            .stdout_is(b"socat datagram\n");
    }
    if skip::require_openbsd_nc() {
        Cmd::new("nc")
            .args(["-N", "-U", &stream])
            .stdin_bytes(b"nc stream\n")
            .run()
            .success()
            .stdout_is(b"nc stream\n");
        Cmd::new("nc")
            .args(["-u", "-U", "-w", "1", &datagram])
            .stdin_bytes(b"nc datagram\n")
            .run()
            .success()
            .stdout_is(b"nc datagram\n");
        server.wait_stdout(" say: nc stream\n");
        datagrams.wait_stdout(" say: nc datagram\n");
    }
}

#[test]
fn unix_usage_errors_are_64() {
    let long = format!("/tmp/{}", "x".repeat(103));
    for (args, needle) in [
        (
            &["--unlink", "127.0.0.1", "0"][..],
            "sockd: --unlink is for a unix socket file",
        ),
        (
            &["--mode", "600", "127.0.0.1", "0"],
            "sockd: --mode is for a unix socket file",
        ),
        (
            &["-U", "/tmp/x.sock", "--mode", "8"],
            "sockd: invalid --mode \"8\"",
        ),
        (
            &["-U", "/tmp/x.sock", "127.0.0.1"],
            "sockd: --unix cannot be used with",
        ),
        (&["-U", &long], "is 108 bytes; at most 107 fit in sun_path"),
        (&["-U", ""], "empty unix socket path"),
    ] {
        sockd().args(args).run().fails_with(64, needle);
    }
}

#[test]
fn a_directory_sockd_may_not_write_is_eacces_77() {
    if !skip::require_root() || !skip::require_tool("setpriv") {
        return;
    }
    let dir = TempDir::new();
    let path = sock_path(&dir, "s");
    sockd()
        .args(["-U", &path])
        .by_nobody()
        .run()
        .fails_with(
            77,
            &format!("sockd: bind {path}: permission denied (EACCES)"),
        )
        .stderr_has("its directory is not writable");
    let missing = sock_path(&dir, "no/such/dir.sock");
    sockd().args(["-U", &missing]).run().fails_with(
        71,
        &format!("sockd: bind {missing}: no such file or directory (ENOENT)"),
    );
}
