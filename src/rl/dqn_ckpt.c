/* dqn_ckpt.c — the DQN agent's checkpoints in the checkpoint container (io/ckpt.h), kind
 * "curvo-dqn-1": the environment's name, sizes, state bytes and current observation; the agent's
 * parameters, counters and clock (one section each, from the table below); the optimizer's
 * parameters and state; both networks' parameters; the replay buffer; the RNG. Resuming rebuilds
 * the agent and continues exactly (with one thread, bit for bit). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errmsg.h"
#include "io/ckpt.h"
#include "rl/dqn.h"
#include "train/trainer.h"

enum { K_INT, K_I64, K_F64 }; /* int, int64_t or uint64_t, double: each stored in 8 bytes */
typedef struct key {
    const char *name;
    int type;
    size_t off;      /* in struct curvo_dqn */
} key;
#define P(f, t) {"dqn." #f, t, offsetof(struct curvo_dqn, p.f)}
#define S(f, t) {"state." #f, t, offsetof(struct curvo_dqn, f)}
static const key keys[] = {
    P(total_steps, K_I64), P(buffer_size, K_INT), P(gamma, K_F64), P(tau, K_F64), P(target_every, K_INT),
    P(batch_size, K_INT), P(eps_start, K_F64), P(eps_end, K_F64), P(eps_fraction, K_F64),
    P(learning_starts, K_I64), P(train_every, K_INT), P(huber, K_INT), P(seed, K_I64), P(eval_every, K_I64),
    P(eval_episodes, K_INT),
    S(step, K_I64), S(train_steps, K_I64), S(rejected, K_I64), S(episodes, K_I64), S(ep_return, K_F64),
    S(ep_length, K_I64), S(seconds, K_F64), S(train_seconds, K_F64), S(loss_sum, K_F64), S(loss_count, K_I64),
};
#undef P
#undef S

static int64_t get_int(const void *at, int type) { return type == K_INT ? *(const int *)at : *(const int64_t *)at; }
static void set_int(void *at, int type, int64_t v) {
    if (type == K_INT) *(int *)at = (int)v;
    else *(int64_t *)at = v;
}

static int put_all(ckpt_writer *w, curvo_dqn *d) {
    const curvo_env_ops *env = d->env;
    size_t n = curvo_model_num_params(d->q), cap = (size_t)d->buf.cap, od = (size_t)env->obs_size;
    int rc = ckpt_put_str(w, "kind", RL_DQN_KIND);
    if (!rc) rc = ckpt_put_str(w, "env.name", env->name);
    if (!rc) rc = ckpt_put_u64s(w, "env.sizes", (uint64_t[]){(uint64_t)env->obs_size, (uint64_t)env->n_actions,
                                                              (uint64_t)env->state_size}, 3);
    if (!rc) rc = ckpt_put(w, "env.state", d->env_state, env->state_size);
    if (!rc) rc = ckpt_put_f32s(w, "env.obs", d->obs, od);
    if (!rc) rc = ckpt_put_str(w, "dqn.model", d->model_spec);
    for (size_t i = 0; !rc && i < sizeof keys / sizeof *keys; i++) {
        const char *at = (const char *)d + keys[i].off;
        rc = keys[i].type == K_F64 ? ckpt_put_f64(w, keys[i].name, *(const double *)at)
                                   : ckpt_put_u64(w, keys[i].name, (uint64_t)get_int(at, keys[i].type));
    }
    if (!rc) rc = train_put_opt(w, &d->op);
    size_t ssz = curvo_optimizer_state_size(d->opt);
    void *state = malloc(ssz ? ssz : 1);
    if (!state) return CURVO_E_NOMEM;
    if (!rc) rc = curvo_optimizer_save_state(d->opt, state, ssz);
    if (!rc) rc = ckpt_put(w, "opt.state", state, ssz);
    free(state);
    if (!rc) rc = ckpt_put_f32s(w, "q.theta", curvo_model_params(d->q), n);
    if (!rc) rc = ckpt_put_f32s(w, "target.theta", curvo_model_params(d->target), n);
    if (!rc) rc = ckpt_put_u64s(w, "rng", d->rng.s, 4);
    if (!rc) rc = ckpt_put_u64s(w, "replay.pos_count", (uint64_t[]){(uint64_t)d->buf.pos, (uint64_t)d->buf.count}, 2);
    if (!rc) rc = ckpt_put_f32s(w, "replay.obs", d->buf.obs, cap * od);
    if (!rc) rc = ckpt_put_f32s(w, "replay.next_obs", d->buf.next_obs, cap * od);
    if (!rc) rc = ckpt_put_u32s(w, "replay.action", (const uint32_t *)d->buf.action, cap);
    if (!rc) rc = ckpt_put_f32s(w, "replay.reward", d->buf.reward, cap);
    if (!rc) rc = ckpt_put(w, "replay.terminated", d->buf.terminated, cap);
    return rc;
}

int curvo_dqn_save(curvo_dqn *d, const char *path) {
    if (!d || !path) return CURVO_E_INVALID;
    ckpt_writer *w;
    int rc = ckpt_writer_create(&w);
    if (rc) return rc;
    if ((rc = put_all(w, d))) {
        snprintf(d->errmsg, sizeof d->errmsg, "checkpoint: %s", ckpt_writer_errmsg(w));
    } else if ((rc = ckpt_commit(w, path, d->errmsg))) {
        /* errmsg set by ckpt_commit */
    }
    ckpt_writer_free(w);
    return rc;
}

/* The checkpoint's kind is the DQN's, else CURVO_E_FORMAT with a message. */
static int check_kind(ckpt_reader *r, const char *path, char *errmsg) {
    const char *kind;
    if (ckpt_get_str(r, "kind", &kind) || strcmp(kind, RL_DQN_KIND)) {
        if (errmsg) snprintf(errmsg, CURVO_ERRMSG_LEN, "%s: not a curvo DQN checkpoint (curvo rl --save)", path);
        return CURVO_E_FORMAT;
    }
    return CURVO_OK;
}

int curvo_dqn_checkpoint_env(const char *path, char *name, size_t len, char *errmsg) {
    if (!path || !name || len < 1) return CURVO_E_INVALID;
    ckpt_reader *r;
    int rc = ckpt_open(path, &r, errmsg);
    if (rc) return rc;
    const char *s;
    if (!(rc = check_kind(r, path, errmsg))) {
        if ((rc = ckpt_get_str(r, "env.name", &s))) {
            if (errmsg) snprintf(errmsg, CURVO_ERRMSG_LEN, "%s: %s", path, ckpt_errmsg(r));
        } else {
            snprintf(name, len, "%s", s);
        }
    }
    ckpt_close(r);
    return rc;
}

/* Reads everything after the agent is allocated; CURVO_E_FORMAT with the section's message. */
static int read_state(ckpt_reader *r, curvo_dqn *d, char *errmsg) {
    const curvo_env_ops *env = d->env;
    size_t n = curvo_model_num_params(d->q), cap = (size_t)d->buf.cap, od = (size_t)env->obs_size;
    const void *data;
    size_t len;
    uint64_t pc[2];
    int rc = ckpt_get(r, "env.state", &data, &len);
    if (!rc && len != env->state_size) rc = CURVO_E_FORMAT;
    if (!rc) memcpy(d->env_state, data, len);
    if (!rc) rc = ckpt_get_f32s(r, "env.obs", d->obs, od);
    for (size_t i = 0; !rc && i < sizeof keys / sizeof *keys; i++) {
        if (strncmp(keys[i].name, "state.", 6)) continue;
        char *at = (char *)d + keys[i].off;
        uint64_t v;
        if (keys[i].type == K_F64) rc = ckpt_get_f64(r, keys[i].name, (double *)at);
        else if (!(rc = ckpt_get_u64(r, keys[i].name, &v))) set_int(at, keys[i].type, (int64_t)v);
    }
    if (!rc && !(rc = ckpt_get(r, "opt.state", &data, &len)) && curvo_optimizer_load_state(d->opt, data, len)) {
        if (errmsg) snprintf(errmsg, CURVO_ERRMSG_LEN, "the optimizer state does not fit its algorithm");
        return CURVO_E_FORMAT;
    }
    if (!rc) rc = ckpt_get_f32s(r, "q.theta", curvo_model_params(d->q), n);
    if (!rc) rc = ckpt_get_f32s(r, "target.theta", curvo_model_params(d->target), n);
    if (!rc) rc = ckpt_get_u64s(r, "rng", d->rng.s, 4);
    if (!rc) rc = ckpt_get_u64s(r, "replay.pos_count", pc, 2);
    if (!rc && (pc[0] >= cap || pc[1] > cap)) rc = CURVO_E_FORMAT;
    if (!rc) d->buf.pos = (int)pc[0], d->buf.count = (int)pc[1];
    if (!rc) rc = ckpt_get_f32s(r, "replay.obs", d->buf.obs, cap * od);
    if (!rc) rc = ckpt_get_f32s(r, "replay.next_obs", d->buf.next_obs, cap * od);
    if (!rc) rc = ckpt_get_u32s(r, "replay.action", (uint32_t *)d->buf.action, cap);
    if (!rc) rc = ckpt_get_f32s(r, "replay.reward", d->buf.reward, cap);
    if (!rc && !(rc = ckpt_get(r, "replay.terminated", &data, &len)) && len != cap) rc = CURVO_E_FORMAT;
    if (!rc) memcpy(d->buf.terminated, data, cap);
    for (size_t i = 0; !rc && i < cap; i++)
        if (d->buf.action[i] < 0 || d->buf.action[i] >= env->n_actions) rc = CURVO_E_FORMAT;
    if (rc && errmsg)
        snprintf(errmsg, CURVO_ERRMSG_LEN, "%s", ckpt_errmsg(r)[0] ? ckpt_errmsg(r) : "inconsistent agent state");
    return rc;
}

int curvo_dqn_resume(const char *path, const curvo_env_ops *env, curvo_dqn **out, char *errmsg) {
    if (!out) return CURVO_E_INVALID;
    *out = NULL;
    if (!path || !env) return CURVO_E_INVALID;
    ckpt_reader *r;
    int rc = ckpt_open(path, &r, errmsg);
    if (rc) return rc;
    curvo_dqn_params p;
    curvo_dqn_params_init(&p);
    curvo_opt_params op;
    const char *name, *model;
    uint64_t sizes[3];
    curvo_dqn *d = NULL;
    char msg[CURVO_ERRMSG_LEN] = "";
    if ((rc = check_kind(r, path, errmsg))) goto done;
    if ((rc = ckpt_get_str(r, "env.name", &name)) || (rc = ckpt_get_u64s(r, "env.sizes", sizes, 3)) ||
        (rc = ckpt_get_str(r, "dqn.model", &model))) {
        snprintf(msg, sizeof msg, "%s", ckpt_errmsg(r));
        goto fail;
    }
    if (strcmp(name, env->name) || sizes[0] != (uint64_t)env->obs_size || sizes[1] != (uint64_t)env->n_actions ||
        sizes[2] != (uint64_t)env->state_size) {
        snprintf(msg, sizeof msg, "saved for environment '%s', not '%s' (or its sizes differ)", name, env->name);
        rc = CURVO_E_INVALID;
        goto fail;
    }
    p.model = model;
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        if (strncmp(keys[i].name, "dqn.", 4)) continue;
        char *at = (char *)&p + (keys[i].off - offsetof(struct curvo_dqn, p));
        uint64_t v;
        if (keys[i].type == K_F64) rc = ckpt_get_f64(r, keys[i].name, (double *)at);
        else if (!(rc = ckpt_get_u64(r, keys[i].name, &v))) set_int(at, keys[i].type, (int64_t)v);
        if (rc) {
            snprintf(msg, sizeof msg, "%s", ckpt_errmsg(r));
            goto fail;
        }
    }
    if ((rc = train_read_opt(r, &op, msg))) goto fail;
    if ((rc = rl_dqn_alloc(env, &p, &op, &d, msg))) goto fail;
    if ((rc = read_state(r, d, msg))) goto fail;
    *out = d;
    d = NULL;
    goto done;
fail:
    curvo_errf(errmsg, "%s: %s", path, msg);
    if (rc != CURVO_E_IO && rc != CURVO_E_NOMEM && rc != CURVO_E_INVALID) rc = CURVO_E_FORMAT;
done:
    curvo_dqn_free(d);
    ckpt_close(r);
    return rc;
}
