#!/usr/bin/env bash
# bench/lenet.sh — LeNet-5 training step time, nnc against PyTorch, side by side on this
# machine (issue 4's target: nnc at most 0.35x PyTorch's time at batch 64).
#
# nnc: bench/lenet.nn compiled to an executable, two epochs of Fashion-MNIST (937 steps
# each) run RUNS times; ms per step from the second epoch's progress line (the first holds
# the start-up, as PyTorch's warm-up steps do), median over runs. PyTorch:
# shared/peers/torch/lenet.py (median of 20 steps after 5 warm-ups), the faster of 1 and 2
# threads with OPENBLAS_CORETYPE unset. Needs Debian's python3-torch for the PyTorch side
# (without it the ratio is "-"). Usage: bench/lenet.sh [NNC] [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh" # nnc, runs, peers, tmp

n=$(nnc_steady_ms "$here/lenet.nn")
t=$(torch_ms lenet.py lenet5_b64_train)
printf '%-14s %10s %10s %8s\n' model nnc_ms torch_ms ratio
printf '%-14s %10.3f %10s %8s\n' lenet5_b64 "$n" "$t" "$(ratio "$n" "$t")"
