/* autodiff.c — reverse mode on the graph (see ad.h).
 *
 * For GRAD(y, w): the nodes on a path from w to y are those both reachable backward from y
 * and depending on w. Walking them in reverse program order, each node's adjoint (the sum
 * of its users' contributions) is passed through its op's rule to its inputs. The new
 * nodes are appended where the GRAD stood, so program order stays topological. */
#include "autodiff/ad.h"
#include "autodiff/ad_internal.h"
#include "util/util.h"

#include <string.h>

enum { MARK_ANCESTOR = 1, MARK_DEPENDS = 2 };

/* Builds the gradient of y with respect to w from the nodes currently in g->nodes. */
static IrNode *differentiate(IrGraph *g, IrNode *grad, IrNode *y, IrNode *w)
{
    /* A snapshot: the rules append to g->nodes, which may move it. */
    int n = g->len;
    IrNode **nodes = util_malloc(sizeof(IrNode *) * (size_t)(n ? n : 1));
    memcpy(nodes, g->nodes, sizeof(IrNode *) * (size_t)n);
    int idmax = g->next_id;
    IrNode **adj = util_malloc(sizeof(IrNode *) * (size_t)idmax);
    memset(adj, 0, sizeof(IrNode *) * (size_t)idmax);
    for (int i = 0; i < n; i++)
        nodes[i]->mark = 0;

    /* Nodes depending on w (forward), then ancestors of y (backward). */
    w->mark |= MARK_DEPENDS;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < nodes[i]->nin; j++)
            if (nodes[i]->in[j]->mark & MARK_DEPENDS)
                nodes[i]->mark |= MARK_DEPENDS;
    y->mark |= MARK_ANCESTOR;
    for (int i = n - 1; i >= 0; i--)
        if (nodes[i]->mark & MARK_ANCESTOR)
            for (int j = 0; j < nodes[i]->nin; j++)
                nodes[i]->in[j]->mark |= MARK_ANCESTOR;

    IrNode *result = NULL;
    if (y->mark & MARK_DEPENDS) {
        adj[y->id] = ir_scalar(g, grad->span, 1.0);
        for (int i = n - 1; i >= 0; i--) {
            IrNode *node = nodes[i];
            IrNode *gy = adj[node->id];
            if (!gy || node == w || node->mark != (MARK_ANCESTOR | MARK_DEPENDS))
                continue;
            AdRule *rule = ad_rule(node->op);
            for (int j = 0; j < node->nin; j++) {
                IrNode *x = node->in[j];
                if (x->mark != (MARK_ANCESTOR | MARK_DEPENDS))
                    continue;
                IrNode *d = rule(g, node, j, gy);
                if (d)
                    adj[x->id] = adj[x->id] ? ir_binary(g, node->span, IR_OP_ADD, adj[x->id], d) : d;
            }
        }
        result = adj[w->id];
    }
    if (!result) /* y does not depend on w: the gradient is zero */
        result = ir_broadcast(g, grad->span, ir_scalar(g, grad->span, 0), &w->shape);
    util_free(adj);
    util_free(nodes);
    return result;
}

void ad_run(IrGraph *g)
{
    IrNode **old = g->nodes;
    int n = g->len;
    g->nodes = NULL;
    g->len = g->cap = 0;
    for (int i = 0; i < n; i++)
        old[i]->aux = NULL;
    for (int i = 0; i < n; i++) {
        IrNode *node = old[i];
        for (int j = 0; j < node->nin; j++)
            if (node->in[j]->aux)
                node->in[j] = node->in[j]->aux;
        if (node->op == IR_OP_GRAD)
            node->aux = differentiate(g, node, node->in[0], node->in[1]);
        else
            ir_graph_append(g, node);
    }
    for (int i = 0; i < n; i++)
        old[i]->aux = NULL;
    util_free(old);
}
