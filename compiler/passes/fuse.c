/* fuse.c — elementwise chains and the reduction consuming them become FUSED nodes.
 *
 * Groups grow from a root (the last node of a chain, possibly a reduction) toward its
 * producers, walking the graph from the end. A producer joins when it is elementwise, all
 * its users are already in the group (so nothing outside needs its value materialized), and
 * it is as large as the group's domain (a smaller producer would be recomputed for every
 * domain element; it becomes its own kernel instead). Every elementwise or reduce node
 * ends up in some group; a group of one is still a FUSED node, so codegen sees one kind
 * of kernel. */
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
}
