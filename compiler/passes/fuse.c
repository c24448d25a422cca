/* fuse.c — elementwise chains and the reduction consuming them become FUSED nodes.
 *
 * First, a weight gradient added to a scaled slot that is stored back into the slot
 * becomes one matmul_acc (pass_accumulate, accumulate.c), which no kernel computes.
 * Every reduction is the root of a group (a kernel), and so is every elementwise node
 * whose value must be materialized. The others are inlined: they are computed inside
 * the kernels of the groups that use them. Walking the graph from the end (users before
 * producers), an elementwise node is inlined when all its users are elementwise or
 * reduce nodes, it is as large as the domain of every group it would join (a smaller
 * producer would be recomputed for every domain element; it becomes its own kernel
 * instead; broadcasts excepted), and either one group uses it, or a few do and it can be
 * recomputed from what is there anyway (mark_dupable). A recomputed node saves writing
 * its tensor and reading it back in every kernel that uses it: batch norm's x - mean, its
 * normalized value and the scaled and shifted one are computed again from x where they
 * are used instead of being four tensors. A group of one is still a FUSED node, so
 * codegen sees one kind of kernel. Last, FUSED nodes that compute the same function (an
 * optimizer's update of each parameter) are brought together, for codegen to run as one
 * kernel (gather_alike), and such runs that update the same parameters stand next to
 * each other, for codegen to run them block by block (adjoin_runs). */
#include "passes/passes.h"
#include "util/util.h"

#include <string.h>

/* The most groups an inlined node is recomputed in. */
#define MAX_SHARED 10
/* The fewest elements of a node recomputed in several groups (mark_dupable). */
#define DUP_MIN_NUMEL (1 << 16)
/* The most ops recomputed with such a node (mark_dupable). */
#define DUP_MAX_OPS 8
/* The most ops per element that recomputing a node in its groups adds: those ops times
 * the number of groups. A store and a load cost about as much as a few dozen such ops
 * (vector ops on data the kernels read anyway). */
#define DUP_BUDGET 24

static bool fusible(const IrNode *n)
{
    return ir_op_is_elementwise(n->op) || ir_op_kind(n->op) == IR_KIND_REDUCE;
}

/* Recomputing costs less than a store and a load: no exp, log, tanh, sigmoid, pow or
 * square root. */
static bool cheap(const IrNode *n)
{
    switch (n->op) {
    case IR_OP_EXP:
    case IR_OP_LOG:
    case IR_OP_SQRT:
    case IR_OP_TANH:
    case IR_OP_SIGMOID:
    case IR_OP_POW: return false;
    default: return ir_op_is_elementwise(n->op);
    }
}

/* The groups that compute a node: n of them, in group[0 .. n); n == -1: more than
 * MAX_SHARED (a root is in its own group alone). */
typedef struct Groups {
    int n;
    int group[MAX_SHARED];
} Groups;

typedef struct Fuse {
    IrGraph *g;
    int nid;              /* ids below: the nodes before fusion */
    bool *dupable;        /* by node id: see mark_dupable */
    int *ops;             /* by node id: the ops recomputed with it (mark_dupable) */
    Groups *in;           /* by node id; n == 0: not fused (not fusible) */
    int64_t *domain;      /* by group: the numel of its iteration domain */
    int ngroups, cap;
    PtrVec *users;        /* by node id */
} Fuse;

/* Whether n's value is stored whatever fusion does: it is not elementwise (a source, a
 * reduction, a matmul's or convolution's result), or something that is no kernel's body
 * (a convolution, a slot's store) reads it. */
static bool stored(const Fuse *f, const IrNode *n)
{
    if (!ir_op_is_elementwise(n->op))
        return true;
    const PtrVec *u = &f->users[n->id];
    for (int i = 0; i < u->len; i++)
        if (!fusible(u->items[i]))
            return true;
    return false;
}

/* A node may be recomputed in several kernels when it is large (a smaller tensor stays
 * in the cache between its kernels), cheap, and its inputs are there anyway: each is
 * smaller than it (broadcast), stored, or itself dupable; and what is recomputed with it,
 * it and its dupable inputs of its size, their inputs, and so on, is at most DUP_MAX_OPS
 * ops (a sum of 64 gradient terms is not recomputed in each optimizer kernel that reads
 * it). Recomputing a node whose input is an expensive tensor of its size would make that
 * tensor a kernel of its own, which costs more than the tensor the recomputation saves.
 * Producers first; f->ops counts a node's recomputed ops. */
static void mark_dupable(Fuse *f)
{
    int *ops = f->ops;
    for (int i = 0; i < f->g->len; i++) {
        const IrNode *n = f->g->nodes[i];
        int64_t numel = ir_shape_numel(&n->shape);
        bool ok = cheap(n) && numel >= DUP_MIN_NUMEL;
        ops[n->id] = 1;
        for (int j = 0; j < n->nin && ok; j++) {
            const IrNode *q = n->in[j];
            if (stored(f, q) || ir_shape_numel(&q->shape) < numel)
                continue;
            ok = f->dupable[q->id];
            ops[n->id] += ops[q->id];
        }
        f->dupable[n->id] = ok && ops[n->id] <= DUP_MAX_OPS;
    }
}

static void add_group(Groups *s, int group)
{
    if (s->n < 0)
        return;
    for (int i = 0; i < s->n; i++)
        if (s->group[i] == group)
            return;
    if (s->n == MAX_SHARED)
        s->n = -1;
    else
        s->group[s->n++] = group;
}

static void new_group(Fuse *f, const IrNode *root)
{
    if (f->ngroups == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 64;
        f->domain = util_realloc(f->domain, sizeof(int64_t) * (size_t)f->cap);
    }
    const IrShape *domain =
        ir_op_kind(root->op) == IR_KIND_REDUCE ? &root->in[0]->shape : &root->shape;
    f->domain[f->ngroups] = ir_shape_numel(domain);
    f->in[root->id] = (Groups){1, {f->ngroups++}};
}

/* Decides node p (all its users decided): inlined into its users' groups, or a root. */
static void place(Fuse *f, IrNode *p)
{
    const PtrVec *u = &f->users[p->id];
    Groups s = {0};
    bool inline_ok = ir_op_is_elementwise(p->op) && u->len > 0;
    for (int i = 0; i < u->len && inline_ok; i++) {
        const Groups *ug = &f->in[((IrNode *)u->items[i])->id];
        inline_ok = ug->n != 0; /* else the user is no kernel's */
        if (ug->n < 0)
            s.n = -1;
        for (int j = 0; j < ug->n; j++)
            add_group(&s, ug->group[j]);
    }
    inline_ok = inline_ok && s.n > 0;
    for (int j = 0; j < s.n && inline_ok; j++)
        inline_ok = ir_shape_numel(&p->shape) == f->domain[s.group[j]] || p->op == IR_OP_BROADCAST;
    if (inline_ok && (s.n == 1 || (f->dupable[p->id] && f->ops[p->id] * s.n <= DUP_BUDGET)))
        f->in[p->id] = s;
    else
        new_group(f, p);
}

static bool in_group(const Fuse *f, const IrNode *n, int group)
{
    if (n->id >= f->nid)
        return false;
    const Groups *s = &f->in[n->id];
    for (int i = 0; i < s->n; i++)
        if (s->group[i] == group)
            return true;
    return false;
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

/* The slot whose data input x is: its slot load's (through reshapes), or the slot a kernel
 * writes x into (in_place); -1 for neither. */
static int slot_of(const IrNode *x, const int *in_place)
{
    const IrNode *load = ir_slot_source(x);
    return load ? load->attr.io.index : in_place[x->id];
}

/* Whether the run of r nodes at g->nodes[i + k * r] may join the chain of the k runs of r
 * nodes at g->nodes[i] (see passes.h): member m of each run is as large as member m of the
 * first, and no node of the k + 1 runs reads another member's data: a node of the chain,
 * or a slot that a node of the chain writes in place. Reads within a member are at the
 * element's own index (the kernels are flat), so running the members block by block, the
 * runs in order on each block, keeps what each node reads. Inputs are compared directly:
 * a view of a chain node (a RESHAPE) would stand between the runs, which would then not
 * be adjacent. */
static bool chain_may_take(const IrGraph *g, int i, int r, int k, const int *in_place)
{
    int len = (k + 1) * r;
    for (int m = 0; m < r; m++)
        if (ir_shape_numel(&g->nodes[i + k * r + m]->shape) !=
            ir_shape_numel(&g->nodes[i + m]->shape))
            return false;
    for (int y = 0; y < len; y++) {
        const IrNode *n = g->nodes[i + y];
        for (int j = 0; j < n->nin; j++) {
            const IrNode *x = n->in[j];
            int slot = slot_of(x, in_place);
            for (int w = 0; w < len; w++) {
                const IrNode *c = g->nodes[i + w];
                bool shares = x == c || (slot >= 0 && in_place[c->id] == slot);
                if (shares && w % r != y % r)
                    return false;
            }
        }
    }
    return true;
}

int pass_alike_chain(const IrGraph *g, int i, const int *in_place)
{
    int r = pass_alike_run(g, i);
    if (r < 2)
        return r;
    int k = 1;
    while (i + (k + 1) * r <= g->len && pass_alike_run(g, i + k * r) == r &&
           chain_may_take(g, i, r, k, in_place))
        k++;
    return k * r;
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

/* Moves the sources standing between two runs of alike nodes of the same length (an
 * optimizer's learning rate and parameters, between the velocities and the parameters'
 * update) before the first run, so that the runs stand next to each other and may chain
 * (pass_alike_chain). Those sources are movable_source nodes, and the first run stores
 * no slot (its kernels are FUSED nodes), so they may come earlier. */
static void adjoin_runs(IrGraph *g)
{
    for (int i = 0; i < g->len;) {
        int r = pass_alike_run(g, i);
        int q = i + r;
        while (q < g->len && movable_source(g->nodes[q]))
            q++;
        if (r >= 2 && q > i + r && q < g->len && pass_alike_run(g, q) == r)
            for (int from = i + r; from < q; from++)
                move_node(g, from, i++);
        i += r;
    }
}

void pass_fuse(IrGraph *g)
{
    pass_accumulate(g);
    int nid = g->next_id;
    Fuse f = {.g = g, .nid = nid};
    f.in = util_malloc(sizeof(Groups) * (size_t)nid);
    f.dupable = util_malloc(sizeof(bool) * (size_t)nid);
    f.users = util_malloc(sizeof(PtrVec) * (size_t)nid);
    for (int i = 0; i < nid; i++) {
        f.in[i] = (Groups){0};
        f.users[i] = (PtrVec){0};
    }
    for (int i = 0; i < g->len; i++)
        for (int j = 0; j < g->nodes[i]->nin; j++)
            util_vec_push(&f.users[g->nodes[i]->in[j]->id], g->nodes[i]);

    f.ops = util_malloc(sizeof(int) * (size_t)nid);
    mark_dupable(&f);
    for (int i = g->len - 1; i >= 0; i--)
        if (fusible(g->nodes[i]))
            place(&f, g->nodes[i]);

    /* Members of each group in program order; the last one is the root. */
    int ngroups = f.ngroups;
    PtrVec *members = util_malloc(sizeof(PtrVec) * (size_t)(ngroups ? ngroups : 1));
    memset(members, 0, sizeof(PtrVec) * (size_t)(ngroups ? ngroups : 1));
    for (int i = 0; i < g->len; i++) {
        const Groups *s = &f.in[g->nodes[i]->id];
        for (int j = 0; j < s->n; j++)
            util_vec_push(&members[s->group[j]], g->nodes[i]);
    }

    for (int i = 0; i < g->len; i++)
        g->nodes[i]->aux = NULL;
    int k = 0;
    for (int i = 0; i < g->len; i++) {
        IrNode *n = g->nodes[i];
        for (int j = 0; j < n->nin; j++)
            if (n->in[j]->aux)
                n->in[j] = n->in[j]->aux;
        if (f.in[n->id].n == 0) {
            g->nodes[k++] = n;
            continue;
        }
        int grp = f.in[n->id].group[0];
        PtrVec *mem = &members[grp];
        if (mem->items[mem->len - 1] != n)
            continue; /* inlined: computed inside the FUSED nodes of its groups */
        /* External inputs: every input of a member that is not itself a member. */
        PtrVec ext = {0};
        for (int m = 0; m < mem->len; m++) {
            IrNode *b = mem->items[m];
            for (int j = 0; j < b->nin; j++) {
                IrNode *p = b->in[j];
                if (in_group(&f, p, grp))
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
    util_free(f.dupable);
    util_free(f.ops);
    util_free(f.in);
    util_free(f.domain);
    gather_alike(g);
    adjoin_runs(g);
}
