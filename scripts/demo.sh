#!/usr/bin/env bash
# The lesson's two-terminal session, unattended: a chat server answering from
# a script, the lesson's client typing from another, on a port the kernel picks.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release --bin sockd --bin sockc
bin=target/release
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Terminal 1: ./server 127.0.0.1 PORT, replying "hi, i got you" then "byebye".
printf 'hi, i got you\nbyebye\n' |
  "$bin/sockd" --chat 127.0.0.1 0 --port-file "$work/port" --exit-after 2 \
    >"$work/server.out" 2>"$work/server.err" &
server_pid=$!

# Wait for the port file, bounded: the server writes it once it listens.
for _ in $(seq 1 500); do
  [ -s "$work/port" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.err" >&2; exit 1; }
  sleep 0.01
done
port=$(cat "$work/port")

# Terminal 2: ./client 127.0.0.1 PORT, typing hi, bye, q.
printf 'hi\nbye\nq\n' | "$bin/sockc" 127.0.0.1 "$port" >"$work/client.out"
wait "$server_pid"
server_pid=

echo "\$ ./server 127.0.0.1 $port"
cat "$work/server.out"
echo
echo "\$ ./client 127.0.0.1 $port"
cat "$work/client.out"
