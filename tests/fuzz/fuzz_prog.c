/* fuzz_prog.c — libFuzzer entry point for whole train programs: the input's bytes are the
 * choices of the program generator (progen.h), and the program it makes must print what
 * the generator's oracle expects, under `nnc run` and, once it runs train blocks, under
 * `nnc run --eval=f64`. Built as nnc_fuzz_prog with -DNNC_FUZZ=ON and clang; `make fuzz`
 * runs it for a bounded time (scripts/fuzz.sh, docs/testing.md).
 *
 * nnc runs as a subprocess: the environment variable NNC_PROGEN_NNC names the nnc to
 * test (scripts/fuzz.sh sets it), and NNC_PROGEN_DATA the folder of points.csv that
 * loops over batches read (tests/train/data; unset, the programs have none). Compiling and running in this process would need the
 * JIT and the runtime linked here, and one bad program would end the fuzzer; a subprocess
 * also catches nnc's crashes and hangs (its own timeout). libFuzzer's coverage is the
 * generator's: mutations reach new program shapes, not new paths inside nnc.
 *
 * A disagreement prints the program, the expected and the actual outputs, and aborts, so
 * libFuzzer keeps the input; `nnc_progen --nnc NNC --input FILE` checks it again. */
#define _GNU_SOURCE
#include "progen.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Choices past a few hundred bytes are not read: larger inputs only slow mutation. */
enum { FUZZ_PROG_MAX_INPUT = 4096, FUZZ_PROG_TIMEOUT = 60 };

static const char *fuzz_nnc;
static char fuzz_dir[] = "/tmp/nnc-fuzz-prog.XXXXXX";

int LLVMFuzzerInitialize(int *argc, char ***argv);
static void fuzz_cleanup(void);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_nnc = getenv("NNC_PROGEN_NNC");
    if (!fuzz_nnc || !*fuzz_nnc) {
        fprintf(stderr, "fuzz_prog: set NNC_PROGEN_NNC to the nnc to test\n");
        exit(2);
    }
    if (!mkdtemp(fuzz_dir)) {
        perror("fuzz_prog: mkdtemp");
        exit(2);
    }
    atexit(fuzz_cleanup);
    return 0;
}

static void fuzz_cleanup(void)
{
    char path[sizeof fuzz_dir + 16];
    snprintf(path, sizeof path, "%s/prog.nn", fuzz_dir);
    unlink(path);
    rmdir(fuzz_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_PROG_MAX_INPUT)
        return -1; /* not added to the corpus */
    ProgenProgram program;
    if (!progen_generate(data, size, 0, getenv("NNC_PROGEN_DATA"), &program))
        return 0; /* the oracle's value bounds reject it: nothing to check */
    char *report = NULL;
    int evaluated = 0;
    int ok = progen_check(&program, fuzz_nnc, fuzz_dir, "prog.nn", FUZZ_PROG_TIMEOUT, &report,
                          &evaluated);
    if (!ok) {
        fputs(report, stderr);
        fprintf(stderr, "fuzz_prog: the program above disagrees with the generator's oracle "
                        "(or the evaluator); its input is kept by libFuzzer\n");
        abort();
    }
    free(report);
    progen_free(&program);
    return 0;
}
