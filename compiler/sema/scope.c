/* scope.c — lexical scopes: bindings from names to checker values. */
#include "sema/sema_internal.h"

#include <string.h>

Scope *scope_new(Checker *c, Scope *parent, ScopeKind kind)
{
    Scope *s = ARENA_NEW(c->arena, Scope);
    s->parent = parent;
    s->kind = kind;
    s->inst = parent && kind == SCOPE_BLOCK ? parent->inst : NULL;
    return s;
}

enum { INDEX_AFTER = 16 };  /* scopes larger than this get a hash index */

static uint64_t name_hash(const char *name)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

static void index_insert(Scope *s, int pos)
{
    size_t mask = (size_t)s->index_cap - 1;
    for (size_t i = name_hash(s->items[pos].name) & mask;; i = (i + 1) & mask)
        if (!s->index[i]) {
            s->index[i] = pos + 1;
            return;
        }
}

void scope_reindex(Checker *c, Scope *s)
{
    s->index_cap = 64;
    while (s->index_cap < 2 * s->cap)
        s->index_cap *= 2;
    s->index = ARENA_NEW_N(c->arena, int, s->index_cap);
    for (int i = 0; i < s->len; i++)
        index_insert(s, i);
}

Binding *scope_find_local(Scope *s, const char *name)
{
    if (s->index) {
        size_t mask = (size_t)s->index_cap - 1;
        for (size_t i = name_hash(name) & mask; s->index[i]; i = (i + 1) & mask)
            if (strcmp(s->items[s->index[i] - 1].name, name) == 0)
                return &s->items[s->index[i] - 1];
        return NULL;
    }
    for (int i = s->len - 1; i >= 0; i--)
        if (strcmp(s->items[i].name, name) == 0)
            return &s->items[i];
    return NULL;
}

Binding *scope_lookup(Scope *s, const char *name)
{
    for (; s; s = s->parent) {
        Binding *b = scope_find_local(s, name);
        if (b)
            return b;
    }
    return NULL;
}

Binding *scope_bind(Checker *c, Scope *s, const char *name, Value *v, BindKind kind, Span at)
{
    Binding *b = scope_find_local(s, name);
    if (!b) {
        if (s->len == s->cap) {
            int cap = s->cap ? s->cap * 2 : 8;
            Binding *items = ARENA_NEW_N(c->arena, Binding, cap);
            if (s->len)
                memcpy(items, s->items, sizeof(Binding) * (size_t)s->len);
            s->items = items;
            s->cap = cap;
        }
        b = &s->items[s->len++];
        *b = (Binding){name, v, kind, at, .path = train_path(c)};
        if (s->len > INDEX_AFTER && (!s->index || 2 * s->len > s->index_cap))
            scope_reindex(c, s);
        else if (s->index)
            index_insert(s, s->len - 1);
        return b;
    }
    *b = (Binding){name, v, kind, at, .path = train_path(c)};
    return b;
}

void scope_remove(Checker *c, Scope *s, const char *name)
{
    Binding *b = scope_find_local(s, name);
    if (!b)
        return;
    int at = (int)(b - s->items);
    memmove(&s->items[at], &s->items[at + 1], sizeof(Binding) * (size_t)(s->len - at - 1));
    s->len--;
    if (s->index)
        scope_reindex(c, s);
}
