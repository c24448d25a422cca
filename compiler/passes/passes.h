/* passes.h — graph-to-graph optimizations, run in this order by the driver. */
#ifndef NNC_PASSES_H
#define NNC_PASSES_H

#include "ir/ir.h"

/* Folds algebraic identities (x*1, x+0, transpose of transpose), merges identical nodes
 * (CSE) and removes nodes no effect depends on (DCE). */
void pass_simplify(IrGraph *g);
/* Groups each chain of elementwise ops, and the reduction consuming it, into one FUSED
 * node (see ir.h); every elementwise or reduce op ends up inside a FUSED node. */
void pass_fuse(IrGraph *g);

#endif
