/* progen.h — a generator of small random train programs, with the output they must print.
 *
 * progen_generate maps a byte string (libFuzzer's input) or a seed to one valid program:
 * host ints and floats, arithmetic with floor division and remainder, comparisons, user
 * functions on them, nested `for` ranges and bounded `while` loops with `break` and
 * `continue`, `if`/`else if`/`else` with and without assignments, `log` and `print` of
 * host values, and tensor parts: a layer's state assigned from outside and by a method,
 * random draws inside loops, SGD steps on a linear layer under a learning-rate schedule,
 * a dropout model trained with a zero rate, and loops over batches of a CSV file that
 * break before or after a step (their progress lines must count the steps trained). While it generates, it runs the program
 * on its own model of docs/language.md's semantics (an oracle that shares no code with
 * nnc) and records the output the program must print: exact numbers where the semantics
 * fix them, and for random values a wildcard with the properties they must have (a range;
 * draws that must differ between executions of one statement).
 *
 * progen_compare checks a program's actual stdout against that expectation;
 * progen_numdiff compares two outputs by tests/tools/numdiff.py's rule. Both are used by
 * the driver (progen_main.c, ctest progen.bounded) and the libFuzzer target
 * (fuzz_prog.c); progen_run.c runs nnc on a program. */
#ifndef PROGEN_H
#define PROGEN_H

#include <stddef.h>
#include <stdint.h>

/* numdiff.py's tolerance: |e - a| <= PROGEN_ABS or <= PROGEN_REL * max(|e|, |a|). The
 * compiled program computes tensors in f32 and prints 4 (print) or 6 (log) significant
 * digits, so one unit in the 4th digit is the finest a printed value can be trusted to;
 * the generator's bugs of interest (floor division, skipped assignments, repeated
 * branches, fixed draws) change values by far more or change the lines. */
#define PROGEN_REL 1e-3
#define PROGEN_ABS 1e-5

typedef struct ProgenProgram {
    char *text;     /* the .nn source */
    char *expected; /* expected stdout; "?" stands for a number checked only by props */
    struct ProgenProp *props;
    int prop_count;
    int *progress; /* the step count each loop over batches must report on stderr */
    int progress_count;
    int statements; /* statements generated, deleted ones included (ids 0 to this - 1) */
} ProgenProgram;

/* A property of the number at (line, index) of the actual output, 0-based; the numbers
 * of a line are counted as numdiff.py counts them. */
typedef enum { PROGEN_PROP_RANGE, PROGEN_PROP_DISTINCT } ProgenPropKind;

typedef struct ProgenProp {
    ProgenPropKind kind;
    int line, index;
    double lo, hi; /* RANGE: lo <= value <= hi */
    int group;     /* DISTINCT: the values of one group must not all be equal */
} ProgenProp;

/* Generates from `data` (size bytes; the generator reads zeros past the end) or, when data
 * is NULL, from `seed`. `data_dir` is a folder holding tests/train/data/points.csv (50
 * samples of 3 features), read by loops over batches; NULL leaves them out. Returns 1 and fills *out (free with progen_free), or 0 when the
 * oracle found the program's values leave its bounds (an int beyond 2^40, a float beyond
 * 1e9): such a program is not emitted. */
int progen_generate(const uint8_t *data, size_t size, uint64_t seed, const char *data_dir,
                    ProgenProgram *out);
/* The same program with each statement whose deleted[id] is nonzero left out, with all
 * it holds (ids as counted by ProgenProgram.statements; beyond ndeleted none is): the
 * choices are made as before, so the rest is unchanged. This is how nnc_progen --reduce
 * shrinks a failing program. */
int progen_generate_reduced(const uint8_t *data, size_t size, uint64_t seed,
                            const char *data_dir, const unsigned char *deleted, int ndeleted,
                            ProgenProgram *out);
void progen_free(ProgenProgram *program);

/* Checks `actual` against program->expected and its props (and, with `err` not NULL,
 * the progress lines' step counts in `err` against program->progress). Returns 1 when it matches;
 * else 0, with a malloc'd explanation in *why (the first differences). */
int progen_compare(const ProgenProgram *program, const char *actual, const char *err,
                   char **why);

/* numdiff.py's rule on two whole outputs, wildcards not allowed. Returns 1 when they
 * match; else 0 with a malloc'd explanation in *why. */
int progen_numdiff(const char *expected, const char *actual, char **why);

/* Runs `nnc run [--eval=f64] FILE` (the bare name, in FILE's directory, as golden.sh
 * does), with a timeout in seconds. Returns the exit status (128 + signal when killed,
 * 124 on the timeout, -1 when nnc could not be started); *out and *err receive what it
 * printed (malloc'd). */
int progen_run_nnc(const char *nnc, const char *dir, const char *name, int eval, int timeout,
                   char **out, char **err);

/* Writes program->text to DIR/NAME, runs the compiled program, and, when the evaluator
 * runs train blocks, the evaluator; checks the compiled output against the expectation,
 * the evaluator's against the compiled one's and the expectation. Returns 1 when all
 * agree; else 0 with a malloc'd report (program, expected and actual outputs, the
 * differences) in *report. *evaluated says whether the evaluator took part. */
int progen_check(const ProgenProgram *program, const char *nnc, const char *dir,
                 const char *name, int timeout, char **report, int *evaluated);

#endif
