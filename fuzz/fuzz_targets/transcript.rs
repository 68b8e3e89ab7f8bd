//! `sockkit::transcript`: the message splitter in any chunking and the
//! escaper: same messages however the bytes arrive, every line one safe
//! line, escaping reversible.
#![no_main]

#[path = "../checks/mod.rs"]
mod checks;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first bytes choose the chunking; the rest is the stream.
    let (head, stream) = data.split_at(data.len().min(8));
    let cuts: Vec<u16> = head
        .chunks(2)
        .map(|pair| u16::from(pair[0]) << 8 | u16::from(*pair.get(1).unwrap_or(&0)))
        .collect();
    checks::transcript::any_chunking(stream, &cuts);
    checks::escape::round_trip(stream);
});
