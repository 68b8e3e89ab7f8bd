//! One typed line's exchange with a stream server, and its reply shown as
//! `<server> say:` lines (see [`super::interactive`] for what a reply is).

use super::ClientOptions;
use super::connect::{Connected, connect};
use super::server::say_name;
use crate::error::{Error, Result};
use crate::io::{recv_some, send_all, write_stdout};
use crate::socket::shutdown_write;
use crate::transcript::{MessageSplitter, push_say_line};
use rustix::io::Errno;
use rustix::net::sockopt;

/// Bytes taken per `recv`: also what bounds the transcript held before it
/// is written (a few bytes of `<server> say: …` per byte received).
const RECV_CHUNK: usize = 16 * 1024;

/// A connection kept across lines (`--keep`) and the reply bytes read past
/// the last answer.
pub struct Kept {
    conn: Connected,
    splitter: MessageSplitter,
    /// Received after the last answer's `\n` (at most one `recv`): the
    /// start of the next answer, not to be lost.
    unread: Vec<u8>,
}

/// Connects, with `--timeout` applied to every later send and recv.
fn connect_blocking(options: &ClientOptions) -> Result<Connected> {
    let conn = connect(options)?;
    let sock = &conn.sock;
    let setup = rustix::io::ioctl_fionbio(sock, false)
        .and_then(|()| {
            sockopt::set_socket_timeout(sock, sockopt::Timeout::Recv, Some(options.timeout))
        })
        .and_then(|()| {
            sockopt::set_socket_timeout(sock, sockopt::Timeout::Send, Some(options.timeout))
        });
    setup.map_err(|errno| Error::at("setsockopt", &conn.endpoint, errno))?;
    Ok(conn)
}

/// A reply shown as it arrives: one `<server> say:` line per message,
/// each written as soon as the bytes that complete it are in.
struct Shown {
    /// Formatted once: an `IpAddr` formatted per line was three quarters
    /// of the time spent on a stream of empty lines.
    server: String,
    splitter: MessageSplitter,
    out: Vec<u8>,
    said: bool,
}

impl Shown {
    fn new(server: String) -> Self {
        Self {
            server,
            splitter: MessageSplitter::for_replies(),
            out: Vec::new(),
            said: false,
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> Result<()> {
        let (server, out) = (&self.server, &mut self.out);
        self.splitter
            .feed(bytes, |m, d| push_say_line(out, server, m, d));
        self.write()
    }

    /// The end of the reply: its unterminated last message, or, when the
    /// server said nothing at all, one empty line.
    fn finish(mut self) -> Result<()> {
        self.end_message();
        if !self.said && self.out.is_empty() {
            push_say_line(&mut self.out, &self.server, b"", 0);
        }
        self.write()
    }

    /// A reply cut short by a reset or a timeout: what came of its last
    /// message is still shown, before the error says why it ends there.
    fn cut(mut self) -> Result<()> {
        self.end_message();
        self.write()
    }

    /// The unterminated last message, as a line to write.
    fn end_message(&mut self) {
        let (server, out) = (&self.server, &mut self.out);
        self.splitter
            .finish(|m, d| push_say_line(out, server, m, d));
    }

    fn write(&mut self) -> Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        self.said = true;
        write_stdout(&self.out)?;
        self.out.clear();
        Ok(())
    }
}

/// A whole reply (a datagram's bytes) as `server say:` lines, split by
/// the same rules as a stream's.
///
/// # Errors
/// A failed write of stdout.
pub fn show_reply(server: &str, reply: &[u8]) -> Result<()> {
    let mut shown = Shown::new(server.to_string());
    shown.feed(reply)?;
    shown.finish()
}

/// The lesson's exchange: connect, send `line`, then show the answer until
/// the server closes. Each message's line is written as soon as the `recv`
/// holding its `\n` returns: a server that never stops talking is shown as
/// it talks, in bounded memory (the message in progress is capped by the
/// splitter, and at most one `recv`'s worth of transcript waits).
pub fn once(options: &ClientOptions, line: &[u8]) -> Result<()> {
    let Connected { sock, endpoint } = connect_blocking(options)?;
    let fail = |op, errno| Error::at(op, &endpoint, timed_out(errno));
    send_all(&sock, line).map_err(|errno| fail("send", errno))?;
    shutdown_write(&sock).map_err(|errno| fail("shutdown", errno))?;
    let mut shown = Shown::new(say_name(&endpoint));
    let mut buf = [0u8; RECV_CHUNK];
    loop {
        let n = match recv_some(&sock, &mut buf) {
            Ok(n) => n,
            Err(errno) => {
                shown.cut()?;
                return Err(fail("recv", errno));
            }
        };
        if n == 0 {
            return shown.finish();
        }
        shown.feed(&buf[..n])?;
    }
}

/// `--keep`: send `line\n` on the kept connection and show one answer. A
/// connection the server closed while we were idle is replaced once.
pub fn kept(options: &ClientOptions, kept: &mut Option<Kept>, line: &[u8]) -> Result<()> {
    let (server, answer) = kept_answer(options, kept, line)?;
    let (message, dropped) = answer.unwrap_or_default();
    let mut out = Vec::new();
    push_say_line(&mut out, server, &message, dropped);
    write_stdout(&out)
}

/// A message of the answer, and the count of its bytes cut from it.
type Answer = (Vec<u8>, usize);

/// The answer to `line` on the kept connection (`None` when the server
/// closed without one), and the server's name for the transcript.
fn kept_answer(
    options: &ClientOptions,
    kept: &mut Option<Kept>,
    line: &[u8],
) -> Result<(String, Option<Answer>)> {
    let mut framed = line.to_vec();
    framed.push(b'\n');
    let mut reconnected = false;
    loop {
        let conn = match kept {
            Some(conn) => conn,
            None => {
                reconnected = true;
                kept.insert(Kept {
                    conn: connect_blocking(options)?,
                    splitter: MessageSplitter::for_replies(),
                    unread: Vec::new(),
                })
            }
        };
        let server = say_name(&conn.conn.endpoint);
        let exchanged = send_all(&conn.conn.sock, &framed)
            .map_err(|errno| ("send", timed_out(errno)))
            .and_then(|()| read_answer(conn).map_err(|errno| ("recv", errno)));
        match exchanged {
            Ok(Some(answer)) => return Ok((server, Some(answer))),
            Ok(None) if !reconnected => *kept = None,
            Ok(None) => {
                *kept = None;
                return Ok((server, None));
            }
            Err((_, Errno::PIPE | Errno::CONNRESET)) if !reconnected => *kept = None,
            Err((op, errno)) => {
                let err = Error::at(op, &conn.conn.endpoint, errno);
                *kept = None;
                return Err(err);
            }
        }
    }
}

/// Reads until one answer (what arrives up to a `\n`) is complete; `None`
/// if the server closed first. What follows the `\n` waits in `unread`.
fn read_answer(conn: &mut Kept) -> core::result::Result<Option<Answer>, Errno> {
    let mut buf = [0u8; RECV_CHUNK];
    loop {
        if conn.unread.is_empty() {
            let n = recv_some(&conn.conn.sock, &mut buf).map_err(timed_out)?;
            if n == 0 {
                let mut answer = None;
                conn.splitter.finish(|m, d| answer = Some((m.to_vec(), d)));
                return Ok(answer);
            }
            conn.unread.extend_from_slice(&buf[..n]);
        }
        let through = conn
            .unread
            .iter()
            .position(|&b| b == b'\n')
            .map_or(conn.unread.len(), |at| at + 1);
        let mut answer = None;
        conn.splitter.feed(&conn.unread[..through], |m, d| {
            answer = Some((m.to_vec(), d))
        });
        conn.unread.drain(..through);
        if answer.is_some() {
            return Ok(answer);
        }
    }
}

/// `SO_RCVTIMEO`/`SO_SNDTIMEO` expiry shows up as `EAGAIN`; to the user it
/// is the timeout they set.
fn timed_out(errno: Errno) -> Errno {
    if errno == Errno::AGAIN {
        Errno::TIMEDOUT
    } else {
        errno
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn a_kept_send_that_times_out_is_named_send() {
        // Listening, never accepting: the handshake completes in the backlog
        // and nothing reads, so a line far larger than the socket buffers
        // cannot be sent within the timeout.
        let any = crate::Endpoint::tcp(core::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        let (listener, bound) = crate::bind_socket(&any).unwrap_or_else(|e| panic!("{e}"));
        crate::socket::listen(&listener, &bound, 8).unwrap_or_else(|e| panic!("{e}"));
        let addr = bound.socket_addr().unwrap_or_else(|| panic!("{bound}"));
        let server = super::super::ServerAddr::host(
            crate::endpoint::Kind::Stream,
            "127.0.0.1",
            &addr.port().to_string(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut options = ClientOptions::new(server, &[], Duration::from_millis(300));
        options.keep = true;
        let line = vec![b'a'; 64 << 20];
        let err = kept_answer(&options, &mut None, &line).err();
        let shown = err.map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            shown,
            format!("send {addr}: connection timed out (ETIMEDOUT)")
        );
    }
}
