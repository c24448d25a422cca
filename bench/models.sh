#!/usr/bin/env bash
# bench/models.sh — training step time of the other examples, nnc against PyTorch, side
# by side on this machine: ResNet-20 (batch 32), the U-Net (batch 8), the character LSTM
# and Transformer (batch 16, 64 characters), each at the peer's batch size and shapes
# (shared/peers/torch/{resnet20,unet,lstm,transformer}.py).
#
# nnc: the example itself, compiled to an executable with the peer's batch size
# (nnc FILE -o EXE -- --batch B), trained for STEPS steps of one epoch (its --limit
# setting) RUNS times; ms per step from the training loop's progress line (its it/s, the
# first step's set-up included), median over runs. PyTorch: the peer script (median of 20
# steps after 5 warm-ups, on random data of the same shapes), the faster of 1 and 2
# threads with OPENBLAS_CORETYPE unset. The character models' vocabulary differs: 73
# characters (the corpus's) for nnc, 96 for the peer. Needs the set-up's data
# (Fashion-MNIST, /usr/local/share/datasets/kjv.txt). Usage: bench/models.sh [NNC] [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh" # nnc, runs, peers, tmp
examples=$here/../examples

printf '%-22s %10s %10s %8s\n' model nnc_ms torch_ms ratio
row() {  # row NAME FILE STEPS BATCH SCRIPT PEER_NAME
    local n t
    n=$(nnc_ms "$examples/$2" --batch "$4" -- --epochs 1 --limit "$3" --out "$tmp/out.safetensors")
    t=$(torch_ms "$5" "$6")
    printf '%-22s %10.3f %10s %8s\n' "$1" "$n" "$t" "$(ratio "$n" "$t")"
}
row resnet20_b32 resnet.nn 100 32 resnet20.py resnet20_b32_train
row unet_b8 unet.nn 30 8 unet.py unet_d3_c16_b8_train
row lstm_b16_t64 lstm.nn 60 16 lstm.py lstm_charlm_h256_b16_t64_train
row transformer_b16_t64 transformer.nn 60 16 transformer.py transformer_charlm_b16_t64_train
