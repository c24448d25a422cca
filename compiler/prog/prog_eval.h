/* prog_eval.h — the reference evaluator for whole programs (prog.h): `nnc run --eval`
 * of a train block. The host code runs as docs/training.md and docs/language.md describe
 * it, written apart from codegen/program.c so that the two can be compared; each region
 * runs on the graph evaluator (ir/eval.h) in the given precision, with the slots held in
 * doubles. What is not numerics comes from the runtime, as in compiled code: the command
 * line's settings and flags, data files, batch order and shuffles, random streams, log and
 * print formatting, progress, checkpoint files. So its stdout is comparable line by line
 * with the compiled program's (golden.sh's oracle mode). */
#ifndef NNC_PROG_EVAL_H
#define NNC_PROG_EVAL_H

#include "ir/eval.h"
#include "prog/prog.h"

#include "nnc_rt.h"

/* Runs p, whose regions are autodiffed and simplified but not fused (fusion and codegen
 * are what the oracle checks), with the program's command line argv[1..argc) (argv[0] its
 * name), and returns the exit status (rt_exit; a runtime failure exits the process as in
 * compiled code). Region shapes are changed while a region runs on a partial batch and
 * restored after. */
int prog_eval_run(Prog *p, EvalPrecision precision, int argc, char **argv);

/* A host expression's value (prog.h): comparisons, `and`, `or` and `not` give 1 or 0, a
 * condition is true when not 0 (NaN too), % is the floored remainder, PX_OP_FLOOR rounds
 * toward -inf. datas[i] is ProgData i's dataset, or datas is NULL: len(data) reads 0. */
double prog_eval_expr(const ProgExpr *e, const double *vars, const double *outs,
                      RtDataset *const *datas);

#endif
