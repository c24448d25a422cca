/* test_prog.c — compiled training programs (cg_compile_program), checked by running them.
 *
 * Each test builds a small Prog by hand (prog.h): regions are graphs of the program ops
 * (SLOT_LOAD, SLOT_STORE, SCALAR_INPUT, SCALAR_OUTPUT) around ordinary ones, and host code
 * is loops, host scalars, data, log, print and checkpoints. Every region goes through
 * ad_run, pass_simplify and pass_fuse as the driver runs them, then the program is JIT-run
 * with stdout captured and its output compared with the expected text exactly (the
 * values are chosen to print exactly). One program is also built into an executable,
 * which must print the same bytes, and the program ops are checked in the reference
 * evaluator (eval_graph_env) against the compiled code.
 *
 * Data: a tiny Fashion-MNIST-shaped data set (gzip'd IDX files of 2 x 3 images) written to
 * a scratch directory that the test removes.
 *
 * Prints one line per failure, then "N passed, M failed"; exits non-zero on any failure. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkstemp, mkdtemp */
#endif
#include "ast/ast.h"
#include "autodiff/ad.h"
#include "cg_test.h"
#include "codegen/cg.h"
#include "codegen/cg_internal.h"
#include "ir/eval.h"
#include "ir/ir.h"
#include "passes/passes.h"
#include "prog/prog.h"
#include "util/util.h"

#include "nnc_rt.h"

#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

static const Span NOWHERE = {0};
static char scratch_dir[256];

/* ---- building programs ------------------------------------------------------------------ */

static IrShape shape1(int64_t n) { return (IrShape){.rank = 1, .dims = {n}}; }

/* A new region graph of p; finish_regions prepares them all as the driver does. */
static IrGraph *region(Prog *p, int *index)
{
    IrGraph *g = ir_graph_new();
    *index = p->regions.len;
    util_vec_push(&p->regions, g);
    return g;
}

static void finish_regions(Prog *p)
{
    for (int k = 0; k < p->regions.len; k++) {
        IrGraph *g = p->regions.items[k];
        ir_verify(g, "test");
        ad_run(g);
        pass_simplify(g);
        pass_fuse(g);
        ir_verify(g, "fuse");
    }
}

static void run_region(Prog *p, ProgBlock *into, int index)
{
    prog_stmt(p, into, PS_REGION, NOWHERE)->index = index;
}

static void print_expr(Prog *p, ProgBlock *into, ProgExpr *e)
{
    prog_stmt(p, into, PS_PRINT, NOWHERE)->expr = e;
}

static void set_var(Prog *p, ProgBlock *into, int var, ProgExpr *e)
{
    ProgStmt *s = prog_stmt(p, into, PS_SET, NOWHERE);
    s->index = var;
    s->expr = e;
}

static ProgStmt *for_range(Prog *p, ProgBlock *into, int var, ProgExpr *lo, ProgExpr *hi)
{
    ProgStmt *s = prog_stmt(p, into, PS_FOR_RANGE, NOWHERE);
    s->index = var;
    s->lo = lo;
    s->hi = hi;
    return s;
}

/* ---- running -------------------------------------------------------------------------------- */

/* Compiles p and JIT-runs it with the given arguments after the program name; returns
 * what it printed (caller frees), or NULL. */
static char *jit_output(const Prog *p, const char *name, int nargs, char **args)
{
    CgModule *m = cg_compile_program(p, name);
    if (!m) {
        record(false, "%s: cg_compile_program failed", name);
        return NULL;
    }
    char *argv[8] = {(char *)name};
    for (int i = 0; i < nargs && i < 6; i++)
        argv[i + 1] = args[i];
    return jit_capture(m, name, nargs + 1, argv);
}

static void expect_output(const char *name, const char *got, const char *want)
{
    record(got && strcmp(got, want) == 0, "%s: printed\n%s--- want\n%s---", name,
           got ? got : "(nothing)\n", want);
}

static void expect_run(const Prog *p, const char *name, const char *want)
{
    char *got = jit_output(p, name, 0, NULL);
    expect_output(name, got, want);
    free(got);
}

/* ---- tests ---------------------------------------------------------------------------------- */

/* slot += 1 five times, then out0 = sum(slot) printed by the host, and the slot printed
 * by the region. Also built into an executable, which must print the same. */
static Prog *counting_program(void)
{
    Prog *p = prog_new();
    IrShape s3 = shape1(3);
    int slot = prog_add_slot(p, "carried.count", IR_F32, &s3);
    int i = prog_add_var(p, "i", true);
    p->nouts = 1;

    int inc;
    IrGraph *g = region(p, &inc);
    IrNode *old = ir_slot_load(g, NOWHERE, slot, IR_F32, &s3);
    ir_slot_store(g, NOWHERE, slot, ir_binary(g, NOWHERE, IR_OP_ADD, old, ir_scalar(g, NOWHERE, 1)));

    int report;
    g = region(p, &report);
    IrNode *now = ir_slot_load(g, NOWHERE, slot, IR_F32, &s3);
    ir_print(g, NOWHERE, now);
    ir_scalar_output(g, NOWHERE, 0, ir_reduce(g, NOWHERE, IR_OP_SUM, now, 1));

    ProgStmt *loop = for_range(p, &p->main, i, prog_const(p, 0), prog_const(p, 5));
    run_region(p, &loop->body, inc);
    run_region(p, &p->main, report);
    print_expr(p, &p->main, prog_out(p, 0));
    print_expr(p, &p->main, prog_var(p, i));
    finish_regions(p);
    return p;
}

static const char counting_output[] = "f32[3]\n[5, 5, 5]\nf32[]\n15\nf32[]\n5\n";

static void test_regions_and_loops(void)
{
    Prog *p = counting_program();
    expect_run(p, "regions and loops", counting_output);
    prog_free(p);
}

static void test_aot(void)
{
    Prog *p = counting_program();
    char *jit = jit_output(p, "aot", 0, NULL);
    CgModule *m = cg_compile_program(p, "aot");
    char exe[] = "/tmp/nnc-test-prog-exe-XXXXXX";
    int fd = mkstemp(exe);
    close(fd);
    int rc = m ? cg_emit_executable(m, exe) : 1;
    record(rc == 0, "aot: cg_emit_executable returned %d", rc);
    if (rc == 0 && jit) {
        char *aot = run_executable(exe);
        record(aot != NULL, "aot: the executable did not run cleanly");
        record(aot && strcmp(aot, jit) == 0, "aot: output differs from the JIT's:\n%s---\n%s",
               aot ? aot : "", jit);
        free(aot);
    }
    unlink(exe);
    cg_module_free(m);
    free(jit);
    prog_free(p);
}

/* A setting: --epochs (default 2) bounds a loop; the command line changes it. */
static void test_settings(void)
{
    Prog *p = prog_new();
    int epochs = prog_add_var(p, "epochs", true);
    int rate = prog_add_var(p, "rate", false);
    int e = prog_add_var(p, "epoch", true), n = prog_add_var(p, "n", true);
    prog_add_setting(p, "epochs", epochs, true, 2);
    prog_add_setting(p, "rate", rate, false, 0.25);
    ProgStmt *loop = for_range(p, &p->main, e, prog_const(p, 0), prog_var(p, epochs));
    set_var(p, &loop->body, n, prog_binary(p, AST_OP_ADD, prog_var(p, n), prog_const(p, 1)));
    print_expr(p, &p->main, prog_var(p, n));
    print_expr(p, &p->main, prog_var(p, rate));
    finish_regions(p);
    expect_run(p, "settings: defaults", "f32[]\n2\nf32[]\n0.25\n");
    char *args[] = {"--epochs", "3", "--rate=0.5"};
    char *got = jit_output(p, "settings", 3, args);
    expect_output("settings: --epochs 3 --rate=0.5", got, "f32[]\n3\nf32[]\n0.5\n");
    free(got);
    prog_free(p);
}

/* while / if / break / continue and host arithmetic:
 *     i = 0; total = 0
 *     while 1 { i += 1; if i > 7 { break }; if i % 2 == 0 { continue }; total += i }
 * total = 1 + 3 + 5 + 7 = 16; plus floor, not, and/or, comparisons, mod of negatives. */
static void test_control_flow(void)
{
    Prog *p = prog_new();
    int i = prog_add_var(p, "i", true), total = prog_add_var(p, "total", true);
    ProgStmt *w = prog_stmt(p, &p->main, PS_WHILE, NOWHERE);
    w->cond = prog_const(p, 1);
    set_var(p, &w->body, i, prog_binary(p, AST_OP_ADD, prog_var(p, i), prog_const(p, 1)));
    ProgStmt *stop = prog_stmt(p, &w->body, PS_IF, NOWHERE);
    stop->cond = prog_binary(p, AST_OP_GT, prog_var(p, i), prog_const(p, 7));
    prog_stmt(p, &stop->body, PS_BREAK, NOWHERE);
    ProgStmt *skip = prog_stmt(p, &w->body, PS_IF, NOWHERE);
    skip->cond = prog_binary(p, AST_OP_EQ,
                             prog_binary(p, AST_OP_MOD, prog_var(p, i), prog_const(p, 2)),
                             prog_const(p, 0));
    prog_stmt(p, &skip->body, PS_CONTINUE, NOWHERE);
    set_var(p, &w->body, total, prog_binary(p, AST_OP_ADD, prog_var(p, total), prog_var(p, i)));
    print_expr(p, &p->main, prog_var(p, total));
    /* if/else */
    ProgStmt *choose = prog_stmt(p, &p->main, PS_IF, NOWHERE);
    choose->cond = prog_binary(p, AST_OP_AND, prog_const(p, 1),
                               prog_unary(p, AST_OP_NOT, prog_const(p, 0)));
    print_expr(p, &choose->body, prog_const(p, 10));
    print_expr(p, &choose->orelse, prog_const(p, 20));
    print_expr(p, &p->main, prog_unary(p, PX_OP_FLOOR, prog_const(p, -2.5)));
    print_expr(p, &p->main, prog_binary(p, AST_OP_MOD, prog_const(p, -7), prog_const(p, 3)));
    print_expr(p, &p->main, prog_binary(p, AST_OP_OR, prog_const(p, 0),
                                        prog_binary(p, AST_OP_LE, prog_const(p, 2), prog_const(p, 2))));
    print_expr(p, &p->main, prog_unary(p, AST_OP_NEG,
                                       prog_binary(p, AST_OP_POW, prog_const(p, 2), prog_const(p, 10))));
    /* break inside a for loop, continue skipping the rest of the body */
    int j = prog_add_var(p, "j", true), seen = prog_add_var(p, "seen", true);
    ProgStmt *loop = for_range(p, &p->main, j, prog_const(p, 0), prog_const(p, 100));
    ProgStmt *done = prog_stmt(p, &loop->body, PS_IF, NOWHERE);
    done->cond = prog_binary(p, AST_OP_GE, prog_var(p, j), prog_const(p, 4));
    prog_stmt(p, &done->body, PS_BREAK, NOWHERE);
    set_var(p, &loop->body, seen, prog_binary(p, AST_OP_ADD, prog_var(p, seen), prog_const(p, 1)));
    print_expr(p, &p->main, prog_var(p, seen));
    /* ints: floor division and its remainder (-7 / 2 = -4, -7 % 3 = 2, -9 / -1 = 9), int(x)
     * toward 0 (-2), and a select computes only its chosen side (the other divides by 0) */
    print_expr(p, &p->main, prog_int_div(p, AST_OP_DIV, prog_const(p, -7), prog_const(p, 2), NOWHERE));
    print_expr(p, &p->main, prog_int_div(p, AST_OP_MOD, prog_const(p, -7), prog_const(p, 3), NOWHERE));
    print_expr(p, &p->main, prog_int_div(p, AST_OP_DIV, prog_const(p, -9), prog_const(p, -1), NOWHERE));
    print_expr(p, &p->main, prog_unary(p, PX_OP_TRUNC, prog_const(p, -2.5)));
    print_expr(p, &p->main,
               prog_select(p, prog_const(p, 0),
                           prog_int_div(p, AST_OP_DIV, prog_const(p, 1), prog_const(p, 0), NOWHERE),
                           prog_const(p, 5)));
    finish_regions(p);
    expect_run(p, "control flow",
               "f32[]\n16\nf32[]\n10\nf32[]\n-3\nf32[]\n2\nf32[]\n1\nf32[]\n-1024\nf32[]\n4\n"
               "f32[]\n-4\nf32[]\n2\nf32[]\n9\nf32[]\n-2\nf32[]\n5\n");
    prog_free(p);
}

/* log(a = 1.5, b = vars) prints "a = 1.5, b = 3". */
static void test_log(void)
{
    Prog *p = prog_new();
    int v = prog_add_var(p, "v", true);
    set_var(p, &p->main, v, prog_const(p, 3));
    ProgStmt *s = prog_stmt(p, &p->main, PS_LOG, NOWHERE);
    s->n = 2;
    s->names = ARENA_NEW_N(&p->arena, const char *, 2);
    s->values = ARENA_NEW_N(&p->arena, ProgExpr *, 2);
    s->names[0] = "a";
    s->names[1] = "b";
    s->values[0] = prog_const(p, 1.5);
    s->values[1] = prog_var(p, v);
    finish_regions(p);
    expect_run(p, "log", "a = 1.5, b = 3\n");
    prog_free(p);
}

/* ---- data ------------------------------------------------------------------------------------- */

enum { DATA_TRAIN = 25, DATA_TEST = 7, ROWS = 2, COLS = 3 };

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void write_gz(const char *dir, const char *name, const uint8_t *bytes, size_t size)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gzFile f = gzopen(path, "wb");
    if (!f || gzwrite(f, bytes, (unsigned)size) != (int)size || gzclose(f) != Z_OK) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
}

/* Image i pixel j = (7i + 3j) % 256 (scaled to [0, 1] by the loader); label i = i % 10. */
static uint8_t pixel(int i, int j) { return (uint8_t)((7 * i + 3 * j) % 256); }

static void write_split(const char *dir, const char *prefix, int count)
{
    size_t isize = 16 + (size_t)count * ROWS * COLS;
    uint8_t *img = malloc(isize), *lab = malloc(8 + (size_t)count);
    put_be32(img, 0x00000803);
    put_be32(img + 4, (uint32_t)count);
    put_be32(img + 8, ROWS);
    put_be32(img + 12, COLS);
    for (int i = 0; i < count; i++)
        for (int j = 0; j < ROWS * COLS; j++)
            img[16 + i * ROWS * COLS + j] = pixel(i, j);
    put_be32(lab, 0x00000801);
    put_be32(lab + 4, (uint32_t)count);
    for (int i = 0; i < count; i++)
        lab[8 + i] = (uint8_t)(i % 10);
    char name[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte.gz", prefix);
    write_gz(dir, name, img, isize);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte.gz", prefix);
    write_gz(dir, name, lab, 8 + (size_t)count);
    free(img);
    free(lab);
}

/* for x, y in batches(data, 4): total += sum(y); pixels += sum(x); steps += 1 — over the
 * train split (25 samples: 6 full batches, the last sample dropped) or the test split. */
static Prog *batches_program(bool test, bool shuffle)
{
    Prog *p = prog_new();
    const int64_t batch = 4;
    IrShape xs = {.rank = 3, .dims = {batch, ROWS, COLS}}, ys = shape1(batch);
    int x = prog_add_slot(p, "batch.x", IR_F32, &xs), y = prog_add_slot(p, "batch.y", IR_I32, &ys);
    int total = prog_add_var(p, "total", true), pixels = prog_add_var(p, "pixels", false);
    int steps = prog_add_var(p, "steps", true), epoch = prog_add_var(p, "epoch", true);
    p->nouts = 2;
    ProgData d = {.kind = PD_FASHION_MNIST, .path = scratch_dir, .test = test,
                  .x_shape = {.rank = 2, .dims = {ROWS, COLS}}, .x_dtype = IR_F32,
                  .y_dtype = IR_I32};
    int data = prog_add_data(p, &d);

    int k;
    IrGraph *g = region(p, &k);
    IrNode *labels = ir_slot_load(g, NOWHERE, y, IR_I32, &ys);
    ir_scalar_output(g, NOWHERE, 0, ir_reduce(g, NOWHERE, IR_OP_SUM, ir_cast(g, NOWHERE, labels, IR_F32), 1));
    IrNode *images = ir_slot_load(g, NOWHERE, x, IR_F32, &xs);
    ir_scalar_output(g, NOWHERE, 1, ir_reduce(g, NOWHERE, IR_OP_SUM, images, 7));

    ProgStmt *epochs = for_range(p, &p->main, epoch, prog_const(p, 0), prog_const(p, 1));
    ProgStmt *loop = prog_stmt(p, &epochs->body, PS_FOR_BATCHES, NOWHERE);
    loop->index = data;
    loop->batch = batch;
    loop->shuffle = shuffle;
    loop->expr = prog_const(p, 7);
    loop->x_slot = x;
    loop->y_slot = y;
    loop->epoch_var = epoch;
    run_region(p, &loop->body, k);
    set_var(p, &loop->body, total, prog_binary(p, AST_OP_ADD, prog_var(p, total), prog_out(p, 0)));
    set_var(p, &loop->body, pixels, prog_binary(p, AST_OP_ADD, prog_var(p, pixels), prog_out(p, 1)));
    set_var(p, &loop->body, steps, prog_binary(p, AST_OP_ADD, prog_var(p, steps), prog_const(p, 1)));
    ProgStmt *log = prog_stmt(p, &p->main, PS_LOG, NOWHERE);
    log->n = 3;
    log->names = ARENA_NEW_N(&p->arena, const char *, 3);
    log->values = ARENA_NEW_N(&p->arena, ProgExpr *, 3);
    log->names[0] = "steps", log->values[0] = prog_var(p, steps);
    log->names[1] = "total", log->values[1] = prog_var(p, total);
    log->names[2] = "pixels", log->values[2] = prog_var(p, pixels);
    finish_regions(p);
    return p;
}

/* The log line batches_program prints for samples [0, n) in order. */
static void expected_batches(int n, int steps, char *out, size_t size)
{
    int total = 0;
    double pixels = 0;
    for (int i = 0; i < n; i++) {
        total += i % 10;
        for (int j = 0; j < ROWS * COLS; j++)
            pixels += pixel(i, j) / 255.0;
    }
    snprintf(out, size, "steps = %d, total = %d, pixels = %.6g\n", steps, total, pixels);
}

static void test_batches(void)
{
    char want[128];
    Prog *p = batches_program(false, false);
    expected_batches(24, 6, want, sizeof want);
    expect_run(p, "batches: train split in order", want);
    prog_free(p);

    p = batches_program(true, false);
    expected_batches(4, 1, want, sizeof want);
    expect_run(p, "batches: test split", want);
    prog_free(p);

    /* shuffled: 6 batches, each label once except the one sample dropped */
    p = batches_program(false, true);
    char *got = jit_output(p, "batches: shuffled", 0, NULL);
    int steps = -1, total = -1;
    record(got && sscanf(got, "steps = %d, total = %d", &steps, &total) == 2 && steps == 6 &&
               total >= 96 - 9 && total <= 96 + 4 - 0,
           "batches: shuffled run printed %s", got ? got : "nothing");
    free(got);
    prog_free(p);
}

/* ---- checkpoints --------------------------------------------------------------------------- */

/* w = [1, 2, 3]; save; w = 0; load; print w. */
static void test_checkpoint(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/ckpt.safetensors", scratch_dir);
    Prog *p = prog_new();
    IrShape s3 = shape1(3), s2 = shape1(2);
    int w = prog_add_slot(p, "net.w", IR_F32, &s3);
    int ids = prog_add_slot(p, "ids", IR_I32, &s2);
    int set, clear, show;
    IrGraph *g = region(p, &set);
    double v[] = {1, 2, 3}, iv[] = {7, -4};
    ir_slot_store(g, NOWHERE, w, ir_const(g, NOWHERE, &s3, v));
    ir_slot_store(g, NOWHERE, ids, ir_const_typed(g, NOWHERE, IR_I32, &s2, iv));
    g = region(p, &clear);
    double zero[] = {0, 0, 0};
    ir_slot_store(g, NOWHERE, w, ir_const(g, NOWHERE, &s3, zero));
    ir_slot_store(g, NOWHERE, ids, ir_const_typed(g, NOWHERE, IR_I32, &s2, zero));
    g = region(p, &show);
    ir_print(g, NOWHERE, ir_slot_load(g, NOWHERE, w, IR_F32, &s3));
    ir_print(g, NOWHERE, ir_slot_load(g, NOWHERE, ids, IR_I32, &s2));

    int *list = ARENA_NEW_N(&p->arena, int, 2);
    list[0] = w;
    list[1] = ids;
    const char **names = ARENA_NEW_N(&p->arena, const char *, 2);
    names[0] = "w";
    names[1] = "ids";
    run_region(p, &p->main, set);
    ProgStmt *save = prog_stmt(p, &p->main, PS_SAVE, NOWHERE);
    save->path = path;
    save->slot_list = list;
    save->names = names;
    save->nslot_list = 2;
    run_region(p, &p->main, clear);
    run_region(p, &p->main, show);
    ProgStmt *load = prog_stmt(p, &p->main, PS_LOAD, NOWHERE);
    load->path = path;
    load->slot_list = list;
    load->names = names;
    load->nslot_list = 2;
    run_region(p, &p->main, show);
    finish_regions(p);
    expect_run(p, "checkpoint save and load",
               "f32[3]\n[0, 0, 0]\ni32[2]\n[0, 0]\nf32[3]\n[1, 2, 3]\ni32[2]\n[ 7, -4]\n");
    record(access(path, F_OK) == 0, "checkpoint: %s was not written", path);
    prog_free(p);
}

/* ---- the program ops themselves ------------------------------------------------------------ */

/* GRAD with respect to a slot: w -= 0.1 * d(sum(w * w))/dw three times: w * 0.8^3. */
static void test_grad_of_slot(void)
{
    Prog *p = prog_new();
    IrShape s2 = shape1(2);
    int w = prog_add_slot(p, "net.w", IR_F32, &s2);
    int i = prog_add_var(p, "i", true);
    int init, step, show;
    IrGraph *g = region(p, &init);
    double v[] = {1.25, -5};
    ir_slot_store(g, NOWHERE, w, ir_const(g, NOWHERE, &s2, v));
    g = region(p, &step);
    IrNode *wv = ir_slot_load(g, NOWHERE, w, IR_F32, &s2);
    IrNode *loss = ir_reduce(g, NOWHERE, IR_OP_SUM, ir_binary(g, NOWHERE, IR_OP_MUL, wv, wv), 1);
    IrNode *grad = ir_grad(g, NOWHERE, loss, wv);
    IrNode *upd = ir_binary(g, NOWHERE, IR_OP_SUB, wv,
                            ir_binary(g, NOWHERE, IR_OP_MUL, grad, ir_scalar(g, NOWHERE, 0.1)));
    ir_slot_store(g, NOWHERE, w, upd);
    g = region(p, &show);
    ir_print(g, NOWHERE, ir_slot_load(g, NOWHERE, w, IR_F32, &s2));
    run_region(p, &p->main, init);
    ProgStmt *loop = for_range(p, &p->main, i, prog_const(p, 0), prog_const(p, 3));
    run_region(p, &loop->body, step);
    run_region(p, &p->main, show);
    finish_regions(p);
    expect_run(p, "grad of a slot", "f32[2]\n[ 0.64, -2.56]\n");
    prog_free(p);
}

/* Two slots swapped in one region (a, b = b, a), and a slot printed after it is stored:
 * every read sees the values the region started with. */
static void test_swap(void)
{
    Prog *p = prog_new();
    IrShape s2 = shape1(2);
    int a = prog_add_slot(p, "a", IR_F32, &s2), b = prog_add_slot(p, "b", IR_F32, &s2);
    int init, swap;
    IrGraph *g = region(p, &init);
    double av[] = {1, 2}, bv[] = {3, 4};
    ir_slot_store(g, NOWHERE, a, ir_const(g, NOWHERE, &s2, av));
    ir_slot_store(g, NOWHERE, b, ir_const(g, NOWHERE, &s2, bv));
    g = region(p, &swap);
    IrNode *la = ir_slot_load(g, NOWHERE, a, IR_F32, &s2);
    IrNode *lb = ir_slot_load(g, NOWHERE, b, IR_F32, &s2);
    ir_slot_store(g, NOWHERE, a, lb);
    ir_slot_store(g, NOWHERE, b, la);
    ir_print(g, NOWHERE, la);
    run_region(p, &p->main, init);
    run_region(p, &p->main, swap);
    run_region(p, &p->main, swap);
    run_region(p, &p->main, swap);
    finish_regions(p);
    expect_run(p, "swap", "f32[2]\n[1, 2]\nf32[2]\n[3, 4]\nf32[2]\n[1, 2]\n");
    prog_free(p);
}

/* Kernels that write their result straight into the slot it is stored to (an optimizer's
 * update: pass_slots_in_place), and those that must not because the old value is read
 * after them: a = 2a + b and b = a + 1 in one region (b's kernel may write in place, a's
 * may not: b's reads old a), d = 3d with old d printed after its store, and c = c - sum(c)
 * (in place: the sum is its own kernel, run before). Run twice; every read sees the
 * region's starting values. */
static void test_store_in_place(void)
{
    Prog *p = prog_new();
    IrShape s4 = shape1(4);
    int a = prog_add_slot(p, "a", IR_F32, &s4), b = prog_add_slot(p, "b", IR_F32, &s4);
    int c = prog_add_slot(p, "c", IR_F32, &s4), d = prog_add_slot(p, "d", IR_F32, &s4);
    int init, step;
    IrGraph *g = region(p, &init);
    double av[] = {1, 2, 3, 4}, bv[] = {10, 20, 30, 40}, cv[] = {1, 1, 2, 4};
    ir_slot_store(g, NOWHERE, a, ir_const(g, NOWHERE, &s4, av));
    ir_slot_store(g, NOWHERE, b, ir_const(g, NOWHERE, &s4, bv));
    ir_slot_store(g, NOWHERE, c, ir_const(g, NOWHERE, &s4, cv));
    ir_slot_store(g, NOWHERE, d, ir_const(g, NOWHERE, &s4, av));
    IrGraph *s = region(p, &step);
    IrNode *la = ir_slot_load(s, NOWHERE, a, IR_F32, &s4);
    IrNode *lb = ir_slot_load(s, NOWHERE, b, IR_F32, &s4);
    IrNode *lc = ir_slot_load(s, NOWHERE, c, IR_F32, &s4);
    IrNode *ld = ir_slot_load(s, NOWHERE, d, IR_F32, &s4);
    IrShape s0 = {.rank = 0};
    double two = 2, one = 1, three = 3;
    IrNode *k2 = ir_const(s, NOWHERE, &s0, &two), *k1 = ir_const(s, NOWHERE, &s0, &one);
    IrNode *k3 = ir_const(s, NOWHERE, &s0, &three);
    ir_slot_store(s, NOWHERE, a, ir_binary(s, NOWHERE, IR_OP_ADD,
                                           ir_binary(s, NOWHERE, IR_OP_MUL, la, k2), lb));
    ir_slot_store(s, NOWHERE, b, ir_binary(s, NOWHERE, IR_OP_ADD, la, k1));
    ir_slot_store(s, NOWHERE, c, ir_binary(s, NOWHERE, IR_OP_SUB, lc,
                                           ir_reduce(s, NOWHERE, IR_OP_SUM, lc, 1)));
    ir_slot_store(s, NOWHERE, d, ir_binary(s, NOWHERE, IR_OP_MUL, ld, k3));
    ir_print(s, NOWHERE, ld);
    run_region(p, &p->main, init);
    run_region(p, &p->main, step);
    run_region(p, &p->main, step);
    IrGraph *show = region(p, &init);
    ir_print(show, NOWHERE, ir_slot_load(show, NOWHERE, a, IR_F32, &s4));
    ir_print(show, NOWHERE, ir_slot_load(show, NOWHERE, b, IR_F32, &s4));
    ir_print(show, NOWHERE, ir_slot_load(show, NOWHERE, c, IR_F32, &s4));
    ir_print(show, NOWHERE, ir_slot_load(show, NOWHERE, d, IR_F32, &s4));
    run_region(p, &p->main, init);
    finish_regions(p);
    /* b's and c's kernels write in place, a's and d's do not */
    int *in_place = pass_slots_in_place(s);
    bool slots[4] = {false};
    for (int i = 0; i < s->len; i++)
        if (in_place[s->nodes[i]->id] >= 0)
            slots[in_place[s->nodes[i]->id]] = true;
    free(in_place);
    record(!slots[a] && slots[b] && slots[c] && !slots[d],
           "in place: b and c, not a or d (found a %d, b %d, c %d, d %d)", slots[a], slots[b],
           slots[c], slots[d]);
    /* step 1: a = 2a + b = [12, 24, 36, 48], b = a + 1 = [2, 3, 4, 5], c = c - 8, d = 3d;
     * step 2: a = [26, 51, 76, 101], b = [13, 25, 37, 49], c = c - (-24), d = 9d */
    expect_run(p, "store in place",
               "f32[4]\n[1, 2, 3, 4]\nf32[4]\n[ 3,  6,  9, 12]\n"
               "f32[4]\n[ 26,  51,  76, 101]\nf32[4]\n[13, 25, 37, 49]\n"
               "f32[4]\n[17, 17, 18, 20]\nf32[4]\n[ 9, 18, 27, 36]\n");
    prog_free(p);
}

/* The length of the first chain of alike runs in g (pass_alike_chain), 0 if none. */
static int first_chain(const IrGraph *g)
{
    int *in_place = pass_slots_in_place(g), found = 0;
    for (int i = 0; i < g->len && !found; i++)
        if (pass_alike_run(g, i) > 1)
            found = pass_alike_chain(g, i, in_place);
    free(in_place);
    return found;
}

/* Two parameters of 5000 elements whose updates read each other's data, so that their
 * runs must not chain (pass_alike_chain): run block by block, member 0's kernels would
 * run before member 1's and one would see the other's new values. With `cross_velocity`
 * the parameter kernels read the other parameter's velocity; without it, the velocity
 * kernels read the other's parameter, which its kernel writes in place. From p = 1, v = 0,
 * g = 0.5, momentum 0.5, lr 0.25, two steps give v = 0.75, p = 0.6875 (cross_velocity)
 * and v = 0.6875, p = 0.703125 (without): multiples of 1/64, so every sum is exact. */
static void test_alike_no_chain(bool cross_velocity)
{
    Prog *p = prog_new();
    IrShape shape = shape1(5000), s0 = {.rank = 0};
    int ps[2], vs[2], init, step, show;
    for (int k = 0; k < 2; k++) {
        ps[k] = prog_add_slot(p, "p", IR_F32, &shape);
        vs[k] = prog_add_slot(p, "v", IR_F32, &shape);
    }
    double one = 1, zero = 0, half = 0.5, quarter = 0.25;
    IrGraph *g = region(p, &init);
    for (int k = 0; k < 2; k++) {
        IrNode *o = ir_const(g, NOWHERE, &s0, &one), *z = ir_const(g, NOWHERE, &s0, &zero);
        ir_slot_store(g, NOWHERE, ps[k], ir_broadcast(g, NOWHERE, o, &shape));
        ir_slot_store(g, NOWHERE, vs[k], ir_broadcast(g, NOWHERE, z, &shape));
    }
    IrGraph *s = region(p, &step);
    IrNode *mu = ir_const(s, NOWHERE, &s0, &half), *lr = ir_const(s, NOWHERE, &s0, &quarter);
    IrNode *v[2], *w[2], *newv[2], *newp[2];
    for (int k = 0; k < 2; k++) {
        v[k] = ir_slot_load(s, NOWHERE, vs[k], IR_F32, &shape);
        w[k] = ir_slot_load(s, NOWHERE, ps[k], IR_F32, &shape);
    }
    for (int k = 0; k < 2; k++) {
        IrNode *grad = ir_broadcast(s, NOWHERE, ir_const(s, NOWHERE, &s0, &half), &shape);
        if (!cross_velocity) /* g scaled by the other parameter */
            grad = ir_binary(s, NOWHERE, IR_OP_MUL, grad, w[1 - k]);
        newv[k] = ir_binary(s, NOWHERE, IR_OP_ADD, ir_binary(s, NOWHERE, IR_OP_MUL, mu, v[k]), grad);
    }
    for (int k = 0; k < 2; k++)
        newp[k] = ir_binary(s, NOWHERE, IR_OP_SUB, w[k],
                            ir_binary(s, NOWHERE, IR_OP_MUL, lr, newv[cross_velocity ? 1 - k : k]));
    for (int k = 0; k < 2; k++) {
        ir_slot_store(s, NOWHERE, vs[k], newv[k]);
        ir_slot_store(s, NOWHERE, ps[k], newp[k]);
    }
    IrGraph *out = region(p, &show);
    double vsum = (cross_velocity ? 0.75 : 0.6875) * 5000;
    double psum = (cross_velocity ? 0.6875 : 0.703125) * 5000;
    for (int k = 0; k < 4; k++) /* each sum's difference from its exact value: 0 */
        ir_print(out, NOWHERE,
                 ir_binary(out, NOWHERE, IR_OP_SUB,
                           ir_reduce(out, NOWHERE, IR_OP_SUM,
                                     ir_slot_load(out, NOWHERE, k % 2 ? vs[k / 2] : ps[k / 2],
                                                  IR_F32, &shape),
                                     1),
                           ir_const(out, NOWHERE, &s0, k % 2 ? &vsum : &psum)));
    run_region(p, &p->main, init);
    run_region(p, &p->main, step);
    run_region(p, &p->main, step);
    run_region(p, &p->main, show);
    finish_regions(p);
    const char *what = cross_velocity ? "no chain (velocity)" : "no chain (slot)";
    int chain = first_chain(s);
    record(chain == 2, "%s: runs of 2 that do not chain, found %d", what, chain);
    for (int t = 1; t <= 2; t++) {
        char threads[8];
        snprintf(threads, sizeof threads, "%d", t);
        char *args[] = {"--threads", threads}, name[48];
        snprintf(name, sizeof name, "%s, %d threads", what, t);
        char *got = jit_output(p, name, 2, args);
        expect_output(name, got, "f32[]\n0\nf32[]\n0\nf32[]\n0\nf32[]\n0\n");
        free(got);
    }
    prog_free(p);
}

/* A momentum update of three parameters of different shapes: after fusion the three
 * velocity kernels stand together, then the three parameter kernels (gather_alike), each
 * group run as one kernel over all its elements (pass_alike_run), and the two groups run
 * block by block (pass_alike_chain, codegen's emit_alike_chain), in blocks that split
 * among threads; the results are exact and the same
 * at 1, 2 and 3 threads. g = 0.5, momentum 0.5, lr 0.25, from p = 1, v = 0: after two
 * steps v = 0.75 and p = 0.6875. */
static void test_alike_update(void)
{
    Prog *p = prog_new();
    IrShape shapes[3] = {shape1(5000), {.rank = 2, .dims = {3, 1500}}, shape1(7)};
    int ps[3], vs[3], init, step, show;
    for (int k = 0; k < 3; k++) {
        ps[k] = prog_add_slot(p, "p", IR_F32, &shapes[k]);
        vs[k] = prog_add_slot(p, "v", IR_F32, &shapes[k]);
    }
    IrShape s0 = {.rank = 0};
    double one = 1, zero = 0, half = 0.5, quarter = 0.25;
    IrGraph *g = region(p, &init);
    for (int k = 0; k < 3; k++) {
        IrNode *o = ir_const(g, NOWHERE, &s0, &one), *z = ir_const(g, NOWHERE, &s0, &zero);
        ir_slot_store(g, NOWHERE, ps[k], ir_broadcast(g, NOWHERE, o, &shapes[k]));
        ir_slot_store(g, NOWHERE, vs[k], ir_broadcast(g, NOWHERE, z, &shapes[k]));
    }
    IrGraph *s = region(p, &step);
    IrNode *mu = ir_const(s, NOWHERE, &s0, &half), *lr = ir_const(s, NOWHERE, &s0, &quarter);
    IrNode *newp[3], *newv[3];
    for (int k = 0; k < 3; k++) { /* interleaved, as an optimizer's update is traced */
        IrNode *grad = ir_broadcast(s, NOWHERE, ir_const(s, NOWHERE, &s0, &half), &shapes[k]);
        IrNode *v = ir_slot_load(s, NOWHERE, vs[k], IR_F32, &shapes[k]);
        IrNode *w = ir_slot_load(s, NOWHERE, ps[k], IR_F32, &shapes[k]);
        newv[k] = ir_binary(s, NOWHERE, IR_OP_ADD, ir_binary(s, NOWHERE, IR_OP_MUL, mu, v), grad);
        newp[k] = ir_binary(s, NOWHERE, IR_OP_SUB, w,
                            ir_binary(s, NOWHERE, IR_OP_MUL, lr, newv[k]));
    }
    for (int k = 0; k < 3; k++) {
        ir_slot_store(s, NOWHERE, vs[k], newv[k]);
        ir_slot_store(s, NOWHERE, ps[k], newp[k]);
    }
    IrGraph *out = region(p, &show);
    double sums[2] = {0.6875 * 5000, 0.6875 * 4500}; /* exact in f32 (multiples of 1/16) */
    for (int k = 0; k < 2; k++) /* the sum's difference from its exact value: 0 */
        ir_print(out, NOWHERE,
                 ir_binary(out, NOWHERE, IR_OP_SUB,
                           ir_reduce(out, NOWHERE, IR_OP_SUM,
                                     ir_slot_load(out, NOWHERE, ps[k], IR_F32, &shapes[k]),
                                     (1u << shapes[k].rank) - 1),
                           ir_const(out, NOWHERE, &s0, &sums[k])));
    ir_print(out, NOWHERE, ir_slot_load(out, NOWHERE, ps[2], IR_F32, &shapes[2]));
    ir_print(out, NOWHERE, ir_slot_load(out, NOWHERE, vs[2], IR_F32, &shapes[2]));
    run_region(p, &p->main, init);
    run_region(p, &p->main, step);
    run_region(p, &p->main, step);
    run_region(p, &p->main, show);
    finish_regions(p);
    int runs[4] = {0}, nruns = 0;
    for (int i = 0; i < s->len;) {
        int r = pass_alike_run(s, i);
        if (r > 1 && nruns < 4)
            runs[nruns++] = r;
        i += r;
    }
    record(nruns == 2 && runs[0] == 3 && runs[1] == 3,
           "alike update: two runs of 3 kernels, found %d (%d, %d)", nruns, runs[0], runs[1]);
    int chain = first_chain(s);
    record(chain == 6, "alike update: the two runs chain (6 kernels), found %d", chain);
    const char *want = "f32[]\n0\nf32[]\n0\n"
                       "f32[7]\n[0.6875, 0.6875, 0.6875, 0.6875, 0.6875, 0.6875, 0.6875]\n"
                       "f32[7]\n[0.75, 0.75, 0.75, 0.75, 0.75, 0.75, 0.75]\n";
    for (int t = 1; t <= 3; t++) {
        char threads[8];
        snprintf(threads, sizeof threads, "%d", t);
        char *args[] = {"--threads", threads}, name[40];
        snprintf(name, sizeof name, "alike update, %d threads", t);
        char *got = jit_output(p, name, 2, args);
        expect_output(name, got, want);
        free(got);
    }
    prog_free(p);
}

/* CAST and i32 comparisons, compiled and in the evaluator; SCALAR_INPUT. */
static void test_cast_and_compare(void)
{
    IrShape s5 = shape1(5);
    double f[] = {-1.75, 2.9, -0.5, 3e9, 7};
    double l[] = {3, 1, 4, 1, 5}, q[] = {3, 2, 4, 0, 5};
    Prog *p = prog_new();
    int var = prog_add_var(p, "v", false);
    p->nouts = 2;
    int k;
    IrGraph *g = region(p, &k);
    IrNode *fx = ir_const(g, NOWHERE, &s5, f);
    IrNode *li = ir_const_typed(g, NOWHERE, IR_I32, &s5, l);
    IrNode *qi = ir_const_typed(g, NOWHERE, IR_I32, &s5, q);
    IrNode *ti = ir_cast(g, NOWHERE, fx, IR_I32);
    ir_print(g, NOWHERE, ti);
    ir_print(g, NOWHERE, ir_binary(g, NOWHERE, IR_OP_CMP_EQ, li, qi));
    ir_print(g, NOWHERE, ir_binary(g, NOWHERE, IR_OP_CMP_LT, li, qi));
    IrNode *back = ir_cast(g, NOWHERE, li, IR_F32);
    IrNode *scale = ir_scalar_input(g, NOWHERE, var);
    ir_print(g, NOWHERE, ir_binary(g, NOWHERE, IR_OP_MUL, back, scale));
    IrNode *correct = ir_reduce(g, NOWHERE, IR_OP_SUM, ir_binary(g, NOWHERE, IR_OP_CMP_GE, li, qi), 1);
    ir_scalar_output(g, NOWHERE, 0, correct);
    IrNode *first = ir_reduce(g, NOWHERE, IR_OP_SUM, ir_cast(g, NOWHERE, ti, IR_F32), 1);
    ir_scalar_output(g, NOWHERE, 1, ir_cast(g, NOWHERE, first, IR_I32));
    set_var(p, &p->main, var, prog_const(p, 0.5));
    run_region(p, &p->main, k);
    print_expr(p, &p->main, prog_out(p, 0));
    print_expr(p, &p->main, prog_out(p, 1));

    /* the evaluator on the same region, before compiling (fused graphs evaluate too) */
    finish_regions(p);
    double vars[1] = {0.5}, outs[2] = {0};
    EvalEnv env = {.slots = NULL, .vars = vars, .outs = outs};
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    EvalResult r = eval_graph_env(g, EVAL_F32, mem, &env);
    eval_result_free(&r);
    for (int i = 0; i < 2; i++) { /* as PS_PRINT prints them: rounded to f32 */
        double v = (float)outs[i];
        rt_fprint_f64(mem, "f32", &v, 0, NULL);
    }
    fclose(mem);
    /* 3e9 saturates to 2^31 - 1; their sum rounds to 2^31 in f32 and saturates again */
    const char *want = "i32[5]\n[       -1,         2,         0, 2.147e+09,         7]\n"
                       "f32[5]\n[1, 0, 1, 0, 1]\n"
                       "f32[5]\n[0, 1, 0, 0, 0]\n"
                       "f32[5]\n[1.5, 0.5,   2, 0.5, 2.5]\n"
                       "f32[]\n4\nf32[]\n2.147e+09\n";
    char *got = jit_output(p, "cast and compare", 0, NULL);
    expect_output("cast and compare (compiled)", got, want);
    expect_output("cast and compare (evaluator)", text, got ? got : want);
    free(got);
    free(text);
    prog_free(p);
}

/* pass_simplify: loads of different slots (and inputs of different vars) never merge,
 * loads of one slot do; stores and scalar outputs are effects, kept by DCE and never
 * merged even with equal inputs. pass_fuse leaves the sources outside its kernels. */
static void test_passes(void)
{
    IrGraph *g = ir_graph_new();
    IrShape s2 = shape1(2);
    IrNode *a = ir_slot_load(g, NOWHERE, 0, IR_F32, &s2);
    IrNode *b = ir_slot_load(g, NOWHERE, 1, IR_F32, &s2);
    IrNode *a2 = ir_slot_load(g, NOWHERE, 0, IR_F32, &s2);
    IrNode *u = ir_scalar_input(g, NOWHERE, 0), *v = ir_scalar_input(g, NOWHERE, 1);
    ir_scalar_input(g, NOWHERE, 2); /* unused: removed */
    IrNode *sum = ir_binary(g, NOWHERE, IR_OP_ADD, ir_binary(g, NOWHERE, IR_OP_ADD, a, b), a2);
    IrNode *scaled = ir_binary(g, NOWHERE, IR_OP_MUL, sum, ir_binary(g, NOWHERE, IR_OP_SUB, u, v));
    ir_slot_store(g, NOWHERE, 2, scaled);
    ir_slot_store(g, NOWHERE, 3, scaled);
    IrNode *total = ir_reduce(g, NOWHERE, IR_OP_SUM, scaled, 1);
    ir_scalar_output(g, NOWHERE, 0, total);
    ir_scalar_output(g, NOWHERE, 1, total);
    pass_simplify(g);
    int count[IR_OP_COUNT] = {0};
    for (int i = 0; i < g->len; i++)
        count[g->nodes[i]->op]++;
    record(count[IR_OP_SLOT_LOAD] == 2 && count[IR_OP_SCALAR_INPUT] == 2 &&
               count[IR_OP_SLOT_STORE] == 2 && count[IR_OP_SCALAR_OUTPUT] == 2,
           "simplify: %d slot loads, %d scalar inputs, %d stores, %d outputs (want 2 each)",
           count[IR_OP_SLOT_LOAD], count[IR_OP_SCALAR_INPUT], count[IR_OP_SLOT_STORE],
           count[IR_OP_SCALAR_OUTPUT]);
    pass_fuse(g);
    ir_verify(g, "fuse");
    memset(count, 0, sizeof count);
    for (int i = 0; i < g->len; i++)
        count[g->nodes[i]->op]++;
    record(count[IR_OP_SLOT_LOAD] == 2 && count[IR_OP_SCALAR_INPUT] == 2 && count[IR_OP_FUSED] >= 1,
           "fuse: sources must stay outside fused kernels");
    ir_graph_free(g);
}

/* The text form: slots, settings and data first, then the host code with regions inline. */
static void test_print(void)
{
    Prog *p = counting_program();
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    prog_print(mem, p);
    fclose(mem);
    record(text && strstr(text, "slot_load f32[3] slot=0") && strstr(text, "slot_store %") &&
               strstr(text, "scalar_output %") && strstr(text, " out=0"),
           "prog_print shows the program ops:\n%s", text ? text : "");
    free(text);
    prog_free(p);
}

/* ---- scratch directory ------------------------------------------------------------------------ */

static void remove_scratch(void)
{
    const char *names[] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                           "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                           "ckpt.safetensors"};
    char path[512];
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        snprintf(path, sizeof path, "%s/%s", scratch_dir, names[i]);
        unlink(path);
    }
    rmdir(scratch_dir);
}

int main(void)
{
    snprintf(scratch_dir, sizeof scratch_dir, "/tmp/nnc-test-prog-data-XXXXXX");
    if (!mkdtemp(scratch_dir)) {
        perror("mkdtemp");
        return 2;
    }
    write_split(scratch_dir, "train", DATA_TRAIN);
    write_split(scratch_dir, "t10k", DATA_TEST);

    test_regions_and_loops();
    test_settings();
    test_control_flow();
    test_log();
    test_batches();
    test_checkpoint();
    test_grad_of_slot();
    test_swap();
    test_store_in_place();
    test_alike_update();
    test_alike_no_chain(true);
    test_alike_no_chain(false);
    test_cast_and_compare();
    test_print();
    test_passes();
    test_aot();

    remove_scratch();
    printf("%d passed, %d failed\n", tests_passed, tests_failed);
    return tests_failed != 0;
}
