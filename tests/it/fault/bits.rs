//! `--corrupt P`: exactly one bit flipped per chosen chunk.

use super::faulty;
use crate::util::net::{connect, recv_exact, send_all};
use crate::util::random_bytes;

fn bits_differing(a: &[u8], b: &[u8]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

#[test]
fn corrupt_1_flips_exactly_one_bit_in_every_chunk() {
    let server = faulty(&["--corrupt", "1"]);
    let fd = connect(server.port());
    let mut where_flipped = std::collections::BTreeSet::new();
    for round in 0..20u64 {
        // One send, one recv on sockd's side: one chunk.
        let message = random_bytes(64, 100 + round);
        send_all(&fd, &message);
        let reply = recv_exact(&fd, message.len());
        assert_eq!(bits_differing(&message, &reply), 1, "round {round}");
        where_flipped.insert(message.iter().zip(&reply).position(|(a, b)| a != b));
    }
    assert!(
        where_flipped.len() > 3,
        "always the same byte: {where_flipped:?}"
    );
}

#[test]
fn corrupt_0_changes_nothing() {
    let server = faulty(&["--corrupt", "0"]);
    let payload = random_bytes(1 << 20, 9);
    let echoed = crate::util::net::round_trip(server.port(), &payload);
    crate::util::assert_same_bytes(&echoed, &payload, "--corrupt 0");
}
