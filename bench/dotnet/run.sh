#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Requests per second of samples/WhoAmI with and without UseToa(), short connections
# (one request per connection), measured side by side: interleaved rounds, medians.
# A second server without UseToa is the control: the ratio of the two identical servers shows
# how far the bench itself leans, so a with/without ratio is read against it.
# Usage: bench/dotnet/run.sh [rounds=10] [seconds=5]
# Run by hand as root, not in CI. The servers run in a cgroup of the bench's own with the receiver
# loaded for it, so UseToa's record lookup is what they differ by; servers on CPU 0 and wrk on
# CPU 1 (on machines with two or more), so that the two do not trade places between rounds.
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
# exec: so that $! is the server itself, which the cleanup kills.
in_cgroup() { exec sh -c 'echo $$ > "$0/cgroup.procs" && shift && exec "$@"' "$cg" _ "$@"; }
server_cpu=(); client_cpu=()
if [ "$(nproc)" -ge 2 ]; then server_cpu=(taskset -c 0); client_cpu=(taskset -c 1); fi
serve() { in_cgroup "${server_cpu[@]}" "$out/WhoAmI" --urls "http://127.0.0.1:$1" --Toa:ReceiverPinDirectory="$pins" --Logging:LogLevel:Default=None "${@:2}" & }
serve 18081 --Toa:Enabled=true; with=$!
serve 18082 --Toa:Enabled=false; without=$!
serve 18083 --Toa:Enabled=false; control=$!
cleanup() { kill $with $without $control 2>/dev/null; wait 2>/dev/null; "$root/toa" unload --pin-dir "$pins" >/dev/null; rmdir "$cg"; }
trap cleanup EXIT
sleep 2
for port in 18081 18082 18083; do curl -sf "http://127.0.0.1:$port/whoami" >/dev/null; done

rate() { "${client_cpu[@]}" wrk -t1 -c32 -d"${seconds}s" -H 'Connection: close' "http://127.0.0.1:$1/whoami" | awk '/Requests\/sec/ {print $2}'; }
for port in 18081 18082 18083; do rate $port >/dev/null; done   # warm-up
declare -A got=()
ports=(18081 18082 18083)
for i in $(seq "$rounds"); do
  # Rotate which goes first so drift in the machine's state hits all alike.
  for k in 0 1 2; do
    port=${ports[$(( (k + i) % 3 ))]}
    got[$port]+="$(rate $port) "
  done
  echo "round $i: with UseToa $(echo ${got[18081]} | awk '{print $NF}') req/s, without $(echo ${got[18082]} | awk '{print $NF}'), control $(echo ${got[18083]} | awk '{print $NF}')"
done
median() { printf '%s\n' $1 | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
ma=$(median "${got[18081]}"); mb=$(median "${got[18082]}"); mc=$(median "${got[18083]}")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a/b}'; }
echo "median with UseToa: $ma req/s; without: $mb req/s; control (without, second server): $mc req/s"
echo "ratio with/without: $(ratio "$ma" "$mb"); with/control: $(ratio "$ma" "$mc"); control/without (the bench's own lean): $(ratio "$mc" "$mb")"
