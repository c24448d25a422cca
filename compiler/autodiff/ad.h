/* ad.h — reverse-mode automatic differentiation as a graph-to-graph transform.
 * Every GRAD(y, w) node is replaced, in place in program order, by the nodes computing
 * dy/dw, built from one derivative rule per primitive (autodiff/rules.c, the "derivative"
 * column of ops.def). Derived nodes inherit the span of the node they differentiate. */
#ifndef NNC_AD_H
#define NNC_AD_H

#include "ir/ir.h"

void ad_run(IrGraph *g);

#endif
