//! `sockstat --kill`: the selected connection ends (its peer sees a RST or
//! EOF), no other does; without the privilege it is 77, without a filter 64.

use super::{OrDie, inode_of, me, table_until, tcp_pair, udp_socket, unix_pair};
use crate::util::listing::parse_table;
use crate::util::net::{self, recv_timeout};
use crate::util::procfs::kernel_has_sock_destroy;
use crate::util::{skip, sockd, sockstat};
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use serde_json::Value;
use std::time::Duration;

/// How long the peer of a killed connection may take to learn of it.
const NOTICE: Duration = Duration::from_secs(2);

/// What the peer of a killed socket reads within [`NOTICE`]: `Ok(0)` (EOF)
/// or an error (`ECONNRESET` after a RST).
fn peer_reads(fd: impl AsFd) -> Result<usize, Errno> {
    recv_timeout(&fd, NOTICE);
    let mut buf = [0u8; 64];
    sockkit::io::recv_some(fd.as_fd(), &mut buf)
}

#[track_caller]
fn assert_ended(fd: impl AsFd) {
    match peer_reads(fd) {
        Ok(0) | Err(Errno::CONNRESET) => {}
        Err(Errno::AGAIN) => panic!("the peer saw neither EOF nor RST within {NOTICE:?}"),
        other => panic!("the peer read {other:?}"),
    }
}

#[track_caller]
fn assert_echoes(fd: impl AsFd, byte: u8) {
    net::send_all(&fd, &[byte]);
    assert_eq!(net::recv_exact(&fd, 1), [byte], "no echo");
}

#[track_caller]
fn json_rows(out: &crate::util::Outcome) -> Vec<Value> {
    let value: Value = serde_json::from_slice(&out.stdout).or_die("json");
    value
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("not an array: {value}"))
}

/// A connected loopback pair, for a test that must run as root (`None`,
/// the skip reported, otherwise).
fn root_and_a_pair() -> Option<super::Tcp> {
    if !skip::require_root() {
        return None;
    }
    tcp_pair("127.0.0.1")
}

/// Two connections to `server`, each seen to echo, and the first one's
/// local port.
fn two_connections(server: &crate::util::Process) -> (OwnedFd, OwnedFd, u16) {
    let (one, two) = (net::connect(server.port()), net::connect(server.port()));
    assert_echoes(&one, b'1');
    assert_echoes(&two, b'2');
    let one_port = crate::util::net::local_port(&one);
    (one, two, one_port)
}

#[test]
fn kill_ends_exactly_the_selected_connection() {
    if !skip::require_root() {
        return;
    }
    let server = sockd().args(["-q", "127.0.0.1", "0"]).serve();
    let (one, two, one_port) = two_connections(&server);
    let pid = server.pid().to_string();
    let out = sockstat()
        .args(["--kill", "--pid", &pid, "-p", &one_port.to_string()])
        .run();
    out.success().stderr_is("");
    let rows = parse_table(&out.stdout_text());
    assert_eq!(rows.len(), 1, "{out}");
    assert_eq!(rows[0]["PID"], pid);
    assert_eq!(rows[0]["PROTO"], "tcp4");
    assert_eq!(rows[0]["FOREIGN ADDRESS"], format!("127.0.0.1:{one_port}"));
    assert_eq!(rows[0]["STATE"], "ESTABLISHED");
    assert_ended(&one);
    // The other connection, and the listener, are untouched.
    assert_echoes(&two, b'3');
    assert_eq!(net::round_trip(server.port(), b"4"), b"4");
}

#[test]
fn kill_says_how_each_socket_was_ended() {
    let Some(tcp) = root_and_a_pair() else {
        return;
    };
    let inode = inode_of(&tcp.server);
    let out = sockstat()
        .args(["--kill", "--json", "--pid", &me(), "--inode", &inode])
        .run();
    out.success().stderr_is("");
    let rows = json_rows(&out);
    assert_eq!(rows.len(), 1, "{out}");
    assert_eq!(rows[0]["inode"].to_string(), inode);
    assert_eq!(rows[0]["state"], "ESTABLISHED");
    // Its holder, this process, reads what the way it was ended leaves.
    let held = peer_reads(&tcp.server);
    let ended_by = rows[0]["ended_by"].as_str();
    if kernel_has_sock_destroy() == Some(true) {
        assert_eq!(ended_by, Some("SOCK_DESTROY"), "the kernel has it\n{out}");
    }
    match ended_by {
        Some("SOCK_DESTROY") => assert_eq!(held, Err(Errno::CONNABORTED), "{out}"),
        Some("shutdown") => assert_eq!(held, Ok(0), "{out}"),
        other => panic!("ended_by {other:?}\n{out}"),
    }
    assert_ended(&tcp.client);
    // Gone: a second run finds nothing to end.
    let again = sockstat()
        .args(["--kill", "--json", "--pid", &me(), "--inode", &inode])
        .run();
    again.success().stderr_is("");
    assert!(json_rows(&again).is_empty(), "{again}");
}

#[test]
fn both_ends_of_one_connection_are_ended_without_a_failure() {
    let Some(tcp) = root_and_a_pair() else {
        return;
    };
    // -c -p CLIENT_PORT selects both ends: the client by its local port,
    // the accepted socket by its foreign one. Ending the first resets the
    // second, which then has nothing left to end.
    let client_port = crate::util::net::local_port(&tcp.client).to_string();
    let out = sockstat()
        .args(["--kill", "--pid", &me(), "-c", "-p", &client_port])
        .run();
    out.success().stderr_is("");
    let rows = parse_table(&out.stdout_text());
    assert!(!rows.is_empty() && rows.len() <= 2, "{out}");
    // Each end is this process's: the destroyed one reads ECONNABORTED,
    // the reset one ECONNRESET, a shut-down one EOF.
    for end in [&tcp.client, &tcp.server] {
        match peer_reads(end) {
            Ok(0) | Err(Errno::CONNRESET | Errno::CONNABORTED) => {}
            other => panic!("an end read {other:?}\n{out}"),
        }
    }
}

#[test]
fn a_socket_in_another_namespace_is_destroyed_in_its_own() {
    let Some(inside) = super::namespaces::Inside::start() else {
        return;
    };
    let server = inside.server.pid();
    let rows = inside.rows(&[]);
    let accepted = super::namespaces::row(&rows, server, "ESTABLISHED");
    let inode = accepted["INODE"].clone();
    let out = sockstat()
        .args(["--kill", "--json", "--pid", &server.to_string(), "-c"])
        .run();
    out.success().stderr_is("");
    let ended = json_rows(&out);
    assert_eq!(ended.len(), 1, "{out}");
    assert_eq!(ended[0]["inode"].to_string(), inode);
    // Asked from our namespace, the kernel would find no such socket: only
    // a request made inside the socket's own can destroy it.
    if kernel_has_sock_destroy() == Some(true) {
        assert_eq!(ended[0]["ended_by"], "SOCK_DESTROY", "{out}");
    }
    let args = ["--pid", &server.to_string(), "-c"];
    let left = table_until(&args, |rows| rows.iter().all(|r| r["INODE"] != inode));
    assert!(left.iter().all(|r| r["INODE"] != inode), "{left:#?}");
}

#[test]
fn a_namespace_no_process_is_in_is_entered_by_its_name() {
    let Some(inside) = super::namespaces::Inside::start() else {
        return;
    };
    let (ns, local) = inside.leave_time_wait();
    let lingering = |rows: &[crate::util::listing::Row]| {
        rows.iter()
            .any(|r| r["LOCAL ADDRESS"] == local && r["STATE"] == "TIME_WAIT")
    };
    let listed = ["-a", "--netns", ns.name.as_str()];
    // No process is left to enter the namespace through: only its name.
    let out = sockstat().args(["--kill", "-a", "--netns", &ns.name]).run();
    if kernel_has_sock_destroy() == Some(false) {
        // No holder to shut down: nothing else can end it.
        out.fails_with(71, "(EOPNOTSUPP)");
        return;
    }
    out.success().stderr_is("");
    assert!(lingering(&parse_table(&out.stdout_text())), "{out}");
    assert!(
        !lingering(&crate::util::listing::table(&listed)),
        "still in TIME_WAIT"
    );
}

#[test]
fn without_cap_net_admin_a_holders_copy_is_shut_down() {
    if !skip::require_root() || !skip::require_tool("setpriv") {
        return;
    }
    // sockd and sockstat both as nobody: SOCK_DESTROY is refused (EPERM),
    // but nobody may ptrace its own sockd and so take a copy of its fd.
    let server = sockd().args(["-q", "127.0.0.1", "0"]).by_nobody().serve();
    let (one, two, one_port) = two_connections(&server);
    let out = sockstat()
        .args(["--kill", "--json", "--pid", &server.pid().to_string()])
        .args(["-c", "-p", &one_port.to_string()])
        .by_nobody()
        .run();
    out.success().stderr_is("");
    let rows = json_rows(&out);
    assert_eq!(rows.len(), 1, "{out}");
    assert_eq!(rows[0]["ended_by"], "shutdown", "{out}");
    assert_eq!(rows[0]["foreign"], format!("127.0.0.1:{one_port}"));
    assert_eq!(
        peer_reads(&one),
        Ok(0),
        "EOF after the holder's copy was shut down"
    );
    assert_echoes(&two, b'3');
}

#[test]
fn nobody_may_not_end_roots_connection() {
    if !skip::require_tool("setpriv") {
        return;
    }
    let Some(tcp) = root_and_a_pair() else {
        return;
    };
    let inode = inode_of(&tcp.client);
    let out = sockstat()
        .args(["--kill", "--inode", &inode])
        .by_nobody()
        .run();
    out.fails_with(77, "(EPERM)")
        .stderr_has("sockstat: kill tcp4 127.0.0.1:")
        .stderr_has(&format!(
            "socket:[{inode}]: operation not permitted (EPERM)"
        ))
        .stderr_has("hint: ");
    assert!(parse_table(&out.stdout_text()).is_empty(), "{out}");
    // Still connected, both ways.
    net::send_all(&tcp.client, b"x");
    assert_eq!(net::recv_exact(&tcp.server, 1), b"x");
    net::send_all(&tcp.server, b"y");
    assert_eq!(net::recv_exact(&tcp.client, 1), b"y");
}

#[test]
fn time_wait_is_left_alone_unless_all() {
    let Some(tcp) = root_and_a_pair() else {
        return;
    };
    let client_port = crate::util::net::local_port(&tcp.client).to_string();
    let local = format!("127.0.0.1:{client_port}");
    let foreign = format!("127.0.0.1:{}", tcp.port);
    // The side that closes first lingers in TIME_WAIT: the client's FIN is
    // seen to arrive (a child another test spawns can hold a copy of its fd
    // until its exec) before the other end closes.
    drop(tcp.client);
    recv_timeout(&tcp.server, net::STEP);
    assert_eq!(net::recv_upto(&tcp.server, 1), (Vec::new(), None), "EOF");
    drop(tcp.server);
    // Named by both ends: other TIME_WAITs may share the port number (a
    // churn test leaves thousands, over most ephemeral ports).
    let ours = |r: &crate::util::listing::Row| {
        r["LOCAL ADDRESS"] == local && r["FOREIGN ADDRESS"] == foreign
    };
    let lingering = |rows: &[crate::util::listing::Row]| {
        rows.iter().any(|r| ours(r) && r["STATE"] == "TIME_WAIT")
    };
    let listed = ["-a", "-P", "tcp", "-p", &client_port];
    assert!(
        lingering(&table_until(&listed, lingering)),
        "no TIME_WAIT for {local}"
    );
    // --inode 0: a socket no fd holds. Other hosts' connections may share
    // the port number; their live sockets are never in reach.
    let out = sockstat()
        .args(["--kill", "--inode", "0", "-p", &client_port])
        .run();
    out.success().stderr_is("");
    assert!(parse_table(&out.stdout_text()).is_empty(), "{out}");
    assert!(
        lingering(&crate::util::listing::table(&listed)),
        "ended without -a"
    );

    let out = sockstat()
        .args(["--kill", "-a", "--inode", "0", "-p", &client_port])
        .run();
    if kernel_has_sock_destroy() == Some(false) {
        // No holder to shut down: nothing else can end it.
        out.fails_with(71, "(EOPNOTSUPP)");
        return;
    }
    out.success().stderr_is("");
    let rows = parse_table(&out.stdout_text());
    let ended = rows.iter().find(|r| ours(r));
    let ended = ended.unwrap_or_else(|| panic!("no row for {local}: {out}"));
    assert_eq!(ended["STATE"], "TIME_WAIT");
    assert_eq!((ended["PID"].as_str(), ended["INODE"].as_str()), ("?", "0"));
    assert!(
        !lingering(&crate::util::listing::table(&listed)),
        "still in TIME_WAIT"
    );
    drop(tcp.listener);
}

#[test]
fn other_protocols_are_never_touched() {
    let (a, b) = unix_pair();
    let (udp, _) = udp_socket();
    for fd in [&a, &udp] {
        let out = sockstat()
            .args(["--kill", "--pid", &me(), "--inode", &inode_of(fd)])
            .run();
        out.success().stderr_is("");
        assert!(parse_table(&out.stdout_text()).is_empty(), "{out}");
    }
    net::send_all(&a, b"z");
    assert_eq!(net::recv_exact(&b, 1), b"z");
    let rows = crate::util::listing::table(&["--pid", &me(), "--inode", &inode_of(&udp)]);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["STATE"], "UNCONN");
}

/// A fresh network and pid namespace for a run that, were the check it
/// tests broken, would end sockets: there it sees no process but itself
/// and no socket but its own (`unshare`; as not root, in a user namespace).
fn sandbox() -> Option<Vec<&'static str>> {
    if !skip::require_tool("unshare") {
        return None;
    }
    let mut wrapper = vec!["unshare", "--net", "--pid", "--fork", "--mount-proc"];
    if !crate::util::is_root() {
        wrapper.push("--map-root-user");
    }
    let probe = crate::util::Cmd::new("true").wrap(wrapper.clone()).run();
    skip::require(
        probe.code == Some(0),
        format!("cannot unshare: {}", probe.stderr),
    )
    .then_some(wrapper)
}

#[test]
fn kill_without_a_filter_or_with_flags_it_cannot_serve_is_a_usage_error() {
    let Some(sandbox) = sandbox() else {
        return;
    };
    for (args, says) in [
        (&["--kill"][..], "--kill needs a filter"),
        (&["--kill", "-a", "-e", "--json"], "--kill needs a filter"),
        // Each keeps every TCP socket of the host in reach.
        (&["--kill", "-P", "tcp"], "--kill needs a filter"),
        (&["--kill", "-4", "-6"], "--kill needs a filter"),
        (&["--kill", "-u", "-4", "-6"], "--kill needs a filter"),
        (&["--kill", "--source", "proc", "-p", "1"], "--source proc"),
        (&["--kill", "-u"], "TCP sockets only"),
        (&["--kill", "-P", "udp"], "TCP sockets only"),
        (&["--kill", "--explain", "-p", "1"], "--explain"),
    ] {
        sockstat()
            .args(args)
            .wrap(&sandbox)
            .run()
            .fails_with(64, says)
            .stderr_starts_with("sockstat: ")
            .stdout_is(b"");
    }
}

/// A sockd whose listener is ended from outside cannot serve any more: it
/// exits 71 with the kernel's `EINVAL` and a hint that says what can have
/// done it, not an `EINVAL` alone.
#[test]
fn a_sockd_whose_listener_is_ended_says_so_and_exits_71() {
    if !skip::require_root() {
        return;
    }
    let server = sockd().args(["-q", "127.0.0.1", "0"]).serve();
    let listening = format!("127.0.0.1:{}", server.port());
    sockstat()
        .args(["--kill", "-l", "--pid", &server.pid().to_string()])
        .run()
        .success();
    let out = server.wait_exit();
    out.exits(71).stderr_is(&format!(
        "sockd: listening on {listening}\n\
         sockd: accept {listening}: invalid argument (EINVAL)\n\
         hint: the listening socket no longer listens: something outside sockd ended it \
         (`ss -K`, `sockstat --kill -l`)\n"
    ));
}
