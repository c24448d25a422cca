/* rt_memory.c — how much memory a program may still use, and whether its plan fits.
 *
 * Linux grants more memory than it can back (overcommit, or a cgroup limit the allocation
 * itself does not see): a program that asks for too much is then killed without a message
 * when it first touches the memory. So a program compares what it will allocate with what
 * is available before it allocates (docs/memory.md, "Does it fit?"). */
#include "rt_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* A number of bytes with an optional K, M, G or T suffix (powers of 1024); -1 if s is not
 * one. */
static int64_t parse_bytes(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v >= 0))
        return -1;
    double unit = 1;
    switch (*end) {
    case 'K': unit = 1024.0; end++; break;
    case 'M': unit = 1024.0 * 1024; end++; break;
    case 'G': unit = 1024.0 * 1024 * 1024; end++; break;
    case 'T': unit = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end || v * unit >= 9.2e18)
        return -1;
    return (int64_t)(v * unit);
}

/* The first number in a file ("max" and a missing file: -1). */
static int64_t read_number(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long long v = -1;
    if (fscanf(f, "%lld", &v) != 1)
        v = -1;
    fclose(f);
    return v;
}

/* The value of `key` in a "key value" file (memory.stat); 0 if absent. */
static int64_t read_stat(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char name[128];
    long long v;
    int64_t found = 0;
    while (fscanf(f, "%127s %lld", name, &v) == 2)
        if (strcmp(name, key) == 0) {
            found = v;
            break;
        }
    fclose(f);
    return found;
}

/* MemAvailable of /proc/meminfo, in bytes; -1 if it cannot be read. */
static int64_t meminfo_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return -1;
    char line[256];
    int64_t kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %" SCNd64 " kB", &kib) == 1)
            break;
    fclose(f);
    return kib < 0 ? -1 : kib * 1024;
}

/* What the cgroup named in /proc/self/cgroup and each cgroup above it leave under their
 * limits (v2: memory.max - memory.current; v1: memory.limit_in_bytes -
 * memory.usage_in_bytes; each usage less the inactive page cache of memory.stat, as
 * `docker stats` counts), the least of them; -1 if none has a limit. */
static int64_t cgroup_available(void)
{
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f)
        return -1;
    int64_t least = -1;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        /* "0::/path" (v2) or "4:memory:/path" (v1) */
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c1 = *c2 = '\0';
        const char *controllers = c1 + 1, *path = c2 + 1;
        bool v2 = strcmp(line, "0") == 0 && !*controllers;
        bool v1 = !v2 && strstr(controllers, "memory") != NULL;
        if (!v1 && !v2)
            continue;
        const char *limit_file = v2 ? "memory.max" : "memory.limit_in_bytes";
        const char *usage_file = v2 ? "memory.current" : "memory.usage_in_bytes";
        char dir[4096 + 1024];
        /* the hierarchy's mount; a test puts a fake one elsewhere */
        const char *mount = getenv("NNC_CGROUP_ROOT");
        snprintf(dir, 1024, "%s%s", mount && *mount ? mount : "/sys/fs/cgroup",
                 v2 ? "" : "/memory");
        size_t root = strlen(dir);
        snprintf(dir + root, sizeof dir - root, "%s", strcmp(path, "/") == 0 ? "" : path);
        for (;;) {
            char file[sizeof dir + 32];
            snprintf(file, sizeof file, "%s/%s", dir, limit_file);
            int64_t limit = read_number(file);
            snprintf(file, sizeof file, "%s/%s", dir, usage_file);
            int64_t usage = read_number(file);
            /* the usage counts the page cache; its inactive part is reclaimed first */
            snprintf(file, sizeof file, "%s/memory.stat", dir);
            if (usage > 0)
                usage -= read_stat(file, v2 ? "inactive_file" : "total_inactive_file");
            /* v1 says "no limit" with a huge number */
            if (limit >= 0 && usage >= 0 && limit < ((int64_t)1 << 60)) {
                int64_t left = limit > usage ? limit - usage : 0;
                if (least < 0 || left < least)
                    least = left;
            }
            char *slash = strrchr(dir, '/');
            if (!slash || (size_t)(slash - dir) < root)
                break;
            *slash = '\0';
        }
    }
    fclose(f);
    return least;
}

int64_t rt_memory_available(void)
{
    const char *fake = getenv("NNC_MEMORY_AVAILABLE");
    if (fake && *fake) {
        int64_t v = parse_bytes(fake);
        if (v < 0)
            rt_fatal("NNC_MEMORY_AVAILABLE must be a number of bytes (with K, M, G or T), "
                     "not '%s'", fake);
        return v;
    }
    int64_t mem = meminfo_available(), cg = cgroup_available();
    if (mem < 0)
        return cg;
    return cg >= 0 && cg < mem ? cg : mem;
}

void rt_format_bytes(char *buf, size_t n, int64_t bytes)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) {
        snprintf(buf, n, "%" PRId64 " B", bytes);
        return;
    }
    double v = (double)bytes / 1024;
    size_t u = 0;
    while (v >= 1023.95 && u + 1 < sizeof units / sizeof units[0]) { /* never "1024.0 KiB" */
        v /= 1024;
        u++;
    }
    snprintf(buf, n, "%.1f %s", v, units[u]);
}

void rt_memory_reserve(size_t bytes)
{
    if (bytes < RT_MEMORY_CHECKED)
        return;
    int64_t available = rt_memory_available();
    if (available >= 0 && (double)bytes > (double)available) {
        char have[32];
        rt_format_bytes(have, sizeof have, available);
        fflush(stdout);
        fprintf(stderr, "nnc: out of memory (%zu bytes; %s available)\n", bytes, have);
        exit(3);
    }
}

void rt_memory_check(int64_t parameters, int64_t optimizer, int64_t other, int64_t activations,
                     int64_t data)
{
    int64_t available = rt_memory_available();
    double need = (double)parameters + (double)optimizer + (double)other + (double)activations +
                  (double)data;
    if (available < 0 || need <= (double)available)
        return;
    char s[6][32];
    rt_format_bytes(s[0], sizeof s[0], need >= 9e18 ? INT64_MAX : (int64_t)need);
    rt_format_bytes(s[1], sizeof s[1], parameters);
    rt_format_bytes(s[2], sizeof s[2], optimizer);
    rt_format_bytes(s[3], sizeof s[3], other);
    rt_format_bytes(s[4], sizeof s[4], activations);
    rt_format_bytes(s[5], sizeof s[5], data);
    char avail[32];
    rt_format_bytes(avail, sizeof avail, available);
    rt_fatal("out of memory: the program needs %s at once (parameters %s, optimizer state %s, "
             "other tensors %s, activations %s, data %s); %s available",
             s[0], s[1], s[2], s[3], s[4], s[5], avail);
}
