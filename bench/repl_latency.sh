#!/usr/bin/env bash
# repl_latency.sh — how long `nnc repl` takes to evaluate a small expression, from input to
# printed result: sessions of 1 and 1 + N entries are timed, and the difference divided by
# N is the time per entry (start-up and the standard library's import cancel out). The
# median of RUNS runs is reported. Usage: bash bench/repl_latency.sh [NNC] (default
# build/nnc). Target (issue 5): under 50 ms.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
NNC=${1:-build/nnc}
N=${N:-200}
RUNS=${RUNS:-5}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
echo 'x = [1.0, 2.0, 3.0]' >"$T/one.repl"
{ cat "$T/one.repl"; for _ in $(seq "$N"); do echo 'x * 2 + 1'; done; } >"$T/many.repl"

seconds() {  # seconds FILE: wall time of one session
    local start end
    start=$(date +%s.%N)
    "$NNC" repl <"$1" >/dev/null
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { print b - a }'
}

per_entry=()
for _ in $(seq "$RUNS"); do
    a=$(seconds "$T/one.repl")
    b=$(seconds "$T/many.repl")
    per_entry+=("$(awk -v a="$a" -v b="$b" -v n="$N" 'BEGIN { print (b - a) * 1000 / n }')")
done
median=$(printf '%s\n' "${per_entry[@]}" | sort -g | sed -n "$(((RUNS + 1) / 2))p")
printf 'repl: a small expression takes %.1f ms from input to result (median of %d runs of %d entries; runs: %s)\n' \
    "$median" "$RUNS" "$N" "$(printf '%.1f ' "${per_entry[@]}")"
