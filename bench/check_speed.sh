#!/usr/bin/env bash
# check_speed.sh — how long `nnc check` takes on a generated program of about 10,000 lines
# (issue target: under 0.5 s). Prints the line count and the median of 5 runs.
# Usage: bench/check_speed.sh [NNC] [LINES]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
nnc=${1:-$here/../build/nnc}
lines=${2:-10000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$here/gen_check_program.py" "$lines" > "$tmp/big.nn"
"$nnc" check "$tmp/big.nn"
times=()
for _ in 1 2 3 4 5; do
    start=$(date +%s.%N)
    "$nnc" check "$tmp/big.nn"
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc -l)")
done
median=$(printf '%s\n' "${times[@]}" | sort -g | sed -n 3p)
printf 'nnc check: %d lines, median of 5 runs %.3f s\n' "$(wc -l < "$tmp/big.nn")" "$median"
