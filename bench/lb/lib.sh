# SPDX-License-Identifier: MIT
# What bench/lb's two modes share: the statistics of their rounds and the balancer's CPU time.
# Sourced, not run. The round functions read the caller's `rounds` and `byround` (an associative
# array: byround[ROUND,TARGET] is that round's figures, space-separated, in the caller's order).

# LIST [FORMAT]: the median of numbers separated by white space, printed with FORMAT (printf's;
# default: as it is); "-" entries (no figure) are left out.
median() {
  printf '%s\n' $1 | awk '$1 != "-"' | sort -n | awk -v f="${2:-}" '{v[NR]=$1}
    END { if (!NR) { print "-"; exit } m = (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; if (f == "") print m; else printf f "\n", m }'
}
# A / B to three decimals, "-" when either is no figure or B is zero.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.3f", a / b }'; }

# The balancer's CPU time (user and system, in clock ticks) so far; its difference over a run,
# divided by that run's connections, is the CPU time each connection cost the balancer.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# TICKS CONN_PER_S SECONDS: microseconds of CPU per connection.
per_conn_us() {
  awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v r="$2" -v s="$3" 'BEGIN { if (r > 0) printf "%.0f", t * 1e6 / hz / (r * s); else print "-" }'
}

# A B FIELD: each round's ratio of A's figure to B's (the FIELDth of byround's entries).
round_ratios() {
  local k=$3 i a b
  for i in $(seq "$rounds"); do
    a=$(cut -d' ' -f"$k" <<<"${byround[$i,$1]}"); b=$(cut -d' ' -f"$k" <<<"${byround[$i,$2]}")
    printf '%s ' "$(ratio "$a" "$b")"
  done
}
# The median of the rounds' own ratios: the machine's load drifts between rounds, and a round's
# targets ran close together.
paired() { median "$(round_ratios "$@")" %.3f; }
# The rounds' ratios as mean ± standard error: how far the estimate itself may be off.
mean_se() {
  printf '%s\n' $(round_ratios "$@") | awk '$1 != "-" { s += $1; q += $1 * $1; n++ }
    END { if (!n) { print "-"; exit } m = s / n; v = n > 1 ? (q - n * m * m) / (n - 1) : 0; printf "%.3f ± %.3f", m, sqrt(v > 0 ? v : 0) / sqrt(n) }'
}
