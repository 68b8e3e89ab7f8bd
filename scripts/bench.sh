#!/usr/bin/env bash
# sockd against the echo servers a user would otherwise pick, measured by
# sockbench, per transport:
#   TCP:  a tokio echo server (bench/tokio-echo), socat, ncat, tcpserver;
#   UDP:  a C recvfrom/sendto loop (bench/udp-echo: the floor, built here
#         with cc -O2), socat UDP-RECVFROM;
#   unix: socat UNIX-LISTEN.
# sockd-delay1 is sockd with --delay 1, run on pingpong50 and udp50 only:
# the cost of the faults' timers. sockd-fwd (sockd --forward) and socat-fwd
# (socat TCP-LISTEN:P,fork,reuseaddr TCP:127.0.0.1:UP) relay to the TCP
# sockd instance (the upstream; its own rows are "direct"), on pingpong50
# and bulk only. Each missing one is skipped with a note. sockd's UDP and unix rows appear
# once `sockd -u` / `sockd -U` start (it is tried; a sockd that cannot is
# noted and its rows skipped).
#
# For every round, every load and every server that speaks the load's
# transport (interleaved, so a slow drift of the machine touches all servers
# alike), one sockbench run:
#   TCP:  pingpong -c 1 -s 64, pingpong -c 50 -s 64, churn -c 8 -s 64, bulk;
#   UDP:  pingpong -u -c 1 -s 64, pingpong -u -c 50 -s 64;
#   unix: pingpong -U -c 1 -s 64, bulk -U.
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
#   BENCH_SERVERS="sockd sockd-delay1 sockd-fwd socat-fwd tokio socat ncat tcpserver udp-echo"
#   BENCH_LOADS="pingpong1 pingpong50 churn8 bulk udp1 udp50 unix1 unix50 unixbulk"
#   BENCH_HOLD=10000   connections for the idle-connection RSS check (0: skip)
#   BENCH_SOCKD_ARGS=""  extra sockd flags (e.g. "--threads 1")
#   BENCH_GEN_THREADS=1  sockbench load threads for pingpong and churn (on a
#                      2-CPU machine more threads compete with the server)
#   BENCH_CPU=auto     auto | proc | cgroup
#   BENCH_RAW=FILE     keep every run's record (JSON lines: round, load,
#                      server, server_cpu_us and sockbench's --json object) in FILE
# Then, when both sockd and sockd-delay1 ran pingpong50 (udp50), the cost
# of the timer structure: the delay alone allows 50 / (1 ms + the plain
# sockd's mean round trip in the same round) requests/s; printed is what
# sockd --delay 1 reached of that, per round and the median.
# Then, when sockd-fwd ran beside sockd (and socat-fwd), the forwarding
# figures per round and their medians: bulk MB/s against socat-fwd's (the
# aim: 1.5x) and against direct (0.7x); pingpong50 req/s against
# socat-fwd's (2x) and the relay's CPU per request against plain sockd's
# echo (at most 2.2x: two sockets for one), measured twice: against the
# plain sockd's own pingpong50 run (at its own, higher rate, where each
# epoll wakeup carries more requests), and against the relay's upstream,
# the same plain sockd serving the relay's very requests in the same run.
# Then, for sockd and tokio over TCP only (the others fork a process per
# connection), `sockbench hold`: BENCH_HOLD connections that each echo once,
# sit idle, and echo once more; the server's peak VmRSS meanwhile is reported.
# Defaults take about 11 server-transports x their loads x 3 rounds x
# (3 s + ~2 s) = 8 min, plus under a minute for the hold check.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${BENCH_SECS:-3}
hold=${BENCH_HOLD:-10000}
gen_threads=${BENCH_GEN_THREADS:-1}
rounds=${BENCH_ROUNDS:-3}
servers_wanted=${BENCH_SERVERS:-"sockd sockd-delay1 sockd-fwd socat-fwd tokio socat ncat tcpserver udp-echo"}
loads=${BENCH_LOADS:-"pingpong1 pingpong50 churn8 bulk udp1 udp50 unix1 unix50 unixbulk"}
sockd_args=${BENCH_SOCKD_ARGS:-}
if [ -n "$sockd_args" ]; then sockd_args="$sockd_args "; fi
cpu_source=${BENCH_CPU:-auto}

# Room for BENCH_HOLD connections, in sockbench and in the servers it starts.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

target=${CARGO_TARGET_DIR:-target}
echo "building (release): sockkit, bench/tokio-echo, bench/udp-echo" >&2
cargo build --quiet --release --bin sockd --bin sockbench
if [[ " $servers_wanted " == *" tokio "* ]]; then
  cargo build --quiet --release --manifest-path bench/tokio-echo/Cargo.toml \
    --target-dir "$target/tokio-echo"
fi
sockbench=$target/release/sockbench
sockd=$target/release/sockd
tokio_echo=$target/tokio-echo/release/tokio-echo
udp_echo=$target/udp-echo/udp-echo
if [[ " $servers_wanted " == *" udp-echo "* ]] && command -v cc >/dev/null 2>&1; then
  mkdir -p "$target/udp-echo"
  cc -O2 -Wall -o "$udp_echo" bench/udp-echo/udp-echo.c
fi

work=$(mktemp -d)
raw=$work/runs.jsonl
holds=$work/holds.jsonl
# Each server runs once per transport it speaks: an instance, NAME:TRANSPORT.
declare -A pid_of=() target_of=() cgroup_of=() shown_as=()
instances=()

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

# Until "$@" succeeds, tried every 10 ms at most $2 times, while process $1
# lives.
wait_until() {
  local pid=$1 tries=$2
  shift 2
  for _ in $(seq 1 "$tries"); do
    "$@" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.01
  done
  return 1
}

wait_for_port_file() { wait_until "$2" 1000 test -s "$1"; }

connects_to() { (exec 3<>"/dev/tcp/127.0.0.1/$1"); }

# Until a connection to 127.0.0.1:$1 succeeds.
wait_for_listener() { wait_until "$2" 500 connects_to "$1"; }

# Until a unix socket file appears at $1.
wait_for_socket() { wait_until "$2" 500 test -S "$1"; }

# Runs "$@" as server instance $name (NAME:TRANSPORT), in its own cgroup
# when CPU comes from cgroups.
start() {
  local name=$1
  shift
  if [ "$cpu_source" = cgroup ]; then
    local group=$cgroup_root/sockbench-$$-${name//:/-}
    mkdir "$group"
    cgroup_of[$name]=$group
    # The subshell joins the cgroup, then becomes the server.
    (echo "$BASHPID" >"$group/cgroup.procs" && exec "$@") \
      >"$work/${name//:/-}.out" 2>"$work/${name//:/-}.err" &
  else
    "$@" >"$work/${name//:/-}.out" 2>"$work/${name//:/-}.err" &
  fi
  pid_of[$name]=$!
}

note() { echo "note: $*" >&2; }

err_of() { cat "$work/${1//:/-}.err"; }

transport_of() {
  case $1 in
    pingpong1 | pingpong50 | churn8 | bulk) echo tcp ;;
    udp1 | udp50) echo udp ;;
    unix1 | unix50 | unixbulk) echo unix ;;
    *) return 1 ;;
  esac
}

# The transports the loads use, in the order they first appear.
transports=()
for load in $loads; do
  transport=$(transport_of "$load") || { note "unknown load $load"; exit 1; }
  [[ " ${transports[*]} " == *" $transport "* ]] || transports+=("$transport")
done

# Starts server $1 for transport $2, if it speaks it and is there; records
# how sockbench reaches it (target_of) and how the table names it. A sockd
# that cannot serve the transport yet is a note, not a failure; any other
# server that does not start is a failure.
start_instance() {
  local name=$1 transport=$2 key=$1:$2 port path
  case $key in
    sockd:* | sockd-delay1:*)
      if [ ! -x "$sockd" ]; then note "sockd: not built, skipped"; return 1; fi
      local flags=() fault=""
      if [ "$name" = sockd-delay1 ]; then fault="--delay 1 "; fi
      case $transport in
        tcp) flags=(127.0.0.1 0) ;;
        udp) flags=(-u 127.0.0.1 0) ;;
        unix) path=$work/sockd.sock; flags=(-U "$path") ;;
      esac
      # shellcheck disable=SC2086 # BENCH_SOCKD_ARGS is a list of flags
      start "$key" "$sockd" -q ${sockd_args}${fault}--port-file "$work/$name-$transport.port" "${flags[@]}"
      if ! wait_for_port_file "$work/$name-$transport.port" "${pid_of[$key]}"; then
        if [ "$transport" = tcp ]; then note "sockd did not start: $(err_of "$key")"; exit 1; fi
        note "sockd ${flags[0]} does not serve $transport here, its rows skipped: $(err_of "$key" | head -n 1)"
        return 1
      fi
      case $transport in
        unix) target_of[$key]="-U $path" ;;
        *) target_of[$key]="127.0.0.1 $(cat "$work/$name-$transport.port")" ;;
      esac
      local threads="usable CPUs"
      if [ "$transport" = udp ]; then threads=1; fi
      shown_as[$key]="sockd -q ${sockd_args}${fault}${flags[*]} (--threads default: $threads)"
      ;;
    sockd-fwd:tcp | socat-fwd:tcp)
      # Both relay to the TCP sockd, started before them.
      if [ -z "${target_of[sockd:tcp]:-}" ]; then note "$name: no sockd upstream, skipped"; return 1; fi
      local up=${target_of[sockd:tcp]#* }
      if [ "$name" = sockd-fwd ]; then
        # shellcheck disable=SC2086 # BENCH_SOCKD_ARGS is a list of flags
        start "$key" "$sockd" -q ${sockd_args}--forward "127.0.0.1:$up" --port-file "$work/fwd.port" 127.0.0.1 0
        wait_for_port_file "$work/fwd.port" "${pid_of[$key]}" ||
          { note "sockd --forward did not start: $(err_of "$key")"; exit 1; }
        target_of[$key]="127.0.0.1 $(cat "$work/fwd.port")"
        shown_as[$key]="sockd -q ${sockd_args}--forward 127.0.0.1:UP 127.0.0.1 0 (UP: the sockd tcp row)"
      else
        if ! command -v socat >/dev/null 2>&1; then note "socat: not installed, skipped"; return 1; fi
        port=$("$sockbench" free-port)
        start "$key" socat "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr" "TCP:127.0.0.1:$up"
        wait_for_listener "$port" "${pid_of[$key]}" ||
          { note "socat-fwd did not start: $(err_of "$key")"; exit 1; }
        target_of[$key]="127.0.0.1 $port"
        shown_as[$key]="socat TCP-LISTEN:P,bind=127.0.0.1,fork,reuseaddr TCP:127.0.0.1:UP"
      fi
      ;;
    tokio:tcp)
      if [ ! -x "$tokio_echo" ]; then note "tokio: not built, skipped"; return 1; fi
      start "$key" "$tokio_echo" 127.0.0.1 0 "$work/tokio.port"
      wait_for_port_file "$work/tokio.port" "${pid_of[$key]}" ||
        { note "tokio-echo did not start: $(err_of "$key")"; exit 1; }
      target_of[$key]="127.0.0.1 $(cat "$work/tokio.port")"
      shown_as[$key]="bench/tokio-echo 127.0.0.1 0 (multi-threaded runtime, $(nproc) workers)"
      ;;
    udp-echo:udp)
      if [ ! -x "$udp_echo" ]; then note "udp-echo: not built (no cc?), skipped"; return 1; fi
      start "$key" "$udp_echo" 127.0.0.1 0 "$work/udp-echo.port"
      wait_for_port_file "$work/udp-echo.port" "${pid_of[$key]}" ||
        { note "udp-echo did not start: $(err_of "$key")"; exit 1; }
      target_of[$key]="127.0.0.1 $(cat "$work/udp-echo.port")"
      shown_as[$key]="bench/udp-echo 127.0.0.1 0 (cc -O2; one thread, blocking recvfrom/sendto)"
      ;;
    socat:* | ncat:tcp | tcpserver:tcp)
      if ! command -v "$name" >/dev/null 2>&1; then
        note "$name: not installed, skipped"
        return 1
      fi
      # These take a port and cannot report one: ask for one that was free.
      case $transport in
        tcp) port=$("$sockbench" free-port) ;;
        udp) port=$("$sockbench" free-port -u) ;;
        unix) path=$work/socat.sock ;;
      esac
      case $key in
        socat:tcp) shown_as[$key]="socat TCP-LISTEN:P,bind=127.0.0.1,fork,reuseaddr PIPE"
          start "$key" socat "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr" PIPE ;;
        socat:udp) shown_as[$key]="socat UDP-RECVFROM:P,bind=127.0.0.1,fork PIPE"
          start "$key" socat "UDP-RECVFROM:$port,bind=127.0.0.1,fork" PIPE ;;
        socat:unix) shown_as[$key]="socat UNIX-LISTEN:PATH,fork PIPE"
          start "$key" socat "UNIX-LISTEN:$path,fork" PIPE ;;
        ncat:tcp) shown_as[$key]="ncat -lk --exec /bin/cat 127.0.0.1 P"
          start "$key" ncat -lk --exec /bin/cat 127.0.0.1 "$port" ;;
        # -c 100: room for pingpong's 50 connections (the default is 40);
        # -H -R -l 0: no DNS or ident look-ups per connection.
        tcpserver:tcp) shown_as[$key]="tcpserver -q -H -R -l 0 -c 100 127.0.0.1 P cat"
          start "$key" tcpserver -q -H -R -l 0 -c 100 127.0.0.1 "$port" cat ;;
      esac
      case $transport in
        tcp) wait_for_listener "$port" "${pid_of[$key]}" ;;
        # Nothing to connect to: the first run's --wait resends until it answers.
        udp) kill -0 "${pid_of[$key]}" 2>/dev/null ;;
        unix) wait_for_socket "$path" "${pid_of[$key]}" ;;
      esac || { note "$name ($transport) did not start: $(err_of "$key")"; exit 1; }
      case $transport in
        unix) target_of[$key]="-U $path" ;;
        *) target_of[$key]="127.0.0.1 $port" ;;
      esac
      ;;
    *) return 1 ;;
  esac
}

for transport in "${transports[@]}"; do
  for name in $servers_wanted; do
    case $name in
      sockd | sockd-delay1 | tokio | socat | ncat | tcpserver | udp-echo) ;;
      sockd-fwd | socat-fwd) [ "$transport" = tcp ] || continue ;;
      *) [ "$transport" = "${transports[0]}" ] && note "unknown server $name, skipped"; continue ;;
    esac
    # Its loads are pingpong50 and udp50 alone.
    if [ "$name:$transport" = sockd-delay1:unix ]; then continue; fi
    if start_instance "$name" "$transport"; then instances+=("$name:$transport"); fi
  done
done
[ ${#instances[@]} -gt 0 ] || { note "no server to measure"; exit 1; }

# --- runs -------------------------------------------------------------------

load_args() {
  case $1 in
    pingpong1) echo "pingpong -c 1 -s 64" ;;
    pingpong50) echo "pingpong -c 50 -s 64 --threads $gen_threads" ;;
    churn8) echo "churn -c 8 -s 64 --threads $gen_threads" ;;
    bulk) echo "bulk" ;;
    udp1) echo "pingpong -u -c 1 -s 64" ;;
    udp50) echo "pingpong -u -c 50 -s 64 --threads $gen_threads" ;;
    unix1) echo "pingpong -c 1 -s 64" ;;
    unix50) echo "pingpong -c 50 -s 64 --threads $gen_threads" ;;
    unixbulk) echo "bulk" ;;
    *) return 1 ;;
  esac
}

# The instances that serve load $1.
serving() {
  local transport instance
  transport=$(transport_of "$1")
  for instance in "${instances[@]}"; do
    case $instance:$1 in
      sockd-delay1:*:pingpong50 | sockd-delay1:*:udp50) ;;
      sockd-delay1:*) continue ;;
      *-fwd:*:pingpong50 | *-fwd:*:bulk) ;;
      *-fwd:*) continue ;;
    esac
    [ "${instance#*:}" = "$transport" ] && echo "$instance"
  done
  return 0
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$raw"
total_runs=0
for load in $loads; do total_runs=$((total_runs + rounds * $(serving "$load" | wc -l))); done
run=0
failed=0
for round in $(seq 1 "$rounds"); do
  for load in $loads; do
    args=$(load_args "$load")
    for instance in $(serving "$load"); do
      name=${instance%%:*}
      run=$((run + 1))
      if [ -t 2 ]; then
        printf '\r[%d/%d] round %d %-10s %-9s' "$run" "$total_runs" "$round" "$load" "$name" >&2
      fi
      before=$(server_cpu_us "$instance")
      # A relay's upstream serves the same requests in the same run: the
      # like-for-like echo to weigh the relay's CPU against.
      up_before=0
      case $name in *-fwd) up_before=$(server_cpu_us sockd:tcp) ;; esac
      # shellcheck disable=SC2086 # $args and the target are flag lists
      if ! out=$("$sockbench" $args ${target_of[$instance]} -d "$secs" --wait 5 --json 2>"$work/sockbench.err"); then
        note "$name $load: sockbench failed: $(head -c 300 "$work/sockbench.err")"
        failed=$((failed + 1))
      fi
      after=$(server_cpu_us "$instance")
      up_after=0
      case $name in *-fwd) up_after=$(server_cpu_us sockd:tcp) ;; esac
      # sockbench's --json is one object on one line, or nothing.
      printf '{"round":%d,"load":"%s","server":"%s","server_cpu_us":%d,"upstream_cpu_us":%d,"run":%s}\n' \
        "$round" "$load" "$name" "$((after - before))" "$((up_after - up_before))" "${out:-null}" >>"$raw"
    done
  done
done
if [ -t 2 ]; then printf '\r%60s\r' '' >&2; fi

# --- table ------------------------------------------------------------------

echo "sockbench on $(nproc) CPUs, $rounds rounds x ${secs}s per run, $gen_threads load thread(s); medians; CPU from $cpu_source"
echo "+-: half the range of the rounds' rates, relative to the median (noise); load average before/after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg)"
echo "x sockd: ratio to sockd within each round, median over the rounds (rate: higher is better; CPU: lower is better)"
echo "gen CPU: sockbench's own, % of one core"
echo "servers (loads: pingpong1/50, churn8, bulk over TCP; udp1/50 pingpong -u; unix1/50, unixbulk over -U):"
for instance in "${instances[@]}"; do
  printf '  %-10s %-5s %s\n' "${instance%%:*}" "${instance#*:}" "${shown_as[$instance]}"
done
"$sockbench" report "$raw"

# --- the cost of the faults' timers -------------------------------------------

# Field $1 (a number) of the run recorded for round $2, load $3, server $4.
run_field() {
  grep -F "\"round\":$2,\"load\":\"$3\",\"server\":\"$4\"," "$raw" |
    sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" | head -n 1
}

for load in pingpong50 udp50; do
  [[ " $loads " == *" $load "* ]] || continue
  both=" $(serving "$load" | tr '\n' ' ') "
  [[ $both == *" sockd:"* && $both == *" sockd-delay1:"* ]] || continue
  echo
  echo "the timers' cost, $load: sockd --delay 1 against what the delay allows, 50 / (1 ms + plain sockd's mean round trip)"
  ratios=()
  for round in $(seq 1 "$rounds"); do
    rtt=$(run_field mean "$round" "$load" sockd)
    got=$(run_field requests_per_sec "$round" "$load" sockd-delay1)
    if [ -z "$rtt" ] || [ -z "$got" ]; then continue; fi
    line=$(awk -v rtt="$rtt" -v got="$got" 'BEGIN {
      allowed = 50 / (0.001 + rtt / 1e6)
      printf "%.4f round trip %.1f us, allowed %.0f req/s, reached %.0f req/s: %.1f %%", got / allowed, rtt, allowed, got, 100 * got / allowed
    }')
    echo "  round $round: ${line#* }"
    ratios+=("${line%% *}")
  done
  if [ ${#ratios[@]} -gt 0 ]; then
    printf '%s\n' "${ratios[@]}" | sort -n | awk '{ r[NR] = $1 } END {
      m = (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
      printf "  median: %.1f %% of the rate the delay allows (the aim: at least 80 %%)\n", 100 * m
    }'
  fi
done
# --- forwarding -----------------------------------------------------------------

# The median of the numbers on stdin, or nothing.
median() {
  sort -n | awk '{ r[NR] = $1 } END {
    if (NR) printf "%.2f", (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
  }'
}

if [[ " ${instances[*]} " == *" sockd-fwd:tcp "* && " ${instances[*]} " == *" sockd:tcp "* ]]; then
  echo
  echo "forwarding: sockd --forward (fwd) and socat (socat) in front of the same sockd upstream; direct: sockbench to the upstream itself"
  fwd_socat=() fwd_direct=() pp_socat=() cpu_ratio=() cpu_ratio_up=()
  for round in $(seq 1 "$rounds"); do
    if [[ " $loads " == *" bulk "* ]]; then
      fwd=$(run_field mb_per_sec "$round" bulk sockd-fwd)
      direct=$(run_field mb_per_sec "$round" bulk sockd)
      socat_rate=$(run_field mb_per_sec "$round" bulk socat-fwd)
      if [ -n "$fwd" ] && [ -n "$direct" ]; then
        line="  round $round bulk: fwd $fwd MB/s, direct $direct MB/s ($(awk -v a="$fwd" -v b="$direct" 'BEGIN { printf "%.2fx", a / b }'))"
        fwd_direct+=("$(awk -v a="$fwd" -v b="$direct" 'BEGIN { print a / b }')")
        if [ -n "$socat_rate" ]; then
          line+=", socat $socat_rate MB/s ($(awk -v a="$fwd" -v b="$socat_rate" 'BEGIN { printf "%.2fx", a / b }'))"
          fwd_socat+=("$(awk -v a="$fwd" -v b="$socat_rate" 'BEGIN { print a / b }')")
        fi
        echo "$line"
      fi
    fi
    if [[ " $loads " == *" pingpong50 "* ]]; then
      fwd=$(run_field requests_per_sec "$round" pingpong50 sockd-fwd)
      socat_rate=$(run_field requests_per_sec "$round" pingpong50 socat-fwd)
      fwd_cpu=$(run_field server_cpu_us "$round" pingpong50 sockd-fwd)
      fwd_reqs=$(run_field requests "$round" pingpong50 sockd-fwd)
      echo_cpu=$(run_field server_cpu_us "$round" pingpong50 sockd)
      echo_reqs=$(run_field requests "$round" pingpong50 sockd)
      if [ -n "$fwd" ] && [ -n "$fwd_reqs" ] && [ -n "$echo_reqs" ]; then
        ratio=$(awk -v a="$fwd_cpu" -v n="$fwd_reqs" -v b="$echo_cpu" -v m="$echo_reqs" \
          'BEGIN { if (n > 0 && m > 0 && b > 0) print (a / n) / (b / m) }')
        line="  round $round pingpong50: fwd $fwd req/s, CPU $(awk -v a="$fwd_cpu" -v n="$fwd_reqs" 'BEGIN { printf "%.1f", a / n }') us/req"
        line+=" vs plain sockd's $(awk -v a="$echo_cpu" -v n="$echo_reqs" 'BEGIN { printf "%.1f", a / n }') us/req (${ratio:-?}x)"
        if [ -n "$ratio" ]; then cpu_ratio+=("$ratio"); fi
        up_cpu=$(run_field upstream_cpu_us "$round" pingpong50 sockd-fwd)
        up_ratio=$(awk -v a="$fwd_cpu" -v b="$up_cpu" 'BEGIN { if (b > 0) print a / b }')
        if [ -n "$up_ratio" ]; then
          line+=" or its upstream's $(awk -v a="$up_cpu" -v n="$fwd_reqs" 'BEGIN { printf "%.1f", a / n }') us/req in the same run ($(printf '%.2f' "$up_ratio")x)"
          cpu_ratio_up+=("$up_ratio")
        fi
        if [ -n "$socat_rate" ]; then
          line+=", socat $socat_rate req/s ($(awk -v a="$fwd" -v b="$socat_rate" 'BEGIN { printf "%.2fx", a / b }'))"
          pp_socat+=("$(awk -v a="$fwd" -v b="$socat_rate" 'BEGIN { print a / b }')")
        fi
        echo "$line"
      fi
    fi
  done
  summary() { # label, aim, values...
    local label=$1 aim=$2
    shift 2
    if [ $# -gt 0 ]; then echo "  median $label: $(printf '%s\n' "$@" | median)x (the aim: $aim)"; fi
  }
  summary "bulk fwd/socat" ">= 1.5x" "${fwd_socat[@]}"
  summary "bulk fwd/direct" ">= 0.7x" "${fwd_direct[@]}"
  summary "pingpong50 fwd/socat req/s" ">= 2x" "${pp_socat[@]}"
  summary "pingpong50 CPU per request fwd/plain echo" "<= 2.2x" "${cpu_ratio[@]}"
  summary "pingpong50 CPU per request fwd/its upstream echo, same requests" "<= 2.2x; the echo at the relay's rate, not its own" "${cpu_ratio_up[@]}"
fi

# --- idle connections: memory --------------------------------------------------

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

if [ "$hold" -gt 0 ]; then
  echo
  echo "idle connections: sockbench hold -c $hold -s 64 -d $((secs + 2)) (each echoes once, idles, echoes again); server RSS"
  : >"$holds"
  if [ $(($(ulimit -n) - 64)) -lt "$hold" ]; then
    note "hold: RLIMIT_NOFILE $(ulimit -n) is below $hold connections, skipped"
  else
    for instance in "${instances[@]}"; do
      case $instance in sockd:tcp | tokio:tcp) ;; *) continue ;; esac
      name=${instance%%:*}
      pid=${pid_of[$instance]}
      base=$(rss_kib "$pid")
      peak=$base
      # shellcheck disable=SC2086 # the target is a flag list
      "$sockbench" hold ${target_of[$instance]} -c "$hold" -s 64 -d $((secs + 2)) --json \
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
