//! The datagram echo (`-u`, `-uU`): every datagram back to its sender,
//! whole, by `--threads` workers sharing the one socket.
//!
//! Each worker blocks in `recvfrom` and answers with one `sendto`: two
//! syscalls a datagram, as the plainest C echo makes, and no allocation
//! (bench/udp-echo is the floor `scripts/bench.sh` measures this against).
//! The kernel wakes one blocked worker per datagram. To stop, the
//! coordinating thread sets a flag and shuts the socket's receive side
//! down, which wakes every worker blocked in `recvfrom` (for an unconnected
//! UDP socket `shutdown` says `ENOTCONN`, and still wakes its waiters: the
//! kernel does so on purpose); a receive timeout of [`STOP_BACKSTOP`] would
//! end the wait even if it did not.
//!
//! UDP has no backpressure, so nothing waits to send: an echo the kernel
//! cannot take at once (a full send buffer; a unix peer's full receive
//! queue: a client that sends and never reads) is dropped and counted, as
//! is one to a sender that cannot be answered (an unbound unix socket) or
//! has gone (`ECONNREFUSED`, `ENOENT`), and one longer than the receive
//! buffer (never cut short). None of that stops the server or holds up
//! another client.
//!
//! With faults (`--drop`, `--duplicate`, `--corrupt`, `--delay`) the
//! socket is non-blocking and each worker waits in `poll` until a
//! datagram comes or its earliest delayed echo is due
//! ([`fault::datagram`](super::fault::datagram)); without them nothing of
//! this runs: no clock read, no poll.

use super::WorkerStats;
use super::events::Events;
use super::fault::Plan;
use super::fault::datagram::{Budget, Faulted, Held, flip};
use super::peer::Peer;
use super::stop::Stop;
use super::warn_limit::WarnLimit;
use crate::endpoint::{Endpoint, Transport};
use crate::error::{Error, Result};
use crate::io::{Datagram, OutputQueue, Pushed, recv_from, recv_from_with_pid, send_to_now};
use crate::transcript::{MessageSplitter, push_say_line};
use core::net::SocketAddr;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::time::Duration;
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::net::{AddressFamily, RecvFlags, Shutdown, SocketAddrAny, sockopt};
use std::time::Instant;

/// The longest UDP datagram over IPv6 (65,535 less the UDP header; IPv4's
/// is 65,507), rounded up: one buffer holds any datagram of either family.
const UDP_MAX: usize = 64 * 1024;
/// The longest unix datagram echoed. A unix datagram is bounded only by
/// its sender's send buffer (twice `net.core.wmem_max` at most, 8 MiB on
/// this machine), so a bound is chosen: 1 MiB, five times what a sender
/// with the default buffer can send (212,960 bytes). A longer one is
/// counted and not echoed, never echoed cut.
const UNIX_MAX: usize = 1024 * 1024;
/// The socket buffers asked for (the kernel caps them at twice
/// `net.core.rmem_max` / `wmem_max`): room for bursts of the largest
/// datagrams from many senders, where the default 208 KiB holds a few,
/// and a send buffer that takes the longest echo.
const SOCKET_BUFFER: usize = 1024 * 1024;
/// How long a worker's `recvfrom` waits before it looks at the stop flag
/// by itself (see the module docs: the `shutdown` normally wakes it first).
const STOP_BACKSTOP: Duration = Duration::from_secs(1);

/// How the datagram workers serve.
pub struct DatagramOptions<'a> {
    /// How many workers share the socket.
    pub threads: usize,
    /// Stop once this many datagrams have come.
    pub exit_after: Option<u64>,
    /// Where the transcript goes, if anywhere.
    pub transcript: Option<&'a OutputQueue>,
    /// The faults every datagram goes through; `None`: the plain echo.
    pub faults: Option<&'a Plan>,
    /// The event log (a `datagram` event each).
    pub events: &'a Events,
}

/// What the datagram workers share.
struct Shared<'a> {
    socket: &'a OwnedFd,
    local: &'a Endpoint,
    stop: &'a Stop,
    stopping: AtomicBool,
    /// `--exit-after`'s count has come, and delayed echoes are still held:
    /// they go out first, nothing more is read.
    finishing: AtomicBool,
    received: AtomicU64,
    exit_after: Option<u64>,
    transcript: Option<&'a OutputQueue>,
    faults: Option<&'a Plan>,
    events: &'a Events,
    held: Budget,
}

/// Serves datagrams on `socket` (bound at `local`) with `options.threads`
/// workers until `stop` fires or `options.exit_after` datagrams have come;
/// the totals.
///
/// # Errors
/// A socket that fails under it (`EBADF`, `ENOTSOCK`, `EINVAL`,
/// `EFAULT` from `recvfrom`), `ioctl`, a `poll` of the stop signal (or,
/// with faults, of the socket) that fails. A worker that panics re-raises
/// the panic.
pub fn serve(
    socket: OwnedFd,
    local: &Endpoint,
    stop: &Stop,
    options: DatagramOptions<'_>,
) -> Result<WorkerStats> {
    // Blocking: a worker waits in recvfrom, not in a poll before it; with
    // faults it polls (for its delayed echoes too) and then reads.
    rustix::io::ioctl_fionbio(&socket, options.faults.is_some())
        .map_err(|errno| Error::at("ioctl", local, errno))?;
    tune(&socket, local);
    let threads = options.threads;
    let shared = Shared {
        socket: &socket,
        local,
        stop,
        stopping: AtomicBool::new(false),
        finishing: AtomicBool::new(false),
        received: AtomicU64::new(0),
        exit_after: options.exit_after,
        transcript: options.transcript,
        faults: options.faults,
        events: options.events,
        held: Budget::default(),
    };
    let results: Vec<Result<WorkerStats>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let _stop_all = super::StopOnExit(stop);
                    Worker::new(&shared).run()
                })
            })
            .collect();
        let waited = crate::io::poll_readable(stop.fd(), None);
        shared.stopping.store(true, Ordering::Release);
        // Wakes the workers blocked in recvfrom (ENOTCONN on UDP: see above).
        let _ = rustix::net::shutdown(&socket, Shutdown::Read);
        let mut results: Vec<Result<WorkerStats>> = workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect();
        if let Err(errno) = waited {
            results.push(Err(Error::on("poll", "stop signal", errno)));
        }
        results
    });
    results
        .into_iter()
        .try_fold(WorkerStats::default(), |total, result| {
            Ok(total.add(result?))
        })
}

/// The socket's buffers and options for serving: larger buffers, the
/// stop backstop, and for unix datagrams the senders' credentials (their
/// pids name them in the transcript). A refusal only costs what it would
/// have bought, so it is logged, not fatal. [`serve`] sets them; sockd
/// also does before it says it is ready (setting them twice is harmless).
pub fn tune(socket: &OwnedFd, local: &Endpoint) {
    let tried = [
        (
            "SO_RCVBUF",
            sockopt::set_socket_recv_buffer_size(socket, SOCKET_BUFFER),
        ),
        (
            "SO_SNDBUF",
            sockopt::set_socket_send_buffer_size(socket, SOCKET_BUFFER),
        ),
        (
            "SO_RCVTIMEO",
            sockopt::set_socket_timeout(socket, sockopt::Timeout::Recv, Some(STOP_BACKSTOP)),
        ),
        (
            "SO_PASSCRED",
            match local.transport() {
                Transport::UnixDatagram => sockopt::set_socket_passcred(socket, true),
                _ => Ok(()),
            },
        ),
    ];
    for (option, result) in tried {
        if let Err(errno) = result {
            log::info!(
                "setsockopt {option} on {local}: {}",
                crate::error::describe_errno(errno)
            );
        }
    }
    let buffers = (
        sockopt::socket_recv_buffer_size(socket),
        sockopt::socket_send_buffer_size(socket),
    );
    if let (Ok(recv), Ok(send)) = buffers {
        log::info!("socket buffers: {recv} bytes to receive, {send} to send");
    }
}

struct Worker<'a> {
    shared: &'a Shared<'a>,
    buf: Box<[u8]>,
    unix: bool,
    splitter: Option<MessageSplitter>,
    lines: Vec<u8>,
    stats: WorkerStats,
    faulted: Option<Faulted<'a>>,
    held: Held,
    /// The warnings of datagrams too long to take: one a second.
    oversized: WarnLimit,
}

impl<'a> Worker<'a> {
    fn new(shared: &'a Shared<'a>) -> Self {
        let unix = shared.local.socket_addr().is_none();
        let size = if unix { UNIX_MAX } else { UDP_MAX };
        Self {
            shared,
            buf: vec![0u8; size].into_boxed_slice(),
            unix,
            splitter: shared.transcript.map(|_| MessageSplitter::new()),
            lines: Vec::new(),
            stats: WorkerStats::default(),
            faulted: shared.faults.map(Faulted::new),
            held: Held::default(),
            oversized: WarnLimit::default(),
        }
    }

    fn run(mut self) -> Result<WorkerStats> {
        while !self.shared.stopping.load(Ordering::Acquire) {
            if self.shared.finishing.load(Ordering::Acquire) {
                self.finish()?;
                continue;
            }
            if self.faulted.is_some() && !self.wait()? {
                continue;
            }
            let (datagram, pid) = match self.receive() {
                Ok(got) => got,
                // The backstop's timeout (io retries EINTR).
                Err(Errno::AGAIN) => continue,
                Err(errno) if gone(errno) => {
                    return Err(Error::at("recvfrom", self.shared.local, errno));
                }
                Err(errno) => {
                    // About a sender, not this socket: an ICMP error an
                    // earlier echo drew (Linux reports none to an
                    // unconnected UDP socket without IP_RECVERR, but a
                    // kernel or a socket option may).
                    log::debug!("recvfrom: {}", crate::error::describe_errno(errno));
                    continue;
                }
            };
            // The shutdown's wake-up reads as an empty datagram from nobody.
            if datagram.from.is_none() && self.shared.stopping.load(Ordering::Acquire) {
                break;
            }
            self.serve(&datagram, pid);
        }
        Ok(self.stats)
    }

    /// With faults: sends the delayed echoes that are due, then waits until
    /// a datagram comes (true) or the next one is due (false).
    fn wait(&mut self) -> Result<bool> {
        let mut now = Instant::now();
        while let Some((to, bytes)) = self.held.pop_due(&self.shared.held, now) {
            self.send(&bytes, &to);
            now = Instant::now();
        }
        let timeout = match self.held.next() {
            Some(at) => at.saturating_duration_since(now).min(STOP_BACKSTOP),
            None => STOP_BACKSTOP,
        };
        crate::io::poll_readable(self.shared.socket, Some(timeout))
            .map_err(|errno| Error::at("poll", self.shared.local, errno))
    }

    /// After `--exit-after`'s count: sends this worker's delayed echoes as
    /// they fall due; the last worker to hold none stops sockd. A stop
    /// signal still ends the wait at once.
    fn finish(&mut self) -> Result<()> {
        let mut now = Instant::now();
        while let Some((to, bytes)) = self.held.pop_due(&self.shared.held, now) {
            self.send(&bytes, &to);
            now = Instant::now();
        }
        if self.shared.held.is_empty() {
            self.shared.stop.trigger();
        }
        let timeout = match self.held.next() {
            Some(at) => at.saturating_duration_since(now).min(STOP_BACKSTOP),
            None => STOP_BACKSTOP,
        };
        crate::io::poll_readable(self.shared.stop.fd(), Some(timeout))
            .map(drop)
            .map_err(|errno| Error::on("poll", "stop signal", errno))
    }

    fn receive(&mut self) -> core::result::Result<(Datagram, Option<i32>), Errno> {
        if self.unix && (self.splitter.is_some() || self.shared.events.is_on()) {
            recv_from_with_pid(self.shared.socket, &mut self.buf)
        } else {
            recv_from(self.shared.socket, &mut self.buf, RecvFlags::empty()).map(|d| (d, None))
        }
    }

    /// Echoes one datagram, writes its transcript lines, and counts it.
    fn serve(&mut self, datagram: &Datagram, pid: Option<i32>) {
        self.stats.datagrams += 1;
        self.stats.bytes += datagram.full_len as u64;
        let events = self.shared.events;
        let peer = (self.splitter.is_some() || events.is_on()).then(|| {
            match (pid, datagram.from.as_ref().and_then(ip_of)) {
                (_, Some(addr)) => Peer::Ip(addr),
                (Some(pid), None) => Peer::Pid(pid),
                (None, None) => Peer::Unknown,
            }
        });
        if let Some(peer) = &peer {
            events.datagram(peer, datagram.full_len);
            self.transcribe(*peer, datagram);
        }
        match &datagram.from {
            _ if datagram.truncated() => self.unsent(datagram.full_len, Errno::MSGSIZE),
            Some(from) if answerable(from) => match self.faulted.is_some() {
                true => self.fault(datagram.len, from, peer.as_ref()),
                false => self.send_echo(datagram.len, from),
            },
            _ => self.unsent(datagram.len, Errno::DESTADDRREQ),
        }
        if let Some(limit) = self.shared.exit_after
            && self.shared.received.fetch_add(1, Ordering::AcqRel) + 1 == limit
        {
            // Every datagram counted is echoed or held by now.
            match self.shared.held.is_empty() {
                true => self.shared.stop.trigger(),
                false => self.shared.finishing.store(true, Ordering::Release),
            }
        }
    }

    /// The echo of the first `len` bytes of the buffer, now.
    fn send_echo(&mut self, len: usize, to: &SocketAddrAny) {
        if let Err(errno) = send_to_now(self.shared.socket, &self.buf[..len], to) {
            self.unsent(len, errno);
        }
    }

    /// An echo from elsewhere than the buffer (a delayed one), now.
    fn send(&mut self, bytes: &[u8], to: &SocketAddrAny) {
        if let Err(errno) = send_to_now(self.shared.socket, bytes, to) {
            self.unsent(bytes.len(), errno);
        }
    }

    /// The echo of the first `len` bytes of the buffer, through the
    /// faults: dropped, corrupted, sent once or twice, now or later.
    /// `peer` names the sender in the faults' events.
    fn fault(&mut self, len: usize, to: &SocketAddrAny, peer: Option<&Peer>) {
        let now = Instant::now();
        let Some(arrival) = self.faulted.as_mut().and_then(|f| f.arrive(len, now)) else {
            return self.send_echo(len, to);
        };
        let acted = |which| {
            if let Some(peer) = peer {
                self.shared.events.datagram_fault(peer, which);
            }
        };
        if arrival.copies == 0 {
            self.stats.dropped += 1;
            acted("drop");
            return log::debug!("echo of {len} bytes dropped by --drop");
        }
        if arrival.copies > 1 {
            acted("duplicate");
        }
        if let Some(bit) = arrival.flip {
            acted("corrupt");
            flip(&mut self.buf[..len], bit);
        }
        for _ in 0..arrival.copies {
            if arrival.ready <= now {
                self.send_echo(len, to);
            } else if !self
                .held
                .hold(&self.shared.held, arrival.ready, to, &self.buf[..len])
            {
                self.unsent(len, Errno::NOBUFS);
            }
        }
    }

    /// Counts an echo of `len` bytes not sent, and logs why.
    fn unsent(&mut self, len: usize, errno: Errno) {
        self.stats.unsent += 1;
        match errno {
            Errno::MSGSIZE => {
                if let Some(unsaid) = self.oversized.now(Instant::now()) {
                    log::warn!(
                        "a datagram of {len} bytes is over the {} bytes sockd takes; not echoed{}",
                        self.buf.len(),
                        super::warn_limit::since(unsaid, "such datagrams")
                    );
                }
            }
            Errno::DESTADDRREQ => {
                log::debug!("an unbound sender cannot be answered; echo of {len} bytes dropped")
            }
            Errno::AGAIN => {
                log::debug!("echo of {len} bytes dropped: the kernel had no room for it")
            }
            Errno::NOBUFS => log::debug!(
                "echo of {len} bytes dropped: {} datagrams or {} bytes are held back already",
                super::fault::datagram::HELD_DATAGRAMS,
                super::fault::datagram::HELD_BYTES
            ),
            errno => log::debug!(
                "echo of {len} bytes dropped: sendto: {}",
                crate::error::describe_errno(errno)
            ),
        }
    }

    /// The datagram's messages by the stream rules; an empty datagram (or
    /// one of padding alone) is one empty message: one line at least per
    /// datagram.
    fn transcribe(&mut self, peer: Peer, datagram: &Datagram) {
        let (Some(splitter), Some(queue)) = (self.splitter.as_mut(), self.shared.transcript) else {
            return;
        };
        let name = peer.name();
        let out = &mut self.lines;
        let mut emitted = false;
        let mut emit = |message: &[u8], dropped: usize| {
            push_say_line(out, name, message, dropped);
            emitted = true;
        };
        splitter.feed(&self.buf[..datagram.len], &mut emit);
        splitter.finish(&mut emit);
        if !emitted {
            push_say_line(out, name, b"", 0);
        }
        let pushed = queue.push(out);
        out.clear();
        if let Pushed::Gone(errno) = pushed {
            if errno != Errno::PIPE {
                log::warn!("transcript off: {}", Error::on("write", "stdout", errno));
            }
            self.splitter = None;
        }
    }
}

/// A UDP sender's address (for the transcript); `None` for a unix one.
fn ip_of(from: &SocketAddrAny) -> Option<SocketAddr> {
    SocketAddr::try_from(from.clone()).ok()
}

/// Whether a reply can reach `from`: not an unbound unix socket, whose
/// address is its family alone.
fn answerable(from: &SocketAddrAny) -> bool {
    from.address_family() != AddressFamily::UNIX || from.addr_len() as usize > size_of::<u16>()
}

/// Whether `recvfrom` failed because of the socket itself, not a sender.
fn gone(errno: Errno) -> bool {
    matches!(
        errno,
        Errno::BADF | Errno::NOTSOCK | Errno::INVAL | Errno::FAULT
    )
}
