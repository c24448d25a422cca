#!/usr/bin/env bash
# fmt_test.sh — tests of nnc fmt (docs/fmt.md).
#
#   fmt_test.sh golden NNC CASE.nn CASE.fmt
#       `nnc fmt CASE.nn` prints exactly CASE.fmt; CASE.fmt is itself formatted; and both
#       parse to the same AST. UPDATE=1 rewrites CASE.fmt instead (when nnc fmt succeeds).
#   fmt_test.sh idempotent NNC ROOT
#       every .nn under ROOT/tests, ROOT/examples and ROOT/stdlib that parses without error:
#       formatting it twice gives the same text, and the formatted text has its AST.
#   fmt_test.sh formatted NNC ROOT
#       ROOT/examples/*.nn and ROOT/stdlib/*.nn are formatted (`nnc fmt --check`); no files
#       at all is a pass, and the number checked is printed.
#   fmt_test.sh cli NNC
#       exit statuses and streams of `nnc fmt` and `nnc fmt --check`.
#
# ASTs are compared as `nnc --emit=ast` prints them, with the "@line:col" spans removed.
# Exit status: 0 pass, 1 fail, 2 usage.
set -uo pipefail

die() { echo "fmt_test.sh: $*" >&2; exit 2; }
[ $# -ge 2 ] || die "usage: fmt_test.sh golden|idempotent|formatted|cli NNC [ARGS...]"
mode=$1 nnc=$2
shift 2
[ -x "$nnc" ] || die "nnc is not built (no executable at $nnc)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-fmt.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$tmp"' EXIT

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# ast FILE OUT: the AST of FILE without spans; the status of nnc --emit=ast.
ast() {
    "$nnc" --color=never --emit=ast "$1" 2>"$tmp/ast.err" </dev/null |
        sed -E 's/ @([0-9]+:[0-9]+|\?)$//' >"$2"
    local status=${PIPESTATUS[0]}
    [ "$status" -eq 0 ] && [ ! -s "$tmp/ast.err" ]
}

# fmt FILE OUT: nnc fmt FILE into OUT; fails (with the reason printed) unless it exits 0.
fmt() {
    "$nnc" fmt --color=never "$1" >"$2" 2>"$tmp/fmt.err" </dev/null
    local status=$?
    if [ "$status" -ne 0 ]; then
        fail "nnc fmt $1 exited with status $status"
        sed 's/^/  | /' "$tmp/fmt.err" | head -20
        return 1
    fi
}

# same_ast A B: A and B parse to the same AST (B is a formatting of A).
same_ast() {
    ast "$1" "$tmp/a.ast" || { fail "$1 does not parse"; return 1; }
    if ! ast "$2" "$tmp/b.ast"; then
        fail "the formatting of $1 does not parse:"
        sed 's/^/  | /' "$tmp/ast.err" | head -20
        return 1
    fi
    if ! diff -u "$tmp/a.ast" "$tmp/b.ast" >"$tmp/ast.diff"; then
        fail "formatting $1 changed its AST (- before, + after):"
        head -40 "$tmp/ast.diff"
        return 1
    fi
}

# idempotent FILE FORMATTED: formatting FORMATTED again changes nothing.
idempotent() {
    fmt "$2" "$tmp/again" || return 1
    if ! diff -u "$2" "$tmp/again" >"$tmp/again.diff"; then
        fail "formatting $1 twice is not formatting it once (- once, + twice):"
        head -40 "$tmp/again.diff"
        return 1
    fi
}

case $mode in
golden)
    [ $# -eq 2 ] || die "usage: fmt_test.sh golden NNC CASE.nn CASE.fmt"
    input=$1 golden=$2
    [ -f "$input" ] || die "no such case: $input"
    fmt "$input" "$tmp/actual" || exit 1
    if [ "${UPDATE:-}" = 1 ]; then
        cp "$tmp/actual" "$golden" && echo "wrote $golden"
        exit 0
    fi
    [ -f "$golden" ] || { echo "FAIL: no golden $golden (UPDATE=1 writes it)"; exit 1; }
    if ! diff -u "$golden" "$tmp/actual" >"$tmp/golden.diff"; then
        fail "nnc fmt $(basename "$input") differs from $(basename "$golden") (- expected, + actual):"
        cat "$tmp/golden.diff"
    fi
    same_ast "$input" "$golden"
    idempotent "$golden" "$golden"
    ;;
idempotent)
    [ $# -eq 1 ] || die "usage: fmt_test.sh idempotent NNC ROOT"
    root=$1 checked=0 skipped=0
    while IFS= read -r -d '' file; do
        if ! ast "$file" "$tmp/a.ast"; then
            skipped=$((skipped + 1))   # a test of bad input: nothing to format
            continue
        fi
        checked=$((checked + 1))
        fmt "$file" "$tmp/once" || continue
        same_ast "$file" "$tmp/once" && idempotent "$file" "$tmp/once"
    done < <(find "$root/tests" "$root/examples" "$root/stdlib" -name '*.nn' -type f -print0 \
                 2>/dev/null | sort -z)
    echo "fmt_test.sh: $checked files formatted twice with their AST kept;" \
         "$skipped skipped (they do not parse)"
    [ "$checked" -gt 0 ] || fail "no file was checked (is ROOT right? $root)"
    ;;
formatted)
    [ $# -eq 1 ] || die "usage: fmt_test.sh formatted NNC ROOT"
    root=$1 checked=0
    for file in "$root"/examples/*.nn "$root"/stdlib/*.nn; do
        [ -f "$file" ] || continue
        checked=$((checked + 1))
        if ! "$nnc" fmt --check --color=never "$file" >"$tmp/out" 2>"$tmp/err" </dev/null; then
            fail "$file is not formatted (run nnc fmt on it); nnc said:"
            sed 's/^/  | /' "$tmp/err" | head -20
        fi
    done
    echo "fmt_test.sh: checked $checked files in examples/ and stdlib/"
    ;;
cli)
    [ $# -eq 0 ] || die "usage: fmt_test.sh cli NNC"
    cd "$tmp" || exit 2
    printf 'x = 1\n' >good.nn
    printf 'x=1\n' >ugly.nn
    printf 'x = (1\n' >bad.nn
    # run ARGS...: sets $status, and out/err files.
    run() { "$nnc" "$@" --color=never >out 2>err </dev/null; status=$?; }
    run fmt good.nn
    [ "$status" -eq 0 ] && [ "$(cat out)" = "x = 1" ] && [ ! -s err ] ||
        fail "nnc fmt good.nn: status $status, stdout '$(cat out)', stderr '$(cat err)'"
    run fmt ugly.nn
    [ "$status" -eq 0 ] && [ "$(cat out)" = "x = 1" ] ||
        fail "nnc fmt ugly.nn: status $status, stdout '$(cat out)'"
    run fmt bad.nn
    [ "$status" -eq 1 ] && [ ! -s out ] && grep -q 'bad.nn:.*error' err ||
        fail "nnc fmt bad.nn: want status 1, nothing on stdout, a diagnostic; got status" \
             "$status, stdout '$(cat out)', stderr '$(cat err)'"
    run fmt --check good.nn
    [ "$status" -eq 0 ] && [ ! -s out ] && [ ! -s err ] ||
        fail "nnc fmt --check good.nn: status $status, stdout '$(cat out)', stderr '$(cat err)'"
    run fmt --check ugly.nn
    [ "$status" -eq 1 ] && [ ! -s out ] && [ "$(cat err)" = "ugly.nn: not formatted" ] ||
        fail "nnc fmt --check ugly.nn: status $status, stdout '$(cat out)', stderr '$(cat err)'"
    run fmt --check bad.nn
    [ "$status" -eq 1 ] && [ ! -s out ] && grep -q 'error' err ||
        fail "nnc fmt --check bad.nn: status $status, stderr '$(cat err)'"
    run fmt
    [ "$status" -eq 2 ] || fail "nnc fmt (no file): status $status, want 2"
    run check --check good.nn
    [ "$status" -eq 2 ] || fail "nnc check --check: status $status, want 2 (--check is fmt's)"
    ;;
*) die "unknown mode '$mode'" ;;
esac

[ "$failures" -eq 0 ] || { echo "fmt_test.sh: $failures failure(s)"; exit 1; }
echo "fmt_test.sh: $mode: pass"
