//! A unix socket's file: what is at the path when `bind` says
//! `EADDRINUSE` (a live server, a stale socket file, or no socket at all),
//! `--unlink`'s removal of a stale one only, `--mode`, and the file's
//! removal at exit while it is still the one sockd bound.
//!
//! With `--mode`, the socket is bound under a umask that leaves the file
//! to its owner alone, and only then given the mode asked for: bound under
//! the usual umask, the file would be open to anyone the umask lets in
//! (umask 0: everyone) until the chmod, and a client quick enough could
//! connect in between. The chmod goes through an `O_PATH | O_NOFOLLOW` fd
//! of the file, checked to be a socket, so a symlink swapped in at the path
//! is never followed.

use crate::endpoint::{Endpoint, UnixAddr};
use crate::error::{Error, Result};
use crate::io;
use crate::socket::{bind_socket, peer_credentials, socket_for};
use rustix::fd::{AsRawFd, OwnedFd};
use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags};
use rustix::io::Errno;
use rustix::net::SocketFlags;
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// The umask a `--mode` socket is bound under: read and write for its
/// owner, nothing for anyone else, until the chmod.
const PRIVATE_UMASK: u32 = 0o177;

/// The socket file sockd bound; dropping it removes the file if it is
/// still that one (same device and inode), never a file that replaced it.
#[derive(Debug)]
pub struct SocketFile {
    dir: OwnedFd,
    name: CString,
    path: PathBuf,
    dev: u64,
    ino: u64,
}

/// `bind(2)` of a unix `endpoint` (see the module docs): for a path, the
/// file at it afterwards, to remove at exit (`None` for an abstract name).
///
/// # Errors
/// [`bind_socket`]'s; `EADDRINUSE` (exit 75) with a hint saying what is at
/// the path (a server listening there, with its pid, is never disturbed; a
/// stale socket file is removed first only with `unlink`; anything that is
/// not a socket never); `open`, `stat` or `chmod` of the new file failing.
pub fn bind(
    endpoint: &Endpoint,
    unlink: bool,
    mode: Option<u32>,
) -> Result<(OwnedFd, Endpoint, Option<SocketFile>)> {
    let Some(path) = endpoint.address.unix().and_then(UnixAddr::as_path) else {
        let (fd, bound) = bind_socket(endpoint)?;
        return Ok((fd, bound, None));
    };
    let (fd, bound) = match bind_privately(endpoint, mode.is_some()) {
        Err(err) if err.errno() == Some(Errno::ADDRINUSE) => match look(path, endpoint) {
            Found::Stale(dev, ino) if unlink => {
                let removed = remove_stale(path, dev, ino)
                    .map_err(|errno| Error::on("unlink", crate::escape::path(path), errno))?;
                if !removed {
                    return Err(err);
                }
                log::info!(
                    "removed the stale socket file {}",
                    crate::escape::path(path)
                );
                bind_privately(endpoint, mode.is_some())?
            }
            // Gone between the bind and the look: its owner removed it.
            Found::Gone => bind_privately(endpoint, mode.is_some())?,
            found => return Err(found.explain(err, path)),
        },
        other => other?,
    };
    let file = SocketFile::opened(path, mode)?;
    Ok((fd, bound, Some(file)))
}

fn bind_privately(endpoint: &Endpoint, private: bool) -> Result<(OwnedFd, Endpoint)> {
    if !private {
        return bind_socket(endpoint);
    }
    // The umask is the process's: sockd binds before it starts any thread.
    let before = rustix::process::umask(Mode::from_raw_mode(PRIVATE_UMASK));
    let bound = bind_socket(endpoint);
    rustix::process::umask(before);
    bound
}

/// What is at a path `bind` found taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    /// Nothing any more.
    Gone,
    /// A socket file nobody serves (a connect is refused): its device and
    /// inode.
    Stale(u64, u64),
    /// A socket a server holds (a connect got through, found the backlog
    /// full, or met a socket of the other type); the listener's pid when
    /// it could be read.
    Live(Option<i32>),
    /// A file of another type.
    NotSocket(FileType),
    /// Could not tell (no permission to look, say).
    Unknown,
}

/// Looks at the file at `path`, and connects to it (non-blocking) if it is
/// a socket: only a refusal makes it stale.
fn look(path: &Path, endpoint: &Endpoint) -> Found {
    let stat = match io::retry(|| rustix::fs::statat(CWD, path, AtFlags::SYMLINK_NOFOLLOW)) {
        Ok(stat) => stat,
        Err(Errno::NOENT) => return Found::Gone,
        Err(_) => return Found::Unknown,
    };
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::Socket => {}
        other => return Found::NotSocket(other),
    }
    let Ok(probe) = socket_for(endpoint, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC) else {
        return Found::Unknown;
    };
    let Some(Ok(addr)) = endpoint.address.unix().map(UnixAddr::to_rustix) else {
        return Found::Unknown;
    };
    match io::connect_unix(&probe, &addr) {
        Ok(()) => Found::Live(
            peer_credentials(&probe)
                .ok()
                .map(|cred| cred.pid.as_raw_nonzero().get()),
        ),
        Err(Errno::AGAIN | Errno::PROTOTYPE) => Found::Live(None),
        Err(Errno::CONNREFUSED) => Found::Stale(stat.st_dev, stat.st_ino),
        Err(Errno::NOENT) => Found::Gone,
        Err(_) => Found::Unknown,
    }
}

impl Found {
    /// `err` (the bind's `EADDRINUSE`) with a hint saying what was found.
    fn explain(self, err: Error, path: &Path) -> Error {
        let path = crate::escape::path(path);
        let hint = match self {
            Self::Live(pid) => {
                let who = pid.map_or_else(String::new, |pid| format!(" (pid {pid})"));
                format!(
                    "a live server{who} holds {path}; sockd never takes a socket from its server \
                     (not with --unlink either): stop that server first, or choose another path"
                )
            }
            Self::Stale(..) => format!(
                "{path} is a stale socket file: nothing serves it (a connect is refused); \
                 remove it, or pass --unlink"
            ),
            Self::NotSocket(kind) => format!(
                "{path} is {}, not a socket; sockd never removes it (not with --unlink either): \
                 choose another path",
                described(kind)
            ),
            Self::Gone | Self::Unknown => return err,
        };
        err.hinted(hint)
    }
}

fn described(kind: FileType) -> &'static str {
    match kind {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a directory",
        FileType::Symlink => "a symbolic link",
        FileType::Fifo => "a FIFO",
        FileType::CharacterDevice | FileType::BlockDevice => "a device",
        _ => "a file",
    }
}

/// Removes the stale socket at `path` if it is still the one looked at;
/// whether it was (what replaced it meanwhile was never looked at).
fn remove_stale(path: &Path, dev: u64, ino: u64) -> core::result::Result<bool, Errno> {
    let stat = io::retry(|| rustix::fs::statat(CWD, path, AtFlags::SYMLINK_NOFOLLOW))?;
    if (stat.st_dev, stat.st_ino) != (dev, ino) {
        return Ok(false);
    }
    rustix::fs::unlinkat(CWD, path, AtFlags::empty())?;
    Ok(true)
}

impl SocketFile {
    /// The file `bind` just created at `path`, given `mode` if asked.
    fn opened(path: &Path, mode: Option<u32>) -> Result<Self> {
        let fail = |op, errno| Error::on(op, crate::escape::path(path), errno);
        let (dir, name) = super::announce::split(path).map_err(|errno| fail("open", errno))?;
        let dir = io::open_at(CWD, &dir, OFlags::PATH | OFlags::DIRECTORY)
            .map_err(|errno| fail("open", errno))?;
        let file = io::open_at(&dir, &name, OFlags::PATH | OFlags::NOFOLLOW)
            .map_err(|errno| fail("open", errno))?;
        let stat = rustix::fs::fstat(&file).map_err(|errno| fail("stat", errno))?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::Socket {
            // Replaced between the bind and the open: not ours to chmod.
            return Err(fail("stat", Errno::NOTSOCK));
        }
        if let Some(mode) = mode {
            // Through the fd: the inode it holds, whatever the path leads to now.
            let by_fd = format!("/proc/self/fd/{}", file.as_raw_fd());
            rustix::fs::chmod(by_fd.as_str(), Mode::from_raw_mode(mode))
                .map_err(|errno| fail("chmod", errno))?;
        }
        Ok(Self {
            dir,
            name,
            path: path.to_path_buf(),
            dev: stat.st_dev,
            ino: stat.st_ino,
        })
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let shown = crate::escape::path(&self.path);
        match rustix::fs::statat(&self.dir, &self.name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) if (stat.st_dev, stat.st_ino) == (self.dev, self.ino) => {
                if let Err(errno) = rustix::fs::unlinkat(&self.dir, &self.name, AtFlags::empty()) {
                    log::warn!("remove {shown}: {}", crate::error::describe_errno(errno));
                }
            }
            Ok(_) => log::info!("{shown} is no longer the socket sockd bound; left alone"),
            Err(Errno::NOENT) => {}
            Err(errno) => log::warn!("stat {shown}: {}", crate::error::describe_errno(errno)),
        }
    }
}

/// Parses `--mode`: octal permission bits, `0` to `777` (a leading `0`
/// allowed, as chmod takes it); clap's value parser.
///
/// # Errors
/// A message for anything else: no set-id or sticky bits, which mean
/// nothing on a socket.
pub fn parse_mode(text: &str) -> core::result::Result<u32, String> {
    let octal = !text.is_empty() && text.bytes().all(|b| (b'0'..=b'7').contains(&b));
    match u32::from_str_radix(text, 8) {
        Ok(mode) if octal && mode <= 0o777 => Ok(mode),
        _ => Err("expected octal permissions from 0 to 777 (e.g. 600)".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_octal_permission_bits() {
        assert_eq!(parse_mode("600"), Ok(0o600));
        assert_eq!(parse_mode("0660"), Ok(0o660));
        assert_eq!(parse_mode("0"), Ok(0));
        assert_eq!(parse_mode("00600"), Ok(0o600));
        for bad in [
            "",
            "8",
            "1777",
            "4755",
            "0o600",
            "+600",
            "-1",
            "60a",
            "99999999999999",
        ] {
            assert!(parse_mode(bad).is_err(), "{bad}");
        }
    }
}
