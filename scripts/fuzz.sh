#!/usr/bin/env bash
# Fuzzes the parsers that face hostile input, each for a bounded time.
#
#   scripts/fuzz.sh            # each target FUZZ_SECS (default 60) seconds
#   FUZZ_SECS=600 scripts/fuzz.sh addr
#
# With a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`) it runs
# the libFuzzer targets in fuzz/; otherwise (or with FUZZ_ENGINE=proptest)
# the same properties through the proptest suite (tests/it/props.rs) with
# PROPTEST_CASES (default 20000) cases each. A finding is a crash file in fuzz/artifacts/TARGET/: fix it,
# then keep the input in fuzz/regressions/TARGET/ (replayed by `cargo test`).
#
# Targets: addr (sockkit::addr::parse_socket_addr), transcript
# (sockkit::transcript splitter and escaper), procnet (sockstat's
# /proc/net/{tcp,tcp6,udp,udp6,unix} parsers), netlink (sockstat's
# sock_diag reply parser: framing, inet_diag_msg, unix_diag_msg).
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${FUZZ_SECS:-60}
all_targets=(addr transcript procnet netlink)
targets=("${@:-${all_targets[@]}}")

if [ "${FUZZ_ENGINE:-}" != proptest ] &&
    cargo +nightly --version >/dev/null 2>&1 &&
    cargo +nightly fuzz --version >/dev/null 2>&1; then
    for target in "${targets[@]}"; do
        echo "fuzz.sh: $target for ${secs}s (cargo +nightly fuzz)"
        mkdir -p "fuzz/corpus/$target"
        # Seed the corpus with the kept regressions.
        if [ -d "fuzz/regressions/$target" ]; then
            cp -n "fuzz/regressions/$target"/* "fuzz/corpus/$target/" 2>/dev/null || true
        fi
        cargo +nightly fuzz run "$target" -- -max_total_time="$secs" -max_len=4096
    done
    echo "fuzz.sh: no findings"
else
    cases=${PROPTEST_CASES:-20000}
    echo "fuzz.sh: no cargo fuzz (nightly + cargo-fuzz) or FUZZ_ENGINE=proptest:" \
        "proptest with PROPTEST_CASES=$cases instead"
    PROPTEST_CASES=$cases cargo test --release --test it props::
fi
