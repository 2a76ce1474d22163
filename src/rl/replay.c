/* replay.c — the DQN replay buffer: a ring of transitions sampled uniformly; see replay.h. */
#include <stdlib.h>
#include <string.h>

#include "rl/replay.h"

int rl_replay_init(rl_replay *r, int cap, int obs_size) {
    memset(r, 0, sizeof *r);
    r->cap = cap, r->obs_size = obs_size;
    size_t o = (size_t)cap * obs_size;
    r->obs = malloc(o * sizeof(float));
    r->next_obs = malloc(o * sizeof(float));
    r->action = malloc((size_t)cap * sizeof(int32_t));
    r->reward = malloc((size_t)cap * sizeof(float));
    r->terminated = malloc((size_t)cap);
    return r->obs && r->next_obs && r->action && r->reward && r->terminated ? CURVO_OK : CURVO_E_NOMEM;
}

void rl_replay_free(rl_replay *r) {
    free(r->obs);
    free(r->next_obs);
    free(r->action);
    free(r->reward);
    free(r->terminated);
    memset(r, 0, sizeof *r);
}

void rl_replay_add(rl_replay *r, const float *obs, int action, double reward, const float *next_obs, int terminated) {
    size_t d = (size_t)r->obs_size, at = (size_t)r->pos;
    memcpy(r->obs + at * d, obs, d * sizeof(float));
    memcpy(r->next_obs + at * d, next_obs, d * sizeof(float));
    r->action[at] = action;
    r->reward[at] = (float)reward;
    r->terminated[at] = (uint8_t)!!terminated;
    r->pos = (r->pos + 1) % r->cap;
    if (r->count < r->cap) r->count++;
}

void rl_replay_sample(const rl_replay *r, curvo_rng *rng, int b, float *obs, int32_t *action, float *reward,
                      float *next_obs, float *terminated) {
    size_t d = (size_t)r->obs_size;
    for (int i = 0; i < b; i++) {
        size_t k = (size_t)curvo_rng_below(rng, (uint64_t)r->count);
        memcpy(obs + (size_t)i * d, r->obs + k * d, d * sizeof(float));
        memcpy(next_obs + (size_t)i * d, r->next_obs + k * d, d * sizeof(float));
        action[i] = r->action[k];
        reward[i] = r->reward[k];
        terminated[i] = r->terminated[k];
    }
}
