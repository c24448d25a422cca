/* test_rt_random.c — the counter-based generator: Philox-4x32-10 against the published
 * Random123 known-answer vectors, the counter contract (fills chain, a prefix of a long
 * fill equals a short fill), independence from the thread count, the distributions'
 * moments, and permutations.
 * Prints one line per failure, then "N passed, M failed"; exits non-zero on any failure. */
#include "rt_test.h"

#include <math.h>

/* Random123's kat_vectors, "philox4x32 10" lines: counter[4], key[2] -> out[4]. */
static void test_known_answers(void)
{
    static const uint32_t vectors[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
         0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
         0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    for (int v = 0; v < 3; v++) {
        uint32_t out[4];
        rt_philox4x32_10(vectors[v], vectors[v] + 4, out);
        recordf(memcmp(out, vectors[v] + 6, sizeof out) == 0, "philox4x32-10 vector %d", v);
    }
    /* Word numbering: word w of (seed, stream) is lane w%4 of block w/4. */
    const uint32_t counter[4] = {5, 0, 7, 0}, key[2] = {0x9, 0x1};
    uint32_t block[4];
    rt_philox4x32_10(counter, key, block);
    uint64_t seed = 0x100000009ull, stream = 7;
    record(rt_random_word(seed, stream, 20) == block[0] &&
               rt_random_word(seed, stream, 23) == block[3],
           "word numbering follows (block, stream, seed)");
}

static void test_counter_contract(void)
{
    float whole[1001], part[1001];
    uint64_t end = rt_random_uniform(whole, 1001, -1, 1, 77, 12345);
    uint64_t middle = rt_random_uniform(part, 400, -1, 1, 77, 12345);
    uint64_t end2 = rt_random_uniform(part + 400, 601, -1, 1, 77, middle);
    record(end == 12345 + 1001 && end2 == end && memcmp(whole, part, sizeof whole) == 0,
           "uniform fills chain through the returned counter");

    end = rt_random_normal(whole, 1000, 0, 1, 77, 9);
    middle = rt_random_normal(part, 400, 0, 1, 77, 9);
    end2 = rt_random_normal(part + 400, 600, 0, 1, 77, middle);
    record(end == 1009 && end2 == end && memcmp(whole, part, 1000 * sizeof(float)) == 0,
           "normal fills of even length chain");
    record(rt_random_normal(part, 3, 0, 1, 77, 0) == 4, "an odd normal fill uses n + 1 words");

    float other[1001];
    rt_random_uniform(other, 1001, -1, 1, 78, 12345);
    record(memcmp(whole, other, sizeof other) != 0, "another seed gives other numbers");
}

static void test_thread_independence(void)
{
    enum { N = 300001 }; /* above the size that runs in parallel, and odd */
    float *one = malloc(N * sizeof(float)), *two = malloc(N * sizeof(float));
    float small[100];
    const char *names[3] = {"uniform", "normal", "bernoulli"};
    for (int kind = 0; kind < 3; kind++) {
        float *outs[2] = {one, two};
        for (int t = 0; t < 2; t++) {
            rt_pool_set_threads(t + 1);
            if (kind == 0)
                rt_random_uniform(outs[t], N, 0, 1, 3, 1000);
            else if (kind == 1)
                rt_random_normal(outs[t], N, 0, 1, 3, 1000);
            else
                rt_random_bernoulli(outs[t], N, 0.25f, 3, 1000);
        }
        if (kind == 0)
            rt_random_uniform(small, 100, 0, 1, 3, 1000);
        else if (kind == 1)
            rt_random_normal(small, 100, 0, 1, 3, 1000);
        else
            rt_random_bernoulli(small, 100, 0.25f, 3, 1000);
        recordf(memcmp(one, two, N * sizeof(float)) == 0, "%s: 1 and 2 threads agree", names[kind]);
        recordf(memcmp(one, small, sizeof small) == 0, "%s: a long fill starts with the short one",
                names[kind]);
    }
    rt_pool_set_threads(0);
    rt_pool_shutdown();
    free(one);
    free(two);
}

static void test_moments(void)
{
    enum { N = 1 << 20 };
    float *out = malloc(N * sizeof(float));
    rt_random_uniform(out, N, 0, 1, 11, 0);
    double sum = 0, square = 0;
    float low = 1, high = 0;
    for (int i = 0; i < N; i++) {
        sum += out[i];
        low = out[i] < low ? out[i] : low;
        high = out[i] > high ? out[i] : high;
    }
    double mean = sum / N;
    recordf(fabs(mean - 0.5) < 0.002 && low >= 0 && high < 1,
            "uniform: mean %.5f within 0.002 of 0.5, range [0, 1)", mean);

    rt_random_normal(out, N, 2, 3, 11, 0);
    sum = square = 0;
    int finite = 1;
    for (int i = 0; i < N; i++) {
        sum += out[i];
        square += (double)out[i] * out[i];
        finite &= isfinite(out[i]);
    }
    mean = sum / N;
    double deviation = sqrt(square / N - mean * mean);
    recordf(finite && fabs(mean - 2) < 0.02 && fabs(deviation - 3) < 0.02,
            "normal(2, 3): mean %.4f, deviation %.4f", mean, deviation);

    rt_random_bernoulli(out, N, 0.3f, 11, 0);
    sum = 0;
    int binary = 1;
    for (int i = 0; i < N; i++) {
        sum += out[i];
        binary &= out[i] == 0 || out[i] == 1;
    }
    recordf(binary && fabs(sum / N - 0.3) < 0.002, "bernoulli(0.3): fraction %.5f", sum / N);
    free(out);
}

static void test_permutation(void)
{
    enum { N = 1000 };
    int64_t a[N], b[N], c[N];
    rt_random_permutation(a, N, 5, 1);
    rt_random_permutation(b, N, 5, 1);
    rt_random_permutation(c, N, 5, 2);
    int seen[N] = {0}, fixed = 0;
    for (int i = 0; i < N; i++) {
        seen[a[i]]++;
        fixed += a[i] == i;
    }
    int once = 1;
    for (int i = 0; i < N; i++)
        once &= seen[i] == 1;
    record(once, "permutation holds each index once");
    record(memcmp(a, b, sizeof a) == 0 && memcmp(a, c, sizeof a) != 0,
           "permutation depends on (seed, stream) only");
    recordf(fixed < 10, "permutation moves almost everything (%d fixed points)", fixed);
}

static void call_bad_probability(void *context)
{
    (void)context;
    float out[1];
    rt_random_bernoulli(out, 1, 1.5f, 0, 0);
}

int main(void)
{
    test_known_answers();
    test_counter_contract();
    test_thread_independence();
    test_moments();
    test_permutation();
    expect_failure("bernoulli probability above 1", call_bad_probability, NULL, 1,
                   "probability 1.5 is not in [0, 1]");
    return finish();
}
