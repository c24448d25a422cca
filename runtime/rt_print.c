/* rt_print.c — tensor printing, in the one format shared by JIT, AOT executables and the
 * compiler's reference evaluator (so their outputs can be compared byte for byte):
 *
 *   f32[2, 2, 2]          dtype and shape; a scalar is f32[]
 *   [[[1, 2],             numpy-style nesting: a newline between rows, a blank line
 *     [3, 4]],            between blocks of rank 3 and more, one space of indent per
 *                         level of nesting
 *    [[5, 6],
 *     [7, 8]]]
 *
 * Elements are formatted with %.4g ("nan", "inf", "-inf", "-0" for the special values)
 * and right-aligned to the widest printed element. A tensor of more than 1000 elements
 * is elided: each dimension longer than 6 shows its first 3 and last 3 entries with
 * "..." between them. A zero-length dimension prints as []. */
#include "nnc_rt.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

enum {
    RT_PRINT_ELIDE_ABOVE = 1000, /* elide tensors with more elements than this */
    RT_PRINT_EDGE_ITEMS = 3,     /* entries kept at each end of an elided dimension */
    RT_PRINT_ELEMENT_CHARS = 32, /* room for any %.4g result, e.g. "-1.798e+308" */
};

/* The tensor's elements; exactly one pointer is set. Reading f32 data through this (and
 * widening each element to double) keeps printing free of allocation. */
typedef struct RtElements {
    const float *f32;
    const double *f64;
} RtElements;

typedef struct RtPrinter {
    FILE *out;
    RtElements elements;
    int32_t rank;
    const int64_t *dims; /* rank entries, each >= 0 */
    bool elided;         /* dimensions longer than 2 * RT_PRINT_EDGE_ITEMS show only edges */
    int width;           /* widest formatted element among those printed */
} RtPrinter;

static double rt_element_at(const RtElements *elements, int64_t index)
{
    return elements->f32 ? (double)elements->f32[index] : elements->f64[index];
}

/* Writes the element's text into `text`; returns its length. NaN is always "nan" (glibc
 * would print a negative NaN as "-nan"). */
static int rt_format_element(double value, char text[RT_PRINT_ELEMENT_CHARS])
{
    const char *special = NULL;
    if (isnan(value))
        special = "nan";
    else if (isinf(value))
        special = value > 0 ? "inf" : "-inf";
    if (special) {
        strcpy(text, special);
        return (int)strlen(special);
    }
    return snprintf(text, RT_PRINT_ELEMENT_CHARS, "%.4g", value);
}

/* ---- which entries of a dimension are shown --------------------------------------- */

static bool rt_dimension_elided(const RtPrinter *printer, int64_t length)
{
    return printer->elided && length > 2 * RT_PRINT_EDGE_ITEMS;
}

static int64_t rt_shown_count(const RtPrinter *printer, int64_t length)
{
    return rt_dimension_elided(printer, length) ? 2 * RT_PRINT_EDGE_ITEMS : length;
}

/* Maps the k-th shown entry (0 <= k < rt_shown_count) to its index in the dimension. */
static int64_t rt_shown_index(const RtPrinter *printer, int64_t length, int64_t k)
{
    if (!rt_dimension_elided(printer, length) || k < RT_PRINT_EDGE_ITEMS)
        return k;
    return length - 2 * RT_PRINT_EDGE_ITEMS + k;
}

/* True when "..." goes just before the k-th shown entry. */
static bool rt_gap_before(const RtPrinter *printer, int64_t length, int64_t k)
{
    return rt_dimension_elided(printer, length) && k == RT_PRINT_EDGE_ITEMS;
}

/* ---- measuring and writing ------------------------------------------------------------ */

/* Widens printer->width to cover every shown element of the sub-tensor that starts at
 * element `offset`, spans dims[axis..rank), and holds `block` elements. */
static void rt_measure(RtPrinter *printer, int32_t axis, int64_t offset, int64_t block)
{
    if (axis == printer->rank) {
        char text[RT_PRINT_ELEMENT_CHARS];
        int length = rt_format_element(rt_element_at(&printer->elements, offset), text);
        if (length > printer->width)
            printer->width = length;
        return;
    }
    int64_t length = printer->dims[axis];
    if (length == 0)
        return;
    int64_t child_block = block / length;
    for (int64_t k = 0; k < rt_shown_count(printer, length); k++) {
        int64_t index = rt_shown_index(printer, length, k);
        rt_measure(printer, axis + 1, offset + index * child_block, child_block);
    }
}

static void rt_write_element(const RtPrinter *printer, int64_t offset)
{
    char text[RT_PRINT_ELEMENT_CHARS];
    rt_format_element(rt_element_at(&printer->elements, offset), text);
    fprintf(printer->out, "%*s", printer->width, text);
}

/* Separates entries of dimension `axis`. In the last dimension that is ", "; above it, a
 * comma, one newline per dimension still nested below (so rows are one line apart and
 * blocks of rank 3 have a blank line between them), then an indent of one space per
 * bracket already open, which lines the entry up under the previous one. */
static void rt_write_separator(const RtPrinter *printer, int32_t axis)
{
    if (axis == printer->rank - 1) {
        fputs(", ", printer->out);
        return;
    }
    fputc(',', printer->out);
    for (int32_t below = axis + 1; below < printer->rank; below++)
        fputc('\n', printer->out);
    for (int32_t open = 0; open <= axis; open++)
        fputc(' ', printer->out);
}

/* Writes the bracketed sub-tensor of rank >= 1 that starts at element `offset`, spans
 * dims[axis..rank), and holds `block` elements. */
static void rt_write_nested(const RtPrinter *printer, int32_t axis, int64_t offset,
                            int64_t block)
{
    int64_t length = printer->dims[axis];
    fputc('[', printer->out);
    int64_t child_block = length == 0 ? 0 : block / length;
    for (int64_t k = 0; k < rt_shown_count(printer, length); k++) {
        if (k > 0)
            rt_write_separator(printer, axis);
        if (rt_gap_before(printer, length, k)) {
            fputs("...", printer->out);
            rt_write_separator(printer, axis);
        }
        int64_t child = offset + rt_shown_index(printer, length, k) * child_block;
        if (axis == printer->rank - 1)
            rt_write_element(printer, child);
        else
            rt_write_nested(printer, axis + 1, child, child_block);
    }
    fputc(']', printer->out);
}

static void rt_write_header(FILE *out, const char *dtype, int32_t rank, const int64_t *dims)
{
    fprintf(out, "%s[", dtype);
    for (int32_t axis = 0; axis < rank; axis++)
        fprintf(out, axis == 0 ? "%" PRId64 : ", %" PRId64, dims[axis]);
    fputs("]\n", out);
}

/* The one formatter behind every public entry point. */
static void rt_print_tensor(FILE *out, const char *dtype, RtElements elements, int32_t rank,
                            const int64_t *dims)
{
    if (rank < 0)
        rt_fatal("cannot print a tensor of negative rank %" PRId32, rank);
    int64_t count = 1;
    for (int32_t axis = 0; axis < rank; axis++) {
        if (dims[axis] < 0)
            rt_fatal("cannot print a tensor with negative dimension %" PRId64, dims[axis]);
        count *= dims[axis];
    }

    RtPrinter printer = {
        .out = out,
        .elements = elements,
        .rank = rank,
        .dims = dims,
        .elided = count > RT_PRINT_ELIDE_ABOVE,
        .width = 0,
    };
    rt_measure(&printer, 0, 0, count);

    rt_write_header(out, dtype, rank, dims);
    if (rank == 0)
        rt_write_element(&printer, 0);
    else
        rt_write_nested(&printer, 0, 0, count);
    fputc('\n', out);
}

void rt_fprint_f64(FILE *out, const char *dtype, const double *data, int32_t rank,
                   const int64_t *dims)
{
    rt_print_tensor(out, dtype, (RtElements){.f64 = data}, rank, dims);
}

void rt_print_f64(const double *data, int32_t rank, const int64_t *dims)
{
    rt_print_tensor(stdout, "f64", (RtElements){.f64 = data}, rank, dims);
}

void rt_print_f32(const float *data, int32_t rank, const int64_t *dims)
{
    rt_print_tensor(stdout, "f32", (RtElements){.f32 = data}, rank, dims);
}
