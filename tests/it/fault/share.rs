//! `--fault-share P` with `--seed N`: which connections get the faults,
//! reproducibly, and the seed on stderr to replay a run.

use crate::util::net::{connect_unless_reset, recv_upto};
use crate::util::sockd;
use rustix::io::Errno;

/// 100 connections, one after the other, to a sockd that resets a share of
/// them at once: which were reset, by ordinal; and sockd's stderr.
fn resets(extra: &[&str]) -> (Vec<bool>, String) {
    let server = sockd()
        .args([
            "-q",
            "--threads",
            "2",
            "--on-accept",
            "reset",
            "--fault-share",
            "0.5",
        ])
        .args(extra)
        .args(["127.0.0.1", "0"])
        .serve();
    let reset: Vec<bool> = (0..100)
        .map(|n| {
            let Some(fd) = connect_unless_reset(server.port()) else {
                return true;
            };
            // A reset may already have come: the send fails then.
            let sent = sockkit::io::send_all(&fd, b"x");
            let _ = rustix::net::shutdown(&fd, rustix::net::Shutdown::Write);
            match (sent, recv_upto(&fd, usize::MAX)) {
                (Ok(()), (echo, None)) if echo == b"x" => false,
                (_, (_, Some(Errno::CONNRESET))) | (Err(_), _) => true,
                (_, other) => panic!("connection {n}: {other:?}"),
            }
        })
        .collect();
    (reset, server.stderr_text())
}

#[test]
fn the_same_seed_resets_the_same_connections() {
    let (first, stderr) = resets(&["--seed", "7"]);
    let count = first.iter().filter(|&&r| r).count();
    assert!((30..=70).contains(&count), "{count} of 100 reset");
    assert!(
        stderr.contains("sockd: faults: --on-accept reset --fault-share 0.5 --seed 7\n"),
        "{stderr}"
    );
    let (again, _) = resets(&["--seed", "7"]);
    assert_eq!(
        first, again,
        "seed 7 picked other connections the second time"
    );
    let (other, _) = resets(&["--seed", "8"]);
    assert_ne!(first, other, "seeds 7 and 8 picked the same 100");
}

#[test]
fn a_run_without_a_seed_logs_the_one_that_replays_it() {
    let (first, stderr) = resets(&[]);
    let seed = stderr
        .lines()
        .find_map(|line| line.strip_prefix("sockd: faults: "))
        .and_then(|flags| flags.rsplit_once("--seed "))
        .map(|(_, seed)| seed.to_string())
        .unwrap_or_else(|| panic!("no seed on stderr: {stderr}"));
    let (again, _) = resets(&["--seed", &seed]);
    assert_eq!(first, again, "--seed {seed} did not replay the run");
}
