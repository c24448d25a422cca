#!/usr/bin/env bash
# expect_error.sh NNC FILE.nn — `nnc check FILE` must fail with exit status 1 (not crash),
# and its diagnostics must contain the text of every "# error: TEXT" and "# note: TEXT"
# line at the top of FILE (as "error: TEXT" and "note: TEXT").
set -uo pipefail
[ $# -eq 2 ] || { echo "usage: expect_error.sh NNC FILE.nn" >&2; exit 2; }
nnc=$1 file=$2
out=$(cd "$(dirname "$file")" && "$nnc" check --color=never "$(basename "$file")" 2>&1)
status=$?
if [ $status -ne 1 ]; then
    echo "expected exit status 1 from nnc check, got $status"
    echo "$out"
    exit 1
fi
fail=0 wanted=0
while IFS= read -r line; do
    case $line in
    '# error: '* | '# note: '*)
        want=${line#'# '}
        wanted=$((wanted + 1))
        if ! grep -qF -- "$want" <<<"$out"; then
            echo "missing from the diagnostics: $want"
            fail=1
        fi
        ;;
    '#'*) ;;
    *) break ;;
    esac
done <"$file"
if [ $wanted -eq 0 ]; then
    echo "$file has no '# error:' line"
    fail=1
fi
[ $fail -eq 0 ] || echo "$out"
exit $fail
