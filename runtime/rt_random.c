/* rt_random.c — counter-based random numbers: Philox-4x32-10 (Salmon, Moraes, Dror and
 * Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011).
 *
 * The generator is a pure function of (key, counter): there is no hidden state, so any
 * element can be computed by any thread, and a checkpoint stores just (seed, counter).
 *
 * Word numbering. For a 64-bit seed and a 64-bit stream number, the generator yields an
 * endless sequence of 32-bit words; word w is lane (w % 4) of
 *     philox4x32_10(counter = {lo(w / 4), hi(w / 4), lo(stream), hi(stream)},
 *                   key     = {lo(seed), hi(seed)})
 * The rt_random_* fills use stream 0; the data pipeline uses other streams
 * (rt_internal.h), so shuffling never replays the words an initializer or dropout used. */
#include "rt_internal.h"

#include <math.h>

/* The Philox-4x32 constants: two multipliers and the Weyl key increments (the golden
 * ratio and sqrt(3) - 1, as 32-bit fractions). */
#define RT_PHILOX_M0 0xD2511F53u
#define RT_PHILOX_M1 0xCD9E8D57u
#define RT_PHILOX_W0 0x9E3779B9u
#define RT_PHILOX_W1 0xBB67AE85u

void rt_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t x0 = counter[0], x1 = counter[1], x2 = counter[2], x3 = counter[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += RT_PHILOX_W0;
            k1 += RT_PHILOX_W1;
        }
        uint64_t product0 = (uint64_t)RT_PHILOX_M0 * x0;
        uint64_t product1 = (uint64_t)RT_PHILOX_M1 * x2;
        uint32_t hi0 = (uint32_t)(product0 >> 32), lo0 = (uint32_t)product0;
        uint32_t hi1 = (uint32_t)(product1 >> 32), lo1 = (uint32_t)product1;
        x0 = hi1 ^ x1 ^ k0;
        x1 = lo1;
        x2 = hi0 ^ x3 ^ k1;
        x3 = lo0;
    }
    out[0] = x0;
    out[1] = x1;
    out[2] = x2;
    out[3] = x3;
}

/* The block of four words that holds word `block * 4` of (seed, stream). */
static void rt_random_block(uint64_t seed, uint64_t stream, uint64_t block, uint32_t out[4])
{
    const uint32_t counter[4] = {(uint32_t)block, (uint32_t)(block >> 32), (uint32_t)stream,
                                 (uint32_t)(stream >> 32)};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    rt_philox4x32_10(counter, key, out);
}

uint32_t rt_random_word(uint64_t seed, uint64_t stream, uint64_t index)
{
    uint32_t block[4];
    rt_random_block(seed, stream, index / 4, block);
    return block[index % 4];
}

/* ---- filling buffers ---------------------------------------------------------------------- */

/* What one call fills: out[i] is a function of words counter + i (uniform, bernoulli) or
 * of the pair at counter + (i & ~1) (normal), never of the thread that computes it. */
typedef enum RtDistribution { RT_UNIFORM, RT_NORMAL, RT_BERNOULLI } RtDistribution;

typedef struct RtFill {
    RtDistribution distribution;
    float *out;
    float a, b; /* uniform: [a, b); normal: mean a, deviation b; bernoulli: p = a */
    uint64_t seed;
    uint64_t counter;
} RtFill;

/* A word's top 24 bits as a float in [0, 1): every value is exact in f32. */
static float rt_unit_open(uint32_t word)
{
    return (float)(word >> 8) * (1.0f / 16777216.0f);
}

/* Word `index` of stream 0, through a one-block cache: consecutive words share blocks. */
static uint32_t rt_fill_word(const RtFill *fill, uint64_t index, uint32_t block[4],
                             uint64_t *loaded)
{
    if (index / 4 != *loaded) {
        *loaded = index / 4;
        rt_random_block(fill->seed, 0, *loaded, block);
    }
    return block[index % 4];
}

/* Elements [begin, end) of the fill. */
static void rt_fill_range(void *context, int64_t begin, int64_t end)
{
    const RtFill *fill = context;
    uint32_t block[4];
    uint64_t loaded = UINT64_MAX; /* index of the block now in `block` */
    for (int64_t i = begin; i < end; i++) {
        if (fill->distribution == RT_NORMAL) {
            /* Box–Muller on the pair (u1, u2) of words counter + 2k, counter + 2k + 1,
             * k = i / 2: radius sqrt(-2 ln u1) with u1 in (0, 1], so the log is finite;
             * angle 2 pi u2; even i take the cosine, odd i the sine. */
            uint64_t first = fill->counter + (uint64_t)(i & ~(int64_t)1);
            uint32_t w1 = rt_fill_word(fill, first, block, &loaded);
            uint32_t w2 = rt_fill_word(fill, first + 1, block, &loaded);
            double u1 = ((double)(w1 >> 8) + 1.0) / 16777216.0;
            double u2 = (double)(w2 >> 8) / 16777216.0;
            double radius = sqrt(-2.0 * log(u1));
            double angle = 6.283185307179586476925 * u2; /* 2 pi */
            double z = (i & 1) ? radius * sin(angle) : radius * cos(angle);
            fill->out[i] = (float)(fill->a + fill->b * z);
            continue;
        }
        float u = rt_unit_open(rt_fill_word(fill, fill->counter + (uint64_t)i, block, &loaded));
        if (fill->distribution == RT_UNIFORM) {
            float x = fill->a + (fill->b - fill->a) * u;
            /* Rounding can reach `high` itself; keep the interval half-open. */
            fill->out[i] = x < fill->b || fill->a == fill->b ? x : nextafterf(fill->b, fill->a);
        } else
            fill->out[i] = u < fill->a ? 1.0f : 0.0f;
    }
}

/* Below this many elements a fill runs on the calling thread. */
enum { RT_RANDOM_PARALLEL_MIN = 1 << 16 };

static uint64_t rt_run_seed_value;

void rt_random_set_run_seed(uint64_t run_seed)
{
    rt_run_seed_value = run_seed;
}

uint64_t rt_run_seed(void)
{
    return rt_run_seed_value;
}

/* The key a fill draws with: seed itself at run seed 0, else seed mixed with the run seed
 * (the golden ratio's bits spread consecutive run seeds over the key space). */
static uint64_t rt_fill_seed(uint64_t seed)
{
    return seed ^ (rt_run_seed_value * 0x9E3779B97F4A7C15ull);
}

static void rt_fill(const RtFill *fill, int64_t n)
{
    if (n >= RT_RANDOM_PARALLEL_MIN)
        rt_parallel_for(n, rt_fill_range, (void *)fill);
    else
        rt_fill_range((void *)fill, 0, n);
}

uint64_t rt_random_uniform(float *out, int64_t n, float low, float high, uint64_t seed,
                           uint64_t counter)
{
    if (n < 0)
        rt_fatal("random uniform: negative count %lld", (long long)n);
    if (!(low <= high) || !isfinite(low) || !isfinite(high))
        rt_fatal("random uniform: bad range [%g, %g)", (double)low, (double)high);
    RtFill fill = {RT_UNIFORM, out, low, high, rt_fill_seed(seed), counter};
    rt_fill(&fill, n);
    return counter + (uint64_t)n;
}

uint64_t rt_random_normal(float *out, int64_t n, float mean, float stddev, uint64_t seed,
                          uint64_t counter)
{
    if (n < 0)
        rt_fatal("random normal: negative count %lld", (long long)n);
    if (!(stddev >= 0) || !isfinite(stddev) || !isfinite(mean))
        rt_fatal("random normal: bad mean %g or standard deviation %g", (double)mean,
                 (double)stddev);
    RtFill fill = {RT_NORMAL, out, mean, stddev, rt_fill_seed(seed), counter};
    rt_fill(&fill, n);
    return counter + (uint64_t)(n + (n & 1));
}

uint64_t rt_random_bernoulli(float *out, int64_t n, float p, uint64_t seed, uint64_t counter)
{
    if (n < 0)
        rt_fatal("random bernoulli: negative count %lld", (long long)n);
    if (!(p >= 0 && p <= 1))
        rt_fatal("random bernoulli: probability %g is not in [0, 1]", (double)p);
    RtFill fill = {RT_BERNOULLI, out, p, 0, rt_fill_seed(seed), counter};
    rt_fill(&fill, n);
    return counter + (uint64_t)n;
}

/* ---- permutations ------------------------------------------------------------------------- */

/* Fisher–Yates from the last position down: position i swaps with j, uniform in [0, i],
 * taken as the high half of (64-bit word pair k) * (i + 1) (Lemire's multiply-shift; the
 * bias is below (i + 1) / 2^64). Word pair k = n - 1 - i is words 2k and 2k + 1. */
void rt_random_permutation(int64_t *out, int64_t n, uint64_t seed, uint64_t stream)
{
    if (n < 0)
        rt_fatal("random permutation: negative count %lld", (long long)n);
    for (int64_t i = 0; i < n; i++)
        out[i] = i;
    uint32_t block[4];
    for (int64_t i = n - 1; i > 0; i--) {
        uint64_t k = (uint64_t)(n - 1 - i);
        /* Pair k is words 2k, 2k+1: always the same half of one block. */
        if (k % 2 == 0)
            rt_random_block(seed, stream, k / 2, block);
        uint64_t bits = (uint64_t)block[2 * (k % 2)] << 32 | block[2 * (k % 2) + 1];
        int64_t j = (int64_t)(((unsigned __int128)bits * (uint64_t)(i + 1)) >> 64);
        int64_t swap = out[i];
        out[i] = out[j];
        out[j] = swap;
    }
}
