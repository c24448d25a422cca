/* test_rt_progress.c — progress lines (terminal and plain), log() on stdout and into a CSV
 * file (header once, appending, subsets, mismatches), and the classification metrics
 * (accuracy, confusion matrix, macro precision/recall/F1, the printed matrix, argmax).
 * Prints one line per failure, then "N passed, M failed"; exits non-zero on any failure. */
#include "rt_test.h"

#include <math.h>

/* Runs one epoch of 3 steps (losses 0.5, 0.7, 0.9; metric 0.8) in `mode` into a file and
 * returns what was written (caller frees). */
static char *progress_text(RtProgressMode mode, const char *metric)
{
    const char *path = scratch("progress.txt");
    FILE *out = fopen(path, "w");
    rt_progress_configure(out, mode);
    rt_progress_begin(1, 2, 3, metric);
    rt_progress_step(0.5, 0.8);
    rt_progress_step(0.7, 0.8);
    rt_progress_step(0.9, 0.8);
    rt_progress_end();
    rt_progress_configure(NULL, RT_PROGRESS_AUTO);
    fclose(out);
    return read_file(path, NULL);
}

static void test_progress(void)
{
    char *text = progress_text(RT_PROGRESS_LINES, "acc");
    record(strncmp(text, "epoch 1/2: 3 steps in ", 22) == 0 &&
               strstr(text, " it/s), loss 0.7000, acc 0.8000\n") != NULL &&
               strchr(text, '\r') == NULL && strchr(text, '\n') == text + strlen(text) - 1,
           "plain mode: one line per epoch with mean loss and metric");
    if (getenv("RT_TEST_VERBOSE"))
        printf("  plain: %s", text);
    free(text);

    text = progress_text(RT_PROGRESS_TERMINAL, NULL);
    size_t length = strlen(text);
    record(text[0] == '\r' && strstr(text, "\033[K") != NULL &&
               strstr(text, "epoch 1/2 [") != NULL && strstr(text, "] 3/3 ") != NULL &&
               strstr(text, "ETA") != NULL && strstr(text, "loss 0.7000\033[K\n") != NULL &&
               strstr(text, "acc") == NULL && text[length - 1] == '\n',
           "terminal mode: redrawn line with bar, ETA, final line kept");
    if (getenv("RT_TEST_VERBOSE")) {
        for (char *c = text; *c; c++)
            if (*c == '\r' || *c == '\033')
                *c = '|';
        printf("  terminal: %s", text);
    }
    free(text);

    text = progress_text(RT_PROGRESS_OFF, "acc");
    record(text[0] == '\0', "off: nothing written");
    free(text);

    /* Regression: an evaluation loop reports no loss, and its line used to read "loss 0.0000". */
    const char *path = scratch("progress_eval.txt");
    FILE *out = fopen(path, "w");
    rt_progress_configure(out, RT_PROGRESS_LINES);
    rt_progress_begin(1, 1, 2, NULL);
    rt_progress_tick();
    rt_progress_tick();
    rt_progress_end();
    rt_progress_configure(NULL, RT_PROGRESS_AUTO);
    fclose(out);
    text = read_file(path, NULL);
    record(strncmp(text, "epoch 1/1: 2 steps in ", 22) == 0 && strstr(text, "loss") == NULL &&
               strstr(text, " it/s)\n") != NULL,
           "steps without a loss: the line shows no loss");
    if (getenv("RT_TEST_VERBOSE"))
        printf("  eval: %s", text);
    free(text);

    /* An epoch resumed at batch 7 of 10: the bar counts from 7, the line the 3 steps run;
     * a note ends the live line first. */
    path = scratch("progress_skip.txt");
    out = fopen(path, "w");
    rt_progress_configure(out, RT_PROGRESS_TERMINAL);
    rt_progress_begin(2, 3, 10, NULL);
    rt_progress_skip(7);
    rt_progress_step(0.5, 0);
    rt_progress_note("stopped %d", 8);
    rt_progress_end();
    rt_progress_configure(out, RT_PROGRESS_LINES);
    rt_progress_begin(2, 3, 10, NULL);
    rt_progress_skip(7);
    for (int i = 0; i < 3; i++)
        rt_progress_step(0.5, 0);
    rt_progress_end();
    rt_progress_configure(NULL, RT_PROGRESS_AUTO);
    fclose(out);
    text = read_file(path, NULL);
    record(strstr(text, "] 7/10 ") != NULL && strstr(text, "] 8/10 ") != NULL &&
               strstr(text, "\nstopped 8\n") != NULL &&
               strstr(text, "epoch 2/3: 3 steps in ") != NULL,
           "a resumed epoch's bar starts at its batch; a note gets a line of its own");
    if (getenv("RT_TEST_VERBOSE"))
        printf("  skip: %s", text);
    free(text);
}

/* ---- log() ----------------------------------------------------------------------------------- */

static void log_two(const char *a, double x, const char *b, double y)
{
    const char *names[2] = {a, b};
    const double values[2] = {x, y};
    rt_log_metrics(names, values, b ? 2 : 1);
}

static void call_log_rows(void *context)
{
    (void)context;
    if (freopen(scratch("log.stdout"), "w", stdout) == NULL)
        _exit(99);
    rt_log_set_file(scratch("log.csv"));
    log_two("epoch", 1, "test_acc", 0.5);
    log_two("epoch", 2, "test_acc", 0.875);
    log_two("epoch", 3, NULL, 0); /* a subset of the columns */
    rt_log_close();
}

static void call_log_other_columns(void *context)
{
    (void)context;
    rt_log_set_file(scratch("log.csv"));
    log_two("step", 1, "loss", 2.5);
}

static void call_log_unknown_name(void *context)
{
    (void)context;
    rt_log_set_file(scratch("fresh.csv"));
    log_two("epoch", 1, NULL, 0);
    log_two("epoch", 2, "loss", 0.5);
}

static void test_log(void)
{
    const char *err;
    int status = run_in_child(call_log_rows, NULL, &err);
    char *out = read_file(scratch("log.stdout"), NULL);
    char *csv = read_file(scratch("log.csv"), NULL);
    record(status == 0 && out &&
               strcmp(out, "epoch = 1, test_acc = 0.5\nepoch = 2, test_acc = 0.875\n"
                           "epoch = 3\n") == 0,
           "log prints name = value pairs on stdout");
    record(csv && strcmp(csv, "epoch,test_acc\n1,0.5\n2,0.875\n3,\n") == 0,
           "log writes a CSV header and rows, empty for absent columns");
    free(out);
    free(csv);

    /* A second run appending to the same file keeps the one header. */
    run_in_child(call_log_rows, NULL, &err);
    csv = read_file(scratch("log.csv"), NULL);
    record(csv && strcmp(csv, "epoch,test_acc\n1,0.5\n2,0.875\n3,\n1,0.5\n2,0.875\n3,\n") == 0,
           "appending to a log of the same columns writes no second header");
    free(csv);

    expect_failure("log with other columns", call_log_other_columns, NULL, 1,
                   "already holds a log with columns \"epoch,test_acc\", but this program logs "
                   "\"step,loss\"");
    expect_failure("log of a name outside the columns", call_log_unknown_name, NULL, 1,
                   "'loss' is not one of its columns");

    /* Declared columns take any order and subset of names per call. */
    rt_log_set_file(scratch("declared.csv"));
    const char *columns[3] = {"epoch", "loss", "acc"};
    rt_log_columns(columns, 3);
    fflush(stdout);
    int saved_stdout = dup(STDOUT_FILENO);
    if (freopen("/dev/null", "w", stdout) == NULL)
        return;
    log_two("acc", 0.25, "epoch", 1);
    log_two("loss", 1.5, NULL, 0);
    fflush(stdout);
    dup2(saved_stdout, STDOUT_FILENO);
    close(saved_stdout);
    rt_log_close();
    csv = read_file(scratch("declared.csv"), NULL);
    record(csv && strcmp(csv, "epoch,loss,acc\n1,,0.25\n,1.5,\n") == 0,
           "declared columns, values matched by name");
    free(csv);
}

/* ---- metrics --------------------------------------------------------------------------------- */

static void call_bad_label(void *context)
{
    (void)context;
    const int32_t predicted[2] = {0, 1}, truth[2] = {0, 3};
    int64_t matrix[9];
    rt_metric_confusion(predicted, truth, 2, 3, matrix);
}

static void test_metrics(void)
{
    /* 3 classes, 10 samples; class 2 is never predicted. */
    const int32_t truth[10] = {0, 0, 0, 1, 1, 1, 1, 2, 2, 0};
    const int32_t predicted[10] = {0, 0, 1, 1, 1, 0, 1, 1, 0, 0};
    record(fabs(rt_metric_accuracy(predicted, truth, 10) - 0.6) < 1e-12, "accuracy 6/10");
    int64_t matrix[9];
    rt_metric_confusion(predicted, truth, 10, 3, matrix);
    const int64_t expected[9] = {3, 1, 0, 1, 3, 0, 1, 1, 0};
    record(memcmp(matrix, expected, sizeof matrix) == 0, "confusion matrix");

    /* Per class (precision, recall): 0: (3/5, 3/4); 1: (3/5, 3/4); 2: (0, 0). */
    double p, r, f;
    rt_metric_macro(matrix, 3, &p, &r, &f);
    double f01 = 2 * 0.6 * 0.75 / (0.6 + 0.75);
    record(fabs(p - 1.2 / 3) < 1e-12 && fabs(r - 1.5 / 3) < 1e-12 &&
               fabs(f - 2 * f01 / 3) < 1e-12,
           "macro precision, recall and F1");

    /* A class absent from truth and predictions does not count. */
    int64_t wide[16] = {0};
    for (int t = 0; t < 3; t++)
        for (int q = 0; q < 3; q++)
            wide[t * 4 + q] = matrix[t * 3 + q];
    double p4, r4, f4;
    rt_metric_macro(wide, 4, &p4, &r4, &f4);
    record(p4 == p && r4 == r && f4 == f, "classes that never occur are not averaged");

    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    rt_metric_print_confusion(out, matrix, 3, NULL);
    fclose(out);
    const char *printed = "true\\pred  0  1  2\n"
                          "        0  3  1  0\n"
                          "        1  1  3  0\n"
                          "        2  1  1  0\n";
    record(strcmp(text, printed) == 0, "printed confusion matrix");
    if (strcmp(text, printed) != 0)
        printf("%s", text);
    free(text);

    const char *names[3] = {"cat", "dog", "bird"};
    out = open_memstream(&text, &size);
    rt_metric_print_confusion(out, matrix, 3, names);
    fclose(out);
    record(strstr(text, "true\\pred   cat   dog  bird\n") == text &&
               strstr(text, "     bird     1     1     0\n") != NULL,
           "printed confusion matrix with class names");
    free(text);

    const float scores[4 * 3] = {0.1f, 0.7f, 0.2f, 5, 5, 1, NAN, -1, 2, -3, NAN, -4};
    int32_t best[4];
    rt_argmax_rows(scores, 4, 3, best);
    record(best[0] == 1 && best[1] == 0 && best[2] == 2 && best[3] == 0,
           "argmax: first on ties, NaN never wins");

    expect_failure("label outside the classes", call_bad_label, NULL, 1,
                   "true label 3 of sample 1 is outside the 3 classes");
}

int main(void)
{
    test_progress();
    test_log();
    test_metrics();
    return finish();
}
