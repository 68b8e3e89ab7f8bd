//! The fd walk: `/proc` → `/proc/PID/fd` → `socket:[INODE]`, on directory
//! fds, one `getdents` per directory and one `readlinkat` per fd, spread over
//! worker threads. This is where `ss -p` spends its time.

use super::record::{InetProto, IpVersion, Table};
use crate::error::{Error, Result};
use crate::io::open_at;
use core::fmt::Write as _;
use core::mem::MaybeUninit;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{OFlags, RawDir};
use rustix::io::Errno;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// An fd that holds a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Holder {
    /// The process.
    pub pid: u32,
    /// The fd number in that process.
    pub fd: u32,
    /// The socket's inode, from `socket:[INODE]`.
    pub inode: u64,
}

/// A process that holds at least one socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    /// Its pid.
    pub pid: u32,
    /// The owner of `/proc/PID`: the effective uid, as `ps` shows it (one
    /// `fstat` on a directory fd we hold anyway, where `status` would be a
    /// file to open, have the kernel format and parse). For a non-dumpable
    /// process the kernel reports root here. `None` if it exited first.
    pub uid: Option<u32>,
    /// `/proc/PID/comm`, without its newline.
    pub comm: Vec<u8>,
    /// The inode of its network namespace, when we may know it.
    pub netns: Option<u64>,
}

/// What the walk skipped, for `-v`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalkStats {
    /// Processes looked at.
    pub processes: usize,
    /// fds read.
    pub fds: usize,
    /// Processes whose fds we may not read (`EACCES`, `EPERM`).
    pub denied: usize,
    /// Processes or fds gone before we got to them.
    pub vanished: usize,
}

/// The walk's result: every socket fd seen and its process.
#[derive(Debug, Default)]
pub struct Walk {
    /// Socket fds, in no particular order.
    pub holders: Vec<Holder>,
    /// The processes that hold them.
    pub processes: Vec<Process>,
    /// What was skipped.
    pub stats: WalkStats,
}

/// What the walk tells of each network namespace it finds: its inode, the
/// pid of a process in it, that process's `/proc/PID` directory.
pub type FoundNetns<'a> = dyn Fn(u64, u32, BorrowedFd<'_>) + Sync + 'a;

/// Which processes to walk.
#[derive(Clone, Copy)]
pub struct Selection<'a> {
    /// Only the processes among these (`--pid`; a thread id is not a
    /// process), or every process in `/proc`.
    pub pids: Option<&'a [u32]>,
    /// Only processes whose comm is this (`--comm`).
    pub comm: Option<&'a [u8]>,
    /// Worker threads to spread the processes over.
    pub threads: usize,
    /// Only processes in the network namespace with this inode (`--netns`).
    pub netns: Option<u64>,
    /// Told of each walked process's network namespace as the walk finds
    /// it (inode, pid, the process's `/proc/PID` directory), so that its
    /// sockets can be looked up in the meantime.
    pub found_netns: Option<&'a FoundNetns<'a>>,
}

/// Walks the selected processes' fd tables.
///
/// # Errors
/// Only when `/proc` itself cannot be opened or listed; anything that goes
/// wrong for one process or fd skips that process or fd.
pub fn walk(selection: Selection<'_>) -> Result<Walk> {
    let proc_dir =
        open_dir(rustix::fs::CWD, c"/proc").map_err(|errno| Error::on("open", "/proc", errno))?;
    let own = rustix::process::getpid()
        .as_raw_nonzero()
        .get()
        .unsigned_abs();
    let mut pids =
        list_pids(proc_dir.as_fd()).map_err(|errno| Error::on("getdents", "/proc", errno))?;
    if let Some(wanted) = selection.pids {
        // `/proc/TID` opens for any thread, but only processes are listed:
        // a thread id selects nothing, as with `ps -p` and `lsof -p`,
        // rather than its whole process again under the thread's name.
        let mut wanted = wanted.to_vec();
        wanted.sort_unstable();
        pids.retain(|pid| wanted.binary_search(pid).is_ok());
    }
    // sockstat's own fds (its netlink socket, /proc directories) are not
    // what anyone asked about, and change from run to run.
    pids.retain(|&pid| pid != own);
    pids.sort_unstable();
    pids.dedup();

    let threads = selection.threads.max(1);
    let queue = Queue {
        proc_dir: proc_dir.as_fd(),
        pids: &pids,
        comm: selection.comm,
        netns: selection.netns,
        found_netns: selection.found_netns,
        split: threads > 1,
        state: Mutex::new(QueueState::default()),
        changed: Condvar::new(),
    };
    let mut result = Walk::default();
    if threads == 1 || pids.is_empty() {
        queue.work(&mut result);
        return Ok(result);
    }
    let parts: Vec<Walk> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Walk::default();
                    queue.work(&mut out);
                    out
                })
            })
            .collect();
        queue.work(&mut result);
        // A walker that panicked must not leave a listing short in silence.
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    for part in parts {
        result.holders.extend(part.holders);
        result.processes.extend(part.processes);
        result.stats.processes += part.stats.processes;
        result.stats.fds += part.stats.fds;
        result.stats.denied += part.stats.denied;
        result.stats.vanished += part.stats.vanished;
    }
    Ok(result)
}

/// Processes with more fds than this have their `readlinkat`s shared out
/// in chunks of [`CHUNK`], so one process holding most of the sockets (a
/// server with 20,000 connections) still keeps every worker busy.
const SPLIT_ABOVE: usize = 1024;
/// fds per shared chunk.
const CHUNK: usize = 512;

/// fds of one process for any worker to read.
struct Chunk {
    pid: u32,
    dir: Arc<OwnedFd>,
    fds: Vec<u32>,
}

#[derive(Default)]
struct QueueState {
    /// Index of the next pid to list.
    next_pid: usize,
    /// Chunks waiting for a worker.
    chunks: Vec<Chunk>,
    /// Workers listing a process right now, who may yet add chunks.
    listing: usize,
}

/// The work the walkers share: pids to list, then chunks of big processes.
struct Queue<'a> {
    proc_dir: BorrowedFd<'a>,
    pids: &'a [u32],
    comm: Option<&'a [u8]>,
    netns: Option<u64>,
    found_netns: Option<&'a FoundNetns<'a>>,
    split: bool,
    state: Mutex<QueueState>,
    changed: Condvar,
}

enum Task {
    Chunk(Chunk),
    Pid(u32),
    Done,
}

/// Buffers one worker reuses for every process.
struct Scratch {
    dirents: Vec<MaybeUninit<u8>>,
    fds: Vec<u32>,
    link: [u8; 64],
    name: String,
}

impl Queue<'_> {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // Nothing panics while holding the lock; a poisoned one is as good.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn next_task(&self) -> Task {
        let mut state = self.lock();
        loop {
            if let Some(chunk) = state.chunks.pop() {
                return Task::Chunk(chunk);
            }
            if let Some(&pid) = self.pids.get(state.next_pid) {
                state.next_pid += 1;
                state.listing += 1;
                return Task::Pid(pid);
            }
            if state.listing == 0 {
                return Task::Done;
            }
            // Another worker is listing a process and may share its fds.
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn work(&self, out: &mut Walk) {
        let mut scratch = Scratch {
            dirents: vec![MaybeUninit::<u8>::uninit(); 32 * 1024],
            fds: Vec::new(),
            link: [0u8; 64],
            name: String::new(),
        };
        loop {
            match self.next_task() {
                Task::Chunk(chunk) => {
                    read_links(chunk.dir.as_fd(), chunk.pid, &chunk.fds, out, &mut scratch);
                }
                Task::Pid(pid) => {
                    self.walk_process(pid, out, &mut scratch);
                    self.lock().listing -= 1;
                    self.changed.notify_all();
                }
                Task::Done => return,
            }
        }
    }

    fn share(&self, chunks: impl Iterator<Item = Chunk>) {
        self.lock().chunks.extend(chunks);
        self.changed.notify_all();
    }

    fn walk_process(&self, pid: u32, out: &mut Walk, scratch: &mut Scratch) {
        let name = std::ffi::CString::new(pid.to_string()).map_err(|_| Errno::INVAL);
        let opened =
            name.and_then(|name| open_at(self.proc_dir, &name, OFlags::PATH | OFlags::DIRECTORY));
        let pid_dir = match opened {
            Ok(fd) => fd,
            Err(errno) => return count(&mut out.stats, pid, classify(errno), errno),
        };
        out.stats.processes += 1;
        let mut comm = None;
        if let Some(want) = self.comm {
            let Ok(got) = read_comm(pid_dir.as_fd()) else {
                out.stats.vanished += 1;
                return;
            };
            if !comm_matches(&got, want) {
                return;
            }
            comm = Some(got);
        }
        let netns = super::netns::of_process(pid_dir.as_fd());
        if self.netns.is_some() && netns != self.netns {
            return;
        }
        if let (Some(found), Some(inode)) = (self.found_netns, netns) {
            found(inode, pid, pid_dir.as_fd());
        }
        let fd_dir = match open_dir(pid_dir.as_fd(), c"fd") {
            Ok(fd) => fd,
            Err(errno) => return count(&mut out.stats, pid, classify(errno), errno),
        };
        let mut fds = core::mem::take(&mut scratch.fds);
        fds.clear();
        if let Err(errno) = numbered_entries(fd_dir.as_fd(), &mut scratch.dirents, &mut fds) {
            count(&mut out.stats, pid, classify(errno), errno);
        }
        let process = |comm: Option<Vec<u8>>| Process {
            pid,
            uid: rustix::fs::fstat(&pid_dir).ok().map(|stat| stat.st_uid),
            comm: comm
                .or_else(|| read_comm(pid_dir.as_fd()).ok())
                .unwrap_or_default(),
            netns,
        };
        if self.split && fds.len() > SPLIT_ABOVE {
            // Several workers will find its sockets: record the process now
            // rather than after whichever chunk ends last.
            out.processes.push(process(comm));
            let dir = Arc::new(fd_dir);
            let (mine, rest) = fds.split_at(CHUNK.min(fds.len()));
            self.share(rest.chunks(CHUNK).map(|part| Chunk {
                pid,
                dir: Arc::clone(&dir),
                fds: part.to_vec(),
            }));
            read_links(dir.as_fd(), pid, mine, out, scratch);
        } else if read_links(fd_dir.as_fd(), pid, &fds, out, scratch) {
            out.processes.push(process(comm));
        }
        scratch.fds = fds;
    }
}

/// `readlinkat(dir, "FD")` for each fd; sockets go to `out.holders`.
/// Returns whether any fd was a socket.
fn read_links(
    dir: BorrowedFd<'_>,
    pid: u32,
    fds: &[u32],
    out: &mut Walk,
    scratch: &mut Scratch,
) -> bool {
    let before = out.holders.len();
    for &fd in fds {
        out.stats.fds += 1;
        scratch.name.clear();
        let _ = write!(scratch.name, "{fd}");
        match rustix::fs::readlinkat_raw(dir, scratch.name.as_str(), &mut scratch.link[..]) {
            Ok(len) => {
                if let Some(inode) = scratch.link.get(..len).and_then(parse_socket_link) {
                    out.holders.push(Holder { pid, fd, inode });
                }
            }
            // A process whose fd links we may list but not read (an LSM or
            // ptrace rule): none of its fds will read either.
            Err(errno @ (Errno::ACCESS | Errno::PERM)) => {
                count(&mut out.stats, pid, Skip::Denied, errno);
                break;
            }
            // The fd was closed between getdents and readlinkat.
            Err(errno) => {
                out.stats.vanished += 1;
                log::trace!("pid {pid} fd {fd}: {}", crate::error::describe_errno(errno));
            }
        }
    }
    out.holders.len() > before
}

fn open_dir(at: BorrowedFd<'_>, path: &core::ffi::CStr) -> core::result::Result<OwnedFd, Errno> {
    open_at(at, path, OFlags::RDONLY | OFlags::DIRECTORY)
}

/// `getdents("/proc")`: the pids of every process (not of their other
/// threads), sorted.
///
/// # Errors
/// `/proc` cannot be opened or listed.
pub fn processes() -> Result<Vec<u32>> {
    let proc_dir =
        open_dir(rustix::fs::CWD, c"/proc").map_err(|errno| Error::on("open", "/proc", errno))?;
    let mut pids =
        list_pids(proc_dir.as_fd()).map_err(|errno| Error::on("getdents", "/proc", errno))?;
    pids.sort_unstable();
    Ok(pids)
}

fn list_pids(proc_dir: BorrowedFd<'_>) -> core::result::Result<Vec<u32>, Errno> {
    let mut buf = vec![MaybeUninit::<u8>::uninit(); 32 * 1024];
    let mut pids = Vec::new();
    numbered_entries(proc_dir, &mut buf, &mut pids)?;
    Ok(pids)
}

/// Appends to `out` the names in `dir` that are exactly a decimal number
/// (pids in `/proc`, fds in `/proc/PID/fd`; not `self`, `.` or `..`).
/// On an error, `out` keeps what was listed before it.
fn numbered_entries(
    dir: BorrowedFd<'_>,
    buf: &mut [MaybeUninit<u8>],
    out: &mut Vec<u32>,
) -> core::result::Result<(), Errno> {
    let mut entries = RawDir::new(dir, buf);
    while let Some(entry) = entries.next() {
        out.extend(crate::decimal::parse::<u32>(entry?.file_name().to_bytes()));
    }
    Ok(())
}

/// The inode in a `socket:[INODE]` link target.
pub fn parse_socket_link(target: &[u8]) -> Option<u64> {
    crate::decimal::parse(target.strip_prefix(b"socket:[")?.strip_suffix(b"]")?)
}

/// `getxattr("/proc/PID/fd/FD", "system.sockprotoname")`—the table that
/// lists the socket an fd holds, by the name sockfs gives its protocol —
/// then `readlink` of the same link, so that an fd closed and reused in
/// between is not taken for socket `inode`.
///
/// The kernel's own word on what a socket is, for the few sockets the
/// tables leave in doubt; one path lookup each, so not for every fd.
///
/// `None`: a protocol sockstat has no table for (netlink, packet, …), or
/// the fd no longer holds `socket:[INODE]`.
///
/// # References
///  - [Linux] `sockfs_xattr_handler` in `net/socket.c`
///
/// [Linux]: https://man7.org/linux/man-pages/man2/getxattr.2.html
pub fn socket_table(pid: u32, fd: u32, inode: u64) -> Option<Table> {
    let path = format!("/proc/{pid}/fd/{fd}");
    let mut name = [0u8; 32];
    let len = crate::io::retry(|| {
        rustix::fs::getxattr(path.as_str(), c"system.sockprotoname", &mut name[..])
    })
    .ok()?;
    let mut link = [0u8; 64];
    let link_len = crate::io::retry(|| {
        rustix::fs::readlinkat_raw(rustix::fs::CWD, path.as_str(), &mut link[..])
    })
    .ok()?;
    if link.get(..link_len).and_then(parse_socket_link) != Some(inode) {
        return None;
    }
    let name = name.get(..len)?;
    let name = name.strip_suffix(b"\0").unwrap_or(name);
    match name {
        b"TCP" => Some(Table::Inet(InetProto::Tcp, IpVersion::V4)),
        b"TCPv6" => Some(Table::Inet(InetProto::Tcp, IpVersion::V6)),
        b"UDP" => Some(Table::Inet(InetProto::Udp, IpVersion::V4)),
        b"UDPv6" => Some(Table::Inet(InetProto::Udp, IpVersion::V6)),
        // Newer kernels name stream sockets "UNIX-STREAM"; datagram and
        // seqpacket ones, and every unix socket before, are "UNIX".
        b"UNIX" | b"UNIX-STREAM" => Some(Table::Unix),
        _ => None,
    }
}

enum Skip {
    Denied,
    Vanished,
}

fn classify(errno: Errno) -> Skip {
    match errno {
        Errno::ACCESS | Errno::PERM => Skip::Denied,
        // ENOENT/ESRCH: the process exited; anything else odd about one
        // process is not worth failing the whole listing for either.
        _ => Skip::Vanished,
    }
}

fn count(stats: &mut WalkStats, pid: u32, skip: Skip, errno: Errno) {
    match skip {
        Skip::Denied => stats.denied += 1,
        Skip::Vanished => stats.vanished += 1,
    }
    log::trace!(
        "skipping pid {pid}: {}",
        crate::error::describe_errno(errno)
    );
}

/// Whether a process's comm is the `--comm` name: the kernel keeps only
/// the first 15 bytes (`TASK_COMM_LEN - 1`), so a longer name matches its
/// truncation.
pub fn comm_matches(comm: &[u8], want: &[u8]) -> bool {
    const TASK_COMM_MAX: usize = 15;
    comm == want
        || (comm.len() == TASK_COMM_MAX && want.len() > TASK_COMM_MAX && want.starts_with(comm))
}

fn read_comm(pid_dir: BorrowedFd<'_>) -> core::result::Result<Vec<u8>, Errno> {
    // TASK_COMM_LEN is 16: one read into a stack buffer holds it all.
    let file = open_at(pid_dir, c"comm", OFlags::RDONLY)?;
    let mut buf = [0u8; 64];
    let len = crate::io::read_some(&file, &mut buf)?;
    let mut comm = buf.get(..len).unwrap_or_default();
    while let [rest @ .., b'\n'] = comm {
        comm = rest;
    }
    Ok(comm.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_links() {
        assert_eq!(parse_socket_link(b"socket:[2983311]"), Some(2_983_311));
        for bad in [
            &b"socket:[]"[..],
            b"socket:[12",
            b"socket:[1x]",
            b"pipe:[12]",
            b"/dev/null",
            b"socket:[99999999999999999999999]",
            b"",
        ] {
            assert_eq!(parse_socket_link(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn decimals() {
        // The names a directory of pids or fds may hold, as files in a
        // directory of our own ("" cannot be a name; "." is there anyway).
        let dir = std::env::temp_dir().join(format!("sockstat-decimals-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        for name in ["4121", "4294967295", "4294967296", "self", "+7", "12x"] {
            std::fs::write(dir.join(name), b"").unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        let listed = open_dir(rustix::fs::CWD, &path).and_then(|fd| list_pids(fd.as_fd()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut pids = listed.unwrap_or_else(|e| panic!("list {}: {e}", dir.display()));
        pids.sort_unstable();
        assert_eq!(pids, vec![4121, u32::MAX]);
    }

    #[test]
    fn comm_names_match_their_truncation() {
        assert!(comm_matches(b"sockd", b"sockd"));
        assert!(!comm_matches(b"sockd", b"sock"));
        assert!(comm_matches(b"hold_sockets_lo", b"hold_sockets_long_name"));
        assert!(!comm_matches(b"hold_sockets_lo", b"hold_sockets_lx_more"));
        assert!(!comm_matches(b"short", b"short_but_longer_than_15"));
    }

    #[test]
    fn an_absent_pid_is_skipped_quietly() {
        let walk = walk(Selection {
            pids: Some(&[u32::MAX]),
            comm: None,
            threads: 2,
            netns: None,
            found_netns: None,
        });
        let walk = walk.unwrap_or_default();
        assert!(walk.holders.is_empty());
        assert_eq!(walk.stats, WalkStats::default());
    }
}
