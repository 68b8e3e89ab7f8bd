//! `sockd -u` as a bad network: `--drop P[:CORR]` (loss, in bursts),
//! `--duplicate`, `--corrupt`, `--delay`, `--fault-share`/`--seed`
//! replaying the same losses, and a flood under `--delay` that cannot grow
//! sockd. Every datagram carries its sequence number, so what came back
//! (and how often) is known exactly.

use crate::util::net::{LOCAL, datagram_client, loopback_of, recv_datagram, send_datagram};
use crate::util::procfs::status_kib;
use crate::util::{Process, random_bytes, sockd};
use core::sync::atomic::{AtomicBool, Ordering};
use rustix::fd::OwnedFd;
use sockkit::endpoint::Kind;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// A one-worker UDP sockd with `flags`, and a client connected to it whose
/// receives give up after `limit`.
fn udp_faulty(flags: &[&str], limit: Duration) -> (Process, OwnedFd) {
    let server = sockd()
        .args(["-u", "-q"])
        .args(flags)
        .args([LOCAL, "0"])
        .serve();
    let fd = datagram_client(&loopback_of(Kind::Datagram, server.port()), limit);
    // Room for every echo of a burst while the reader is not scheduled,
    // so that only sockd loses datagrams.
    rustix::net::sockopt::set_socket_recv_buffer_size_force(&fd, 4 << 20)
        .unwrap_or_else(|e| panic!("SO_RCVBUFFORCE: {e}"));
    (server, fd)
}

/// Datagram `n`: its number, then padding.
fn numbered(n: u32) -> Vec<u8> {
    let mut bytes = n.to_be_bytes().to_vec();
    bytes.extend_from_slice(b" sockkit udp fault");
    bytes
}

/// Sends datagrams 0..n while a second thread reads the echoes: how many
/// times each came back. Every [`WINDOW`] datagrams the sender waits
/// (up to 100 ms, in case sockd dropped the last few) for the echo of one
/// of the last few, so that no more are in flight than any socket buffer
/// holds: the only losses are sockd's faults. The reader stops once the
/// sender is done and nothing came for the receive timeout.
fn echo_counts(fd: &OwnedFd, n: u32) -> Vec<u32> {
    let done = AtomicBool::new(false);
    let newest = (Mutex::new(0u32), Condvar::new());
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut counts = vec![0u32; n as usize];
            loop {
                match recv_datagram(fd) {
                    Some(echo) => {
                        assert_eq!(echo.len(), numbered(0).len(), "an echo cut or merged");
                        let seq = u32::from_be_bytes([echo[0], echo[1], echo[2], echo[3]]);
                        assert_eq!(echo, numbered(seq), "an echo changed");
                        counts[seq as usize] += 1;
                        let mut newest_seen = newest.0.lock().unwrap_or_else(|e| e.into_inner());
                        *newest_seen = (*newest_seen).max(seq + 1);
                        newest.1.notify_all();
                    }
                    None if done.load(Ordering::Acquire) => return counts,
                    None => {}
                }
            }
        });
        for seq in 0..n {
            send_datagram(fd, &numbered(seq));
            if seq % WINDOW == WINDOW - 1 {
                let seen = newest.0.lock().unwrap_or_else(|e| e.into_inner());
                let _ = newest
                    .1
                    .wait_timeout_while(seen, Duration::from_millis(100), |seen| *seen + 5 < seq);
            }
        }
        done.store(true, Ordering::Release);
        reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Datagrams sent between waits for the echoes to catch up.
const WINDOW: u32 = 20;

/// The lengths of the runs of lost datagrams (`counts` 0), in order.
fn loss_runs(counts: &[u32]) -> Vec<usize> {
    let mut runs = Vec::new();
    let mut run = 0;
    for &count in counts {
        if count == 0 {
            run += 1;
        } else if run > 0 {
            runs.push(run);
            run = 0;
        }
    }
    if run > 0 {
        runs.push(run);
    }
    runs
}

#[test]
fn drop_half_answers_about_half_of_400() {
    let (server, fd) = udp_faulty(&["--drop", "0.5"], Duration::from_millis(500));
    let counts = echo_counts(&fd, 400);
    let answered = counts.iter().filter(|&&c| c > 0).count();
    assert!(counts.iter().all(|&c| c <= 1), "an echo came twice");
    assert!(
        (120..=280).contains(&answered),
        "--drop 0.5 answered {answered} of 400"
    );
    drop(fd);
    server.signal(rustix::process::Signal::TERM);
    let outcome = server.wait_exit();
    outcome.success();
    let (received, _) = outcome.summary();
    assert_eq!(received, 400, "the kernel dropped some before sockd");
    assert_eq!(outcome.dropped_by_drop(), 400 - answered as u64);
}

#[test]
fn correlated_drops_come_in_bursts() {
    // After a loss the next is lost with 0.1 + 0.8 × 0.9 = 0.82: bursts of
    // 1 / 0.18 = 5.6 on average, 36 % lost. Independent loss at that rate
    // would make bursts of 1 / 0.64 = 1.6.
    let (_server, fd) = udp_faulty(&["--drop", "0.1:0.8"], Duration::from_millis(500));
    let counts = echo_counts(&fd, 400);
    let runs = loss_runs(&counts);
    let lost: usize = runs.iter().sum();
    let mean = lost as f64 / runs.len().max(1) as f64;
    eprintln!(
        "--drop 0.1:0.8: {lost} of 400 lost in {} runs, mean run {mean:.2}",
        runs.len()
    );
    assert!((60..=240).contains(&lost), "{lost} of 400 lost");
    assert!(mean >= 2.5, "mean loss run {mean:.2}: {runs:?}");
}

#[test]
fn duplicate_one_answers_each_datagram_twice() {
    let (_server, fd) = udp_faulty(&["--duplicate", "1"], Duration::from_secs(2));
    for seq in 0..50 {
        send_datagram(&fd, &numbered(seq));
        for copy in 1..=2 {
            let echo = recv_datagram(&fd)
                .unwrap_or_else(|| panic!("datagram {seq}: copy {copy} never came"));
            assert_eq!(echo, numbered(seq), "datagram {seq}, copy {copy}");
        }
    }
    rustix::net::sockopt::set_socket_timeout(
        &fd,
        rustix::net::sockopt::Timeout::Recv,
        Some(Duration::from_millis(200)),
    )
    .unwrap_or_else(|e| panic!("SO_RCVTIMEO: {e}"));
    assert_eq!(recv_datagram(&fd), None, "a third copy");
}

#[test]
fn corrupt_one_flips_exactly_one_bit_of_each_echo() {
    let (_server, fd) = udp_faulty(&["--corrupt", "1"], Duration::from_secs(2));
    let mut positions = std::collections::HashSet::new();
    for round in 0..50 {
        let sent = random_bytes(100, round);
        send_datagram(&fd, &sent);
        let echo = recv_datagram(&fd).unwrap_or_else(|| panic!("datagram {round}: no echo"));
        assert_eq!(echo.len(), sent.len());
        let flipped: u32 = sent
            .iter()
            .zip(&echo)
            .map(|(a, b)| (a ^ b).count_ones())
            .sum();
        assert_eq!(flipped, 1, "datagram {round}: {flipped} bits differ");
        positions.insert(sent.iter().zip(&echo).position(|(a, b)| a != b));
    }
    assert!(positions.len() > 10, "the bit is anywhere: {positions:?}");
}

#[test]
fn delay_200_holds_each_echo_that_long() {
    let (_server, fd) = udp_faulty(&["--delay", "200"], Duration::from_secs(2));
    for seq in 0..3 {
        let started = Instant::now();
        send_datagram(&fd, &numbered(seq));
        let echo = recv_datagram(&fd).unwrap_or_else(|| panic!("datagram {seq}: no echo"));
        let took = started.elapsed().as_secs_f64();
        assert_eq!(echo, numbered(seq));
        assert!(
            (0.18..=0.5).contains(&took),
            "--delay 200: round trip {took:.3} s"
        );
    }
}

#[test]
fn exit_after_sends_the_delayed_echoes_it_counted_before_it_exits() {
    let (server, fd) = udp_faulty(
        &["--delay", "300", "--exit-after", "3", "--threads", "2"],
        Duration::from_secs(3),
    );
    let started = Instant::now();
    for seq in 0..3 {
        send_datagram(&fd, &numbered(seq));
    }
    let mut echoes: Vec<Vec<u8>> = (0..3)
        .map(|n| recv_datagram(&fd).unwrap_or_else(|| panic!("echo {n} of 3 lost at the exit")))
        .collect();
    let took = started.elapsed().as_secs_f64();
    assert!(took >= 0.28, "echoes after {took:.3} s, not delayed");
    echoes.sort();
    assert_eq!(echoes, (0..3).map(numbered).collect::<Vec<_>>());
    let (datagrams, _) = server.wait_exit().success().summary();
    assert_eq!(datagrams, 3);
}

#[test]
fn a_stop_signal_cuts_the_wait_for_held_echoes_after_exit_after() {
    let (mut server, fd) = udp_faulty(
        &["--delay", "60000", "--exit-after", "1"],
        Duration::from_secs(1),
    );
    send_datagram(&fd, &numbered(0));
    assert!(
        !server.exits_within(Duration::from_millis(300)),
        "exited with an echo held"
    );
    server.signal(rustix::process::Signal::TERM);
    assert!(
        server.exits_within(Duration::from_secs(3)),
        "SIGTERM did not end the wait for a held echo"
    );
    server.wait_exit().success();
}

/// Which of `n` datagrams, sent one at a time (each waited for up to the
/// client's receive timeout), `flags` answered.
fn pattern(flags: &[&str], n: u32) -> Vec<bool> {
    let (server, fd) = udp_faulty(flags, Duration::from_millis(150));
    let pattern = (0..n)
        .map(|seq| {
            send_datagram(&fd, &numbered(seq));
            // An echo of an earlier one, late, is skipped.
            while let Some(echo) = recv_datagram(&fd) {
                if echo == numbered(seq) {
                    return true;
                }
            }
            false
        })
        .collect();
    let seed = flags.iter().skip_while(|&&f| f != "--seed").nth(1);
    if let Some(seed) = seed {
        let logged = server.stderr_text();
        assert!(logged.contains(&format!("--seed {seed}\n")), "{logged}");
    }
    pattern
}

#[test]
fn the_same_seed_drops_the_same_datagrams() {
    let flags = ["--drop", "0.5", "--seed", "7"];
    let first = pattern(&flags, 40);
    let lost = first.iter().filter(|&&answered| !answered).count();
    assert!((8..=32).contains(&lost), "{lost} of 40 lost");
    assert_eq!(pattern(&flags, 40), first, "seed 7 twice");
    assert_ne!(
        pattern(&["--drop", "0.5", "--seed", "8"], 40),
        first,
        "seeds 7 and 8"
    );
}

#[test]
fn fault_share_picks_the_same_datagrams_for_a_seed() {
    let flags = ["--drop", "1", "--fault-share", "0.5", "--seed", "3"];
    let first = pattern(&flags, 40);
    let lost = first.iter().filter(|&&answered| !answered).count();
    assert!((8..=32).contains(&lost), "{lost} of 40 picked");
    assert_eq!(pattern(&flags, 40), first, "seed 3 twice");
}

#[test]
fn a_flood_under_delay_cannot_grow_sockd() {
    let (server, fd) = udp_faulty(&["--delay", "4000"], Duration::from_secs(8));
    // Datagrams of 60,000 bytes for 3.5 s (inside the delay, so nothing
    // has left yet), at most 1.2 GB; none of it read back. The kernel
    // drops what sockd has no time to read: on a loaded machine it read
    // 529 in 1.5 s, fewer than the 1,119 that would take 64 MiB.
    let block = random_bytes(60_000, 12);
    let started = Instant::now();
    let mut sent = 0u64;
    while sent < 20_000 && started.elapsed() < Duration::from_millis(3500) {
        send_datagram(&fd, &block);
        sent += 1;
    }
    let peak_kib = status_kib(server.pid(), "VmHWM");
    // What it held comes back, late, whole.
    let echo = recv_datagram(&fd).unwrap_or_else(|| panic!("no echo after the delay"));
    assert_eq!(echo, block);
    drop(fd);
    server.signal(rustix::process::Signal::TERM);
    let outcome = server.wait_exit();
    outcome.success();
    let (received, _) = outcome.summary();
    eprintln!(
        "--delay 4000, a flood of {sent} datagrams of 60,000 bytes: {received} read by sockd, \
         {} not echoed, VmHWM {peak_kib} KiB",
        outcome.unsent()
    );
    // Had it held them all, they would have taken more than 64 MiB.
    assert!(received * 60_000 > 64 << 20, "sockd read only {received}");
    assert!(peak_kib < 64 * 1024, "sockd's peak RSS {peak_kib} KiB");
    assert!(outcome.unsent() > 0, "nothing was over the bound");
}

#[test]
fn stream_faults_with_udp_and_udp_faults_without_are_usage_errors() {
    for flag in ["--drop", "--duplicate"] {
        sockd()
            .args([flag, "0.5", "127.0.0.1", "0"])
            .run()
            .fails_with(64, &format!("sockd: {flag} 0.5 is for datagrams: give -u"))
            .stderr_lines(1);
    }
    for (flag, value) in [("--rate", "10"), ("--on-accept", "reset"), ("--chunk", "5")] {
        sockd()
            .args(["-u", flag, value, "127.0.0.1", "0"])
            .run()
            .fails_with(64, &format!("sockd: --udp cannot be used with {flag}"))
            .stderr_lines(1);
    }
    for bad in ["1.5", "0.1:2", "0.5:", "x"] {
        sockd()
            .args(["-u", "--drop", bad, "127.0.0.1", "0"])
            .run()
            .fails_with(64, "--drop")
            .stderr_lines(1);
    }
}

#[test]
fn unix_datagrams_take_the_same_faults() {
    // -uU with the transcript on: the datagrams read with their sender's
    // pid, through the non-blocking socket the faults use.
    let dir = crate::util::TempDir::new();
    let path = dir.join("d").to_string_lossy().into_owned();
    let server = sockd()
        .args(["-u", "--duplicate", "1", "--delay", "100", "-U", &path])
        .serve_unix();
    let at = sockkit::Endpoint::unix(Kind::Datagram, &path).unwrap_or_else(|e| panic!("{e}"));
    let fd = datagram_client(&at, Duration::from_secs(2));
    let started = Instant::now();
    send_datagram(&fd, b"twice\n");
    for copy in 1..=2 {
        let echo = recv_datagram(&fd).unwrap_or_else(|| panic!("copy {copy} never came"));
        assert_eq!(echo, b"twice\n", "copy {copy}");
    }
    let took = started.elapsed().as_secs_f64();
    assert!((0.09..=0.5).contains(&took), "--delay 100: {took:.3} s");
    server.wait_stdout(&format!("pid {} say: twice\n", std::process::id()));
}
