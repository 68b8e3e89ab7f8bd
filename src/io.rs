//! The edges the raw calls leave to us: `EINTR`, partial writes, `EPIPE`.
//!
//! Every program reads and writes through these, so a short write or an
//! interrupted call is handled in one place.

use crate::error::{Error, Result};
use core::time::Duration;
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::net::{RecvFlags, SendFlags};
use std::time::Instant;

mod output;
pub mod stderr;

pub use output::{Flushed, OutputQueue, Pushed};

/// Calls `f` again for as long as it fails with `EINTR`: for syscalls that
/// may simply be restarted (`accept4`, `openat`, `sendto`, `recv`).
///
/// Not for `connect` (see [`start_connect`]) nor for calls with a timeout
/// (see [`poll`]), where a restart would change what the call means.
///
/// # Errors
/// The first errno other than `EINTR`.
pub fn retry<T>(
    mut f: impl FnMut() -> core::result::Result<T, Errno>,
) -> core::result::Result<T, Errno> {
    loop {
        match f() {
            Err(Errno::INTR) => continue,
            other => return other,
        }
    }
}

/// `write(2)` until all of `bytes` is written, across partial writes and `EINTR`.
///
/// # Errors
/// The first errno other than `EINTR` (`EAGAIN` on a non-blocking fd, `EPIPE`).
pub fn write_all(fd: impl AsFd, mut bytes: &[u8]) -> core::result::Result<(), Errno> {
    while !bytes.is_empty() {
        match rustix::io::write(fd.as_fd(), bytes) {
            Ok(0) => return Err(Errno::PIPE),
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::INTR) => continue,
            Err(errno) => return Err(errno),
        }
    }
    Ok(())
}

/// `write(2)` until all of `bytes` is written to a fd that may be
/// non-blocking: on `EAGAIN` it polls for room, or for `cancel` to become
/// readable (a stop signal), so a reader that never reads cannot hold the
/// caller. `Ok(false)`: `cancel` came first.
///
/// # Errors
/// The first errno other than `EINTR` and `EAGAIN` (`EPIPE`, `EBADF`).
pub fn write_all_unless(
    fd: impl AsFd,
    mut bytes: &[u8],
    cancel: BorrowedFd<'_>,
) -> core::result::Result<bool, Errno> {
    while !bytes.is_empty() {
        match retry(|| rustix::io::write(fd.as_fd(), bytes)) {
            Ok(0) => return Err(Errno::PIPE),
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::AGAIN) => {
                if !writable_unless(&fd, cancel)? {
                    return Ok(false);
                }
            }
            Err(errno) => return Err(errno),
        }
    }
    Ok(true)
}

/// `write(2)` until all of `bytes` is written to a fd that may be
/// non-blocking: on `EAGAIN` it waits in `poll(2)` for room, with no limit.
/// A stdout handed to us non-blocking (a file description another process
/// set `O_NONBLOCK` on) is then waited for like a blocking one, not failed.
///
/// # Errors
/// The first errno other than `EINTR` and `EAGAIN` (`EPIPE`, `EBADF`, `EIO`).
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/write.2.html)
///  - [Linux](https://man7.org/linux/man-pages/man2/poll.2.html)
pub fn write_all_waiting(fd: impl AsFd, mut bytes: &[u8]) -> core::result::Result<(), Errno> {
    while !bytes.is_empty() {
        match retry(|| rustix::io::write(fd.as_fd(), bytes)) {
            Ok(0) => return Err(Errno::PIPE),
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::AGAIN) => {
                // A reader that left makes this POLLERR: the write then says EPIPE.
                let mut fds = [PollFd::new(&fd, PollFlags::OUT)];
                poll(&mut fds, None)?;
            }
            Err(errno) => return Err(errno),
        }
    }
    Ok(())
}

/// The most one `write(2)` of [`write_all_polled`] carries: `PIPE_BUF`, what
/// a pipe that polled writable takes whole, at once, without interleaving.
pub const PIPE_BUF: usize = 4096;

/// `poll(2)` for room, then `write(2)` of at most [`PIPE_BUF`] bytes, until
/// all of `bytes` is written or `cancel` becomes readable (`Ok(false)`).
///
/// Waiting in `poll` rather than in a blocking `write` is what lets a stop
/// signal end the wait for an output nobody reads (a paused `| less`, a
/// terminal at Ctrl-S), on a blocking fd as on a non-blocking one: a pipe
/// that polls writable has room for `PIPE_BUF` bytes, and a stopped
/// terminal does not poll writable. (A terminal stopped in the middle of a
/// write can still hold that write: nothing short of `O_NONBLOCK` on a
/// file description others share would avoid it.)
///
/// # Errors
/// The first errno other than `EINTR` and `EAGAIN` (`EPIPE`, `EBADF`, `EIO`).
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/poll.2.html)
///  - [Linux](https://man7.org/linux/man-pages/man7/pipe.7.html)
pub fn write_all_polled(
    fd: impl AsFd,
    mut bytes: &[u8],
    cancel: BorrowedFd<'_>,
) -> core::result::Result<bool, Errno> {
    while !bytes.is_empty() {
        if !writable_unless(&fd, cancel)? {
            return Ok(false);
        }
        let piece = &bytes[..bytes.len().min(PIPE_BUF)];
        match retry(|| rustix::io::write(fd.as_fd(), piece)) {
            Ok(0) => return Err(Errno::PIPE),
            Ok(n) => bytes = &bytes[n..],
            // Another writer of a shared pipe took the room first.
            Err(Errno::AGAIN) => {}
            Err(errno) => return Err(errno),
        }
    }
    Ok(true)
}

/// Waits until `fd` has room to write or `cancel` is readable;
/// `Ok(false)` when `cancel` came first.
fn writable_unless(fd: impl AsFd, cancel: BorrowedFd<'_>) -> core::result::Result<bool, Errno> {
    let mut fds = [
        PollFd::new(&fd, PollFlags::OUT),
        PollFd::from_borrowed_fd(cancel, PollFlags::IN),
    ];
    poll(&mut fds, None)?;
    Ok(fds[1].revents().is_empty())
}

/// `send(2)` with `MSG_NOSIGNAL` until all of `bytes` is sent, across partial
/// sends and `EINTR`: a peer that went away is an `EPIPE`, never a SIGPIPE.
///
/// # Errors
/// The first errno other than `EINTR` (`EPIPE`, `ECONNRESET`, `EAGAIN`).
pub fn send_all(fd: impl AsFd, mut bytes: &[u8]) -> core::result::Result<(), Errno> {
    while !bytes.is_empty() {
        match send_some(fd.as_fd(), bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(errno) => return Err(errno),
        }
    }
    Ok(())
}

/// One `send(2)` with `MSG_NOSIGNAL`, retried on `EINTR`; may send less.
///
/// # Errors
/// `EAGAIN` on a full non-blocking socket, `EPIPE`, `ECONNRESET`.
pub fn send_some(fd: impl AsFd, bytes: &[u8]) -> core::result::Result<usize, Errno> {
    loop {
        match rustix::net::send(fd.as_fd(), bytes, SendFlags::NOSIGNAL) {
            Err(Errno::INTR) => continue,
            other => return other,
        }
    }
}

/// One `splice(2)` of up to `len` bytes from `from` to `to` (one of them a
/// pipe), `SPLICE_F_NONBLOCK | SPLICE_F_MOVE`, retried on `EINTR`; `Ok(0)`
/// is the end of a socket's stream. The bytes never reach user space.
///
/// # Errors
/// `EAGAIN` (nothing to read, or no room to write), `EPIPE`, `ECONNRESET`,
/// `EINVAL` (neither end a pipe).
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/splice.2.html)
pub fn splice_some(
    from: impl AsFd,
    to: impl AsFd,
    len: usize,
) -> core::result::Result<usize, Errno> {
    use rustix::pipe::SpliceFlags;
    let flags = SpliceFlags::NONBLOCK | SpliceFlags::MOVE;
    retry(|| rustix::pipe::splice(from.as_fd(), None, to.as_fd(), None, len, flags))
}

/// One `recv(2)`, retried on `EINTR`; `Ok(0)` is end of stream.
///
/// # Errors
/// `EAGAIN` on an empty non-blocking socket, `ECONNRESET`.
pub fn recv_some(fd: impl AsFd, buf: &mut [u8]) -> core::result::Result<usize, Errno> {
    loop {
        match rustix::net::recv(fd.as_fd(), &mut *buf, RecvFlags::empty()) {
            Ok((n, _)) => return Ok(n),
            Err(Errno::INTR) => continue,
            Err(errno) => return Err(errno),
        }
    }
}

/// One `read(2)`, retried on `EINTR`; `Ok(0)` is end of file.
///
/// # Errors
/// `EAGAIN` on an empty non-blocking fd, `EIO`, `EISDIR`.
pub fn read_some(fd: impl AsFd, buf: &mut [u8]) -> core::result::Result<usize, Errno> {
    loop {
        match rustix::io::read(fd.as_fd(), &mut *buf) {
            Err(Errno::INTR) => continue,
            other => return other,
        }
    }
}

/// `recv(2)` with `flags`, retried on `EINTR`: the received length and, with
/// `MSG_TRUNC`, the datagram's full length.
///
/// # Errors
/// `EAGAIN` on an empty non-blocking socket, `ECONNRESET`, `ECONNREFUSED`
/// (an ICMP error on a connected datagram socket).
pub fn recv_with(
    fd: impl AsFd,
    buf: &mut [u8],
    flags: RecvFlags,
) -> core::result::Result<(usize, usize), Errno> {
    retry(|| rustix::net::recv(fd.as_fd(), &mut *buf, flags))
}

/// One datagram as [`recv_from`] read it.
#[derive(Debug, Clone)]
pub struct Datagram {
    /// Bytes stored in the buffer.
    pub len: usize,
    /// The datagram's whole length (`MSG_TRUNC`): more than `len` when the
    /// buffer was too small and the rest was lost.
    pub full_len: usize,
    /// The sender; `None` on a connected socket that reports none.
    pub from: Option<rustix::net::SocketAddrAny>,
}

impl Datagram {
    /// Whether the buffer was too small for the whole datagram.
    pub fn truncated(&self) -> bool {
        self.full_len > self.len
    }
}

/// `recvfrom(fd, buf, MSG_TRUNC | flags)`, retried on `EINTR`: one
/// datagram, its true length (so a datagram cut short by a small buffer is
/// seen, not passed on as if whole), and its sender.
///
/// # Errors
/// `EAGAIN` on an empty non-blocking socket; `ECONNREFUSED` (an ICMP error
/// on a connected UDP socket).
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/recvfrom.2.html)
pub fn recv_from(
    fd: impl AsFd,
    buf: &mut [u8],
    flags: RecvFlags,
) -> core::result::Result<Datagram, Errno> {
    let (len, full_len, from) =
        retry(|| rustix::net::recvfrom(fd.as_fd(), &mut *buf, flags | RecvFlags::TRUNC))?;
    Ok(Datagram {
        len,
        full_len,
        from,
    })
}

/// `recvmsg(fd, buf, MSG_TRUNC | MSG_CMSG_CLOEXEC)` on a unix datagram
/// socket with `SO_PASSCRED` on, retried on `EINTR`: one datagram as
/// [`recv_from`] reads it, and the sender's pid from the `SCM_CREDENTIALS`
/// the kernel attaches to each. Descriptors a sender passes along
/// (`SCM_RIGHTS`) are closed at once: a peer cannot fill our fd table.
///
/// # Errors
/// As [`recv_from`].
///
/// # References
///  - [Linux recvmsg](https://man7.org/linux/man-pages/man2/recvmsg.2.html)
///  - [Linux unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html)
pub fn recv_from_with_pid(
    fd: impl AsFd,
    buf: &mut [u8],
) -> core::result::Result<(Datagram, Option<i32>), Errno> {
    use core::mem::MaybeUninit;
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage};
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmCredentials(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let flags = RecvFlags::TRUNC | RecvFlags::CMSG_CLOEXEC;
    let got = retry(|| {
        let mut iov = [std::io::IoSliceMut::new(&mut *buf)];
        rustix::net::recvmsg(fd.as_fd(), &mut iov, &mut control, flags)
    })?;
    let mut pid = None;
    for message in control.drain() {
        match message {
            RecvAncillaryMessage::ScmCredentials(cred) => {
                pid = Some(cred.pid.as_raw_nonzero().get())
            }
            RecvAncillaryMessage::ScmRights(fds) => fds.for_each(drop),
            _ => {}
        }
    }
    let datagram = Datagram {
        len: got.bytes.min(buf.len()),
        full_len: got.bytes,
        from: got.address,
    };
    Ok((datagram, pid))
}

/// `sendto(fd, bytes, MSG_NOSIGNAL | MSG_DONTWAIT, addr)`, retried on
/// `EINTR`: one datagram to `addr`, or `EAGAIN` at once when it would have
/// to wait (a full send buffer, a unix peer's full queue), whatever the
/// socket's own blocking mode.
///
/// # Errors
/// As [`send_to`].
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/sendto.2.html)
pub fn send_to_now(
    fd: impl AsFd,
    bytes: &[u8],
    addr: &impl rustix::net::addr::SocketAddrArg,
) -> core::result::Result<usize, Errno> {
    let flags = SendFlags::NOSIGNAL | SendFlags::DONTWAIT;
    retry(|| rustix::net::sendto(fd.as_fd(), bytes, flags, addr))
}

/// `sendto(fd, bytes, MSG_NOSIGNAL, addr)`, retried on `EINTR`: one
/// datagram to `addr` (sent whole or not at all).
///
/// # Errors
/// `EAGAIN` (a full send buffer, or a unix peer's full queue), `EMSGSIZE`,
/// `ECONNREFUSED`, `ENOENT` (no socket at a unix path).
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/sendto.2.html)
pub fn send_to(
    fd: impl AsFd,
    bytes: &[u8],
    addr: &impl rustix::net::addr::SocketAddrArg,
) -> core::result::Result<usize, Errno> {
    retry(|| rustix::net::sendto(fd.as_fd(), bytes, SendFlags::NOSIGNAL, addr))
}

/// Where a `connect(2)` on a socket stands after the call returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connecting {
    /// The connection is made.
    Done,
    /// The handshake goes on in the kernel (`EINPROGRESS` on a non-blocking
    /// socket, or `EINTR`): wait for writability, then read `SO_ERROR`.
    InProgress,
}

/// One `connect(2)`. An interrupted connect is not restarted (a second call
/// would say `EALREADY`): like `EINPROGRESS` it means "wait for it".
///
/// # Errors
/// `ECONNREFUSED`, `ENETUNREACH`, `EHOSTUNREACH`, `ENOENT` (a unix path), …
pub fn start_connect(
    fd: impl AsFd,
    addr: &impl rustix::net::addr::SocketAddrArg,
) -> core::result::Result<Connecting, Errno> {
    match rustix::net::connect(fd, addr) {
        Ok(()) => Ok(Connecting::Done),
        Err(Errno::INPROGRESS | Errno::INTR) => Ok(Connecting::InProgress),
        Err(errno) => Err(errno),
    }
}

/// `connect(2)` on a unix socket, restarted on `EINTR`: unlike TCP's, an
/// interrupted unix connect leaves nothing going on in the kernel, and the
/// socket stays unconnected. On a blocking stream socket the call waits for
/// room in the listener's backlog, bounded by `SO_SNDTIMEO` (each restart
/// waits it anew).
///
/// # Errors
/// `ENOENT` (no socket file), `ECONNREFUSED` (nobody listens: a stale
/// file, or an abstract name nobody holds), `EAGAIN` (the backlog is full:
/// non-blocking, or `SO_SNDTIMEO` ran out), `EACCES`, `EPROTOTYPE`.
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man7/unix.7.html)
pub fn connect_unix(
    fd: impl AsFd,
    addr: &rustix::net::SocketAddrUnix,
) -> core::result::Result<(), Errno> {
    retry(|| rustix::net::connect(fd.as_fd(), addr))
}

/// `poll(2)` on `fds` for up to `timeout` (`None`: no limit); an `EINTR` is
/// retried with what is left of the timeout, so a storm of signals can
/// neither end a wait early nor stretch it. `Ok(0)` means the time ran out.
///
/// # Errors
/// `ENOMEM`, `EINVAL` (too many fds).
pub fn poll(
    fds: &mut [PollFd<'_>],
    timeout: Option<Duration>,
) -> core::result::Result<usize, Errno> {
    let deadline = timeout.map(|t| Instant::now().checked_add(t));
    loop {
        let left = match deadline {
            None => None,
            // Too far away to represent: as good as no limit.
            Some(None) => None,
            Some(Some(at)) => Some(timespec(at.saturating_duration_since(Instant::now()))),
        };
        match rustix::event::poll(fds, left.as_ref()) {
            Err(Errno::INTR) => continue,
            other => return other,
        }
    }
}

/// Whether `fd` becomes readable (or hung up, or in error) within `timeout`;
/// `Some(Duration::ZERO)` asks without waiting.
///
/// # Errors
/// As [`poll`].
pub fn poll_readable(
    fd: impl AsFd,
    timeout: Option<Duration>,
) -> core::result::Result<bool, Errno> {
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    Ok(poll(&mut fds, timeout)? > 0)
}

/// `epoll_wait(2)` into the spare capacity of `events` (cleared first). An
/// `EINTR` returns with no events: every caller loops and recomputes its
/// timeout anyway.
///
/// # Errors
/// `EBADF`, `EINVAL` (not an epoll fd).
pub fn epoll_wait(
    epoll: impl AsFd,
    events: &mut Vec<rustix::event::epoll::Event>,
    timeout: Option<Duration>,
) -> core::result::Result<(), Errno> {
    events.clear();
    let timeout = timeout.map(timespec);
    match rustix::event::epoll::wait(
        epoll,
        rustix::buffer::spare_capacity(events),
        timeout.as_ref(),
    ) {
        Ok(_) | Err(Errno::INTR) => Ok(()),
        Err(errno) => Err(errno),
    }
}

/// A `Duration` as the `Timespec` that `poll` and `epoll_wait` take
/// (saturating: a timeout beyond `i64` seconds is as good as none).
pub fn timespec(duration: Duration) -> Timespec {
    Timespec {
        tv_sec: i64::try_from(duration.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(duration.subsec_nanos()),
    }
}

/// `timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)`: a timer
/// with nanosecond resolution for an epoll loop to watch (`epoll_wait`'s
/// own timeout counts whole milliseconds, rounded up).
///
/// # Errors
/// `EMFILE`, `ENFILE`, `ENOMEM`.
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/timerfd_create.2.html)
pub fn timer_fd() -> core::result::Result<OwnedFd, Errno> {
    use rustix::time::{TimerfdClockId, TimerfdFlags, timerfd_create};
    timerfd_create(
        TimerfdClockId::Monotonic,
        TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
    )
}

/// `timerfd_settime(fd, 0, …)`: `fd` becomes readable once `after` has
/// passed (a zero `after` as soon as possible); `None` disarms it. Either
/// way a pending expiry is cleared, so the fd is no longer readable.
///
/// # Errors
/// `EBADF`, `EINVAL` (not a timer fd).
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/timerfd_settime.2.html)
pub fn set_timer(fd: impl AsFd, after: Option<Duration>) -> core::result::Result<(), Errno> {
    use rustix::time::{Itimerspec, TimerfdTimerFlags, timerfd_settime};
    let value = match after {
        // A zero value would disarm it.
        Some(after) => timespec(after.max(Duration::from_nanos(1))),
        None => timespec(Duration::ZERO),
    };
    let spec = Itimerspec {
        it_interval: timespec(Duration::ZERO),
        it_value: value,
    };
    timerfd_settime(fd, TimerfdTimerFlags::empty(), &spec).map(|_| ())
}

/// `openat(dir, path, flags | O_CLOEXEC)`, retried on `EINTR` (`dir`:
/// [`rustix::fs::CWD`] for a path relative to the working directory).
///
/// # Errors
/// `ENOENT`, `EACCES`, `ESRCH` (a `/proc/PID` whose process is gone), …
pub fn open_at(
    dir: impl AsFd,
    path: &core::ffi::CStr,
    flags: OFlags,
) -> core::result::Result<OwnedFd, Errno> {
    retry(|| rustix::fs::openat(dir.as_fd(), path, flags | OFlags::CLOEXEC, Mode::empty()))
}

/// `openat(dir, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
/// mode)`, retried on `EINTR`: a file that did not exist, never an existing
/// one nor what a symlink at `path` points to.
///
/// # Errors
/// `EEXIST` (anything is at `path`, a dangling symlink included), `ENOENT`,
/// `EACCES`, `ENAMETOOLONG`, …
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/open.2.html)
pub fn create_new_at(
    dir: impl AsFd,
    path: &core::ffi::CStr,
    mode: Mode,
) -> core::result::Result<OwnedFd, Errno> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW;
    retry(|| rustix::fs::openat(dir.as_fd(), path, flags | OFlags::CLOEXEC, mode))
}

/// Reads a whole file relative to `dir` (procfs, `/etc/passwd`), starting
/// with room for `hint` bytes.
///
/// # Errors
/// The errno of `openat` or `read`.
pub fn read_to_end_at(
    dir: impl AsFd,
    path: &core::ffi::CStr,
    hint: usize,
) -> core::result::Result<Vec<u8>, Errno> {
    let file = open_at(dir, path, OFlags::RDONLY)?;
    let mut data = Vec::with_capacity(hint.max(64));
    loop {
        // Reads land in the spare capacity, unzeroed: procfs hands out a
        // page or so per read, and zeroing the whole spare tail every time
        // made a 5 MB /proc/net/tcp quadratic.
        if data.capacity() - data.len() < 4096 {
            data.reserve(data.capacity().max(4096));
        }
        match retry(|| rustix::io::read(&file, rustix::buffer::spare_capacity(&mut data))) {
            Ok(0) => return Ok(data),
            Ok(_) => {}
            Err(errno) => return Err(errno),
        }
    }
}

/// `getrandom(buf, 0)`, retried on `EINTR`, until `buf` is full: the
/// kernel's CSPRNG, for names nobody may predict.
///
/// # Errors
/// `ENOSYS` on a kernel older than 3.17.
///
/// # References
///  - [Linux](https://man7.org/linux/man-pages/man2/getrandom.2.html)
pub fn random_bytes(mut buf: &mut [u8]) -> core::result::Result<(), Errno> {
    use rustix::rand::{GetRandomFlags, getrandom};
    while !buf.is_empty() {
        let n = retry(|| getrandom(&mut *buf, GetRandomFlags::empty()))?;
        buf = &mut buf[n..];
    }
    Ok(())
}

/// stdout as the programs' data channel: unbuffered writes of whole chunks,
/// waiting for room when stdout is non-blocking ([`write_all_waiting`]), and
/// a reader that went away (`| head`) reported as [`Error::StdoutClosed`].
///
/// # Errors
/// [`Error::StdoutClosed`] for `EPIPE`; any other errno of `write` or `poll`.
pub fn write_stdout(bytes: &[u8]) -> Result<()> {
    match write_all_waiting(stdout(), bytes) {
        Ok(()) => Ok(()),
        Err(Errno::PIPE) => Err(Error::StdoutClosed),
        Err(errno) => Err(Error::on("write", "stdout", errno)),
    }
}

/// `text` (whole lines) on stderr in one `write(2)` (`eprintln!` writes
/// each piece of a line apart, so a reader could see half a line), or
/// through the queue once [`stderr::queue`] has made one. A stderr that
/// cannot be written is ignored: there is nowhere left to report it.
pub fn write_stderr(text: &str) {
    stderr::write(text.as_bytes());
}

/// fd 0.
pub fn stdin() -> BorrowedFd<'static> {
    rustix::stdio::stdin()
}

/// fd 1.
pub fn stdout() -> BorrowedFd<'static> {
    rustix::stdio::stdout()
}

/// Whether fd 0 is a terminal: when it is not, typed lines are echoed after
/// prompts so the transcript reads like the lesson's.
pub fn stdin_is_terminal() -> bool {
    rustix::termios::isatty(stdin())
}

/// Whether a `read` of fd 0 now cannot stop the process: fd 0 is no
/// terminal, not our controlling one (`tcgetpgrp` says `ENOTTY`), or one
/// whose foreground process group is ours. A background job's read of its
/// terminal gets `SIGTTIN` (stopped), or `EIO` where that is ignored or its
/// group is orphaned: keys typed at the shell are no input of its own.
///
/// # References
///  - [Linux `tcgetpgrp`](https://man7.org/linux/man-pages/man3/tcgetpgrp.3.html)
///  - [POSIX, 11.1.4 Terminal Access Control](https://pubs.opengroup.org/onlinepubs/9799919799/basedefs/V1_chap11.html#tag_11_01_04)
pub fn stdin_read_is_ours() -> bool {
    if !stdin_is_terminal() {
        return true;
    }
    match rustix::termios::tcgetpgrp(stdin()) {
        Ok(foreground) => foreground == rustix::process::getpgrp(),
        Err(_) => true,
    }
}

/// The longest line a [`LineReader`] holds: a typed line (sockc's transcript,
/// chat's operator) is something a person means to send, and a stdin that
/// never sends a newline must not grow the buffer without end.
pub const MAX_LINE: usize = 64 << 20;

/// Lines read from a raw fd with one buffer: no `std::io::Stdin` lock, and the
/// bytes after a line stay for the next call. A line is at most [`MAX_LINE`]
/// bytes.
#[derive(Debug, Default)]
pub struct LineReader {
    pending: Vec<u8>,
    /// How much of `pending` is known to hold no `\n`: each byte is looked
    /// at once, so an 8 MiB line read 4 KiB at a time costs 8 MiB of
    /// scanning, not the 16 GB of rescanning it from the start each time.
    scanned: usize,
    eof: bool,
}

impl LineReader {
    /// A reader with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// A complete line already buffered (without its `\n`, or `\r\n`), or, at
    /// end of input, whatever is left. `None` means read more (or, after EOF,
    /// that nothing is left).
    pub fn take_line(&mut self) -> Option<Vec<u8>> {
        if let Some(end) = self.newline() {
            self.scanned = 0;
            let mut line: Vec<u8> = self.pending.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Some(line);
        }
        if self.eof && !self.pending.is_empty() {
            self.scanned = 0;
            return Some(std::mem::take(&mut self.pending));
        }
        None
    }

    /// Whether [`take_line`](Self::take_line) has a line to give without
    /// another read.
    pub fn has_line(&mut self) -> bool {
        self.newline().is_some() || (self.eof && !self.pending.is_empty())
    }

    /// Where the first buffered line's `\n` is, looking only at bytes not
    /// looked at before.
    fn newline(&mut self) -> Option<usize> {
        let unscanned = &self.pending[self.scanned..];
        match unscanned.iter().position(|&b| b == b'\n') {
            Some(offset) => Some(self.scanned + offset),
            None => {
                self.scanned = self.pending.len();
                None
            }
        }
    }

    /// Whether the input has ended.
    pub fn at_eof(&self) -> bool {
        self.eof
    }

    /// One `read(2)` from `fd` into the buffer.
    ///
    /// # Errors
    /// `EMSGSIZE` when [`MAX_LINE`] bytes are buffered and no `\n` among
    /// them (as [`take_line`](Self::take_line) has just found): the line is
    /// refused, not read to its end. Otherwise the errno of `read`, `EINTR`
    /// aside.
    pub fn fill_from(&mut self, fd: impl AsFd) -> core::result::Result<(), Errno> {
        if self.scanned >= MAX_LINE {
            return Err(Errno::MSGSIZE);
        }
        let mut chunk = [0u8; 4096];
        let n = read_some(fd, &mut chunk)?;
        if n == 0 {
            self.eof = true;
        }
        self.pending.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_reader_splits_lines_and_keeps_the_rest() {
        let (read_end, write_end) = rustix::pipe::pipe().unwrap_or_else(|e| panic!("{e}"));
        write_all(&write_end, b"hi\r\nbye\npartial").unwrap_or_else(|e| panic!("{e}"));
        drop(write_end);
        let mut lines = LineReader::new();
        let mut got = Vec::new();
        loop {
            while let Some(line) = lines.take_line() {
                got.push(line);
            }
            if lines.at_eof() {
                break;
            }
            lines.fill_from(&read_end).unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(
            got,
            vec![b"hi".to_vec(), b"bye".to_vec(), b"partial".to_vec()]
        );
    }

    #[test]
    fn has_line_says_whether_take_line_would_give_one() {
        let (read_end, write_end) = rustix::pipe::pipe().unwrap_or_else(|e| panic!("{e}"));
        let mut lines = LineReader::new();
        assert!(!lines.has_line());
        write_all(&write_end, b"par").unwrap_or_else(|e| panic!("{e}"));
        lines.fill_from(&read_end).unwrap_or_else(|e| panic!("{e}"));
        assert!(!lines.has_line(), "no newline yet");
        write_all(&write_end, b"t\nrest").unwrap_or_else(|e| panic!("{e}"));
        lines.fill_from(&read_end).unwrap_or_else(|e| panic!("{e}"));
        assert!(lines.has_line());
        assert_eq!(lines.take_line(), Some(b"part".to_vec()));
        assert!(!lines.has_line(), "only a partial line left");
        drop(write_end);
        lines.fill_from(&read_end).unwrap_or_else(|e| panic!("{e}"));
        assert!(lines.has_line(), "at EOF the partial line is a line");
        assert_eq!(lines.take_line(), Some(b"rest".to_vec()));
        assert!(!lines.has_line() && lines.at_eof());
    }

    #[test]
    fn a_line_longer_than_max_line_is_refused_unread_to_its_end() {
        let (read_end, write_end) = rustix::pipe::pipe().unwrap_or_else(|e| panic!("{e}"));
        let writer = std::thread::spawn(move || {
            let mut line = vec![b'a'; MAX_LINE - 1];
            line.push(b'\n');
            write_all(&write_end, &line).unwrap_or_else(|e| panic!("{e}"));
            // Never a newline; the pipe stays open, as a typist's would.
            let endless = vec![b'b'; 64 * 1024];
            while write_all(&write_end, &endless).is_ok() {}
        });
        let mut lines = LineReader::new();
        let first = loop {
            if let Some(line) = lines.take_line() {
                break line;
            }
            lines.fill_from(&read_end).unwrap_or_else(|e| panic!("{e}"));
        };
        assert_eq!(first.len(), MAX_LINE - 1);
        let refused = loop {
            assert!(lines.take_line().is_none());
            if let Err(errno) = lines.fill_from(&read_end) {
                break errno;
            }
        };
        assert_eq!(refused, Errno::MSGSIZE);
        assert!(lines.pending.len() < MAX_LINE + 4096);
        drop(read_end);
        writer.join().unwrap_or_else(|_| panic!("writer panicked"));
    }

    #[test]
    fn line_reader_finds_lines_that_arrive_in_pieces() {
        let (read_end, write_end) = rustix::pipe::pipe().unwrap_or_else(|e| panic!("{e}"));
        let mut long = vec![b'a'; 10_000];
        long.extend_from_slice(b"\nb\r\n");
        long.extend_from_slice(&[b'c'; 5000]);
        let writer = std::thread::spawn(move || {
            for piece in long.chunks(3000) {
                write_all(&write_end, piece).unwrap_or_else(|e| panic!("{e}"));
            }
        });
        let mut lines = LineReader::new();
        let mut got = Vec::new();
        while !lines.at_eof() {
            lines.fill_from(&read_end).unwrap_or_else(|e| panic!("{e}"));
            while let Some(line) = lines.take_line() {
                got.push(line);
            }
        }
        writer.join().unwrap_or_else(|_| panic!("writer panicked"));
        assert_eq!(
            got,
            vec![vec![b'a'; 10_000], b"b".to_vec(), vec![b'c'; 5000]]
        );
    }

    #[test]
    fn write_all_waiting_waits_for_a_full_non_blocking_pipe_to_drain() {
        let (read_end, write_end) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::NONBLOCK)
            .unwrap_or_else(|e| panic!("{e}"));
        // Four times what a default pipe holds: EAGAIN comes, and must be waited out.
        let payload: Vec<u8> = (0..256 * 1024).map(|i| (i % 251) as u8).collect();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0u8; 8192];
            loop {
                match read_some(&read_end, &mut buf) {
                    Ok(0) => return got,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(Errno::AGAIN) => {
                        let _ = poll_readable(&read_end, None);
                    }
                    Err(errno) => panic!("read: {errno}"),
                }
            }
        });
        assert_eq!(write_all_waiting(&write_end, &payload), Ok(()));
        drop(write_end);
        let got = reader.join().unwrap_or_else(|_| panic!("reader panicked"));
        assert!(got == payload, "{} of {} bytes", got.len(), payload.len());
    }

    #[test]
    fn write_all_waiting_to_a_pipe_without_reader_is_epipe() {
        let (read_end, write_end) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::NONBLOCK)
            .unwrap_or_else(|e| panic!("{e}"));
        drop(read_end);
        assert_eq!(write_all_waiting(&write_end, b"x"), Err(Errno::PIPE));
    }

    #[test]
    fn send_all_to_a_closed_peer_is_epipe_not_sigpipe() {
        let (a, b) = rustix::net::socketpair(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::STREAM,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        drop(b);
        assert_eq!(send_all(&a, b"x"), Err(Errno::PIPE));
    }
}
