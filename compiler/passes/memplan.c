/* memplan.c — static memory planning: where each node's result lives in the program's
 * one arena.
 *
 * Input: a graph after fusion (top-level nodes in program order; a FUSED node's body
 * computes in registers, so its nodes have no buffers). Every top-level node is one of:
 *
 *   CONST      a constant global of the module (MEM_CONST), never in the arena;
 *   SLOT_LOAD  a persistent tensor of the program (prog.h), read in place: MEM_SLOT,
 *              storage allocated once per run outside the arena;
 *   RESHAPE    a view of its input's data (MEM_ALIAS of the node that owns the storage,
 *              found through chains of reshapes);
 *   effects    PRINT, SLOT_STORE, SCALAR_OUTPUT: no result (MEM_NONE); each reads its
 *              input, which is a use like any other;
 *   the rest   a buffer of its own in the arena (MEM_ARENA): numel x element size,
 *              rounded up to MEM_ALIGN (SCALAR_INPUT too: the host scalar as f32[]).
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
 * Assignment: best fit, in two orders, keeping the smaller arena (program order on a
 * tie). A buffer takes the smallest free gap that holds it among the buffers already
 * placed that are live with it: between two of them, or between the last of them and the
 * arena's current end; the lowest offset wins a tie. If no gap holds it, it goes right
 * after the last of them and the arena grows.
 *   - In program order: at point i, the output of node i is placed (its inputs are still
 *     held), then every buffer whose last use is i is released. Follows the program's
 *     own pattern of allocation and release; best on short-lived mixed sizes.
 *   - Largest first (ties in program order): each buffer among all those placed before
 *     it whose intervals meet its own. Big activations claim the low offsets and small
 *     ones fill around them; usually best on training steps, whose large forward
 *     activations live across the backward pass.
 * On the programs measured (docs/memory.md) the better of the two equals the peak on
 * most and stays within 20% of it on all; neither is optimal in general (the problem is
 * NP-hard). Everything here depends only on the graph, so the plan is deterministic.
 *
 * The numbers reported: arena_bytes (the size allocated per run), peak_bytes (the most
 * bytes live at one point: a lower bound for any plan, arena_bytes is usually equal or
 * close) and unplanned_bytes (every buffer kept apart: what the arena was before this
 * pass).
 *
 * Regions of a training program (prog.h) are planned one by one; each region's arena is
 * allocated once and reused by every call, which is sound because nothing in the arena
 * outlives a call and every kernel writes all of its output. What does not live in it:
 *   - Parameters, optimizer state, carried tensors and the batch are slots: persistent
 *     storage allocated once per run (SLOT_LOAD reads one in place, MEM_SLOT; SLOT_STORE
 *     copies its input into one, a use like PRINT). They are pinned: never planned here.
 *   - A region's inputs and outputs are pinned the same way: tensors come in as slots,
 *     host scalars as SCALAR_INPUT (copied into a small buffer of its own at its point)
 *     and leave through SCALAR_OUTPUT or SLOT_STORE, which copy them out at their point,
 *     so no value has to outlive the region's last node. A region output read in place
 *     by host code after the region returns would instead need last = g->len.
 *   - The snapshots of slots that a region overwrites before it is done reading them
 *     (codegen/slots.c) go in scratch after the planned arena, not in it.
 *   - With a symbolic batch, buffers will be sized for the largest batch (--batch); the
 *     plan stays one static arena per region. */
#include "passes/passes.h"
#include "prog/prog.h"
#include "util/util.h"

#include "nnc_rt.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static int64_t round_up(int64_t bytes)
{
    return (bytes + MEM_ALIGN - 1) / MEM_ALIGN * MEM_ALIGN;
}

static int64_t element_bytes(IrDType t)
{
    return t == IR_F64 ? 8 : 4;
}

/* Whether the fused node f, at position at, may compute its value straight into slot k
 * (the slot's one store stores f): its body is elementwise, it reads the slot's old value
 * only at the index it writes (an input of its own shape), and nothing after it reads that
 * old value, nor anything in its run of alike kernels (pass_alike_run), which runs at once
 * from the run's first position, `from`. Then f's readers see the value in the slot, which
 * nothing else writes. The kernel's pointers are noalias, as every kernel's: it reads and
 * writes each element of the slot only at that element's own index, so no reordering that
 * noalias allows can move a read of an element after its write. A matmul_acc into the
 * slot (pass_accumulate) qualifies too when its product reads other data. */
static bool computes_in_place(const IrGraph *g, const IrNode *f, int from, int at, int k)
{
    if (f->op == IR_OP_MATMUL_ACC) {
        /* sgemm reads and writes C = the slot element by element, and reads all of A
         * and B throughout: they must be other data */
        const IrNode *c = ir_slot_source(f->in[2]);
        if (!c || c->attr.io.index != k)
            return false;
        for (int j = 0; j < 2; j++) {
            const IrNode *load = ir_slot_source(f->in[j]);
            if (load && load->attr.io.index == k)
                return false;
        }
    } else if (f->op != IR_OP_FUSED) {
        return false;
    } else {
        for (int j = 0; j < f->attr.fused.nbody; j++)
            if (!ir_op_is_elementwise(f->attr.fused.body[j]->op))
                return false;
        for (int j = 0; j < f->nin; j++) {
            const IrNode *load = ir_slot_source(f->in[j]);
            if (load && load->attr.io.index == k && !ir_shape_eq(&f->in[j]->shape, &f->shape))
                return false;
        }
    }
    for (int q = from; q < g->len; q++) {
        const IrNode *n = g->nodes[q];
        if (q == at)
            continue;
        for (int j = 0; j < n->nin; j++) {
            const IrNode *load = ir_slot_source(n->in[j]);
            if (load && load->attr.io.index == k)
                return false;
        }
    }
    return true;
}

int *pass_slots_in_place(const IrGraph *g)
{
    int *slot = util_malloc(sizeof(int) * (size_t)(g->next_id + 1));
    int *position = util_malloc(sizeof(int) * (size_t)(g->next_id + 1));
    int *run_start = util_malloc(sizeof(int) * (size_t)(g->len + 1));
    for (int i = 0; i <= g->next_id; i++)
        slot[i] = -1;
    for (int i = 0; i < g->len; i++)
        position[g->nodes[i]->id] = i;
    for (int i = 0; i < g->len;) {
        int r = pass_alike_run(g, i);
        for (int m = i; m < i + r; m++)
            run_start[m] = i;
        i += r;
    }
    for (int i = 0; i < g->len; i++) {
        const IrNode *st = g->nodes[i];
        if (st->op != IR_OP_SLOT_STORE)
            continue;
        int k = st->attr.io.index, stores = 0;
        for (int j = 0; j < g->len; j++)
            stores += g->nodes[j]->op == IR_OP_SLOT_STORE && g->nodes[j]->attr.io.index == k;
        const IrNode *f = st->in[0];
        int at = position[f->id];
        if (stores == 1 && slot[f->id] < 0 && computes_in_place(g, f, run_start[at], at, k))
            slot[f->id] = k;
    }
    util_free(run_start);
    util_free(position);
    return slot;
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
        case IR_OP_SLOT_LOAD:
            s->kind = MEM_SLOT;
            s->slot = n->attr.io.index;
            break;
        case IR_OP_RESHAPE: {
            const MemSlot *src = &p->slot[n->in[0]->id];
            ASSERT(src->kind != MEM_NONE);
            s->kind = MEM_ALIAS;
            s->alias_of = src->kind == MEM_ALIAS ? src->alias_of : n->in[0]->id;
            break;
        }
        case IR_OP_GRAD: UNREACHABLE(); /* autodiff replaces every GRAD */
        default:
            if (ir_op_kind(n->op) == IR_KIND_EFFECT) {
                s->kind = MEM_NONE;
                break;
            }
            s->kind = MEM_ARENA;
            s->bytes = round_up(ir_shape_numel(&n->shape) * element_bytes(n->dtype));
            p->unplanned_bytes += s->bytes;
            p->nbuffers++;
            break;
        }
        s->first = s->last = i;
    }
    /* kernels that write their slot in place hold no arena bytes */
    int *in_place = pass_slots_in_place(g);
    for (int i = 0; i < g->len; i++) {
        MemSlot *s = &p->slot[g->nodes[i]->id];
        if (in_place[g->nodes[i]->id] < 0 || s->kind != MEM_ARENA)
            continue;
        s->kind = MEM_SLOT;
        s->slot = in_place[g->nodes[i]->id];
        p->unplanned_bytes -= s->bytes;
        p->nbuffers--;
        s->bytes = 0;
    }
    util_free(in_place);
}

void pass_memplan_in_place(const IrGraph *g, const MemPlan *p, int *in_place)
{
    for (int id = 0; id < p->nids; id++)
        in_place[id] = -1;
    for (int i = 0; i < g->len; i++) {
        const IrNode *n = g->nodes[i];
        if (p->slot[n->id].kind == MEM_SLOT && n->op != IR_OP_SLOT_LOAD)
            in_place[n->id] = p->slot[n->id].slot;
    }
}

/* last = the last point that reads the storage, directly or through an alias. A chain of
 * runs of alike kernels runs at once (pass_alike_chain): what one of them reads, and what
 * each writes, lives at least to the chain's end, so that no output of the chain shares
 * bytes with another or with an input of the chain. */
static void liveness(const IrGraph *g, MemPlan *p)
{
    int *in_place = util_malloc(sizeof(int) * (size_t)(p->nids ? p->nids : 1));
    pass_memplan_in_place(g, p, in_place);
    for (int i = 0, run_end = 0; i < g->len; i++) {
        if (i >= run_end)
            run_end = i + pass_alike_chain(g, i, in_place);
        const IrNode *n = g->nodes[i];
        if (p->slot[n->id].last < run_end - 1)
            p->slot[n->id].last = run_end - 1;
        for (int j = 0; j < n->nin; j++) {
            MemSlot *s = &p->slot[n->in[j]->id];
            /* a top-level node with a result, earlier in program order */
            ASSERT(s->first >= 0 && s->first < i && s->kind != MEM_NONE);
            if (s->kind == MEM_ALIAS)
                s = &p->slot[s->alias_of];
            if (s->last < run_end - 1)
                s->last = run_end - 1;
        }
    }
    util_free(in_place);
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

/* Program order: at each point, place the node's output, then release what dies there.
 * Sets every arena slot's offset; returns the arena's size. */
static int64_t assign_in_order(const IrGraph *g, MemPlan *p)
{
    int64_t arena = 0;
    Held h = {util_malloc(sizeof(MemSlot *) * (size_t)(p->nbuffers ? p->nbuffers : 1)), 0};
    for (int i = 0; i < g->len; i++) {
        MemSlot *s = &p->slot[g->nodes[i]->id];
        if (s->kind == MEM_ARENA && s->bytes == 0) {
            s->offset = 0; /* an empty tensor: nothing to hold, nothing to overlap */
        } else if (s->kind == MEM_ARENA) {
            int at;
            s->offset = place(&h, arena, s->bytes, &at);
            memmove(&h.items[at + 1], &h.items[at], sizeof(MemSlot *) * (size_t)(h.len - at));
            h.items[at] = s;
            h.len++;
            if (s->offset + s->bytes > arena)
                arena = s->offset + s->bytes;
        }
        int k = 0;
        for (int j = 0; j < h.len; j++)
            if (h.items[j]->last != i)
                h.items[k++] = h.items[j];
        h.len = k;
    }
    util_free(h.items);
    return arena;
}

static int by_size_order(const void *a, const void *b)
{
    const MemSlot *x = *(MemSlot *const *)a, *y = *(MemSlot *const *)b;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    return (x->first > y->first) - (x->first < y->first);
}

/* Largest first: each buffer goes, by best fit, among the buffers already placed whose
 * live intervals meet its own. Sets every arena slot's offset; returns the arena's size. */
static int64_t assign_by_size(const IrGraph *g, MemPlan *p)
{
    size_t cap = (size_t)(p->nbuffers ? p->nbuffers : 1);
    MemSlot **order = util_malloc(sizeof(MemSlot *) * cap);
    MemSlot **placed = util_malloc(sizeof(MemSlot *) * cap); /* sorted by offset */
    Held meet = {util_malloc(sizeof(MemSlot *) * cap), 0};
    int n = 0, nplaced = 0;
    for (int i = 0; i < g->len; i++) {
        MemSlot *s = &p->slot[g->nodes[i]->id];
        if (s->kind == MEM_ARENA && s->bytes == 0)
            s->offset = 0;
        else if (s->kind == MEM_ARENA)
            order[n++] = s;
    }
    qsort(order, (size_t)n, sizeof *order, by_size_order);
    int64_t arena = 0;
    for (int k = 0; k < n; k++) {
        MemSlot *s = order[k];
        meet.len = 0;
        for (int j = 0; j < nplaced; j++)
            if (placed[j]->first <= s->last && s->first <= placed[j]->last)
                meet.items[meet.len++] = placed[j];
        int at;
        s->offset = place(&meet, arena, s->bytes, &at);
        if (s->offset + s->bytes > arena)
            arena = s->offset + s->bytes;
        int pos = nplaced;
        while (pos > 0 && placed[pos - 1]->offset > s->offset)
            pos--;
        memmove(&placed[pos + 1], &placed[pos], sizeof(MemSlot *) * (size_t)(nplaced - pos));
        placed[pos] = s;
        nplaced++;
    }
    util_free(meet.items);
    util_free(placed);
    util_free(order);
    return arena;
}

MemPlan pass_memplan(const IrGraph *g)
{
    MemPlan p = {.nids = g->next_id};
    p.slot = util_malloc(sizeof(MemSlot) * (size_t)(p.nids ? p.nids : 1));
    for (int id = 0; id < p.nids; id++)
        p.slot[id] = (MemSlot){.kind = MEM_NONE, .alias_of = -1, .slot = -1, .offset = -1,
                               .first = -1, .last = -1};
    classify(g, &p);
    liveness(g, &p);
    measure_peak(g, &p);
    /* both placements; the smaller arena wins, program order on a tie */
    int64_t by_size = assign_by_size(g, &p);
    int64_t *kept = util_malloc(sizeof(int64_t) * (size_t)(p.nids ? p.nids : 1));
    for (int id = 0; id < p.nids; id++)
        kept[id] = p.slot[id].offset;
    int64_t in_order = assign_in_order(g, &p);
    p.arena_bytes = in_order;
    if (by_size < in_order) {
        for (int id = 0; id < p.nids; id++)
            p.slot[id].offset = kept[id];
        p.arena_bytes = by_size;
    }
    util_free(kept);
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

/* "832 B", "1.2 KiB", "3.0 MiB", "1.5 GiB", as the runtime's messages write sizes */
static void print_size(FILE *out, int64_t bytes)
{
    char buf[32];
    rt_format_bytes(buf, sizeof buf, bytes);
    fputs(buf, out);
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

void pass_memplan_print_prog(FILE *out, const Prog *prog)
{
    int64_t arenas = 0, unplanned = 0, slots = 0;
    for (int k = 0; k < prog->regions.len; k++) {
        MemPlan p = pass_memplan(prog->regions.items[k]);
        fprintf(out, "region %d: ", k);
        pass_memplan_print(out, &p);
        arenas += p.arena_bytes;
        unplanned += p.unplanned_bytes;
        pass_memplan_free(&p);
    }
    for (int i = 0; i < prog->nslots; i++)
        slots += round_up(ir_shape_numel(&prog->slots[i].shape) * element_bytes(prog->slots[i].dtype));
    fprintf(out, "memory: %d region%s, arenas ", prog->regions.len,
            prog->regions.len == 1 ? "" : "s");
    print_size(out, arenas);
    fputs(" in all (no planning ", out);
    print_size(out, unplanned);
    fputs("), slots ", out);
    print_size(out, slots);
    fputc('\n', out);
    MemTotals t = {.activations = arenas};
    pass_memplan_add_prog(&t, prog);
    fputs("at once: ", out);
    print_size(out, t.parameters + t.optimizer + t.other + t.activations + t.data);
    fputs(" (parameters ", out);
    print_size(out, t.parameters);
    fputs(", optimizer state ", out);
    print_size(out, t.optimizer);
    fputs(", other tensors ", out);
    print_size(out, t.other);
    fputs(", activations ", out);
    print_size(out, t.activations);
    fputs(", data ", out);
    print_size(out, t.data);
    fputs(")\n", out);
}

/* Slots are named as prog.h's ProgSlot says: an optimizer's state "opt.v[net.fc1.w]", a
 * parameter or layer state by its path "net.fc1.w", anything else by a plain name
 * ("value", "correct") or "batch.x", "sample.x". */
static int64_t *slot_part(MemTotals *t, const char *name)
{
    if (strchr(name, '['))
        return &t->optimizer;
    if (!strchr(name, '.') || strncmp(name, "batch.", 6) == 0 ||
        strncmp(name, "sample.", 7) == 0)
        return &t->other;
    return &t->parameters;
}

void pass_memplan_add_prog(MemTotals *t, const Prog *prog)
{
    for (int i = 0; i < prog->nslots; i++) {
        const ProgSlot *s = &prog->slots[i];
        *slot_part(t, s->name) += round_up(ir_shape_numel(&s->shape) * element_bytes(s->dtype));
    }
    /* MNIST and Fashion-MNIST: 60,000 training or 10,000 test samples, x in f32 and the
     * label in i32 (runtime/rt_data_load.c) */
    for (int i = 0; i < prog->ndatas; i++) {
        const ProgData *d = &prog->datas[i];
        if (d->kind == PD_MNIST || d->kind == PD_FASHION_MNIST)
            t->data += (d->test ? 10000 : 60000) * (ir_shape_numel(&d->x_shape) * 4 + 4);
    }
}
