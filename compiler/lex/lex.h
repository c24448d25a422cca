/* lex.h — the re2c lexer. Token codes are the parser's (TOK_*, from parser.h).
 * Newlines end statements except inside () and []; the lexer tracks open brackets so it
 * can report an unclosed or mismatched one at the place it was opened. */
#ifndef NNC_LEX_H
#define NNC_LEX_H

#include "util/arena.h"
#include "util/diag.h"

#include <stdint.h>

typedef struct LexValue {
    int64_t ival;
    double fval;
    const char *text;   /* identifier (NUL-terminated) or decoded string contents */
    size_t len;
} LexValue;

enum { LEX_MAX_DEPTH = 256 };

typedef struct Lexer {
    const SourceFile *file;
    Arena *arena;           /* identifiers and decoded strings */
    DiagSink *diags;
    const char *cur, *lim, *tok, *marker;
    int last;               /* previous token code (0 at start) */
    int depth;              /* open ( and [ */
    char open_char[LEX_MAX_DEPTH];
    uint32_t open_at[LEX_MAX_DEPTH];
    int open_errors[LEX_MAX_DEPTH];  /* errors recorded when each bracket opened */
    int brace_depth;
    int excess;             /* brackets opened past LEX_MAX_DEPTH, not tracked */        /* open { — newlines inside braces still separate statements */
    bool eof_newline_sent;
} Lexer;

void lex_init(Lexer *lx, const SourceFile *file, Arena *arena, DiagSink *diags);
/* Next token code (TOK_YYEOF at the end); fills *span and *val. Errors are recorded in the
 * sink and returned as TOK_ERROR so the parser does not report them twice. */
int lex_next(Lexer *lx, Span *span, LexValue *val);
/* Printable name of a token code, as the parser's messages show it ("'('", "identifier"). */
const char *lex_token_name(int tok);
/* --emit=tokens: one token a line, "line:col KIND [text]". Returns the number of errors. */
int lex_dump(FILE *out, const SourceFile *file, DiagSink *diags);

#endif
