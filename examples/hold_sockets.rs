//! Holds sockets open for `scripts/bench-sockstat.sh`: `TCP_PAIRS` connected
//! loopback TCP pairs (plus their listener) and `UNIX_PAIRS` unix
//! socketpairs, then prints `ready` and sleeps until killed.
//!
//! `hold_sockets TCP_PAIRS UNIX_PAIRS [IP]`
#![forbid(unsafe_code)]

use rustix::net::{AddressFamily, SocketFlags, SocketType};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(tcp), Some(unix)) = (
        args.first().and_then(|n| n.parse::<usize>().ok()),
        args.get(1).and_then(|n| n.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: hold_sockets TCP_PAIRS UNIX_PAIRS [IP]");
        return ExitCode::from(64);
    };
    let ip = args.get(2).map_or("127.0.0.1", String::as_str);
    match hold(ip, tcp, unix) {
        Ok(held) => {
            println!("ready {}", held.len());
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
        Err(err) => {
            eprintln!("hold_sockets: {err}");
            err.exit().into()
        }
    }
}

fn hold(ip: &str, tcp: usize, unix: usize) -> sockkit::Result<Vec<rustix::fd::OwnedFd>> {
    let mut held = Vec::with_capacity(tcp * 2 + unix * 2 + 1);
    let any = sockkit::Endpoint::parse_ip(sockkit::endpoint::Kind::Stream, ip, "0")?;
    let (listener, bound) = sockkit::bind_socket(&any)?;
    sockkit::socket::listen(&listener, &bound, 1024)?;
    for _ in 0..tcp {
        let client = sockkit::connect_socket(&bound)?;
        let (server, _) = sockkit::socket::accept(&listener, SocketFlags::CLOEXEC)
            .map_err(|errno| sockkit::Error::at("accept", &bound, errno))?;
        held.push(client);
        held.push(server);
    }
    held.push(listener);
    for _ in 0..unix {
        let (a, b) = rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|errno| sockkit::Error::on("socketpair", "AF_UNIX", errno))?;
        held.push(a);
        held.push(b);
    }
    Ok(held)
}
