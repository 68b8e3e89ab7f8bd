#!/usr/bin/env bash
# Fuzzes the parsers that face hostile input, each for a bounded time, one
# target after the other.
#
#   scripts/fuzz.sh                          # each target FUZZ_SECS (default 60) s
#   FUZZ_SECS=900 scripts/fuzz.sh            # 15 minutes each
#   FUZZ_SECS=60 FUZZ_SECS_TRANSCRIPT=900 scripts/fuzz.sh transcript addr
#
# FUZZ_SECS_<TARGET> (ADDR, TRANSCRIPT, PROCNET, NETLINK) overrides the
# budget of one target. Each run ends with libFuzzer's final stats; the
# script then prints one line per target: executions, seconds, exec/s (wall
# clock) and executions per CPU second.
#
# With a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`) it runs
# the libFuzzer targets in fuzz/; otherwise (or with FUZZ_ENGINE=proptest)
# the same properties through the proptest suite (tests/it/props.rs) with
# PROPTEST_CASES (default 20000) cases each. A finding is a crash file in
# fuzz/artifacts/TARGET/: fix it, then keep the input in
# fuzz/regressions/TARGET/ (replayed by `cargo test`).
#
# Targets: addr (sockkit::addr::parse_socket_addr), transcript
# (sockkit::transcript splitter and escaper), procnet (sockstat's
# /proc/net/{tcp,tcp6,udp,udp6,unix} parsers), netlink (sockstat's
# sock_diag reply parser: framing, inet_diag_msg, unix_diag_msg and their
# attributes, tcp_info, SK_MEMINFO; and its RTM_NEWLINK device-name parser).
#
# No sanitizer by default (FUZZ_SANITIZER=address to have one): sockkit is
# `#![forbid(unsafe_code)]`, so AddressSanitizer has nothing to find that
# safe Rust does not already trap, and it cost the transcript target 3.3x
# (4.3 k → 14.1 k exec/s). Overflow checks and debug assertions stay on.
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(addr transcript procnet netlink)
targets=("${@:-${all_targets[@]}}")

# The longest input worth trying, per target: an address is short; the
# transcript needs room for a message past the 1024-byte cut and a few
# short ones; /proc/net is parsed line by line, and 16 drawn lines take
# 1-2 KiB; a netlink dump of 8 drawn replies takes up to 2.5 KiB.
max_len() {
    case $1 in
    addr) echo 256 ;;
    transcript | procnet) echo 2048 ;;
    netlink) echo 4096 ;;
    esac
}

# Build flags per target. The transcript and procnet checks and parsers
# compare every byte they read; with -trace-compares each comparison calls
# a hook: 70% of the transcript's run (1.3 k exec/s), and procnet took 46
# CPU seconds for 1 M executions against 18 without, for the same coverage
# (cov 611 / 606, ft 2810 / 2794). Their branch points are single bytes,
# which mutation and the drawn well-formed lines reach unaided. Another
# flag set needs its own target dir, or each switch rebuilds everything.
build_flags() {
    case $1 in
    transcript | procnet)
        echo --no-trace-compares --target-dir "$PWD/fuzz/target/no-trace-compares"
        ;;
    esac
}

budget() {
    local var="FUZZ_SECS_${1^^}"
    echo "${!var:-${FUZZ_SECS:-60}}"
}

if [ "${FUZZ_ENGINE:-}" != proptest ] &&
    cargo +nightly --version >/dev/null 2>&1 &&
    cargo +nightly fuzz --version >/dev/null 2>&1; then
    sanitizer=${FUZZ_SANITIZER:-none}
    logs=$(mktemp -d /tmp/sockkit-fuzz.XXXXXX)
    summary=()
    for target in "${targets[@]}"; do
        secs=$(budget "$target")
        echo "fuzz.sh: $target for ${secs}s (cargo +nightly fuzz, sanitizer $sanitizer)"
        mkdir -p "fuzz/corpus/$target"
        # Seed the corpus with the kept regressions.
        if [ -d "fuzz/regressions/$target" ]; then
            cp -n "fuzz/regressions/$target"/* "fuzz/corpus/$target/" 2>/dev/null || true
        fi
        # shellcheck disable=SC2046 # the flags are words
        flags=(--sanitizer "$sanitizer" $(build_flags "$target"))
        # Built first, so the timed run below is the fuzzer's alone.
        cargo +nightly fuzz build "${flags[@]}" "$target"
        TIMEFORMAT="%U %S"
        { time cargo +nightly fuzz run "${flags[@]}" "$target" -- \
            -max_total_time="$secs" -max_len="$(max_len "$target")" \
            -print_final_stats=1 2>&1 | tee "$logs/$target.log"; } 2>"$logs/$target.cpu"
        # libFuzzer's closing lines: "Done N runs in S second(s)", then the
        # stats -print_final_stats asks for. On a shared machine the wall
        # clock rate says as much about the neighbours as about the target,
        # so the rate per CPU second is shown too.
        done_line=$(grep -E '^Done [0-9]+ runs in' "$logs/$target.log" | tail -n 1)
        rate=$(grep -E '^stat::average_exec_per_sec:' "$logs/$target.log" | tail -n 1)
        read -r _ runs _ <<<"$done_line"
        per_cpu=$(awk -v runs="$runs" '{ printf "%d", runs / ($1 + $2) }' "$logs/$target.cpu")
        summary+=("$target: ${done_line#Done }, ${rate##* } exec/s, $per_cpu exec per CPU second")
    done
    echo "fuzz.sh: no findings (logs in $logs)"
    printf 'fuzz.sh: %s\n' "${summary[@]}"
else
    cases=${PROPTEST_CASES:-20000}
    echo "fuzz.sh: no cargo fuzz (nightly + cargo-fuzz) or FUZZ_ENGINE=proptest:" \
        "proptest with PROPTEST_CASES=$cases instead"
    PROPTEST_CASES=$cases cargo test --release --test it props::
fi
