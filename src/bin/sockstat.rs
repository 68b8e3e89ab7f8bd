//! `sockstat`: every socket fd, its inode and the kernel's record of it.
#![forbid(unsafe_code)]

use clap::Parser;
use sockkit::cli;
use sockkit::sockstat::Options;
use std::process::ExitCode;

/// List open sockets: user, command, pid, fd, protocol, inode, addresses, state.
#[derive(Parser, Debug)]
#[command(name = "sockstat", version)]
struct Args {
    #[command(flatten)]
    options: Options,
    /// diagnostics: -v info (skipped processes), -vv debug
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    verbose: u8,
}

fn main() -> ExitCode {
    let args = match cli::parse_args::<Args>("sockstat") {
        Ok(args) => args,
        Err(code) => return code,
    };
    cli::init_logging("sockstat", args.verbose, false);
    cli::report("sockstat", sockkit::sockstat::run(&args.options))
}
