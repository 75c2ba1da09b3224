#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Balancers as they are deployed: the client, the balancer and each backend in a network namespace
# of its own, joined by veth links, all targets side by side in one run, in interleaved rounds:
#   c (client, 10.202.0.1) -- b (balancer, 10.202.0.2; 10.202.I.1) -- sI (backend I, 10.202.I.2)
# Per target and round: new connections per second and the p99 of connect + first byte (lb_client
# conn: one small request per connection, CONCURRENCY in flight), and one bulk stream's Gbit/s
# (lb_client bulk); for a balancer also its CPU time per connection (the packet engine's: its process
# and its tc program's run time, which the kernel spends in softirq). Then the medians and every
# pair's ratios. The machine's load (uptime) is printed at the start and the end.
#
#   bench/lb/netns.sh [rounds=3] [seconds=5]      (also: bench/lb/run.sh ROUNDS SECONDS netns)
#
# Environment: CONCURRENCY=32 connections in flight; PACKET_PORTS=16384-65535 the packet engine's SNAT
# ports (its "localPorts"; b's own connections take the ports below); PROCESSES client processes to spread them over
# (default: one per 10,000, well below a process's descriptor limit); BACKENDS=2; TOA names a built
# toa (default: the checkout's, built when needed); TAG prefixes the namespaces' names (default
# toa-bench-lbn-PID); TARGETS the targets to run, by name (default: all of them, "routed haproxy
# toa-lb packet"; fewer for a profile of one). Run by hand as root; tests/Toa.EndToEnd.Tests runs it
# scaled down.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/bench/lb/lib.sh"
rounds=${1:-3}; seconds=${2:-5}
CONCURRENCY=${CONCURRENCY:-32}; PACKET_PORTS=${PACKET_PORTS:-16384-65535}; PROCESSES=${PROCESSES:-$(( (CONCURRENCY + 9999) / 10000 ))}; BACKENDS=${BACKENDS:-2}
# Every process the run starts may hold as many descriptors as the system lets it.
ulimit -n "$(ulimit -Hn)"
command -v haproxy >/dev/null || { echo "needs haproxy (apt-get install haproxy)"; exit 1; }
if [ -z "${TOA:-}" ]; then "$root/toa" --version >/dev/null; fi
toa=${TOA:-$root/artifacts/toa/toa}
tag=${TAG:-toa-bench-lbn-$$}
hosts=(c b $(seq -f 's%g' "$BACKENDS"))
work=$(mktemp -d "/tmp/$tag-XXXXXX")   # named by the tag: what still runs from it is the run's
pids=()
cleanup() {
  # SIGTERM: toa lb removes its own cgroup as it stops.
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  # The packet engine's maps stay pinned for a successor (bpffs is one for every namespace).
  # And the directories above them once empty (a receiver's pins keep /sys/fs/bpf/toa).
  [ -z "${pins:-}" ] || { rm -rf "$pins"; rmdir "${pins%/*}" "${pins%/*/*}" 2>/dev/null || true; }
  [ -z "${bpf_stats:-}" ] || sysctl -qw kernel.bpf_stats_enabled="$bpf_stats"
  for h in "${hosts[@]}"; do ip netns del "$tag-$h" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for program in lb_client lb_server; do
  gcc -O2 -Wall -Wextra -Werror -o "$work/$program" "$root/bench/lb/$program.c"
done

# --- the hosts -------------------------------------------------------------------------------------
# nsenter, not ip netns exec: toa lb must see the cgroup file system to attach its TOA writer.
# Background programs start with nsenter itself, not through on (a function in the background is
# a subshell): nsenter execs the program, so $! is the program, which SIGTERM stops and whose CPU
# time counts.
ns() { echo "--net=/var/run/netns/$tag-$1"; }
on() { nsenter "$(ns "$1")" "${@:2}"; }
for h in "${hosts[@]}"; do
  ip netns add "$tag-$h"; ip -n "$tag-$h" link set lo up
  # Short connections at this rate would run out of ports in TIME_WAIT.
  on "$h" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65535"
done
veth() { # A_HOST A_INTERFACE A_ADDRESS B_HOST B_INTERFACE B_ADDRESS: each end made in its namespace
  ip link add "$2" netns "$tag-$1" type veth peer name "$5" netns "$tag-$4"
  ip -n "$tag-$1" addr add "$3/24" dev "$2"; ip -n "$tag-$1" link set "$2" up
  ip -n "$tag-$4" addr add "$6/24" dev "$5"; ip -n "$tag-$4" link set "$5" up
}
# The packet engine keeps its maps under a directory named by b's namespace inode.
pins=/sys/fs/bpf/toa/fullnat/$(stat -L -c %i "/var/run/netns/$tag-b")
balancer=10.202.0.2
veth c eth0 10.202.0.1 b eth0 $balancer
ip -n "$tag-c" route add default via $balancer
backend() { echo "10.202.$1.2"; }
for i in $(seq "$BACKENDS"); do
  veth b "eth$i" "10.202.$i.1" "s$i" eth0 "$(backend "$i")"
  ip -n "$tag-s$i" route add default via "10.202.$i.1"
done
# The floor: the balancer's namespace forwards packets as a router does.
on b sysctl -qw net.ipv4.ip_forward=1
# b's own connections (HAProxy's, toa-lb's) and the packet engine's SNAT ports stay apart, as the
# engine's reservation keeps them on a real balancer: the backends hold TIME_WAIT for b's
# connections, which a SNAT port of the same number would meet with another client's timestamps.
on b sysctl -qw net.ipv4.ip_local_port_range="1024 $(( ${PACKET_PORTS%-*} - 1 ))"

# The backends: an answer for the short connections, a sink for the bulk stream.
answer=8000; sink=8001
for i in $(seq "$BACKENDS"); do nsenter "$(ns "s$i")" "$work/lb_server" $answer $sink & pids+=($!); done
# HOST PORT...: waits until every port listens in HOST (ten seconds at most).
listening() {
  local h=$1 p; shift
  for p in "$@"; do
    for _ in $(seq 100); do [ -n "$(on "$h" ss -Hltn "sport = :$p")" ] && continue 2; sleep 0.1; done
    echo "nothing listens on port $p in $h"; exit 1
  done
}
for i in $(seq "$BACKENDS"); do listening "s$i" $answer $sink; done

# --- the targets -----------------------------------------------------------------------------------
# One function per target: given the target's name, it starts what the target needs on b and sets
# web[NAME] and bulk[NAME] ("ADDRESS PORT" for the short connections and for the bulk stream) and
# pid[NAME] (the process whose CPU time the target spends; unset when none).
declare -A web bulk pid progs
# NAME: the CPU time the target has spent so far, in ns: its process's (user and system) and its BPF
# programs' run time (progs[NAME], by id; kernel.bpf_stats_enabled counts it while the run lasts).
spent_ns() {
  echo $(( $(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f", ($14 + $15) * 1e9 / hz }' "/proc/${pid[$1]}/stat") + $(program_ns "$1") ))
}
# NS CONN_PER_S SECONDS: microseconds per connection.
per_conn_ns() { awk -v t="$1" -v r="$2" -v s="$3" 'BEGIN { if (r > 0) printf "%.0f", t / 1e3 / (r * s); else print "-" }'; }
# NAME: the run time of its BPF programs alone, in ns (0 without any).
program_ns() {
  local total=0 id
  for id in ${progs[$1]:-}; do
    # bpftool names no run time before the program's first run.
    total=$(( total + $(bpftool prog show id "$id" | awk '{ for (i = 1; i < NF; i++) if ($i == "run_time_ns") t = $(i + 1) } END { print t + 0 }') ))
  done
  echo "$total"
}
start_routed() { # no balancer: the client reaches the first backend through b's forwarding
  web[$1]="$(backend 1) $answer"; bulk[$1]="$(backend 1) $sink"
}
start_haproxy() { # HAProxy 2.6 mode tcp, as operators run it: round robin, retries 3, option redispatch
  local servers=() i
  for i in $(seq "$BACKENDS"); do servers+=("  server s$i $(backend "$i"):PORT"); done
  cat > "$work/haproxy.cfg" <<CFG
global
  maxconn $(( CONCURRENCY * 2 + 1000 ))
defaults
  mode tcp
  balance roundrobin
  retries 3
  option redispatch
  option splice-auto
  timeout connect 5s
  timeout client 1m
  timeout server 1m
listen web
  bind $balancer:8100
$(printf '%s\n' "${servers[@]}" | sed "s/PORT/$answer/")
listen bulk
  bind $balancer:8101
$(printf '%s\n' "${servers[@]}" | sed "s/PORT/$sink/")
CFG
  nsenter "$(ns b)" haproxy -db -f "$work/haproxy.cfg" & pids+=($!); pid[$1]=$!
  listening b 8100 8101
  web[$1]="$balancer 8100"; bulk[$1]="$balancer 8101"
}
start_toa_lb() { # toa lb with TOA on (Tencent's 200/8), retries 3
  local backends=() i
  for i in $(seq "$BACKENDS"); do backends+=("{ \"address\": \"$(backend "$i"):PORT\" }"); done
  local list; list=$(IFS=,; echo "${backends[*]}")
  # No health checks, as HAProxy's servers have none ("check").
  local listener='"toa": "tencent", "retries": 3, "health": { "interval": "1h", "timeout": "5s" }'
  cat > "$work/lb.json" <<CFG
{ "admin": "", "shutdownTimeout": "1s", "listeners": [
  { "name": "web", "address": "$balancer:8200", $listener, "backends": [ ${list//PORT/$answer} ] },
  { "name": "bulk", "address": "$balancer:8201", $listener, "backends": [ ${list//PORT/$sink} ] } ] }
CFG
  : > "$work/lb.log"
  nsenter "$(ns b)" "$toa" lb --config "$work/lb.json" 2>"$work/lb.log" & pids+=($!); pid[$1]=$!
  for _ in $(seq 150); do [ "$(grep -c ' accepting on ' "$work/lb.log")" = 2 ] && break; sleep 0.2; done
  grep -q 'TOA writer attached' "$work/lb.log" || { echo "toa lb did not start:"; cat "$work/lb.log"; exit 1; }
  web[$1]="$balancer 8200"; bulk[$1]="$balancer 8201"
}
# toa lb's packet engine (FULLNAT in b's kernel, no socket per connection), TOA on (200/8). Its tc
# program sees every packet of b's interfaces, the other targets' too, so it runs only for its own
# turns: stopped gracefully, toa lb detaches it and removes its pins.
start_packet() {
  [ -n "${bpf_stats:-}" ] || { bpf_stats=$(sysctl -n kernel.bpf_stats_enabled); sysctl -qw kernel.bpf_stats_enabled=1; }
  local backends=() i
  for i in $(seq "$BACKENDS"); do backends+=("{ \"address\": \"$(backend "$i"):PORT\" }"); done
  local list; list=$(IFS=,; echo "${backends[*]}")
  local listener='"engine": "packet", "toa": "tencent", "health": { "interval": "1h", "timeout": "5s" }'
  # Most ports for SNAT (the default 4,536 would cap new connections per backend: a port stays
  # taken seconds after its connection ends); b's own connections keep the rest.
  cat > "$work/packet.json" <<CFG
{ "admin": "", "adminSocket": "$work/packet.sock", "shutdownTimeout": "1s", "packet": { "localPorts": "$PACKET_PORTS" }, "listeners": [
  { "name": "web", "address": "$balancer:8300", $listener, "backends": [ ${list//PORT/$answer} ] },
  { "name": "bulk", "address": "$balancer:8301", $listener, "backends": [ ${list//PORT/$sink} ] } ] }
CFG
  : > "$work/packet.log"
  nsenter "$(ns b)" "$toa" lb --config "$work/packet.json" 2>"$work/packet.log" & pids+=($!); pid[$1]=$!
  web[$1]="$balancer 8300"; bulk[$1]="$balancer 8301"
  # Each listener is logged once the engine has taken it (its VIP and table written), not before.
  for _ in $(seq 150); do [ "$(grep -c ' runs in the packet engine' "$work/packet.log")" = 2 ] && break; sleep 0.1; done
  # Its work is the tc program's, in softirq (no process's account): the kernel's statistics of
  # that program (ids from b's interfaces, not other namespaces' programs) count it.
  for _ in $(seq 150); do
    progs[$1]=$(for i in $(seq 0 "$BACKENDS"); do on b tc filter show dev "eth$i" ingress 2>/dev/null || true; done \
      | { grep -o ' id [0-9]*' || true; } | awk '{ print $2 }' | sort -u | xargs)
    [ -n "${progs[$1]}" ] && break; sleep 0.2
  done
  [ -n "${progs[$1]}" ] && [ "$(grep -c ' runs in the packet engine' "$work/packet.log")" = 2 ] \
    || { echo "toa lb (packet) did not start in b:"; cat "$work/packet.log"; exit 1; }
}
stop_packet() { kill -TERM "${pid[$1]}"; wait "${pid[$1]}" 2>/dev/null || true; }
# The table: "NAME START_FUNCTION [STOP_FUNCTION]", in the order they are reported; ratios compare
# each target with every one above it. A new target is one function above and one row here. One
# with a stop function runs only during its own turns.
targets=(
  "routed start_routed"
  "haproxy start_haproxy"
  "toa-lb start_toa_lb"
  "packet start_packet stop_packet"
)
names=()
declare -A starts stops
for row in "${targets[@]}"; do
  set -- $row
  [[ " ${TARGETS:-$1} " == *" $1 "* ]] || continue
  names+=("$1"); "$2" "$1"
  # A target with a stop function runs only for its own turns (started here once to fail early).
  if [ -n "${3:-}" ]; then starts[$1]=$2; stops[$1]=$3; "$3" "$1"; fi
done
# NAME: before and after each of the target's turns.
turn_begin() { [ -z "${starts[$1]:-}" ] || "${starts[$1]}" "$1"; }
turn_end() { [ -z "${stops[$1]:-}" ] || "${stops[$1]}" "$1"; }

# --- the rounds ------------------------------------------------------------------------------------
short() { on c "$work/lb_client" conn $1 "$2" "$CONCURRENCY" "$PROCESSES"; }   # "CONN_PER_S P99_MS FAILED"
stream() { on c "$work/lb_client" bulk $1 "$2"; }                             # "GBIT_S"
echo "load at start: $(uptime)"
echo "$CONCURRENCY connections in flight over $PROCESSES client process(es), $BACKENDS backends, $rounds rounds of $seconds s"
for n in "${names[@]}"; do turn_begin "$n"; short "${web[$n]}" 1 >/dev/null; turn_end "$n"; done   # warm-up
declare -A rate p99 gbit cpu failed byround
for i in $(seq "$rounds"); do
  # Rotate the order each round so drift in the machine's load hits every target alike.
  for k in "${!names[@]}"; do
    n=${names[$(( (k + i) % ${#names[@]} ))]}
    turn_begin "$n"
    c=-; [ -n "${pid[$n]:-}" ] && { before=$(spent_ns "$n"); before_program=$(program_ns "$n"); }
    read -r r p f < <(short "${web[$n]}" "$seconds")
    [ -n "${pid[$n]:-}" ] && c=$(per_conn_ns $(( $(spent_ns "$n") - before )) "$r" "$seconds")
    # The part of it its programs spent, shown in the round's line.
    program=; [ -n "${progs[$n]:-}" ] && program="  (programs $(per_conn_ns $(( $(program_ns "$n") - before_program )) "$r" "$seconds"))"
    g=$(stream "${bulk[$n]}" "$seconds")
    turn_end "$n"
    rate[$n]+="$r "; p99[$n]+="$p "; gbit[$n]+="$g "; cpu[$n]+="$c "; failed[$n]=$(( ${failed[$n]:-0} + f ))
    byround[$i,$n]="$r $p $g $c"
    printf 'round %d %-8s %9s conn/s  p99 %7s ms  %6s Gbit/s  %4s cpu us/conn%s  %s failed  (load %s)\n' \
      "$i" "$n" "$r" "$p" "$g" "$c" "$program" "$f" "$(cut -d' ' -f1 /proc/loadavg)"
  done
done
echo "load at end: $(uptime)"

declare -A mr mp mg mc
echo
printf '%-8s %10s %8s %8s %12s %7s\n' target "conn/s" "p99 ms" "Gbit/s" "cpu us/conn" failed
for n in "${names[@]}"; do
  mr[$n]=$(median "${rate[$n]}" %.0f); mp[$n]=$(median "${p99[$n]}" %.2f)
  mg[$n]=$(median "${gbit[$n]}" %.2f); mc[$n]=$(median "${cpu[$n]}" %.0f)
  printf '%-8s %10s %8s %8s %12s %7s\n' "$n" "${mr[$n]}" "${mp[$n]}" "${mg[$n]}" "${mc[$n]}" "${failed[$n]}"
done
# Ratios of the medians, and in brackets the median of the rounds' own ratios.
echo
for b in "${!names[@]}"; do
  for a in "${!names[@]}"; do
    [ "$a" -gt "$b" ] || continue
    set -- "${names[$a]}" "${names[$b]}"
    printf '%-18s conn/s %s [%s]  p99 %s [%s]  Gbit/s %s [%s]' "$1 / $2" \
      "$(ratio "${mr[$1]}" "${mr[$2]}")" "$(paired "$1" "$2" 1)" \
      "$(ratio "${mp[$1]}" "${mp[$2]}")" "$(paired "$1" "$2" 2)" \
      "$(ratio "${mg[$1]}" "${mg[$2]}")" "$(paired "$1" "$2" 3)"
    [ -n "${pid[$2]:-}" ] && printf '  cpu/conn %s [%s]' "$(ratio "${mc[$1]}" "${mc[$2]}")" "$(paired "$1" "$2" 4)"
    echo
  done
done
