/* ad.h — reverse-mode automatic differentiation as a graph-to-graph transform.
 * Every GRAD(y, w) node is replaced, in place in program order, by the nodes computing
 * dy/dw, built from one derivative rule per primitive (autodiff/rules.c, the "derivative"
 * column of ops.def). Derived nodes inherit the span of the node they differentiate. */
#ifndef NNC_AD_H
#define NNC_AD_H

#include "ir/ir.h"

#include <stdio.h>

void ad_run(IrGraph *g);

/* `nnc gradcheck FILE` (gradcheck.c): the first optimizer step of a training program p
 * (as the tracer made it, before any pass), its gradients against central differences in
 * f64 on the reference evaluator; a table on `out`. Returns 0 when every parameter's
 * worst relative error is within the tolerance, else 1. Changes p's regions. */
struct Prog;
int ad_gradcheck(struct Prog *p, FILE *out);

#endif
