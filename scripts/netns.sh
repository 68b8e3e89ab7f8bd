#!/usr/bin/env bash
# The lesson's "two machines on one LAN", on one host: two network
# namespaces joined by a veth pair, sockd in one, sockc in the other, over
# IPv4 (10.203.0.0/24) and IPv6 (fd00:203::/64), with a 64 MiB integrity
# check (cmp), then the same over a lossy link (tc netem: 5% loss, 20 ms
# delay each way; where the kernel lacks netem, 5% random drops through
# nftables when nft is installed). The addresses exist only inside the
# namespaces; everything is torn down on exit, failure or Ctrl-C.
#
#   sudo scripts/netns.sh            # debug binaries (cargo build)
#   sudo scripts/netns.sh --release  # release binaries
#
# Env: SIZE_MIB (default 64), NETEM_MIB (default 4).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=debug
build=(cargo build --bins)
if [ "${1:-}" = "--release" ]; then
    profile=release
    build+=(--release)
fi
size_mib=${SIZE_MIB:-64}
netem_mib=${NETEM_MIB:-4}

die() { echo "netns.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
command -v ip >/dev/null || die "needs ip (iproute2)"

"${build[@]}"
bin=$PWD/target/$profile
sockd=$bin/sockd
sockc=$bin/sockc

tag=$$
srv=sk-srv-$tag
cli=sk-cli-$tag
veth_srv=skv${tag}s
veth_cli=skv${tag}c
work=$(mktemp -d "${TMPDIR:-/tmp}/sockkit-netns.XXXXXX")
pids=()

cleanup() {
    local status=$?
    set +e
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    ip netns del "$srv" 2>/dev/null
    ip netns del "$cli" 2>/dev/null
    rm -rf "$work"
    if [ "$status" -eq 0 ]; then
        echo "netns.sh: torn down ($srv, $cli)"
    else
        echo "netns.sh: FAILED (exit $status); torn down ($srv, $cli)" >&2
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_srv() { ip netns exec "$srv" "$@"; }
in_cli() { ip netns exec "$cli" "$@"; }

ip netns add "$srv"
ip netns add "$cli"
ip link add "$veth_srv" netns "$srv" type veth peer name "$veth_cli" netns "$cli"
for ns in "$srv" "$cli"; do
    ip -n "$ns" link set lo up
done
# nodad: the addresses are usable at once instead of "tentative" for ~1 s.
ip -n "$srv" addr add 10.203.0.1/24 dev "$veth_srv"
ip -n "$cli" addr add 10.203.0.2/24 dev "$veth_cli"
ip -n "$srv" -6 addr add fd00:203::1/64 dev "$veth_srv" nodad
ip -n "$cli" -6 addr add fd00:203::2/64 dev "$veth_cli" nodad
ip -n "$srv" link set "$veth_srv" up
ip -n "$cli" link set "$veth_cli" up

# Bounded wait until no IPv6 address is tentative and the link is up.
for _ in $(seq 100); do
    if [ -z "$(ip -n "$srv" -6 addr show tentative)" ] &&
        [ -z "$(ip -n "$cli" -6 addr show tentative)" ] &&
        ip -n "$cli" link show "$veth_cli" | grep -q 'state UP'; then
        break
    fi
    sleep 0.05
done

# A server per address family; the port comes from --port-file.
start_server() { # IP NAME: sets $port
    local port_file=$work/$2.port
    in_srv "$sockd" -q "$1" 0 --port-file "$port_file" >/dev/null 2>"$work/$2.err" &
    pids+=($!)
    for _ in $(seq 200); do
        [ -s "$port_file" ] && break
        sleep 0.05
    done
    [ -s "$port_file" ] || die "sockd on $1 did not start: $(cat "$work/$2.err")"
    port=$(cat "$port_file")
}
start_server 10.203.0.1 v4
port4=$port
start_server fd00:203::1 v6
port6=$port
echo "netns.sh: sockd in $srv on 10.203.0.1:$port4 and [fd00:203::1]:$port6"

head -c $((size_mib * 1024 * 1024)) /dev/urandom >"$work/payload"

transfer() { # IP PORT LABEL
    local started elapsed_ms
    started=$(date +%s%N)
    in_cli "$sockc" --timeout 30 "$1" "$2" - <"$work/payload" >"$work/echo"
    elapsed_ms=$((($(date +%s%N) - started) / 1000000))
    cmp "$work/payload" "$work/echo" || die "$3: echo differs"
    echo "netns.sh: $3: $(stat -c %s "$work/echo") bytes from $cli to $1 and back, cmp equal (${elapsed_ms} ms)"
}

transfer 10.203.0.1 "$port4" "IPv4 ${size_mib} MiB"
transfer fd00:203::1 "$port6" "IPv6 ${size_mib} MiB"

# The lossy link: tc netem when the kernel has it (CONFIG_NET_SCH_NETEM),
# else 5% random drops with nftables on each side's input (no delay).
lossy=""
if command -v tc >/dev/null &&
    in_srv tc qdisc add dev "$veth_srv" root netem loss 5% delay 20ms 2>/dev/null; then
    in_cli tc qdisc add dev "$veth_cli" root netem loss 5% delay 20ms
    lossy="tc netem: 5% loss, 20 ms delay, each way"
elif command -v nft >/dev/null; then
    for ns in "$srv" "$cli"; do
        ip netns exec "$ns" nft -f - <<'NFT'
table inet sockkit_lossy {
    chain input {
        type filter hook input priority 0; policy accept;
        numgen random mod 100 < 5 counter drop
    }
}
NFT
    done
    lossy="nftables: 5% random loss each way (no netem in this kernel: no delay)"
fi
if [ -n "$lossy" ]; then
    # Segments of one MTU, so "5% of packets" means 5% of the wire's packets
    # rather than of 64 KiB GSO super-packets.
    ip -n "$srv" link set dev "$veth_srv" gso_max_size 1500 2>/dev/null || true
    ip -n "$cli" link set dev "$veth_cli" gso_max_size 1500 2>/dev/null || true
    echo "netns.sh: lossy link: $lossy"
    head -c $((netem_mib * 1024 * 1024)) /dev/urandom >"$work/payload"
    transfer 10.203.0.1 "$port4" "IPv4 ${netem_mib} MiB, lossy"
    transfer fd00:203::1 "$port6" "IPv6 ${netem_mib} MiB, lossy"
    if [ "${lossy#nftables}" != "$lossy" ]; then
        dropped=$(for ns in "$srv" "$cli"; do ip netns exec "$ns" nft list table inet sockkit_lossy; done |
            sed -n 's/.*counter packets \([0-9]*\).*/\1/p' | paste -sd+ | bc 2>/dev/null ||
            echo "?")
        echo "netns.sh: packets dropped by the lossy link: $dropped"
    fi
else
    echo "netns.sh: neither tc netem nor nft available: lossy-link run skipped"
fi
echo "netns.sh: all transfers intact"
