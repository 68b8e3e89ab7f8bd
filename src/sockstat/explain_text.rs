//! `--explain`'s tree: one socket's chain from the fd to the `struct sock`,
//! a node per link, each with what user space reads of it and, under it,
//! the kernel function of the lesson that made it.

use super::explain::{self, Context, Explained, HOLDERS_SHOWN};
use super::fdinfo::{self, FdInfo, Unreadable};
use super::origin::Origin;
use super::record::{IpVersion, Kind, SockRecord};
use super::rows::{Listing, Row};
use super::table::{self, Column};
use super::tree::{self, Node};
use core::fmt::Write as _;

/// Appends the tree of one explained row to `out`.
pub fn render(out: &mut String, listing: &Listing, one: &Explained<'_>, context: &Context) {
    let row = one.row;
    let mut root = Node::new(match row.owner {
        Some(owner) => {
            let command = listing
                .process(&owner)
                .and_then(|p| p.command.as_deref())
                .unwrap_or("?");
            format!("pid {} ({command}) fd {}", owner.pid, owner.fd)
        }
        None => "no visible fd".to_string(),
    });
    let _ = write!(
        root.text,
        " -> socket:[{}]: {} {} {} {}",
        row.inode,
        row.proto,
        row.local,
        row.foreign,
        row.state.unwrap_or("?")
    );
    let path = Path::of(&one.origin);
    match (row.owner, &one.fd) {
        (Some(owner), Some(Ok(info))) => {
            root.push(fd_node(owner.pid, owner.fd, info, path));
            root.push(file_node(owner.pid, owner.fd, info, path));
            root.push(inode_node(owner.pid, owner.fd, info, path));
            root.push(socket_node(one.record, Some(info), path));
        }
        (Some(owner), Some(Err(why))) => {
            root.leaf(match why {
                Unreadable::Gone => format!(
                    "fd {} of pid {}: gone, closed or reused while sockstat looked",
                    owner.fd, owner.pid
                ),
                Unreadable::Denied(errno) => format!(
                    "fd {} of pid {}: /proc/{}/fdinfo/{} unreadable: {}",
                    owner.fd,
                    owner.pid,
                    owner.pid,
                    owner.fd,
                    crate::error::describe_errno(*errno)
                ),
            });
            root.push(socket_node(one.record, None, path));
        }
        _ if row.inode == 0 => {
            root.leaf(no_inode(row.state));
        }
        _ => {
            root.leaf(format!(
                "no fd of a process sockstat may read holds socket:[{}] (another user's, or \
                 an fd in flight in an SCM_RIGHTS message)",
                row.inode
            ));
            root.push(socket_node(one.record, None, path));
        }
    }
    match (one.record, &one.fd) {
        (Some(record), _) => {
            root.push(sock_node(listing, row, record, path));
        }
        (None, Some(Ok(info))) => {
            root.leaf(unlisted(info.proto_name.as_deref()));
        }
        (None, _) => {}
    }
    root.push(origin_node(one, context));
    if row.owner.is_some() {
        root.push(holders_node(one, context));
    }
    root.leaf(
        "hidden from user space: the kernel addresses of file, socket and sock; the inode \
         number and the cookie name them",
    );
    tree::render(out, &root);
}

/// Which of the lesson's paths the "made by" lines speak of.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Path {
    Socket,
    Accept,
    Pair,
    Unknown,
}

impl Path {
    fn of(origin: &Origin) -> Self {
        match origin {
            Origin::Listening
            | Origin::Connected { .. }
            | Origin::Unconnected { .. }
            | Origin::BoundOrSent => Self::Socket,
            Origin::Accepted { .. } => Self::Accept,
            Origin::Pair { .. } => Self::Pair,
            Origin::Unknown => Self::Unknown,
        }
    }

    /// The call, as the lesson names the kernel's side of it.
    fn call(self) -> &'static str {
        match self {
            Self::Socket => "socket() (sock_map_fd)",
            Self::Accept => "accept() (__sys_accept4)",
            Self::Pair => "socketpair() (__sys_socketpair)",
            Self::Unknown => "socket() (sock_map_fd) or accept() (__sys_accept4)",
        }
    }
}

fn fd_node(pid: u32, fd: u32, info: &FdInfo, path: Path) -> Node {
    let cloexec = if fdinfo::close_on_exec(info.file.flags) {
        "close-on-exec (a flag of the fd, not of the file)"
    } else {
        "no close-on-exec: a program it exec()s inherits it"
    };
    // fork(), dup() and SCM_RIGHTS copy an fd from table to table, and
    // nothing tells a copy from the fd the call installed (a daemon's
    // parent that forked and exited leaves only the copy).
    Node::new(format!("fd {fd} in pid {pid}'s fd table, {cloexec}")).with(Node::new(format!(
        "fd_install() put the file in the caller's fd table at the end of {}; this fd is \
         that one or a copy of it (fork(), dup(), SCM_RIGHTS)",
        path.call()
    )))
}

fn file_node(pid: u32, fd: u32, info: &FdInfo, path: Path) -> Node {
    let file_flags = info.file.flags & !rustix::fs::OFlags::CLOEXEC.bits();
    let (names, rest) = fdinfo::flag_names(file_flags);
    let mut text = format!("struct file: {}", names.join("|"));
    if rest != 0 {
        let _ = write!(text, "|0{rest:o}");
    }
    let _ = write!(text, ", pos {}", info.file.pos);
    if let Some(mnt_id) = info.file.mnt_id {
        let _ = write!(text, ", mnt_id {mnt_id}");
    }
    if let Some(scm) = info.file.scm_fds {
        // The count is of the receive queue: fds sent through this socket
        // wait in its peer's, not here.
        let fds = if scm == 1 { "fd" } else { "fds" };
        let _ = write!(
            text,
            ", {scm} {fds} in SCM_RIGHTS messages waiting in its receive queue"
        );
    }
    let _ = write!(text, " (/proc/{pid}/fdinfo/{fd})");
    let mut node = Node::new(text);
    node.leaf("sock_alloc_file() made it: file->private_data -> the socket, sock->file -> it");
    if fdinfo::nonblocking(file_flags) {
        node.leaf(match path {
            Path::Accept => {
                "O_NONBLOCK: from accept4(SOCK_NONBLOCK) or a later fcntl(); accept() never \
                 copies the listener's"
            }
            _ => "O_NONBLOCK: from SOCK_NONBLOCK or a later fcntl()",
        });
    }
    node
}

fn inode_node(pid: u32, fd: u32, info: &FdInfo, path: Path) -> Node {
    let inode = &info.inode;
    let made = match path {
        Path::Accept => "sock_alloc() made it in __sys_accept4",
        Path::Pair => "sock_alloc() made it, one for each socket of the pair",
        _ => "sock_alloc() made it in __sock_create",
    };
    Node::new(format!(
        "inode {} on sockfs: st_dev {}:{}, {}, uid {} (stat /proc/{pid}/fd/{fd})",
        inode.ino,
        inode.dev_major,
        inode.dev_minor,
        explain::mode_text(inode.mode),
        inode.uid
    ))
    .with(Node::new(format!(
        "{made}, its struct socket beside it (struct socket_alloc, SOCKET_I)"
    )))
}

fn socket_node(record: Option<&SockRecord>, info: Option<&FdInfo>, path: Path) -> Node {
    let name = info.and_then(|info| info.proto_name.as_deref());
    // With no record, a protocol that has one type still tells it.
    let ty = record
        .and_then(|r| r.details.sock_type)
        .and_then(explain::type_name)
        .or(match name {
            Some(b"TCP" | b"TCPv6" | b"UNIX-STREAM") => Some("SOCK_STREAM"),
            Some(b"UDP" | b"UDPv6") => Some("SOCK_DGRAM"),
            _ => None,
        })
        .unwrap_or("type unknown");
    let mut text = format!("struct socket: {ty}");
    match name {
        Some(name) => {
            let _ = write!(
                text,
                ", named \"{}\" (getxattr system.sockprotoname)",
                crate::escape::field(name)
            );
        }
        None => text.push_str(", protocol name not readable"),
    }
    let mut node = Node::new(text);
    if name.is_some() {
        node.leaf(match path {
            Path::Accept => {
                "sock_alloc_file() named the file after the listener's protocol \
                 (sk_prot_creator->name)"
            }
            _ => "sock_alloc_file() named the file after the protocol (sk_prot_creator->name)",
        });
    }
    node
}

fn sock_node(listing: &Listing, row: &Row, record: &SockRecord, path: Path) -> Node {
    let mut text = format!(
        "struct sock: {}",
        super::rows::state_name(&record.kind, record.state)
    );
    let mut num = |label: &str, value: Option<u64>| {
        if let Some(value) = value {
            let _ = write!(text, ", {label} {value}");
        }
    };
    num("Recv-Q", record.recv_q);
    num("Send-Q", record.send_q);
    num("uid", record.uid.map(u64::from));
    num("cookie", record.details.cookie);
    match (listing.netns_name(row), row.netns) {
        (Some(name), Some(inode)) => {
            let _ = write!(text, ", netns {name} ({inode})");
        }
        (None, Some(inode)) => {
            let _ = write!(text, ", netns {inode}");
        }
        _ => {}
    }
    // Only sock_diag gives a cookie: a record without one was read from
    // /proc/net (--source proc, a missing *_diag module, a namespace not
    // ours to enter).
    if record.details.cookie.is_some() {
        text.push_str(" (NETLINK_SOCK_DIAG, keyed by sock_i_ino())");
    } else {
        let _ = write!(
            text,
            " (/proc/net/{}, keyed by its inode column, sock_i_ino())",
            proc_net_file(&record.kind)
        );
    }
    let create = match &record.kind {
        Kind::Unix { .. } => "unix_create()",
        Kind::Inet {
            version: IpVersion::V4,
            ..
        } => "inet_create()",
        Kind::Inet {
            version: IpVersion::V6,
            ..
        } => "inet6_create()",
    };
    let made = match path {
        Path::Socket => format!("{create} made it (pf->create in __sock_create) and set sock->sk"),
        Path::Accept if matches!(record.kind, Kind::Unix { .. }) => {
            "the peer's unix_stream_connect() made it; unix_accept() took it from the \
             listener's queue, sock_graft() tied it to the socket"
                .to_string()
        }
        Path::Accept => {
            "the handshake made it (a clone of the listener's); inet_accept() took it from the \
             accept queue, sock_graft() tied it to the socket"
                .to_string()
        }
        Path::Pair => "unix_create() made it; unix_socketpair() connected the two".to_string(),
        Path::Unknown => format!(
            "{create} made it for socket(); for accept() the peer's connect() did, and \
             sock_graft() tied it to the socket"
        ),
    };
    let mut node = Node::new(text);
    let internals = row.internals.as_deref();
    if internals.is_some_and(|i| i.tcp_info.is_some() || i.congestion.is_some()) {
        let info = table::cell(listing, row, Column::TcpInfo);
        node.leaf(format!("tcp_info: {info} (INET_DIAG_INFO, as -i shows it)"));
    }
    if internals.is_some_and(|i| i.skmem.is_some()) {
        let memory = table::cell(listing, row, Column::Skmem);
        node.leaf(format!("memory: {memory} (SK_MEMINFO, as -m shows it)"));
    }
    node.leaf(made);
    node
}

fn origin_node(one: &Explained<'_>, context: &Context) -> Node {
    let unix = one.row.proto == "unix";
    // The explained socket's own process first: a listener inherited by a
    // child (or held for an instant by a fork before its exec) is still
    // the one this process accepted on.
    let held = |inode: u64| {
        let holders = context.holders(inode);
        holders
            .iter()
            .find(|(pid, _)| one.row.owner.is_some_and(|o| o.pid == *pid))
            .or_else(|| holders.first())
    };
    let held = |inode: u64| match held(inode) {
        Some((pid, fd)) => format!("pid {pid} ({}) fd {fd}", context.command(*pid)),
        None => "held by no fd sockstat can see".to_string(),
    };
    let local = one.row.local.to_string();
    let text = match one.origin {
        Origin::Listening => "path: socket(), bind(), listen() (only listen() makes LISTEN)".into(),
        Origin::Connected { certain: true } if one.row.proto.starts_with("udp") => {
            "path: socket() then connect() (only connect() connects a UDP socket)".into()
        }
        Origin::Connected { certain: true } => {
            "path: socket() then connect() (only connect() sends a SYN)".into()
        }
        Origin::Connected { certain: false } if unix => {
            "path: probably socket() then connect(): no name of its own, and its peer has one \
             (an accepted socket carries its listener's name)"
                .into()
        }
        Origin::Connected { certain: false } => format!(
            "path: probably socket() then connect(): nothing listens on {local} (or its \
             listener has closed since accept())"
        ),
        Origin::Unconnected { bound: true } => {
            "path: socket(), then bind(); not connected, or its connection is over".into()
        }
        Origin::BoundOrSent => "path: socket(), then bind(), or a sendto() (or a connect() \
                                undone since) that bound it to an ephemeral port \
                                (inet_autobind); not connected"
            .into(),
        Origin::Unconnected { bound: false } => {
            "path: socket(); not bound or connected, or its connection is over".into()
        }
        Origin::Accepted { listener } => {
            let at = context.record(listener).map(local_of).unwrap_or_default();
            format!(
                "path: probably accept() on socket:[{listener}], listening on {at} ({})",
                held(listener)
            )
        }
        Origin::Pair { peer } => format!(
            "path: probably socketpair(): no name, and none on its peer socket:[{peer}] ({})",
            held(peer)
        ),
        Origin::Unknown => match (one.record, &one.fd) {
            (None, Some(Ok(info))) => unlisted_path(info.proto_name.as_deref()).into(),
            _ => "path: socket() and connect(), or accept(): nothing user space can see \
                  tells which"
                .into(),
        },
    };
    let mut node = Node::new(text);
    let calls = explain::calls(&one.origin, unix);
    if !calls.is_empty() {
        node.leaf(calls.join(" -> "));
    }
    if !explain::certain(&one.origin) {
        node.leaf(
            "\"probably\": the kernel keeps no record of the call; this is read from the state \
             and the sockets around it",
        );
    }
    node
}

fn holders_node(one: &Explained<'_>, context: &Context) -> Node {
    let sharers = &one.sharers;
    if sharers.len() <= 1 {
        return Node::new("held by this fd only");
    }
    let mut pids: Vec<u32> = sharers.iter().map(|s| s.pid).collect();
    pids.dedup();
    let mut node = Node::new(format!(
        "held by {} fds in {} processes, all one struct file (a socket has one: sock->file)",
        sharers.len(),
        pids.len()
    ));
    for sharer in sharers.iter().take(HOLDERS_SHOWN) {
        let mut text = format!(
            "pid {} ({}) fd {}",
            sharer.pid,
            context.command(sharer.pid),
            sharer.fd
        );
        if one
            .row
            .owner
            .is_some_and(|o| (o.pid, o.fd) == (sharer.pid, sharer.fd))
        {
            text.push_str(": this fd");
        }
        match sharer.close_on_exec {
            Some(true) => text.push_str(", close-on-exec"),
            Some(false) => text.push_str(", no close-on-exec"),
            None => {}
        }
        node.leaf(text);
    }
    if sharers.len() > HOLDERS_SHOWN {
        node.leaf(format!("… and {} more", sharers.len() - HOLDERS_SHOWN));
    }
    node.leaf(
        "fork() copies the fd table, dup() and SCM_RIGHTS add fds for the same file: its \
         O_NONBLOCK is shared, close-on-exec is each fd's own",
    );
    node
}

/// The `/proc/net` file that lists a socket of `kind`.
fn proc_net_file(kind: &Kind) -> &'static str {
    use super::record::InetProto;
    match kind {
        Kind::Inet {
            proto: InetProto::Tcp,
            version: IpVersion::V4,
            ..
        } => "tcp",
        Kind::Inet {
            proto: InetProto::Tcp,
            version: IpVersion::V6,
            ..
        } => "tcp6",
        Kind::Inet {
            proto: InetProto::Udp,
            version: IpVersion::V4,
            ..
        } => "udp",
        Kind::Inet {
            proto: InetProto::Udp,
            version: IpVersion::V6,
            ..
        } => "udp6",
        Kind::Unix { .. } => "unix",
    }
}

/// A socket's local address as the table shows it.
fn local_of(record: &SockRecord) -> String {
    match &record.kind {
        Kind::Inet { local, .. } => super::rows::endpoint(local),
        Kind::Unix {
            name: Some(name), ..
        } => crate::escape::field(name),
        Kind::Unix { name: None, .. } => "*".to_string(),
    }
}

/// What is left of a socket listed with inode 0, by its state: only
/// TIME_WAIT and a handshake in progress are the small socks; a full one
/// waits in an accept queue or outlives its close().
fn no_inode(state: Option<&str>) -> &'static str {
    match state {
        Some("TIME_WAIT") => {
            "no fd, no file, no inode: closed; the kernel keeps only a small timewait sock \
             (struct inet_timewait_sock) until its timer ends"
        }
        Some("SYN_RECV" | "NEW_SYN_RECV") => {
            "no fd, no file, no inode: a handshake in progress; the kernel keeps only a \
             small request sock (struct request_sock) until it completes"
        }
        _ => {
            "no fd, no file, no inode, but a whole struct sock: waiting in a listener's \
             accept queue (the handshake made it, no accept() has taken it yet), or \
             orphaned by close() while its connection ends (sock_orphan)"
        }
    }
}

/// The path of a socket no table described: most such sockets were never
/// connected at all, so "connect() or accept()" would claim too much.
fn unlisted_path(proto_name: Option<&[u8]>) -> &'static str {
    match proto_name {
        Some(b"TCP" | b"TCPv6") => {
            "path: socket(), never bound (or, before Linux 6.3, only bound); or a connection \
             aborted since, which socket() and connect() or accept() made: nothing user space \
             can see tells which"
        }
        Some(b"UDP" | b"UDPv6") => {
            "path: socket(), never bound or connected (either puts a UDP socket in the table)"
        }
        _ => {
            "path: socket(), or accept() for a kind that has it: nothing user space can see \
              tells which"
        }
    }
}

/// The `struct sock` node of a socket no table described, from the name
/// of its file.
fn unlisted(proto_name: Option<&[u8]>) -> String {
    match proto_name {
        Some(b"TCP" | b"TCPv6" | b"UDP" | b"UDPv6") => "struct sock: in no table: sock_diag and \
            /proc/net list the sockets in the kernel's lookup tables, and one never bound (a \
            TCP one only bound, before Linux 6.3), or whose connection was aborted, is in none \
            (state CLOSE)"
            .to_string(),
        Some(name) => format!(
            "struct sock: a \"{}\" socket: sockstat reads no table of its kind",
            crate::escape::field(name)
        ),
        None => "struct sock: no table describes it".to_string(),
    }
}
