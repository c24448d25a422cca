/* rt_print_i32.c — printing i32 tensors (indices, labels, argmax results) in the format of
 * rt_print.c. Every int32 is exact as a double, so the values go through the one
 * formatter behind rt_fprint_f64, under an "i32" header. */
#include "rt_internal.h"

void rt_print_i32(const int32_t *data, int32_t rank, const int64_t *dims)
{
    int64_t count = 1;
    for (int32_t axis = 0; axis < rank; axis++)
        count *= dims[axis] > 0 ? dims[axis] : 0;
    double *wide = rt_alloc(rt_size_mul((size_t)count, sizeof(double)));
    for (int64_t i = 0; i < count; i++)
        wide[i] = data[i];
    rt_fprint_f64(stdout, "i32", wide, rank, dims);
    rt_free(wide);
}
