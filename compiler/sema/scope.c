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

Binding *scope_find_local(Scope *s, const char *name)
{
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
    }
    *b = (Binding){name, v, kind, at};
    return b;
}
