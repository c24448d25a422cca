/* prog_eval.c — the reference evaluator for whole programs (prog_eval.h).
 *
 * An interpreter of the host code of prog.h, written from the documents (docs/training.md,
 * docs/language.md, prog.h's contracts), not from codegen/program.c, so that a bug in the
 * host code compiled there shows as a difference. Host scalars are doubles, as the
 * language's ints and floats are (ints exact up to 2^53); slots hold doubles; regions run
 * on eval_graph_env. The runtime does what is not arithmetic, with the same calls compiled
 * code makes: flags, data, batches, random streams (the regions' RANDOM nodes draw from
 * the same (seed, counter) words), log lines, progress, checkpoint files.
 *
 * Where the documents leave a choice open, the comment says what program.c chose. */
#include "prog/prog_eval.h"

#include "ast/ast.h"
#include "util/diag.h"
#include "util/util.h"

#include "nnc_rt.h"

#include <math.h>
#include <string.h>

/* How a statement ends: on to the next one, out of the innermost loop (break), to the
 * innermost loop's next iteration (continue), or out of the training statement (the
 * --max-steps'th step was taken). */
typedef enum Flow { FLOW_NEXT, FLOW_BREAK, FLOW_CONTINUE, FLOW_STOP } Flow;

/* An enclosing loop over a range, for the progress line's "epoch 3/10". */
typedef struct RangeLoop {
    int var;
    double lo, hi;
} RangeLoop;

typedef struct Pe {
    Prog *p;
    EvalPrecision precision;
    double **slots;      /* by slot: numel(shape) values (the largest batch's) */
    double *vars, *outs;
    RtDataset **datasets;
    int64_t *largest;    /* by var: the batch size of the loop whose row count it holds */
    ProgCheckpoint cp;
    /* the training state as the runtime's views: vars directly (rank-0 F64), slots through
     * 4-byte copies, made before each call that may write them and read back after one
     * that loaded them */
    RtTensorView *state;
    int nstate;
    RangeLoop *ranges;
    int nranges;
} Pe;

/* ---- storage -------------------------------------------------------------------------- */

/* A slot's values as the runtime's 4-byte elements (f32, or i32 for indices). */
static void *slot_to_rt(const ProgSlot *slot, const double *v, void *buf)
{
    int64_t n = ir_shape_numel(&slot->shape);
    ASSERT(slot->dtype == IR_F32 || slot->dtype == IR_I32);
    for (int64_t i = 0; i < n; i++) {
        if (slot->dtype == IR_I32)
            ((int32_t *)buf)[i] = (int32_t)v[i];
        else
            ((float *)buf)[i] = (float)v[i];
    }
    return buf;
}

static void slot_from_rt(const ProgSlot *slot, const void *buf, double *v)
{
    int64_t n = ir_shape_numel(&slot->shape);
    for (int64_t i = 0; i < n; i++)
        v[i] = slot->dtype == IR_I32 ? (double)((const int32_t *)buf)[i]
                                     : (double)((const float *)buf)[i];
}

static void *rt_buffer(const ProgSlot *slot)
{
    int64_t n = ir_shape_numel(&slot->shape);
    return util_malloc(4 * (size_t)(n ? n : 1));
}

static RtDtype rt_dtype(IrDType t)
{
    ASSERT(t == IR_F32 || t == IR_I32);
    return t == IR_I32 ? RT_DTYPE_I32 : RT_DTYPE_F32;
}

static RtTensorView slot_view(const ProgSlot *slot, const char *name, void *data)
{
    RtTensorView v = {name, rt_dtype(slot->dtype), slot->shape.rank, {0}, data};
    for (int d = 0; d < slot->shape.rank; d++)
        v.dims[d] = slot->shape.dims[d];
    return v;
}

/* The state views of prog_checkpoint_plan: "$name" for each var, then each slot. */
static void make_state(Pe *pe)
{
    const Prog *p = pe->p;
    const ProgCheckpoint *cp = &pe->cp;
    pe->nstate = cp->nvars + cp->nslots;
    pe->state = util_malloc(sizeof(RtTensorView) * (size_t)(pe->nstate + 1));
    for (int i = 0; i < cp->nvars; i++) {
        char name[300];
        snprintf(name, sizeof name, "$%s", p->vars[cp->vars[i]].name);
        pe->state[i] = (RtTensorView){util_strdup(name), RT_DTYPE_F64, 0, {0},
                                      &pe->vars[cp->vars[i]]};
    }
    for (int i = 0; i < cp->nslots; i++) {
        const ProgSlot *slot = &p->slots[cp->slots[i]];
        pe->state[cp->nvars + i] = slot_view(slot, slot->name, rt_buffer(slot));
    }
}

/* Before the runtime may write the state: its slots' copies made current. */
static void state_out(Pe *pe)
{
    for (int i = 0; i < pe->cp.nslots; i++) {
        int k = pe->cp.slots[i];
        slot_to_rt(&pe->p->slots[k], pe->slots[k], pe->state[pe->cp.nvars + i].data);
    }
}

/* After the runtime read the state: the slots take the copies' values. */
static void state_in(Pe *pe)
{
    for (int i = 0; i < pe->cp.nslots; i++) {
        int k = pe->cp.slots[i];
        slot_from_rt(&pe->p->slots[k], pe->state[pe->cp.nvars + i].data, pe->slots[k]);
    }
}

static void free_state(Pe *pe)
{
    for (int i = 0; i < pe->nstate; i++)
        util_free(i < pe->cp.nvars ? (void *)pe->state[i].name : pe->state[i].data);
    util_free(pe->state);
}

/* ---- host expressions ----------------------------------------------------------------- */

static bool truth(double v)
{
    return v != 0; /* NaN is not 0 */
}

/* PX_OP_IDIV, PX_OP_IMOD (prog.h): floor division of two host ints and its remainder,
 * which takes the divisor's sign (docs/language.md §6.2); a divisor of 0 stops the run. */
static double int_divide(const ProgExpr *e, double a, double b)
{
    int64_t x = (int64_t)a, y = (int64_t)b;
    if (y == 0) {
        if (!e->span.file)
            rt_fatal("integer division by zero");
        int line, col;
        diag_line_col(e->span.file, e->span.lo, &line, &col);
        rt_fatal("%s:%d:%d: integer division by zero", e->span.file->name, line, col);
    }
    if (y == -1) /* x / -1 would trap on INT64_MIN */
        return e->op == PX_OP_IDIV ? -(double)x : 0;
    int64_t q = x / y, r = x % y;
    if (r != 0 && (r < 0) != (y < 0)) {
        q -= 1;
        r += y;
    }
    return (double)(e->op == PX_OP_IDIV ? q : r);
}

double prog_eval_expr(const ProgExpr *e, const double *vars, const double *outs,
                      RtDataset *const *datas)
{
    switch (e->kind) {
    case PX_CONST: return e->value;
    case PX_VAR: return vars[e->index];
    case PX_OUT: return outs[e->index];
    case PX_DATA_COUNT: return datas ? (double)rt_dataset_count(datas[e->index]) : 0;
    case PX_SELECT:
        return prog_eval_expr(truth(prog_eval_expr(e->cond, vars, outs, datas)) ? e->a : e->b,
                              vars, outs, datas);
    case PX_UNARY: {
        double a = prog_eval_expr(e->a, vars, outs, datas);
        if (e->op == PX_OP_FLOOR)
            return floor(a);
        if (e->op == PX_OP_TRUNC)
            return trunc(a);
        switch ((AstOp)e->op) {
        case AST_OP_NEG: return -a;
        case AST_OP_NOT: return !truth(a);
        default: UNREACHABLE();
        }
    }
    case PX_BINARY: {
        double a = prog_eval_expr(e->a, vars, outs, datas);
        double b = prog_eval_expr(e->b, vars, outs, datas);
        if (e->op == PX_OP_IDIV || e->op == PX_OP_IMOD)
            return int_divide(e, a, b);
        switch ((AstOp)e->op) {
        case AST_OP_ADD: return a + b;
        case AST_OP_SUB: return a - b;
        case AST_OP_MUL: return a * b;
        case AST_OP_DIV: return a / b;
        case AST_OP_POW: return pow(a, b);
        case AST_OP_MOD: { /* floored: the sign of the divisor (language.md §6.2) */
            double r = fmod(a, b);
            return r != 0 && (r < 0) != (b < 0) ? r + b : r;
        }
        case AST_OP_EQ: return a == b;
        case AST_OP_NE: return a != b;
        case AST_OP_LT: return a < b;
        case AST_OP_LE: return a <= b;
        case AST_OP_GT: return a > b;
        case AST_OP_GE: return a >= b;
        case AST_OP_AND: return truth(a) && truth(b);
        case AST_OP_OR: return truth(a) || truth(b);
        default: UNREACHABLE();
        }
    }
    }
    UNREACHABLE();
}

static double eval_expr(const Pe *pe, const ProgExpr *e)
{
    return prog_eval_expr(e, pe->vars, pe->outs, pe->datasets);
}

/* ---- regions ---------------------------------------------------------------------------- */

/* Sets the batch-rows axis of n (and of a FUSED body) to its size at the current row count
 * (IrShape.rows: dims[axis] / largest * rows), saving the dims in *saved, or restores them
 * from *saved. The evaluator then runs the rows the batch has, as compiled code does. */
static void resize_rows(const Pe *pe, IrNode *n, int64_t **saved, bool restore)
{
    if (n->shape.rows) {
        int axis = n->shape.rows_axis;
        if (restore) {
            n->shape.dims[axis] = *(*saved)++;
        } else {
            int var = n->shape.rows - 1;
            int64_t largest = pe->largest[var], rows = (int64_t)pe->vars[var];
            ASSERT(largest > 0 && n->shape.dims[axis] % largest == 0);
            *(*saved)++ = n->shape.dims[axis];
            n->shape.dims[axis] = n->shape.dims[axis] / largest * rows;
        }
    }
    if (n->op == IR_OP_FUSED)
        for (int i = 0; i < n->attr.fused.nbody; i++)
            resize_rows(pe, n->attr.fused.body[i], saved, restore);
}

static int count_rows(const IrNode *n)
{
    int c = n->shape.rows != 0;
    if (n->op == IR_OP_FUSED)
        for (int i = 0; i < n->attr.fused.nbody; i++)
            c += count_rows(n->attr.fused.body[i]);
    return c;
}

static void run_region(Pe *pe, int k)
{
    IrGraph *g = pe->p->regions.items[k];
    int nrows = 0;
    for (int i = 0; i < g->len; i++)
        nrows += count_rows(g->nodes[i]);
    int64_t *saved = util_malloc(sizeof(int64_t) * (size_t)(nrows + 1)), *at = saved;
    for (int i = 0; i < g->len; i++)
        resize_rows(pe, g->nodes[i], &at, false);
    EvalEnv env = {pe->slots, pe->vars, pe->outs};
    EvalResult r = eval_graph_env(g, pe->precision, stdout, &env);
    eval_result_free(&r);
    at = saved;
    for (int i = 0; i < g->len; i++)
        resize_rows(pe, g->nodes[i], &at, true);
    util_free(saved);
}

/* ---- statements -------------------------------------------------------------------------- */

static Flow run_block(Pe *pe, const ProgBlock *b, int from);

/* The epoch a checkpoint records: the training loop's variable, 0 for a loop over batches
 * alone. */
static int64_t training_epoch(const Pe *pe)
{
    const ProgStmt *training = pe->p->main.items[pe->cp.stmt];
    return training->kind == PS_FOR_RANGE ? (int64_t)pe->vars[training->index] : 0;
}

static Flow run_for_batches(Pe *pe, const ProgStmt *s)
{
    const Prog *p = pe->p;
    const ProgSlot *xs = &p->slots[s->x_slot], *ys = s->y_slot >= 0 ? &p->slots[s->y_slot] : NULL;
    /* a loop whose batch has rows runs its last, smaller batch; one without drops it
     * (prog.h: every batch full) */
    bool drop_last = !xs->shape.rows;
    uint64_t seed = s->expr ? (uint64_t)eval_expr(pe, s->expr) : rt_run_seed();
    int64_t epoch = s->epoch_var >= 0 ? (int64_t)pe->vars[s->epoch_var] : 0;
    int64_t size = s->batch;
    if (!drop_last && s->size)
        size = (int64_t)eval_expr(pe, s->size);
    RtBatches *it =
        rt_batches_begin(pe->datasets[s->index], size, s->shuffle, drop_last, seed, epoch);
    /* progress: "epoch E/N" over the enclosing loop on the epoch variable, else 1/1 */
    int64_t shown = 1, epochs = 1;
    for (int i = pe->nranges - 1; i >= 0 && s->epoch_var >= 0; i--)
        if (pe->ranges[i].var == s->epoch_var) {
            shown = (int64_t)(pe->vars[s->epoch_var] - pe->ranges[i].lo) + 1;
            epochs = (int64_t)(pe->ranges[i].hi - pe->ranges[i].lo);
            break;
        }
    rt_progress_begin(shown, epochs, rt_batches_count(it), NULL);
    bool counted = prog_counts_steps(pe->p, &pe->cp, s);
    if (counted)
        rt_train_batches(it);
    void *xb = rt_buffer(xs), *yb = ys ? rt_buffer(ys) : NULL;
    Flow flow = FLOW_NEXT;
    for (;;) {
        int64_t got = rt_batches_next(it, xb, yb);
        if (got == 0)
            break;
        slot_from_rt(xs, xb, pe->slots[s->x_slot]);
        if (ys)
            slot_from_rt(ys, yb, pe->slots[s->y_slot]);
        if (s->rows_var >= 0)
            pe->vars[s->rows_var] = (double)got;
        flow = run_block(pe, &s->body, 0);
        /* a step that ends in `break` is neither shown nor counted, as in program.c: the
         * documents do not say (issue 17 §2.9 asks for the progress line to count it) */
        if (flow == FLOW_BREAK || flow == FLOW_STOP)
            break;
        flow = FLOW_NEXT;
        if (s->loss_out >= 0)
            rt_progress_step(pe->outs[s->loss_out], 0);
        else
            rt_progress_tick();
        if (counted) {
            if (rt_flag_is_set("save"))
                state_out(pe);
            if (rt_train_step(pe->state, pe->nstate, training_epoch(pe), it)) {
                flow = FLOW_STOP;
                break;
            }
        }
    }
    rt_progress_end();
    rt_batches_end(it);
    util_free(xb);
    util_free(yb);
    return flow == FLOW_STOP ? FLOW_STOP : FLOW_NEXT;
}

/* A loop over a range: `lo` and `hi` are evaluated once, the variable takes lo, lo + 1,
 * ... while below hi. The training loop (checkpointed) is also saved after every
 * iteration and resumed (docs/training.md §7). */
static Flow run_for_range(Pe *pe, const ProgStmt *s, bool checkpointed)
{
    double lo = eval_expr(pe, s->lo), hi = eval_expr(pe, s->hi);
    pe->vars[s->index] = lo;
    pe->ranges = util_realloc(pe->ranges, sizeof(RangeLoop) * (size_t)(pe->nranges + 1));
    pe->ranges[pe->nranges++] = (RangeLoop){s->index, lo, hi};
    bool resuming_inside = false;
    Flow flow = FLOW_NEXT;
    if (checkpointed) {
        int resumed = rt_train_resume(pe->state, pe->nstate);
        if (resumed)
            state_in(pe);
        if (resumed && rt_flag_get_bool("eval-only")) {
            /* the saved epoch's evaluation: its body after the last statement that trains */
            run_block(pe, &s->body, pe->cp.eval_from);
            pe->nranges--;
            return FLOW_NEXT;
        }
        if (resumed == 1)
            pe->vars[s->index] += 1; /* saved at the end of that iteration */
        resuming_inside = resumed == 2 && pe->cp.batch_item >= 0;
    }
    while (pe->vars[s->index] < hi) {
        /* resumed inside the iteration: its statements before the training batch loop ran
         * before the save */
        int from = resuming_inside ? pe->cp.batch_item : 0;
        resuming_inside = false;
        flow = run_block(pe, &s->body, from);
        if (flow == FLOW_BREAK || flow == FLOW_STOP)
            break;
        flow = FLOW_NEXT;
        if (checkpointed) {
            state_out(pe);
            rt_train_save(pe->state, pe->nstate, (int64_t)pe->vars[s->index]);
        }
        pe->vars[s->index] += 1;
    }
    pe->nranges--;
    return checkpointed || flow != FLOW_STOP ? FLOW_NEXT : FLOW_STOP;
}

static void run_log(const Pe *pe, const ProgStmt *s)
{
    double *values = util_malloc(sizeof(double) * (size_t)(s->n + 1));
    for (int i = 0; i < s->n; i++)
        values[i] = eval_expr(pe, s->values[i]);
    rt_log_metrics(s->names, values, s->n);
    util_free(values);
}

/* print(x) of a host scalar: a rank-0 f32 tensor, as print shows a float (the value
 * rounded to f32 in both precisions, as the tensor it stands for is f32). */
static void run_print(const Pe *pe, const ProgStmt *s)
{
    double v = (float)eval_expr(pe, s->expr);
    int64_t no_dims[1] = {0};
    rt_fprint_f64(stdout, "f32", &v, 0, no_dims);
}

/* save(net, path) / load(net, path): the listed slots as f32 (i32) tensors. */
static void run_checkpoint(Pe *pe, const ProgStmt *s)
{
    const Prog *p = pe->p;
    int n = s->nslot_list;
    RtTensorView *views = util_malloc(sizeof(RtTensorView) * (size_t)(n + 1));
    for (int i = 0; i < n; i++) {
        const ProgSlot *slot = &p->slots[s->slot_list[i]];
        views[i] = slot_view(slot, s->names[i], slot_to_rt(slot, pe->slots[s->slot_list[i]],
                                                           rt_buffer(slot)));
    }
    const char *path = s->path_setting ? rt_flag_get_string(s->path_setting) : s->path;
    if (s->kind == PS_SAVE) {
        rt_checkpoint_save(path, views, n, NULL);
    } else {
        rt_checkpoint_load(path, views, n, NULL);
        for (int i = 0; i < n; i++)
            slot_from_rt(&p->slots[s->slot_list[i]], views[i].data, pe->slots[s->slot_list[i]]);
    }
    for (int i = 0; i < n; i++)
        util_free(views[i].data);
    util_free(views);
}

/* datas[s->n] = each sample of datas[s->index] through region s->region. */
static void run_map_data(Pe *pe, const ProgStmt *s)
{
    const Prog *p = pe->p;
    RtDataset *src = pe->datasets[s->index];
    int64_t count = rt_dataset_count(src);
    const ProgSlot *xi = &p->slots[s->x_slot], *yi = s->y_slot >= 0 ? &p->slots[s->y_slot] : NULL;
    const ProgSlot *xo = &p->slots[s->x_out], *yo = s->y_out >= 0 ? &p->slots[s->y_out] : NULL;
    RtDataset *dst = rt_dataset_new(count, rt_dtype(xo->dtype), xo->shape.rank, xo->shape.dims,
                                    yo ? rt_dtype(yo->dtype) : RT_DTYPE_I32,
                                    yo ? yo->shape.rank : -1,
                                    yo ? yo->shape.dims : NULL);
    void *xib = rt_buffer(xi), *yib = yi ? rt_buffer(yi) : NULL;
    void *xob = rt_buffer(xo), *yob = yo ? rt_buffer(yo) : NULL;
    for (int64_t i = 0; i < count; i++) {
        rt_dataset_get(src, i, xib, yib);
        slot_from_rt(xi, xib, pe->slots[s->x_slot]);
        if (yi)
            slot_from_rt(yi, yib, pe->slots[s->y_slot]);
        run_region(pe, s->region);
        rt_dataset_set(dst, i, slot_to_rt(xo, pe->slots[s->x_out], xob),
                       yo ? slot_to_rt(yo, pe->slots[s->y_out], yob) : NULL);
        if (s->rng_words) /* the next sample draws the words after these (prog.h) */
            pe->vars[s->rng_var] += (double)s->rng_words;
    }
    util_free(xib);
    util_free(yib);
    util_free(xob);
    util_free(yob);
    pe->datasets[s->n] = dst;
}

static void run_split_data(Pe *pe, const ProgStmt *s)
{
    const ProgData *d = &pe->p->datas[s->n];
    RtDataset *parts[2];
    rt_dataset_split(pe->datasets[s->index], d->fraction, (uint64_t)d->seed, &parts[0], &parts[1]);
    rt_dataset_free(parts[1 - d->part]);
    pe->datasets[s->n] = parts[d->part];
}

static Flow run_stmt(Pe *pe, const ProgStmt *s)
{
    switch (s->kind) {
    case PS_REGION: run_region(pe, s->index); return FLOW_NEXT;
    case PS_SET: pe->vars[s->index] = eval_expr(pe, s->expr); return FLOW_NEXT;
    case PS_FOR_RANGE: return run_for_range(pe, s, false);
    case PS_FOR_BATCHES: return run_for_batches(pe, s);
    case PS_WHILE:
        while (truth(eval_expr(pe, s->cond))) {
            Flow flow = run_block(pe, &s->body, 0);
            if (flow == FLOW_STOP)
                return flow;
            if (flow == FLOW_BREAK)
                break;
        }
        return FLOW_NEXT;
    case PS_IF: return run_block(pe, truth(eval_expr(pe, s->cond)) ? &s->body : &s->orelse, 0);
    case PS_BREAK: return FLOW_BREAK;
    case PS_CONTINUE: return FLOW_CONTINUE;
    case PS_LOG: run_log(pe, s); return FLOW_NEXT;
    case PS_PRINT: run_print(pe, s); return FLOW_NEXT;
    case PS_SAVE:
    case PS_LOAD: run_checkpoint(pe, s); return FLOW_NEXT;
    case PS_MAP_DATA: run_map_data(pe, s); return FLOW_NEXT;
    case PS_SPLIT_DATA: run_split_data(pe, s); return FLOW_NEXT;
    }
    UNREACHABLE();
}

/* Runs b's statements from `from`; stops at the first that does not end FLOW_NEXT. */
static Flow run_block(Pe *pe, const ProgBlock *b, int from)
{
    for (int i = from; i < b->len; i++) {
        Flow flow = run_stmt(pe, b->items[i]);
        if (flow != FLOW_NEXT)
            return flow;
    }
    return FLOW_NEXT;
}

/* The training statement: a loop over epochs (run_for_range, checkpointed), or a loop over
 * batches alone, which a checkpoint saved after it skips, and which is saved once after
 * it. --max-steps ends it (FLOW_STOP) and the program goes on after it. */
static void run_training(Pe *pe, const ProgStmt *s)
{
    if (s->kind == PS_FOR_RANGE) {
        run_for_range(pe, s, true);
        return;
    }
    ASSERT(s->kind == PS_FOR_BATCHES);
    int resumed = rt_train_resume(pe->state, pe->nstate);
    if (resumed)
        state_in(pe);
    /* a file saved after the loop, or --eval-only ("for a loop over batches alone, only
     * what follows the loop runs", docs/training.md §7; rt_train_resume says 1 then too) */
    if (resumed == 1 || (resumed && rt_flag_get_bool("eval-only")))
        return;
    if (run_for_batches(pe, s) == FLOW_STOP)
        return;
    state_out(pe);
    rt_train_save(pe->state, pe->nstate, 0);
}

/* ---- the program --------------------------------------------------------------------------- */

/* Declares the settings as flags, parses the command line, and reads them into their vars
 * (docs/training.md §4: a compiled-in setting may not change; a bounded batch may only be
 * lower). */
static void read_settings(Pe *pe)
{
    const Prog *p = pe->p;
    rt_flags_reset();
    for (int i = 0; i < p->nsettings; i++) {
        const ProgSetting *st = &p->settings[i];
        if (st->text)
            rt_flag_string(st->name, st->text, NULL);
        else if (st->is_int)
            rt_flag_int(st->name, (int64_t)st->dflt,
                        st->bounded ? RT_FLAG_POSITIVE : RT_FLAG_ANY, NULL);
        else
            rt_flag_float(st->name, st->dflt, RT_FLAG_ANY, NULL);
    }
    rt_flags_allow_checkpoints(pe->cp.stmt >= 0 ? NULL : pe->cp.why, pe->cp.why_no_steps);
    rt_flags_parse_command_line();
    for (int i = 0; i < p->nsettings; i++) {
        const ProgSetting *st = &p->settings[i];
        if (st->text)
            continue;
        double v = st->is_int ? (double)rt_flag_get_int(st->name) : rt_flag_get_float(st->name);
        if (st->fixed)
            rt_setting_fixed(st->name, st->dflt, v, st->why_full);
        else if (st->bounded)
            rt_setting_bounded(st->name, st->dflt, v);
        pe->vars[st->var] = v;
    }
}

/* Loads datas[i] at program start (docs/training.md §9), and checks that its samples are
 * what the program was compiled for. */
static RtDataset *load_data(const ProgData *d)
{
    RtDataset *ds = NULL;
    switch (d->kind) {
    case PD_FASHION_MNIST:
    case PD_MNIST: {
        RtDataset *train, *test;
        (d->kind == PD_MNIST ? rt_dataset_mnist : rt_dataset_fashion_mnist)(
            d->path, d->x_shape.rank, d->x_shape.dims, &train, &test);
        rt_dataset_free(d->test ? train : test);
        return d->test ? test : train; /* the IDX loader checked the image shape */
    }
    case PD_IDX: return rt_dataset_idx(d->path, d->path2, d->x_shape.rank, d->x_shape.dims);
    case PD_CSV: ds = rt_dataset_csv(d->path, d->features, d->label); break;
    case PD_NPY: ds = rt_dataset_npy(d->path, d->path2); break;
    case PD_TEXT:
        ds = rt_dataset_text(d->path, d->seq);
        if (d->vocab > 0)
            rt_dataset_expect_vocab(ds, (int32_t)d->vocab);
        break;
    case PD_MAPPED:
    case PD_SPLIT: return NULL; /* made by its statement */
    }
    rt_dataset_expect(ds, rt_dtype(d->x_dtype), d->x_shape.rank, d->x_shape.dims,
                      rt_dtype(d->y_dtype), d->y_shape.rank, d->y_shape.dims);
    return ds;
}

static void find_largest(const ProgBlock *b, int64_t *largest)
{
    for (int i = 0; i < b->len; i++) {
        const ProgStmt *s = b->items[i];
        if (s->kind == PS_FOR_BATCHES && s->rows_var >= 0)
            largest[s->rows_var] = s->batch;
        find_largest(&s->body, largest);
        find_largest(&s->orelse, largest);
    }
}

int prog_eval_run(Prog *p, EvalPrecision precision, int argc, char **argv)
{
    Pe pe = {.p = p, .precision = precision, .cp = prog_checkpoint_plan(p)};
    rt_init(argc, argv);
    pe.vars = util_malloc(sizeof(double) * (size_t)(p->nvars + 1));
    memset(pe.vars, 0, sizeof(double) * (size_t)(p->nvars + 1));
    pe.outs = util_malloc(sizeof(double) * (size_t)(p->nouts + 1));
    memset(pe.outs, 0, sizeof(double) * (size_t)(p->nouts + 1));
    read_settings(&pe);
    pe.slots = util_malloc(sizeof(double *) * (size_t)(p->nslots + 1));
    for (int i = 0; i < p->nslots; i++) { /* zero-filled at program start (prog.h) */
        int64_t n = ir_shape_numel(&p->slots[i].shape);
        pe.slots[i] = util_malloc(sizeof(double) * (size_t)(n ? n : 1));
        memset(pe.slots[i], 0, sizeof(double) * (size_t)(n ? n : 1));
    }
    pe.largest = util_malloc(sizeof(int64_t) * (size_t)(p->nvars + 1));
    memset(pe.largest, 0, sizeof(int64_t) * (size_t)(p->nvars + 1));
    find_largest(&p->main, pe.largest);
    if (pe.cp.stmt >= 0)
        make_state(&pe);
    pe.datasets = util_malloc(sizeof(RtDataset *) * (size_t)(p->ndatas + 1));
    for (int i = 0; i < p->ndatas; i++)
        pe.datasets[i] = load_data(&p->datas[i]);

    for (int i = 0; i < p->main.len; i++) {
        if (i == pe.cp.stmt)
            run_training(&pe, p->main.items[i]);
        else
            run_stmt(&pe, p->main.items[i]);
    }
    fflush(stdout);

    for (int i = 0; i < p->ndatas; i++)
        rt_dataset_free(pe.datasets[i]);
    util_free(pe.datasets);
    if (pe.cp.stmt >= 0)
        free_state(&pe);
    for (int i = 0; i < p->nslots; i++)
        util_free(pe.slots[i]);
    util_free(pe.slots);
    util_free(pe.largest);
    util_free(pe.ranges);
    util_free(pe.outs);
    util_free(pe.vars);
    prog_checkpoint_free(&pe.cp);
    return rt_exit();
}
