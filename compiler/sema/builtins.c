/* builtins.c — the built-in functions (docs/language.md §7): their parameters and how each
 * call's result type and shape follow from its arguments. */
#include "sema/sema_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

void sema_check_update(Checker *c, Instance *inst, Span at);

static char tbuf[2][256];
static const char *ty(Checker *c, const Value *v, int i) { return val_type_str(c, v, tbuf[i], sizeof tbuf[i]); }

static Span arg_span(CallArgs *a, int i) { return a->e[i] ? a->e[i]->span : a->call->span; }

static SemaCall *resolve(Checker *c, CallArgs *a, const Builtin *b)
{
    SemaCall *sc = ARENA_NEW(c->arena, SemaCall);
    sc->kind = b->lower;
    sc->op = b->op;
    for (int i = 0; i < SEMA_MAX_PARAMS; i++)
        sc->args[i] = a->e[i];
    if (a->call->kind == AST_CALL)
        a->call->call.resolved = sc;
    return sc;
}

/* A tensor view of argument i (numbers are f32[]); reports and returns NULL otherwise. */
static Value *tensor_arg(Checker *c, CallArgs *a, int i, const char *what)
{
    Value *v = a->v[i];
    if (!v || v->kind == V_ERROR)
        return NULL;
    int dtype, rank;
    Dim dims[IR_MAX_RANK];
    if (v->kind == V_LIST) {
        /* a numeric list literal */
        Value *t = val_new(c, V_TENSOR);
        bool ok = true;
        int r = 0;
        const Value *cur = v;
        while (cur->kind == V_LIST && r < IR_MAX_RANK) {
            if (cur->len < 0) {
                ok = false;
                break;
            }
            dims[r++] = dim_const(cur->len);
            if (cur->len == 0)
                break;
            cur = cur->items[0];
        }
        if (ok && (cur->kind == V_INT || cur->kind == V_FLOAT || (cur->kind == V_LIST && cur->len == 0))) {
            t->dtype = DT_F32;
            t->rank = r;
            for (int k = 0; k < r; k++)
                t->dims[k] = dims[k];
            return t;
        }
    } else if (val_as_tensor(v, &dtype, &rank, dims)) {
        return val_tensor(c, dtype, rank, dims);
    }
    sema_error(c, arg_span(a, i), "%s expects a tensor, found %s", what, ty(c, v, 0));
    return NULL;
}

static bool int_arg(Checker *c, CallArgs *a, int i, const char *what, bool need_known, int64_t *out)
{
    Value *v = a->v[i];
    if (!v || v->kind == V_ERROR)
        return false;
    if (v->kind != V_INT) {
        sema_error(c, arg_span(a, i), "%s expects an int here, found %s", what, ty(c, v, 0));
        return false;
    }
    if (need_known && !v->known) {
        sema_error(c, arg_span(a, i), "%s needs this int at compile time", what);
        return false;
    }
    *out = v->i;
    return true;
}

static bool number_arg(Checker *c, CallArgs *a, int i, const char *what)
{
    Value *v = a->v[i];
    if (!v || v->kind == V_ERROR)
        return true;
    if (!val_is_numeric(v) && !(v->kind == V_TENSOR && v->rank == 0)) {
        sema_error(c, arg_span(a, i), "%s expects a number here, found %s", what, ty(c, v, 0));
        return false;
    }
    return true;
}

/* A shape: a list or tuple of ints (known or symbolic). */
static bool shape_arg(Checker *c, CallArgs *a, int i, const char *what, int *rank, Dim *dims)
{
    Value *v = a->v[i];
    if (!v || v->kind == V_ERROR)
        return false;
    if (v->kind == V_INT) {
        if (v->known && v->i < 0) {
            sema_error(c, arg_span(a, i), "%s: a size cannot be negative (%lld)", what,
                       (long long)v->i);
            return false;
        }
        *rank = 1;
        dims[0] = v->dim;
        return true;
    }
    if (v->kind == V_LIST && v->len < 0 && (!v->elem || v->elem->kind == V_INT ||
                                            v->elem->kind == V_ERROR)) {
        *rank = -1; /* a shape of unknown length */
        return true;
    }
    if ((v->kind == V_LIST || v->kind == V_TUPLE) && v->len >= 0 && v->len <= IR_MAX_RANK) {
        for (int k = 0; k < v->len; k++) {
            if (v->items[k]->kind == V_ERROR)
                return false;
            if (v->items[k]->kind != V_INT) {
                sema_error(c, arg_span(a, i), "%s expects a shape (a list of ints), found %s", what,
                           ty(c, v, 0));
                return false;
            }
            dims[k] = v->items[k]->dim;
            if (dim_known(dims[k]) && dims[k].n < 0 && strcmp(what, "reshape")) {
                sema_error(c, arg_span(a, i), "%s: a size cannot be negative (%lld)", what,
                           (long long)dims[k].n);
                return false;
            }
        }
        *rank = v->len;
        return true;
    }
    sema_error(c, arg_span(a, i), "%s expects a shape (a list of ints), found %s", what, ty(c, v, 0));
    return false;
}

/* axis = A: an int or a list of ints, negative from the end; none: every axis. */
static bool axes_arg(Checker *c, CallArgs *a, int i, int rank, uint32_t *mask, const char *what)
{
    Value *v = a->v[i];
    *mask = 0;
    if (!v) {
        *mask = rank > 0 ? (1u << rank) - 1 : 0;
        return true;
    }
    if (v->kind == V_ERROR)
        return false;
    Value *items[IR_MAX_RANK];
    int n = 0;
    if (v->kind == V_INT)
        items[n++] = v;
    else if ((v->kind == V_LIST || v->kind == V_TUPLE) && v->len >= 0 && v->len <= IR_MAX_RANK)
        for (int k = 0; k < v->len; k++)
            items[n++] = v->items[k];
    else {
        sema_error(c, arg_span(a, i), "axis must be an int or a list of ints");
        return false;
    }
    for (int k = 0; k < n; k++) {
        if (items[k]->kind == V_INT && !items[k]->known && sema_lenient) {
            *mask = rank > 0 ? (1u << rank) - 1 : 0; /* checked exactly at each use */
            return true;
        }
        if (items[k]->kind != V_INT) {
            sema_error(c, arg_span(a, i), "axis must be an int or a list of ints");
            return false;
        }
        if (!items[k]->known) {
            sema_error(c, arg_span(a, i), "axis must be known at compile time");
            return false;
        }
        if (rank < 0)
            continue;
        int64_t ax = items[k]->i < 0 ? items[k]->i + rank : items[k]->i;
        if (ax < 0 || ax >= rank) {
            sema_error(c, arg_span(a, i), "axis %lld is out of range for a tensor of rank %d",
                       (long long)items[k]->i, rank);
            return false;
        }
        if (*mask & (1u << ax)) {
            sema_error(c, arg_span(a, i), "axis %lld is given twice", (long long)items[k]->i);
            return false;
        }
        *mask |= 1u << ax;
    }
    return true;
}

/* Argument i, when given, is a value of `kind` (a bool, a string): else an error. */
static bool kind_arg(Checker *c, CallArgs *a, int i, const char *what, VKind kind,
                     const char *kind_name)
{
    Value *v = a->v[i];
    if (!v || v->kind == V_ERROR || v->kind == kind)
        return true;
    sema_error(c, arg_span(a, i), "%s expects a %s here, found %s", what, kind_name, ty(c, v, 0));
    return false;
}

static bool bool_arg(Checker *c, CallArgs *a, int i, const char *what)
{
    return kind_arg(c, a, i, what, V_BOOL, "bool");
}

static bool string_arg(Checker *c, CallArgs *a, int i, const char *what)
{
    return kind_arg(c, a, i, what, V_STRING, "string");
}

static Value *instance_arg(Checker *c, CallArgs *a, int i, const char *what)
{
    Value *v = a->v[i];
    if (!v || v->kind == V_ERROR)
        return NULL;
    if (v->kind != V_INSTANCE || v->inst->def->def.def_kind == AST_DEF_OPTIMIZER) {
        sema_error(c, arg_span(a, i), "%s expects a layer or model, found %s", what, ty(c, v, 0));
        return NULL;
    }
    return v;
}

/* ---- checks --------------------------------------------------------------------------- */

static Value *b_print(Checker *c, CallArgs *a, const Builtin *b)
{
    Value *v = a->v[0];
    if (v->kind == V_ERROR)
        return val_void(c);
    if (v->kind == V_STRING || val_is_numeric(v) || v->kind == V_BOOL || v->kind == V_TENSOR ||
        v->kind == V_TUPLE || v->kind == V_LIST) {
        resolve(c, a, b);
        return val_void(c);
    }
    if (tensor_arg(c, a, 0, "print")) {
        resolve(c, a, b);
        return val_void(c);
    }
    return val_void(c);
}

static Value *b_grad(Checker *c, CallArgs *a, const Builtin *b)
{
    Value *y = tensor_arg(c, a, 0, "grad"), *w = tensor_arg(c, a, 1, "grad");
    if (!y || !w)
        return val_error(c);
    if (y->rank != 0 && y->rank >= 0) {
        sema_error(c, arg_span(a, 0), "grad differentiates a scalar, but this is %s (use sum or "
                                      "mean)", ty(c, y, 0));
        return val_error(c);
    }
    if (w->dtype != DT_F32) {
        sema_error(c, arg_span(a, 1), "grad is taken with respect to an f32 tensor, not %s",
                   ty(c, w, 0));
        return val_error(c);
    }
    if (a->e[1] && a->e[1]->kind != AST_NAME && a->e[1]->kind != AST_MEMBER) {
        sema_error(c, arg_span(a, 1), "grad is taken with respect to a named tensor or a parameter");
        return val_error(c);
    }
    resolve(c, a, b);
    return w;
}

/* Math on numbers known at compile time is computed at compile time (the result is a
 * number, so glorot's sqrt(6 / fan) stays a float the initializer can use). */
static Value *fold_number(Checker *c, const Builtin *b, const Value *v)
{
    double x = v->kind == V_INT ? (double)v->i : v->f, r;
    if (!strcmp(b->name, "exp"))
        r = exp(x);
    else if (!strcmp(b->name, "log"))
        r = log(x);
    else if (!strcmp(b->name, "sqrt"))
        r = sqrt(x);
    else if (!strcmp(b->name, "tanh"))
        r = tanh(x);
    else if (!strcmp(b->name, "sigmoid"))
        r = 1 / (1 + exp(-x));
    else if (!strcmp(b->name, "relu"))
        r = x > 0 ? x : 0;
    else if (!strcmp(b->name, "abs"))
        r = fabs(x);
    else if (!strcmp(b->name, "floor"))
        r = floor(x);
    else if (!strcmp(b->name, "sign"))
        r = (x > 0) - (x < 0);
    else
        return NULL;
    return val_float(c, r, true);
}

static Value *b_unary(Checker *c, CallArgs *a, const Builtin *b)
{
    if (val_is_numeric(a->v[0]) && a->v[0]->known) {
        Value *r = fold_number(c, b, a->v[0]);
        if (r)
            return r;
    }
    Value *x = tensor_arg(c, a, 0, b->name);
    if (!x)
        return val_error(c);
    if (x->dtype != DT_F32 && strcmp(b->name, "abs") && strcmp(b->name, "sign")) {
        sema_error(c, arg_span(a, 0), "%s expects an f32 tensor, found %s (convert with float)",
                   b->name, ty(c, x, 0));
        return val_error(c);
    }
    resolve(c, a, b);
    return x;
}

static Value *broadcast_args(Checker *c, CallArgs *a, const Builtin *b, int n)
{
    Value *r = NULL;
    for (int i = 0; i < n; i++) {
        Value *t = tensor_arg(c, a, i, b->name);
        if (!t)
            return val_error(c);
        if (!r) {
            r = t;
            continue;
        }
        if (r->rank < 0 || t->rank < 0) {
            r = val_tensor(c, DT_F32, -1, NULL);
            continue;
        }
        int rank;
        Dim out[IR_MAX_RANK];
        if (!sema_broadcast(r->rank, r->dims, t->rank, t->dims, &rank, out)) {
            sema_error(c, a->call->span, "the arguments of %s do not broadcast: %s and %s", b->name,
                       ty(c, r, 0), ty(c, t, 1));
            sema_note(c, arg_span(a, i - 1), "'%s' is %s", b->params[i - 1], ty(c, r, 0));
            sema_note(c, arg_span(a, i), "'%s' is %s", b->params[i], ty(c, t, 1));
            return val_error(c);
        }
        r = val_tensor(c, DT_F32, rank, out);
    }
    resolve(c, a, b);
    return r;
}

static Value *b_binary(Checker *c, CallArgs *a, const Builtin *b)
{
    Value *x = a->v[0], *y = a->v[1];
    if (val_is_numeric(x) && val_is_numeric(y) && x->known && y->known) {
        double p = x->kind == V_INT ? (double)x->i : x->f, q = y->kind == V_INT ? (double)y->i : y->f;
        bool max = !strcmp(b->name, "maximum");
        if (x->kind == V_INT && y->kind == V_INT)
            return val_int(c, max ? (x->i > y->i ? x->i : y->i) : (x->i < y->i ? x->i : y->i));
        return val_float(c, max ? fmax(p, q) : fmin(p, q), true);
    }
    return broadcast_args(c, a, b, 2);
}
static Value *b_where(Checker *c, CallArgs *a, const Builtin *b) { return broadcast_args(c, a, b, 3); }

static Value *b_clip(Checker *c, CallArgs *a, const Builtin *b)
{
    Value *x = tensor_arg(c, a, 0, b->name);
    if (!x || !number_arg(c, a, 1, b->name) || !number_arg(c, a, 2, b->name))
        return val_error(c);
    return x;
}

static Value *b_float(Checker *c, CallArgs *a, const Builtin *b)
{
    Value *v = a->v[0];
    if (v->kind == V_ERROR)
        return v;
    if (v->kind == V_INT) {
        Value *r = val_float(c, (double)v->i, v->known);
        r->hx = v->hx; /* host code computes in doubles already */
        return r;
    }
    if (v->kind == V_FLOAT)
        return v;
    Value *t = tensor_arg(c, a, 0, b->name);
    if (!t)
        return val_error(c);
    Value *r = val_copy(c, t);
    r->dtype = DT_F32;
    return r;
}

static Value *b_int(Checker *c, CallArgs *a, const Builtin *b)
{
    Value *v = a->v[0];
    if (v->kind == V_ERROR || v->kind == V_INT)
        return v;
    if (v->kind == V_FLOAT) {
        if (v->known)
            return val_int(c, (int64_t)v->f);
        Value *r = val_int_unknown(c, (Dim){0, sema_symbol(c, "int")});
        if (sema_training(c) && v->hx)
            r->hx = prog_unary(c->prog, PX_OP_TRUNC, v->hx); /* as (int64_t)v->f above */
        return r;
    }
    Value *t = tensor_arg(c, a, 0, b->name);
    if (!t)
        return val_error(c);
    Value *r = val_copy(c, t);
    r->dtype = DT_I32;
    return r;
}

static Value *reduce_result(Checker *c, Value *x, uint32_t mask, bool keep, int dtype)
{
    if (x->rank < 0)
        return val_tensor(c, dtype, -1, NULL);
    Dim out[IR_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        if (!(mask & (1u << i)))
            out[r++] = x->dims[i];
        else if (keep)
            out[r++] = dim_const(1);
    }
    return val_tensor(c, dtype, r, out);
}

static Value *b_reduce(Checker *c, CallArgs *a, const Builtin *b)
{
    Value *x = tensor_arg(c, a, 0, b->name);
    uint32_t mask;
    if (!x || !axes_arg(c, a, 1, x->rank, &mask, b->name) || !bool_arg(c, a, 2, b->name))
        return val_error(c);
    bool keep = a->v[2] && a->v[2]->b;
    SemaCall *sc = resolve(c, a, b);
    sc->axes = mask;
    if (keep)
        sc->kind = SEMA_OTHER;
    return reduce_result(c, x, mask, keep, strcmp(b->name, "argmax") ? x->dtype : DT_I32);
}

static Value *b_transpose(Checker *c, CallArgs *a, const Builtin *b)
{
    Value *x = tensor_arg(c, a, 0, b->name);
    if (!x)
        return val_error(c);
    if (x->rank < 0)
        return x;
    SemaCall *sc = resolve(c, a, b);
    Dim out[IR_MAX_RANK];
    if (!a->v[1]) {
        for (int i = 0; i < x->rank; i++)
            sc->perm[i] = x->rank - 1 - i;
    } else {
        Value *p = a->v[1];
        bool ok = (p->kind == V_LIST || p->kind == V_TUPLE) && p->len == x->rank;
        uint32_t seen = 0;
        for (int i = 0; ok && i < p->len; i++) {
            Value *k = p->items[i];
            ok = k->kind == V_INT && k->known && k->i >= 0 && k->i < x->rank && !(seen & (1u << k->i));
            if (ok) {
                seen |= 1u << k->i;
                sc->perm[i] = (int)k->i;
            }
        }
        if (!ok) {
            if (p->kind != V_ERROR)
                sema_error(c, arg_span(a, 1), "perm must be a permutation of 0..%d", x->rank - 1);
            return val_error(c);
        }
    }
    for (int i = 0; i < x->rank; i++)
        out[i] = x->dims[sc->perm[i]];
    return val_tensor(c, x->dtype, x->rank, out);
}

static Value *b_reshape(Checker *c, CallArgs *a, const Builtin *b)
{
    Value *x = tensor_arg(c, a, 0, b->name);
    int rank;
    Dim d[IR_MAX_RANK];
    if (!x || !shape_arg(c, a, 1, b->name, &rank, d))
        return val_error(c);
    if (rank < 0) {
        resolve(c, a, b)->kind = SEMA_OTHER;
        return val_tensor(c, x->dtype, -1, NULL);
    }
    int infer = -1;
    Dim known = dim_const(1);
    for (int i = 0; i < rank; i++) {
        if (dim_known(d[i]) && d[i].n == -1) {
            if (infer >= 0) {
                sema_error(c, arg_span(a, 1), "only one dimension of a reshape may be -1");
                return val_error(c);
            }
            infer = i;
        } else if (dim_known(d[i]) && d[i].n < 0) {
            sema_error(c, arg_span(a, 1), "shape dimensions must be >= 0 (one may be -1)");
            return val_error(c);
        } else
            known = dim_mul(c, known, d[i]);
    }
    if (dim_known(known) && known.n > IR_MAX_NUMEL) {
        sema_error(c, arg_span(a, 1), "this shape is too large (nnc's limit is 2^48 elements)");
        return val_error(c);
    }
    if (x->rank >= 0) {
        Dim numel = dim_const(1);
        for (int i = 0; i < x->rank; i++)
            numel = dim_mul(c, numel, x->dims[i]);
        if (infer >= 0) {
            if (dim_known(numel) && dim_known(known) && (known.n == 0 || numel.n % known.n)) {
                sema_error(c, arg_span(a, 1), "cannot reshape %s (%lld elements) to this shape",
                           ty(c, x, 0), (long long)numel.n);
                return val_error(c);
            }
            d[infer] = dim_div(c, numel, known);
            /* [B, 28, 28] -> [-1, 784] keeps the symbolic batch */
            if (!dim_known(numel) && x->rank > 0 && !dim_known(x->dims[0])) {
                Dim rest = dim_const(1);
                for (int i = 1; i < x->rank; i++)
                    rest = dim_mul(c, rest, x->dims[i]);
                if (dim_known(rest) && dim_known(known) && known.n && rest.n % known.n == 0)
                    d[infer] = rest.n / known.n == 1 ? x->dims[0] : dim_mul(c, x->dims[0], dim_const(rest.n / known.n));
            }
        } else if (dim_known(numel) && dim_known(known) && numel.n != known.n) {
            sema_error(c, arg_span(a, 1), "cannot reshape %s (%lld element%s) to a shape of %lld "
                                          "element%s", ty(c, x, 0), (long long)numel.n,
                       numel.n == 1 ? "" : "s", (long long)known.n, known.n == 1 ? "" : "s");
            return val_error(c);
        }
    }
    SemaCall *sc = resolve(c, a, b);
    sc->shape.rank = rank;
    for (int i = 0; i < rank; i++) {
        sc->shape.dims[i] = d[i].n;
        if (!dim_known(d[i]))
            sc->kind = SEMA_OTHER;
    }
    return val_tensor(c, x->dtype, rank, d);
}

static Value *b_flatten(Checker *c, CallArgs *a, const Builtin *b)
{
    Value *x = tensor_arg(c, a, 0, b->name);
    int64_t start = 1;
    if (!x || (a->v[1] && !int_arg(c, a, 1, b->name, true, &start)))
        return val_error(c);
    if (x->rank < 0)
        return x;
    if (start < 0)
        start += x->rank;
    if (start < 0 || start >= x->rank) {
        sema_error(c, arg_span(a, 1), "start %lld is out of range for %s", (long long)start, ty(c, x, 0));
        return val_error(c);
    }
    Dim out[IR_MAX_RANK], prod = dim_const(1);
    for (int i = 0; i < start; i++)
        out[i] = x->dims[i];
    for (int i = (int)start; i < x->rank; i++)
        prod = dim_mul(c, prod, x->dims[i]);
    out[start] = prod;
    return val_tensor(c, x->dtype, (int)start + 1, out);
}

/* concat and stack take a list of tensors that agree except (concat) along the axis. */
static Value *b_join(Checker *c, CallArgs *a, const Builtin *b)
{
    bool stack = !strcmp(b->name, "stack");
    Value *l = a->v[0];
    int64_t axis = 0;
    if (l->kind == V_ERROR || (a->v[1] && !int_arg(c, a, 1, b->name, true, &axis)))
        return val_error(c);
    if ((l->kind != V_LIST && l->kind != V_TUPLE)) {
        sema_error(c, arg_span(a, 0), "%s expects a list of tensors, found %s", b->name, ty(c, l, 0));
        return val_error(c);
    }
    if (l->len == 0) {
        sema_error(c, arg_span(a, 0), "%s of an empty list", b->name);
        return val_error(c);
    }
    Value *first = l->len > 0 ? l->items[0] : l->elem;
    if (!first || first->kind == V_ERROR)
        return val_error(c);
    if (first->kind != V_TENSOR) {
        sema_error(c, arg_span(a, 0), "%s expects a list of tensors, found %s", b->name, ty(c, l, 0));
        return val_error(c);
    }
    if (first->rank < 0)
        return val_tensor(c, first->dtype, -1, NULL);
    int rank = first->rank + (stack ? 1 : 0);
    if (axis < 0)
        axis += rank;
    if (axis < 0 || axis >= rank) {
        sema_error(c, arg_span(a, 1), "axis is out of range for %s", ty(c, first, 0));
        return val_error(c);
    }
    if (rank > IR_MAX_RANK)
        return val_tensor(c, first->dtype, rank, NULL); /* sema_check_size reports it */
    Dim out[IR_MAX_RANK];
    Dim along = dim_const(0);
    for (int i = 0; i < (l->len < 0 ? 1 : l->len); i++) {
        Value *t = l->len < 0 ? l->elem : l->items[i];
        if (t->kind == V_ERROR)
            return t;
        bool ok = t->kind == V_TENSOR && t->rank == first->rank && t->dtype == first->dtype;
        for (int k = 0; ok && k < first->rank; k++)
            ok = (!stack && k == axis) || dim_eq(t->dims[k], first->dims[k]);
        if (!ok) {
            sema_error(c, arg_span(a, 0), "%s needs tensors of one shape%s: item %d is %s, item 0 "
                                          "is %s", b->name, stack ? "" : " except along the axis",
                       i, ty(c, t, 0), ty(c, first, 1));
            return val_error(c);
        }
        if (!stack)
            along = dim_add(c, along, t->dims[axis]);
    }
    for (int k = 0, j = 0; k < rank; k++) {
        if (k == axis) {
            out[k] = stack ? (l->len < 0 ? (Dim){0, sema_symbol(c, "len")} : dim_const(l->len))
                           : (l->len < 0 ? DIM_ANY : along);
            if (!stack)
                j++;
        } else
            out[k] = first->dims[j++];
    }
    return val_tensor(c, first->dtype, rank, out);
}

static Value *b_pad(Checker *c, CallArgs *a, const Builtin *b)
{
    Value *x = tensor_arg(c, a, 0, b->name);
    int n;
    Dim w[IR_MAX_RANK];
    if (!x || !shape_arg(c, a, 1, b->name, &n, w))
        return val_error(c);
    if (x->rank < 0)
        return x;
    if (n < 0) {
        Value *r = val_copy(c, x);
        for (int k = 0; k < r->rank; k++)
            r->dims[k] = DIM_ANY;
        return r;
    }
    if (n % 2 || n / 2 > x->rank) {
        sema_error(c, arg_span(a, 1), "pad takes [before, after] pairs for up to %d trailing axes",
                   x->rank);
        return val_error(c);
    }
    Value *r = val_copy(c, x);
    for (int k = 0; k < n / 2; k++) {
        int axis = x->rank - n / 2 + k;
        r->dims[axis] = dim_add(c, dim_add(c, x->dims[axis], w[2 * k]), w[2 * k + 1]);
        if (dim_known(r->dims[axis]) && r->dims[axis].n < 0) {
            sema_error(c, arg_span(a, 1), "pad would make axis %d negative (%lld)", axis,
                       (long long)r->dims[axis].n);
            return val_error(c);
        }
    }
    return r;
}

static Value *b_one_hot(Checker *c, CallArgs *a, const Builtin *b)
{
    Value *x = tensor_arg(c, a, 0, b->name);
    int64_t n;
    if (!x || !int_arg(c, a, 1, b->name, false, &n))
        return val_error(c);
    if (x->dtype != DT_I32) {
        sema_error(c, arg_span(a, 0), "one_hot expects i32 labels, found %s", ty(c, x, 0));
        return val_error(c);
    }
    if (a->v[1]->known && (n <= 0 || n > INT32_MAX)) { /* IR_OP_ONE_HOT's depth is an int */
        sema_error(c, arg_span(a, 1), "one_hot: the number of classes must be %s, not %lld",
                   n <= 0 ? "positive" : "at most 2147483647", (long long)n);
        return val_error(c);
    }
    if (x->rank < 0)
        return val_tensor(c, DT_F32, -1, NULL);
    if (x->rank == IR_MAX_RANK)
        return val_tensor(c, DT_F32, x->rank + 1, NULL); /* sema_check_size reports it */
    Value *r = val_tensor(c, DT_F32, x->rank + 1, x->dims);
    r->dims[x->rank] = a->v[1]->dim;
    return r;
}

static Value *b_len(Checker *c, CallArgs *a, const Builtin *b)
{
    Value *v = a->v[0];
    switch (v->kind) {
    case V_ERROR: return v;
    case V_LIST:
    case V_TUPLE:
        return v->len >= 0 ? val_int(c, v->len) : val_int_unknown(c, (Dim){0, sema_symbol(c, "len")});
    case V_SPLIT: return val_int_unknown(c, (Dim){0, sema_symbol(c, "samples")});
    case V_TENSOR:
        if (v->rank > 0)
            return val_int_unknown(c, v->dims[0]);
        break;
    default: break;
    }
    sema_error(c, arg_span(a, 0), "len expects a list, a tuple, a split or a tensor, found %s",
               ty(c, v, 0));
    return val_error(c);
}

static Value *b_append(Checker *c, CallArgs *a, const Builtin *b)
{
    Value *l = a->v[0];
    if (l->kind == V_ERROR)
        return l;
    if (l->kind != V_LIST) {
        sema_error(c, arg_span(a, 0), "append expects a list, found %s", ty(c, l, 0));
        return val_error(c);
    }
    Value *r = val_new(c, V_LIST);
    if (l->len < 0) {
        r->len = -1;
        r->elem = l->elem;
        return r;
    }
    r->len = l->len + 1;
    r->items = ARENA_NEW_N(c->arena, Value *, r->len);
    for (int i = 0; i < l->len; i++)
        r->items[i] = l->items[i];
    r->items[l->len] = a->v[1];
    return r;
}

/* Argument i of a random initializer as a number (dflt when it is not given), when it
 * is one known now. */
static bool known_number(const CallArgs *a, int i, double dflt, double *x)
{
    const Value *v = a->v[i];
    *x = dflt;
    if (!v)
        return true;
    if (!val_is_numeric(v) || !v->known)
        return false;
    *x = v->kind == V_INT ? (double)v->i : v->f;
    return true;
}

/* The parameters of uniform, normal and bernoulli that are known now are ones the runtime
 * accepts (IrRandomAttr, rounded to f32): lo <= hi, std >= 0, 0 <= p <= 1. */
static bool random_params_ok(Checker *c, CallArgs *a, const Builtin *b)
{
    bool uniform = !strcmp(b->name, "uniform"), normal = !strcmp(b->name, "normal");
    if (!uniform && !normal && strcmp(b->name, "bernoulli"))
        return true;
    double x[3];
    bool known[3] = {false, false, false};
    for (int i = 1; i < 3 && b->params[i]; i++) {
        /* t_create's defaults: lo 0, hi 1, mean 0, std 1 (bernoulli's p has none) */
        known[i] = known_number(a, i, i - 1, &x[i]);
        if (known[i] && !isfinite((float)x[i])) {
            sema_error(c, arg_span(a, i), "%s: %s must be a finite number (as f32), not %g",
                       b->name, b->params[i], x[i]);
            return false;
        }
    }
    if (uniform && known[1] && known[2] && !(x[1] <= x[2])) {
        sema_error(c, a->call->span, "uniform: lo (%g) must be at most hi (%g)", x[1], x[2]);
        return false;
    }
    if (normal && known[2] && !(x[2] >= 0)) {
        sema_error(c, arg_span(a, 2), "normal: std must not be negative, not %g", x[2]);
        return false;
    }
    if (!uniform && !normal && known[1] && !(x[1] >= 0 && x[1] <= 1)) {
        sema_error(c, arg_span(a, 1), "bernoulli: p must be between 0 and 1, not %g", x[1]);
        return false;
    }
    return true;
}

static Value *b_create(Checker *c, CallArgs *a, const Builtin *b)
{
    int rank;
    Dim d[IR_MAX_RANK];
    if (!shape_arg(c, a, 0, b->name, &rank, d))
        return val_error(c);
    for (int i = 1; i < SEMA_MAX_PARAMS && b->params[i]; i++)
        if (a->v[i] && !number_arg(c, a, i, b->name))
            return val_error(c);
    if (!random_params_ok(c, a, b))
        return val_error(c);
    return val_tensor(c, DT_F32, rank, d);
}

static Value *b_like(Checker *c, CallArgs *a, const Builtin *b)
{
    Value *x = tensor_arg(c, a, 0, b->name);
    return x ? x : val_error(c);
}

static Value *b_arange(Checker *c, CallArgs *a, const Builtin *b)
{
    int64_t n;
    if (!int_arg(c, a, 0, b->name, false, &n))
        return val_error(c);
    if (a->v[0]->known && n < 0) {
        sema_error(c, arg_span(a, 0), "arange: the count cannot be negative (%lld)", (long long)n);
        return val_error(c);
    }
    if (a->v[0]->known && n > (int64_t)INT32_MAX + 1) { /* its values are i32 */
        sema_error(c, arg_span(a, 0), "arange: the count must be at most 2^31 (its values are "
                                      "i32), not %lld", (long long)n);
        return val_error(c);
    }
    Dim d = a->v[0]->dim;
    return val_tensor(c, DT_I32, 1, &d);
}

/* The input a k-wide kernel with dilation d spans: d(k-1) + 1 (saturating, as dim_mul) */
static Dim window_span(Checker *c, int64_t k, int64_t d)
{
    return dim_add(c, dim_mul(c, dim_const(d), dim_const(k - 1)), dim_const(1));
}

/* Convolution-style output size: (h + 2p - d(k-1) - 1) / s + 1 */
static Dim window_out(Checker *c, Dim h, int64_t k, int64_t s, int64_t p, int64_t d)
{
    Dim num = dim_sub(c, dim_add(c, h, dim_const(2 * p)), window_span(c, k, d));
    return dim_add(c, dim_div(c, num, dim_const(s)), dim_const(1));
}

static bool conv_int(Checker *c, CallArgs *a, int i, const char *what, int64_t dflt, int64_t min,
                     int64_t *out)
{
    *out = dflt;
    if (!a->v[i])
        return true;
    /* A definition checked on its own may pass a hyper-parameter: any size will do there,
     * and every use checks the real one (0 marks "unknown" to the callers). */
    if (sema_lenient && a->v[i]->kind == V_INT && !a->v[i]->known) {
        *out = 0;
        return true;
    }
    if (!int_arg(c, a, i, what, true, out))
        return false;
    if (*out < min || *out > INT32_MAX) { /* the IR keeps it as an int (IrConvAttr) */
        sema_error(c, arg_span(a, i), "%s: %s must be %s %lld", what,
                   sema_builtin(what) ? sema_builtin(what)->params[i] : "this",
                   *out < min ? "at least" : "at most",
                   *out < min ? (long long)min : (long long)INT32_MAX);
        return false;
    }
    return true;
}

static Value *b_conv2d(Checker *c, CallArgs *a, const Builtin *b)
{
    bool transposed = !strcmp(b->name, "conv_transpose2d");
    Value *x = tensor_arg(c, a, 0, b->name), *w = tensor_arg(c, a, 1, b->name);
    int64_t stride, padding, dilation = 1, groups = 1;
    if (!x || !w || !conv_int(c, a, 2, b->name, 1, 1, &stride) ||
        !conv_int(c, a, 3, b->name, 0, 0, &padding) ||
        (!transposed && (!conv_int(c, a, 4, b->name, 1, 1, &dilation) ||
                         !conv_int(c, a, 5, b->name, 1, 1, &groups))))
        return val_error(c);
    if (x->rank < 0 || w->rank < 0)
        return val_tensor(c, DT_F32, -1, NULL);
    if (x->rank != 4 || w->rank != 4) {
        sema_error(c, a->call->span, "%s expects x: f32[N, C, H, W] and w: f32[O, C, KH, KW], "
                                     "found %s and %s", b->name, ty(c, x, 0), ty(c, w, 1));
        return val_error(c);
    }
    Dim cin = x->dims[1], wc = transposed ? w->dims[0] : w->dims[1];
    if (groups == 0) { /* unknown while checking a definition on its own */
        Dim out[4] = {x->dims[0], transposed ? w->dims[1] : w->dims[0], DIM_ANY, DIM_ANY};
        return val_tensor(c, DT_F32, 4, out);
    }
    Dim expect = dim_known(cin) ? dim_const(cin.n / groups) : cin;
    if ((dim_known(cin) && cin.n % groups) || !dim_eq(expect, wc)) {
        char d1[64], d2[64];
        sema_error(c, a->call->span, "%s: the input has %s channel%s but the weight expects %s%s",
                   b->name, dim_str(c, cin, d1, sizeof d1),
                   dim_known(cin) && cin.n == 1 ? "" : "s", dim_str(c, wc, d2, sizeof d2),
                   groups > 1 ? " per group" : "");
        sema_note(c, arg_span(a, 0), "the input is %s", ty(c, x, 0));
        sema_note(c, arg_span(a, 1), "the weight is %s", ty(c, w, 1));
        return val_error(c);
    }
    if (!dim_known(w->dims[2]) || !dim_known(w->dims[3]) || stride == 0 || dilation == 0 ||
        groups == 0 || (padding == 0 && a->v[3] && !a->v[3]->known)) {
        Dim out[4] = {x->dims[0], transposed ? w->dims[1] : w->dims[0], DIM_ANY, DIM_ANY};
        return val_tensor(c, DT_F32, 4, out);
    }
    Dim out[4] = {x->dims[0], transposed ? w->dims[1] : w->dims[0]};
    for (int k = 0; k < 2; k++) {
        int64_t ks = w->dims[2 + k].n;
        Dim h = x->dims[2 + k];
        if (transposed)
            out[2 + k] = dim_add(c, dim_sub(c, dim_mul(c, dim_sub(c, h, dim_const(1)), dim_const(stride)),
                                            dim_const(2 * padding)),
                                 dim_const(ks));
        else
            out[2 + k] = window_out(c, h, ks, stride, padding, dilation);
        if (dim_known(out[2 + k]) && out[2 + k].n <= 0) {
            sema_error(c, a->call->span, "%s: the %s of the input (%lld) is too small for a kernel "
                                         "spanning %lld", b->name, k ? "width" : "height",
                       (long long)h.n,
                       (long long)dim_sub(c, window_span(c, ks, dilation), dim_const(2 * padding)).n);
            return val_error(c);
        }
    }
    return val_tensor(c, DT_F32, 4, out);
}

static Value *b_pool(Checker *c, CallArgs *a, const Builtin *b)
{
    Value *x = tensor_arg(c, a, 0, b->name);
    int64_t size, stride;
    if (!x || !conv_int(c, a, 1, b->name, 2, 1, &size) || !conv_int(c, a, 2, b->name, size, 1, &stride))
        return val_error(c);
    if (x->rank < 0)
        return x;
    if (x->rank != 4) {
        sema_error(c, arg_span(a, 0), "%s expects f32[N, C, H, W], found %s", b->name, ty(c, x, 0));
        return val_error(c);
    }
    Value *r = val_copy(c, x);
    if (size == 0 || stride == 0) {
        r->dims[2] = r->dims[3] = DIM_ANY;
        return r;
    }
    for (int k = 2; k < 4; k++) {
        r->dims[k] = window_out(c, x->dims[k], size, stride, 0, 1);
        if (dim_known(r->dims[k]) && r->dims[k].n <= 0) {
            sema_error(c, a->call->span, "%s: the input (%s) is smaller than the window (%lld)",
                       b->name, ty(c, x, 0), (long long)size);
            return val_error(c);
        }
    }
    return r;
}

static Value *b_upsample(Checker *c, CallArgs *a, const Builtin *b)
{
    Value *x = tensor_arg(c, a, 0, b->name);
    int64_t f;
    if (!x || !conv_int(c, a, 1, b->name, 2, 1, &f))
        return val_error(c);
    if (x->rank < 0)
        return x;
    if (x->rank != 4) {
        sema_error(c, arg_span(a, 0), "%s expects f32[N, C, H, W], found %s", b->name, ty(c, x, 0));
        return val_error(c);
    }
    Value *r = val_copy(c, x);
    r->dims[2] = dim_mul(c, x->dims[2], dim_const(f));
    r->dims[3] = dim_mul(c, x->dims[3], dim_const(f));
    return r;
}

/* ---- data -------------------------------------------------------------------------------- */

/* A data set's sample type, its sizes checked (sema_check_size) at `at`, which gave them. */
static Value *sample(Checker *c, int rank, const Dim *dims, int dtype, Span at)
{
    return sema_check_size(c, val_tensor(c, dtype, rank, dims), at);
}

static Value *b_image_dataset(Checker *c, CallArgs *a, const Builtin *b)
{
    if (!string_arg(c, a, 0, b->name))
        return val_error(c);
    Value *v = val_new(c, V_DATASET);
    Dim d[2] = {dim_const(28), dim_const(28)};
    v->x = sample(c, 2, d, DT_F32, a->call->span);
    v->y = sample(c, 0, NULL, DT_I32, a->call->span);
    return v;
}

static Value *b_file_split(Checker *c, CallArgs *a, const Builtin *b, int shape_param)
{
    for (int i = 0; i < shape_param; i++)
        if (!string_arg(c, a, i, b->name))
            return val_error(c);
    Value *v = val_new(c, V_SPLIT);
    int rank;
    Dim d[IR_MAX_RANK];
    if (a->v[shape_param]) {
        if (!shape_arg(c, a, shape_param, b->name, &rank, d))
            return val_error(c);
        v->x = sample(c, rank, d, DT_F32, arg_span(a, shape_param));
        if (v->x->kind == V_ERROR)
            return v->x;
    } else {
        v->x = val_tensor(c, DT_F32, -1, NULL);
    }
    v->y = sample(c, 0, NULL, DT_I32, a->call->span);
    return v;
}

static Value *b_idx(Checker *c, CallArgs *a, const Builtin *b) { return b_file_split(c, a, b, 2); }
static Value *b_npy(Checker *c, CallArgs *a, const Builtin *b) { return b_file_split(c, a, b, 2); }

static Value *b_csv(Checker *c, CallArgs *a, const Builtin *b)
{
    int64_t n;
    if (!string_arg(c, a, 0, b->name) || !int_arg(c, a, 1, b->name, false, &n) ||
        !bool_arg(c, a, 2, b->name))
        return val_error(c);
    Value *v = val_new(c, V_SPLIT);
    Dim d = a->v[1]->dim;
    v->x = sample(c, 1, &d, DT_F32, arg_span(a, 1));
    v->y = sample(c, 0, NULL, DT_I32, a->call->span);
    return v->x->kind == V_ERROR ? v->x : v;
}

static Value *b_text(Checker *c, CallArgs *a, const Builtin *b)
{
    int64_t t;
    if (!string_arg(c, a, 0, b->name) || !int_arg(c, a, 1, b->name, false, &t))
        return val_error(c);
    Value *v = val_new(c, V_SPLIT);
    Dim d = a->v[1]->dim;
    v->x = sample(c, 1, &d, DT_I32, arg_span(a, 1));
    v->y = sample(c, 1, &d, DT_I32, arg_span(a, 1));
    return v->x->kind == V_ERROR ? v->x : v;
}

static Value *split_arg(Checker *c, CallArgs *a, int i, const char *what)
{
    Value *v = a->v[i];
    if (!v || v->kind == V_ERROR)
        return NULL;
    if (v->kind != V_SPLIT) {
        sema_error(c, arg_span(a, i), "%s expects a split of a dataset (such as data.train), "
                                      "found %s", what, ty(c, v, 0));
        return NULL;
    }
    return v;
}

static Value *b_vocab(Checker *c, CallArgs *a, const Builtin *b)
{
    if (!split_arg(c, a, 0, b->name))
        return val_error(c);
    return val_int_unknown(c, (Dim){0, sema_symbol(c, "vocab")});
}

static Value *b_split(Checker *c, CallArgs *a, const Builtin *b)
{
    Value *s = split_arg(c, a, 0, b->name);
    int64_t seed;
    if (!s || !number_arg(c, a, 1, b->name) || (a->v[2] && !int_arg(c, a, 2, b->name, false, &seed)))
        return val_error(c);
    Value *f = a->v[1];
    double frac = f->kind == V_INT ? (double)f->i : f->f;
    if (val_is_numeric(f) && f->known && (frac <= 0 || frac >= 1)) {
        sema_error(c, arg_span(a, 1), "the fraction must be between 0 and 1");
        return val_error(c);
    }
    Value *parts[2] = {val_copy(c, s), val_copy(c, s)};
    return val_tuple(c, 2, parts);
}

static Value *b_map(Checker *c, CallArgs *a, const Builtin *b)
{
    Value *s = split_arg(c, a, 0, b->name);
    if (!s || a->v[1]->kind == V_ERROR)
        return val_error(c);
    Value *f = a->v[1];
    if (f->kind != V_FN) {
        sema_error(c, arg_span(a, 1), "map expects a function f(x, y), found %s", ty(c, f, 0));
        return val_error(c);
    }
    Value *pos[2] = {s->x, s->y};
    /* checked on the sample types; a traced program applies it to each batch (train.c) */
    IrGraph *graph = c->graph;
    c->graph = NULL;
    Value *r = sema_call_fn(c, f->def, NULL, a->call, pos, 2, NULL, NULL, 0);
    c->graph = graph;
    if (r->kind == V_ERROR)
        return r;
    if (r->kind != V_TUPLE || r->len != 2 || r->items[0]->kind != V_TENSOR ||
        r->items[1]->kind != V_TENSOR) {
        sema_error(c, arg_span(a, 1), "a function given to map must return a pair of tensors "
                                      "(x, y), not %s", ty(c, r, 0));
        return val_error(c);
    }
    Value *v = val_new(c, V_SPLIT);
    v->x = r->items[0];
    v->y = r->items[1];
    return v;
}

static Value *batched(Checker *c, Value *t, Dim batch)
{
    if (t->rank < 0)
        return t;
    Value *r = val_tensor(c, t->dtype, t->rank + 1, NULL);
    r->dims[0] = batch;
    for (int i = 0; i < t->rank && i + 1 < IR_MAX_RANK; i++)
        r->dims[i + 1] = t->dims[i];
    return r;
}

static Value *b_batches(Checker *c, CallArgs *a, const Builtin *b)
{
    Value *s = split_arg(c, a, 0, b->name);
    int64_t n, seed;
    if (!s || !int_arg(c, a, 1, b->name, false, &n) || !bool_arg(c, a, 2, b->name) ||
        !bool_arg(c, a, 3, b->name) || (a->v[4] && !int_arg(c, a, 4, b->name, false, &seed)))
        return val_error(c);
    if (a->v[1]->known && a->v[1]->i <= 0) {
        sema_error(c, arg_span(a, 1), "the batch size must be positive");
        return val_error(c);
    }
    bool drop_last = a->v[3] && a->v[3]->known && a->v[3]->b;
    Dim batch = drop_last ? a->v[1]->dim : (Dim){0, sema_symbol(c, "batch")};
    int rank = s->x->rank > s->y->rank ? s->x->rank : s->y->rank;
    if (rank >= IR_MAX_RANK) { /* (the sizes are checked where they are known: t_batches) */
        sema_error(c, a->call->span, "a batch of these samples has rank %d; nnc's limit is %d",
                   rank + 1, IR_MAX_RANK);
        return val_error(c);
    }
    Value *v = val_new(c, V_BATCHES);
    v->x = batched(c, s->x, batch);
    v->y = batched(c, s->y, batch);
    return v;
}

/* ---- program ----------------------------------------------------------------------------- */

static Value *b_save_load(Checker *c, CallArgs *a, const Builtin *b)
{
    if (!instance_arg(c, a, 0, b->name) || !string_arg(c, a, 1, b->name))
        return val_error(c);
    return val_void(c);
}

static Value *b_params(Checker *c, CallArgs *a, const Builtin *b)
{
    if (!instance_arg(c, a, 0, b->name))
        return val_error(c);
    Value *l = val_new(c, V_LIST);
    l->len = -1;
    l->elem = val_tensor(c, DT_F32, -1, NULL);
    return l;
}

static Value *b_mode(Checker *c, CallArgs *a, const Builtin *b) { return val_void(c); }

static Value *b_step(Checker *c, CallArgs *a, const Builtin *b)
{
    Value *self = a->v[SEMA_MAX_PARAMS - 1];
    Value *loss = tensor_arg(c, a, 0, "step");
    if (a->v[1] && !number_arg(c, a, 1, "step"))
        return val_void(c);
    if (!loss)
        return val_void(c);
    if (loss->rank != 0 && loss->rank >= 0) {
        sema_error(c, arg_span(a, 0), "step needs a scalar loss (f32[]), found %s (use sum or mean)",
                   ty(c, loss, 0));
        return val_void(c);
    }
    sema_check_update(c, self->inst, a->call->span);
    return val_void(c);
}

/* ---- tracing (see trace.c): the nodes of each built-in's result ---------------------- */

static IrNode *arg_node(Checker *c, CallArgs *a, int i) { return sema_node(c, a->v[i], arg_span(a, i)); }

static const SemaCall *resolved(CallArgs *a)
{
    return a->call->kind == AST_CALL ? a->call->call.resolved : NULL;
}

static Value *t_print(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    Value *v = a->v[0];
    if (v->kind == V_ERROR)
        return r;
    if (sema_training(c) && (v->kind == V_INT || v->kind == V_FLOAT || v->kind == V_BOOL) &&
        !v->known) {
        train_print(c, v, a->call->span);
        return r;
    }
    if (v->kind != V_TENSOR && !val_is_numeric(v) && v->kind != V_LIST) {
        sema_unsupported(c, arg_span(a, 0), "printing this value");
        return val_error(c);
    }
    IrNode *x = arg_node(c, a, 0);
    if (!x)
        return val_error(c);
    ir_print(c->graph, a->call->span, x);
    return r;
}

static Value *t_grad(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    IrNode *in[2];
    in[0] = arg_node(c, a, 0); /* in order: constants join the graph in argument order */
    in[1] = arg_node(c, a, 1);
    return sema_with_node(c, r, sema_trace_op(c, a->call->span, IR_OP_GRAD, in, 2, NULL));
}

static Value *t_op(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    if (r->kind != V_TENSOR)
        return r; /* computed at compile time */
    int n = b->op == IR_OP_SELECT ? 3 : ir_op_arity(b->op);
    IrNode *in[3];
    for (int i = 0; i < n; i++)
        in[i] = arg_node(c, a, i);
    return sema_with_node(c, r, sema_trace_op(c, a->call->span, b->op, in, n, NULL));
}

static IrNode *op1(Checker *c, Span at, IrOp op, IrNode *x)
{
    return sema_trace_op(c, at, op, &x, 1, NULL);
}

static IrNode *op2(Checker *c, Span at, IrOp op, IrNode *x, IrNode *y)
{
    IrNode *in[2] = {x, y};
    return sema_trace_op(c, at, op, in, 2, NULL);
}

static Value *t_abs(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    if (r->kind != V_TENSOR)
        return r;
    IrNode *x = arg_node(c, a, 0);
    Span at = a->call->span;
    return sema_with_node(c, r, op2(c, at, IR_OP_MAX, x, op1(c, at, IR_OP_NEG, x)));
}

static Value *t_clip(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    Span at = a->call->span;
    IrNode *hi = op2(c, at, IR_OP_MIN, arg_node(c, a, 0), arg_node(c, a, 2));
    return sema_with_node(c, r, op2(c, at, IR_OP_MAX, hi, arg_node(c, a, 1)));
}

static Value *t_same_type(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    /* float/int of a tensor: a cast unless it has the wanted type already */
    if (r->kind != V_TENSOR)
        return r;
    IrNode *x = arg_node(c, a, 0);
    if (!x)
        return val_error(c);
    IrDType to = r->dtype == DT_I32 ? IR_I32 : IR_F32;
    return sema_with_node(c, r, x->dtype == to ? x : ir_cast(c->graph, a->call->span, x, to));
}

static Value *t_reduce(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    const SemaCall *sc = resolved(a);
    IrNode *x = arg_node(c, a, 0);
    Span at = a->call->span;
    if (!x || !sc)
        return val_error(c);
    uint32_t axes = sc->axes;
    IrNode *n;
    if (!axes) {
        n = x; /* nothing to reduce (a scalar) */
    } else if (!strcmp(b->name, "argmax")) {
        if (axes & (axes - 1)) {
            sema_unsupported(c, at, "argmax over several axes");
            return val_error(c);
        }
        IrNode proto = {0};
        proto.attr.argmax.axis = __builtin_ctz(axes);
        n = sema_trace_op(c, at, IR_OP_ARGMAX, &x, 1, &proto);
    } else {
        IrNode proto = {0};
        proto.attr.reduce.axes = axes;
        bool min = !strcmp(b->name, "min");
        IrOp op = !strcmp(b->name, "max") || min ? IR_OP_REDUCE_MAX : IR_OP_SUM;
        IrNode *in = min ? op1(c, at, IR_OP_NEG, x) : x;
        n = sema_trace_op(c, at, op, &in, 1, &proto);
        if (min)
            n = op1(c, at, IR_OP_NEG, n);
        if (n && !strcmp(b->name, "mean")) {
            int64_t count = 1;
            for (int i = 0; i < x->shape.rank; i++)
                if (axes & (1u << i))
                    count *= x->shape.dims[i];
            /* over a batch's rows: divided by the count at run time */
            IrNode *scale = x->shape.rows && ((axes >> x->shape.rows_axis) & 1)
                                ? train_rows_reciprocal(c, x->shape.rows, count, at)
                                : ir_scalar(c->graph, at, 1.0 / (double)count);
            n = op2(c, at, IR_OP_MUL, n, scale);
        }
    }
    IrShape shape;
    if (n && sema_ir_shape(c, r, at, &shape) && !ir_shape_eq(&n->shape, &shape))
        n = ir_reshape(c->graph, at, n, &shape); /* keepdims */
    return sema_with_node(c, r, n);
}

static Value *t_transpose(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    const SemaCall *sc = resolved(a);
    IrNode *x = arg_node(c, a, 0);
    if (!x || !sc)
        return val_error(c);
    IrNode proto = {0};
    memcpy(proto.attr.transpose.perm, sc->perm, sizeof sc->perm);
    return sema_with_node(c, r, sema_trace_op(c, a->call->span, IR_OP_TRANSPOSE, &x, 1, &proto));
}

/* Any op whose result is the same elements in a new shape: reshape, flatten. */
static Value *t_reshape(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    IrNode *x = arg_node(c, a, 0);
    IrShape shape;
    if (!x || !sema_ir_shape(c, r, a->call->span, &shape))
        return val_error(c);
    /* the checker compares the counts when both are known; a setting's compiled value
     * (--NAME on nnc's command line) may make them differ only now */
    if (ir_shape_numel(&x->shape) != ir_shape_numel(&shape)) {
        char from[160], to[160];
        sema_error(c, a->call->span, "cannot reshape %s (%lld elements) to %s (%lld elements) "
                                     "with the settings this program is compiled with",
                   ir_shape_str(&x->shape, from, sizeof from),
                   (long long)ir_shape_numel(&x->shape), ir_shape_str(&shape, to, sizeof to),
                   (long long)ir_shape_numel(&shape));
        return val_error(c);
    }
    return sema_with_node(c, r, ir_shape_eq(&x->shape, &shape) ? x
                                                                : ir_reshape(c->graph, a->call->span, x, &shape));
}

static Value *t_join(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    Value *l = a->v[0];
    Span at = a->call->span;
    if (l->len < 0 || l->len > 64) {
        sema_unsupported(c, at, "joining a list of unknown length");
        return val_error(c);
    }
    bool stack = !strcmp(b->name, "stack");
    int axis = a->v[1] ? (int)a->v[1]->i : 0;
    if (axis < 0)
        axis += r->rank;
    IrNode *xs[64];
    for (int i = 0; i < l->len; i++) {
        xs[i] = sema_node(c, l->items[i], arg_span(a, 0));
        if (!xs[i])
            return val_error(c);
        if (stack) { /* a new axis of size 1, then concat */
            const IrShape *x = &xs[i]->shape;
            IrShape s = {.rank = x->rank + 1, .rows = x->rows,
                         .rows_axis = x->rows_axis + (x->rows && axis <= x->rows_axis)};
            for (int k = 0, j = 0; k < s.rank; k++)
                s.dims[k] = k == axis ? 1 : x->dims[j++];
            xs[i] = ir_reshape(c->graph, at, xs[i], &s);
        }
    }
    IrNode *n = l->len == 1 ? xs[0] : NULL;
    if (!n) {
        IrNode *node = ir_node_alloc(c->graph, IR_OP_CONCAT, xs, l->len, at);
        node->attr.concat.axis = axis;
        char err[256];
        if (!ir_infer_shape(IR_OP_CONCAT, node->in, node->nin, node, &node->shape, err, sizeof err) ||
            !ir_infer_dtype(IR_OP_CONCAT, node->in, node->nin, node, &node->dtype, err, sizeof err)) {
            sema_unsupported(c, at, "this concatenation");
            return val_error(c);
        }
        ir_graph_append(c->graph, node);
        n = node;
    }
    return sema_with_node(c, r, n);
}

static Value *t_pad(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    IrNode *x = arg_node(c, a, 0);
    Value *w = a->v[1];
    if (!x)
        return val_error(c);
    int64_t before[IR_MAX_RANK] = {0}, after[IR_MAX_RANK] = {0};
    int pairs = w->len / 2;
    for (int k = 0; k < pairs; k++) {
        int axis = x->shape.rank - pairs + k;
        if (!w->items[2 * k]->known || !w->items[2 * k + 1]->known) {
            sema_unsupported(c, arg_span(a, 1), "padding known only at run time");
            return val_error(c);
        }
        before[axis] = w->items[2 * k]->i;
        after[axis] = w->items[2 * k + 1]->i;
    }
    return sema_with_node(c, r, ir_pad(c->graph, a->call->span, x, before, after));
}

static Value *t_one_hot(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    IrNode *x = arg_node(c, a, 0);
    if (!x || !a->v[1]->known) {
        if (x)
            sema_unsupported(c, arg_span(a, 1), "a number of classes known only at run time");
        return val_error(c);
    }
    IrNode proto = {0};
    proto.attr.one_hot.depth = (int)a->v[1]->i;
    return sema_with_node(c, r, sema_trace_op(c, a->call->span, IR_OP_ONE_HOT, &x, 1, &proto));
}

static double number_or(const Value *v, double dflt)
{
    if (!v)
        return dflt;
    return v->kind == V_INT ? (double)v->i : v->f;
}

static Value *t_create(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    Span at = a->call->span;
    IrShape shape;
    if (!sema_ir_shape(c, r, at, &shape))
        return val_error(c);
    for (int i = 1; i < SEMA_MAX_PARAMS && b->params[i]; i++)
        if (a->v[i] && !(val_is_numeric(a->v[i]) && a->v[i]->known)) {
            sema_unsupported(c, arg_span(a, i), "this argument known only at run time");
            return val_error(c);
        }
    IrNode *n;
    if (!strcmp(b->name, "uniform") || !strcmp(b->name, "normal") || !strcmp(b->name, "bernoulli")) {
        IrRandomAttr ra = {.seed = 0, .counter = c->rng_counter};
        IrOp op = IR_OP_RANDOM_UNIFORM;
        if (!strcmp(b->name, "uniform")) {
            ra.a = number_or(a->v[1], 0);
            ra.b = number_or(a->v[2], 1);
        } else if (!strcmp(b->name, "normal")) {
            op = IR_OP_RANDOM_NORMAL;
            ra.a = number_or(a->v[1], 0);
            ra.b = number_or(a->v[2], 1);
        } else {
            op = IR_OP_RANDOM_BERNOULLI;
            ra.a = number_or(a->v[1], 0.5);
        }
        uint64_t words = (uint64_t)ir_shape_numel(&shape) + 4;
        c->rng_counter += words; /* never overlapping */
        /* a region of a train program that runs many times: where its draws start is a
         * host variable the program advances after each run (train_random_var) */
        if (sema_training(c))
            ra.run_var = train_random_var(c, words);
        n = ir_random(c->graph, at, op, &shape, ra);
    } else {
        double v = !strcmp(b->name, "ones") ? 1 : !strcmp(b->name, "full") ? number_or(a->v[1], 0) : 0;
        n = ir_scalar(c->graph, at, v);
        if (shape.rank)
            n = ir_broadcast(c->graph, at, n, &shape);
    }
    return sema_with_node(c, r, n);
}

static Value *t_like(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    Span at = a->call->span;
    IrShape shape;
    if (!sema_ir_shape(c, r, at, &shape))
        return val_error(c);
    IrNode *n = ir_scalar(c->graph, at, !strcmp(b->name, "ones_like") ? 1 : 0);
    if (shape.rank)
        n = ir_broadcast(c->graph, at, n, &shape);
    return sema_with_node(c, r, n);
}

static Value *t_arange(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    if (!a->v[0]->known) {
        sema_unsupported(c, arg_span(a, 0), "a count known only at run time");
        return val_error(c);
    }
    int64_t n = a->v[0]->i;
    double *values = util_malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++)
        values[i] = (double)i;
    IrShape shape = {.rank = 1, .dims = {n}};
    IrNode *k = ir_const_typed(c->graph, a->call->span, IR_I32, &shape, values);
    util_free(values);
    return sema_with_node(c, r, k);
}

static Value *t_conv2d(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    IrNode *in[2];
    in[0] = arg_node(c, a, 0); /* in order: constants join the graph in argument order */
    in[1] = arg_node(c, a, 1);
    IrNode proto = {0};
    if (strcmp(b->name, "conv2d")) {
        /* conv_transpose2d(x, w) is the data gradient of a convolution of w, [c_in, c_out,
         * k, k] read as [O, C, KH, KW], whose output has x's shape: the result's shape is
         * the input that convolution would take */
        if (!sema_ir_shape(c, r, a->call->span, &proto.shape))
            return val_error(c);
        proto.attr.conv = (IrConvAttr){(int)number_or(a->v[2], 1), (int)number_or(a->v[3], 0),
                                       1, 1};
        return sema_with_node(c, r, sema_trace_op(c, a->call->span, IR_OP_CONV2D_BACKWARD_DATA,
                                                  in, 2, &proto));
    }
    proto.attr.conv = (IrConvAttr){(int)number_or(a->v[2], 1), (int)number_or(a->v[3], 0),
                                   (int)number_or(a->v[4], 1), (int)number_or(a->v[5], 1)};
    return sema_with_node(c, r, sema_trace_op(c, a->call->span, IR_OP_CONV2D, in, 2, &proto));
}

static Value *t_pool(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    IrNode *x = arg_node(c, a, 0);
    IrNode proto = {0};
    int size = (int)number_or(a->v[1], 2);
    proto.attr.pool = (IrPoolAttr){size, (int)number_or(a->v[2], size)};
    IrOp op = !strcmp(b->name, "max_pool2d") ? IR_OP_MAX_POOL2D : IR_OP_AVG_POOL2D;
    return sema_with_node(c, r, sema_trace_op(c, a->call->span, op, &x, 1, &proto));
}

static Value *t_upsample(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    IrNode *x = arg_node(c, a, 0);
    if (!x)
        return val_error(c);
    return sema_with_node(c, r, ir_upsample2d(c->graph, a->call->span, x, (int)number_or(a->v[1], 2)));
}

/* Built-ins that compute nothing at run time. */
static Value *t_none(Checker *c, CallArgs *a, const Builtin *b, Value *r) { return r; }

/* len(data): the number of samples, read when the program runs (after its data is
 * loaded); len of anything else is known to the checker. */
static Value *t_len(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    Value *v = a->v[0];
    if (v->kind != V_SPLIT)
        return r;
    if (!v->data || !sema_training(c)) {
        sema_unsupported(c, arg_span(a, 0), "the length of this data");
        return val_error(c);
    }
    int data = train_data(c, v->data, a->call);
    if (data < 0)
        return val_error(c);
    Value *n = val_copy(c, r);
    n->hx = prog_data_count(c->prog, data);
    return n;
}

/* Every parameter of an instance and of its sub-layers, in declaration order. */
static void collect_params(Instance *inst, PtrVec *out, int depth)
{
    for (int i = 0; depth < 16 && i < inst->scope->len; i++) {
        Binding *bd = &inst->scope->items[i];
        Value *v = bd->value;
        if (bd->kind == BIND_PARAM)
            util_vec_push(out, v);
        else if (v->kind == V_INSTANCE && v->inst != inst)
            collect_params(v->inst, out, depth + 1);
        else if (v->kind == V_LIST)
            for (int k = 0; k < v->len; k++)
                if (v->items[k]->kind == V_INSTANCE)
                    collect_params(v->items[k]->inst, out, depth + 1);
    }
}

/* params(net) while tracing: the list of the parameters themselves (a loop over it is
 * unrolled), so l1(net) and l2(net) differentiate with respect to each. */
static Value *t_params(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    if (r->kind == V_ERROR || a->v[0]->kind != V_INSTANCE)
        return r;
    PtrVec ps = {0};
    collect_params(a->v[0]->inst, &ps, 0);
    Value *l = val_new(c, V_LIST);
    l->len = ps.len;
    l->items = ARENA_NEW_N(c->arena, Value *, ps.len + 1);
    for (int i = 0; i < ps.len; i++)
        l->items[i] = ps.items[i];
    util_vec_free(&ps);
    return l;
}

static Value *t_step(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    Value *self = a->v[SEMA_MAX_PARAMS - 1];
    if (a->v[0]->kind != V_ERROR) {
        if (sema_training(c))
            train_progress_loss(c, a->v[0], a->call->span);
        sema_trace_step(c, self->inst, a->v[0], a->v[1], a->call->span);
    }
    return r;
}

/* ---- tracing train blocks (train.c): data, logging, checkpoints, modes ---------------- */

/* r, the checked data value of a loader call, with the source the program loads at start:
 * src plus the first nfiles arguments as its paths, which must be known when compiling, and
 * the sample types, which size the compiled tensors. */
static Value *data_source(Checker *c, CallArgs *a, const Builtin *b, int nfiles, Value *r,
                          ProgData src)
{
    if (!sema_training(c)) {
        sema_unsupported(c, a->call->span, "data sets outside a train block");
        return val_error(c);
    }
    for (int i = 0; i < nfiles; i++)
        if (a->v[i] && (a->v[i]->kind != V_STRING || !a->v[i]->known)) {
            sema_unsupported(c, arg_span(a, i), "file names known only at run time");
            return val_error(c);
        }
    if (r->x->rank < 0) {
        sema_error(c, a->call->span, "in a train block, %s needs shape = [...]: the sample "
                                     "shape sizes the compiled tensors", b->name);
        return val_error(c);
    }
    src.path = a->v[0]->s;
    src.path2 = nfiles > 1 && a->v[1] ? a->v[1]->s : NULL;
    if (!sema_ir_shape(c, r->x, a->call->span, &src.x_shape) ||
        !sema_ir_shape(c, r->y, a->call->span, &src.y_shape))
        return val_error(c);
    src.x_dtype = r->x->dtype == DT_I32 ? IR_I32 : IR_F32;
    src.y_dtype = r->y->dtype == DT_I32 ? IR_I32 : IR_F32;
    Value *v = val_copy(c, r);
    v->data = ARENA_NEW(c->arena, DataRef);
    v->data->source = src;
    return v;
}

static Value *t_image_dataset(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    ProgData src = {.kind = !strcmp(b->name, "mnist") ? PD_MNIST : PD_FASHION_MNIST};
    return data_source(c, a, b, 1, r, src);
}

static Value *t_idx(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    return data_source(c, a, b, 2, r, (ProgData){.kind = PD_IDX});
}

static Value *t_npy(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    return data_source(c, a, b, 2, r, (ProgData){.kind = PD_NPY});
}

/* The length of r's samples, f32[n] or i32[n], given by argument 1 (a setting's value
 * when it is one); false after reporting when it is not positive. */
static bool sample_length(Checker *c, CallArgs *a, const Value *r, const char *too_small,
                          int64_t *n)
{
    IrShape x;
    if (!sema_ir_shape(c, r->x, arg_span(a, 1), &x))
        return false;
    if (x.dims[0] <= 0) {
        sema_error(c, arg_span(a, 1), "%s", too_small);
        return false;
    }
    *n = x.dims[0];
    return true;
}

static Value *t_csv(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    ProgData src = {.kind = PD_CSV, .label = !a->v[2] || a->v[2]->b};
    if (a->v[2] && !a->v[2]->known) {
        sema_unsupported(c, arg_span(a, 2), "a label column decided at run time");
        return val_error(c);
    }
    if (!sample_length(c, a, r, "csv needs the number of features (at least 1)", &src.features))
        return val_error(c);
    return data_source(c, a, b, 1, r, src);
}

static Value *t_text(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    ProgData src = {.kind = PD_TEXT};
    if (!sample_length(c, a, r, "the sequence length must be at least 1", &src.seq))
        return val_error(c);
    return data_source(c, a, b, 1, r, src);
}

/* Both parts of a split, made at program start from the data (with its transforms). */
static Value *t_split(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    const DataRef *in = a->v[0]->data;
    Value *f = a->v[1], *seed = a->v[2];
    if (!in) {
        sema_unsupported(c, arg_span(a, 0), "splitting this data");
        return val_error(c);
    }
    if (!f->known || (f->kind != V_INT && f->kind != V_FLOAT)) {
        sema_unsupported(c, arg_span(a, 1), "a fraction known only at run time");
        return val_error(c);
    }
    if (seed && !seed->known) {
        sema_unsupported(c, arg_span(a, 2), "a split seed known only at run time");
        return val_error(c);
    }
    int parent = train_data(c, in, a->call);
    if (parent < 0)
        return val_error(c);
    const ProgData *p = &c->prog->datas[parent];
    Value *v = val_copy(c, r);
    v->items = ARENA_NEW_N(c->arena, Value *, 2);
    for (int part = 0; part < 2; part++) {
        Value *item = val_copy(c, r->items[part]);
        item->data = ARENA_NEW(c->arena, DataRef);
        item->data->source = (ProgData){
            .kind = PD_SPLIT, .parent = parent, .part = part,
            .fraction = f->kind == V_INT ? (double)f->i : f->f, .seed = seed ? seed->i : 0,
            .x_shape = p->x_shape, .y_shape = p->y_shape, .x_dtype = p->x_dtype,
            .y_dtype = p->y_dtype};
        v->items[part] = item;
    }
    return v;
}

/* The number of distinct bytes in the file (plain or gzip'd), or -1 with *why set. */
static int text_alphabet(const char *path, const char **why)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        *why = strerror(errno);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) { /* a directory, or a device or pipe that may never end */
        *why = "not a regular file";
        return -1;
    }
    gzFile f = gzopen(path, "rb");
    if (!f) {
        *why = strerror(errno ? errno : ENOENT);
        return -1;
    }
    bool seen[256] = {false};
    unsigned char buf[1 << 16];
    int n;
    while ((n = gzread(f, buf, sizeof buf)) > 0)
        for (int i = 0; i < n; i++)
            seen[buf[i]] = true;
    int err = 0;
    const char *msg = gzerror(f, &err);
    if (n < 0 || err < 0) {
        *why = err == Z_ERRNO ? strerror(errno) : msg;
        gzclose(f);
        return -1;
    }
    gzclose(f);
    int size = 0;
    for (int i = 0; i < 256; i++)
        size += seen[i];
    return size;
}

/* vocab(data) sizes tensors (an embedding table, the logits), so it is compiled in: the
 * corpus is read now, and the program checks that the one it loads has as many
 * distinct characters. */
static Value *t_vocab(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    const DataRef *in = a->v[0]->data;
    if (!in || in->nmaps > 0) {
        sema_unsupported(c, arg_span(a, 0), "the vocabulary of this data");
        return val_error(c);
    }
    int data = train_data(c, in, a->call);
    if (data < 0)
        return val_error(c);
    while (c->prog->datas[data].kind == PD_SPLIT)
        data = c->prog->datas[data].parent;
    ProgData *d = &c->prog->datas[data];
    if (d->kind != PD_TEXT) {
        sema_error(c, arg_span(a, 0), "vocab expects text data (text(path, seq = T)) or a split "
                                      "of it");
        return val_error(c);
    }
    if (d->vocab == 0) {
        const char *why = NULL;
        int n = text_alphabet(d->path, &why);
        if (n < 0)
            sema_error(c, arg_span(a, 0), "vocab(...) sizes tensors, so the text is read when "
                                          "compiling: cannot read %s: %s", d->path, why);
        else if (n == 0)
            sema_error(c, arg_span(a, 0), "%s is empty: it has no vocabulary", d->path);
        d->vocab = n > 0 ? n : -1; /* -1: reported once */
    }
    if (d->vocab < 0)
        return val_error(c);
    return val_int(c, d->vocab);
}

static Value *t_map(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    const DataRef *in = a->v[0]->data;
    if (!in || in->nmaps == 8) {
        sema_unsupported(c, a->call->span, "this data transform");
        return val_error(c);
    }
    Value *v = val_copy(c, r);
    v->data = ARENA_NEW(c->arena, DataRef);
    *v->data = *in;
    v->data->maps[v->data->nmaps++] = a->v[1]->def;
    return v;
}

static Value *t_batches(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    const DataRef *in = a->v[0]->data;
    Value *size = a->v[1];
    if (!in) {
        sema_unsupported(c, arg_span(a, 0), "batches of this data");
        return val_error(c);
    }
    int64_t batch = size->known ? size->i : size->hx ? size->i : -1;
    if (batch <= 0 && size->hx && size->hx->kind == PX_VAR) {
        sema_error(c, arg_span(a, 1), "the batch size must be positive, and the setting this "
                                      "program is compiled with is %lld", (long long)batch);
        return val_error(c);
    }
    if (batch <= 0) {
        sema_unsupported(c, arg_span(a, 1), "a batch size known only at run time");
        return val_error(c);
    }
    if (a->v[2] && !a->v[2]->known) {
        sema_unsupported(c, arg_span(a, 2), "shuffling decided at run time");
        return val_error(c);
    }
    Value *v = val_copy(c, r);
    v->data = ARENA_NEW(c->arena, DataRef);
    *v->data = *in;
    v->data->batch = batch;
    v->data->drop_last = a->v[3] && a->v[3]->b;
    v->data->shuffle = a->v[2] && a->v[2]->b;
    v->data->seed = a->v[4] ? train_host(c, a->v[4], arg_span(a, 4)) : NULL;
    /* The batch size is part of the compiled shapes: a setting's default is used. Where
     * the batch's rows are a run-time size (train_for), the setting may lower it. */
    if (!size->known && size->hx && size->hx->kind == PX_VAR)
        for (int i = 0; i < c->prog->nsettings; i++)
            if (c->prog->settings[i].var == size->hx->index) {
                bool rows = train_rows_loop(c, v->data);
                c->prog->settings[i].fixed |= !rows;
                c->prog->settings[i].bounded |= rows;
                const char *why = c->opts->batch_rows_why;
                if (!rows && !v->data->drop_last && batch >= 2 && why)
                    c->prog->settings[i].why_full = arena_strndup(&c->prog->arena, why, strlen(why));
                v->data->size = size->hx;
            }
    /* the batches' sample types have the full batch (train_for gives its items rows) */
    if (v->x->rank > 0)
        v->x = val_copy(c, v->x), v->x->dims[0] = dim_const(batch);
    if (v->y->rank > 0)
        v->y = val_copy(c, v->y), v->y->dims[0] = dim_const(batch);
    if (sema_check_size(c, v->x, arg_span(a, 1))->kind == V_ERROR ||
        sema_check_size(c, v->y, arg_span(a, 1))->kind == V_ERROR)
        return val_error(c);
    return v;
}

static Value *t_save_load(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    if (!sema_training(c)) {
        sema_unsupported(c, a->call->span, "save and load outside a train block");
        return val_error(c);
    }
    train_save(c, a->v[0]->inst, a->v[1], !strcmp(b->name, "load"), a->call->span);
    return r;
}

static void set_mode(Instance *inst, bool training, int depth)
{
    inst->training = training;
    for (int i = 0; i < inst->scope->len && depth < 64; i++) {
        Value *v = inst->scope->items[i].value;
        if (v->kind == V_INSTANCE && v->inst != inst)
            set_mode(v->inst, training, depth + 1);
        else if (v->kind == V_LIST)
            for (int k = 0; k < v->len; k++)
                if (v->items[k]->kind == V_INSTANCE)
                    set_mode(v->items[k]->inst, training, depth + 1);
    }
}

static Value *t_mode(Checker *c, CallArgs *a, const Builtin *b, Value *r)
{
    Value *self = a->v[SEMA_MAX_PARAMS - 1];
    set_mode(self->inst, !strcmp(b->name, ".train"), 0);
    return r;
}

#define P(...) {__VA_ARGS__}
static const Builtin builtins[] = {
    {"print", 1, P("x"), b_print, SEMA_PRINT, 0, t_print},
    {"grad", 2, P("y", "wrt"), b_grad, SEMA_GRAD, IR_OP_GRAD, t_grad},
    {"exp", 1, P("x"), b_unary, SEMA_UNARY, IR_OP_EXP, t_op},
    {"log", 1, P("x"), b_unary, SEMA_UNARY, IR_OP_LOG, t_op},
    {"sqrt", 1, P("x"), b_unary, SEMA_UNARY, IR_OP_SQRT, t_op},
    {"tanh", 1, P("x"), b_unary, SEMA_UNARY, IR_OP_TANH, t_op},
    {"sigmoid", 1, P("x"), b_unary, SEMA_UNARY, IR_OP_SIGMOID, t_op},
    {"relu", 1, P("x"), b_unary, SEMA_UNARY, IR_OP_RELU, t_op},
    {"abs", 1, P("x"), b_unary, SEMA_OTHER, 0, t_abs},
    {"sign", 1, P("x"), b_unary, SEMA_OTHER, 0},
    {"floor", 1, P("x"), b_unary, SEMA_OTHER, 0},
    {"maximum", 2, P("a", "b"), b_binary, SEMA_BINARY, IR_OP_MAX, t_op},
    {"minimum", 2, P("a", "b"), b_binary, SEMA_BINARY, IR_OP_MIN, t_op},
    {"where", 3, P("cond", "a", "b"), b_where, SEMA_WHERE, IR_OP_SELECT, t_op},
    {"clip", 3, P("x", "lo", "hi"), b_clip, SEMA_OTHER, 0, t_clip},
    {"float", 1, P("x"), b_float, SEMA_OTHER, 0, t_same_type},
    {"int", 1, P("x"), b_int, SEMA_OTHER, 0, t_same_type},
    {"sum", 1, P("x", "axis", "keepdims"), b_reduce, SEMA_REDUCE, IR_OP_SUM, t_reduce},
    {"mean", 1, P("x", "axis", "keepdims"), b_reduce, SEMA_MEAN, IR_OP_SUM, t_reduce},
    {"max", 1, P("x", "axis", "keepdims"), b_reduce, SEMA_REDUCE, IR_OP_REDUCE_MAX, t_reduce},
    {"min", 1, P("x", "axis", "keepdims"), b_reduce, SEMA_OTHER, 0, t_reduce},
    {"argmax", 1, P("x", "axis", "keepdims"), b_reduce, SEMA_OTHER, 0, t_reduce},
    {"reshape", 2, P("x", "shape"), b_reshape, SEMA_RESHAPE, IR_OP_RESHAPE, t_reshape},
    {"transpose", 1, P("x", "perm"), b_transpose, SEMA_TRANSPOSE, IR_OP_TRANSPOSE, t_transpose},
    {"flatten", 1, P("x", "start"), b_flatten, SEMA_OTHER, 0, t_reshape},
    {"concat", 1, P("xs", "axis"), b_join, SEMA_OTHER, 0, t_join},
    {"stack", 1, P("xs", "axis"), b_join, SEMA_OTHER, 0, t_join},
    {"pad", 2, P("x", "widths"), b_pad, SEMA_OTHER, 0, t_pad},
    {"one_hot", 2, P("labels", "n"), b_one_hot, SEMA_OTHER, 0, t_one_hot},
    {"len", 1, P("x"), b_len, SEMA_OTHER, 0, t_len},
    {"append", 2, P("list", "item"), b_append, SEMA_OTHER, 0, t_none},
    {"zeros", 1, P("shape"), b_create, SEMA_OTHER, 0, t_create},
    {"ones", 1, P("shape"), b_create, SEMA_OTHER, 0, t_create},
    {"full", 2, P("shape", "value"), b_create, SEMA_OTHER, 0, t_create},
    {"uniform", 1, P("shape", "lo", "hi"), b_create, SEMA_OTHER, 0, t_create},
    {"normal", 1, P("shape", "mean", "std"), b_create, SEMA_OTHER, 0, t_create},
    {"bernoulli", 2, P("shape", "p"), b_create, SEMA_OTHER, 0, t_create},
    {"zeros_like", 1, P("x"), b_like, SEMA_OTHER, 0, t_like},
    {"ones_like", 1, P("x"), b_like, SEMA_OTHER, 0, t_like},
    {"arange", 1, P("n"), b_arange, SEMA_OTHER, 0, t_arange},
    {"conv2d", 2, P("x", "w", "stride", "padding", "dilation", "groups"), b_conv2d, SEMA_OTHER, 0, t_conv2d},
    {"conv_transpose2d", 2, P("x", "w", "stride", "padding"), b_conv2d, SEMA_OTHER, 0, t_conv2d},
    {"max_pool2d", 2, P("x", "size", "stride"), b_pool, SEMA_OTHER, 0, t_pool},
    {"avg_pool2d", 2, P("x", "size", "stride"), b_pool, SEMA_OTHER, 0, t_pool},
    {"upsample2d", 2, P("x", "factor"), b_upsample, SEMA_OTHER, 0, t_upsample},
    {"fashion_mnist", 1, P("dir"), b_image_dataset, SEMA_OTHER, 0, t_image_dataset},
    {"mnist", 1, P("dir"), b_image_dataset, SEMA_OTHER, 0, t_image_dataset},
    {"idx", 2, P("images", "labels", "shape"), b_idx, SEMA_OTHER, 0, t_idx},
    {"csv", 2, P("path", "features", "label"), b_csv, SEMA_OTHER, 0, t_csv},
    {"npy", 2, P("x_path", "y_path", "shape"), b_npy, SEMA_OTHER, 0, t_npy},
    {"text", 2, P("path", "seq"), b_text, SEMA_OTHER, 0, t_text},
    {"vocab", 1, P("data"), b_vocab, SEMA_OTHER, 0, t_vocab},
    {"split", 2, P("data", "fraction", "seed"), b_split, SEMA_OTHER, 0, t_split},
    {"map", 2, P("data", "f"), b_map, SEMA_OTHER, 0, t_map},
    {"batches", 2, P("data", "size", "shuffle", "drop_last", "seed"), b_batches, SEMA_OTHER, 0, t_batches},
    {"save", 2, P("model", "path"), b_save_load, SEMA_OTHER, 0, t_save_load},
    {"load", 2, P("model", "path"), b_save_load, SEMA_OTHER, 0, t_save_load},
    {"params", 1, P("model"), b_params, SEMA_OTHER, 0, t_params},
    /* methods (reached through a member, never by name) */
    {".train", 0, P(NULL), b_mode, SEMA_OTHER, 0, t_mode},
    {".eval", 0, P(NULL), b_mode, SEMA_OTHER, 0, t_mode},
    {".step", 1, P("loss", "clip_norm"), b_step, SEMA_OTHER, 0, t_step},
};

const Builtin *sema_builtin(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(builtins); i++)
        if (!strcmp(builtins[i].name, name))
            return &builtins[i];
    return NULL;
}
