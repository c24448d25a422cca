/* rt_pool.c — a small persistent thread pool behind rt_parallel_for.
 *
 * Partitioning is fixed by (n, T) alone: chunk k of T covers [n*k/T, n*(k+1)/T), chunk 0
 * runs on the calling thread and chunk k on worker k. Code whose chunks write disjoint
 * outputs therefore gets the same bytes whatever T is; code that reduces per chunk must
 * combine in chunk order to keep that property.
 *
 * Workers start on the first parallel call with T > 1 and sleep on a condition variable
 * between calls. A call made from inside a chunk runs inline (no nested parallelism).
 * When OpenMP's runtime is in the process, chunks run on its team instead (below). */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "rt_internal.h"

#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

typedef struct RtPool {
    pthread_mutex_t caller_lock; /* one rt_parallel_for at a time from outside the pool */
    pthread_mutex_t lock;        /* guards everything below */
    pthread_cond_t start;        /* generation advanced, or stopping */
    pthread_cond_t done;         /* pending reached 0 */
    int32_t requested;           /* rt_pool_set_threads' value; 0 means one per CPU */
    pthread_t *workers;          /* worker_count threads; worker w runs chunk w + 1 */
    int32_t worker_count;
    int stopping;
    uint64_t generation; /* number of jobs handed out so far */
    uint64_t spawn_generation; /* generation when the current workers were started: a
                                  worker that first runs late still sees the next job */
    RtRangeFn fn;        /* the current job */
    void *context;
    int64_t n;
    int32_t chunks;  /* chunks of the current job, <= worker_count + 1 */
    int32_t pending; /* worker chunks of the current job not finished yet */
} RtPool;

static RtPool rt_pool = {
    .caller_lock = PTHREAD_MUTEX_INITIALIZER,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .start = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
};

/* Set on pool workers, and on the caller while it runs chunk 0. */
static _Thread_local int rt_inside_parallel;

static int32_t rt_cpu_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int32_t)online : 1;
}

int32_t rt_pool_threads(void)
{
    pthread_mutex_lock(&rt_pool.lock);
    int32_t requested = rt_pool.requested;
    pthread_mutex_unlock(&rt_pool.lock);
    return requested > 0 ? requested : rt_cpu_count();
}

/* First index of chunk k when [0, n) is cut into `chunks` near-equal contiguous pieces. */
static int64_t rt_chunk_begin(int64_t n, int32_t chunks, int32_t k)
{
    return (int64_t)((__int128)n * k / chunks);
}

static void *rt_worker_main(void *argument)
{
    int32_t chunk = (int32_t)(intptr_t)argument; /* this worker's chunk index, >= 1 */
    rt_inside_parallel = 1;
    pthread_mutex_lock(&rt_pool.lock);
    uint64_t seen = rt_pool.spawn_generation;
    for (;;) {
        while (rt_pool.generation == seen && !rt_pool.stopping)
            pthread_cond_wait(&rt_pool.start, &rt_pool.lock);
        if (rt_pool.stopping)
            break;
        seen = rt_pool.generation;
        if (chunk >= rt_pool.chunks)
            continue; /* a job with fewer chunks than threads */
        RtRangeFn fn = rt_pool.fn;
        void *context = rt_pool.context;
        int64_t begin = rt_chunk_begin(rt_pool.n, rt_pool.chunks, chunk);
        int64_t end = rt_chunk_begin(rt_pool.n, rt_pool.chunks, chunk + 1);
        pthread_mutex_unlock(&rt_pool.lock);
        fn(context, begin, end);
        pthread_mutex_lock(&rt_pool.lock);
        if (--rt_pool.pending == 0)
            pthread_cond_signal(&rt_pool.done);
    }
    pthread_mutex_unlock(&rt_pool.lock);
    return NULL;
}

/* Joins every worker. Called with caller_lock held (or from rt_pool_shutdown). */
static void rt_pool_stop_workers(void)
{
    pthread_mutex_lock(&rt_pool.lock);
    rt_pool.stopping = 1;
    pthread_cond_broadcast(&rt_pool.start);
    pthread_mutex_unlock(&rt_pool.lock);
    for (int32_t w = 0; w < rt_pool.worker_count; w++)
        pthread_join(rt_pool.workers[w], NULL);
    rt_free(rt_pool.workers);
    rt_pool.workers = NULL;
    rt_pool.worker_count = 0;
    rt_pool.stopping = 0;
}

/* Makes the pool hold exactly `threads - 1` workers. Called with caller_lock held. */
static void rt_pool_ensure_workers(int32_t threads)
{
    if (rt_pool.worker_count == threads - 1)
        return;
    if (rt_pool.worker_count > 0)
        rt_pool_stop_workers();
    rt_pool.workers = rt_alloc_zeroed((size_t)threads, sizeof(pthread_t));
    pthread_mutex_lock(&rt_pool.lock);
    rt_pool.spawn_generation = rt_pool.generation;
    pthread_mutex_unlock(&rt_pool.lock);
    for (int32_t w = 0; w < threads - 1; w++) {
        int error = pthread_create(&rt_pool.workers[w], NULL, rt_worker_main,
                                   (void *)(intptr_t)(w + 1));
        if (error != 0) {
            rt_pool.worker_count = w;
            rt_pool_stop_workers();
            rt_fatal("cannot start worker thread %d of %d: %s", w + 1, threads - 1,
                     strerror(error));
        }
        rt_pool.worker_count = w + 1;
    }
}

void rt_pool_set_threads(int32_t threads)
{
    if (threads < 0)
        rt_fatal("thread count %d is negative", threads);
    pthread_mutex_lock(&rt_pool.lock);
    rt_pool.requested = threads;
    pthread_mutex_unlock(&rt_pool.lock);
    rt_dnnl_set_threads(threads);
}

void rt_pool_shutdown(void)
{
    pthread_mutex_lock(&rt_pool.caller_lock);
    if (rt_pool.worker_count > 0)
        rt_pool_stop_workers();
    pthread_mutex_unlock(&rt_pool.caller_lock);
}

/* ---- OpenMP's team, when oneDNN brought one ---------------------------------------------- */

/* Debian's oneDNN runs on OpenMP (libgomp), whose idle workers spin for a while after each
 * of its calls, on the very cores the pool's workers would run on. When libgomp is in the
 * process, chunks run on its team instead (GOMP_parallel is what `#pragma omp parallel`
 * compiles to): no second set of threads competes for the cores, and a spinning worker
 * picks the chunk up at once. The chunks are the same (fixed by n and T), so the results
 * are too. The symbols are looked up, not linked, as in rt_matmul.c. */
typedef struct RtGompJob {
    RtRangeFn fn;
    void *context;
    int64_t n;
    int32_t chunks;
} RtGompJob;

static struct {
    int looked_up;
    void (*parallel)(void (*)(void *), void *, unsigned, unsigned);
    int (*thread_num)(void);
    int (*num_threads)(void);
} rt_gomp;

static void rt_gomp_body(void *argument)
{
    const RtGompJob *job = argument;
    int team = rt_gomp.num_threads();
    rt_inside_parallel = 1;
    for (int32_t k = rt_gomp.thread_num(); k < job->chunks; k += team)
        job->fn(job->context, rt_chunk_begin(job->n, job->chunks, k),
                rt_chunk_begin(job->n, job->chunks, k + 1));
    rt_inside_parallel = 0;
}

static int rt_gomp_available(void)
{
    if (!rt_gomp.looked_up) {
        rt_gomp.parallel = (void (*)(void (*)(void *), void *, unsigned, unsigned))dlsym(
            RTLD_DEFAULT, "GOMP_parallel");
        rt_gomp.thread_num = (int (*)(void))dlsym(RTLD_DEFAULT, "omp_get_thread_num");
        rt_gomp.num_threads = (int (*)(void))dlsym(RTLD_DEFAULT, "omp_get_num_threads");
        rt_gomp.looked_up = 1;
    }
    return rt_gomp.parallel && rt_gomp.thread_num && rt_gomp.num_threads;
}

void rt_parallel_for(int64_t n, RtRangeFn fn, void *context)
{
    if (n <= 0)
        return;
    if (rt_inside_parallel) {
        fn(context, 0, n);
        return;
    }
    int32_t threads = rt_pool_threads();
    int32_t chunks = n < threads ? (int32_t)n : threads;
    if (chunks <= 1) {
        fn(context, 0, n);
        return;
    }
    if (rt_gomp_available()) {
        RtGompJob job = {fn, context, n, chunks};
        rt_gomp.parallel(rt_gomp_body, &job, (unsigned)chunks, 0);
        return;
    }

    pthread_mutex_lock(&rt_pool.caller_lock);
    rt_pool_ensure_workers(threads);
    pthread_mutex_lock(&rt_pool.lock);
    rt_pool.fn = fn;
    rt_pool.context = context;
    rt_pool.n = n;
    rt_pool.chunks = chunks;
    rt_pool.pending = chunks - 1;
    rt_pool.generation++;
    pthread_cond_broadcast(&rt_pool.start);
    pthread_mutex_unlock(&rt_pool.lock);

    rt_inside_parallel = 1;
    fn(context, 0, rt_chunk_begin(n, chunks, 1));
    rt_inside_parallel = 0;

    pthread_mutex_lock(&rt_pool.lock);
    while (rt_pool.pending > 0)
        pthread_cond_wait(&rt_pool.done, &rt_pool.lock);
    pthread_mutex_unlock(&rt_pool.lock);
    pthread_mutex_unlock(&rt_pool.caller_lock);
}
