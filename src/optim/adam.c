/* adam.c — Adam (Kingma & Ba, ICLR 2015) and AdamW (Loshchilov & Hutter, ICLR 2019), as
 * torch.optim.Adam and torch.optim.AdamW:
 *
 *   AdamW only:  w <- w (1 - lr * wd)
 *   d = g + wd * w   (Adam only; AdamW uses d = g)
 *   m <- beta1 m + (1 - beta1) d
 *   v <- beta2 v + (1 - beta2) d^2
 *   v_max <- max(v_max, v)   (AMSGrad; then v_max replaces v below)
 *   w <- w - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 */
#include <float.h>
#include <math.h>
#include <stddef.h>

#include "linalg/vec.h"
#include "optim/optim.h"

#define P(field) offsetof(curvo_opt_params, adam.field)

#define ADAM_PARAMS(WD_DEFAULT, WD_DOC)                                                        \
    {{"lr", "learning rate", 1e-3, 0.0, 1e6, 0, 0, 0}, P(lr)},                                \
    {{"beta1", "decay of the first moment", 0.9, 0.0, 1.0, 0, 0, 1}, P(beta1)},               \
    {{"beta2", "decay of the second moment", 0.999, 0.0, 1.0, 0, 0, 1}, P(beta2)},            \
    {{"eps", "added to the denominator", 1e-8, 0.0, 1.0, 0, 0, 0}, P(eps)},                   \
    {{"weight_decay", WD_DOC, WD_DEFAULT, 0.0, 1e6, 0, 0, 0}, P(weight_decay)},               \
    {{"amsgrad", "AMSGrad: use the running maximum of v (0 or 1)", 0.0, 0.0, 1.0, 1, 0, 0}, P(amsgrad)}

static const param_desc adam_params[] = {ADAM_PARAMS(0.0, "L2 penalty added to the gradient")};
static const param_desc adamw_params[] = {ADAM_PARAMS(1e-2, "decoupled weight decay: w *= 1 - lr*wd")};

static int adam_num_vectors(const curvo_opt_params *p) { return p->adam.amsgrad ? 3 : 2; }

/* The constants of one step. */
typedef struct {
    int decoupled;
    float b1, b2, eps, step_size, inv_sqrt_bc2, wd, shrink;
    float c1, c2; /* 1 - beta1, 1 - beta2: from the double betas, rounded once (1.0f - (float)0.999 is 1.3e-5 off) */
    float m_lim; /* |m| below it cannot overflow the step when eps > 0: step_size |m| / eps <= FLT_MAX / 4 */
} adam_consts;

enum { ADAM_CHECK, ADAM_QUICK_CHECK, ADAM_WRITE };

/* One pass of the update over n coordinates. ADAM_CHECK does the arithmetic without writing anything and
 * returns 1 if a value would not be finite (|x| <= FLT_MAX fails for Inf and NaN). ADAM_QUICK_CHECK (eps > 0)
 * skips the square root and the division: it returns 0 only when no value can overflow (v and theta below
 * FLT_MAX / 2, |m| below m_lim), so that a 1 needs the exact check. ADAM_WRITE updates m, v, vmax (with ams:
 * AMSGrad) and w, and delta = the step. guard = 1 lets a zero denominator take no step instead of 0/0 (eps = 0
 * and v = 0: a coordinate whose gradient was always zero, or whose square underflowed). The flags are
 * constants at each call, so that each specialization is branch-free and vectorizes (the guard's select
 * would keep GCC from vectorizing the common eps > 0 case). */
static inline __attribute__((always_inline)) int adam_pass(const adam_consts *k, size_t n, float *w, const float *g,
                                                         float *m, float *v, float *vmax, float *delta, int mode,
                                                         int guard, int ams) {
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float wi = w[i], d = g[i];
        if (k->decoupled)
            wi *= k->shrink;
        else if (k->wd != 0.0f)
            d += k->wd * wi;
        float mi = k->b1 * m[i] + k->c1 * d;
        float vi = k->b2 * v[i] + k->c2 * d * d, vv = vi;
        if (ams) vv = vmax[i] > vi ? vmax[i] : vi;
        if (mode == ADAM_QUICK_CHECK) {
            bad |= !(fabsf(wi) <= 0.5f * FLT_MAX) | !(fabsf(mi) <= k->m_lim) | !(vv <= 0.5f * FLT_MAX);
            continue;
        }
        float q = k->step_size * mi / (sqrtf(vv) * k->inv_sqrt_bc2 + k->eps);
        if (guard && !(vv > 0.0f)) q = 0.0f;
        float nw = wi - q;
        if (mode == ADAM_WRITE) {
            m[i] = mi, v[i] = vi;
            if (ams) vmax[i] = vv;
            delta[i] = nw - w[i];
            w[i] = nw;
        } else {
            bad |= !(fabsf(nw) <= FLT_MAX) | !(fabsf(mi) <= FLT_MAX) | !(vv <= FLT_MAX);
        }
    }
    return bad;
}

static int adam_step(curvo_optimizer *opt, curvo_curv *cv, const curvo_batch *batch, curvo_step_info *info) {
    int rc = optim_eval_gradient(opt, cv, batch, info);
    if (rc) return rc;
    const curvo_adam_params *p = &opt->p.adam;
    size_t n = opt->n;
    float *w = curvo_model_params(curvo_curv_model(cv));
    const float *g = opt->g;
    float *m = opt->vec, *v = opt->vec + n, *vmax = p->amsgrad ? opt->vec + 2 * n : NULL; /* (n) each */
    int64_t t = opt->t + 1;
    /* every coefficient in double from the double hyperparameters, rounded to float once, as torch.optim
     * passes Python floats (1 - beta2 is 0.001 there; 1.0f - (float)0.999 made each step 6.6e-6 too large) */
    double bc1 = 1.0 - pow(p->beta1, (double)t), bc2 = 1.0 - pow(p->beta2, (double)t);
    const adam_consts k = {opt->p.algorithm == CURVO_OPT_ADAMW, (float)p->beta1, (float)p->beta2, (float)p->eps,
                           (float)(p->lr / bc1), (float)(1.0 / sqrt(bc2)), (float)p->weight_decay,
                           (float)(1.0 - p->lr * p->weight_decay), (float)(1.0 - p->beta1), (float)(1.0 - p->beta2),
                           (float)fmin(0.25 * FLT_MAX * (float)p->eps / fmax(p->lr / bc1, 1e-300), FLT_MAX)};
    float *delta = optim_scratch(opt, 1); /* (n) the step, for its norm */
    if (!delta) return CURVO_E_NOMEM;
    /* A finite gradient can overflow float here: its square in v once |g| > ~1e20 (and then that coordinate
     * never moves again, m / sqrt(inf) = 0), or the step with a huge lr. Such a step is refused before anything
     * is written, so that no Inf reaches theta or the moments; and eps = 0, which its range allows, put 0/0 =
     * NaN into theta for a dead ReLU's weights (issue 7; tests/test_faults.c). */
#define ADAM_PASSES(GUARD, AMS)                                                                                \
    do {                                                                                                       \
        if ((GUARD || adam_pass(&k, n, w, g, m, v, vmax, delta, ADAM_QUICK_CHECK, GUARD, AMS)) &&              \
            adam_pass(&k, n, w, g, m, v, vmax, delta, ADAM_CHECK, GUARD, AMS))                                 \
            return CURVO_E_NUMERIC;                                                                            \
        adam_pass(&k, n, w, g, m, v, vmax, delta, ADAM_WRITE, GUARD, AMS);                                     \
    } while (0)
    if (k.eps > 0.0f) {
        if (vmax) ADAM_PASSES(0, 1);
        else ADAM_PASSES(0, 0);
    } else {
        if (vmax) ADAM_PASSES(1, 1);
        else ADAM_PASSES(1, 0);
    }
#undef ADAM_PASSES
    opt->t = t;
    info->lr = p->lr;
    info->step_norm = sqrt(la_sumsq(delta, n));
    return CURVO_OK;
}

const opt_ops optim_adam_ops = {
    .alg = CURVO_OPT_ADAM,
    .name = "adam",
    .params = adam_params,
    .n_params = sizeof adam_params / sizeof adam_params[0],
    .scheduled = "lr",
    .scheduled_doc = "the learning rate",
    .num_vectors = adam_num_vectors,
    .step = adam_step,
};

const opt_ops optim_adamw_ops = {
    .alg = CURVO_OPT_ADAMW,
    .name = "adamw",
    .params = adamw_params,
    .n_params = sizeof adamw_params / sizeof adamw_params[0],
    .scheduled = "lr",
    .scheduled_doc = "the learning rate; the decoupled decay lr*wd follows it, as in torch",
    .num_vectors = adam_num_vectors,
    .step = adam_step,
};
