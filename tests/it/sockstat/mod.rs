//! `sockstat` against sockets this test process (or a child it starts) holds:
//! the real binary, port 0 only, loopback only, no sleeps for readiness.

mod explain;
mod internals;
mod kill;
mod namespaces;
mod presentation;
mod selection;
mod trust;

use crate::util::listing::{Row, parse_table, table};
use crate::util::{Cmd, DEADLINE, Process, skip, sockstat};
use rustix::fd::{AsFd, AsRawFd, OwnedFd};
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

trait OrDie<T> {
    fn or_die(self, what: &str) -> T;
}

impl<T, E: std::fmt::Debug> OrDie<T> for Result<T, E> {
    fn or_die(self, what: &str) -> T {
        self.unwrap_or_else(|e| panic!("{what}: {e:?}"))
    }
}

fn me() -> String {
    std::process::id().to_string()
}

fn inode_of(fd: &impl AsFd) -> String {
    let fd = fd.as_fd().as_raw_fd();
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).or_die("readlink");
    let link = link.to_string_lossy().to_string();
    link.strip_prefix("socket:[")
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or_else(|| panic!("not a socket: {link}"))
        .to_string()
}

fn fd_text(fd: &impl AsFd) -> String {
    fd.as_fd().as_raw_fd().to_string()
}

fn row_for<'a>(rows: &'a [Row], fd: &impl AsFd) -> Option<&'a Row> {
    let (fd, inode) = (fd_text(fd), inode_of(fd));
    rows.iter()
        .find(|row| row["PID"] == me() && row["FD"] == fd && row["INODE"] == inode)
}

fn cell<'a>(rows: &'a [Row], fd: &impl AsFd, title: &str) -> &'a str {
    match row_for(rows, fd) {
        Some(row) => &row[title],
        None => panic!("no row for fd {} in {rows:#?}", fd_text(fd)),
    }
}

/// Waits until process `pid` holds socket `inode` and runs as `comm` (a
/// `setpriv` or `sh` has exec'd what it runs; until then it may be root's,
/// or another name).
#[track_caller]
fn await_holder(pid: u32, inode: &str, comm: &str) -> u32 {
    let deadline = Instant::now() + DEADLINE;
    let want = format!("socket:[{inode}]");
    loop {
        let named = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|got| got.trim_end_matches('\n') == comm);
        let fd = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .flatten()
            .find(|entry| {
                std::fs::read_link(entry.path()).is_ok_and(|link| link.as_os_str() == want.as_str())
            })
            .and_then(|entry| entry.file_name().to_str()?.parse().ok());
        if let (true, Some(fd)) = (named, fd) {
            return fd;
        }
        assert!(
            Instant::now() < deadline,
            "process {pid} never held {want} as {comm:?}"
        );
        std::thread::yield_now();
    }
}

/// Starts `cmd` holding a copy of `fd` as its stdin (its other copies are
/// the caller's to close), and waits until it runs as `comm`; returns the
/// process and the fd number the socket has there. Stdin, as a shell
/// leaves it where it is: a redirection of stdout moves stdout to fd 10
/// or above while it runs.
fn hand_over(fd: &impl AsFd, cmd: Cmd, comm: &str) -> (Process, u32) {
    // Never a copy without CLOEXEC here: every child another test spawns
    // meanwhile would inherit it, and hold our socket (in its listings,
    // and open after we close ours). The spawn dup2s it into this child
    // alone.
    let copy = rustix::io::fcntl_dupfd_cloexec(fd, 0).or_die("dup");
    let child = cmd.stdin(copy).spawn();
    let held = await_holder(child.pid(), &inode_of(fd), comm);
    (child, held)
}

struct Tcp {
    listener: OwnedFd,
    client: OwnedFd,
    server: OwnedFd,
    port: u16,
}

/// A listener, a client and the accepted end on `ip`; `None` (with the
/// skip reported) where `ip` cannot be bound.
fn tcp_pair(ip: &str) -> Option<Tcp> {
    let (listener, bound) = match crate::util::net::bind_tcp(ip) {
        Ok(pair) => pair,
        Err(err) => {
            skip::part(
                &format!("what needs {ip}"),
                format!("cannot bind {ip}: {err}"),
            );
            return None;
        }
    };
    sockkit::socket::listen(&listener, bound, 16).or_die("listen");
    let client = sockkit::connect_socket(&bound.into()).or_die("connect");
    let (server, _) = sockkit::socket::accept(&listener, SocketFlags::CLOEXEC).or_die("accept");
    Some(Tcp {
        listener,
        client,
        server,
        port: bound.port(),
    })
}

fn udp_socket() -> (OwnedFd, u16) {
    let fd = rustix::net::socket_with(
        AddressFamily::INET,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .or_die("socket");
    let any: core::net::SocketAddr = "127.0.0.1:0".parse().or_die("addr");
    rustix::net::bind(&fd, &any).or_die("bind");
    let port = crate::util::net::local_port(&fd);
    (fd, port)
}

fn unix_pair() -> (OwnedFd, OwnedFd) {
    rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .or_die("socketpair")
}

struct UnixListener {
    path: std::path::PathBuf,
    listener: OwnedFd,
    client: OwnedFd,
    server: OwnedFd,
}

impl Drop for UnixListener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn unix_listener(tag: &str) -> UnixListener {
    let path = std::env::temp_dir().join(format!("sockstat-it-{}-{tag}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let addr = SocketAddrUnix::new(path.as_path()).or_die("unix addr");
    let new = || {
        rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .or_die("socket")
    };
    let listener = new();
    rustix::net::bind(&listener, &addr).or_die("bind unix");
    rustix::net::listen(&listener, 8).or_die("listen unix");
    let client = new();
    rustix::net::connect(&client, &addr).or_die("connect unix");
    let (server, _) = sockkit::socket::accept(&listener, SocketFlags::CLOEXEC).or_die("accept");
    UnixListener {
        path,
        listener,
        client,
        server,
    }
}

#[test]
fn listener_row_carries_the_fds_inode_and_address() {
    let Some(tcp) = tcp_pair("127.0.0.1") else {
        return;
    };
    let rows = table(&["--pid", &me()]);
    let local = format!("127.0.0.1:{}", tcp.port);
    assert_eq!(cell(&rows, &tcp.listener, "INODE"), inode_of(&tcp.listener));
    assert_eq!(cell(&rows, &tcp.listener, "PROTO"), "tcp4");
    assert_eq!(cell(&rows, &tcp.listener, "LOCAL ADDRESS"), local);
    assert_eq!(cell(&rows, &tcp.listener, "FOREIGN ADDRESS"), "*:*");
    assert_eq!(cell(&rows, &tcp.listener, "STATE"), "LISTEN");
    assert_eq!(cell(&rows, &tcp.listener, "PID"), me());

    let port = tcp.port.to_string();
    let listening = table(&["--pid", &me(), "-l"]);
    assert!(row_for(&listening, &tcp.listener).is_some());
    assert!(row_for(&listening, &tcp.client).is_none());
    let connected = table(&["--pid", &me(), "-c"]);
    assert!(row_for(&connected, &tcp.listener).is_none());
    assert!(row_for(&connected, &tcp.client).is_some());
    let by_port = table(&["--pid", &me(), "-p", &port]);
    assert!(row_for(&by_port, &tcp.listener).is_some());
    assert!(row_for(&by_port, &tcp.server).is_some());
    let other = if tcp.port == 65535 { 1 } else { tcp.port + 1 };
    let by_other = table(&["--pid", &me(), "-p", &other.to_string()]);
    assert!(row_for(&by_other, &tcp.listener).is_none());
    let range = format!("1,{}-{}", tcp.port.saturating_sub(1), tcp.port);
    assert!(row_for(&table(&["--pid", &me(), "-p", &range]), &tcp.listener).is_some());
    // With --pid: a child another test is spawning holds copies of all our
    // fds between its fork and its exec, and a full walk may catch it there.
    let by_inode = table(&["--pid", &me(), "--inode", &inode_of(&tcp.listener)]);
    assert_eq!(by_inode.len(), 1, "{by_inode:#?}");
    assert!(row_for(&table(&["--pid", &me(), "-P", "udp,unix"]), &tcp.listener).is_none());
    assert!(row_for(&table(&["--pid", &me(), "-P", "tcp"]), &tcp.listener).is_some());
    assert!(row_for(&table(&["--pid", &me(), "-6"]), &tcp.listener).is_none());
    assert!(row_for(&table(&["--pid", &me(), "-4"]), &tcp.listener).is_some());
}

#[test]
fn connected_ends_mirror_each_other() {
    let Some(tcp) = tcp_pair("127.0.0.1") else {
        return;
    };
    let rows = table(&["--pid", &me()]);
    for fd in [&tcp.client, &tcp.server] {
        assert_eq!(cell(&rows, fd, "STATE"), "ESTABLISHED");
        assert_eq!(cell(&rows, fd, "PROTO"), "tcp4");
    }
    assert_eq!(
        cell(&rows, &tcp.client, "LOCAL ADDRESS"),
        cell(&rows, &tcp.server, "FOREIGN ADDRESS")
    );
    assert_eq!(
        cell(&rows, &tcp.server, "LOCAL ADDRESS"),
        cell(&rows, &tcp.client, "FOREIGN ADDRESS")
    );
    assert_eq!(
        cell(&rows, &tcp.server, "LOCAL ADDRESS"),
        format!("127.0.0.1:{}", tcp.port)
    );
}

#[test]
fn unix_sockets_show_path_and_peer_holder() {
    let (a, b) = unix_pair();
    let named = unix_listener("peer");
    let rows = table(&["--pid", &me(), "-u"]);
    let peer = |fd: &OwnedFd| format!("-> [{} {}]", me(), fd_text(fd));
    assert_eq!(cell(&rows, &a, "PROTO"), "unix");
    assert_eq!(cell(&rows, &a, "FOREIGN ADDRESS"), peer(&b));
    assert_eq!(cell(&rows, &b, "FOREIGN ADDRESS"), peer(&a));
    assert_eq!(cell(&rows, &a, "STATE"), "CONNECTED");
    assert_eq!(cell(&rows, &a, "LOCAL ADDRESS"), "*");
    let path = named.path.to_string_lossy().to_string();
    assert_eq!(cell(&rows, &named.listener, "LOCAL ADDRESS"), path);
    assert_eq!(cell(&rows, &named.listener, "STATE"), "LISTEN");
    assert_eq!(cell(&rows, &named.server, "LOCAL ADDRESS"), path);
    assert_eq!(
        cell(&rows, &named.server, "FOREIGN ADDRESS"),
        peer(&named.client)
    );
    assert_eq!(
        cell(&rows, &named.client, "FOREIGN ADDRESS"),
        peer(&named.server)
    );
    let listening = table(&["--pid", &me(), "-u", "-l"]);
    assert!(row_for(&listening, &named.listener).is_some());
    assert!(row_for(&listening, &a).is_none());
    // No unix socket has a port.
    assert!(row_for(&table(&["--pid", &me(), "-p", "0-65535"]), &a).is_none());
}

#[test]
fn ipv6_and_udp_have_their_proto() {
    let (udp, port) = udp_socket();
    let rows = table(&["--pid", &me()]);
    assert_eq!(cell(&rows, &udp, "PROTO"), "udp4");
    assert_eq!(
        cell(&rows, &udp, "LOCAL ADDRESS"),
        format!("127.0.0.1:{port}")
    );
    assert_eq!(cell(&rows, &udp, "STATE"), "UNCONN");
    assert!(row_for(&table(&["--pid", &me(), "-l"]), &udp).is_some());
    assert!(row_for(&table(&["--pid", &me(), "-P", "tcp"]), &udp).is_none());
    let Some(tcp6) = tcp_pair("::1") else {
        return;
    };
    let rows = table(&["--pid", &me(), "-6"]);
    assert_eq!(cell(&rows, &tcp6.listener, "PROTO"), "tcp6");
    assert_eq!(
        cell(&rows, &tcp6.listener, "LOCAL ADDRESS"),
        format!("[::1]:{}", tcp6.port)
    );
    assert_eq!(
        cell(&rows, &tcp6.client, "FOREIGN ADDRESS"),
        format!("[::1]:{}", tcp6.port)
    );
    assert!(row_for(&rows, &udp).is_none());
}

/// The rows of `rows` for the given fds (those that have one), keyed by fd.
fn mine(rows: &[Row], fds: &[&OwnedFd]) -> BTreeMap<String, Row> {
    fds.iter()
        .filter_map(|fd| row_for(rows, *fd).map(|row| (fd_text(*fd), row.clone())))
        .collect()
}

#[test]
fn proc_and_netlink_sources_agree() {
    let tcp = tcp_pair("127.0.0.1");
    let tcp6 = tcp_pair("::1");
    let (udp, _) = udp_socket();
    let (a, b) = unix_pair();
    let named = unix_listener("sources");
    let mut fds = vec![&udp, &a, &b, &named.listener, &named.client, &named.server];
    for pair in [&tcp, &tcp6].into_iter().flatten() {
        fds.extend([&pair.listener, &pair.client, &pair.server]);
    }
    let flag_sets: [&[&str]; 9] = [
        &[],
        &["-e"],
        &["-n", "-e"],
        &["-l"],
        &["-c"],
        &["-u", "-e"],
        &["-4", "-P", "udp"],
        &["-6"],
        &["-a", "-e"],
    ];
    for extra in flag_sets {
        let mut args = vec!["--pid".to_string(), me()];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let netlink = mine(
            &table(&[&args[..], &["--source", "netlink"]].concat()),
            &fds,
        );
        let proc = mine(&table(&[&args[..], &["--source", "proc"]].concat()), &fds);
        assert_eq!(
            netlink.keys().collect::<Vec<_>>(),
            proc.keys().collect::<Vec<_>>(),
            "fds listed with {args:?}"
        );
        if extra.is_empty() {
            assert_eq!(proc.len(), fds.len(), "{proc:#?}");
        }
        for (fd, proc_row) in &proc {
            let mut netlink_row = netlink[fd].clone();
            if netlink_row["STATE"] == "LISTEN"
                && proc_row.get("SEND-Q").map(String::as_str) == Some("?")
            {
                // /proc/net/tcp has no listener's backlog.
                netlink_row.insert("SEND-Q".to_string(), "?".to_string());
            }
            if netlink_row["PROTO"] == "unix" {
                // /proc/net/unix has no peers, queues or socket uids: the
                // proc source says `?` where netlink knows.
                for title in ["FOREIGN ADDRESS", "RECV-Q", "SEND-Q", "UID"] {
                    if proc_row.get(title).map(String::as_str) == Some("?") {
                        netlink_row.insert(title.to_string(), "?".to_string());
                    }
                }
            }
            assert_eq!(&netlink_row, proc_row, "fd {fd} with {args:?}");
        }
    }
}

#[test]
fn json_carries_the_table_rows() {
    let tcp = tcp_pair("127.0.0.1");
    let (udp, _) = udp_socket();
    let (a, b) = unix_pair();
    let mut fds = vec![&udp, &a, &b];
    if let Some(tcp) = &tcp {
        fds.extend([&tcp.listener, &tcp.client, &tcp.server]);
    }
    for extended in [false, true] {
        let mut args = vec!["--pid".to_string(), me()];
        if extended {
            args.push("-e".to_string());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let rows = mine(&table(&args), &fds);
        assert_eq!(rows.len(), fds.len(), "{rows:#?}");
        let json_args = [&args[..], &["--json"]].concat();
        let out = sockstat().args(&json_args).run();
        out.success();
        let value: serde_json::Value = serde_json::from_slice(&out.stdout).or_die("json");
        let objects = value
            .as_array()
            .unwrap_or_else(|| panic!("not an array: {value}"));
        for (fd, row) in rows {
            let object = objects
                .iter()
                .find(|o| {
                    o["fd"] == fd.parse::<u64>().unwrap_or(u64::MAX)
                        && o["pid"] == std::process::id()
                })
                .unwrap_or_else(|| panic!("fd {fd} missing from {value}"));
            assert!(object["pid"].is_u64() && object["fd"].is_u64() && object["inode"].is_u64());
            for (key, title) in [
                ("user", "USER"),
                ("command", "COMMAND"),
                ("pid", "PID"),
                ("fd", "FD"),
                ("proto", "PROTO"),
                ("inode", "INODE"),
                ("local", "LOCAL ADDRESS"),
                ("foreign", "FOREIGN ADDRESS"),
                ("state", "STATE"),
                ("recv_q", "RECV-Q"),
                ("send_q", "SEND-Q"),
                ("uid", "UID"),
            ] {
                let Some(text) = row.get(title) else {
                    assert!(object.get(key).is_none(), "{key} without -e");
                    continue;
                };
                let got = match &object[key] {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => {
                        assert!(text == "*" || text == "?", "{key}: null vs {text}");
                        text.clone()
                    }
                    other => other.to_string(),
                };
                assert_eq!(&got, text, "{key} of fd {fd}");
            }
        }
    }
}

#[test]
fn empty_selection_exits_zero_with_a_header() {
    let out = sockstat().args(["--pid", "4294967295"]).run();
    out.success();
    assert_eq!(parse_table(&out.stdout_text()).len(), 0);
    assert!(out.stdout_text().starts_with("USER"), "{out}");
    sockstat()
        .args(["--pid", "4294967295", "-q"])
        .run()
        .success()
        .stdout_is(b"");
    let out = sockstat().args(["--pid", "4294967295", "--json"]).run();
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).or_die("json");
    assert_eq!(value, serde_json::json!([]));
}

#[test]
fn no_header_with_q_and_numeric_users_with_n() {
    let (a, _b) = unix_pair();
    let out = sockstat().args(["--pid", &me(), "-q", "-n"]).run();
    out.success();
    let text = out.stdout_text();
    assert!(!text.contains("USER"), "{text}");
    let uid = rustix::process::getuid().as_raw().to_string();
    let line = text
        .lines()
        .find(|l| l.split_whitespace().nth(5) == Some(inode_of(&a).as_str()))
        .unwrap_or_else(|| panic!("no line for fd {} in {text}", fd_text(&a)));
    assert_eq!(line.split_whitespace().next(), Some(uid.as_str()), "{line}");
}

#[test]
fn bad_flag_values_exit_64_with_one_line() {
    for args in [
        &["-p", "70000"][..],
        &["-p", "x"],
        &["-p", "9-3"],
        &["-P", "sctp"],
        &["--pid", "abc"],
        &["--pid", "0"],
        &["--inode", "-1"],
        &["--source", "kernel"],
        &["--nope"],
    ] {
        sockstat()
            .args(args)
            .run()
            .fails_with(64, "sockstat: ")
            .stderr_lines(1)
            .stderr_starts_with("sockstat: ")
            .stdout_is(b"");
    }
    for args in [&["--help"][..], &["--version"]] {
        sockstat().args(args).run().success();
    }
}

#[test]
fn as_nobody_lists_its_own_and_stays_quiet() {
    if !skip::require_root() || !skip::require_tool("setpriv") {
        return;
    }
    // A socket held by a process that runs as nobody: `sleep` gets one
    // end of a socketpair as its stdin (CLOEXEC cleared on it here would
    // hand it to every child another test spawns meanwhile).
    let (held, ours) = unix_pair();
    let inode = inode_of(&held);
    let child = Cmd::new("sleep").arg("60").by_nobody().stdin(held).spawn();
    let pid = child.pid().to_string();
    // setpriv execs sleep in the same process; until then the fd table is
    // root's. Retry until the exec has happened (it is one exec away).
    let mut last = String::new();
    for _ in 0..500 {
        let out = sockstat().by_nobody().run();
        out.success().stderr_is("");
        let rows = parse_table(&out.stdout_text());
        // Only nobody's processes are visible: the test process (root) is not.
        assert!(rows.iter().all(|r| r["PID"] != me()), "{rows:#?}");
        if let Some(row) = rows.iter().find(|r| r["PID"] == pid && r["INODE"] == inode) {
            assert!(row["USER"] == "nobody" || row["USER"] == "65534", "{row:?}");
            assert_eq!(row["PROTO"], "unix");
            assert_eq!(row["FOREIGN ADDRESS"], format!("-> {}", inode_of(&ours)));
            let fd = row["FD"].clone();
            // -a: our (root's) end is a socket nobody sees no holder of.
            let args = ["-a", "-u", "--inode", &inode_of(&ours)];
            let out = sockstat().args(args).by_nobody().run();
            out.success().stderr_is("");
            let rows = parse_table(&out.stdout_text());
            assert_eq!(rows.len(), 1, "{out}");
            for title in ["USER", "COMMAND", "PID", "FD"] {
                assert_eq!(rows[0][title], "?", "{out}");
            }
            assert_eq!(rows[0]["FOREIGN ADDRESS"], format!("-> [{pid} {fd}]"));
            return;
        }
        last = out.to_string();
        std::thread::yield_now();
    }
    panic!("nobody's sleep {pid} never showed its socket {inode}:\n{last}");
}

#[test]
fn churning_processes_never_fail_a_run() {
    let churn = Churn::start(|| {
        // Not captured: no reader threads, the churn stays fast.
        let batch: Vec<Process> = (0..8)
            .filter_map(|_| {
                Cmd::new("sleep")
                    .arg("30")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .try_spawn()
                    .ok()
            })
            .collect();
        batch.len() as u64
    });
    for run in 0..50 {
        // Full walks, and walks of the churning `sleep`s alone (their comm
        // read and fd directory race the kills); -a -e now and then.
        let args: &[&str] = match run % 10 {
            0 => &["-q", "-a", "-e"],
            n if n % 2 == 0 => &["-q"],
            _ => &["-q", "--comm", "sleep", "-e"],
        };
        let out = sockstat().args(args).run();
        assert_eq!(out.code, Some(0), "run {run}: {out}");
        assert!(out.stderr.is_empty(), "run {run}: {out}");
    }
    let started = churn.stop();
    assert!(started > 0, "the churn thread started nothing");
}

/// A thread doing `step` over and over until stopped.
struct Churn {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl Churn {
    fn start(mut step: impl FnMut() -> u64 + Send + 'static) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut done = 0;
            while !stopped.load(Ordering::Relaxed) {
                done += step();
            }
            done
        });
        Self { stop, thread }
    }

    /// Stops it; the sum of what its steps returned.
    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

/// A socket of a kind no table sockstat reads lists.
fn netlink_socket() -> OwnedFd {
    rustix::net::socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        Some(rustix::net::netlink::GENERIC),
    )
    .or_die("netlink socket")
}

/// Raises the soft fd limit to the hard one; whether it is now at least
/// `limit`, so that `want` more fds fit beside the other tests' (if not,
/// the test is skipped and must return).
fn room_for_fds(want: usize, limit: u64) -> bool {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let now = getrlimit(Resource::Nofile);
    if let Some(max) = now.maximum
        && now.current.is_some_and(|cur| cur < max)
    {
        let raised = Rlimit {
            current: Some(max),
            maximum: Some(max),
        };
        let _ = setrlimit(Resource::Nofile, raised);
    }
    let current = getrlimit(Resource::Nofile).current;
    skip::require(
        current.is_none_or(|cur| cur >= limit),
        format!("RLIMIT_NOFILE {current:?} is too low for {want} more fds"),
    )
}

#[test]
fn other_socket_kinds_get_a_row_with_unknown_proto() {
    let netlink = netlink_socket();
    let rows = table(&["--pid", &me()]);
    assert_eq!(cell(&rows, &netlink, "PROTO"), "?");
    assert_eq!(cell(&rows, &netlink, "STATE"), "?");
    assert_eq!(cell(&rows, &netlink, "INODE"), inode_of(&netlink));
    // Asking for a protocol, family or state says nothing about it.
    for narrowed in ["-4", "-u", "-l", "-c"] {
        assert!(row_for(&table(&["--pid", &me(), narrowed]), &netlink).is_none());
    }
    let by_inode = table(&["--pid", &me(), "--inode", &inode_of(&netlink)]);
    assert_eq!(by_inode.len(), 1, "{by_inode:#?}");
}

#[test]
fn a_reader_that_goes_away_is_not_an_error() {
    let mut child = sockstat().args(["-a", "-e"]).stdout_piped().spawn();
    // Close the read end before sockstat writes (it still has its walk to do).
    drop(child.take_stdout());
    child.wait_exit().success().stderr_is("");
}

#[test]
fn comm_selects_processes_by_name() {
    let (a, _b) = unix_pair();
    let comm = std::fs::read_to_string("/proc/self/comm").or_die("comm");
    let comm = comm.trim_end_matches('\n');
    let rows = table(&["--pid", &me(), "--comm", comm]);
    assert_eq!(cell(&rows, &a, "COMMAND"), comm);
    let rows = table(&["--pid", &me(), "--comm", "no-such-command"]);
    assert!(rows.is_empty(), "{rows:#?}");
}

/// Runs sockstat until `done` accepts its rows (the kernel finishes a TCP
/// close or delivers loopback data on its own schedule), with a deadline.
fn table_until(args: &[&str], done: impl Fn(&[Row]) -> bool) -> Vec<Row> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let rows = table(args);
        if done(&rows) || std::time::Instant::now() > deadline {
            return rows;
        }
        std::thread::yield_now();
    }
}

#[test]
fn all_adds_time_wait_sockets_with_no_owner() {
    let Some(tcp) = tcp_pair("127.0.0.1") else {
        return;
    };
    let client_port = crate::util::net::local_port(&tcp.client);
    // The side that closes first ends in TIME_WAIT (normally the client).
    drop(tcp.client);
    drop(tcp.server);
    let local = format!("127.0.0.1:{client_port}");
    let foreign = format!("127.0.0.1:{}", tcp.port);
    let port = client_port.to_string();
    for source in ["netlink", "proc"] {
        let args = ["-a", "-P", "tcp", "-p", &port, "--source", source];
        // Other TIME_WAIT sockets on this host may share the port (with
        // another foreign address): match both ends. Either end may be the
        // one in TIME_WAIT: a child another test is spawning can hold a
        // copy of the client fd between its fork and exec, so the server's
        // FIN may go first.
        let ours = |r: &Row| {
            let ends = (r["LOCAL ADDRESS"].as_str(), r["FOREIGN ADDRESS"].as_str());
            ends == (local.as_str(), foreign.as_str()) || ends == (foreign.as_str(), local.as_str())
        };
        let rows = table_until(&args, |rows| {
            rows.iter().any(|r| ours(r) && r["STATE"] == "TIME_WAIT")
        });
        let row = rows
            .iter()
            .find(|r| ours(r) && r["STATE"] == "TIME_WAIT")
            .unwrap_or_else(|| panic!("no TIME_WAIT for {local} in {rows:#?}"));
        for title in ["USER", "COMMAND", "PID", "FD"] {
            assert_eq!(row[title], "?", "{row:?}");
        }
        assert_eq!(row["INODE"], "0");
        // Without -a, no fd holds it, so it is not listed.
        let rows = table(&["-P", "tcp", "-p", &port, "--source", source]);
        assert!(rows.iter().all(|r| r["STATE"] != "TIME_WAIT"), "{rows:#?}");
    }
    drop(tcp.listener);
}

#[test]
fn extended_shows_queues_and_socket_uid() {
    let Some(tcp) = tcp_pair("127.0.0.1") else {
        return;
    };
    sockkit::io::send_all(&tcp.client, b"hello").or_die("send");
    let uid = rustix::process::getuid().as_raw().to_string();
    for source in ["netlink", "proc"] {
        let args = ["--pid", &me(), "-e", "--source", source];
        let rows = table_until(&args, |rows| {
            row_for(rows, &tcp.server).is_some_and(|r| r["RECV-Q"] == "5")
        });
        assert_eq!(cell(&rows, &tcp.server, "RECV-Q"), "5", "{source}");
        assert_eq!(cell(&rows, &tcp.server, "UID"), uid, "{source}");
        // A listener's Send-Q is its backlog (tcp_pair listens with 16):
        // sock_diag has it, /proc/net/tcp does not.
        let backlog = if source == "netlink" { "16" } else { "?" };
        assert_eq!(cell(&rows, &tcp.listener, "SEND-Q"), backlog, "{source}");
    }
}

#[test]
fn a_process_with_thousands_of_fds_is_walked_whole() {
    // Over 1024 fds, the walk shares one process's fds among its workers;
    // every socket must still come out exactly once.
    let want = 1600;
    if !room_for_fds(want, 4096) {
        return;
    }
    let pairs: Vec<(OwnedFd, OwnedFd)> = (0..want / 2).map(|_| unix_pair()).collect();
    let rows = table(&["--pid", &me(), "-u"]);
    let mut seen = BTreeMap::new();
    for row in &rows {
        *seen.entry(row["FD"].clone()).or_insert(0) += 1;
    }
    for (a, b) in &pairs {
        for fd in [a, b] {
            assert_eq!(seen.get(&fd_text(fd)), Some(&1), "fd {}", fd_text(fd));
        }
        assert_eq!(
            cell(&rows, a, "FOREIGN ADDRESS"),
            format!("-> [{} {}]", me(), fd_text(b))
        );
    }
}
