//! `sockc IP PORT [MESSAGE]...`: send and print the reply (scripts), or the
//! lesson's interactive `you say:` client.
#![forbid(unsafe_code)]

use clap::Parser;
use sockkit::cli::{self, parse_secs};
use sockkit::client::{self, ClientOptions};
use std::process::ExitCode;
use std::time::Duration;

/// TCP client: one-shot with MESSAGE (or - for stdin), else the lesson's loop.
#[derive(Parser)]
#[command(allow_negative_numbers = true)]
struct Args {
    /// IPv4 or IPv6 literal of the server (localhost = 127.0.0.1)
    ip: String,
    /// Server port, 0-65535
    port: String,
    /// Words to send, joined by spaces; - streams stdin; after -- a word
    /// may start with - (options go anywhere before --)
    message: Vec<String>,
    /// Transcript mode: one connection for all lines
    #[arg(long)]
    keep: bool,
    /// Retry a refused connection for up to SECS (server still starting)
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    wait: Option<Duration>,
    /// Bound on connecting and on each wait for the server
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
    let result = ClientOptions::new(&args.ip, &args.port, &args.message, args.timeout).and_then(
        |mut options| {
            options.keep = args.keep;
            options.wait = args.wait;
            client::run(&options)
        },
    );
    cli::report("sockc", result)
}
