/* check.c — the checker proper: statements, expressions, calls and instantiation.
 *
 * Definitions (fn, layer, model, optimizer) are checked twice over: once on their own,
 * with hyper-parameters as symbols and lenient shape comparison (so a generic definition
 * with a provable mistake is reported even if nothing uses it), and again at each use with
 * the actual arguments, where shapes must agree exactly. Run-time code (the train block,
 * loops over batches) is checked once per path, with the variables it changes widened to
 * "unknown" first. */
#include "sema/sema_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef enum Flow { FLOW_NORMAL, FLOW_BREAK, FLOW_CONTINUE, FLOW_RETURN } Flow;

typedef struct Exec {
    Flow flow;
    Value *ret;         /* FLOW_RETURN: the value */
    Value *last;        /* the last expression statement's value (a block's value) */
} Exec;

struct CacheEntry {
    const AstNode *fn;
    Instance *inst;
    char *key;
    Value *result;
};

static Flow exec_stmt(Checker *c, Scope *s, AstNode *st, Exec *x, bool is_last);
static Value *exec_block(Checker *c, Scope *s, AstNode *block, Exec *x);

/* ---- diagnostics -------------------------------------------------------------------- */

static uint64_t hash_error(Span at, const char *msg)
{
    uint64_t h = 1469598103934665603ull ^ at.lo;
    h = (h ^ (uintptr_t)at.file) * 1099511628211ull;
    for (const char *p = msg; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

static bool seen_before(Checker *c, uint64_t h)
{
    for (int i = 0; i < c->nreported; i++)
        if (c->reported[i] == h)
            return true;
    if (c->nreported == c->capreported) {
        c->capreported = c->capreported ? c->capreported * 2 : 64;
        c->reported = util_realloc(c->reported, sizeof(uint64_t) * (size_t)c->capreported);
    }
    c->reported[c->nreported++] = h;
    return false;
}

static bool last_error_kept;

void sema_error(Checker *c, Span at, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sema_flush_frames(c);
    last_error_kept = !c->suppress && !seen_before(c, hash_error(at, msg));
    if (!last_error_kept)
        return;
    diag_error(c->diags, at, "%s", msg);
    /* Where the failing code was instantiated from, innermost first (at most 4); printed
     * after the error's own notes. */
    for (int i = c->nframes - 1; i >= 0 && c->npending < 4; i--)
        if (i < SEMA_MAX_FRAMES)
            c->pending[c->npending++] = c->frames[i];
}

void sema_flush_frames(Checker *c)
{
    for (int i = 0; i < c->npending; i++)
        diag_note(c->diags, c->pending[i].call, "in %s, called here", c->pending[i].what);
    c->npending = 0;
}

void sema_note(Checker *c, Span at, const char *fmt, ...)
{
    if (!last_error_kept)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_note(c->diags, at, "%s", msg);
}

static void push_frame(Checker *c, Span call, const char *what)
{
    if (c->nframes < SEMA_MAX_FRAMES)
        c->frames[c->nframes] = (Frame){call, what};
    c->nframes++;
}

static void pop_frame(Checker *c)
{
    sema_flush_frames(c);
    c->nframes--;
}

static bool tensor_view(const Value *v, int *dtype, int *rank, Dim *dims);

static void set_type(Checker *c, AstNode *e, const Value *v)
{
    Type *t = ARENA_NEW(c->arena, Type);
    Value lit;
    if (v->kind == V_LIST) {
        /* A nest of numbers is a tensor literal wherever a tensor is expected. */
        lit = (Value){.kind = V_TENSOR};
        if (tensor_view(v, &lit.dtype, &lit.rank, lit.dims))
            v = &lit;
    }
    switch (v->kind) {
    case V_ERROR: t->kind = TY_ERROR; break;
    case V_VOID: t->kind = TY_VOID; break;
    case V_BOOL: t->kind = TY_BOOL; break;
    case V_INT: t->kind = TY_INT; break;
    case V_FLOAT: t->kind = TY_FLOAT; break;
    case V_STRING: t->kind = TY_STRING; break;
    case V_TENSOR:
        t->kind = TY_OTHER;
        if (v->rank >= 0 && v->dtype == DT_F32) {
            bool known = true;
            for (int i = 0; i < v->rank; i++)
                known &= dim_known(v->dims[i]);
            if (known) {
                t->kind = TY_TENSOR;
                t->shape.rank = v->rank;
                for (int i = 0; i < v->rank; i++)
                    t->shape.dims[i] = v->dims[i].n;
            }
        }
        break;
    default: t->kind = TY_OTHER; break;
    }
    e->type = t;
}

/* ---- tensor literals and lists --------------------------------------------------------- */

/* Whether a list value is a rectangular nest of numbers; gives its tensor shape. */
static bool numeric_shape(const Value *v, int depth, int *rank, Dim *dims, bool *first)
{
    if (val_is_numeric(v)) {
        if (*first) {
            *rank = depth;
            *first = false;
            return true;
        }
        return *rank == depth;
    }
    if (v->kind != V_LIST || v->len < 0 || depth >= IR_MAX_RANK)
        return false;
    if (*first && v->len == 0) {
        *rank = depth + 1;
        dims[depth] = dim_const(0);
        *first = false;
        return true;
    }
    if (*first)
        dims[depth] = dim_const(v->len);
    else if (depth >= *rank || dims[depth].n != v->len)
        return false;
    for (int i = 0; i < v->len; i++)
        if (!numeric_shape(v->items[i], depth + 1, rank, dims, first))
            return false;
    if (*first) /* a list of empty lists */
        return false;
    return true;
}

/* Numbers, numeric lists and tensors, seen as a tensor (lists become literals). */
static bool tensor_view(const Value *v, int *dtype, int *rank, Dim *dims)
{
    if (v->kind == V_LIST) {
        bool first = true;
        *dtype = DT_F32;
        return numeric_shape(v, 0, rank, dims, &first);
    }
    return val_as_tensor(v, dtype, rank, dims);
}

static Value *as_tensor_value(Checker *c, Value *v)
{
    int dtype, rank;
    Dim dims[IR_MAX_RANK];
    if (v->kind == V_TENSOR)
        return v;
    if (!tensor_view(v, &dtype, &rank, dims))
        return NULL;
    return val_tensor(c, dtype, rank, dims);
}

/* A value usable as a tensor operand, or an error reported at `at`. */
static Value *need_tensor(Checker *c, Value *v, Span at)
{
    if (v->kind == V_ERROR)
        return v;
    Value *t = as_tensor_value(c, v);
    if (t)
        return t;
    char buf[200];
    if (v->kind == V_LIST)
        sema_error(c, at, "this list is not a tensor literal (it must be a rectangular nest "
                          "of numbers)");
    else
        sema_error(c, at, "expected a tensor or a number, found %s",
                   val_type_str(c, v, buf, sizeof buf));
    return val_error(c);
}

/* Finds the first row of a nested literal that disagrees with the shape of the first path
 * through it, and reports there. */
static bool find_ragged(Checker *c, const AstNode *e, const Value *v, int depth, int rank,
                        const int64_t *dims)
{
    bool is_list = v->kind == V_LIST;
    if (depth == rank) {
        if (is_list) {
            sema_error(c, e->span, "ragged tensor literal: expected a number here, found a list");
            return true;
        }
        return false;
    }
    if (!is_list) {
        sema_error(c, e->span, "ragged tensor literal: expected a list of %lld here",
                   (long long)dims[depth]);
        return true;
    }
    if (v->len != dims[depth]) {
        sema_error(c, e->span, "ragged tensor literal: expected %lld elements, found %d",
                   (long long)dims[depth], v->len);
        return true;
    }
    for (int i = 0; i < v->len; i++)
        if (e->kind == AST_LIST && find_ragged(c, e->list.items[i], v->items[i], depth + 1, rank, dims))
            return true;
    return false;
}

static void report_ragged(Checker *c, const AstNode *e, const Value *v)
{
    int64_t dims[IR_MAX_RANK];
    int rank = 0;
    for (const Value *p = v; p->kind == V_LIST && p->len > 0 && rank < IR_MAX_RANK; p = p->items[0])
        dims[rank++] = p->len;
    if (!find_ragged(c, e, v, 0, rank, dims))
        sema_error(c, e->span, "ragged tensor literal: every row must have the same length");
}

static Value *eval_list(Checker *c, Scope *s, AstNode *e)
{
    Value *v = val_new(c, V_LIST);
    v->len = e->list.len;
    v->items = ARENA_NEW_N(c->arena, Value *, v->len ? v->len : 1);
    for (int i = 0; i < e->list.len; i++) {
        v->items[i] = sema_eval(c, s, e->list.items[i]);
        if (v->items[i]->kind == V_ERROR)
            return v->items[i];
    }
    /* A nest of numbers that is not rectangular is almost surely a mistake. */
    bool nested_numbers = e->list.len > 0;
    for (int i = 0; i < e->list.len; i++)
        nested_numbers &= val_is_numeric(v->items[i]) || v->items[i]->kind == V_LIST;
    bool has_list = false;
    for (int i = 0; i < e->list.len; i++)
        has_list |= v->items[i]->kind == V_LIST;
    int dtype, rank;
    Dim dims[IR_MAX_RANK];
    if (nested_numbers && has_list && !tensor_view(v, &dtype, &rank, dims)) {
        report_ragged(c, e, v);
        return val_error(c);
    }
    return v;
}

/* ---- operators ------------------------------------------------------------------------- */

static Value *int_arith(Checker *c, AstOp op, Value *a, Value *b, Span at)
{
    if (a->known && b->known) {
        int64_t x = a->i, y = b->i;
        switch (op) {
        case AST_OP_ADD: return val_int(c, x + y);
        case AST_OP_SUB: return val_int(c, x - y);
        case AST_OP_MUL: return val_int(c, x * y);
        case AST_OP_DIV:
        case AST_OP_MOD:
            if (y == 0) {
                sema_error(c, at, "integer division by zero");
                return val_error(c);
            }
            {
                int64_t q = x / y, r = x % y;
                if (r != 0 && ((r < 0) != (y < 0))) {
                    q--;
                    r += y;
                }
                return val_int(c, op == AST_OP_DIV ? q : r);
            }
        case AST_OP_POW: {
            int64_t r = 1;
            for (int64_t i = 0; i < y && i < 64; i++)
                r *= x;
            return y < 0 ? val_float(c, 0, false) : val_int(c, r);
        }
        default: break;
        }
    }
    switch (op) {
    case AST_OP_ADD: return val_int_unknown(c, dim_add(c, a->dim, b->dim));
    case AST_OP_SUB: return val_int_unknown(c, dim_sub(c, a->dim, b->dim));
    case AST_OP_MUL: return val_int_unknown(c, dim_mul(c, a->dim, b->dim));
    case AST_OP_DIV: return val_int_unknown(c, dim_div(c, a->dim, b->dim));
    default: return val_int_unknown(c, (Dim){0, sema_symbol(c, "int")});
    }
}

static Value *compare_scalars(Checker *c, AstOp op, Value *a, Value *b)
{
    if (!a->known || !b->known)
        return val_bool(c, false, false);
    if (a->kind == V_STRING || b->kind == V_STRING) {
        bool eq = a->kind == b->kind && strcmp(a->s, b->s) == 0;
        return val_bool(c, op == AST_OP_EQ ? eq : !eq, true);
    }
    if (a->kind == V_BOOL && b->kind == V_BOOL) {
        bool eq = a->b == b->b;
        return val_bool(c, op == AST_OP_EQ ? eq : !eq, true);
    }
    double x = a->kind == V_INT ? (double)a->i : a->f, y = b->kind == V_INT ? (double)b->i : b->f;
    bool r = false;
    switch (op) {
    case AST_OP_EQ: r = x == y; break;
    case AST_OP_NE: r = x != y; break;
    case AST_OP_LT: r = x < y; break;
    case AST_OP_LE: r = x <= y; break;
    case AST_OP_GT: r = x > y; break;
    case AST_OP_GE: r = x >= y; break;
    default: break;
    }
    return val_bool(c, r, true);
}

bool sema_broadcast(int ra, const Dim *a, int rb, const Dim *b, int *r, Dim *out)
{
    int n = ra > rb ? ra : rb;
    for (int i = 0; i < n; i++) {
        int ia = ra - n + i, ib = rb - n + i;
        Dim da = ia >= 0 ? a[ia] : dim_const(1), db = ib >= 0 ? b[ib] : dim_const(1);
        if (dim_known(da) && da.n == 1)
            out[i] = db;
        else if (dim_known(db) && db.n == 1)
            out[i] = da;
        else if (dim_eq(da, db))
            out[i] = da.sym < 0 ? db : da;
        else
            return false;
    }
    *r = n;
    return true;
}

static bool is_comparison(AstOp op)
{
    return op == AST_OP_EQ || op == AST_OP_NE || op == AST_OP_LT || op == AST_OP_LE ||
           op == AST_OP_GT || op == AST_OP_GE;
}

static void shape_mismatch(Checker *c, Span at, const char *what, AstNode *a, const Value *va,
                           AstNode *b, const Value *vb)
{
    char x[200], y[200];
    val_type_str(c, va, x, sizeof x);
    val_type_str(c, vb, y, sizeof y);
    sema_error(c, at, "%s: %s and %s", what, x, y);
    sema_note(c, a->span, "the left operand has type %s", x);
    sema_note(c, b->span, "the right operand has type %s", y);
}

static Value *tensor_binary(Checker *c, AstNode *e, AstOp op, Value *a, Value *b)
{
    Value *ta = need_tensor(c, a, e->op.lhs->span), *tb = need_tensor(c, b, e->op.rhs->span);
    if (ta->kind == V_ERROR || tb->kind == V_ERROR)
        return val_error(c);
    if (op == AST_OP_MATMUL) {
        if (ta->rank < 0 || tb->rank < 0)
            return val_tensor(c, DT_F32, -1, NULL);
        if (ta->rank < 2 || tb->rank < 2) {
            AstNode *bad = ta->rank < 2 ? e->op.lhs : e->op.rhs;
            char buf[200];
            sema_error(c, bad->span, "'@' needs matrices (rank 2 or more), this is %s",
                       val_type_str(c, ta->rank < 2 ? ta : tb, buf, sizeof buf));
            return val_error(c);
        }
        Dim k1 = ta->dims[ta->rank - 1], k2 = tb->dims[tb->rank - 2];
        if (!dim_eq(k1, k2) && !(c->suppress)) {
            char d1[64], d2[64], what[200];
            snprintf(what, sizeof what, "matrix product inner dimensions differ (%s vs %s)",
                     dim_str(c, k1, d1, sizeof d1), dim_str(c, k2, d2, sizeof d2));
            shape_mismatch(c, e->span, what, e->op.lhs, ta, e->op.rhs, tb);
            return val_error(c);
        }
        int rb;
        Dim batch[IR_MAX_RANK];
        if (!sema_broadcast(ta->rank - 2, ta->dims, tb->rank - 2, tb->dims, &rb, batch)) {
            shape_mismatch(c, e->span, "batch dimensions of '@' do not broadcast", e->op.lhs, ta,
                           e->op.rhs, tb);
            return val_error(c);
        }
        batch[rb] = ta->dims[ta->rank - 2];
        batch[rb + 1] = tb->dims[tb->rank - 1];
        return val_tensor(c, DT_F32, rb + 2, batch);
    }
    if (ta->dtype != tb->dtype && !is_comparison(op) && a->kind == V_TENSOR &&
        b->kind == V_TENSOR) {
        shape_mismatch(c, e->span, "operands have different element types", e->op.lhs, ta,
                       e->op.rhs, tb);
        return val_error(c);
    }
    int dtype = a->kind == V_TENSOR ? ta->dtype : tb->dtype;
    if (is_comparison(op))
        dtype = DT_F32;
    if (ta->rank < 0 || tb->rank < 0)
        return val_tensor(c, dtype, -1, NULL);
    int r;
    Dim out[IR_MAX_RANK];
    if (!sema_broadcast(ta->rank, ta->dims, tb->rank, tb->dims, &r, out)) {
        char what[64];
        snprintf(what, sizeof what, "shapes do not broadcast for '%s'", ast_op_name(op));
        shape_mismatch(c, e->span, what, e->op.lhs, ta, e->op.rhs, tb);
        return val_error(c);
    }
    return val_tensor(c, dtype, r, out);
}

static Value *eval_binary(Checker *c, Scope *s, AstNode *e)
{
    Value *a = sema_eval(c, s, e->op.lhs), *b = sema_eval(c, s, e->op.rhs);
    if (a->kind == V_ERROR || b->kind == V_ERROR)
        return val_error(c);
    AstOp op = e->op.op;
    char x[200], y[200];
    if (op == AST_OP_AND || op == AST_OP_OR) {
        if (a->kind != V_BOOL || b->kind != V_BOOL) {
            AstNode *bad = a->kind != V_BOOL ? e->op.lhs : e->op.rhs;
            sema_error(c, bad->span, "'%s' needs bool operands, found %s", ast_op_name(op),
                       val_type_str(c, bad == e->op.lhs ? a : b, x, sizeof x));
            return val_error(c);
        }
        bool known = (a->known && b->known) || (a->known && (op == AST_OP_AND ? !a->b : a->b));
        bool r = op == AST_OP_AND ? a->b && b->b : a->b || b->b;
        return val_bool(c, r, known);
    }
    int d1, r1;
    Dim s1[IR_MAX_RANK];
    bool numeric_lists = a->kind == V_LIST && b->kind == V_LIST && a->len > 0 && b->len > 0 &&
                         tensor_view(a, &d1, &r1, s1) && tensor_view(b, &d1, &r1, s1);
    if (a->kind == V_LIST && b->kind == V_LIST && op == AST_OP_ADD && !numeric_lists) {
        if (a->len < 0 || b->len < 0) {
            Value *r = val_new(c, V_LIST);
            r->len = -1;
            r->elem = a->len < 0 ? a->elem : a->len ? a->items[0] : b->len < 0 ? b->elem : NULL;
            return r;
        }
        Value *r = val_new(c, V_LIST);
        r->len = a->len + b->len;
        r->items = ARENA_NEW_N(c->arena, Value *, r->len ? r->len : 1);
        for (int i = 0; i < a->len; i++)
            r->items[i] = a->items[i];
        for (int i = 0; i < b->len; i++)
            r->items[a->len + i] = b->items[i];
        return r;
    }
    bool scalars = (val_is_numeric(a) || a->kind == V_BOOL || a->kind == V_STRING) &&
                   (val_is_numeric(b) || b->kind == V_BOOL || b->kind == V_STRING);
    if (scalars) {
        if (is_comparison(op)) {
            bool ok = (val_is_numeric(a) && val_is_numeric(b)) ||
                      (a->kind == b->kind && (op == AST_OP_EQ || op == AST_OP_NE));
            if (!ok) {
                sema_error(c, e->span, "cannot compare %s with %s",
                           val_type_str(c, a, x, sizeof x), val_type_str(c, b, y, sizeof y));
                return val_error(c);
            }
            return compare_scalars(c, op, a, b);
        }
        if (!val_is_numeric(a) || !val_is_numeric(b)) {
            if (a->kind == V_STRING && b->kind == V_STRING && op == AST_OP_ADD)
                return val_string(c, "", false);
            AstNode *bad = !val_is_numeric(a) ? e->op.lhs : e->op.rhs;
            sema_error(c, bad->span, "'%s' needs numbers or tensors, found %s", ast_op_name(op),
                       val_type_str(c, bad == e->op.lhs ? a : b, x, sizeof x));
            return val_error(c);
        }
        if (op == AST_OP_MATMUL) {
            sema_error(c, e->span, "'@' needs matrices, not numbers");
            return val_error(c);
        }
        if (a->kind == V_INT && b->kind == V_INT)
            return int_arith(c, op, a, b, e->span);
        /* float arithmetic: known only when both are known */
        double p = a->kind == V_INT ? (double)a->i : a->f, q = b->kind == V_INT ? (double)b->i : b->f;
        bool known = a->known && b->known;
        double r = 0;
        switch (op) {
        case AST_OP_ADD: r = p + q; break;
        case AST_OP_SUB: r = p - q; break;
        case AST_OP_MUL: r = p * q; break;
        case AST_OP_DIV: r = p / q; break;
        default: known = false; break;
        }
        return val_float(c, r, known);
    }
    return tensor_binary(c, e, op, a, b);
}

static Value *eval_unary(Checker *c, Scope *s, AstNode *e)
{
    Value *v = sema_eval(c, s, e->op.lhs);
    if (v->kind == V_ERROR)
        return v;
    char buf[200];
    if (e->op.op == AST_OP_NOT) {
        if (v->kind != V_BOOL) {
            sema_error(c, e->op.lhs->span, "'not' needs a bool, found %s",
                       val_type_str(c, v, buf, sizeof buf));
            return val_error(c);
        }
        return val_bool(c, !v->b, v->known);
    }
    if (v->kind == V_INT)
        return v->known ? val_int(c, -v->i) : val_int_unknown(c, dim_sub(c, dim_const(0), v->dim));
    if (v->kind == V_FLOAT)
        return val_float(c, -v->f, v->known);
    return need_tensor(c, v, e->op.lhs->span);
}

/* ---- members and indexing -------------------------------------------------------------- */

static Value *eval_member(Checker *c, Scope *s, AstNode *e)
{
    Value *o = sema_eval(c, s, e->member.object);
    const char *name = e->member.field.name;
    char buf[200];
    switch (o->kind) {
    case V_ERROR: return o;
    case V_INSTANCE: {
        Binding *b = scope_find_local(o->inst->scope, name);
        if (b) {
            if (b->value->kind == V_FN) {
                Value *m = val_new(c, V_METHOD);
                m->node = b->value->node;
                m->inst = o->inst;
                return m;
            }
            return b->value;
        }
        const Builtin *method = NULL;
        bool optimizer = o->inst->def->def.def_kind == AST_DEF_OPTIMIZER;
        if (!strcmp(name, "train") || !strcmp(name, "eval"))
            method = sema_builtin(optimizer ? "" : !strcmp(name, "train") ? ".train" : ".eval");
        else if (optimizer && !strcmp(name, "step"))
            method = sema_builtin(".step");
        if (method) {
            Value *m = val_new(c, V_BUILTIN);
            m->builtin = method;
            m->inst = o->inst;
            return m;
        }
        sema_error(c, e->member.field.span, "%s '%s' has no member '%s'",
                   ast_def_kind_name(o->inst->def->def.def_kind), o->inst->def->def.id.name, name);
        sema_note(c, o->inst->def->def.id.span, "'%s' is defined here", o->inst->def->def.id.name);
        return val_error(c);
    }
    case V_TENSOR:
        if (!strcmp(name, "shape")) {
            if (o->rank < 0)
                return val_error(c);
            Value *items[IR_MAX_RANK];
            for (int i = 0; i < o->rank; i++)
                items[i] = val_int_unknown(c, o->dims[i]);
            return val_tuple(c, o->rank, items);
        }
        break;
    case V_DATASET:
        if (!strcmp(name, "train") || !strcmp(name, "test")) {
            Value *v = val_new(c, V_SPLIT);
            v->x = o->x;
            v->y = o->y;
            return v;
        }
        break;
    default: break;
    }
    sema_error(c, e->member.field.span, "%s has no member '%s'",
               val_type_str(c, o, buf, sizeof buf), name);
    return val_error(c);
}

/* An int index into a sequence of `len` items (len < 0: unknown). */
static bool seq_index(Checker *c, Value *idx, AstNode *at, int64_t len, int64_t *out)
{
    if (idx->kind != V_INT) {
        char buf[200];
        sema_error(c, at->span, "an index must be an int, found %s",
                   val_type_str(c, idx, buf, sizeof buf));
        return false;
    }
    if (!idx->known || len < 0) {
        *out = -1;
        return true;
    }
    int64_t i = idx->i < 0 ? idx->i + len : idx->i;
    if (i < 0 || i >= len) {
        sema_error(c, at->span, "index %lld is out of range for %lld items", (long long)idx->i,
                   (long long)len);
        return false;
    }
    *out = i;
    return true;
}

static Value *index_tensor(Checker *c, Scope *s, AstNode *e, Value *t)
{
    AstList *ix = &e->index.indices;
    /* Gather: table[ids] with an integer tensor. */
    if (ix->len == 1 && ix->items[0]->kind != AST_SLICE && ix->items[0]->kind != AST_ELLIPSIS) {
        Value *iv = sema_eval(c, s, ix->items[0]);
        if (iv->kind == V_ERROR)
            return iv;
        if (iv->kind == V_TENSOR) {
            if (iv->dtype != DT_I32) {
                sema_error(c, ix->items[0]->span, "indexing with a tensor needs i32 indices");
                return val_error(c);
            }
            if (t->rank < 0 || iv->rank < 0)
                return val_tensor(c, t->dtype, -1, NULL);
            Dim dims[IR_MAX_RANK];
            int r = 0;
            for (int i = 0; i < iv->rank && r < IR_MAX_RANK; i++)
                dims[r++] = iv->dims[i];
            for (int i = 1; i < t->rank && r < IR_MAX_RANK; i++)
                dims[r++] = t->dims[i];
            return val_tensor(c, t->dtype, r, dims);
        }
    }
    if (t->rank < 0) {
        for (int i = 0; i < ix->len; i++)
            if (ix->items[i]->kind != AST_ELLIPSIS)
                sema_eval(c, s, ix->items[i]->kind == AST_SLICE ? ix->items[i]->range.lo
                                                                : ix->items[i]);
        return val_tensor(c, t->dtype, -1, NULL);
    }
    int ellipsis = -1, counted = 0;
    for (int i = 0; i < ix->len; i++) {
        if (ix->items[i]->kind == AST_ELLIPSIS) {
            if (ellipsis >= 0) {
                sema_error(c, ix->items[i]->span, "only one '...' is allowed in an index");
                return val_error(c);
            }
            ellipsis = i;
        } else
            counted++;
    }
    if (counted > t->rank) {
        char buf[200];
        sema_error(c, e->span, "too many indices (%d) for %s", counted,
                   val_type_str(c, t, buf, sizeof buf));
        return val_error(c);
    }
    Dim out[IR_MAX_RANK];
    int r = 0, axis = 0;
    for (int i = 0; i < ix->len; i++) {
        AstNode *it = ix->items[i];
        if (it->kind == AST_ELLIPSIS) {
            int skip = t->rank - counted;
            for (int k = 0; k < skip; k++)
                out[r++] = t->dims[axis++];
            continue;
        }
        Dim size = t->dims[axis];
        if (it->kind == AST_SLICE) {
            Value *lo = it->range.lo ? sema_eval(c, s, it->range.lo) : NULL;
            Value *hi = it->range.hi ? sema_eval(c, s, it->range.hi) : NULL;
            if ((lo && lo->kind == V_ERROR) || (hi && hi->kind == V_ERROR))
                return val_error(c);
            if ((lo && lo->kind != V_INT) || (hi && hi->kind != V_INT)) {
                sema_error(c, it->span, "slice bounds must be ints");
                return val_error(c);
            }
            Dim a = lo ? lo->dim : dim_const(0), b = hi ? hi->dim : size;
            if (dim_known(a) && a.n < 0 && dim_known(size))
                a = dim_const(a.n + size.n);
            if (dim_known(b) && b.n < 0 && dim_known(size))
                b = dim_const(b.n + size.n);
            if (dim_known(a) && dim_known(b) && dim_known(size) &&
                (a.n < 0 || b.n > size.n || a.n > b.n)) {
                sema_error(c, it->span, "slice %lld:%lld is out of range for a dimension of %lld",
                           (long long)a.n, (long long)b.n, (long long)size.n);
                return val_error(c);
            }
            out[r++] = dim_sub(c, b, a);
        } else {
            Value *iv = sema_eval(c, s, it);
            int64_t at;
            if (iv->kind == V_ERROR)
                return iv;
            if (!seq_index(c, iv, it, dim_known(size) ? size.n : -1, &at))
                return val_error(c);
        }
        axis++;
    }
    while (axis < t->rank)
        out[r++] = t->dims[axis++];
    return val_tensor(c, t->dtype, r, out);
}

static Value *eval_index(Checker *c, Scope *s, AstNode *e)
{
    Value *o = sema_eval(c, s, e->index.object);
    if (o->kind == V_ERROR)
        return o;
    if (o->kind == V_TENSOR)
        return index_tensor(c, s, e, o);
    if (o->kind == V_LIST || o->kind == V_TUPLE) {
        if (e->index.indices.len != 1 || e->index.indices.items[0]->kind == AST_SLICE ||
            e->index.indices.items[0]->kind == AST_ELLIPSIS) {
            Value *t = o->kind == V_LIST ? as_tensor_value(c, o) : NULL;
            if (t)
                return index_tensor(c, s, e, t);
            sema_error(c, e->span, "a %s takes one int index", vkind_name(o->kind));
            return val_error(c);
        }
        Value *iv = sema_eval(c, s, e->index.indices.items[0]);
        int64_t at;
        if (iv->kind == V_ERROR)
            return iv;
        if (!seq_index(c, iv, e->index.indices.items[0], o->len, &at))
            return val_error(c);
        if (at >= 0)
            return o->items[at];
        if (o->kind == V_LIST && o->len < 0 && o->elem)
            return o->elem;
        if (o->len > 0) {
            Value *r = o->items[0];
            for (int i = 1; i < o->len; i++)
                r = val_join(c, r, o->items[i]);
            return r;
        }
        return val_error(c);
    }
    char buf[200];
    sema_error(c, e->index.object->span, "%s cannot be indexed", val_type_str(c, o, buf, sizeof buf));
    return val_error(c);
}

/* ---- iteration --------------------------------------------------------------------------- */

/* What a for loop sees: the number of iterations when known (-1 otherwise) and, for each
 * iteration i, the target value; item(-1) is a representative of every iteration. */
typedef struct Iter {
    int64_t count;
    Value *source;
} Iter;

static bool make_iter(Checker *c, Value *v, AstNode *at, Iter *it)
{
    it->source = v;
    switch (v->kind) {
    case V_RANGE:
        it->count = v->lo->known && v->hi->known ? (v->hi->i > v->lo->i ? v->hi->i - v->lo->i : 0) : -1;
        return true;
    case V_LIST:
    case V_TUPLE: it->count = v->len; return true;
    case V_BATCHES: it->count = -1; return true;
    case V_SPLIT:
        sema_error(c, at->span, "iterate over batches(%s, size) rather than the split itself",
                   "split");
        return false;
    default: {
        char buf[200];
        sema_error(c, at->span, "cannot iterate over %s", val_type_str(c, v, buf, sizeof buf));
        return false;
    }
    }
}

static Value *iter_item(Checker *c, const Iter *it, int64_t i)
{
    Value *v = it->source;
    switch (v->kind) {
    case V_RANGE:
        if (i >= 0)
            return val_int(c, v->lo->i + i);
        return val_int_unknown(c, (Dim){0, sema_symbol(c, "i")});
    case V_LIST:
    case V_TUPLE:
        if (i >= 0)
            return v->items[i];
        if (v->len < 0)
            return v->elem ? v->elem : val_error(c);
        if (v->len == 0)
            return val_error(c);
        {
            Value *r = v->items[0];
            for (int k = 1; k < v->len; k++)
                r = val_join(c, r, v->items[k]);
            return r;
        }
    case V_BATCHES: {
        Value *items[2] = {v->x, v->y};
        return val_tuple(c, 2, items);
    }
    default: return val_error(c);
    }
}

/* ---- assignment ---------------------------------------------------------------------------- */

/* The scope an assignment to a new name binds in: the innermost function-like scope. */
static Scope *home_scope(Scope *s)
{
    while (s->kind == SCOPE_BLOCK && s->parent)
        s = s->parent;
    return s;
}

/* Whether a variable of type `old` can take `v`: the same type, or a number where a scalar
 * tensor lives (and the reverse: a scalar tensor's value read into a number). */
static bool assign_compatible(const Value *old, const Value *v)
{
    if (val_same_type(old, v))
        return true;
    bool scalar_tensor = v->kind == V_TENSOR && v->dtype == DT_F32 && v->rank <= 0;
    if (val_is_numeric(old) && scalar_tensor)
        return true;
    return old->kind == V_TENSOR && val_is_numeric(v);
}

static void assign_name(Checker *c, Scope *s, AstNode *target, Value *v)
{
    const char *name = target->name;
    Binding *b = scope_lookup(s, name);
    char x[200], y[200];
    if (b && b->kind == BIND_DEF) {
        sema_error(c, target->span, "cannot assign to '%s': it names a definition", name);
        sema_note(c, b->span, "'%s' is defined here", name);
        return;
    }
    if (!b && sema_builtin(name)) {
        sema_error(c, target->span, "cannot assign to built-in function '%s'", name);
        return;
    }
    if (b && b->kind == BIND_PARAM) {
        sema_error(c, target->span, "cannot assign to parameter '%s'; parameters change only "
                                    "through an optimizer", name);
        sema_note(c, b->span, "'%s' is declared here", name);
        return;
    }
    if (b && b->kind == BIND_HYPER && !c->in_update) {
        sema_error(c, target->span, "cannot assign to '%s', a hyper-parameter of the definition",
                   name);
        return;
    }
    if (b && (b->kind == BIND_STATE || (c->runtime && b->kind == BIND_VAR))) {
        /* State and run-time variables keep their type: they live in fixed storage. */
        if (v->kind != V_ERROR && b->value->kind != V_ERROR && !assign_compatible(b->value, v)) {
            sema_error(c, target->span, "'%s' has type %s, but this assigns %s", name,
                       val_type_str(c, b->value, x, sizeof x), val_type_str(c, v, y, sizeof y));
            sema_note(c, b->span, "'%s' is first assigned here", name);
            return;
        }
        if (b->kind == BIND_STATE || b->value->kind != v->kind)
            return; /* keeps its declared (first) type */
        b->value = val_join(c, b->value, v);
        return;
    }
    if (b && scope_find_local(home_scope(s), name) == b) {
        b->value = v;
        return;
    }
    scope_bind(c, home_scope(s), name, v, BIND_VAR, target->span);
}

static void assign_target(Checker *c, Scope *s, AstNode *target, Value *v)
{
    switch (target->kind) {
    case AST_NAME: assign_name(c, s, target, v); return;
    case AST_MEMBER: {
        Value *o = sema_eval(c, s, target->member.object);
        if (o->kind == V_ERROR)
            return;
        if (o->kind != V_INSTANCE) {
            char buf[200];
            sema_error(c, target->span, "cannot assign a member of %s",
                       val_type_str(c, o, buf, sizeof buf));
            return;
        }
        Binding *b = scope_find_local(o->inst->scope, target->member.field.name);
        bool optimizer = o->inst->def->def.def_kind == AST_DEF_OPTIMIZER;
        if (!b) {
            sema_error(c, target->member.field.span, "%s '%s' has no member '%s'",
                       ast_def_kind_name(o->inst->def->def.def_kind), o->inst->def->def.id.name,
                       target->member.field.name);
            return;
        }
        if (b->kind == BIND_STATE || (optimizer && b->kind == BIND_HYPER)) {
            char x[200], y[200];
            if (v->kind != V_ERROR && !val_same_type(b->value, v) &&
                !(val_is_numeric(b->value) && val_is_numeric(v))) {
                sema_error(c, target->span, "'%s' has type %s, but this assigns %s",
                           target->member.field.name, val_type_str(c, b->value, x, sizeof x),
                           val_type_str(c, v, y, sizeof y));
                sema_note(c, b->span, "declared here");
            }
            if (optimizer && b->kind == BIND_HYPER && val_is_numeric(b->value))
                b->value = val_join(c, b->value, v);
            return;
        }
        sema_error(c, target->span, "cannot assign to '%s': only state and optimizer "
                                    "hyper-parameters can be assigned", target->member.field.name);
        return;
    }
    case AST_INDEX:
        sema_error(c, target->span, "cannot assign to an element: tensors are values (build a "
                                    "new one with where, concat or stack)");
        return;
    default: sema_error(c, target->span, "cannot assign to this expression"); return;
    }
}

static void assign_targets(Checker *c, Scope *s, AstList *targets, Value *v, Span at)
{
    if (targets->len == 1) {
        assign_target(c, s, targets->items[0], v);
        return;
    }
    if (v->kind == V_ERROR) {
        for (int i = 0; i < targets->len; i++)
            assign_target(c, s, targets->items[i], v);
        return;
    }
    if ((v->kind != V_TUPLE && v->kind != V_LIST) || v->len != targets->len) {
        char buf[200];
        sema_error(c, at, "cannot unpack %s into %d names", val_type_str(c, v, buf, sizeof buf),
                   targets->len);
        for (int i = 0; i < targets->len; i++)
            assign_target(c, s, targets->items[i], val_error(c));
        return;
    }
    for (int i = 0; i < targets->len; i++)
        assign_target(c, s, targets->items[i], v->items[i]);
}

/* Names assigned anywhere in a loop body: before a run-time loop they are widened, so what
 * the checker knows holds for every iteration. */
static void widen_assigned(Checker *c, Scope *s, AstNode *n)
{
    if (!n)
        return;
    switch (n->kind) {
    case AST_ASSIGN:
        for (int i = 0; i < n->assign.targets.len; i++) {
            AstNode *t = n->assign.targets.items[i];
            if (t->kind != AST_NAME)
                continue;
            Binding *b = scope_lookup(s, t->name);
            if (b && b->kind == BIND_VAR && (b->value->kind == V_INT || b->value->kind == V_FLOAT ||
                                             b->value->kind == V_BOOL))
                b->value = val_join(c, b->value, b->value->kind == V_INT
                                                     ? val_int_unknown(c, (Dim){0, sema_symbol(c, "int")})
                                                 : b->value->kind == V_FLOAT ? val_float(c, 0, false)
                                                                             : val_bool(c, false, false));
        }
        return;
    case AST_BLOCK:
        for (int i = 0; i < n->list.len; i++)
            widen_assigned(c, s, n->list.items[i]);
        return;
    case AST_FOR: widen_assigned(c, s, n->loop.body); return;
    case AST_WHILE: widen_assigned(c, s, n->cond.then); return;
    case AST_EXPR_STMT: widen_assigned(c, s, n->expr); return;
    case AST_IF:
        widen_assigned(c, s, n->cond.then);
        widen_assigned(c, s, n->cond.els);
        return;
    default: return;
    }
}

static void bind_loop_targets(Checker *c, Scope *s, AstNode *loop, Value *item)
{
    assign_targets(c, s, &loop->loop.targets, item, loop->loop.targets.items[0]->span);
}

static Flow exec_for(Checker *c, Scope *s, AstNode *st)
{
    Value *src = sema_eval(c, s, st->loop.iter);
    Iter it;
    if (src->kind == V_ERROR || !make_iter(c, src, st->loop.iter, &it)) {
        bind_loop_targets(c, s, st, val_error(c));
        bool sup = c->suppress;
        c->suppress = true; /* the body is still checked for names, silently */
        Exec x = {0};
        c->loop_depth++;
        exec_block(c, s, st->loop.body, &x);
        c->loop_depth--;
        c->suppress = sup;
        return FLOW_NORMAL;
    }
    bool unroll = !c->runtime && it.count >= 0 && it.count <= 4096;
    c->loop_depth++;
    if (unroll) {
        for (int64_t i = 0; i < it.count; i++) {
            bind_loop_targets(c, s, st, iter_item(c, &it, i));
            Exec x = {0};
            exec_block(c, s, st->loop.body, &x);
            if (x.flow == FLOW_BREAK)
                break;
            if (x.flow == FLOW_RETURN) {
                c->loop_depth--;
                return FLOW_RETURN;
            }
        }
    } else {
        bool was_runtime = c->runtime;
        c->runtime = true;
        widen_assigned(c, s, st->loop.body);
        bind_loop_targets(c, s, st, iter_item(c, &it, -1));
        Exec x = {0};
        exec_block(c, s, st->loop.body, &x);
        c->runtime = was_runtime;
    }
    c->loop_depth--;
    return FLOW_NORMAL;
}

/* ---- types in annotations ---------------------------------------------------------------- */

static bool dtype_of(const char *name, int *dtype)
{
    if (!strcmp(name, "f32")) {
        *dtype = DT_F32;
        return true;
    }
    if (!strcmp(name, "i32")) {
        *dtype = DT_I32;
        return true;
    }
    return false;
}

/* The dimension a type's dim expression denotes in scope s. A bare name that is unbound is
 * a dimension variable: with `actual` it binds to it; without, it becomes a symbol. */
static bool eval_dim(Checker *c, Scope *s, AstNode *d, const Dim *actual, Dim *out)
{
    if (d->kind == AST_NAME && !strcmp(d->name, "_")) {
        *out = DIM_ANY;
        return true;
    }
    if (d->kind == AST_NAME && !scope_lookup(s, d->name)) {
        *out = actual ? *actual : (Dim){0, sema_symbol(c, d->name)};
        scope_bind(c, s, d->name, val_int_unknown(c, *out), BIND_VAR, d->span);
        return true;
    }
    Value *v = sema_eval(c, s, d);
    if (v->kind == V_ERROR)
        return false;
    if (v->kind != V_INT) {
        char buf[200];
        sema_error(c, d->span, "a dimension must be an int, found %s",
                   val_type_str(c, v, buf, sizeof buf));
        return false;
    }
    *out = v->dim;
    return true;
}

/* A value of the annotated type, for checking a definition on its own: names that are not
 * bound become symbols. */
static Value *value_of_type(Checker *c, Scope *s, AstNode *t, const char *param_name)
{
    if (!t)
        return val_error(c); /* untyped: accepted anywhere while checking generically */
    switch (t->kind) {
    case AST_TYPE_NAME:
        if (!strcmp(t->name, "int"))
            return val_int_unknown(c, (Dim){0, sema_symbol(c, param_name)});
        if (!strcmp(t->name, "float"))
            return val_float(c, 0, false);
        if (!strcmp(t->name, "bool"))
            return val_bool(c, false, false);
        if (!strcmp(t->name, "string"))
            return val_string(c, "", false);
        return val_error(c);
    case AST_TYPE_TENSOR: {
        int dtype;
        if (!dtype_of(t->tensor.dtype.name, &dtype))
            return val_error(c);
        Dim dims[IR_MAX_RANK];
        int rank = 0;
        for (int i = 0; i < t->tensor.dims.len && rank < IR_MAX_RANK; i++) {
            AstNode *d = t->tensor.dims.items[i];
            if (d->kind == AST_ELLIPSIS)
                return val_tensor(c, dtype, -1, NULL);
            if (!eval_dim(c, s, d, NULL, &dims[rank]))
                dims[rank] = DIM_ANY;
            rank++;
        }
        return val_tensor(c, dtype, rank, dims);
    }
    case AST_TYPE_LIST: {
        Value *v = val_new(c, V_LIST);
        v->len = -1;
        v->elem = value_of_type(c, s, t->expr, param_name);
        return v;
    }
    case AST_TYPE_TUPLE: {
        Value *items[16];
        int n = t->list.len < 16 ? t->list.len : 16;
        for (int i = 0; i < n; i++)
            items[i] = value_of_type(c, s, t->list.items[i], param_name);
        return val_tuple(c, n, items);
    }
    default: return val_error(c);
    }
}

/* Whether v has the annotated type t; binds dimension variables in s. */
static bool match_type(Checker *c, Scope *s, AstNode *t, Value *v)
{
    if (!t || v->kind == V_ERROR)
        return true;
    switch (t->kind) {
    case AST_TYPE_NAME:
        if (!strcmp(t->name, "int"))
            return v->kind == V_INT;
        if (!strcmp(t->name, "float"))
            return val_is_numeric(v);
        if (!strcmp(t->name, "bool"))
            return v->kind == V_BOOL;
        if (!strcmp(t->name, "string"))
            return v->kind == V_STRING;
        if (!strcmp(t->name, "dataset"))
            return v->kind == V_DATASET;
        if (!strcmp(t->name, "split"))
            return v->kind == V_SPLIT;
        {
            int dtype;
            if (dtype_of(t->name, &dtype)) {
                Value *tv = as_tensor_value(c, v);
                return tv && tv->dtype == dtype && (tv->rank == 0 || tv->rank < 0);
            }
            Binding *b = scope_lookup(s, t->name);
            if (b && b->value->kind == V_DEF)
                return v->kind == V_INSTANCE && v->inst->def == b->value->node;
        }
        return false;
    case AST_TYPE_TENSOR: {
        int dtype;
        if (!dtype_of(t->tensor.dtype.name, &dtype))
            return false;
        Value *tv = as_tensor_value(c, v);
        if (!tv || (tv->dtype != dtype && !(dtype == DT_F32 && v->kind != V_TENSOR)))
            return false;
        bool any_rank = t->tensor.dims.len == 1 && t->tensor.dims.items[0]->kind == AST_ELLIPSIS;
        if (any_rank || tv->rank < 0)
            return true;
        if (tv->rank != t->tensor.dims.len)
            return false;
        for (int i = 0; i < tv->rank; i++) {
            Dim want;
            if (!eval_dim(c, s, t->tensor.dims.items[i], &tv->dims[i], &want))
                return true; /* the dimension's own error was reported */
            if (!dim_eq(want, tv->dims[i]))
                return false;
        }
        return true;
    }
    case AST_TYPE_LIST:
        if (v->kind != V_LIST)
            return false;
        for (int i = 0; i < v->len; i++)
            if (!match_type(c, s, t->expr, v->items[i]))
                return false;
        return true;
    case AST_TYPE_TUPLE:
        if (v->kind != V_TUPLE || v->len != t->list.len)
            return false;
        for (int i = 0; i < v->len; i++)
            if (!match_type(c, s, t->list.items[i], v->items[i]))
                return false;
        return true;
    default: return false;
    }
}

/* The annotation as written, for messages: "f32[B, n_in]" (from the source text). */
static const char *type_text(const AstNode *t, char *buf, size_t n)
{
    const SourceFile *f = t->span.file;
    size_t len = t->span.hi - t->span.lo;
    if (len >= n)
        len = n - 1;
    memcpy(buf, f->text + t->span.lo, len);
    buf[len] = '\0';
    return buf;
}

/* The annotation with what its names stand for at this call: f32[B, n_in] with n_in bound to
 * 784 and B unbound reads "f32[B, 784]". */
static const char *expected_str(Checker *c, Scope *s, const AstNode *t, char *buf, size_t n)
{
    if (t->kind != AST_TYPE_TENSOR)
        return type_text(t, buf, n);
    size_t at = (size_t)snprintf(buf, n, "%s[", t->tensor.dtype.name);
    for (int i = 0; i < t->tensor.dims.len && at < n; i++) {
        const AstNode *d = t->tensor.dims.items[i];
        char part[128];
        Binding *b = d->kind == AST_NAME ? scope_lookup(s, d->name) : NULL;
        if (b && b->value->kind == V_INT)
            dim_str(c, b->value->dim, part, sizeof part);
        else
            type_text(d, part, sizeof part);
        at += (size_t)snprintf(buf + at, n - at, "%s%s", i ? ", " : "", part);
    }
    if (at < n)
        snprintf(buf + at, n - at, "]");
    return buf;
}

/* Checks that a type annotation names real types (reported once, on the definition). */
static void check_type_names(Checker *c, Scope *s, AstNode *t)
{
    if (!t)
        return;
    switch (t->kind) {
    case AST_TYPE_NAME: {
        static const char *const known[] = {"int", "float", "bool", "string", "dataset", "split",
                                            "f32", "i32"};
        for (size_t i = 0; i < ARRAY_LEN(known); i++)
            if (!strcmp(t->name, known[i]))
                return;
        Binding *b = scope_lookup(s, t->name);
        if (b && b->value->kind == V_DEF)
            return;
        sema_error(c, t->span, "unknown type '%s'", t->name);
        return;
    }
    case AST_TYPE_TENSOR: {
        int dtype;
        if (!dtype_of(t->tensor.dtype.name, &dtype))
            sema_error(c, t->tensor.dtype.span, "unknown element type '%s' (expected f32 or i32)",
                       t->tensor.dtype.name);
        for (int i = 0; i < t->tensor.dims.len; i++)
            if (t->tensor.dims.items[i]->kind == AST_ELLIPSIS && t->tensor.dims.len != 1)
                sema_error(c, t->tensor.dims.items[i]->span, "'...' must be the only dimension");
        return;
    }
    case AST_TYPE_LIST: check_type_names(c, s, t->expr); return;
    case AST_TYPE_TUPLE:
        for (int i = 0; i < t->list.len; i++)
            check_type_names(c, s, t->list.items[i]);
        return;
    default: return;
    }
}

/* ---- calls ---------------------------------------------------------------------------------- */

bool sema_bind_args(Checker *c, AstNode *call, const char *what, const char *const *params,
                    int nparams, int required, Span def, Value **pos, int npos,
                    const AstIdent *kw_names, Value **kw, int nkw, Value **out, int *from)
{
    bool ok = true;
    for (int p = 0; p < nparams; p++) {
        out[p] = NULL;
        if (from)
            from[p] = -1;
    }
    if (npos > nparams) {
        sema_error(c, call->span, "%s takes %s%d argument%s, but %d were given", what,
                   required < nparams ? "at most " : "", nparams, nparams == 1 ? "" : "s", npos);
        if (def.file)
            sema_note(c, def, "%s is defined here", what);
        return false;
    }
    for (int i = 0; i < npos; i++) {
        out[i] = pos[i];
        if (from)
            from[i] = i;
    }
    for (int k = 0; k < nkw; k++) {
        int slot = -1;
        for (int p = 0; p < nparams; p++)
            if (!strcmp(params[p], kw_names[k].name))
                slot = p;
        if (slot < 0) {
            sema_error(c, kw_names[k].span, "%s has no parameter named '%s'", what, kw_names[k].name);
            if (def.file)
                sema_note(c, def, "%s is defined here", what);
            ok = false;
            continue;
        }
        if (out[slot]) {
            sema_error(c, kw_names[k].span, "argument '%s' is given more than once",
                       kw_names[k].name);
            ok = false;
            continue;
        }
        out[slot] = kw[k];
        if (from)
            from[slot] = npos + k;
    }
    for (int p = 0; ok && p < required; p++)
        if (!out[p]) {
            sema_error(c, call->span, "%s is missing the argument '%s'", what, params[p]);
            if (def.file)
                sema_note(c, def, "%s is defined here", what);
            ok = false;
        }
    return ok;
}

static char *signature_key(Checker *c, Value **args, int n)
{
    char buf[2048];
    size_t at = (size_t)snprintf(buf, sizeof buf, "%s", sema_lenient ? "generic;" : "");
    for (int i = 0; i < n && at < sizeof buf - 300; i++) {
        char t[256];
        if (!args[i])
            snprintf(t, sizeof t, "-");
        else if (args[i]->kind == V_INT && args[i]->known)
            snprintf(t, sizeof t, "%lld", (long long)args[i]->i);
        else if (args[i]->kind == V_FLOAT && args[i]->known)
            snprintf(t, sizeof t, "%.17g", args[i]->f);
        else if (args[i]->kind == V_INSTANCE)
            snprintf(t, sizeof t, "@%p", (void *)args[i]->inst);
        else
            val_type_str(c, args[i], t, sizeof t);
        at += (size_t)snprintf(buf + at, sizeof buf - at, "%s;", t);
    }
    return arena_strndup(c->arena, buf, strlen(buf));
}

static Value *cache_find(Checker *c, const AstNode *fn, Instance *inst, const char *key)
{
    for (int i = 0; i < c->ncache; i++)
        if (c->cache[i].fn == fn && c->cache[i].inst == inst && !strcmp(c->cache[i].key, key))
            return c->cache[i].result;
    return NULL;
}

static void cache_add(Checker *c, const AstNode *fn, Instance *inst, char *key, Value *result)
{
    if (c->ncache == c->capcache) {
        c->capcache = c->capcache ? c->capcache * 2 : 64;
        c->cache = util_realloc(c->cache, sizeof(CacheEntry) * (size_t)c->capcache);
    }
    c->cache[c->ncache++] = (CacheEntry){fn, inst, key, result};
}

static const char **param_names(Checker *c, const AstNode *def, int *n, int *required)
{
    const AstList *ps = &def->def.params;
    const char **names = ARENA_NEW_N(c->arena, const char *, ps->len ? ps->len : 1);
    *required = 0;
    for (int i = 0; i < ps->len; i++) {
        names[i] = ps->items[i]->decl.id.name;
        if (!ps->items[i]->decl.init && *required == i)
            *required = i + 1;
    }
    *n = ps->len;
    return names;
}

static const char *qualified(Checker *c, const AstNode *fn, Instance *self)
{
    if (!self)
        return fn->def.id.name;
    char buf[256];
    snprintf(buf, sizeof buf, "%s.%s", self->def->def.id.name, fn->def.id.name);
    return arena_strndup(c->arena, buf, strlen(buf));
}

/* Binds a definition's parameters in `s` from the bound arguments; defaults are evaluated
 * in `defaults` (the definition's own scope). Checks annotations. */
static bool bind_params(Checker *c, Scope *s, Scope *defaults, const AstNode *def, Value **args,
                        int *from, AstNode *call, const char *what, BindKind kind)
{
    bool ok = true;
    const AstList *ps = &def->def.params;
    for (int i = 0; i < ps->len; i++) {
        AstNode *p = ps->items[i];
        Value *v = args[i];
        if (!v)
            v = p->decl.init ? sema_eval(c, defaults, p->decl.init) : val_error(c);
        if (p->decl.type && !match_type(c, s, p->decl.type, v)) {
            char got[200], want[200];
            Span at = call->span;
            if (from && from[i] >= 0 && call->kind == AST_CALL && from[i] < call->call.args.len)
                at = call->call.args.items[from[i]]->span;
            /* Bound dims make the expected type concrete in the message. */
            sema_error(c, at, "argument '%s' of %s has type %s, but %s expects %s",
                       p->decl.id.name, what, val_type_str(c, v, got, sizeof got), what,
                       expected_str(c, s, p->decl.type, want, sizeof want));
            sema_note(c, p->decl.type->span, "parameter '%s' is declared here", p->decl.id.name);
            ok = false;
            v = val_error(c);
        }
        scope_bind(c, s, p->decl.id.name, v, kind, p->decl.id.span);
    }
    return ok;
}

Value *sema_call_fn(Checker *c, const AstNode *fn, Instance *self, AstNode *call, Value **pos,
                    int npos, const AstIdent *kw_names, Value **kw, int nkw)
{
    int nparams, required;
    const char **names = param_names(c, fn, &nparams, &required);
    const char *what = qualified(c, fn, self);
    Value *args[64];
    int from[64];
    if (nparams > 64) {
        sema_error(c, fn->def.id.span, "too many parameters");
        return val_error(c);
    }
    if (!sema_bind_args(c, call, what, names, nparams, required, fn->def.id.span, pos, npos,
                        kw_names, kw, nkw, args, from))
        return val_error(c);
    char *key = signature_key(c, args, nparams);
    Value *cached = cache_find(c, fn, self, key);
    if (cached)
        return cached;
    if (c->nframes >= 48) {
        sema_error(c, call->span, "calls nest too deeply (is %s recursive?)", what);
        return val_error(c);
    }
    Scope *defining = self ? self->scope : c->globals;
    Scope *s = scope_new(c, defining, SCOPE_FN);
    push_frame(c, call->span, what);
    Value *result;
    if (!bind_params(c, s, defining, fn, args, from, call, what, BIND_VAR)) {
        result = val_error(c);
    } else {
        bool was_runtime = c->runtime;
        int loops = c->loop_depth;
        c->runtime = false;
        c->loop_depth = 0;
        Exec x = {0};
        Value *last = exec_block(c, s, fn->def.body, &x);
        result = x.flow == FLOW_RETURN ? (x.ret ? x.ret : val_void(c)) : last;
        c->runtime = was_runtime;
        c->loop_depth = loops;
        if (fn->def.ret && !match_type(c, s, fn->def.ret, result)) {
            char got[200], want[200];
            sema_error(c, fn->def.body->span, "%s returns %s, but its declared type is %s", what,
                       val_type_str(c, result, got, sizeof got),
                       expected_str(c, s, fn->def.ret, want, sizeof want));
            sema_note(c, fn->def.ret->span, "the return type is declared here");
            result = val_error(c);
        }
    }
    pop_frame(c);
    cache_add(c, fn, self, key, result);
    return result;
}

static void exec_body_stmt(Checker *c, Scope *s, AstNode *st, Instance *inst);

/* Instantiates a layer, model or optimizer: runs its body at compile time. */
static Value *instantiate(Checker *c, const AstNode *def, AstNode *call, Value **pos, int npos,
                          const AstIdent *kw_names, Value **kw, int nkw)
{
    int nparams, required;
    const char **names = param_names(c, def, &nparams, &required);
    Value *args[64];
    int from[64];
    if (nparams > 64)
        return val_error(c);
    if (!sema_bind_args(c, call, def->def.id.name, names, nparams, required, def->def.id.span, pos,
                        npos, kw_names, kw, nkw, args, from))
        return val_error(c);
    Instance *inst = ARENA_NEW(c->arena, Instance);
    inst->def = def;
    inst->created = call->span;
    inst->scope = scope_new(c, c->globals, SCOPE_BODY);
    inst->scope->inst = inst;
    if (c->nframes >= 48) {
        sema_error(c, call->span, "layers nest too deeply (does %s contain itself?)",
                   def->def.id.name);
        return val_error(c);
    }
    push_frame(c, call->span, def->def.id.name);
    bool ok = bind_params(c, inst->scope, c->globals, def, args, from, call, def->def.id.name,
                          BIND_HYPER);
    bool was_runtime = c->runtime;
    c->runtime = false;
    int loops = c->loop_depth;
    c->loop_depth = 0;
    if (ok)
        for (int i = 0; i < def->def.body->list.len; i++)
            exec_body_stmt(c, inst->scope, def->def.body->list.items[i], inst);
    c->runtime = was_runtime;
    c->loop_depth = loops;
    pop_frame(c);
    if (!ok)
        return val_error(c);
    Value *v = val_new(c, V_INSTANCE);
    v->inst = inst;
    v->origin = call->span;
    return v;
}

Value *sema_call_value(Checker *c, Scope *s, Value *callee, AstNode *call, Value **pos,
                       int npos, const AstIdent *kw_names, Value **kw, int nkw)
{
    char buf[200];
    switch (callee->kind) {
    case V_ERROR: return callee;
    case V_BUILTIN: {
        const Builtin *b = callee->builtin;
        if (!strcmp(b->name, "log") && npos == 0 && nkw > 0) {
            /* log(name = value, ...): a progress line and a metrics row */
            for (int i = 0; i < nkw; i++) {
                Value *v = kw[i];
                bool ok = v->kind == V_ERROR || val_is_numeric(v) || v->kind == V_STRING ||
                          v->kind == V_BOOL || (v->kind == V_TENSOR && (v->rank == 0 || v->rank < 0));
                if (!ok)
                    sema_error(c, kw_names[i].span, "log records numbers, scalar tensors and strings; "
                                                    "'%s' is %s", kw_names[i].name,
                               val_type_str(c, v, buf, sizeof buf));
            }
            return val_void(c);
        }
        int n = 0;
        while (n < SEMA_MAX_PARAMS && b->params[n])
            n++;
        CallArgs a = {.call = call, .scope = s};
        int from[SEMA_MAX_PARAMS];
        if (!sema_bind_args(c, call, b->name[0] == '.' ? b->name + 1 : b->name, b->params, n,
                            b->required, (Span){0}, pos, npos, kw_names, kw, nkw, a.v, from))
            return val_error(c);
        for (int i = 0; i < n; i++)
            a.e[i] = from[i] >= 0 && call->kind == AST_CALL && from[i] < call->call.args.len
                         ? call->call.args.items[from[i]]->arg.value
                         : NULL;
        if (callee->inst) { /* a built-in method: the instance is the hidden first argument */
            Value *self = val_new(c, V_INSTANCE);
            self->inst = callee->inst;
            a.v[SEMA_MAX_PARAMS - 1] = self;
        }
        return b->check(c, &a, b);
    }
    case V_FN: return sema_call_fn(c, callee->node, NULL, call, pos, npos, kw_names, kw, nkw);
    case V_METHOD:
        return sema_call_fn(c, callee->node, callee->inst, call, pos, npos, kw_names, kw, nkw);
    case V_DEF: return instantiate(c, callee->node, call, pos, npos, kw_names, kw, nkw);
    case V_INSTANCE: {
        Binding *f = scope_find_local(callee->inst->scope, "forward");
        if (!f || f->value->kind != V_FN) {
            sema_error(c, call->span, "%s '%s' has no forward method, so it cannot be called",
                       ast_def_kind_name(callee->inst->def->def.def_kind),
                       callee->inst->def->def.id.name);
            sema_note(c, callee->inst->def->def.id.span, "'%s' is defined here",
                      callee->inst->def->def.id.name);
            return val_error(c);
        }
        return sema_call_fn(c, f->value->node, callee->inst, call, pos, npos, kw_names, kw, nkw);
    }
    default:
        sema_error(c, call->call.callee->span, "%s is not callable",
                   val_type_str(c, callee, buf, sizeof buf));
        return val_error(c);
    }
}

static Value *eval_call(Checker *c, Scope *s, AstNode *e)
{
    AstNode *fe = e->call.callee;
    Value *callee;
    if (fe->kind == AST_NAME && !scope_lookup(s, fe->name) && !sema_builtin(fe->name)) {
        sema_error(c, fe->span, "unknown function '%s'", fe->name);
        callee = val_error(c);
    } else {
        callee = sema_eval(c, s, fe);
    }
    if (fe->kind == AST_NAME && callee->kind != V_ERROR && callee->kind != V_FN &&
        callee->kind != V_DEF && callee->kind != V_BUILTIN && callee->kind != V_INSTANCE &&
        callee->kind != V_METHOD) {
        char buf[200];
        sema_error(c, fe->span, "'%s' is %s, not a function", fe->name,
                   val_type_str(c, callee, buf, sizeof buf));
        callee = val_error(c);
    }
    int n = e->call.args.len;
    Value **pos = ARENA_NEW_N(c->arena, Value *, n ? n : 1);
    Value **kw = ARENA_NEW_N(c->arena, Value *, n ? n : 1);
    AstIdent *names = ARENA_NEW_N(c->arena, AstIdent, n ? n : 1);
    int npos = 0, nkw = 0;
    bool arg_error = false;
    for (int i = 0; i < n; i++) {
        AstNode *a = e->call.args.items[i];
        Value *v = sema_eval(c, s, a->arg.value);
        arg_error |= v->kind == V_ERROR;
        if (!a->arg.key.name) {
            if (nkw) {
                sema_error(c, a->span, "a positional argument cannot follow keyword arguments");
                return val_error(c);
            }
            pos[npos++] = v;
        } else {
            names[nkw] = a->arg.key;
            kw[nkw++] = v;
        }
    }
    if (callee->kind == V_ERROR)
        return callee;
    (void)arg_error; /* error arguments flow on silently as error values */
    return sema_call_value(c, s, callee, e, pos, npos, names, kw, nkw);
}

/* ---- expressions ----------------------------------------------------------------------------- */

static Value *eval_name(Checker *c, Scope *s, AstNode *e)
{
    Binding *b = scope_lookup(s, e->name);
    if (b)
        return b->value;
    const Builtin *bi = sema_builtin(e->name);
    if (bi) {
        Value *v = val_new(c, V_BUILTIN);
        v->builtin = bi;
        return v;
    }
    if (!strcmp(e->name, "training"))
        return val_bool(c, false, false);
    if (!strcmp(e->name, "step") && c->in_update)
        return val_int_unknown(c, (Dim){0, sema_symbol(c, "step")});
    sema_error(c, e->span, "unknown name '%s'", e->name);
    return val_error(c);
}

static Value *eval_if(Checker *c, Scope *s, AstNode *e)
{
    Value *cond = sema_eval(c, s, e->cond.cond);
    char buf[200];
    if (cond->kind != V_BOOL && cond->kind != V_ERROR) {
        sema_error(c, e->cond.cond->span, "a condition must be a bool, found %s%s",
                   val_type_str(c, cond, buf, sizeof buf),
                   cond->kind == V_TENSOR ? " (use where(cond, a, b) to select elementwise)" : "");
        cond = val_error(c);
    }
    if (cond->kind == V_BOOL && cond->known) {
        AstNode *branch = cond->b ? e->cond.then : e->cond.els;
        if (!branch)
            return val_void(c);
        Exec x = {0};
        return branch->kind == AST_BLOCK ? exec_block(c, s, branch, &x) : sema_eval(c, s, branch);
    }
    Exec x = {0}, y = {0};
    Value *a = exec_block(c, s, e->cond.then, &x);
    if (!e->cond.els)
        return val_void(c);
    Value *b = e->cond.els->kind == AST_BLOCK ? exec_block(c, s, e->cond.els, &y)
                                              : sema_eval(c, s, e->cond.els);
    if (a->kind != V_VOID && b->kind != V_VOID && !val_same_type(a, b) && !val_same_type(b, a)) {
        char x1[200], y1[200];
        sema_error(c, e->span, "the branches of this if have different types: %s and %s",
                   val_type_str(c, a, x1, sizeof x1), val_type_str(c, b, y1, sizeof y1));
        return val_error(c);
    }
    return val_join(c, a, b);
}

static Value *eval_comprehension(Checker *c, Scope *s, AstNode *e)
{
    Value *src = sema_eval(c, s, e->loop.iter);
    Iter it;
    if (src->kind == V_ERROR || !make_iter(c, src, e->loop.iter, &it))
        return val_error(c);
    Scope *inner = scope_new(c, s, SCOPE_FN); /* the targets are local to the brackets */
    inner->inst = s->inst;
    Value *list = val_new(c, V_LIST);
    if (it.count < 0 || it.count > 4096) {
        assign_targets(c, inner, &e->loop.targets, iter_item(c, &it, -1), e->span);
        list->len = -1;
        list->elem = sema_eval(c, inner, e->loop.body);
        return list;
    }
    list->len = (int)it.count;
    list->items = ARENA_NEW_N(c->arena, Value *, it.count ? it.count : 1);
    for (int64_t i = 0; i < it.count; i++) {
        assign_targets(c, inner, &e->loop.targets, iter_item(c, &it, i), e->span);
        list->items[i] = sema_eval(c, inner, e->loop.body);
    }
    return list;
}

Value *sema_eval(Checker *c, Scope *s, AstNode *e)
{
    Value *v;
    switch (e->kind) {
    case AST_INT: v = val_int(c, e->ival); break;
    case AST_FLOAT: v = val_float(c, e->fval, true); break;
    case AST_BOOL: v = val_bool(c, e->bval, true); break;
    case AST_STRING: v = val_string(c, arena_strndup(c->arena, e->str.text, e->str.len), true); break;
    case AST_NAME: v = eval_name(c, s, e); break;
    case AST_LIST: v = eval_list(c, s, e); break;
    case AST_TUPLE: {
        Value **items = ARENA_NEW_N(c->arena, Value *, e->list.len ? e->list.len : 1);
        for (int i = 0; i < e->list.len; i++)
            items[i] = sema_eval(c, s, e->list.items[i]);
        v = val_tuple(c, e->list.len, items);
        break;
    }
    case AST_COMPREHENSION: v = eval_comprehension(c, s, e); break;
    case AST_UNARY: v = eval_unary(c, s, e); break;
    case AST_BINARY: v = eval_binary(c, s, e); break;
    case AST_RANGE: {
        Value *lo = sema_eval(c, s, e->range.lo), *hi = sema_eval(c, s, e->range.hi);
        if (lo->kind == V_ERROR || hi->kind == V_ERROR)
            return val_error(c);
        if (lo->kind != V_INT || hi->kind != V_INT) {
            sema_error(c, e->span, "range bounds must be ints");
            return val_error(c);
        }
        v = val_new(c, V_RANGE);
        v->lo = lo;
        v->hi = hi;
        break;
    }
    case AST_CALL: v = eval_call(c, s, e); break;
    case AST_MEMBER: v = eval_member(c, s, e); break;
    case AST_INDEX: v = eval_index(c, s, e); break;
    case AST_IF: v = eval_if(c, s, e); break;
    case AST_BLOCK: {
        Exec x = {0};
        v = exec_block(c, s, e, &x);
        break;
    }
    case AST_SLICE:
    case AST_ELLIPSIS:
        sema_error(c, e->span, "'%s' is only allowed inside an index",
                   e->kind == AST_SLICE ? ":" : "...");
        v = val_error(c);
        break;
    default:
        sema_error(c, e->span, "this is not an expression");
        v = val_error(c);
        break;
    }
    set_type(c, e, v);
    return v;
}

/* ---- statements --------------------------------------------------------------------------- */

static bool in_fn(const Scope *s)
{
    for (; s; s = s->parent)
        if (s->kind == SCOPE_FN)
            return true;
    return false;
}

static const char *placement_name(const AstNode *st)
{
    switch (st->kind) {
    case AST_PARAM_DECL: return "a 'param' declaration";
    case AST_STATE_DECL: return "a 'state' declaration";
    case AST_IMPORT: return "an import";
    case AST_FN: return "a function definition";
    case AST_DEF: return ast_def_kind_name(st->def.def_kind);
    case AST_TRAIN: return "a train block";
    default: return "this statement";
    }
}

static void misplaced(Checker *c, AstNode *st, const char *where)
{
    sema_error(c, st->span, "%s is not allowed %s", placement_name(st), where);
}

static Flow exec_stmt(Checker *c, Scope *s, AstNode *st, Exec *x, bool is_last)
{
    char buf[200];
    switch (st->kind) {
    case AST_EXPR_STMT: {
        Value *v = sema_eval(c, s, st->expr);
        x->last = v;
        bool is_call = st->expr->kind == AST_CALL;
        if (!is_last && !is_call && v->kind != V_VOID && v->kind != V_ERROR &&
            st->expr->kind != AST_IF)
            sema_error(c, st->span, "this value is unused (assign it, print it, or make it the "
                                    "last line of a block)");
        return FLOW_NORMAL;
    }
    case AST_ASSIGN: {
        Value *v = sema_eval(c, s, st->assign.value);
        if (v->kind == V_VOID) {
            sema_error(c, st->assign.value->span, "this expression has no value to assign");
            v = val_error(c);
        }
        if (st->assign.op != AST_OP_ASSIGN) {
            if (st->assign.targets.len != 1) {
                sema_error(c, st->span, "'%s=' takes one target", ast_op_name(st->assign.op));
                return FLOW_NORMAL;
            }
            /* x op= e is x = x op e, checked as such (the target is read first). */
            AstNode tmp = {.kind = AST_BINARY, .span = st->span};
            tmp.op.op = st->assign.op;
            tmp.op.lhs = st->assign.targets.items[0];
            tmp.op.rhs = st->assign.value;
            v = eval_binary(c, s, &tmp);
        }
        assign_targets(c, s, &st->assign.targets, v, st->span);
        x->last = val_void(c);
        return FLOW_NORMAL;
    }
    case AST_FOR: return exec_for(c, s, st);
    case AST_WHILE: {
        Value *cond = sema_eval(c, s, st->cond.cond);
        if (cond->kind != V_BOOL && cond->kind != V_ERROR)
            sema_error(c, st->cond.cond->span, "a condition must be a bool, found %s",
                       val_type_str(c, cond, buf, sizeof buf));
        bool was_runtime = c->runtime;
        c->runtime = true;
        widen_assigned(c, s, st->cond.then);
        c->loop_depth++;
        Exec y = {0};
        exec_block(c, s, st->cond.then, &y);
        c->loop_depth--;
        c->runtime = was_runtime;
        return FLOW_NORMAL;
    }
    case AST_RETURN:
        if (!in_fn(s)) {
            sema_error(c, st->span, "'return' is only allowed in a function");
            return FLOW_NORMAL;
        }
        x->ret = st->expr ? sema_eval(c, s, st->expr) : val_void(c);
        return x->flow = FLOW_RETURN;
    case AST_BREAK:
    case AST_CONTINUE:
        if (c->loop_depth == 0) {
            sema_error(c, st->span, "'%s' is only allowed in a loop",
                       st->kind == AST_BREAK ? "break" : "continue");
            return FLOW_NORMAL;
        }
        return x->flow = st->kind == AST_BREAK ? FLOW_BREAK : FLOW_CONTINUE;
    case AST_PARAM_DECL: misplaced(c, st, "here; parameters belong directly in a layer or model"); return FLOW_NORMAL;
    case AST_STATE_DECL: misplaced(c, st, "here; state belongs directly in a layer, model or optimizer"); return FLOW_NORMAL;
    case AST_IMPORT: misplaced(c, st, "here; imports belong at the top of a file"); return FLOW_NORMAL;
    case AST_FN: misplaced(c, st, "here; functions are defined at the top level or in a layer, model or optimizer"); return FLOW_NORMAL;
    case AST_DEF:
    case AST_TRAIN: misplaced(c, st, "here; it must be at the top level"); return FLOW_NORMAL;
    default:
        sema_error(c, st->span, "this is not a statement");
        return FLOW_NORMAL;
    }
}

static Value *exec_block(Checker *c, Scope *s, AstNode *block, Exec *x)
{
    x->last = val_void(c);
    if (block->kind != AST_BLOCK)
        return sema_eval(c, s, block);
    for (int i = 0; i < block->list.len; i++) {
        AstNode *st = block->list.items[i];
        x->last = val_void(c);
        Flow f = exec_stmt(c, s, st, x, i == block->list.len - 1);
        if (f != FLOW_NORMAL) {
            x->flow = f;
            /* Code after break/continue/return in the same block never runs. */
            if (i + 1 < block->list.len && !c->suppress)
                sema_error(c, block->list.items[i + 1]->span, "this code is unreachable");
            break;
        }
    }
    return x->last;
}

/* A statement directly in a layer, model or optimizer body. */
static void exec_body_stmt(Checker *c, Scope *s, AstNode *st, Instance *inst)
{
    bool optimizer = inst->def->def.def_kind == AST_DEF_OPTIMIZER;
    switch (st->kind) {
    case AST_PARAM_DECL:
    case AST_STATE_DECL: {
        if (optimizer && st->kind == AST_PARAM_DECL) {
            misplaced(c, st, "in an optimizer; use 'state' for per-parameter values");
            return;
        }
        if (scope_find_local(s, st->decl.id.name)) {
            Binding *old = scope_find_local(s, st->decl.id.name);
            sema_error(c, st->decl.id.span, "'%s' is already defined in this %s", st->decl.id.name,
                       ast_def_kind_name(inst->def->def.def_kind));
            sema_note(c, old->span, "the first definition is here");
            return;
        }
        if (optimizer) { /* per-parameter state: checked when the update is checked */
            scope_bind(c, s, st->decl.id.name, val_tensor(c, DT_F32, -1, NULL), BIND_STATE,
                       st->decl.id.span);
            return;
        }
        if (st->kind == AST_PARAM_DECL && st->decl.type->kind != AST_TYPE_TENSOR) {
            sema_error(c, st->decl.type->span, "a parameter must have a tensor type such as "
                                               "f32[n_out, n_in]");
            return;
        }
        check_type_names(c, s, st->decl.type);
        Value *declared = st->decl.type ? value_of_type(c, s, st->decl.type, st->decl.id.name) : NULL;
        Value *init = NULL;
        AstNode *ie = st->decl.init;
        /* An initializer call gets the declared shape as its first argument. */
        if (ie->kind == AST_CALL && ie->call.callee->kind == AST_NAME && declared &&
            declared->kind == V_TENSOR) {
            Binding *fb = scope_lookup(s, ie->call.callee->name);
            const Builtin *bb = fb ? NULL : sema_builtin(ie->call.callee->name);
            const char *first = fb && fb->value->kind == V_FN && fb->value->node->def.params.len
                                    ? fb->value->node->def.params.items[0]->decl.id.name
                                : bb ? bb->params[0]
                                     : NULL;
            if (first && !strcmp(first, "shape")) {
                int n = ie->call.args.len;
                Value **pos = ARENA_NEW_N(c->arena, Value *, n + 1);
                Value **kw = ARENA_NEW_N(c->arena, Value *, n + 1);
                AstIdent *names = ARENA_NEW_N(c->arena, AstIdent, n + 1);
                Value *dims[IR_MAX_RANK];
                for (int i = 0; i < declared->rank; i++)
                    dims[i] = val_int_unknown(c, declared->dims[i]);
                Value *shape = val_new(c, V_LIST);
                shape->len = declared->rank;
                shape->items = ARENA_NEW_N(c->arena, Value *, declared->rank + 1);
                for (int i = 0; i < declared->rank; i++)
                    shape->items[i] = dims[i];
                int npos = 0, nkw = 0;
                pos[npos++] = shape;
                for (int i = 0; i < n; i++) {
                    AstNode *a = ie->call.args.items[i];
                    Value *v = sema_eval(c, s, a->arg.value);
                    if (a->arg.key.name) {
                        names[nkw] = a->arg.key;
                        kw[nkw++] = v;
                    } else
                        pos[npos++] = v;
                }
                Value *callee = sema_eval(c, s, ie->call.callee);
                init = sema_call_value(c, s, callee, ie, pos, npos, names, kw, nkw);
            }
        }
        if (!init)
            init = sema_eval(c, s, ie);
        Value *v = declared ? declared : need_tensor(c, init, ie->span);
        if (declared && init->kind != V_ERROR) {
            Value *t = as_tensor_value(c, init);
            int r;
            Dim out[IR_MAX_RANK];
            bool ok = t && (t->rank < 0 || declared->rank < 0 ||
                            (sema_broadcast(t->rank, t->dims, declared->rank, declared->dims, &r, out) &&
                             r == declared->rank));
            if (ok && t->rank >= 0 && declared->rank >= 0)
                for (int i = 0; i < r; i++)
                    ok &= dim_eq(out[i], declared->dims[i]);
            if (!ok) {
                char a[200], b[200];
                sema_error(c, ie->span, "the initial value has type %s, but '%s' is declared %s",
                           val_type_str(c, init, a, sizeof a), st->decl.id.name,
                           val_type_str(c, declared, b, sizeof b));
            }
        }
        v = val_copy(c, v);
        v->origin = st->span;
        scope_bind(c, s, st->decl.id.name, v, st->kind == AST_PARAM_DECL ? BIND_PARAM : BIND_STATE,
                   st->decl.id.span);
        return;
    }
    case AST_FN: {
        Binding *old = scope_find_local(s, st->def.id.name);
        if (old) {
            sema_error(c, st->def.id.span, "'%s' is already defined in this %s", st->def.id.name,
                       ast_def_kind_name(inst->def->def.def_kind));
            sema_note(c, old->span, "the first definition is here");
            return;
        }
        Value *f = val_new(c, V_FN);
        f->node = st;
        scope_bind(c, s, st->def.id.name, f, BIND_HYPER, st->def.id.span);
        return;
    }
    case AST_ASSIGN:
        if (optimizer) {
            Exec x = {0};
            exec_stmt(c, s, st, &x, false);
            return;
        }
        /* fallthrough */
    default: {
        Exec x = {0};
        exec_stmt(c, s, st, &x, false);
        return;
    }
    }
}

/* ---- optimizers --------------------------------------------------------------------------- */

/* opt.step(loss): checks the optimizer's state initializers and update once per instance,
 * with a parameter of unknown shape. */
void sema_check_update(Checker *c, Instance *inst, Span at)
{
    if (inst->optimizer_checked)
        return;
    inst->optimizer_checked = true;
    const AstNode *def = inst->def;
    Binding *upd = scope_find_local(inst->scope, "update");
    if (!upd || upd->value->kind != V_FN) {
        sema_error(c, at, "optimizer '%s' has no update function", def->def.id.name);
        sema_note(c, def->def.id.span, "'%s' is defined here", def->def.id.name);
        return;
    }
    push_frame(c, at, def->def.id.name);
    bool was = c->in_update;
    c->in_update = true;
    Scope *s = scope_new(c, inst->scope, SCOPE_FN);
    Value *p = val_tensor(c, DT_F32, -1, NULL);
    scope_bind(c, s, "p", p, BIND_VAR, def->def.id.span);
    for (int i = 0; i < def->def.body->list.len; i++) {
        AstNode *st = def->def.body->list.items[i];
        if (st->kind != AST_STATE_DECL)
            continue;
        Value *init = sema_eval(c, s, st->decl.init);
        if (init->kind != V_ERROR && !as_tensor_value(c, init)) {
            char buf[200];
            sema_error(c, st->decl.init->span, "optimizer state must be a tensor, found %s",
                       val_type_str(c, init, buf, sizeof buf));
        }
    }
    const AstNode *fn = upd->value->node;
    if (fn->def.params.len != 2)
        sema_error(c, fn->def.id.span, "an optimizer's update takes two parameters, (p, g)");
    Value *pos[2] = {p, val_tensor(c, DT_F32, -1, NULL)};
    sema_call_fn(c, fn, inst, (AstNode *)fn, pos, fn->def.params.len < 2 ? fn->def.params.len : 2,
                 NULL, NULL, 0);
    c->in_update = was;
    pop_frame(c);
}

/* ---- top level --------------------------------------------------------------------------- */

static void declare_global(Checker *c, AstNode *d)
{
    const char *name = d->def.id.name;
    Binding *old = scope_find_local(c->globals, name);
    if (old) {
        sema_error(c, d->def.id.span, "'%s' is defined more than once", name);
        sema_note(c, old->span, "the first definition is here");
        return;
    }
    if (sema_builtin(name)) {
        sema_error(c, d->def.id.span, "'%s' is a built-in function and cannot be redefined", name);
        return;
    }
    Value *v = val_new(c, d->kind == AST_FN ? V_FN : V_DEF);
    v->node = d;
    scope_bind(c, c->globals, name, v, BIND_DEF, d->def.id.span);
}

/* Checks a definition on its own, with its parameters as symbols. */
static void check_definition(Checker *c, AstNode *d)
{
    bool sup = c->suppress;
    sema_lenient = true;
    for (int i = 0; i < d->def.params.len; i++)
        check_type_names(c, c->globals, d->def.params.items[i]->decl.type);
    check_type_names(c, c->globals, d->def.ret);
    if (d->kind == AST_FN) {
        Scope *s = scope_new(c, c->globals, SCOPE_FN);
        for (int i = 0; i < d->def.params.len; i++) {
            AstNode *p = d->def.params.items[i];
            Value *v = p->decl.type ? value_of_type(c, s, p->decl.type, p->decl.id.name)
                       : p->decl.init ? sema_eval(c, c->globals, p->decl.init)
                                      : val_error(c);
            scope_bind(c, s, p->decl.id.name, v, BIND_VAR, p->decl.id.span);
        }
        Exec x = {0};
        c->runtime = false;
        Value *r = exec_block(c, s, d->def.body, &x);
        if (x.flow == FLOW_RETURN)
            r = x.ret;
        if (d->def.ret && r && r->kind != V_ERROR && r->kind != V_VOID) {
            /* Shapes built from symbols may still agree at every call; only kinds are
             * compared here. */
            Value *want = value_of_type(c, s, d->def.ret, "result");
            if (want->kind != V_ERROR && want->kind != r->kind &&
                !(want->kind == V_TENSOR && val_is_numeric(r)) &&
                !(want->kind == V_FLOAT && r->kind == V_INT)) {
                char a[200], b[200];
                sema_error(c, d->def.body->span, "%s returns %s, but its declared type is %s",
                           d->def.id.name, val_type_str(c, r, a, sizeof a),
                           type_text(d->def.ret, b, sizeof b));
            }
        }
    } else {
        /* A layer with symbolic hyper-parameters: defaults stand in where given. */
        int n = d->def.params.len;
        Value **pos = ARENA_NEW_N(c->arena, Value *, n ? n : 1);
        Scope *tmp = scope_new(c, c->globals, SCOPE_FN);
        for (int i = 0; i < n; i++) {
            AstNode *p = d->def.params.items[i];
            pos[i] = p->decl.type ? value_of_type(c, tmp, p->decl.type, p->decl.id.name)
                     : p->decl.init ? sema_eval(c, c->globals, p->decl.init)
                                    : val_error(c);
        }
        Value *inst = instantiate(c, d, d, pos, n, NULL, NULL, 0);
        if (inst->kind == V_INSTANCE && d->def.def_kind == AST_DEF_OPTIMIZER)
            sema_check_update(c, inst->inst, d->def.id.span);
        if (inst->kind == V_INSTANCE) {
            /* forward with its annotated argument types */
            Binding *f = scope_find_local(inst->inst->scope, "forward");
            if (f && f->value->kind == V_FN) {
                const AstNode *fn = f->value->node;
                int m = fn->def.params.len;
                Value **args = ARENA_NEW_N(c->arena, Value *, m ? m : 1);
                Scope *ts = scope_new(c, inst->inst->scope, SCOPE_FN);
                for (int i = 0; i < m; i++) {
                    AstNode *p = fn->def.params.items[i];
                    args[i] = p->decl.type ? value_of_type(c, ts, p->decl.type, p->decl.id.name)
                                           : val_error(c);
                }
                sema_call_fn(c, fn, inst->inst, (AstNode *)fn, args, m, NULL, NULL, 0);
            }
        }
    }
    c->suppress = sup;
    sema_lenient = false;
}

static void check_train(Checker *c, AstNode *t)
{
    Scope *s = scope_new(c, c->globals, SCOPE_TRAIN);
    for (int i = 0; i < t->def.params.len; i++) {
        AstNode *p = t->def.params.items[i];
        if (!p->decl.init) {
            sema_error(c, p->span, "train settings need a default value: %s = ...",
                       p->decl.id.name);
            continue;
        }
        Value *v = sema_eval(c, c->globals, p->decl.init);
        /* Settings can be overridden on the command line: their values are not known. */
        if (v->kind == V_INT)
            v = val_int_unknown(c, (Dim){0, sema_symbol(c, p->decl.id.name)});
        else if (v->kind == V_FLOAT || v->kind == V_BOOL || v->kind == V_STRING) {
            v = val_copy(c, v);
            v->known = false;
        } else if (v->kind != V_ERROR) {
            char buf[200];
            sema_error(c, p->decl.init->span, "a train setting must be an int, float, bool or "
                                              "string, found %s", val_type_str(c, v, buf, sizeof buf));
            v = val_error(c);
        }
        scope_bind(c, s, p->decl.id.name, v, BIND_VAR, p->decl.id.span);
    }
    c->runtime = true;
    Exec x = {0};
    exec_block(c, s, t->def.body, &x);
    c->runtime = false;
}

static void check_module_items(Checker *c, AstNode *program, bool imported)
{
    for (int i = 0; i < program->list.len; i++) {
        AstNode *st = program->list.items[i];
        if (st->kind == AST_FN || st->kind == AST_DEF) {
            c->has_definitions = true;
            check_definition(c, st);
        } else if (imported && st->kind != AST_IMPORT) {
            sema_error(c, st->span, "only definitions and imports may appear at the top level of "
                                    "an imported module");
        }
    }
}

static void declare_items(Checker *c, AstNode *program)
{
    for (int i = 0; i < program->list.len; i++) {
        AstNode *st = program->list.items[i];
        if (st->kind == AST_FN || st->kind == AST_DEF)
            declare_global(c, st);
    }
}

SemaResult sema_check(AstNode *program, const SemaOptions *opts, Arena *arena, DiagSink *diags)
{
    Checker c = {.arena = arena, .diags = diags, .opts = opts};
    int before = diags->errors;
    c.globals = scope_new(&c, NULL, SCOPE_GLOBAL);
    /* Imported modules share one namespace with the program: declare everything, then
     * check every definition on its own. */
    sema_load_imports(&c, program);
    for (int m = 0; m < c.modules.len; m++)
        declare_items(&c, c.modules.items[m]);
    declare_items(&c, program);
    for (int m = 0; m < c.modules.len; m++)
        check_module_items(&c, c.modules.items[m], true);
    check_module_items(&c, program, false);
    /* The script, then the train block. */
    Scope *script = scope_new(&c, c.globals, SCOPE_SCRIPT);
    for (int i = 0; i < program->list.len; i++) {
        AstNode *st = program->list.items[i];
        switch (st->kind) {
        case AST_FN:
        case AST_DEF:
        case AST_IMPORT: break;
        case AST_TRAIN:
            c.has_definitions = true;
            if (c.train) {
                sema_error(&c, st->span, "a program has at most one train block");
                sema_note(&c, c.train->span, "the first one is here");
                break;
            }
            c.train = st;
            break;
        case AST_PARAM_DECL:
        case AST_STATE_DECL: misplaced(&c, st, "at the top level; it belongs in a layer or model"); break;
        default: {
            Exec x = {0};
            exec_stmt(&c, script, st, &x, false);
            break;
        }
        }
    }
    if (c.train)
        check_train(&c, (AstNode *)c.train);
    sema_flush_frames(&c);
    SemaResult r = {diags->errors - before, c.has_definitions || c.modules.len > 0};
    sema_free_modules(&c);
    util_free(c.symbols);
    util_free(c.reported);
    util_free(c.cache);
    return r;
}
