/* test_rl_dqn.c — the DQN agent: TD targets on environments defined here through curvo_env_ops
 * (termination zeroes the bootstrap, truncation keeps it: Q converges to 1 and to 1/(1-gamma), with
 * hard and with Polyak target updates),
 * the epsilon schedule seen in episode events, the replay ring, bad parameters, and a run
 * interrupted, saved and resumed ending with the same parameters, bit for bit, as an uninterrupted
 * one for Adam, EGN and SGN. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rl/replay.h"
#include "testutil.h"

/* One state, one action, reward 1; every episode ends after one step, terminated or truncated. */
typedef struct { int64_t steps; } tiny_state;
static void tiny_reset(void *s, curvo_rng *rng, float *obs) {
    (void)rng;
    ((tiny_state *)s)->steps = 0;
    obs[0] = 1.0f;
}
static void tiny_step_term(void *s, int a, float *obs, double *r, int *term, int *trunc) {
    (void)a, (void)s;
    obs[0] = 1.0f, *r = 1.0, *term = 1, *trunc = 0;
}
static void tiny_step_trunc(void *s, int a, float *obs, double *r, int *term, int *trunc) {
    (void)a, (void)s;
    obs[0] = 1.0f, *r = 1.0, *term = 0, *trunc = 1;
}

static double q_after(const curvo_env_ops *env, double gamma, double tau) {
    curvo_dqn_params p;
    curvo_dqn_params_init(&p);
    p.model = "";
    p.total_steps = 4000, p.learning_starts = 10, p.train_every = 1, p.target_every = 20, p.batch_size = 8;
    p.buffer_size = 100, p.gamma = gamma, p.tau = tau, p.eval_every = 0;
    curvo_opt_params op;
    curvo_opt_params_init(&op, CURVO_OPT_ADAM);
    op.adam.lr = 0.02;
    curvo_dqn *d;
    char err[CURVO_ERRMSG_LEN];
    if (curvo_dqn_create(env, &p, &op, &d, err)) {
        TU_CHECK(0, "create: %s", err);
        return NAN;
    }
    TU_CHECK(curvo_dqn_run(d, p.total_steps, NULL, NULL) == CURVO_OK, "run: %s", curvo_dqn_errmsg(d));
    float one = 1.0f, q;
    curvo_model_predict(curvo_dqn_q_model(d), &one, 1, &q);
    curvo_dqn_free(d);
    return q;
}

static void td_targets(void) {
    curvo_env_ops term = {"tiny-term", "", 1, 1, sizeof(tiny_state), tiny_reset, tiny_step_term};
    curvo_env_ops trunc = {"tiny-trunc", "", 1, 1, sizeof(tiny_state), tiny_reset, tiny_step_trunc};
    double qt = q_after(&term, 0.5, 1.0), qr = q_after(&trunc, 0.5, 1.0), qp = q_after(&trunc, 0.5, 0.2);
    printf("Q after training: terminated %.4f (1), truncated %.4f (2), truncated with Polyak tau 0.2 %.4f (2)\n",
           qt, qr, qp);
    TU_CHECK(fabs(qt - 1.0) < 0.02, "terminated: Q = r = 1, got %.4f", qt);
    TU_CHECK(fabs(qr - 2.0) < 0.05, "truncated: Q = r / (1 - gamma) = 2, got %.4f", qr);
    TU_CHECK(fabs(qp - 2.0) < 0.05, "truncated, Polyak target updates: Q = 2, got %.4f", qp);
}

typedef struct { int bad, n; curvo_dqn_params p; } eps_check;
static int check_eps(const curvo_rl_event *e, void *user) {
    eps_check *c = user;
    if (e->kind != CURVO_RL_EPISODE) return 0;
    int64_t t = e->env_steps - 1;
    double want = fmax(c->p.eps_start + (c->p.eps_end - c->p.eps_start) * t / (c->p.eps_fraction * c->p.total_steps),
                       c->p.eps_end);
    c->bad += fabs(e->epsilon - want) > 1e-12;
    c->n++;
    return 0;
}

static void schedule_and_errors(void) {
    eps_check c = {0, 0, {0}};
    curvo_dqn_params_for_env(&c.p, "cartpole");
    c.p.total_steps = 4000, c.p.learning_starts = 100000, c.p.eval_every = 0;
    curvo_opt_params op;
    curvo_opt_params_init(&op, CURVO_OPT_ADAM);
    curvo_dqn *d;
    char err[CURVO_ERRMSG_LEN];
    TU_CHECK(curvo_dqn_create(curvo_env_find("cartpole"), &c.p, &op, &d, err) == CURVO_OK, "create: %s", err);
    curvo_dqn_run(d, 4000, check_eps, &c);
    TU_CHECK(c.n > 50 && c.bad == 0, "epsilon schedule in %d episodes, %d off", c.n, c.bad);
    curvo_dqn_free(d);
    /* bad parameters: a message and no agent */
    curvo_dqn_params p;
    curvo_dqn_params_init(&p);
    p.gamma = 1.5;
    d = (curvo_dqn *)&p;
    TU_CHECK(curvo_dqn_create(curvo_env_find("cartpole"), &p, &op, &d, err) == CURVO_E_INVALID && !d &&
                 strstr(err, "gamma"),
             "gamma 1.5 refused: %s", err);
    curvo_dqn_params_init(&p);
    p.model = "dense:8,rleu";
    TU_CHECK(curvo_dqn_create(curvo_env_find("cartpole"), &p, &op, &d, err) == CURVO_E_SPEC && !d, "bad model refused");
    curvo_env_ops broken = {"broken", "", 1, 1, 8, NULL, tiny_step_term};
    TU_CHECK(curvo_dqn_create(&broken, &c.p, &op, &d, err) == CURVO_E_INVALID && !d, "env without reset refused");
    TU_CHECK(curvo_dqn_params_for_env(&p, "pong") == CURVO_E_INVALID, "unknown env has no parameter set");
}

static void replay_ring(void) {
    rl_replay r;
    TU_CHECK(rl_replay_init(&r, 5, 2) == CURVO_OK, "replay init");
    for (int t = 0; t < 8; t++) {
        float o[2] = {(float)t, 0}, n[2] = {(float)t + 1, 0};
        rl_replay_add(&r, o, t % 3, t, n, t % 2);
    }
    TU_CHECK(r.count == 5 && r.pos == 3, "ring: count %d pos %d", r.count, r.pos);
    curvo_rng rng;
    curvo_rng_seed(&rng, 1);
    float o[400], n[400], rw[200], te[200];
    int32_t a[200];
    rl_replay_sample(&r, &rng, 200, o, a, rw, n, te);
    int ok = 1, seen[8] = {0};
    for (int i = 0; i < 200; i++) {
        int t = (int)o[2 * i];
        ok &= t >= 3 && t < 8 && n[2 * i] == t + 1 && a[i] == t % 3 && rw[i] == t && te[i] == t % 2;
        seen[t < 8 && t >= 0 ? t : 0] = 1;
    }
    TU_CHECK(ok && seen[3] && seen[4] && seen[5] && seen[6] && seen[7], "samples are the last 5 transitions, intact");
    rl_replay_free(&r);
}

/* Interrupted at mid-run, saved, freed, resumed: the same final parameters as one run. */
static void resume_exact(curvo_algorithm alg) {
    curvo_dqn_params p;
    curvo_dqn_params_for_env(&p, "cartpole");
    p.total_steps = 3000, p.learning_starts = 300, p.train_every = 4, p.target_every = 100, p.batch_size = 32;
    p.buffer_size = 1000, p.eval_every = 1000, p.eval_episodes = 2, p.seed = 5, p.model = "dense:16,relu";
    curvo_opt_params op;
    curvo_opt_params_init(&op, alg);
    const curvo_env_ops *env = curvo_env_find("cartpole");
    char err[CURVO_ERRMSG_LEN], path[64];
    snprintf(path, sizeof path, "test_rl_dqn_%d.ckpt", (int)getpid());
    curvo_dqn *a, *b, *c;
    TU_CHECK(curvo_dqn_create(env, &p, &op, &a, err) == CURVO_OK, "create: %s", err);
    TU_CHECK(curvo_dqn_create(env, &p, &op, &b, err) == CURVO_OK, "create: %s", err);
    TU_CHECK(curvo_dqn_run(a, 3000, NULL, NULL) == CURVO_OK, "uninterrupted run: %s", curvo_dqn_errmsg(a));
    TU_CHECK(curvo_dqn_run(b, 1777, NULL, NULL) == CURVO_OK, "first half: %s", curvo_dqn_errmsg(b));
    TU_CHECK(curvo_dqn_save(b, path) == CURVO_OK, "save: %s", curvo_dqn_errmsg(b));
    curvo_dqn_free(b);
    TU_CHECK(curvo_dqn_resume(path, curvo_env_find("acrobot"), &c, err) == CURVO_E_INVALID && strstr(err, "cartpole"),
             "resume for another env refused: %s", err);
    char name[32];
    TU_CHECK(curvo_dqn_checkpoint_env(path, name, sizeof name, err) == CURVO_OK && !strcmp(name, "cartpole"),
             "checkpoint names its env");
    TU_CHECK(curvo_dqn_resume(path, env, &c, err) == CURVO_OK, "resume: %s", err);
    remove(path);
    if (!c) return;
    TU_CHECK(curvo_dqn_env_steps(c) == 1777, "resumed at step 1777");
    TU_CHECK(curvo_dqn_run(c, 3000, NULL, NULL) == CURVO_OK, "second half: %s", curvo_dqn_errmsg(c));
    size_t n = curvo_model_num_params(curvo_dqn_q_model(a));
    int same = !memcmp(curvo_model_params(curvo_dqn_q_model(a)), curvo_model_params(curvo_dqn_q_model(c)),
                       n * sizeof(float));
    TU_CHECK(same, "%s: interrupted + resumed run ends with the uninterrupted run's theta", curvo_algorithm_name(alg));
    double m1, s1, m2, s2;
    curvo_dqn_evaluate(a, 3, 9, &m1, &s1);
    curvo_dqn_evaluate(c, 3, 9, &m2, &s2);
    TU_CHECK(m1 == m2, "same greedy returns %.1f %.1f", m1, m2);
    curvo_dqn_free(a);
    curvo_dqn_free(c);
}

int main(void) {
    curvo_set_threads(1);
    replay_ring();
    schedule_and_errors();
    td_targets();
    resume_exact(CURVO_OPT_ADAM);
    resume_exact(CURVO_OPT_EGN);
    resume_exact(CURVO_OPT_SGN);
    return tu_finish("test_rl_dqn");
}
