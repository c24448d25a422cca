/* eval.h — the reference evaluator: plain C loops over the IR, in f32 or f64.
 * It is the oracle the compiled code is tested against, and what gradient checks run on.
 * It evaluates graphs before or after fusion (FUSED nodes evaluate their bodies). */
#ifndef NNC_EVAL_H
#define NNC_EVAL_H

#include "ir/ir.h"

#include <stdio.h>

typedef enum EvalPrecision { EVAL_F32, EVAL_F64 } EvalPrecision;

typedef struct EvalResult {
    double **values;   /* values[node->id]: numel(node->shape) doubles, or NULL */
    int count;
} EvalResult;

/* Runs g; PRINT nodes print to `out` (NULL: printing is skipped) through the runtime's
 * formatter with the node's dtype label, so the text matches compiled code. In EVAL_F32
 * every result is rounded to float after each op. */
EvalResult eval_graph(const IrGraph *g, EvalPrecision p, FILE *out);

/* The program state a region reads and writes (prog.h): slots[k] holds the numel
 * elements of slot k (integers for i32 slots), vars the host scalars, outs the region's
 * scalar results. SLOT_LOAD and SCALAR_INPUT read them (SCALAR_INPUT rounds to f32 in
 * EVAL_F32); SLOT_STORE and SCALAR_OUTPUT write them in program order. */
typedef struct EvalEnv {
    double **slots;
    const double *vars;
    double *outs;
} EvalEnv;
/* eval_graph with program state; env NULL reads zeros and drops the writes. */
EvalResult eval_graph_env(const IrGraph *g, EvalPrecision p, FILE *out, EvalEnv *env);
void eval_result_free(EvalResult *r);

#endif
