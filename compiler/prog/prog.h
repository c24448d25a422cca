/* prog.h — a compiled program: host code (loops, host scalars, data, logging, checkpoints)
 * around *regions*, graphs of tensor code (docs/training.md). The tracer (sema/trace.c)
 * builds it from a train block; codegen (cg_compile_program) turns it into one LLVM module
 * whose nnc_program() runs the host code and calls one function per region.
 *
 * Storage:
 *   slots  persistent tensors (parameters "net.fc1.w", optimizer state, tensors carried
 *          across loop iterations, the current batch's x and y): one buffer each, allocated
 *          at program start, zero-filled. Regions read them with SLOT_LOAD and write them
 *          with SLOT_STORE (always the last nodes of a region, so every read of the old
 *          value comes first).
 *   vars   host scalars (doubles; ints are stored exactly as doubles up to 2^53): loop
 *          counters, train settings, accumulated metrics. Regions read them with
 *          SCALAR_INPUT (an f32[] tensor) and write results with SCALAR_OUTPUT into `outs`,
 *          which host expressions read (PX_OUT). */
#ifndef NNC_PROG_H
#define NNC_PROG_H

#include "ir/ir.h"
#include "util/util.h"

typedef enum ProgExprKind {
    PX_CONST,   /* value */
    PX_VAR,     /* vars[index] */
    PX_OUT,     /* outs[index], written by the last region that ran */
    PX_UNARY,   /* op a: AST_OP_NEG, AST_OP_NOT; PX_OP_FLOOR; PX_OP_TRUNC for int(x) of a
                   float (toward 0, as int(x) of a known float when compiling) */
    PX_BINARY,  /* a op b: AST_OP_* arithmetic and comparisons (1.0 / 0.0), and, or;
                   PX_OP_IDIV and PX_OP_IMOD for `/` and `%` on two ints: floor division
                   and its remainder (the divisor's sign), of a and b as 64-bit ints; a
                   divisor of 0 stops the program with "integer division by zero" at span */
    PX_SELECT,  /* cond != 0 ? a : b */
    PX_DATA_COUNT, /* the number of samples of datas[index] (len(data)) */
} ProgExprKind;

enum { PX_OP_FLOOR = 100, PX_OP_TRUNC, PX_OP_IDIV, PX_OP_IMOD };

typedef struct ProgExpr ProgExpr;
struct ProgExpr {
    ProgExprKind kind;
    double value;
    int index;
    int op;
    ProgExpr *a, *b, *cond;
    Span span;   /* PX_OP_IDIV, PX_OP_IMOD: the division, for the run-time error */
};

typedef enum ProgStmtKind {
    PS_REGION,       /* run regions[index] */
    PS_SET,          /* vars[index] = expr */
    PS_FOR_RANGE,    /* for vars[index] = lo; vars[index] < hi; vars[index] += 1: body */
    PS_FOR_BATCHES,  /* for each batch of datas[index] (batch, shuffle, seed = expr, epoch =
                        vars[epoch_var] or 0): copy it into slots x_slot, y_slot, run body */
    PS_WHILE,        /* while cond: body */
    PS_IF,           /* if cond: body, else orelse */
    PS_BREAK,
    PS_CONTINUE,
    PS_LOG,          /* log(names[i] = values[i]) */
    PS_PRINT,        /* print the host scalar expr */
    PS_MAP_DATA,     /* datas[n] = map of datas[index]: for each sample, copy it into slots
                        x_slot/y_slot, run regions[region], and take slots x_out/y_out (at
                        program start, before anything else uses datas[n]) */
    PS_SPLIT_DATA,   /* datas[n] = its part of datas[index] (PD_SPLIT; at program start,
                        in order with the PS_MAP_DATA statements) */
    PS_SAVE,         /* write slots[slot_list[i]], named names[i], to the file `path` */
    PS_LOAD,         /* read them back */
} ProgStmtKind;

typedef struct ProgStmt ProgStmt;
typedef struct ProgBlock {
    ProgStmt **items;
    int len, cap;
} ProgBlock;

struct ProgStmt {
    ProgStmtKind kind;
    Span span;
    int index;
    ProgExpr *expr, *lo, *hi, *cond;
    ProgBlock body, orelse;
    /* PS_FOR_BATCHES */
    int64_t batch;
    bool shuffle;
    int x_slot, y_slot, epoch_var;
    int rows_var;       /* the var set to each batch's row count (IrShape.rows), or -1 */
    ProgExpr *size;     /* with rows: the batch size, a setting's var (at most `batch`), or
                           NULL: `batch` */
    int loss_out;       /* outs[] index of the step's loss, shown by the progress line, or -1 */
    /* PS_MAP_DATA (and index, n, x_slot, y_slot above) */
    int region, x_out, y_out;
    int rng_var;        /* PS_MAP_DATA with rng_words > 0: vars[rng_var] += rng_words after
                           each sample's run, so every sample draws new random numbers */
    uint64_t rng_words;
    /* PS_LOG (and PS_SAVE, PS_LOAD: names) */
    int n;
    const char **names;
    ProgExpr **values;
    /* PS_SAVE, PS_LOAD: the file is `path`, or the string setting --path_setting when set */
    const char *path;
    const char *path_setting;
    int *slot_list;
    int nslot_list;
};

typedef struct ProgSlot {
    const char *name;   /* "net.fc1.w", "opt.v[net.fc1.w]", "carried.total", "batch.x" */
    IrDType dtype;
    IrShape shape;
} ProgSlot;

typedef struct ProgVar {
    const char *name;
    bool is_int;
} ProgVar;

typedef enum ProgDataKind {
    PD_FASHION_MNIST, PD_MNIST, PD_IDX, PD_CSV, PD_NPY, PD_TEXT,
    PD_MAPPED,  /* made by a PS_MAP_DATA statement, not loaded */
    PD_SPLIT,   /* made by a PS_SPLIT_DATA statement, not loaded */
} ProgDataKind;

/* A dataset split to batch: loaded at program start. */
typedef struct ProgData {
    ProgDataKind kind;
    const char *path, *path2;   /* directory or files, as the program wrote them */
    bool test;                  /* PD_FASHION_MNIST, PD_MNIST: the test split, else train */
    int64_t features, seq;      /* PD_CSV, PD_TEXT */
    bool label;                 /* PD_CSV: the last column is an integer label */
    int64_t vocab;              /* PD_TEXT: the alphabet size compiled into the program by
                                   vocab(data) (checked when loading), or 0 */
    /* PD_SPLIT: part `part` (0: the first, 1: the second) of datas[parent], cut at
       `fraction` by `seed` (rt_dataset_split) */
    int parent, part;
    double fraction;
    int64_t seed;
    IrShape x_shape;            /* one sample's x (and y) as the checker knows them */
    IrDType x_dtype, y_dtype;
    IrShape y_shape;
} ProgData;

/* A train setting: a host variable initialized from --NAME on the command line. */
typedef struct ProgSetting {
    const char *name;
    int var;
    bool is_int;
    double dflt;
    bool fixed;   /* compiled into shapes (a batch size): the flag may not change it */
    /* the batch size of a loop whose last batch may be smaller (IrShape.rows), and not
     * fixed: the flag may lower it (the compiled shapes hold the default) */
    bool bounded;
    const char *why_full; /* fixed because every batch is full where its rows would not
                             work out: why (for the executable's message), or NULL */
    const char *text; /* a string setting's default (var is then -1): read where it is used */
    bool is_bool;     /* a bool setting: a switch on the command line, its var 0 or 1 */
} ProgSetting;

typedef struct Prog {
    Arena arena;
    PtrVec regions;      /* IrGraph *, region k is regions.items[k] */
    ProgSlot *slots;
    int nslots, capslots;
    ProgVar *vars;
    int nvars, capvars;
    int nouts;
    ProgData *datas;
    int ndatas, capdatas;
    ProgSetting *settings;
    int nsettings, capsettings;
    ProgBlock main;
} Prog;

/* What --save, --resume and --eval-only act on (docs/training.md, "Checkpoints"). The
 * training statement is the one top-level statement of main that trains: a loop over
 * epochs or a loop over batches with an optimizer step (a progress loss) inside. Its state
 * is every var and slot it writes (the batch loops' input slots excepted): what a resumed
 * run must get back; everything else is recomputed by the statements before it. */
typedef struct ProgCheckpoint {
    int stmt;          /* p->main.items[stmt], or -1: why says why there is none */
    const char *why;
    int eval_from;     /* an epoch loop: body.items[eval_from..] evaluate (they follow its
                          last statement that trains) */
    int batch_item;    /* an epoch loop: body.items[batch_item] is the loop over batches that
                          trains, whose steps --save-every and --max-steps count; -1 for a
                          loop over batches alone (that loop counts) or when why_no_steps */
    const char *why_no_steps; /* NULL, or why no loop's steps can be counted */
    int *vars, nvars;  /* ascending; util_malloc'd, freed by prog_checkpoint_free */
    int *slots, nslots;
} ProgCheckpoint;

Prog *prog_new(void);
void prog_free(Prog *p);
/* Makes every batch of every loop full: the loops drop their last partial batch, and no
 * shape has a batch's rows (IrShape.rows) any more. The loops still set their row count
 * variables, always to the full batch size, which is compiled in (a bounded setting
 * becomes fixed, with `why` as its why_full, and the loops' `size` is ignored). */
void prog_drop_rows(Prog *p, const char *why);
int prog_add_slot(Prog *p, const char *name, IrDType dtype, const IrShape *shape);
int prog_add_var(Prog *p, const char *name, bool is_int);
int prog_add_data(Prog *p, const ProgData *d);
void prog_add_setting(Prog *p, const char *name, int var, bool is_int, double dflt);
void prog_add_string_setting(Prog *p, const char *name, const char *dflt);
ProgStmt *prog_stmt(Prog *p, ProgBlock *into, ProgStmtKind kind, Span at);
ProgExpr *prog_const(Prog *p, double v);
ProgExpr *prog_var(Prog *p, int var);
ProgExpr *prog_out(Prog *p, int out);
ProgExpr *prog_unary(Prog *p, int op, ProgExpr *a);
ProgExpr *prog_binary(Prog *p, int op, ProgExpr *a, ProgExpr *b);
/* a / b or a % b (AST_OP_DIV, AST_OP_MOD) on two host ints at `at`: PX_OP_IDIV, PX_OP_IMOD */
ProgExpr *prog_int_div(Prog *p, int op, ProgExpr *a, ProgExpr *b, Span at);
ProgExpr *prog_select(Prog *p, ProgExpr *cond, ProgExpr *a, ProgExpr *b);
ProgExpr *prog_data_count(Prog *p, int data);
ProgCheckpoint prog_checkpoint_plan(const Prog *p);
/* Whether s is the loop over batches whose steps count for --max-steps and --save-every
 * under the plan cp (docs/training.md §7): the training statement itself, or the loop over
 * batches in its body that trains. */
bool prog_counts_steps(const Prog *p, const ProgCheckpoint *cp, const ProgStmt *s);
void prog_checkpoint_free(ProgCheckpoint *cp);
/* Textual form for --emit=ir: the host code with its regions' graphs inline. */
void prog_print(FILE *out, const Prog *p);

#endif
