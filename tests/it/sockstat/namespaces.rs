//! sockstat in our network namespace sees the sockets of processes in
//! others, each looked up in its own: a namespace the test makes, with a
//! sockd and a `sockc --keep` talking inside it (root only).

use super::{OrDie, me, table_until, unix_pair};
use crate::util::listing::{Row, parse_table, table};
use crate::util::netns::Netns;
use crate::util::{Cmd, Process, SOCKSTAT, skip, sockc, sockd, sockstat};
use std::process::{ChildStdin, Stdio};

/// A server and a client connected to it, inside a namespace of their own
/// (also what `--kill` ends from outside it).
pub(super) struct Inside {
    pub(super) server: Process,
    pub(super) client: Process,
    _typing: ChildStdin,
    // Last: the processes go before their namespace does.
    pub(super) ns: Netns,
}

impl Inside {
    /// `None` (the skip reported) where namespaces cannot be made.
    pub(super) fn start() -> Option<Self> {
        if !skip::require_root() || !skip::require_tool("ip") {
            return None;
        }
        let ns = match Netns::new() {
            Ok(ns) => ns,
            Err(why) => {
                skip::because(format!("cannot make a network namespace: {why}"));
                return None;
            }
        };
        let server = sockd()
            .args(["-q", "127.0.0.1", "0"])
            .wrap(ns.exec())
            .serve();
        let mut client = sockc()
            .args(["--keep", "127.0.0.1", &server.port_arg()])
            .stdin(Stdio::piped())
            .wrap(ns.exec())
            .spawn();
        let mut typing = client.take_stdin();
        // --keep connects for the first line, and keeps the connection.
        std::io::Write::write_all(&mut typing, b"hi\n").or_die("write to sockc");
        // The server's answer, not sockc's own `you say: hi`: by then
        // sockd has accepted, so its end of the connection has an fd.
        client.wait_stdout("127.0.0.1 say: hi");
        Some(Self {
            server,
            client,
            _typing: typing,
            ns,
        })
    }

    /// Ends the client, then, once its side of the connection lingers in
    /// TIME_WAIT, the server: a namespace no process is in, holding one
    /// TIME_WAIT socket. The namespace, and that socket's local address.
    pub(super) fn leave_time_wait(self) -> (Netns, String) {
        let rows = self.rows(&[]);
        let local = row(&rows, self.client.pid(), "ESTABLISHED")["LOCAL ADDRESS"].clone();
        let Self {
            server,
            client,
            _typing,
            ns,
        } = self;
        // Its socket closes first (a FIN); sockd closes on the EOF.
        drop(client);
        let lingering = |rows: &[Row]| {
            rows.iter()
                .any(|r| r["LOCAL ADDRESS"] == local && r["STATE"] == "TIME_WAIT")
        };
        let rows = table_until(&["-a", "--netns", &ns.name], lingering);
        assert!(lingering(&rows), "no TIME_WAIT for {local}: {rows:#?}");
        drop(server);
        (ns, local)
    }

    fn pids(&self) -> String {
        format!("{},{}", self.server.pid(), self.client.pid())
    }

    fn listen(&self) -> String {
        format!("127.0.0.1:{}", self.server.port())
    }

    /// Their rows once the client's connection shows (it connects on its
    /// own schedule).
    pub(super) fn rows(&self, extra: &[&str]) -> Vec<Row> {
        let pids = self.pids();
        let args = [&["--pid", pids.as_str()][..], extra].concat();
        let client = self.client.pid().to_string();
        table_until(&args, |rows| {
            rows.iter()
                .any(|r| r["PID"] == client && r["STATE"] == "ESTABLISHED")
        })
    }
}

pub(super) fn row<'a>(rows: &'a [Row], pid: u32, state: &str) -> &'a Row {
    let pid = pid.to_string();
    rows.iter()
        .find(|r| r["PID"] == pid && r["STATE"] == state)
        .unwrap_or_else(|| panic!("no {state} row of {pid} in {rows:#?}"))
}

#[test]
fn rows_of_another_namespace_have_its_addresses_and_states() {
    let Some(inside) = Inside::start() else {
        return;
    };
    for source in ["netlink", "proc"] {
        let rows = inside.rows(&["-e", "--source", source]);
        let listener = row(&rows, inside.server.pid(), "LISTEN");
        assert_eq!(listener["LOCAL ADDRESS"], inside.listen(), "{source}");
        assert_eq!(listener["FOREIGN ADDRESS"], "*:*", "{source}");
        assert_eq!(listener["PROTO"], "tcp4", "{source}");
        assert_eq!(listener["NETNS"], inside.ns.name, "{source}");
        // The backlog only sock_diag knows: the dump was made inside.
        let backlog = &listener["SEND-Q"];
        match source {
            "netlink" => assert!(backlog.parse::<u32>().is_ok_and(|b| b > 0), "{listener:?}"),
            _ => assert_eq!(backlog, "?", "{listener:?}"),
        }
        let client = row(&rows, inside.client.pid(), "ESTABLISHED");
        assert_eq!(client["FOREIGN ADDRESS"], inside.listen(), "{source}");
        let accepted = row(&rows, inside.server.pid(), "ESTABLISHED");
        assert_eq!(accepted["LOCAL ADDRESS"], inside.listen(), "{source}");
        assert_eq!(
            accepted["FOREIGN ADDRESS"], client["LOCAL ADDRESS"],
            "{source}"
        );
        assert!(
            rows.iter().all(|r| r["PROTO"] != "?"),
            "{source}: {rows:#?}"
        );
    }
    let pids = inside.pids();
    let out = sockstat().args(["--pid", &pids, "--json"]).run();
    out.success().stderr_is("");
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).or_die("json");
    let objects = value.as_array().cloned().unwrap_or_default();
    assert!(objects.len() >= 3, "{value}");
    for object in &objects {
        assert_eq!(object["netns"], inside.ns.inode(), "{object}");
        assert_eq!(object["netns_name"], inside.ns.name, "{object}");
    }
    // Our own rows are in our namespace, which has another inode.
    let (a, _b) = unix_pair();
    let out = sockstat().args(["--pid", &me(), "--json", "-u"]).run();
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).or_die("json");
    let ours = std::fs::metadata("/proc/self/ns/net").or_die("stat");
    let ours = std::os::unix::fs::MetadataExt::ino(&ours);
    let inode: u64 = super::inode_of(&a).parse().or_die("inode");
    let object = value
        .as_array()
        .and_then(|rows| rows.iter().find(|o| o["inode"] == inode))
        .unwrap_or_else(|| panic!("no row for {inode}: {value}"));
    assert_eq!(object["netns"], ours, "{object}");
    assert_ne!(ours, inside.ns.inode());
    assert!(object.get("netns_name").is_some(), "{object}");
}

#[test]
fn netns_selects_one_namespace_by_name_path_or_inode() {
    let Some(inside) = Inside::start() else {
        return;
    };
    let _ = inside.rows(&[]);
    let (mine, _b) = unix_pair();
    let mine = super::inode_of(&mine);
    let theirs = [
        inside.server.pid().to_string(),
        inside.client.pid().to_string(),
    ];
    let proc_path = format!("/proc/{}/ns/net", inside.server.pid());
    let inode = inside.ns.inode().to_string();
    for choice in [&inside.ns.name, &inside.ns.path(), &proc_path, &inode] {
        let rows = table(&["--netns", choice]);
        assert!(rows.len() >= 3, "--netns {choice}: {rows:#?}");
        assert!(
            rows.iter().all(|r| theirs.contains(&r["PID"])),
            "--netns {choice}: {rows:#?}"
        );
        assert!(
            rows.iter()
                .any(|r| r["LOCAL ADDRESS"] == inside.listen() && r["STATE"] == "LISTEN")
        );
        assert!(rows.iter().all(|r| r["INODE"] != mine), "--netns {choice}");
    }
    // Our namespace by its path: none of theirs.
    let rows = table(&["--netns", "/proc/self/ns/net", "--pid", &inside.pids()]);
    assert!(rows.is_empty(), "{rows:#?}");
    // An inode no namespace has: nothing, and no error.
    let rows = table(&["--netns", "1"]);
    assert!(rows.is_empty(), "{rows:#?}");

    // -a adds the sockets nobody holds of the namespace listed only: the
    // client's end of a closed connection, in TIME_WAIT inside theirs.
    let client_addr =
        row(&inside.rows(&[]), inside.client.pid(), "ESTABLISHED")["LOCAL ADDRESS"].clone();
    let client_port = client_addr
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let server_addr = inside.listen();
    let Inside {
        client, _typing, ..
    } = inside;
    drop(_typing);
    client.wait_exit().success();
    // Both ends: the host's own TIME_WAIT sockets (other tests churn
    // thousands) may have the same local port.
    let ours = |rows: &[Row]| {
        rows.iter().any(|r| {
            r["LOCAL ADDRESS"] == client_addr
                && r["FOREIGN ADDRESS"] == server_addr
                && r["STATE"] == "TIME_WAIT"
        })
    };
    let args = ["-a", "-P", "tcp", "-p", &client_port];
    let name = inside.ns.name.clone();
    let listed = table_until(&[&args[..], &["--netns", &name]].concat(), ours);
    assert!(
        ours(&listed),
        "no TIME_WAIT of {client_addr} in {name}: {listed:#?}"
    );
    assert!(
        listed
            .iter()
            .all(|r| r["PID"] == "?" || r["STATE"] != "TIME_WAIT")
    );
    let host = table(&args);
    assert!(!ours(&host), "their TIME_WAIT listed from ours: {host:#?}");
}

#[test]
fn as_nobody_other_namespaces_are_read_through_proc_or_skipped_quietly() {
    let Some(inside) = Inside::start() else {
        return;
    };
    if !skip::require_tool("setpriv") {
        return;
    }
    let _ = inside.rows(&[]);
    // Root's processes are not nobody's to read: no rows, no noise.
    let out = sockstat().by_nobody().run();
    out.success().stderr_is("");
    let theirs = [
        inside.server.pid().to_string(),
        inside.client.pid().to_string(),
    ];
    let rows = parse_table(&out.stdout_text());
    assert!(
        rows.iter().all(|r| !theirs.contains(&r["PID"])),
        "{rows:#?}"
    );
    // nobody's own server inside: setns is refused, /proc/PID/net is read.
    let server = sockd()
        .args(["-q", "127.0.0.1", "0"])
        .by_nobody()
        .wrap(inside.ns.exec())
        .spawn();
    let listen = server.listening_addr();
    let pid = server.pid().to_string();
    let out = sockstat().args(["--pid", &pid, "-e"]).by_nobody().run();
    out.success().stderr_is("");
    let rows = parse_table(&out.stdout_text());
    let row = rows
        .iter()
        .find(|r| r["STATE"] == "LISTEN")
        .unwrap_or_else(|| panic!("no listener of nobody's sockd: {out}"));
    assert_eq!(row["LOCAL ADDRESS"], listen, "{out}");
    assert_eq!(row["USER"], "nobody", "{out}");
    let inode = inside.ns.inode().to_string();
    assert!(
        row["NETNS"] == inside.ns.name || row["NETNS"] == inode,
        "{out}"
    );
    drop(server);
}

#[test]
fn a_netns_that_is_not_one_is_an_error() {
    sockstat()
        .args(["--netns", "sockkit-no-such-netns"])
        .run()
        .fails_with(71, "(ENOENT)")
        .stderr_has("/run/netns/sockkit-no-such-netns")
        .stdout_is(b"");
    for not_net in ["/proc/self/stat", "/dev/null"] {
        sockstat()
            .args(["--netns", not_net])
            .run()
            .fails_with(64, "not a network namespace")
            .stderr_lines(1);
    }
    sockstat()
        .args(["--netns", ""])
        .run()
        .fails_with(64, "bad network namespace");
    if skip::require_root() {
        // An nsfs file of another kind: setns says EINVAL.
        sockstat()
            .args(["--netns", "/proc/self/ns/mnt"])
            .run()
            .fails_with(64, "not a network namespace")
            .stderr_lines(1);
        if skip::require_tool("setpriv") {
            sockstat()
                .args(["--netns", "/proc/1/ns/net"])
                .by_nobody()
                .run()
                .fails_with(77, "(EACCES)");
        }
        // No /proc (a mount namespace of its own without it): no namespace
        // of ours to tell namespace files by.
        if skip::require_tool("unshare") {
            let script = format!("umount -l /proc && exec {SOCKSTAT} --netns x");
            Cmd::new("unshare")
                .args(["--mount", "--propagation", "private", "sh", "-c", &script])
                .run()
                .fails_with(71, "stat /proc/thread-self/ns/net")
                .stderr_has("(ENOENT)")
                .stderr_lines(1);
        }
    }
}
