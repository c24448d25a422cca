/* repl.c — `nnc repl`: entries in, results out (docs/repl.md).
 *
 * Each entry goes through the pipeline a file does: the session (sema/session.c) checks and
 * traces it against what earlier entries left, then autodiff, simplify and fusion, then
 * code generation and the JIT. The code runs in a child process: the parent forks, the
 * child compiles the graph, runs it and writes the tensors the entry keeps into memory it
 * shares with the parent, and exits. So Ctrl-C (or a crash) ends the child and never the
 * session, an entry that fails changes nothing, and the JIT's code and memory go with the
 * child: the parent holds only the checker's state and the session's tensors. */
#include "repl/repl.h"

#include "autodiff/ad.h"
#include "codegen/cg.h"
#include "ir/ir.h"
#include "passes/passes.h"
#include "sema/sema.h"
#include "util/util.h"

#include "nnc_rt.h"

#include <editline/readline.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The session's slot table as compiled REPL code sees it (codegen/emit.c): set in the
 * child before it runs an entry. */
void **nnc_repl_slots;

typedef struct Repl {
    const ReplOptions *opts;
    SemaSession *session;
    DiagSink diags;
    bool tty;                /* stdin and stdout are terminals: prompts, editing, history */
    char *history;           /* ~/.nnc_history, or NULL */
    PtrVec loaded;           /* files brought in with :load (heap strings), for :reload */
    SemaEntry entry;         /* the entry being run or inspected (sema_session_begin) */
} Repl;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* ---- running an entry's graph ------------------------------------------------------------- */

typedef enum RunMode { RUN_EXECUTE, RUN_LLVM, RUN_TIME } RunMode;

static bool has_effects(const IrGraph *g)
{
    for (int i = 0; i < g->len; i++)
        if (ir_op_kind(g->nodes[i]->op) == IR_KIND_EFFECT)
            return true;
    return false;
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* :time: one warm-up run, then runs until half a second has passed (at least 5, at most
 * 1000); prints the median and the fastest. */
static void time_program(void (*program)(void), double compile_seconds)
{
    enum { MIN_RUNS = 5, MAX_RUNS = 1000 };
    static double times[MAX_RUNS];
    program();
    int n = 0;
    double start = now_seconds();
    while (n < MAX_RUNS && (n < MIN_RUNS || now_seconds() - start < 0.5)) {
        double t0 = now_seconds();
        program();
        times[n++] = now_seconds() - t0;
    }
    qsort(times, (size_t)n, sizeof times[0], compare_doubles);
    double median = times[n / 2], fastest = times[0];
    bool us = median < 1e-3;
    printf("median %.3f %s, fastest %.3f %s over %d runs (compiled in %.1f ms)\n",
           (us ? 1e6 : 1e3) * median, us ? "us" : "ms", (us ? 1e6 : 1e3) * fastest,
           us ? "us" : "ms", n, 1e3 * compile_seconds);
}

/* In the child: compile and run (or print, or time) g, with the session's slots readable
 * and the new slots in `shared`. Returns the exit status. */
static int child_main(const IrGraph *g, RunMode mode, SemaSession *session, const SemaEntry *e,
                      char *shared, const int64_t *offsets)
{
    int count;
    SemaSlot *slots = sema_session_slots(session, &count);
    nnc_repl_slots = util_malloc(sizeof(void *) * (size_t)(count + 1));
    for (int k = 0; k < count; k++)
        nnc_repl_slots[k] = slots[k].data;
    for (int i = 0; i < e->nnew; i++)
        nnc_repl_slots[e->new_slots[i]] = shared + offsets[i];
    double t0 = now_seconds();
    CgModule *m = cg_compile(g, "<input>");
    if (!m)
        return 1;
    if (mode == RUN_LLVM)
        return cg_print_llvm(m, stdout) || fflush(stdout) ? 1 : 0;
    void (*program)(void);
    CgJit *jit = cg_jit_new(m, &program);
    if (!jit)
        return 1;
    char *argv[] = {"nnc", NULL};
    rt_init(1, argv);
    if (mode == RUN_TIME)
        time_program(program, now_seconds() - t0);
    else
        program();
    return rt_exit();
}

/* Runs g in a child process; true when it succeeded, with the entry's new slots filled. */
static bool run_graph(Repl *r, const IrGraph *g, RunMode mode, const SemaEntry *e)
{
    int64_t *offsets = util_malloc(sizeof(int64_t) * (size_t)(e->nnew + 1));
    int count;
    SemaSlot *slots = sema_session_slots(r->session, &count);
    int64_t total = 0;
    for (int i = 0; i < e->nnew; i++) {
        offsets[i] = total;
        total += (ir_shape_numel(&slots[e->new_slots[i]].shape) * 4 + 63) / 64 * 64;
    }
    /* The new tensors are held twice: in the memory shared with the child, then in the
     * session. Without this check, memory the kernel grants but cannot back would end the
     * session (or the child, without a message) when it is touched. */
    int64_t available = rt_memory_available();
    if (available >= 0 && (double)total * 2 > (double)available) {
        char need[32], have[32];
        rt_format_bytes(need, sizeof need, total);
        rt_format_bytes(have, sizeof have, available);
        fprintf(stderr, "nnc: out of memory: the entry's new tensors take %s, held twice while "
                        "they are computed; %s available\n", need, have);
        util_free(offsets);
        return false;
    }
    char *shared = mmap(NULL, (size_t)(total ? total : 64), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        fprintf(stderr, "nnc: cannot map memory for the results: %s\n", strerror(errno));
        util_free(offsets);
        return false;
    }
    fflush(stdout);
    fflush(stderr);
    /* A Ctrl-C from the start of the entry on cancels it: one that came while the entry
     * was checked is seen here, one that comes later reaches the child (below). */
    sigset_t block, saved;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &saved);
    pid_t pid = interrupted ? -2 : fork();
    if (pid < 0) {
        sigprocmask(SIG_SETMASK, &saved, NULL);
        if (pid == -2)
            fputs("interrupted\n", stderr);
        else
            fprintf(stderr, "nnc: cannot start the computation: %s\n", strerror(errno));
        munmap(shared, (size_t)(total ? total : 64));
        util_free(offsets);
        return false;
    }
    if (pid == 0) {
        util_set_recovery(NULL); /* the child's failures end the child */
        signal(SIGINT, SIG_DFL);
        sigprocmask(SIG_SETMASK, &saved, NULL);
        int status = child_main(g, mode, r->session, e, shared, offsets);
        fflush(stdout);
        fflush(stderr);
        _exit(status);
    }
    sigprocmask(SIG_SETMASK, &saved, NULL);
    int status = 0;
    bool relayed = false;
    for (;;) {
        /* The terminal's Ctrl-C reaches the child too; without a terminal, or when it
         * came just before the fork, only the parent saw it: pass it on. */
        if (interrupted && !relayed) {
            kill(pid, SIGINT);
            relayed = true;
        }
        if (waitpid(pid, &status, 0) >= 0 || errno != EINTR)
            break;
    }
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) {
        fputs("interrupted\n", stderr);
    } else if (WIFSIGNALED(status)) {
        fprintf(stderr, "nnc: the computation stopped: %s\n", strsignal(WTERMSIG(status)));
    }
    if (ok)
        ok = sema_session_fill(r->session, e, shared, offsets);
    munmap(shared, (size_t)(total ? total : 64));
    util_free(offsets);
    interrupted = 0;
    return ok;
}

/* The middle end, as for a file (driver/main.c); false after reporting what autodiff
 * could not derive (IrGraph.unsupported). */
static bool middle_end(Repl *r, IrGraph *g)
{
    ad_run(g);
    if (ir_graph_report(g, r->diags.color))
        return false;
    pass_simplify(g);
    pass_fuse(g);
    return true;
}

static void print_diags(Repl *r)
{
    fflush(stdout);
    diag_print(&r->diags, stderr);
    diag_clear(&r->diags);
}

/* Checks, traces and runs one entry; commits it when everything succeeded (keep: false
 * for commands that only look). */
static bool run_entry(Repl *r, const char *name, const char *text, SemaEntryKind kind,
                      bool keep)
{
    interrupted = 0;
    SemaEntry *e = &r->entry;
    if (!sema_session_begin(r->session, name, text, kind, e)) {
        print_diags(r);
        return false;
    }
    bool ok = middle_end(r, e->graph) &&
              (!has_effects(e->graph) || run_graph(r, e->graph, RUN_EXECUTE, e));
    if (ok && e->shown)
        printf("%s\n", e->shown);
    fflush(stdout);
    sema_session_end(r->session, e, ok && keep);
    return ok;
}

/* ---- commands ------------------------------------------------------------------------------ */

static void help(void)
{
    fputs("Enter statements and expressions as in a .nn file; an expression's value is\n"
          "printed. Definitions (fn, layer, model, optimizer) and variables stay for later\n"
          "entries; a new definition replaces an old one of the same name. The standard\n"
          "library is imported. Input continues on the next line while brackets are open.\n"
          "\n"
          "  :help                 this text\n"
          "  :type EXPR            the type of EXPR (checked, not run)\n"
          "  :shape EXPR           the shape of a tensor EXPR (checked, not run)\n"
          "  :load FILE            run FILE's definitions and statements (not its train block)\n"
          "  :reload               :load again every file loaded so far\n"
          "  :ir EXPR              the graph IR of EXPR after autodiff, simplify and fusion\n"
          "  :llvm EXPR            the optimized LLVM IR of EXPR\n"
          "  :grad EXPR wrt NAME   the gradient of the scalar EXPR with respect to NAME\n"
          "  :time EXPR            run EXPR repeatedly; the median and fastest time\n"
          "  :mem                  the session's variables and tensors, and its memory\n"
          "  :reset                forget every definition and variable\n"
          "  :quit                 leave (as does Ctrl-D); Ctrl-C cancels a line or a run\n",
          stdout);
}

static void check_only(Repl *r, const char *expr, bool shape)
{
    SemaEntry *e = &r->entry;
    if (!sema_session_begin(r->session, "<input>", expr, SEMA_ENTRY_CHECK, e)) {
        print_diags(r);
        return;
    }
    if (!shape)
        printf("%s\n", e->type);
    else if (e->shape)
        printf("%s\n", e->shape);
    else
        printf("not a tensor: %s\n", e->type);
    sema_session_end(r->session, e, false);
}

/* :ir, :llvm, :time: the expression traced and compiled, nothing kept. */
static void inspect(Repl *r, const char *expr, RunMode mode, bool ir)
{
    interrupted = 0;
    SemaEntry *e = &r->entry;
    if (!sema_session_begin(r->session, "<input>", expr, SEMA_ENTRY_VALUE, e)) {
        print_diags(r);
        return;
    }
    if (!middle_end(r, e->graph))
        ;
    else if (ir)
        ir_print_graph(stdout, e->graph);
    else
        run_graph(r, e->graph, mode, e);
    fflush(stdout);
    sema_session_end(r->session, e, false);
}

static void grad_command(Repl *r, const char *arg)
{
    const char *wrt = strstr(arg, " wrt ");
    if (!wrt) {
        fputs("nnc: usage: :grad EXPR wrt NAME\n", stderr);
        return;
    }
    size_t n = strlen(arg) + 16;
    char *text = util_malloc(n);
    snprintf(text, n, "grad(%.*s, %s)", (int)(wrt - arg), arg, wrt + 5);
    run_entry(r, "<input>", text, SEMA_ENTRY_RUN, false);
    util_free(text);
}

static bool load_file(Repl *r, const char *path)
{
    size_t len;
    char *text = util_read_file(path, &len);
    if (!text) {
        fprintf(stderr, "nnc: cannot read '%s': %s\n", path, util_read_error());
        return false;
    }
    if (memchr(text, '\0', len)) {
        fprintf(stderr, "nnc: '%s' is not a text file\n", path);
        util_free(text);
        return false;
    }
    bool ok = run_entry(r, path, text, SEMA_ENTRY_LOAD, true);
    util_free(text);
    return ok;
}

static long resident_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void mem_command(Repl *r)
{
    SemaSessionStats st = sema_session_stats(r->session);
    printf("%d variables, %d tensors (%lld bytes), checker state %lld bytes, "
           "process resident %ld KiB\n",
           st.variables, st.tensors, (long long)st.tensor_bytes, (long long)st.state_bytes,
           resident_kib());
}

static bool new_session(Repl *r)
{
    r->session = sema_session_new(r->opts->stdlib_dir, r->opts->search_path, &r->diags);
    if (r->opts->stdlib_dir && !run_entry(r, "<start>", "import std\n", SEMA_ENTRY_LOAD, true))
        return false;
    return true;
}

static void clear_loaded(Repl *r)
{
    for (int i = 0; i < r->loaded.len; i++)
        util_free(r->loaded.items[i]);
    r->loaded.len = 0;
}

static const char *skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Returns false for :quit. */
static bool command(Repl *r, const char *line)
{
    const char *p = line + 1;
    size_t n = 0;
    while (p[n] && p[n] != ' ' && p[n] != '\t' && p[n] != '\n')
        n++;
    const char *arg = skip_space(p + n);
    char *a = util_strdup(arg);
    for (size_t len = strlen(a); len && (a[len - 1] == '\n' || a[len - 1] == ' '); len--)
        a[len - 1] = '\0';
    bool needs_arg = true;
#define IS(name) (n == strlen(name) && strncmp(p, name, n) == 0)
    if (IS("quit") || IS("q")) {
        util_free(a);
        return false;
    } else if (IS("help") || IS("h") || IS("?")) {
        help();
        needs_arg = false;
    } else if (IS("mem")) {
        mem_command(r);
        needs_arg = false;
    } else if (IS("reset")) {
        sema_session_free(r->session);
        clear_loaded(r);
        new_session(r);
        needs_arg = false;
    } else if (IS("reload")) {
        for (int i = 0; i < r->loaded.len; i++)
            load_file(r, r->loaded.items[i]);
        needs_arg = false;
    } else if (!IS("type") && !IS("shape") && !IS("load") && !IS("ir") && !IS("llvm") &&
               !IS("time") && !IS("grad")) {
        fprintf(stderr, "nnc: unknown command ':%.*s' (:help lists the commands)\n", (int)n, p);
        needs_arg = false;
    } else if (!*a) {
        /* the commands below take an argument */
    } else if (IS("type")) {
        check_only(r, a, false);
    } else if (IS("shape")) {
        check_only(r, a, true);
    } else if (IS("load")) {
        if (load_file(r, a)) {
            bool known = false;
            for (int i = 0; i < r->loaded.len; i++)
                known |= strcmp(r->loaded.items[i], a) == 0;
            if (!known)
                util_vec_push(&r->loaded, util_strdup(a));
        }
    } else if (IS("ir")) {
        inspect(r, a, RUN_EXECUTE, true);
    } else if (IS("llvm")) {
        inspect(r, a, RUN_LLVM, false);
    } else if (IS("time")) {
        inspect(r, a, RUN_TIME, false);
    } else {
        grad_command(r, a);
    }
#undef IS
    if (needs_arg && !*a)
        fprintf(stderr, "nnc: :%.*s needs an argument (:help)\n", (int)n, p);
    util_free(a);
    return true;
}

/* Runs one entry or command. An internal compiler error or a failed allocation in the
 * parent ends the entry as an error would (the state as it was before it) instead of the
 * session. Returns false for :quit. */
static bool run_line(Repl *r, const char *start, const char *text)
{
    jmp_buf at;
    if (setjmp(at)) {
        sema_session_abandon(r->session, &r->entry);
        print_diags(r); /* what the entry reported before it failed */
        fputs("nnc: the entry failed; the session is as it was before it\n", stderr);
        return true;
    }
    util_set_recovery(&at);
    bool more = true;
    if (*start == ':')
        more = command(r, start);
    else if (*start && *start != '\n')
        run_entry(r, "<input>", text, SEMA_ENTRY_RUN, true);
    util_set_recovery(NULL);
    return more;
}

/* ---- reading entries ------------------------------------------------------------------------- */

/* Open brackets at the end of text (strings and comments skipped); an entry goes on while
 * this is positive. */
static int open_brackets(const char *text)
{
    int depth = 0;
    for (const char *s = text; *s; s++) {
        if (*s == '#') {
            while (*s && *s != '\n')
                s++;
            if (!*s)
                break;
        } else if (*s == '"') {
            for (s++; *s && *s != '"' && *s != '\n'; s++)
                if (*s == '\\' && s[1])
                    s++;
            if (!*s)
                break;
        } else if (*s == '(' || *s == '[' || *s == '{') {
            depth++;
        } else if (*s == ')' || *s == ']' || *s == '}') {
            depth--;
        }
    }
    return depth;
}

/* libedit reads keys through this: Ctrl-C (SIGINT, which interrupts the read) ends the
 * line as Enter would, and read_line then drops it. */
static int read_key(FILE *in)
{
    for (;;) {
        if (interrupted)
            return '\n';
        unsigned char ch;
        ssize_t n = read(fileno(in), &ch, 1);
        if (n == 1)
            return ch;
        if (n == 0 || errno != EINTR)
            return EOF;
    }
}

/* One line without its newline, or NULL at the end of input (or Ctrl-C: *cancelled). */
static char *read_line(Repl *r, bool continuation, bool *cancelled)
{
    *cancelled = false;
    if (r->tty) {
        interrupted = 0;
        char *line = readline(continuation ? "...> " : "nnc> ");
        if (interrupted) {
            *cancelled = true;
            free(line);
            fputc('\n', stdout);
            return NULL;
        }
        if (!line)
            return NULL;
        char *copy = util_strdup(line);
        free(line);
        return copy;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len = getline(&line, &cap, stdin);
    if (len < 0) {
        free(line);
        return NULL;
    }
    if (len > 0 && line[len - 1] == '\n')
        line[len - 1] = '\0';
    char *copy = util_strdup(line);
    free(line);
    return copy;
}

static void append_text(char **text, const char *line)
{
    size_t a = *text ? strlen(*text) : 0, b = strlen(line);
    *text = util_realloc(*text, a + b + 2);
    memcpy(*text + a, line, b);
    (*text)[a + b] = '\n';
    (*text)[a + b + 1] = '\0';
}

static void remember(Repl *r, const char *text)
{
    if (!r->tty)
        return;
    char *entry = util_strdup(text);
    size_t len = strlen(entry);
    while (len && entry[len - 1] == '\n')
        entry[--len] = '\0';
    if (len) {
        add_history(entry);
        if (r->history && write_history(r->history) == 0)
            history_truncate_file(r->history, 1000);
    }
    util_free(entry);
}

int repl_main(const ReplOptions *o)
{
    Repl r = {.opts = o, .tty = isatty(0) && isatty(1)};
    /* results and messages (stdout, stderr) in the order they were made, even in one file */
    setvbuf(stdout, NULL, _IOLBF, 0);
    diag_init(&r.diags);
    r.diags.color = diag_use_color(o->color, stderr);
    cg_llvm_init();
    struct sigaction sa = {0};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: a read or a wait returns on Ctrl-C */
    if (r.tty) {
        /* before libedit initializes: it installs the key reader only then */
        rl_catch_signals = 0;
        rl_getc_function = read_key;
        rl_initialize();
        const char *home = getenv("HOME");
        if (home && *home) {
            size_t n = strlen(home) + 32;
            r.history = util_malloc(n);
            snprintf(r.history, n, "%s/.nnc_history", home);
            using_history();
            read_history(r.history);
        }
        printf("nnc repl — :help for commands, Ctrl-D to leave\n");
    }
    int status = 0;
    if (!new_session(&r))
        status = 1;
    bool more = status == 0;
    while (more) {
        char *text = NULL;
        bool cancelled = false, eof = false;
        for (;;) {
            char *line = read_line(&r, text != NULL, &cancelled);
            if (!line) {
                eof = !cancelled;
                break;
            }
            append_text(&text, line);
            util_free(line);
            if (open_brackets(text) <= 0)
                break;
        }
        if (cancelled || (eof && !text)) {
            util_free(text);
            if (eof) {
                if (r.tty)
                    fputc('\n', stdout);
                break;
            }
            continue;
        }
        remember(&r, text);
        more = run_line(&r, skip_space(text), text);
        util_free(text);
        more = more && !eof;
    }
    fflush(stdout);
    sema_session_free(r.session);
    clear_loaded(&r);
    util_vec_free(&r.loaded);
    util_free(r.history);
    diag_free(&r.diags);
    return status;
}
