/* session.c — the checker kept alive across the entries of a REPL session (sema.h).
 *
 * The state an entry sees is a set of checker objects: the globals (definitions), the
 * script scope (variables), the instances and optimizer states they reach, and the list of
 * declared parameters. It lives in one arena. An entry starts by copying it into a fresh
 * arena and works on the copy; committing keeps the copy and frees the old arena,
 * aborting frees the copy. The copy takes only what the state reaches, so values that were
 * replaced, entries whose text nothing refers to any more and slots no value uses are freed
 * on the way: a copying collector, run once per entry, over a state that is small (tensor
 * data lives in slots, outside the arena).
 *
 * Tensors cross entries in slots: after an entry is traced, every tensor the state reaches
 * that this entry computed gets a new slot and a SLOT_STORE; in later entries such a value
 * (Value.has_slot) is read with a SLOT_LOAD (session_node), one per slot and entry.
 * Definitions are AST nodes of the entry that made them; that entry's text and AST stay
 * while anything refers to them. */
#include "parse/parse.h"
#include "sema/sema_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a pointer map (open addressing) ------------------------------------------------------ */

typedef struct PtrMap {
    const void **keys;
    void **vals;
    size_t cap, len;
} PtrMap;

static size_t ptr_hash(const void *p, size_t mask)
{
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 17) & mask;
}

static void *map_get(const PtrMap *m, const void *k)
{
    if (!m->cap)
        return NULL;
    for (size_t i = ptr_hash(k, m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == k)
            return m->vals[i];
        if (!m->keys[i])
            return NULL;
    }
}

static void map_put(PtrMap *m, const void *k, void *v)
{
    if (2 * (m->len + 1) > m->cap) {
        PtrMap bigger = {.cap = m->cap ? 2 * m->cap : 256};
        bigger.keys = util_malloc(sizeof(void *) * bigger.cap);
        bigger.vals = util_malloc(sizeof(void *) * bigger.cap);
        memset(bigger.keys, 0, sizeof(void *) * bigger.cap);
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i])
                map_put(&bigger, m->keys[i], m->vals[i]);
        util_free(m->keys);
        util_free(m->vals);
        *m = bigger;
    }
    size_t i = ptr_hash(k, m->cap - 1);
    while (m->keys[i] && m->keys[i] != k)
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i])
        m->len++;
    m->keys[i] = k;
    m->vals[i] = v;
}

static void map_free(PtrMap *m)
{
    util_free(m->keys);
    util_free(m->vals);
    *m = (PtrMap){0};
}

/* ---- the session ------------------------------------------------------------------------- */

/* One entry's text and AST, kept while the state refers to them. */
typedef struct Entry {
    SourceFile file;
    Arena ast;
    bool marked;
} Entry;

/* One state: the arena and the roots in it. */
typedef struct State {
    Arena *arena;
    Scope *globals, *script;
    PtrVec params;          /* ParamRef *, as Checker.params */
} State;

struct SemaSession {
    Checker c;
    SemaOptions opts;
    DiagSink *diags;
    Arena modules;          /* imported modules' files and ASTs */
    State committed, work;
    uint64_t rng_counter;   /* committed Checker.rng_counter */
    PtrVec entries;         /* Entry *, alive */
    Entry *current;
    SemaSlot *slots;
    bool *slot_live;        /* referred to by the committed or working state */
    int nslots, capslots;
    int nmodules, npaths;   /* modules loaded before the current entry */
    bool active;            /* between sema_session_begin and sema_session_end */
};

static Arena *arena_new_heap(void)
{
    Arena *a = util_malloc(sizeof *a);
    arena_init(a);
    return a;
}

static void arena_free_heap(Arena *a)
{
    if (a) {
        arena_free(a);
        util_free(a);
    }
}

SemaSession *sema_session_new(const char *stdlib_dir, const char *search_path, DiagSink *diags)
{
    SemaSession *s = util_malloc(sizeof *s);
    *s = (SemaSession){.opts = {stdlib_dir, search_path, NULL, NULL}, .diags = diags};
    arena_init(&s->modules);
    s->committed.arena = arena_new_heap();
    Checker *c = &s->c;
    *c = (Checker){.arena = s->committed.arena, .diags = diags, .opts = &s->opts,
                   .module_arena = &s->modules, .session = s, .epoch_var = -1};
    s->committed.globals = scope_new(c, NULL, SCOPE_GLOBAL);
    s->committed.script = scope_new(c, s->committed.globals, SCOPE_SCRIPT);
    return s;
}

static void entry_free(Entry *en)
{
    arena_free(&en->ast);
    util_free((void *)en->file.text);
    util_free((void *)en->file.name);
    util_free(en);
}

void sema_session_free(SemaSession *s)
{
    if (!s)
        return;
    Checker *c = &s->c;
    arena_free_heap(s->committed.arena);
    util_vec_free(&s->committed.params);
    for (int i = 0; i < s->entries.len; i++)
        entry_free(s->entries.items[i]);
    util_vec_free(&s->entries);
    for (int i = 0; i < s->nslots; i++)
        free(s->slots[i].data);
    util_free(s->slots);
    util_free(s->slot_live);
    util_free(c->slot_loads);
    sema_free_modules(c);
    util_free(c->symbols);
    util_free(c->symbol_hash);
    util_free(c->reported);
    util_free(c->cache);
    arena_free(&s->modules);
    util_free(s);
}

SemaSlot *sema_session_slots(SemaSession *s, int *count)
{
    *count = s->nslots;
    return s->slots;
}

static int slot_new(SemaSession *s, IrDType dtype, const IrShape *shape)
{
    int k = 0;
    while (k < s->nslots && s->slot_live[k])
        k++;
    if (k == s->nslots) {
        if (s->nslots == s->capslots) {
            s->capslots = s->capslots ? 2 * s->capslots : 16;
            s->slots = util_realloc(s->slots, sizeof(SemaSlot) * (size_t)s->capslots);
            s->slot_live = util_realloc(s->slot_live, sizeof(bool) * (size_t)s->capslots);
        }
        s->nslots++;
    } else {
        free(s->slots[k].data);
    }
    /* its data is allocated when the entry has run (sema_session_fill) */
    s->slots[k] = (SemaSlot){dtype, *shape, NULL};
    s->slot_live[k] = true;
    return k;
}

bool sema_session_fill(SemaSession *s, const SemaEntry *e, const char *from,
                       const int64_t *offsets)
{
    for (int i = 0; i < e->nnew; i++) {
        SemaSlot *sl = &s->slots[e->new_slots[i]];
        /* compiled kernels take their operands 64-byte aligned (codegen/emit.c) */
        size_t bytes = (size_t)(ir_shape_numel(&sl->shape) * 4);
        size_t size = (bytes + 63) / 64 * 64;
        sl->data = aligned_alloc(64, size ? size : 64);
        if (!sl->data) {
            fprintf(stderr, "nnc: out of memory (%zu bytes)\n", size);
            return false;
        }
        memcpy(sl->data, from + offsets[i], bytes);
        memset((char *)sl->data + bytes, 0, (size ? size : 64) - bytes);
    }
    return true;
}

/* ---- copying the state -------------------------------------------------------------------- */

typedef struct Copier {
    SemaSession *s;
    Arena *to;
    PtrMap memo;      /* old object -> its copy */
    PtrMap entry_of;  /* SourceFile * -> Entry * */
    PtrVec with_states; /* instances (originals) whose optimizer states are still to copy */
} Copier;

static Value *copy_value(Copier *k, const Value *v);
static Scope *copy_scope(Copier *k, const Scope *sc);

static void mark_file(Copier *k, const SourceFile *f)
{
    Entry *en = f ? map_get(&k->entry_of, f) : NULL;
    if (en)
        en->marked = true;
}

static Span copy_span(Copier *k, Span sp)
{
    mark_file(k, sp.file);
    return sp;
}

static const char *copy_str(Copier *k, const char *str)
{
    return str ? arena_strndup(k->to, str, strlen(str)) : NULL;
}

static const AstNode *keep_ast(Copier *k, const AstNode *n)
{
    if (n)
        mark_file(k, n->span.file);
    return n;
}

static ParamRef *copy_ref(Copier *k, const ParamRef *r)
{
    ParamRef *n = map_get(&k->memo, r);
    if (n)
        return n;
    n = ARENA_NEW(k->to, ParamRef);
    map_put(&k->memo, r, n);
    n->scope = copy_scope(k, r->scope);
    n->name = copy_str(k, r->name);
    return n;
}

static Instance *copy_inst(Copier *k, const Instance *in)
{
    if (!in)
        return NULL;
    Instance *n = map_get(&k->memo, in);
    if (n)
        return n;
    n = ARENA_NEW(k->to, Instance);
    map_put(&k->memo, in, n);
    *n = *in;
    n->def = keep_ast(k, in->def);
    n->created = copy_span(k, in->created);
    n->scope = copy_scope(k, in->scope);
    /* optimizer state: copied once the roots are (copy_states) */
    n->nstates = n->capstates = 0;
    n->state_params = NULL;
    n->state_scopes = NULL;
    if (in->nstates)
        util_vec_push(&k->with_states, (void *)in);
    return n;
}

/* The optimizer states of the copied instances, for the parameters the copy reaches: an
 * optimizer does not keep a replaced model's parameters alive. A state may reach more
 * instances (and their states), so this runs until nothing new turns up. */
static void copy_states(Copier *k)
{
    for (int done = 0; done < k->with_states.len; done++) {
        const Instance *in = k->with_states.items[done];
        Instance *n = map_get(&k->memo, in);
        n->state_params = ARENA_NEW_N(k->to, ParamRef *, in->nstates + 1);
        n->state_scopes = ARENA_NEW_N(k->to, Scope *, in->nstates + 1);
        for (int i = 0; i < in->nstates; i++) {
            if (!map_get(&k->memo, in->state_params[i]->scope))
                continue;
            n->state_params[n->nstates] = copy_ref(k, in->state_params[i]);
            n->state_scopes[n->nstates++] = copy_scope(k, in->state_scopes[i]);
        }
        n->capstates = n->nstates;
    }
}

static Scope *copy_scope(Copier *k, const Scope *sc)
{
    if (!sc)
        return NULL;
    Scope *n = map_get(&k->memo, sc);
    if (n)
        return n;
    n = ARENA_NEW(k->to, Scope);
    map_put(&k->memo, sc, n);
    n->kind = sc->kind;
    n->parent = copy_scope(k, sc->parent);
    n->inst = copy_inst(k, sc->inst);
    n->len = n->cap = sc->len;
    n->items = ARENA_NEW_N(k->to, Binding, sc->len + 1);
    for (int i = 0; i < sc->len; i++) {
        const Binding *b = &sc->items[i];
        n->items[i] = (Binding){copy_str(k, b->name), copy_value(k, b->value), b->kind,
                                copy_span(k, b->span)};
    }
    if (sc->index)
        scope_reindex(&k->s->c, n);
    return n;
}

static Value *copy_value(Copier *k, const Value *v)
{
    if (!v)
        return NULL;
    Value *n = map_get(&k->memo, v);
    if (n)
        return n;
    n = ARENA_NEW(k->to, Value);
    map_put(&k->memo, v, n);
    *n = *v;
    n->node = NULL;   /* its graph is gone; a tensor's data is in its slot */
    n->hx = NULL;
    n->s = copy_str(k, v->s);
    n->setting = copy_str(k, v->setting);
    n->origin = copy_span(k, v->origin);
    n->def = keep_ast(k, v->def);
    n->inst = copy_inst(k, v->inst);
    if (v->items) {
        n->items = ARENA_NEW_N(k->to, Value *, v->len + 1);
        for (int i = 0; i < v->len; i++)
            n->items[i] = copy_value(k, v->items[i]);
    }
    n->elem = copy_value(k, v->elem);
    n->lo = copy_value(k, v->lo);
    n->hi = copy_value(k, v->hi);
    n->x = copy_value(k, v->x);
    n->y = copy_value(k, v->y);
    if (v->data) {
        DataRef *d = ARENA_NEW(k->to, DataRef);
        *d = *v->data;
        d->source.path = copy_str(k, v->data->source.path);
        d->source.path2 = copy_str(k, v->data->source.path2);
        for (int i = 0; i < d->nmaps; i++)
            keep_ast(k, d->maps[i]);
        d->seed = NULL;
        n->data = d;
    }
    if (v->kind == V_TENSOR && v->has_slot && v->slot < k->s->nslots)
        k->s->slot_live[v->slot] = true;
    return n;
}

/* Copies `from` into a new arena as `to`, marking the entries and slots it refers to. */
static void copy_state(SemaSession *s, const State *from, State *to)
{
    Copier k = {.s = s, .to = arena_new_heap()};
    for (int i = 0; i < s->entries.len; i++) {
        Entry *en = s->entries.items[i];
        en->marked = en == s->current;
        map_put(&k.entry_of, &en->file, en);
    }
    if (s->nslots)
        memset(s->slot_live, 0, sizeof(bool) * (size_t)s->nslots);
    Arena *was = s->c.arena;
    s->c.arena = k.to;   /* scope_reindex allocates in the checker's arena */
    *to = (State){.arena = k.to};
    to->globals = copy_scope(&k, from->globals);
    to->script = copy_scope(&k, from->script);
    copy_states(&k);
    /* parameters of instances the state no longer reaches are dropped */
    for (int i = 0; i < from->params.len; i++) {
        ParamRef *r = from->params.items[i];
        if (map_get(&k.memo, r->scope))
            util_vec_push(&to->params, copy_ref(&k, r));
    }
    s->c.arena = was;
    util_vec_free(&k.with_states);
    map_free(&k.memo);
    map_free(&k.entry_of);
}

/* Frees the entries and the slots' data the last copy did not mark. */
static void sweep(SemaSession *s)
{
    for (int i = 0; i < s->nslots; i++)
        if (!s->slot_live[i]) {
            free(s->slots[i].data);
            s->slots[i].data = NULL;
        }
    int kept = 0;
    for (int i = 0; i < s->entries.len; i++) {
        Entry *en = s->entries.items[i];
        if (en->marked)
            s->entries.items[kept++] = en;
        else
            entry_free(en);
    }
    s->entries.len = kept;
}

/* ---- tensors of an entry into slots ------------------------------------------------------- */

typedef struct Capture {
    Checker *c;
    PtrMap seen;      /* values, scopes and instances visited */
    PtrMap slot_of;   /* node -> slot + 1 */
    PtrVec news;      /* new slots, as (void *)(intptr_t)(k + 1) */
} Capture;

static void capture_scope(Capture *p, Scope *sc);
static void capture_inst(Capture *p, Instance *in);

static void capture_value(Capture *p, Value *v)
{
    if (!v || map_get(&p->seen, v))
        return;
    map_put(&p->seen, v, v);
    Checker *c = p->c;
    if (v->kind == V_TENSOR && v->node && v->region == c->region) {
        intptr_t k = (intptr_t)map_get(&p->slot_of, v->node) - 1;
        if (k < 0) {
            k = slot_new(c->session, v->node->dtype, &v->node->shape);
            ir_slot_store(c->graph, v->node->span, (int)k, v->node);
            map_put(&p->slot_of, v->node, (void *)(k + 1));
            util_vec_push(&p->news, (void *)(k + 1));
        }
        v->has_slot = true;
        v->slot = (int)k;
    }
    for (int i = 0; v->items && i < v->len; i++)
        capture_value(p, v->items[i]);
    capture_value(p, v->elem);
    capture_value(p, v->x);
    capture_value(p, v->y);
    capture_inst(p, v->inst);
}

static void capture_inst(Capture *p, Instance *in)
{
    if (!in || map_get(&p->seen, in))
        return;
    map_put(&p->seen, in, in);
    capture_scope(p, in->scope);
    for (int i = 0; i < in->nstates; i++)
        capture_scope(p, in->state_scopes[i]);
}

static void capture_scope(Capture *p, Scope *sc)
{
    for (; sc && !map_get(&p->seen, sc); sc = sc->parent) {
        map_put(&p->seen, sc, sc);
        for (int i = 0; i < sc->len; i++)
            capture_value(p, sc->items[i].value);
        capture_inst(p, sc->inst);
    }
}

static void capture(SemaSession *s, SemaEntry *e)
{
    Capture p = {.c = &s->c};
    capture_scope(&p, s->work.script);
    e->new_slots = util_malloc(sizeof(int) * (size_t)(p.news.len + 1));
    e->nnew = p.news.len; /* after the allocation: an entry abandoned in it has none */
    for (int i = 0; i < p.news.len; i++)
        e->new_slots[i] = (int)(intptr_t)p.news.items[i] - 1;
    util_vec_free(&p.news);
    map_free(&p.seen);
    map_free(&p.slot_of);
}

IrNode *session_node(Checker *c, const Value *v, Span at)
{
    SemaSession *s = c->session;
    if (!c->graph || v->slot < 0 || v->slot >= c->nslot_loads)
        return NULL;
    if (!c->slot_loads[v->slot]) {
        SemaSlot *sl = &s->slots[v->slot];
        c->slot_loads[v->slot] = ir_slot_load(c->graph, at, v->slot, sl->dtype, &sl->shape);
    }
    return c->slot_loads[v->slot];
}

/* ---- showing values ----------------------------------------------------------------------- */

static void append(char **buf, size_t *len, size_t *cap, const char *text)
{
    size_t n = strlen(text);
    if (*len + n + 1 > *cap) {
        *cap = 2 * (*len + n + 1);
        *buf = util_realloc(*buf, *cap);
    }
    memcpy(*buf + *len, text, n + 1);
    *len += n;
}

/* "  fc1.w  f32[784, 512]" for every parameter under an instance, depth first. */
static void list_params(Checker *c, const Instance *in, const char *prefix, char **buf,
                        size_t *len, size_t *cap, int depth)
{
    for (int i = 0; depth < 16 && i < in->scope->len; i++) {
        const Binding *b = &in->scope->items[i];
        char path[512], type[256], line[1024];
        snprintf(path, sizeof path, "%s%s", prefix, b->name);
        if (b->kind == BIND_PARAM || b->kind == BIND_STATE) {
            snprintf(line, sizeof line, "\n  %-20s %s%s", path,
                     val_type_str(c, b->value, type, sizeof type),
                     b->kind == BIND_STATE ? "  (state)" : "");
            append(buf, len, cap, line);
        } else if (b->value->kind == V_INSTANCE && b->value->inst != in) {
            char sub[520];
            snprintf(sub, sizeof sub, "%s.", path);
            list_params(c, b->value->inst, sub, buf, len, cap, depth + 1);
        } else if (b->value->kind == V_LIST) {
            for (int j = 0; j < b->value->len; j++)
                if (b->value->items[j]->kind == V_INSTANCE) {
                    char sub[540];
                    snprintf(sub, sizeof sub, "%s[%d].", path, j);
                    list_params(c, b->value->items[j]->inst, sub, buf, len, cap, depth + 1);
                }
        }
    }
}

/* A value the graph does not print, in words. */
static char *show(Checker *c, const Value *v)
{
    char text[512];
    switch (v->kind) {
    case V_INT: snprintf(text, sizeof text, "%lld", (long long)v->i); break;
    case V_FLOAT: snprintf(text, sizeof text, "%.6g", v->f); break;
    case V_BOOL: snprintf(text, sizeof text, "%s", v->b ? "true" : "false"); break;
    case V_STRING: snprintf(text, sizeof text, "\"%s\"", v->s ? v->s : ""); break;
    case V_FN:
    case V_DEF:
        snprintf(text, sizeof text, "%s %s",
                 v->kind == V_FN ? "fn" : ast_def_kind_name(v->def->def.def_kind),
                 v->def->def.id.name);
        break;
    default: val_type_str(c, v, text, sizeof text); break;
    }
    size_t len = 0, cap = 0;
    char *buf = NULL;
    append(&buf, &len, &cap, text);
    if (v->kind == V_INSTANCE)
        list_params(c, v->inst, "", &buf, &len, &cap, 0);
    return buf;
}

/* ---- entries ------------------------------------------------------------------------------- */

static Entry *entry_new(SemaSession *s, const char *name, const char *text)
{
    Entry *en = util_malloc(sizeof *en);
    size_t len = strlen(text);
    en->file = (SourceFile){util_strdup(name), util_strdup(text), (uint32_t)len};
    arena_init(&en->ast);
    en->marked = true;
    util_vec_push(&s->entries, en);
    return en;
}

static void rollback_modules(SemaSession *s)
{
    Checker *c = &s->c;
    for (int i = s->npaths; i < c->loaded_paths.len; i++)
        util_free(c->loaded_paths.items[i]);
    c->loaded_paths.len = s->npaths;
    c->modules.len = s->nmodules;
}

/* The checker's per-entry state, over the working copy. */
static void start_checker(SemaSession *s)
{
    Checker *c = &s->c;
    c->arena = s->work.arena;
    c->globals = s->work.globals;
    util_vec_free(&c->params);
    c->params = s->work.params;
    s->work.params = (PtrVec){0};
    c->nframes = c->npending = c->loop_depth = 0;
    c->entered = 0; /* the instantiation budget is per entry */
    c->runtime = c->in_update = c->suppress = false;
    c->nreported = 0;
    c->ncache = 0;
    c->train = NULL;
    c->graph = NULL;
    c->region++;
    c->rng_counter = s->rng_counter;
    c->nslot_loads = s->nslots;
    c->slot_loads = util_realloc(c->slot_loads, sizeof(IrNode *) * (size_t)(s->nslots + 1));
    memset(c->slot_loads, 0, sizeof(IrNode *) * (size_t)(s->nslots + 1));
}

static bool is_definition(const AstNode *st)
{
    return st->kind == AST_FN || st->kind == AST_DEF || st->kind == AST_IMPORT;
}

/* Checks and traces the entry's items; returns the last expression statement's value. */
static Value *check_entry(SemaSession *s, AstNode *prog, SemaEntryKind kind)
{
    Checker *c = &s->c;
    Scope *script = s->work.script;
    sema_load_imports(c, prog);
    for (int m = s->nmodules; m < c->modules.len; m++)
        sema_declare_items(c, c->modules.items[m]);
    /* a definition replaces a variable of its name: the last binding wins */
    for (int i = 0; i < prog->list.len; i++) {
        AstNode *st = prog->list.items[i];
        if (st->kind == AST_FN || st->kind == AST_DEF)
            scope_remove(c, script, st->def.id.name);
    }
    sema_declare_items(c, prog);
    for (int m = s->nmodules; m < c->modules.len; m++)
        sema_check_items(c, c->modules.items[m], true);
    sema_check_items(c, prog, false);
    c->graph = kind == SEMA_ENTRY_CHECK ? NULL : ir_graph_new();
    Value *last = NULL;
    int n = prog->list.len;
    for (int i = 0; i < n; i++) {
        AstNode *st = prog->list.items[i];
        if (is_definition(st))
            continue;
        if (st->kind == AST_TRAIN) {
            if (kind != SEMA_ENTRY_LOAD)
                sema_error(c, st->span, "train blocks do not run in the REPL (use 'nnc run "
                                        "FILE'; ':load FILE' brings in everything else)");
            continue;
        }
        if (st->kind == AST_PARAM_DECL || st->kind == AST_STATE_DECL) {
            sema_misplaced(c, st, "at the top level; it belongs in a layer or model");
            continue;
        }
        Exec x = {0};
        sema_exec_stmt(c, script, st, &x, i == n - 1);
        last = i == n - 1 && st->kind == AST_EXPR_STMT ? x.last : NULL;
    }
    sema_flush_frames(c);
    return last;
}

/* Whether prog is exactly one expression statement (what the commands take). */
static bool one_expression(SemaSession *s, AstNode *prog)
{
    if (prog->list.len == 1 && prog->list.items[0]->kind == AST_EXPR_STMT)
        return true;
    Span at = prog->list.len ? prog->list.items[prog->list.len - 1]->span : prog->span;
    diag_error(s->diags, at, "expected one expression");
    return false;
}

static void finish_check(SemaSession *s, Value *v, SemaEntry *e)
{
    Checker *c = &s->c;
    char buf[512];
    e->type = util_strdup(val_type_str(c, v, buf, sizeof buf));
    int dtype, rank;
    Dim dims[IR_MAX_RANK];
    e->is_tensor = v->kind != V_INT && v->kind != V_FLOAT && sema_tensor_view(v, &dtype, &rank, dims);
    if (e->is_tensor && rank >= 0) {
        size_t len = 0;
        buf[len++] = '[';
        for (int i = 0; i < rank; i++) {
            char d[64];
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? ", " : "",
                                    dim_str(c, dims[i], d, sizeof d));
        }
        snprintf(buf + len, sizeof buf - len, "]");
        e->shape = util_strdup(buf);
    }
}

/* RUN: shows the last expression's value (a tensor by printing it in the graph), then
 * stores what the state keeps. VALUE: stores the expression's value to a scratch slot. */
static bool finish_trace(SemaSession *s, Value *v, AstNode *prog, SemaEntryKind kind,
                         SemaEntry *e)
{
    Checker *c = &s->c;
    Span at = prog->list.len ? prog->list.items[prog->list.len - 1]->span : prog->span;
    bool tensor = v && v->kind != V_ERROR && v->kind != V_VOID &&
                  (v->kind == V_TENSOR || (v->kind == V_LIST && sema_as_tensor(c, v)));
    if (kind == SEMA_ENTRY_VALUE) {
        IrNode *n = tensor ? sema_node(c, v, at) : NULL;
        if (!n) {
            char buf[200];
            if (v && v->kind != V_ERROR && !tensor)
                sema_error(c, at, "expected a tensor, found %s", val_type_str(c, v, buf, sizeof buf));
            return false;
        }
        int k = slot_new(s, n->dtype, &n->shape);
        ir_slot_store(c->graph, at, k, n);
        e->new_slots = util_malloc(sizeof(int));
        e->new_slots[0] = k;
        e->nnew = 1;
        return c->diags->errors == 0;
    }
    if (v && tensor && kind == SEMA_ENTRY_RUN) {
        IrNode *n = sema_node(c, v, at);
        if (n)
            ir_print(c->graph, at, n);
    } else if (v && v->kind != V_VOID && v->kind != V_ERROR && kind == SEMA_ENTRY_RUN) {
        e->shown = show(c, v);
    }
    if (c->diags->errors)
        return false;
    capture(s, e);
    return true;
}

bool sema_session_begin(SemaSession *s, const char *name, const char *text, SemaEntryKind kind,
                        SemaEntry *e)
{
    *e = (SemaEntry){0};
    s->active = true;
    s->nmodules = s->c.modules.len;   /* what sema_session_end's rollback goes back to */
    s->npaths = s->c.loaded_paths.len;
    int before = s->diags->errors;
    Entry *en = entry_new(s, name, text);
    s->current = en;
    AstNode *prog = parse_file(&en->file, &en->ast, s->diags);
    bool ok = s->diags->errors == before &&
              (kind == SEMA_ENTRY_RUN || kind == SEMA_ENTRY_LOAD || one_expression(s, prog));
    if (!ok)
        return false;

    copy_state(s, &s->committed, &s->work);
    sweep(s);
    start_checker(s);
    Value *v = check_entry(s, prog, kind);
    ok = s->diags->errors == before;
    if (ok && kind == SEMA_ENTRY_CHECK)
        finish_check(s, v ? v : val_void(&s->c), e);
    else if (ok)
        ok = finish_trace(s, v, prog, kind, e);
    e->graph = s->c.graph;
    s->c.graph = NULL;
    if (!ok)
        sema_session_end(s, e, false);
    return ok;
}

void sema_session_end(SemaSession *s, SemaEntry *e, bool commit)
{
    Checker *c = &s->c;
    State *drop = commit ? &s->committed : &s->work;
    arena_free_heap(drop->arena);
    util_vec_free(&drop->params);
    if (commit) {
        s->committed = s->work;
        s->committed.params = c->params;
        s->rng_counter = c->rng_counter;
    } else {
        util_vec_free(&c->params);
        rollback_modules(s);
        for (int i = 0; i < e->nnew; i++) { /* only the dropped copy refers to them */
            int k = e->new_slots[i];
            s->slot_live[k] = false;
            free(s->slots[k].data);
            s->slots[k].data = NULL;
        }
    }
    s->work = (State){0};
    c->params = (PtrVec){0};
    c->arena = s->committed.arena;
    c->globals = s->committed.globals;
    ir_graph_free(e->graph);
    util_free(e->new_slots);
    util_free(e->shown);
    util_free(e->type);
    util_free(e->shape);
    *e = (SemaEntry){0};
    s->active = false;
}

void sema_session_abandon(SemaSession *s, SemaEntry *e)
{
    Checker *c = &s->c;
    if (!s->active)
        return;
    if (!e->graph)
        e->graph = c->graph;
    else
        ir_graph_free(c->graph);
    c->graph = NULL;
    c->eval_depth = 0; /* start_checker resets the rest */
    sema_session_end(s, e, false);
}

SemaSessionStats sema_session_stats(const SemaSession *s)
{
    SemaSessionStats st = {.variables = s->committed.script->len,
                           .state_bytes = (int64_t)s->committed.arena->total};
    for (int i = 0; i < s->nslots; i++)
        if (s->slot_live[i]) {
            st.tensors++;
            st.tensor_bytes += ir_shape_numel(&s->slots[i].shape) * 4;
        }
    return st;
}
