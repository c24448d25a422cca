/* progen_check.c — comparing outputs by numdiff.py's rule, running nnc on a generated
 * program, and the whole check of one program (contracts in progen.h). */
#define _GNU_SOURCE
#include "progen.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- splitting a line into text and numbers (tests/tools/numdiff.py's NUMBER) ---------- */

enum { CK_MAX_NUMBERS = 64, CK_MAX_REPORTED = 8 };

typedef struct CkLine {
    char text[1024]; /* the text between numbers, blanks runs as one space, '#' per number */
    double num[CK_MAX_NUMBERS];
    int wild[CK_MAX_NUMBERS];
    int count;
} CkLine;

static int ck_word(int c)
{
    return isalnum(c) || c == '_';
}

/* Length of a number at s (numdiff's regex, without backtracking), or 0. */
static size_t ck_number(const char *s)
{
    size_t i = 0;
    if (s[i] == '-' || s[i] == '+')
        i++;
    static const char *const words[] = {"infinity", "inf", "nan"};
    for (int w = 0; w < 3; w++) {
        size_t n = strlen(words[w]);
        if (strncasecmp(s + i, words[w], n) == 0 && !ck_word((unsigned char)s[i + n]))
            return i + n;
    }
    size_t digits = 0;
    while (isdigit((unsigned char)s[i])) {
        i++;
        digits++;
    }
    if (s[i] == '.') {
        i++;
        while (isdigit((unsigned char)s[i])) {
            i++;
            digits++;
        }
    }
    if (!digits)
        return 0;
    if (s[i] == 'e' || s[i] == 'E') {
        size_t j = i + 1;
        if (s[j] == '-' || s[j] == '+')
            j++;
        if (isdigit((unsigned char)s[j])) {
            while (isdigit((unsigned char)s[j]))
                j++;
            i = j;
        }
    }
    return ck_word((unsigned char)s[i]) ? 0 : i;
}

/* Splits one line (up to '\n' or the end) of s; `wild` lets "?" stand for a number.
 * Returns the start of the next line, or NULL at the end. */
static const char *ck_split(const char *s, CkLine *line, int wild)
{
    size_t t = 0;
    line->count = 0;
    int prev = 0; /* the character before the current one */
    while (*s && *s != '\n') {
        size_t n = 0;
        int is_wild = wild && *s == '?';
        if (!is_wild && !ck_word(prev) && prev != '.')
            n = ck_number(s);
        if ((is_wild || n) && line->count < CK_MAX_NUMBERS) {
            line->wild[line->count] = is_wild;
            line->num[line->count++] = is_wild ? 0 : strtod(s, NULL);
            if (t < sizeof line->text - 1)
                line->text[t++] = '#';
            s += is_wild ? 1 : n;
            prev = '0';
            continue;
        }
        int c = (unsigned char)*s++;
        if (c == ' ' || c == '\t') {
            while (*s == ' ' || *s == '\t')
                s++;
            c = ' ';
        }
        if (t < sizeof line->text - 1)
            line->text[t++] = (char)c;
        prev = c;
    }
    line->text[t] = '\0';
    return *s ? s + 1 : NULL;
}

static int ck_close(double e, double a)
{
    if (isnan(e) || isnan(a))
        return isnan(e) && isnan(a);
    if (isinf(e) || isinf(a))
        return e == a;
    double d = fabs(e - a);
    return d <= PROGEN_ABS || d <= PROGEN_REL * fmax(fabs(e), fabs(a)) * (1 + 1e-12);
}

/* Lines as Python's splitlines counts them: a last line needs no newline. */
static int ck_lines(const char *s)
{
    int n = 0;
    size_t len = strlen(s);
    for (size_t i = 0; i < len; i++)
        n += s[i] == '\n';
    return n + (len > 0 && s[len - 1] != '\n');
}

typedef struct CkReport {
    char *s;
    size_t len;
    FILE *f;
    int problems;
} CkReport;

static void ck_open(CkReport *r)
{
    memset(r, 0, sizeof *r);
    r->f = open_memstream(&r->s, &r->len);
    if (!r->f)
        abort();
}

static void ck_problem(CkReport *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ck_problem(CkReport *r, const char *fmt, ...)
{
    if (r->problems++ >= CK_MAX_REPORTED)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("  ", r->f);
    vfprintf(r->f, fmt, ap);
    fputc('\n', r->f);
    va_end(ap);
}

static char *ck_close_report(CkReport *r)
{
    if (r->problems > CK_MAX_REPORTED)
        fprintf(r->f, "  ... and %d more\n", r->problems - CK_MAX_REPORTED);
    fclose(r->f);
    return r->s;
}

/* Closes the report: 1 when it found no problem (*why NULL), else 0 with the report. */
static int ck_verdict(CkReport *r, char **why)
{
    int problems = r->problems;
    char *s = ck_close_report(r);
    if (!problems) {
        free(s);
        *why = NULL;
        return 1;
    }
    *why = s;
    return 0;
}

/* The line of `s` numbered `index` (0-based), copied into buf. */
static const char *ck_line_text(const char *s, int index, char *buf, size_t size)
{
    for (int i = 0; i < index && s; i++) {
        s = strchr(s, '\n');
        if (s)
            s++;
    }
    if (!s || !*s)
        return "(none)";
    size_t n = strcspn(s, "\n");
    if (n >= size)
        n = size - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return buf;
}

/* Compares line by line; `values` receives the actual numbers (line * CK_MAX_NUMBERS +
 * index) for the props, when not NULL. */
static void ck_compare(const char *expected, const char *actual, int wild, CkReport *r,
                       double *values, int max_lines)
{
    int el = ck_lines(expected), al = ck_lines(actual);
    if (el != al)
        ck_problem(r, "expected %d lines, got %d", el, al);
    const char *e = expected, *a = actual;
    CkLine *le = malloc(sizeof *le), *la = malloc(sizeof *la);
    if (!le || !la)
        abort();
    for (int i = 0; e && a && *e && *a; i++) {
        char eb[256], ab[256];
        ck_line_text(expected, i, eb, sizeof eb);
        ck_line_text(actual, i, ab, sizeof ab);
        e = ck_split(e, le, wild);
        a = ck_split(a, la, 0);
        if (le->count != la->count || strcmp(le->text, la->text) != 0) {
            ck_problem(r, "line %d: text differs\n    expected: %s\n    actual:   %s", i + 1,
                       eb, ab);
            continue;
        }
        for (int k = 0; k < le->count; k++) {
            if (values && i < max_lines)
                values[i * CK_MAX_NUMBERS + k] = la->num[k];
            if (!le->wild[k] && !ck_close(le->num[k], la->num[k]))
                ck_problem(r, "line %d, number %d: expected %.9g, got %.9g\n"
                              "    expected: %s\n    actual:   %s",
                           i + 1, k + 1, le->num[k], la->num[k], eb, ab);
        }
    }
    free(le);
    free(la);
}

int progen_numdiff(const char *expected, const char *actual, char **why)
{
    CkReport r;
    ck_open(&r);
    ck_compare(expected, actual, 0, &r, NULL, 0);
    return ck_verdict(&r, why);
}

/* The step counts of the progress lines in `err` ("epoch 1/2: 3 steps in 0.0s ...",
 * runtime/rt_progress.c), at most `max`. Returns how many there are. */
static int ck_progress(const char *err, int *steps, int max)
{
    int n = 0;
    for (const char *at = strstr(err, " steps in "); at; at = strstr(at + 1, " steps in ")) {
        const char *digits = at;
        while (digits > err && isdigit((unsigned char)digits[-1]))
            digits--;
        if (digits < at) {
            if (n < max)
                steps[n] = atoi(digits);
            n++;
        }
    }
    return n;
}

/* Compares the progress lines' step counts with the expected ones. */
static void ck_compare_progress(const ProgenProgram *p, const char *err, CkReport *r)
{
    int max = p->progress_count + 1;
    int *steps = calloc((size_t)max, sizeof *steps);
    if (!steps)
        abort();
    int n = ck_progress(err, steps, max);
    if (n != p->progress_count)
        ck_problem(r, "stderr holds %d progress lines, the program has %d loops over batches",
                   n, p->progress_count);
    for (int i = 0; i < n && i < p->progress_count; i++)
        if (steps[i] != p->progress[i])
            ck_problem(r, "progress line %d on stderr counts %d steps; the loop trained %d",
                       i + 1, steps[i], p->progress[i]);
    free(steps);
}

int progen_compare(const ProgenProgram *p, const char *actual, const char *err, char **why)
{
    CkReport r;
    ck_open(&r);
    int lines = ck_lines(p->expected) + 1;
    double *values = calloc((size_t)lines * CK_MAX_NUMBERS, sizeof *values);
    if (!values)
        abort();
    ck_compare(p->expected, actual, 1, &r, values, lines);
    /* Props are read only when the lines agree: otherwise their places mean nothing. */
    if (!r.problems) {
        for (int i = 0; i < p->prop_count; i++) {
            const ProgenProp *q = &p->props[i];
            double v = values[q->line * CK_MAX_NUMBERS + q->index];
            char ab[256];
            if (q->kind == PROGEN_PROP_RANGE &&
                !(v >= q->lo - PROGEN_ABS && v <= q->hi + PROGEN_ABS))
                ck_problem(&r, "line %d, number %d: %.9g is outside [%g, %g]\n    actual:   %s",
                           q->line + 1, q->index + 1, v, q->lo, q->hi,
                           ck_line_text(actual, q->line, ab, sizeof ab));
        }
        /* DISTINCT: a group's values (random draws of one statement in successive
         * executions) must not all be equal. */
        for (int i = 0; i < p->prop_count; i++) {
            const ProgenProp *q = &p->props[i];
            if (q->kind != PROGEN_PROP_DISTINCT)
                continue;
            int first = 1, members = 0, differ = 0;
            double v0 = values[q->line * CK_MAX_NUMBERS + q->index];
            for (int j = 0; j < p->prop_count; j++) {
                const ProgenProp *o = &p->props[j];
                if (o->kind != PROGEN_PROP_DISTINCT || o->group != q->group)
                    continue;
                if (j < i)
                    first = 0;
                members++;
                differ |= values[o->line * CK_MAX_NUMBERS + o->index] != v0;
            }
            if (first && members > 1 && !differ)
                ck_problem(&r, "the %d values of a random draw at number %d of lines %d, ... "
                              "are all %.9g: the draw does not change between executions",
                           members, q->index + 1, q->line + 1, v0);
        }
    }
    free(values);
    if (err)
        ck_compare_progress(p, err, &r);
    return ck_verdict(&r, why);
}

/* ---- running nnc ------------------------------------------------------------------------ */

static char *ck_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *s = NULL;
    size_t len = 0, cap = 0;
    if (f) {
        char chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
            if (len + n + 1 > cap) {
                cap = (len + n + 1) * 2;
                s = realloc(s, cap);
                if (!s)
                    abort();
            }
            memcpy(s + len, chunk, n);
            len += n;
        }
        fclose(f);
    }
    if (!s)
        s = calloc(1, 1);
    else
        s[len] = '\0';
    if (!s)
        abort();
    return s;
}

int progen_run_nnc(const char *nnc, const char *dir, const char *name, int eval, int timeout,
                   char **out, char **err)
{
    char out_path[4096], err_path[4096];
    snprintf(out_path, sizeof out_path, "%s/%s.stdout", dir, name);
    snprintf(err_path, sizeof err_path, "%s/%s.stderr", dir, name);
    pid_t pid = fork();
    if (pid < 0) {
        *out = calloc(1, 1);
        *err = strdup("fork failed");
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0 || chdir(dir) != 0)
            _exit(127);
        dup2(o, 1);
        dup2(e, 2);
        /* One thread: the generated programs are tiny, and the suite runs two at once. */
        setenv("OMP_NUM_THREADS", "1", 1);
        if (eval)
            execl(nnc, nnc, "run", "--color=never", "--eval=f64", name, (char *)NULL);
        else
            execl(nnc, nnc, "run", "--color=never", name, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int status = 0, code = -1;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            break;
        }
        if (r < 0 && errno != EINTR)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= timeout) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            code = 124;
            break;
        }
        struct timespec pause = {0, 2000000};
        nanosleep(&pause, NULL);
    }
    *out = ck_read(out_path);
    *err = ck_read(err_path);
    unlink(out_path);
    unlink(err_path);
    return code;
}

/* ---- one program's whole check ---------------------------------------------------------- */

static const char ck_no_eval[] = "does not run train blocks";

int progen_check(const ProgenProgram *p, const char *nnc, const char *dir, const char *name,
                 int timeout, char **report, int *evaluated)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(p->text, f) < 0 || fclose(f) != 0) {
        *report = strdup("cannot write the program");
        return 0;
    }
    char *out, *err, *eout = NULL, *eerr = NULL, *why = NULL, *ewhy = NULL, *cwhy = NULL;
    int ok = 1;
    int code = progen_run_nnc(nnc, dir, name, 0, timeout, &out, &err);
    int matches = code == 0 && progen_compare(p, out, err, &why);
    ok = matches;
    int ecode = progen_run_nnc(nnc, dir, name, 1, timeout, &eout, &eerr);
    *evaluated = !(ecode == 1 && strstr(eerr, ck_no_eval));
    if (*evaluated) {
        if (ecode != 0 || !progen_compare(p, eout, NULL, &ewhy))
            ok = 0;
        if (code == 0 && ecode == 0 && !progen_numdiff(out, eout, &cwhy))
            ok = 0;
    }

    CkReport r;
    ck_open(&r);
    if (!ok) {
        fprintf(r.f, "---- program %s\n%s", name, p->text);
        fprintf(r.f, "---- expected (the generator's oracle; ? is a random value checked by "
                     "its properties)\n%s", p->expected);
        fprintf(r.f, "---- nnc run: exit status %d\n%s", code, out);
        if (*err)
            fprintf(r.f, "---- nnc run: stderr\n%s", err);
        if (code == 0 && why)
            fprintf(r.f, "---- nnc run against the oracle:\n%s", why);
        if (*evaluated) {
            fprintf(r.f, "---- nnc run --eval=f64: exit status %d\n%s", ecode, eout);
            if (*eerr)
                fprintf(r.f, "---- nnc run --eval=f64: stderr\n%s", eerr);
            if (ewhy)
                fprintf(r.f, "---- the evaluator against the oracle:\n%s", ewhy);
            if (cwhy)
                fprintf(r.f, "---- the evaluator against nnc run (numdiff):\n%s", cwhy);
        }
    }
    fclose(r.f);
    *report = r.s;
    free(out);
    free(err);
    free(eout);
    free(eerr);
    free(why);
    free(ewhy);
    free(cwhy);
    return ok;
}
