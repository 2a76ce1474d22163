/* optimizer.c — the optimizer handle: algorithm names, named parameters with ranges and defaults,
 * creation, the guarded step, and state save/restore for checkpoints. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errmsg.h"
#include "core/fpenv.h"
#include "linalg/vec.h"
#include "optim/optim.h"

static const opt_ops *const all_ops[CURVO_NUM_ALGORITHMS] = {
    &optim_sgd_ops, &optim_adam_ops, &optim_adamw_ops, &optim_egn_ops,
    &optim_sgn_ops, &optim_lrsfn_ops, &optim_sofim_ops, &optim_arturo_ops};

static const opt_ops *ops_of(curvo_algorithm alg) {
    return (unsigned)alg < CURVO_NUM_ALGORITHMS ? all_ops[alg] : NULL;
}

const char *curvo_algorithm_name(curvo_algorithm alg) {
    const opt_ops *o = ops_of(alg);
    return o ? o->name : "unknown";
}

int curvo_algorithm_from_name(const char *name, curvo_algorithm *alg) {
    if (!name || !alg) return CURVO_E_INVALID;
    for (int a = 0; a < CURVO_NUM_ALGORITHMS; a++)
        if (!strcmp(name, all_ops[a]->name)) {
            *alg = (curvo_algorithm)a;
            return CURVO_OK;
        }
    return CURVO_E_INVALID;
}

int curvo_opt_param_count(curvo_algorithm alg) {
    const opt_ops *o = ops_of(alg);
    return o ? o->n_params : 0;
}

const curvo_param_info *curvo_opt_param_info(curvo_algorithm alg, int i) {
    const opt_ops *o = ops_of(alg);
    return o && i >= 0 && i < o->n_params ? &o->params[i].info : NULL;
}

static const param_desc *find_param(const opt_ops *o, const char *name) {
    for (int i = 0; o && name && i < o->n_params; i++)
        if (!strcmp(o->params[i].info.name, name)) return &o->params[i];
    return NULL;
}

static double read_param(const curvo_opt_params *p, const param_desc *d) {
    const char *base = (const char *)p + d->offset;
    if (d->info.is_integer) {
        int v;
        memcpy(&v, base, sizeof v);
        return v;
    }
    double v;
    memcpy(&v, base, sizeof v);
    return v;
}

static void write_param(curvo_opt_params *p, const param_desc *d, double value) {
    char *base = (char *)p + d->offset;
    if (d->info.is_integer) {
        int v = (int)value;
        memcpy(base, &v, sizeof v);
    } else {
        memcpy(base, &value, sizeof value);
    }
}

void curvo_opt_params_init(curvo_opt_params *p, curvo_algorithm alg) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->algorithm = alg;
    const opt_ops *o = ops_of(alg);
    for (int i = 0; o && i < o->n_params; i++) write_param(p, &o->params[i], o->params[i].info.default_value);
}

/* Range (open bounds excluded) and integrality check of one value. */
static int value_ok(const param_desc *d, double v) {
    const curvo_param_info *i = &d->info;
    if (!isfinite(v) || v < i->min || v > i->max || (i->min_open && v == i->min) || (i->max_open && v == i->max))
        return 0;
    return !i->is_integer || v == floor(v);
}

const char *curvo_param_range(const curvo_param_info *info, char *buf, size_t len) {
    if (!buf || !len) return buf;
    if (!info) {
        buf[0] = '\0';
        return buf;
    }
    snprintf(buf, len, info->is_integer ? "%c%.0f, %.0f%c" : "%c%g, %g%c", info->min_open ? '(' : '[', info->min,
             info->max, info->max_open ? ')' : ']');
    return buf;
}

static void describe_range(const param_desc *d, char *buf, size_t len) {
    char range[64];
    snprintf(buf, len, "%s in %s", d->info.is_integer ? "a whole number" : "a number",
             curvo_param_range(&d->info, range, sizeof range));
}

int curvo_opt_params_set(curvo_opt_params *p, const char *name, double value, char *errmsg) {
    if (!p || !name) return CURVO_E_INVALID;
    const opt_ops *o = ops_of(p->algorithm);
    const param_desc *d = find_param(o, name);
    if (!d) {
        char known[CURVO_ERRMSG_LEN] = "";
        size_t used = 0;
        for (int i = 0; o && i < o->n_params; i++) {
            int w = snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "", o->params[i].info.name);
            if (w < 0 || (size_t)w >= sizeof known - used) break;
            used += (size_t)w;
        }
        curvo_errf(errmsg, "%s has no parameter '%s' (it has: %s)", curvo_algorithm_name(p->algorithm), name, known);
        return CURVO_E_INVALID;
    }
    if (!value_ok(d, value)) {
        char range[96];
        describe_range(d, range, sizeof range);
        curvo_errf(errmsg, "%s parameter %s = %g is out of range: it must be %s", o->name, name, value, range);
        return CURVO_E_INVALID;
    }
    write_param(p, d, value);
    return CURVO_OK;
}

int curvo_opt_params_get(const curvo_opt_params *p, const char *name, double *value) {
    if (!p || !value) return CURVO_E_INVALID;
    const param_desc *d = find_param(ops_of(p->algorithm), name);
    if (!d) return CURVO_E_INVALID;
    *value = read_param(p, d);
    return CURVO_OK;
}

int curvo_opt_params_check(const curvo_opt_params *p, char *errmsg) {
    if (!p) return CURVO_E_INVALID;
    const opt_ops *o = ops_of(p->algorithm);
    if (!o) {
        curvo_errf(errmsg, "unknown optimizer algorithm %d", (int)p->algorithm);
        return CURVO_E_INVALID;
    }
    for (int i = 0; i < o->n_params; i++) {
        double v = read_param(p, &o->params[i]);
        if (!value_ok(&o->params[i], v)) {
            char range[96];
            describe_range(&o->params[i], range, sizeof range);
            curvo_errf(errmsg, "%s parameter %s = %g is out of range: it must be %s", o->name,
                    o->params[i].info.name, v, range);
            return CURVO_E_INVALID;
        }
    }
    return o->check ? o->check(p, errmsg) : CURVO_OK;
}

int curvo_optimizer_create(const curvo_opt_params *p, size_t n, curvo_optimizer **out, char *errmsg) {
    if (!out) return CURVO_E_INVALID;
    *out = NULL;
    int rc = curvo_opt_params_check(p, errmsg);
    if (rc) return rc;
    if (n == 0) {
        curvo_errf(errmsg, "the model has no parameters to optimize");
        return CURVO_E_INVALID;
    }
    curvo_optimizer *opt = calloc(1, sizeof *opt);
    if (!opt) return CURVO_E_NOMEM;
    opt->ops = ops_of(p->algorithm);
    opt->p = *p;
    opt->n = n;
    opt->n_vec = opt->ops->num_vectors ? opt->ops->num_vectors(p) : 0;
    opt->vec = opt->n_vec ? calloc((size_t)opt->n_vec * n, sizeof(float)) : NULL;
    opt->g = malloc(n * sizeof(float));
    opt->n_dstate = opt->ops->num_dstate ? opt->ops->num_dstate(p) : 0;
    opt->dstate = opt->n_dstate ? calloc(opt->n_dstate, sizeof(double)) : NULL;
    opt->scale = 1.0;
    curvo_rng_seed(&opt->rng, 0x6375727661ULL);
    if ((opt->n_vec && !opt->vec) || !opt->g || (opt->n_dstate && !opt->dstate)) {
        curvo_optimizer_free(opt);
        curvo_errf(errmsg, "out of memory for the optimizer state of %zu parameters", n);
        return CURVO_E_NOMEM;
    }
    if (opt->ops->init_state) opt->ops->init_state(opt);
    *out = opt;
    return CURVO_OK;
}

float *optim_scratch(curvo_optimizer *opt, int count) {
    if (count <= opt->scratch_vectors) return opt->scratch;
    float *s = realloc(opt->scratch, (size_t)count * opt->n * sizeof(float));
    if (!s) return NULL;
    opt->scratch = s;
    opt->scratch_vectors = count;
    return s;
}

/* buf, or buf grown to len elements of elem bytes when *cap is smaller (then *cap = len); NULL if out of
 * memory, buf and *cap unchanged. */
static void *grow_work(void *buf, size_t *cap, size_t len, size_t elem) {
    if (len <= *cap) return buf;
    void *b = len <= SIZE_MAX / elem ? realloc(buf, len * elem) : NULL;
    if (b) *cap = len;
    return b;
}

double *optim_dwork(curvo_optimizer *opt, size_t len) {
    double *d = grow_work(opt->dwork, &opt->dwork_len, len, sizeof(double));
    return d ? (opt->dwork = d) : NULL;
}

float *optim_fwork(curvo_optimizer *opt, size_t len) {
    float *f = grow_work(opt->fwork, &opt->fwork_len, len, sizeof(float));
    return f ? (opt->fwork = f) : NULL;
}

void curvo_optimizer_free(curvo_optimizer *opt) {
    if (!opt) return;
    free(opt->dwork);
    free(opt->fwork);
    free(opt->dstate);
    free(opt->scratch);
    free(opt->vec);
    free(opt->g);
    free(opt);
}

const curvo_opt_params *curvo_optimizer_params(const curvo_optimizer *opt) { return opt ? &opt->p : NULL; }

int curvo_optimizer_set_scale(curvo_optimizer *opt, double factor) {
    if (!opt || !isfinite(factor) || factor < 0.0) return CURVO_E_INVALID;
    opt->scale = factor;
    return CURVO_OK;
}

double curvo_optimizer_scale(const curvo_optimizer *opt) { return opt ? opt->scale : 1.0; }

const char *curvo_opt_scheduled(curvo_algorithm alg, const char **doc) {
    const opt_ops *o = ops_of(alg);
    if (doc) *doc = o ? o->scheduled_doc : NULL;
    return o ? o->scheduled : NULL;
}

int64_t curvo_optimizer_steps(const curvo_optimizer *opt) { return opt ? opt->t : 0; }

void optim_extra(curvo_step_info *info, const char *name, double value) {
    if (info->n_extra >= CURVO_STEP_EXTRA) return;
    info->extra_name[info->n_extra] = name;
    info->extra[info->n_extra++] = value;
}

int optim_eval_gradient(curvo_optimizer *opt, curvo_curv *cv, const curvo_batch *batch,
                        curvo_step_info *info) {
    int rc = curvo_curv_set_batch(cv, batch);
    info->loss = curvo_curv_loss(cv);
    if (rc == CURVO_OK) rc = curvo_curv_grad(cv, opt->g);
    if (rc) return info->status = rc;
    double ss = la_sumsq(opt->g, opt->n);
    info->grad_norm = sqrt(ss);
    if (!isfinite(info->loss) || !isfinite(ss)) return info->status = CURVO_E_NUMERIC;
    return CURVO_OK;
}

int curvo_optimizer_step(curvo_optimizer *opt, curvo_curv *cv, const curvo_batch *batch,
                         curvo_step_info *info) {
    curvo_step_info local;
    if (!info) info = &local;
    memset(info, 0, sizeof *info);
    info->damping = NAN;
    info->loss = NAN;
    if (!opt || !cv || !batch) return info->status = CURVO_E_INVALID;
    if (curvo_model_num_params(curvo_curv_model(cv)) != opt->n) return info->status = CURVO_E_INVALID;
    /* the schedule's factor: the step sees the scaled parameter, opt->p keeps the one given */
    const param_desc *sched = opt->scale != 1.0 ? find_param(opt->ops, opt->ops->scheduled) : NULL;
    double base = sched ? read_param(&opt->p, sched) : 0.0;
    if (sched) write_param(&opt->p, sched, fmin(fmax(base * opt->scale, sched->info.min), sched->info.max));
    unsigned fpenv = fpenv_flush_begin(); /* subnormal moments would slow every pass (core/fpenv.h) */
    curvo_curv_update_running_stats(cv, 1); /* every step's first set_batch: its batch at theta_t */
    int rc = opt->ops->step(opt, cv, batch, info);
    curvo_curv_update_running_stats(cv, 0);
    fpenv_flush_end(fpenv);
    if (sched) write_param(&opt->p, sched, base);
    info->status = rc;
    info->accepted = rc == CURVO_OK;
    return rc;
}

/* State blob: a fixed header, then the vectors. Native byte order (checkpoints move between
 * machines of the same endianness). */
typedef struct state_header {
    uint32_t magic, alg, n_vec, reserved;
    uint64_t n, n_dstate;
    int64_t t;
    double scalars[OPT_MAX_SCALARS];
    uint64_t rng[4];
} state_header;

#define STATE_MAGIC 0x5450434fu /* "OCPT" */

size_t curvo_optimizer_state_size(const curvo_optimizer *opt) {
    return opt ? sizeof(state_header) + opt->n_dstate * sizeof(double) +
                     (size_t)opt->n_vec * opt->n * sizeof(float)
               : 0;
}

int curvo_optimizer_save_state(const curvo_optimizer *opt, void *buf, size_t size) {
    if (!opt || !buf || size != curvo_optimizer_state_size(opt)) return CURVO_E_INVALID;
    state_header h;
    memset(&h, 0, sizeof h);
    h.magic = STATE_MAGIC;
    h.alg = (uint32_t)opt->p.algorithm;
    h.n_vec = (uint32_t)opt->n_vec;
    h.n = opt->n;
    h.n_dstate = opt->n_dstate;
    h.t = opt->t;
    memcpy(h.scalars, opt->scalars, sizeof h.scalars);
    memcpy(h.rng, opt->rng.s, sizeof h.rng);
    memcpy(buf, &h, sizeof h);
    char *at = (char *)buf + sizeof h;
    if (opt->n_dstate) memcpy(at, opt->dstate, opt->n_dstate * sizeof(double));
    at += opt->n_dstate * sizeof(double);
    if (opt->n_vec) memcpy(at, opt->vec, (size_t)opt->n_vec * opt->n * sizeof(float));
    return CURVO_OK;
}

int curvo_optimizer_load_state(curvo_optimizer *opt, const void *buf, size_t size) {
    if (!opt || !buf) return CURVO_E_INVALID;
    state_header h;
    if (size != curvo_optimizer_state_size(opt)) return CURVO_E_FORMAT;
    memcpy(&h, buf, sizeof h);
    if (h.magic != STATE_MAGIC || h.alg != (uint32_t)opt->p.algorithm || h.n != opt->n ||
        h.n_vec != (uint32_t)opt->n_vec || h.n_dstate != opt->n_dstate || h.t < 0)
        return CURVO_E_FORMAT;
    opt->t = h.t;
    memcpy(opt->scalars, h.scalars, sizeof h.scalars);
    memcpy(opt->rng.s, h.rng, sizeof h.rng);
    const char *at = (const char *)buf + sizeof h;
    if (opt->n_dstate) memcpy(opt->dstate, at, opt->n_dstate * sizeof(double));
    at += opt->n_dstate * sizeof(double);
    if (opt->n_vec) memcpy(opt->vec, at, (size_t)opt->n_vec * opt->n * sizeof(float));
    return CURVO_OK;
}
