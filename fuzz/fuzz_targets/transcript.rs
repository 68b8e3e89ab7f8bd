//! `sockkit::transcript`: the message splitter in any chunking and the
//! escaper: the contract's messages however the bytes arrive, every say
//! line one safe line that counts what it cuts, both escaped forms
//! reversible (`push_escaped` through the say lines, `field` on the whole
//! input).
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
    checks::escape::field_round_trip(stream);
});
