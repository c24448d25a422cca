#!/usr/bin/env bash
# golden.sh — run nnc on one test file and compare what it prints with a golden file.
#
#   golden.sh MODE NNC FILE.nn GOLDEN
#
#   MODE    runs                                   golden holds
#   tokens  nnc --emit=tokens FILE                 stdout (*)
#   ast     nnc --emit=ast FILE                    stdout (*)
#   ir      nnc --emit=ir FILE                     stdout (*)
#   run     nnc run FILE                           stdout (NAME.out), numbers within a
#                                                  tolerance (numdiff.py)
#   aot     nnc FILE -o TMP, then TMP              stdout of TMP (the same NAME.out as run,
#                                                  the same way), and exactly what run printed
#   eval    nnc run --eval=f64 FILE                stdout, compared with numdiff.py (NAME.out)
#   err     nnc check FILE, expecting exit 1       stderr (NAME.err)
#   repl    nnc repl < FILE (FILE.repl: entries)   stdout and stderr, interleaved (NAME.out)
#   oracle  nnc run FILE -- ARGS, and              nothing: the two runs' stdout are compared
#           nnc run --eval=f64 FILE -- ARGS        with numdiff.py, and so are the .safetensors
#                                                  files each wrote under $OUT (GOLDEN unused)
#   (*) if nnc also wrote to stderr, a line "# stderr:" and the stderr follow.
#
# nnc runs with --color=never in the directory of FILE, given its bare name, so goldens hold
# no absolute paths and no escape codes. Comment lines at the top of FILE may say:
#   # args: FLAGS      extra nnc flags, split on blanks (no quoting)
#   # run-args: ARGS   arguments for the program itself (run: after --; aot: to the
#                      executable), split on blanks; $OUT stands for a temporary folder
#   # exit: N          the expected exit status (default: 1 for err, 0 for the others)
#   # skip: MODE...    do not run FILE in these modes (the test reports "skipped")
#   # oracle-args: ARGS          oracle: the program's arguments (default: run-args); $OUT
#                                as above, $FMNIST a Fashion-MNIST directory made of the first
#   # oracle-fashion-mnist: N M  N training and M test samples (tools/fmnist_subset.py), for
#                                --data $FMNIST: short runs the evaluator's loops can afford
#   # oracle-tolerance: rel=R abs=A [NAME=A]  oracle: numdiff.py's tolerance (default
#                                rel=1e-5 abs=1e-6; NAME=A: --name-abs, for `NAME = value`
#                                in log lines); the file says why its values need it
#   # oracle-compare: stdout     oracle: the files are not compared (the file says why)
# ORACLE_KEEP=DIR (oracle) copies both runs' outputs into DIR, to measure the differences.
#   # tolerance: rel=R abs=A   run and aot: numbers match the golden when within R
#                      relative or A absolute (default rel=1e-3 abs=1e-5, numdiff.py's);
#                      the comment block says why a file needs more (docs/testing.md)
# An exit status of 128 or more (a signal: a crash or an abort) always fails.
#
# The goldens hold what one CPU printed; another CPU (AVX2 code instead of AVX-512) may
# print other last digits, hence the tolerance. What is exact on one machine is checked
# exactly: with NNC_JIT_OUTPUT=PATH (tests/CMakeLists.txt sets it for each run/aot pair),
# run leaves its stdout at PATH and aot requires the executable's to be the same bytes.
#
# UPDATE=1 writes the golden instead of comparing, but only when the exit status is the
# expected one, so a crash is never blessed, and run writes only when the output is not
# within the tolerance of the golden. aot and eval never write: run owns NAME.out,
# and they compare against it as usual. Nor does anything under NNC_ISA=avx2: a golden is
# what the host's own code prints.
#
# Exit status: 0 pass, 1 fail, 2 usage, 77 skipped (ctest's SKIP_RETURN_CODE).
set -uo pipefail

die() { echo "golden.sh: $*" >&2; exit 2; }

[ $# -eq 4 ] || die "usage: golden.sh tokens|ast|ir|run|aot|eval|err|repl|oracle NNC FILE GOLDEN"
mode=$1 nnc=$2 file=$3 golden=$4
tools=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

case $mode in
tokens|ast|ir|run|aot|eval|err|repl|oracle) ;;
*) die "unknown mode '$mode'" ;;
esac
[ -f "$file" ] || die "no such test file: $file"
[ -x "$nnc" ] || die "nnc is not built (no executable at $nnc)"

abspath() { (cd "$(dirname "$1")" && printf '%s/%s\n' "$(pwd)" "$(basename "$1")"); }
nnc=$(abspath "$nnc")
file=$(abspath "$file")
[ "$mode" = oracle ] && golden=$file # no golden: the two runs are compared
golden_dir=$(dirname "$golden")
[ -d "$golden_dir" ] || die "no directory for the golden: $golden_dir"
golden=$(abspath "$golden")
dir=$(dirname "$file")
base=$(basename "$file")

# Directives: only in the comment block that opens the file.
args=() run_args=() expect_exit= skip= tolerance=()
oracle_args=() oracle_fmnist= oracle_rel=1e-5 oracle_abs=1e-6 oracle_named=() oracle_files=yes
while IFS= read -r line || [ -n "$line" ]; do
    case $line in
    '# args:'*) read -r -a more <<<"${line#'# args:'}"; args+=("${more[@]}") ;;
    '# run-args:'*) read -r -a more <<<"${line#'# run-args:'}"; run_args+=("${more[@]}") ;;
    '# exit:'*) expect_exit=$(echo "${line#'# exit:'}" | tr -d '[:space:]') ;;
    '# skip:'*) skip=" ${line#'# skip:'} " ;;
    '# oracle-args:'*) read -r -a more <<<"${line#'# oracle-args:'}"; oracle_args+=("${more[@]}") ;;
    '# oracle-fashion-mnist:'*) oracle_fmnist=${line#'# oracle-fashion-mnist:'} ;;
    '# oracle-compare: stdout'*) oracle_files=no ;;
    '# oracle-tolerance:'*)
        for kv in ${line#'# oracle-tolerance:'}; do
            case $kv in
            rel=*) oracle_rel=${kv#rel=} ;;
            abs=*) oracle_abs=${kv#abs=} ;;
            [a-z_]*=*) oracle_named+=(--name-abs "$kv") ;;
            *) die "$base: '# oracle-tolerance:' wants rel=R abs=A NAME=A, got '$kv'" ;;
            esac
        done ;;
    '# tolerance:'*)
        spec=$(echo "${line#'# tolerance:'}" | xargs)
        number='[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?'
        [[ $spec =~ ^rel=($number)\ abs=($number)$ ]] ||
            die "$(basename "$file"): '# tolerance:' wants 'rel=R abs=A', got '$spec'"
        tolerance=(--rel "${BASH_REMATCH[1]}" --abs "${BASH_REMATCH[4]}") ;;
    '#'*) ;;
    *) break ;;
    esac
done <"$file"
if [ -z "$expect_exit" ]; then
    [ "$mode" = err ] && expect_exit=1 || expect_exit=0
fi
[[ $expect_exit =~ ^[0-9]+$ ]] || die "$base: '# exit:' wants a number, got '$expect_exit'"
case $skip in
*" $mode "*) echo "golden.sh: $base: '# skip: $mode' — skipped"; exit 77 ;;
esac

if [ "$mode" = oracle ] && [ ${#oracle_args[@]} -eq 0 ]; then
    oracle_args=(${run_args[@]+"${run_args[@]}"})
fi
# a failed run leaves nothing behind for aot to compare with
[ "$mode" = run ] && [ -n "${NNC_JIT_OUTPUT:-}" ] && rm -f "$NNC_JIT_OUTPUT"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-golden.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/out"
for i in "${!run_args[@]}"; do
    run_args[i]=${run_args[i]//\$OUT/$tmp/out}
done
[ ${#run_args[@]} -gt 0 ] && [ "$mode" != eval ] && run_args=(-- "${run_args[@]}")
if [ "$mode" = oracle ] && [ -n "$oracle_fmnist" ]; then
    read -r ntrain ntest <<<"$oracle_fmnist"
    "${PYTHON:-python3}" "$tools/fmnist_subset.py" /usr/share/datasets/fashion-mnist \
        "$tmp/fmnist" "$ntrain" "$ntest" || die "$base: cannot make the Fashion-MNIST subset"
    for i in "${!oracle_args[@]}"; do
        oracle_args[i]=${oracle_args[i]//\$FMNIST/$tmp/fmnist}
    done
fi

# run_in_dir OUT ERR CMD...: runs CMD in the test file's directory; sets $status.
run_in_dir() {
    local out=$1 err=$2
    shift 2
    (cd "$dir" && "$@") >"$out" 2>"$err" </dev/null
    status=$?
}

show() {  # show LABEL FILE: print a captured stream, if it holds anything
    if [ -s "$2" ]; then
        echo "---- $1 ----"
        cat "$2"
        echo "---- end of $1 ----"
    fi
}

fail() {
    echo "golden.sh: FAIL $mode $base: $*"
    exit 1
}

# check_status WHAT WANT: a signal always fails; otherwise the status must be WANT.
check_status() {
    if [ "$status" -ge 128 ]; then
        show stdout "$tmp/stdout"
        show stderr "$tmp/stderr"
        fail "$1 was killed by signal $((status - 128)) (exit status $status)"
    fi
    if [ "$status" -ne "$2" ]; then
        show stdout "$tmp/stdout"
        show stderr "$tmp/stderr"
        fail "$1 exited with status $status, expected $2"
    fi
}

case $mode in
tokens|ast|ir)
    run_in_dir "$tmp/stdout" "$tmp/stderr" "$nnc" --color=never --emit="$mode" "${args[@]}" "$base"
    check_status "nnc --emit=$mode" "$expect_exit"
    cp "$tmp/stdout" "$tmp/actual"
    if [ -s "$tmp/stderr" ]; then
        echo "# stderr:" >>"$tmp/actual"
        cat "$tmp/stderr" >>"$tmp/actual"
    fi
    ;;
run|eval)
    extra=()
    [ "$mode" = eval ] && extra=(--eval=f64)
    run_in_dir "$tmp/stdout" "$tmp/stderr" "$nnc" run --color=never "${extra[@]}" "${args[@]}" \
        "$base" "${run_args[@]}"
    check_status "nnc run${extra:+ ${extra[*]}}" "$expect_exit"
    show "stderr (not compared)" "$tmp/stderr"
    cp "$tmp/stdout" "$tmp/actual"
    if [ "$mode" = run ] && [ -n "${NNC_JIT_OUTPUT:-}" ]; then
        cp "$tmp/stdout" "$NNC_JIT_OUTPUT" || die "cannot write NNC_JIT_OUTPUT=$NNC_JIT_OUTPUT"
    fi
    ;;
aot)
    run_in_dir "$tmp/stdout" "$tmp/stderr" "$nnc" --color=never "${args[@]}" "$base" -o "$tmp/program"
    check_status "nnc $base -o PROGRAM" 0
    [ -x "$tmp/program" ] || fail "nnc -o exited 0 but wrote no executable"
    run_in_dir "$tmp/stdout" "$tmp/stderr" "$tmp/program" "${run_args[@]:1}"
    check_status "the compiled program" "$expect_exit"
    show "stderr of the compiled program (not compared)" "$tmp/stderr"
    cp "$tmp/stdout" "$tmp/actual"
    if [ -n "${NNC_JIT_OUTPUT:-}" ]; then
        [ -f "$NNC_JIT_OUTPUT" ] ||
            fail "no output of 'nnc run' at NNC_JIT_OUTPUT=$NNC_JIT_OUTPUT (its run test did not pass)"
        diff -u --label "$base (run, JIT)" --label "$base (aot, executable)" \
                "$NNC_JIT_OUTPUT" "$tmp/actual" ||
            fail "the executable's output differs from the JIT's (they must be the same bits)"
    fi
    ;;
oracle)
    # the same arguments for both runs, each with its own $OUT
    mkdir "$tmp/out-eval"
    eval_args=()
    for i in "${!oracle_args[@]}"; do
        eval_args[i]=${oracle_args[i]//\$OUT/$tmp/out-eval}
        oracle_args[i]=${oracle_args[i]//\$OUT/$tmp/out}
    done
    run_in_dir "$tmp/stdout" "$tmp/stderr" "$nnc" run --color=never "${args[@]}" "$base" \
        -- "${oracle_args[@]}"
    check_status "nnc run" "$expect_exit"
    mv "$tmp/stdout" "$tmp/expected"
    run_in_dir "$tmp/stdout" "$tmp/stderr" "$nnc" run --color=never --eval=f64 "${args[@]}" \
        "$base" -- "${eval_args[@]}"
    check_status "nnc run --eval=f64" "$expect_exit"
    show "stderr of the evaluator (not compared)" "$tmp/stderr"
    tol=(--rel "$oracle_rel" --abs "$oracle_abs" ${oracle_named[@]+"${oracle_named[@]}"})
    keep=${ORACLE_KEEP:-} # a folder: both runs' outputs are copied there (to measure them)
    [ -n "$keep" ] && cp "$tmp/expected" "$keep/$base.run" && cp "$tmp/stdout" "$keep/$base.eval"
    "${PYTHON:-python3}" "$tools/numdiff.py" "${tol[@]}" "$tmp/expected" "$tmp/stdout" ||
        fail "the f64 evaluator's output differs from the compiled program's beyond the tolerance"
    for f in "$tmp/out"/*.safetensors; do
        [ -e "$f" ] && [ $oracle_files = yes ] || continue
        name=$(basename "$f")
        [ -f "$tmp/out-eval/$name" ] || fail "the compiled program wrote $name, the evaluator did not"
        "${PYTHON:-python3}" "$tools/safetensors_text.py" "$f" >"$tmp/expected.st" &&
            "${PYTHON:-python3}" "$tools/safetensors_text.py" "$tmp/out-eval/$name" >"$tmp/actual.st" ||
            fail "cannot read $name"
        [ -n "$keep" ] && cp "$tmp/expected.st" "$keep/$base.$name.run" &&
            cp "$tmp/actual.st" "$keep/$base.$name.eval"
        "${PYTHON:-python3}" "$tools/numdiff.py" "${tol[@]}" "$tmp/expected.st" "$tmp/actual.st" ||
            fail "$name: the evaluator's tensors differ from the compiled program's beyond the tolerance"
    done
    exit 0
    ;;
repl)
    # one stream, so an error shows up after the results before it
    (cd "$dir" && "$nnc" repl --color=never <"$base") >"$tmp/actual" 2>&1
    status=$?
    cp "$tmp/actual" "$tmp/stdout"
    : >"$tmp/stderr"
    check_status "nnc repl < $base" "$expect_exit"
    ;;
err)
    run_in_dir "$tmp/stdout" "$tmp/stderr" "$nnc" check --color=never "${args[@]}" "$base"
    check_status "nnc check" "$expect_exit"
    show "stdout (not compared)" "$tmp/stdout"
    cp "$tmp/stderr" "$tmp/actual"
    ;;
esac

if [ "${UPDATE:-0}" = 1 ] && [ "${NNC_ISA:-}" = avx2 ]; then
    echo "golden.sh: $base: UPDATE=1 under NNC_ISA=avx2 writes nothing (goldens are the host's)"
    exit 0
fi
if [ "${UPDATE:-0}" = 1 ] && [ "$mode" != aot ] && [ "$mode" != eval ]; then
    if [ -f "$golden" ] && cmp -s "$tmp/actual" "$golden"; then
        echo "golden.sh: $base: $(basename "$golden") unchanged"
    elif [ "$mode" = run ] && [ -f "$golden" ] &&
            "${PYTHON:-python3}" "$tools/numdiff.py" "${tolerance[@]}" "$golden" "$tmp/actual" \
                >/dev/null; then
        # another CPU's last digits are no change
        echo "golden.sh: $base: $(basename "$golden") kept (the output matches it within the tolerance)"
    else
        cp "$tmp/actual" "$golden"
        echo "golden.sh: $base: wrote $(basename "$golden") — review the diff before committing"
    fi
    exit 0
fi

if [ ! -f "$golden" ]; then
    show "actual output" "$tmp/actual"
    fail "missing golden file $golden
golden.sh: create it with 'make update-goldens' (UPDATE=1) and review it before committing"
fi

if [ "$mode" = eval ]; then
    "${PYTHON:-python3}" "$tools/numdiff.py" "$golden" "$tmp/actual" ||
        fail "the f64 evaluator's output differs from $(basename "$golden") beyond the tolerance"
    exit 0
fi

# run and aot: the same text, and numbers within the tolerance; a failure shows both.
if [ "$mode" = run ] || [ "$mode" = aot ]; then
    cmp -s "$golden" "$tmp/actual" && exit 0
    if "${PYTHON:-python3}" "$tools/numdiff.py" "${tolerance[@]}" "$golden" "$tmp/actual" \
            >"$tmp/numdiff"; then
        cat "$tmp/numdiff"
        exit 0
    fi
    diff -u --label "$(basename "$golden") (golden)" --label "$base ($mode, actual)" \
        "$golden" "$tmp/actual"
    cat "$tmp/numdiff"
    fail "output differs from the golden $golden beyond the tolerance (UPDATE=1 rewrites it)"
fi

if ! diff -u --label "$(basename "$golden") (golden)" --label "$base ($mode, actual)" \
        "$golden" "$tmp/actual"; then
    fail "output differs from the golden $golden (UPDATE=1 rewrites it)"
fi
exit 0
