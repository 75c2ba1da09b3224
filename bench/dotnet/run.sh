#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Requests per second of samples/WhoAmI with and without UseToa(), short connections
# (one request per connection), measured side by side: interleaved rounds, medians.
# Usage: bench/dotnet/run.sh [rounds=10] [seconds=5]
# Run by hand, not in CI. Load a receiver first (toa load) to measure that path too.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rounds=${1:-10}; seconds=${2:-5}
out="$root/artifacts/bench-whoami"
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
dotnet publish "$root/samples/WhoAmI" -c Release -o "$out" --nologo -v quiet >/dev/null

"$out/WhoAmI" --urls http://127.0.0.1:18081 --Toa:Enabled=true --Logging:LogLevel:Default=None &
with=$!
"$out/WhoAmI" --urls http://127.0.0.1:18082 --Toa:Enabled=false --Logging:LogLevel:Default=None &
without=$!
trap 'kill $with $without 2>/dev/null' EXIT
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
