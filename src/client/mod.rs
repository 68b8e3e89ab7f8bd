//! `sockc`: one-shot for scripts, or the lesson's `you say:` loop.

mod connect;
mod exchange;
mod interactive;
mod oneshot;

pub use connect::connect_retrying;

use crate::addr::parse_socket_addr;
use crate::error::Result;
use core::net::SocketAddr;
use core::time::Duration;

/// What to send in one-shot mode.
#[derive(Debug, Clone)]
pub enum Message {
    /// The words given on the command line, joined by spaces.
    Words(Vec<u8>),
    /// stdin, streamed to EOF (`-`).
    Stdin,
}

/// Everything `sockc` was asked to do.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The server.
    pub addr: SocketAddr,
    /// One-shot message; `None`: the interactive transcript loop.
    pub message: Option<Message>,
    /// Reuse one connection for every typed line (transcript mode).
    pub keep: bool,
    /// Retry refused connections this long.
    pub wait: Option<Duration>,
    /// Bound on connecting and on each wait for the server.
    pub timeout: Duration,
}

impl ClientOptions {
    /// Options from the command line's IP, PORT and MESSAGE words (`-`
    /// alone means stdin).
    ///
    /// # Errors
    /// [`crate::Error::Usage`] for a bad IP or port.
    pub fn new(ip: &str, port: &str, words: &[String], timeout: Duration) -> Result<Self> {
        let addr = parse_socket_addr(ip, port)?;
        let message = match words {
            [] => None,
            [dash] if dash == "-" => Some(Message::Stdin),
            words => Some(Message::Words(words.join(" ").into_bytes())),
        };
        Ok(Self {
            addr,
            message,
            keep: false,
            wait: None,
            timeout,
        })
    }
}

/// Runs the client.
///
/// # Errors
/// Connection failures (`ECONNREFUSED` → 69), our timeouts (`ETIMEDOUT` →
/// 75), resets; a closed stdout is [`crate::Error::StdoutClosed`] (exit 0).
pub fn run(options: &ClientOptions) -> Result<()> {
    match &options.message {
        Some(message) => oneshot::run(options, message),
        None => interactive::run(options),
    }
}
