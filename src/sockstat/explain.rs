//! `--explain`: for each selected socket, the lesson's chain from the fd to
//! the kernel's `struct sock`, link by link, each with what user space can
//! read of it and the kernel function that made it.
//!
//! The lesson walks `socket()` → `sock_create` → `sock_alloc` (the inode
//! and its `struct socket`) → `sock_map_fd` → `sock_alloc_file` (the
//! `struct file`) → `fd_install` (the fd); `accept()` makes its socket
//! with its own `sock_alloc` and `sock_alloc_file`. Here the chain is read
//! back the other way, as `sockfd_lookup_light` follows it: the fd
//! (`/proc/PID/fd/N`), its file (`/proc/PID/fdinfo/N`), the inode on
//! sockfs (`stat`), the socket's protocol name (`getxattr`), the sock's
//! record (`NETLINK_SOCK_DIAG`), and every other fd that holds the inode.
//! [`explain_text`](super::explain_text) draws it as a tree, [`object`]
//! as JSON.

use super::fdinfo::{self, FdInfo, Unreadable};
use super::filter::Filter;
use super::index::NumberMap;
use super::origin::{self, Around, Origin};
use super::procfs::{Selection, Walk};
use super::record::SockRecord;
use super::rows::{Listing, Row, Shown};
use super::{Options, gather, json, records};
use crate::error::Result;
use serde_json::{Value, json};

/// At most this many holders of one inode are shown in the tree and have
/// their fdinfo read (a listener shared by a thousand pre-forked workers
/// would otherwise read a thousand files); JSON lists them all.
pub const HOLDERS_SHOWN: usize = 32;

/// The options the listing runs with under `--explain`: queues, socket
/// uids, TCP internals and memory are all part of the `struct sock` link,
/// so `-e`, `-i` and `-m`'s records are read.
pub fn selection(opts: &Options) -> Options {
    Options {
        extended: true,
        internals: true,
        memory: true,
        ..opts.clone()
    }
}

/// What a row shows under `--explain`: everything.
pub const SHOWN: Shown = Shown {
    extended: true,
    internals: true,
    memory: true,
};

/// Every socket and every holder sockstat can see, not only the selected
/// ones: an inode's other holders, a connection's listener and a unix
/// socket's peer are context however narrow the selection.
pub struct Context {
    records: Vec<SockRecord>,
    by_inode: NumberMap<u64, usize>,
    holders: NumberMap<u64, Vec<(u32, u32)>>,
    commands: NumberMap<u32, String>,
}

impl Context {
    /// The listing's own walk and records when they cover everything,
    /// else a walk of every process and a read of every table in every
    /// network namespace.
    ///
    /// # Errors
    /// `/proc` unreadable, or no source of records at all.
    pub fn gather(
        opts: &Options,
        walk: &Walk,
        records: &[SockRecord],
        threads: usize,
    ) -> Result<Self> {
        let everything;
        let (walk, records) = if opts.narrowed() {
            let all = selection(&Options {
                source: opts.source,
                ..Options::default()
            });
            let filter = Filter::new(&all);
            let held = filter.held_only();
            let every_process = Selection {
                pids: None,
                comm: None,
                threads,
                netns: None,
                found_netns: None,
            };
            let got = gather::gather(&all, &filter, &held, every_process)?;
            let records = records::complete(got.loaded, &got.walk);
            everything = got.walk;
            (&everything, records)
        } else {
            (walk, records.to_vec())
        };
        let mut by_inode = NumberMap::default();
        for (at, record) in records.iter().enumerate() {
            if record.inode != 0 {
                by_inode.insert(record.inode, at);
            }
        }
        let mut holders: NumberMap<u64, Vec<(u32, u32)>> = NumberMap::default();
        for h in &walk.holders {
            holders.entry(h.inode).or_default().push((h.pid, h.fd));
        }
        for list in holders.values_mut() {
            list.sort_unstable();
        }
        let commands = walk
            .processes
            .iter()
            .map(|p| (p.pid, command_cell(&p.comm)))
            .collect();
        Ok(Self {
            records,
            by_inode,
            holders,
            commands,
        })
    }

    /// The record of socket `inode`.
    pub fn record(&self, inode: u64) -> Option<&SockRecord> {
        self.records.get(*self.by_inode.get(&inode)?)
    }

    /// Every visible `(pid, fd)` holding `inode`, sorted.
    pub fn holders(&self, inode: u64) -> &[(u32, u32)] {
        self.holders.get(&inode).map_or(&[], Vec::as_slice)
    }

    /// A process's command, escaped (`?` when empty or unknown).
    pub fn command(&self, pid: u32) -> &str {
        self.commands.get(&pid).map_or("?", String::as_str)
    }
}

fn command_cell(comm: &[u8]) -> String {
    if comm.is_empty() {
        "?".to_string()
    } else {
        crate::escape::field(comm)
    }
}

/// Another fd holding the same inode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sharer {
    /// Its process.
    pub pid: u32,
    /// The fd there.
    pub fd: u32,
    /// Whether that fd has close-on-exec; `None` when its fdinfo was not
    /// read (beyond [`HOLDERS_SHOWN`], or unreadable).
    pub close_on_exec: Option<bool>,
}

/// What is known of one selected socket, link by link.
pub struct Explained<'a> {
    /// The listing's row.
    pub row: &'a Row,
    /// The kernel's record of the socket.
    pub record: Option<&'a SockRecord>,
    /// The fd's file and inode; `None` for a row no visible fd holds.
    pub fd: Option<core::result::Result<FdInfo, Unreadable>>,
    /// Every visible holder of the inode, this fd among them.
    pub sharers: Vec<Sharer>,
    /// The path it most likely came by.
    pub origin: Origin,
}

impl<'a> Explained<'a> {
    /// Reads what `/proc` has about `row`'s fd, and weighs its origin.
    pub fn new(row: &'a Row, context: &'a Context, around: &Around<'_>) -> Self {
        let record = (row.inode != 0)
            .then(|| context.record(row.inode))
            .flatten();
        let fd = row
            .owner
            .map(|owner| fdinfo::read(owner.pid, owner.fd, row.inode));
        let holders = if row.inode == 0 {
            &[][..]
        } else {
            context.holders(row.inode)
        };
        let own_flags = match &fd {
            Some(Ok(info)) => Some(info.file.flags),
            _ => None,
        };
        let sharers = holders
            .iter()
            .enumerate()
            .map(|(i, &(pid, fd))| {
                let own = row.owner.is_some_and(|o| (o.pid, o.fd) == (pid, fd));
                let flags = if own {
                    own_flags
                } else if i < HOLDERS_SHOWN {
                    fdinfo::read(pid, fd, row.inode)
                        .ok()
                        .map(|info| info.file.flags)
                } else {
                    None
                };
                Sharer {
                    pid,
                    fd,
                    close_on_exec: flags.map(fdinfo::close_on_exec),
                }
            })
            .collect();
        let origin = match record {
            Some(record) => {
                let pid = row.owner.map(|o| o.pid);
                origin::infer(record, around, |inode| {
                    pid.is_some_and(|pid| context.holders(inode).iter().any(|h| h.0 == pid))
                })
            }
            None => Origin::Unknown,
        };
        Self {
            row,
            record,
            fd,
            sharers,
            origin,
        }
    }

    /// The fdinfo flags of the row's own fd, when they were read.
    pub fn flags(&self) -> Option<u32> {
        match &self.fd {
            Some(Ok(info)) => Some(info.file.flags),
            _ => None,
        }
    }
}

/// The calls of the path, in the order the kernel makes them, for JSON and
/// the tree: the lesson's names (`__sys_socket`, `__sys_accept4`).
pub fn calls(origin: &Origin, unix: bool) -> &'static [&'static str] {
    match origin {
        Origin::Accepted { .. } if unix => &[
            "accept4",
            "__sys_accept4",
            "get_unused_fd_flags",
            "sock_alloc",
            "sock_alloc_file",
            "unix_accept",
            "sock_graft",
            "fd_install",
        ],
        Origin::Accepted { .. } => &[
            "accept4",
            "__sys_accept4",
            "get_unused_fd_flags",
            "sock_alloc",
            "sock_alloc_file",
            "inet_accept",
            "sock_graft",
            "fd_install",
        ],
        // Both fds are reserved before either socket is made, so that a
        // failure cannot hand user space one fd of the two.
        Origin::Pair { .. } => &[
            "socketpair",
            "__sys_socketpair",
            "get_unused_fd_flags",
            "sock_create",
            "sock_alloc",
            "unix_create",
            "unix_socketpair",
            "sock_alloc_file",
            "fd_install",
        ],
        Origin::Unknown => &[],
        Origin::Listening
        | Origin::Connected { .. }
        | Origin::Unconnected { .. }
        | Origin::BoundOrSent => &[
            "socket",
            "__sys_socket",
            "sock_create",
            "sock_alloc",
            "pf->create",
            "sock_map_fd",
            "get_unused_fd_flags",
            "sock_alloc_file",
            "fd_install",
        ],
    }
}

/// The calls after the one that made the socket (`bind`, `listen`,
/// `connect`) that its state shows were made.
pub fn then(origin: &Origin) -> &'static [&'static str] {
    match origin {
        Origin::Listening => &["bind", "listen"],
        Origin::Connected { .. } => &["connect"],
        Origin::Unconnected { bound: true } => &["bind"],
        _ => &[],
    }
}

/// The path's name in JSON: the call that made the socket, if known.
pub fn path_name(origin: &Origin) -> Option<&'static str> {
    match origin {
        Origin::Listening
        | Origin::Connected { .. }
        | Origin::Unconnected { .. }
        | Origin::BoundOrSent => Some("socket"),
        Origin::Accepted { .. } => Some("accept"),
        Origin::Pair { .. } => Some("socketpair"),
        Origin::Unknown => None,
    }
}

/// Whether the path is settled by the state alone (`LISTEN`, `SYN_SENT`, a
/// connected UDP socket, a socket never connected), not a "probably".
pub fn certain(origin: &Origin) -> bool {
    matches!(
        origin,
        Origin::Listening | Origin::Connected { certain: true } | Origin::Unconnected { .. }
    )
}

/// `SOCK_STREAM`, `SOCK_DGRAM`, … for a kernel `sk_type`.
pub fn type_name(sock_type: u32) -> Option<&'static str> {
    use rustix::net::SocketType;
    [
        (SocketType::STREAM, "SOCK_STREAM"),
        (SocketType::DGRAM, "SOCK_DGRAM"),
        (SocketType::SEQPACKET, "SOCK_SEQPACKET"),
        (SocketType::RAW, "SOCK_RAW"),
        (SocketType::RDM, "SOCK_RDM"),
    ]
    .into_iter()
    .find(|(ty, _)| ty.as_raw() == sock_type)
    .map(|(_, name)| name)
}

/// `srwxrwxrwx` for an `st_mode`.
pub fn mode_text(mode: u32) -> String {
    let kind = match mode & 0o170000 {
        0o140000 => 's',
        0o010000 => 'p',
        0o100000 => '-',
        _ => '?',
    };
    let mut out = String::with_capacity(10);
    out.push(kind);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        out.push(if bits & 4 != 0 { 'r' } else { '-' });
        out.push(if bits & 2 != 0 { 'w' } else { '-' });
        out.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    out
}

/// One row and its chain as a JSON object: the row's fields, plus
/// `explain` (see `docs/sockstat.md`).
pub fn object(listing: &Listing, explained: &Explained<'_>, context: &Context) -> Value {
    let mut value = json::object(listing, explained.row, SHOWN);
    let unix = explained.row.proto == "unix";
    let fd_value = match (&explained.row.owner, &explained.fd) {
        (Some(owner), Some(Ok(info))) => json!({
            "number": owner.fd,
            "close_on_exec": fdinfo::close_on_exec(info.file.flags),
        }),
        (Some(owner), Some(Err(_))) => json!({ "number": owner.fd, "close_on_exec": null }),
        _ => Value::Null,
    };
    let (file, inode) = match &explained.fd {
        Some(Ok(info)) => {
            let file_flags = info.file.flags & !rustix::fs::OFlags::CLOEXEC.bits();
            let (names, rest) = fdinfo::flag_names(file_flags);
            (
                json!({
                    "flags": names,
                    "other_flags": rest,
                    "fdinfo_flags": format!("0{:o}", info.file.flags),
                    "pos": info.file.pos,
                    "mnt_id": info.file.mnt_id,
                    "scm_fds": info.file.scm_fds,
                }),
                json!({
                    "number": info.inode.ino,
                    "dev": format!("{}:{}", info.inode.dev_major, info.inode.dev_minor),
                    "mode": format!("0{:o}", info.inode.mode),
                    "uid": info.inode.uid,
                }),
            )
        }
        _ => (
            Value::Null,
            if explained.row.inode == 0 {
                Value::Null
            } else {
                json!({ "number": explained.row.inode, "dev": null, "mode": null, "uid": null })
            },
        ),
    };
    let proto_name = match &explained.fd {
        Some(Ok(info)) => info
            .proto_name
            .as_deref()
            .map_or(Value::Null, |n| Value::from(crate::escape::field(n))),
        _ => Value::Null,
    };
    let record = explained.record;
    let socket = json!({
        "type": record.and_then(|r| r.details.sock_type).and_then(type_name),
        "protocol_name": proto_name,
    });
    let sock = match record {
        Some(r) => json!({
            "state": explained.row.state,
            "recv_q": r.recv_q,
            "send_q": r.send_q,
            "uid": r.uid,
            "cookie": r.details.cookie,
        }),
        None => Value::Null,
    };
    let (listener, peer) = match explained.origin {
        Origin::Accepted { listener } => (Some(listener), None),
        Origin::Pair { peer } => (None, Some(peer)),
        _ => (None, None),
    };
    let held = |inode: u64| {
        let holders: Vec<Value> = context
            .holders(inode)
            .iter()
            .map(|&(pid, fd)| json!({ "pid": pid, "fd": fd }))
            .collect();
        json!({ "inode": inode, "holders": holders })
    };
    let origin = json!({
        "call": path_name(&explained.origin),
        "certain": certain(&explained.origin),
        "then": then(&explained.origin),
        "kernel": calls(&explained.origin, unix),
        "listener": listener.map_or(Value::Null, held),
        "peer": peer.map_or(Value::Null, held),
    });
    let holders: Vec<Value> = explained
        .sharers
        .iter()
        .map(|s| {
            json!({
                "pid": s.pid,
                "fd": s.fd,
                "command": context.command(s.pid),
                "close_on_exec": s.close_on_exec,
            })
        })
        .collect();
    let unreadable = match &explained.fd {
        Some(Err(Unreadable::Gone)) => Value::from("gone"),
        Some(Err(Unreadable::Denied(errno))) => Value::from(crate::error::describe_errno(*errno)),
        _ => Value::Null,
    };
    if let Value::Object(map) = &mut value {
        map.insert(
            "explain".into(),
            json!({
                "fd": fd_value,
                "file": file,
                "inode": inode,
                "socket": socket,
                "sock": sock,
                "origin": origin,
                "holders": holders,
                "unreadable": unreadable,
            }),
        );
    }
    value
}

/// Output is written in pieces of about this size: a tree per socket of a
/// listing of tens of thousands is megabytes, and a reader that stops
/// (`| head`) should stop the work too.
const FLUSH_AT: usize = 64 * 1024;

/// Prints the selected rows explained on stdout: the trees, or with
/// `--json` an array of objects. Each row is read (fdinfo, stat, xattr)
/// only when its turn comes.
///
/// # Errors
/// As [`Context::gather`]; stdout failing ([`crate::Error::StdoutClosed`]
/// for a reader that went away).
pub fn print(
    opts: &Options,
    walk: &Walk,
    records: &[SockRecord],
    listing: &Listing,
    threads: usize,
) -> Result<()> {
    let context = Context::gather(opts, walk, records, threads)?;
    let around = Around::new(&context.records);
    let mut out = String::with_capacity(FLUSH_AT * 2);
    if opts.json {
        out.push('[');
    }
    for (i, row) in listing.rows.iter().enumerate() {
        let one = Explained::new(row, &context, &around);
        if opts.json {
            out.push_str(if i == 0 { "\n" } else { ",\n" });
            out.push_str(&object(listing, &one, &context).to_string());
        } else {
            if i > 0 {
                out.push('\n');
            }
            super::explain_text::render(&mut out, listing, &one, &context);
        }
        if out.len() >= FLUSH_AT {
            crate::io::write_stdout(out.as_bytes())?;
            out.clear();
        }
    }
    if opts.json {
        out.push_str(if listing.rows.is_empty() {
            "]\n"
        } else {
            "\n]\n"
        });
    }
    crate::io::write_stdout(out.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_types_by_name() {
        assert_eq!(mode_text(0o140777), "srwxrwxrwx");
        assert_eq!(mode_text(0o140750), "srwxr-x---");
        assert_eq!(
            type_name(rustix::net::SocketType::DGRAM.as_raw()),
            Some("SOCK_DGRAM")
        );
        assert_eq!(type_name(999), None);
    }

    #[test]
    fn each_path_names_its_calls() {
        let accepted = Origin::Accepted { listener: 1 };
        assert!(calls(&accepted, false).contains(&"inet_accept"));
        assert!(calls(&accepted, true).contains(&"unix_accept"));
        assert_eq!(path_name(&accepted), Some("accept"));
        assert!(!certain(&accepted));
        assert_eq!(then(&Origin::Listening), ["bind", "listen"]);
        assert!(certain(&Origin::Listening));
        assert_eq!(path_name(&Origin::Unknown), None);
        let pair = calls(&Origin::Pair { peer: 2 }, true);
        assert!(pair.contains(&"unix_socketpair"));
        // The kernel's order: __sys_socketpair reserves the fds first.
        let at = |name: &str| pair.iter().position(|c| *c == name);
        assert!(at("get_unused_fd_flags") < at("sock_create"), "{pair:?}");
        for path in [accepted, Origin::Listening, Origin::Pair { peer: 2 }] {
            let calls = calls(&path, false);
            let at = |name: &str| calls.iter().position(|c| *c == name);
            assert!(
                at("get_unused_fd_flags") < at("sock_alloc_file"),
                "{calls:?}"
            );
            assert!(at("sock_alloc_file") < at("fd_install"), "{calls:?}");
        }
        assert!(calls(&Origin::Connected { certain: false }, false).contains(&"sock_map_fd"));
    }
}
