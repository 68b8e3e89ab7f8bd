//! `sockbench -u` (datagram pingpong) and `-U PATH` (unix stream, every
//! load) against servers run inside the test: UDP and unix datagram echo
//! threads that answer faithfully, drop every other datagram, answer late,
//! answer only the probe, flip a byte or stay silent; the stream echo
//! server on a unix path and an abstract name; and socat (interop).
//!
//! Speed is never asserted; losses are provoked, not hoped for (a
//! faithful server is given a `--lost-after` no machine is slow enough
//! to reach).

use crate::bench::{Echo, EchoServer, bench, check_clean, check_requests, json_run};
use crate::util::{Cmd, DEADLINE, Outcome, TempDir, skip, sockbench};
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::net::RecvFlags;
use serde_json::Value;
use sockkit::endpoint::{Endpoint, Kind};
use sockkit::io::{recv_from, send_to};
use sockkit::socket::bind_socket;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// What the datagram echo thread does with each datagram.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    Faithful,
    /// Drops the 2nd, 4th, … datagram it receives.
    DropEveryOther,
    /// Holds every other datagram back, and sends it after the next one's
    /// echo: half the echoes come late.
    LateEveryOther,
    /// Answers the first datagram (sockbench's probe), then none.
    OnlyFirst,
    /// Flips the first byte of each echo.
    Flip,
    /// Answers nothing.
    Silent,
}

/// A datagram echo thread on a socket of its own; stopped and joined on
/// drop.
pub(crate) struct DatagramServer {
    pub(crate) bound: Endpoint,
    pub(crate) received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl DatagramServer {
    pub(crate) fn start(at: &Endpoint, reply: Reply) -> Self {
        let (fd, bound) = bind_socket(at).unwrap_or_else(|e| panic!("bind {at}: {e}"));
        Self::serve(fd, bound, reply)
    }

    pub(crate) fn udp(reply: Reply) -> Self {
        Self::start(&crate::util::net::loopback_of(Kind::Datagram, 0), reply)
    }

    pub(crate) fn serve(fd: OwnedFd, bound: Endpoint, reply: Reply) -> Self {
        // Wakes the loop to look at the stop flag.
        crate::util::net::recv_timeout(&fd, Duration::from_millis(20));
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(AtomicU64::new(0));
        let thread = thread::spawn({
            let (stop, received) = (Arc::clone(&stop), Arc::clone(&received));
            move || echo_datagrams(&fd, reply, &stop, &received)
        });
        Self {
            bound,
            received,
            stop,
            thread: Some(thread),
        }
    }

    pub(crate) fn port(&self) -> String {
        self.bound.socket_addr().map_or(0, |a| a.port()).to_string()
    }

    pub(crate) fn path(&self) -> String {
        self.bound.to_string()
    }
}

impl Drop for DatagramServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn echo_datagrams(fd: &OwnedFd, reply: Reply, stop: &AtomicBool, received: &AtomicU64) {
    let mut buf = vec![0u8; 65536];
    let mut held: Option<(Vec<u8>, rustix::net::SocketAddrAny)> = None;
    while !stop.load(Ordering::Relaxed) {
        let datagram = match recv_from(fd, &mut buf, RecvFlags::empty()) {
            Ok(datagram) => datagram,
            Err(Errno::AGAIN) => continue,
            Err(errno) => panic!("echo thread: recvfrom: {errno:?}"),
        };
        let Some(from) = datagram.from else { continue };
        let count = received.fetch_add(1, Ordering::Relaxed) + 1;
        let mut echo = buf[..datagram.len].to_vec();
        let answer = match reply {
            Reply::Faithful => true,
            Reply::DropEveryOther => count % 2 == 1,
            Reply::OnlyFirst => count == 1,
            Reply::Silent => false,
            Reply::Flip => {
                if let Some(first) = echo.first_mut() {
                    *first ^= 0x01;
                }
                true
            }
            Reply::LateEveryOther => {
                if count % 2 == 1 {
                    held = Some((echo, from));
                    continue;
                }
                true
            }
        };
        // A sender gone away (ECONNREFUSED) is no reason to stop.
        if answer {
            let _ = send_to(fd, &echo, &from);
        }
        if let Some((late, to)) = held.take() {
            let _ = send_to(fd, &late, &to);
        }
    }
}

/// `sockbench pingpong -u 127.0.0.1 PORT ARGS --json` against `server`.
fn udp_json(server: &DatagramServer, args: &[&str]) -> (Outcome, Value) {
    let port = server.port();
    bench_json(&[&["pingpong", "-u", "127.0.0.1", &port], args].concat())
}

/// sockbench with `--json`, and the object it printed (success or not).
fn bench_json(args: &[&str]) -> (Outcome, Value) {
    let out = bench(&[args, &["--json"]].concat());
    let object = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: not one JSON object\n{out}"));
    (out, object)
}

fn count(object: &Value, key: &str) -> u64 {
    object[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not a count in {object}"))
}

#[test]
fn udp_pingpong_echoes_every_datagram_whole() {
    let server = DatagramServer::udp(Reply::Faithful);
    let port = server.port();
    let args = [
        "pingpong",
        "-u",
        "127.0.0.1",
        &port,
        "-c",
        "4",
        "-s",
        "1400",
        "-d",
        "1",
    ];
    let object = json_run(&[&args[..], &["--lost-after", "30"]].concat());
    check_clean(&object, "pingpong", &format!("127.0.0.1:{port}"));
    check_requests(&object);
    assert_eq!(object["transport"], "udp", "{object}");
    assert_eq!(
        (count(&object, "lost"), count(&object, "late")),
        (0, 0),
        "{object}"
    );
    // A datagram is never cut or merged: every echoed byte is a whole request.
    let (requests, bytes) = (count(&object, "requests"), count(&object, "bytes"));
    assert_eq!(bytes, requests * 1400, "{object}");
    assert_eq!(count(&object, "connects"), 4, "{object}");
    // The probe, then the requests, then those cut off at the end.
    let seen = server.received.load(Ordering::Relaxed);
    assert!(
        seen > requests && seen <= requests + 1 + 4,
        "{seen} {object}"
    );
    let text = bench(&["pingpong", "-u", "127.0.0.1", &port, "-d", "0.3"]);
    text.success()
        .stdout_has("pingpong udp 127.0.0.1:")
        .stdout_has("B datagrams")
        .stdout_has("\nlost ")
        .stdout_has("\nlate ");
}

#[test]
fn udp_losses_are_counted_and_the_run_goes_on() {
    let server = DatagramServer::udp(Reply::DropEveryOther);
    let (out, object) = udp_json(&server, &["-c", "2", "-d", "1", "--lost-after", "0.05"]);
    out.success();
    let (requests, lost) = (count(&object, "requests"), count(&object, "lost"));
    assert!(requests > 0 && lost > 0, "{object}");
    // Every other datagram is dropped: about as many lost as answered.
    assert!(lost * 3 >= requests && requests * 3 >= lost, "{object}");
    assert_eq!(
        (count(&object, "corrupt"), count(&object, "late")),
        (0, 0),
        "{object}"
    );
}

#[test]
fn udp_late_echoes_are_counted_late_not_wrong() {
    let server = DatagramServer::udp(Reply::LateEveryOther);
    let (out, object) = udp_json(&server, &["-d", "1", "--lost-after", "0.05"]);
    out.success();
    assert!(count(&object, "late") > 0, "{object}");
    assert!(
        count(&object, "lost") > 0 && count(&object, "requests") > 0,
        "{object}"
    );
    assert_eq!(count(&object, "corrupt"), 0, "{object}");
}

#[test]
fn udp_with_every_request_lost_exits_69() {
    let server = DatagramServer::udp(Reply::OnlyFirst);
    let args = ["-c", "2", "-d", "0.5", "--lost-after", "0.05"];
    let (out, object) = udp_json(&server, &args);
    out.fails_with(69, "sockbench: no echo came back from 127.0.0.1:")
        .stderr_has("requests were lost");
    assert_eq!(count(&object, "requests"), 0, "{object}");
    assert!(count(&object, "lost") > 0, "{object}");
}

#[test]
fn a_wrong_datagram_echo_exits_71() {
    let server = DatagramServer::udp(Reply::Flip);
    let (out, object) = udp_json(&server, &["-d", "0.5"]);
    out.fails_with(71, "differed from what was sent");
    assert_eq!(object["first_corrupt"]["offset"], 0, "{object}");
}

#[test]
fn udp_refused_by_icmp_exits_69_with_the_standard_line() {
    // The port is held by a socket connected elsewhere: the kernel answers
    // our datagrams with ICMP port unreachable.
    let (holder, held) = crate::util::net::udp_refusing();
    let out = bench(&["pingpong", "-u", "127.0.0.1", &held.to_string(), "-d", "1"]);
    out.fails_with(
        69,
        &format!("sockbench: connect 127.0.0.1:{held}: connection refused (ECONNREFUSED)"),
    )
    .stderr_has("hint: nothing listens on")
    .stdout_is(b"");
    drop(holder);
}

#[test]
fn udp_silence_ends_the_probe_after_wait_with_69() {
    let server = DatagramServer::udp(Reply::Silent);
    let port = server.port();
    let started = Instant::now();
    let out = bench(&["pingpong", "-u", "127.0.0.1", &port, "--wait", "0.5"]);
    out.fails_with(69, "no reply came back from 127.0.0.1:")
        .stderr_has("within 0.5 s");
    assert!(started.elapsed() >= Duration::from_millis(500));
    // Resent, not sent once.
    assert!(server.received.load(Ordering::Relaxed) >= 2);
}

#[test]
fn udp_wait_resends_the_probe_until_a_server_answers() {
    // A socket that takes datagrams and answers none until the test has
    // seen sockbench's probe arrive; then it echoes.
    let (fd, bound) = bind_socket(&crate::util::net::loopback_of(Kind::Datagram, 0))
        .unwrap_or_else(|e| panic!("{e}"));
    crate::util::net::recv_timeout(&fd, DEADLINE);
    let port = bound.socket_addr().map_or(0, |a| a.port()).to_string();
    let client = sockbench()
        .args([
            "pingpong",
            "-u",
            "127.0.0.1",
            &port,
            "-d",
            "0.5",
            "--wait",
            "30",
            "--json",
        ])
        .spawn();
    let mut buf = [0u8; 256];
    let first = recv_from(&fd, &mut buf, RecvFlags::empty());
    assert!(first.is_ok(), "no probe came: {first:?}");
    let _server = DatagramServer::serve(fd, bound, Reply::Faithful);
    let out = client.wait_exit();
    out.success();
    let object: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert!(count(&object, "requests") > 0, "{object}");
}

#[test]
fn unix_datagram_pingpong_with_u_and_capital_u() {
    let dir = TempDir::new();
    let path = dir.join("dgram.sock").to_string_lossy().into_owned();
    let at = Endpoint::unix(Kind::Datagram, &path).unwrap_or_else(|e| panic!("{e}"));
    let server = DatagramServer::start(&at, Reply::Faithful);
    let object = json_run(&[
        "pingpong",
        "-u",
        "-U",
        &server.path(),
        "-c",
        "3",
        "-s",
        "9000",
        "-d",
        "1",
        "--lost-after",
        "30",
    ]);
    check_clean(&object, "pingpong", &path);
    check_requests(&object);
    assert_eq!(object["transport"], "unix-dgram", "{object}");
    assert_eq!(
        count(&object, "bytes"),
        count(&object, "requests") * 9000,
        "{object}"
    );
}

#[test]
fn datagram_usage_errors_are_64() {
    let server = DatagramServer::udp(Reply::Faithful);
    let port = server.port();
    for (args, needle) in [
        (
            &["churn", "-u", "127.0.0.1", &port][..],
            "-u loads pingpong only",
        ),
        (
            &["bulk", "-u", "127.0.0.1", &port],
            "-u loads pingpong only",
        ),
        (
            &["hold", "-u", "127.0.0.1", &port],
            "-u loads pingpong only",
        ),
        (
            &["pingpong", "-u", "127.0.0.1", &port, "-s", "65508"],
            "from 1 to 65507 bytes",
        ),
        (
            &["pingpong", "127.0.0.1", &port, "--lost-after", "1"],
            "--lost-after is for",
        ),
        (
            &["pingpong", "-u", "127.0.0.1", &port, "--lost-after", "0"],
            "invalid --lost-after",
        ),
        (
            &["pingpong", "-U", "/tmp/x.sock", "127.0.0.1", &port],
            "sockbench: ",
        ),
        (&["pingpong", "-U", ""], "empty unix socket path"),
        (&["pingpong"], "sockbench: "),
    ] {
        bench(args).fails_with(64, needle);
    }
    let long = "/tmp/".to_string() + &"a".repeat(103);
    bench(&["pingpong", "-U", &long]).fails_with(64, "at most 107 fit in sun_path");
}

/// A unix stream echo server on `at`, and the `-U` argument naming it.
fn unix_server(at: &str, echo: Echo) -> EchoServer {
    let endpoint = Endpoint::unix(Kind::Stream, at).unwrap_or_else(|e| panic!("{e}"));
    EchoServer::start_at(&endpoint, echo)
}

#[test]
fn every_load_runs_over_a_unix_path_and_an_abstract_name() {
    let dir = TempDir::new();
    let path = dir.join("echo.sock").to_string_lossy().into_owned();
    let name = format!("@sockkit-bench-{}", std::process::id());
    let _on_path = unix_server(&path, Echo::Faithful);
    let _named = unix_server(&name, Echo::Faithful);
    for target in [&path, &name] {
        for args in [
            &["pingpong", "-c", "4"][..],
            &["churn", "-c", "3", "--threads", "2"],
            &["bulk"],
            &["hold", "-c", "20"],
        ] {
            let object = json_run(&[args, &["-U", target, "-d", "0.5"]].concat());
            check_clean(&object, args[0], target);
            assert_eq!(object["transport"], "unix", "{object}");
            assert_eq!(object["lost"], Value::Null, "{object}");
            if args[0] != "bulk" {
                check_requests(&object);
            }
            if args[0] == "hold" {
                assert_eq!(count(&object, "requests"), 40, "{object}");
            }
        }
    }
}

#[test]
fn a_wrong_byte_over_unix_exits_71() {
    let dir = TempDir::new();
    let path = dir.join("flip.sock").to_string_lossy().into_owned();
    let _server = unix_server(&path, Echo::FlipAt(3));
    for load in ["pingpong", "bulk"] {
        bench(&[load, "-U", &path, "-d", "0.5"]).fails_with(71, "differed from what was sent");
    }
}

#[test]
fn unix_paths_nobody_serves_exit_69_and_name_the_path() {
    let dir = TempDir::new();
    let missing = dir.join("none.sock").to_string_lossy().into_owned();
    bench(&["pingpong", "-U", &missing, "-d", "1"])
        .fails_with(
            69,
            &format!("sockbench: connect {missing}: no such file or directory (ENOENT)"),
        )
        .stderr_has("hint: no socket at")
        .stderr_has("no server has created it");
    // A server that ended and left its socket file behind.
    let stale = dir.join("stale.sock").to_string_lossy().into_owned();
    let ended = Endpoint::unix(Kind::Stream, &stale).unwrap_or_else(|e| panic!("{e}"));
    drop(bind_socket(&ended).unwrap_or_else(|e| panic!("{e}")));
    for load in ["pingpong", "churn", "bulk", "hold"] {
        bench(&[load, "-U", &stale, "-d", "1"])
            .fails_with(
                69,
                &format!("sockbench: connect {stale}: connection refused (ECONNREFUSED)"),
            )
            .stderr_has("the socket file is stale");
    }
    let name = format!("@sockkit-none-{}", std::process::id());
    bench(&["pingpong", "-U", &name])
        .fails_with(
            69,
            &format!("sockbench: connect {name}: connection refused"),
        )
        .stderr_has(&format!("no socket holds {name}"));
}

#[test]
fn a_unix_socket_this_user_may_not_write_is_eacces_77() {
    if !skip::require_root() || !skip::require_tool("setpriv") {
        return;
    }
    let dir = TempDir::new();
    let path = dir.join("mine.sock").to_string_lossy().into_owned();
    let _server = unix_server(&path, Echo::Faithful);
    // The directory lets everyone through; the socket only its owner.
    let mode = |path: &std::path::Path, mode| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
    };
    mode(&dir.join(""), 0o755);
    mode(std::path::Path::new(&path), 0o600);
    sockbench()
        .args(["pingpong", "-U", &path, "-d", "0.5"])
        .by_nobody()
        .run()
        .fails_with(
            77,
            &format!("sockbench: connect {path}: permission denied (EACCES)"),
        )
        .stderr_has("write permission");
}

#[test]
fn wait_retries_a_unix_path_until_its_server_creates_it() {
    let dir = TempDir::new();
    let path = dir.join("later.sock").to_string_lossy().into_owned();
    let client = sockbench()
        .args(["pingpong", "-U", &path, "-d", "0.3", "--wait", "30", "-vv"])
        .spawn();
    // It has found nothing there at least once.
    client.wait_stderr("retrying");
    let _server = unix_server(&path, Echo::Faithful);
    let out = client.wait_exit();
    out.success().stdout_has("pingpong unix ");
}

/// socat, started as a server on `address` (`UDP-RECVFROM:…`,
/// `UNIX-LISTEN:…`); killed on drop.
fn socat_server(address: &str) -> Option<crate::util::Process> {
    if !skip::require_tool("socat") {
        return None;
    }
    Some(
        Cmd::new("socat")
            .args([address, "PIPE"])
            .stdin(Stdio::null())
            .spawn(),
    )
}

#[test]
fn interop_with_socat_over_udp_and_unix() {
    let port = bench(&["free-port", "-u"]).stdout_text().trim().to_string();
    let Some(_udp) = socat_server(&format!("UDP-RECVFROM:{port},bind=127.0.0.1,fork")) else {
        return;
    };
    // socat forks a process per datagram: slow, but every echo is whole.
    let object = json_run(&[
        "pingpong",
        "-u",
        "127.0.0.1",
        &port,
        "-c",
        "2",
        "-d",
        "1",
        "--wait",
        "10",
        "--lost-after",
        "5",
    ]);
    check_clean(&object, "pingpong", &format!("127.0.0.1:{port}"));
    assert!(count(&object, "requests") > 0, "{object}");
    let dir = TempDir::new();
    let path = dir.join("socat.sock").to_string_lossy().into_owned();
    let Some(_unix) = socat_server(&format!("UNIX-LISTEN:{path},fork")) else {
        return;
    };
    for args in [&["pingpong", "-c", "4"][..], &["bulk"]] {
        let object = json_run(&[args, &["-U", &path, "-d", "0.5", "--wait", "10"]].concat());
        check_clean(&object, args[0], &path);
    }
}
