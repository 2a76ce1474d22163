/* dqn.h — the DQN agent's internals (private), shared by the agent's loop (dqn.c) and its
 * checkpoints (dqn_ckpt.c). */
#ifndef CURVO_RL_DQN_H
#define CURVO_RL_DQN_H

#include "curvo.h"
#include "rl/replay.h"

#define RL_DQN_KIND "curvo-dqn-1"

struct curvo_dqn {
    const curvo_env_ops *env;        /* not owned */
    curvo_dqn_params p;              /* p.model points at model_spec */
    char *model_spec;                /* hidden layers as given (owned) */
    curvo_opt_params op;
    curvo_model *q, *target;         /* the Q network and its target copy */
    curvo_curv *cv;                  /* the Q network's curvature context (the selected-output loss) */
    curvo_optimizer *opt;
    rl_replay buf;
    curvo_rng rng;                   /* env resets, exploration, replay sampling */
    void *env_state;                 /* (env->state_size bytes) the episode in progress */
    float *obs;                      /* (obs_size) its current observation */
    int64_t step;                    /* env steps done */
    int64_t train_steps, rejected;   /* optimizer steps, and how many were rejected */
    int64_t episodes;                /* training episodes finished */
    double ep_return;                /* of the episode in progress */
    int64_t ep_length;
    double seconds, train_seconds;   /* over this and earlier (resumed) runs */
    double loss_sum;                 /* TD losses since the last event */
    int64_t loss_count;
    /* per training step (b = p.batch_size, d = obs_size, A = n_actions) */
    float *bx, *bnext;               /* (b, d) */
    int32_t *ba;                     /* (b) */
    float *breward, *bterm;          /* (b) */
    float *btarget, *qnext;          /* (b, A) */
    float *scratch;                  /* (max(d, A) + A) observations and Q values of one state */
    char errmsg[CURVO_ERRMSG_LEN];
};

/* Allocates an agent for env, p and op with its networks built (not initialized), buffers, env
 * state; CURVO_OK or an error with the reason in errmsg. Used by create and resume. */
int rl_dqn_alloc(const curvo_env_ops *env, const curvo_dqn_params *p, const curvo_opt_params *op, curvo_dqn **out,
                 char *errmsg);

#endif
