/* sema.c — the checker's entry point: modules, definitions, the script and the train block. */
#include "sema/sema_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- top level --------------------------------------------------------------------------- */

static void declare_global(Checker *c, AstNode *d)
{
    const char *name = d->def.id.name;
    Binding *old = scope_find_local(c->globals, name);
    if (old && c->session && old->value->def && old->value->def->span.file != d->span.file) {
        /* the REPL: a later definition replaces an earlier one (instances keep theirs) */
    } else if (old) {
        sema_error(c, d->def.id.span, "'%s' is defined more than once", name);
        sema_note(c, old->span, "the first definition is here");
        return;
    }
    if (sema_builtin(name)) {
        sema_error(c, d->def.id.span, "'%s' is a built-in function and cannot be redefined", name);
        return;
    }
    Value *v = val_new(c, d->kind == AST_FN ? V_FN : V_DEF);
    v->def = d;
    scope_bind(c, c->globals, name, v, BIND_DEF, d->def.id.span);
}

/* Checks a definition on its own, with its parameters as symbols. */
static void check_definition(Checker *c, AstNode *d)
{
    bool sup = c->suppress;
    sema_lenient = true;
    for (int i = 0; i < d->def.params.len; i++)
        sema_check_type_names(c, c->globals, d->def.params.items[i]->decl.type);
    sema_check_type_names(c, c->globals, d->def.ret);
    if (d->kind == AST_FN) {
        Scope *s = scope_new(c, c->globals, SCOPE_FN);
        for (int i = 0; i < d->def.params.len; i++) {
            AstNode *p = d->def.params.items[i];
            Value *v = p->decl.type ? sema_value_of_type(c, s, p->decl.type, p->decl.id.name)
                       : p->decl.init ? sema_eval(c, c->globals, p->decl.init)
                                      : val_error(c);
            scope_bind(c, s, p->decl.id.name, v, BIND_VAR, p->decl.id.span);
        }
        Exec x = {0};
        c->runtime = false;
        Value *r = sema_exec_block(c, s, d->def.body, &x);
        if (x.flow == FLOW_RETURN)
            r = x.ret;
        if (d->def.ret && r && r->kind != V_ERROR && r->kind != V_VOID) {
            /* Shapes built from symbols may still agree at every call; only kinds are
             * compared here. */
            Value *want = sema_value_of_type(c, s, d->def.ret, "result");
            if (want->kind != V_ERROR && want->kind != r->kind &&
                !(want->kind == V_TENSOR && val_is_numeric(r)) &&
                !(want->kind == V_FLOAT && r->kind == V_INT)) {
                char a[200], b[200];
                sema_error(c, d->def.body->span, "%s returns %s, but its declared type is %s",
                           d->def.id.name, val_type_str(c, r, a, sizeof a),
                           sema_type_text(d->def.ret, b, sizeof b));
            }
        }
    } else {
        /* A layer with symbolic hyper-parameters: defaults stand in where given. */
        int n = d->def.params.len;
        Value **pos = ARENA_NEW_N(c->arena, Value *, n ? n : 1);
        Scope *tmp = scope_new(c, c->globals, SCOPE_FN);
        for (int i = 0; i < n; i++) {
            AstNode *p = d->def.params.items[i];
            pos[i] = p->decl.type ? sema_value_of_type(c, tmp, p->decl.type, p->decl.id.name)
                     : p->decl.init ? sema_eval(c, c->globals, p->decl.init)
                                    : val_error(c);
        }
        Value *inst = sema_instantiate(c, d, d, pos, n, NULL, NULL, 0);
        if (inst->kind == V_INSTANCE && d->def.def_kind == AST_DEF_OPTIMIZER)
            sema_check_update(c, inst->inst, d->def.id.span);
        if (inst->kind == V_INSTANCE && d->def.def_kind != AST_DEF_OPTIMIZER) {
            /* every method, with its annotated argument types */
            Scope *members = inst->inst->scope;
            for (int k = 0; k < members->len; k++) {
                Binding *f = &members->items[k];
                if (f->value->kind != V_FN)
                    continue;
                const AstNode *fn = f->value->def;
                int m = fn->def.params.len;
                Value **args = ARENA_NEW_N(c->arena, Value *, m ? m : 1);
                Scope *ts = scope_new(c, inst->inst->scope, SCOPE_FN);
                for (int i = 0; i < m; i++) {
                    AstNode *p = fn->def.params.items[i];
                    args[i] = p->decl.type ? sema_value_of_type(c, ts, p->decl.type, p->decl.id.name)
                                           : val_error(c);
                }
                sema_call_fn(c, fn, inst->inst, (AstNode *)fn, args, m, NULL, NULL, 0);
            }
        }
    }
    c->suppress = sup;
    sema_lenient = false;
}

/* Whether the flag name text[0..len) names setting `name`: '-' and '_' match each other,
 * as in the runtime's flags (--max-epochs sets max_epochs). */
static bool names_setting(const char *text, size_t len, const char *name)
{
    if (strlen(name) != len)
        return false;
    for (size_t k = 0; k < len; k++) {
        char a = text[k] == '-' ? '_' : text[k], b = name[k] == '-' ? '_' : name[k];
        if (a != b)
            return false;
    }
    return true;
}

/* The text the command line gives setting `name` (SemaOptions.setting_args: `--name V` or
 * `--name=V`; the last one counts), or NULL. */
static const char *setting_arg(const Checker *c, const char *name)
{
    const char *found = NULL;
    size_t len = strlen(name);
    for (int i = 0; i < c->opts->nsetting_args; i++) {
        const char *a = c->opts->setting_args[i];
        if (strncmp(a, "--", 2) != 0 || !names_setting(a + 2, strcspn(a + 2, "="), name))
            continue;
        if (a[2 + len] == '=')
            found = a + 3 + len;
        else if (a[2 + len] == '\0' && i + 1 < c->opts->nsetting_args)
            found = c->opts->setting_args[++i];
    }
    return found;
}

/* A setting's value from the command line, parsed as the type of its default `dflt`;
 * NULL when the text does not parse (reported when building an executable). */
static Value *given_setting(Checker *c, const AstNode *p, const Value *dflt, const char *text)
{
    char *end;
    errno = 0;
    if (dflt->kind == V_INT) {
        long long i = strtoll(text, &end, 10);
        /* the program keeps its settings as f64 (prog.h): ints beyond 2^53 would change */
        if (*text && !*end && errno == 0 && i >= -(1LL << 53) && i <= 1LL << 53)
            return val_int(c, i);
        if (*text && !*end && c->opts->strict_setting_args) {
            sema_error(c, p->span, "--%s %s on the command line is out of range (an int setting "
                                   "is at most 2^53 in magnitude)", p->decl.id.name, text);
            return NULL;
        }
    } else if (dflt->kind == V_FLOAT) {
        double f = strtod(text, &end);
        if (*text && !*end && errno == 0 && isfinite(f))
            return val_float(c, f, true);
    } else if (dflt->kind == V_BOOL) {
        if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0)
            return val_bool(c, text[0] == 't', true);
    } else if (dflt->kind == V_STRING) {
        return val_string(c, arena_strndup(c->arena, text, strlen(text)), true);
    }
    if (c->opts->strict_setting_args) {
        char buf[200];
        sema_error(c, p->span, "--%s %s on the command line is not a valid %s", p->decl.id.name,
                   text, val_type_str(c, dflt, buf, sizeof buf));
    }
    return NULL;
}

/* Building an executable: every `--NAME` after `--` must be one of the train block's
 * settings (runtime flags such as --threads are given to the executable itself). */
static void check_setting_args(Checker *c, const AstNode *t)
{
    for (int i = 0; i < c->opts->nsetting_args; i++) {
        const char *a = c->opts->setting_args[i];
        if (strncmp(a, "--", 2) != 0 || !a[2]) {
            sema_error(c, t->def.id.span, "'%s' after -- is not a setting (expected --NAME VALUE "
                                          "or --NAME=VALUE)", a);
            return;
        }
        size_t len = strcspn(a + 2, "=");
        bool known = false;
        for (int k = 0; k < t->def.params.len; k++)
            known |= names_setting(a + 2, len, ((AstNode *)t->def.params.items[k])->decl.id.name);
        if (!known) {
            sema_error(c, t->def.id.span, "the command line sets --%.*s, but this train block has "
                                          "no such setting (a flag of the executable is given to it "
                                          "when it runs)", (int)len, a + 2);
            return;
        }
        if (!a[2 + len] && ++i >= c->opts->nsetting_args) { /* its value */
            sema_error(c, t->def.id.span, "--%s on the command line has no value", a + 2);
            return;
        }
    }
}

static void check_train(Checker *c, AstNode *t)
{
    if (c->prog && c->opts->strict_setting_args)
        check_setting_args(c, t);
    Scope *s = scope_new(c, c->globals, SCOPE_TRAIN);
    for (int i = 0; i < t->def.params.len; i++) {
        AstNode *p = t->def.params.items[i];
        if (!p->decl.init) {
            sema_error(c, p->span, "train settings need a default value: %s = ...",
                       p->decl.id.name);
            continue;
        }
        Value *v = sema_eval(c, c->globals, p->decl.init);
        if (v->kind == V_INT && v->known && (v->i > 1LL << 53 || v->i < -(1LL << 53))) {
            sema_error(c, p->decl.init->span, "an int setting is at most 2^53 in magnitude "
                                              "(the program keeps its settings as f64)");
            v = val_error(c);
        }
        /* compiled with the value nnc's command line gives, if it does */
        const char *text = c->prog ? setting_arg(c, p->decl.id.name) : NULL;
        Value *given = text && v->kind != V_ERROR ? given_setting(c, p, v, text) : NULL;
        if (given)
            v = given;
        /* Settings can be overridden on the command line: their values are not known. */
        if (v->kind == V_INT)
            v = val_int_unknown(c, (Dim){0, sema_symbol(c, p->decl.id.name)});
        else if (v->kind == V_FLOAT || v->kind == V_BOOL || v->kind == V_STRING) {
            v = val_copy(c, v);
            v->known = false;
        } else if (v->kind != V_ERROR) {
            char buf[200];
            sema_error(c, p->decl.init->span, "a train setting must be an int, float, bool or "
                                              "string, found %s", val_type_str(c, v, buf, sizeof buf));
            v = val_error(c);
        }
        if (c->prog && (v->kind == V_INT || v->kind == V_FLOAT || v->kind == V_BOOL)) {
            /* a host variable set from --NAME; i/f keep the default (what shapes use) */
            Value *dflt = given ? given : sema_eval(c, c->globals, p->decl.init);
            int var = prog_add_var(c->prog, p->decl.id.name, v->kind == V_INT);
            double d = dflt->kind == V_INT ? (double)dflt->i : dflt->kind == V_FLOAT ? dflt->f : dflt->b;
            prog_add_setting(c->prog, p->decl.id.name, var, v->kind == V_INT, d);
            c->prog->settings[c->prog->nsettings - 1].is_bool = v->kind == V_BOOL;
            v = val_copy(c, v);
            v->hx = prog_var(c->prog, var);
            v->i = dflt->kind == V_INT ? dflt->i : 0;
            v->f = dflt->kind == V_FLOAT ? dflt->f : 0;
        } else if (c->prog && v->kind == V_STRING) {
            /* read from --NAME where it is used (a file name) */
            v->setting = p->decl.id.name;
            prog_add_string_setting(c->prog, p->decl.id.name, v->s);
        }
        scope_bind(c, s, p->decl.id.name, v, BIND_VAR, p->decl.id.span);
    }
    c->runtime = true;
    Exec x = {0};
    sema_exec_block(c, s, t->def.body, &x);
    c->runtime = false;
    if (c->prog) {
        train_close_region(c);
        train_name_slots(c, s);
    }
}

void sema_check_items(Checker *c, AstNode *program, bool imported)
{
    for (int i = 0; i < program->list.len; i++) {
        AstNode *st = program->list.items[i];
        if (st->kind == AST_FN || st->kind == AST_DEF) {
            c->has_definitions = true;
            check_definition(c, st);
        } else if (imported && st->kind != AST_IMPORT) {
            sema_error(c, st->span, "only definitions and imports may appear at the top level of "
                                    "an imported module");
        }
    }
}

void sema_declare_items(Checker *c, AstNode *program)
{
    for (int i = 0; i < program->list.len; i++) {
        AstNode *st = program->list.items[i];
        if (st->kind == AST_FN || st->kind == AST_DEF)
            declare_global(c, st);
    }
}

SemaResult sema_check(AstNode *program, const SemaOptions *opts, Arena *arena, DiagSink *diags)
{
    Checker c = {.arena = arena, .diags = diags, .opts = opts};
    int before = diags->errors;
    c.globals = scope_new(&c, NULL, SCOPE_GLOBAL);
    /* Imported modules share one namespace with the program: declare everything, then
     * check every definition on its own. */
    sema_load_imports(&c, program);
    for (int m = 0; m < c.modules.len; m++)
        sema_declare_items(&c, c.modules.items[m]);
    sema_declare_items(&c, program);
    for (int m = 0; m < c.modules.len; m++)
        sema_check_items(&c, c.modules.items[m], true);
    sema_check_items(&c, program, false);
    /* The script, then the train block. The script's statements are traced into the
     * program's graph when code is to be generated. */
    Scope *script = scope_new(&c, c.globals, SCOPE_SCRIPT);
    c.graph = opts ? opts->trace : NULL;
    bool has_train = false;
    for (int i = 0; i < program->list.len; i++)
        has_train |= program->list.items[i]->kind == AST_TRAIN;
    if (has_train && c.graph && opts->program) {
        /* a training program: the script runs first, as the program's first region */
        c.prog = prog_new();
        c.epoch_var = -1;
        train_begin(&c);
    }
    for (int i = 0; i < program->list.len; i++) {
        AstNode *st = program->list.items[i];
        switch (st->kind) {
        case AST_FN:
        case AST_DEF:
        case AST_IMPORT: break;
        case AST_TRAIN:
            c.has_definitions = true;
            if (c.train) {
                sema_error(&c, st->span, "a program has at most one train block");
                sema_note(&c, c.train->span, "the first one is here");
                break;
            }
            c.train = st;
            break;
        case AST_PARAM_DECL:
        case AST_STATE_DECL: sema_misplaced(&c, st, "at the top level; it belongs in a layer or model"); break;
        default: {
            Exec x = {0};
            sema_exec_stmt(&c, script, st, &x, false);
            break;
        }
        }
    }
    /* The train block: traced into a program (opts->program) when code is generated. */
    if (c.train && c.prog) {
        check_train(&c, (AstNode *)c.train);
    } else {
        if (c.train && sema_tracing(&c))
            sema_unsupported(&c, c.train->def.id.span, "train blocks here");
        c.graph = NULL;
        if (c.train)
            check_train(&c, (AstNode *)c.train);
    }
    if (c.prog)
        train_check_rows(&c);
    sema_flush_frames(&c);
    SemaResult r = {diags->errors - before, c.has_definitions || c.modules.len > 0,
                    c.nrows_syms > 0, NULL};
    if (c.prog) {
        if (r.errors == 0 && opts->program)
            *opts->program = c.prog;
        else
            prog_free(c.prog);
    }
    util_free(c.slot_loads);
    util_vec_free(&c.stores);
    sema_free_modules(&c);
    util_vec_free(&c.params);
    util_free(c.symbols);
    util_free(c.rows_syms);
    util_free(c.symbol_hash);
    util_free(c.reported);
    util_free(c.cache);
    return r;
}
