#include "ast/ast.h"
#include "util/util.h"

static AstNode *node(Arena *a, AstKind k, Span s)
{
    AstNode *n = ARENA_NEW(a, AstNode);
    n->kind = k;
    n->span = s;
    return n;
}

AstNode *ast_int(Arena *a, Span s, int64_t v)
{
    AstNode *n = node(a, AST_INT, s);
    n->ival = v;
    return n;
}

AstNode *ast_float(Arena *a, Span s, double v)
{
    AstNode *n = node(a, AST_FLOAT, s);
    n->fval = v;
    return n;
}

AstNode *ast_bool(Arena *a, Span s, bool v)
{
    AstNode *n = node(a, AST_BOOL, s);
    n->bval = v;
    return n;
}

AstNode *ast_string(Arena *a, Span s, const char *text, size_t len)
{
    AstNode *n = node(a, AST_STRING, s);
    n->str.text = text;
    n->str.len = len;
    return n;
}

AstNode *ast_name(Arena *a, Span s, const char *name)
{
    AstNode *n = node(a, AST_NAME, s);
    n->name = name;
    return n;
}

AstNode *ast_list(Arena *a, Span s, AstList items)
{
    AstNode *n = node(a, AST_LIST, s);
    n->list = items;
    return n;
}

AstNode *ast_unary(Arena *a, Span s, AstOp op, AstNode *x)
{
    AstNode *n = node(a, AST_UNARY, s);
    n->op.op = op;
    n->op.lhs = x;
    return n;
}

AstNode *ast_binary(Arena *a, Span s, AstOp op, AstNode *l, AstNode *r)
{
    AstNode *n = node(a, AST_BINARY, s);
    n->op.op = op;
    n->op.lhs = l;
    n->op.rhs = r;
    return n;
}

AstNode *ast_call(Arena *a, Span s, AstNode *callee, AstList args)
{
    AstNode *n = node(a, AST_CALL, s);
    n->call.callee = callee;
    n->call.args = args;
    return n;
}

AstNode *ast_arg(Arena *a, Span s, const char *name, Span name_span, AstNode *value)
{
    AstNode *n = node(a, AST_ARG, s);
    n->arg.name = name;
    n->arg.name_span = name_span;
    n->arg.value = value;
    return n;
}

AstNode *ast_assign(Arena *a, Span s, const char *name, Span name_span, AstNode *value)
{
    AstNode *n = node(a, AST_ASSIGN, s);
    n->assign.name = name;
    n->assign.name_span = name_span;
    n->assign.value = value;
    return n;
}

AstNode *ast_expr_stmt(Arena *a, Span s, AstNode *e)
{
    AstNode *n = node(a, AST_EXPR_STMT, s);
    n->expr = e;
    return n;
}

AstNode *ast_program(Arena *a, Span s, AstList stmts)
{
    AstNode *n = node(a, AST_PROGRAM, s);
    n->list = stmts;
    return n;
}

AstList ast_list_empty(void) { return (AstList){0}; }

AstList ast_list_append(Arena *a, AstList l, AstNode *n)
{
    if (l.len == l.cap) {
        int cap = l.cap ? l.cap * 2 : 4;
        AstNode **items = ARENA_NEW_N(a, AstNode *, cap);
        for (int i = 0; i < l.len; i++)
            items[i] = l.items[i];
        l.items = items;
        l.cap = cap;
    }
    l.items[l.len++] = n;
    return l;
}

const char *ast_op_name(AstOp op)
{
    static const char *names[] = {
        [AST_OP_ADD] = "+", [AST_OP_SUB] = "-", [AST_OP_MUL] = "*", [AST_OP_DIV] = "/",
        [AST_OP_MATMUL] = "@", [AST_OP_POW] = "^", [AST_OP_EQ] = "==", [AST_OP_NE] = "!=",
        [AST_OP_LT] = "<", [AST_OP_LE] = "<=", [AST_OP_GT] = ">", [AST_OP_GE] = ">=",
        [AST_OP_AND] = "and", [AST_OP_OR] = "or", [AST_OP_NEG] = "-", [AST_OP_NOT] = "not",
    };
    return names[op];
}

static void print_span(FILE *out, Span s)
{
    int line, col;
    if (!s.file) {
        fputs(" @?", out);
        return;
    }
    diag_line_col(s.file, s.lo, &line, &col);
    fprintf(out, " @%d:%d", line, col);
}

static void print_string(FILE *out, const char *s, size_t len)
{
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 32 || c >= 127)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void print_node(FILE *out, const AstNode *n, int depth);

static void print_children(FILE *out, const AstList *l, int depth)
{
    for (int i = 0; i < l->len; i++)
        print_node(out, l->items[i], depth);
}

static void print_node(FILE *out, const AstNode *n, int depth)
{
    fprintf(out, "%*s", depth * 2, "");
    switch (n->kind) {
    case AST_INT: fprintf(out, "int %lld", (long long)n->ival); break;
    case AST_FLOAT: fprintf(out, "float %.17g", n->fval); break;
    case AST_BOOL: fprintf(out, "bool %s", n->bval ? "true" : "false"); break;
    case AST_STRING:
        fputs("string ", out);
        print_string(out, n->str.text, n->str.len);
        break;
    case AST_NAME: fprintf(out, "name %s", n->name); break;
    case AST_LIST: fputs("list", out); break;
    case AST_UNARY: fprintf(out, "unary %s", ast_op_name(n->op.op)); break;
    case AST_BINARY: fprintf(out, "binary %s", ast_op_name(n->op.op)); break;
    case AST_CALL: fputs("call", out); break;
    case AST_ARG:
        if (n->arg.name)
            fprintf(out, "arg %s", n->arg.name);
        else
            fputs("arg", out);
        break;
    case AST_ASSIGN: fprintf(out, "assign %s", n->assign.name); break;
    case AST_EXPR_STMT: fputs("expr", out); break;
    case AST_PROGRAM: fputs("program", out); break;
    }
    print_span(out, n->span);
    fputc('\n', out);
    switch (n->kind) {
    case AST_LIST:
    case AST_PROGRAM: print_children(out, &n->list, depth + 1); break;
    case AST_UNARY: print_node(out, n->op.lhs, depth + 1); break;
    case AST_BINARY:
        print_node(out, n->op.lhs, depth + 1);
        print_node(out, n->op.rhs, depth + 1);
        break;
    case AST_CALL:
        print_node(out, n->call.callee, depth + 1);
        print_children(out, &n->call.args, depth + 1);
        break;
    case AST_ARG: print_node(out, n->arg.value, depth + 1); break;
    case AST_ASSIGN: print_node(out, n->assign.value, depth + 1); break;
    case AST_EXPR_STMT: print_node(out, n->expr, depth + 1); break;
    default: break;
    }
    }

void ast_print(FILE *out, const AstNode *n) { print_node(out, n, 0); }
