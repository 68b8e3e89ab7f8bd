//! `--kill`: ends each selected TCP socket, for harnesses that must cut a
//! live connection (a reconnect test) without touching the program that
//! holds it.
//!
//! First the kernel's own abort, `SOCK_DESTROY` (`tcp_abort`: a RST to the
//! peer, `ECONNABORTED` for the holder), naming the socket by the id and
//! cookie its dump gave. Where that is not there or not allowed (a kernel
//! built without `CONFIG_INET_DIAG_DESTROY` says `EOPNOTSUPP`; without
//! `CAP_NET_ADMIN` it is `EPERM`), a copy of a holder's fd
//! (`pidfd_getfd`, which needs ptrace rights over the holder) is
//! `shutdown(SHUT_RDWR)`: the peer sees EOF, the holder's reads end.

use super::index::NumberMap;
use super::netlink::Diag;
use super::options::ProtoSet;
use super::procfs::Walk;
use super::record::{SockRecord, state};
use super::rows::{Listing, Row, Shown};
use super::{Options, Source, json, table};
use crate::error::{Error, Result};
use crate::exit::Exit;
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use serde_json::Value;

/// How a socket was ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// By `SOCK_DESTROY`.
    Destroyed,
    /// By `shutdown(SHUT_RDWR)` on a `pidfd_getfd` copy of a holder's fd.
    ShutDown,
}

impl Ended {
    /// Its name in JSON's `ended_by`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Destroyed => "SOCK_DESTROY",
            Self::ShutDown => "shutdown",
        }
    }
}

/// Why a socket was not ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotEnded {
    /// It closed before it could be ended: nothing to do, nothing failed.
    Gone,
    /// The kernel refused (the errno of the last way tried).
    Failed(Errno),
}

/// Checks the flags `--kill` is given with.
///
/// # Errors
/// [`Error::Usage`] with no filter at all (`--kill` alone would end every
/// TCP connection of the host), with `--source proc` (a socket is named to
/// the kernel by the cookie only netlink gives), or with flags that can
/// select no TCP socket.
pub fn check(opts: &Options) -> Result<()> {
    let filtered = opts.ipv4
        || opts.ipv6
        || opts.unix
        || opts.connected
        || opts.listening
        || opts.ports.is_some()
        || opts.protos.is_some()
        || opts.pids.is_some()
        || opts.comm.is_some()
        || opts.inode.is_some();
    if !filtered {
        return Err(Error::Usage(
            "--kill needs a filter (-p, -c, -l, --pid, --comm, --inode, -4, -6, -P): it does \
             not end every TCP socket of the host"
                .to_string(),
        ));
    }
    if opts.source == Source::Proc {
        return Err(Error::Usage(
            "--kill cannot go with --source proc: a socket is named to the kernel by the \
             cookie only netlink gives"
                .to_string(),
        ));
    }
    let no_tcp = opts.protos.is_some_and(|p| !p.tcp) || (opts.unix && !opts.ipv4 && !opts.ipv6);
    if no_tcp {
        return Err(Error::Usage(
            "--kill ends TCP sockets only, and these flags select none".to_string(),
        ));
    }
    Ok(())
}

/// The options the listing runs with under `--kill`: TCP only, and, as
/// with `-a`, sockets no visible fd holds too (another user's, orphans):
/// the kernel ends a socket by its id, whoever holds it.
///
/// # Errors
/// As [`check`].
pub fn selection(opts: &Options) -> Result<Options> {
    check(opts)?;
    Ok(Options {
        protos: Some(ProtoSet {
            tcp: true,
            udp: false,
            unix: false,
        }),
        all: true,
        ..opts.clone()
    })
}

/// Whether a row of the `--kill` listing is one the user selected: a TCP
/// socket, not in TIME_WAIT (unless `-a`: as `ss -K`, lingering closed
/// connections are left alone otherwise), and held by a selected process
/// when `--pid` or `--comm` selected processes.
fn selected(user: &Options, row: &Row, record: Option<&SockRecord>) -> bool {
    let lingering =
        record.is_some_and(|r| r.state == state::TIME_WAIT || r.state == state::NEW_SYN_RECV);
    let by_process = user.pids.is_some() || user.comm.is_some();
    row.proto.starts_with("tcp") && (user.all || !lingering) && (!by_process || row.owner.is_some())
}

/// Ends every socket of `listing` the user selected, prints the rows of
/// those it ended (as the table or JSON would show them, JSON with
/// `ended_by`), and one error line for each it could not end.
///
/// # Errors
/// [`Error::Reported`] with the exit code of the first failure (77 for
/// `EPERM`/`EACCES`, 71 otherwise), its line already printed; a stdout
/// that cannot be written.
pub fn run(
    user: &Options,
    walk: &Walk,
    records: &[SockRecord],
    listing: Listing,
    shown: Shown,
) -> Result<()> {
    let mut by_inode: NumberMap<u64, &SockRecord> = NumberMap::default();
    for record in records.iter().filter(|r| r.inode != 0) {
        by_inode.insert(record.inode, record);
    }
    let record_of = |row: &Row| {
        if row.inode != 0 {
            return by_inode.get(&row.inode).copied();
        }
        // No inode (TIME_WAIT): the addresses name it.
        records.iter().find(|r| {
            r.inode == 0
                && matches!(&r.kind, super::record::Kind::Inet { local, remote, .. }
                    if row.local == super::rows::Addr::Inet(*local)
                        && row.foreign == super::rows::Addr::Inet(*remote))
        })
    };
    let mut holders: NumberMap<u64, Vec<(u32, u32)>> = NumberMap::default();
    for h in &walk.holders {
        holders.entry(h.inode).or_default().push((h.pid, h.fd));
    }
    let mut diag = match Diag::open() {
        Ok(diag) => Some(diag),
        Err(err) => {
            log::info!("{err}; shutting sockets down through their holders instead");
            None
        }
    };
    let Listing {
        processes,
        rows,
        netns_names,
    } = listing;
    let mut outcome: NumberMap<u64, core::result::Result<Ended, NotEnded>> = NumberMap::default();
    let mut ended = Vec::new();
    let mut first_failure = None;
    for row in rows {
        let record = record_of(&row);
        if !selected(user, &row, record) {
            continue;
        }
        // One socket, however many fds hold it: ended once, every row shown.
        let key = if row.inode != 0 {
            row.inode
        } else {
            record.and_then(|r| r.details.cookie).unwrap_or(0)
        };
        let result = match outcome.get(&key) {
            Some(done) if key != 0 => *done,
            _ => {
                let held = holders.get(&row.inode).map_or(&[][..], Vec::as_slice);
                let result = end(diag.as_mut(), record, row.inode, held);
                outcome.insert(key, result);
                if let Err(NotEnded::Failed(errno)) = result {
                    let err = Error::on("kill", describe(&row), errno);
                    crate::io::write_stderr(&format!("sockstat: {err}\n"));
                    first_failure.get_or_insert(errno);
                }
                result
            }
        };
        match result {
            Ok(how) => ended.push((row, how)),
            Err(NotEnded::Gone) => {
                log::info!("socket:[{}] closed before it could be ended", row.inode);
            }
            Err(NotEnded::Failed(_)) => {}
        }
    }
    let listing = Listing {
        processes,
        rows: ended.iter().map(|(row, _)| row.clone()).collect(),
        netns_names,
    };
    let text = if user.json {
        let mut out = String::from("[");
        for (i, (row, how)) in ended.iter().enumerate() {
            let mut object = json::object(&listing, row, shown);
            if let Value::Object(map) = &mut object {
                map.insert("ended_by".into(), Value::from(how.name()));
            }
            out.push_str(if i == 0 { "\n" } else { ",\n" });
            out.push_str(&object.to_string());
        }
        out.push_str(if ended.is_empty() { "]\n" } else { "\n]\n" });
        out
    } else {
        table::render(&listing, shown, user.no_header)
    };
    crate::io::write_stdout(text.as_bytes())?;
    match first_failure {
        None => Ok(()),
        Some(errno) => {
            if matches!(errno, Errno::PERM | Errno::ACCESS) {
                crate::io::write_stderr(
                    "hint: SOCK_DESTROY needs CAP_NET_ADMIN; without it a socket is shut down \
                     through a holder you may ptrace (your own processes)\n",
                );
            }
            Err(Error::Reported(Exit::from_errno(errno)))
        }
    }
}

/// `tcp4 127.0.0.1:5000 127.0.0.1:80 socket:[INODE]`, for an error line.
fn describe(row: &Row) -> String {
    format!(
        "{} {} {} socket:[{}]",
        row.proto, row.local, row.foreign, row.inode
    )
}

/// Ends one socket: `SOCK_DESTROY` if the kernel will, else a holder's
/// copy shut down.
fn end(
    diag: Option<&mut Diag>,
    record: Option<&SockRecord>,
    inode: u64,
    holders: &[(u32, u32)],
) -> core::result::Result<Ended, NotEnded> {
    let destroyed = match (diag, record) {
        (Some(diag), Some(record)) if record.details.cookie.is_some() => diag.destroy(record),
        // No netlink socket, or a record from /proc/net: no id to name.
        _ => Err(Errno::OPNOTSUPP),
    };
    let refused = match destroyed {
        Ok(()) => return Ok(Ended::Destroyed),
        // ENOENT: gone, or the lookup found another socket of a
        // SO_REUSEPORT group (the cookie differed): a holder can tell.
        Err(errno @ (Errno::OPNOTSUPP | Errno::PERM | Errno::ACCESS | Errno::NOENT)) => errno,
        Err(errno) => return Err(NotEnded::Failed(errno)),
    };
    log::debug!("SOCK_DESTROY socket:[{inode}]: {refused:?}; trying its holders");
    match shut_down_copy(inode, record.and_then(|r| r.details.cookie), holders) {
        Ok(()) => Ok(Ended::ShutDown),
        Err(NotEnded::Gone) if refused == Errno::NOENT => Err(NotEnded::Gone),
        Err(NotEnded::Gone) => Err(NotEnded::Failed(refused)),
        Err(failed) => Err(failed),
    }
}

/// `pidfd_open` + `pidfd_getfd` of the first holder that lets us, checked
/// to be socket `inode` (and `cookie`) still, then `shutdown(SHUT_RDWR)`;
/// the copy is closed on return.
///
/// # Errors
/// [`NotEnded::Gone`] when no holder has it any more;
/// [`NotEnded::Failed`] with `EPERM` when holders exist but none may be
/// ptraced, or the errno of `shutdown`.
///
/// # References
///  - [pidfd_getfd(2)]
///
/// [pidfd_getfd(2)]: https://man7.org/linux/man-pages/man2/pidfd_getfd.2.html
fn shut_down_copy(
    inode: u64,
    cookie: Option<u64>,
    holders: &[(u32, u32)],
) -> core::result::Result<(), NotEnded> {
    let mut refused = None;
    for &(pid, fd) in holders {
        match copy_of(pid, fd, inode, cookie) {
            Ok(Some(copy)) => {
                return rustix::net::shutdown(&copy, rustix::net::Shutdown::Both)
                    .map_err(NotEnded::Failed);
            }
            Ok(None) => {}
            Err(errno) => {
                log::debug!("pidfd_getfd pid {pid} fd {fd}: {errno:?}");
                refused.get_or_insert(errno);
            }
        }
    }
    match refused {
        Some(errno) => Err(NotEnded::Failed(errno)),
        None => Err(NotEnded::Gone),
    }
}

/// The holder's fd copied into this process, if it is still the socket;
/// `Ok(None)` when the process or fd is gone or holds something else now.
fn copy_of(
    pid: u32,
    fd: u32,
    inode: u64,
    cookie: Option<u64>,
) -> core::result::Result<Option<OwnedFd>, Errno> {
    let (Some(pid), Ok(target)) = (
        i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw),
        i32::try_from(fd),
    ) else {
        return Ok(None);
    };
    let gone = |errno| match errno {
        Errno::SRCH | Errno::BADF | Errno::NOENT => Ok(None),
        other => Err(other),
    };
    let pidfd = match rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) {
        Ok(pidfd) => pidfd,
        Err(errno) => return gone(errno),
    };
    let copy = match rustix::process::pidfd_getfd(
        &pidfd,
        target,
        rustix::process::PidfdGetfdFlags::empty(),
    ) {
        Ok(copy) => copy,
        Err(errno) => return gone(errno),
    };
    let same_inode = rustix::fs::fstat(&copy).is_ok_and(|st| st.st_ino == inode);
    let same_sock = cookie.is_none_or(|cookie| {
        rustix::net::sockopt::socket_cookie(copy.as_fd()).is_ok_and(|got| got == cookie)
    });
    Ok((same_inode && same_sock).then_some(copy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_needs_a_filter_netlink_and_tcp() {
        let usage = |opts: &Options| matches!(check(opts), Err(Error::Usage(_)));
        assert!(usage(&Options::default()));
        assert!(usage(&Options {
            all: true,
            json: true,
            extended: true,
            ..Options::default()
        }));
        let by_port = Options {
            ports: super::super::options::parse_ports("80").ok(),
            ..Options::default()
        };
        assert!(check(&by_port).is_ok());
        assert!(usage(&Options {
            source: Source::Proc,
            ..by_port.clone()
        }));
        assert!(usage(&Options {
            unix: true,
            ..Options::default()
        }));
        assert!(
            check(&Options {
                unix: true,
                ipv4: true,
                ..Options::default()
            })
            .is_ok()
        );
        assert!(usage(&Options {
            protos: super::super::options::parse_protos("udp,unix").ok(),
            ..Options::default()
        }));
        let narrowed = selection(&Options {
            protos: super::super::options::parse_protos("tcp,udp").ok(),
            ..Options::default()
        });
        let narrowed = narrowed.unwrap_or_default();
        assert!(narrowed.all);
        assert_eq!(
            narrowed.protos,
            Some(ProtoSet {
                tcp: true,
                udp: false,
                unix: false
            })
        );
    }

    #[test]
    fn failures_map_to_their_exit_codes() {
        assert_eq!(Exit::from_errno(Errno::PERM), Exit::NoPermission);
        assert_eq!(Exit::from_errno(Errno::ACCESS), Exit::NoPermission);
        assert_eq!(Exit::from_errno(Errno::OPNOTSUPP), Exit::OsError);
        assert_eq!(Exit::from_errno(Errno::NOENT), Exit::OsError);
    }

    #[test]
    fn without_netlink_or_a_holder_nothing_is_ended() {
        // No diag socket and no holder: the kernel was never asked, and
        // EOPNOTSUPP is what stands.
        assert_eq!(
            end(None, None, 1, &[]),
            Err(NotEnded::Failed(Errno::OPNOTSUPP))
        );
        // A holder that does not exist is no holder.
        assert_eq!(
            end(None, None, 1, &[(u32::MAX, 3)]),
            Err(NotEnded::Failed(Errno::OPNOTSUPP))
        );
    }

    #[test]
    fn a_copy_of_our_own_socket_is_shut_down() {
        let (a, b) = rustix::net::socketpair(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::STREAM,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .unwrap_or_else(|e| panic!("socketpair: {e}"));
        let pid = rustix::process::getpid()
            .as_raw_nonzero()
            .get()
            .unsigned_abs();
        let fd = rustix::fd::AsRawFd::as_raw_fd(&a).unsigned_abs();
        let inode = rustix::fs::fstat(&a).map_or(0, |st| st.st_ino);
        // Another inode at that fd: not ours to shut.
        assert_eq!(
            shut_down_copy(inode + 1, None, &[(pid, fd)]),
            Err(NotEnded::Gone)
        );
        assert_eq!(shut_down_copy(inode, None, &[(pid, fd)]), Ok(()));
        let mut buf = [0u8; 1];
        assert_eq!(crate::io::recv_some(&b, &mut buf), Ok(0), "EOF at the peer");
    }
}
