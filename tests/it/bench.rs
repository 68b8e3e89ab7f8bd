//! `sockbench` against echo servers run inside the test: a faithful one, and
//! ones that flip a byte, echo half, add a byte or never answer; and a port
//! that is bound but not listening.
//!
//! Every server is on a port the kernel chose; nothing sleeps to wait for
//! readiness (a listening socket queues connections before `accept`); speed
//! is never asserted.

use crate::util::net::{listener, loopback, refused_port};
use crate::util::resolver::{DNS_ONLY, FILES_ONLY};
use crate::util::{Outcome, sockbench, sockd};
use rustix::fd::OwnedFd;
use rustix::net::{Shutdown, SocketFlags};
use serde_json::Value;
use sockkit::Endpoint;
use sockkit::io::{recv_some, send_all};
use sockkit::socket::{accept, bind_socket, listen};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// What the in-test server does with the bytes it reads.
#[derive(Clone, Copy)]
pub(crate) enum Echo {
    Faithful,
    /// Flips the byte at this offset of each connection's stream.
    FlipAt(usize),
    /// Sends back the first half of each read.
    Half,
    /// Sends back each read and one byte more (`!`).
    Append,
}

/// A threaded blocking echo server on 127.0.0.1:<kernel's port> (or any
/// stream endpoint); stops accepting when dropped.
pub(crate) struct EchoServer {
    pub(crate) port: u16,
    listener: Arc<OwnedFd>,
}

impl EchoServer {
    pub(crate) fn start(echo: Echo) -> Self {
        Self::start_at(&loopback(0), echo)
    }

    pub(crate) fn start_at(at: &Endpoint, echo: Echo) -> Self {
        let (fd, bound) = bind_socket(at).unwrap_or_else(|e| panic!("bind {at}: {e}"));
        listen(&fd, &bound, 1024).unwrap_or_else(|e| panic!("{e}"));
        let listener = Arc::new(fd);
        let accepting = Arc::clone(&listener);
        thread::spawn(move || {
            // Ends when the listener is shut down (accept fails).
            while let Ok((conn, _)) = accept(&*accepting, SocketFlags::CLOEXEC) {
                thread::spawn(move || serve(conn, echo));
            }
        });
        Self {
            port: bound.socket_addr().map_or(0, |addr| addr.port()),
            listener,
        }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        let _ = rustix::net::shutdown(&*self.listener, Shutdown::Both);
    }
}

fn serve(conn: OwnedFd, echo: Echo) {
    // One byte of room for Echo::Append.
    let mut buf = vec![0u8; 64 * 1024 + 1];
    let mut offset = 0usize;
    loop {
        let n = match recv_some(&conn, &mut buf[..64 * 1024]) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if let Echo::FlipAt(at) = echo
            && (offset..offset + n).contains(&at)
        {
            buf[at - offset] ^= 0x20;
        }
        offset += n;
        let reply = match echo {
            Echo::Half => n / 2,
            Echo::Append => {
                buf[n] = b'!';
                n + 1
            }
            _ => n,
        };
        if send_all(&conn, &buf[..reply]).is_err() {
            return;
        }
    }
}

/// `sockbench ARGS`, run to completion.
pub(crate) fn bench(args: &[&str]) -> Outcome {
    sockbench().args(args).run()
}

/// Runs sockbench with `--json`, expects success, returns the one object.
pub(crate) fn json_run(args: &[&str]) -> Value {
    let out = bench(&[args, &["--json"]].concat());
    out.success().no_panic();
    let text = out.stdout_text();
    let mut lines = text.lines();
    let object: Value = lines
        .next()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("{}: not one JSON object: {text}", out.command));
    assert_eq!(
        lines.next(),
        None,
        "{}: more than one line: {text}",
        out.command
    );
    object
}

pub(crate) fn number(object: &Value, key: &str) -> f64 {
    object[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {object}"))
}

/// The fields every report has, with sane values for a clean run.
fn check_common(object: &Value, mode: &str, port: u16) {
    check_clean(object, mode, &format!("127.0.0.1:{port}"));
    assert_eq!(object["transport"], "tcp", "{object}");
    assert!(number(object, "seconds") >= 0.9, "{object}");
}

/// As [`check_common`], for any target.
pub(crate) fn check_clean(object: &Value, mode: &str, target: &str) {
    assert_eq!(object["mode"], mode, "{object}");
    assert_eq!(object["target"], target, "{object}");
    assert!(number(object, "seconds") > 0.0, "{object}");
    assert!(number(object, "bytes") > 0.0, "{object}");
    assert!(number(object, "mb_per_sec") >= 0.0, "{object}");
    assert!(number(object, "connects") >= 1.0, "{object}");
    assert_eq!(object["errors"], serde_json::json!({}), "{object}");
    assert_eq!(object["corrupt"], 0, "{object}");
    assert_eq!(object["first_corrupt"], Value::Null, "{object}");
}

pub(crate) fn check_requests(object: &Value) {
    assert!(number(object, "requests") > 0.0, "{object}");
    assert!(number(object, "requests_per_sec") > 0.0, "{object}");
    let latency = &object["latency_us"];
    let p50 = number(latency, "p50");
    let p99 = number(latency, "p99");
    let max = number(latency, "max");
    assert!(p50 > 0.0 && p50 <= p99 && p99 <= max, "{object}");
    let bytes = number(object, "bytes");
    let requests = number(object, "requests");
    let size = number(object, "size");
    // Every completed request echoed its size; a request cut off at the
    // deadline may add a part of one more per connection.
    let connections = number(object, "connections");
    assert!(bytes >= requests * size, "{object}");
    assert!(bytes < (requests + connections) * size, "{object}");
}

#[test]
fn pingpong_reports_requests_latency_and_no_errors() {
    let server = EchoServer::start(Echo::Faithful);
    let port = server.port.to_string();
    let object = json_run(&[
        "pingpong",
        "127.0.0.1",
        &port,
        "-c",
        "4",
        "-d",
        "1",
        "-s",
        "100",
    ]);
    check_common(&object, "pingpong", server.port);
    check_requests(&object);
    assert_eq!(object["connections"], 4, "{object}");
    assert_eq!(object["connects"], 4, "{object}");
    assert_eq!(object["size"], 100, "{object}");
}

#[test]
fn churn_opens_a_connection_per_request() {
    let server = EchoServer::start(Echo::Faithful);
    let port = server.port.to_string();
    let object = json_run(&["churn", "127.0.0.1", &port, "-c", "4", "-d", "1"]);
    check_common(&object, "churn", server.port);
    check_requests(&object);
    // One probe connection, then one per request (plus those cut off).
    let requests = number(&object, "requests");
    let connects = number(&object, "connects");
    assert!(
        connects > requests && connects <= requests + 5.0,
        "{object}"
    );
}

#[test]
fn bulk_streams_verified_bytes() {
    let server = EchoServer::start(Echo::Faithful);
    let port = server.port.to_string();
    let object = json_run(&["bulk", "127.0.0.1", &port, "-d", "1"]);
    check_common(&object, "bulk", server.port);
    assert_eq!(object["requests"], Value::Null, "{object}");
    assert_eq!(object["latency_us"], Value::Null, "{object}");
}

#[test]
fn the_table_names_rate_latency_and_errors() {
    let server = EchoServer::start(Echo::Faithful);
    let port = server.port.to_string();
    let out = bench(&["pingpong", "127.0.0.1", &port, "-d", "1"]);
    out.success();
    let text = out.stdout_text();
    for word in [
        "requests",
        "/s",
        "latency",
        "p50",
        "p99",
        "max",
        "errors     none",
    ] {
        assert!(text.contains(word), "no {word:?} in\n{text}");
    }
    // stderr is not a terminal here: no progress line, nothing at all.
    out.stderr_is("");
}

#[test]
fn a_flipped_byte_fails_pingpong_with_71_and_says_where() {
    let server = EchoServer::start(Echo::FlipAt(70));
    let port = server.port.to_string();
    let out = bench(&[
        "pingpong",
        "127.0.0.1",
        &port,
        "-d",
        "1",
        "-s",
        "64",
        "--json",
    ]);
    out.fails_with(71, "differed from what was sent")
        .stderr_starts_with("sockbench: echo from 127.0.0.1:");
    let object: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", out.stdout_text()));
    assert_eq!(object["corrupt"], 1, "{object}");
    // Byte 70 of the stream is byte 6 of the second request.
    let first = &object["first_corrupt"];
    assert_eq!(first["request"], 1, "{object}");
    assert_eq!(first["offset"], 6, "{object}");
    let (expected, got) = (number(first, "expected"), number(first, "got"));
    assert_eq!(expected as u8 ^ 0x20, got as u8, "{object}");
}

#[test]
fn a_flipped_byte_fails_churn_and_bulk_too() {
    let server = EchoServer::start(Echo::FlipAt(3));
    let port = server.port.to_string();
    for load in ["churn", "bulk"] {
        let out = bench(&[load, "127.0.0.1", &port, "-d", "1"]);
        out.fails_with(71, "differed from what was sent")
            .stdout_has("wrong");
    }
}

#[test]
fn a_refused_first_connect_exits_69_with_the_standard_line() {
    let (_held, port) = refused_port();
    let port = port.to_string();
    for load in ["pingpong", "churn", "bulk", "hold"] {
        let out = bench(&[load, "127.0.0.1", &port, "-d", "1"]);
        out.fails_with(
            69,
            &format!("sockbench: connect 127.0.0.1:{port}: connection refused (ECONNREFUSED)"),
        )
        .stdout_is(b"");
    }
}

#[test]
fn bad_arguments_and_remote_targets_are_usage_errors() {
    for (args, needle) in [
        (&["pingpong", "10.0.0.1", "7"][..], "not a loopback address"),
        (&["churn", "0.0.0.0", "7"], "not a loopback address"),
        (&["bulk", "exa mple.com", "7"], "invalid host"),
        (&["bulk", "127.1", "7"], "invalid address \"127.1\""),
        (&["bulk", "999.0.0.1", "7"], "invalid address"),
        (&["pingpong", "127.0.0.1", "70000"], "invalid port"),
        (&["pingpong", "127.0.0.1", "7", "-c", "0"], "sockbench: "),
        (&["pingpong", "127.0.0.1", "7", "-s", "0"], "-s must be"),
        (&["pingpong", "127.0.0.1", "7", "-d", "-1"], "sockbench: "),
        (
            &["pingpong", "127.0.0.1", "7", "-d", "nan"],
            "sockbench: invalid --duration \"nan\": expected a number of seconds greater than 0 \
             (try --help)",
        ),
        (
            &["pingpong", "-u", "127.0.0.1", "7", "--lost-after", "1e9"],
            "sockbench: invalid --lost-after \"1e9\": expected at most a year (31536000 \
             seconds) (try --help)",
        ),
        (&["nonsense"], "sockbench: "),
    ] {
        bench(args).fails_with(64, needle);
    }
}

#[test]
fn free_port_prints_a_bindable_port() {
    let out = bench(&["free-port"]);
    out.success();
    let port: u16 = out.stdout_text().trim().parse().unwrap_or(0);
    assert_ne!(port, 0, "{}", out.stdout_text());
}

#[test]
fn wait_gives_up_on_a_port_that_stays_refused() {
    let (_held, port) = refused_port();
    let port = port.to_string();
    let started = Instant::now();
    let out = bench(&["pingpong", "127.0.0.1", &port, "-d", "1", "--wait", "0.3"]);
    out.fails_with(69, "ECONNREFUSED");
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[test]
fn every_load_runs_clean_against_sockd() {
    let server = sockd().args(["-q", "127.0.0.1", "0"]).serve();
    let port = server.port_arg();
    for args in [
        &["pingpong", "-c", "8"][..],
        &["churn", "-c", "4"],
        &["bulk"],
        &["hold", "-c", "50"],
    ] {
        let mut all = args.to_vec();
        all.extend(["127.0.0.1", &port, "-d", "1"]);
        let object = json_run(&all);
        check_common(&object, args[0], server.port());
    }
}

#[test]
fn hold_echoes_twice_on_every_connection() {
    let server = EchoServer::start(Echo::Faithful);
    let port = server.port.to_string();
    let object = json_run(&["hold", "127.0.0.1", &port, "-c", "20", "-d", "1"]);
    check_common(&object, "hold", server.port);
    assert_eq!(object["connects"], 20, "{object}");
    assert_eq!(object["requests"], 40, "{object}");
    assert_eq!(object["bytes"], 40 * 64, "{object}");
}

#[test]
fn threads_share_the_connections_and_merge_their_counts() {
    let server = EchoServer::start(Echo::Faithful);
    let port = server.port.to_string();
    for load in ["pingpong", "churn"] {
        let args = [
            load,
            "127.0.0.1",
            &port,
            "-c",
            "5",
            "-d",
            "1",
            "--threads",
            "2",
        ];
        let object = json_run(&args);
        check_common(&object, load, server.port);
        check_requests(&object);
        assert_eq!(object["threads"], 2, "{object}");
        assert_eq!(object["connections"], 5, "{object}");
    }
    // A wrong byte is still caught, and numbered across the threads.
    let flipping = EchoServer::start(Echo::FlipAt(0));
    let port = flipping.port.to_string();
    let out = bench(&[
        "pingpong",
        "127.0.0.1",
        &port,
        "-c",
        "4",
        "-d",
        "1",
        "--threads",
        "2",
    ]);
    out.fails_with(71, "differed from what was sent");
    // bulk and hold are one loop each.
    bench(&["bulk", "127.0.0.1", &port, "--threads", "2"]).fails_with(64, "--threads");
    bench(&["hold", "127.0.0.1", &port, "--threads", "2"]).fails_with(64, "--threads");
}

#[test]
fn requests_larger_than_the_socket_buffers_complete() {
    // The echo of a request's first part must be read while the rest is
    // still being sent, or client and server wait on each other forever.
    let server = sockd().args(["-q", "127.0.0.1", "0"]).serve();
    let port = server.port_arg();
    let size = (16 << 20).to_string();
    let object = json_run(&[
        "pingpong",
        "127.0.0.1",
        &port,
        "-c",
        "1",
        "-s",
        &size,
        "-d",
        "1",
    ]);
    assert!(number(&object, "requests") >= 1.0, "{object}");
    assert_eq!(number(&object, "corrupt"), 0.0, "{object}");
}

#[test]
fn a_server_that_never_echoes_exits_69() {
    // Accepted (by the kernel's backlog) but never answered: no request
    // completes, and that is not a success.
    let (_listener, port) = listener();
    let port = port.to_string();
    bench(&["pingpong", "127.0.0.1", &port, "-c", "2", "-d", "1"])
        .fails_with(69, "no echo came back");
}

#[test]
fn half_an_echo_completes_no_request_and_exits_69() {
    let server = EchoServer::start(Echo::Half);
    let port = server.port.to_string();
    for load in ["pingpong", "churn", "hold"] {
        let out = bench(&[load, "127.0.0.1", &port, "-c", "2", "-d", "1", "--json"]);
        out.fails_with(69, "no request completed")
            .stderr_has("never a whole 64-byte request");
        let object: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", out.stdout_text()));
        assert_eq!(object["requests"], 0, "{object}");
        assert!(number(&object, "bytes") > 0.0, "{object}");
        assert_eq!(object["corrupt"], 0, "{object}");
    }
}

#[test]
fn a_byte_after_the_echo_is_a_wrong_echo_in_every_load() {
    let server = EchoServer::start(Echo::Append);
    let port = server.port.to_string();
    for args in [
        &["pingpong", "-c", "2"][..],
        &["churn", "-c", "2"],
        &["hold", "-c", "2"],
        &["bulk"],
    ] {
        bench(&[args, &["127.0.0.1", &port, "-d", "1"]].concat())
            .fails_with(71, "differed from what was sent")
            .stdout_has("wrong");
    }
    // churn reads each finished connection to the server's EOF: the byte
    // is caught there, one past the end of the echo.
    let out = bench(&["churn", "127.0.0.1", &port, "-d", "1", "--json"]);
    out.fails_with(71, "(sent nothing more, got 0x21)");
    let object: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", out.stdout_text()));
    let first = &object["first_corrupt"];
    assert_eq!(first["offset"], 64, "{object}");
    assert_eq!(first["expected"], Value::Null, "{object}");
    assert_eq!(first["got"], b'!', "{object}");
}

#[test]
fn duration_bounds_hold_against_a_server_that_never_echoes() {
    // Each of the two connections used to wait 30 s for its first echo,
    // and again for its second: 92 s for -d 1.
    let (_listener, port) = listener();
    let port = port.to_string();
    let started = Instant::now();
    let out = sockbench()
        .args(["hold", "127.0.0.1", &port, "-c", "2", "-d", "1"])
        .limit(Duration::from_secs(30))
        .run();
    let took = started.elapsed();
    out.fails_with(69, "no echo came back")
        .stdout_has("ETIMEDOUT 1");
    // The first echo is waited for until -d, then nothing is left to wait
    // for: about 1 s (the bound leaves room for a loaded machine).
    assert!(
        took < Duration::from_secs(10),
        "hold -c 2 -d 1 took {took:?}"
    );
}

#[test]
fn report_and_cpu_print_bench_sh_tables_and_name_what_fails() {
    let dir = crate::util::TempDir::new();
    let runs = dir.join("runs.jsonl");
    let record = r#"{"round":1,"load":"pingpong1","server":"sockd","server_cpu_us":600,"run":{"requests_per_sec":100.0,"requests":100,"latency_us":{"p99":42.0},"errors":{},"client_cpu_percent":50.0}}"#;
    std::fs::write(&runs, format!("{record}\n")).unwrap_or_else(|e| panic!("{e}"));
    let runs = runs.to_string_lossy().into_owned();
    bench(&["report", &runs])
        .success()
        .stdout_has("pingpong1   sockd          100.0 req/s     -     1.00       42.0     6.00 us/req     1.00      50%  -");
    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, "{}\nnot json\n").unwrap_or_else(|e| panic!("{e}"));
    bench(&["report", &bad.to_string_lossy()]).fails_with(64, "bad.jsonl:2: not a bench.sh record");
    bench(&["report", &dir.join("none.jsonl").to_string_lossy()])
        .fails_with(71, "none.jsonl: no such file or directory (ENOENT)");
    // Our own process tree has used some CPU; a pid past pid_max has none.
    let out = bench(&["cpu", &std::process::id().to_string()]);
    out.success();
    assert!(out.stdout_text().trim().parse::<u64>().is_ok(), "{out}");
    let pid_max =
        std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap_or_else(|e| panic!("{e}"));
    bench(&["cpu", pid_max.trim()]).fails_with(71, "(ENOENT)");
}

#[test]
fn a_host_the_resolver_does_not_know_exits_68() {
    // The .invalid TLD never resolves (RFC 2606); bounded in case a
    // resolver is slow to say so.
    let out = sockbench()
        .args(["pingpong", "no-such-host.invalid", "7", "-d", "1"])
        .limit(Duration::from_secs(30))
        .run();
    out.fails_with(
        68,
        "sockbench: resolve no-such-host.invalid: unknown host (EAI_NONAME)",
    )
    .stderr_has("hint: the resolver (/etc/hosts, then DNS) does not know no-such-host.invalid")
    .stdout_is(b"");
}

/// `sockbench ARGS` with a resolver of the test's making (see
/// [`crate::util::resolver`]).
fn bench_resolving(net: bool, hosts: &str, nsswitch: &str, args: &[&str]) -> Option<Outcome> {
    crate::util::resolver::run(net, hosts, nsswitch, crate::util::SOCKBENCH, args)
}

#[test]
fn a_resolver_that_cannot_answer_now_exits_75() {
    let args = ["pingpong", "no-such-host.invalid", "7"];
    let Some(out) = bench_resolving(true, "", DNS_ONLY, &args) else {
        return;
    };
    out.fails_with(
        75,
        "sockbench: resolve no-such-host.invalid: temporary failure in name resolution (EAI_AGAIN)",
    )
    .stderr_has("hint: the resolver could not answer now");
}

#[test]
fn literals_and_localhost_never_reach_the_resolver() {
    // A look-up would fail with EAI_AGAIN (75) here; these get as far as
    // connecting, on a loopback that is down.
    for host in ["localhost", "127.0.0.1"] {
        let Some(out) = bench_resolving(true, "", DNS_ONLY, &["pingpong", host, "7"]) else {
            return;
        };
        out.fails_with(
            69,
            "sockbench: connect 127.0.0.1:7: network is unreachable (ENETUNREACH)",
        );
    }
}

#[test]
fn a_host_name_goes_through_the_system_resolver() {
    let server = EchoServer::start(Echo::Faithful);
    let port = server.port.to_string();
    let args = ["pingpong", "sockkit-it-echo", &port, "-d", "0.5", "--json"];
    let hosts = "127.0.0.1 sockkit-it-echo\n";
    let Some(out) = bench_resolving(false, hosts, FILES_ONLY, &args) else {
        return;
    };
    out.success();
    let object: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(object["target"], format!("127.0.0.1:{port}"), "{object}");
    assert!(number(&object, "requests") > 0.0, "{object}");
    // Outside that namespace the name is unknown.
    sockbench()
        .args(["pingpong", "sockkit-it-echo", &port])
        .limit(Duration::from_secs(30))
        .run()
        .fails_with(68, "(EAI_NONAME)");
}
