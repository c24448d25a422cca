/* diag.h — source files, spans and diagnostics.
 * Spans are byte offsets into one SourceFile; line:col is computed only when printing.
 * Stages record errors and go on; the driver prints them and decides the exit status. */
#ifndef NNC_DIAG_H
#define NNC_DIAG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct SourceFile {
    const char *name;  /* as given on the command line; printed in diagnostics */
    const char *text;  /* NUL-terminated; may contain other NULs (binary input) */
    uint32_t len;
} SourceFile;

typedef struct Span {
    const SourceFile *file;
    uint32_t lo, hi;   /* [lo, hi) byte offsets */
} Span;

Span span_join(Span a, Span b);

typedef enum DiagLevel { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE } DiagLevel;

typedef struct Diag {
    DiagLevel level;
    Span span;
    char *msg;
} Diag;

typedef struct DiagSink {
    Diag *items;
    int len, cap;
    int errors;
    bool color;
    int max_errors;    /* stop recording errors past this many (0: 100) */
} DiagSink;

void diag_init(DiagSink *d);
void diag_free(DiagSink *d);
/* Record an error/note; notes attach to the error recorded just before. */
void diag_error(DiagSink *d, Span at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_note(DiagSink *d, Span at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Print all recorded diagnostics as "file:line:col: error: msg", the line and a ^~~ mark. */
void diag_print(const DiagSink *d, FILE *out);
void diag_clear(DiagSink *d);
/* What the sink holds now; diag_rewind drops everything recorded since. */
typedef struct DiagMark {
    int len, errors;
} DiagMark;
DiagMark diag_mark(const DiagSink *d);
void diag_rewind(DiagSink *d, DiagMark m);
/* 1-based line and column (in bytes) of an offset. Counts lines from the file's start:
 * for one lookup (a diagnostic); many use a DiagLines. */
void diag_line_col(const SourceFile *f, uint32_t off, int *line, int *col);

/* The offsets where a file's lines start, for many line:col lookups in one file
 * (--emit=tokens, --emit=ast): built in one pass, each lookup a binary search. */
typedef struct DiagLines {
    const SourceFile *file;
    uint32_t *starts;  /* starts[0] = 0, then one past each '\n', ascending */
    uint32_t n;
} DiagLines;
void diag_lines_init(DiagLines *l, const SourceFile *f);
void diag_lines_free(DiagLines *l);
/* As diag_line_col; a span of another file than l's is looked up with diag_line_col. */
void diag_lines_find(const DiagLines *l, Span s, int *line, int *col);

/* How the CLI's --color flag and NO_COLOR resolve for a stream. */
typedef enum DiagColor { DIAG_COLOR_AUTO, DIAG_COLOR_ALWAYS, DIAG_COLOR_NEVER } DiagColor;
bool diag_use_color(DiagColor mode, FILE *stream);

#endif
