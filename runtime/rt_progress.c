/* rt_progress.c — training progress on stderr, and log(name = value, ...).
 *
 * On a terminal, one line is redrawn in place ("\r", the line, "\033[K" to clear what a
 * longer previous line left) at most every RT_REDRAW_SECONDS, and stays on screen when the
 * epoch ends:
 *     epoch 3/10 [=========>          ] 450/938 152.3 it/s ETA 0:03 loss 0.4123 acc 0.8712
 * Elsewhere (a file, a pipe, CI) nothing is drawn during the epoch and one plain line ends
 * it, so logs stay readable:
 *     epoch 3/10: 938 steps in 6.2s (152.3 it/s), loss 0.4123, acc 0.8712
 * The loss and metric shown are running means over the epoch's steps.
 *
 * log() prints "name = value, ..." to stdout and appends a CSV row to the --log file. */
#define _GNU_SOURCE /* POSIX: mkstemp, fsync, pread, open_memstream, getline */
#include "rt_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define RT_REDRAW_SECONDS 0.1

typedef struct RtProgress {
    FILE *stream;        /* NULL until configured: stderr */
    RtProgressMode mode; /* as configured; AUTO is resolved at rt_progress_begin */
    RtProgressMode active_mode;
    int running; /* between begin and end */
    int line_live; /* a terminal line is on screen and not ended by '\n' */
    int64_t epoch, epochs, steps, done;
    int64_t skipped; /* steps of the epoch a resumed run took before (rt_progress_skip) */
    int64_t loss_steps; /* steps that reported a loss; none (an eval loop) hides the loss */
    char metric_name[32];
    double loss_sum, metric_sum;
    double started, last_draw;
} RtProgress;

static RtProgress rt_progress;

typedef struct RtLog {
    char *path;
    FILE *file;    /* opened by rt_log_check_file or the first log() */
    int started;   /* the header is written or checked (rt_log_open) */
    char **columns;
    int32_t column_count;
} RtLog;

static RtLog rt_log;

static double rt_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

static FILE *rt_progress_stream(void)
{
    return rt_progress.stream ? rt_progress.stream : stderr;
}

void rt_progress_configure(FILE *stream, RtProgressMode mode)
{
    rt_progress.stream = stream;
    rt_progress.mode = mode;
}

/* Columns of the terminal behind the stream (80 when unknown). */
static int rt_terminal_width(FILE *stream)
{
    struct winsize size;
    if (ioctl(fileno(stream), TIOCGWINSZ, &size) == 0 && size.ws_col > 0)
        return size.ws_col;
    return 80;
}

static void rt_format_value(char *text, size_t capacity, double value)
{
    if (isnan(value))
        snprintf(text, capacity, "nan");
    else
        snprintf(text, capacity, "%.4f", value);
}

/* Seconds as "m:ss", or "h:mm:ss" from an hour on. */
static void rt_format_duration(char *text, size_t capacity, double seconds)
{
    if (!(seconds >= 0) || seconds > 1e8)
        seconds = 0;
    long total = (long)(seconds + 0.5);
    if (total >= 3600)
        snprintf(text, capacity, "%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
    else
        snprintf(text, capacity, "%ld:%02ld", total / 60, total % 60);
}

/* The loss and metric means, " loss 0.4123 acc 0.8712", with `separator` between fields. */
static void rt_format_means(char *text, size_t capacity, const char *separator)
{
    char loss[64] = "", metric[96] = "";
    if (rt_progress.loss_steps > 0) {
        char value[32];
        rt_format_value(value, sizeof value, rt_progress.loss_sum / (double)rt_progress.loss_steps);
        snprintf(loss, sizeof loss, "%sloss %s", separator, value);
    }
    if (rt_progress.metric_name[0] && rt_progress.loss_steps > 0) {
        char value[32];
        rt_format_value(value, sizeof value, rt_progress.metric_sum / (double)rt_progress.loss_steps);
        snprintf(metric, sizeof metric, "%s%s %s", separator, rt_progress.metric_name, value);
    }
    snprintf(text, capacity, "%s%s", loss, metric);
}

/* Redraws the terminal line; `final` shows the elapsed time instead of the ETA. */
static void rt_progress_draw(int final)
{
    FILE *out = rt_progress_stream();
    double elapsed = rt_now() - rt_progress.started;
    double rate = elapsed > 0 ? (double)rt_progress.done / elapsed : 0;
    char head[64], counts[64], speed[48], time_text[48], means[192];
    snprintf(head, sizeof head, "epoch %lld/%lld", (long long)rt_progress.epoch,
             (long long)rt_progress.epochs);
    if (rt_progress.steps > 0)
        snprintf(counts, sizeof counts, "%lld/%lld",
                 (long long)(rt_progress.skipped + rt_progress.done), (long long)rt_progress.steps);
    else
        snprintf(counts, sizeof counts, "%lld", (long long)rt_progress.done);
    snprintf(speed, sizeof speed, "%.1f it/s", rate);
    char duration[32];
    if (final || rt_progress.steps <= 0) {
        rt_format_duration(duration, sizeof duration, elapsed);
        snprintf(time_text, sizeof time_text, "%s", duration);
    } else if (rt_progress.done == 0 || rate <= 0) {
        snprintf(time_text, sizeof time_text, "ETA -:--");
    } else {
        rt_format_duration(duration, sizeof duration,
                           (double)(rt_progress.steps - rt_progress.skipped - rt_progress.done) /
                               rate);
        snprintf(time_text, sizeof time_text, "ETA %s", duration);
    }
    means[0] = '\0';
    if (rt_progress.done > 0)
        rt_format_means(means, sizeof means, " ");

    /* The bar takes what the terminal leaves, up to 30 cells; under 5 it is left out. The
     * room for the rest is reckoned at its widest usual length ("done/steps", a 5-digit
     * rate, an ETA of hours, the means with their 4 decimals) so the bar keeps its width
     * while the numbers change. */
    char steps_text[32];
    int steps_length = snprintf(steps_text, sizeof steps_text, "%lld",
                                (long long)rt_progress.steps);
    int means_length = 12 + (rt_progress.metric_name[0]
                                 ? 8 + (int)strlen(rt_progress.metric_name) : 0);
    if ((int)strlen(means) > means_length)
        means_length = (int)strlen(means);
    int fixed = (int)strlen(head) + 2 * steps_length + 1 + (int)strlen("99999.9 it/s") +
                (int)strlen("ETA 0:00:00") + means_length + 6;
    int bar = rt_terminal_width(out) - 1 - fixed;
    if (bar > 30)
        bar = 30;
    char bar_text[40] = "";
    if (rt_progress.steps > 0 && bar >= 5) {
        int64_t done = rt_progress.skipped + rt_progress.done;
        if (done > rt_progress.steps)
            done = rt_progress.steps;
        int filled = (int)(done * bar / rt_progress.steps);
        int k = 0;
        bar_text[k++] = ' ';
        bar_text[k++] = '[';
        for (int cell = 0; cell < bar; cell++)
            bar_text[k++] = cell < filled ? '=' : cell == filled ? '>' : ' ';
        bar_text[k++] = ']';
        bar_text[k] = '\0';
    }
    fprintf(out, "\r%s%s %s %s %s%s\033[K", head, bar_text, counts, speed, time_text, means);
    if (final)
        fputc('\n', out);
    fflush(out);
    rt_progress.line_live = !final;
    rt_progress.last_draw = rt_now();
}

void rt_progress_begin(int64_t epoch, int64_t epochs, int64_t steps, const char *metric_name)
{
    if (rt_progress.running)
        rt_progress_end();
    FILE *out = rt_progress_stream();
    RtProgressMode mode = rt_progress.mode;
    if (mode == RT_PROGRESS_AUTO) {
        const char *term = getenv("TERM");
        int terminal = isatty(fileno(out)) && !(term && strcmp(term, "dumb") == 0);
        mode = terminal ? RT_PROGRESS_TERMINAL : RT_PROGRESS_LINES;
    }
    rt_progress.active_mode = mode;
    rt_progress.running = 1;
    rt_progress.epoch = epoch;
    rt_progress.epochs = epochs;
    rt_progress.steps = steps > 0 ? steps : 0;
    rt_progress.done = 0;
    rt_progress.skipped = 0;
    rt_progress.loss_steps = 0;
    rt_progress.loss_sum = 0;
    rt_progress.metric_sum = 0;
    snprintf(rt_progress.metric_name, sizeof rt_progress.metric_name, "%s",
             metric_name ? metric_name : "");
    rt_progress.started = rt_now();
    rt_progress.last_draw = 0;
    if (mode == RT_PROGRESS_TERMINAL)
        rt_progress_draw(0);
}

void rt_progress_skip(int64_t steps)
{
    if (!rt_progress.running)
        return;
    rt_progress.skipped = steps;
    if (rt_progress.active_mode == RT_PROGRESS_TERMINAL)
        rt_progress_draw(0);
}

void rt_progress_note(const char *fmt, ...)
{
    FILE *out = rt_progress_stream();
    if (rt_progress.line_live) {
        fputc('\n', out);
        rt_progress.line_live = 0;
    }
    va_list args;
    va_start(args, fmt);
    vfprintf(out, fmt, args);
    va_end(args);
    fputc('\n', out);
    fflush(out);
}

void rt_progress_step(double loss, double metric)
{
    if (!rt_progress.running)
        return;
    if (!isfinite(loss)) {
        /* Training cannot recover from a non-finite loss: every parameter it touches is
         * now NaN. Stop at once, naming the step; checkpoints are written atomically and
         * this step saved none, so the last one written is the last good state. */
        if (rt_progress.line_live)
            fputc('\n', rt_progress_stream());
        rt_progress.running = 0;
        rt_fatal("the loss is %s at epoch %" PRId64 ", batch %" PRId64
                 "; training stopped (checkpoints already written are kept)",
                 isnan(loss) ? "nan" : loss > 0 ? "inf" : "-inf", rt_progress.epoch,
                 rt_progress.skipped + rt_progress.done + 1);
    }
    rt_progress.loss_steps++;
    rt_progress.loss_sum += loss;
    if (rt_progress.metric_name[0])
        rt_progress.metric_sum += metric;
    rt_progress_tick();
}

void rt_progress_tick(void)
{
    if (!rt_progress.running)
        return;
    rt_progress.done++;
    if (rt_progress.active_mode != RT_PROGRESS_TERMINAL)
        return;
    double now = rt_now();
    if (!rt_progress.line_live || now - rt_progress.last_draw >= RT_REDRAW_SECONDS)
        rt_progress_draw(0);
}

void rt_progress_end(void)
{
    if (!rt_progress.running)
        return;
    rt_progress.running = 0;
    if (rt_progress.active_mode == RT_PROGRESS_TERMINAL) {
        rt_progress_draw(1);
        return;
    }
    if (rt_progress.active_mode != RT_PROGRESS_LINES)
        return;
    double elapsed = rt_now() - rt_progress.started;
    double rate = elapsed > 0 ? (double)rt_progress.done / elapsed : 0;
    char means[192];
    rt_format_means(means, sizeof means, ", ");
    FILE *out = rt_progress_stream();
    fprintf(out, "epoch %lld/%lld: %lld steps in %.1fs (%.1f it/s)%s\n",
            (long long)rt_progress.epoch, (long long)rt_progress.epochs,
            (long long)rt_progress.done, elapsed, rate, means);
    fflush(out);
}

/* ---- log() ------------------------------------------------------------------------------------ */

void rt_log_close(void)
{
    if (rt_log.file != NULL && fclose(rt_log.file) != 0)
        rt_fatal("cannot write log %s: %s", rt_log.path, strerror(errno));
    for (int32_t i = 0; i < rt_log.column_count; i++)
        rt_free(rt_log.columns[i]);
    rt_free(rt_log.columns);
    rt_free(rt_log.path);
    rt_log = (RtLog){0};
}

void rt_log_set_file(const char *path)
{
    rt_log_close();
    if (path != NULL)
        rt_log.path = rt_strdup(path);
}

void rt_log_columns(const char *const *names, int32_t n)
{
    if (rt_log.started)
        rt_fatal("log columns declared after the log file %s was started", rt_log.path);
    for (int32_t i = 0; i < rt_log.column_count; i++)
        rt_free(rt_log.columns[i]);
    rt_free(rt_log.columns);
    rt_log.columns = rt_alloc(rt_size_mul((size_t)n + 1, sizeof(char *)));
    for (int32_t i = 0; i < n; i++) {
        for (int32_t j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0)
                rt_fatal("log column '%s' is declared twice", names[i]);
        rt_log.columns[i] = rt_strdup(names[i]);
    }
    rt_log.column_count = n;
}

/* Appends one CSV field: quoted (with doubled quotes) when it holds ',', '"' or a newline. */
static void rt_csv_field(FILE *file, const char *text)
{
    if (strpbrk(text, ",\"\n\r") == NULL) {
        fputs(text, file);
        return;
    }
    fputc('"', file);
    for (const char *c = text; *c; c++) {
        if (*c == '"')
            fputc('"', file);
        fputc(*c, file);
    }
    fputc('"', file);
}

void rt_log_check_file(void)
{
    if (rt_log.path == NULL || rt_log.file != NULL)
        return;
    rt_log.file = fopen(rt_log.path, "a+");
    if (rt_log.file == NULL)
        rt_fatal("cannot open log %s: %s", rt_log.path, strerror(errno));
    /* A write of no bytes changes nothing, but /dev/full refuses even that; a regular
     * file's file system is full when it has no block left for this user. */
    struct stat info;
    struct statvfs space;
    int fd = fileno(rt_log.file);
    if (write(fd, "", 0) < 0)
        rt_fatal("cannot write log %s: %s", rt_log.path, strerror(errno));
    if (fstat(fd, &info) == 0 && S_ISREG(info.st_mode) && fstatvfs(fd, &space) == 0 &&
        (geteuid() == 0 ? space.f_bfree : space.f_bavail) == 0)
        rt_fatal("cannot write log %s: %s", rt_log.path, strerror(ENOSPC));
}

/* Opens the log file for appending (unless rt_log_check_file did); writes the header to an
 * empty file, and checks that a file with content starts with the same header. */
static void rt_log_open(void)
{
    rt_log.started = 1;
    if (rt_log.file == NULL)
        rt_log.file = fopen(rt_log.path, "a+");
    if (rt_log.file == NULL)
        rt_fatal("cannot open log %s: %s", rt_log.path, strerror(errno));
    char *header = NULL;
    size_t header_size = 0;
    FILE *expected = open_memstream(&header, &header_size);
    if (expected == NULL)
        rt_fatal("cannot format the log header: %s", strerror(errno));
    for (int32_t i = 0; i < rt_log.column_count; i++) {
        if (i > 0)
            fputc(',', expected);
        rt_csv_field(expected, rt_log.columns[i]);
    }
    fputc('\n', expected);
    fclose(expected);

    /* Only a regular file can hold an earlier log (a device such as /dev/full could be
     * read forever). */
    struct stat info;
    char *first = NULL;
    size_t first_capacity = 0;
    ssize_t length = 0;
    if (fstat(fileno(rt_log.file), &info) == 0 && S_ISREG(info.st_mode)) {
        rewind(rt_log.file);
        length = getline(&first, &first_capacity, rt_log.file);
    }
    if (length <= 0) {
        fputs(header, rt_log.file);
    } else if (strcmp(first, header) != 0) {
        header[header_size - 1] = '\0';
        if (first[length - 1] == '\n')
            first[length - 1] = '\0';
        rt_fatal("log %s already holds a log with columns \"%s\", but this program logs "
                 "\"%s\" (choose another --log file)",
                 rt_log.path, first, header);
    }
    free(first);
    free(header);
    if (fflush(rt_log.file) != 0)
        rt_fatal("cannot write log %s: %s", rt_log.path, strerror(errno));
}

void rt_log_metrics(const char *const *names, const double *values, int32_t n)
{
    /* A live progress line shares the terminal with stdout: clear it, and the next step
     * draws it again below what was printed. */
    if (rt_progress.line_live && isatty(STDOUT_FILENO)) {
        fputs("\r\033[K", rt_progress_stream());
        fflush(rt_progress_stream());
        rt_progress.line_live = 0;
    }
    for (int32_t i = 0; i < n; i++)
        printf(i ? ", %s = %.6g" : "%s = %.6g", names[i], values[i]);
    putchar('\n');
    fflush(stdout);

    if (rt_log.path == NULL)
        return;
    if (rt_log.columns == NULL)
        rt_log_columns(names, n);
    if (!rt_log.started)
        rt_log_open();
    int32_t *column_of = rt_alloc(rt_size_mul((size_t)n + 1, sizeof(int32_t)));
    for (int32_t i = 0; i < n; i++) {
        column_of[i] = -1;
        for (int32_t c = 0; c < rt_log.column_count; c++)
            if (strcmp(names[i], rt_log.columns[c]) == 0)
                column_of[i] = c;
        if (column_of[i] < 0)
            rt_fatal("log %s: '%s' is not one of its columns (the columns come from the "
                     "first log call)",
                     rt_log.path, names[i]);
    }
    for (int32_t c = 0; c < rt_log.column_count; c++) {
        if (c > 0)
            fputc(',', rt_log.file);
        for (int32_t i = 0; i < n; i++)
            if (column_of[i] == c)
                fprintf(rt_log.file, "%.9g", values[i]);
    }
    fputc('\n', rt_log.file);
    rt_free(column_of);
    if (fflush(rt_log.file) != 0 || ferror(rt_log.file))
        rt_fatal("cannot write log %s: %s", rt_log.path, strerror(errno));
}
