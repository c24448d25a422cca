/* memplan.c — static memory planning: where each node's result lives in the program's
 * one arena.
 *
 * Input: a graph after fusion (top-level nodes in program order; a FUSED node's body
 * computes in registers, so its nodes have no buffers). Every top-level node is one of:
 *
 *   CONST      a constant global of the module (MEM_CONST), never in the arena;
 *   RESHAPE    a view of its input's data (MEM_ALIAS of the node that owns the storage,
 *              found through chains of reshapes);
 *   PRINT      no result (MEM_NONE); it reads its input, which is a use like any other;
 *   the rest   a buffer of its own in the arena (MEM_ARENA): numel x 4 bytes, rounded
 *              up to MEM_ALIGN.
 *
 * Liveness. Node i of g->nodes is at program point i. A buffer is live over the closed
 * interval [first, last]: from the node that defines it to its last use, where a use of
 * a RESHAPE counts as a use of the storage it views (so aliases extend their source's
 * life), and a node nobody uses is live at its own point only. Two buffers whose
 * intervals meet get disjoint bytes.
 *
 * The noalias contract of the kernels (kernel.c: a kernel's output never overlaps any of
 * its inputs) follows from the closed intervals: every input of node i is live at i (its
 * last use is at least i), as is i's output (first = i), so they never share bytes, even
 * when an input dies at i. The price is that a chain x -> y -> z alternates between two
 * buffers instead of working in place; the kernels would need in-place variants first.
 *
 * Assignment: one walk in program order, a best-fit allocator over the freed space. At
 * point i, the output of node i is placed first (its inputs are still held), then every
 * buffer whose last use is i is released. A request takes the smallest free gap that
 * holds it: between two held blocks, or between the last held block and the arena's
 * current end; the lowest offset wins a tie. If no gap holds it, it goes right after the
 * last held block and the arena grows. Everything here depends only on the graph, so the
 * plan is deterministic.
 *
 * The numbers reported: arena_bytes (the size allocated per run), peak_bytes (the most
 * bytes live at one point: a lower bound for any plan, arena_bytes is usually equal or
 * close) and unplanned_bytes (every buffer kept apart: what the arena was before this
 * pass).
 *
 * What later work changes (docs/training.md, docs/memory.md):
 *   - Parameters, their gradients, optimizer state and layer state live in persistent
 *     flat blocks allocated once for the whole run, not in a region's arena: PARAM(slot)
 *     will be a view into a block (like an alias, but of storage that is not planned
 *     here) and STORE(slot, value) a use of its value, like PRINT.
 *   - A region's inputs (INPUT(k)) are the caller's buffers, and its outputs are read by
 *     host code after the region returns: they are pinned — inputs not in the arena at
 *     all, outputs live to the end of the region (last = g->len), so nothing reuses them.
 *   - With a symbolic batch, buffers are sized for the largest batch (--batch); the plan
 *     stays one static arena per region. */
#include "passes/passes.h"
#include "util/util.h"

#include <inttypes.h>
#include <string.h>

static int64_t round_up(int64_t bytes)
{
    return (bytes + MEM_ALIGN - 1) / MEM_ALIGN * MEM_ALIGN;
}

static int64_t element_bytes(IrDType t)
{
    return t == IR_F64 ? 8 : 4;
}

/* Kinds of every top-level node, the storage each alias views, and each buffer's size
 * and definition point. */
static void classify(const IrGraph *g, MemPlan *p)
{
    for (int i = 0; i < g->len; i++) {
        const IrNode *n = g->nodes[i];
        MemSlot *s = &p->slot[n->id];
        switch (n->op) {
        case IR_OP_CONST: s->kind = MEM_CONST; break;
        case IR_OP_PRINT: s->kind = MEM_NONE; break;
        case IR_OP_RESHAPE: {
            const MemSlot *src = &p->slot[n->in[0]->id];
            ASSERT(src->kind != MEM_NONE);
            s->kind = MEM_ALIAS;
            s->alias_of = src->kind == MEM_ALIAS ? src->alias_of : n->in[0]->id;
            break;
        }
        case IR_OP_GRAD: UNREACHABLE(); /* autodiff replaces every GRAD */
        default:
            s->kind = MEM_ARENA;
            s->bytes = round_up(ir_shape_numel(&n->shape) * element_bytes(n->dtype));
            p->unplanned_bytes += s->bytes;
            p->nbuffers++;
            break;
        }
        s->first = s->last = i;
    }
}

/* last = the last point that reads the storage, directly or through an alias. */
static void liveness(const IrGraph *g, MemPlan *p)
{
    for (int i = 0; i < g->len; i++) {
        const IrNode *n = g->nodes[i];
        for (int j = 0; j < n->nin; j++) {
            MemSlot *s = &p->slot[n->in[j]->id];
            /* a top-level node with a result, earlier in program order */
            ASSERT(s->first >= 0 && s->first < i && s->kind != MEM_NONE);
            if (s->kind == MEM_ALIAS)
                s = &p->slot[s->alias_of];
            if (s->last < i)
                s->last = i;
        }
    }
}

static void measure_peak(const IrGraph *g, MemPlan *p)
{
    int64_t *delta = util_malloc(sizeof(int64_t) * (size_t)(g->len + 1));
    memset(delta, 0, sizeof(int64_t) * (size_t)(g->len + 1));
    for (int i = 0; i < g->len; i++) {
        const MemSlot *s = &p->slot[g->nodes[i]->id];
        if (s->kind != MEM_ARENA)
            continue;
        delta[s->first] += s->bytes;
        delta[s->last + 1] -= s->bytes;
    }
    int64_t live = 0;
    for (int i = 0; i < g->len; i++) {
        live += delta[i];
        if (live > p->peak_bytes)
            p->peak_bytes = live;
    }
    util_free(delta);
}

/* The blocks held at the current point, sorted by offset. */
typedef struct Held {
    MemSlot **items;
    int len;
} Held;

/* Best fit (see the header comment); returns the offset for `bytes`. */
static int64_t place(const Held *h, int64_t arena_end, int64_t bytes, int *at)
{
    int64_t best = -1, best_gap = 0, end = 0;
    int best_at = 0;
    for (int k = 0; k <= h->len; k++) {
        int64_t next = k < h->len ? h->items[k]->offset : arena_end;
        int64_t gap = next - end;
        if (gap >= bytes && (best < 0 || gap < best_gap)) {
            best = end;
            best_gap = gap;
            best_at = k;
        }
        if (k < h->len && h->items[k]->offset + h->items[k]->bytes > end)
            end = h->items[k]->offset + h->items[k]->bytes;
    }
    if (best < 0) { /* no gap holds it: after the last held block, growing the arena */
        best = end;
        best_at = h->len;
    }
    *at = best_at;
    return best;
}

static void assign(const IrGraph *g, MemPlan *p)
{
    Held h = {util_malloc(sizeof(MemSlot *) * (size_t)(p->nbuffers ? p->nbuffers : 1)), 0};
    for (int i = 0; i < g->len; i++) {
        MemSlot *s = &p->slot[g->nodes[i]->id];
        if (s->kind == MEM_ARENA && s->bytes == 0) {
            s->offset = 0; /* an empty tensor: nothing to hold, nothing to overlap */
        } else if (s->kind == MEM_ARENA) {
            int at;
            s->offset = place(&h, p->arena_bytes, s->bytes, &at);
            memmove(&h.items[at + 1], &h.items[at], sizeof(MemSlot *) * (size_t)(h.len - at));
            h.items[at] = s;
            h.len++;
            if (s->offset + s->bytes > p->arena_bytes)
                p->arena_bytes = s->offset + s->bytes;
        }
        int k = 0;
        for (int j = 0; j < h.len; j++)
            if (h.items[j]->last != i)
                h.items[k++] = h.items[j];
        h.len = k;
    }
    util_free(h.items);
}

MemPlan pass_memplan(const IrGraph *g)
{
    MemPlan p = {.nids = g->next_id};
    p.slot = util_malloc(sizeof(MemSlot) * (size_t)(p.nids ? p.nids : 1));
    for (int id = 0; id < p.nids; id++)
        p.slot[id] = (MemSlot){.kind = MEM_NONE, .alias_of = -1, .offset = -1, .first = -1,
                               .last = -1};
    classify(g, &p);
    liveness(g, &p);
    measure_peak(g, &p);
    assign(g, &p);
    for (int i = 0; i < g->len; i++) {
        MemSlot *s = &p.slot[g->nodes[i]->id];
        if (s->kind == MEM_ALIAS && p.slot[s->alias_of].kind == MEM_ARENA)
            s->offset = p.slot[s->alias_of].offset;
    }
    return p;
}

void pass_memplan_free(MemPlan *p)
{
    util_free(p->slot);
    *p = (MemPlan){0};
}

/* "832 B", "1.2 KiB", "3.0 MiB", "1.5 GiB" */
static void print_size(FILE *out, int64_t bytes)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) {
        fprintf(out, "%" PRId64 " B", bytes);
        return;
    }
    double v = (double)bytes / 1024;
    size_t u = 0;
    while (v >= 1023.95 && u + 1 < ARRAY_LEN(units)) { /* never "1024.0 KiB" */
        v /= 1024;
        u++;
    }
    fprintf(out, "%.1f %s", v, units[u]);
}

void pass_memplan_print(FILE *out, const MemPlan *p)
{
    fprintf(out, "memory: %d buffer%s, arena ", p->nbuffers, p->nbuffers == 1 ? "" : "s");
    print_size(out, p->arena_bytes);
    fputs(" (peak live ", out);
    print_size(out, p->peak_bytes);
    fputs("), no planning ", out);
    print_size(out, p->unplanned_bytes);
    fputc('\n', out);
}
