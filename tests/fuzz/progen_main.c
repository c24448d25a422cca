/* progen_main.c — nnc_progen: generate train programs from seeds and check each against
 * the generator's oracle and the reference evaluator (progen.h; docs/testing.md).
 *
 *   nnc_progen --nnc NNC [--first N] [--count N] [--seconds S] [--timeout S] [--keep DIR]
 *                        [--verbose N] [--data DIR]
 *       checks the programs of seeds first .. first + count - 1 (defaults 1 and 100),
 *       stopping early after S seconds (default: none); each run of nnc may take
 *       --timeout seconds (default 60). A failing program is kept as DIR/progen-SEED.nn
 *       (default: the current folder) with its expected output beside it, and the first
 *       --verbose (default 3) failures are printed whole: program, expected, actual.
 *       --data DIR names the folder of points.csv (tests/train/data), which loops over
 *       batches read; without it the programs have none. It goes with every form.
 *   nnc_progen --show SEED [--data DIR]
 *       prints the program of SEED and its expected output, running nothing.
 *   nnc_progen --nnc NNC --input FILE
 *       checks the program made from FILE's bytes (an input of the fuzz_prog target).
 *   nnc_progen --nnc NNC --reduce SEED
 *       shrinks the failing program of SEED: leaves out statements, outer ones first,
 *       while the program still fails, until none can go; prints what is left, with its
 *       report, and keeps it as DIR/progen-SEED-reduced.nn.
 *
 * Exit status: 0 all agreed, 1 a program failed, 2 a bad command line. */
#define _GNU_SOURCE
#include "progen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int usage(void)
{
    fprintf(stderr, "usage: nnc_progen --nnc NNC [--first N] [--count N] [--seconds S] "
                    "[--timeout S] [--keep DIR] [--verbose N] [--data DIR]\n"
                    "       nnc_progen --show SEED [--data DIR]\n"
                    "       nnc_progen --nnc NNC --input FILE [--data DIR]\n"
                    "       nnc_progen --nnc NNC --reduce SEED [--data DIR]\n");
    return 2;
}

static int number(const char *s, long long *v)
{
    char *end;
    *v = strtoll(s, &end, 10);
    return *s && !*end && *v >= 0;
}

static void keep(const char *dir, const char *tag, const ProgenProgram *p)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/progen-%s.nn", dir, tag);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(p->text, f);
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/progen-%s.expected", dir, tag);
    f = fopen(path, "w");
    if (f) {
        fputs(p->expected, f);
        fclose(f);
    }
    fprintf(stderr, "nnc_progen: kept %s/progen-%s.nn (and .expected)\n", dir, tag);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Checks one program in a fresh temporary folder; returns 1 when it agreed. */
static int check_one(const ProgenProgram *p, const char *nnc, int timeout, const char *tag,
                     const char *keep_dir, int verbose, int *evaluated)
{
    char dir[] = "/tmp/nnc-progen.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("nnc_progen: mkdtemp");
        exit(1);
    }
    char *report = NULL;
    int ok = progen_check(p, nnc, dir, "prog.nn", timeout, &report, evaluated);
    char path[4096];
    snprintf(path, sizeof path, "%s/prog.nn", dir);
    unlink(path);
    rmdir(dir);
    if (!ok) {
        fprintf(stderr, "nnc_progen: program %s FAILED\n", tag);
        if (verbose)
            fputs(report, stderr);
        keep(keep_dir, tag, p);
    }
    free(report);
    return ok;
}

/* Whether the program of `seed` without the statements `deleted` marks fails, as one that
 * nnc runs (status 0) or not, like the original (`runs`); -1 when it is not emitted. */
static int fails(uint64_t seed, const char *data_dir, const unsigned char *deleted, int n,
                 const char *nnc, int timeout, int runs, char **report, ProgenProgram *out)
{
    if (!progen_generate_reduced(NULL, 0, seed, data_dir, deleted, n, out))
        return -1;
    char dir[] = "/tmp/nnc-progen.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("nnc_progen: mkdtemp");
        exit(1);
    }
    int evaluated = 0;
    int ok = progen_check(out, nnc, dir, "prog.nn", timeout, report, &evaluated);
    char path[4096], *err = NULL, *outs = NULL;
    snprintf(path, sizeof path, "%s/prog.nn", dir);
    int code = ok ? 0 : progen_run_nnc(nnc, dir, "prog.nn", 0, timeout, &outs, &err);
    unlink(path);
    rmdir(dir);
    free(outs);
    free(err);
    return !ok && (code == 0) == runs;
}

static int reduce_seed(uint64_t seed, const char *nnc, const char *data_dir, int timeout,
                       const char *keep_dir)
{
    ProgenProgram p;
    char *report = NULL;
    if (!progen_generate(NULL, 0, seed, data_dir, &p)) {
        printf("nnc_progen: seed %llu: the oracle's bounds reject this program\n",
               (unsigned long long)seed);
        return 0;
    }
    int n = p.statements;
    progen_free(&p);
    unsigned char *deleted = calloc((size_t)n + 1, 1);
    if (!deleted)
        abort();
    /* the original: does nnc run it (a wrong output) or refuse it? */
    int runs = 0;
    for (runs = 0; runs < 2; runs++) {
        int r = fails(seed, data_dir, deleted, n, nnc, timeout, runs, &report, &p);
        free(report);
        progen_free(&p);
        if (r == 1)
            break;
    }
    if (runs == 2) {
        printf("nnc_progen: seed %llu agrees; nothing to reduce\n", (unsigned long long)seed);
        free(deleted);
        return 0;
    }
    for (int changed = 1; changed;) {
        changed = 0;
        for (int id = 0; id < n; id++) {
            if (deleted[id])
                continue;
            deleted[id] = 1;
            int r = fails(seed, data_dir, deleted, n, nnc, timeout, runs, &report, &p);
            free(report);
            progen_free(&p);
            if (r == 1)
                changed = 1;
            else
                deleted[id] = 0;
        }
    }
    fails(seed, data_dir, deleted, n, nnc, timeout, runs, &report, &p);
    fputs(report, stdout);
    char tag[48];
    snprintf(tag, sizeof tag, "%llu-reduced", (unsigned long long)seed);
    keep(keep_dir, tag, &p);
    free(report);
    progen_free(&p);
    free(deleted);
    return 1;
}

int main(int argc, char **argv)
{
    const char *nnc = NULL, *keep_dir = ".", *input = NULL, *data_dir = NULL;
    long long first = 1, count = 100, seconds = 0, timeout = 60, verbose = 3, show = -1;
    long long reduce = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            return usage();
        const char *v = argv[++i];
        if (strcmp(a, "--nnc") == 0)
            nnc = v;
        else if (strcmp(a, "--keep") == 0)
            keep_dir = v;
        else if (strcmp(a, "--input") == 0)
            input = v;
        else if (strcmp(a, "--data") == 0)
            data_dir = v;
        else if (!((strcmp(a, "--first") == 0 && number(v, &first)) ||
                   (strcmp(a, "--count") == 0 && number(v, &count)) ||
                   (strcmp(a, "--seconds") == 0 && number(v, &seconds)) ||
                   (strcmp(a, "--timeout") == 0 && number(v, &timeout) && timeout > 0) ||
                   (strcmp(a, "--verbose") == 0 && number(v, &verbose)) ||
                   (strcmp(a, "--show") == 0 && number(v, &show)) ||
                   (strcmp(a, "--reduce") == 0 && number(v, &reduce))))
            return usage();
    }

    if (show >= 0) {
        ProgenProgram p;
        if (!progen_generate(NULL, 0, (uint64_t)show, data_dir, &p)) {
            printf("seed %lld: the oracle's bounds reject this program\n", show);
            return 0;
        }
        printf("%s---- expected\n%s", p.text, p.expected);
        for (int i = 0; i < p.progress_count; i++)
            printf("---- progress line %d on stderr: %d steps\n", i + 1, p.progress[i]);
        for (int i = 0; i < p.prop_count; i++)
            printf("---- line %d, number %d: %s [%g, %g] group %d\n", p.props[i].line + 1,
                   p.props[i].index + 1,
                   p.props[i].kind == PROGEN_PROP_RANGE ? "in" : "distinct", p.props[i].lo,
                   p.props[i].hi, p.props[i].group);
        progen_free(&p);
        return 0;
    }
    if (!nnc)
        return usage();

    if (reduce >= 0)
        return reduce_seed((uint64_t)reduce, nnc, data_dir, (int)timeout, keep_dir);

    if (input) {
        FILE *f = fopen(input, "rb");
        if (!f) {
            perror(input);
            return 1;
        }
        uint8_t buf[1 << 16];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        ProgenProgram p;
        if (!progen_generate(buf, n, 0, data_dir, &p)) {
            printf("nnc_progen: %s: the oracle's bounds reject this program\n", input);
            return 0;
        }
        int evaluated = 0;
        int ok = check_one(&p, nnc, (int)timeout, "input", keep_dir, 1, &evaluated);
        progen_free(&p);
        printf("nnc_progen: %s: %s\n", input, ok ? "agrees" : "FAILED");
        return ok ? 0 : 1;
    }

    double start = now();
    long long checked = 0, rejected = 0, failed = 0, with_eval = 0;
    char failures[1024] = "";
    for (long long seed = first; seed < first + count; seed++) {
        if (seconds && now() - start > (double)seconds) {
            printf("nnc_progen: stopped after %llds, before seed %lld (--seconds)\n", seconds,
                   seed);
            break;
        }
        ProgenProgram p;
        if (!progen_generate(NULL, 0, (uint64_t)seed, data_dir, &p)) {
            rejected++;
            continue;
        }
        char tag[32];
        snprintf(tag, sizeof tag, "%lld", seed);
        int evaluated = 0;
        if (!check_one(&p, nnc, (int)timeout, tag, keep_dir, failed < verbose, &evaluated)) {
            failed++;
            size_t len = strlen(failures);
            if (len < sizeof failures - 32)
                snprintf(failures + len, sizeof failures - len, " %lld", seed);
        }
        with_eval += evaluated;
        checked++;
        progen_free(&p);
    }
    printf("nnc_progen: %lld programs checked (%lld also by the evaluator), %lld rejected by "
           "the oracle's bounds, %lld failed, in %.1fs\n",
           checked, with_eval, rejected, failed, now() - start);
    if (failed)
        printf("nnc_progen: failing seeds:%s\n"
               "nnc_progen: reproduce one with `nnc_progen --show SEED` and "
               "`nnc_progen --nnc NNC --first SEED --count 1`\n",
               failures);
    return failed ? 1 : 0;
}
