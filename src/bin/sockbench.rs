//! `sockbench pingpong|churn|bulk|hold IP PORT ...`: load any TCP echo server on
//! loopback, compare every echoed byte, report rate and latency.
#![forbid(unsafe_code)]

use clap::{Args, Parser, Subcommand};
use sockkit::bench::{self, Mode, Options};
use sockkit::{Error, Exit, cli};
use std::process::ExitCode;
use std::time::Duration;

/// Load generator for TCP echo servers on loopback (127.0.0.0/8, ::1).
///
/// Exits 0 when every echoed byte was right, 71 when any differed, 69 when
/// the server refuses the first connection, 64 for bad arguments.
#[derive(Parser)]
#[command(name = "sockbench", version)]
struct Cli {
    #[command(subcommand)]
    load: Load,
}

#[derive(Subcommand)]
enum Load {
    /// CONNS persistent connections, each sending BYTES and waiting for the
    /// whole echo before the next request.
    Pingpong(Requests),
    /// Connect, send BYTES, read the echo, close, repeat: CONNS at once.
    Churn(Requests),
    /// One connection streaming both ways; reports MB/s of verified echo.
    Bulk(Common),
    /// CONNS connections: one echo each, idle until SECS are up, one more
    /// echo each (for measuring what idle connections cost a server).
    Hold(Requests),
    /// Print a loopback port that was free a moment ago (for scripts).
    #[command(hide = true)]
    FreePort,
}

#[derive(Args)]
struct Requests {
    #[command(flatten)]
    common: Common,
    /// Connections (pingpong) or concurrent connections (churn).
    #[arg(short = 'c', long = "connections", value_name = "CONNS", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    connections: u32,
    /// Bytes per request.
    #[arg(short = 's', long = "size", value_name = "BYTES", default_value_t = 64)]
    size: usize,
    /// Load threads, each with its own epoll loop and a share of the
    /// connections (pingpong and churn; no progress line when above 1).
    #[arg(long = "threads", value_name = "N", default_value_t = 1)]
    threads: usize,
}

#[derive(Args)]
struct Common {
    /// The echo server's IP (loopback only).
    ip: String,
    /// The echo server's port.
    port: String,
    /// How long to run, in seconds (fractions allowed).
    #[arg(
        short = 'd',
        long = "duration",
        value_name = "SECS",
        default_value_t = 5.0
    )]
    duration: f64,
    /// Retry a refused first connection for up to SECS (a server starting).
    #[arg(long = "wait", value_name = "SECS", default_value_t = 0.0)]
    wait: f64,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// More diagnostics on stderr (-vv for debug).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    verbose: u8,
}

fn main() -> ExitCode {
    let cli = match cli::parse_args::<Cli>("sockbench") {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let (mode, common, shape) = match cli.load {
        Load::Pingpong(r) => Shape::split(Mode::PingPong, r),
        Load::Churn(r) => Shape::split(Mode::Churn, r),
        Load::Bulk(common) => (Mode::Bulk, common, Shape::default()),
        Load::Hold(r) => Shape::split(Mode::Hold, r),
        Load::FreePort => {
            return cli::report(
                "sockbench",
                bench::free_port()
                    .and_then(|port| sockkit::io::write_stdout(format!("{port}\n").as_bytes())),
            );
        }
    };
    cli::init_logging("sockbench", common.verbose, false);
    match run(mode, &common, &shape) {
        Ok(exit) => exit.into(),
        Err(err) => cli::report("sockbench", Err(err)),
    }
}

/// Connections, request size and threads of a request load.
struct Shape {
    connections: u32,
    size: usize,
    threads: usize,
}

impl Default for Shape {
    fn default() -> Self {
        Self {
            connections: 1,
            size: 64,
            threads: 1,
        }
    }
}

impl Shape {
    fn split(mode: Mode, requests: Requests) -> (Mode, Common, Self) {
        let shape = Self {
            connections: requests.connections,
            size: requests.size,
            threads: requests.threads,
        };
        (mode, requests.common, shape)
    }
}

fn run(mode: Mode, common: &Common, shape: &Shape) -> Result<Exit, Error> {
    let seconds = |flag: &str, value: f64| {
        Duration::try_from_secs_f64(value)
            .map_err(|_| Error::Usage(format!("invalid {flag} {value}: expected seconds")))
    };
    let duration = seconds("-d", common.duration)?;
    let wait = seconds("--wait", common.wait)?;
    let options = Options {
        mode,
        target: sockkit::addr::parse_socket_addr(&common.ip, &common.port)?,
        connections: shape.connections as usize,
        size: shape.size,
        duration,
        progress: rustix::termios::isatty(rustix::stdio::stderr()),
        wait,
        threads: shape.threads,
        first_connection: 0,
    };
    let outcome = bench::run(&options)?;
    let printed = if common.json {
        format!("{}\n", bench::report::json(&outcome))
    } else {
        bench::report::text(&outcome)
    };
    sockkit::io::write_stdout(printed.as_bytes())?;
    if let Some(message) = bench::report::corruption_message(&outcome) {
        eprintln!("sockbench: {message}");
    } else if outcome.exit() == Exit::Unavailable {
        eprintln!("sockbench: no echo came back from {}", options.target);
    }
    Ok(outcome.exit())
}
