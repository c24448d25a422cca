/* rt_conv.c — convolution and pooling through oneDNN primitives, cached by geometry.
 *
 * Creating a oneDNN primitive (choosing an implementation, JIT-compiling its kernel) costs
 * far more than running it on small tensors, so each (operation, geometry) pair gets one
 * cache entry on first use, kept for the life of the process; later calls only point the
 * entry's memory objects at the caller's buffers and execute.
 *
 * Layouts. The caller's tensors are plain NCHW / OIHW. Convolutions are created with
 * "any" layouts so oneDNN can pick its fast blocked ones; where it does, the entry holds a
 * reorder (plain -> blocked for inputs, blocked -> plain for outputs) and an internal
 * buffer for the blocked copy. Pooling runs on the plain layouts directly.
 *
 * Max pooling backward needs the forward pass's workspace (where each window's maximum
 * was), which the IR does not carry: the entry runs a forward pass on x first, into an
 * internal y and workspace, then the backward pass. oneDNN keeps the first maximum of a
 * window on ties, as the IR defines (ir.h).
 *
 * Not thread-safe: one cache and one stream, used from the thread running the program. */
#include "rt_internal.h"

#include <stdbool.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

typedef enum RtNnKind {
    RT_NN_CONV, RT_NN_CONV_BACKWARD_DATA, RT_NN_CONV_BACKWARD_WEIGHTS,
    RT_NN_MAX_POOL, RT_NN_MAX_POOL_BACKWARD, RT_NN_AVG_POOL, RT_NN_AVG_POOL_BACKWARD,
} RtNnKind;

static const char *const rt_nn_names[] = {
    [RT_NN_CONV] = "conv2d",
    [RT_NN_CONV_BACKWARD_DATA] = "conv2d backward (data)",
    [RT_NN_CONV_BACKWARD_WEIGHTS] = "conv2d backward (weights)",
    [RT_NN_MAX_POOL] = "max_pool2d",
    [RT_NN_MAX_POOL_BACKWARD] = "max_pool2d backward",
    [RT_NN_AVG_POOL] = "avg_pool2d",
    [RT_NN_AVG_POOL_BACKWARD] = "avg_pool2d backward",
};

enum {
    RT_NN_KEY = sizeof(RtConv2d) / sizeof(int64_t), /* the larger geometry, in int64s */
    RT_NN_MAX_ARGS = 4,
    RT_NN_MAX_STEPS = 2,
};

/* One argument of a primitive. `slot` says which of the call's data pointers it is
 * (-1: memory owned by the entry, such as a workspace). */
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
    RtNnStep steps[RT_NN_MAX_STEPS];
    int nsteps;
} RtNnEntry;

static dnnl_engine_t rt_nn_engine;
static dnnl_stream_t rt_nn_stream;
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
    rt_nn_check(dnnl_engine_create(&rt_nn_engine, dnnl_cpu, 0), RT_NN_CONV, "engine creation");
    rt_nn_check(dnnl_stream_create(&rt_nn_stream, rt_nn_engine, dnnl_stream_default_flags),
                RT_NN_CONV, "stream creation");
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

/* Adds an argument backed by memory the entry owns (shared by several steps). */
static void rt_nn_add_owned(RtNnStep *step, int arg, dnnl_memory_t memory)
{
    step->args[step->nargs++] = (RtNnArg){.arg = arg, .slot = -1, .user = memory,
                                          .inner = memory};
}

static dnnl_primitive_desc_t rt_nn_pd(RtNnEntry *e, const void *desc,
                                      const_dnnl_primitive_desc_t hint)
{
    dnnl_primitive_desc_t pd;
    rt_nn_check(dnnl_primitive_desc_create(&pd, desc, NULL, rt_nn_engine, hint), e->kind,
                "primitive descriptor creation");
    return pd;
}

static void rt_nn_set_primitive(RtNnEntry *e, RtNnStep *step, const_dnnl_primitive_desc_t pd)
{
    rt_nn_check(dnnl_primitive_create(&step->primitive, pd), e->kind, "primitive creation");
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
    d.x = rt_nn_desc(4, x, dnnl_nchw);
    d.y = rt_nn_desc(4, y, dnnl_nchw);
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
    RtNnStep *s = &e->steps[e->nsteps++];
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

static dnnl_primitive_desc_t rt_pool_forward_pd(RtNnEntry *e, const RtPool2d *g,
                                                dnnl_alg_kind_t alg, dnnl_prop_kind_t prop)
{
    dnnl_dims_t x = {g->n, g->c, g->h, g->w}, y = {g->n, g->c, g->oh, g->ow};
    dnnl_dims_t strides = {g->stride, g->stride}, kernel = {g->size, g->size}, zero = {0, 0};
    dnnl_memory_desc_t xd = rt_nn_desc(4, x, dnnl_nchw), yd = rt_nn_desc(4, y, dnnl_nchw);
    dnnl_pooling_desc_t desc;
    rt_nn_check(dnnl_pooling_forward_desc_init(&desc, prop, alg, &xd, &yd, strides, kernel,
                                               zero, zero),
                e->kind, "descriptor");
    return rt_nn_pd(e, &desc, NULL);
}

/* Slots: forward (x, y); max backward (x, dy, dx); avg backward (dy, dx). */
static void rt_pool_build(RtNnEntry *e, const RtPool2d *g)
{
    bool max = e->kind == RT_NN_MAX_POOL || e->kind == RT_NN_MAX_POOL_BACKWARD;
    bool backward = e->kind == RT_NN_MAX_POOL_BACKWARD || e->kind == RT_NN_AVG_POOL_BACKWARD;
    dnnl_alg_kind_t alg = max ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding;
    dnnl_dims_t x = {g->n, g->c, g->h, g->w}, y = {g->n, g->c, g->oh, g->ow};
    dnnl_memory_desc_t xd = rt_nn_desc(4, x, dnnl_nchw), yd = rt_nn_desc(4, y, dnnl_nchw);
    dnnl_primitive_desc_t forward =
        rt_pool_forward_pd(e, g, alg, backward ? dnnl_forward_training : dnnl_forward_inference);
    if (!backward) {
        RtNnStep *s = &e->steps[e->nsteps++];
        rt_nn_add_arg(e, s, forward, dnnl_query_src_md, DNNL_ARG_SRC, 0, 0, &xd);
        rt_nn_add_arg(e, s, forward, dnnl_query_dst_md, DNNL_ARG_DST, 1, 1, &yd);
        rt_nn_set_primitive(e, s, forward);
        dnnl_primitive_desc_destroy(forward);
        return;
    }
    dnnl_dims_t strides = {g->stride, g->stride}, kernel = {g->size, g->size}, zero = {0, 0};
    dnnl_pooling_desc_t desc;
    rt_nn_check(dnnl_pooling_backward_desc_init(&desc, alg, &xd, &yd, strides, kernel, zero,
                                                zero),
                e->kind, "descriptor");
    dnnl_primitive_desc_t pd = rt_nn_pd(e, &desc, forward);
    int dy_slot = max ? 1 : 0;
    if (max) {
        /* a forward pass on x into owned y and workspace, which the backward pass reads */
        dnnl_memory_t y_owned, workspace;
        rt_nn_check(dnnl_memory_create(&y_owned, &yd, rt_nn_engine, DNNL_MEMORY_ALLOCATE),
                    e->kind, "memory creation");
        rt_nn_check(dnnl_memory_create(&workspace,
                                       dnnl_primitive_desc_query_md(forward,
                                                                    dnnl_query_workspace_md, 0),
                                       rt_nn_engine, DNNL_MEMORY_ALLOCATE),
                    e->kind, "memory creation");
        RtNnStep *f = &e->steps[e->nsteps++];
        rt_nn_add_arg(e, f, forward, dnnl_query_src_md, DNNL_ARG_SRC, 0, 0, &xd);
        rt_nn_add_owned(f, DNNL_ARG_DST, y_owned);
        rt_nn_add_owned(f, DNNL_ARG_WORKSPACE, workspace);
        rt_nn_set_primitive(e, f, forward);
        RtNnStep *b = &e->steps[e->nsteps++];
        rt_nn_add_owned(b, DNNL_ARG_WORKSPACE, workspace);
        rt_nn_add_arg(e, b, pd, dnnl_query_diff_dst_md, DNNL_ARG_DIFF_DST, dy_slot, 0, &yd);
        rt_nn_add_arg(e, b, pd, dnnl_query_diff_src_md, DNNL_ARG_DIFF_SRC, dy_slot + 1, 1, &xd);
        rt_nn_set_primitive(e, b, pd);
    } else {
        RtNnStep *b = &e->steps[e->nsteps++];
        rt_nn_add_arg(e, b, pd, dnnl_query_diff_dst_md, DNNL_ARG_DIFF_DST, dy_slot, 0, &yd);
        rt_nn_add_arg(e, b, pd, dnnl_query_diff_src_md, DNNL_ARG_DIFF_SRC, dy_slot + 1, 1, &xd);
        rt_nn_set_primitive(e, b, pd);
    }
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_desc_destroy(forward);
}

/* ---- the cache and execution ------------------------------------------------------------------ */

/* The entry for (kind, geometry), built on first use. `geometry` is nkey int64s. */
static RtNnEntry *rt_nn_entry(RtNnKind kind, const int64_t *geometry, int nkey)
{
    int64_t key[RT_NN_KEY] = {0};
    memcpy(key, geometry, sizeof(int64_t) * (size_t)nkey);
    for (RtNnEntry *e = rt_nn_cache; e; e = e->next)
        if (e->kind == kind && memcmp(e->key, key, sizeof key) == 0)
            return e;
    rt_nn_start();
    RtNnEntry *e = rt_alloc_zeroed(1, sizeof *e);
    e->kind = kind;
    memcpy(e->key, key, sizeof key);
    if (kind <= RT_NN_CONV_BACKWARD_WEIGHTS)
        rt_conv_build(e, (const RtConv2d *)geometry);
    else
        rt_pool_build(e, (const RtPool2d *)geometry);
    e->next = rt_nn_cache;
    rt_nn_cache = e;
    return e;
}

static void rt_nn_reorder(RtNnEntry *e, const RtNnArg *a)
{
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, a->output ? a->inner : a->user},
                               {DNNL_ARG_TO, a->output ? a->user : a->inner}};
    rt_nn_check(dnnl_primitive_execute(a->reorder, rt_nn_stream, 2, args), e->kind, "reorder");
}

/* Runs the entry's steps on the caller's buffers (data[slot]). */
static void rt_nn_run(RtNnEntry *e, void *const *data)
{
    for (int k = 0; k < e->nsteps; k++) {
        RtNnStep *s = &e->steps[k];
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
        rt_nn_check(dnnl_primitive_execute(s->primitive, rt_nn_stream, s->nargs, args), e->kind,
                    "execution");
        for (int i = 0; i < s->nargs; i++)
            if (s->args[i].reorder && s->args[i].output)
                rt_nn_reorder(e, &s->args[i]);
    }
    rt_nn_check(dnnl_stream_wait(rt_nn_stream), e->kind, "execution");
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
    void *data[3] = {(void *)a, (void *)b, out};
    rt_nn_run(rt_nn_entry(kind, (const int64_t *)g, sizeof *g / sizeof(int64_t)), data);
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

static void rt_pool_call(RtNnKind kind, const RtPool2d *g, void *const *data, float *out,
                         int64_t out_count)
{
    if (g->n * g->c == 0) {
        memset(out, 0, sizeof(float) * (size_t)out_count);
        return;
    }
    rt_nn_run(rt_nn_entry(kind, (const int64_t *)g, sizeof *g / sizeof(int64_t)), data);
}

void rt_max_pool2d_f32(const RtPool2d *g, const float *x, float *y)
{
    void *data[2] = {(void *)x, y};
    rt_pool_call(RT_NN_MAX_POOL, g, data, y, g->n * g->c * g->oh * g->ow);
}

void rt_max_pool2d_backward_f32(const RtPool2d *g, const float *x, const float *dy, float *dx)
{
    void *data[3] = {(void *)x, (void *)dy, dx};
    rt_pool_call(RT_NN_MAX_POOL_BACKWARD, g, data, dx, g->n * g->c * g->h * g->w);
}

void rt_avg_pool2d_f32(const RtPool2d *g, const float *x, float *y)
{
    void *data[2] = {(void *)x, y};
    rt_pool_call(RT_NN_AVG_POOL, g, data, y, g->n * g->c * g->oh * g->ow);
}

void rt_avg_pool2d_backward_f32(const RtPool2d *g, const float *dy, float *dx)
{
    void *data[2] = {(void *)dy, dx};
    rt_pool_call(RT_NN_AVG_POOL_BACKWARD, g, data, dx, g->n * g->c * g->h * g->w);
}
