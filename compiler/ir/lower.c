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
} Lower;

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
    IrNode *x = c->kind == SEMA_GRAD || !c->args[0] ? NULL : lower_expr(l, c->args[0]);
    switch (c->kind) {
    case SEMA_PRINT: return ir_print(g, s, x);
    case SEMA_GRAD: return ir_grad(g, s, lower_expr(l, c->args[0]), lookup(l, c->args[1]->name));
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
    case SEMA_BINARY: return ir_binary(g, s, c->op, x, lower_expr(l, c->args[1]));
    case SEMA_WHERE: {
        IrNode *a = lower_expr(l, c->args[1]);
        return ir_select(g, s, x, a, lower_expr(l, c->args[2]));
    }
    case SEMA_TRANSPOSE: return ir_transpose(g, s, x, c->perm);
    case SEMA_RESHAPE: return ir_reshape(g, s, x, &c->shape);
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

static IrNode *lower_expr(Lower *l, const AstNode *e)
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
        return ir_unary(g, e->span, IR_OP_NEG, lower_expr(l, e->op.lhs));
    case AST_BINARY: {
        IrNode *a = lower_expr(l, e->op.lhs), *b = lower_expr(l, e->op.rhs);
        if (e->op.op == AST_OP_MATMUL)
            return ir_matmul(g, e->span, a, b);
        return ir_binary(g, e->span, binary_op(e->op.op), a, b);
    }
    case AST_CALL: return lower_call(l, e);
    default: UNREACHABLE();
    }
}

IrGraph *lower_program(const AstNode *program)
{
    Lower l = {.g = ir_graph_new()};
    for (int i = 0; i < program->list.len; i++) {
        const AstNode *st = program->list.items[i];
        if (st->kind == AST_ASSIGN)
            bind(&l, st->assign.targets.items[0]->name, lower_expr(&l, st->assign.value));
        else
            lower_expr(&l, st->expr);
    }
    util_free(l.vars);
    return l.g;
}
