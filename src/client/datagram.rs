//! Datagrams (`-u`, `-uU`): each message, or each line of stdin with its
//! newline, is one datagram; one reply datagram is awaited per datagram
//! sent and written exactly as it came.
//!
//! A datagram socket has no handshake: the first datagram is how a client
//! learns whether anyone is there. Under `--wait` it is resent until a
//! reply comes, each time from a new socket, so that the late replies to
//! earlier copies go to a closed port and cannot be taken for the answer
//! to a later datagram.

use super::connect::{attempt, gave_up, log_connected, not_there_yet};
use super::exchange::show_reply;
use super::retry::Retry;
use super::server::say_name;
use super::{ClientOptions, Message};
use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::io::{poll, poll_readable, read_some, recv_with, send_some, stdin, write_stdout};
use core::ops::Range;
use core::time::Duration;
use rustix::event::{PollFd, PollFlags};
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::net::RecvFlags;
use std::time::Instant;

/// The largest datagram sent or received: above UDP's 65,535 and the
/// 212,992 bytes a unix datagram socket's default send buffer takes, so
/// the kernel, not this buffer, says what is too large (`EMSGSIZE`).
const MAX_DATAGRAM: usize = 256 * 1024;

/// Bytes taken from stdin per `read`.
const READ_CHUNK: usize = 64 * 1024;

/// How long the first datagram's first copy waits for a reply under
/// `--wait`, and the longest any copy waits before the next is sent.
const RESEND_FIRST: Duration = Duration::from_millis(50);
const RESEND_MAX: Duration = Duration::from_secs(1);

/// A connected datagram socket, and room for one reply.
pub struct Link {
    sock: OwnedFd,
    endpoint: Endpoint,
    reply: Vec<u8>,
}

impl Link {
    /// Sends `datagram` and waits up to `timeout` for one reply; its
    /// length (the bytes are in `self.reply`).
    ///
    /// # Errors
    /// `ECONNREFUSED` (an ICMP port unreachable; for unix, nobody bound)
    /// as a refused `connect` (69, with its hint); `EMSGSIZE` on a send
    /// too large (71); `ETIMEDOUT` when no reply came in time (75).
    fn exchange(&mut self, datagram: &[u8], timeout: Duration) -> Result<usize> {
        let deadline = Instant::now() + timeout;
        let endpoint = &self.endpoint;
        let fail = |op, errno| match errno {
            // The refusal a connect would have had, if UDP had a handshake.
            Errno::CONNREFUSED => Error::at("connect", endpoint, errno),
            _ => Error::at(op, endpoint, errno),
        };
        send_within(&self.sock, datagram, deadline).map_err(|errno| fail("send", errno))?;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if !poll_readable(&self.sock, Some(left)).map_err(|errno| fail("poll", errno))? {
                return Err(fail("recv", Errno::TIMEDOUT));
            }
            match recv_with(&self.sock, &mut self.reply, RecvFlags::TRUNC) {
                // Larger than any datagram this side could have sent: not
                // to be shown cut as if it were whole.
                Ok((len, full)) if full > len => return Err(fail("recv", Errno::MSGSIZE)),
                Ok((len, _)) => return Ok(len),
                Err(Errno::AGAIN) => {}
                Err(errno) => return Err(fail("recv", errno)),
            }
        }
    }
}

/// One `send`, waiting (to `deadline`) for room in a full send buffer or,
/// for unix, in the receiver's queue.
fn send_within(
    sock: &OwnedFd,
    datagram: &[u8],
    deadline: Instant,
) -> core::result::Result<(), Errno> {
    loop {
        match send_some(sock, datagram) {
            Ok(_) => return Ok(()),
            Err(Errno::AGAIN) => {
                let left = deadline.saturating_duration_since(Instant::now());
                let mut fds = [PollFd::new(sock, PollFlags::OUT)];
                if poll(&mut fds, Some(left))? == 0 {
                    return Err(Errno::TIMEDOUT);
                }
            }
            Err(errno) => return Err(errno),
        }
    }
}

/// Connects and sends `first`, returning the link and its reply's length;
/// under `--wait`, while nobody is there (refused, silent, no unix socket
/// yet, a resolver failing for now), again from a new socket, the wait for
/// a reply growing from 50 ms to 1 s. The last copy waits `--timeout`.
///
/// # Errors
/// The last attempt's failure (see [`Link::exchange`]).
fn open(options: &ClientOptions, first: &[u8]) -> Result<(Link, usize)> {
    let mut retry = Retry::new(options.wait, RESEND_FIRST, RESEND_MAX);
    loop {
        let window = if retry.more_after_pause() {
            retry.pause().min(options.timeout)
        } else {
            options.timeout
        };
        let tried = attempt(&options.server, options.timeout).and_then(|(sock, endpoint)| {
            let mut link = Link {
                sock,
                endpoint,
                reply: vec![0; MAX_DATAGRAM],
            };
            let len = link.exchange(first, window)?;
            Ok((link, len))
        });
        let err = match tried {
            Ok((link, len)) => {
                // Once, for the copy answered: as for a stream's connect.
                log_connected(&link.sock, &link.endpoint);
                return Ok((link, len));
            }
            Err(err) if resend_worthy(&err) => err,
            Err(err) => return Err(err),
        };
        let Some(pause) = retry.next() else {
            return Err(gave_up(err, options.wait));
        };
        // A silent copy has waited its pause already; a refusal came at once.
        if err.errno() != Some(Errno::TIMEDOUT) {
            std::thread::sleep(pause);
        }
        log::debug!("{err}; sending again");
    }
}

/// Nobody there yet: as for a connect, and silence.
fn resend_worthy(err: &Error) -> bool {
    not_there_yet(err) || err.errno() == Some(Errno::TIMEDOUT)
}

/// One-shot over datagrams: the words as one datagram, or each line of
/// stdin; each reply to stdout as it came.
///
/// # Errors
/// As [`open`]; a line of stdin longer than any datagram is `EMSGSIZE`.
pub fn oneshot(options: &ClientOptions, message: &Message) -> Result<()> {
    let words = match message {
        Message::Words(words) => words,
        Message::Stdin => return stdin_lines(options),
    };
    let (link, len) = open(options, words)?;
    write_stdout(&link.reply[..len])
}

fn stdin_lines(options: &ClientOptions) -> Result<()> {
    let mut lines = Lines::new(&options.server);
    let Some(first) = lines.next()? else {
        // Nothing to send; the server is still checked (a bad name, no
        // unix socket there).
        return attempt(&options.server, options.timeout).map(drop);
    };
    let (mut link, len) = open(options, &lines.buf[first])?;
    write_stdout(&link.reply[..len])?;
    while let Some(line) = lines.next()? {
        let len = link.exchange(&lines.buf[line], options.timeout)?;
        write_stdout(&link.reply[..len])?;
    }
    Ok(())
}

/// The transcript over datagrams: `line` as one datagram (the first one
/// opens the link, resent under `--wait`), the reply shown as
/// `<server> say:` lines.
///
/// # Errors
/// As [`open`] and [`Link::exchange`].
pub fn say(options: &ClientOptions, link: &mut Option<Link>, line: &[u8]) -> Result<()> {
    let (link, len) = match link {
        Some(open) => {
            let len = open.exchange(line, options.timeout)?;
            (open, len)
        }
        None => {
            let (opened, len) = open(options, line)?;
            (link.insert(opened), len)
        }
    };
    show_reply(&say_name(&link.endpoint), &link.reply[..len])
}

/// `-z -u`: an empty datagram (so nothing is sent but the fact of it),
/// and a reply awaited as for any: a reply is 0, an ICMP port unreachable
/// 69, silence 75 (UDP cannot tell a server that ignores empty datagrams
/// from one that is not there behind a firewall that drops them).
///
/// # Errors
/// As [`open`].
pub fn probe(options: &ClientOptions) -> Result<()> {
    open(options, b"").map(drop).map_err(|error| {
        if error.errno() != Some(Errno::TIMEDOUT) {
            return error;
        }
        // A larger --timeout is seldom the answer here: most UDP servers
        // never answer an empty datagram.
        error.hinted(
            "no answer to an empty datagram, which many UDP servers ignore: silence \
             cannot tell them from a firewall; only exit 69 (port unreachable) means \
             nothing is bound there"
                .to_string(),
        )
    })
}

/// stdin's lines, each with its `\n` (a last one without), at most
/// [`MAX_DATAGRAM`] bytes each.
struct Lines {
    buf: Vec<u8>,
    start: usize,
    eof: bool,
    /// Where the lines go, for the error of one too long to send.
    to: String,
}

impl Lines {
    fn new(to: &impl core::fmt::Display) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            eof: false,
            to: to.to_string(),
        }
    }

    /// The next line's bytes in `buf`; `None` at the end.
    ///
    /// # Errors
    /// A send of `EMSGSIZE` for a line longer than [`MAX_DATAGRAM`] (it
    /// cannot be one datagram, so it is not read to its end); a failed
    /// read of stdin.
    fn next(&mut self) -> Result<Option<Range<usize>>> {
        let mut searched = self.start;
        loop {
            if let Some(at) = self.buf[searched..].iter().position(|&b| b == b'\n') {
                let line = self.start..searched + at + 1;
                self.start = line.end;
                return Ok(Some(line));
            }
            if self.eof {
                let line = self.start..self.buf.len();
                self.start = line.end;
                return Ok((!line.is_empty()).then_some(line));
            }
            if self.buf.len() - self.start > MAX_DATAGRAM {
                return Err(Error::on("send", &self.to, Errno::MSGSIZE));
            }
            self.buf.drain(..self.start);
            self.start = 0;
            searched = self.buf.len();
            self.fill()?;
        }
    }

    /// One `read` of stdin onto the end of `buf` (waiting, if stdin is
    /// non-blocking, until it is readable).
    fn fill(&mut self) -> Result<()> {
        let filled = self.buf.len();
        self.buf.resize(filled + READ_CHUNK, 0);
        let read = loop {
            match read_some(stdin(), &mut self.buf[filled..]) {
                Err(Errno::AGAIN) => {
                    poll_readable(stdin(), None).map_err(|e| Error::on("poll", "stdin", e))?;
                }
                other => break other,
            }
        };
        self.buf.truncate(filled + read.unwrap_or(0));
        match read {
            Ok(n) => {
                self.eof = n == 0;
                Ok(())
            }
            Err(errno) => Err(Error::on("read", "stdin", errno)),
        }
    }
}
