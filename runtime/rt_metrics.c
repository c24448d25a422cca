/* rt_metrics.c — classification metrics from predicted and true labels: accuracy, the
 * confusion matrix, macro precision/recall/F1, and a printed confusion matrix. Labels are
 * i32 class indices in [0, classes). */
#include "rt_internal.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

void rt_argmax_rows(const float *scores, int64_t rows, int64_t cols, int32_t *out)
{
    if (rows < 0 || cols <= 0 || cols > INT32_MAX)
        rt_fatal("argmax over [%" PRId64 ", %" PRId64 "] scores", rows, cols);
    for (int64_t r = 0; r < rows; r++) {
        const float *row = scores + r * cols; /* row is [cols] */
        int64_t best = 0;
        for (int64_t c = 1; c < cols; c++)
            if (row[c] > row[best] || (isnan(row[best]) && !isnan(row[c])))
                best = c;
        out[r] = (int32_t)best;
    }
}

double rt_metric_accuracy(const int32_t *predicted, const int32_t *truth, int64_t n)
{
    if (n <= 0)
        return 0;
    int64_t correct = 0;
    for (int64_t i = 0; i < n; i++)
        correct += predicted[i] == truth[i];
    return (double)correct / (double)n;
}

void rt_metric_confusion(const int32_t *predicted, const int32_t *truth, int64_t n,
                         int32_t classes, int64_t *matrix)
{
    if (classes <= 0)
        rt_fatal("confusion matrix of %d classes", classes);
    memset(matrix, 0, rt_size_mul(rt_size_mul((size_t)classes, (size_t)classes),
                                  sizeof(int64_t)));
    for (int64_t i = 0; i < n; i++) {
        if (truth[i] < 0 || truth[i] >= classes)
            rt_fatal("true label %d of sample %" PRId64 " is outside the %d classes", truth[i],
                     i, classes);
        if (predicted[i] < 0 || predicted[i] >= classes)
            rt_fatal("predicted label %d of sample %" PRId64 " is outside the %d classes",
                     predicted[i], i, classes);
        matrix[(int64_t)truth[i] * classes + predicted[i]]++;
    }
}

/* matrix is [classes (true), classes (predicted)]. For class k: tp = matrix[k, k],
 * predicted k = column sum, truly k = row sum; precision = tp / predicted, recall =
 * tp / truly, F1 = 2pr / (p + r), each 0 where its denominator is 0. Classes that never
 * occur (row and column both empty) do not count in the averages. */
void rt_metric_macro(const int64_t *matrix, int32_t classes, double *precision, double *recall,
                     double *f1)
{
    double sum_p = 0, sum_r = 0, sum_f = 0;
    int32_t counted = 0;
    for (int32_t k = 0; k < classes; k++) {
        int64_t tp = matrix[(int64_t)k * classes + k], as_k = 0, truly_k = 0;
        for (int32_t j = 0; j < classes; j++) {
            as_k += matrix[(int64_t)j * classes + k];
            truly_k += matrix[(int64_t)k * classes + j];
        }
        if (as_k == 0 && truly_k == 0)
            continue;
        double p = as_k ? (double)tp / (double)as_k : 0;
        double r = truly_k ? (double)tp / (double)truly_k : 0;
        sum_p += p;
        sum_r += r;
        sum_f += p + r > 0 ? 2 * p * r / (p + r) : 0;
        counted++;
    }
    *precision = counted ? sum_p / counted : 0;
    *recall = counted ? sum_r / counted : 0;
    *f1 = counted ? sum_f / counted : 0;
}

/* Rows are true classes, columns predicted ones:
 *     true\pred     0     1
 *             0    50     2
 *             1     3    45
 * Columns are as wide as the widest count or class name. */
void rt_metric_print_confusion(FILE *out, const int64_t *matrix, int32_t classes,
                               const char *const *names)
{
    int label_width = (int)strlen("true\\pred");
    int cell_width = 1;
    char number[32];
    for (int32_t k = 0; k < classes; k++) {
        int name_length = names ? (int)strlen(names[k]) : snprintf(number, sizeof number, "%d", k);
        if (name_length > label_width)
            label_width = name_length;
        if (name_length > cell_width)
            cell_width = name_length;
    }
    for (int64_t i = 0; i < (int64_t)classes * classes; i++) {
        int length = snprintf(number, sizeof number, "%" PRId64, matrix[i]);
        if (length > cell_width)
            cell_width = length;
    }
    fprintf(out, "%*s", label_width, "true\\pred");
    for (int32_t k = 0; k < classes; k++) {
        if (names)
            fprintf(out, "  %*s", cell_width, names[k]);
        else
            fprintf(out, "  %*d", cell_width, k);
    }
    fputc('\n', out);
    for (int32_t t = 0; t < classes; t++) {
        if (names)
            fprintf(out, "%*s", label_width, names[t]);
        else
            fprintf(out, "%*d", label_width, t);
        for (int32_t p = 0; p < classes; p++)
            fprintf(out, "  %*" PRId64, cell_width, matrix[(int64_t)t * classes + p]);
        fputc('\n', out);
    }
}
