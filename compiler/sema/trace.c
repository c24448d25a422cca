/* trace.c — lowering by tracing: while the checker interprets the program's statements it
 * also builds their graph. A tensor value carries the IR node that computes it; every
 * operation on tensors adds its node; function and layer calls are inlined because the
 * checker runs their bodies with the call's values; loops with compile-time bounds are
 * unrolled the same way. Definitions checked on their own (generically) are not traced. */
#include "sema/sema_internal.h"

#include <string.h>

bool sema_tracing(const Checker *c) { return c->graph && !sema_lenient; }

void sema_unsupported(Checker *c, Span at, const char *what)
{
    sema_error(c, at, "code generation does not support %s yet", what);
}

bool sema_ir_shape(Checker *c, const Value *v, Span at, IrShape *out)
{
    if (v->kind != V_TENSOR || v->rank < 0) {
        sema_unsupported(c, at, "tensors of unknown rank");
        return false;
    }
    *out = (IrShape){.rank = v->rank};
    for (int i = 0; i < v->rank; i++) {
        if (!dim_known(v->dims[i]) && train_setting_size(c, v->dims[i], &out->dims[i]))
            continue;
        const RowsSym *r = train_rows_dim(c, v->dims[i]);
        if (r && out->rows) {
            sema_unsupported(c, at, "a batch's rows on two axes");
            return false;
        }
        if (r) {
            out->dims[i] = r->k * r->largest;
            out->rows = r->var + 1;
            out->rows_axis = i;
            continue;
        }
        if (!dim_known(v->dims[i])) {
            char buf[64];
            sema_error(c, at, "code generation does not support the symbolic size '%s' yet "
                              "(only sizes known at compile time)",
                       dim_str(c, v->dims[i], buf, sizeof buf));
            return false;
        }
        out->dims[i] = v->dims[i].n;
    }
    return true;
}

/* Row-major numbers of a numeric nest; false if one is not known at compile time (an int
 * setting's size is: train_setting_size). */
static bool flatten(Checker *c, const Value *v, double *out, int64_t *n)
{
    int64_t size;
    if (v->kind == V_INT && !v->known && !v->hx && train_setting_size(c, v->dim, &size)) {
        out[(*n)++] = (double)size;
        return true;
    }
    if (v->kind == V_INT || v->kind == V_FLOAT) {
        if (!v->known)
            return false;
        out[(*n)++] = v->kind == V_INT ? (double)v->i : v->f;
        return true;
    }
    for (int i = 0; i < v->len; i++)
        if (!flatten(c, v->items[i], out, n))
            return false;
    return true;
}

IrNode *sema_node(Checker *c, const Value *v, Span at)
{
    if (c->session && v->kind == V_TENSOR && v->has_slot && !(v->node && v->region == c->region))
        return session_node(c, v, at);
    if (c->prog) {
        IrNode *n = train_node(c, v, at);
        if (n || v->kind == V_TENSOR || v->kind == V_ERROR || v->hx)
            return n;
    }
    /* A literal keeps the node made for it, so every use of a variable bound to one (and
     * grad with respect to it) refers to the same constant. */
    if (v->node && (!c->prog || v->region == c->region))
        return v->node;
    if (v->kind == V_INT || v->kind == V_FLOAT || v->kind == V_LIST) {
        Value *t = sema_as_tensor(c, (Value *)v);
        IrShape shape;
        if (!t || !sema_ir_shape(c, t, at, &shape))
            return NULL;
        int64_t count = ir_shape_numel(&shape), n = 0;
        double *values = util_malloc(sizeof(double) * (size_t)(count ? count : 1));
        IrNode *k = NULL;
        if (flatten(c, v, values, &n) && n == count) {
            k = ir_const(c->graph, at, &shape, values);
            ((Value *)v)->node = k;
            ((Value *)v)->region = c->region;
        }
        else
            sema_unsupported(c, at, "numbers only known at run time in tensors");
        util_free(values);
        return k;
    }
    if (v->kind == V_TENSOR)
        sema_unsupported(c, at, "this tensor (it has no compiled value)");
    /* an error value's own error was reported where it arose */
    return NULL;
}

Value *sema_with_node(Checker *c, Value *v, IrNode *node)
{
    if (!node || v->kind == V_ERROR)
        return val_error(c);
    Value *r = val_copy(c, v);
    r->node = node;
    r->region = c->region;
    r->has_slot = false; /* a new value: a slot is inherited only by assignment */
    return r;
}

/* Adds a node after checking it with the op's own shape and type rules, so a mismatch
 * between what the checker accepts and what the IR supports is a reported limitation, never
 * an internal error. `proto` supplies attributes and, for ops whose shape is an attribute,
 * the shape; NULL for none. */
IrNode *sema_trace_op(Checker *c, Span at, IrOp op, IrNode *const *in, int nin,
                      const IrNode *proto)
{
    for (int i = 0; i < nin; i++)
        if (!in[i])
            return NULL;
    IrNode *n = ir_node_alloc(c->graph, op, in, nin, at);
    if (proto) {
        n->attr = proto->attr;
        n->shape = proto->shape;
        n->dtype = proto->dtype;
    }
    char err[256];
    if (!ir_infer_shape(op, n->in, nin, n, &n->shape, err, sizeof err) ||
        !ir_infer_dtype(op, n->in, nin, n, &n->dtype, err, sizeof err)) {
        char what[400];
        snprintf(what, sizeof what, "this %s (%s)", ir_op_name(op), err);
        sema_unsupported(c, at, what);
        return NULL;
    }
    ir_graph_append(c->graph, n);
    return n;
}

/* x @ w for the ranks the IR's MATMUL (2-D) can do: 2-D x 2-D, and [..., k] @ [k, n] by
 * folding the leading axes of x into rows. */
IrNode *sema_trace_matmul(Checker *c, Span at, IrNode *a, IrNode *b)
{
    if (!a || !b)
        return NULL;
    if (a->shape.rank == b->shape.rank) /* matrices, or stacks of them */
        return sema_trace_op(c, at, IR_OP_MATMUL, (IrNode *[]){a, b}, 2, NULL);
    if (a->shape.rank > 2 && b->shape.rank == 2) {
        IrShape rows = {.rank = 2, .dims = {1, a->shape.dims[a->shape.rank - 1]},
                        .rows = a->shape.rows,
                        .rows_axis = a->shape.rows_axis == a->shape.rank - 1};
        for (int i = 0; i < a->shape.rank - 1; i++)
            rows.dims[0] *= a->shape.dims[i];
        IrNode *flat = ir_reshape(c->graph, at, a, &rows);
        IrNode *m = sema_trace_op(c, at, IR_OP_MATMUL, (IrNode *[]){flat, b}, 2, NULL);
        if (!m)
            return NULL;
        IrShape out = a->shape;
        out.dims[out.rank - 1] = b->shape.dims[1];
        return ir_reshape(c->graph, at, m, &out);
    }
    sema_unsupported(c, at, "batched matrix products of these ranks");
    return NULL;
}

/* Marks (node->mark = 1) every node `root` depends on, itself included. */
static void mark_ancestors(IrGraph *g, IrNode *root)
{
    for (int i = 0; i < g->len; i++)
        g->nodes[i]->mark = 0;
    root->mark = 1;
    for (int i = g->len - 1; i >= 0; i--)
        if (g->nodes[i]->mark)
            for (int j = 0; j < g->nodes[i]->nin; j++)
                g->nodes[i]->in[j]->mark = 1;
}

/* The optimizer's per-parameter state scope for `ref`, made (with the state declarations'
 * initial values, which may use p) on the first step. */
static Scope *state_scope(Checker *c, Instance *opt, ParamRef *ref, Value *p)
{
    for (int i = 0; i < opt->nstates; i++)
        if (opt->state_params[i] == ref)
            return opt->state_scopes[i];
    Scope *st = scope_new(c, opt->scope, SCOPE_FN);
    st->inst = opt->scope->inst;
    void *prologue = c->prog ? train_prologue_begin(c) : NULL;
    Scope *init_scope = scope_new(c, st, SCOPE_FN);
    scope_bind(c, init_scope, "p", p, BIND_VAR, opt->def->def.id.span);
    const AstList *body = &opt->def->def.body->list;
    for (int i = 0; i < body->len; i++) {
        AstNode *d = body->items[i];
        if (d->kind != AST_STATE_DECL)
            continue;
        Value *v = sema_eval(c, init_scope, d->decl.init);
        IrNode *n = v->kind == V_ERROR ? NULL : sema_node(c, v, d->decl.init->span);
        IrShape shape;
        if (n && sema_ir_shape(c, p, d->decl.init->span, &shape) && !ir_shape_eq(&n->shape, &shape)) {
            IrNode proto = {.shape = shape};
            n = sema_trace_op(c, d->decl.init->span, IR_OP_BROADCAST, &n, 1, &proto);
        }
        Value *sv = sema_with_node(c, p, n);
        if (c->prog && sv->kind == V_TENSOR)
            sv = train_declare_slot(c, sv, d->decl.id.name);
        scope_bind(c, st, d->decl.id.name, sv, BIND_STATE, d->decl.id.span);
    }
    if (prologue)
        train_prologue_end(c, prologue);
    if (opt->nstates == opt->capstates) { /* arena arrays: they live as long as the instance */
        int cap = opt->capstates ? opt->capstates * 2 : 8;
        ParamRef **refs = ARENA_NEW_N(c->arena, ParamRef *, cap);
        Scope **scopes = ARENA_NEW_N(c->arena, Scope *, cap);
        for (int i = 0; i < opt->nstates; i++) {
            refs[i] = opt->state_params[i];
            scopes[i] = opt->state_scopes[i];
        }
        opt->state_params = refs;
        opt->state_scopes = scopes;
        opt->capstates = cap;
    }
    opt->state_params[opt->nstates] = ref;
    opt->state_scopes[opt->nstates++] = st;
    return st;
}

void sema_trace_step(Checker *c, Instance *opt, Value *loss, Value *clip_norm, Span at)
{
    IrNode *y = sema_node(c, loss, at);
    Binding *upd = scope_find_local(opt->scope, "update");
    if (!y || !upd || upd->value->kind != V_FN)
        return;
    const AstNode *fn = upd->value->def;
    if (fn->def.params.len != 2)
        return; /* reported by the checker */
    /* The parameters the loss depends on, in declaration order, with their gradients. */
    mark_ancestors(c->graph, y);
    int n = 0;
    ParamRef **refs = ARENA_NEW_N(c->arena, ParamRef *, c->params.len + 1);
    IrNode **grads = ARENA_NEW_N(c->arena, IrNode *, c->params.len + 1);
    for (int i = 0; i < c->params.len; i++) {
        ParamRef *ref = c->params.items[i];
        Binding *b = scope_find_local(ref->scope, ref->name);
        IrNode *pn = b && b->value->kind == V_TENSOR
                         ? (c->prog || c->session
                                ? (b->value->has_slot || b->value->node ? sema_node(c, b->value, at) : NULL)
                                    : b->value->node)
                         : NULL;
        if (!pn || !pn->mark)
            continue;
        IrNode *in[2] = {y, pn};
        refs[n] = ref;
        grads[n] = sema_trace_op(c, at, IR_OP_GRAD, in, 2, NULL);
        if (!grads[n])
            return;
        n++;
    }
    if (n == 0) {
        sema_error(c, at, "the loss does not depend on any parameter, so step has nothing to "
                          "update");
        if (c->session)
            sema_note(c, at, "a value an earlier REPL entry computed is data here: compute the "
                             "loss in the entry that steps, e.g. opt.step(loss_of(net, x))");
        return;
    }
    if (clip_norm && clip_norm->kind != V_ERROR) {
        /* scale every gradient by min(1, clip / (global norm + 1e-6)) */
        IrNode *total = NULL;
        for (int i = 0; i < n; i++) {
            IrNode *sq = ir_binary(c->graph, at, IR_OP_MUL, grads[i], grads[i]);
            uint32_t all = sq->shape.rank ? (1u << sq->shape.rank) - 1 : 0;
            IrNode *s = all ? ir_reduce(c->graph, at, IR_OP_SUM, sq, all) : sq;
            total = total ? ir_binary(c->graph, at, IR_OP_ADD, total, s) : s;
        }
        IrNode *norm = ir_binary(c->graph, at, IR_OP_ADD, ir_unary(c->graph, at, IR_OP_SQRT, total),
                                 ir_scalar(c->graph, at, 1e-6));
        IrNode *limit = sema_node(c, clip_norm, at);
        IrNode *scale = limit ? ir_binary(c->graph, at, IR_OP_MIN, ir_scalar(c->graph, at, 1),
                                          ir_binary(c->graph, at, IR_OP_DIV, limit, norm))
                              : NULL;
        for (int i = 0; scale && i < n; i++)
            grads[i] = ir_binary(c->graph, at, IR_OP_MUL, grads[i], scale);
    }
    /* The update, once per parameter, with its own state. */
    opt->steps++;
    bool was_update = c->in_update;
    int64_t was_step = c->update_step;
    ProgExpr *was_step_hx = c->update_step_hx;
    c->in_update = true;
    c->update_step = opt->steps;
    /* in a train program the update is traced once and runs at every step: `step` is
     * counted at run time */
    c->update_step_hx = c->prog ? train_count_step(c, opt, at) : NULL;
    sema_push_frame(c, at, opt->def->def.id.name);
    for (int i = 0; i < n; i++) {
        Binding *b = scope_find_local(refs[i]->scope, refs[i]->name);
        Value *p = b->value;
        Scope *st = state_scope(c, opt, refs[i], p);
        Scope *s = scope_new(c, st, SCOPE_FN);
        const char *pname = fn->def.params.items[0]->decl.id.name;
        const char *gname = fn->def.params.items[1]->decl.id.name;
        scope_bind(c, s, pname, p, BIND_VAR, fn->def.params.items[0]->decl.id.span);
        scope_bind(c, s, gname, sema_with_node(c, p, grads[i]), BIND_VAR,
                   fn->def.params.items[1]->decl.id.span);
        Exec x = {0};
        sema_exec_block(c, s, fn->def.body, &x);
        Value *updated = scope_find_local(s, pname)->value;
        IrNode *u = updated->kind == V_ERROR ? NULL : sema_node(c, updated, at);
        if (!u)
            break;
        IrShape pshape;
        if (!sema_ir_shape(c, p, at, &pshape))
            break;
        if (!ir_shape_eq(&u->shape, &pshape)) {
            IrNode proto = {.shape = pshape};
            u = sema_trace_op(c, at, IR_OP_BROADCAST, &u, 1, &proto);
        }
        b = scope_find_local(refs[i]->scope, refs[i]->name); /* the scope may have grown */
        b->value = c->prog ? train_assign(c, b, b->name, sema_with_node(c, b->value, u), at)
                           : sema_with_node(c, b->value, u);
    }
    sema_pop_frame(c);
    c->in_update = was_update;
    c->update_step = was_step;
    c->update_step_hx = was_step_hx;
}
