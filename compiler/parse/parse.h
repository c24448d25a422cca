/* parse.h — parse one source file into an AST (Bison, pure, with locations). */
#ifndef NNC_PARSE_H
#define NNC_PARSE_H

#include "ast/ast.h"
#include "util/diag.h"

/* Returns the AST_PROGRAM node (never NULL: statements that failed to parse are dropped
 * after their error is recorded in diags). */
AstNode *parse_file(const SourceFile *file, Arena *arena, DiagSink *diags);

#endif
