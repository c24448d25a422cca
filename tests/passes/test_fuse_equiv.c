/* test_fuse_equiv.c — fusion must not change what a program computes.
 * For each program given on the command line: parse, check, lower, autodiff, simplify,
 * then evaluate in f64 before and after pass_fuse and compare the printed text; for a
 * program with a train block, each region with the same made-up state (slots, vars),
 * comparing what it prints and the slots and outs it leaves. The evaluator runs a FUSED
 * node's body, and a matmul_acc (pass_accumulate), with the same per-op arithmetic as the
 * ops they replace, so the two outputs must be identical: the tolerance is zero. Also
 * checks that after fusion no elementwise or reduce op is left outside a FUSED node. */
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

/* The text g prints, then (with a program) every slot and out the region writes, as
 * %.17g values: evaluated with state env, which it changes. */
static char *run_eval(const IrGraph *g, const Prog *p, EvalEnv *env)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    EvalResult r = eval_graph_env(g, EVAL_F64, out, env);
    eval_result_free(&r);
    for (int k = 0; p && k < p->nslots; k++) {
        int64_t numel = ir_shape_numel(&p->slots[k].shape);
        fprintf(out, "slot %d:", k);
        for (int64_t i = 0; i < numel; i++)
            fprintf(out, " %.17g", env->slots[k][i]);
        fputc('\n', out);
    }
    for (int k = 0; p && k < p->nouts; k++)
        fprintf(out, "out %d: %.17g\n", k, env->outs[k]);
    fclose(out);
    return text;
}

/* State for a region of p: slot values that vary by element (small integers for i32
 * slots: labels and indices), vars 0.5, 1.5, ... (learning rates, counters). */
static EvalEnv make_env(const Prog *p, double *vars)
{
    EvalEnv env = {util_malloc(sizeof(double *) * (size_t)(p->nslots + 1)), vars,
                   util_malloc(sizeof(double) * (size_t)(p->nouts + 1))};
    for (int k = 0; k < p->nslots; k++) {
        int64_t numel = ir_shape_numel(&p->slots[k].shape);
        env.slots[k] = util_malloc(sizeof(double) * (size_t)(numel ? numel : 1));
        for (int64_t i = 0; i < numel; i++)
            env.slots[k][i] = p->slots[k].dtype == IR_I32 ? (double)((i * 7 + k) % 3)
                                                          : 0.1 * (double)((i * 37 + k) % 19) - 0.9;
    }
    for (int k = 0; k < p->nouts; k++)
        env.outs[k] = 0;
    return env;
}

static void free_env(const Prog *p, EvalEnv *env)
{
    for (int k = 0; k < p->nslots; k++)
        util_free(env->slots[k]);
    util_free(env->slots);
    util_free(env->outs);
}

/* g through autodiff and simplify, evaluated before and after pass_fuse. */
static bool check_graph(const char *path, const char *what, IrGraph *g, const Prog *p)
{
    bool ok = true;
    double *vars = NULL;
    EvalEnv env_before = {0}, env_after = {0};
    if (p) {
        vars = util_malloc(sizeof(double) * (size_t)(p->nvars + 1));
        for (int k = 0; k < p->nvars; k++)
            vars[k] = 0.5 + k;
        env_before = make_env(p, vars);
        env_after = make_env(p, vars);
    }
    ad_run(g);
    pass_simplify(g);
    char *before = run_eval(g, p, p ? &env_before : NULL);
    pass_fuse(g);
    ir_verify(g, "fuse");
    for (int i = 0; i < g->len; i++) {
        IrOp op = g->nodes[i]->op;
        if (ir_op_is_elementwise(op) || ir_op_kind(op) == IR_KIND_REDUCE) {
            printf("%s%s: %%%d (%s) left outside a fused kernel\n", path, what, g->nodes[i]->id,
                   ir_op_name(op));
            ok = false;
        }
    }
    char *after = run_eval(g, p, p ? &env_after : NULL);
    if (strcmp(before, after) != 0) {
        printf("%s%s: output differs after fusion\n--- before\n%s--- after\n%s", path, what,
               before, after);
        ok = false;
    }
    free(before);
    free(after);
    if (p) {
        free_env(p, &env_before);
        free_env(p, &env_after);
        util_free(vars);
    }
    return ok;
}

static bool check_file(const char *path)
{
    TracedFile t;
    bool ok = traced_file_open(&t, path, true);
    if (ok && t.prog) {
        for (int i = 0; i < t.prog->regions.len; i++) {
            char what[32];
            snprintf(what, sizeof what, " region %d", i);
            ok &= check_graph(path, what, t.prog->regions.items[i], t.prog);
        }
    } else if (ok) {
        ok = check_graph(path, "", t.graph, NULL);
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
