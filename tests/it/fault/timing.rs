//! Faults that move bytes in time: `--delay`, `--rate`, `--chunk`,
//! `--accept-delay`, `--slow-close`.

use super::{SLACK, faulty, secs_since, timed, within_secs};
use crate::util::net::{connect, exchange, recv_exact, recv_to_eof, send_all};
use crate::util::{assert_same_bytes, random_bytes};
use rustix::net::{Shutdown, shutdown};
use std::time::Instant;

#[test]
fn delay_holds_each_reply_for_the_delay() {
    let server = faulty(&["--delay", "200"]);
    let fd = connect(server.port());
    for round in 0..3u8 {
        let (reply, took) = timed(|| {
            send_all(&fd, &[round; 16]);
            recv_exact(&fd, 16)
        });
        assert_eq!(reply, [round; 16]);
        within_secs(&format!("round trip {round}"), took, 0.18, 0.5);
    }
}

#[test]
fn delay_with_jitter_spreads_round_trips_within_its_bounds() {
    let server = faulty(&["--delay", "100:50"]);
    let fd = connect(server.port());
    let took: Vec<f64> = (0..20u8)
        .map(|round| {
            timed(|| {
                send_all(&fd, &[round]);
                assert_eq!(recv_exact(&fd, 1), [round]);
            })
            .1
        })
        .collect();
    let (min, max) = took
        .iter()
        .fold((f64::MAX, 0.0f64), |(lo, hi), &t| (lo.min(t), hi.max(t)));
    for (round, &t) in took.iter().enumerate() {
        within_secs(
            &format!("round trip {round}"),
            t,
            0.05,
            0.15 + SLACK.as_secs_f64(),
        );
    }
    // 20 uniform draws over 100 ms all within 20 ms of each other: never.
    assert!(max - min > 0.02, "no spread: {took:.3?}");
}

#[test]
fn jitter_never_reorders_a_stream() {
    let server = faulty(&["--delay", "20:20"]);
    let fd = connect(server.port());
    let payload = random_bytes(200_000, 3);
    let echoed = std::thread::scope(|scope| {
        // Many small writes: many chunks, each with its own draw.
        scope.spawn(|| {
            for piece in payload.chunks(100) {
                send_all(&fd, piece);
            }
            let _ = shutdown(&fd, Shutdown::Write);
        });
        recv_to_eof(&fd)
    });
    assert_same_bytes(&echoed, &payload, "echo under jitter");
}

#[test]
fn rate_paces_300_kib_at_100_kib_per_second() {
    let server = faulty(&["--rate", "100K"]);
    let payload = random_bytes(300 * 1024, 4);
    let fd = connect(server.port());
    let (echoed, took) = timed(|| exchange(&fd, &payload));
    assert_same_bytes(&echoed, &payload, "echo at the rate");
    within_secs("300 KiB at 100 KiB/s", took, 2.5, 5.0);
}

#[test]
fn chunk_sends_a_reply_in_small_pieces_apart() {
    let server = faulty(&["--chunk", "10:20"]);
    let fd = connect(server.port());
    let message = random_bytes(100, 5);
    let start = Instant::now();
    send_all(&fd, &message);
    let mut got = Vec::new();
    let mut reads = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < message.len() {
        let n = sockkit::io::recv_some(&fd, &mut buf).unwrap_or_else(|e| panic!("recv: {e}"));
        assert_ne!(n, 0, "EOF after {} bytes", got.len());
        reads.push(n);
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, message);
    assert!(
        reads.len() >= 10 && reads.iter().all(|&n| n <= 10),
        "{reads:?}"
    );
    // Ten pieces, 20 ms apart: the last leaves 180 ms after the first.
    assert!(secs_since(start) >= 0.18, "{:.3} s", secs_since(start));
}

#[test]
fn accept_delay_holds_the_first_reply() {
    let server = faulty(&["--accept-delay", "300"]);
    let start = Instant::now();
    let fd = connect(server.port());
    send_all(&fd, b"hello");
    assert_eq!(recv_exact(&fd, 5), b"hello");
    within_secs("first echo byte", secs_since(start), 0.3, 0.3 + 1.0);
    // Once open, the connection is a plain echo.
    let (reply, took) = timed(|| {
        send_all(&fd, b"again");
        recv_exact(&fd, 5)
    });
    assert_eq!(reply, b"again");
    assert!(took < 0.25, "{took:.3} s");
}

#[test]
fn slow_close_sends_sockds_fin_late() {
    let server = faulty(&["--slow-close", "500"]);
    let fd = connect(server.port());
    send_all(&fd, b"bye");
    let start = Instant::now();
    shutdown(&fd, Shutdown::Write).unwrap_or_else(|e| panic!("shutdown: {e}"));
    assert_eq!(recv_to_eof(&fd), b"bye");
    within_secs(
        "EOF after the client's FIN",
        secs_since(start),
        0.5,
        0.5 + 1.0,
    );
}
