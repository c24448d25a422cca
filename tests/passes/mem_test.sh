#!/usr/bin/env bash
# mem_test.sh — `nnc --mem FILE` (docs/memory.md).
#
#   mem_test.sh NNC golden DIR/NAME.nn   nnc --mem NAME.nn, run in DIR, must exit 0 with
#                                        nothing on stderr and print DIR/NAME.mem;
#                                        UPDATE=1 writes NAME.mem instead (after a clean
#                                        exit), as `make update-goldens` does
#   mem_test.sh NNC flags                the flag's command line: usage errors, programs
#                                        with errors, an empty program, --help
#
# An exit status of 128 or more (a crash or an abort) always fails.
set -uo pipefail

die() { echo "mem_test.sh: $*" >&2; exit 2; }
[ $# -ge 2 ] || die "usage: mem_test.sh NNC golden FILE.nn | mem_test.sh NNC flags"
NNC=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
[ -x "$NNC" ] || die "nnc is not built (no executable at $1)"

T=$(mktemp -d "${TMPDIR:-/tmp}/nnc-mem.XXXXXX")
trap 'rm -rf "$T"' EXIT

problems=0
problem() { echo "FAIL: $*"; problems=$((problems + 1)); }

# nnc ARGS...: sets $status, $out and $err
nnc() {
    "$NNC" "$@" --color=never >"$T/out" 2>"$T/err" </dev/null
    status=$?
    out=$(cat "$T/out")
    err=$(cat "$T/err")
    [ "$status" -lt 128 ] || problem "nnc $*: killed by signal $((status - 128))"
}
want_status() {
    [ "$status" -eq "$1" ] || problem "exit status $status, expected $1 ($2)"
}

case $2 in
golden)
    [ $# -eq 3 ] && [ -f "$3" ] || die "golden needs a test file"
    dir=$(dirname "$3") base=$(basename "$3" .nn)
    cd "$dir" || exit 2
    nnc --mem "$base.nn"
    want_status 0 "nnc --mem $base.nn"
    [ -z "$err" ] || problem "stderr: $err"
    if [ "${UPDATE:-0}" = 1 ] && [ "$problems" -eq 0 ]; then
        cp "$T/out" "$base.mem"
        echo "updated $base.mem"
    elif ! diff -u "$base.mem" "$T/out"; then
        problem "output differs from $base.mem"
    fi
    ;;
flags)
    cd "$T" || exit 2
    printf 'x = [1.0, 2.0]\nprint(exp(x) * 2)\n' >ok.nn
    nnc --mem ok.nn
    want_status 0 "--mem ok.nn"
    grep -Eq '^memory: [0-9]+ buffers?, arena [0-9.]+ (B|KiB|MiB|GiB) \(peak live [0-9.]+ (B|KiB|MiB|GiB)\), no planning [0-9.]+ (B|KiB|MiB|GiB)$' <<<"$out" \
        || problem "--mem: unexpected line '$out'"
    ls ok ok.o a.out 2>/dev/null && problem "--mem wrote an output file"
    : >empty.nn
    nnc --mem empty.nn
    want_status 0 "--mem on an empty program"
    [ "$out" = "memory: 0 buffers, arena 0 B (peak live 0 B), no planning 0 B" ] \
        || problem "empty program: '$out'"
    printf 'print(y)\n' >bad.nn
    nnc --mem bad.nn
    want_status 1 "--mem on a program with an error"
    [ -z "$out" ] || problem "--mem printed a plan for a program with errors"
    grep -q 'bad.nn:1:7: error' <<<"$err" || problem "no diagnostic for bad.nn"
    for args in "run --mem ok.nn" "check --mem ok.nn" "--mem ok.nn -o x" "--mem --emit=ir ok.nn"; do
        read -r -a argv <<<"$args"
        nnc "${argv[@]}"
        want_status 2 "nnc $args"
        grep -q -- '--mem' <<<"$err" || problem "nnc $args: the message does not name --mem"
    done
    nnc --help
    grep -q -- '--mem FILE' <<<"$out" || problem "--help does not show --mem"
    ;;
*) die "unknown mode '$2'" ;;
esac
[ "$problems" -eq 0 ]
