#!/usr/bin/env bash
# Times sockstat against ss, lsof and netstat over ~20,000 loopback TCP
# sockets (and some thousands of unix sockets) held by processes this script
# starts in network namespaces of their own, listed from the host's
# namespace (sockstat resolves theirs; ss sees one namespace at a time, so it
# runs inside, through `ip netns exec`).
#
#   scripts/bench-sockstat.sh [RUNS]        (default 15 runs per command)
#
# Env: HOLDERS (processes, default 8), TCP_PAIRS (per holder, default 1250:
# 2 sockets each), UNIX_PAIRS (per holder, default 250), PHASES ("one eight":
# all holders in one namespace; one holder in each of HOLDERS namespaces).
# Prints, per phase, each command's median wall time and mean CPU time (user
# + sys, from the shell's cutime/cstime over all runs) over RUNS interleaved
# runs, their ratios to sockstat's, and sockstat's peak RSS. Needs root and
# ip (for the namespaces). Everything it starts is stopped on exit.
set -euo pipefail
export LC_ALL=C

RUNS=${1:-15}
HOLDERS=${HOLDERS:-8}
TCP_PAIRS=${TCP_PAIRS:-1250}
UNIX_PAIRS=${UNIX_PAIRS:-250}
PHASES=${PHASES:-one eight}

if [[ $(id -u) -ne 0 ]] || ! command -v ip >/dev/null; then
    echo "needs root and ip: the holders run in network namespaces of their own" >&2
    exit 1
fi

cd "$(dirname "$0")/.."
cargo build --quiet --release --bin sockstat --example hold_sockets
SOCKSTAT=$PWD/target/release/sockstat
HOLD=$PWD/target/release/examples/hold_sockets

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-sockstat.XXXXXX")
NAMESPACES=()
PIDS=()
stop_holders() {
    local pid ns
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
    PIDS=()
    NAMESPACES=()
}
trap 'stop_holders; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# Each holder needs 2*TCP_PAIRS + 2*UNIX_PAIRS + a few fds.
ulimit -n "$(ulimit -Hn)"
need=$((2 * TCP_PAIRS + 2 * UNIX_PAIRS + 64))
if (($(ulimit -n) < need)); then
    echo "ulimit -n is $(ulimit -n), a holder needs $need: lower TCP_PAIRS/UNIX_PAIRS" >&2
    exit 1
fi

new_ns() {
    local ns=sockstat-bench-$$-$1
    ip netns add "$ns"
    ip netns exec "$ns" ip link set lo up
    NAMESPACES+=("$ns")
}

# Holder i in namespace NAMESPACES[ns_of_i].
start_holders() {
    local i ns
    for i in $(seq 1 "$HOLDERS"); do
        ns=${NAMESPACES[$(($1 ? i - 1 : 0))]}
        ip netns exec "$ns" "$HOLD" "$TCP_PAIRS" "$UNIX_PAIRS" >"$WORK/holder-$i" 2>&1 &
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
}

# Round-robin timing: run i of every command, then run i+1 of every
# command, so a change in machine load between commands (hyperfine times
# one command's runs back to back) does not skew the ratios. Wall time from
# $EPOCHREALTIME (no fork); CPU time from this shell's reaped children
# (cutime + cstime in /proc/$$/stat, clock ticks): summed over every run of
# a command, so the tick rounding is one tick over all of them.
cat >"$WORK/rr.sh" <<'RR'
runs=$1; out=$2; shift 2
# In this shell, not a $(...) subshell, whose own CPU would count.
children_ticks() {
    local stat rest
    read -r stat </proc/$$/stat
    rest=${stat##*) }
    set -- $rest
    ticks=$(( ${14} + ${15} ))
}
for warm in 1 2; do for cmd in "$@"; do eval "$cmd" >/dev/null 2>&1 || true; done; done
declare -a cpu
for ((r = 0; r < runs; r++)); do
    i=0
    for cmd in "$@"; do
        children_ticks
        c0=$ticks
        t0=$EPOCHREALTIME
        eval "$cmd" >/dev/null 2>&1 || true
        t1=$EPOCHREALTIME
        children_ticks
        c1=$ticks
        cpu[$i]=$(( ${cpu[$i]:-0} + c1 - c0 ))
        echo "${t0/./} ${t1/./}" | awk '{ print ($2 - $1) / 1e6 }' >>"$out.$i"
        i=$((i + 1))
    done
done
hz=$(getconf CLK_TCK)
for i in "${!cpu[@]}"; do
    awk -v t="${cpu[$i]}" -v hz="$hz" -v n="$runs" 'BEGIN { print t / hz / n }' >"$out.cpu.$i"
done
RR

median() {
    sort -g "$1" | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# phase TITLE NAME=COMMAND...: times the commands, prints the table; the
# first is the base of the ratios.
phase() {
    local title=$1 i
    shift
    local names=() cmds=()
    for pair in "$@"; do
        names+=("${pair%%=*}")
        cmds+=("${pair#*=}")
    done
    rm -f "$WORK"/times.*
    bash "$WORK/rr.sh" "$RUNS" "$WORK/times" "${cmds[@]}"
    echo
    echo "== $title"
    echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) after the runs"
    local base_wall base_cpu
    base_wall=$(median "$WORK/times.0")
    base_cpu=$(cat "$WORK/times.cpu.0")
    printf '%-34s %10s %8s %10s %8s\n' "command" "wall ms" "ratio" "CPU ms" "ratio"
    for i in "${!cmds[@]}"; do
        awk -v n="${names[$i]}" -v w="$(median "$WORK/times.$i")" -v c="$(cat "$WORK/times.cpu.$i")" \
            -v bw="$base_wall" -v bc="$base_cpu" \
            'BEGIN { printf "%-34s %10.2f %7.2fx %10.2f %7.2fx\n", n, w * 1000, w / bw, c * 1000, (bc > 0 ? c / bc : 0) }'
    done
    for i in "${!cmds[@]}"; do
        printf '%s\t%s\t%s\n' "${names[$i]}" "$(median "$WORK/times.$i")" "$(cat "$WORK/times.cpu.$i")"
    done >"$WORK/table"
}

# ratio A B BAR: A's wall and CPU over B's, against BAR.
ratios() {
    awk -F'\t' -v a="$1" -v b="$2" -v wbar="$3" -v cbar="$4" '
        $1 == a { aw = $2; ac = $3 } $1 == b { bw = $2; bc = $3 }
        END { if (bw > 0 && bc > 0) printf "%s / %s: wall %.2f (bar <= %s), CPU %.2f (bar <= %s)\n", a, b, aw / bw, wbar, ac / bc, cbar }' "$WORK/table"
}

peak_rss() {
    local kib
    kib=$(/usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -n 1)
    awk -v k="$kib" -v c="$*" 'BEGIN { printf "peak RSS of %s: %.1f MiB (bar: < 32 MiB)\n", c, k / 1024 }'
}

for which in $PHASES; do
    case $which in
    one)
        new_ns 0
        start_holders 0
        NS=${NAMESPACES[0]}
        tcp_rows=$("$SOCKSTAT" -q -P tcp --netns "$NS" | wc -l)
        ss_rows=$(ip netns exec "$NS" ss -tanpH | wc -l)
        echo "one namespace: $HOLDERS holders; sockstat sees $tcp_rows tcp fds in it, ss -tanp lists $ss_rows"
        cmds=("sockstat=$SOCKSTAT" "sockstat -i=$SOCKSTAT -i" "sockstat -P tcp=$SOCKSTAT -P tcp"
            "sockstat --netns=$SOCKSTAT --netns $NS"
            "ss -tanp (netns exec)=ip netns exec $NS ss -tanp"
            "ss -tan (netns exec)=ip netns exec $NS ss -tan"
            "ip netns exec true=ip netns exec $NS true")
        command -v lsof >/dev/null && cmds+=("lsof -nP -i (netns exec)=ip netns exec $NS lsof -nP -i")
        command -v netstat >/dev/null && cmds+=("netstat -tanp (netns exec)=ip netns exec $NS netstat -tanp")
        phase "$HOLDERS holders, $((HOLDERS * (2 * TCP_PAIRS + 1))) tcp sockets, in one namespace; listed from the host's" "${cmds[@]}"
        ratios sockstat "ss -tanp (netns exec)" 0.35 0.5
        ratios "sockstat -i" sockstat 1.15 1.15
        peak_rss "$SOCKSTAT"
        peak_rss "$SOCKSTAT" -i
        ;;
    eight)
        for i in $(seq 1 "$HOLDERS"); do new_ns "$i"; done
        start_holders 1
        ss_all="for ns in ${NAMESPACES[*]}; do ip netns exec \$ns ss -tanp; done"
        tcp_rows=$("$SOCKSTAT" -q -P tcp --comm hold_sockets | wc -l)
        ss_rows=$(eval "$ss_all" | grep -vc '^State' || true)
        echo "$HOLDERS namespaces: a holder in each; sockstat sees $tcp_rows tcp fds of the holders, ss -tanp in each lists $ss_rows in all"
        phase "$HOLDERS namespaces of $((2 * TCP_PAIRS + 1)) tcp sockets each; listed from the host's" \
            "sockstat=$SOCKSTAT" "sockstat -i=$SOCKSTAT -i" "ss -tanp in each (summed)=$ss_all"
        ratios sockstat "ss -tanp in each (summed)" 0.35 0.5
        ratios "sockstat -i" sockstat 1.15 1.15
        peak_rss "$SOCKSTAT"
        ;;
    esac
    stop_holders
done
