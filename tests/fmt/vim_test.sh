#!/usr/bin/env bash
# vim_test.sh — checks editors/vim (docs/editors.md) in a headless vim.
#
#   vim_test.sh EDITORS_VIM_DIR SAMPLE.nn [NNC]
#
# Runs `vim -u NONE -N -es` with EDITORS_VIM_DIR first in 'runtimepath', `filetype plugin
# on` and `syntax on`, opens SAMPLE (so ftdetect must make it filetype nnc), and for each
# check of editors_expect.txt beside this script (its fourth column) writes the syntax
# group at the token's first character: synIDattr(synID(line, col, 1), "name").
# With NNC, also checks the ftplugin's :NncFmt: it formats a buffer as `NNC fmt` does, and
# leaves a buffer that does not parse alone.
# Exit status: 0 pass, 1 fail, 2 usage, 77 skipped (no vim, or a vim without +syntax:
# Debian and Ubuntu's vim-tiny; the "vim" package has it).
set -uo pipefail

[ $# -ge 2 ] && [ $# -le 3 ] || { echo "usage: vim_test.sh EDITORS_VIM_DIR SAMPLE.nn [NNC]" >&2; exit 2; }
vimdir=$(cd "$1" && pwd) || exit 2
sample=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
nnc=${3:-}
expect=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/editors_expect.txt
[ -f "$vimdir/syntax/nnc.vim" ] && [ -f "$vimdir/ftdetect/nnc.vim" ] ||
    { echo "FAIL: $vimdir lacks syntax/nnc.vim or ftdetect/nnc.vim"; exit 1; }

vim=$(command -v vim) || { echo "vim_test.sh: vim is not installed — skipped"; exit 77; }
if ! "$vim" --version 2>/dev/null | grep -q '+syntax'; then
    echo "vim_test.sh: $vim has no +syntax (vim-tiny?) — skipped"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-vim.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT

# The checks, as vim reads them: line, token, group (the '-' ones are left out).
awk -F'\t' '!/^#/ && NF == 4 && $4 != "-" { print $1 "\t" $2 "\t" $4 }' "$expect" >"$tmp/checks"
[ -s "$tmp/checks" ] || { echo "FAIL: no vim checks in $expect"; exit 1; }

cat >"$tmp/check.vim" <<'EOF'
let s:out = ['filetype ' . &filetype, 'syntax ' . get(b:, 'current_syntax', '')]
for s:check in readfile($NNC_VIM_CHECKS)
  let [s:line, s:token, s:want] = split(s:check, "\t", 1)
  let s:col = stridx(getline(s:line), s:token) + 1
  if s:col == 0
    call add(s:out, printf('FAIL: line %s: token "%s" not found', s:line, s:token))
    continue
  endif
  let s:got = synIDattr(synID(s:line, s:col, 1), 'name')
  let s:got = s:got ==# '' ? 'none' : s:got
  call add(s:out, printf('%s: line %s col %d "%s": want %s, got %s',
        \ s:got ==# s:want ? 'ok' : 'FAIL', s:line, s:col, s:token, s:want, s:got))
endfor
call writefile(s:out, $NNC_VIM_OUT)
qall!
EOF

NNC_VIM_CHECKS=$tmp/checks NNC_VIM_OUT=$tmp/out HOME=$tmp \
    timeout 30 "$vim" -u NONE -i NONE -N -es \
    -c "set runtimepath^=$vimdir" -c 'filetype plugin on' -c 'syntax on' \
    -c "edit $sample" -c "source $tmp/check.vim" </dev/null >"$tmp/vim.log" 2>&1
status=$?
if [ ! -s "$tmp/out" ]; then
    echo "FAIL: vim wrote no results (exit status $status):"
    sed 's/^/  | /' "$tmp/vim.log" | head -20
    exit 1
fi
problems=0
head -2 "$tmp/out"
[ "$(sed -n 1p "$tmp/out")" = "filetype nnc" ] || { echo "FAIL: ftdetect did not make $sample filetype nnc"; problems=$((problems + 1)); }
[ "$(sed -n 2p "$tmp/out")" = "syntax nnc" ] || { echo "FAIL: syntax/nnc.vim was not loaded"; problems=$((problems + 1)); }
grep '^FAIL' "$tmp/out"
problems=$((problems + $(grep -c '^FAIL' "$tmp/out")))
checks=$(($(wc -l <"$tmp/out") - 2))
echo "vim_test.sh: $checks group checks"

# :NncFmt on a file that needs formatting, then on one that does not parse.
if [ -n "$nnc" ]; then
    printf 'x=1\nfn f(a,b){a+b}\n' >"$tmp/ugly.nn"
    printf 'x = (1\n' >"$tmp/bad.nn"
    "$nnc" fmt "$tmp/ugly.nn" >"$tmp/ugly.want" 2>/dev/null || { echo "FAIL: $nnc fmt failed"; exit 1; }
    cp "$tmp/bad.nn" "$tmp/bad.want"
    printf '%s\n' \
        'let g:nnc_command = $NNC_VIM_NNC' \
        'edit $NNC_VIM_TMP/ugly.nn' \
        'NncFmt' \
        "call writefile(getline(1, '$'), \$NNC_VIM_TMP . '/ugly.got')" \
        'edit! $NNC_VIM_TMP/bad.nn' \
        'silent! NncFmt' \
        "call writefile(getline(1, '$'), \$NNC_VIM_TMP . '/bad.got')" \
        'qall!' >"$tmp/fmt.vim"
    NNC_VIM_NNC=$nnc NNC_VIM_TMP=$tmp HOME=$tmp \
        timeout 30 "$vim" -u NONE -i NONE -N -es \
        -c "set runtimepath^=$vimdir" -c 'filetype plugin on' -c 'syntax on' \
        -c "source $tmp/fmt.vim" </dev/null >"$tmp/vim.log" 2>&1
    for name in ugly bad; do
        if ! diff -u "$tmp/$name.want" "$tmp/$name.got" >"$tmp/$name.diff" 2>&1; then
            echo "FAIL: :NncFmt on $name.nn (- want, + buffer):"
            sed 's/^/  | /' "$tmp/$name.diff" | head -20
            problems=$((problems + 1))
        fi
    done
    echo "vim_test.sh: :NncFmt checked on a file to format and on one that does not parse"
fi
echo "vim_test.sh: $problems problem(s)"
[ "$problems" -eq 0 ]
