/* fuzz_files.c — libFuzzer entry point for the runtime's readers of files a user hands a
 * compiled program: training checkpoints (safetensors), NPY, IDX, CSV and text corpora.
 * Built as nnc_fuzz_files with -DNNC_FUZZ=ON and clang; `make fuzz` runs it after the
 * front end's fuzzer, over a corpus made from tests/train/data (scripts/fuzz.sh).
 *
 * The first byte of an input picks the reader, the rest is the file. Contract exercised:
 * a reader either accepts the file or rejects it through rt_fatal (one message, status
 * 1), and never crashes, reads out of bounds, hangs or allocates what the file merely
 * claims. rt_fatal is wrapped at link time (-Wl,--wrap=rt_fatal) to jump back here, so
 * one process tries many files. What a rejected file's reader had allocated is freed
 * here: ASan's malloc hooks record every block allocated while a reader runs, and the
 * blocks still live after the jump are freed; descriptors it left open are closed. (The
 * readers close their FILE streams before they parse, so no stdio stream is among them.)
 * A reader that accepts its file must leave nothing allocated but the dataset, which the
 * harness frees: anything else live is a leak, and aborts. */
#include "nnc_rt.h"

#include <sanitizer/allocator_interface.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Larger inputs only make the run slower. */
enum { FUZZ_MAX_INPUT = 1 << 16, FUZZ_SPARE_FDS = 64, FUZZ_BLOCKS = 1 << 14 };

static jmp_buf fuzz_escape;
static volatile int fuzz_armed;

/* The blocks allocated while armed and not yet freed: an open-addressing set of
 * pointers (NULL: empty, FUZZ_GONE: a deleted entry). The hooks must not allocate. */
#define FUZZ_GONE ((const void *)1)
static const void *fuzz_blocks[FUZZ_BLOCKS];
static int fuzz_live;

static size_t fuzz_slot(const void *p)
{
    return ((uintptr_t)p >> 4) * 0x9E3779B97F4A7C15u >> 50; /* 14 bits */
}

static void fuzz_malloc_hook(const volatile void *p, size_t size)
{
    (void)size;
    if (!fuzz_armed || p == NULL)
        return;
    for (size_t i = fuzz_slot((const void *)p), n = 0; n < FUZZ_BLOCKS;
         i = (i + 1) % FUZZ_BLOCKS, n++)
        if (fuzz_blocks[i] == NULL || fuzz_blocks[i] == FUZZ_GONE) {
            fuzz_blocks[i] = (const void *)p;
            fuzz_live++;
            return;
        }
    abort(); /* more live blocks than the set holds: raise FUZZ_BLOCKS */
}

static void fuzz_free_hook(const volatile void *p)
{
    if (!fuzz_armed || p == NULL)
        return;
    for (size_t i = fuzz_slot((const void *)p), n = 0; n < FUZZ_BLOCKS && fuzz_blocks[i] != NULL;
         i = (i + 1) % FUZZ_BLOCKS, n++)
        if (fuzz_blocks[i] == p) {
            fuzz_blocks[i] = FUZZ_GONE;
            fuzz_live--;
            return;
        }
}

/* Frees (or, with free_them 0, just forgets) the recorded blocks; returns how many. */
static int fuzz_release(int free_them)
{
    int live = fuzz_live;
    for (size_t i = 0; i < FUZZ_BLOCKS; i++) {
        if (fuzz_blocks[i] != NULL && fuzz_blocks[i] != FUZZ_GONE && free_them)
            free((void *)fuzz_blocks[i]);
        fuzz_blocks[i] = NULL;
    }
    fuzz_live = 0;
    return live;
}

_Noreturn void __wrap_rt_fatal(const char *fmt, ...);

_Noreturn void __wrap_rt_fatal(const char *fmt, ...)
{
    (void)fmt;
    if (!fuzz_armed)
        abort(); /* rt_fatal outside a reader: the harness itself went wrong */
    longjmp(fuzz_escape, 1);
}

static char fuzz_path[64];
static int fuzz_first_fd = -1;

static void fuzz_setup(void)
{
    if (fuzz_first_fd >= 0)
        return;
    snprintf(fuzz_path, sizeof fuzz_path, "/tmp/nnc-fuzz-files-%ld.bin", (long)getpid());
    fuzz_first_fd = dup(0);
    close(fuzz_first_fd);
    rt_pool_set_threads(1); /* no worker threads: their blocks would be recorded */
    __sanitizer_install_malloc_and_free_hooks(fuzz_malloc_hook, fuzz_free_hook);
}

/* The readers, by the input's first byte. */
static void fuzz_checkpoint(const char *path)
{
    float w[6];
    int32_t b[3];
    double epoch;
    RtTensorView views[3] = {
        {.name = "w", .dtype = RT_DTYPE_F32, .rank = 2, .dims = {2, 3}, .data = w},
        {.name = "b", .dtype = RT_DTYPE_I32, .rank = 1, .dims = {3}, .data = b},
        {.name = "$epoch", .dtype = RT_DTYPE_F64, .rank = 0, .data = &epoch},
    };
    RtMeta meta;
    rt_checkpoint_load(path, views, 3, &meta);
}

static void fuzz_datasets(int reader, const char *path)
{
    static const int64_t image[2] = {4, 4};
    RtDataset *ds = NULL;
    switch (reader) {
    case 1: ds = rt_dataset_npy(path, NULL); break;
    case 2: ds = rt_dataset_npy(path, path); break;
    case 3: ds = rt_dataset_idx(path, path, 0, NULL); break;
    case 4: ds = rt_dataset_idx(path, path, 2, image); break;
    case 5: ds = rt_dataset_csv(path, 0, 1); break;
    case 6: ds = rt_dataset_csv(path, 3, 0); break;
    default: ds = rt_dataset_text(path, 4); break;
    }
    /* an accepted dataset must be readable sample by sample */
    int64_t count = rt_dataset_count(ds);
    size_t x_bytes = (size_t)rt_dataset_x_size(ds) * 4, y_bytes = (size_t)rt_dataset_y_size(ds) * 4;
    void *x = malloc(x_bytes ? x_bytes : 1), *y = malloc(y_bytes ? y_bytes : 1);
    for (int64_t i = 0; i < count && i < 64; i++)
        rt_dataset_get(ds, i, x, y_bytes ? y : NULL);
    free(x);
    free(y);
    rt_dataset_free(ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FUZZ_MAX_INPUT)
        return -1; /* not added to the corpus */
    fuzz_setup();
    int reader = data[0] % 8;
    FILE *file = fopen(fuzz_path, "wb");
    if (!file || fwrite(data + 1, 1, size - 1, file) != size - 1 || fclose(file) != 0)
        abort();
    fuzz_armed = 1;
    volatile int rejected = 1;
    if (setjmp(fuzz_escape) == 0) {
        if (reader == 0)
            fuzz_checkpoint(fuzz_path);
        else
            fuzz_datasets(reader, fuzz_path);
        rejected = 0;
    }
    fuzz_armed = 0;
    int left = fuzz_release(rejected);
    if (!rejected && left != 0) {
        fprintf(stderr, "fuzz_files: reader %d accepted its file and leaked %d blocks\n", reader,
                left);
        abort();
    }
    for (int fd = fuzz_first_fd; fd < fuzz_first_fd + FUZZ_SPARE_FDS; fd++)
        close(fd);
    return 0;
}
