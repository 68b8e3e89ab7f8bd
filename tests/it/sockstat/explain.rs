//! `sockstat --explain`: the chain fd → struct file → inode → struct sock
//! for sockets whose every link the test knows, a fork-shared one among
//! them, as a tree and as JSON.

use super::{OrDie, await_holder, fd_text, inode_of, me, tcp_pair, unix_pair};
use crate::util::{Cmd, Process, procfs, sockstat};
use rustix::fd::{AsFd, AsRawFd};
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
use serde_json::Value;
use std::io::IoSlice;
use std::process::{Command, Stdio};

/// Set in the environment of the child test process that runs [`fork_holder`].
const HOLDER_ENV: &str = "SOCKKIT_EXPLAIN_HOLDER";

/// Not a test of its own: run by [`start_fork_holder`] in a child test
/// process. It holds a non-blocking TCP listener without close-on-exec
/// and starts `cat`, which inherits it: one inode, one struct file, two
/// processes. Only this process, which runs nothing else meanwhile, ever
/// has an fd without CLOEXEC, so no other test's child can inherit it.
/// `cat` reads a pipe only this process writes: when this process ends,
/// however it ends, `cat` sees EOF and exits too.
#[test]
#[ignore = "a holder the --explain tests run in a child process"]
fn fork_holder() {
    if std::env::var_os(HOLDER_ENV).is_none() {
        return;
    }
    let listener = rustix::net::socket_with(
        AddressFamily::INET,
        SocketType::STREAM,
        SocketFlags::NONBLOCK,
        None,
    )
    .or_die("socket");
    let any: core::net::SocketAddr = "127.0.0.1:0".parse().or_die("addr");
    rustix::net::bind(&listener, &any).or_die("bind");
    rustix::net::listen(&listener, 8).or_die("listen");
    let port = crate::util::net::local_port(&listener);
    let (cat_stdin, keep) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).or_die("pipe");
    let mut cat = Command::new("cat")
        .stdin(Stdio::from(cat_stdin))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .or_die("spawn cat");
    let ready = format!(
        "holding {port} {} {} ready\n",
        listener.as_raw_fd(),
        cat.id()
    );
    // Straight to fd 1: the harness captures print!.
    sockkit::io::write_all(rustix::stdio::stdout(), ready.as_bytes()).or_die("write");
    let mut buf = [0u8; 64];
    while matches!(sockkit::io::read_some(rustix::stdio::stdin(), &mut buf), Ok(n) if n > 0) {}
    drop(keep);
    let _ = cat.wait();
}

/// The holder of a fork-shared listener: its process, the `cat` that
/// shares the socket, the port, the fd (the same number in both) and the
/// inode.
struct ForkShared {
    _holder: Process,
    holder: u32,
    cat: u32,
    port: u16,
    fd: u32,
    inode: u64,
}

fn start_fork_holder() -> ForkShared {
    let exe = std::env::current_exe().or_die("current_exe");
    let holder = Cmd::new(exe)
        .args([
            "--exact",
            "sockstat::explain::fork_holder",
            "--ignored",
            "--nocapture",
        ])
        .env(HOLDER_ENV, "1")
        .stdin(Stdio::piped())
        .spawn();
    holder.wait_stdout(" ready\n");
    let text = holder.stdout_text();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("holding ")?.strip_suffix(" ready"))
        .unwrap_or_else(|| panic!("no holding line in {text:?}"));
    let numbers: Vec<u32> = line.split(' ').filter_map(|n| n.parse().ok()).collect();
    let [port, fd, cat] = numbers[..] else {
        panic!("ready line {line:?}");
    };
    let pid = holder.pid();
    let inode = procfs::fd_targets(pid)
        .iter()
        .find(|(n, _)| *n == fd)
        .and_then(|(_, target)| procfs::socket_inode(target))
        .unwrap_or_else(|| panic!("holder {pid} has no socket at fd {fd}"));
    await_holder(cat, &inode.to_string(), "cat");
    ForkShared {
        _holder: holder,
        holder: pid,
        cat,
        port: u16::try_from(port).or_die("port"),
        fd,
        inode,
    }
}

/// `sockstat ARGS`, which must succeed quietly; its stdout.
#[track_caller]
fn explain(args: &[&str]) -> String {
    let out = sockstat().args(args).run();
    out.success().stderr_is("");
    out.stdout_text()
}

/// The trees of an `--explain` output, each checked to be drawn as one:
/// a header, then only lines of the tree's shape.
#[track_caller]
fn trees(text: &str) -> Vec<&str> {
    let trees: Vec<&str> = text.trim_end().split("\n\n").collect();
    for tree in &trees {
        for line in tree.lines().skip(1) {
            let body = line.trim_start_matches(['│', ' ']);
            assert!(
                body.starts_with("├─ ") || body.starts_with("└─ "),
                "not a tree line: {line:?} in\n{tree}"
            );
        }
        let last = tree.lines().rev().find(|l| !l.starts_with(['│', ' ']));
        assert!(
            last.is_some_and(|l| l.starts_with("└─ ")),
            "the last branch is not └─:\n{tree}"
        );
    }
    trees
}

/// The tree whose header names `pid` and `fd`.
#[track_caller]
fn tree_of<'a>(trees: &[&'a str], pid: u32, fd: impl std::fmt::Display) -> &'a str {
    let head = format!("pid {pid} (");
    let fd = format!(") fd {fd} -> socket:[");
    trees
        .iter()
        .find(|t| t.starts_with(&head) && t.lines().next().is_some_and(|l| l.contains(&fd)))
        .unwrap_or_else(|| panic!("no tree for pid {pid} fd {fd} in {trees:#?}"))
}

#[track_caller]
fn has(tree: &str, line: &str) {
    assert!(
        tree.lines().any(|l| l.contains(line)),
        "no line with {line:?} in\n{tree}"
    );
}

#[test]
fn a_fork_shared_nonblocking_listener_shows_every_link_and_both_processes() {
    let shared = start_fork_holder();
    let (holder, cat, fd, inode) = (shared.holder, shared.cat, shared.fd, shared.inode);
    let text = explain(&["--explain", "--inode", &inode.to_string()]);
    let both = trees(&text);
    assert_eq!(both.len(), 2, "one tree per fd:\n{text}");
    for pid in [holder, cat] {
        let tree = tree_of(&both, pid, fd);
        let header = format!(
            "fd {fd} -> socket:[{inode}]: tcp4 127.0.0.1:{} *:* LISTEN",
            shared.port
        );
        assert!(
            tree.lines().next().is_some_and(|l| l.ends_with(&header)),
            "{tree}"
        );
        has(
            tree,
            &format!("├─ fd {fd} in pid {pid}'s fd table, no close-on-exec"),
        );
        // cat never called socket(): its fd came by fork() and exec().
        has(
            tree,
            "the end of socket() (sock_map_fd); this fd is that one or a copy of it",
        );
        has(tree, "├─ struct file: O_RDWR|O_NONBLOCK, pos 0, mnt_id ");
        has(tree, &format!("(/proc/{pid}/fdinfo/{fd})"));
        has(tree, "O_NONBLOCK: from SOCK_NONBLOCK or a later fcntl()");
        has(tree, &format!("├─ inode {inode} on sockfs: st_dev "));
        has(tree, &format!("(stat /proc/{pid}/fd/{fd})"));
        has(tree, "├─ struct socket: SOCK_STREAM, named \"TCP\"");
        has(tree, "├─ struct sock: LISTEN");
        has(tree, "├─ path: socket(), bind(), listen()");
        has(tree, "sock_alloc -> pf->create -> sock_map_fd");
        has(tree, "├─ held by 2 fds in 2 processes");
        has(tree, &format!("│  ├─ pid {holder} ("));
        has(tree, &format!("pid {cat} (cat) fd {fd}"));
        assert!(tree.contains("\n└─ hidden from user space"), "{tree}");
    }
    // cat's own tree names it as "this fd".
    has(
        tree_of(&both, cat, fd),
        &format!("pid {cat} (cat) fd {fd}: this fd"),
    );

    // Selecting one process still finds the other holder: every visible
    // process is looked at.
    let text = explain(&["--explain", "--pid", &holder.to_string(), "-l"]);
    let listed = trees(&text);
    let tree = tree_of(&listed, holder, fd);
    has(tree, "├─ held by 2 fds in 2 processes");
    has(tree, &format!("pid {cat} (cat) fd {fd}"));

    let out = sockstat()
        .args(["--explain", "--json", "--inode", &inode.to_string()])
        .run();
    out.success().stderr_is("");
    let value: Value = serde_json::from_slice(&out.stdout).or_die("json");
    let objects = value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"));
    assert_eq!(objects.len(), 2, "{value}");
    for object in objects {
        let e = &object["explain"];
        assert_eq!(object["inode"], inode, "{object}");
        assert_eq!(e["fd"]["number"], fd);
        assert_eq!(e["fd"]["close_on_exec"], false);
        assert_eq!(
            e["file"]["flags"],
            serde_json::json!(["O_RDWR", "O_NONBLOCK"])
        );
        assert_eq!(e["file"]["pos"], 0);
        assert_eq!(e["inode"]["number"], inode);
        assert_eq!(e["inode"]["mode"], "0140777");
        assert_eq!(e["socket"]["type"], "SOCK_STREAM");
        assert_eq!(e["socket"]["protocol_name"], "TCP");
        assert_eq!(e["sock"]["state"], "LISTEN");
        assert!(e["sock"]["cookie"].is_u64(), "{e}");
        assert_eq!(e["origin"]["call"], "socket");
        assert_eq!(e["origin"]["certain"], true);
        assert_eq!(e["origin"]["then"], serde_json::json!(["bind", "listen"]));
        let pids: Vec<&Value> = e["holders"]
            .as_array()
            .map(|h| h.iter().map(|h| &h["pid"]).collect())
            .unwrap_or_default();
        assert_eq!(pids, [&Value::from(holder), &Value::from(cat)], "{e}");
        for h in e["holders"].as_array().into_iter().flatten() {
            assert_eq!(h["close_on_exec"], false, "{h}");
            assert_eq!(h["fd"], fd);
        }
    }
}

#[test]
fn accepted_connected_and_paired_sockets_tell_their_paths() {
    let Some(tcp) = tcp_pair("127.0.0.1") else {
        return;
    };
    let (a, b) = unix_pair();
    let me_pid: u32 = me().parse().or_die("pid");
    let explained = |fd: &rustix::fd::OwnedFd| {
        let text = explain(&["--explain", "--pid", &me(), "--inode", &inode_of(fd)]);
        let trees = trees(&text);
        assert_eq!(trees.len(), 1, "{text}");
        tree_of(&trees, me_pid, fd_text(fd)).to_string()
    };
    let port = tcp.port;
    // Another test's fork(), between its clone and its exec, holds a copy
    // of every fd of this process for an instant: ask again until it is
    // gone (bounded; a socket still shared after that fails below).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let server = loop {
        let tree = explained(&tcp.server);
        if tree.contains("├─ held by this fd only") || std::time::Instant::now() > deadline {
            break tree;
        }
        std::thread::yield_now();
    };
    has(
        &server,
        &format!(
            "├─ path: probably accept() on socket:[{}], listening on 127.0.0.1:{port} (pid {me_pid} (",
            inode_of(&tcp.listener)
        ),
    );
    has(
        &server,
        "accept4 -> __sys_accept4 -> get_unused_fd_flags -> sock_alloc -> sock_alloc_file -> inet_accept",
    );
    has(&server, "the handshake made it (a clone of the listener's)");
    has(
        &server,
        "\"probably\": the kernel keeps no record of the call",
    );
    // accept(SOCK_CLOEXEC): close-on-exec, and no O_NONBLOCK.
    has(&server, "in pid");
    has(&server, "'s fd table, close-on-exec");
    has(&server, "├─ struct file: O_RDWR, pos 0");
    has(&server, "├─ held by this fd only");

    let client = explained(&tcp.client);
    let client_port = crate::util::net::local_port(&tcp.client);
    has(
        &client,
        &format!(
            "├─ path: probably socket() then connect(): nothing listens on 127.0.0.1:{client_port}"
        ),
    );
    has(&client, "inet_create() made it");

    let paired = explained(&a);
    has(
        &paired,
        &format!(
            "├─ path: probably socketpair(): no name, and none on its peer socket:[{}] (pid {me_pid} (",
            inode_of(&b)
        ),
    );
    has(
        &paired,
        "├─ struct socket: SOCK_STREAM, named \"UNIX-STREAM\"",
    );
    has(&paired, "unix_socketpair() connected the two");
}

#[test]
fn names_from_peers_reach_the_tree_escaped() {
    // An abstract name a hostile process could choose: a newline, a
    // terminal escape, a bidi override; and our pid, as the name is the
    // host's (its network namespace's) and another run of the suite may
    // be binding it this moment.
    let pid = me();
    let evil = [
        &b"\0sockkit-explain\n\x1b[2J\xe2\x80\xaeevil-"[..],
        pid.as_bytes(),
    ]
    .concat();
    let sock = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .or_die("socket");
    let addr = SocketAddrUnix::new_abstract_name(&evil[1..]).or_die("abstract name");
    rustix::net::bind(&sock, &addr).or_die("bind");
    let text = explain(&["--explain", "--pid", &me(), "--inode", &inode_of(&sock)]);
    assert!(
        !text.contains('\x1b') && !text.contains('\u{202e}'),
        "{text:?}"
    );
    let trees = trees(&text);
    assert_eq!(trees.len(), 1, "{text}");
    let header = trees[0].lines().next().unwrap_or_default();
    assert!(
        header.contains(&format!(
            "unix @sockkit-explain\\x0a\\x1b[2J\\xe2\\x80\\xaeevil-{pid} * UNCONN"
        )),
        "{header}"
    );
    has(trees[0], "├─ struct socket: SOCK_DGRAM");
    has(trees[0], "├─ path: socket(), then bind(); not connected");
}

#[test]
fn a_socket_in_another_namespace_is_explained_from_its_own() {
    let Some(inside) = super::namespaces::Inside::start() else {
        return;
    };
    let server = inside.server.pid();
    let rows = inside.rows(&[]);
    let listener = super::namespaces::row(&rows, server, "LISTEN");
    let accepted = super::namespaces::row(&rows, server, "ESTABLISHED");
    let text = explain(&["--explain", "--pid", &server.to_string(), "-c"]);
    let all = trees(&text);
    let tree = tree_of(&all, server, &accepted["FD"]);
    has(
        tree,
        &format!(
            "├─ path: probably accept() on socket:[{}], listening on {} (pid {server} (sockd) fd {})",
            listener["INODE"], listener["LOCAL ADDRESS"], listener["FD"]
        ),
    );
    has(tree, &format!(", netns {} (", inside.ns.name));
    has(tree, "├─ struct sock: ESTABLISHED");
    has(tree, "│  ├─ tcp_info: ");
}

#[test]
fn a_socket_no_table_lists_says_why() {
    // Made, never bound: in no lookup table sock_diag or /proc/net reads.
    let bound = rustix::net::socket_with(
        AddressFamily::INET,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .or_die("socket");
    let text = explain(&["--explain", "--pid", &me(), "--inode", &inode_of(&bound)]);
    let all = trees(&text);
    let me_pid: u32 = me().parse().or_die("pid");
    let tree = tree_of(&all, me_pid, fd_text(&bound));
    assert!(
        tree.lines()
            .next()
            .is_some_and(|l| l.ends_with(": ? ? ? ?")),
        "{tree}"
    );
    has(tree, "├─ struct socket: SOCK_STREAM, named \"TCP\"");
    has(
        tree,
        "├─ struct sock: in no table: sock_diag and /proc/net list",
    );
    // Never connected: the path must not claim connect() or accept().
    has(
        tree,
        "├─ path: socket(), never bound (or, before Linux 6.3, only bound); or a",
    );
    has(tree, &format!("├─ inode {} on sockfs", inode_of(&bound)));
}

#[test]
fn a_record_from_proc_net_names_its_file_not_netlink() {
    let Some(tcp) = tcp_pair("127.0.0.1") else {
        return;
    };
    let me_pid: u32 = me().parse().or_die("pid");
    for (source, from) in [
        ("proc", "(/proc/net/tcp, keyed by its inode column"),
        ("netlink", "(NETLINK_SOCK_DIAG, keyed by sock_i_ino())"),
    ] {
        let text = explain(&[
            "--explain",
            "--source",
            source,
            "--pid",
            &me(),
            "--inode",
            &inode_of(&tcp.client),
        ]);
        let all = trees(&text);
        let tree = tree_of(&all, me_pid, fd_text(&tcp.client));
        has(tree, "├─ struct sock: ESTABLISHED");
        has(tree, from);
    }
    drop((tcp.server, tcp.listener));
}

#[test]
fn fds_in_flight_are_counted_on_the_receiving_socket() {
    let (a, b) = unix_pair();
    let (passed, _) = unix_pair();
    let fds = [passed.as_fd()];
    let mut space = [core::mem::MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    assert!(
        control.push(SendAncillaryMessage::ScmRights(&fds)),
        "no room"
    );
    rustix::net::sendmsg(&a, &[IoSlice::new(b"x")], &mut control, SendFlags::empty())
        .or_die("sendmsg");
    let me_pid: u32 = me().parse().or_die("pid");
    for (fd, says) in [
        (
            &a,
            "0 fds in SCM_RIGHTS messages waiting in its receive queue",
        ),
        (
            &b,
            "1 fd in SCM_RIGHTS messages waiting in its receive queue",
        ),
    ] {
        let text = explain(&["--explain", "--pid", &me(), "--inode", &inode_of(fd)]);
        let all = trees(&text);
        has(tree_of(&all, me_pid, fd_text(fd)), says);
    }
}

#[test]
fn a_connection_not_yet_accepted_is_a_whole_sock_not_a_request() {
    let (listener, bound) = crate::util::net::bind_tcp("127.0.0.1").or_die("bind");
    sockkit::socket::listen(&listener, bound, 4).or_die("listen");
    let client = sockkit::connect_socket(&bound.into()).or_die("connect");
    let client_port = crate::util::net::local_port(&client).to_string();
    let text = explain(&["--explain", "-a", "--inode", "0", "-p", &client_port]);
    let all = trees(&text);
    // The other end of the client's connection, in the accept queue.
    let queued = format!(
        "no visible fd -> socket:[0]: tcp4 127.0.0.1:{} 127.0.0.1:{client_port} ESTABLISHED",
        bound.port()
    );
    let tree = all
        .iter()
        .find(|t| t.starts_with(&queued))
        .unwrap_or_else(|| panic!("no tree for {queued}: {text}"));
    has(
        tree,
        "├─ no fd, no file, no inode, but a whole struct sock: waiting in a",
    );
    assert!(!tree.contains("request sock"), "{tree}");
}

#[test]
fn a_udp_socket_that_only_sent_is_not_said_to_have_bound() {
    let (target, port) = super::udp_socket();
    let sender = rustix::net::socket_with(
        AddressFamily::INET,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .or_die("socket");
    let to: core::net::SocketAddr = format!("127.0.0.1:{port}").parse().or_die("addr");
    // No bind(): the send gives it an ephemeral port on the wildcard.
    rustix::net::sendto(&sender, b"x", SendFlags::empty(), &to).or_die("sendto");
    let me_pid: u32 = me().parse().or_die("pid");
    let text = explain(&["--explain", "--pid", &me(), "--inode", &inode_of(&sender)]);
    let all = trees(&text);
    let tree = tree_of(&all, me_pid, fd_text(&sender));
    has(tree, "├─ path: socket(), then bind(), or a sendto()");
    let bound = explain(&["--explain", "--pid", &me(), "--inode", &inode_of(&target)]);
    has(&bound, "├─ path: socket(), then bind(); not connected");
}
