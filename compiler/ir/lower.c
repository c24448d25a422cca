/* lower.c — checked AST to graph IR (see lower.h). */
#include "ir/lower.h"
#include "sema/sema.h"
#include "util/util.h"

#include <string.h>

typedef struct Var {
    const char *name;
    IrNode *node;
} Var;

typedef struct Lower {
    IrGraph *g;
    Var *vars;
    int nvars, capvars;
    DiagSink *diags;
    bool failed;
} Lower;

static IrNode *unsupported(Lower *l, const AstNode *e, const char *what)
{
    if (!l->failed)
        diag_error(l->diags, e->span, "code generation does not support %s yet", what);
    l->failed = true;
    return NULL;
}

static IrNode *lookup(const Lower *l, const char *name)
{
    for (int i = l->nvars - 1; i >= 0; i--)
        if (strcmp(l->vars[i].name, name) == 0)
            return l->vars[i].node;
    UNREACHABLE();
}

static void bind(Lower *l, const char *name, IrNode *n)
{
    if (l->nvars == l->capvars) {
        l->capvars = l->capvars ? l->capvars * 2 : 32;
        l->vars = util_realloc(l->vars, sizeof(Var) * (size_t)l->capvars);
    }
    l->vars[l->nvars++] = (Var){name, n};
}

static double number_value(const AstNode *e)
{
    switch (e->kind) {
    case AST_INT: return (double)e->ival;
    case AST_FLOAT: return e->fval;
    case AST_UNARY: return -number_value(e->op.lhs);
    default: UNREACHABLE();
    }
}

static void flatten(const AstNode *e, double *out, int64_t *n)
{
    if (e->kind != AST_LIST) {
        out[(*n)++] = number_value(e);
        return;
    }
    for (int i = 0; i < e->list.len; i++)
        flatten(e->list.items[i], out, n);
}

static IrNode *lower_expr(Lower *l, const AstNode *e);

static IrNode *lower_call(Lower *l, const AstNode *e)
{
    const SemaCall *c = e->call.resolved;
    IrGraph *g = l->g;
    Span s = e->span;
    if (!c || c->kind == SEMA_OTHER)
        return unsupported(l, e, "this call");
    if (c->kind == SEMA_PRINT && c->args[0]->type->kind != TY_TENSOR &&
        c->args[0]->type->kind != TY_INT && c->args[0]->type->kind != TY_FLOAT)
        return unsupported(l, c->args[0], "printing this value");
    if (c->kind == SEMA_GRAD && c->args[1]->kind != AST_NAME)
        return unsupported(l, c->args[1], "gradients with respect to members");
    IrNode *x = c->kind == SEMA_GRAD || !c->args[0] ? NULL : lower_expr(l, c->args[0]);
    if (l->failed)
        return NULL;
    switch (c->kind) {
    case SEMA_PRINT: return ir_print(g, s, x);
    case SEMA_GRAD: {
        IrNode *y = lower_expr(l, c->args[0]);
        return l->failed ? NULL : ir_grad(g, s, y, lookup(l, c->args[1]->name));
    }
    case SEMA_UNARY: return ir_unary(g, s, c->op, x);
    case SEMA_REDUCE: return c->axes ? ir_reduce(g, s, c->op, x, c->axes) : x;
    case SEMA_MEAN: {
        if (!c->axes)
            return x;
        int64_t count = 1;
        for (int i = 0; i < x->shape.rank; i++)
            if (c->axes & (1u << i))
                count *= x->shape.dims[i];
        IrNode *sum = ir_reduce(g, s, IR_OP_SUM, x, c->axes);
        return ir_binary(g, s, IR_OP_MUL, sum, ir_scalar(g, s, 1.0 / (double)count));
    }
    case SEMA_BINARY: {
        IrNode *b = lower_expr(l, c->args[1]);
        return l->failed ? NULL : ir_binary(g, s, c->op, x, b);
    }
    case SEMA_WHERE: {
        IrNode *a = lower_expr(l, c->args[1]);
        IrNode *b = l->failed ? NULL : lower_expr(l, c->args[2]);
        return l->failed ? NULL : ir_select(g, s, x, a, b);
    }
    case SEMA_TRANSPOSE: return ir_transpose(g, s, x, c->perm);
    case SEMA_RESHAPE: return ir_reshape(g, s, x, &c->shape);
    case SEMA_OTHER: break; /* rejected above */
    }
    UNREACHABLE();
}

static IrOp binary_op(AstOp op)
{
    switch (op) {
    case AST_OP_ADD: return IR_OP_ADD;
    case AST_OP_SUB: return IR_OP_SUB;
    case AST_OP_MUL: return IR_OP_MUL;
    case AST_OP_DIV: return IR_OP_DIV;
    case AST_OP_POW: return IR_OP_POW;
    case AST_OP_EQ: return IR_OP_CMP_EQ;
    case AST_OP_NE: return IR_OP_CMP_NE;
    case AST_OP_LT: return IR_OP_CMP_LT;
    case AST_OP_LE: return IR_OP_CMP_LE;
    case AST_OP_GT: return IR_OP_CMP_GT;
    case AST_OP_GE: return IR_OP_CMP_GE;
    default: UNREACHABLE();
    }
}

static IrNode *lower_expr_checked(Lower *l, const AstNode *e);

static IrNode *lower_expr(Lower *l, const AstNode *e)
{
    if (l->failed)
        return NULL;
    if (e->kind != AST_CALL && (!e->type || (e->type->kind != TY_TENSOR && e->type->kind != TY_INT &&
                                             e->type->kind != TY_FLOAT)))
        return unsupported(l, e, "this kind of value");
    return lower_expr_checked(l, e);
}

static IrNode *lower_expr_checked(Lower *l, const AstNode *e)
{
    IrGraph *g = l->g;
    switch (e->kind) {
    case AST_INT:
    case AST_FLOAT: return ir_scalar(g, e->span, number_value(e));
    case AST_NAME: return lookup(l, e->name);
    case AST_LIST: {
        IrShape shape = e->type->shape;
        double *values = util_malloc(sizeof(double) * (size_t)(ir_shape_numel(&shape) + 1));
        int64_t n = 0;
        flatten(e, values, &n);
        IrNode *k = ir_const(g, e->span, &shape, values);
        util_free(values);
        return k;
    }
    case AST_UNARY:
        if (e->type->kind != TY_TENSOR)
            return ir_scalar(g, e->span, number_value(e));
        {
            IrNode *x = lower_expr(l, e->op.lhs);
            return l->failed ? NULL : ir_unary(g, e->span, IR_OP_NEG, x);
        }
    case AST_BINARY: {
        if (e->op.op == AST_OP_MOD || e->op.op == AST_OP_AND || e->op.op == AST_OP_OR ||
            e->type->kind != TY_TENSOR)
            return unsupported(l, e, "this operator");
        IrNode *a = lower_expr(l, e->op.lhs);
        IrNode *b = l->failed ? NULL : lower_expr(l, e->op.rhs);
        if (l->failed)
            return NULL;
        if (e->op.op == AST_OP_MATMUL && (a->shape.rank != 2 || b->shape.rank != 2))
            return unsupported(l, e, "batched matrix products");
        if (e->op.op == AST_OP_MATMUL)
            return ir_matmul(g, e->span, a, b);
        return ir_binary(g, e->span, binary_op(e->op.op), a, b);
    }
    case AST_CALL: return lower_call(l, e);
    default: return unsupported(l, e, "this expression");
    }
}

IrGraph *lower_program(const AstNode *program, DiagSink *diags)
{
    Lower l = {.g = ir_graph_new(), .diags = diags};
    for (int i = 0; i < program->list.len && !l.failed; i++) {
        const AstNode *st = program->list.items[i];
        if (st->kind == AST_ASSIGN && st->assign.op == AST_OP_ASSIGN && st->assign.targets.len == 1 &&
            st->assign.targets.items[0]->kind == AST_NAME) {
            IrNode *v = lower_expr(&l, st->assign.value);
            if (v)
                bind(&l, st->assign.targets.items[0]->name, v);
        } else if (st->kind == AST_EXPR_STMT) {
            lower_expr(&l, st->expr);
        } else {
            unsupported(&l, st, "layers, functions, control flow or training (only top-level "
                                "tensor statements are compiled so far)");
        }
    }
    util_free(l.vars);
    if (l.failed) {
        ir_graph_free(l.g);
        return NULL;
    }
    return l.g;
}
