#!/usr/bin/env bash
# bench/mlp.sh — MLP training step time, nnc against PyTorch, side by side on this machine.
#
# nnc: bench/mlp.nn compiled to an executable per batch size (nnc FILE -o EXE -- --batch B),
# two epochs of Fashion-MNIST (938 or 235 steps each, the last smaller) run RUNS times; the
# time per step is the second epoch's steps / (it/s) from its progress line (the first
# holds the start-up, as PyTorch's warm-up steps do), median over runs. PyTorch:
# shared/peers/torch/mlp.py (median of 20 steps after 5 warm-ups) with OPENBLAS_CORETYPE
# unset and the faster of 1 and 2 threads, as shared/peers/README.md prescribes.
#
# Prints ms/step for both, the ratio nnc/PyTorch (below 1: nnc is faster), and nnc's
# GFLOP/s (6 x batch x parameters per step, the issue's count) as a share of the nominal
# FP32 peak (474 GFLOP/s on the 2 cores of the reference Zen 5 machine) and of the peak
# measured on this host by bench/roofline.c (an FMA throughput loop on as many threads as
# nnc runs). gemm_ms is the step's matrix products alone, each one oneDNN sgemm call on
# all threads, back to back (roofline.c mlp-gemms). nnc cuts each product into parts of
# one thread each (runtime/rt_matmul.c), which ran faster on this host. Needs a C
# compiler and oneDNN's headers (the build's). The PyTorch side needs
# Debian's python3-torch and an optimized BLAS for it: libopenblas0-pthread (without it
# PyTorch falls back to the reference BLAS and is several times slower).
# Usage: bench/mlp.sh [NNC] [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh" # nnc, runs, peers, tmp

flops() { echo "$1" | awk '{print 6 * $1 * (784 * 512 + 512 * 256 + 256 * 10)}'; }

roofline=$tmp/roofline
cc -O2 -march=native -o "$roofline" "$here/roofline.c" -ldnnl -lpthread
threads=$(nproc)
peak=$("$roofline" peak "$threads")
echo "FP32 FMA peak measured on $threads threads: $peak GFLOP/s (nominal: 474)"
columns='%-10s %8s %8s %6s %8s %6s %9s %8s\n'
# shellcheck disable=SC2059 # the format is $columns
printf "$columns" model nnc_ms torch_ms ratio GFLOP/s %474 %measured gemm_ms
for b in 64 256; do
    n=$(nnc_steady_ms "$here/mlp.nn" --batch "$b")
    t=$(torch_ms mlp.py "mlp_b${b}_train")
    g=$(OMP_NUM_THREADS=$threads "$roofline" mlp-gemms "$b")
    gf=$(awk -v f="$(flops "$b")" -v ms="$n" 'BEGIN{printf "%.1f", f / (ms * 1e6)}')
    # shellcheck disable=SC2059
    printf "$columns" "mlp_b$b" "$(printf %.3f "$n")" "$t" "$(ratio "$n" "$t")" "$gf" \
        "$(awk -v g="$gf" 'BEGIN{printf "%.0f%%", 100 * g / 474}')" \
        "$(awk -v g="$gf" -v p="$peak" 'BEGIN{printf "%.0f%%", 100 * g / p}')" "$g"
done
