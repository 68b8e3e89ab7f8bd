//! One-shot: send the message (or stdin), `shutdown(SHUT_WR)`, copy the reply
//! to stdout until the server closes. Sending and receiving overlap in one
//! `poll` loop, so an echo server streaming back never deadlocks a large send.

use super::connect::{Connected, connect};
use super::{ClientOptions, Message};
use crate::error::{Error, Result};
use crate::io::{poll, read_some, recv_some, send_some, stdin, write_stdout};
use crate::socket::shutdown_write;
use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;

/// Bytes moved per `read`/`recv`.
const CHUNK: usize = 256 * 1024;

/// Bytes waiting to go to the server, and where more come from.
struct Outgoing {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    from_stdin: bool,
    source_done: bool,
}

impl Outgoing {
    fn new(message: &Message) -> Self {
        match message {
            Message::Words(words) => Self {
                buf: words.clone(),
                start: 0,
                end: words.len(),
                from_stdin: false,
                source_done: true,
            },
            Message::Stdin => Self {
                buf: vec![0; CHUNK],
                start: 0,
                end: 0,
                from_stdin: true,
                source_done: false,
            },
        }
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn sent(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end && self.from_stdin {
            self.start = 0;
            self.end = 0;
        }
    }

    /// The peer stopped reading: nothing more will go out.
    fn abandon(&mut self) {
        self.start = self.end;
        self.source_done = true;
    }
}

/// Runs one exchange; see the module docs.
pub fn run(options: &ClientOptions, message: &Message) -> Result<()> {
    let Connected { sock, endpoint } = connect(options)?;
    let addr = &endpoint;
    let mut out = Outgoing::new(message);
    let mut reply = vec![0u8; CHUNK];
    let mut write_closed = false;
    loop {
        let has_pending = !out.pending().is_empty();
        if !has_pending && out.source_done && !write_closed {
            shutdown_write(&sock).map_err(|errno| Error::at("shutdown", addr, errno))?;
            write_closed = true;
        }
        let wants_stdin = !out.source_done && !has_pending;
        let sock_events = if has_pending {
            PollFlags::IN | PollFlags::OUT
        } else {
            PollFlags::IN
        };
        let mut fds = [
            PollFd::new(&sock, sock_events),
            PollFd::from_borrowed_fd(stdin(), PollFlags::IN),
        ];
        let watched = if wants_stdin { 2 } else { 1 };
        // Waiting on a person typing into stdin is not the server's fault.
        let limit = (!wants_stdin).then_some(options.timeout);
        match poll(&mut fds[..watched], limit) {
            Ok(0) => {
                let op = if has_pending { "send" } else { "recv" };
                return Err(Error::at(op, addr, Errno::TIMEDOUT));
            }
            Ok(_) => {}
            Err(errno) => return Err(Error::at("poll", addr, errno)),
        }
        let sock_ready = fds[0].revents();
        let stdin_ready = watched == 2 && !fds[1].revents().is_empty();

        if sock_ready.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) {
            match recv_some(&sock, &mut reply) {
                Ok(0) => return Ok(()),
                Ok(n) => write_stdout(&reply[..n])?,
                Err(Errno::AGAIN) => {}
                Err(errno) => return Err(Error::at("recv", addr, errno)),
            }
        }
        if has_pending && sock_ready.contains(PollFlags::OUT) {
            match send_some(&sock, out.pending()) {
                Ok(n) => out.sent(n),
                Err(Errno::AGAIN) => {}
                // The server closed its reading side; what it sends back
                // until it closes is still the reply.
                Err(Errno::PIPE | Errno::CONNRESET) => {
                    out.abandon();
                    write_closed = true;
                }
                Err(errno) => return Err(Error::at("send", addr, errno)),
            }
        }
        if stdin_ready {
            match read_some(stdin(), &mut out.buf) {
                Ok(0) => out.source_done = true,
                Ok(n) => {
                    out.start = 0;
                    out.end = n;
                }
                Err(Errno::AGAIN) => {}
                Err(errno) => return Err(Error::on("read", "stdin", errno)),
            }
        }
    }
}
