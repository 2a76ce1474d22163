/* model.c — models: building the module sequence, the flat parameter vector, initialization,
 * and the forward-pass workspace (nn_pass). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errmsg.h"
#include "nn/model.h"

/* A shape whose c*h*w floats per sample stay within the model's limit. */
static int shape_fits(int c, int h, int w) {
    return c >= 1 && h >= 1 && w >= 1 && (double)c * h * w <= (double)CURVO_MAX_ACTIVATION;
}

int curvo_model_create(int channels, int height, int width, curvo_model **out) {
    if (!out) return CURVO_E_INVALID;
    *out = NULL;
    if (!shape_fits(channels, height, width)) return CURVO_E_INVALID;
    curvo_model *m = calloc(1, sizeof *m);
    if (!m) return CURVO_E_NOMEM;
    m->in_c = channels;
    m->in_h = height;
    m->in_w = width;
    m->training = 1;
    *out = m;
    return CURVO_OK;
}

void curvo_model_free(curvo_model *m) {
    if (!m) return;
    if (m->predict_pass) {
        nn_pass_release(m->predict_pass);
        free(m->predict_pass);
    }
    for (int l = 0; l < m->n_mods; l++) /* what modules own (a residual block's children) */
        if (m->mods[l].ops->release) m->mods[l].ops->release(&m->mods[l]);
    free(m->mods);
    free(m->theta);
    free(m->state);
    free(m);
}

/* The shape the next module receives. */
static void current_shape(const curvo_model *m, int *c, int *h, int *w) {
    if (m->n_mods == 0) {
        *c = m->in_c, *h = m->in_h, *w = m->in_w;
    } else {
        const module *last = &m->mods[m->n_mods - 1];
        *c = last->out_c, *h = last->out_h, *w = last->out_w;
    }
}

/* Appends a module made by setup(); on success grows theta (new part zeroed). A module whose output
 * or whose parameters exceed the model's limits is refused before anything is allocated. */
int nn_push_module(curvo_model *m, module *mod) {
    if (!shape_fits(mod->out_c, mod->out_h, mod->out_w)) {
        curvo_errf(m->errmsg, "%s: its output would exceed %zu values per sample", mod->ops->name, (size_t)CURVO_MAX_ACTIVATION);
        return CURVO_E_SHAPE;
    }
    if (mod->n_params > CURVO_MAX_PARAMS || m->n_params + mod->n_params > CURVO_MAX_PARAMS) {
        curvo_errf(m->errmsg, "%s: the model would exceed %zu parameters", mod->ops->name, (size_t)CURVO_MAX_PARAMS);
        return CURVO_E_SHAPE;
    }
    if (m->n_mods == m->cap_mods) {
        int cap = m->cap_mods ? 2 * m->cap_mods : 8;
        module *mods = realloc(m->mods, (size_t)cap * sizeof *mods);
        if (!mods) return CURVO_E_NOMEM;
        m->mods = mods;
        m->cap_mods = cap;
    }
    size_t n = m->n_params + mod->n_params;
    if (mod->n_params > 0) {
        float *theta = realloc(m->theta, n * sizeof *theta);
        if (!theta) return CURVO_E_NOMEM;
        memset(theta + m->n_params, 0, mod->n_params * sizeof *theta);
        m->theta = theta;
    }
    if (mod->n_state > 0) { /* the state buffer grows like theta, filled with the module's defaults */
        float *state = realloc(m->state, (m->n_state + mod->n_state) * sizeof *state);
        if (!state) return CURVO_E_NOMEM;
        m->state = state;
        if (mod->ops->init_state) mod->ops->init_state(mod, state + m->n_state);
        mod->state_offset = m->n_state;
        m->n_state += mod->n_state;
    }
    mod->offset = m->n_params;
    m->n_params = n;
    m->mods[m->n_mods++] = *mod;
    return CURVO_OK;
}

module nn_next_module(const curvo_model *m) {
    module mod;
    memset(&mod, 0, sizeof mod);
    current_shape(m, &mod.in_c, &mod.in_h, &mod.in_w);
    return mod;
}

int curvo_model_add_dense(curvo_model *m, int units) {
    if (!m) return CURVO_E_INVALID;
    module mod = nn_next_module(m);
    if (nn_dense_setup(&mod, units) != CURVO_OK) {
        curvo_errf(m->errmsg, "dense: units must be >= 1 (got %d)", units);
        return CURVO_E_SHAPE;
    }
    return nn_push_module(m, &mod);
}

int curvo_model_add_conv2d(curvo_model *m, int out_channels, int kernel, int stride, int padding) {
    if (!m) return CURVO_E_INVALID;
    module mod = nn_next_module(m);
    if (nn_conv2d_setup(&mod, out_channels, kernel, stride, padding) != CURVO_OK) {
        curvo_errf(m->errmsg,
                "conv %d filters %dx%d stride %d padding %d does not fit input %dx%dx%d "
                "(channels x height x width)",
                out_channels, kernel, kernel, stride, padding, mod.in_c, mod.in_h, mod.in_w);
        return CURVO_E_SHAPE;
    }
    return nn_push_module(m, &mod);
}

static int add_pool(curvo_model *m, const module_ops *ops, const char *name, int kernel, int stride) {
    if (!m) return CURVO_E_INVALID;
    module mod = nn_next_module(m);
    if (nn_pool_setup(&mod, ops, kernel, stride) != CURVO_OK) {
        curvo_errf(m->errmsg, "%s %dx%d stride %d does not fit input %dx%dx%d (channels x height x width)",
                name, kernel, kernel, stride, mod.in_c, mod.in_h, mod.in_w);
        return CURVO_E_SHAPE;
    }
    return nn_push_module(m, &mod);
}

int curvo_model_add_maxpool(curvo_model *m, int kernel, int stride) {
    return add_pool(m, &nn_maxpool_ops, "maxpool", kernel, stride);
}

int curvo_model_add_avgpool(curvo_model *m, int kernel, int stride) {
    return add_pool(m, &nn_avgpool_ops, "avgpool", kernel, stride);
}

int curvo_model_add_flatten(curvo_model *m) {
    if (!m) return CURVO_E_INVALID;
    module mod = nn_next_module(m);
    nn_flatten_setup(&mod);
    return nn_push_module(m, &mod);
}

int curvo_model_add_activation(curvo_model *m, curvo_activation act) {
    if (!m) return CURVO_E_INVALID;
    module mod = nn_next_module(m);
    if (nn_activation_setup(&mod, act) != CURVO_OK) {
        curvo_errf(m->errmsg, "unknown activation %d", (int)act);
        return CURVO_E_INVALID;
    }
    return nn_push_module(m, &mod);
}

void nn_init_modules(const module *mods, int n, float *theta, float *state, curvo_rng *rng,
                     int last_next_is_rectifier) {
    for (int l = 0; l < n; l++) {
        const module *mod = &mods[l];
        if (mod->ops->init_state && state) mod->ops->init_state(mod, state + mod->state_offset);
        if (!mod->ops->init) continue;
        int rect = l + 1 < n ? mods[l + 1].ops == &nn_activation_ops &&
                                   (mods[l + 1].act == CURVO_ACT_RELU || mods[l + 1].act == CURVO_ACT_SOFTPLUS)
                             : last_next_is_rectifier;
        mod->ops->init(mod, theta + mod->offset, rng, rect);
    }
}

static int add_norm(curvo_model *m, const module_ops *ops, int groups) {
    if (!m) return CURVO_E_INVALID;
    module mod = nn_next_module(m);
    if (nn_groupnorm_setup(&mod, ops, groups) != CURVO_OK) {
        curvo_errf(m->errmsg, "groupnorm: %d groups must be >= 1 and divide the %d input channels", groups,
                   mod.in_c);
        return CURVO_E_SHAPE;
    }
    return nn_push_module(m, &mod);
}

int curvo_model_add_groupnorm(curvo_model *m, int groups) { return add_norm(m, &nn_groupnorm_ops, groups); }

int curvo_model_add_layernorm(curvo_model *m) { return add_norm(m, &nn_layernorm_ops, 1); }

int curvo_model_add_gap(curvo_model *m) {
    if (!m) return CURVO_E_INVALID;
    module mod = nn_next_module(m);
    if (nn_gap_setup(&mod) != CURVO_OK) return CURVO_E_SHAPE;
    return nn_push_module(m, &mod);
}

int curvo_model_add_batchnorm(curvo_model *m) {
    if (!m) return CURVO_E_INVALID;
    module mod = nn_next_module(m);
    nn_batchnorm_setup(&mod);
    return nn_push_module(m, &mod);
}

size_t curvo_model_state_size(const curvo_model *m) { return m ? m->n_state : 0; }
float *curvo_model_state(curvo_model *m) { return m && m->n_state ? m->state : NULL; }

int curvo_model_set_training(curvo_model *m, int training) {
    if (!m) return CURVO_E_INVALID;
    m->training = training != 0;
    return CURVO_OK;
}

int curvo_model_training(const curvo_model *m) { return m ? m->training : 0; }

int nn_coupled_module(const curvo_model *m) {
    if (!m->training) return -1;
    for (int l = 0; l < m->n_mods; l++)
        if (m->mods[l].couples_batch) return l;
    return -1;
}

int curvo_model_init(curvo_model *m, curvo_rng *rng) {
    if (!m || !rng) return CURVO_E_INVALID;
    nn_init_modules(m->mods, m->n_mods, m->theta, m->state, rng, 0);
    return CURVO_OK;
}

size_t curvo_model_num_params(const curvo_model *m) { return m ? m->n_params : 0; }
float *curvo_model_params(curvo_model *m) { return m ? m->theta : NULL; }
size_t curvo_model_input_size(const curvo_model *m) {
    return m ? (size_t)m->in_c * m->in_h * m->in_w : 0;
}
size_t curvo_model_output_size(const curvo_model *m) {
    if (!m) return 0;
    int c, h, w;
    current_shape(m, &c, &h, &w);
    return (size_t)c * h * w;
}
int curvo_model_num_modules(const curvo_model *m) { return m ? m->n_mods : 0; }
const char *curvo_model_errmsg(const curvo_model *m) { return m ? m->errmsg : ""; }

/* Appends the tokens of mods (n) to buf at *used, comma-separated; a residual block writes
 * res(BODY) with its body's tokens (its shortcut follows from them). CURVO_E_INVALID if buf is full. */
static int describe_modules(const module *mods, int n, char *buf, size_t len, size_t *used) {
    static const char *act_names[] = {"relu", "tanh", "sigmoid", "softplus", "exp"};
    for (int l = 0; l < n; l++) {
        const module *mod = &mods[l];
        char tok[64];
        if (mod->ops == &nn_dense_ops)
            snprintf(tok, sizeof tok, "dense:%d", mod->units);
        else if (mod->ops == &nn_conv2d_ops)
            snprintf(tok, sizeof tok, "conv:%d:%d:%d:%d", mod->units, mod->kernel, mod->stride, mod->pad);
        else if (mod->ops == &nn_maxpool_ops || mod->ops == &nn_avgpool_ops)
            snprintf(tok, sizeof tok, "%s:%d:%d", mod->ops->name, mod->kernel, mod->stride);
        else if (mod->ops == &nn_activation_ops)
            snprintf(tok, sizeof tok, "%s", act_names[mod->act]);
        else if (mod->ops == &nn_groupnorm_ops)
            snprintf(tok, sizeof tok, "groupnorm:%d", mod->groups);
        else if (mod->block)
            snprintf(tok, sizeof tok, "res(");
        else
            snprintf(tok, sizeof tok, "%s", mod->ops->name);
        int w = snprintf(buf + *used, len - *used, "%s%s", l ? "," : "", tok);
        if (w < 0 || (size_t)w >= len - *used) return CURVO_E_INVALID;
        *used += (size_t)w;
        if (!mod->block) continue;
        const module *body;
        int n_body = nn_residual_body(mod, &body);
        if (describe_modules(body, n_body, buf, len, used) != CURVO_OK || len - *used < 2) return CURVO_E_INVALID;
        buf[(*used)++] = ')';
        buf[*used] = '\0';
    }
    return CURVO_OK;
}

int curvo_model_describe(const curvo_model *m, char *buf, size_t len) {
    if (!m || !buf || len == 0) return CURVO_E_INVALID;
    size_t used = 0;
    buf[0] = '\0';
    return describe_modules(m->mods, m->n_mods, buf, len, &used);
}

size_t nn_max_width(const curvo_model *m) {
    size_t w = curvo_model_input_size(m);
    for (int l = 0; l < m->n_mods; l++)
        if (module_out_size(&m->mods[l]) > w) w = module_out_size(&m->mods[l]);
    return w;
}

void nn_pass_release(nn_pass *p) {
    int nbuf = p->forward_only ? 2 : p->n_mods, nws = p->forward_only ? 1 : p->n_mods;
    for (int l = 0; l < nbuf && p->buf; l++) free(p->buf[l]);
    for (int l = 0; l < nws && p->ws; l++) free(p->ws[l]);
    free(p->buf);
    free(p->ws);
    free(p->act);
    free(p->scratch);
    memset(p, 0, sizeof *p);
}

/* The arrays of pointers for m, the buffers left to the caller. */
static int pass_arrays(nn_pass *p, const curvo_model *m, int forward_only) {
    nn_pass_release(p);
    p->n_mods = m->n_mods;
    p->forward_only = forward_only;
    p->act = calloc((size_t)m->n_mods + 1, sizeof *p->act);
    p->buf = calloc((size_t)m->n_mods + 2, sizeof *p->buf);
    p->ws = calloc((size_t)m->n_mods + 1, sizeof *p->ws);
    return p->act && p->buf && p->ws ? CURVO_OK : CURVO_E_NOMEM;
}

int nn_pass_reserve(nn_pass *p, const curvo_model *m, int b) {
    if (b < 1) return CURVO_E_INVALID;
    if (p->n_mods == m->n_mods && p->b_cap >= b && p->act && !p->forward_only) return CURVO_OK;
    if (pass_arrays(p, m, 0)) goto fail;
    size_t scratch = 0;
    for (int l = 0; l < m->n_mods; l++) {
        const module *mod = &m->mods[l];
        p->buf[l] = malloc((size_t)b * module_out_size(mod) * sizeof(float));
        if (!p->buf[l]) goto fail;
        size_t wsb = mod->ops->ws_bytes ? mod->ops->ws_bytes(mod, b) : 0;
        if (wsb && !(p->ws[l] = malloc(wsb))) goto fail;
        p->act[l + 1] = p->buf[l];
        if (module_scratch_bytes(mod, b) > scratch) scratch = module_scratch_bytes(mod, b);
    }
    if (scratch && !(p->scratch = malloc(scratch))) goto fail;
    p->b_cap = b;
    return CURVO_OK;
fail:
    nn_pass_release(p);
    return CURVO_E_NOMEM;
}

int nn_pass_reserve_forward(nn_pass *p, const curvo_model *m, int b) {
    if (b < 1) return CURVO_E_INVALID;
    if (p->n_mods == m->n_mods && p->b_cap >= b && p->act && p->forward_only) return CURVO_OK;
    if (pass_arrays(p, m, 1)) goto fail;
    size_t width = 1, wsb = 0;
    for (int l = 0; l < m->n_mods; l++) {
        const module *mod = &m->mods[l];
        size_t bytes = mod->ops->ws_bytes ? mod->ops->ws_bytes(mod, b) : 0;
        if (module_out_size(mod) > width) width = module_out_size(mod);
        if (bytes > wsb) wsb = bytes;
    }
    for (int t = 0; t < 2; t++)
        if (!(p->buf[t] = malloc((size_t)b * width * sizeof(float)))) goto fail;
    if (wsb && !(p->ws[0] = malloc(wsb))) goto fail;
    for (int l = 0; l < m->n_mods; l++) {
        p->act[l + 1] = p->buf[l % 2]; /* module l reads one buffer and writes the other */
        p->ws[l] = p->ws[0];
    }
    p->b_cap = b;
    return CURVO_OK;
fail:
    nn_pass_release(p);
    return CURVO_E_NOMEM;
}

void nn_pass_forward_mode(nn_pass *p, const curvo_model *m, const float *theta, const float *x, int b,
                          nn_mode mode) {
    p->theta = theta;
    p->b = b;
    p->act[0] = x;
    for (int l = 0; l < m->n_mods; l++) {
        const module *mod = &m->mods[l];
        float *y = (float *)p->act[l + 1]; /* owned by the pass (p->buf) */
        if (mod->ops->forward_mode)
            mod->ops->forward_mode(mod, theta + mod->offset, mod->n_state ? m->state + mod->state_offset : NULL,
                                   &mode, p->act[l], y, p->ws[l], b);
        else
            mod->ops->forward(mod, theta + mod->offset, p->act[l], y, p->ws[l], b);
    }
}

void nn_pass_forward(nn_pass *p, const curvo_model *m, const float *theta, const float *x, int b) {
    nn_pass_forward_mode(p, m, theta, x, b, (nn_mode){m->training, 0});
}

nn_ctx nn_pass_ctx(const nn_pass *p, const curvo_model *m, int l) {
    nn_ctx c = {p->theta + m->mods[l].offset, p->act[l], p->act[l + 1], p->ws[l], p->b, p->scratch};
    return c;
}

int curvo_model_predict(curvo_model *m, const float *x, int b, float *y) {
    if (!m || !x || !y || b < 1) return CURVO_E_INVALID;
    if (!m->predict_pass && !(m->predict_pass = calloc(1, sizeof *m->predict_pass)))
        return CURVO_E_NOMEM;
    int rc = nn_pass_reserve_forward(m->predict_pass, m, b); /* only the outputs are read */
    if (rc) return rc;
    nn_pass_forward_mode(m->predict_pass, m, m->theta, x, b, (nn_mode){0, 0}); /* evaluation mode */
    size_t c = curvo_model_output_size(m);
    memcpy(y, m->predict_pass->act[m->n_mods], (size_t)b * c * sizeof(float));
    return CURVO_OK;
}
