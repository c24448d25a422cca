/* lexer.re — re2c lexer for nnc. Generated into lexer.c by the build. */
#include "ast/ast.h"
#include "lex/lex.h"
#include "parser.h"
#include "util/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void lex_init(Lexer *lx, const SourceFile *file, Arena *arena, DiagSink *diags)
{
    *lx = (Lexer){.file = file, .arena = arena, .diags = diags};
    lx->cur = file->text;
    lx->lim = file->text + file->len;
}

static Span span_at(const Lexer *lx, const char *lo, const char *hi)
{
    return (Span){lx->file, (uint32_t)(lo - lx->file->text), (uint32_t)(hi - lx->file->text)};
}

static int lex_error(Lexer *lx, const char *lo, const char *hi, const char *msg)
{
    diag_error(lx->diags, span_at(lx, lo, hi), "%s", msg);
    return TOK_ERROR;
}

/* Integer literal: decimal or 0x hex, with '_' separators. */
static int lex_int(Lexer *lx, LexValue *val)
{
    const char *p = lx->tok;
    int base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    uint64_t v = 0;
    for (; p < lx->cur; p++) {
        if (*p == '_')
            continue;
        int d = *p <= '9' ? *p - '0' : (*p | 0x20) - 'a' + 10;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base || v * base + d > INT64_MAX)
            return lex_error(lx, lx->tok, lx->cur, "integer literal is too large");
        v = v * (uint64_t)base + (uint64_t)d;
    }
    val->ival = (int64_t)v;
    return TOK_INT;
}

static int lex_float(Lexer *lx, LexValue *val)
{
    char buf[128];
    size_t n = 0;
    for (const char *p = lx->tok; p < lx->cur && n + 1 < sizeof buf; p++)
        if (*p != '_')
            buf[n++] = *p;
    buf[n] = '\0';
    errno = 0;
    val->fval = strtod(buf, NULL);
    if (errno == ERANGE && (val->fval > 1 || val->fval < -1))
        return lex_error(lx, lx->tok, lx->cur, "number literal is out of range");
    return TOK_FLOAT;
}

/* Decode the string between the quotes at [tok+1, cur-1). */
static int lex_string(Lexer *lx, LexValue *val)
{
    const char *lo = lx->tok + 1, *hi = lx->cur - 1;
    char *out = arena_alloc(lx->arena, (size_t)(hi - lo) + 1);
    size_t n = 0;
    for (const char *p = lo; p < hi; p++) {
        if (*p != '\\') {
            out[n++] = *p;
            continue;
        }
        p++;
        switch (*p) {
        case 'n': out[n++] = '\n'; break;
        case 't': out[n++] = '\t'; break;
        case '\\': out[n++] = '\\'; break;
        case '"': out[n++] = '"'; break;
        case '0': out[n++] = '\0'; break;
        default:
            return lex_error(lx, p - 1, p + 1, "unknown escape sequence in string");
        }
    }
    val->text = out;
    val->len = n;
    return TOK_STRING;
}

static const struct { const char *word; int tok; } keywords[] = {
    {"true", TOK_TRUE}, {"false", TOK_FALSE}, {"and", TOK_AND}, {"or", TOK_OR},
    {"not", TOK_NOT}, {"import", TOK_IMPORT}, {"fn", TOK_FN}, {"layer", TOK_LAYER},
    {"model", TOK_MODEL}, {"optimizer", TOK_OPTIMIZER}, {"param", TOK_PARAM},
    {"state", TOK_STATE}, {"train", TOK_TRAIN}, {"for", TOK_FOR}, {"in", TOK_IN},
    {"if", TOK_IF}, {"else", TOK_ELSE}, {"return", TOK_RETURN}, {"break", TOK_BREAK},
    {"let", TOK_LET}, {"while", TOK_WHILE}, {"continue", TOK_CONTINUE},
};

static int lex_ident(Lexer *lx, LexValue *val)
{
    size_t n = (size_t)(lx->cur - lx->tok);
    for (size_t i = 0; i < ARRAY_LEN(keywords); i++)
        if (strlen(keywords[i].word) == n && memcmp(keywords[i].word, lx->tok, n) == 0)
            return keywords[i].tok;
    val->text = arena_strndup(lx->arena, lx->tok, n);
    val->len = n;
    return TOK_IDENT;
}

static int lex_open(Lexer *lx, int tok)
{
    if (tok == TOK_LBRACE) {
        lx->brace_depth++;
        return tok;
    }
    if (lx->depth == LEX_MAX_DEPTH) {
        /* One error for the whole overflow; the closers that match these brackets are
         * absorbed silently. */
        if (lx->excess++ == 0)
            return lex_error(lx, lx->tok, lx->cur, "brackets nested too deeply (more than 256)");
        return TOK_ERROR;
    }
    lx->open_char[lx->depth] = *lx->tok;
    lx->open_at[lx->depth] = (uint32_t)(lx->tok - lx->file->text);
    lx->open_errors[lx->depth] = lx->diags->errors;
    lx->depth++;
    return tok;
}

static int lex_close(Lexer *lx, int tok)
{
    if (tok == TOK_RBRACE) {
        if (lx->brace_depth > 0)
            lx->brace_depth--;
        return tok;
    }
    char want = tok == TOK_RPAREN ? '(' : '[';
    if (lx->excess > 0) {
        lx->excess--;
        return TOK_ERROR;
    }
    if (lx->depth == 0)
        return lex_error(lx, lx->tok, lx->cur,
                         tok == TOK_RPAREN ? "unmatched ')'" : "unmatched ']'");
    if (lx->open_char[lx->depth - 1] != want) {
        uint32_t at = lx->open_at[lx->depth - 1];
        diag_error(lx->diags, span_at(lx, lx->tok, lx->cur), "mismatched '%c': expected '%c'",
                   *lx->tok, lx->open_char[lx->depth - 1] == '(' ? ')' : ']');
        diag_note(lx->diags, (Span){lx->file, at, at + 1}, "'%c' opened here",
                  lx->open_char[lx->depth - 1]);
        lx->depth--;
        return TOK_ERROR;
    }
    lx->depth--;
    return tok;
}

/* Scans one raw token; newline/EOF bookkeeping is done by lex_next. */
static int scan(Lexer *lx, LexValue *val)
{
    /*!re2c
        re2c:api:style = free-form;
        re2c:define:YYCTYPE = "unsigned char";
        re2c:define:YYCURSOR = "lx->cur";
        re2c:define:YYMARKER = "lx->marker";
        re2c:define:YYLIMIT = "lx->lim";
        re2c:define:YYPEEK = "(unsigned char)*lx->cur";
        re2c:define:YYSKIP = "++lx->cur;";
        re2c:define:YYBACKUP = "lx->marker = lx->cur;";
        re2c:define:YYRESTORE = "lx->cur = lx->marker;";
        re2c:define:YYLESSTHAN = "lx->lim - lx->cur < @@{len}";
        re2c:yyfill:enable = 0;
        re2c:eof = 0;
        re2c:indent:top = 1;
    */
    for (;;) {
        lx->tok = lx->cur;
        /*!re2c
            dec = [0-9] ("_"? [0-9])*;
            hex = "0" [xX] [0-9a-fA-F] ("_"? [0-9a-fA-F])*;
            exp = [eE] [+-]? dec;

            $ { return TOK_YYEOF; }
            [ \t\r]+ { continue; }
            "\\" [ \t\r]* "\n" { continue; }
            "#" [^\n\x00]* { continue; }
            "/*" { goto block_comment; }
            "\n" { return TOK_NEWLINE; }

            dec | hex { return lex_int(lx, val); }
            dec "." dec exp? | dec exp { return lex_float(lx, val); }
            dec "." [a-zA-Z_] { return lex_error(lx, lx->tok, lx->cur, "malformed number: a digit must follow '.'"); }
            (dec | hex) [a-zA-Z_0-9]+ { return lex_error(lx, lx->tok, lx->cur, "malformed number"); }

            ["] ([^"\\\n\x00] | "\\" [^\n\x00])* ["] { return lex_string(lx, val); }
            ["] { goto unterminated_string; }

            [a-zA-Z_][a-zA-Z_0-9]* { return lex_ident(lx, val); }

            "+" { return TOK_PLUS; }   "-" { return TOK_MINUS; }
            "*" { return TOK_STAR; }   "/" { return TOK_SLASH; }
            "@" { return TOK_AT; }     "^" { return TOK_CARET; }
            "%" { return TOK_PERCENT; }
            "+=" { return TOK_PLUS_ASSIGN; }  "-=" { return TOK_MINUS_ASSIGN; }
            "*=" { return TOK_STAR_ASSIGN; }  "/=" { return TOK_SLASH_ASSIGN; }
            "..." { return TOK_ELLIPSIS; }
            "==" { return TOK_EQ; }    "!=" { return TOK_NE; }
            "<" { return TOK_LT; }     "<=" { return TOK_LE; }
            ">" { return TOK_GT; }     ">=" { return TOK_GE; }
            "=" { return TOK_ASSIGN; } "," { return TOK_COMMA; }
            ":" { return TOK_COLON; }  ";" { return TOK_SEMI; }
            "." { return TOK_DOT; }    ".." { return TOK_DOTDOT; }
            "->" { return TOK_ARROW; }
            "(" { return lex_open(lx, TOK_LPAREN); }
            "[" { return lex_open(lx, TOK_LBRACK); }
            "{" { return lex_open(lx, TOK_LBRACE); }
            ")" { return lex_close(lx, TOK_RPAREN); }
            "]" { return lex_close(lx, TOK_RBRACK); }
            "}" { return lex_close(lx, TOK_RBRACE); }

            * { goto invalid; }
        */
    block_comment:
        for (;;) {
            if (lx->cur >= lx->lim)
                return lex_error(lx, lx->tok, lx->tok + 2, "unterminated comment");
            if (lx->cur[0] == '*' && lx->cur + 1 < lx->lim && lx->cur[1] == '/') {
                lx->cur += 2;
                break;
            }
            lx->cur++;
        }
        continue;
    unterminated_string: {
        /* Brackets opened earlier on this line were most likely meant to close after the
         * string: forget them, so the newline ends the statement and the lines below are
         * parsed normally. */
        const char *line = lx->tok;
        while (line > lx->file->text && line[-1] != '\n')
            line--;
        while (lx->depth > 0 && lx->open_at[lx->depth - 1] >= (uint32_t)(line - lx->file->text))
            lx->depth--;
        while (lx->cur < lx->lim && *lx->cur != '\n')
            lx->cur++;
        return lex_error(lx, lx->tok, lx->tok + 1, "unterminated string");
    }
    invalid: {
        /* One error for a run of invalid bytes, so binary input gives one message. */
        unsigned char c = (unsigned char)*lx->tok;
        while (lx->cur < lx->lim && ((unsigned char)*lx->cur >= 127 || *lx->cur == 0 ||
                                     (*lx->cur < 32 && !strchr(" \t\r\n", *lx->cur))))
            lx->cur++;
        char msg[64];
        if (c >= 32 && c < 127)
            snprintf(msg, sizeof msg, "invalid character '%c'", c);
        else
            snprintf(msg, sizeof msg, "invalid byte 0x%02x", c);
        return lex_error(lx, lx->tok, lx->cur, msg);
    }
    }
}

/* Whether the next token, past blank lines and comments, is `else`. Scans ahead on a copy
 * of the lexer with diagnostics discarded, so nothing is reported twice. */
static bool next_is_else(const Lexer *lx)
{
    Lexer ahead = *lx;
    DiagSink quiet;
    diag_init(&quiet);
    ahead.diags = &quiet;
    LexValue v;
    int tok;
    do
        tok = scan(&ahead, &v);
    while (tok == TOK_NEWLINE);
    diag_free(&quiet);
    return tok == TOK_ELSE;
}

int lex_next(Lexer *lx, Span *span, LexValue *val)
{
    *val = (LexValue){0};
    for (;;) {
        int tok = scan(lx, val);
        *span = span_at(lx, lx->tok, lx->cur);
        if (tok == TOK_NEWLINE) {
            /* Inside () and [] a newline is whitespace; blank lines collapse. */
            if (lx->depth > 0 || lx->last == TOK_NEWLINE || lx->last == 0 ||
                lx->last == TOK_LBRACE)
                continue;
            if (next_is_else(lx))
                continue; /* "}\nelse {" continues the if */
        } else if (tok == TOK_YYEOF) {
            if (lx->depth > 0) {
                /* Report the innermost unclosed bracket once, at its opening, unless an
                 * error inside it was reported already (which named where it opened). */
                uint32_t at = lx->open_at[lx->depth - 1];
                char c = lx->open_char[lx->depth - 1];
                bool reported = lx->diags->errors > lx->open_errors[lx->depth - 1];
                lx->depth = 0;
                if (!reported)
                    diag_error(lx->diags, (Span){lx->file, at, at + 1}, "unclosed '%c'", c);
                lx->last = TOK_ERROR;
                return TOK_ERROR;
            }
            /* Every statement ends with a newline, even the last one of the file. */
            if (lx->last != TOK_NEWLINE && lx->last != 0 && !lx->eof_newline_sent) {
                lx->eof_newline_sent = true;
                lx->last = TOK_NEWLINE;
                return TOK_NEWLINE;
            }
        }
        lx->last = tok;
        return tok;
    }
}

int lex_dump(FILE *out, const SourceFile *file, DiagSink *diags)
{
    Arena arena;
    arena_init(&arena);
    Lexer lx;
    lex_init(&lx, file, &arena, diags);
    int errors = diags->errors;
    DiagLines lines;
    diag_lines_init(&lines, file);
    for (;;) {
        Span s;
        LexValue v;
        int tok = lex_next(&lx, &s, &v);
        int line, col;
        diag_lines_find(&lines, s, &line, &col);
        fprintf(out, "%d:%d %s", line, col, lex_token_name(tok));
        if (tok == TOK_IDENT)
            fprintf(out, " %s", v.text);
        else if (tok == TOK_INT)
            fprintf(out, " %lld", (long long)v.ival);
        else if (tok == TOK_FLOAT) {
            char num[40];
            fprintf(out, " %s", ast_format_double(v.fval, num, sizeof num));
        }
        else if (tok == TOK_STRING)
            fprintf(out, " %zu bytes", v.len);
        fputc('\n', out);
        if (tok == TOK_YYEOF)
            break;
    }
    diag_lines_free(&lines);
    arena_free(&arena);
    return diags->errors - errors;
}
