#define _GNU_SOURCE
#include "diag.h"
#include "util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

Span span_join(Span a, Span b)
{
    if (!a.file)
        return b;
    if (!b.file)
        return a;
    return (Span){a.file, a.lo < b.lo ? a.lo : b.lo, a.hi > b.hi ? a.hi : b.hi};
}

void diag_init(DiagSink *d) { *d = (DiagSink){0}; }

DiagMark diag_mark(const DiagSink *d) { return (DiagMark){d->len, d->errors}; }

void diag_rewind(DiagSink *d, DiagMark m)
{
    for (int i = m.len; i < d->len; i++)
        free(d->items[i].msg);  /* from vasprintf */
    if (m.len < d->len)
        d->len = m.len;
    d->errors = m.errors;
}

void diag_clear(DiagSink *d) { diag_rewind(d, (DiagMark){0, 0}); }

void diag_free(DiagSink *d)
{
    diag_clear(d);
    util_free(d->items);
    d->items = NULL;
    d->cap = 0;
}

static void add(DiagSink *d, DiagLevel level, Span at, const char *fmt, va_list ap)
{
    int limit = d->max_errors ? d->max_errors : 100;
    if (level == DIAG_ERROR && d->errors >= limit) {
        d->errors++;
        return;
    }
    if (level == DIAG_NOTE && d->errors > limit)
        return;
    char *msg;
    if (vasprintf(&msg, fmt, ap) < 0) {
        fputs("nnc: out of memory\n", stderr);
        exit(3);
    }
    if (d->len == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->items = util_realloc(d->items, sizeof(Diag) * (size_t)d->cap);
    }
    d->items[d->len++] = (Diag){level, at, msg};
    if (level == DIAG_ERROR)
        d->errors++;
}

void diag_error(DiagSink *d, Span at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(d, DIAG_ERROR, at, fmt, ap);
    va_end(ap);
}

void diag_note(DiagSink *d, Span at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(d, DIAG_NOTE, at, fmt, ap);
    va_end(ap);
}

void diag_line_col(const SourceFile *f, uint32_t off, int *line, int *col)
{
    int l = 1;
    uint32_t start = 0;
    if (off > f->len)
        off = f->len;
    for (uint32_t i = 0; i < off; i++)
        if (f->text[i] == '\n') {
            l++;
            start = i + 1;
        }
    *line = l;
    *col = (int)(off - start) + 1;
}

void diag_lines_init(DiagLines *l, const SourceFile *f)
{
    uint32_t n = 1;
    for (uint32_t i = 0; i < f->len; i++)
        n += f->text[i] == '\n';
    *l = (DiagLines){f, util_malloc(sizeof(uint32_t) * n), 0};
    l->starts[l->n++] = 0;
    for (uint32_t i = 0; i < f->len; i++)
        if (f->text[i] == '\n')
            l->starts[l->n++] = i + 1;
}

void diag_lines_free(DiagLines *l)
{
    util_free(l->starts);
    *l = (DiagLines){0};
}

void diag_lines_find(const DiagLines *l, Span s, int *line, int *col)
{
    if (s.file != l->file) {
        diag_line_col(s.file, s.lo, line, col);
        return;
    }
    uint32_t off = s.lo > l->file->len ? l->file->len : s.lo;
    uint32_t lo = 0, hi = l->n;  /* the last start <= off is in [lo, hi) */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (l->starts[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    *line = (int)lo + 1;
    *col = (int)(off - l->starts[lo]) + 1;
}

/* Print the source line holding span.lo and a ^~~~ mark under [lo, hi) on that line.
 * Control and non-ASCII bytes are shown as '?' so binary input cannot garble the terminal. */
static void print_excerpt(FILE *out, Span s, const char *mark_color, const char *reset)
{
    const SourceFile *f = s.file;
    uint32_t lo = s.lo > f->len ? f->len : s.lo;
    uint32_t start = lo, end = lo;
    while (start > 0 && f->text[start - 1] != '\n')
        start--;
    while (end < f->len && f->text[end] != '\n')
        end++;
    if (end - start > 200)  /* keep very long (or binary) lines readable */
        end = start + 200 > lo ? start + 200 : lo;
    fputs(" ", out);
    for (uint32_t i = start; i < end; i++) {
        unsigned char c = (unsigned char)f->text[i];
        fputc(c == '\t' ? ' ' : (c < 32 || c >= 127) ? '?' : c, out);
    }
    fputs("\n ", out);
    for (uint32_t i = start; i < lo; i++)
        fputc(' ', out);
    fputs(mark_color, out);
    fputc('^', out);
    uint32_t hi = s.hi < end ? s.hi : end;
    for (uint32_t i = lo + 1; i < hi; i++)
        fputc('~', out);
    fputs(reset, out);
    fputc('\n', out);
}

/* Diagnostics print in source order: each error (with the notes that follow it) is placed
 * by its file name and offset; the stable sort keeps the recording order of equal places. */
typedef struct DiagGroup {
    int first, count;
} DiagGroup;

static const Diag *group_head(const DiagSink *d, const DiagGroup *g) { return &d->items[g->first]; }

static int group_before(const DiagSink *d, const DiagGroup *a, const DiagGroup *b)
{
    const Span *x = &group_head(d, a)->span, *y = &group_head(d, b)->span;
    if (!x->file || !y->file)
        return x->file ? 0 : y->file ? 1 : 0;
    int byname = strcmp(x->file->name, y->file->name);
    if (byname)
        return byname < 0;
    return x->lo < y->lo;
}

static void print_one(const DiagSink *d, const Diag *g, FILE *out);

void diag_print(const DiagSink *d, FILE *out)
{
    DiagGroup *groups = util_malloc(sizeof(DiagGroup) * (size_t)(d->len + 1));
    int n = 0;
    for (int i = 0; i < d->len; i++) {
        if (d->items[i].level != DIAG_NOTE || n == 0)
            groups[n++] = (DiagGroup){i, 0};
        groups[n - 1].count++;
    }
    for (int i = 1; i < n; i++) { /* insertion sort: stable, and lists are short */
        DiagGroup g = groups[i];
        int j = i;
        while (j > 0 && group_before(d, &g, &groups[j - 1])) {
            groups[j] = groups[j - 1];
            j--;
        }
        groups[j] = g;
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < groups[i].count; k++)
            print_one(d, &d->items[groups[i].first + k], out);
    util_free(groups);
    int limit = d->max_errors ? d->max_errors : 100;
    if (d->errors > limit)
        fprintf(out, "nnc: too many errors (%d); stopped after %d\n", d->errors, limit);
}

static void print_one(const DiagSink *d, const Diag *g, FILE *out)
{
    static const char *names[] = {"error", "warning", "note"};
    const char *bold = d->color ? "\033[1m" : "";
    const char *reset = d->color ? "\033[0m" : "";
    const char *colors[] = {d->color ? "\033[1;31m" : "", d->color ? "\033[1;35m" : "",
                            d->color ? "\033[1;36m" : ""};
    if (g->span.file) {
        int line, col;
        diag_line_col(g->span.file, g->span.lo, &line, &col);
        fprintf(out, "%s%s:%d:%d:%s ", bold, g->span.file->name, line, col, reset);
    } else {
        fprintf(out, "%snnc:%s ", bold, reset);
    }
    fprintf(out, "%s%s:%s %s%s%s\n", colors[g->level], names[g->level], reset, bold, g->msg, reset);
    if (g->span.file)
        print_excerpt(out, g->span, colors[g->level], reset);
}

bool diag_use_color(DiagColor mode, FILE *stream)
{
    if (mode == DIAG_COLOR_ALWAYS)
        return true;
    if (mode == DIAG_COLOR_NEVER)
        return false;
    const char *no = getenv("NO_COLOR");
    if (no && *no)
        return false;
    const char *term = getenv("TERM");
    if (term && strcmp(term, "dumb") == 0)
        return false;
    return isatty(fileno(stream));
}
