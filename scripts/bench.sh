#!/usr/bin/env bash
# sockd against the echo servers a user would otherwise pick, measured by
# sockbench: a tokio echo server (bench/tokio-echo), socat, ncat and
# tcpserver. Each missing one is skipped with a note.
#
# For every round, every load and every server (interleaved, so a slow drift
# of the machine touches all servers alike), one sockbench run:
#   pingpong -c 1 -s 64, pingpong -c 50 -s 64, churn -c 8 -s 64, bulk.
# Printed (by `sockbench report`, from the runs recorded as JSON lines): the
# median over the rounds of requests/s (bulk: MB/s) and of p99 latency, each
# server's ratio to sockd, and the server's CPU time per request (bulk: per
# MB): user+system time of the server and of all its descendants, read before
# and after each run once the server is idle again (`sockbench cpu PID`, which
# waits until no child is left, so none is lost between the two). (A server
# that ignores SIGCHLD has its children reaped by the kernel, and their time
# is lost to /proc: when the cpuacct cgroup is writable (root), each server
# runs in a cgroup of its own and its cpuacct.usage, which counts every
# process in it, is used instead; the table says which.)
#
# Knobs (environment):
#   BENCH_SECS=3       seconds per run
#   BENCH_ROUNDS=3     rounds
#   BENCH_SERVERS="sockd tokio socat ncat tcpserver"
#   BENCH_LOADS="pingpong1 pingpong50 churn8 bulk"
#   BENCH_HOLD=10000   connections for the idle-connection RSS check (0: skip)
#   BENCH_SOCKD_ARGS=""  extra sockd flags (e.g. "--threads 1")
#   BENCH_GEN_THREADS=1  sockbench load threads for pingpong and churn (on a
#                      2-CPU machine more threads compete with the server)
#   BENCH_CPU=auto     auto | proc | cgroup
#   BENCH_RAW=FILE     keep every run's record (JSON lines: round, load,
#                      server, server_cpu_us and sockbench's --json object) in FILE
# Then, for sockd and tokio only (the others fork a process per connection),
# `sockbench hold`: BENCH_HOLD connections that each echo once, sit idle, and
# echo once more; the server's peak VmRSS meanwhile is reported.
# Defaults take about 5 servers x 4 loads x 3 rounds x (3 s + ~2 s) = 5 min,
# plus under a minute for the hold check.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${BENCH_SECS:-3}
hold=${BENCH_HOLD:-10000}
gen_threads=${BENCH_GEN_THREADS:-1}
rounds=${BENCH_ROUNDS:-3}
servers_wanted=${BENCH_SERVERS:-"sockd tokio socat ncat tcpserver"}
loads=${BENCH_LOADS:-"pingpong1 pingpong50 churn8 bulk"}
sockd_args=${BENCH_SOCKD_ARGS:-}
if [ -n "$sockd_args" ]; then sockd_args="$sockd_args "; fi
cpu_source=${BENCH_CPU:-auto}

# Room for BENCH_HOLD connections, in sockbench and in the servers it starts.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

target=${CARGO_TARGET_DIR:-target}
echo "building (release): sockkit, bench/tokio-echo" >&2
cargo build --quiet --release --bin sockd --bin sockbench
if [[ " $servers_wanted " == *" tokio "* ]]; then
  cargo build --quiet --release --manifest-path bench/tokio-echo/Cargo.toml \
    --target-dir "$target/tokio-echo"
fi
sockbench=$target/release/sockbench
sockd=$target/release/sockd
tokio_echo=$target/tokio-echo/release/tokio-echo

work=$(mktemp -d)
raw=$work/runs.jsonl
holds=$work/holds.jsonl
declare -A pid_of=() port_of=() cgroup_of=()
servers=()

cleanup() {
  local name pid child
  for name in "${!pid_of[@]}"; do
    pid=${pid_of[$name]}
    # Whatever the server forked that is still around, then the server.
    for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
      kill "$child" 2>/dev/null || true
    done
    kill "$pid" 2>/dev/null || true
  done
  for name in "${!pid_of[@]}"; do
    wait "${pid_of[$name]}" 2>/dev/null || true
  done
  for name in "${!cgroup_of[@]}"; do
    # Bounded: a killed server's last children may take a moment to go.
    for _ in $(seq 1 100); do
      rmdir "${cgroup_of[$name]}" 2>/dev/null && break
      sleep 0.02
    done
  done
  if [ -n "${BENCH_RAW:-}" ] && [ -f "$raw" ]; then cp "$raw" "$BENCH_RAW"; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- CPU accounting ---------------------------------------------------------

cgroup_root=/sys/fs/cgroup/cpuacct
if [ "$cpu_source" = auto ]; then
  cpu_source=proc
  probe=$cgroup_root/sockbench-probe-$$
  if [ -w "$cgroup_root" ] && mkdir "$probe" 2>/dev/null; then
    rmdir "$probe"
    cpu_source=cgroup
  fi
fi

# Microseconds of CPU used so far by server $1 (its process tree, or its
# cgroup); `sockbench cpu` first waits (at most 3 s) until the server has no
# child left, so that a fork server's children from the last run are reaped
# and counted. A server that died counts 0 (its runs fail and say so).
server_cpu_us() {
  local name=$1 tree
  tree=$("$sockbench" cpu "${pid_of[$name]}") || tree=0
  if [ -n "${cgroup_of[$name]:-}" ]; then
    echo $(($(cat "${cgroup_of[$name]}/cpuacct.usage") / 1000))
  else
    echo "$tree"
  fi
}

# --- servers ----------------------------------------------------------------

wait_for_port_file() {
  local file=$1 pid=$2
  for _ in $(seq 1 1000); do
    [ -s "$file" ] && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.01
  done
  return 1
}

# Bounded: until a connection to 127.0.0.1:$1 succeeds.
wait_for_listener() {
  local port=$1 pid=$2
  for _ in $(seq 1 500); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.01
  done
  return 1
}

# Runs "$@" as server $name, in its own cgroup when CPU comes from cgroups.
start() {
  local name=$1
  shift
  if [ "$cpu_source" = cgroup ]; then
    local group=$cgroup_root/sockbench-$$-$name
    mkdir "$group"
    cgroup_of[$name]=$group
    # The subshell joins the cgroup, then becomes the server.
    (echo "$BASHPID" >"$group/cgroup.procs" && exec "$@") \
      >"$work/$name.out" 2>"$work/$name.err" &
  else
    "$@" >"$work/$name.out" 2>"$work/$name.err" &
  fi
  pid_of[$name]=$!
}

note() { echo "note: $*" >&2; }

for name in $servers_wanted; do
  case $name in
    sockd)
      if [ ! -x "$sockd" ]; then note "sockd: not built, skipped"; continue; fi
      # shellcheck disable=SC2086 # BENCH_SOCKD_ARGS is a list of flags
      start sockd "$sockd" -q ${sockd_args}--port-file "$work/sockd.port" 127.0.0.1 0
      wait_for_port_file "$work/sockd.port" "${pid_of[sockd]}" ||
        { note "sockd did not start: $(cat "$work/sockd.err")"; exit 1; }
      port_of[sockd]=$(cat "$work/sockd.port")
      ;;
    tokio)
      if [ ! -x "$tokio_echo" ]; then note "tokio: not built, skipped"; continue; fi
      start tokio "$tokio_echo" 127.0.0.1 0 "$work/tokio.port"
      wait_for_port_file "$work/tokio.port" "${pid_of[tokio]}" ||
        { note "tokio-echo did not start: $(cat "$work/tokio.err")"; exit 1; }
      port_of[tokio]=$(cat "$work/tokio.port")
      ;;
    socat | ncat | tcpserver)
      if ! command -v "$name" >/dev/null 2>&1; then
        note "$name: not installed, skipped"
        continue
      fi
      # These take a port and cannot report one: ask for one that was free.
      port=$("$sockbench" free-port)
      case $name in
        socat) start socat socat "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr" PIPE ;;
        ncat) start ncat ncat -lk --exec /bin/cat 127.0.0.1 "$port" ;;
        # -c 100: room for pingpong's 50 connections (the default is 40);
        # -H -R -l 0: no DNS or ident look-ups per connection.
        tcpserver) start tcpserver tcpserver -q -H -R -l 0 -c 100 127.0.0.1 "$port" cat ;;
      esac
      wait_for_listener "$port" "${pid_of[$name]}" ||
        { note "$name did not start: $(cat "$work/$name.err")"; exit 1; }
      port_of[$name]=$port
      ;;
    *) note "unknown server $name, skipped"; continue ;;
  esac
  servers+=("$name")
done
[ ${#servers[@]} -gt 0 ] || { note "no server to measure"; exit 1; }

# --- runs -------------------------------------------------------------------

load_args() {
  case $1 in
    pingpong1) echo "pingpong -c 1 -s 64" ;;
    pingpong50) echo "pingpong -c 50 -s 64 --threads $gen_threads" ;;
    churn8) echo "churn -c 8 -s 64 --threads $gen_threads" ;;
    bulk) echo "bulk" ;;
    *) return 1 ;;
  esac
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$raw"
total_runs=$((rounds * $(wc -w <<<"$loads") * ${#servers[@]}))
run=0
failed=0
for round in $(seq 1 "$rounds"); do
  for load in $loads; do
    args=$(load_args "$load") || { note "unknown load $load"; exit 1; }
    for name in "${servers[@]}"; do
      run=$((run + 1))
      if [ -t 2 ]; then
        printf '\r[%d/%d] round %d %-10s %-9s' "$run" "$total_runs" "$round" "$load" "$name" >&2
      fi
      before=$(server_cpu_us "$name")
      # shellcheck disable=SC2086 # $args is the load's flag list
      if ! out=$("$sockbench" $args 127.0.0.1 "${port_of[$name]}" -d "$secs" --wait 5 --json 2>"$work/sockbench.err"); then
        note "$name $load: sockbench failed: $(head -c 300 "$work/sockbench.err")"
        failed=$((failed + 1))
      fi
      after=$(server_cpu_us "$name")
      # sockbench's --json is one object on one line, or nothing.
      printf '{"round":%d,"load":"%s","server":"%s","server_cpu_us":%d,"run":%s}\n' \
        "$round" "$load" "$name" "$((after - before))" "${out:-null}" >>"$raw"
    done
  done
done
if [ -t 2 ]; then printf '\r%60s\r' '' >&2; fi

# --- table ------------------------------------------------------------------

echo "sockbench on $(nproc) CPUs, $rounds rounds x ${secs}s per run, $gen_threads load thread(s); medians; CPU from $cpu_source"
echo "+-: half the range of the rounds' rates, relative to the median (noise); load average before/after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg)"
echo "x sockd: ratio to sockd within each round, median over the rounds (rate: higher is better; CPU: lower is better)"
echo "gen CPU: sockbench's own, % of one core"
echo "servers:"
for name in "${servers[@]}"; do
  case $name in
    sockd) echo "  sockd      sockd -q ${sockd_args}127.0.0.1 0 (--threads default: usable CPUs)" ;;
    tokio) echo "  tokio      bench/tokio-echo 127.0.0.1 0 (multi-threaded runtime, $(nproc) workers)" ;;
    socat) echo "  socat      socat TCP-LISTEN:P,bind=127.0.0.1,fork,reuseaddr PIPE" ;;
    ncat) echo "  ncat       ncat -lk --exec /bin/cat 127.0.0.1 P" ;;
    tcpserver) echo "  tcpserver  tcpserver -q -H -R -l 0 -c 100 127.0.0.1 P cat" ;;
  esac
done
"$sockbench" report "$raw"
# --- idle connections: memory --------------------------------------------------

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

if [ "$hold" -gt 0 ]; then
  echo
  echo "idle connections: sockbench hold -c $hold -s 64 -d $((secs + 2)) (each echoes once, idles, echoes again); server RSS"
  : >"$holds"
  if [ $(($(ulimit -n) - 64)) -lt "$hold" ]; then
    note "hold: RLIMIT_NOFILE $(ulimit -n) is below $hold connections, skipped"
  else
    for name in "${servers[@]}"; do
      case $name in sockd | tokio) ;; *) continue ;; esac
      pid=${pid_of[$name]}
      base=$(rss_kib "$pid")
      peak=$base
      "$sockbench" hold 127.0.0.1 "${port_of[$name]}" -c "$hold" -s 64 -d $((secs + 2)) --json \
        >"$work/hold.json" 2>"$work/hold.err" &
      holder=$!
      # Bounded by sockbench's own: -d, plus at most 10 s (set-up, last round, drain).
      while kill -0 "$holder" 2>/dev/null; do
        rss=$(rss_kib "$pid")
        [ "$rss" -gt "$peak" ] && peak=$rss
        sleep 0.1
      done
      wait "$holder" || { note "$name hold: sockbench failed: $(head -c 300 "$work/hold.err")"; failed=$((failed + 1)); }
      out=$(cat "$work/hold.json")
      printf '{"server":"%s","connections":%d,"rss_before_kib":%d,"rss_peak_kib":%d,"run":%s}\n' \
        "$name" "$hold" "$base" "$peak" "${out:-null}" >>"$holds"
    done
  fi
  "$sockbench" report --hold "$holds"
fi

if [ "$failed" -gt 0 ]; then
  note "$failed runs failed (see above)"
  exit 1
fi
