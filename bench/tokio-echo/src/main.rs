//! `tokio-echo IP PORT [PORT_FILE]`: the echo server a Rust user would write
//! with tokio — one task per connection, read into a buffer, `write_all` it
//! back — on the default multi-threaded runtime (one worker per CPU).
//!
//! The bound port goes to PORT_FILE (written atomically) or, without one, to
//! stdout, so `scripts/bench.sh` can start it on port 0.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (ip, port, port_file) = match args.as_slice() {
        [ip, port] => (ip, port, None),
        [ip, port, file] => (ip, port, Some(file)),
        _ => {
            eprintln!("usage: tokio-echo IP PORT [PORT_FILE]");
            return ExitCode::from(64);
        }
    };
    let addr = match (ip.parse::<IpAddr>(), port.parse::<u16>()) {
        (Ok(ip), Ok(port)) => SocketAddr::new(ip, port),
        _ => {
            eprintln!("tokio-echo: bad address {ip} {port}");
            return ExitCode::from(64);
        }
    };
    let listener = match TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("tokio-echo: bind {addr}: {err}");
            return ExitCode::from(71);
        }
    };
    let bound = match listener.local_addr() {
        Ok(bound) => bound,
        Err(err) => {
            eprintln!("tokio-echo: getsockname: {err}");
            return ExitCode::from(71);
        }
    };
    if let Err(err) = announce(bound.port(), port_file) {
        eprintln!("tokio-echo: port file: {err}");
        return ExitCode::from(71);
    }
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(echo(stream));
            }
            // EMFILE and friends: keep serving the connections we have.
            Err(err) => {
                eprintln!("tokio-echo: accept: {err}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

fn announce(port: u16, port_file: Option<&String>) -> std::io::Result<()> {
    match port_file {
        Some(path) => {
            let tmp = format!("{path}.tmp");
            std::fs::write(&tmp, format!("{port}\n"))?;
            std::fs::rename(&tmp, path)
        }
        None => {
            println!("{port}");
            Ok(())
        }
    }
}

/// One connection: read into a buffer, `write_all` it back, until EOF.
/// The buffer is 16 KiB (tokio's own example uses 1 KiB) so that bulk
/// streaming is not held back by it; it costs RSS per idle connection.
async fn echo(mut stream: TcpStream) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
