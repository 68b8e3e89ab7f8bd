//! The lesson's client: `you say: `, a line, the server's answer, repeat.
//!
//! Each line goes on a connection of its own, as in the lesson, ended by
//! `shutdown(SHUT_WR)` so the server sees where it ends; with `--keep` all
//! lines share one connection and each is sent with a `\n`.
//!
//! A reply is shown whole: on its own connection, everything the server
//! sends until it closes, one `IP say:` line per `\n`-ended message; with
//! `--keep`, what arrives up to the next `\n` (bytes after it are the next
//! line's answer). A NUL inside a message is shown as `\x00`; the NULs
//! before a message's first byte or after its last are the lesson's padding
//! and are dropped.
//!
//! Over datagrams (`-u`, `-uU`) each line is one datagram (without its
//! `\n`, as a line on a connection of its own) and its reply is the one
//! datagram that comes back, split into `say:` lines by the same rules.

use super::ClientOptions;
use super::datagram::{self, Link};
use super::exchange::{self, Kept};
use crate::endpoint::Kind;
use crate::error::{Error, Result};
use crate::escape::push_escaped;
use crate::io::{LineReader, stdin, stdin_is_terminal, write_stdout};

/// Runs the transcript loop until `q` or the end of stdin.
pub fn run(options: &ClientOptions) -> Result<()> {
    let mut typed = LineReader::new();
    let echo_typed = !stdin_is_terminal();
    let mut kept: Option<Kept> = None;
    let mut link: Option<Link> = None;
    loop {
        write_stdout(b"you say: ")?;
        let Some(line) = next_line(&mut typed)? else {
            write_stdout(b"\n")?;
            return Ok(());
        };
        if echo_typed {
            // Piped input is as untrusted as the reply: escaped the same way.
            let mut shown = Vec::with_capacity(line.len() + 1);
            push_escaped(&mut shown, &line);
            shown.push(b'\n');
            write_stdout(&shown)?;
        }
        if line == b"q" {
            return Ok(());
        }
        if options.server.kind() == Kind::Datagram {
            datagram::say(options, &mut link, &line)?;
        } else if options.keep {
            exchange::kept(options, &mut kept, &line)?;
        } else {
            exchange::once(options, &line)?;
        }
    }
}

fn next_line(typed: &mut LineReader) -> Result<Option<Vec<u8>>> {
    loop {
        if let Some(line) = typed.take_line() {
            return Ok(Some(line));
        }
        if typed.at_eof() {
            return Ok(None);
        }
        typed.fill_from(stdin()).map_err(Error::reading_stdin)?;
    }
}
