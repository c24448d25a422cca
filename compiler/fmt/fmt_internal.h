/* fmt_internal.h — what the formatter's two files share: fmt.c (output, comments,
 * statements, blocks) and expr.c (expressions, types, bracketed lists, line breaking). */
#ifndef NNC_FMT_INTERNAL_H
#define NNC_FMT_INTERNAL_H

#include "fmt/fmt.h"

#include <stdint.h>

enum {
    FMT_WIDTH = 100,   /* lines are kept to this many columns where a break can help */
    FMT_INDENT = 4,    /* spaces per nesting level */
};

/* One comment as found in the source: [lo, hi) includes its '#' or its delimiters. */
typedef struct FmtComment {
    uint32_t lo, hi;
    bool line;         /* a '#' comment: it runs to the end of its line */
} FmtComment;

/* The formatter's state. A second Fmt with `measure` set renders a piece flat into its
 * own buffer to learn its width: it breaks nothing (a list that must break writes a
 * newline and stops) and prints only the block comments that would be inline. */
typedef struct Fmt {
    const SourceFile *src;
    const FmtComment *comments;    /* in source order */
    int ncomments;
    bool *printed;                 /* per comment: printed already (NULL when measuring) */
    int next_comment;              /* every comment before this one has been printed */
    char *buf;                     /* the output so far */
    size_t len, cap;
    int col;                       /* columns (code points) on the current output line */
    int lines;                     /* newlines written */
    int indent;                    /* nesting depth of the current line */
    bool line_start;               /* nothing on this line yet; the indent is pending */
    bool hash_on_line;             /* a '#' comment ends this line: nothing may follow */
    bool no_blank;                 /* no blank line may come next (block start, or one
                                      was just written) */
    uint32_t src_pos;              /* block comments before this offset are placed: the
                                      inline ones printed, the others left for a line end */
    uint32_t last_end;             /* source end of the last statement or comment printed
                                      at line level: blank lines are looked for after it */
    bool measure;                  /* a measuring Fmt (see above) */
    int head;                      /* measuring: the column just after the first bracket
                                      that could break, or -1 */
} Fmt;

/* The size of a flat rendering: width of its first line, the columns up to and including
 * its first breakable bracket (the whole width if none), and whether it spans lines (a
 * block that cannot be written on one line). */
typedef struct FmtSize {
    int width, head;
    bool multiline;
} FmtSize;

/* How a block is written: "{}", "{ value }" when allowed and it fits, or one statement a
 * line. */
typedef enum FmtBlockShape { FMT_BLOCK_EMPTY, FMT_BLOCK_ONE_LINE, FMT_BLOCK_LINES } FmtBlockShape;

/* fmt.c */
void fmt_put(Fmt *F, const char *s, size_t n);
void fmt_puts(Fmt *F, const char *s);
void fmt_newline(Fmt *F);
/* A measuring Fmt that starts where F is in the source (same src_pos). */
Fmt fmt_measurer(const Fmt *F);
FmtSize fmt_measured(Fmt *M);          /* frees M's buffer */
bool fmt_has_comment(const Fmt *F, uint32_t lo, uint32_t hi);
/* The index of the first comment that starts at or after lo (ncomments if none). */
int fmt_comment_at(const Fmt *F, uint32_t lo);
/* Whether comment i must end its line: a '#' comment, or a block comment over lines. */
bool fmt_comment_ends_line(const Fmt *F, int i);
/* Block comments are printed where they are: those in [src_pos, pos) not printed yet are
 * written inline, before a node ("c "), after the last item of a list (" c"), or alone in an
 * empty one (separated by spaces). '#' comments are left for the end of the line. Moves
 * src_pos to pos. */
typedef enum FmtInline { FMT_INLINE_BEFORE, FMT_INLINE_AFTER, FMT_INLINE_ALONE } FmtInline;
void fmt_inline_comments(Fmt *F, uint32_t pos, FmtInline how);
/* The offset of the next `ch` at or after pos, skipping comments (pos if none). */
uint32_t fmt_find(const Fmt *F, uint32_t pos, char ch);
/* Comments before `before`, each on its own line (with the blank line before it kept when
 * blank_ok). Called at the start of a line. */
void fmt_leading(Fmt *F, uint32_t before, bool blank_ok);
/* Comments that end the current line: those before `at` not yet printed (they were inside
 * what was just written), then those after `at` on the same source line and before
 * `limit`. Called just before a newline. */
void fmt_trailing(Fmt *F, uint32_t at, uint32_t limit);
/* The shape a block may take, if it fits (one-line only if it was one line in the source). */
FmtBlockShape fmt_block_shape(const Fmt *F, const AstNode *block);
void fmt_block_one_line(Fmt *F, const AstNode *block, int suffix);
void fmt_block_lines(Fmt *F, const AstNode *block);
/* An expression statement's value: a tuple of two or more is written without parentheses. */
void fmt_stmt_value(Fmt *F, const AstNode *e, int suffix);

/* expr.c. `suffix` is how many columns must follow on the same line (a closing bracket,
 * " {"): a bracketed list breaks if its flat form would end past FMT_WIDTH - suffix. */
void fmt_expr(Fmt *F, const AstNode *n, int suffix);
void fmt_type(Fmt *F, const AstNode *t);
/* Where the first token printed for statement or item n is in the source: past the
 * parentheses the formatter drops ("(f)(x)" prints as "f(x)"). Comments before it are
 * printed on lines of their own, as they will be when the output is formatted again. */
uint32_t fmt_first_token(const AstNode *n);
/* "(params)" of a definition; suffix as above. */
void fmt_params(Fmt *F, const AstNode *def, int suffix);
int fmt_type_width(const Fmt *F, const AstNode *t);

#endif
