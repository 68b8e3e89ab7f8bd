//! How rows show what the kernel says: a listener's queues (the accept
//! queue and the backlog, as `ss`), dual-stack IPv6 sockets (`tcp46`, as
//! FreeBSD), and the device a socket is bound to (`%dev`, as `ss`).

use super::{OrDie, cell, me, row_for, unix_listener};
use crate::util::listing::{Row, table};
use crate::util::{Cmd, DEADLINE, eventually, skip, sockstat};
use rustix::fd::OwnedFd;
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

fn socket(family: AddressFamily, kind: SocketType) -> OwnedFd {
    rustix::net::socket_with(family, kind, SocketFlags::CLOEXEC, None).or_die("socket")
}

#[test]
fn a_listener_shows_its_accept_queue_and_backlog() {
    let (listener, bound) = crate::util::net::bind_tcp("127.0.0.1").or_die("bind");
    sockkit::socket::listen(&listener, bound, 77).or_die("listen");
    // Three handshakes done by the kernel, none accepted.
    let clients: Vec<OwnedFd> = (0..3)
        .map(|_| sockkit::connect_socket(&bound.into()).or_die("connect"))
        .collect();
    let rows = table(&["--pid", &me(), "-e", "-l"]);
    assert_eq!(cell(&rows, &listener, "RECV-Q"), "3");
    assert_eq!(cell(&rows, &listener, "SEND-Q"), "77");
    let rows = table(&["--pid", &me(), "-e", "-l", "--source", "proc"]);
    assert_eq!(cell(&rows, &listener, "RECV-Q"), "3");
    assert_eq!(
        cell(&rows, &listener, "SEND-Q"),
        "?",
        "/proc/net/tcp has no backlog"
    );

    // A unix listener: the same two numbers.
    let named = unix_listener("backlog");
    rustix::net::listen(&named.listener, 77).or_die("listen again");
    let addr = SocketAddrUnix::new(named.path.as_path()).or_die("unix addr");
    let waiting: Vec<OwnedFd> = (0..2)
        .map(|_| {
            let fd = socket(AddressFamily::UNIX, SocketType::STREAM);
            rustix::net::connect(&fd, &addr).or_die("connect unix");
            fd
        })
        .collect();
    let rows = table(&["--pid", &me(), "-e", "-u", "-l"]);
    assert_eq!(cell(&rows, &named.listener, "RECV-Q"), "2");
    assert_eq!(cell(&rows, &named.listener, "SEND-Q"), "77");
    drop((clients, waiting));
}

/// An IPv6 socket of `kind` on `[::]:0`, with `IPV6_V6ONLY` as given;
/// `None` (skip reported) without IPv6.
fn any_v6(kind: SocketType, v6only: bool) -> Option<OwnedFd> {
    let fd = socket(AddressFamily::INET6, kind);
    rustix::net::sockopt::set_ipv6_v6only(&fd, v6only).or_die("IPV6_V6ONLY");
    let any: core::net::SocketAddr = "[::]:0".parse().or_die("addr");
    if let Err(errno) = rustix::net::bind(&fd, &any) {
        skip::because(format!("no IPv6 here: bind [::]:0: {errno}"));
        return None;
    }
    if kind == SocketType::STREAM {
        rustix::net::listen(&fd, 8).or_die("listen");
    }
    Some(fd)
}

#[test]
fn dual_stack_sockets_are_tcp46_and_udp46() {
    let (Some(dual), Some(only), Some(udp_dual), Some(udp_only)) = (
        any_v6(SocketType::STREAM, false),
        any_v6(SocketType::STREAM, true),
        any_v6(SocketType::DGRAM, false),
        any_v6(SocketType::DGRAM, true),
    ) else {
        return;
    };
    let rows = table(&["--pid", &me()]);
    assert_eq!(cell(&rows, &dual, "PROTO"), "tcp46");
    assert_eq!(cell(&rows, &only, "PROTO"), "tcp6");
    assert_eq!(cell(&rows, &udp_dual, "PROTO"), "udp46");
    assert_eq!(cell(&rows, &udp_only, "PROTO"), "udp6");
    // They are IPv6 sockets: -6 lists them, -4 does not.
    assert!(row_for(&table(&["--pid", &me(), "-6"]), &dual).is_some());
    assert!(row_for(&table(&["--pid", &me(), "-4"]), &dual).is_none());
    let out = sockstat()
        .args(["--pid", &me(), "--json", "-P", "tcp"])
        .run();
    out.success();
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).or_die("json");
    let inode: u64 = super::inode_of(&dual).parse().or_die("inode");
    let object = value
        .as_array()
        .and_then(|rows| rows.iter().find(|o| o["inode"] == inode))
        .unwrap_or_else(|| panic!("no row for {inode} in {value}"));
    assert_eq!(object["proto"], "tcp46");
    // /proc/net/tcp6 does not say: an IPv6 socket, no more.
    let rows = table(&["--pid", &me(), "--source", "proc"]);
    assert_eq!(cell(&rows, &dual, "PROTO"), "tcp6");
}

/// The rows of process `pid` once `done` accepts them (a program the
/// test started binds on its own schedule).
fn rows_of(pid: u32, done: impl Fn(&[Row]) -> bool) -> Vec<Row> {
    let mut rows = Vec::new();
    let pid = pid.to_string();
    let found = eventually(DEADLINE, || {
        rows = table(&["--pid", &pid]);
        done(&rows)
    });
    assert!(
        found,
        "process {pid} never showed the rows wanted: {rows:#?}"
    );
    rows
}

#[test]
fn a_socket_bound_to_a_device_names_it() {
    // rustix has no SO_BINDTODEVICE; socat sets it.
    if !skip::require_tool("socat") {
        return;
    }
    let listen = Cmd::new("socat")
        .args([
            "-u",
            "TCP-LISTEN:0,bind=127.0.0.1,so-bindtodevice=lo",
            "STDOUT",
        ])
        .spawn();
    let udp = Cmd::new("socat")
        .args([
            "-u",
            "UDP-RECV:0,bind=127.0.0.1,so-bindtodevice=lo",
            "STDOUT",
        ])
        .spawn();
    for (process, proto) in [(&listen, "tcp4"), (&udp, "udp4")] {
        let rows = rows_of(process.pid(), |rows| {
            rows.iter().any(|r| r["PROTO"] == proto)
        });
        let row = rows
            .iter()
            .find(|r| r["PROTO"] == proto)
            .unwrap_or_else(|| panic!("no {proto} row: {rows:#?}"));
        let local = &row["LOCAL ADDRESS"];
        let port = local.rsplit(':').next().unwrap_or_default();
        assert!(port.parse::<u16>().is_ok_and(|p| p > 0), "{row:?}");
        assert_eq!(local, &format!("127.0.0.1%lo:{port}"), "{row:?}");
    }
    // A socket bound to no device has no %.
    let (plain, _) = crate::util::net::bind_tcp("127.0.0.1").or_die("bind");
    let rows = table(&["--pid", &me()]);
    assert!(!cell(&rows, &plain, "LOCAL ADDRESS").contains('%'));
}

#[test]
fn a_command_name_anyone_can_choose_reaches_the_table_escaped() {
    // A process's comm is the name of the file it exec'd: any user picks
    // it with a symlink, bidi override and terminal escape included.
    let dir = crate::util::TempDir::new();
    let link = dir.join("\u{202e}dkcos\x1b[2J");
    std::os::unix::fs::symlink(crate::util::SOCKD, &link).or_die("symlink");
    let server = Cmd::new(&link).args(["-q", "127.0.0.1", "0"]).serve();
    let pid = server.pid().to_string();
    let escaped = r"\xe2\x80\xaedkcos\x1b[2J";
    for args in [&["--pid", pid.as_str()][..], &["--pid", &pid, "--json"]] {
        let out = sockstat().args(args).run();
        out.success();
        let text = out.stdout_text();
        assert!(
            !text.contains('\u{202e}') && !text.contains('\x1b'),
            "{args:?}: {text:?}"
        );
        let shown = if args.len() == 3 {
            escaped.replace('\\', r"\\")
        } else {
            escaped.to_string()
        };
        assert!(text.contains(&shown), "{args:?}: {text}");
    }
}
