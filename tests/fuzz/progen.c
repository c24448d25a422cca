/* progen.c — the program generator and its oracle (contract in progen.h).
 *
 * Generation builds a small tree of host statements and expressions, prints it as nnc
 * source, and interprets it. The interpreter is the oracle: it implements the semantics
 * docs/language.md states — ints are 64-bit with `/` the floor division and `%` the
 * remainder of floor division (§6.2), an int meeting a float becomes a float, floats are
 * f64 in host code, a range `a..b` is evaluated once and runs a up to b - 1 (§5.3),
 * `break`/`continue` act on the innermost loop, `log` prints `name = value` with %.6g
 * (bools as 1/0) and `print` of a host value prints `f32[]` and the value with %.4g
 * (runtime/rt_print.c). It never calls nnc.
 *
 * Every construct is built valid by shape: divisors are nonzero literals or
 * `(e % m + c)` with m, c > 0 (so floor division by negative divisors is covered by
 * negating that), every `while` is bounded by a counter it increments first, and range
 * bounds are literals, a setting, or `(e % m + c)`. Values are bounded by rejection: a
 * program whose ints pass 2^40 or whose floats pass 1e9 is not emitted. */
#include "progen.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- text buffers ----------------------------------------------------------------- */

typedef struct PgBuf {
    char *s;
    size_t len, cap;
} PgBuf;

static void pg_printf(PgBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pg_printf(PgBuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            abort();
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        b->cap = (b->cap + (size_t)n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (!b->s)
            abort();
    }
}

static char *pg_take(PgBuf *b)
{
    if (!b->s)
        pg_printf(b, "%s", "");
    return b->s;
}

/* ---- the choice source: input bytes, or a PRNG seeded by the seed ------------------- */

typedef struct PgSource {
    const uint8_t *data;
    size_t size, pos;
    uint64_t state;
} PgSource;

static unsigned pg_byte(PgSource *src)
{
    if (src->data)
        return src->pos < src->size ? src->data[src->pos++] : 0;
    /* splitmix64 */
    uint64_t z = (src->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (unsigned)((z ^ (z >> 31)) & 0xff);
}

/* A choice in [0, n). Past the end of an input every choice is 0: the first
 * alternative of every decision is the one that ends a program soonest. */
static int pg_below(PgSource *src, int n)
{
    return n <= 1 ? 0 : (int)(pg_byte(src) % (unsigned)n);
}

static int pg_range(PgSource *src, int lo, int hi)
{
    return lo + pg_below(src, hi - lo + 1);
}

/* ---- the program tree --------------------------------------------------------------- */

typedef enum { TY_INT, TY_FLOAT, TY_BOOL } PgType;

typedef enum { EX_LIT, EX_VAR, EX_BIN, EX_NEG, EX_NOT, EX_TOFLOAT, EX_CALL, EX_IF } PgExKind;

typedef struct PgEx {
    PgExKind kind;
    PgType type;
    int op; /* EX_BIN: one of the OP_ */
    int64_t ival;
    double fval;
    int var, fn;
    struct PgEx *a, *b, *c;
} PgEx;

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
       OP_AND, OP_OR };
static const char *const pg_op_text[] = {"+", "-", "*", "/", "%", "==", "!=", "<", "<=",
                                         ">", ">=", "and", "or"};

/* Tensor parts: each kind appears at most once per program, under its own names. */
typedef enum { PIECE_STATE, PIECE_DRAW, PIECE_DROP, PIECE_LIN, PIECE_DATA, PIECE_COUNT } PgPiece;

typedef enum { ST_ASSIGN, ST_IF, ST_FOR, ST_WHILE, ST_BREAK, ST_CONTINUE, ST_LOG, ST_PRINT,
               ST_PIECE } PgStKind;

typedef struct PgSt {
    PgStKind kind;
    int id;      /* the statement's number in the order of generation */
    int var;     /* ASSIGN: target; FOR: loop variable; WHILE: counter */
    int op;      /* ASSIGN: '=', '+', '-', '*'; PIECE: the form */
    int limit;   /* WHILE: most passes */
    PgEx *e, *e2; /* ASSIGN value, IF/WHILE condition, FOR bounds, PIECE argument */
    struct PgSt **body, **els;
    int n, nels;
    int else_if; /* IF: els is one IF, printed as `else if` */
    PgPiece piece;
    const char **names; /* LOG */
    PgEx **vals;
    int nvals;
} PgSt;

typedef struct PgVar {
    char name[16];
    PgType type;
    int writable;
} PgVar;

typedef struct PgFn {
    char name[16];
    PgType ret, param[2];
    int slot[2]; /* variables holding the parameters */
    PgEx *body;
} PgFn;

enum { PG_MAX_VARS = 64, PG_MAX_FNS = 3, PG_MAX_SCOPE = 64, PG_MAX_PROPS = 4096,
       PG_MAX_STEPS = 20000 };
#define PG_INT_BOUND ((int64_t)1 << 40)
#define PG_FLOAT_BOUND 1e9

typedef struct PgGen {
    PgSource src;
    void **blocks; /* every allocation, freed together */
    int nblocks, capblocks;

    PgVar vars[PG_MAX_VARS];
    int nvars;
    int scope[PG_MAX_SCOPE]; /* variables the expression being generated may read */
    int nscope;
    PgFn fns[PG_MAX_FNS];
    int nfns;
    int in_fn; /* generating a function body: no calls */
    int nst;   /* statements made */
    const unsigned char *deleted; /* deleted[id]: statement id (and all it holds) is left out */
    int ndeleted;
    int budget; /* statements left to generate */
    int pieces[PIECE_COUNT];
    int piece_uses[PIECE_COUNT];
    int sched, sched_every; /* PIECE_LIN's schedule */
    const char *data_dir;   /* PIECE_DATA's folder (points.csv), or NULL: no PIECE_DATA */
    int data_batch;
    double sched_base, sched_gamma, lin_x[3];
    double draw_p, draw_lo, draw_hi, draw_mean, draw_std;

    /* interpretation */
    int64_t iv[PG_MAX_VARS];
    double fv[PG_MAX_VARS];
    int bad, steps;
    double state_fill, lin_w[3];
    int64_t drop_updates, lin_updates;
    int *progress; /* the steps of each loop over batches, in order */
    int nprogress, capprogress;
    PgBuf out;
    int lines;
    ProgenProp *props;
    int nprops;
} PgGen;

static void *pg_alloc(PgGen *g, size_t size)
{
    if (g->nblocks == g->capblocks) {
        g->capblocks = g->capblocks ? g->capblocks * 2 : 256;
        g->blocks = realloc(g->blocks, (size_t)g->capblocks * sizeof *g->blocks);
        if (!g->blocks)
            abort();
    }
    void *p = calloc(1, size);
    if (!p)
        abort();
    g->blocks[g->nblocks++] = p;
    return p;
}

static int pg_var_new(PgGen *g, const char *name, PgType type, int writable)
{
    if (g->nvars == PG_MAX_VARS)
        abort();
    PgVar *v = &g->vars[g->nvars];
    snprintf(v->name, sizeof v->name, "%s", name);
    v->type = type;
    v->writable = writable;
    return g->nvars++;
}

/* ---- expressions ---------------------------------------------------------------------- */

static PgEx *ex_new(PgGen *g, PgExKind kind, PgType type)
{
    PgEx *e = pg_alloc(g, sizeof *e);
    e->kind = kind;
    e->type = type;
    return e;
}

static PgEx *ex_int(PgGen *g, int64_t v)
{
    PgEx *e = ex_new(g, EX_LIT, TY_INT);
    e->ival = v;
    return e;
}

static PgEx *ex_float(PgGen *g, double v)
{
    PgEx *e = ex_new(g, EX_LIT, TY_FLOAT);
    e->fval = v;
    return e;
}

static PgEx *ex_bin(PgGen *g, int op, PgType type, PgEx *a, PgEx *b)
{
    PgEx *e = ex_new(g, EX_BIN, type);
    e->op = op;
    e->a = a;
    e->b = b;
    return e;
}

typedef PgEx *PgGenFn(PgGen *g, int depth);

/* (a op b) with a generated before b: C leaves the order of a call's arguments open, and
 * a program must not depend on the compiler that built the generator. */
static PgEx *ex_gen2(PgGen *g, int op, PgType type, PgGenFn *ga, PgGenFn *gb, int depth)
{
    PgEx *a = ga(g, depth);
    PgEx *b = gb(g, depth);
    return ex_bin(g, op, type, a, b);
}

/* A float literal with a short exact binary value: k / 4. */
static double pg_float_lit(PgGen *g, int lo, int hi)
{
    return pg_range(&g->src, lo, hi) / 4.0;
}

/* A variable of `type` in scope, or -1. */
static int pg_pick_var(PgGen *g, PgType type)
{
    int found[PG_MAX_SCOPE], n = 0;
    for (int i = 0; i < g->nscope; i++)
        if (g->vars[g->scope[i]].type == type)
            found[n++] = g->scope[i];
    return n ? found[pg_below(&g->src, n)] : -1;
}

static PgEx *gen_int(PgGen *g, int depth);
static PgEx *gen_float(PgGen *g, int depth);

static PgEx *gen_var_or_lit(PgGen *g, PgType type)
{
    int v = pg_pick_var(g, type);
    if (v >= 0 && pg_below(&g->src, 3)) {
        PgEx *e = ex_new(g, EX_VAR, type);
        e->var = v;
        return e;
    }
    if (type == TY_INT)
        return ex_int(g, pg_range(&g->src, -4, 12));
    return ex_float(g, pg_float_lit(g, -8, 16));
}

/* A nonzero int divisor: a literal, or (e % m + c) with m, c > 0 (from c to m + c - 1),
 * or its negation. */
static PgEx *gen_divisor(PgGen *g, int depth)
{
    switch (pg_below(&g->src, 3)) {
    case 0: {
        int v = pg_range(&g->src, -4, 6);
        return ex_int(g, v == 0 ? 7 : v);
    }
    case 1:
    case 2: {
        PgEx *e = gen_int(g, depth + 1);
        PgEx *m = ex_bin(g, OP_MOD, TY_INT, e, ex_int(g, pg_range(&g->src, 2, 5)));
        PgEx *d = ex_bin(g, OP_ADD, TY_INT, m, ex_int(g, pg_range(&g->src, 1, 3)));
        if (pg_below(&g->src, 2)) {
            PgEx *n = ex_new(g, EX_NEG, TY_INT);
            n->a = d;
            return n;
        }
        return d;
    }
    }
    return NULL;
}

/* gen_divisor for ex_gen2, which passes the operands' depth. */
static PgEx *gen_divisor_at(PgGen *g, int depth)
{
    return gen_divisor(g, depth - 1);
}

static PgEx *gen_call(PgGen *g, PgType ret, int depth)
{
    if (g->in_fn)
        return NULL;
    int found[PG_MAX_FNS], n = 0;
    for (int i = 0; i < g->nfns; i++)
        if (g->fns[i].ret == ret)
            found[n++] = i;
    if (!n)
        return NULL;
    PgEx *e = ex_new(g, EX_CALL, ret);
    e->fn = found[pg_below(&g->src, n)];
    PgFn *f = &g->fns[e->fn];
    e->a = f->param[0] == TY_INT ? gen_int(g, depth + 1) : gen_float(g, depth + 1);
    e->b = f->param[1] == TY_INT ? gen_int(g, depth + 1) : gen_float(g, depth + 1);
    return e;
}

static PgEx *gen_int(PgGen *g, int depth)
{
    int choice = depth >= 3 ? 0 : pg_below(&g->src, 9);
    switch (choice) {
    case 0:
    case 1:
        return gen_var_or_lit(g, TY_INT);
    case 2:
        return ex_gen2(g, OP_ADD, TY_INT, gen_int, gen_int, depth + 1);
    case 3:
        return ex_gen2(g, OP_SUB, TY_INT, gen_int, gen_int, depth + 1);
    case 4:
    {
        PgEx *a = gen_int(g, depth + 1);
        return ex_bin(g, OP_MUL, TY_INT, a, ex_int(g, pg_range(&g->src, -3, 3)));
    }
    case 5:
        return ex_gen2(g, OP_DIV, TY_INT, gen_int, gen_divisor_at, depth + 1);
    case 6:
        return ex_gen2(g, OP_MOD, TY_INT, gen_int, gen_divisor_at, depth + 1);
    case 7: {
        PgEx *e = ex_new(g, EX_NEG, TY_INT);
        e->a = gen_int(g, depth + 1);
        return e;
    }
    case 8: {
        PgEx *e = gen_call(g, TY_INT, depth);
        return e ? e : gen_var_or_lit(g, TY_INT);
    }
    }
    return NULL;
}

static PgEx *gen_float(PgGen *g, int depth)
{
    int choice = depth >= 3 ? 0 : pg_below(&g->src, 10);
    switch (choice) {
    case 0:
    case 1:
        return gen_var_or_lit(g, TY_FLOAT);
    case 2:
        return ex_gen2(g, OP_ADD, TY_FLOAT, gen_float, gen_float, depth + 1);
    case 3:
        return ex_gen2(g, OP_SUB, TY_FLOAT, gen_float, gen_float, depth + 1);
    case 4:
        return ex_gen2(g, OP_MUL, TY_FLOAT, gen_float, gen_float, depth + 1);
    case 5: {
        /* a nonzero divisor: a literal, or (x * x + 0.5) */
        PgEx *d;
        if (pg_below(&g->src, 2)) {
            double v = pg_float_lit(g, -8, 8);
            d = ex_float(g, v == 0 ? 1.5 : v);
        } else {
            PgEx *x = gen_float(g, depth + 1);
            d = ex_bin(g, OP_ADD, TY_FLOAT, ex_bin(g, OP_MUL, TY_FLOAT, x, x),
                       ex_float(g, 0.5));
        }
        return ex_bin(g, OP_DIV, TY_FLOAT, gen_float(g, depth + 1), d);
    }
    case 6: /* an int meets a float */
        if (pg_below(&g->src, 2))
            return ex_gen2(g, OP_ADD, TY_FLOAT, gen_int, gen_float, depth + 1);
        return ex_gen2(g, OP_MUL, TY_FLOAT, gen_float, gen_int, depth + 1);
    case 7:
    case 8: {
        PgEx *e = ex_new(g, EX_TOFLOAT, TY_FLOAT);
        e->a = gen_int(g, depth + 1);
        return e;
    }
    case 9: {
        PgEx *e = gen_call(g, TY_FLOAT, depth);
        return e ? e : gen_var_or_lit(g, TY_FLOAT);
    }
    }
    return NULL;
}

static PgEx *gen_bool(PgGen *g, int depth)
{
    int choice = depth >= 2 ? pg_below(&g->src, 2) : pg_below(&g->src, 6);
    switch (choice) {
    case 0:
    case 1:
    case 2: /* ints compare every way; floats only by order (their values may be inexact) */
        if (choice != 1) {
            int op = OP_EQ + pg_below(&g->src, 6);
            return ex_gen2(g, op, TY_BOOL, gen_int, gen_int, depth + 1);
        } else {
            int op = OP_LT + pg_below(&g->src, 4);
            return ex_gen2(g, op, TY_BOOL, gen_float, gen_float, depth + 1);
        }
    case 3:
        return ex_gen2(g, OP_AND, TY_BOOL, gen_bool, gen_bool, depth + 1);
    case 4:
        return ex_gen2(g, OP_OR, TY_BOOL, gen_bool, gen_bool, depth + 1);
    case 5: {
        PgEx *e = ex_new(g, EX_NOT, TY_BOOL);
        e->a = gen_bool(g, depth + 1);
        return e;
    }
    }
    return NULL;
}

static void print_ex(PgGen *g, PgBuf *b, const PgEx *e)
{
    switch (e->kind) {
    case EX_LIT:
        if (e->type == TY_INT)
            pg_printf(b, e->ival < 0 ? "(%lld)" : "%lld", (long long)e->ival);
        else
            pg_printf(b, e->fval < 0 ? "(%.2f)" : "%.2f", e->fval);
        return;
    case EX_VAR:
        pg_printf(b, "%s", g->vars[e->var].name);
        return;
    case EX_BIN:
        pg_printf(b, "(");
        print_ex(g, b, e->a);
        pg_printf(b, " %s ", pg_op_text[e->op]);
        print_ex(g, b, e->b);
        pg_printf(b, ")");
        return;
    case EX_NEG:
    case EX_NOT:
        pg_printf(b, e->kind == EX_NEG ? "(-" : "(not ");
        print_ex(g, b, e->a);
        pg_printf(b, ")");
        return;
    case EX_TOFLOAT:
        pg_printf(b, "float(");
        print_ex(g, b, e->a);
        pg_printf(b, ")");
        return;
    case EX_CALL:
        pg_printf(b, "%s(", g->fns[e->fn].name);
        print_ex(g, b, e->a);
        pg_printf(b, ", ");
        print_ex(g, b, e->b);
        pg_printf(b, ")");
        return;
    case EX_IF:
        pg_printf(b, "if ");
        print_ex(g, b, e->c);
        pg_printf(b, " { ");
        print_ex(g, b, e->a);
        pg_printf(b, " } else { ");
        print_ex(g, b, e->b);
        pg_printf(b, " }");
        return;
    }
}

/* ---- the oracle's arithmetic ------------------------------------------------------------ */

typedef struct PgVal {
    int64_t i; /* TY_INT, and TY_BOOL as 0/1 */
    double f;
} PgVal;

static int64_t pg_check_int(PgGen *g, int64_t v)
{
    if (v > PG_INT_BOUND || v < -PG_INT_BOUND)
        g->bad = 1;
    return g->bad ? 0 : v;
}

static double pg_check_float(PgGen *g, double v)
{
    if (!isfinite(v) || fabs(v) > PG_FLOAT_BOUND)
        g->bad = 1;
    return g->bad ? 0 : v;
}

/* Floor division and its remainder (docs/language.md §6.2): -7 / 2 is -4, -7 % 2 is 1,
 * 7 % -2 is -1. The divisor is never 0 by construction. */
static int64_t pg_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static double pg_as_float(const PgEx *e, PgVal v)
{
    return e->type == TY_INT ? (double)v.i : v.f;
}

static PgVal eval_ex(PgGen *g, const PgEx *e)
{
    PgVal r = {0, 0};
    if (g->bad)
        return r;
    switch (e->kind) {
    case EX_LIT:
        r.i = e->ival;
        r.f = e->fval;
        return r;
    case EX_VAR:
        r.i = g->iv[e->var];
        r.f = g->fv[e->var];
        return r;
    case EX_NEG:
        r = eval_ex(g, e->a);
        r.i = -r.i;
        r.f = -r.f;
        return r;
    case EX_NOT:
        r.i = !eval_ex(g, e->a).i;
        return r;
    case EX_TOFLOAT:
        r.f = (double)eval_ex(g, e->a).i;
        return r;
    case EX_CALL: {
        const PgFn *f = &g->fns[e->fn];
        PgVal a = eval_ex(g, e->a), b = eval_ex(g, e->b);
        g->iv[f->slot[0]] = a.i;
        g->fv[f->slot[0]] = a.f;
        g->iv[f->slot[1]] = b.i;
        g->fv[f->slot[1]] = b.f;
        return eval_ex(g, f->body);
    }
    case EX_IF:
        return eval_ex(g, eval_ex(g, e->c).i ? e->a : e->b);
    case EX_BIN:
        break;
    }
    if (e->op == OP_AND || e->op == OP_OR) { /* both sides have no effects: no need to
                                              * short-circuit, but it is what nnc documents */
        int64_t a = eval_ex(g, e->a).i;
        r.i = e->op == OP_AND ? (a && eval_ex(g, e->b).i) : (a || eval_ex(g, e->b).i);
        return r;
    }
    PgVal a = eval_ex(g, e->a), b = eval_ex(g, e->b);
    if (g->bad)
        return r;
    int ints = e->a->type == TY_INT && e->b->type == TY_INT;
    double x = pg_as_float(e->a, a), y = pg_as_float(e->b, b);
    int64_t v = 0;
    switch (e->op) {
    case OP_ADD:
        if (ints && __builtin_add_overflow(a.i, b.i, &v))
            g->bad = 1;
        if (ints)
            r.i = pg_check_int(g, v);
        else
            r.f = pg_check_float(g, x + y);
        return r;
    case OP_SUB:
        if (ints && __builtin_sub_overflow(a.i, b.i, &v))
            g->bad = 1;
        if (ints)
            r.i = pg_check_int(g, v);
        else
            r.f = pg_check_float(g, x - y);
        return r;
    case OP_MUL:
        if (ints && __builtin_mul_overflow(a.i, b.i, &v))
            g->bad = 1;
        if (ints)
            r.i = pg_check_int(g, v);
        else
            r.f = pg_check_float(g, x * y);
        return r;
    case OP_DIV:
        if (ints)
            r.i = pg_check_int(g, pg_floor_div(a.i, b.i));
        else
            r.f = pg_check_float(g, x / y);
        return r;
    case OP_MOD:
        r.i = pg_check_int(g, a.i - pg_floor_div(a.i, b.i) * b.i);
        return r;
    case OP_EQ: r.i = ints ? a.i == b.i : x == y; return r;
    case OP_NE: r.i = ints ? a.i != b.i : x != y; return r;
    case OP_LT: r.i = ints ? a.i < b.i : x < y; return r;
    case OP_LE: r.i = ints ? a.i <= b.i : x <= y; return r;
    case OP_GT: r.i = ints ? a.i > b.i : x > y; return r;
    case OP_GE: r.i = ints ? a.i >= b.i : x >= y; return r;
    }
    return r;
}

/* ---- statements ------------------------------------------------------------------------ */

static PgSt *st_new(PgGen *g, PgStKind kind)
{
    PgSt *s = pg_alloc(g, sizeof *s);
    s->kind = kind;
    s->id = g->nst++;
    return s;
}

static PgSt **gen_block(PgGen *g, int depth, int loops, int *count);

static int pg_writable(PgGen *g, PgType type)
{
    int found[PG_MAX_SCOPE], n = 0;
    for (int i = 0; i < g->nscope; i++)
        if (g->vars[g->scope[i]].type == type && g->vars[g->scope[i]].writable)
            found[n++] = g->scope[i];
    return n ? found[pg_below(&g->src, n)] : -1;
}

static PgSt *gen_assign(PgGen *g, int loops)
{
    PgType type = pg_below(&g->src, 3) ? TY_INT : TY_FLOAT;
    int v = pg_writable(g, type);
    if (v < 0)
        return NULL;
    PgSt *s = st_new(g, ST_ASSIGN);
    s->var = v;
    static const int ops[] = {'=', '=', '+', '-', '*'};
    s->op = ops[pg_below(&g->src, 5)];
    if (s->op == '*' && type == TY_INT) {
        s->e = ex_int(g, pg_range(&g->src, -2, 3));
    } else if (type == TY_INT) {
        s->e = gen_int(g, 0);
        /* in a loop, keep values small: (e % m), whose value is in [0, m) */
        if (loops && s->op == '=' && pg_below(&g->src, 2))
            s->e = ex_bin(g, OP_MOD, TY_INT, s->e, ex_int(g, pg_range(&g->src, 50, 1000)));
    } else {
        s->e = gen_float(g, 0);
    }
    if (s->op == '=' && pg_below(&g->src, 6) == 0) {
        PgEx *c = ex_new(g, EX_IF, type);
        c->c = gen_bool(g, 0);
        c->a = type == TY_INT ? gen_int(g, 1) : gen_float(g, 1);
        c->b = s->e;
        s->e = c;
    }
    return s;
}

static PgSt *gen_log(PgGen *g)
{
    static const char *const names[] = {"a", "b", "c", "d"};
    PgSt *s = st_new(g, ST_LOG);
    s->nvals = pg_range(&g->src, 1, 3);
    s->names = pg_alloc(g, sizeof *s->names * (size_t)s->nvals);
    s->vals = pg_alloc(g, sizeof *s->vals * (size_t)s->nvals);
    for (int i = 0; i < s->nvals; i++) {
        s->names[i] = names[i];
        int k = pg_below(&g->src, 5);
        s->vals[i] = k < 3 ? gen_int(g, 1) : k < 4 ? gen_float(g, 1) : gen_bool(g, 1);
    }
    return s;
}

static PgSt *gen_print(PgGen *g)
{
    PgSt *s = st_new(g, ST_PRINT);
    s->e = pg_below(&g->src, 2) ? gen_int(g, 1) : gen_float(g, 1);
    return s;
}

static PgSt *gen_piece(PgGen *g)
{
    int found[PIECE_COUNT], n = 0;
    for (int i = 0; i < PIECE_COUNT; i++)
        if (g->pieces[i])
            found[n++] = i;
    if (!n)
        return NULL;
    PgSt *s = st_new(g, ST_PIECE);
    s->piece = (PgPiece)found[pg_below(&g->src, n)];
    g->piece_uses[s->piece]++;
    if (s->piece == PIECE_DATA) {
        s->op = pg_range(&g->src, 1, 9); /* the pass that breaks (there are 2 to 8) */
        s->limit = pg_below(&g->src, 2); /* 0: break before the step, 1: after it */
    }
    if (s->piece == PIECE_STATE) {
        s->op = pg_below(&g->src, 6); /* forms 0-3 assign, 4-5 log */
        if (s->op < 4)
            s->e = pg_below(&g->src, 2) ? gen_int(g, 2) : gen_float(g, 2);
    }
    return s;
}

/* An `if` (else-if chain of at most `chain` more), its branches in `depth + 1`. In a loop,
 * a branch may end in break or continue. A quarter of the ifs print in both branches and
 * do nothing else (nnc once ran both branches of such an if). */
static PgSt *gen_if(PgGen *g, int depth, int loops, int chain)
{
    PgSt *s = st_new(g, ST_IF);
    s->e = gen_bool(g, 0);
    if (pg_below(&g->src, 4) == 0) {
        s->body = pg_alloc(g, sizeof *s->body);
        s->body[0] = gen_print(g);
        s->n = 1;
        if (pg_below(&g->src, 3)) {
            s->els = pg_alloc(g, sizeof *s->els);
            s->els[0] = gen_print(g);
            s->nels = 1;
        }
        return s;
    }
    s->body = gen_block(g, depth + 1, loops, &s->n);
    if (loops && pg_below(&g->src, 3) == 0) {
        PgSt **body = pg_alloc(g, sizeof *body * (size_t)(s->n + 1));
        memcpy(body, s->body, sizeof *body * (size_t)s->n);
        body[s->n++] = st_new(g, pg_below(&g->src, 2) ? ST_BREAK : ST_CONTINUE);
        s->body = body;
    }
    int k = pg_below(&g->src, 3);
    if (k == 1) {
        s->els = gen_block(g, depth + 1, loops, &s->nels);
    } else if (k == 2 && chain > 0) {
        s->els = pg_alloc(g, sizeof *s->els);
        s->els[0] = gen_if(g, depth, loops, chain - 1);
        s->nels = 1;
        s->else_if = 1;
    }
    return s;
}

static PgSt *gen_for(PgGen *g, int depth, int loops)
{
    PgSt *s = st_new(g, ST_FOR);
    char name[16];
    snprintf(name, sizeof name, "k%d", g->nvars);
    int lo = pg_range(&g->src, -1, 2);
    s->e = ex_int(g, lo);
    switch (pg_below(&g->src, 3)) {
    case 0:
        s->e2 = ex_int(g, lo + pg_range(&g->src, 0, 4));
        break;
    case 1: { /* (e % m + c): from c to c + m - 1, at most lo + 4 */
        int m = pg_range(&g->src, 2, 4);
        int c = lo + pg_range(&g->src, 0, 4 - (m - 1));
        PgEx *mod = ex_bin(g, OP_MOD, TY_INT, gen_int(g, 1), ex_int(g, m));
        s->e2 = ex_bin(g, OP_ADD, TY_INT, mod, ex_int(g, c));
        break;
    }
    case 2: {
        s->e2 = ex_new(g, EX_VAR, TY_INT);
        s->e2->var = 0; /* the setting `steps`, 1 to 4 */
        s->e = ex_int(g, 0);
        break;
    }
    }
    s->var = pg_var_new(g, name, TY_INT, 0);
    if (g->nscope < PG_MAX_SCOPE)
        g->scope[g->nscope++] = s->var;
    s->body = gen_block(g, depth + 1, loops + 1, &s->n);
    g->nscope--;
    return s;
}

static PgSt *gen_while(PgGen *g, int depth, int loops)
{
    PgSt *s = st_new(g, ST_WHILE);
    char name[16];
    snprintf(name, sizeof name, "w%d", g->nvars);
    s->var = pg_var_new(g, name, TY_INT, 0);
    s->limit = pg_range(&g->src, 1, 4);
    s->e = gen_bool(g, 1);
    if (g->nscope < PG_MAX_SCOPE)
        g->scope[g->nscope++] = s->var;
    s->body = gen_block(g, depth + 1, loops + 1, &s->n);
    g->nscope--;
    return s;
}

static PgSt *gen_stmt(PgGen *g, int depth, int loops)
{
    g->budget--;
    int nested = depth < 3 && g->budget > 2;
    for (;;) {
        PgSt *s = NULL;
        int k = pg_below(&g->src, 20);
        if (k < 6)
            s = gen_assign(g, loops);
        else if (k < 9 && nested)
            s = gen_if(g, depth, loops, 2);
        else if (k < 12 && nested)
            s = gen_for(g, depth, loops);
        else if (k < 13 && nested)
            s = gen_while(g, depth, loops);
        else if (k < 15)
            s = gen_log(g);
        else if (k < 16)
            s = gen_print(g);
        else if (k < 20)
            s = gen_piece(g);
        if (s)
            return s;
    }
}

/* A block of 1 to 3 statements (fewer as the budget runs out). */
static PgSt **gen_block(PgGen *g, int depth, int loops, int *count)
{
    int n = g->budget <= 0 ? 1 : pg_range(&g->src, 1, 3);
    PgSt **body = pg_alloc(g, sizeof *body * (size_t)n);
    for (int i = 0; i < n; i++)
        body[i] = gen_stmt(g, depth, loops);
    *count = n;
    return body;
}

/* ---- printing statements ------------------------------------------------------------------ */

static void print_block(PgGen *g, PgBuf *b, PgSt **body, int n, int depth);

static const char *const pg_sched_text[] = {"step_decay(ln_u, %.3f, %d)",
                                            "step_decay(ln_u, %.3f, %d, gamma = %.2f)",
                                            "warmup(ln_u, %.3f, %d)",
                                            "exponential(ln_u, %.3f, %.2f)", "%.3f"};

static void print_piece(PgGen *g, PgBuf *b, const PgSt *s, const char *ind)
{
    switch (s->piece) {
    case PIECE_STATE:
        switch (s->op) {
        case 0: pg_printf(b, "%shs.v = ones([2, 3]) * ", ind); break;
        case 1: pg_printf(b, "%shs.v = hs.v + ", ind); break;
        case 2: pg_printf(b, "%shs.set(", ind); break;
        case 3: pg_printf(b, "%shs.v = zeros([2, 3]) + ", ind); break;
        default: pg_printf(b, "%slog(hs = sum(hs.v))\n", ind); return;
        }
        print_ex(g, b, s->e);
        pg_printf(b, "%s\n", s->op == 2 ? ")" : "");
        return;
    case PIECE_DRAW:
        pg_printf(b,
                  "%srd_m = bernoulli([64], %.2f)\n"
                  "%slog(rd_d = sum(abs(rd_m - rd_p)), "
                  "rd_u = mean(uniform([16], lo = %.1f, hi = %.1f)), "
                  "rd_n = mean(normal([16], mean = %.1f, std = %.1f)))\n"
                  "%srd_p = rd_m\n",
                  ind, g->draw_p, ind, g->draw_lo, g->draw_hi, g->draw_mean, g->draw_std, ind);
        return;
    case PIECE_DROP:
        pg_printf(b,
                  "%sdn_u += 1\n"
                  "%sdn_opt.lr = warmup(dn_u, 0.0, 500)\n"
                  "%sdn_l = mean(dn(dn_x)^2)\n"
                  "%sdn_opt.step(dn_l)\n"
                  "%slog(dn_l = dn_l, dn_u = dn_u)\n",
                  ind, ind, ind, ind, ind);
        return;
    case PIECE_LIN:
        pg_printf(b, "%sln_u += 1\n%sln_opt.lr = ", ind, ind);
        switch (g->sched) {
        case 0: pg_printf(b, pg_sched_text[0], g->sched_base, g->sched_every); break;
        case 1:
            pg_printf(b, pg_sched_text[1], g->sched_base, g->sched_every, g->sched_gamma);
            break;
        case 2: pg_printf(b, pg_sched_text[2], g->sched_base, g->sched_every); break;
        case 3: pg_printf(b, pg_sched_text[3], g->sched_base, g->sched_gamma); break;
        default: pg_printf(b, pg_sched_text[4], g->sched_base); break;
        }
        pg_printf(b,
                  "\n%sln_s = ln([%.2f, %.2f, %.2f])\n"
                  "%sln_opt.step(ln_s)\n"
                  "%slog(ln_lr = ln_opt.lr, ln_s = ln_s, ln_w = sum(ln.w))\n",
                  ind, g->lin_x[0], g->lin_x[1], g->lin_x[2], ind, ind);
        return;
    case PIECE_DATA:
        pg_printf(b, "%sdd_k = 0\n%sfor dx, dy in batches(dd, %d) {\n%s    dd_k += 1\n", ind,
                  ind, g->data_batch, ind);
        if (s->limit == 0)
            pg_printf(b, "%s    if dd_k == %d { break }\n", ind, s->op);
        pg_printf(b, "%s    dd_opt.step(mean(dx * dd_w.w))\n", ind);
        if (s->limit == 1)
            pg_printf(b, "%s    if dd_k == %d { break }\n", ind, s->op);
        pg_printf(b, "%s}\n%slog(dd_k = dd_k)\n", ind, ind);
        return;
    case PIECE_COUNT:
        break;
    }
}

static int pg_deleted(const PgGen *g, const PgSt *s)
{
    return s->id < g->ndeleted && g->deleted[s->id];
}

static void print_stmt(PgGen *g, PgBuf *b, const PgSt *s, int depth)
{
    if (pg_deleted(g, s))
        return;
    char ind[64];
    int w = 4 * depth < (int)sizeof ind - 1 ? 4 * depth : (int)sizeof ind - 1;
    memset(ind, ' ', (size_t)w);
    ind[w] = '\0';
    switch (s->kind) {
    case ST_ASSIGN:
        if (s->op == '=')
            pg_printf(b, "%s%s = ", ind, g->vars[s->var].name);
        else
            pg_printf(b, "%s%s %c= ", ind, g->vars[s->var].name, s->op);
        print_ex(g, b, s->e);
        pg_printf(b, "\n");
        return;
    case ST_IF:
        pg_printf(b, "%sif ", ind);
        for (const PgSt *t = s;;) {
            print_ex(g, b, t->e);
            pg_printf(b, " {\n");
            print_block(g, b, t->body, t->n, depth + 1);
            if (t->else_if && !pg_deleted(g, t->els[0])) {
                pg_printf(b, "%s} else if ", ind);
                t = t->els[0];
                continue;
            }
            if (t->nels && !t->else_if) {
                pg_printf(b, "%s} else {\n", ind);
                print_block(g, b, t->els, t->nels, depth + 1);
            }
            pg_printf(b, "%s}\n", ind);
            return;
        }
    case ST_FOR:
        pg_printf(b, "%sfor %s in ", ind, g->vars[s->var].name);
        print_ex(g, b, s->e);
        pg_printf(b, "..");
        print_ex(g, b, s->e2);
        pg_printf(b, " {\n");
        print_block(g, b, s->body, s->n, depth + 1);
        pg_printf(b, "%s}\n", ind);
        return;
    case ST_WHILE:
        pg_printf(b, "%s%s = 0\n%swhile %s < %d and ", ind, g->vars[s->var].name, ind,
                  g->vars[s->var].name, s->limit);
        print_ex(g, b, s->e);
        pg_printf(b, " {\n%s    %s += 1\n", ind, g->vars[s->var].name);
        print_block(g, b, s->body, s->n, depth + 1);
        pg_printf(b, "%s}\n", ind);
        return;
    case ST_BREAK:
        pg_printf(b, "%sbreak\n", ind);
        return;
    case ST_CONTINUE:
        pg_printf(b, "%scontinue\n", ind);
        return;
    case ST_LOG:
        pg_printf(b, "%slog(", ind);
        for (int i = 0; i < s->nvals; i++) {
            pg_printf(b, "%s%s = ", i ? ", " : "", s->names[i]);
            print_ex(g, b, s->vals[i]);
        }
        pg_printf(b, ")\n");
        return;
    case ST_PRINT:
        pg_printf(b, "%sprint(", ind);
        print_ex(g, b, s->e);
        pg_printf(b, ")\n");
        return;
    case ST_PIECE:
        print_piece(g, b, s, ind);
        return;
    }
}

static void print_block(PgGen *g, PgBuf *b, PgSt **body, int n, int depth)
{
    for (int i = 0; i < n; i++)
        print_stmt(g, b, body[i], depth);
}

/* ---- interpreting statements ------------------------------------------------------------ */

enum { FLOW_NEXT, FLOW_BREAK, FLOW_CONTINUE };

static void pg_prop(PgGen *g, ProgenPropKind kind, int index, double lo, double hi, int group)
{
    if (g->nprops == PG_MAX_PROPS) {
        g->bad = 1;
        return;
    }
    ProgenProp *p = &g->props[g->nprops++];
    p->kind = kind;
    p->line = g->lines;
    p->index = index;
    p->lo = lo;
    p->hi = hi;
    p->group = group;
}

static double pg_sched(PgGen *g, int64_t step)
{
    switch (g->sched) {
    case 0: return g->sched_base * pow(0.1, (double)pg_floor_div(step, g->sched_every));
    case 1:
        return g->sched_base * pow(g->sched_gamma, (double)pg_floor_div(step, g->sched_every));
    case 2:
        return step < g->sched_every ? g->sched_base * (double)step / (double)g->sched_every
                                     : g->sched_base;
    case 3: return g->sched_base * pow(g->sched_gamma, (double)step);
    default: return g->sched_base;
    }
}

static void exec_piece(PgGen *g, const PgSt *s)
{
    switch (s->piece) {
    case PIECE_STATE: {
        if (s->op >= 4) {
            pg_printf(&g->out, "hs = %.6g\n", 6.0 * g->state_fill);
            g->lines++;
            return;
        }
        PgVal v = eval_ex(g, s->e);
        /* the state is f32: the value is rounded to it on the way in */
        double x = (float)pg_as_float(s->e, v);
        g->state_fill = (float)(s->op == 1 ? g->state_fill + x : x);
        return;
    }
    case PIECE_DRAW:
        pg_printf(&g->out, "rd_d = ?, rd_u = ?, rd_n = ?\n");
        /* The mask differs from the previous one (two equal 64-element masks: chance
         * below 1e-13); a mean of 16 uniforms lies in [lo, hi]; a mean of 16 normals
         * lies within 6 std of the mean (std / 4 is its own deviation: 24 sigmas). */
        pg_prop(g, PROGEN_PROP_RANGE, 0, 1, 64, 0);
        pg_prop(g, PROGEN_PROP_RANGE, 1, g->draw_lo, g->draw_hi, 0);
        pg_prop(g, PROGEN_PROP_DISTINCT, 1, 0, 0, 1);
        pg_prop(g, PROGEN_PROP_RANGE, 2, g->draw_mean - 6 * g->draw_std,
                g->draw_mean + 6 * g->draw_std, 0);
        pg_prop(g, PROGEN_PROP_DISTINCT, 2, 0, 0, 2);
        g->lines++;
        return;
    case PIECE_DROP:
        /* lr is 0, so only the dropout mask changes the loss: it must differ between
         * steps (two equal 24-element masks: chance 6e-8). */
        g->drop_updates++;
        pg_printf(&g->out, "dn_l = ?, dn_u = %lld\n", (long long)g->drop_updates);
        pg_prop(g, PROGEN_PROP_RANGE, 0, 0, 1e4, 0);
        pg_prop(g, PROGEN_PROP_DISTINCT, 0, 0, 0, 3);
        g->lines++;
        return;
    case PIECE_LIN: {
        /* loss = sum(w * x) has gradient x: SGD makes w -= lr * x. */
        g->lin_updates++;
        double lr = pg_sched(g, g->lin_updates);
        double loss = 0, sum = 0;
        for (int i = 0; i < 3; i++) {
            loss += g->lin_w[i] * g->lin_x[i];
            g->lin_w[i] -= lr * g->lin_x[i];
            sum += g->lin_w[i];
        }
        pg_printf(&g->out, "ln_lr = %.6g, ln_s = %.6g, ln_w = %.6g\n", lr, loss, sum);
        g->lines++;
        return;
    }
    case PIECE_DATA: {
        /* points.csv holds 50 samples: ceil(50 / batch) batches, the last one partial.
         * The loop's progress line counts the steps it trained. */
        int batches = (50 + g->data_batch - 1) / g->data_batch, k = s->op;
        int passes = k < batches ? k : batches;
        int steps = s->limit == 0 && k <= batches ? k - 1 : passes;
        if (g->nprogress == g->capprogress) {
            g->capprogress = g->capprogress ? 2 * g->capprogress : 16;
            g->progress = realloc(g->progress, sizeof *g->progress * (size_t)g->capprogress);
            if (!g->progress)
                abort();
        }
        g->progress[g->nprogress++] = steps;
        pg_printf(&g->out, "dd_k = %d\n", passes);
        g->lines++;
        return;
    }
    case PIECE_COUNT:
        break;
    }
}

static int exec_block(PgGen *g, PgSt **body, int n);

static int exec_stmt(PgGen *g, const PgSt *s)
{
    if (pg_deleted(g, s))
        return FLOW_NEXT;
    if (g->bad || ++g->steps > PG_MAX_STEPS) {
        g->bad = 1;
        return FLOW_BREAK;
    }
    switch (s->kind) {
    case ST_ASSIGN: {
        PgVal v = eval_ex(g, s->e);
        if (g->vars[s->var].type == TY_INT) {
            int64_t old = g->iv[s->var], r = v.i;
            if ((s->op == '+' && __builtin_add_overflow(old, v.i, &r)) ||
                (s->op == '-' && __builtin_sub_overflow(old, v.i, &r)) ||
                (s->op == '*' && __builtin_mul_overflow(old, v.i, &r)))
                g->bad = 1;
            g->iv[s->var] = pg_check_int(g, r);
        } else {
            double old = g->fv[s->var], x = pg_as_float(s->e, v);
            double r = s->op == '+' ? old + x : s->op == '-' ? old - x
                     : s->op == '*' ? old * x : x;
            g->fv[s->var] = pg_check_float(g, r);
        }
        return FLOW_NEXT;
    }
    case ST_IF:
        if (eval_ex(g, s->e).i)
            return exec_block(g, s->body, s->n);
        return exec_block(g, s->els, s->nels);
    case ST_FOR: {
        int64_t lo = eval_ex(g, s->e).i, hi = eval_ex(g, s->e2).i;
        for (int64_t k = lo; k < hi && !g->bad; k++) {
            g->iv[s->var] = k;
            if (exec_block(g, s->body, s->n) == FLOW_BREAK)
                break;
        }
        return FLOW_NEXT;
    }
    case ST_WHILE:
        g->iv[s->var] = 0;
        while (!g->bad && g->iv[s->var] < s->limit && eval_ex(g, s->e).i) {
            g->iv[s->var]++;
            if (exec_block(g, s->body, s->n) == FLOW_BREAK)
                break;
        }
        return FLOW_NEXT;
    case ST_BREAK:
        return FLOW_BREAK;
    case ST_CONTINUE:
        return FLOW_CONTINUE;
    case ST_LOG:
        for (int i = 0; i < s->nvals; i++) {
            PgVal v = eval_ex(g, s->vals[i]);
            double x = s->vals[i]->type == TY_FLOAT ? v.f : (double)v.i;
            pg_printf(&g->out, "%s%s = %.6g", i ? ", " : "", s->names[i], x);
        }
        pg_printf(&g->out, "\n");
        g->lines++;
        return FLOW_NEXT;
    case ST_PRINT: {
        /* print shows a host value as an f32[] tensor, %.4g */
        PgVal v = eval_ex(g, s->e);
        pg_printf(&g->out, "f32[]\n%.4g\n", (double)(float)pg_as_float(s->e, v));
        g->lines += 2;
        return FLOW_NEXT;
    }
    case ST_PIECE:
        exec_piece(g, s);
        return FLOW_NEXT;
    }
    return FLOW_NEXT;
}

static int exec_block(PgGen *g, PgSt **body, int n)
{
    for (int i = 0; i < n; i++) {
        int flow = exec_stmt(g, body[i]);
        if (flow != FLOW_NEXT)
            return flow;
    }
    return FLOW_NEXT;
}

/* ---- whole programs ------------------------------------------------------------------------ */

static void gen_fns(PgGen *g)
{
    g->nfns = pg_below(&g->src, PG_MAX_FNS + 1);
    for (int i = 0; i < g->nfns; i++) {
        PgFn *f = &g->fns[i];
        f->ret = pg_below(&g->src, 2) ? TY_INT : TY_FLOAT;
        snprintf(f->name, sizeof f->name, "%s%d", f->ret == TY_INT ? "fi" : "ff", i);
        g->nscope = 0;
        for (int p = 0; p < 2; p++) {
            char name[16];
            f->param[p] = p == 0 ? f->ret : (pg_below(&g->src, 2) ? TY_INT : TY_FLOAT);
            snprintf(name, sizeof name, "%c%d", p ? 'q' : 'p', i);
            f->slot[p] = pg_var_new(g, name, f->param[p], 0);
            g->scope[g->nscope++] = f->slot[p];
        }
        g->in_fn = 1;
        f->body = f->ret == TY_INT ? gen_int(g, 0) : gen_float(g, 0);
        g->in_fn = 0;
    }
    g->nscope = 0;
}

static void print_fns(PgGen *g, PgBuf *b)
{
    static const char *const types[] = {"int", "float"};
    for (int i = 0; i < g->nfns; i++) {
        const PgFn *f = &g->fns[i];
        pg_printf(b, "fn %s(%s: %s, %s: %s) -> %s {\n    ", f->name,
                  g->vars[f->slot[0]].name, types[f->param[0]], g->vars[f->slot[1]].name,
                  types[f->param[1]], types[f->ret]);
        print_ex(g, b, f->body);
        pg_printf(b, "\n}\n\n");
    }
}

static void gen_pieces(PgGen *g)
{
    for (int i = 0; i < PIECE_COUNT; i++)
        g->pieces[i] = pg_below(&g->src, 3) == 0 && (i != PIECE_DATA || g->data_dir);
    static const int batch_sizes[] = {7, 16, 25};
    g->data_batch = batch_sizes[pg_below(&g->src, 3)];
    static const double ps[] = {0.5, 0.25, 0.75};
    g->draw_p = ps[pg_below(&g->src, 3)];
    g->draw_lo = pg_range(&g->src, -4, 4) / 2.0;
    g->draw_hi = g->draw_lo + pg_range(&g->src, 1, 4) / 2.0;
    g->draw_mean = pg_range(&g->src, -4, 4) / 2.0;
    g->draw_std = pg_range(&g->src, 1, 4) / 2.0;
    g->sched = pg_below(&g->src, 5);
    static const double bases[] = {0.5, 0.25, 0.125, 1.0};
    g->sched_base = bases[pg_below(&g->src, 4)];
    g->sched_every = pg_range(&g->src, 1, 4);
    static const double gammas[] = {0.5, 0.25, 0.75};
    g->sched_gamma = gammas[pg_below(&g->src, 3)];
    for (int i = 0; i < 3; i++)
        g->lin_x[i] = pg_float_lit(g, -8, 8);
}

static void print_piece_defs(PgGen *g, PgBuf *b)
{
    if (g->pieces[PIECE_STATE])
        pg_printf(b, "layer holder() {\n"
                     "    state v: f32[2, 3] = zeros()\n"
                     "    fn set(c) { v = ones([2, 3]) * c }\n"
                     "}\n\n");
    if (g->pieces[PIECE_DROP])
        pg_printf(b, "model dropped() {\n"
                     "    fc = dense(6, 6)\n"
                     "    drop = dropout(0.5)\n"
                     "    fn forward(x) { drop(fc(x)) }\n"
                     "}\n\n");
    if (g->pieces[PIECE_LIN] || g->pieces[PIECE_DATA])
        pg_printf(b, "layer linear() {\n"
                     "    param w: f32[3] = ones()\n"
                     "    fn forward(x) { sum(w * x) }\n"
                     "}\n\n");
}

static void print_piece_setup(PgGen *g, PgBuf *b)
{
    if (g->pieces[PIECE_STATE])
        pg_printf(b, "    hs = holder()\n");
    if (g->pieces[PIECE_DRAW])
        pg_printf(b, "    rd_p = bernoulli([64], %.2f)\n", g->draw_p);
    if (g->pieces[PIECE_DROP])
        pg_printf(b, "    dn = dropped()\n    dn_opt = sgd(lr = 0.0)\n"
                     "    dn_x = ones([4, 6])\n    dn_u = 0\n");
    if (g->pieces[PIECE_LIN])
        pg_printf(b, "    ln = linear()\n    ln_opt = sgd(lr = 0.1)\n    ln_u = 0\n");
    if (g->pieces[PIECE_DATA])
        pg_printf(b, "    dd = csv(\"%s/points.csv\", 3)\n    dd_w = linear()\n"
                     "    dd_opt = sgd(lr = 0.01)\n    dd_k = 0\n", g->data_dir);
}

int progen_generate(const uint8_t *data, size_t size, uint64_t seed, const char *data_dir,
                    ProgenProgram *out)
{
    return progen_generate_reduced(data, size, seed, data_dir, NULL, 0, out);
}

int progen_generate_reduced(const uint8_t *data, size_t size, uint64_t seed,
                            const char *data_dir, const unsigned char *deleted, int ndeleted,
                            ProgenProgram *out)
{
    PgGen *g = calloc(1, sizeof *g);
    if (!g)
        abort();
    g->data_dir = data_dir;
    g->deleted = deleted;
    g->ndeleted = ndeleted;
    g->src.data = data;
    g->src.size = data ? size : 0;
    g->src.state = seed;
    g->props = calloc(PG_MAX_PROPS, sizeof *g->props);
    if (!g->props)
        abort();
    memset(out, 0, sizeof *out);

    /* variable 0 is the setting `steps` */
    int steps = pg_range(&g->src, 1, 4);
    int seed_setting = pg_range(&g->src, 0, 9);
    pg_var_new(g, "steps", TY_INT, 0);
    g->iv[0] = steps;
    gen_fns(g);
    gen_pieces(g);

    int nint = pg_range(&g->src, 1, 3), nfloat = pg_range(&g->src, 1, 2);
    int first = g->nvars;
    g->scope[g->nscope++] = 0;
    for (int i = 0; i < nint + nfloat; i++) {
        char name[16];
        PgType type = i < nint ? TY_INT : TY_FLOAT;
        snprintf(name, sizeof name, "%c%d", type == TY_INT ? 'i' : 'x', i);
        int v = pg_var_new(g, name, type, 1);
        g->scope[g->nscope++] = v;
        if (type == TY_INT)
            g->iv[v] = pg_range(&g->src, -3, 9);
        else
            g->fv[v] = pg_float_lit(g, -8, 16);
    }
    g->budget = pg_range(&g->src, 4, 24);
    int n = 0;
    PgSt **body = NULL;
    {
        int cap = 0;
        while (g->budget > 0 || n == 0) {
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                PgSt **grown = pg_alloc(g, sizeof *grown * (size_t)cap);
                if (n)
                    memcpy(grown, body, sizeof *body * (size_t)n);
                body = grown;
            }
            body[n++] = gen_stmt(g, 1, 0);
        }
    }
    /* every part of the program is observed at its end */
    PgSt *last = st_new(g, ST_LOG);
    last->nvals = nint + nfloat;
    last->names = pg_alloc(g, sizeof *last->names * (size_t)last->nvals);
    last->vals = pg_alloc(g, sizeof *last->vals * (size_t)last->nvals);
    for (int i = 0; i < last->nvals; i++) {
        last->names[i] = g->vars[first + i].name;
        last->vals[i] = ex_new(g, EX_VAR, g->vars[first + i].type);
        last->vals[i]->var = first + i;
    }

    PgBuf text = {0};
    pg_printf(&text, "# generated by tests/fuzz/progen.c\nimport std\n\n");
    print_fns(g, &text);
    print_piece_defs(g, &text);
    pg_printf(&text, "train(seed = %d, steps = %d) {\n", seed_setting, steps);
    print_piece_setup(g, &text);
    for (int v = first; v < first + nint + nfloat; v++) {
        if (g->vars[v].type == TY_INT)
            pg_printf(&text, "    %s = %lld\n", g->vars[v].name, (long long)g->iv[v]);
        else
            pg_printf(&text, "    %s = %.2f\n", g->vars[v].name, g->fv[v]);
    }
    print_block(g, &text, body, n, 1);
    print_stmt(g, &text, last, 1);
    if (g->pieces[PIECE_STATE] && !g->piece_uses[PIECE_STATE])
        pg_printf(&text, "    log(hs = sum(hs.v))\n");
    pg_printf(&text, "}\n");

    g->lin_w[0] = g->lin_w[1] = g->lin_w[2] = 1;
    exec_block(g, body, n);
    exec_stmt(g, last);
    if (g->pieces[PIECE_STATE] && !g->piece_uses[PIECE_STATE]) {
        pg_printf(&g->out, "hs = %.6g\n", 6.0 * g->state_fill);
        g->lines++;
    }

    int ok = !g->bad;
    if (ok) {
        out->text = pg_take(&text);
        out->expected = pg_take(&g->out);
        out->props = g->props;
        out->prop_count = g->nprops;
        out->progress = g->progress;
        out->progress_count = g->nprogress;
        out->statements = g->nst;
    } else {
        free(text.s);
        free(g->out.s);
        free(g->props);
        free(g->progress);
    }
    for (int i = 0; i < g->nblocks; i++)
        free(g->blocks[i]);
    free(g->blocks);
    free(g);
    return ok;
}

void progen_free(ProgenProgram *program)
{
    free(program->text);
    free(program->expected);
    free(program->props);
    free(program->progress);
    memset(program, 0, sizeof *program);
}
