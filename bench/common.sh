# common.sh — what the training-step benchmarks share (sourced by mlp.sh, lenet.sh and
# models.sh,
# after they set $here to their folder). Sets nnc (the script's first argument, default
# build/nnc), runs (its second, default 3), peers (shared/peers/torch, or $PEERS) and tmp
# (a scratch folder removed on exit).
nnc=${1:-$here/../build/nnc}
runs=${2:-3}
peers=${PEERS:-$here/../../shared/peers/torch}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

# nnc_line_ms LINE FILE.nn [SETTINGS...] [-- ARGS...]: compiles FILE to an executable with
# SETTINGS (--NAME VALUE, e.g. --batch 256), runs it $runs times with ARGS, and prints the
# median ms per step of its progress line LINE (one line per epoch of the training loop;
# an example evaluates after it).
nnc_line_ms() {
    local line=$1 file=$2 exe settings=()
    shift 2
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        settings+=("$1")
        shift
    done
    [ $# -gt 0 ] && shift
    exe=$tmp/$(basename "$file" .nn)
    "$nnc" "$file" -o "$exe" -- "${settings[@]}"
    for _ in $(seq "$runs"); do
        "$exe" "$@" 2>&1 >/dev/null | tr '\r' '\n' | grep -o '([0-9.]* it/s)' |
            sed -n "${line}p" | tr -d '(' | awk '{printf "%.4f\n", 1000 / $1}'
    done | median
}

# nnc_ms FILE.nn [SETTINGS...] [-- ARGS...]: the first epoch's ms per step (models.sh runs
# an example for --epochs 1 --limit STEPS: a start-up of a few steps is a small share of
# its slow steps).
nnc_ms() { nnc_line_ms 1 "$@"; }

# nnc_steady_ms FILE.nn [SETTINGS...]: the second epoch's ms per step of a run of two, as
# the PyTorch peers time their steps after 5 warm-up steps. The first epoch holds the
# start-up: oneDNN generates its kernels and the memory is first touched in the first
# steps (the MLP's first step at batch 256 takes about 30 ms, 12 steady ones).
nnc_steady_ms() { nnc_line_ms 2 "$@" -- --epochs 2; }

# torch_ms SCRIPT NAME: the peer's median ms per step for the line NAME of SCRIPT, the
# faster of 1 and 2 threads, OPENBLAS_CORETYPE unset (shared/peers/README.md); nan
# without Debian's python3-torch.
torch_ms() {
    local script=$1 name=$2 best="" v
    for t in 1 2; do
        v=$(cd "$peers" && env -u OPENBLAS_CORETYPE THREADS=$t /usr/bin/python3 "$script" \
                2>/dev/null | awk -v n="$name" '$1 == n {print $2}')
        [ -n "$v" ] && { [ -z "$best" ] || awk -v a="$v" -v b="$best" 'BEGIN{exit !(a < b)}'; } &&
            best=$v
    done
    echo "${best:-nan}"
}

# ratio A B: A / B with two decimals, "-" when B is nan.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (b == "nan") print "-"; else printf "%.2f", a / b}'; }
