/* rt_conv.c — convolution through oneDNN primitives, cached by geometry.
 *
 * Creating a oneDNN primitive (choosing an implementation, JIT-compiling its kernel) costs
 * far more than running it on small tensors, so each (operation, geometry) pair gets one
 * cache entry on first use, kept for the life of the process; later calls only point the
 * entry's memory objects at the caller's buffers and execute.
 *
 * Layouts. The caller's tensors are NCHW / OIHW, or, as the geometry's `blocked` says,
 * activations in oneDNN's nChw16c (the compiler keeps them so between convolutions).
 * Convolutions are created with "any" layouts so oneDNN can pick its fast blocked ones;
 * where that differs from the caller's, the entry holds a reorder (caller -> blocked for
 * inputs, blocked -> caller for outputs) and an internal buffer for the blocked copy;
 * with nChw16c activations usually only the small weights are reordered. Small
 * convolutions on NCHW skip oneDNN where it did worse (rt_conv_direct.c): with at most
 * 4 input channels (a first layer) the forward pass and the weight gradient, and with at
 * most 16 input and output channels and no padding the weight gradient. Pooling is not
 * here: rt_pool2d.c does it on the plain layout directly (oneDNN's pooling on plain NCHW
 * was several times slower).
 *
 * Not thread-safe: one cache, used from the thread running the program (each entry has
 * its own stream: the two halves of a weight gradient run at once, below). */
#include "rt_internal.h"

#include <stdbool.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

typedef enum RtNnKind {
    RT_NN_CONV, RT_NN_CONV_BACKWARD_DATA, RT_NN_CONV_BACKWARD_WEIGHTS,
} RtNnKind;

static const char *const rt_nn_names[] = {
    [RT_NN_CONV] = "conv2d",
    [RT_NN_CONV_BACKWARD_DATA] = "conv2d backward (data)",
    [RT_NN_CONV_BACKWARD_WEIGHTS] = "conv2d backward (weights)",
};

enum {
    RT_NN_KEY = sizeof(RtConv2d) / sizeof(int64_t), /* the larger geometry, in int64s */
    RT_NN_MAX_ARGS = 4, /* three tensors and a scratchpad */
};

/* One argument of a primitive. `slot` says which of the call's data pointers it is
 * (-1: memory owned by the entry, its scratchpad). */
typedef struct RtNnArg {
    int arg;                  /* DNNL_ARG_* */
    int slot;
    int output;
    dnnl_memory_t user;       /* the caller's plain buffer (handle set on every call) */
    dnnl_memory_t inner;      /* what the primitive reads or writes: user, or a blocked copy */
    dnnl_primitive_t reorder; /* user -> inner for an input, inner -> user for an output */
} RtNnArg;

typedef struct RtNnStep {
    dnnl_primitive_t primitive;
    RtNnArg args[RT_NN_MAX_ARGS];
    int nargs;
} RtNnStep;

typedef struct RtNnEntry {
    struct RtNnEntry *next;
    RtNnKind kind;
    int64_t key[RT_NN_KEY];
    int part;                 /* which part of a split weight gradient (0: unsplit or the first) */
    RtNnStep step;            /* the primitive and its arguments */
    dnnl_stream_t stream;     /* its own, so that two entries may run at once */
    float *partial;           /* a part > 0 of a weight gradient: where it writes */
} RtNnEntry;

static dnnl_engine_t rt_nn_engine;
static RtNnEntry *rt_nn_cache;

static void rt_nn_check(dnnl_status_t status, RtNnKind kind, const char *what)
{
    if (status != dnnl_success)
        rt_fatal("%s: %s failed in oneDNN: %s", rt_nn_names[kind], what,
                 dnnl_status2str(status));
}

static void rt_nn_start(void)
{
    if (rt_nn_engine)
        return;
    (void)rt_cpu_avx512(); /* oneDNN's instruction set is fixed before its first use */
    rt_nn_check(dnnl_engine_create(&rt_nn_engine, dnnl_cpu, 0), RT_NN_CONV, "engine creation");
}

/* ---- building entries ---------------------------------------------------------------------- */

static dnnl_memory_desc_t rt_nn_desc(int ndims, const dnnl_dims_t dims, dnnl_format_tag_t tag)
{
    dnnl_memory_desc_t md;
    rt_nn_check(dnnl_memory_desc_init_by_tag(&md, ndims, dims, dnnl_f32, tag), RT_NN_CONV,
                "memory descriptor");
    return md;
}

/* Adds an argument whose plain layout is `user_md` and whose layout in the primitive is
 * the primitive's `query` descriptor; a reorder bridges them when they differ. */
static void rt_nn_add_arg(RtNnEntry *e, RtNnStep *step, const_dnnl_primitive_desc_t pd,
                          dnnl_query_t query, int arg, int slot, int output,
                          const dnnl_memory_desc_t *user_md)
{
    RtNnArg *a = &step->args[step->nargs++];
    *a = (RtNnArg){.arg = arg, .slot = slot, .output = output};
    const dnnl_memory_desc_t *inner_md = dnnl_primitive_desc_query_md(pd, query, 0);
    rt_nn_check(dnnl_memory_create(&a->user, user_md, rt_nn_engine, DNNL_MEMORY_NONE), e->kind,
                "memory creation");
    if (dnnl_memory_desc_equal(user_md, inner_md)) {
        a->inner = a->user;
        return;
    }
    rt_nn_check(dnnl_memory_create(&a->inner, inner_md, rt_nn_engine, DNNL_MEMORY_ALLOCATE),
                e->kind, "memory creation");
    dnnl_primitive_desc_t reorder_pd;
    const dnnl_memory_desc_t *from = output ? inner_md : user_md, *to = output ? user_md : inner_md;
    rt_nn_check(dnnl_reorder_primitive_desc_create(&reorder_pd, from, rt_nn_engine, to,
                                                   rt_nn_engine, NULL),
                e->kind, "reorder creation");
    rt_nn_check(dnnl_primitive_create(&a->reorder, reorder_pd), e->kind, "reorder creation");
    dnnl_primitive_desc_destroy(reorder_pd);
}

/* Every primitive gets a scratchpad of its own (the entry's), not the library's shared
 * one: the two halves of a weight gradient run at the same time (rt_conv_weights). */
static dnnl_primitive_desc_t rt_nn_pd(RtNnEntry *e, const void *desc,
                                      const_dnnl_primitive_desc_t hint)
{
    dnnl_primitive_attr_t attr;
    rt_nn_check(dnnl_primitive_attr_create(&attr), e->kind, "attribute creation");
    rt_nn_check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user),
                e->kind, "attribute creation");
    dnnl_primitive_desc_t pd;
    rt_nn_check(dnnl_primitive_desc_create(&pd, desc, attr, rt_nn_engine, hint), e->kind,
                "primitive descriptor creation");
    dnnl_primitive_attr_destroy(attr);
    return pd;
}

static void rt_nn_set_primitive(RtNnEntry *e, RtNnStep *step, const_dnnl_primitive_desc_t pd)
{
    rt_nn_check(dnnl_primitive_create(&step->primitive, pd), e->kind, "primitive creation");
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (md && dnnl_memory_desc_get_size(md) > 0) {
        dnnl_memory_t scratchpad;
        rt_nn_check(dnnl_memory_create(&scratchpad, md, rt_nn_engine, DNNL_MEMORY_ALLOCATE),
                    e->kind, "scratchpad creation");
        step->args[step->nargs++] = (RtNnArg){.arg = DNNL_ARG_SCRATCHPAD, .slot = -1,
                                              .user = scratchpad, .inner = scratchpad};
    }
}

/* The convolution descriptors: x, w, y in plain layouts and "any"; geometry arrays. */
typedef struct RtConvDescs {
    dnnl_memory_desc_t x, w, y, x_any, w_any, y_any;
    dnnl_dims_t strides, dilates, padding;
} RtConvDescs;

static RtConvDescs rt_conv_descs(const RtConv2d *g)
{
    RtConvDescs d;
    dnnl_dims_t x = {g->n, g->c, g->h, g->w}, y = {g->n, g->o, g->oh, g->ow};
    d.x = rt_nn_desc(4, x, g->blocked & RT_CONV_X_BLOCKED ? dnnl_nChw16c : dnnl_nchw);
    d.y = rt_nn_desc(4, y, g->blocked & RT_CONV_Y_BLOCKED ? dnnl_nChw16c : dnnl_nchw);
    d.x_any = rt_nn_desc(4, x, dnnl_format_tag_any);
    d.y_any = rt_nn_desc(4, y, dnnl_format_tag_any);
    if (g->groups == 1) {
        dnnl_dims_t w = {g->o, g->c, g->kh, g->kw};
        d.w = rt_nn_desc(4, w, dnnl_oihw);
        d.w_any = rt_nn_desc(4, w, dnnl_format_tag_any);
    } else {
        /* [o, c/g, kh, kw] is [g, o/g, c/g, kh, kw] in memory */
        dnnl_dims_t w = {g->groups, g->o / g->groups, g->c / g->groups, g->kh, g->kw};
        d.w = rt_nn_desc(5, w, dnnl_goihw);
        d.w_any = rt_nn_desc(5, w, dnnl_format_tag_any);
    }
    d.strides[0] = d.strides[1] = g->stride;
    d.dilates[0] = d.dilates[1] = g->dilation - 1; /* oneDNN counts the gaps: 0 is dense */
    d.padding[0] = d.padding[1] = g->padding;
    return d;
}

static dnnl_primitive_desc_t rt_conv_forward_pd(RtNnEntry *e, const RtConvDescs *d)
{
    dnnl_convolution_desc_t desc;
    rt_nn_check(dnnl_dilated_convolution_forward_desc_init(
                    &desc, dnnl_forward_training, dnnl_convolution_direct, &d->x_any,
                    &d->w_any, NULL, &d->y_any, d->strides, d->dilates, d->padding, d->padding),
                e->kind, "descriptor");
    return rt_nn_pd(e, &desc, NULL);
}

/* Slots: forward (x, w, y); backward data (dy, w, dx); backward weights (x, dy, dw). */
static void rt_conv_build(RtNnEntry *e, const RtConv2d *g)
{
    RtConvDescs d = rt_conv_descs(g);
    dnnl_primitive_desc_t forward = rt_conv_forward_pd(e, &d), pd = forward;
    RtNnStep *s = &e->step;
    dnnl_convolution_desc_t desc;
    switch (e->kind) {
    case RT_NN_CONV:
        rt_nn_add_arg(e, s, pd, dnnl_query_src_md, DNNL_ARG_SRC, 0, 0, &d.x);
        rt_nn_add_arg(e, s, pd, dnnl_query_weights_md, DNNL_ARG_WEIGHTS, 1, 0, &d.w);
        rt_nn_add_arg(e, s, pd, dnnl_query_dst_md, DNNL_ARG_DST, 2, 1, &d.y);
        break;
    case RT_NN_CONV_BACKWARD_DATA:
        rt_nn_check(dnnl_dilated_convolution_backward_data_desc_init(
                        &desc, dnnl_convolution_direct, &d.x_any, &d.w_any, &d.y_any, d.strides,
                        d.dilates, d.padding, d.padding),
                    e->kind, "descriptor");
        pd = rt_nn_pd(e, &desc, forward);
        rt_nn_add_arg(e, s, pd, dnnl_query_diff_dst_md, DNNL_ARG_DIFF_DST, 0, 0, &d.y);
        rt_nn_add_arg(e, s, pd, dnnl_query_weights_md, DNNL_ARG_WEIGHTS, 1, 0, &d.w);
        rt_nn_add_arg(e, s, pd, dnnl_query_diff_src_md, DNNL_ARG_DIFF_SRC, 2, 1, &d.x);
        break;
    case RT_NN_CONV_BACKWARD_WEIGHTS:
        rt_nn_check(dnnl_dilated_convolution_backward_weights_desc_init(
                        &desc, dnnl_convolution_direct, &d.x_any, &d.w_any, NULL, &d.y_any,
                        d.strides, d.dilates, d.padding, d.padding),
                    e->kind, "descriptor");
        pd = rt_nn_pd(e, &desc, forward);
        rt_nn_add_arg(e, s, pd, dnnl_query_src_md, DNNL_ARG_SRC, 0, 0, &d.x);
        rt_nn_add_arg(e, s, pd, dnnl_query_diff_dst_md, DNNL_ARG_DIFF_DST, 1, 0, &d.y);
        rt_nn_add_arg(e, s, pd, dnnl_query_diff_weights_md, DNNL_ARG_DIFF_WEIGHTS, 2, 1, &d.w);
        break;
    default: rt_fatal("rt_conv_build: not a convolution (%d)", (int)e->kind);
    }
    rt_nn_set_primitive(e, s, pd);
    if (pd != forward)
        dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_desc_destroy(forward);
}

/* ---- the cache and execution ------------------------------------------------------------------ */

/* The entry for (kind, geometry, part), built on first use. `geometry` is nkey int64s. */
static RtNnEntry *rt_nn_entry(RtNnKind kind, const int64_t *geometry, int nkey, int part)
{
    int64_t key[RT_NN_KEY] = {0};
    memcpy(key, geometry, sizeof(int64_t) * (size_t)nkey);
    for (RtNnEntry *e = rt_nn_cache; e; e = e->next)
        if (e->kind == kind && e->part == part && memcmp(e->key, key, sizeof key) == 0)
            return e;
    rt_nn_start();
    RtNnEntry *e = rt_alloc_zeroed(1, sizeof *e);
    e->kind = kind;
    e->part = part;
    memcpy(e->key, key, sizeof key);
    rt_nn_check(dnnl_stream_create(&e->stream, rt_nn_engine, dnnl_stream_default_flags), kind,
                "stream creation");
    rt_conv_build(e, (const RtConv2d *)geometry);
    e->next = rt_nn_cache;
    rt_nn_cache = e;
    return e;
}

static void rt_nn_reorder(RtNnEntry *e, const RtNnArg *a)
{
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, a->output ? a->inner : a->user},
                               {DNNL_ARG_TO, a->output ? a->user : a->inner}};
    rt_nn_check(dnnl_primitive_execute(a->reorder, e->stream, 2, args), e->kind, "reorder");
}

/* Runs the entry's primitive on the caller's buffers (data[slot]). */
static void rt_nn_run(RtNnEntry *e, void *const *data)
{
    RtNnStep *s = &e->step;
    dnnl_exec_arg_t args[RT_NN_MAX_ARGS];
    for (int i = 0; i < s->nargs; i++) {
        RtNnArg *a = &s->args[i];
        if (a->slot >= 0)
            rt_nn_check(dnnl_memory_set_data_handle(a->user, data[a->slot]), e->kind,
                        "setting a buffer");
        if (a->reorder && !a->output)
            rt_nn_reorder(e, a);
        args[i] = (dnnl_exec_arg_t){a->arg, a->inner};
    }
    rt_nn_check(dnnl_primitive_execute(s->primitive, e->stream, s->nargs, args), e->kind,
                "execution");
    for (int i = 0; i < s->nargs; i++)
        if (s->args[i].reorder && s->args[i].output)
            rt_nn_reorder(e, &s->args[i]);
    rt_nn_check(dnnl_stream_wait(e->stream), e->kind, "execution");
}

/* ---- the weight gradient, in two fixed halves of the batch ------------------------------ */

/* The weight gradient sums over the batch and the image, and oneDNN splits that sum among
 * its threads (choosing how when the primitive is made): with more threads the additions
 * would group differently. So the batch is cut in two fixed halves, whatever --threads
 * says; each half's gradient is made and run by oneDNN on one thread (the halves in
 * parallel when there are threads), and the two are added in order. The other two
 * convolution passes split only their outputs and need none of this. */
enum { RT_CONV_PARTS = 2 };

typedef struct RtConvWeightsJob {
    RtNnEntry *entry[RT_CONV_PARTS];
    const float *x[RT_CONV_PARTS], *dy[RT_CONV_PARTS];
    float *dw[RT_CONV_PARTS];
} RtConvWeightsJob;

static void rt_conv_weights_parts(void *context, int64_t begin, int64_t end)
{
    RtConvWeightsJob *job = context;
    for (int64_t k = begin; k < end; k++) {
        void *data[3] = {(void *)job->x[k], (void *)job->dy[k], job->dw[k]};
        rt_nn_run(job->entry[k], data);
    }
}

static void rt_conv_weights(const RtConv2d *g, const float *x, const float *dy, float *dw)
{
    int64_t count = g->o * (g->c / g->groups) * g->kh * g->kw;
    int parts = g->n >= RT_CONV_PARTS ? RT_CONV_PARTS : 1;
    RtConvWeightsJob job = {0};
    int32_t threads = rt_dnnl_threads();
    if (threads > 1)
        rt_dnnl_set_threads(1); /* the primitives are made for one thread */
    for (int k = 0, first = 0; k < parts; k++) {
        RtConv2d half = *g;
        half.n = g->n * (k + 1) / parts - first;
        job.entry[k] = rt_nn_entry(RT_NN_CONV_BACKWARD_WEIGHTS, (const int64_t *)&half,
                                   sizeof half / sizeof(int64_t), k);
        if (k > 0 && !job.entry[k]->partial)
            job.entry[k]->partial = rt_alloc_zeroed((size_t)count, sizeof(float));
        job.x[k] = x + first * g->c * g->h * g->w;
        job.dy[k] = dy + first * g->o * g->oh * g->ow;
        job.dw[k] = k ? job.entry[k]->partial : dw;
        first += (int)half.n;
    }
    rt_parallel_for(parts, rt_conv_weights_parts, &job);
    if (threads > 1)
        rt_dnnl_set_threads(threads);
    for (int k = 1; k < parts; k++)
        for (int64_t i = 0; i < count; i++)
            dw[i] += job.dw[k][i];
}

static void rt_conv_call(RtNnKind kind, const RtConv2d *g, const float *a, const float *b,
                         float *out)
{
    if (g->n * g->o * g->oh * g->ow == 0 || g->c == 0 || g->n == 0) {
        /* oneDNN rejects empty tensors; an empty sum is 0 */
        int64_t count = kind == RT_NN_CONV ? g->n * g->o * g->oh * g->ow
                        : kind == RT_NN_CONV_BACKWARD_DATA ? g->n * g->c * g->h * g->w
                                                           : g->o * (g->c / g->groups) * g->kh * g->kw;
        memset(out, 0, sizeof(float) * (size_t)count);
        return;
    }
    /* the direct kernels read and write NCHW only */
    if (kind != RT_NN_CONV_BACKWARD_DATA && !g->blocked && rt_conv_direct_fits(g)) {
        (kind == RT_NN_CONV ? rt_conv_direct_forward : rt_conv_direct_weights)(g, a, b, out);
        return;
    }
    if (kind == RT_NN_CONV_BACKWARD_WEIGHTS && !g->blocked && rt_conv_across_fits(g)) {
        rt_conv_across_weights(g, a, b, out);
        return;
    }
    if (kind == RT_NN_CONV_BACKWARD_WEIGHTS) {
        rt_conv_weights(g, a, b, out);
        return;
    }
    void *data[3] = {(void *)a, (void *)b, out};
    rt_nn_run(rt_nn_entry(kind, (const int64_t *)g, sizeof *g / sizeof(int64_t), 0), data);
}

/* The first-layer kernels (rt_conv_direct_fits) beat oneDNN only with its copies into and
 * out of the blocked layout, which blocked activations avoid (a ResNet-20 step was as fast
 * or faster without them); the small weight gradient is faster either way. */
int32_t rt_conv2d_weights_prefer_nchw(const RtConv2d *g)
{
    return rt_conv_across_fits(g);
}

void rt_conv2d_f32(const RtConv2d *g, const float *x, const float *w, float *y)
{
    rt_conv_call(RT_NN_CONV, g, x, w, y);
}

void rt_conv2d_backward_data_f32(const RtConv2d *g, const float *dy, const float *w, float *dx)
{
    rt_conv_call(RT_NN_CONV_BACKWARD_DATA, g, dy, w, dx);
}

void rt_conv2d_backward_weights_f32(const RtConv2d *g, const float *x, const float *dy,
                                    float *dw)
{
    rt_conv_call(RT_NN_CONV_BACKWARD_WEIGHTS, g, x, dy, dw);
}
