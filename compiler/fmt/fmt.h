/* fmt.h — nnc fmt: print a parsed program in its canonical layout (docs/fmt.md).
 * Comments are not in the AST; they are found again in the source text, so `src` must be
 * the file `program` was parsed from, and the parse must have had no errors. The output
 * parses to the same AST (spans aside), and formatting it again changes nothing. */
#ifndef NNC_FMT_H
#define NNC_FMT_H

#include "ast/ast.h"
#include "util/diag.h"

#include <stdbool.h>
#include <stdio.h>

/* Writes the formatted program to out. Returns 0, or 1 if writing failed. */
int fmt_program(FILE *out, const AstNode *program, const SourceFile *src);

/* Whether src is byte for byte its own formatting (nnc fmt --check). */
bool fmt_is_formatted(const AstNode *program, const SourceFile *src);

/* The formatted program as a NUL-terminated heap string (util_free it); *len excludes
 * the NUL. */
char *fmt_render(const AstNode *program, const SourceFile *src, size_t *len);

#endif
