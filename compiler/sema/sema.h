/* sema.h — the checker: name resolution, types and shapes, before anything runs.
 * Every expression gets a Type; errors are recorded with spans and checking goes on, with
 * an error type that silences follow-on errors from the same mistake. */
#ifndef NNC_SEMA_H
#define NNC_SEMA_H

#include "ast/ast.h"
#include "ir/ir.h"

typedef enum TypeKind {
    TY_ERROR,    /* an expression whose checking failed; never reported again */
    TY_VOID,     /* print(...) */
    TY_BOOL,
    TY_INT,
    TY_FLOAT,
    TY_STRING,
    TY_TENSOR,   /* f32 with a shape */
} TypeKind;

struct Type {
    TypeKind kind;
    IrShape shape;   /* TY_TENSOR */
};

/* How a call to a built-in is lowered. */
typedef enum SemaBuiltinKind {
    SEMA_PRINT, SEMA_GRAD, SEMA_UNARY, SEMA_REDUCE, SEMA_MEAN, SEMA_BINARY, SEMA_WHERE,
    SEMA_TRANSPOSE, SEMA_RESHAPE,
} SemaBuiltinKind;

enum { SEMA_MAX_PARAMS = 4 };

/* A checked call (AST_CALL's call.resolved): the built-in, its arguments bound to the
 * built-in's parameters (NULL where a default applies), and constant attributes. */
typedef struct SemaCall {
    SemaBuiltinKind kind;
    IrOp op;                              /* the primitive, for UNARY/REDUCE/BINARY */
    const AstNode *args[SEMA_MAX_PARAMS]; /* argument values in parameter order */
    uint32_t axes;                        /* REDUCE, MEAN: reduced axes of the input */
    int perm[IR_MAX_RANK];                /* TRANSPOSE */
    IrShape shape;                        /* RESHAPE: the target shape */
} SemaCall;

/* Checks a whole program; returns the number of errors recorded. Resolutions are
 * allocated in `arena` (the AST's). */
int sema_check(AstNode *program, Arena *arena, DiagSink *diags);

/* "f32[2, 3]", "int", ... into buf. */
const char *sema_type_str(const Type *t, char *buf, size_t n);

#endif
