#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# toa lb against HAProxy (mode tcp) and against no balancer: the same backends, the same run,
# interleaved rounds, medians. Measures new connections per second (one HTTP request per
# connection, wrk), the p99 latency of those requests, the balancer's CPU time per connection, and
# bulk throughput (one iperf3 stream); toa lb with TOA on and off (two listeners of one process).
# Usage: bench/lb/run.sh [rounds=5] [seconds=5] [all|toa|netns]
# "toa" measures only toa lb's two listeners, TOA on and off, without bulk: more rounds in the same
# time for the one ratio that needs them (bench/lb/run.sh 30 3 toa).
# "netns" runs bench/lb/netns.sh instead: the client, the balancer and the backends in network
# namespaces of their own joined by veth, as a balancer is deployed (rounds default to 3 there).
# Run by hand as root, not in CI. Everything else runs in a network namespace of its own, on its loopback.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [ "${3:-}" = netns ]; then exec "$root/bench/lb/netns.sh" "${1:-3}" "${2:-5}"; fi
source "$root/bench/lb/lib.sh"
rounds=${1:-5}; seconds=${2:-5}; what=${3:-all}
case $what in all|toa) ;; *) echo "usage: bench/lb/run.sh [rounds] [seconds] [all|toa|netns]"; exit 2;; esac
for tool in haproxy wrk iperf3; do
  command -v $tool >/dev/null || { echo "needs $tool (apt-get install $tool)"; exit 1; }
done
"$root/toa" --version >/dev/null   # builds toa when needed
toa="$root/artifacts/toa/toa"

ns=toa-bench-lb-$$
work=$(mktemp -d /tmp/toa-bench-lb-XXXXXX)
pids=()
cleanup() {
  # SIGTERM, not SIGINT: a script's background jobs ignore SIGINT. toa lb removes its own cgroup as it stops.
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
# Short connections at this rate would run out of ports in TIME_WAIT.
ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65535"
# nsenter, not ip netns exec: toa lb must see the cgroup file system to attach its TOA writer.
in_ns() { nsenter --net="/var/run/netns/$ns" "$@"; }

# Backends: a tiny HTTP answer from HAProxy's own engine (C, fast), and an iperf3 sink.
http=18000; bulk=18001
cat > "$work/backend.cfg" <<CFG
global
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 1m
  timeout server 1m
frontend web
  bind 127.0.0.1:$http
  http-request return status 200 content-type text/plain string "ok"
CFG
# The balancers: HAProxy mode tcp (threads: one per CPU, its default; splice on, as toa lb splices) and toa lb.
cat > "$work/haproxy.cfg" <<CFG
global
  maxconn 4000
defaults
  mode tcp
  option splice-auto
  timeout connect 5s
  timeout client 1m
  timeout server 1m
listen web
  bind 127.0.0.1:18100
  server s 127.0.0.1:$http
listen bulk
  bind 127.0.0.1:18101
  server s 127.0.0.1:$bulk
CFG
# No health checks, as HAProxy has none here (no "check"); a check landing on iperf3 between a
# test's control and data connections would also break that test.
nochecks='{ "interval": "1h", "timeout": "5s" }'
cat > "$work/lb.json" <<CFG
{ "admin": "", "shutdownTimeout": "1s", "listeners": [
  { "name": "web-off", "address": "127.0.0.1:18200", "toa": "off", "health": $nochecks, "backends": [ { "address": "127.0.0.1:$http" } ] },
  { "name": "bulk-off", "address": "127.0.0.1:18201", "toa": "off", "health": $nochecks, "backends": [ { "address": "127.0.0.1:$bulk" } ] },
  { "name": "web-on", "address": "127.0.0.1:18300", "toa": "tencent", "health": $nochecks, "backends": [ { "address": "127.0.0.1:$http" } ] },
  { "name": "bulk-on", "address": "127.0.0.1:18301", "toa": "tencent", "health": $nochecks, "backends": [ { "address": "127.0.0.1:$bulk" } ] } ] }
CFG
# nsenter execs the program, so $! is the server itself.
enter=(nsenter --net="/var/run/netns/$ns")
"${enter[@]}" haproxy -db -f "$work/backend.cfg" & pids+=($!)
# Health checks (connect, then reset) make the iperf3 server complain on stderr: harmless.
"${enter[@]}" iperf3 -s -p $bulk >/dev/null 2>&1 & pids+=($!)
"${enter[@]}" haproxy -db -f "$work/haproxy.cfg" & pids+=($!); balancer_pid=$!
"${enter[@]}" "$toa" lb --config "$work/lb.json" 2>"$work/lb.log" & pids+=($!); lb_pid=$!
for _ in $(seq 100); do [ "$(grep -c ' accepting on ' "$work/lb.log")" = 4 ] && break; sleep 0.2; done
grep -q 'TOA writer attached' "$work/lb.log" || { echo "toa lb did not start:"; cat "$work/lb.log"; exit 1; }

names=(direct haproxy lb-toa-off lb-toa-on)
pairs=("lb-toa-off haproxy" "lb-toa-on haproxy" "haproxy direct" "lb-toa-off direct" "lb-toa-on lb-toa-off")
if [ "$what" = toa ]; then names=(lb-toa-off lb-toa-on); pairs=("lb-toa-on lb-toa-off"); fi
declare -A web=([direct]=$http [haproxy]=18100 [lb-toa-off]=18200 [lb-toa-on]=18300)
declare -A pid=([haproxy]=$balancer_pid [lb-toa-off]=$lb_pid [lb-toa-on]=$lb_pid)
declare -A blk=([direct]=$bulk [haproxy]=18101 [lb-toa-off]=18201 [lb-toa-on]=18301)

# "Requests/sec: N" and the "99% Xms" line of wrk --latency, as "N P99_MS".
short() {
  in_ns wrk -t1 -c32 -d"${seconds}s" --latency -H 'Connection: close' "http://127.0.0.1:$1/" | awk '
    /^ +99%/ { v = $2; if (v ~ /us$/) p = v / 1000; else if (v ~ /ms$/) p = v + 0; else p = v * 1000 }
    /Requests\/sec/ { r = $2 }
    END { printf "%s %.2f\n", r, p }'
}
# One iperf3 stream's received rate in Gbit/s.
stream() { in_ns iperf3 -c 127.0.0.1 -p "$1" -t "$seconds" -f g | awk '/receiver/ { print $(NF-2) }'; }

for n in "${names[@]}"; do short "${web[$n]}" >/dev/null; done   # warm-up
declare -A rate p99 gbit cpu byround
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$rounds"); do
  # Rotate the order each round so drift in the machine's load hits every target alike.
  for k in "${!names[@]}"; do
    n=${names[$(( (k + i) % ${#names[@]} ))]}
    # Direct has no balancer: its CPU column stays "-".
    c=-; [ -n "${pid[$n]:-}" ] && before=$(ticks "${pid[$n]}")
    read -r r p < <(short "${web[$n]}")
    [ -n "${pid[$n]:-}" ] && c=$(per_conn_us $(( $(ticks "${pid[$n]}") - before )) "$r" "$seconds")
    g=-; [ "$what" = all ] && g=$(stream "${blk[$n]}")
    rate[$n]+="$r "; p99[$n]+="$p "; gbit[$n]+="$g "; cpu[$n]+="$c "; byround[$i,$n]="$r $p $g $c"
    printf 'round %d %-11s %9s conn/s  p99 %7s ms  %6s Gbit/s  %4s cpu us/conn  (load %s)\n' "$i" "$n" "$r" "$p" "$g" "$c" "$(cut -d' ' -f1 /proc/loadavg)"
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

declare -A mr mp mg mc
echo
printf '%-11s %12s %10s %10s %14s\n' target "conn/s" "p99 ms" "Gbit/s" "cpu us/conn"
for n in "${names[@]}"; do
  mr[$n]=$(median "${rate[$n]}"); mp[$n]=$(median "${p99[$n]}"); mg[$n]=-; [ "$what" = all ] && mg[$n]=$(median "${gbit[$n]}")
  mc[$n]=-; [ -n "${pid[$n]:-}" ] && mc[$n]=$(median "${cpu[$n]}")
  printf '%-11s %12s %10s %10s %14s\n' "$n" "${mr[$n]}" "${mp[$n]}" "${mg[$n]}" "${mc[$n]}"
done
# Ratios of the medians, and in brackets the median of the rounds' own ratios.
echo
for pair in "${pairs[@]}"; do
  set -- $pair
  printf '%-22s conn/s %s [%s]  p99 %s [%s]' "$1 / $2" \
    "$(ratio "${mr[$1]}" "${mr[$2]}")" "$(paired "$1" "$2" 1)" \
    "$(ratio "${mp[$1]}" "${mp[$2]}")" "$(paired "$1" "$2" 2)"
  [ "$what" = all ] && printf '  Gbit/s %s [%s]' "$(ratio "${mg[$1]}" "${mg[$2]}")" "$(paired "$1" "$2" 3)"
  [ "$2" != direct ] && printf '  cpu/conn %s [%s]' "$(ratio "${mc[$1]}" "${mc[$2]}")" "$(paired "$1" "$2" 4)"
  echo
done
echo
echo "rounds' ratios, mean ± standard error:"
for pair in "${pairs[@]}"; do
  set -- $pair
  printf '%-22s conn/s %s' "$1 / $2" "$(mean_se "$1" "$2" 1)"
  [ "$2" != direct ] && printf '  cpu/conn %s' "$(mean_se "$1" "$2" 4)"
  echo
done
