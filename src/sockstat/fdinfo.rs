//! One socket fd seen from user space, for `--explain`: its `struct file`
//! as `/proc/PID/fdinfo/FD` shows it, the inode `stat` finds behind
//! `/proc/PID/fd/FD`, and the name `sock_alloc_file()` gave the file
//! (`getxattr system.sockprotoname`).

use crate::io::{open_at, read_some, retry};
use rustix::fs::{CWD, OFlags};

/// fdinfo of a socket is four or five short lines; a larger file is not a
/// socket's (the fd was reused for an epoll or inotify fd meanwhile).
const FDINFO_MAX: usize = 4096;

/// `struct file` fields from `/proc/PID/fdinfo/FD`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileInfo {
    /// `flags:`, read as octal: `file->f_flags`, plus `O_CLOEXEC` when the
    /// fd (not the file) has close-on-exec set.
    pub flags: u32,
    /// `pos:`, the file offset (always 0 for a socket).
    pub pos: u64,
    /// `mnt_id:`, the mount the file was opened on (sockfs's internal one).
    pub mnt_id: Option<u64>,
    /// `ino:`, the inode number (Linux 5.14 and later).
    pub ino: Option<u64>,
    /// `scm_fds:`, fds sent over this unix socket and not yet received
    /// (Linux 6.x, unix sockets only).
    pub scm_fds: Option<u64>,
}

/// The inode behind the fd, from `stat("/proc/PID/fd/FD")`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InodeInfo {
    /// `st_dev`'s major number (0: a filesystem with no block device).
    pub dev_major: u32,
    /// `st_dev`'s minor number (sockfs's anonymous device).
    pub dev_minor: u32,
    /// `st_ino`.
    pub ino: u64,
    /// `st_mode` (`S_IFSOCK | 0777` for a socket).
    pub mode: u32,
    /// `st_uid`: the fsuid of the process that created the socket.
    pub uid: u32,
}

/// What user space can read about one socket fd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FdInfo {
    /// The `struct file`.
    pub file: FileInfo,
    /// The inode.
    pub inode: InodeInfo,
    /// The file's name on sockfs, as `sock_alloc_file()` set it from the
    /// protocol (`TCP`, `UNIX-STREAM`); `None` if the xattr was refused.
    pub proto_name: Option<Vec<u8>>,
}

/// Why an fd could not be described.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// The fd was closed, or now holds something else.
    Gone,
    /// Reading it was refused (`errno`).
    Denied(rustix::io::Errno),
}

/// `open`+`read` of `/proc/PID/fdinfo/FD`, `stat` of `/proc/PID/fd/FD`,
/// `getxattr(…, "system.sockprotoname")`: the fd's file and inode, as long
/// as both still name socket `inode` (an fd closed and reused in between is
/// [`Unreadable::Gone`]).
///
/// # Errors
/// [`Unreadable::Denied`] on `EACCES`/`EPERM` (another user's process),
/// [`Unreadable::Gone`] for anything else (`ENOENT`, `ESRCH`, a mismatch).
///
/// # References
///  - [proc_pid_fdinfo(5)]
///  - [stat(2)]
///
/// [proc_pid_fdinfo(5)]: https://man7.org/linux/man-pages/man5/proc_pid_fdinfo.5.html
/// [stat(2)]: https://man7.org/linux/man-pages/man2/stat.2.html
pub fn read(pid: u32, fd: u32, inode: u64) -> Result<FdInfo, Unreadable> {
    let failed = |errno| match errno {
        rustix::io::Errno::ACCESS | rustix::io::Errno::PERM => Unreadable::Denied(errno),
        _ => Unreadable::Gone,
    };
    let text = read_bounded(&format!("/proc/{pid}/fdinfo/{fd}")).map_err(failed)?;
    let file = parse_fdinfo(&text).ok_or(Unreadable::Gone)?;
    let link = format!("/proc/{pid}/fd/{fd}");
    let stat = retry(|| rustix::fs::stat(link.as_str())).map_err(failed)?;
    let inode_info = InodeInfo {
        dev_major: rustix::fs::major(stat.st_dev),
        dev_minor: rustix::fs::minor(stat.st_dev),
        ino: stat.st_ino,
        mode: stat.st_mode,
        uid: stat.st_uid,
    };
    if inode_info.ino != inode || file.ino.is_some_and(|ino| ino != inode) {
        return Err(Unreadable::Gone);
    }
    let mut name = [0u8; 64];
    let proto_name =
        retry(|| rustix::fs::getxattr(link.as_str(), c"system.sockprotoname", &mut name[..]))
            .ok()
            .and_then(|len| name.get(..len))
            .map(|name| name.strip_suffix(b"\0").unwrap_or(name).to_vec());
    Ok(FdInfo {
        file,
        inode: inode_info,
        proto_name,
    })
}

fn read_bounded(path: &str) -> Result<Vec<u8>, rustix::io::Errno> {
    let path = std::ffi::CString::new(path).map_err(|_| rustix::io::Errno::INVAL)?;
    let file = open_at(CWD, &path, OFlags::RDONLY)?;
    let mut buf = vec![0u8; FDINFO_MAX];
    let mut len = 0;
    while let Some(rest) = buf.get_mut(len..).filter(|rest| !rest.is_empty()) {
        match read_some(&file, rest)? {
            0 => break,
            n => len += n,
        }
    }
    buf.truncate(len);
    Ok(buf)
}

/// The fields of an fdinfo text; `None` without the `pos:` and `flags:`
/// every fdinfo has, or with a value that is not a number.
pub fn parse_fdinfo(text: &[u8]) -> Option<FileInfo> {
    let (mut pos, mut flags) = (None, None);
    let mut info = FileInfo::default();
    for line in text.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (key, value) = (line.get(..colon)?, line.get(colon + 1..)?.trim_ascii());
        match key {
            b"pos" => pos = Some(crate::decimal::parse::<u64>(value)?),
            b"flags" => flags = Some(octal(value)?),
            b"mnt_id" => info.mnt_id = Some(crate::decimal::parse(value)?),
            b"ino" => info.ino = Some(crate::decimal::parse(value)?),
            b"scm_fds" => info.scm_fds = Some(crate::decimal::parse(value)?),
            _ => {}
        }
    }
    info.pos = pos?;
    info.flags = flags?;
    Some(info)
}

fn octal(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 11 {
        return None;
    }
    digits.iter().try_fold(0u32, |n, &d| match d {
        b'0'..=b'7' => n.checked_mul(8)?.checked_add(u32::from(d - b'0')),
        _ => None,
    })
}

/// The `O_*` names of `flags` (access mode first), and the bits no name
/// covers.
pub fn flag_names(flags: u32) -> (Vec<&'static str>, u32) {
    let access = OFlags::ACCMODE.bits();
    let mut names = vec![match flags & access {
        a if a == OFlags::WRONLY.bits() => "O_WRONLY",
        a if a == OFlags::RDWR.bits() => "O_RDWR",
        0 => "O_RDONLY",
        _ => "O_ACCMODE",
    }];
    let named = [
        (OFlags::APPEND, "O_APPEND"),
        (OFlags::NONBLOCK, "O_NONBLOCK"),
        (OFlags::ASYNC, "O_ASYNC"),
        (OFlags::DIRECT, "O_DIRECT"),
        (OFlags::LARGEFILE, "O_LARGEFILE"),
        (OFlags::NOATIME, "O_NOATIME"),
        (OFlags::CLOEXEC, "O_CLOEXEC"),
        (OFlags::PATH, "O_PATH"),
    ];
    let mut rest = flags & !access;
    for (flag, name) in named {
        // A flag some architecture defines as 0 is never "set".
        if flag.bits() != 0 && flags & flag.bits() == flag.bits() {
            names.push(name);
            rest &= !flag.bits();
        }
    }
    (names, rest)
}

/// Whether the fd (not the file) has close-on-exec: fdinfo adds
/// `O_CLOEXEC` to `f_flags` from the fd table.
pub fn close_on_exec(flags: u32) -> bool {
    flags & OFlags::CLOEXEC.bits() != 0
}

/// Whether reads and writes on the file return `EAGAIN` instead of waiting.
pub fn nonblocking(flags: u32) -> bool {
    flags & OFlags::NONBLOCK.bits() != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sockstat::testing::{garbage, mutate};

    const SOCKET: &[u8] = b"pos:\t0\nflags:\t02004002\nmnt_id:\t10\nino:\t25232527\n";

    #[test]
    fn a_sockets_fdinfo() {
        let info = parse_fdinfo(SOCKET).unwrap_or_default();
        assert_eq!(info.pos, 0);
        assert_eq!(info.flags, 0o2004002);
        assert_eq!(info.mnt_id, Some(10));
        assert_eq!(info.ino, Some(25232527));
        assert_eq!(info.scm_fds, None);
        assert!(close_on_exec(info.flags) && nonblocking(info.flags));
        let unix = parse_fdinfo(b"pos:\t0\nflags:\t02\nmnt_id:\t10\nino:\t7\nscm_fds: 3\n");
        assert_eq!(unix.and_then(|u| u.scm_fds), Some(3));
        // Old kernels: no ino line.
        let old = parse_fdinfo(b"pos:\t0\nflags:\t02\nmnt_id:\t9\n");
        assert_eq!(old.map(|o| (o.ino, o.flags)), Some((None, 2)));
    }

    #[test]
    fn flags_decode_by_name_with_the_rest_in_octal() {
        assert_eq!(
            flag_names(0o2004002),
            (vec!["O_RDWR", "O_NONBLOCK", "O_CLOEXEC"], 0)
        );
        assert_eq!(flag_names(0o2), (vec!["O_RDWR"], 0));
        assert_eq!(flag_names(0), (vec!["O_RDONLY"], 0));
        let (names, rest) = flag_names(0o2 | 0o10000000000);
        assert_eq!(names, vec!["O_RDWR"]);
        assert_eq!(rest, 0o10000000000);
        assert!(!close_on_exec(0o4002) && nonblocking(0o4002));
    }

    #[test]
    fn bad_fdinfo_is_none_never_a_panic() {
        for bad in [
            &b""[..],
            b"flags:\t02\n",
            b"pos:\t0\n",
            b"pos:\tx\nflags:\t02\n",
            b"pos:\t0\nflags:\t9\n",
            b"pos:\t0\nflags:\t077777777777\n",
            b"pos:\t0\nflags:\t\n",
            b"pos:\t0\nflags:\t02\nino:\t-1\n",
        ] {
            assert_eq!(
                parse_fdinfo(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        for cut in 0..SOCKET.len() {
            let _ = parse_fdinfo(&SOCKET[..cut]);
        }
        for seed in 0..5000 {
            let _ = parse_fdinfo(&mutate(seed, SOCKET));
            let _ = parse_fdinfo(&garbage(seed, b"pos:flags\t\n0127"));
        }
    }

    #[test]
    fn our_own_socket_reads_back() {
        let sock = rustix::net::socket_with(
            rustix::net::AddressFamily::INET,
            rustix::net::SocketType::STREAM,
            rustix::net::SocketFlags::NONBLOCK | rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .unwrap_or_else(|e| panic!("socket: {e}"));
        let fd = rustix::fd::AsRawFd::as_raw_fd(&sock).unsigned_abs();
        let pid = rustix::process::getpid()
            .as_raw_nonzero()
            .get()
            .unsigned_abs();
        let stat = rustix::fs::fstat(&sock).unwrap_or_else(|e| panic!("fstat: {e}"));
        let info = read(pid, fd, stat.st_ino).unwrap_or_else(|e| panic!("read: {e:?}"));
        assert!(nonblocking(info.file.flags) && close_on_exec(info.file.flags));
        assert_eq!(info.inode.ino, stat.st_ino);
        assert_eq!(info.proto_name.as_deref(), Some(&b"TCP"[..]));
        assert_eq!(info.inode.mode & 0o170000, 0o140000, "S_IFSOCK");
        assert_eq!(read(pid, fd, stat.st_ino + 1), Err(Unreadable::Gone));
    }
}
