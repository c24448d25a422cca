/* check.c — the checker proper: statements, expressions, calls and instantiation.
 *
 * Definitions (fn, layer, model, optimizer) are checked twice over: once on their own,
 * with hyper-parameters as symbols and lenient shape comparison (so a generic definition
 * with a provable mistake is reported even if nothing uses it), and again at each use with
 * the actual arguments, where shapes must agree exactly. Run-time code (the train block,
 * loops over batches) is checked once per path, with the variables it changes widened to
 * "unknown" first. */
#include "sema/sema_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>




/* ---- diagnostics -------------------------------------------------------------------- */

/* One error per source place: the same mistake reached again (by another instantiation,
 * or first on its own and then at a use) is not reported twice. */
static uint64_t hash_error(Span at, const char *msg)
{
    (void)msg;
    uint64_t h = 1469598103934665603ull ^ at.lo;
    h = (h ^ (uintptr_t)at.file) * 1099511628211ull;
    return (h ^ at.hi) * 1099511628211ull;
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
        if (c->pending[i].call.file)
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

void sema_push_frame(Checker *c, Span call, const char *what)
{
    /* A definition checked on its own is "called" from itself: no frame to show. */
    if (sema_lenient)
        call = (Span){0};
    if (c->nframes < SEMA_MAX_FRAMES)
        c->frames[c->nframes] = (Frame){call, what};
    c->nframes++;
}

void sema_pop_frame(Checker *c)
{
    sema_flush_frames(c);
    c->nframes--;
}


static void set_type(Checker *c, AstNode *e, const Value *v)
{
    Type *t = ARENA_NEW(c->arena, Type);
    Value lit;
    if (v->kind == V_LIST) {
        /* A nest of numbers is a tensor literal wherever a tensor is expected. */
        lit = (Value){.kind = V_TENSOR};
        if (sema_tensor_view(v, &lit.dtype, &lit.rank, lit.dims))
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
bool sema_tensor_view(const Value *v, int *dtype, int *rank, Dim *dims)
{
    if (v->kind == V_LIST) {
        bool first = true;
        *dtype = DT_F32;
        return numeric_shape(v, 0, rank, dims, &first);
    }
    return val_as_tensor(v, dtype, rank, dims);
}

Value *sema_as_tensor(Checker *c, Value *v)
{
    int dtype, rank;
    Dim dims[IR_MAX_RANK];
    if (v->kind == V_TENSOR)
        return v;
    if (!sema_tensor_view(v, &dtype, &rank, dims))
        return NULL;
    return val_tensor(c, dtype, rank, dims);
}

/* A value usable as a tensor operand, or an error reported at `at`. */
Value *sema_need_tensor(Checker *c, Value *v, Span at)
{
    if (v->kind == V_ERROR)
        return v;
    Value *t = sema_as_tensor(c, v);
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
        sema_error(c, e->span, "ragged tensor literal: expected %lld element%s, found %d",
                   (long long)dims[depth], dims[depth] == 1 ? "" : "s", v->len);
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

/* Whether every innermost item of a nest of lists is a number. */
static bool numeric_leaves(const Value *v)
{
    if (v->kind != V_LIST)
        return val_is_numeric(v);
    for (int i = 0; i < v->len; i++)
        if (!numeric_leaves(v->items[i]))
            return false;
    return true;
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
    if (nested_numbers && !numeric_leaves(v))
        nested_numbers = false; /* rows of strings or tensors: a plain list */
    int depth = 1;
    for (const Value *p = v; p->kind == V_LIST && p->len > 0; p = p->items[0])
        depth++;
    if (nested_numbers && depth > IR_MAX_RANK + 1) {
        sema_error(c, e->span, "a tensor literal has at most %d dimensions", IR_MAX_RANK);
        return val_error(c);
    }
    /* only nests whose innermost items are numbers are tensor literals */
    for (const Value *p = v; nested_numbers && p->kind == V_LIST; p = p->len > 0 ? p->items[0] : NULL) {
        if (p->len == 0)
            break;
        if (p->items[0]->kind != V_LIST && !val_is_numeric(p->items[0]))
            nested_numbers = false;
        if (p->items[0]->kind != V_LIST)
            break;
    }
    bool has_list = false;
    for (int i = 0; i < e->list.len; i++)
        has_list |= v->items[i]->kind == V_LIST;
    int dtype, rank;
    Dim dims[IR_MAX_RANK];
    if (nested_numbers && has_list && !sema_tensor_view(v, &dtype, &rank, dims)) {
        report_ragged(c, e, v);
        return val_error(c);
    }
    return v;
}

/* ---- operators ------------------------------------------------------------------------- */

/* Compile-time integer arithmetic; overflow is an error, as is dividing by zero. */
static Value *int_arith(Checker *c, AstOp op, Value *a, Value *b, Span at)
{
    if (a->known && b->known) {
        int64_t x = a->i, y = b->i, r = 0;
        bool overflow = false;
        switch (op) {
        case AST_OP_ADD: overflow = __builtin_add_overflow(x, y, &r); break;
        case AST_OP_SUB: overflow = __builtin_sub_overflow(x, y, &r); break;
        case AST_OP_MUL: overflow = __builtin_mul_overflow(x, y, &r); break;
        case AST_OP_DIV:
        case AST_OP_MOD: {
            if (y == 0) {
                sema_error(c, at, "integer division by zero");
                return val_error(c);
            }
            if (x == INT64_MIN && y == -1) {
                overflow = op == AST_OP_DIV;
                break; /* the remainder is 0 */
            }
            int64_t q = x / y, m = x % y;
            if (m != 0 && ((m < 0) != (y < 0))) { /* floor division */
                q--;
                m += y;
            }
            r = op == AST_OP_DIV ? q : m;
            break;
        }
        case AST_OP_POW:
            if (y < 0)
                return val_float(c, 0, false);
            r = 1;
            for (int64_t i = 0; i < y && !overflow; i++)
                overflow = __builtin_mul_overflow(r, x, &r);
            break;
        default: return val_int_unknown(c, (Dim){0, sema_symbol(c, "int")});
        }
        if (overflow) {
            sema_error(c, at, "integer overflow: the result does not fit in 64 bits");
            return val_error(c);
        }
        return val_int(c, r);
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
    Value *ta = sema_need_tensor(c, a, e->op.lhs->span), *tb = sema_need_tensor(c, b, e->op.rhs->span);
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
        Value *r = sema_check_size(c, val_tensor(c, DT_F32, rb + 2, batch), e->span);
        if (sema_tracing(c) && r->kind != V_ERROR)
        {
            IrNode *na = sema_node(c, a, e->op.lhs->span); /* left first: a stable graph order */
            IrNode *nb = sema_node(c, b, e->op.rhs->span);
            r = sema_with_node(c, r, sema_trace_matmul(c, e->span, na, nb));
        }
        return r;
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
    Value *result = sema_check_size(c, val_tensor(c, dtype, r, out), e->span);
    if (sema_tracing(c) && result->kind != V_ERROR) {
        static const IrOp ir_ops[] = {
            [AST_OP_ADD] = IR_OP_ADD, [AST_OP_SUB] = IR_OP_SUB, [AST_OP_MUL] = IR_OP_MUL,
            [AST_OP_DIV] = IR_OP_DIV, [AST_OP_POW] = IR_OP_POW, [AST_OP_EQ] = IR_OP_CMP_EQ,
            [AST_OP_NE] = IR_OP_CMP_NE, [AST_OP_LT] = IR_OP_CMP_LT, [AST_OP_LE] = IR_OP_CMP_LE,
            [AST_OP_GT] = IR_OP_CMP_GT, [AST_OP_GE] = IR_OP_CMP_GE,
        };
        if (op == AST_OP_MOD) {
            sema_unsupported(c, e->span, "'%' on tensors");
            return val_error(c);
        }
        IrNode *in[2];
        in[0] = sema_node(c, a, e->op.lhs->span); /* in order: constants join the graph in order */
        in[1] = sema_node(c, b, e->op.rhs->span);
        result = sema_with_node(c, result, sema_trace_op(c, e->span, ir_ops[op], in, 2, NULL));
    }
    return result;
}

/* In a traced train block, a scalar known only at run time is computed by host code: its
 * host expression is made from its operands'. */
static Value *host_scalar(Checker *c, AstOp op, Value *a, Value *b, Value *r, Span at)
{
    if (!sema_training(c) || r->known || r->kind == V_ERROR)
        return r;
    ProgExpr *x = train_host(c, a, (Span){0}), *y = x ? train_host(c, b, (Span){0}) : NULL;
    if (!y)
        return r;
    if (a->kind == V_INT && b->kind == V_INT && (op == AST_OP_DIV || op == AST_OP_MOD))
        r->hx = prog_int_div(c->prog, op, x, y, at); /* floor division, as int_arith */
    else
        r->hx = prog_binary(c->prog, op, x, y);
    return r;
}

/* An int that is a dimension sized by a setting of the program being compiled (a layer
 * width taken from a shape, fan_in(shape)) is that setting's compiled value, so that
 * arithmetic on it stays known at compile time (train_setting_size). */
static Value *compiled_size(Checker *c, Value *v)
{
    int64_t n;
    if (v->kind == V_INT && !v->known && !v->hx && train_setting_size(c, v->dim, &n))
        return val_int(c, n);
    return v;
}

Value *sema_eval_binary(Checker *c, Scope *s, AstNode *e)
{
    Value *a = sema_eval(c, s, e->op.lhs), *b = sema_eval(c, s, e->op.rhs);
    if (a->kind == V_ERROR || b->kind == V_ERROR)
        return val_error(c);
    a = compiled_size(c, a);
    b = compiled_size(c, b);
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
        return host_scalar(c, op, a, b, val_bool(c, r, known), e->span);
    }
    int d1, r1;
    Dim s1[IR_MAX_RANK];
    bool numeric_lists = a->kind == V_LIST && b->kind == V_LIST && a->len > 0 && b->len > 0 &&
                         sema_tensor_view(a, &d1, &r1, s1) && sema_tensor_view(b, &d1, &r1, s1);
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
            return host_scalar(c, op, a, b, compare_scalars(c, op, a, b), e->span);
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
            return host_scalar(c, op, a, b, int_arith(c, op, a, b, e->span), e->span);
        /* float arithmetic: known only when both are known */
        double p = a->kind == V_INT ? (double)a->i : a->f, q = b->kind == V_INT ? (double)b->i : b->f;
        bool known = a->known && b->known;
        double r = 0;
        switch (op) {
        case AST_OP_ADD: r = p + q; break;
        case AST_OP_SUB: r = p - q; break;
        case AST_OP_MUL: r = p * q; break;
        case AST_OP_DIV: r = p / q; break;
        case AST_OP_POW: r = pow(p, q); break;
        case AST_OP_MOD: r = fmod(p, q); break;
        default: known = false; break;
        }
        return host_scalar(c, op, a, b, val_float(c, r, known), e->span);
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
        Value *r = val_bool(c, !v->b, v->known);
        if (sema_training(c) && !v->known && v->hx)
            r->hx = prog_unary(c->prog, AST_OP_NOT, v->hx);
        return r;
    }
    if (v->kind == V_INT) {
        if (v->known && v->i == INT64_MIN) {
            sema_error(c, e->span, "integer overflow: the result does not fit in 64 bits");
            return val_error(c);
        }
        Value *r = v->known ? val_int(c, -v->i) : val_int_unknown(c, dim_sub(c, dim_const(0), v->dim));
        if (sema_training(c) && !v->known && v->hx)
            r->hx = prog_unary(c->prog, AST_OP_NEG, v->hx);
        return r;
    }
    if (v->kind == V_FLOAT) {
        Value *r = val_float(c, -v->f, v->known);
        if (sema_training(c) && !v->known && v->hx)
            r->hx = prog_unary(c->prog, AST_OP_NEG, v->hx);
        return r;
    }
    Value *t = sema_need_tensor(c, v, e->op.lhs->span);
    if (sema_tracing(c) && t->kind == V_TENSOR) {
        IrNode *x = sema_node(c, v, e->op.lhs->span);
        t = sema_with_node(c, t, sema_trace_op(c, e->span, IR_OP_NEG, &x, 1, NULL));
    }
    return t;
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
                m->def = b->value->def;
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
        if (!strcmp(name, "dtype"))
            return val_string(c, o->dtype == DT_I32 ? "i32" : "f32", true);
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
            if (o->data) {
                v->data = ARENA_NEW(c->arena, DataRef);
                *v->data = *o->data;
                v->data->source.test = !strcmp(name, "test");
            }
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
            Value *g = val_tensor(c, t->dtype, r, dims);
            if (sema_tracing(c)) {
                IrNode *in[2];
                in[0] = sema_node(c, t, e->index.object->span); /* in order */
                in[1] = sema_node(c, iv, ix->items[0]->span);
                g = sema_with_node(c, g, sema_trace_op(c, e->span, IR_OP_GATHER, in, 2, NULL));
            }
            return g;
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
    /* For tracing: the slice of every axis ([lo, hi), -1 when not known) */
    int64_t lo_at[IR_MAX_RANK], hi_at[IR_MAX_RANK];
    bool whole[IR_MAX_RANK]; /* the axis is kept whole, whatever its size */
    for (int k = 0; k < t->rank; k++) {
        lo_at[k] = 0;
        hi_at[k] = dim_known(t->dims[k]) ? t->dims[k].n : -1;
        whole[k] = true;
    }
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
            lo_at[axis] = dim_known(a) ? a.n : -1;
            hi_at[axis] = dim_known(b) ? b.n : -1;
            whole[axis] = dim_known(a) && a.n == 0 && !hi;
        } else {
            Value *iv = sema_eval(c, s, it);
            int64_t at;
            if (iv->kind == V_ERROR)
                return iv;
            if (!seq_index(c, iv, it, dim_known(size) ? size.n : -1, &at))
                return val_error(c);
            lo_at[axis] = at;
            hi_at[axis] = at >= 0 ? at + 1 : -1;
            whole[axis] = false;
        }
        axis++;
    }
    while (axis < t->rank)
        out[r++] = t->dims[axis++];
    Value *result = val_tensor(c, t->dtype, r, out);
    if (sema_tracing(c)) {
        IrNode *x = sema_node(c, t, e->index.object->span);
        IrShape shape;
        for (int k = 0; x && k < t->rank; k++) {
            if (whole[k])
                hi_at[k] = x->shape.dims[k];
            if (lo_at[k] < 0 || hi_at[k] < 0) {
                sema_unsupported(c, e->span, "indices known only at run time");
                return val_error(c);
            }
        }
        if (!x || !sema_ir_shape(c, result, e->span, &shape))
            return val_error(c);
        IrNode *sl = ir_slice(c->graph, e->span, x, lo_at, hi_at);
        result = sema_with_node(c, result, ir_shape_eq(&sl->shape, &shape)
                                               ? sl
                                               : ir_reshape(c->graph, e->span, sl, &shape));
    }
    return result;
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
            Value *t = o->kind == V_LIST ? sema_as_tensor(c, o) : NULL;
            if (t && sema_tracing(c))
                t = sema_with_node(c, t, sema_node(c, o, e->index.object->span));
            if (t && t->kind == V_TENSOR)
                return index_tensor(c, s, e, t);
            sema_error(c, e->span, "a %s takes one int index", vkind_name(o->kind));
            return val_error(c);
        }
        Value *iv = sema_eval(c, s, e->index.indices.items[0]);
        int64_t at;
        if (iv->kind == V_ERROR)
            return iv;
        Value *lit = o->kind == V_LIST && iv->kind == V_TENSOR ? sema_as_tensor(c, o) : NULL;
        if (lit) { /* a tensor literal indexed by a tensor: a gather */
            if (sema_tracing(c))
                lit = sema_with_node(c, lit, sema_node(c, o, e->index.object->span));
            return lit->kind == V_TENSOR ? index_tensor(c, s, e, lit) : lit;
        }
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

static void assign_binding(Checker *c, Scope *s, Binding *b, const char *name, Span at, Value *v);

static void assign_name(Checker *c, Scope *s, AstNode *target, Value *v)
{
    const char *name = target->name;
    Binding *b = scope_lookup(s, name);
    if (b && b->kind == BIND_DEF && b == scope_find_local(c->globals, name) &&
        (home_scope(s)->kind == SCOPE_FN || home_scope(s)->kind == SCOPE_BODY))
        b = NULL; /* in a function or layer body a new local shadows a global definition
                     (logsumexp's `m` in the standard library and a user's `model m`) */
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
    assign_binding(c, s, b, name, target->span, v);
}

/* name = v, where name is bound to b (NULL: not bound yet, it binds in s), a variable or a
 * state (of the layer whose body runs, or of an instance: obj.name = v). */
static void assign_binding(Checker *c, Scope *s, Binding *b, const char *name, Span at, Value *v)
{
    char x[200], y[200];
    if (b && !train_path_active(c, b->path))
        b->path = train_path(c); /* assigned on every path through this one */
    if (sema_training(c) && (c->runtime || (b && b->kind == BIND_STATE)) &&
        (!b || b->kind == BIND_VAR || b->kind == BIND_STATE)) {
        /* traced run-time code: host variables and slots (train.c); a loop's own variables
         * are bound anew by each loop */
        if (c->binding_loop_target && b && b->kind == BIND_VAR) {
            b->value = v;
            return;
        }
        if (b && v->kind != V_ERROR && b->value->kind != V_ERROR && !assign_compatible(b->value, v)) {
            sema_error(c, at, "'%s' has type %s, but this assigns %s", name,
                       val_type_str(c, b->value, x, sizeof x), val_type_str(c, v, y, sizeof y));
            sema_note(c, b->span, "'%s' is first assigned here", name);
            return;
        }
        if (v->kind == V_TENSOR && !v->node && !v->has_slot)
            sema_node(c, v, at); /* a literal or number: make its constant here */
        Value *nv = train_assign(c, b, name, v, at);
        if (b) {
            b->value = nv;
        } else {
            Binding *nb = scope_bind(c, home_scope(s), name, nv, BIND_VAR, at);
            if (nv != v && nv->hx && nv->hx->kind == PX_VAR) /* a variable made for it */
                nb->var = nv->hx->index + 1;
        }
        return;
    }
    if (b && (b->kind == BIND_STATE || (c->runtime && b->kind == BIND_VAR))) {
        /* State and run-time variables keep their type: they live in fixed storage. */
        if (v->kind != V_ERROR && b->value->kind != V_ERROR && !assign_compatible(b->value, v)) {
            sema_error(c, at, "'%s' has type %s, but this assigns %s", name,
                       val_type_str(c, b->value, x, sizeof x), val_type_str(c, v, y, sizeof y));
            sema_note(c, b->span, "'%s' is first assigned here", name);
            if (b->kind == BIND_VAR)
                b->value = val_error(c); /* its later uses are not checked again */
            return;
        }
        if (b->kind == BIND_STATE && sema_tracing(c) && v->kind == V_TENSOR &&
            (v->node || v->has_slot)) {
            /* a traced state update: the new value, in the declared shape */
            IrNode *n = sema_node(c, v, at);
            IrShape shape;
            if (!n)
                return;
            if (sema_ir_shape(c, b->value, at, &shape) && !ir_shape_eq(&n->shape, &shape)) {
                IrNode proto = {.shape = shape};
                n = sema_trace_op(c, at, IR_OP_BROADCAST, &n, 1, &proto);
            }
            b->value = sema_with_node(c, b->value, n);
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
    scope_bind(c, home_scope(s), name, v, BIND_VAR, at);
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
        if (b->kind == BIND_STATE && optimizer) {
            sema_error(c, target->span, "cannot assign to '%s': an optimizer's state is kept "
                                        "per parameter, by its update", target->member.field.name);
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
                return;
            }
            if (b->kind == BIND_STATE) { /* as inside the layer: its storage takes the value */
                assign_binding(c, s, b, target->member.field.name, target->span, v);
                return;
            }
            if (val_is_numeric(b->value)) {
                if (sema_training(c) && v->kind != V_ERROR) /* a host variable from now on */
                    b->value = train_assign(c, b, target->member.field.name, v, target->span);
                else
                    b->value = val_join(c, b->value, v);
            }
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

void sema_assign_targets(Checker *c, Scope *s, AstList *targets, Value *v, Span at)
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

/* What an assignment's target names: a variable, or a member of an instance (an optimizer's
 * hyper-parameter opt.lr, a layer's state net.norm.mean), or NULL. */
static Binding *target_binding(Scope *s, const AstNode *t)
{
    if (t->kind == AST_NAME)
        return scope_lookup(s, t->name);
    if (t->kind != AST_MEMBER)
        return NULL;
    Binding *o = target_binding(s, t->member.object);
    if (!o || o->value->kind != V_INSTANCE)
        return NULL;
    return scope_find_local(o->value->inst->scope, t->member.field.name);
}

void sema_for_assigned(Checker *c, Scope *s, AstNode *n, void (*fn)(Checker *, Binding *))
{
    if (!n)
        return;
    switch (n->kind) {
    case AST_ASSIGN:
        for (int i = 0; i < n->assign.targets.len; i++) {
            AstNode *t = n->assign.targets.items[i];
            Binding *b = target_binding(s, t);
            if (b)
                fn(c, b);
        }
        return;
    case AST_BLOCK:
        for (int i = 0; i < n->list.len; i++)
            sema_for_assigned(c, s, n->list.items[i], fn);
        return;
    case AST_FOR: sema_for_assigned(c, s, n->loop.body, fn); return;
    case AST_WHILE: sema_for_assigned(c, s, n->cond.then, fn); return;
    case AST_EXPR_STMT: sema_for_assigned(c, s, n->expr, fn); return;
    case AST_IF:
        sema_for_assigned(c, s, n->cond.then, fn);
        sema_for_assigned(c, s, n->cond.els, fn);
        return;
    default: return;
    }
}

/* Before a run-time loop, the scalars its body assigns become unknown, so what the checker
 * knows holds for every iteration. */
static void widen_one(Checker *c, Binding *b)
{
    if (b->kind != BIND_VAR)
        return;
    switch (b->value->kind) {
    case V_INT: b->value = val_join(c, b->value, val_int_unknown(c, (Dim){0, sema_symbol(c, "int")})); return;
    case V_FLOAT: b->value = val_join(c, b->value, val_float(c, 0, false)); return;
    case V_BOOL: b->value = val_join(c, b->value, val_bool(c, false, false)); return;
    default: return;
    }
}

static void widen_assigned(Checker *c, Scope *s, AstNode *body) { sema_for_assigned(c, s, body, widen_one); }

static void bind_loop_targets(Checker *c, Scope *s, AstNode *loop, Value *item)
{
    sema_assign_targets(c, s, &loop->loop.targets, item, loop->loop.targets.items[0]->span);
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
        sema_exec_block(c, s, st->loop.body, &x);
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
            sema_exec_block(c, s, st->loop.body, &x);
            if (x.flow == FLOW_BREAK)
                break;
            if (x.flow == FLOW_RETURN) {
                c->loop_depth--;
                return FLOW_RETURN;
            }
        }
    } else {
        if (sema_training(c)) { /* a host loop around regions */
            c->loop_depth--;
            bool was_runtime = c->runtime;
            c->runtime = true;
            Flow f = train_for(c, s, st, src);
            c->runtime = was_runtime;
            return f;
        }
        if (sema_tracing(c)) {
            sema_unsupported(c, st->loop.iter->span, "loops that run at run time");
            c->loop_depth--;
            return FLOW_NORMAL;
        }
        bool was_runtime = c->runtime;
        c->runtime = true;
        widen_assigned(c, s, st->loop.body);
        bind_loop_targets(c, s, st, iter_item(c, &it, -1));
        Exec x = {0};
        train_path_enter(c); /* the body may not run (Binding.path) */
        sema_exec_block(c, s, st->loop.body, &x);
        train_path_leave(c);
        c->runtime = was_runtime;
    }
    c->loop_depth--;
    return FLOW_NORMAL;
}

/* ---- expressions ----------------------------------------------------------------------------- */

static Value *eval_name(Checker *c, Scope *s, AstNode *e)
{
    for (Scope *in = s; in; in = in->parent) {
        Binding *b = scope_find_local(in, e->name);
        if (!b)
            continue;
        if (in->kind == SCOPE_TRAIN && !train_path_active(c, b->path) && b->kind == BIND_VAR) {
            sema_error(c, e->span, "'%s' may have no value here: it is assigned only in a "
                                   "run-time loop or branch, which may not run", e->name);
            sema_note(c, b->span, "'%s' is first assigned here", e->name);
            return val_error(c);
        }
        /* A sibling method named inside a layer's code is a method of that instance. */
        if (b->value->kind == V_FN && in->kind == SCOPE_BODY && in->inst) {
            Value *m = val_new(c, V_METHOD);
            m->def = b->value->def;
            m->inst = in->inst;
            return m;
        }
        return b->value;
    }
    const Builtin *bi = sema_builtin(e->name);
    if (bi) {
        Value *v = val_new(c, V_BUILTIN);
        v->builtin = bi;
        return v;
    }
    if (!strcmp(e->name, "training")) {
        /* while tracing, the mode of the instance whose method runs (scripts: eval) */
        if (sema_training(c))
            for (Scope *in = s; in; in = in->parent)
                if (in->kind == SCOPE_BODY && in->inst)
                    return val_bool(c, in->inst->training, true);
        return val_bool(c, false, sema_tracing(c));
    }
    if (!strcmp(e->name, "step") && c->in_update) {
        if (sema_tracing(c) && !c->update_step_hx)
            return val_int(c, c->update_step);
        Value *v = val_int_unknown(c, (Dim){0, sema_symbol(c, "step")});
        v->hx = sema_tracing(c) ? c->update_step_hx : NULL;
        v->i = c->update_step; /* what shapes would use (none do) */
        return v;
    }
    sema_error(c, e->span, "unknown name '%s'", e->name);
    return val_error(c);
}

/* The expression a branch of an if-expression reduces to: its block's only statement. */
static AstNode *branch_expr(AstNode *b)
{
    if (b->kind == AST_IF)
        return b;
    if (b->kind == AST_BLOCK && b->list.len == 1 && b->list.items[0]->kind == AST_EXPR_STMT)
        return b->list.items[0]->expr;
    return NULL;
}

static bool pure_list(Scope *s, const AstList *l, int depth);

/* Can evaluating e have an effect (print, log, save, load, an optimizer step, a layer's
 * call, which may update its state, an assignment to anything but a local name)? host_if
 * evaluates both branches, so it may take only branches for which this says no. A function
 * called by name is looked into (to a bounded depth); anything not known to be pure is not. */
static bool pure_expr(Scope *s, const AstNode *e, int depth)
{
    if (!e)
        return true;
    if (depth > 8)
        return false;
    switch (e->kind) {
    case AST_INT: case AST_FLOAT: case AST_STRING: case AST_BOOL: case AST_NAME:
    case AST_ELLIPSIS: case AST_BREAK: case AST_CONTINUE:
        return true;
    case AST_LIST: case AST_TUPLE: case AST_BLOCK:
        return pure_list(s, &e->list, depth);
    case AST_UNARY: case AST_BINARY:
        return pure_expr(s, e->op.lhs, depth) && pure_expr(s, e->op.rhs, depth);
    case AST_RANGE: case AST_SLICE:
        return pure_expr(s, e->range.lo, depth) && pure_expr(s, e->range.hi, depth);
    case AST_MEMBER:
        return pure_expr(s, e->member.object, depth);
    case AST_INDEX:
        return pure_expr(s, e->index.object, depth) && pure_list(s, &e->index.indices, depth);
    case AST_IF:
        return pure_expr(s, e->cond.cond, depth) && pure_expr(s, e->cond.then, depth) &&
               pure_expr(s, e->cond.els, depth);
    case AST_COMPREHENSION: case AST_FOR:
        return pure_expr(s, e->loop.iter, depth) && pure_expr(s, e->loop.body, depth);
    case AST_WHILE:
        return pure_expr(s, e->cond.cond, depth) && pure_expr(s, e->cond.then, depth);
    case AST_ARG:
        return pure_expr(s, e->arg.value, depth);
    case AST_EXPR_STMT: case AST_RETURN:
        return pure_expr(s, e->expr, depth);
    case AST_ASSIGN:
        for (int i = 0; i < e->assign.targets.len; i++)
            if (e->assign.targets.items[i]->kind != AST_NAME)
                return false;
        return pure_expr(s, e->assign.value, depth);
    case AST_CALL: {
        if (!pure_list(s, &e->call.args, depth) || e->call.callee->kind != AST_NAME)
            return false;
        const char *name = e->call.callee->name;
        Binding *b = scope_lookup(s, name);
        if (b && b->value->kind == V_FN && b->value->def && b->value->def->kind == AST_FN)
            return pure_expr(s, b->value->def->def.body, depth + 1);
        if (b && b->value->kind != V_BUILTIN)
            return false;
        const Builtin *bi = b ? b->value->builtin : sema_builtin(name);
        if (!bi)
            return false;
        static const char *const effects[] = {"print", "log", "save", "load"};
        for (size_t i = 0; i < sizeof effects / sizeof *effects; i++)
            if (!strcmp(bi->name, effects[i]))
                return false;
        return true;
    }
    case AST_PARAM_DECL: case AST_STATE_DECL: case AST_IMPORT: case AST_FN: case AST_DEF:
    case AST_TRAIN: case AST_PARAM: case AST_TYPE_NAME: case AST_TYPE_TENSOR:
    case AST_TYPE_LIST: case AST_TYPE_TUPLE: case AST_PROGRAM:
        return false;
    }
    UNREACHABLE();
}

static bool pure_list(Scope *s, const AstList *l, int depth)
{
    for (int i = 0; i < l->len; i++)
        if (!pure_expr(s, l->items[i], depth))
            return false;
    return true;
}

/* `if c { a } else { b }` in host code, with c known only at run time and branches without
 * effects: a select between two host scalars. NULL when the branches are anything else
 * (train_if runs them as host code, only the branch taken). */
static Value *host_if(Checker *c, Scope *s, AstNode *e, Value *cond)
{
    AstNode *ta = branch_expr(e->cond.then), *tb = branch_expr(e->cond.els);
    if (!ta || !tb || !pure_expr(s, ta, 0) || !pure_expr(s, tb, 0))
        return NULL;
    Value *a = sema_eval(c, s, ta), *b = sema_eval(c, s, tb);
    bool scalars = (val_is_numeric(a) || a->kind == V_BOOL) && (val_is_numeric(b) || b->kind == V_BOOL);
    if (!scalars)
        return NULL;
    ProgExpr *x = train_host(c, a, ta->span), *y = x ? train_host(c, b, tb->span) : NULL;
    if (!y)
        return val_error(c);
    Value *r = val_copy(c, val_join(c, a, b));
    r->known = false;
    r->hx = prog_select(c->prog, cond->hx, x, y);
    return r;
}

static Value *eval_if(Checker *c, Scope *s, AstNode *e)
{
    Value *cond = sema_eval(c, s, e->cond.cond);
    char buf[200];
    if (cond->kind == V_TENSOR && cond->rank == 0) {
        /* a scalar tensor (a metric compared with a best so far): true when nonzero, known
         * only at run time; a train program reads it into host code */
        ProgExpr *h = sema_training(c) ? train_host(c, cond, e->cond.cond->span) : NULL;
        cond = val_bool(c, false, false);
        cond->hx = h;
    }
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
        return branch->kind == AST_BLOCK ? sema_exec_block(c, s, branch, &x) : sema_eval(c, s, branch);
    }
    if (sema_training(c) && cond->kind == V_BOOL && cond->hx && e->cond.els) {
        /* a host value chosen at run time: both branches are single host expressions */
        Value *r = host_if(c, s, e, cond);
        if (r)
            return r;
    }
    if (sema_training(c) && cond->kind == V_BOOL && cond->hx)
        return train_if(c, s, e, cond);
    if (sema_tracing(c) && cond->kind == V_BOOL) {
        sema_unsupported(c, e->cond.cond->span, "conditions known only at run time");
        return val_error(c);
    }
    Exec x = {0}, y = {0};
    int nthen, else_path = 0;
    train_path_enter(c); /* either branch may not run (Binding.path) */
    int then_path = train_path(c);
    Value *a = sema_exec_block(c, s, e->cond.then, &x);
    const char **then_names = train_path_names(c, s, then_path, &nthen);
    train_path_leave(c);
    if (!e->cond.els)
        return val_void(c);
    train_path_enter(c);
    else_path = train_path(c);
    Value *b = e->cond.els->kind == AST_BLOCK ? sema_exec_block(c, s, e->cond.els, &y)
                                              : sema_eval(c, s, e->cond.els);
    train_path_leave(c);
    train_path_join(c, s, then_names, nthen, else_path);
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
        sema_assign_targets(c, inner, &e->loop.targets, iter_item(c, &it, -1), e->span);
        list->len = -1;
        list->elem = sema_eval(c, inner, e->loop.body);
        return list;
    }
    list->len = (int)it.count;
    list->items = ARENA_NEW_N(c->arena, Value *, it.count ? it.count : 1);
    for (int64_t i = 0; i < it.count; i++) {
        sema_assign_targets(c, inner, &e->loop.targets, iter_item(c, &it, i), e->span);
        list->items[i] = sema_eval(c, inner, e->loop.body);
    }
    return list;
}

static Value *eval_expr(Checker *c, Scope *s, AstNode *e);

Value *sema_eval(Checker *c, Scope *s, AstNode *e)
{
    if (c->eval_depth >= SEMA_MAX_EVAL_DEPTH) {
        sema_error(c, e->span, "expression nested too deeply (more than %d levels, counting "
                               "the calls it makes)", SEMA_MAX_EVAL_DEPTH);
        return val_error(c);
    }
    c->eval_depth++;
    Value *v = eval_expr(c, s, e);
    c->eval_depth--;
    return v;
}

static Value *eval_expr(Checker *c, Scope *s, AstNode *e)
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
    case AST_BINARY: v = sema_eval_binary(c, s, e); break;
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
    case AST_CALL: v = sema_eval_call(c, s, e); break;
    case AST_MEMBER: v = eval_member(c, s, e); break;
    case AST_INDEX: v = eval_index(c, s, e); break;
    case AST_IF: v = eval_if(c, s, e); break;
    case AST_BLOCK: {
        Exec x = {0};
        v = sema_exec_block(c, s, e, &x);
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
    case AST_DEF:
        return st->def.def_kind == AST_DEF_LAYER   ? "a layer definition"
               : st->def.def_kind == AST_DEF_MODEL ? "a model definition"
                                                   : "an optimizer definition";
    case AST_TRAIN: return "a train block";
    default: return "this statement";
    }
}

void sema_misplaced(Checker *c, AstNode *st, const char *where)
{
    sema_error(c, st->span, "%s is not allowed %s", placement_name(st), where);
}

Flow sema_exec_stmt(Checker *c, Scope *s, AstNode *st, Exec *x, bool is_last)
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
            v = sema_eval_binary(c, s, &tmp);
        }
        sema_assign_targets(c, s, &st->assign.targets, v, st->span);
        x->last = val_void(c);
        return FLOW_NORMAL;
    }
    case AST_FOR: return exec_for(c, s, st);
    case AST_WHILE: {
        if (sema_training(c))
            return train_while(c, s, st);
        if (sema_tracing(c)) {
            sema_unsupported(c, st->span, "while loops");
            return FLOW_NORMAL;
        }
        Value *cond = sema_eval(c, s, st->cond.cond);
        bool scalar_tensor = cond->kind == V_TENSOR && cond->rank == 0; /* as in if */
        if (cond->kind != V_BOOL && cond->kind != V_ERROR && !scalar_tensor)
            sema_error(c, st->cond.cond->span, "a condition must be a bool, found %s",
                       val_type_str(c, cond, buf, sizeof buf));
        bool was_runtime = c->runtime;
        c->runtime = true;
        widen_assigned(c, s, st->cond.then);
        c->loop_depth++;
        Exec y = {0};
        train_path_enter(c); /* the body may not run (Binding.path) */
        sema_exec_block(c, s, st->cond.then, &y);
        train_path_leave(c);
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
        if (sema_training(c) && c->runtime) { /* a host loop's break or continue */
            train_close_region(c);
            prog_stmt(c->prog, c->block, st->kind == AST_BREAK ? PS_BREAK : PS_CONTINUE, st->span);
        }
        return x->flow = st->kind == AST_BREAK ? FLOW_BREAK : FLOW_CONTINUE;
    case AST_PARAM_DECL: sema_misplaced(c, st, "here; parameters belong directly in a layer or model"); return FLOW_NORMAL;
    case AST_STATE_DECL: sema_misplaced(c, st, "here; state belongs directly in a layer, model or optimizer"); return FLOW_NORMAL;
    case AST_IMPORT: sema_misplaced(c, st, "here; imports belong at the top of a file"); return FLOW_NORMAL;
    case AST_FN: sema_misplaced(c, st, "here; functions are defined at the top level or in a layer, model or optimizer"); return FLOW_NORMAL;
    case AST_DEF:
    case AST_TRAIN: sema_misplaced(c, st, "here; it must be at the top level"); return FLOW_NORMAL;
    default:
        sema_error(c, st->span, "this is not a statement");
        return FLOW_NORMAL;
    }
}

Value *sema_exec_block(Checker *c, Scope *s, AstNode *block, Exec *x)
{
    x->last = val_void(c);
    if (block->kind != AST_BLOCK)
        return sema_eval(c, s, block);
    for (int i = 0; i < block->list.len; i++) {
        AstNode *st = block->list.items[i];
        x->last = val_void(c);
        Flow f = sema_exec_stmt(c, s, st, x, i == block->list.len - 1);
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
