/* sema_internal.h — the checker's values, scopes and shared helpers. */
#ifndef NNC_SEMA_INTERNAL_H
#define NNC_SEMA_INTERNAL_H

#include "prog/prog.h"
#include "sema/sema.h"
#include "util/util.h"

#include <stdint.h>

/* ---- dimensions ---------------------------------------------------------------------- */

/* A tensor dimension: a known size (sym == 0), a symbolic size known only at run time
 * (sym > 0, an index into the checker's symbol names), or "any" (sym < 0, from `_` or an
 * unknown shape). Symbols are equal only to themselves. */
typedef struct Dim {
    int64_t n;
    int sym;
} Dim;

#define DIM_ANY ((Dim){0, -1})
static inline Dim dim_const(int64_t n) { return (Dim){n, 0}; }
static inline bool dim_known(Dim d) { return d.sym == 0; }

/* ---- values ---------------------------------------------------------------------------- */

typedef enum VKind {
    V_ERROR,     /* checking failed; accepted silently everywhere */
    V_VOID,      /* no value (print(...)) */
    V_BOOL, V_INT, V_FLOAT, V_STRING,
    V_TENSOR,
    V_TUPLE,     /* items[len] */
    V_LIST,      /* items[len] when len >= 0; else elem describes every item */
    V_RANGE,     /* ints lo..hi; bounds known or not */
    V_FN,        /* a function definition (node) */
    V_DEF,       /* a layer/model/optimizer definition: calling it makes an instance */
    V_INSTANCE,  /* inst */
    V_METHOD,    /* a fn of an instance: node + inst */
    V_BUILTIN,   /* builtin */
    V_DATASET,   /* a dataset with .train and .test splits: x, y sample types */
    V_SPLIT,     /* samples x, y */
    V_BATCHES,   /* iterating gives (x with a leading batch dim, y likewise) */
} VKind;

enum { DT_F32, DT_I32 };

typedef struct Value Value;
typedef struct Instance Instance;
typedef struct Builtin Builtin;
typedef struct Scope Scope;

struct Value {
    VKind kind;
    bool known;         /* BOOL/INT/FLOAT/STRING: the constant below is known */
    bool b;
    int64_t i;
    double f;
    const char *s;
    Dim dim;            /* V_INT: the int as a dimension (symbolic when not known) */
    int dtype;          /* V_TENSOR */
    int rank;           /* V_TENSOR: -1 when unknown */
    Dim dims[IR_MAX_RANK];
    Value **items;      /* V_TUPLE, V_LIST (len >= 0) */
    int len;
    Value *elem;        /* V_LIST with len < 0 */
    Value *lo, *hi;     /* V_RANGE */
    Value *x, *y;       /* V_SPLIT, V_BATCHES, V_DATASET: sample types */
    IrNode *node;             /* V_TENSOR while tracing: the graph node computing it */
    int region;               /* ... and the region graph that node is in (train tracing) */
    bool has_slot;            /* V_TENSOR (train tracing): kept in this persistent slot */
    int slot;
    ProgExpr *hx;             /* V_INT/V_FLOAT/V_BOOL known only at run time (train tracing):
                                 the host expression computing it (i keeps a setting's
                                 default, the value shapes are compiled with) */
    const char *setting;      /* V_STRING known only at run time: the train setting (--NAME)
                                 it comes from, read when the program starts */
    struct DataRef *data;     /* V_DATASET, V_SPLIT, V_BATCHES (train tracing) */
    const AstNode *def;       /* V_FN, V_DEF, V_METHOD */
    Instance *inst;           /* V_INSTANCE, V_METHOD */
    const Builtin *builtin;   /* V_BUILTIN */
    Span origin;        /* where the value was declared, for notes (params, arguments) */
};

/* A layer/model/optimizer instance: its members live in `scope`. */
struct Instance {
    const AstNode *def;
    Scope *scope;
    Span created;
    bool optimizer_checked;
    /* While tracing an optimizer: its per-parameter state scopes (parallel to the params
     * they belong to, identified by their ParamRef) and the number of steps taken. */
    struct ParamRef **state_params;   /* arena arrays, grown by doubling */
    Scope **state_scopes;
    int nstates, capstates;
    int64_t steps;
    bool training;          /* train/eval mode while tracing (net.train(), net.eval());
                               true for a new instance */
    int step_var;           /* an optimizer in a train program: 1 + the host variable that
                               counts its steps at run time (0: none yet) */
};

/* Where a dataset value comes from, while tracing a train block. */
typedef struct DataRef {
    ProgData source;          /* the file(s) and split */
    const AstNode *maps[8];   /* map(s, f) transforms, applied to each batch in order */
    int nmaps;
    int64_t batch;            /* V_BATCHES */
    ProgExpr *size;           /* ... the batch size when it is a setting's (ProgStmt.size) */
    bool drop_last;
    bool shuffle;
    ProgExpr *seed;
} DataRef;

/* A symbolic dimension that is k times the rows of the current batch of a loop over
 * batches whose last batch may be smaller (IrShape.rows, docs/training.md §4): the rows
 * are in program variable `var`, at most `largest` (the loop's batch size). */
typedef struct RowsSym {
    int sym;
    int var;
    int64_t k, largest;
} RowsSym;

/* A traced parameter: the instance scope holding it and its name (bindings move when a
 * scope grows, so they are found by name). */
typedef struct ParamRef {
    Scope *scope;
    const char *name;
} ParamRef;

/* ---- scopes ------------------------------------------------------------------------------ */

typedef enum BindKind { BIND_VAR, BIND_PARAM, BIND_STATE, BIND_DEF, BIND_HYPER } BindKind;

typedef struct Binding {
    const char *name;
    Value *value;
    BindKind kind;
    Span span;          /* where it was bound */
    int var;            /* tracing a train block: 1 + the host variable this binding owns
                           (assigning the name sets it), or 0. A value bound from another
                           name (a layer's argument, a function's parameter) is that
                           name's variable, not owned: assigning makes a variable of its own */
    int path;           /* in a train block: the run-time loop or branch (an id of
                           Checker.paths) inside which it was assigned on every path, or 0
                           (the whole block): read outside that path, it may be unset */
} Binding;

typedef enum ScopeKind {
    SCOPE_GLOBAL, SCOPE_SCRIPT, SCOPE_TRAIN, SCOPE_FN, SCOPE_BODY, SCOPE_BLOCK,
} ScopeKind;

struct Scope {
    Scope *parent;
    ScopeKind kind;
    Binding *items;
    int len, cap;
    Instance *inst;     /* SCOPE_BODY: the instance being built */
    int *index;         /* large scopes (the globals): open-addressing table of item
                           positions + 1, by name hash; NULL while small */
    int index_cap;
};

/* ---- the checker ---------------------------------------------------------------------------- */

typedef struct Frame {
    Span call;          /* where the function or layer was called */
    const char *what;   /* "dense.forward", "softplus" */
} Frame;

enum { SEMA_MAX_FRAMES = 64 };
enum { SEMA_MAX_PATHS = 64 }; /* nested run-time loops and branches told apart (Binding.path) */
/* Layer instantiations and function calls one check may enter (Checker.entered), and the
 * checker memory they may take: the examples enter at most about 600 (transformer.nn) and
 * take a few MiB. */
enum { SEMA_MAX_ENTERED = 20000 };
/* Nested evaluations (sema_eval within sema_eval, through calls too): the checker recurses
 * once per level, so a deeper expression (4,000 unary minuses, found by the fuzzer) would
 * overflow the stack. The examples nest at most 22 levels. */
enum { SEMA_MAX_EVAL_DEPTH = 1000 };
#define SEMA_MAX_ARENA ((size_t)256 << 20)

typedef struct CacheEntry CacheEntry;

typedef struct Checker {
    Arena *arena;
    DiagSink *diags;
    const SemaOptions *opts;
    Scope *globals;
    Frame frames[SEMA_MAX_FRAMES];
    int nframes;
    int eval_depth;       /* sema_eval calls in progress (SEMA_MAX_EVAL_DEPTH) */
    int64_t entered;      /* layer instantiations and function calls checked so far: a
                             budget, so that branching recursion (a layer holding two of
                             itself) stops in time rather than exhausting memory */
    int loop_depth;       /* loops enclosing the statement being checked (this function) */
    bool runtime;         /* checking run-time code (train block, run-time loops) */
    int paths[SEMA_MAX_PATHS]; /* ids of the run-time loop bodies and branches enclosing
                                  the statement being checked, innermost last */
    int npaths, last_path;     /* ... and the last id given */
    bool in_update;       /* checking an optimizer's update */
    const char **symbols; /* names of symbolic dimensions, by sym id */
    uint64_t *symbol_hash;
    int nsymbols, capsymbols;
    uint64_t *reported;   /* hashes of reported errors, to report each once */
    int nreported, capreported;
    CacheEntry *cache;    /* function instantiations already checked */
    int ncache, capcache;
    bool suppress;        /* inside a failed frame: errors are not reported again */
    bool has_definitions;
    const AstNode *train; /* the train block, once seen */
    Frame pending[4];     /* call frames of the last error, printed after its own notes */
    int npending;
    IrGraph *graph;       /* while tracing (SemaOptions.trace): the graph being built */
    PtrVec params;        /* while tracing: every parameter declared (ParamRef *), in order */
    Prog *prog;           /* while tracing a train block: the program being built */
    ProgBlock *block;     /* ... where host statements go */
    int region;           /* ... the current region (c->graph is its graph) */
    PtrVec stores;        /* ... slot stores of the current region (PendingStore *) */
    IrNode **slot_loads;  /* ... SLOT_LOAD node of each slot in the current region */
    int nslot_loads;
    int epoch_var;        /* ... host variable of the innermost run-time range loop, or -1 */
    bool map_region;      /* tracing a map transform's region, run once per sample */
    bool binding_loop_target; /* ... binding a run-time loop's own variables */
    struct ProgStmt *batch_loop; /* ... the innermost loop over batches, or NULL */
    struct RowsSym *rows_syms;   /* ... the symbolic dimensions that are multiples of a
                                    batch's rows (train_rows_dim) */
    int nrows_syms, caprows_syms;
    int64_t update_step;  /* while tracing an optimizer's update: the step number */
    ProgExpr *update_step_hx; /* ... in a train program: the host variable counting it */
    uint64_t rng_counter; /* next word of the random stream for traced random tensors */
    int rng_var;          /* a train program: 1 + the host variable offsetting the random
                             streams of regions that run many times (0: none yet) */
    uint64_t region_rng_words; /* ... words the current region draws from it per run */
    PtrVec modules;       /* AST_PROGRAMs of imported modules, in load order */
    PtrVec loaded_paths;  /* their resolved paths (heap strings) */
    Arena *module_arena;  /* where modules are parsed; NULL: arena (REPL: the session's) */
    struct SemaSession *session; /* a REPL session (session.c): tensors of earlier entries
                                    live in its slots (Value.has_slot); definitions may be
                                    replaced */
} Checker;

/* Errors: reported once per place and message, with a note for each call frame. */
void sema_error(Checker *c, Span at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* v, or an error value after reporting at `at` when v is a tensor whose known sizes (an
 * int setting's counts as its compiled value) are negative or over the size limit
 * (ir_dims_size, IR_MAX_NUMEL). Every tensor the checker makes from sizes passes here
 * before it is traced, so shapes reaching the IR are within the limit. */
Value *sema_check_size(Checker *c, Value *v, Span at);
void sema_note(Checker *c, Span at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prints the pending "in X, called here" notes of the last error (done automatically before
 * the next error and when a frame is popped). */
void sema_flush_frames(Checker *c);

/* value.c */
Value *val_new(Checker *c, VKind k);
Value *val_error(Checker *c);
Value *val_void(Checker *c);
Value *val_int(Checker *c, int64_t i);
Value *val_int_unknown(Checker *c, Dim d);
Value *val_float(Checker *c, double f, bool known);
Value *val_bool(Checker *c, bool b, bool known);
Value *val_string(Checker *c, const char *s, bool known);
Value *val_tensor(Checker *c, int dtype, int rank, const Dim *dims);
Value *val_tuple(Checker *c, int n, Value **items);
Value *val_copy(Checker *c, const Value *v);
int sema_symbol(Checker *c, const char *name);          /* interned symbolic dimension */
Dim dim_add(Checker *c, Dim a, Dim b);
Dim dim_sub(Checker *c, Dim a, Dim b);
Dim dim_mul(Checker *c, Dim a, Dim b);
Dim dim_div(Checker *c, Dim a, Dim b);
/* Equal, or either is "any". While a definition is checked on its own (sema_lenient), a
 * symbolic dimension matches anything: hyper-parameters that differ as symbols may still be
 * equal at every use, and each use is checked exactly. */
bool dim_eq(Dim a, Dim b);
extern bool sema_lenient;
const char *dim_str(Checker *c, Dim d, char *buf, size_t n);
/* "f32[batch, 10]", "int", "(int, f32[3])", "dense", ... */
const char *val_type_str(Checker *c, const Value *v, char *buf, size_t n);
const char *vkind_name(VKind k);
/* Same kind of value (tensors: same dtype and a compatible shape). */
bool val_same_type(const Value *a, const Value *b);
/* The join of two values reaching one point: constants that differ become unknown. */
Value *val_join(Checker *c, Value *a, Value *b);
/* Numbers and tensors as a tensor view: sets dtype/rank/dims; false if not tensor-like. */
bool val_as_tensor(const Value *v, int *dtype, int *rank, Dim *dims);
bool val_is_numeric(const Value *v);

/* scope.c */
Scope *scope_new(Checker *c, Scope *parent, ScopeKind kind);
Binding *scope_find_local(Scope *s, const char *name);
Binding *scope_lookup(Scope *s, const char *name);
Binding *scope_bind(Checker *c, Scope *s, const char *name, Value *v, BindKind kind, Span at);

/* check.c */
Value *sema_eval(Checker *c, Scope *s, AstNode *e);
Value *sema_call_value(Checker *c, Scope *s, Value *callee, AstNode *call, Value **pos,
                       int npos, const AstIdent *kw_names, Value **kw, int nkw);
Value *sema_call_fn(Checker *c, const AstNode *fn, Instance *self, AstNode *call, Value **pos,
                    int npos, const AstIdent *kw_names, Value **kw, int nkw);

/* builtins.c */
typedef struct CallArgs {
    AstNode *call;               /* the call expression (for spans) */
    Value *v[SEMA_MAX_PARAMS];   /* bound argument values, NULL where omitted */
    AstNode *e[SEMA_MAX_PARAMS]; /* their expressions (NULL when not from source) */
    Scope *scope;
} CallArgs;

struct Builtin {
    const char *name;
    int required;
    const char *params[SEMA_MAX_PARAMS];
    Value *(*check)(Checker *c, CallArgs *a, const Builtin *b);
    SemaBuiltinKind lower;   /* how lowering handles it (SEMA_OTHER: not in scripts) */
    IrOp op;
    /* While tracing, after a successful check: adds the call's nodes to the result (NULL:
     * code generation does not support this built-in yet). */
    Value *(*trace)(Checker *c, CallArgs *a, const Builtin *b, Value *result);
};
const Builtin *sema_builtin(const char *name);
/* Binds positional and keyword arguments to parameter names; reports problems at the call
 * with a note at `def` (a span of the definition, or none for built-ins). */
bool sema_bind_args(Checker *c, AstNode *call, const char *what, const char *const *params,
                    int nparams, int required, Span def, Value **pos, int npos,
                    const AstIdent *kw_names, Value **kw, int nkw, Value **out, int *from);
/* Tensor broadcast of two shapes; false on mismatch. */
bool sema_broadcast(int ra, const Dim *a, int rb, const Dim *b, int *r, Dim *out);

/* trace.c: building the graph while checking (docs/architecture.md, "Tracing") */
bool sema_tracing(const Checker *c);
/* The node of a tensor-like value (numbers and numeric lists become constants); NULL after
 * reporting when the value has none. */
IrNode *sema_node(Checker *c, const Value *v, Span at);
/* Reports that code generation cannot compile this yet (only while tracing). */
void sema_unsupported(Checker *c, Span at, const char *what);
/* The value's concrete shape; false (after reporting) if a dimension is not known. */
bool sema_ir_shape(Checker *c, const Value *v, Span at, IrShape *out);
/* Attaches `node` to the tensor value v (a copy), or returns an error value (node NULL:
 * the reason was reported). */
Value *sema_with_node(Checker *c, Value *v, IrNode *node);
/* Adds op's node after checking the IR's shape and type rules (a mismatch is reported as
 * unsupported); proto gives attributes (and the shape of ops whose shape is an attribute). */
IrNode *sema_trace_op(Checker *c, Span at, IrOp op, IrNode *const *in, int nin,
                      const IrNode *proto);
IrNode *sema_trace_matmul(Checker *c, Span at, IrNode *a, IrNode *b);
/* opt.step(loss) while tracing: the gradients of loss with respect to every parameter it
 * depends on, then the optimizer's update of each, which rebinds the parameters. */
void sema_trace_step(Checker *c, Instance *opt, Value *loss, Value *clip_norm, Span at);

/* modules.c: loads every module `program` imports (transitively) into c->modules. */
void sema_load_imports(Checker *c, AstNode *program);
void sema_free_modules(Checker *c);
/* check.c */
void sema_check_update(Checker *c, Instance *inst, Span at);

/* sema.c: the top level, shared with the REPL's session (session.c) */
void sema_declare_items(Checker *c, AstNode *program);
void sema_check_items(Checker *c, AstNode *program, bool imported);

/* scope.c: for the session's copies of scopes */
void scope_reindex(Checker *c, Scope *s);
/* Removes name's binding from s (nothing if there is none). */
void scope_remove(Checker *c, Scope *s, const char *name);

/* session.c: the node of a session tensor (Value.has_slot) in this entry's graph */
IrNode *session_node(Checker *c, const Value *v, Span at);

/* ---- shared between the checker's files ----------------------------------------------- */

typedef enum Flow { FLOW_NORMAL, FLOW_BREAK, FLOW_CONTINUE, FLOW_RETURN } Flow;

typedef struct Exec {
    Flow flow;
    Value *ret;         /* FLOW_RETURN: the value */
    Value *last;        /* the last expression statement's value (a block's value) */
} Exec;

/* check.c: statements and expressions */
Flow sema_exec_stmt(Checker *c, Scope *s, AstNode *st, Exec *x, bool is_last);
Value *sema_exec_block(Checker *c, Scope *s, AstNode *block, Exec *x);
Value *sema_eval_call(Checker *c, Scope *s, AstNode *e);
Value *sema_eval_binary(Checker *c, Scope *s, AstNode *e);
void sema_assign_targets(Checker *c, Scope *s, AstList *targets, Value *v, Span at);
/* Calls fn for the binding of every name the statements under n assign. */
void sema_for_assigned(Checker *c, Scope *s, AstNode *n, void (*fn)(Checker *, Binding *));
void sema_push_frame(Checker *c, Span call, const char *what);
void sema_pop_frame(Checker *c);
void sema_misplaced(Checker *c, AstNode *st, const char *where);
/* Numbers, numeric lists and tensors seen as a tensor. */
bool sema_tensor_view(const Value *v, int *dtype, int *rank, Dim *dims);
Value *sema_as_tensor(Checker *c, Value *v);                 /* NULL if not tensor-like */
Value *sema_need_tensor(Checker *c, Value *v, Span at);      /* reports; error value */

/* types.c: annotations */
Value *sema_value_of_type(Checker *c, Scope *s, AstNode *t, const char *param_name);
bool sema_match_type(Checker *c, Scope *s, AstNode *t, Value *v);
bool sema_eval_dim(Checker *c, Scope *s, AstNode *d, const Dim *actual, Dim *out);
const char *sema_type_text(const AstNode *t, char *buf, size_t n);
const char *sema_expected_str(Checker *c, Scope *s, const AstNode *t, char *buf, size_t n);
void sema_check_type_names(Checker *c, Scope *s, AstNode *t);

/* calls.c: instantiation */
Value *sema_instantiate(Checker *c, const AstNode *def, AstNode *call, Value **pos, int npos,
                        const AstIdent *kw_names, Value **kw, int nkw);
void sema_exec_body_stmt(Checker *c, Scope *s, AstNode *st, Instance *inst);

/* train.c: tracing a train block into a Prog */
bool sema_training(const Checker *c);
void train_begin(Checker *c);
/* An error for the first op of a region that the batch rows rule rejected (IrGraph.
 * tolerant): checking fails, and is done again with full batches (SemaOptions.batch_rows). */
void train_check_rows(Checker *c);
void train_close_region(Checker *c);
/* The host expression of a scalar (a known number, a host variable, or a tensor scalar read
 * back from its region); NULL after reporting. */
ProgExpr *train_host(Checker *c, Value *v, Span at);
/* The node of a value in the current region: loads of slots, inputs of host scalars,
 * values of earlier regions kept in a slot. */
IrNode *train_node(Checker *c, const Value *v, Span at);
/* A variable assigned in run-time code: host scalars live in host variables, tensors
 * assigned where a slot backs the old value keep that slot. Returns the value to bind. */
Value *train_assign(Checker *c, Binding *old, const char *name, Value *v, Span at);
/* Before a run-time loop: variables the body assigns get a host variable or a slot. */
void train_widen(Checker *c, Binding *b);
/* Run-time paths (Binding.path): the body of a run-time loop or a branch of a run-time if
 * may not run. train_path is the innermost one's id (0: none); train_path_active says
 * whether a path encloses the statement being checked. */
void train_path_enter(Checker *c);
void train_path_leave(Checker *c);
int train_path(const Checker *c);
bool train_path_active(const Checker *c, int path);
/* After a run-time if's then branch: the names it assigned on all its paths (*n of them).
 * After its else branch (else_path: 0 when it has none): those the else branch assigned on
 * all its paths too are assigned on every path through the if. */
const char **train_path_names(Checker *c, Scope *s, int path, int *n);
void train_path_join(Checker *c, Scope *s, const char **then_names, int n, int else_path);
/* The index in prog->datas of the data d describes: its source, loaded or made at program
 * start (a split: PS_SPLIT_DATA), with its map transforms applied sample by sample once at
 * program start (PS_MAP_DATA; the same chain is mapped once however many loops read it).
 * Returns -1 after reporting. */
int train_data(Checker *c, const DataRef *d, AstNode *at);
Flow train_for(Checker *c, Scope *s, AstNode *st, Value *src);
/* `while` in a train program: what the body assigns gets a host variable or a slot first,
 * and the condition, on host values only, is tested before every iteration (PS_WHILE). */
Flow train_while(Checker *c, Scope *s, AstNode *st);
/* `if` on a condition known only at run time (a host value), as a statement: what either
 * branch assigns gets a host variable or a slot first, as in a loop, and each branch is
 * traced into its own block of a PS_IF. Its value is void. */
Value *train_if(Checker *c, Scope *s, AstNode *e, Value *cond);
void train_log(Checker *c, const AstIdent *names, Value **values, int n, Span at);
void train_save(Checker *c, Instance *net, Value *path, bool load, Span at);
/* After the train block (s is its scope): slots named by path for checkpoints and
 * --emit=ir — a model's parameters and layer state "net.fc1.w", an optimizer's state
 * "opt.m[net.fc1.w]" — and every slot name made distinct. */
void train_name_slots(Checker *c, Scope *s);
void train_print(Checker *c, Value *v, Span at);
/* A random tensor of `words` words traced in a train program: 1 + the host variable that
 * says where in its stream a run draws (the region's run adds the region's words to it
 * afterwards; ir.h, IrRandomAttr.run_var). */
int train_random_var(Checker *c, uint64_t words);
/* opt.step in a train program: adds 1 to the optimizer's run-time step count (a host
 * variable, made on the first step) before the step's region runs; returns the count. */
ProgExpr *train_count_step(Checker *c, Instance *opt, Span at);
/* A dimension that is an int setting of the train program being compiled: its value (the
 * source's default, or the command line's: SemaOptions.setting_args) is compiled into the
 * shapes, and the setting becomes fixed (an executable refuses another value). False for
 * any other symbol. */
bool train_setting_size(Checker *c, Dim d, int64_t *n);
/* The same value, or NULL, without fixing the setting: for checks on sizes. */
const char *train_setting_peek(const Checker *c, Dim d, int64_t *n);
/* Whether a loop over the batches d describes has rows (IrShape.rows): its last batch may
 * be smaller, and SemaOptions.batch_rows asks for them. */
bool train_rows_loop(const Checker *c, const DataRef *d);
/* A dimension that is a multiple of a batch's rows (IrShape.rows): the entry saying how
 * many rows, or NULL. */
const RowsSym *train_rows_dim(const Checker *c, Dim d);
/* Records that r, the symbol named for `a op b` (dim_op), is a multiple of rows when a or
 * b is and the other is a known size: a product, or a quotient that divides evenly. */
void train_rows_derive(Checker *c, Dim r, Dim a, char op, Dim b);
/* In a train program, an int that is a dimension with rows (x.shape[0], len(x)): a run-time
 * value, whose compile-time value (v->i) is its size at the loop's largest batch. */
void train_rows_int(Checker *c, Value *v);
/* 1 / (count * rows / largest) as a run-time scalar of the current region: the reciprocal
 * of the number of elements a reduction over the rows axis of a tensor with `rows`
 * combines, `count` at the loop's largest batch (mean). */
IrNode *train_rows_reciprocal(Checker *c, int rows, int64_t count, Span at);
/* opt.step(loss) in a loop over batches: its loss is what the progress line shows. */
void train_progress_loss(Checker *c, Value *loss, Span at);
/* A new parameter or optimizer state in a train program: a named slot, initialized by the
 * current region. */
Value *train_declare_slot(Checker *c, Value *v, const char *name);
/* Tracing code that runs once at program start (optimizer state initial values, which may
 * depend only on the parameters' shapes): between begin and end, nodes go to a prologue
 * region placed first in the program. */
void *train_prologue_begin(Checker *c);
void train_prologue_end(Checker *c, void *saved);
/* Ends a prologue without running its region (a map's region runs per sample). */
void train_prologue_discard(Checker *c, void *saved);


#endif
