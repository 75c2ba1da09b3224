#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The receiver's kernel memory, by hand as root (not in CI):
#   - bytes per held connection: the growth of the kernel's slabs while N connections are held,
#     divided by N, with and without the receiver, for connections carrying a TOA (200/8: an IPv4
#     client; 253/20: a NAT64 client) and carrying none. Client and server run on this host (two
#     network namespaces), so a row counts both ends; "the receiver's cost" is with minus without.
#   - bytes fixed per load: what the kernel charges for the receiver's maps (bpftool's
#     bytes_memlock), before any connection.
#   - the records' own bytes per held connection: what the kernel charges the connections map for its
#     entries (bytes_memlock while held minus before), exact where the slabs move with other work.
#     Socket storage (the records beyond the map, or a receiver without it) has no such figure.
# The TOAs are written by the sender (bpf/sender.bpf.c) attached to the clients' cgroup, whose cost
# per backend connection comes last: a row carrying a TOA minus the row carrying none, both without
# the receiver (only the clients differ), and what the kernel charges its connections map likewise.
#
#   bench/receiver/memory.sh [connections=16000] [rounds=3]
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
n=${1:-16000}; rounds=${2:-3}
. "$root/bench/receiver/hosts.sh"
# Each process holds a descriptor per connection: the client all of them, the server all of them.
ulimit -n $(( n + 256 )) 2>/dev/null ||
  { echo "memory.sh: $n connections need $(( n + 256 )) descriptors a process, the limit is $(ulimit -Hn)" >&2; exit 2; }

# The load's own bytes: every map it pinned (the links' pins are not maps), before any connection.
maps=0; each=""
while read -r pin; do
  bytes=$(bpftool -j map show pinned "$pin" 2>/dev/null | python3 -c 'import json, sys; print(json.load(sys.stdin)["bytes_memlock"])' 2>/dev/null) || continue
  maps=$(( maps + bytes )); each+="$(basename "$pin") $bytes"$'\n'
done < <(find "$pins" -type f)
echo "memory: $(nproc) CPUs, kernel $(uname -r), commit $(git -C "$root" rev-parse --short HEAD), $n connections held per row, $rounds rounds"
echo "fixed per load: $maps B, map by map:"
sort -k2 -nr <<< "$each" | sed '/^$/d; s/^/  /'

# What the kernel charges for a pinned map, in bytes; 0 when there is none.
memlock() { bpftool -j map show pinned "$1" 2>/dev/null | python3 -c 'import json, sys; print(json.load(sys.stdin)["bytes_memlock"])' 2>/dev/null || echo 0; }
# The caches a connection, its socket and a record live in.
slab() { awk 'NR > 2 && $1 ~ /^(kmalloc-|TCP|request_sock|sock_inode|skbuff|bpf)/ {s += $2 * $4} END {printf "%d", s}' /proc/slabinfo; }
# held SERVER_CGROUP MODE PORT: bytes per connection while n connections are held
held() {
  local cg=$1 mode=$2 port=$3 fifo="$work/in.$port" out="$work/out.$port" before after server client fd
  run_in s "$cg" "$work/stress_server" -H $port > /dev/null 2>&1 & server=$!
  wait_listen $port
  mkfifo "$fifo"; sync; sleep 1; before=$(slab); local map0 map1 sent0 sent1
  map0=$(memlock "$pins/connections"); sent0=$(memlock "$sender_pins/maps/toa_send_conns")
  run_in c "$client_cg" "$work/stress_client" -H -t 10.202.1.2 -p $port -n "$n" -m "$mode" -c 128 -T 600 < "$fifo" > "$out" 2>&1 &
  client=$!; exec {fd}> "$fifo"
  for _ in $(seq 600); do grep -q '^held' "$out" && break; sleep 0.5; done
  sleep 1; after=$(slab); map1=$(memlock "$pins/connections"); sent1=$(memlock "$sender_pins/maps/toa_send_conns")
  exec {fd}>&-; wait $client; kill -TERM $server 2>/dev/null; wait $server 2>/dev/null
  # Every connection held, its claim honoured (with the receiver) or not (without), else the row means nothing.
  local ok=$n; [ "$cg" = "$without_cg" ] && [ "$mode" != self ] && ok=0
  if ! grep -q "^held sent $n connected $n ok $ok " "$out"; then
    echo "  (port $port, $mode, left out: $(grep '^held' "$out" || echo "not all held"))" >&2
    return
  fi
  [ "$cg" = "$with_cg" ] && records[$mode]="${records[$mode]:-} $(( (map1 - map0) / n ))"
  [ "$cg" = "$without_cg" ] && sent[$mode]="${sent[$mode]:-} $(( (sent1 - sent0) / n ))"
  echo $(( (after - before) / n ))
}

declare -A sum=() records=() sent=(); port=9600
for round in $(seq "$rounds"); do
  for mode in v4 v6 self; do
    for side in without with; do
      cg=$without_cg; [ $side = with ] && cg=$with_cg
      held "$cg" "$mode" $port > "$work/held"; b=$(cat "$work/held"); port=$(( port + 1 )); sum[$mode.$side]="${sum[$mode.$side]:-} ${b:-?}"
    done
  done
done
# Other work on the machine moves the slabs too: the median of the rounds' differences resists it.
# median "A B ..." "C D ...": the median of the rounds' differences A - C, B - D, ...
median() {
  awk -v w="$1" -v o="$2" 'BEGIN {
    m = split(w, a); split(o, b); for (i = 1; i <= m; i++) if (a[i] != "?" && b[i] != "?") d[++n] = a[i] - b[i]
    if (!n) { printf "?"; exit }
    for (i = 2; i <= n; i++) for (j = i; j > 1 && d[j - 1] > d[j]; j--) { t = d[j]; d[j] = d[j - 1]; d[j - 1] = t }
    printf "%d", (n % 2) ? d[(n + 1) / 2] : (d[n / 2] + d[n / 2 + 1]) / 2 }'
}
printf '%-34s %-24s %-24s %s\n' "bytes per held connection" "with the receiver" "without" "the receiver's cost (median)"
for mode in v4 v6 self; do
  printf '%-34s %-24s %-24s %s B\n' "$(mode_text $mode)" "${sum[$mode.with]# }" "${sum[$mode.without]# }" "$(median "${sum[$mode.with]}" "${sum[$mode.without]}")"
done
printf '%-34s %s\n' "records' bytes per held connection" "(the connections map's charge, round by round)"
for mode in v4 v6 self; do printf '%-34s %s B\n' "$(mode_text $mode)" "${records[$mode]# }"; done
printf '%-34s %-24s %s\n' "the sender's bytes per connection" "(median, without minus no TOA)" "its connections map's charge, round by round"
for mode in v4 v6; do
  printf '%-34s %-30s %s B\n' "$(mode_text $mode)" "$(median "${sum[$mode.without]}" "${sum[self.without]}") B" "${sent[$mode]# }"
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
