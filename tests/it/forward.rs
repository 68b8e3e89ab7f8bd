//! `sockd --forward`: a relay in front of an upstream (a sockd, or a
//! listener the test plays), byte for byte, half-close passed on, an
//! upstream that refuses or resets closing only its client, the faults on
//! the relayed bytes, unix on either side, splice on the plain path, and
//! the usage errors.

use crate::util::net::{
    LOCAL, accept, connect, connect_unix, connect_unless_reset, exchange, recv_exact, recv_to_eof,
    recv_upto, refused_port, reset, round_trip, send_all, set_timeouts,
};
use crate::util::procfs::{cpu_seconds, status_kib};
use crate::util::{
    Cmd, DEADLINE, Process, SOCKD, TempDir, assert_same_bytes, random_bytes, skip, sockc, sockd,
};
use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;
use rustix::net::{Shutdown, shutdown};
use sockkit::endpoint::{Endpoint, Kind};
use sockkit::socket::bind_socket;
use std::time::{Duration, Instant};

/// A quiet one-worker sockd echo: the upstream.
fn upstream() -> Process {
    sockd().args(["-q", "--threads", "1", LOCAL, "0"]).serve()
}

/// A one-worker sockd forwarding to `to` (`HOST:PORT` or `unix:PATH`),
/// with `flags`; warnings on (not `-q`), the transcript off.
fn forwarder(to: &str, flags: &[&str]) -> Process {
    forwarding(sockd(), to, flags)
}

fn forwarding(cmd: Cmd, to: &str, flags: &[&str]) -> Process {
    cmd.args(["--threads", "1", "--forward", to])
        .args(flags)
        .args(["127.0.0.1", "0"])
        .stdout(std::process::Stdio::null())
        .serve()
}

fn to_port(port: u16) -> String {
    format!("{LOCAL}:{port}")
}

#[test]
fn sixty_four_mib_of_random_bytes_cross_the_relay_byte_for_byte() {
    let dir = TempDir::new();
    let input = dir.join("random.bin");
    let payload = random_bytes(64 << 20, 0x5eed_f00d);
    std::fs::write(&input, &payload).unwrap_or_else(|e| panic!("write input: {e}"));
    let up = upstream();
    let relay = forwarder(&to_port(up.port()), &["-q"]);
    let out = sockc()
        .args([LOCAL, &relay.port_arg(), "-"])
        .stdin_file(input)
        .run();
    out.success();
    assert_same_bytes(&out.stdout, &payload, "64 MiB through sockd --forward");
    out.stderr_is("");
}

#[test]
fn a_half_close_is_passed_on_and_the_reply_still_comes_back() {
    let (listener, port) = crate::util::net::listener();
    let relay = forwarder(&to_port(port), &[]);
    let client = connect(relay.port());
    send_all(&client, b"request");
    shutdown(&client, Shutdown::Write).unwrap_or_else(|e| panic!("shutdown: {e}"));
    let server = accept(&listener);
    // The upstream sees the request, then the client's FIN.
    assert_eq!(recv_to_eof(&server), b"request");
    // Its reply, sent after that FIN, still reaches the client; then EOF.
    send_all(&server, b"reply after your FIN");
    shutdown(&server, Shutdown::Write).unwrap_or_else(|e| panic!("shutdown: {e}"));
    assert_eq!(recv_to_eof(&client), b"reply after your FIN");
    drop(server);
    drop(relay);
}

#[test]
fn the_other_direction_keeps_flowing_after_the_upstreams_fin() {
    let (listener, port) = crate::util::net::listener();
    let relay = forwarder(&to_port(port), &[]);
    let client = connect(relay.port());
    send_all(&client, b"1");
    let server = accept(&listener);
    assert_eq!(recv_exact(&server, 1), b"1");
    send_all(&server, b"banner");
    shutdown(&server, Shutdown::Write).unwrap_or_else(|e| panic!("shutdown: {e}"));
    assert_eq!(recv_to_eof(&client), b"banner");
    // The client may still talk to the upstream, which still reads.
    send_all(&client, b"still heard");
    shutdown(&client, Shutdown::Write).unwrap_or_else(|e| panic!("shutdown: {e}"));
    assert_eq!(recv_to_eof(&server), b"still heard");
}

#[test]
fn a_refusing_upstream_closes_its_client_at_once_and_the_next_is_served_once_it_listens() {
    let (bound, port) = refused_port();
    let relay = forwarder(&to_port(port), &[]);
    let started = Instant::now();
    // The reset can come before connect has returned (ECONNRESET there).
    if let Some(client) = connect_unless_reset(relay.port()) {
        let (got, error) = recv_upto(&client, usize::MAX);
        assert!(got.is_empty(), "{got:?}");
        assert_eq!(error, Some(Errno::CONNRESET), "the client is reset");
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "closed promptly, not after {:?}",
        started.elapsed()
    );
    relay.wait_stderr(&format!(
        "connect {LOCAL}:{port}: connection refused (ECONNREFUSED)"
    ));
    // The upstream comes back on the same port: the next client is served.
    rustix::net::listen(&bound, 16).unwrap_or_else(|e| panic!("listen: {e}"));
    let echo = std::thread::spawn(move || {
        let server = accept(&bound);
        let got = recv_to_eof(&server);
        send_all(&server, &got);
    });
    assert_eq!(round_trip(relay.port(), b"are you back?"), b"are you back?");
    echo.join()
        .unwrap_or_else(|_| panic!("the test's upstream panicked"));
}

/// A client reconnecting in a loop against an upstream that is gone
/// cannot flood stderr (which a harness may read only at the end: full, a
/// worker would block writing it): a warning a second at most, saying how
/// many clients it stands for.
#[test]
fn a_refusing_upstream_is_warned_of_once_a_second_not_once_a_client() {
    let (_bound, port) = refused_port();
    let relay = forwarder(&to_port(port), &[]);
    let started = Instant::now();
    let clients = 300;
    for _ in 0..clients {
        if let Some(client) = connect_unless_reset(relay.port()) {
            let (_, error) = recv_upto(&client, usize::MAX);
            assert_eq!(error, Some(Errno::CONNRESET), "the client is reset");
        }
    }
    let took = started.elapsed().as_secs();
    relay.signal(rustix::process::Signal::TERM);
    let stderr = relay.wait_exit().success().stderr.clone();
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("resetting client"))
        .collect();
    assert!(
        !warnings.is_empty() && warnings.len() as u64 <= took + 2,
        "{} warnings for {clients} clients in {took} s:\n{stderr}",
        warnings.len()
    );
}

#[test]
fn an_upstream_reset_mid_stream_resets_that_client_only() {
    let (listener, port) = crate::util::net::listener();
    let relay = forwarder(&to_port(port), &[]);
    let first = connect(relay.port());
    send_all(&first, b"first");
    let first_up = accept(&listener);
    assert_eq!(recv_exact(&first_up, 5), b"first");
    let second = connect(relay.port());
    send_all(&second, b"second");
    let second_up = accept(&listener);
    assert_eq!(recv_exact(&second_up, 6), b"second");
    reset(first_up);
    let (_, error) = recv_upto(&first, usize::MAX);
    assert_eq!(error, Some(Errno::CONNRESET));
    relay.wait_stderr("(ECONNRESET)");
    // The other relay goes on both ways.
    send_all(&second_up, b"ok");
    assert_eq!(recv_exact(&second, 2), b"ok");
    send_all(&second, b"more");
    assert_eq!(recv_exact(&second_up, 4), b"more");
}

/// Through a relay with `flags` to a listener the test plays: how long
/// a request took to reach the upstream, and the reply to come back.
fn legs(flags: &[&str]) -> (f64, f64) {
    let (listener, port) = crate::util::net::listener();
    let relay = forwarder(&to_port(port), flags);
    let client = connect(relay.port());
    let sent = Instant::now();
    send_all(&client, b"ping");
    let server = accept(&listener);
    assert_eq!(recv_exact(&server, 4), b"ping");
    let arrived = Instant::now();
    send_all(&server, b"pong");
    assert_eq!(recv_exact(&client, 4), b"pong");
    let back = Instant::now();
    drop(relay);
    (
        arrived.duration_since(sent).as_secs_f64(),
        back.duration_since(arrived).as_secs_f64(),
    )
}

#[test]
fn a_delay_applies_to_the_directions_fault_dir_names() {
    // The leg without the delay is generously bounded: loopback takes
    // microseconds, a loaded machine tens of milliseconds.
    let (late, soon) = (0.18..=0.6, 0.0..=0.15);
    for (dir, up_leg, down_leg) in [
        ("up", &late, &soon),
        ("down", &soon, &late),
        ("both", &late, &late),
    ] {
        let (up, down) = legs(&["-q", "--delay", "200", "--fault-dir", dir]);
        assert!(
            up_leg.contains(&up) && down_leg.contains(&down),
            "--fault-dir {dir}: {up:.3} s up, {down:.3} s down"
        );
    }
    // Without --fault-dir, both.
    let (up, down) = legs(&["-q", "--delay", "200"]);
    assert!(
        late.contains(&up) && late.contains(&down),
        "{up:.3} s, {down:.3} s"
    );
}

/// The faults line gives the flags that replay the run: through a relay,
/// the directions too.
#[test]
fn the_faults_line_names_the_fault_dir() {
    let (_listener, port) = crate::util::net::listener();
    for (given, named) in [(Some("up"), "up"), (Some("down"), "down"), (None, "both")] {
        let mut flags = vec!["-q", "--delay", "5", "--seed", "3"];
        flags.extend(given.iter().flat_map(|dir| ["--fault-dir", dir]));
        let relay = forwarder(&to_port(port), &flags);
        let line = format!("sockd: faults: --delay 5 --seed 3 --fault-dir {named}\n");
        assert!(
            relay.stderr_text().contains(&line),
            "{}",
            relay.stderr_text()
        );
    }
}

#[test]
fn reset_after_through_the_relay_sends_exactly_that_many_then_econnreset() {
    let up = upstream();
    let relay = forwarder(&to_port(up.port()), &["-q", "--reset-after", "1000"]);
    let payload = random_bytes(3000, 12);
    let fd = connect(relay.port());
    let (got, error) = std::thread::scope(|scope| {
        scope.spawn(|| sockkit::io::send_all(&fd, &payload));
        recv_upto(&fd, usize::MAX)
    });
    assert_eq!(error, Some(Errno::CONNRESET), "after {} bytes", got.len());
    assert_eq!(got, payload[..1000]);
}

#[test]
fn chunk_and_slow_close_act_on_the_relayed_reply() {
    let (listener, port) = crate::util::net::listener();
    let relay = forwarder(
        &to_port(port),
        &[
            "-q",
            "--chunk",
            "10:20",
            "--slow-close",
            "500",
            "--fault-dir",
            "down",
        ],
    );
    let client = connect(relay.port());
    send_all(&client, b"request");
    shutdown(&client, Shutdown::Write).unwrap_or_else(|e| panic!("shutdown: {e}"));
    let server = accept(&listener);
    // Up is not faulted: the request comes whole.
    assert_eq!(recv_to_eof(&server), b"request");
    let reply = random_bytes(100, 3);
    send_all(&server, &reply);
    shutdown(&server, Shutdown::Write).unwrap_or_else(|e| panic!("shutdown: {e}"));
    let upstream_fin = Instant::now();
    let mut got = Vec::new();
    let mut reads = 0;
    let mut buf = [0u8; 4096];
    loop {
        match sockkit::io::recv_some(&client, &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                assert!(n <= 10, "a read of {n} bytes");
                got.extend_from_slice(&buf[..n]);
                reads += 1;
            }
            Err(e) => panic!("recv: {e:?}"),
        }
    }
    let fin_after = upstream_fin.elapsed().as_secs_f64();
    assert_eq!(got, reply);
    assert!(reads >= 10, "{reads} reads");
    // The FIN follows the upstream's by the slow close, not before.
    assert!(
        (0.5..2.0).contains(&fin_after),
        "EOF {fin_after:.3} s after"
    );
}

#[test]
fn a_client_reset_resets_its_upstream_connection() {
    let (listener, port) = crate::util::net::listener();
    let relay = forwarder(&to_port(port), &[]);
    let client = connect(relay.port());
    send_all(&client, b"x");
    let server = accept(&listener);
    assert_eq!(recv_exact(&server, 1), b"x");
    reset(client);
    let (_, error) = recv_upto(&server, usize::MAX);
    assert_eq!(error, Some(Errno::CONNRESET), "the upstream is reset too");
    drop(relay);
}

#[test]
fn an_upstream_that_never_answers_the_connect_times_out() {
    // A listener whose backlog is full drops the next SYN: that connect
    // never completes.
    let (fd, addr) = crate::util::net::bind_tcp(LOCAL).unwrap_or_else(|e| panic!("{e}"));
    rustix::net::listen(&fd, 0).unwrap_or_else(|e| panic!("listen: {e}"));
    let _filler = connect(addr.port());
    let relay = forwarder(&to_port(addr.port()), &["--connect-timeout", "0.5"]);
    let client = connect(relay.port());
    let started = Instant::now();
    let (_, error) = recv_upto(&client, usize::MAX);
    let waited = started.elapsed().as_secs_f64();
    assert_eq!(error, Some(Errno::CONNRESET));
    assert!((0.45..3.0).contains(&waited), "reset after {waited:.3} s");
    relay.wait_stderr(&format!("connect {addr}: connection timed out (ETIMEDOUT)"));
}

#[test]
fn faults_on_the_connection_act_on_the_client() {
    let up = upstream();
    // --accept-delay: the first byte back no sooner than the delay.
    let relay = forwarder(&to_port(up.port()), &["-q", "--accept-delay", "300"]);
    let started = Instant::now();
    assert_eq!(round_trip(relay.port(), b"slow open"), b"slow open");
    let secs = started.elapsed().as_secs_f64();
    assert!((0.3..2.0).contains(&secs), "{secs:.3} s");
    // --close-after SECSs: the client's EOF that long after its accept.
    let relay = forwarder(&to_port(up.port()), &["-q", "--close-after", "1s"]);
    let started = Instant::now();
    let fd = connect(relay.port());
    send_all(&fd, b"still relayed");
    let (got, error) = recv_upto(&fd, usize::MAX);
    assert_eq!((got.as_slice(), error), (&b"still relayed"[..], None));
    let secs = started.elapsed().as_secs_f64();
    assert!((1.0..1.5).contains(&secs), "EOF after {secs:.3} s");
    // --on-accept reset: reset at once, the upstream never dialled.
    let (listener, port) = crate::util::net::listener();
    let relay = forwarder(&to_port(port), &["-q", "--on-accept", "reset"]);
    if let Some(fd) = connect_unless_reset(relay.port()) {
        assert_eq!(recv_upto(&fd, usize::MAX).1, Some(Errno::CONNRESET));
    }
    rustix::io::ioctl_fionbio(&listener, true).unwrap_or_else(|e| panic!("{e}"));
    let dialled = rustix::net::accept(&listener);
    assert_eq!(
        dialled.err(),
        Some(Errno::AGAIN),
        "the upstream was dialled"
    );
}

#[test]
fn a_unix_upstream_and_a_unix_listener_in_front_of_tcp() {
    let dir = TempDir::new();
    let path = dir.join("up.sock");
    let unix_up = sockd()
        .args(["-q", "--threads", "1", "-U"])
        .arg(&path)
        .serve_unix();
    let to_unix = format!("unix:{}", unix_up.path());
    let relay = forwarder(&to_unix, &["-q"]);
    let payload = random_bytes(300_000, 21);
    assert_same_bytes(&round_trip(relay.port(), &payload), &payload, "to unix");

    let tcp_up = upstream();
    let front = dir.join("front.sock");
    let unix_front = sockd()
        .args([
            "-q",
            "--threads",
            "1",
            "--forward",
            &to_port(tcp_up.port()),
            "-U",
        ])
        .arg(&front)
        .serve_unix();
    let fd = connect_unix(unix_front.path());
    assert_same_bytes(&exchange(&fd, &payload), &payload, "from unix");
}

#[test]
fn clients_wait_for_room_in_a_full_unix_upstreams_backlog() {
    let dir = TempDir::new();
    let path = dir.join("slow.sock").to_string_lossy().into_owned();
    let at = Endpoint::unix(Kind::Stream, &path).unwrap_or_else(|e| panic!("{e}"));
    let (listener, _) = bind_socket(&at).unwrap_or_else(|e| panic!("bind {path}: {e}"));
    rustix::net::listen(&listener, 0).unwrap_or_else(|e| panic!("listen: {e}"));
    let relay = forwarder(&format!("unix:{path}"), &["-q", "--connect-timeout", "5"]);
    // More clients than the backlog holds, while the upstream is slow to
    // accept: a unix connect then says EAGAIN, where TCP's would wait.
    let clients: Vec<_> = (0..4).map(|_| connect(relay.port())).collect();
    for client in &clients {
        send_all(client, b"hi");
    }
    std::thread::sleep(Duration::from_millis(300));
    // Each accept gives the next connect room (an accept that waits its
    // timeout out means a client was given up).
    set_timeouts(&listener, Duration::from_secs(3));
    let upstreams: Vec<_> = clients.iter().map(|_| accept(&listener)).collect();
    for upstream in &upstreams {
        assert_eq!(recv_exact(upstream, 2), b"hi");
        send_all(upstream, b"ok");
    }
    for client in &clients {
        let (got, error) = recv_upto(client, 2);
        assert_eq!(
            (got.as_slice(), error),
            (&b"ok"[..], None),
            "served, not reset"
        );
    }
}

#[test]
fn exit_after_and_max_conns_count_relayed_clients() {
    let up = upstream();
    let relay = forwarder(
        &to_port(up.port()),
        &["-q", "--max-conns", "1", "--exit-after", "2"],
    );
    let first = connect(relay.port());
    send_all(&first, b"a");
    assert_eq!(recv_exact(&first, 1), b"a");
    // At --max-conns, the second waits in the backlog until the first goes.
    let second = connect(relay.port());
    send_all(&second, b"b");
    assert!(crate::util::net::stays_silent(
        &second,
        Duration::from_millis(300)
    ));
    drop(first);
    crate::util::net::set_timeouts(&second, DEADLINE);
    assert_eq!(recv_exact(&second, 1), b"b");
    drop(second);
    relay.wait_exit().success();
}

#[test]
fn idle_clients_are_closed_and_sigterm_ends_a_busy_relay_at_once() {
    let up = upstream();
    let relay = forwarder(&to_port(up.port()), &["-q", "--idle-timeout", "0.5"]);
    let silent = connect(relay.port());
    let started = Instant::now();
    let (got, error) = recv_upto(&silent, usize::MAX);
    let secs = started.elapsed().as_secs_f64();
    assert_eq!((got.len(), error), (0, None), "closed with a FIN");
    assert!((0.4..3.0).contains(&secs), "closed after {secs:.3} s");
    // A relay whose client never reads, its pipes full: SIGTERM still
    // ends sockd at once.
    let mut busy = forwarder(&to_port(up.port()), &["-q"]);
    let stuck = connect(busy.port());
    rustix::io::ioctl_fionbio(&stuck, true).unwrap_or_else(|e| panic!("{e}"));
    let chunk = vec![1u8; 1 << 20];
    while sockkit::io::send_some(&stuck, &chunk).is_ok() {}
    busy.signal(rustix::process::Signal::TERM);
    assert!(busy.exits_within(Duration::from_secs(3)), "still running");
    busy.wait_exit().success();
}

#[test]
fn the_transcript_shows_what_relayed_clients_say() {
    let up = upstream();
    let relay = sockd()
        .args([
            "--threads",
            "1",
            "--forward",
            &to_port(up.port()),
            LOCAL,
            "0",
        ])
        .serve();
    assert_eq!(
        round_trip(relay.port(), b"hello upstream\n"),
        b"hello upstream\n"
    );
    relay.wait_stdout("127.0.0.1 say: hello upstream");
}

/// The kernel buffers (`rcvbuf`, `sndbuf`) of `pid`'s established TCP
/// sockets, as `sockstat -m` reads them.
fn buffers_of(pid: u32) -> Vec<(u64, u64)> {
    let out = crate::util::sockstat()
        .args(["-m", "-c", "-P", "tcp", "--json", "--pid", &pid.to_string()])
        .run();
    out.success();
    let rows: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{out}"));
    let rows = rows.as_array().cloned().unwrap_or_default();
    rows.iter()
        .filter(|row| row["state"] == "ESTABLISHED")
        .map(|row| {
            let field = |name: &str| {
                row["skmem"][name]
                    .as_u64()
                    .unwrap_or_else(|| panic!("no {name}: {row}"))
            };
            (field("rcvbuf"), field("sndbuf"))
        })
        .collect()
}

/// A relay's two loopback legs have their buffers capped (the kernel
/// doubles the 128 KiB asked for); its upstream, a plain echo, keeps the
/// kernel's own.
#[test]
fn a_relays_loopback_sockets_have_capped_buffers_and_the_echos_do_not() {
    let up = upstream();
    let relay = forwarder(&to_port(up.port()), &["-q"]);
    let client = connect(relay.port());
    send_all(&client, b"hello");
    assert_eq!(recv_exact(&client, 5), b"hello");
    let capped = 2 * 128 * 1024;
    let relayed = buffers_of(relay.pid());
    assert_eq!(
        relayed,
        vec![(capped, capped); 2],
        "the relay's client and upstream sockets"
    );
    let echoed = buffers_of(up.pid());
    assert_eq!(echoed.len(), 1, "{echoed:?}");
    assert_ne!(echoed[0], (capped, capped), "the echo's socket");
}

/// The `splice` calls sockd makes (strace's lines) while one client sends
/// 1 MiB through `--forward` with `flags`.
fn splices_for(flags: &[&str]) -> usize {
    let dir = TempDir::new();
    let trace = dir.join("trace");
    let up = upstream();
    let tracer = Cmd::new("strace")
        .args(["-f", "-e", "trace=splice", "-o"])
        .arg(&trace)
        .arg(SOCKD)
        .args(["-q", "--exit-after", "1"]);
    let relay = forwarding(tracer, &to_port(up.port()), flags);
    let payload = random_bytes(1 << 20, 5);
    assert_same_bytes(&round_trip(relay.port(), &payload), &payload, "1 MiB");
    relay.wait_exit().success();
    let text = std::fs::read_to_string(&trace).unwrap_or_else(|e| panic!("strace -o: {e}"));
    text.lines()
        .filter(|line| line.contains("splice(") && !line.contains("= -1"))
        .count()
}

#[test]
fn the_plain_relay_splices_and_a_faulted_one_does_not() {
    if !skip::require_tool("strace") {
        return;
    }
    let plain = splices_for(&[]);
    // At least a splice in and one out per direction.
    assert!(plain >= 4, "{plain} splices on the plain path");
    assert_eq!(splices_for(&["--delay", "1"]), 0, "a faulted relay copies");
}

#[test]
fn a_client_that_never_reads_is_held_back_and_the_relays_memory_stays_bounded() {
    let up = upstream();
    for flags in [&["-q"][..], &["-q", "--delay", "2000"][..]] {
        let relay = forwarder(&to_port(up.port()), flags);
        // One client sends and never reads: the echo backs up through the
        // relay to the upstream and back to this client's sends, which
        // stop. A send that cannot go on for 2.5 s (longer than the delay)
        // ends the attempt.
        let stuck = connect(relay.port());
        rustix::io::ioctl_fionbio(&stuck, true).unwrap_or_else(|e| panic!("{e}"));
        let chunk = vec![7u8; 1 << 20];
        let mut sent = 0usize;
        loop {
            match sockkit::io::send_some(&stuck, &chunk) {
                Ok(n) => sent += n,
                Err(Errno::AGAIN) => {
                    let mut fds = [PollFd::new(&stuck, PollFlags::OUT)];
                    let ready = sockkit::io::poll(&mut fds, Some(Duration::from_millis(2500)))
                        .unwrap_or_else(|e| panic!("poll: {e}"));
                    if ready == 0 {
                        break;
                    }
                }
                Err(e) => panic!("send: {e:?}"),
            }
            assert!(
                sent < 64 << 20,
                "{flags:?}: {sent} bytes taken: nothing holds back"
            );
        }
        let peak_kib = status_kib(relay.pid(), "VmHWM");
        eprintln!(
            "--forward {flags:?}: {} KiB taken, VmHWM {peak_kib} KiB",
            sent >> 10
        );
        assert!(sent > 0);
        assert!(peak_kib < 64 * 1024, "{flags:?}: peak RSS {peak_kib} KiB");
        // Meanwhile another client is served at once.
        assert_eq!(round_trip(relay.port(), b"not stalled"), b"not stalled");
    }
}

#[test]
fn a_copied_relay_whose_client_never_reads_waits_without_spinning() {
    let up = upstream();
    // Through user space: a fault on both directions, or the transcript.
    for flags in [&["-q", "--delay", "0"][..], &[][..]] {
        let relay = forwarder(&to_port(up.port()), flags);
        // The echo comes back down to a client that never reads, until
        // every buffer on the way is full and its sends stop.
        let stuck = connect(relay.port());
        rustix::io::ioctl_fionbio(&stuck, true).unwrap_or_else(|e| panic!("{e}"));
        let chunk = vec![3u8; 1 << 20];
        loop {
            match sockkit::io::send_some(&stuck, &chunk) {
                Ok(_) => {}
                Err(Errno::AGAIN) => {
                    let mut fds = [PollFd::new(&stuck, PollFlags::OUT)];
                    let ready = sockkit::io::poll(&mut fds, Some(Duration::from_millis(1500)))
                        .unwrap_or_else(|e| panic!("poll: {e}"));
                    if ready == 0 {
                        break;
                    }
                }
                Err(e) => panic!("send: {e:?}"),
            }
        }
        // Stuck both ways, the relay has nothing to do until the client
        // reads: it waits in epoll_wait rather than being woken by the
        // upstream's bytes over and over.
        let before = cpu_seconds(relay.pid());
        std::thread::sleep(Duration::from_secs(2));
        let cpu = cpu_seconds(relay.pid()) - before;
        assert!(
            cpu < 0.3,
            "{flags:?}: the relay spun: {cpu:.2} s of CPU in 2 s"
        );
        // The bytes still all come back once the client reads.
        assert_eq!(round_trip(relay.port(), b"not stalled"), b"not stalled");
    }
}

#[test]
fn bad_forward_values_and_flags_that_cannot_go_with_it_are_usage_errors() {
    for (args, needle) in [
        (&["--forward", "127.0.0.1", LOCAL, "0"][..], "--forward"),
        (&["--forward", "::1:80", LOCAL, "0"][..], "brackets"),
        (&["--forward", "127.0.0.1:0", LOCAL, "0"][..], "port 0"),
        (
            &["--forward", "127.0.0.1:99999", LOCAL, "0"][..],
            "invalid port",
        ),
        (
            &["--forward", "127.0.0.1:80", "-u", LOCAL, "0"][..],
            "--udp",
        ),
        (
            &["--forward", "127.0.0.1:80", "--chat", LOCAL, "0"][..],
            "--chat",
        ),
        (&["--fault-dir", "up", LOCAL, "0"][..], "--forward"),
        (
            &[
                "--forward",
                "127.0.0.1:80",
                "--fault-dir",
                "sideways",
                LOCAL,
                "0",
            ][..],
            "sideways",
        ),
    ] {
        let out = sockd().args(args).run();
        out.fails_with(64, needle);
    }
}
