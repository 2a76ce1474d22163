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
#include <math.h>
#include <stddef.h>

#include "linalg/vec.h"
#include "optim/optim.h"

#define P(field) offsetof(curvo_opt_params, adam.field)

#define ADAM_PARAMS(WD_DEFAULT, WD_DOC)                                                        \
    {{"lr", "learning rate", 1e-3, 0.0, 1e6, 0}, P(lr)},                                     \
    {{"beta1", "decay of the first moment", 0.9, 0.0, 0.999999, 0}, P(beta1)},               \
    {{"beta2", "decay of the second moment", 0.999, 0.0, 0.999999999, 0}, P(beta2)},         \
    {{"eps", "added to the denominator", 1e-8, 0.0, 1.0, 0}, P(eps)},                        \
    {{"weight_decay", WD_DOC, WD_DEFAULT, 0.0, 1e6, 0}, P(weight_decay)},                    \
    {{"amsgrad", "AMSGrad: use the running maximum of v (0 or 1)", 0.0, 0.0, 1.0, 1}, P(amsgrad)}

static const param_desc adam_params[] = {ADAM_PARAMS(0.0, "L2 penalty added to the gradient")};
static const param_desc adamw_params[] = {ADAM_PARAMS(1e-2, "decoupled weight decay: w *= 1 - lr*wd")};

static int adam_num_vectors(const curvo_opt_params *p) { return p->adam.amsgrad ? 3 : 2; }

static int adam_step(curvo_optimizer *opt, curvo_curv *cv, const curvo_batch *batch, curvo_step_info *info) {
    int rc = optim_eval_gradient(opt, cv, batch, info);
    if (rc) return rc;
    const curvo_adam_params *p = &opt->p.adam;
    const int decoupled = opt->p.algorithm == CURVO_OPT_ADAMW;
    size_t n = opt->n;
    float *w = curvo_model_params(curvo_curv_model(cv));
    const float *g = opt->g;
    float *m = opt->vec, *v = opt->vec + n, *vmax = p->amsgrad ? opt->vec + 2 * n : NULL; /* (n) each */
    int64_t t = opt->t + 1;
    double bc1 = 1.0 - pow(p->beta1, (double)t), bc2 = 1.0 - pow(p->beta2, (double)t);
    const float b1 = (float)p->beta1, b2 = (float)p->beta2, eps = (float)p->eps;
    const float step_size = (float)(p->lr / bc1), inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    const float wd = (float)p->weight_decay, shrink = (float)(1.0 - p->lr * p->weight_decay);
    float *delta = optim_scratch(opt, 1); /* (n) the step, for its norm */
    if (!delta) return CURVO_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        float wi = w[i];
        float d = g[i];
        if (decoupled)
            wi *= shrink;
        else if (wd != 0.0f)
            d += wd * wi;
        m[i] = b1 * m[i] + (1.0f - b1) * d;
        v[i] = b2 * v[i] + (1.0f - b2) * d * d;
        float vv = v[i];
        if (vmax) vv = vmax[i] = vmax[i] > v[i] ? vmax[i] : v[i];
        float nw = wi - step_size * m[i] / (sqrtf(vv) * inv_sqrt_bc2 + eps);
        delta[i] = nw - w[i];
        w[i] = nw;
    }
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
    .num_vectors = adam_num_vectors,
    .step = adam_step,
};

const opt_ops optim_adamw_ops = {
    .alg = CURVO_OPT_ADAMW,
    .name = "adamw",
    .params = adamw_params,
    .n_params = sizeof adamw_params / sizeof adamw_params[0],
    .num_vectors = adam_num_vectors,
    .step = adam_step,
};
