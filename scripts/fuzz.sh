#!/usr/bin/env bash
# fuzz.sh — a bounded libFuzzer run of the front end (tests/fuzz/fuzz_front.c).
#
#   scripts/fuzz.sh [SECONDS]      (default 60)
#
# Configures build-fuzz with clang-19 and -fsanitize=fuzzer-no-link,address,undefined,
# builds only the nnc_fuzz target (clang's warnings are shown; -Werror is the gcc build's
# job, or set NNC_FUZZ_WERROR=ON), and runs it over a fresh seed corpus made of every .nn
# file under tests/ and examples/ (copied into a temporary folder, so the tree is never
# written). A crash leaves its input in build-fuzz/artifacts/; turn it into a regression
# test in tests/errors/ (docs/testing.md).
set -euo pipefail

seconds=${1:-60}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build-fuzz
jobs=$(nproc)

cmake -S "$root" -B "$build" \
    -DCMAKE_C_COMPILER=clang-19 \
    -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_FLAGS="-O1 -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" \
    -DNNC_FUZZ=ON -DNNC_WERROR="${NNC_FUZZ_WERROR:-OFF}"
cmake --build "$build" --target nnc_fuzz -j"$jobs"
fuzzer=$(find "$build" -name nnc_fuzz -type f -perm -u+x | head -n 1)
[ -n "$fuzzer" ] || { echo "fuzz.sh: nnc_fuzz was not built" >&2; exit 1; }

corpus=$(mktemp -d "${TMPDIR:-/tmp}/nnc-fuzz-corpus.XXXXXX")
trap 'rm -rf "$corpus"' EXIT
n=0
while IFS= read -r -d '' f; do
    n=$((n + 1))
    cp "$f" "$corpus/$n-$(basename "$f")"
done < <(find "$root/tests" "$root/examples" -name '*.nn' -type f -print0 2>/dev/null)
# Never start from nothing: a few lines of the language seed an empty tree.
if [ "$n" -eq 0 ]; then
    printf 'x = [[1, 2], [3, 4]]\nprint(sum(x @ x, axis = 1))\n' >"$corpus/seed.nn"
fi
echo "fuzz.sh: $n seed files; fuzzing for ${seconds}s"

mkdir -p "$build/artifacts"
# UBSan findings abort (so libFuzzer reports them as crashes); leaks are findings too.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
"$fuzzer" \
    -max_total_time="$seconds" \
    -max_len=4096 \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -print_final_stats=1 \
    -dict="$root/tests/fuzz/nn.dict" \
    -artifact_prefix="$build/artifacts/" \
    "$corpus"
echo "fuzz.sh: no crash in ${seconds}s"
