/* ast.h — the syntax tree. Nodes live in one arena per compilation unit and carry spans.
 * Constructors are what the grammar's actions call, one per action. */
#ifndef NNC_AST_H
#define NNC_AST_H

#include "util/arena.h"
#include "util/diag.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum AstKind {
    AST_INT,        /* 42, 0xff, 1_000 */
    AST_FLOAT,      /* 1.5, 1e-3 */
    AST_STRING,     /* "text", escapes decoded */
    AST_BOOL,       /* true, false */
    AST_NAME,       /* x */
    AST_LIST,       /* [a, b, c]: a tensor literal when nested lists of numbers */
    AST_UNARY,      /* op lhs */
    AST_BINARY,     /* lhs op rhs */
    AST_CALL,       /* callee(args) */
    AST_ARG,        /* one call argument: positional (name NULL) or keyword name = value */
    AST_ASSIGN,     /* name = value */
    AST_EXPR_STMT,  /* an expression evaluated for its effect (print(...)) */
    AST_PROGRAM,    /* the statements of a file */
} AstKind;

typedef enum AstOp {
    AST_OP_ADD, AST_OP_SUB, AST_OP_MUL, AST_OP_DIV, AST_OP_MATMUL, AST_OP_POW,
    AST_OP_EQ, AST_OP_NE, AST_OP_LT, AST_OP_LE, AST_OP_GT, AST_OP_GE,
    AST_OP_AND, AST_OP_OR,
    AST_OP_NEG, AST_OP_NOT,
} AstOp;

typedef struct AstNode AstNode;
typedef struct Type Type;   /* sema/sema.h: set on expressions by the checker */

/* A list of children. Built by appending during parsing (arena-backed, doubling). */
typedef struct AstList {
    AstNode **items;
    int len, cap;
} AstList;

struct AstNode {
    AstKind kind;
    Span span;
    const Type *type;   /* NULL until checked */
    union {
        int64_t ival;                                       /* AST_INT */
        double fval;                                        /* AST_FLOAT */
        bool bval;                                          /* AST_BOOL */
        struct { const char *text; size_t len; } str;       /* AST_STRING */
        const char *name;                                   /* AST_NAME */
        AstList list;                                       /* AST_LIST, AST_PROGRAM */
        struct { AstOp op; AstNode *lhs, *rhs; } op;        /* AST_UNARY (rhs NULL), AST_BINARY */
        struct {
            AstNode *callee;
            AstList args;      /* AST_ARG nodes */
            void *resolved;    /* set by the checker: what the call means (sema.c) */
        } call;                                             /* AST_CALL */
        struct { const char *name; Span name_span; AstNode *value; } arg;  /* AST_ARG */
        struct { const char *name; Span name_span; AstNode *value; } assign; /* AST_ASSIGN */
        AstNode *expr;                                      /* AST_EXPR_STMT */
    };
};

AstNode *ast_int(Arena *a, Span s, int64_t v);
AstNode *ast_float(Arena *a, Span s, double v);
AstNode *ast_bool(Arena *a, Span s, bool v);
AstNode *ast_string(Arena *a, Span s, const char *text, size_t len);
AstNode *ast_name(Arena *a, Span s, const char *name);
AstNode *ast_list(Arena *a, Span s, AstList items);
AstNode *ast_unary(Arena *a, Span s, AstOp op, AstNode *x);
AstNode *ast_binary(Arena *a, Span s, AstOp op, AstNode *l, AstNode *r);
AstNode *ast_call(Arena *a, Span s, AstNode *callee, AstList args);
AstNode *ast_arg(Arena *a, Span s, const char *name, Span name_span, AstNode *value);
AstNode *ast_assign(Arena *a, Span s, const char *name, Span name_span, AstNode *value);
AstNode *ast_expr_stmt(Arena *a, Span s, AstNode *e);
AstNode *ast_program(Arena *a, Span s, AstList stmts);

AstList ast_list_empty(void);
AstList ast_list_append(Arena *a, AstList l, AstNode *n);

const char *ast_op_name(AstOp op);   /* "+", "@", "neg", ... */
/* Prints the tree one node a line, children indented, with line:col spans (--emit=ast). */
void ast_print(FILE *out, const AstNode *n);

#endif
