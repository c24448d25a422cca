/* types.c — type annotations: matching values against them and making values from them
 * (docs/language.md §3). */
#include "sema/sema_internal.h"

#include <stdio.h>
#include <string.h>

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
bool sema_eval_dim(Checker *c, Scope *s, AstNode *d, const Dim *actual, Dim *out)
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
    if (dim_known(v->dim) && v->dim.n < 0) {
        sema_error(c, d->span, "a dimension cannot be negative (%lld)", (long long)v->dim.n);
        return false;
    }
    *out = v->dim;
    return true;
}

/* A value of the annotated type, for checking a definition on its own: names that are not
 * bound become symbols. */
Value *sema_value_of_type(Checker *c, Scope *s, AstNode *t, const char *param_name)
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
            if (!sema_eval_dim(c, s, d, NULL, &dims[rank]))
                dims[rank] = DIM_ANY;
            rank++;
        }
        return sema_check_size(c, val_tensor(c, dtype, rank, dims), t->span);
    }
    case AST_TYPE_LIST: {
        Value *v = val_new(c, V_LIST);
        v->len = -1;
        v->elem = sema_value_of_type(c, s, t->expr, param_name);
        return v;
    }
    case AST_TYPE_TUPLE: {
        Value *items[16];
        int n = t->list.len < 16 ? t->list.len : 16;
        for (int i = 0; i < n; i++)
            items[i] = sema_value_of_type(c, s, t->list.items[i], param_name);
        return val_tuple(c, n, items);
    }
    default: return val_error(c);
    }
}

/* Whether v has the annotated type t; binds dimension variables in s. */
/* An argument whose own checking failed still binds the dimension variables of its
 * parameter's type (to "any"), so the body does not report them as unknown names. */
static void bind_unknown_dims(Checker *c, Scope *s, AstNode *t)
{
    if (!t)
        return;
    if (t->kind == AST_TYPE_TENSOR) {
        for (int i = 0; i < t->tensor.dims.len; i++) {
            AstNode *d = t->tensor.dims.items[i];
            if (d->kind == AST_NAME && strcmp(d->name, "_") && !scope_lookup(s, d->name))
                scope_bind(c, s, d->name, val_int_unknown(c, DIM_ANY), BIND_VAR, d->span);
        }
    } else if (t->kind == AST_TYPE_LIST) {
        bind_unknown_dims(c, s, t->expr);
    } else if (t->kind == AST_TYPE_TUPLE) {
        for (int i = 0; i < t->list.len; i++)
            bind_unknown_dims(c, s, t->list.items[i]);
    }
}

bool sema_match_type(Checker *c, Scope *s, AstNode *t, Value *v)
{
    if (!t)
        return true;
    if (v->kind == V_ERROR) {
        bind_unknown_dims(c, s, t);
        return true;
    }
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
                Value *tv = sema_as_tensor(c, v);
                return tv && tv->dtype == dtype && (tv->rank == 0 || tv->rank < 0);
            }
            Binding *b = scope_lookup(s, t->name);
            if (b && b->value->kind == V_DEF)
                return v->kind == V_INSTANCE && v->inst->def == b->value->def;
        }
        return true; /* an unknown type name was reported on the definition */
    case AST_TYPE_TENSOR: {
        int dtype;
        if (!dtype_of(t->tensor.dtype.name, &dtype))
            return true; /* reported on the definition */
        Value *tv = sema_as_tensor(c, v);
        if (!tv || (tv->dtype != dtype && !(dtype == DT_F32 && v->kind != V_TENSOR)))
            return false;
        bool any_rank = false;
        for (int i = 0; i < t->tensor.dims.len; i++)
            any_rank |= t->tensor.dims.items[i]->kind == AST_ELLIPSIS; /* misplaced ones were reported */
        if (any_rank || tv->rank < 0)
            return true;
        if (tv->rank != t->tensor.dims.len)
            return false;
        for (int i = 0; i < tv->rank; i++) {
            Dim want;
            if (!sema_eval_dim(c, s, t->tensor.dims.items[i], &tv->dims[i], &want))
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
            if (!sema_match_type(c, s, t->expr, v->items[i]))
                return false;
        return true;
    case AST_TYPE_TUPLE:
        if (v->kind != V_TUPLE || v->len != t->list.len)
            return false;
        for (int i = 0; i < v->len; i++)
            if (!sema_match_type(c, s, t->list.items[i], v->items[i]))
                return false;
        return true;
    default: return false;
    }
}

/* The annotation as written, for messages: "f32[B, n_in]" (from the source text). */
const char *sema_type_text(const AstNode *t, char *buf, size_t n)
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
const char *sema_expected_str(Checker *c, Scope *s, const AstNode *t, char *buf, size_t n)
{
    if (t->kind != AST_TYPE_TENSOR)
        return sema_type_text(t, buf, n);
    size_t at = (size_t)snprintf(buf, n, "%s[", t->tensor.dtype.name);
    for (int i = 0; i < t->tensor.dims.len && at < n; i++) {
        const AstNode *d = t->tensor.dims.items[i];
        char part[128];
        Binding *b = d->kind == AST_NAME ? scope_lookup(s, d->name) : NULL;
        if (b && b->value->kind == V_INT)
            dim_str(c, b->value->dim, part, sizeof part);
        else
            sema_type_text(d, part, sizeof part);
        at += (size_t)snprintf(buf + at, n - at, "%s%s", i ? ", " : "", part);
    }
    if (at < n)
        snprintf(buf + at, n - at, "]");
    return buf;
}

/* Checks that a type annotation names real types (reported once, on the definition). */
void sema_check_type_names(Checker *c, Scope *s, AstNode *t)
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
    case AST_TYPE_LIST: sema_check_type_names(c, s, t->expr); return;
    case AST_TYPE_TUPLE:
        for (int i = 0; i < t->list.len; i++)
            sema_check_type_names(c, s, t->list.items[i]);
        return;
    default: return;
    }
}
