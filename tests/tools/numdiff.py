#!/usr/bin/env python3
"""numdiff.py — compare two program outputs: numbers within a tolerance, other text exactly.

usage: numdiff.py [--rel R] [--abs A] [--name-abs NAME=A ...] EXPECTED ACTUAL

Used for `eval` tests: the golden (EXPECTED) is what the f32 compiled code printed, rounded
to 4 significant digits; ACTUAL is what the f64 reference evaluator printed. Two numbers
match when |e - a| <= A or |e - a| <= R * max(|e|, |a|) (defaults R = 1e-3, A = 1e-5: one
unit in the 4th significant digit, and noise around zero). nan matches nan, inf matches
an inf of the same sign. --name-abs NAME=A gives a number logged as `NAME = value` the
absolute tolerance A instead (an accuracy over N samples, which one prediction at a tie
moves by 1/N).

Text between numbers must match exactly, except that a run of spaces or tabs matches any
other such run (column padding may differ with the width of the numbers). Both files must
have the same number of lines and the same count of numbers on each line.

Always prints how many numbers were compared and the largest differences; on a mismatch
also the first differing places. Exit status: 0 match, 1 mismatch, 2 usage or I/O error.
"""
import argparse
import math
import re
import sys

# A number not glued to a word: "f32" and "x1" stay text, "-1.5e-3" and "[2," are numbers.
NUMBER = re.compile(
    r"(?<![\w.])[-+]?(?:(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|nan|inf|infinity)(?!\w)",
    re.IGNORECASE)
BLANKS = re.compile(r"[ \t]+")
MAX_REPORTED = 20


def split_line(line):
    """Returns (texts, numbers): len(texts) == len(numbers) + 1, interleaved."""
    texts, numbers, pos = [], [], 0
    for m in NUMBER.finditer(line):
        texts.append(BLANKS.sub(" ", line[pos:m.start()]))
        numbers.append((m.group(0), float(m.group(0))))
        pos = m.end()
    texts.append(BLANKS.sub(" ", line[pos:]))
    return texts, numbers


def close(e, a, rel, abs_):
    if math.isnan(e) or math.isnan(a):
        return math.isnan(e) and math.isnan(a)
    if math.isinf(e) or math.isinf(a):
        return e == a
    d = abs(e - a)
    # The tiny slack absorbs the binary rounding of the decimal tolerance itself.
    return d <= abs_ or d <= rel * max(abs(e), abs(a)) * (1 + 1e-12)


NAMED = re.compile(r"(\w+) = $")


def compare(expected, actual, rel, abs_, named=None):
    """Returns (problems, count, max_abs, max_rel); named maps a logged name to its abs."""
    problems = []
    count, max_abs, max_rel = 0, 0.0, 0.0
    elines, alines = expected.splitlines(), actual.splitlines()
    if len(elines) != len(alines):
        problems.append(f"expected {len(elines)} lines, got {len(alines)}")
    for i, (el, al) in enumerate(zip(elines, alines), start=1):
        et, en = split_line(el)
        at, an = split_line(al)
        if len(en) != len(an) or et != at:
            problems.append(f"line {i}: text differs\n  expected: {el}\n  actual:   {al}")
            continue
        for k, ((es, e), (as_, a)) in enumerate(zip(en, an), start=1):
            count += 1
            name = NAMED.search(et[k - 1])
            abs_k = (named or {}).get(name.group(1), abs_) if name else abs_
            if not (math.isfinite(e) and math.isfinite(a)):
                ok = close(e, a, rel, abs_k)
                d, r = (0.0, 0.0) if ok else (math.inf, math.inf)
            else:
                d = abs(e - a)
                m = max(abs(e), abs(a))
                r = d / m if m > 0 else 0.0
                ok = close(e, a, rel, abs_k)
            max_abs, max_rel = max(max_abs, d), max(max_rel, r)
            if not ok:
                problems.append(f"line {i}, number {k}: expected {es}, got {as_} "
                                f"(abs diff {d:.3g}, rel diff {r:.3g})")
    return problems, count, max_abs, max_rel


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rel", type=float, default=1e-3, help="relative tolerance (1e-3)")
    ap.add_argument("--abs", type=float, default=1e-5, dest="abs_", help="absolute tolerance (1e-5)")
    ap.add_argument("--name-abs", action="append", default=[], metavar="NAME=A",
                    help="absolute tolerance A for numbers logged as NAME = value")
    ap.add_argument("expected")
    ap.add_argument("actual")
    args = ap.parse_args()
    try:
        with open(args.expected, encoding="utf-8", errors="replace") as f:
            expected = f.read()
        with open(args.actual, encoding="utf-8", errors="replace") as f:
            actual = f.read()
    except OSError as e:
        print(f"numdiff: {e}", file=sys.stderr)
        return 2
    try:
        named = {k: float(v) for k, v in (x.split("=", 1) for x in args.name_abs)}
    except ValueError:
        print("numdiff: --name-abs wants NAME=A", file=sys.stderr)
        return 2
    problems, count, max_abs, max_rel = compare(expected, actual, args.rel, args.abs_, named)
    print(f"numdiff: {count} numbers compared; max abs diff {max_abs:.3g}, "
          f"max rel diff {max_rel:.3g} (tolerance: rel {args.rel:g} or abs {args.abs_:g})")
    for p in problems[:MAX_REPORTED]:
        print(f"numdiff: {p}")
    if len(problems) > MAX_REPORTED:
        print(f"numdiff: ... and {len(problems) - MAX_REPORTED} more")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
