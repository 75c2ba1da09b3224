#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Connections per second with and without the receiver, as in production: the clients in another
# network namespace, so only the server's callbacks run the receiver's programs. Connections that
# carry a TOA (200/8, 253/20, written by the sender attached to the clients' cgroup) and that carry
# none, side by side in one run: interleaved rounds, medians, per second of wall time and per second
# of CPU time (the clients' and the servers' cgroups', both ends: other work on the machine is not
# counted, though softirq work is charged to whoever it interrupts). Each connection: connect, one line out
# (what the server should see), the server's getpeername (200/8, none) or getsockopt 4096 (253/20)
# and its answer back, close. Beside the ratios, which a busy machine blurs, the receiver's programs'
# own run time per connection (kernel.bpf_stats_enabled, on while the run lasts: it adds two clock
# reads to every run, so the figure is an upper bound) and its share of a connection's CPU time
# with the receiver. By hand as root (not in CI):
#
#   bench/receiver/remote.sh [rounds=5] [connections=10000 per batch]
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rounds=${1:-5}; n=${2:-10000}
. "$root/bench/receiver/hosts.sh"

declare -A port=([without]=9700 [with]=9701)
for side in without with; do
  cg=$without_cg; [ $side = with ] && cg=$with_cg
  run_in s "$cg" "$work/stress_server" ${port[$side]} > /dev/null 2>&1 & pids+=($!)
  wait_listen ${port[$side]}
done
# The receiver's programs, by id, from its pinned links; their run time is counted while the run lasts.
receiver_progs=$(for link in "$pins"/link-*; do bpftool -j link show pinned "$link" | grep -o '"prog_id":[0-9]*' | cut -d: -f2; done | sort -u | xargs)
[ -n "$receiver_progs" ] || { echo "no receiver program found under $pins"; exit 1; }
bpf_stats=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1
trap 'sysctl -qw kernel.bpf_stats_enabled=$bpf_stats; cleanup' EXIT
# The receiver's programs' run time so far, in ns.
programs_ns() {
  local id total=0
  for id in $receiver_progs; do
    total=$(( total + $(bpftool -j prog show id "$id" | grep -o '"run_time_ns":[0-9]*' | cut -d: -f2 || echo 0) ))
  done
  echo "$total"
}
# CPU time of the clients and both servers, in microseconds.
busy() { awk '$1 == "usage_usec" {s += $2} END {print s}' "$client_cg/cpu.stat" "$with_cg/cpu.stat" "$without_cg/cpu.stat"; }
# batch SIDE MODE: prints "WALL_RATE CPU_RATE PROGRAM_NS_PER_CONNECTION", or nothing when a connection was misjudged
batch() {
  local t0 t1 c0 c1 p0 p1 out="$work/batch"
  p0=$(programs_ns); c0=$(busy); t0=$(date +%s.%N)
  (run_in c "$client_cg" "$work/stress_client" -t 10.202.1.2 -p ${port[$1]} -n "$n" -m "$2" -c 32 -T 300 > "$out" 2>&1)
  t1=$(date +%s.%N); c1=$(busy); p1=$(programs_ns)
  local expect=$n; [ "$1" = without ] && [ "$2" != self ] && expect=0
  if ! grep -q "^done.* ok $expect " "$out"; then echo "  ($1, $2: $(tail -n1 "$out"))" >&2; return; fi
  awk -v n="$n" -v w="$(echo "$t1 - $t0" | bc)" -v c="$(( c1 - c0 ))" -v p="$(( p1 - p0 ))" 'BEGIN {printf "%.0f %.0f %.0f", n / w, n / (c / 1e6), p / n}'
}
modes=(self v4 v6)
for mode in "${modes[@]}"; do for side in without with; do batch $side $mode > /dev/null; done; done   # warm-up
declare -A wall=() cpu=() ratio=() prog=()
for round in $(seq "$rounds"); do
  for mode in "${modes[@]}"; do
    # Which side goes first alternates, so a drift in the machine's load favours neither.
    sides=(without with); [ $(( round % 2 )) = 0 ] && sides=(with without)
    for side in "${sides[@]}"; do
      read -r w c p <<< "$(batch $side $mode)"
      wall[$mode.$side]+=" ${w:-0}"; cpu[$mode.$side]+=" ${c:-0}"
      [ $side = with ] && prog[$mode]+=" ${p:-0}"
    done
    ratio[$mode.wall]+=" $(awk -v a="${wall[$mode.with]##* }" -v b="${wall[$mode.without]##* }" 'BEGIN {printf "%.3f", b ? a / b : 0}')"
    ratio[$mode.cpu]+=" $(awk -v a="${cpu[$mode.with]##* }" -v b="${cpu[$mode.without]##* }" 'BEGIN {printf "%.3f", b ? a / b : 0}')"
  done
done
median() { tr ' ' '\n' <<< "$1" | sed '/^$/d' | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "remote: $(nproc) CPUs, kernel $(uname -r), commit $(git -C "$root" rev-parse --short HEAD), $rounds rounds of $n connections"
printf '%-32s %-22s %-22s %-26s %-30s %s\n' "connections" "per s, without / with" "per CPU s, without / with" "ratio of medians (wall, CPU)" "median of the rounds' ratios" "programs per connection"
for mode in "${modes[@]}"; do
  wo=$(median "${wall[$mode.without]}"); wi=$(median "${wall[$mode.with]}")
  co=$(median "${cpu[$mode.without]}"); ci=$(median "${cpu[$mode.with]}")
  pn=$(median "${prog[$mode]}")
  printf '%-32s %-22s %-22s %-26s %-30s %s\n' "$(mode_text $mode)" "$wo / $wi" "$co / $ci" \
    "$(awk -v a="$wi" -v b="$wo" -v c="$ci" -v d="$co" 'BEGIN {printf "%.3f, %.3f", a / b, c / d}')" \
    "$(median "${ratio[$mode.wall]}"), $(median "${ratio[$mode.cpu]}")" \
    "$(awk -v p="$pn" -v c="$ci" 'BEGIN {printf "%.2f us, %.2f%% of its CPU", p / 1e3, c ? 100 * (p / 1e9) * c : 0}')"
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
