//! Property tests of the parsers that face hostile input (addresses, the
//! transcript, sockstat's `/proc/net` and sock_diag parsers), sharing their
//! properties with the fuzz targets (`fuzz/checks/`). `cargo test` runs a
//! few hundred cases each; `scripts/fuzz.sh` runs many more
//! (`PROPTEST_CASES`) when `cargo fuzz` cannot run.
//!
//! Every input a fuzzer or proptest ever found is kept in `fuzz/regressions/`
//! and replayed here.

#[path = "../../fuzz/checks/mod.rs"]
mod checks;

use checks::netlink::{InetMsg, Reply, UnixMsg, UnixName};
use checks::procnet::{InetLine, UnixLine};
use proptest::prelude::*;
use sockkit::sockstat::record::{InetProto, IpVersion};

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
        checks::addr::any_text(&ip, &port);
    }

    #[test]
    fn dotted_quads_round_trip(a: u8, b: u8, c: u8, d: u8, port: u16) {
        checks::addr::any_text(&format!("{a}.{b}.{c}.{d}"), &port.to_string());
    }

    #[test]
    fn ipv6_literals_round_trip(segments: [u16; 8], zone in prop::option::of("lo|1|0|[0-9]{1,4}|[a-z]{1,4}"), bracket: bool) {
        let v6 = core::net::Ipv6Addr::from(segments).to_string();
        let literal = match zone {
            Some(zone) => format!("{v6}%{zone}"),
            None => v6,
        };
        let ip = if bracket { format!("[{literal}]") } else { literal };
        checks::addr::any_text(&ip, "7");
    }

    #[test]
    fn transcript_lines_are_safe_in_any_chunking(
        data in prop::collection::vec(any::<u8>(), 0..3000).prop_map(with_separators),
        cuts in prop::collection::vec(any::<u16>(), 0..8),
    ) {
        checks::transcript::any_chunking(&data, &cuts);
    }

    #[test]
    fn escaping_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        checks::escape::round_trip(&bytes);
    }

    #[test]
    fn escaping_round_trips_text(text in "\\PC*|[\\x00-\\x{ff}\\x{202a}-\\x{202e}\\x{2066}-\\x{2069}\\\\]{0,64}") {
        checks::escape::round_trip(text.as_bytes());
    }

    #[test]
    fn escaping_round_trips_any_characters(chars in prop::collection::vec(any::<char>(), 0..64)) {
        checks::escape::round_trip(chars.iter().collect::<String>().as_bytes());
    }

    #[test]
    fn cut_marks_count_exactly_the_hidden_bytes(
        body in prop::collection::vec(any::<u32>(), 250..1100).prop_map(text_of_every_width),
        tail in prop::collection::vec(prop::sample::select(&b"\r\n\0b\xe4\x80\xc3"[..]), 0..8),
        cuts in prop::collection::vec(any::<u16>(), 0..4),
    ) {
        // Messages around the 1024-byte cut of characters of every width,
        // ending in `\r`s, partial characters and line ends: shown bytes
        // + N == message bytes.
        checks::transcript::any_chunking(&[body, tail].concat(), &cuts);
    }
}

/// Every code point U+0000..U+10FFFF, in both forms, against the category
/// rule read from the Unicode data in `fuzz/data/`.
#[test]
fn every_code_point_is_escaped_as_its_category_says() {
    checks::escape::every_code_point();
}

/// Text of one- to four-byte characters and `\r`s (one per draw), none
/// that ends a message.
fn text_of_every_width(draws: Vec<u32>) -> Vec<u8> {
    const SOME: [char; 6] = ['a', 'b', 'é', '中', '🙂', '\r'];
    let chars = draws.iter().map(|&draw| match SOME.get(draw as usize % 8) {
        Some(&c) => c,
        None => char::from_u32((draw >> 3) % 0x11_0000)
            .filter(|&c| c != '\n' && c != '\0')
            .unwrap_or('x'),
    });
    chars.collect::<String>().into_bytes()
}

/// A state number: mostly the ones that change what is shown.
fn tcp_state() -> impl Strategy<Value = u8> {
    prop_oneof![Just(10u8), Just(1), Just(6), Just(7), any::<u8>()]
}

fn inet_table() -> impl Strategy<Value = (InetProto, IpVersion)> {
    prop::sample::select(checks::records::INET_TABLES.to_vec())
}

fn inet_line() -> impl Strategy<Value = InetLine> {
    (
        (any::<u16>(), any::<[u8; 16]>(), any::<u16>()),
        (any::<[u8; 16]>(), any::<u16>(), tcp_state()),
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<u64>()),
    )
        .prop_map(
            |((slot, lip, lport), (rip, rport, state), (tx_queue, rx_queue, uid, inode))| {
                InetLine {
                    slot: u32::from(slot),
                    local: (lip, lport),
                    remote: (rip, rport),
                    state,
                    tx_queue,
                    rx_queue,
                    uid,
                    inode,
                }
            },
        )
}

fn unix_line() -> impl Strategy<Value = UnixLine> {
    let name = prop::collection::vec(any::<u8>().prop_filter("one line", |&b| b != b'\n'), 1..120);
    (
        any::<u32>(),
        prop_oneof![
            Just(0u32),
            Just(checks::procnet::SO_ACCEPTCON),
            any::<u32>()
        ],
        any::<u16>(),
        0u8..6,
        any::<u64>(),
        prop::option::of(prop_oneof![
            "/[a-z ./]{0,40}".prop_map(String::into_bytes),
            "@[a-z0-9@]{0,20}".prop_map(String::into_bytes),
            name,
        ]),
    )
        .prop_map(|(refs, flags, kind, st, inode, name)| UnixLine {
            refs,
            flags,
            kind,
            st,
            inode,
            name,
        })
}

/// Lines that nearly parse (the files' own alphabet) and lines of anything.
fn garbage_lines() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let line = prop_oneof![
        "[0-9A-Fa-f: @/x-]{0,120}".prop_map(String::into_bytes),
        " *[0-9]{1,4}: [0-9A-F:]{0,40}( [0-9A-F:]{1,20}){0,14}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..300),
    ];
    prop::collection::vec(line, 0..8)
}

fn inet_msg() -> impl Strategy<Value = InetMsg> {
    (
        (
            any::<bool>(),
            any::<bool>(),
            tcp_state(),
            any::<u16>(),
            any::<u16>(),
        ),
        (any::<[u8; 16]>(), any::<[u8; 16]>()),
        (
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u8>(),
        ),
    )
        .prop_map(
            |((v6, tcp, state, sport, dport), (src, dst), (rqueue, wqueue, uid, inode, noise))| {
                InetMsg {
                    v6,
                    proto: if tcp { InetProto::Tcp } else { InetProto::Udp },
                    state,
                    sport,
                    dport,
                    src,
                    dst,
                    rqueue,
                    wqueue,
                    uid,
                    inode,
                    noise,
                }
            },
        )
}

fn unix_msg() -> impl Strategy<Value = UnixMsg> {
    let name = prop_oneof![
        (prop::collection::vec(1u8..=255, 1..108), any::<bool>())
            .prop_map(|(path, nul)| UnixName::Path(path, nul)),
        prop::collection::vec(any::<u8>(), 0..107).prop_map(UnixName::Abstract),
    ];
    let other = (
        prop::sample::select(vec![1u16, 3, 6, 8, 9, 10, 200]),
        prop::collection::vec(any::<u8>(), 0..40),
    );
    (
        (
            any::<u8>(),
            tcp_state(),
            any::<u32>(),
            prop::option::of(name),
        ),
        (
            prop::option::of(any::<u32>()),
            prop::option::of((any::<u32>(), any::<u32>())),
            prop::option::of(any::<u32>()),
        ),
        (prop::collection::vec(other, 0..4), any::<u32>()),
    )
        .prop_map(
            |((kind, state, inode, name), (peer, queues, uid), (others, order))| UnixMsg {
                kind,
                state,
                inode,
                name,
                peer,
                queues,
                uid,
                others,
                order,
            },
        )
}

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        inet_msg().prop_map(Reply::Inet),
        unix_msg().prop_map(Reply::Unix)
    ]
}

proptest! {
    #[test]
    fn procnet_inet_files_parse_back_and_skip_garbage(
        (proto, version) in inet_table(),
        lines in prop::collection::vec(inet_line(), 0..12),
        garbage in garbage_lines(),
    ) {
        let garbage: Vec<&[u8]> = garbage.iter().map(Vec::as_slice).collect();
        checks::procnet::inet_round_trip(proto, version, &lines, &garbage);
    }

    #[test]
    fn procnet_unix_files_parse_back_and_skip_garbage(
        lines in prop::collection::vec(unix_line(), 0..12),
        garbage in garbage_lines(),
    ) {
        let garbage: Vec<&[u8]> = garbage.iter().map(Vec::as_slice).collect();
        checks::procnet::unix_round_trip(&lines, &garbage);
    }

    #[test]
    fn procnet_parsers_take_any_bytes(text in prop::collection::vec(any::<u8>(), 0..4000)) {
        checks::procnet::any_text(&text);
    }

    #[test]
    fn netlink_dumps_parse_back_and_never_finish_early(
        seq: u32,
        replies in prop::collection::vec(reply(), 0..8),
        end in prop_oneof![Just(0i32), -200i32..0, any::<i32>()],
        extras in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        checks::netlink::round_trip(seq, &replies, end, &extras);
    }

    #[test]
    fn netlink_parser_takes_any_bytes(seq in 0u32..4, bytes in prop::collection::vec(any::<u8>(), 0..4000)) {
        checks::netlink::any_bytes(&bytes, seq);
        checks::netlink::any_payload(&bytes);
    }

    #[test]
    fn netlink_frames_of_any_payload_parse_safely(
        seq: u32,
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..6),
    ) {
        // Well-framed messages of ours whose payloads are anything: the
        // framing holds, each payload is handed on, none panics.
        let mut bytes = Vec::new();
        for payload in &payloads {
            bytes.extend(checks::netlink::nlmsg(20, seq, payload));
        }
        checks::netlink::any_bytes(&bytes, seq);
    }

    #[test]
    fn fuzz_target_inputs(data in prop::collection::vec(any::<u8>(), 0..2000)) {
        checks::procnet::input(&data);
        checks::netlink::input(&data);
    }

    #[test]
    fn netlink_attributes_parse_back_however_they_end(data in prop::collection::vec(any::<u8>(), 0..1500)) {
        checks::netlink::attributes_input(&data);
    }

    #[test]
    fn link_replies_give_the_name_asked_for(data in prop::collection::vec(any::<u8>(), 0..400)) {
        checks::links::input(&data);
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
        ("procnet", checks::procnet::input),
        ("netlink", checks::netlink::input),
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
    checks::addr::any_text(&String::from_utf8_lossy(ip), &String::from_utf8_lossy(port));
}

fn replay_transcript(bytes: &[u8]) {
    checks::transcript::any_chunking(bytes, &[1, 7, 1024, 3]);
    checks::escape::round_trip(bytes);
}
