#include "ast/ast.h"
#include "util/util.h"

#include <stdlib.h>

AstNode *ast_new(Arena *a, AstKind kind, Span s)
{
    AstNode *n = ARENA_NEW(a, AstNode);
    n->kind = kind;
    n->span = s;
    return n;
}

AstNode *ast_int(Arena *a, Span s, int64_t v)
{
    AstNode *n = ast_new(a, AST_INT, s);
    n->ival = v;
    return n;
}

AstNode *ast_float(Arena *a, Span s, double v)
{
    AstNode *n = ast_new(a, AST_FLOAT, s);
    n->fval = v;
    return n;
}

AstNode *ast_bool(Arena *a, Span s, bool v)
{
    AstNode *n = ast_new(a, AST_BOOL, s);
    n->bval = v;
    return n;
}

AstNode *ast_string(Arena *a, Span s, const char *text, size_t len)
{
    AstNode *n = ast_new(a, AST_STRING, s);
    n->str.text = text;
    n->str.len = len;
    return n;
}

AstNode *ast_name(Arena *a, Span s, const char *name)
{
    AstNode *n = ast_new(a, AST_NAME, s);
    n->name = name;
    return n;
}

AstNode *ast_list(Arena *a, Span s, AstKind kind, AstList items)
{
    AstNode *n = ast_new(a, kind, s);
    n->list = items;
    return n;
}

AstNode *ast_unary(Arena *a, Span s, AstOp op, AstNode *x)
{
    AstNode *n = ast_new(a, AST_UNARY, s);
    n->op.op = op;
    n->op.lhs = x;
    return n;
}

AstNode *ast_binary(Arena *a, Span s, AstOp op, AstNode *l, AstNode *r)
{
    AstNode *n = ast_new(a, AST_BINARY, s);
    n->op.op = op;
    n->op.lhs = l;
    n->op.rhs = r;
    return n;
}

AstNode *ast_range(Arena *a, Span s, AstKind kind, AstNode *lo, AstNode *hi)
{
    AstNode *n = ast_new(a, kind, s);
    n->range.lo = lo;
    n->range.hi = hi;
    return n;
}

AstNode *ast_call(Arena *a, Span s, AstNode *callee, AstList args)
{
    AstNode *n = ast_new(a, AST_CALL, s);
    n->call.callee = callee;
    n->call.args = args;
    return n;
}

AstNode *ast_arg(Arena *a, Span s, AstIdent key, AstNode *value)
{
    AstNode *n = ast_new(a, AST_ARG, s);
    n->arg.key = key;
    n->arg.value = value;
    return n;
}

AstNode *ast_member(Arena *a, Span s, AstNode *object, AstIdent field)
{
    AstNode *n = ast_new(a, AST_MEMBER, s);
    n->member.object = object;
    n->member.field = field;
    return n;
}

AstNode *ast_index(Arena *a, Span s, AstNode *object, AstList indices)
{
    AstNode *n = ast_new(a, AST_INDEX, s);
    n->index.object = object;
    n->index.indices = indices;
    return n;
}

AstNode *ast_if(Arena *a, Span s, AstKind kind, AstNode *cond, AstNode *then, AstNode *els)
{
    AstNode *n = ast_new(a, kind, s);
    n->cond.cond = cond;
    n->cond.then = then;
    n->cond.els = els;
    return n;
}

AstNode *ast_unit(Arena *a, Span s, AstKind kind, AstNode *expr)
{
    AstNode *n = ast_new(a, kind, s);
    n->expr = expr;
    return n;
}

AstNode *ast_assign(Arena *a, Span s, AstList targets, AstOp op, AstNode *value)
{
    AstNode *n = ast_new(a, AST_ASSIGN, s);
    n->assign.targets = targets;
    n->assign.op = op;
    n->assign.value = value;
    return n;
}

AstNode *ast_loop(Arena *a, Span s, AstKind kind, AstList targets, AstNode *iter, AstNode *body)
{
    AstNode *n = ast_new(a, kind, s);
    n->loop.targets = targets;
    n->loop.iter = iter;
    n->loop.body = body;
    return n;
}

AstNode *ast_decl(Arena *a, Span s, AstKind kind, AstIdent id, AstNode *type, AstNode *init)
{
    AstNode *n = ast_new(a, kind, s);
    n->decl.id = id;
    n->decl.type = type;
    n->decl.init = init;
    return n;
}

AstNode *ast_import(Arena *a, Span s, const char *path, Span path_span)
{
    AstNode *n = ast_new(a, AST_IMPORT, s);
    n->import.path = path;
    n->import.path_span = path_span;
    return n;
}

AstNode *ast_def(Arena *a, Span s, AstKind kind, AstDefKind def_kind, AstIdent id,
                 AstList params, AstNode *ret, AstNode *body)
{
    AstNode *n = ast_new(a, kind, s);
    n->def.def_kind = def_kind;
    n->def.id = id;
    n->def.params = params;
    n->def.ret = ret;
    n->def.body = body;
    return n;
}

AstNode *ast_tensor_type(Arena *a, Span s, AstIdent dtype, AstList dims)
{
    AstNode *n = ast_new(a, AST_TYPE_TENSOR, s);
    n->tensor.dtype = dtype;
    n->tensor.dims = dims;
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

AstList ast_list_one(Arena *a, AstNode *n) { return ast_list_append(a, ast_list_empty(), n); }

AstIdent ast_ident(const char *name, Span span) { return (AstIdent){name, span}; }
AstIdent ast_no_ident(void) { return (AstIdent){0}; }

const char *ast_format_double(double v, char *buf, size_t n)
{
    if (v > -1e16 && v < 1e16 && v == (double)(int64_t)v) { /* range first: no UB */
        snprintf(buf, n, "%.0f", v);
        return buf;
    }
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(buf, n, "%.*g", precision, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

const char *ast_op_name(AstOp op)
{
    static const char *names[] = {
        [AST_OP_ADD] = "+", [AST_OP_SUB] = "-", [AST_OP_MUL] = "*", [AST_OP_DIV] = "/",
        [AST_OP_MATMUL] = "@", [AST_OP_POW] = "^", [AST_OP_MOD] = "%", [AST_OP_EQ] = "==",
        [AST_OP_NE] = "!=", [AST_OP_LT] = "<", [AST_OP_LE] = "<=", [AST_OP_GT] = ">",
        [AST_OP_GE] = ">=", [AST_OP_AND] = "and", [AST_OP_OR] = "or", [AST_OP_NEG] = "-",
        [AST_OP_NOT] = "not", [AST_OP_ASSIGN] = "=",
    };
    return names[op];
}

const char *ast_def_kind_name(AstDefKind k)
{
    static const char *names[] = {"layer", "model", "optimizer"};
    return names[k];
}

/* ---- printer ---------------------------------------------------------------------- */

/* The printer's output and the line table of the file it prints. */
typedef struct Printer {
    FILE *out;
    DiagLines lines;
} Printer;

static void print_span(Printer *p, Span s)
{
    int line, col;
    if (!s.file) {
        fputs(" @?\n", p->out);
        return;
    }
    diag_lines_find(&p->lines, s, &line, &col);
    fprintf(p->out, " @%d:%d\n", line, col);
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

static void print_node(Printer *p, const AstNode *n, int depth);

static void print_children(Printer *p, const AstList *l, int depth)
{
    for (int i = 0; i < l->len; i++)
        print_node(p, l->items[i], depth);
}

/* A labelled group of children, printed only when non-empty: "  targets" then items. */
static void print_group(Printer *p, const char *label, const AstList *l, int depth)
{
    if (!l->len)
        return;
    fprintf(p->out, "%*s%s\n", depth * 2, "", label);
    print_children(p, l, depth + 1);
}

static void print_opt(Printer *p, const char *label, const AstNode *n, int depth)
{
    if (!n)
        return;
    fprintf(p->out, "%*s%s\n", depth * 2, "", label);
    print_node(p, n, depth + 1);
}

static void print_node(Printer *p, const AstNode *n, int depth)
{
    FILE *out = p->out;
    fprintf(out, "%*s", depth * 2, "");
    switch (n->kind) {
    case AST_INT: fprintf(out, "int %lld", (long long)n->ival); break;
    case AST_FLOAT: {
        char num[40];
        fprintf(out, "float %s", ast_format_double(n->fval, num, sizeof num));
        break;
    }
    case AST_BOOL: fprintf(out, "bool %s", n->bval ? "true" : "false"); break;
    case AST_STRING:
        fputs("string ", out);
        print_string(out, n->str.text, n->str.len);
        break;
    case AST_NAME: fprintf(out, "name %s", n->name); break;
    case AST_LIST: fputs("list", out); break;
    case AST_TUPLE: fputs("tuple", out); break;
    case AST_COMPREHENSION: fputs("comprehension", out); break;
    case AST_UNARY: fprintf(out, "unary %s", ast_op_name(n->op.op)); break;
    case AST_BINARY: fprintf(out, "binary %s", ast_op_name(n->op.op)); break;
    case AST_RANGE: fputs("range", out); break;
    case AST_CALL: fputs("call", out); break;
    case AST_ARG:
        if (n->arg.key.name)
            fprintf(out, "arg %s", n->arg.key.name);
        else
            fputs("arg", out);
        break;
    case AST_MEMBER: fprintf(out, "member %s", n->member.field.name); break;
    case AST_INDEX: fputs("index", out); break;
    case AST_SLICE: fputs("slice", out); break;
    case AST_ELLIPSIS: fputs("ellipsis", out); break;
    case AST_IF: fputs("if", out); break;
    case AST_BLOCK: fputs("block", out); break;
    case AST_EXPR_STMT: fputs("expr", out); break;
    case AST_ASSIGN:
        fprintf(out, "assign %s=", n->assign.op == AST_OP_ASSIGN ? "" : ast_op_name(n->assign.op));
        break;
    case AST_FOR: fputs("for", out); break;
    case AST_WHILE: fputs("while", out); break;
    case AST_RETURN: fputs("return", out); break;
    case AST_BREAK: fputs("break", out); break;
    case AST_CONTINUE: fputs("continue", out); break;
    case AST_PARAM_DECL: fprintf(out, "param %s", n->decl.id.name); break;
    case AST_STATE_DECL: fprintf(out, "state %s", n->decl.id.name); break;
    case AST_IMPORT: fprintf(out, "import %s", n->import.path); break;
    case AST_FN: fprintf(out, "fn %s", n->def.id.name); break;
    case AST_DEF: fprintf(out, "%s %s", ast_def_kind_name(n->def.def_kind), n->def.id.name); break;
    case AST_TRAIN: fputs("train", out); break;
    case AST_PARAM: fprintf(out, "parameter %s", n->decl.id.name); break;
    case AST_TYPE_NAME: fprintf(out, "type %s", n->name); break;
    case AST_TYPE_TENSOR: fprintf(out, "type %s[]", n->tensor.dtype.name); break;
    case AST_TYPE_LIST: fputs("type list", out); break;
    case AST_TYPE_TUPLE: fputs("type tuple", out); break;
    case AST_PROGRAM: fputs("program", out); break;
    }
    print_span(p, n->span);
    int d = depth + 1;
    switch (n->kind) {
    case AST_LIST:
    case AST_TUPLE:
    case AST_BLOCK:
    case AST_PROGRAM:
    case AST_TYPE_TUPLE: print_children(p, &n->list, d); break;
    case AST_COMPREHENSION:
    case AST_FOR:
        print_group(p, "targets", &n->loop.targets, d);
        print_opt(p, "in", n->loop.iter, d);
        print_opt(p, n->kind == AST_FOR ? "do" : "yield", n->loop.body, d);
        break;
    case AST_UNARY: print_node(p, n->op.lhs, d); break;
    case AST_BINARY:
        print_node(p, n->op.lhs, d);
        print_node(p, n->op.rhs, d);
        break;
    case AST_RANGE:
    case AST_SLICE:
        print_opt(p, "from", n->range.lo, d);
        print_opt(p, "to", n->range.hi, d);
        break;
    case AST_CALL:
        print_node(p, n->call.callee, d);
        print_children(p, &n->call.args, d);
        break;
    case AST_ARG: print_node(p, n->arg.value, d); break;
    case AST_MEMBER: print_node(p, n->member.object, d); break;
    case AST_INDEX:
        print_node(p, n->index.object, d);
        print_children(p, &n->index.indices, d);
        break;
    case AST_IF:
    case AST_WHILE:
        print_node(p, n->cond.cond, d);
        print_opt(p, "then", n->cond.then, d);
        print_opt(p, "else", n->cond.els, d);
        break;
    case AST_EXPR_STMT:
    case AST_TYPE_LIST: print_node(p, n->expr, d); break;
    case AST_RETURN: print_opt(p, "value", n->expr, d); break;
    case AST_ASSIGN:
        print_group(p, "targets", &n->assign.targets, d);
        print_node(p, n->assign.value, d);
        break;
    case AST_PARAM_DECL:
    case AST_STATE_DECL:
    case AST_PARAM:
        print_opt(p, "type", n->decl.type, d);
        print_opt(p, n->kind == AST_PARAM ? "default" : "init", n->decl.init, d);
        break;
    case AST_FN:
    case AST_DEF:
    case AST_TRAIN:
        print_children(p, &n->def.params, d);
        print_opt(p, "returns", n->def.ret, d);
        print_node(p, n->def.body, d);
        break;
    case AST_TYPE_TENSOR: print_children(p, &n->tensor.dims, d); break;
    default: break;
    }
}

void ast_print(FILE *out, const AstNode *n)
{
    Printer p = {out, {0}};
    if (n->span.file)
        diag_lines_init(&p.lines, n->span.file);
    print_node(&p, n, 0);
    diag_lines_free(&p.lines);
}

/* ---- depth ---------------------------------------------------------------------- */

static const AstNode *deeper(const AstNode *n, int left);

static const AstNode *deeper_list(const AstList *l, int left)
{
    for (int i = 0; i < l->len; i++) {
        const AstNode *d = deeper(l->items[i], left);
        if (d)
            return d;
    }
    return NULL;
}

/* Children a, b and c (any may be NULL), after the list l (may be NULL). */
static const AstNode *deeper_of(const AstList *l, const AstNode *a, const AstNode *b,
                                const AstNode *c, int left)
{
    const AstNode *d = l ? deeper_list(l, left) : NULL;
    if (!d)
        d = deeper(a, left);
    if (!d)
        d = deeper(b, left);
    return d ? d : deeper(c, left);
}

/* The first node more than `left` levels below n, or NULL; recurses at most `left` deep. */
static const AstNode *deeper(const AstNode *n, int left)
{
    if (!n)
        return NULL;
    if (left == 0)
        return n;
    left--;
    switch (n->kind) {
    case AST_LIST:
    case AST_TUPLE:
    case AST_BLOCK:
    case AST_PROGRAM:
    case AST_TYPE_TUPLE: return deeper_list(&n->list, left);
    case AST_COMPREHENSION:
    case AST_FOR: return deeper_of(&n->loop.targets, n->loop.iter, n->loop.body, NULL, left);
    case AST_UNARY:
    case AST_BINARY: return deeper_of(NULL, n->op.lhs, n->op.rhs, NULL, left);
    case AST_RANGE:
    case AST_SLICE: return deeper_of(NULL, n->range.lo, n->range.hi, NULL, left);
    case AST_CALL: return deeper_of(&n->call.args, n->call.callee, NULL, NULL, left);
    case AST_ARG: return deeper(n->arg.value, left);
    case AST_MEMBER: return deeper(n->member.object, left);
    case AST_INDEX: return deeper_of(&n->index.indices, n->index.object, NULL, NULL, left);
    case AST_IF:
    case AST_WHILE: return deeper_of(NULL, n->cond.cond, n->cond.then, n->cond.els, left);
    case AST_EXPR_STMT:
    case AST_TYPE_LIST:
    case AST_RETURN: return deeper(n->expr, left);
    case AST_ASSIGN: return deeper_of(&n->assign.targets, n->assign.value, NULL, NULL, left);
    case AST_PARAM_DECL:
    case AST_STATE_DECL:
    case AST_PARAM: return deeper_of(NULL, n->decl.type, n->decl.init, NULL, left);
    case AST_FN:
    case AST_DEF:
    case AST_TRAIN: return deeper_of(&n->def.params, n->def.ret, n->def.body, NULL, left);
    case AST_TYPE_TENSOR: return deeper_list(&n->tensor.dims, left);
    case AST_INT:
    case AST_FLOAT:
    case AST_BOOL:
    case AST_STRING:
    case AST_NAME:
    case AST_ELLIPSIS:
    case AST_BREAK:
    case AST_CONTINUE:
    case AST_IMPORT:
    case AST_TYPE_NAME: return NULL;
    }
    UNREACHABLE();
}

bool ast_check_depth(const AstNode *program, DiagSink *d)
{
    const AstNode *n = deeper(program, AST_MAX_DEPTH);
    if (n)
        diag_error(d, n->span, "expression nested too deeply (more than %d levels of syntax)",
                   AST_MAX_DEPTH);
    return !n;
}
