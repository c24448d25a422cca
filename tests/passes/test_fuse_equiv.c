/* test_fuse_equiv.c — fusion must not change what a program computes.
 * For each program given on the command line: parse, check, lower, autodiff, simplify,
 * then evaluate in f64 before and after pass_fuse and compare the printed text. The
 * evaluator runs a FUSED node's body with the same per-op arithmetic, so the two outputs
 * must be identical: the tolerance is zero. Also checks that after fusion no elementwise
 * or reduce op is left outside a FUSED node. */
#define _GNU_SOURCE
#include "autodiff/ad.h"
#include "ir/eval.h"
#include "parse/parse.h"
#include "passes/passes.h"
#include "sema/sema.h"
#include "util/util.h"
#include "traced_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *run_eval(const IrGraph *g)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    EvalResult r = eval_graph(g, EVAL_F64, out);
    eval_result_free(&r);
    fclose(out);
    return text;
}

static bool check_file(const char *path)
{
    TracedFile t;
    bool ok = traced_file_open(&t, path, false);
    if (ok) {
        IrGraph *g = t.graph;
        ad_run(g);
        pass_simplify(g);
        char *before = run_eval(g);
        pass_fuse(g);
        ir_verify(g, "fuse");
        for (int i = 0; i < g->len; i++) {
            IrOp op = g->nodes[i]->op;
            if (ir_op_is_elementwise(op) || ir_op_kind(op) == IR_KIND_REDUCE) {
                printf("%s: %%%d (%s) left outside a fused kernel\n", path, g->nodes[i]->id,
                       ir_op_name(op));
                ok = false;
            }
        }
        char *after = run_eval(g);
        if (strcmp(before, after) != 0) {
            printf("%s: output differs after fusion\n--- before\n%s--- after\n%s", path, before,
                   after);
            ok = false;
        }
        free(before);
        free(after);
    } else {
        diag_print(&t.diags, stdout);
    }
    printf("%s %s\n", ok ? "ok  " : "FAIL", path);
    traced_file_close(&t);
    return ok;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    for (int i = 1; i < argc; i++)
        check_file(argv[i]) ? passed++ : failed++;
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0 || passed == 0;
}
