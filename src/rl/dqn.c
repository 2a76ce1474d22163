/* dqn.c — DQN (Mnih et al. 2015) as cleanrl's dqn.py runs it, with any curvo optimizer.
 *
 * For env step t = 0, 1, ... (one environment):
 *   epsilon_t = max(eps_start + (eps_end - eps_start) t / (eps_fraction T), eps_end)
 *   a_t = a uniform random action with probability epsilon_t, else argmax_a Q(s_t, a)
 *   s_{t+1}, r_t, terminated, truncated = env.step(a_t); store (s_t, a_t, r_t, s_{t+1}, terminated)
 *   (s_{t+1} is the episode's last observation when it ends; then the env is reset)
 *   if t > learning_starts:
 *     every train_every steps: a batch of b transitions from the replay buffer,
 *       y_i = r_i + gamma (1 - terminated_i) max_a Q_target(s'_i, a)   (truncation bootstraps)
 *       one optimizer step on L = (1/b) sum_i l(Q(s_i, a_i) - y_i), l = d^2/2 or Huber
 *       (CURVO_LOSS_SELECTED_MSE / _HUBER: an ordinary curvo loss, so every optimizer, EGN with its
 *       b x b system included, trains the Q network through the same curvo_optimizer handle)
 *     every target_every steps: theta_target <- tau theta + (1 - tau) theta_target
 * Greedy evaluations run on an environment and RNG of their own, so they never change training.
 * cleanrl minimizes mean((Q - y)^2), twice curvo's 1/2 d^2: the same minimizer, Adam's steps the
 * same up to its eps; SGD's learning rate is doubled relative to cleanrl's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/errmsg.h"
#include "rl/dqn.h"
#include "rl/env.h"

void curvo_dqn_params_init(curvo_dqn_params *p) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->model = "dense:120,relu,dense:84,relu";
    p->total_steps = 500000;
    p->buffer_size = 10000;
    p->gamma = 0.99;
    p->tau = 1.0;
    p->target_every = 500;
    p->batch_size = 128;
    p->eps_start = 1.0;
    p->eps_end = 0.05;
    p->eps_fraction = 0.5;
    p->learning_starts = 10000;
    p->train_every = 10;
    p->huber = 0;
    p->seed = 1;
    p->eval_every = 10000;
    p->eval_episodes = 10;
}

int curvo_dqn_params_for_env(curvo_dqn_params *p, const char *env) {
    if (!p || !curvo_env_find(env)) return CURVO_E_INVALID;
    curvo_dqn_params_init(p);
    if (!strcmp(env, "acrobot")) { /* a shorter run with earlier learning and faster exploration decay */
        p->total_steps = 100000;
        p->buffer_size = 50000;
        p->learning_starts = 1000;
        p->train_every = 4;
        p->target_every = 250;
        p->eps_fraction = 0.12;
        p->eps_end = 0.1;
        p->eval_every = 5000;
    }
    return CURVO_OK;
}

static int check_params(const curvo_dqn_params *p, char *errmsg) {
#define BAD(cond, ...)                                          \
    if (cond) {                                                 \
        if (errmsg) snprintf(errmsg, CURVO_ERRMSG_LEN, __VA_ARGS__); \
        return CURVO_E_INVALID;                                 \
    }
    BAD(!p->model, "dqn: model is NULL");
    BAD(p->total_steps < 1, "dqn: total_steps must be >= 1");
    BAD(p->buffer_size < 1 || p->buffer_size > 100000000, "dqn: buffer_size must be in [1, 1e8]");
    BAD(!(p->gamma >= 0 && p->gamma <= 1), "dqn: gamma must be in [0, 1]");
    BAD(!(p->tau > 0 && p->tau <= 1), "dqn: tau must be in (0, 1]");
    BAD(p->target_every < 1, "dqn: target_every must be >= 1");
    BAD(p->batch_size < 1 || p->batch_size > 65536, "dqn: batch_size must be in [1, 65536]");
    BAD(!(p->eps_start >= 0 && p->eps_start <= 1 && p->eps_end >= 0 && p->eps_end <= 1),
        "dqn: eps_start and eps_end must be in [0, 1]");
    BAD(!(p->eps_fraction > 0 && p->eps_fraction <= 1), "dqn: eps_fraction must be in (0, 1]");
    BAD(p->learning_starts < 0, "dqn: learning_starts must be >= 0");
    BAD(p->train_every < 1, "dqn: train_every must be >= 1");
    BAD(p->huber != 0 && p->huber != 1, "dqn: huber must be 0 or 1");
    BAD(p->eval_every < 0, "dqn: eval_every must be >= 0");
    BAD(p->eval_episodes < 1 || p->eval_episodes > 1000000, "dqn: eval_episodes must be in [1, 1e6]");
#undef BAD
    return CURVO_OK;
}

void curvo_dqn_free(curvo_dqn *d) {
    if (!d) return;
    curvo_optimizer_free(d->opt);
    curvo_curv_free(d->cv);
    curvo_model_free(d->q);
    curvo_model_free(d->target);
    rl_replay_free(&d->buf);
    free(d->model_spec);
    free(d->env_state);
    free(d->obs);
    free(d->bx), free(d->bnext), free(d->ba), free(d->breward), free(d->bterm), free(d->btarget), free(d->qnext);
    free(d->scratch);
    free(d);
}

/* The Q network for env: the hidden layers of spec, then dense:n_actions. */
static int build_net(const curvo_env_ops *env, const char *spec, curvo_model **out, char *errmsg) {
    size_t len = strlen(spec) + 32;
    char *full = malloc(len);
    if (!full) return CURVO_E_NOMEM;
    snprintf(full, len, "%s%sdense:%d", spec, spec[0] ? "," : "", env->n_actions);
    int rc = curvo_model_from_spec(full, env->obs_size, 1, 1, out, errmsg);
    free(full);
    return rc;
}

int rl_dqn_alloc(const curvo_env_ops *env, const curvo_dqn_params *p, const curvo_opt_params *op, curvo_dqn **out,
                 char *errmsg) {
    *out = NULL;
    if (!rl_env_ops_valid(env)) {
        if (errmsg) snprintf(errmsg, CURVO_ERRMSG_LEN, "dqn: the environment table is incomplete (name, sizes, reset, step)");
        return CURVO_E_INVALID;
    }
    int rc = check_params(p, errmsg);
    if (rc) return rc;
    curvo_dqn *d = calloc(1, sizeof *d);
    if (!d) return CURVO_E_NOMEM;
    d->env = env;
    d->p = *p;
    d->op = *op;
    if (!(d->model_spec = malloc(strlen(p->model) + 1))) goto nomem;
    strcpy(d->model_spec, p->model);
    d->p.model = d->model_spec;
    if ((rc = build_net(env, p->model, &d->q, errmsg)) || (rc = build_net(env, p->model, &d->target, errmsg))) goto fail;
    if ((rc = curvo_curv_create(d->q, p->huber ? CURVO_LOSS_SELECTED_HUBER : CURVO_LOSS_SELECTED_MSE, &d->cv))) goto fail;
    if ((rc = curvo_optimizer_create(op, curvo_model_num_params(d->q), &d->opt, errmsg))) goto fail;
    if ((rc = rl_replay_init(&d->buf, p->buffer_size, env->obs_size))) goto fail;
    size_t b = (size_t)p->batch_size, od = (size_t)env->obs_size, A = (size_t)env->n_actions;
    d->env_state = calloc(1, env->state_size);
    d->obs = malloc(od * sizeof(float));
    d->bx = malloc(b * od * sizeof(float));
    d->bnext = malloc(b * od * sizeof(float));
    d->ba = malloc(b * sizeof(int32_t));
    d->breward = malloc(b * sizeof(float));
    d->bterm = malloc(b * sizeof(float));
    d->btarget = calloc(b * A, sizeof(float));
    d->qnext = malloc(b * A * sizeof(float));
    d->scratch = malloc((od + 2 * A) * sizeof(float));
    if (!d->env_state || !d->obs || !d->bx || !d->bnext || !d->ba || !d->breward || !d->bterm || !d->btarget ||
        !d->qnext || !d->scratch)
        goto nomem;
    *out = d;
    return CURVO_OK;
nomem:
    rc = CURVO_E_NOMEM;
    if (errmsg) snprintf(errmsg, CURVO_ERRMSG_LEN, "dqn: out of memory");
fail:
    curvo_dqn_free(d);
    return rc;
}

int curvo_dqn_create(const curvo_env_ops *env, const curvo_dqn_params *p, const curvo_opt_params *opt,
                     curvo_dqn **out, char *errmsg) {
    if (!out) return CURVO_E_INVALID;
    *out = NULL;
    if (!p || !opt) {
        if (errmsg) snprintf(errmsg, CURVO_ERRMSG_LEN, "dqn: NULL parameters");
        return CURVO_E_INVALID;
    }
    curvo_dqn *d;
    int rc = rl_dqn_alloc(env, p, opt, &d, errmsg);
    if (rc) return rc;
    curvo_rng_seed(&d->rng, p->seed);
    curvo_model_init(d->q, &d->rng);
    memcpy(curvo_model_params(d->target), curvo_model_params(d->q), curvo_model_num_params(d->q) * sizeof(float));
    env->reset(d->env_state, &d->rng, d->obs);
    *out = d;
    return CURVO_OK;
}

const char *curvo_dqn_errmsg(const curvo_dqn *d) { return d ? d->errmsg : ""; }
int64_t curvo_dqn_env_steps(const curvo_dqn *d) { return d ? d->step : 0; }
const curvo_dqn_params *curvo_dqn_get_params(const curvo_dqn *d) { return d ? &d->p : NULL; }
const curvo_opt_params *curvo_dqn_opt_params(const curvo_dqn *d) { return d ? &d->op : NULL; }
curvo_model *curvo_dqn_q_model(curvo_dqn *d) { return d ? d->q : NULL; }

static double epsilon_at(const curvo_dqn_params *p, int64_t t) {
    double duration = p->eps_fraction * (double)p->total_steps;
    double e = p->eps_start + (p->eps_end - p->eps_start) * (double)t / duration;
    return fmax(e, p->eps_end);
}

/* argmax_a Q(obs, a) (the first of equal values), through q (b = 1). */
static int greedy(curvo_model *q, const float *obs, int n_actions, float *qrow) {
    curvo_model_predict(q, obs, 1, qrow);
    int best = 0;
    for (int a = 1; a < n_actions; a++)
        if (qrow[a] > qrow[best]) best = a;
    return best;
}

/* One optimizer step on a batch from the replay buffer. */
static int train_step(curvo_dqn *d) {
    const curvo_dqn_params *p = &d->p;
    int b = p->batch_size, A = d->env->n_actions;
    rl_replay_sample(&d->buf, &d->rng, b, d->bx, d->ba, d->breward, d->bnext, d->bterm);
    int rc = curvo_model_predict(d->target, d->bnext, b, d->qnext); /* (b, A) */
    if (rc) return rc;
    for (int i = 0; i < b; i++) {
        const float *qi = d->qnext + (size_t)i * A;
        float mx = qi[0];
        for (int a = 1; a < A; a++) mx = qi[a] > mx ? qi[a] : mx;
        d->btarget[(size_t)i * A + d->ba[i]] =
            (float)(d->breward[i] + p->gamma * (1.0 - d->bterm[i]) * (double)mx);
    }
    curvo_batch batch = {d->bx, d->ba, d->btarget, b};
    curvo_step_info info;
    double t0 = core_seconds();
    rc = curvo_optimizer_step(d->opt, d->cv, &batch, &info);
    d->train_seconds += core_seconds() - t0;
    d->train_steps++;
    for (int i = 0; i < b; i++) d->btarget[(size_t)i * A + d->ba[i]] = 0.0f;
    if (rc == CURVO_E_NUMERIC || rc == CURVO_E_REJECTED) { /* theta kept: go on, counted */
        d->rejected++;
        return CURVO_OK;
    }
    if (rc) {
        curvo_errf(d->errmsg, "dqn: optimizer step %lld failed: %s", (long long)d->train_steps,
                   curvo_curv_errmsg(d->cv)[0] ? curvo_curv_errmsg(d->cv) : curvo_strerror(rc));
        return rc;
    }
    if (isfinite(info.loss)) d->loss_sum += info.loss, d->loss_count++;
    return CURVO_OK;
}

static void update_target(curvo_dqn *d) {
    size_t n = curvo_model_num_params(d->q);
    const float *q = curvo_model_params(d->q);
    float *t = curvo_model_params(d->target);
    if (d->p.tau == 1.0) {
        memcpy(t, q, n * sizeof(float));
        return;
    }
    float tau = (float)d->p.tau;
    for (size_t j = 0; j < n; j++) t[j] = tau * q[j] + (1.0f - tau) * t[j];
}

static void fill_event(curvo_dqn *d, curvo_rl_event *e, curvo_rl_event_kind kind, double t_start) {
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->env_steps = d->step;
    e->train_steps = d->train_steps;
    e->rejected_steps = d->rejected;
    e->episodes = d->episodes;
    e->loss = d->loss_count ? d->loss_sum / (double)d->loss_count : NAN;
    d->loss_sum = 0.0, d->loss_count = 0;
    e->seconds = d->seconds + (core_seconds() - t_start);
    e->train_seconds = d->train_seconds;
    e->eval_std = NAN;
}

int curvo_dqn_evaluate(curvo_dqn *d, int episodes, uint64_t seed, double *mean, double *std) {
    if (!d || episodes < 1 || !mean || !std) return CURVO_E_INVALID;
    const curvo_env_ops *env = d->env;
    void *st = malloc(env->state_size);
    float *obs = malloc(((size_t)env->obs_size + env->n_actions) * sizeof(float));
    if (!st || !obs) {
        free(st), free(obs);
        curvo_errf(d->errmsg, "dqn: out of memory for an evaluation");
        return CURVO_E_NOMEM;
    }
    float *qrow = obs + env->obs_size;
    curvo_rng rng;
    curvo_rng_seed(&rng, seed);
    double s1 = 0.0, s2 = 0.0;
    for (int ep = 0; ep < episodes; ep++) {
        env->reset(st, &rng, obs);
        double ret = 0.0, r;
        int term = 0, trunc = 0;
        while (!term && !trunc) {
            env->step(st, greedy(d->q, obs, env->n_actions, qrow), obs, &r, &term, &trunc);
            ret += r;
        }
        s1 += ret, s2 += ret * ret;
    }
    free(st), free(obs);
    *mean = s1 / episodes;
    *std = sqrt(fmax(0.0, s2 / episodes - *mean * *mean));
    return CURVO_OK;
}

int curvo_dqn_run(curvo_dqn *d, int64_t until_steps, curvo_rl_callback fn, void *user) {
    if (!d) return CURVO_E_INVALID;
    const curvo_dqn_params *p = &d->p;
    const curvo_env_ops *env = d->env;
    if (until_steps > p->total_steps) until_steps = p->total_steps;
    double t_start = core_seconds();
    float *next = d->scratch, *qrow = d->scratch + env->obs_size;
    int rc = CURVO_OK;
    while (d->step < until_steps && !rc) {
        int64_t t = d->step;
        double eps = epsilon_at(p, t), r;
        int action, term, trunc, stop = 0;
        if (curvo_rng_uniform(&d->rng) < eps)
            action = (int)curvo_rng_below(&d->rng, (uint64_t)env->n_actions);
        else
            action = greedy(d->q, d->obs, env->n_actions, qrow);
        env->step(d->env_state, action, next, &r, &term, &trunc);
        rl_replay_add(&d->buf, d->obs, action, r, next, term);
        d->ep_return += r;
        d->ep_length++;
        d->step = t + 1;
        curvo_rl_event e;
        if (term || trunc) {
            d->episodes++;
            fill_event(d, &e, CURVO_RL_EPISODE, t_start);
            e.episode_return = d->ep_return;
            e.episode_length = d->ep_length;
            e.epsilon = eps;
            d->ep_return = 0.0, d->ep_length = 0;
            env->reset(d->env_state, &d->rng, d->obs);
            if (fn && fn(&e, user)) stop = 1;
        } else {
            memcpy(d->obs, next, (size_t)env->obs_size * sizeof(float));
        }
        if (t > p->learning_starts) {
            if (t % p->train_every == 0) rc = train_step(d);
            if (t % p->target_every == 0) update_target(d);
        }
        if (!rc && p->eval_every && d->step % p->eval_every == 0) {
            double mean, sd;
            uint64_t seed = p->seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)d->step);
            if (!(rc = curvo_dqn_evaluate(d, p->eval_episodes, seed, &mean, &sd))) {
                fill_event(d, &e, CURVO_RL_EVAL, t_start);
                e.episode_return = mean;
                e.eval_std = sd;
                e.eval_episodes = p->eval_episodes;
                e.epsilon = eps;
                if (fn && fn(&e, user)) stop = 1;
            }
        }
        if (stop && !rc) rc = CURVO_E_CANCELLED;
    }
    d->seconds += core_seconds() - t_start;
    return rc;
}
