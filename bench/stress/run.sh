#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The receiver under hostile input, load and faults, at full size: run by hand as root, not in CI
# (tests/Toa.EndToEnd.Tests/Reliability runs the same properties scaled down). Each phase is bounded
# in count and time, prints its figures and checks its properties ("PASS"/"FAIL" lines); the exit
# code is 1 when one failed. Everything is removed at the end, also after a failure or Ctrl+C.
#
#   bench/stress/run.sh [PHASE...]     phases: spoof leak lb scale upgrade flood (default: all)
#
# TIME_WAIT=0 skips waiting (up to 75 s) for the server's TIME_WAIT sockets to expire before the
# slab and counter readings: the scaled-down CI run uses it (the slab readings leave them out anyway).
# Sizes (environment): SPOOF=5000 forged connections; LEAK=1000000 short connections (half NAT64);
# LB=200000 short connections through toa lb; SCALE=100000 connections held at once; UPGRADE=10000
# live connections across toa load --force and unload/load; FLOOD=300000 SYNs while REAL=5000 real
# clients connect.
#
# The hosts are network namespaces joined by veth links, with private addresses that exist only
# inside them:
#   c (clients, 10.201.1.1, .11-.18, fd00:201:1::1) -- s (server, 10.201.1.2, fd00:201:1::2)
#   x (untrusted, 10.201.2.1, fd00:201:2::1)        -- s (10.201.2.2, fd00:201:2::2)
#   c (10.201.3.1, fd00:201:3::1) -- b (toa lb, 10.201.3.2, fd00:201:3::2; 10.201.4.1) -- s (10.201.4.2)
# The receiver is loaded for a cgroup of the run's own with --trust 10.201.1.0/25 and 10.201.4.0/24:
# the clients' addresses and the balancer's; x, 10.201.1.200 and every IPv6 peer are untrusted.
# Clients write their TOAs with the sender (bpf/sender.bpf.c) attached to another cgroup of the run's.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
phases=("$@"); [ ${#phases[@]} -eq 0 ] && phases=(spoof leak lb scale upgrade flood)
SPOOF=${SPOOF:-5000} LEAK=${LEAK:-1000000} LB=${LB:-200000} SCALE=${SCALE:-100000}
UPGRADE=${UPGRADE:-10000} FLOOD=${FLOOD:-300000} REAL=${REAL:-5000}

# TOA names a built toa (the tests pass theirs); else the checkout's, built when needed.
if [ -z "${TOA:-}" ]; then "$root/toa" --version >/dev/null; fi
toa=${TOA:-$root/artifacts/toa/toa}
work=$(mktemp -d /tmp/toa-stress-XXXXXX)
for program in stress_client stress_server syn_flood; do
  gcc -O2 -Wall -Wextra -Werror -o "$work/$program" "$root/bench/stress/$program.c" || exit 1
done
clang -O2 -g -target bpf -mcpu=v3 -Wall -Werror -I/usr/include/"$(gcc -print-multiarch)" -I"$root/bpf" \
  -c "$root/bpf/sender.bpf.c" -o "$work/sender.bpf.o" || exit 1

tag=toa-stress-$$
cgroot=$(findmnt -t cgroup2 -n -o TARGET | head -1)
server_cg="$cgroot/$tag-server"; client_cg="$cgroot/$tag-client"
pins=/sys/fs/bpf/$tag; sender_pins=/sys/fs/bpf/$tag-sender
# The servers live in s: the receiver honours TOAs there (by default only in the loader's namespace).
settings=(--trust 10.201.1.0/25 --trust 10.201.4.0/24 --netns "/var/run/netns/$tag-s")
failed=0; pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  for n in c s x b; do ip netns del "$tag-$n" 2>/dev/null; done
  "$toa" unload --pin-dir "$pins" >/dev/null 2>&1
  # Removing the cgroup releases the sender bpftool attached to it.
  for cg in "$server_cg" "$client_cg"; do
    for _ in $(seq 50); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
  done
  rm -rf "$sender_pins" "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the hosts -------------------------------------------------------------------------------------
for n in c s x b; do ip netns add "$tag-$n"; ip -n "$tag-$n" link set lo up; done
veth() { # veth A_NS A_IF A_ADDRS B_NS B_IF B_ADDRS
  ip link add "$2" netns "$tag-$1" type veth peer name "$5" netns "$tag-$4"
  for a in $3; do ip -n "$tag-$1" addr add "$a" dev "$2" nodad 2>/dev/null || ip -n "$tag-$1" addr add "$a" dev "$2"; done
  for a in $6; do ip -n "$tag-$4" addr add "$a" dev "$5" nodad 2>/dev/null || ip -n "$tag-$4" addr add "$a" dev "$5"; done
  ip -n "$tag-$1" link set "$2" up; ip -n "$tag-$4" link set "$5" up
}
client_addrs="10.201.1.1/24 fd00:201:1::1/64 10.201.1.200/24"
for i in $(seq 11 18); do client_addrs+=" 10.201.1.$i/24"; done
veth c eth0 "$client_addrs" s eth0 "10.201.1.2/24 fd00:201:1::2/64"
veth x eth0 "10.201.2.1/24 fd00:201:2::1/64" s eth1 "10.201.2.2/24 fd00:201:2::2/64"
veth c eth1 "10.201.3.1/24 fd00:201:3::1/64" b eth0 "10.201.3.2/24 fd00:201:3::2/64"
veth b eth1 "10.201.4.1/24" s eth2 "10.201.4.2/24"
# The flood's sources exist nowhere: their SYN-ACKs go to x, which drops them (it neither owns nor forwards them).
ip -n "$tag-s" route add 10.99.0.0/16 via 10.201.2.1
for n in c s x b; do
  ip netns exec "$tag-$n" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1 \
    net.core.somaxconn=8192 net.ipv4.tcp_max_syn_backlog=8192 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
done
for n in b x; do ip netns exec "$tag-$n" sysctl -qw net.ipv4.ip_forward=0; done

mkdir -p "$server_cg" "$client_cg"
"$toa" load --cgroup "$server_cg" --pin-dir "$pins" "${settings[@]}" >/dev/null || exit 1
mkdir -p "$sender_pins"
bpftool prog loadall "$work/sender.bpf.o" "$sender_pins/progs" pinmaps "$sender_pins/maps" || exit 1
bpftool cgroup attach "$client_cg" sock_ops pinned "$sender_pins/progs/toa_sender" || exit 1
bpftool cgroup attach "$client_cg" setsockopt pinned "$sender_pins/progs/toa_attach" || exit 1

# in HOST CGROUP COMMAND...: run in a host's network namespace and a cgroup (nsenter keeps /sys whole).
# It execs: call it in the background (&) or in a subshell.
run_in() { local host=$1 cg=$2; shift 2; exec sh -c 'ns=$1; shift; echo $$ > "$0/cgroup.procs" && exec nsenter --net="/var/run/netns/$ns" "$@"' "$cg" "$tag-$host" "$@"; }
start() { run_in "$@" >> "$work/servers.log" 2>&1 & pids+=($!); }
stop_all() { for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done; for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done; pids=(); }
counters() { "$toa" stats --pin-dir "$pins" --json | python3 -c 'import json, sys; print(" ".join(k + "=" + str(v["total"]) for k, v in json.load(sys.stdin)["counters"].items()))'; }
counter() { tr ' ' '\n' <<< "$1" | awk -F= -v k="$2" '$1 == k {print $2}'; }
moved() { echo $(( $(counter "$2" "$3") - $(counter "$1" "$3") )); }
check() { if eval "$2"; then echo "PASS $1"; else echo "FAIL $1 ($2)"; failed=1; fi; }
sum() { cat "${@:2}" | grep -h '^done' | awk '{for (i = 2; i < NF; i += 2) if ($i == k) s += $(i + 1)} END {print s + 0}' k="$1"; }
entries() { bpftool -j map dump pinned "$pins/$1" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'; }
parked() { entries parked; }
conns() { entries connections; } # records of open connections: none once all are closed
# The caches a connection and its record live in (the rest, dentries and inodes, move with other work
# on the machine); not TIME_WAIT's, whose minisockets outlive a closed connection by 60 s, by design.
slab() { awk 'NR > 2 && $1 ~ /^(kmalloc-|TCP|request_sock|sock_inode|skbuff|bpf)/ {s += $2 * $4} END {printf "%d", s}' /proc/slabinfo; }
quiet_timewait() { # waits (at most 75 s) until the server host has no TIME_WAIT socket left
  [ "${TIME_WAIT:-1}" = 0 ] && return
  for _ in $(seq 150); do [ "$(ip netns exec "$tag-s" ss -Htan state time-wait | wc -l)" = 0 ] && return; sleep 0.5; done
}
wait_listen() { for _ in $(seq 100); do ip netns exec "$tag-s" ss -Hltn "sport = :$1" | grep -q . && return; sleep 0.1; done; }
clients() { # clients N PROCESSES OUT ARGS...: N connections over PROCESSES client processes, offsets apart
  local n=$1 procs=$2 out=$3; shift 3
  local each=$(( n / procs )) p cpids=()
  for p in $(seq 0 $(( procs - 1 ))); do
    run_in c "$client_cg" "$work/stress_client" -n $(( p == procs - 1 ? n - each * (procs - 1) : each )) -o $(( p * each )) "$@" > "$out.$p" 2> "$out.$p.err" &
    cpids+=($!)
  done
  for p in "${cpids[@]}"; do wait "$p"; done
  cat "$out".[0-9]* | grep '^done'
}

echo "stress: $(nproc) CPUs, kernel $(uname -r), commit $(git -C "$root" rev-parse --short HEAD), $(uptime)"

phase_spoof() {
  echo "== spoof: $SPOOF forged connections from untrusted peers"
  start s "$server_cg" "$work/stress_server" -6 9100; wait_listen 9100
  local before after third=$(( SPOOF / 3 )) out="$work/spoof" t0=$SECONDS
  before=$(counters)
  # x over IPv4 and over IPv6 (another namespace), and an untrusted address of the clients' own namespace.
  run_in x "$client_cg" "$work/stress_client" -t 10.201.2.2 -p 9100 -n $third -m mix -P ack -P data > "$out.x4" 2>&1 & local a=$!
  run_in x "$client_cg" "$work/stress_client" -t fd00:201:2::2 -p 9100 -n $third -m mix -P ack -P data -o $third > "$out.x6" 2>&1 & local b=$!
  run_in c "$client_cg" "$work/stress_client" -t 10.201.1.2 -p 9100 -n $(( SPOOF - 2 * third )) -m mix -b 10.201.1.200 -P ack -P data -o $(( 2 * third )) > "$out.c" 2>&1 & local c=$!
  wait $a $b $c
  after=$(counters)
  cat "$out".*; echo "took $(( SECONDS - t0 )) s"
  echo "counters moved: toa_untrusted $(moved "$before" "$after" toa_untrusted), syn_recv_sock_toa $(moved "$before" "$after" syn_recv_sock_toa), getname_toa_ok $(moved "$before" "$after" getname_toa_ok)"
  check "spoof: every forged connection answered" "[ $(sum connected "$out".*) = $SPOOF ]"
  check "spoof: zero claims believed" "[ $(sum ok "$out".*) = 0 ] && [ $(sum other "$out".*) = 0 ]"
  check "spoof: toa_untrusted moved by the number sent" "[ $(moved "$before" "$after" toa_untrusted) = $SPOOF ]"
  check "spoof: syn_recv_sock_toa did not move" "[ $(moved "$before" "$after" syn_recv_sock_toa) = 0 ]"
  stop_all
}

phase_leak() {
  echo "== leak: $LEAK short connections, half NAT64 (253/20), over 4 client and 4 server processes"
  local p ports=() before after slab0 slab1 t0 out="$work/leak"
  for p in 9001 9002 9003 9004; do start s "$server_cg" "$work/stress_server" $p; ports+=(-p $p); done
  for p in 9001 9002 9003 9004; do wait_listen $p; done
  quiet_timewait; sync; slab0=$(slab); before=$(counters); t0=$SECONDS
  clients "$LEAK" 4 "$out" -t 10.201.1.2 "${ports[@]}" -m mix -c 64 -b 10.201.1.11 -b 10.201.1.12 -b 10.201.1.13 -b 10.201.1.14 -T 1800
  local took=$(( SECONDS - t0 ))
  echo "took $took s ($(( LEAK / (took > 0 ? took : 1) )) connections/s)"
  stop_all; quiet_timewait; sleep 2; after=$(counters); slab1=$(slab)
  local alloc=$(moved "$before" "$after" ip6_address_alloc) free=$(moved "$before" "$after" ip6_address_free)
  echo "counters moved: syn_recv_sock_toa $(moved "$before" "$after" syn_recv_sock_toa), ip6_address_alloc $alloc, ip6_address_free $free, toa_malformed $(moved "$before" "$after" toa_malformed)"
  echo "slab: $slab0 B before, $slab1 B after: $(( slab1 - slab0 )) B ($(awk -v d=$(( slab1 - slab0 )) -v n=$LEAK 'BEGIN {printf "%.2f", d / n}') B per connection)"
  echo "parked entries: $(parked); connections map entries: $(conns)"
  check "leak: every connection saw its claim" "[ $(sum ok "$out".[0-9]) = $LEAK ]"
  check "leak: zero wrong addresses" "[ $(sum other "$out".[0-9]) = 0 ]"
  check "leak: ip6_address_alloc == ip6_address_free == half" "[ $alloc = $free ] && [ $alloc = $(( LEAK / 2 )) ]"
  check "leak: the parked map is empty" "[ $(parked) = 0 ]"
  check "leak: the connections map is empty" "[ $(conns) = 0 ]"
  check "leak: slab back within 64 B per connection (a record costs 128 B in the map, about 380 in socket storage)" "[ $(( (slab1 - slab0) / LEAK )) -lt 64 ]"
}

phase_lb() {
  echo "== lb: $LB short connections through toa lb (200/8 and, from IPv6 clients, 253/20)"
  cat > "$work/lb.json" <<JSON
{ "admin": "", "maxConnections": 0, "shutdownTimeout": "1s",
  "listeners": [
    { "name": "v4", "address": "10.201.3.2:9400", "toa": "tencent", "backends": [ { "address": "10.201.4.2:9400" } ] },
    { "name": "v6", "address": "[fd00:201:3::2]:9400", "toa": "tencent", "snat": { "ipv4": "10.201.4.1" },
      "backends": [ { "address": "10.201.4.2:9400" } ] } ] }
JSON
  start s "$server_cg" "$work/stress_server" 9400; wait_listen 9400
  nsenter --net="/var/run/netns/$tag-b" "$toa" lb --config "$work/lb.json" > "$work/lb.log" 2>&1 & pids+=($!)
  local lbpid=$! out="$work/lbc" before after
  for _ in $(seq 100); do ip netns exec "$tag-b" ss -Hltn "sport = :9400" | grep -q . && break; sleep 0.2; done
  sleep 1
  # Warm up, then measure the balancer's descriptors and resident memory every fifth of the run.
  (run_in c "$client_cg" "$work/stress_client" -t 10.201.3.2 -p 9400 -n 5000 -m self -c 32 > /dev/null)
  before=$(counters)
  local fds=() rss=() round
  for round in 1 2 3 4 5; do
    fds+=($(ls /proc/$lbpid/fd | wc -l)); rss+=($(awk '/VmRSS/ {print $2}' /proc/$lbpid/status))
    run_in c "$client_cg" "$work/stress_client" -t 10.201.3.2 -p 9400 -n $(( LB / 10 )) -m self -c 32 -T 900 > "$out.$round" 2>&1 & local a=$!
    run_in c "$client_cg" "$work/stress_client" -t fd00:201:3::2 -p 9400 -n $(( LB / 10 )) -m self -c 32 -T 900 > "$out.6$round" 2>&1 & local b=$!
    wait $a $b
  done
  sleep 2
  fds+=($(ls /proc/$lbpid/fd | wc -l)); rss+=($(awk '/VmRSS/ {print $2}' /proc/$lbpid/status))
  after=$(counters)
  grep -h '^done' "$out".*
  echo "toa lb descriptors after each fifth: ${fds[*]}; resident KiB: ${rss[*]}"
  echo "counters moved: syn_recv_sock_toa $(moved "$before" "$after" syn_recv_sock_toa), ip6_address_alloc $(moved "$before" "$after" ip6_address_alloc), ip6_address_free $(moved "$before" "$after" ip6_address_free)"
  check "lb: every connection saw its client" "[ $(sum ok "$out".*) = $(( LB / 10 * 10 )) ]"
  check "lb: zero wrong addresses" "[ $(sum other "$out".*) = 0 ]"
  check "lb: descriptors flat" "[ ${fds[-1]} -le $(( ${fds[0]} + 8 )) ]"
  check "lb: resident memory within 20 MiB of the first fifth's" "[ ${rss[-1]} -le $(( ${rss[0]} + 20480 )) ]"
  stop_all
}

phase_scale() {
  local procs=8 each=$(( SCALE / 8 )) p out="$work/scale"
  echo "== scale: $SCALE connections held at once ($procs server and $procs client processes, half NAT64)"
  for p in $(seq 0 $(( procs - 1 ))); do start s "$server_cg" "$work/stress_server" -H $(( 9201 + p )); done
  for p in $(seq 0 $(( procs - 1 ))); do wait_listen $(( 9201 + p )); done
  local t0=$SECONDS fifo
  for p in $(seq 0 $(( procs - 1 ))); do
    fifo="$work/scale.in.$p"; mkfifo "$fifo"
    run_in c "$client_cg" "$work/stress_client" -H -t 10.201.1.2 -p $(( 9201 + p )) -n $each -o $(( p * each )) -m mix -c 128 \
      -b 10.201.1.$(( 11 + p )) -T 900 < "$fifo" > "$out.$p" 2>&1 & pids+=($!)
    exec {fd}> "$fifo"; eval "scale_fd_$p=$fd"
  done
  for _ in $(seq 900); do [ "$(cat "$out".[0-9] | grep -c '^held')" = $procs ] && break; sleep 1; done
  echo "opened in $(( SECONDS - t0 )) s: $(grep -h '^held' "$out".[0-9] | awk '{c += $5} END {print c}') held"
  # Wall time and CPU time (user + system): on a loaded machine the second is the steadier.
  local TIMEFORMAT='%R s wall, %U s user + %S s system' rows
  { time nsenter --net="/var/run/netns/$tag-s" "$toa" stats --pin-dir "$pins" > "$work/stats.txt"; } 2> "$work/stats.time"
  echo "toa stats: $(cat "$work/stats.time")"
  { time nsenter --net="/var/run/netns/$tag-s" "$toa" table --pin-dir "$pins" > "$work/table.txt"; } 2> "$work/table.time"
  rows=$(grep -c ' 198\.1[89]\.\| \[2001:db8::' "$work/table.txt")
  echo "toa table: $(cat "$work/table.time"), $rows connections listed"
  head -3 "$work/table.txt"
  check "scale: every connection held and saw its claim" "[ $(grep -h '^held' "$out".[0-9] | awk '{c += $7} END {print c}') = $SCALE ]"
  check "scale: the table lists every one" "[ $rows = $SCALE ]"
  for p in $(seq 0 $(( procs - 1 ))); do eval "exec {scale_fd_$p}>&-"; done
  stop_all; rm -f "$work"/scale.in.*
}

phase_upgrade() {
  local procs=2 each=$(( UPGRADE / 2 )) p out="$work/upgrade" churn="$work/upgrade-churn"
  echo "== upgrade: $UPGRADE live connections (half NAT64) across toa load --force, then toa unload and toa load"
  for p in 0 1; do start s "$server_cg" "$work/stress_server" -H $(( 9501 + p )); done
  start s "$server_cg" "$work/stress_server" 9503
  for p in 9501 9502 9503; do wait_listen $p; done
  for p in 0 1; do
    mkfifo "$work/up.in.$p"
    run_in c "$client_cg" "$work/stress_client" -H -t 10.201.1.2 -p $(( 9501 + p )) -n $each -o $(( p * each )) -m mix -c 128 \
      -b 10.201.1.$(( 15 + p )) -T 900 < "$work/up.in.$p" > "$out.$p" 2>&1 & pids+=($!)
    exec {fd}> "$work/up.in.$p"; eval "up_fd_$p=$fd"
  done
  for _ in $(seq 600); do [ "$(cat "$out".[0-9] | grep -c '^held')" = 2 ] && break; sleep 1; done
  grep -h '^held' "$out".[0-9]
  step() { # step NAME: every held connection asks again; prints the tallies
    local n0 n1
    n0=$(cat "$out".0 | grep -c '^check'); n1=$(cat "$out".1 | grep -c '^check')
    echo check >&$up_fd_0; echo check >&$up_fd_1
    for _ in $(seq 300); do
      [ "$(grep -c '^check' "$out".0)" -gt $n0 ] && [ "$(grep -c '^check' "$out".1)" -gt $n1 ] && break; sleep 0.5
    done
    echo "$1: $(tail -qn1 "$out".0 "$out".1 | awk '{for (i = 2; i < NF; i += 2) s[$i] += $(i + 1)} END {printf "ok %d true %d other %d failed %d", s["ok"], s["true"], s["other"], s["failed"]}')"
  }
  # New short connections all along, so some handshakes straddle each change.
  run_in c "$client_cg" "$work/stress_client" -t 10.201.1.2 -p 9503 -n 1000000 -m mix -c 16 -b 10.201.1.17 -T 60 > "$churn" 2>&1 &
  local churner=$!
  step "before"
  "$toa" load --force --cgroup "$server_cg" --pin-dir "$pins" "${settings[@]}" > /dev/null && echo "toa load --force: done"
  step "after load --force"
  "$toa" unload --pin-dir "$pins" > /dev/null && echo "toa unload: done"
  step "after unload"
  "$toa" load --cgroup "$server_cg" --pin-dir "$pins" "${settings[@]}" > /dev/null && echo "toa load: done"
  step "after load"
  local before=$(counters)
  kill -TERM $churner 2>/dev/null; wait $churner 2>/dev/null
  echo "short connections meanwhile: $(tail -n1 "$churn")"
  (run_in c "$client_cg" "$work/stress_client" -t 10.201.1.2 -p 9503 -n 2000 -m mix -c 16 > "$churn.after" 2>&1)
  echo "new connections after the reload: $(tail -n1 "$churn.after")"
  check "upgrade: no wrong address at any step" "! grep -h '^check\|^done' \"$out\".[0-9] \"$churn\" \"$churn.after\" | grep -qv 'other 0 '"
  check "upgrade: new connections after the reload see their claim" "grep -q ' ok 2000 ' \"$churn.after\""
  check "upgrade: every server still running" "[ $(pgrep -c -f "$work/stress_server") = 3 ]"
  for p in 0 1; do eval "exec {up_fd_$p}>&-"; done
  stop_all; quiet_timewait; sleep 1
  local after=$(counters)
  echo "after closing all (counters of the last load): ip6_address_alloc $(counter "$after" ip6_address_alloc), ip6_address_free $(counter "$after" ip6_address_free); parked entries: $(parked); connections map entries: $(conns)"
  check "upgrade: records of the last load all freed" "[ $(counter "$after" ip6_address_alloc) = $(counter "$after" ip6_address_free) ]"
  check "upgrade: the connections map is empty" "[ $(conns) = 0 ]"
  check "upgrade: kernel log has no warning" "! dmesg | tail -n 200 | grep -q 'WARNING\|BUG:\|Call Trace'"
  rm -f "$work"/up.in.*
}

phase_flood() {
  echo "== flood: $FLOOD SYNs carrying TOAs from untrusted sources while $REAL real clients connect (syncookies always on)"
  ip netns exec "$tag-s" sysctl -qw net.ipv4.tcp_syncookies=2
  start s "$server_cg" "$work/stress_server" 9300; wait_listen 9300
  local before after out="$work/flood"
  before=$(counters)
  run_in x "$client_cg" "$work/syn_flood" 10.99.0.0 10.201.2.2 9300 "$FLOOD" > "$work/flood.sent" 2>&1 &
  local flooder=$!
  # Real clients with their TOA in the SYN only (parked until the handshake) and in the ACK.
  run_in c "$client_cg" "$work/stress_client" -t 10.201.1.2 -p 9300 -n $(( REAL / 2 )) -m mix -c 16 -P syn -T 300 > "$out.syn" 2>&1 & local a=$!
  run_in c "$client_cg" "$work/stress_client" -t 10.201.1.2 -p 9300 -n $(( REAL / 2 )) -m mix -c 16 -P ack -o $(( REAL / 2 )) -T 300 > "$out.ack" 2>&1 & local b=$!
  wait $a $b $flooder
  sleep 1; after=$(counters)
  echo "flooder: $(cat "$work/flood.sent"); parked entries now: $(parked)"
  echo "real clients, TOA in the SYN: $(tail -n1 "$out.syn")"
  echo "real clients, TOA in the ACK: $(tail -n1 "$out.ack")"
  echo "counters moved: toa_from_syn $(moved "$before" "$after" toa_from_syn), syn_recv_sock_toa $(moved "$before" "$after" syn_recv_sock_toa), toa_untrusted $(moved "$before" "$after" toa_untrusted)"
  check "flood: zero wrong addresses" "[ $(sum other "$out".*) = 0 ]"
  check "flood: every real client saw its claim" "[ $(sum ok "$out".*) = $REAL ]"
  # Trust is checked before parking: the untrusted flood must leave nothing behind once the real clients are through.
  check "flood: no untrusted SYN parked" "[ $(parked) = 0 ]"
  ip netns exec "$tag-s" sysctl -qw net.ipv4.tcp_syncookies=1
  stop_all
}

for phase in "${phases[@]}"; do
  case $phase in
    spoof|leak|lb|scale|upgrade|flood) "phase_$phase" ;;
    *) echo "unknown phase $phase (spoof leak lb scale upgrade flood)"; exit 2 ;;
  esac
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $failed
