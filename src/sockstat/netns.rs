//! Network namespaces: which one a process is in (the inode of
//! `/proc/PID/ns/net` on nsfs), what `ip netns` named them (`/run/netns`),
//! which one `--netns` means, and a thread that enters one to make the
//! sockets sockstat reads it through.

use super::index::NumberMap;
use crate::error::{Error, Result};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, OFlags, RawDir};
use rustix::io::Errno;
use rustix::thread::LinkNameSpaceType;
use std::mem::MaybeUninit;

/// Where `ip netns add` mounts the namespaces it names.
const RUN_NETNS: &core::ffi::CStr = c"/run/netns";

/// `--netns`, as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Choice {
    /// A namespace's inode (`4026532288`), as `-e` and JSON show it.
    Inode(u64),
    /// A name under `/run/netns` (`ip netns`'s).
    Name(String),
    /// A path to an nsfs file: `/proc/PID/ns/net`, a bind mount of one.
    Path(String),
}

/// Parses `--netns`: all digits is an inode, a `/` makes a path, anything
/// else is a name `ip netns` gave.
///
/// # Errors
/// [`Error::Usage`] for an empty value or a name that cannot be one
/// (`.`, `..`).
pub fn parse_choice(text: &str) -> Result<Choice> {
    if let Some(inode) = crate::decimal::parse_str::<u64>(text) {
        return Ok(Choice::Inode(inode));
    }
    if text.contains('/') {
        return Ok(Choice::Path(text.to_string()));
    }
    match text {
        "" | "." | ".." => Err(Error::Usage(format!(
            "bad network namespace '{text}': expected a name (ip netns list), a path or an inode"
        ))),
        name => Ok(Choice::Name(name.to_string())),
    }
}

/// `stat("/proc/thread-self/ns/net")`—the namespace the calling thread is
/// in: the device number of nsfs (so that a file can be told to be a
/// namespace) and its inode.
///
/// # Errors
/// The errno of `stat("/proc/thread-self/ns/net")`.
pub fn own() -> core::result::Result<(u64, u64), Errno> {
    let stat = crate::io::retry(|| {
        rustix::fs::statat(
            rustix::fs::CWD,
            c"/proc/thread-self/ns/net",
            AtFlags::empty(),
        )
    })?;
    Ok((stat.st_dev, stat.st_ino))
}

/// `stat("/proc/PID/ns/net")` through the process's directory: the inode of
/// its network namespace, or `None` if we may not know (another user's
/// process) or it is gone.
pub fn of_process(pid_dir: BorrowedFd<'_>) -> Option<u64> {
    crate::io::retry(|| rustix::fs::statat(pid_dir, c"ns/net", AtFlags::empty()))
        .ok()
        .map(|stat| stat.st_ino)
}

/// `open("/proc/PID/ns/net")` through the process's directory: a handle
/// that keeps the namespace alive after the process is gone.
///
/// # Errors
/// The errno of `openat`.
pub fn open_of_process(pid_dir: BorrowedFd<'_>) -> core::result::Result<OwnedFd, Errno> {
    crate::io::open_at(pid_dir, c"ns/net", OFlags::RDONLY)
}

/// The namespace `--netns` names, opened where it can be.
#[derive(Debug)]
pub struct Target {
    /// Its inode.
    pub inode: u64,
    /// A handle to it, when it was given by name or path (an inode alone
    /// is found through a process in it, during the walk).
    pub fd: Option<OwnedFd>,
    /// How the user named it, for messages.
    pub shown: String,
}

/// `open(PATH)` + `fstat`—the namespace `choice` names, opened; an inode
/// is looked for in `/run/netns`.
///
/// # Errors
/// The errno of opening a name or path (`ENOENT` for a name `ip netns`
/// does not know); [`Error::Usage`] for a file that is not a namespace.
pub fn resolve(choice: &Choice, nsfs: u64) -> Result<Target> {
    let path = match choice {
        Choice::Inode(inode) => {
            let fd = named(nsfs)
                .into_iter()
                .find(|(ino, _)| ino == inode)
                .and_then(|(_, name)| open_named(&name).ok());
            return Ok(Target {
                inode: *inode,
                fd,
                shown: inode.to_string(),
            });
        }
        Choice::Name(name) => format!("/run/netns/{name}"),
        Choice::Path(path) => path.clone(),
    };
    let fd = crate::io::retry(|| {
        rustix::fs::openat(
            rustix::fs::CWD,
            path.as_str(),
            OFlags::RDONLY | OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
    })
    .map_err(|errno| Error::on("open", &path, errno))?;
    let stat = rustix::fs::fstat(&fd).map_err(|errno| Error::on("fstat", &path, errno))?;
    if stat.st_dev != nsfs {
        return Err(Error::Usage(format!(
            "--netns {path}: not a network namespace (no nsfs file there)"
        )));
    }
    Ok(Target {
        inode: stat.st_ino,
        fd: Some(fd),
        shown: path,
    })
}

fn open_named(name: &[u8]) -> core::result::Result<OwnedFd, Errno> {
    let dir = crate::io::open_at(
        rustix::fs::CWD,
        RUN_NETNS,
        OFlags::RDONLY | OFlags::DIRECTORY,
    )?;
    let name = std::ffi::CString::new(name).map_err(|_| Errno::INVAL)?;
    crate::io::open_at(&dir, &name, OFlags::RDONLY)
}

/// Every name in `/run/netns` that is a namespace (a bind mount of an
/// nsfs file, device `nsfs`), as (inode, raw name), sorted by name.
fn named(nsfs: u64) -> Vec<(u64, Vec<u8>)> {
    let Ok(dir) = crate::io::open_at(
        rustix::fs::CWD,
        RUN_NETNS,
        OFlags::RDONLY | OFlags::DIRECTORY,
    ) else {
        return Vec::new();
    };
    let mut buf = vec![MaybeUninit::<u8>::uninit(); 8 * 1024];
    let mut entries = RawDir::new(dir.as_fd(), &mut buf);
    let mut found = Vec::new();
    while let Some(Ok(entry)) = entries.next() {
        let name = entry.file_name();
        if matches!(name.to_bytes(), b"." | b"..") {
            continue;
        }
        if let Ok(stat) = crate::io::retry(|| rustix::fs::statat(&dir, name, AtFlags::empty()))
            && stat.st_dev == nsfs
        {
            found.push((stat.st_ino, name.to_bytes().to_vec()));
        }
    }
    found.sort_by(|a, b| a.1.cmp(&b.1));
    found
}

/// `getdents("/run/netns")` + `stat` of each—the names `ip netns` gave the
/// namespaces, escaped, by inode (the first name in order where one has
/// several).
pub fn names(nsfs: u64) -> NumberMap<u64, String> {
    let mut names = NumberMap::default();
    for (inode, name) in named(nsfs) {
        names
            .entry(inode)
            .or_insert_with(|| crate::escape::field(&name));
    }
    names
}

/// `setns(ns, CLONE_NEWNET)` on a thread of its own, then `work` there
/// (making the sockets that then belong to that namespace, whichever
/// thread uses them after), then the thread ends: no other thread, and
/// nothing else, ever runs in the namespace.
///
/// # Errors
/// The errno of `setns` (`EPERM` without `CAP_SYS_ADMIN`; `EINVAL` for a
/// namespace of another kind), or `EAGAIN` when no thread can be made.
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/setns.2.html)
pub fn enter<T: Send + 'static>(
    ns: OwnedFd,
    work: impl FnOnce() -> T + Send + 'static,
) -> core::result::Result<T, Errno> {
    let thread = std::thread::Builder::new()
        .name("sockstat-netns".into())
        .spawn(move || {
            rustix::thread::move_into_link_name_space(
                ns.as_fd(),
                Some(LinkNameSpaceType::Network),
            )?;
            Ok(work())
        })
        .map_err(|err| Errno::from_io_error(&err).unwrap_or(Errno::AGAIN))?;
    thread
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices() {
        assert_eq!(
            parse_choice("4026531840").ok(),
            Some(Choice::Inode(4026531840))
        );
        assert_eq!(parse_choice("blue").ok(), Some(Choice::Name("blue".into())));
        assert_eq!(
            parse_choice("/proc/1/ns/net").ok(),
            Some(Choice::Path("/proc/1/ns/net".into()))
        );
        assert_eq!(parse_choice("./x").ok(), Some(Choice::Path("./x".into())));
        for bad in ["", ".", ".."] {
            assert!(matches!(parse_choice(bad), Err(Error::Usage(_))), "{bad:?}");
        }
    }

    #[test]
    fn our_namespace_is_what_proc_self_says() {
        let Ok((nsfs, inode)) = own() else { return };
        let Ok(proc_self) = crate::io::open_at(
            rustix::fs::CWD,
            c"/proc/self",
            OFlags::PATH | OFlags::DIRECTORY,
        ) else {
            return;
        };
        assert_eq!(of_process(proc_self.as_fd()), Some(inode));
        let target = resolve(&Choice::Path("/proc/self/ns/net".into()), nsfs);
        assert_eq!(target.map(|t| t.inode).ok(), Some(inode));
        let not_ns = resolve(&Choice::Path("/proc/self/stat".into()), nsfs);
        assert!(matches!(not_ns, Err(Error::Usage(_))), "{not_ns:?}");
        let missing = resolve(&Choice::Name("sockkit-no-such-netns".into()), nsfs);
        assert_eq!(missing.err().and_then(|e| e.errno()), Some(Errno::NOENT));
    }
}
