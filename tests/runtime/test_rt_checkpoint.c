/* test_rt_checkpoint.c — safetensors checkpoints: a bit-exact round trip (NaN payloads,
 * -0, denormals, i32, i64, scalars, empty tensors, metadata), an atomic overwrite, every
 * corruption the loader must reject with a clear message, and a full disk (a tiny tmpfs
 * when this process may mount one, a file-size limit always, and /dev/full for the log):
 * the old checkpoint survives and no temporary file is left.
 * Prints one line per failure, then "N passed, M failed"; exits non-zero on any failure. */
#include "rt_test.h"

#include <dirent.h>
#include <signal.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>

/* ---- a small model: four tensors in one flat block, as generated code lays them out ---- */

typedef struct Model {
    float block[3 * 4 + 1];  /* w [3, 4] then s [] */
    int32_t counts[5];       /* [5] */
    int64_t steps[2 * 2];    /* [2, 2] */
    RtTensorView views[5];
} Model;

static void model_init(Model *m, int fill)
{
    memset(m, 0, sizeof *m);
    m->views[0] = (RtTensorView){"layer.w", RT_DTYPE_F32, 2, {3, 4}, m->block};
    m->views[1] = (RtTensorView){"layer.s", RT_DTYPE_F32, 0, {0}, m->block + 12};
    m->views[2] = (RtTensorView){"counts", RT_DTYPE_I32, 1, {5}, m->counts};
    m->views[3] = (RtTensorView){"opt.t", RT_DTYPE_I64, 2, {2, 2}, m->steps};
    m->views[4] = (RtTensorView){"empty \"quoted\"\n", RT_DTYPE_F32, 2, {0, 3}, NULL};
    if (!fill)
        return;
    /* Bit patterns a text format would lose: NaN with a payload, -0, a denormal. */
    const uint32_t bits[13] = {0x7fc01234, 0x80000000, 0x00000001, 0x3f800000, 0xc2f6e979,
                               0x7f7fffff, 0xff800000, 0x12345678, 0x3eaaaaab, 0,
                               0xbf000000, 0x00800000, 0x40490fdb};
    memcpy(m->block, bits, sizeof bits);
    for (int i = 0; i < 5; i++)
        m->counts[i] = (int32_t)(i * 1000003 - 2000000);
    m->steps[0] = INT64_MAX;
    m->steps[1] = INT64_MIN;
    m->steps[2] = 42;
    m->steps[3] = -1;
}

static const RtMeta test_meta = {
    .step = 123456, .epoch = 7, .seed = UINT64_MAX, .rng_counter = 1ull << 40,
    .data_position = 33,
};

/* Any file in the scratch directory whose name contains ".tmp-". */
static int temp_files_left(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int found = 0;
    struct dirent *entry;
    while ((entry = readdir(d)) != NULL)
        found += strstr(entry->d_name, ".tmp-") != NULL;
    closedir(d);
    return found;
}

static void test_round_trip(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s", scratch("model.safetensors"));
    Model saved, loaded;
    model_init(&saved, 1);
    rt_checkpoint_save(path, saved.views, 5, &test_meta);
    model_init(&loaded, 0);
    RtMeta meta;
    rt_checkpoint_load(path, loaded.views, 5, &meta);
    record(memcmp(saved.block, loaded.block, sizeof saved.block) == 0 &&
               memcmp(saved.counts, loaded.counts, sizeof saved.counts) == 0 &&
               memcmp(saved.steps, loaded.steps, sizeof saved.steps) == 0,
           "round trip is bit-exact");
    record(memcmp(&meta, &test_meta, sizeof meta) == 0, "metadata round trip");

    /* The layout: u64 header length, header padded to 8 bytes, then data. */
    size_t size;
    char *bytes = read_file(path, &size);
    uint64_t header_length;
    memcpy(&header_length, bytes, 8);
    size_t data = 13 * 4 + 5 * 4 + 4 * 8;
    record(header_length % 8 == 0 && 8 + header_length + data == size &&
               strstr(bytes + 8, "\"layer.w\":{\"dtype\":\"F32\",\"shape\":[3,4],"
                                 "\"data_offsets\":[0,48]}") != NULL &&
               strstr(bytes + 8, "\"empty \\\"quoted\\\"\\u000a\"") != NULL,
           "file layout and header text");
    free(bytes);

    /* Loading a subset ignores the rest; loading without metadata is allowed. */
    Model part;
    model_init(&part, 0);
    rt_checkpoint_load(path, part.views + 2, 1, NULL);
    record(memcmp(part.counts, saved.counts, sizeof part.counts) == 0,
           "loading a subset of the tensors");

    /* Overwrite: the new content replaces the old, no temporary file remains. */
    saved.counts[0] = 99;
    rt_checkpoint_save(path, saved.views, 5, NULL);
    rt_checkpoint_load(path, loaded.views, 5, &meta);
    record(loaded.counts[0] == 99 && meta.step == 0 && temp_files_left(scratch_dir) == 0,
           "overwrite in place, metadata absent reads as zeros, no temporary file left");
}

/* ---- corrupt files ----------------------------------------------------------------------- */

typedef struct LoadCall {
    char path[512];
    int mismatch; /* 0: the model as saved; 1: w as [4, 3]; 2: counts as F32; 3: extra */
} LoadCall;

static void call_load(void *context)
{
    LoadCall *call = context;
    Model m;
    model_init(&m, 0);
    int32_t n = 5;
    RtTensorView extra = {"not.there", RT_DTYPE_F32, 1, {1}, m.block};
    if (call->mismatch == 1) {
        m.views[0].dims[0] = 4;
        m.views[0].dims[1] = 3;
    } else if (call->mismatch == 2) {
        m.views[2].dtype = RT_DTYPE_F32;
    } else if (call->mismatch == 3) {
        m.views[4] = extra;
    }
    RtMeta meta;
    rt_checkpoint_load(call->path, m.views, n, &meta);
}

/* Writes a file of a hand-made header and `data_size` zero bytes of data. */
static void write_raw(const char *path, const char *header, size_t data_size)
{
    size_t length = strlen(header);
    size_t size = 8 + length + data_size;
    uint8_t *bytes = calloc(1, size);
    uint64_t n = length;
    memcpy(bytes, &n, 8);
    memcpy(bytes + 8, header, length);
    write_file(path, bytes, size);
    free(bytes);
}

static void load_expect(const char *name, const char *path, int mismatch, const char *expected)
{
    LoadCall call = {.mismatch = mismatch};
    snprintf(call.path, sizeof call.path, "%s", path);
    expect_failure(name, call_load, &call, 1, expected);
}

static void test_corrupt(void)
{
    char good[512], bad[512];
    snprintf(good, sizeof good, "%s", scratch("good.safetensors"));
    snprintf(bad, sizeof bad, "%s", scratch("bad.safetensors"));
    Model m;
    model_init(&m, 1);
    rt_checkpoint_save(good, m.views, 5, &test_meta);
    size_t size;
    char *bytes = read_file(good, &size);

    write_file(bad, bytes, size - 10);
    load_expect("truncated file", bad, 0, "corrupt checkpoint: truncated: tensor 'opt.t' needs");
    write_file(bad, bytes, 5);
    load_expect("file shorter than the length field", bad, 0, "fewer than the 8");
    write_file(bad, bytes, 8 + 20);
    load_expect("truncated header", bad, 0, "truncated: the header claims");

    char *broken = malloc(size);
    memcpy(broken, bytes, size);
    char *colon = strstr(broken + 8, "\"dtype\":");
    colon[7] = ';';
    write_file(bad, broken, size);
    load_expect("bad JSON", bad, 0, "corrupt checkpoint: bad JSON header at byte");
    memcpy(broken, bytes, size);
    uint64_t huge = 1ull << 40;
    memcpy(broken, &huge, 8);
    write_file(bad, broken, size);
    load_expect("absurd header length", bad, 0, "is not plausible");
    free(broken);
    free(bytes);

    load_expect("wrong shape", good, 1,
                "tensor 'layer.w' has shape [3, 4] in the checkpoint, but the program expects "
                "[4, 3]");
    load_expect("wrong dtype", good, 2,
                "tensor 'counts' is I32 in the checkpoint, but the program expects F32");
    load_expect("missing tensor", good, 3, "the checkpoint has no tensor 'not.there'");

    write_raw(bad,
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
              24);
    load_expect("overlapping offsets", bad, 0,
                "corrupt checkpoint: tensors 'a' [0, 16) and 'b' [8, 24) overlap");
    write_raw(bad, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,12]}}", 12);
    load_expect("offsets disagree with the shape", bad, 0,
                "tensor 'a' is F32 [4] (16 bytes) but its data_offsets [0, 12] span 12 bytes");
    write_raw(bad, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 12);
    load_expect("trailing data", bad, 0, "holds 12 bytes of data but its tensors use 4");
    write_raw(bad, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8);
    load_expect("gap in the data", bad, 0, "data bytes [0, 4) belong to no tensor");
    write_raw(bad, "{\"a\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    load_expect("unknown dtype", bad, 0, "tensor 'a' has unknown dtype \"Q7\"");
    write_raw(bad, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4);
    load_expect("unexpected key", bad, 0, "unexpected or repeated key \"x\"");
    write_raw(bad, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 0);
    load_expect("missing data_offsets", bad, 0, "tensor 'a' lacks \"data_offsets\"");
    write_raw(bad, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4);
    load_expect("negative dimension", bad, 0, "expected a dimension");
    write_raw(bad,
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
              "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
              8);
    load_expect("duplicate tensor", bad, 0, "tensor 'a' appears twice");
    write_raw(bad, "{\"__metadata__\":{\"step\":\"x1\"}}", 0);
    load_expect("bad metadata value", bad, 0, "__metadata__ \"step\" is \"x1\", not an integer");
    write_raw(bad, "{} trailing", 0);
    load_expect("text after the JSON object", bad, 0, "expected the end of the header");
    load_expect("missing file", scratch("nothing-here"), 0, "cannot open checkpoint");
}

/* ---- full disks -------------------------------------------------------------------------- */

/* A checkpoint large enough not to fit: 64 KiB of floats. */
typedef struct BigCall {
    char path[512];
} BigCall;

static void call_save_big(void *context)
{
    BigCall *call = context;
    static float data[16384];
    RtTensorView view = {"big", RT_DTYPE_F32, 1, {16384}, data};
    rt_checkpoint_save(call->path, &view, 1, &test_meta);
}

/* The old checkpoint at path still loads and equals the saved model. */
static int old_checkpoint_intact(const char *path)
{
    Model saved, loaded;
    model_init(&saved, 1);
    model_init(&loaded, 0);
    RtMeta meta;
    rt_checkpoint_load(path, loaded.views, 5, &meta);
    return memcmp(saved.block, loaded.block, sizeof saved.block) == 0 &&
           memcmp(saved.steps, loaded.steps, sizeof saved.steps) == 0;
}

static void test_file_size_limit(void)
{
    BigCall call;
    snprintf(call.path, sizeof call.path, "%s", scratch("limited.safetensors"));
    Model m;
    model_init(&m, 1);
    rt_checkpoint_save(call.path, m.views, 5, &test_meta);

    /* In the child, writes past 16 KiB fail with EFBIG (SIGXFSZ ignored). */
    struct rlimit old_limit;
    getrlimit(RLIMIT_FSIZE, &old_limit);
    struct rlimit limit = {16384, old_limit.rlim_max};
    signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &limit);
    expect_failure("file size limit: clear error", call_save_big, &call, 1,
                   "cannot write checkpoint");
    setrlimit(RLIMIT_FSIZE, &old_limit);
    signal(SIGXFSZ, SIG_DFL);
    record(old_checkpoint_intact(call.path), "file size limit: old checkpoint intact");
    record(temp_files_left(scratch_dir) == 0, "file size limit: no temporary file left");
}

/* In a child with its own mount namespace: a 32 KiB tmpfs holding a good checkpoint, then
 * a save that cannot fit. Exit 77 when mounting is not allowed here. */
static int tmpfs_child(const char *mount_point)
{
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", mount_point, "tmpfs", 0, "size=32k") != 0)
        return 77;
    tests_passed = tests_failed = 0; /* count this child's checks alone */
    BigCall call;
    snprintf(call.path, sizeof call.path, "%s/model.safetensors", mount_point);
    Model m;
    model_init(&m, 1);
    rt_checkpoint_save(call.path, m.views, 5, &test_meta);
    expect_failure("full tmpfs: clear error", call_save_big, &call, 1,
                   "No space left on device (any previous checkpoint there is unchanged)");
    record(old_checkpoint_intact(call.path), "full tmpfs: old checkpoint intact");
    record(temp_files_left(mount_point) == 0, "full tmpfs: no temporary file left");
    printf("  full tmpfs: %d passed, %d failed\n", tests_passed, tests_failed);
    fflush(stdout);
    return tests_failed != 0;
}

static void test_full_tmpfs(void)
{
    char mount_point[256];
    snprintf(mount_point, sizeof mount_point, "%.200s", scratch("tmpfs"));
    mkdir(mount_point, 0700);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        _exit(tmpfs_child(mount_point));
    int status;
    waitpid(pid, &status, 0);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 77)
        printf("skipped: full tmpfs (mounting a tmpfs is not permitted here)\n");
    else
        record(code == 0, "full tmpfs (see the child's results above)");
}

static void call_log_to_full(void *context)
{
    (void)context;
    rt_log_set_file("/dev/full");
    const char *names[1] = {"loss"};
    const double values[1] = {0.5};
    rt_log_metrics(names, values, 1);
}

int main(void)
{
    test_round_trip();
    test_corrupt();
    test_file_size_limit();
    test_full_tmpfs();
    expect_failure("log to /dev/full: clear error", call_log_to_full, NULL, 1,
                   "cannot write log /dev/full: No space left on device");
    return finish();
}
