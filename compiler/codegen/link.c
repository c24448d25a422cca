/* link.c — cg_emit_executable: an object file of the module, linked by the system C
 * compiler with the runtime into a standalone executable:
 *     cc -o OUT prog.o <runtime>/rt_main.o <runtime>/libnncrt.a -ldnnl -lm
 * The executable needs no LLVM. <runtime> is, in order: $NNC_RUNTIME_DIR; runtime/ beside
 * the running binary (the build tree puts nnc next to runtime/); the build's runtime
 * directory compiled in as NNC_RUNTIME_DIR. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkstemps */
#endif
#include "codegen/cg_internal.h"
#include "util/util.h"

#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static bool runtime_files_in(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/libnncrt.a", dir);
    if (access(path, R_OK) != 0)
        return false;
    snprintf(path, sizeof path, "%s/rt_main.o", dir);
    return access(path, R_OK) == 0;
}

/* Writes the runtime directory into dir; false after printing why there is none. */
static bool find_runtime(char *dir, size_t size)
{
    const char *env = getenv("NNC_RUNTIME_DIR");
    if (env && *env) {
        if (runtime_files_in(env)) {
            snprintf(dir, size, "%s", env);
            return true;
        }
        fprintf(stderr, "nnc: NNC_RUNTIME_DIR=%s does not hold libnncrt.a and rt_main.o\n", env);
        return false;
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            int n = snprintf(dir, size, "%s/runtime", exe);
            if (n > 0 && (size_t)n < size && runtime_files_in(dir))
                return true;
        }
    }
#ifdef NNC_RUNTIME_DIR
    if (runtime_files_in(NNC_RUNTIME_DIR)) {
        snprintf(dir, size, "%s", NNC_RUNTIME_DIR);
        return true;
    }
#endif
    fprintf(stderr, "nnc: cannot find the runtime (libnncrt.a and rt_main.o) to link with; "
                    "set NNC_RUNTIME_DIR to the directory that holds them\n");
    return false;
}

/* Writes the object file to a new temporary file, whose name goes into path. */
static bool write_object(CgModule *m, char *path, size_t size)
{
    LLVMMemoryBufferRef obj = cg_emit_to_memory(m, LLVMObjectFile);
    if (!obj)
        return false;
    const char *tmpdir = getenv("TMPDIR");
    if (!tmpdir || !*tmpdir)
        tmpdir = "/tmp";
    snprintf(path, size, "%s/nnc-XXXXXX.o", tmpdir);
    int fd = mkstemps(path, 2);
    if (fd < 0) {
        fprintf(stderr, "nnc: cannot create a temporary object file in %s: %s\n", tmpdir,
                strerror(errno));
        LLVMDisposeMemoryBuffer(obj);
        return false;
    }
    const char *data = LLVMGetBufferStart(obj);
    size_t left = LLVMGetBufferSize(obj);
    bool ok = true;
    while (left > 0 && ok) {
        ssize_t n = write(fd, data, left);
        if (n < 0 && errno == EINTR)
            continue;
        ok = n > 0;
        if (ok) {
            data += n;
            left -= (size_t)n;
        }
    }
    if (close(fd) != 0)
        ok = false;
    if (!ok) {
        fprintf(stderr, "nnc: cannot write the object file %s: %s\n", path, strerror(errno));
        unlink(path);
    }
    LLVMDisposeMemoryBuffer(obj);
    return ok;
}

/* Runs argv (argv[0] looked up in PATH, no shell); returns its exit status, or -1 after
 * printing why it could not run or did not exit normally. */
static int run_command(char **argv)
{
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
    if (rc != 0) {
        fprintf(stderr, "nnc: cannot run %s: %s\n", argv[0], strerror(rc));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "nnc: waiting for %s: %s\n", argv[0], strerror(errno));
            return -1;
        }
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    fprintf(stderr, "nnc: %s was killed by signal %d\n", argv[0],
            WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return -1;
}

/* The runtime directory's link-flags.txt (written by the build): one flag a line. Falls back
 * to the libraries every runtime needs. Returns the number of flags stored in flags[]. */
static int read_link_flags(const char *dir, char flags[][64], int max)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/link-flags.txt", dir);
    FILE *f = fopen(path, "r");
    int n = 0;
    if (f) {
        char line[256];
        while (n < max && fgets(line, sizeof line, f)) {
            line[strcspn(line, "\r\n")] = '\0';
            size_t len = strlen(line);
            if (len > 0 && len < 64)
                memcpy(flags[n++], line, len + 1);
        }
        fclose(f);
    }
    if (n == 0) {
        static const char *const defaults[] = {"-ldnnl", "-lz", "-lpthread", "-lm"};
        for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++)
            snprintf(flags[n++], 64, "%s", defaults[i]);
    }
    return n;
}

int cg_emit_executable(CgModule *m, const char *out_path)
{
    char dir[PATH_MAX];
    if (!find_runtime(dir, sizeof dir))
        return 1;
    char rt_main[PATH_MAX + 16], rt_lib[PATH_MAX + 16], tmp_out[PATH_MAX + 32];
    snprintf(rt_main, sizeof rt_main, "%s/rt_main.o", dir);
    snprintf(rt_lib, sizeof rt_lib, "%s/libnncrt.a", dir);
    if (util_same_file(out_path, rt_main) || util_same_file(out_path, rt_lib)) {
        fprintf(stderr, "nnc: the output '%s' is the runtime library nnc links with\n", out_path);
        return 1;
    }
    char obj[PATH_MAX];
    if (!write_object(m, obj, sizeof obj))
        return 1;
    /* Link beside the target, then rename: an existing executable is replaced only by a
     * complete one. */
    snprintf(tmp_out, sizeof tmp_out, "%s.tmp%ld", out_path, (long)getpid());
    char flags[16][64];
    int nflags = read_link_flags(dir, flags, 16);
    char *argv[8 + 16];
    int argc = 0;
    argv[argc++] = "cc";
    argv[argc++] = "-o";
    argv[argc++] = tmp_out;
    argv[argc++] = obj;
    argv[argc++] = rt_main;
    argv[argc++] = rt_lib;
    for (int i = 0; i < nflags; i++)
        argv[argc++] = flags[i];
    argv[argc] = NULL;
    int status = run_command(argv);
    unlink(obj);
    if (status == 0 && rename(tmp_out, out_path) != 0) {
        fprintf(stderr, "nnc: cannot write %s: %s\n", out_path, strerror(errno));
        status = 1;
    }
    if (status != 0) {
        unlink(tmp_out); /* never leave a partial executable behind */
        if (status > 0)
            fprintf(stderr, "nnc: linking %s failed (cc exited with status %d)\n", out_path,
                    status);
        else
            fprintf(stderr, "nnc: linking %s failed\n", out_path);
        return 1;
    }
    return 0;
}
