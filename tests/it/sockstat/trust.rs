//! `sockstat` when the kernel's tables are not to be taken at their word:
//! `/proc/net/unix` prints socket names raw (a name holding a newline reads
//! as more lines), and neither source reads its table atomically.

use super::{
    Churn, OrDie, fd_text, hand_over, inode_of, me, netlink_socket, room_for_fds, unix_listener,
    unix_pair,
};
use crate::util::listing::{Row, table};
use crate::util::{Cmd, Process, skip};
use rustix::fd::OwnedFd;
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
use std::time::{Duration, Instant};

/// A listening unix socket on the abstract `name`, made by a thread that
/// runs as nobody: what any local user can make.
fn abstract_listener_by_nobody(name: &[u8]) -> OwnedFd {
    let name = name.to_vec();
    std::thread::spawn(move || {
        let nobody = rustix::process::Uid::from_raw(65534);
        // The raw syscall changes this thread's ids only.
        rustix::thread::set_thread_res_uid(nobody, nobody, nobody).or_die("setresuid");
        let sock = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .or_die("socket");
        let addr = SocketAddrUnix::new_abstract_name(&name).or_die("abstract name");
        rustix::net::bind(&sock, &addr).or_die("bind abstract name");
        rustix::net::listen(&sock, 1).or_die("listen");
        sock
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// A name that reads, in `/proc/net/unix`, as `x` and then one more line:
/// a listening unix socket `fake.sock` with inode `inode`.
fn forging_name(inode: &str) -> Vec<u8> {
    format!("x\n0000000000000000: 00000002 00000000 00010000 0001 01 {inode:>5} fake.sock")
        .into_bytes()
}

#[test]
fn a_unix_name_cannot_forge_another_tables_socket() {
    if !skip::require_root() || !skip::require_tool("setpriv") {
        return;
    }
    let (listener, bound) = crate::util::net::bind_tcp("127.0.0.1").or_die("bind");
    sockkit::socket::listen(&listener, bound, 16).or_die("listen");
    let netlink = netlink_socket();
    // A unix socket, on a path.
    let named = unix_listener("victim");
    let forgers: Vec<(Process, u32, String)> = [&listener, &netlink, &named.listener]
        .into_iter()
        .map(|victim| {
            let forger = abstract_listener_by_nobody(&forging_name(&inode_of(victim)));
            let inode = inode_of(&forger);
            let (child, fd) = hand_over(&forger, Cmd::new("sleep").arg("60").by_nobody(), "sleep");
            (child, fd, inode)
        })
        .collect();
    let local = format!("127.0.0.1:{}", bound.port());
    for source in ["proc", "netlink"] {
        let rows = table(&["--pid", &me(), "--source", source]);
        let listed = |fd: &OwnedFd| -> &Row {
            rows.iter()
                .find(|r| r["FD"] == fd_text(fd) && r["INODE"] == inode_of(fd))
                .unwrap_or_else(|| {
                    panic!(
                        "--source {source}: no row for fd {}: {rows:#?}",
                        fd_text(fd)
                    )
                })
        };
        let row = listed(&listener);
        assert_eq!(
            (
                row["PROTO"].as_str(),
                row["LOCAL ADDRESS"].as_str(),
                row["STATE"].as_str()
            ),
            ("tcp4", local.as_str(), "LISTEN"),
            "--source {source}: {row:?}"
        );
        assert_eq!(listed(&netlink)["PROTO"], "?", "--source {source}");
        // Its own line may be in doubt too (after a short name); then the
        // two disagreeing lines leave it unknown. Never is it the forgery.
        let row = listed(&named.listener);
        let path = named.path.to_string_lossy();
        assert!(
            (row["PROTO"] == "unix" && row["LOCAL ADDRESS"] == path && row["STATE"] == "LISTEN")
                || (row["PROTO"] == "?" && source == "proc"),
            "--source {source}: {row:?}"
        );
        for victim in [&listener, &netlink] {
            let unix = table(&["-u", "-a", "--inode", &inode_of(victim), "--source", source]);
            assert!(unix.is_empty(), "--source {source}: {unix:#?}");
        }
        // The forgers themselves are what they are: unix listeners of
        // nobody's, their names cut (proc) or whole and escaped (netlink).
        for (child, fd, inode) in &forgers {
            let rows = table(&["--pid", &child.pid().to_string(), "-e", "--source", source]);
            let [row] = &rows[..] else {
                panic!("--source {source}: {rows:#?}");
            };
            assert_eq!(row["FD"], fd.to_string());
            assert_eq!(&row["INODE"], inode);
            assert_eq!(
                (row["PROTO"].as_str(), row["STATE"].as_str()),
                ("unix", "LISTEN")
            );
            assert!(row["USER"] == "nobody" || row["USER"] == "65534", "{row:?}");
            let local = &row["LOCAL ADDRESS"];
            match source {
                "proc" => assert_eq!(local, "@x", "{row:?}"),
                _ => {
                    assert!(
                        local.starts_with("@x\\x0a0000000000000000:\\x20"),
                        "{row:?}"
                    );
                    assert_eq!(row["UID"], "65534", "{row:?}");
                }
            }
        }
    }
}

#[test]
fn steady_unix_sockets_are_listed_in_every_run_while_others_churn() {
    const PAIRS: usize = 3000;
    if !room_for_fds(2 * PAIRS, 4 * PAIRS as u64) {
        return;
    }
    let steady: Vec<(OwnedFd, OwnedFd)> = (0..PAIRS).map(|_| unix_pair()).collect();
    let want: Vec<(String, String)> = steady
        .iter()
        .flat_map(|(a, b)| [a, b])
        .map(|fd| (fd_text(fd), inode_of(fd)))
        .collect();
    // The churn: unix sockets made and closed as fast as a thread can, so
    // the kernel's unix hash buckets change under every read of them.
    let churn = Churn::start(|| {
        let batch: Vec<(OwnedFd, OwnedFd)> = (0..64).map(|_| unix_pair()).collect();
        batch.len() as u64
    });
    let started = Instant::now();
    let mut runs = 0;
    let mut short = Vec::new();
    // Enough runs to catch a read that loses one socket in four runs, in a
    // bounded time on a loaded machine.
    while runs < 40 && (runs < 8 || started.elapsed() < Duration::from_secs(30)) {
        let source = ["proc", "netlink"][runs % 2];
        let rows = table(&["--pid", &me(), "-u", "--source", source]);
        let mut listed = std::collections::BTreeMap::new();
        for row in rows.iter().filter(|r| r["PROTO"] == "unix") {
            *listed
                .entry((row["FD"].as_str(), row["INODE"].as_str()))
                .or_insert(0) += 1;
        }
        let times = |(fd, inode): &(String, String)| {
            listed
                .get(&(fd.as_str(), inode.as_str()))
                .copied()
                .unwrap_or(0)
        };
        let missing = want.iter().filter(|s| times(s) == 0).count();
        let twice = want.iter().filter(|s| times(s) > 1).count();
        if missing + twice > 0 {
            short.push(format!(
                "run {runs} (--source {source}): {missing} missing, {twice} listed twice"
            ));
        }
        runs += 1;
    }
    let made = churn.stop();
    assert!(made > 1000, "the churn made only {made} socketpairs");
    assert!(
        short.is_empty(),
        "{} of {runs} runs did not list each steady socket once ({made} socketpairs \
         churned): {short:#?}",
        short.len()
    );
}
