/* parser.y — the grammar of nnc (docs/language.md). Each action is one constructor call. */
%code requires {
#include "ast/ast.h"
#include "lex/lex.h"

typedef struct ParseCtx {
    Lexer lex;
    Arena *arena;
    DiagSink *diags;
    AstNode *program;
} ParseCtx;
}


%code {
#include "parse/parse.h"

#include <string.h>

static int yylex(YYSTYPE *val, Span *loc, ParseCtx *ctx);
static void yyerror(Span *loc, ParseCtx *ctx, const char *msg);
static AstList ast_list_prepend(Arena *a, AstList l, AstNode *n);
static const char *arena_join_path(Arena *a, const char *dir, const char *name);

#define YYLLOC_DEFAULT(Cur, Rhs, N)                                         \
    do {                                                                    \
        if (N) (Cur) = span_join(YYRHSLOC(Rhs, 1), YYRHSLOC(Rhs, N));       \
        else   (Cur) = (Span){YYRHSLOC(Rhs, 0).file, YYRHSLOC(Rhs, 0).hi,   \
                              YYRHSLOC(Rhs, 0).hi};                         \
    } while (0)
#define YY_LOCATION_PRINT(File, Loc) ((void)0)
}

%define api.pure full
%define api.location.type {Span}
%define api.token.prefix {TOK_}
%define parse.error custom
%locations
%param {ParseCtx *ctx}
%expect 0
%initial-action { @$ = (Span){ctx->lex.file, 0, 0}; }

%union {
    int64_t ival;
    double fval;
    struct { const char *text; size_t len; } str;
    AstNode *node;
    AstList list;
    AstOp op;
    AstIdent ident;
}

%token NEWLINE "newline"
%token <str> IDENT "identifier"
%token <ival> INT "integer"
%token <fval> FLOAT "number"
%token <str> STRING "string"
%token TRUE "true" FALSE "false" AND "and" OR "or" NOT "not"
%token IMPORT "import" FN "fn" LAYER "layer" MODEL "model" OPTIMIZER "optimizer"
%token PARAM "param" STATE "state" TRAIN "train" FOR "for" IN "in" IF "if" ELSE "else"
%token WHILE "while" RETURN "return" BREAK "break" CONTINUE "continue" LET "let"
%token PLUS "+" MINUS "-" STAR "*" SLASH "/" AT "@" CARET "^" PERCENT "%"
%token EQ "==" NE "!=" LT "<" LE "<=" GT ">" GE ">="
%token ASSIGN "=" PLUS_ASSIGN "+=" MINUS_ASSIGN "-=" STAR_ASSIGN "*=" SLASH_ASSIGN "/="
%token COMMA "," COLON ":" SEMI ";" DOT "." DOTDOT ".." ELLIPSIS "..." ARROW "->"
%token LPAREN "(" RPAREN ")" LBRACK "[" RBRACK "]" LBRACE "{" RBRACE "}"
%token ERROR "invalid token"

%type <node> stmt expr primary arg index type opt_type opt_default param if_expr else_part
%type <node> block opt_ret def_stmt
%type <list> stmts block_items expr_list args arg_list elems indices params param_list
%type <list> dims type_list
%type <op> assign_op
%type <ident> ident member_name
%type <str> module_path

%left OR
%left AND
%precedence NOT
%nonassoc EQ NE LT LE GT GE
%nonassoc DOTDOT
%left PLUS MINUS
%left STAR SLASH AT PERCENT
%precedence UMINUS
%right CARET

%%

program
    : stmts[s]                      { ctx->program = ast_list(ctx->arena, @$, AST_PROGRAM, $s); }
    ;

stmts
    : %empty                        { $$ = ast_list_empty(); }
    | stmts end                     { $$ = $1; }
    | stmts stmt end                { $$ = ast_list_append(ctx->arena, $1, $2); }
    | stmts error end               { $$ = $1; yyerrok; }
    ;

end : NEWLINE | SEMI ;

block
    : "{" block_items[s] "}"        { $$ = ast_list(ctx->arena, @$, AST_BLOCK, $s); }
    ;

/* The last statement of a block needs no terminator: { x @ w + b } */
block_items
    : stmts
    | stmts stmt                    { $$ = ast_list_append(ctx->arena, $1, $2); }
    | stmts error                   { $$ = $1; }
    ;

stmt
    : expr_list[e]                  { $$ = ast_unit(ctx->arena, @$, AST_EXPR_STMT,
                                            $e.len == 1 ? $e.items[0]
                                                        : ast_list(ctx->arena, @$, AST_TUPLE, $e)); }
    | expr_list[t] assign_op[o] expr[v]
                                    { $$ = ast_assign(ctx->arena, @$, $t, $o, $v); }
    | FOR expr_list[t] IN expr[i] block[b]
                                    { $$ = ast_loop(ctx->arena, @$, AST_FOR, $t, $i, $b); }
    | WHILE expr[c] block[b]        { $$ = ast_if(ctx->arena, @$, AST_WHILE, $c, $b, NULL); }
    | RETURN                        { $$ = ast_unit(ctx->arena, @$, AST_RETURN, NULL); }
    | RETURN expr[v]                { $$ = ast_unit(ctx->arena, @$, AST_RETURN, $v); }
    | BREAK                         { $$ = ast_new(ctx->arena, AST_BREAK, @$); }
    | CONTINUE                      { $$ = ast_new(ctx->arena, AST_CONTINUE, @$); }
    | PARAM ident[n] ":" type[t] "=" expr[v]
                                    { $$ = ast_decl(ctx->arena, @$, AST_PARAM_DECL, $n, $t, $v); }
    | STATE ident[n] opt_type[t] "=" expr[v]
                                    { $$ = ast_decl(ctx->arena, @$, AST_STATE_DECL, $n, $t, $v); }
    | IMPORT module_path[m]         { $$ = ast_import(ctx->arena, @$, $m.text, @m); }
    | def_stmt
    ;

def_stmt
    : FN ident[n] "(" params[p] ")" opt_ret[r] block[b]
                                    { $$ = ast_def(ctx->arena, @$, AST_FN, 0, $n, $p, $r, $b); }
    | LAYER ident[n] "(" params[p] ")" block[b]
                                    { $$ = ast_def(ctx->arena, @$, AST_DEF, AST_DEF_LAYER, $n, $p, NULL, $b); }
    | MODEL ident[n] "(" params[p] ")" block[b]
                                    { $$ = ast_def(ctx->arena, @$, AST_DEF, AST_DEF_MODEL, $n, $p, NULL, $b); }
    | OPTIMIZER ident[n] "(" params[p] ")" block[b]
                                    { $$ = ast_def(ctx->arena, @$, AST_DEF, AST_DEF_OPTIMIZER, $n, $p, NULL, $b); }
    | TRAIN block[b]                { $$ = ast_def(ctx->arena, @$, AST_TRAIN, 0, ast_ident("train", @1),
                                                   ast_list_empty(), NULL, $b); }
    | TRAIN "(" params[p] ")" block[b]
                                    { $$ = ast_def(ctx->arena, @$, AST_TRAIN, 0, ast_ident("train", @1),
                                                   $p, NULL, $b); }
    ;

assign_op
    : "="                           { $$ = AST_OP_ASSIGN; }
    | "+="                          { $$ = AST_OP_ADD; }
    | "-="                          { $$ = AST_OP_SUB; }
    | "*="                          { $$ = AST_OP_MUL; }
    | "/="                          { $$ = AST_OP_DIV; }
    ;

module_path
    : IDENT
    | module_path[m] "." IDENT[n]   { $$.text = arena_join_path(ctx->arena, $m.text, $n.text);
                                      $$.len = strlen($$.text); }
    ;

ident
    : IDENT[n]                      { $$ = ast_ident($n.text, @n); }
    ;

params
    : %empty                        { $$ = ast_list_empty(); }
    | param_list
    | param_list ","
    ;

param_list
    : param[p]                      { $$ = ast_list_one(ctx->arena, $p); }
    | param_list[l] "," param[p]    { $$ = ast_list_append(ctx->arena, $l, $p); }
    ;

param
    : ident[n] opt_type[t] opt_default[d]
                                    { $$ = ast_decl(ctx->arena, @$, AST_PARAM, $n, $t, $d); }
    ;

opt_type
    : %empty                        { $$ = NULL; }
    | ":" type[t]                   { $$ = $t; }
    ;

opt_default
    : %empty                        { $$ = NULL; }
    | "=" expr[v]                   { $$ = $v; }
    ;

opt_ret
    : %empty                        { $$ = NULL; }
    | "->" type[t]                  { $$ = $t; }
    ;

type
    : IDENT[n]                      { $$ = ast_name(ctx->arena, @$, $n.text); $$->kind = AST_TYPE_NAME; }
    | ident[d] "[" dims[l] "]"      { $$ = ast_tensor_type(ctx->arena, @$, $d, $l); }
    | ident[d] "[" "]"              { $$ = ast_tensor_type(ctx->arena, @$, $d, ast_list_empty()); }
    | "[" type[t] "]"               { $$ = ast_unit(ctx->arena, @$, AST_TYPE_LIST, $t); }
    | "(" type_list[l] ")"          { $$ = ast_list(ctx->arena, @$, AST_TYPE_TUPLE, $l); }
    ;

type_list
    : type[t]                       { $$ = ast_list_one(ctx->arena, $t); }
    | type_list[l] "," type[t]      { $$ = ast_list_append(ctx->arena, $l, $t); }
    ;

dims
    : index[d]                      { $$ = ast_list_one(ctx->arena, $d); }
    | dims[l] "," index[d]          { $$ = ast_list_append(ctx->arena, $l, $d); }
    ;

expr_list
    : expr[e]                       { $$ = ast_list_one(ctx->arena, $e); }
    | expr_list[l] "," expr[e]      { $$ = ast_list_append(ctx->arena, $l, $e); }
    ;

expr
    : primary
    | "-" expr[x] %prec UMINUS      { $$ = ast_unary(ctx->arena, @$, AST_OP_NEG, $x); }
    | NOT expr[x]                   { $$ = ast_unary(ctx->arena, @$, AST_OP_NOT, $x); }
    | expr[l] "+" expr[r]           { $$ = ast_binary(ctx->arena, @$, AST_OP_ADD, $l, $r); }
    | expr[l] "-" expr[r]           { $$ = ast_binary(ctx->arena, @$, AST_OP_SUB, $l, $r); }
    | expr[l] "*" expr[r]           { $$ = ast_binary(ctx->arena, @$, AST_OP_MUL, $l, $r); }
    | expr[l] "/" expr[r]           { $$ = ast_binary(ctx->arena, @$, AST_OP_DIV, $l, $r); }
    | expr[l] "%" expr[r]           { $$ = ast_binary(ctx->arena, @$, AST_OP_MOD, $l, $r); }
    | expr[l] "@" expr[r]           { $$ = ast_binary(ctx->arena, @$, AST_OP_MATMUL, $l, $r); }
    | expr[l] "^" expr[r]           { $$ = ast_binary(ctx->arena, @$, AST_OP_POW, $l, $r); }
    | expr[l] "==" expr[r]          { $$ = ast_binary(ctx->arena, @$, AST_OP_EQ, $l, $r); }
    | expr[l] "!=" expr[r]          { $$ = ast_binary(ctx->arena, @$, AST_OP_NE, $l, $r); }
    | expr[l] "<" expr[r]           { $$ = ast_binary(ctx->arena, @$, AST_OP_LT, $l, $r); }
    | expr[l] "<=" expr[r]          { $$ = ast_binary(ctx->arena, @$, AST_OP_LE, $l, $r); }
    | expr[l] ">" expr[r]           { $$ = ast_binary(ctx->arena, @$, AST_OP_GT, $l, $r); }
    | expr[l] ">=" expr[r]          { $$ = ast_binary(ctx->arena, @$, AST_OP_GE, $l, $r); }
    | expr[l] AND expr[r]           { $$ = ast_binary(ctx->arena, @$, AST_OP_AND, $l, $r); }
    | expr[l] OR expr[r]            { $$ = ast_binary(ctx->arena, @$, AST_OP_OR, $l, $r); }
    | expr[l] ".." expr[r]          { $$ = ast_range(ctx->arena, @$, AST_RANGE, $l, $r); }
    ;

primary
    : INT[v]                        { $$ = ast_int(ctx->arena, @$, $v); }
    | FLOAT[v]                      { $$ = ast_float(ctx->arena, @$, $v); }
    | STRING[s]                     { $$ = ast_string(ctx->arena, @$, $s.text, $s.len); }
    | TRUE                          { $$ = ast_bool(ctx->arena, @$, true); }
    | FALSE                         { $$ = ast_bool(ctx->arena, @$, false); }
    | IDENT[n]                      { $$ = ast_name(ctx->arena, @$, $n.text); }
    | "(" expr[e] ")"               { $$ = $e; }
    | "(" ")"                       { $$ = ast_list(ctx->arena, @$, AST_TUPLE, ast_list_empty()); }
    | "(" expr[e] "," ")"           { $$ = ast_list(ctx->arena, @$, AST_TUPLE, ast_list_one(ctx->arena, $e)); }
    | "(" expr[e] "," expr_list[l] ")"
                                    { $$ = ast_list(ctx->arena, @$, AST_TUPLE, ast_list_prepend(ctx->arena, $l, $e)); }
    | "(" expr[e] "," expr_list[l] "," ")"
                                    { $$ = ast_list(ctx->arena, @$, AST_TUPLE, ast_list_prepend(ctx->arena, $l, $e)); }
    | "[" elems[l] "]"              { $$ = ast_list(ctx->arena, @$, AST_LIST, $l); }
    | "[" expr[e] FOR expr_list[t] IN expr[i] "]"
                                    { $$ = ast_loop(ctx->arena, @$, AST_COMPREHENSION, $t, $i, $e); }
    | primary[f] "(" args[a] ")"    { $$ = ast_call(ctx->arena, @$, $f, $a); }
    | primary[o] "." member_name[m] { $$ = ast_member(ctx->arena, @$, $o, $m); }
    | primary[o] "[" indices[i] "]" { $$ = ast_index(ctx->arena, @$, $o, $i); }
    | if_expr
    ;

member_name
    : ident
    | TRAIN                         { $$ = ast_ident("train", @1); }
    | MODEL                         { $$ = ast_ident("model", @1); }
    | STATE                         { $$ = ast_ident("state", @1); }
    | PARAM                         { $$ = ast_ident("param", @1); }
    ;

if_expr
    : IF expr[c] block[t] else_part[e]
                                    { $$ = ast_if(ctx->arena, @$, AST_IF, $c, $t, $e); }
    ;

else_part
    : %empty                        { $$ = NULL; }
    | ELSE block[b]                 { $$ = $b; }
    | ELSE if_expr[i]               { $$ = $i; }
    ;

elems
    : %empty                        { $$ = ast_list_empty(); }
    | expr_list
    | expr_list ","
    ;

indices
    : index[i]                      { $$ = ast_list_one(ctx->arena, $i); }
    | indices[l] "," index[i]       { $$ = ast_list_append(ctx->arena, $l, $i); }
    ;

index
    : expr
    | "..."                         { $$ = ast_new(ctx->arena, AST_ELLIPSIS, @$); }
    | ":"                           { $$ = ast_range(ctx->arena, @$, AST_SLICE, NULL, NULL); }
    | expr[l] ":"                   { $$ = ast_range(ctx->arena, @$, AST_SLICE, $l, NULL); }
    | ":" expr[h]                   { $$ = ast_range(ctx->arena, @$, AST_SLICE, NULL, $h); }
    | expr[l] ":" expr[h]           { $$ = ast_range(ctx->arena, @$, AST_SLICE, $l, $h); }
    ;

args
    : %empty                        { $$ = ast_list_empty(); }
    | arg_list
    | arg_list ","
    ;

arg_list
    : arg[a]                        { $$ = ast_list_one(ctx->arena, $a); }
    | arg_list[l] "," arg[a]        { $$ = ast_list_append(ctx->arena, $l, $a); }
    ;

arg
    : expr[v]                       { $$ = ast_arg(ctx->arena, @$, ast_no_ident(), $v); }
    | ident[n] "=" expr[v]          { $$ = ast_arg(ctx->arena, @$, $n, $v); }
    ;

%%

static AstList ast_list_prepend(Arena *a, AstList l, AstNode *n)
{
    AstList r = ast_list_one(a, n);
    for (int i = 0; i < l.len; i++)
        r = ast_list_append(a, r, l.items[i]);
    return r;
}

/* "a" + "b" -> "a.b" (module paths) */
static const char *arena_join_path(Arena *a, const char *dir, const char *name)
{
    size_t n = strlen(dir), m = strlen(name);
    char *s = arena_alloc(a, n + m + 2);
    memcpy(s, dir, n);
    s[n] = '.';
    memcpy(s + n + 1, name, m + 1);
    return s;
}

/* Bison calls this only when its stack is exhausted. */
static void yyerror(Span *loc, ParseCtx *ctx, const char *msg)
{
    (void)msg;
    diag_error(ctx->diags, *loc, "expression nested too deeply to parse");
}

static int yylex(YYSTYPE *val, Span *loc, ParseCtx *ctx)
{
    LexValue v;
    int tok = lex_next(&ctx->lex, loc, &v);
    switch (tok) {
    case TOK_INT: val->ival = v.ival; break;
    case TOK_FLOAT: val->fval = v.fval; break;
    case TOK_IDENT:
    case TOK_STRING:
        val->str.text = v.text;
        val->str.len = v.len;
        break;
    default: break;
    }
    return tok;
}

/* A token as messages show it: punctuation and keywords quoted ('='), classes not. */
static const char *display_name(yysymbol_kind_t k, char *buf, size_t n)
{
    switch (k) {
    case YYSYMBOL_YYEOF: return "end of file";
    case YYSYMBOL_NEWLINE:
    case YYSYMBOL_IDENT:
    case YYSYMBOL_INT:
    case YYSYMBOL_FLOAT:
    case YYSYMBOL_STRING:
    case YYSYMBOL_ERROR: return yysymbol_name(k);
    default: snprintf(buf, n, "'%s'", yysymbol_name(k)); return buf;
    }
}

/* "unexpected ')', expected expression" — at most four expected tokens are named.
 * An invalid token was already reported by the lexer, so it is not reported again.
 * An error inside brackets opened on an earlier line also names where they opened,
 * since newlines there do not end the statement. */
static int yyreport_syntax_error(const yypcontext_t *pc, ParseCtx *ctx)
{
    yysymbol_kind_t got = yypcontext_token(pc);
    if (got == YYSYMBOL_ERROR)
        return 0;
    yysymbol_kind_t expected[5];
    int n = yypcontext_expected_tokens(pc, expected, 5);
    char buf[512], name[64];
    int len = snprintf(buf, sizeof buf, "unexpected %s", display_name(got, name, sizeof name));
    if (n > 0 && n <= 4) {
        len += snprintf(buf + len, sizeof buf - (size_t)len, ", expected ");
        for (int i = 0; i < n && len < (int)sizeof buf; i++)
            len += snprintf(buf + len, sizeof buf - (size_t)len, "%s%s",
                            i == 0 ? "" : i == n - 1 ? " or " : ", ",
                            display_name(expected[i], name, sizeof name));
    }
    Span at = *yypcontext_location(pc);
    diag_error(ctx->diags, at, "%s", buf);
    const Lexer *lx = &ctx->lex;
    if (lx->depth > 0) {
        uint32_t open = lx->open_at[lx->depth - 1];
        int l1, c1, l2, c2;
        diag_line_col(lx->file, open, &l1, &c1);
        diag_line_col(lx->file, at.lo, &l2, &c2);
        if (l1 != l2)
            diag_note(ctx->diags, (Span){lx->file, open, open + 1},
                      "inside this '%c', which is still open", lx->open_char[lx->depth - 1]);
    }
    return 0;
}

const char *lex_token_name(int tok)
{
    if (tok == TOK_YYEOF)
        return "end of file";
    return yysymbol_name(YYTRANSLATE(tok));
}

AstNode *parse_file(const SourceFile *file, Arena *arena, DiagSink *diags)
{
    ParseCtx ctx = {.arena = arena, .diags = diags};
    lex_init(&ctx.lex, file, arena, diags);
    int rc = yyparse(&ctx);
    if (!ctx.program) {
        /* Only on unrecoverable errors (stack exhaustion, reported by yyerror). */
        (void)rc;
        ctx.program = ast_list(arena, (Span){file, 0, file->len}, AST_PROGRAM, ast_list_empty());
    }
    return ctx.program;
}
