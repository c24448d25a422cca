/* ast.h — the syntax tree. Nodes live in one arena per compilation unit and carry spans.
 * Constructors are what the grammar's actions call, one per action. The language is
 * described in docs/language.md; section numbers below refer to it. */
#ifndef NNC_AST_H
#define NNC_AST_H

#include "util/arena.h"
#include "util/diag.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum AstKind {
    /* expressions */
    AST_INT,        /* 42, 0xff, 1_000 */
    AST_FLOAT,      /* 1.5, 1e-3 */
    AST_STRING,     /* "text", escapes decoded */
    AST_BOOL,       /* true, false */
    AST_NAME,       /* x */
    AST_LIST,       /* [a, b, c]: a tensor literal when nested lists of numbers */
    AST_TUPLE,      /* (a, b) or (a,) */
    AST_COMPREHENSION, /* [elem for targets in iter] */
    AST_UNARY,      /* op x */
    AST_BINARY,     /* lhs op rhs */
    AST_RANGE,      /* lo..hi, half-open */
    AST_CALL,       /* callee(args) */
    AST_ARG,        /* one call argument: positional (name NULL) or keyword name = value */
    AST_MEMBER,     /* object.name */
    AST_INDEX,      /* object[indices] */
    AST_SLICE,      /* lo:hi inside an index; either may be NULL */
    AST_ELLIPSIS,   /* ... inside an index or a tensor type */
    AST_IF,         /* if cond block [else block-or-if]: an expression */
    AST_BLOCK,      /* { stmts }: its value is the last expression statement's */
    /* statements */
    AST_EXPR_STMT,  /* an expression evaluated for its effect or as a block's value */
    AST_ASSIGN,     /* targets op value; op is AST_OP_ASSIGN or a compound (+= ...) */
    AST_FOR,        /* for targets in iter block */
    AST_WHILE,      /* while cond block */
    AST_RETURN,     /* return [value] */
    AST_BREAK,
    AST_CONTINUE,
    AST_PARAM_DECL, /* param name: type = init   (in a layer or model) */
    AST_STATE_DECL, /* state name [: type] = init (in a layer, model or optimizer) */
    /* definitions */
    AST_IMPORT,     /* import a.b */
    AST_FN,         /* fn name(params) -> type block */
    AST_DEF,        /* layer / model / optimizer name(params) block */
    AST_TRAIN,      /* train [(params)] block */
    AST_PARAM,      /* one parameter of a fn/layer/...: name [: type] [= default] */
    /* types */
    AST_TYPE_NAME,  /* int, float, bool, string, a layer name, ... */
    AST_TYPE_TENSOR,/* f32[B, 784], i32[B], f32[...] */
    AST_TYPE_LIST,  /* [T] */
    AST_TYPE_TUPLE, /* (T, U) */
    AST_PROGRAM,    /* the items of a file */
} AstKind;

typedef enum AstOp {
    AST_OP_ADD, AST_OP_SUB, AST_OP_MUL, AST_OP_DIV, AST_OP_MATMUL, AST_OP_POW, AST_OP_MOD,
    AST_OP_EQ, AST_OP_NE, AST_OP_LT, AST_OP_LE, AST_OP_GT, AST_OP_GE,
    AST_OP_AND, AST_OP_OR,
    AST_OP_NEG, AST_OP_NOT,
    AST_OP_ASSIGN,   /* = (AST_ASSIGN only); compound assignments use ADD, SUB, MUL, DIV */
} AstOp;

typedef enum AstDefKind { AST_DEF_LAYER, AST_DEF_MODEL, AST_DEF_OPTIMIZER } AstDefKind;

typedef struct AstNode AstNode;
typedef struct Type Type;   /* sema/sema.h: set on expressions by the checker */

/* A list of children. Built by appending during parsing (arena-backed, doubling). */
typedef struct AstList {
    AstNode **items;
    int len, cap;
} AstList;

/* A name with its own span (definitions, parameters, keyword arguments, members). */
typedef struct AstIdent {
    const char *name;
    Span span;
} AstIdent;

struct AstNode {
    AstKind kind;
    Span span;
    const Type *type;   /* NULL until checked */
    union {
        int64_t ival;                                       /* AST_INT */
        double fval;                                        /* AST_FLOAT */
        bool bval;                                          /* AST_BOOL */
        struct { const char *text; size_t len; } str;       /* AST_STRING */
        const char *name;                                   /* AST_NAME, AST_TYPE_NAME */
        AstList list;   /* AST_LIST, AST_TUPLE, AST_BLOCK, AST_PROGRAM, AST_TYPE_TUPLE */
        struct { AstOp op; AstNode *lhs, *rhs; } op;        /* AST_UNARY (rhs NULL), AST_BINARY */
        struct { AstNode *lo, *hi; } range;                 /* AST_RANGE, AST_SLICE */
        struct {
            AstNode *callee;
            AstList args;      /* AST_ARG nodes */
            void *resolved;    /* set by the checker: what the call means */
        } call;                                             /* AST_CALL */
        struct { AstIdent key; AstNode *value; } arg;       /* AST_ARG (key.name NULL: positional) */
        struct { AstNode *object; AstIdent field; } member; /* AST_MEMBER */
        struct { AstNode *object; AstList indices; } index; /* AST_INDEX */
        struct { AstNode *cond, *then, *els; } cond;        /* AST_IF (els may be NULL), AST_WHILE */
        AstNode *expr;                                      /* AST_EXPR_STMT, AST_RETURN (may be NULL), AST_TYPE_LIST */
        struct { AstList targets; AstOp op; AstNode *value; } assign; /* AST_ASSIGN */
        struct { AstList targets; AstNode *iter, *body; } loop;  /* AST_FOR, AST_COMPREHENSION (body = element) */
        struct { AstIdent id; AstNode *type, *init; } decl; /* AST_PARAM_DECL, AST_STATE_DECL, AST_PARAM (init = default) */
        struct { const char *path; Span path_span; } import; /* AST_IMPORT: "a.b" */
        struct {
            AstDefKind def_kind;   /* AST_DEF only */
            AstIdent id;           /* AST_TRAIN: name "train" */
            AstList params;        /* AST_PARAM nodes */
            AstNode *ret;          /* AST_FN: return type, may be NULL */
            AstNode *body;         /* AST_BLOCK */
        } def;                                              /* AST_FN, AST_DEF, AST_TRAIN */
        struct { AstIdent dtype; AstList dims; } tensor;    /* AST_TYPE_TENSOR */
    };
};

AstNode *ast_new(Arena *a, AstKind kind, Span s);
AstNode *ast_int(Arena *a, Span s, int64_t v);
AstNode *ast_float(Arena *a, Span s, double v);
AstNode *ast_bool(Arena *a, Span s, bool v);
AstNode *ast_string(Arena *a, Span s, const char *text, size_t len);
AstNode *ast_name(Arena *a, Span s, const char *name);
AstNode *ast_list(Arena *a, Span s, AstKind kind, AstList items);
AstNode *ast_unary(Arena *a, Span s, AstOp op, AstNode *x);
AstNode *ast_binary(Arena *a, Span s, AstOp op, AstNode *l, AstNode *r);
AstNode *ast_range(Arena *a, Span s, AstKind kind, AstNode *lo, AstNode *hi);
AstNode *ast_call(Arena *a, Span s, AstNode *callee, AstList args);
AstNode *ast_arg(Arena *a, Span s, AstIdent key, AstNode *value);
AstNode *ast_member(Arena *a, Span s, AstNode *object, AstIdent field);
AstNode *ast_index(Arena *a, Span s, AstNode *object, AstList indices);
AstNode *ast_if(Arena *a, Span s, AstKind kind, AstNode *cond, AstNode *then, AstNode *els);
AstNode *ast_unit(Arena *a, Span s, AstKind kind, AstNode *expr);
AstNode *ast_assign(Arena *a, Span s, AstList targets, AstOp op, AstNode *value);
AstNode *ast_loop(Arena *a, Span s, AstKind kind, AstList targets, AstNode *iter, AstNode *body);
AstNode *ast_decl(Arena *a, Span s, AstKind kind, AstIdent id, AstNode *type, AstNode *init);
AstNode *ast_import(Arena *a, Span s, const char *path, Span path_span);
AstNode *ast_def(Arena *a, Span s, AstKind kind, AstDefKind def_kind, AstIdent id,
                 AstList params, AstNode *ret, AstNode *body);
AstNode *ast_tensor_type(Arena *a, Span s, AstIdent dtype, AstList dims);

AstList ast_list_empty(void);
AstList ast_list_append(Arena *a, AstList l, AstNode *n);
AstList ast_list_one(Arena *a, AstNode *n);
AstIdent ast_ident(const char *name, Span span);
AstIdent ast_no_ident(void);

const char *ast_op_name(AstOp op);   /* "+", "@", "neg", ... */
/* The shortest decimal form that reads back as v ("0.1", "1.5e-05"). */
const char *ast_format_double(double v, char *buf, size_t n);
const char *ast_def_kind_name(AstDefKind k); /* "layer", "model", "optimizer" */
/* Prints the tree one node a line, children indented, with line:col spans (--emit=ast).
 * Recurses once per level: the tree must have passed ast_check_depth. */
void ast_print(FILE *out, const AstNode *n);

/* The parser takes left-associative chains (1 + 1 + ... + 1) of any length, and the
 * printers (--emit=ast, nnc fmt) recurse once per level of the tree: deeper trees are an
 * error there. Well above what the checker takes (SEMA_MAX_EVAL_DEPTH = 1000 levels of
 * expressions, each at most a few levels of syntax), well below what an 8 MiB stack holds. */
enum { AST_MAX_DEPTH = 5000 };
/* Reports the first node deeper than AST_MAX_DEPTH below program; false if there is one. */
bool ast_check_depth(const AstNode *program, DiagSink *d);

#endif
