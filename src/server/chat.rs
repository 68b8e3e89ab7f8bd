//! `--chat`: the lesson's server. One client at a time: read one message,
//! print it, prompt `you say: `, send the operator's line back, close (so
//! that the reply arrives whole: see [`super::reply`]).
//!
//! Unlike the lesson it reads until the message ends (not one `read`),
//! sends only the reply's bytes (not a fixed 1024), and ends cleanly on
//! stdin EOF instead of crashing on a NULL `fgets`.

use super::WorkerStats;
use super::peer::Peer;
use super::reply::{Ended, reply_and_close};
use super::sendq::SendQueues;
use super::stop::{Ready, Stop};
use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::io::{
    LineReader, poll_readable, recv_some, stdin, stdin_is_terminal, stdin_read_is_ours, stdout,
};
use crate::socket::accept;
use crate::transcript::{MessageSplitter, push_say_line};
use core::time::Duration;
use rustix::event::{PollFd, PollFlags};
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::SocketFlags;
use std::time::Instant;

/// Settings of the chat loop.
#[derive(Debug, Clone, Copy)]
pub struct ChatOptions {
    /// The time a client has, from its accept, to complete its message (a
    /// silent client and one trickling a byte at a time, slowloris, alike
    /// give up the one chat slot when it runs out); and the longest it may
    /// go without taking a byte of its reply.
    pub idle_timeout: Option<Duration>,
    /// Stop after this many connections have closed.
    pub exit_after: Option<u64>,
}

/// Serves chat clients one at a time until stdin ends, a stop signal comes,
/// or `exit_after` connections have closed. Every wait (for a client, the
/// operator, or stdout) ends at the stop signal.
///
/// # Errors
/// A failing `poll`, a failing stdin read, or a stdout that cannot be written.
pub fn run_chat(
    listener: &OwnedFd,
    local: &Endpoint,
    stop: &Stop,
    options: ChatOptions,
) -> Result<WorkerStats> {
    let mut stats = WorkerStats::default();
    let mut closed = 0u64;
    let mut operator = LineReader::new();
    let mut queues = SendQueues::new();
    let echo_typed = !stdin_is_terminal();
    while options.exit_after.is_none_or(|limit| closed < limit) {
        match wait_for_client(listener, &mut operator, stop, local)? {
            Waited::Client => {}
            Waited::Stopped | Waited::StdinEnded => break,
        }
        let (conn, peer) = match accept(listener, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC) {
            Ok(accepted) => accepted,
            Err(Errno::AGAIN) => continue,
            Err(errno) if super::listener_gone(errno) => {
                return Err(super::listener_gone_error(local, errno));
            }
            Err(errno) => {
                log::warn!("accept {local}: {}", crate::error::describe_errno(errno));
                if matches!(errno, Errno::MFILE | Errno::NFILE)
                    && wait_stop(stop, Duration::from_millis(100))
                {
                    break;
                }
                continue;
            }
        };
        stats.accepted += 1;
        let peer_ip = Peer::accepted(&conn, peer).name();
        let message = match read_message(&conn, stop, options.idle_timeout, local, &mut stats)? {
            Some(message) => message,
            None if stop.requested() => break,
            None => {
                closed += 1;
                continue;
            }
        };
        let mut out = Vec::new();
        push_say_line(&mut out, peer_ip, &message.0, message.1);
        out.extend_from_slice(b"you say: ");
        if !say(&out, stop)? {
            break;
        }
        let Some(reply) = next_operator_line(&mut operator, stop)? else {
            // stdin ended (or a stop came) at the prompt: the lesson's server
            // crashed here; this one ends the line and exits 0.
            say(b"\n", stop)?;
            break;
        };
        if echo_typed {
            let mut typed = reply.clone();
            typed.push(b'\n');
            if !say(&typed, stop)? {
                break;
            }
        }
        let (ended, extra) = reply_and_close(conn, &reply, stop, options.idle_timeout, &mut queues)
            .map_err(|errno| Error::at("poll", local, errno))?;
        stats.bytes += extra;
        closed += 1;
        match ended {
            Ended::Delivered => {}
            Ended::Stopped => break,
            Ended::Cut => {
                log::info!("closed {peer_ip} after its reply without its close: it went on sending")
            }
            Ended::Stalled => log::info!(
                "closing {peer_ip}: it took none of its reply for {:?}",
                options.idle_timeout.unwrap_or_default()
            ),
            Ended::Failed(errno) => {
                log::warn!("send to {peer_ip}: {}", crate::error::describe_errno(errno));
            }
        }
    }
    Ok(stats)
}

/// Writes `bytes` on stdout unless a stop comes first (`Ok(false)`): a
/// terminal at Ctrl-S or a paused `| less` cannot keep sockd from stopping.
fn say(bytes: &[u8], stop: &Stop) -> Result<bool> {
    match crate::io::write_all_polled(stdout(), bytes, stop.fd()) {
        Ok(done) => Ok(done),
        Err(Errno::PIPE) => Err(Error::StdoutClosed),
        Err(errno) => Err(Error::on("write", "stdout", errno)),
    }
}

/// Reads until the client's first message ends. `None`: the client closed
/// without one, reset, did not complete it within `idle_timeout` of its
/// accept, or stop came.
fn read_message(
    conn: &OwnedFd,
    stop: &Stop,
    idle_timeout: Option<Duration>,
    local: &Endpoint,
    stats: &mut WorkerStats,
) -> Result<Option<(Vec<u8>, usize)>> {
    let mut splitter = MessageSplitter::new();
    let mut first: Option<(Vec<u8>, usize)> = None;
    let mut buf = [0u8; 4096];
    // One deadline for the whole message, not one per byte: a byte every
    // half second would otherwise hold the slot for ever.
    let deadline = idle_timeout.and_then(|idle| Instant::now().checked_add(idle));
    loop {
        let left = deadline.map(|at| at.saturating_duration_since(Instant::now()));
        match wait_readable(conn, stop, left, local)? {
            Ready::Stopped => return Ok(None),
            Ready::TimedOut => {
                log::info!("closing a client whose message did not come within {idle_timeout:?}");
                return Ok(None);
            }
            Ready::Fd(_) => {}
        }
        match recv_some(conn, &mut buf) {
            Ok(0) => {
                splitter.finish(|message, dropped| {
                    first.get_or_insert_with(|| (message.to_vec(), dropped));
                });
                return Ok(first);
            }
            Ok(n) => {
                stats.bytes += n as u64;
                splitter.feed(&buf[..n], |message, dropped| {
                    first.get_or_insert_with(|| (message.to_vec(), dropped));
                });
                if first.is_some() {
                    return Ok(first);
                }
            }
            Err(Errno::AGAIN) => {}
            Err(errno) => {
                log::info!("recv: {}", crate::error::describe_errno(errno));
                return Ok(None);
            }
        }
    }
}

/// What ended a [`wait_for_client`].
enum Waited {
    Client,
    Stopped,
    /// stdin has ended and every line it gave has been sent: no client
    /// could get a reply.
    StdinEnded,
}

/// Waits for the listener to be readable. Until the operator's next line is
/// whole, stdin is read meanwhile (bytes the kernel would have kept for
/// the prompt anyway, and no more than one line of them), so that its end
/// ends sockd at once, not at the next client's prompt: `printf 'a\nb\n' |
/// sockd --chat …` exits after its second client.
fn wait_for_client(
    listener: &OwnedFd,
    operator: &mut LineReader,
    stop: &Stop,
    local: &Endpoint,
) -> Result<Waited> {
    loop {
        let has_line = operator.has_line();
        if !has_line && operator.at_eof() {
            return Ok(Waited::StdinEnded);
        }
        // A background job's terminal is read at the prompt, where the job
        // stops for its operator as `cat &` does, not at a key typed at the
        // shell before any client came.
        if has_line || !stdin_read_is_ours() {
            return Ok(match wait_readable(listener, stop, None, local)? {
                Ready::Stopped => Waited::Stopped,
                Ready::TimedOut | Ready::Fd(_) => Waited::Client,
            });
        }
        let mut fds = [
            PollFd::new(listener, PollFlags::IN),
            PollFd::from_borrowed_fd(stdin(), PollFlags::IN),
            PollFd::from_borrowed_fd(stop.fd(), PollFlags::IN),
        ];
        crate::io::poll(&mut fds, None).map_err(|errno| Error::at("poll", local, errno))?;
        if !fds[2].revents().is_empty() {
            return Ok(Waited::Stopped);
        }
        // Asked again: a job put in the background (Ctrl-Z, `bg`) while in
        // this poll must not read the key that woke it.
        if !fds[1].revents().is_empty() && stdin_read_is_ours() {
            operator.fill_from(stdin()).map_err(Error::reading_stdin)?;
        } else if !fds[0].revents().is_empty() {
            return Ok(Waited::Client);
        }
    }
}

/// The operator's next line; `None` at stdin EOF or on stop.
fn next_operator_line(operator: &mut LineReader, stop: &Stop) -> Result<Option<Vec<u8>>> {
    loop {
        if let Some(line) = operator.take_line() {
            return Ok(Some(line));
        }
        if operator.at_eof() {
            return Ok(None);
        }
        match stop.wait_for(stdin(), PollFlags::IN, None) {
            Ok(Ready::Stopped) => return Ok(None),
            Ok(_) => {}
            Err(errno) => return Err(Error::on("poll", "stdin", errno)),
        }
        operator.fill_from(stdin()).map_err(Error::reading_stdin)?;
    }
}

fn wait_readable(
    fd: &impl AsFd,
    stop: &Stop,
    timeout: Option<Duration>,
    local: &Endpoint,
) -> Result<Ready> {
    stop.wait_for(fd, PollFlags::IN, timeout)
        .map_err(|errno| Error::at("poll", local, errno))
}

/// Waits up to `pause` for a stop; returns whether one came.
fn wait_stop(stop: &Stop, pause: Duration) -> bool {
    poll_readable(stop.fd(), Some(pause)).unwrap_or(false)
}
