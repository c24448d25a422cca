#!/usr/bin/env bash
# selftest.sh — tests of the test tools themselves (golden.sh and numdiff.py), against a
# fake nnc written below, so they run even when the real compiler does not build.
# Prints one line per case and "N passed, N failed"; exits 1 if any case failed.
set -uo pipefail

tools=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-selftest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

# The fake compiler. It understands just enough of nnc's command line for golden.sh:
#   run FILE           prints the lines of FILE that start with "out " (without it)
#   run --eval=f64 F   same, but lines "f64 " replace the "out " ones when there are any
#   check FILE         prints "FILE:1:1: error: fake" to stderr, exit 1, if FILE has "ERR"
#   --emit=tokens F    prints its own arguments and working directory's name
#   F -o OUT           writes OUT, a script printing what `run` prints (or, when F has
#                      lines "aot ", those instead: an executable unlike its JIT run)
# and it crashes (SIGSEGV) on a file containing CRASH.
cat >"$tmp/nnc" <<'EOF'
#!/usr/bin/env bash
cmd= file= out= eval=0 emit= prog_args=()
all=("$@")
while [ $# -gt 0 ]; do
    case $1 in
    run|check) cmd=$1 ;;
    --emit=*) emit=${1#--emit=} ;;
    --eval=f64) eval=1 ;;
    --color=*|--flag*) ;;
    -o) out=$2; shift ;;
    --) shift; prog_args=("$@"); break ;;
    -*) echo "nnc: unknown flag $1" >&2; exit 2 ;;
    *) file=$1 ;;
    esac
    shift
done
[ -f "$file" ] || { echo "nnc: cannot open $file" >&2; exit 1; }
grep -q CRASH "$file" && kill -SEGV $$
if [ -n "$emit" ]; then echo "args: ${all[*]}"; echo "dir: $(basename "$PWD")"; exit 0; fi
if [ "$cmd" = check ]; then
    grep -q ERR "$file" && { echo "$file:1:1: error: fake" >&2; exit 1; }
    exit 0
fi
if [ "$eval" = 1 ] && grep -q '^f64 ' "$file"; then sed -n 's/^f64 //p' "$file"; exit 0; fi
# a program's own arguments: "prog-args" and each argument's last path component
show_args() { [ $# -gt 0 ] && { printf 'prog-args'; for a in "$@"; do printf ' %s' "${a##*/}"; done; echo; }; }
if [ -n "$out" ]; then
    { echo '#!/bin/bash'; echo 'show_args() { [ $# -gt 0 ] && { printf prog-args; for a in "$@"; do printf " %s" "${a##*/}"; done; echo; }; }'
      echo "cat <<'END'"; if grep -q '^aot ' "$file"; then sed -n 's/^aot //p' "$file"; else sed -n 's/^out //p' "$file"; fi; echo END; echo 'show_args "$@"'; echo 'exit 0'; } >"$out"
    chmod +x "$out"
    exit 0
fi
sed -n 's/^out //p' "$file"
show_args "${prog_args[@]}"
grep -q '^exit3' "$file" && exit 3
exit 0
EOF
chmod +x "$tmp/nnc"
mkdir -p "$tmp/t"

# expect WANT NAME CMD...: the case passes when CMD exits with status WANT.
expect() {
    local want=$1 name=$2
    shift 2
    "$@" >"$tmp/log" 2>&1
    local got=$?
    if [ "$got" -eq "$want" ]; then
        passed=$((passed + 1))
        echo "ok   $name"
    else
        failed=$((failed + 1))
        echo "FAIL $name: exit $got, expected $want"
        sed 's/^/     | /' "$tmp/log"
    fi
}
# expect_log TEXT NAME: the previous case's output contains TEXT.
expect_log() {
    if grep -qF -- "$1" "$tmp/log"; then
        passed=$((passed + 1))
        echo "ok   $2"
    else
        failed=$((failed + 1))
        echo "FAIL $2: output lacks '$1'"
        sed 's/^/     | /' "$tmp/log"
    fi
}
g() { bash "$tools/golden.sh" "$@"; }
nd() { "${PYTHON:-python3}" "$tools/numdiff.py" "$@"; }

t=$tmp/t
printf 'out 1.5\nout [2, 3]\n' >"$t/a.nn"
printf '1.5\n[2, 3]\n' >"$t/a.out"
expect 0 "run: matching golden passes" g run "$tmp/nnc" "$t/a.nn" "$t/a.out"
expect 0 "aot: compiled program matches the same golden" g aot "$tmp/nnc" "$t/a.nn" "$t/a.out"
expect 0 "eval: identical output passes" g eval "$tmp/nnc" "$t/a.nn" "$t/a.out"
expect_log "numdiff: 3 numbers compared" "eval: prints the numbers compared and max diff"

printf '1.5\n[2, 4]\n' >"$t/bad.out"
expect 1 "run: differing golden fails" g run "$tmp/nnc" "$t/a.nn" "$t/bad.out"
expect_log "+[2, 3]" "run: failure shows a unified diff"
expect 1 "aot: differing golden fails" g aot "$tmp/nnc" "$t/a.nn" "$t/bad.out"

expect 1 "missing golden fails" g run "$tmp/nnc" "$t/a.nn" "$t/none.out"
expect_log "missing golden file" "missing golden: the message says so"
UPDATE=1 expect 0 "UPDATE=1 writes a missing golden" g run "$tmp/nnc" "$t/a.nn" "$t/new.out"
expect 0 "the written golden matches" cmp "$t/new.out" "$t/a.out"
UPDATE=1 expect 0 "UPDATE=1 rewrites a wrong golden" g run "$tmp/nnc" "$t/a.nn" "$t/bad.out"
expect 0 "the rewritten golden matches" cmp "$t/bad.out" "$t/a.out"
printf 'wrong\n' >"$t/keep.out"
UPDATE=1 expect 1 "UPDATE=1 in eval mode compares, never writes" g eval "$tmp/nnc" "$t/a.nn" "$t/keep.out"
expect 0 "eval left the golden alone" grep -qx wrong "$t/keep.out"

printf 'out 0.1235 and 1 2\nf64 0.12344 and 1.0009 2\n' >"$t/tol.nn"
printf '0.1235 and 1 2\n' >"$t/tol.out"
expect 0 "eval: numbers within 1e-3 relative pass" g eval "$tmp/nnc" "$t/tol.nn" "$t/tol.out"
printf 'out 0.5\nf64 0.502\n' >"$t/far.nn"
printf '0.5\n' >"$t/far.out"
expect 1 "eval: numbers beyond the tolerance fail" g eval "$tmp/nnc" "$t/far.nn" "$t/far.out"
expect_log "expected 0.5, got 0.502" "eval: failure names the numbers"

printf 'ERR\n' >"$t/e.nn"
printf 'e.nn:1:1: error: fake\n' >"$t/e.err"
expect 0 "err: exit 1 and matching stderr pass (relative file name)" g err "$tmp/nnc" "$t/e.nn" "$t/e.err"
printf 'fine\n' >"$t/ok.nn"
: >"$t/ok.err"
expect 1 "err: exit 0 fails" g err "$tmp/nnc" "$t/ok.nn" "$t/ok.err"
printf '# exit: 0\nfine\n' >"$t/ok0.nn"
expect 0 "err: '# exit: 0' accepts exit 0" g err "$tmp/nnc" "$t/ok0.nn" "$t/ok.err"
printf 'out 1\nexit3\n' >"$t/x3.nn"
printf '1\n' >"$t/x3.out"
expect 1 "run: unexpected exit status fails" g run "$tmp/nnc" "$t/x3.nn" "$t/x3.out"
printf '# exit: 3\nout 1\nexit3\n' >"$t/y3.nn"
cp "$t/x3.out" "$t/y3.out"
expect 0 "run: '# exit: 3' accepts exit 3" g run "$tmp/nnc" "$t/y3.nn" "$t/y3.out"

printf 'CRASH\n' >"$t/c.nn"
expect 1 "a crash fails" g err "$tmp/nnc" "$t/c.nn" "$t/c.err"
expect_log "killed by signal 11" "a crash is reported as a signal"
UPDATE=1 expect 1 "UPDATE=1 never blesses a crash" g err "$tmp/nnc" "$t/c.nn" "$t/c.err"
expect 1 "no golden was written for the crash" test -e "$t/c.err"

printf '# run-args: --epochs 1 $OUT/m.bin\nout 7\n' >"$t/ra.nn"
printf '7\nprog-args --epochs 1 m.bin\n' >"$t/ra.out"
expect 0 "run: '# run-args:' go to the program after --, \$OUT a folder" g run "$tmp/nnc" "$t/ra.nn" "$t/ra.out"
expect 0 "aot: '# run-args:' go to the compiled program" g aot "$tmp/nnc" "$t/ra.nn" "$t/ra.out"
printf '7\n' >"$t/ra0.out"
expect 1 "run: the program's arguments are seen (a golden without them fails)" g run "$tmp/nnc" "$t/ra.nn" "$t/ra0.out"

printf '# args: --flag-a --flag-b\n# a comment\nx\n' >"$t/args.nn"
UPDATE=1 expect 0 "tokens: golden written" g tokens "$tmp/nnc" "$t/args.nn" "$t/args.tokens"
expect 0 "'# args:' flags reach nnc, with --color=never and the bare file name" \
    grep -qx "args: --color=never --emit=tokens --flag-a --flag-b args.nn" "$t/args.tokens"
expect 0 "nnc runs in the file's directory" grep -qx "dir: t" "$t/args.tokens"

printf '# skip: aot eval\nout 1\n' >"$t/skip.nn"
expect 77 "'# skip: aot' skips aot" g aot "$tmp/nnc" "$t/skip.nn" "$t/skip.out"
expect 1 "...but not run (golden missing)" g run "$tmp/nnc" "$t/skip.nn" "$t/skip.out"
expect 2 "unknown mode is a usage error" g frob "$tmp/nnc" "$t/a.nn" "$t/a.out"
expect 2 "missing nnc is reported" g run "$tmp/nonexistent-nnc" "$t/a.nn" "$t/a.out"

# run and aot: numbers within a tolerance of the golden, '# tolerance:' widens it.
printf 'out loss = 0.450045, acc = 0.8569\n' >"$t/near.nn"
printf 'loss = 0.450335, acc = 0.8569\n' >"$t/near.out"
printf 'out loss = 0.450100, acc = 0.8569\n' >"$t/near.nn"
expect 0 "run: numbers within rel 1e-3 of the golden pass" g run "$tmp/nnc" "$t/near.nn" "$t/near.out"
expect_log "numdiff: 2 numbers compared" "run: a near match says what numdiff compared"
printf 'out loss = 0.452000, acc = 0.8569\n' >"$t/near.nn"
expect 1 "run: a number beyond rel 1e-3 fails" g run "$tmp/nnc" "$t/near.nn" "$t/near.out"
expect_log "expected 0.450335, got 0.452000" "run: the failure names the numbers"
expect 1 "aot: the same tolerance" g aot "$tmp/nnc" "$t/near.nn" "$t/near.out"
printf '# tolerance: rel=5e-3 abs=1e-5\nout loss = 0.452000, acc = 0.8569\n' >"$t/wide.nn"
cp "$t/near.out" "$t/wide.out"
expect 0 "run: '# tolerance: rel=5e-3 abs=1e-5' widens it" g run "$tmp/nnc" "$t/wide.nn" "$t/wide.out"
expect 0 "aot: '# tolerance:' too" g aot "$tmp/nnc" "$t/wide.nn" "$t/wide.out"
printf '# tolerance: rel=1e-3 abs=1e-5\nout loss = 0.452000, acc = 0.8569\n' >"$t/tight.nn"
cp "$t/near.out" "$t/tight.out"
expect 1 "run: '# tolerance:' is the tolerance, not a floor" g run "$tmp/nnc" "$t/tight.nn" "$t/tight.out"
printf '# tolerance: rel=1e-3 abs=1e-5\nout loss = 0.450335, acc = 0.8559\n' >"$t/acc.nn"
cp "$t/near.out" "$t/acc.out"
expect 1 "run: the tolerance holds for every number (acc 0.8559 vs 0.8569)" g run "$tmp/nnc" "$t/acc.nn" "$t/acc.out"
printf 'out loss = 0.450335, acc = 0.8569 ok\n' >"$t/text.nn"
expect 1 "run: text between the numbers must match" g run "$tmp/nnc" "$t/text.nn" "$t/near.out"
printf '# tolerance: rel=big\nout 1\n' >"$t/badtol.nn"
expect 2 "'# tolerance:' without rel=R abs=A is a usage error" g run "$tmp/nnc" "$t/badtol.nn" "$t/a.out"
expect_log "wants 'rel=R abs=A'" "the bad directive is named"

printf 'loss = 0.450335, acc = 0.8569\n' >"$t/keep3.out"
printf 'out loss = 0.450100, acc = 0.8569\n' >"$t/keep3.nn"
UPDATE=1 expect 0 "UPDATE=1 keeps a golden the output matches within the tolerance" g run "$tmp/nnc" "$t/keep3.nn" "$t/keep3.out"
expect 0 "...unchanged" grep -qx "loss = 0.450335, acc = 0.8569" "$t/keep3.out"
printf 'out loss = 0.460000, acc = 0.8569\n' >"$t/keep3.nn"
UPDATE=1 expect 0 "UPDATE=1 rewrites a golden beyond the tolerance" g run "$tmp/nnc" "$t/keep3.nn" "$t/keep3.out"
expect 0 "...with the new output" grep -qx "loss = 0.460000, acc = 0.8569" "$t/keep3.out"

# NNC_JIT_OUTPUT: run leaves its output, aot must print exactly the same.
printf 'out loss = 0.450100\n' >"$t/pair.nn"
printf 'loss = 0.450335\n' >"$t/pair.out"
NNC_JIT_OUTPUT=$t/pair.jit expect 0 "run with NNC_JIT_OUTPUT passes (within the tolerance)" g run "$tmp/nnc" "$t/pair.nn" "$t/pair.out"
expect 0 "...and leaves its output there" grep -qx "loss = 0.450100" "$t/pair.jit"
NNC_JIT_OUTPUT=$t/pair.jit expect 0 "aot printing the same bytes passes" g aot "$tmp/nnc" "$t/pair.nn" "$t/pair.out"
printf 'out loss = 0.450100\naot loss = 0.450101\n' >"$t/pair.nn"
NNC_JIT_OUTPUT=$t/pair.jit expect 1 "aot printing other bits than run fails, though within the tolerance" g aot "$tmp/nnc" "$t/pair.nn" "$t/pair.out"
expect_log "differs from the JIT's" "aot: the JIT/executable mismatch is named"
printf 'CRASH\n' >"$t/pairc.nn"
cp "$t/pair.jit" "$t/pairc.jit"
NNC_JIT_OUTPUT=$t/pairc.jit expect 1 "run that crashes fails" g run "$tmp/nnc" "$t/pairc.nn" "$t/pair.out"
expect 1 "...and removes its old output" test -e "$t/pairc.jit"
NNC_JIT_OUTPUT=$t/pairc.jit expect 1 "aot without run's output fails" g aot "$tmp/nnc" "$t/pair.nn" "$t/pair.out"
expect_log "no output of 'nnc run'" "aot: the missing output is named"
printf 'wrong\n' >"$t/keep2.out"
NNC_ISA=avx2 UPDATE=1 expect 0 "UPDATE=1 under NNC_ISA=avx2 passes..." g run "$tmp/nnc" "$t/a.nn" "$t/keep2.out"
expect 0 "...and writes nothing" grep -qx wrong "$t/keep2.out"

# numdiff.py alone.
printf 'x = [1.000, -2.5e-3]  f32[2, 3]\n' >"$t/n1"
printf 'x = [1.0009, -2.501e-3]  f32[2, 3]\n' >"$t/n2"
expect 0 "numdiff: within tolerance" nd "$t/n1" "$t/n2"
printf 'x = [1.000, -2.5e-3]  f32[2, 4]\n' >"$t/n3"
expect 1 "numdiff: digits inside words are text (f32[2, 3] vs f32[2, 4] fails)" nd "$t/n1" "$t/n3"
printf 'y = [1.000, -2.5e-3]  f32[2, 3]\n' >"$t/n4"
expect 1 "numdiff: other text must match" nd "$t/n1" "$t/n4"
printf 'x = [1.000,    -2.5e-3]  f32[2, 3]\n' >"$t/n5"
expect 0 "numdiff: runs of blanks match each other" nd "$t/n1" "$t/n5"
printf '0\n1e-6\nnan\n-inf\n' >"$t/n6"
printf '4e-6\n0\nnan\n-inf\n' >"$t/n7"
expect 0 "numdiff: absolute tolerance near zero, nan and inf" nd "$t/n6" "$t/n7"
printf '0\n1e-6\nnan\ninf\n' >"$t/n8"
expect 1 "numdiff: inf signs must match" nd "$t/n6" "$t/n8"
printf '1\n2\n' >"$t/n9"
printf '1\n' >"$t/n10"
expect 1 "numdiff: line counts must match" nd "$t/n9" "$t/n10"
printf '1 2\n' >"$t/n11"
printf '1\n2\n' >"$t/n12"
expect 1 "numdiff: numbers per line must match" nd "$t/n11" "$t/n12"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
