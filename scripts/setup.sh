#!/usr/bin/env bash
# setup.sh — install what building, running and testing nnc needs on Debian 12.
#
# Idempotent and quiet when nothing is missing: each package is checked with `dpkg -s`, and
# apt-get (update, then install) runs only for the missing ones, non-interactively. Works as
# root; as another user it goes through sudo when sudo exists.
set -euo pipefail

# What each package is for:
#   llvm-19-dev           the LLVM C API (codegen, ORC JIT) and its CMake package
#   clang-19              the fuzz build's compiler (libFuzzer needs clang)
#   libclang-rt-19-dev    libFuzzer and the clang sanitizer runtimes
#   re2c, bison           the lexer and parser generators
#   libdnnl-dev           oneDNN: GEMM and convolution kernels of the runtime
#   zlib1g-dev            reading gzip'd IDX data sets
#   libedit-dev           line editing in `nnc repl`
#   cmake, make, gcc, libc6-dev   the build itself
#   g++                   compiler/codegen/cpu_x86.cpp, the one C++ file: LLVM's table of
#                         x86 CPU names, which the C API cannot query (docs/architecture.md)
#   python3               tests/tools/numdiff.py
#   dataset-fashion-mnist /usr/share/datasets/fashion-mnist, used by the examples and tests
#   bible-kjv             the King James Bible, written out as the text corpus of the
#                         character models (examples/lstm.nn, examples/transformer.nn)
#   vim                   the test of editors/vim's syntax file (tests/fmt)
PACKAGES=(
    llvm-19-dev clang-19 libclang-rt-19-dev re2c bison libdnnl-dev zlib1g-dev libedit-dev
    cmake make gcc g++ libc6-dev python3 dataset-fashion-mnist bible-kjv vim
)

# The character models' corpus: Debian ships the text only inside bible-kjv's program, so
# it is written out once (DESIGN.md's recipe), atomically, where the examples read it.
KJV=/usr/local/share/datasets/kjv.txt
make_corpus() {
    [ -s "$KJV" ] && return 0
    echo "setup: writing $KJV"
    "${SUDO[@]}" mkdir -p "$(dirname "$KJV")"
    bible "gen1:1-rev22:21" | "${SUDO[@]}" tee "$KJV.tmp" >/dev/null
    "${SUDO[@]}" mv "$KJV.tmp" "$KJV"
}

# (Read whole, not piped into grep -q: with pipefail, dpkg's SIGPIPE would fail the test.)
installed() {
    local s
    s=$(dpkg -s "$1" 2>/dev/null) || return 1
    [[ $s == *$'\nStatus: install ok installed\n'* || $s == 'Status: install ok installed'* ]]
}

missing=()
for p in "${PACKAGES[@]}"; do
    installed "$p" || missing+=("$p")
done

SUDO=()
if [ "$(id -u)" -ne 0 ] && { [ ${#missing[@]} -ne 0 ] || [ ! -s "$KJV" ]; }; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    elif [ ${#missing[@]} -ne 0 ]; then
        echo "setup: missing packages: ${missing[*]}" >&2
        echo "setup: not root and no sudo; install them as root and run again" >&2
        exit 1
    else
        echo "setup: cannot write $KJV (not root, no sudo): the character-model examples" \
             "need it; run this script as root once" >&2
        echo "setup: all ${#PACKAGES[@]} packages are installed"
        exit 0
    fi
fi

if [ ${#missing[@]} -eq 0 ]; then
    make_corpus
    echo "setup: all ${#PACKAGES[@]} packages are installed"
    exit 0
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt_get() {
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}
# A first update can fail on a transient mirror error; one retry is cheap.
apt_get update || { sleep 5; apt_get update; }
apt_get install --no-install-recommends "${missing[@]}"

still=()
for p in "${missing[@]}"; do
    installed "$p" || still+=("$p")
done
if [ ${#still[@]} -ne 0 ]; then
    echo "setup: failed to install: ${still[*]}" >&2
    exit 1
fi
make_corpus
echo "setup: done"
