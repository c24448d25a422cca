/* slots.c — the program ops of a region (ir.h, prog.h): reading and writing the program's
 * persistent tensors (slots) and host scalars (vars, outs).
 *
 * A region function is `void region_k(float **slot_ptrs, double *vars, double *outs)`.
 * A SLOT_LOAD is no copy: its buffer is the slot itself, so kernels read parameters in
 * place. A SLOT_STORE copies its input into the slot, unless the kernel computing the input
 * wrote it there directly (pass_slots_in_place, passes/memplan.c: an optimizer's update
 * writes the new parameters over the old ones, element by element). The stores come last
 * in a region, after every read of the old values, except in one case that this file
 * repairs: a read after the first store of a slot that an earlier store has overwritten
 * (two carried tensors swapped, `a, b = b, a`, or a value printed after its slot is
 * stored). Such values are copied into the region's scratch before the first store. */
#include "codegen/cg_internal.h"
#include "util/util.h"

#include <string.h>

enum { SNAPSHOT_ALIGN = 64 };

static LLVMValueRef i64c(Cg *cg, int64_t v) { return LLVMConstInt(cg->i64, (uint64_t)v, 1); }

static int64_t snapshot_bytes(const IrNode *load)
{
    int64_t bytes = ir_shape_numel(&load->shape) * 4;
    return (bytes + SNAPSHOT_ALIGN - 1) / SNAPSHOT_ALIGN * SNAPSHOT_ALIGN;
}

/* need[id] = true for every SLOT_LOAD that must be copied before the store at first_store:
 * some node at position q > first_store reads it (directly or through reshapes) after a
 * store to its slot in [first_store, q). Returns the SLOT_LOADs marked, in program order,
 * in *list (caller frees). */
static int snapshot_set(const IrGraph *g, int first_store, const IrNode ***list)
{
    bool *need = util_malloc(sizeof(bool) * (size_t)(g->next_id + 1));
    memset(need, 0, sizeof(bool) * (size_t)(g->next_id + 1));
    for (int q = first_store + 1; q < g->len; q++) {
        const IrNode *n = g->nodes[q];
        for (int j = 0; j < n->nin; j++) {
            const IrNode *load = ir_slot_source(n->in[j]);
            if (!load || need[load->id])
                continue;
            for (int p = first_store; p < q; p++) {
                const IrNode *st = g->nodes[p];
                if (st->op == IR_OP_SLOT_STORE && st->attr.io.index == load->attr.io.index)
                    need[load->id] = true;
            }
        }
    }
    const IrNode **out = util_malloc(sizeof(IrNode *) * (size_t)(g->len + 1));
    int count = 0;
    for (int i = 0; i < g->len; i++)
        if (need[g->nodes[i]->id])
            out[count++] = g->nodes[i];
    util_free(need);
    *list = out;
    return count;
}

static int first_store(const IrGraph *g)
{
    for (int i = 0; i < g->len; i++)
        if (g->nodes[i]->op == IR_OP_SLOT_STORE)
            return i;
    return -1;
}

int64_t cg_slot_scratch_bytes(const IrGraph *g)
{
    int first = first_store(g);
    if (first < 0)
        return 0;
    const IrNode **list;
    int count = snapshot_set(g, first, &list);
    int64_t total = 0;
    for (int i = 0; i < count; i++)
        total += snapshot_bytes(list[i]);
    util_free((void *)list);
    return total;
}

void cg_emit_slot_snapshots(Cg *cg, const IrGraph *g, int first, LLVMValueRef *buf,
                            const CgEnv *env)
{
    const IrNode **list;
    int count = snapshot_set(g, first, &list);
    if (count == 0) {
        util_free((void *)list);
        return;
    }
    ASSERT(env && env->scratch);
    int64_t at = 0;
    for (int i = 0; i < count; i++) {
        const IrNode *load = list[i];
        LLVMValueRef off = i64c(cg, at);
        LLVMValueRef copy = LLVMBuildInBoundsGEP2(cg->b, LLVMInt8TypeInContext(cg->ctx),
                                                  env->scratch, &off, 1, "snapshot");
        LLVMBuildMemCpy(cg->b, copy, SNAPSHOT_ALIGN, buf[load->id], SNAPSHOT_ALIGN,
                        i64c(cg, ir_shape_numel(&load->shape) * 4));
        buf[load->id] = copy;
        at += snapshot_bytes(load);
    }
    /* reshapes already emitted view the slot: point them at the copy too */
    for (int i = 0; i < first; i++) {
        const IrNode *n = g->nodes[i];
        if (n->op == IR_OP_RESHAPE)
            buf[n->id] = buf[n->in[0]->id];
    }
    util_free((void *)list);
}

/* &array[index] for an array of 8-byte elements (pointers or doubles). */
static LLVMValueRef element8(Cg *cg, LLVMValueRef array, LLVMTypeRef type, int index)
{
    LLVMValueRef off = i64c(cg, index);
    return LLVMBuildInBoundsGEP2(cg->b, type, array, &off, 1, "");
}

LLVMValueRef cg_slot_pointer(Cg *cg, const CgEnv *env, int k)
{
    ASSERT(env && env->slot_ptrs); /* only regions hold program ops */
    return LLVMBuildLoad2(cg->b, cg->ptr, element8(cg, env->slot_ptrs, cg->ptr, k), "slot");
}

void cg_emit_program_op(Cg *cg, const IrNode *n, LLVMValueRef *buf, const CgEnv *env)
{
    ASSERT(env && env->slot_ptrs); /* only regions hold program ops */
    LLVMTypeRef f64 = LLVMDoubleTypeInContext(cg->ctx);
    int k = n->attr.io.index;
    switch (n->op) {
    case IR_OP_SLOT_LOAD: buf[n->id] = cg_slot_pointer(cg, env, k); return;
    case IR_OP_SLOT_STORE: {
        LLVMValueRef slot = cg_slot_pointer(cg, env, k);
        /* memmove: storing a slot's own (unchanged) value is allowed */
        LLVMBuildMemMove(cg->b, slot, SNAPSHOT_ALIGN, buf[n->in[0]->id], 4,
                         i64c(cg, ir_shape_numel(&n->in[0]->shape) * 4));
        return;
    }
    case IR_OP_SCALAR_INPUT: {
        if (!buf[n->id]) { /* no arena bytes planned for it: a stack slot */
            buf[n->id] = LLVMBuildAlloca(cg->b, cg->f32, "scalar");
            LLVMSetAlignment(buf[n->id], SNAPSHOT_ALIGN);
        }
        LLVMValueRef v = LLVMBuildLoad2(cg->b, f64, element8(cg, env->vars, f64, k), "");
        LLVMBuildStore(cg->b, LLVMBuildFPTrunc(cg->b, v, cg->f32, ""), buf[n->id]);
        return;
    }
    case IR_OP_SCALAR_OUTPUT: {
        const IrNode *x = n->in[0];
        LLVMValueRef v;
        if (x->dtype == IR_I32)
            v = LLVMBuildSIToFP(cg->b, LLVMBuildLoad2(cg->b, cg->i32, buf[x->id], ""), f64, "");
        else
            v = LLVMBuildFPExt(cg->b, LLVMBuildLoad2(cg->b, cg->f32, buf[x->id], ""), f64, "");
        LLVMBuildStore(cg->b, v, element8(cg, env->outs, f64, k));
        return;
    }
    default: UNREACHABLE();
    }
}
