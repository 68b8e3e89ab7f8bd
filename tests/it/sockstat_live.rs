//! `sockstat` against the real programs: a `sockd` on port 0 and a
//! `sockc --keep` connected to it, each seen from outside through
//! `/proc/PID/fd` and through `sockstat --pid`, over both sources and in
//! both output forms. Loopback, port 0, no sleeps: readiness is sockd's
//! `--port-file` and sockc's transcript line.

use crate::util::listing::parse_table;
use crate::util::net::LOCAL;
use crate::util::procfs::{fd_targets, socket_inode};
use crate::util::{sockc, sockd, sockstat};
use std::collections::BTreeSet;

/// One listed socket, from a table row or a JSON object alike.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Sock {
    pid: u32,
    fd: u32,
    command: String,
    proto: String,
    inode: u64,
    local: String,
    foreign: String,
    state: String,
}

#[track_caller]
fn number<T: std::str::FromStr>(text: &str, what: &str) -> T {
    text.parse()
        .unwrap_or_else(|_| panic!("{what} is not a number: {text:?}"))
}

/// `sockstat --pid PIDS ARGS... [--json]` (no `--pid` for no PIDS): exit 0,
/// nothing on stderr; the rows, sorted as sockstat sorts them (by PID,
/// then FD).
#[track_caller]
fn listed(pids: &[u32], args: &[&str], json: bool) -> Vec<Sock> {
    let pids = pids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let mut all = Vec::new();
    if !pids.is_empty() {
        all.extend(["--pid", &pids]);
    }
    all.extend_from_slice(args);
    if json {
        all.push("--json");
    }
    let out = sockstat().args(&all).run();
    out.success().stderr_is("");
    let socks: Vec<Sock> = if json {
        let value: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"));
        let objects = value
            .as_array()
            .unwrap_or_else(|| panic!("not an array: {out}"));
        let text = |o: &serde_json::Value, key: &str| match &o[key] {
            serde_json::Value::String(s) => s.clone(),
            other => panic!("{key} is not a string in {o}: {other}"),
        };
        let whole = |o: &serde_json::Value, key: &str| {
            o[key]
                .as_u64()
                .unwrap_or_else(|| panic!("{key} is not a number in {o}"))
        };
        objects
            .iter()
            .map(|o| Sock {
                pid: number(&whole(o, "pid").to_string(), "pid"),
                fd: number(&whole(o, "fd").to_string(), "fd"),
                command: text(o, "command"),
                proto: text(o, "proto"),
                inode: whole(o, "inode"),
                local: text(o, "local"),
                foreign: text(o, "foreign"),
                state: text(o, "state"),
            })
            .collect()
    } else {
        parse_table(&out.stdout_text())
            .iter()
            .map(|row| Sock {
                pid: number(&row["PID"], "PID"),
                fd: number(&row["FD"], "FD"),
                command: row["COMMAND"].clone(),
                proto: row["PROTO"].clone(),
                inode: number(&row["INODE"], "INODE"),
                local: row["LOCAL ADDRESS"].clone(),
                foreign: row["FOREIGN ADDRESS"].clone(),
                state: row["STATE"].clone(),
            })
            .collect()
    };
    let keys: Vec<(u32, u32)> = socks.iter().map(|s| (s.pid, s.fd)).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "not sorted by PID, FD: {socks:#?}");
    socks
}

/// The sockets `/proc/PID/fd` shows: `(pid, fd, inode)` for each
/// `socket:[INODE]` link — the witness sockstat is checked against.
fn held_sockets(pid: u32) -> BTreeSet<(u32, u32, u64)> {
    fd_targets(pid)
        .iter()
        .filter_map(|(fd, target)| Some((pid, *fd, socket_inode(target)?)))
        .collect()
}

fn keys(socks: &[Sock]) -> BTreeSet<(u32, u32, u64)> {
    socks.iter().map(|s| (s.pid, s.fd, s.inode)).collect()
}

/// A port other than `port`.
fn other_port(port: u16) -> u16 {
    if port == u16::MAX { port - 1 } else { port + 1 }
}

#[test]
fn sockd_listener_is_listed_with_the_inode_its_fd_names() {
    let server = sockd().args(["-q", "--threads", "1", LOCAL, "0"]).serve();
    let pid = server.pid();
    let held = held_sockets(pid);
    let [(_, fd, inode)] = held.iter().copied().collect::<Vec<_>>()[..] else {
        panic!("sockd should hold exactly its listening socket: {held:?}");
    };
    let want = vec![Sock {
        pid,
        fd,
        command: "sockd".into(),
        proto: "tcp4".into(),
        inode,
        local: format!("127.0.0.1:{}", server.port()),
        foreign: "*:*".into(),
        state: "LISTEN".into(),
    }];
    let port = server.port_arg();
    let other = other_port(server.port()).to_string();
    let below = format!("1-{}", server.port() - 1);
    for source in ["netlink", "proc"] {
        for json in [false, true] {
            let with =
                |flags: &[&str]| listed(&[pid], &[flags, &["--source", source]].concat(), json);
            let what = format!("--source {source}, json {json}");
            assert_eq!(with(&[]), want, "{what}");
            assert_eq!(with(&["-l"]), want, "-l, {what}");
            assert_eq!(with(&["-c"]), [], "-c, {what}");
            assert_eq!(with(&["-p", &port]), want, "-p {port}, {what}");
            assert_eq!(with(&["-p", &other]), [], "-p {other}, {what}");
            assert_eq!(with(&["-p", &below]), [], "-p {below}, {what}");
            assert_eq!(with(&["-l", "-p", &port]), want, "-l -p {port}, {what}");
            assert_eq!(with(&["-c", "-p", &port]), [], "-c -p {port}, {what}");
        }
    }
    // From the inode alone, every process walked: sockd is its only holder.
    let by_inode = listed(&[], &["--inode", &inode.to_string()], false);
    assert_eq!(by_inode, want);
    server.signal(rustix::process::Signal::TERM);
    server.wait_exit().success();
}

#[test]
fn sockc_keep_and_sockd_are_each_others_ends() {
    let server = sockd().args(["--threads", "1", LOCAL, "0"]).serve();
    // sockc's stdin is a pipe the test keeps open: with --keep, sockc holds
    // its connection while it waits for the next line.
    let (stdin, typing) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .unwrap_or_else(|e| panic!("pipe: {e}"));
    let port = server.port_arg();
    let client = sockc().args(["--keep", LOCAL, &port]).stdin(stdin).spawn();
    sockkit::io::write_all(&typing, b"hello\n")
        .unwrap_or_else(|e| panic!("write to sockc's stdin: {e}"));
    // The echo came back: sockc is connected and sockd has accepted.
    client.wait_stdout("127.0.0.1 say: hello\n");
    server.wait_stdout("127.0.0.1 say: hello\n");
    let (sockd, sockc) = (server.pid(), client.pid());
    let held: BTreeSet<_> = held_sockets(sockd)
        .union(&held_sockets(sockc))
        .copied()
        .collect();
    assert_eq!(
        held.len(),
        3,
        "sockd: listener + one connection; sockc: one: {held:?}"
    );

    let mut views = Vec::new();
    for source in ["netlink", "proc"] {
        for json in [false, true] {
            let what = format!("--source {source}, json {json}");
            let socks = listed(&[sockd, sockc], &["--source", source], json);
            assert_eq!(keys(&socks), held, "{what}: {socks:#?}");
            let only = |pick: &dyn Fn(&Sock) -> bool, name: &str| -> Sock {
                let found: Vec<&Sock> = socks.iter().filter(|s| pick(s)).collect();
                match found[..] {
                    [one] => one.clone(),
                    _ => panic!("{what}: {} rows for {name}: {socks:#?}", found.len()),
                }
            };
            let listener = only(&|s| s.pid == sockd && s.state == "LISTEN", "the listener");
            let served = only(
                &|s| s.pid == sockd && s.state == "ESTABLISHED",
                "sockd's connection",
            );
            let dialed = only(&|s| s.pid == sockc, "sockc's socket");
            assert_eq!(listener.local, format!("127.0.0.1:{port}"), "{what}");
            assert_eq!(dialed.state, "ESTABLISHED", "{what}");
            for end in [&served, &dialed] {
                assert_eq!(end.proto, "tcp4", "{what}");
            }
            assert_eq!(
                (served.command.as_str(), dialed.command.as_str()),
                ("sockd", "sockc")
            );
            // Each end's LOCAL is the other's FOREIGN.
            assert_eq!(dialed.local, served.foreign, "{what}");
            assert_eq!(dialed.foreign, served.local, "{what}");
            assert_eq!(served.local, format!("127.0.0.1:{port}"), "{what}");
            assert_ne!(dialed.local, served.local, "{what}");
            assert!(dialed.local.starts_with("127.0.0.1:"), "{what}: {dialed:?}");
            views.push((what, socks));
        }
    }
    // Both sources and both forms list the very same rows.
    let (first, rows) = &views[0];
    for (what, other) in &views[1..] {
        assert_eq!(other, rows, "{what} differs from {first}");
    }
    // EOF on its stdin ends sockc with 0.
    drop(typing);
    client.wait_exit().success().no_panic();
}
