/* expr.c — expressions, types and bracketed lists for nnc fmt.
 *
 * Parentheses are re-derived from the precedence table (docs/language.md §6.1): a child
 * is parenthesized when it binds looser than its parent, or equally on the side the
 * operator does not associate to. Call arguments, parameters, list and tuple elements are
 * written on one line when that fits in FMT_WIDTH columns (with what must follow on the
 * line); otherwise a sole bracketed item hugs (f(g( ... ))), a list literal of atoms fills
 * its lines, and anything else goes one item a line with a trailing comma. Index lists,
 * type dimensions and comprehensions never break: the grammar allows no trailing comma
 * there. */
#include "fmt/fmt_internal.h"
#include "util/util.h"

#include <string.h>

/* Binding strength, loosest first; PREC_POSTFIX is every primary and postfix form. */
enum {
    PREC_OR = 1, PREC_AND, PREC_NOT, PREC_COMPARE, PREC_RANGE, PREC_ADD, PREC_MUL,
    PREC_NEG, PREC_POW, PREC_POSTFIX,
};

static int op_prec(AstOp op)
{
    switch (op) {
    case AST_OP_OR: return PREC_OR;
    case AST_OP_AND: return PREC_AND;
    case AST_OP_NOT: return PREC_NOT;
    case AST_OP_EQ: case AST_OP_NE: case AST_OP_LT:
    case AST_OP_LE: case AST_OP_GT: case AST_OP_GE: return PREC_COMPARE;
    case AST_OP_ADD: case AST_OP_SUB: return PREC_ADD;
    case AST_OP_MUL: case AST_OP_DIV: case AST_OP_MOD: case AST_OP_MATMUL: return PREC_MUL;
    case AST_OP_NEG: return PREC_NEG;
    case AST_OP_POW: return PREC_POW;
    default: UNREACHABLE();
    }
}

static int prec(const AstNode *n)
{
    switch (n->kind) {
    case AST_BINARY:
    case AST_UNARY: return op_prec(n->op.op);
    case AST_RANGE: return PREC_RANGE;
    default: return PREC_POSTFIX;
    }
}

uint32_t fmt_first_token(const AstNode *n)
{
    for (;;) {
        const AstNode *left = NULL;
        bool paren = false;
        switch (n->kind) {
        case AST_EXPR_STMT:   /* a tuple statement is written bare: a, b */
            left = n->expr;
            if (left->kind == AST_TUPLE && left->list.len >= 2)
                left = left->list.items[0];
            break;
        case AST_ASSIGN: left = n->assign.targets.items[0]; break;
        case AST_ARG: left = n->arg.key.name ? NULL : n->arg.value; break;
        case AST_BINARY:
            left = n->op.lhs;
            paren = prec(left) < op_prec(n->op.op) ||
                    (prec(left) == op_prec(n->op.op) &&
                     (n->op.op == AST_OP_POW || op_prec(n->op.op) == PREC_COMPARE));
            break;
        case AST_RANGE: left = n->range.lo; paren = prec(left) <= PREC_RANGE; break;
        case AST_CALL: left = n->call.callee; paren = prec(left) < PREC_POSTFIX; break;
        case AST_MEMBER:
            left = n->member.object;
            paren = prec(left) < PREC_POSTFIX || left->kind == AST_INT;
            break;
        case AST_INDEX: left = n->index.object; paren = prec(left) < PREC_POSTFIX; break;
        default: break;
        }
        if (!left || paren)
            return n->span.lo;
        n = left;
    }
}

/* The child of an operator, in parentheses if asked; they take one column of suffix. */
static void child(Fmt *F, const AstNode *n, bool paren, int suffix)
{
    if (!paren) {
        fmt_expr(F, n, suffix);
        return;
    }
    fmt_puts(F, "(");
    fmt_expr(F, n, suffix + 1);
    fmt_puts(F, ")");
}

/* The columns of n up to its first breakable bracket: what must share a line with the
 * operand before it. Not called while measuring, which breaks nothing. */
static int head_width(const Fmt *F, const AstNode *n, bool paren)
{
    Fmt M = fmt_measurer(F);
    child(&M, n, paren, 0);
    return fmt_measured(&M).head;
}

/* One element of a list: an expression, a call argument or a definition's parameter. */
static void item(Fmt *F, const AstNode *n, int suffix)
{
    fmt_inline_comments(F, n->span.lo, FMT_INLINE_BEFORE);
    if (n->kind == AST_ARG) {
        if (n->arg.key.name) {
            fmt_puts(F, n->arg.key.name);
            fmt_puts(F, " = ");
        }
        fmt_expr(F, n->arg.value, suffix);
    } else if (n->kind == AST_PARAM) {
        fmt_puts(F, n->decl.id.name);
        if (n->decl.type) {
            fmt_puts(F, ": ");
            fmt_type(F, n->decl.type);
        }
        if (n->decl.init) {
            fmt_puts(F, " = ");
            fmt_expr(F, n->decl.init, suffix);
        }
    } else {
        fmt_expr(F, n, suffix);
    }
}

/* Comments in [from, close_at) that are not inside one of the list's items (from is where
 * the list starts in the source, callee included). Returns how many; *ends_line tells
 * whether one of them must end a line, so the list must break. */
static int between_comments(const Fmt *F, const AstList *items, uint32_t from,
                            uint32_t close_at, bool *ends_line)
{
    int count = 0, j = 0;
    *ends_line = false;
    for (int i = fmt_comment_at(F, from); i < F->ncomments; i++) {
        const FmtComment *c = &F->comments[i];
        if (c->lo >= close_at)
            break;
        while (j < items->len && items->items[j]->span.hi <= c->lo)
            j++;
        if (j < items->len && items->items[j]->span.lo <= c->lo)
            continue;   /* inside item j */
        count++;
        *ends_line |= fmt_comment_ends_line(F, i);
    }
    return count;
}

/* A sole argument or element that can break on its own: f(g(...)) breaks as f(g( ... )). */
static bool huggable(const AstNode *n)
{
    if (n->kind == AST_ARG)
        n = n->arg.key.name ? NULL : n->arg.value;
    if (!n)
        return false;
    if (n->kind == AST_CALL)
        return n->call.args.len > 0;
    return (n->kind == AST_LIST || n->kind == AST_TUPLE) && n->list.len > 0;
}

static bool atom(const AstNode *n)
{
    if (n->kind == AST_UNARY && n->op.op == AST_OP_NEG)
        n = n->op.lhs;
    return n->kind == AST_INT || n->kind == AST_FLOAT || n->kind == AST_BOOL ||
           n->kind == AST_STRING || n->kind == AST_NAME;
}

/* A list literal of atoms, or of lists of atoms (a tensor's rows), is filled: as many
 * items a line as fit. */
static bool fillable(const AstList *items)
{
    for (int i = 0; i < items->len; i++) {
        const AstNode *n = items->items[i];
        if (n->kind == AST_LIST) {
            for (int k = 0; k < n->list.len; k++)
                if (!atom(n->list.items[k]))
                    return false;
        } else if (!atom(n)) {
            return false;
        }
    }
    return true;
}

typedef enum Layout { LAYOUT_FLAT, LAYOUT_HUG, LAYOUT_FILL, LAYOUT_LINES } Layout;

/* open items close (see the top of the file). open_at and close_at are the brackets'
 * offsets in the source; fill allows LAYOUT_FILL (list literals); one_tuple keeps the comma
 * of a 1-tuple. Comments between items are printed in place: inline when the list is on
 * one line (a '#' comment, or one spanning lines, breaks the list), else before or after
 * their item; comments inside an item are the item's. */
static void list(Fmt *F, char open, const AstList *items, char close, uint32_t open_at,
                 uint32_t close_at, bool fill, bool one_tuple, int suffix)
{
    bool ends_line;
    int between = between_comments(F, items, F->src_pos, close_at, &ends_line);
    Layout layout = LAYOUT_FLAT;
    if (items->len > 0 && ends_line)
        layout = LAYOUT_LINES;
    if (!F->measure && items->len > 0 && layout == LAYOUT_FLAT) {
        Fmt M = fmt_measurer(F);
        list(&M, open, items, close, open_at, close_at, fill, one_tuple, 0);
        FmtSize size = fmt_measured(&M);
        if (size.multiline || F->col + size.width + suffix > FMT_WIDTH) {
            if (between == 0 && items->len == 1 && huggable(items->items[0]))
                layout = LAYOUT_HUG;
            else if (between == 0 && fill && fillable(items) &&
                     !fmt_has_comment(F, open_at, close_at))
                layout = LAYOUT_FILL;
            else
                layout = LAYOUT_LINES;
        }
    }
    fmt_put(F, &open, 1);
    if (F->measure && F->head < 0 && F->lines == 0 && items->len > 0)
        F->head = F->col;
    if (F->measure && layout == LAYOUT_LINES) {   /* it will break: the rest is not measured */
        fmt_puts(F, "\n");
        return;
    }
    switch (layout) {
    case LAYOUT_FLAT:
        for (int i = 0; i < items->len; i++) {
            const AstNode *n = items->items[i];
            if (i)
                fmt_puts(F, ", ");
            item(F, n, 0);
        }
        if (one_tuple && items->len == 1)
            fmt_puts(F, ",");
        fmt_inline_comments(F, close_at, items->len ? FMT_INLINE_AFTER : FMT_INLINE_ALONE);
        break;
    case LAYOUT_HUG:
        item(F, items->items[0], suffix + 1);
        break;
    case LAYOUT_FILL:
        fmt_newline(F);
        F->indent++;
        for (int i = 0; i < items->len; i++) {
            if (i) {
                Fmt M = fmt_measurer(F);
                item(&M, items->items[i], 0);
                if (F->col + 2 + fmt_measured(&M).width + 1 > FMT_WIDTH) {
                    fmt_puts(F, ",");
                    fmt_newline(F);
                } else {
                    fmt_puts(F, ", ");
                }
            }
            item(F, items->items[i], 0);
        }
        fmt_puts(F, ",");
        fmt_newline(F);
        F->indent--;
        break;
    case LAYOUT_LINES:
        fmt_trailing(F, open_at + 1, items->items[0]->span.lo);
        fmt_newline(F);
        F->indent++;
        for (int i = 0; i < items->len; i++) {
            const AstNode *n = items->items[i];
            fmt_leading(F, fmt_first_token(n), false);
            item(F, n, 1);
            fmt_puts(F, ",");
            uint32_t next = i + 1 < items->len ? items->items[i + 1]->span.lo : close_at;
            fmt_trailing(F, n->span.hi, next);
            fmt_newline(F);
        }
        fmt_leading(F, close_at, false);
        F->indent--;
        break;
    }
    fmt_put(F, &close, 1);
}

void fmt_params(Fmt *F, const AstNode *def, int suffix)
{
    const AstList *params = &def->def.params;
    uint32_t open = fmt_find(F, def->def.id.span.hi, '(');
    uint32_t last = params->len ? params->items[params->len - 1]->span.hi : open + 1;
    list(F, '(', params, ')', open, fmt_find(F, last, ')'), false, false, suffix);
}

/* One index of x[...] or dimension of a type: an expression, "..." or a slice lo:hi. */
static void index_item(Fmt *F, const AstNode *n)
{
    if (n->kind == AST_ELLIPSIS) {
        fmt_puts(F, "...");
    } else if (n->kind == AST_SLICE) {
        if (n->range.lo)
            fmt_expr(F, n->range.lo, 1);
        fmt_puts(F, ":");
        if (n->range.hi)
            fmt_expr(F, n->range.hi, 0);
    } else {
        fmt_expr(F, n, 0);
    }
}

static void index_items(Fmt *F, const AstList *l)
{
    for (int i = 0; i < l->len; i++) {
        if (i)
            fmt_puts(F, ", ");
        index_item(F, l->items[i]);
    }
}

void fmt_type(Fmt *F, const AstNode *t)
{
    fmt_inline_comments(F, t->span.lo, FMT_INLINE_BEFORE);
    switch (t->kind) {
    case AST_TYPE_NAME: fmt_puts(F, t->name); break;
    case AST_TYPE_TENSOR:
        fmt_puts(F, t->tensor.dtype.name);
        fmt_puts(F, "[");
        index_items(F, &t->tensor.dims);
        fmt_inline_comments(F, t->span.hi - 1, FMT_INLINE_AFTER);
        fmt_puts(F, "]");
        break;
    case AST_TYPE_LIST:
        fmt_puts(F, "[");
        fmt_type(F, t->expr);
        fmt_puts(F, "]");
        break;
    case AST_TYPE_TUPLE:
        fmt_puts(F, "(");
        for (int i = 0; i < t->list.len; i++) {
            if (i)
                fmt_puts(F, ", ");
            fmt_type(F, t->list.items[i]);
        }
        fmt_puts(F, ")");
        break;
    default: UNREACHABLE();
    }
}

int fmt_type_width(const Fmt *F, const AstNode *t)
{
    Fmt M = fmt_measurer(F);
    fmt_type(&M, t);
    return fmt_measured(&M).width;
}

/* A string literal with the escapes the lexer knows (\n \t \\ \" \0); other bytes as is. */
static void string_literal(Fmt *F, const char *s, size_t len)
{
    fmt_puts(F, "\"");
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '"': fmt_puts(F, "\\\""); break;
        case '\\': fmt_puts(F, "\\\\"); break;
        case '\n': fmt_puts(F, "\\n"); break;
        case '\t': fmt_puts(F, "\\t"); break;
        case '\0': fmt_puts(F, "\\0"); break;
        default: fmt_put(F, s + i, 1); break;
        }
    }
    fmt_puts(F, "\"");
}

/* Every block of an if / else if / else chain could be written on one line. */
static bool if_one_line_allowed(const Fmt *F, const AstNode *n)
{
    for (;;) {
        if (fmt_block_shape(F, n->cond.then) == FMT_BLOCK_LINES)
            return false;
        const AstNode *els = n->cond.els;
        if (!els)
            return true;
        if (els->kind != AST_IF)
            return fmt_block_shape(F, els) != FMT_BLOCK_LINES;
        n = els;
    }
}

static void if_block(Fmt *F, const AstNode *block, bool one_line, int suffix)
{
    FmtBlockShape shape = fmt_block_shape(F, block);
    if (shape == FMT_BLOCK_EMPTY) {
        fmt_inline_comments(F, block->span.lo, FMT_INLINE_BEFORE);
        fmt_puts(F, "{}");
    }
    else if (shape == FMT_BLOCK_ONE_LINE && (one_line || F->measure))
        fmt_block_one_line(F, block, suffix);
    else
        fmt_block_lines(F, block);
}

/* if c { a } else if d { b } else { c }: the whole chain is on one line, or none of it. */
static void if_chain(Fmt *F, const AstNode *n, bool one_line, int suffix)
{
    fmt_puts(F, "if ");
    fmt_expr(F, n->cond.cond, 2);
    fmt_puts(F, " ");
    if_block(F, n->cond.then, one_line, 0);
    const AstNode *els = n->cond.els;
    if (!els)
        return;
    fmt_puts(F, " else ");
    if (els->kind == AST_IF)
        if_chain(F, els, one_line, suffix);
    else
        if_block(F, els, one_line, suffix);
}

static void if_expr(Fmt *F, const AstNode *n, int suffix)
{
    bool one_line = if_one_line_allowed(F, n);
    if (one_line && !F->measure) {
        Fmt M = fmt_measurer(F);
        if_chain(&M, n, true, 0);
        FmtSize size = fmt_measured(&M);
        one_line = !size.multiline && F->col + size.width + suffix <= FMT_WIDTH;
    }
    if_chain(F, n, one_line, suffix);
}

static void binary(Fmt *F, const AstNode *n, int suffix)
{
    AstOp op = n->op.op;
    int p = op_prec(op);
    const AstNode *l = n->op.lhs, *r = n->op.rhs;
    /* ^ is right-associative, comparisons do not chain, the rest are left-associative. */
    bool right = op == AST_OP_POW, none = p == PREC_COMPARE;
    bool paren_l = prec(l) < p || (prec(l) == p && (right || none));
    bool paren_r = prec(r) < p || (prec(r) == p && !right);
    char sep[8];
    if (op == AST_OP_POW)
        snprintf(sep, sizeof sep, "^");
    else
        snprintf(sep, sizeof sep, " %s ", ast_op_name(op));
    int rhead = F->measure ? 0 : head_width(F, r, paren_r);
    child(F, l, paren_l, (int)strlen(sep) + rhead);
    fmt_puts(F, sep);
    child(F, r, paren_r, suffix);
}

void fmt_expr(Fmt *F, const AstNode *n, int suffix)
{
    const SourceFile *src = F->src;
    fmt_inline_comments(F, n->span.lo, FMT_INLINE_BEFORE);
    switch (n->kind) {
    case AST_INT:
    case AST_FLOAT:   /* as written: 0xff, 1_000, 1e-3 */
        fmt_put(F, src->text + n->span.lo, n->span.hi - n->span.lo);
        break;
    case AST_STRING: string_literal(F, n->str.text, n->str.len); break;
    case AST_BOOL: fmt_puts(F, n->bval ? "true" : "false"); break;
    case AST_NAME: fmt_puts(F, n->name); break;
    case AST_LIST:
        list(F, '[', &n->list, ']', n->span.lo, n->span.hi - 1, true, false, suffix);
        break;
    case AST_TUPLE:
        list(F, '(', &n->list, ')', n->span.lo, n->span.hi - 1, false, true, suffix);
        break;
    case AST_COMPREHENSION:
        fmt_puts(F, "[");
        fmt_expr(F, n->loop.body, 0);
        fmt_puts(F, " for ");
        for (int i = 0; i < n->loop.targets.len; i++) {
            if (i)
                fmt_puts(F, ", ");
            fmt_expr(F, n->loop.targets.items[i], 0);
        }
        fmt_puts(F, " in ");
        fmt_expr(F, n->loop.iter, suffix + 1);
        fmt_inline_comments(F, n->span.hi - 1, FMT_INLINE_AFTER);
        fmt_puts(F, "]");
        break;
    case AST_UNARY: {   /* "- -x", not "--x" */
        const AstNode *x = n->op.lhs;
        bool neg = n->op.op == AST_OP_NEG;
        fmt_puts(F, !neg ? "not " : x->kind == AST_UNARY && x->op.op == AST_OP_NEG ? "- " : "-");
        child(F, x, prec(x) < op_prec(n->op.op), suffix);
        break;
    }
    case AST_BINARY: binary(F, n, suffix); break;
    case AST_RANGE: {   /* a..b does not chain: parenthesize equal precedence both sides */
        bool paren_l = prec(n->range.lo) <= PREC_RANGE, paren_r = prec(n->range.hi) <= PREC_RANGE;
        int rhead = F->measure ? 0 : head_width(F, n->range.hi, paren_r);
        child(F, n->range.lo, paren_l, 2 + rhead);
        fmt_puts(F, "..");
        child(F, n->range.hi, paren_r, suffix);
        break;
    }
    case AST_CALL: {
        const AstNode *f = n->call.callee;
        child(F, f, prec(f) < PREC_POSTFIX, 1);
        list(F, '(', &n->call.args, ')', fmt_find(F, f->span.hi, '('), n->span.hi - 1, false,
             false, suffix);
        break;
    }
    case AST_MEMBER: {
        /* "1.x" would lex as a malformed number: an integer object needs parentheses. */
        const AstNode *o = n->member.object;
        child(F, o, prec(o) < PREC_POSTFIX || o->kind == AST_INT,
              1 + (int)strlen(n->member.field.name) + suffix);
        fmt_puts(F, ".");
        fmt_puts(F, n->member.field.name);
        break;
    }
    case AST_INDEX: {
        const AstNode *o = n->index.object;
        int rest = 0;
        if (!F->measure) {
            Fmt M = fmt_measurer(F);
            index_items(&M, &n->index.indices);
            rest = fmt_measured(&M).width + 2;
        }
        child(F, o, prec(o) < PREC_POSTFIX, rest + suffix);
        fmt_puts(F, "[");
        index_items(F, &n->index.indices);
        fmt_inline_comments(F, n->span.hi - 1, FMT_INLINE_AFTER);
        fmt_puts(F, "]");
        break;
    }
    case AST_SLICE:
    case AST_ELLIPSIS: index_item(F, n); break;
    case AST_IF: if_expr(F, n, suffix); break;
    case AST_ARG:
    case AST_PARAM: item(F, n, suffix); break;
    case AST_TYPE_NAME:
    case AST_TYPE_TENSOR:
    case AST_TYPE_LIST:
    case AST_TYPE_TUPLE: fmt_type(F, n); break;
    default: UNREACHABLE();
    }
}
