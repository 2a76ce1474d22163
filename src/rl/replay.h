/* replay.h — a DQN replay buffer (internal): a ring of the last cap transitions
 * (s, a, r, s', terminated), sampled uniformly with replacement as Stable-Baselines3's ReplayBuffer
 * (which cleanrl uses) samples. */
#ifndef CURVO_RL_REPLAY_H
#define CURVO_RL_REPLAY_H

#include <stdint.h>

#include "curvo.h"

typedef struct rl_replay {
    int cap, obs_size;
    int pos;              /* the next slot written */
    int count;            /* slots filled, at most cap */
    float *obs, *next_obs; /* (cap, obs_size) */
    int32_t *action;      /* (cap) */
    float *reward;        /* (cap) */
    uint8_t *terminated;  /* (cap) 1: s' is terminal (no bootstrap) */
} rl_replay;

/* CURVO_E_NOMEM, or CURVO_OK with an empty buffer; rl_replay_free is safe on a failed init. */
int rl_replay_init(rl_replay *r, int cap, int obs_size);
void rl_replay_free(rl_replay *r);
/* Stores a transition over the oldest once the buffer is full. */
void rl_replay_add(rl_replay *r, const float *obs, int action, double reward, const float *next_obs, int terminated);
/* b transitions drawn uniformly with replacement from the filled slots (count >= 1):
 * obs and next_obs (b, obs_size), action (b), reward (b), terminated (b) as 0 or 1. */
void rl_replay_sample(const rl_replay *r, curvo_rng *rng, int b, float *obs, int32_t *action, float *reward,
                      float *next_obs, float *terminated);

#endif
