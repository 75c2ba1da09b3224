#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Connections per second of an accept-heavy loopback loop (connect, accept,
# getpeername, getsockopt 4096, close) in cgroups side by side, interleaved
# rounds in one run, medians, per second of wall time and per second of CPU time:
#   without    no receiver
#   with       the receiver (toa load), tracing off
#   traced     a second receiver (toa load), tracing on, `toa log -f` reading
#   built-in   the receiver's object loaded with bpftool, tracing off
#   built-out  the same object compiled with -DTOA_TRACE=0 (no trace code at all)
# built-in against built-out is what the trace's off switch costs; traced against
# with, what tracing on costs. Then each program's cost per call and calls per
# connection in each cgroup (kernel.bpf_stats_enabled).
# Usage (root, by hand, not in CI): bench/receiver/run.sh [rounds=7] [seconds=3]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rounds=${1:-7}; seconds=${2:-3}
out="$root/artifacts/bench-receiver"
mkdir -p "$out"
"$root/toa" --help >/dev/null   # builds toa when needed
gcc -O2 -Wall -o "$out/accept_loop" "$root/bench/receiver/accept_loop.c"
# The flags of bpf/Bpf.targets.
for trace in 1 0; do
  clang -O2 -g -target bpf -mcpu=v3 -Wall -Werror -DTOA_TRACE=$trace -I/usr/include/"$(gcc -print-multiarch)" \
    -I"$root/bpf" -c "$root/bpf/receiver.bpf.c" -o "$out/receiver-trace$trace.bpf.o"
done

cgroot=$(findmnt -t cgroup2 -n -o TARGET | head -1)
configs=(without with traced built-in built-out)
declare -A port=([without]=19002 [with]=19001 [traced]=19003 [built-in]=19004 [built-out]=19005)
cg() { echo "$cgroot/toa-bench-$1"; }
pins=/sys/fs/bpf/toa-bench; traced_pins=/sys/fs/bpf/toa-bench-traced; bpftool_pins=/sys/fs/bpf/toa-bench-bpftool
reader=""
cleanup() {
  [ -n "$reader" ] && kill "$reader" 2>/dev/null && wait "$reader" 2>/dev/null || true
  "$root/toa" unload --pin-dir "$pins" >/dev/null 2>&1 || true
  "$root/toa" unload --pin-dir "$traced_pins" >/dev/null 2>&1 || true
  sysctl -qw kernel.bpf_stats_enabled=0
  # Removing a cgroup releases the programs bpftool attached to it.
  for c in "${configs[@]}"; do rmdir "$(cg "$c")" 2>/dev/null || true; done
  rm -rf "$bpftool_pins"
}
trap cleanup EXIT
for c in "${configs[@]}"; do mkdir -p "$(cg "$c")"; done
"$root/toa" load --cgroup "$(cg with)" --pin-dir "$pins" >/dev/null
"$root/toa" load --cgroup "$(cg traced)" --pin-dir "$traced_pins" >/dev/null
"$root/toa" log --enable --pin-dir "$traced_pins" >/dev/null
"$root/toa" log --follow --pin-dir "$traced_pins" > "$out/trace.log" 2>&1 &
reader=$!
for trace in 1 0; do
  c=$([ $trace = 1 ] && echo built-in || echo built-out)
  mkdir -p "$bpftool_pins/$c"
  bpftool prog loadall "$out/receiver-trace$trace.bpf.o" "$bpftool_pins/$c/progs" pinmaps "$bpftool_pins/$c/maps"
  for hook in sock_ops:toa_sockops getpeername4:toa_getpeername4 getpeername6:toa_getpeername6 getsockopt:toa_getsockopt; do
    bpftool cgroup attach "$(cg "$c")" "${hook%%:*}" pinned "$bpftool_pins/$c/progs/${hook#*:}"
  done
done

rate() { sh -c "echo \$\$ > '$(cg "$1")/cgroup.procs' && exec '$out/accept_loop' ${port[$1]} $2"; }
for c in "${configs[@]}"; do rate "$c" 1 >/dev/null; done   # warm-up
echo "$(nproc) CPUs, kernel $(uname -r), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A wall cpu
for i in $(seq "$rounds"); do
  # Rotate which goes first so drift in the machine's state hits all alike.
  line="round $i:"
  for j in "${!configs[@]}"; do
    c=${configs[$(( (i + j) % ${#configs[@]} ))]}
    read -r w u <<< "$(rate "$c" "$seconds")"
    wall[$c]+="$w "; cpu[$c]+="$u "
  done
  for c in "${configs[@]}"; do line+=" $c $(echo ${wall[$c]} | awk '{print $NF}')/$(echo ${cpu[$c]} | awk '{print $NF}')"; done
  echo "$line (conn/s / per CPU second)"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
# report WHAT A B: medians of A and B, the ratio of the medians and the median of the rounds' ratios.
report() {
  local -n rates=$1
  local a=(${rates[$2]}) b=(${rates[$3]}) ratios=() i ma mb
  for i in "${!a[@]}"; do ratios+=("$(awk -v x="${a[$i]}" -v y="${b[$i]}" 'BEGIN {printf "%.4f", x/y}')"); done
  ma=$(median "${a[@]}"); mb=$(median "${b[@]}")
  printf "%-9s / %-9s %-22s median %8s / %8s; ratio of medians %s; median of the ratios of each round %s\n" "$2" "$3" "$4" \
    "$ma" "$mb" "$(awk -v x="$ma" -v y="$mb" 'BEGIN {printf "%.3f", x/y}')" "$(median "${ratios[@]}")"
}
for r in wall cpu; do
  what=$([ $r = wall ] && echo "connections per second" || echo "conn per CPU second")
  report $r with without "$what"
  report $r built-in built-out "$what"
  report $r traced with "$what"
done
echo "trace events read: $(grep -c ' absent ' "$out/trace.log" || true) (lines of toa log -f, one per connection in the traced cgroup)"

# Per-program cost: one more run per cgroup with statistics on (they add two clock
# reads per program run, so the rates above are measured without them).
echo "per program, with kernel.bpf_stats_enabled=1:"
for c in with traced built-in built-out; do
  ids=$(bpftool cgroup show "$(cg "$c")" | awk '/toa_/ {print $1}')
  snapshot() { for id in $ids; do bpftool prog show id "$id" -j; echo; done; }
  before=$(snapshot)
  sysctl -qw kernel.bpf_stats_enabled=1
  count=$(rate "$c" "$seconds" | awk -v s="$seconds" '{printf "%d", $1*s}')
  sysctl -qw kernel.bpf_stats_enabled=0
  after=$(snapshot)
  python3 - "$c" "$count" <<PY
import json, sys
config, count = sys.argv[1], int(sys.argv[2])
def load(text):
    return {p["name"]: p for p in (json.loads(l) for l in text.splitlines() if l.strip())}
before, after = load("""$before"""), load("""$after""")
for name, p in sorted(after.items()):
    calls = p.get("run_cnt", 0) - before[name].get("run_cnt", 0)
    ns = p.get("run_time_ns", 0) - before[name].get("run_time_ns", 0)
    if calls:
        print(f"  {config:9} {name:18} {ns / calls:7.1f} ns per call, {calls / count:5.2f} calls per connection")
PY
done
