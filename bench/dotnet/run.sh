#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Requests per second of samples/WhoAmI with and without UseToa(), short connections
# (one request per connection), measured side by side: interleaved rounds, medians.
# Usage: bench/dotnet/run.sh [rounds=10] [seconds=5]
# Run by hand as root, not in CI. Both servers run in a cgroup of the bench's own with the receiver
# loaded for it, so UseToa's record lookup is what the two differ by.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rounds=${1:-10}; seconds=${2:-5}
out="$root/artifacts/bench-whoami"
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
dotnet publish "$root/samples/WhoAmI" -c Release -o "$out" --nologo -v quiet >/dev/null

cg=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/mounts)/toa-bench-dotnet
pins=/sys/fs/bpf/toa-bench-dotnet
mkdir -p "$cg"
"$root/toa" load --cgroup "$cg" --pin-dir "$pins" >/dev/null
in_cgroup() { sh -c 'echo $$ > "$0/cgroup.procs" && shift && exec "$@"' "$cg" _ "$@"; }
in_cgroup "$out/WhoAmI" --urls http://127.0.0.1:18081 --Toa:Enabled=true --Toa:ReceiverPinDirectory="$pins" --Logging:LogLevel:Default=None &
with=$!
in_cgroup "$out/WhoAmI" --urls http://127.0.0.1:18082 --Toa:Enabled=false --Logging:LogLevel:Default=None &
without=$!
cleanup() { kill $with $without 2>/dev/null; wait 2>/dev/null; "$root/toa" unload --pin-dir "$pins" >/dev/null; rmdir "$cg"; }
trap cleanup EXIT
sleep 2
for port in 18081 18082; do curl -sf "http://127.0.0.1:$port/whoami" >/dev/null; done

rate() { wrk -t1 -c32 -d"${seconds}s" -H 'Connection: close' "http://127.0.0.1:$1/whoami" | awk '/Requests\/sec/ {print $2}'; }
rate 18081 >/dev/null; rate 18082 >/dev/null   # warm-up
a=(); b=()
for i in $(seq "$rounds"); do
  # Alternate which goes first so drift in the machine's state hits both alike.
  if [ $((i % 2)) -eq 1 ]; then a+=("$(rate 18081)"); b+=("$(rate 18082)"); else b+=("$(rate 18082)"); a+=("$(rate 18081)"); fi
  echo "round $i: with UseToa ${a[-1]} req/s, without ${b[-1]} req/s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
ma=$(median "${a[@]}"); mb=$(median "${b[@]}")
echo "median with UseToa: $ma req/s; without: $mb req/s; ratio: $(awk -v a="$ma" -v b="$mb" 'BEGIN {printf "%.3f", a/b}')"
