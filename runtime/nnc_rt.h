/* nnc_rt.h — the runtime that ships inside every program nnc builds.
 * Generated code (JIT or AOT) calls only these functions. The runtime never includes
 * compiler headers; the compiler may include this one (the reference evaluator prints
 * through it, so every path formats tensors identically). */
#ifndef NNC_RT_H
#define NNC_RT_H

#include <stdint.h>
#include <stdio.h>

/* ---- memory ---------------------------------------------------------------------- */
/* All intermediates of a program live in arenas: one allocation, 64-byte aligned,
 * zero-filled. On failure prints "nnc: out of memory (N bytes)" and exits 3. */
void *rt_arena_new(int64_t bytes);
void rt_arena_release(void *base);
/* The bytes this process may still allocate and touch (rt_memory.c): MemAvailable of
 * /proc/meminfo, or less when a cgroup's memory limit leaves less; -1 if unknown.
 * NNC_MEMORY_AVAILABLE (bytes, or with a K, M, G or T suffix) replaces the measurement. */
int64_t rt_memory_available(void);
/* Before a program allocates: if what it will hold at once is more than
 * rt_memory_available(), says what it needs, by part, and what is available, and exits
 * with status 1 (docs/memory.md). */
void rt_memory_check(int64_t parameters, int64_t optimizer, int64_t other, int64_t activations,
                     int64_t data);
/* Before a block of `bytes` is allocated and touched: from RT_MEMORY_CHECKED bytes on
 * (smaller blocks are not worth a read of /proc), if it is more than
 * rt_memory_available(), prints "nnc: out of memory (N bytes; M available)" and exits 3.
 * Arenas and the runtime's own large blocks (data sets) go through it. */
#define RT_MEMORY_CHECKED ((size_t)64 << 20)
void rt_memory_reserve(size_t bytes);
/* "512 B", "1.5 KiB", "37.3 GiB" (as --mem prints sizes). */
void rt_format_bytes(char *buf, size_t n, int64_t bytes);

/* ---- printing ---------------------------------------------------------------------- */
/* Prints a tensor to stdout in the documented format (docs/runtime.md):
 *   f32[2, 3]
 *   [[1, 2, 3],
 *    [4, 5, 6]]
 * Elements use %.4g, right-aligned to a common width; a tensor of more than 1000 elements
 * shows the first and last 3 entries of each dimension longer than 6, with "...". */
void rt_print_f32(const float *data, int32_t rank, const int64_t *dims);
void rt_print_f64(const double *data, int32_t rank, const int64_t *dims);
/* Same format to any stream (used by the compiler's reference evaluator and the REPL). */
void rt_fprint_f64(FILE *out, const char *dtype, const double *data, int32_t rank,
                   const int64_t *dims);

/* ---- linear algebra (oneDNN) --------------------------------------------------------- */
/* C[M,N] = op(A) @ op(B), all row-major and contiguous; op(A) is [M,K]: A is [M,K], or
 * [K,M] when trans_a; op(B) is [K,N]: B is [K,N], or [N,K] when trans_b. */
void rt_matmul_f32(int64_t M, int64_t N, int64_t K, int32_t trans_a, int32_t trans_b,
                   const float *A, const float *B, float *C);
/* C = op(A) @ op(B) + beta * C (C is not read when beta is 0). */
void rt_matmul_acc_f32(int64_t M, int64_t N, int64_t K, int32_t trans_a, int32_t trans_b,
                       const float *A, const float *B, float beta, float *C);
/* `batch` such products, one after the other: A, B and C are stacks of [M,K] (or [K,M]),
 * [K,N] (or [N,K]) and [M,N] matrices; C = op(A) @ op(B) + beta * C0, where C0 is C
 * itself or a stack of C's shape elsewhere (unused when beta is 0: NULL will do). */
void rt_matmul_batch_f32(int64_t batch, int64_t M, int64_t N, int64_t K, int32_t trans_a,
                         int32_t trans_b, const float *A, const float *B, float *C, float beta,
                         const float *C0);

/* ---- program lifecycle ----------------------------------------------------------------- */
/* rt_main (in rt_main.c, linked only into executables) calls rt_init, then the compiled
 * program's nnc_program(), then rt_exit. The JIT calls the same three. */
void rt_init(int argc, char **argv);
int rt_exit(void);
/* nnc_program's first call: whether the CPU its code was compiled for (nnc --cpu) has
 * AVX-512. When not (avx512 = 0), the runtime's own kernels and oneDNN stay at AVX2 too,
 * so a program built for x86-64-v3 on an AVX-512 machine runs as on an AVX2 one. */
void rt_target_cpu(int32_t avx512);
/* Report a runtime failure ("nnc: <msg>") and exit with status 1. */
_Noreturn void rt_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A setting whose value was compiled into the program's shapes (a batch size): if the
 * command line gave another value, says so and exits with status 2. `why`, when not
 * NULL, says why a batch size is compiled in (its loop could not run smaller batches). */
void rt_setting_fixed(const char *name, double compiled, double given, const char *why);
/* The same for a setting that is the batch size of loops whose last batch may be smaller:
 * it may be lower than the compiled value (the largest), not higher. */
void rt_setting_bounded(const char *name, double compiled, double given);

/* ==== training support: randomness, threads, flags, data, checkpoints, progress,
 * metrics (rt_random.c rt_pool.c rt_flags.c rt_data.c rt_checkpoint.c rt_progress.c
 * rt_metrics.c). Every failure prints "nnc: ..." naming the file and what is wrong, and
 * exits through rt_fatal (status 1); command-line mistakes exit with status 2. ========== */

/* Element types of dataset tensors and checkpoint tensors. */
/* F64 is for checkpoints only (a program's host scalars); datasets never hold it. */
typedef enum RtDtype { RT_DTYPE_F32, RT_DTYPE_I32, RT_DTYPE_I64, RT_DTYPE_F64 } RtDtype;
enum { RT_MAX_RANK = 8 };

/* ---- random numbers (Philox-4x32-10, counter-based) ------------------------------------- */
/* The generator state is just (seed, counter): out[i] of each fill depends only on seed,
 * counter and i, never on the thread count. counter counts 32-bit words of stream 0;
 * each fill returns the counter just past the words it used, so consecutive fills chain:
 * fill(n, c) then fill(m, returned) == fill(n + m, c) for uniform and bernoulli, and for
 * normal when n is even. A checkpoint stores (seed, counter) to resume the sequence. */
/* The raw block function, 10 rounds, as published (Random123 known-answer vectors). */
void rt_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);
/* Word `index` of stream `stream` for `seed` (lane index%4 of block index/4). */
uint32_t rt_random_word(uint64_t seed, uint64_t stream, uint64_t index);
/* out[i] uniform in [low, high), from 24 random bits of word counter + i. Uses n words. */
uint64_t rt_random_uniform(float *out, int64_t n, float low, float high, uint64_t seed,
                           uint64_t counter);
/* out[i] = mean + stddev * z, z standard normal by Box–Muller on the word pair at
 * counter + (i & ~1) (cosine for even i, sine for odd i). Uses n rounded up to even. */
uint64_t rt_random_normal(float *out, int64_t n, float mean, float stddev, uint64_t seed,
                          uint64_t counter);
/* out[i] = 1.0f with probability p (uniform of word counter + i below p), else 0.0f. */
uint64_t rt_random_bernoulli(float *out, int64_t n, float p, uint64_t seed, uint64_t counter);
/* out[0..n) = a permutation of 0..n-1, a function of (n, seed, stream) only. */
void rt_random_permutation(int64_t *out, int64_t n, uint64_t seed, uint64_t stream);
/* The run's seed (--seed; 0 until flags are parsed, and in the evaluator and the REPL).
 * The three fills above draw from seed mixed with it, so a compiled program's
 * initialization and dropout change with --seed and, at --seed 0, are those of `seed`
 * alone; a shuffle for which the program names no seed uses it (rt_batches_begin). */
void rt_random_set_run_seed(uint64_t run_seed);
uint64_t rt_run_seed(void);

/* ---- threads ------------------------------------------------------------------------------ */
/* fn(ctx, begin, end) handles indices [begin, end). */
typedef void (*RtRangeFn)(void *ctx, int64_t begin, int64_t end);
/* Runs fn over [0, n) cut into min(n, T) contiguous chunks, chunk k = [n*k/T, n*(k+1)/T),
 * on T threads (the caller runs chunk 0), and returns when all are done. T = 1 (or a call
 * from inside a chunk) runs fn(ctx, 0, n) inline. Chunks must write disjoint outputs. */
void rt_parallel_for(int64_t n, RtRangeFn fn, void *ctx);
/* T for later calls: threads > 0, or 0 for one per CPU this process may run on (the
 * default; --threads sets it). */
void rt_pool_set_threads(int32_t threads);
int32_t rt_pool_threads(void);
/* Joins the workers (they restart on the next parallel call). */
void rt_pool_shutdown(void);

/* ---- command-line flags ------------------------------------------------------------------- */
/* Built in: --epochs N (>= 0, default 1), --batch N (> 0, 32), --lr X (> 0, 0.001),
 * --seed N (>= 0, 0), --threads N (>= 0, 0 = one per CPU), --data DIR, --save FILE,
 * --resume FILE, --log FILE, --eval-only, --help. A program declares its own settings
 * (and may re-declare a built-in with the same type to change its default and help)
 * before rt_flags_parse; names match with '-' and '_' treated alike. */
typedef enum RtFlagCheck {
    RT_FLAG_ANY,
    RT_FLAG_NONNEGATIVE, /* >= 0 */
    RT_FLAG_POSITIVE,    /* > 0 */
    RT_FLAG_PROBABILITY, /* in [0, 1] (floats only) */
} RtFlagCheck;
void rt_flag_int(const char *name, int64_t default_value, RtFlagCheck check, const char *help);
void rt_flag_float(const char *name, double default_value, RtFlagCheck check,
                   const char *help);
/* default_value may be NULL: rt_flag_get_string then returns NULL until the flag is given. */
void rt_flag_string(const char *name, const char *default_value, const char *help);
void rt_flag_bool(const char *name, int32_t default_value, const char *help);
/* Parses argv[1..argc): "--name value", "--name=value"; a bool flag alone means true,
 * "--name=false" false. A bad value, an unknown flag or a stray argument prints
 * "nnc: ..." and exits 2; --help prints every flag with its default to stdout and exits
 * 0. Afterwards applies --threads (rt_pool_set_threads) and --log (rt_log_set_file). */
void rt_flags_parse(int argc, char **argv);
/* rt_flags_parse of the command line rt_init was given (what a compiled training program
 * calls once it has declared its settings). */
void rt_flags_parse_command_line(void);
/* rt_flags_parse for a compiled program: a built-in flag that neither the runtime
 * (--threads, --log, --data) nor the program (a train setting of that name) uses is left
 * out of --help, and giving it is a usage error (status 2) rather than silently ignored.
 * --eval-only without --resume, or with --save, is a usage error too. */
void rt_flags_parse_program_command_line(int argc, char **argv);
/* A compiled program says, before parsing, whether it can checkpoint its training
 * (--save, --resume, --eval-only, --save-every, --max-steps): why_not NULL when it can;
 * otherwise giving one of those flags is a usage error that quotes why_not ("it has no
 * loop that trains"). why_no_steps, when not NULL, says why the last two cannot act (no
 * batch loop of the training loop's own). A program setting of one of those names keeps
 * the flag for itself, and checkpoints are off. */
void rt_flags_allow_checkpoints(const char *why_not, const char *why_no_steps);
/* Values after parsing (the default when not given). An undeclared name is fatal. */
int64_t rt_flag_get_int(const char *name);
double rt_flag_get_float(const char *name);
const char *rt_flag_get_string(const char *name);
int32_t rt_flag_get_bool(const char *name);
/* 1 when the flag was given on the command line. */
int32_t rt_flag_is_set(const char *name);
/* Forgets every declaration and value (a REPL running several programs; tests). */
void rt_flags_reset(void);

/* ---- datasets ------------------------------------------------------------------------------ */
/* A dataset is `count` samples, each an x tensor (f32, or i32 token ids for text) and an
 * optional y tensor (i32 labels or f32 targets), held in memory. All loaders validate
 * the file completely and fail with "nnc: FILE: what is wrong". */
typedef struct RtDataset RtDataset;

/* IDX files (plain or gzip'd; unsigned-byte images scaled to [0, 1], byte labels).
 * `sample_shape` (rank dims; rank 0 accepts any) is the image shape the program expects:
 * the file's [rows, cols] matches it when the dimensions agree after dropping 1s, or when
 * it is one dimension of rows*cols; otherwise the error names both shapes. The dataset's
 * x shape is sample_shape (the file's shape when rank is 0); y is a scalar label. */
RtDataset *rt_dataset_idx(const char *images_path, const char *labels_path, int32_t rank,
                          const int64_t *sample_shape);
/* {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] from --data DIR when given, else dir
 * (the program's), else /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist,
 * when dir is NULL); *train gets the 60k
 * training samples, *test the 10k test samples. MNIST uses the same names. */
void rt_dataset_fashion_mnist(const char *dir, int32_t rank, const int64_t *sample_shape,
                              RtDataset **train, RtDataset **test);
void rt_dataset_mnist(const char *dir, int32_t rank, const int64_t *sample_shape,
                      RtDataset **train, RtDataset **test);
/* CSV of numbers, one sample per line: `features` columns (0: as many as the first
 * line has, less the label), then an integer label when has_label. A first line whose
 * first field is not a number is a header and skipped; blank lines are skipped. A bad
 * field is reported as "FILE:LINE:COLUMN: ...". x is f32[features]; y an i32 label. */
RtDataset *rt_dataset_csv(const char *path, int64_t features, int32_t has_label);
/* NPY (format 1.0-3.0), little-endian, C order: x of <f4 <f8 <i4 <i8 |u1 as f32 (values
 * unchanged, not scaled); y (y_path may be NULL) of <i4 <i8 |u1 as i32, or <f4 <f8 as
 * f32. The first dimension is the sample count; it must agree between x and y. */
RtDataset *rt_dataset_npy(const char *x_path, const char *y_path);
/* A byte corpus for character models. The vocabulary is the sorted distinct bytes; id k
 * is vocab[k]. Sample k is x = ids[k*seq, k*seq + seq), y = ids[k*seq + 1, k*seq + seq + 1)
 * (next-character targets), both i32[seq]; there are (length - 1) / seq samples. */
RtDataset *rt_dataset_text(const char *path, int64_t seq);
/* The text dataset's vocabulary (sorted distinct bytes) and its size; NULL and 0 for
 * other datasets. */
const uint8_t *rt_dataset_vocab(const RtDataset *ds, int32_t *size);
/* Fails ("nnc: FILE: the samples are f32[3, 4], but the program was compiled for
 * f32[10]") unless ds's x, and its y when it has one, have the given element type and as
 * many elements as the shape: what a compiled program copies into its batch buffers. */
void rt_dataset_expect(const RtDataset *ds, RtDtype x_dtype, int32_t x_rank,
                       const int64_t *x_shape, RtDtype y_dtype, int32_t y_rank,
                       const int64_t *y_shape);
/* Fails unless the text dataset's vocabulary has `size` characters (a program compiled
 * with vocab(data) of another text). */
void rt_dataset_expect_vocab(const RtDataset *ds, int32_t size);
/* Cuts ds into *first (round(fraction * count) samples) and *second (the rest), chosen by
 * a permutation of (seed) alone, each keeping the original sample order. 0 < fraction < 1
 * and both parts must be non-empty. The parts share ds's storage; free each (and ds) with
 * rt_dataset_free, in any order. */
void rt_dataset_split(const RtDataset *ds, double fraction, uint64_t seed, RtDataset **first,
                      RtDataset **second);
void rt_dataset_free(RtDataset *ds);
int64_t rt_dataset_count(const RtDataset *ds);
/* Sample shapes (without the sample dimension) and sizes in elements; a dataset without
 * labels has y rank 0 and y size 0. Every element is 4 bytes (f32 or i32). */
RtDtype rt_dataset_x_dtype(const RtDataset *ds);
int32_t rt_dataset_x_rank(const RtDataset *ds);
const int64_t *rt_dataset_x_shape(const RtDataset *ds);
int64_t rt_dataset_x_size(const RtDataset *ds);
RtDtype rt_dataset_y_dtype(const RtDataset *ds);
int32_t rt_dataset_y_rank(const RtDataset *ds);
const int64_t *rt_dataset_y_shape(const RtDataset *ds);
int64_t rt_dataset_y_size(const RtDataset *ds);
/* 1 + the largest i32 label (0 when the labels are not i32). */
int32_t rt_dataset_classes(const RtDataset *ds);
/* Fails ("nnc: FILE: sample 3 has label 200, but the program takes its labels as one of
 * 2 classes (0..1)", naming the labels' file) unless every i32 element of x lies in
 * [0, x_classes) and every one of y in [0, y_classes); a bound of 0 checks nothing. The
 * compiled program passes the bounds its one_hot and gather ops set on the batches. */
void rt_dataset_expect_classes(const RtDataset *ds, int64_t x_classes, int64_t y_classes);
/* A gather index (gather = 1) or a one_hot label (0) outside [0, bound), met by compiled
 * code at `where` (FILE:LINE:COL, or ""): a clear message, status 1. */
_Noreturn void rt_index_error(const char *where, int32_t gather, int64_t index,
                              int64_t element, int64_t bound);
/* A dataset of `count` zero-filled samples of the given shapes (y_rank < 0: no y), to be
 * filled with rt_dataset_set: what a map transform's results go into. */
RtDataset *rt_dataset_new(int64_t count, RtDtype x_dtype, int32_t x_rank, const int64_t *x_shape,
                          RtDtype y_dtype, int32_t y_rank, const int64_t *y_shape);
/* Copies x (x size elements) and y (y size; ignored without y) into sample `index`. */
void rt_dataset_set(RtDataset *ds, int64_t index, const void *x, const void *y);
/* Copies sample `index` into x_out (x size elements) and y_out (y size; may be NULL). */
void rt_dataset_get(const RtDataset *ds, int64_t index, void *x_out, void *y_out);

/* ---- batches -------------------------------------------------------------------------------- */
/* One epoch's pass over a dataset. The order is 0..count-1, or, with shuffle, a
 * permutation that depends only on (seed, epoch mod 2^32, count), any epoch (negative
 * too). Each batch has `batch` samples; the last one has fewer unless drop_last drops it. The iterator position (batches
 * already returned) can be saved in a checkpoint and restored with rt_batches_seek. */
typedef struct RtBatches RtBatches;
RtBatches *rt_batches_begin(const RtDataset *ds, int64_t batch, int32_t shuffle,
                            int32_t drop_last, uint64_t seed, int64_t epoch);
/* Copies the next batch contiguously into x_out ([batch, x shape]) and y_out ([batch,
 * y shape]; may be NULL) and returns its number of samples; 0 when the epoch is over. */
int64_t rt_batches_next(RtBatches *it, void *x_out, void *y_out);
int64_t rt_batches_count(const RtBatches *it);    /* batches in this epoch */
int64_t rt_batches_position(const RtBatches *it); /* batches returned so far */
void rt_batches_seek(RtBatches *it, int64_t position); /* 0 <= position <= count */
void rt_batches_end(RtBatches *it);

/* ---- checkpoints (safetensors) --------------------------------------------------------------- */
/* A named view into the program's flat parameter block (or any tensor). */
typedef struct RtTensorView {
    const char *name;
    RtDtype dtype;
    int32_t rank;
    int64_t dims[RT_MAX_RANK];
    void *data; /* product(dims) elements, contiguous, row-major */
    /* a host int of a training checkpoint (a rank-0 F64 view): loading refuses a value
     * that is not a whole number of magnitude at most 2^53, which the int holds exactly */
    int32_t integer;
} RtTensorView;
/* Training position, kept in the header's "__metadata__" as decimal strings. */
typedef struct RtMeta {
    int64_t step;          /* optimizer steps taken */
    int64_t epoch;         /* epoch in progress */
    uint64_t seed;         /* --seed of the run */
    uint64_t rng_counter;  /* rt_random_* counter to continue from */
    int64_t data_position; /* rt_batches_position within the epoch */
} RtMeta;
/* Writes a safetensors file: the tensors in view order, F32/I32/I64, and meta (NULL: no
 * metadata). Atomic: a temporary file in the same directory, fsync'd, then renamed over
 * path; on any failure the temporary file is removed, an older file at path is left
 * intact, and the error ("nnc: cannot write checkpoint PATH: why") is fatal. */
void rt_checkpoint_save(const char *path, const RtTensorView *views, int32_t n,
                        const RtMeta *meta);
/* Fails now, as rt_checkpoint_save would after training ("nnc: cannot write checkpoint
 * PATH: why", status 1), when path is a directory or another non-regular file, when no
 * temporary file can be made next to it (a missing or read-only directory), or when its
 * file system has no room left. Creates and removes only a temporary file; NULL: nothing.
 * For --save and the paths of save(net, path), when the command line is parsed. */
void rt_check_output_path(const char *path);
/* Reads every view's tensor from path (tensors the file has beyond those are ignored)
 * and, when meta is not NULL, the metadata (missing fields read as 0). The whole file
 * is validated before any view is written; a bad file is fatal with "nnc: PATH: corrupt
 * checkpoint: ..." or names the tensor and the expected and found dtype or shape. */
void rt_checkpoint_load(const char *path, const RtTensorView *views, int32_t n, RtMeta *meta);

/* Training checkpoints (--save FILE, --resume FILE, --save-every N, --max-steps N;
 * docs/training.md section 7): the program's state as views (parameters, optimizer and layer
 * state, its host scalars as rank-0 F64 views), written by rt_checkpoint_save with
 * metadata {step, epoch, seed = --seed, data_position}. Nothing is written without --save.
 *
 * rt_train_resume runs once, before the training loop. Without --resume it returns 0;
 * otherwise it reads every view from that file and returns 1 when the file was saved at
 * the end of an epoch (data_position 0), 2 when inside one: then rt_train_resuming() is 1
 * until the training batch loop's rt_train_batches seeks its iterator to the saved
 * position. A file without an epoch in its metadata (one that save(net, path) wrote) is
 * refused as "not a training checkpoint"; other problems are those of rt_checkpoint_load.
 *
 * rt_train_save writes the state at the end of an epoch (data_position 0). rt_train_step
 * follows every step of the training batch loop: it counts the step, writes the state
 * every --save-every steps with the iterator's position, and returns 1 when the step is
 * the --max-steps'th (the state written, if --save): the program then leaves the
 * training loop, and rt_train_stopped() is 1. */
void rt_train_save(const RtTensorView *views, int32_t n, int64_t epoch);
int32_t rt_train_resume(const RtTensorView *views, int32_t n);
int32_t rt_train_resuming(void);
void rt_train_batches(RtBatches *it);
int32_t rt_train_step(const RtTensorView *views, int32_t n, int64_t epoch, const RtBatches *it);
int32_t rt_train_stopped(void);

/* ---- progress and logging --------------------------------------------------------------------- */
typedef enum RtProgressMode {
    RT_PROGRESS_AUTO,     /* TERMINAL when the stream is a terminal (and TERM is not dumb) */
    RT_PROGRESS_TERMINAL, /* one line redrawn in place ("\r" + clear to end of line) */
    RT_PROGRESS_LINES,    /* one plain line per epoch */
    RT_PROGRESS_OFF,
} RtProgressMode;
/* Where progress goes (default stderr, AUTO). */
void rt_progress_configure(FILE *stream, RtProgressMode mode);
/* Starts epoch `epoch` of `epochs` with `steps` batches (0 when unknown). metric_name may
 * be NULL; otherwise each step reports that metric and the line shows its running mean. */
void rt_progress_begin(int64_t epoch, int64_t epochs, int64_t steps, const char *metric_name);
/* One batch done, with its loss (and metric, ignored without a metric name). */
void rt_progress_step(double loss, double metric);
/* One batch done without a loss (an evaluation loop): the line then shows no loss. */
void rt_progress_tick(void);
/* Ends the epoch: the final line (elapsed time, mean loss and metric) stays on screen. */
void rt_progress_end(void);
/* The epoch of a resumed run starts at batch `steps` (a checkpoint taken within it): the
 * bar and the ETA count from there; the epoch's line counts the steps of this run. */
void rt_progress_skip(int64_t steps);
/* A line of its own on the progress stream (stderr), after any live progress line. */
void rt_progress_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The program's log(name = value, ...): prints "name = value, ..." to stdout and, when a
 * log file is set (--log FILE), appends a CSV row to it. The file's header is the
 * columns declared with rt_log_columns, else the first call's names; written once, when
 * the file is empty (appending to an older log of the same columns keeps its header). A
 * call may log a subset of the columns (the others stay empty); a name that is not a
 * column is fatal. */
void rt_log_set_file(const char *path);
void rt_log_columns(const char *const *names, int32_t n);
void rt_log_metrics(const char *const *names, const double *values, int32_t n);
/* Opens the log file of rt_log_set_file now (in append mode: nothing is truncated; a
 * missing file is created empty) and checks that it can be written: a directory, a
 * read-only file or directory, a full file system or /dev/full is fatal here, before
 * anything trains, rather than at the first log(). */
void rt_log_check_file(void);
/* Flushes and closes the log file (rt_log_set_file may open another). */
void rt_log_close(void);

/* ---- metrics ------------------------------------------------------------------------------------ */
/* out[r] = index of the largest of scores[r, 0..cols) (the first on ties; NaN never wins
 * over a number). scores is [rows, cols]. */
void rt_argmax_rows(const float *scores, int64_t rows, int64_t cols, int32_t *out);
/* Fraction of i with predicted[i] == truth[i] (0 when n is 0). */
double rt_metric_accuracy(const int32_t *predicted, const int32_t *truth, int64_t n);
/* matrix[t, p] (classes x classes) = number of i with truth t and prediction p. A label
 * outside [0, classes) is fatal, naming the index and value. */
void rt_metric_confusion(const int32_t *predicted, const int32_t *truth, int64_t n,
                         int32_t classes, int64_t *matrix);
/* Macro-averaged precision, recall and F1 from a confusion matrix: per-class values
 * (0 where undefined) averaged over the classes that occur in truth or predictions. */
void rt_metric_macro(const int64_t *matrix, int32_t classes, double *precision, double *recall,
                     double *f1);
/* Prints the matrix with a header row; names may be NULL (classes are numbered). */
void rt_metric_print_confusion(FILE *out, const int64_t *matrix, int32_t classes,
                               const char *const *names);

/* ---- convolution and pooling (oneDNN; rt_conv.c) ------------------------------------------- */
/* All tensors are f32, contiguous, row-major (NCHW, or blocked below; weights OIHW). The
 * geometry is the compiler's, so it is valid; oneDNN primitives are created on the first
 * call with a geometry and cached for the life of the process (not thread-safe: generated
 * code calls these from one thread). A oneDNN failure is fatal ("nnc: conv2d ... failed
 * in oneDNN").
 *   x [n, c, h, w], w [o, c / groups, kh, kw], y [n, o, oh, ow], with
 *   oh = (h + 2 padding - dilation (kh - 1) - 1) / stride + 1, ow likewise, and
 *   y[n, o, i, j] = sum over c', kh', kw' of w[o, c', kh', kw'] *
 *       x[n, (o / (o_count / groups)) (c / groups) + c', i stride - padding + kh' dilation,
 *         j stride - padding + kw' dilation]   (reads outside x are 0). */
typedef struct RtConv2d {
    int64_t n, c, h, w;     /* x */
    int64_t o, kh, kw;      /* w is [o, c / groups, kh, kw] */
    int64_t oh, ow;         /* y is [n, o, oh, ow] */
    int64_t stride, padding, dilation, groups;
    int64_t blocked;        /* RT_CONV_X_BLOCKED | RT_CONV_Y_BLOCKED, or 0 */
} RtConv2d;
/* x (and dx), or y (and dy), in oneDNN's layout blocked by 16 channels (nChw16c: element
 * [n, c, h, w] at ((n C/16 + c/16) H + h) W + w) 16 + c % 16; C a multiple of 16) rather
 * than NCHW: what the compiler keeps between convolutions (codegen/blocked.c), so that
 * neither side copies it into the other layout. Weights are always OIHW. */
enum { RT_CONV_X_BLOCKED = 1, RT_CONV_Y_BLOCKED = 2 };
void rt_conv2d_f32(const RtConv2d *g, const float *x, const float *w, float *y);
/* dx = the adjoint of conv2d in x: dx[xi] = sum of dy[yi] w[wi] over the terms above. */
void rt_conv2d_backward_data_f32(const RtConv2d *g, const float *dy, const float *w, float *dx);
/* dw = the adjoint in w: dw[wi] = sum of x[xi] dy[yi]. */
void rt_conv2d_backward_weights_f32(const RtConv2d *g, const float *x, const float *dy,
                                    float *dw);
/* 1 when the weight gradient of this geometry is faster on the runtime's own kernel for
 * NCHW tensors (rt_conv_direct.c) than on oneDNN's with blocked activations: the compiler
 * then keeps its x and dy NCHW. */
int32_t rt_conv2d_weights_prefer_nchw(const RtConv2d *g);

/* Pooling over size x size windows `stride` apart, no padding: x [n, c, h, w],
 * y [n, c, oh, ow], oh = (h - size) / stride + 1, ow likewise. */
typedef struct RtPool2d {
    int64_t n, c, h, w, oh, ow, size, stride;
} RtPool2d;
void rt_max_pool2d_f32(const RtPool2d *g, const float *x, float *y);
/* dx = 0, then each dy element added at the first maximal element of its window of x
 * (row-major window order). */
void rt_max_pool2d_backward_f32(const RtPool2d *g, const float *x, const float *dy, float *dx);
void rt_avg_pool2d_f32(const RtPool2d *g, const float *x, float *y);
/* dx = 0, then each dy element spread evenly (dy / size^2) over its window. */
void rt_avg_pool2d_backward_f32(const RtPool2d *g, const float *dy, float *dx);

/* ---- i32 tensors (rt_print_i32.c) -------------------------------------------------------- */
/* Prints indices and labels in the tensor format of rt_print_f32, headed "i32[...]". */
void rt_print_i32(const int32_t *data, int32_t rank, const int64_t *dims);

/* The entry point every compiled program defines. */
void nnc_program(void);

#endif
