#!/usr/bin/env bash
# bench/mlp.sh — MLP training step time, nnc against PyTorch, side by side on this machine.
#
# nnc: bench/mlp.nn compiled to an executable per batch size (nnc FILE -o EXE -- --batch B),
# one epoch of Fashion-MNIST (938 or 235 steps, the last smaller) run RUNS times; the time
# per step is the epoch's steps / (it/s) from the progress line, median over runs. PyTorch:
# shared/peers/torch/mlp.py (median of 20 steps after 5 warm-ups) with OPENBLAS_CORETYPE
# unset and the faster of 1 and 2 threads, as shared/peers/README.md prescribes. Prints ms/step for both, the ratio nnc/PyTorch
# (below 1: nnc is faster), and nnc's GFLOP/s against the machine's FP32 peak (474 GFLOP/s
# on the 2 cores of the reference Zen 5 machine; other hosts differ). The PyTorch side needs
# Debian's python3-torch and an optimized BLAS for it: libopenblas0-pthread (without it
# PyTorch falls back to the reference BLAS and is several times slower).
# Usage: bench/mlp.sh [NNC] [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh" # nnc, runs, peers, tmp

flops() { echo "$1" | awk '{print 6 * $1 * (784 * 512 + 512 * 256 + 256 * 10)}'; }

printf '%-14s %10s %10s %8s %10s\n' model nnc_ms torch_ms ratio nnc_GFLOPs
for b in 64 256; do
    n=$(nnc_ms "$here/mlp.nn" --batch "$b")
    t=$(torch_ms mlp.py "mlp_b${b}_train")
    gf=$(awk -v f="$(flops "$b")" -v ms="$n" 'BEGIN{printf "%.1f", f / (ms * 1e6)}')
    printf '%-14s %10.3f %10s %8s %10s\n' "mlp_b$b" "$n" "$t" "$(ratio "$n" "$t")" "$gf"
done
