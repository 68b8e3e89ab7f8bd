//! `--port-file` and `--pid-file`: one line announcing a running server,
//! written so that a reader never sees half of it and no other local user
//! can aim it at a file of their choosing.
//!
//! A regular file (or nothing, or a symlink) at PATH is replaced: the line
//! goes to a new file beside it with an unpredictable name, created
//! `O_CREAT | O_EXCL | O_NOFOLLOW` (so nothing planted there, not even a
//! symlink, is ever opened), and is renamed over PATH (which replaces a
//! symlink itself, never its target). A FIFO or a character device (a tty)
//! at PATH is written in place, as is one of our own fds named as
//! `/dev/stdout`, `/dev/stderr`, `/dev/fd/N` or `/proc/self/fd/N`: those are
//! links the kernel makes, not plantable ones, and replacing them would
//! break them for everyone. A replaced file is removed when sockd exits, if
//! it is still the file we wrote with the line we wrote.
//!
//! Except a FIFO another user may have planted for us to write into: in a
//! sticky directory others can write (as /tmp), one owned neither by our
//! effective uid nor by the directory's owner is replaced like a file (see
//! [`Dir::trusts`]). Only root makes devices, so those are never plants.
//!
//! `--events` opens its log the same way ([`open_log`]), except that the
//! new file is renamed over PATH empty, at once, and stays at exit.

use super::stop::Stop;
use crate::decimal;
use crate::error::{Error, Result};
use crate::io;
use core::ffi::CStr;
use core::time::Duration;
use rustix::fd::{BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// How often a FIFO without a reader is tried again: `open(O_NONBLOCK)`
/// says `ENXIO` until one comes, and nothing can be polled before that.
const FIFO_RETRY: Duration = Duration::from_millis(20);

/// Fresh temporary names tried when one exists already (64 random bits
/// each: a second collision means something is very wrong).
const NAME_ATTEMPTS: usize = 3;

/// A written announcement; dropping it removes a replaced file that is
/// still ours.
#[derive(Debug)]
pub struct Announced {
    path: PathBuf,
    ours: Option<Ours>,
}

/// A file we created: where, and how to recognise it at exit.
#[derive(Debug)]
struct Ours {
    dir: OwnedFd,
    name: CString,
    line: Vec<u8>,
    dev: u64,
    ino: u64,
}

/// Writes `line` to `path` (see the module docs). A `stop` that comes while
/// a FIFO waits for its reader, or a tty for room, ends the wait: the
/// server then stops at once.
///
/// # Errors
/// The errno of the step that failed (`ENOENT` for a missing directory,
/// `EACCES`, `ENAMETOOLONG`, `EISDIR`, `EPIPE` from a FIFO whose reader left),
/// as `write PATH`. `EPERM` from the rename over another user's file, FIFO
/// or symlink in a sticky directory (which only its owner, the directory's
/// or root may replace) comes with a hint saying so.
pub fn write(path: &Path, line: &str, stop: &Stop) -> Result<Announced> {
    let fail = |errno| failure(path, errno, None);
    let line = line.as_bytes();
    let announced = |ours| Announced {
        path: path.to_path_buf(),
        ours,
    };
    let target = match find(path, stop).map_err(fail)? {
        Found::Std(fd) => {
            io::write_all_unless(fd, line, stop.fd()).map_err(fail)?;
            return Ok(announced(None));
        }
        Found::InPlace(fd) => {
            io::write_all_unless(&fd, line, stop.fd()).map_err(fail)?;
            return Ok(announced(None));
        }
        // The server stops at once; nothing was announced.
        Found::Stopped => return Ok(announced(None)),
        Found::Replace(target) => target,
    };
    let planted = target.planted;
    let ours = replace(target, line).map_err(|errno| failure(path, errno, planted))?;
    Ok(announced(Some(ours)))
}

/// Where [`open_log`] writes.
#[derive(Debug)]
pub enum LogFile {
    /// stdout or stderr, shared with others: written as they are.
    Std(BorrowedFd<'static>),
    /// A file description of our own: a file we created, a FIFO, a device
    /// (`O_NONBLOCK`), or one of our fds reopened through `/dev/fd/N`.
    Own(OwnedFd),
    /// Stop came while a FIFO waited for its reader.
    Stopped,
}

/// Opens `path` for a log written as it goes (`--events`), as safely as
/// [`write`]: stdout, stderr, `/dev/fd/N`, a FIFO no other user could have
/// planted or a device are written in place (non-blocking); anything else
/// (nothing, a file, a symlink, another user's FIFO in a sticky directory) is
/// replaced by a new, empty file created `O_CREAT | O_EXCL | O_NOFOLLOW`
/// beside it and renamed over it at once (so a planted file or symlink is
/// never opened). The new file is `O_APPEND` and stays when sockd exits.
///
/// # Errors
/// As [`write`], as `write PATH`.
pub fn open_log(path: &Path, stop: &Stop) -> Result<LogFile> {
    let fail = |errno| failure(path, errno, None);
    let target = match find(path, stop).map_err(fail)? {
        Found::Std(fd) => return Ok(LogFile::Std(fd)),
        Found::InPlace(fd) => return Ok(LogFile::Own(fd)),
        Found::Stopped => return Ok(LogFile::Stopped),
        Found::Replace(target) => target,
    };
    let (file, _) = fresh_beside(&target.dir, &target.name, |_| Ok(()))
        .map_err(|errno| failure(path, errno, target.planted))?;
    rustix::fs::fcntl_setfl(&file, OFlags::APPEND).map_err(fail)?;
    Ok(LogFile::Own(file))
}

impl Drop for Announced {
    fn drop(&mut self) {
        let Some(ours) = &self.ours else { return };
        match ours.still_ours() {
            Ok(true) => {
                if let Err(errno) = rustix::fs::unlinkat(&ours.dir, &ours.name, AtFlags::empty()) {
                    log::warn!(
                        "remove {}: {}",
                        crate::escape::path(&self.path),
                        crate::error::describe_errno(errno)
                    );
                }
            }
            Ok(false) => log::info!(
                "{} is no longer the file sockd wrote; left alone",
                crate::escape::path(&self.path)
            ),
            Err(Errno::NOENT) => {}
            Err(errno) => log::warn!(
                "stat {}: {}",
                crate::escape::path(&self.path),
                crate::error::describe_errno(errno)
            ),
        }
    }
}

impl Ours {
    /// Whether the name still leads to the file we created, holding what we
    /// wrote: someone may have removed it, or replaced it with their own.
    fn still_ours(&self) -> core::result::Result<bool, Errno> {
        let stat = rustix::fs::statat(&self.dir, &self.name, AtFlags::SYMLINK_NOFOLLOW)?;
        if (stat.st_dev, stat.st_ino) != (self.dev, self.ino) {
            return Ok(false);
        }
        let file = io::open_at(&self.dir, &self.name, OFlags::RDONLY | OFlags::NOFOLLOW)?;
        // One byte more than we wrote, to see an appended tail.
        let mut held = vec![0u8; self.line.len() + 1];
        let mut filled = 0;
        while filled < held.len() {
            match io::read_some(&file, &mut held[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        Ok(held[..filled] == self.line[..])
    }
}

/// What [`write`] and [`open_log`] find at a path: the one place that
/// decides what is written in place and what is replaced.
enum Found {
    /// Our stdout or stderr, shared with others.
    Std(BorrowedFd<'static>),
    /// A file description of our own to write in place: `/dev/fd/N`
    /// reopened, or a FIFO or a device opened (non-blocking).
    InPlace(OwnedFd),
    /// Stop came while a FIFO waited for its reader.
    Stopped,
    /// Nothing there, a file, a symlink or a FIFO we do not trust:
    /// replaced by a new file beside it.
    Replace(Replace),
}

/// Where a new file goes, and what it replaces.
struct Replace {
    /// The directory, opened `O_PATH`.
    dir: OwnedFd,
    /// The name in it.
    name: CString,
    /// What another user has there, if the directory shares it.
    planted: Option<Planted>,
}

/// Looks at `path` without following a symlink at its last component.
fn find(path: &Path, stop: &Stop) -> core::result::Result<Found, Errno> {
    match own_fd(path) {
        Some(OwnFd::Std(fd)) => return Ok(Found::Std(fd)),
        Some(OwnFd::Numbered) => return Ok(Found::InPlace(reopen(path)?)),
        None => {}
    }
    let (dir, name) = split(path)?;
    let dir = io::open_at(CWD, &dir, OFlags::PATH | OFlags::DIRECTORY)?;
    let replace = |dir, planted| {
        Ok(Found::Replace(Replace {
            dir,
            name: name.clone(),
            planted,
        }))
    };
    let stat = match io::retry(|| rustix::fs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW)) {
        Ok(stat) => stat,
        Err(Errno::NOENT) => return replace(dir, None),
        Err(errno) => return Err(errno),
    };
    let rules = Dir::of(&dir)?;
    // Judged before the open too, not only on the fd it gives: a planted
    // FIFO nobody reads would have us wait for a reader forever.
    if let Verdict::Replace(planted) = rules.verdict(&stat) {
        return replace(dir, planted);
    }
    match open_in_place(path, (&dir, &name), &rules, stop)? {
        InPlace::Opened(fd) => Ok(Found::InPlace(fd)),
        InPlace::Stopped => Ok(Found::Stopped),
        // What was opened is not what was looked at: whatever it is now
        // is replaced like a file.
        InPlace::Changed(planted) => replace(dir, planted),
    }
}

/// What decides, in one directory, whose FIFOs are written in place.
#[derive(Debug, Clone, Copy)]
struct Dir {
    owner: u32,
    mode: Mode,
    euid: u32,
}

/// What to do with what is at a name.
enum Verdict {
    InPlace,
    Replace(Option<Planted>),
}

/// Another user's file, FIFO or symlink in a sticky directory others can
/// write: never written into, and the sticky bit lets only its owner, the
/// directory's or root rename over it, so `EPERM` is likely.
#[derive(Debug, Clone, Copy)]
struct Planted {
    owner: u32,
    kind: &'static str,
}

impl Dir {
    /// `fstat` of the directory's own fd (`O_PATH` is enough), so the rule
    /// is that of the directory the name is looked up in.
    fn of(dir: &OwnedFd) -> core::result::Result<Self, Errno> {
        let stat = rustix::fs::fstat(dir)?;
        Ok(Self {
            owner: stat.st_uid,
            mode: Mode::from_raw_mode(stat.st_mode),
            euid: rustix::process::geteuid().as_raw(),
        })
    }

    /// Whether a FIFO owned by `owner` is written in place: the kernel's
    /// `fs.protected_fifos=2` rule, which it applies only to `O_CREAT`
    /// opens (ours has none) and only when the sysctl says so. In a sticky
    /// directory its group or anyone may write (as /tmp), a FIFO neither
    /// ours nor the directory owner's can be another user's plant, there to
    /// read the port, the pid, every client's address.
    fn trusts(self, owner: u32) -> bool {
        let shared =
            self.mode.contains(Mode::SVTX) && self.mode.intersects(Mode::WGRP | Mode::WOTH);
        !shared || owner == self.euid || owner == self.owner
    }

    fn verdict(self, stat: &rustix::fs::Stat) -> Verdict {
        let kind = match FileType::from_raw_mode(stat.st_mode) {
            // Only root makes device nodes.
            FileType::CharacterDevice => return Verdict::InPlace,
            FileType::Fifo if self.trusts(stat.st_uid) => return Verdict::InPlace,
            FileType::Fifo => "FIFO",
            FileType::Symlink => "symlink",
            FileType::Socket => "socket",
            _ => "file",
        };
        let owner = stat.st_uid;
        Verdict::Replace((!self.trusts(owner)).then_some(Planted { owner, kind }))
    }
}

/// The failure to write `path`; an `EPERM` that is the sticky bit refusing
/// to let us replace what another user `planted` there says so.
fn failure(path: &Path, errno: Errno, planted: Option<Planted>) -> Error {
    let shown = crate::escape::path(path);
    let error = Error::on("write", &shown, errno);
    match (errno, planted) {
        (Errno::PERM, Some(Planted { owner, kind })) => error.hinted(format!(
            "another user (uid {owner}) owns the {kind} at {shown}, in a sticky directory \
             others can write: sockd does not write into what may be a plant, and may not \
             replace it; choose another path"
        )),
        _ => error,
    }
}

/// A path naming one of this process's fds.
enum OwnFd {
    /// stdout or stderr: written as they are (at their offset, even when
    /// they are sockets, which cannot be reopened).
    Std(BorrowedFd<'static>),
    /// `/dev/fd/N`, `/proc/self/fd/N`: reopened through the kernel's link.
    Numbered,
}

fn own_fd(path: &Path) -> Option<OwnFd> {
    let bytes = path.as_os_str().as_bytes();
    let number = [&b"/dev/fd/"[..], b"/proc/self/fd/"]
        .iter()
        .find_map(|prefix| bytes.strip_prefix(*prefix))
        .and_then(decimal::parse::<u32>);
    match (bytes, number) {
        (b"/dev/stdout", _) | (_, Some(1)) => Some(OwnFd::Std(rustix::stdio::stdout())),
        (b"/dev/stderr", _) | (_, Some(2)) => Some(OwnFd::Std(rustix::stdio::stderr())),
        (_, Some(_)) => Some(OwnFd::Numbered),
        _ => None,
    }
}

/// Whether `path` names this process's stdout (`/dev/stdout`,
/// `/dev/fd/1`, `/proc/self/fd/1`), as `-` does.
pub(super) fn names_stdout(path: &Path) -> bool {
    matches!(own_fd(path), Some(OwnFd::Std(fd)) if rustix::fd::AsRawFd::as_raw_fd(&fd) == 1)
}

/// Opens `/dev/fd/N` for writing, following the kernel's link (the only
/// symlink ever followed here), never creating anything.
fn reopen(path: &Path) -> core::result::Result<OwnedFd, Errno> {
    let path = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::INVAL)?;
    io::open_at(
        CWD,
        &path,
        OFlags::WRONLY | OFlags::NONBLOCK | OFlags::NOCTTY,
    )
}

/// What [`open_in_place`] found.
enum InPlace {
    Opened(OwnedFd),
    /// Stop came while a FIFO waited for its reader.
    Stopped,
    /// What is at the name now is to be replaced (no FIFO or device, or a
    /// FIFO we do not trust).
    Changed(Option<Planted>),
}

/// Opens the FIFO or device at `path` (`name` in `dir`) for writing,
/// waiting for a FIFO's reader (or `stop`), and judges by `rules` the very
/// file it opened.
fn open_in_place(
    path: &Path,
    (dir, name): (&OwnedFd, &CStr),
    rules: &Dir,
    stop: &Stop,
) -> core::result::Result<InPlace, Errno> {
    let flags = OFlags::WRONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::NOFOLLOW;
    let mut told = false;
    let fd = loop {
        match io::open_at(dir, name, flags) {
            Ok(fd) => break fd,
            Err(Errno::NXIO) => {
                if !std::mem::replace(&mut told, true) {
                    let shown = crate::escape::path(path);
                    log::info!("{shown} is a FIFO: waiting for its reader");
                }
                if io::poll_readable(stop.fd(), Some(FIFO_RETRY))? {
                    return Ok(InPlace::Stopped);
                }
            }
            Err(errno) => return Err(errno),
        }
    };
    Ok(match rules.verdict(&rustix::fs::fstat(&fd)?) {
        Verdict::InPlace => InPlace::Opened(fd),
        Verdict::Replace(planted) => InPlace::Changed(planted),
    })
}

/// The directory to work in and the name in it: `a/b/port` → (`a/b`,
/// `port`), `port` → (`.`, `port`).
pub(super) fn split(path: &Path) -> core::result::Result<(CString, CString), Errno> {
    let name = path.file_name().ok_or(Errno::ISDIR)?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.as_os_str().as_bytes(),
        _ => b".",
    };
    let c = |bytes: &[u8]| CString::new(bytes).map_err(|_| Errno::INVAL);
    Ok((c(dir)?, c(name.as_bytes())?))
}

/// Writes `line` to a new file beside the target, then renames it over it.
fn replace(target: Replace, line: &[u8]) -> core::result::Result<Ours, Errno> {
    let Replace { dir, name, .. } = target;
    let (_, stat) = fresh_beside(&dir, &name, |file| io::write_all(file, line))?;
    Ok(Ours {
        dir,
        name,
        line: line.to_vec(),
        dev: stat.st_dev,
        ino: stat.st_ino,
    })
}

/// A new file beside `name`, filled by `fill`, then renamed over `name`:
/// the file, and what `fstat` said of it before the rename.
fn fresh_beside(
    dir: &OwnedFd,
    name: &CStr,
    fill: impl FnOnce(&OwnedFd) -> core::result::Result<(), Errno>,
) -> core::result::Result<(OwnedFd, rustix::fs::Stat), Errno> {
    for _ in 0..NAME_ATTEMPTS {
        let temporary = temporary_name()?;
        let file = match io::create_new_at(dir, &temporary, Mode::from_raw_mode(0o644)) {
            Ok(file) => file,
            Err(Errno::EXIST) => continue,
            Err(errno) => return Err(errno),
        };
        let written = fill(&file)
            .and_then(|()| rustix::fs::fstat(&file))
            .and_then(|stat| {
                io::retry(|| rustix::fs::renameat(dir, &temporary, dir, name))?;
                Ok(stat)
            });
        return match written {
            Ok(stat) => Ok((file, stat)),
            Err(errno) => {
                let _ = rustix::fs::unlinkat(dir, &temporary, AtFlags::empty());
                Err(errno)
            }
        };
    }
    Err(Errno::EXIST)
}

/// `.sockd-<16 hex digits>.tmp`: 64 bits from the kernel's CSPRNG, so no
/// other user can guess it and plant something there first.
fn temporary_name() -> core::result::Result<CString, Errno> {
    let mut random = [0u8; 8];
    io::random_bytes(&mut random)?;
    let name = format!(".sockd-{:016x}.tmp", u64::from_ne_bytes(random));
    CString::new(name).map_err(|_| Errno::INVAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_fresh_each_time() {
        let names: std::collections::HashSet<CString> = (0..64)
            .map(|_| temporary_name().unwrap_or_else(|e| panic!("{e}")))
            .collect();
        assert_eq!(names.len(), 64);
        for name in &names {
            let text = name.to_string_lossy();
            assert!(
                text.len() == ".sockd-.tmp".len() + 16 && text.starts_with(".sockd-"),
                "{text}"
            );
        }
    }

    #[test]
    fn own_fds_are_recognised_by_their_exact_names() {
        let kind = |p: &str| match own_fd(Path::new(p)) {
            Some(OwnFd::Std(fd)) => Some(rustix::fd::AsRawFd::as_raw_fd(&fd)),
            Some(OwnFd::Numbered) => Some(-1),
            None => None,
        };
        assert_eq!(kind("/dev/stdout"), Some(1));
        assert_eq!(kind("/dev/stderr"), Some(2));
        assert_eq!(kind("/dev/fd/1"), Some(1));
        assert_eq!(kind("/proc/self/fd/2"), Some(2));
        assert_eq!(kind("/dev/fd/63"), Some(-1));
        for other in [
            "/dev/stdout2",
            "/tmp/dev/stdout",
            "dev/stdout",
            "/dev/fd/",
            "/dev/fd/+1",
            "/dev/fd/1/x",
            "/proc/1/fd/1",
        ] {
            assert_eq!(kind(other), None, "{other}");
        }
    }

    #[test]
    fn a_fifo_is_trusted_as_the_kernels_protected_fifos_2_would() {
        let (root, nobody, other) = (0, 65534, 1000);
        let dir = |owner, mode| Dir {
            owner,
            mode: Mode::from_raw_mode(mode),
            euid: root,
        };
        // Sticky and writable by others (/tmp), or by its group: only ours
        // and the directory owner's.
        for mode in [0o1777, 0o1770, 0o1730] {
            assert!(dir(root, mode).trusts(root), "{mode:o}");
            assert!(!dir(root, mode).trusts(nobody), "{mode:o}");
            assert!(dir(nobody, mode).trusts(nobody), "{mode:o}");
            assert!(!dir(nobody, mode).trusts(other), "{mode:o}");
        }
        // Not sticky, or not shared: whoever could plant there could also
        // remove our file; anyone's FIFO is written in place.
        for mode in [0o777, 0o775, 0o1755, 0o1700, 0o755] {
            assert!(dir(root, mode).trusts(nobody), "{mode:o}");
        }
        let unprivileged = Dir {
            euid: nobody,
            ..dir(other, 0o1777)
        };
        assert!(unprivileged.trusts(nobody));
        assert!(unprivileged.trusts(other));
        assert!(!unprivileged.trusts(root));
    }

    #[test]
    fn paths_split_into_directory_and_name() {
        let split = |p: &str| {
            split(Path::new(p)).map(|(d, n)| {
                (
                    d.to_string_lossy().into_owned(),
                    n.to_string_lossy().into_owned(),
                )
            })
        };
        assert_eq!(split("port"), Ok((".".into(), "port".into())));
        assert_eq!(split("/tmp/port"), Ok(("/tmp".into(), "port".into())));
        assert_eq!(split("a/b/port"), Ok(("a/b".into(), "port".into())));
        assert_eq!(split("/"), Err(Errno::ISDIR));
        assert_eq!(split("a/.."), Err(Errno::ISDIR));
    }
}
