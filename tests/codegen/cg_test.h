/* cg_test.h — what the code generation unit tests (tests/codegen, tests/prog) share:
 * counting results, running a compiled module in the JIT with stdout captured, and
 * running a linked executable the same way. Header-only; each test is one .c file. */
#ifndef NNC_CG_TEST_H
#define NNC_CG_TEST_H

#include "codegen/cg.h"
#include "util/util.h"

#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int tests_passed, tests_failed;

/* Counts a check; a failure prints "FAIL <message>". */
static void record(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void record(bool ok, const char *fmt, ...)
{
    if (ok) {
        tests_passed++;
        return;
    }
    tests_failed++;
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
}

/* The file's contents (caller frees); "" when it cannot be read. */
static char *read_all(const char *path)
{
    size_t len;
    char *text = util_read_file(path, &len);
    return text ? text : util_strdup("");
}

/* JIT-runs m (then frees it) with argv, stdout captured; returns what it printed (caller
 * frees), or NULL, recorded as a failure, when it did not return 0. */
static char *jit_capture(CgModule *m, const char *name, int argc, char **argv)
{
    char path[] = "/tmp/nnc-test-out-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("mkstemp");
        exit(2);
    }
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    dup2(fd, STDOUT_FILENO);
    int rc = cg_jit_run(m, argc, argv);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(fd);
    cg_module_free(m);
    char *text = read_all(path);
    unlink(path);
    if (rc != 0) {
        record(false, "%s: cg_jit_run returned %d", name, rc);
        free(text);
        return NULL;
    }
    return text;
}

/* Runs path with stdout into a file; returns the output, NULL if it did not exit 0. */
static char *run_executable(const char *path)
{
    char out[] = "/tmp/nnc-test-exe-out-XXXXXX";
    int fd = mkstemp(out);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd, STDOUT_FILENO);
    char *argv[] = {(char *)path, NULL};
    pid_t pid;
    int status = -1;
    if (posix_spawn(&pid, path, &fa, NULL, argv, environ) == 0)
        waitpid(pid, &status, 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fd);
    char *text = read_all(out);
    unlink(out);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

#endif
