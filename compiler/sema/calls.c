/* calls.c — calls of functions, built-ins and definitions; instantiating layers, models and
 * optimizers by running their bodies at compile time (docs/language.md §4, §6.6-6.7). */
#include "sema/sema_internal.h"

#include <stdio.h>
#include <string.h>

struct CacheEntry {
    const AstNode *fn;
    Instance *inst;
    char *key;
    uint64_t hash;     /* of key, compared first */
    Value *result;
};

static uint64_t key_hash(const char *key)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

/* ---- calls ---------------------------------------------------------------------------------- */

bool sema_bind_args(Checker *c, AstNode *call, const char *what, const char *const *params,
                    int nparams, int required, Span def, Value **pos, int npos,
                    const AstIdent *kw_names, Value **kw, int nkw, Value **out, int *from)
{
    bool ok = true;
    for (int p = 0; p < nparams; p++) {
        out[p] = NULL;
        if (from)
            from[p] = -1;
    }
    if (npos > nparams) {
        sema_error(c, call->span, "%s takes %s%d argument%s, but %d were given", what,
                   required < nparams ? "at most " : "", nparams, nparams == 1 ? "" : "s", npos);
        if (def.file)
            sema_note(c, def, "%s is defined here", what);
        return false;
    }
    for (int i = 0; i < npos; i++) {
        out[i] = pos[i];
        if (from)
            from[i] = i;
    }
    for (int k = 0; k < nkw; k++) {
        int slot = -1;
        for (int p = 0; p < nparams; p++)
            if (!strcmp(params[p], kw_names[k].name))
                slot = p;
        if (slot < 0) {
            sema_error(c, kw_names[k].span, "%s has no parameter named '%s'", what, kw_names[k].name);
            if (def.file)
                sema_note(c, def, "%s is defined here", what);
            ok = false;
            continue;
        }
        if (out[slot]) {
            sema_error(c, kw_names[k].span, "argument '%s' is given more than once",
                       kw_names[k].name);
            ok = false;
            continue;
        }
        out[slot] = kw[k];
        if (from)
            from[slot] = npos + k;
    }
    for (int p = 0; ok && p < required; p++)
        if (!out[p]) {
            sema_error(c, call->span, "%s is missing the argument '%s'", what, params[p]);
            if (def.file)
                sema_note(c, def, "%s is defined here", what);
            ok = false;
        }
    return ok;
}

/* What a call's result depends on, as text: known constants by value (lists and tuples item
 * by item, so glorot_uniform([4, 3]) and glorot_uniform([6, 5]) differ), instances by
 * identity, everything else by type. */
static size_t describe(Checker *c, const Value *v, char *buf, size_t n, size_t at)
{
    if (at >= n)
        return at;
    if (!v)
        return at + (size_t)snprintf(buf + at, n - at, "-");
    switch (v->kind) {
    case V_INT:
        if (v->known)
            return at + (size_t)snprintf(buf + at, n - at, "%lld", (long long)v->i);
        break;
    case V_FLOAT:
        if (v->known)
            return at + (size_t)snprintf(buf + at, n - at, "%.17g", v->f);
        break;
    case V_BOOL:
        if (v->known)
            return at + (size_t)snprintf(buf + at, n - at, v->b ? "true" : "false");
        break;
    case V_STRING:
        if (v->known)
            return at + (size_t)snprintf(buf + at, n - at, "\"%s\"", v->s);
        break;
    case V_INSTANCE: return at + (size_t)snprintf(buf + at, n - at, "@%p", (void *)v->inst);
    case V_LIST:
    case V_TUPLE:
        if (v->len >= 0) {
            at += (size_t)snprintf(buf + at, n - at, v->kind == V_LIST ? "[" : "(");
            for (int i = 0; i < v->len && at < n; i++) {
                if (i)
                    at += (size_t)snprintf(buf + at, n - at, ",");
                at = describe(c, v->items[i], buf, n, at);
            }
            return at < n ? at + (size_t)snprintf(buf + at, n - at, v->kind == V_LIST ? "]" : ")") : at;
        }
        break;
    default: break;
    }
    char t[512];
    val_type_str(c, v, t, sizeof t);
    return at + (size_t)snprintf(buf + at, n - at, "%s", t);
}

static char *signature_key(Checker *c, Value **args, int n)
{
    char buf[4096];
    size_t at = (size_t)snprintf(buf, sizeof buf, "%s", sema_lenient ? "generic;" : "");
    for (int i = 0; i < n && at < sizeof buf - 1; i++) {
        at = describe(c, args[i], buf, sizeof buf, at);
        if (at < sizeof buf - 1)
            buf[at++] = ';';
    }
    if (at >= sizeof buf)
        at = sizeof buf - 1;
    buf[at] = '\0';
    return arena_strndup(c->arena, buf, at);
}

static Value *cache_find(Checker *c, const AstNode *fn, Instance *inst, const char *key)
{
    uint64_t h = key_hash(key);
    for (int i = c->ncache - 1; i >= 0; i--)
        if (c->cache[i].fn == fn && c->cache[i].inst == inst && c->cache[i].hash == h &&
            !strcmp(c->cache[i].key, key))
            return c->cache[i].result;
    return NULL;
}

static void cache_add(Checker *c, const AstNode *fn, Instance *inst, char *key, Value *result)
{
    if (c->ncache == c->capcache) {
        c->capcache = c->capcache ? c->capcache * 2 : 64;
        c->cache = util_realloc(c->cache, sizeof(CacheEntry) * (size_t)c->capcache);
    }
    c->cache[c->ncache++] = (CacheEntry){fn, inst, key, key_hash(key), result};
}

static const char **param_names(Checker *c, const AstNode *def, int *n, int *required)
{
    const AstList *ps = &def->def.params;
    const char **names = ARENA_NEW_N(c->arena, const char *, ps->len ? ps->len : 1);
    *required = 0;
    for (int i = 0; i < ps->len; i++) {
        names[i] = ps->items[i]->decl.id.name;
        if (!ps->items[i]->decl.init && *required == i)
            *required = i + 1;
    }
    *n = ps->len;
    return names;
}

static const char *qualified(Checker *c, const AstNode *fn, Instance *self)
{
    if (!self)
        return fn->def.id.name;
    char buf[256];
    snprintf(buf, sizeof buf, "%s.%s", self->def->def.id.name, fn->def.id.name);
    return arena_strndup(c->arena, buf, strlen(buf));
}

/* Binds a definition's parameters in `s` from the bound arguments; defaults are evaluated
 * in `defaults` (the definition's own scope). Checks annotations. */
static bool bind_params(Checker *c, Scope *s, Scope *defaults, const AstNode *def, Value **args,
                        int *from, AstNode *call, const char *what, BindKind kind)
{
    bool ok = true;
    const AstList *ps = &def->def.params;
    for (int i = 0; i < ps->len; i++) {
        AstNode *p = ps->items[i];
        Value *v = args[i];
        if (!v)
            v = p->decl.init ? sema_eval(c, defaults, p->decl.init) : val_error(c);
        if (p->decl.type && !sema_match_type(c, s, p->decl.type, v)) {
            char got[200], want[200];
            Span at = call->span;
            if (from && from[i] >= 0 && call->kind == AST_CALL && from[i] < call->call.args.len)
                at = call->call.args.items[from[i]]->span;
            /* Bound dims make the expected type concrete in the message. */
            Value *shown = v->kind == V_LIST && sema_as_tensor(c, v) ? sema_as_tensor(c, v) : v;
            sema_error(c, at, "argument '%s' of %s has type %s, but %s expects %s",
                       p->decl.id.name, what, val_type_str(c, shown, got, sizeof got), what,
                       sema_expected_str(c, s, p->decl.type, want, sizeof want));
            sema_note(c, p->decl.type->span, "parameter '%s' is declared here", p->decl.id.name);
            ok = false;
            v = val_error(c);
        }
        scope_bind(c, s, p->decl.id.name, v, kind, p->decl.id.span);
    }
    return ok;
}

Value *sema_call_fn(Checker *c, const AstNode *fn, Instance *self, AstNode *call, Value **pos,
                    int npos, const AstIdent *kw_names, Value **kw, int nkw)
{
    int nparams, required;
    const char **names = param_names(c, fn, &nparams, &required);
    const char *what = qualified(c, fn, self);
    Value *args[64];
    int from[64];
    if (nparams > 64) {
        sema_error(c, fn->def.id.span, "too many parameters (at most 64)");
        return val_error(c);
    }
    if (!sema_bind_args(c, call, what, names, nparams, required, fn->def.id.span, pos, npos,
                        kw_names, kw, nkw, args, from))
        return val_error(c);
    char *key = signature_key(c, args, nparams);
    /* While tracing, every call is inlined anew: its result's nodes depend on the
     * arguments' nodes, not just their types. */
    Value *cached = sema_tracing(c) ? NULL : cache_find(c, fn, self, key);
    if (cached)
        return cached;
    if (c->nframes >= 48 || ++c->entered > SEMA_MAX_ENTERED || c->arena->total > SEMA_MAX_ARENA) {
        sema_error(c, call->span, "calls nest too deeply (is %s recursive?)", what);
        return val_error(c);
    }
    Scope *defining = self ? self->scope : c->globals;
    Scope *s = scope_new(c, defining, SCOPE_FN);
    /* Arguments are checked at the call itself, so before its frame is pushed. */
    bool bound = bind_params(c, s, defining, fn, args, from, call, what, BIND_VAR);
    sema_push_frame(c, call->span, what);
    Value *result;
    if (!bound) {
        result = val_error(c);
    } else {
        bool was_runtime = c->runtime;
        int loops = c->loop_depth;
        c->runtime = false;
        c->loop_depth = 0;
        Exec x = {0};
        Value *last = sema_exec_block(c, s, fn->def.body, &x);
        result = x.flow == FLOW_RETURN ? (x.ret ? x.ret : val_void(c)) : last;
        c->runtime = was_runtime;
        c->loop_depth = loops;
        if (fn->def.ret && !sema_match_type(c, s, fn->def.ret, result)) {
            char got[200], want[200];
            sema_error(c, fn->def.body->span, "%s returns %s, but its declared type is %s", what,
                       val_type_str(c, result, got, sizeof got),
                       sema_expected_str(c, s, fn->def.ret, want, sizeof want));
            sema_note(c, fn->def.ret->span, "the return type is declared here");
            result = val_error(c);
        }
    }
    sema_pop_frame(c);
    cache_add(c, fn, self, key, result);
    return result;
}


/* Instantiates a layer, model or optimizer: runs its body at compile time. */
Value *sema_instantiate(Checker *c, const AstNode *def, AstNode *call, Value **pos, int npos,
                          const AstIdent *kw_names, Value **kw, int nkw)
{
    int nparams, required;
    const char **names = param_names(c, def, &nparams, &required);
    Value *args[64];
    int from[64];
    if (nparams > 64) {
        sema_error(c, def->def.id.span, "too many parameters (at most 64)");
        return val_error(c);
    }
    if (!sema_bind_args(c, call, def->def.id.name, names, nparams, required, def->def.id.span, pos,
                        npos, kw_names, kw, nkw, args, from))
        return val_error(c);
    Instance *inst = ARENA_NEW(c->arena, Instance);
    inst->def = def;
    inst->created = call->span;
    inst->training = true; /* a new instance trains until net.eval(), as in PyTorch */
    inst->scope = scope_new(c, c->globals, SCOPE_BODY);
    inst->scope->inst = inst;
    if (c->nframes >= 48 || ++c->entered > SEMA_MAX_ENTERED || c->arena->total > SEMA_MAX_ARENA) {
        sema_error(c, call->span, "layers nest too deeply (does %s contain itself?)",
                   def->def.id.name);
        return val_error(c);
    }
    bool ok = bind_params(c, inst->scope, c->globals, def, args, from, call, def->def.id.name,
                          BIND_HYPER);
    sema_push_frame(c, call->span, def->def.id.name);
    bool was_runtime = c->runtime;
    c->runtime = false;
    int loops = c->loop_depth;
    c->loop_depth = 0;
    if (ok)
        for (int i = 0; i < def->def.body->list.len; i++)
            sema_exec_body_stmt(c, inst->scope, def->def.body->list.items[i], inst);
    c->runtime = was_runtime;
    c->loop_depth = loops;
    sema_pop_frame(c);
    if (!ok)
        return val_error(c);
    Value *v = val_new(c, V_INSTANCE);
    v->inst = inst;
    v->origin = call->span;
    return v;
}

Value *sema_call_value(Checker *c, Scope *s, Value *callee, AstNode *call, Value **pos,
                       int npos, const AstIdent *kw_names, Value **kw, int nkw)
{
    char buf[200];
    switch (callee->kind) {
    case V_ERROR: return callee;
    case V_BUILTIN: {
        const Builtin *b = callee->builtin;
        if (!strcmp(b->name, "log") && npos == 0 && nkw > 0 && sema_training(c)) {
            train_log(c, kw_names, kw, nkw, call->span);
            return val_void(c);
        }
        if (!strcmp(b->name, "log") && npos == 0 && nkw > 0) {
            /* log(name = value, ...): a progress line and a metrics row */
            for (int i = 0; i < nkw; i++) {
                Value *v = kw[i];
                bool ok = v->kind == V_ERROR || val_is_numeric(v) || v->kind == V_STRING ||
                          v->kind == V_BOOL || (v->kind == V_TENSOR && (v->rank == 0 || v->rank < 0));
                if (!ok)
                    sema_error(c, kw_names[i].span, "log records numbers, scalar tensors and strings; "
                                                    "'%s' is %s", kw_names[i].name,
                               val_type_str(c, v, buf, sizeof buf));
            }
            if (sema_tracing(c))
                sema_unsupported(c, call->span, "log outside a train block");
            return val_void(c);
        }
        int n = 0;
        while (n < SEMA_MAX_PARAMS && b->params[n])
            n++;
        CallArgs a = {.call = call, .scope = s};
        int from[SEMA_MAX_PARAMS];
        if (!sema_bind_args(c, call, b->name[0] == '.' ? b->name + 1 : b->name, b->params, n,
                            b->required, (Span){0}, pos, npos, kw_names, kw, nkw, a.v, from))
            return val_error(c);
        for (int i = 0; i < n; i++)
            a.e[i] = from[i] >= 0 && call->kind == AST_CALL && from[i] < call->call.args.len
                         ? call->call.args.items[from[i]]->arg.value
                         : NULL;
        if (callee->inst) { /* a built-in method: the instance is the hidden first argument */
            Value *self = val_new(c, V_INSTANCE);
            self->inst = callee->inst;
            a.v[SEMA_MAX_PARAMS - 1] = self;
        }
        Value *r = sema_check_size(c, b->check(c, &a, b), call->span);
        if (sema_tracing(c) && r->kind != V_ERROR) {
            if (!b->trace) {
                char what[96];
                snprintf(what, sizeof what, "'%s'", b->name[0] == '.' ? b->name + 1 : b->name);
                sema_unsupported(c, call->span, what);
                return val_error(c);
            }
            r = b->trace(c, &a, b, r);
        }
        return r;
    }
    case V_FN: return sema_call_fn(c, callee->def, NULL, call, pos, npos, kw_names, kw, nkw);
    case V_METHOD:
        return sema_call_fn(c, callee->def, callee->inst, call, pos, npos, kw_names, kw, nkw);
    case V_DEF: return sema_instantiate(c, callee->def, call, pos, npos, kw_names, kw, nkw);
    case V_INSTANCE: {
        Binding *f = scope_find_local(callee->inst->scope, "forward");
        if (!f || f->value->kind != V_FN) {
            sema_error(c, call->span, "%s '%s' has no forward method, so it cannot be called",
                       ast_def_kind_name(callee->inst->def->def.def_kind),
                       callee->inst->def->def.id.name);
            sema_note(c, callee->inst->def->def.id.span, "'%s' is defined here",
                      callee->inst->def->def.id.name);
            return val_error(c);
        }
        return sema_call_fn(c, f->value->def, callee->inst, call, pos, npos, kw_names, kw, nkw);
    }
    default:
        sema_error(c, call->call.callee->span, "%s is not callable",
                   val_type_str(c, callee, buf, sizeof buf));
        return val_error(c);
    }
}

Value *sema_eval_call(Checker *c, Scope *s, AstNode *e)
{
    AstNode *fe = e->call.callee;
    Value *callee;
    if (fe->kind == AST_NAME && !scope_lookup(s, fe->name) && !sema_builtin(fe->name)) {
        sema_error(c, fe->span, "unknown function '%s'", fe->name);
        callee = val_error(c);
    } else {
        callee = sema_eval(c, s, fe);
    }
    if (fe->kind == AST_NAME && callee->kind != V_ERROR && callee->kind != V_FN &&
        callee->kind != V_DEF && callee->kind != V_BUILTIN && callee->kind != V_INSTANCE &&
        callee->kind != V_METHOD) {
        char buf[200];
        sema_error(c, fe->span, "'%s' is %s, not a function", fe->name,
                   val_type_str(c, callee, buf, sizeof buf));
        callee = val_error(c);
    }
    int n = e->call.args.len;
    Value **pos = ARENA_NEW_N(c->arena, Value *, n ? n : 1);
    Value **kw = ARENA_NEW_N(c->arena, Value *, n ? n : 1);
    AstIdent *names = ARENA_NEW_N(c->arena, AstIdent, n ? n : 1);
    int npos = 0, nkw = 0;
    bool arg_error = false;
    for (int i = 0; i < n; i++) {
        AstNode *a = e->call.args.items[i];
        Value *v = sema_eval(c, s, a->arg.value);
        arg_error |= v->kind == V_ERROR;
        if (!a->arg.key.name) {
            if (nkw) {
                sema_error(c, a->span, "a positional argument cannot follow keyword arguments");
                return val_error(c);
            }
            pos[npos++] = v;
        } else {
            names[nkw] = a->arg.key;
            kw[nkw++] = v;
        }
    }
    if (callee->kind == V_ERROR)
        return callee;
    /* Error arguments flow on silently as error values when checking; traced code stops
     * at the call, as its body could not be compiled with them (its errors would only
     * follow from the one already reported). */
    if (arg_error && sema_tracing(c))
        return val_error(c);
    return sema_call_value(c, s, callee, e, pos, npos, names, kw, nkw);
}

/* Is v a number or a nest of numbers that are all ints? */
static bool int_literal(const Value *v)
{
    if (v->kind == V_LIST) {
        for (int i = 0; i < v->len; i++)
            if (!int_literal(v->items[i]))
                return false;
        return v->len >= 0;
    }
    return v->kind == V_INT;
}

void sema_exec_body_stmt(Checker *c, Scope *s, AstNode *st, Instance *inst)
{
    bool optimizer = inst->def->def.def_kind == AST_DEF_OPTIMIZER;
    switch (st->kind) {
    case AST_PARAM_DECL:
    case AST_STATE_DECL: {
        if (optimizer && st->kind == AST_PARAM_DECL) {
            sema_misplaced(c, st, "in an optimizer; use 'state' for per-parameter values");
            return;
        }
        if (scope_find_local(s, st->decl.id.name)) {
            Binding *old = scope_find_local(s, st->decl.id.name);
            sema_error(c, st->decl.id.span, "'%s' is already defined in this %s", st->decl.id.name,
                       ast_def_kind_name(inst->def->def.def_kind));
            sema_note(c, old->span, "the first definition is here");
            return;
        }
        if (optimizer) { /* per-parameter state: checked when the update is checked */
            scope_bind(c, s, st->decl.id.name, val_tensor(c, DT_F32, -1, NULL), BIND_STATE,
                       st->decl.id.span);
            return;
        }
        if (st->kind == AST_PARAM_DECL && st->decl.type->kind != AST_TYPE_TENSOR) {
            sema_error(c, st->decl.type->span, "a parameter must have a tensor type such as "
                                               "f32[n_out, n_in]");
            return;
        }
        if (st->kind == AST_PARAM_DECL && st->decl.type->tensor.dtype.name &&
            !strcmp(st->decl.type->tensor.dtype.name, "i32")) { /* unknown names: below */
            sema_error(c, st->decl.type->tensor.dtype.span, "a parameter must be f32 (gradients "
                                                            "train it), not %s",
                       st->decl.type->tensor.dtype.name);
            scope_bind(c, s, st->decl.id.name, val_error(c), BIND_PARAM, st->decl.id.span);
            return;
        }
        int before = c->diags->errors;
        sema_check_type_names(c, s, st->decl.type);
        Value *declared = st->decl.type ? sema_value_of_type(c, s, st->decl.type, st->decl.id.name) : NULL;
        if (c->diags->errors > before || (declared && declared->kind == V_ERROR)) {
            /* the annotation is wrong: its initializer would only add follow-on errors */
            scope_bind(c, s, st->decl.id.name, val_error(c),
                       st->kind == AST_PARAM_DECL ? BIND_PARAM : BIND_STATE, st->decl.id.span);
            return;
        }
        Value *init = NULL;
        AstNode *ie = st->decl.init;
        /* An initializer call gets the declared shape as its first argument. */
        if (ie->kind == AST_CALL && ie->call.callee->kind == AST_NAME && declared &&
            declared->kind == V_TENSOR) {
            Binding *fb = scope_lookup(s, ie->call.callee->name);
            const Builtin *bb = fb ? NULL : sema_builtin(ie->call.callee->name);
            const char *first = fb && fb->value->kind == V_FN && fb->value->def->def.params.len
                                    ? fb->value->def->def.params.items[0]->decl.id.name
                                : bb ? bb->params[0]
                                     : NULL;
            /* The shape is passed unless the call names it itself: with `shape =`, or with
             * as many positional arguments as the initializer requires (zeros([n, m])). */
            int required = 0, npositional = 0;
            bool shape_given = false;
            if (fb && fb->value->kind == V_FN) {
                const AstList *ps = &fb->value->def->def.params;
                while (required < ps->len && !ps->items[required]->decl.init)
                    required++;
            } else if (bb) {
                required = bb->required;
            }
            for (int i = 0; i < ie->call.args.len; i++) {
                const char *k = ie->call.args.items[i]->arg.key.name;
                npositional += !k;
                shape_given |= k && !strcmp(k, "shape");
            }
            shape_given |= npositional >= required;
            if (first && !strcmp(first, "shape") && !shape_given) {
                int n = ie->call.args.len;
                Value **pos = ARENA_NEW_N(c->arena, Value *, n + 1);
                Value **kw = ARENA_NEW_N(c->arena, Value *, n + 1);
                AstIdent *names = ARENA_NEW_N(c->arena, AstIdent, n + 1);
                Value *dims[IR_MAX_RANK];
                for (int i = 0; i < declared->rank; i++)
                    dims[i] = val_int_unknown(c, declared->dims[i]);
                Value *shape = val_new(c, V_LIST);
                shape->len = declared->rank;
                shape->items = ARENA_NEW_N(c->arena, Value *, declared->rank + 1);
                for (int i = 0; i < declared->rank; i++)
                    shape->items[i] = dims[i];
                int npos = 0, nkw = 0;
                pos[npos++] = shape;
                for (int i = 0; i < n; i++) {
                    AstNode *a = ie->call.args.items[i];
                    Value *v = sema_eval(c, s, a->arg.value);
                    if (a->arg.key.name) {
                        names[nkw] = a->arg.key;
                        kw[nkw++] = v;
                    } else
                        pos[npos++] = v;
                }
                Value *callee = sema_eval(c, s, ie->call.callee);
                /* The shape argument stands at the declared type, so messages about the
                 * other arguments still point at them. */
                AstNode *call = ast_call(c->arena, ie->span, ie->call.callee,
                                         ast_list_one(c->arena, ast_arg(c->arena, st->decl.type->span,
                                                                        ast_no_ident(), st->decl.type)));
                for (int i = 0; i < n; i++)
                    call->call.args = ast_list_append(c->arena, call->call.args, ie->call.args.items[i]);
                init = sema_call_value(c, s, callee, call, pos, npos, names, kw, nkw);
            }
        }
        if (!init)
            init = sema_eval(c, s, ie);
        Value *v = declared ? declared : sema_need_tensor(c, init, ie->span);
        if (declared && init->kind != V_ERROR) {
            Value *t = sema_as_tensor(c, init);
            int r;
            Dim out[IR_MAX_RANK];
            bool ok = t && (t->rank < 0 || declared->rank < 0 ||
                            (sema_broadcast(t->rank, t->dims, declared->rank, declared->dims, &r, out) &&
                             r == declared->rank));
            if (ok && t->rank >= 0 && declared->rank >= 0)
                for (int i = 0; i < r; i++)
                    ok &= dim_eq(out[i], declared->dims[i]);
            /* the element type too: a tensor's must be the declared one; a literal (numbers
             * written out) takes it, if it is ints where i32 is declared */
            if (ok && declared->kind == V_TENSOR)
                ok = init->kind == V_TENSOR ? t->dtype == declared->dtype
                                            : declared->dtype != DT_I32 || int_literal(init);
            if (!ok) {
                char a[200], b[200];
                sema_error(c, ie->span, "the initial value has type %s, but '%s' is declared %s",
                           val_type_str(c, init, a, sizeof a), st->decl.id.name,
                           val_type_str(c, declared, b, sizeof b));
            }
        }
        v = val_copy(c, v);
        v->origin = st->span;
        if (sema_tracing(c) && init->kind != V_ERROR && v->kind == V_TENSOR) {
            /* the parameter's value is its initializer's, stretched to the declared shape */
            IrNode *n = sema_node(c, init, ie->span);
            IrShape shape;
            IrDType dtype = v->dtype == DT_I32 ? IR_I32 : IR_F32;
            if (n && n->dtype != dtype) /* a literal of ints, declared i32 (checked above) */
                n = ir_cast(c->graph, ie->span, n, dtype);
            if (n && sema_ir_shape(c, v, st->span, &shape) && !ir_shape_eq(&n->shape, &shape)) {
                IrNode proto = {.shape = shape};
                n = sema_trace_op(c, ie->span, IR_OP_BROADCAST, &n, 1, &proto);
            }
            v->node = n;
            v->region = c->region;
            if (!n)
                v = val_error(c);
            else if (c->prog)
                v = train_declare_slot(c, v, st->decl.id.name);
            if (n && st->kind == AST_PARAM_DECL) {
                ParamRef *ref = ARENA_NEW(c->arena, ParamRef);
                *ref = (ParamRef){s, st->decl.id.name};
                util_vec_push(&c->params, ref);
            }
        }
        scope_bind(c, s, st->decl.id.name, v, st->kind == AST_PARAM_DECL ? BIND_PARAM : BIND_STATE,
                   st->decl.id.span);
        return;
    }
    case AST_FN: {
        Binding *old = scope_find_local(s, st->def.id.name);
        if (old) {
            sema_error(c, st->def.id.span, "'%s' is already defined in this %s", st->def.id.name,
                       ast_def_kind_name(inst->def->def.def_kind));
            sema_note(c, old->span, "the first definition is here");
            return;
        }
        Value *f = val_new(c, V_FN);
        f->def = st;
        scope_bind(c, s, st->def.id.name, f, BIND_HYPER, st->def.id.span);
        return;
    }
    case AST_ASSIGN:
        if (optimizer) {
            Exec x = {0};
            sema_exec_stmt(c, s, st, &x, false);
            return;
        }
        /* fallthrough */
    default: {
        Exec x = {0};
        sema_exec_stmt(c, s, st, &x, false);
        return;
    }
    }
}

/* ---- optimizers --------------------------------------------------------------------------- */

/* opt.step(loss): checks the optimizer's state initializers and update once per instance,
 * with a parameter of unknown shape. */
void sema_check_update(Checker *c, Instance *inst, Span at)
{
    if (inst->optimizer_checked)
        return;
    inst->optimizer_checked = true;
    const AstNode *def = inst->def;
    Binding *upd = scope_find_local(inst->scope, "update");
    if (!upd || upd->value->kind != V_FN) {
        /* reported once, on the definition */
        sema_error(c, def->def.id.span, "optimizer '%s' has no update function (fn update(p, g))",
                   def->def.id.name);
        return;
    }
    sema_push_frame(c, at, def->def.id.name);
    bool was = c->in_update;
    c->in_update = true;
    /* A check with a parameter of unknown shape: nothing here is traced (tracing runs the
     * update once per real parameter, sema_trace_step). */
    IrGraph *graph = c->graph;
    c->graph = NULL;
    Scope *s = scope_new(c, inst->scope, SCOPE_FN);
    Value *p = val_tensor(c, DT_F32, -1, NULL);
    scope_bind(c, s, "p", p, BIND_VAR, def->def.id.span);
    for (int i = 0; i < def->def.body->list.len; i++) {
        AstNode *st = def->def.body->list.items[i];
        if (st->kind != AST_STATE_DECL)
            continue;
        Value *init = sema_eval(c, s, st->decl.init);
        if (init->kind != V_ERROR && !sema_as_tensor(c, init)) {
            char buf[200];
            sema_error(c, st->decl.init->span, "optimizer state must be a tensor, found %s",
                       val_type_str(c, init, buf, sizeof buf));
        }
    }
    const AstNode *fn = upd->value->def;
    if (fn->def.params.len != 2)
        sema_error(c, fn->def.id.span, "an optimizer's update takes two parameters, (p, g)");
    Value *pos[2] = {p, val_tensor(c, DT_F32, -1, NULL)};
    sema_call_fn(c, fn, inst, (AstNode *)fn, pos, fn->def.params.len < 2 ? fn->def.params.len : 2,
                 NULL, NULL, 0);
    c->graph = graph;
    c->in_update = was;
    sema_pop_frame(c);
}
