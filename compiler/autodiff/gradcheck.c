/* gradcheck.c — `nnc gradcheck FILE`: a training program's step gradients against central
 * differences, in f64 on the reference evaluator (docs/training.md, "Gradient check").
 *
 * The step checked is the program's first `opt.step`: the first region, in program order,
 * holding GRAD nodes with respect to parameters (slot loads). The state it starts from is
 * what the program builds before its training loop: the statements of the main block
 * before the one holding the step run on the evaluator (regions, and host assignments; the
 * rest, data loading among it, is skipped). Tensors the step reads that are still unset
 * then (the batch) get a synthetic batch: floats uniform in [0, 1), integers (labels)
 * alternating 0 and 1, so that any classifier's labels are valid. The step's region, after
 * autodiff, gives the analytic gradient of its loss with respect to every parameter; for a
 * few elements of each, the loss at theta +- h (h = 1e-6 max(1, |theta|)) gives the
 * numerical one. A kink of the loss (relu, max, a max-pool's choice) within h of an element
 * spoils its difference, so an element whose error is above the tolerance is measured
 * again with h / 10 and keeps the smaller error: a wrong derivative is wrong at both. Each
 * parameter's worst relative error |a - n| / max(|a|, |n|, 1e-6) is printed; above 1e-4
 * the check fails. Both a and n within 1e-7 max(1, |loss|) of 0 count as agreeing (a
 * parameter whose every checked element is so has "no effect on the loss": a bias before
 * batch norm), since the differences' rounding noise is not below that. (In f64 a correct step gives about 1e-6 or less; a wrong rule, errors
 * near 1.) */
#include "autodiff/ad.h"
#include "ir/eval.h"
#include "prog/prog.h"
#include "prog/prog_eval.h"
#include "util/util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { GRADCHECK_SAMPLES = 6 };
static const double GRADCHECK_TOLERANCE = 1e-4;
/* Below this, times max(1, |loss|), a derivative is zero as far as central differences
 * can tell: their rounding noise is about eps |L| / h times the error the forward pass
 * accumulates, 2e-10 |L| for a bias before batch norm on a batch of 8 (whose true
 * gradient is exactly 0), 10 times that at h / 10. 1e-7 stays 50 times above that, and a
 * gradient that small changes an f32 parameter by nothing a step of training shows. */
static const double GRADCHECK_ZERO = 1e-7;

/* ---- finding the step ------------------------------------------------------------------------ */

static bool is_step_region(const IrGraph *g)
{
    for (int i = 0; i < g->len; i++)
        if (g->nodes[i]->op == IR_OP_GRAD && g->nodes[i]->in[1]->op == IR_OP_SLOT_LOAD)
            return true;
    return false;
}

/* The first step region under block b, in program order, or -1. */
static int find_step(const Prog *p, const ProgBlock *b)
{
    for (int i = 0; i < b->len; i++) {
        const ProgStmt *s = b->items[i];
        if (s->kind == PS_REGION && is_step_region(p->regions.items[s->index]))
            return s->index;
        int r = find_step(p, &s->body);
        if (r < 0)
            r = find_step(p, &s->orelse);
        if (r >= 0)
            return r;
    }
    return -1;
}

/* ---- the state and the loss --------------------------------------------------------------- */

typedef struct Check {
    const Prog *p;
    IrGraph *step;
    IrGraph forward;          /* the step's nodes the loss depends on, and its store */
    int nslots;               /* the program's slots, then one per gradient, then the loss */
    double **base;            /* the state before the step */
    double **slots;           /* scratch: a copy of base for one evaluation */
    double *vars, *outs;
    int nparams;
    int *param_slot;          /* per parameter: its slot */
    Span at;                  /* the step (opt.step), for the report */
} Check;

static int64_t slot_numel(const Check *k, int s)
{
    if (s < k->p->nslots)
        return ir_shape_numel(&k->p->slots[s].shape);
    return s == k->nslots - 1 ? 1 : ir_shape_numel(&k->p->slots[k->param_slot[s - k->p->nslots]].shape);
}

/* Runs the step from base (with one element changed: slot `s`, element `i`, by `delta`;
 * s < 0: none) and returns its loss. The whole step (s < 0) leaves the gradients in
 * k->slots; otherwise only the forward part runs. */
static double run_step(Check *k, int s, int64_t i, double delta)
{
    for (int j = 0; j < k->nslots; j++)
        memcpy(k->slots[j], k->base[j], sizeof(double) * (size_t)(slot_numel(k, j) ? slot_numel(k, j) : 1));
    if (s >= 0)
        k->slots[s][i] += delta;
    EvalEnv env = {k->slots, k->vars, k->outs};
    EvalResult r = eval_graph_env(s < 0 ? k->step : &k->forward, EVAL_F64, NULL, &env);
    eval_result_free(&r);
    return k->slots[k->nslots - 1][0];
}

/* The central difference of the loss in element i of slot s, with step h. */
static double central(Check *k, int s, int64_t i, double h)
{
    return (run_step(k, s, i, h) - run_step(k, s, i, -h)) / (2 * h);
}

/* The relative error of the analytic derivative a against the numerical n; 0 when both
 * are within `zero` of 0 (the parameter has no effect on the loss there). */
static double rel_error(double a, double n, double zero)
{
    if (fabs(a) <= zero && fabs(n) <= zero)
        return 0;
    return fabs(a - n) / fmax(fmax(fabs(a), fabs(n)), 1e-6);
}

/* k->forward: the nodes the loss store (the step's last node) depends on, in order. */
static void prune_forward(Check *k)
{
    IrGraph *g = k->step;
    for (int i = 0; i < g->len; i++)
        g->nodes[i]->mark = 0;
    g->nodes[g->len - 1]->mark = 1;
    for (int i = g->len - 1; i >= 0; i--) {
        IrNode *n = g->nodes[i];
        if (!n->mark)
            continue;
        for (int j = 0; j < n->nin; j++)
            n->in[j]->mark = 1;
        if (n->op == IR_OP_FUSED)
            for (int j = 0; j < n->attr.fused.nbody; j++)
                n->attr.fused.body[j]->mark = 1;
    }
    k->forward = *g;
    k->forward.nodes = util_malloc(sizeof(IrNode *) * (size_t)(g->len + 1));
    k->forward.len = 0;
    for (int i = 0; i < g->len; i++)
        if (g->nodes[i]->mark)
            k->forward.nodes[k->forward.len++] = g->nodes[i];
    for (int i = 0; i < g->len; i++)
        g->nodes[i]->mark = 0;
}

/* Deterministic synthetic values for a slot the program fills from data. */
static void synthetic(double *x, int64_t n, IrDType dtype, uint64_t seed)
{
    uint64_t state = seed * 0x9e3779b97f4a7c15ull + 1;
    for (int64_t i = 0; i < n; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = dtype == IR_I32 ? (double)(i % 2) : (double)(state >> 11) * 0x1p-53;
    }
}

static bool all_zero(const double *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (x[i] != 0)
            return false;
    return true;
}

/* Whether statement s is region `step`'s statement or holds it. */
static bool holds(const ProgStmt *s, int step)
{
    if (s->kind == PS_REGION)
        return s->index == step;
    for (int i = 0; i < s->body.len; i++)
        if (holds(s->body.items[i], step))
            return true;
    for (int i = 0; i < s->orelse.len; i++)
        if (holds(s->orelse.items[i], step))
            return true;
    return false;
}

/* Runs block b's statements before the one holding region `step` (only regions and host
 * assignments; loops that do not hold the step are skipped), and the same way the body of
 * the loop or branch holding it: its first iteration, on a full batch. True once the step
 * is reached. */
static bool run_prelude(Check *k, const ProgBlock *b, int step)
{
    const Prog *p = k->p;
    for (int i = 0; i < b->len; i++) {
        const ProgStmt *s = b->items[i];
        if (holds(s, step)) {
            if (s->kind == PS_REGION)
                return true;
            if (s->kind == PS_FOR_BATCHES && s->rows_var >= 0)
                k->vars[s->rows_var] = (double)s->batch;
            return run_prelude(k, &s->body, step) || run_prelude(k, &s->orelse, step);
        }
        if (s->kind == PS_SET) {
            k->vars[s->index] = prog_eval_expr(s->expr, k->vars, k->outs, NULL); /* no data read */
        } else if (s->kind == PS_REGION) {
            IrGraph *g = p->regions.items[s->index];
            ad_run(g);
            /* a prelude region's derivative nnc cannot take: reported, and the region left
             * out (the step's own values are what the check compares) */
            if (ir_graph_report(g, false))
                continue;
            EvalEnv env = {k->base, k->vars, k->outs};
            EvalResult r = eval_graph_env(g, EVAL_F64, NULL, &env);
            eval_result_free(&r);
        }
    }
    return false;
}

int ad_gradcheck(Prog *p, FILE *out)
{
    int step = find_step(p, &p->main);
    if (step < 0) {
        fputs("nnc: gradcheck: the program has no optimizer step (opt.step(loss)) to check\n",
              stderr);
        return 1;
    }
    Check k = {.p = p, .step = p->regions.items[step]};
    /* the gradients and the loss, stored to slots of their own before autodiff runs */
    IrGraph *g = k.step;
    int ngrads = 0;
    for (int i = 0; i < g->len; i++)
        ngrads += g->nodes[i]->op == IR_OP_GRAD && g->nodes[i]->in[1]->op == IR_OP_SLOT_LOAD;
    k.nparams = ngrads;
    k.nslots = p->nslots + ngrads + 1;
    k.param_slot = util_malloc(sizeof(int) * (size_t)(ngrads + 1));
    IrNode *loss = NULL;
    int len = g->len, n = 0;
    for (int i = 0; i < len; i++) {
        IrNode *gr = g->nodes[i];
        if (gr->op != IR_OP_GRAD || gr->in[1]->op != IR_OP_SLOT_LOAD)
            continue;
        loss = gr->in[0];
        k.at = gr->span; /* opt.step(...) */
        k.param_slot[n] = gr->in[1]->attr.io.index;
        ir_slot_store(g, gr->span, p->nslots + n, gr);
        n++;
    }
    ad_run(g);
    if (ir_graph_report(g, false)) {
        util_free(k.param_slot);
        return 1;
    }
    ir_slot_store(g, loss->span, k.nslots - 1, loss); /* last: prune_forward starts there */
    prune_forward(&k);

    k.base = util_malloc(sizeof(double *) * (size_t)k.nslots);
    k.slots = util_malloc(sizeof(double *) * (size_t)k.nslots);
    for (int s = 0; s < k.nslots; s++) {
        int64_t count = slot_numel(&k, s);
        k.base[s] = util_malloc(sizeof(double) * (size_t)(count ? count : 1));
        k.slots[s] = util_malloc(sizeof(double) * (size_t)(count ? count : 1));
        memset(k.base[s], 0, sizeof(double) * (size_t)(count ? count : 1));
    }
    k.vars = util_malloc(sizeof(double) * (size_t)(p->nvars + 1));
    k.outs = util_malloc(sizeof(double) * (size_t)(p->nouts + 1));
    memset(k.vars, 0, sizeof(double) * (size_t)(p->nvars + 1));
    memset(k.outs, 0, sizeof(double) * (size_t)(p->nouts + 1));
    for (int i = 0; i < p->nsettings; i++)
        if (p->settings[i].var >= 0)
            k.vars[p->settings[i].var] = p->settings[i].dflt;
    run_prelude(&k, &p->main, step);
    /* what the step reads and nothing set: the batch */
    int synthesized = 0;
    for (int i = 0; i < g->len; i++) {
        IrNode *ld = g->nodes[i];
        if (ld->op != IR_OP_SLOT_LOAD)
            continue;
        int s = ld->attr.io.index;
        bool param = false;
        for (int j = 0; j < k.nparams; j++)
            param |= k.param_slot[j] == s;
        if (!param && all_zero(k.base[s], slot_numel(&k, s))) {
            synthetic(k.base[s], slot_numel(&k, s), p->slots[s].dtype, (uint64_t)s);
            synthesized++;
        }
    }

    double l0 = run_step(&k, -1, 0, 0);
    int line, col;
    diag_line_col(k.at.file, k.at.lo, &line, &col);
    fprintf(out, "gradcheck: the step at %s:%d:%d, loss %.6g on %s batch; f64, central "
                 "differences\n",
            k.at.file->name, line, col, l0, synthesized ? "a synthetic" : "the program's");
    fprintf(out, "  %-28s %10s %8s %14s\n", "parameter", "elements", "checked",
            "worst rel.err");
    double **analytic = util_malloc(sizeof(double *) * (size_t)(k.nparams + 1));
    for (int j = 0; j < k.nparams; j++) {
        int64_t count = slot_numel(&k, p->nslots + j);
        analytic[j] = util_malloc(sizeof(double) * (size_t)(count ? count : 1));
        memcpy(analytic[j], k.slots[p->nslots + j], sizeof(double) * (size_t)(count ? count : 1));
    }
    double worst_all = 0;
    const char *worst_name = NULL;
    double zero = GRADCHECK_ZERO * fmax(1.0, fabs(l0));
    for (int j = 0; j < k.nparams; j++) {
        int s = k.param_slot[j];
        int64_t count = slot_numel(&k, s);
        int checked = count < GRADCHECK_SAMPLES ? (int)count : GRADCHECK_SAMPLES;
        double worst = 0;
        bool effect = false; /* an element's derivative, either way, is above `zero` */
        for (int t = 0; t < checked; t++) {
            /* evenly spread over the tensor, first and last element included */
            int64_t i = checked == 1 ? 0 : (int64_t)t * (count - 1) / (checked - 1);
            double h = 1e-6 * fmax(1.0, fabs(k.base[s][i]));
            double a = analytic[j][i];
            double n = central(&k, s, i, h);
            double err = rel_error(a, n, zero);
            /* A kink (relu, max, a max-pool's choice) within h of theta throws the
             * difference off; one within h / 10 too is ten times less likely, while a
             * wrong derivative is wrong at both. */
            if (err > GRADCHECK_TOLERANCE) {
                n = central(&k, s, i, h / 10);
                err = fmin(err, rel_error(a, n, zero));
            }
            effect |= fabs(a) > zero || fabs(n) > zero;
            worst = fmax(worst, err);
        }
        if (!effect && checked > 0)
            fprintf(out, "  %-28s %10lld %8d %14s  no effect on the loss (|gradient| <= %.0e)\n",
                    p->slots[s].name, (long long)count, checked, "-", zero);
        else
            fprintf(out, "  %-28s %10lld %8d %14.3g%s\n", p->slots[s].name, (long long)count,
                    checked, worst, worst > GRADCHECK_TOLERANCE ? "  FAIL" : "");
        if (worst >= worst_all) {
            worst_all = worst;
            worst_name = p->slots[s].name;
        }
    }
    int status = worst_all > GRADCHECK_TOLERANCE ? 1 : 0;
    if (status)
        fprintf(out, "gradcheck: FAILED: %s has a relative error of %.3g (tolerance %.0e)\n",
                worst_name, worst_all, GRADCHECK_TOLERANCE);
    else
        fprintf(out, "gradcheck: ok: worst relative error %.3g (tolerance %.0e)\n", worst_all,
                GRADCHECK_TOLERANCE);
    for (int j = 0; j < k.nparams; j++)
        util_free(analytic[j]);
    util_free(analytic);
    for (int s = 0; s < k.nslots; s++) {
        util_free(k.base[s]);
        util_free(k.slots[s]);
    }
    util_free(k.base);
    util_free(k.slots);
    util_free(k.vars);
    util_free(k.outs);
    util_free(k.param_slot);
    util_free(k.forward.nodes);
    return status;
}
