//! `sockbench pingpong|churn|bulk|hold HOST PORT|-U PATH ...`: load any echo
//! server on loopback (TCP, UDP with -u) or on a unix socket, compare every
//! echoed byte, report rate and latency.
#![forbid(unsafe_code)]

use clap::Parser;
use sockkit::bench::args::{Common, Requests};
use sockkit::bench::{self, Mode, summary};
use sockkit::cli;
use std::path::PathBuf;
use std::process::ExitCode;

/// Load generator for echo servers on loopback (127.0.0.0/8, ::1): TCP,
/// UDP (-u, pingpong), unix sockets (-U PATH, -uU for datagrams)
///
/// Every echoed byte is compared: exit 71 when one differs or comes after a
/// whole echo, 69 when the server refuses the first connection or no
/// request came back whole, 68 for an unknown host.
#[derive(Parser)]
#[command(name = "sockbench")]
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
    /// Print a loopback port that was free a moment ago (-u: a UDP one).
    #[command(hide = true)]
    FreePort {
        #[arg(short = 'u')]
        udp: bool,
    },
    /// Print scripts/bench.sh's table (--hold: its hold table) from the runs
    /// it recorded in FILE, one JSON object a line.
    #[command(hide = true)]
    Report {
        #[arg(long)]
        hold: bool,
        file: PathBuf,
    },
    /// Print the CPU time, in µs, of process PID and its descendants, once
    /// no child is left (waiting at most 3 s).
    #[command(hide = true)]
    Cpu { pid: u32 },
}

fn main() -> ExitCode {
    let load = match cli::parse_args::<Load>("sockbench") {
        Ok(load) => load,
        Err(code) => return code,
    };
    let (mode, requests) = match load {
        Load::Pingpong(requests) => (Mode::PingPong, requests),
        Load::Churn(requests) => (Mode::Churn, requests),
        Load::Bulk(common) => (Mode::Bulk, common.into_requests()),
        Load::Hold(requests) => (Mode::Hold, requests),
        Load::FreePort { udp } => {
            let kind = sockkit::endpoint::Kind::from_udp_flag(udp);
            return cli::report("sockbench", bench::print_free_port(kind));
        }
        Load::Report { hold, file } => {
            return cli::report("sockbench", summary::print(&file, hold));
        }
        Load::Cpu { pid } => return cli::report("sockbench", bench::cpu::print_tree_cpu(pid)),
    };
    cli::init_logging("sockbench", requests.common.verbosity.verbose, false);
    let progress = rustix::termios::isatty(rustix::stdio::stderr());
    let result = requests
        .options(mode, progress)
        .and_then(|options| bench::load(&options, requests.common.json));
    cli::report("sockbench", result)
}
