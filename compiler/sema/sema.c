/* sema.c — name resolution, types and shapes for a program.
 *
 * Statements run top to bottom; `name = expr` binds (or rebinds) a name to a value.
 * Number literals are compile-time scalars that become f32[] tensors where a tensor is
 * expected. An expression that fails to check gets TY_ERROR, and any expression with an
 * operand of TY_ERROR is TY_ERROR too without a new message: one mistake, one error. */
#include "sema/sema.h"
#include "util/util.h"

#include <stdio.h>
#include <string.h>

static const Type ty_error = {.kind = TY_ERROR};
static const Type ty_void = {.kind = TY_VOID};
static const Type ty_bool = {.kind = TY_BOOL};
static const Type ty_int = {.kind = TY_INT};
static const Type ty_float = {.kind = TY_FLOAT};
static const Type ty_string = {.kind = TY_STRING};

typedef struct Builtin {
    const char *name;
    SemaBuiltinKind kind;
    IrOp op;
    int required;                          /* leading parameters without a default */
    const char *params[SEMA_MAX_PARAMS];
} Builtin;

static const Builtin builtins[] = {
    {"print", SEMA_PRINT, 0, 1, {"x"}},
    {"grad", SEMA_GRAD, IR_OP_GRAD, 2, {"y", "wrt"}},
    {"exp", SEMA_UNARY, IR_OP_EXP, 1, {"x"}},
    {"log", SEMA_UNARY, IR_OP_LOG, 1, {"x"}},
    {"sqrt", SEMA_UNARY, IR_OP_SQRT, 1, {"x"}},
    {"tanh", SEMA_UNARY, IR_OP_TANH, 1, {"x"}},
    {"sigmoid", SEMA_UNARY, IR_OP_SIGMOID, 1, {"x"}},
    {"relu", SEMA_UNARY, IR_OP_RELU, 1, {"x"}},
    {"sum", SEMA_REDUCE, IR_OP_SUM, 1, {"x", "axis"}},
    {"max", SEMA_REDUCE, IR_OP_REDUCE_MAX, 1, {"x", "axis"}},
    {"mean", SEMA_MEAN, IR_OP_SUM, 1, {"x", "axis"}},
    {"maximum", SEMA_BINARY, IR_OP_MAX, 2, {"a", "b"}},
    {"minimum", SEMA_BINARY, IR_OP_MIN, 2, {"a", "b"}},
    {"where", SEMA_WHERE, IR_OP_SELECT, 3, {"cond", "a", "b"}},
    {"transpose", SEMA_TRANSPOSE, IR_OP_TRANSPOSE, 1, {"x", "perm"}},
    {"reshape", SEMA_RESHAPE, IR_OP_RESHAPE, 2, {"x", "shape"}},
};

typedef struct Binding {
    const char *name;
    const Type *type;
} Binding;

typedef struct Sema {
    Arena *arena;
    DiagSink *diags;
    Binding *env;
    int nenv, capenv;
} Sema;

const char *sema_type_str(const Type *t, char *buf, size_t n)
{
    switch (t->kind) {
    case TY_ERROR: snprintf(buf, n, "<error>"); break;
    case TY_VOID: snprintf(buf, n, "nothing"); break;
    case TY_BOOL: snprintf(buf, n, "bool"); break;
    case TY_INT: snprintf(buf, n, "int"); break;
    case TY_FLOAT: snprintf(buf, n, "float"); break;
    case TY_STRING: snprintf(buf, n, "string"); break;
    case TY_TENSOR: {
        char s[200];
        snprintf(buf, n, "f32%s", ir_shape_str(&t->shape, s, sizeof s));
        break;
    }
    }
    return buf;
}

static const Type *tensor_type(Sema *s, const IrShape *shape)
{
    Type *t = ARENA_NEW(s->arena, Type);
    t->kind = TY_TENSOR;
    t->shape = *shape;
    return t;
}

static const Binding *lookup(const Sema *s, const char *name)
{
    for (int i = s->nenv - 1; i >= 0; i--)
        if (strcmp(s->env[i].name, name) == 0)
            return &s->env[i];
    return NULL;
}

static const Builtin *find_builtin(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(builtins); i++)
        if (strcmp(builtins[i].name, name) == 0)
            return &builtins[i];
    return NULL;
}

static void bind(Sema *s, const char *name, const Type *t)
{
    if (s->nenv == s->capenv) {
        s->capenv = s->capenv ? s->capenv * 2 : 32;
        s->env = util_realloc(s->env, sizeof(Binding) * (size_t)s->capenv);
    }
    s->env[s->nenv++] = (Binding){name, t};
}

/* Numbers and f32 tensors are usable where a tensor is expected; returns the tensor shape
 * view of t (rank 0 for numbers), or NULL after reporting why not. */
static bool as_tensor(Sema *s, const AstNode *e, IrShape *shape)
{
    const Type *t = e->type;
    switch (t->kind) {
    case TY_TENSOR: *shape = t->shape; return true;
    case TY_INT:
    case TY_FLOAT: *shape = (IrShape){0}; return true;
    default: {
        char buf[64];
        diag_error(s->diags, e->span, "expected a tensor or a number, found %s",
                   sema_type_str(t, buf, sizeof buf));
        return false;
    }
    }
}

/* Reports a shape mismatch naming both shapes and pointing at both operands. */
static void shape_mismatch(Sema *s, Span at, const char *what, const char *label_a,
                           const AstNode *a, const IrShape *sa, const char *label_b,
                           const AstNode *b, const IrShape *sb)
{
    char x[200], y[200];
    diag_error(s->diags, at, "%s: f32%s and f32%s", what, ir_shape_str(sa, x, sizeof x),
               ir_shape_str(sb, y, sizeof y));
    diag_note(s->diags, a->span, "%s has shape f32%s", label_a, x);
    diag_note(s->diags, b->span, "%s has shape f32%s", label_b, y);
}

static const Type *check_expr(Sema *s, AstNode *e);

/* ---- literals ------------------------------------------------------------------------ */

/* A tensor literal: nested lists of numbers (optionally negated), rectangular. */
static bool literal_shape(Sema *s, const AstNode *e, int depth, IrShape *shape, bool *first)
{
    if (e->kind != AST_LIST) {
        const AstNode *x = e->kind == AST_UNARY && e->op.op == AST_OP_NEG ? e->op.lhs : e;
        if (x->kind != AST_INT && x->kind != AST_FLOAT) {
            diag_error(s->diags, e->span, "tensor literal elements must be numbers");
            return false;
        }
        if (*first) {
            shape->rank = depth;
            *first = false;
        } else if (shape->rank != depth) {
            diag_error(s->diags, e->span, "ragged tensor literal: expected a list here");
            return false;
        }
        return true;
    }
    if (depth == IR_MAX_RANK) {
        diag_error(s->diags, e->span, "tensor literal nests deeper than %d", IR_MAX_RANK);
        return false;
    }
    if (!*first && depth >= shape->rank) {
        diag_error(s->diags, e->span, "ragged tensor literal: expected a number here");
        return false;
    }
    if (*first)
        shape->dims[depth] = e->list.len;
    else if (shape->dims[depth] != e->list.len) {
        diag_error(s->diags, e->span, "ragged tensor literal: expected %lld elements, found %d",
                   (long long)shape->dims[depth], e->list.len);
        return false;
    }
    if (e->list.len == 0) {
        if (*first) {
            shape->rank = depth + 1;
            *first = false;
        } else if (shape->rank != depth + 1) {
            diag_error(s->diags, e->span, "ragged tensor literal: empty list at the wrong depth");
            return false;
        }
    }
    for (int i = 0; i < e->list.len; i++)
        if (!literal_shape(s, e->list.items[i], depth + 1, shape, first))
            return false;
    return true;
}

static const Type *check_list(Sema *s, AstNode *e)
{
    IrShape shape = {0};
    bool first = true;
    if (!literal_shape(s, e, 0, &shape, &first))
        return &ty_error;
    return tensor_type(s, &shape);
}

/* ---- operators --------------------------------------------------------------------------- */

static const Type *check_binary(Sema *s, AstNode *e)
{
    const Type *lt = check_expr(s, e->op.lhs), *rt = check_expr(s, e->op.rhs);
    if (lt->kind == TY_ERROR || rt->kind == TY_ERROR)
        return &ty_error;
    AstOp op = e->op.op;
    if (op == AST_OP_AND || op == AST_OP_OR) {
        if (lt->kind != TY_BOOL || rt->kind != TY_BOOL) {
            const AstNode *bad = lt->kind != TY_BOOL ? e->op.lhs : e->op.rhs;
            char buf[64];
            diag_error(s->diags, bad->span, "'%s' needs bool operands, found %s", ast_op_name(op),
                       sema_type_str(bad->type, buf, sizeof buf));
            return &ty_error;
        }
        return &ty_bool;
    }
    IrShape a, b, r;
    if (!as_tensor(s, e->op.lhs, &a) | !as_tensor(s, e->op.rhs, &b))
        return &ty_error;
    if (op == AST_OP_MATMUL) {
        char x[200], y[200];
        if (a.rank != 2 || b.rank != 2) {
            const AstNode *bad = a.rank != 2 ? e->op.lhs : e->op.rhs;
            diag_error(s->diags, bad->span, "'@' needs matrices (rank 2), this has shape f32%s",
                       ir_shape_str(a.rank != 2 ? &a : &b, x, sizeof x));
            return &ty_error;
        }
        if (a.dims[1] != b.dims[0]) {
            snprintf(y, sizeof y, "matmul inner dimensions differ (%lld vs %lld)",
                     (long long)a.dims[1], (long long)b.dims[0]);
            shape_mismatch(s, e->span, y, "the left operand", e->op.lhs, &a, "the right operand",
                           e->op.rhs, &b);
            return &ty_error;
        }
        r = (IrShape){.rank = 2, .dims = {a.dims[0], b.dims[1]}};
        return tensor_type(s, &r);
    }
    if (!ir_shape_broadcast(&a, &b, &r)) {
        char what[64];
        snprintf(what, sizeof what, "shapes do not broadcast for '%s'", ast_op_name(op));
        shape_mismatch(s, e->span, what, "the left operand", e->op.lhs, &a, "the right operand",
                       e->op.rhs, &b);
        return &ty_error;
    }
    return tensor_type(s, &r);
}

static const Type *check_unary(Sema *s, AstNode *e)
{
    const Type *t = check_expr(s, e->op.lhs);
    if (t->kind == TY_ERROR)
        return &ty_error;
    if (e->op.op == AST_OP_NOT) {
        if (t->kind != TY_BOOL) {
            char buf[64];
            diag_error(s->diags, e->op.lhs->span, "'not' needs a bool, found %s",
                       sema_type_str(t, buf, sizeof buf));
            return &ty_error;
        }
        return &ty_bool;
    }
    if (t->kind == TY_INT || t->kind == TY_FLOAT)
        return t;  /* -3 stays a compile-time number (axis = -1) */
    IrShape shape;
    if (!as_tensor(s, e->op.lhs, &shape))
        return &ty_error;
    return tensor_type(s, &shape);
}

/* ---- calls ---------------------------------------------------------------------------------- */

/* Binds call arguments to the built-in's parameters: positional in order, then keywords by
 * name. Reports unknown, repeated and missing arguments. */
static bool bind_args(Sema *s, const AstNode *call, const Builtin *b, SemaCall *out)
{
    int nparams = 0;
    while (nparams < SEMA_MAX_PARAMS && b->params[nparams])
        nparams++;
    bool ok = true, seen_keyword = false;
    int next = 0;
    for (int i = 0; i < call->call.args.len; i++) {
        const AstNode *arg = call->call.args.items[i];
        int slot = -1;
        if (!arg->arg.key.name) {
            if (seen_keyword) {
                diag_error(s->diags, arg->span, "positional argument after a keyword argument");
                ok = false;
                continue;
            }
            if (next >= nparams) {
                diag_error(s->diags, arg->span, "%s takes at most %d argument%s, got %d", b->name,
                           nparams, nparams == 1 ? "" : "s", call->call.args.len);
                return false;
            }
            slot = next++;
        } else {
            seen_keyword = true;
            for (int p = 0; p < nparams; p++)
                if (strcmp(b->params[p], arg->arg.key.name) == 0)
                    slot = p;
            if (slot < 0) {
                diag_error(s->diags, arg->arg.key.span, "%s has no parameter named '%s'", b->name,
                           arg->arg.key.name);
                ok = false;
                continue;
            }
            if (out->args[slot]) {
                diag_error(s->diags, arg->arg.key.span, "argument '%s' given more than once",
                           arg->arg.key.name);
                ok = false;
                continue;
            }
        }
        out->args[slot] = arg->arg.value;
    }
    for (int p = 0; ok && p < b->required; p++)
        if (!out->args[p]) {
            diag_error(s->diags, call->span, "%s needs %d argument%s, missing '%s'", b->name,
                       b->required, b->required == 1 ? "" : "s", b->params[p]);
            ok = false;
        }
    return ok;
}

/* An integer given as a literal (possibly negated). */
static bool const_int(const AstNode *e, int64_t *v)
{
    if (e->kind == AST_INT) {
        *v = e->ival;
        return true;
    }
    if (e->kind == AST_UNARY && e->op.op == AST_OP_NEG && e->op.lhs->kind == AST_INT) {
        *v = -e->op.lhs->ival;
        return true;
    }
    return false;
}

/* An integer or a list of integers, e.g. axis = 1 or axis = [0, -1]. Returns the count. */
static int const_ints(Sema *s, const AstNode *e, int64_t *out, int max, const char *what)
{
    if (const_int(e, &out[0]))
        return 1;
    if (e->kind == AST_LIST && e->list.len <= max) {
        for (int i = 0; i < e->list.len; i++)
            if (!const_int(e->list.items[i], &out[i]))
                goto bad;
        return e->list.len;
    }
bad:
    diag_error(s->diags, e->span, "%s must be an integer or a list of integers", what);
    return -1;
}

/* Resolves axis numbers (negative count from the end) into a bit mask over rank axes. */
static bool axes_mask(Sema *s, const AstNode *e, int rank, uint32_t *mask)
{
    if (!e) {
        *mask = rank ? (1u << rank) - 1 : 0;
        return true;
    }
    int64_t axes[IR_MAX_RANK];
    int n = const_ints(s, e, axes, IR_MAX_RANK, "axis");
    if (n < 0)
        return false;
    *mask = 0;
    for (int i = 0; i < n; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
        if (a < 0 || a >= rank) {
            diag_error(s->diags, e->span, "axis %lld is out of range for a tensor of rank %d",
                       (long long)axes[i], rank);
            return false;
        }
        if (*mask & (1u << a)) {
            diag_error(s->diags, e->span, "axis %lld is given twice", (long long)axes[i]);
            return false;
        }
        *mask |= 1u << a;
    }
    return true;
}

static const Type *check_reduce(Sema *s, SemaCall *c, const IrShape *x, const AstNode *axis)
{
    if (!axes_mask(s, axis, x->rank, &c->axes))
        return &ty_error;
    IrShape r = {0};
    for (int i = 0; i < x->rank; i++)
        if (!(c->axes & (1u << i)))
            r.dims[r.rank++] = x->dims[i];
    return tensor_type(s, &r);
}

static const Type *check_transpose(Sema *s, SemaCall *c, const IrShape *x, const AstNode *perm)
{
    IrShape r = {.rank = x->rank};
    if (!perm) {
        for (int i = 0; i < x->rank; i++)
            c->perm[i] = x->rank - 1 - i;
    } else {
        int64_t p[IR_MAX_RANK];
        int n = const_ints(s, perm, p, IR_MAX_RANK, "perm");
        if (n < 0)
            return &ty_error;
        uint32_t seen = 0;
        bool ok = n == x->rank;
        for (int i = 0; ok && i < n; i++) {
            ok = p[i] >= 0 && p[i] < x->rank && !(seen & (1u << p[i]));
            seen |= ok ? 1u << p[i] : 0;
            c->perm[i] = (int)p[i];
        }
        if (!ok) {
            diag_error(s->diags, perm->span, "perm must be a permutation of 0..%d", x->rank - 1);
            return &ty_error;
        }
    }
    for (int i = 0; i < x->rank; i++)
        r.dims[i] = x->dims[c->perm[i]];
    return tensor_type(s, &r);
}

static const Type *check_reshape(Sema *s, SemaCall *c, const IrShape *x, const AstNode *shape)
{
    int64_t d[IR_MAX_RANK];
    int n = shape->kind == AST_LIST && shape->list.len == 0
                ? 0
                : const_ints(s, shape, d, IR_MAX_RANK, "shape");
    if (n < 0)
        return &ty_error;
    int64_t known = 1;
    int infer = -1;
    for (int i = 0; i < n; i++) {
        if (d[i] == -1 && infer < 0)
            infer = i;
        else if (d[i] < 0) {
            diag_error(s->diags, shape->span, "shape dimensions must be >= 0 (one may be -1)");
            return &ty_error;
        } else
            known *= d[i];
    }
    int64_t numel = ir_shape_numel(x);
    if (infer >= 0 && known > 0 && numel % known == 0)
        d[infer] = numel / known;
    c->shape = ir_shape_make(n, d);
    if ((infer >= 0 && (known == 0 || numel % known)) || ir_shape_numel(&c->shape) != numel) {
        char a[200];
        diag_error(s->diags, shape->span, "cannot reshape f32%s (%lld elements) to this shape",
                   ir_shape_str(x, a, sizeof a), (long long)numel);
        return &ty_error;
    }
    return tensor_type(s, &c->shape);
}

static const Type *check_call(Sema *s, AstNode *e)
{
    const AstNode *callee = e->call.callee;
    /* Arguments are checked first so their own errors are reported whatever the callee. */
    bool arg_error = false;
    for (int i = 0; i < e->call.args.len; i++) {
        AstNode *v = e->call.args.items[i]->arg.value;
        const char *kw = e->call.args.items[i]->arg.key.name;
        /* axis/perm/shape are constant attributes, not values to check as tensors */
        if (kw && (!strcmp(kw, "axis") || !strcmp(kw, "perm") || !strcmp(kw, "shape")))
            continue;
        arg_error |= check_expr(s, v)->kind == TY_ERROR;
    }
    if (callee->kind != AST_NAME) {
        diag_error(s->diags, callee->span, "only built-in functions can be called");
        return &ty_error;
    }
    const Builtin *b = find_builtin(callee->name);
    if (!b) {
        if (lookup(s, callee->name))
            diag_error(s->diags, callee->span, "'%s' is a value, not a function", callee->name);
        else
            diag_error(s->diags, callee->span, "unknown function '%s'", callee->name);
        return &ty_error;
    }
    SemaCall *c = ARENA_NEW(s->arena, SemaCall);
    c->kind = b->kind;
    c->op = b->op;
    if (!bind_args(s, e, b, c))
        return &ty_error;
    if (arg_error)
        return &ty_error;
    e->call.resolved = c;

    IrShape x = {0};
    if (b->kind != SEMA_PRINT && b->kind != SEMA_GRAD && b->kind != SEMA_WHERE &&
        b->kind != SEMA_BINARY && !as_tensor(s, c->args[0], &x))
        return &ty_error;
    switch (b->kind) {
    case SEMA_PRINT:
        if (!as_tensor(s, c->args[0], &x))
            return &ty_error;
        return &ty_void;
    case SEMA_GRAD: {
        IrShape y, w;
        if (!as_tensor(s, c->args[0], &y) || !as_tensor(s, c->args[1], &w))
            return &ty_error;
        if (y.rank != 0) {
            char buf[200];
            diag_error(s->diags, c->args[0]->span,
                       "grad differentiates a scalar, but this has shape f32%s (use sum or mean)",
                       ir_shape_str(&y, buf, sizeof buf));
            return &ty_error;
        }
        if (c->args[1]->kind != AST_NAME) {
            diag_error(s->diags, c->args[1]->span,
                       "grad is taken with respect to a named tensor");
            return &ty_error;
        }
        return tensor_type(s, &w);
    }
    case SEMA_UNARY: return tensor_type(s, &x);
    case SEMA_REDUCE:
    case SEMA_MEAN: return check_reduce(s, c, &x, c->args[1]);
    case SEMA_TRANSPOSE: return check_transpose(s, c, &x, c->args[1]);
    case SEMA_RESHAPE: return check_reshape(s, c, &x, c->args[1]);
    case SEMA_BINARY:
    case SEMA_WHERE: {
        int n = b->kind == SEMA_WHERE ? 3 : 2;
        IrShape r = {0}, a;
        for (int i = 0; i < n; i++) {
            if (!as_tensor(s, c->args[i], &a))
                return &ty_error;
            IrShape prev = r;
            if (!ir_shape_broadcast(&prev, &a, &r)) {
                char la[64], lb[64];
                snprintf(la, sizeof la, "'%s'", b->params[i - 1]);
                snprintf(lb, sizeof lb, "'%s'", b->params[i]);
                shape_mismatch(s, e->span, "arguments do not broadcast", la, c->args[i - 1],
                               &prev, lb, c->args[i], &a);
                return &ty_error;
            }
        }
        return tensor_type(s, &r);
    }
    }
    UNREACHABLE();
}

static const Type *check_expr(Sema *s, AstNode *e)
{
    const Type *t = &ty_error;
    switch (e->kind) {
    case AST_INT: t = &ty_int; break;
    case AST_FLOAT: t = &ty_float; break;
    case AST_BOOL: t = &ty_bool; break;
    case AST_STRING: t = &ty_string; break;
    case AST_NAME: {
        const Binding *b = lookup(s, e->name);
        if (b)
            t = b->type;
        else if (find_builtin(e->name))
            diag_error(s->diags, e->span, "'%s' is a function; call it with (...)", e->name);
        else
            diag_error(s->diags, e->span, "unknown name '%s'", e->name);
        break;
    }
    case AST_LIST: t = check_list(s, e); break;
    case AST_UNARY: t = check_unary(s, e); break;
    case AST_BINARY: t = check_binary(s, e); break;
    case AST_CALL: t = check_call(s, e); break;
    default: diag_error(s->diags, e->span, "this expression is not supported here"); break;
    }
    e->type = t;
    return t;
}

static void check_stmt(Sema *s, AstNode *st)
{
    switch (st->kind) {
    case AST_ASSIGN: {
        const Type *t = check_expr(s, st->assign.value);
        const AstNode *target = st->assign.targets.items[0];
        if (st->assign.targets.len != 1 || target->kind != AST_NAME ||
            st->assign.op != AST_OP_ASSIGN) {
            diag_error(s->diags, st->span, "only 'name = value' assignments are supported here");
            break;
        }
        if (find_builtin(target->name)) {
            diag_error(s->diags, target->span, "cannot assign to built-in function '%s'",
                       target->name);
            t = &ty_error;
        } else if (t->kind == TY_VOID) {
            diag_error(s->diags, st->assign.value->span, "this expression has no value");
            t = &ty_error;
        }
        /* Bound even on error, so later uses of the name are not reported again. */
        bind(s, target->name, t);
        break;
    }
    case AST_EXPR_STMT: {
        const Type *t = check_expr(s, st->expr);
        if (t->kind != TY_VOID && t->kind != TY_ERROR)
            diag_error(s->diags, st->span,
                       "the value of this expression is unused (print it or assign it)");
        break;
    }
    default:
        diag_error(s->diags, st->span, "this statement is not supported here");
        break;
    }
}

int sema_check(AstNode *program, Arena *arena, DiagSink *diags)
{
    Sema s = {.arena = arena, .diags = diags};
    int before = diags->errors;
    for (int i = 0; i < program->list.len; i++)
        check_stmt(&s, program->list.items[i]);
    util_free(s.env);
    return diags->errors - before;
}
