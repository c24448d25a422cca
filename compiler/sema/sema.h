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
    /* With program: settings given on the command line (what follows `--` on nnc's: `nnc
     * run FILE -- ARGS`, `nnc FILE -o EXE -- ARGS`), as `--NAME VALUE` or `--NAME=VALUE`.
     * A train setting named there is compiled with that value: it sizes tensors where the
     * setting does, and is the executable's default. With `strict` (building an
     * executable) each must name a setting of the train block and parse as its type;
     * otherwise the others are the program's own flags, left to it. */
    char **setting_args;
    int nsetting_args;
    bool strict_setting_args;
    /* With program: a loop over batches whose last batch may be smaller (not drop_last)
     * is traced with the batch's first axis as its rows, a size known at run time
     * (IrShape.rows, docs/training.md §4). When that fails (the program uses the rows
     * where a compile-time size is needed), checking again without it compiles every
     * batch at the full size. */
    bool batch_rows;
    /* Without batch_rows after it failed: why, given to the batch settings fixed because
     * of it (ProgSetting.why_full). */
    const char *batch_rows_why;
} SemaOptions;

typedef struct SemaResult {
    int errors;
    bool has_definitions;  /* the program defines or instantiates layers, fns or train */
    bool batch_rows_used;  /* a loop over batches was traced with rows (batch_rows) */
    void *reserved;
} SemaResult;

/* Checks a program and every module it imports. Imported files are read and parsed into
 * `arena` (they live as long as the AST). */
SemaResult sema_check(AstNode *program, const SemaOptions *opts, Arena *arena,
                      DiagSink *diags);

/* ---- a REPL session (session.c, docs/repl.md) -----------------------------------------
 *
 * The checker kept alive from one entry to the next. Each entry is checked and traced
 * against the state the earlier entries left: their definitions, their variables, and
 * their tensors, which live in the session's slots (read with SLOT_LOAD; the tensors an
 * entry binds are written to new slots with SLOT_STORE). An entry works on a copy of the
 * state, so one that fails (in checking, or when it runs) changes nothing; the copy also
 * drops what nothing refers to any more (old values, replaced definitions, dead slots), so
 * a long session stays as large as what it keeps. */

typedef struct SemaSession SemaSession;

/* A tensor the session keeps: numel(shape) 4-byte elements (f32 or i32). */
typedef struct SemaSlot {
    IrDType dtype;
    IrShape shape;
    void *data;        /* NULL until the entry that made it has run */
} SemaSlot;

typedef enum SemaEntryKind {
    SEMA_ENTRY_RUN,    /* statements; a last expression's value is shown */
    SEMA_ENTRY_LOAD,   /* a file's statements (:load): nothing shown, train blocks skipped */
    SEMA_ENTRY_CHECK,  /* one expression, checked only (:type, :shape) */
    SEMA_ENTRY_VALUE,  /* one expression, traced and stored to a scratch slot, not shown
                          (:ir, :llvm, :time) */
} SemaEntryKind;

typedef struct SemaEntry {
    IrGraph *graph;    /* RUN, VALUE: what to compile (the caller runs the passes) */
    int *new_slots;    /* slots the graph stores, to be filled by running it */
    int nnew;
    char *shown;       /* RUN: a last expression's value that is not a tensor, in words
                          ("3", an instance's parameters); a tensor is printed by the graph */
    char *type;        /* CHECK: the expression's type ("f32[2, 3]", "int", "mlp") */
    bool is_tensor;    /* CHECK: ... and whether it is a tensor */
    char *shape;       /* CHECK: a tensor's shape ("[2, 3]") */
} SemaEntry;

SemaSession *sema_session_new(const char *stdlib_dir, const char *search_path,
                              DiagSink *diags);
void sema_session_free(SemaSession *s);
/* Parses (as file `name`), checks and traces one entry. False when it has errors (they are
 * in the session's DiagSink); the state is then as it was. After true, the caller runs
 * e->graph if it has one and ends the entry with commit = whether that succeeded. */
bool sema_session_begin(SemaSession *s, const char *name, const char *text, SemaEntryKind kind,
                        SemaEntry *e);
void sema_session_end(SemaSession *s, SemaEntry *e, bool commit);
/* After e's graph ran: allocates the entry's new slots and copies their data, slot
 * e->new_slots[i] from `from + offsets[i]`. False (with "nnc: out of memory (N bytes)" on
 * stderr) if an allocation failed: end the entry without committing it. */
bool sema_session_fill(SemaSession *s, const SemaEntry *e, const char *from,
                       const int64_t *offsets);
/* Ends an entry that an internal error or a failed allocation stopped midway, anywhere
 * from sema_session_begin to sema_session_end, and that the caller recovered from
 * (util_set_recovery): the state is as it was before. e: as begin left it (zero if begin
 * did not return). */
void sema_session_abandon(SemaSession *s, SemaEntry *e);
/* The session's slot table: slot k is (*slots)[k]; *count slots, some unused. */
SemaSlot *sema_session_slots(SemaSession *s, int *count);
/* For :mem: variables, tensors kept and their bytes, bytes of checker state. */
typedef struct SemaSessionStats {
    int variables, tensors;
    int64_t tensor_bytes, state_bytes;
} SemaSessionStats;
SemaSessionStats sema_session_stats(const SemaSession *s);

#endif
