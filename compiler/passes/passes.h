/* passes.h — graph-to-graph optimizations, run in this order by the driver, and the
 * memory plan that codegen (and `nnc --mem`) takes from the final graph. */
#ifndef NNC_PASSES_H
#define NNC_PASSES_H

#include "ir/ir.h"

#include <stdio.h>

/* Folds algebraic identities (x*1, x+0, transpose of transpose), merges identical nodes
 * (CSE) and removes nodes no effect depends on (DCE). */
void pass_simplify(IrGraph *g);
/* Groups each chain of elementwise ops, and the reduction consuming it, into one FUSED
 * node (see ir.h); every elementwise or reduce op ends up inside a FUSED node. Runs
 * pass_accumulate first. */
void pass_fuse(IrGraph *g);
/* add(mul(c, v), matmul(a, b)) stored into v's slot, c one value, becomes
 * matmul_acc(a, b, v, c): sgemm adds the product to the scaled slot (SGD with momentum's
 * velocity), and the product is never stored (accumulate.c). */
void pass_accumulate(IrGraph *g);
/* The number of FUSED nodes from g->nodes[i] on that are alike (ir_fused_alike) and
 * independent of each other, which codegen runs as one kernel, at once: 1 when
 * g->nodes[i] starts no such run. Memory planning and in-place stores treat a run as one
 * point of the schedule. */
int pass_alike_run(const IrGraph *g, int i);
/* The number of nodes from g->nodes[i] on that codegen runs as one chain: k >= 1 runs of
 * r alike nodes each (pass_alike_run), one after the other, member m of each run as large
 * as member m of the first, and no node reading another member's data (a node of the
 * chain, or a slot one writes in place: in_place, by node id, as pass_slots_in_place).
 * Codegen cuts the members into blocks and runs every run on a block before the next
 * block, so the second run (an optimizer's parameter update) reads what the first (the
 * velocity) wrote while it is still in cache. Memory planning treats the chain as one
 * point of the schedule. r when g->nodes[i] starts a run that chains with none; 1 when
 * it starts no run. */
int pass_alike_chain(const IrGraph *g, int i, const int *in_place);

/* ---- memory planning (memplan.c, docs/memory.md) ------------------------------------ */

enum { MEM_ALIGN = 64 }; /* every arena offset and reserved size is a multiple */

/* Where a node's result lives. */
typedef enum MemKind {
    MEM_NONE,  /* no data: effects (PRINT, SLOT_STORE, SCALAR_OUTPUT), the nodes inside
                  FUSED bodies, ids not in the graph */
    MEM_ARENA, /* its own bytes in the arena */
    MEM_ALIAS, /* a view of node alias_of's data (RESHAPE) */
    MEM_CONST, /* a constant of the module (CONST), not in the arena */
    MEM_SLOT,  /* a persistent slot read in place (SLOT_LOAD, prog.h), or written in place
                  (pass_slots_in_place), not in the arena */
} MemKind;

/* For each node id, the slot its kernel writes its value into directly, or -1 (caller
 * frees): a fused elementwise node stored into a slot that nothing reads after it but the
 * node itself, at the index it writes (an optimizer's update). Its SLOT_STORE then copies
 * nothing, and the plan gives it no arena bytes (MEM_SLOT). */
int *pass_slots_in_place(const IrGraph *g);

typedef struct MemSlot {
    MemKind kind;
    /* MEM_ALIAS: the node owning the storage (MEM_ARENA, MEM_CONST or MEM_SLOT) */
    int alias_of;
    /* MEM_SLOT: the slot (prog.h) read in place, or written in place by a kernel */
    int slot;
    /* MEM_ARENA, and MEM_ALIAS of an arena node: byte offset in the arena; else -1 */
    int64_t offset;
    int64_t bytes;     /* MEM_ARENA: bytes reserved (numel x element size, rounded up) */
    /* Top-level nodes: the index in g->nodes of the node; for the owners of storage (all
     * but MEM_ALIAS and MEM_NONE), last is the index of the last node reading the data,
     * directly or through aliases (first when nothing reads it). -1 for nodes not in the
     * graph's list. */
    int first, last;
} MemSlot;

typedef struct MemPlan {
    MemSlot *slot;             /* by node id, nids entries */
    int nids;                  /* g->next_id */
    int nbuffers;              /* MEM_ARENA slots */
    int64_t arena_bytes;       /* the arena to allocate: max of offset + bytes */
    int64_t peak_bytes;        /* the most arena bytes live at one program point */
    int64_t unplanned_bytes;   /* every buffer kept apart: the sum of their bytes */
} MemPlan;

/* Plans the arena of a fused graph (a script program, or one region of a training
 * program: a region's arena is allocated once and reused by every call): buffers whose live intervals [first, last] meet get
 * disjoint bytes, so a node's output never overlaps its inputs (the kernels' noalias
 * contract). Reads g only. Free the plan with pass_memplan_free. */
MemPlan pass_memplan(const IrGraph *g);
/* in_place[id] (p->nids entries): the slot node id's kernel writes in place
 * (pass_slots_in_place, as the plan kept it), or -1. */
void pass_memplan_in_place(const IrGraph *g, const MemPlan *p, int *in_place);
void pass_memplan_free(MemPlan *p);
/* One line: "memory: N buffers, arena SIZE (peak live SIZE), no planning SIZE" with
 * sizes as "832 B", "1.2 KiB", "3.0 MiB" (docs/memory.md). */
void pass_memplan_print(FILE *out, const MemPlan *p);
/* For a training program (prog/prog.h): one line per region, "region K: " and the line
 * above, then "memory: N regions, arenas SIZE in all (no planning SIZE), slots SIZE",
 * then "at once: SIZE (parameters SIZE, optimizer state SIZE, other tensors SIZE,
 * activations SIZE, data SIZE)" (MemTotals, the arenas as planned here). */
struct Prog;
void pass_memplan_print_prog(FILE *out, const struct Prog *prog);

/* What a training program holds at once, by part (docs/memory.md, "Does it fit?"): its
 * slots, as parameters (and layer state), optimizer state and other tensors (variables
 * carried between regions, the current batch); its region arenas (all held for the whole
 * run); and the data sets whose size is known when compiling (the MNIST kinds; files of
 * other formats are sized when read). */
typedef struct MemTotals {
    int64_t parameters, optimizer, other, activations, data;
} MemTotals;
/* Adds every slot and data set of prog to t (not the arenas: the caller knows those). */
void pass_memplan_add_prog(MemTotals *t, const struct Prog *prog);

#endif
