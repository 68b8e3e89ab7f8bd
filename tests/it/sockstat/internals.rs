//! `-i` and `-m`: what the kernel knows of a socket (tcp_info, the
//! congestion control, socket memory), checked against the kernel's own
//! settings and against `ss`.

use super::{OrDie, cell, fd_text, me, row_for, tcp_pair, udp_socket, unix_pair};
use crate::util::listing::table;
use crate::util::{Cmd, skip, sockstat};
use serde_json::Value;

/// sockstat's JSON objects for this process's fds.
fn json_rows(args: &[&str]) -> Vec<Value> {
    let out = sockstat().args(["--pid", &me(), "--json"]).args(args).run();
    out.success().stderr_is("");
    let value: Value = serde_json::from_slice(&out.stdout).or_die("json");
    value.as_array().cloned().unwrap_or_default()
}

fn object_for<'a>(objects: &'a [Value], fd: &impl rustix::fd::AsFd) -> &'a Value {
    let fd: u64 = fd_text(fd).parse().or_die("fd");
    objects
        .iter()
        .find(|o| o["fd"] == fd && o["pid"] == std::process::id())
        .unwrap_or_else(|| panic!("fd {fd} missing from {objects:#?}"))
}

/// The `name:value` item of a TCP-INFO or SKMEM cell.
fn item<'a>(cell: &'a str, name: &str) -> Option<&'a str> {
    cell.split(',').find_map(|item| item.strip_prefix(name))
}

#[test]
fn tcp_internals_of_an_established_pair() {
    let Some(tcp) = tcp_pair("127.0.0.1") else {
        return;
    };
    sockkit::io::send_all(&tcp.client, b"hello").or_die("send");
    let congestion = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_congestion_control")
        .or_die("tcp_congestion_control");
    let congestion = congestion.trim();

    let objects = json_rows(&["-i", "-m"]);
    let client = object_for(&objects, &tcp.client);
    let info = &client["tcp_info"];
    assert!(
        info["snd_cwnd"].as_u64().is_some_and(|cwnd| cwnd > 0),
        "{client}"
    );
    assert!(info["rtt"].is_u64(), "{client}");
    assert!(
        info["rttvar"].is_u64() && info["min_rtt"].is_u64(),
        "{client}"
    );
    assert!(
        info["snd_mss"].as_u64().is_some_and(|mss| mss > 0),
        "{client}"
    );
    assert_eq!(info["state"], 1, "ESTABLISHED is 1: {client}");
    assert_eq!(client["congestion"], congestion, "{client}");
    assert!(
        client["skmem"]["rcvbuf"].as_u64().is_some_and(|b| b > 0),
        "{client}"
    );
    assert!(
        client["skmem"]["sndbuf"].as_u64().is_some_and(|b| b > 0),
        "{client}"
    );
    // Five bytes sent, and acknowledged: the kernel counts one more for the SYN.
    let acked =
        |objects: &[Value]| object_for(objects, &tcp.client)["tcp_info"]["bytes_acked"].clone();
    let mut acked_now = acked(&objects);
    for _ in 0..200 {
        if acked_now == 6 {
            break;
        }
        std::thread::yield_now();
        acked_now = acked(&json_rows(&["-i"]));
    }
    assert_eq!(acked_now, 6, "bytes_acked");
    // Not asked: not there.
    let plain = json_rows(&[]);
    let plain = object_for(&plain, &tcp.client);
    for key in ["tcp_info", "congestion", "skmem"] {
        assert!(plain.get(key).is_none(), "{key} without -i/-m: {plain}");
    }

    let rows = table(&["--pid", &me(), "-i", "-m"]);
    let info = cell(&rows, &tcp.client, "TCP-INFO");
    assert_eq!(info.split(',').next(), Some(congestion), "{info}");
    assert!(
        item(info, "cwnd:").is_some_and(|c| c.parse::<u64>().is_ok_and(|c| c > 0)),
        "{info}"
    );
    assert!(
        item(info, "rtt:").is_some_and(|r| r.contains('/')),
        "{info}"
    );
    assert!(!info.contains(' '), "one token: {info}");
    let skmem = cell(&rows, &tcp.client, "SKMEM");
    assert!(
        item(skmem, "rb").is_some_and(|b| b.parse::<u64>().is_ok_and(|b| b > 0)),
        "{skmem}"
    );
}

#[test]
fn tcp_internals_agree_with_ss() {
    if !skip::require_tool("ss") {
        return;
    }
    let Some(tcp) = tcp_pair("127.0.0.1") else {
        return;
    };
    let local = crate::util::net::local_port(&tcp.client);
    let objects = json_rows(&["-i"]);
    let info = &object_for(&objects, &tcp.client)["tcp_info"];
    let filter = format!("sport = :{} and dport = :{}", local, tcp.port);
    let out = Cmd::new("ss")
        .args(["-tinH", "state", "established", &filter])
        .run();
    out.success();
    let text = out.stdout_text();
    let ss_item = |name: &str| {
        text.split_whitespace()
            .find_map(|word| word.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in ss's {text:?}"))
            .to_string()
    };
    // Values an idle loopback connection keeps.
    assert_eq!(ss_item("cwnd:"), info["snd_cwnd"].to_string(), "{text}");
    assert_eq!(ss_item("mss:"), info["snd_mss"].to_string(), "{text}");
    assert_eq!(ss_item("rcvmss:"), info["rcv_mss"].to_string(), "{text}");
    assert_eq!(ss_item("advmss:"), info["advmss"].to_string(), "{text}");
    let wscale = format!("{},{}", info["snd_wscale"], info["rcv_wscale"]);
    assert_eq!(ss_item("wscale:"), wscale, "{text}");
}

#[test]
fn sockets_without_tcp_info_and_sources_without_any() {
    let (udp, _) = udp_socket();
    let (a, _b) = unix_pair();
    let Some(tcp) = tcp_pair("127.0.0.1") else {
        return;
    };
    let rows = table(&["--pid", &me(), "-i", "-m"]);
    assert_eq!(cell(&rows, &udp, "TCP-INFO"), "*");
    assert_eq!(cell(&rows, &a, "TCP-INFO"), "*");
    for fd in [&udp, &a] {
        let skmem = cell(&rows, fd, "SKMEM");
        assert!(
            item(skmem, "rb").is_some_and(|b| b.parse::<u64>().is_ok_and(|b| b > 0)),
            "{skmem}"
        );
    }
    let objects = json_rows(&["-i", "-m"]);
    let unix = object_for(&objects, &a);
    assert!(
        unix["tcp_info"].is_null() && unix["congestion"].is_null(),
        "{unix}"
    );
    assert!(
        unix["skmem"]["rcvbuf"].as_u64().is_some_and(|b| b > 0),
        "{unix}"
    );

    // /proc/net has none of it: unknown, not none.
    let rows = table(&["--pid", &me(), "-i", "-m", "--source", "proc"]);
    for fd in [&tcp.client, &udp, &a] {
        assert_eq!(cell(&rows, fd, "TCP-INFO"), "?");
        assert_eq!(cell(&rows, fd, "SKMEM"), "?");
    }
    let objects = json_rows(&["-i", "-m", "--source", "proc"]);
    let client = object_for(&objects, &tcp.client);
    for key in ["tcp_info", "congestion", "skmem"] {
        assert!(client[key].is_null(), "{key}: {client}");
    }
    assert!(row_for(&rows, &tcp.listener).is_some());
}

/// A table with `-i` alone is written from cells made as the dump's
/// replies arrived, with `-m` from the internals kept to the end: the same
/// cells either way, on every row of a socket two fds hold (a row takes
/// its record's internals or cell; later rows of the socket share them).
#[test]
fn tcp_info_cells_alone_or_with_memory_and_on_every_fd_of_a_socket() {
    let (udp, _) = udp_socket();
    let (a, _b) = unix_pair();
    let Some(tcp) = tcp_pair("127.0.0.1") else {
        return;
    };
    // CLOEXEC, unlike dup(2)'s copy: a child another test spawns meanwhile
    // must not inherit the connection (and show it in its own listings).
    let twin = rustix::io::fcntl_dupfd_cloexec(&tcp.client, 0).or_die("dup");
    // The pair is idle: nothing the cell shows changes between listings.
    let alone = table(&["--pid", &me(), "-i"]);
    let with_memory = table(&["--pid", &me(), "-i", "-m"]);
    for fd in [&tcp.client, &tcp.server, &tcp.listener] {
        let info = cell(&alone, fd, "TCP-INFO");
        assert!(
            item(info, "cwnd:").is_some_and(|c| c.parse::<u64>().is_ok_and(|c| c > 0)),
            "{info}"
        );
        assert_eq!(cell(&with_memory, fd, "TCP-INFO"), info, "-i -m");
    }
    let info = cell(&alone, &tcp.client, "TCP-INFO");
    assert_eq!(cell(&alone, &twin, "TCP-INFO"), info, "the dup's row");
    assert_eq!(
        cell(&with_memory, &twin, "TCP-INFO"),
        info,
        "-i -m, the dup's row"
    );
    for fd in [&udp, &a] {
        assert_eq!(cell(&alone, fd, "TCP-INFO"), "*");
    }
    let proc = table(&["--pid", &me(), "-i", "--source", "proc"]);
    for fd in [&tcp.client, &twin, &udp, &a] {
        assert_eq!(cell(&proc, fd, "TCP-INFO"), "?");
    }
}
