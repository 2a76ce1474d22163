/* curvature.c — the curvature operators of one mini-batch: loss, gradient, Jv, J^T u, GGN-vector
 * and exact Hessian-vector products, each for k vectors at once, and the whitened Gram matrix.
 *
 * Every sum over the batch happens here (through the modules' batched actions). Data-parallel, with
 * a communicator of N processes: set_batch takes the global batch of B samples and keeps only this
 * process's contiguous shard; every action below runs on the shard with the global 1/B, and the
 * loss, gradient, GGN and Hessian products are then summed over the processes in rank order
 * (dist/comm.h), so they are global and bitwise the same on every rank. The other operators stay
 * per shard (curvo.h says which is which).
 *
 * Passes, for a model of modules 0..L-1 with activations a_0 (input) .. a_L (outputs f):
 *   set_batch  forward, loss, p, dz = dL/df
 *   grad       reverse sweep seeded with dz; keeps every adjoint adj_l = dL/da_l for hvp
 *   jvp        forward-mode sweep of k parameter tangents; keeps every tangent tan_l
 *   vjp        reverse sweep of k output cotangents
 *   ggn        jvp, u = Q fdot / b, vjp
 *   hvp        jvp, then the second-order adjoint sweep seeded with Q fdot / b
 *   gram       reverse sweep of the c cotangent rows L_i e_k of every sample, each parametric module
 *              adding its block of per-sample gradient inner products.
 *
 * Batch-coupled modules (batchnorm in training mode, the model's mode): the network is then one
 * function of the whole batch, f(X; theta), and every sweep above runs through the modules' exact
 * actions of that function, so loss, gradient, Jv, J^T u, GGN and Hessian products are exact for
 * it. Two things have no exact per-shard or per-sample form and are refused (CURVO_E_UNSUPPORTED,
 * naming groupnorm, whose statistics are per sample): the Gram of per-sample rows when a coupled
 * module sits above a parametric one (curv_per_sample_rows), and a communicator of more than one
 * process (a shard's statistics are not the batch's). Running statistics move in exactly one forward
 * pass: the first training-mode set_batch after curvo_curv_update_running_stats(cv, 1), which
 * curvo_optimizer_step arms before each step, so that the line search's trial points, CG's products,
 * LRSFN's sketch batch and evaluation passes never move them.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errmsg.h"
#include "curvature/curv.h"
#include "curvature/forward.h"
#include "dist/comm.h"
#include "nn/loss.h"


int curv_fail(curvo_curv *cv, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    curvo_verrf(cv->errmsg, fmt, ap);
    va_end(ap);
    return rc;
}

static size_t act_size(const curvo_model *m, int l) {
    return l == 0 ? curvo_model_input_size(m) : module_out_size(&m->mods[l - 1]);
}

int curvo_curv_create(curvo_model *model, curvo_loss_kind loss, curvo_curv **out) {
    if (!out) return CURVO_E_INVALID;
    *out = NULL;
    if (!model || model->n_mods == 0 || loss < CURVO_LOSS_CE || loss > CURVO_LOSS_SELECTED_HUBER)
        return CURVO_E_INVALID;
    curvo_curv *cv = calloc(1, sizeof *cv);
    if (!cv) return CURVO_E_NOMEM;
    cv->model = model;
    cv->loss = loss;
    cv->c = (int)curvo_model_output_size(model);
    cv->first_param = model->n_mods;
    for (int l = model->n_mods - 1; l >= 0; l--)
        if (model->mods[l].n_params) cv->first_param = l;
    cv->adj = calloc((size_t)model->n_mods + 1, sizeof *cv->adj);
    cv->tan = calloc((size_t)model->n_mods + 1, sizeof *cv->tan);
    cv->gscratch = malloc((model->n_params ? model->n_params : 1) * sizeof(float));
    if (!cv->adj || !cv->tan || !cv->gscratch) {
        curvo_curv_free(cv);
        return CURVO_E_NOMEM;
    }
    *out = cv;
    return CURVO_OK;
}

static void free_tangents(curvo_curv *cv) {
    for (int l = 0; l <= cv->model->n_mods; l++) {
        free(cv->tan[l]);
        cv->tan[l] = NULL;
    }
    free(cv->ping);
    free(cv->pong);
    free(cv->seed);
    cv->ping = cv->pong = cv->seed = NULL;
    cv->k_cap = 0;
}

void curvo_curv_free(curvo_curv *cv) {
    if (!cv) return;
    if (cv->tan) free_tangents(cv);
    if (cv->adj)
        for (int l = 0; l <= cv->model->n_mods; l++) free(cv->adj[l]);
    nn_pass_release(&cv->pass);
    curv_gn_free(cv->gn);
    free(cv->adj);
    free(cv->tan);
    free(cv->p);
    free(cv->dz);
    free(cv->gscratch);
    free(cv);
}

const char *curvo_curv_errmsg(const curvo_curv *cv) { return cv ? cv->errmsg : ""; }

int curv_forward_only(curvo_curv *cv) {
    if (!cv) return CURVO_E_INVALID;
    cv->forward_only = 1;
    cv->have_batch = cv->have_adj = 0;
    return CURVO_OK;
}

/* Batch-sized buffers for b samples (a forward-only context: the pass, p and dz). */
static int reserve_batch(curvo_curv *cv, int b) {
    const curvo_model *m = cv->model;
    int rc = cv->forward_only ? nn_pass_reserve_forward(&cv->pass, m, b) : nn_pass_reserve(&cv->pass, m, b);
    if (rc) return rc;
    if (b <= cv->b_cap) return CURVO_OK;
    free_tangents(cv); /* sized by b_cap: remade on demand */
    free(cv->p);
    free(cv->dz);
    cv->p = malloc((size_t)b * cv->c * sizeof(float));
    cv->dz = malloc((size_t)b * cv->c * sizeof(float));
    if (!cv->p || !cv->dz) return CURVO_E_NOMEM;
    for (int l = 1; l <= m->n_mods && !cv->forward_only; l++) {
        free(cv->adj[l]);
        if (!(cv->adj[l] = malloc((size_t)b * act_size(m, l) * sizeof(float)))) return CURVO_E_NOMEM;
    }
    cv->b_cap = b;
    return CURVO_OK;
}

/* Tangent buffers for k vectors of the current batch capacity. */
static int reserve_tangents(curvo_curv *cv, int k) {
    if (k <= cv->k_cap) return CURVO_OK;
    const curvo_model *m = cv->model;
    free_tangents(cv);
    size_t kb = (size_t)k * (cv->b_cap ? cv->b_cap : 1); /* never 0 bytes, also for an empty shard */
    for (int l = 1; l <= m->n_mods; l++)
        if (!(cv->tan[l] = malloc(kb * act_size(m, l) * sizeof(float)))) return CURVO_E_NOMEM;
    size_t w = nn_max_width(m);
    cv->ping = malloc(kb * w * sizeof(float));
    cv->pong = malloc(kb * w * sizeof(float));
    cv->seed = malloc(kb * cv->c * sizeof(float));
    if (!cv->ping || !cv->pong || !cv->seed) return CURVO_E_NOMEM;
    cv->k_cap = k;
    return CURVO_OK;
}

int curvo_curv_update_running_stats(curvo_curv *cv, int on) {
    if (!cv) return CURVO_E_INVALID;
    cv->update_stats = on != 0;
    return CURVO_OK;
}

/* CURVO_OK when every row of the per-sample Jacobian exists: no module that couples the samples
 * (batchnorm in training mode) above a parametric module; else CURVO_E_UNSUPPORTED with the reason. */
static int curv_per_sample_rows(curvo_curv *cv, const char *what) {
    const curvo_model *m = cv->model;
    if (!m->training) return CURVO_OK;
    for (int l = cv->first_param; l < m->n_mods; l++) {
        const char *kind = NULL; /* a residual block's coupling child above its own parametric ones */
        if (nn_residual_inner_coupling(&m->mods[l], &kind) || (l > cv->first_param && m->mods[l].couples_batch))
            return curv_fail(cv, CURVO_E_UNSUPPORTED,
                             "%s: %s (module %d%s) couples the samples in training mode, so the layers below it have no "
                             "per-sample Jacobian rows (EGN's Gram): use groupnorm or another optimizer",
                             what, kind ? kind : nn_coupling_kind(&m->mods[l]), l,
                             m->mods[l].block ? ", a residual block" : "");
    }
    return CURVO_OK;
}

int curvo_curv_set_comm(curvo_curv *cv, curvo_comm *comm) {
    if (!cv) return CURVO_E_INVALID;
    cv->comm = comm;
    cv->have_batch = cv->have_adj = 0;
    return CURVO_OK;
}

curvo_comm *curvo_curv_comm(const curvo_curv *cv) { return cv ? cv->comm : NULL; }

int curvo_curv_shard(const curvo_curv *cv, int *offset, int *count) {
    if (!cv || !offset || !count) return CURVO_E_INVALID;
    if (!cv->have_batch) return CURVO_E_STATE;
    *offset = cv->shard_off;
    *count = cv->batch.b;
    return CURVO_OK;
}

/* This process's shard of batch: the samples [off, off + b) of it. */
static curvo_batch shard_of(const curvo_batch *batch, size_t features, int c, int off, int b) {
    curvo_batch s = *batch;
    s.x = batch->x + (size_t)off * features;
    if (batch->labels) s.labels = batch->labels + off;
    if (batch->targets) s.targets = batch->targets + (size_t)off * c;
    s.b = b;
    return s;
}

/* The forward pass and loss of this process's shard: its part of the loss (sum / B) in *value. */
static int shard_forward(curvo_curv *cv, const curvo_batch *shard, double *value) {
    *value = 0.0;
    if (shard->b == 0) return CURVO_OK; /* B < N: nothing here, a zero share */
    int rc = reserve_batch(cv, shard->b);
    if (rc) return curv_fail(cv, rc, "set_batch: cannot allocate workspace for %d samples", shard->b);
    nn_mode mode = {cv->model->training, cv->model->training && cv->update_stats};
    if (mode.update_state) cv->update_stats = 0; /* once: later passes leave the statistics alone */
    nn_pass_forward_mode(&cv->pass, cv->model, cv->model->theta, shard->x, shard->b, mode);
    rc = loss_eval(cv->loss, cv->pass.act[cv->model->n_mods], shard, cv->c, cv->b_global, cv->p, cv->dz, value);
    if (rc == CURVO_E_INVALID)
        return curv_fail(cv, rc, "set_batch: %s", cv->loss == CURVO_LOSS_CE
                                                ? "a label is outside [0, outputs) or labels are missing"
                                                : loss_is_selected(cv->loss)
                                                ? "a label is outside [0, outputs), or labels or targets are missing"
                                                : "targets are missing");
    if (rc) return curv_fail(cv, rc, "set_batch: the loss is not finite");
    return CURVO_OK;
}

int curvo_curv_set_batch(curvo_curv *cv, const curvo_batch *batch) {
    if (!cv) return CURVO_E_INVALID;
    cv->have_batch = cv->have_adj = 0;
    cv->batch_gen++;
    if (!batch || !batch->x || batch->b < 1)
        return curv_fail(cv, CURVO_E_INVALID, "set_batch: empty batch or missing inputs");
    int off, b, N = curvo_comm_size(cv->comm), coupled = nn_coupled_module(cv->model);
    if (N > 1 && coupled >= 0) /* the same answer on every rank: nothing collective is skipped */
        return curv_fail(cv, CURVO_E_UNSUPPORTED,
                         "set_batch: %s (module %d%s) in training mode normalizes over the batch, which %d processes "
                         "split into shards: not supported; use groupnorm or one process",
                         nn_coupling_kind(&cv->model->mods[coupled]), coupled,
                         cv->model->mods[coupled].block ? ", a residual block" : "", N);
    dist_shard(batch->b, curvo_comm_rank(cv->comm), N, &off, &b);
    cv->batch = shard_of(batch, curvo_model_input_size(cv->model), cv->c, off, b);
    cv->shard_off = off;
    cv->b_global = batch->b;
    double value;
    int rc = shard_forward(cv, &cv->batch, &value);
    if (N > 1) { /* every rank's share and status; the sum in rank order, the first failure */
        double mine[2] = {rc ? 0.0 : value, (double)rc}, *all = malloc((size_t)N * sizeof mine);
        int trc = all ? dist_allgather(cv->comm, mine, sizeof mine, all) : CURVO_E_NOMEM;
        if (trc) {
            free(all);
            return curv_fail(cv, trc, "set_batch: the processes could not share the loss: %s",
                             trc == CURVO_E_NOMEM ? "out of memory" : curvo_comm_errmsg(cv->comm));
        }
        value = 0.0;
        int first = -1;
        for (int r = 0; r < N; r++) {
            value += all[2 * r];
            if (first < 0 && all[2 * r + 1] != 0.0) first = r;
        }
        if (first >= 0 && first != curvo_comm_rank(cv->comm))
            rc = curv_fail(cv, (int)all[2 * first + 1], "set_batch: failed on rank %d: %s", first,
                           curvo_strerror((int)all[2 * first + 1]));
        free(all);
        if (!rc && !isfinite(value)) rc = curv_fail(cv, CURVO_E_NUMERIC, "set_batch: the loss is not finite");
    }
    if (rc) return rc;
    cv->loss_value = value;
    cv->have_batch = 1;
    return CURVO_OK;
}

double curvo_curv_loss(const curvo_curv *cv) { return cv && cv->have_batch ? cv->loss_value : NAN; }

const float *curvo_curv_outputs(const curvo_curv *cv) {
    return cv && cv->have_batch ? cv->pass.act[cv->model->n_mods] : NULL;
}

curvo_model *curvo_curv_model(const curvo_curv *cv) { return cv ? cv->model : NULL; }
curvo_loss_kind curvo_curv_loss_kind(const curvo_curv *cv) { return cv ? cv->loss : CURVO_LOSS_CE; }

int curv_need_batch(curvo_curv *cv) {
    if (!cv->have_batch) return curv_fail(cv, CURVO_E_STATE, "no batch: call curvo_curv_set_batch first");
    if (cv->forward_only) return curv_fail(cv, CURVO_E_STATE, "this context runs forward passes only (evaluation)");
    return CURVO_OK;
}

static int need_batch(curvo_curv *cv, const void *a, const void *b, int k) {
    if (!cv) return CURVO_E_INVALID;
    if (!a || !b || k < 1) return curv_fail(cv, CURVO_E_INVALID, "NULL vector or k < 1");
    return curv_need_batch(cv);
}

/* The global sum of this shard's parameter-space result out (len): rc, or the reduction's failure. */
static int reduce(curvo_curv *cv, float *out, size_t len, const char *what) {
    int rc = dist_sum_float(cv->comm, out, len);
    if (rc) return curv_fail(cv, rc, "%s: the processes could not sum their shares: %s", what, curvo_comm_errmsg(cv->comm));
    return CURVO_OK;
}

/* This shard's share of the gradient into g (n); keeps every adjoint adj_l = dL/da_l for hvp. */
static void grad_sweep(curvo_curv *cv, float *g) {
    const curvo_model *m = cv->model;
    int L = m->n_mods;
    memset(g, 0, m->n_params * sizeof(float));
    if (cv->batch.b == 0) return;
    memcpy(cv->adj[L], cv->dz, (size_t)cv->batch.b * cv->c * sizeof(float));
    for (int l = L - 1; l >= cv->first_param; l--) {
        const module *mod = &m->mods[l];
        nn_ctx ctx = nn_pass_ctx(&cv->pass, m, l);
        mod->ops->vjp(mod, &ctx, cv->adj[l + 1], 1, l > cv->first_param ? cv->adj[l] : NULL,
                      g + mod->offset, m->n_params);
    }
    cv->have_adj = 1;
}

int curvo_curv_grad(curvo_curv *cv, float *g) {
    int rc = need_batch(cv, g, g, 1);
    if (rc) return rc;
    grad_sweep(cv, g);
    return reduce(cv, g, cv->model->n_params, "grad");
}

/* Reverse sweep of k cotangents u (k, b, c): out (k, n) = J^T u. */
static void reverse_sweep(curvo_curv *cv, const float *u, int k, float *out) {
    const curvo_model *m = cv->model;
    size_t n = m->n_params;
    memset(out, 0, (size_t)k * n * sizeof(float));
    if (cv->batch.b == 0) return; /* an empty shard */
    const float *cur = u;
    float *next = cv->ping;
    for (int l = m->n_mods - 1; l >= cv->first_param; l--) {
        const module *mod = &m->mods[l];
        nn_ctx ctx = nn_pass_ctx(&cv->pass, m, l);
        float *dx = l > cv->first_param ? next : NULL;
        mod->ops->vjp(mod, &ctx, cur, k, dx, out + mod->offset, n);
        cur = next;
        next = next == cv->ping ? cv->pong : cv->ping;
    }
}

/* Forward-mode sweep of k parameter tangents v (k, n); tan[L] holds Jv (k, b, c). */
static void forward_sweep(curvo_curv *cv, const float *v, int k) {
    const curvo_model *m = cv->model;
    for (int l = cv->first_param; l < m->n_mods; l++) {
        const module *mod = &m->mods[l];
        nn_ctx ctx = nn_pass_ctx(&cv->pass, m, l);
        const float *xdot = l > cv->first_param ? cv->tan[l] : NULL;
        mod->ops->jvp(mod, &ctx, xdot, mod->n_params ? v + mod->offset : NULL, m->n_params, k,
                      cv->tan[l + 1]);
    }
}

int curvo_curv_jvp(curvo_curv *cv, const float *v, int k, float *out) {
    int rc = need_batch(cv, v, out, k);
    if (rc) return rc;
    if ((rc = reserve_tangents(cv, k))) return curv_fail(cv, rc, "jvp: cannot allocate %d tangents", k);
    size_t kbc = (size_t)k * cv->batch.b * cv->c;
    if (cv->first_param == cv->model->n_mods || cv->batch.b == 0) {
        memset(out, 0, kbc * sizeof(float));
        return CURVO_OK;
    }
    forward_sweep(cv, v, k);
    memcpy(out, cv->tan[cv->model->n_mods], kbc * sizeof(float));
    return CURVO_OK;
}

int curvo_curv_vjp(curvo_curv *cv, const float *u, int k, float *out) {
    int rc = need_batch(cv, u, out, k);
    if (rc) return rc;
    if ((rc = reserve_tangents(cv, k))) return curv_fail(cv, rc, "vjp: cannot allocate %d cotangents", k);
    reverse_sweep(cv, u, k, out);
    return CURVO_OK;
}

int curvo_curv_ggn(curvo_curv *cv, const float *v, int k, float *out) {
    int rc = need_batch(cv, v, out, k);
    if (rc) return rc;
    if ((rc = reserve_tangents(cv, k))) return curv_fail(cv, rc, "ggn: cannot allocate %d tangents", k);
    int L = cv->model->n_mods, b = cv->batch.b;
    size_t len = (size_t)k * cv->model->n_params;
    if (cv->first_param == L || b == 0) {
        memset(out, 0, len * sizeof(float));
    } else {
        forward_sweep(cv, v, k);
        loss_hess_apply(cv->loss, cv->p, &cv->batch, b, cv->c, cv->tan[L], k, 1.0f / (float)cv->b_global, cv->seed);
        reverse_sweep(cv, cv->seed, k, out);
    }
    return reduce(cv, out, len, "ggn");
}

int curvo_curv_hvp(curvo_curv *cv, const float *v, int k, float *out) {
    int rc = need_batch(cv, v, out, k);
    if (rc) return rc;
    if (!cv->have_adj) grad_sweep(cv, cv->gscratch); /* this shard's adjoints; no sum needed */
    if ((rc = reserve_tangents(cv, k))) return curv_fail(cv, rc, "hvp: cannot allocate %d tangents", k);
    const curvo_model *m = cv->model;
    size_t n = m->n_params;
    int L = m->n_mods, b = cv->batch.b;
    memset(out, 0, (size_t)k * n * sizeof(float));
    if (cv->first_param == L || b == 0) return reduce(cv, out, (size_t)k * n, "hvp");
    forward_sweep(cv, v, k);
    loss_hess_apply(cv->loss, cv->p, &cv->batch, b, cv->c, cv->tan[L], k, 1.0f / (float)cv->b_global, cv->seed);
    const float *cur = cv->seed;
    float *next = cv->ping;
    for (int l = L - 1; l >= cv->first_param; l--) {
        const module *mod = &m->mods[l];
        nn_ctx ctx = nn_pass_ctx(&cv->pass, m, l);
        const float *xdot = l > cv->first_param ? cv->tan[l] : NULL;
        float *dxdot = l > cv->first_param ? next : NULL;
        mod->ops->soa(mod, &ctx, xdot, mod->n_params ? v + mod->offset : NULL, n, cv->adj[l + 1],
                      cur, k, dxdot, out + mod->offset);
        cur = next;
        next = next == cv->ping ? cv->pong : cv->ping;
    }
    return reduce(cv, out, (size_t)k * n, "hvp");
}

int curvo_curv_hessian_factor(curvo_curv *cv, double *out) {
    int rc = need_batch(cv, out, out, 1);
    if (rc) return rc;
    if ((rc = loss_hess_factor(cv->loss, cv->p, &cv->batch, cv->batch.b, cv->c, out)))
        return curv_fail(cv, rc, "the output Hessian of a sample could not be factored");
    return CURVO_OK;
}

int curvo_curv_residual(curvo_curv *cv, double *out) {
    int rc = need_batch(cv, out, out, 1);
    if (rc) return rc;
    loss_residual(cv->loss, cv->p, &cv->batch, cv->c, out);
    return CURVO_OK;
}

/* seed (k, b, c) float: seed_{j,i} = L_i u_{j,i} for u (k, b, c) double and factors Lf (b, c, c). */
static void whiten_seeds(const double *Lf, const double *u, int k, int b, int c, float *seed) {
    for (int j = 0; j < k; j++)
        for (int i = 0; i < b; i++) {
            const double *Li = Lf + (size_t)i * c * c;
            const double *ui = u + ((size_t)j * b + i) * c;
            float *si = seed + ((size_t)j * b + i) * c;
            for (int r = 0; r < c; r++) {
                double s = 0.0;
                for (int q = 0; q <= r; q++) s += Li[r * c + q] * ui[q];
                si[r] = (float)s;
            }
        }
}

int curvo_curv_seeded_vjp(curvo_curv *cv, const double *seeds, const double *u, int k, float *out) {
    int rc = need_batch(cv, seeds, u, k);
    if (rc) return rc;
    if (!out) return curv_fail(cv, CURVO_E_INVALID, "NULL output");
    int b = cv->batch.b, c = cv->c;
    if ((rc = reserve_tangents(cv, 1))) return curv_fail(cv, rc, "seeded_vjp: out of memory");
    /* one cotangent: sum_j u_{j,i} seed_{j,i} per sample */
    for (int i = 0; i < b; i++)
        for (int r = 0; r < c; r++) {
            double t = 0.0;
            for (int j = 0; j < k; j++) t += u[(size_t)j * b + i] * seeds[((size_t)j * b + i) * c + r];
            cv->seed[(size_t)i * c + r] = (float)t;
        }
    reverse_sweep(cv, cv->seed, 1, out);
    return CURVO_OK;
}

int curvo_curv_whitened_vjp(curvo_curv *cv, const double *u, int k, float *out) {
    int rc = need_batch(cv, u, out, k);
    if (rc) return rc;
    int b = cv->batch.b, c = cv->c;
    if ((rc = reserve_tangents(cv, k))) return curv_fail(cv, rc, "whitened_vjp: cannot allocate %d vectors", k);
    if (b == 0) {
        memset(out, 0, (size_t)k * cv->model->n_params * sizeof(float));
        return CURVO_OK;
    }
    double *Lf = malloc((size_t)b * c * c * sizeof(double));
    if (!Lf) return curv_fail(cv, CURVO_E_NOMEM, "whitened_vjp: out of memory");
    if ((rc = curvo_curv_hessian_factor(cv, Lf))) {
        free(Lf);
        return rc;
    }
    whiten_seeds(Lf, u, k, b, c, cv->seed);
    free(Lf);
    reverse_sweep(cv, cv->seed, k, out);
    return CURVO_OK;
}

/* The upper triangle of g (n, n) mirrored to the lower, in tiles so that both sides stay in cache. */
static void mirror_upper(double *g, size_t n) {
    size_t t = 64;
    for (size_t r0 = 0; r0 < n; r0 += t)
        for (size_t s0 = r0; s0 < n; s0 += t)
            for (size_t r = r0; r < r0 + t && r < n; r++)
                for (size_t s = s0 > r ? s0 : r + 1; s < s0 + t && s < n; s++) g[s * n + r] = g[r * n + s];
}

/* Adds to gk (k*b, k*b), index j*b + i, the Gram of the per-sample gradients of <seed_{j,i}, f_i>
 * for the k seeds already in cv->seed: one reverse sweep of k cotangents, each parametric module
 * adding its block. */
static int gram_of_seeds(curvo_curv *cv, int k, double *gk) {
    const curvo_model *m = cv->model;
    const float *cur = cv->seed;
    float *next = cv->ping;
    for (int l = m->n_mods - 1; l >= cv->first_param; l--) {
        const module *mod = &m->mods[l];
        nn_ctx ctx = nn_pass_ctx(&cv->pass, m, l);
        int rc;
        if (mod->ops->gram && (rc = mod->ops->gram(mod, &ctx, cur, k, gk)))
            return curv_fail(cv, rc, "gram: out of memory in module %d (%s)", l, mod->ops->name);
        if (l == cv->first_param) break;
        mod->ops->vjp(mod, &ctx, cur, k, next, NULL, 0);
        cur = next;
        next = next == cv->ping ? cv->pong : cv->ping;
    }
    mirror_upper(gk, (size_t)k * cv->batch.b); /* the modules filled the upper triangle */
    return CURVO_OK;
}

/* ---------------------------------------------------------------- the global Gram (N > 1)
 * With N processes, module l's Gram block over the whole batch needs, for every sample of every
 * rank, what its gram op reads: its input activation x_i (in) and the k cotangents arriving at its
 * output dy_{j,i} (k, out), or, for a module that can materialise them (conv2d's gram_rows), its k
 * per-sample gradient rows (k, n_l). Each parametric module, in the same reverse sweep of the k
 * seeds, allgathers whichever is fewer floats per sample (in + k out, or k n_l: the same choice on
 * every rank, as it depends on the module's shape only) in one allgatherv, rank r's block holding
 * its b_r samples ([x (b_r, in) | dy (k, b_r, out)] or rows (k, b_r, n_l)); the blocks are placed
 * at the ranks' shard offsets, so that the global arrays are the single-process ones ((B, in),
 * (k, B, out), (k, B, n_l), sample index global), and the module's own gram op (or
 * nn_gram_add_rows) adds its block of the global (k B, k B) Gram on every rank; a residual block,
 * whose gram reads its children's activations, first runs its forward on the gathered inputs
 * (gram_reads_ws without gram_rows: every rank recomputes the block over the global batch). The cotangents
 * propagate through this shard's samples only (the vjp is per sample). Bytes a rank sends per
 * module: (N - 1) * 4 b (in + k out), or (N - 1) * 4 b k n_l. */

/* Whether module mod gathers its per-sample gradient rows rather than its input and cotangents. */
static int gathers_rows(const module *mod, int k) {
    if (mod->ops->gram_rows && mod->ops->gram_reads_ws) return 1; /* no workspace for other ranks' samples */
    return mod->ops->gram_rows && (size_t)k * mod->n_params < module_in_size(mod) + (size_t)k * module_out_size(mod);
}

/* Floats per sample that module mod sends for a Gram of k cotangents (0: no Gram block). */
static size_t gram_floats(const module *mod, int k) {
    if (!mod->ops->gram || !mod->n_params) return 0;
    if (gathers_rows(mod, k)) return (size_t)k * mod->n_params;
    return module_in_size(mod) + (size_t)k * module_out_size(mod);
}

/* What the global Gram's sweep needs beyond the context's buffers, sized for the largest module. */
typedef struct gram_work {
    size_t *counts;  /* (N) bytes each rank sends */
    int *offs, *cnts; /* (N) the ranks' shards */
    float *send;     /* this rank's block */
    float *recv;     /* (B * per) every rank's block, rank-major */
    float *gx;       /* (B, in) global activations */
    float *gy;       /* (k, B, out) global cotangents, or (k, B, n_l) global rows */
    void *ws;        /* the module's workspace for B samples */
    void *scratch;   /* and its scratch */
    float *gf;       /* (B, out) outputs of a module whose gram needs its forward (a residual block) */
} gram_work;

static void gram_work_free(gram_work *w) {
    free(w->counts), free(w->offs), free(w->cnts), free(w->send), free(w->recv), free(w->gx), free(w->gy), free(w->ws), free(w->gf),
        free(w->scratch);
}

static int gram_work_alloc(curvo_curv *cv, int k, gram_work *w) {
    const curvo_model *m = cv->model;
    int N = curvo_comm_size(cv->comm), B = cv->b_global, b = cv->batch.b;
    size_t per = 1, in = 1, ky = 1, ws = 1, fout = 1, scratch = 1;
    for (int l = cv->first_param; l < m->n_mods; l++) {
        const module *mod = &m->mods[l];
        size_t f = gram_floats(mod, k);
        if (!f) continue;
        per = f > per ? f : per;
        size_t y = gathers_rows(mod, k) ? (size_t)k * mod->n_params : (size_t)k * module_out_size(mod);
        ky = y > ky ? y : ky;
        in = module_in_size(mod) > in ? module_in_size(mod) : in;
        size_t wb = mod->ops->ws_bytes ? mod->ops->ws_bytes(mod, B) : 0;
        ws = wb > ws ? wb : ws;
        if (module_scratch_bytes(mod, B) > scratch) scratch = module_scratch_bytes(mod, B);
        if (mod->ops->gram_reads_ws && !gathers_rows(mod, k) && module_out_size(mod) > fout) fout = module_out_size(mod);
    }
    w->counts = malloc((size_t)N * sizeof *w->counts);
    w->offs = malloc((size_t)N * sizeof *w->offs);
    w->cnts = malloc((size_t)N * sizeof *w->cnts);
    w->send = malloc((size_t)(b ? b : 1) * per * sizeof(float));
    w->recv = malloc((size_t)B * per * sizeof(float));
    w->gx = malloc((size_t)B * in * sizeof(float));
    w->gy = malloc((size_t)B * ky * sizeof(float));
    w->ws = malloc(ws);
    w->gf = malloc((size_t)B * fout * sizeof(float));
    w->scratch = malloc(scratch);
    if (!w->counts || !w->offs || !w->cnts || !w->send || !w->recv || !w->gx || !w->gy || !w->ws || !w->gf ||
        !w->scratch)
        return CURVO_E_NOMEM;
    for (int r = 0; r < N; r++) dist_shard(B, r, N, &w->offs[r], &w->cnts[r]);
    return CURVO_OK;
}

/* Module mod's Gram block of the whole batch, added to gk (k B, k B) from this shard's ctx and
 * cotangents dy (k, b, out): one allgatherv, then the module's gram op on the global arrays. Returns
 * the transport's failure; a local one (no memory for the rows or in the gram op) goes to *local,
 * after the collective, so that every rank joins the same collectives. */
static int gram_module_global(curvo_curv *cv, const module *mod, const nn_ctx *ctx, const float *dy, int k,
                              gram_work *w, double *gk, int *local) {
    int N = curvo_comm_size(cv->comm), B = cv->b_global, b = cv->batch.b;
    int rows = gathers_rows(mod, k), rc = CURVO_OK;
    size_t per = gram_floats(mod, k), in = module_in_size(mod), out = rows ? mod->n_params : module_out_size(mod);
    if (b > 0) { /* this rank's block: [x (b, in) | dy (k, b, out)] or rows (k, b, n_l) */
        if (rows) rc = mod->ops->gram_rows(mod, ctx, dy, k, w->send);
        else {
            memcpy(w->send, ctx->x, (size_t)b * in * sizeof(float));
            memcpy(w->send + (size_t)b * in, dy, (size_t)k * b * out * sizeof(float));
        }
    }
    for (int r = 0; r < N; r++) w->counts[r] = (size_t)w->cnts[r] * per * sizeof(float);
    int trc = dist_allgatherv(cv->comm, w->send, w->counts, w->recv);
    if (trc) return curv_fail(cv, trc, "gram: the processes could not gather module %s's factors: %s", mod->ops->name,
                              curvo_comm_errmsg(cv->comm));
    if (rc || *local) { /* nothing more to add here */
        if (!*local) *local = rc;
        return CURVO_OK;
    }
    const float *blk = w->recv;
    for (int r = 0; r < N; r++) { /* rank r's samples go to [offs[r], offs[r] + cnts[r]) */
        size_t br = (size_t)w->cnts[r], o = (size_t)w->offs[r];
        if (!rows) {
            memcpy(w->gx + o * in, blk, br * in * sizeof(float));
            blk += br * in;
        }
        for (int j = 0; j < k; j++, blk += br * out)
            memcpy(w->gy + ((size_t)j * B + o) * out, blk, br * out * sizeof(float));
    }
    if (rows) {
        *local = nn_gram_add_rows(w->gy, (size_t)k * B, out, gk);
    } else {
        nn_ctx g = {cv->model->theta + mod->offset, w->gx, NULL, w->ws, B, w->scratch};
        if (mod->ops->gram_reads_ws) { /* its gram reads the workspace forward fills (it has no gram_rows) */
            nn_mode mode = {cv->model->training, 0}; /* the pass's mode (evaluation: running statistics) */
            if (mod->ops->forward_mode)
                mod->ops->forward_mode(mod, g.theta, mod->n_state ? cv->model->state + mod->state_offset : NULL, &mode,
                                       w->gx, w->gf, w->ws, B);
            else
                mod->ops->forward(mod, g.theta, w->gx, w->gf, w->ws, B);
            g.y = w->gf;
        }
        *local = mod->ops->gram(mod, &g, w->gy, k, gk);
    }
    return CURVO_OK;
}

int curv_global_seeded_gram(curvo_curv *cv, const double *seeds, int k, double *out) {
    int rc = need_batch(cv, seeds, out, k);
    if (rc) return rc;
    if (curvo_comm_size(cv->comm) <= 1) return curvo_curv_seeded_gram(cv, seeds, k, out);
    if ((rc = curv_per_sample_rows(cv, "gram"))) return rc; /* the same on every rank */
    const curvo_model *m = cv->model;
    int b = cv->batch.b, B = cv->b_global;
    size_t kB = (size_t)k * B;
    gram_work w = {0};
    if ((rc = reserve_tangents(cv, k))) rc = curv_fail(cv, rc, "gram: cannot allocate %d cotangents", k);
    else if ((rc = gram_work_alloc(cv, k, &w))) rc = curv_fail(cv, rc, "gram: out of memory for the global factors");
    int from, arc = dist_agree(cv->comm, rc, &from); /* before the first gather: every rank joins, or none */
    if (arc) {
        gram_work_free(&w);
        return rc ? rc : curv_fail(cv, arc, "gram: failed on rank %d: %s", from, curvo_strerror(arc));
    }
    size_t len = (size_t)k * b * (size_t)cv->c;
    for (size_t q = 0; q < len; q++) cv->seed[q] = (float)seeds[q];
    memset(out, 0, kB * kB * sizeof(double));
    const float *cur = cv->seed;
    float *next = cv->ping;
    int local = CURVO_OK;
    for (int l = m->n_mods - 1; l >= cv->first_param; l--) {
        const module *mod = &m->mods[l];
        nn_ctx ctx = b > 0 ? nn_pass_ctx(&cv->pass, m, l) : (nn_ctx){0};
        if (gram_floats(mod, k) && (rc = gram_module_global(cv, mod, &ctx, cur, k, &w, out, &local))) {
            gram_work_free(&w); /* the transport failed: no more collectives */
            return rc;
        }
        if (l == cv->first_param) break;
        if (b > 0) mod->ops->vjp(mod, &ctx, cur, k, next, NULL, 0);
        cur = next;
        next = next == cv->ping ? cv->pong : cv->ping;
    }
    gram_work_free(&w);
    if (local) curv_fail(cv, local, "gram: out of memory for the global Gram's blocks");
    if ((arc = dist_agree(cv->comm, local, &from)))
        return local ? local : curv_fail(cv, arc, "gram: failed on rank %d: %s", from, curvo_strerror(arc));
    mirror_upper(out, kB);
    return CURVO_OK;
}

int curvo_curv_seeded_gram(curvo_curv *cv, const double *seeds, int k, double *out) {
    int rc = need_batch(cv, seeds, out, k);
    if (rc) return rc;
    if ((rc = curv_per_sample_rows(cv, "gram"))) return rc;
    size_t kb = (size_t)k * cv->batch.b, len = kb * (size_t)cv->c;
    if ((rc = reserve_tangents(cv, k))) return curv_fail(cv, rc, "gram: cannot allocate %d cotangents", k);
    for (size_t q = 0; q < len; q++) cv->seed[q] = (float)seeds[q];
    memset(out, 0, kb * kb * sizeof(double));
    return kb ? gram_of_seeds(cv, k, out) : CURVO_OK;
}

int curvo_curv_gram(curvo_curv *cv, double *out) {
    int rc = need_batch(cv, out, out, 1);
    if (rc) return rc;
    int b = cv->batch.b, c = cv->c;
    size_t bc = (size_t)b * c;
    if (b == 0) return CURVO_OK; /* an empty shard: a 0 x 0 Gram */
    double *Lf = malloc((size_t)b * c * c * sizeof(double));
    double *seeds = malloc(bc * c * sizeof(double)); /* (c, b, c) */
    double *gk = malloc(bc * bc * sizeof(double));   /* (c*b, c*b), index j*b + i */
    if (!Lf || !seeds || !gk) {
        rc = curv_fail(cv, CURVO_E_NOMEM, "gram: out of memory for a %zu x %zu matrix", bc, bc);
        goto done;
    }
    if ((rc = curvo_curv_hessian_factor(cv, Lf))) goto done;
    loss_factor_seeds(Lf, b, c, seeds);
    if ((rc = curvo_curv_seeded_gram(cv, seeds, c, gk))) goto done;
    /* from cotangent-major (j*b + i) to sample-major (i*c + j) */
    for (int i = 0; i < b; i++)
        for (int j = 0; j < c; j++) {
            const double *src = gk + ((size_t)j * b + i) * bc;
            double *dst = out + ((size_t)i * c + j) * bc;
            for (int i2 = 0; i2 < b; i2++)
                for (int j2 = 0; j2 < c; j2++) dst[(size_t)i2 * c + j2] = src[(size_t)j2 * b + i2];
        }
done:
    free(Lf);
    free(seeds);
    free(gk);
    return rc;
}
