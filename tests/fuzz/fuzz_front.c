/* fuzz_front.c — libFuzzer entry point for the front end: lexer, parser, checker and the
 * diagnostic printer, on arbitrary bytes. Built as nnc_fuzz with -DNNC_FUZZ=ON and clang;
 * `make fuzz` runs it for a bounded time over a corpus of every .nn file in the tree
 * (docs/testing.md). An input that crashes, leaks or trips a sanitizer here becomes a
 * regression test in tests/errors/.
 *
 * Contract exercised: for any input, parse_file returns a program, sema_check accepts
 * whatever parse_file returned (statements that failed to parse were dropped), and every
 * recorded diagnostic prints — whatever bytes the source holds. */
#include "ast/ast.h"
#include "lex/lex.h"
#include "parse/parse.h"
#include "sema/sema.h"
#include "util/arena.h"
#include "util/diag.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Larger inputs only make the run slower (diagnostics compute line:col by scanning). */
enum { FUZZ_MAX_INPUT = 1 << 16 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return -1;  /* not added to the corpus */

    /* The lexer relies on a NUL after the last byte, as util_read_file provides. */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    if (size)
        memcpy(text, data, size);
    text[size] = '\0';
    SourceFile file = {"fuzz.nn", text, (uint32_t)size};

    char *printed = NULL;
    size_t printed_len = 0;
    FILE *out = open_memstream(&printed, &printed_len);
    if (!out) {
        free(text);
        return 0;
    }

    /* --emit=tokens on its own: the lexer without the parser driving it. */
    DiagSink lex_diags;
    diag_init(&lex_diags);
    lex_dump(out, &file, &lex_diags);
    diag_print(&lex_diags, out);
    diag_free(&lex_diags);

    Arena arena;
    arena_init(&arena);
    DiagSink diags;
    diag_init(&diags);
    diags.color = size > 0 && (data[0] & 1);  /* both printer paths, chosen by the input */

    AstNode *program = parse_file(&file, &arena, &diags);
    SemaOptions opts = {0};  /* no imports are followed: the fuzzer reads no files */
    sema_check(program, &opts, &arena, &diags);
    ast_print(out, program);
    diag_print(&diags, out);

    diag_free(&diags);
    arena_free(&arena);
    fclose(out);
    free(printed);
    free(text);
    return 0;
}
