/* mathfn.c — exp, log, tanh and sigmoid of f32 as straight-line IR.
 *
 * Why not libm: the C API cannot reach the vectorizer's vector-library setting, and a
 * call to expf/logf keeps a loop scalar. Branch-free IR (selects for the special cases)
 * vectorizes like any other elementwise op, and costs no runtime dependency.
 *
 * The range reductions below depend on the exact order of their float operations
 * (Cody–Waite splitting, exact subtractions), so these instructions carry `contract`
 * (FMA formation only makes them more accurate) but never `reassoc`.
 *
 * Measured accuracy (tests/codegen/test_codegen.c prints it): max relative error over
 * the test's sweeps, a few units of 2^-24. */
#include "codegen/cg_internal.h"
#include "util/util.h"

#include <math.h>
#include <string.h>

/* ---- small builders (contract-only float ops) ------------------------------------------ */

static LLVMValueRef fconst(Cg *cg, double v) { return LLVMConstReal(cg->f32, v); }
static LLVMValueRef iconst(Cg *cg, int64_t v) { return LLVMConstInt(cg->i32, (uint64_t)v, 1); }

static LLVMValueRef emit_fadd(Cg *cg, LLVMValueRef a, LLVMValueRef b)
{
    return cg_contract(LLVMBuildFAdd(cg->b, a, b, ""));
}
static LLVMValueRef emit_fsub(Cg *cg, LLVMValueRef a, LLVMValueRef b)
{
    return cg_contract(LLVMBuildFSub(cg->b, a, b, ""));
}
static LLVMValueRef emit_fmul(Cg *cg, LLVMValueRef a, LLVMValueRef b)
{
    return cg_contract(LLVMBuildFMul(cg->b, a, b, ""));
}
static LLVMValueRef emit_fdiv(Cg *cg, LLVMValueRef a, LLVMValueRef b)
{
    return cg_contract(LLVMBuildFDiv(cg->b, a, b, ""));
}
static LLVMValueRef emit_fcmp(Cg *cg, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFCmp(cg->b, p, a, b, "");
}
static LLVMValueRef sel(Cg *cg, LLVMValueRef c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(cg->b, c, a, b, "");
}

/* c[0] + x*(c[1] + x*(c[2] + ...)), Horner's rule. */
static LLVMValueRef horner(Cg *cg, LLVMValueRef x, const double *c, int n)
{
    LLVMValueRef acc = fconst(cg, c[n - 1]);
    for (int i = n - 2; i >= 0; i--)
        acc = emit_fadd(cg, emit_fmul(cg, acc, x), fconst(cg, c[i]));
    return acc;
}

LLVMValueRef cg_call_intrinsic(Cg *cg, const char *name, LLVMValueRef *args, int nargs)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    ASSERT(id != 0);
    LLVMTypeRef overload = cg->f32;
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(cg->mod, id, &overload, 1);
    LLVMTypeRef fty = LLVMIntrinsicGetType(cg->ctx, id, &overload, 1);
    return LLVMBuildCall2(cg->b, fty, fn, args, (unsigned)nargs, "");
}

LLVMValueRef cg_fast(LLVMValueRef v)
{
    if (LLVMIsAInstruction(v) && LLVMCanValueUseFastMathFlags(v))
        LLVMSetFastMathFlags(v, LLVMFastMathAllowReassoc | LLVMFastMathAllowContract);
    return v;
}

LLVMValueRef cg_contract(LLVMValueRef v)
{
    if (LLVMIsAInstruction(v) && LLVMCanValueUseFastMathFlags(v))
        LLVMSetFastMathFlags(v, LLVMFastMathAllowContract);
    return v;
}

/* ---- exp ----------------------------------------------------------------------------------
 * e^x = 2^n * e^r with n = round(x / ln 2) and r = x - n ln 2, |r| <= ln(2)/2.
 *  - r is computed with ln 2 split in two (Cody–Waite): LN2_HI has 15 significant bits, so
 *    n * LN2_HI is exact for |n| < 512 and x - n * LN2_HI is exact (the two are close).
 *  - e^r by its Taylor series through r^7: the truncation error r^8/8! <= 5e-9 relative
 *    at |r| = 0.347, well under the rounding error; summed as 1 + (r + r^2 q(r)) so the
 *    large terms are added last.
 *  - 2^n (n in [-150, 128] after clamping x) is applied as two factors 2^(n/2) and
 *    2^(n - n/2), each a normal float built from its exponent bits; the first product is
 *    exact, the second rounds once, so results in the subnormal range come out right and
 *    results past FLT_MAX overflow to +inf.
 *  - x is clamped to [-104, 88.8] first: e^-104 is below half the smallest subnormal
 *    (gives 0) and e^88.8 is above FLT_MAX (gives +inf). NaN is routed around the integer
 *    conversion (fptosi of NaN is poison) and returned as is. */

static const float EXP_LN2_HI = 0x1.62e4p-1f; /* 0.693145751953125 */

LLVMValueRef cg_math_exp(Cg *cg, LLVMValueRef x)
{
    const double ln2_lo = (double)(float)(M_LN2 - (double)EXP_LN2_HI);
    LLVMValueRef is_nan = emit_fcmp(cg, LLVMRealUNO, x, x);
    LLVMValueRef xc = sel(cg, emit_fcmp(cg, LLVMRealOLT, x, fconst(cg, -104.0)), fconst(cg, -104.0), x);
    xc = sel(cg, emit_fcmp(cg, LLVMRealOGT, xc, fconst(cg, 88.8)), fconst(cg, 88.8), xc);
    xc = sel(cg, is_nan, fconst(cg, 0.0), xc);

    LLVMValueRef t = emit_fmul(cg, xc, fconst(cg, M_LOG2E));
    LLVMValueRef nf = cg_call_intrinsic(cg, "llvm.roundeven", &t, 1);
    LLVMValueRef r = emit_fsub(cg, xc, emit_fmul(cg, nf, fconst(cg, EXP_LN2_HI)));
    r = emit_fsub(cg, r, emit_fmul(cg, nf, fconst(cg, ln2_lo)));

    /* q(r) = 1/2! + r/3! + ... + r^5/7! */
    double q_coef[6];
    double fact = 2.0;
    for (int k = 0; k < 6; k++) {
        q_coef[k] = 1.0 / fact;
        fact *= k + 3;
    }
    LLVMValueRef q = horner(cg, r, q_coef, 6);
    LLVMValueRef r2 = emit_fmul(cg, r, r);
    LLVMValueRef p = emit_fadd(cg, fconst(cg, 1.0), emit_fadd(cg, r, emit_fmul(cg, r2, q)));

    LLVMValueRef n = LLVMBuildFPToSI(cg->b, nf, cg->i32, "");
    LLVMValueRef n1 = LLVMBuildAShr(cg->b, n, iconst(cg, 1), "");
    LLVMValueRef n2 = LLVMBuildSub(cg->b, n, n1, "");
    LLVMValueRef s1 = LLVMBuildShl(cg->b, LLVMBuildAdd(cg->b, n1, iconst(cg, 127), ""),
                                   iconst(cg, 23), "");
    LLVMValueRef s2 = LLVMBuildShl(cg->b, LLVMBuildAdd(cg->b, n2, iconst(cg, 127), ""),
                                   iconst(cg, 23), "");
    s1 = LLVMBuildBitCast(cg->b, s1, cg->f32, "");
    s2 = LLVMBuildBitCast(cg->b, s2, cg->f32, "");
    LLVMValueRef y = emit_fmul(cg, emit_fmul(cg, p, s1), s2);
    return sel(cg, is_nan, x, y);
}

/* ---- log ----------------------------------------------------------------------------------
 * x = 2^e * m with m in [sqrt(1/2), sqrt(2)), then log x = e ln 2 + log m and, with
 * f = m - 1 (exact) and s = f / (2 + f), log m = 2 atanh(s) = 2s (1 + s^2/3 + s^4/5 + ...).
 * |s| <= 0.1716, so the series through s^8/9 leaves a truncation error below 3e-9.
 * The split: adding 0x3f800000 - bits(sqrt 2 / 2) to the bits of x carries into the
 * exponent exactly when the mantissa is >= sqrt(2); the low 23 bits plus bits(sqrt 2 / 2)
 * then give m. Subnormal x is scaled by 2^23 first. Special cases: log(+-0) = -inf,
 * log(+inf) = +inf, log(x < 0) = NaN, log(NaN) = NaN. */

LLVMValueRef cg_math_log(Cg *cg, LLVMValueRef x)
{
    const int64_t half_sqrt2_bits = 0x3f3504f3; /* sqrt(2)/2 rounded to float */
    LLVMValueRef tiny = emit_fcmp(cg, LLVMRealOLT, x, fconst(cg, 0x1p-126));
    LLVMValueRef xs = sel(cg, tiny, emit_fmul(cg, x, fconst(cg, 0x1p23)), x);
    LLVMValueRef ebias = sel(cg, tiny, iconst(cg, -23), iconst(cg, 0));

    LLVMValueRef bits = LLVMBuildBitCast(cg->b, xs, cg->i32, "");
    LLVMValueRef t = LLVMBuildAdd(cg->b, bits, iconst(cg, 0x3f800000 - half_sqrt2_bits), "");
    LLVMValueRef e = LLVMBuildSub(cg->b, LLVMBuildLShr(cg->b, t, iconst(cg, 23), ""),
                                  iconst(cg, 127), "");
    e = LLVMBuildAdd(cg->b, e, ebias, "");
    LLVMValueRef mbits = LLVMBuildAdd(cg->b, LLVMBuildAnd(cg->b, t, iconst(cg, 0x7fffff), ""),
                                      iconst(cg, half_sqrt2_bits), "");
    LLVMValueRef m = LLVMBuildBitCast(cg->b, mbits, cg->f32, "");

    LLVMValueRef f = emit_fsub(cg, m, fconst(cg, 1.0));
    LLVMValueRef s = emit_fdiv(cg, f, emit_fadd(cg, fconst(cg, 2.0), f));
    LLVMValueRef z = emit_fmul(cg, s, s);
    const double series[5] = {1.0, 1.0 / 3, 1.0 / 5, 1.0 / 7, 1.0 / 9};
    /* log m = 2s + 2s * z * (1/3 + z/5 + ...): the small correction is added last. */
    LLVMValueRef two_s = emit_fmul(cg, s, fconst(cg, 2.0));
    LLVMValueRef corr = emit_fmul(cg, emit_fmul(cg, two_s, z), horner(cg, z, series + 1, 4));
    LLVMValueRef logm = emit_fadd(cg, two_s, corr);

    LLVMValueRef ef = LLVMBuildSIToFP(cg->b, e, cg->f32, "");
    const double ln2_lo = (double)(float)(M_LN2 - (double)EXP_LN2_HI);
    LLVMValueRef y = emit_fadd(cg, emit_fmul(cg, ef, fconst(cg, EXP_LN2_HI)),
                          emit_fadd(cg, emit_fmul(cg, ef, fconst(cg, ln2_lo)), logm));

    y = sel(cg, emit_fcmp(cg, LLVMRealOEQ, x, fconst(cg, INFINITY)), fconst(cg, INFINITY), y);
    y = sel(cg, emit_fcmp(cg, LLVMRealOEQ, x, fconst(cg, 0.0)), fconst(cg, -INFINITY), y);
    return sel(cg, emit_fcmp(cg, LLVMRealULT, x, fconst(cg, 0.0)), fconst(cg, NAN), y);
}

/* ---- tanh ---------------------------------------------------------------------------------
 * |x| < 1: a truncation of Lambert's continued fraction
 *     tanh x = x / (1 + x^2 / (3 + x^2 / (5 + x^2 / (7 + x^2 / (9 + x^2 / 11)))))
 * collapsed into one rational function of y = x^2:
 *     x (10395 + 1260 y + 21 y^2) / (10395 + 4725 y + 210 y^2 + y^3),
 * whose truncation error is below 5e-10 relative on |x| < 1 (exact near 0, where the
 * relative accuracy matters).
 * |x| >= 1: tanh |x| = 1 - 2 / (e^(2|x|) + 1), where the subtraction loses no more than a
 * factor 1.3 of the exp's relative error; |x| is capped at 10 (tanh 10 rounds to 1), which
 * keeps e^(2|x|) finite. The sign is copied back from x. NaN stays NaN (every comparison
 * with it is false, so it takes the exp branch, which propagates it). */

LLVMValueRef cg_math_tanh(Cg *cg, LLVMValueRef x)
{
    LLVMValueRef a = cg_call_intrinsic(cg, "llvm.fabs", &x, 1);
    LLVMValueRef y = emit_fmul(cg, x, x);
    const double num[3] = {10395, 1260, 21};
    const double den[4] = {10395, 4725, 210, 1};
    LLVMValueRef small = emit_fdiv(cg, emit_fmul(cg, x, horner(cg, y, num, 3)), horner(cg, y, den, 4));

    LLVMValueRef ac = sel(cg, emit_fcmp(cg, LLVMRealOGT, a, fconst(cg, 10.0)), fconst(cg, 10.0), a);
    LLVMValueRef e2 = cg_math_exp(cg, emit_fmul(cg, ac, fconst(cg, 2.0)));
    LLVMValueRef big = emit_fsub(cg, fconst(cg, 1.0),
                            emit_fdiv(cg, fconst(cg, 2.0), emit_fadd(cg, e2, fconst(cg, 1.0))));
    LLVMValueRef args[2] = {big, x};
    big = cg_call_intrinsic(cg, "llvm.copysign", args, 2);
    return sel(cg, emit_fcmp(cg, LLVMRealOLT, a, fconst(cg, 1.0)), small, big);
}

/* sigmoid x = 1 / (1 + e^-x): e^-x = +inf for x < -88.8 gives 0, e^-x -> 0 gives 1. The
 * relative error is the exp's plus two roundings, also for very negative x where the
 * result is tiny (there 1 + e^-x = e^-x to within rounding). */
LLVMValueRef cg_math_sigmoid(Cg *cg, LLVMValueRef x)
{
    LLVMValueRef e = cg_math_exp(cg, cg_contract(LLVMBuildFNeg(cg->b, x, "")));
    return emit_fdiv(cg, fconst(cg, 1.0), emit_fadd(cg, fconst(cg, 1.0), e));
}
