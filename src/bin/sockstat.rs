//! `sockstat`: every socket fd, its inode and the kernel's record of it.
#![forbid(unsafe_code)]

use clap::Parser;
use sockkit::cli;
use sockkit::sockstat::Options;
use std::process::ExitCode;

/// List open sockets: user, command, pid, fd, protocol, inode, addresses, state.
#[derive(Parser, Debug)]
#[command(name = "sockstat")]
struct Args {
    #[command(flatten)]
    options: Options,
    #[command(flatten)]
    verbosity: cli::Verbosity,
}

fn main() -> ExitCode {
    let args = match cli::parse_args::<Args>("sockstat") {
        Ok(args) => args,
        Err(code) => return code,
    };
    cli::init_logging("sockstat", args.verbosity.verbose, false);
    cli::report("sockstat", sockkit::sockstat::run(&args.options))
}
