/* modules.c — imports: finding, reading and parsing module files (docs/language.md §1.2). */
#include "parse/parse.h"
#include "sema/sema_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where module files and their ASTs live: as long as the program's AST, or in a REPL
 * session (session.c) as long as the session. */
static Arena *ast_arena(Checker *c) { return c->module_arena ? c->module_arena : c->arena; }

static const char *dir_of(Checker *c, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return ".";
    return arena_strndup(ast_arena(c), path, (size_t)(slash - path));
}

/* "a.b" -> "DIR/a/b.nn" if that file exists. */
static char *try_dir(const char *dir, size_t dirlen, const char *module)
{
    if (!dir || dirlen == 0)
        return NULL;
    size_t n = strlen(module);
    bool here = dirlen == 1 && dir[0] == '.'; /* "mod.nn", not "./mod.nn", in messages */
    size_t prefix = here ? 0 : dirlen + 1;
    char *path = util_malloc(prefix + n + 4);
    if (!here) {
        memcpy(path, dir, dirlen);
        path[dirlen] = '/';
    }
    for (size_t i = 0; i < n; i++)
        path[prefix + i] = module[i] == '.' ? '/' : module[i];
    memcpy(path + prefix + n, ".nn", 4);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, R_OK) == 0)
        return path;
    util_free(path);
    return NULL;
}

static char *find_module(Checker *c, const char *module, const char *importer_dir)
{
    char *p = try_dir(importer_dir, strlen(importer_dir), module);
    const char *sp = c->opts ? c->opts->search_path : NULL;
    while (!p && sp && *sp) {
        const char *end = strchr(sp, ':');
        size_t len = end ? (size_t)(end - sp) : strlen(sp);
        p = try_dir(sp, len, module);
        sp = end ? end + 1 : NULL;
    }
    if (!p && c->opts && c->opts->stdlib_dir)
        p = try_dir(c->opts->stdlib_dir, strlen(c->opts->stdlib_dir), module);
    return p;
}

static bool already_loaded(Checker *c, const char *resolved)
{
    for (int i = 0; i < c->loaded_paths.len; i++)
        if (!strcmp(c->loaded_paths.items[i], resolved))
            return true;
    return false;
}

static void load_from(Checker *c, AstNode *program, const char *dir)
{
    for (int i = 0; i < program->list.len; i++) {
        AstNode *st = program->list.items[i];
        if (st->kind != AST_IMPORT)
            continue;
        char *path = find_module(c, st->import.path, dir);
        if (!path) {
            char file[512];
            size_t k = 0;
            for (const char *p = st->import.path; *p && k + 4 < sizeof file; p++)
                file[k++] = *p == '.' ? '/' : *p;
            memcpy(file + k, ".nn", 4);
            sema_error(c, st->import.path_span, "cannot find module '%s' (looked for %s next to "
                                                "this file, in NNC_PATH and in the standard "
                                                "library)", st->import.path, file);
            continue;
        }
        char real[PATH_MAX];
        const char *key = realpath(path, real) ? real : path;
        if (already_loaded(c, key)) {
            util_free(path);
            continue;
        }
        util_vec_push(&c->loaded_paths, util_strdup(key));
        size_t len;
        char *text = util_read_file(path, &len);
        if (!text || len > UINT32_MAX - 1) {
            sema_error(c, st->import.path_span, "cannot read module '%s': %s", path,
                       text ? "too large" : util_read_error());
            util_free(text);
            util_free(path);
            continue;
        }
        /* The module's text and name live in the AST arena, as long as its nodes. */
        SourceFile *f = ARENA_NEW(ast_arena(c), SourceFile);
        f->name = arena_strndup(ast_arena(c), path, strlen(path));
        f->text = arena_copy(ast_arena(c), text, len + 1);
        f->len = (uint32_t)len;
        util_free(text);
        util_free(path);
        if (memchr(f->text, '\0', len)) {
            sema_error(c, st->import.path_span, "module '%s' is not a text file", f->name);
            continue;
        }
        AstNode *mod = parse_file(f, ast_arena(c), c->diags);
        util_vec_push(&c->modules, mod);
        load_from(c, mod, dir_of(c, f->name));
    }
}

void sema_load_imports(Checker *c, AstNode *program)
{
    const char *dir = program->span.file && program->span.file->name
                          ? dir_of(c, program->span.file->name)
                          : ".";
    load_from(c, program, dir);
}

void sema_free_modules(Checker *c)
{
    for (int i = 0; i < c->loaded_paths.len; i++)
        util_free(c->loaded_paths.items[i]);
    util_vec_free(&c->loaded_paths);
    util_vec_free(&c->modules);
}
