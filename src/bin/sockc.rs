//! `sockc HOST PORT [MESSAGE]...` · `sockc -U PATH [MESSAGE]...`: send and
//! print the reply (scripts), the lesson's interactive `you say:` client,
//! or `-z`, "is anything there".
#![forbid(unsafe_code)]

use clap::Parser;
use sockkit::cli::{self, parse_secs};
use sockkit::client::{self, ClientOptions, ServerAddr};
use sockkit::endpoint::Kind;
use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;

/// Client for TCP, UDP (-u) and unix sockets (-U PATH): one-shot with
/// MESSAGE (or - for stdin), -z to check that a server is there, else the
/// lesson's loop.
#[derive(Parser)]
#[command(allow_negative_numbers = true)]
#[command(override_usage = "sockc [OPTIONS] HOST PORT [MESSAGE]...\n       \
                            sockc -U PATH [-u] [OPTIONS] [MESSAGE]...")]
struct Args {
    /// Server: IPv4 or IPv6 literal, localhost (127.0.0.1) or a host name
    #[arg(value_name = "HOST", required_unless_present = "unix")]
    ip: Option<String>,
    /// Server port, 1-65535
    #[arg(required_unless_present = "unix")]
    port: Option<String>,
    /// Words to send, joined by spaces; - streams stdin (-u: a datagram a
    /// line); after -- a word may start with - (options go anywhere before
    /// --); with -U every word is message
    message: Vec<String>,
    /// Unix socket server: a path, or @name (abstract namespace)
    #[arg(short = 'U', long = "unix", value_name = "PATH")]
    unix: Option<OsString>,
    /// Datagrams: UDP, or unix datagrams with -U
    #[arg(short = 'u', long = "udp")]
    udp: bool,
    /// Connect and close, send nothing: exit 0 if a server is there, 69 if not
    #[arg(short = 'z')]
    zero: bool,
    /// Transcript mode: one connection for all lines
    #[arg(long)]
    keep: bool,
    /// Retry a server not there yet for up to SECS (refused, no socket file,
    /// no UDP reply, a connect attempt timed out)
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    wait: Option<Duration>,
    /// Bound on each connect attempt and on each wait for the server
    #[arg(long, value_name = "SECS", value_parser = parse_secs, default_value = "10")]
    timeout: Duration,
    /// No warnings: only errors on stderr
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    verbosity: cli::Verbosity,
}

fn main() -> ExitCode {
    let args = match cli::parse_args::<Args>("sockc") {
        Ok(args) => args,
        Err(code) => return code,
    };
    cli::init_logging("sockc", args.verbosity.verbose, args.quiet);
    let kind = Kind::from_udp_flag(args.udp);
    let positionals = args.ip.into_iter().chain(args.port).chain(args.message);
    let result = ServerAddr::from_args(kind, args.unix.as_deref(), positionals.collect()).and_then(
        |(server, words)| {
            let mut options = ClientOptions::new(server, &words, args.timeout);
            (options.keep, options.zero, options.wait) = (args.keep, args.zero, args.wait);
            options.check()?;
            client::run(&options)
        },
    );
    cli::report("sockc", result)
}
