/* prog.c — building and printing programs (prog.h). */
#include "prog/prog.h"
#include "ast/ast.h"
#include "util/util.h"

#include <stdio.h>
#include <string.h>

Prog *prog_new(void)
{
    Prog *p = util_malloc(sizeof *p);
    *p = (Prog){0};
    arena_init(&p->arena);
    return p;
}

void prog_free(Prog *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->regions.len; i++)
        ir_graph_free(p->regions.items[i]);
    util_vec_free(&p->regions);
    util_free(p->slots);
    util_free(p->vars);
    util_free(p->datas);
    util_free(p->settings);
    arena_free(&p->arena);
    util_free(p);
}

#define GROW(arr, n, cap)                                                                     \
    do {                                                                                      \
        if ((n) == (cap)) {                                                                   \
            (cap) = (cap) ? (cap) * 2 : 16;                                                   \
            (arr) = util_realloc((arr), sizeof *(arr) * (size_t)(cap));                       \
        }                                                                                     \
    } while (0)

int prog_add_slot(Prog *p, const char *name, IrDType dtype, const IrShape *shape)
{
    GROW(p->slots, p->nslots, p->capslots);
    p->slots[p->nslots] = (ProgSlot){arena_strndup(&p->arena, name, strlen(name)), dtype, *shape};
    return p->nslots++;
}

int prog_add_var(Prog *p, const char *name, bool is_int)
{
    GROW(p->vars, p->nvars, p->capvars);
    /* distinct names in the printed program: total, total.1, ... */
    int same = 0;
    size_t n = strlen(name);
    for (int i = 0; i < p->nvars; i++)
        if (!strncmp(p->vars[i].name, name, n) && (p->vars[i].name[n] == '\0' || p->vars[i].name[n] == '.'))
            same++;
    char buf[256];
    snprintf(buf, sizeof buf, same ? "%s.%d" : "%s", name, same);
    p->vars[p->nvars] = (ProgVar){arena_strndup(&p->arena, buf, strlen(buf)), is_int};
    return p->nvars++;
}

int prog_add_data(Prog *p, const ProgData *d)
{
    GROW(p->datas, p->ndatas, p->capdatas);
    p->datas[p->ndatas] = *d;
    return p->ndatas++;
}

void prog_add_setting(Prog *p, const char *name, int var, bool is_int, double dflt)
{
    GROW(p->settings, p->nsettings, p->capsettings);
    p->settings[p->nsettings++] = (ProgSetting){name, var, is_int, dflt};
}

void prog_add_string_setting(Prog *p, const char *name, const char *dflt)
{
    GROW(p->settings, p->nsettings, p->capsettings);
    p->settings[p->nsettings++] = (ProgSetting){.name = name, .var = -1, .text = dflt};
}

static void drop_node_rows(IrNode *n)
{
    n->shape.rows = n->shape.rows_axis = 0;
    if (n->op == IR_OP_FUSED)
        for (int i = 0; i < n->attr.fused.nbody; i++)
            drop_node_rows(n->attr.fused.body[i]);
}

void prog_drop_rows(Prog *p, const char *why)
{
    for (int k = 0; k < p->regions.len; k++) {
        IrGraph *g = p->regions.items[k];
        for (int i = 0; i < g->len; i++)
            drop_node_rows(g->nodes[i]);
    }
    for (int i = 0; i < p->nslots; i++)
        p->slots[i].shape.rows = p->slots[i].shape.rows_axis = 0;
    for (int i = 0; i < p->nsettings; i++)
        if (p->settings[i].bounded) {
            p->settings[i].bounded = false;
            p->settings[i].fixed = true;
            p->settings[i].why_full = arena_strndup(&p->arena, why, strlen(why));
        }
}

ProgStmt *prog_stmt(Prog *p, ProgBlock *into, ProgStmtKind kind, Span at)
{
    ProgStmt *s = ARENA_NEW(&p->arena, ProgStmt);
    s->kind = kind;
    s->span = at;
    s->x_slot = s->y_slot = s->epoch_var = s->rows_var = s->loss_out = -1;
    if (into->len == into->cap) {
        int cap = into->cap ? into->cap * 2 : 8;
        ProgStmt **items = ARENA_NEW_N(&p->arena, ProgStmt *, cap);
        if (into->len)
            memcpy(items, into->items, sizeof(ProgStmt *) * (size_t)into->len);
        into->items = items;
        into->cap = cap;
    }
    into->items[into->len++] = s;
    return s;
}

static ProgExpr *expr(Prog *p, ProgExprKind k)
{
    ProgExpr *e = ARENA_NEW(&p->arena, ProgExpr);
    e->kind = k;
    return e;
}

ProgExpr *prog_const(Prog *p, double v)
{
    ProgExpr *e = expr(p, PX_CONST);
    e->value = v;
    return e;
}

ProgExpr *prog_var(Prog *p, int var)
{
    ProgExpr *e = expr(p, PX_VAR);
    e->index = var;
    return e;
}

ProgExpr *prog_out(Prog *p, int out)
{
    ProgExpr *e = expr(p, PX_OUT);
    e->index = out;
    return e;
}

ProgExpr *prog_unary(Prog *p, int op, ProgExpr *a)
{
    ProgExpr *e = expr(p, PX_UNARY);
    e->op = op;
    e->a = a;
    return e;
}

ProgExpr *prog_binary(Prog *p, int op, ProgExpr *a, ProgExpr *b)
{
    ProgExpr *e = expr(p, PX_BINARY);
    e->op = op;
    e->a = a;
    e->b = b;
    return e;
}

ProgExpr *prog_int_div(Prog *p, int op, ProgExpr *a, ProgExpr *b, Span at)
{
    ASSERT(op == AST_OP_DIV || op == AST_OP_MOD);
    ProgExpr *e = prog_binary(p, op == AST_OP_DIV ? PX_OP_IDIV : PX_OP_IMOD, a, b);
    e->span = at;
    return e;
}

ProgExpr *prog_select(Prog *p, ProgExpr *cond, ProgExpr *a, ProgExpr *b)
{
    ProgExpr *e = expr(p, PX_SELECT);
    e->cond = cond;
    e->a = a;
    e->b = b;
    return e;
}

ProgExpr *prog_data_count(Prog *p, int data)
{
    ProgExpr *e = expr(p, PX_DATA_COUNT);
    e->index = data;
    return e;
}

/* ---- checkpoints ---------------------------------------------------------------------- */

static bool block_trains(const ProgBlock *b);

static bool stmt_trains(const ProgStmt *s)
{
    if (s->kind == PS_FOR_BATCHES && s->loss_out >= 0)
        return true;
    return block_trains(&s->body) || block_trains(&s->orelse);
}

static bool block_trains(const ProgBlock *b)
{
    for (int i = 0; i < b->len; i++)
        if (stmt_trains(b->items[i]))
            return true;
    return false;
}

/* Marks in var_written / slot_written what the statements of b write. */
static void mark_written(const Prog *p, const ProgBlock *b, bool *var_written,
                         bool *slot_written)
{
    for (int i = 0; i < b->len; i++) {
        const ProgStmt *s = b->items[i];
        switch (s->kind) {
        case PS_REGION: {
            const IrGraph *g = p->regions.items[s->index];
            for (int k = 0; k < g->len; k++)
                if (g->nodes[k]->op == IR_OP_SLOT_STORE)
                    slot_written[g->nodes[k]->attr.io.index] = true;
            break;
        }
        case PS_SET:
        case PS_FOR_RANGE: var_written[s->index] = true; break;
        case PS_LOAD:
            for (int k = 0; k < s->nslot_list; k++)
                slot_written[s->slot_list[k]] = true;
            break;
        default: break; /* a batch loop's input slots are refilled before every read */
        }
        mark_written(p, &s->body, var_written, slot_written);
        mark_written(p, &s->orelse, var_written, slot_written);
    }
}

static int *marked(const bool *flags, int n, int *count)
{
    int *out = util_malloc(sizeof(int) * (size_t)(n + 1));
    *count = 0;
    for (int i = 0; i < n; i++)
        if (flags[i])
            out[(*count)++] = i;
    return out;
}

bool prog_counts_steps(const Prog *p, const ProgCheckpoint *cp, const ProgStmt *s)
{
    if (cp->stmt < 0 || cp->why_no_steps)
        return false;
    const ProgStmt *training = p->main.items[cp->stmt];
    if (training->kind == PS_FOR_BATCHES)
        return s == training;
    return s == training->body.items[cp->batch_item];
}

ProgCheckpoint prog_checkpoint_plan(const Prog *p)
{
    ProgCheckpoint cp = {.stmt = -1};
    for (int i = 0; i < p->main.len; i++) {
        if (!stmt_trains(p->main.items[i]))
            continue;
        if (cp.stmt >= 0) {
            cp.stmt = -1;
            cp.why = "it trains in more than one top-level loop (checkpoints follow one)";
            return cp;
        }
        cp.stmt = i;
    }
    if (cp.stmt < 0) {
        cp.why = "it has no loop that trains (calls opt.step)";
        return cp;
    }
    const ProgStmt *s = p->main.items[cp.stmt];
    if (s->kind != PS_FOR_RANGE && s->kind != PS_FOR_BATCHES) {
        cp.stmt = -1;
        cp.why = "its training is not a loop of the train block itself";
        return cp;
    }
    int training_items = 0;
    cp.batch_item = -1;
    for (int i = 0; i < s->body.len; i++)
        if (stmt_trains(s->body.items[i])) {
            cp.eval_from = i + 1;
            training_items++;
            cp.batch_item = i;
        }
    if (s->kind == PS_FOR_BATCHES) {
        cp.batch_item = -1;
        if (s->loss_out < 0)
            cp.why_no_steps = "its loop over batches trains in a loop of its own";
    } else if (training_items != 1) {
        cp.batch_item = -1;
        cp.why_no_steps = "its epoch loop trains in more than one statement";
    } else if (s->body.items[cp.batch_item]->kind != PS_FOR_BATCHES ||
               s->body.items[cp.batch_item]->loss_out < 0) {
        cp.batch_item = -1;
        cp.why_no_steps = "its epoch loop trains in a statement that is not a loop over batches";
    }
    bool *var_written = util_malloc(sizeof(bool) * (size_t)(p->nvars + 1));
    bool *slot_written = util_malloc(sizeof(bool) * (size_t)(p->nslots + 1));
    memset(var_written, 0, sizeof(bool) * (size_t)(p->nvars + 1));
    memset(slot_written, 0, sizeof(bool) * (size_t)(p->nslots + 1));
    ProgBlock self = {.items = (ProgStmt **)&p->main.items[cp.stmt], .len = 1};
    mark_written(p, &self, var_written, slot_written);
    cp.vars = marked(var_written, p->nvars, &cp.nvars);
    cp.slots = marked(slot_written, p->nslots, &cp.nslots);
    util_free(var_written);
    util_free(slot_written);
    return cp;
}

void prog_checkpoint_free(ProgCheckpoint *cp)
{
    util_free(cp->vars);
    util_free(cp->slots);
    *cp = (ProgCheckpoint){.stmt = -1};
}

/* ---- printer -------------------------------------------------------------------------- */

static void print_expr(FILE *out, const Prog *p, const ProgExpr *e)
{
    char num[40];
    switch (e->kind) {
    case PX_CONST: fputs(ast_format_double(e->value, num, sizeof num), out); break;
    case PX_VAR: fprintf(out, "$%s", p->vars[e->index].name); break;
    case PX_OUT: fprintf(out, "out%d", e->index); break;
    case PX_DATA_COUNT: fprintf(out, "len(data%d)", e->index); break;
    case PX_UNARY:
        fprintf(out, "%s(", e->op == PX_OP_FLOOR   ? "floor"
                            : e->op == PX_OP_TRUNC ? "trunc"
                                                   : ast_op_name((AstOp)e->op));
        print_expr(out, p, e->a);
        fputc(')', out);
        break;
    case PX_SELECT:
        fputs("(if ", out);
        print_expr(out, p, e->cond);
        fputs(" then ", out);
        print_expr(out, p, e->a);
        fputs(" else ", out);
        print_expr(out, p, e->b);
        fputc(')', out);
        break;
    case PX_BINARY:
        fputc('(', out);
        print_expr(out, p, e->a);
        fprintf(out, " %s ", e->op == PX_OP_IDIV   ? "idiv"
                             : e->op == PX_OP_IMOD ? "imod"
                                                   : ast_op_name((AstOp)e->op));
        print_expr(out, p, e->b);
        fputc(')', out);
        break;
    }
}

static void print_block(FILE *out, const Prog *p, const ProgBlock *b, int depth);

static void print_stmt(FILE *out, const Prog *p, const ProgStmt *s, int depth)
{
    fprintf(out, "%*s", depth * 4, "");
    switch (s->kind) {
    case PS_REGION: {
        fprintf(out, "region %d {\n", s->index);
        const IrGraph *g = p->regions.items[s->index];
        for (int i = 0; i < g->len; i++)
            ir_print_node(out, g->nodes[i], (depth + 1) * 4);
        fprintf(out, "%*s}\n", depth * 4, "");
        return;
    }
    case PS_SET:
        fprintf(out, "$%s = ", p->vars[s->index].name);
        print_expr(out, p, s->expr);
        fputc('\n', out);
        return;
    case PS_FOR_RANGE:
        fprintf(out, "for $%s in ", p->vars[s->index].name);
        print_expr(out, p, s->lo);
        fputs("..", out);
        print_expr(out, p, s->hi);
        break;
    case PS_FOR_BATCHES:
        fprintf(out, "for batches of data%d (batch %lld%s) into slots %d, %d", s->index,
                (long long)s->batch, s->shuffle ? ", shuffled" : "", s->x_slot, s->y_slot);
        if (s->rows_var >= 0)
            fprintf(out, ", rows in $%s", p->vars[s->rows_var].name);
        break;
    case PS_WHILE:
        fputs("while ", out);
        print_expr(out, p, s->cond);
        break;
    case PS_IF:
        fputs("if ", out);
        print_expr(out, p, s->cond);
        break;
    case PS_BREAK: fputs("break\n", out); return;
    case PS_CONTINUE: fputs("continue\n", out); return;
    case PS_LOG:
        fputs("log(", out);
        for (int i = 0; i < s->n; i++) {
            fprintf(out, "%s%s = ", i ? ", " : "", s->names[i]);
            print_expr(out, p, s->values[i]);
        }
        fputs(")\n", out);
        return;
    case PS_PRINT:
        fputs("print ", out);
        print_expr(out, p, s->expr);
        fputc('\n', out);
        return;
    case PS_MAP_DATA:
        fprintf(out, "data%d = map data%d through region %d (slots %d, %d -> %d, %d)", s->n,
                s->index, s->region, s->x_slot, s->y_slot, s->x_out, s->y_out);
        if (s->rng_words)
            fprintf(out, ", $%s += %llu per sample", p->vars[s->rng_var].name,
                    (unsigned long long)s->rng_words);
        fputc('\n', out);
        return;
    case PS_SPLIT_DATA:
        fprintf(out, "data%d = part %d of data%d split at %g by seed %lld\n", s->n,
                p->datas[s->n].part, s->index, p->datas[s->n].fraction,
                (long long)p->datas[s->n].seed);
        return;
    case PS_SAVE:
    case PS_LOAD:
        if (s->path_setting)
            fprintf(out, "%s --%s slots", s->kind == PS_SAVE ? "save" : "load", s->path_setting);
        else
            fprintf(out, "%s \"%s\" slots", s->kind == PS_SAVE ? "save" : "load", s->path);
        for (int i = 0; i < s->nslot_list; i++)
            fprintf(out, " %d", s->slot_list[i]);
        fputc('\n', out);
        return;
    }
    fputs(" {\n", out);
    print_block(out, p, &s->body, depth + 1);
    if (s->kind == PS_IF && s->orelse.len) {
        fprintf(out, "%*s} else {\n", depth * 4, "");
        print_block(out, p, &s->orelse, depth + 1);
    }
    fprintf(out, "%*s}\n", depth * 4, "");
}

static void print_block(FILE *out, const Prog *p, const ProgBlock *b, int depth)
{
    for (int i = 0; i < b->len; i++)
        print_stmt(out, p, b->items[i], depth);
}

void prog_print(FILE *out, const Prog *p)
{
    for (int i = 0; i < p->nslots; i++) {
        char shape[200];
        fprintf(out, "slot %d %s %s%s\n", i, p->slots[i].name, ir_dtype_name(p->slots[i].dtype),
                ir_shape_str(&p->slots[i].shape, shape, sizeof shape));
    }
    for (int i = 0; i < p->nsettings; i++) {
        const ProgSetting *st = &p->settings[i];
        if (st->var < 0)
            fprintf(out, "setting --%s (string, default \"%s\")\n", st->name, st->text);
        else
            fprintf(out, "setting --%s -> $%s\n", st->name, p->vars[st->var].name);
    }
    for (int i = 0; i < p->ndatas; i++)
        fprintf(out, "data%d %d \"%s\"%s\n", i, (int)p->datas[i].kind,
                p->datas[i].path ? p->datas[i].path : "", p->datas[i].test ? " test" : "");
    print_block(out, p, &p->main, 0);
}
