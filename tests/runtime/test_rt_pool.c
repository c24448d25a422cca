/* test_rt_pool.c — rt_parallel_for: every index handled exactly once, chunks contiguous
 * and fixed by (n, T), results identical for 1, 2, 3 and 7 threads, nested calls inline,
 * and the pool restarting after shutdown or a change of thread count.
 * Prints one line per failure, then "N passed, M failed"; exits non-zero on any failure. */
#include "rt_test.h"

#include <math.h>
#include <stdatomic.h>

typedef struct Job {
    int64_t n;
    atomic_int *visits;   /* visits[i]: times index i was handed out */
    double *out;          /* out[i] = f(i) */
    atomic_int calls;     /* chunks run */
    int64_t *chunk_begin; /* begin of each chunk, by order of its begin */
} Job;

static void job_range(void *context, int64_t begin, int64_t end)
{
    Job *job = context;
    atomic_fetch_add(&job->calls, 1);
    for (int64_t i = begin; i < end; i++) {
        atomic_fetch_add(&job->visits[i], 1);
        job->out[i] = sin((double)i) * 1e3 + (double)(i % 7);
    }
}

/* Runs the job for n with T threads; returns the number of chunks, out in *out. */
static int run_job(int64_t n, int32_t threads, double *out, int *each_once)
{
    Job job = {.n = n, .out = out};
    job.visits = calloc((size_t)n + 1, sizeof(atomic_int));
    rt_pool_set_threads(threads);
    rt_parallel_for(n, job_range, &job);
    *each_once = 1;
    for (int64_t i = 0; i < n; i++)
        *each_once &= atomic_load(&job.visits[i]) == 1;
    free(job.visits);
    return atomic_load(&job.calls);
}

static void test_determinism(void)
{
    const int64_t sizes[] = {0, 1, 2, 5, 1000, 100003};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int64_t n = sizes[s];
        double *reference = calloc((size_t)n + 1, sizeof(double));
        int once;
        run_job(n, 1, reference, &once);
        const int32_t thread_counts[] = {2, 3, 7};
        for (int t = 0; t < 3; t++) {
            double *out = calloc((size_t)n + 1, sizeof(double));
            int chunks = run_job(n, thread_counts[t], out, &once);
            int64_t expected_chunks = n < thread_counts[t] ? n : thread_counts[t];
            recordf(once && chunks == expected_chunks &&
                        memcmp(out, reference, (size_t)n * sizeof(double)) == 0,
                    "n=%lld threads=%d: each index once, %lld chunks, same result as 1 thread",
                    (long long)n, thread_counts[t], (long long)expected_chunks);
            free(out);
        }
        free(reference);
    }
}

/* Chunk k of T is [n*k/T, n*(k+1)/T): record each call's range and compare. */
typedef struct Ranges {
    int64_t begins[16], ends[16];
    atomic_int count;
} Ranges;

static void record_range(void *context, int64_t begin, int64_t end)
{
    Ranges *ranges = context;
    int k = atomic_fetch_add(&ranges->count, 1);
    ranges->begins[k] = begin;
    ranges->ends[k] = end;
}

static void test_partition(void)
{
    Ranges ranges = {0};
    rt_pool_set_threads(3);
    rt_parallel_for(10, record_range, &ranges);
    int seen[3] = {0};
    const int64_t begins[3] = {0, 3, 6}, ends[3] = {3, 6, 10};
    for (int k = 0; k < atomic_load(&ranges.count); k++)
        for (int c = 0; c < 3; c++)
            if (ranges.begins[k] == begins[c] && ranges.ends[k] == ends[c])
                seen[c]++;
    record(atomic_load(&ranges.count) == 3 && seen[0] == 1 && seen[1] == 1 && seen[2] == 1,
           "10 indices over 3 threads: [0,3) [3,6) [6,10)");
}

/* A nested call runs inline on the thread of the outer chunk. */
static void inner_range(void *context, int64_t begin, int64_t end)
{
    atomic_int *count = context;
    atomic_fetch_add(count, (int)(end - begin) * 1000 + 1);
}

static void outer_range(void *context, int64_t begin, int64_t end)
{
    for (int64_t i = begin; i < end; i++)
        rt_parallel_for(10, inner_range, context);
}

static void test_nested_and_restart(void)
{
    atomic_int count = 0;
    rt_pool_set_threads(2);
    rt_parallel_for(4, outer_range, &count);
    record(atomic_load(&count) == 4 * (10 * 1000 + 1), "nested parallel_for runs inline");

    rt_pool_shutdown();
    double out[100];
    int once;
    run_job(100, 2, out, &once);
    record(once, "the pool restarts after shutdown");
    run_job(100, 4, out, &once);
    record(once && rt_pool_threads() == 4, "the pool follows a new thread count");
    rt_pool_set_threads(0);
    record(rt_pool_threads() >= 1, "0 threads means one per CPU");
    rt_pool_shutdown();
}

int main(void)
{
    test_determinism();
    test_partition();
    test_nested_and_restart();
    return finish();
}
