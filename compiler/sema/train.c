/* train.c — tracing a train block into a program (prog/prog.h, docs/training.md).
 *
 * The checker runs the train block once, as it does to check it; while it does, host work
 * (loops over epochs and batches, host scalars, log, save) becomes host statements and
 * tensor work goes into *regions*: the graph of tensor code between two host statements.
 * Whenever host code needs a region's result, or host code runs, the open region is closed
 * (appended to the host code) and a new one opened, so the program keeps its order.
 *
 * Values crossing regions live in slots: parameters, optimizer state, tensors carried
 * around loops, and any tensor used in a later region than the one computing it. A slot's
 * new value is stored at the end of the region that computes it (pending stores), after
 * every read of the old value in that region. */
#include "sema/sema_internal.h"

#include <string.h>

typedef struct PendingStore {
    int slot;
    IrNode *node;
} PendingStore;

bool sema_training(const Checker *c) { return c->prog && c->graph && !sema_lenient; }

static void open_region(Checker *c)
{
    IrGraph *g = ir_graph_new();
    g->tolerant = c->opts && c->opts->batch_rows; /* train_check_rows */
    util_vec_push(&c->prog->regions, g);
    c->graph = g;
    c->region = c->prog->regions.len - 1;
    c->region_rng_words = 0;
    util_free(c->slot_loads);
    c->nslot_loads = c->prog->nslots + 64;
    c->slot_loads = util_malloc(sizeof(IrNode *) * (size_t)c->nslot_loads);
    memset(c->slot_loads, 0, sizeof(IrNode *) * (size_t)c->nslot_loads);
}

void train_check_rows(Checker *c)
{
    for (int i = 0; i < c->prog->regions.len; i++) {
        IrGraph *g = c->prog->regions.items[i];
        if (g->invalid) {
            sema_unsupported(c, g->invalid_at, g->invalid + strlen(IR_ROWS_ERROR));
            return;
        }
    }
}

void train_begin(Checker *c)
{
    c->block = &c->prog->main;
    open_region(c);
}

void train_close_region(Checker *c)
{
    IrGraph *g = c->graph;
    for (int i = 0; i < c->stores.len; i++) {
        PendingStore *p = c->stores.items[i];
        ir_slot_store(g, p->node->span, p->slot, p->node);
    }
    c->stores.len = 0;
    if (g->len > 0) {
        ProgStmt *s = prog_stmt(c->prog, c->block, PS_REGION, (Span){0});
        s->index = c->region;
    }
    uint64_t words = c->region_rng_words;
    open_region(c);
    if (words) {
        /* the next run of this region (or the next region) draws the words after these */
        int var = c->rng_var - 1;
        ProgStmt *s = prog_stmt(c->prog, c->block, PS_SET, (Span){0});
        s->index = var;
        s->expr = prog_binary(c->prog, AST_OP_ADD, prog_var(c->prog, var),
                              prog_const(c->prog, (double)words));
    }
}

int train_random_var(Checker *c, uint64_t words)
{
    if (!c->batch_loop && c->epoch_var < 0 && !c->map_region)
        return 0; /* the region runs once: its draws have fixed counters */
    if (!c->rng_var)
        c->rng_var = prog_add_var(c->prog, "rng", true) + 1;
    c->region_rng_words += words;
    return c->rng_var;
}

static void add_pending(Checker *c, int slot, IrNode *node)
{
    for (int i = 0; i < c->stores.len; i++) {
        PendingStore *p = c->stores.items[i];
        if (p->slot == slot) {
            p->node = node; /* the latest value wins */
            return;
        }
    }
    PendingStore *p = ARENA_NEW(c->arena, PendingStore);
    *p = (PendingStore){slot, node};
    util_vec_push(&c->stores, p);
}

static IrNode *slot_load(Checker *c, int slot, Span at)
{
    if (slot >= c->nslot_loads) {
        int n = slot + 64;
        c->slot_loads = util_realloc(c->slot_loads, sizeof(IrNode *) * (size_t)n);
        memset(c->slot_loads + c->nslot_loads, 0, sizeof(IrNode *) * (size_t)(n - c->nslot_loads));
        c->nslot_loads = n;
    }
    if (!c->slot_loads[slot]) {
        const ProgSlot *ps = &c->prog->slots[slot];
        c->slot_loads[slot] = ir_slot_load(c->graph, at, slot, ps->dtype, &ps->shape);
    }
    return c->slot_loads[slot];
}

/* Gives the tensor value v a slot holding its current value (stored where it is computed). */
static int ensure_slot(Checker *c, Value *v, const char *name, Span at)
{
    if (v->has_slot)
        return v->slot;
    IrShape shape;
    if (!v->node || !sema_ir_shape(c, v, at, &shape))
        return -1;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", name ? name : "value");
    int slot = prog_add_slot(c->prog, buf, v->node->dtype, &shape);
    v->has_slot = true;
    v->slot = slot;
    if (v->region == c->region)
        add_pending(c, slot, v->node);
    else /* an earlier region: store there, at its end */
        ir_slot_store(c->prog->regions.items[v->region], at, slot, v->node);
    return slot;
}

Value *train_declare_slot(Checker *c, Value *v, const char *name)
{
    if (v->kind != V_TENSOR || !v->node)
        return v;
    v->region = c->region;
    ensure_slot(c, v, name, v->origin);
    return v;
}

/* A host statement about to change vars[var]: the open region must first run with the old
 * value if it reads it. */
static void before_set(Checker *c, int var)
{
    IrGraph *g = c->graph;
    for (int i = 0; i < g->len; i++)
        if (g->nodes[i]->op == IR_OP_SCALAR_INPUT && g->nodes[i]->attr.io.index == var) {
            train_close_region(c);
            return;
        }
}

static ProgStmt *set_var(Checker *c, int var, ProgExpr *e, Span at)
{
    before_set(c, var);
    ProgStmt *s = prog_stmt(c->prog, c->block, PS_SET, at);
    s->index = var;
    s->expr = e;
    return s;
}

static int temp_var(Checker *c, ProgExpr *e, bool is_int)
{
    char name[32];
    snprintf(name, sizeof name, "t%d", c->prog->nvars);
    int var = prog_add_var(c->prog, name, is_int);
    set_var(c, var, e, (Span){0});
    return var;
}

static ProgSetting *setting_of(const Checker *c, Dim d)
{
    if (!c->prog || d.sym <= 0)
        return NULL;
    for (int i = 0; i < c->prog->nsettings; i++) {
        ProgSetting *st = &c->prog->settings[i];
        if (st->is_int && st->var >= 0 && !strcmp(c->symbols[d.sym], st->name))
            return st;
    }
    return NULL;
}

bool train_setting_size(Checker *c, Dim d, int64_t *n)
{
    ProgSetting *st = setting_of(c, d);
    if (!st)
        return false;
    st->fixed = true;
    *n = (int64_t)st->dflt;
    return true;
}

const char *train_setting_peek(const Checker *c, Dim d, int64_t *n)
{
    const ProgSetting *st = setting_of(c, d);
    if (st)
        *n = (int64_t)st->dflt;
    return st ? st->name : NULL;
}

bool train_rows_loop(const Checker *c, const DataRef *d)
{
    return c->opts && c->opts->batch_rows && !d->drop_last && d->batch >= 2;
}

const RowsSym *train_rows_dim(const Checker *c, Dim d)
{
    for (int i = 0; d.sym > 0 && i < c->nrows_syms; i++)
        if (c->rows_syms[i].sym == d.sym)
            return &c->rows_syms[i];
    return NULL;
}

static void add_rows_sym(Checker *c, int sym, int var, int64_t k, int64_t largest)
{
    if (train_rows_dim(c, (Dim){0, sym}))
        return;
    if (c->nrows_syms == c->caprows_syms) {
        c->caprows_syms = c->caprows_syms ? 2 * c->caprows_syms : 8;
        c->rows_syms = util_realloc(c->rows_syms, sizeof *c->rows_syms * (size_t)c->caprows_syms);
    }
    c->rows_syms[c->nrows_syms++] = (RowsSym){sym, var, k, largest};
}

void train_rows_derive(Checker *c, Dim r, Dim a, char op, Dim b)
{
    const RowsSym *ra = train_rows_dim(c, a), *rb = train_rows_dim(c, b);
    if (r.sym <= 0 || (op != '*' && op != '/') || !!ra == !!rb)
        return;
    if (op == '*' && ra && dim_known(b) && b.n > 0)
        add_rows_sym(c, r.sym, ra->var, ra->k * b.n, ra->largest);
    else if (op == '*' && rb && dim_known(a) && a.n > 0)
        add_rows_sym(c, r.sym, rb->var, rb->k * a.n, rb->largest);
    else if (op == '/' && ra && dim_known(b) && b.n > 0 && ra->k % b.n == 0)
        add_rows_sym(c, r.sym, ra->var, ra->k / b.n, ra->largest);
}

void train_rows_int(Checker *c, Value *v)
{
    const RowsSym *r = c->prog ? train_rows_dim(c, v->dim) : NULL;
    if (!r)
        return;
    v->i = r->k * r->largest;
    v->hx = prog_var(c->prog, r->var);
    if (r->k != 1)
        v->hx = prog_binary(c->prog, AST_OP_MUL, v->hx, prog_const(c->prog, (double)r->k));
}

IrNode *train_rows_reciprocal(Checker *c, int rows, int64_t count, Span at)
{
    const RowsSym *r = NULL;
    for (int i = 0; i < c->nrows_syms && !r; i++)
        if (c->rows_syms[i].var == rows - 1)
            r = &c->rows_syms[i];
    ASSERT(r && count % r->largest == 0);
    ProgExpr *n = prog_binary(c->prog, AST_OP_MUL, prog_var(c->prog, r->var),
                              prog_const(c->prog, (double)(count / r->largest)));
    ProgExpr *e = prog_binary(c->prog, AST_OP_DIV, prog_const(c->prog, 1.0), n);
    return ir_scalar_input(c->graph, at, temp_var(c, e, false));
}

IrNode *train_node(Checker *c, const Value *v, Span at)
{
    if (v->kind == V_TENSOR) {
        if (v->node && v->region == c->region)
            return v->node;
        if (v->has_slot)
            return slot_load(c, v->slot, at);
        if (v->node) { /* computed in an earlier region: keep it in a slot */
            int slot = ensure_slot(c, (Value *)v, "value", at);
            return slot < 0 ? NULL : slot_load(c, slot, at);
        }
        sema_unsupported(c, at, "this tensor (it has no compiled value)");
        return NULL;
    }
    int64_t size;
    if ((v->kind == V_INT || v->kind == V_FLOAT || v->kind == V_BOOL) && !v->known) {
        if (!v->hx && v->kind == V_INT && train_setting_size(c, v->dim, &size))
            return NULL; /* a size compiled in: the caller makes a constant */
        if (!v->hx) {
            sema_unsupported(c, at, "this value known only at run time");
            return NULL;
        }
        int var = v->hx->kind == PX_VAR ? v->hx->index : temp_var(c, v->hx, v->kind == V_INT);
        return ir_scalar_input(c->graph, at, var);
    }
    return NULL; /* numbers and literals: the caller makes constants */
}

ProgExpr *train_host(Checker *c, Value *v, Span at)
{
    switch (v->kind) {
    case V_ERROR: return NULL; /* reported where it arose */
    case V_INT: {
        int64_t size;
        if (v->known)
            return prog_const(c->prog, (double)v->i);
        if (!v->hx && train_setting_size(c, v->dim, &size))
            return prog_const(c->prog, (double)size);
        break;
    }
    case V_FLOAT:
        if (v->known)
            return prog_const(c->prog, v->f);
        break;
    case V_BOOL:
        if (v->known)
            return prog_const(c->prog, v->b ? 1 : 0);
        break;
    case V_TENSOR: {
        if (v->rank != 0) {
            sema_unsupported(c, at, "reading a tensor that is not a scalar into host code");
            return NULL;
        }
        IrNode *n = sema_node(c, v, at);
        if (!n)
            return NULL;
        int out = c->prog->nouts++;
        ir_scalar_output(c->graph, at, out, n);
        train_close_region(c);
        return prog_out(c->prog, out);
    }
    default: break;
    }
    if (v->hx)
        return v->hx;
    sema_unsupported(c, at, "this value in host code");
    return NULL;
}

ProgExpr *train_count_step(Checker *c, Instance *opt, Span at)
{
    if (!opt->step_var) {
        char name[160];
        snprintf(name, sizeof name, "%s.step", opt->def->def.id.name);
        opt->step_var = prog_add_var(c->prog, name, true) + 1;
    }
    int var = opt->step_var - 1;
    ProgExpr *next = prog_binary(c->prog, AST_OP_ADD, prog_var(c->prog, var), prog_const(c->prog, 1));
    set_var(c, var, next, at);
    return prog_var(c->prog, var);
}

/* A value of v's type held in host variable `var`. */
static Value *var_value(Checker *c, const char *name, const Value *v, int var)
{
    Value *r = val_copy(c, v);
    r->known = false;
    r->hx = prog_var(c->prog, var);
    if (v->kind == V_INT)
        r->dim = (Dim){0, sema_symbol(c, name)};
    return r;
}

/* A host variable for a scalar binding: made on its first run-time assignment. */
static Value *host_var(Checker *c, const char *name, Value *v, ProgExpr *value, Span at)
{
    int var = prog_add_var(c->prog, name, v->kind == V_INT);
    set_var(c, var, value, at);
    return var_value(c, name, v, var);
}

/* Is b's value the host variable b owns? */
static bool owns_var(const Binding *b)
{
    return b->var && b->value->hx && b->value->hx->kind == PX_VAR && b->value->hx->index == b->var - 1;
}

/* A number assigned where an f32 tensor lives in a slot: the tensor, of the slot's shape,
 * with the number in every element. */
static Value *number_as_slot_tensor(Checker *c, const Value *old, Value *v, Span at)
{
    IrNode *n = sema_node(c, v, at);
    IrShape shape;
    if (!n || !sema_ir_shape(c, old, at, &shape))
        return val_error(c);
    if (!ir_shape_eq(&n->shape, &shape)) {
        IrNode proto = {.shape = shape};
        n = sema_trace_op(c, at, IR_OP_BROADCAST, &n, 1, &proto);
    }
    return sema_with_node(c, (Value *)old, n);
}

Value *train_assign(Checker *c, Binding *old, const char *name, Value *v, Span at)
{
    if (c->binding_loop_target && !old)
        return v; /* a loop's own variable: already a host variable or a slot */
    if (val_is_numeric(v) && old && old->value->kind == V_TENSOR && old->value->has_slot &&
        old->value->dtype == DT_F32) {
        /* The slot holds the tensor on every path (a loop that runs no iteration, a branch
         * not taken): it stays the variable's storage, rather than a host variable that
         * only this assignment would set. */
        v = number_as_slot_tensor(c, old->value, v, at);
        if (v->kind == V_ERROR)
            return v;
    }
    if (v->kind == V_INT || v->kind == V_FLOAT || v->kind == V_BOOL ||
        (v->kind == V_TENSOR && old && old->value->kind != V_TENSOR)) {
        /* a host scalar (a tensor scalar assigned to a host variable is read back) */
        Value *shape_of = old && old->value->kind != V_TENSOR ? old->value : v;
        ProgExpr *e = train_host(c, v, at);
        if (!e)
            return val_error(c);
        if (old && old->var && old->value->kind != V_TENSOR &&
            c->prog->vars[old->var - 1].is_int == (old->value->kind == V_INT)) {
            /* A binding's variable is its storage on every path, even where its value was
             * last rebound to another expression (a loop's target): a second variable,
             * set only here, would be unset where this assignment does not run. */
            set_var(c, old->var - 1, e, at);
            return owns_var(old) ? old->value : var_value(c, name, old->value, old->var - 1);
        }
        if (shape_of->kind == V_TENSOR)
            shape_of = val_float(c, 0, false);
        Value *r = host_var(c, name, shape_of, e, at);
        if (old)
            old->var = r->hx->index + 1;
        return r;
    }
    if (v->kind == V_TENSOR && old && old->value->kind == V_TENSOR && old->value->has_slot) {
        /* a tensor kept in a slot (carried around a loop): the new value goes there */
        IrNode *n = sema_node(c, v, at);
        if (!n)
            return val_error(c);
        Value *r = val_copy(c, v);
        r->node = n;
        r->region = c->region;
        r->has_slot = true;
        r->slot = old->value->slot;
        add_pending(c, r->slot, n);
        return r;
    }
    return v;
}

void train_widen(Checker *c, Binding *b)
{
    Value *v = b->value;
    if ((v->kind == V_INT || v->kind == V_FLOAT || v->kind == V_BOOL) && !owns_var(b)) {
        ProgExpr *e = train_host(c, v, b->span);
        if (e) {
            b->value = host_var(c, b->name, v, e, b->span);
            b->var = b->value->hx->index + 1;
        }
    } else if (v->kind == V_TENSOR && !v->has_slot) {
        ensure_slot(c, v, b->name, b->span);
    }
}

void train_log(Checker *c, const AstIdent *names, Value **values, int n, Span at)
{
    ProgExpr **exprs = ARENA_NEW_N(&c->prog->arena, ProgExpr *, n ? n : 1);
    const char **labels = ARENA_NEW_N(&c->prog->arena, const char *, n ? n : 1);
    for (int i = 0; i < n; i++) {
        exprs[i] = train_host(c, values[i], names[i].span);
        if (!exprs[i])
            return;
        labels[i] = names[i].name;
    }
    train_close_region(c);
    ProgStmt *s = prog_stmt(c->prog, c->block, PS_LOG, at);
    s->n = n;
    s->names = labels;
    s->values = exprs;
}

void train_print(Checker *c, Value *v, Span at)
{
    ProgExpr *e = train_host(c, v, at);
    if (!e)
        return;
    train_close_region(c);
    ProgStmt *s = prog_stmt(c->prog, c->block, PS_PRINT, at);
    s->expr = e;
}

/* Every parameter slot of an instance and its sub-layers, named by path. */
static void collect_slots(Checker *c, Instance *inst, int *slots, const char **names, int *n,
                          int max, const char *prefix)
{
    for (int i = 0; i < inst->scope->len && *n < max; i++) {
        Binding *b = &inst->scope->items[i];
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", b->name);
        if (b->kind == BIND_PARAM || b->kind == BIND_STATE) {
            if (b->value->kind == V_TENSOR && b->value->has_slot) {
                slots[*n] = b->value->slot;
                names[(*n)++] = arena_strndup(&c->prog->arena, path, strlen(path));
            }
        } else if (b->value->kind == V_INSTANCE && b->value->inst != inst) {
            collect_slots(c, b->value->inst, slots, names, n, max, path);
        } else if (b->value->kind == V_LIST) {
            for (int k = 0; k < b->value->len; k++)
                if (b->value->items[k]->kind == V_INSTANCE) {
                    char item[300];
                    snprintf(item, sizeof item, "%s.%d", path, k);
                    collect_slots(c, b->value->items[k]->inst, slots, names, n, max, item);
                }
        }
    }
}

void train_save(Checker *c, Instance *net, Value *path, bool load, Span at)
{
    if (path->kind != V_STRING || (!path->known && !path->setting)) {
        sema_unsupported(c, at, "file names computed at run time (a string setting is supported)");
        return;
    }
    train_close_region(c);
    int max = c->prog->nslots + 1, n = 0;
    int *slots = ARENA_NEW_N(&c->prog->arena, int, max);
    const char **names = ARENA_NEW_N(&c->prog->arena, const char *, max);
    collect_slots(c, net, slots, names, &n, max, "");
    ProgStmt *s = prog_stmt(c->prog, c->block, load ? PS_LOAD : PS_SAVE, at);
    s->names = names; /* relative to net, so a file fits any instance of the model */
    s->path = arena_strndup(&c->prog->arena, path->s, strlen(path->s));
    s->path_setting = path->known ? NULL : path->setting;
    s->slot_list = slots;
    s->nslot_list = n;
}

/* Makes every slot name distinct: a name used by an earlier slot gets ".2", ".3", ... */
static void unique_slot_names(Prog *p)
{
    for (int i = 0; i < p->nslots; i++) {
        const char *base = p->slots[i].name;
        for (int k = 2;; k++) {
            int j = 0;
            while (j < i && strcmp(p->slots[j].name, p->slots[i].name) != 0)
                j++;
            if (j == i)
                break;
            char name[300];
            snprintf(name, sizeof name, "%s.%d", base, k);
            p->slots[i].name = arena_strndup(&p->arena, name, strlen(name));
        }
    }
}

void train_name_slots(Checker *c, Scope *s)
{
    Prog *p = c->prog;
    int max = p->nslots + 1;
    int *slots = util_malloc(sizeof(int) * (size_t)max);
    const char **names = util_malloc(sizeof(const char *) * (size_t)max);
    for (int i = 0; i < s->len; i++) { /* models and layers first: optimizers name by them */
        const Binding *b = &s->items[i];
        if (b->value->kind != V_INSTANCE ||
            b->value->inst->def->def.def_kind == AST_DEF_OPTIMIZER)
            continue;
        int n = 0;
        collect_slots(c, b->value->inst, slots, names, &n, max, b->name);
        for (int k = 0; k < n; k++)
            p->slots[slots[k]].name = names[k];
    }
    for (int i = 0; i < s->len; i++) {
        const Binding *b = &s->items[i];
        if (b->value->kind != V_INSTANCE)
            continue;
        const Instance *opt = b->value->inst;
        for (int k = 0; k < opt->nstates; k++) {
            const Binding *param = scope_find_local(opt->state_params[k]->scope,
                                                    opt->state_params[k]->name);
            const char *of = param && param->value->kind == V_TENSOR && param->value->has_slot
                                 ? p->slots[param->value->slot].name
                                 : opt->state_params[k]->name;
            const Scope *state = opt->state_scopes[k];
            for (int j = 0; j < state->len; j++) {
                const Value *v = state->items[j].value;
                if (state->items[j].kind != BIND_STATE || v->kind != V_TENSOR || !v->has_slot)
                    continue;
                char name[600];
                snprintf(name, sizeof name, "%s.%s[%s]", b->name, state->items[j].name, of);
                p->slots[v->slot].name = arena_strndup(&p->arena, name, strlen(name));
            }
        }
    }
    util_free(slots);
    util_free((void *)names);
    unique_slot_names(p);
}

void train_path_enter(Checker *c)
{
    c->last_path++;
    if (c->npaths < SEMA_MAX_PATHS)
        c->paths[c->npaths] = c->last_path;
    c->npaths++; /* deeper than SEMA_MAX_PATHS: the innermost stored one stands for it */
}

void train_path_leave(Checker *c)
{
    ASSERT(c->npaths > 0);
    c->npaths--;
}

int train_path(const Checker *c)
{
    int n = c->npaths < SEMA_MAX_PATHS ? c->npaths : SEMA_MAX_PATHS;
    return n ? c->paths[n - 1] : 0;
}

bool train_path_active(const Checker *c, int path)
{
    int n = c->npaths < SEMA_MAX_PATHS ? c->npaths : SEMA_MAX_PATHS;
    for (int i = 0; i < n; i++)
        if (c->paths[i] == path)
            return true;
    return path == 0;
}

const char **train_path_names(Checker *c, Scope *s, int path, int *n)
{
    *n = 0;
    for (Scope *in = s; in; in = in->parent)
        *n += in->len;
    const char **names = ARENA_NEW_N(c->arena, const char *, *n ? *n : 1);
    *n = 0;
    for (Scope *in = s; in; in = in->parent)
        for (int i = 0; i < in->len; i++)
            if (in->items[i].path == path)
                names[(*n)++] = in->items[i].name;
    return names;
}

void train_path_join(Checker *c, Scope *s, const char **then_names, int n, int else_path)
{
    for (int i = 0; i < n && else_path; i++) {
        Binding *b = scope_lookup(s, then_names[i]);
        if (b && b->path == else_path)
            b->path = train_path(c);
    }
}

/* Before a host loop, what its body assigns gets a host variable or a slot. */
static void widen_one(Checker *c, Binding *b)
{
    if (b->kind == BIND_VAR || b->kind == BIND_STATE ||
        (b->kind == BIND_HYPER && val_is_numeric(b->value)))
        train_widen(c, b);
}

static bool same_string(const char *a, const char *b) { return !strcmp(a ? a : "", b ? b : ""); }

/* Do two data sources load or make the same samples? (A text source's vocab is not part
 * of it: vocab(data) sets it on the one source.) */
static bool same_source(const ProgData *a, const ProgData *b)
{
    return a->kind == b->kind && a->test == b->test && same_string(a->path, b->path) &&
           same_string(a->path2, b->path2) && a->features == b->features && a->seq == b->seq &&
           a->label == b->label && a->parent == b->parent && a->part == b->part &&
           a->fraction == b->fraction && a->seed == b->seed && a->x_dtype == b->x_dtype &&
           a->y_dtype == b->y_dtype && ir_shape_eq(&a->x_shape, &b->x_shape) &&
           ir_shape_eq(&a->y_shape, &b->y_shape);
}

/* A statement that makes a dataset at program start: after the statements that made
 * datasets before it (they may feed it), before the rest of the program (what follows
 * them, but for prologues: train_prologue_end puts those first, and they read no data). */
static ProgStmt *data_stmt(Checker *c, ProgStmtKind kind, Span at)
{
    ProgBlock *b = &c->prog->main;
    ProgStmt *st = prog_stmt(c->prog, b, kind, at);
    int pos = 0;
    for (int i = 0; i < b->len - 1; i++)
        if (b->items[i]->kind == PS_MAP_DATA || b->items[i]->kind == PS_SPLIT_DATA)
            pos = i + 1;
    memmove(b->items + pos + 1, b->items + pos, sizeof(ProgStmt *) * (size_t)(b->len - 1 - pos));
    b->items[pos] = st;
    return st;
}

static int register_data(Checker *c, const DataRef *d, Span at)
{
    for (int i = 0; i < c->prog->ndatas; i++)
        if (same_source(&c->prog->datas[i], &d->source))
            return i;
    int n = prog_add_data(c->prog, &d->source);
    if (d->source.kind == PD_SPLIT) {
        ProgStmt *st = data_stmt(c, PS_SPLIT_DATA, at);
        st->index = d->source.parent;
        st->n = n;
    }
    return n;
}

/* A tensor value kept in `slot`; its first dimension is `rows` (a symbol) when the shape
 * has rows. */
static Value *slot_value(Checker *c, IrDType dtype, const IrShape *shape, int slot, Dim rows)
{
    Value *v = val_tensor(c, dtype == IR_I32 ? DT_I32 : DT_F32, shape->rank, NULL);
    for (int i = 0; i < shape->rank; i++)
        v->dims[i] = i == 0 && shape->rows ? rows : dim_const(shape->dims[i]);
    v->has_slot = true;
    v->slot = slot;
    return v;
}

int train_data(Checker *c, const DataRef *d, AstNode *at)
{
    int data = register_data(c, d, at->span);
    for (int m = 0; m < d->nmaps; m++) {
        char key[64];
        snprintf(key, sizeof key, "map %d %p", data, (const void *)d->maps[m]);
        for (int i = 0; i < c->prog->ndatas; i++)
            if (c->prog->datas[i].kind == PD_MAPPED && c->prog->datas[i].path &&
                !strcmp(c->prog->datas[i].path, key)) {
                data = i;
                goto next;
            }
        {
            const ProgData src = c->prog->datas[data];
            int x_in = prog_add_slot(c->prog, "sample.x", src.x_dtype, &src.x_shape);
            int y_in = prog_add_slot(c->prog, "sample.y", src.y_dtype, &src.y_shape);
            void *prologue = train_prologue_begin(c);
            int region = c->region;
            bool outer_map = c->map_region;
            c->map_region = true;
            Value *pos[2] = {slot_value(c, src.x_dtype, &src.x_shape, x_in, DIM_ANY),
                             slot_value(c, src.y_dtype, &src.y_shape, y_in, DIM_ANY)};
            Value *r = sema_call_fn(c, d->maps[m], NULL, at, pos, 2, NULL, NULL, 0);
            c->map_region = outer_map;
            uint64_t rng_words = c->region_rng_words;
            IrNode *xo = r->kind == V_TUPLE && r->len == 2 ? sema_node(c, r->items[0], at->span) : NULL;
            IrNode *yo = xo ? sema_node(c, r->items[1], at->span) : NULL;
            if (!yo) {
                train_prologue_discard(c, prologue);
                return -1;
            }
            ProgData out = {.kind = PD_MAPPED, .x_shape = xo->shape, .y_shape = yo->shape,
                            .x_dtype = xo->dtype, .y_dtype = yo->dtype};
            out.path = arena_strndup(&c->prog->arena, key, strlen(key));
            int x_out = prog_add_slot(c->prog, "sample.x.out", xo->dtype, &xo->shape);
            int y_out = prog_add_slot(c->prog, "sample.y.out", yo->dtype, &yo->shape);
            ir_slot_store(c->graph, at->span, x_out, xo);
            ir_slot_store(c->graph, at->span, y_out, yo);
            train_prologue_discard(c, prologue); /* the region runs per sample, not once */
            int n = prog_add_data(c->prog, &out);
            ProgStmt *map = data_stmt(c, PS_MAP_DATA, at->span);
            map->index = data;
            map->n = n;
            map->region = region;
            map->x_slot = x_in;
            map->y_slot = y_in;
            map->x_out = x_out;
            map->y_out = y_out;
            if (rng_words) {
                map->rng_var = c->rng_var - 1;
                map->rng_words = rng_words;
            }
            data = n;
        }
    next:;
    }
    return data;
}

Flow train_for(Checker *c, Scope *s, AstNode *st, Value *src)
{
    sema_for_assigned(c, s, st->loop.body, widen_one);
    ProgStmt *loop;
    Value *item;
    if (src->kind == V_RANGE) {
        ProgExpr *lo = train_host(c, src->lo, st->loop.iter->span);
        ProgExpr *hi = lo ? train_host(c, src->hi, st->loop.iter->span) : NULL;
        if (!hi)
            return FLOW_NORMAL;
        train_close_region(c);
        AstNode *t = st->loop.targets.items[0];
        int var = prog_add_var(c->prog, t->kind == AST_NAME ? t->name : "i", true);
        loop = prog_stmt(c->prog, c->block, PS_FOR_RANGE, st->span);
        loop->index = var;
        loop->lo = lo;
        loop->hi = hi;
        item = val_int_unknown(c, (Dim){0, sema_symbol(c, t->kind == AST_NAME ? t->name : "i")});
        item->hx = prog_var(c->prog, var);
    } else if (src->kind == V_BATCHES && src->data) {
        const DataRef *d = src->data;
        if (src->x->rank < 0 || src->y->rank < 0 || d->batch <= 0) {
            sema_unsupported(c, st->loop.iter->span, "batches of samples whose shape is known only "
                                                     "at run time");
            return FLOW_NORMAL;
        }
        int dataset = train_data(c, d, st);
        if (dataset < 0)
            return FLOW_NORMAL;
        train_close_region(c);
        const ProgData *pd = &c->prog->datas[dataset];
        IrShape xs = {.rank = pd->x_shape.rank + 1}, ys = {.rank = pd->y_shape.rank + 1};
        xs.dims[0] = ys.dims[0] = d->batch;
        /* Unless the program drops it, the last batch may be smaller: the batch's first
         * axis is a symbol of its own, the rows (IrShape.rows), held in a variable. */
        int rows_var = -1;
        Dim rows = DIM_ANY;
        if (train_rows_loop(c, d)) {
            char name[32];
            snprintf(name, sizeof name, "rows%d", c->prog->nvars);
            rows_var = prog_add_var(c->prog, name, true);
            snprintf(name, sizeof name, "rows#%d", rows_var);
            rows = (Dim){0, sema_symbol(c, name)};
            add_rows_sym(c, rows.sym, rows_var, 1, d->batch);
            xs.rows = ys.rows = rows_var + 1;
        }
        for (int i = 0; i < pd->x_shape.rank; i++)
            xs.dims[i + 1] = pd->x_shape.dims[i];
        for (int i = 0; i < pd->y_shape.rank; i++)
            ys.dims[i + 1] = pd->y_shape.dims[i];
        int x_slot = prog_add_slot(c->prog, "batch.x", pd->x_dtype, &xs);
        int y_slot = prog_add_slot(c->prog, "batch.y", pd->y_dtype, &ys);
        loop = prog_stmt(c->prog, c->block, PS_FOR_BATCHES, st->span);
        loop->index = dataset;
        loop->batch = d->batch;
        loop->shuffle = d->shuffle;
        loop->expr = d->seed;
        loop->x_slot = x_slot;
        loop->y_slot = y_slot;
        loop->epoch_var = c->epoch_var;
        loop->rows_var = rows_var;
        loop->size = rows_var >= 0 ? d->size : NULL;
        Value *pair[2] = {slot_value(c, pd->x_dtype, &xs, x_slot, rows),
                          slot_value(c, pd->y_dtype, &ys, y_slot, rows)};
        item = val_tuple(c, 2, pair);
    } else {
        sema_unsupported(c, st->loop.iter->span, "run-time loops over this kind of value");
        return FLOW_NORMAL;
    }
    ProgBlock *outer = c->block;
    int outer_epoch = c->epoch_var;
    ProgStmt *outer_batches = c->batch_loop;
    if (loop->kind == PS_FOR_BATCHES)
        c->batch_loop = loop;
    c->block = &loop->body;
    if (loop->kind == PS_FOR_RANGE)
        c->epoch_var = loop->index;
    c->binding_loop_target = true;
    sema_assign_targets(c, s, &st->loop.targets, item, st->loop.targets.items[0]->span);
    c->binding_loop_target = false;
    c->loop_depth++;
    Exec x = {0};
    train_path_enter(c);
    sema_exec_block(c, s, st->loop.body, &x);
    train_path_leave(c);
    c->loop_depth--;
    train_close_region(c);
    c->block = outer;
    c->epoch_var = outer_epoch;
    c->batch_loop = outer_batches;
    return FLOW_NORMAL;
}

Flow train_while(Checker *c, Scope *s, AstNode *st)
{
    sema_for_assigned(c, s, st->cond.then, widen_one);
    train_close_region(c);
    int outs = c->prog->nouts;
    Value *cond = sema_eval(c, s, st->cond.cond);
    if (cond->kind == V_ERROR)
        return FLOW_NORMAL;
    if (cond->kind == V_TENSOR && cond->rank == 0) {
        sema_unsupported(c, st->cond.cond->span, "while conditions computed from tensors");
        return FLOW_NORMAL;
    }
    if (cond->kind != V_BOOL) {
        char buf[200];
        sema_error(c, st->cond.cond->span, "a condition must be a bool, found %s",
                   val_type_str(c, cond, buf, sizeof buf));
        return FLOW_NORMAL;
    }
    ProgExpr *test = train_host(c, cond, st->cond.cond->span);
    if (!test)
        return FLOW_NORMAL;
    if (c->prog->nouts != outs) {
        /* read back from a region run once, before the loop: it would never change */
        sema_unsupported(c, st->cond.cond->span, "while conditions computed from tensors");
        return FLOW_NORMAL;
    }
    /* its passes are numbered (0, 1, ...) for the shuffles of the loops over batches inside,
     * as a range loop's variable numbers epochs: each pass gets a new order */
    int pass = prog_add_var(c->prog, "pass", true);
    set_var(c, pass, prog_const(c->prog, -1), st->span);
    ProgStmt *loop = prog_stmt(c->prog, c->block, PS_WHILE, st->span);
    loop->cond = test;
    ProgBlock *outer = c->block;
    int outer_epoch = c->epoch_var;
    c->block = &loop->body;
    set_var(c, pass, prog_binary(c->prog, AST_OP_ADD, prog_var(c->prog, pass), prog_const(c->prog, 1)),
            st->span);
    c->epoch_var = pass;
    c->loop_depth++;
    Exec x = {0};
    train_path_enter(c);
    sema_exec_block(c, s, st->cond.then, &x);
    train_path_leave(c);
    c->loop_depth--;
    train_close_region(c);
    c->block = outer;
    c->epoch_var = outer_epoch;
    return FLOW_NORMAL;
}

/* A run-time if: only the branch taken runs. When both branches end in a host scalar, the
 * if has a value: each branch sets a host variable of its own to its value. */
Value *train_if(Checker *c, Scope *s, AstNode *e, Value *cond)
{
    ProgExpr *test = train_host(c, cond, e->cond.cond->span);
    if (!test)
        return val_error(c);
    sema_for_assigned(c, s, e->cond.then, widen_one);
    if (e->cond.els)
        sema_for_assigned(c, s, e->cond.els, widen_one);
    train_close_region(c);
    ProgStmt *st = prog_stmt(c->prog, c->block, PS_IF, e->span);
    st->cond = test;
    ProgBlock *outer = c->block;
    AstNode *branches[2] = {e->cond.then, e->cond.els};
    ProgBlock *blocks[2] = {&st->body, &st->orelse};
    Value *values[2] = {NULL, NULL};
    int var = -1, paths[2] = {0, 0}, nthen = 0;
    const char **then_names = NULL;
    for (int k = 0; k < 2 && branches[k]; k++) {
        c->block = blocks[k];
        Exec x = {0};
        train_path_enter(c);
        paths[k] = train_path(c);
        Value *v = branches[k]->kind == AST_BLOCK ? sema_exec_block(c, s, branches[k], &x)
                                                  : sema_eval(c, s, branches[k]); /* else if */
        train_path_leave(c);
        if (k == 0)
            then_names = train_path_names(c, s, paths[0], &nthen);
        if (val_is_numeric(v) || v->kind == V_BOOL) {
            ProgExpr *h = train_host(c, v, branches[k]->span);
            if (h) {
                if (var < 0)
                    var = prog_add_var(c->prog, "if", false);
                set_var(c, var, h, branches[k]->span);
                values[k] = v;
            }
        }
        train_close_region(c);
    }
    c->block = outer;
    train_path_join(c, s, then_names, nthen, paths[1]);
    if (!values[0] || !values[1])
        return val_void(c);
    Value *r = val_copy(c, val_join(c, values[0], values[1]));
    r->known = false;
    r->hx = prog_var(c->prog, var);
    c->prog->vars[var].is_int = r->kind == V_INT;
    return r;
}

void train_progress_loss(Checker *c, Value *loss, Span at)
{
    if (!c->batch_loop || c->batch_loop->loss_out >= 0)
        return;
    IrNode *n = sema_node(c, loss, at);
    if (!n || n->shape.rank != 0)
        return;
    int out = c->prog->nouts++;
    ir_scalar_output(c->graph, at, out, n);
    c->batch_loop->loss_out = out;
}

/* Code that runs once, at program start, before the train block's own code (optimizer
 * state initial values): traced into a region of its own, put first in the program. */
typedef struct Prologue {
    IrGraph *graph;
    int region;
    PtrVec stores;
    IrNode **slot_loads;
    int nslot_loads;
    uint64_t rng_words; /* the interrupted region's draws per run (open_region resets them) */
} Prologue;

void *train_prologue_begin(Checker *c)
{
    Prologue *saved = ARENA_NEW(c->arena, Prologue);
    *saved = (Prologue){c->graph, c->region, c->stores, c->slot_loads, c->nslot_loads,
                         c->region_rng_words};
    c->stores = (PtrVec){0};
    c->slot_loads = NULL;
    c->nslot_loads = 0;
    open_region(c);
    return saved;
}

void train_prologue_end(Checker *c, void *state)
{
    Prologue *saved = state;
    for (int i = 0; i < c->stores.len; i++) {
        PendingStore *p = c->stores.items[i];
        ir_slot_store(c->graph, p->node->span, p->slot, p->node);
    }
    util_vec_free(&c->stores);
    util_free(c->slot_loads);
    if (c->graph->len > 0) {
        /* first in the program: insert at the front of main */
        ProgBlock tmp = {0};
        ProgStmt *s = prog_stmt(c->prog, &tmp, PS_REGION, (Span){0});
        s->index = c->region;
        prog_stmt(c->prog, &c->prog->main, PS_BREAK, (Span){0}); /* grow by one */
        ProgBlock *m = &c->prog->main;
        memmove(m->items + 1, m->items, sizeof(ProgStmt *) * (size_t)(m->len - 1));
        m->items[0] = s;
    }
    c->graph = saved->graph;
    c->region = saved->region;
    c->stores = saved->stores;
    c->slot_loads = saved->slot_loads;
    c->nslot_loads = saved->nslot_loads;
    c->region_rng_words = saved->rng_words;
}

void train_prologue_discard(Checker *c, void *state)
{
    Prologue *saved = state;
    util_vec_free(&c->stores);
    util_free(c->slot_loads);
    c->graph = saved->graph;
    c->region = saved->region;
    c->stores = saved->stores;
    c->slot_loads = saved->slot_loads;
    c->nslot_loads = saved->nslot_loads;
    c->region_rng_words = saved->rng_words;
}

Value *train_state_value(Checker *c, Value *v, const char *name)
{
    return train_declare_slot(c, v, name);
}
