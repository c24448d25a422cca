/* main.c — the nnc command line. Reads as the list of stages a program goes through:
 * read, lex, parse, check, lower, autodiff, simplify, fuse, codegen, then run or link. */
#include "autodiff/ad.h"
#include "codegen/cg.h"
#include "fmt/fmt.h"
#include "ir/eval.h"
#include "prog/prog_eval.h"
#include "lex/lex.h"
#include "parse/parse.h"
#include "passes/passes.h"
#include "prog/prog.h"
#include "repl/repl.h"
#include "sema/sema.h"
#include "util/util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NNC_VERSION "0.1.0"

enum { EXIT_OK = 0, EXIT_ERRORS = 1, EXIT_USAGE = 2 };

typedef enum Command { CMD_BUILD, CMD_RUN, CMD_CHECK, CMD_FMT, CMD_REPL, CMD_GRADCHECK } Command;
typedef enum Emit { EMIT_NONE, EMIT_TOKENS, EMIT_AST, EMIT_IR, EMIT_LLVM, EMIT_ASM } Emit;

static const char *const pass_names[] = {"lower", "autodiff", "simplify", "fuse"};
enum { PASS_COUNT = 4 };

typedef struct Options {
    Command command;
    Emit emit;
    const char *input;
    const char *output;
    bool dump_after[PASS_COUNT];
    bool eval;                  /* run on the reference evaluator instead of the JIT */
    EvalPrecision eval_precision;
    DiagColor color;
    int prog_argc;              /* arguments after "--", passed to the program */
    char **prog_argv;
    bool fmt_check;             /* fmt --check: only report whether FILE is formatted */
    bool mem;                   /* --mem: print the memory plan instead of generating code */
    const char *cpu;            /* --cpu=NAME: the CPU code is generated for (NULL: native) */
} Options;

static void usage(FILE *out)
{
    fputs("usage: nnc FILE -o OUT [-- ARGS]  compile FILE to an executable; ARGS (--NAME\n"
          "                                  VALUE) set its train settings' defaults and\n"
          "                                  the sizes compiled in (a batch size)\n"
          "       nnc run FILE [-- ARGS...]  compile FILE in memory (JIT) and run it with\n"
          "                                  ARGS (its settings also size what they size)\n"
          "       nnc repl                   the interactive session (also plain 'nnc' on a\n"
          "                                  terminal); see docs/repl.md\n"
          "       nnc check FILE             parse and check FILE only\n"
          "       nnc gradcheck FILE [-- ARGS]  check the gradients of FILE's training\n"
          "                                  step against central differences (f64);\n"
          "                                  ARGS (--NAME VALUE) set its train settings\n"
          "       nnc fmt [--check] FILE     print FILE formatted (--check: exit 1 if it\n"
          "                                  differs from that); see docs/fmt.md\n"
          "       nnc --emit=STAGE FILE      print a stage: tokens, ast, ir, llvm, asm\n"
          "       nnc --mem FILE             print the memory plan after fusion, as\n"
          "                                  'memory: N buffers, arena SIZE (peak live\n"
          "                                  SIZE), no planning SIZE' (a train block: one\n"
          "                                  such line per region, then what it holds at\n"
          "                                  once, by part); see docs/memory.md\n"
          "options:\n"
          "  -o FILE                  where to write the executable\n"
          "  --emit=STAGE             stop after STAGE and print its output\n"
          "  --dump-after=PASS        print the IR after PASS (lower, autodiff, simplify,\n"
          "                           fuse, or all); may be repeated\n"
          "  --eval[=f32|f64]         with run: use the reference evaluator (default f32)\n"
          "  --cpu=NAME               the CPU to generate code for (-o, run, --emit=llvm\n"
          "                           or asm): native (default), x86-64-v3 (AVX2),\n"
          "                           x86-64-v4 (AVX-512) or an LLVM CPU name (znver2)\n"
          "  --color=auto|always|never  colour diagnostics (NO_COLOR is honoured)\n"
          "  -h, --help               show this help\n"
          "  --version                show the version\n",
          out);
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("nnc: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n(run 'nnc --help' for usage)\n", stderr);
    return EXIT_USAGE;
}

/* -o OUT must not name the input (by any path: ./, a symlink, a hard link), which the
 * executable would replace, nor a directory. */
static int check_output(const char *output, const char *input)
{
    struct stat out;
    if (stat(output, &out) == 0 && S_ISDIR(out.st_mode))
        return usage_error("the output '%s' is a directory", output);
    if (util_same_file(output, input))
        return usage_error("the output '%s' is the input file: it would be overwritten",
                           output);
    return -1;
}

/* Whether the command compiles code with LLVM, for the CPU --cpu names. */
static bool generates_code(const Options *o)
{
    if (o->command == CMD_RUN)
        return !o->eval && o->emit != EMIT_TOKENS && o->emit != EMIT_AST &&
               o->emit != EMIT_IR;
    return o->command == CMD_BUILD && !o->mem &&
           (o->emit == EMIT_LLVM || o->emit == EMIT_ASM || (o->emit == EMIT_NONE && o->output));
}

/* Chooses the CPU code is generated for (--cpu, NNC_ISA) before anything compiles; false
 * after saying why it is unknown, or why `nnc run` could not run code for it here. */
static bool select_cpu(const Options *o)
{
    char why[512];
    bool ok = cg_select_cpu(o->cpu, why, sizeof why);
    if (ok && o->command == CMD_RUN && o->emit == EMIT_NONE)
        ok = cg_target_runs_here(why, sizeof why);
    if (!ok)
        fprintf(stderr, "nnc: %s\n", why);
    return ok;
}

/* Returns -1 when parsing succeeded, else the exit status to return. */
static int parse_args(int argc, char **argv, Options *o)
{
    *o = (Options){.command = CMD_BUILD, .color = DIAG_COLOR_AUTO};
    int i = 1;
    if (i < argc && strcmp(argv[i], "run") == 0) {
        o->command = CMD_RUN;
        i++;
    } else if (i < argc && strcmp(argv[i], "check") == 0) {
        o->command = CMD_CHECK;
        i++;
    } else if (i < argc && strcmp(argv[i], "fmt") == 0) {
        o->command = CMD_FMT;
        i++;
    } else if (i < argc && strcmp(argv[i], "gradcheck") == 0) {
        o->command = CMD_GRADCHECK;
        i++;
    } else if (i < argc && strcmp(argv[i], "repl") == 0) {
        o->command = CMD_REPL;
        i++;
    } else if (argc == 1 && isatty(0) && isatty(1)) {
        o->command = CMD_REPL;
    }
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            o->prog_argc = argc - i - 1;
            o->prog_argv = argv + i + 1;
            break;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf("nnc %s\n", NNC_VERSION);
            return EXIT_OK;
        } else if (strcmp(a, "-o") == 0) {
            if (i + 1 >= argc)
                return usage_error("%s needs a file name", a);
            o->output = argv[++i];
        } else if (strncmp(a, "--emit=", 7) == 0) {
            static const char *const stages[] = {"", "tokens", "ast", "ir", "llvm", "asm"};
            o->emit = EMIT_NONE;
            for (int k = 1; k < 6; k++)
                if (strcmp(a + 7, stages[k]) == 0)
                    o->emit = (Emit)k;
            if (o->emit == EMIT_NONE)
                return usage_error("unknown stage '%s' (expected tokens, ast, ir, llvm or asm)",
                                   a + 7);
        } else if (strncmp(a, "--dump-after=", 13) == 0) {
            bool found = false;
            for (int k = 0; k < PASS_COUNT; k++)
                if (strcmp(a + 13, pass_names[k]) == 0 || strcmp(a + 13, "all") == 0)
                    found = o->dump_after[k] = true;
            if (!found)
                return usage_error("unknown pass '%s' (expected lower, autodiff, simplify, fuse "
                                   "or all)", a + 13);
        } else if (strcmp(a, "--eval") == 0 || strcmp(a, "--eval=f32") == 0) {
            o->eval = true;
            o->eval_precision = EVAL_F32;
        } else if (strcmp(a, "--eval=f64") == 0) {
            o->eval = true;
            o->eval_precision = EVAL_F64;
        } else if (strncmp(a, "--color=", 8) == 0) {
            if (strcmp(a + 8, "auto") == 0)
                o->color = DIAG_COLOR_AUTO;
            else if (strcmp(a + 8, "always") == 0)
                o->color = DIAG_COLOR_ALWAYS;
            else if (strcmp(a + 8, "never") == 0)
                o->color = DIAG_COLOR_NEVER;
            else
                return usage_error("unknown --color value '%s' (expected auto, always or never)",
                                   a + 8);
        } else if (strncmp(a, "--cpu=", 6) == 0) {
            if (!a[6])
                return usage_error("%s needs a CPU name (native, x86-64-v3, x86-64-v4, ...)",
                                   "--cpu=");
            o->cpu = a + 6;
        } else if (strcmp(a, "--mem") == 0) {
            o->mem = true;
        } else if (strcmp(a, "--check") == 0 && o->command == CMD_FMT) {
            o->fmt_check = true;
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("unknown option '%s'", a);
        } else if (o->input) {
            return usage_error("more than one input file ('%s')", a);
        } else {
            o->input = a;
        }
    }
    if (o->command == CMD_REPL) {
        if (o->input || o->emit != EMIT_NONE || o->output || o->mem || o->eval ||
            o->prog_argc)
            return usage_error("%s takes no file and no options but --color", "nnc repl");
        return -1;
    }
    if (!o->input) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (o->eval && o->command != CMD_RUN)
        return usage_error("%s is only valid with 'nnc run'", "--eval");
    if (o->mem && (o->command != CMD_BUILD || o->emit != EMIT_NONE || o->output))
        return usage_error("%s takes only a file (nnc --mem FILE)", "--mem");
    if (o->command == CMD_GRADCHECK && (o->emit != EMIT_NONE || o->output || o->mem))
        return usage_error("%s takes only a file", "nnc gradcheck");
    if (o->command == CMD_BUILD && o->emit == EMIT_NONE && !o->output && !o->mem)
        return usage_error("no output file for '%s' (use -o OUT, or 'nnc run')", o->input);
    if (o->cpu && !generates_code(o))
        return usage_error("%s is only valid where nnc generates code (-o, run, --emit=llvm "
                           "or --emit=asm)", "--cpu");
    return o->output ? check_output(o->output, o->input) : -1;
}

/* Reads the program; a binary file is rejected once rather than lexed into noise. */
static bool read_source(const char *path, SourceFile *src, DiagSink *diags)
{
    size_t len;
    char *text = util_read_file(path, &len);
    if (!text) {
        fprintf(stderr, "nnc: cannot read '%s': %s\n", path, util_read_error());
        return false;
    }
    if (len > UINT32_MAX - 1) {
        fprintf(stderr, "nnc: '%s' is too large (more than 4 GiB)\n", path);
        util_free(text);
        return false;
    }
    *src = (SourceFile){path, text, (uint32_t)len};
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        uint32_t at = (uint32_t)(nul - text);
        diag_error(diags, (Span){src, at, at + 1},
                   "this is not a text file (NUL byte); nnc reads UTF-8 source");
        return false;
    }
    return true;
}

/* The standard library: NNC_STDLIB if set, else stdlib/ beside the build or install
 * directory of this nnc, else the source tree recorded at configure time. */
static const char *stdlib_dir(char *buf, size_t n)
{
    const char *env = getenv("NNC_STDLIB");
    if (env && *env)
        return env;
    char exe[2048];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            static const char *const rel[] = {"/../stdlib", "/../share/nnc/stdlib", "/stdlib"};
            for (size_t i = 0; i < ARRAY_LEN(rel); i++) {
                snprintf(buf, n, "%s%s/std.nn", exe, rel[i]);
                if (access(buf, R_OK) == 0) {
                    char dir[4096 + 64], real[PATH_MAX];
                    snprintf(dir, sizeof dir, "%s%s", exe, rel[i]);
                    /* "/usr/lib/nnc/stdlib/x.nn", not ".../bin/../stdlib/x.nn", in messages */
                    snprintf(buf, n, "%s", realpath(dir, real) ? real : dir);
                    return buf;
                }
            }
        }
    }
#ifdef NNC_STDLIB_DIR
    return NNC_STDLIB_DIR;
#else
    return NULL;
#endif
}

static void run_pass(const Options *o, IrGraph *g, int pass, void (*fn)(IrGraph *))
{
    if (fn)
        fn(g);
#ifdef NNC_VERIFY_IR
    ir_verify(g, pass_names[pass]);
#endif
    if (o->dump_after[pass]) {
        printf("; after %s\n", pass_names[pass]);
        ir_print_graph(stdout, g);
    }
}

/* Prints, runs (JIT) or links the compiled module, as the command asks; frees it. */
static int run_module(const Options *o, CgModule *m)
{
    int status;
    if (o->emit == EMIT_LLVM)
        status = cg_print_llvm(m, stdout) ? EXIT_ERRORS : EXIT_OK;
    else if (o->emit == EMIT_ASM)
        status = cg_print_asm(m, stdout) ? EXIT_ERRORS : EXIT_OK;
    else if (o->command == CMD_RUN) {
        char **argv = util_malloc(sizeof(char *) * (size_t)(o->prog_argc + 2));
        argv[0] = (char *)o->input;
        for (int i = 0; i < o->prog_argc; i++)
            argv[i + 1] = o->prog_argv[i];
        argv[o->prog_argc + 1] = NULL;
        status = cg_jit_run(m, o->prog_argc + 1, argv);
        util_free(argv);
    } else
        status = cg_emit_executable(m, o->output) ? EXIT_ERRORS : EXIT_OK;
    cg_module_free(m);
    return status;
}

/* Says, once, when compiling code for a program whose loops over batches take full
 * batches only where their rows would not work out (the checker's or code generation's
 * fallback): an epoch's last partial batch is then dropped, which changes what trains,
 * and the batch size is fixed. The executable says so too when given another --batch
 * (rt_setting_fixed). */
static void note_full_batches(const Options *o, const Prog *p)
{
    if (o->mem || o->emit == EMIT_IR || o->eval)
        return;
    for (int i = 0; i < p->nsettings; i++)
        if (p->settings[i].why_full) {
            fprintf(stderr, "nnc: note: every batch of '%s' is full: an epoch's last partial "
                            "batch is dropped, and --%s cannot change when it runs, because "
                            "of %s\n", o->input, p->settings[i].name, p->settings[i].why_full);
            return;
        }
}

/* Runs the program on the reference evaluator (prog/prog_eval.h) with the command line
 * `nnc run` passes to compiled code. */
static int run_evaluated(const Options *o, Prog *p)
{
    char **argv = util_malloc(sizeof(char *) * (size_t)(o->prog_argc + 2));
    argv[0] = (char *)o->input;
    for (int i = 0; i < o->prog_argc; i++)
        argv[i + 1] = o->prog_argv[i];
    argv[o->prog_argc + 1] = NULL;
    int status = prog_eval_run(p, o->eval_precision, o->prog_argc + 1, argv);
    util_free(argv);
    return status;
}

/* A training program (prog/prog.h): every region through the middle end, then code. */
static int compile_program(const Options *o, Prog *p)
{
    for (int i = 0; i < p->regions.len; i++) {
        IrGraph *g = p->regions.items[i];
        run_pass(o, g, 0, NULL);
        run_pass(o, g, 1, ad_run);
        if (ir_graph_report(g, diag_use_color(o->color, stderr))) {
            prog_free(p);
            return EXIT_ERRORS;
        }
        run_pass(o, g, 2, pass_simplify);
        if (!o->eval) /* the evaluator runs before fusion, as for graphs */
            run_pass(o, g, 3, pass_fuse);
    }
    char why[160];
    if (!cg_rows_supported(p, why, sizeof why))
        prog_drop_rows(p, why); /* every batch full */
    note_full_batches(o, p);
    int status = EXIT_OK;
    if (o->eval) {
        status = run_evaluated(o, p);
    } else if (o->mem) {
        pass_memplan_print_prog(stdout, p);
    } else if (o->emit == EMIT_IR) {
        prog_print(stdout, p);
    } else {
        CgModule *m = cg_compile_program(p, o->input);
        status = m ? run_module(o, m) : EXIT_ERRORS;
    }
    prog_free(p);
    return status;
}

/* Everything after checking and lowering (the checker traced the program into g). */
static int compile_checked(const Options *o, IrGraph *g)
{
    run_pass(o, g, 0, NULL);
    run_pass(o, g, 1, ad_run);
    if (ir_graph_report(g, diag_use_color(o->color, stderr))) {
        ir_graph_free(g);
        return EXIT_ERRORS;
    }
    run_pass(o, g, 2, pass_simplify);
    if (o->eval) {
        EvalResult r = eval_graph(g, o->eval_precision, stdout);
        eval_result_free(&r);
        ir_graph_free(g);
        return fflush(stdout) == 0 ? EXIT_OK : EXIT_ERRORS;
    }
    run_pass(o, g, 3, pass_fuse);
    if (o->mem) {
        MemPlan plan = pass_memplan(g);
        pass_memplan_print(stdout, &plan);
        pass_memplan_free(&plan);
        ir_graph_free(g);
        return fflush(stdout) == 0 ? EXIT_OK : EXIT_ERRORS;
    }
    if (o->emit == EMIT_IR) {
        ir_print_graph(stdout, g);
        ir_graph_free(g);
        return EXIT_OK;
    }
    CgModule *m = cg_compile(g, o->input);
    ir_graph_free(g);
    return m ? run_module(o, m) : EXIT_ERRORS;
}

int main(int argc, char **argv)
{
    Options o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    if ((generates_code(&o) || o.command == CMD_REPL) && !select_cpu(&o))
        return EXIT_USAGE;

    if (o.command == CMD_REPL) {
        char stdlib[4096 + 64];
        ReplOptions ro = {stdlib_dir(stdlib, sizeof stdlib), getenv("NNC_PATH"), o.color};
        return repl_main(&ro);
    }

    DiagSink diags;
    diag_init(&diags);
    diags.color = diag_use_color(o.color, stderr);
    SourceFile src = {0};
    Arena ast_arena;
    arena_init(&ast_arena);
    int status = EXIT_ERRORS;

    if (!read_source(o.input, &src, &diags))
        goto done;
    if (o.emit == EMIT_TOKENS) {
        lex_dump(stdout, &src, &diags);
        goto done;
    }
    AstNode *program = parse_file(&src, &ast_arena, &diags);
    /* the printers recurse per level of the tree */
    bool printable = (o.emit != EMIT_AST && o.command != CMD_FMT) ||
                     ast_check_depth(program, &diags);
    if (o.emit == EMIT_AST) {
        if (printable)
            ast_print(stdout, program);
        goto done;
    }
    if (o.command == CMD_FMT) {   /* nothing on stdout unless the parse succeeded */
        if (diags.errors == 0 && o.fmt_check) {
            status = fmt_is_formatted(program, &src) ? EXIT_OK : EXIT_ERRORS;
            if (status != EXIT_OK)
                fprintf(stderr, "%s: not formatted\n", o.input);
        } else if (diags.errors == 0) {
            status = fmt_program(stdout, program, &src) ? EXIT_ERRORS : EXIT_OK;
        }
        goto done;
    }
    if (diags.errors == 0) {
        /* Check; unless only checking, lower at the same time (sema/trace.c). */
        char stdlib[4096 + 64];
        IrGraph *g = o.command == CMD_CHECK ? NULL : ir_graph_new();
        Prog *prog = NULL;
        SemaOptions so = {stdlib_dir(stdlib, sizeof stdlib), getenv("NNC_PATH"), g, &prog,
                          o.prog_argv, o.prog_argc,
                          o.command == CMD_BUILD || o.command == CMD_GRADCHECK, g != NULL};
        DiagMark before = diag_mark(&diags);
        SemaResult r = sema_check(program, &so, &ast_arena, &diags);
        char why[512];
        if (r.errors && r.batch_rows_used) {
            /* the batch's rows did not work out: full batches only (SemaOptions.batch_rows) */
            const Diag *first = diags.len > before.len ? &diags.items[before.len] : NULL;
            int line, col;
            if (first && first->span.file) {
                diag_line_col(first->span.file, first->span.lo, &line, &col);
                snprintf(why, sizeof why, "%s:%d:%d: %s", first->span.file->name, line, col,
                         first->msg);
            } else {
                snprintf(why, sizeof why, "%s", first ? first->msg : "an error in the program");
            }
            diag_rewind(&diags, before);
            ir_graph_free(g);
            so.trace = g = ir_graph_new();
            so.batch_rows = false;
            so.batch_rows_why = why;
            sema_check(program, &so, &ast_arena, &diags);
        }
        if (diags.errors == 0 && o.command == CMD_BUILD && o.prog_argc > 0 && !prog) {
            fprintf(stderr, "nnc: arguments after -- set a train block's settings, and '%s' has "
                            "no train block\n", o.input);
            ir_graph_free(g);
            status = EXIT_USAGE;
            goto done;
        }
        if (diags.errors == 0 && o.command == CMD_GRADCHECK) {
            ir_graph_free(g);
            if (!prog)
                fprintf(stderr, "nnc: gradcheck: '%s' has no train block\n", o.input);
            status = prog ? ad_gradcheck(prog, stdout) : EXIT_ERRORS;
            prog_free(prog);
        } else if (diags.errors == 0 && prog) {
            ir_graph_free(g);
            status = compile_program(&o, prog);
        } else if (diags.errors == 0) {
            status = g ? compile_checked(&o, g) : EXIT_OK;
        } else {
            ir_graph_free(g);
        }
    }

done:
    diag_print(&diags, stderr);
    if (diags.errors)
        status = EXIT_ERRORS;
    else if (o.emit == EMIT_TOKENS || o.emit == EMIT_AST)
        status = EXIT_OK;
    diag_free(&diags);
    arena_free(&ast_arena);
    util_free((void *)src.text);
    return status;
}
