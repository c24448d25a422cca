/* traced_file.h — what the pass tests share: a program file read, parsed and checked with
 * tracing on, as the driver does before the middle end. Header-only (static functions);
 * included by test_memplan.c and test_fuse_equiv.c. */
#ifndef NNC_TEST_TRACED_FILE_H
#define NNC_TEST_TRACED_FILE_H

#include "parse/parse.h"
#include "prog/prog.h"
#include "sema/sema.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct TracedFile {
    char *text;
    SourceFile src;
    DiagSink diags;
    Arena arena;
    IrGraph *graph;   /* the script's graph */
    Prog *prog;       /* a program with a train block (when asked for), else NULL */
} TracedFile;

/* Traces the file at path (with NNC_STDLIB as the standard library); with `programs`, a
 * train block becomes t->prog. False when the file cannot be read (said on stdout) or has
 * errors (left in t->diags); traced_file_close in every case. */
static bool traced_file_open(TracedFile *t, const char *path, bool programs)
{
    *t = (TracedFile){0};
    diag_init(&t->diags);
    arena_init(&t->arena);
    t->graph = ir_graph_new();
    size_t len;
    t->text = util_read_file(path, &len);
    if (!t->text) {
        printf("%s: cannot read\n", path);
        return false;
    }
    t->src = (SourceFile){path, t->text, (uint32_t)len};
    AstNode *program = parse_file(&t->src, &t->arena, &t->diags);
    SemaOptions opts = {.stdlib_dir = getenv("NNC_STDLIB"), .trace = t->graph,
                        .program = programs ? &t->prog : NULL};
    return t->diags.errors == 0 && sema_check(program, &opts, &t->arena, &t->diags).errors == 0;
}

static void traced_file_close(TracedFile *t)
{
    prog_free(t->prog);
    ir_graph_free(t->graph);
    diag_free(&t->diags);
    arena_free(&t->arena);
    util_free(t->text);
}

#endif
