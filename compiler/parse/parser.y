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
}

%token NEWLINE "newline"
%token <str> IDENT "identifier"
%token <ival> INT "integer"
%token <fval> FLOAT "number"
%token <str> STRING "string"
%token TRUE "true" FALSE "false" AND "and" OR "or" NOT "not"
%token IMPORT "import" FN "fn" LAYER "layer" MODEL "model" OPTIMIZER "optimizer"
%token PARAM "param" STATE "state" TRAIN "train" FOR "for" IN "in" IF "if" ELSE "else"
%token RETURN "return" BREAK "break" LET "let"
%token PLUS "+" MINUS "-" STAR "*" SLASH "/" AT "@" CARET "^"
%token EQ "==" NE "!=" LT "<" LE "<=" GT ">" GE ">="
%token ASSIGN "=" COMMA "," COLON ":" SEMI ";" DOT "." DOTDOT ".." ARROW "->"
%token LPAREN "(" RPAREN ")" LBRACK "[" RBRACK "]" LBRACE "{" RBRACE "}"
%token ERROR "invalid token"

%type <node> stmt expr primary arg
%type <list> stmts args arg_list elems elem_list

%left OR
%left AND
%precedence NOT
%nonassoc EQ NE LT LE GT GE
%left PLUS MINUS
%left STAR SLASH AT
%precedence UMINUS
%right CARET

%%

program
    : stmts                         { ctx->program = ast_program(ctx->arena, @$, $1); }
    ;

stmts
    : %empty                        { $$ = ast_list_empty(); }
    | stmts end                     { $$ = $1; }
    | stmts stmt end                { $$ = ast_list_append(ctx->arena, $1, $2); }
    | stmts error end               { $$ = $1; yyerrok; }
    ;

end : NEWLINE | SEMI ;

stmt
    : IDENT[n] "=" expr[v]          { $$ = ast_assign(ctx->arena, @$, $n.text, @n, $v); }
    | expr[e]                       { $$ = ast_expr_stmt(ctx->arena, @$, $e); }
    ;

expr
    : primary
    | "-" expr[x] %prec UMINUS      { $$ = ast_unary(ctx->arena, @$, AST_OP_NEG, $x); }
    | NOT expr[x]                   { $$ = ast_unary(ctx->arena, @$, AST_OP_NOT, $x); }
    | expr[l] "+" expr[r]           { $$ = ast_binary(ctx->arena, @$, AST_OP_ADD, $l, $r); }
    | expr[l] "-" expr[r]           { $$ = ast_binary(ctx->arena, @$, AST_OP_SUB, $l, $r); }
    | expr[l] "*" expr[r]           { $$ = ast_binary(ctx->arena, @$, AST_OP_MUL, $l, $r); }
    | expr[l] "/" expr[r]           { $$ = ast_binary(ctx->arena, @$, AST_OP_DIV, $l, $r); }
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
    ;

primary
    : INT[v]                        { $$ = ast_int(ctx->arena, @$, $v); }
    | FLOAT[v]                      { $$ = ast_float(ctx->arena, @$, $v); }
    | STRING[s]                     { $$ = ast_string(ctx->arena, @$, $s.text, $s.len); }
    | TRUE                          { $$ = ast_bool(ctx->arena, @$, true); }
    | FALSE                         { $$ = ast_bool(ctx->arena, @$, false); }
    | IDENT[n]                      { $$ = ast_name(ctx->arena, @$, $n.text); }
    | "(" expr[e] ")"               { $$ = $e; }
    | "[" elems[l] "]"              { $$ = ast_list(ctx->arena, @$, $l); }
    | primary[f] "(" args[a] ")"    { $$ = ast_call(ctx->arena, @$, $f, $a); }
    ;

elems
    : %empty                        { $$ = ast_list_empty(); }
    | elem_list
    | elem_list ","
    ;

elem_list
    : expr[e]                       { $$ = ast_list_append(ctx->arena, ast_list_empty(), $e); }
    | elem_list[l] "," expr[e]      { $$ = ast_list_append(ctx->arena, $l, $e); }
    ;

args
    : %empty                        { $$ = ast_list_empty(); }
    | arg_list
    | arg_list ","
    ;

arg_list
    : arg[a]                        { $$ = ast_list_append(ctx->arena, ast_list_empty(), $a); }
    | arg_list[l] "," arg[a]        { $$ = ast_list_append(ctx->arena, $l, $a); }
    ;

arg
    : expr[v]                       { $$ = ast_arg(ctx->arena, @$, NULL, @v, $v); }
    | IDENT[n] "=" expr[v]          { $$ = ast_arg(ctx->arena, @$, $n.text, @n, $v); }
    ;

%%

static void yyerror(Span *loc, ParseCtx *ctx, const char *msg)
{
    diag_error(ctx->diags, *loc, "%s", msg);
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
        /* Only on unrecoverable errors (memory exhaustion); report and return empty. */
        if (rc == 2)
            diag_error(diags, (Span){file, 0, 0}, "parser ran out of memory");
        ctx.program = ast_program(arena, (Span){file, 0, file->len}, ast_list_empty());
    }
    return ctx.program;
}
