/* test_memplan.c — the memory plan (passes/memplan.c) keeps apart every two buffers that
 * are live at once, never lets a node's output overlap its inputs, and reuses memory.
 *
 *   test_memplan                 graphs built by hand (chains, diamonds, multi-use,
 *                                reshape aliases, FUSED nodes, dead and empty tensors,
 *                                a region with slots and host scalars) and random graphs
 *   test_memplan FILE.nn...      each program through the driver's pipeline up to fusion
 *                                (every region of a training program); prints each
 *                                arena before and after planning
 *
 * Every plan is checked against liveness computed here, independently of the pass:
 * node i of g->nodes is point i; a buffer is live from its node to its last reader, a
 * reader of a RESHAPE reading the storage the reshape views. The plan must also come
 * out the same twice (determinism). */
#include "autodiff/ad.h"
#include "parse/parse.h"
#include "passes/passes.h"
#include "prog/prog.h"
#include "sema/sema.h"
#include "util/util.h"
#include "traced_file.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const Span NOWHERE = {0};
static int passed, failed;

/* ---- checking a plan ---------------------------------------------------------------------- */

typedef struct Check {
    const char *what;
    bool ok;
} Check;

__attribute__((format(printf, 2, 3))) static void fail(Check *c, const char *fmt, ...)
{
    printf("%s: ", c->what);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    c->ok = false;
}

/* The node whose storage n's data is: n itself, or what a chain of reshapes views. */
static int owner_of(const IrNode *n)
{
    while (n->op == IR_OP_RESHAPE)
        n = n->in[0];
    return n->id;
}

/* Do the reserved bytes of arena buffers a and b (node ids) meet? */
static bool overlap(const MemPlan *p, int a, int b)
{
    const MemSlot *x = &p->slot[a], *y = &p->slot[b];
    if (x->bytes == 0 || y->bytes == 0)
        return false;
    return x->offset < y->offset + y->bytes && y->offset < x->offset + x->bytes;
}

static bool same_plan(const MemPlan *a, const MemPlan *b)
{
    if (a->nids != b->nids || a->nbuffers != b->nbuffers || a->arena_bytes != b->arena_bytes
        || a->peak_bytes != b->peak_bytes || a->unplanned_bytes != b->unplanned_bytes)
        return false;
    for (int id = 0; id < a->nids; id++) {
        const MemSlot *x = &a->slot[id], *y = &b->slot[id];
        if (x->kind != y->kind || x->alias_of != y->alias_of || x->offset != y->offset
            || x->bytes != y->bytes || x->first != y->first || x->last != y->last)
            return false;
    }
    return true;
}

/* Checks p against g; returns whether it holds (and prints what does not). */
static bool check_plan(const char *what, const IrGraph *g, const MemPlan *p)
{
    Check c = {what, true};
    int nid = g->next_id;
    int *first = util_malloc(sizeof(int) * (size_t)nid), *last = util_malloc(sizeof(int) * (size_t)nid);
    bool *top = util_malloc(sizeof(bool) * (size_t)nid);
    for (int id = 0; id < nid; id++) {
        first[id] = last[id] = -1;
        top[id] = false;
    }
    /* A chain of runs of alike kernels (pass_alike_chain) runs at once, at its first
     * position: its outputs are written from there, and what it reads is read until its
     * last one. */
    int *written = util_malloc(sizeof(int) * (size_t)nid);
    int *in_place = pass_slots_in_place(g); /* written into their slots: no arena bytes */
    for (int i = 0, start = 0, end = 0; i < g->len; i++) {
        if (i >= end) {
            start = i;
            end = i + pass_alike_chain(g, i, in_place);
        }
        const IrNode *n = g->nodes[i];
        top[n->id] = true;
        first[n->id] = i;
        last[n->id] = end - 1;
        written[n->id] = start;
        for (int j = 0; j < n->nin; j++) {
            int o = owner_of(n->in[j]);
            if (last[o] < end - 1)
                last[o] = end - 1;
        }
    }
    if (p->nids != nid)
        fail(&c, "plan has %d ids, graph %d", p->nids, nid);

    int64_t unplanned = 0;
    int nbuffers = 0;
    for (int i = 0; i < g->len; i++) {
        const IrNode *n = g->nodes[i];
        const MemSlot *s = &p->slot[n->id];
        MemKind want = n->op == IR_OP_CONST                      ? MEM_CONST
                       : n->op == IR_OP_SLOT_LOAD                ? MEM_SLOT
                       : in_place[n->id] >= 0                    ? MEM_SLOT
                       : n->op == IR_OP_RESHAPE                  ? MEM_ALIAS
                       : ir_op_kind(n->op) == IR_KIND_EFFECT     ? MEM_NONE
                                                                 : MEM_ARENA;
        if (s->kind != want) {
            fail(&c, "%%%d: kind %d", n->id, (int)s->kind);
            continue;
        }
        if (s->first != i)
            fail(&c, "%%%d: first %d", n->id, s->first);
        if (want == MEM_ALIAS) {
            int o = owner_of(n);
            if (s->alias_of != o)
                fail(&c, "%%%d: alias of %d", n->id, s->alias_of);
            else if (s->offset != p->slot[o].offset)
                fail(&c, "%%%d: alias offset differs from its storage %%%d", n->id, o);
        }
        if (want != MEM_ARENA)
            continue;
        nbuffers++;
        int64_t need = ir_shape_numel(&n->shape) * 4;
        unplanned += s->bytes;
        if (s->bytes < need || s->bytes % MEM_ALIGN != 0)
            fail(&c, "%%%d: %" PRId64 " bytes reserved", n->id, s->bytes);
        if (s->offset < 0 || s->offset % MEM_ALIGN != 0 || s->offset + s->bytes > p->arena_bytes)
            fail(&c, "%%%d: offset %" PRId64, n->id, s->offset);
        if (s->last != last[n->id])
            fail(&c, "%%%d: last use %d", n->id, s->last);
    }
    /* FUSED bodies and anything not in the list hold nothing */
    for (int i = 0; i < g->len; i++) {
        const IrNode *n = g->nodes[i];
        if (n->op != IR_OP_FUSED)
            continue;
        for (int b = 0; b < n->attr.fused.nbody; b++) {
            const IrNode *m = n->attr.fused.body[b];
            if (!top[m->id] && p->slot[m->id].kind != MEM_NONE)
                fail(&c, "body node %%%d of %%%d has storage", m->id, n->id);
        }
    }
    if (nbuffers != p->nbuffers)
        fail(&c, "%d buffers, plan says %d", nbuffers, p->nbuffers);
    if (unplanned != p->unplanned_bytes)
        fail(&c, "unplanned bytes %" PRId64 ", plan says %" PRId64, unplanned, p->unplanned_bytes);

    /* every two buffers live at one point are disjoint */
    for (int i = 0; i < g->len; i++) {
        int a = g->nodes[i]->id;
        if (p->slot[a].kind != MEM_ARENA)
            continue;
        for (int j = i + 1; j < g->len; j++) {
            int b = g->nodes[j]->id;
            if (p->slot[b].kind != MEM_ARENA || written[b] > last[a])
                continue;
            if (overlap(p, a, b))
                fail(&c, "%%%d and %%%d are live at once and overlap", a, b);
        }
    }
    /* noalias: a node's output never overlaps any input (checked separately from the
     * above, as it is what the kernels rely on) */
    for (int i = 0; i < g->len; i++) {
        const IrNode *n = g->nodes[i];
        if (p->slot[n->id].kind != MEM_ARENA)
            continue;
        for (int j = 0; j < n->nin; j++) {
            int o = owner_of(n->in[j]);
            if (p->slot[o].kind == MEM_ARENA && overlap(p, n->id, o))
                fail(&c, "output %%%d overlaps its input %%%d", n->id, o);
        }
    }
    /* peak: the most bytes live at one point; the arena holds at least that */
    int64_t peak = 0;
    for (int i = 0; i < g->len; i++) {
        int64_t live = 0;
        for (int j = 0; j < g->len; j++) {
            int b = g->nodes[j]->id;
            if (p->slot[b].kind == MEM_ARENA && first[b] <= i && i <= last[b])
                live += p->slot[b].bytes;
        }
        if (live > peak)
            peak = live;
    }
    if (peak != p->peak_bytes)
        fail(&c, "peak %" PRId64 ", plan says %" PRId64, peak, p->peak_bytes);
    if (p->arena_bytes < p->peak_bytes || p->arena_bytes > p->unplanned_bytes)
        fail(&c, "arena %" PRId64 " out of [peak, unplanned]", p->arena_bytes);

    MemPlan again = pass_memplan(g);
    if (!same_plan(p, &again))
        fail(&c, "a second plan of the same graph differs");
    pass_memplan_free(&again);

    util_free(first);
    util_free(written);
    util_free(in_place);
    util_free(last);
    util_free(top);
    return c.ok;
}

static void report(const char *what, bool ok, const IrGraph *g)
{
    if (!ok && g)
        ir_print_graph(stdout, g);
    printf("%-40s %s\n", what, ok ? "ok" : "FAIL");
    ok ? passed++ : failed++;
}

/* Plans g, checks the invariants, and returns the plan (the caller frees it). */
static MemPlan plan_checked(const char *what, IrGraph *g, bool *ok)
{
    ir_verify(g, what);
    MemPlan p = pass_memplan(g);
    *ok = check_plan(what, g, &p);
    return p;
}

/* ---- graphs built by hand ------------------------------------------------------------- */

static IrNode *vec(IrGraph *g, int64_t n)
{
    IrShape s = ir_shape_make(1, &n);
    double *v = util_malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++)
        v[i] = (double)(i % 5) * 0.25;
    IrNode *x = ir_const(g, NOWHERE, &s, v);
    util_free(v);
    return x;
}

static IrNode *mat(IrGraph *g, int64_t r, int64_t c)
{
    int64_t d[2] = {r, c};
    IrShape s = ir_shape_make(2, d);
    double *v = util_malloc(sizeof(double) * (size_t)(r * c > 0 ? r * c : 1));
    for (int64_t i = 0; i < r * c; i++)
        v[i] = (double)(i % 7) * 0.5;
    IrNode *x = ir_const(g, NOWHERE, &s, v);
    util_free(v);
    return x;
}

/* A chain of 32 same-size elementwise kernels (unfused: codegen compiles each as its own
 * kernel) works in two buffers, alternating, since an output may not take its input's. */
static void test_chain(void)
{
    IrGraph *g = ir_graph_new();
    IrNode *x = vec(g, 1000);
    IrNode *chain[32];
    for (int i = 0; i < 32; i++)
        x = chain[i] = ir_unary(g, NOWHERE, i % 2 ? IR_OP_EXP : IR_OP_TANH, x);
    ir_print(g, NOWHERE, x);
    bool ok;
    MemPlan p = plan_checked("chain", g, &ok);
    int64_t one = 4032; /* 4000 bytes rounded up to 64 */
    ok = ok && p.slot[chain[0]->id].bytes == one && p.arena_bytes == 2 * one
         && p.peak_bytes == 2 * one && p.unplanned_bytes == 32 * one;
    for (int i = 1; i < 32 && ok; i++)
        ok = p.slot[chain[i]->id].offset != p.slot[chain[i - 1]->id].offset;
    report("chain of 32: two buffers", ok, g);
    pass_memplan_free(&p);
    ir_graph_free(g);
}

/* A chain of matrix kernels (what is left at the top level after fusion: matmul,
 * transpose, layout ops): also two buffers. */
static void test_matmul_chain(void)
{
    IrGraph *g = ir_graph_new();
    IrNode *w = mat(g, 16, 16);
    IrNode *x = mat(g, 16, 16);
    int perm[2] = {1, 0};
    for (int i = 0; i < 10; i++)
        x = i % 2 ? ir_transpose(g, NOWHERE, x, perm) : ir_matmul(g, NOWHERE, x, w);
    ir_print(g, NOWHERE, x);
    bool ok;
    MemPlan p = plan_checked("matmul chain", g, &ok);
    ok = ok && p.arena_bytes == 2 * 16 * 16 * 4;
    report("matmul/transpose chain: two buffers", ok, g);
    pass_memplan_free(&p);
    ir_graph_free(g);
}

/* x -> a, x -> b, a + b: a and b are live together (and with x while b is computed). */
static void test_diamond(void)
{
    IrGraph *g = ir_graph_new();
    IrNode *c = vec(g, 256);
    IrNode *x = ir_unary(g, NOWHERE, IR_OP_EXP, c);
    IrNode *a = ir_unary(g, NOWHERE, IR_OP_TANH, x);
    IrNode *b = ir_unary(g, NOWHERE, IR_OP_NEG, x);
    IrNode *y = ir_binary(g, NOWHERE, IR_OP_ADD, a, b);
    IrNode *z = ir_unary(g, NOWHERE, IR_OP_EXP, y);
    ir_print(g, NOWHERE, z);
    bool ok;
    MemPlan p = plan_checked("diamond", g, &ok);
    /* at b: x, a, b live; at y: a, b, y; z can take x's or a's place */
    ok = ok && p.peak_bytes == 3 * 1024 && p.arena_bytes == 3 * 1024;
    report("diamond", ok, g);
    pass_memplan_free(&p);
    ir_graph_free(g);
}

/* One value read by every later node stays live to the end; the others rotate. */
static void test_multi_use(void)
{
    IrGraph *g = ir_graph_new();
    IrNode *c = vec(g, 64);
    IrNode *keep = ir_unary(g, NOWHERE, IR_OP_EXP, c);
    IrNode *x = keep;
    for (int i = 0; i < 12; i++)
        x = ir_binary(g, NOWHERE, IR_OP_MUL, x, keep);
    IrNode *last = ir_binary(g, NOWHERE, IR_OP_ADD, x, keep);
    ir_print(g, NOWHERE, last);
    bool ok;
    MemPlan p = plan_checked("multi-use", g, &ok);
    ok = ok && p.slot[keep->id].last == g->len - 2 && p.arena_bytes == 3 * 256;
    report("multi-use value lives to its last use", ok, g);
    pass_memplan_free(&p);
    ir_graph_free(g);
}

/* A reshape is a view: reading it keeps its source alive, through chains of reshapes;
 * a reshape of a constant is a view of the constant. */
static void test_reshape_alias(void)
{
    IrGraph *g = ir_graph_new();
    IrNode *c = vec(g, 64);
    IrNode *y = ir_unary(g, NOWHERE, IR_OP_EXP, c);
    int64_t d2[2] = {8, 8}, d3[3] = {4, 2, 8};
    IrShape s2 = ir_shape_make(2, d2), s3 = ir_shape_make(3, d3);
    IrNode *r1 = ir_reshape(g, NOWHERE, y, &s2);
    IrNode *x = ir_unary(g, NOWHERE, IR_OP_TANH, c);
    for (int i = 0; i < 6; i++)
        x = ir_unary(g, NOWHERE, IR_OP_EXP, x);
    IrNode *r2 = ir_reshape(g, NOWHERE, r1, &s3);
    IrNode *rc = ir_reshape(g, NOWHERE, c, &s2);
    IrNode *z = ir_binary(g, NOWHERE, IR_OP_ADD, ir_reshape(g, NOWHERE, r2, &s2), rc);
    ir_print(g, NOWHERE, z);
    ir_print(g, NOWHERE, x);
    bool ok;
    MemPlan p = plan_checked("reshape", g, &ok);
    ok = ok && p.slot[r2->id].alias_of == y->id && p.slot[y->id].last == g->len - 3
         && p.slot[rc->id].alias_of == c->id && p.slot[rc->id].offset == -1
         && p.slot[z->id].offset != p.slot[y->id].offset;
    report("reshape aliases extend their source", ok, g);
    pass_memplan_free(&p);
    ir_graph_free(g);
}

/* After fusion: FUSED kernels between matmuls; the body nodes hold nothing. */
static void test_fused(void)
{
    IrGraph *g = ir_graph_new();
    IrNode *x = mat(g, 32, 32), *w = mat(g, 32, 32);
    for (int i = 0; i < 6; i++) {
        IrNode *h = ir_matmul(g, NOWHERE, x, w);
        IrNode *t = ir_unary(g, NOWHERE, IR_OP_TANH, h);
        x = ir_binary(g, NOWHERE, IR_OP_MUL, ir_unary(g, NOWHERE, IR_OP_EXP, t), h);
    }
    IrNode *s = ir_reduce(g, NOWHERE, IR_OP_SUM, x, 1u);
    ir_print(g, NOWHERE, s);
    pass_fuse(g);
    int nfused = 0;
    for (int i = 0; i < g->len; i++)
        nfused += g->nodes[i]->op == IR_OP_FUSED;
    bool ok;
    MemPlan p = plan_checked("fused", g, &ok);
    ok = ok && nfused >= 6 && p.arena_bytes <= 3 * 32 * 32 * 4;
    report("fused kernels and matmuls", ok, g);
    pass_memplan_free(&p);
    ir_graph_free(g);
}

/* An unused node is live at its own point only; empty tensors take no room. */
static void test_dead_and_empty(void)
{
    IrGraph *g = ir_graph_new();
    IrNode *c = vec(g, 100);
    IrNode *dead = ir_unary(g, NOWHERE, IR_OP_EXP, c);
    IrNode *e = ir_unary(g, NOWHERE, IR_OP_NEG, vec(g, 0));
    IrNode *x = ir_unary(g, NOWHERE, IR_OP_TANH, c);
    IrNode *y = ir_unary(g, NOWHERE, IR_OP_EXP, x);
    ir_print(g, NOWHERE, y);
    ir_print(g, NOWHERE, e);
    bool ok;
    MemPlan p = plan_checked("dead", g, &ok);
    ok = ok && p.slot[dead->id].last == p.slot[dead->id].first && p.slot[e->id].bytes == 0
         && p.slot[x->id].offset == p.slot[dead->id].offset && p.arena_bytes == 2 * 448;
    report("dead node, empty tensor", ok, g);
    pass_memplan_free(&p);
    ir_graph_free(g);
}

/* Sizes that vary: a small request takes the smallest free gap that holds it (b's old
 * place, 1024 bytes), not the first one (the 4032 bytes left of a's). */
static void test_best_fit(void)
{
    IrGraph *g = ir_graph_new();
    IrNode *c = vec(g, 16), *big = vec(g, 1024), *mid = vec(g, 256);
    IrNode *a = ir_unary(g, NOWHERE, IR_OP_EXP, big);    /* 4096 bytes at 0 */
    IrNode *k1 = ir_unary(g, NOWHERE, IR_OP_EXP, c);     /* 64 at 4096, kept to the end */
    IrNode *b = ir_unary(g, NOWHERE, IR_OP_EXP, mid);    /* 1024 at 4160 */
    IrNode *k2 = ir_unary(g, NOWHERE, IR_OP_NEG, c);     /* 64 at 5184, kept to the end */
    IrNode *sa = ir_reduce(g, NOWHERE, IR_OP_SUM, a, 1u); /* a dies */
    IrNode *sb = ir_reduce(g, NOWHERE, IR_OP_SUM, b, 1u); /* at 0; b dies */
    IrNode *s = ir_unary(g, NOWHERE, IR_OP_TANH, c);
    ir_print(g, NOWHERE, sa);
    ir_print(g, NOWHERE, sb);
    ir_print(g, NOWHERE, ir_binary(g, NOWHERE, IR_OP_ADD, ir_binary(g, NOWHERE, IR_OP_ADD, s, k1), k2));
    bool ok;
    MemPlan p = plan_checked("best fit", g, &ok);
    ok = ok && p.slot[a->id].offset == 0 && p.slot[b->id].offset == 4160
         && p.slot[sb->id].offset == 0 && p.slot[s->id].offset == 4160;
    report("best fit takes the smallest gap", ok, g);
    pass_memplan_free(&p);
    ir_graph_free(g);
}

/* A region of a training program: parameters and state are slots read in place and
 * stored back at the end, host scalars come in and go out; none of it is in the arena. */
static void test_region(void)
{
    IrGraph *g = ir_graph_new();
    int64_t dw[2] = {64, 64}, dx[2] = {8, 64};
    IrShape sw = ir_shape_make(2, dw), sx = ir_shape_make(2, dx);
    IrNode *w = ir_slot_load(g, NOWHERE, 0, IR_F32, &sw);
    IrNode *x = ir_slot_load(g, NOWHERE, 1, IR_F32, &sx);
    IrNode *lr = ir_scalar_input(g, NOWHERE, 0);
    IrNode *h = ir_unary(g, NOWHERE, IR_OP_TANH, ir_matmul(g, NOWHERE, x, w));
    int64_t flat = 8 * 64;
    IrShape sf = ir_shape_make(1, &flat);
    IrNode *loss = ir_reduce(g, NOWHERE, IR_OP_SUM, ir_reshape(g, NOWHERE, h, &sf), 1u);
    IrNode *gw = ir_grad(g, NOWHERE, loss, w);
    IrNode *w2 = ir_binary(g, NOWHERE, IR_OP_SUB, w, ir_binary(g, NOWHERE, IR_OP_MUL, gw, lr));
    IrNode *rw = ir_reshape(g, NOWHERE, w, &(IrShape){1, {64 * 64}});
    ir_scalar_output(g, NOWHERE, 0, loss);
    ir_scalar_output(g, NOWHERE, 1, ir_reduce(g, NOWHERE, IR_OP_SUM, rw, 1u));
    ir_slot_store(g, NOWHERE, 0, w2);
    ad_run(g);
    pass_simplify(g);
    pass_fuse(g);
    bool ok;
    MemPlan p = plan_checked("region", g, &ok);
    ok = ok && p.slot[w->id].kind == MEM_SLOT && p.slot[w->id].offset == -1
         && p.slot[rw->id].kind == MEM_ALIAS && p.slot[rw->id].alias_of == w->id
         && p.slot[lr->id].kind == MEM_ARENA;
    for (int i = 0; i < g->len; i++)
        if (ir_op_kind(g->nodes[i]->op) == IR_KIND_EFFECT)
            ok = ok && p.slot[g->nodes[i]->id].kind == MEM_NONE;
    report("region: slots, scalars, stores", ok, g);
    pass_memplan_free(&p);
    ir_graph_free(g);
}

/* ---- random graphs -------------------------------------------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15u;
static int next_int(int n)
{
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    return (int)((rng >> 33) % (uint64_t)n);
}

/* A random DAG of elementwise ops, matmuls, reshapes and prints over a few shapes;
 * fused or not. */
static void test_random(int trial)
{
    static const int64_t sizes[] = {1, 16, 100, 257, 1024};
    IrGraph *g = ir_graph_new();
    PtrVec pool = {0};
    for (int i = 0; i < 4; i++)
        util_vec_push(&pool, vec(g, sizes[next_int(5)]));
    IrNode *m = mat(g, 16, 16);
    util_vec_push(&pool, m);
    int nodes = 10 + next_int(60);
    for (int i = 0; i < nodes; i++) {
        IrNode *x = pool.items[pool.len - 1 - next_int(pool.len < 8 ? pool.len : 8)];
        IrNode *y;
        switch (next_int(6)) {
        case 0:
        case 1: y = ir_unary(g, NOWHERE, next_int(2) ? IR_OP_EXP : IR_OP_TANH, x); break;
        case 2: {
            IrNode *other = x;
            for (int k = 0; k < pool.len; k++) {
                IrNode *o = pool.items[next_int(pool.len)];
                if (ir_shape_eq(&o->shape, &x->shape)) {
                    other = o;
                    break;
                }
            }
            y = ir_binary(g, NOWHERE, IR_OP_ADD, x, other);
            break;
        }
        case 3: {
            int64_t n = ir_shape_numel(&x->shape);
            int64_t d[2] = {1, n};
            IrShape s = x->shape.rank == 1 ? ir_shape_make(2, d) : ir_shape_make(1, &n);
            y = ir_reshape(g, NOWHERE, x, &s);
            break;
        }
        case 4:
            y = ir_matmul(g, NOWHERE, m, m);
            m = y;
            break;
        default:
            ir_print(g, NOWHERE, x);
            continue;
        }
        util_vec_push(&pool, y);
    }
    ir_print(g, NOWHERE, pool.items[pool.len - 1]);
    ir_print(g, NOWHERE, m);
    bool fuse = trial % 2;
    if (fuse)
        pass_fuse(g);
    char what[48];
    snprintf(what, sizeof what, "random %d%s", trial, fuse ? " (fused)" : "");
    bool ok;
    MemPlan p = plan_checked(what, g, &ok);
    if (!ok)
        report(what, ok, g);
    pass_memplan_free(&p);
    util_vec_free(&pool);
    ir_graph_free(g);
    if (ok)
        passed++;
}

/* ---- programs ----------------------------------------------------------------------------- */

/* The middle end as the driver runs it, then the plan, checked; prints its sizes. */
static bool check_graph(const char *what, IrGraph *g)
{
    ad_run(g);
    pass_simplify(g);
    pass_fuse(g);
    ir_verify(g, "fuse");
    MemPlan p = pass_memplan(g);
    bool ok = check_plan(what, g, &p);
    printf("%-32s %4d buffers  before %8" PRId64 " B  after %8" PRId64 " B  peak %8" PRId64
           " B  %s\n",
           what, p.nbuffers, p.unplanned_bytes, p.arena_bytes, p.peak_bytes, ok ? "ok" : "FAIL");
    pass_memplan_free(&p);
    return ok;
}

static bool check_program(const char *path)
{
    TracedFile t;
    bool ok = traced_file_open(&t, path, true);
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (ok && t.prog) {
        for (int k = 0; k < t.prog->regions.len; k++) {
            char what[64];
            snprintf(what, sizeof what, "%s region %d", name, k);
            ok = check_graph(what, t.prog->regions.items[k]) && ok;
        }
    } else if (ok) {
        ok = check_graph(name, t.graph);
    } else {
        diag_print(&t.diags, stdout);
        printf("FAIL %s\n", path);
    }
    traced_file_close(&t);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            check_program(argv[i]) ? passed++ : failed++;
    } else {
        test_chain();
        test_matmul_chain();
        test_diamond();
        test_multi_use();
        test_reshape_alias();
        test_fused();
        test_dead_and_empty();
        test_best_fit();
        test_region();
        for (int t = 0; t < 400; t++)
            test_random(t);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0 || passed == 0;
}
