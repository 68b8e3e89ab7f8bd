//! sockd: an echo server (TCP, UDP, unix; faults, events), a forwarding proxy, or the lesson's chat.
#![forbid(unsafe_code)]

use sockkit::cli::{self, parse_secs};
use sockkit::server::{self, Listen, Mode, ServeOptions, ServerOptions};

/// Echo server over TCP, UDP (-u) or unix sockets (-U), a forwarding proxy (--forward), or the lesson's chat (--chat).
#[derive(clap::Parser)]
#[command(allow_negative_numbers = true, override_usage = server::USAGE)]
struct Args {
    #[command(flatten)]
    listen: Listen,
    /// The lesson's server: one client at a time, reply typed on stdin
    #[arg(long, conflicts_with = "udp")]
    chat: bool,
    /// Write the bound port (-U: the path) to PATH once listening (atomically; removed at exit)
    #[arg(long, value_name = "PATH")]
    port_file: Option<std::path::PathBuf>,
    /// Write sockd's pid to PATH once listening (as --port-file)
    #[arg(long, value_name = "PATH")]
    pid_file: Option<std::path::PathBuf>,
    /// Detach once listening, after printing the port on stdout
    #[arg(long, conflicts_with = "chat")]
    background: bool,
    #[arg(long = "detached", hide = true)]
    detached: bool,
    /// Accept at most N concurrent connections
    #[arg(long, value_name = "N", value_parser = cli::parse_count::<u32>, conflicts_with_all = ["chat", "udp"])]
    max_conns: Option<u32>,
    /// Close clients silent for SECS; at --max-conns with clients waiting, also those that moved under 1 KiB in the last SECS (slowloris)
    #[arg(long, value_name = "SECS", value_parser = parse_secs, conflicts_with = "udp")]
    idle_timeout: Option<std::time::Duration>,
    /// Exit 0 after N connections have closed (-u: N datagrams have come)
    #[arg(long, value_name = "N", value_parser = cli::parse_count::<u64>)]
    exit_after: Option<u64>,
    /// Echo workers, each with its own epoll loop [default: usable CPUs; 1 with -u]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024), conflicts_with = "chat")]
    threads: Option<u16>,
    /// Backlog for listen() (capped by net.core.somaxconn)
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = cli::parse_count::<i32>, conflicts_with = "udp")]
    backlog: i32,
    /// No transcript, no warnings (the listening and stop lines still print)
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    verbosity: cli::Verbosity,
    #[command(flatten)]
    more: server::MoreFlags,
}

fn main() -> std::process::ExitCode {
    let args = match cli::parse_args::<Args>("sockd") {
        Ok(args) => args,
        Err(code) => return code,
    };
    cli::init_logging("sockd", args.verbosity.verbose, args.quiet);
    let options = ServerOptions {
        listen: args.listen,
        backlog: args.backlog,
        port_file: args.port_file,
        pid_file: args.pid_file,
        background: args.background,
        detached: args.detached,
        serve: ServeOptions {
            mode: if args.chat { Mode::Chat } else { Mode::Echo },
            transcript: !args.quiet,
            max_conns: args.max_conns.map(|n| n as usize),
            idle_timeout: args.idle_timeout,
            exit_after: args.exit_after,
            threads: args.threads.map(usize::from),
            ..ServeOptions::default()
        },
        faults: args.more.faults,
        forward: args.more.forward,
        events: args.more.events,
    };
    cli::report("sockd", server::run(&options))
}
