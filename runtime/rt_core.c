/* rt_core.c — program lifecycle and fatal errors.
 * Both the AOT main() (rt_main.c) and the JIT bracket a program with rt_init / rt_exit. */
#include "rt_internal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* The command line of the running program, parsed once the program has declared its
 * settings (rt_flags_parse_command_line); the JIT passes its own argc/argv. */
static int rt_argument_count;
static char **rt_arguments;

void rt_init(int argc, char **argv)
{
    rt_argument_count = argc;
    rt_arguments = argv;
}

static bool rt_avx512;
static pthread_once_t rt_isa_once = PTHREAD_ONCE_INIT;

static void rt_isa_decide(void)
{
    const char *isa = getenv("NNC_ISA");
    bool capped = isa && strcmp(isa, "avx2") == 0;
#if defined(__x86_64__)
    rt_avx512 = !capped && __builtin_cpu_supports("avx512f");
#else
    rt_avx512 = false;
    (void)capped;
#endif
}

bool rt_cpu_avx512(void)
{
    pthread_once(&rt_isa_once, rt_isa_decide);
    return rt_avx512;
}

void rt_flags_parse_command_line(void)
{
    rt_flags_parse_program_command_line(rt_argument_count, rt_arguments);
}

/* Returns the process exit status: 0, or 1 when stdout could not be written (a full disk,
 * a closed pipe), which would otherwise lose output silently. The error flag is cleared
 * so a REPL that runs several programs reports each failure once. */
int rt_exit(void)
{
    int failed = fflush(stdout) != 0 || ferror(stdout);
    clearerr(stdout);
    if (failed) {
        fputs("nnc: error writing output\n", stderr);
        return 1;
    }
    return 0;
}

void rt_vmessage(const char *fmt, va_list args)
{
    /* Flush first so what the program printed before failing appears before the error
     * when stdout and stderr go to the same terminal. */
    fflush(stdout);
    fputs("nnc: ", stderr);
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
}

_Noreturn void rt_fatal(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    rt_vmessage(fmt, args);
    va_end(args);
    exit(1);
}

void rt_setting_bounded(const char *name, double compiled, double given)
{
    if (given <= compiled)
        return;
    fflush(stdout);
    fprintf(stderr, "nnc: --%s %g is larger than %g, the batch size this program's tensors were "
                    "compiled for; compile the program with the largest you want (nnc FILE -o EXE "
                    "-- --%s %g)\n",
            name, given, compiled, name, given);
    exit(2);
}

void rt_setting_fixed(const char *name, double compiled, double given, const char *why)
{
    if (!rt_flag_is_set(name) || given == compiled)
        return;
    fflush(stdout);
    fprintf(stderr, "nnc: --%s is %g in this program: it sizes the compiled tensors", name,
            compiled);
    if (why)
        fprintf(stderr, " (every batch is full: %s)", why);
    fprintf(stderr, "; compile the program with the value you want (nnc FILE -o EXE -- --%s %g)\n",
            name, given);
    exit(2);
}
