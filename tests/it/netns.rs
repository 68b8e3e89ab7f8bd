//! Two hosts on one LAN (the lesson's "different machines"): network
//! namespaces joined by a veth pair, sockd in one and sockc in the other,
//! over IPv4 and IPv6, 64 MiB compared byte for byte, then a lossy link
//! (tc netem 5% loss + 20 ms delay; where the kernel has no netem, 5%
//! random drops through nftables; skipped with a note when neither works).
//! Root only; `scripts/netns.sh` is the same by hand.

use crate::util::{Cmd, Outcome, TempDir, have, random_bytes, skip, sockc, sockd};
use std::time::{Duration, Instant};

/// Two namespaces and their veth pair, named after this process; deleted
/// (with everything in them) on drop, even when the test fails.
struct Lan {
    server_ns: String,
    client_ns: String,
    server_if: String,
    client_if: String,
}

/// stdout of a command that succeeded, or what it said on stderr.
fn stdout_or_why(out: Outcome) -> Result<String, String> {
    if out.code == Some(0) {
        Ok(out.stdout_text())
    } else {
        Err(format!("{}: {}", out.command, out.stderr.trim()))
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    stdout_or_why(Cmd::new("ip").args(args).run()).map(drop)
}

fn in_ns(ns: &str, program: &str, args: &[&str]) -> Result<String, String> {
    stdout_or_why(Cmd::new(program).args(args).wrap(netns_exec(ns)).run())
}

fn netns_exec(ns: &str) -> [&str; 4] {
    ["ip", "netns", "exec", ns]
}

impl Lan {
    fn new() -> Result<Self, String> {
        let pid = std::process::id();
        let lan = Self {
            server_ns: format!("sockkit-it-{pid}-s"),
            client_ns: format!("sockkit-it-{pid}-c"),
            server_if: format!("skv{pid}s"),
            client_if: format!("skv{pid}c"),
        };
        ip(&["netns", "add", &lan.server_ns])?;
        ip(&["netns", "add", &lan.client_ns])?;
        ip(&[
            "link",
            "add",
            &lan.server_if,
            "netns",
            &lan.server_ns,
            "type",
            "veth",
            "peer",
            "name",
            &lan.client_if,
            "netns",
            &lan.client_ns,
        ])?;
        for (ns, dev, v4, v6) in [
            (
                &lan.server_ns,
                &lan.server_if,
                "10.203.0.1/24",
                "fd00:203::1/64",
            ),
            (
                &lan.client_ns,
                &lan.client_if,
                "10.203.0.2/24",
                "fd00:203::2/64",
            ),
        ] {
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&["-n", ns, "addr", "add", v4, "dev", dev])?;
            // nodad: usable at once, not "tentative" for a second.
            ip(&["-n", ns, "-6", "addr", "add", v6, "dev", dev, "nodad"])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
        }
        lan.wait_ready()?;
        Ok(lan)
    }

    /// Bounded wait: no tentative IPv6 address left, both ends up.
    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let tentative = [&self.server_ns, &self.client_ns].iter().any(|ns| {
                let out = Cmd::new("ip")
                    .args(["-n", ns, "-6", "addr", "show", "tentative"])
                    .run();
                out.code != Some(0) || !out.stdout.is_empty()
            });
            let up = Cmd::new("ip")
                .args(["-n", &self.client_ns, "link", "show", &self.client_if])
                .run()
                .stdout_text()
                .contains("state UP");
            if !tentative && up {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("IPv6 addresses stayed tentative or the veth stayed down".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A lossy link on both ends; what it is, or why there is none.
    fn make_lossy(&self) -> Result<String, String> {
        let ends = [
            (&self.server_ns, &self.server_if),
            (&self.client_ns, &self.client_if),
        ];
        for (ns, dev) in ends {
            let _ = ip(&["-n", ns, "link", "set", "dev", dev, "gso_max_size", "1500"]);
        }
        if have("tc") {
            let netem = |(ns, dev): (&String, &String)| {
                in_ns(
                    ns,
                    "tc",
                    &[
                        "qdisc", "add", "dev", dev, "root", "netem", "loss", "5%", "delay", "20ms",
                    ],
                )
            };
            if netem(ends[0]).is_ok() {
                netem(ends[1])?;
                return Ok("tc netem: 5% loss, 20 ms delay each way".into());
            }
        }
        if have("nft") {
            for (ns, _) in ends {
                let rules = "add table inet sockkit_lossy; \
                    add chain inet sockkit_lossy input { type filter hook input priority 0; policy accept; }; \
                    add rule inet sockkit_lossy input numgen random mod 100 < 5 counter drop";
                in_ns(ns, "nft", &[rules])?;
            }
            return Ok("nftables: 5% random loss each way (no netem in this kernel)".into());
        }
        Err("no netem in this kernel and nft is not installed".into())
    }

    fn dropped(&self) -> u64 {
        [&self.server_ns, &self.client_ns]
            .iter()
            .filter_map(|ns| in_ns(ns, "nft", &["list", "table", "inet", "sockkit_lossy"]).ok())
            .flat_map(|text| {
                text.split("counter packets ")
                    .skip(1)
                    .filter_map(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
                    .collect::<Vec<_>>()
            })
            .sum()
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end in it, and so the pair.
        let _ = ip(&["netns", "del", &self.server_ns]);
        let _ = ip(&["netns", "del", &self.client_ns]);
    }
}

fn echo_across(
    lan: &Lan,
    server_ip: &str,
    port: &str,
    payload_path: &std::path::Path,
    len: usize,
) -> Vec<u8> {
    let out = sockc()
        .args(["--timeout", "30", server_ip, port, "-"])
        .wrap(netns_exec(&lan.client_ns))
        .stdin_file(payload_path)
        .run();
    out.success().no_panic();
    assert_eq!(out.stdout.len(), len, "{}", out.stderr);
    out.stdout
}

#[test]
fn sockd_and_sockc_on_two_hosts_over_ipv4_and_ipv6() {
    if !skip::require_root() || !skip::require_tool("ip") {
        return;
    }
    let lan = match Lan::new() {
        Ok(lan) => lan,
        Err(why) => {
            skip::because(format!("cannot build the namespaces: {why}"));
            return;
        }
    };
    let in_server = |ip: &str| {
        sockd()
            .args(["-q", ip, "0"])
            .wrap(netns_exec(&lan.server_ns))
            .serve()
    };
    let v4 = in_server("10.203.0.1");
    let v6 = in_server("fd00:203::1");
    let dir = TempDir::new();
    let path = dir.join("payload");

    let payload = random_bytes(64 * 1024 * 1024, 21);
    std::fs::write(&path, &payload).unwrap_or_else(|e| panic!("{e}"));
    for (server, ip, family) in [(&v4, "10.203.0.1", "IPv4"), (&v6, "fd00:203::1", "IPv6")] {
        let started = Instant::now();
        let echoed = echo_across(&lan, ip, &server.port_arg(), &path, payload.len());
        assert!(echoed == payload, "{family}: 64 MiB echo differs");
        eprintln!(
            "netns: {family}: 64 MiB across the veth pair in {:?}, compared equal",
            started.elapsed()
        );
    }

    match lan.make_lossy() {
        Ok(what) => {
            let payload = random_bytes(1024 * 1024, 22);
            std::fs::write(&path, &payload).unwrap_or_else(|e| panic!("{e}"));
            for (server, ip, family) in [(&v4, "10.203.0.1", "IPv4"), (&v6, "fd00:203::1", "IPv6")]
            {
                let started = Instant::now();
                let echoed = echo_across(&lan, ip, &server.port_arg(), &path, payload.len());
                assert!(echoed == payload, "{family}: lossy echo differs");
                eprintln!(
                    "netns: {family}: 1 MiB over a lossy link ({what}) in {:?}, compared equal",
                    started.elapsed()
                );
            }
            eprintln!("netns: packets dropped by nftables: {}", lan.dropped());
        }
        Err(why) => skip::part("the lossy link", why),
    }
    drop(v4);
    drop(v6);
}
