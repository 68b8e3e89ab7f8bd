//! `sockstat`: every socket fd, its inode and the kernel's record of it.
#![forbid(unsafe_code)]

use clap::Parser;
use sockkit::cli;
use sockkit::sockstat::filter::{
    PortSet, ProtoSet, parse_inode, parse_pids, parse_ports, parse_protos,
};
use sockkit::sockstat::{Options, Source};
use std::process::ExitCode;

/// List open sockets: user, command, pid, fd, protocol, inode, addresses, state.
#[derive(Parser, Debug)]
#[command(name = "sockstat", version)]
struct Args {
    /// IPv4 sockets
    #[arg(short = '4')]
    ipv4: bool,
    /// IPv6 sockets
    #[arg(short = '6')]
    ipv6: bool,
    /// unix sockets
    #[arg(short = 'u')]
    unix: bool,
    /// connected sockets
    #[arg(short = 'c')]
    connected: bool,
    /// listening sockets (and bound, unconnected UDP)
    #[arg(short = 'l')]
    listening: bool,
    /// local or foreign port in PORTS (e.g. 22,8000-8080)
    #[arg(short = 'p', value_name = "PORTS", value_parser = parse_ports)]
    ports: Option<PortSet>,
    /// protocols: tcp,udp,unix
    #[arg(short = 'P', value_name = "PROTOS", value_parser = parse_protos)]
    protos: Option<ProtoSet>,
    /// no header line
    #[arg(short = 'q')]
    no_header: bool,
    /// numeric user ids
    #[arg(short = 'n')]
    numeric: bool,
    /// only these processes
    #[arg(long = "pid", value_name = "PID[,PID]", value_parser = parse_pids)]
    pids: Option<PidList>,
    /// only processes with this command name
    #[arg(long, value_name = "NAME")]
    comm: Option<String>,
    /// only the socket with this inode
    #[arg(long, value_name = "N", value_parser = parse_inode)]
    inode: Option<u64>,
    /// extended: Recv-Q, Send-Q, socket uid
    #[arg(short = 'e')]
    extended: bool,
    /// also sockets no walked process holds (TIME_WAIT, other users'), owner `?`
    #[arg(short = 'a')]
    all: bool,
    /// a JSON array of objects instead of the table
    #[arg(long)]
    json: bool,
    /// where socket records come from
    #[arg(long, value_enum, default_value_t = Source::Netlink)]
    source: Source,
    /// diagnostics: -v info (skipped processes), -vv debug
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    verbose: u8,
}

/// One `--pid` value holding the whole list: an alias, because clap's derive
/// reads a literal `Vec<T>` as "repeat the flag, one T each".
type PidList = Vec<u32>;

fn main() -> ExitCode {
    let args = match cli::parse_args::<Args>("sockstat") {
        Ok(args) => args,
        Err(code) => return code,
    };
    cli::init_logging("sockstat", args.verbose, false);
    let opts = Options {
        ipv4: args.ipv4,
        ipv6: args.ipv6,
        unix: args.unix,
        connected: args.connected,
        listening: args.listening,
        ports: args.ports,
        protos: args.protos,
        no_header: args.no_header,
        numeric: args.numeric,
        pids: args.pids,
        comm: args.comm,
        inode: args.inode,
        extended: args.extended,
        all: args.all,
        json: args.json,
        source: args.source,
    };
    cli::report("sockstat", sockkit::sockstat::run(&opts))
}
