/* fmt.c — nnc fmt: the canonical layout of a program (docs/fmt.md). This file holds the
 * output buffer, the comments (found again in the source text, since the lexer drops
 * them), statements and blocks; expr.c holds expressions, types and line breaking.
 *
 * Each comment is printed once: on a line of its own before the statement or list item it
 * precedes (fmt_leading), at the end of the line holding what precedes it (fmt_trailing),
 * or, for a block comment inside a line, just before the next thing printed after it
 * (fmt_inline_comments). Layout decisions depend only on the AST, on where comments lie
 * between its nodes and on which blocks were on one line; the output keeps every comment
 * inside the brackets and blocks that held it and before the same node. That is what makes
 * formatting idempotent. */
#include "fmt/fmt_internal.h"
#include "util/util.h"

#include <string.h>

/* ---- output --------------------------------------------------------------------------- */

static void buf_append(Fmt *F, const char *s, size_t n)
{
    if (F->len + n + 1 > F->cap) {
        size_t cap = F->cap ? F->cap : 256;
        while (cap < F->len + n + 1)
            cap *= 2;
        F->buf = util_realloc(F->buf, cap);
        F->cap = cap;
    }
    memcpy(F->buf + F->len, s, n);
    F->len += n;
    F->buf[F->len] = '\0';
}

/* Writes s (which may hold newlines: a block comment is written as it was). The first
 * write on a line puts the indent before it, so blank lines have no trailing spaces. */
void fmt_put(Fmt *F, const char *s, size_t n)
{
    if (n == 0)
        return;
    if (F->line_start) {
        F->line_start = false;
        for (int i = 0; i < F->indent * FMT_INDENT; i++)
            buf_append(F, " ", 1);
        F->col = F->indent * FMT_INDENT;
    }
    buf_append(F, s, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            F->col = 0;
            F->lines++;
        } else if ((c & 0xC0) != 0x80) {
            F->col++;
        }
    }
}

void fmt_puts(Fmt *F, const char *s) { fmt_put(F, s, strlen(s)); }

void fmt_newline(Fmt *F)
{
    buf_append(F, "\n", 1);
    F->col = 0;
    F->lines++;
    F->line_start = true;
    F->hash_on_line = false;
}

/* An empty line, unless one may not come here. Called at the start of a line. */
static void blank_line(Fmt *F)
{
    if (F->no_blank)
        return;
    fmt_newline(F);
    F->no_blank = true;
}

Fmt fmt_measurer(const Fmt *F)
{
    return (Fmt){.src = F->src, .comments = F->comments, .ncomments = F->ncomments,
                 .src_pos = F->src_pos, .measure = true, .head = -1};
}

FmtSize fmt_measured(Fmt *M)
{
    FmtSize s = {0};
    for (size_t i = 0; i < M->len; i++) {
        unsigned char c = (unsigned char)M->buf[i];
        if (c == '\n') {
            s.multiline = true;
            break;
        }
        if ((c & 0xC0) != 0x80)
            s.width++;
    }
    s.head = M->head >= 0 && M->head < s.width ? M->head : s.width;
    util_free(M->buf);
    M->buf = NULL;
    M->len = M->cap = 0;
    return s;
}

/* ---- the source text ------------------------------------------------------------------ */

/* Every comment of the source, skipping string literals as the lexer does. */
static FmtComment *scan_comments(const SourceFile *src, int *count)
{
    const char *t = src->text;
    uint32_t n = src->len, i = 0;
    FmtComment *list = NULL;
    int len = 0, cap = 0;
    while (i < n) {
        uint32_t lo = i;
        if (t[i] == '"') {
            for (i++; i < n && t[i] != '"' && t[i] != '\n'; i++)
                if (t[i] == '\\' && i + 1 < n && t[i + 1] != '\n')
                    i++;
            if (i < n && t[i] == '"')
                i++;
            continue;
        }
        bool line = t[i] == '#';
        if (!line && !(t[i] == '/' && i + 1 < n && t[i + 1] == '*')) {
            i++;
            continue;
        }
        if (line) {
            while (i < n && t[i] != '\n')
                i++;
        } else {
            for (i += 2; i < n && !(t[i] == '*' && i + 1 < n && t[i + 1] == '/'); i++)
                ;
            i = i + 2 <= n ? i + 2 : n;
        }
        if (len == cap) {
            cap = cap ? cap * 2 : 16;
            list = util_realloc(list, sizeof *list * (size_t)cap);
        }
        list[len++] = (FmtComment){lo, i, line};
    }
    *count = len;
    return list;
}

int fmt_comment_at(const Fmt *F, uint32_t lo)
{
    int a = 0, b = F->ncomments;
    while (a < b) {
        int m = (a + b) / 2;
        if (F->comments[m].lo < lo)
            a = m + 1;
        else
            b = m;
    }
    return a;
}

bool fmt_has_comment(const Fmt *F, uint32_t lo, uint32_t hi)
{
    int i = fmt_comment_at(F, lo);
    return i < F->ncomments && F->comments[i].lo < hi;
}

bool fmt_comment_ends_line(const Fmt *F, int i)
{
    const FmtComment *c = &F->comments[i];
    return c->line || memchr(F->src->text + c->lo, '\n', c->hi - c->lo) != NULL;
}

/* The end of the comment that starts at pos, or pos if none does. */
static uint32_t skip_comment(const Fmt *F, uint32_t pos)
{
    const char *t = F->src->text;
    uint32_t n = F->src->len;
    if (pos < n && t[pos] == '#') {
        while (pos < n && t[pos] != '\n')
            pos++;
    } else if (pos + 1 < n && t[pos] == '/' && t[pos + 1] == '*') {
        for (pos += 2; pos + 1 < n && !(t[pos] == '*' && t[pos + 1] == '/'); pos++)
            ;
        pos = pos + 2 <= n ? pos + 2 : n;
    }
    return pos;
}

uint32_t fmt_find(const Fmt *F, uint32_t pos, char ch)
{
    uint32_t start = pos;
    while (pos < F->src->len) {
        uint32_t after = skip_comment(F, pos);
        if (after != pos) {
            pos = after;
            continue;
        }
        if (F->src->text[pos] == ch)
            return pos;
        pos++;
    }
    return start;
}

/* Whether an empty line lies between offsets a and b of the source. */
static bool blank_between(const SourceFile *src, uint32_t a, uint32_t b)
{
    int newlines = 0;
    for (uint32_t i = a; i < b && i < src->len; i++)
        if (src->text[i] == '\n' && ++newlines == 2)
            return true;
    return false;
}

/* Whether only blanks, ',' and ';' lie between a and b: b is on the line a ends. */
static bool same_line(const SourceFile *src, uint32_t a, uint32_t b)
{
    for (uint32_t i = a; i < b; i++)
        if (!strchr(" \t\r,;", src->text[i]))
            return false;
    return true;
}

/* The blanks just before a comment in the source: its distance from the code before it
 * (1 for a comment that starts its line). */
static int source_gap(const SourceFile *src, uint32_t at)
{
    uint32_t lo = at;
    while (lo > 0 && (src->text[lo - 1] == ' ' || src->text[lo - 1] == '\t'))
        lo--;
    if (lo == 0 || src->text[lo - 1] == '\n' || lo == at)
        return 1;
    return (int)(at - lo);
}

/* ---- comments ------------------------------------------------------------------------- */

/* A comment's text: as written, without the blanks that end a '#' comment. */
static void put_comment(Fmt *F, const FmtComment *c)
{
    const char *t = F->src->text + c->lo;
    size_t n = c->hi - c->lo;
    if (c->line)
        while (n > 1 && strchr(" \t\r", t[n - 1]))
            n--;
    fmt_put(F, t, n);
    if (c->line)
        F->hash_on_line = true;
}

/* The first comment not printed yet (ncomments if none). Comments are printed in source
 * order, except block comments printed inline (fmt_inline_comments). */
static int pending(Fmt *F)
{
    while (F->next_comment < F->ncomments && F->printed[F->next_comment])
        F->next_comment++;
    return F->next_comment;
}

static void print_comment(Fmt *F, int i)
{
    put_comment(F, &F->comments[i]);
    F->printed[i] = true;
}

void fmt_inline_comments(Fmt *F, uint32_t pos, FmtInline how)
{
    bool first = true;
    for (int i = fmt_comment_at(F, F->src_pos); i < F->ncomments && F->comments[i].lo < pos; i++) {
        if (F->comments[i].line || (F->printed && F->printed[i]))
            continue;
        if (how == FMT_INLINE_AFTER || (how == FMT_INLINE_ALONE && !first))
            fmt_puts(F, " ");
        put_comment(F, &F->comments[i]);
        if (F->printed)
            F->printed[i] = true;
        if (how == FMT_INLINE_BEFORE)
            fmt_puts(F, " ");
        first = false;
    }
    if (pos > F->src_pos)
        F->src_pos = pos;
}

/* Comments that shared a source line (after a block comment) share an output line. */
void fmt_leading(Fmt *F, uint32_t before, bool blank_ok)
{
    int i;
    while ((i = pending(F)) < F->ncomments && F->comments[i].lo < before) {
        const FmtComment *c = &F->comments[i];
        if (!F->line_start)
            fmt_newline(F);
        if (blank_ok && blank_between(F->src, F->last_end, c->lo))
            blank_line(F);
        print_comment(F, i);
        while (!c->line && (i = pending(F)) < F->ncomments) {
            const FmtComment *d = &F->comments[i];
            if (d->lo >= before || !same_line(F->src, c->hi, d->lo))
                break;
            for (int gap = source_gap(F->src, d->lo); gap > 0; gap--)
                fmt_put(F, " ", 1);
            print_comment(F, i);
            c = d;
        }
        fmt_newline(F);
        F->last_end = c->hi;
        F->no_blank = false;
    }
}

/* A comment at the end of a line keeps the blanks that separated it from the code in the
 * source (so comments aligned in a column stay aligned while the code is unchanged). What
 * follows a '#' comment stays pending: the next fmt_leading puts it on a line of its own,
 * as it would when formatting the output again. */
void fmt_trailing(Fmt *F, uint32_t at, uint32_t limit)
{
    int i;
    while ((i = pending(F)) < F->ncomments && !F->hash_on_line) {
        const FmtComment *c = &F->comments[i];
        if (c->lo >= at && (c->lo >= limit || !same_line(F->src, at, c->lo)))
            break;
        if (!F->line_start)
            for (int gap = source_gap(F->src, c->lo); gap > 0; gap--)
                fmt_put(F, " ", 1);
        print_comment(F, i);
        if (c->hi > at)
            at = c->hi;
        if (c->hi > F->last_end)
            F->last_end = c->hi;
    }
}

/* ---- blocks and statements ------------------------------------------------------------ */

static void stmt(Fmt *F, const AstNode *s);

static bool is_definition(const AstNode *s)
{
    return s->kind == AST_FN || s->kind == AST_DEF || s->kind == AST_TRAIN;
}

/* The statements of a block or of the program, one a line, then the comments before `end`
 * (the block's '}', or the end of the file). Blank lines between statements are kept (one
 * at most); at the top level a definition always has one before and after it. */
static void stmts(Fmt *F, const AstList *l, uint32_t end, bool top)
{
    for (int i = 0; i < l->len; i++) {
        const AstNode *s = l->items[i];
        if (top && i > 0 && (is_definition(s) || is_definition(l->items[i - 1])))
            blank_line(F);
        fmt_leading(F, fmt_first_token(s), true);
        if (blank_between(F->src, F->last_end, s->span.lo))
            blank_line(F);
        F->src_pos = s->span.lo;
        stmt(F, s);
        F->last_end = s->span.hi;
        fmt_trailing(F, s->span.hi, i + 1 < l->len ? l->items[i + 1]->span.lo : end);
        fmt_newline(F);
        F->no_blank = false;
    }
    fmt_leading(F, end, true);
}

FmtBlockShape fmt_block_shape(const Fmt *F, const AstNode *block)
{
    Span s = block->span;
    if (fmt_has_comment(F, s.lo, s.hi))
        return FMT_BLOCK_LINES;
    if (block->list.len == 0)
        return FMT_BLOCK_EMPTY;
    if (block->list.len > 1 || block->list.items[0]->kind != AST_EXPR_STMT)
        return FMT_BLOCK_LINES;
    if (memchr(F->src->text + s.lo, '\n', s.hi - s.lo))
        return FMT_BLOCK_LINES;
    return FMT_BLOCK_ONE_LINE;
}

void fmt_block_one_line(Fmt *F, const AstNode *block, int suffix)
{
    fmt_inline_comments(F, block->span.lo, FMT_INLINE_BEFORE);
    fmt_puts(F, "{ ");
    fmt_stmt_value(F, block->list.items[0]->expr, suffix + 2);
    fmt_puts(F, " }");
}

void fmt_block_lines(Fmt *F, const AstNode *block)
{
    const AstList *l = &block->list;
    uint32_t close = block->span.hi - 1;
    fmt_inline_comments(F, block->span.lo, FMT_INLINE_BEFORE);
    fmt_puts(F, "{");
    if (F->measure) {   /* only the first line's width matters */
        fmt_puts(F, "\n}");
        return;
    }
    fmt_trailing(F, block->span.lo + 1, l->len ? l->items[0]->span.lo : close);
    fmt_newline(F);
    F->indent++;
    F->no_blank = true;
    stmts(F, l, close, false);
    F->indent--;
    fmt_puts(F, "}");
}

/* The block of a definition or loop: "{}", "{ value }" if it was one line and fits, or
 * one statement a line. */
static void body(Fmt *F, const AstNode *block)
{
    FmtBlockShape shape = fmt_block_shape(F, block);
    fmt_inline_comments(F, block->span.lo, FMT_INLINE_BEFORE);
    if (shape == FMT_BLOCK_EMPTY) {
        fmt_puts(F, "{}");
        return;
    }
    if (shape == FMT_BLOCK_ONE_LINE) {
        Fmt M = fmt_measurer(F);
        fmt_block_one_line(&M, block, 0);
        FmtSize size = fmt_measured(&M);
        if (!size.multiline && F->col + size.width <= FMT_WIDTH) {
            fmt_block_one_line(F, block, 0);
            return;
        }
    }
    fmt_block_lines(F, block);
}

/* a, b, c — the targets of an assignment or loop, or a tuple statement. The last is
 * followed by `suffix` columns. */
static void expr_list(Fmt *F, const AstList *l, int suffix)
{
    for (int i = 0; i < l->len; i++) {
        if (i)
            fmt_puts(F, ", ");
        fmt_expr(F, l->items[i], i + 1 < l->len ? 1 : suffix);
    }
}

/* An expression statement's value. A tuple of two or more is written bare, `h, c`, as a
 * block's value usually is; with one element or none it keeps its parentheses. */
void fmt_stmt_value(Fmt *F, const AstNode *e, int suffix)
{
    if (e->kind == AST_TUPLE && e->list.len >= 2)
        expr_list(F, &e->list, suffix);
    else
        fmt_expr(F, e, suffix);
}

static void definition(Fmt *F, const AstNode *s, const char *keyword)
{
    fmt_puts(F, keyword);
    if (s->kind != AST_TRAIN) {
        fmt_puts(F, " ");
        fmt_puts(F, s->def.id.name);
    }
    if (s->kind != AST_TRAIN || s->def.params.len > 0) {
        const AstNode *ret = s->def.ret;
        fmt_params(F, s, 2 + (ret ? 4 + fmt_type_width(F, ret) : 0));
        if (ret) {
            fmt_puts(F, " -> ");
            fmt_type(F, ret);
        }
    }
    fmt_puts(F, " ");
    body(F, s->def.body);
}

static const char *assign_op(AstOp op)
{
    switch (op) {
    case AST_OP_ASSIGN: return " = ";
    case AST_OP_ADD: return " += ";
    case AST_OP_SUB: return " -= ";
    case AST_OP_MUL: return " *= ";
    case AST_OP_DIV: return " /= ";
    default: UNREACHABLE();
    }
}

static void stmt(Fmt *F, const AstNode *s)
{
    switch (s->kind) {
    case AST_EXPR_STMT: fmt_stmt_value(F, s->expr, 0); break;
    case AST_ASSIGN:
        expr_list(F, &s->assign.targets, 3);
        fmt_puts(F, assign_op(s->assign.op));
        fmt_expr(F, s->assign.value, 0);
        break;
    case AST_FOR:
        fmt_puts(F, "for ");
        expr_list(F, &s->loop.targets, 4);
        fmt_puts(F, " in ");
        fmt_expr(F, s->loop.iter, 2);
        fmt_puts(F, " ");
        body(F, s->loop.body);
        break;
    case AST_WHILE:
        fmt_puts(F, "while ");
        fmt_expr(F, s->cond.cond, 2);
        fmt_puts(F, " ");
        body(F, s->cond.then);
        break;
    case AST_RETURN:
        fmt_puts(F, "return");
        if (s->expr) {
            fmt_puts(F, " ");
            fmt_expr(F, s->expr, 0);
        }
        break;
    case AST_BREAK: fmt_puts(F, "break"); break;
    case AST_CONTINUE: fmt_puts(F, "continue"); break;
    case AST_PARAM_DECL:
    case AST_STATE_DECL:
        fmt_puts(F, s->kind == AST_PARAM_DECL ? "param " : "state ");
        fmt_puts(F, s->decl.id.name);
        if (s->decl.type) {
            fmt_puts(F, ": ");
            fmt_type(F, s->decl.type);
        }
        fmt_puts(F, " = ");
        fmt_expr(F, s->decl.init, 0);
        break;
    case AST_IMPORT:
        fmt_puts(F, "import ");
        fmt_puts(F, s->import.path);
        break;
    case AST_FN: definition(F, s, "fn"); break;
    case AST_DEF: definition(F, s, ast_def_kind_name(s->def.def_kind)); break;
    case AST_TRAIN: definition(F, s, "train"); break;
    default: UNREACHABLE();
    }
}

/* ---- entry points --------------------------------------------------------------------- */

char *fmt_render(const AstNode *program, const SourceFile *src, size_t *len)
{
    ASSERT(program->kind == AST_PROGRAM);
    Fmt F = {.src = src, .line_start = true, .no_blank = true, .head = -1};
    FmtComment *comments = scan_comments(src, &F.ncomments);
    F.comments = comments;
    F.printed = util_malloc(sizeof(bool) * (size_t)F.ncomments + 1);
    memset(F.printed, 0, sizeof(bool) * (size_t)F.ncomments + 1);
    stmts(&F, &program->list, UINT32_MAX, true);
    ASSERT(pending(&F) == F.ncomments);   /* no comment is lost */
    util_free(F.printed);
    util_free(comments);
    if (!F.buf)
        buf_append(&F, "", 0);
    *len = F.len;
    return F.buf;
}

int fmt_program(FILE *out, const AstNode *program, const SourceFile *src)
{
    size_t len;
    char *text = fmt_render(program, src, &len);
    bool ok = fwrite(text, 1, len, out) == len && fflush(out) == 0;
    util_free(text);
    return ok ? 0 : 1;
}

bool fmt_is_formatted(const AstNode *program, const SourceFile *src)
{
    size_t len;
    char *text = fmt_render(program, src, &len);
    bool same = len == src->len && memcmp(text, src->text, len) == 0;
    util_free(text);
    return same;
}
