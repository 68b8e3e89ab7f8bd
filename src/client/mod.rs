//! `sockc`: one-shot for scripts, the lesson's `you say:` loop, or `-z`'s
//! "is anything there", over TCP, UDP, unix stream and unix datagram
//! sockets.

mod connect;
mod datagram;
mod exchange;
mod interactive;
mod oneshot;
mod retry;
mod server;

pub use connect::connect_retrying;
pub use server::ServerAddr;

use crate::endpoint::Kind;
use crate::error::{Error, Result};
use core::time::Duration;

/// What to send in one-shot mode.
#[derive(Debug, Clone)]
pub enum Message {
    /// The words given on the command line, joined by spaces.
    Words(Vec<u8>),
    /// stdin, streamed to EOF (`-`); over datagrams, a datagram per line.
    Stdin,
}

/// Everything `sockc` was asked to do.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The server.
    pub server: ServerAddr,
    /// One-shot message; `None`: the interactive transcript loop.
    pub message: Option<Message>,
    /// Reuse one connection for every typed line (transcript mode).
    pub keep: bool,
    /// `-z`: connect and close, send nothing.
    pub zero: bool,
    /// Retry a server that is not there yet this long.
    pub wait: Option<Duration>,
    /// Bound on each connect attempt and on each wait for the server.
    pub timeout: Duration,
}

impl ClientOptions {
    /// Options for `server` from the command line's MESSAGE words (`-`
    /// alone means stdin).
    pub fn new(server: ServerAddr, words: &[String], timeout: Duration) -> Self {
        let message = match words {
            [] => None,
            [dash] if dash == "-" => Some(Message::Stdin),
            words => Some(Message::Words(words.join(" ").into_bytes())),
        };
        Self {
            server,
            message,
            keep: false,
            zero: false,
            wait: None,
            timeout,
        }
    }

    /// Refuses flags that mean nothing together.
    ///
    /// # Errors
    /// [`Error::Usage`]: `-z` with a message or `--keep` (it sends
    /// nothing), `--keep` with datagrams (there is no connection to keep).
    pub fn check(&self) -> Result<()> {
        let clash = if self.zero && self.message.is_some() {
            "-z sends nothing: give no MESSAGE with it"
        } else if self.zero && self.keep {
            "-z sends nothing: --keep means nothing with it"
        } else if self.keep && self.server.kind() == Kind::Datagram {
            "--keep is for stream connections: datagrams (-u) have none to keep"
        } else {
            return Ok(());
        };
        Err(Error::Usage(clash.to_string()))
    }
}

/// Runs the client.
///
/// # Errors
/// Connection failures (`ECONNREFUSED`, a missing unix socket → 69), our
/// timeouts (`ETIMEDOUT` → 75), an unknown host (68), resets; a closed
/// stdout is [`crate::Error::StdoutClosed`] (exit 0).
pub fn run(options: &ClientOptions) -> Result<()> {
    let datagrams = options.server.kind() == Kind::Datagram;
    let result = match (&options.message, options.zero) {
        (_, true) => connect::zero(options),
        (Some(message), false) if datagrams => datagram::oneshot(options, message),
        (Some(message), false) => oneshot::run(options, message),
        (None, false) => interactive::run(options),
    };
    result.map_err(|err| match err.errno() {
        Some(rustix::io::Errno::TIMEDOUT) => err.gave_up("--timeout", options.timeout),
        _ => err,
    })
}
