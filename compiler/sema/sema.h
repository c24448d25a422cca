/* sema.h — the checker: names, types and symbolic shapes, before anything runs.
 *
 * The checker is an abstract interpreter over the AST: compile-time values (ints, lists,
 * layer instances) are computed, tensors are tracked by dtype and shape, functions and
 * layers are checked per instantiation like templates, and run-time control flow (the
 * train block) is checked once per path. Errors are recorded with spans and checking goes
 * on; a value whose checking failed is an error value that silences follow-on errors. */
#ifndef NNC_SEMA_H
#define NNC_SEMA_H

#include "ast/ast.h"
#include "ir/ir.h"

/* ---- results the lowering of script programs reads (top-level tensor expressions) ---- */

typedef enum TypeKind {
    TY_ERROR, TY_VOID, TY_BOOL, TY_INT, TY_FLOAT, TY_STRING, TY_TENSOR, TY_OTHER,
} TypeKind;

/* Set on top-level expressions whose value has a fully known shape (node->type). */
struct Type {
    TypeKind kind;
    IrShape shape;   /* TY_TENSOR */
};

typedef enum SemaBuiltinKind {
    SEMA_PRINT, SEMA_GRAD, SEMA_UNARY, SEMA_REDUCE, SEMA_MEAN, SEMA_BINARY, SEMA_WHERE,
    SEMA_TRANSPOSE, SEMA_RESHAPE, SEMA_OTHER,
} SemaBuiltinKind;

enum { SEMA_MAX_PARAMS = 8 };

/* A checked call of a built-in (AST_CALL's call.resolved), for lowering. */
typedef struct SemaCall {
    SemaBuiltinKind kind;
    IrOp op;                              /* the primitive, for UNARY/REDUCE/BINARY */
    const AstNode *args[SEMA_MAX_PARAMS]; /* argument values in parameter order */
    uint32_t axes;                        /* REDUCE, MEAN: reduced axes of the input */
    int perm[IR_MAX_RANK];                /* TRANSPOSE */
    IrShape shape;                        /* RESHAPE: the target shape */
} SemaCall;

typedef struct SemaOptions {
    const char *stdlib_dir;    /* where `import std` finds std.nn; NULL: none */
    const char *search_path;   /* NNC_PATH: colon-separated directories, or NULL */
    /* When set, the program's statements are also traced into this graph: every tensor
     * value carries the IR node computing it, functions and layers are inlined, and what
     * code generation cannot compile yet is reported as an error. */
    IrGraph *trace;
    /* With trace: where a program with a train block is returned (its script part is in
     * `trace`, its train block in the program's regions and host code; prog/prog.h). */
    struct Prog **program;
} SemaOptions;

typedef struct SemaResult {
    int errors;
    bool has_definitions;  /* the program defines or instantiates layers, fns or train */
    void *reserved;
} SemaResult;

/* Checks a program and every module it imports. Imported files are read and parsed into
 * `arena` (they live as long as the AST). */
SemaResult sema_check(AstNode *program, const SemaOptions *opts, Arena *arena,
                      DiagSink *diags);

#endif
