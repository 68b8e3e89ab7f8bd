//! Property tests of the parsers that face hostile input, sharing their
//! properties with the fuzz targets (`fuzz/checks.rs`). `cargo test` runs a
//! few hundred cases each; `scripts/fuzz.sh` runs many more
//! (`PROPTEST_CASES`) when `cargo fuzz` cannot run.
//!
//! Every input a fuzzer or proptest ever found is kept in `fuzz/regressions/`
//! and replayed here.

#[path = "../../fuzz/checks.rs"]
mod checks;

use proptest::prelude::*;

/// Text that looks like addresses often enough to get past the first check.
fn address_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just(String::new()),
        Just(".".to_string()),
        Just(":".to_string()),
        Just("::".to_string()),
        Just("%".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("lo".to_string()),
        Just("ffff".to_string()),
        (0u32..70000).prop_map(|n| n.to_string()),
        "[0-9a-fA-F]{1,5}",
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

proptest! {
    #[test]
    fn addresses_parse_or_fail_on_one_line(ip in address_like(), port in "[0-9+-]{0,7}|\\PC{0,8}") {
        checks::addr(&ip, &port);
    }

    #[test]
    fn dotted_quads_round_trip(a: u8, b: u8, c: u8, d: u8, port: u16) {
        checks::addr(&format!("{a}.{b}.{c}.{d}"), &port.to_string());
    }

    #[test]
    fn ipv6_literals_round_trip(segments: [u16; 8], zone in prop::option::of("lo|1|0|[0-9]{1,4}|[a-z]{1,4}"), bracket: bool) {
        let v6 = core::net::Ipv6Addr::from(segments).to_string();
        let literal = match zone {
            Some(zone) => format!("{v6}%{zone}"),
            None => v6,
        };
        let ip = if bracket { format!("[{literal}]") } else { literal };
        checks::addr(&ip, "7");
    }

    #[test]
    fn transcript_lines_are_safe_in_any_chunking(
        data in prop::collection::vec(any::<u8>(), 0..3000).prop_map(with_separators),
        cuts in prop::collection::vec(any::<u16>(), 0..8),
    ) {
        checks::transcript(&data, &cuts);
    }

    #[test]
    fn escaping_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        checks::escape_round_trip(&bytes);
    }

    #[test]
    fn escaping_round_trips_text(text in "\\PC*|[\\x00-\\x{ff}\\x{202a}-\\x{202e}\\x{2066}-\\x{2069}\\\\]{0,64}") {
        checks::escape_round_trip(text.as_bytes());
    }
}

/// Bytes with line ends, NULs, CRs, ESCs and UTF-8 lead bytes made common
/// (a quarter of the bytes), so messages are short and many.
fn with_separators(mut data: Vec<u8>) -> Vec<u8> {
    const SPECIAL: [u8; 8] = [b'\n', 0, b'\r', 0x1b, 0xc2, 0xe2, 0x9b, b'\\'];
    for byte in &mut data {
        if *byte < 64 {
            *byte = SPECIAL[usize::from(*byte) % SPECIAL.len()];
        }
    }
    data
}

/// Inputs found by fuzzing or proptest, kept as regression tests: one file
/// per target directory, replayed through the same checks.
#[test]
fn fuzz_regressions_replay() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut replayed = 0;
    for (target, check) in [
        ("addr", replay_addr as fn(&[u8])),
        ("transcript", replay_transcript),
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            check(&bytes);
            replayed += 1;
        }
    }
    eprintln!("replayed {replayed} fuzz regression inputs");
}

/// The addr target's input: IP and PORT split at the first NUL.
fn replay_addr(bytes: &[u8]) {
    let (ip, port) = match bytes.iter().position(|&b| b == 0) {
        Some(at) => (&bytes[..at], &bytes[at + 1..]),
        None => (bytes, &b""[..]),
    };
    checks::addr(&String::from_utf8_lossy(ip), &String::from_utf8_lossy(port));
}

fn replay_transcript(bytes: &[u8]) {
    checks::transcript(bytes, &[1, 7, 1024, 3]);
    checks::escape_round_trip(bytes);
}
