//! How one socket is ended: `SOCK_DESTROY` sent in the socket's own
//! network namespace (`tcp_abort`: a RST to the peer, `ECONNABORTED` for the
//! holder), naming it by the id and cookie its dump gave; where that is not
//! there or not allowed (`EOPNOTSUPP` from a kernel built without
//! `CONFIG_INET_DIAG_DESTROY`, `EPERM` without `CAP_NET_ADMIN`), a copy of a
//! holder's fd (`pidfd_getfd`, which needs ptrace rights over the holder) is
//! `shutdown(SHUT_RDWR)`: the peer sees EOF, the holder's reads end.

use super::index::NumberMap;
use super::netlink::Diag;
use super::netns;
use super::procfs::Walk;
use super::record::SockRecord;
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;

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

/// A sock_diag socket per network namespace, each made inside its
/// namespace when first needed (a socket's namespace is the one its netlink
/// request must come from), and how it went.
pub struct Diags<'a> {
    walk: &'a Walk,
    own: Option<(u64, u64)>,
    listed: Option<&'a netns::Choice>,
    open: NumberMap<u64, core::result::Result<Diag, Errno>>,
}

impl<'a> Diags<'a> {
    /// None open yet; `walk`'s processes lead into other namespaces, and
    /// so does `listed` (`--netns`), which may have no process in it.
    pub fn new(walk: &'a Walk, listed: Option<&'a netns::Choice>) -> Self {
        Self {
            walk,
            own: netns::own().ok(),
            listed,
            open: NumberMap::default(),
        }
    }

    /// The sock_diag socket of namespace `netns` (`None`: ours).
    ///
    /// # Errors
    /// The errno of `socket`, of opening the namespace through a process
    /// in it, or of `setns` (`EPERM` when not root); `ESRCH` when no
    /// visible process is in it to enter it through and neither `--netns`
    /// nor `/run/netns` names it.
    fn of(&mut self, netns: Option<u64>) -> core::result::Result<&mut Diag, Errno> {
        let own = self.own.map(|(_, inode)| inode);
        let key = netns.or(own).unwrap_or(0);
        let (nsfs, walk, listed) = (self.own.map(|(nsfs, _)| nsfs), self.walk, self.listed);
        let opened = self.open.entry(key).or_insert_with(|| {
            let made = if netns.is_none() || netns == own {
                Diag::open()
            } else {
                let through_process = enter_path(walk, key).and_then(|ns| {
                    crate::io::open_at(rustix::fs::CWD, &ns, rustix::fs::OFlags::RDONLY)
                });
                // A namespace with no process left in it (its sockets
                // lingering in TIME_WAIT or orphaned), or whose process
                // exited since the walk, is still reached by its name.
                let fd = match through_process {
                    Ok(fd) => fd,
                    Err(errno) => by_name(nsfs, listed, key).ok_or(errno)?,
                };
                netns::enter(fd, Diag::open)?
            };
            made.map_err(|err| {
                log::info!("{err}; shutting sockets down through their holders instead");
                err.errno().unwrap_or(Errno::OPNOTSUPP)
            })
        });
        opened.as_mut().map_err(|errno| *errno)
    }
}

/// Namespace `netns` opened through the name or path `--netns` gave, or
/// its name in `/run/netns`.
fn by_name(nsfs: Option<u64>, listed: Option<&netns::Choice>, netns: u64) -> Option<OwnedFd> {
    let nsfs = nsfs?;
    let opened = |choice: &netns::Choice| {
        netns::resolve(choice, nsfs)
            .ok()
            .filter(|target| target.inode == netns)
            .and_then(|target| target.fd)
    };
    listed
        .and_then(opened)
        .or_else(|| opened(&netns::Choice::Inode(netns)))
}

/// `/proc/PID/ns/net` of a walked process in namespace `netns`.
fn enter_path(walk: &Walk, netns: u64) -> core::result::Result<std::ffi::CString, Errno> {
    let pid = walk
        .processes
        .iter()
        .find(|p| p.netns == Some(netns))
        .map(|p| p.pid)
        .ok_or(Errno::SRCH)?;
    std::ffi::CString::new(format!("/proc/{pid}/ns/net")).map_err(|_| Errno::INVAL)
}

/// Ends one socket: `SOCK_DESTROY` in its namespace if the kernel will,
/// else a holder's copy shut down.
pub fn end(
    diags: Option<&mut Diags<'_>>,
    record: Option<&SockRecord>,
    inode: u64,
    holders: &[(u32, u32)],
) -> core::result::Result<Ended, NotEnded> {
    let destroyed = match (diags, record) {
        (Some(diags), Some(record)) if record.details.cookie.is_some() => diags
            .of(record.details.netns)
            .and_then(|diag| diag.destroy(record)),
        // A record from /proc/net: no id to name it by.
        _ => Err(Errno::OPNOTSUPP),
    };
    // Whatever stopped it (no such kernel support, no privilege, no way
    // into its namespace, ENOENT from a lookup that found another socket of
    // a SO_REUSEPORT group), a holder may still be reached.
    let refused = match destroyed {
        Ok(()) => return Ok(Ended::Destroyed),
        Err(errno) => errno,
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
/// [`NotEnded::Gone`] when no holder has it any more, or its connection
/// is over already (`ENOTCONN`);
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
                return match rustix::net::shutdown(&copy, rustix::net::Shutdown::Both) {
                    // Its connection is already over: reset by its peer's
                    // end (often the other row of the same --kill), or
                    // aborted. Nothing is left to end.
                    Err(Errno::NOTCONN) => Err(NotEnded::Gone),
                    done => done.map_err(NotEnded::Failed),
                };
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
