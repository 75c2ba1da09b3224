#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Connections per second of an accept-heavy loopback loop (connect, accept,
# getpeername, getsockopt 4096, close) in a cgroup with the receiver attached
# and in one without, interleaved rounds in one run, medians, per second of wall
# time and per second of CPU time; then the cost of each receiver program per
# call and calls per connection (kernel.bpf_stats_enabled).
# Usage (root, by hand, not in CI): bench/receiver/run.sh [rounds=7] [seconds=3]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rounds=${1:-7}; seconds=${2:-3}
out="$root/artifacts/bench-receiver"
mkdir -p "$out"
"$root/toa" --help >/dev/null   # builds toa when needed
gcc -O2 -Wall -o "$out/accept_loop" "$root/bench/receiver/accept_loop.c"

cgroot=$(findmnt -t cgroup2 -n -o TARGET | head -1)
with="$cgroot/toa-bench-with"; without="$cgroot/toa-bench-without"; pins=/sys/fs/bpf/toa-bench
cleanup() {
  "$root/toa" unload --pin-dir "$pins" >/dev/null 2>&1 || true
  sysctl -qw kernel.bpf_stats_enabled=0
  rmdir "$with" "$without" 2>/dev/null || true
}
trap cleanup EXIT
mkdir -p "$with" "$without"
"$root/toa" load --cgroup "$with" --pin-dir "$pins" >/dev/null

rate() { sh -c "echo \$\$ > '$1/cgroup.procs' && exec '$out/accept_loop' $2 $3"; }
rate "$with" 19001 1 >/dev/null; rate "$without" 19002 1 >/dev/null   # warm-up
echo "$(nproc) CPUs, kernel $(uname -r), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
wa=(); wb=(); ca=(); cb=()
for i in $(seq "$rounds"); do
  # Alternate which goes first so drift in the machine's state hits both alike.
  if [ $((i % 2)) -eq 1 ]; then ra=$(rate "$with" 19001 "$seconds"); rb=$(rate "$without" 19002 "$seconds")
  else rb=$(rate "$without" 19002 "$seconds"); ra=$(rate "$with" 19001 "$seconds"); fi
  read -r w c <<< "$ra"; wa+=("$w"); ca+=("$c")
  read -r w c <<< "$rb"; wb+=("$w"); cb+=("$c")
  echo "round $i: with the receiver ${wa[-1]} conn/s (${ca[-1]} per CPU second), without ${wb[-1]} conn/s (${cb[-1]} per CPU second)"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
report() {
  local -n with_rates=$2 without_rates=$3
  local ratios=() i ma mb
  for i in "${!with_rates[@]}"; do ratios+=("$(awk -v a="${with_rates[$i]}" -v b="${without_rates[$i]}" 'BEGIN {printf "%.4f", a/b}')"); done
  ma=$(median "${with_rates[@]}"); mb=$(median "${without_rates[@]}")
  echo "$1: median with the receiver $ma, without $mb; ratio of medians $(awk -v a="$ma" -v b="$mb" 'BEGIN {printf "%.3f", a/b}'); median of the rounds' ratios $(median "${ratios[@]}")"
}
report "connections per second" wa wb
report "connections per CPU second" ca cb

# Per-program cost: one more run with statistics on (they add two clock reads per
# program run, so the rates above are measured without them).
ids=$(bpftool cgroup show "$with" | awk '/toa_/ {print $1}')
snapshot() { for id in $ids; do bpftool prog show id "$id" -j; echo; done; }
before=$(snapshot)
sysctl -qw kernel.bpf_stats_enabled=1
count=$(rate "$with" 19001 "$seconds" | awk -v s="$seconds" '{printf "%d", $1*s}')
sysctl -qw kernel.bpf_stats_enabled=0
after=$(snapshot)
python3 - "$count" <<PY
import json, sys
count = int(sys.argv[1])
def load(text):
    return {p["name"]: p for p in (json.loads(l) for l in text.splitlines() if l.strip())}
before, after = load("""$before"""), load("""$after""")
for name, p in sorted(after.items()):
    calls = p.get("run_cnt", 0) - before[name].get("run_cnt", 0)
    ns = p.get("run_time_ns", 0) - before[name].get("run_time_ns", 0)
    if calls:
        print(f"{name:18} {ns / calls:7.0f} ns per call, {calls / count:5.2f} calls per connection")
PY
