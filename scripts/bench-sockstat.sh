#!/usr/bin/env bash
# Times sockstat against ss, lsof and netstat with ~20,000 loopback TCP
# sockets (and some thousands of unix sockets) held by processes this script
# starts, inside a network namespace of its own when run as root.
#
#   scripts/bench-sockstat.sh [RUNS]        (default 15 runs per command)
#
# Env: HOLDERS (processes, default 8), TCP_PAIRS (per holder, default 1250:
# 2 sockets each), UNIX_PAIRS (per holder, default 250).
# Prints each command's median wall time over RUNS interleaved runs, its
# ratio to sockstat, and sockstat's peak RSS. Everything it starts is
# stopped on exit.
set -euo pipefail
export LC_ALL=C

RUNS=${1:-15}
HOLDERS=${HOLDERS:-8}
TCP_PAIRS=${TCP_PAIRS:-1250}
UNIX_PAIRS=${UNIX_PAIRS:-250}

cd "$(dirname "$0")/.."
cargo build --quiet --release --bin sockstat --example hold_sockets
SOCKSTAT=$PWD/target/release/sockstat
HOLD=$PWD/target/release/examples/hold_sockets

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-sockstat.XXXXXX")
NS=""
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ -n $NS ]]; then ip netns del "$NS" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

IN_NS=()
if [[ $(id -u) -eq 0 ]] && command -v ip >/dev/null; then
    NS=sockstat-bench-$$
    ip netns add "$NS"
    ip netns exec "$NS" ip link set lo up
    IN_NS=(ip netns exec "$NS")
    echo "network namespace: $NS"
else
    echo "not root: sharing the host's network namespace (other sockets count too)"
fi

# Each holder needs 2*TCP_PAIRS + 2*UNIX_PAIRS + a few fds.
ulimit -n "$(ulimit -Hn)"
need=$((2 * TCP_PAIRS + 2 * UNIX_PAIRS + 64))
if (( $(ulimit -n) < need )); then
    echo "ulimit -n is $(ulimit -n), a holder needs $need: lower TCP_PAIRS/UNIX_PAIRS" >&2
    exit 1
fi

for i in $(seq 1 "$HOLDERS"); do
    "${IN_NS[@]}" "$HOLD" "$TCP_PAIRS" "$UNIX_PAIRS" >"$WORK/holder-$i" 2>&1 &
    PIDS+=($!)
done
for i in $(seq 1 "$HOLDERS"); do
    until grep -q '^ready' "$WORK/holder-$i"; do
        if ! kill -0 "${PIDS[$((i - 1))]}" 2>/dev/null; then
            echo "holder $i failed: $(cat "$WORK/holder-$i")" >&2
            exit 1
        fi
        sleep 0.1
    done
done

tcp_rows=$("${IN_NS[@]}" "$SOCKSTAT" -q -P tcp | wc -l)
unix_rows=$("${IN_NS[@]}" "$SOCKSTAT" -q -u --comm hold_sockets | wc -l)
ss_rows=$("${IN_NS[@]}" ss -tanp | tail -n +2 | wc -l)
echo "held: $HOLDERS processes; sockstat sees $tcp_rows tcp fds, $unix_rows unix fds of the holders; ss -tanp lists $ss_rows"

NAMES=("sockstat")
CMDS=("$SOCKSTAT")
add() { if command -v "$2" >/dev/null; then NAMES+=("$1"); CMDS+=("$1"); else echo "skipping $1: $2 not installed"; fi; }
add "ss -tanp" ss
add "ss -tan" ss
add "lsof -nP -i" lsof
add "netstat -tanp" netstat

# Round-robin timing inside the namespace: run i of every command, then run
# i+1 of every command, so a change in machine load between commands
# (hyperfine times one command's runs back to back) does not skew the
# ratios. $EPOCHREALTIME costs no fork.
cat >"$WORK/rr.sh" <<'RR'
runs=$1; out=$2; shift 2
for warm in 1 2; do for cmd in "$@"; do eval "$cmd" >/dev/null 2>&1 || true; done; done
for ((r = 0; r < runs; r++)); do
    i=0
    for cmd in "$@"; do
        t0=$EPOCHREALTIME
        eval "$cmd" >/dev/null 2>&1 || true
        t1=$EPOCHREALTIME
        echo "${t0/./} ${t1/./}" | awk '{ print ($2 - $1) / 1e6 }' >>"$out.$i"
        i=$((i + 1))
    done
done
RR
"${IN_NS[@]}" bash "$WORK/rr.sh" "$RUNS" "$WORK/times" "${CMDS[@]}"
declare -A MEDIAN
for i in "${!CMDS[@]}"; do
    MEDIAN[${NAMES[$i]}]=$(sort -g "$WORK/times.$i" | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
done

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) after the runs"
base=${MEDIAN[sockstat]}
printf '\n%-16s %12s %10s\n' "command" "median ms" "ratio"
for name in "${NAMES[@]}"; do
    awk -v n="$name" -v m="${MEDIAN[$name]}" -v b="$base" \
        'BEGIN { printf "%-16s %12.2f %9.2fx\n", n, m * 1000, m / b }'
done
awk -v s="$base" -v p="${MEDIAN["ss -tanp"]:-0}" \
    'BEGIN { if (p > 0) printf "\nsockstat / ss -tanp = %.2f (bar: <= 0.50)\n", s / p }'

if [[ -x /usr/bin/time ]]; then
    rss=$("${IN_NS[@]}" /usr/bin/time -v "$SOCKSTAT" 2>&1 >/dev/null | awk -F: '/Maximum resident/ {gsub(/ /, "", $2); print $2}')
    awk -v k="$rss" 'BEGIN { printf "sockstat peak RSS: %.1f MiB (bar: < 32 MiB)\n", k / 1024 }'
else
    peak=0
    "${IN_NS[@]}" "$SOCKSTAT" >/dev/null &
    spid=$!
    while kill -0 "$spid" 2>/dev/null; do
        hwm=$(awk '/VmHWM/ {print $2}' "/proc/$spid/status" 2>/dev/null || echo 0)
        (( ${hwm:-0} > peak )) && peak=$hwm
    done
    wait "$spid" || true
    awk -v k="$peak" 'BEGIN { printf "sockstat peak RSS (polled): %.1f MiB (bar: < 32 MiB)\n", k / 1024 }'
fi
