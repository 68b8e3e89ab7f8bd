//! sockd's HOST as a host name: the resolver's first address bound and
//! named beside the rest; an unknown name 68; `localhost` the literal
//! 127.0.0.1.

use crate::util::resolver::{self, FILES_ONLY};
use crate::util::{SOCKD, sockc, sockd};
use std::time::Duration;

const NAME: &str = "sockkit-it-srv";

#[test]
fn a_host_name_binds_its_first_address_and_says_which() {
    // Both loopbacks: which comes first is the resolver's (RFC 6724 puts
    // ::1 before 127.0.0.1), and sockd must follow it.
    let hosts = format!("127.0.0.1 {NAME}\n::1 {NAME}\n");
    for transport in [&[][..], &["-u"]] {
        let Some((cmd, _files)) = resolver::cmd(false, &hosts, FILES_ONLY, SOCKD) else {
            return;
        };
        let server = cmd.args(transport).args([NAME, "0"]).serve();
        let said = server.stderr_text();
        let line = said
            .lines()
            .find_map(|line| line.strip_prefix(&format!("sockd: {NAME} resolves to ")))
            .unwrap_or_else(|| panic!("no resolves-to line in {said:?}"));
        let (resolved, listening) = line
            .split_once("; listening on ")
            .unwrap_or_else(|| panic!("no listening address in {line:?}"));
        let addrs: Vec<&str> = resolved.split(", ").collect();
        let mut sorted = addrs.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, ["127.0.0.1", "::1"], "{line}");
        let first = addrs[0]
            .parse::<std::net::IpAddr>()
            .unwrap_or_else(|e| panic!("{e}"));
        let bound = std::net::SocketAddr::new(first, server.port());
        assert_eq!(listening, bound.to_string(), "{line}");
        // Served there, by the transport asked for.
        sockc()
            .args(transport)
            .args([addrs[0], &server.port_arg(), "by name"])
            .run()
            .success()
            .stdout_is(b"by name");
    }
}

#[test]
fn an_unknown_host_exits_68() {
    // .invalid never resolves (RFC 2606); bounded in case a resolver is
    // slow to say so.
    let host = "no-such-host.invalid";
    for args in [&[host, "0"][..], &["-u", host, "0"]] {
        sockd()
            .args(args)
            .limit(Duration::from_secs(30))
            .run()
            .fails_with(
                68,
                &format!("sockd: resolve {host}: unknown host (EAI_NONAME)"),
            )
            .stderr_has(&format!(
                "hint: the resolver (/etc/hosts, then DNS) does not know {host}"
            ));
    }
}

#[test]
fn localhost_is_127_0_0_1_and_digits_and_dots_stay_strict() {
    let server = sockd().args(["localhost", "0"]).serve();
    assert!(
        server.stderr_text().contains(&format!(
            "sockd: listening on 127.0.0.1:{}\n",
            server.port()
        )),
        "{}",
        server.stderr_text()
    );
    for host in ["127.1", "999.0.0.1", "127.0.0.1.5"] {
        sockd()
            .args(["-u", host, "0"])
            .run()
            .fails_with(64, &format!("sockd: invalid address {host:?}"));
    }
}
