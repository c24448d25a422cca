/* rt_test.h — what the runtime's unit tests share: pass/fail counting, a scratch
 * directory, whole-file helpers, and running a call that must fail in a forked child
 * (checking its exit status and what it wrote to stderr). Each test program includes this
 * once; everything is static. */
#ifndef RT_TEST_H
#define RT_TEST_H

#define _GNU_SOURCE
#include "nnc_rt.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Helpers a test program may not use. */
#define TEST_HELPER static __attribute__((unused))

static int tests_passed;
static int tests_failed;

TEST_HELPER void record(int ok, const char *name)
{
    if (ok) {
        tests_passed++;
    } else {
        tests_failed++;
        printf("FAIL %s\n", name);
    }
}

__attribute__((format(printf, 2, 3))) TEST_HELPER void recordf(int ok, const char *fmt, ...)
{
    char name[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(name, sizeof name, fmt, args);
    va_end(args);
    record(ok, name);
}

TEST_HELPER int finish(void)
{
    printf("%d passed, %d failed\n", tests_passed, tests_failed);
    return tests_failed != 0;
}

/* ---- a scratch directory, removed at exit ------------------------------------------------ */

static char scratch_dir[256];
static pid_t scratch_owner; /* children that exit through rt_fatal must not remove it */

TEST_HELPER void scratch_remove(void)
{
    if (scratch_dir[0] == '\0' || getpid() != scratch_owner)
        return;
    char command[300];
    snprintf(command, sizeof command, "rm -rf '%s'", scratch_dir);
    if (system(command) != 0)
        fprintf(stderr, "could not remove %s\n", scratch_dir);
}

/* Creates the scratch directory once; returns "DIR/name" in a static rotating buffer. */
TEST_HELPER const char *scratch(const char *name)
{
    static char paths[8][512];
    static int next;
    if (scratch_dir[0] == '\0') {
        const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(scratch_dir, sizeof scratch_dir, "%s/nnc-rt-test-XXXXXX", tmp);
        if (mkdtemp(scratch_dir) == NULL) {
            perror("mkdtemp");
            exit(2);
        }
        scratch_owner = getpid();
        atexit(scratch_remove);
    }
    char *path = paths[next++ % 8];
    snprintf(path, 512, "%s/%s", scratch_dir, name);
    return path;
}

TEST_HELPER void write_file(const char *path, const void *bytes, size_t size)
{
    FILE *file = fopen(path, "wb");
    if (file == NULL || fwrite(bytes, 1, size, file) != size || fclose(file) != 0) {
        perror(path);
        exit(2);
    }
}

/* The whole file, NUL-terminated; *size (may be NULL) gets its length. Caller frees. */
TEST_HELPER char *read_file(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL)
        return NULL;
    char *data = NULL;
    size_t length = 0, capacity = 0;
    for (;;) {
        if (length + 4096 + 1 > capacity) {
            capacity = capacity ? 2 * capacity : 8192;
            data = realloc(data, capacity);
        }
        size_t got = fread(data + length, 1, 4096, file);
        length += got;
        if (got == 0)
            break;
    }
    fclose(file);
    data[length] = '\0';
    if (size)
        *size = length;
    return data;
}

/* ---- calls that must fail ------------------------------------------------------------------ */

/* LeakSanitizer asks this at exit. A child that ends through rt_fatal leaves its blocks
 * allocated by design (the process is ending), and the parent's threads do not exist in
 * it, so leak checking is off in children and stays on in the test itself. */
static int test_in_child;
__attribute__((used, visibility("default"))) int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
    return test_in_child;
}

typedef void (*TestCall)(void *context);

/* Runs call(context) in a child with stderr (and stdout) captured; returns its exit status
 * (-1 when it died of a signal) and the captured stderr in a static buffer. */
TEST_HELPER int run_in_child(TestCall call, void *context, const char **err_text)
{
    static char captured[8192];
    const char *err_path = scratch("child.stderr");
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        test_in_child = 1;
        if (freopen(err_path, "w", stderr) == NULL)
            _exit(99);
        if (freopen("/dev/null", "w", stdout) == NULL)
            _exit(99);
        call(context);
        fflush(stdout);
        fflush(stderr);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    size_t size;
    char *text = read_file(err_path, &size);
    snprintf(captured, sizeof captured, "%s", text ? text : "");
    free(text);
    *err_text = captured;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Records whether call(context) exits with `status` and an stderr that contains
 * `expected` (and starts with "nnc: "). Shows both on failure, and every message when
 * RT_TEST_VERBOSE is set (to review their wording). */
TEST_HELPER void expect_failure(const char *name, TestCall call, void *context, int status,
                           const char *expected)
{
    const char *err;
    int got = run_in_child(call, context, &err);
    int ok = got == status && strstr(err, expected) != NULL && strncmp(err, "nnc: ", 5) == 0;
    record(ok, name);
    if (getenv("RT_TEST_VERBOSE"))
        printf("  [%s] exit %d: %s", name, got, err);
    if (!ok)
        printf("  expected exit %d and stderr containing \"%s\"\n  got exit %d, stderr: %s",
               status, expected, got, err);
}

#endif
