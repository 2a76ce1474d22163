/* sgd.c — stochastic gradient descent with momentum, as torch.optim.SGD:
 *
 *   d_t = g_t + wd * w_{t-1}
 *   b_t = d_t                                  (t = 1)
 *   b_t = mu * b_{t-1} + (1 - dampening) d_t   (t > 1)
 *   d_t = d_t + mu * b_t  (Nesterov)   or   d_t = b_t   (momentum > 0)
 *   w_t = w_{t-1} - lr * d_t
 *
 * Robbins & Monro (1951); momentum as in Sutskever et al. (ICML 2013), PyTorch's formulation.
 */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "linalg/vec.h"
#include "optim/optim.h"

#define P(field) offsetof(curvo_opt_params, sgd.field)

static const param_desc sgd_params[] = {
    {{"lr", "learning rate", 0.01, 0.0, 1e6, 0, 0, 0}, P(lr)},
    {{"momentum", "momentum factor mu", 0.0, 0.0, 1.0, 0, 0, 0}, P(momentum)},
    {{"dampening", "dampening of the momentum buffer's new gradient", 0.0, 0.0, 1.0, 0, 0, 0}, P(dampening)},
    {{"weight_decay", "L2 penalty added to the gradient", 0.0, 0.0, 1e6, 0, 0, 0}, P(weight_decay)},
    {{"nesterov", "Nesterov momentum (0 or 1)", 0.0, 0.0, 1.0, 1, 0, 0}, P(nesterov)},
};

static int sgd_num_vectors(const curvo_opt_params *p) { return p->sgd.momentum > 0.0 ? 1 : 0; }

static int sgd_check(const curvo_opt_params *p, char *errmsg) {
    if (p->sgd.nesterov && (p->sgd.momentum <= 0.0 || p->sgd.dampening != 0.0)) {
        if (errmsg)
            snprintf(errmsg, CURVO_ERRMSG_LEN, "sgd: nesterov needs momentum > 0 and dampening = 0");
        return CURVO_E_INVALID;
    }
    return CURVO_OK;
}

/* One coordinate of the update: returns the direction d; *b is the momentum buffer (the old value in, the new
 * value out; untouched without momentum). */
static inline float sgd_direction(float g, float w, float *b, int has_buf, float wd, float mu, float keep, int first,
                                  int nesterov) {
    float d = wd != 0.0f ? g + wd * w : g;
    if (has_buf) {
        *b = first ? d : mu * *b + keep * d;
        d = nesterov ? d + mu * *b : *b;
    }
    return d;
}

static int sgd_step(curvo_optimizer *opt, curvo_curv *cv, const curvo_batch *batch, curvo_step_info *info) {
    int rc = optim_eval_gradient(opt, cv, batch, info);
    if (rc) return rc;
    const curvo_sgd_params *p = &opt->p.sgd;
    float *w = curvo_model_params(curvo_curv_model(cv));
    const float *g = opt->g;
    float *buf = opt->vec; /* (n) momentum buffer, when momentum > 0 */
    const float lr = (float)p->lr, wd = (float)p->weight_decay, mu = (float)p->momentum;
    const float keep = (float)(1.0 - p->dampening);
    const int first = opt->t == 0, nesterov = p->nesterov, has_buf = buf != NULL;
    float *step = optim_scratch(opt, 1); /* (n) the direction d, for its norm */
    if (!step) return CURVO_E_NOMEM;
    /* A finite gradient can still overflow float in the update (lr * d, a momentum buffer adding two huge
     * gradients, weight decay): such a step is refused before anything is written, so that no Inf reaches theta
     * or the buffer (issue 7: a gradient of 1.7e38 with lr 10 wrote -inf into theta with status OK;
     * tests/test_faults.c). A finite step, however large, is taken, as torch.optim.SGD takes it. */
    int bad = 0; /* |x| <= FLT_MAX fails for Inf and NaN; no branch, so that the loop vectorizes */
    for (size_t i = 0; i < opt->n; i++) {
        float b = has_buf ? buf[i] : 0.0f;
        float d = sgd_direction(g[i], w[i], &b, has_buf, wd, mu, keep, first, nesterov);
        bad |= !(fabsf(b) <= FLT_MAX) | !(fabsf(w[i] - lr * d) <= FLT_MAX);
    }
    if (bad) return CURVO_E_NUMERIC;
    for (size_t i = 0; i < opt->n; i++) {
        float b = has_buf ? buf[i] : 0.0f;
        float d = sgd_direction(g[i], w[i], &b, has_buf, wd, mu, keep, first, nesterov);
        if (has_buf) buf[i] = b;
        w[i] -= lr * d;
        step[i] = d;
    }
    opt->t++;
    info->lr = p->lr;
    info->step_norm = p->lr * sqrt(la_sumsq(step, opt->n));
    return CURVO_OK;
}

const opt_ops optim_sgd_ops = {
    .alg = CURVO_OPT_SGD,
    .name = "sgd",
    .params = sgd_params,
    .n_params = sizeof sgd_params / sizeof sgd_params[0],
    .scheduled = "lr",
    .scheduled_doc = "the learning rate",
    .num_vectors = sgd_num_vectors,
    .check = sgd_check,
    .step = sgd_step,
};
