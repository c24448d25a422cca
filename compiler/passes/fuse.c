/* fuse.c — elementwise chains and the reduction consuming them become FUSED nodes.
 *
 * Groups grow from a root (the last node of a chain, possibly a reduction) toward its
 * producers, walking the graph from the end. A producer joins when it is elementwise, all
 * its users are already in the group (so nothing outside needs its value materialized), and
 * it is as large as the group's domain (a smaller producer would be recomputed for every
 * domain element; it becomes its own kernel instead). Every elementwise or reduce node
 * ends up in some group; a group of one is still a FUSED node, so codegen sees one kind
 * of kernel. Last, FUSED nodes that compute the same function (an optimizer's update of
 * each parameter) are brought together, for codegen to run as one kernel (gather_alike). */
#include "passes/passes.h"
#include "util/util.h"

#include <string.h>

static bool fusible(const IrNode *n)
{
    return ir_op_is_elementwise(n->op) || ir_op_kind(n->op) == IR_KIND_REDUCE;
}

typedef struct Fuse {
    IrGraph *g;
    int *group;          /* by node id: group number, or -1 */
    PtrVec *users;       /* by node id */
} Fuse;

static bool all_users_in(const Fuse *f, const IrNode *p, int group)
{
    const PtrVec *u = &f->users[p->id];
    for (int i = 0; i < u->len; i++)
        if (f->group[((IrNode *)u->items[i])->id] != group)
            return false;
    return u->len > 0;
}

static void grow(Fuse *f, IrNode *root, int group)
{
    const IrShape *domain =
        ir_op_kind(root->op) == IR_KIND_REDUCE ? &root->in[0]->shape : &root->shape;
    int64_t domain_numel = ir_shape_numel(domain);
    PtrVec work = {0};
    f->group[root->id] = group;
    util_vec_push(&work, root);
    while (work.len) {
        IrNode *m = work.items[--work.len];
        for (int j = 0; j < m->nin; j++) {
            IrNode *p = m->in[j];
            if (f->group[p->id] >= 0 || !ir_op_is_elementwise(p->op))
                continue;
            if (ir_shape_numel(&p->shape) != domain_numel && p->op != IR_OP_BROADCAST)
                continue;
            if (!all_users_in(f, p, group))
                continue;
            f->group[p->id] = group;
            util_vec_push(&work, p);
        }
    }
    util_vec_free(&work);
}

int pass_alike_run(const IrGraph *g, int i)
{
    const IrNode *first = g->nodes[i];
    if (!ir_fused_flat(first))
        return 1;
    int r = 1;
    for (; i + r < g->len && ir_fused_alike(first, g->nodes[i + r]); r++) {
        const IrNode *n = g->nodes[i + r];
        for (int j = 0; j < n->nin; j++)
            for (int m = 0; m < r; m++)
                if (n->in[j] == g->nodes[i + m])
                    return r;
    }
    return r;
}

/* A node without inputs that reads nothing a kernel writes: it may move earlier. A slot's
 * load may not move above a store (to any slot: kept simple). */
static bool movable_source(const IrNode *n)
{
    return n->nin == 0 && (n->op == IR_OP_SLOT_LOAD || n->op == IR_OP_CONST ||
                           n->op == IR_OP_SCALAR_INPUT);
}

/* Moves g->nodes[from] to index to (to <= from), shifting the nodes between up by one. */
static void move_node(IrGraph *g, int from, int to)
{
    IrNode *n = g->nodes[from];
    memmove(g->nodes + to + 1, g->nodes + to, sizeof(IrNode *) * (size_t)(from - to));
    g->nodes[to] = n;
}

/* Whether n, at index j, can join the run g->nodes[start .. end): none of its inputs is in
 * the run, and each one after it is a movable source with no SLOT_STORE between the run's
 * start and it. Marks those sources (aux = n). */
static bool can_join(IrGraph *g, const int *position, int start, int end, int j, IrNode *n)
{
    bool ok = true;
    for (int k = 0; k < n->nin && ok; k++) {
        IrNode *p = n->in[k];
        int q = position[p->id];
        if (q < start)
            continue;
        ok = q >= end && q < j && movable_source(p);
        for (int s = start; s < q && ok; s++)
            ok = g->nodes[s]->op != IR_OP_SLOT_STORE;
        if (ok)
            p->aux = n;
    }
    for (int k = 0; k < n->nin && !ok; k++)
        n->in[k]->aux = NULL;
    return ok;
}

/* An optimizer's update is one FUSED node per parameter (and per state), all alike
 * (ir_fused_alike), interleaved: velocity 1, parameter 1 (which reads velocity 1),
 * velocity 2, ... Each node alike to an earlier one moves up to join it when it can
 * (can_join), its sources moving just before the run, so that the alike nodes stand
 * together and codegen runs each such run as one kernel over all their elements. Nothing
 * moves past a node it depends on, so the order is still a valid schedule. */
static void gather_alike(IrGraph *g)
{
    int *position = util_malloc(sizeof(int) * (size_t)(g->next_id + 1));
    for (int i = 0; i < g->len; i++)
        g->nodes[i]->aux = NULL;
    for (int start = 0; start < g->len; start++) {
        IrNode *first = g->nodes[start];
        if (!ir_fused_flat(first))
            continue;
        int end = start + 1;
        for (int j = end; j < g->len; j++) {
            IrNode *n = g->nodes[j];
            if (!ir_fused_alike(first, n))
                continue;
            for (int i = 0; i < g->len; i++)
                position[g->nodes[i]->id] = i;
            if (!can_join(g, position, start, end, j, n))
                continue;
            for (int q = end; q < j; q++) /* its sources, before the run */
                if (g->nodes[q]->aux == n) {
                    g->nodes[q]->aux = NULL;
                    move_node(g, q, start++);
                    end++;
                }
            move_node(g, j, end++);
        }
        start = end - 1;
    }
    util_free(position);
}

void pass_fuse(IrGraph *g)
{
    int nid = g->next_id;
    Fuse f = {.g = g};
    f.group = util_malloc(sizeof(int) * (size_t)nid);
    f.users = util_malloc(sizeof(PtrVec) * (size_t)nid);
    for (int i = 0; i < nid; i++) {
        f.group[i] = -1;
        f.users[i] = (PtrVec){0};
    }
    for (int i = 0; i < g->len; i++)
        for (int j = 0; j < g->nodes[i]->nin; j++)
            util_vec_push(&f.users[g->nodes[i]->in[j]->id], g->nodes[i]);

    int ngroups = 0;
    for (int i = g->len - 1; i >= 0; i--)
        if (fusible(g->nodes[i]) && f.group[g->nodes[i]->id] < 0)
            grow(&f, g->nodes[i], ngroups++);

    /* Members of each group in program order; the last one is the root. */
    PtrVec *members = util_malloc(sizeof(PtrVec) * (size_t)(ngroups ? ngroups : 1));
    memset(members, 0, sizeof(PtrVec) * (size_t)(ngroups ? ngroups : 1));
    for (int i = 0; i < g->len; i++)
        if (f.group[g->nodes[i]->id] >= 0)
            util_vec_push(&members[f.group[g->nodes[i]->id]], g->nodes[i]);

    for (int i = 0; i < g->len; i++)
        g->nodes[i]->aux = NULL;
    int k = 0;
    for (int i = 0; i < g->len; i++) {
        IrNode *n = g->nodes[i];
        for (int j = 0; j < n->nin; j++)
            if (n->in[j]->aux)
                n->in[j] = n->in[j]->aux;
        int grp = f.group[n->id];
        if (grp < 0) {
            g->nodes[k++] = n;
            continue;
        }
        PtrVec *mem = &members[grp];
        if (mem->items[mem->len - 1] != n)
            continue; /* emitted inside its group's FUSED node, at the root */
        /* External inputs: every input of a member that is not itself a member. */
        PtrVec ext = {0};
        for (int m = 0; m < mem->len; m++) {
            IrNode *b = mem->items[m];
            for (int j = 0; j < b->nin; j++) {
                IrNode *p = b->in[j];
                if (p->id < nid && f.group[p->id] == grp)
                    continue;
                bool seen = false;
                for (int e = 0; e < ext.len && !seen; e++)
                    seen = ext.items[e] == p;
                if (!seen)
                    util_vec_push(&ext, p);
            }
        }
        IrNode *fused = ir_node_alloc(g, IR_OP_FUSED, (IrNode **)ext.items, ext.len, n->span);
        fused->shape = n->shape;
        fused->dtype = n->dtype; /* i32 when the root is a cast to i32 */
        fused->attr.fused.nbody = mem->len;
        fused->attr.fused.body = arena_copy(&g->arena, mem->items, sizeof(IrNode *) * (size_t)mem->len);
        util_vec_free(&ext);
        n->aux = fused;
        g->nodes[k++] = fused;
    }
    g->len = k;
    for (int i = 0; i < g->len; i++)
        g->nodes[i]->aux = NULL;

    for (int i = 0; i < ngroups; i++)
        util_vec_free(&members[i]);
    util_free(members);
    for (int i = 0; i < nid; i++)
        util_vec_free(&f.users[i]);
    util_free(f.users);
    util_free(f.group);
    gather_alike(g);
}
