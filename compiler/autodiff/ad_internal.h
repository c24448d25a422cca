/* ad_internal.h — shared between the autodiff driver and its derivative rules. */
#ifndef NNC_AD_INTERNAL_H
#define NNC_AD_INTERNAL_H

#include "ir/ir.h"

/* The contribution of n's adjoint `gy` (shaped like n) to the adjoint of n->in[i], already
 * reduced to n->in[i]'s shape; NULL when the input does not affect n differentiably
 * (comparisons, a select's condition). One per "derivative" entry of ops.def. */
typedef IrNode *AdRule(IrGraph *g, IrNode *n, int i, IrNode *gy);
AdRule *ad_rule(IrOp op);

/* Sums gy (shaped like a broadcast result) over the axes along which `shape` was
 * stretched, giving a tensor of `shape`. */
IrNode *ad_unbroadcast(IrGraph *g, Span s, IrNode *gy, const IrShape *shape);

#endif
