#!/usr/bin/env bash
# fuzz.sh — bounded libFuzzer runs of the front end (tests/fuzz/fuzz_front.c) and of the
# runtime's file readers (tests/fuzz/fuzz_files.c), then of generated train programs
# (tests/fuzz/fuzz_prog.c).
#
#   scripts/fuzz.sh [SECONDS [FILE_SECONDS [PROG_SECONDS]]]      (defaults 60, 30 and 20)
#
# Configures build-fuzz with clang-19 and -fsanitize=fuzzer-no-link,address,undefined,
# builds only the nnc_fuzz and nnc_fuzz_files targets (clang's warnings are shown;
# -Werror is the gcc build's job, or set NNC_FUZZ_WERROR=ON), and runs each over a fresh
# seed corpus in a temporary folder, so the tree is never written:
#   nnc_fuzz, SECONDS: every .nn file under tests/ and examples/;
#   nnc_fuzz_files, FILE_SECONDS: the data files of tests/train/data (NPY, IDX plain and
#     gzip'd, CSV, text) and a small training checkpoint, each behind the byte that picks
#     its reader;
#   nnc_fuzz_prog, PROG_SECONDS: eight fixed pseudo-random byte strings, each the choices
#     of one generated program; the nnc it runs is $NNC_PROGEN_NNC, by default build/nnc
#     (built here if missing).
# A crash leaves its input in build-fuzz/artifacts/; turn it into a regression test
# (docs/testing.md).
set -euo pipefail

seconds=${1:-60}
file_seconds=${2:-30}
prog_seconds=${3:-20}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build-fuzz
jobs=$(nproc)

cmake -S "$root" -B "$build" \
    -DCMAKE_C_COMPILER=clang-19 \
    -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_FLAGS="-O1 -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" \
    -DNNC_FUZZ=ON -DNNC_WERROR="${NNC_FUZZ_WERROR:-OFF}"
cmake --build "$build" --target nnc_fuzz nnc_fuzz_files nnc_fuzz_prog -j"$jobs"
export NNC_PROGEN_NNC=${NNC_PROGEN_NNC:-$root/build/nnc}
export NNC_PROGEN_DATA=${NNC_PROGEN_DATA:-$root/tests/train/data}
if [ ! -x "$NNC_PROGEN_NNC" ]; then
    cmake -S "$root" -B "$root/build"
    cmake --build "$root/build" --target nnc -j"$jobs"
fi

corpus=$(mktemp -d "${TMPDIR:-/tmp}/nnc-fuzz-corpus.XXXXXX")
trap 'rm -rf "$corpus"' EXIT
mkdir -p "$build/artifacts" "$corpus/front" "$corpus/files" "$corpus/prog"
# UBSan findings abort (so libFuzzer reports them as crashes); leaks are findings too.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

# fuzz TARGET SECONDS CORPUS [libFuzzer flags]
fuzz() {
    local fuzzer
    fuzzer=$(find "$build" -name "$1" -type f -perm -u+x | head -n 1)
    [ -n "$fuzzer" ] || { echo "fuzz.sh: $1 was not built" >&2; exit 1; }
    echo "fuzz.sh: $1: $(ls "$3" | wc -l) seed files; fuzzing for ${2}s"
    "$fuzzer" -max_total_time="$2" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$build/artifacts/" "${@:4}" "$3"
    echo "fuzz.sh: $1: no crash in ${2}s"
}

n=0
while IFS= read -r -d '' f; do
    n=$((n + 1))
    cp "$f" "$corpus/front/$n-$(basename "$f")"
done < <(find "$root/tests" "$root/examples" -name '*.nn' -type f -print0 2>/dev/null)
# Never start from nothing: a few lines of the language seed an empty tree.
if [ "$n" -eq 0 ]; then
    printf 'x = [[1, 2], [3, 4]]\nprint(sum(x @ x, axis = 1))\n' >"$corpus/front/seed.nn"
fi
fuzz nnc_fuzz "$seconds" "$corpus/front" -dict="$root/tests/fuzz/nn.dict"

# seed READER FILE NAME: FILE behind the byte that picks READER (fuzz_files.c).
seed() {
    { printf "\\$(printf %03o "$1")"; cat "$2"; } >"$corpus/files/$3"
}
data=$root/tests/train/data
seed 1 "$data/points_x.npy" npy-x
seed 2 "$data/points_y.npy" npy-y
seed 3 "$data/squares-images.idx.gz" idx-gz
seed 3 <(gzip -dc "$data/squares-images.idx.gz") idx-images
seed 4 "$data/squares-labels.idx" idx-labels
seed 5 "$data/points.csv" csv-labeled
seed 6 "$data/points.csv" csv
seed 7 "$data/verse.txt" text
# A training checkpoint of the harness's tensors: w f32[2, 3], b i32[3], $epoch f64.
header='{"__metadata__":{"format":"nnc","step":"1","epoch":"1","seed":"0","rng_counter":"0","data_position":"0"},"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"I32","shape":[3],"data_offsets":[24,36]},"$epoch":{"dtype":"F64","shape":[],"data_offsets":[36,44]}}'
while [ $((${#header} % 8)) != 0 ]; do header="$header "; done
{
    printf "\\$(printf %03o $((${#header} & 255)))\\$(printf %03o $((${#header} >> 8)))"
    printf '\0\0\0\0\0\0%s' "$header"
    head -c 44 /dev/zero
} >"$corpus/checkpoint.st"
seed 0 "$corpus/checkpoint.st" checkpoint
fuzz nnc_fuzz_files "$file_seconds" "$corpus/files"

# Generated programs: each run compiles and runs one program (a few a second), so the
# seeds are long enough to make whole programs from the start.
for i in 1 2 3 4 5 6 7 8; do
    LC_ALL=C awk -v s="$i" 'BEGIN { srand(s); for (k = 0; k < 400; k++) printf "%c", int(rand() * 255) + 1 }' \
        >"$corpus/prog/seed-$i"
done
fuzz nnc_fuzz_prog "$prog_seconds" "$corpus/prog" -timeout=180
