/* value.c — the checker's values and symbolic dimensions. */
#include "sema/sema_internal.h"

#include <stdio.h>
#include <string.h>

Value *val_new(Checker *c, VKind k)
{
    Value *v = ARENA_NEW(c->arena, Value);
    v->kind = k;
    return v;
}

Value *val_error(Checker *c) { return val_new(c, V_ERROR); }
Value *val_void(Checker *c) { return val_new(c, V_VOID); }

Value *val_int(Checker *c, int64_t i)
{
    Value *v = val_new(c, V_INT);
    v->known = true;
    v->i = i;
    v->dim = dim_const(i);
    return v;
}

Value *val_int_unknown(Checker *c, Dim d)
{
    Value *v = val_new(c, V_INT);
    v->known = dim_known(d);
    v->i = d.n;
    v->dim = d;
    train_rows_int(c, v);
    return v;
}

Value *val_float(Checker *c, double f, bool known)
{
    Value *v = val_new(c, V_FLOAT);
    v->known = known;
    v->f = f;
    return v;
}

Value *val_bool(Checker *c, bool b, bool known)
{
    Value *v = val_new(c, V_BOOL);
    v->known = known;
    v->b = b;
    return v;
}

Value *val_string(Checker *c, const char *s, bool known)
{
    Value *v = val_new(c, V_STRING);
    v->known = known;
    v->s = s;
    return v;
}

Value *val_tensor(Checker *c, int dtype, int rank, const Dim *dims)
{
    Value *v = val_new(c, V_TENSOR);
    v->dtype = dtype;
    v->rank = rank;
    for (int i = 0; dims && i < rank && i < IR_MAX_RANK; i++)
        v->dims[i] = dims[i];
    return v;
}

Value *val_tuple(Checker *c, int n, Value **items)
{
    Value *v = val_new(c, V_TUPLE);
    v->len = n;
    v->items = ARENA_NEW_N(c->arena, Value *, n ? n : 1);
    for (int i = 0; i < n; i++)
        v->items[i] = items[i];
    return v;
}

Value *val_copy(Checker *c, const Value *v)
{
    Value *r = val_new(c, v->kind);
    *r = *v;
    return r;
}

int sema_symbol(Checker *c, const char *name)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    for (int i = 1; i < c->nsymbols; i++)
        if (c->symbol_hash[i] == h && strcmp(c->symbols[i], name) == 0)
            return i;
    if (c->nsymbols == 0)
        c->nsymbols = 1; /* id 0 means "not symbolic" */
    if (c->nsymbols >= c->capsymbols) {
        c->capsymbols = c->capsymbols ? c->capsymbols * 2 : 16;
        c->symbols = util_realloc(c->symbols, sizeof(char *) * (size_t)c->capsymbols);
        c->symbol_hash = util_realloc(c->symbol_hash, sizeof(uint64_t) * (size_t)c->capsymbols);
    }
    /* symbols outlive a REPL entry's arena: the session keeps them with its modules */
    Arena *a = c->module_arena ? c->module_arena : c->arena;
    c->symbols[c->nsymbols] = arena_strndup(a, name, strlen(name));
    c->symbol_hash[c->nsymbols] = h;
    return c->nsymbols++;
}

/* A symbolic result of arithmetic is named by its expression, so the same expression on the
 * same symbols is the same symbol: (batch*2) == (batch*2). */
static Dim dim_op(Checker *c, Dim a, char op, Dim b)
{
    if (a.sym < 0 || b.sym < 0)
        return DIM_ANY;
    char x[96], y[96], name[200];
    snprintf(name, sizeof name, "%s%c%s", dim_str(c, a, x, sizeof x), op, dim_str(c, b, y, sizeof y));
    Dim r = {0, sema_symbol(c, name)};
    train_rows_derive(c, r, a, op, b);
    return r;
}

/* Known sizes saturate rather than wrap: a result past int64 stays past the size limit
 * (IR_MAX_NUMEL), which sema_check_size reports where the shape is used. */
static Dim dim_saturated(int64_t a, char op, int64_t b)
{
    int64_t r;
    bool over = op == '+' ? __builtin_add_overflow(a, b, &r)
              : op == '-' ? __builtin_sub_overflow(a, b, &r)
                          : __builtin_mul_overflow(a, b, &r);
    bool negative = op == '*' ? (a < 0) != (b < 0) : a < 0;
    return dim_const(!over ? r : negative ? INT64_MIN : INT64_MAX);
}

Dim dim_add(Checker *c, Dim a, Dim b)
{
    if (dim_known(a) && dim_known(b))
        return dim_saturated(a.n, '+', b.n);
    if (dim_known(b) && b.n == 0)
        return a;
    if (dim_known(a) && a.n == 0)
        return b;
    return dim_op(c, a, '+', b);
}

Dim dim_sub(Checker *c, Dim a, Dim b)
{
    if (dim_known(a) && dim_known(b))
        return dim_saturated(a.n, '-', b.n);
    if (dim_known(b) && b.n == 0)
        return a;
    return dim_op(c, a, '-', b);
}

Dim dim_mul(Checker *c, Dim a, Dim b)
{
    if (dim_known(a) && dim_known(b))
        return dim_saturated(a.n, '*', b.n);
    if (dim_known(b) && b.n == 1)
        return a;
    if (dim_known(a) && a.n == 1)
        return b;
    return dim_op(c, a, '*', b);
}

Dim dim_div(Checker *c, Dim a, Dim b)
{
    if (dim_known(a) && dim_known(b) && b.n != 0) {
        if (a.n == INT64_MIN && b.n == -1)
            return dim_const(INT64_MAX);
        int64_t q = a.n / b.n;
        if ((a.n % b.n != 0) && ((a.n < 0) != (b.n < 0)))
            q--; /* floor division */
        return dim_const(q);
    }
    if (dim_known(b) && b.n == 1)
        return a;
    return dim_op(c, a, '/', b);
}

bool sema_lenient;

bool dim_eq(Dim a, Dim b)
{
    if (a.sym < 0 || b.sym < 0)
        return true;
    if (sema_lenient && (a.sym > 0 || b.sym > 0))
        return true;
    return a.sym == b.sym && (a.sym != 0 || a.n == b.n);
}

const char *dim_str(Checker *c, Dim d, char *buf, size_t n)
{
    if (d.sym < 0)
        snprintf(buf, n, "_");
    else if (d.sym == 0)
        snprintf(buf, n, "%lld", (long long)d.n);
    else
        snprintf(buf, n, "%s", c->symbols[d.sym]);
    return buf;
}

const char *vkind_name(VKind k)
{
    static const char *names[] = {
        [V_ERROR] = "<error>", [V_VOID] = "nothing", [V_BOOL] = "bool", [V_INT] = "int",
        [V_FLOAT] = "float", [V_STRING] = "string", [V_TENSOR] = "tensor", [V_TUPLE] = "tuple",
        [V_LIST] = "list", [V_RANGE] = "range", [V_FN] = "function", [V_DEF] = "definition",
        [V_INSTANCE] = "instance", [V_METHOD] = "method", [V_BUILTIN] = "built-in function",
        [V_DATASET] = "dataset", [V_SPLIT] = "split", [V_BATCHES] = "batches",
    };
    return names[k];
}

static size_t append(char *buf, size_t n, size_t at, const char *s)
{
    size_t len = strlen(s);
    if (at < n) {
        size_t room = n - at - 1;
        memcpy(buf + at, s, len < room ? len : room);
        buf[at + (len < room ? len : room)] = '\0';
    }
    return at + len;
}

static size_t type_str(Checker *c, const Value *v, char *buf, size_t n, size_t at)
{
    char tmp[96];
    switch (v->kind) {
    case V_TENSOR:
        at = append(buf, n, at, v->dtype == DT_I32 ? "i32[" : "f32[");
        if (v->rank < 0)
            at = append(buf, n, at, "...");
        for (int i = 0; i < v->rank; i++) {
            if (i)
                at = append(buf, n, at, ", ");
            at = append(buf, n, at, dim_str(c, v->dims[i], tmp, sizeof tmp));
        }
        return append(buf, n, at, "]");
    case V_TUPLE:
        at = append(buf, n, at, "(");
        for (int i = 0; i < v->len; i++) {
            if (i)
                at = append(buf, n, at, ", ");
            at = type_str(c, v->items[i], buf, n, at);
        }
        return append(buf, n, at, v->len == 1 ? ",)" : ")");
    case V_LIST:
        /* short lists item by item ([int, string]); long ones by their first item */
        at = append(buf, n, at, "[");
        if (v->len > 0 && v->len <= 6) {
            for (int i = 0; i < v->len; i++) {
                if (i)
                    at = append(buf, n, at, ", ");
                at = type_str(c, v->items[i], buf, n, at);
            }
        } else if (v->len > 6) {
            at = type_str(c, v->items[0], buf, n, at);
            snprintf(tmp, sizeof tmp, ", ... (%d items)", v->len);
            at = append(buf, n, at, tmp);
        } else if (v->len < 0 && v->elem) {
            at = type_str(c, v->elem, buf, n, at);
            at = append(buf, n, at, ", ...");
        }
        return append(buf, n, at, "]");
    case V_INSTANCE: return append(buf, n, at, v->inst->def->def.id.name);
    case V_DEF:
    case V_FN: return append(buf, n, at, v->def->def.id.name);
    case V_BUILTIN: return append(buf, n, at, v->builtin->name);
    case V_SPLIT:
    case V_BATCHES:
    case V_DATASET:
        at = append(buf, n, at, vkind_name(v->kind));
        at = append(buf, n, at, " of (");
        at = type_str(c, v->x, buf, n, at);
        at = append(buf, n, at, ", ");
        at = type_str(c, v->y, buf, n, at);
        return append(buf, n, at, ")");
    default: return append(buf, n, at, vkind_name(v->kind));
    }
}

const char *val_type_str(Checker *c, const Value *v, char *buf, size_t n)
{
    buf[0] = '\0';
    type_str(c, v, buf, n, 0);
    return buf;
}

bool val_is_numeric(const Value *v) { return v->kind == V_INT || v->kind == V_FLOAT; }

bool val_as_tensor(const Value *v, int *dtype, int *rank, Dim *dims)
{
    if (v->kind == V_TENSOR) {
        *dtype = v->dtype;
        *rank = v->rank;
        for (int i = 0; i < v->rank; i++)
            dims[i] = v->dims[i];
        return true;
    }
    if (val_is_numeric(v)) {
        *dtype = DT_F32;
        *rank = 0;
        return true;
    }
    return false;
}

bool val_same_type(const Value *a, const Value *b)
{
    if (a->kind == V_ERROR || b->kind == V_ERROR)
        return true;
    if (a->kind != b->kind) {
        /* an int where a float is expected is fine */
        return a->kind == V_FLOAT && b->kind == V_INT;
    }
    switch (a->kind) {
    case V_TENSOR:
        if (a->dtype != b->dtype)
            return false;
        if (a->rank < 0 || b->rank < 0)
            return true;
        if (a->rank != b->rank)
            return false;
        for (int i = 0; i < a->rank; i++)
            if (!dim_eq(a->dims[i], b->dims[i]))
                return false;
        return true;
    case V_TUPLE:
        if (a->len != b->len)
            return false;
        for (int i = 0; i < a->len; i++)
            if (!val_same_type(a->items[i], b->items[i]))
                return false;
        return true;
    case V_INSTANCE: return a->inst->def == b->inst->def;
    default: return true;
    }
}

Value *val_join(Checker *c, Value *a, Value *b)
{
    if (a == b)
        return a;
    if (a->kind == V_ERROR || b->kind == V_ERROR)
        return a->kind == V_ERROR ? b : a;
    if (a->kind != b->kind) {
        if (val_is_numeric(a) && val_is_numeric(b))
            return val_float(c, 0, false);
        return a;
    }
    switch (a->kind) {
    case V_INT:
        if (a->known && b->known && a->i == b->i)
            return a;
        return val_int_unknown(c, (Dim){0, sema_symbol(c, "int")});
    case V_FLOAT:
        return a->known && b->known && a->f == b->f ? a : val_float(c, 0, false);
    case V_BOOL:
        return a->known && b->known && a->b == b->b ? a : val_bool(c, false, false);
    case V_STRING:
        return a->known && b->known && strcmp(a->s, b->s) == 0 ? a : val_string(c, "", false);
    case V_LIST:
        if (a->len == b->len && a->len >= 0) {
            Value *r = val_copy(c, a);
            r->items = ARENA_NEW_N(c->arena, Value *, a->len ? a->len : 1);
            for (int i = 0; i < a->len; i++)
                r->items[i] = val_join(c, a->items[i], b->items[i]);
            return r;
        } else {
            /* lists of different lengths: a list of unknown length */
            Value *r = val_new(c, V_LIST);
            r->len = -1;
            Value *ea = a->len < 0 ? a->elem : a->len ? a->items[0] : NULL;
            Value *eb = b->len < 0 ? b->elem : b->len ? b->items[0] : NULL;
            r->elem = ea && eb ? val_join(c, ea, eb) : ea ? ea : eb;
            return r;
        }
    case V_TENSOR: {
        if (a->rank != b->rank || a->dtype != b->dtype)
            return val_tensor(c, a->dtype, -1, NULL);
        Value *r = val_copy(c, a);
        for (int i = 0; i < a->rank; i++)
            if (!(a->dims[i].sym == b->dims[i].sym && a->dims[i].n == b->dims[i].n))
                r->dims[i] = DIM_ANY;
        return r;
    }
    default: return a;
    }
}

Value *sema_check_size(Checker *c, Value *v, Span at)
{
    if (v->kind != V_TENSOR || v->rank < 0)
        return v;
    if (v->rank > IR_MAX_RANK) {
        sema_error(c, at, "this tensor has rank %d; nnc's limit is %d", v->rank, IR_MAX_RANK);
        return val_error(c);
    }
    int64_t dims[IR_MAX_RANK];
    for (int i = 0; i < v->rank; i++) {
        Dim d = v->dims[i];
        const char *setting = NULL;
        dims[i] = 1; /* a size known only at run time is checked where it is given */
        if (dim_known(d))
            dims[i] = d.n;
        else if ((setting = train_setting_peek(c, d, &dims[i])) == NULL)
            continue;
        if (dims[i] < 0) {
            if (setting)
                sema_error(c, at, "axis %d of this tensor is sized by --%s, which is negative "
                                  "(%lld)", i, setting, (long long)dims[i]);
            else
                sema_error(c, at, "axis %d of this tensor has a negative size (%lld)", i,
                           (long long)dims[i]);
            return val_error(c);
        }
    }
    if (!ir_dims_size(v->rank, dims, 8, NULL, NULL)) { /* 8: the evaluator's f64 */
        char buf[256], d[64];
        size_t len = 0;
        for (int i = 0; i < v->rank && len < sizeof buf; i++) {
            if (dim_known(v->dims[i]) || train_setting_peek(c, v->dims[i], &dims[i]))
                snprintf(d, sizeof d, "%lld", (long long)dims[i]);
            else
                dim_str(c, v->dims[i], d, sizeof d);
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? ", " : "", d);
        }
        sema_error(c, at, "this tensor's shape [%s] is too large (nnc's limit is 2^48 "
                          "elements)", buf);
        return val_error(c);
    }
    return v;
}
